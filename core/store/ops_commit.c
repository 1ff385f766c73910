/*
 * The commit (ops-internal.h): one event's changes to its member, its ledger
 * entries, its webhooks and its stored response, built here and applied by
 * scripts/commit.lua all or nothing, once per event id, only at the version
 * the event was decided on.
 *
 * Commits go in groups. On a single Redis every commit handed to
 * store_commit_send() in one turn of the loop waits in the store's open
 * group, and the group goes to Redis as ONE EVALSHA of commit.lua at the end
 * of the turn (store_turn_arm(): everything ready in that turn, a batch's
 * events or the events whose requests and replies arrived together), or at
 * once when it reaches COMMIT_GROUP_MAX commits or COMMIT_GROUP_BYTES (a
 * turn's commits then go as several groups, pipelined). The
 * script applies the commits in the order they were handed over, each exactly
 * as it would alone, and answers one reply per commit; each commit's callback
 * gets its own answer, in that order. A failure of the whole command (a lost
 * connection, a timeout, a script Redis refused) answers every commit of the
 * group the same, as it would have answered each alone. In order and each
 * on its own, a group applies what the same commits pipelined one by one
 * would: two commits of one member (the engine never has two in flight) would
 * simply apply in turn.
 *
 * On a Redis Cluster a script's keys must be one slot, and two members
 * rarely share one: there every commit is sent at once as a group of one.
 */
#include "conn-internal.h"
#include "keys-internal.h"
#include "store-scripts-gen.h"

#include <stdlib.h>
#include <string.h>

/*
 * The caps of one group: at either it is sent at once. Redis reads a client's
 * commands 16 KiB at a time and runs a command only once it has all of it,
 * then writes the replies of what it ran: a group much larger than that
 * would hold its first commit back until its last byte came, and every
 * reply until its last commit ran, so punchd and Redis would take turns
 * instead of working at once. Past a few commits a group saves little more
 * (the call's own cost is already shared).
 */
#define COMMIT_GROUP_MAX   32
#define COMMIT_GROUP_BYTES (16 << 10)

/*
 * MessagePack (strings and counts), which commit.lua turns into one Lua table
 * with one cmsgpack.unpack: a value packed costs Redis a Lua string, where an
 * argument of its own costs it an object, a Lua string and a slot in ARGV
 * (about three times as many instructions). The same buffer type holds the
 * RESP bulk strings of the keys and the response.
 */
typedef struct packed {
    char *p; /* the commit's own room (packed_on()) until it outgrows it, then the heap */
    size_t len, cap;
    const char *failed;
    int heap; /* p was allocated */
} packed;

/* b starts on room (n bytes) of its owner: no allocation while it fits. */
static void packed_on(packed *b, char *room, size_t n)
{
    b->p = room;
    b->len = 0;
    b->cap = n;
    b->failed = NULL;
    b->heap = 0;
}

static void packed_free(packed *b)
{
    if (b->heap)
        free(b->p);
}

static void pack_raw(packed *b, const void *s, size_t n)
{
    if (b->failed)
        return;
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 256;
        char *np;
        while (cap < b->len + n)
            cap *= 2;
        if (!(np = b->heap ? realloc(b->p, cap) : malloc(cap))) {
            b->failed = "out of memory";
            return;
        }
        if (!b->heap && b->len)
            memcpy(np, b->p, b->len);
        b->p = np;
        b->cap = cap;
        b->heap = 1;
    }
    if (n)
        memcpy(b->p + b->len, s, n);
    b->len += n;
}

/* A str of n bytes (fixstr, str 8, 16 or 32: the shortest that fits). */
static void pack(packed *b, const char *s, size_t n)
{
    unsigned char h[5];
    size_t hl = 1;
    if (n < 32) {
        h[0] = (unsigned char)(0xa0 | n);
    } else if (n < 256) {
        h[0] = 0xd9, h[1] = (unsigned char)n, hl = 2;
    } else if (n < 65536) {
        h[0] = 0xda, h[1] = (unsigned char)(n >> 8), h[2] = (unsigned char)n, hl = 3;
    } else if (n <= 0xffffffffu) {
        h[0] = 0xdb, hl = 5;
        for (int i = 0; i < 4; i++)
            h[1 + i] = (unsigned char)(n >> (24 - 8 * i));
    } else {
        if (!b->failed)
            b->failed = "a value too long";
        return;
    }
    if (!b->failed && b->len + hl + n <= b->cap) { /* the usual case: room for both */
        memcpy(b->p + b->len, h, hl);
        if (n)
            memcpy(b->p + b->len + hl, s, n);
        b->len += hl + n;
        return;
    }
    pack_raw(b, h, hl);
    pack_raw(b, s, n);
}

/* A count (positive fixint or uint 32), which Lua gets as a number. */
static void pack_count(packed *b, size_t n)
{
    unsigned char h[5] = {0xce, (unsigned char)(n >> 24), (unsigned char)(n >> 16),
                          (unsigned char)(n >> 8), (unsigned char)n};
    if (n > 0xffffffffu && !b->failed)
        b->failed = "too many values";
    else if (n < 128)
        pack_raw(b, h + 4, 1);
    else
        pack_raw(b, h, 5);
}

static void pack_int(packed *b, int64_t v)
{
    char tmp[24];
    pack(b, tmp, pc_format_int(tmp, v));
}

/* A whole RESP bulk string. */
static void bulk(packed *b, const char *s, size_t n)
{
    char h[32];
    pack_raw(b, h, (size_t)(store_resp_head(h, '$', n) - h));
    pack_raw(b, s, n);
    pack_raw(b, "\r\n", 2);
}

/*
 * The ledger stream's schema (query.c reads it back): its fields in order,
 * the optional ones with the bit commit.lua knows them by. An entry of these
 * fields in this order goes as 'A' + its bits and its values; commit.lua
 * writes the names back (the stream holds the same as if they were sent).
 */
static const struct {
    const char *name;
    int bit;
} ledger_schema[] = {
    {"kind", 0},    {"pending", 1},  {"partner", 2},     {"reason", 4},   {"event", 0},
    {"type", 0},    {"mechanic", 0}, {"experiments", 8}, {"currency", 0}, {"delta", 0},
    {"balance", 0}, {"at", 0},       {"mv", 0},
};
#define LEDGER_SCHEMA (int)(sizeof ledger_schema / sizeof ledger_schema[0])

/*
 * The commit's arguments, built in the order the engine gives them and sent
 * as commit.lua reads them: KEYS state, ledger, event, outbox; ARGV the
 * response, then everything else packed in one argument: expected version,
 * new version, TTL, the counts S D O, the S field value pairs, the D fields,
 * the O webhook entries, then the ledger entries to the end (an entry of the
 * stream's schema as its letter and values, written as they come; any other
 * as 'g' and its names and values). The keys and the response are kept as
 * RESP bulk strings, copied once into the group's command; the packed
 * argument is written there from its parts. A usual commit fits in the
 * struct's own room: one allocation.
 */
struct store_commit {
    packed keys;                 /* the four keys, RESP bulk strings */
    packed response;             /* the response, a RESP bulk string */
    size_t state_off, state_len; /* the state key inside keys (the cluster's slot) */
    int64_t version;             /* expected */
    int ttl_s;                   /* of the dedupe record */
    packed head;                 /* versions, TTL, counts (at store_commit_send()) */
    packed set;                  /* field value pairs */
    packed del;                  /* fields to delete */
    packed out;                  /* webhook entries (store_commit_outbox()) */
    packed led;                  /* the ledger entries */
    size_t nset, ndel, nout;
    const char *failed; /* why it cannot be sent (a key too long, out of memory) */
    /* The open ledger entry: in the schema's order so far (its values packed in led
     * from start, after its letter), or not (slow: its names and values in entry). */
    int open, slow;
    int at, bits, nv;           /* its place in the schema, optional fields, values */
    size_t start;               /* where it starts in led */
    int names[LEDGER_SCHEMA];   /* each value's field in the schema */
    size_t voff[LEDGER_SCHEMA]; /* where each value is packed in led */
    store_args entry;           /* the slow entry: name value pairs */
    char keys_room[256], response_room[640], head_room[64], set_room[512], led_room[384];
};

static void commit_key(store_commit *c, const char *key, int n)
{
    if (n < 0) {
        if (!c->failed)
            c->failed = "key too long";
        return;
    }
    bulk(&c->keys, key, (size_t)n);
}

store_commit *store_commit_new(const char *ns, const char *member, const char *event_id,
                               int64_t version, const char *response, int ttl_s)
{
    store_commit *c = malloc(sizeof *c);
    char key[PC_KEY_MAX];
    int n;
    if (!c)
        return NULL;
    packed_on(&c->keys, c->keys_room, sizeof c->keys_room);
    packed_on(&c->response, c->response_room, sizeof c->response_room);
    packed_on(&c->head, c->head_room, sizeof c->head_room);
    packed_on(&c->set, c->set_room, sizeof c->set_room);
    packed_on(&c->del, NULL, 0);
    packed_on(&c->out, NULL, 0);
    packed_on(&c->led, c->led_room, sizeof c->led_room);
    c->state_off = c->state_len = 0;
    c->nset = c->ndel = c->nout = 0;
    c->failed = NULL;
    c->open = c->slow = 0;
    memset(&c->entry, 0, sizeof c->entry);
    n = pc_member_key(key, sizeof key, ns, member, "state");
    commit_key(c, key, n);
    if (n >= 0) {
        c->state_len = (size_t)n;
        c->state_off = c->keys.len - 2 - (size_t)n;
    }
    commit_key(c, key, pc_member_key(key, sizeof key, ns, member, "ledger"));
    commit_key(c, key, keys_event(key, sizeof key, ns, member, event_id));
    commit_key(c, key, pc_member_key(key, sizeof key, ns, member, "outbox"));
    bulk(&c->response, response, strlen(response));
    c->version = version;
    c->ttl_s = ttl_s;
    return c;
}

void store_commit_field(store_commit *c, const char *field, const char *value)
{
    if (value) {
        pack(&c->set, field, strlen(field));
        pack(&c->set, value, strlen(value));
        c->nset++;
    } else {
        pack(&c->del, field, strlen(field));
        c->ndel++;
    }
}

void store_commit_outbox(store_commit *c, const char *entry)
{
    pack(&c->out, entry, strlen(entry));
    c->nout++;
}

void store_commit_entry_begin(store_commit *c)
{
    if (c->open && !c->failed)
        c->failed = "a ledger entry was not ended";
    c->open = 1;
    c->slow = 0;
    c->at = c->bits = c->nv = 0;
    c->start = c->led.len;
    pack(&c->led, "A", 1); /* its letter, once its fields are known */
}

/* A value packed at p: its bytes and length. */
static const char *unpacked(const char *p, size_t *n)
{
    const unsigned char *u = (const unsigned char *)p;
    if ((u[0] & 0xe0) == 0xa0) {
        *n = u[0] & 0x1f;
        return p + 1;
    }
    if (u[0] == 0xd9) {
        *n = u[1];
        return p + 2;
    }
    if (u[0] == 0xda) {
        *n = (size_t)u[1] << 8 | u[2];
        return p + 3;
    }
    *n = (size_t)u[1] << 24 | (size_t)u[2] << 16 | (size_t)u[3] << 8 | u[4];
    return p + 5;
}

/* The open entry is not in the schema's order: its names and values so far go to entry. */
static void entry_slow(store_commit *c)
{
    c->slow = 1;
    c->entry.n = 0;
    c->entry.used = 0;
    if (c->led.failed)
        return;
    for (int i = 0; i < c->nv; i++) {
        size_t n;
        const char *v = unpacked(c->led.p + c->voff[i], &n);
        store_args_str(&c->entry, ledger_schema[c->names[i]].name);
        store_args_push(&c->entry, v, n);
    }
    c->led.len = c->start;
}

static void entry_put(store_commit *c, const char *name, const char *value, size_t n)
{
    if (!c->slow) {
        int at = c->at;
        while (at < LEDGER_SCHEMA && ledger_schema[at].bit && strcmp(ledger_schema[at].name, name))
            at++;
        if (at < LEDGER_SCHEMA && !strcmp(ledger_schema[at].name, name)) {
            c->bits |= ledger_schema[at].bit;
            c->names[c->nv] = at;
            c->voff[c->nv++] = c->led.len;
            c->at = at + 1;
            pack(&c->led, value, n);
            return;
        }
        entry_slow(c);
    }
    store_args_str(&c->entry, name);
    store_args_push(&c->entry, value, n);
}

void store_commit_entry_str(store_commit *c, const char *name, const char *value)
{
    entry_put(c, name, value, strlen(value));
}

void store_commit_entry_int(store_commit *c, const char *name, int64_t value)
{
    char tmp[24];
    entry_put(c, name, tmp, pc_format_int(tmp, value));
}

void store_commit_entry_end(store_commit *c)
{
    store_args *e = &c->entry;
    if (!c->slow) {
        int at = c->at;
        while (at < LEDGER_SCHEMA && ledger_schema[at].bit)
            at++;
        if (at == LEDGER_SCHEMA) {
            /* In the schema: its letter is 'A' + its optional fields (after the fixstr byte). */
            if (!c->led.failed)
                c->led.p[c->start + 1] = (char)('A' + c->bits);
            c->open = 0;
            return;
        }
        entry_slow(c);
    }
    pack(&c->led, "g", 1);
    pack_count(&c->led, (size_t)e->n / 2);
    for (int i = 0; i < e->n; i++)
        pack(&c->led, e->text + e->off[i], e->len[i]);
    if (e->failed && !c->led.failed)
        c->led.failed = e->failed;
    c->open = 0;
}

void store_parse_commit(redisReply *r, const store_error *err, const char *op, store_cb cb,
                        void *arg)
{
    store_commit_fn *fn = (store_commit_fn *)cb;
    store_committed res = {0};
    store_pairs_buf b = {0};
    store_error bad;
    redisReply *v;

    if (err)
        goto fail;
    /* {0, new version} | {1, stored response} | {2, {field, value, ...}} */
    if (r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
        r->element[0]->type != REDIS_REPLY_INTEGER)
        goto bad;
    v = r->element[1];
    switch (r->element[0]->integer) {
    case 0: /* the new version as commit.lua was given it: text (no number to format) */
        if (v->type == REDIS_REPLY_INTEGER) {
            res.version = v->integer;
        } else {
            char *end = NULL;
            if (v->type != REDIS_REPLY_STRING)
                goto bad;
            res.version = pc_strtoll(v->str, &end);
            if (end == v->str || *end)
                goto bad;
        }
        res.outcome = STORE_COMMITTED;
        break;
    case 1:
        if (v->type != REDIS_REPLY_STRING)
            goto bad;
        res.outcome = STORE_APPLIED_BEFORE;
        res.stored = v->str;
        res.stored_len = v->len;
        break;
    case 2:
        if (store_pairs_from(&b, v))
            goto bad;
        res.outcome = STORE_VERSION_MOVED;
        res.state = b.pairs;
        break;
    default:
        goto bad;
    }
    fn(arg, NULL, &res);
    store_pairs_release(&b);
    return;
bad:
    err = store_bad_reply(op, &bad);
fail:
    fn(arg, err, NULL);
}

void store_commit_free(store_commit *c)
{
    if (!c)
        return;
    packed_free(&c->keys);
    packed_free(&c->response);
    packed_free(&c->head);
    packed_free(&c->set);
    packed_free(&c->del);
    packed_free(&c->out);
    packed_free(&c->led);
    store_args_free(&c->entry);
    free(c);
}

/* The packed argument's head; NULL, or why c cannot be sent. */
static const char *commit_finish(store_commit *c)
{
    const packed *parts[] = {&c->keys, &c->response, &c->set, &c->del, &c->out, &c->led};
    if (c->open && !c->failed)
        c->failed = "a ledger entry was not ended";
    pack_int(&c->head, c->version);
    pack_int(&c->head, c->version + 1);
    pack_int(&c->head, c->ttl_s);
    pack_count(&c->head, c->nset);
    pack_count(&c->head, c->ndel);
    pack_count(&c->head, c->nout);
    if (c->head.failed && !c->failed)
        c->failed = c->head.failed;
    for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++)
        if (parts[i]->failed && !c->failed)
            c->failed = parts[i]->failed;
    return c->failed;
}

/* The packed argument's length (without its RESP header). */
static size_t packed_len(const store_commit *c)
{
    return c->head.len + c->set.len + c->del.len + c->out.len + c->led.len;
}

/* What c adds to the group's command: its bulk strings and their headers. */
static size_t commit_bytes(const store_commit *c)
{
    return c->keys.len + c->response.len + 32 + packed_len(c);
}

/* ---- groups ---- */

typedef struct grouped {
    store_commit *c; /* until the group's command is written */
    store_commit_fn *fn;
    void *arg;
} grouped;

struct commit_group {
    int n;
    size_t bytes;
    grouped at[COMMIT_GROUP_MAX];
};

/* A group's waiter has a callback (the store answers it); its commits' are in the group. */
static void group_cb(void)
{
}

/* The reply of a group: one per commit, in order; an error of the whole answers each. */
static void parse_group(redisReply *r, const store_error *err, const char *op, store_cb cb,
                        void *arg)
{
    commit_group *g = arg;
    store_error bad;
    (void)cb;
    if (!err && (r->type != REDIS_REPLY_ARRAY || r->elements != (size_t)g->n))
        err = store_bad_reply(op, &bad);
    for (int i = 0; i < g->n; i++) {
        grouped *x = &g->at[i];
        if (err) {
            x->fn(x->arg, err, NULL);
        } else if (r->element[i]->type == REDIS_REPLY_ERROR) {
            store_error e;
            store_reply_error(r->element[i], op, &e);
            x->fn(x->arg, &e, NULL);
        } else {
            store_parse_commit(r->element[i], NULL, op, (store_cb)x->fn, x->arg);
        }
    }
    free(g);
}

/* Writes the group's EVALSHA: every commit's keys, then every commit's arguments. */
static char *group_command(const commit_group *g, size_t *len)
{
    char *cmd = malloc(g->bytes + 128), *d = cmd;
    if (!cmd)
        return NULL;
    d = store_resp_head(d, '*', 3 + 6 * (size_t)g->n);
    memcpy(d, "$7\r\nEVALSHA\r\n$40\r\n", 18);
    d += 18;
    memcpy(d, store_script_commit.sha, 40);
    d += 40;
    *d++ = '\r';
    *d++ = '\n';
    {
        char nk[24];
        size_t nl = pc_format_int(nk, 4 * (int64_t)g->n);
        d = store_resp_head(d, '$', nl);
        memcpy(d, nk, nl);
        d += nl;
        *d++ = '\r';
        *d++ = '\n';
    }
    for (int i = 0; i < g->n; i++) {
        memcpy(d, g->at[i].c->keys.p, g->at[i].c->keys.len);
        d += g->at[i].c->keys.len;
    }
    for (int i = 0; i < g->n; i++) {
        const store_commit *c = g->at[i].c;
        const packed *parts[] = {&c->head, &c->set, &c->del, &c->out, &c->led};
        memcpy(d, c->response.p, c->response.len);
        d += c->response.len;
        d = store_resp_head(d, '$', packed_len(c));
        for (size_t k = 0; k < sizeof parts / sizeof parts[0]; k++) {
            if (parts[k]->len)
                memcpy(d, parts[k]->p, parts[k]->len);
            d += parts[k]->len;
        }
        *d++ = '\r';
        *d++ = '\n';
    }
    *len = (size_t)(d - cmd);
    return cmd;
}

void store_commit_flush(store *s)
{
    commit_group *g = s->group;
    waiter w = {.parse = parse_group, .cb = group_cb, .op = "commit", .arg = g};
    char key[PC_KEY_MAX], *cmd;
    size_t len = 0, keylen;
    if (!g)
        return;
    s->group = NULL;
    cmd = group_command(g, &len);
    /* The first commit's state key routes the command (a cluster's group is one commit). */
    keylen = g->at[0].c->state_len < sizeof key ? g->at[0].c->state_len : 0;
    memcpy(key, g->at[0].c->keys.p + g->at[0].c->state_off, keylen);
    for (int i = 0; i < g->n; i++) {
        store_commit_free(g->at[i].c);
        g->at[i].c = NULL;
    }
    store_send_formatted(s, &w, key, keylen, cmd, len);
}

void store_commit_drop(store *s, const char *why)
{
    commit_group *g = s->group;
    store_error e = {STORE_UNAVAILABLE, "commit", why};
    if (!g)
        return;
    s->group = NULL;
    for (int i = 0; i < g->n; i++) {
        store_commit_free(g->at[i].c);
        g->at[i].c = NULL;
        g->at[i].fn(g->at[i].arg, &e, NULL);
    }
    free(g);
}

void store_commit_send(store *s, store_commit *c, store_commit_fn *fn, void *arg)
{
    commit_group *g;
    const char *why = commit_finish(c);
    if (why) {
        store_commit_free(c);
        store_fail_now("commit", why, store_parse_commit, (store_cb)fn, arg);
        return;
    }
    if (s->freeing) {
        store_error e = {STORE_UNAVAILABLE, "commit", "redis connection closed"};
        store_commit_free(c);
        fn(arg, &e, NULL);
        return;
    }
    if (s->group && s->group->bytes + commit_bytes(c) > COMMIT_GROUP_BYTES)
        store_commit_flush(s);
    if (!(g = s->group)) {
        if (!(g = malloc(sizeof *g))) {
            store_error e = {STORE_FAILED, "commit", "out of memory"};
            store_commit_free(c);
            fn(arg, &e, NULL);
            return;
        }
        g->n = 0;
        g->bytes = 0;
        s->group = g;
    }
    g->at[g->n++] = (grouped){c, fn, arg};
    g->bytes += commit_bytes(c);
    if (s->cl || g->n == COMMIT_GROUP_MAX || g->bytes >= COMMIT_GROUP_BYTES)
        store_commit_flush(s);
    else
        store_turn_arm(s);
}
