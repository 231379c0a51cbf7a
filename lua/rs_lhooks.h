/* lua/rs_lhooks.h — Lua hooks on the request path, one Lua state per loop
 * thread (lua-nginx-module's model).
 *
 * Each loop thread runs the config file again in a state of its own; the
 * routes it declares are the main state's routes, in the same order, so a
 * hook is found by route->_order. Only routes that declare a hook ever
 * enter Lua. A hook runs in protected mode with a traceback: an error is
 * logged (route, hook, traceback) and answered 500, and the loop goes on.
 *
 * The request object a hook receives:
 *   req.method, req.host, req.path, req.url, req.query (decoded; a repeated
 *   name gives a list), req.params, req.headers (lower-case names),
 *   req.cookie (parsed), req.client ("ip:port"), req.id, req.ctx (a table
 *   for the request's hooks to share).
 *
 * Loop thread only; each function names its hook in messages. */
#ifndef RS_LHOOKS_H
#define RS_LHOOKS_H

#include "rs_conn.h"
#include "rs_router.h"

typedef struct rs_lhooks_s rs_lhooks_t;

/* Run the config file again in a new state for one loop thread. Returns
 * NULL with err set ("FILE:LINE: reason", or a mismatch with the routes the
 * main state declared). */
rs_lhooks_t *rs_lhooks_create(const rs_config_t *cfg, char *err, size_t errlen);
void rs_lhooks_destroy(rs_lhooks_t *h);

/* The hooks of one request share one request object: begin builds it
 * (lazily, at the first hook), end releases it. */
typedef struct {
  rs_lhooks_t *h;
  rs_req_t *req;
  const rs_route_t *route;
  int ref;                       /* registry ref of the request table */
} rs_lhooks_call_t;

void rs_lhooks_begin(rs_lhooks_call_t *c, rs_lhooks_t *h, rs_req_t *req, const rs_route_t *route);
void rs_lhooks_end(rs_lhooks_call_t *c);

/* respond = function(req) → status, body[, headers] or { status, body,
 * headers }. Fills *resp with malloc'd headers/body and a release that
 * frees them. Returns 0, or -1 (logged) when the hook failed or returned
 * a wrong type. */
int rs_lhooks_respond(rs_lhooks_call_t *c, rs_resp_t *resp);

/* key = function(req) → string: the cache key. Returns 0 with *key
 * malloc'd, or -1 (logged). */
int rs_lhooks_key(rs_lhooks_call_t *c, char **key, size_t *len);

/* bypass = function(req) → truthy to skip the cache. Returns 0 with
 * *bypass set, or -1 (logged). */
int rs_lhooks_bypass(rs_lhooks_call_t *c, bool *bypass);

/* props = function(req) → table (or nil, err): the bundle's props, as JSON.
 * Returns 0 with *json malloc'd (NULL when the hook returned nil with no
 * error), or -1 (logged). */
int rs_lhooks_props(rs_lhooks_call_t *c, char **json, size_t *len);

#endif
