/* core/gateway/rs_render.c — see rs_render.h. */
#include "rs_render.h"

#include "rs_errpage.h"

#include "rs_key.h"
#include "rs_log.h"
#include "rs_policy.h"
#include "rs_realip.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char rs__html[] = "Content-Type: text/html\r\n";

static char *rs__copy(char **p, const char *s, size_t n) {
  char *d = *p;
  memcpy(d, s, n);
  *p += n;
  return d;
}

/* Does the bundle see header h of req (rs_route_page_sees)? */
static bool rs__sees(const rs_req_t *req, const rs_route_t *shared, const rs_header_t *h, bool trusted) {
  return rs_route_page_sees(shared, h->name.p, h->name.len,
                            !trusted && rs_realip_claim(req, h->name.p, h->name.len));
}

rs_render_job_t *rs_render_job_new(rs_req_t *req, const rs_route_t *shared, const char *props,
                                   size_t props_len) {
  /* One allocation: the job, the pairs, then the bytes they point to. */
  rs_realip_t rip;
  rs_realip_resolve(req, &rip);
  size_t nq = 0, pos = 0;
  rs_query_param_t qp;
  while (rs_query_next(req->query.p, req->query.len, &pos, &qp)) nq++;
  size_t bytes = req->url.len + req->method.len + req->path.len + req->query.len + props_len;
  const rs_route_match_t *m = rs_req_match(req);   /* the route's :params (rs_dispatch.c) */
  size_t np = m != NULL ? m->nparams : 0;
  for (size_t i = 0; i < np; i++) bytes += m->params[i].name.len + m->params[i].value.len;
  size_t nh = 0;
  for (size_t i = 0; i < req->nheaders; i++) {
    if (!rs__sees(req, shared, &req->headers[i], rip.trusted)) continue;
    bytes += req->headers[i].name.len + req->headers[i].value.len;
    nh++;
  }
  /* A stored page sees the cookies its route names, and only those (in
   * its key): one Cookie header rebuilt from them. */
  rs_buf_t ck = { 0 };
  if (rs_policy_page_cookie(req, shared, &ck) > 0) {
    bytes += 6 + ck.len;
    nh++;
  }
  size_t size = sizeof(rs_render_job_t) + (nq + nh + np) * sizeof(rs_v8_pair_t) + bytes + 1;
  rs_render_job_t *job = calloc(1, size);
  if (job == NULL) {
    rs_buf_free(&ck);
    return NULL;
  }
  rs_v8_pair_t *hdrs = (rs_v8_pair_t *)(job + 1);
  rs_v8_pair_t *params = hdrs + nh;
  rs_v8_pair_t *query = params + np;
  char *p = (char *)(query + nq);
  for (size_t i = 0; i < np; i++) {
    const rs_route_param_t *h = &m->params[i];
    params[i].name = rs__copy(&p, h->name.p, h->name.len);
    params[i].name_len = h->name.len;
    params[i].value = rs__copy(&p, h->value.p, h->value.len);
    params[i].value_len = h->value.len;
  }

  nh = 0;
  for (size_t i = 0; i < req->nheaders; i++) {
    const rs_header_t *h = &req->headers[i];
    if (!rs__sees(req, shared, h, rip.trusted)) continue;
    hdrs[nh].name = rs__copy(&p, h->name.p, h->name.len);
    hdrs[nh].name_len = h->name.len;
    size_t vlen = h->value.len;
    if (shared != NULL && rs_str_ieq(h->name.p, h->name.len, "host", 4)) {
      /* The host as the key holds it: lower-case, no port (two spellings of
       * one key must render one page). */
      vlen = rs_key_host_len(h->value.p, vlen);
      char *v = rs__copy(&p, h->value.p, vlen);
      for (size_t k = 0; k < vlen; k++)
        if (v[k] >= 'A' && v[k] <= 'Z') v[k] = (char)(v[k] + 32);
      hdrs[nh].value = v;
    } else {
      hdrs[nh].value = rs__copy(&p, h->value.p, vlen);
    }
    hdrs[nh].value_len = vlen;
    nh++;
  }
  if (ck.len > 0) {
    hdrs[nh].name = rs__copy(&p, "cookie", 6);
    hdrs[nh].name_len = 6;
    hdrs[nh].value = rs__copy(&p, ck.p, ck.len);
    hdrs[nh].value_len = ck.len;
    nh++;
  }
  rs_buf_free(&ck);
  /* Query: split on '&', then '='; names and values percent-decoded with
   * '+' as a space, as Node's querystring does. Empty pieces ("a&&b") skip. */
  size_t n = 0;
  pos = 0;
  while (rs_query_next(req->query.p, req->query.len, &pos, &qp)) {
    query[n].name = p;
    query[n].name_len = rs_url_decode(p, qp.name.p, qp.name.len, true);
    p += query[n].name_len;
    query[n].value = p;
    query[n].value_len = rs_url_decode(p, qp.value.p, qp.value.len, true);
    p += query[n].value_len;
    n++;
  }
  job->req = (rs_v8_request_t){
    .id = req->id,
    .url = rs__copy(&p, req->url.p, req->url.len), .url_len = req->url.len,
    .method = rs__copy(&p, req->method.p, req->method.len), .method_len = req->method.len,
    .path = rs__copy(&p, req->path.p, req->path.len), .path_len = req->path.len,
    .query = query, .nquery = n,
    .params = params, .nparams = np,
    .headers = hdrs, .nheaders = nh,
  };
  if (props_len > 0) {
    job->req.props_json = rs__copy(&p, props, props_len);
    job->req.props_len = props_len;
  }
  return job;
}

static char *rs__html_escape(const char *s, size_t n) {
  rs_buf_t b = { 0 };
  rs_buf_reserve(&b, n + 1);
  for (size_t i = 0; i < n; i++) {
    switch (s[i]) {
      case '<': rs_buf_append(&b, "&lt;", 4); break;
      case '>': rs_buf_append(&b, "&gt;", 4); break;
      case '&': rs_buf_append(&b, "&amp;", 5); break;
      case '"': rs_buf_append(&b, "&quot;", 6); break;
      default: rs_buf_append(&b, s + i, 1); break;
    }
  }
  return b.p;
}

static void rs__free(void *p) { free(p); }
static void rs__free_job(void *job) { rs_render_job_free(job); }

int rs_render_error_status(rs_render_outcome_t o) {
  switch (o) {
    case RS_RENDER_OK: return 200;
    case RS_RENDER_ERROR: return 500;
    case RS_RENDER_TIMEOUT: return 504;
    default: return 503;
  }
}

void rs_render_respond_error(rs_req_t *req, int status) {
  rs_errpage_answer(req, status, status == 503 ? "Retry-After: 1\r\n" : NULL);
}

void rs_render_respond(rs_req_t *req, rs_render_job_t *job, const char *extra) {
  const rs_config_t *cfg = req->loop->cfg;
  const rs_v8_request_t *in = &job->req;
  unsigned long long id = (unsigned long long)in->id;
  int url_len = (int)RS_MIN(in->url_len, 512);
  size_t extra_len = extra ? strlen(extra) : 0;

  switch (job->outcome) {
    case RS_RENDER_OK: {
      /* The job is released with the response: body and headers are its,
       * and leave without a copy. */
      rs_resp_t resp = { .status = job->status, .headers = job->headers,
                         .headers_len = job->headers_len, .extra = extra, .extra_len = extra_len,
                         .body = job->body ? job->body : "", .body_len = job->body_len,
                         .release = rs__free_job, .release_ud = job };
      rs_req_respond(req, &resp);
      return;
    }
    case RS_RENDER_ERROR:
      rs_log_error("render error for %.*s [req %llx]: %s", url_len, in->url, id,
                   job->error ? job->error : "?");
      if (cfg->render.debug && job->error != NULL) {
        char *esc = rs__html_escape(job->error, strlen(job->error));
        rs_buf_t b = { 0 };
        rs_buf_printf(&b, "<!doctype html><html><head><title>500 render error</title></head><body>"
                          "<h1>500 render error</h1><pre>%s</pre><hr>rustyssr (render.debug = true)"
                          "</body></html>\n", esc);
        free(esc);
        rs_render_job_free(job);
        rs_resp_t resp = { .status = 500, .headers = rs__html, .headers_len = sizeof(rs__html) - 1,
                           .extra = extra, .extra_len = extra_len, .body = b.p, .body_len = b.len,
                           .release = rs__free, .release_ud = b.p };
        rs_req_respond(req, &resp);
        return;
      }
      break;
    case RS_RENDER_TIMEOUT:
      rs_log_error("render timed out after %llu ms for %.*s [req %llx]",
                   (unsigned long long)cfg->render.timeout_ms, url_len, in->url, id);
      break;
    case RS_RENDER_OOM:
      rs_log_error("render hit the heap limit (%d MB) for %.*s [req %llx]: %s", cfg->render.heap_mb,
                   url_len, in->url, id, job->error ? job->error : "isolate replaced");
      break;
    case RS_RENDER_EXPIRED:
      rs_log_warn("render for %.*s [req %llx] waited past %llu ms in the queue", url_len, in->url, id,
                  (unsigned long long)cfg->render.timeout_ms);
      break;
    default:
      break;
  }
  int status = rs_render_error_status(job->outcome);
  rs_render_job_free(job);
  rs_render_respond_error(req, status);
}

/* ------------------------------------------------------------------ uncached */

static void rs__uncached_abort(rs_req_t *req) {
  rs_render_job_t *job = req->data;
  /* relaxed: see rs_render_job_t.cancelled */
  __atomic_store_n(&job->cancelled, 1, __ATOMIC_RELAXED);
}

static void rs__uncached_done(rs_task_t *task) {
  rs_render_job_t *job = RS_CONTAINER_OF(task, rs_render_job_t, task);
  rs_req_t *req = job->data;
  rs_loop_t *loop = req->loop;
  loop->pending_jobs--;
  req->on_abort = NULL;
  req->data = NULL;
  rs_render_respond(req, job, job->_extra);
  rs_loop_maybe_done(loop);
}

void rs_render_uncached(rs_req_t *req, const char *extra, const char *props, size_t props_len) {
  rs_loop_t *loop = req->loop;
  rs_render_job_t *job = rs_render_job_new(req, NULL, props, props_len);
  if (job == NULL) {
    rs_render_respond_error(req, 503);
    return;
  }
  job->task.run = rs__uncached_done;
  job->inbox = &loop->inbox;
  job->data = req;
  job->_extra = extra;
  /* The pool of the request's generation: across a reload, the bundle it started with. */
  if (rs_pool_submit(rs_req_gen(req) ? rs_req_gen(req)->pool : loop->pool, job) != 0) {
    rs_log_warn("render queue full (%zu): 503 for %.*s", loop->cfg->render.queue,
                (int)RS_MIN(req->url.len, 512), req->url.p);
    rs_render_job_free(job);
    rs_render_respond_error(req, 503);
    return;
  }
  loop->pending_jobs++;
  req->data = job;
  req->on_abort = rs__uncached_abort;
}
