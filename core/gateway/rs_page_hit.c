/* core/gateway/rs_page_hit.c — HTTP from a stored page (rs_page.h:
 * rs_page_respond_entry): Age, X-Cache, If-None-Match → 304, the variant
 * Accept-Encoding picks, and the deferred variants a client asks for built
 * in the background. */
#include "rs_page.h"
#include "rs_page_int.h"

#include <stdio.h>
#include <stdlib.h>

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
    rs_page_loop_t *pl = rs_page__loop(loop);
    if (rs_cache_replace(loop->cache, c->partial, c->full) == 0 && pl->l1 != NULL)
      rs_l1_offer(pl->l1, c->full, uv_now(&loop->uv));
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

/* ------------------------------------------------------------------ the answer */

void rs_page_respond_entry(rs_req_t *req, rs_entry_t *e, const char *xcache,
                           void (*release)(void *ud), void *ud) {
  rs_loop_t *loop = req->loop;
  req->compress = NULL;          /* its variants are the cache's, never filtered */
  static const char *const enc_line[RS_ENC_MAX] = {
    "", "Content-Encoding: gzip\r\n", "Content-Encoding: br\r\n"
  };
  long age = (long)(loop->now_unix - e->created_unix);
  if (age < 0) age = 0;
  rs_req_log_set(req, RS_LOG_F_CACHE_STATUS, xcache, strlen(xcache));   /* $cache_status */
  char extra[128];
  rs_resp_t resp = { .status = e->status, .headers = e->headers, .headers_len = e->headers_len,
                     .release = release, .release_ud = ud, .extra = extra };

  const rs_str_t *inm = req->nheaders ? rs_req_header(req, "if-none-match") : NULL;
  if (inm != NULL && e->status == 200 && rs_http_etag_match(inm, e->etag, e->etag_len)) {
    RS_COUNTER_ADD(rs_page__loop(loop)->c.not_modified, 1);
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

void rs_page__release_entry(void *e) { rs_entry_release(e); }

void rs_page__release_l1(void *ud) {
  /* The request carries its L1 borrow; requests are released on their
   * own loop, which owns that L1. */
  rs_req_t *req = ud;
  rs_l1_put(rs_page__loop(req->loop)->l1, req->data);
  req->data = NULL;
}
