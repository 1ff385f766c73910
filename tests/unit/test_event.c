/*
 * Unit tests for core/model/event.c: pc_event_parse turns a POST /v1/events
 * body into a pc_event or a 400 that names what is wrong, and pc_valid_id /
 * pc_valid_name are the character rules every id and name goes through.
 * Each test walks a table of cases and reports every case that went wrong.
 */
#include "punchcard/event.h"
#include "common/jsonr.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#define N(a) (sizeof(a) / sizeof((a)[0]))

/* 2026-11-25T08:30:00Z in ms since the epoch. */
#define T_MORNING 1795595400000LL

static void test_valid_event_fields(void **state)
{
    const char *body = "{\"id\": \"o-1\", \"type\": \"order\", \"member\": \"ann\","
                       " \"at\": \"2026-11-25T09:30:00.250+01:00\","
                       " \"data\": {\"amount\": 1250, \"items\": [{\"category\": \"fuel\"}]}}";
    pc_event ev;
    pc_error err = {0};
    (void)state;

    assert_int_equal(pc_event_parse(body, strlen(body), &ev, &err), 0);
    assert_string_equal(ev.id, "o-1");
    assert_string_equal(ev.type, "order");
    assert_string_equal(ev.member, "ann");
    assert_int_equal(ev.at_given, 1);
    assert_int_equal(ev.at_ms, T_MORNING + 250);
    assert_true(json_is_object(pc_event_data(&ev)));
    assert_int_equal(json_integer_value(json_object_get(pc_event_data(&ev), "amount")), 1250);
    assert_true(json_is_array(json_object_get(pc_event_data(&ev), "items")));
    pc_event_clear(&ev);
    assert_null(ev.data);
    assert_null(ev.doc);

    /* Without at and data: at is not given, data is an empty object (never NULL). */
    body = "{\"id\": \"o-2\", \"type\": \"visit\", \"member\": \"bob\"}";
    assert_int_equal(pc_event_parse(body, strlen(body), &ev, &err), 0);
    assert_int_equal(ev.at_given, 0);
    assert_int_equal(ev.at_ms, 0);
    assert_true(json_is_object(pc_event_data(&ev)));
    assert_int_equal(json_object_size(pc_event_data(&ev)), 0);
    pc_event_clear(&ev);

    /* Only len bytes are read: the body need not be NUL-terminated there. */
    body = "{\"id\": \"o-3\", \"type\": \"visit\", \"member\": \"bob\"}GARBAGE";
    assert_int_equal(pc_event_parse(body, strlen(body) - strlen("GARBAGE"), &ev, &err), 0);
    assert_string_equal(ev.id, "o-3");
    pc_event_clear(&ev);
}

struct parse_case {
    const char *name;
    const char *body; /* {ID}, {TYPE} ... are not templated: each case is literal */
    int ok;
    const char *code;   /* when !ok */
    const char *substr; /* when !ok: must appear in the message */
    int64_t at_ms;      /* when ok and at_given */
    int at_given;
};

#define ID129                                                                                      \
    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" \
    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define ID128                                                                                      \
    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" \
    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define TYPE64 "tttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttt"
#define TYPE65 "ttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttt"

#define EV(id, type, member, rest)                                                                 \
    "{\"id\": " id ", \"type\": " type ", \"member\": " member rest "}"

#define OK(name, body)                                                                             \
    {                                                                                              \
        name, body, 1, NULL, NULL, 0, 0                                                            \
    }
#define OK_AT(name, body, at)                                                                      \
    {                                                                                              \
        name, body, 1, NULL, NULL, at, 1                                                           \
    }
#define BAD(name, body, code, s)                                                                   \
    {                                                                                              \
        name, body, 0, code, s, 0, 0                                                               \
    }

/* An event with the three required fields and rest appended inside the object. */
#define ANN(rest) EV("\"o-1\"", "\"order\"", "\"ann\"", rest)

static const struct parse_case parse_cases[] = {
    OK("minimal", ANN("")),
    OK("id of every allowed character", EV("\"Az09._:@+-\"", "\"order\"", "\"ann\"", "")),
    OK("128-char id", EV("\"" ID128 "\"", "\"order\"", "\"ann\"", "")),
    OK("64-char type", EV("\"o-1\"", "\"" TYPE64 "\"", "\"ann\"", "")),
    OK_AT("at as RFC 3339", ANN(", \"at\": \"2026-11-25T08:30:00Z\""), T_MORNING),
    OK_AT("at as integer ms", ANN(", \"at\": 1795595400000"), T_MORNING),
    OK_AT("at 0", ANN(", \"at\": 0"), 0),
    OK_AT("at the last ms of 9999", ANN(", \"at\": 253402300799999"), 253402300799999LL),
    OK("at null means not given", ANN(", \"at\": null")),
    OK("data null means empty", ANN(", \"data\": null")),
    OK("data an object", ANN(", \"data\": {\"a\": [1, {\"b\": null}]}")),

    BAD("missing id", "{\"type\": \"order\", \"member\": \"ann\"}", "bad_request", "\"id\""),
    BAD("missing type", "{\"id\": \"o-1\", \"member\": \"ann\"}", "bad_request", "\"type\""),
    BAD("missing member", "{\"id\": \"o-1\", \"type\": \"order\"}", "bad_request", "\"member\""),
    BAD("id is a number", EV("12", "\"order\"", "\"ann\"", ""), "bad_request", "\"id\""),
    BAD("type is null", EV("\"o-1\"", "null", "\"ann\"", ""), "bad_request", "\"type\""),
    BAD("member is an object", EV("\"o-1\"", "\"order\"", "{}", ""), "bad_request", "\"member\""),
    BAD("member is an array", EV("\"o-1\"", "\"order\"", "[\"ann\"]", ""), "bad_request",
        "\"member\""),
    BAD("empty id", EV("\"\"", "\"order\"", "\"ann\"", ""), "bad_request", "\"id\""),
    BAD("id with a space", EV("\"o 1\"", "\"order\"", "\"ann\"", ""), "bad_request", "\"id\""),
    BAD("id with {", EV("\"o{1\"", "\"order\"", "\"ann\"", ""), "bad_request", "\"id\""),
    BAD("id with }", EV("\"o}1\"", "\"order\"", "\"ann\"", ""), "bad_request", "\"id\""),
    BAD("id with /", EV("\"o/1\"", "\"order\"", "\"ann\"", ""), "bad_request", "\"id\""),
    BAD("id with non-ASCII", EV("\"caf\\u00e9\"", "\"order\"", "\"ann\"", ""), "bad_request",
        "\"id\""),
    BAD("129-char id", EV("\"" ID129 "\"", "\"order\"", "\"ann\"", ""), "bad_request", "\"id\""),
    BAD("member with {", EV("\"o-1\"", "\"order\"", "\"{ann}\"", ""), "bad_request", "\"member\""),
    BAD("129-char member", EV("\"o-1\"", "\"order\"", "\"" ID129 "\"", ""), "bad_request",
        "\"member\""),
    BAD("uppercase type", EV("\"o-1\"", "\"Order\"", "\"ann\"", ""), "bad_request", "\"type\""),
    BAD("type with :", EV("\"o-1\"", "\"order:x\"", "\"ann\"", ""), "bad_request", "\"type\""),
    BAD("65-char type", EV("\"o-1\"", "\"" TYPE65 "\"", "\"ann\"", ""), "bad_request", "\"type\""),
    BAD("unknown field", ANN(", \"amount\": 5"), "bad_request", "\"amount\""),
    BAD("at not a time", ANN(", \"at\": \"yesterday\""), "bad_request", "\"at\""),
    BAD("at without zone", ANN(", \"at\": \"2026-11-25T08:30:00\""), "bad_request", "\"at\""),
    BAD("at a real number", ANN(", \"at\": 1.5"), "bad_request", "\"at\""),
    BAD("at a boolean", ANN(", \"at\": true"), "bad_request", "\"at\""),
    BAD("at negative", ANN(", \"at\": -1"), "bad_request", "\"at\""),
    BAD("at before 1970", ANN(", \"at\": \"1969-12-31T23:59:59Z\""), "bad_request", "\"at\""),
    BAD("at after 9999", ANN(", \"at\": 253402300800000"), "bad_request", "\"at\""),
    BAD("data an array", ANN(", \"data\": []"), "bad_request", "\"data\""),
    BAD("data a string", ANN(", \"data\": \"x\""), "bad_request", "\"data\""),
    BAD("body an array", "[1, 2]", "bad_request", "object"),
    BAD("body a bare string", "\"order\"", "bad_json", "JSON"),
    BAD("bad JSON", "{\"id\": ", "bad_json", "JSON"),
    BAD("empty body", "", "bad_json", "JSON"),
    BAD("trailing garbage", ANN("") " x", "bad_json", "JSON"),
    BAD("duplicate key",
        "{\"id\": \"o-1\", \"id\": \"o-2\", \"type\": \"order\", \"member\": \"ann\"}", "bad_json",
        "duplicate"),
};

static void test_parse_table(void **state)
{
    int failures = 0;
    (void)state;
    for (size_t i = 0; i < N(parse_cases); i++) {
        const struct parse_case *c = &parse_cases[i];
        pc_event ev;
        pc_error err = {0};
        int rc = pc_event_parse(c->body, strlen(c->body), &ev, &err);
        if (c->ok) {
            if (rc != 0) {
                print_error("case \"%s\": rejected with %d %s \"%s\"\n", c->name, err.status,
                            err.code, err.message);
                failures++;
            } else if (!json_is_object(pc_event_data(&ev)) || ev.at_given != c->at_given ||
                       (c->at_given && ev.at_ms != c->at_ms)) {
                print_error("case \"%s\": data=%p at_given=%d at_ms=%lld, want object, %d, %lld\n",
                            c->name, (void *)pc_event_data(&ev), ev.at_given, (long long)ev.at_ms,
                            c->at_given, (long long)c->at_ms);
                failures++;
            }
            if (rc == 0)
                pc_event_clear(&ev);
            continue;
        }
        if (rc != -1 || err.status != 400 || !err.code || strcmp(err.code, c->code) != 0 ||
            !strstr(err.message, c->substr)) {
            print_error("case \"%s\": rc=%d status=%d code=%s message=\"%s\"; want -1, 400, %s "
                        "and a message with %s\n",
                        c->name, rc, err.status, err.code ? err.code : "(null)", err.message,
                        c->code, c->substr);
            failures++;
        }
        if (rc == 0)
            pc_event_clear(&ev);
        else if (ev.data || ev.doc) {
            print_error("case \"%s\": a rejected event still holds data\n", c->name);
            failures++;
        }
    }
    assert_int_equal(failures, 0);
}

struct valid_case {
    const char *s;
    int id_ok;
    int name_ok;
};

static const struct valid_case valid_cases[] = {
    {"ann", 1, 1},
    {"order", 1, 1},
    {"a.b_c-d", 1, 1},
    {"Ann", 1, 0},
    {"ann@example.com", 1, 0},
    {"user:42", 1, 0},
    {"a+b", 1, 0},
    {"0", 1, 1},
    {"", 0, 0},
    {"a b", 0, 0},
    {" ann", 0, 0},
    {"ann\n", 0, 0},
    {"a/b", 0, 0},
    {"{ann}", 0, 0},
    {"a}", 0, 0},
    {"a*", 0, 0},
    {"a\"b", 0, 0},
    {"caf\xc3\xa9", 0, 0},
    {"\xff", 0, 0},
    {TYPE64, 1, 1},
    {TYPE65, 1, 0},
    {ID128, 1, 0},
    {ID129, 0, 0},
};

static void test_valid_id_and_name(void **state)
{
    int failures = 0;
    (void)state;
    for (size_t i = 0; i < N(valid_cases); i++) {
        const struct valid_case *c = &valid_cases[i];
        int id = pc_valid_id(c->s), name = pc_valid_name(c->s);
        if (id != c->id_ok || name != c->name_ok) {
            print_error("case \"%.40s\" (%zu chars): pc_valid_id=%d pc_valid_name=%d, want %d %d\n",
                        c->s, strlen(c->s), id, name, c->id_ok, c->name_ok);
            failures++;
        }
    }
    assert_int_equal(failures, 0);
}

/* pc_event_from_json borrows its object: the event keeps its own reference to data. */
static void test_from_json_borrows(void **state)
{
    json_error_t jerr;
    json_t *obj = json_loads("{\"id\": \"o-1\", \"type\": \"order\", \"member\": \"ann\", "
                             "\"data\": {\"amount\": 3}}",
                             0, &jerr);
    pc_event ev;
    pc_error err = {0};
    (void)state;

    assert_non_null(obj);
    assert_int_equal(pc_event_from_json(obj, &ev, &err), 0);
    json_decref(obj);
    assert_int_equal(json_integer_value(json_object_get(pc_event_data(&ev), "amount")), 3);
    pc_event_clear(&ev);

    assert_int_equal(pc_event_from_json(NULL, &ev, &err), -1);
    assert_int_equal(err.status, 400);

    /* JSON text cannot carry a NUL here (jansson refuses \u0000), but an object built in C
     * can: an id with an embedded NUL must not pass as its prefix. */
    obj = json_pack("{s:s%, s:s, s:s}", "id", "o\0x", (size_t)3, "type", "order", "member", "ann");
    assert_non_null(obj);
    assert_int_equal(pc_event_from_json(obj, &ev, &err), -1);
    assert_int_equal(err.status, 400);
    assert_non_null(strstr(err.message, "\"id\""));
    json_decref(obj);
}

/* The digest as it was first computed (json_pack + json_dumps): stored records must keep matching.
 */
static void reference_digest(const pc_event *ev, char out[65])
{
    json_t *canon = json_pack("{s:s, s:s, s:s, s:s, s:O}", "id", ev->id, "type", ev->type, "member",
                              ev->member, "partner", ev->partner, "data", pc_event_data(ev));
    char *text;
    if (ev->at_given)
        json_object_set_new(canon, "at", json_integer(ev->at_ms));
    text = json_dumps(canon, JSON_COMPACT | JSON_SORT_KEYS);
    pc_sha256_hex(text, strlen(text), out);
    free(text);
    json_decref(canon);
}

static void test_digest_as_before(void **state)
{
    static const char *const bodies[] = {
        "{\"id\":\"o-1\",\"type\":\"order\",\"member\":\"ann\"}",
        "{\"id\":\"o-2\",\"type\":\"order\",\"member\":\"ann\",\"partner\":\"p.1\","
        "\"at\":\"2026-11-25T09:30:00.250+01:00\",\"data\":{\"zeta\":1,\"amount\":1250,"
        "\"items\":[{\"sku\":\"x\",\"category\":\"fuel\",\"a\":[3,{\"b\":1,\"a\":2}]}],"
        "\"ab\":true,\"a\":null,\"aa\":-2.5e-300,\"\":\"caf\\u00e9 \\\"q\\\" \\u0001\"}}",
        "{\"data\":{\"k9\":1,\"k10\":2,\"K\":3,\"k\":{},\"l\":[],\"m\":0.1,\"n\":1e300,"
        "\"o\":9223372036854775807},\"member\":\"m@x+y\",\"type\":\"visit\",\"id\":\"a:b\"}",
    };
    (void)state;
    for (size_t i = 0; i < N(bodies); i++) {
        pc_event ev;
        pc_error err = {0};
        char ours[65], theirs[65];
        if (pc_event_parse(bodies[i], strlen(bodies[i]), &ev, &err))
            fail_msg("case %zu: %s", i, err.message);
        pc_event_digest(&ev, ours);
        reference_digest(&ev, theirs);
        if (strcmp(ours, theirs))
            fail_msg("case %zu: digest %s, before %s", i, ours, theirs);
        pc_event_clear(&ev);
    }
}

/* pc_event_parse() takes and refuses what the long way does, with the same fields and errors. */
static void test_one_pass_as_the_long_way(void **state)
{
    static const char *const more[] = {
        "{}",
        " {\"id\" : \"a\" ,\"type\":\"t\", \"member\":\"m\" } \n",
        "{\"\\u0069d\":\"a\\u0062\",\"type\":\"t\",\"member\":\"m\"}",
        "{\"id\":\"a\",\"type\":\"t\",\"member\":\"m\",\"partner\":null,\"at\":null,\"data\":null}",
        "{\"id\":\"a\",\"type\":\"t\",\"member\":\"m\",\"partner\":\"p.q\",\"at\":0}",
        "{\"id\":\"a\",\"type\":\"t\",\"member\":\"m\",\"at\":253402300799999}",
        "{\"id\":\"a\",\"type\":\"t\",\"member\":\"m\",\"at\":253402300800000}",
        "{\"id\":\"a\",\"type\":\"t\",\"member\":\"m\",\"at\":-1}",
        "{\"id\":\"a\",\"type\":\"t\",\"member\":\"m\",\"at\":1.0}",
        "{\"id\":\"a\",\"type\":\"t\",\"member\":\"m\",\"at\":true}",
        "{\"id\":\"a\",\"type\":\"t\",\"member\":\"m\",\"at\":\"2026-11-25T09:30:00.250+01:00\"}",
        "{\"id\":\"a\",\"type\":\"t\",\"member\":\"m\",\"at\":\"2026-11-25T09:30:00."
        "25000000000000000"
        "00000000000000000000000000000000000000000000000Z\"}",
        "{\"id\":\"a\",\"type\":\"t\",\"member\":\"m\",\"at\":\"2026-11-25\"}",
        "{\"id\":\"a\",\"type\":\"t\",\"member\":\"m\",\"partner\":\"P\"}",
        "{\"id\":\"a\",\"type\":\"t\",\"member\":\"m\",\"partner\":7}",
        "{\"id\":\"a\",\"type\":\"t\",\"member\":\"m\",\"data\":[]}",
        "{\"id\":\"a\",\"type\":\"t\",\"member\":\"m\",\"data\":\"x\"}",
        "{\"id\":\"a\",\"type\":\"t\",\"member\":\"m\",\"data\":{\"a\":{\"b\":[1,2.5,\"\\n\"]}}}",
        "{\"id\":\"a\",\"type\":\"t\",\"member\":\"m\",\"data\":{\"a\":1,\"a\":2}}",
        "{\"id\":\"a\",\"type\":\"t\",\"member\":\"m\",\"data\":{},\"data\":{}}",
        "{\"id\":\"a\",\"type\":\"t\",\"member\":\"m\",\"at\":1,\"at\":1}",
        "{\"id\":\"a\",\"type\":\"t\",\"member\":\"m\",\"partner\":\"p\",\"partner\":\"p\"}",
        "{\"id\":\"a\",\"type\":\"t\",\"member\":\"m\",\"member\":\"m\"}",
        "{\"id\":\"a\",\"type\":\"t\",\"type\":\"t\",\"member\":\"m\"}",
        "{\"id\":\"a\",\"type\":\"t\",\"member\":\"m\",\"extra\":1}",
        "{\"extra\":1,\"extra\":2,\"id\":\"a\",\"type\":\"t\",\"member\":\"m\"}",
        "{\"id\":\"a\",\"type\":\"t\",\"member\":\"m\",\"i\\u0000d\":1}",
        "{\"id\":\"a\",\"type\":\"t\",\"member\":\"m\",}",
        "{\"id\":\"a\",\"type\":\"t\",\"member\":\"m\"} x",
        "{\"id\":\"a\",\"type\":\"t\",\"member\":\"m\"",
        "{\"id\":\"a\",\"type\":\"t\",\"member\":\"m\" \"at\":1}",
        "{\"id\":\"a b\",\"type\":\"t\",\"member\":\"m\"}",
        "{\"id\":\"\",\"type\":\"t\",\"member\":\"m\"}",
        "{\"id\":\"a\",\"type\":\"t\",\"member\":\"caf\\u00e9\"}",
        "{\"id\":\"a\",\"type\":null,\"member\":\"m\"}",
        "{\"id\":\"a\",\"member\":\"m\"}",
        "{\"id\":\"" ID128 "\",\"type\":\"" TYPE64 "\",\"member\":\"" ID128 "\"}",
        "{\"id\":\"" ID129 "\",\"type\":\"t\",\"member\":\"m\"}",
        "{\"id\":\"a\",\"type\":\"" TYPE65 "\",\"member\":\"m\"}",
        "{\"id\":\"a\",\"type\":\"t\",\"member\":\"m\",\"partner\":\"" TYPE65 "\"}",
        "[{\"id\":\"a\",\"type\":\"t\",\"member\":\"m\"}]",
        "\"id\"",
        "",
    };
    int failures = 0;
    (void)state;
    for (size_t i = 0; i < N(parse_cases) + N(more); i++) {
        const char *body = i < N(parse_cases) ? parse_cases[i].body : more[i - N(parse_cases)];
        pc_event a, b;
        pc_error ea = {0}, eb = {0};
        int ra = pc_event_parse(body, strlen(body), &a, &ea);
        int rb = pc_event_parse_values(body, strlen(body), &b, &eb);
        char da[65] = "", db[65] = "";
        if (ra == 0 && rb == 0) {
            pc_event_digest(&a, da);
            pc_event_digest(&b, db);
        }
        if (ra != rb ||
            (ra && (ea.status != eb.status || strcmp(ea.code, eb.code) ||
                    strcmp(ea.message, eb.message))) ||
            (!ra &&
             (strcmp(a.id, b.id) || strcmp(a.type, b.type) || strcmp(a.member, b.member) ||
              strcmp(a.partner, b.partner) || a.at_given != b.at_given || a.at_ms != b.at_ms ||
              !json_equal(pc_event_data(&a), pc_event_data(&b)) || strcmp(da, db)))) {
            print_error("body %s: one pass %d %s, the long way %d %s\n", body, ra,
                        ra ? ea.message : a.id, rb, rb ? eb.message : b.id);
            failures++;
        }
        if (ra == 0)
            pc_event_clear(&a);
        if (rb == 0)
            pc_event_clear(&b);
    }
    assert_int_equal(failures, 0);
}

/*
 * A parsed body keeps its data as tokens: no jansson values until pc_event_data() asks,
 * then the values its text reads as (every JSON type), built once.
 */
static void test_data_as_tokens(void **state)
{
    static const char data[] =
        "{\"s\":\"caf\\u00e9 \\\"q\\\"\",\"i\":-12,\"big\":9223372036854775807,\"r\":2.5e-3,"
        "\"t\":true,\"f\":false,\"z\":null,\"a\":[1,\"two\",[3],{\"four\":4},[]],\"o\":{}}";
    char body[512];
    pc_event ev;
    pc_error err = {0};
    json_t *want = pc_json_parse(data, strlen(data), NULL), *got;
    (void)state;

    snprintf(body, sizeof body,
             "{\"id\":\"o-1\",\"type\":\"order\",\"member\":\"ann\",\"data\":%s}", data);
    assert_non_null(want);
    assert_int_equal(pc_event_parse(body, strlen(body), &ev, &err), 0);
    assert_non_null(ev.doc);
    assert_null(ev.data); /* nothing built yet */
    got = pc_event_data(&ev);
    assert_true(json_equal(got, want));
    assert_ptr_equal(pc_event_data(&ev), got); /* built once */
    assert_string_equal(pc_event_data_string(&ev, "s"), "caf\xc3\xa9 \"q\"");
    assert_null(pc_event_data_string(&ev, "i"));
    assert_null(pc_event_data_string(&ev, "four")); /* not at the top */
    assert_null(pc_event_data_string(&ev, "missing"));
    pc_event_clear(&ev);
    assert_null(ev.data);
    assert_null(ev.doc);
    json_decref(want);

    /* No data: an empty object, and no string in it. */
    snprintf(body, sizeof body, "{\"id\":\"o-1\",\"type\":\"order\",\"member\":\"ann\"}");
    assert_int_equal(pc_event_parse(body, strlen(body), &ev, &err), 0);
    assert_null(pc_event_data_string(&ev, "s"));
    assert_true(json_is_object(pc_event_data(&ev)));
    assert_int_equal(json_object_size(pc_event_data(&ev)), 0);
    pc_event_clear(&ev);
}

/* pc_event_data_string() finds every top-level string of a wide object, tokens or values. */
static void test_data_string_lookup(void **state)
{
    char body[4096];
    size_t len;
    (void)state;
    len = (size_t)snprintf(body, sizeof body,
                           "{\"id\":\"a\",\"type\":\"t\",\"member\":\"m\",\"data\":{");
    for (int k = 0; k < 40; k++)
        len += (size_t)snprintf(body + len, sizeof body - len, "%s\"%c%d\":\"v%d\"", k ? "," : "",
                                "zyxa"[k % 4], k, k);
    len += (size_t)snprintf(body + len, sizeof body - len, ",\"n\":1,\"\":\"empty\"}}");
    for (int way = 0; way < 2; way++) {
        pc_event ev;
        pc_error err = {0};
        int rc = way ? pc_event_parse_values(body, len, &ev, &err)
                     : pc_event_parse(body, len, &ev, &err);
        assert_int_equal(rc, 0);
        for (int k = 0; k < 40; k++) {
            char key[16], want[16];
            const char *got;
            snprintf(key, sizeof key, "%c%d", "zyxa"[k % 4], k);
            snprintf(want, sizeof want, "v%d", k);
            got = pc_event_data_string(&ev, key);
            if (!got || strcmp(got, want))
                fail_msg("way %d key %s: %s, want %s", way, key, got ? got : "NULL", want);
        }
        assert_string_equal(pc_event_data_string(&ev, ""), "empty");
        assert_null(pc_event_data_string(&ev, "n"));
        assert_null(pc_event_data_string(&ev, "z"));
        assert_null(pc_event_data_string(&ev, "z00"));
        pc_event_clear(&ev);
    }
}

/*
 * The digest of one request is the same whichever way it came (one pass: tokens; the long
 * way and an event built from values: jansson's; spacing and key order aside), and differs
 * when anything in it does.
 */
static void test_digest_routes(void **state)
{
    static const char *const same[] = {
        "{\"id\":\"o-1\",\"type\":\"order\",\"member\":\"ann\",\"at\":5,"
        "\"data\":{\"items\":[{\"category\":\"fuel\",\"amount\":500,\"x\":1.5}],\"b\":\"\\n\"}}",
        " { \"data\" : { \"b\" : \"\\u000a\" , \"items\" : [ { \"x\" : 15e-1 , \"amount\" : 500 ,"
        " \"category\" : \"f\\u0075el\" } ] } , \"at\" : 5 , \"member\" : \"ann\" ,"
        " \"type\" : \"order\" , \"id\" : \"o-1\" } ",
    };
    static const char *const other[] = {
        "{\"id\":\"o-1\",\"type\":\"order\",\"member\":\"ann\",\"at\":5,"
        "\"data\":{\"items\":[{\"category\":\"fuel\",\"amount\":501,\"x\":1.5}],\"b\":\"\\n\"}}",
        "{\"id\":\"o-1\",\"type\":\"order\",\"member\":\"ann\",\"at\":5,"
        "\"data\":{\"items\":[{\"category\":\"fuel\",\"amount\":500,\"y\":1.5}],\"b\":\"\\n\"}}",
        "{\"id\":\"o-1\",\"type\":\"order\",\"member\":\"ann\",\"at\":5,"
        "\"data\":{\"items\":[{\"category\":\"fuel\",\"amount\":500,\"x\":1.5}],\"b\":\"\\t\"}}",
        "{\"id\":\"o-1\",\"type\":\"order\",\"member\":\"ann\",\"at\":5,"
        "\"data\":{\"items\":[{\"category\":\"fuel\",\"amount\":500,\"x\":1.5}]}}",
        "{\"id\":\"o-1\",\"type\":\"order\",\"member\":\"ann\","
        "\"data\":{\"items\":[{\"category\":\"fuel\",\"amount\":500,\"x\":1.5}],\"b\":\"\\n\"}}",
        "{\"id\":\"o-1\",\"type\":\"order\",\"member\":\"bob\",\"at\":5,"
        "\"data\":{\"items\":[{\"category\":\"fuel\",\"amount\":500,\"x\":1.5}],\"b\":\"\\n\"}}",
        "{\"id\":\"o-1\",\"type\":\"order\",\"member\":\"ann\",\"at\":5,"
        "\"data\":{\"items\":[{\"category\":\"fuel\",\"amount\":500,\"x\":1.5},[]],\"b\":\"\\n\"}}",
    };
    char first[65] = "";
    (void)state;
    for (size_t i = 0; i < N(same) + N(other); i++) {
        const char *body = i < N(same) ? same[i] : other[i - N(same)];
        char d[3][65];
        pc_event ev;
        pc_error err = {0};
        json_t *obj = pc_json_parse(body, strlen(body), NULL);
        assert_non_null(obj);
        assert_int_equal(pc_event_parse(body, strlen(body), &ev, &err), 0);
        assert_non_null(ev.doc);
        pc_event_digest(&ev, d[0]);
        pc_event_clear(&ev);
        assert_int_equal(pc_event_parse_values(body, strlen(body), &ev, &err), 0);
        assert_null(ev.doc);
        pc_event_digest(&ev, d[1]);
        pc_event_clear(&ev);
        assert_int_equal(pc_event_from_json(obj, &ev, &err), 0); /* the batch's long way, money */
        pc_event_digest(&ev, d[2]);
        pc_event_clear(&ev);
        json_decref(obj);
        if (strcmp(d[0], d[1]) || strcmp(d[0], d[2]))
            fail_msg("body %zu: tokens %s, values %s, from_json %s", i, d[0], d[1], d[2]);
        if (i == 0)
            strcpy(first, d[0]);
        else if (i < N(same) ? strcmp(first, d[0]) != 0 : strcmp(first, d[0]) == 0)
            fail_msg("body %zu: digest %s, the first's %s", i, d[0], first);
    }
}

/* Data nested as deep as jsonr reads converts; one level deeper is refused, alike both ways. */
static void test_deep_data(void **state)
{
    enum { LEVELS = 2060 };
    char *body = malloc(LEVELS * 2 + 128);
    (void)state;
    /* The body is depth 1, data 2, then arrays: 2046 arrays reach jsonr's 2048. */
    for (int arrays = 2044; arrays <= 2050; arrays++) {
        size_t len =
            (size_t)sprintf(body, "{\"id\":\"a\",\"type\":\"t\",\"member\":\"m\",\"data\":{\"a\":");
        pc_event a, b;
        pc_error ea = {0}, eb = {0};
        int ra, rb;
        memset(body + len, '[', (size_t)arrays);
        memset(body + len + arrays, ']', (size_t)arrays);
        len += 2 * (size_t)arrays;
        len += (size_t)sprintf(body + len, "}}");
        ra = pc_event_parse(body, len, &a, &ea);
        rb = pc_event_parse_values(body, len, &b, &eb);
        if (ra != rb || ra != (arrays > 2046 ? -1 : 0) ||
            (ra && (strcmp(ea.code, eb.code) || strcmp(ea.message, eb.message) ||
                    !strstr(ea.message, "maximum parsing depth reached"))))
            fail_msg("%d arrays: one pass %d %s, the long way %d %s", arrays, ra, ea.message, rb,
                     eb.message);
        if (!ra) {
            char da[65], db[65];
            pc_event_digest(&a, da);
            pc_event_digest(&b, db);
            assert_string_equal(da, db);
            assert_true(json_equal(pc_event_data(&a), pc_event_data(&b)));
            pc_event_clear(&a);
            pc_event_clear(&b);
        }
    }
    free(body);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid_event_fields), cmocka_unit_test(test_digest_as_before),
        cmocka_unit_test(test_parse_table),        cmocka_unit_test(test_valid_id_and_name),
        cmocka_unit_test(test_from_json_borrows),  cmocka_unit_test(test_one_pass_as_the_long_way),
        cmocka_unit_test(test_data_as_tokens),     cmocka_unit_test(test_data_string_lookup),
        cmocka_unit_test(test_digest_routes),      cmocka_unit_test(test_deep_data),
    };
    return cmocka_run_group_tests_name("event", tests, NULL, NULL);
}
