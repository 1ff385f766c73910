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
#include <stdint.h>

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

/*
 * An object or array read into one block (pc_jdoc_parse()): its values as a flat list of
 * tokens in text order, each container followed by what it holds (an object by key token,
 * value, key token, value ...), for readers that walk the value once (into Lua, into a
 * digest) without making a jansson value of each part.
 */
typedef struct pc_jtok {
    json_type type; /* a key is a JSON_STRING */
    uint32_t n;     /* object: members; array: elements; string: bytes */
    uint32_t next;  /* the index of the token after this value and all it holds */
    uint32_t off;   /* string: its bytes at str + off (NUL after them); object: its key
                       tokens' indices in key byte order (jansson's JSON_SORT_KEYS) at sorted + off */
    union {
        json_int_t i; /* JSON_INTEGER */
        double d;     /* JSON_REAL */
    } num;
} pc_jtok;

typedef struct pc_jdoc {
    const pc_jtok *tok; /* tok[0]: the object or array */
    const uint32_t *sorted;
    const char *str;
    size_t ntok;
} pc_jdoc;

/*
 * Reads what pc_json_parse() reads, and refuses what it refuses (a duplicate key is
 * found when its object closes, so err's position may differ): one malloc'd block
 * (pc_jdoc_free()), or NULL with err (may be NULL) filled.
 */
pc_jdoc *pc_jdoc_parse(const char *text, size_t len, pc_json_error *err);

/* The value at token at as jansson's (new reference; what pc_json_parse() makes), NULL on OOM. */
json_t *pc_jdoc_json(const pc_jdoc *d, size_t at);

void pc_jdoc_free(pc_jdoc *d);

/* One member of an object, as pc_json_members() hands it over. */
typedef struct pc_json_member {
    const char *key; /* its bytes (no NUL inside), not NUL-terminated */
    size_t klen;
    json_type type;  /* the value's */
    const char *str; /* JSON_STRING: its bytes (not NUL-terminated) */
    size_t slen;
    json_int_t i; /* JSON_INTEGER */
    double d;     /* JSON_REAL */
    pc_jdoc *doc; /* JSON_OBJECT, JSON_ARRAY: the value; fn may keep it (and set doc to NULL) */
} pc_json_member;

/*
 * Reads len bytes holding one object (what pc_json_parse() reads) and calls
 * fn for each of its members in order: a scalar comes as its bytes or number, an
 * object or array as a pc_jdoc (no jansson value is made). Returns 0; -1
 * when the text is not one valid object (no detail: pc_json_parse() says what
 * is wrong) or fn returned nonzero (it stops there). Keys are not checked for
 * duplicates: fn must.
 */
int pc_json_members(const char *text, size_t len, int (*fn)(void *arg, pc_json_member *m),
                    void *arg);

/*
 * The length of the object or array text starts with: its brackets matched,
 * strings (and their escapes) skipped, nothing else checked (read it to know
 * it is valid); 0 when it does not close within len bytes.
 */
size_t pc_json_span(const char *text, size_t len);

#endif
