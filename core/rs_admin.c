/* core/rs_admin.c — see rs_admin.h. */
#include "rs_admin.h"

#include "rs_metrics.h"

#include <stdlib.h>
#include <string.h>

static const char rs__text[] = "Content-Type: text/plain; charset=utf-8\r\nCache-Control: no-store\r\n";
static const char rs__prom[] =
    "Content-Type: text/plain; version=0.0.4; charset=utf-8\r\nCache-Control: no-store\r\n";

static bool rs__path_is(const rs_req_t *req, const char *path) {
  size_t n = strlen(path);
  return req->path.len == n && memcmp(req->path.p, path, n) == 0;
}

static void rs__free_buf(void *p) { free(p); }

void rs_admin_handle(rs_req_t *req) {
  bool get = req->method_bit == RS_M_GET || req->method_bit == RS_M_HEAD;
  if (rs__path_is(req, "/health")) {
    if (!get) goto not_allowed;
    rs_req_respond_static(req, 200, rs__text, "ok\n", 3);
    return;
  }
  if (rs__path_is(req, "/metrics")) {
    if (!get) goto not_allowed;
    rs_buf_t out = { 0 };
    rs_metrics_render(&out);
    rs_resp_t resp = { .status = 200, .headers = rs__prom, .headers_len = sizeof(rs__prom) - 1,
                       .body = out.p ? out.p : "", .body_len = out.len,
                       .release = rs__free_buf, .release_ud = out.p };
    rs_req_respond(req, &resp);
    return;
  }
  rs_str_t page = rs_http_error_page(404);
  rs_req_respond_static(req, 404, "Content-Type: text/html\r\n", page.p, page.len);
  return;
not_allowed:;
  rs_str_t p405 = rs_http_error_page(405);
  rs_req_respond_static(req, 405, "Content-Type: text/html\r\nAllow: GET, HEAD\r\n", p405.p, p405.len);
}
