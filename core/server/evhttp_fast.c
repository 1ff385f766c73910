/*
 * Three functions of libevent that every request calls, defined here: the
 * dynamic linker binds libevent's own calls to them (through its PLT, as for
 * evhttp_send_error() in http.c), and they do what libevent's do, byte for
 * byte, with less work.
 *
 *  - evbuffer_add_printf(): evhttp writes the status line and each header
 *    with it, a vsnprintf each (~1,400 instructions, five per answer);
 *  - evhttp_find_header(): evhttp looks headers up a dozen times per
 *    request, comparing every name through evutil_ascii_strcasecmp(), one
 *    function call per character (~4,000 instructions per event in all);
 *  - evbuffer_read(): every read of a bufferevent (each connection's) asks
 *    the kernel first how much there is to read (ioctl FIONREAD), a system
 *    call as dear as the read itself on a virtualized machine.
 */
#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>

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

/* libevent 2.1's EVBUFFER_MAX_READ: the most one evbuffer_read() reads. */
#define MAX_READ 4096

/*
 * Reads what fd has, up to howmuch bytes (any if negative) and MAX_READ, at
 * the end of buf: the bytes read, 0 at the end of the stream, -1 with errno
 * set. libevent's asks FIONREAD first, only to size the space it reserves
 * (it reads min(howmuch, available, MAX_READ) bytes, as readv() does here
 * into space for min(howmuch, MAX_READ)): the same bytes come in the same
 * pieces, and buf's callbacks run once per read, as libevent's do.
 */
int evbuffer_read(struct evbuffer *buf, evutil_socket_t fd, int howmuch)
{
    struct evbuffer_iovec space[2];
    struct iovec io[2];
    size_t want, got;
    ssize_t n;
    int nspace, nio = 0;

    if (howmuch < 0 || howmuch > MAX_READ)
        howmuch = MAX_READ;
    want = (size_t)howmuch;
    nspace = evbuffer_reserve_space(buf, (ev_ssize_t)want, space, 2);
    if (nspace <= 0)
        return -1;
    for (; nio < nspace && want; nio++) {
        io[nio].iov_base = space[nio].iov_base;
        io[nio].iov_len = space[nio].iov_len < want ? space[nio].iov_len : want;
        want -= io[nio].iov_len;
    }
    n = readv(fd, io, nio);
    if (n <= 0)
        return (int)n;
    got = (size_t)n;
    for (int i = 0; i < nio; i++) {
        space[i].iov_len = io[i].iov_len < got ? io[i].iov_len : got;
        got -= space[i].iov_len;
    }
    return evbuffer_commit_space(buf, space, nio) ? -1 : (int)n;
}
