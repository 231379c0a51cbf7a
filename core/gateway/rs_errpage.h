/* core/gateway/rs_errpage.h — error_page, as nginx's: what answers a status
 * the gateway itself would answer with its plain error page (no route: 404;
 * a static file missing: 404; a render that failed: 500, 503, 504; an
 * upstream down: 502, 504; a key, bypass or props hook that failed: 500).
 *
 *   ssr.config { error_page = { [404] = "/404", [500] = "errors/50x.html" } }
 *   ssr.route("GET", "/shop/:id", { render = true, error_page = { [503] = "/busy" } })
 *
 * The route's table, else the config's. A file (read at load) is answered
 * with its bytes; a path ("/404") is a render of the bundle at that path (a
 * GET without query, seeing only Host, as a stored page does), answered with
 * the original status and kept in the page cache (under the path's key plus
 * a "\n!error_page" field, so purges by URL find it), so a flood of errors
 * costs one render per page, not one per error. A render that fails falls
 * back to the plain page. An answer the bundle itself returns (status 404)
 * is the bundle's and never replaced. Loop threads. */
#ifndef RS_ERRPAGE_H
#define RS_ERRPAGE_H

#include "rs_conn.h"

/* Answer req with the error page configured for status, and return true;
 * false (nothing done) when none is configured or it cannot be used (no
 * bundle for a render): the caller answers with its plain page. */
bool rs_errpage_respond(rs_req_t *req, int status);

/* The gateway's error answer: the error page configured for status, else
 * the plain page (rs_req_respond_error, with extra: header lines or NULL). */
void rs_errpage_answer(rs_req_t *req, int status, const char *extra);

/* The render of the bundle path target as req's error page with status
 * (core/gateway/rs_errpage_render.c); false when it cannot start (no
 * bundle, the queue refused it): the caller answers the plain page. */
bool rs_errpage__render(rs_req_t *req, rs_loop_gen_t *lg, const char *target, int status);

#endif
