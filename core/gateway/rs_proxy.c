/* core/gateway/rs_proxy.c — see rs_proxy.h.
 *
 * A proxied request is a small state (rs__proxy_t) between the client's
 * request (rs_conn) and an upstream exchange (rs_upstream). Either side may
 * end first: the exchange ends with on_done (or is cancelled when the
 * client goes: on_abort); the state is freed when both are settled. Calls
 * that may re-enter (the client's close inside a write, an exchange
 * callback inside another) only set flags while `depth` > 0; the outermost
 * frame settles. */
#include "rs_proxy.h"

#include "rs_errpage.h"

#include "rs_log.h"
#include "rs_realip.h"
#include "rs_upstream.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
  rs_req_t *req;
  const rs_route_t *route;
  rs_uhttp_t *x;
  int depth;
  bool started;                  /* the head went to the client (streaming) */
  bool held;                     /* the upstream's head came, not yet sent: it waits
                                  * for the first body bytes or the end of the read,
                                  * to leave with them in one write */
  int hstatus;
  int64_t hclen;
  rs_buf_t hb;                   /* the held head's headers */
  bool aborted;                  /* the client went */
  bool done;                     /* the exchange ended (x is gone) */
  int err;                       /* its error, when done */
  uint64_t start_us;             /* the exchange's start ($upstream_response_time) */
} rs__proxy_t;


/* Hop-by-hop: the one list (rs_http_hop_by_hop), and what Connection names. */
static bool rs__hop(const rs_str_t *conn, size_t nconn, const rs_str_t *n) {
  return rs_http_hop_by_hop(n->p, n->len) || rs_http_conn_lists(conn, nconn, n->p, n->len);
}

static bool rs__request_id_ok(const rs_str_t *v) {
  if (v->len == 0 || v->len > 128) return false;
  for (size_t i = 0; i < v->len; i++) {
    char ch = v->p[i];
    bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '.' ||
              ch == '_' || ch == '-' || ch == ':';
    if (!ok) return false;
  }
  return true;
}

static bool rs__idempotent(const rs_str_t *m) {
  static const char *const names[] = { "GET", "HEAD", "PUT", "DELETE", "OPTIONS" };
  for (size_t i = 0; i < RS_ARRAY_SIZE(names); i++)
    if (m->len == strlen(names[i]) && memcmp(m->p, names[i], m->len) == 0) return true;
  return false;
}

void rs_proxy_target(rs_buf_t *b, const rs_req_t *req, const rs_route_t *route) {
  if (route->proxy.path == NULL) {
    rs_buf_append(b, req->url.p, req->url.len);
    return;
  }
  const char *pre = route->proxy.path, *rest = "";
  size_t rest_len = 0;
  if (route->_is_prefix) {
    size_t skip = RS_MIN(route->_prefix_len, req->path.len);
    rest = req->path.p + skip;
    rest_len = req->path.len - skip;
    /* "/v1/" + "/x" must not give "//x" */
    size_t pl = strlen(pre);
    if (pl > 0 && pre[pl - 1] == '/' && rest_len > 0 && rest[0] == '/') rest++, rest_len--;
  }
  if (pre[0] == '\0' && rest_len == 0) pre = "/";
  rs_buf_append(b, pre, strlen(pre));
  rs_buf_append(b, rest, rest_len);
  if (req->query.len) {
    rs_buf_append(b, "?", 1);
    rs_buf_append(b, req->query.p, req->query.len);
  }
}

/* X-Forwarded-For (core/http/rs_realip.h: the resolved client, the trusted hops,
 * the peer), -Proto and -Host (a trusted proxy's own, else ours) lines. */
void rs_proxy_forwarded(rs_req_t *req, rs_buf_t *b, bool shared) {
  rs_realip_t r;
  rs_realip_resolve(req, &r);
  if (shared) r.trusted = false;  /* a stored answer may depend only on its key */
  rs_buf_append(b, "X-Forwarded-For: ", 17);
  rs_realip_xff(&r, b);
  rs_buf_append(b, "\r\n", 2);
  const rs_str_t *v = rs_realip_header(&r, req, "x-forwarded-proto");
  if (v != NULL && (rs_str_ieq(v->p, v->len, "https", 5) || rs_str_ieq(v->p, v->len, "http", 4)))
    rs_buf_header(b, "X-Forwarded-Proto", 17, v->p, v->len);
  else if (req->tls)
    rs_buf_append(b, "X-Forwarded-Proto: https\r\n", 26);
  else
    rs_buf_append(b, "X-Forwarded-Proto: http\r\n", 25);
  v = rs_realip_header(&r, req, "x-forwarded-host");
  if (v == NULL || v->len == 0) v = req->host.len ? &req->host : NULL;
  if (v != NULL) rs_buf_header(b, "X-Forwarded-Host", 16, v->p, v->len);
}

void rs_proxy_request_id(const rs_req_t *req, rs_buf_t *b) {
  const rs_str_t *rid = rs_req_header(req, "x-request-id");
  if (rid != NULL && rs__request_id_ok(rid))
    rs_buf_header(b, "X-Request-Id", 12, rid->p, rid->len);
  else
    rs_buf_printf(b, "X-Request-Id: %016llx\r\n", (unsigned long long)req->id);
}

/* The request line and headers for the upstream. */
static char *rs__build_head(rs_req_t *req, const rs_route_t *route, size_t *len) {
  rs_buf_t b = { 0 };
  rs_buf_reserve(&b, 1024);     /* one allocation for most requests */
  rs_buf_append(&b, req->method.p, req->method.len);
  rs_buf_append(&b, " ", 1);
  rs_proxy_target(&b, req, route);
  rs_buf_append(&b, " HTTP/1.1\r\n", 11);

  /* Host */
  switch (route->proxy.host_mode) {
    case RS_PROXY_HOST_LITERAL:
      rs_buf_printf(&b, "Host: %s\r\n", route->proxy.host);
      break;
    case RS_PROXY_HOST_UPSTREAM:
      rs_buf_printf(&b, "Host: %s\r\n", route->proxy.upstream);
      break;
    default:
      if (req->host.len) rs_buf_header(&b, "Host", 4, req->host.p, req->host.len);
      else rs_buf_printf(&b, "Host: %s\r\n", route->proxy.upstream);
      break;
  }

  /* The Connection header's values, to drop the headers they name. */
  rs_str_t conn[8];
  size_t nconn = 0;
  for (size_t i = 0; i < req->nheaders; i++) {
    const rs_header_t *h = &req->headers[i];
    if (rs_str_ieq(h->name.p, h->name.len, "connection", 10) && nconn < RS_ARRAY_SIZE(conn))
      conn[nconn++] = h->value;
  }
  for (size_t i = 0; i < req->nheaders; i++) {
    const rs_header_t *h = &req->headers[i];
    const rs_str_t *n = &h->name;
    if (rs__hop(conn, nconn, n)) continue;
    if (rs_str_ieq(n->p, n->len, "host", 4) || rs_str_ieq(n->p, n->len, "content-length", 14) ||
        rs_str_ieq(n->p, n->len, "expect", 6))
      continue;
    /* Forwarding claims (X-Forwarded-*, X-Real-IP, Forwarded, real_ip's
     * header): written below from what the gateway knows or trusts. */
    if (rs_realip_claim(req, n->p, n->len)) continue;
    if (rs_str_ieq(n->p, n->len, "x-request-id", 12)) continue;   /* rs_proxy_request_id */
    rs_buf_header(&b, n->p, n->len, h->value.p, h->value.len);
  }
  rs_proxy_forwarded(req, &b, false);
  rs_proxy_request_id(req, &b);
  if (req->body_streamed) {
    if (req->body_length >= 0) rs_buf_printf(&b, "Content-Length: %lld\r\n", (long long)req->body_length);
    else rs_buf_append(&b, "Transfer-Encoding: chunked\r\n", 28);
    rs_buf_append(&b, "\r\n", 2);
    *len = b.len;
    return b.p;
  }
  bool body_method = req->body_len > 0 || (req->method.len == 4 && memcmp(req->method.p, "POST", 4) == 0) ||
                     (req->method.len == 3 && memcmp(req->method.p, "PUT", 3) == 0) ||
                     (req->method.len == 5 && memcmp(req->method.p, "PATCH", 5) == 0);
  if (body_method) rs_buf_printf(&b, "Content-Length: %zu\r\n", req->body_len);
  rs_buf_append(&b, "\r\n", 2);
  *len = b.len;
  return b.p;
}

/* ------------------------------------------------------------------ settling */

static void rs__error(rs__proxy_t *p, int status, int err) {
  rs_req_t *req = p->req;
  rs_log_warn("proxy %.*s %.*s [req %llx]: upstream %s: server %s: %s → %d", (int)req->method.len,
              req->method.p, (int)RS_MIN(req->url.len, 512), req->url.p, (unsigned long long)req->id,
              p->route->proxy.upstream, p->x ? rs_uhttp_server(p->x) : "-", rs_fetch_strerror(err), status);
  rs_errpage_answer(req, status, NULL);
}

/* Called at depth 0 after anything happened: end what can be ended. */
static void rs__settle(rs__proxy_t *p) {
  if (p->depth > 0) return;
  if (p->done || p->aborted) {
    p->req->on_body = NULL;      /* the rest of a streamed body is not ours */
    if (!p->aborted) rs_req_body_pause(p->req, false);
  }
  if (p->aborted) {
    /* The client went: drop the exchange; hand the request back. */
    p->held = false;
    rs_buf_free(&p->hb);
    if (!p->done && p->x != NULL) rs_uhttp_cancel(p->x);
    p->x = NULL;
    if (p->started) rs_req_stream_end(p->req, false);
    else rs_req_respond_static(p->req, 502, NULL, NULL, 0);  /* only releases */
    free(p);
    return;
  }
  if (!p->done) return;
  rs_req_t *req = p->req;
  req->on_abort = NULL;
  req->on_drain = NULL;
  if (p->err == 0) {
    rs_req_stream_end(req, true);
  } else if (!p->started) {
    rs__error(p, p->err == -ETIMEDOUT ? 504 : 502, p->err);
  } else {
    rs_log_warn("proxy %.*s %.*s [req %llx]: upstream %s: server %s: %s after the response began; "
                "closing the client connection", (int)req->method.len, req->method.p,
                (int)RS_MIN(req->url.len, 512), req->url.p, (unsigned long long)req->id,
                p->route->proxy.upstream, p->x ? rs_uhttp_server(p->x) : "-", rs_fetch_strerror(p->err));
    rs_req_stream_end(req, false);
  }
  free(p);
}

static void rs__on_abort(rs_req_t *req) {
  rs__proxy_t *p = req->data;
  p->aborted = true;
  rs__settle(p);
}

static void rs__on_drain(rs_req_t *req) {
  rs__proxy_t *p = req->data;
  if (!p->done && p->x != NULL) rs_uhttp_pause(p->x, false);
}

/* ------------------------------------------------------------------ exchange callbacks */

static void rs__on_head(void *ud, int status, const rs_fetch_header_t *h, size_t n, int64_t clen, bool chunked,
                        bool to_eof) {
  rs__proxy_t *p = ud;
  (void)to_eof;
  if (p->aborted) return;
  rs_str_t conn[8];
  size_t nconn = 0;
  for (size_t i = 0; i < n; i++)
    if (rs_str_ieq(h[i].name.p, h[i].name.len, "connection", 10) && nconn < RS_ARRAY_SIZE(conn))
      conn[nconn++] = h[i].value;
  rs_buf_t b = { 0 };
  for (size_t i = 0; i < n; i++) {
    const rs_str_t *nm = &h[i].name;
    if (rs__hop(conn, nconn, nm)) continue;
    if (rs_str_ieq(nm->p, nm->len, "content-length", 14) || rs_str_ieq(nm->p, nm->len, "date", 4) ||
        rs_str_ieq(nm->p, nm->len, "server", 6))
      continue;
    rs_buf_header(&b, nm->p, nm->len, h[i].value.p, h[i].value.len);
  }
  /* Held until the first body bytes, the end of the exchange or the end
   * of this read (rs__on_read_end), whichever comes first. */
  p->held = true;
  p->hstatus = status;
  /* For the access log (rs_logfmt.h), written when the head goes out: the
   * time to the upstream's head, nginx's $upstream_header_time. */
  char v[32];
  uint64_t us = rs_now_us() - p->start_us;
  int vn = snprintf(v, sizeof(v), "%llu.%03llu", (unsigned long long)(us / 1000000),
                    (unsigned long long)(us / 1000 % 1000));
  rs_req_log_set(p->req, RS_LOG_F_UPSTREAM_RESPONSE_TIME, v, (size_t)vn);
  vn = snprintf(v, sizeof(v), "%d", status);
  rs_req_log_set(p->req, RS_LOG_F_UPSTREAM_STATUS, v, (size_t)vn);
  p->hclen = chunked ? -1 : clen;
  p->hb = b;
}

/* Send the held head, with the body's first n bytes. */
static void rs__send_head(rs__proxy_t *p, const char *data, size_t n) {
  p->held = false;
  p->started = true;
  p->depth++;
  rs_req_stream_start_body(p->req, p->hstatus, p->hb.p ? p->hb.p : "", p->hb.len, p->hclen, data, n);
  p->depth--;
  rs_buf_free(&p->hb);
}

static void rs__on_read_end(void *ud) {
  rs__proxy_t *p = ud;
  if (p->aborted || !p->held) return;
  rs__send_head(p, NULL, 0);
  if (p->aborted) rs__settle(p);   /* cancels the exchange: nothing more comes */
}

static void rs__on_body(void *ud, const char *data, size_t n) {
  rs__proxy_t *p = ud;
  if (p->aborted) return;
  bool go = true;
  if (p->held) {
    rs__send_head(p, data, n);
  } else {
    p->depth++;
    go = rs_req_stream_write(p->req, data, n);
    p->depth--;
  }
  if (p->aborted) {
    rs__settle(p);
    return;
  }
  if (!go) rs_uhttp_pause(p->x, true);   /* until on_drain */
}

static void rs__on_done(void *ud, int err) {
  rs__proxy_t *p = ud;
  if (p->held && !p->aborted) rs__send_head(p, NULL, 0);
  p->done = true;
  p->err = err;
  /* p->x stays valid during this callback (for the log line); settle
   * without touching it afterwards. */
  rs__settle(p);
}

/* The upstream took the queued request body: read more from the client. */
static void rs__on_body_drain(void *ud) {
  rs__proxy_t *p = ud;
  if (!p->aborted) rs_req_body_pause(p->req, false);
}

static const rs_uhttp_cbs_t rs__cbs = { rs__on_head, rs__on_body, rs__on_done, rs__on_body_drain,
                                        rs__on_read_end };

/* A streamed request body's bytes from the client (n == 0: the end). */
static void rs__on_req_body(rs_req_t *req, const char *data, size_t n) {
  rs__proxy_t *p = req->data;
  if (p->aborted || p->done || p->x == NULL) return;
  p->depth++;
  bool go = rs_uhttp_body(p->x, n ? data : NULL, n);
  p->depth--;
  if (p->aborted || p->done) {
    rs__settle(p);
    return;
  }
  if (!go) rs_req_body_pause(req, true);   /* until on_body_drain */
}

void rs_proxy_request(rs_req_t *req, const rs_route_t *route) {
  rs_upstreams_t *u = req->loop->upstreams;
  rs__proxy_t *p = rs_xcalloc(1, sizeof(*p));
  p->req = req;
  p->route = route;
  p->start_us = rs_now_us();
  size_t hlen;
  char *head = rs__build_head(req, route, &hlen);
  rs_uhttp_opts_t o = { .upstream = route->proxy.upstream, .head = head, .head_len = hlen,
                        .body = req->body, .body_len = req->body_len,
                        .idempotent = rs__idempotent(&req->method), .head_only = req->head,
                        .keepalive = true, .body_stream = req->body_streamed,
                        .body_chunked = req->body_streamed && req->body_length < 0 };
  int err = -ESHUTDOWN;
  if (u != NULL) {
    p->depth++;                  /* a hook-free start: nothing can re-enter, but be safe */
    p->x = rs_uhttp_start(u, &o, &rs__cbs, p, &err);
    p->depth--;
  } else {
    free(head);
  }
  if (p->x == NULL) {
    rs__error(p, 502, err);
    free(p);
    return;
  }
  req->data = p;
  req->on_abort = rs__on_abort;
  req->on_drain = rs__on_drain;
  if (req->body_streamed) req->on_body = rs__on_req_body;
}
