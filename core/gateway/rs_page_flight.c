/* core/gateway/rs_page_flight.c — flights (one render per key: the leader's,
 * or a background refresh's), the requests waiting on them, and the render
 * producer that builds a flight's entry on a render thread (rs_page_int.h). */
#include "rs_page.h"
#include "rs_page_int.h"

#include "rs_log.h"
#include "rs_policy.h"
#include "rs_render.h"

#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------ flights and their waiters */

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
    rs_page_respond_entry(req, pw->entry, "MISS", rs_page__release_entry, pw->entry);
  } else if (pw->status == RS_PAGE__AGAIN) {
    rs_page__lookup_again(req, pw->route, pw->key, pw->klen);
  } else if (pw->status == RS_PAGE__OWN) {
    /* The page was not storable (e.g. it set a cookie): never share it;
     * this request renders its own (its props hook may wait). */
    rs_page_uncached(req, pw->route, rs_policy_bypass_extra(pw->route));
  } else {
    rs_render_respond_error(req, pw->status);
  }
  free(pw->key);
  free(pw);
  rs_loop_maybe_done(loop);
}

rs_page_waiter_t *rs_page__waiter_new(rs_loop_t *loop) {
  rs_page_waiter_t *pw = rs_xcalloc(1, sizeof(*pw));
  pw->w.wake = rs__wake;
  pw->task.run = rs__waiter_run;
  pw->loop = loop;
  return pw;
}

void rs_page__flight_free(rs_page_flight_t *fl) {
  free(fl->key);
  free(fl);
}

void rs_page__flight_fail(rs_loop_t *loop, uint64_t hash, const char *key, size_t key_len, int status,
                          bool background) {
  if (background && status != RS_PAGE__OWN) status = RS_PAGE__AGAIN;
  rs_waiter_t *w = rs_cache_complete(loop->cache, hash, key, key_len, NULL, false);
  for (rs_waiter_t *next; w != NULL; w = next) {
    next = w->next;
    w->wake(w, NULL, status);
  }
}

void rs_page__flight_complete(rs_page_flight_t *fl, rs_entry_t *e, int fail) {
  rs_loop_t *loop = fl->loop;
  if (e == NULL || !fl->storable) rs_page__fleet_unlock(loop, fl->key, fl->key_len, &fl->l3);
  if (e == NULL) {
    rs_page__flight_fail(loop, fl->hash, fl->key, fl->key_len, fail, fl->req == NULL);
    return;
  }
  bool store = fl->storable;
  if (!store) {                  /* not shared: each waiter renders its own */
    RS_COUNTER_ADD(rs_page__loop(loop)->c.uncacheable, 1);
    rs_page__flight_fail(loop, fl->hash, fl->key, fl->key_len, RS_PAGE__OWN, fl->req == NULL);
    return;
  }
  rs_page__fleet_store(loop, e, &fl->l3);
  rs_waiter_t *w = rs_cache_complete(loop->cache, fl->hash, fl->key, fl->key_len, e, true);
  for (rs_waiter_t *next; w != NULL; w = next) {
    next = w->next;
    rs_entry_ref(e);
    w->wake(w, e, 0);
  }
  rs_page_loop_t *pl = rs_page__loop(loop);
  if (pl->l1 != NULL) rs_l1_offer(pl->l1, e, uv_now(&loop->uv));
}

unsigned rs_page__defer_for(const rs_req_t *req) {
  if (req == NULL) return 0;
  const rs_str_t *ae = req->nheaders ? rs_req_header(req, "accept-encoding") : NULL;
  return rs_entry_defer_for(ae != NULL ? rs_entry_accepts(ae->p, ae->len) : 0);
}

rs_page_flight_t *rs_page__flight_new(rs_req_t *from, rs_req_t *req, const rs_route_t *route,
                                      const char *key, size_t key_len, uint64_t hash) {
  rs_loop_t *loop = from->loop;
  rs_page_flight_t *fl = rs_xcalloc(1, sizeof(*fl));
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

/* ------------------------------------------------------------------ the stored TTL */

/* A uniform draw in [0, 1): one xorshift64* per thread, seeded from the
 * clock and the thread's own address (no two render threads alike). */
static double rs__unit_rand(void) {
  static __thread uint64_t s;
  if (RS_UNLIKELY(s == 0)) s = (rs_now_ms() * 0x9E3779B97F4A7C15ull) ^ (uint64_t)(uintptr_t)&s ^ 1;
  s ^= s >> 12;
  s ^= s << 25;
  s ^= s >> 27;
  return (double)((s * 0x2545F4914F6CDD1Dull) >> 11) * (1.0 / 9007199254740992.0);
}

uint64_t rs_page__ttl(const rs_config_t *cfg, uint64_t ttl_ms, uint64_t *refresh_after_ms) {
  if (ttl_ms > 0 && cfg->cache.ttl_jitter > 0)
    ttl_ms -= (uint64_t)((double)ttl_ms * cfg->cache.ttl_jitter * rs__unit_rand());
  *refresh_after_ms = cfg->cache.prefresh > 0 ? (uint64_t)((double)ttl_ms * cfg->cache.prefresh) : 0;
  return ttl_ms;
}

/* ------------------------------------------------------------------ the render producer */

/* On the render thread: the finished page becomes the flight's entry
 * (variants included) when it may be stored. */
static void rs__after_render(rs_render_job_t *job) {
  rs_page_flight_t *fl = job->data;
  if (job->outcome != RS_RENDER_OK) return;
  const rs_config_t *cfg = fl->cfg;
  fl->storable = rs_policy_storable(fl->route, job->status, job->headers, job->headers_len);
  uint64_t ttl = job->ttl >= 0 ? (uint64_t)job->ttl * 1000
                 : fl->route_ttl_ms >= 0 ? (uint64_t)fl->route_ttl_ms : cfg->cache.ttl_ms;
  uint64_t grace = fl->route_grace_ms >= 0 ? (uint64_t)fl->route_grace_ms : cfg->cache.grace_ms;
  if (ttl == 0) fl->storable = false;
  uint64_t refresh_after;
  ttl = rs_page__ttl(cfg, ttl, &refresh_after);
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
    .ttl_ms = ttl, .grace_ms = grace, .refresh_after_ms = refresh_after, .epoch = fl->epoch,
    .bundle = cfg->render.bundle_id, .generation = cfg->generation,
    .gzip_level = cfg->cache.gzip_level, .brotli_quality = cfg->cache.brotli_quality,
    .min_compress = cfg->cache.min_compress, .defer = fl->defer,
  };
  fl->entry = rs_entry_build(&spec);
  job->body = spec.body_owned;   /* NULL when the entry adopted it */
  rs_buf_free(&hb);
}

static void rs__flight_done(rs_task_t *task) {
  rs_render_job_t *job = RS_CONTAINER_OF(task, rs_render_job_t, task);
  rs_page_flight_t *fl = job->data;
  rs_loop_t *loop = fl->loop;
  rs_req_t *req = fl->req;
  rs_entry_t *e = fl->entry;
  loop->pending_jobs--;

  int fail = rs_render_error_status(job->outcome);
  rs_page__flight_complete(fl, e, fail);

  if (req != NULL) {
    if (e != NULL) {
      rs_render_job_free(job);
      rs_page_respond_entry(req, e, "MISS", rs_page__release_entry, e);
    } else {
      rs_page__log_xcache(req, "X-Cache: MISS\r\n");
      rs_render_respond(req, job, "X-Cache: MISS\r\n");
    }
  } else {                       /* a background refresh */
    if (e == NULL) {
      RS_COUNTER_ADD(rs_page__loop(loop)->c.refresh_failed, 1);
      rs_log_warn("refresh of %.*s failed (%s%s%s): serving the stale page while in grace",
                  (int)RS_MIN(fl->key_len, 512), fl->key, rs_render_outcome_label(job->outcome),
                  job->error ? ": " : "", job->error ? job->error : "");
    } else {
      rs_entry_release(e);
    }
    rs_render_job_free(job);
  }
  rs_page__flight_free(fl);
  rs_loop_maybe_done(loop);
}

int rs_page__render_start(rs_req_t *from, rs_req_t *req, const rs_route_t *route, const char *key,
                          size_t key_len, uint64_t hash, const char *props, size_t props_len,
                          const rs_page_l3_t *l3, const rs_entry_t *old) {
  rs_page_flight_t *fl = rs_page__flight_new(from, req, route, key, key_len, hash);
  rs_loop_t *loop = fl->loop;
  if (l3 != NULL) fl->l3 = *l3;
  fl->defer = req != NULL || old == NULL ? rs_page__defer_for(req) : old->deferred;
  rs_render_job_t *job = rs_render_job_new(from, route, props, props_len);
  if (job != NULL) {
    job->task.run = rs__flight_done;
    job->inbox = &loop->inbox;
    job->data = fl;
    job->after_render = rs__after_render;
    /* A refresh ahead is due by the page's expiry, a stale one's by the end of its grace. */
    if (old != NULL)
      job->due_ms = rs_entry_expiry(old) + (rs_entry_fresh(old, rs_now_ms()) ? 0 : old->grace_ms);
    /* The pool of the request's generation: across a reload, the bundle it started with. */
    if (rs_pool_submit_ex(rs_req_gen(from) ? rs_req_gen(from)->pool : loop->pool, job, req == NULL) == 0) {
      loop->pending_jobs++;
      return 0;
    }
    rs_render_job_free(job);
  }
  /* Nothing will complete this flight: fail it now, waiters included. */
  rs_page__fleet_unlock(loop, key, key_len, &fl->l3);
  rs_page__flight_fail(loop, hash, key, key_len, 503, req == NULL);
  rs_page__flight_free(fl);
  return 503;
}
