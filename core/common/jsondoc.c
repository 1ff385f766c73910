/*
 * The fast JSON reader's blocks (jsonr.h, pc_jdoc): the same checks as jsonr.c's reader,
 * the values written as tokens into arrays on the stack, then copied into one malloc'd
 * block: no allocation per value, and nothing to free value by value.
 */
#include "common/jsonr-internal.h"
#include "common/jsonw-internal.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* pc_jdoc_parse()'s growing arrays: on the stack first, one block at the end. */
typedef struct builder {
    pc_jtok *tok;
    uint32_t *sorted;
    char *str;
    size_t ntok, captok, nsorted, capsorted, nstr, capstr;
    pc_jtok tok0[32];
    uint32_t sorted0[32];
    char str0[512];
} builder;

static void builder_init(builder *b)
{
    b->tok = b->tok0;
    b->sorted = b->sorted0;
    b->str = b->str0;
    b->ntok = b->nsorted = b->nstr = 0;
    b->captok = sizeof b->tok0 / sizeof *b->tok0;
    b->capsorted = sizeof b->sorted0 / sizeof *b->sorted0;
    b->capstr = sizeof b->str0;
}

static void builder_done(builder *b)
{
    if (b->tok != b->tok0)
        free(b->tok);
    if (b->sorted != b->sorted0)
        free(b->sorted);
    if (b->str != b->str0)
        free(b->str);
}

/* Room for more elements of size each in *arr (inline its first storage). 0 or -1. */
static int reserve(void **arr, size_t *cap, size_t used, size_t more, size_t size,
                   const void *inline_buf)
{
    size_t ncap = *cap;
    void *np;
    if (used + more <= *cap)
        return 0;
    while (ncap < used + more)
        ncap *= 2;
    if (ncap > UINT32_MAX / 2)
        return -1;
    if (*arr == inline_buf) {
        if (!(np = malloc(ncap * size)))
            return -1;
        memcpy(np, *arr, used * size);
    } else if (!(np = realloc(*arr, ncap * size))) {
        return -1;
    }
    *arr = np;
    *cap = ncap;
    return 0;
}

/* A new token of type t: its index, or -1 (failed). */
static inline long new_tok(reader *r, builder *b, json_type t)
{
    pc_jtok *k;
    if (b->ntok == b->captok &&
        reserve((void **)&b->tok, &b->captok, b->ntok, 1, sizeof *b->tok, b->tok0)) {
        jr_fail(r, "out of memory");
        return -1;
    }
    k = &b->tok[b->ntok];
    memset(k, 0, sizeof *k);
    k->type = t;
    return (long)b->ntok++;
}

/* The string at r->p as a token (a key: no NUL inside). 0 or -1. */
static int doc_string(reader *r, builder *b, int key)
{
    const char *s;
    size_t n;
    char *owned;
    long at;
    if (jr_read_string(r, &s, &n, &owned))
        return -1;
    if (key && owned && memchr(s, '\0', n)) { /* only an escape could make one */
        jr_fail(r, "NUL byte in object key not supported");
        free(owned);
        return -1;
    }
    if ((at = new_tok(r, b, JSON_STRING)) < 0 ||
        (b->nstr + n + 1 > b->capstr &&
         reserve((void **)&b->str, &b->capstr, b->nstr, n + 1, 1, b->str0))) {
        if (at >= 0)
            jr_fail(r, "out of memory");
        if (owned)
            free(owned);
        return -1;
    }
    memcpy(b->str + b->nstr, s, n);
    b->str[b->nstr + n] = '\0';
    b->tok[at].n = (uint32_t)n;
    b->tok[at].off = (uint32_t)b->nstr;
    b->tok[at].next = (uint32_t)at + 1;
    b->nstr += n + 1;
    if (owned)
        free(owned);
    return 0;
}

/* The closed object at token at: its keys sorted into b->sorted, refused when one repeats. */
static int sort_keys(reader *r, builder *b, size_t at)
{
    pc_jkey small[16], *keys = small;
    size_t n = b->tok[at].n, i = at + 1;
    int rc = 0;
    if (n <= 1) { /* nothing to sort or compare */
        if (n && b->nsorted == b->capsorted &&
            reserve((void **)&b->sorted, &b->capsorted, b->nsorted, 1, sizeof *b->sorted,
                    b->sorted0)) {
            jr_fail(r, "out of memory");
            return -1;
        }
        b->tok[at].off = (uint32_t)b->nsorted;
        if (n)
            b->sorted[b->nsorted++] = (uint32_t)at + 1;
        return 0;
    }
    if (n > sizeof small / sizeof *small && !(keys = malloc(n * sizeof *keys))) {
        jr_fail(r, "out of memory");
        return -1;
    }
    for (size_t j = 0; j < n; j++) {
        keys[j] = (pc_jkey){.k = b->str + b->tok[i].off, .n = b->tok[i].n, .tok = (uint32_t)i};
        i = b->tok[i + 1].next;
    }
    pc_jkeys_sort(keys, n);
    for (size_t j = 1; j < n && !rc; j++) {
        if (!pc_jkey_cmp(&keys[j - 1], &keys[j])) {
            jr_fail(r, "duplicate object key");
            rc = -1;
        }
    }
    if (!rc &&
        reserve((void **)&b->sorted, &b->capsorted, b->nsorted, n, sizeof *b->sorted, b->sorted0)) {
        jr_fail(r, "out of memory");
        rc = -1;
    }
    if (!rc) {
        b->tok[at].off = (uint32_t)b->nsorted;
        for (size_t j = 0; j < n; j++)
            b->sorted[b->nsorted++] = keys[j].tok;
    }
    if (keys != small)
        free(keys);
    return rc;
}

static int doc_value(reader *r, builder *b, int depth);

static int doc_container(reader *r, builder *b, int depth, int object)
{
    char close = object ? '}' : ']';
    long at = new_tok(r, b, object ? JSON_OBJECT : JSON_ARRAY);
    uint32_t n = 0;
    if (at < 0)
        return -1;
    r->p++;
    jr_skip_ws(r);
    if (r->p < r->end && *r->p == close) {
        r->p++;
    } else {
        for (;;) {
            jr_skip_ws(r);
            if (object) {
                if (r->p >= r->end || *r->p != '"') {
                    jr_fail(r, "string or '}' expected");
                    return -1;
                }
                if (doc_string(r, b, 1))
                    return -1;
                jr_skip_ws(r);
                if (r->p >= r->end || *r->p != ':') {
                    jr_fail(r, "':' expected");
                    return -1;
                }
                r->p++;
                jr_skip_ws(r);
            }
            if (doc_value(r, b, depth + 1))
                return -1;
            n++;
            jr_skip_ws(r);
            if (r->p < r->end && *r->p == ',') {
                r->p++;
                continue;
            }
            if (r->p < r->end && *r->p == close) {
                r->p++;
                break;
            }
            jr_fail(r, object ? "',' or '}' expected" : "',' or ']' expected");
            return -1;
        }
    }
    b->tok[at].n = n;
    b->tok[at].next = (uint32_t)b->ntok;
    return object ? sort_keys(r, b, (size_t)at) : 0;
}

/* read_value() into tokens. 0 or -1. */
static int doc_value(reader *r, builder *b, int depth)
{
    long at;
    if (depth > JSONR_MAX_DEPTH) {
        jr_fail(r, "maximum parsing depth reached");
        return -1;
    }
    if (r->p >= r->end) {
        jr_fail(r, "premature end of input");
        return -1;
    }
    switch (*r->p) {
    case '{':
    case '[':
        return doc_container(r, b, depth, *r->p == '{');
    case '"':
        return doc_string(r, b, 0);
    case 't':
        if (jr_literal(r, "true", 4) || (at = new_tok(r, b, JSON_TRUE)) < 0)
            return -1;
        break;
    case 'f':
        if (jr_literal(r, "false", 5) || (at = new_tok(r, b, JSON_FALSE)) < 0)
            return -1;
        break;
    case 'n':
        if (jr_literal(r, "null", 4) || (at = new_tok(r, b, JSON_NULL)) < 0)
            return -1;
        break;
    default: {
        int real;
        json_int_t i = 0;
        double d = 0;
        if (*r->p != '-' && (*r->p < '0' || *r->p > '9')) {
            jr_fail(r, "invalid token");
            return -1;
        }
        if (jr_scan_number(r, &real, &i, &d) ||
            (at = new_tok(r, b, real ? JSON_REAL : JSON_INTEGER)) < 0)
            return -1;
        if (real)
            b->tok[at].num.d = d;
        else
            b->tok[at].num.i = i;
        break;
    }
    }
    b->tok[at].next = (uint32_t)at + 1;
    return 0;
}

/* The container at r->p (depth: its own) as one block, or NULL (failed). */
pc_jdoc *jr_doc_read(reader *r, int depth)
{
    builder b;
    pc_jdoc *d = NULL;
    if ((size_t)(r->end - r->p) > UINT32_MAX / 4) {
        jr_fail(r, "too large");
        return NULL;
    }
    builder_init(&b);
    if (doc_container(r, &b, depth, *r->p == '{') == 0) {
        size_t head = (sizeof *d + sizeof(pc_jtok) - 1) / sizeof(pc_jtok) * sizeof(pc_jtok);
        size_t toks = b.ntok * sizeof *b.tok, sorted = b.nsorted * sizeof *b.sorted;
        char *block = malloc(head + toks + sorted + b.nstr);
        if (block) {
            pc_jtok *tok = (pc_jtok *)(void *)(block + head);
            uint32_t *so = (uint32_t *)(void *)(block + head + toks);
            char *str = block + head + toks + sorted;
            memcpy(tok, b.tok, toks);
            memcpy(so, b.sorted, sorted);
            memcpy(str, b.str, b.nstr);
            d = (pc_jdoc *)(void *)block;
            d->tok = tok;
            d->sorted = so;
            d->str = str;
            d->ntok = b.ntok;
        } else {
            jr_fail(r, "out of memory");
        }
    }
    builder_done(&b);
    return d;
}

pc_jdoc *pc_jdoc_parse(const char *text, size_t len, pc_json_error *err)
{
    reader r = {text, text, text + len, err, 0};
    pc_jdoc *d;
    jr_skip_ws(&r);
    if (r.p >= r.end || (*r.p != '{' && *r.p != '[')) {
        jr_fail(&r, "'[' or '{' expected");
        return NULL;
    }
    if (!(d = jr_doc_read(&r, 1)))
        return NULL;
    jr_skip_ws(&r);
    if (r.p != r.end) {
        jr_fail(&r, "end of file expected");
        pc_jdoc_free(d);
        return NULL;
    }
    return d;
}

void pc_jdoc_free(pc_jdoc *d)
{
    free(d);
}

json_t *pc_jdoc_json(const pc_jdoc *d, size_t at)
{
    const pc_jtok *t = &d->tok[at];
    json_t *v, *x;
    size_t i = at + 1;
    switch (t->type) {
    case JSON_OBJECT:
        if (!(v = json_object()))
            return NULL;
        for (uint32_t j = 0; j < t->n; j++) {
            const pc_jtok *k = &d->tok[i];
            if (!(x = pc_jdoc_json(d, i + 1)) ||
                json_object_setn_new_nocheck(v, d->str + k->off, k->n, x)) {
                json_decref(v);
                return NULL;
            }
            i = d->tok[i + 1].next;
        }
        return v;
    case JSON_ARRAY:
        if (!(v = json_array()))
            return NULL;
        for (uint32_t j = 0; j < t->n; j++) {
            if (!(x = pc_jdoc_json(d, i)) || json_array_append_new(v, x)) {
                json_decref(v);
                return NULL;
            }
            i = d->tok[i].next;
        }
        return v;
    case JSON_STRING:
        return json_stringn_nocheck(d->str + t->off, t->n);
    case JSON_INTEGER:
        return json_integer(t->num.i);
    case JSON_REAL:
        return json_real(t->num.d);
    case JSON_TRUE:
        return json_true();
    case JSON_FALSE:
        return json_false();
    default:
        return json_null();
    }
}
