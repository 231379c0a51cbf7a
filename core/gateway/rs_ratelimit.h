/* core/gateway/rs_ratelimit.h — a route's limit_req and limit_conn
 * (nginx's; the options: route->limit, core/conf/rs_router.h) applied to a
 * request before its action runs, over the process's limit table
 * (core/base/rs_limit.h), shared by every loop thread.
 *
 * A request over a limit gets the route's status (429 by default) with
 * Retry-After (limit_req: the seconds until one more would pass; limit_conn:
 * 1) and a log line at warn level ("limiting requests, excess ... by route
 * FILE:LINE, client: ...", as nginx's), and is counted in
 * rustyssr_limit_rejected_total{route, limit}. A request whose key is empty
 * (a "$http_NAME" header it did not send) is not limited, as in nginx. */
#ifndef RS_RATELIMIT_H
#define RS_RATELIMIT_H

#include "rs_conn.h"
#include "rs_router.h"

typedef void (*rs_ratelimit_cont_fn)(rs_req_t *req, const rs_route_t *route);
enum { RS_RATELIMIT_PASS = 0, RS_RATELIMIT_ANSWERED, RS_RATELIMIT_PENDING };

/* Apply route's limits to req. Returns RS_RATELIMIT_PASS when the request
 * may go on now; _ANSWERED when it was refused (and answered); _PENDING
 * when a key hook (key = function(req)) runs or waits: cont(req, route) is
 * then called once the limits pass, or the request is answered (refused,
 * the hook's req:exit, or 500 when it fails; the hook's Lua context ends
 * before, its req.ctx is not the action's). A request that passes holds
 * its limit_conn slot until it is freed: call rs_ratelimit_release from
 * its on_free. Loop thread. */
int rs_ratelimit_admit(rs_req_t *req, const rs_route_t *route, rs_ratelimit_cont_fn cont);

/* Give back req's limit_conn slot, if it holds one. Loop thread. */
void rs_ratelimit_release(rs_req_t *req);

/* Register rustyssr_limit_rejected_total. Main thread, once, before the
 * admin listener serves. */
void rs_ratelimit_metrics_register(void);

#endif
