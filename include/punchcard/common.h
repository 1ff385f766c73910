/*
 * Small helpers every part of Punchcard uses: logging, wall-clock time in
 * milliseconds, RFC 3339 parsing/formatting and SHA digests as hex.
 */
#ifndef PUNCHCARD_COMMON_H
#define PUNCHCARD_COMMON_H

#include <stddef.h>
#include <stdint.h>

/*
 * An error as a value: the HTTP status and code it maps to at the server, and a
 * message for the caller. Filled by the layer that failed, rendered once by the server.
 */
typedef struct pc_error {
    int status;       /* 400, 404, 409, 413, 422, 503 ... */
    const char *code; /* static: "bad_request", "mechanic_error", "unavailable" ... */
    char message[512];
} pc_error;

/* Fills err (may be NULL) and returns -1, so callers can `return pc_fail(...)`. */
int pc_fail(pc_error *err, int status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/*
 * The one rendering of an error as JSON, {"error": {"code", "message"}}, for
 * the HTTP answers and the CLI alike. A new reference (a json_t *), or NULL on
 * out of memory.
 */
struct json_t;
struct json_t *pc_error_json(const pc_error *err);

enum pc_log_level { PC_LOG_DEBUG, PC_LOG_INFO, PC_LOG_WARN, PC_LOG_ERROR };

/* Sets the lowest level that pc_log() prints (default PC_LOG_INFO). */
void pc_log_set_level(enum pc_log_level level);

/* JSON lines (on) or text (off, the default) for every log line from now on. */
void pc_log_set_json(int on);

/* 1 when a line of level would be printed. */
int pc_log_enabled(enum pc_log_level level);

/*
 * Prints one line to stderr with a timestamp and level: text "TIME LEVEL message", or
 * {"ts", "level", "event": "log", "msg"} as JSON. Never pass secrets.
 */
void pc_log(enum pc_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/*
 * A structured event: its name (e.g. "redis_down") and string fields, as pairs of key and
 * value ending with PC_LOG_END (a NULL value prints null). Text: "TIME LEVEL event key=value ...".
 */
#define PC_LOG_END ((const char *)0) /* the end of pc_log_event()'s pairs */
void pc_log_event(enum pc_log_level level, const char *event, ...) __attribute__((sentinel));

/*
 * The same, built field by field (for numbers): begin, any str/int, end (which writes the
 * line at once). The caller checks pc_log_enabled() first. A line is cut at 2 KB.
 */
typedef struct pc_logline {
    size_t len;
    char buf[2048];
} pc_logline;
void pc_logline_begin(pc_logline *l, enum pc_log_level level, const char *event);
void pc_logline_str(pc_logline *l, const char *key, const char *value);
void pc_logline_int(pc_logline *l, const char *key, int64_t value);
void pc_logline_end(pc_logline *l);

/* Writes v in decimal into out (at least 21 bytes, not NUL-terminated); returns the length. */
size_t pc_format_int(char *out, int64_t v);
/* strtoll(s, end, 10), faster on plain [-]digits (the fields punchd writes); the same result. */
long long pc_strtoll(const char *s, char **end);

/*
 * Appends to out (size n) at *at, keeping it NUL-terminated, without printf (these
 * build field names, keys and values on every event). 0, or -1 when it does not
 * fit (then out holds a truncated string and *at is unchanged).
 */
int pc_append(char *out, size_t n, size_t *at, const char *s);
int pc_append_int(char *out, size_t n, size_t *at, int64_t v);

/* snprintf(dst, n, "%s", src) without printf: copies what fits, always NUL-terminated (n > 0). */
void pc_copy(char *dst, size_t n, const char *src);

/* Milliseconds since the Unix epoch, from the real-time clock. */
int64_t pc_now_ms(void);

/* Milliseconds from a monotonic clock, for deadlines. */
int64_t pc_mono_ms(void);

/*
 * Parses an RFC 3339 timestamp ("2026-11-25T08:30:00Z", "…T08:30:00.250+01:00")
 * into milliseconds since the epoch. Returns 0 on success, -1 on malformed input.
 */
int pc_time_parse(const char *s, int64_t *ms_out);

/* Formats ms since the epoch as "2026-11-25T08:30:00.250Z" into out (>= 32 bytes). */
void pc_time_format(int64_t ms, char *out, size_t outlen);

/* Writes the lowercase hex SHA-256 (65 bytes with NUL) / SHA-1 (41 bytes) of data. */
void pc_sha256_hex(const void *data, size_t len, char out[65]);
void pc_sha1_hex(const void *data, size_t len, char out[41]);

/* Reads a whole file into a NUL-terminated malloc'd buffer; caller frees. NULL on error. */
char *pc_read_file(const char *path, size_t *len_out);

/*
 * Time zones (IANA names like "Europe/Paris", from the system's tzdata; "UTC"
 * by default). pc_tz_valid: 1 when name is a known zone. pc_local_time: the
 * civil time of ms in zone tz (tm_year etc. as localtime_r fills them, and
 * the UTC offset in seconds). pc_local_midnight: ms of the start of the local
 * day (at hour_start o'clock) that contains ms. Thread-safe.
 */
#include <time.h>
int pc_tz_valid(const char *tz);
int pc_local_time(int64_t ms, const char *tz, struct tm *out);

/*
 * The id of the period ("day", "week", "month", "year") holding ms in tz:
 * "2026-11-25", "2026-W48" (ISO 8601), "2026-11", "2026". out >= 16 bytes.
 * -1 for another period name.
 */
int pc_period_id(int64_t ms, const char *tz, const char *per, char *out, size_t n);
int64_t pc_local_day_start(int64_t ms, const char *tz, int hour_start);
/* ms of a civil time in zone tz (a time skipped by DST moves forward). */
int64_t pc_local_to_utc(const char *tz, int year, int month, int day, int hour, int min, int sec);

#endif
