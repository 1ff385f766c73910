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

static const struct {
    const char *prefix, *suffix;
    enum shape shape;
} schema[] = {
    [MEMBER_F_NONE] = {"", "", SINGLE},
    [MEMBER_F_VERSION] = {"v", "", SINGLE},
    [MEMBER_F_TIER] = {"t", "", SINGLE},
    [MEMBER_F_TIER_FLOOR] = {"tf", "", SINGLE},
    [MEMBER_F_WAKE] = {"wk", "", SINGLE},
    [MEMBER_F_DUE] = {"due", "", SINGLE},
    [MEMBER_F_BALANCE] = {"b:", "", NAMED},
    [MEMBER_F_PENDING] = {"pb:", "", NAMED},
    [MEMBER_F_COUNTER] = {"c:", "", NAMED},
    [MEMBER_F_BADGE] = {"g:", "", NAMED},
    [MEMBER_F_PRIZE] = {"p:", "", NAMED},
    [MEMBER_F_ATTR] = {"a:", "", NAMED},
    [MEMBER_F_LOT] = {"l:", "", WITH_SUB},
    [MEMBER_F_LOT_LAST] = {"ln:", "", NAMED},
    [MEMBER_F_REVERSED] = {"rv:", "", WITH_SUB},
    [MEMBER_F_WINDOW] = {"w:", "", WITH_SUB},
    [MEMBER_F_ONCE] = {"o:", "", NAMED},
    [MEMBER_F_STREAK_LEN] = {"s:", ":len", NAMED},
    [MEMBER_F_STREAK_BEST] = {"s:", ":best", NAMED},
    [MEMBER_F_STREAK_LAST] = {"s:", ":last", NAMED},
    [MEMBER_F_STREAK_FREEZES] = {"s:", ":frz", NAMED},
    [MEMBER_F_STREAK_FREEZE_MONTH] = {"s:", ":fm", NAMED},
    [MEMBER_F_LEVEL] = {"gl:", "", NAMED},
    [MEMBER_F_LEVEL_PROGRESS] = {"gp:", "", NAMED},
    [MEMBER_F_LEVEL_NEXT] = {"gn:", "", NAMED},
    [MEMBER_F_LEVEL_AT] = {"gt:", "", NAMED},
    [MEMBER_F_DRAW_WINS] = {"dw:", "", NAMED},
    [MEMBER_F_JOINED] = {"j", "", SINGLE},
    [MEMBER_F_LAST_EVENT] = {"le", "", SINGLE},
    [MEMBER_F_LAST_TYPE] = {"lt:", "", NAMED},
    [MEMBER_F_EXPERIMENT] = {"x:", "", NAMED},
    [MEMBER_F_OFFER_USE] = {"ou:", "", NAMED},
    [MEMBER_F_CODE] = {"oc:", "", NAMED},
    [MEMBER_F_NOTICE_DUE] = {"xd", "", SINGLE},
    [MEMBER_F_NOTICED] = {"xn:", "", NAMED},
    [MEMBER_F_DISCOUNT_BACK] = {"dr:", "", NAMED},
};

#define NKINDS (sizeof schema / sizeof *schema)

const char *member_field_name(char *out, size_t n, enum member_kind kind, const char *name,
                              const char *sub)
{
    size_t at = 0;
    int bad;
    if ((size_t)kind >= NKINDS || kind == MEMBER_F_NONE || !n)
        return NULL;
    /* Called many times per event: no printf. */
    out[0] = '\0';
    bad = pc_append(out, n, &at, schema[kind].prefix);
    switch (schema[kind].shape) {
    case SINGLE:
        break;
    case NAMED:
        bad = bad || pc_append(out, n, &at, name) || pc_append(out, n, &at, schema[kind].suffix);
        break;
    default:
        bad = bad || pc_append(out, n, &at, name) || pc_append(out, n, &at, ":") ||
              pc_append(out, n, &at, sub);
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
    plen = strlen(schema[kind].prefix);
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
    slen = strlen(schema[kind].suffix);
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
