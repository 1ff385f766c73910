/*
 * The compact JSON writer (jsonw.h): a growable buffer, hand-written integer
 * formatting and string escaping. Object keys keep jansson's insertion order.
 */
#include "common/jsonw-internal.h"
#include "punchcard/common.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef pc_jbuf wbuf;

int pc_jbuf_grow(wbuf *b, size_t more)
{
    if (b->oom)
        return -1;
    {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + more + 1)
            cap *= 2;
        char *np = realloc(b->p, cap);
        if (!np) {
            b->oom = 1;
            return -1;
        }
        b->p = np;
        b->cap = cap;
    }
    return 0;
}

static inline int grow(wbuf *b, size_t more)
{
    return !b->oom && b->len + more + 1 <= b->cap ? 0 : pc_jbuf_grow(b, more);
}

static void put(wbuf *b, const char *s, size_t n)
{
    if (grow(b, n))
        return;
    memcpy(b->p + b->len, s, n);
    b->len += n;
}

static inline void putc1(wbuf *b, char c)
{
    if (grow(b, 1))
        return;
    b->p[b->len++] = c;
}

static void put_int(wbuf *b, json_int_t v)
{
    char tmp[24];
    put(b, tmp, pc_format_int(tmp, v));
}

/* A byte a JSON string escapes: a control, '"' or '\\'. */
static inline int escaped(unsigned char c)
{
    return c < 0x20 || c == '"' || c == '\\';
}

/* Bytes of a word all set to c. */
#define BYTES(c) (UINT64_C(0x0101010101010101) * (c))

/* Whether the 8 bytes at s hold one that escaped() is true of, a word at a time (no branch per
 * byte): a byte below 0x20, or one equal to '"' or '\\' (which the XOR makes 0, below 1). */
static inline int word_escapes(const char *s)
{
    uint64_t w, q, bs;
    memcpy(&w, s, 8);
    q = w ^ BYTES(0x22);
    bs = w ^ BYTES(0x5C);
    return ((((w - BYTES(0x20)) & ~w) | ((q - BYTES(0x01)) & ~q) | ((bs - BYTES(0x01)) & ~bs)) &
            BYTES(0x80)) != 0;
}

size_t pc_json_plain_len(const char *s, size_t n)
{
    const unsigned char *us = (const unsigned char *)s;
    size_t i = 0;
    while (i + 8 <= n && !word_escapes(s + i))
        i += 8;
    while (i < n && !escaped(us[i]))
        i++;
    return i;
}

static void put_string(wbuf *b, const char *s, size_t n)
{
    static const char hex[] = "0123456789ABCDEF"; /* as jansson writes it */
    size_t start = 0, i;
    if (pc_json_plain_len(s, n) == n) { /* nothing to escape, the common case: one copy */
        char *o;
        if (grow(b, n + 2))
            return;
        o = b->p + b->len;
        o[0] = '"';
        memcpy(o + 1, s, n);
        o[n + 1] = '"';
        b->len += n + 2;
        return;
    }
    putc1(b, '"');
    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        const char *esc = NULL;
        char u[6];
        if (!escaped(c))
            continue;
        put(b, s + start, i - start);
        start = i + 1;
        switch (c) {
        case '"':
            esc = "\\\"";
            break;
        case '\\':
            esc = "\\\\";
            break;
        case '\n':
            esc = "\\n";
            break;
        case '\r':
            esc = "\\r";
            break;
        case '\t':
            esc = "\\t";
            break;
        case '\b':
            esc = "\\b";
            break;
        case '\f':
            esc = "\\f";
            break;
        default:
            memcpy(u, "\\u00", 4);
            u[4] = hex[c >> 4];
            u[5] = hex[c & 15];
            put(b, u, 6);
            continue;
        }
        put(b, esc, strlen(esc));
    }
    put(b, s + start, n - start);
    putc1(b, '"');
}

int pc_jkey_cmp(const pc_jkey *x, const pc_jkey *y)
{
    int r = memcmp(x->k, y->k, x->n < y->n ? x->n : y->n);
    return r ? r : (x->n > y->n) - (x->n < y->n);
}

static int jkey_cmp(const void *a, const void *b)
{
    return pc_jkey_cmp(a, b);
}

void pc_jkeys_sort(pc_jkey *keys, size_t n)
{
    if (n > 8) {
        qsort(keys, n, sizeof *keys, jkey_cmp);
        return;
    }
    /* A request's objects are small: insertion, without qsort's setup. */
    for (size_t j = 1; j < n; j++) {
        pc_jkey t = keys[j];
        size_t at = j;
        for (; at > 0 && pc_jkey_cmp(&keys[at - 1], &t) > 0; at--)
            keys[at] = keys[at - 1];
        keys[at] = t;
    }
}

static void put_value(wbuf *b, const json_t *v, int depth, int sorted);

static void put_sorted_object(wbuf *b, const json_t *v, int depth)
{
    pc_jkey small[8], *keys = small;
    size_t n = json_object_size(v), i = 0, len;
    const char *k;
    json_t *x;

    if (n > sizeof small / sizeof *small && !(keys = malloc(n * sizeof *keys))) {
        b->oom = 1;
        return;
    }
    json_object_keylen_foreach((json_t *)v, k, len, x) {
        if (i < n)
            keys[i++] = (pc_jkey){.k = k, .n = len, .v = x};
    }
    pc_jkeys_sort(keys, i);
    putc1(b, '{');
    for (size_t j = 0; j < i; j++) {
        if (j)
            putc1(b, ',');
        put_string(b, keys[j].k, keys[j].n);
        putc1(b, ':');
        put_value(b, keys[j].v, depth + 1, 1);
    }
    putc1(b, '}');
    if (keys != small)
        free(keys);
}

static void put_value(wbuf *b, const json_t *v, int depth, int sorted)
{
    const char *k;
    json_t *x;
    size_t i, klen;
    int first = 1;

    /* Responses built here are shallow; a request's data (sorted, for its digest) goes as deep as
     * jsonr reads. */
    if (depth > (sorted ? 2100 : 64)) { /* refuse cycles */
        b->oom = 1;
        return;
    }
    switch (json_typeof(v)) {
    case JSON_OBJECT:
        if (sorted) {
            put_sorted_object(b, v, depth);
            break;
        }
        putc1(b, '{');
        json_object_keylen_foreach((json_t *)v, k, klen, x) {
            if (!first)
                putc1(b, ',');
            first = 0;
            put_string(b, k, klen);
            putc1(b, ':');
            put_value(b, x, depth + 1, sorted);
        }
        putc1(b, '}');
        break;
    case JSON_ARRAY:
        putc1(b, '[');
        json_array_foreach((json_t *)v, i, x) {
            if (i)
                putc1(b, ',');
            put_value(b, x, depth + 1, sorted);
        }
        putc1(b, ']');
        break;
    case JSON_STRING:
        put_string(b, json_string_value(v), json_string_length(v));
        break;
    case JSON_INTEGER:
        put_int(b, json_integer_value(v));
        break;
    case JSON_REAL: {
        char tmp[40];
        int n = snprintf(tmp, sizeof tmp, "%.17g", json_real_value(v));
        char *e = strchr(tmp, 'e');
        if (e) { /* as jansson writes it: 1e+300 -> 1e300, 1e-07 -> 1e-7 */
            char *src = e + 1, *dst = e + 1;
            if (*src == '-') {
                src++;
                dst++;
            } else if (*src == '+') {
                src++;
            }
            while (*src == '0' && src[1])
                src++;
            memmove(dst, src, strlen(src) + 1);
            n = (int)strlen(tmp);
        }
        put(b, tmp, (size_t)n);
        if (!strpbrk(tmp, ".eEn")) /* keep it a real: 2 -> 2.0 */
            put(b, ".0", 2);
        break;
    }
    case JSON_TRUE:
        put(b, "true", 4);
        break;
    case JSON_FALSE:
        put(b, "false", 5);
        break;
    default:
        put(b, "null", 4);
        break;
    }
}

void pc_jbuf_string(pc_jbuf *b, const char *s, size_t n)
{
    put_string(b, s, n);
}

void pc_jbuf_int(pc_jbuf *b, json_int_t v)
{
    put_int(b, v);
}

void pc_jbuf_value(pc_jbuf *b, const json_t *v, int sorted)
{
    put_value(b, v, 0, sorted);
}

char *pc_jbuf_finish(pc_jbuf *b, size_t *len_out)
{
    if (grow(b, 0) || b->oom) {
        free(b->p);
        b->p = NULL;
        return NULL;
    }
    b->p[b->len] = '\0';
    if (len_out)
        *len_out = b->len;
    return b->p;
}

char *pc_json_dump_sorted(const json_t *v, size_t *len_out)
{
    wbuf b = {0};
    put_value(&b, v, 0, 1);
    return pc_jbuf_finish(&b, len_out);
}

char *pc_json_dump(const json_t *v, size_t *len_out)
{
    wbuf b = {0};
    put_value(&b, v, 0, 0);
    if (grow(&b, 0) || b.oom) {
        free(b.p);
        return NULL;
    }
    b.p[b.len] = '\0';
    if (len_out)
        *len_out = b.len;
    return b.p;
}
