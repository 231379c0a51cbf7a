/* core/gateway/rs_reqstats.h — rustyssr_request_duration_seconds: a
 * Prometheus histogram of the requests the dispatcher answered, by route
 * and status class, from the dispatch (the request's head, and a body read
 * whole, received) to its answer's last byte written (or the client gone:
 * status 499 when it went before the answer left, rs_conn.h). A request
 * freed before its handler had it (never answered) is not counted, as
 * rustyssr_requests_total does not count it.
 *
 * The route label is the route's host and path pattern as declared
 * ("/blog/:slug", "shop.example.com/cart"); routes with the same label
 * share a series, and a reload keeps counting into it. Requests no route
 * matched are route="(none)". Each loop thread counts into its own slots
 * (no lock on the request path); a scrape sums them. */
#ifndef RS_REQSTATS_H
#define RS_REQSTATS_H

#include "rs_conn.h"
#include "rs_router.h"

/* Register the collector; nloops = loops the process runs (0..nloops-1
 * indexes). Main thread, once, before the admin listener serves. */
void rs_reqstats_register(int nloops);

/* Mark req's dispatch (its clock starts). Loop thread. */
void rs_reqstats_start(rs_req_t *req);

/* Count req, answered with status, under route (NULL: none matched), when
 * it is freed. Loop thread. */
void rs_reqstats_end(rs_req_t *req, const rs_route_t *route, int status);

#endif
