/* Fuzz target: the gateway's route matcher and body validation (gateway_route_request).
 *
 * Input: "<METHOD> <path>[?<query>]\n<body>". The request line is cut at the first
 * '\n' (and the method at the first ' '), like an HTTP request line after civetweb has
 * URL-decoded the path; everything after the '\n' is the body, byte for byte. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_json.h"
#include "hausbus/envelope.h"
#include "routes.h"

#define REQUEST_LINE_MAX 4096 /* civetweb refuses longer request lines anyway */

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "fuzz_gateway_routes: property failed: %s (line %d)\n", #cond,        \
                    __LINE__);                                                                     \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

static bool printable(const char *text, size_t cap)
{
    const char *end = memchr(text, '\0', cap);
    if (!end) {
        return false;
    }
    for (const char *c = text; c < end; c++) {
        if ((unsigned char)*c < 0x20 || (unsigned char)*c > 0x7e) {
            return false;
        }
    }
    return true;
}

/* What run_command does with a routed command: it must become a CloudEvent that every
 * component's decoder accepts, with the data the route validated, exactly. */
static void check_command_event(struct gateway_route *route)
{
    char type[HB_EVENT_TYPE_MAX];
    snprintf(type, sizeof(type), "%s.%s", route->component, route->command);
    cJSON *data = cJSON_Duplicate(route->data, true);
    CHECK(data != NULL);
    struct hb_event ev;
    CHECK(hb_event_init(&ev, "gateway", type, route->order_id, data) == HB_OK);
    char *payload = hb_envelope_encode(&ev);
    CHECK(payload != NULL);
    hb_event_clear(&ev);
    const char *reason = NULL;
    hb_err_t rc = hb_envelope_decode(payload, strlen(payload), &ev, &reason);
    if (rc != HB_OK) {
        fprintf(stderr, "fuzz_gateway_routes: command does not decode (%s): %s\n",
                reason ? reason : "?", payload);
    }
    CHECK(rc == HB_OK);
    if (!fuzz_json_same(route->data, ev.data)) {
        fprintf(stderr, "fuzz_gateway_routes: the command's data changed on the bus: %s\n",
                payload);
    }
    CHECK(fuzz_json_same(route->data, ev.data));
    hb_event_clear(&ev);
    free(payload);
}

static void check_route(const struct gateway_request *req, struct gateway_route *route)
{
    CHECK(printable(route->error, sizeof(route->error)));
    CHECK(memchr(route->allow, '\0', sizeof(route->allow)) != NULL);
    switch (route->kind) {
    case GATEWAY_ROUTE_ERROR:
        CHECK(route->status == 400 || route->status == 404 || route->status == 405 ||
              route->status == 413);
        CHECK(route->error[0] != '\0');
        CHECK(route->data == NULL);
        CHECK((route->status == 405) == (route->allow[0] != '\0'));
        break;
    case GATEWAY_ROUTE_LOCAL:
        CHECK(route->status == 200 && route->data == NULL);
        CHECK(strcmp(req->method, "GET") == 0);
        CHECK((route->local == GATEWAY_LOCAL_HEALTH && strcmp(req->path, "/healthz") == 0) ||
              (route->local == GATEWAY_LOCAL_READY && strcmp(req->path, "/readyz") == 0) ||
              (route->local == GATEWAY_LOCAL_OPENAPI && strcmp(req->path, "/openapi.json") == 0) ||
              (route->local == GATEWAY_LOCAL_METRICS && strcmp(req->path, "/metrics") == 0));
        break;
    case GATEWAY_ROUTE_COMMAND:
        CHECK(route->status == 0 && route->allow[0] == '\0');
        CHECK(route->component != NULL && route->command != NULL);
        CHECK(cJSON_IsObject(route->data));
        CHECK(route->order_id >= 0 && route->order_id <= GATEWAY_ID_MAX);
        CHECK(req->body_len <= GATEWAY_BODY_MAX);
        check_command_event(route);
        break;
    default:
        CHECK(!"unknown route kind");
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *newline = memchr(data, '\n', size);
    size_t line_len = newline ? (size_t)(newline - data) : size;
    if (line_len >= REQUEST_LINE_MAX) {
        return 0;
    }
    char line[REQUEST_LINE_MAX];
    memcpy(line, data, line_len);
    line[line_len] = '\0';
    char *path = strchr(line, ' ');
    if (path) {
        *path++ = '\0';
    } else {
        path = line + line_len; /* "" */
    }
    char *query = strchr(path, '?');
    if (query) {
        *query++ = '\0';
    }

    /* An exact-size copy: the body is not NUL-terminated, as civetweb hands it over. */
    size_t body_len = newline ? size - line_len - 1 : 0;
    char *body = NULL;
    if (body_len > 0) {
        body = malloc(body_len);
        if (!body) {
            return 0;
        }
        memcpy(body, newline + 1, body_len);
    }

    struct gateway_request req = {
        .method = line,
        .path = path,
        .query = query,
        .body = body,
        .body_len = body_len,
    };
    struct gateway_route route;
    hb_err_t rc = gateway_route_request(&req, &route);
    CHECK(rc == HB_OK);
    check_route(&req, &route);
    enum gateway_route_kind kind = route.kind;
    gateway_route_clear(&route);
    gateway_route_clear(&route); /* clearing a cleared route is allowed */

    /* The same command with a body over the bound must be refused with 413, before the
     * query and the body are looked at (the body pointer is not even valid then). */
    if (kind == GATEWAY_ROUTE_COMMAND) {
        req.body_len = GATEWAY_BODY_MAX + 1 + body_len;
        req.body = NULL;
        CHECK(gateway_route_request(&req, &route) == HB_OK);
        CHECK(route.kind == GATEWAY_ROUTE_ERROR && route.status == 413);
        gateway_route_clear(&route);
    }

    /* The id parser on its own, on the raw request line. */
    int64_t id = 0;
    if (gateway_parse_id((const char *)data, line_len, &id)) {
        CHECK(id >= 1 && id <= GATEWAY_ID_MAX);
    }
    free(body);
    return 0;
}
