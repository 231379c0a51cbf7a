/* core/gateway/rs_action.h — a route's action as the dispatcher sees it
 * (h2o's h2o_handler_t, nginx's module with its directives): a name, the
 * function that answers a request matched to a route of that action,
 * whether it takes the request body as it arrives, and — for an action
 * that reads its own options — how it checks, builds, frees and prints
 * them. A route holds a pointer to its action's handler and that action's
 * own config (route->handler, route->conf: core/conf/rs_router.h).
 *
 * rs_dispatch.c holds the one table of actions (RS_ACTIONS) and registers
 * it with the route loader (lua/rs_lroute.h) at start. Adding an action is
 * one new file of core/gateway/ that defines its rs_action_handler_t
 * (rs_redirect.c is the example) and one entry in that table: README
 * "Source layout" has the steps. */
#ifndef RS_ACTION_H
#define RS_ACTION_H

#include <lua.h>
#include <stdio.h>

#include "rs_conn.h"
#include "rs_router.h"

typedef struct rs_action_handler_s {
  const char *name;              /* its key in ssr.route's options: "redirect"... */
  /* Answer req, matched to route (of this action), now or later on the
   * same loop with rs_req_respond or a stream. Loop thread. */
  void (*on_request)(rs_req_t *req, const rs_route_t *route);
  /* The request is dispatched when its headers are complete and its body
   * comes to the action as it arrives (req->stream_body), instead of whole
   * after limits.body. */
  bool streams_body;
  /* Its options (lua/rs_lroute.h: rs_laction_t says what each does); NULL
   * for the built-in actions, whose options the loader reads into
   * rs_route_t. Main thread (check, build, dump) or any (free). */
  void (*check)(lua_State *L, int idx, const char *fn);
  void *(*build)(lua_State *L, int idx);
  void (*free)(void *conf);
  void (*dump)(FILE *out, const void *conf);
} rs_action_handler_t;

#endif
