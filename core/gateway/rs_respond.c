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

void rs_redirect_request(rs_req_t *req, const rs_route_t *route) {
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
}
