/* core/gateway/rs_errpage_render.c — an error page that is a path of the
 * bundle (error_page = { [404] = "/404" }): rendered with the original
 * status kept, through the page cache so a flood of errors costs one
 * render (rs_errpage.h). Beside rs_errpage.c so that the render module may
 * answer its own errors through the error pages without an include circle. */
#include "rs_errpage.h"

#include "rs_cache.h"
#include "rs_key.h"
#include "rs_log.h"
#include "rs_policy.h"
#include "rs_pool.h"
#include "rs_render.h"
#include "rs_router.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A render of an error page in flight, for one request. */
typedef struct {
  rs_req_t *req;
  int status;                    /* the status the answer keeps */
  const rs_config_t *cfg;        /* the request's generation's */
  rs_cache_t *cache;             /* NULL: the cache is off */
  uint64_t epoch, hash;
  rs_entry_t *entry;             /* built on the render thread */
  size_t key_len;
  char key[];
} rs__errjob_t;

static const char *rs__retry(int status) { return status == 503 ? "Retry-After: 1\r\n" : ""; }

static void rs__plain(rs_req_t *req, int status) { rs_req_respond_error(req, status, rs__retry(status)); }

static void rs__release_entry(void *e) { rs_entry_release(e); }

/* Answer req from e (a reference the answer takes) with status. */
static void rs__respond_entry(rs_req_t *req, rs_entry_t *e, int status, const char *xcache) {
  static const char *const enc_line[RS_ENC_MAX] = { "", "Content-Encoding: gzip\r\n", "Content-Encoding: br\r\n" };
  char extra[160];
  const rs_str_t *ae = req->nheaders ? rs_req_header(req, "accept-encoding") : NULL;
  rs_encoding_t v = rs_entry_pick(e, ae ? ae->p : NULL, ae ? ae->len : 0);
  rs_resp_t resp = { .status = status, .headers = e->headers, .headers_len = e->headers_len,
                     .body = e->body[v].p ? e->body[v].p : "", .body_len = e->body[v].len,
                     .release = rs__release_entry, .release_ud = e, .extra = extra };
  resp.extra_len = (size_t)snprintf(extra, sizeof(extra), "%s%sX-Cache: %s\r\n", enc_line[v], rs__retry(status),
                                    xcache);
  rs_req_respond(req, &resp);
}

static void rs__after_render(rs_render_job_t *job) {
  rs__errjob_t *ej = job->data;
  if (job->outcome != RS_RENDER_OK || job->status < 200 || job->status > 599) return;
  const rs_config_t *cfg = ej->cfg;
  uint64_t ttl = job->ttl >= 0 ? (uint64_t)job->ttl * 1000 : cfg->cache.ttl_ms;
  rs_entry_spec_t spec = {
    .key = ej->key, .key_len = ej->key_len, .hash = ej->hash,
    .status = job->status, .headers = job->headers, .headers_len = job->headers_len,
    .body = job->body ? job->body : "", .body_len = job->body_len, .body_owned = job->body,
    .ttl_ms = ttl, .grace_ms = cfg->cache.grace_ms, .epoch = ej->epoch,
    .bundle = cfg->render.bundle_id, .generation = cfg->generation,
    .gzip_level = cfg->cache.gzip_level, .brotli_quality = cfg->cache.brotli_quality,
    .min_compress = cfg->cache.min_compress,
  };
  ej->entry = rs_entry_build(&spec);
  job->body = spec.body_owned;   /* NULL when the entry adopted it */
}

static void rs__abort(rs_req_t *req) {
  rs_render_job_t *job = req->data;
  /* relaxed: see rs_render_job_t.cancelled */
  __atomic_store_n(&job->cancelled, 1, __ATOMIC_RELAXED);
}

static void rs__done(rs_task_t *task) {
  rs_render_job_t *job = RS_CONTAINER_OF(task, rs_render_job_t, task);
  rs__errjob_t *ej = job->data;
  rs_req_t *req = ej->req;
  rs_loop_t *loop = req->loop;
  loop->pending_jobs--;
  req->on_abort = NULL;
  req->data = NULL;
  rs_entry_t *e = ej->entry;
  if (e != NULL) {
    /* Kept for the next error of that status and path (unless the page
     * says it must not be: Set-Cookie, private, no-store, ttl 0). */
    if (ej->cache != NULL && e->ttl_ms > 0 && rs_policy_storable(NULL, 200, e->headers, e->headers_len))
      (void)rs_cache_put(ej->cache, e);
    rs__respond_entry(req, e, ej->status, "MISS");
  } else {
    rs_log_warn("error_page: the render of %.*s for a %d failed (%s%s%s): the plain page instead",
                (int)RS_MIN(job->req.path_len, 256), job->req.path, ej->status,
                rs_render_outcome_label(job->outcome), job->error ? ": " : "", job->error ? job->error : "");
    rs__plain(req, ej->status);
  }
  free(ej);
  rs_render_job_free(job);
  rs_loop_maybe_done(loop);
}

/* The render of target for req, through the page cache. */
bool rs_errpage__render(rs_req_t *req, rs_loop_gen_t *lg, const char *target, int status) {
  rs_loop_t *loop = req->loop;
  if (lg->pool == NULL) return false;
  rs_key_t k;
  char kbuf[512];
  rs_key_init(&k, kbuf, sizeof(kbuf));
  rs_key_url(&k, "GET", 3, req->host.p ? req->host.p : "", req->host.len, target, strlen(target), NULL, 0);
  static const char field[] = "\n!error_page";
  rs_key_header(&k, field + 1, sizeof(field) - 2, false);   /* "\n!error_page": no header's name */
  rs_cache_t *cache = loop->cache;
  uint64_t hash = cache != NULL ? rs_cache_hash(cache, k.p, k.len) : 0;
  rs_entry_t *e = cache != NULL ? rs_cache_get(cache, hash, k.p, k.len, rs_now_ms()) : NULL;
  if (e != NULL) {
    rs_key_dispose(&k);
    rs__respond_entry(req, e, status, "HIT");
    return true;
  }
  /* What a stored page sees: Host only (the key holds nothing else). */
  static const rs_route_t shared_none;
  rs_render_job_t *job = rs_render_job_new(req, &shared_none, NULL, 0);
  if (job == NULL) {
    rs_key_dispose(&k);
    return false;
  }
  rs__errjob_t *ej = rs_xcalloc(1, sizeof(*ej) + k.len + 1);
  ej->req = req;
  ej->status = status;
  ej->cfg = lg->cfg;
  ej->cache = cache;
  ej->hash = hash;
  ej->epoch = cache != NULL ? rs_cache_epoch(cache) : 0;
  memcpy(ej->key, k.p, k.len);
  ej->key_len = k.len;
  rs_key_dispose(&k);
  /* The bundle renders GET target, without query or params. */
  job->req.method = "GET";
  job->req.method_len = 3;
  job->req.url = job->req.path = target;
  job->req.url_len = job->req.path_len = strlen(target);
  job->req.nquery = 0;
  job->req.nparams = 0;
  job->task.run = rs__done;
  job->inbox = &loop->inbox;
  job->data = ej;
  job->after_render = rs__after_render;
  if (rs_pool_submit(lg->pool, job) != 0) {
    free(ej);
    rs_render_job_free(job);
    return false;
  }
  loop->pending_jobs++;
  req->data = job;
  req->on_abort = rs__abort;
  return true;
}

