/* core/rs_admin.c — see rs_admin.h. */
#include "rs_admin.h"

#include "rs_cache.h"
#include "rs_log.h"
#include "rs_metrics.h"
#include "rs_page.h"
#include "rs_policy.h"
#include "rs_render.h"

#include <stdio.h>

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

static void rs__json(rs_req_t *req, int status, rs_buf_t *b) {
  static const char h[] = "Content-Type: application/json\r\nCache-Control: no-store\r\n";
  rs_resp_t resp = { .status = status, .headers = h, .headers_len = sizeof(h) - 1,
                     .body = b->p ? b->p : "", .body_len = b->len,
                     .release = rs__free_buf, .release_ud = b->p };
  rs_req_respond(req, &resp);
}

/* PURGE /path?query (Host: site) drops the page of that URL, the way
 * Varnish and nginx's cache_purge do; POST /purge with key=, prefix=, tag=
 * (each repeatable) and all=1, in the query or as a form body, drops by
 * key, by key prefix and by tag. Both answer {"purged": N}. */
static void rs__purge(rs_req_t *req, bool by_url) {
  rs_cache_t *cache = req->loop->cache;
  rs_buf_t b = { 0 };
  if (cache == NULL) {
    rs_buf_printf(&b, "{\"error\": \"the page cache is off\"}\n");
    rs__json(req, 404, &b);
    return;
  }
  size_t n = 0;
  if (by_url) {
    n = rs_policy_purge_url(cache, req->host.p, req->host.len, req->path.p, req->path.len,
                            req->query.p, req->query.len);
    rs_log_info("admin: PURGE %.*s%s%.*s (host %.*s): %zu page(s)", (int)RS_MIN(req->path.len, 512),
                req->path.p, req->query.len ? "?" : "", (int)RS_MIN(req->query.len, 512), req->query.p,
                (int)RS_MIN(req->host.len, 256), req->host.p, n);
  } else {
    /* Parameters from the query and from a form body, alike. */
    const char *srcs[2] = { req->query.p, req->body };
    size_t lens[2] = { req->query.len, req->body_len };
    bool any = false;
    for (int s = 0; s < 2; s++) {
      const char *q = srcs[s], *end = srcs[s] + lens[s];
      while (q != NULL && q < end) {
        const char *amp = memchr(q, '&', (size_t)(end - q));
        const char *stop = amp ? amp : end;
        const char *eq = memchr(q, '=', (size_t)(stop - q));
        if (eq != NULL) {
          size_t vlen = (size_t)(stop - eq - 1);
          char *v = rs_xmalloc(vlen + 1);
          vlen = rs_url_decode(v, eq + 1, vlen, true);
          int by = rs_policy_purge_by(q, (size_t)(eq - q));
          if (by == RS_PURGE_ALL && !(vlen == 1 && v[0] == '1')) by = -1;
          if (by >= 0 && by != RS_PURGE_URL) {  /* a URL purge is PURGE /path */
            n += rs_policy_purge(cache, (rs_purge_by_t)by, v, vlen, NULL, 0);
            any = true;
          }
          free(v);
        }
        q = stop + 1;
      }
    }
    if (!any) {
      rs_buf_printf(&b, "{\"error\": \"give key=, prefix=, tag= or all=1\"}\n");
      rs__json(req, 400, &b);
      return;
    }
    rs_log_info("admin: purge %.*s: %zu page(s)", (int)RS_MIN(req->query.len + req->body_len, 512),
                req->query.len ? req->query.p : req->body, n);
  }
  rs_buf_printf(&b, "{\"purged\": %zu}\n", n);
  rs__json(req, 200, &b);
}

/* /health: 200 "ok" while every loop thread turns; 503 naming each loop
 * whose last turn is older than RS_LOOP_STALL_MS (a hook that never
 * returns, a blocking call): a load balancer then takes the process out. */
static void rs__health(rs_req_t *req) {
  rs_server_t *srv = req->loop->server;
  uint64_t now = rs_now_ms();
  rs_buf_t b = { 0 };
  for (int i = 0; srv != NULL && i < srv->nloops; i++) {
    const rs_loop_t *l = srv->loops[i];
    if (__atomic_load_n(&l->closed, __ATOMIC_ACQUIRE)) continue;   /* drained */
    uint64_t hb = __atomic_load_n(&l->heartbeat_ms, __ATOMIC_RELAXED);
    if (hb != 0 && now > hb && now - hb > RS_LOOP_STALL_MS)
      rs_buf_printf(&b, "loop %d: stalled, no turn for %llu ms\n", l->index, (unsigned long long)(now - hb));
  }
  if (b.len == 0) {
    rs_req_respond_static(req, 200, rs__text, "ok\n", 3);
    return;
  }
  rs_resp_t resp = { .status = 503, .headers = rs__text, .headers_len = sizeof(rs__text) - 1,
                     .body = b.p, .body_len = b.len, .release = rs__free_buf, .release_ud = b.p };
  rs_req_respond(req, &resp);
}

void rs_admin_handle(rs_req_t *req) {
  if (req->method_bit == RS_M_PURGE) {
    rs__purge(req, true);
    return;
  }
  if (rs__path_is(req, "/purge")) {
    if (req->method_bit != RS_M_POST) {
      rs_str_t p405 = rs_http_error_page(405);
      rs_req_respond_static(req, 405, "Content-Type: text/html\r\nAllow: POST, PURGE\r\n", p405.p,
                            p405.len);
      return;
    }
    rs__purge(req, false);
    return;
  }
  bool get = req->method_bit == RS_M_GET || req->method_bit == RS_M_HEAD;
  if (rs__path_is(req, "/health")) {
    if (!get) goto not_allowed;
    rs__health(req);
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
