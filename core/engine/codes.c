/*
 * Codes declared through the API (POST /v1/offers/{name}/codes, query.h).
 * Personal ones, each for one member, of an offer declared `personal = true`:
 * each member's share of the batch is one internal event "codes" (id "codes:"
 * + a digest of the offer and those codes), applied by the member's own
 * transaction: written in the member's hash as m:issue_code writes a code (so
 * m:redeem_code takes it), exactly once, and a batch sent again answers the
 * same (its events are duplicates). Shared ones, of an offer that is not
 * personal: in NS:{codes}:shared (code -> offer, codes_add.lua), which
 * m:redeem_code reads for a code it does not know.
 */
#include "engine-internal.h"
#include "offers.h"
#include "punchcard/query.h"
#include "model/offer-internal.h"
#include "store/ops-internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CODES_BATCH_MAX  1000   /* codes in one request */
#define CODES_MEMBER_MAX 100    /* personal codes one member holds (as m:issue_code) */
#define CODES_SHARED_MAX 100000 /* shared codes added through the API, all offers together */

/* ---- the member's side: the internal event "codes" (builtin.c) ---- */

int offers_add_codes(const pc_event *ev, member_state *m, const mechset *set, pc_error *err)
{
    const char *offer = json_string_value(json_object_get(pc_event_data(ev), "offer"));
    json_t *decl = offer ? json_object_get(mechset_offers(set), offer) : NULL, *c;
    size_t i;
    if (!decl || !json_is_true(json_object_get(decl, "personal")))
        return pc_fail(err, 422, "rejected", "offer %s is not declared with personal = true",
                       offer ? offer : "?");
    json_array_foreach(json_object_get(pc_event_data(ev), "codes"), i, c) {
        const char *code = json_string_value(c);
        member_code mc;
        if (!code)
            continue;
        if (member_code_get(m, code, &mc) == 0) {
            if (strcmp(mc.offer, offer))
                return pc_fail(err, 422, "rejected",
                               "code %s is already this member's code of offer %s", code, mc.offer);
            continue; /* held already: nothing to add */
        }
        if (member_code_count(m, NULL) >= CODES_MEMBER_MAX)
            return pc_fail(err, 422, "rejected", "member %s holds %d personal codes already", m->id,
                           CODES_MEMBER_MAX);
        memset(&mc, 0, sizeof mc);
        pc_copy(mc.offer, sizeof mc.offer, offer);
        mc.issued_ms = ev->at_ms;
        if (member_code_set(m, code, &mc) ||
            !member_add_outcome(
                m, "codes",
                json_pack("{s:s, s:s, s:s}", "kind", "code", "offer", offer, "code", code)))
            return pc_fail(err, 500, "internal", "out of memory");
    }
    return 0;
}

/* ---- POST /v1/offers/{name}/codes ---- */

typedef struct codes_add {
    engine *e;
    engine_done_fn *done;
    void *arg;
    char offer[PC_TYPE_MAX + 1];
    json_t *results; /* one per member, in the order of their first code */
    size_t waiting;
    int started;
} codes_add;

static void codes_finish(codes_add *q)
{
    json_int_t added = 0, held = 0, failed = 0;
    json_t *r;
    size_t i;
    /* Called inside a member event's done callback: that event's text is not this answer. */
    const char *outer = q->e->answer_text;
    q->e->answer_text = NULL;
    json_array_foreach(q->results, i, r) {
        added += json_integer_value(json_object_get(r, "added"));
        held += json_integer_value(json_object_get(r, "held"));
        failed += json_integer_value(json_object_get(r, "status")) != 200;
    }
    q->done(q->arg, 200,
            json_pack("{s:s, s:I, s:I, s:I, s:O}", "offer", q->offer, "added", added, "held", held,
                      "failed", failed, "members", q->results));
    q->e->answer_text = outer;
    json_decref(q->results);
    free(q);
}

typedef struct codes_member {
    codes_add *q;
    size_t index;
} codes_member;

static void on_member_done(void *arg, int status, json_t *body)
{
    codes_member *cm = arg;
    codes_add *q = cm->q;
    json_t *r = json_array_get(q->results, cm->index), *o;
    size_t i, n = 0;
    json_object_set_new(r, "status", json_integer(status));
    if (status == 200 && json_is_true(json_object_get(body, "duplicate"))) {
        /* The same batch sent before: nothing added now. */
        json_object_set_new(r, "added", json_integer(0));
        json_object_set_new(r, "held",
                            json_integer((json_int_t)json_array_size(json_object_get(r, "codes"))));
    } else if (status == 200) {
        json_array_foreach(json_object_get(body, "outcomes"), i, o) {
            const char *kind = json_string_value(json_object_get(o, "kind"));
            n += kind && !strcmp(kind, "code");
        }
        json_object_set_new(r, "added", json_integer((json_int_t)n));
        json_object_set_new(
            r, "held",
            json_integer((json_int_t)(json_array_size(json_object_get(r, "codes")) - n)));
    } else {
        json_object_set(r, "error", json_object_get(body, "error"));
    }
    json_decref(body);
    free(cm);
    if (--q->waiting == 0 && q->started)
        codes_finish(q);
}

/* 0 with the member's row in rows[member] (made or found), or -1 with err. */
static int add_code(json_t *rows, json_t *order, json_t *shared, int personal, json_t *item,
                    pc_error *err)
{
    const char *member = json_string_value(json_object_get(item, "member"));
    const char *code = json_string_value(json_object_get(item, "code"));
    char norm[OFFER_CODE_MAX + 1];
    const char *why;
    json_t *row, *codes, *c;
    size_t i;
    if (!json_is_object(item) || json_object_size(item) != (personal ? 2u : 1u) || !code ||
        (personal && !member))
        return pc_fail(err, 400, "bad_request",
                       personal ? "each code of a personal offer is {\"code\": string, "
                                  "\"member\": member id}"
                                : "each code of a shared offer is {\"code\": string}, for no "
                                  "member (the offer is not declared personal = true)");
    if (personal && !pc_valid_id(member))
        return pc_fail(err, 400, "bad_request", "member must be 1-128 of A-Z a-z 0-9 . _ : @ + -");
    if (offer_code_normalize(code, strlen(code), norm, &why))
        return pc_fail(err, 400, "bad_request", "not a valid code: %s", why);
    if (!personal) {
        json_array_foreach(shared, i, c)
            if (!strcmp(json_string_value(c), norm))
                return 0;
        return json_array_append_new(shared, json_string(norm))
                   ? pc_fail(err, 500, "internal", "out of memory")
                   : 0;
    }
    if (!(row = json_object_get(rows, member))) {
        row = json_pack("{s:s, s:[]}", "member", member, "codes");
        if (!row || json_object_set_new(rows, member, row) || json_array_append(order, row))
            return pc_fail(err, 500, "internal", "out of memory");
    }
    codes = json_object_get(row, "codes");
    json_array_foreach(codes, i, c)
        if (!strcmp(json_string_value(c), norm))
            return 0;
    if (json_array_size(codes) >= CODES_MEMBER_MAX)
        return pc_fail(err, 400, "bad_request", "at most %d codes for one member",
                       CODES_MEMBER_MAX);
    return json_array_append_new(codes, json_string(norm))
               ? pc_fail(err, 500, "internal", "out of memory")
               : 0;
}

static int cmp_strings(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* "codes:" + 32 hex of SHA-256 of the offer and the member's codes, sorted. */
static int batch_id(const char *offer, json_t *codes, char *out, size_t n)
{
    size_t k = json_array_size(codes), len = strlen(offer) + 1;
    const char **v = calloc(k ? k : 1, sizeof *v);
    char *text, hex[65];
    if (!v)
        return -1;
    for (size_t i = 0; i < k; i++) {
        v[i] = json_string_value(json_array_get(codes, i));
        len += strlen(v[i]) + 1;
    }
    qsort(v, k, sizeof *v, cmp_strings);
    if (!(text = malloc(len + 1))) {
        free(v);
        return -1;
    }
    len = (size_t)sprintf(text, "%s\n", offer);
    for (size_t i = 0; i < k; i++)
        len += (size_t)sprintf(text + len, "%s\n", v[i]);
    pc_sha256_hex(text, len, hex);
    free(text);
    free(v);
    snprintf(out, n, "codes:%.32s", hex);
    return 0;
}

/* ---- shared codes ---- */

typedef struct shared_add {
    engine_done_fn *done;
    void *arg;
    char offer[PC_TYPE_MAX + 1];
    json_int_t held; /* the offer's own declared code, sent again */
    json_t *taken;   /* codes another offer holds (declared or added) */
} shared_add;

/* A list of the script's answer ({} when empty, as cjson encodes an empty table), appended. */
static void append_list(json_t *to, json_t *list)
{
    json_t *c;
    size_t i;
    json_array_foreach(list, i, c)
        json_array_append(to, c);
}

static void on_shared_added(void *arg, const store_error *err, const char *text, size_t len)
{
    shared_add *q = arg;
    json_t *j = text ? json_loadb(text, len, 0, NULL) : NULL, *full = json_array();
    pc_error e;
    if (err || !j || !full) {
        if (err)
            store_error_fail(err, &e);
        else
            pc_fail(&e, 500, "internal", "unexpected answer of codes_add");
        q->done(q->arg, e.status, pc_error_json(&e));
    } else {
        append_list(q->taken, json_object_get(j, "taken"));
        append_list(full, json_object_get(j, "full"));
        q->done(q->arg, 200,
                json_pack("{s:s, s:I, s:I, s:i, s:[], s:O, s:O}", "offer", q->offer, "added",
                          json_integer_value(json_object_get(j, "added")), "held",
                          json_integer_value(json_object_get(j, "held")) + q->held, "failed", 0,
                          "members", "taken", q->taken, "full", full));
    }
    json_decref(j);
    json_decref(full);
    json_decref(q->taken);
    free(q);
}

/* Shared codes (normalized, borrowed) of offer: the declared codes settled here, the rest in
 * Redis. */
static void add_shared(engine *e, const mechset *set, const char *offer, json_t *codes,
                       engine_done_fn *done, void *arg)
{
    shared_add *q = calloc(1, sizeof *q);
    const char **v = calloc(json_array_size(codes) + 1, sizeof *v);
    json_t *offers = mechset_offers(set), *c, *d;
    size_t i, n = 0;
    const char *k;
    if (!q || !v || !(q->taken = json_array())) {
        free(q);
        free(v);
        engine_answer_oom(done, arg);
        return;
    }
    q->done = done;
    q->arg = arg;
    pc_copy(q->offer, sizeof q->offer, offer);
    json_array_foreach(codes, i, c) {
        const char *code = json_string_value(c), *owner = NULL;
        json_object_foreach(offers, k, d) {
            const char *dc = json_string_value(json_object_get(d, "code"));
            if (dc && !strcmp(dc, code))
                owner = k;
        }
        if (!owner)
            v[n++] = code;
        else if (!strcmp(owner, offer))
            q->held++;
        else
            json_array_append(q->taken, c);
    }
    store_codes_add(e->store, e->ns, offer, v, n, CODES_SHARED_MAX, on_shared_added, q);
    free(v);
}

void engine_add_codes(engine *e, const char *offer, json_t *body, engine_done_fn *done, void *arg)
{
    json_t *list = json_object_get(body, "codes"), *rows = json_object(), *item;
    mechset *set = mech_holder_acquire(e->holder);
    json_t *decl = set ? json_object_get(mechset_offers(set), offer) : NULL;
    codes_add *q = NULL;
    pc_error err;
    size_t i;
    json_t *shared = json_array();
    int personal = json_is_true(json_object_get(decl, "personal"));
    if (!shared || !rows || !(q = calloc(1, sizeof *q)) || !(q->results = json_array())) {
        pc_fail(&err, 500, "internal", "out of memory");
        goto fail;
    }
    if (!pc_valid_name(offer) || !decl) {
        pc_fail(&err, 404, "not_found", "no such offer (declare it with offer \"%s\" {...})",
                pc_valid_name(offer) ? offer : "name");
        goto fail;
    }
    if (!json_is_object(body) || json_object_size(body) != 1 || !json_is_array(list) ||
        json_array_size(list) == 0 || json_array_size(list) > CODES_BATCH_MAX) {
        pc_fail(&err, 400, "bad_request",
                "the body is {\"codes\": [{\"code\", \"member\"}, ...]} (a member for each "
                "code of a personal offer, none for a shared one) with 1 to 1000 codes");
        goto fail;
    }
    json_array_foreach(list, i, item)
        if (add_code(rows, q->results, shared, personal, item, &err))
            goto fail;
    json_decref(rows);
    rows = NULL;
    if (!personal) {
        add_shared(e, set, offer, shared, done, arg);
        json_decref(shared);
        json_decref(q->results);
        free(q);
        mechset_unref(set);
        return;
    }
    json_decref(shared);
    mechset_unref(set);
    shared = NULL;
    set = NULL;
    q->e = e;
    q->done = done;
    q->arg = arg;
    pc_copy(q->offer, sizeof q->offer, offer);
    /* Every member's event goes to the engine at once; the answer comes when the last ends. */
    q->waiting = json_array_size(q->results);
    json_array_foreach(q->results, i, item) {
        codes_member *cm = calloc(1, sizeof *cm);
        pc_event ev = {0};
        json_t *codes = json_object_get(item, "codes");
        if (!cm || batch_id(offer, codes, ev.id, sizeof ev.id)) {
            free(cm);
            json_object_set_new(item, "status", json_integer(500));
            json_object_set_new(
                item, "error",
                json_pack("{s:s, s:s}", "code", "internal", "message", "out of memory"));
            q->waiting--;
            continue;
        }
        cm->q = q;
        cm->index = i;
        pc_copy(ev.type, sizeof ev.type, "codes");
        pc_copy(ev.member, sizeof ev.member, json_string_value(json_object_get(item, "member")));
        ev.at_ms = engine_now(e);
        ev.data = json_pack("{s:s, s:O}", "offer", offer, "codes", codes);
        engine_submit(e, &ev, on_member_done, cm);
    }
    q->started = 1;
    if (q->waiting == 0)
        codes_finish(q);
    return;
fail:
    mechset_unref(set);
    json_decref(shared);
    json_decref(rows);
    if (q)
        json_decref(q->results);
    free(q);
    done(arg, err.status, pc_error_json(&err));
}
