/* core/http/rs_conn.c — see rs_conn.h.
 *
 * The life of a connection:
 *
 *   accept ─▶ idle ──first byte──▶ headers ──▶ body ──▶ message complete
 *               ▲   (keep-alive     (header      (body      │ dispatch to the
 *               │    timeout)        deadline)    timeout)   ▼ loop's handler
 *               └──── response written, queue empty ◀── FIFO of requests
 *
 * Requests are queued in arrival order; a handler may answer any of them at
 * any time, and the writer sends the ready prefix of the queue in one
 * uv_write (pipelined answers leave in order, in as few syscalls as the
 * client allows). Parsing pauses when `limits.pipeline` requests wait, and
 * resumes when the queue drains.
 *
 * Request bytes (url, headers, body) are copied out of the loop's shared
 * read buffer into the request, so that buffer can serve every connection.
 * Response bodies are never copied: the iovec points at the handler's bytes
 * until release. */
#include "rs_conn.h"
#include "rs_conn_int.h"

#include <unistd.h>

static _Thread_local char *rs__tl_rbuf;  /* the loop thread's read buffer */
#define RS__RBUF_SIZE (64 * 1024)

void rs_conn_loop_dispose(rs_loop_t *loop) {
  while (loop->free_reqs != NULL) {
    rs_req_t *r = loop->free_reqs;
    loop->free_reqs = r->_next;
    free(r);
  }
  loop->nfree_reqs = 0;
  for (int i = 0; i < RS_LOG_ACCESS_FILES; i++) rs_buf_free(&loop->access[i]);
  /* The read buffer is the calling thread's, and this is its loop's end. */
  free(rs__tl_rbuf);
  rs__tl_rbuf = NULL;
  rs__conn_io_loop_dispose();
}

/* ------------------------------------------------------------------ reading */

void rs__conn_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
  /* One read buffer per loop thread: request bytes are copied out of it
   * during parsing, and unparsed bytes saved per connection when paused. */
  if (rs__tl_rbuf == NULL) rs__tl_rbuf = rs_xmalloc(RS__RBUF_SIZE);
  *buf = uv_buf_init(rs__tl_rbuf, RS__RBUF_SIZE);
}

void rs__conn_on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf) {
  rs_conn_t *c = s->data;
  if (nread == 0) return;
  if (nread < 0) {
    if (c->lingering || nread != UV_EOF) {
      rs__conn_close(c);
      return;
    }
    /* EOF: answer what was asked (a half-closed client still reads),
     * then close. A request cut in the middle is dropped. */
    c->read_eof = true;
    c->no_more = true;
    rs__conn_read_stop(c);
    if (c->parsing != NULL && c->parsing->body_streamed) {
      /* A streamed body cut short: its handler cannot finish it. */
      rs__conn_close(c);
      return;
    }
    if (c->parsing != NULL) {
      rs__req_free(c->parsing);
      c->parsing = NULL;
    }
    if (c->head == NULL && !c->writing) rs__conn_close(c);
    return;
  }
  RS_COUNTER_ADD(c->loop->counters.bytes_in, (uint64_t)nread);
  if (c->lingering) return;
  rs__conn_input(c, buf->base, (size_t)nread);
  if (!c->closed) rs__conn_arm(c);
}

const char *rs__conn_peer(rs_conn_t *c) {
  if (c->peer[0]) return c->peer;
  struct sockaddr_storage ss;
  int len = sizeof(ss);
  char ip[INET6_ADDRSTRLEN] = "?";
  int port = 0;
  if (uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&ss, &len) == 0) {
    if (ss.ss_family == AF_INET6) {
      uv_ip6_name((struct sockaddr_in6 *)&ss, ip, sizeof(ip));
      port = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
    } else {
      uv_ip4_name((struct sockaddr_in *)&ss, ip, sizeof(ip));
      port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
    }
  }
  snprintf(c->peer, sizeof(c->peer), "%s:%d", ip, port);
  return c->peer;
}

void rs_req_body_pause(rs_req_t *req, bool paused) {
  rs_conn_t *c = req->_conn;
  if (c != NULL && req->_h2 != NULL) {
    rs__h2_body_pause(req, paused);
    return;
  }
  if (c == NULL || c->closed || c->lingering || c->body_held == paused) return;
  if (paused && c->parsing != req) return;   /* its body is all in */
  c->body_held = paused;
  if (paused) rs__conn_read_stop(c);
  else if (!c->paused && !c->read_eof) rs__conn_read_start(c);
  rs__conn_arm(c);
}

const char *rs_req_peer(rs_req_t *req) {
  return req->_conn != NULL ? rs__conn_peer(req->_conn) : "-";
}

/* Refuse the request being read: answer with the kind's status and
 * "Connection: close" after every earlier answer, then linger and close. */
void rs__conn_fail(rs_conn_t *c, rs_req_error_t kind, const char *detail) {
  rs_loop_t *loop = c->loop;
  int status = rs_req_error_status(kind);
  rs_log_info("client %s: %d %s: %s%s%s", rs__conn_peer(c), status, rs_req_error_label(kind),
              detail ? "(" : "", detail ? detail : "", detail ? ")" : "");
  RS_COUNTER_ADD(loop->counters.req_errors[kind], 1);
  if (c->parsing != NULL && c->parsing->body_streamed) {
    /* Its handler has it (and may be answering): the connection ends. */
    rs__conn_close(c);
    return;
  }

  rs_req_t *r = c->parsing;
  c->parsing = NULL;
  if (r == NULL) r = rs__req_new(c);
  /* The partial request stays only for the access log; its pointers are
   * offsets while headers are unfinished, so keep none of them. */
  r->url = (rs_str_t){ NULL, 0 };
  r->nheaders = 0;
  if (r->method.p == NULL) r->method = (rs_str_t){ "-", 1 };
  if (r->http_major == 0) r->http_major = 1, r->http_minor = 1;
  r->head = false;
  r->keep_alive = false;
  r->_error = kind;
  c->no_more = true;
  c->in_body = false;
  rs__conn_read_stop(c);

  r->_state = RS__REQ_DISPATCHED;
  r->_next = NULL;
  if (c->tail) c->tail->_next = r; else c->head = r;
  c->tail = r;
  c->nqueued++;
  rs_req_respond_error(r, status, NULL);
}

/* ------------------------------------------------------------------ timers, close */

static void rs__on_timer(uv_timer_t *t) {
  rs_conn_t *c = t->data;
  if (rs__conn_io_timeout(c)) return;     /* a TLS handshake not done in time */
  if ((c->writing || c->swrites > 0) && !c->lingering) {
    /* write_ms is for a write making no progress: a client that reads,
     * however slowly, gets another period. */
    size_t left = rs__conn_unsent(c);
    /* A streamed body refills the queue as it drains: count its pieces
     * written too. */
    if (left < c->write_left || c->sdone != c->sdone_seen) {
      c->write_left = left;
      c->sdone_seen = c->sdone;
      uv_timer_start(&c->timer, rs__on_timer, c->loop->http->timeouts.write, 0);
      return;
    }
  }
  if (c->lingering || c->writing || c->swrites > 0) {
    if (c->writing || c->swrites > 0) rs_log_info("client %s: timed out writing the response", rs__conn_peer(c));
    rs__conn_close(c);
    return;
  }
  if (c->parsing != NULL) {
    rs__conn_fail(c, c->in_body ? RS_REQ_E_BODY_TIMEOUT : RS_REQ_E_HEADER_TIMEOUT, NULL);
    return;
  }
  if (c->head == NULL) rs__conn_close(c);  /* idle keep-alive ends quietly */
}

void rs__conn_arm(rs_conn_t *c) {
  const rs_http_opts_t *o = c->loop->http;
  uint64_t now = uv_now(&c->loop->uv);
  uint64_t ms;
  if (c->closed || c->lingering) return;
  if (rs__conn_io_handshaking(c, &ms)) {  /* TLS: its own deadline (slowloris) */
    uv_timer_start(&c->timer, rs__on_timer, ms, 0);
    return;
  }
  if (c->h2 != NULL) {
    rs__h2_arm(c);
    return;
  }
  if (c->writing || c->swrites > 0) {
    /* One clock per write, restarted only by progress (rs__on_timer): bytes
     * the client sends meanwhile must not keep a stuck write alive. */
    if (c->write_timed) return;
    c->write_timed = true;
    c->write_left = rs__conn_unsent(c);
    ms = o->timeouts.write;
  } else if (c->body_held) {     /* the body's consumer is slow, not the client */
    uv_timer_stop(&c->timer);
    return;
  } else if (c->parsing != NULL && c->in_body) ms = o->timeouts.body;
  else if (c->parsing != NULL) ms = c->hdr_deadline > now ? c->hdr_deadline - now : 1;
  else if (c->head != NULL) {  /* a handler is working: its own clock runs */
    uv_timer_stop(&c->timer);
    return;
  } else {
    /* A new connection that has sent nothing yet gets the header timeout,
     * as nginx's client_header_timeout: keep-alive patience is for clients
     * that have been served. */
    ms = c->served ? o->timeouts.keepalive : o->timeouts.header;
  }
  uv_timer_start(&c->timer, rs__on_timer, ms, 0);
}

static void rs__on_shutdown(uv_shutdown_t *req, int status) { free(req); }

/* After a closing answer: send FIN, then read and drop whatever the client
 * still sends, for a short while, so that our answer is not lost to a reset
 * (nginx's lingering close). */
void rs__conn_linger(rs_conn_t *c) {
  if (c->closed) return;
  if (c->read_eof) {
    rs__conn_close(c);
    return;
  }
  c->lingering = true;
  rs__conn_io_shutdown(c);       /* TLS: close_notify before the FIN */
  uv_shutdown_t *sr = rs_xmalloc(sizeof(*sr));
  if (uv_shutdown(sr, (uv_stream_t *)&c->tcp, rs__on_shutdown) != 0) {
    free(sr);
    rs__conn_close(c);
    return;
  }
  rs__conn_read_start(c);
  uv_timer_start(&c->timer, rs__on_timer, RS__LINGER_MS, 0);
}

void rs__conn_handle_closed(uv_handle_t *h) {
  rs_conn_t *c = h->data;
  if (--c->handles > 0) return;
  rs__conn_io_free(c);
  free(c->leftover);
  free(c);
}

static void rs__on_fpoll_closed(uv_handle_t *h) {
  int fd = ((rs_conn_t *)h->data)->fpoll_fd;
  rs__conn_handle_closed(h);     /* may free the conn */
  close(fd);
  free(h);
}

void rs__conn_close(rs_conn_t *c) {
  if (c->closed) return;
  c->closed = true;
  rs_loop_t *loop = c->loop;
  if (c->h2 != NULL) rs__h2_close(c);
  if (c->parsing != NULL) {
    if (!c->parsing->body_streamed) rs__req_free(c->parsing);  /* else it is queued */
    c->parsing = NULL;
  }
  /* Requests a handler still holds become orphans (it frees them when it
   * answers); written ones are freed by the write callback, which libuv
   * calls with UV_ECANCELED before the close callback. */
  if (c->sending) {
    /* The file's request is in no uv_write: free it with the others. */
    c->sending = false;
    c->writing = false;
    c->nwriting = 0;
  }
  rs_req_t *r = c->head;
  size_t skip = c->nwriting;
  while (r != NULL && skip > 0) {
    r = r->_next;
    skip--;
  }
  while (r != NULL) {
    rs_req_t *next = r->_next;
    if (r->_state == RS__REQ_DISPATCHED ||
        (r->_stream && !r->_stream_ended && r->_state != RS__REQ_WRITING)) {
      r->_conn = NULL;
      r->_next = NULL;
      if (r->on_abort != NULL) r->on_abort(r);
    } else {
      rs__req_free(r);
    }
    r = next;
  }
  if (c->nwriting == 0) {
    c->head = c->tail = NULL;
  } else {
    rs_req_t *last = c->head;
    for (size_t i = 1; i < c->nwriting; i++) last = last->_next;
    last->_next = NULL;
    c->tail = last;
  }
  if (c->prev) c->prev->next = c->next; else loop->conns = c->next;
  if (c->next) c->next->prev = c->prev;
  loop->nconns--;
  RS_COUNTER_ADD(loop->counters.conns_closed, 1);
  uv_close((uv_handle_t *)&c->timer, rs__conn_handle_closed);
  if (c->fpoll != NULL) uv_close((uv_handle_t *)c->fpoll, rs__on_fpoll_closed);
  rs__conn_io_close(c);
  uv_close((uv_handle_t *)&c->tcp, rs__conn_handle_closed);
  rs_loop_maybe_done(loop);
}

/* ------------------------------------------------------------------ accept, drain */

void rs_conn_accept(rs_loop_t *loop, int fd, int server) {
  rs_conn_t *c = rs_xcalloc(1, sizeof(*c));
  c->loop = loop;
  c->server = server;
  uv_tcp_init(&loop->uv, &c->tcp);
  c->tcp.data = c;
  c->handles = 1;
  if (uv_tcp_open(&c->tcp, fd) != 0) {
    close(fd);
    uv_close((uv_handle_t *)&c->tcp, rs__conn_handle_closed);
    return;
  }
  uv_timer_init(&loop->uv, &c->timer);
  c->timer.data = c;
  c->handles = 2;
  uv_tcp_nodelay(&c->tcp, 1);
  rs__conn_parser_init(c);
  rs__conn_io_accept(c);         /* TLS on a listener that has it */
  c->next = loop->conns;
  if (loop->conns) loop->conns->prev = c;
  loop->conns = c;
  loop->nconns++;
  RS_COUNTER_ADD(loop->counters.conns_opened, 1);
  if (rs_log_access_on()) rs__conn_peer(c);
  rs__conn_read_start(c);
  rs__conn_arm(c);
}

void rs_conn_h2_reload(rs_loop_t *loop) {
  for (rs_conn_t *c = loop->conns, *next; c != NULL; c = next) {
    next = c->next;
    if (c->h2 != NULL && !c->lingering) rs__h2_drain(c, RS_H2_GOAWAY_RELOAD);
  }
}

void rs_conn_drain_all(rs_loop_t *loop, bool force) {
  rs_conn_t *c = loop->conns;
  while (c != NULL) {
    rs_conn_t *next = c->next;
    if (c->h2 != NULL && !force && !c->lingering) {   /* GOAWAY, streams finish */
      rs__h2_drain(c, RS_H2_GOAWAY_SHUTDOWN);
      c = next;
      continue;
    }
    /* A request whose bytes have begun to arrive is in flight: it is
     * answered (with Connection: close). Only idle connections go now. */
    bool idle = c->parsing == NULL && c->head == NULL && !c->writing;
    if (force || idle || c->lingering) rs__conn_close(c);
    else c->no_more = c->head != NULL || c->no_more;
    c = next;
  }
}
