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

#include "rs_config.h"
#include "rs_conn.h"
#include "rs_cookie.h"
#include "rs_key.h"
#include "rs_router.h"

/* The most cookies a route may name (lua/rs_lcache.c checks it at load). */
#define RS_POLICY_MAX_COOKIES 32

/* Does req skip the cache (not looked up, not stored) by the route's
 * declarative rules? Requests carrying Authorization or Cookie do unless
 * the route allows them (route->cache.authorization / .cookie, or names
 * the cookies its pages depend on: route->cache.cookies); then any
 * cookie, header or query parameter named in route->cache.bypass_* that is
 * present with a non-empty value does. A Lua bypass hook is asked
 * separately, after. route may be NULL (defaults). */
bool rs_policy_bypass(const rs_req_t *req, const rs_route_t *route);

/* The route's named cookies (route->cache.cookies, non-NULL) as req has them:
 * out[i] for the i-th name, the first pair of that name across its Cookie
 * headers (core/base/rs_cookie.h). out holds RS_POLICY_MAX_COOKIES. */
void rs_policy_page_cookies(const rs_req_t *req, const rs_route_t *route, rs_cookie_val_t *out);

/* The Cookie header a stored page's render and props hook see, appended
 * to out ("currency=EUR; lang=fr": only the cookies the route names, which
 * are in its key, in the route's order). Returns how many; 0 (nothing
 * appended) when shared is NULL or names none. */
size_t rs_policy_page_cookie(const rs_req_t *req, const rs_route_t *shared, rs_buf_t *out);

/* Append to a page's key what follows the named headers (rs_key.h): the
 * route's named cookies, then cfg's cache.version (none when unset; the
 * value "bundle" stands for the id of cfg's bundle, rs_pool_bundle_id). */
void rs_policy_key_tail(rs_key_t *k, const rs_req_t *req, const rs_route_t *route, const rs_config_t *cfg);

/* The header block a stored page of route keeps, when it differs from the
 * render's h[0..len): h, then "Vary:" with the headers and "Cookie" when the
 * route names any (they split its pages, and downstream caches must know),
 * then the route's "Cache-Control:" when h has none (the bundle's wins).
 * Returns true with the block in out (the caller frees it), false (out
 * untouched) when h stays as it is. */
bool rs_policy_page_headers(const rs_route_t *route, const char *h, size_t len, rs_buf_t *out);

/* The extra header lines of a page of route rendered for one visitor (a
 * bypass, or a page that could not be stored): X-Cache: BYPASS, and, when
 * the route sends cache_control with its stored pages, "Cache-Control:
 * private", so that no shared cache downstream keeps a personal page. */
const char *rs_policy_bypass_extra(const rs_route_t *route);

/* May an answer with this status and header block ("name: value\r\n"...,
 * names in any case) be stored for route? Never with Set-Cookie or
 * Cache-Control private / no-store; statuses as the route says
 * (route->cache.statuses; default 200, 301, 302, 404). route may be NULL
 * (defaults). */
bool rs_policy_storable(const rs_route_t *route, int status, const char *headers, size_t len);

/* May status be stored for route (the status rule of rs_policy_storable)? */
bool rs_policy_status_ok(const rs_route_t *route, int status);

#endif
