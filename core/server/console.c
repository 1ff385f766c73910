/*
 * GET /console and /console/{file}: the marketers' console (console/ in the
 * source tree), embedded in punchd at build time (tools/console-embed.py).
 * The files are public; everything they show comes from /v1/ with the API key
 * the page asks for. A strict Content-Security-Policy allows only punchd's own
 * scripts, styles and calls: no inline script, nothing from another origin.
 */
#include "server-internal.h"
#include "console-gen.h"

#include <string.h>

#define CONSOLE_CSP                                                                                \
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "              \
    "connect-src 'self'; form-action 'none'; frame-ancestors 'none'; base-uri 'none'"

/* The asset called name ("" and NULL: index.html), or NULL. */
static const console_asset *console_find(const char *name)
{
    if (!name || !*name)
        name = "index.html";
    for (const console_asset *a = console_assets; a->name; a++)
        if (strcmp(a->name, name) == 0)
            return a;
    return NULL;
}

void get_console(server *s, struct evhttp_request *req, const char *arg, const char *query)
{
    const console_asset *a = console_find(arg);
    struct evkeyvalq *out = evhttp_request_get_output_headers(req);

    if (!a) {
        send_error(s, req, 404, "not_found", "no such file in the console");
        return;
    }
    evhttp_add_header(out, "Content-Security-Policy", CONSOLE_CSP);
    evhttp_add_header(out, "X-Content-Type-Options", "nosniff");
    evhttp_add_header(out, "Referrer-Policy", "no-referrer");
    evhttp_add_header(out, "X-Frame-Options", "DENY");
    evhttp_add_header(out, "Cache-Control", "no-cache");
    send_raw(s, req, 200, a->type, (const char *)a->data, a->len);
}
