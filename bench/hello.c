/*
 * hello: the ceiling of one libevent loop on this machine.
 *
 * A minimal evhttp server on one event loop: every request is answered 200
 * with a small JSON body, after reading (and summing, so it is not optimised
 * away) the request body. bench/run.sh compiles it into a temp dir and runs
 * wrk against it with the same script as against punchd, so punchd's rate is
 * reported as a ratio to this one.
 *
 *   cc -O2 -o hello bench/hello.c $(pkg-config --cflags --libs libevent)
 *   ./hello 127.0.0.1 PORT
 */
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static unsigned long long body_bytes;

static void on_request(struct evhttp_request *req, void *arg)
{
    struct evbuffer *in = evhttp_request_get_input_buffer(req);
    struct evbuffer *out = evhttp_request_get_output_buffer(req);
    size_t len = evbuffer_get_length(in);
    char buf[4096];
    int n;

    (void)arg;
    /* Read the whole body, as a real handler would before parsing it. */
    while ((n = evbuffer_remove(in, buf, sizeof buf)) > 0)
        body_bytes += (unsigned long long)n;
    evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type", "application/json");
    evbuffer_add_printf(out, "{\"ok\":true,\"len\":%zu}", len);
    evhttp_send_reply(req, 200, "OK", out);
}

static void on_signal(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    event_base_loopexit(arg, NULL);
}

int main(int argc, char **argv)
{
    const char *host = argc > 1 ? argv[1] : "127.0.0.1";
    int port = argc > 2 ? atoi(argv[2]) : 8081;
    struct event_base *base;
    struct evhttp *http;
    struct event *sigterm, *sigint;

    signal(SIGPIPE, SIG_IGN);
    base = event_base_new();
    http = base ? evhttp_new(base) : NULL;
    if (!http) {
        fprintf(stderr, "hello: cannot create the event loop\n");
        return 1;
    }
    evhttp_set_allowed_methods(http, EVHTTP_REQ_GET | EVHTTP_REQ_POST);
    evhttp_set_max_body_size(http, 65536);
    evhttp_set_gencb(http, on_request, NULL);
    if (evhttp_bind_socket(http, host, (ev_uint16_t)port) != 0) {
        fprintf(stderr, "hello: cannot listen on %s:%d\n", host, port);
        return 1;
    }
    sigterm = evsignal_new(base, SIGTERM, on_signal, base);
    sigint = evsignal_new(base, SIGINT, on_signal, base);
    event_add(sigterm, NULL);
    event_add(sigint, NULL);
    fprintf(stderr, "hello: listening on %s:%d\n", host, port);
    event_base_dispatch(base);
    fprintf(stderr, "hello: read %llu body bytes\n", body_bytes);
    event_free(sigterm);
    event_free(sigint);
    evhttp_free(http);
    event_base_free(base);
    return 0;
}
