/*
 * Key names (see keys-internal.h for the layout).
 */
#include "store/keys-internal.h"

#include <stdio.h>

int pc_member_key(char *out, size_t outlen, const char *ns, const char *member, const char *suffix)
{
    int n = snprintf(out, outlen, "%s:{%s}:%s", ns, member, suffix);
    return n < 0 || (size_t)n >= outlen ? -1 : n;
}
