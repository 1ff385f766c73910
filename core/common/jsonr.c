/*
 * The fast JSON reader (jsonr.h): recursive descent over the bytes,
 * strings without escapes taken in one piece, integers accumulated by hand; the
 * values are jansson's, built with its no-check setters once this reader has
 * checked the UTF-8 itself.
 */
#include "common/jsonr-internal.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Records the first error, with the line and column of r->p. */
void jr_fail(reader *r, const char *what)
{
    int line = 1, col = 1;
    if (r->failed)
        return;
    r->failed = 1;
    if (!r->err)
        return;
    for (const char *q = r->start; q < r->p && q < r->end; q++) {
        if (*q == '\n') {
            line++;
            col = 1;
        } else {
            col++;
        }
    }
    r->err->line = line;
    r->err->column = col;
    snprintf(r->err->text, sizeof r->err->text, "%s", what);
}

/* Length of the valid UTF-8 sequence at p (bytes before end), or 0 when invalid. */
static size_t utf8_len(const unsigned char *p, const unsigned char *end)
{
    unsigned c = p[0];
    size_t n;
    uint32_t cp;
    if (c < 0x80)
        return 1;
    if (c >= 0xC2 && c <= 0xDF)
        n = 2, cp = c & 0x1F;
    else if (c >= 0xE0 && c <= 0xEF)
        n = 3, cp = c & 0x0F;
    else if (c >= 0xF0 && c <= 0xF4)
        n = 4, cp = c & 0x07;
    else
        return 0;
    if ((size_t)(end - p) < n)
        return 0;
    for (size_t i = 1; i < n; i++) {
        if ((p[i] & 0xC0) != 0x80)
            return 0;
        cp = (cp << 6) | (p[i] & 0x3F);
    }
    if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) || cp > 0x10FFFF ||
        (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    return n;
}

static int hex4(const char *p, uint32_t *out)
{
    uint32_t v = 0;
    for (int i = 0; i < 4; i++) {
        char c = p[i];
        v <<= 4;
        if (c >= '0' && c <= '9')
            v |= (uint32_t)(c - '0');
        else if (c >= 'a' && c <= 'f')
            v |= (uint32_t)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F')
            v |= (uint32_t)(c - 'A' + 10);
        else
            return -1;
    }
    *out = v;
    return 0;
}

static size_t put_utf8(char *o, uint32_t cp)
{
    if (cp < 0x80) {
        o[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (char)(0xC0 | (cp >> 6));
        o[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (char)(0xE0 | (cp >> 12));
        o[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        o[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    o[0] = (char)(0xF0 | (cp >> 18));
    o[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    o[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    o[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* Nonzero for the bytes a string's fast loop stops at: controls, '"', '\\', and non-ASCII. */
static const unsigned char string_stop[256] = {
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
};

/*
 * The string at r->p (its opening quote): its bytes in *out (malloc'd when it had
 * escapes, *owned then set; else a pointer into the text) and length. 0 or -1.
 */
int jr_read_string(reader *r, const char **out, size_t *len, char **owned)
{
    const unsigned char *s = (const unsigned char *)++r->p, *q = s;
    const unsigned char *end = (const unsigned char *)r->end;
    char *buf, *o;

    *owned = NULL;
    /* The common case: no escapes. */
    while (q < end && *q != '"' && *q != '\\') {
        if (!string_stop[*q]) { /* printable ASCII but '"' and '\\': the run in one loop */
            do
                q++;
            while (q < end && !string_stop[*q]);
            continue;
        }
        if (*q < 0x20) {
            r->p = (const char *)q;
            jr_fail(r, "control character in a string");
            return -1;
        }
        if (*q < 0x80) {
            q++;
        } else {
            size_t n = utf8_len(q, end);
            if (!n) {
                r->p = (const char *)q;
                jr_fail(r, "invalid UTF-8 in a string");
                return -1;
            }
            q += n;
        }
    }
    if (q >= end) {
        r->p = r->end;
        jr_fail(r, "premature end of input in a string");
        return -1;
    }
    if (*q == '"') {
        *out = (const char *)s;
        *len = (size_t)(q - s);
        r->p = (const char *)q + 1;
        return 0;
    }
    /* Escapes: decode into a copy (never longer than the text). */
    if (!(buf = malloc((size_t)(end - s) + 1))) {
        jr_fail(r, "out of memory");
        return -1;
    }
    memcpy(buf, s, (size_t)(q - s));
    o = buf + (q - s);
    while (q < end && *q != '"') {
        if (*q == '\\') {
            uint32_t cp;
            if (q + 1 >= end)
                break;
            switch (q[1]) {
            case '"':
            case '\\':
            case '/':
                *o++ = (char)q[1];
                break;
            case 'b':
                *o++ = '\b';
                break;
            case 'f':
                *o++ = '\f';
                break;
            case 'n':
                *o++ = '\n';
                break;
            case 'r':
                *o++ = '\r';
                break;
            case 't':
                *o++ = '\t';
                break;
            case 'u':
                if (end - q < 6 || hex4((const char *)q + 2, &cp))
                    goto bad_escape;
                if (cp >= 0xD800 && cp <= 0xDBFF) {
                    uint32_t lo;
                    if (end - q < 12 || q[6] != '\\' || q[7] != 'u' ||
                        hex4((const char *)q + 8, &lo) || lo < 0xDC00 || lo > 0xDFFF)
                        goto bad_escape;
                    cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                    q += 6;
                } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
                    goto bad_escape;
                }
                if (cp == 0) {
                    r->p = (const char *)q;
                    jr_fail(r, "\\u0000 is not allowed");
                    free(buf);
                    return -1;
                }
                o += put_utf8(o, cp);
                q += 6;
                continue;
            default:
                goto bad_escape;
            }
            q += 2;
        } else if (*q < 0x20) {
            r->p = (const char *)q;
            jr_fail(r, "control character in a string");
            free(buf);
            return -1;
        } else {
            size_t n = *q < 0x80 ? 1 : utf8_len(q, end);
            if (!n) {
                r->p = (const char *)q;
                jr_fail(r, "invalid UTF-8 in a string");
                free(buf);
                return -1;
            }
            memcpy(o, q, n);
            o += n;
            q += n;
        }
    }
    if (q >= end) {
        r->p = r->end;
        jr_fail(r, "premature end of input in a string");
        free(buf);
        return -1;
    }
    *o = '\0';
    *out = buf;
    *len = (size_t)(o - buf);
    *owned = buf;
    r->p = (const char *)q + 1;
    return 0;
bad_escape:
    r->p = (const char *)q;
    jr_fail(r, "invalid escape in a string");
    free(buf);
    return -1;
}

/* A number's value: an integer (*real 0, *i) or a real (*real 1, *d). 0 or -1. */
int jr_scan_number(reader *r, int *real_out, json_int_t *i, double *d)
{
    const char *s = r->p, *q = s;
    int neg = 0, real = 0;
    uint64_t v = 0;
    int overflow = 0;

    if (q < r->end && *q == '-') {
        neg = 1;
        q++;
    }
    if (q >= r->end || *q < '0' || *q > '9') {
        jr_fail(r, "invalid number");
        return -1;
    }
    if (*q == '0' && q + 1 < r->end && q[1] >= '0' && q[1] <= '9') {
        jr_fail(r, "invalid number: leading zero");
        return -1;
    }
    while (q < r->end && *q >= '0' && *q <= '9') {
        unsigned dg = (unsigned)(*q - '0');
        if (v > (UINT64_MAX - dg) / 10)
            overflow = 1;
        else
            v = v * 10 + dg;
        q++;
    }
    if (q < r->end && *q == '.') {
        real = 1;
        q++;
        if (q >= r->end || *q < '0' || *q > '9') {
            r->p = q;
            jr_fail(r, "invalid number: digits expected after '.'");
            return -1;
        }
        while (q < r->end && *q >= '0' && *q <= '9')
            q++;
    }
    if (q < r->end && (*q == 'e' || *q == 'E')) {
        real = 1;
        q++;
        if (q < r->end && (*q == '+' || *q == '-'))
            q++;
        if (q >= r->end || *q < '0' || *q > '9') {
            r->p = q;
            jr_fail(r, "invalid number: digits expected in the exponent");
            return -1;
        }
        while (q < r->end && *q >= '0' && *q <= '9')
            q++;
    }
    *real_out = real;
    if (!real) {
        if (overflow || (!neg && v > (uint64_t)INT64_MAX) || (neg && v > (uint64_t)INT64_MAX + 1)) {
            jr_fail(r, "too big integer");
            return -1;
        }
        r->p = q;
        *i = neg ? (json_int_t)(0 - v) : (json_int_t)v;
        return 0;
    }
    {
        char small[64], *buf = small, *endp;
        size_t n = (size_t)(q - s);
        if (n >= sizeof small && !(buf = malloc(n + 1))) {
            jr_fail(r, "out of memory");
            return -1;
        }
        memcpy(buf, s, n);
        buf[n] = '\0';
        *d = strtod(buf, &endp);
        if (buf != small)
            free(buf);
        if (isinf(*d)) { /* an underflow reads as 0 or a subnormal, as jansson has it */
            jr_fail(r, "real number overflow");
            return -1;
        }
        r->p = q;
        return 0;
    }
}

static json_t *read_number(reader *r)
{
    int real;
    json_int_t i = 0;
    double d = 0;
    json_t *j;
    if (jr_scan_number(r, &real, &i, &d))
        return NULL;
    j = real ? json_real(d) : json_integer(i);
    if (!j)
        jr_fail(r, "out of memory");
    return j;
}

int jr_literal(reader *r, const char *word, size_t n)
{
    if ((size_t)(r->end - r->p) < n || memcmp(r->p, word, n)) {
        jr_fail(r, "invalid token");
        return -1;
    }
    r->p += n;
    return 0;
}

static json_t *read_value(reader *r, int depth);

static json_t *read_object(reader *r, int depth)
{
    json_t *obj = json_object();
    if (!obj) {
        jr_fail(r, "out of memory");
        return NULL;
    }
    r->p++; /* '{' */
    jr_skip_ws(r);
    if (r->p < r->end && *r->p == '}') {
        r->p++;
        return obj;
    }
    for (;;) {
        const char *key;
        size_t klen;
        char *owned;
        json_t *v;
        jr_skip_ws(r);
        if (r->p >= r->end || *r->p != '"') {
            jr_fail(r, "string or '}' expected");
            break;
        }
        if (jr_read_string(r, &key, &klen, &owned))
            break;
        if (memchr(key, '\0', klen)) {
            jr_fail(r, "NUL byte in object key not supported");
            free(owned);
            break;
        }
        if (json_object_getn(obj, key, klen)) {
            jr_fail(r, "duplicate object key");
            free(owned);
            break;
        }
        jr_skip_ws(r);
        if (r->p >= r->end || *r->p != ':') {
            jr_fail(r, "':' expected");
            free(owned);
            break;
        }
        r->p++;
        jr_skip_ws(r);
        v = read_value(r, depth + 1);
        if (!v || json_object_setn_new_nocheck(obj, key, klen, v)) {
            if (v)
                jr_fail(r, "out of memory");
            free(owned);
            break;
        }
        free(owned);
        jr_skip_ws(r);
        if (r->p < r->end && *r->p == ',') {
            r->p++;
            continue;
        }
        if (r->p < r->end && *r->p == '}') {
            r->p++;
            return obj;
        }
        jr_fail(r, "',' or '}' expected");
        break;
    }
    json_decref(obj);
    return NULL;
}

static json_t *read_array(reader *r, int depth)
{
    json_t *arr = json_array();
    if (!arr) {
        jr_fail(r, "out of memory");
        return NULL;
    }
    r->p++; /* '[' */
    jr_skip_ws(r);
    if (r->p < r->end && *r->p == ']') {
        r->p++;
        return arr;
    }
    for (;;) {
        json_t *v;
        jr_skip_ws(r);
        v = read_value(r, depth + 1);
        if (!v || json_array_append_new(arr, v)) {
            if (v)
                jr_fail(r, "out of memory");
            break;
        }
        jr_skip_ws(r);
        if (r->p < r->end && *r->p == ',') {
            r->p++;
            continue;
        }
        if (r->p < r->end && *r->p == ']') {
            r->p++;
            return arr;
        }
        jr_fail(r, "',' or ']' expected");
        break;
    }
    json_decref(arr);
    return NULL;
}

static json_t *read_value(reader *r, int depth)
{
    if (depth > JSONR_MAX_DEPTH) {
        jr_fail(r, "maximum parsing depth reached");
        return NULL;
    }
    if (r->p >= r->end) {
        jr_fail(r, "premature end of input");
        return NULL;
    }
    switch (*r->p) {
    case '{':
        return read_object(r, depth);
    case '[':
        return read_array(r, depth);
    case '"': {
        const char *s;
        size_t n;
        char *owned;
        json_t *j;
        if (jr_read_string(r, &s, &n, &owned))
            return NULL;
        j = json_stringn_nocheck(s, n);
        free(owned);
        if (!j)
            jr_fail(r, "out of memory");
        return j;
    }
    case 't':
        return jr_literal(r, "true", 4) ? NULL : json_true();
    case 'f':
        return jr_literal(r, "false", 5) ? NULL : json_false();
    case 'n':
        return jr_literal(r, "null", 4) ? NULL : json_null();
    default:
        if (*r->p == '-' || (*r->p >= '0' && *r->p <= '9'))
            return read_number(r);
        jr_fail(r, "invalid token");
        return NULL;
    }
}

json_t *pc_json_parse(const char *text, size_t len, pc_json_error *err)
{
    reader r = {text, text, text + len, err, 0};
    json_t *v;
    jr_skip_ws(&r);
    if (r.p >= r.end || (*r.p != '{' && *r.p != '[')) {
        jr_fail(&r, "'[' or '{' expected");
        return NULL;
    }
    if (!(v = read_value(&r, 1)))
        return NULL;
    jr_skip_ws(&r);
    if (r.p != r.end) {
        jr_fail(&r, "end of file expected");
        json_decref(v);
        return NULL;
    }
    return v;
}

int pc_json_members(const char *text, size_t len, int (*fn)(void *arg, pc_json_member *m),
                    void *arg)
{
    reader r = {text, text, text + len, NULL, 0};
    jr_skip_ws(&r);
    if (r.p >= r.end || *r.p != '{')
        return -1;
    r.p++;
    jr_skip_ws(&r);
    if (r.p < r.end && *r.p == '}') {
        r.p++;
    } else {
        for (;;) {
            pc_json_member m = {0};
            char *key_owned = NULL, *str_owned = NULL;
            int rc = -1;
            jr_skip_ws(&r);
            if (r.p >= r.end || *r.p != '"' || jr_read_string(&r, &m.key, &m.klen, &key_owned))
                return -1;
            jr_skip_ws(&r);
            if (!(key_owned && memchr(m.key, '\0', m.klen)) && r.p < r.end && *r.p == ':') {
                r.p++;
                jr_skip_ws(&r);
                rc = 0;
                if (r.p >= r.end) {
                    rc = -1;
                } else if (*r.p == '"') {
                    m.type = JSON_STRING;
                    rc = jr_read_string(&r, &m.str, &m.slen, &str_owned);
                } else if (*r.p == '{' || *r.p == '[') {
                    m.type = *r.p == '{' ? JSON_OBJECT : JSON_ARRAY;
                    rc = (m.doc = jr_doc_read(&r, 2)) ? 0 : -1; /* the object is depth 1 */
                } else if (*r.p == 't' || *r.p == 'f' || *r.p == 'n') {
                    m.type = *r.p == 't' ? JSON_TRUE : *r.p == 'f' ? JSON_FALSE : JSON_NULL;
                    rc = jr_literal(&r,
                                    *r.p == 't'   ? "true"
                                    : *r.p == 'f' ? "false"
                                                  : "null",
                                    *r.p == 'f' ? 5 : 4);
                } else if (*r.p == '-' || (*r.p >= '0' && *r.p <= '9')) {
                    int real;
                    rc = jr_scan_number(&r, &real, &m.i, &m.d);
                    m.type = real ? JSON_REAL : JSON_INTEGER;
                } else {
                    rc = -1;
                }
                if (rc == 0 && fn(arg, &m))
                    rc = -1;
            }
            if (key_owned)
                free(key_owned);
            if (str_owned)
                free(str_owned);
            if (m.doc)
                pc_jdoc_free(m.doc);
            if (rc)
                return -1;
            jr_skip_ws(&r);
            if (r.p < r.end && *r.p == ',') {
                r.p++;
                continue;
            }
            if (r.p < r.end && *r.p == '}') {
                r.p++;
                break;
            }
            return -1;
        }
    }
    jr_skip_ws(&r);
    return r.p == r.end ? 0 : -1;
}

size_t pc_json_span(const char *text, size_t len)
{
    size_t depth = 0;
    if (!len || (text[0] != '{' && text[0] != '['))
        return 0;
    for (size_t i = 0; i < len; i++) {
        switch (text[i]) {
        case '{':
        case '[':
            depth++;
            break;
        case '}':
        case ']':
            if (--depth == 0)
                return i + 1;
            break;
        case '"':
            for (i++; i < len && text[i] != '"'; i++)
                if (text[i] == '\\')
                    i++;
            if (i >= len)
                return 0;
            break;
        default:
            break;
        }
    }
    return 0;
}
