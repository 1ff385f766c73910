/*
 * Period closes (closes.h). A close job goes through:
 *   claim   close_claim.lua: "done" (nothing to do), "busy" (another owner is
 *           at it: look again later), "mine" (run the mechanic) or "plan:..."
 *           (a plan stored by an earlier owner: send it, without running again)
 *   decide  the mechanic runs alone for no member on a coroutine (only reads
 *           may yield: global_value, board_top, board_rank); its send() calls
 *           are the plan, stored once by close_plan.lua
 *   send    each planned event through engine_submit, paced (engine
 *           send_rate per second), the close touched every second so no one
 *           takes it over while it is alive
 *   done    close_mark.lua, once every event was answered below 500; after a
 *           5xx the job ends undone and the next sweep sends the plan again
 *           (the ids make the resent ones duplicates)
 * Only the latest ended period of each mechanic is closed: a period that
 * ended while no punchd ran is closed late, one that ended before the
 * latest is not caught up.
 */
#include "closes.h"
#include "claims.h"
#include "resources.h"
#include "common/calendar-internal.h"
#include "lua/mechanics-internal.h"
#include "model/member-internal.h"
#include "store/ops-internal.h"
#include "store/reads-internal.h"

#include <event2/event.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CLOSE_KEEP_S    (400 * 86400) /* how long a close's hash (and "done") is kept */
#define CLOSE_MAX_SENDS 100000        /* events one close may send */
#define CLOSE_INFLIGHT  64            /* events of one close in flight at once */
#define CLOSE_SEEN      256           /* closes remembered here as done or to retry later */
#define CLOSE_CATCH_UP  12 /* ended periods of a mechanic looked at: the latest and 11 before */
#define BCAST_OPEN_MAX  32 /* broadcasts looked at per sweep, the oldest first */
#define DAY_MS          INT64_C(86400000)

typedef struct close_job close_job;

/* Process-wide: closes found done or done here, and events sent by closes. */
static atomic_uint_fast64_t done_total, sent_total, bcast_sent_total;

/* A close this engine saw: done (never again), or to look at again after retry_at. */
typedef struct close_seen {
    char mechanic[PC_ID_MAX + 2]; /* or a broadcast's id, after "!" */
    char period[32];
    int done;
    int64_t retry_at;
} close_seen;

struct closes {
    engine *e;
    char owner[64]; /* this engine, in the closes it takes */
    close_job *jobs;
    close_seen seen[CLOSE_SEEN];
    size_t seen_next;
    int refs; /* 1 for the owner + 1 per job */
    int dead;
    int fetching_broadcasts; /* the list of open broadcasts is being read */
};

struct close_job {
    closes *cl;
    close_job *next;
    mechset *set;                 /* a reference */
    size_t idx;                   /* the mechanic's index in set */
    char mechanic[PC_ID_MAX + 1]; /* a broadcast: its id */
    char period[32];              /* a broadcast: "" */
    int broadcast;
    int latest; /* the latest period ended (else an older one, caught up) */
    int per;
    int64_t end_ms; /* the period's end: the events happen 1 ms before */
    pc_event ev;    /* the close as the mechanic sees it */
    member_state *scratch;
    mech_run *run;
    claims *cs;
    json_t *plan;          /* [{member, type, data}]: the plan, or the batch of a walk */
    json_t *all;           /* send_all's {"type", "data"[, "segment", "at"]}: every member,
                              walked; else NULL */
    int64_t sent, skipped; /* events answered 200 (duplicates too), refused as not in segment */
    char cursor[64];       /* the walk's next step ("0": the first, or after the last) */
    int walked, fetching;  /* a walk's first step was read; a step is being read */
    size_t next_send, inflight, answered;
    int failed, lost, ending;
    int64_t touched_ms;
    struct event *timer;
    int refs; /* 1 for the job itself + 1 per callback in flight */
};

static int64_t now_ms(const closes *cl)
{
    return engine_now(cl->e);
}

/* The job's hash in the store (its strings borrowed from j). */
static store_job job_key(const close_job *j)
{
    store_job k = {j->broadcast, j->mechanic, j->period, j->broadcast ? 0 : j->end_ms};
    return k;
}

static close_seen *seen_find(closes *cl, const char *mechanic, const char *period)
{
    for (size_t i = 0; i < CLOSE_SEEN; i++)
        if (!strcmp(cl->seen[i].mechanic, mechanic) && !strcmp(cl->seen[i].period, period))
            return &cl->seen[i];
    return NULL;
}

static void seen_set(closes *cl, const char *mechanic, const char *period, int done,
                     int64_t retry_at)
{
    close_seen *s = seen_find(cl, mechanic, period);
    if (!s) {
        s = &cl->seen[cl->seen_next];
        cl->seen_next = (cl->seen_next + 1) % CLOSE_SEEN;
        snprintf(s->mechanic, sizeof s->mechanic, "%s", mechanic);
        snprintf(s->period, sizeof s->period, "%s", period);
    }
    s->done = done;
    s->retry_at = retry_at;
}

static void closes_drop(closes *cl)
{
    if (--cl->refs == 0)
        free(cl);
}

/* ---- a job's life ---- */

static void job_unref(close_job *j)
{
    if (--j->refs > 0)
        return;
    closes *cl = j->cl;
    for (close_job **p = &cl->jobs; *p; p = &(*p)->next)
        if (*p == j) {
            *p = j->next;
            break;
        }
    if (j->timer)
        event_free(j->timer);
    mech_run_free(j->run);
    claims_free(j->cs);
    member_free(j->scratch);
    json_decref(j->plan);
    json_decref(j->all);
    pc_event_clear(&j->ev);
    mechset_unref(j->set);
    free(j);
    closes_drop(cl);
}

/* The job stops (no more sends); retry_at > 0: look at this close again then. */
static void job_end(close_job *j, int done, int64_t retry_at)
{
    if (j->ending)
        return;
    j->ending = 1;
    if (j->timer)
        evtimer_del(j->timer);
    if (!j->cl->dead) {
        char name[PC_ID_MAX + 2];
        snprintf(name, sizeof name, "%s%s", j->broadcast ? "!" : "", j->mechanic);
        seen_set(j->cl, name, j->period, done, retry_at);
    }
    if (done)
        atomic_fetch_add_explicit(&done_total, 1, memory_order_relaxed);
    if (done && j->broadcast && !j->cl->dead)
        store_bcast_shut(j->cl->e->store, j->cl->e->ns, j->mechanic);
    if (done && !j->broadcast && !j->cl->dead) {
        /* The next period of the mechanic (caught up in order) needs no wait for a sweep. */
        closes *cl = j->cl;
        cl->refs++;
        job_unref(j);
        closes_check(cl, now_ms(cl));
        closes_drop(cl);
        return;
    }
    job_unref(j);
}

/* The job holds on while a callback is out; 1 when it must stop (closes freed or job ended). */
static int job_gone(close_job *j)
{
    return j->cl->dead || j->ending;
}

/* ---- send: the plan's events, paced ---- */

static void arm(close_job *j);

static void on_done_marked(void *arg, const store_error *err, int64_t ok)
{
    close_job *j = arg;
    if (!job_gone(j)) {
        if (err)
            job_end(j, 0, now_ms(j->cl) + 1000);
        else
            job_end(j, ok == 1, ok == 1 ? 0 : now_ms(j->cl) + 1000);
    }
    job_unref(j);
}

static void fetch_members(close_job *j);

static void maybe_finish(close_job *j)
{
    if (job_gone(j) || j->answered < json_array_size(j->plan) || j->inflight || j->fetching)
        return;
    if (j->all && !j->failed && !j->lost && (!j->walked || strcmp(j->cursor, "0") != 0)) {
        fetch_members(j); /* the walk's next step */
        return;
    }
    if (j->failed || j->lost) {
        /* Undone: the next look sends the plan again (duplicates for those answered). */
        job_end(j, 0, now_ms(j->cl) + (j->lost ? j->cl->e->claim_timeout_ms : 1000));
        return;
    }
    pc_log(PC_LOG_INFO, "%s %s %s: %lld event(s) sent", j->broadcast ? "broadcast" : "close",
           j->mechanic, j->period, (long long)j->sent);
    j->refs++;
    store_job key = job_key(j);
    store_close_mark(j->cl->e->store, j->cl->e->ns, &key, j->cl->owner, 1, now_ms(j->cl),
                     CLOSE_KEEP_S, j->sent, j->skipped, on_done_marked, j);
}

/* The code of an error body {"error": {"code"}}, or "". */
static const char *error_code(const json_t *body)
{
    const char *code = json_string_value(json_object_get(json_object_get(body, "error"), "code"));
    return code ? code : "";
}

static void on_sent(void *arg, int status, json_t *body)
{
    close_job *j = arg;
    j->inflight--;
    j->answered++;
    if (status == 200)
        j->sent++;
    if (status == 422 && !strcmp(error_code(body), "not_in_segment")) {
        j->skipped++;
    } else if (status >= 500 || status == 409) {
        /* Unknown outcome, or a conflict the engine gave up on: sent again later. */
        j->failed = 1;
        pc_log(PC_LOG_WARN, "close %s %s: an event was answered %d; sent again later", j->mechanic,
               j->period, status);
    } else if (status != 200) {
        char *text = json_dumps(body, JSON_COMPACT);
        pc_log(PC_LOG_WARN, "close %s %s: an event was refused: %d %s", j->mechanic, j->period,
               status, text ? text : "");
        free(text);
    }
    json_decref(body);
    maybe_finish(j);
    job_unref(j);
}

static void send_one(close_job *j)
{
    json_t *s = json_array_get(j->plan, j->next_send++);
    const char *member = json_string_value(json_object_get(s, "member"));
    const char *type = json_string_value(json_object_get(s, "type"));
    json_t *data = json_object_get(s, "data");
    pc_event ev = {0};
    if (!member || !pc_valid_id(member) || !type || !pc_valid_name(type) || !json_is_object(data)) {
        j->answered++; /* not one close_plan could hold: skipped */
        return;
    }
    if (j->broadcast)
        snprintf(ev.id, sizeof ev.id, "broadcast:%.118s", j->mechanic);
    else
        snprintf(ev.id, sizeof ev.id, "close:%.64s:%.31s", j->mechanic, j->period);
    snprintf(ev.type, sizeof ev.type, "%s", type);
    snprintf(ev.member, sizeof ev.member, "%s", member);
    ev.at_ms = j->end_ms - 1; /* a broadcast: when it was made */
    ev.at_given = 1;
    ev.data = json_deep_copy(data);
    if (!ev.data) {
        j->answered++;
        j->failed = 1;
        return;
    }
    j->inflight++;
    j->refs++;
    atomic_fetch_add_explicit(&sent_total, 1, memory_order_relaxed);
    if (j->broadcast)
        atomic_fetch_add_explicit(&bcast_sent_total, 1, memory_order_relaxed);
    engine_submit_segment(j->cl->e, &ev, json_object_get(j->all, "segment"), on_sent, j);
}

static void on_touched(void *arg, const store_error *err, int64_t ok)
{
    close_job *j = arg;
    if (!job_gone(j) && !err && ok != 1) {
        pc_log(PC_LOG_WARN, "%s %s %s: taken over by another punchd, or cancelled; stopping",
               j->broadcast ? "broadcast" : "close", j->mechanic, j->period);
        j->lost = 1;
        j->answered += json_array_size(j->plan) - j->next_send;
        j->next_send = json_array_size(j->plan);
        maybe_finish(j);
    }
    job_unref(j);
}

/* A timer's turn: touch the close every second, send what the rate allows. */
static void on_pace(evutil_socket_t fd, short what, void *arg)
{
    close_job *j = arg;
    engine *e = j->cl->e;
    int64_t now = pc_now_ms();
    int burst = e->send_rate > 1000 ? e->send_rate / 1000 : 1;
    j->refs++; /* a send may be answered at once, and end the job */
    if (!job_gone(j) && now - j->touched_ms >= 1000) {
        j->touched_ms = now;
        j->refs++;
        store_job key = job_key(j);
        store_close_mark(e->store, e->ns, &key, j->cl->owner, 0, now_ms(j->cl), CLOSE_KEEP_S,
                         j->sent, j->skipped, on_touched, j);
    }
    for (int i = 0; i < burst && !job_gone(j) && j->inflight < CLOSE_INFLIGHT &&
                    j->next_send < json_array_size(j->plan);
         i++)
        send_one(j);
    if (!job_gone(j)) {
        if (j->next_send < json_array_size(j->plan))
            arm(j);
        else
            maybe_finish(j);
    }
    job_unref(j);
}

static void arm(close_job *j)
{
    int rate = j->cl->e->send_rate;
    int64_t every_us = rate >= 1000 ? 1000 : 1000000 / rate;
    struct timeval tv = {(time_t)(every_us / 1000000), (suseconds_t)(every_us % 1000000)};
    evtimer_add(j->timer, &tv);
}

/* A step of the walk over every member: its members become the batch to send. */
static void on_members(void *arg, const store_error *err, const char *next, size_t n,
                       const char *const *members)
{
    close_job *j = arg;
    j->fetching = 0;
    if (!job_gone(j)) {
        if (err) {
            job_end(j, 0, now_ms(j->cl) + 1000);
        } else if (j->lost) {
            /* Taken over or cancelled while the step was read (on_touched): not sent. */
            maybe_finish(j);
        } else {
            json_decref(j->plan);
            j->plan = json_array();
            for (size_t i = 0; j->plan && i < n; i++)
                json_array_append_new(j->plan, json_pack("{s:s, s:O, s:O}", "member", members[i],
                                                         "type", json_object_get(j->all, "type"),
                                                         "data", json_object_get(j->all, "data")));
            j->next_send = j->answered = 0;
            j->walked = 1;
            snprintf(j->cursor, sizeof j->cursor, "%s", next ? next : "0");
            if (!j->plan)
                job_end(j, 0, now_ms(j->cl) + 1000);
            else
                on_pace(-1, 0, j);
        }
    }
    job_unref(j);
}

static void fetch_members(close_job *j)
{
    j->fetching = 1;
    j->refs++;
    store_read_members(j->cl->e->store, j->cl->e->ns, j->cursor, on_members, j);
}

/* plan_text: "plan:<JSON>" as the store holds it. */
static void start_sending(close_job *j, const char *plan_text)
{
    json_error_t jerr;
    json_decref(j->plan);
    j->plan = json_loads(plan_text + 5, 0, &jerr);
    if (json_is_object(j->plan) && json_is_object(json_object_get(j->plan, "all"))) {
        /* send_all: every member, a step of the walk at a time (from the start again after
         * a crash: the members sent before answer as duplicates). */
        j->all = json_incref(json_object_get(j->plan, "all"));
        if (j->broadcast && json_is_integer(json_object_get(j->all, "at")))
            j->end_ms = json_integer_value(json_object_get(j->all, "at")) + 1;
        json_decref(j->plan);
        j->plan = json_array();
        snprintf(j->cursor, sizeof j->cursor, "0");
    }
    if (!json_is_array(j->plan)) {
        pc_log(PC_LOG_ERROR, "close %s %s: the stored plan is unreadable: %s", j->mechanic,
               j->period, jerr.text);
        job_end(j, 0, now_ms(j->cl) + j->cl->e->claim_timeout_ms);
        return;
    }
    if (!(j->timer = evtimer_new(j->cl->e->base, on_pace, j))) {
        job_end(j, 0, now_ms(j->cl) + 1000);
        return;
    }
    j->touched_ms = pc_now_ms();
    on_pace(-1, 0, j);
}

/* ---- decide: the mechanic, for no member ---- */

static void step(close_job *j);

static void on_planned(void *arg, const store_error *err, const char *text, size_t len)
{
    close_job *j = arg;
    if (!job_gone(j)) {
        if (err)
            job_end(j, 0, now_ms(j->cl) + 1000);
        else if (!text || strncmp(text, "plan:", 5) != 0)
            job_end(j, 0, now_ms(j->cl) + j->cl->e->claim_timeout_ms); /* "lost" */
        else
            start_sending(j, text);
    }
    job_unref(j);
}

static void store_plan(close_job *j)
{
    json_t *plan = json_array(), *e;
    size_t i;
    char *text;
    json_array_foreach(j->scratch->effects, i, e) {
        if (!strcmp(json_string_value(json_object_get(e, "op")), "send_all")) {
            json_decref(plan);
            plan = json_pack("{s:{s:O, s:O}}", "all", "type", json_object_get(e, "type"), "data",
                             json_object_get(e, "data"));
            break;
        }
        if (!strcmp(json_string_value(json_object_get(e, "op")), "send"))
            json_array_append_new(
                plan, json_pack("{s:O, s:O, s:O}", "member", json_object_get(e, "member"), "type",
                                json_object_get(e, "type"), "data", json_object_get(e, "data")));
    }
    text = json_dumps(plan, JSON_COMPACT);
    json_decref(plan);
    if (!text) {
        job_end(j, 0, now_ms(j->cl) + 1000);
        return;
    }
    j->refs++;
    store_job key = job_key(j);
    store_close_plan(j->cl->e->store, j->cl->e->ns, &key, j->cl->owner, text, now_ms(j->cl),
                     on_planned, j);
    free(text);
}

static void on_read(void *arg, json_t *result, const pc_error *err)
{
    close_job *j = arg;
    if (job_gone(j)) {
        job_unref(j);
        return;
    }
    if (err && err->status != 422) {
        job_end(j, 0, now_ms(j->cl) + 1000);
    } else {
        mech_run_reply(j->run, result, err ? err->message : NULL);
        step(j);
    }
    job_unref(j);
}

static void step(close_job *j)
{
    pc_error err;
    for (;;) {
        switch (mech_run_step(j->run, &err)) {
        case MECH_WAIT: {
            const mech_request *rq = mech_run_request(j->run);
            if (!resources_is_read(rq->op)) {
                mech_run_reply(j->run, NULL,
                               "a period close only reads (global_value, board_top, board_rank) "
                               "and sends");
                continue;
            }
            j->refs++;
            resources_call(j->cs, rq, on_read, j);
            return;
        }
        case MECH_DONE:
            mech_run_free(j->run);
            j->run = NULL;
            store_plan(j);
            return;
        default:
            pc_log(PC_LOG_WARN, "close %s %s: %s", j->mechanic, j->period, err.message);
            job_end(j, 0, now_ms(j->cl) + j->cl->e->claim_timeout_ms);
            return;
        }
    }
}

static void decide(close_job *j)
{
    engine *e = j->cl->e;
    snprintf(j->ev.id, sizeof j->ev.id, "close:%.64s:%.31s", j->mechanic, j->period);
    snprintf(j->ev.type, sizeof j->ev.type, "period_end:%s", cal_period_name(j->per));
    j->ev.at_ms = j->end_ms - 1;
    j->ev.at_given = 1;
    j->ev.data = json_pack("{s:s, s:s}", "period", j->period, "per", cal_period_name(j->per));
    if (!j->ev.data || !(j->scratch = member_new("")) ||
        !(j->cs = claims_new(e->store, e->ns, &j->ev, 0)) ||
        !(j->run = mech_run_start_close(j->set, &j->ev, j->scratch, j->idx))) {
        job_end(j, 0, now_ms(j->cl) + 1000);
        return;
    }
    mech_run_set_caps(j->run, e->max_outcomes, CLOSE_MAX_SENDS);
    step(j);
}

static void on_claimed(void *arg, const store_error *err, const char *text, size_t len)
{
    close_job *j = arg;
    if (!job_gone(j)) {
        int64_t now = now_ms(j->cl);
        if (err || !text)
            job_end(j, 0, now + 1000);
        else if (!strcmp(text, "done"))
            job_end(j, 1, 0);
        else if (!strcmp(text, "busy"))
            job_end(j, 0, now + 1000);
        else if (!strncmp(text, "plan:", 5))
            start_sending(j, text);
        else if (!j->broadcast)
            decide(j);
        else
            job_end(j, 0, now + j->cl->e->claim_timeout_ms); /* a broadcast has its plan */
    }
    job_unref(j);
}

/* ---- which periods ended ---- */

/*
 * The period that ended last before now (per in tz): its id and its end (the
 * first ms of the current period), found by stepping back into it and then
 * halving the gap.
 */
static void ended_period(int64_t now, int per, const char *tz, char *id, size_t n, int64_t *end)
{
    int64_t cur = cal_period_index(now, tz, 0, per), lo = now - DAY_MS, hi = now;
    int64_t stepms = per == CAL_MONTH || per == CAL_YEAR ? 7 * DAY_MS : DAY_MS;
    while (cal_period_index(lo, tz, 0, per) >= cur)
        lo -= stepms;
    while (hi - lo > 1) {
        int64_t mid = lo + (hi - lo) / 2;
        if (cal_period_index(mid, tz, 0, per) >= cur)
            hi = mid;
        else
            lo = mid;
    }
    *end = hi;
    cal_period_id(hi - 1, tz, 0, per, id, n);
}

/* 1 when a job of name (a mechanic, or a broadcast) is at work here (not ending). */
static int running(const closes *cl, const char *name, int broadcast)
{
    for (const close_job *j = cl->jobs; j; j = j->next)
        if (!j->ending && j->broadcast == broadcast && !strcmp(j->mechanic, name))
            return 1;
    return 0;
}

static close_job *job_new(closes *cl, const char *name, const char *period)
{
    close_job *j = calloc(1, sizeof *j);
    if (!j)
        return NULL;
    j->cl = cl;
    j->refs = 2; /* the job itself + the claim */
    snprintf(j->mechanic, sizeof j->mechanic, "%s", name);
    snprintf(j->period, sizeof j->period, "%s", period);
    j->next = cl->jobs;
    cl->jobs = j;
    cl->refs++;
    return j;
}

static void claim_job(close_job *j)
{
    closes *cl = j->cl;
    store_job key = job_key(j);
    store_close_claim(cl->e->store, cl->e->ns, &key, cl->owner, now_ms(cl), cl->e->claim_timeout_ms,
                      CLOSE_KEEP_S, j->latest, on_claimed, j);
}

static void start_job(closes *cl, mechset *set, size_t idx, const char *name, int per,
                      const char *period, int64_t end_ms, int latest)
{
    close_job *j = job_new(cl, name, period);
    if (!j)
        return;
    j->set = mechset_ref(set);
    j->idx = idx;
    j->per = per;
    j->end_ms = end_ms;
    j->latest = latest;
    claim_job(j);
}

/*
 * The mechanic's ended periods, the oldest first (at most CLOSE_CATCH_UP, up
 * to the latest): the first not done here is claimed — one at a time, so they
 * close in order (the next starts when one is done, job_end()). The store
 * says "done" for an older period of a mechanic that closed none before (a
 * new mechanic closes the latest period only) or that closed a later one.
 */
static void check_mechanic(closes *cl, mechset *set, size_t idx, const char *name, int per,
                           int64_t now)
{
    char ids[CLOSE_CATCH_UP][32];
    int64_t ends[CLOSE_CATCH_UP], t = now;
    if (running(cl, name, 0))
        return;
    for (int k = 0; k < CLOSE_CATCH_UP; k++) {
        ended_period(t, per, mechset_timezone(set), ids[k], sizeof ids[k], &ends[k]);
        t = ends[k] - 1; /* in the period just found: the one before it ended last */
    }
    for (int k = CLOSE_CATCH_UP - 1; k >= 0; k--) {
        close_seen *s = seen_find(cl, name, ids[k]);
        if (s && s->done)
            continue;
        if (!s || s->retry_at <= now)
            start_job(cl, set, idx, name, per, ids[k], ends[k], k == 0);
        return;
    }
}

/* ---- broadcasts: jobs made by POST /v1/broadcasts (broadcasts.c) ---- */

static void on_open_broadcasts(void *arg, const store_error *err, size_t n, const char *const *ids)
{
    closes *cl = arg;
    int64_t now = now_ms(cl);
    for (size_t i = 0; !err && !cl->dead && i < n; i++) {
        char seen_name[PC_ID_MAX + 2];
        close_seen *s;
        close_job *j;
        if (!pc_valid_id(ids[i]) || strlen(ids[i]) > BROADCAST_ID_MAX || running(cl, ids[i], 1))
            continue;
        snprintf(seen_name, sizeof seen_name, "!%s", ids[i]);
        if ((s = seen_find(cl, seen_name, "")) && (s->done || s->retry_at > now))
            continue;
        if ((j = job_new(cl, ids[i], ""))) {
            j->broadcast = 1;
            claim_job(j);
        }
    }
    cl->fetching_broadcasts = 0;
    closes_drop(cl);
}

void closes_check(closes *cl, int64_t now)
{
    mechset *set;
    const char *name;
    int per, r;
    if (!store_ready(cl->e->store) || !(set = mech_holder_acquire(cl->e->holder)))
        return;
    for (size_t i = 0; (r = mechset_close_at(set, i, &name, &per)) >= 0; i++)
        if (r)
            check_mechanic(cl, set, i, name, per, now);
    mechset_unref(set);
    if (!cl->fetching_broadcasts) {
        cl->fetching_broadcasts = 1;
        cl->refs++;
        store_bcast_list(cl->e->store, cl->e->ns, BCAST_OPEN_MAX, on_open_broadcasts, cl);
    }
}

closes *closes_new(engine *e)
{
    closes *cl = calloc(1, sizeof *cl);
    if (!cl)
        return NULL;
    cl->e = e;
    cl->refs = 1;
    /* Unique enough across processes and hosts: pid, address, and the clock at start. */
    snprintf(cl->owner, sizeof cl->owner, "%ld-%p-%lld", (long)getpid(), (void *)cl,
             (long long)pc_now_ms());
    return cl;
}

void closes_free(closes *cl)
{
    if (!cl)
        return;
    cl->dead = 1;
    for (close_job *j = cl->jobs; j; j = j->next)
        if (j->timer)
            evtimer_del(j->timer);
    /* Jobs that wait for nothing end now; the others when their callbacks come. */
    for (close_job *j = cl->jobs, *next; j; j = next) {
        next = j->next;
        if (!j->ending) {
            j->ending = 1;
            job_unref(j);
        }
    }
    closes_drop(cl);
}

int closes_running(const closes *cl)
{
    return cl->jobs != NULL || cl->fetching_broadcasts;
}

void closes_totals(uint64_t *done, uint64_t *sent)
{
    *done = atomic_load_explicit(&done_total, memory_order_relaxed);
    *sent = atomic_load_explicit(&sent_total, memory_order_relaxed);
}

uint64_t closes_broadcast_events(void)
{
    return atomic_load_explicit(&bcast_sent_total, memory_order_relaxed);
}
