/* core/rs_page.c — see rs_page.h. */
#include "rs_page.h"

#include "rs_lhooks.h"
#include "rs_log.h"
#include "rs_metrics.h"
#include "rs_policy.h"
#include "rs_render.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RS__KEY_INLINE 512
#define RS__MAX_SORTED_PARAMS 64

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
  rs_req_t *req;                 /* NULL for a background refresh */
  char *key;
  size_t key_len;
  uint64_t hash;
  const rs_route_t *route;       /* lives as long as the config the request came with */
  int64_t route_ttl_ms, route_grace_ms;
  uint64_t epoch;
  rs_entry_t *entry;             /* built on the render thread */
  bool storable;
} rs__flight_t;

/* ------------------------------------------------------------------ key */

typedef struct {
  const char *p;
  size_t len;
} rs__slice_t;

static int rs__slice_cmp(const void *a, const void *b) {
  const rs__slice_t *x = a, *y = b;
  size_t n = RS_MIN(x->len, y->len);
  int c = memcmp(x->p, y->p, n);
  return c ? c : (x->len > y->len) - (x->len < y->len);
}

size_t rs_page_key(const char *method, size_t mlen, const char *host, size_t hlen,
                   const char *path, size_t plen, const char *query, size_t qlen,
                   char *buf, size_t cap, char **out) {
  /* HEAD is answered from GET's page. */
  if (mlen == 4 && memcmp(method, "HEAD", 4) == 0) method = "GET", mlen = 3;
  /* Host without its port ("[::1]:8080" keeps its brackets). */
  for (size_t i = hlen; i > 0; i--) {
    if (host[i - 1] == ']') break;
    if (host[i - 1] == ':') { hlen = i - 1; break; }
  }
  size_t need = mlen + 1 + hlen + plen + 1 + qlen;
  char *k = need <= cap ? buf : rs_xmalloc(need);
  char *p = k;
  memcpy(p, method, mlen), p += mlen;
  *p++ = ' ';
  for (size_t i = 0; i < hlen; i++) {
    char c = host[i];
    *p++ = (c >= 'A' && c <= 'Z') ? (char)(c + 32) : c;
  }
  memcpy(p, path, plen), p += plen;
  if (qlen > 0) {
    *p++ = '?';
    rs__slice_t params[RS__MAX_SORTED_PARAMS];
    size_t n = 0;
    const char *q = query, *end = query + qlen;
    bool sortable = true;
    while (q < end) {
      const char *amp = memchr(q, '&', (size_t)(end - q));
      const char *stop = amp ? amp : end;
      if (stop > q) {
        if (n == RS__MAX_SORTED_PARAMS) { sortable = false; break; }
        params[n++] = (rs__slice_t){ q, (size_t)(stop - q) };
      }
      q = stop + 1;
    }
    if (sortable) {
      qsort(params, n, sizeof(params[0]), rs__slice_cmp);
      for (size_t i = 0; i < n; i++) {
        if (i) *p++ = '&';
        memcpy(p, params[i].p, params[i].len), p += params[i].len;
      }
    } else {                     /* too many to sort: keep them as sent */
      memcpy(p, query, qlen), p += qlen;
    }
  }
  *out = k;
  return (size_t)(p - k);
}

/* ------------------------------------------------------------------ HTTP on a hit */

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
  const rs_config_t *cfg = fl->loop->cfg;
  fl->storable = rs_policy_storable(fl->route, job->status, job->headers, job->headers_len);
  uint64_t ttl = job->ttl >= 0 ? (uint64_t)job->ttl * 1000
                 : fl->route_ttl_ms >= 0 ? (uint64_t)fl->route_ttl_ms : cfg->cache.ttl_ms;
  uint64_t grace = fl->route_grace_ms >= 0 ? (uint64_t)fl->route_grace_ms : cfg->cache.grace_ms;
  if (ttl == 0) fl->storable = false;
  size_t tag_lens[64];
  size_t ntags = RS_MIN(job->ntags, 64);
  for (size_t i = 0; i < ntags; i++) tag_lens[i] = strlen(job->tags[i]);
  rs_entry_spec_t spec = {
    .key = fl->key, .key_len = fl->key_len, .hash = fl->hash,
    .status = job->status, .headers = job->headers, .headers_len = job->headers_len,
    .body = job->body ? job->body : "", .body_len = job->body_len, .body_owned = job->body,
    .tags = (const char *const *)job->tags, .tag_lens = tag_lens, .ntags = ntags,
    .ttl_ms = ttl, .grace_ms = grace, .epoch = fl->epoch,
    .gzip_level = cfg->cache.gzip_level, .brotli_quality = cfg->cache.brotli_quality,
    .min_compress = cfg->cache.min_compress,
  };
  fl->entry = rs_entry_build(&spec);
  job->body = spec.body_owned;   /* NULL when the entry adopted it */
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
     * this request renders its own. */
    char *props = NULL;
    size_t plen = 0;
    int rc = 0;
    if (pw->route->hooks.props) {
      rs_lhooks_call_t lc;
      rs_lhooks_begin(&lc, loop->lua, req, pw->route);
      rc = rs_lhooks_props(&lc, &props, &plen);
      rs_lhooks_end(&lc);
    }
    if (rc == 0) rs_render_uncached(req, "X-Cache: BYPASS\r\n", props, plen);
    else rs_render_respond_error(req, 500);
    free(props);
  } else {
    rs_render_respond_error(req, pw->status);
  }
  free(pw);
  rs_server_loop_maybe_done(loop);
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

static void rs__flight_done(rs_task_t *task) {
  rs_render_job_t *job = RS_CONTAINER_OF(task, rs_render_job_t, task);
  rs__flight_t *fl = job->data;
  rs_loop_t *loop = fl->loop;
  rs_req_t *req = fl->req;
  rs_entry_t *e = fl->entry;
  loop->pending_jobs--;

  bool store = e != NULL && fl->storable;
  if (e != NULL && !fl->storable) RS_COUNTER_ADD(loop->page->uncacheable, 1);
  rs_waiter_t *w = rs_cache_complete(loop->cache, fl->hash, fl->key, fl->key_len, e, store);
  int fail = rs_render_error_status(job->outcome);
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
  rs_server_loop_maybe_done(loop);
}

/* Start the render that owns the flight; req NULL for a background refresh
 * (the job then renders from its own copy of `from`). Returns 0, or -1 when
 * the job could not be queued (the flight is then completed as failed). */
static int rs__flight_start(rs_req_t *from, rs_req_t *req, const rs_route_t *route, const char *key,
                            size_t key_len, uint64_t hash, const char *props, size_t props_len) {
  rs_loop_t *loop = from->loop;
  rs__flight_t *fl = rs_xcalloc(1, sizeof(*fl));
  fl->loop = loop;
  fl->req = req;
  fl->key = rs_xstrndup(key, key_len);
  fl->key_len = key_len;
  fl->hash = hash;
  fl->route = route;
  fl->route_ttl_ms = route->render.ttl_ms;
  fl->route_grace_ms = route->render.grace_ms;
  fl->epoch = rs_cache_epoch(loop->cache);
  rs_render_job_t *job = rs_render_job_new(from, props, props_len);
  if (job != NULL) {
    job->task.run = rs__flight_done;
    job->inbox = &loop->inbox;
    job->data = fl;
    job->after_render = rs__after_render;
    if (rs_pool_submit_ex(loop->pool, job, req == NULL) == 0) {
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

/* ------------------------------------------------------------------ the request */

/* The route's props hook, run only when a render is about to start (a
 * hit never pays for it). Returns 0, or -1 when the hook failed (logged). */
static int rs__props(rs_lhooks_call_t *lc, const rs_route_t *route, char **props, size_t *len) {
  if (!route->hooks.props || *props != NULL) return 0;
  return rs_lhooks_props(lc, props, len);
}

void rs_page_request(rs_req_t *req, const rs_route_t *route) {
  rs_loop_t *loop = req->loop;
  rs_page_counters_t *pc = loop->page;
  rs_lhooks_call_t lc;
  bool lua = route->hooks.key || route->hooks.bypass || route->hooks.props;
  if (lua) rs_lhooks_begin(&lc, loop->lua, req, route);
  char *props = NULL, *hkey = NULL, *key = NULL;
  size_t plen = 0, klen = 0;
  char kbuf[RS__KEY_INLINE];

  bool bypass = rs_policy_bypass(req, route);
  if (!bypass && route->hooks.bypass && rs_lhooks_bypass(&lc, &bypass) != 0) goto fail;
  if (bypass || (req->method_bit != RS_M_GET && req->method_bit != RS_M_HEAD)) {
    /* Personalised requests, and those a bypass rule picks, are not looked
     * up nor stored. */
    if (rs__props(&lc, route, &props, &plen) != 0) goto fail;
    if (bypass) RS_COUNTER_ADD(pc->bypass, 1);
    rs_render_uncached(req, bypass ? "X-Cache: BYPASS\r\n" : NULL, props, plen);
    goto out;
  }
  RS_COUNTER_ADD(pc->lookups, 1);
  if (route->hooks.key) {
    /* The hook's string is the key, as it is: it replaces the default. */
    if (rs_lhooks_key(&lc, &hkey, &klen) != 0) goto fail;
    key = hkey;
  } else {
    klen = rs_page_key(req->method.p, req->method.len, req->host.p, req->host.len, req->path.p,
                       req->path.len, req->query.p, req->query.len, kbuf, sizeof(kbuf), &key);
  }
  uint64_t hash = rs_cache_hash(loop->cache, key, klen);
  uint64_t now = uv_now(&loop->uv);

  rs_l1_ref_t *ref;
  rs_entry_t *e = loop->l1 ? rs_l1_get(loop->l1, hash, key, klen, now, &ref) : NULL;
  if (e != NULL) {
    RS_COUNTER_ADD(pc->hits_l1, 1);
    req->data = ref;
    rs_page_respond_entry(req, e, "HIT-L1", rs__release_l1, req);
    goto out;
  }

  if (pc->spare == NULL) pc->spare = rs__waiter_new(loop);
  rs_page_waiter_t *pw = pc->spare;
  switch (rs_cache_lookup(loop->cache, hash, key, klen, rs_now_ms(), &e, &pw->w)) {
    case RS_LOOKUP_HIT:
      RS_COUNTER_ADD(pc->hits_l2, 1);
      if (loop->l1 != NULL) rs_l1_offer(loop->l1, e, now);
      rs_page_respond_entry(req, e, "HIT-L2", rs__release_entry, e);
      break;
    case RS_LOOKUP_STALE:
      RS_COUNTER_ADD(pc->stale, 1);
      rs_page_respond_entry(req, e, "STALE", rs__release_entry, e);
      break;
    case RS_LOOKUP_STALE_REFRESH:
      RS_COUNTER_ADD(pc->stale, 1);
      if (rs__props(&lc, route, &props, &plen) == 0) {
        rs__flight_start(req, NULL, route, key, klen, hash, props, plen);
      } else {                   /* no refresh: the stale page stays (stale-if-error) */
        rs_waiter_t *w = rs_cache_complete(loop->cache, hash, key, klen, NULL, false);
        for (rs_waiter_t *next; w != NULL; w = next) {
          next = w->next;
          w->wake(w, NULL, 500);
        }
      }
      rs_page_respond_entry(req, e, "STALE", rs__release_entry, e);
      break;
    case RS_LOOKUP_MISS_LEADER:
      RS_COUNTER_ADD(pc->misses, 1);
      if (rs__props(&lc, route, &props, &plen) != 0) {
        rs_waiter_t *w = rs_cache_complete(loop->cache, hash, key, klen, NULL, false);
        for (rs_waiter_t *next; w != NULL; w = next) {
          next = w->next;
          w->wake(w, NULL, 500);
        }
        rs_render_respond_error(req, 500);
        break;
      }
      if (rs__flight_start(req, req, route, key, klen, hash, props, plen) != 0)
        rs_render_respond_error(req, 503);
      break;
    case RS_LOOKUP_MISS_WAIT:
      RS_COUNTER_ADD(pc->misses, 1);
      RS_COUNTER_ADD(pc->coalesced, 1);
      pc->spare = NULL;          /* the cache holds it now */
      pw->req = req;
      pw->route = route;
      loop->pending_jobs++;
      break;
  }
  goto out;
fail:
  rs_render_respond_error(req, 500);
out:
  if (lua) rs_lhooks_end(&lc);
  if (key != kbuf) free(key);
  free(props);
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
  if (loop->page != NULL) free(loop->page->spare);
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
