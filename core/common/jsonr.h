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

/* One member of an object, as pc_json_members() hands it over. */
typedef struct pc_json_member {
    const char *key; /* its bytes (no NUL inside), not NUL-terminated */
    size_t klen;
    const char *str; /* a string value's bytes (not NUL-terminated), else NULL */
    size_t slen;
    json_t *value; /* any other value (borrowed: incref it to keep it), else NULL */
} pc_json_member;

/*
 * Reads len bytes holding one object (what pc_json_parse() reads) and calls
 * fn for each of its members in order: a string value comes as its bytes (no
 * jansson value is made for it), any other value as jansson's. Returns 0; -1
 * when the text is not one valid object (no detail: pc_json_parse() says what
 * is wrong) or fn returned nonzero (it stops there). Keys are not checked for
 * duplicates: fn must.
 */
int pc_json_members(const char *text, size_t len, int (*fn)(void *arg, const pc_json_member *m),
                    void *arg);

/*
 * The length of the object or array text starts with: its brackets matched,
 * strings (and their escapes) skipped, nothing else checked (read it to know
 * it is valid); 0 when it does not close within len bytes.
 */
size_t pc_json_span(const char *text, size_t len);

#endif
