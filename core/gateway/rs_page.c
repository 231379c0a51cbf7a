/* core/gateway/rs_page.c — see rs_page.h. */
#include "rs_page.h"

#include "rs_key.h"
#include "rs_lhooks.h"
#include "rs_log.h"
#include "rs_metrics.h"
#include "rs_policy.h"
#include "rs_proxy.h"
#include "rs_realip.h"
#include "rs_render.h"
#include "rs_upstream.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RS__KEY_INLINE 512

/* A request waiting on another's render (RS_LOOKUP_MISS_WAIT). */
typedef struct rs_page_waiter_s {
  rs_waiter_t w;                 /* linked by the cache, woken by the completer */
  rs_task_t task;                /* runs on the waiter's loop */
  rs_req_t *req;
  const rs_route_t *route;
  rs_loop_t *loop;
  rs_entry_t *entry;             /* set by wake */
  int status;                    /* set by wake: error status, or -1 = render yourself */
} rs_page_waiter_t;

/* The flight a leader (or a background refresh) owns. */
typedef struct {
  rs_loop_t *loop;
  const rs_config_t *cfg;        /* the generation's of the request it started from:
                                    the render thread reads it (never loop->cfg, which
                                    a reload switches) */
  rs_req_t *req;                 /* NULL for a background refresh */
  char *key;
  size_t key_len;
  uint64_t hash;
  const rs_route_t *route;       /* lives as long as the config the request came with */
  int64_t route_ttl_ms, route_grace_ms;
  uint64_t epoch;
  rs_entry_t *entry;             /* built on the render thread */
  bool storable;
  unsigned defer;                /* variants left for later (rs_entry.h) */
} rs__flight_t;

/* ------------------------------------------------------------------ key */

/* The fields of the headers the route names (rs_key.h): they split its
 * pages, and they are what reaches the bundle beside the host. */
static void rs__key_fields(rs_key_t *k, rs_req_t *req, const rs_route_t *route) {
  int trusted = -1;              /* resolved when a named header is a forwarding claim */
  for (const char *const *n = route->cache.headers; n != NULL && *n != NULL; n++) {
    size_t nl = strlen(*n);
    bool first = true;
    if (rs_realip_claim(req, *n, nl)) {
      /* absent, as the render will see it, unless a trusted proxy sent it */
      if (trusted < 0) {
        rs_realip_t rip;
        rs_realip_resolve(req, &rip);
        trusted = rip.trusted;
      }
      if (!trusted) {
        rs_key_header(k, *n, nl, false);
        continue;
      }
    }
    for (size_t i = 0; i < req->nheaders; i++) {
      const rs_header_t *h = &req->headers[i];
      if (!rs_str_ieq(h->name.p, h->name.len, *n, nl)) continue;
      if (first) rs_key_header(k, *n, nl, true);
      rs_key_header_value(k, h->value.p, h->value.len, first);
      first = false;
    }
    if (first) rs_key_header(k, *n, nl, false);
  }
}

/* ------------------------------------------------------------------ HTTP on a hit */

/* ------------------------------------------------------------------ deferred variants */

/* A page stored with some variants deferred (rs_entry.h) and now asked for
 * by a client that takes one of them: a render thread builds the complete
 * entry (a background job, no V8), and the loop swaps it into L2 if the
 * partial one is still there. This request is answered from what exists. */
typedef struct {
  rs_entry_t *partial;           /* a reference */
  rs_entry_t *full;              /* built on the render thread */
  rs_loop_gen_t *lg;             /* keeps the pool alive (reload) */
  int gzip_level, brotli_quality;
} rs__completion_t;

static void rs__complete_build(rs_render_job_t *job) {
  rs__completion_t *c = job->data;
  c->full = rs_entry_complete(c->partial, c->gzip_level, c->brotli_quality);
}

static void rs__complete_done(rs_task_t *task) {
  rs_render_job_t *job = RS_CONTAINER_OF(task, rs_render_job_t, task);
  rs__completion_t *c = job->data;
  rs_loop_t *loop = c->lg->loop;
  loop->pending_jobs--;
  if (c->full != NULL) {
    if (rs_cache_replace(loop->cache, c->partial, c->full) == 0 && loop->l1 != NULL)
      rs_l1_offer(loop->l1, c->full, uv_now(&loop->uv));
    rs_entry_release(c->full);
  } else {                       /* not built (expired in the queue, memory): let a later hit retry */
    __atomic_store_n(&c->partial->_completing, 0, __ATOMIC_RELAXED);
  }
  rs_entry_release(c->partial);
  rs_loop_gen_unref(c->lg);
  free(c);
  rs_render_job_free(job);
  rs_loop_maybe_done(loop);
}

static void rs__complete_start(rs_loop_t *loop, rs_entry_t *e) {
  rs_loop_gen_t *lg = loop->gen;
  rs_render_job_t *job = lg != NULL && lg->pool != NULL ? calloc(1, sizeof(*job)) : NULL;
  if (job == NULL) {
    __atomic_store_n(&e->_completing, 0, __ATOMIC_RELAXED);
    return;
  }
  rs__completion_t *c = rs_xcalloc(1, sizeof(*c));
  rs_entry_ref(e);
  c->partial = e;
  c->lg = lg;
  c->gzip_level = lg->cfg->cache.gzip_level;
  c->brotli_quality = lg->cfg->cache.brotli_quality;
  job->no_render = true;
  job->task.run = rs__complete_done;
  job->inbox = &loop->inbox;
  job->data = c;
  job->after_render = rs__complete_build;
  if (rs_pool_submit_ex(lg->pool, job, true) != 0) {   /* queue full: a later hit retries */
    __atomic_store_n(&e->_completing, 0, __ATOMIC_RELAXED);
    rs_entry_release(e);
    free(c);
    rs_render_job_free(job);
    return;
  }
  rs_loop_gen_ref(lg);
  loop->pending_jobs++;
}

void rs_page_respond_entry(rs_req_t *req, rs_entry_t *e, const char *xcache,
                           void (*release)(void *ud), void *ud) {
  rs_loop_t *loop = req->loop;
  static const char *const enc_line[RS_ENC_MAX] = {
    "", "Content-Encoding: gzip\r\n", "Content-Encoding: br\r\n"
  };
  long age = (long)(loop->now_unix - e->created_unix);
  if (age < 0) age = 0;
  char extra[128];
  rs_resp_t resp = { .status = e->status, .headers = e->headers, .headers_len = e->headers_len,
                     .release = release, .release_ud = ud, .extra = extra };

  const rs_str_t *inm = req->nheaders ? rs_req_header(req, "if-none-match") : NULL;
  if (inm != NULL && e->status == 200 && rs_http_etag_match(inm, e->etag, e->etag_len)) {
    RS_COUNTER_ADD(loop->page->not_modified, 1);
    resp.status = 304;
    resp.extra_len = (size_t)snprintf(extra, sizeof(extra), "Age: %ld\r\nX-Cache: %s\r\n", age, xcache);
    rs_req_respond(req, &resp);
    return;
  }
  const rs_str_t *ae = req->nheaders ? rs_req_header(req, "accept-encoding") : NULL;
  rs_encoding_t v = rs_entry_pick(e, ae ? ae->p : NULL, ae ? ae->len : 0);
  if (RS_UNLIKELY(e->deferred != 0) && ae != NULL &&
      rs_entry_claim_completion(e, rs_entry_accepts(ae->p, ae->len)))
    rs__complete_start(loop, e);
  resp.body = e->body[v].p ? e->body[v].p : "";
  resp.body_len = e->body[v].len;
  resp.extra_len = (size_t)snprintf(extra, sizeof(extra), "%sAge: %ld\r\nX-Cache: %s\r\n", enc_line[v],
                                    age, xcache);
  rs_req_respond(req, &resp);
}

static void rs__release_entry(void *e) { rs_entry_release(e); }

static void rs__release_l1(void *ud) {
  /* The request carries its L1 borrow; requests are released on their
   * own loop, which owns that L1. */
  rs_req_t *req = ud;
  rs_l1_put(req->loop->l1, req->data);
  req->data = NULL;
}

/* ------------------------------------------------------------------ flights */

static void rs__after_render(rs_render_job_t *job) {
  rs__flight_t *fl = job->data;
  if (job->outcome != RS_RENDER_OK) return;
  const rs_config_t *cfg = fl->cfg;
  fl->storable = rs_policy_storable(fl->route, job->status, job->headers, job->headers_len);
  uint64_t ttl = job->ttl >= 0 ? (uint64_t)job->ttl * 1000
                 : fl->route_ttl_ms >= 0 ? (uint64_t)fl->route_ttl_ms : cfg->cache.ttl_ms;
  uint64_t grace = fl->route_grace_ms >= 0 ? (uint64_t)fl->route_grace_ms : cfg->cache.grace_ms;
  if (ttl == 0) fl->storable = false;
  /* The bundle's tags, then the route's (tags = {...}) that it lacks. */
  const char *tags[64];
  size_t tag_lens[64];
  size_t ntags = 0;
  for (size_t i = 0; i < job->ntags && ntags < 64; i++, ntags++) {
    tags[ntags] = job->tags[i];
    tag_lens[ntags] = strlen(job->tags[i]);
  }
  for (size_t i = 0; fl->route != NULL && i < fl->route->cache.ntags && ntags < 64; i++) {
    const char *t = fl->route->cache.tags[i];
    size_t tl = strlen(t), k = 0;
    while (k < ntags && !(tag_lens[k] == tl && memcmp(tags[k], t, tl) == 0)) k++;
    if (k == ntags) tags[ntags] = t, tag_lens[ntags++] = tl;
  }
  /* The headers and cookies the route names split its pages: say so to
   * downstream caches (Vary), beside the Accept-Encoding the entry adds;
   * and the route's Cache-Control unless the bundle gave its own. */
  rs_buf_t hb = { 0 };
  const char *headers = job->headers;
  size_t headers_len = job->headers_len;
  if (fl->route != NULL && rs_policy_page_headers(fl->route, job->headers, job->headers_len, &hb))
    headers = hb.p, headers_len = hb.len;
  rs_entry_spec_t spec = {
    .key = fl->key, .key_len = fl->key_len, .hash = fl->hash,
    .status = job->status, .headers = headers, .headers_len = headers_len,
    .body = job->body ? job->body : "", .body_len = job->body_len, .body_owned = job->body,
    .tags = tags, .tag_lens = tag_lens, .ntags = ntags,
    .ttl_ms = ttl, .grace_ms = grace, .epoch = fl->epoch,
    .bundle = cfg->render.bundle_id, .generation = cfg->generation,
    .gzip_level = cfg->cache.gzip_level, .brotli_quality = cfg->cache.brotli_quality,
    .min_compress = cfg->cache.min_compress, .defer = fl->defer,
  };
  fl->entry = rs_entry_build(&spec);
  job->body = spec.body_owned;   /* NULL when the entry adopted it */
  rs_buf_free(&hb);
}

static void rs__wake(rs_waiter_t *w, rs_entry_t *e, int status) {
  /* On the completing loop: hand over to the waiter's own loop. */
  rs_page_waiter_t *pw = RS_CONTAINER_OF(w, rs_page_waiter_t, w);
  pw->entry = e;
  pw->status = status;
  rs_inbox_post(&pw->loop->inbox, &pw->task);
}

static void rs__waiter_run(rs_task_t *task) {
  rs_page_waiter_t *pw = RS_CONTAINER_OF(task, rs_page_waiter_t, task);
  rs_req_t *req = pw->req;
  rs_loop_t *loop = pw->loop;
  loop->pending_jobs--;
  if (pw->entry != NULL) {
    rs_page_respond_entry(req, pw->entry, "MISS", rs__release_entry, pw->entry);
  } else if (pw->status < 0) {
    /* The page was not storable (e.g. it set a cookie): never share it;
     * this request renders its own (its props hook may wait). */
    rs_page_uncached(req, pw->route, rs_policy_bypass_extra(pw->route));
  } else {
    rs_render_respond_error(req, pw->status);
  }
  free(pw);
  rs_loop_maybe_done(loop);
}

static rs_page_waiter_t *rs__waiter_new(rs_loop_t *loop) {
  rs_page_waiter_t *pw = rs_xcalloc(1, sizeof(*pw));
  pw->w.wake = rs__wake;
  pw->task.run = rs__waiter_run;
  pw->loop = loop;
  return pw;
}

static void rs__flight_free(rs__flight_t *fl) {
  free(fl->key);
  free(fl);
}

/* Finish fl's flight with e (NULL: failed with status fail): store it when
 * storable, hand it to every waiter (or tell them to render their own when
 * it was not storable, or the error), and offer it to this loop's L1. */
static void rs__flight_complete(rs__flight_t *fl, rs_entry_t *e, int fail) {
  rs_loop_t *loop = fl->loop;
  bool store = e != NULL && fl->storable;
  if (e != NULL && !fl->storable) RS_COUNTER_ADD(loop->page->uncacheable, 1);
  rs_waiter_t *w = rs_cache_complete(loop->cache, fl->hash, fl->key, fl->key_len, e, store);
  while (w != NULL) {
    rs_waiter_t *next = w->next;
    if (store) {
      rs_entry_ref(e);
      w->wake(w, e, 0);
    } else {
      w->wake(w, NULL, e != NULL ? -1 : fail);
    }
    w = next;
  }
  if (store && loop->l1 != NULL) rs_l1_offer(loop->l1, e, uv_now(&loop->uv));
}

static void rs__flight_done(rs_task_t *task) {
  rs_render_job_t *job = RS_CONTAINER_OF(task, rs_render_job_t, task);
  rs__flight_t *fl = job->data;
  rs_loop_t *loop = fl->loop;
  rs_req_t *req = fl->req;
  rs_entry_t *e = fl->entry;
  loop->pending_jobs--;

  int fail = rs_render_error_status(job->outcome);
  rs__flight_complete(fl, e, fail);

  if (req != NULL) {
    if (e != NULL) {
      rs_render_job_free(job);
      rs_page_respond_entry(req, e, "MISS", rs__release_entry, e);
    } else {
      rs_render_respond(req, job, "X-Cache: MISS\r\n");
    }
  } else {                       /* a background refresh */
    if (e == NULL) {
      RS_COUNTER_ADD(loop->page->refresh_failed, 1);
      rs_log_warn("refresh of %.*s failed (%s%s%s): serving the stale page while in grace",
                  (int)RS_MIN(fl->key_len, 512), fl->key, rs_render_outcome_label(job->outcome),
                  job->error ? ": " : "", job->error ? job->error : "");
    } else {
      rs_entry_release(e);
    }
    rs_render_job_free(job);
  }
  rs__flight_free(fl);
  rs_loop_maybe_done(loop);
}

/* Start the render that owns the flight; req NULL for a background refresh
 * (the job then renders from its own copy of `from`). Returns 0, or -1 when
 * the job could not be queued (the flight is then completed as failed). */
/* The variants to leave for later when req (the leader) waits for a page:
 * all but the one it takes (a background refresh, req NULL, builds all:
 * its page is being asked for). */
static unsigned rs__defer_for(const rs_req_t *req) {
  if (req == NULL) return 0;
  const rs_str_t *ae = req->nheaders ? rs_req_header(req, "accept-encoding") : NULL;
  return rs_entry_defer_for(ae != NULL ? rs_entry_accepts(ae->p, ae->len) : 0);
}

/* A flight for key, started from the request `from` on its loop, with the
 * config of the request's generation; req is the leader (NULL for a
 * background refresh). */
static rs__flight_t *rs__flight_new(rs_req_t *from, rs_req_t *req, const rs_route_t *route,
                                    const char *key, size_t key_len, uint64_t hash) {
  rs_loop_t *loop = from->loop;
  rs__flight_t *fl = rs_xcalloc(1, sizeof(*fl));
  fl->loop = loop;
  fl->cfg = rs_req_gen(from) ? rs_req_gen(from)->cfg : loop->cfg;
  fl->req = req;
  fl->key = rs_xstrndup(key, key_len);
  fl->key_len = key_len;
  fl->hash = hash;
  fl->route = route;
  fl->route_ttl_ms = route->render.ttl_ms;
  fl->route_grace_ms = route->render.grace_ms;
  fl->epoch = rs_cache_epoch(loop->cache);
  return fl;
}

static int rs__flight_start(rs_req_t *from, rs_req_t *req, const rs_route_t *route, const char *key,
                            size_t key_len, uint64_t hash, const char *props, size_t props_len) {
  rs__flight_t *fl = rs__flight_new(from, req, route, key, key_len, hash);
  rs_loop_t *loop = fl->loop;
  fl->defer = rs__defer_for(req);
  rs_render_job_t *job = rs_render_job_new(from, route, props, props_len);
  if (job != NULL) {
    job->task.run = rs__flight_done;
    job->inbox = &loop->inbox;
    job->data = fl;
    job->after_render = rs__after_render;
    /* The pool of the request's generation: across a reload, the bundle it started with. */
    if (rs_pool_submit_ex(rs_req_gen(from) ? rs_req_gen(from)->pool : loop->pool, job, req == NULL) == 0) {
      loop->pending_jobs++;
      return 0;
    }
    rs_render_job_free(job);
  }
  /* Nothing will complete this flight: fail it now, waiters included. */
  rs_waiter_t *w = rs_cache_complete(loop->cache, hash, key, key_len, NULL, false);
  while (w != NULL) {
    rs_waiter_t *next = w->next;
    w->wake(w, NULL, 503);
    w = next;
  }
  rs__flight_free(fl);
  return -1;
}

/* ------------------------------------------------------------------ cached proxy */

/* A proxy route through the page cache: the flight's producer is a fetch
 * of the page from the route's upstream (a GET, whatever the client sent:
 * HEAD is answered from it), and its answer becomes an entry, built here
 * on the loop (variants included), stored when rs_policy_storable says. */

/* Response headers the cache never keeps: hop-by-hop ones, and those the
 * gateway writes itself. */
static bool rs__proxy_drop(const rs_str_t *n) {
  static const rs_str_t drop[] = {
    RS_STR("connection"), RS_STR("keep-alive"), RS_STR("proxy-connection"), RS_STR("te"),
    RS_STR("trailer"), RS_STR("transfer-encoding"), RS_STR("upgrade"), RS_STR("content-length"),
    RS_STR("date"), RS_STR("server"), RS_STR("age"), RS_STR("etag"), RS_STR("vary"), RS_STR("x-cache"),
  };
  for (size_t i = 0; i < RS_ARRAY_SIZE(drop); i++)
    if (rs_str_ieq(n->p, n->len, drop[i].p, drop[i].len)) return true;
  return false;
}

static void rs__proxy_fetched(void *ud, int err, const rs_fetch_result_t *res) {
  rs__flight_t *fl = ud;
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
      .ttl_ms = ttl, .grace_ms = grace, .epoch = fl->epoch, .generation = cfg->generation,
      .gzip_level = encoded ? 0 : cfg->cache.gzip_level,
      .brotli_quality = encoded ? -1 : cfg->cache.brotli_quality,
      .min_compress = cfg->cache.min_compress, .defer = fl->defer,
    };
    e = rs_entry_build(&spec);
    free(spec.body_owned);       /* NULL when the entry adopted it */
    rs_buf_free(&hb);
    if (e == NULL) fail = 502;
  }

  rs__flight_complete(fl, e, fail);
  if (req != NULL) {
    if (e != NULL) rs_page_respond_entry(req, e, "MISS", rs__release_entry, e);
    else rs_render_respond_error(req, fail);
  } else if (e == NULL) {
    RS_COUNTER_ADD(loop->page->refresh_failed, 1);
  } else {
    rs_entry_release(e);
  }
  rs__flight_free(fl);
  rs_loop_maybe_done(loop);
}

/* Start the fetch that owns the flight (req NULL: a background refresh).
 * Returns 0, or the status to answer with when it could not start (the
 * flight is then completed as failed). */
static int rs__proxy_flight_start(rs_req_t *from, rs_req_t *req, const rs_route_t *route, const char *key,
                                  size_t key_len, uint64_t hash) {
  rs__flight_t *fl = rs__flight_new(from, req, route, key, key_len, hash);
  rs_loop_t *loop = fl->loop;
  /* Variants the leader does not take wait for a second client, and are
   * then built on a render thread; without one, here and now. */
  fl->defer = loop->gen != NULL && loop->gen->pool != NULL ? rs__defer_for(req) : 0;

  /* The target as the proxy action sends it (rs_proxy.c). */
  rs_buf_t path = { 0 };
  rs_proxy_target(&path, from, route);

  /* What a shared page may depend on: no cookie, no credentials, identity. */
  rs_fetch_header_t hs[8];
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

  rs_fetch_opts_t o = { .target = route->proxy.upstream, .method = "GET", .path = path.p,
                        .headers = hs, .nheaders = n };
  int err = 0;
  rs_fetch_t *f = rs_fetch_start(loop, &o, rs__proxy_fetched, fl, &err);
  rs_buf_free(&path);
  rs_buf_free(&fwd);
  if (f != NULL) {
    loop->pending_jobs++;
    return 0;
  }
  int status = err == -ETIMEDOUT ? 504 : 502;
  rs_log_warn("cached proxy: upstream %s: %s", route->proxy.upstream, rs_fetch_strerror(err));
  rs_waiter_t *w = rs_cache_complete(loop->cache, hash, key, key_len, NULL, false);
  while (w != NULL) {
    rs_waiter_t *next = w->next;
    w->wake(w, NULL, status);
    w = next;
  }
  rs__flight_free(fl);
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

/* ------------------------------------------------------------------ the request */

/* A request's way through the cache, in small steps (bypass → key →
 * lookup → props → render) that can each stop at a Lua hook that yields
 * and go on from its done callback (lua/rs_lhooks.h). From a per-loop free
 * list: a hit costs no allocation. */
enum {
  RS__S_BYPASS, RS__S_BYPASS_DONE, RS__S_KEY_DONE, RS__S_PROPS_DONE,
  RS__S_UNCACHED, RS__S_UNCACHED_DONE,
};
#define RS__NOHOOK 100           /* a step's outcome when no hook ran */
#define RS__FLOWS_FREE_MAX 64

typedef struct rs__pflow_s {
  rs_req_t *req;
  const rs_route_t *route;
  rs_lreq_t *lc;                 /* the request's Lua, from its first hook */
  int step;
  bool bypass;
  const char *extra;             /* X-Cache line of an uncached render */
  const char *key;               /* kbuf, heap (key_heap) or lc's */
  size_t klen;
  bool key_heap;
  uint64_t hash;
  rs_entry_t *stale;             /* STALE_REFRESH: the page to answer with */
  struct rs__pflow_s *next;
  char kbuf[RS__KEY_INLINE];
} rs__pflow_t;

static rs__pflow_t *rs__pflow_new(rs_req_t *req, const rs_route_t *route, int step) {
  rs_page_counters_t *pc = req->loop->page;
  rs__pflow_t *fl = pc->flows;
  if (fl != NULL) {
    pc->flows = fl->next;
    pc->nflows--;
  } else {
    fl = rs_xmalloc(sizeof(*fl));
  }
  memset(fl, 0, offsetof(rs__pflow_t, kbuf));
  fl->req = req;
  fl->route = route;
  fl->step = step;
  return fl;
}

static void rs__pflow_free(rs__pflow_t *fl, rs_loop_t *loop) {
  if (fl->lc != NULL) rs_lreq_end(fl->lc);
  if (fl->key_heap) free((char *)fl->key);
  rs_page_counters_t *pc = loop->page;
  if (pc->nflows < RS__FLOWS_FREE_MAX) {
    fl->next = pc->flows;
    pc->flows = fl;
    pc->nflows++;
  } else {
    free(fl);
  }
}

static void rs__pflow_go(rs__pflow_t *fl, int rc);

static void rs__pflow_resumed(rs_lreq_t *lc, int rc) { rs__pflow_go(lc->ud, rc); }

/* The request's Lua, started on first use. */
static void rs__pflow_lc(rs__pflow_t *fl) {
  if (fl->lc == NULL) {
    fl->lc = rs_lreq_start(rs_req_gen(fl->req)->lua, fl->req, fl->route);  /* its generation's state */
    fl->lc->ud = fl;
  }
}

/* Run the route's hook; on a yield, the flow goes on at step next. */
static int rs__pflow_hook(rs__pflow_t *fl, rs_hook_t hook, int next) {
  fl->step = next;
  rs__pflow_lc(fl);
  return rs_lreq_run(fl->lc, hook, rs__pflow_resumed);
}

/* A hook failed (500), exited (its answer), or its client left. The Lua
 * ends before the answer: answering a request whose client has gone frees
 * it, and with it perhaps the generation its Lua state belongs to. */
static void rs__pflow_end(rs__pflow_t *fl, int rc) {
  rs_req_t *req = fl->req;
  rs_resp_t resp = fl->lc->resp;
  rs__pflow_free(fl, req->loop);
  if (rc == RS_LHOOK_EXIT) rs_req_respond(req, &resp);
  else rs_render_respond_error(req, 500);
}

static void rs__fail_flight(rs_loop_t *loop, rs__pflow_t *fl, int status) {
  rs_waiter_t *w = rs_cache_complete(loop->cache, fl->hash, fl->key, fl->klen, NULL, false);
  for (rs_waiter_t *next; w != NULL; w = next) {
    next = w->next;
    w->wake(w, NULL, status);
  }
}

/* After the props hook of a leader or a refresh (rc RS__NOHOOK without one). */
static void rs__pflow_render(rs__pflow_t *fl, int rc) {
  rs_req_t *req = fl->req;
  rs_loop_t *loop = req->loop;
  rs_entry_t *stale = fl->stale;
  const char *props = fl->lc != NULL ? fl->lc->props : NULL;
  size_t plen = fl->lc != NULL ? fl->lc->props_len : 0;
  if (rc == RS_LHOOK_OK || rc == RS__NOHOOK) {
    int failed;
    if (fl->route->action == RS_ACTION_PROXY)
      failed = rs__proxy_flight_start(req, stale != NULL ? NULL : req, fl->route, fl->key, fl->klen, fl->hash);
    else if (rs__flight_start(req, stale != NULL ? NULL : req, fl->route, fl->key, fl->klen, fl->hash, props,
                              plen) != 0)
      failed = 503;
    else
      failed = 0;
    rs__pflow_free(fl, loop);
    if (stale != NULL) rs_page_respond_entry(req, stale, "STALE", rs__release_entry, stale);
    else if (failed != 0) rs_render_respond_error(req, failed);
    return;
  }
  /* A failed hook fails the flight (its waiters: 500); one that exited or
   * lost its client lets each waiter render its own. */
  rs__fail_flight(loop, fl, rc == RS_LHOOK_FAIL ? 500 : -1);
  rs_resp_t resp = fl->lc->resp;
  rs__pflow_free(fl, loop);
  if (stale != NULL && rc == RS_LHOOK_FAIL) {
    /* no refresh: the stale page stays (stale-if-error) */
    rs_page_respond_entry(req, stale, "STALE", rs__release_entry, stale);
    return;
  }
  if (stale != NULL) rs_entry_release(stale);
  if (rc == RS_LHOOK_EXIT) rs_req_respond(req, &resp);
  else rs_render_respond_error(req, 500);
}

static void rs__pflow_lookup(rs__pflow_t *fl) {
  rs_req_t *req = fl->req;
  const rs_route_t *route = fl->route;
  rs_loop_t *loop = req->loop;
  rs_page_counters_t *pc = loop->page;
  const char *key = fl->key;
  size_t klen = fl->klen;
  uint64_t hash = fl->hash = rs_cache_hash(loop->cache, key, klen);
  uint64_t now = uv_now(&loop->uv);

  rs_l1_ref_t *ref;
  rs_entry_t *e = loop->l1 ? rs_l1_get(loop->l1, hash, key, klen, now, &ref) : NULL;
  if (e != NULL) {
    RS_COUNTER_ADD(pc->hits_l1, 1);
    req->data = ref;
    rs__pflow_free(fl, loop);
    rs_page_respond_entry(req, e, "HIT-L1", rs__release_l1, req);
    return;
  }

  if (pc->spare == NULL) pc->spare = rs__waiter_new(loop);
  rs_page_waiter_t *pw = pc->spare;
  int rc = RS__NOHOOK;
  switch (rs_cache_lookup(loop->cache, hash, key, klen, rs_now_ms(), &e, &pw->w)) {
    case RS_LOOKUP_HIT:
      RS_COUNTER_ADD(pc->hits_l2, 1);
      if (loop->l1 != NULL) rs_l1_offer(loop->l1, e, now);
      rs__pflow_free(fl, loop);
      rs_page_respond_entry(req, e, "HIT-L2", rs__release_entry, e);
      return;
    case RS_LOOKUP_STALE:
      RS_COUNTER_ADD(pc->stale, 1);
      rs__pflow_free(fl, loop);
      rs_page_respond_entry(req, e, "STALE", rs__release_entry, e);
      return;
    case RS_LOOKUP_STALE_REFRESH:
      /* The props of the refresh come first (they need the request); a
       * props hook that waits on a fetch delays this stale answer. */
      RS_COUNTER_ADD(pc->stale, 1);
      fl->stale = e;
      /* fallthrough */
    case RS_LOOKUP_MISS_LEADER:
      if (fl->stale == NULL) RS_COUNTER_ADD(pc->misses, 1);
      if (route->hooks.props) {
        /* Its result feeds a page others will be served: it sees what the
         * key covers, as the bundle does. */
        rs__pflow_lc(fl);
        rs_lreq_page_view(fl->lc);
        rc = rs__pflow_hook(fl, RS_HOOK_PROPS, RS__S_PROPS_DONE);
        if (rc == RS_LHOOK_YIELD) return;
      }
      rs__pflow_render(fl, rc);
      return;
    case RS_LOOKUP_MISS_WAIT:
      RS_COUNTER_ADD(pc->misses, 1);
      RS_COUNTER_ADD(pc->coalesced, 1);
      pc->spare = NULL;          /* the cache holds it now */
      pw->req = req;
      pw->route = route;
      loop->pending_jobs++;
      rs__pflow_free(fl, loop);
      return;
  }
}

static void rs__pflow_go(rs__pflow_t *fl, int rc) {
  rs_req_t *req = fl->req;
  const rs_route_t *route = fl->route;
  rs_loop_t *loop = req->loop;
  rs_page_counters_t *pc = loop->page;
  switch (fl->step) {
    case RS__S_BYPASS:
      fl->bypass = rs_policy_bypass(req, route);
      rc = RS__NOHOOK;
      if (!fl->bypass && route->hooks.bypass) {
        rc = rs__pflow_hook(fl, RS_HOOK_BYPASS, RS__S_BYPASS_DONE);
        if (rc == RS_LHOOK_YIELD) return;
      }
      /* fallthrough */
    case RS__S_BYPASS_DONE:
      if (rc != RS__NOHOOK) {
        if (rc != RS_LHOOK_OK) {
          rs__pflow_end(fl, rc);
          return;
        }
        fl->bypass = fl->lc->bypass;
      }
      if (fl->bypass || (req->method_bit != RS_M_GET && req->method_bit != RS_M_HEAD)) {
        /* Personalised requests, and those a bypass rule picks, are not
         * looked up nor stored. */
        if (fl->bypass) RS_COUNTER_ADD(pc->bypass, 1);
        fl->extra = fl->bypass ? rs_policy_bypass_extra(route) : NULL;
        fl->step = RS__S_UNCACHED;
        rs__pflow_go(fl, RS__NOHOOK);
        return;
      }
      RS_COUNTER_ADD(pc->lookups, 1);
      rc = RS__NOHOOK;
      if (route->hooks.key) {
        rc = rs__pflow_hook(fl, RS_HOOK_KEY, RS__S_KEY_DONE);
        if (rc == RS_LHOOK_YIELD) return;
      }
      /* fallthrough */
    case RS__S_KEY_DONE:
      if (rc != RS__NOHOOK) {
        if (rc != RS_LHOOK_OK) {
          rs__pflow_end(fl, rc);
          return;
        }
      }
      {
        /* The hook's string replaces the default key, in its own namespace
         * and with the request's host (rs_key.h); the route's named headers
         * follow either. */
        rs_key_t k;
        rs_key_init(&k, fl->kbuf, sizeof(fl->kbuf));
        if (rc != RS__NOHOOK)
          rs_key_hook(&k, req->host.p, req->host.len, fl->lc->key, fl->lc->key_len);
        else
          rs_key_url(&k, req->method.p, req->method.len, req->host.p, req->host.len, req->path.p,
                     req->path.len, req->query.p, req->query.len);
        rs__key_fields(&k, req, route);
        rs_policy_key_tail(&k, req, route, rs_req_gen(req)->cfg);
        fl->key = k.p;
        fl->klen = k.len;
        fl->key_heap = !rs_key_inline(&k);
      }
      rs__pflow_lookup(fl);
      return;
    case RS__S_PROPS_DONE:
      rs__pflow_render(fl, rc);
      return;
    case RS__S_UNCACHED:
      rc = RS__NOHOOK;
      if (route->hooks.props) {
        rc = rs__pflow_hook(fl, RS_HOOK_PROPS, RS__S_UNCACHED_DONE);
        if (rc == RS_LHOOK_YIELD) return;
      }
      /* fallthrough */
    case RS__S_UNCACHED_DONE:
      if (rc != RS__NOHOOK && rc != RS_LHOOK_OK) {
        rs__pflow_end(fl, rc);
        return;
      }
    {
      char *props = fl->lc != NULL ? fl->lc->props : NULL;
      size_t plen = fl->lc != NULL ? fl->lc->props_len : 0;
      const char *extra = fl->extra;
      if (fl->lc != NULL) fl->lc->props = NULL;    /* taken */
      rs__pflow_free(fl, loop);
      if (route->action == RS_ACTION_PROXY) rs_proxy_request(req, route);   /* streamed, not stored */
      else rs_render_uncached(req, extra, props, plen);
      free(props);
      return;
    }
  }
}

void rs_page_request(rs_req_t *req, const rs_route_t *route) {
  rs__pflow_go(rs__pflow_new(req, route, RS__S_BYPASS), RS__NOHOOK);
}

void rs_page_uncached(rs_req_t *req, const rs_route_t *route, const char *extra) {
  if (route->action == RS_ACTION_PROXY) {
    rs_proxy_request(req, route);
    return;
  }
  if (!route->hooks.props) {
    rs_render_uncached(req, extra, NULL, 0);
    return;
  }
  rs__pflow_t *fl = rs__pflow_new(req, route, RS__S_UNCACHED);
  fl->extra = extra;
  rs__pflow_go(fl, RS__NOHOOK);
}

/* ------------------------------------------------------------------ loops, metrics */

void rs_page_loop_init(rs_loop_t *loop) {
  const rs_config_t *cfg = loop->cfg;
  rs_l1_opts_t o = { .hot = cfg->cache.l1_hot, .entries = cfg->cache.l1_entries,
                     .max_bytes = cfg->cache.l1_bytes };
  /* l1 = { hot = 0, entries = 0 } (or bytes = 0) turns L1 off. */
  bool off = (o.hot == 0 && o.entries == 0) || o.max_bytes == 0;
  loop->l1 = off ? NULL : rs_l1_create(&o);
  if (posix_memalign((void **)&loop->page, RS_CACHELINE, sizeof(rs_page_counters_t)) != 0) abort();
  memset(loop->page, 0, sizeof(rs_page_counters_t));
}

void rs_page_loop_dispose(rs_loop_t *loop) {
  if (loop->l1 != NULL) rs_l1_destroy(loop->l1);
  loop->l1 = NULL;
  if (loop->page != NULL) {
    free(loop->page->spare);
    while (loop->page->flows != NULL) {
      struct rs__pflow_s *fl = loop->page->flows;
      loop->page->flows = fl->next;
      free(fl);
    }
  }
  free(loop->page);
  loop->page = NULL;
}

void rs_page_collect(rs_buf_t *out, rs_loop_t **loops, int nloops, struct rs_cache_s *cache) {
  rs_page_counters_t sum;
  memset(&sum, 0, sizeof(sum));
  uint64_t l1_hot = 0, l1_map = 0, l1_entries = 0, l1_bytes = 0;
  for (int i = 0; i < nloops; i++) {
    const rs_page_counters_t *c = loops[i]->page;
    if (c == NULL) continue;
    sum.lookups += RS_COUNTER_GET(c->lookups);
    sum.hits_l1 += RS_COUNTER_GET(c->hits_l1);
    sum.hits_l2 += RS_COUNTER_GET(c->hits_l2);
    sum.stale += RS_COUNTER_GET(c->stale);
    sum.misses += RS_COUNTER_GET(c->misses);
    sum.coalesced += RS_COUNTER_GET(c->coalesced);
    sum.bypass += RS_COUNTER_GET(c->bypass);
    sum.not_modified += RS_COUNTER_GET(c->not_modified);
    sum.uncacheable += RS_COUNTER_GET(c->uncacheable);
    sum.refresh_failed += RS_COUNTER_GET(c->refresh_failed);
    if (loops[i]->l1 == NULL) continue;
    const rs_l1_stats_t *ls = rs_l1_stats(loops[i]->l1);
    l1_hot += RS_COUNTER_GET(ls->hits_hot);
    l1_map += RS_COUNTER_GET(ls->hits_map);
    l1_entries += RS_COUNTER_GET(ls->entries);
    l1_bytes += RS_COUNTER_GET(ls->bytes);
  }
  rs_cache_stats_t cs;
  rs_cache_stats(cache, &cs);
  struct { const char *name, *type, *help; uint64_t v; } rows[] = {
    { "rustyssr_cache_lookups_total", "counter", "Cacheable requests looked up.", sum.lookups },
    { "rustyssr_cache_hits_l1_total", "counter", "Answered from this loop's L1.", sum.hits_l1 },
    { "rustyssr_cache_hits_l2_total", "counter", "Answered from the shared L2.", sum.hits_l2 },
    { "rustyssr_cache_stale_total", "counter", "Answered with a stale page within grace.", sum.stale },
    { "rustyssr_cache_misses_total", "counter", "Lookups that found no servable page.", sum.misses },
    { "rustyssr_cache_coalesced_total", "counter", "Misses that waited for a render already running.",
      sum.coalesced },
    { "rustyssr_cache_bypass_total", "counter", "Requests not looked up (Authorization, Cookie).",
      sum.bypass },
    { "rustyssr_cache_not_modified_total", "counter", "304 answers to If-None-Match.", sum.not_modified },
    { "rustyssr_cache_uncacheable_total", "counter", "Rendered pages not stored (Set-Cookie, private, "
      "no-store, status, ttl 0).", sum.uncacheable },
    { "rustyssr_cache_refresh_failed_total", "counter", "Background refreshes that failed (stale kept).",
      sum.refresh_failed },
    { "rustyssr_cache_inserts_total", "counter", "Pages stored in L2.", cs.inserts },
    { "rustyssr_cache_evictions_total", "counter", "Pages evicted for room.", cs.evictions },
    { "rustyssr_cache_expirations_total", "counter", "Pages dropped past their grace.", cs.expirations },
    { "rustyssr_cache_purged_total", "counter", "Pages removed by purges.", cs.purged },
    { "rustyssr_cache_softened_total", "counter",
      "Pages soft purges and deploys turned stale (each then refreshed once, in the background).", cs.softened },
    { "rustyssr_cache_refused_stale_total", "counter",
      "Renders not stored because a purge came after they began.", cs.refused_stale },
    { "rustyssr_cache_entries", "gauge", "Pages in L2.", cs.entries },
    { "rustyssr_cache_bytes", "gauge", "Bytes in L2 (all variants).", cs.bytes },
    { "rustyssr_cache_l1_entries", "gauge", "Pages held by the L1s.", l1_entries },
    { "rustyssr_cache_l1_bytes", "gauge", "Bytes held by the L1s.", l1_bytes },
  };
  for (size_t i = 0; i < RS_ARRAY_SIZE(rows); i++) {
    rs_metrics_family(out, rows[i].name, rows[i].type, rows[i].help);
    rs_buf_printf(out, "%s %llu\n", rows[i].name, (unsigned long long)rows[i].v);
  }
  rs_metrics_family(out, "rustyssr_cache_l1_hits_total", "counter", "L1 hits by part.");
  rs_buf_printf(out, "rustyssr_cache_l1_hits_total{part=\"hot\"} %llu\n", (unsigned long long)l1_hot);
  rs_buf_printf(out, "rustyssr_cache_l1_hits_total{part=\"map\"} %llu\n", (unsigned long long)l1_map);
  double served = (double)(sum.hits_l1 + sum.hits_l2 + sum.stale);
  rs_metrics_family(out, "rustyssr_cache_hit_ratio", "gauge",
                    "(L1 + L2 + stale answers) / lookups since start.");
  rs_buf_printf(out, "rustyssr_cache_hit_ratio %.4f\n", sum.lookups ? served / (double)sum.lookups : 0.0);
}
