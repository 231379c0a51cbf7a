/* core/gateway/rs_render.h — render jobs made from requests, and the answers made
 * from finished jobs. The `render` route action (rs_dispatch.c) goes through
 * the page flow (core/gateway/rs_page.h), which uses these, cache or not.
 *
 * A job owns a copy of what the bundle sees of the request (url, method,
 * path, decoded query, headers): a request is a few hundred bytes, a render
 * a few hundred microseconds, and owning the copy lets a job outlive its
 * request (background refreshes, clients that leave). Loop threads. */
#ifndef RS_RENDER_H
#define RS_RENDER_H

#include "rs_conn.h"
#include "rs_pool.h"
#include "rs_router.h"

/* A job for req (copied, and props: JSON text, may be NULL), not yet
 * submitted; NULL when out of memory. Set job->task.run and job->inbox,
 * then rs_pool_submit.
 *
 * The headers the bundle sees: never a forwarding claim (X-Forwarded-*,
 * X-Real-IP, Forwarded) unless the peer is a trusted proxy
 * (core/http/rs_realip.h); and when the page will be stored for everyone
 * (shared: its route), only Host — lower-case, without its port, as the
 * key holds it — and the headers the route names (route->cache.headers),
 * which join the key: a header outside the key never reaches a page that
 * others will be served. shared NULL (bypass, cache off, uncached route):
 * the rest as sent. */
rs_render_job_t *rs_render_job_new(rs_req_t *req, const rs_route_t *shared, const char *props,
                                   size_t props_len);

/* Answer req from a finished job, which it takes: OK → the page (zero
 * copy), ERROR → 500 generic page (the message in the page only with
 * render.debug), TIMEOUT → 504, OOM/EXPIRED/REJECTED → 503 + Retry-After.
 * extra: more header lines for the answer ("X-Cache: BYPASS\r\n") or NULL.
 * Logs failures with the request id. */
void rs_render_respond(rs_req_t *req, rs_render_job_t *job, const char *extra);

/* The error status a failed outcome answers with (500, 503, 504). */
int rs_render_error_status(rs_render_outcome_t o);

/* Answer req with an error page for status (503 carries Retry-After). */
void rs_render_respond_error(rs_req_t *req, int status);

/* Render req without the cache and answer it (X-Cache: extra header lines
 * may be given, e.g. "X-Cache: BYPASS\r\n"; props as for job_new). */
void rs_render_uncached(rs_req_t *req, const char *extra, const char *props, size_t props_len);

#endif
