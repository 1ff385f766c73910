/*
 * The sweeper (engine.h): the engine's work that no request starts.
 *
 * Due members: every commit keeps NS:due (member -> next due time, the
 * "schedule" effect). Every interval, the members due by the engine's clock
 * are sent an internal "tick" event (id "tick-<due ms>", at the due time)
 * through the normal transaction, so expiry and pending releases happen on
 * time even for silent members, and a tick is applied exactly once even when
 * several punchd sweep at once. Mechanics may subscribe to "tick".
 *
 * Unconfirmed claims (claims.h): every claim timeout / 4 (at most 30 s, real
 * time), the oldest NS:claims entries older than the claim timeout are
 * settled: a claim whose event has a stored response is kept (it committed),
 * any other is released; a referral's follow-up whose friend's event
 * committed is sent (again: its id makes that harmless).
 *
 * Period closes (closes.h): at every due sweep, the periods that ended are
 * closed by the mechanics declared `on = "period_end:..."`.
 *
 * The replay hold: while NS:{replay:hold}:until exists (POST
 * /v1/events/batch?replay=1 sets it: `punch import` is sending a history
 * with old `at`), neither due members nor closes are swept: the wall clock
 * must not expire a member's lots while the events that came before their
 * expiry are still arriving. Event time drives expiry: each event releases
 * and expires what fell due by its own `at`; the due sweeps resume when the
 * hold lapses.
 *
 * Callbacks in flight hold a reference on the sweeper, so freeing it while
 * Redis still owes answers is safe; the engine must outlive the sweeper.
 */
#include "engine-internal.h"
#include "punchcard/query.h"
#include "claims.h"
#include "closes.h"
#include "effects.h"
#include "resources.h"
#include "store/ops-internal.h"

#include <event2/event.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#define DUE_BATCH    200
#define CLAIMS_BATCH 100

/* Process-wide, for /metrics: due sweeps made, and skipped under the replay hold. */
static atomic_uint_fast64_t sweeps_made, sweeps_held;

struct sweeper {
    engine *e;
    int interval_ms;            /* 0: due members only on engine_sweep_now() */
    struct event *due_timer;    /* NULL without an interval */
    struct event *claims_timer; /* every claim timeout / 4, at most 30 s */
    int due_inflight;           /* requests of the current due sweep still out */
    int claims_sweeping;
    uint64_t ticks;
    engine_tick_fn *watch; /* engine_sweeper_watch(), or NULL */
    void *watch_arg;
    closes *closes; /* the period closes this sweeper drives */
    struct {
        char member[PC_ID_MAX + 1];
        int64_t due_ms;
    } due[DUE_BATCH]; /* the due members of the sweep in flight */
    size_t ndue;
    int refs; /* 1 for the owner + 1 per callback in flight */
    int dead; /* engine_sweeper_free() was called: the last callback frees */
};

static void hold(sweeper *sw)
{
    sw->refs++;
}

/* Drops a reference; 1 when the sweeper is gone and the callback must stop. */
static int drop(sweeper *sw)
{
    int dead = sw->dead;
    if (--sw->refs == 0)
        free(sw);
    return dead;
}

/* ---- due members ---- */

typedef struct tick_ctx {
    sweeper *sw;
    char member[PC_ID_MAX + 1];
} tick_ctx;

static void arm_due(sweeper *sw)
{
    struct timeval tv = {sw->interval_ms / 1000, (sw->interval_ms % 1000) * 1000};
    if (sw->due_timer)
        evtimer_add(sw->due_timer, &tv);
}

/* One request of the due sweep is over; the last one arms the next sweep. */
static void due_done(sweeper *sw)
{
    if (--sw->due_inflight == 0)
        arm_due(sw);
}

static void tick_end(tick_ctx *t)
{
    if (!drop(t->sw))
        due_done(t->sw);
    free(t);
}

static void on_resynced(void *arg, const store_error *err)
{
    tick_end(arg);
}

/* A tick already applied: set the schedule from what the member's state says now. */
static void on_due_read(void *arg, const store_error *err, const char *due, size_t len)
{
    tick_ctx *t = arg;
    engine *e = t->sw->e;
    if (err || t->sw->dead) {
        tick_end(t);
        return;
    }
    store_due_set(e->store, e->ns, t->member, due ? strtoll(due, NULL, 10) : 0, on_resynced, t);
}

static void on_tick_done(void *arg, int status, json_t *body)
{
    tick_ctx *t = arg;
    if (!t->sw->dead && status == 200 && json_is_true(json_object_get(body, "duplicate"))) {
        json_decref(body);
        store_member_field(t->sw->e->store, t->sw->e->ns, t->member, "due", on_due_read, t);
        return;
    }
    if (!t->sw->dead && t->sw->watch)
        t->sw->watch(t->sw->watch_arg, t->member, status, body);
    if (status != 200)
        pc_log(PC_LOG_WARN, "sweeper: tick of %s: %d %s", t->member, status,
               json_string_value(json_object_get(json_object_get(body, "error"), "message")));
    json_decref(body);
    tick_end(t);
}

/* Sends the due members of this sweep a tick each (sw->due, taken). */
static void send_ticks(sweeper *sw)
{
    for (size_t i = 0; i < sw->ndue; i++) {
        pc_event ev = {0};
        tick_ctx *t;
        if (!pc_valid_id(sw->due[i].member) || !(t = calloc(1, sizeof *t)))
            continue;
        t->sw = sw;
        snprintf(t->member, sizeof t->member, "%s", sw->due[i].member);
        snprintf(ev.id, sizeof ev.id, "tick-%lld", (long long)sw->due[i].due_ms);
        snprintf(ev.type, sizeof ev.type, "tick");
        snprintf(ev.member, sizeof ev.member, "%s", sw->due[i].member);
        ev.at_ms = sw->due[i].due_ms;
        ev.at_given = 1;
        ev.data = json_object();
        sw->due_inflight++;
        sw->ticks++;
        hold(sw);
        engine_submit(sw->e, &ev, on_tick_done, t);
    }
    sw->ndue = 0;
}

/*
 * Asked after the due range was read: a replay that began before the read
 * may have written the due times it returned, and must not be ticked.
 */
static void on_held(void *arg, const store_error *err, int64_t held)
{
    sweeper *sw = arg;
    if (drop(sw))
        return;
    if (err || held) {
        /* A replay is running (or Redis is away): nothing is due by the wall clock now. */
        if (held)
            atomic_fetch_add_explicit(&sweeps_held, 1, memory_order_relaxed);
        sw->ndue = 0;
    } else {
        atomic_fetch_add_explicit(&sweeps_made, 1, memory_order_relaxed);
        closes_check(sw->closes, engine_now(sw->e));
        send_ticks(sw);
    }
    due_done(sw);
}

static void on_due(void *arg, const store_error *err, size_t n, const store_due *due)
{
    sweeper *sw = arg;
    if (drop(sw))
        return;
    sw->ndue = 0;
    for (size_t i = 0; !err && i < n && i < DUE_BATCH; i++) {
        snprintf(sw->due[sw->ndue].member, sizeof sw->due[0].member, "%s", due[i].member);
        sw->due[sw->ndue++].due_ms = due[i].due_ms;
    }
    if (err) {
        due_done(sw);
        return;
    }
    hold(sw);
    store_replay_held(sw->e->store, sw->e->ns, on_held, sw);
}

static void sweep_due(sweeper *sw)
{
    if (sw->due_inflight)
        return;
    sw->due_inflight = 1;
    hold(sw);
    store_due_range(sw->e->store, sw->e->ns, engine_now(sw->e), DUE_BATCH, on_due, sw);
}

static void on_due_timer(evutil_socket_t fd, short what, void *arg)
{
    sweep_due(arg);
}

/* ---- unconfirmed claims ---- */

typedef struct claim_ctx {
    sweeper *sw;
    char entry[CLAIM_ENTRY_MAX];
    claims_parsed c;
} claim_ctx;

static void claims_drop_entry(sweeper *sw, const char *entry)
{
    store_claims_del(sw->e->store, sw->e->ns, entry, NULL, NULL);
}

static void release(sweeper *sw, const claims_parsed *c)
{
    resources_release(sw->e->store, sw->e->ns, c->op, c->resource, c->id, sw->e->claim_timeout_ms);
}

/* The friend's event committed holding the referral: send the referrer's event (again). */
static void on_referral_read(void *arg, const store_error *err, const store_referral *ref)
{
    claim_ctx *x = arg;
    effects_follow_up fu;
    if (!drop(x->sw) && !err) {
        if (!ref->referrer || !ref->claim || strcmp(ref->claim, x->c.id) != 0)
            claims_drop_entry(x->sw, x->entry); /* another event holds it: nothing to send */
        else if (effects_referral(x->c.resource, ref->referrer, ref->type ? ref->type : "referral",
                                  x->c.id, &fu) == 0)
            engine_follow_up(x->sw->e, &fu.ev, fu.entry);
    }
    free(x);
}

static void on_event_exists(void *arg, const store_error *err, int64_t exists)
{
    claim_ctx *x = arg;
    sweeper *sw = x->sw;
    if (drop(sw) || err) {
        free(x);
        return;
    }
    if (!strcmp(x->c.op, "deliver") && exists) {
        hold(sw);
        store_referral_read(sw->e->store, sw->e->ns, x->c.resource, on_referral_read, x);
        return;
    }
    if (exists || !strcmp(x->c.op, "deliver"))
        claims_drop_entry(sw, x->entry); /* committed: the claim stands; or nothing to send */
    else
        release(sw, &x->c);
    free(x);
}

static void settle_claim(sweeper *sw, const char *entry)
{
    claim_ctx *x = calloc(1, sizeof *x);
    if (!x)
        return;
    x->sw = sw;
    snprintf(x->entry, sizeof x->entry, "%s", entry);
    if (claims_parse(entry, &x->c)) {
        claims_drop_entry(sw, entry); /* not one of ours */
        free(x);
        return;
    }
    if (x->c.dry) {
        release(sw, &x->c); /* a dry run never commits */
        free(x);
        return;
    }
    hold(sw);
    store_event_exists(sw->e->store, sw->e->ns, x->c.member, x->c.event_id, on_event_exists, x);
}

static void on_claims(void *arg, const store_error *err, size_t n, const char *const *entries)
{
    sweeper *sw = arg;
    sw->claims_sweeping = 0;
    if (drop(sw) || err)
        return;
    for (size_t i = 0; i < n; i++)
        settle_claim(sw, entries[i]);
}

static void sweep_claims(sweeper *sw)
{
    engine *e = sw->e;
    if (sw->claims_sweeping || !store_ready(e->store))
        return;
    sw->claims_sweeping = 1;
    hold(sw);
    store_claims_range(e->store, e->ns, pc_now_ms() - e->claim_timeout_ms, CLAIMS_BATCH, on_claims,
                       sw);
}

static void on_claims_timer(evutil_socket_t fd, short what, void *arg)
{
    sweeper *sw = arg;
    int64_t every = sw->e->claim_timeout_ms / 4 < 30000 ? sw->e->claim_timeout_ms / 4 : 30000;
    struct timeval tv = {(time_t)(every / 1000), (suseconds_t)(every % 1000) * 1000};
    sweep_claims(sw);
    engine_note_load(sw->e, NULL); /* a load the shared history missed (Redis was down) */
    evtimer_add(sw->claims_timer, &tv);
}

/* ---- the public face (engine.h) ---- */

sweeper *engine_sweeper_new(engine *e, int interval_ms)
{
    struct timeval now = {0, 0};
    sweeper *sw = calloc(1, sizeof *sw);
    if (!sw)
        return NULL;
    sw->e = e;
    sw->refs = 1;
    if (!(sw->closes = closes_new(e))) {
        free(sw);
        return NULL;
    }
    sw->interval_ms = interval_ms > 0 ? interval_ms : 0;
    sw->claims_timer = evtimer_new(e->base, on_claims_timer, sw);
    if (!sw->claims_timer ||
        (sw->interval_ms && !(sw->due_timer = evtimer_new(e->base, on_due_timer, sw)))) {
        engine_sweeper_free(sw);
        return NULL;
    }
    arm_due(sw);
    evtimer_add(sw->claims_timer, &now);
    return sw;
}

void engine_sweeper_free(sweeper *sw)
{
    if (!sw)
        return;
    if (sw->due_timer)
        event_free(sw->due_timer);
    if (sw->claims_timer)
        event_free(sw->claims_timer);
    sw->due_timer = sw->claims_timer = NULL;
    closes_free(sw->closes);
    sw->closes = NULL;
    sw->dead = 1;
    drop(sw);
}

void engine_sweep_now(sweeper *sw)
{
    if (sw->due_timer)
        evtimer_del(sw->due_timer);
    sweep_due(sw);
    sweep_claims(sw);
}

void engine_close_now(sweeper *sw)
{
    closes_check(sw->closes, engine_now(sw->e));
}

void engine_sweeper_watch(sweeper *sw, engine_tick_fn *fn, void *arg)
{
    sw->watch = fn;
    sw->watch_arg = arg;
}

uint64_t engine_sweeper_ticks(const sweeper *sw)
{
    return sw->ticks;
}

int engine_sweeper_busy(const sweeper *sw)
{
    return sw->due_inflight > 0 || (sw->closes && closes_running(sw->closes));
}

void engine_sweep_stats(engine_sweep_counts *out)
{
    out->sweeps = atomic_load_explicit(&sweeps_made, memory_order_relaxed);
    out->held = atomic_load_explicit(&sweeps_held, memory_order_relaxed);
    closes_totals(&out->closes_done, &out->close_events);
    out->broadcasts = broadcasts_made();
    out->broadcast_events = closes_broadcast_events();
}

/* ---- the replay hold ---- */

typedef struct hold_call {
    engine_hold_fn *done;
    void *arg;
} hold_call;

static void on_hold_set(void *arg, const store_error *err)
{
    hold_call h = *(hold_call *)arg;
    free(arg);
    if (h.done)
        h.done(h.arg, err == NULL);
}

void engine_replay_hold(engine *e, int64_t hold_ms, engine_hold_fn *done, void *arg)
{
    hold_call *h = calloc(1, sizeof *h);
    if (!h) {
        if (done)
            done(arg, 0);
        return;
    }
    h->done = done;
    h->arg = arg;
    store_replay_hold(e->store, e->ns, hold_ms, on_hold_set, h);
}
