/*
 * Logging, clocks, timestamps and digests shared by every layer.
 */
/* SHA256_Init/Update/Final hash without EVP's per-call provider lookup (most of a digest's cost).
 */
#define OPENSSL_SUPPRESS_DEPRECATED
#include "punchcard/common.h"
#include "calendar-internal.h"

#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static enum pc_log_level log_min = PC_LOG_INFO;
static int log_json;
static const char *const level_names[] = {"debug", "info", "warn", "error"};

void pc_log_set_level(enum pc_log_level level)
{
    log_min = level;
}

void pc_log_set_json(int on)
{
    log_json = on;
}

int pc_log_enabled(enum pc_log_level level)
{
    return level >= log_min;
}

/* Appends n bytes of s to the line, quoted and escaped as a JSON string when quote. */
static void line_put(pc_logline *l, const char *s, size_t n, int quote)
{
    static const char hex[] = "0123456789abcdef";
    size_t cap = sizeof l->buf - 8; /* room for the closing brace, newline and a cut mark */
    if (!quote) {                   /* as the loop below would: the bytes that fit */
        size_t room = l->len < cap ? cap - l->len : 0, k = n < room ? n : room;
        if (k)
            memcpy(l->buf + l->len, s, k);
        l->len += k;
        return;
    }
    if (quote && l->len < cap)
        l->buf[l->len++] = '"';
    for (size_t i = 0; i < n && l->len < cap; i++) {
        unsigned char c = (unsigned char)s[i];
        if (!quote) {
            l->buf[l->len++] = (char)c;
        } else if (c == '"' || c == '\\') {
            l->buf[l->len++] = '\\';
            l->buf[l->len++] = (char)c;
        } else if (c < 0x20 || c == 0x7f) {
            if (l->len + 6 >= cap)
                break;
            memcpy(l->buf + l->len, "\\u00", 4);
            l->buf[l->len + 4] = hex[c >> 4];
            l->buf[l->len + 5] = hex[c & 15];
            l->len += 6;
        } else {
            l->buf[l->len++] = (char)c;
        }
    }
    if (quote && l->len < cap + 1)
        l->buf[l->len++] = '"';
}

static void line_key(pc_logline *l, const char *key)
{
    if (log_json) {
        line_put(l, ",", 1, 0);
        line_put(l, key, strlen(key), 1);
        line_put(l, ":", 1, 0);
    } else {
        line_put(l, " ", 1, 0);
        line_put(l, key, strlen(key), 0);
        line_put(l, "=", 1, 0);
    }
}

void pc_logline_begin(pc_logline *l, enum pc_log_level level, const char *event)
{
    char ts[32];
    size_t tn;
    pc_time_format(pc_now_ms(), ts, sizeof ts);
    tn = strlen(ts);
    l->len = 0;
    if (log_json) {
        line_put(l, "{\"ts\":", 6, 0);
        line_put(l, ts, tn, 1);
        line_put(l, ",\"level\":", 9, 0);
        line_put(l, level_names[level], strlen(level_names[level]), 1);
        line_put(l, ",\"event\":", 9, 0);
        line_put(l, event, strlen(event), 1);
    } else {
        line_put(l, ts, tn, 0);
        line_put(l, " ", 1, 0);
        line_put(l, level_names[level], strlen(level_names[level]), 0);
        line_put(l, " ", 1, 0);
        line_put(l, event, strlen(event), 0);
    }
}

void pc_logline_str(pc_logline *l, const char *key, const char *value)
{
    size_t n;
    if (!value) {
        line_key(l, key);
        line_put(l, log_json ? "null" : "-", log_json ? 4 : 1, 0);
        return;
    }
    n = strlen(value);
    line_key(l, key);
    /* Text: bare when it is one word, quoted (as JSON) otherwise. */
    line_put(l, value, n, log_json || !n || strpbrk(value, " \"=\\\t\n\r"));
}

void pc_logline_int(pc_logline *l, const char *key, int64_t value)
{
    char num[24];
    line_key(l, key);
    line_put(l, num, pc_format_int(num, value), 0);
}

void pc_logline_end(pc_logline *l)
{
    if (log_json)
        l->buf[l->len++] = '}';
    l->buf[l->len++] = '\n';
    /* One write per line, so lines from several threads do not interleave. */
    if (write(2, l->buf, l->len) < 0)
        l->len = 0;
}

void pc_log(enum pc_log_level level, const char *fmt, ...)
{
    pc_logline l;
    char msg[2048];
    va_list ap;

    if (level < log_min)
        return;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (log_json) {
        pc_logline_begin(&l, level, "log");
        pc_logline_str(&l, "msg", msg);
    } else {
        /* Text lines read as before: time, level, message. */
        char ts[32];
        pc_time_format(pc_now_ms(), ts, sizeof ts);
        l.len = 0;
        line_put(&l, ts, strlen(ts), 0);
        line_put(&l, " ", 1, 0);
        line_put(&l, level_names[level], strlen(level_names[level]), 0);
        line_put(&l, " ", 1, 0);
        line_put(&l, msg, strlen(msg), 0);
    }
    pc_logline_end(&l);
}

void pc_log_event(enum pc_log_level level, const char *event, ...)
{
    pc_logline l;
    va_list ap;
    const char *key;
    if (level < log_min)
        return;
    pc_logline_begin(&l, level, event);
    va_start(ap, event);
    while ((key = va_arg(ap, const char *)))
        pc_logline_str(&l, key, va_arg(ap, const char *));
    va_end(ap);
    pc_logline_end(&l);
}

int pc_fail(pc_error *err, int status, const char *code, const char *fmt, ...)
{
    va_list ap;
    if (!err)
        return -1;
    err->status = status;
    err->code = code;
    va_start(ap, fmt);
    vsnprintf(err->message, sizeof err->message, fmt, ap);
    va_end(ap);
    return -1;
}

size_t pc_format_int(char *out, int64_t v)
{
    /* Two digits at a time: timestamps (13 digits) are formatted many times per event. */
    static const char pairs[] =
        "00010203040506070809101112131415161718192021222324252627282930313233343536373839"
        "40414243444546474849505152535455565758596061626364656667686970717273747576777879"
        "8081828384858687888990919293949596979899";
    char tmp[24];
    int i = sizeof tmp;
    uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    while (u >= 100) {
        unsigned d = (unsigned)(u % 100) * 2;
        u /= 100;
        tmp[--i] = pairs[d + 1];
        tmp[--i] = pairs[d];
    }
    if (u >= 10) {
        tmp[--i] = pairs[u * 2 + 1];
        tmp[--i] = pairs[u * 2];
    } else {
        tmp[--i] = (char)('0' + u);
    }
    if (v < 0)
        tmp[--i] = '-';
    memcpy(out, tmp + i, sizeof tmp - (size_t)i);
    return sizeof tmp - (size_t)i;
}

long long pc_strtoll(const char *s, char **end)
{
    /* The fields punchd writes itself: [-]digits, at most 18 of them. */
    const char *p = s;
    int neg = *p == '-';
    uint64_t v = 0;
    int n = 0;
    p += neg;
    while (*p >= '0' && *p <= '9' && n < 19) {
        v = v * 10 + (uint64_t)(*p++ - '0');
        n++;
    }
    if (n == 0 || n > 18) /* anything else: strtoll's own rules (spaces, +, overflow) */
        return strtoll(s, end, 10);
    if (end)
        *end = (char *)p;
    return neg ? -(long long)v : (long long)v;
}

int pc_append(char *out, size_t n, size_t *at, const char *s)
{
    size_t len = strlen(s);
    if (*at + len >= n) {
        if (n)
            out[n - 1] = '\0';
        return -1;
    }
    memcpy(out + *at, s, len + 1);
    *at += len;
    return 0;
}

void pc_copy(char *dst, size_t n, const char *src)
{
    size_t len = strnlen(src, n - 1);
    memcpy(dst, src, len);
    dst[len] = '\0';
}

int pc_append_int(char *out, size_t n, size_t *at, int64_t v)
{
    char tmp[24];
    size_t len = pc_format_int(tmp, v);
    if (*at + len >= n) {
        if (n)
            out[n - 1] = '\0';
        return -1;
    }
    memcpy(out + *at, tmp, len);
    *at += len;
    out[*at] = '\0';
    return 0;
}

int64_t pc_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t pc_mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int digits(const char **p, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        char c = (*p)[i];
        if (c < '0' || c > '9')
            return -1;
        v = v * 10 + (c - '0');
    }
    *p += n;
    *out = v;
    return 0;
}

int pc_time_parse(const char *s, int64_t *ms_out)
{
    static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int y, mo, d, h, mi, sec, ms = 0, off = 0;
    const char *p = s;

    if (digits(&p, 4, &y) || *p++ != '-' || digits(&p, 2, &mo) || *p++ != '-' || digits(&p, 2, &d))
        return -1;
    if (*p != 'T' && *p != 't' && *p != ' ')
        return -1;
    p++;
    if (digits(&p, 2, &h) || *p++ != ':' || digits(&p, 2, &mi) || *p++ != ':' ||
        digits(&p, 2, &sec))
        return -1;
    if (*p == '.') {
        int n = 0;
        p++;
        while (*p >= '0' && *p <= '9') {
            if (n < 3)
                ms = ms * 10 + (*p - '0');
            n++;
            p++;
        }
        if (n == 0)
            return -1;
        for (; n < 3; n++)
            ms *= 10;
    }
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        int sign = *p == '-' ? -1 : 1, oh, om;
        p++;
        if (digits(&p, 2, &oh) || *p++ != ':' || digits(&p, 2, &om) || oh > 23 || om > 59)
            return -1;
        off = sign * (oh * 60 + om);
    } else {
        return -1;
    }
    if (*p != '\0' || mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] || h > 23 || mi > 59 ||
        sec > 60)
        return -1;
    if (mo == 2 && d == 29 && !((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
        return -1;
    int64_t days = cal_days_from_civil(y, mo, d);
    int64_t secs = days * 86400 + h * 3600 + mi * 60 + (sec == 60 ? 59 : sec) - off * 60;
    *ms_out = secs * 1000 + ms;
    return 0;
}

void pc_time_format(int64_t ms, char *out, size_t outlen)
{
    time_t secs = (time_t)(ms >= 0 ? ms / 1000 : (ms - 999) / 1000);
    int frac = (int)(ms - (int64_t)secs * 1000);
    struct tm tm;
    /* Years 0-9999 (a few times per event): the civil date by arithmetic, not gmtime_r. */
    if (secs >= -62167219200LL && secs <= 253402300799LL && outlen >= 25) {
        int64_t days = (secs >= 0 ? secs : secs - 86399) / 86400, sod = secs - days * 86400;
        int y, mo, d;
        cal_civil_from_days(days, &y, &mo, &d);
        /* Digits by hand, no printf. */
        int parts[7] = {y, mo, d, (int)(sod / 3600), (int)(sod / 60 % 60), (int)(sod % 60), frac};
        static const char seps[] = "--T::.Z";
        char *p = out;
        for (int i = 0; i < 7; i++) {
            int v = parts[i], w = i == 0 ? 4 : i == 6 ? 3 : 2;
            for (int k = w - 1; k >= 0; k--, v /= 10)
                p[k] = (char)('0' + v % 10);
            p += w;
            *p++ = seps[i];
        }
        *p = '\0';
        return;
    }
    gmtime_r(&secs, &tm);
    snprintf(out, outlen, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, frac);
}

static void to_hex(const unsigned char *buf, unsigned n, char *out)
{
    static const char hex[] = "0123456789abcdef";
    for (unsigned i = 0; i < n; i++) {
        out[2 * i] = hex[buf[i] >> 4];
        out[2 * i + 1] = hex[buf[i] & 15];
    }
    out[2 * n] = '\0';
}

static void digest_hex(const EVP_MD *md, const void *data, size_t len, char *out)
{
    unsigned char buf[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    EVP_Digest(data, len, buf, &n, md, NULL);
    to_hex(buf, n, out);
}

void pc_sha256_hex(const void *data, size_t len, char out[65])
{
    unsigned char buf[SHA256_DIGEST_LENGTH];
    SHA256_CTX ctx; /* OpenSSL 3's SHA256() and EVP_Digest() look the algorithm up each call */
    SHA256_Init(&ctx);
    SHA256_Update(&ctx, data, len);
    SHA256_Final(buf, &ctx);
    to_hex(buf, sizeof buf, out);
}

void pc_sha1_hex(const void *data, size_t len, char out[41])
{
    digest_hex(EVP_sha1(), data, len, out);
}

char *pc_read_file(const char *path, size_t *len_out)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    size_t cap = 0, len = 0;

    if (!f)
        return NULL;
    for (;;) {
        if (cap - len < 4096) {
            cap = cap ? cap * 2 : 8192;
            char *nb = realloc(buf, cap);
            if (!nb)
                goto err;
            buf = nb;
        }
        size_t n = fread(buf + len, 1, cap - len - 1, f);
        len += n;
        if (n == 0)
            break;
    }
    if (ferror(f))
        goto err;
    fclose(f);
    buf[len] = '\0';
    if (len_out)
        *len_out = len;
    return buf;
err:
    free(buf);
    fclose(f);
    return NULL;
}

json_t *pc_error_json(const pc_error *err)
{
    return json_pack("{s:{s:s, s:s}}", "error", "code", err->code ? err->code : "internal",
                     "message", err->message);
}
