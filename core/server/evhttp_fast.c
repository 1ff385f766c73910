/*
 * Two functions of libevent's evhttp that every answer calls several times,
 * defined here: the dynamic linker binds libevent's own calls to them
 * (through its PLT, as for evhttp_send_error() in http.c), and they do what
 * libevent's do, byte for byte, with less work.
 *
 *  - evbuffer_add_printf(): evhttp writes the status line and each header
 *    with it, a vsnprintf each (~1,400 instructions, five per answer);
 *  - evhttp_find_header(): evhttp looks headers up a dozen times per
 *    request, comparing every name through evutil_ascii_strcasecmp(), one
 *    function call per character (~4,000 instructions per event in all).
 */
#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "punchcard/common.h"

/* Appends n parts to buf in one piece, as evbuffer_add_printf would: their length, or -1. */
static int add_parts(struct evbuffer *buf, const char *const *part, const size_t *len, int n)
{
    char small[512], *text = small;
    size_t total = 0;
    int rc;
    for (int i = 0; i < n; i++)
        total += len[i];
    if (total > INT32_MAX)
        return -1;
    if (total > sizeof small && !(text = malloc(total)))
        return -1;
    total = 0;
    for (int i = 0; i < n; i++) {
        memcpy(text + total, part[i], len[i]);
        total += len[i];
    }
    rc = evbuffer_add(buf, text, total) ? -1 : (int)total;
    if (text != small)
        free(text);
    return rc;
}

/*
 * The two formats evhttp writes an answer's head with ("HTTP/%d.%d %d %s\r\n",
 * "%s: %s\r\n") written here, the bytes printf writes; any other format, or a
 * NULL string, goes to evbuffer_add_vprintf() as before.
 */
int evbuffer_add_printf(struct evbuffer *buf, const char *fmt, ...)
{
    va_list ap, again;
    int rc = -2;
    va_start(ap, fmt);
    va_copy(again, ap);
    if (fmt[0] == '%' && !strcmp(fmt, "%s: %s\r\n")) {
        const char *k = va_arg(ap, const char *), *v = va_arg(ap, const char *);
        if (k && v) {
            const char *part[] = {k, ": ", v, "\r\n"};
            size_t len[] = {strlen(k), 2, strlen(v), 2};
            rc = add_parts(buf, part, len, 4);
        }
    } else if (fmt[0] == 'H' && !strcmp(fmt, "HTTP/%d.%d %d %s\r\n")) {
        char major[24], minor[24], code[24];
        int a = va_arg(ap, int), b = va_arg(ap, int), c = va_arg(ap, int);
        const char *line = va_arg(ap, const char *);
        if (line) {
            const char *part[] = {"HTTP/", major, ".", minor, " ", code, " ", line, "\r\n"};
            size_t len[] = {5, pc_format_int(major, a), 1, pc_format_int(minor, b),
                            1, pc_format_int(code, c),  1, strlen(line),
                            2};
            rc = add_parts(buf, part, len, 9);
        }
    }
    if (rc == -2)
        rc = evbuffer_add_vprintf(buf, fmt, again);
    va_end(again);
    va_end(ap);
    return rc;
}

/* ASCII only, as evutil_ascii_strcasecmp() (the locale never matters). */
static inline unsigned char lower(unsigned char c)
{
    return c >= 'A' && c <= 'Z' ? (unsigned char)(c + 32) : c;
}

/* The first header named key (any case), as libevent's: its value, or NULL. */
const char *evhttp_find_header(const struct evkeyvalq *headers, const char *key)
{
    const struct evkeyval *h;
    for (h = headers->tqh_first; h; h = h->next.tqe_next) {
        const unsigned char *a = (const unsigned char *)h->key, *b = (const unsigned char *)key;
        while (*a && lower(*a) == lower(*b)) {
            a++;
            b++;
        }
        if (!*a && !*b)
            return h->value;
    }
    return NULL;
}
