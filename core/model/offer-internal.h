/*
 * Offers and promo codes, the pure part (offer.c): what a code string may
 * be and how two spellings of one code compare, the personal codes made for
 * one member, and the member's own records of codes used (fields "ou:" and
 * "oc:" of the member hash, schema-internal.h). No I/O, no Lua: the
 * mechanics API (core/lua/api_offers.c) and the engine's reversal
 * (core/engine/offers.c) both use it.
 */
#ifndef PUNCHCARD_OFFER_INTERNAL_H
#define PUNCHCARD_OFFER_INTERNAL_H

#include "model/member-internal.h"
#include "punchcard/event.h"

#include <stddef.h>
#include <stdint.h>

/* A code holds 1-64 characters (code points) and at most this many bytes. */
#define OFFER_CODE_CHARS 64
#define OFFER_CODE_MAX   192

/*
 * The form a code is compared in: spaces around it dropped, ASCII letters
 * upper-cased (other characters compare as they are). 0 with out filled
 * (OFFER_CODE_MAX + 1 bytes), or -1 with *why when s is no code: empty, not
 * UTF-8, a control character (C0, DEL, C1), or too long.
 */
int offer_code_normalize(const char *s, size_t len, char out[OFFER_CODE_MAX + 1], const char **why);

/*
 * A personal code: "<PREFIX>-" and 8 characters of Crockford's base32 from
 * SHA-256 of the member, the event id, the offer and n (the how-many-th code
 * of that offer this event issues), so a retried event makes the same code.
 * prefix: the declared one (already a normalized code), or the offer's name
 * upper-cased when NULL. Into out (OFFER_CODE_MAX + 1).
 */
void offer_personal_code(const char *offer, const char *prefix, const char *member,
                         const char *event_id, int n, char out[OFFER_CODE_MAX + 1]);

/* ---- the member's records ---- */

/*
 * The member's last counted use of a shared offer (field ou:<offer>): 0 with
 * *at_ms and the event id (into event, PC_ID_MAX + 1), or -1 when none.
 */
int member_offer_use(const member_state *m, const char *offer, int64_t *at_ms,
                     char event[PC_ID_MAX + 1]);
/* Records a use at at_ms by event; event NULL forgets it. -1 when out of memory. */
int member_set_offer_use(member_state *m, const char *offer, int64_t at_ms, const char *event);

/* A personal code of the member (field oc:<CODE>). */
typedef struct member_code {
    char offer[PC_TYPE_MAX + 1];
    int64_t issued_ms;
    int64_t used_ms;           /* 0: not used yet */
    char event[PC_ID_MAX + 1]; /* the event that used it, or "" */
} member_code;

/* The member's code (normalized): 0 with *out, or -1 when the member has no such code. */
int member_code_get(const member_state *m, const char *code, member_code *out);
/* Writes the code's record (c NULL removes it). -1 when out of memory or a code too long. */
int member_code_set(member_state *m, const char *code, const member_code *c);
/* How many personal codes of offer (all offers when NULL) the member holds. */
size_t member_code_count(const member_state *m, const char *offer);

/*
 * The marks of plain discounts a whole reversal gave back (dr:<event>): when
 * (ms), or 0 when the event's were not given back; set one; drop those set
 * before before_ms (the reversed event's own record is gone by then, so no
 * reversal can see its discounts again). 0, or -1 on out of memory / a name
 * too long.
 */
int64_t member_discount_back(const member_state *m, const char *event);
int member_set_discount_back(member_state *m, const char *event, int64_t at_ms);
int member_prune_discount_backs(member_state *m, int64_t before_ms);

#endif
