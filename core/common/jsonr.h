/*
 * A fast JSON reader into jansson values (for every layer: model, server, cli), for the
 * request bodies and history lines
 * read on every event: what json_loadb(text, len, JSON_REJECT_DUPLICATES, ...) accepts
 * and builds, in one pass over the bytes (jansson reads through a per-character
 * stream and spent ~30,000 instructions on a 200-byte event).
 */
#ifndef PUNCHCARD_JSONR_H
#define PUNCHCARD_JSONR_H

#include <jansson.h>
#include <stddef.h>

typedef struct pc_json_error {
    int line, column; /* from 1, where the reader stopped */
    char text[120];   /* what was wrong */
} pc_json_error;

/*
 * Parses len bytes (no NUL needed) holding one object or array (whitespace around
 * it allowed): a new reference, or NULL with err (may be NULL) filled. Refuses
 * what jansson refuses by default: invalid UTF-8, "\u0000", control characters in
 * strings, a key given twice, integers beyond 64 bits, reals that overflow, nesting
 * deeper than 2048.
 */
json_t *pc_json_parse(const char *text, size_t len, pc_json_error *err);

#endif
