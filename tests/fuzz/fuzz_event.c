/*
 * libFuzzer target: the body of POST /v1/events, from bytes to a decided event.
 * pc_event_parse() (model/event.c) validates it; an event it accepts then runs
 * through a compiled set of mechanics (core/lua) against a fresh member, as
 * the engine would run it, minus Redis: ev.data crosses into Lua, mechanics
 * read it, earn from it and echo it back in a message outcome (Lua -> JSON),
 * and the member renders. An event of a type nobody handles runs as "order".
 *
 * Checks beyond "no crash, no UB, no leak": pc_event_parse()'s one pass takes
 * and refuses what the long way (jsonr's values, pc_event_from_json()) does, with the
 * same fields, digest and error (the data as tokens against jansson's values;
 * jsonr's tokens read what its values read, alike), and pc_json_span() ends a valid body where
 * the reader does; a refused body is a 400 with a
 * code and a message; an accepted one has valid id, type and member, an
 * object for data and a time in range; a failed run is a 422; outcomes and
 * the member always render as JSON.
 */
#include "lua/mechanics-internal.h"
#include "model/member-internal.h"
#include "punchcard/event.h"
#include "common/jsonr.h"
#include "punchcard/mechanics.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "fuzz_event: %s failed (line %d)\n", #cond, __LINE__);                 \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

/* Mechanics that read ev.data the ways the shipped scripts do, and hand it back. */
static const char program[] =
    "local rates = { fuel = 1, shop = 3 }\n"
    "mechanic \"fuel\" {\n"
    "  on = {\"order\", \"visit\"},\n"
    "  run = function(ev, m)\n"
    "    for _, item in ipairs(ev.data.items or {}) do\n"
    "      m:earn(\"stars\", item.amount // 10 * (rates[item.category] or 0))\n"
    "    end\n"
    "  end,\n"
    "}\n"
    "mechanic \"echo\" {\n"
    "  on = {\"order\", \"visit\", \"workout\"},\n"
    "  run = function(ev, m)\n"
    "    m:count(\"events\")\n"
    "    if ev.data.badge then m:badge(ev.data.badge) end\n"
    "    return message(\"echo\", {data = ev.data, id = ev.id, member = ev.member,\n"
    "                            at = ev.at_ms, partner = ev.partner})\n"
    "  end,\n"
    "}\n";

static mechset *set;

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    mech_source src = {"fuzz.lua", program, sizeof program - 1};
    mech_limits lim = {.memory = 8u << 20};
    pc_error err;
    (void)argc;
    (void)argv;
    pc_log_set_level(PC_LOG_ERROR);
    set = mechset_compile(&src, 1, &lim, &err);
    if (!set) {
        fprintf(stderr, "fuzz_event: the program does not compile: %s\n", err.message);
        abort();
    }
    return 0;
}

static void decide(pc_event *ev)
{
    member_state *m = member_new(ev->member);
    pc_error err = {0};
    json_t *j;
    char *text;

    CHECK(m);
    if (!mechset_handles(set, ev->type))
        strcpy(ev->type, "order");
    if (mechset_run(set, ev, m, &err) == 0) {
        text = json_dumps(member_outcomes_json(m), JSON_COMPACT);
        CHECK(text);
        free(text);
    } else {
        CHECK(err.status == 422 || err.status == 500);
        CHECK(err.code && err.message[0]);
    }
    j = member_to_json(m);
    CHECK(j);
    json_decref(j);
    member_free(m);
}

/*
 * pc_event_parse() reads the common case in one pass: the long way (jsonr's
 * values, then pc_event_from_json()) must take and refuse the same, alike.
 */
static void same_as_the_long_way(const uint8_t *data, size_t size, int rc, const pc_event *ev,
                                 const pc_error *err)
{
    pc_json_error jerr;
    json_t *obj = pc_json_parse((const char *)data, size, &jerr);
    pc_event slow;
    pc_error serr = {0};
    {
        /* jsonr's tokens (a request's data) take and refuse what its jansson values do, alike. */
        pc_jdoc *d = pc_jdoc_parse((const char *)data, size, NULL);
        CHECK(!d == !obj);
        if (d) {
            json_t *again = pc_jdoc_json(d, 0);
            CHECK(again && json_equal(again, obj));
            json_decref(again);
            pc_jdoc_free(d);
        }
    }
    if (!obj) {
        CHECK(rc && !strcmp(err->code, "bad_json"));
        return;
    }
    {
        /* pc_json_span() (the batch's one pass) ends a valid value where the reader does. */
        size_t at = 0, span, end = size;
        while (at < size && strchr(" \t\r\n", data[at]) && data[at])
            at++;
        while (end > at && strchr(" \t\r\n", data[end - 1]) && data[end - 1])
            end--;
        span = pc_json_span((const char *)data + at, size - at);
        CHECK(span == end - at);
    }
    if (pc_event_from_json(obj, &slow, &serr)) {
        CHECK(rc && serr.status == err->status && !strcmp(serr.message, err->message));
    } else {
        char a[65], b[65];
        CHECK(rc == 0);
        CHECK(!strcmp(slow.id, ev->id) && !strcmp(slow.type, ev->type));
        CHECK(!strcmp(slow.member, ev->member) && !strcmp(slow.partner, ev->partner));
        CHECK(slow.at_given == ev->at_given && slow.at_ms == ev->at_ms);
        CHECK(json_equal(slow.data, pc_event_data(ev)));
        pc_event_digest(&slow, a);
        pc_event_digest(ev, b);
        CHECK(!strcmp(a, b));
        pc_event_clear(&slow);
    }
    json_decref(obj);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    pc_event ev;
    pc_error err = {0};
    int rc = pc_event_parse((const char *)data, size, &ev, &err);

    same_as_the_long_way(data, size, rc, &ev, &err);
    if (rc) {
        CHECK(err.status == 400);
        CHECK(err.code && err.message[0]);
        CHECK(ev.data == NULL && ev.doc == NULL);
        return 0;
    }
    CHECK(pc_valid_id(ev.id) && pc_valid_id(ev.member) && pc_valid_name(ev.type));
    CHECK(!ev.partner[0] || pc_valid_name(ev.partner));
    CHECK(json_is_object(pc_event_data(&ev)));
    CHECK(!ev.at_given || (ev.at_ms >= 0 && ev.at_ms <= 253402300799999LL));
    if (!ev.at_given)
        ev.at_ms = 1795000000000LL; /* the engine's clock would say now */
    decide(&ev);
    pc_event_clear(&ev);
    return 0;
}
