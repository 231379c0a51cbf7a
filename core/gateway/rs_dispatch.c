/* core/gateway/rs_dispatch.c — see rs_dispatch.h. */
#include "rs_dispatch.h"

#include "rs_lhooks.h"
#include "rs_page.h"
#include "rs_render.h"
#include "rs_router.h"

#include <stdlib.h>
#include "rs_proxy.h"
#include "rs_static.h"

static const char rs__html[] = "Content-Type: text/html\r\n";

static void rs__respond_error(rs_req_t *req, int status) {
  rs_str_t page = rs_http_error_page(status);
  rs_req_respond_static(req, status, rs__html, page.p, page.len);
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
  req->stream_body = route != NULL && route->action == RS_ACTION_PROXY;
}

void rs_dispatch(rs_req_t *req) {
  const rs_route_t *route = rs__route(req);
  if (route == NULL) {
    rs__respond_error(req, 404);
    return;
  }
  switch (route->action) {
    case RS_ACTION_RESPOND: {
      if (route->hooks.handler) {  /* respond = function(req) ... end (may wait) */
        rs_lhooks_respond_request(req, route);
        return;
      }
      /* The route's bytes live as long as the config: nothing to release. */
      rs_resp_t resp = { .status = route->respond.status,
                         .headers = route->respond.headers,
                         .headers_len = route->respond.headers_len,
                         .body = route->respond.body,
                         .body_len = route->respond.body_len };
      rs_req_respond(req, &resp);
      return;
    }
    case RS_ACTION_RENDER:
      rs_render_request(req, route);
      return;
    case RS_ACTION_REDIRECT: {
      /* Location: to[?query]; a tiny HTML body, as nginx's return 301. */
      rs_buf_t b = { 0 };
      bool q = route->redirect.keep_query && req->query.len > 0;
      rs_buf_printf(&b, "Location: %s%s%.*s\r\nContent-Type: text/html\r\n", route->redirect.to, q ? "?" : "",
                    q ? (int)req->query.len : 0, q ? req->query.p : "");
      size_t hlen = b.len;
      rs_str_t page = rs_http_error_page(route->redirect.status);
      rs_buf_append(&b, page.p, page.len);
      rs_resp_t resp = { .status = route->redirect.status, .headers = b.p, .headers_len = hlen,
                         .body = b.p + hlen, .body_len = b.len - hlen, .release = free, .release_ud = b.p };
      rs_req_respond(req, &resp);
      return;
    }
    case RS_ACTION_STATIC:
      rs_static_request(req, route);
      return;
    case RS_ACTION_PROXY:
      if (rs_page_proxy_cached(req, route)) return;   /* GET/HEAD of a route with a ttl */
      rs_proxy_request(req, route);
      return;
  }
  rs__respond_error(req, 500);
}
