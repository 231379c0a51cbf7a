/* core/gateway/rs_action.h — a route's action as the dispatcher sees it
 * (h2o's h2o_handler_t): a name, the function that answers a request
 * matched to a route of that action, and whether it takes the request body
 * as it arrives. rs_dispatch.c holds one table of them, indexed by
 * rs_action_t (core/conf/rs_router.h); each action lives in its own
 * file (rs_respond.c, rs_render.c, rs_static.c, rs_proxy.c).
 *
 * Adding an action: its file with an on_request, one entry in that table,
 * its kind and options in rs_router.h and its keys in lua/rs_lroute.c (the
 * router holding a pointer to the action and its own config instead is the
 * next cut: ARCHITECTURE.md (c)). */
#ifndef RS_ACTION_H
#define RS_ACTION_H

#include "rs_conn.h"
#include "rs_router.h"

typedef struct {
  const char *name;              /* as in the config: "respond", "proxy"... */
  /* Answer req, matched to route (of this action), now or later on the
   * same loop with rs_req_respond or a stream. Loop thread. */
  void (*on_request)(rs_req_t *req, const rs_route_t *route);
  /* The request is dispatched when its headers are complete and its body
   * comes to the action as it arrives (req->stream_body), instead of whole
   * after limits.body. */
  bool streams_body;
} rs_action_handler_t;

#endif
