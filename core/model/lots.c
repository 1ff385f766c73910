/*
 * Lots, expiry, pending earn and reversal (lots-internal.h), and the lot
 * codec: the one place that reads and writes a lot's field.
 */
#include "model/lots-internal.h"
#include "punchcard/common.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LOT_KEEP_MS (90LL * 86400000) /* a used-up lot is kept this long, for reversals */

/* 9999-12-31T23:59:59.999Z, the last time an event's at may name (a lot's created_ms). */
#define LOT_TIME_MAX 253402300799999LL

/*
 * What every lot keeps (earn, spend, release, expiry and reversal all do):
 * 0 <= remaining, 0 <= spent, remaining + spent <= amount, no time before 1970, made
 * (the event's time) by 9999.
 * A hash read from Redis that breaks it is malformed, like an unreadable one; the
 * arithmetic on lots can then never overflow (fuzz_resp's inputs did).
 */
static int lot_ok(const lot_rec *lot)
{
    return !(lot->amount < 0 || lot->remaining < 0 || lot->spent < 0 ||
             lot->remaining > lot->amount || lot->spent > lot->amount - lot->remaining ||
             lot->expires_ms < 0 || lot->avail_ms < 0 || lot->created_ms < 0 ||
             lot->created_ms > LOT_TIME_MAX);
}

int lots_decode(const char *name, const char *value, lot_rec *lot)
{
    member_field_ref r;
    memset(lot, 0, sizeof *lot);
    if (!value || !member_field_is(name, MEMBER_F_LOT, &r) || r.name_len >= sizeof lot->currency)
        return -1;
    memcpy(lot->currency, r.name, r.name_len);
    lot->n = pc_strtoll(r.sub, NULL);
    /* Read on every event: no sscanf. */
    {
        int64_t *nums[6] = {&lot->amount,     &lot->remaining, &lot->spent,
                            &lot->expires_ms, &lot->avail_ms,  &lot->created_ms};
        const char *p = value;
        for (int i = 0; i < 6; i++) {
            char *end;
            *nums[i] = pc_strtoll(p, &end);
            if (end == p || (*end != '|' && !(i == 5 && *end == '\0')))
                return -1;
            p = *end ? end + 1 : end;
        }
        size_t len = strnlen(p, sizeof lot->event - 1);
        memcpy(lot->event, p, len);
        lot->event[len] = '\0';
    }
    return lot_ok(lot) ? 0 : -1;
}

/* The field name of lot: "l:<currency>:<n>". */
static const char *lot_name(const lot_rec *lot, char *name, size_t name_len)
{
    char n[24];
    n[pc_format_int(n, lot->n)] = '\0';
    return member_field_name(name, name_len, MEMBER_F_LOT, lot->currency, n);
}

/* The value of lot (lots_encode's second half). */
static int lot_value(const lot_rec *lot, char *value, size_t value_len)
{
    const int64_t nums[6] = {lot->amount,     lot->remaining, lot->spent,
                             lot->expires_ms, lot->avail_ms,  lot->created_ms};
    size_t at = 0, elen = strnlen(lot->event, sizeof lot->event);
    if (!value_len)
        return -1;
    /* Written on every earn and spend: no printf, each number straight into value. */
    value[0] = '\0';
    for (int i = 0; i < 6; i++) {
        if (value_len - at < 22) /* a number (at most 20 bytes), '|' and the '\0' */
            return -1;
        at += pc_format_int(value + at, nums[i]);
        value[at++] = '|';
        value[at] = '\0';
    }
    if (value_len - at <= elen) {
        value[value_len - 1] = '\0';
        return -1;
    }
    memcpy(value + at, lot->event, elen);
    value[at + elen] = '\0';
    return 0;
}

/*
 * lot_value() for a lot whose field holds old_value, written by lot_value() for
 * a lot of the same expiry, availability, creation and event (the merged lot on
 * every earn): its amount, remaining and spent, then old_value's rest as it is.
 */
static int lot_value_after(const lot_rec *lot, const char *old_value, char *value, size_t value_len)
{
    const int64_t nums[3] = {lot->amount, lot->remaining, lot->spent};
    const char *tail = old_value;
    size_t at = 0, tlen;
    for (int i = 0; i < 3; i++) {
        if (!(tail = strchr(tail, '|')))
            return lot_value(lot, value, value_len);
        tail++;
    }
    tlen = strlen(tail);
    if (value_len < 3 * 21 + tlen + 1) /* three numbers and bars, the rest and the '\0' */
        return lot_value(lot, value, value_len);
    for (int i = 0; i < 3; i++) {
        at += pc_format_int(value + at, nums[i]);
        value[at++] = '|';
    }
    memcpy(value + at, tail, tlen + 1);
    return 0;
}

int lots_encode(const lot_rec *lot, char *name, size_t name_len, char *value, size_t value_len)
{
    if (!lot_name(lot, name, name_len))
        return -1;
    return lot_value(lot, value, value_len);
}

/*
 * What a field's decoded copy (member_field.decoded) holds: the lot, and
 * whether lots.c wrote the field's value (then the part after
 * amount|remaining|spent| is spelled as lot_value() spells it; a value read
 * from Redis may not be).
 */
typedef struct kept_lot {
    lot_rec lot; /* first: decoded points at it */
    int written;
} kept_lot;

/*
 * The lot in field f, or NULL when f holds none (or a malformed one). Decoded
 * once while f's value stays (member.c drops the copy when it changes); tmp
 * holds it when there is no memory to keep it. The result is read-only.
 */
static const lot_rec *field_lot(member_field *f, lot_rec *tmp)
{
    kept_lot *kept;
    if (!f->value)
        return NULL;
    if (f->decoded)
        return &((kept_lot *)f->decoded)->lot;
    /* Asked of every field on every event: a lot's name starts "l:" (schema.c). */
    if (f->name[0] != 'l' || !member_field_is(f->name, MEMBER_F_LOT, NULL) ||
        lots_decode(f->name, f->value, tmp))
        return NULL;
    if (!(kept = malloc(sizeof *kept)))
        return tmp;
    kept->lot = *tmp;
    kept->written = 0;
    f->decoded = kept;
    return &kept->lot;
}

/* Writes lot into the member: into f when the caller holds the lot's field, else by name. */
static int store_lot_in(member_state *m, member_field *f, const lot_rec *lot)
{
    char name[MEMBER_FIELD_MAX], value[LOTS_VALUE_MAX];
    kept_lot *kept = NULL;
    if (f) {
        const kept_lot *k = f->decoded;
        const lot_rec *old = k ? &k->lot : NULL;
        if (old && k->written && f->value && old->expires_ms == lot->expires_ms &&
                    old->avail_ms == lot->avail_ms && old->created_ms == lot->created_ms &&
                    !strcmp(old->event, lot->event)
                ? lot_value_after(lot, f->value, value, sizeof value)
                : lot_value(lot, value, sizeof value))
            return -1;
        /*
         * The field holds this lot (its name is the lot's): its decoded copy is
         * rewritten below rather than freed by the set and allocated again (the
         * merged lot changes on every earn).
         */
        kept = f->decoded;
        f->decoded = NULL;
        if (member_field_set(f, value)) {
            f->decoded = kept; /* f unchanged: its copy still holds */
            return -1;
        }
        if (kept && !lot_ok(lot)) {
            free(kept);
            kept = NULL;
        }
    } else if (lots_encode(lot, name, sizeof name, value, sizeof value) ||
               !(f = member_set_field(m, name, value))) {
        return -1;
    }
    /*
     * What lots_decode() would read back from value: the numbers and the event as
     * written (event and currency are NUL-terminated within their arrays), the
     * lot number and currency from the name, and a lot that breaks the rules is
     * not one. Not kept when out of memory: it is decoded when next read.
     */
    if (!kept && lot_ok(lot) && member_field_is(f->name, MEMBER_F_LOT, NULL) &&
        (kept = malloc(sizeof *kept))) {
        /* A new copy: the name's currency and number. */
        memset(kept, 0, sizeof *kept);
        pc_copy(kept->lot.currency, sizeof kept->lot.currency, lot->currency);
        kept->lot.n = lot->n;
    }
    if (kept) {
        /* The copy of this field's lot: its name (currency, number) is the same. */
        lot_rec *k = &kept->lot;
        k->amount = lot->amount;
        k->remaining = lot->remaining;
        k->spent = lot->spent;
        k->expires_ms = lot->expires_ms;
        k->avail_ms = lot->avail_ms;
        k->created_ms = lot->created_ms;
        if (strcmp(k->event, lot->event))
            pc_copy(k->event, sizeof k->event, lot->event);
        kept->written = 1;
        f->decoded = kept;
    }
    return 0;
}

static int store_lot(member_state *m, const lot_rec *lot)
{
    return store_lot_in(m, NULL, lot);
}

static int drop_lot(member_state *m, const lot_rec *lot)
{
    char name[MEMBER_FIELD_MAX];
    return lot_name(lot, name, sizeof name) ? member_set(m, name, NULL) : -1;
}

/*
 * The lots of currency (all when NULL) into *out (caller frees), in field
 * order. 0, or -1 on out of memory: never "no lots", or a spend, tick or
 * reversal would carry on as if the member had none.
 */
static int load_lots(const member_state *m, const char *currency, lot_rec **out, size_t *n_out)
{
    lot_rec *lots = NULL;
    size_t n = 0;
    *out = NULL;
    *n_out = 0;
    for (size_t i = 0; i < m->nfields; i++) {
        lot_rec tmp;
        const lot_rec *lot = field_lot(&m->fields[i], &tmp);
        if (!lot || (currency && strcmp(lot->currency, currency)))
            continue;
        lot_rec *nl = realloc(lots, (n + 1) * sizeof *nl);
        if (!nl) {
            free(lots);
            return -1;
        }
        lots = nl;
        lots[n++] = *lot;
    }
    *out = lots;
    *n_out = n;
    return 0;
}

static int by_expiry(const void *a, const void *b)
{
    const lot_rec *x = a, *y = b;
    int64_t ex = x->expires_ms ? x->expires_ms : INT64_MAX;
    int64_t ey = y->expires_ms ? y->expires_ms : INT64_MAX;
    if (ex != ey)
        return ex < ey ? -1 : 1;
    return x->n < y->n ? -1 : x->n > y->n;
}

void lots_each(const member_state *m, void (*fn)(const lot_rec *lot, void *arg), void *arg)
{
    for (size_t i = 0; i < m->nfields; i++) {
        lot_rec tmp;
        const lot_rec *lot = field_lot(&m->fields[i], &tmp);
        if (lot) {
            tmp = *lot; /* fn may change the member */
            fn(&tmp, arg);
        }
    }
}

int lots_earn(member_state *m, const char *mechanic, const char *currency, int64_t amount,
              int64_t expires_ms, int64_t avail_ms, int64_t now_ms, const char *event_id,
              int64_t *balance_out, const char **err)
{
    lot_rec lot = {0};
    char nf[MEMBER_FIELD_MAX];
    member_move mv = {.mechanic = mechanic, .currency = currency};
    int pending = avail_ms > now_ms;
    size_t at = SIZE_MAX; /* the index of the merged lot's field, when it has one */

    if (amount == 0) {
        *balance_out = member_balance(m, currency);
        return 0;
    }
    if (!expires_ms && !pending) {
        /* Never expires, spendable at once: into the currency's one merged lot. */
        char name[MEMBER_FIELD_MAX];
        member_field *f;
        const lot_rec *merged = NULL;
        if (!member_field_name(name, sizeof name, MEMBER_F_LOT, currency, "0")) {
            *err = "bad currency name";
            return -1;
        }
        if ((f = member_field_of(m, name))) {
            at = (size_t)(f - m->fields);
            merged = field_lot(f, &lot);
        }
        if (merged) {
            if (merged != &lot)
                lot = *merged;
        } else {
            memset(&lot, 0, sizeof lot); /* field_lot() may have half-decoded a bad one into it */
            pc_copy(lot.currency, sizeof lot.currency, currency);
            pc_copy(lot.event, sizeof lot.event, "*");
            lot.created_ms = now_ms;
        }
        if (__builtin_add_overflow(lot.amount, amount, &lot.amount) ||
            __builtin_add_overflow(lot.remaining, amount, &lot.remaining)) {
            *err = "balance overflow";
            return -1;
        }
    } else {
        if (!member_field_name(nf, sizeof nf, MEMBER_F_LOT_LAST, currency, NULL)) {
            *err = "bad currency name";
            return -1;
        }
        pc_copy(lot.currency, sizeof lot.currency, currency);
        pc_copy(lot.event, sizeof lot.event, event_id);
        lot.n = member_get_int(m, nf) + 1;
        lot.amount = lot.remaining = amount;
        lot.expires_ms = expires_ms;
        lot.avail_ms = pending ? avail_ms : 0;
        lot.created_ms = now_ms;
    }
    if (pending)
        mv.pending = amount;
    else
        mv.delta = amount;
    if (member_move_balance(m, &mv, balance_out, err))
        return -1;
    if (!pending) {
        /* The balance before the move (the move added amount to it without overflow). */
        int64_t bal = *balance_out - amount;
        if (bal < 0) {                                      /* repay a debt first */
            int64_t repay = bal <= -amount ? amount : -bal; /* -bal: bal > -amount >= -max */
            lot.remaining -= repay;
            lot.spent += repay;
        }
    }
    /* By index: the balance move may have added fields since (moving them). */
    if ((lot.n && member_set_int(m, nf, lot.n)) ||
        store_lot_in(m, at != SIZE_MAX ? &m->fields[at] : NULL, &lot)) {
        *err = "out of memory";
        return -1;
    }
    return 0;
}

/* Orders the merged lot (number 0) first, then soonest-expiring. */
static int merged_first(const void *a, const void *b)
{
    const lot_rec *x = a, *y = b;
    if ((x->n == 0) != (y->n == 0))
        return x->n == 0 ? -1 : 1;
    return by_expiry(a, b);
}

/*
 * Takes amount out of the available lots of currency, soonest-expiring first
 * (or the merged lot first), skipping the lots of skip_event.
 */
static int take_from_lots_ordered(member_state *m, const char *currency, int64_t amount,
                                  const char *skip_event, int merged)
{
    size_t n;
    lot_rec *lots;
    if (load_lots(m, currency, &lots, &n))
        return -1;
    if (n)
        qsort(lots, n, sizeof *lots, merged ? merged_first : by_expiry);
    for (size_t i = 0; i < n && amount > 0; i++) {
        lot_rec *lot = &lots[i];
        if (lot->avail_ms || lot->remaining <= 0 || (skip_event && !strcmp(lot->event, skip_event)))
            continue;
        int64_t take = lot->remaining < amount ? lot->remaining : amount;
        lot->remaining -= take;
        lot->spent += take;
        amount -= take;
        if (store_lot(m, lot)) {
            free(lots);
            return -1;
        }
    }
    free(lots);
    return 0;
}

static int take_from_lots(member_state *m, const char *currency, int64_t amount,
                          const char *skip_event)
{
    return take_from_lots_ordered(m, currency, amount, skip_event, 0);
}

int lots_spend(member_state *m, const char *mechanic, const char *kind, const char *currency,
               int64_t amount, int64_t *balance_out, const char **err)
{
    member_move mv = {.mechanic = mechanic, .currency = currency, .kind = kind, .delta = -amount};
    if (amount == 0) {
        *balance_out = member_balance(m, currency);
        return 0;
    }
    if (member_move_balance(m, &mv, balance_out, err))
        return -1;
    if (take_from_lots(m, currency, amount, NULL)) {
        *err = "out of memory";
        return -1;
    }
    return 0;
}

/*
 * Whether lots_tick() has anything to do by now_ms: a lot to release, to expire
 * or to prune (what its loop looks at, before any change). Most events have
 * none, and skip copying and sorting the lots.
 */
static int lots_due(const member_state *m, int64_t now_ms)
{
    for (size_t i = 0; i < m->nfields; i++) {
        lot_rec tmp;
        const lot_rec *lot = field_lot(&m->fields[i], &tmp);
        if (lot && ((lot->avail_ms && lot->avail_ms <= now_ms) ||
                    (lot->expires_ms && lot->expires_ms <= now_ms && lot->remaining > 0) ||
                    (lot->n != 0 && lot->remaining == 0 && lot->avail_ms == 0 &&
                     lot->created_ms + LOT_KEEP_MS <= now_ms)))
            return 1;
    }
    return 0;
}

int lots_tick(member_state *m, int64_t now_ms, const char **err)
{
    size_t n;
    lot_rec *lots;
    int64_t bal;
    int rc = 0;

    if (!lots_due(m, now_ms))
        return 0;
    if (load_lots(m, NULL, &lots, &n)) {
        *err = "out of memory";
        return -1;
    }
    if (n)
        qsort(lots, n, sizeof *lots, by_expiry);
    for (size_t i = 0; i < n && rc == 0; i++) {
        lot_rec *lot = &lots[i];
        int changed = 0;
        if (lot->avail_ms && lot->avail_ms <= now_ms &&
            !(lot->expires_ms && lot->expires_ms <= lot->avail_ms)) {
            member_move mv = {.mechanic = "release",
                              .currency = lot->currency,
                              .kind = "release",
                              .delta = lot->remaining,
                              .pending = -lot->remaining};
            int64_t before = member_balance(m, lot->currency);
            if (before < 0) { /* -before: before > -remaining >= -max */
                int64_t repay = before <= -lot->remaining ? lot->remaining : -before;
                lot->remaining -= repay;
                lot->spent += repay;
            }
            rc = member_move_balance(m, &mv, &bal, err);
            lot->avail_ms = 0;
            changed = 1;
        }
        if (rc == 0 && lot->expires_ms && lot->expires_ms <= now_ms && lot->remaining > 0) {
            member_move mv = {.mechanic = "expiry", .currency = lot->currency, .kind = "expire"};
            if (lot->avail_ms)
                mv.pending = -lot->remaining; /* expired before it was ever released */
            else
                mv.delta = -lot->remaining;
            mv.allow_negative = 1;
            rc = member_move_balance(m, &mv, &bal, err);
            lot->remaining = 0;
            lot->avail_ms = 0;
            changed = 1;
        }
        if (rc)
            break;
        if (lot->n != 0 && lot->remaining == 0 && lot->avail_ms == 0 &&
            lot->created_ms + LOT_KEEP_MS <= now_ms) {
            if (drop_lot(m, lot))
                rc = -1;
        } else if (changed && store_lot(m, lot)) {
            rc = -1;
        }
    }
    if (rc && !*err)
        *err = "out of memory";
    free(lots);
    return rc;
}

/*
 * Takes back amount from the balance of currency (lots other than the reversed
 * event's; the merged lot first when merged), leaving a debt when short.
 */
static int take_back(member_state *m, const char *currency, int64_t amount, const char *skip_event,
                     int merged, const char **err)
{
    int64_t bal, avail = member_balance(m, currency);
    int64_t covered = avail > 0 ? (avail < amount ? avail : amount) : 0;
    member_move mv = {.mechanic = "reverse",
                      .currency = currency,
                      .kind = "reverse",
                      .delta = -amount,
                      .allow_negative = 1};
    if (covered && take_from_lots_ordered(m, currency, covered, skip_event, merged)) {
        *err = "out of memory";
        return -1;
    }
    return member_move_balance(m, &mv, &bal, err);
}

int lots_reverse(member_state *m, const char *event, const char *currency, int64_t amount,
                 json_t *earned, int64_t now_ms, int64_t *reversed_out, const char **err)
{
    size_t n;
    lot_rec *lots;
    int64_t left = amount > 0 ? amount : INT64_MAX, total = 0, bal;
    json_t *in_lots, *v; /* currency -> what the event's lots hold at earn */
    const char *cur;
    int rc = 0;

    *reversed_out = 0;
    if (load_lots(m, currency, &lots, &n))
        goto oom;
    if (!(in_lots = json_object())) {
        free(lots);
        goto oom;
    }
    for (size_t i = 0; i < n && rc == 0; i++)
        if (!strcmp(lots[i].event, event) &&
            json_object_set_new(
                in_lots, lots[i].currency,
                json_integer(json_integer_value(json_object_get(in_lots, lots[i].currency)) +
                             lots[i].amount)))
            rc = -1;
    /* 1. What is left of the event's own lots, all of them first. */
    for (size_t i = 0; i < n && left > 0 && rc == 0; i++) {
        lot_rec *lot = &lots[i];
        if (strcmp(lot->event, event) || lot->remaining <= 0)
            continue;
        int64_t from_lot = lot->remaining < left ? lot->remaining : left;
        member_move mv = {.mechanic = "reverse",
                          .currency = lot->currency,
                          .kind = "reverse",
                          .allow_negative = 1};
        if (lot->avail_ms)
            mv.pending = -from_lot;
        else
            mv.delta = -from_lot;
        lot->remaining -= from_lot;
        left -= from_lot;
        total += from_lot;
        rc = member_move_balance(m, &mv, &bal, err);
        if (rc == 0 && store_lot(m, lot))
            rc = -1;
    }
    /* 2. What of them was spent: from the rest of the balance, or as a debt. */
    for (size_t i = 0; i < n && left > 0 && rc == 0; i++) {
        lot_rec *lot = &lots[i];
        if (strcmp(lot->event, event) || lot->spent <= 0)
            continue;
        int64_t from_spent = lot->spent < left ? lot->spent : left;
        rc = take_back(m, lot->currency, from_spent, event, 0, err);
        lot->spent -= from_spent;
        left -= from_spent;
        total += from_spent;
        /* The other lots changed in the member; write this one back over its old copy. */
        if (rc == 0 && store_lot(m, lot))
            rc = -1;
    }
    /* 3. What of them expired has left the balance already: nothing to take. */

    /* 4. What the event earned into the merged lot, less what was reversed of it before. */
    json_object_foreach(earned, cur, v) {
        char rf[MEMBER_FIELD_MAX];
        int64_t done, can, take;
        if (rc || left <= 0 || (currency && strcmp(cur, currency)))
            continue;
        if (!member_field_name(rf, sizeof rf, MEMBER_F_REVERSED, cur, event)) {
            rc = -1;
            continue;
        }
        done = member_get_int(m, rf);
        can = json_integer_value(v) - json_integer_value(json_object_get(in_lots, cur)) - done;
        take = can < left ? can : left;
        if (take <= 0)
            continue;
        rc = take_back(m, cur, take, NULL, 1, err);
        if (rc == 0 && member_set_int(m, rf, done + take))
            rc = -1;
        left -= take;
        total += take;
    }
    (void)now_ms;
    if (rc && !*err)
        *err = "out of memory";
    json_decref(in_lots);
    free(lots);
    *reversed_out = total;
    return rc;
oom:
    *err = "out of memory";
    return -1;
}

int64_t lots_next_due(const member_state *m)
{
    int64_t due = 0;
    /* One pass over the fields (every event asks): the lots, wk and xd, the earliest wins. */
    for (size_t i = 0; i < m->nfields; i++) {
        member_field *f = &m->fields[i];
        lot_rec tmp;
        const lot_rec *lot;
        int64_t t = 0;
        if (!f->value)
            continue;
        if ((lot = field_lot(f, &tmp))) {
            if (lot->avail_ms)
                t = lot->avail_ms;
            if (lot->expires_ms && lot->remaining > 0 && (!t || lot->expires_ms < t))
                t = lot->expires_ms;
        } else if ((f->name[0] == 'w' && member_field_is(f->name, MEMBER_F_WAKE, NULL)) ||
                   (f->name[0] == 'x' && member_field_is(f->name, MEMBER_F_NOTICE_DUE, NULL))) {
            /* wk and xd (schema.c's names: their first bytes spare most fields the call) */
            t = member_field_int(f);
        }
        if (t && (!due || t < due))
            due = t;
    }
    return due;
}

typedef struct summary_acc {
    json_t *out;
    int failed; /* out of memory: the summary is incomplete */
} summary_acc;

static void summarize(const lot_rec *lot, void *arg)
{
    summary_acc *acc = arg;
    json_t *cur = json_object_get(acc->out, lot->currency), *next;
    char ts[32];
    if (!cur) {
        cur = json_pack("{s:n}", "next_expiry");
        if (json_object_set_new(acc->out, lot->currency, cur)) {
            acc->failed = 1;
            return;
        }
    }
    if (!lot->expires_ms || lot->remaining <= 0)
        return;
    pc_time_format(lot->expires_ms, ts, sizeof ts);
    next = json_object_get(cur, "next_expiry");
    if (json_is_object(next)) {
        const char *at = json_string_value(json_object_get(next, "at"));
        int c = strcmp(ts, at);
        if (c > 0)
            return;
        if (c == 0) {
            /* Lots due at one time add up; a sum past INT64_MAX (only a state no earn could
               make: each earn's balance is checked) is shown as the largest amount. */
            int64_t sum;
            if (__builtin_add_overflow(json_integer_value(json_object_get(next, "amount")),
                                       (int64_t)lot->remaining, &sum))
                sum = INT64_MAX;
            if (json_object_set_new(next, "amount", json_integer(sum)))
                acc->failed = 1;
            return;
        }
    }
    if (json_object_set_new(
            cur, "next_expiry",
            json_pack("{s:I, s:s}", "amount", (json_int_t)lot->remaining, "at", ts)))
        acc->failed = 1;
}

json_t *lots_summary(const member_state *m)
{
    summary_acc acc = {json_object(), 0};
    if (!acc.out)
        return NULL;
    lots_each(m, summarize, &acc);
    if (acc.failed) {
        json_decref(acc.out);
        return NULL;
    }
    return acc.out;
}
