/*
 * Key names (keys-internal.h holds the layout).
 */
#include "keys-internal.h"

#include <stdio.h>

static int fits(int n, size_t outlen)
{
    return n < 0 || (size_t)n >= outlen ? -1 : n;
}

int pc_member_key(char *out, size_t outlen, const char *ns, const char *member, const char *suffix)
{
    return fits(snprintf(out, outlen, "%s:{%s}:%s", ns, member, suffix), outlen);
}

int keys_global(char *out, size_t outlen, const char *ns, const char *name)
{
    return fits(snprintf(out, outlen, "%s:%s", ns, name), outlen);
}

int keys_partner_day(char *out, size_t outlen, const char *ns, const char *partner,
                     const char *day)
{
    return fits(snprintf(out, outlen, "%s:partner:%s:%s", ns, partner, day), outlen);
}

int keys_resource(char *out, size_t outlen, const char *ns, const char *kind, const char *name,
                  const char *suffix)
{
    return fits(snprintf(out, outlen, "%s:{%s:%s}:%s", ns, kind, name, suffix), outlen);
}
