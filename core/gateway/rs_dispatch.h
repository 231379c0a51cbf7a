/* core/gateway/rs_dispatch.h — from a parsed request to the action that answers
 * it: match the route table, run the route's action. The handler of every
 * worker loop. The routing issue adds actions here (render, proxy, static,
 * redirect, Lua hooks). */
#ifndef RS_DISPATCH_H
#define RS_DISPATCH_H

#include "rs_conn.h"

/* rs_handler_fn for worker loops. Loop thread. */
void rs_dispatch(rs_req_t *req);

/* Does req (headers complete, a body to come) go to a route that takes its
 * body as it arrives (a proxy route)? rs_conn then dispatches it before
 * the body. Loop thread. */
bool rs_dispatch_streams_body(const rs_req_t *req);

#endif
