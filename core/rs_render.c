/* core/rs_render.c — see rs_render.h. */
#include "rs_render.h"

#include "rs_log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char rs__html[] = "Content-Type: text/html\r\n";

size_t rs_url_decode(char *dst, const char *src, size_t len, bool plus) {
  static const signed char hex[256] = {
    ['0'] = 1, ['1'] = 2, ['2'] = 3, ['3'] = 4, ['4'] = 5, ['5'] = 6, ['6'] = 7, ['7'] = 8,
    ['8'] = 9, ['9'] = 10, ['a'] = 11, ['b'] = 12, ['c'] = 13, ['d'] = 14, ['e'] = 15,
    ['f'] = 16, ['A'] = 11, ['B'] = 12, ['C'] = 13, ['D'] = 14, ['E'] = 15, ['F'] = 16,
  };
  size_t o = 0;
  for (size_t i = 0; i < len; i++) {
    unsigned char c = (unsigned char)src[i];
    if (c == '%' && i + 2 < len && hex[(unsigned char)src[i + 1]] && hex[(unsigned char)src[i + 2]]) {
      dst[o++] = (char)((hex[(unsigned char)src[i + 1]] - 1) * 16 + hex[(unsigned char)src[i + 2]] - 1);
      i += 2;
    } else {
      dst[o++] = plus && c == '+' ? ' ' : (char)c;
    }
  }
  return o;
}

/* A job and, after it, its pairs and decoded query bytes: one allocation. */
typedef struct {
  rs_render_job_t job;
  rs_req_t *req;
} rs__render_t;

static void rs__on_abort(rs_req_t *req) {
  rs_render_job_t *job = req->data;
  /* relaxed: see rs_render_job_t.cancelled */
  __atomic_store_n(&job->cancelled, 1, __ATOMIC_RELAXED);
}

static void rs__free_body(void *p) { free(p); }
static void rs__free_job(void *job) { rs_render_job_free(job); }

static char *rs__html_escape(const char *s, size_t n, size_t *out_len) {
  rs_buf_t b = { 0 };
  for (size_t i = 0; i < n; i++) {
    switch (s[i]) {
      case '<': rs_buf_append(&b, "&lt;", 4); break;
      case '>': rs_buf_append(&b, "&gt;", 4); break;
      case '&': rs_buf_append(&b, "&amp;", 5); break;
      case '"': rs_buf_append(&b, "&quot;", 6); break;
      default: rs_buf_append(&b, s + i, 1); break;
    }
  }
  *out_len = b.len;
  return b.p;
}

static void rs__respond_error(rs_req_t *req, int status, bool retry) {
  rs_str_t page = rs_http_error_page(status);
  rs_req_respond_static(req, status,
                        retry ? "Content-Type: text/html\r\nRetry-After: 1\r\n" : rs__html,
                        page.p, page.len);
}

static void rs__done(rs_task_t *task) {
  rs_render_job_t *job = RS_CONTAINER_OF(task, rs_render_job_t, task);
  rs__render_t *rj = (rs__render_t *)job;
  rs_req_t *req = rj->req;
  rs_loop_t *loop = req->loop;
  loop->pending_jobs--;
  req->on_abort = NULL;

  switch (job->outcome) {
    case RS_RENDER_OK: {
      /* The job is released with the response: body and headers are its,
       * and leave without a copy. */
      rs_resp_t resp = { .status = job->status, .headers = job->headers,
                         .headers_len = job->headers_len, .body = job->body ? job->body : "",
                         .body_len = job->body_len, .release = rs__free_job, .release_ud = job };
      rs_req_respond(req, &resp);
      break;
    }
    case RS_RENDER_ERROR:
      rs_log_error("render error for %.*s %.*s [req %llx]: %s", (int)req->method.len, req->method.p,
                   (int)RS_MIN(req->url.len, 512), req->url.p, (unsigned long long)req->id,
                   job->error ? job->error : "?");
      if (loop->cfg->render.debug && job->error != NULL) {
        size_t n;
        char *esc = rs__html_escape(job->error, strlen(job->error), &n);
        rs_buf_t b = { 0 };
        rs_buf_printf(&b, "<!doctype html><html><head><title>500 render error</title></head><body>"
                          "<h1>500 render error</h1><pre>%s</pre><hr>rustyssr (render.debug = true)"
                          "</body></html>\n", esc);
        free(esc);
        rs_render_job_free(job);
        rs_resp_t resp = { .status = 500, .headers = rs__html, .headers_len = sizeof(rs__html) - 1,
                           .body = b.p, .body_len = b.len, .release = rs__free_body, .release_ud = b.p };
        rs_req_respond(req, &resp);
        break;
      }
      rs_render_job_free(job);
      rs__respond_error(req, 500, false);
      break;
    case RS_RENDER_TIMEOUT:
      rs_log_error("render timed out after %llu ms for %.*s [req %llx]",
                   (unsigned long long)loop->cfg->render.timeout_ms, (int)RS_MIN(req->url.len, 512),
                   req->url.p, (unsigned long long)req->id);
      rs_render_job_free(job);
      rs__respond_error(req, 504, false);
      break;
    case RS_RENDER_OOM:
      rs_log_error("render hit the heap limit (%d MB) for %.*s [req %llx]: isolate replaced",
                   loop->cfg->render.heap_mb, (int)RS_MIN(req->url.len, 512), req->url.p,
                   (unsigned long long)req->id);
      rs_render_job_free(job);
      rs__respond_error(req, 503, true);
      break;
    default:                     /* expired in the queue, or nobody to answer */
      rs_render_job_free(job);
      rs__respond_error(req, 503, true);
      break;
  }
  if (loop->draining && loop->nconns == 0 && loop->pending_jobs == 0) uv_async_send(&loop->wake);
}

void rs_render_request(rs_req_t *req, const rs_route_t *route) {
  rs_loop_t *loop = req->loop;
  (void)route;

  /* Count query pairs to size the one allocation. */
  size_t nq = 0;
  for (size_t i = 0; i < req->query.len; i++)
    if (req->query.p[i] == '&') nq++;
  if (req->query.len > 0) nq++;
  size_t size = sizeof(rs__render_t) + (nq + req->nheaders) * sizeof(rs_v8_pair_t) + req->query.len + 1;
  rs__render_t *rj = calloc(1, size);
  if (rj == NULL) {
    rs__respond_error(req, 503, true);
    return;
  }
  rs_render_job_t *job = &rj->job;
  rj->req = req;
  rs_v8_pair_t *hdrs = (rs_v8_pair_t *)(rj + 1);
  rs_v8_pair_t *query = hdrs + req->nheaders;
  char *qbuf = (char *)(query + nq);

  for (size_t i = 0; i < req->nheaders; i++) {
    hdrs[i] = (rs_v8_pair_t){ req->headers[i].name.p, req->headers[i].name.len,
                              req->headers[i].value.p, req->headers[i].value.len };
  }
  /* Query: split on '&', then '='; names and values percent-decoded with
   * '+' as space, as Node's querystring does. Empty pieces ("a&&b") skip. */
  size_t n = 0, o = 0;
  const char *q = req->query.p, *end = req->query.p + req->query.len;
  while (q < end) {
    const char *amp = memchr(q, '&', (size_t)(end - q));
    const char *stop = amp ? amp : end;
    if (stop > q) {
      const char *eq = memchr(q, '=', (size_t)(stop - q));
      const char *kend = eq ? eq : stop;
      query[n].name = qbuf + o;
      query[n].name_len = rs_url_decode(qbuf + o, q, (size_t)(kend - q), true);
      o += query[n].name_len;
      query[n].value = qbuf + o;
      query[n].value_len = eq ? rs_url_decode(qbuf + o, eq + 1, (size_t)(stop - eq - 1), true) : 0;
      o += query[n].value_len;
      n++;
    }
    q = stop + 1;
  }

  job->req = (rs_v8_request_t){
    .id = req->id,
    .url = req->url.p, .url_len = req->url.len,
    .method = req->method.p, .method_len = req->method.len,
    .path = req->path.p, .path_len = req->path.len,
    .query = query, .nquery = n,
    .headers = hdrs, .nheaders = req->nheaders,
  };
  job->task.run = rs__done;
  job->inbox = &loop->inbox;
  req->data = job;

  if (rs_pool_submit(loop->pool, job) != 0) {
    rs_log_warn("render queue full (%zu): 503 for %.*s", loop->cfg->render.queue,
                (int)RS_MIN(req->url.len, 512), req->url.p);
    req->data = NULL;
    free(rj);
    rs__respond_error(req, 503, true);
    return;
  }
  loop->pending_jobs++;
  req->on_abort = rs__on_abort;
}
