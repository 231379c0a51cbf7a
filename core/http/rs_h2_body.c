/* core/http/rs_h2_body.c — HTTP/2 request bodies and their flow control
 * (rs_h2_int.h): the DATA a client sends, buffered whole for its handler or
 * streamed to on_body, and the receive windows that bound what a connection
 * holds (the numbers and why beside RS__H2_PREREAD).
 *
 * Each received byte is held until it is given back: to its stream's window
 * when a buffered body is let in or a streamed body's consumer takes it, to
 * the connection's window when the consumer took it (streamed) or the
 * stream is over (buffered: its handler had the body until then). Bytes of
 * a stream nobody reads (answered, refused) go back at once. */
#include "rs_conn.h"
#include "rs_conn_int.h"
#include "rs_h2_int.h"

void rs__h2_release(rs_h2_t *h, rs__h2s_t *s, size_t n) {
  if (n == 0) return;
  s->held_conn -= n;
  h->held -= n;
  if (h->ng != NULL) nghttp2_session_consume_connection(h->ng, n);
}

/* ------------------------------------------------------------------ streamed bodies */

/* Give held body bytes (and the end) to a streamed body's consumer, as
 * long as it takes them; the windows open by what it took. */
void rs__h2_deliver(rs_h2_t *h, rs__h2s_t *s) {
  while (s->r != NULL && !s->paused && s->held_len > 0) {
    rs_req_t *r = s->r;
    size_t n = s->held_len;
    char *p = s->held;
    s->held = NULL;
    s->held_len = s->held_cap = 0;
    if (!s->closed) {
      nghttp2_session_consume_stream(h->ng, s->id, n);
      rs__h2_release(h, s, n);
    }
    if (r->on_body != NULL) r->on_body(r, p, n);
    free(p);
  }
  if (s->r != NULL && !s->paused && s->end_pending) {
    s->end_pending = false;
    s->r->body_complete = true;
    if (s->r->on_body != NULL) s->r->on_body(s->r, NULL, 0);
  }
}

void rs__h2_body_pause(rs_req_t *r, bool paused) {
  rs__h2s_t *s = r->_h2;
  rs_h2_t *h = s->h;
  if (s->paused == paused) return;
  s->paused = paused;
  if (paused) return;
  h->in_cb++;                   /* its consumer may answer: no flush below it */
  rs__h2_deliver(h, s);
  h->in_cb--;
  rs__h2_flush(h);
}

/* ------------------------------------------------------------------ DATA */

static void rs__h2_body_append(rs_h2_t *h, rs__h2s_t *s, const uint8_t *data, size_t len) {
  rs_req_t *r = s->r;
  if (r->body_len + len > r->_body_cap) {
    size_t cap = RS_MAX(r->_body_cap * 2, 4096);
    while (cap < r->body_len + len) cap *= 2;
    char *nb = realloc(r->_body, cap);
    if (nb == NULL) {
      rs__h2_refuse(h, s, RS_REQ_E_BODY_TOO_LARGE, NULL);
      return;
    }
    r->_body = nb;
    r->_body_cap = cap;
  }
  memcpy(r->_body + r->body_len, data, len);
  r->body_len += len;
}

int rs__h2_on_data(nghttp2_session *ng, uint8_t flags, int32_t id, const uint8_t *data, size_t len, void *ud) {
  (void)flags;
  rs_h2_t *h = ud;
  rs__h2s_t *s = rs__h2s_get(h, id);
  if (s == NULL || s->r == NULL || s->dropped || (s->dispatched && !s->r->body_streamed) || s->responded) {
    nghttp2_session_consume_stream(ng, id, len);   /* dropped: both windows get it back */
    nghttp2_session_consume_connection(ng, len);
    return 0;
  }
  rs_req_t *r = s->r;
  s->held_conn += len;
  h->held += len;
  s->body_in += len;
  if (s->body_in > r->opts->limits.body) {
    nghttp2_session_consume_stream(ng, id, len);
    rs__h2_release(h, s, len);
    if (!r->body_streamed) {
      rs__h2_refuse(h, s, RS_REQ_E_BODY_TOO_LARGE, NULL);
    } else {                    /* its handler has it: the stream ends */
      nghttp2_submit_rst_stream(ng, NGHTTP2_FLAG_NONE, id, NGHTTP2_REFUSED_STREAM);
      rs__h2s_orphan(s, true);
    }
    return 0;
  }
  if (r->body_streamed) {
    if (s->paused || s->held_len > 0) {   /* held: its window stays shut by as much */
      if (s->held_len + len > s->held_cap) {
        s->held_cap = RS_MAX(s->held_len + len, s->held_cap * 2);
        s->held = rs_xrealloc(s->held, s->held_cap);
      }
      memcpy(s->held + s->held_len, data, len);
      s->held_len += len;
      return 0;
    }
    nghttp2_session_consume_stream(ng, id, len);
    rs__h2_release(h, s, len);
    if (r->on_body != NULL) r->on_body(r, (const char *)data, len);
    return 0;
  }
  /* Buffered: its stream's window is the preread until the body is let
   * in, then the whole body (never reopened); the connection's reopens
   * when the stream is over. */
  rs__h2_body_append(h, s, data, len);
  return 0;
}

/* ------------------------------------------------------------------ the budget */

static bool rs__h2s_waits_body(const rs__h2s_t *s) {
  return s->buffering && s->r != NULL && !s->dispatched && !s->end_in && !s->responded && !s->dropped &&
         !s->closed;
}

static size_t rs__h2s_rest(const rs__h2s_t *s) {
  return s->expect > s->body_in ? s->expect - s->body_in : 0;
}

/* Let s's body in: its stream's window becomes the whole body (one
 * WINDOW_UPDATE: the connection has room for all of it) and its buffer
 * takes its whole size. */
static void rs__h2_admit(rs_h2_t *h, rs__h2s_t *s) {
  rs_req_t *r = s->r;
  s->admitted = true;
  if (s->expect > RS__H2_PREREAD)
    nghttp2_session_set_local_window_size(h->ng, NGHTTP2_FLAG_NONE, s->id, (int32_t)RS_MIN(s->expect, INT32_MAX));
  if (rs_req_header(r, "content-length") != NULL && s->expect > r->_body_cap) {
    char *nb = realloc(r->_body, s->expect);
    if (nb == NULL) {
      rs__h2_refuse(h, s, RS_REQ_E_BODY_TOO_LARGE, NULL);
      return;
    }
    r->_body = nb;
    r->_body_cap = s->expect;
  }
}

/* What the connection's window has had back (nghttp2_session_consume_
 * connection) goes to the client now: nghttp2 alone would wait until half
 * the window is back, and a body let in could wait on the rest forever.
 * nghttp2's count of bytes received since its last WINDOW_UPDATE, less
 * those still held, is what was given back and not yet sent. */
static void rs__h2_credit(rs_h2_t *h) {
  int32_t recv = nghttp2_session_get_effective_recv_data_length(h->ng);
  if (recv > 0 && (size_t)recv > h->held)
    nghttp2_submit_window_update(h->ng, NGHTTP2_FLAG_NONE, 0, (int32_t)((size_t)recv - h->held));
}

static void rs__h2_body_admit(rs_h2_t *h) {
  size_t wait = 0, in = 0, rest = 0;   /* held by bodies waiting, let in; still to come */
  bool any = false, admitted = false;
  for (rs__h2s_t *s = h->streams; s != NULL; s = s->next) {
    if (!rs__h2s_waits_body(s)) continue;
    any = true;
    if (s->admitted) {
      admitted = true;
      in += s->held_conn;
      rest += rs__h2s_rest(s);
    } else {
      wait += s->held_conn;
    }
  }
  if (!any) return;
  /* Let the waiting bodies in, the oldest stream first, while the
   * connection's window has room for the whole of each besides the slack
   * kept for other streams' preread (one always goes). */
  for (;;) {
    rs__h2s_t *first = NULL;
    for (rs__h2s_t *s = h->streams; s != NULL; s = s->next)
      if (rs__h2s_waits_body(s) && !s->admitted && (first == NULL || s->id < first->id)) first = s;
    if (first == NULL) break;
    size_t need = rs__h2s_rest(first);
    if (admitted && h->held + rest + need + RS__H2_CONN_SLACK > h->window) break;
    size_t held = first->held_conn;
    rs__h2_admit(h, first);
    if (!rs__h2s_waits_body(first)) continue;   /* refused: out of memory */
    wait -= held;
    in += held;
    rest += need;
    admitted = true;
  }
  /* The bodies let in must be able to finish: the preread of those still
   * waiting may not take the room they need. Refuse the newest waiting
   * until it does not (REFUSED_STREAM: the client may send them again). */
  while (wait + in + rest > h->window) {
    rs__h2s_t *last = NULL;
    for (rs__h2s_t *s = h->streams; s != NULL; s = s->next)
      if (rs__h2s_waits_body(s) && !s->admitted && s->held_conn > 0 && (last == NULL || s->id > last->id))
        last = s;
    if (last == NULL) break;
    wait -= last->held_conn;
    rs_log_info("client %s: HTTP/2 stream %d refused: %zu bytes of request bodies held, %zu more to come, "
                "window %zu", rs__conn_peer(h->c), (int)last->id, h->held, rest, h->window);
    last->dropped = true;
    nghttp2_submit_rst_stream(h->ng, NGHTTP2_FLAG_NONE, last->id, NGHTTP2_REFUSED_STREAM);
    rs__h2_release(h, last, last->held_conn);
  }
}

void rs__h2_budget(rs_h2_t *h) {
  rs__h2_body_admit(h);
  rs__h2_credit(h);
}
