/*
 * Instant-win draw arithmetic (draw-internal.h): the master secret, per-epoch
 * secrets and commitments, the keyed roll, and control-group buckets.
 */
#include "draw-internal.h"
#include "punchcard/common.h"

#include <inttypes.h>
#include <math.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Written once by main before any worker runs; read-only afterwards. */
static char draw_master[512] = "punchcard-development-draw-secret";
static size_t draw_master_len = sizeof "punchcard-development-draw-secret" - 1;
static char draw_source[16] = "development";

void draw_set_secret(const char *secret, size_t len)
{
    if (len > sizeof draw_master)
        len = sizeof draw_master;
    memcpy(draw_master, secret, len);
    draw_master_len = len;
}

void draw_set_secret_source(const char *source)
{
    snprintf(draw_source, sizeof draw_source, "%s", source);
}

const char *draw_secret_source(void)
{
    return draw_source;
}

static void hex(const unsigned char *b, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++)
        sprintf(out + 2 * i, "%02x", b[i]);
    out[2 * n] = '\0';
}

void draw_secret(const char *draw, int64_t epoch, char out[65])
{
    char msg[160];
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int maclen = 0;
    int n = snprintf(msg, sizeof msg, "punchcard/draw/%s/%" PRId64, draw, epoch);
    HMAC(EVP_sha256(), draw_master, (int)draw_master_len, (const unsigned char *)msg, (size_t)n,
         mac, &maclen);
    hex(mac, 32, out);
}

void draw_commitment(const char *draw, int64_t epoch, char out[65])
{
    char secret[65];
    draw_secret(draw, epoch, secret);
    pc_sha256_hex(secret, 64, out);
}

static uint64_t be64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | p[i];
    return v;
}

void draw_roll(const char *draw, int64_t epoch, const char *member, const char *event_id,
               uint64_t *u, uint64_t *pick)
{
    char secret[65], msg[400];
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int maclen = 0;
    int n = snprintf(msg, sizeof msg, "%s\n%s\n%s", member, event_id, draw);
    draw_secret(draw, epoch, secret);
    HMAC(EVP_sha256(), secret, 64, (const unsigned char *)msg, (size_t)n, mac, &maclen);
    *u = be64(mac);
    *pick = be64(mac + 8);
}

int draw_wins(uint64_t u, double chance)
{
    if (!(chance > 0))
        return 0;
    if (chance >= 1)
        return 1;
    /* chance * 2^64 is exact in binary; its floor is below 2^64. */
    return (long double)u < floorl(ldexpl((long double)chance, 64));
}

int draw_bucket(const char *salt, const char *member)
{
    char msg[300], h[65];
    int n = snprintf(msg, sizeof msg, "%s\n%s", salt, member);
    pc_sha256_hex(msg, (size_t)n, h);
    h[16] = '\0';
    return (int)(strtoull(h, NULL, 16) % 10000);
}
