/* core/gateway/rs_policy.h — a route's cache policy, decided in C: which requests
 * skip the cache (bypass) and which answers may be stored. (What a stored
 * page may see is the route's: rs_route_page_sees, core/conf/rs_router.h;
 * purges are the cache's: core/cache/rs_purge.h.)
 *
 * The page flow (rs_page.c, the cached proxy too) asks both; the
 * route's declarative options (lua/rs_lcache.c, through lua/rs_lroute.c)
 * fill route->cache, which they read. No Lua on the request path. Any
 * thread: they read only the route and their arguments. */
#ifndef RS_POLICY_H
#define RS_POLICY_H

#include "rs_conn.h"
#include "rs_router.h"

/* Does req skip the cache (not looked up, not stored) by the route's
 * declarative rules? Requests carrying Authorization or Cookie do unless
 * the route allows them (route->cache.authorization / .cookie); then any
 * cookie, header or query parameter named in route->cache.bypass_* that is
 * present with a non-empty value does. A Lua bypass hook is asked
 * separately, after. route may be NULL (defaults). */
bool rs_policy_bypass(const rs_req_t *req, const rs_route_t *route);

/* May an answer with this status and header block ("name: value\r\n"...,
 * names in any case) be stored for route? Never with Set-Cookie or
 * Cache-Control private / no-store; statuses as the route says
 * (route->cache.statuses; default 200, 301, 302, 404). route may be NULL
 * (defaults). */
bool rs_policy_storable(const rs_route_t *route, int status, const char *headers, size_t len);

/* May status be stored for route (the status rule of rs_policy_storable)? */
bool rs_policy_status_ok(const rs_route_t *route, int status);

#endif
