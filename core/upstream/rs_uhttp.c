/* core/upstream/rs_uhttp.c — one exchange with an upstream (rs_uhttp_*,
 * rs_upstream.h): pick a server, take an idle connection or connect, write
 * the request (a streamed body as it comes), parse the response with llhttp
 * (HTTP_RESPONSE) and hand head and body to the callbacks; retries on
 * connect failure. See rs_upstream.c for the layers. */
#include "rs_upstream.h"
#include "rs_upstream_int.h"

static llhttp_settings_t rs__settings;
static uv_once_t rs__settings_once = UV_ONCE_INIT;

void rs__uconn_close(rs__uconn_t *c);
static int rs__x_go(rs_uhttp_t *x);
static void rs__x_arm(rs_uhttp_t *x);

/* ------------------------------------------------------------------ response parsing */

#define RS__X(p) (((rs__uconn_t *)(p)->data)->x)

static int rs__on_message_begin(llhttp_t *p) {
  rs_uhttp_t *x = RS__X(p);
  x->hbuf.len = 0;
  x->nh = 0;
  x->hstate = 0;
  return 0;
}

static int rs__on_header_field(llhttp_t *p, const char *at, size_t n) {
  rs_uhttp_t *x = RS__X(p);
  if (x->head_seen) return 0;    /* trailers: dropped */
  if (x->hstate != 1) {
    if (x->nh == 256) return HPE_USER;
    if (x->nh == x->hcap) {
      x->hcap = x->hcap ? x->hcap * 2 : 16;
      x->hoff = rs_xrealloc(x->hoff, x->hcap * sizeof(*x->hoff));
    }
    x->hoff[x->nh++] = (rs__hdr_off_t){ x->hbuf.len, 0, 0, 0 };
    x->hstate = 1;
  }
  if (x->hbuf.len + n > 256 * 1024) return HPE_USER;
  rs_buf_append(&x->hbuf, at, n);
  x->hoff[x->nh - 1].nl += n;
  return 0;
}

static int rs__on_header_value(llhttp_t *p, const char *at, size_t n) {
  rs_uhttp_t *x = RS__X(p);
  if (x->head_seen) return 0;
  if (x->nh == 0) return HPE_USER;
  if (x->hstate != 2) {
    x->hoff[x->nh - 1].vo = x->hbuf.len;
    x->hstate = 2;
  }
  if (x->hbuf.len + n > 256 * 1024) return HPE_USER;
  rs_buf_append(&x->hbuf, at, n);
  x->hoff[x->nh - 1].vl += n;
  return 0;
}

static int rs__on_header_value_complete(llhttp_t *p) {
  rs_uhttp_t *x = RS__X(p);
  if (!x->head_seen && x->nh > 0 && x->hstate == 1) x->hoff[x->nh - 1].vo = x->hbuf.len;
  x->hstate = 0;
  return 0;
}

static int rs__on_headers_complete(llhttp_t *p) {
  rs_uhttp_t *x = RS__X(p);
  int status = p->status_code;
  if (status >= 100 && status < 200) {
    if (status == 101) return HPE_USER;  /* we asked for no upgrade */
    x->interim = true;                   /* 100 Continue, 103: skipped */
    return 0;
  }
  x->head_seen = true;
  x->phase = RS__PH_BODY;
  rs__ups_server_ok(x->srv);
  rs__stat_slot_t *slot = rs__ustat_slot(x->srv->stat, x->u->loop);
  if (slot) RS_COUNTER_ADD(slot->requests[status / 100 <= 5 ? status / 100 : 5], 1);
  x->hdrs = rs_xrealloc(x->hdrs, (x->nh ? x->nh : 1) * sizeof(*x->hdrs));
  for (size_t i = 0; i < x->nh; i++) {
    x->hdrs[i].name = (rs_str_t){ x->hbuf.p + x->hoff[i].no, x->hoff[i].nl };
    x->hdrs[i].value = (rs_str_t){ x->hoff[i].vl ? x->hbuf.p + x->hoff[i].vo : "", x->hoff[i].vl };
  }
  bool no_body = x->head_only || status == 204 || status == 304;
  bool chunked = !no_body && (p->flags & F_CHUNKED);
  int64_t clen = !no_body && (p->flags & F_CONTENT_LENGTH) ? (int64_t)p->content_length : -1;
  bool to_eof = !no_body && !chunked && clen < 0;
  if (no_body && (p->flags & F_CONTENT_LENGTH) && x->head_only)
    clen = (int64_t)p->content_length;   /* HEAD: the length the GET would have */
  x->cbs.on_head(x->ud, status, x->hdrs, x->nh, clen, chunked, to_eof);
  if (x->cancelled) return HPE_USER;
  if (chunked) {                 /* rs__uhttp_on_read starts the chunk check here */
    x->chunk_pause = true;
    return HPE_PAUSED;
  }
  return no_body ? 1 : 0;
}

static int rs__on_body(llhttp_t *p, const char *at, size_t n) {
  rs_uhttp_t *x = RS__X(p);
  if (x->cancelled) return HPE_USER;
  x->cbs.on_body(x->ud, at, n);
  return x->cancelled ? HPE_USER : 0;
}

static int rs__on_message_complete(llhttp_t *p) {
  rs_uhttp_t *x = RS__X(p);
  if (x->interim) {
    x->interim = false;
    return 0;
  }
  x->complete = true;
  rs__stat_slot_t *slot = x->srv != NULL ? rs__ustat_slot(x->srv->stat, x->u->loop) : NULL;
  if (slot) rs_hist_observe(&slot->response, rs_now_us() - x->start_us);
  return HPE_PAUSED;
}

static void rs__settings_init(void) {
  llhttp_settings_init(&rs__settings);
  rs__settings.on_message_begin = rs__on_message_begin;
  rs__settings.on_header_field = rs__on_header_field;
  rs__settings.on_header_value = rs__on_header_value;
  rs__settings.on_header_value_complete = rs__on_header_value_complete;
  rs__settings.on_headers_complete = rs__on_headers_complete;
  rs__settings.on_body = rs__on_body;
  rs__settings.on_message_complete = rs__on_message_complete;
}

/* ------------------------------------------------------------------ exchanges */

void rs__uhttp_on_closed(uv_handle_t *h) {
  rs_uhttp_t *x = h->data;
  while (x->bq != NULL) {
    rs__piece_t *pc = x->bq;
    x->bq = pc->next;
    free(pc);
  }
  rs_buf_free(&x->hbuf);
  free(x->hoff);
  free(x->hdrs);
  free(x->head);
  free(x->tls_host);
  free(x->tls_sni);
  free(x->tls_ca);
  free(x);
}

/* Close x's timer, which frees x; a timer the loop's final uv_walk closed
 * puts x on u->orphans instead (its close callback will not run). */
static void rs__x_close(rs_uhttp_t *x) {
  if (uv_is_closing((uv_handle_t *)&x->timer)) {
    x->orphan_next = x->u->orphans;
    x->u->orphans = x;
    return;
  }
  uv_close((uv_handle_t *)&x->timer, rs__uhttp_on_closed);
}

/* The exchange is over (done, failed or cancelled): let go of everything. */
static void rs__x_end(rs_uhttp_t *x) {
  if (x->ended) return;
  x->ended = true;
  uv_timer_stop(&x->timer);
  rs_upstreams_t *u = x->u;
  u->exchanges--;
  rs__x_close(x);
  rs__ups_maybe_free(u);
}

static void rs__x_done(rs_uhttp_t *x, int err) {
  if (x->ended) return;
  void (*cb)(void *, int) = x->cbs.on_done;
  void *ud = x->ud;
  /* the callback sees the headers: end after it */
  cb(ud, err);
  rs__x_end(x);
}

static void rs__on_timer(uv_timer_t *t) {
  rs_uhttp_t *x = t->data;
  uint64_t now = uv_now(&x->u->loop->uv);
  bool overall = x->deadline != 0 && now >= x->deadline;
  switch (x->phase) {
    case RS__PH_CONNECT:
      if (rs__utls_timed_out(x)) rs__x_fail(x, -ETIMEDOUT, RS__F_TLS);   /* connected, in the handshake */
      else rs__x_fail(x, -ETIMEDOUT, RS__F_CONNECT_TIMEOUT);
      return;
    case RS__PH_SEND:
      rs__x_fail(x, -ETIMEDOUT, overall ? RS__F_READ_TIMEOUT : RS__F_SEND_TIMEOUT);
      return;
    default:
      rs__x_fail(x, -ETIMEDOUT, RS__F_READ_TIMEOUT);
      return;
  }
}

/* (Re)start the timer for the current phase, capped by the deadline. */
static void rs__x_arm(rs_uhttp_t *x) {
  if (x->ended) return;
  uint64_t ms;
  switch (x->phase) {
    case RS__PH_CONNECT: ms = x->connect_ms; break;
    case RS__PH_SEND:
      /* A streamed body with nothing in flight waits for the client,
       * whose own body timeout runs. */
      ms = x->body_stream && x->inflight == 0 && x->conn != NULL && !x->conn->writing ? 0 : x->send_ms;
      break;
    default: ms = x->read_ms; break;
  }
  if (x->paused && x->phase == RS__PH_BODY) ms = 0;  /* the client is slow, not the server */
  if (x->deadline != 0) {
    uint64_t now = uv_now(&x->u->loop->uv);
    uint64_t left = x->deadline > now ? x->deadline - now : 1;
    if (ms == 0 || left < ms) ms = left;
  }
  if (ms == 0) uv_timer_stop(&x->timer);
  else uv_timer_start(&x->timer, rs__on_timer, ms, 0);
}

void rs__x_log(rs_uhttp_t *x, int kind, int err) {
  rs_log_info("upstream %s: server %s: %s (%s)", x->up ? x->up->conf->name : "-", x->srv->name,
              kind == RS__F_CONNECT ? "cannot connect"
              : kind == RS__F_CONNECT_TIMEOUT ? "connect timed out"
              : kind == RS__F_SEND_TIMEOUT ? "send timed out"
              : kind == RS__F_READ_TIMEOUT ? "read timed out"
              : kind == RS__F_RESET ? "connection closed early"
              : kind == RS__F_TLS ? "TLS handshake failed" : "bad response",
              rs_fetch_strerror(err));
}

/* Something went wrong on x's connection: close it, count it, maybe try
 * another server, else tell the caller. */
void rs__x_fail(rs_uhttp_t *x, int err, int kind) {
  if (x->ended) return;
  rs__uconn_t *c = x->conn;
  x->conn = NULL;
  if (c != NULL) rs__uconn_close(c);
  bool stale = kind == RS__F_RESET && x->reused && !x->got_bytes && !x->body_wrote &&
               (x->idempotent || x->phase <= RS__PH_SEND);
  if (stale) {
    /* A pooled connection the server had closed: once more, on a fresh
     * one to the same server; it does not count against the server. */
    rs_log_debug("upstream %s: server %s: pooled connection closed, retrying on a new one",
                 x->up ? x->up->conf->name : "-", x->srv->name);
    x->reused = false;
    x->no_pool = true;
    x->phase = RS__PH_CONNECT;
    x->tries--;
    if (rs__x_go(x) == 0) return;
    rs__x_done(x, -ECONNRESET);
    return;
  }
  rs__x_log(x, kind, err);
  rs__ups_server_failed(x, kind);
  bool retry = x->phase == RS__PH_CONNECT && x->tries < x->max_tries && x->up != NULL &&
               (x->deadline == 0 || uv_now(&x->u->loop->uv) < x->deadline);
  if (retry) {
    bool all_down;
    rs__server_t *s = rs__ups_pick(x, &all_down);
    if (s != NULL) {
      x->srv = s;
      if (rs__x_go(x) == 0) return;
    }
  }
  rs__x_done(x, err);
}

/* Has the whole request gone out (or been handed to the socket)? */
static bool rs__x_body_done(const rs_uhttp_t *x) {
  return !x->body_stream || (x->body_ended && x->bq == NULL && x->inflight == 0);
}

static void rs__x_sent_check(rs_uhttp_t *x) {
  if (x->phase == RS__PH_SEND && x->conn != NULL && !x->conn->writing && rs__x_body_done(x))
    x->phase = RS__PH_WAIT;
  rs__x_arm(x);
}

/* A write failed: the server may have answered already (an early 413, a
 * close after its answer). Stop writing and let the read side decide: a
 * response completes the exchange, a close or reset fails it. */
static void rs__x_write_failed(rs_uhttp_t *x) {
  x->write_failed = true;
  while (x->bq != NULL) {
    rs__piece_t *pc = x->bq;
    x->bq = pc->next;
    free(pc);
  }
  x->bq_tail = NULL;
  x->bq_bytes = 0;
  x->body_ended = true;
  if (x->phase == RS__PH_SEND) x->phase = RS__PH_WAIT;
  rs__uconn_t *c = x->conn;
  if (c != NULL && !x->paused) uv_read_start((uv_stream_t *)&c->tcp, rs__uconn_alloc, rs__uhttp_on_read);
  rs__x_arm(x);
}

static void rs__on_write(uv_write_t *w, int status) {
  rs__uconn_t *c = RS_CONTAINER_OF(w, rs__uconn_t, wreq);
  c->writing = false;
  rs_uhttp_t *x = c->x;
  if (x == NULL || c->closing) return;
  if (status < 0) {
    rs__x_write_failed(x);
    return;
  }
  rs__x_sent_check(x);
}

static void rs__on_piece_written(uv_write_t *w, int status) {
  rs__piece_t *pc = w->data;
  rs__uconn_t *c = pc->c;
  rs_uhttp_t *x = c->x;
  size_t body = pc->body;
  free(pc);
  if (x == NULL || c->closing || x->ended || x->cancelled) return;
  x->inflight--;
  x->inflight_bytes -= body;
  if (status < 0) {
    if (!x->write_failed) rs__x_write_failed(x);
    return;
  }
  if (x->drain_wanted && x->bq_bytes + x->inflight_bytes <= RS__BODY_LOW) {
    x->drain_wanted = false;
    if (x->cbs.on_body_drain != NULL) x->cbs.on_body_drain(x->ud);
    if (x->ended || x->cancelled) return;
  }
  rs__x_sent_check(x);
}

/* Write the queued body pieces on x's connection (the head has gone). */
static void rs__x_flush_body(rs_uhttp_t *x) {
  rs__uconn_t *c = x->conn;
  while (x->bq != NULL) {
    rs__piece_t *pc = x->bq;
    x->bq = pc->next;
    if (x->bq == NULL) x->bq_tail = NULL;
    x->bq_bytes -= pc->body;
    pc->c = c;
    pc->w.data = pc;
    uv_buf_t b = uv_buf_init(pc->data, (unsigned)pc->len);
    x->inflight++;
    x->inflight_bytes += pc->body;
    x->body_wrote = true;
    if (rs__uconn_write(c, &pc->w, &b, 1, rs__on_piece_written, NULL) != 0) {
      x->inflight--;
      x->inflight_bytes -= pc->body;
      free(pc);
      rs__x_write_failed(x);
      return;
    }
  }
}

bool rs_uhttp_body(rs_uhttp_t *x, const char *p, size_t n) {
  if (x->ended || x->cancelled || !x->body_stream || x->body_ended || x->write_failed) return true;
  if (p == NULL) x->body_ended = true;
  if (p == NULL && !x->body_chunked) {
    if (x->head_sent) rs__x_sent_check(x);
    return true;
  }
  if (p != NULL && n == 0) return true;
  char pre[24];
  int k = 0;
  size_t len;
  if (p == NULL) len = 5;                                  /* "0\r\n\r\n" */
  else if (x->body_chunked) len = (size_t)(k = snprintf(pre, sizeof(pre), "%zx\r\n", n)) + n + 2;
  else len = n;
  rs__piece_t *pc = rs_xmalloc(sizeof(*pc) + len);
  memset(pc, 0, sizeof(*pc));
  pc->len = len;
  pc->body = n;
  if (p == NULL) {
    memcpy(pc->data, "0\r\n\r\n", 5);
  } else if (x->body_chunked) {
    memcpy(pc->data, pre, (size_t)k);
    memcpy(pc->data + k, p, n);
    memcpy(pc->data + k + n, "\r\n", 2);
  } else {
    memcpy(pc->data, p, n);
  }
  if (x->bq_tail) x->bq_tail->next = pc; else x->bq = pc;
  x->bq_tail = pc;
  x->bq_bytes += n;
  if (x->head_sent && x->conn != NULL) {
    rs__x_flush_body(x);
    if (x->ended) return true;
    rs__x_arm(x);
  }
  if (x->bq_bytes + x->inflight_bytes > RS__BODY_HIGH) {
    x->drain_wanted = true;
    return false;
  }
  return true;
}

void rs__x_send(rs_uhttp_t *x) {
  rs__uconn_t *c = x->conn;
  x->phase = RS__PH_SEND;
  llhttp_init(&c->parser, HTTP_RESPONSE, &rs__settings);
  c->parser.data = c;
  uv_buf_t bufs[2] = { uv_buf_init(x->head, (unsigned)x->head_len),
                       uv_buf_init((char *)(x->body ? x->body : ""), (unsigned)x->body_len) };
  unsigned nb = x->body_len ? 2 : 1;
  bool sent = false;
  c->writing = true;
  int rc = rs__uconn_write(c, &c->wreq, bufs, nb, rs__on_write, x->body_stream ? NULL : &sent);
  if (rc != 0 || sent) c->writing = false;
  if (rc != 0) {
    rs__x_fail(x, rc, RS__F_RESET);
    return;
  }
  x->head_sent = true;
  if (x->body_stream) {
    rs__x_flush_body(x);
    if (x->ended) return;
  }
  if (sent) rs__x_sent_check(x);   /* as rs__on_write would: now waiting */
  else rs__x_arm(x);
  if (!x->paused) uv_read_start((uv_stream_t *)&c->tcp, rs__uconn_alloc, rs__uhttp_on_read);
}

static void rs__on_connect(uv_connect_t *req, int status) {
  rs__uconn_t *c = RS_CONTAINER_OF(req, rs__uconn_t, creq);
  rs_uhttp_t *x = c->x;
  if (x == NULL || c->closing) return;
  if (status < 0) {
    rs__x_fail(x, status == UV_ECANCELED ? -ECONNABORTED : status, RS__F_CONNECT);
    return;
  }
  c->connected = true;
  uv_tcp_nodelay(&c->tcp, 1);
  if (c->tls != NULL) rs__utls_connected(x, c);   /* the request goes after the handshake */
  else rs__x_send(x);
}

/* Put x on its server: an idle pooled connection, else a new one. Returns
 * 0, or a negative errno when the connect could not even start. */
static int rs__x_go(rs_uhttp_t *x) {
  rs_upstreams_t *u = x->u;
  rs__server_t *s = x->srv;
  rs__gauge_t *g = rs__ugauge(u->loop);
  x->tries++;
  x->got_bytes = false;
  x->head_sent = false;
  if (s->idle != NULL && !x->no_pool) {
    rs__uconn_t *c = s->idle;
    rs__ulist_remove(&s->idle, c);
    s->nidle--;
    c->idle = false;
    RS_COUNTER_ADD(g->idle, (uint64_t)-1);
    RS_COUNTER_ADD(g->active, 1);
    rs__ulist_push(&u->busy, c);
    c->x = x;
    x->conn = c;
    x->reused = true;
    rs__x_send(x);
    return 0;
  }
  x->reused = false;
  rs__uconn_t *c = rs_xcalloc(1, sizeof(*c));
  c->u = u;
  c->srv = x->up != NULL ? s : NULL;
  uv_tcp_init(&u->loop->uv, &c->tcp);
  c->tcp.data = c;
  u->handles++;
  rs__ulist_push(&u->busy, c);
  RS_COUNTER_ADD(g->active, 1);
  c->x = x;
  x->conn = c;
  x->phase = RS__PH_CONNECT;
  int rc = rs__utls_attach(x, c);
  if (rc != 0) {
    x->conn = NULL;
    rs__uconn_close(c);
    rs__x_log(x, RS__F_TLS, rc);
    rs__ups_server_failed(x, RS__F_TLS);
    return rc;
  }
  rc = uv_tcp_connect(&c->creq, &c->tcp, (const struct sockaddr *)&s->sa, rs__on_connect);
  if (rc != 0) {
    x->conn = NULL;
    rs__uconn_close(c);
    rs__x_log(x, RS__F_CONNECT, rc);
    rs__ups_server_failed(x, RS__F_CONNECT);
    return rc;
  }
  rs__x_arm(x);
  return 0;
}

static void rs__x_complete(rs_uhttp_t *x, const char *end_pos, const char *data_end) {
  rs__uconn_t *c = x->conn;
  x->conn = NULL;
  /* Reuse only a connection whose answer ended cleanly, with nothing after
   * it, and that both sides allow to stay open. */
  bool reuse = x->keepalive && llhttp_should_keep_alive(&c->parser) && end_pos == data_end && !c->writing &&
               rs__x_body_done(x) && !x->write_failed && (c->tls == NULL || !rs_tls_buffered(c->tls));
  rs__uconn_release(c, reuse);
  rs__x_done(x, 0);
}

void rs__uhttp_on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf) {
  rs__uconn_t *c = s->data;
  rs_uhttp_t *x = c->x;
  if (nread == 0) return;
  if (c->tls != NULL && nread > 0) {   /* rs_utls.c decrypts, then parses here */
    rs__utls_on_read(c, buf->base, (size_t)nread, buf->len);
    return;
  }
  if (x == NULL) {
    /* An idle connection: the server closed it, or sent bytes nobody asked
     * for. Either way it is done. */
    if (!c->closing) rs__uconn_close(c);
    return;
  }
  if (nread < 0) {
    rs__x_eof(x, c, nread);
    return;
  }
  if (rs__x_parse(x, c, buf->base, (size_t)nread)) rs__x_read_end(x, c);
}

void rs__x_eof(rs_uhttp_t *x, rs__uconn_t *c, ssize_t nread) {
  if (nread == UV_EOF) {
    enum llhttp_errno fe = x->head_seen ? llhttp_finish(&c->parser) : HPE_USER;
    if (fe == HPE_OK || (fe == HPE_PAUSED && x->complete)) {
      /* close-delimited body: its end */
      x->conn = NULL;
      rs__uconn_close(c);
      rs__x_done(x, 0);
      return;
    }
    rs__x_fail(x, -ECONNRESET, RS__F_RESET);
    return;
  }
  rs__x_fail(x, nread == UV_ECONNRESET ? -ECONNRESET : (int)nread, RS__F_RESET);
}

/* n response bytes at p: parse them. False when the exchange is over or
 * has let go of c. */
bool rs__x_parse(rs_uhttp_t *x, rs__uconn_t *c, const char *p, size_t n) {
  x->got_bytes = true;
  if (x->phase == RS__PH_SEND) x->phase = RS__PH_WAIT;  /* answered before the write completed */
  x->depth++;
  const char *from = p, *end = p + n, *bad = NULL;
  enum llhttp_errno e;
  for (;;) {
    if (x->scanning) {
      size_t used;
      rs_http_scan_rc rc = rs_http_scan(&x->scan, from, (size_t)(end - from), &used);
      if (rc < 0) {              /* a malformed body: the answer is cut off */
        bad = x->scan.why;
        e = HPE_USER;
        break;
      }
      if (rc == RS_HTTP_SCAN_DONE) x->scanning = false;
    }
    e = llhttp_execute(&c->parser, from, (size_t)(end - from));
    if (e != HPE_PAUSED || !x->chunk_pause || x->cancelled) break;
    x->chunk_pause = false;
    from = llhttp_get_error_pos(&c->parser);
    rs_http_scan_chunked(&x->scan);
    x->scanning = true;
    llhttp_resume(&c->parser);
  }
  x->depth--;
  if (x->cancelled) {
    x->conn = NULL;
    rs__uconn_close(c);
    rs__x_end(x);
    return false;
  }
  if (e == HPE_PAUSED && x->complete) {
    rs__x_complete(x, llhttp_get_error_pos(&c->parser), end);
    return false;
  }
  if (e != HPE_OK) {
    if (bad == NULL) bad = llhttp_get_error_reason(&c->parser);
    rs_log_info("upstream %s: server %s: bad response: %s", x->up ? x->up->conf->name : "-", x->srv->name,
                bad ? bad : "?");
    if (x->head_seen) {          /* counted once, as a failure of the body */
      rs__stat_slot_t *slot = rs__ustat_slot(x->srv->stat, x->u->loop);
      if (slot) RS_COUNTER_ADD(slot->failures[RS__F_PROTO], 1);
      x->conn = NULL;
      rs__uconn_close(c);
      rs__x_done(x, -EPROTO);
      return false;
    }
    rs__x_fail(x, -EPROTO, RS__F_PROTO);
    return false;
  }
  return true;
}

/* The bytes of one socket read have been parsed and x goes on. */
void rs__x_read_end(rs_uhttp_t *x, rs__uconn_t *c) {
  if (x->cbs.on_read_end != NULL) {
    x->depth++;
    x->cbs.on_read_end(x->ud);
    x->depth--;
    if (x->cancelled) {
      x->conn = NULL;
      rs__uconn_close(c);
      rs__x_end(x);
      return;
    }
  }
  rs__x_arm(x);
}

rs_uhttp_t *rs_uhttp_start(rs_upstreams_t *u, const rs_uhttp_opts_t *o, const rs_uhttp_cbs_t *cbs, void *ud,
                           int *err) {
  uv_once(&rs__settings_once, rs__settings_init);
  int dummy;
  if (err == NULL) err = &dummy;
  if (u->dead) {
    free(o->head);
    *err = -ESHUTDOWN;
    return NULL;
  }
  rs__ups_t *up = NULL;
  if (o->upstream != NULL) {
    for (size_t i = 0; i < u->nups && up == NULL; i++)
      if (strcmp(u->ups[i].conf->name, o->upstream) == 0) up = &u->ups[i];
    if (up == NULL) {
      free(o->head);
      *err = -ENOENT;
      return NULL;
    }
  }
  rs_uhttp_t *x = rs_xcalloc(1, sizeof(*x));
  x->start_us = rs_now_us();
  x->u = u;
  x->up = up;
  x->cbs = *cbs;
  x->ud = ud;
  x->head = o->head;
  x->head_len = o->head_len;
  x->body = o->body;
  x->body_len = o->body_len;
  x->idempotent = o->idempotent;
  x->head_only = o->head_only;
  x->body_stream = o->body_stream;
  x->body_chunked = o->body_stream && o->body_chunked;
  x->keepalive = o->keepalive;
  x->deadline = o->deadline_ms;
  if (up != NULL) {
    x->connect_ms = up->conf->connect_timeout_ms;
    x->send_ms = up->conf->send_timeout_ms;
    x->read_ms = up->conf->read_timeout_ms;
    x->max_tries = 1 + up->conf->retries;
    if ((size_t)x->max_tries > up->n) x->max_tries = (int)up->n;
  } else {
    x->connect_ms = o->connect_timeout_ms ? o->connect_timeout_ms : RS_UPSTREAM_URL_TIMEOUT_MS;
    x->send_ms = o->send_timeout_ms ? o->send_timeout_ms : RS_UPSTREAM_URL_TIMEOUT_MS;
    x->read_ms = o->read_timeout_ms ? o->read_timeout_ms : RS_UPSTREAM_URL_TIMEOUT_MS;
    x->max_tries = 1;
    x->tls = o->tls;
    x->tls_verify = !o->tls_no_verify;
    x->tls_host = o->tls && o->tls_host ? rs_xstrdup(o->tls_host) : NULL;
    x->tls_sni = o->tls && o->tls_sni ? rs_xstrdup(o->tls_sni) : NULL;
    x->tls_ca = o->tls && o->tls_ca ? rs_xstrdup(o->tls_ca) : NULL;
    memcpy(&x->one.sa, o->addr, o->addr->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6)
                                                               : sizeof(struct sockaddr_in));
    snprintf(x->one.name, sizeof(x->one.name), "%s", o->addr_name ? o->addr_name : "?");
    x->one.stat = NULL;
    x->srv = &x->one;
  }
  uv_timer_init(&u->loop->uv, &x->timer);
  x->timer.data = x;
  u->exchanges++;
  int rc = 0;
  for (;;) {
    if (up != NULL) {
      bool all_down;
      x->srv = rs__ups_pick(x, &all_down);
      if (x->srv == NULL) {
        rc = rc != 0 ? rc : -EHOSTUNREACH;
        if (all_down && rc == -EHOSTUNREACH)
          rs_log_info("upstream %s: no server up (all marked down)", up->conf->name);
        break;
      }
    }
    rc = rs__x_go(x);
    if (rc == 0) return x;
    if (up == NULL || x->tries >= x->max_tries) break;
  }
  /* Failed at once: no callback. */
  x->ended = true;
  u->exchanges--;
  rs__x_close(x);
  *err = rc;
  return NULL;
}

void rs_uhttp_pause(rs_uhttp_t *x, bool paused) {
  if (x->ended || x->paused == paused) return;
  x->paused = paused;
  rs__uconn_t *c = x->conn;
  if (c != NULL && !c->closing && c->connected) {
    if (paused) uv_read_stop((uv_stream_t *)&c->tcp);
    else if (x->phase >= RS__PH_SEND || c->tls != NULL)   /* TLS reads during its handshake too */
      uv_read_start((uv_stream_t *)&c->tcp, rs__uconn_alloc, rs__uhttp_on_read);
  } else if (c != NULL && !c->closing && x->reused) {
    if (paused) uv_read_stop((uv_stream_t *)&c->tcp);
    else uv_read_start((uv_stream_t *)&c->tcp, rs__uconn_alloc, rs__uhttp_on_read);
  }
  rs__x_arm(x);
}

void rs_uhttp_cancel(rs_uhttp_t *x) {
  if (x == NULL || x->ended || x->cancelled) return;
  x->cancelled = true;
  if (x->depth > 0) return;      /* rs__uhttp_on_read finishes it */
  rs__uconn_t *c = x->conn;
  x->conn = NULL;
  if (c != NULL) rs__uconn_close(c);
  rs__x_end(x);
}

const char *rs_uhttp_server(const rs_uhttp_t *x) { return x->srv != NULL ? x->srv->name : "-"; }

bool rs_uhttp_head_seen(const rs_uhttp_t *x) { return x->head_seen; }
