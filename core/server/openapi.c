/*
 * GET /v1/openapi.json: docs/openapi.yaml, the description of this API,
 * turned into JSON at build time (tools/openapi-embed.py) and served as is.
 */
#include "server-internal.h"

extern const char punchd_openapi_json[];
extern const size_t punchd_openapi_json_len;

void get_openapi(server *s, struct evhttp_request *req, const char *arg, const char *query)
{
    send_raw(s, req, 200, "application/json", punchd_openapi_json, punchd_openapi_json_len);
}
