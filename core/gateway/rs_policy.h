/* core/gateway/rs_policy.h — a route's cache policy, decided in C: which requests
 * skip the cache (bypass), which answers may be stored, and the purges that
 * the admin listener and Lua's ssr.purge share.
 *
 * rs_page.c (and the cached proxy path) ask the first two questions; the
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

struct rs_cache_s;

/* Does req skip the cache (not looked up, not stored) by the route's
 * declarative rules? Requests carrying Authorization or Cookie do unless
 * the route allows them (route->cache.authorization / .cookie, or names
 * the cookies its pages depend on: route->cache.cookies); then any
 * cookie, header or query parameter named in route->cache.bypass_* that is
 * present with a non-empty value does. A Lua bypass hook is asked
 * separately, after. route may be NULL (defaults). */
bool rs_policy_bypass(const rs_req_t *req, const rs_route_t *route);

/* Does a render (or a hook feeding it) see the request header called
 * name? Forwarding claims (core/http/rs_realip.h) only when the peer is a
 * trusted proxy (trusted); for a page that will be stored for everyone
 * (shared: its route; NULL = not stored), only Host and the headers the
 * route names (route->cache.headers), which are in its key: nothing else a
 * visitor sends may shape a page that others are served. The one rule the
 * bundle's request.headers (core/gateway/rs_render.h) and the props hook's view
 * (lua/rs_lhooks.h) follow. */
bool rs_policy_page_sees(const rs_req_t *req, const rs_route_t *shared, const char *name, size_t len,
                         bool trusted);

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

/* ------------------------------------------------------------------ purge */

/* What a purge selects. */
#define RS_PURGE_MAP(XX) \
  XX(KEY, "key")         \
  XX(PREFIX, "prefix")   \
  XX(TAG, "tag")         \
  XX(ALL, "all")         \
  XX(URL, "url")

typedef enum {
#define XX(name, str) RS_PURGE_##name,
  RS_PURGE_MAP(XX)
#undef XX
  RS_PURGE_MAX
} rs_purge_by_t;

/* The selector called name ("key", "prefix", "tag", "all", "url"), or -1. */
int rs_policy_purge_by(const char *name, size_t len);

/* Drop from cache the pages that v[0..len) selects (core/cache/rs_key.h has the
 * key format):
 *   KEY     the page stored under the key v, with every variant of the
 *           route's named headers, and every page whose key hook returned
 *           v, on any host;
 *   PREFIX  the pages whose key starts with v ("GET example.com/catalog/"),
 *           and those whose key hook's string starts with v, on any host;
 *   TAG     the pages tagged v;
 *   ALL     everything (v unused);
 *   URL     "/path?query" on host: the page under its default key (with the
 *           variants of named headers), as a request for it builds it; pages
 *           stored under a key hook's key are not found that way.
 * An empty v selects nothing (0): only ALL purges everything. Bumps the
 * purge epoch, so every loop's L1 stops serving them at its next lookup and
 * a render that began before never puts its page back. Returns how many
 * pages were removed. Any thread. */
size_t rs_policy_purge(struct rs_cache_s *cache, rs_purge_by_t by, const char *v, size_t len,
                       const char *host, size_t host_len);

/* rs_policy_purge, or with soft a soft purge of the same pages: they stay,
 * stale from now on, served within their grace while one background render
 * replaces each (rs_cache.h, "Soft purges"). Returns how many. */
size_t rs_policy_purge_ex(struct rs_cache_s *cache, rs_purge_by_t by, const char *v, size_t len,
                          const char *host, size_t host_len, bool soft);

/* A URL selector's parts: url is "/path?query" (the host in *host /
 * *host_len, given by the caller) or "http(s)://host/path?query" (then
 * *host must be NULL on entry, and is set). On success *path / *path_len
 * are "/path?query". Returns 0, or -1 with *why (a static string): an
 * empty url, no leading '/', no host, the host given twice. */
int rs_policy_url_split(const char *url, size_t len, const char **host, size_t *host_len, const char **path,
                        size_t *path_len, const char **why);

/* The URL purge with the path and the query apart (query without '?';
 * NULL/0 for none), as the admin listener has them. */
size_t rs_policy_purge_url(struct rs_cache_s *cache, const char *host, size_t host_len,
                           const char *path, size_t path_len, const char *query, size_t query_len);
size_t rs_policy_purge_url_ex(struct rs_cache_s *cache, const char *host, size_t host_len, const char *path,
                              size_t path_len, const char *query, size_t query_len, bool soft);

#endif
