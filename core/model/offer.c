/*
 * Offers and promo codes, the pure part (offer-internal.h).
 */
#include "model/offer-internal.h"
#include "punchcard/common.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*
 * The length of the UTF-8 character at s (n bytes left) and its code point,
 * or 0 when it is not one (overlong forms and surrogates included).
 */
static size_t utf8_char(const unsigned char *s, size_t n, uint32_t *cp)
{
    size_t len;
    uint32_t c, min;
    if (s[0] < 0x80) {
        *cp = s[0];
        return 1;
    }
    if ((s[0] & 0xe0) == 0xc0)
        len = 2, c = s[0] & 0x1f, min = 0x80;
    else if ((s[0] & 0xf0) == 0xe0)
        len = 3, c = s[0] & 0x0f, min = 0x800;
    else if ((s[0] & 0xf8) == 0xf0)
        len = 4, c = s[0] & 0x07, min = 0x10000;
    else
        return 0;
    if (len > n)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        c = c << 6 | (s[i] & 0x3f);
    }
    if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
        return 0;
    *cp = c;
    return len;
}

int offer_code_normalize(const char *s, size_t len, char out[OFFER_CODE_MAX + 1], const char **why)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t chars = 0, at = 0;
    while (len && *p == ' ')
        p++, len--;
    while (len && p[len - 1] == ' ')
        len--;
    if (!len) {
        *why = "a code is not empty";
        return -1;
    }
    if (len > OFFER_CODE_MAX) {
        *why = "a code is at most 64 characters";
        return -1;
    }
    while (at < len) {
        uint32_t cp;
        size_t n = utf8_char(p + at, len - at, &cp);
        if (!n) {
            *why = "a code must be UTF-8";
            return -1;
        }
        /* Printable only: no C0 control, DEL or C1 control (a code is typed and shown). */
        if (cp < 0x20 || (cp >= 0x7f && cp <= 0x9f)) {
            *why = "a code holds no control characters";
            return -1;
        }
        for (size_t i = 0; i < n; i++)
            out[at + i] = (char)(n == 1 && cp >= 'a' && cp <= 'z' ? cp - 'a' + 'A' : p[at + i]);
        at += n;
        if (++chars > OFFER_CODE_CHARS) {
            *why = "a code is at most 64 characters";
            return -1;
        }
    }
    out[at] = '\0';
    return 0;
}

void offer_personal_code(const char *offer, const char *prefix, const char *member,
                         const char *event_id, int n, char out[OFFER_CODE_MAX + 1])
{
    static const char b32[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"; /* Crockford: no I L O U */
    char buf[3 * PC_ID_MAX + 64], hex[65];
    size_t at = 0;
    int len = snprintf(buf, sizeof buf, "%s\n%s\n%s\n%d", member, event_id, offer, n);
    pc_sha256_hex(buf, len > 0 && (size_t)len < sizeof buf ? (size_t)len : sizeof buf - 1, hex);
    if (prefix) {
        for (; at < OFFER_CODE_MAX - 9 && prefix[at]; at++)
            out[at] = prefix[at];
    } else {
        for (; at < OFFER_CODE_MAX - 9 && offer[at]; at++)
            out[at] =
                (char)(offer[at] >= 'a' && offer[at] <= 'z' ? offer[at] - 'a' + 'A' : offer[at]);
    }
    out[at++] = '-';
    /* 8 characters of 5 bits: 40 bits from the first 10 hex digits. */
    uint64_t v = strtoull((char[11]){hex[0], hex[1], hex[2], hex[3], hex[4], hex[5], hex[6], hex[7],
                                     hex[8], hex[9], '\0'},
                          NULL, 16);
    for (int i = 7; i >= 0; i--) {
        out[at + (size_t)i] = b32[v & 31];
        v >>= 5;
    }
    out[at + 8] = '\0';
}

/* ---- the member's records ---- */

int member_offer_use(const member_state *m, const char *offer, int64_t *at_ms,
                     char event[PC_ID_MAX + 1])
{
    char f[MEMBER_FIELD_MAX];
    const char *v, *bar;
    if (!member_field_name(f, sizeof f, MEMBER_F_OFFER_USE, offer, NULL) ||
        !(v = member_get(m, f)) || !(bar = strchr(v, '|')))
        return -1;
    *at_ms = strtoll(v, NULL, 10);
    pc_copy(event, PC_ID_MAX + 1, bar + 1);
    return 0;
}

int member_set_offer_use(member_state *m, const char *offer, int64_t at_ms, const char *event)
{
    char f[MEMBER_FIELD_MAX], v[PC_ID_MAX + 32];
    if (!member_field_name(f, sizeof f, MEMBER_F_OFFER_USE, offer, NULL))
        return -1;
    if (!event)
        return member_set(m, f, NULL);
    snprintf(v, sizeof v, "%" PRId64 "|%s", at_ms, event);
    return member_set(m, f, v);
}

/* "<offer>|<issued ms>|<used ms>|<event>" */
int member_code_get(const member_state *m, const char *code, member_code *out)
{
    char f[MEMBER_FIELD_MAX];
    const char *v, *a, *b, *c;
    if (!member_field_name(f, sizeof f, MEMBER_F_CODE, code, NULL) || !(v = member_get(m, f)) ||
        !(a = strchr(v, '|')) || !(b = strchr(a + 1, '|')) || !(c = strchr(b + 1, '|')) ||
        (size_t)(a - v) > PC_TYPE_MAX)
        return -1;
    memset(out, 0, sizeof *out);
    memcpy(out->offer, v, (size_t)(a - v));
    out->issued_ms = strtoll(a + 1, NULL, 10);
    out->used_ms = strtoll(b + 1, NULL, 10);
    pc_copy(out->event, sizeof out->event, c + 1);
    return 0;
}

int member_code_set(member_state *m, const char *code, const member_code *c)
{
    char f[MEMBER_FIELD_MAX], v[PC_TYPE_MAX + PC_ID_MAX + 64];
    if (!member_field_name(f, sizeof f, MEMBER_F_CODE, code, NULL))
        return -1;
    if (!c)
        return member_set(m, f, NULL);
    snprintf(v, sizeof v, "%s|%" PRId64 "|%" PRId64 "|%s", c->offer, c->issued_ms, c->used_ms,
             c->event);
    return member_set(m, f, v);
}

size_t member_code_count(const member_state *m, const char *offer)
{
    size_t n = 0, olen = offer ? strlen(offer) : 0;
    for (size_t i = 0; i < m->nfields; i++) {
        const member_field *f = &m->fields[i];
        if (f->value && member_field_is(f->name, MEMBER_F_CODE, NULL) &&
            (!offer || (!strncmp(f->value, offer, olen) && f->value[olen] == '|')))
            n++;
    }
    return n;
}

/* ---- plain discounts given back by a reversal ---- */

int64_t member_discount_back(const member_state *m, const char *event)
{
    char f[MEMBER_FIELD_MAX];
    if (!member_field_name(f, sizeof f, MEMBER_F_DISCOUNT_BACK, event, NULL))
        return 0;
    return member_get_int(m, f);
}

int member_set_discount_back(member_state *m, const char *event, int64_t at_ms)
{
    char f[MEMBER_FIELD_MAX];
    if (!member_field_name(f, sizeof f, MEMBER_F_DISCOUNT_BACK, event, NULL))
        return -1;
    return member_set_int(m, f, at_ms);
}

int member_prune_discount_backs(member_state *m, int64_t before_ms)
{
    for (size_t i = 0; i < m->nfields; i++) {
        const member_field *f = &m->fields[i];
        if (f->value && member_field_is(f->name, MEMBER_F_DISCOUNT_BACK, NULL) &&
            strtoll(f->value, NULL, 10) < before_ms) {
            char name[MEMBER_FIELD_MAX];
            pc_copy(name, sizeof name, f->name);
            if (member_set(m, name, NULL))
                return -1;
        }
    }
    return 0;
}
