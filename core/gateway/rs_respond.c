/* core/gateway/rs_respond.c — see rs_respond.h. */
#include "rs_respond.h"

#include "rs_lhooks.h"

#include <stdlib.h>

void rs_respond_request(rs_req_t *req, const rs_route_t *route) {
  if (route->hooks.handler) {    /* respond = function(req) ... end (may wait) */
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
}
