/*
 * Key names (keys-internal.h holds the layout).
 */
#include "keys-internal.h"
#include "punchcard/common.h"
#include "punchcard/event.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static int fits(int n, size_t outlen)
{
    return n < 0 || (size_t)n >= outlen ? -1 : n;
}

/*
 * The n strings after n, one after the other, into out: their length, or -1
 * when they do not fit (out then holds a truncated, terminated prefix). Keys
 * are built for every event, so without snprintf's format parsing.
 */
static int join(char *out, size_t outlen, int n, ...)
{
    va_list ap;
    size_t len = 0;
    int ok = 1;

    va_start(ap, n);
    for (int i = 0; i < n && ok; i++) {
        const char *s = va_arg(ap, const char *);
        size_t l = strlen(s);
        if (len + l >= outlen) {
            l = outlen > len + 1 ? outlen - len - 1 : 0;
            ok = 0;
        }
        memcpy(out + len, s, l);
        len += l;
    }
    va_end(ap);
    if (outlen)
        out[len < outlen ? len : outlen - 1] = '\0';
    return ok ? (int)len : -1;
}

int pc_member_key(char *out, size_t outlen, const char *ns, const char *member, const char *suffix)
{
    return join(out, outlen, 5, ns, ":{", member, "}:", suffix);
}

int keys_event(char *out, size_t outlen, const char *ns, const char *member, const char *event_id)
{
    return join(out, outlen, 5, ns, ":{", member, "}:ev:", event_id);
}

int keys_global(char *out, size_t outlen, const char *ns, const char *name)
{
    return join(out, outlen, 3, ns, ":", name);
}

int keys_partner_day(char *out, size_t outlen, const char *ns, const char *partner, const char *day)
{
    return join(out, outlen, 5, ns, ":partner:", partner, ":", day);
}

int keys_resource(char *out, size_t outlen, const char *ns, const char *kind, const char *name,
                  const char *suffix)
{
    return fits(snprintf(out, outlen, "%s:{%s:%s}:%s", ns, kind, name, suffix), outlen);
}

int keys_program(char *out, size_t outlen, const char *ns, const char *tag, const char *suffix)
{
    return fits(snprintf(out, outlen, "%s:{%s}:%s", ns, tag, suffix), outlen);
}

int keys_experiment(char *out, size_t outlen, const char *ns, const char *experiment)
{
    return fits(snprintf(out, outlen, "%s:{exp:%s}:figures", ns, experiment), outlen);
}

int keys_draw_pool(char *out, size_t outlen, const char *ns, const char *draw, const char *prize,
                   const char *period)
{
    return fits(snprintf(out, outlen, "%s:{draw:%s}:pool:%s:%s", ns, draw, prize, period), outlen);
}

int keys_stats(char *out, size_t outlen, const char *ns, const char *partner, const char *day,
               int shard, int shards)
{
    char n[24];
    n[pc_format_int(n, shard)] = '\0';
    if (shards > 1 && partner)
        return join(out, outlen, 7, ns, ":{partner:", n, "}:", partner, ":", day);
    if (shards > 1)
        return join(out, outlen, 5, ns, ":{stats:", n, "}:", day ? day : "total");
    if (partner)
        return keys_partner_day(out, outlen, ns, partner, day);
    return join(out, outlen, 3, ns, ":stats:", day ? day : "total");
}

int keys_sharded(char *out, size_t outlen, const char *ns, const char *name, int shard, int shards)
{
    if (shards <= 1)
        return keys_global(out, outlen, ns, name);
    return fits(snprintf(out, outlen, "%s:{%s:%d}", ns, name, shard), outlen);
}

/*
 * CRC16 as Redis Cluster specifies it (CRC-16/XMODEM): polynomial
 * x^16 + x^12 + x^5 + 1 (0x1021), initial value 0, bits taken most
 * significant first, nothing reflected, no final xor. "123456789" gives
 * 0x31C3. Bit by bit: keys are short and one event hashes a handful.
 */
static unsigned crc16(const char *p, size_t len)
{
    unsigned crc = 0;
    for (size_t i = 0; i < len; i++) {
        crc ^= (unsigned)(unsigned char)p[i] << 8;
        for (int b = 0; b < 8; b++)
            crc = crc & 0x8000 ? (crc << 1) ^ 0x1021 : crc << 1;
        crc &= 0xffff;
    }
    return crc;
}

int keys_slot(const char *key, size_t len)
{
    const char *open = memchr(key, '{', len), *close;
    if (open) {
        size_t after = len - (size_t)(open - key) - 1;
        close = memchr(open + 1, '}', after);
        if (close && close > open + 1)
            return (int)(crc16(open + 1, (size_t)(close - open - 1)) & 16383);
    }
    return (int)(crc16(key, len) & 16383);
}

int keys_shard_of(const char *id, size_t len, int shards)
{
    return shards > 1 ? (int)(crc16(id, len) % (unsigned)shards) : 0;
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
