/*
 * A fast compact JSON writer for jansson values: what json_dumps(JSON_COMPACT)
 * writes, without its per-value formatting calls (the response of every event
 * is written once for Redis and once for the client, so it is on the hot path).
 */
#ifndef PUNCHCARD_JSONW_H
#define PUNCHCARD_JSONW_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* A growable text buffer; zero-initialise it. After an allocation failure every write is a no-op.
 */
typedef struct pc_jbuf {
    char *p;
    size_t len, cap;
    int oom;
} pc_jbuf;

/* Room in b for more bytes and a NUL: 0, or -1 (b->oom set) when out of memory. */
int pc_jbuf_grow(pc_jbuf *b, size_t more);

/* Raw bytes (inline: the writers put many short literals). */
static inline void pc_jbuf_put(pc_jbuf *b, const char *s, size_t n)
{
    if ((b->oom || b->len + n + 1 > b->cap) && pc_jbuf_grow(b, n))
        return;
    memcpy(b->p + b->len, s, n);
    b->len += n;
}

/* A string literal's bytes. */
#define PC_JBUF_LIT(b, lit) pc_jbuf_put((b), lit, sizeof lit - 1)

void pc_jbuf_string(pc_jbuf *b, const char *s, size_t n); /* a JSON string, escaped */
/* How many of s's first n bytes a JSON string holds as they are: n when none needs escaping. */
size_t pc_json_plain_len(const char *s, size_t n);
void pc_jbuf_int(pc_jbuf *b, json_int_t v);                  /* a JSON integer */
void pc_jbuf_value(pc_jbuf *b, const json_t *v, int sorted); /* sorted: keys in byte order */
/* An object's key (k, n bytes) and what it names: a jansson value or a token's index. */
typedef struct pc_jkey {
    const char *k;
    size_t n;
    union {
        json_t *v;
        uint32_t tok;
    };
} pc_jkey;

/* Sorts keys in jansson's JSON_SORT_KEYS order (bytes, then the shorter first). */
void pc_jkeys_sort(pc_jkey *keys, size_t n);
/* That order's comparison: < 0, 0 (the same key) or > 0. */
int pc_jkey_cmp(const pc_jkey *x, const pc_jkey *y);

/* NUL-terminates and hands over b's text (*len_out its length); NULL (and b freed) on OOM. */
char *pc_jbuf_finish(pc_jbuf *b, size_t *len_out);

/* Writes v compactly into a malloc'd NUL-terminated string (*len_out its length). NULL on OOM. */
char *pc_json_dump(const json_t *v, size_t *len_out);

/* pc_json_dump() with every object's keys in byte order: json_dumps(JSON_COMPACT | JSON_SORT_KEYS).
 */
char *pc_json_dump_sorted(const json_t *v, size_t *len_out);

#endif
