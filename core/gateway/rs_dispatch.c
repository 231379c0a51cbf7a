/* core/gateway/rs_dispatch.c — see rs_dispatch.h. */
#include "rs_dispatch.h"

#include "rs_action.h"
#include "rs_errpage.h"
#include "rs_page.h"
#include "rs_proxy.h"
#include "rs_render.h"
#include "rs_respond.h"
#include "rs_router.h"
#include "rs_static.h"

static const char rs__html[] = "Content-Type: text/html\r\n";

static void rs__respond_error(rs_req_t *req, int status) {
  if (rs_errpage_respond(req, status)) return;   /* error_page = {...} */
  rs_str_t page = rs_http_error_page(status);
  rs_req_respond_static(req, status, rs__html, page.p, page.len);
}

/* The proxy action: GET/HEAD of a route with a ttl through the page cache
 * (rs_page.h), everything else streamed (rs_proxy.h). */
static void rs__proxy(rs_req_t *req, const rs_route_t *route) {
  if (rs_page_proxy_cached(req, route)) return;
  rs_proxy_request(req, route);
}

/* The actions, by rs_action_t (rs_router.h; the interface: rs_action.h). */
static const rs_action_handler_t rs__actions[] = {
  [RS_ACTION_RESPOND] = { "respond", rs_respond_request, false },
  [RS_ACTION_RENDER] = { "render", rs_render_request, false },
  [RS_ACTION_STATIC] = { "static", rs_static_request, false },
  [RS_ACTION_REDIRECT] = { "redirect", rs_redirect_request, false },
  [RS_ACTION_PROXY] = { "proxy", rs__proxy, true },
};

static const rs_action_handler_t *rs__action(const rs_route_t *route) {
  size_t k = (size_t)route->action;
  return k < RS_ARRAY_SIZE(rs__actions) && rs__actions[k].on_request != NULL ? &rs__actions[k] : NULL;
}

/* The request is freed: drop its generation (rs__route). */
static void rs__dispatch_free(rs_req_t *req) { rs_loop_gen_unref(rs_req_gen(req)); }

/* Match req's route, once (at its head when a body follows, else at
 * dispatch): the request then holds the loop's current generation until it
 * is freed, so its route, Lua state and pool stay valid across a reload
 * (rs_server.h). The listener that accepted it picks the routes. Returns the
 * route, NULL when none matched. */
static const rs_route_t *rs__route(rs_req_t *req) {
  if (rs_req_gen(req) != NULL) return req->ctx[RS_REQ_CTX_ROUTE];
  rs_loop_gen_t *lg = req->loop->gen;
  req->ctx[RS_REQ_CTX_GEN] = lg;
  req->on_free = rs__dispatch_free;
  rs_loop_gen_ref(lg);
  size_t np = RS_ROUTE_MAX_PARAMS;
  const rs_route_t *route = rs_router_match(lg->routers[req->server], req->method_bit, req->host.p,
                                            req->host.len, req->path.p, req->path.len, req->_params, &np);
  req->params = req->_params;
  req->nparams = route != NULL ? np : 0;
  req->ctx[RS_REQ_CTX_ROUTE] = (void *)route;
  return route;
}

void rs_dispatch_head(rs_req_t *req) {
  if (req->loop->gen == NULL) return;
  const rs_route_t *route = rs__route(req);
  const rs_action_handler_t *a = route != NULL ? rs__action(route) : NULL;
  req->stream_body = a != NULL && a->streams_body;
}

void rs_dispatch(rs_req_t *req) {
  const rs_route_t *route = rs__route(req);
  if (route == NULL) {
    rs__respond_error(req, 404);
    return;
  }
  const rs_action_handler_t *a = rs__action(route);
  if (a != NULL) {
    a->on_request(req, route);
    return;
  }
  rs__respond_error(req, 500);
}
