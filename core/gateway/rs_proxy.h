/* core/gateway/rs_proxy.h — the proxy action: a request forwarded to an upstream,
 * its answer streamed back.
 *
 *   ssr.proxy("/api/", { upstream = "api", path = "/v1/", host = "keep" })
 *   -- or, as a route of any path:
 *   ssr.route({ "GET", "POST" }, "/api/" .. "*", { proxy = { upstream = "api" } })
 *
 * Sent upstream: the method, the path (what the route's prefix matched
 * replaced by proxy.path, when given) and query as sent, the headers minus
 * the hop-by-hop ones (Connection and the names it lists, Keep-Alive,
 * Proxy-Connection, TE, Trailer, Transfer-Encoding, Upgrade) and Expect,
 * Host as proxy.host says (the client's, the upstream's name, or a
 * literal), X-Forwarded-For/-Proto/-Host as rs_proxy_forwarded writes them
 * (any the client sent are dropped, as are X-Real-IP and Forwarded, unless
 * its peer is a trusted proxy: core/http/rs_realip.h), X-Request-Id (an incoming one
 * if it is 1..128 of [A-Za-z0-9._:-], else the request's id in hex), and
 * the body with a Content-Length (the front end has read it whole, up to
 * limits.body).
 *
 * The answer streams back as it arrives: status and headers (minus
 * hop-by-hop ones, Date and Server, which are the gateway's) at once, then
 * the body with the upstream's Content-Length, or chunked (to 1.0 clients:
 * until close) when the upstream sends chunked or reads until close. A
 * slow client pauses the reading from the upstream (at most ~256 KB
 * queued per request).
 *
 * Errors: no server up, refused, reset or a bad answer before the head →
 * 502; a timeout before the head → 504; each logged with upstream, server
 * and request id. An upstream failing after the head has been sent closes
 * the client's connection (the answer is incomplete) and is logged. */
#ifndef RS_PROXY_H
#define RS_PROXY_H

#include "rs_conn.h"
#include "rs_router.h"

/* Answer req, matched to route (RS_ACTION_PROXY), from the loop's upstream
 * runtime (loop->upstreams, kept by the request until it ends). Loop
 * thread. */
void rs_proxy_request(rs_req_t *req, const rs_route_t *route);

/* Append the request-target the upstream gets for req on route (both proxy
 * paths use it, cached or not), as nginx's proxy_pass: without proxy.path,
 * the target as the client sent it (origin-form, req->url: the upstream
 * decodes it as we did); with one, proxy.path in place of what the route's
 * prefix matched of the canonical path (req->path, rs_http_path_normalize),
 * then "?" and the query as sent. Any thread. */
void rs_proxy_target(rs_buf_t *b, const rs_req_t *req, const rs_route_t *route);

/* Append req's forwarding header lines to b, for an upstream:
 * X-Forwarded-For (rs_realip_xff: the resolved client, the trusted hops,
 * the peer), X-Forwarded-Proto (a trusted proxy's "http" or "https", else
 * "http") and X-Forwarded-Host (a trusted proxy's, else the request's
 * Host). Both proxy paths use it; shared (the cached one, whose answer is
 * stored under a key without them): never a proxy's -Proto or -Host. */
void rs_proxy_forwarded(rs_req_t *req, rs_buf_t *b, bool shared);

/* Append req's X-Request-Id line for an upstream: its first incoming one
 * when that is 1..128 of [A-Za-z0-9._:-], else the request's id as 16 hex
 * digits (as the logs write it). Both proxy paths use it (the cached one:
 * the leader's). Loop thread. */
void rs_proxy_request_id(const rs_req_t *req, rs_buf_t *b);

#endif
