/*
 * The member hash's schema in one table (schema-internal.h lists it): the
 * builder and the recogniser of every field name. Pure string functions;
 * member.c, fields.c's typed accessors, lots.c and render.c use them.
 */
#include "model/schema-internal.h"
#include "punchcard/common.h"

#include <stdio.h>
#include <string.h>

/*
 * A field is prefix + name + suffix, or prefix + name + ":" + sub for the
 * kinds with a sub; a kind without a name is its prefix alone.
 */
enum shape { SINGLE, NAMED, WITH_SUB };

#define S(prefix, suffix, shape)                                                                   \
    {                                                                                              \
        prefix, suffix, shape, sizeof prefix - 1, sizeof suffix - 1                                \
    }

static const struct {
    const char *prefix, *suffix;
    enum shape shape;
    unsigned char plen, slen; /* strlen of prefix and suffix (S() fills them in) */
} schema[] = {
    [MEMBER_F_NONE] = S("", "", SINGLE),
    [MEMBER_F_VERSION] = S("v", "", SINGLE),
    [MEMBER_F_TIER] = S("t", "", SINGLE),
    [MEMBER_F_TIER_FLOOR] = S("tf", "", SINGLE),
    [MEMBER_F_WAKE] = S("wk", "", SINGLE),
    [MEMBER_F_DUE] = S("due", "", SINGLE),
    [MEMBER_F_BALANCE] = S("b:", "", NAMED),
    [MEMBER_F_PENDING] = S("pb:", "", NAMED),
    [MEMBER_F_COUNTER] = S("c:", "", NAMED),
    [MEMBER_F_BADGE] = S("g:", "", NAMED),
    [MEMBER_F_PRIZE] = S("p:", "", NAMED),
    [MEMBER_F_ATTR] = S("a:", "", NAMED),
    [MEMBER_F_LOT] = S("l:", "", WITH_SUB),
    [MEMBER_F_LOT_LAST] = S("ln:", "", NAMED),
    [MEMBER_F_REVERSED] = S("rv:", "", WITH_SUB),
    [MEMBER_F_WINDOW] = S("w:", "", WITH_SUB),
    [MEMBER_F_ONCE] = S("o:", "", NAMED),
    [MEMBER_F_STREAK_LEN] = S("s:", ":len", NAMED),
    [MEMBER_F_STREAK_BEST] = S("s:", ":best", NAMED),
    [MEMBER_F_STREAK_LAST] = S("s:", ":last", NAMED),
    [MEMBER_F_STREAK_FREEZES] = S("s:", ":frz", NAMED),
    [MEMBER_F_STREAK_FREEZE_MONTH] = S("s:", ":fm", NAMED),
    [MEMBER_F_LEVEL] = S("gl:", "", NAMED),
    [MEMBER_F_LEVEL_PROGRESS] = S("gp:", "", NAMED),
    [MEMBER_F_LEVEL_NEXT] = S("gn:", "", NAMED),
    [MEMBER_F_LEVEL_AT] = S("gt:", "", NAMED),
    [MEMBER_F_DRAW_WINS] = S("dw:", "", NAMED),
    [MEMBER_F_JOINED] = S("j", "", SINGLE),
    [MEMBER_F_LAST_EVENT] = S("le", "", SINGLE),
    [MEMBER_F_LAST_TYPE] = S("lt:", "", NAMED),
    [MEMBER_F_EXPERIMENT] = S("x:", "", NAMED),
    [MEMBER_F_OFFER_USE] = S("ou:", "", NAMED),
    [MEMBER_F_CODE] = S("oc:", "", NAMED),
    [MEMBER_F_NOTICE_DUE] = S("xd", "", SINGLE),
    [MEMBER_F_NOTICED] = S("xn:", "", NAMED),
    [MEMBER_F_DISCOUNT_BACK] = S("dr:", "", NAMED),
};

#define NKINDS (sizeof schema / sizeof *schema)

/*
 * Appends the NUL-terminated s at *at, byte by byte (names are short: no strlen, no
 * memcpy call); -1 (out left terminated) when it does not fit in n.
 */
static int put(char *out, size_t n, size_t *at, const char *s)
{
    size_t i = *at;
    for (; *s; s++) {
        if (i + 1 >= n) {
            out[n - 1] = '\0';
            return -1;
        }
        out[i++] = *s;
    }
    out[i] = '\0';
    *at = i;
    return 0;
}

const char *member_field_name(char *out, size_t n, enum member_kind kind, const char *name,
                              const char *sub)
{
    size_t at = 0;
    int bad;
    if ((size_t)kind >= NKINDS || kind == MEMBER_F_NONE || !n)
        return NULL;
    /* Called tens of times per event: no printf, no strlen, no memcpy call. */
    out[0] = '\0';
    bad = put(out, n, &at, schema[kind].prefix);
    switch (schema[kind].shape) {
    case SINGLE:
        break;
    case NAMED:
        bad = bad || put(out, n, &at, name) || put(out, n, &at, schema[kind].suffix);
        break;
    default:
        bad = bad || put(out, n, &at, name) || put(out, n, &at, ":") || put(out, n, &at, sub);
        break;
    }
    return bad ? NULL : out;
}

int member_field_is(const char *field, enum member_kind kind, member_field_ref *ref)
{
    const char *p, *end;
    size_t plen, slen;
    if ((size_t)kind >= NKINDS || kind == MEMBER_F_NONE)
        return 0;
    /* Every prefix but NONE's has a first byte: most fields are told apart by it. */
    if (field[0] != schema[kind].prefix[0])
        return 0;
    plen = schema[kind].plen;
    if (strncmp(field, schema[kind].prefix, plen) != 0)
        return 0;
    p = field + plen;
    if (schema[kind].shape == SINGLE) {
        if (*p)
            return 0;
        if (ref)
            *ref = (member_field_ref){.name = p};
        return 1;
    }
    if (schema[kind].shape == WITH_SUB) {
        /* Names have no ':'; a sub (an event id) may. */
        end = strchr(p, ':');
        if (!end || end == p)
            return 0;
        if (ref)
            *ref = (member_field_ref){.name = p, .name_len = (size_t)(end - p), .sub = end + 1};
        return 1;
    }
    slen = schema[kind].slen;
    end = p + strlen(p);
    if (slen) {
        /* A streak's part is after its name's last ':'. */
        const char *colon = strrchr(p, ':');
        if (!colon || strcmp(colon, schema[kind].suffix) != 0)
            return 0;
        end = colon;
    }
    if (end == p)
        return 0;
    if (ref)
        *ref = (member_field_ref){.name = p, .name_len = (size_t)(end - p)};
    return 1;
}

enum member_kind member_field_kind(const char *field, member_field_ref *ref)
{
    for (size_t k = 1; k < NKINDS; k++)
        if (member_field_is(field, (enum member_kind)k, ref))
            return (enum member_kind)k;
    return MEMBER_F_NONE;
}
