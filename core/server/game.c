/*
 * The game's HTTP routes (issue 4), reading the keys core/engine/game_ops.c
 * writes:
 *   GET  /v1/draws/{name}            pool left and wins per prize, epoch, the
 *                                    SHA-256 of the current secret, revealed secrets
 *   POST /v1/draws/{name}/rotate     starts a new epoch and reveals the old secret
 *   POST /v1/draws/{name}/refill     {"prize", "add"}: adds prizes to the current period
 *   GET  /v1/leaderboards/{name}?top=&member=&period=   top N and a member's rank
 */
#include "server-internal.h"
#include "common/calendar-internal.h"
#include "model/draw-internal.h"
#include "store/store-internal.h"

#include <event2/buffer.h>
#include <event2/keyvalq_struct.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

typedef struct game_req {
    struct evhttp_request *req;
    server *s; /* for its figures (in flight, answers by class) and send_json */
    store *st;
    char ns[64];
    char name[80];
    char member[PC_ID_MAX + 1];
    char period[32];
    int top;
    int waiting;  /* replies still to come */
    json_t *out;  /* the response being built */
    json_t *meta; /* the draw's or board's meta hash as an object */
    int failed;
} game_req;

/* Sends body (stolen) as the answer to g's request, counted in the server's figures. */
static void reply(game_req *g, int status, json_t *body)
{
    g->s->stats.inflight--;
    send_json(g->s, g->req, status, body);
}

static void reply_error(game_req *g, int status, const char *code, const char *msg)
{
    reply(g, status, json_pack("{s:{s:s, s:s}}", "error", "code", code, "message", msg));
}

static void game_req_free(game_req *g)
{
    json_decref(g->out);
    json_decref(g->meta);
    free(g);
}

/* A failed or odd reply ends the request with 503; 1 then. */
static int redis_failed(game_req *g, redisReply *r)
{
    if (r && r->type != REDIS_REPLY_ERROR)
        return 0;
    if (!g->failed)
        reply_error(g, 503, "unavailable", r ? r->str : "redis unavailable");
    g->failed = 1;
    return 1;
}

static json_t *hash_object(redisReply *r)
{
    json_t *o = json_object();
    for (size_t i = 0; r->type == REDIS_REPLY_ARRAY && i + 1 < r->elements; i += 2)
        json_object_set_new(o, r->element[i]->str, json_string(r->element[i + 1]->str));
    return o;
}

static int64_t meta_int(json_t *meta, const char *key, int64_t def)
{
    const char *v = json_string_value(json_object_get(meta, key));
    return v ? strtoll(v, NULL, 10) : def;
}

/* ---- GET /v1/draws/{name} ---- */

static void draw_done(game_req *g)
{
    if (!g->failed)
        reply(g, 200, json_incref(g->out));
    game_req_free(g);
}

typedef struct pool_cb {
    game_req *g;
    json_t *prize; /* borrowed from g->out */
} pool_cb;

static void on_pool_read(redisReply *r, const char *err, void *arg)
{
    pool_cb *p = arg;
    game_req *g = p->g;
    if (!redis_failed(g, r) && r->type == REDIS_REPLY_ARRAY && r->elements == 2) {
        int64_t size = json_integer_value(json_object_get(p->prize, "pool"));
        /* A period nobody drew in yet still has its whole pool. */
        json_object_set_new(
            p->prize, "left",
            json_integer(r->element[0]->str ? strtoll(r->element[0]->str, NULL, 10) : size));
        json_object_set_new(
            p->prize, "won_in_period",
            json_integer(r->element[1]->str ? strtoll(r->element[1]->str, NULL, 10) : 0));
    }
    free(p);
    if (--g->waiting == 0)
        draw_done(g);
}

static void draw_render(game_req *g)
{
    json_t *meta = g->meta, *prizes = json_array(), *revealed = json_array(), *v;
    int64_t epoch = meta_int(meta, "epoch", 1);
    const char *tz = json_string_value(json_object_get(meta, "tz"));
    const char *k;
    char hash[65];
    draw_commitment(g->name, epoch, hash);
    json_object_foreach(meta, k, v)
    {
        if (!strncmp(k, "pool:", 5)) {
            char rk[100];
            snprintf(rk, sizeof rk, "refill:%s", k + 5);
            const char *refill = json_string_value(json_object_get(meta, rk));
            snprintf(rk, sizeof rk, "won:%s", k + 5);
            json_array_append_new(prizes,
                                  json_pack("{s:s, s:I, s:s, s:I}", "prize", k + 5, "pool",
                                            (json_int_t)strtoll(json_string_value(v), NULL, 10),
                                            "refill", refill ? refill : "never", "won",
                                            (json_int_t)meta_int(meta, rk, 0)));
        } else if (!strncmp(k, "secret:", 7)) {
            char h[65], rk[64];
            const char *s = json_string_value(v);
            pc_sha256_hex(s, strlen(s), h);
            snprintf(rk, sizeof rk, "rotated:%s", k + 7);
            json_array_append_new(revealed, json_pack("{s:I, s:s, s:s, s:O?}", "epoch",
                                                      (json_int_t)strtoll(k + 7, NULL, 10),
                                                      "secret", s, "secret_sha256", h, "rotated_at",
                                                      json_object_get(meta, rk)));
        }
    }
    g->out = json_pack("{s:s, s:I, s:s, s:s, s:I, s:s, s:o, s:o}", "draw", g->name, "epoch",
                       (json_int_t)epoch, "secret_sha256", hash, "secret_source",
                       draw_secret_source(), "wins", (json_int_t)meta_int(meta, "wins", 0), "tz",
                       tz ? tz : "UTC", "prizes", prizes, "revealed", revealed);
    g->waiting = 1;
    size_t i;
    json_t *p;
    json_array_foreach(prizes, i, p)
    {
        int64_t pool = json_integer_value(json_object_get(p, "pool"));
        int per = cal_period_parse(json_string_value(json_object_get(p, "refill")));
        char period[32], key[300];
        pool_cb *cb;
        if (pool < 0 || !(cb = calloc(1, sizeof *cb)))
            continue;
        cal_period_id(pc_now_ms(), tz ? tz : "UTC", 0, per < 0 ? CAL_ALL : per, period,
                      sizeof period);
        json_object_set_new(p, "period", json_string(period));
        snprintf(key, sizeof key, "%s:{draw:%s}:pool:%s:%s", g->ns, g->name,
                 json_string_value(json_object_get(p, "prize")), period);
        cb->g = g;
        cb->prize = p;
        g->waiting++;
        const char *argv[4] = {"HMGET", key, "left", "won"};
        store_command(g->st, on_pool_read, cb, 4, argv, NULL);
    }
    if (--g->waiting == 0)
        draw_done(g);
}

static void on_draw_meta(redisReply *r, const char *err, void *arg)
{
    game_req *g = arg;
    if (redis_failed(g, r)) {
        game_req_free(g);
        return;
    }
    g->meta = hash_object(r);
    draw_render(g);
}

static void draw_get(game_req *g)
{
    char key[200];
    snprintf(key, sizeof key, "%s:{draw:%s}:meta", g->ns, g->name);
    const char *argv[2] = {"HGETALL", key};
    store_command(g->st, on_draw_meta, g, 2, argv, NULL);
}

/* ---- POST /v1/draws/{name}/rotate ---- */

static const char rotate_script[] =
    "local e = tonumber(redis.call('HGET', KEYS[1], 'epoch') or '1')\n"
    "redis.call('HSET', KEYS[1], 'epoch', e + 1)\n"
    "return e\n";

static void on_revealed(redisReply *r, const char *err, void *arg)
{
    game_req *g = arg;
    if (redis_failed(g, r)) {
        game_req_free(g);
        return;
    }
    draw_get(g);
}

static void on_rotated(redisReply *r, const char *err, void *arg)
{
    game_req *g = arg;
    char key[200], field[48], secret[65], at[32], tfield[48];
    if (redis_failed(g, r) || r->type != REDIS_REPLY_INTEGER) {
        if (!g->failed)
            reply_error(g, 503, "unavailable", "unexpected reply to rotate");
        game_req_free(g);
        return;
    }
    /* The old epoch is over: its secret may be shown to anyone now. */
    draw_secret(g->name, r->integer, secret);
    pc_time_format(pc_now_ms(), at, sizeof at);
    snprintf(key, sizeof key, "%s:{draw:%s}:meta", g->ns, g->name);
    snprintf(field, sizeof field, "secret:%lld", (long long)r->integer);
    snprintf(tfield, sizeof tfield, "rotated:%lld", (long long)r->integer);
    const char *argv[6] = {"HSET", key, field, secret, tfield, at};
    store_command(g->st, on_revealed, g, 6, argv, NULL);
}

static void draw_rotate(game_req *g)
{
    char key[200];
    snprintf(key, sizeof key, "%s:{draw:%s}:meta", g->ns, g->name);
    const char *argv[4] = {"EVAL", rotate_script, "1", key};
    store_command(g->st, on_rotated, g, 4, argv, NULL);
}

/* ---- POST /v1/draws/{name}/refill ---- */

static const char refill_script[] =
    "local size = tonumber(redis.call('HGET', KEYS[2], 'pool:' .. ARGV[1]) or '-1')\n"
    "if size < 0 then return redis.error_reply('no such prize with a pool') end\n"
    "if redis.call('EXISTS', KEYS[1]) == 0 then\n"
    "  redis.call('HSET', KEYS[1], 'left', size, 'won', 0, 'size', size)\n"
    "  if tonumber(ARGV[3]) > 0 then redis.call('EXPIRE', KEYS[1], ARGV[3]) end\n"
    "end\n"
    "return redis.call('HINCRBY', KEYS[1], 'left', ARGV[2])\n";

static void on_refilled(redisReply *r, const char *err, void *arg)
{
    game_req *g = arg;
    if (r && r->type == REDIS_REPLY_ERROR) {
        reply_error(g, 404, "not_found", "this draw has no pool for that prize yet");
        game_req_free(g);
        return;
    }
    if (redis_failed(g, r)) {
        game_req_free(g);
        return;
    }
    draw_get(g);
}

typedef struct refill_ctx {
    game_req *g;
    char prize[80];
    long long add;
} refill_ctx;

static void on_refill_meta(redisReply *r, const char *err, void *arg)
{
    refill_ctx *rc = arg;
    game_req *g = rc->g;
    json_t *meta;
    char rk[100], period[32], key[300], metakey[200], add[32], ttl[16];
    if (redis_failed(g, r)) {
        game_req_free(g);
        free(rc);
        return;
    }
    meta = hash_object(r);
    snprintf(rk, sizeof rk, "refill:%s", rc->prize);
    int per = cal_period_parse(json_string_value(json_object_get(meta, rk)));
    const char *tz = json_string_value(json_object_get(meta, "tz"));
    if (per < 0)
        per = CAL_ALL;
    cal_period_id(pc_now_ms(), tz ? tz : "UTC", 0, per, period, sizeof period);
    json_decref(meta);
    snprintf(key, sizeof key, "%s:{draw:%s}:pool:%s:%s", g->ns, g->name, rc->prize, period);
    snprintf(metakey, sizeof metakey, "%s:{draw:%s}:meta", g->ns, g->name);
    snprintf(add, sizeof add, "%lld", rc->add);
    snprintf(ttl, sizeof ttl, "%d", cal_period_ttl(per));
    const char *argv[8] = {"EVAL", refill_script, "2", key, metakey, rc->prize, add, ttl};
    store_command(g->st, on_refilled, g, 8, argv, NULL);
    free(rc);
}

static void draw_refill(game_req *g, struct evhttp_request *req)
{
    struct evbuffer *in = evhttp_request_get_input_buffer(req);
    size_t len = evbuffer_get_length(in);
    json_t *body =
        len && len < 4096 ? json_loadb((const char *)evbuffer_pullup(in, -1), len, 0, NULL) : NULL;
    const char *prize = json_string_value(json_object_get(body, "prize"));
    json_t *add = json_object_get(body, "add");
    refill_ctx *rc;
    char key[200];
    if (!prize || !pc_valid_name(prize) || !json_is_integer(add) ||
        json_integer_value(add) < -1000000000 || json_integer_value(add) > 1000000000 ||
        json_object_size(body) != 2) {
        json_decref(body);
        reply_error(g, 400, "bad_request", "send {\"prize\": NAME, \"add\": N}");
        game_req_free(g);
        return;
    }
    if (!(rc = calloc(1, sizeof *rc))) {
        json_decref(body);
        reply_error(g, 500, "internal", "out of memory");
        game_req_free(g);
        return;
    }
    rc->g = g;
    snprintf(rc->prize, sizeof rc->prize, "%s", prize);
    rc->add = (long long)json_integer_value(add);
    json_decref(body);
    snprintf(key, sizeof key, "%s:{draw:%s}:meta", g->ns, g->name);
    const char *argv[2] = {"HGETALL", key};
    store_command(g->st, on_refill_meta, rc, 2, argv, NULL);
}

/* ---- GET /v1/leaderboards/{name} ---- */

static json_t *board_entries(redisReply *r, int first_rank)
{
    json_t *a = json_array();
    for (size_t i = 0; r->type == REDIS_REPLY_ARRAY && i + 1 < r->elements; i += 2)
        json_array_append_new(a, json_pack("{s:i, s:s, s:I}", "rank", first_rank + (int)i / 2,
                                           "member", r->element[i]->str, "score",
                                           (json_int_t)strtoll(r->element[i + 1]->str, NULL, 10)));
    return a;
}

static void board_step(game_req *g)
{
    if (--g->waiting == 0) {
        if (!g->failed)
            reply(g, 200, json_incref(g->out));
        game_req_free(g);
    }
}

static void on_board_top(redisReply *r, const char *err, void *arg)
{
    game_req *g = arg;
    if (!redis_failed(g, r))
        json_object_set_new(g->out, "top", board_entries(r, 1));
    board_step(g);
}

static void on_board_member(redisReply *r, const char *err, void *arg)
{
    game_req *g = arg;
    if (!redis_failed(g, r) && r->type == REDIS_REPLY_ARRAY && r->elements == 2) {
        json_t *me = json_null();
        if (r->element[0]->type == REDIS_REPLY_INTEGER && r->element[1]->str)
            me = json_pack("{s:i, s:s, s:I}", "rank", (int)r->element[0]->integer + 1, "member",
                           g->member, "score", (json_int_t)strtoll(r->element[1]->str, NULL, 10));
        json_object_set_new(g->out, "member", me);
    }
    board_step(g);
}

static const char member_rank_script[] =
    "return {redis.call('ZREVRANK', KEYS[1], ARGV[1]), redis.call('ZSCORE', KEYS[1], ARGV[1])}\n";

static void on_board_meta(redisReply *r, const char *err, void *arg)
{
    game_req *g = arg;
    char key[300], top[16];
    if (redis_failed(g, r)) {
        game_req_free(g);
        return;
    }
    json_t *meta = hash_object(r);
    const char *per = json_string_value(json_object_get(meta, "per"));
    const char *tz = json_string_value(json_object_get(meta, "tz"));
    int p = cal_period_parse(per);
    if (!g->period[0])
        cal_period_id(pc_now_ms(), tz ? tz : "UTC", 0, p < 0 ? CAL_ALL : p, g->period,
                      sizeof g->period);
    g->out = json_pack("{s:s, s:s, s:s, s:o, s:o}", "leaderboard", g->name, "period", g->period,
                       "per", per ? per : "week", "top", json_array(), "member", json_null());
    json_decref(meta);
    snprintf(key, sizeof key, "%s:{lb:%s}:%s", g->ns, g->name, g->period);
    snprintf(top, sizeof top, "%d", g->top - 1);
    g->waiting = 1;
    const char *argv[5] = {"ZREVRANGE", key, "0", top, "WITHSCORES"};
    store_command(g->st, on_board_top, g, 5, argv, NULL);
    if (g->member[0] && !g->failed) {
        const char *margv[5] = {"EVAL", member_rank_script, "1", key, g->member};
        g->waiting++;
        store_command(g->st, on_board_member, g, 5, margv, NULL);
    }
}

static void board_get(game_req *g, const char *query)
{
    struct evkeyvalq q = {0};
    const char *v;
    char key[200];
    g->top = 10;
    if (query && evhttp_parse_query_str(query, &q)) {
        reply_error(g, 400, "bad_request", "malformed query string");
        game_req_free(g);
        return;
    }
    if ((v = evhttp_find_header(&q, "top"))) {
        char *end;
        long n = strtol(v, &end, 10);
        g->top = *v && !*end && n >= 1 && n <= 1000 ? (int)n : -1;
    }
    if ((v = evhttp_find_header(&q, "member")))
        snprintf(g->member, sizeof g->member, "%s", pc_valid_id(v) ? v : "");
    if ((v = evhttp_find_header(&q, "period")))
        snprintf(g->period, sizeof g->period, "%s", strlen(v) < 16 && pc_valid_name(v) ? v : "");
    if (g->top < 0 || (v && !g->period[0]) || (evhttp_find_header(&q, "member") && !g->member[0])) {
        evhttp_clear_headers(&q);
        reply_error(g, 400, "bad_request",
                    "top is 1-1000; member a member id; period like 2026-W48 or 2026-11");
        game_req_free(g);
        return;
    }
    evhttp_clear_headers(&q);
    snprintf(key, sizeof key, "%s:{lb:%s}:meta", g->ns, g->name);
    const char *argv[2] = {"HGETALL", key};
    store_command(g->st, on_board_meta, g, 2, argv, NULL);
}

void game_route(server *s, struct evhttp_request *req, const char *path, const char *query)
{
    enum evhttp_cmd_type method = evhttp_request_get_command(req);
    int is_draw = !strncmp(path, "/v1/draws/", 10);
    const char *name = path + (is_draw ? 10 : 17);
    const char *slash = strchr(name, '/');
    const char *sub = slash ? slash + 1 : NULL;
    game_req *g = calloc(1, sizeof *g);
    if (!g) {
        evhttp_send_error(req, 500, "out of memory");
        return;
    }
    g->req = req;
    g->s = s;
    s->stats.inflight++; /* a draining punchd waits for it */
    g->st = s->store;
    snprintf(g->ns, sizeof g->ns, "%s", s->ns);
    snprintf(g->name, sizeof g->name, "%.*s", (int)(slash ? slash - name : (long)strlen(name)),
             name);
    if (!pc_valid_name(g->name) ||
        (sub && (!is_draw || (strcmp(sub, "rotate") && strcmp(sub, "refill"))))) {
        reply_error(g, 404, "not_found", "no such resource");
        game_req_free(g);
        return;
    }
    if (method != (sub ? EVHTTP_REQ_POST : EVHTTP_REQ_GET)) {
        reply_error(g, 405, "method_not_allowed", sub ? "use POST" : "use GET");
        game_req_free(g);
        return;
    }
    if (!is_draw)
        board_get(g, query);
    else if (!sub)
        draw_get(g);
    else if (!strcmp(sub, "rotate"))
        draw_rotate(g);
    else
        draw_refill(g, req);
}
