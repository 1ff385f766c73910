/*
 * Offers and promo codes in running punchd processes on one Redis: a code's
 * cap raced by many members through two punchd gives exactly its uses; once
 * per member, renewed after its period (event times); a reversal gives a use
 * back, to the member and to the cap, once; a window, a minimum order and
 * another member's personal code are refused with their reasons; GET
 * /v1/offers and /v1/offers/{name} count what the events said.
 */
#include "harness.h"
#include "harness_run.h"

#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static tmpredis redis;
static punchd_proc punchd;
static char *scripts;

static const char codes_lua[] =
    "offer 'launch' { code = 'LAUNCH-7', discount = {percent = 50}, cap = 7 }\n"
    "offer 'summer' { code = ' ÉtÉ-10 ☀ ', discount = {amount = 100}, min_order = 1000,\n"
    "  from = '2026-01-01', to = '2026-11-01', once_per_member = true, renew_every = '30d' }\n"
    "offer 'duo' { code = 'DUO', discount = {percent = 10}, cap = 1 }\n"
    "offer 'vip' { personal = true, discount = {percent = 20} }\n"
    "offer 'open' { code = 'OPEN', discount = {percent = 5} }\n"
    "offer 'fragile' { code = 'FRAGILE', discount = {amount = 10}, cap = 1 }\n"
    "mechanic 'fragile' { on = 'fragile', run = function(ev, m)\n"
    "  m:redeem_code('fragile', 100)\n"
    "  if ev.data.fail then error('the order failed') end\n"
    "end }\n"
    "mechanic 'codes' { on = 'order', run = function(ev, m)\n"
    "  if ev.data.code then m:redeem_code(ev.data.code, ev.data.total) end\n"
    "end }\n"
    "mechanic 'vip' { on = 'vip', run = function(ev, m) return message(m:issue_code('vip')) end "
    "}\n";

static int group_setup(void **state)
{
    scripts = h_scripts_copy();
    h_write_file(scripts, "codes.lua", codes_lua);
    if (h_stack_start(&redis, &punchd, scripts, 0, NULL))
        return -1;
    return h_stack_on_cluster() ? -1 : 0; /* a second punchd below speaks to the one Redis */
}

static int group_teardown(void **state)
{
    h_stack_stop(&redis, &punchd, scripts);
    return 0;
}

/* An order of member with code and total at time at (RFC 3339), explained; the response. */
static json_t *order(const char *id, const char *member, const char *code, int total,
                     const char *at, long want_status)
{
    json_t *body = json_pack("{s:s, s:s, s:s, s:s, s:{s:s, s:i}}", "id", id, "type", "order",
                             "member", member, "at", at, "data", "code", code, "total", total);
    char *text = json_dumps(body, 0);
    http_resp r;
    json_t *out;
    assert_int_equal(h_http(punchd.port, "POST", "/v1/events?explain=1", text, &r), 0);
    if (r.status != want_status)
        fail_msg("order %s: %ld %s", id, r.status, r.body);
    out = json_incref(r.json);
    h_resp_free(&r);
    free(text);
    json_decref(body);
    return out;
}

/* The discount outcome of a response, or NULL. */
static json_t *discount_of(json_t *resp)
{
    json_t *o;
    size_t i;
    json_array_foreach(json_object_get(resp, "outcomes"), i, o) {
        if (!strcmp(json_string_value(json_object_get(o, "kind")), "discount"))
            return o;
    }
    return NULL;
}

/* The reason the mechanic "codes" gave (explain), or "". */
static const char *reason_of(json_t *resp)
{
    json_t *t;
    size_t i;
    json_array_foreach(json_object_get(resp, "explain"), i, t) {
        const char *r = json_string_value(json_object_get(t, "reason"));
        if (!strcmp(json_string_value(json_object_get(t, "mechanic")), "codes") && r)
            return r;
    }
    return "";
}

static void expect_refused(json_t *resp, const char *why)
{
    if (discount_of(resp) || !strstr(reason_of(resp), why))
        fail_msg("expected a refusal saying '%s': %s", why, json_dumps(resp, 0));
    json_decref(resp);
}

static void expect_granted(json_t *resp, long long off)
{
    json_t *d = discount_of(resp);
    if (!d || json_integer_value(json_object_get(d, "off")) != off)
        fail_msg("expected a discount of %lld: %s", off, json_dumps(resp, 0));
    json_decref(resp);
}

static json_t *get_json(const char *path)
{
    http_resp r;
    json_t *j;
    assert_int_equal(h_http(punchd.port, "GET", path, NULL, &r), 0);
    if (r.status != 200)
        fail_msg("GET %s: %ld %s", path, r.status, r.body);
    j = json_incref(r.json);
    h_resp_free(&r);
    return j;
}

static long reverse(const char *event, const char *member, const char *id, http_resp *r)
{
    char path[256], body[256];
    snprintf(path, sizeof path, "/v1/events/%s/reverse", event);
    if (id)
        snprintf(body, sizeof body, "{\"member\":\"%s\",\"id\":\"%s\"}", member, id);
    else
        snprintf(body, sizeof body, "{\"member\":\"%s\"}", member);
    assert_int_equal(h_http(punchd.port, "POST", path, body, r), 0);
    return r->status;
}

typedef struct sender {
    int port, n;
    char **bodies;
    http_resp *outs;
} sender;

static void *send_all(void *arg)
{
    sender *s = arg;
    h_http_parallel(s->port, "/v1/events", (const char *const *)s->bodies, s->n, s->outs);
    return NULL;
}

static void a_cap_raced_through_two_punchd_gives_exactly_its_uses(void **state)
{
    enum { HALF = 20 };
    const char *const extra[] = {"--workers", "2", NULL};
    punchd_proc other;
    char *bodies[2 * HALF];
    http_resp outs[2 * HALF];
    sender a = {punchd.port, HALF, bodies, outs}, b = {0, HALF, bodies + HALF, outs + HALF};
    pthread_t ta, tb;
    int granted = 0;
    json_t *o;

    assert_int_equal(h_punchd_start(&other, redis.socket, scripts, extra, NULL), 0);
    b.port = other.port;
    for (int i = 0; i < 2 * HALF; i++)
        if (asprintf(&bodies[i],
                     "{\"id\":\"race-%d\",\"type\":\"order\",\"member\":\"racer%d\","
                     "\"data\":{\"code\":\"launch-7\",\"total\":200}}",
                     i, i) < 0)
            fail();
    pthread_create(&ta, NULL, send_all, &a);
    pthread_create(&tb, NULL, send_all, &b);
    pthread_join(ta, NULL);
    pthread_join(tb, NULL);
    for (int i = 0; i < 2 * HALF; i++) {
        if (outs[i].status != 200)
            fail_msg("race-%d: %ld %s", i, outs[i].status, outs[i].body);
        granted += discount_of(outs[i].json) != NULL;
        h_resp_free(&outs[i]);
        free(bodies[i]);
    }
    assert_int_equal(h_punchd_stop(&other), 0);
    assert_int_equal(granted, 7);
    o = get_json("/v1/offers/launch");
    assert_int_equal(json_integer_value(json_object_get(o, "uses")), 7);
    assert_int_equal(json_integer_value(json_object_get(o, "left")), 0);
    assert_int_equal(json_integer_value(json_object_get(o, "discount")), 7 * 100);
    json_decref(o);
}

static void once_per_member_renews_after_its_period(void **state)
{
    /* ASCII letters ignore case; É is matched as it is; spaces around are dropped. */
    expect_granted(order("s-1", "ann", "ÉTÉ-10 ☀", 1500, "2026-03-01T10:00:00Z", 200), 100);
    expect_refused(order("s-2", "ann", "ÉtÉ-10 ☀", 1500, "2026-03-20T10:00:00Z", 200),
                   "was used by this member already; it renews at 2026-03-31 10:00 UTC");
    expect_granted(order("s-3", "bo", "ÉTÉ-10 ☀ ", 1500, "2026-03-20T10:00:00Z", 200), 100);
    expect_granted(order("s-4", "ann", "ÉTÉ-10 ☀", 1500, "2026-03-31T10:00:00Z", 200), 100);
    expect_refused(order("s-5", "ann", "été-10 ☀", 1500, "2026-05-31T10:00:00Z", 200),
                   "unknown code ");
}

static void a_window_a_minimum_and_bad_codes_are_refused_with_reasons(void **state)
{
    expect_refused(order("w-1", "cy", "ÉTÉ-10 ☀", 1500, "2025-12-31T23:00:00Z", 200),
                   "is not valid before 2026-01-01 00:00 UTC");
    expect_refused(order("w-2", "cy", "ÉTÉ-10 ☀", 1500, "2026-11-01T00:00:00Z", 200),
                   "ended at 2026-11-01 00:00 UTC");
    expect_refused(order("w-3", "cy", "ÉTÉ-10 ☀", 999, "2026-06-01T00:00:00Z", 200),
                   "needs an order of 1000 or more");
    expect_refused(order("w-4", "cy", "DUO\x01", 999, "2026-06-01T00:00:00Z", 200),
                   "not a valid code: a code holds no control characters");
    expect_refused(order("w-5", "cy", "NOPE", 999, "2026-06-01T00:00:00Z", 200),
                   "unknown code NOPE");
    /* A dry run only looks: it answers with the discount and takes no use. */
    {
        http_resp r;
        assert_int_equal(
            h_http(punchd.port, "POST", "/v1/events?dry_run=1",
                   "{\"id\":\"dry-1\",\"type\":\"order\",\"member\":\"zed\",\"at\":"
                   "\"2026-06-01T00:00:00Z\",\"data\":{\"code\":\"ÉTÉ-10 ☀\",\"total\":1500}}",
                   &r),
            0);
        assert_int_equal(r.status, 200);
        assert_non_null(discount_of(r.json));
        h_resp_free(&r);
    }
    /* Nothing of the refusals (or the dry run) was counted. */
    json_t *o = get_json("/v1/offers/summer");
    assert_int_equal(json_integer_value(json_object_get(o, "uses")), 3);
    json_decref(o);
}

static void a_reversal_gives_the_code_back_once(void **state)
{
    http_resp r;
    json_t *o;
    expect_granted(order("d-1", "dan", "duo", 1000, "2026-06-01T10:00:00Z", 200), 100);
    expect_refused(order("d-2", "eve", "duo", 1000, "2026-06-01T10:01:00Z", 200),
                   "code DUO is used up (all 1 uses are taken)");
    /* The reversal gives the use back to the cap (and dan's once, had it one). */
    assert_int_equal(reverse("d-1", "dan", NULL, &r), 200);
    if (!strstr(r.body, "\"code_returned\""))
        fail_msg("no code_returned: %s", r.body);
    h_resp_free(&r);
    o = get_json("/v1/offers/duo");
    assert_int_equal(json_integer_value(json_object_get(o, "uses")), 0);
    assert_int_equal(json_integer_value(json_object_get(o, "returned")), 1);
    json_decref(o);
    expect_granted(order("d-3", "eve", "duo", 1000, "2026-06-01T10:02:00Z", 200), 100);
    /* A second whole reversal of d-1 under another id gives nothing back again. */
    assert_int_equal(reverse("d-1", "dan", "again-d-1", &r), 422);
    h_resp_free(&r);
    expect_refused(order("d-4", "fay", "duo", 1000, "2026-06-01T10:03:00Z", 200), "is used up");

    /* Once per member: a reversed use lets the member use the code again at once. */
    expect_granted(order("s-10", "gus", "ÉTÉ-10 ☀", 1500, "2026-06-01T10:00:00Z", 200), 100);
    expect_refused(order("s-11", "gus", "ÉTÉ-10 ☀", 1500, "2026-06-01T11:00:00Z", 200),
                   "was used by this member already");
    assert_int_equal(reverse("s-10", "gus", NULL, &r), 200);
    h_resp_free(&r);
    expect_granted(order("s-12", "gus", "ÉTÉ-10 ☀", 1500, "2026-06-01T12:00:00Z", 200), 100);
}

/* An event that fails after using a code gives the use back at once (its claim is released). */
static void a_failed_event_gives_its_use_back(void **state)
{
    http_resp r;
    json_t *o;
    assert_int_equal(h_event(punchd.port,
                             "{\"id\":\"f-1\",\"type\":\"fragile\",\"member\":\"lou\","
                             "\"data\":{\"fail\":true}}",
                             &r),
                     422);
    h_resp_free(&r);
    o = get_json("/v1/offers/fragile");
    assert_int_equal(json_integer_value(json_object_get(o, "left")), 1);
    json_decref(o);
    assert_int_equal(
        h_event(punchd.port, "{\"id\":\"f-2\",\"type\":\"fragile\",\"member\":\"max\"}", &r), 200);
    assert_non_null(discount_of(r.json));
    h_resp_free(&r);
}

static void a_personal_code_is_for_its_member_only(void **state)
{
    http_resp r;
    char code[128], sent[160];
    assert_int_equal(
        h_event(punchd.port, "{\"id\":\"v-1\",\"type\":\"vip\",\"member\":\"hal\"}", &r), 200);
    json_t *m = json_array_get(json_object_get(r.json, "outcomes"), 0);
    snprintf(code, sizeof code, "%s", json_string_value(json_object_get(m, "code")));
    h_resp_free(&r);
    assert_true(!strncmp(code, "VIP-", 4) && strlen(code) == 12);
    snprintf(sent, sizeof sent, "%s", code);
    expect_refused(order("v-2", "ivy", sent, 1000, "2026-06-01T10:00:00Z", 200),
                   "is not one of this member's codes");
    expect_granted(order("v-3", "hal", sent, 1000, "2026-06-01T10:00:00Z", 200), 200);
    expect_refused(order("v-4", "hal", sent, 1000, "2026-06-01T10:01:00Z", 200),
                   "was used already");
    /* Reversed, the personal code is the member's to use again. */
    assert_int_equal(reverse("v-3", "hal", NULL, &r), 200);
    h_resp_free(&r);
    expect_granted(order("v-5", "hal", sent, 1000, "2026-06-01T10:02:00Z", 200), 200);
}

static void the_catalogue_counts_what_the_events_said(void **state)
{
    json_t *all = get_json("/v1/offers"), *list = json_object_get(all, "offers"), *o;
    const char *names[] = {"duo", "fragile", "launch", "open", "summer", "vip"};
    const long long uses[] = {1, 1, 7, 0, 4, 1}, off[] = {100, 10, 700, 0, 400, 200};
    assert_int_equal(json_array_size(list), 6);
    for (size_t i = 0; i < 6; i++) {
        o = json_array_get(list, i);
        assert_string_equal(json_string_value(json_object_get(o, "offer")), names[i]);
        if (json_integer_value(json_object_get(o, "uses")) != uses[i] ||
            json_integer_value(json_object_get(o, "discount")) != off[i])
            fail_msg("%s: %s", names[i], json_dumps(o, 0));
    }
    o = json_array_get(list, 4);
    assert_string_equal(json_string_value(json_object_get(o, "code")), "ÉTÉ-10 ☀");
    assert_string_equal(json_string_value(json_object_get(o, "from")), "2026-01-01T00:00:00.000Z");
    assert_string_equal(json_string_value(json_object_get(o, "renew_every")), "30d");
    assert_true(json_is_null(json_object_get(o, "left")));
    json_decref(all);
    /* The member shows their codes: gus's last use of summer, hal's personal code. */
    json_t *gus = get_json("/v1/members/gus"), *hal = get_json("/v1/members/hal"), *c;
    assert_string_equal(json_string_value(json_object_get(
                            json_object_get(json_object_get(gus, "offers"), "summer"), "event")),
                        "s-12");
    c = json_object_iter_value(json_object_iter(json_object_get(hal, "codes")));
    assert_string_equal(json_string_value(json_object_get(c, "offer")), "vip");
    assert_string_equal(json_string_value(json_object_get(c, "event")), "v-5");
    json_decref(gus);
    json_decref(hal);
    http_resp r;
    assert_int_equal(h_http(punchd.port, "GET", "/v1/offers/nope", NULL, &r), 0);
    assert_int_equal(r.status, 404);
    h_resp_free(&r);
}

/* The offers' figures of GET /v1/stats have landed (they are written after the commits). */
static int stats_landed(void *arg)
{
    http_resp r;
    int ok = 0;
    (void)arg;
    if (h_http(punchd.port, "GET", "/v1/stats?from=2026-06-01&to=2026-06-01", NULL, &r) == 0 &&
        r.status == 200) {
        json_t *duo =
            json_object_get(json_object_get(json_object_get(r.json, "offers"), "total"), "duo");
        ok = json_integer_value(json_object_get(duo, "returned")) == 1;
    }
    h_resp_free(&r);
    return ok;
}

static void the_figures_count_uses_and_discount_granted(void **state)
{
    json_t *st, *offers, *day, *total;
    assert_int_equal(h_wait_until(stats_landed, NULL, 5000), 1);
    st = get_json("/v1/stats?from=2026-06-01&to=2026-06-01");
    offers = json_object_get(st, "offers");
    day = json_object_get(json_object_get(offers, "days"), "2026-06-01");
    total = json_object_get(offers, "total");
    /* d-1 and d-3 used DUO that day (d-1 was reversed later, at the clock's now). */
    assert_int_equal(json_integer_value(json_object_get(json_object_get(day, "duo"), "uses")), 2);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(day, "duo"), "discount")),
                     200);
    const char *names[] = {"duo", "launch", "summer", "vip"};
    const long long uses[] = {2, 7, 5, 2}, returned[] = {1, 0, 1, 1}, off[] = {200, 700, 500, 400},
                    back[] = {100, 0, 100, 200};
    for (size_t i = 0; i < 4; i++) {
        json_t *o = json_object_get(total, names[i]);
        if (json_integer_value(json_object_get(o, "uses")) != uses[i] ||
            json_integer_value(json_object_get(o, "returned")) != returned[i] ||
            json_integer_value(json_object_get(o, "discount")) != off[i] ||
            json_integer_value(json_object_get(o, "discount_returned")) != back[i])
            fail_msg("%s: %s", names[i], json_dumps(o, 0));
    }
    /* The offers are not currencies. */
    assert_null(json_object_get(json_object_get(st, "total"), "@duo"));
    json_decref(st);
    /* Per month too, as the other figures: June's days summed. */
    st = get_json("/v1/stats?from=2026-06-01&to=2026-06-30&per=month");
    day = json_object_get(
        json_object_get(json_object_get(json_object_get(st, "offers"), "periods"), "2026-06"),
        "duo");
    assert_int_equal(json_integer_value(json_object_get(day, "uses")), 2);
    assert_int_equal(json_integer_value(json_object_get(day, "discount")), 200);
    json_decref(st);
}

/* punch simulate counts the uses and the discount of a history, through the same caps. */
static void simulate_reports_uses_and_discount_per_offer(void **state)
{
    char hist[512];
    FILE *f;
    h_proc_out out;
    json_t *rep, *offers;
    snprintf(hist, sizeof hist, "%s/history.jsonl", scripts);
    assert_non_null(f = fopen(hist, "w"));
    for (int i = 0; i < 10; i++)
        fprintf(f,
                "{\"type\":\"order\",\"member\":\"sim%d\",\"at\":\"2026-03-01T10:00:00Z\","
                "\"data\":{\"code\":\"LAUNCH-7\",\"total\":200}}\n",
                i);
    for (int i = 0; i < 2; i++)
        fprintf(f,
                "{\"type\":\"order\",\"member\":\"ann\",\"at\":\"2026-03-0%dT10:00:00Z\","
                "\"data\":{\"code\":\"ÉTÉ-10 ☀\",\"total\":1500}}\n",
                i + 1);
    fclose(f);
    const char *argv[] = {PUNCH_PATH,  "simulate", "--json", "--per", "month",
                          "--scripts", scripts,    hist,     NULL};
    assert_int_equal(h_run(argv, NULL, NULL, 60000, &out), 0);
    if (out.status != 0 || !(rep = json_loads(out.out, 0, NULL)))
        fail_msg("punch simulate: %d\n%s\n%s", out.status, out.out, out.err);
    offers = json_object_get(json_object_get(json_object_get(rep, "scripts"), "figures"), "offers");
    if (json_integer_value(json_object_get(json_object_get(offers, "launch"), "uses")) != 7 ||
        json_integer_value(json_object_get(json_object_get(offers, "launch"), "discount")) != 700 ||
        json_integer_value(json_object_get(json_object_get(offers, "summer"), "uses")) != 1 ||
        json_integer_value(json_object_get(json_object_get(offers, "summer"), "discount")) != 100)
        fail_msg("offers: %s", json_dumps(offers, 0));
    /* Per month too, as the other figures. */
    offers =
        json_object_get(json_object_get(json_object_get(json_object_get(rep, "scripts"), "figures"),
                                        "offers_per_period"),
                        "2026-03");
    if (json_integer_value(json_object_get(json_object_get(offers, "launch"), "uses")) != 7 ||
        json_integer_value(json_object_get(json_object_get(offers, "summer"), "discount")) != 100)
        fail_msg("offers per month: %s", json_dumps(offers, 0));
    json_decref(rep);
    h_proc_out_free(&out);
    unlink(hist);
}

/*
 * Some items of an order that used a code are reversed: what they earned is
 * taken back (the mechanics re-run on just those items, without the code),
 * and the code stays used: the order stands.
 */
static void a_partial_reversal_keeps_the_code(void **state)
{
    http_resp r;
    json_t *o;
    const char *order_json =
        "{\"id\":\"p-1\",\"type\":\"order\",\"member\":\"kim\",\"at\":"
        "\"2026-06-01T00:00:00Z\",\"data\":{\"code\":\"open\",\"total\":625,\"items\":["
        "{\"category\":\"fuel\",\"amount\":500},{\"category\":\"shop\",\"amount\":125}]}}";
    assert_int_equal(h_event(punchd.port, order_json, &r), 200);
    assert_non_null(discount_of(r.json));
    h_resp_free(&r);
    assert_int_equal(h_http(punchd.port, "POST", "/v1/events/p-1/reverse",
                            "{\"member\":\"kim\",\"id\":\"p-1-fuel\",\"items\":["
                            "{\"category\":\"fuel\",\"amount\":500}]}",
                            &r),
                     0);
    if (r.status != 200 || strstr(r.body, "code_returned"))
        fail_msg("partial reversal: %ld %s", r.status, r.body);
    h_resp_free(&r);
    o = get_json("/v1/offers/open");
    assert_int_equal(json_integer_value(json_object_get(o, "uses")), 1);
    assert_int_equal(json_integer_value(json_object_get(o, "returned")), 0);
    json_decref(o);
}

/* POST /v1/offers/{name}/codes: the answer, checked for status; the body kept. */
static json_t *add_codes(const char *offer, const char *body, long want)
{
    char path[128];
    http_resp r;
    json_t *out;
    snprintf(path, sizeof path, "/v1/offers/%s/codes", offer);
    assert_int_equal(h_http(punchd.port, "POST", path, body, &r), 0);
    if (r.status != want)
        fail_msg("POST %s: %ld %s", path, r.status, r.body);
    out = json_incref(r.json);
    h_resp_free(&r);
    return out;
}

static long long field(json_t *j, const char *k)
{
    return json_integer_value(json_object_get(j, k));
}

/* Personal codes declared through the API: each member's own, used once, a batch once. */
static void codes_declared_through_the_api_are_the_members(void **state)
{
    static const char batch[] = "{\"codes\": [{\"code\": \"gold-1\", \"member\": \"zoe\"}, "
                                "{\"code\": \" gold-2 \", \"member\": \"zoe\"}, "
                                "{\"code\": \"Gold-3\", \"member\": \"yan\"}]}";
    char big[64 * 1024];
    size_t at;
    json_t *j = add_codes("vip", batch, 200);
    assert_int_equal(field(j, "added"), 3);
    assert_int_equal(field(j, "held"), 0);
    assert_int_equal(field(j, "failed"), 0);
    assert_int_equal(json_array_size(json_object_get(j, "members")), 2);
    json_decref(j);
    /* The same batch again changes nothing; another one adds only what is new. */
    j = add_codes("vip", batch, 200);
    assert_int_equal(field(j, "added"), 0);
    assert_int_equal(field(j, "held"), 3);
    json_decref(j);
    j = add_codes("vip",
                  "{\"codes\": [{\"code\": \"GOLD-1\", \"member\": \"zoe\"}, {\"code\": "
                  "\"gold-4\", \"member\": \"zoe\"}]}",
                  200);
    assert_int_equal(field(j, "added"), 1);
    assert_int_equal(field(j, "held"), 1);
    json_decref(j);
    j = get_json("/v1/members/zoe");
    assert_int_equal(json_object_size(json_object_get(j, "codes")), 3);
    json_decref(j);
    /* zoe's code works for zoe, once; not for yan. */
    expect_granted(order("g-1", "zoe", "gold-1", 1000, "2026-06-02T10:00:00Z", 200), 200);
    expect_refused(order("g-2", "zoe", "GOLD-1", 1000, "2026-06-02T10:01:00Z", 200),
                   "was used already");
    expect_refused(order("g-3", "yan", "gold-1", 1000, "2026-06-02T10:02:00Z", 200),
                   "unknown code");
    expect_granted(order("g-4", "yan", "gold-3", 1000, "2026-06-02T10:03:00Z", 200), 200);
    /* Refused: an offer with a shared code, an unknown one, bad codes and members, too many. */
    json_decref(add_codes("launch", batch, 400)); /* members for a shared offer */
    json_decref(add_codes("nope", batch, 404));
    json_decref(
        add_codes("vip", "{\"codes\": [{\"code\": \"a\\u0007b\", \"member\": \"zoe\"}]}", 400));
    json_decref(add_codes("vip", "{\"codes\": [{\"code\": \"ok\", \"member\": \"no one\"}]}", 400));
    json_decref(add_codes("vip", "{\"codes\": []}", 400));
    json_decref(add_codes("vip", "{\"codes\": [\"X\"]}", 400));
    at = (size_t)snprintf(big, sizeof big, "{\"codes\": [");
    for (int i = 0; i < 1001; i++)
        at += (size_t)snprintf(big + at, sizeof big - at, "%s{\"code\":\"c%d\",\"member\":\"m%d\"}",
                               i ? "," : "", i, i);
    snprintf(big + at, sizeof big - at, "]}");
    json_decref(add_codes("vip", big, 400));
    j = get_json("/v1/members/yan");
    assert_int_equal(json_object_size(json_object_get(j, "codes")), 1);
    json_decref(j);
}

/* Shared codes added through the API: more codes of an offer, for every member, kept in Redis. */
static void shared_codes_added_through_the_api_work_for_everyone(void **state)
{
    static const char batch[] = "{\"codes\": [{\"code\": \"open-2\"}, {\"code\": \"open\"}, "
                                "{\"code\": \"launch-7\"}, {\"code\": \"Open-2\"}]}";
    json_t *j = add_codes("open", batch, 200);
    assert_int_equal(field(j, "added"), 1);
    assert_int_equal(field(j, "held"), 1); /* its own declared code */
    assert_int_equal(json_array_size(json_object_get(j, "taken")), 1);
    assert_string_equal(json_string_value(json_array_get(json_object_get(j, "taken"), 0)),
                        "LAUNCH-7");
    json_decref(j);
    j = add_codes("open", batch, 200);
    assert_int_equal(field(j, "added"), 0);
    assert_int_equal(field(j, "held"), 2);
    json_decref(j);
    /* Another offer cannot take it. */
    j = add_codes("summer", "{\"codes\": [{\"code\": \"OPEN-2\"}]}", 200);
    assert_int_equal(field(j, "added"), 0);
    assert_int_equal(json_array_size(json_object_get(j, "taken")), 1);
    json_decref(j);
    /* Any member uses it, under the offer's own rules; a dry run only looks. */
    expect_granted(order("s2-1", "una", "open-2", 1000, "2026-06-03T10:00:00Z", 200), 50);
    expect_granted(order("s2-2", "val", " OPEN-2 ", 1000, "2026-06-03T10:01:00Z", 200), 50);
    expect_refused(order("s2-3", "val", "open-3", 1000, "2026-06-03T10:02:00Z", 200),
                   "unknown code OPEN-3");
    json_decref(add_codes("open", "{\"codes\": [{\"code\": \"x\", \"member\": \"val\"}]}", 400));
    j = get_json("/v1/offers/open");
    assert_int_equal(json_integer_value(json_object_get(j, "uses")), 3); /* kim's too */
    json_decref(j);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(a_cap_raced_through_two_punchd_gives_exactly_its_uses),
        cmocka_unit_test(once_per_member_renews_after_its_period),
        cmocka_unit_test(a_window_a_minimum_and_bad_codes_are_refused_with_reasons),
        cmocka_unit_test(a_reversal_gives_the_code_back_once),
        cmocka_unit_test(a_failed_event_gives_its_use_back),
        cmocka_unit_test(a_personal_code_is_for_its_member_only),
        cmocka_unit_test(the_catalogue_counts_what_the_events_said),
        cmocka_unit_test(the_figures_count_uses_and_discount_granted),
        cmocka_unit_test(simulate_reports_uses_and_discount_per_offer),
        cmocka_unit_test(a_partial_reversal_keeps_the_code),
        cmocka_unit_test(codes_declared_through_the_api_are_the_members),
        cmocka_unit_test(shared_codes_added_through_the_api_work_for_everyone),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
