/*
 * The event transaction.
 *
 *   submit -> LOAD (dedupe + state, one round trip)
 *          -> decide (Lua, in memory)
 *          -> COMMIT (version check + all writes + stored response, atomic)
 *          -> on a version conflict, decide again on the state COMMIT returned
 */
#include "engine-internal.h"
#include "builtin.h"
#include "globals.h"
#include "mcache.h"
#include "common/jsonw-internal.h"
#include "store/keys-internal.h"
#include "store-scripts-gen.h"
#include "store/store-internal.h"

#include <event2/event.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

enum call_kind { CALL_EVENT };

struct engine_call {
    engine *e;
    enum call_kind kind;
    engine_done_fn *done;
    void *arg;
    int cancelled;
    int starting; /* inside the submitting function */
    int finished;
    /* events */
    pc_event ev;
    member_state *m;
    mechset *set; /* the set this event started on; kept across retries */
    int attempts;
    json_t *response;
    mslot *slot;           /* this member's slot while the event holds it */
    engine_call *qnext;    /* next call waiting on the same member */
    int from_cache;        /* decided on the cached state, without a load */
    int64_t committed;     /* the version this event's commit wrote, or 0 */
    int flags;             /* enum engine_flags */
    mech_run *run;         /* the mechanics deciding this event, while they run */
    globals_event *global; /* global reservations this event holds */
    char k_state[PC_KEY_MAX], k_ledger[PC_KEY_MAX], k_event[PC_KEY_MAX];
    char k_original[PC_KEY_MAX]; /* a reversal: the reversed event's stored response */
    json_t *original;            /* ... as loaded, or NULL */
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
    e->clock = cfg && cfg->clock ? cfg->clock : real_clock;
    e->clock_arg = cfg ? cfg->clock_arg : NULL;
    e->no_figures = cfg ? cfg->no_figures : 0;
    e->cache = mcache_new(cfg ? cfg->cache_members : 0);
    e->globals = globals_new(s, e->ns);
    if (!e->cache || !e->globals) {
        mcache_free(e->cache);
        globals_free(e->globals);
        free(e);
        return NULL;
    }
    globals_set_engine(e->globals, e); /* game effects send events; claims get swept */
    return e;
}

void engine_free(engine *e)
{
    if (!e)
        return;
    mcache_free(e->cache);
    globals_free(e->globals);
    free(e);
}

static void call_free(engine_call *c)
{
    json_decref(c->original);
    mech_run_free(c->run);
    globals_event_free(c->global);
    pc_event_clear(&c->ev);
    member_free(c->m);
    mechset_unref(c->set);
    json_decref(c->response);
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

/* Reports the result (unless cancelled) and ends the call. Steals body. */
static void finish(engine_call *c, int status, json_t *body)
{
    /*
     * Keep what the commit used; give back what a dry run or a refused event
     * reserved; leave the rest (Redis failed mid-way, or another copy of the
     * event was applied with these very claims) to the claims' expiry.
     */
    if (c->global) {
        enum globals_end how = GLOBALS_LEAVE;
        if (c->committed)
            how = GLOBALS_CONFIRM;
        else if ((c->flags & ENGINE_DRY_RUN) || (status >= 400 && status < 500))
            how = GLOBALS_RELEASE;
        globals_event_end(c->global, how);
    }
    if (c->slot)
        release_slot(c, status);
    if (c->cancelled)
        json_decref(body);
    else
        c->done(c->arg, status, body);
    c->finished = 1;
    if (!c->starting)
        call_free(c);
}

static void finish_err(engine_call *c, int status, const char *code, const char *msg)
{
    pc_error err;
    pc_fail(&err, status, code, "%s", msg);
    finish(c, status, pc_error_json(&err));
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

static engine_call *call_new(engine *e, enum call_kind kind, engine_done_fn *done, void *arg)
{
    engine_call *c = calloc(1, sizeof *c);
    if (!c) {
        pc_error err;
        pc_fail(&err, 500, "internal", "out of memory");
        done(arg, 500, pc_error_json(&err));
        return NULL;
    }
    c->e = e;
    c->kind = kind;
    c->done = done;
    c->arg = arg;
    c->starting = 1;
    return c;
}

void engine_cancel(engine_call *c)
{
    if (c)
        c->cancelled = 1;
}

/* A redis error or a reply of an unexpected shape. */
static int reply_failed(engine_call *c, redisReply *r, const char *err)
{
    if (!r) {
        finish_err(c, 503, "unavailable", err ? err : "redis unavailable");
        return 1;
    }
    if (r->type == REDIS_REPLY_ERROR) {
        pc_log(PC_LOG_ERROR, "redis: %s", r->str);
        /* NOSCRIPT after a SCRIPT FLUSH: the scripts are being loaded again. */
        finish_err(c, 503, "unavailable", "redis refused the command; retry");
        return 1;
    }
    return 0;
}

static void reply_duplicate(engine_call *c, redisReply *stored)
{
    json_t *body = json_loadb(stored->str, stored->len, 0, NULL);
    if (!body) {
        finish_err(c, 500, "internal", "stored response is not JSON");
        return;
    }
    json_object_set_new(body, "duplicate", json_true());
    finish(c, 200, body);
}

static int load_state(engine_call *c, redisReply *pairs)
{
    const char **v;
    size_t *l;
    int rc;

    member_free(c->m);
    c->m = member_new(c->ev.member);
    if (!c->m)
        return -1;
    if (pairs->elements == 0)
        return 0;
    v = malloc(pairs->elements * sizeof *v);
    l = malloc(pairs->elements * sizeof *l);
    if (!v || !l) {
        free(v);
        free(l);
        return -1;
    }
    for (size_t i = 0; i < pairs->elements; i++) {
        v[i] = pairs->element[i]->str ? pairs->element[i]->str : "";
        l[i] = pairs->element[i]->len;
    }
    rc = member_load_pairs(c->m, pairs->elements, v, l);
    free(v);
    free(l);
    return rc;
}

/*
 * A growable argv: the strings are copied, one after another, into one buffer
 * (an event's commit has tens of arguments: one allocation, not tens).
 */
typedef struct argv_buf {
    char *text; /* the strings, each NUL-terminated */
    size_t used, size;
    size_t *off; /* where each starts in text */
    size_t *len;
    const char **v; /* filled by argv_finish */
    int n, cap;
    int oom;
} argv_buf;

static void argv_push(argv_buf *a, const char *s, size_t len)
{
    if (a->oom)
        return;
    if (a->n == a->cap) {
        int cap = a->cap ? a->cap * 2 : 64;
        size_t *no = realloc(a->off, (size_t)cap * sizeof *no);
        size_t *nl = no ? realloc(a->len, (size_t)cap * sizeof *nl) : NULL;
        if (no)
            a->off = no;
        if (!no || !nl) {
            a->oom = 1;
            return;
        }
        a->len = nl;
        a->cap = cap;
    }
    if (a->used + len + 1 > a->size) {
        size_t size = a->size ? a->size : 1024;
        while (size < a->used + len + 1)
            size *= 2;
        char *nt = realloc(a->text, size);
        if (!nt) {
            a->oom = 1;
            return;
        }
        a->text = nt;
        a->size = size;
    }
    memcpy(a->text + a->used, s, len);
    a->text[a->used + len] = '\0';
    a->off[a->n] = a->used;
    a->len[a->n++] = len;
    a->used += len + 1;
}

static void argv_str(argv_buf *a, const char *s)
{
    argv_push(a, s, strlen(s));
}

static void argv_int(argv_buf *a, int64_t v)
{
    char tmp[24];
    argv_push(a, tmp, pc_format_int(tmp, v));
}

/* The pointers, once the buffer no longer moves. 0, or -1 on out of memory. */
static int argv_finish(argv_buf *a)
{
    if (a->oom || !(a->v = malloc(sizeof *a->v * (size_t)(a->n ? a->n : 1))))
        return -1;
    for (int i = 0; i < a->n; i++)
        a->v[i] = a->text + a->off[i];
    return 0;
}

static void argv_free(argv_buf *a)
{
    free(a->text);
    free(a->off);
    free(a->len);
    free(a->v);
}

static void on_commit(redisReply *r, const char *err, void *arg);

/* Decides the event on c->m and sends the commit. */
static void send_load(engine_call *c);

static void commit(engine_call *c);
static void step_decide(engine_call *c);

static void on_global_done(void *arg, json_t *result, const char *err)
{
    engine_call *c = arg;
    mech_run_reply(c->run, result, err);
    step_decide(c);
}

/* The decision failed: answer with err, unless the load's dedupe should speak first. */
static void fail_decide(engine_call *c, const pc_error *err)
{
    mech_run_free(c->run);
    c->run = NULL;
    if (c->from_cache) {
        /* Maybe a retry of an applied event: let the load's dedupe answer first. */
        c->from_cache = 0;
        send_load(c);
        return;
    }
    pc_log(PC_LOG_WARN, "event %s of %s: %s", c->ev.id, c->ev.member, err->message);
    finish(c, err->status, pc_error_json(err));
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
            mech_run_free(c->run);
            c->run = NULL;
            c->from_cache = 0;
            send_load(c);
            return;
        }
        globals_call(c->e->globals, c->global, mech_run_request(c->run), on_global_done, c);
        return;
    case MECH_DONE:
        mech_run_free(c->run);
        c->run = NULL;
        if (builtin_after(&c->ev, c->m, !c->e->no_figures, &err)) {
            fail_decide(c, &err);
            return;
        }
        commit(c);
        return;
    default:
        fail_decide(c, &err);
    }
}

/* Decides the event on c->m (then commits it). */
static void decide_and_commit(engine_call *c)
{
    if (!c->set && !(c->set = mech_holder_acquire(c->e->holder))) {
        finish_err(c, 503, "mechanics_unavailable",
                   "no mechanics are loaded (see GET /v1/mechanics for the error)");
        return;
    }
    json_decref(c->m->trace);
    c->m->trace = (c->flags & ENGINE_EXPLAIN) ? json_array() : NULL;
    json_decref(c->m->effects);
    c->m->effects = NULL;
    if (!c->global &&
        !(c->global = globals_event_new(c->e->globals, &c->ev, c->flags & ENGINE_DRY_RUN))) {
        finish_err(c, 500, "internal", "out of memory");
        return;
    }
    globals_attempt(c->global);
    {
        pc_error err;
        if (builtin_before(&c->ev, c->m, c->set, c->original, &err)) {
            fail_decide(c, &err);
            return;
        }
    }
    if (!(c->run = mech_run_start(c->set, &c->ev, c->m))) {
        finish_err(c, 500, "internal", "out of memory");
        return;
    }
    step_decide(c);
}

/* Builds the response and sends the atomic commit of c->m. */
static void commit(engine_call *c)
{
    engine *e = c->e;
    argv_buf a = {0};
    char at[32], *resp;
    member_state *m = c->m;

    pc_time_format(c->ev.at_ms, at, sizeof at);
    json_decref(c->response);
    c->response = json_pack("{s:s, s:s, s:s, s:s, s:b, s:O, s:s}", "id", c->ev.id, "type",
                            c->ev.type, "member", c->ev.member, "at", at, "duplicate", 0,
                            "outcomes", m->outcomes, "mechanics_version", mechset_version(c->set));
    if (c->response && m->trace)
        json_object_set(c->response, "explain", m->trace);
    if (c->response && (c->flags & ENGINE_DRY_RUN)) {
        json_object_set_new(c->response, "dry_run", json_true());
        finish(c, 200, json_incref(c->response));
        return;
    }
    resp = c->response ? pc_json_dump(c->response, NULL) : NULL;
    if (!resp) {
        finish_err(c, 500, "internal", "out of memory");
        return;
    }
    argv_str(&a, c->k_state);
    argv_str(&a, c->k_ledger);
    argv_str(&a, c->k_event);
    argv_int(&a, m->version);
    argv_str(&a, resp);
    argv_int(&a, e->dedupe_ttl_s);
    free(resp);
    for (size_t i = 0; i < m->nfields; i++) {
        if (!m->fields[i].dirty)
            continue;
        argv_str(&a, m->fields[i].value ? "S" : "D");
        argv_str(&a, m->fields[i].name);
        if (m->fields[i].value)
            argv_str(&a, m->fields[i].value);
    }
    for (size_t i = 0; i < m->nentries; i++) {
        const member_entry *en = &m->entries[i];
        const char *reason = json_string_value(json_object_get(c->ev.data, "reason"));
        int nfields = 9 + (en->pending != 0) + (c->ev.partner[0] != 0) +
                      (reason && en->kind && !strcmp(en->kind, "redeem"));
        argv_str(&a, "L");
        argv_int(&a, nfields);
        argv_str(&a, "kind");
        argv_str(&a, en->kind ? en->kind : en->delta + en->pending >= 0 ? "earn" : "spend");
        if (en->pending) {
            argv_str(&a, "pending");
            argv_int(&a, en->pending);
        }
        if (c->ev.partner[0]) {
            argv_str(&a, "partner");
            argv_str(&a, c->ev.partner);
        }
        if (reason && en->kind && !strcmp(en->kind, "redeem")) {
            argv_str(&a, "reason");
            argv_str(&a, reason);
        }
        argv_str(&a, "event");
        argv_str(&a, c->ev.id);
        argv_str(&a, "type");
        argv_str(&a, c->ev.type);
        argv_str(&a, "mechanic");
        argv_str(&a, en->mechanic);
        argv_str(&a, "currency");
        argv_str(&a, en->currency);
        argv_str(&a, "delta");
        argv_int(&a, en->delta);
        argv_str(&a, "balance");
        argv_int(&a, en->balance);
        argv_str(&a, "at");
        argv_str(&a, at);
        argv_str(&a, "mv");
        argv_str(&a, mechset_version(c->set));
    }
    if (argv_finish(&a)) {
        argv_free(&a);
        finish_err(c, 500, "internal", "out of memory");
        return;
    }
    store_eval(e->store, &store_script_commit, on_commit, c, 3, a.n, a.v, a.len);
    argv_free(&a);
}

static void on_commit(redisReply *r, const char *err, void *arg)
{
    engine_call *c = arg;
    if (reply_failed(c, r, err))
        return;
    if (r->type != REDIS_REPLY_ARRAY || r->elements != 2) {
        finish_err(c, 500, "internal", "unexpected reply to commit");
        return;
    }
    switch (r->element[0]->integer) {
    case 0:
        c->committed = r->element[1]->integer;
        if (c->m->effects) {
            size_t i;
            json_t *fx;
            json_array_foreach(c->m->effects, i, fx)
                globals_effect(c->e->globals, &c->ev, fx);
        }
        finish(c, 200, json_incref(c->response));
        return;
    case 1:
        reply_duplicate(c, r->element[1]);
        return;
    default:
        /* Another writer moved the member on: decide again on what it left. */
        if (++c->attempts >= c->e->max_attempts) {
            finish_err(c, 409, "conflict",
                       "the member changed under this event too often; retry the event");
            return;
        }
        if (load_state(c, r->element[1])) {
            finish_err(c, 500, "internal", "member state is unreadable");
            return;
        }
        decide_and_commit(c);
    }
}

static void on_load(redisReply *r, const char *err, void *arg)
{
    engine_call *c = arg;
    if (reply_failed(c, r, err))
        return;
    if (r->type != REDIS_REPLY_ARRAY || r->elements < 2) {
        finish_err(c, 500, "internal", "unexpected reply to load");
        return;
    }
    if (r->element[0]->integer == 1) {
        reply_duplicate(c, r->element[1]);
        return;
    }
    if (r->elements == 3 && r->element[2]->type == REDIS_REPLY_STRING) {
        json_decref(c->original);
        c->original = json_loadb(r->element[2]->str, r->element[2]->len, 0, NULL);
    }
    if (load_state(c, r->element[1])) {
        finish_err(c, 500, "internal", "member state is unreadable");
        return;
    }
    decide_and_commit(c);
}

static void send_load(engine_call *c)
{
    const char *argv[3] = {c->k_state, c->k_event, c->k_original};
    member_free(c->m);
    c->m = NULL;
    if (c->k_original[0])
        store_eval(c->e->store, &store_script_load, on_load, c, 3, 3, argv, NULL);
    else
        store_eval(c->e->store, &store_script_load, on_load, c, 2, 2, argv, NULL);
}

/* The event holds its member's slot: decide on the cached state, or load it. */
static void begin_event(engine_call *c)
{
    /*
     * A dry run always loads, so that a known id answers with its stored
     * response; so does a reversal, which needs the reversed event's response.
     */
    if (!(c->flags & ENGINE_DRY_RUN) && !c->k_original[0] && c->slot->state &&
        (c->m = member_clone(c->slot->state))) {
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

engine_call *engine_submit_flags(engine *e, pc_event *ev, int flags, engine_done_fn *done,
                                 void *arg)
{
    engine_call *c = call_new(e, CALL_EVENT, done, arg);
    char suffix[PC_ID_MAX + 8];

    if (!c) {
        pc_event_clear(ev);
        return NULL;
    }
    c->flags = flags;
    c->ev = *ev;
    memset(ev, 0, sizeof *ev);
    if (!c->ev.at_given)
        c->ev.at_ms = e->clock(e->clock_arg);
    snprintf(suffix, sizeof suffix, "ev:%s", c->ev.id);
    if (pc_member_key(c->k_state, PC_KEY_MAX, e->ns, c->ev.member, "state") < 0 ||
        pc_member_key(c->k_ledger, PC_KEY_MAX, e->ns, c->ev.member, "ledger") < 0 ||
        pc_member_key(c->k_event, PC_KEY_MAX, e->ns, c->ev.member, suffix) < 0) {
        finish_err(c, 400, "bad_request", "member or id too long");
        return started(c);
    }
    if (!strcmp(c->ev.type, "reverse") && json_is_string(json_object_get(c->ev.data, "event"))) {
        snprintf(suffix, sizeof suffix, "ev:%s",
                 json_string_value(json_object_get(c->ev.data, "event")));
        if (pc_member_key(c->k_original, PC_KEY_MAX, e->ns, c->ev.member, suffix) < 0)
            c->k_original[0] = '\0';
    }
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
