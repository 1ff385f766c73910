/*
 * Offers and promo codes (docs/mechanics.md, "Offers and promo codes"): the
 * catalogue a program declares at a file's top level with `offer "name"
 * {...}`, and the member methods that use it:
 *   m:redeem_code(code [, order_total]) -> the offer, or nil and why not
 *   m:issue_code(offer)                 -> a personal code, or nil and why not
 * A code's use is counted in the offer's cap by a global operation ("offer",
 * under the event's claim: exactly once across members and punchd), and in
 * the member's own hash (once per member, a personal code's use) within the
 * event's commit. The engine gives a use back when the event is reversed
 * (core/engine/offers.c).
 */
#include "lua-internal.h"
#include "common/calendar-internal.h"
#include "model/offer-internal.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* Personal codes a member may hold at once (each is a field of their hash). */
#define OFFER_CODES_PER_MEMBER 100

/* A whole option >= min, or -1 when absent; raises otherwise. */
static lua_Integer opt_whole(lua_State *L, int idx, const char *what, const char *name,
                             lua_Integer min)
{
    int isint = 0;
    lua_Integer v = -1;
    if (lua_getfield(L, idx, name) != LUA_TNIL) {
        v = lua_tointegerx(L, -1, &isint);
        if (!isint || v < min)
            luaL_error(L, "%s: %s must be a whole number of at least %I", what, name, min);
    }
    lua_pop(L, 1);
    return v;
}

/* A boolean option (false when absent); raises on another type. */
static int opt_bool(lua_State *L, int idx, const char *what, const char *name)
{
    int t = lua_getfield(L, idx, name), v = lua_toboolean(L, -1);
    if (t != LUA_TNIL && t != LUA_TBOOLEAN)
        luaL_error(L, "%s: %s is true or false", what, name);
    lua_pop(L, 1);
    return v;
}

/* A duration option into decl as "<name>" (as written), "<name>_months" and "<name>_ms". */
static void opt_span(lua_State *L, int idx, const char *what, const char *name, json_t *decl)
{
    const char *s = luart_opt_str(L, idx, name, NULL);
    int months;
    int64_t ms;
    char k[64];
    if (!s)
        return;
    if (cal_parse_span(s, &months, &ms) || (months <= 0 && ms <= 0))
        luaL_error(L, "%s: %s is a duration like 14d, 2w, 1mo (got '%s')", what, name, s);
    json_object_set_new(decl, name, json_string(s));
    snprintf(k, sizeof k, "%s_months", name);
    json_object_set_new(decl, k, json_integer(months));
    snprintf(k, sizeof k, "%s_ms", name);
    json_object_set_new(decl, k, json_integer(ms));
}

/* discount = {percent = 10} or {amount = 500} into decl. */
static void opt_discount(lua_State *L, int idx, const char *what, json_t *decl)
{
    static const char *const allowed[] = {"percent", "amount", NULL};
    if (lua_getfield(L, idx, "discount") != LUA_TTABLE)
        luaL_error(L, "%s: discount is {percent = 10} or {amount = 500}", what);
    int t = lua_gettop(L);
    luart_opt_check(L, t, what, allowed);
    int hasp = lua_getfield(L, t, "percent") != LUA_TNIL;
    int hasa = lua_getfield(L, t, "amount") != LUA_TNIL;
    if (hasp == hasa)
        luaL_error(L, "%s: discount is {percent = 10} or {amount = 500}: one of them", what);
    if (hasp) {
        lua_Number p = lua_tonumber(L, -2);
        if (!lua_isnumber(L, -2) || !(p > 0 && p <= 100))
            luaL_error(L, "%s: discount.percent is a number above 0, at most 100", what);
        double r = round(p * 100) / 100;
        json_object_set_new(decl, "percent",
                            r == floor(r) ? json_integer((json_int_t)r) : json_real(r));
        json_object_set_new(decl, "percent_bp", json_integer((json_int_t)llround(p * 100)));
    } else {
        int isint = 0;
        lua_Integer a = lua_tointegerx(L, -1, &isint);
        if (!isint || a <= 0)
            luaL_error(L, "%s: discount.amount is a whole amount above 0", what);
        json_object_set_new(decl, "amount", json_integer(a));
    }
    lua_pop(L, 3);
}

/* Adds the offer name with code (or a personal prefix) to the set's catalogue. */
static void add_offer(lua_State *L, mechset *set, const char *name, const char *what, json_t *decl)
{
    const char *match = json_string_value(json_object_get(decl, "match"));
    const char *prefix = json_string_value(json_object_get(decl, "prefix"));
    const char *k;
    json_t *o;
    if ((!set->offers && !(set->offers = json_object())) ||
        (!set->offer_codes && !(set->offer_codes = json_object())))
        luart_oom(L);
    if (json_object_get(set->offers, name))
        luaL_error(L, "%s is declared twice", what);
    if (match && json_object_get(set->offer_codes, match)) {
        const char *other = json_string_value(json_object_get(set->offer_codes, match));
        luaL_error(L, "%s: its code is offer '%s''s code already", what, other);
    }
    /* A personal prefix must not make another offer's codes ambiguous. */
    json_object_foreach(set->offers, k, o) {
        const char *p = json_string_value(json_object_get(o, "prefix"));
        if (prefix && p && !strcmp(p, prefix))
            luaL_error(L, "%s: prefix %s is offer '%s''s already", what, prefix, k);
    }
    set->offer_pending = NULL;
    if (json_object_set_new(set->offers, name, decl) ||
        (match && json_object_set_new(set->offer_codes, match, json_string(name))))
        luart_oom(L);
}

/* The function offer "name" returns: takes the declaration table and records it. */
static int declare_offer(lua_State *L)
{
    static const char *const allowed[] = {
        "code", "personal",  "prefix",          "valid_for",   "discount", "from",        "to",
        "tz",   "min_order", "once_per_member", "renew_every", "cap",      "description", NULL};
    mech_run *run = luart_run_of(L);
    mechset *set = run ? run->set : NULL;
    const char *name = lua_tostring(L, lua_upvalueindex(1)), *code, *tz, *why;
    char what[100], norm[OFFER_CODE_MAX + 1];
    lua_Integer v;
    json_t *decl;
    if (!set || !set->loading_file)
        return luaL_error(L, "offer '%s' is declared at a file's top level", name);
    luaL_checktype(L, 1, LUA_TTABLE);
    snprintf(what, sizeof what, "offer '%s'", name);
    luart_opt_check(L, 1, what, allowed);
    if (!(decl = json_pack("{s:s}", "offer", name)))
        return luart_oom(L);
    /* Held by the set until it is recorded: an error raised below must not leak it. */
    json_decref(set->offer_pending);
    set->offer_pending = decl;
    tz = luart_opt_tz(L, 1);
    json_object_set_new(decl, "tz", json_string(tz));
    json_object_set_new(decl, "personal", json_boolean(opt_bool(L, 1, what, "personal")));
    code = luart_opt_str(L, 1, "code", NULL);
    if (json_is_true(json_object_get(decl, "personal"))) {
        const char *prefix = luart_opt_str(L, 1, "prefix", NULL);
        if (code)
            return luaL_error(L,
                              "%s: a personal offer has no shared code (its codes are made "
                              "by m:issue_code)",
                              what);
        if (prefix) {
            if (offer_code_normalize(prefix, strlen(prefix), norm, &why) || strlen(norm) > 20 ||
                strspn(norm, "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_") != strlen(norm))
                return luaL_error(L, "%s: prefix is 1-20 of A-Z 0-9 _", what);
            json_object_set_new(decl, "prefix", json_string(norm));
        } else {
            size_t n = 0;
            for (; name[n]; n++)
                norm[n] = (char)(name[n] >= 'a' && name[n] <= 'z' ? name[n] - 'a' + 'A' : name[n]);
            norm[n] = '\0';
            json_object_set_new(decl, "prefix", json_string(norm));
        }
        opt_span(L, 1, what, "valid_for", decl);
    } else {
        if (!code)
            return luaL_error(L, "%s: code is the code members type (or personal = true)", what);
        if (offer_code_normalize(code, strlen(code), norm, &why))
            return luaL_error(L, "%s: code: %s", what, why);
        if (lua_getfield(L, 1, "prefix") != LUA_TNIL || lua_getfield(L, 1, "valid_for") != LUA_TNIL)
            return luaL_error(L, "%s: prefix and valid_for are for personal offers", what);
        lua_pop(L, 2);
        json_object_set_new(decl, "match", json_string(norm));
        json_object_set_new(decl, "code", json_string(norm));
    }
    opt_discount(L, 1, what, decl);
    for (int i = 0; i < 2; i++) {
        const char *k = i ? "to" : "from", *s = luart_opt_str(L, 1, k, NULL);
        int64_t ms;
        if (!s)
            continue;
        if (luart_parse_when(s, tz, &ms))
            return luaL_error(L, "%s: %s: '%s' is not a date (2026-12-01) or an RFC 3339 time",
                              what, k, s);
        json_object_set_new(decl, k, json_integer(ms));
    }
    if (json_object_get(decl, "from") && json_object_get(decl, "to") &&
        json_integer_value(json_object_get(decl, "to")) <=
            json_integer_value(json_object_get(decl, "from")))
        return luaL_error(L, "%s: to must come after from", what);
    if ((v = opt_whole(L, 1, what, "min_order", 0)) >= 0)
        json_object_set_new(decl, "min_order", json_integer(v));
    if ((v = opt_whole(L, 1, what, "cap", 1)) >= 0)
        json_object_set_new(decl, "cap", json_integer(v));
    json_object_set_new(decl, "once_per_member",
                        json_boolean(opt_bool(L, 1, what, "once_per_member")));
    opt_span(L, 1, what, "renew_every", decl);
    if (json_object_get(decl, "renew_every") &&
        !json_is_true(json_object_get(decl, "once_per_member")))
        return luaL_error(L, "%s: renew_every renews once_per_member: set it too", what);
    if ((code = luart_opt_str(L, 1, "description", NULL)))
        json_object_set_new(decl, "description", json_string(code));
    add_offer(L, set, name, what, decl);
    return 0;
}

/* offer "summer10" { code = "SUMMER-10", discount = {percent = 10}, ... } -- at a file's top
 * level */
static int api_offer(lua_State *L)
{
    const char *name = luaL_checkstring(L, 1);
    if (!pc_valid_name(name))
        return luaL_error(L, "bad offer name '%s' (use 1-64 of a-z 0-9 _ . -)", name);
    lua_pushvalue(L, 1);
    lua_pushcclosure(L, declare_offer, 1);
    return 1;
}

void luart_offers_globals(lua_State *L)
{
    lua_pushcfunction(L, api_offer);
    lua_setfield(L, -2, "offer");
}

/* ---- using a code ---- */

/* Refuses the code: the mechanic's reason (explain, the REPL) and the call's nil, why. */
static int refuse(lua_State *L, mech_run *run, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(run->reason, sizeof run->reason, fmt, ap);
    va_end(ap);
    lua_pushnil(L);
    lua_pushstring(L, run->reason);
    return 2;
}

/* The offer's declaration in the running set, or NULL. */
static json_t *offer_decl(const mech_run *run, const char *name)
{
    return json_object_get(run->set->offers, name);
}

/* The money off an order of total (-1: not given) under decl. */
static int64_t money_off(json_t *decl, int64_t total)
{
    json_t *amount = json_object_get(decl, "amount");
    int64_t bp = json_integer_value(json_object_get(decl, "percent_bp")), off;
    if (amount)
        return total >= 0 && total < json_integer_value(amount) ? total
                                                                : json_integer_value(amount);
    if (total <= 0)
        return 0;
    if (__builtin_mul_overflow(total, bp, &off))
        return (int64_t)((double)total * (double)bp / 10000.0);
    return off / 10000;
}

/* Pushes the offer as the mechanic sees it: {offer, code, percent | amount, off}. */
static void push_offer(lua_State *L, json_t *decl, const char *code, int64_t off)
{
    json_t *p = json_object_get(decl, "percent");
    lua_createtable(L, 0, 4);
    lua_pushstring(L, json_string_value(json_object_get(decl, "offer")));
    lua_setfield(L, -2, "offer");
    lua_pushstring(L, code);
    lua_setfield(L, -2, "code");
    if (p)
        lua_pushnumber(L, json_number_value(p));
    else
        lua_pushinteger(L, json_integer_value(json_object_get(decl, "amount")));
    lua_setfield(L, -2, p ? "percent" : "amount");
    lua_pushinteger(L, off);
    lua_setfield(L, -2, "off");
}

/*
 * After the offer's cap answered. stack: 1 m, 2 code, 3 total, 4 offer name,
 * 5 the normalized code, 6 money off, 7 personal; then the reply.
 */
static int redeem_done(lua_State *L, int status, lua_KContext ctx)
{
    mech_run *run = luart_take_reply(L);
    const char *name = lua_tostring(L, 4), *code = lua_tostring(L, 5);
    int64_t off = lua_tointeger(L, 6);
    json_t *decl = offer_decl(run, name), *o;
    (void)status;
    (void)ctx;
    if (!lua_toboolean(L, -1))
        return refuse(L, run, "code %s is used up (all %lld uses are taken)", code,
                      (long long)json_integer_value(json_object_get(decl, "cap")));
    if (lua_toboolean(L, 7)) {
        member_code c;
        if (member_code_get(run->m, code, &c) == 0) {
            c.used_ms = run->ev->at_ms;
            pc_copy(c.event, sizeof c.event, run->ev->id);
            if (member_code_set(run->m, code, &c))
                luart_oom(L);
        }
    }
    if (json_is_true(json_object_get(decl, "once_per_member")) &&
        member_set_offer_use(run->m, name, run->ev->at_ms, run->ev->id))
        luart_oom(L);
    o = json_pack("{s:s, s:s, s:s, s:I}", "kind", "discount", "offer", name, "code", code, "off",
                  (json_int_t)off);
    if (o && json_object_get(decl, "percent"))
        json_object_set(o, "percent", json_object_get(decl, "percent"));
    else if (o)
        json_object_set(o, "amount", json_object_get(decl, "amount"));
    luart_outcome(L, run, o);
    push_offer(L, decl, code, off);
    return 1;
}

/* 1 when this event already used offer name (another mechanic, or the same one twice). */
static int used_by_this_event(const mech_run *run, const char *name)
{
    for (size_t i = 0; i < run->m->nouts; i++) {
        const json_t *o = run->m->outs[i]->obj; /* a discount is a jansson outcome (MO_JSON) */
        const char *k =
            run->m->outs[i]->type == MO_JSON ? json_string_value(json_object_get(o, "kind")) : NULL;
        const char *of = json_string_value(json_object_get(o, "offer"));
        if (k && of && !strcmp(k, "discount") && !strcmp(of, name))
            return 1;
    }
    return 0;
}

/* The personal offer whose prefix code carries ("<PREFIX>-..."), or NULL. */
static const char *personal_offer_of(const mech_run *run, const char *code)
{
    const char *k;
    json_t *d;
    json_object_foreach(run->set->offers, k, d) {
        const char *p = json_string_value(json_object_get(d, "prefix"));
        size_t n;
        if (!json_is_true(json_object_get(d, "personal")) || !p)
            continue;
        n = strlen(p);
        if (!strncmp(code, p, n) && code[n] == '-')
            return k;
    }
    return NULL;
}

/*
 * The checks of a code of offer name for this member and event (personal: the
 * member's own, mc its record), then the cap's claim (redeem_done goes on).
 * The stack holds the method's arguments (1-3).
 */
static int redeem_checks(lua_State *L, mech_run *run, const char *code, const char *name,
                         int personal, const member_code *mc_in, int64_t total)
{
    char when[96];
    const char *tz;
    int64_t at = run->ev->at_ms, off;
    json_t *decl, *bound;
    member_code mc;
    memset(&mc, 0, sizeof mc);
    if (personal)
        mc = *mc_in;
    decl = offer_decl(run, name);
    tz = json_string_value(json_object_get(decl, "tz"));
    if ((bound = json_object_get(decl, "from")) && at < json_integer_value(bound)) {
        luart_when_text(json_integer_value(bound), tz, when, sizeof when);
        return refuse(L, run, "code %s is not valid before %s", code, when);
    }
    if ((bound = json_object_get(decl, "to")) && at >= json_integer_value(bound)) {
        luart_when_text(json_integer_value(bound), tz, when, sizeof when);
        return refuse(L, run, "code %s ended at %s", code, when);
    }
    if (personal && json_object_get(decl, "valid_for")) {
        int64_t end = cal_add_span(
            mc.issued_ms, (int)json_integer_value(json_object_get(decl, "valid_for_months")),
            json_integer_value(json_object_get(decl, "valid_for_ms")));
        if (at >= end) {
            luart_when_text(end, tz, when, sizeof when);
            return refuse(L, run, "code %s expired at %s", code, when);
        }
    }
    if ((bound = json_object_get(decl, "min_order")) && total < json_integer_value(bound))
        return refuse(L, run, "code %s needs an order of %lld or more", code,
                      (long long)json_integer_value(bound));
    if (used_by_this_event(run, name))
        return refuse(L, run, "code %s is applied to this event already", code);
    if (personal && mc.used_ms)
        return refuse(L, run, "code %s was used already", code);
    if (json_is_true(json_object_get(decl, "once_per_member"))) {
        int64_t used_at;
        char ev[PC_ID_MAX + 1];
        if (member_offer_use(run->m, name, &used_at, ev) == 0) {
            if (!json_object_get(decl, "renew_every"))
                return refuse(L, run, "code %s was used by this member already", code);
            int64_t again = cal_add_span(
                used_at, (int)json_integer_value(json_object_get(decl, "renew_every_months")),
                json_integer_value(json_object_get(decl, "renew_every_ms")));
            if (at < again) {
                luart_when_text(again, tz, when, sizeof when);
                return refuse(L, run, "code %s was used by this member already; it renews at %s",
                              code, when);
            }
        }
    }
    off = money_off(decl, total);
    lua_settop(L, 3);
    lua_pushstring(L, name);
    lua_pushstring(L, code);
    lua_pushinteger(L, off);
    lua_pushboolean(L, personal);
    return luart_global_call(L, "offer",
                             json_pack("{s:s, s:I, s:I}", "offer", name, "cap",
                                       json_integer_value(json_object_get(decl, "cap")), "off",
                                       (json_int_t)off),
                             redeem_done);
}

/*
 * The continuation of m:redeem_code after looking a code up among the shared
 * codes added through the API (stack: the arguments, 4 the normalized code,
 * then the offer's name or nil).
 */
static int found_done(lua_State *L, int status, lua_KContext ctx)
{
    mech_run *run = luart_take_reply(L);
    char code[OFFER_CODE_MAX + 1], name[PC_TYPE_MAX + 1];
    int64_t total = -1;
    (void)status;
    (void)ctx;
    pc_copy(code, sizeof code, lua_tostring(L, 4));
    if (lua_type(L, -1) != LUA_TSTRING)
        return refuse(L, run, "unknown code %s", code);
    pc_copy(name, sizeof name, lua_tostring(L, -1));
    if (!offer_decl(run, name))
        return refuse(L, run, "code %s: its offer %s is no longer running", code, name);
    lua_settop(L, 3);
    if (!lua_isnoneornil(L, 3))
        total = luart_check_amount(L, 3);
    return redeem_checks(L, run, code, name, 0, NULL, total);
}

/*
 * m:redeem_code(code [, order_total]) -> the offer {offer, code, percent | amount, off},
 * or nil and why not (also the mechanic's reason()). Checks, in order: the
 * code (declared, the member's own, or a shared code added through the API:
 * looked up in Redis), the offer's window, the order's minimum, the member's
 * own use, then takes one use of the offer's cap. Reports {"kind": "discount", "offer",
 * "code", "percent" | "amount", "off"}.
 */
static int m_redeem_code(lua_State *L)
{
    mech_run *run = luart_running(L);
    char code[OFFER_CODE_MAX + 1];
    const char *why, *name = NULL;
    size_t len;
    int64_t total = -1;
    int personal = 0;
    member_code mc;

    if (lua_type(L, 2) != LUA_TSTRING && lua_type(L, 2) != LUA_TNUMBER)
        return refuse(L, run, "no code given");
    if (!lua_isnoneornil(L, 3))
        total = luart_check_amount(L, 3);
    {
        const char *s = lua_tolstring(L, 2, &len);
        if (offer_code_normalize(s, len, code, &why))
            return refuse(L, run, "not a valid code: %s", why);
    }
    name = json_string_value(json_object_get(run->set->offer_codes, code));
    if (!name && member_code_get(run->m, code, &mc) == 0) {
        name = mc.offer;
        personal = 1;
        if (!offer_decl(run, name))
            return refuse(L, run, "code %s: its offer %s is no longer running", code, name);
    }
    if (!name) {
        if (personal_offer_of(run, code))
            return refuse(L, run, "code %s is not one of this member's codes", code);
        /* Not declared here: maybe a shared code added through the API (a read in Redis). */
        lua_settop(L, 3);
        lua_pushstring(L, code);
        return luart_global_call(L, "code_find", json_pack("{s:s}", "code", code), found_done);
    }
    return redeem_checks(L, run, code, name, personal, &mc, total);
}
/*
 * m:issue_code(offer) -> a new personal code of the offer for this member
 * (reported as {"kind": "code", "offer", "code"}), or nil and why not.
 */
static int m_issue_code(lua_State *L)
{
    mech_run *run = luart_running(L);
    const char *name = luart_check_name(L, 2, "offer");
    json_t *decl = offer_decl(run, name);
    char code[OFFER_CODE_MAX + 1];
    member_code mc;
    size_t i;
    int n = 0;
    if (!decl)
        return luaL_error(L, "issue_code: offer '%s' is not declared", name);
    if (!json_is_true(json_object_get(decl, "personal")))
        return luaL_error(L,
                          "issue_code: offer '%s' has a shared code (declare it personal = "
                          "true to issue codes)",
                          name);
    for (i = 0; i < run->m->nouts; i++) {
        const json_t *co = run->m->outs[i]->obj; /* a code is a jansson outcome (MO_JSON) */
        const char *k = run->m->outs[i]->type == MO_JSON
                            ? json_string_value(json_object_get(co, "kind"))
                            : NULL;
        const char *of = json_string_value(json_object_get(co, "offer"));
        n += k && of && !strcmp(k, "code") && !strcmp(of, name);
    }
    if (member_code_count(run->m, NULL) >= OFFER_CODES_PER_MEMBER)
        return refuse(L, run, "the member holds %d codes already", OFFER_CODES_PER_MEMBER);
    offer_personal_code(name, json_string_value(json_object_get(decl, "prefix")), run->m->id,
                        run->ev->id, n, code);
    memset(&mc, 0, sizeof mc);
    pc_copy(mc.offer, sizeof mc.offer, name);
    mc.issued_ms = run->ev->at_ms;
    if (member_code_set(run->m, code, &mc))
        return luart_oom(L);
    luart_outcome(L, run,
                  json_pack("{s:s, s:s, s:s}", "kind", "code", "offer", name, "code", code));
    lua_pushstring(L, code);
    return 1;
}

static const luaL_Reg methods[] = {
    {"redeem_code", m_redeem_code}, {"issue_code", m_issue_code}, {NULL, NULL}};

void luart_offers_methods(lua_State *L)
{
    luaL_setfuncs(L, methods, 0);
}
