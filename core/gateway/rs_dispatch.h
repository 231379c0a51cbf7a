/* core/gateway/rs_dispatch.h — from a parsed request to the action that answers
 * it: match the route table, run the route's action through its handler
 * (route->handler, rs_action.h). The handler of every worker loop. */
#ifndef RS_DISPATCH_H
#define RS_DISPATCH_H

#include "rs_conn.h"

/* Register the actions (rs_action.h) with the route loader
 * (lua/rs_lroute.h): before any configuration loads (main, the -t check,
 * tests that load routes). Main thread. */
void rs_dispatch_init(void);

/* rs_handler_fn for worker loops. Loop thread. */
void rs_dispatch(rs_req_t *req);

/* The loop's on_head: req's headers are complete and a body is to come.
 * Matches its route now (rs_dispatch then uses that match) and sets
 * req->stream_body when the route takes the body as it arrives (a proxy
 * route): rs_conn then dispatches it before the body. Loop thread. */
void rs_dispatch_head(rs_req_t *req);

#endif
