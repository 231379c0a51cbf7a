/* core/rs_policy.h — a route's cache policy, decided in C: which requests
 * skip the cache (bypass) and which answers may be stored.
 *
 * rs_page.c (and the cached proxy path) ask these two questions; the
 * route's declarative options (lua/rs_lroute.c) fill what they read. Any
 * thread: both read only the route and their arguments. */
#ifndef RS_POLICY_H
#define RS_POLICY_H

#include "rs_conn.h"
#include "rs_router.h"

/* Does req skip the cache (not looked up, not stored) by the route's
 * declarative rules? Requests carrying Authorization or Cookie do unless
 * the route allows them. A Lua bypass hook is asked separately, after. */
bool rs_policy_bypass(const rs_req_t *req, const rs_route_t *route);

/* May an answer with this status and header block ("name: value\r\n"...,
 * names in any case) be stored for route? Never with Set-Cookie or
 * Cache-Control private / no-store; statuses as the route says (default
 * 200, 301, 302, 404). route may be NULL (defaults). */
bool rs_policy_storable(const rs_route_t *route, int status, const char *headers, size_t len);

#endif
