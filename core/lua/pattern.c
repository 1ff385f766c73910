/*
 * string.find, string.match, string.gmatch and string.gsub with a meter.
 *
 * Lua's own matcher backtracks inside one C call, where no hook can reach:
 * string.find(("a"):rep(1e5), ".-b") runs for minutes, and no bound on the
 * number of repetition items can tell such a pattern from a harmless one.
 * This is the same pattern language (Lua 5.4 manual, section 6.4.1) written
 * anew with a step counter: every step of the matcher is charged to the
 * running event's instruction budget (luart_charge), which also looks at the
 * deadline, so a runaway match is stopped like a runaway loop, with the same
 * error, at a file's top level as well as in a run.
 */
#include "lua-internal.h"

#include <ctype.h>
#include <string.h>

#define PAT_ESC            '%'
#define PAT_SPECIALS       "^$*+?.([%-"
#define PAT_MAXCAPTURES    32
#define PAT_MAXDEPTH       200 /* nesting of the matcher's recursion, as Lua's MAXCCALLS */
#define PAT_CAP_UNFINISHED (-1)
#define PAT_CAP_POSITION   (-2)

/*
 * Matcher steps per instruction of the budget: one step (a character tried
 * against a class, an item entered) costs a few nanoseconds, a VM
 * instruction about as much as four of them.
 */
#define PAT_STEPS_PER_INSTR 4
/* Steps between two charges (and deadline checks). */
#define PAT_CHARGE_EVERY 4096

typedef struct pat_state {
    const char *src, *src_end; /* the subject */
    const char *p_end;         /* the pattern's end */
    lua_State *L;
    int depth; /* recursion left */
    int level; /* captures open or closed so far */
    unsigned steps;
    struct {
        const char *init;
        ptrdiff_t len; /* or PAT_CAP_UNFINISHED / PAT_CAP_POSITION */
    } cap[PAT_MAXCAPTURES];
} pat_state;

static void pat_step(pat_state *ms)
{
    if (++ms->steps >= PAT_CHARGE_EVERY) {
        ms->steps = 0;
        luart_charge(ms->L, PAT_CHARGE_EVERY / PAT_STEPS_PER_INSTR);
    }
}

static void pat_reset(pat_state *ms)
{
    ms->level = 0;
    ms->depth = PAT_MAXDEPTH;
}

static void pat_init(pat_state *ms, lua_State *L, const char *s, size_t ls, const char *p,
                     size_t lp)
{
    ms->L = L;
    ms->src = s;
    ms->src_end = s + ls;
    ms->p_end = p + lp;
    ms->steps = 0;
    pat_reset(ms);
}

/* Whether c is in the class %cl (an upper-case letter is the complement). */
static int class_has(int c, int cl)
{
    int in;
    switch (tolower(cl)) {
    case 'a':
        in = isalpha(c);
        break;
    case 'c':
        in = iscntrl(c);
        break;
    case 'd':
        in = isdigit(c);
        break;
    case 'g':
        in = isgraph(c);
        break;
    case 'l':
        in = islower(c);
        break;
    case 'p':
        in = ispunct(c);
        break;
    case 's':
        in = isspace(c);
        break;
    case 'u':
        in = isupper(c);
        break;
    case 'w':
        in = isalnum(c);
        break;
    case 'x':
        in = isxdigit(c);
        break;
    case 'z': /* deprecated in the manual, still understood by Lua */
        in = c == 0;
        break;
    default:
        return cl == c;
    }
    if (isupper(cl))
        in = !in;
    return in != 0;
}

/* The end of the single-character class starting at p ("x", "%a", ".", "[...]"). */
static const char *item_end(pat_state *ms, const char *p)
{
    char c = *p++;
    if (c == PAT_ESC) {
        if (p >= ms->p_end)
            luaL_error(ms->L, "malformed pattern (ends with '%%')");
        return p + 1;
    }
    if (c == '[') {
        if (p < ms->p_end && *p == '^')
            p++;
        /* The first character of a set is taken as is, so "[]]" is a set of ']'. */
        do {
            if (p >= ms->p_end)
                luaL_error(ms->L, "malformed pattern (missing ']')");
            if (*p++ == PAT_ESC && p < ms->p_end)
                p++;
        } while (p >= ms->p_end || *p != ']');
        return p + 1;
    }
    return p;
}

/* c against the set [...] from p (at '[') to last (at its ']'). */
static int set_has(int c, const char *p, const char *last)
{
    int yes = 1;
    if (p[1] == '^') {
        yes = 0;
        p++;
    }
    while (++p < last) {
        if (*p == PAT_ESC) {
            p++;
            if (class_has(c, (unsigned char)*p))
                return yes;
        } else if (p[1] == '-' && p + 2 < last) {
            p += 2;
            if ((unsigned char)p[-2] <= c && c <= (unsigned char)*p)
                return yes;
        } else if ((unsigned char)*p == c) {
            return yes;
        }
    }
    return !yes;
}

/* Whether the character at s matches the item from p to ep. */
static int item_matches(pat_state *ms, const char *s, const char *p, const char *ep)
{
    int c;
    pat_step(ms);
    if (s >= ms->src_end)
        return 0;
    c = (unsigned char)*s;
    switch (*p) {
    case '.':
        return 1;
    case PAT_ESC:
        return class_has(c, (unsigned char)p[1]);
    case '[':
        return set_has(c, p, ep - 1);
    default:
        return (unsigned char)*p == c;
    }
}

static const char *do_match(pat_state *ms, const char *s, const char *p);

/* %bxy at p (pointing at x): a balanced run from s, or NULL. */
static const char *match_balance(pat_state *ms, const char *s, const char *p)
{
    int open, close, depth = 1;
    if (p + 1 >= ms->p_end)
        luaL_error(ms->L, "malformed pattern (missing arguments to '%%b')");
    if (s >= ms->src_end || *s != *p)
        return NULL;
    open = *p;
    close = p[1];
    while (++s < ms->src_end) {
        pat_step(ms);
        if (*s == close) {
            if (--depth == 0)
                return s + 1;
        } else if (*s == open) {
            depth++;
        }
    }
    return NULL;
}

/* The longest run of the item, then backing off one by one (*, +). */
static const char *match_greedy(pat_state *ms, const char *s, const char *p, const char *ep)
{
    ptrdiff_t i = 0;
    while (item_matches(ms, s + i, p, ep))
        i++;
    for (; i >= 0; i--) {
        const char *r = do_match(ms, s + i, ep + 1);
        if (r)
            return r;
    }
    return NULL;
}

/* The shortest run of the item that lets the rest match (-). */
static const char *match_lazy(pat_state *ms, const char *s, const char *p, const char *ep)
{
    for (;;) {
        const char *r = do_match(ms, s, ep + 1);
        if (r)
            return r;
        if (!item_matches(ms, s, p, ep))
            return NULL;
        s++;
    }
}

static const char *open_capture(pat_state *ms, const char *s, const char *p, ptrdiff_t what)
{
    const char *r;
    int l = ms->level;
    if (l >= PAT_MAXCAPTURES)
        luaL_error(ms->L, "too many captures");
    ms->cap[l].init = s;
    ms->cap[l].len = what;
    ms->level = l + 1;
    if (!(r = do_match(ms, s, p)))
        ms->level--;
    return r;
}

static const char *close_capture(pat_state *ms, const char *s, const char *p)
{
    const char *r;
    int l = ms->level - 1;
    while (l >= 0 && ms->cap[l].len != PAT_CAP_UNFINISHED)
        l--;
    if (l < 0)
        luaL_error(ms->L, "invalid pattern capture");
    ms->cap[l].len = s - ms->cap[l].init;
    if (!(r = do_match(ms, s, p)))
        ms->cap[l].len = PAT_CAP_UNFINISHED;
    return r;
}

/* %1..%9: the text of an earlier capture again. */
static const char *match_backref(pat_state *ms, const char *s, int digit)
{
    int l = digit - '1';
    size_t len;
    if (l < 0 || l >= ms->level || ms->cap[l].len == PAT_CAP_UNFINISHED)
        luaL_error(ms->L, "invalid capture index %%%d", l + 1);
    len = (size_t)ms->cap[l].len;
    ms->steps += (unsigned)(len / 16);
    pat_step(ms);
    if ((size_t)(ms->src_end - s) >= len && memcmp(ms->cap[l].init, s, len) == 0)
        return s + len;
    return NULL;
}

/* Matches the pattern from p at s: the end of the match, or NULL. */
static const char *do_match(pat_state *ms, const char *s, const char *p)
{
    if (ms->depth-- == 0)
        luaL_error(ms->L, "pattern too complex");
    while (s && p < ms->p_end) {
        const char *ep;
        pat_step(ms);
        switch (*p) {
        case '(':
            if (p + 1 < ms->p_end && p[1] == ')')
                s = open_capture(ms, s, p + 2, PAT_CAP_POSITION);
            else
                s = open_capture(ms, s, p + 1, PAT_CAP_UNFINISHED);
            goto done;
        case ')':
            s = close_capture(ms, s, p + 1);
            goto done;
        case '$':
            if (p + 1 == ms->p_end) {
                if (s != ms->src_end)
                    s = NULL;
                goto done;
            }
            break; /* a '$' inside the pattern is itself */
        case PAT_ESC:
            if (p + 1 >= ms->p_end)
                break; /* item_end reports it */
            if (p[1] == 'b') {
                s = match_balance(ms, s, p + 2);
                if (s)
                    p += 4;
                continue;
            }
            if (p[1] == 'f') {
                int prev, cur;
                p += 2;
                if (p >= ms->p_end || *p != '[')
                    luaL_error(ms->L, "missing '[' after '%%f' in pattern");
                ep = item_end(ms, p);
                prev = s == ms->src ? '\0' : (unsigned char)s[-1];
                cur = s < ms->src_end ? (unsigned char)*s : '\0';
                if (!set_has(prev, p, ep - 1) && set_has(cur, p, ep - 1)) {
                    p = ep;
                    continue;
                }
                s = NULL;
                goto done;
            }
            if (isdigit((unsigned char)p[1])) {
                s = match_backref(ms, s, (unsigned char)p[1]);
                if (s)
                    p += 2;
                continue;
            }
            break;
        default:
            break;
        }
        /* A single-character item, maybe with a repetition after it. */
        ep = item_end(ms, p);
        if (!item_matches(ms, s, p, ep)) {
            if (ep < ms->p_end && (*ep == '*' || *ep == '?' || *ep == '-')) {
                p = ep + 1; /* zero repetitions are fine */
                continue;
            }
            s = NULL;
            goto done;
        }
        switch (ep < ms->p_end ? *ep : '\0') {
        case '?': {
            const char *r = do_match(ms, s + 1, ep + 1);
            if (r) {
                s = r;
                goto done;
            }
            p = ep + 1;
            continue;
        }
        case '+':
            s = match_greedy(ms, s + 1, p, ep);
            goto done;
        case '*':
            s = match_greedy(ms, s, p, ep);
            goto done;
        case '-':
            s = match_lazy(ms, s, p, ep);
            goto done;
        default:
            s++;
            p = ep;
            continue;
        }
    }
done:
    ms->depth++;
    return s;
}

/* Pushes capture i of a match from s to e (the whole match when there are none). */
static void push_capture(pat_state *ms, int i, const char *s, const char *e)
{
    if (i >= ms->level) {
        if (i != 0)
            luaL_error(ms->L, "invalid capture index %%%d", i + 1);
        lua_pushlstring(ms->L, s, (size_t)(e - s));
        return;
    }
    if (ms->cap[i].len == PAT_CAP_UNFINISHED)
        luaL_error(ms->L, "unfinished capture");
    if (ms->cap[i].len == PAT_CAP_POSITION)
        lua_pushinteger(ms->L, (lua_Integer)(ms->cap[i].init - ms->src) + 1);
    else
        lua_pushlstring(ms->L, ms->cap[i].init, (size_t)ms->cap[i].len);
}

/* Pushes every capture (or the whole match when s is not NULL and there are none). */
static int push_captures(pat_state *ms, const char *s, const char *e)
{
    int n = ms->level == 0 && s ? 1 : ms->level;
    luaL_checkstack(ms->L, n, "too many captures");
    for (int i = 0; i < n; i++)
        push_capture(ms, i, s, e);
    return n;
}

/* A start position as Lua's string functions take it: 1-based, negative from the end. */
static size_t start_pos(lua_Integer pos, size_t len)
{
    if (pos > 0)
        return (size_t)pos;
    if (pos == 0 || pos < -(lua_Integer)len)
        return 1;
    return len + (size_t)pos + 1;
}

static int has_specials(const char *p, size_t lp)
{
    for (size_t i = 0; i < lp; i++)
        if (strchr(PAT_SPECIALS, p[i]) && p[i] != '\0')
            return 1;
    return 0;
}

static int find_or_match(lua_State *L, int find)
{
    size_t ls, lp;
    const char *s = luaL_checklstring(L, 1, &ls);
    const char *p = luaL_checklstring(L, 2, &lp);
    size_t init = start_pos(luaL_optinteger(L, 3, 1), ls) - 1;
    pat_state ms;
    const char *s1;
    int anchor;

    if (init > ls) {
        luaL_pushfail(L);
        return 1;
    }
    if (find && (lua_toboolean(L, 4) || !has_specials(p, lp))) {
        /* glibc's memmem is linear in the subject: no pattern, no meter needed. */
        const char *at = memmem(s + init, ls - init, p, lp);
        if (!at) {
            luaL_pushfail(L);
            return 1;
        }
        lua_pushinteger(L, (lua_Integer)(at - s) + 1);
        lua_pushinteger(L, (lua_Integer)(at - s) + (lua_Integer)lp);
        return 2;
    }
    anchor = lp > 0 && *p == '^';
    if (anchor) {
        p++;
        lp--;
    }
    pat_init(&ms, L, s, ls, p, lp);
    s1 = s + init;
    do {
        const char *e;
        pat_reset(&ms);
        if ((e = do_match(&ms, s1, p)) != NULL) {
            if (find) {
                lua_pushinteger(L, (lua_Integer)(s1 - s) + 1);
                lua_pushinteger(L, (lua_Integer)(e - s));
                return push_captures(&ms, NULL, NULL) + 2;
            }
            return push_captures(&ms, s1, e);
        }
    } while (s1++ < ms.src_end && !anchor);
    luaL_pushfail(L);
    return 1;
}

static int pat_find(lua_State *L)
{
    return find_or_match(L, 1);
}

static int pat_match(lua_State *L)
{
    return find_or_match(L, 0);
}

/* The iterator's state, a userdata kept as its upvalue 3 (the subject and pattern are 1, 2). */
typedef struct gmatch_state {
    size_t pos;     /* where the next try starts */
    ptrdiff_t last; /* end of the last match, or -1 */
    pat_state ms;
} gmatch_state;

static int gmatch_next(lua_State *L)
{
    size_t ls, lp;
    const char *s = lua_tolstring(L, lua_upvalueindex(1), &ls);
    const char *p = lua_tolstring(L, lua_upvalueindex(2), &lp);
    gmatch_state *g = lua_touserdata(L, lua_upvalueindex(3));

    /* The iterator may run on another thread than the one that made it. */
    pat_init(&g->ms, L, s, ls, p, lp);
    for (const char *src = s + g->pos; src <= g->ms.src_end; src++) {
        const char *e;
        pat_reset(&g->ms);
        if ((e = do_match(&g->ms, src, p)) != NULL && e - s != g->last) {
            g->pos = (size_t)(e - s);
            g->last = e - s;
            return push_captures(&g->ms, src, e);
        }
    }
    g->pos = ls + 1;
    return 0;
}

static int pat_gmatch(lua_State *L)
{
    size_t ls;
    gmatch_state *g;
    luaL_checklstring(L, 1, &ls);
    luaL_checkstring(L, 2);
    size_t init = start_pos(luaL_optinteger(L, 3, 1), ls) - 1;
    lua_settop(L, 2);
    g = lua_newuserdatauv(L, sizeof *g, 0);
    memset(g, 0, sizeof *g);
    g->pos = init > ls ? ls + 1 : init;
    g->last = -1;
    lua_pushcclosure(L, gmatch_next, 3);
    return 1;
}

/* Appends the replacement string (with %0-%9 and %%) for a match from s to e. */
static void add_repl_string(pat_state *ms, luaL_Buffer *b, const char *s, const char *e)
{
    lua_State *L = ms->L;
    size_t l;
    const char *r = lua_tolstring(L, 3, &l), *end = r + l, *esc;
    while ((esc = memchr(r, PAT_ESC, (size_t)(end - r))) != NULL) {
        luaL_addlstring(b, r, (size_t)(esc - r));
        esc++;
        if (esc < end && *esc == PAT_ESC) {
            luaL_addchar(b, PAT_ESC);
        } else if (esc < end && isdigit((unsigned char)*esc)) {
            if (*esc == '0') {
                luaL_addlstring(b, s, (size_t)(e - s));
            } else {
                push_capture(ms, *esc - '1', s, e);
                luaL_tolstring(L, -1, NULL);
                lua_remove(L, -2);
                luaL_addvalue(b);
            }
        } else {
            luaL_error(L, "invalid use of '%c' in replacement string", PAT_ESC);
        }
        r = esc + 1;
    }
    luaL_addlstring(b, r, (size_t)(end - r));
}

/* Appends what replaces the match from s to e: the repl string, a table's value, a call's result.
 */
static void add_replacement(pat_state *ms, luaL_Buffer *b, const char *s, const char *e, int tr)
{
    lua_State *L = ms->L;
    if (tr == LUA_TFUNCTION) {
        int n;
        lua_pushvalue(L, 3);
        n = push_captures(ms, s, e);
        lua_call(L, n, 1);
    } else if (tr == LUA_TTABLE) {
        push_capture(ms, 0, s, e);
        lua_gettable(L, 3);
    } else {
        add_repl_string(ms, b, s, e);
        return;
    }
    if (!lua_toboolean(L, -1)) { /* nil or false: keep the original text */
        lua_pop(L, 1);
        luaL_addlstring(b, s, (size_t)(e - s));
    } else if (!lua_isstring(L, -1)) {
        luaL_error(L, "invalid replacement value (a %s)", luaL_typename(L, -1));
    } else {
        luaL_addvalue(b);
    }
}

static int pat_gsub(lua_State *L)
{
    size_t ls, lp;
    const char *src = luaL_checklstring(L, 1, &ls);
    const char *p = luaL_checklstring(L, 2, &lp);
    const char *last = NULL;
    int tr = lua_type(L, 3);
    lua_Integer max = luaL_optinteger(L, 4, (lua_Integer)ls + 1), n = 0;
    int anchor = lp > 0 && *p == '^';
    pat_state ms;
    luaL_Buffer b;

    luaL_argexpected(
        L, tr == LUA_TNUMBER || tr == LUA_TSTRING || tr == LUA_TFUNCTION || tr == LUA_TTABLE, 3,
        "string/function/table");
    if (anchor) {
        p++;
        lp--;
    }
    luaL_buffinit(L, &b);
    pat_init(&ms, L, src, ls, p, lp);
    while (n < max) {
        const char *e;
        pat_reset(&ms);
        if ((e = do_match(&ms, src, p)) != NULL && e != last) {
            n++;
            add_replacement(&ms, &b, src, e, tr);
            src = last = e;
        } else if (src < ms.src_end) {
            luaL_addchar(&b, *src++);
        } else {
            break;
        }
        if (anchor)
            break;
    }
    luaL_addlstring(&b, src, (size_t)(ms.src_end - src));
    luaL_pushresult(&b);
    lua_pushinteger(L, n);
    return 2;
}

void luart_open_patterns(lua_State *L)
{
    static const luaL_Reg fns[] = {{"find", pat_find},
                                   {"match", pat_match},
                                   {"gmatch", pat_gmatch},
                                   {"gsub", pat_gsub},
                                   {NULL, NULL}};
    luaL_setfuncs(L, fns, 0);
}
