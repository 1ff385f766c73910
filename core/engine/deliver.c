/*
 * The deliverer (punchcard/webhooks.h): reads the index of outboxes with
 * entries due, and works each member's outbox under a lease in Redis, so one
 * deliverer at a time, across workers and punchd, sends a member's entries:
 *
 *   index due -> HEAD (lease + first entry) -> the sender posts it
 *             -> delivered: ACK done (taken off), then the next entry
 *             -> failed: ACK fail (a try counted), listed again after the
 *                backoff; past max_attempts: a dead letter, then ACK done
 *             -> empty: off the index (when listed long enough ago)
 *
 * A member's next entry is never sent before the one ahead of it was
 * delivered or dead-lettered. An entry's id is the same on every try; a
 * deliverer that dies after sending and before its ACK leaves the entry first,
 * so it is sent again (at least once): receivers deduplicate by id.
 *
 * Callbacks in flight hold a reference on the deliverer, so freeing it while
 * Redis or the sender still owes answers is safe; the last one frees it.
 */
#include "outbox.h"
#include "punchcard/webhooks.h"

#include <event2/event.h>
#include <openssl/rand.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static atomic_uint_fast64_t dead_total;

uint64_t engine_webhooks_dead_total(void)
{
    return atomic_load(&dead_total);
}

typedef struct job job;

struct engine_deliverer {
    engine *e;
    engine_deliverer_config cfg;
    struct event *timer;
    int refs; /* 1 for the owner + 1 per job and per index read in flight */
    int dead;
    int polling;
    int jobs;
    job *list; /* the members being worked, so the next poll does not start them twice */
    char owner[48];
};

struct job {
    engine_deliverer *d;
    job *prev, *next;
    char member[PC_ID_MAX + 16];
    int64_t score; /* the index score it was found with */
    char id[64];
    char *body;
    json_t *payload;
    int64_t tries;
};

static void unref(engine_deliverer *d)
{
    if (--d->refs == 0)
        free(d);
}

static void job_end(job *j)
{
    engine_deliverer *d = j->d;
    if (j->prev)
        j->prev->next = j->next;
    else
        d->list = j->next;
    if (j->next)
        j->next->prev = j->prev;
    d->jobs--;
    free(j->body);
    json_decref(j->payload);
    free(j);
    unref(d);
}

static void head(job *j);

/* The outbox was found empty: off the index, unless listed so recently its commit may be coming. */
static void emptied(job *j)
{
    engine_deliverer *d = j->d;
    int64_t now = engine_now(d->e);
    if (j->score % 2 == 0 && j->score / 2 > now - d->cfg.settle_ms)
        store_outbox_retry_at(d->e->store, d->e->ns, j->member, now + d->cfg.settle_ms, 1, NULL,
                              NULL);
    else
        store_outbox_unindex(d->e->store, d->e->ns, j->member, j->score, NULL, NULL);
    job_end(j);
}

static void on_acked_done(void *arg, const store_error *err, int64_t left, int64_t tries)
{
    job *j = arg;
    if (err || left < 0 || j->d->dead) {
        job_end(j);
        return;
    }
    if (left > 0)
        head(j);
    else
        emptied(j);
}

static void on_acked_fail(void *arg, const store_error *err, int64_t left, int64_t tries)
{
    job *j = arg;
    engine_deliverer *d = j->d;
    if (!err && left >= 0) {
        /* base, 2 base, 4 base ... up to the cap. */
        int64_t delay = d->cfg.retry_base_ms;
        for (int64_t i = 1; i < tries && delay < d->cfg.retry_max_ms; i++)
            delay *= 2;
        if (delay > d->cfg.retry_max_ms)
            delay = d->cfg.retry_max_ms;
        store_outbox_retry_at(d->e->store, d->e->ns, j->member, engine_now(d->e) + delay, 0, NULL,
                              NULL);
    }
    job_end(j);
}

static void on_dead_put(void *arg, const store_error *err)
{
    job *j = arg;
    if (err || j->d->dead) {
        /* Still first: the next try dead-letters it again (the same id, the same record). */
        job_end(j);
        return;
    }
    atomic_fetch_add(&dead_total, 1);
    store_outbox_ack(j->d->e->store, j->d->e->ns, j->member, j->d->owner, j->id, 1, NULL, 1,
                     on_acked_done, j);
}

static void dead_letter(job *j, const engine_webhook_result *r)
{
    engine_deliverer *d = j->d;
    char at[32], *text;
    json_t *rec;
    pc_time_format(engine_now(d->e), at, sizeof at);
    rec = json_pack("{s:s, s:s, s:O?, s:I, s:s, s:s, s:O?}", "id", j->id, "member", j->member,
                    "type", json_object_get(j->payload, "type"), "attempts",
                    (json_int_t)(j->tries + 1), "error", r->error ? r->error : "not delivered",
                    "dead_at", at, "payload", j->payload);
    text = rec ? json_dumps(rec, JSON_COMPACT) : NULL;
    if (text) {
        json_t *log = json_pack("{s:s, s:s, s:O?, s:s, s:I, s:s}", "id", j->id, "member", j->member,
                                "type", json_object_get(j->payload, "type"), "result", "dead",
                                "attempt", (json_int_t)(j->tries + 1), "at", at);
        engine_webhook_log(d->e, log);
        pc_log(PC_LOG_WARN, "webhook %s of %s: dead after %lld attempts: %s", j->id, j->member,
               (long long)(j->tries + 1), r->error ? r->error : "not delivered");
        store_webhooks_dead_put(d->e->store, d->e->ns, j->id, text, on_dead_put, j);
    } else {
        job_end(j);
    }
    free(text);
    json_decref(rec);
}

static void on_sent(void *ctx, const engine_webhook_result *r)
{
    job *j = ctx;
    engine_deliverer *d = j->d;
    if (r->cancelled || d->dead) {
        job_end(j);
        return;
    }
    if (r->delivered)
        store_outbox_ack(d->e->store, d->e->ns, j->member, d->owner, j->id, 1, NULL, 1,
                         on_acked_done, j);
    else if (j->tries + 1 >= d->cfg.max_attempts)
        dead_letter(j, r);
    else
        store_outbox_ack(d->e->store, d->e->ns, j->member, d->owner, j->id, 0, r->ok, 1,
                         on_acked_fail, j);
}

static void on_head(void *arg, const store_error *err, const store_outbox_entry *h)
{
    job *j = arg;
    engine_deliverer *d = j->d;
    const char *sp;
    engine_webhook w;
    if (err || d->dead || h->status == STORE_OUTBOX_LEASED) {
        job_end(j);
        return;
    }
    if (h->status == STORE_OUTBOX_EMPTY) {
        emptied(j);
        return;
    }
    sp = memchr(h->entry, ' ', h->len);
    free(j->body);
    json_decref(j->payload);
    j->body = NULL;
    j->payload = NULL;
    if (!sp || (size_t)(sp - h->entry) >= sizeof j->id ||
        !(j->body = strndup(sp + 1, h->len - (size_t)(sp - h->entry) - 1)) ||
        !(j->payload = json_loads(j->body, 0, NULL))) {
        pc_log(PC_LOG_ERROR, "webhooks: the first entry of %s's outbox is unreadable", j->member);
        job_end(j);
        return;
    }
    memcpy(j->id, h->entry, (size_t)(sp - h->entry));
    j->id[sp - h->entry] = '\0';
    j->tries = h->tries;
    w.id = j->id;
    w.type = json_string_value(json_object_get(j->payload, "type"));
    w.member = j->member;
    w.body = j->body;
    w.body_len = strlen(j->body);
    w.tries = h->tries;
    w.ok = h->ok;
    if (!w.type)
        w.type = "";
    d->cfg.send(d->cfg.arg, &w, on_sent, j);
}

static void head(job *j)
{
    engine_deliverer *d = j->d;
    store_outbox_head(d->e->store, d->e->ns, j->member, d->owner, engine_now(d->e), d->cfg.lease_ms,
                      on_head, j);
}

static void start_job(engine_deliverer *d, const char *member, int64_t score)
{
    job *j;
    for (j = d->list; j; j = j->next)
        if (!strcmp(j->member, member))
            return;
    if (strlen(member) >= sizeof j->member || !(j = calloc(1, sizeof *j)))
        return;
    j->d = d;
    snprintf(j->member, sizeof j->member, "%s", member);
    j->score = score;
    j->next = d->list;
    if (d->list)
        d->list->prev = j;
    d->list = j;
    d->jobs++;
    d->refs++;
    head(j);
}

static void on_due(void *arg, const store_error *err, size_t n, const store_due *due)
{
    engine_deliverer *d = arg;
    d->polling = 0;
    for (size_t i = 0; !err && !d->dead && i < n && d->jobs < d->cfg.parallel; i++)
        start_job(d, due[i].member, due[i].due_ms);
    unref(d);
}

static void on_poll(evutil_socket_t fd, short what, void *arg)
{
    engine_deliverer *d = arg;
    if (d->dead || d->polling || d->jobs >= d->cfg.parallel)
        return;
    d->polling = 1;
    d->refs++;
    /* More than the free places: some may be worked already. */
    store_outbox_range(d->e->store, d->e->ns, engine_now(d->e), d->cfg.parallel * 2, on_due, d);
}

engine_deliverer *engine_deliverer_new(engine *e, const engine_deliverer_config *cfg)
{
    engine_deliverer *d = calloc(1, sizeof *d);
    struct timeval tv;
    unsigned char rnd[8];
    if (!d || !cfg || !cfg->send) {
        free(d);
        return NULL;
    }
    d->e = e;
    d->cfg = *cfg;
    if (d->cfg.poll_ms <= 0)
        d->cfg.poll_ms = 500;
    if (d->cfg.parallel <= 0)
        d->cfg.parallel = 16;
    if (d->cfg.max_attempts <= 0)
        d->cfg.max_attempts = 8;
    if (d->cfg.retry_base_ms <= 0)
        d->cfg.retry_base_ms = 1000;
    if (d->cfg.retry_max_ms <= 0)
        d->cfg.retry_max_ms = 3600000;
    if (d->cfg.lease_ms <= 0)
        d->cfg.lease_ms = 60000;
    if (d->cfg.settle_ms <= 0)
        d->cfg.settle_ms = 30000;
    d->refs = 1;
    /* The lease's owner: this deliverer, unlike any other process's or worker's. */
    if (RAND_bytes(rnd, sizeof rnd) != 1)
        memset(rnd, 0, sizeof rnd);
    snprintf(d->owner, sizeof d->owner, "%d-%02x%02x%02x%02x%02x%02x%02x%02x", (int)getpid(),
             rnd[0], rnd[1], rnd[2], rnd[3], rnd[4], rnd[5], rnd[6], rnd[7]);
    d->timer = event_new(e->base, -1, EV_PERSIST, on_poll, d);
    tv.tv_sec = d->cfg.poll_ms / 1000;
    tv.tv_usec = (d->cfg.poll_ms % 1000) * 1000;
    if (!d->timer || event_add(d->timer, &tv)) {
        if (d->timer)
            event_free(d->timer);
        free(d);
        return NULL;
    }
    return d;
}

void engine_deliverer_free(engine_deliverer *d)
{
    if (!d)
        return;
    d->dead = 1;
    event_free(d->timer);
    d->timer = NULL;
    unref(d);
}
