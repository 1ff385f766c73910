/*
 * Key names (keys-internal.h holds the layout).
 */
#include "keys-internal.h"
#include "punchcard/event.h"

#include <stdio.h>
#include <string.h>

static int fits(int n, size_t outlen)
{
    return n < 0 || (size_t)n >= outlen ? -1 : n;
}

int pc_member_key(char *out, size_t outlen, const char *ns, const char *member, const char *suffix)
{
    return fits(snprintf(out, outlen, "%s:{%s}:%s", ns, member, suffix), outlen);
}

int keys_event(char *out, size_t outlen, const char *ns, const char *member, const char *event_id)
{
    return fits(snprintf(out, outlen, "%s:{%s}:ev:%s", ns, member, event_id), outlen);
}

int keys_global(char *out, size_t outlen, const char *ns, const char *name)
{
    return fits(snprintf(out, outlen, "%s:%s", ns, name), outlen);
}

int keys_partner_day(char *out, size_t outlen, const char *ns, const char *partner, const char *day)
{
    return fits(snprintf(out, outlen, "%s:partner:%s:%s", ns, partner, day), outlen);
}

int keys_resource(char *out, size_t outlen, const char *ns, const char *kind, const char *name,
                  const char *suffix)
{
    return fits(snprintf(out, outlen, "%s:{%s:%s}:%s", ns, kind, name, suffix), outlen);
}

int keys_draw_pool(char *out, size_t outlen, const char *ns, const char *draw, const char *prize,
                   const char *period)
{
    return fits(snprintf(out, outlen, "%s:{draw:%s}:pool:%s:%s", ns, draw, prize, period), outlen);
}

int keys_stats(char *out, size_t outlen, const char *ns, const char *partner, const char *day)
{
    if (partner)
        return keys_partner_day(out, outlen, ns, partner, day);
    return fits(snprintf(out, outlen, "%s:stats:%s", ns, day ? day : "total"), outlen);
}

int keys_member_of(char *out, size_t outlen, const char *key, size_t len)
{
    const char *open = memchr(key, '{', len), *close;
    size_t n;
    /* Member ids hold no braces and namespaces no '{': the tag is the first {...}. */
    if (!open || !(close = memchr(open, '}', len - (size_t)(open - key))) ||
        (size_t)(close - key) + 1 >= len || close[1] != ':')
        return -1;
    n = (size_t)(close - open - 1);
    if (n == 0 || n >= outlen)
        return -1;
    memcpy(out, open + 1, n);
    out[n] = '\0';
    /* Keys are binary: "{a\0b}" would hand out the id "a", another member's. */
    if (strlen(out) != n || !pc_valid_id(out))
        return -1;
    return (int)n;
}

int keys_claim(char *out, size_t outlen, const char *ns, const char *kind, const char *name,
               const char *claim_id)
{
    return fits(snprintf(out, outlen, "%s:{%s:%s}:claim:%s", ns, kind, name, claim_id), outlen);
}
