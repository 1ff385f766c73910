/*
 * The engine's reads and an operator's writes, for punchd's routes and
 * punch's commands alike: a member and its ledger, a draw, a leaderboard,
 * the program's figures, a global counter; and the upkeep of a namespace
 * (check every ledger, wipe it, rotate or refill a draw). Each answer is the
 * body the HTTP API documents (README.md), built here and nowhere else.
 *
 * Every call is asynchronous on the engine's loop and answers through done
 * exactly once, possibly before it returns (bad arguments, Redis not
 * connected): status is an HTTP status, body a new reference the callee
 * owns, {"error": {"code", "message"}} on failure (pc_error_json()). After
 * done the engine keeps nothing of the caller's: done may free arg. These
 * calls cannot be cancelled: a caller that goes away drops the answer when it
 * comes (at the latest when the store is freed, with 503).
 *
 * "Now" is the engine's clock (engine_config.clock): a query without a
 * period reads the period holding it, so punch's virtual clock moves reads
 * as it moves events.
 */
#ifndef PUNCHCARD_QUERY_H
#define PUNCHCARD_QUERY_H

#include "punchcard/engine.h"

#include <stdint.h>

/* GET /v1/members/{id}: the member's state (member_to_json()), or 404. */
void engine_get_member(engine *e, const char *member, engine_done_fn *done, void *arg);

/*
 * GET /v1/members/{id}/ledger: entries newest first, limit 1-1000, cursor
 * from a previous answer's "next" (NULL: from the newest).
 */
void engine_get_ledger(engine *e, const char *member, int limit, const char *cursor,
                       engine_done_fn *done, void *arg);

enum engine_read_flags {
    /*
     * 404 for a draw nobody drew in nor rotated, or a leaderboard nobody
     * scored on, instead of its empty shape (punch test's t:draw() is nil
     * before the first draw). punchd shows the empty shape: a draw's first
     * commitment is published before anyone draws.
     */
    ENGINE_READ_SEEN_ONLY = 1,
};

/*
 * GET /v1/draws/{name}: epoch, commitment, wins, each prize's pool with what
 * is left in the current period, and the secrets of ended epochs. flags:
 * enum engine_read_flags.
 */
void engine_get_draw(engine *e, const char *name, int flags, engine_done_fn *done, void *arg);

/*
 * GET /v1/leaderboards/{name}: the best top (1-1000) of period (NULL: the
 * current one; "2026-W48", "2026-11" ...) and, when member is not NULL, the
 * member's rank and score (null when it has none). flags: enum
 * engine_read_flags.
 */
void engine_get_board(engine *e, const char *name, int top, const char *member, const char *period,
                      int flags, engine_done_fn *done, void *arg);

/* A day not given to engine_get_figures(). */
#define ENGINE_DAY_DEFAULT INT64_MIN

/*
 * The figures per day (UTC) and currency, from the day holding from_ms to the
 * day holding to_ms (at most 366 days; defaults: the 30 days up to today):
 * GET /v1/stats when partner is NULL (issued, redeemed, expired, reversed,
 * outstanding at the end of each day, and the totals since the start), else
 * GET /v1/partners/{partner}/summary (the days of partner's events and their
 * sum). per ("week", "month", "year"; NULL or "day": none) adds "per" and
 * "periods": the days summed per ISO week, month or year (UTC), outstanding at
 * the end of each, with each period's and the total's "breakage_rate"
 * (expired / (redeemed + expired)). 400 for another per.
 */
void engine_get_figures(engine *e, int64_t from_ms, int64_t to_ms, const char *partner,
                        const char *per, engine_done_fn *done, void *arg);

/*
 * GET /v1/offers (name NULL: {"offers": [...]}, every declared offer in name
 * order) and GET /v1/offers/{name} (the one offer; 404 for one neither
 * declared nor ever used): each offer as declared (code, discount, window,
 * minimum, per-member rule, cap) with "uses", "returned", "discount" (money
 * off granted), "left" of the cap and "valid_now" at the engine's clock.
 */
void engine_get_offers(engine *e, const char *name, engine_done_fn *done, void *arg);

/*
 * GET /v1/experiments/{name}: per group (control, treatment) the members,
 * events, spend and spend per member, currency issued and redeemed; the lift
 * of spend per member with its 95% confidence interval. 404 for an experiment
 * neither declared nor seen.
 */
void engine_get_experiment(engine *e, const char *name, engine_done_fn *done, void *arg);

/*
 * GET /v1/budgets/{name}: {"budget", "periods": [{"period", "used", "max",
 * "left"}]}, newest period first (the last 100 to 200 that granted anything),
 * of a campaign budget (m:budget). 404 for one nothing was taken from.
 */
void engine_get_budget(engine *e, const char *name, engine_done_fn *done, void *arg);

/*
 * POST /v1/offers/{name}/codes {"codes": [{"code", "member"}, ...]} (1 to
 * 1,000; at most 100 a member): personal codes of an offer declared
 * `personal = true`, each for one member, who can then use it with
 * m:redeem_code like a code m:issue_code gave. Each member's codes are one
 * event of that member (exactly once; the same batch sent again changes
 * nothing). 200 {"offer", "added", "held" (held already), "failed", "members":
 * [{"member", "codes", "status", "added", "held" | "error"}]}; 400 for a bad
 * body or code, 404 for an undeclared offer, 422 for one with a shared code.
 */
void engine_add_codes(engine *e, const char *offer, json_t *body, engine_done_fn *done, void *arg);

/*
 * GET /v1/draws, /v1/budgets, /v1/leaderboards (kind "draw", "budget",
 * "board"): every one the loaded scripts name with a literal or the program
 * used (listed at its first use; the first 200 by name), each with "declared"
 * and "seen" (used at least once) and its live figures: {"draws": [the draw as
 * engine_get_draw() shows it]}, {"budgets": [{"budget", "period" (the newest),
 * "used", "max", "left", "periods", "used_total"}]}, {"leaderboards":
 * [{"leaderboard", "period", "per", "top" (3), "member": null, "members"}]}.
 */
void engine_list(engine *e, const char *kind, engine_done_fn *done, void *arg);

/*
 * GET /v1/mechanics: the holder's description (mech_holder_describe()) with
 * "history" the loads every worker and punchd of the program share (the last
 * 50, newest first: {"loaded_at", "ok", "version", "files", "digests",
 * "error"}) and "history_shared": true; false (and this worker's own history)
 * when Redis has none or cannot answer.
 */
void engine_get_mechanics(engine *e, engine_done_fn *done, void *arg);

/*
 * Records the holder's last load (mech_holder_last_load(), taken) in the
 * program's shared history; a failed write is tried again at the sweeper's
 * next claims sweep (load NULL: only that retry).
 */
void engine_note_load(engine *e, json_t *load);

/*
 * The report of GET /v1/experiments/{name} from an experiment's figures
 * ({"<group>:members": n, "<group>:spend": n, "<group>:spend_sq": x,
 * "<group>:issued:<currency>": n ...}, numbers or numeric strings) and its
 * declaration (borrowed, may be NULL). A new reference, or NULL when out of
 * memory. punch simulate reports with it too.
 */
json_t *engine_experiment_report(const char *name, json_t *decl, json_t *figures);

/* A global counter: {"counter": name, "value": n}; 0 when nobody counted in it yet. */
void engine_get_counter(engine *e, const char *name, engine_done_fn *done, void *arg);

/* {"due": n}: the members with something due (expiry, release, wake) by now. */
void engine_count_due(engine *e, engine_done_fn *done, void *arg);

/*
 * The ledger's promise, for every member of the namespace: each balance
 * equals the sum of its ledger's deltas, and each pending balance the sum of
 * its pending. 200 {"members": n checked}, or 409 "ledger_mismatch" naming
 * the first member and balance that differ.
 */
void engine_check_ledgers(engine *e, engine_done_fn *done, void *arg);

/* Deletes every key of the engine's namespace: 200 {"wiped": namespace}. */
void engine_wipe(engine *e, engine_done_fn *done, void *arg);

/*
 * POST /v1/draws/{name}/rotate: starts a new epoch and reveals the secret of
 * the one that ended. Answers the draw as engine_get_draw() shows it.
 */
void engine_rotate_draw(engine *e, const char *name, engine_done_fn *done, void *arg);

/*
 * POST /v1/draws/{name}/refill: adds add (-10^9..10^9) prizes to the current
 * period's pool of prize; 404 when the draw has no pool for it yet. Answers
 * the draw as engine_get_draw() shows it.
 */
void engine_refill_draw(engine *e, const char *name, const char *prize, int64_t add,
                        engine_done_fn *done, void *arg);

#endif
