/* core/gateway/rs_page_proxy.c — the cached-proxy producer: a proxy route
 * through the page cache (rs_page.h: rs_page_proxy_cached). The flight's
 * producer is a fetch of the page from the route's upstream (a GET,
 * whatever the client sent: HEAD is answered from it), and its answer
 * becomes an entry, built here on the loop (variants included), stored
 * when rs_policy_storable says. */
#include "rs_page.h"
#include "rs_page_int.h"

#include "rs_log.h"
#include "rs_policy.h"
#include "rs_proxy.h"
#include "rs_render.h"
#include "rs_upstream.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* Response headers the cache never keeps: hop-by-hop ones (rs_http.h), and
 * those the gateway writes itself. */
static bool rs__proxy_drop(const rs_str_t *n) {
  if (rs_http_hop_by_hop(n->p, n->len)) return true;
  static const rs_str_t drop[] = {
    RS_STR("content-length"), RS_STR("date"), RS_STR("server"), RS_STR("age"), RS_STR("etag"), RS_STR("vary"),
    RS_STR("x-cache"),
  };
  for (size_t i = 0; i < RS_ARRAY_SIZE(drop); i++)
    if (rs_str_ieq(n->p, n->len, drop[i].p, drop[i].len)) return true;
  return false;
}

static void rs__proxy_fetched(void *ud, int err, const rs_fetch_result_t *res) {
  rs_page_flight_t *fl = ud;
  rs_loop_t *loop = fl->loop;
  rs_req_t *req = fl->req;
  const rs_config_t *cfg = fl->cfg;
  loop->pending_jobs--;
  rs_entry_t *e = NULL;
  int fail = 0;
  if (err != 0) {
    fail = err == -ETIMEDOUT ? 504 : 502;
    rs_log_warn("cached proxy: upstream %s failed for %.*s: %s", fl->route->proxy.upstream,
                (int)RS_MIN(fl->key_len, 512), fl->key, rs_fetch_strerror(err));
  } else {
    rs_buf_t hb = { 0 };
    bool encoded = false;
    for (size_t i = 0; i < res->nheaders; i++) {
      const rs_fetch_header_t *h = &res->headers[i];
      if (rs__proxy_drop(&h->name)) continue;
      if (rs_str_ieq(h->name.p, h->name.len, "content-encoding", 16)) {
        /* already encoded by the upstream: answered as it is, never stored
         * (the cache builds its own variants from identity bodies) */
        if (!rs_str_ieq(h->value.p, h->value.len, "identity", 8)) encoded = true;
        else continue;
      }
      rs_buf_printf(&hb, "%.*s: %.*s\r\n", (int)h->name.len, h->name.p, (int)h->value.len, h->value.p);
    }
    /* The route's Cache-Control for what leaves, unless the upstream gave one. */
    rs_buf_t hb2 = { 0 };
    if (rs_policy_page_headers(fl->route, hb.p ? hb.p : "", hb.len, &hb2)) {
      rs_buf_free(&hb);
      hb = hb2;
    }
    fl->storable = !encoded && rs_policy_storable(fl->route, res->status, hb.p, hb.len);
    uint64_t ttl = fl->route_ttl_ms >= 0 ? (uint64_t)fl->route_ttl_ms : cfg->cache.ttl_ms;
    uint64_t grace = fl->route_grace_ms >= 0 ? (uint64_t)fl->route_grace_ms : cfg->cache.grace_ms;
    if (ttl == 0) fl->storable = false;
    uint64_t refresh_after;
    ttl = rs_page__ttl(cfg, ttl, &refresh_after);
    const rs_route_t *r = fl->route;
    size_t tag_lens[64];
    size_t ntags = RS_MIN(r->cache.ntags, 64);
    for (size_t i = 0; i < ntags; i++) tag_lens[i] = strlen(r->cache.tags[i]);
    char *body = res->body_len ? rs_xmalloc(res->body_len) : NULL;
    if (body != NULL) memcpy(body, res->body, res->body_len);
    rs_entry_spec_t spec = {
      .key = fl->key, .key_len = fl->key_len, .hash = fl->hash,
      .status = res->status, .headers = hb.p ? hb.p : "", .headers_len = hb.len,
      .body = body ? body : "", .body_len = res->body_len, .body_owned = body,
      .tags = r->cache.tags, .tag_lens = tag_lens, .ntags = ntags,
      .ttl_ms = ttl, .grace_ms = grace, .refresh_after_ms = refresh_after, .epoch = fl->epoch,
      .generation = cfg->generation,
      .gzip_level = encoded ? 0 : cfg->cache.gzip_level,
      .brotli_quality = encoded ? -1 : cfg->cache.brotli_quality,
      .min_compress = cfg->cache.min_compress, .defer = fl->defer,
    };
    e = rs_entry_build(&spec);
    free(spec.body_owned);       /* NULL when the entry adopted it */
    rs_buf_free(&hb);
    if (e == NULL) fail = 502;
  }

  rs_page__flight_complete(fl, e, fail);
  if (req != NULL && err == 0) {  /* the access log's $upstream_status, $upstream_response_time */
    char v[32];
    uint64_t us = rs_now_us() - fl->start_us;
    int n = snprintf(v, sizeof(v), "%d", res->status);
    rs_req_log_set(req, RS_LOG_F_UPSTREAM_STATUS, v, (size_t)n);
    n = snprintf(v, sizeof(v), "%llu.%03llu", (unsigned long long)(us / 1000000), (unsigned long long)(us / 1000 % 1000));
    rs_req_log_set(req, RS_LOG_F_UPSTREAM_RESPONSE_TIME, v, (size_t)n);
  }
  if (req != NULL) {
    if (e != NULL) rs_page_respond_entry(req, e, "MISS", rs_page__release_entry, e);
    else rs_render_respond_error(req, fail);
  } else if (e == NULL) {
    RS_COUNTER_ADD(rs_page__loop(loop)->c.refresh_failed, 1);
  } else {
    rs_entry_release(e);
  }
  rs_page__flight_free(fl);
  rs_loop_maybe_done(loop);
}

int rs_page__proxy_start(rs_req_t *from, rs_req_t *req, const rs_route_t *route, const char *key,
                         size_t key_len, uint64_t hash, const rs_page_l3_t *l3) {
  rs_page_flight_t *fl = rs_page__flight_new(from, req, route, key, key_len, hash);
  fl->start_us = rs_now_us();
  rs_loop_t *loop = fl->loop;
  if (l3 != NULL) fl->l3 = *l3;
  /* Variants the leader does not take wait for a second client, and are
   * then built on a render thread; without one, here and now. */
  fl->defer = loop->gen != NULL && loop->gen->pool != NULL ? rs_page__defer_for(req) : 0;

  /* The target as the proxy action sends it (rs_proxy.c). */
  rs_buf_t path = { 0 };
  rs_proxy_target(&path, from, route);

  /* What a shared page may depend on: no credentials, identity, no cookie
   * but those the route names (in its key; rebuilt from them alone). */
  rs_fetch_header_t hs[10];
  size_t n = 0;
  const char *host = route->proxy.host_mode == RS_PROXY_HOST_LITERAL ? route->proxy.host
                     : route->proxy.host_mode == RS_PROXY_HOST_UPSTREAM ? route->proxy.upstream : NULL;
  if (host != NULL) hs[n++] = (rs_fetch_header_t){ RS_STR("Host"), { host, strlen(host) } };
  else if (from->host.len) hs[n++] = (rs_fetch_header_t){ RS_STR("Host"), from->host };
  /* X-Forwarded-* and X-Request-Id from the proxy action's builders
   * ("Name: value\r\n" lines, split back into pairs that point into fwd). */
  rs_buf_t fwd = { 0 };
  rs_proxy_forwarded(from, &fwd, true);
  rs_proxy_request_id(from, &fwd);
  for (const char *l = fwd.p, *end = fwd.p + fwd.len; l != NULL && l < end && n < 6;) {
    const char *eol = memchr(l, '\r', (size_t)(end - l));
    const char *colon = memchr(l, ':', (size_t)(end - l));
    if (eol == NULL || colon == NULL || colon > eol) break;
    const char *v = colon + 1;
    while (v < eol && *v == ' ') v++;
    hs[n++] = (rs_fetch_header_t){ { l, (size_t)(colon - l) }, { v, (size_t)(eol - v) } };
    l = eol + 2;
  }
  const rs_str_t *v = rs_req_header(from, "accept");
  if (v != NULL) hs[n++] = (rs_fetch_header_t){ RS_STR("Accept"), *v };
  v = rs_req_header(from, "user-agent");
  if (v != NULL) hs[n++] = (rs_fetch_header_t){ RS_STR("User-Agent"), *v };
  rs_buf_t ck = { 0 };
  if (rs_policy_page_cookie(from, route, &ck) > 0) hs[n++] = (rs_fetch_header_t){ RS_STR("Cookie"), { ck.p, ck.len } };

  rs_fetch_opts_t o = { .target = route->proxy.upstream, .method = "GET", .path = path.p,
                        .headers = hs, .nheaders = n };
  int err = 0;
  rs_fetch_t *f = rs_fetch_start(loop, &o, rs__proxy_fetched, fl, &err);
  rs_buf_free(&path);
  rs_buf_free(&fwd);
  rs_buf_free(&ck);
  if (f != NULL) {
    loop->pending_jobs++;
    return 0;
  }
  int status = err == -ETIMEDOUT ? 504 : 502;
  rs_log_warn("cached proxy: upstream %s: %s", route->proxy.upstream, rs_fetch_strerror(err));
  rs_page__fleet_unlock(loop, key, key_len, &fl->l3);
  rs_page__flight_fail(loop, hash, key, key_len, status, req == NULL);
  rs_page__flight_free(fl);
  return status;
}

bool rs_page_proxy_cached(rs_req_t *req, const rs_route_t *route) {
  /* A proxy route caches when it gives a ttl > 0 (the route's ttl =),
   * for GET and HEAD, and the cache is on. */
  if (req->loop->cache == NULL || route->render.ttl_ms <= 0 || route->proxy.upstream == NULL ||
      (req->method_bit != RS_M_GET && req->method_bit != RS_M_HEAD))
    return false;
  rs_page_request(req, route);
  return true;
}
