/*
 * Validation of incoming events: every field is checked before anything is
 * read from or written to Redis, so bad input changes nothing.
 */
#define OPENSSL_SUPPRESS_DEPRECATED
#include "punchcard/event.h"
#include "common/jsonr.h"
#include "common/jsonw-internal.h"

#include <openssl/sha.h>
#include <stdlib.h>
#include <string.h>

/* The bytes an id may hold: A-Z a-z 0-9 . _ : @ + - */
static const unsigned char id_chars[256] = {
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 1, 1, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 1,
    0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
};

/* The bytes a name may hold: a-z 0-9 . _ - */
static const unsigned char name_chars[256] = {
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1,
    0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
};

static int charset_ok(const char *s, size_t max, const unsigned char allowed[256])
{
    size_t n = 0;
    while (allowed[(unsigned char)s[n]])
        n++;
    return !s[n] && n >= 1 && n <= max;
}

int pc_valid_id(const char *s)
{
    return charset_ok(s, PC_ID_MAX, id_chars);
}

int pc_valid_name(const char *s)
{
    return charset_ok(s, PC_TYPE_MAX, name_chars);
}

static int get_string(json_t *obj, const char *key, char *out, size_t max,
                      int (*valid)(const char *), const char *rule, pc_error *err)
{
    json_t *v = json_object_get(obj, key);
    if (!v)
        return pc_fail(err, 400, "bad_request", "missing field \"%s\"", key);
    if (!json_is_string(v))
        return pc_fail(err, 400, "bad_request", "field \"%s\" must be a string", key);
    const char *s = json_string_value(v);
    if (strlen(s) != json_string_length(v) || !valid(s))
        return pc_fail(err, 400, "bad_request", "field \"%s\" must be %s", key, rule);
    memcpy(out, s, strlen(s) + 1);
    (void)max;
    return 0;
}

int pc_event_from_json(json_t *obj, pc_event *ev, pc_error *err)
{
    const char *key;
    json_t *v;

    memset(ev, 0, sizeof *ev);
    if (!json_is_object(obj))
        return pc_fail(err, 400, "bad_request", "the event must be a JSON object");
    json_object_foreach(obj, key, v) {
        if (strcmp(key, "id") && strcmp(key, "type") && strcmp(key, "member") &&
            strcmp(key, "at") && strcmp(key, "data") && strcmp(key, "partner"))
            return pc_fail(err, 400, "bad_request", "unknown field \"%.64s\"", key);
    }
    if (get_string(obj, "id", ev->id, sizeof ev->id, pc_valid_id,
                   "1-128 characters of A-Z a-z 0-9 . _ : @ + -", err) ||
        get_string(obj, "type", ev->type, sizeof ev->type, pc_valid_name,
                   "1-64 characters of a-z 0-9 . _ -", err) ||
        get_string(obj, "member", ev->member, sizeof ev->member, pc_valid_id,
                   "1-128 characters of A-Z a-z 0-9 . _ : @ + -", err))
        return -1;
    v = json_object_get(obj, "at");
    if (v && !json_is_null(v)) {
        if (json_is_integer(v)) {
            ev->at_ms = json_integer_value(v);
        } else if (!json_is_string(v) || pc_time_parse(json_string_value(v), &ev->at_ms)) {
            return pc_fail(err, 400, "bad_request",
                           "field \"at\" must be an RFC 3339 time or integer milliseconds");
        }
        /* Years 1970-9999: keeps every later date computation in range. */
        if (ev->at_ms < 0 || ev->at_ms > 253402300799999LL)
            return pc_fail(err, 400, "bad_request", "field \"at\" is out of range");
        ev->at_given = 1;
    }
    v = json_object_get(obj, "partner");
    if (v && !json_is_null(v) &&
        get_string(obj, "partner", ev->partner, sizeof ev->partner, pc_valid_name,
                   "1-64 characters of a-z 0-9 . _ -", err))
        return -1;
    v = json_object_get(obj, "data");
    if (v && !json_is_null(v)) {
        if (!json_is_object(v))
            return pc_fail(err, 400, "bad_request", "field \"data\" must be an object");
        ev->data = json_incref(v);
    } else {
        ev->data = json_object();
    }
    return 0;
}

enum { F_ID = 1, F_TYPE = 2, F_MEMBER = 4, F_AT = 8, F_PARTNER = 16, F_DATA = 32 };

/* pc_event_parse()'s one pass: the event it fills, and the members it saw. */
typedef struct fast_parse {
    pc_event *ev;
    unsigned seen;
} fast_parse;

/* A string member into out (size bytes) when it fits and valid() takes it. 0, or 1. */
static int take_string(const pc_json_member *m, char *out, size_t size, int (*valid)(const char *))
{
    if (!m->str || m->slen >= size)
        return 1;
    memcpy(out, m->str, m->slen);
    out[m->slen] = '\0';
    return !valid(out);
}

/*
 * One member of an event's object, taken as pc_event_from_json() would take
 * it; 1 (give up) for anything it would refuse, or a key seen before or
 * unknown: the slow path then says what is wrong.
 */
static int take_member(void *arg, pc_json_member *m)
{
    fast_parse *f = arg;
    pc_event *ev = f->ev;
    unsigned bit;
#define KEY(name) (m->klen == sizeof name - 1 && !memcmp(m->key, name, sizeof name - 1))
    bit = KEY("id")        ? F_ID
          : KEY("type")    ? F_TYPE
          : KEY("member")  ? F_MEMBER
          : KEY("at")      ? F_AT
          : KEY("partner") ? F_PARTNER
          : KEY("data")    ? F_DATA
                           : 0;
#undef KEY
    if (!bit || (f->seen & bit))
        return 1;
    f->seen |= bit;
    switch (bit) {
    case F_ID:
        return take_string(m, ev->id, sizeof ev->id, pc_valid_id);
    case F_TYPE:
        return take_string(m, ev->type, sizeof ev->type, pc_valid_name);
    case F_MEMBER:
        return take_string(m, ev->member, sizeof ev->member, pc_valid_id);
    case F_PARTNER:
        return m->type == JSON_NULL
                   ? 0
                   : take_string(m, ev->partner, sizeof ev->partner, pc_valid_name);
    case F_AT:
        if (m->type == JSON_NULL)
            return 0;
        if (m->type == JSON_INTEGER) {
            ev->at_ms = m->i;
        } else {
            char text[64];
            if (!m->str || m->slen >= sizeof text)
                return 1;
            memcpy(text, m->str, m->slen);
            text[m->slen] = '\0';
            if (pc_time_parse(text, &ev->at_ms))
                return 1;
        }
        ev->at_given = 1;
        return ev->at_ms < 0 || ev->at_ms > 253402300799999LL;
    default: /* F_DATA */
        if (m->type == JSON_NULL)
            return 0;
        if (m->type != JSON_OBJECT)
            return 1;
        ev->doc = m->doc; /* kept as tokens: see pc_event_data() */
        m->doc = NULL;
        return 0;
    }
}

/* The common case in one pass, without jansson values: the members straight into ev, data as
 * tokens. */
int pc_event_take(const char *body, size_t len, pc_event *ev)
{
    fast_parse fast = {ev, 0};
    memset(ev, 0, sizeof *ev);
    if (pc_json_members(body, len, take_member, &fast) == 0 &&
        (fast.seen & (F_ID | F_TYPE | F_MEMBER)) == (F_ID | F_TYPE | F_MEMBER))
        return 0;
    pc_event_clear(ev);
    memset(ev, 0, sizeof *ev);
    return -1;
}

int pc_event_parse(const char *body, size_t len, pc_event *ev, pc_error *err)
{
    /* Anything the one pass would refuse goes the whole way round, which says what is wrong. */
    if (pc_event_take(body, len, ev) == 0)
        return 0;
    return pc_event_parse_values(body, len, ev, err);
}

int pc_event_parse_values(const char *body, size_t len, pc_event *ev, pc_error *err)
{
    pc_json_error jerr;
    json_t *obj;
    int rc;

    obj = pc_json_parse(body, len, &jerr);
    memset(ev, 0, sizeof *ev);
    if (!obj)
        return pc_fail(err, 400, "bad_json", "invalid JSON at line %d column %d: %s", jerr.line,
                       jerr.column, jerr.text);
    rc = pc_event_from_json(obj, ev, err);
    json_decref(obj);
    return rc;
}

void pc_event_clear(pc_event *ev)
{
    json_decref(ev->data);
    ev->data = NULL;
    pc_jdoc_free(ev->doc);
    ev->doc = NULL;
}

json_t *pc_event_data(const pc_event *ev)
{
    pc_event *e = (pc_event *)ev; /* the cache: data is built once, then only read */
    if (!e->data)
        e->data = e->doc ? pc_jdoc_json(e->doc, 0) : json_object();
    return e->data;
}

const char *pc_event_data_string(const pc_event *ev, const char *key)
{
    const pc_jdoc *d = ev->doc;
    size_t klen = strlen(key), lo = 0, hi;
    if (!d)
        return json_string_value(json_object_get(ev->data, key));
    hi = d->tok[0].n;
    while (lo < hi) { /* the keys in byte order, then the shorter first */
        size_t mid = lo + (hi - lo) / 2;
        const pc_jtok *k = &d->tok[d->sorted[d->tok[0].off + mid]];
        int c = memcmp(d->str + k->off, key, k->n < klen ? k->n : klen);
        if (!c)
            c = (k->n > klen) - (k->n < klen);
        if (!c)
            return k[1].type == JSON_STRING ? d->str + k[1].off : NULL;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

/*
 * The digest hashes the request's canonical text: what
 * json_dumps(JSON_COMPACT | JSON_SORT_KEYS) writes of {at (when given), data,
 * id, member, partner, type}, written here directly (the keys in that order
 * are sorted already) so that records stored by earlier builds still match.
 * The text is hashed as it is written, a buffer at a time: never held whole.
 */
typedef struct hasher {
    SHA256_CTX ctx; /* OpenSSL 3's SHA256() and EVP_Digest() look the algorithm up each call */
    size_t n;
    unsigned char buf[256];
} hasher;

static inline void h_put(hasher *h, const void *p, size_t n)
{
    if (h->n + n > sizeof h->buf) {
        SHA256_Update(&h->ctx, h->buf, h->n);
        h->n = 0;
        if (n > sizeof h->buf) {
            SHA256_Update(&h->ctx, p, n);
            return;
        }
    }
    memcpy(h->buf + h->n, p, n);
    h->n += n;
}

/* Text pc_jbuf wrote (then freed); out of memory, a marker no canonical text holds. */
static void h_put_jbuf(hasher *h, pc_jbuf *b)
{
    size_t len = 0;
    char *text = pc_jbuf_finish(b, &len);
    if (text)
        h_put(h, text, len);
    else
        h_put(h, "\x01oom", 4); /* a digest only an equally starved retry repeats */
    free(text);
}

/* A JSON string as pc_jbuf_string() writes it. */
static void h_string(hasher *h, const char *s, size_t n)
{
    if (pc_json_plain_len(s, n) < n) { /* escapes: rare, the long way */
        pc_jbuf b = {0};
        pc_jbuf_string(&b, s, n);
        h_put_jbuf(h, &b);
        return;
    }
    if (h->n + n + 2 > sizeof h->buf) {
        h_put(h, "\"", 1);
        h_put(h, s, n);
        h_put(h, "\"", 1);
        return;
    }
    h->buf[h->n] = '"'; /* the common case: straight into the buffer */
    memcpy(h->buf + h->n + 1, s, n);
    h->buf[h->n + n + 1] = '"';
    h->n += n + 2;
}

/* The value at token at, as pc_jbuf_value(b, v, 1) writes its jansson value v. */
static void h_doc(hasher *h, const pc_jdoc *d, size_t at)
{
    const pc_jtok *t = &d->tok[at];
    size_t i = at + 1;
    switch (t->type) {
    case JSON_OBJECT:
        h_put(h, "{", 1);
        for (uint32_t j = 0; j < t->n; j++) {
            uint32_t key = d->sorted[t->off + j];
            if (j)
                h_put(h, ",", 1);
            h_string(h, d->str + d->tok[key].off, d->tok[key].n);
            h_put(h, ":", 1);
            h_doc(h, d, key + 1);
        }
        h_put(h, "}", 1);
        break;
    case JSON_ARRAY:
        h_put(h, "[", 1);
        for (uint32_t j = 0; j < t->n; j++) {
            if (j)
                h_put(h, ",", 1);
            h_doc(h, d, i);
            i = d->tok[i].next;
        }
        h_put(h, "]", 1);
        break;
    case JSON_STRING:
        h_string(h, d->str + t->off, t->n);
        break;
    case JSON_INTEGER: {
        char tmp[24];
        h_put(h, tmp, pc_format_int(tmp, t->num.i));
        break;
    }
    case JSON_REAL: { /* rare: jansson's own formatting, through a value */
        pc_jbuf b = {0};
        json_t *r = json_real(t->num.d);
        if (r)
            pc_jbuf_value(&b, r, 1);
        else
            b.oom = 1;
        json_decref(r);
        h_put_jbuf(h, &b);
        break;
    }
    case JSON_TRUE:
        h_put(h, "true", 4);
        break;
    case JSON_FALSE:
        h_put(h, "false", 5);
        break;
    default:
        h_put(h, "null", 4);
        break;
    }
}

static void h_field(hasher *h, const char *name, const char *value)
{
    h_put(h, name, strlen(name));
    h_string(h, value, strlen(value));
}

void pc_event_digest(const pc_event *ev, char out[65])
{
    static const char hex[] = "0123456789abcdef";
    unsigned char md[SHA256_DIGEST_LENGTH];
    hasher h;

    SHA256_Init(&h.ctx);
    h.n = 0;
    h_put(&h, "{", 1);
    if (ev->at_given) {
        char tmp[24];
        h_put(&h, "\"at\":", 5);
        h_put(&h, tmp, pc_format_int(tmp, ev->at_ms));
        h_put(&h, ",", 1);
    }
    h_put(&h, "\"data\":", 7);
    if (ev->doc) {
        h_doc(&h, ev->doc, 0);
    } else if (ev->data) { /* an event built in C: its jansson values */
        pc_jbuf b = {0};
        pc_jbuf_value(&b, ev->data, 1);
        h_put_jbuf(&h, &b);
    } else {
        h_put(&h, "{}", 2); /* no data: an empty object */
    }
    h_field(&h, ",\"id\":", ev->id);
    h_field(&h, ",\"member\":", ev->member);
    h_field(&h, ",\"partner\":", ev->partner);
    h_field(&h, ",\"type\":", ev->type);
    h_put(&h, "}", 1);
    SHA256_Update(&h.ctx, h.buf, h.n);
    SHA256_Final(md, &h.ctx);
    for (size_t i = 0; i < sizeof md; i++) {
        out[2 * i] = hex[md[i] >> 4];
        out[2 * i + 1] = hex[md[i] & 15];
    }
    out[64] = '\0';
}
