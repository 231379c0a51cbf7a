/* core/gateway/rs_respond.h — the fixed-answer actions: respond (a status,
 * headers and body from the config, or a Lua respond handler) and redirect
 * (Location: to, with the query when keep_query). */
#ifndef RS_RESPOND_H
#define RS_RESPOND_H

#include "rs_conn.h"
#include "rs_router.h"

/* The `respond` action: the route's fixed answer, or its Lua respond
 * handler (which may answer later). Loop thread. */
void rs_respond_request(rs_req_t *req, const rs_route_t *route);

/* The `redirect` action: Location: to[?query] and a tiny HTML body, as
 * nginx's return 301. Loop thread. */
void rs_redirect_request(rs_req_t *req, const rs_route_t *route);

#endif
