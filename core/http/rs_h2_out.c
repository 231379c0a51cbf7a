/* core/http/rs_h2_out.c — HTTP/2 answers and the bytes out (rs_h2_int.h).
 *
 * An answer's head becomes HEADERS (names lower-cased, the hop-by-hop
 * headers dropped, RFC 9113 §8.2.2); its body a DATA source: bytes in
 * memory (a stored page, an error page) go out without a copy (nghttp2's
 * NO_COPY: the frame header is ours, the payload the handler's, in one
 * iovec), a file body is read from its fd frame by frame straight into the
 * write's buffer behind its frame header (NO_COPY too: one copy, the
 * kernel's, where nghttp2's own frame buffer took two), a streamed body
 * (the proxy) is queued per stream and taken as the stream's window allows,
 * copied from its queue into the write behind the frame's header (NO_COPY
 * again: one copy).
 *
 * Output: nghttp2_session_send fills one batch (frames copied into buf,
 * NO_COPY payloads pointed to) of at most RS__H2_BATCH bytes, which goes
 * out in one rs__conn_write; the next batch is filled when it completes.
 * Streams that closed meanwhile are freed after the write that may hold
 * their bytes. */
#include "rs_conn.h"
#include "rs_conn_int.h"
#include "rs_h2_int.h"

#include <unistd.h>

/* ------------------------------------------------------------------ the batch */

static bool rs__h2_full(const rs_h2_t *h, unsigned segs) {
  return h->nseg > 0 && (h->batch >= RS__H2_BATCH || h->nseg + segs > RS__H2_SEGS);
}

/* Room for n more bytes at the end of the batch's buffer. */
static char *rs__h2_room(rs_h2_t *h, size_t n) {
  if (h->buf_len + n > h->buf_cap) {
    h->buf_cap = RS_MAX(h->buf_cap * 2, RS_MAX(h->buf_len + n, 16384));
    h->buf = rs_xrealloc(h->buf, h->buf_cap);
  }
  return h->buf + h->buf_len;
}

/* The n bytes at the end of the buffer join the batch. */
static void rs__h2_commit(rs_h2_t *h, size_t n) {
  rs__h2seg_t *last = h->nseg > 0 ? &h->seg[h->nseg - 1] : NULL;
  if (last != NULL && last->p == NULL && last->off + last->len == h->buf_len) last->len += n;
  else h->seg[h->nseg++] = (rs__h2seg_t){ NULL, h->buf_len, n };
  h->buf_len += n;
  h->batch += n;
}

static void rs__h2_put(rs_h2_t *h, const void *p, size_t n) {
  memcpy(rs__h2_room(h, n), p, n);
  rs__h2_commit(h, n);
}

/* len bytes of s's streamed body, from its queue into the buffer (one
 * copy; nghttp2's frame buffer took two). */
static void rs__h2_put_queue(rs_h2_t *h, rs__h2s_t *s, size_t len) {
  char *p = rs__h2_room(h, len);
  size_t n = 0;
  while (n < len) {
    rs__h2chunk_t *ch = s->q;
    size_t k = RS_MIN(len - n, ch->len - ch->off);
    memcpy(p + n, ch->data + ch->off, k);
    ch->off += k;
    n += k;
    if (ch->off == ch->len) {
      s->q = ch->next;
      if (s->q == NULL) s->qtail = NULL;
      free(ch);
    }
  }
  s->qbytes -= len;
  rs__h2_commit(h, len);
}

/* len bytes of s's file body at nc_off, read straight into the buffer
 * (one copy, the kernel's). 0, or -1 when the file cannot give them. */
static int rs__h2_put_file(rs_h2_t *h, rs__h2s_t *s, size_t len) {
  char *p = rs__h2_room(h, len);
  size_t got = 0;
  while (got < len) {
    ssize_t k = pread(s->fd, p + got, len - got, (off_t)(s->nc_off + (int64_t)got));
    if (k < 0 && errno == EINTR) continue;
    if (k <= 0) {
      rs_log_info("client %s: sending a file body: %s", rs__conn_peer(h->c),
                  k == 0 ? "the file was truncated" : strerror(errno));
      return -1;
    }
    got += (size_t)k;
  }
  rs__h2_commit(h, len);
  return 0;
}

ssize_t rs__h2_send_cb(nghttp2_session *ng, const uint8_t *data, size_t len, int flags, void *ud) {
  (void)ng;
  (void)flags;
  rs_h2_t *h = ud;
  if (rs__h2_full(h, 1)) return NGHTTP2_ERR_WOULDBLOCK;
  rs__h2_put(h, data, len);
  return (ssize_t)len;
}

int rs__h2_send_data_cb(nghttp2_session *ng, nghttp2_frame *frame, const uint8_t *framehd, size_t len,
                        nghttp2_data_source *src, void *ud) {
  (void)ng;
  rs_h2_t *h = ud;
  rs__h2s_t *s = src->ptr;
  if (rs__h2_full(h, 2)) return NGHTTP2_ERR_WOULDBLOCK;
  size_t buf_len = h->buf_len, batch = h->batch;   /* to take the frame back */
  unsigned nseg = h->nseg;
  size_t last = nseg > 0 ? h->seg[nseg - 1].len : 0;
  rs__h2_put(h, framehd, 9);
  if (frame->data.padlen > 0) {     /* we never ask for padding; kept correct anyway */
    uint8_t pl = (uint8_t)(frame->data.padlen - 1);
    rs__h2_put(h, &pl, 1);
  }
  if (len > 0 && s->nc_p != NULL) {          /* bytes in memory: pointed to */
    h->seg[h->nseg++] = (rs__h2seg_t){ s->nc_p, 0, len };
    h->batch += len;
  } else if (len > 0 && s->kind == RS__H2B_STREAM) {
    rs__h2_put_queue(h, s, len);
  } else if (len > 0 && rs__h2_put_file(h, s, len) != 0) {
    h->buf_len = buf_len;                    /* none of the frame goes; the stream is reset */
    h->batch = batch;
    h->nseg = nseg;
    if (nseg > 0) h->seg[nseg - 1].len = last;
    return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
  }
  if (frame->data.padlen > 1) {
    static const uint8_t zeros[256];
    rs__h2_put(h, zeros, frame->data.padlen - 1);
  }
  return 0;
}

void rs__h2s_free(rs__h2s_t *s) {
  if (s->r != NULL) {
    rs_req_t *r = s->r;
    r->_h2 = NULL;
    rs__req_free(r);
  }
  while (s->q != NULL) {
    rs__h2chunk_t *ch = s->q;
    s->q = ch->next;
    free(ch);
  }
  free(s->held);
  free(s);
}

static void rs__h2_free_dead(rs_h2_t *h) {
  while (h->dead != NULL) {
    rs__h2s_t *s = h->dead;
    h->dead = s->next;
    rs__h2s_free(s);
  }
}

static void rs__h2_on_write(uv_write_t *w, int status) {
  rs_h2_t *h = w->data;
  h->writing = false;
  if (h->free_me) {                /* the connection closed meanwhile */
    free(h->buf);
    free(h);
    return;
  }
  rs_conn_t *c = h->c;
  if (status == 0) RS_COUNTER_ADD(c->loop->counters.bytes_out, h->batch);
  h->progress++;
  h->buf_len = 0;
  h->nseg = 0;
  h->batch = 0;
  rs__h2_free_dead(h);
  if (status < 0) {
    rs_log_debug("client %s: write failed: %s", rs__conn_peer(c), uv_strerror(status));
    rs__conn_close(c);
    return;
  }
  h->write_timed = false;
  /* Producers waiting for their queue to drain go on. */
  h->in_cb++;
  for (rs__h2s_t *s = h->streams; s != NULL; s = s->next) {
    if (!s->drain || s->qbytes > RS__STREAM_LOW || s->r == NULL) continue;
    s->drain = false;
    if (s->r->on_drain != NULL) s->r->on_drain(s->r);
  }
  h->in_cb--;
  if (c->closed) {
    rs__h2_close(c);
    return;
  }
  rs__h2_flush(h);
}

void rs__h2_flush(rs_h2_t *h) {
  rs_conn_t *c = h->c;
  if (c->closed || h->in_cb > 0 || h->ng == NULL) return;
  h->in_cb++;
  rs__h2_budget(h);             /* windows: bodies let in, refused */
  h->in_cb--;
  if (c->closed) {
    rs__h2_close(c);
    return;
  }
  if (h->writing) return;
  h->in_cb++;
  int rv = nghttp2_session_send(h->ng);
  h->in_cb--;
  if (rv != 0) {
    rs_log_info("client %s: HTTP/2: %s", rs__conn_peer(c), nghttp2_strerror(rv));
    rs__conn_close(c);
    return;
  }
  if (h->nseg > 0) {
    uv_buf_t iov[RS__H2_SEGS];
    for (unsigned i = 0; i < h->nseg; i++)
      iov[i] = uv_buf_init((char *)(h->seg[i].p ? h->seg[i].p : h->buf + h->seg[i].off), (unsigned)h->seg[i].len);
    h->writing = true;
    if (rs__conn_write(c, &h->w, iov, h->nseg, rs__h2_on_write) != 0) {
      h->writing = false;
      h->nseg = 0;
      h->buf_len = 0;
      h->batch = 0;
      rs__conn_close(c);
      return;
    }
    rs__h2_arm(c);
    return;
  }
  rs__h2_free_dead(h);
  /* All is written: the session may be over. */
  if (h->dying || (h->draining && h->nstreams == 0) ||
      (!nghttp2_session_want_read(h->ng) && !nghttp2_session_want_write(h->ng))) {
    rs__conn_linger(c);
    return;
  }
  rs__h2_arm(c);
}

/* ------------------------------------------------------------------ answers */

static bool rs__h2_hop(const char *n, size_t len) {
  return rs_str_ieq(n, len, "connection", 10) || rs_str_ieq(n, len, "keep-alive", 10) ||
         rs_str_ieq(n, len, "transfer-encoding", 17) || rs_str_ieq(n, len, "upgrade", 7) ||
         rs_str_ieq(n, len, "proxy-connection", 16);
}

static nghttp2_nv rs__h2_nv1(const char *n, size_t nl, const char *v, size_t vl) {
  return (nghttp2_nv){ (uint8_t *)n, (uint8_t *)v, nl, vl, NGHTTP2_NV_FLAG_NONE };
}

/* The answer's header lines ("Name: value\r\n"... in up to three blocks) as
 * HEADERS fields after :status, server, date and content-length (clen < 0:
 * none). From the request's pool; nghttp2 copies them. Returns the count;
 * *bytes: their size as HTTP/1 would count it, for the log. */
static size_t rs__h2_nva(rs_req_t *r, int status, const rs_str_t *blocks, int nb, int64_t clen,
                         nghttp2_nv **out, size_t *bytes) {
  rs_loop_t *loop = r->loop;
  size_t lines = 0;
  for (int b = 0; b < nb; b++)
    for (size_t i = 0; i < blocks[b].len; i++) lines += blocks[b].p[i] == '\n';
  nghttp2_nv *nv = rs_req_alloc(r, (lines + 5) * sizeof(*nv));
  size_t n = 0;
  char *st = rs_req_alloc(r, 4);
  st[0] = (char)('0' + status / 100 % 10);
  st[1] = (char)('0' + status / 10 % 10);
  st[2] = (char)('0' + status % 10);
  st[3] = '\0';
  nv[n++] = rs__h2_nv1(":status", 7, st, 3);
  nv[n++] = rs__h2_nv1("server", 6, "rustyssr", 8);
  if (loop->date_len > 8) nv[n++] = rs__h2_nv1("date", 4, loop->date + 6, loop->date_len - 8);
  if (clen >= 0) {
    char *cl = rs_req_alloc(r, 24);
    size_t k = (size_t)(rs__put_u64(cl, (uint64_t)clen) - cl);
    nv[n++] = rs__h2_nv1("content-length", 14, cl, k);
  }
  for (int b = 0; b < nb; b++) {
    if (blocks[b].len == 0) continue;
    const char *p = blocks[b].p, *end = p + blocks[b].len;
    while (p < end) {
      const char *eol = memchr(p, '\n', (size_t)(end - p));
      const char *le = eol ? eol : end;
      const char *colon = memchr(p, ':', (size_t)(le - p));
      const char *next = eol ? eol + 1 : end;
      if (colon == NULL || colon == p) {
        p = next;
        continue;
      }
      size_t nl = (size_t)(colon - p);
      const char *v = colon + 1, *ve = le;
      while (v < ve && (*v == ' ' || *v == '\t')) v++;
      while (ve > v && (ve[-1] == '\r' || ve[-1] == ' ' || ve[-1] == '\t')) ve--;
      if (rs__h2_hop(p, nl) || (clen >= 0 && rs_str_ieq(p, nl, "content-length", 14))) {
        p = next;
        continue;
      }
      char *ln = rs_req_alloc(r, nl);
      for (size_t i = 0; i < nl; i++) ln[i] = (char)(p[i] >= 'A' && p[i] <= 'Z' ? p[i] + 32 : p[i]);
      nv[n++] = rs__h2_nv1(ln, nl, v, (size_t)(ve - v));
      p = next;
    }
  }
  *bytes = 0;
  for (size_t i = 0; i < n; i++) *bytes += nv[i].namelen + nv[i].valuelen + 4;
  *out = nv;
  return n;
}

static ssize_t rs__h2_read(nghttp2_session *ng, int32_t id, uint8_t *buf, size_t len, uint32_t *flags,
                           nghttp2_data_source *src, void *ud) {
  (void)ng;
  (void)id;
  (void)ud;
  rs__h2s_t *s = src->ptr;
  if (s->kind == RS__H2B_MEM) {
    if (s->body_off < s->body_len) {   /* in memory: pointed to, not copied */
      size_t n = RS_MIN(len, s->body_len - s->body_off);
      s->nc_p = s->body + s->body_off;
      s->body_off += n;
      *flags |= NGHTTP2_DATA_FLAG_NO_COPY;
      if (s->body_off == s->body_len && s->file_len == 0) *flags |= NGHTTP2_DATA_FLAG_EOF;
      return (ssize_t)n;
    }
    if (s->file_len > 0) {             /* a file body: read frame by frame, */
      size_t n = RS_MIN(len, s->file_len);   /* by rs__h2_put_file, into the write */
      s->nc_p = NULL;
      s->nc_off = s->file_off;
      s->file_off += (int64_t)n;
      s->file_len -= n;
      *flags |= NGHTTP2_DATA_FLAG_NO_COPY;
      if (s->file_len == 0) *flags |= NGHTTP2_DATA_FLAG_EOF;
      return (ssize_t)n;
    }
    *flags |= NGHTTP2_DATA_FLAG_EOF;
    return 0;
  }
  /* A streamed body: its queue, copied by rs__h2_put_queue into the write
   * behind the frame's header. */
  (void)buf;
  size_t n = RS_MIN(len, s->qbytes);
  if (n == s->qbytes && s->ended) *flags |= NGHTTP2_DATA_FLAG_EOF;
  else if (n == 0) return NGHTTP2_ERR_DEFERRED;     /* resumed by the next write */
  if (n > 0) {
    s->nc_p = NULL;
    *flags |= NGHTTP2_DATA_FLAG_NO_COPY;
  }
  return (ssize_t)n;
}

/* What HTTP/1's writer does for every answer: counters and the log line. */
static void rs__h2_answered(rs_req_t *r, int status) {
  rs_loop_t *loop = r->loop;
  RS_COUNTER_ADD(loop->counters.requests[status / 100 <= 5 ? status / 100 : 5], 1);
  if (rs_log_access_any_on() && (r->loop->index > 0 || r->loop->http->access_admin))
    rs__access_log(r, r->_conn);
}

void rs__h2_respond(rs_req_t *r, const rs_resp_t *resp) {
  rs__h2s_t *s = r->_h2;
  rs_h2_t *h = s->h;
  int status = resp->status;
  if (status < 100 || status > 999) status = 500;
  bool body_ok = !r->head && status >= 200 && status != 204 && status != 304;
  int64_t clen = status >= 200 && status != 204 && status != 304 ? (int64_t)(resp->body_len + resp->file_len) : -1;
  rs_str_t blocks[3] = { { resp->headers, resp->headers_len }, { resp->extra, resp->extra_len },
                         { r->add_headers.p, r->add_headers.len } };
  nghttp2_nv *nv;
  size_t hb;
  size_t nn = rs__h2_nva(r, status, blocks, 3, clen, &nv, &hb);
  r->_resp.extra = NULL;               /* copied by nghttp2 below */
  r->_resp.extra_len = 0;
  bool body = body_ok && resp->body_len + resp->file_len > 0;
  if (!body) r->_resp.file_len = 0;
  s->responded = true;
  if (body) {
    s->kind = RS__H2B_MEM;
    s->body = resp->body;
    s->body_len = resp->body_len;
    s->fd = resp->file_fd;
    s->file_off = resp->file_off;
    s->file_len = resp->file_len;
  }
  nghttp2_data_provider prd = { .source.ptr = s, .read_callback = rs__h2_read };
  int rv = nghttp2_submit_response(h->ng, s->id, nv, nn, body ? &prd : NULL);
  if (rv != 0) rs_log_debug("client %s: HTTP/2 stream %d: %s", rs__conn_peer(h->c), (int)s->id, nghttp2_strerror(rv));
  r->_bytes_out = hb + (body ? resp->body_len + resp->file_len : 0);
  rs__h2_answered(r, status);
  rs__h2_flush(h);
}

int rs__h2_stream_start(rs_req_t *r, int status, const char *headers, size_t headers_len,
                        int64_t content_length, const char *body, size_t n) {
  rs__h2s_t *s = r->_h2;
  rs_h2_t *h = s->h;
  if (status < 100 || status > 999) status = 500;
  bool no_body = r->head || status < 200 || status == 204 || status == 304;
  r->_stream = no_body ? RS__ST_NONE : content_length >= 0 ? RS__ST_LENGTH : RS__ST_CHUNKED;
  r->_stream_len = content_length;
  r->_status = status;
  r->_resp = (rs_resp_t){ .status = status, .file_fd = -1 };
  rs_str_t blocks[2] = { { headers, headers_len }, { r->add_headers.p, r->add_headers.len } };
  nghttp2_nv *nv;
  size_t hb;
  int64_t clen = status >= 200 && status != 204 && status != 304 ? content_length : -1;
  size_t nn = rs__h2_nva(r, status, blocks, 2, clen, &nv, &hb);
  s->responded = true;
  s->streaming = true;
  s->kind = no_body ? RS__H2B_NONE : RS__H2B_STREAM;
  nghttp2_data_provider prd = { .source.ptr = s, .read_callback = rs__h2_read };
  int rv = nghttp2_submit_response(h->ng, s->id, nv, nn, no_body ? NULL : &prd);
  if (rv != 0) rs_log_debug("client %s: HTTP/2 stream %d: %s", rs__conn_peer(h->c), (int)s->id, nghttp2_strerror(rv));
  r->_bytes_out = hb;
  rs__h2_answered(r, status);
  if (n > 0) {                  /* through the compression filter, flushed below */
    h->in_cb++;
    rs_req_stream_write(r, body, n);
    h->in_cb--;
  }
  rs__h2_flush(h);
  return 0;
}

bool rs__h2_stream_write(rs_req_t *r, const char *p, size_t n) {
  rs__h2s_t *s = r->_h2;
  rs_h2_t *h = s->h;
  if (s->closed || s->ended || s->kind != RS__H2B_STREAM) return true;
  rs__h2chunk_t *ch = rs_xmalloc(sizeof(*ch) + n);
  ch->next = NULL;
  ch->len = n;
  ch->off = 0;
  memcpy(ch->data, p, n);
  if (s->qtail) s->qtail->next = ch; else s->q = ch;
  s->qtail = ch;
  s->qbytes += n;
  r->_bytes_out += n;
  nghttp2_session_resume_data(h->ng, s->id);
  bool full = s->qbytes > RS__STREAM_HIGH;
  if (full) s->drain = true;
  rs__h2_flush(h);              /* may close the connection: s not touched after */
  return !full;
}

void rs__h2_stream_end(rs_req_t *r, bool complete) {
  rs__h2s_t *s = r->_h2;
  rs_h2_t *h = s->h;
  s->ended = true;
  s->drain = false;
  if (!complete) {
    /* The body is cut short: the stream says so (a DATA end would lie). */
    nghttp2_submit_rst_stream(h->ng, NGHTTP2_FLAG_NONE, s->id, NGHTTP2_INTERNAL_ERROR);
  } else if (s->kind == RS__H2B_STREAM) {
    nghttp2_session_resume_data(h->ng, s->id);
  }
  rs__h2_flush(h);
}
