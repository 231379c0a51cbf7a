/* lua/rs_llimit.h — a route's limit_req and limit_conn options (nginx's),
 * read at load into route->limit; core/gateway/rs_ratelimit.h applies them.
 *
 *   ssr.proxy("/api/", { upstream = "api",
 *     limit_req = { rate = "10r/s", burst = 20, key = "$remote_addr", status = 429 },
 *     limit_conn = { max = 10, key = "$http_x_api_key", status = 503 } })
 *
 * Checked before anything is allocated (lua/rs_lutil.h's rule):
 * rs_llimit_check validates, rs_llimit_build fills the route. */
#ifndef RS_LLIMIT_H
#define RS_LLIMIT_H

#include <lua.h>

#include "rs_router.h"

typedef struct {
  bool req, conn;                /* given */
  uint64_t rate;                 /* thousandths of a request a minute */
  uint32_t burst;
  int req_status, conn_status;
  uint32_t conn_max;
  char rate_text[24];
  int req_kind, conn_kind;       /* RS_LIMIT_KEY_* */
  const char *req_header, *conn_header; /* "$http_NAME"'s NAME (borrowed from the table) */
  size_t req_hlen, conn_hlen;
} rs_llimit_t;

/* Check limit_req / limit_conn in the options table at opts (absolute).
 * Raises "FILE:LINE: fn: reason". Stack unchanged; allocates nothing. */
void rs_llimit_check(lua_State *L, int opts, const char *fn, rs_llimit_t *l);

/* Fill r->limit (r's where, methods, host and path already set: they make
 * its zone). Raises nothing. */
void rs_llimit_build(const rs_llimit_t *l, rs_route_t *r);

#endif
