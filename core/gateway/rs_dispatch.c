/* core/gateway/rs_dispatch.c — see rs_dispatch.h. */
#include "rs_dispatch.h"

#include "rs_errpage.h"

#include "rs_action.h"
#include "rs_config.h"
#include "rs_lroute.h"
#include "rs_page.h"
#include "rs_proxy.h"
#include "rs_ratelimit.h"
#include "rs_reqstats.h"
#include "rs_respond.h"
#include "rs_router.h"
#include "rs_static.h"

/* The render action: through the page cache when the cache is on and the
 * route caches (rs_page.h), else rendered after the route's props hook,
 * which may wait. */
static void rs__render(rs_req_t *req, const rs_route_t *route) {
  if (req->loop->cache != NULL && route->render.cache) rs_page_request(req, route);
  else rs_page_uncached(req, route, NULL);
}

/* The proxy action: GET/HEAD of a route with a ttl through the page cache
 * (rs_page.h), everything else streamed (rs_proxy.h). */
static void rs__proxy(rs_req_t *req, const rs_route_t *route) {
  if (rs_page_proxy_cached(req, route)) return;
  rs_proxy_request(req, route);
}

static const rs_action_handler_t rs__respond_action = { .name = "respond", .on_request = rs_respond_request };
static const rs_action_handler_t rs__render_action = { .name = "render", .on_request = rs__render };
static const rs_action_handler_t rs__static_action = { .name = "static", .on_request = rs_static_request };
static const rs_action_handler_t rs__proxy_action = { .name = "proxy", .on_request = rs__proxy,
                                                      .streams_body = true };

/* The actions: one entry each (the interface: rs_action.h). An action in a
 * file of its own defines its handler there and is declared here by its
 * entry (README "Source layout": adding an action). */
#define RS_ACTIONS(X)      \
  X(rs__respond_action)    \
  X(rs__render_action)     \
  X(rs__static_action)     \
  X(rs_redirect_action)    \
  X(rs__proxy_action)

#define RS__DECLARE(a) extern const rs_action_handler_t a;
RS_ACTIONS(RS__DECLARE)
#undef RS__DECLARE

void rs_dispatch_init(void) {
  static const rs_action_handler_t *const actions[] = {
#define RS__ENTRY(a) &a,
    RS_ACTIONS(RS__ENTRY)
#undef RS__ENTRY
  };
  for (size_t i = 0; i < RS_ARRAY_SIZE(actions); i++) {
    const rs_action_handler_t *a = actions[i];
    rs_lroute_action_add(&(rs_laction_t){ .name = a->name, .handler = a, .check = a->check,
                                          .build = a->build, .free = a->free, .dump = a->dump });
  }
}

/* The request is freed: count it (rustyssr_request_duration_seconds),
 * give back its limit_conn slot, drop its generation (rs__route). One
 * never answered (status 0) never reached its handler: freed while its
 * body came (the client left, an HTTP/2 stream reset or refused), it is
 * no request in rustyssr_requests_total either. A handler answers every
 * request it had, its client gone or not (499 then, rs_conn.h). */
static void rs__dispatch_free(rs_req_t *req) {
  const rs_route_match_t *m = rs_req_match(req);
  int status = rs_req_status(req);
  if (status != 0) rs_reqstats_end(req, m != NULL ? m->route : NULL, status);
  rs_ratelimit_release(req);
  rs_loop_gen_unref(rs_req_gen(req));
}

/* Match req's route, once (at its head when a body follows, else at
 * dispatch): the request then holds the loop's current generation until it
 * is freed, so its route, Lua state and pool stay valid across a reload
 * (rs_server.h). The listener that accepted it picks the routes. Returns the
 * route, NULL when none matched. */
static const rs_route_t *rs__route(rs_req_t *req) {
  if (rs_req_gen(req) != NULL) return rs_req_match(req)->route;
  rs_loop_gen_t *lg = req->loop->gen;
  rs_reqstats_start(req);
  req->ctx[RS_REQ_CTX_GEN] = lg;
  req->on_free = rs__dispatch_free;
  rs_loop_gen_ref(lg);
  /* The match, :params included, lives in the request's pool: readers
   * (rs_render.c, lua/) find it with rs_req_match. */
  rs_route_match_t *m = rs_req_alloc(req, sizeof(*m));
  size_t np = RS_ROUTE_MAX_PARAMS;
  m->route = rs_router_match(lg->routers[req->server], req->method_bit, req->host.p, req->host.len,
                             req->path.p, req->path.len, m->params, &np);
  m->nparams = m->route != NULL ? np : 0;
  req->ctx[RS_REQ_CTX_ROUTE] = m;
  if (m->route != NULL) {        /* $route for the access log: host and path as declared */
    const rs_route_t *r = m->route;
    char label[512];
    int n = snprintf(label, sizeof(label), "%s%s", r->host ? r->host : "", r->path);
    rs_req_log_set(req, RS_LOG_F_ROUTE, label, (size_t)RS_MIN(n, (int)sizeof(label) - 1));
  }
  /* Every answer goes through the compression filter (rs_compress.h), but
   * a stored page's (rs_page_respond_entry clears it) and those of a route
   * with compress = false. */
  req->compress = lg->cfg->compress.on && (m->route == NULL || !m->route->no_compress) ? &lg->cfg->compress
                                                                                     : NULL;
  return m->route;
}

void rs_dispatch_head(rs_req_t *req) {
  if (req->loop->gen == NULL) return;
  const rs_route_t *route = rs__route(req);
  const rs_action_handler_t *a = route != NULL ? route->handler : NULL;
  /* A limit's key hook may wait (ssr.fetch): the body is read whole
   * first then, none of it arriving before the action takes it. */
  req->stream_body = a != NULL && a->streams_body && !route->hooks.limit_req && !route->hooks.limit_conn;
}

/* Run route's action on req. */
static void rs__act(rs_req_t *req, const rs_route_t *route) {
  const rs_action_handler_t *a = route->handler;
  if (a != NULL) {
    a->on_request(req, route);
    return;
  }
  rs_errpage_answer(req, 500, NULL);
}

void rs_dispatch(rs_req_t *req) {
  const rs_route_t *route = rs__route(req);
  if (route == NULL) {
    rs_errpage_answer(req, 404, NULL);
    return;
  }
  /* limit_req / limit_conn first: refused (answered), or later (a key hook) */
  if (rs_ratelimit_admit(req, route, rs__act) != RS_RATELIMIT_PASS) return;
  rs__act(req, route);
}
