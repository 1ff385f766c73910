/*
 * The event transaction (docs/architecture.md, "The event transaction"):
 *
 *   submit -> LOAD (dedupe + state, one round trip)
 *          -> decide (Lua, in memory; global operations reserved under claims)
 *          -> COMMIT (version check + all writes + stored response, atomic)
 *          -> on a version conflict, decide again on the state COMMIT returned
 *          -> confirm or release the claims; apply the effects; submit the
 *             follow-up events the effects return
 *
 * One member's events run one at a time in this process (mcache.h); the
 * commit's version check settles races between processes.
 */
#include "engine-internal.h"
#include "builtin.h"
#include "claims.h"
#include "effects.h"
#include "experiments.h"
#include "offers.h"
#include "outbox.h"
#include "resources.h"
#include "common/jsonr.h"
#include "model/segment-internal.h"
#include "common/jsonw-internal.h"
#include "store/ops-internal.h"

#include <event2/event.h>
#include <stdlib.h>
#include <string.h>

struct engine_call {
    engine *e;
    engine_done_fn *done;
    void *arg;
    int cancelled;
    int starting; /* inside the submitting function */
    int finished;
    pc_event ev;
    int flags;       /* enum engine_flags */
    member_state *m; /* the member being decided on */
    mechset *set;    /* the set this event started on; kept across retries */
    mech_run *run;   /* the mechanics deciding this event, while they run */
    claims *claims;  /* global reservations this event holds */
    int attempts;
    json_t *response;    /* the response as values (unless ENGINE_ANSWER_TEXT), or NULL */
    char *record;        /* the dedupe record the commit stored: [digest ' '] response */
    char *response_text; /* ... its response (inside record) */
    size_t response_len;
    int answer_ready;   /* response_text is the text of the body finish() answers with */
    mslot *slot;        /* this member's slot while the event holds it */
    engine_call *qnext; /* next call waiting on the same member */
    int from_cache;     /* decided on the cached state, without a load */
    int64_t committed;  /* the version this event's commit wrote, or 0 */
    char original_id[PC_ID_MAX + 1]; /* a reversal: the event it reverses, or "" */
    json_t *original;                /* ... its stored response as loaded, or NULL */
    json_t *groups;                  /* the member's experiment groups, or NULL (owned) */
    json_t *code_uses;   /* a whole reversal: the codes it gives back (offers.h), or NULL */
    size_t code_next;    /* ... the next to give back to its offer's cap */
    int codes_given;     /* ... something of them was given back */
    int discounts_given; /* a whole reversal: plain discounts given back (offers.h) */
    char digest[65];     /* ENGINE_IDEMPOTENT: the request's digest, kept in the dedupe record */
    json_t *segment;     /* a broadcast's segment (segment-internal.h): others are refused */
    char at[32];         /* the event's time as commit() wrote it (RFC 3339, UTC) */
};

static int64_t real_clock(void *arg)
{
    (void)arg;
    return pc_now_ms();
}

engine *engine_new(store *s, mech_holder *h, const engine_config *cfg)
{
    engine *e = calloc(1, sizeof *e);
    if (!e)
        return NULL;
    e->store = s;
    e->base = store_base(s);
    e->holder = h;
    snprintf(e->ns, sizeof e->ns, "%s", cfg && cfg->ns ? cfg->ns : "pc");
    e->dedupe_ttl_s = cfg && cfg->dedupe_ttl_s > 0 ? cfg->dedupe_ttl_s : 30 * 86400;
    e->max_attempts = cfg && cfg->max_attempts > 0 ? cfg->max_attempts : 8;
    e->max_response = cfg && cfg->max_response ? cfg->max_response : 1u << 20;
    e->max_outcomes = cfg ? cfg->max_outcomes : 0;
    e->max_keys = cfg ? cfg->max_keys : 0;
    e->claim_timeout_ms = cfg && cfg->claim_timeout_ms > 0 ? cfg->claim_timeout_ms : 120000;
    e->send_rate = cfg && cfg->send_rate > 0 ? cfg->send_rate : 1000;
    e->clock = cfg && cfg->clock ? cfg->clock : real_clock;
    e->clock_arg = cfg ? cfg->clock_arg : NULL;
    e->no_figures = cfg ? cfg->no_figures : 0;
    e->outbox = cfg ? cfg->outbox : 0;
    e->expiring_notice_ms =
        cfg && cfg->expiring_notice_ms > 0 ? cfg->expiring_notice_ms : 7 * 86400000LL;
    if (!(e->cache = mcache_new(cfg ? cfg->cache_members : 0))) {
        free(e);
        return NULL;
    }
    return e;
}

void engine_free(engine *e)
{
    if (!e)
        return;
    mcache_free(e->cache);
    json_decref(e->load_note);
    free(e);
}

int64_t engine_now(const engine *e)
{
    return e->clock(e->clock_arg);
}

const char *engine_answer_text(const engine *e, size_t *len)
{
    if (e->answer_text && len)
        *len = e->answer_len;
    return e->answer_text;
}

size_t engine_answer_outcomes(const engine *e, const char **type)
{
    if (type)
        *type = e->answer_outs ? e->answer_type : NULL;
    return e->answer_outs ? e->answer_nouts : 0;
}

const char *engine_answer_kind(const engine *e, size_t i)
{
    return e->answer_outs && i < e->answer_nouts ? member_outcome_kind(e->answer_outs[i]) : NULL;
}

int engine_redis_up(const engine *e)
{
    return store_ready(e->store);
}

void engine_redis_stats(const engine *e, store_stats *out)
{
    store_get_stats(e->store, out);
}

static void call_free(engine_call *c)
{
    json_decref(c->code_uses);
    json_decref(c->groups);
    json_decref(c->original);
    json_decref(c->segment);
    mech_run_free(c->run);
    claims_free(c->claims);
    pc_event_clear(&c->ev);
    member_free(c->m);
    mechset_unref(c->set);
    json_decref(c->response);
    free(c->record);
    free(c);
}

static void begin_event(engine_call *c);

static void on_next_in_line(evutil_socket_t fd, short what, void *arg)
{
    begin_event(arg);
}

/*
 * The event of c is over: keep what its commit left as the member's cached
 * state (or forget the state when the outcome is unknown), and hand the slot
 * to the next event of the member, on a fresh loop turn (no deep recursion).
 */
static void release_slot(engine_call *c, int status)
{
    engine *e = c->e;
    mslot *slot = c->slot;
    engine_call *next;

    c->slot = NULL;
    if (c->committed && c->m && member_settle(c->m, c->committed) == 0) {
        member_free(slot->state);
        slot->state = c->m;
        c->m = NULL;
    } else if (status >= 500 || status == 409) {
        /* Redis down or timed out: the commit may or may not have landed. */
        member_free(slot->state);
        slot->state = NULL;
    }
    next = slot->wait_head;
    if (next) {
        struct timeval now = {0, 0};
        slot->wait_head = next->qnext;
        if (!slot->wait_head)
            slot->wait_tail = NULL;
        next->qnext = NULL;
        if (event_base_once(e->base, -1, EV_TIMEOUT, on_next_in_line, next, &now) == 0)
            return;
        begin_event(next);
        return;
    }
    slot->busy = 0;
    mcache_release(e->cache, slot);
}

/* claims_end()'s way to give a claim back. */
static void release_claim(void *ctx, const claims *cs, const claim *cl)
{
    resources_release(cs->store, cs->ns, cl->op, cl->resource, cl->id, 0);
}

/* Reports the result (unless cancelled) and ends the call. Steals body. */
static void finish(engine_call *c, int status, json_t *body)
{
    /*
     * Keep what the commit used; give back what a dry run or a refused event
     * reserved; leave the rest (Redis failed mid-way, or another copy of the
     * event was applied with these very claims) to the sweeper.
     */
    if (c->claims) {
        enum claims_end how = CLAIMS_LEAVE;
        if (c->committed)
            how = CLAIMS_CONFIRM;
        else if ((c->flags & ENGINE_DRY_RUN) || (status >= 400 && status < 500))
            how = CLAIMS_RELEASE;
        claims_end(c->claims, how, release_claim, NULL);
    }
    /* A text answer's outcomes: taken from the member, kept past release_slot() for done. */
    member_outcome **outs = NULL;
    size_t nouts = 0;
    if (!body && c->answer_ready && c->m)
        member_outcomes_take(c->m, &outs, &nouts);
    if (c->slot)
        release_slot(c, status);
    if (c->cancelled) {
        json_decref(body);
    } else {
        /* engine_answer_*() while done runs (calls may nest: keep the outer one's). */
        engine *e = c->e;
        const char *outer = e->answer_text, *outer_type = e->answer_type;
        member_outcome *const *outer_outs = e->answer_outs;
        size_t outer_len = e->answer_len, outer_nouts = e->answer_nouts;
        static member_outcome *const none[1];
        e->answer_text = c->answer_ready ? c->response_text : NULL;
        e->answer_len = c->response_len;
        e->answer_outs = outs ? outs : !body && c->answer_ready && c->m ? none : NULL;
        e->answer_nouts = nouts;
        e->answer_type = c->ev.type;
        c->done(c->arg, status, body);
        e->answer_text = outer;
        e->answer_len = outer_len;
        e->answer_outs = outer_outs;
        e->answer_nouts = outer_nouts;
        e->answer_type = outer_type;
    }
    member_outcomes_free(outs, nouts);
    c->finished = 1;
    if (!c->starting)
        call_free(c);
}

static void finish_error(engine_call *c, const pc_error *err)
{
    finish(c, err->status, pc_error_json(err));
}

static void finish_err(engine_call *c, int status, const char *code, const char *msg)
{
    pc_error err;
    pc_fail(&err, status, code, "%s", msg);
    finish_error(c, &err);
}

/* The response of the event passes --max-response-bytes: refused, nothing applied. */
static void fail_too_large(engine_call *c, size_t len, size_t max)
{
    pc_error err;
    pc_fail(&err, 422, "event_too_large",
            "the event's response would be %zu bytes, more than %zu (--max-response-bytes)", len,
            max);
    finish_error(c, &err);
}

/* Redis failed (unavailable, full, refused): the event fails with what that means. */
static void finish_store_error(engine_call *c, const store_error *se)
{
    pc_error err;
    store_error_fail(se, &err);
    finish_error(c, &err);
}

/* Returns c, or NULL when it already finished during the submitting call. */
static engine_call *started(engine_call *c)
{
    c->starting = 0;
    if (c->finished) {
        call_free(c);
        return NULL;
    }
    return c;
}

void engine_cancel(engine_call *c)
{
    if (c)
        c->cancelled = 1;
}

/*
 * A dedupe record is the stored response, after "<request digest> " when the
 * event came with ENGINE_IDEMPOTENT: the JSON, and the digest (or "").
 */
static const char *record_json(const char *stored, size_t *len, char digest[65])
{
    digest[0] = '\0';
    if (*len > 65 && stored[64] == ' ' && stored[0] != '{') {
        memcpy(digest, stored, 64);
        digest[64] = '\0';
        *len -= 65;
        return stored + 65;
    }
    return stored;
}

/* The event was applied before: answer with its stored response, marked a duplicate. */
static void reply_duplicate(engine_call *c, const char *stored, size_t len)
{
    char digest[65];
    json_t *body;
    stored = record_json(stored, &len, digest);
    if (c->digest[0] && digest[0] && strcmp(c->digest, digest)) {
        pc_error err;
        pc_fail(&err, 422, "idempotency_mismatch",
                "event id \"%s\" was applied before with a different request; a retry must "
                "repeat it exactly, and a new request needs a new id",
                c->ev.id);
        finish_error(c, &err);
        return;
    }
    body = pc_json_parse(stored, len, NULL);
    if (!body) {
        finish_err(c, 500, "internal", "stored response is not JSON");
        return;
    }
    json_object_set_new(body, "duplicate", json_true());
    finish(c, 200, body);
}

/* c->m becomes the member as the hash state holds it. 0, or -1 when unreadable. */
static int load_state(engine_call *c, const store_pairs *state)
{
    member_free(c->m);
    c->m = member_new(c->ev.member);
    if (!c->m)
        return -1;
    if (state->n == 0)
        return 0;
    return member_load_pairs(c->m, state->n, state->v, state->len);
}

static void send_load(engine_call *c);
static void commit(engine_call *c);
static void step_decide(engine_call *c);

static void end_run(engine_call *c)
{
    mech_run_free(c->run);
    c->run = NULL;
}

static void on_global_done(void *arg, json_t *result, const pc_error *err)
{
    engine_call *c = arg;
    if (err && err->status != 422) {
        /* The store failed, not the mechanic: the event fails as a whole. */
        end_run(c);
        finish_error(c, err);
        return;
    }
    mech_run_reply(c->run, result, err ? err->message : NULL);
    step_decide(c);
}

/* The decision failed: answer with err, unless the load's dedupe should speak first. */
static void fail_decide(engine_call *c, const pc_error *err)
{
    end_run(c);
    if (c->from_cache) {
        /* Maybe a retry of an applied event: let the load's dedupe answer first. */
        c->from_cache = 0;
        send_load(c);
        return;
    }
    pc_log(PC_LOG_WARN, "event %s of %s: %s", c->ev.id, c->ev.member, err->message);
    finish_error(c, err);
}

/* Runs the mechanics until they finish, fail, or wait on a global operation. */
static void step_decide(engine_call *c)
{
    pc_error err;
    switch (mech_run_step(c->run, &err)) {
    case MECH_WAIT:
        if (c->from_cache) {
            /*
             * Reserve nothing before the load's dedupe has seen this id: a
             * retry of an applied event must not reserve again.
             */
            end_run(c);
            c->from_cache = 0;
            send_load(c);
            return;
        }
        resources_call(c->claims, mech_run_request(c->run), on_global_done, c);
        return;
    case MECH_DONE:
        end_run(c);
        json_decref(c->groups);
        c->groups = NULL;
        if (outbox_expiring(c->e, &c->ev, c->m)) {
            pc_fail(&err, 500, "internal", "out of memory");
            fail_decide(c, &err);
            return;
        }
        if (builtin_after(&c->ev, c->m, !c->e->no_figures, &err) ||
            experiments_after(c->set, &c->ev, c->m, !c->e->no_figures, &c->groups, &err)) {
            fail_decide(c, &err);
            return;
        }
        commit(c);
        return;
    default:
        fail_decide(c, &err);
    }
}

/* The mechanics decide (after the engine's own part). */
static void start_mechanics(engine_call *c)
{
    if (!(c->run = mech_run_start(c->set, &c->ev, c->m))) {
        finish_err(c, 500, "internal", "out of memory");
        return;
    }
    mech_run_set_caps(c->run, c->e->max_outcomes, c->e->max_keys);
    step_decide(c);
}

static void step_codes(engine_call *c);

static void on_code_returned(void *arg, json_t *result, const pc_error *err)
{
    engine_call *c = arg;
    json_t *use = json_array_get(c->code_uses, c->code_next);
    if (err) {
        if (err->status != 422)
            finish_error(c, err);
        else
            fail_decide(c, err);
        return;
    }
    if (offers_returned(c->m, use, json_is_true(result))) {
        finish_err(c, 500, "internal", "out of memory");
        return;
    }
    c->codes_given |= json_is_true(result) || json_is_true(json_object_get(use, "member_side"));
    c->code_next++;
    step_codes(c);
}

/*
 * A whole reversal gives the codes the reversed event used back to their
 * offers' caps, one global operation each (under the reversal's claims),
 * before the mechanics run.
 */
static void step_codes(engine_call *c)
{
    json_t *use = json_array_get(c->code_uses, c->code_next);
    if (use) {
        mech_request req = {.op = "offer_return"};
        req.args =
            json_pack("{s:O, s:O, s:O, s:I}", "offer", json_object_get(use, "offer"), "event",
                      json_object_get(use, "event"), "off", json_object_get(use, "off"), "ttl",
                      (json_int_t)c->e->dedupe_ttl_s + 86400);
        if (!req.args) {
            finish_err(c, 500, "internal", "out of memory");
            return;
        }
        resources_call(c->claims, &req, on_code_returned, c);
        json_decref(req.args);
        return;
    }
    if (json_array_size(c->code_uses) && !c->codes_given && !c->discounts_given) {
        /* Nothing earned was left to take back (builtin_before let it through for the codes),
         * and the codes were given back before. */
        int reversed = 0;
        for (size_t i = 0; i < c->m->nentries; i++)
            reversed |= c->m->entries[i].kind && !strcmp(c->m->entries[i].kind, "reverse");
        if (!reversed) {
            pc_error err;
            pc_fail(&err, 422, "nothing_to_reverse",
                    "event %s of %s earned nothing and its codes were given back already",
                    c->original_id, c->ev.member);
            fail_decide(c, &err);
            return;
        }
    }
    start_mechanics(c);
}

/* Decides the event on c->m (then commits it). */
static void decide_and_commit(engine_call *c)
{
    engine *e = c->e;
    pc_error err;
    if (!c->set && !(c->set = mech_holder_acquire(e->holder))) {
        finish_err(c, 503, "mechanics_unavailable",
                   "no mechanics are loaded (see GET /v1/mechanics for the error)");
        return;
    }
    json_decref(c->m->trace);
    c->m->trace = (c->flags & ENGINE_EXPLAIN) ? json_array() : NULL;
    json_decref(c->m->effects);
    c->m->effects = NULL;
    if (!c->claims &&
        !(c->claims = claims_new(e->store, e->ns, &c->ev, c->flags & ENGINE_DRY_RUN))) {
        finish_err(c, 500, "internal", "out of memory");
        return;
    }
    claims_attempt(c->claims);
    json_decref(c->code_uses);
    c->code_uses = NULL;
    c->code_next = 0;
    c->codes_given = 0;
    if (c->original && !strcmp(c->ev.type, "reverse") &&
        !(c->code_uses = offers_reverse_member(&c->ev, c->m, c->original))) {
        finish_err(c, 500, "internal", "out of memory");
        return;
    }
    if (c->segment && !segment_has(c->segment, c->m)) {
        /* Not a member of the broadcast's segment: refused quietly (the load's dedupe first). */
        if (c->from_cache) {
            c->from_cache = 0;
            send_load(c);
            return;
        }
        finish_err(c, 422, "not_in_segment", "the member is not in the broadcast's segment");
        return;
    }
    c->discounts_given = 0;
    if (c->original && !strcmp(c->ev.type, "reverse") &&
        (c->discounts_given = offers_reverse_discounts(&c->ev, c->m, c->original, pc_now_ms(),
                                                       (int64_t)e->dedupe_ttl_s * 1000)) < 0) {
        finish_err(c, 500, "internal", "out of memory");
        return;
    }
    if (builtin_before(&c->ev, c->m, c->set, c->original,
                       json_array_size(c->code_uses) > 0 || c->discounts_given > 0, &err)) {
        fail_decide(c, &err);
        return;
    }
    step_codes(c);
}

/* The ledger entries of c->m, in the stream's schema (query.c reads them back). */
static void commit_entries(engine_call *c, store_commit *sc, const char *at)
{
    const member_state *m = c->m;
    const char *reason = pc_event_data_string(&c->ev, "reason");
    char groups[512] = "";
    const char *name;
    json_t *g;
    /* "spring=control,summer=treatment": the member's groups, on every entry. */
    json_object_foreach(c->groups, name, g) {
        size_t used = strlen(groups);
        snprintf(groups + used, sizeof groups - used, "%s%s=%s", used ? "," : "", name,
                 json_string_value(g));
    }
    for (size_t i = 0; i < m->nentries; i++) {
        const member_entry *en = &m->entries[i];
        store_commit_entry_begin(sc);
        store_commit_entry_str(sc, "kind",
                               en->kind                       ? en->kind
                               : en->delta + en->pending >= 0 ? "earn"
                                                              : "spend");
        if (en->pending)
            store_commit_entry_int(sc, "pending", en->pending);
        if (c->ev.partner[0])
            store_commit_entry_str(sc, "partner", c->ev.partner);
        if (reason && en->kind && !strcmp(en->kind, "redeem"))
            store_commit_entry_str(sc, "reason", reason);
        store_commit_entry_str(sc, "event", c->ev.id);
        store_commit_entry_str(sc, "type", c->ev.type);
        store_commit_entry_str(sc, "mechanic", en->mechanic);
        if (groups[0])
            store_commit_entry_str(sc, "experiments", groups);
        store_commit_entry_str(sc, "currency", en->currency);
        store_commit_entry_int(sc, "delta", en->delta);
        store_commit_entry_int(sc, "balance", en->balance);
        store_commit_entry_str(sc, "at", at);
        store_commit_entry_str(sc, "mv", mechset_version(c->set));
        store_commit_entry_end(sc);
    }
}

static void on_commit(void *arg, const store_error *err, const store_committed *res);

/* The event's response as values: for dry runs and callers without ENGINE_ANSWER_TEXT. */
static json_t *response_json(engine_call *c, const char *at)
{
    const member_state *m = c->m;
    /* Ids, types and the version are checked ASCII: no UTF-8 pass (nor json_pack's parser). */
    json_t *r = json_object();
    if (r && (json_object_set_new(r, "id", json_string_nocheck(c->ev.id)) ||
              json_object_set_new(r, "type", json_string_nocheck(c->ev.type)) ||
              json_object_set_new(r, "member", json_string_nocheck(c->ev.member)) ||
              json_object_set_new(r, "at", json_string_nocheck(at)) ||
              json_object_set_new(r, "duplicate", json_false()) ||
              json_object_set_new(r, "outcomes", member_outcomes_to_json(m)) ||
              json_object_set_new(r, "mechanics_version", json_string(mechset_version(c->set))))) {
        json_decref(r);
        return NULL;
    }
    if (r && c->groups)
        json_object_set(r, "experiments", c->groups);
    if (r && m->trace)
        json_object_set(r, "explain", m->trace);
    return r;
}

/* A literal (the key, with its punctuation) and a string value. */
#define PUT_KEY_STRING(b, lit, s) put_key_string((b), lit, sizeof lit - 1, (s))

static void put_key_string(pc_jbuf *b, const char *key, size_t klen, const char *s)
{
    pc_jbuf_put(b, key, klen);
    pc_jbuf_string(b, s, strlen(s));
}

/*
 * The dedupe record of c's commit, "<digest> " (when the request has one)
 * and the response: the bytes pc_json_dump() writes of response_json(),
 * written straight from the event and the member (no jansson values for the
 * response itself). NULL when out of memory.
 */
static char *write_record(engine_call *c, const char *at, size_t *len)
{
    const member_state *m = c->m;
    pc_jbuf b = {0};
    pc_jbuf_grow(&b, 600); /* an event's record, at once (no growth from 256 bytes) */
    if (c->digest[0]) {
        pc_jbuf_put(&b, c->digest, 64);
        PC_JBUF_LIT(&b, " ");
    }
    PUT_KEY_STRING(&b, "{\"id\":", c->ev.id);
    PUT_KEY_STRING(&b, ",\"type\":", c->ev.type);
    PUT_KEY_STRING(&b, ",\"member\":", c->ev.member);
    PUT_KEY_STRING(&b, ",\"at\":", at);
    PC_JBUF_LIT(&b, ",\"duplicate\":false,\"outcomes\":");
    member_outcomes_write(&b, m);
    PUT_KEY_STRING(&b, ",\"mechanics_version\":", mechset_version(c->set));
    if (c->groups) {
        PC_JBUF_LIT(&b, ",\"experiments\":");
        pc_jbuf_value(&b, c->groups, 0);
    }
    if (m->trace) {
        PC_JBUF_LIT(&b, ",\"explain\":");
        pc_jbuf_value(&b, m->trace, 0);
    }
    PC_JBUF_LIT(&b, "}");
    return pc_jbuf_finish(&b, len);
}

/* Builds the response and sends the atomic commit of c->m. */
static void commit(engine_call *c)
{
    engine *e = c->e;
    member_state *m = c->m;
    store_commit *sc = NULL;
    char *at = c->at;
    size_t len = 0, skip = c->digest[0] ? 65 : 0;

    pc_time_format(c->ev.at_ms, c->at, sizeof c->at);
    json_decref(c->response);
    c->response = NULL;
    if (c->flags & ENGINE_DRY_RUN) {
        /* Not stored, but answered: the same cap as a real event's. */
        if (!(c->response = response_json(c, at))) {
            finish_err(c, 500, "internal", "out of memory");
            return;
        }
        len = json_dumpb(c->response, NULL, 0, JSON_COMPACT);
        if (len > e->max_response) {
            fail_too_large(c, len, e->max_response);
            return;
        }
        json_object_set_new(c->response, "dry_run", json_true());
        finish(c, 200, json_incref(c->response));
        return;
    }
    free(c->record);
    c->response_text = NULL;
    c->record = write_record(c, at, &len);
    if (c->record) {
        c->response_text = c->record + skip;
        c->response_len = len - skip;
        if (c->response_len > e->max_response) {
            fail_too_large(c, c->response_len, e->max_response);
            return;
        }
        if (!(c->flags & ENGINE_ANSWER_TEXT) && !(c->response = response_json(c, at))) {
            finish_err(c, 500, "internal", "out of memory");
            return;
        }
        sc =
            store_commit_new(e->ns, c->ev.member, c->ev.id, m->version, c->record, e->dedupe_ttl_s);
    }
    if (!sc) {
        finish_err(c, 500, "internal", "out of memory");
        return;
    }
    for (size_t i = 0; i < m->nfields; i++)
        if (m->fields[i].dirty)
            store_commit_field(sc, m->fields[i].name, m->fields[i].value);
    commit_entries(c, sc, at);
    outbox_commit_send(e, &c->ev, m, c->set, sc, at, on_commit, c);
}

/* The commit landed: what it leaves behind besides the member, and the events it owes. */
static void apply_effects(engine_call *c)
{
    size_t i;
    json_t *fx;
    json_array_foreach(c->m->effects, i, fx) {
        effects_follow_up fu;
        if (effects_apply(c->e->store, c->e->ns, &c->ev, fx, &fu))
            engine_follow_up(c->e, &fu.ev, fu.entry);
    }
    if (!c->e->no_figures)
        effects_figures(c->e->store, c->e->ns, c->at, &c->ev, c->m);
}

static void on_commit(void *arg, const store_error *err, const store_committed *res)
{
    engine_call *c = arg;
    if (err) {
        finish_store_error(c, err);
        return;
    }
    switch (res->outcome) {
    case STORE_COMMITTED:
        c->committed = res->version;
        apply_effects(c);
        /* The body is the very response the commit stored: its text is written already. */
        c->answer_ready = 1;
        finish(c, 200, json_incref(c->response));
        return;
    case STORE_APPLIED_BEFORE:
        reply_duplicate(c, res->stored, res->stored_len);
        return;
    case STORE_VERSION_MOVED:
        /* Another writer moved the member on: decide again on what it left. */
        if (++c->attempts >= c->e->max_attempts) {
            finish_err(c, 409, "conflict",
                       "the member changed under this event too often; retry the event");
            return;
        }
        if (load_state(c, &res->state)) {
            finish_err(c, 500, "internal", "member state is unreadable");
            return;
        }
        decide_and_commit(c);
    }
}

static void on_load(void *arg, const store_error *err, const store_loaded *res)
{
    engine_call *c = arg;
    if (err) {
        finish_store_error(c, err);
        return;
    }
    if (res->stored) {
        reply_duplicate(c, res->stored, res->stored_len);
        return;
    }
    if (res->original) {
        char digest[65];
        size_t len = res->original_len;
        const char *text = record_json(res->original, &len, digest);
        json_decref(c->original);
        c->original = pc_json_parse(text, len, NULL);
    }
    if (load_state(c, &res->state)) {
        finish_err(c, 500, "internal", "member state is unreadable");
        return;
    }
    decide_and_commit(c);
}

static void send_load(engine_call *c)
{
    member_free(c->m);
    c->m = NULL;
    store_load_member(c->e->store, c->e->ns, c->ev.member, c->ev.id,
                      c->original_id[0] ? c->original_id : NULL, on_load, c);
}

/* The event holds its member's slot: decide on the cached state, or load it. */
static void begin_event(engine_call *c)
{
    /*
     * A dry run always loads, so that a known id answers with its stored
     * response; so does a reversal, which needs the reversed event's response.
     */
    if (!(c->flags & ENGINE_DRY_RUN) && !c->original_id[0] && c->slot->state) {
        /*
         * Decided on the cached state itself, not a copy: a commit leaves the
         * state the slot keeps (release_slot()); any other end drops it, and
         * the member's next event loads.
         */
        c->m = c->slot->state;
        c->slot->state = NULL;
        c->from_cache = 1;
        decide_and_commit(c);
        return;
    }
    send_load(c);
}

engine_call *engine_submit(engine *e, pc_event *ev, engine_done_fn *done, void *arg)
{
    return engine_submit_flags(e, ev, 0, done, arg);
}

static engine_call *submit(engine *e, pc_event *ev, int flags, json_t *segment,
                           engine_done_fn *done, void *arg);

engine_call *engine_submit_flags(engine *e, pc_event *ev, int flags, engine_done_fn *done,
                                 void *arg)
{
    return submit(e, ev, flags, NULL, done, arg);
}

engine_call *engine_submit_segment(engine *e, pc_event *ev, json_t *segment, engine_done_fn *done,
                                   void *arg)
{
    return submit(e, ev, 0, segment, done, arg);
}

static engine_call *submit(engine *e, pc_event *ev, int flags, json_t *segment,
                           engine_done_fn *done, void *arg)
{
    engine_call *c = calloc(1, sizeof *c);
    const char *reversed;

    if (!c) {
        pc_event_clear(ev);
        engine_answer_oom(done, arg);
        return NULL;
    }
    c->e = e;
    c->done = done;
    c->arg = arg;
    c->starting = 1;
    c->flags = flags;
    c->segment = json_incref(segment);
    c->ev = *ev;
    memset(ev, 0, sizeof *ev);
    if (flags & ENGINE_IDEMPOTENT)
        pc_event_digest(&c->ev, c->digest); /* before at gets its default */
    if (!c->ev.at_given)
        c->ev.at_ms = engine_now(e);
    reversed = !strcmp(c->ev.type, "reverse") ? pc_event_data_string(&c->ev, "event") : NULL;
    /* An id no event can have is an unknown event (builtin_before() says so). */
    if (reversed && pc_valid_id(reversed))
        snprintf(c->original_id, sizeof c->original_id, "%s", reversed);
    if (!(c->slot = mcache_acquire(e->cache, c->ev.member))) {
        finish_err(c, 500, "internal", "out of memory");
        return started(c);
    }
    if (c->slot->busy) {
        /* Another event of this member is in flight here: wait for it. */
        if (c->slot->wait_tail)
            ((engine_call *)c->slot->wait_tail)->qnext = c;
        else
            c->slot->wait_head = c;
        c->slot->wait_tail = c;
        return started(c);
    }
    c->slot->busy = 1;
    begin_event(c);
    return started(c);
}

/* A follow-up event in flight: its NS:claims entry goes once it was answered (not 5xx). */
typedef struct follow_up {
    store *store;
    char ns[64];
    char member[PC_ID_MAX + 1];
    char entry[CLAIM_ENTRY_MAX];
} follow_up;

static void on_follow_up_done(void *arg, int status, json_t *body)
{
    follow_up *f = arg;
    if (status != 200) {
        char *text = json_dumps(body, JSON_COMPACT);
        pc_log(PC_LOG_WARN, "follow-up event for %s: %d %s", f->member, status, text ? text : "");
        free(text);
    }
    json_decref(body);
    if (status < 500 && f->entry[0])
        store_claims_del(f->store, f->ns, f->entry, NULL, NULL);
    free(f);
}

void engine_follow_up(engine *e, pc_event *ev, const char *entry)
{
    follow_up *f = calloc(1, sizeof *f);
    if (!f) {
        pc_log(PC_LOG_WARN, "follow-up event for %s: out of memory", ev->member);
        pc_event_clear(ev);
        return;
    }
    f->store = e->store;
    snprintf(f->ns, sizeof f->ns, "%s", e->ns);
    snprintf(f->member, sizeof f->member, "%s", ev->member);
    snprintf(f->entry, sizeof f->entry, "%s", entry ? entry : "");
    engine_submit(e, ev, on_follow_up_done, f);
}

void engine_answer_oom(engine_done_fn *done, void *arg)
{
    pc_error err;
    pc_fail(&err, 500, "internal", "out of memory");
    done(arg, 500, pc_error_json(&err));
}
