/* core/server/rs_admin.c — see rs_admin.h. */
#include "rs_admin.h"
#include "rs_server_int.h"

#include "rs_cache.h"
#include "rs_cidr.h"
#include "rs_log.h"
#include "rs_metrics.h"
#include "rs_page.h"
#include "rs_purge.h"
#include "rs_realip.h"

#include <stdio.h>

#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char rs__text[] = "Content-Type: text/plain; charset=utf-8\r\nCache-Control: no-store\r\n";
static const char rs__prom[] =
    "Content-Type: text/plain; version=0.0.4; charset=utf-8\r\nCache-Control: no-store\r\n";

static bool rs__path_is(const rs_req_t *req, const char *path) {
  size_t n = strlen(path);
  return req->path.len == n && memcmp(req->path.p, path, n) == 0;
}

static void rs__free_buf(void *p) { free(p); }

static void rs__json_extra(rs_req_t *req, int status, rs_buf_t *b, const char *extra) {
  static const char h[] = "Content-Type: application/json\r\nCache-Control: no-store\r\n";
  rs_resp_t resp = { .status = status, .headers = h, .headers_len = sizeof(h) - 1,
                     .extra = extra, .extra_len = extra ? strlen(extra) : 0,
                     .body = b->p ? b->p : "", .body_len = b->len,
                     .release = rs__free_buf, .release_ud = b->p };
  rs_req_respond(req, &resp);
}

static void rs__json(rs_req_t *req, int status, rs_buf_t *b) { rs__json_extra(req, status, b, NULL); }

/* A purge's answer, once the fleet (cache.shared) has taken its purges or
 * not: 200 {"purged": N}, or 503 with Retry-After when some did not reach
 * the fleet (they were applied here only: a CMS retries). */
typedef struct {
  rs_purge_wait_t w;
  rs_req_t *req;
  size_t n;
  bool soft;
} rs__purge_ans_t;

static void rs__purge_answer(rs_purge_wait_t *w) {
  rs__purge_ans_t *a = w->data;
  rs_req_t *req = a->req;
  rs_buf_t b = { 0 };
  if (w->failed > 0) {
    uint32_t ms = req->loop->cfg->cache.shared.fail_timeout_ms;
    char extra[48];
    snprintf(extra, sizeof(extra), "Retry-After: %u\r\n", ms > 1000 ? (ms + 999) / 1000 : 1);
    rs_log_warn("admin: purge: %u of %u purge(s) did not reach the fleet (the shared cache is down or "
                "slow): applied on this instance only, answered 503", w->failed, w->told);
    rs_buf_printf(&b, "{\"purged\": %zu%s, \"fleet\": false, \"error\": \"the shared cache did not take "
                  "the purge: applied on this instance only; retry\"}\n", a->n, a->soft ? ", \"stale\": true" : "");
    rs__json_extra(req, 503, &b, extra);
  } else {
    rs_buf_printf(&b, "{\"purged\": %zu%s}\n", a->n, a->soft ? ", \"stale\": true" : "");
    rs__json(req, 200, &b);
  }
  free(a);
}

static void rs__purge_forget(rs_purge_wait_t *w) { free(w->data); }

/* The purges are made: answer now, or once the fleet has answered. */
static void rs__purge_done(rs__purge_ans_t *a, size_t n, bool soft) {
  a->n = n;
  a->soft = soft;
  if (rs_purge_wait_end(&a->w, rs__purge_answer, a)) {
    a->w.data = a;
    rs__purge_answer(&a->w);
  }
}

/* PURGE /path?query (Host: site) drops the page of that URL, the way
 * Varnish and nginx's cache_purge do; POST /purge with key=, prefix=, tag=,
 * url= (each repeatable; url=/path with host=, or url=http://host/path)
 * and all=1, in the query or as a form body, drops by key, by key prefix,
 * by tag and by URL; with stale=1 (a soft purge) the pages stay, stale, and
 * are served within grace while one background render replaces each. Both
 * answer {"purged": N} (with "stale": true after a soft purge), or, with a
 * shared tier that did not take the purge, 503 (rs__purge_answer). */
static void rs__purge(rs_req_t *req, bool by_url) {
  rs_cache_t *cache = req->loop->cache;
  rs_buf_t b = { 0 };
  if (cache == NULL) {
    rs_buf_printf(&b, "{\"error\": \"the page cache is off\"}\n");
    rs__json(req, 404, &b);
    return;
  }
  size_t n = 0;
  rs__purge_ans_t *ans = rs_xmalloc(sizeof(*ans));
  ans->req = req;
  rs_purge_wait_begin(&ans->w);
  if (by_url) {
    n = rs_purge_url(cache, req->host.p, req->host.len, req->path.p, req->path.len,
                            req->query.p, req->query.len);
    rs_log_info("admin: PURGE %.*s%s%.*s (host %.*s): %zu page(s)", (int)RS_MIN(req->path.len, 512),
                req->path.p, req->query.len ? "?" : "", (int)RS_MIN(req->query.len, 512), req->query.p,
                (int)RS_MIN(req->host.len, 256), req->host.p, n);
  } else {
    /* Parameters from the query and from a form body, alike. Checked all
     * before any is applied: an empty selector (prefix=, key=, tag=, url=),
     * an all= other than 1 or a url= without its host is a 400, never
     * "purge everything". host= goes with url=/path. */
    const char *srcs[2] = { req->query.p, req->body };
    size_t lens[2] = { req->query.len, req->body_len };
    const char *bad = NULL;
    int nsel = 0;
    char *host = NULL;           /* host= (decoded), for url=/path */
    size_t host_len = 0;
    int soft = -1;               /* stale=1: a soft purge (stale=0 or none: a purge) */
    for (int pass = -1; pass < 2 && bad == NULL; pass++) {
      for (int s = 0; s < 2 && bad == NULL; s++) {
        size_t pos = 0;
        rs_query_param_t qp;
        while (bad == NULL && rs_query_next(srcs[s], lens[s], &pos, &qp)) {
          bool is_stale = qp.name.len == 5 && memcmp(qp.name.p, "stale", 5) == 0;
          bool is_host = is_stale || (qp.name.len == 4 && memcmp(qp.name.p, "host", 4) == 0);
          int by = is_host ? -1 : rs_purge_by(qp.name.p, qp.name.len);
          if (pass == -1 ? !is_host : by < 0) continue;   /* pass -1 reads host= and stale= only; others skip them */
          if (is_stale) {
            bool one = qp.value.len == 1 && qp.value.p[0] == '1', zero = qp.value.len == 1 && qp.value.p[0] == '0';
            if (soft >= 0) bad = "stale= given twice";
            else if (!one && !zero) bad = "stale= must be stale=1 (soft purge) or stale=0";
            else soft = one;
            continue;
          }
          char *v = rs_xmalloc(qp.value.len + 1);
          size_t vlen = rs_url_decode(v, qp.value.p, qp.value.len, true);
          if (is_host) {
            if (host != NULL) bad = "host= given twice";
            else host = v, host_len = vlen, v = NULL;
          } else if (by == RS_PURGE_ALL && !(vlen == 1 && v[0] == '1')) {
            bad = "all= must be all=1";
          } else if (by != RS_PURGE_ALL && vlen == 0) {
            bad = by == RS_PURGE_KEY ? "empty key=: give the key"
                  : by == RS_PURGE_PREFIX ? "empty prefix=: it would select every page; purge everything with all=1"
                  : by == RS_PURGE_URL ? "empty url=: give /path?query and host=, or http://host/path"
                  : "empty tag=: give the tag";
          } else if (by == RS_PURGE_URL) {
            const char *h = host, *path, *why = NULL;
            size_t hl = host_len, pl;
            if (rs_purge_url_split(v, vlen, &h, &hl, &path, &pl, &why) != 0) bad = why;
            else if (pass == 0) nsel++;
            else n += rs_purge_ex(cache, RS_PURGE_URL, path, pl, h, hl, soft == 1);
          } else if (pass == 0) {
            nsel++;
          } else {
            n += rs_purge_ex(cache, (rs_purge_by_t)by, v, vlen, NULL, 0, soft == 1);
          }
          free(v);
        }
      }
      if (pass == 0 && bad == NULL && nsel == 0) bad = "give key=, prefix=, tag=, url= or all=1";
    }
    free(host);
    if (bad != NULL) {
      /* nothing was purged (all is checked first); were any on its way,
       * its answer frees it */
      if (rs_purge_wait_end(&ans->w, rs__purge_forget, ans)) free(ans);
      rs_log_info("admin: purge refused (%s): %.*s", bad, (int)RS_MIN(req->query.len + req->body_len, 512),
                  req->query.len ? req->query.p : req->body ? req->body : "");
      rs_buf_printf(&b, "{\"error\": \"%s\"}\n", bad);
      rs__json(req, 400, &b);
      return;
    }
    rs_log_info("admin: purge %.*s: %zu page(s)%s", (int)RS_MIN(req->query.len + req->body_len, 512),
                req->query.len ? req->query.p : req->body, n, soft == 1 ? " marked stale" : "");
    rs__purge_done(ans, n, soft == 1);
    return;
  }
  rs__purge_done(ans, n, false);
}

/* ------------------------------------------------------------------ access */

/* a == b in a time that depends only on the length of b (the secret): no
 * early exit on the first differing byte. */
bool rs_admin_token_eq(const char *a, size_t an, const char *b, size_t bn) {
  volatile unsigned char d = (unsigned char)(an != bn);
  for (size_t i = 0; i < bn; i++) d |= (unsigned char)((i < an ? a[i] : 0) ^ b[i]);
  return d == 0;
}

/* Authorization: Bearer <token> (the scheme in any case, RFC 6750). */
static bool rs__bearer_ok(const rs_req_t *req, const char *token) {
  const rs_str_t *h = rs_req_header(req, "authorization");
  if (h == NULL || h->len < 7 || strncasecmp(h->p, "bearer ", 7) != 0) return false;
  const char *v = h->p + 7, *end = h->p + h->len;
  while (v < end && *v == ' ') v++;
  while (end > v && end[-1] == ' ') end--;
  return rs_admin_token_eq(v, (size_t)(end - v), token, strlen(token));
}

/* Whoever may not use what they asked gets 403 (an address outside
 * admin.allow) or 401 (a purge without the right token), and a log line.
 * Returns true when it answered. /metrics and /health listed in admin.open
 * are for anyone; reads need an allowed address; purges need an allowed
 * address and, when admin.token is set, the token. */
static bool rs__refused(rs_req_t *req, bool get) {
  const rs_config_t *cfg = req->loop->cfg;
  const typeof(cfg->admin_auth) *a = &cfg->admin_auth;
  if (get && ((a->open_metrics && rs__path_is(req, "/metrics")) || (a->open_health && rs__path_is(req, "/health"))))
    return false;
  rs_realip_t who;
  rs_realip_resolve(req, &who);  /* .peer: the TCP peer, never a header's claim */
  if (a->nallow > 0) {
    rs_ip_t ip;
    if (rs_ip_parse(who.peer, strlen(who.peer), &ip) != 0 || !rs_cidr_any(a->allow, a->nallow, &ip)) {
      rs_log_warn("admin: 403 for %s (not in admin.allow): %.*s %.*s", who.peer, (int)req->method.len,
                  req->method.p, (int)RS_MIN(req->path.len, 256), req->path.p);
      rs_req_respond_error(req, 403, "Cache-Control: no-store\r\n");
      return true;
    }
  }
  if (!get && a->token != NULL && !rs__bearer_ok(req, a->token)) {
    rs_log_warn("admin: 401 for %s (%s token): %.*s %.*s", who.peer,
                rs_req_header(req, "authorization") ? "a wrong" : "no", (int)req->method.len, req->method.p,
                (int)RS_MIN(req->path.len, 256), req->path.p);
    rs_req_respond_error(req, 401, "Cache-Control: no-store\r\nWWW-Authenticate: Bearer realm=\"rustyssr admin\"\r\n");
    return true;
  }
  return false;
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
  bool get = req->method_bit == RS_M_GET || req->method_bit == RS_M_HEAD;
  if (rs__refused(req, get)) return;
  if (req->method_bit == RS_M_PURGE) {
    rs__purge(req, true);
    return;
  }
  if (rs__path_is(req, "/purge")) {
    if (req->method_bit != RS_M_POST) {
      rs_req_respond_error(req, 405, "Allow: POST, PURGE\r\n");
      return;
    }
    rs__purge(req, false);
    return;
  }
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
  rs_req_respond_error(req, 404, NULL);
  return;
not_allowed:;
  rs_req_respond_error(req, 405, "Allow: GET, HEAD\r\n");
}
