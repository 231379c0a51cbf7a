/* core/http/rs_stream.c — streamed answers (rs_req_stream_*, rs_conn.h).
 *
 * A streamed answer's head goes out like any other (rs_req_respond, with
 * its framing in _stream); once written, the request stays at the head of
 * the queue in STREAMING state, and each piece the handler writes goes out
 * in a uv_write of its own (libuv keeps them in order), or at once by
 * uv_try_write when nothing is in flight. Pieces written before the head
 * left wait on the request and go in the head's uv_write (with the chunked
 * end, if the body has ended by then). When the handler has ended
 * the body and every piece is out, the chunked end (if any) follows, then
 * the request completes as a written answer does. The conn's write clock
 * runs while pieces are in flight; while none are, the handler's own
 * clock does (the proxy's read timeout). */
#include "rs_conn.h"
#include "rs_conn_int.h"

#include "rs_compress.h"

static void rs__stream_finish(rs_conn_t *c);

static void rs__on_chunk_written(uv_write_t *w, int status) {
  rs__chunk_t *ch = w->data;
  rs_conn_t *c = ch->c;
  c->swrites--;
  c->spending -= ch->len;
  c->sdone++;
  if (status == 0) RS_COUNTER_ADD(c->loop->counters.bytes_out, ch->wire);
  free(ch);
  if (c->closed) return;
  if (status < 0) {
    rs_log_debug("client %s: write failed: %s", c->peer, uv_strerror(status));
    rs__conn_close(c);
    return;
  }
  if (c->swrites == 0) c->write_timed = false;
  rs_req_t *r = c->head;
  if (r != NULL && r->_state == RS__REQ_STREAMING && r->_stream_drain && c->spending <= RS__STREAM_LOW) {
    r->_stream_drain = false;
    if (r->on_drain != NULL) r->on_drain(r);
    if (c->closed) return;
    r = c->head;
  }
  if (r != NULL && r->_state == RS__REQ_STREAMING && r->_stream_ended && c->swrites == 0) {
    rs__stream_finish(c);
    return;
  }
  rs__conn_arm(c);
}

static void rs__chunk_write(rs_conn_t *c, rs__chunk_t *ch) {
  uv_buf_t b[3];
  unsigned n = 0;
  rs_req_t *r = c->head;
  ch->c = c;
  ch->w.data = ch;
  if (r->_stream == RS__ST_CHUNKED && !ch->raw) {
    int k = snprintf(ch->prefix, sizeof(ch->prefix), "%zx\r\n", ch->len);
    b[n++] = uv_buf_init(ch->prefix, (unsigned)k);
    b[n++] = uv_buf_init(ch->data, (unsigned)ch->len);
    b[n++] = uv_buf_init((char *)"\r\n", 2);
    ch->wire = (size_t)k + ch->len + 2;
  } else {
    b[n++] = uv_buf_init(ch->data, (unsigned)ch->len);
    ch->wire = ch->len;
  }
  if (c->swrites == 0 && !c->writing) {
    /* Nothing in flight: try now. A piece taken whole needs no uv_write
     * (whose completion costs an epoll_ctl); a part taken leaves the rest. */
    int w = rs__conn_try_write(c, b, n);
    if (w > 0 && (size_t)w == ch->wire) {
      RS_COUNTER_ADD(c->loop->counters.bytes_out, ch->wire);
      c->sdone++;
      free(ch);
      return;
    }
    if (w > 0) {
      size_t k = (size_t)w;
      unsigned i = 0;
      while (k >= b[i].len) k -= b[i++].len;
      b[i] = uv_buf_init(b[i].base + k, (unsigned)(b[i].len - k));
      for (unsigned j = 0; i + j < n; j++) b[j] = b[i + j];
      n -= i;
      RS_COUNTER_ADD(c->loop->counters.bytes_out, (uint64_t)w);
      ch->wire -= (size_t)w;
    }
  }
  c->swrites++;
  c->spending += ch->len;
  if (rs__conn_write(c, &ch->w, b, n, rs__on_chunk_written) != 0) {
    /* The socket is gone; its close comes with the read side's error. */
    c->swrites--;
    c->spending -= ch->len;
    free(ch);
  }
}

/* The head has been written: send what waited, finish if all is said. */
void rs__stream_kick(rs_conn_t *c) {
  rs_req_t *r = c->head;
  while (r->_chunks != NULL) {
    rs__chunk_t *ch = r->_chunks;
    r->_chunks = ch->next;
    rs__chunk_write(c, ch);
  }
  r->_chunks_tail = NULL;
  r->_chunks_bytes = 0;
  if (r->_stream_ended && c->swrites == 0) rs__stream_finish(c);
  else rs__conn_arm(c);
}

static void rs__stream_finish(rs_conn_t *c) {
  rs_req_t *r = c->head;
  if (r->_stream == RS__ST_CHUNKED && !r->_stream_term) {
    r->_stream_term = true;
    rs__chunk_t *ch = rs_xmalloc(sizeof(*ch) + 5);
    memset(ch, 0, sizeof(*ch));
    memcpy(ch->data, "0\r\n\r\n", 5);
    ch->len = 5;
    ch->raw = true;
    rs__chunk_write(c, ch);
    if (c->swrites > 0) {        /* else it left at once: finish now */
      rs__conn_arm(c);
      return;
    }
  }
  c->head = r->_next;
  if (c->head == NULL) c->tail = NULL;
  c->nqueued--;
  c->write_timed = false;
  bool last_close = !r->keep_alive;
  if (c->parsing == r) {         /* answered before its body ended: dropped */
    c->parsing = NULL;
    c->in_body = false;
  }
  rs__req_free(r);
  rs__conn_next(c, last_close);
}

static int rs__stream_start(rs_req_t *r, int status, const char *headers, size_t headers_len,
                            int64_t content_length, const char *body, size_t n) {
  if (r->compress != NULL && r->_conn != NULL)
    rs_compress_stream_start(r, status, &headers, &headers_len, &content_length);
  if (r->_h2 != NULL && r->_conn != NULL)
    return rs__h2_stream_start(r, status, headers, headers_len, content_length, body, n);
  bool no_body = r->head || status < 200 || status == 204 || status == 304;
  if (content_length >= 0) {
    r->_stream = RS__ST_LENGTH;
    r->_stream_len = content_length;
  } else if (no_body) {
    r->_stream = RS__ST_NONE;
  } else if (r->http_minor >= 1) {
    r->_stream = RS__ST_CHUNKED;
  } else {
    r->_stream = RS__ST_EOF;
    r->keep_alive = false;       /* the end of the body is the end of the connection */
  }
  if (no_body && r->_stream == RS__ST_LENGTH && status != 204 && status != 304 && !r->head)
    r->_stream = RS__ST_NONE;
  /* The head is built from a copy: the handler's buffer may go now. */
  char *h = rs_xmalloc(headers_len + 1);
  memcpy(h, headers, headers_len);
  rs_resp_t resp = { .status = status, .headers = h, .headers_len = headers_len, .release = free,
                     .release_ud = h };
  bool gone = r->_conn == NULL;
  if (gone) {
    /* Keep the request: the handler ends it (and frees it) with _end. */
    r->_resp = resp;
    rs__req_gone(r);
    return -ECONNRESET;
  }
  /* First bytes queue on the request (it is not READY yet) and leave with
   * the head (rs__conn_flush). */
  if (n > 0) rs_req_stream_write(r, body, n);
  rs_req_respond(r, &resp);
  return 0;
}

int rs_req_stream_start(rs_req_t *r, int status, const char *headers, size_t headers_len,
                        int64_t content_length) {
  return rs__stream_start(r, status, headers, headers_len, content_length, NULL, 0);
}

int rs_req_stream_start_body(rs_req_t *r, int status, const char *headers, size_t headers_len,
                             int64_t content_length, const char *body, size_t n) {
  return rs__stream_start(r, status, headers, headers_len, content_length, body, n);
}

static bool rs__stream_write(rs_req_t *r, const char *p, size_t n);

bool rs_req_stream_write(rs_req_t *r, const char *p, size_t n) {
  if (r->_z != NULL) {           /* the compression filter's bytes instead */
    if (n == 0 || r->_stream_ended || r->_conn == NULL || r->_stream == RS__ST_NONE || r->head) return true;
    /* On failure the bytes are dropped and the end comes incomplete (the
     * connection closes: rs_req_stream_end). */
    if (rs_compress_stream(r, p, n, false, &p, &n) != 0) return true;
  }
  return rs__stream_write(r, p, n);
}

static bool rs__stream_write(rs_req_t *r, const char *p, size_t n) {
  rs_conn_t *c = r->_conn;
  if (n == 0 || r->_stream_ended || c == NULL || c->closed) return true;
  if (r->_stream == RS__ST_NONE || r->head) return true;
  if (r->_h2 != NULL) return rs__h2_stream_write(r, p, n);
  rs__chunk_t *ch = rs_xmalloc(sizeof(*ch) + n);
  memset(ch, 0, sizeof(*ch));
  memcpy(ch->data, p, n);
  ch->len = n;
  size_t pending;
  if (r->_state == RS__REQ_STREAMING) {
    rs__chunk_write(c, ch);
    rs__conn_arm(c);
    pending = c->spending;
  } else {
    if (r->_chunks_tail) r->_chunks_tail->next = ch; else r->_chunks = ch;
    r->_chunks_tail = ch;
    r->_chunks_bytes += n;
    pending = r->_chunks_bytes;
  }
  if (pending > RS__STREAM_HIGH) {
    r->_stream_drain = true;
    return false;
  }
  return true;
}

void rs_req_stream_end(rs_req_t *r, bool complete) {
  rs_conn_t *c = r->_conn;
  if (r->_z != NULL && complete && c != NULL && !c->closed && !r->_stream_ended && r->_stream != RS__ST_NONE &&
      !r->head) {                /* the coded stream's end */
    const char *p;
    size_t n;
    if (rs_compress_stream(r, NULL, 0, true, &p, &n) != 0) complete = false;
    else rs__stream_write(r, p, n);
  }
  r->_stream_ended = true;
  r->on_drain = NULL;
  r->on_abort = NULL;
  if (c == NULL) {               /* the client went first */
    rs__req_free(r);
    return;
  }
  if (r->_h2 != NULL) {
    rs__h2_stream_end(r, complete);
    return;
  }
  if (!complete) {
    /* An incomplete body cannot be told apart from a complete one except
     * by closing: the connection goes, and the request with it. */
    r->keep_alive = false;
    rs__conn_close(c);
    return;
  }
  if (r->_state == RS__REQ_STREAMING && c->swrites == 0) rs__stream_finish(c);
}

/* A streamed answer's head is leaving: the pieces already written (and
 * the chunked end, if the body has ended) go in the same uv_write. They
 * move to _chunks_inhead, freed when the write completes. */
void rs__stream_inhead(rs_req_t *r, uv_buf_t *bufs, unsigned *n) {
  rs__chunk_t **tail = &r->_chunks_inhead;
  while (*tail != NULL) tail = &(*tail)->next;
  bool chunked = r->_stream == RS__ST_CHUNKED;
  while (r->_chunks != NULL && *n + 3 <= RS__MAX_IOV) {
    rs__chunk_t *ch = r->_chunks;
    r->_chunks = ch->next;
    if (r->_chunks == NULL) r->_chunks_tail = NULL;
    r->_chunks_bytes -= ch->len;
    ch->next = NULL;
    if (chunked) {
      int k = snprintf(ch->prefix, sizeof(ch->prefix), "%zx\r\n", ch->len);
      bufs[(*n)++] = uv_buf_init(ch->prefix, (unsigned)k);
      bufs[(*n)++] = uv_buf_init(ch->data, (unsigned)ch->len);
      bufs[(*n)++] = uv_buf_init((char *)"\r\n", 2);
      ch->wire = (size_t)k + ch->len + 2;
    } else {
      bufs[(*n)++] = uv_buf_init(ch->data, (unsigned)ch->len);
      ch->wire = ch->len;
    }
    *tail = ch;
    tail = &ch->next;
  }
  if (chunked && r->_chunks == NULL && r->_stream_ended && !r->_stream_term && *n < RS__MAX_IOV) {
    r->_stream_term = true;
    bufs[(*n)++] = uv_buf_init((char *)"0\r\n\r\n", 5);
    r->_head_len += 5;           /* counted with the head */
  }
}
