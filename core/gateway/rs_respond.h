/* core/gateway/rs_respond.h — the fixed-answer action: respond (a status,
 * headers and body from the config, or a Lua respond handler). */
#ifndef RS_RESPOND_H
#define RS_RESPOND_H

#include "rs_conn.h"
#include "rs_router.h"

/* The `respond` action: the route's fixed answer, or its Lua respond
 * handler (which may answer later). Loop thread. */
void rs_respond_request(rs_req_t *req, const rs_route_t *route);

#endif
