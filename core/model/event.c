/*
 * Validation of incoming events: every field is checked before anything is
 * read from or written to Redis, so bad input changes nothing.
 */
#include "punchcard/event.h"
#include "common/jsonr.h"
#include "common/jsonw-internal.h"

#include <stdlib.h>
#include <string.h>

static int charset_ok(const char *s, size_t max, const char *extra, int upper)
{
    size_t n = 0;
    for (; s[n]; n++) {
        unsigned char c = (unsigned char)s[n];
        if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || (upper && c >= 'A' && c <= 'Z'))
            continue;
        if (!strchr(extra, c))
            return 0;
    }
    return n >= 1 && n <= max;
}

int pc_valid_id(const char *s)
{
    return charset_ok(s, PC_ID_MAX, "._:@+-", 1);
}

int pc_valid_name(const char *s)
{
    return charset_ok(s, PC_TYPE_MAX, "_.-", 0);
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

/*
 * The digest hashes the request's canonical text: what
 * json_dumps(JSON_COMPACT | JSON_SORT_KEYS) writes of {at (when given), data,
 * id, member, partner, type}, written here directly (the keys in that order
 * are sorted already) so that records stored by earlier builds still match.
 */
/* The value at token at, as pc_jbuf_value(b, v, 1) writes its jansson value v. */
static void put_doc(pc_jbuf *b, const pc_jdoc *d, size_t at)
{
    const pc_jtok *t = &d->tok[at];
    size_t i = at + 1;
    switch (t->type) {
    case JSON_OBJECT:
        pc_jbuf_put(b, "{", 1);
        for (uint32_t j = 0; j < t->n; j++) {
            const pc_jtok *k = &d->tok[d->sorted[t->off + j]];
            if (j)
                pc_jbuf_put(b, ",", 1);
            pc_jbuf_string(b, d->str + k->off, k->n);
            pc_jbuf_put(b, ":", 1);
            put_doc(b, d, d->sorted[t->off + j] + 1);
        }
        pc_jbuf_put(b, "}", 1);
        break;
    case JSON_ARRAY:
        pc_jbuf_put(b, "[", 1);
        for (uint32_t j = 0; j < t->n; j++) {
            if (j)
                pc_jbuf_put(b, ",", 1);
            put_doc(b, d, i);
            i = d->tok[i].next;
        }
        pc_jbuf_put(b, "]", 1);
        break;
    case JSON_STRING:
        pc_jbuf_string(b, d->str + t->off, t->n);
        break;
    case JSON_INTEGER:
        pc_jbuf_int(b, t->num.i);
        break;
    case JSON_REAL: { /* rare: jansson's own formatting, through a value */
        json_t *r = json_real(t->num.d);
        if (r)
            pc_jbuf_value(b, r, 1);
        else
            b->oom = 1;
        json_decref(r);
        break;
    }
    case JSON_TRUE:
        pc_jbuf_put(b, "true", 4);
        break;
    case JSON_FALSE:
        pc_jbuf_put(b, "false", 5);
        break;
    default:
        pc_jbuf_put(b, "null", 4);
        break;
    }
}

static void put_field(pc_jbuf *b, const char *name, const char *value)
{
    pc_jbuf_put(b, name, strlen(name));
    pc_jbuf_string(b, value, strlen(value));
}

void pc_event_digest(const pc_event *ev, char out[65])
{
    pc_jbuf b = {0};
    char *text;
    size_t len = 0;

    pc_jbuf_put(&b, "{", 1);
    if (ev->at_given) {
        pc_jbuf_put(&b, "\"at\":", 5);
        pc_jbuf_int(&b, ev->at_ms);
        pc_jbuf_put(&b, ",", 1);
    }
    pc_jbuf_put(&b, "\"data\":", 7);
    if (ev->doc)
        put_doc(&b, ev->doc, 0);
    else if (ev->data)
        pc_jbuf_value(&b, ev->data, 1);
    else
        pc_jbuf_put(&b, "{}", 2); /* no data: an empty object */
    put_field(&b, ",\"id\":", ev->id);
    put_field(&b, ",\"member\":", ev->member);
    put_field(&b, ",\"partner\":", ev->partner);
    put_field(&b, ",\"type\":", ev->type);
    pc_jbuf_put(&b, "}", 1);
    text = pc_jbuf_finish(&b, &len);
    /* Out of memory: a digest of nothing, which only an equally starved retry repeats. */
    pc_sha256_hex(text ? text : "", text ? len : 0, out);
    free(text);
}
