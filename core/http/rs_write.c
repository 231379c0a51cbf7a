/* core/http/rs_write.c — answers: the status line and headers, the ready prefix of
 * the queue in one uv_write (pipelined answers leave in order), what follows
 * a write (next, linger, close) and file bodies with sendfile(2). */
#include "rs_conn.h"
#include "rs_conn_int.h"

#include "rs_compress.h"

#include <fcntl.h>
#include <sys/sendfile.h>
#include <unistd.h>

static void rs__conn_send_file(rs_conn_t *c);
static void rs__on_writable(uv_poll_t *p, int status, int events);

/* ------------------------------------------------------------------ responses */

static char *rs__put(char *p, const char *s, size_t n) {
  memcpy(p, s, n);
  return p + n;
}

void rs_req_respond(rs_req_t *r, const rs_resp_t *resp) {
  rs_conn_t *c = r->_conn;
  rs_resp_t filtered;
  if (r->compress != NULL && r->_stream == 0 && c != NULL) {   /* a stream filtered at its start */
    filtered = *resp;
    rs_compress_respond(r, &filtered);
    resp = &filtered;
  }
  r->_resp = *resp;
  r->_status = resp->status;
  if (c == NULL) {             /* the client went away while we worked */
    rs__req_gone(r);
    rs__req_free(r);
    return;
  }
  if (r->_h2 != NULL) {        /* a request of an HTTP/2 stream */
    rs__h2_respond(r, resp);
    return;
  }
  rs_loop_t *loop = c->loop;
  int status = resp->status;
  if (status < 100 || status > 999) status = 500;
  /* An answer before the whole streamed body came: the rest is not read. */
  bool close = !r->keep_alive || loop->draining || (r->body_streamed && !r->body_complete);
  if (close) {
    r->keep_alive = false;
    c->no_more = true;
  }

  const char *reason = rs_http_reason(status);
  size_t reason_len = strlen(reason);
  size_t need = 64 + reason_len + loop->date_len + 48 + resp->headers_len + resp->extra_len +
                r->add_headers.len + 2;
  if (need > sizeof(r->_head_inline)) r->_head = rs_xmalloc(need);
  char *p = r->_head;
  p = rs__put(p, "HTTP/1.1 ", 9);
  *p++ = (char)('0' + status / 100);
  *p++ = (char)('0' + status / 10 % 10);
  *p++ = (char)('0' + status % 10);
  *p++ = ' ';
  p = rs__put(p, reason, reason_len);
  p = rs__put(p, "\r\nServer: rustyssr\r\n", 20);
  p = rs__put(p, loop->date, loop->date_len);
  if (r->_stream == RS__ST_CHUNKED) {
    p = rs__put(p, "Transfer-Encoding: chunked\r\n", 28);
  } else if (r->_stream == RS__ST_EOF || r->_stream == RS__ST_NONE) {
    /* the body ends with the connection, or there is none to announce */
  } else if (status != 204 && status != 304 && status >= 200) {
    p = rs__put(p, "Content-Length: ", 16);
    p = rs__put_u64(p, r->_stream ? (uint64_t)r->_stream_len : resp->body_len + resp->file_len);
    p = rs__put(p, "\r\n", 2);
  }
  if (close) p = rs__put(p, "Connection: close\r\n", 19);
  else if (r->http_minor == 0) p = rs__put(p, "Connection: keep-alive\r\n", 24);
  if (resp->headers_len) p = rs__put(p, resp->headers, resp->headers_len);
  if (resp->extra_len) p = rs__put(p, resp->extra, resp->extra_len);
  if (r->add_headers.len) p = rs__put(p, r->add_headers.p, r->add_headers.len);
  p = rs__put(p, "\r\n", 2);
  r->_head_len = (size_t)(p - r->_head);

  r->_resp.extra = NULL;         /* copied into the head above */
  r->_resp.extra_len = 0;
  r->_iov[0] = uv_buf_init(r->_head, (unsigned)r->_head_len);
  bool body = !r->head && resp->body_len > 0 && status != 204 && status != 304;
  r->_iov[1] = uv_buf_init((char *)(body ? resp->body : ""), body ? (unsigned)resp->body_len : 0);
  bool file = !r->head && resp->file_len > 0 && status != 204 && status != 304;
  if (!file) r->_resp.file_len = 0;   /* nothing to send: rs__on_write checks it */
  r->_bytes_out = r->_head_len + (body ? resp->body_len : 0) + (file ? resp->file_len : 0);

  RS_COUNTER_ADD(loop->counters.requests[status / 100 <= 5 ? status / 100 : 5], 1);
  /* The admin listener (loop 0: scrapes, purges) only when log.access_admin. */
  if (rs_log_access_any_on() && (r->loop->index > 0 || r->loop->http->access_admin)) rs__access_log(r, c);

  r->_state = RS__REQ_READY;
  if (r == c->head) rs__conn_flush(c);
}

void rs__req_gone(rs_req_t *r) {
  r->_status = 499;
  RS_COUNTER_ADD(r->loop->counters.requests[4], 1);
}

void rs_req_respond_error(rs_req_t *req, int status, const char *extra) {
  static const char html[] = "Content-Type: text/html\r\n";
  rs_str_t page = rs_http_error_page(status);
  rs_resp_t resp = { .status = status, .headers = html, .headers_len = sizeof(html) - 1, .extra = extra,
                     .extra_len = extra != NULL ? strlen(extra) : 0, .body = page.p, .body_len = page.len };
  rs_req_respond(req, &resp);
}

void rs_req_respond_static(rs_req_t *req, int status, const char *headers, const char *body,
                           size_t body_len) {
  rs_resp_t resp = { .status = status, .headers = headers, .headers_len = headers ? strlen(headers) : 0,
                     .body = body, .body_len = body_len };
  rs_req_respond(req, &resp);
}

static void rs__on_write(uv_write_t *w, int status) {
  rs_conn_t *c = RS_CONTAINER_OF(w, rs_conn_t, wreq);
  rs_loop_t *loop = c->loop;
  bool last_close = false;
  c->writing = false;
  c->write_timed = false;
  for (size_t i = 0; i < c->nwriting; i++) {
    rs_req_t *r = c->head;
    if (status == 0 && r->_resp.file_len > 0 && !c->closed) {
      /* Its head is out (it is the last of the batch): now its file, which
       * comes back here with file_len 0, or with an error. */
      c->nwriting = 1;
      c->writing = true;
      c->sending = true;
      rs__conn_send_file(c);
      return;
    }
    if (status == 0 && r->_stream && !c->closed) {
      /* Its head is out (the last of the batch): the body follows as the
       * handler writes it (rs__stream_kick, rs__on_chunk_written). */
      c->nwriting = 0;
      r->_state = RS__REQ_STREAMING;
      RS_COUNTER_ADD(loop->counters.bytes_out, r->_head_len);
      while (r->_chunks_inhead != NULL) {
        rs__chunk_t *ch = r->_chunks_inhead;
        r->_chunks_inhead = ch->next;
        RS_COUNTER_ADD(loop->counters.bytes_out, ch->wire);
        c->sdone++;
        free(ch);
      }
      rs__stream_kick(c);
      if (c->closed) return;
      /* The pieces that left with the head may have been all there was:
       * no piece's completion will let the producer go on. */
      r = c->head;
      if (r != NULL && r->_state == RS__REQ_STREAMING && r->_stream_drain && c->spending <= RS__STREAM_LOW) {
        r->_stream_drain = false;
        if (r->on_drain != NULL) r->on_drain(r);
        if (c->closed) return;
      }
      rs__conn_resume(c);
      if (!c->closed) rs__conn_arm(c);
      return;
    }
    c->head = r->_next;
    if (c->head == NULL) c->tail = NULL;
    c->nqueued--;
    if (r->_stream && !r->_stream_ended) {
      /* The client went before the head did: the handler still holds it. */
      r->_conn = NULL;
      r->_next = NULL;
      if (r->on_abort != NULL) r->on_abort(r);
      continue;
    }
    if (status == 0) RS_COUNTER_ADD(loop->counters.bytes_out, r->_bytes_out);
    if (!r->keep_alive) last_close = true;
    if (c->parsing == r) {       /* answered before its body ended: dropped */
      c->parsing = NULL;
      c->in_body = false;
    }
    rs__req_free(r);
  }
  c->nwriting = 0;
  if (c->closed) return;
  if (status < 0) {
    rs_log_debug("client %s: write failed: %s", c->peer, uv_strerror(status));
    rs__conn_close(c);
    return;
  }
  rs__conn_next(c, last_close);
}

/* After an answer has been written: close, or send the next, or read more. */
void rs__conn_next(rs_conn_t *c, bool last_close) {
  rs_loop_t *loop = c->loop;
  if (last_close) {
    rs__conn_linger(c);
    return;
  }
  rs__conn_flush(c);
  if (c->closed) return;
  if (c->head == NULL && c->parsing == NULL && (c->read_eof || (loop->draining && c->no_more))) {
    rs__conn_close(c);
    return;
  }
  if (c->head == NULL && loop->draining && c->parsing == NULL) {
    rs__conn_close(c);
    return;
  }
  rs__conn_resume(c);
  if (!c->closed) rs__conn_arm(c);
}

/* ------------------------------------------------------------------ file bodies
 *
 * After its head has been written, the request at the head of the queue
 * sends its file with sendfile(2) on the non-blocking socket: as much as
 * the socket takes, at most RS__SENDFILE_SLICE per loop turn so that one
 * fast reader does not hold the loop; then a uv_poll waits for POLLOUT on
 * a dup of the socket (the tcp handle owns the socket's own fd, and an fd
 * may have one watcher only; the dup is another fd for the same socket, and
 * uv_poll_stop removes it from epoll). A regular file in the page cache
 * never blocks sendfile; a cold one blocks the loop for the disk read, as
 * nginx without aio does. The end goes through rs__on_write, as a write. */

/* Bytes queued and not yet taken by the socket, for the write clock. */
size_t rs__conn_unsent(rs_conn_t *c) {
  size_t n = rs__conn_queued(c);
  if (c->sending && c->head != NULL) n += c->head->_resp.file_len;
  return n;
}

static void rs__conn_file_end(rs_conn_t *c, int status) {
  c->sending = false;
  if (c->fpoll != NULL) uv_poll_stop(c->fpoll);
  rs__on_write(&c->wreq, status);
}

static int rs__conn_wait_writable(rs_conn_t *c) {
  if (c->fpoll == NULL) {
    uv_os_fd_t fd;
    int rc = uv_fileno((uv_handle_t *)&c->tcp, &fd);
    if (rc != 0) return rc;
    int dfd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
    if (dfd < 0) return uv_translate_sys_error(errno);
    uv_poll_t *p = rs_xmalloc(sizeof(*p));
    rc = uv_poll_init_socket(&c->loop->uv, p, dfd);
    if (rc != 0) {
      free(p);
      close(dfd);
      return rc;
    }
    p->data = c;
    c->fpoll = p;
    c->fpoll_fd = dfd;
    c->handles++;
  }
  return uv_poll_start(c->fpoll, UV_WRITABLE, rs__on_writable);
}

/* Over TLS a file cannot go by sendfile(2): its bytes are read (pread, in
 * slices of RS__SENDFILE_SLICE) and written encrypted, one slice in flight:
 * the next is read when the socket has taken the previous one, so a slow
 * reader holds one slice of ciphertext, not the file. */
typedef struct {
  uv_write_t w;
  rs_conn_t *c;
} rs__fslice_t;

static void rs__conn_send_file_tls(rs_conn_t *c);

static void rs__on_fslice(uv_write_t *w, int status) {
  rs__fslice_t *s = RS_CONTAINER_OF(w, rs__fslice_t, w);
  rs_conn_t *c = s->c;
  free(s);
  if (c->closed || !c->sending) return;
  if (status < 0) {
    rs__conn_file_end(c, status);
    return;
  }
  rs__conn_send_file_tls(c);
  if (!c->closed && c->sending) rs__conn_arm(c);
}

static void rs__conn_send_file_tls(rs_conn_t *c) {
  rs_resp_t *resp = &c->head->_resp;
  if (resp->file_len == 0) {
    rs__conn_file_end(c, 0);
    return;
  }
  size_t want = RS_MIN(resp->file_len, (size_t)RS__SENDFILE_SLICE);
  char *buf = rs_xmalloc(want);
  size_t got = 0;
  while (got < want) {
    ssize_t n = pread(resp->file_fd, buf + got, want - got, (off_t)resp->file_off + (off_t)got);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      int err = n == 0 ? UV_EIO : uv_translate_sys_error(errno);
      rs_log_info("client %s: sending a file body: %s", c->peer[0] ? c->peer : "-",
                  n == 0 ? "the file was truncated" : uv_strerror(err));
      free(buf);
      rs__conn_file_end(c, err);
      return;
    }
    got += (size_t)n;
  }
  rs__fslice_t *s = rs_xmalloc(sizeof(*s));
  s->c = c;
  uv_buf_t b = uv_buf_init(buf, (unsigned)got);
  int rc = rs__conn_write(c, &s->w, &b, 1, rs__on_fslice);   /* encrypted at once: buf is free */
  free(buf);
  if (rc != 0) {
    free(s);
    rs__conn_file_end(c, rc);
    return;
  }
  resp->file_off += (int64_t)got;
  resp->file_len -= got;
}

static void rs__conn_send_file(rs_conn_t *c) {
  rs_req_t *r = c->head;
  rs_resp_t *resp = &r->_resp;
  if (c->tio != NULL) {          /* TLS: read and encrypted, not sendfile */
    rs__conn_send_file_tls(c);
    if (!c->closed && c->sending) rs__conn_arm(c);
    return;
  }
  uv_os_fd_t sock;
  if (uv_fileno((uv_handle_t *)&c->tcp, &sock) != 0) {
    rs__conn_file_end(c, UV_EBADF);
    return;
  }
  size_t budget = RS__SENDFILE_SLICE;
  while (resp->file_len > 0 && budget > 0) {
    off_t off = (off_t)resp->file_off;
    ssize_t n = sendfile(sock, resp->file_fd, &off, RS_MIN(resp->file_len, budget));
    if (n > 0) {
      resp->file_off += n;
      resp->file_len -= (size_t)n;
      budget -= (size_t)n;
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
    /* 0: the file is shorter than when it was opened (truncated since);
     * the Content-Length cannot be kept, so the connection ends. */
    int err = n == 0 ? UV_EIO : uv_translate_sys_error(errno);
    rs_log_info("client %s: sending a file body: %s", c->peer[0] ? c->peer : "-",
                n == 0 ? "the file was truncated" : uv_strerror(err));
    rs__conn_file_end(c, err);
    return;
  }
  if (resp->file_len == 0) {
    rs__conn_file_end(c, 0);
    return;
  }
  /* The socket is full, or this turn's share is used: come back when it is
   * writable (at once, next turn, in the second case). */
  int rc = rs__conn_wait_writable(c);
  if (rc != 0) {
    rs_log_error("client %s: cannot wait to send a file: %s", c->peer[0] ? c->peer : "-",
                 uv_strerror(rc));
    rs__conn_file_end(c, rc);
    return;
  }
  rs__conn_arm(c);
}

static void rs__on_writable(uv_poll_t *p, int status, int events) {
  rs_conn_t *c = p->data;
  if (!c->sending) {
    uv_poll_stop(p);
    return;
  }
  if (status < 0) {
    rs__conn_file_end(c, status);
    return;
  }
  rs__conn_send_file(c);
}

void rs__conn_flush(rs_conn_t *c) {
  if (c->writing || c->closed) return;
  uv_buf_t bufs[RS__MAX_IOV];
  unsigned n = 0;
  size_t nreq = 0;
  for (rs_req_t *r = c->head; r != NULL && r->_state == RS__REQ_READY && n + 2 <= RS__MAX_IOV;
       r = r->_next) {
    bufs[n++] = r->_iov[0];
    if (r->_iov[1].len) bufs[n++] = r->_iov[1];
    r->_state = RS__REQ_WRITING;
    nreq++;
    if (!r->keep_alive) break;   /* nothing after a closing answer */
    if (r->_resp.file_len > 0) break;  /* its file goes before anything else */
    if (r->_stream) {            /* its body goes before anything else */
      rs__stream_inhead(r, bufs, &n);
      break;
    }
  }
  if (nreq == 0) return;
  c->nwriting = nreq;
  c->writing = true;
  int rc = rs__conn_write(c, &c->wreq, bufs, n, rs__on_write);
  if (rc != 0) {
    /* uv_write refused (the socket is gone): the callback will not run. */
    c->writing = false;
    c->write_timed = false;
    c->nwriting = 0;
    for (rs_req_t *r = c->head; r != NULL && r->_state == RS__REQ_WRITING; r = r->_next)
      r->_state = RS__REQ_READY;
    rs__conn_close(c);
    return;
  }
  rs__conn_arm(c);
}
