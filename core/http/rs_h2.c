/* core/http/rs_h2.c — HTTP/2 connections (RFC 9113) with nghttp2: the
 * switch from the client's preface, the session and its limits, the
 * client's frames made into the same requests HTTP/1 makes (rs_req_t, to
 * the loop's on_head and handler), request bodies (buffered, or streamed to
 * on_body with the stream's window opened as the consumer takes them), the
 * clock, the attacks refused and graceful GOAWAY. Answers: rs_h2_out.c.
 *
 * A stream's request lives from its HEADERS until nghttp2 closes the stream
 * and no write holds its bytes any more; a handler that still holds it then
 * gets on_abort and the request becomes an orphan (rs_req_respond frees it),
 * as an HTTP/1 request whose client went. */
#include "rs_conn.h"
#include "rs_conn_int.h"
#include "rs_h2_int.h"

static const char rs__h2_preface[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

const char *rs_h2_reset_label(rs_h2_reset_t r) {
  static const char *const l[] = {
#define XX(e, s) s,
    RS_H2_RESET_MAP(XX)
#undef XX
  };
  return (unsigned)r < RS_H2_RST_MAX ? l[r] : "other";
}

const char *rs_h2_goaway_label(rs_h2_goaway_t g) {
  static const char *const l[] = {
#define XX(e, s) s,
    RS_H2_GOAWAY_MAP(XX)
#undef XX
  };
  return (unsigned)g < RS_H2_GOAWAY_MAX ? l[g] : "protocol_error";
}

/* ------------------------------------------------------------------ streams */

rs__h2s_t *rs__h2s_get(rs_h2_t *h, int32_t id) {
  return nghttp2_session_get_stream_user_data(h->ng, id);
}

void rs__h2s_orphan(rs__h2s_t *s, bool abort) {
  rs_req_t *r = s->r;
  s->r = NULL;
  r->_conn = NULL;
  r->_h2 = NULL;
  if (abort && r->on_abort != NULL) r->on_abort(r);
}

static void rs__h2_dispatch(rs_h2_t *h, rs__h2s_t *s) {
  rs_conn_t *c = h->c;
  rs_req_t *r = s->r;
  s->dispatched = true;
  r->_state = RS__REQ_DISPATCHED;
  c->served = true;
  c->loop->handler(r);          /* may answer right now */
}

void rs__h2_refuse(rs_h2_t *h, rs__h2s_t *s, rs_req_error_t kind, const char *why) {
  rs_req_t *r = s->r;
  rs_loop_t *loop = h->c->loop;
  int status = rs_req_error_status(kind);
  rs_log_info("client %s: %d %s (HTTP/2 stream %d)%s%s", rs_req_peer(r), status, rs_req_error_label(kind),
              (int)s->id, why ? ": " : "", why ? why : "");
  RS_COUNTER_ADD(loop->counters.req_errors[kind], 1);
  if (r->method.p == NULL) r->method = (rs_str_t){ "-", 1 };
  r->_error = kind;
  s->dispatched = true;         /* it never reaches a handler */
  rs_req_respond_error(r, status, NULL);
}

static const char *const rs__h2_methods[] = { "GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS",
                                           "PURGE", "CONNECT", "TRACE" };

/* The pseudo-headers and headers are in; offsets become pointers: method,
 * target, Host (:authority first, as RFC 9113 §8.3.1 says), cookies joined.
 * Returns a refusal kind or RS_REQ_OK. */
static rs_req_error_t rs__h2_finish_head(rs__h2s_t *s, const char **why) {
  rs_req_t *r = s->r;
  if (s->err != RS_REQ_OK) return s->err;
  if (!s->has_method || !s->has_path) {
    *why = "no :method or :path";
    return RS_REQ_E_BAD_REQUEST;
  }
  /* Room for the canonical path (3x) and the joined cookies, while
   * positions are still offsets. */
  size_t cookies = 0;
  for (size_t i = 0; i < r->nheaders; i++)
    if (r->headers[i].name.len == 6 && memcmp(r->_buf + (uintptr_t)r->headers[i].name.p, "cookie", 6) == 0)
      cookies += r->headers[i].value.len + 2;
  size_t end = r->_len;
  if (rs__req_append(r, NULL, 3 * s->l_path + 4 + cookies) != 0) return RS_REQ_E_HEADERS_TOO_LARGE;
  char *base = r->_buf, *scratch = base + end;
  rs_header_t *host = NULL, *cookie = NULL;
  size_t out = 0;
  for (size_t i = 0; i < r->nheaders; i++) {
    rs_header_t h = r->headers[i];
    h.name.p = base + (uintptr_t)h.name.p;
    h.value.p = base + (uintptr_t)h.value.p;
    if (h.name.len == 6 && memcmp(h.name.p, "cookie", 6) == 0) {
      /* RFC 9113 §8.2.3: crumbs are joined with "; " for HTTP/1 upstreams. */
      if (cookie == NULL) {
        cookie = &r->headers[out];
        memcpy(scratch, h.value.p, h.value.len);
        h.value.p = scratch;
      } else {
        memcpy(scratch + cookie->value.len, "; ", 2);
        memcpy(scratch + cookie->value.len + 2, h.value.p, h.value.len);
        cookie->value.len += 2 + h.value.len;
        continue;
      }
    }
    if (h.name.len == 4 && memcmp(h.name.p, "host", 4) == 0) {
      if (host != NULL) {
        *why = "more than one Host header";
        return RS_REQ_E_BAD_HOST;
      }
      host = &r->headers[out];
    }
    r->headers[out++] = h;
  }
  r->nheaders = out;
  if (cookie != NULL) scratch += cookie->value.len;
  /* The method: a static name when the router knows it. */
  const char *m = base + s->o_method;
  r->method = (rs_str_t){ NULL, 0 };
  for (size_t i = 0; i < sizeof(rs__h2_methods) / sizeof(rs__h2_methods[0]); i++)
    if (strlen(rs__h2_methods[i]) == s->l_method && memcmp(rs__h2_methods[i], m, s->l_method) == 0)
      r->method = (rs_str_t){ rs__h2_methods[i], s->l_method };
  if (r->method.p == NULL) {
    char *mp = rs_req_alloc(r, s->l_method + 1);
    memcpy(mp, m, s->l_method);
    mp[s->l_method] = 0;
    r->method = (rs_str_t){ mp, s->l_method };
  }
  r->method_bit = rs_method_bit(r->method.p, r->method.len);
  r->head = r->method.len == 4 && memcmp(r->method.p, "HEAD", 4) == 0;
  /* Host: :authority, else the host header. */
  if (s->has_auth) {
    char *a = base + s->o_auth;
    size_t alen = s->l_auth;
    const char *w = rs_http_host_normalize(a, &alen);
    if (w != NULL) {
      *why = w;
      return RS_REQ_E_BAD_HOST;
    }
    r->host = (rs_str_t){ a, alen };
    if (host == NULL) {
      host = rs__req_header_slot(r);
      if (host == NULL) return RS_REQ_E_HEADERS_TOO_LARGE;
      host->name = (rs_str_t){ "host", 4 };
    }
    host->value = r->host;
  } else if (host != NULL) {
    size_t len = host->value.len;
    const char *w = rs_http_host_normalize((char *)host->value.p, &len);
    if (w != NULL) {
      *why = w;
      return RS_REQ_E_BAD_HOST;
    }
    host->value.len = len;
    r->host = host->value;
  } else {
    *why = "no :authority nor host";
    return RS_REQ_E_BAD_HOST;
  }
  /* The target: origin-form, or "*" for OPTIONS. */
  char *u = base + s->o_path;
  size_t ulen = s->l_path;
  r->url = (rs_str_t){ u, ulen };
  if (ulen == 1 && u[0] == '*' && r->method_bit == RS_M_OPTIONS) {
    r->path = r->url;
    r->query = (rs_str_t){ u + 1, 0 };
    return RS_REQ_OK;
  }
  if (ulen == 0 || u[0] != '/' || memchr(u, '#', ulen) != NULL) {
    *why = "a :path that is not origin-form";
    return RS_REQ_E_BAD_TARGET;
  }
  if (ulen > r->opts->limits.url) return RS_REQ_E_URL_TOO_LONG;
  const char *q = memchr(u, '?', ulen);
  size_t plen = q ? (size_t)(q - u) : ulen;
  size_t nlen;
  const char *w = rs_http_path_normalize(u, plen, scratch, &nlen);
  if (w != NULL) {
    *why = w;
    return RS_REQ_E_BAD_TARGET;
  }
  r->path = (rs_str_t){ scratch, nlen };
  r->query = q ? (rs_str_t){ q + 1, (size_t)(u + ulen - q - 1) } : (rs_str_t){ u + ulen, 0 };
  return RS_REQ_OK;
}

/* END_HEADERS of a request: check it, then dispatch now (no body, or a
 * body its route streams) or when the body is in. */
static void rs__h2_head_done(rs_h2_t *h, rs__h2s_t *s, bool end_stream) {
  rs_req_t *r = s->r;
  rs_loop_t *loop = h->c->loop;
  const char *why = NULL;
  rs_req_error_t e = rs__h2_finish_head(s, &why);
  if (e != RS_REQ_OK) {
    rs__h2_refuse(h, s, e, why);
    return;
  }
  const rs_str_t *cl = rs_req_header(r, "content-length");
  int64_t clen = -1;
  if (cl != NULL) {
    /* nghttp2 has checked it is digits and matches the DATA. */
    clen = 0;
    for (size_t i = 0; i < cl->len && clen <= (int64_t)r->opts->limits.body; i++)
      clen = clen * 10 + (cl->p[i] - '0');
    if (clen > (int64_t)r->opts->limits.body) {
      rs__h2_refuse(h, s, RS_REQ_E_BODY_TOO_LARGE, NULL);
      return;
    }
  }
  if (end_stream) {
    s->end_in = true;
    rs__h2_dispatch(h, s);
    return;
  }
  if (loop->on_head != NULL) {
    loop->on_head(r);
    if (s->r == NULL) return;
    if (r->stream_body) {
      r->body_streamed = true;
      r->body_length = clen;
      /* Its window reopens as the consumer takes the bytes: wider than the
       * preread, as HTTP/1's reader lets that much wait. */
      nghttp2_session_set_local_window_size(h->ng, NGHTTP2_FLAG_NONE, s->id, RS__H2_STREAM_WINDOW);
      rs__h2_dispatch(h, s);
      return;
    }
  }
  /* Read whole before dispatch, once let in (rs__h2_budget). */
  s->buffering = true;
  s->expect = clen >= 0 ? (size_t)clen : r->opts->limits.body;
}

/* ------------------------------------------------------------------ nghttp2's receive callbacks */

static int rs__h2_on_begin_headers(nghttp2_session *ng, const nghttp2_frame *f, void *ud) {
  rs_h2_t *h = ud;
  rs_conn_t *c = h->c;
  if (f->hd.type != NGHTTP2_HEADERS || f->headers.cat != NGHTTP2_HCAT_REQUEST) return 0;
  rs__h2s_t *s = rs_xcalloc(1, sizeof(*s));
  s->h = h;
  s->id = f->hd.stream_id;
  s->fd = -1;
  rs_req_t *r = rs__req_new(c);
  r->_h2 = s;
  r->http_major = 2;
  r->http_minor = 0;
  r->keep_alive = true;
  r->opts = c->loop->http;
  s->r = r;
  s->next = h->streams;
  if (h->streams) h->streams->prev = s;
  h->streams = s;
  h->nstreams++;
  nghttp2_session_set_stream_user_data(ng, s->id, s);
  RS_COUNTER_ADD(c->loop->counters.h2_streams, 1);
  return 0;
}

static int rs__h2_on_header(nghttp2_session *ng, const nghttp2_frame *f, const uint8_t *name, size_t nlen,
                            const uint8_t *value, size_t vlen, uint8_t flags, void *ud) {
  (void)flags;
  rs_h2_t *h = ud;
  rs__h2s_t *s = rs__h2s_get(h, f->hd.stream_id);
  if (s == NULL || s->r == NULL || s->dispatched || f->headers.cat != NGHTTP2_HCAT_REQUEST) return 0;
  (void)ng;
  rs_req_t *r = s->r;
  const rs_http_opts_t *o = r->opts;
  s->hdr_bytes += nlen + vlen + 32;      /* RFC 9113 §6.5.2's size */
  if (s->err != RS_REQ_OK) return 0;     /* refused at the end of the block */
  if (s->hdr_bytes > o->limits.header_bytes) {
    s->err = RS_REQ_E_HEADERS_TOO_LARGE;
    return 0;
  }
  size_t off = r->_len;
  if (nlen > 0 && name[0] == ':') {      /* nghttp2 checked the set and order */
    if (rs__req_append(r, (const char *)value, vlen) != 0) return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
    if (nlen == 7 && memcmp(name, ":method", 7) == 0) s->o_method = off, s->l_method = vlen, s->has_method = true;
    else if (nlen == 5 && memcmp(name, ":path", 5) == 0) s->o_path = off, s->l_path = vlen, s->has_path = true;
    else if (nlen == 10 && memcmp(name, ":authority", 10) == 0) s->o_auth = off, s->l_auth = vlen, s->has_auth = true;
    return 0;
  }
  if (r->nheaders == o->limits.headers) {
    s->err = RS_REQ_E_TOO_MANY_HEADERS;
    return 0;
  }
  rs_header_t *hd = rs__req_header_slot(r);
  if (hd == NULL || rs__req_append(r, (const char *)name, nlen) != 0 ||
      rs__req_append(r, (const char *)value, vlen) != 0)
    return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
  hd->name = (rs_str_t){ (const char *)(uintptr_t)off, nlen };
  hd->value = (rs_str_t){ (const char *)(uintptr_t)(off + nlen), vlen };
  return 0;
}

/* Rapid reset: one token per RST_STREAM from the client. */
static bool rs__h2_reset_budget(rs_h2_t *h) {
  uint64_t now = uv_now(&h->c->loop->uv);
  h->tokens += (double)(now - h->tokens_ms) * RS__H2_RESET_RATE / 1000.0;
  if (h->tokens > RS__H2_RESET_BURST) h->tokens = RS__H2_RESET_BURST;
  h->tokens_ms = now;
  if (h->tokens < 1) return false;
  h->tokens -= 1;
  return true;
}

static int rs__h2_on_frame_recv(nghttp2_session *ng, const nghttp2_frame *f, void *ud) {
  rs_h2_t *h = ud;
  rs_loop_t *loop = h->c->loop;
  (void)ng;
  if (f->hd.type == NGHTTP2_RST_STREAM) {
    RS_COUNTER_ADD(loop->counters.h2_resets[RS_H2_RST_CLIENT], 1);
    if (!rs__h2_reset_budget(h) && !h->dying) {
      rs_log_info("client %s: HTTP/2 rapid reset (more than %d RST_STREAM at %d/s): GOAWAY",
                  rs__conn_peer(h->c), RS__H2_RESET_BURST, RS__H2_RESET_RATE);
      rs__h2_goaway(h, NGHTTP2_ENHANCE_YOUR_CALM, RS_H2_GOAWAY_RAPID_RESET);
    }
    return 0;
  }
  if (f->hd.type != NGHTTP2_HEADERS && f->hd.type != NGHTTP2_DATA) return 0;
  rs__h2s_t *s = rs__h2s_get(h, f->hd.stream_id);
  if (s == NULL || s->r == NULL || s->dropped) return 0;
  bool end = (f->hd.flags & NGHTTP2_FLAG_END_STREAM) != 0;
  if (f->hd.type == NGHTTP2_HEADERS && f->headers.cat == NGHTTP2_HCAT_REQUEST) {
    rs__h2_head_done(h, s, end);
    return 0;
  }
  if (!end || s->end_in) return 0;   /* trailers are read and dropped */
  s->end_in = true;
  rs_req_t *r = s->r;
  if (s->responded && !s->dispatched) return 0;
  if (r->body_streamed) {
    s->end_pending = true;
    rs__h2_deliver(h, s);
    return 0;
  }
  if (s->dispatched) return 0;
  r->body = r->_body;
  rs__h2_dispatch(h, s);
  return 0;
}

static int rs__h2_on_stream_close(nghttp2_session *ng, int32_t id, uint32_t code, void *ud) {
  rs_h2_t *h = ud;
  rs__h2s_t *s = rs__h2s_get(h, id);
  (void)ng;
  if (s == NULL) return 0;
  nghttp2_session_set_stream_user_data(ng, id, NULL);
  s->closed = true;
  rs__h2_release(h, s, s->held_conn);   /* its body's bytes go back to the connection */
  if (s->r != NULL) {
    if (!s->dispatched) {
      rs__req_free(s->r);       /* its head or body was still coming */
      s->r = NULL;
    } else if (!s->responded || (s->streaming && !s->ended)) {
      /* Its handler holds it: the client went (or, a HEAD, all is said). */
      rs__h2s_orphan(s, code != NGHTTP2_NO_ERROR || !s->responded);
    }
  }
  if (s->prev) s->prev->next = s->next; else h->streams = s->next;
  if (s->next) s->next->prev = s->prev;
  h->nstreams--;
  s->prev = NULL;
  s->next = h->dead;
  h->dead = s;
  return 0;
}

static int rs__h2_on_frame_send(nghttp2_session *ng, const nghttp2_frame *f, void *ud) {
  rs_h2_t *h = ud;
  rs_loop_t *loop = h->c->loop;
  (void)ng;
  if (f->hd.type == NGHTTP2_RST_STREAM) {
    uint32_t e = f->rst_stream.error_code;
    int why = e == NGHTTP2_PROTOCOL_ERROR ? RS_H2_RST_PROTOCOL : e == NGHTTP2_REFUSED_STREAM ? RS_H2_RST_REFUSED
              : e == NGHTTP2_INTERNAL_ERROR ? RS_H2_RST_INTERNAL
              : e == NGHTTP2_FLOW_CONTROL_ERROR ? RS_H2_RST_FLOW_CONTROL : RS_H2_RST_OTHER;
    RS_COUNTER_ADD(loop->counters.h2_resets[why], 1);
    if (why == RS_H2_RST_FLOW_CONTROL)
      rs_log_info("client %s: HTTP/2 stream %d: DATA past the stream's window: RST_STREAM FLOW_CONTROL_ERROR",
                  rs__conn_peer(h->c), (int)f->hd.stream_id);
  } else if (f->hd.type == NGHTTP2_GOAWAY && !h->dying && !h->draining &&
             f->goaway.error_code != NGHTTP2_NO_ERROR) {
    /* a connection error nghttp2 found itself: its flood limits (too many
     * SETTINGS entries) say ENHANCE_YOUR_CALM */
    uint32_t e = f->goaway.error_code;
    RS_COUNTER_ADD(loop->counters.h2_goaways[e == NGHTTP2_ENHANCE_YOUR_CALM ? RS_H2_GOAWAY_FLOOD
                                             : e == NGHTTP2_FLOW_CONTROL_ERROR ? RS_H2_GOAWAY_FLOW_CONTROL
                                                                               : RS_H2_GOAWAY_PROTOCOL], 1);
    if (e == NGHTTP2_FLOW_CONTROL_ERROR)
      rs_log_info("client %s: HTTP/2: DATA past the connection's window (%zu bytes of request bodies "
                  "held): GOAWAY FLOW_CONTROL_ERROR", rs__conn_peer(h->c), h->held);
    else
      rs_log_info("client %s: HTTP/2 connection error %u: GOAWAY", rs__conn_peer(h->c), (unsigned)e);
    h->dying = true;
  }
  return 0;
}

static int rs__h2_on_invalid_frame(nghttp2_session *ng, const nghttp2_frame *f, int err, void *ud) {
  (void)ng;
  rs_h2_t *h = ud;
  rs_log_debug("client %s: HTTP/2 stream %d: %s", rs__conn_peer(h->c), (int)f->hd.stream_id,
               nghttp2_strerror(err));
  return 0;
}

/* ------------------------------------------------------------------ the session */

static nghttp2_session_callbacks *rs__h2_cbs;
static nghttp2_option *rs__h2_opt;
static uv_once_t rs__h2_once = UV_ONCE_INIT;

static void rs__h2_global_init(void) {
  nghttp2_session_callbacks_new(&rs__h2_cbs);
  nghttp2_session_callbacks_set_send_callback(rs__h2_cbs, rs__h2_send_cb);
  nghttp2_session_callbacks_set_send_data_callback(rs__h2_cbs, rs__h2_send_data_cb);
  nghttp2_session_callbacks_set_on_begin_headers_callback(rs__h2_cbs, rs__h2_on_begin_headers);
  nghttp2_session_callbacks_set_on_header_callback(rs__h2_cbs, rs__h2_on_header);
  nghttp2_session_callbacks_set_on_data_chunk_recv_callback(rs__h2_cbs, rs__h2_on_data);
  nghttp2_session_callbacks_set_on_frame_recv_callback(rs__h2_cbs, rs__h2_on_frame_recv);
  nghttp2_session_callbacks_set_on_stream_close_callback(rs__h2_cbs, rs__h2_on_stream_close);
  nghttp2_session_callbacks_set_on_frame_send_callback(rs__h2_cbs, rs__h2_on_frame_send);
  nghttp2_session_callbacks_set_on_invalid_frame_recv_callback(rs__h2_cbs, rs__h2_on_invalid_frame);
  nghttp2_option_new(&rs__h2_opt);
  nghttp2_option_set_no_auto_window_update(rs__h2_opt, 1);   /* windows open as bodies are taken */
  nghttp2_option_set_max_outbound_ack(rs__h2_opt, 1000);     /* SETTINGS/PING floods */
  nghttp2_option_set_max_settings(rs__h2_opt, 32);
  nghttp2_option_set_max_continuations(rs__h2_opt, 8);       /* CONTINUATION flood */
  nghttp2_option_set_stream_reset_rate_limit(rs__h2_opt, 4 * RS__H2_RESET_BURST, 4 * RS__H2_RESET_RATE);
  nghttp2_option_set_max_deflate_dynamic_table_size(rs__h2_opt, 4096);
}

/* Does c's listener take HTTP/2 (listen = { ..., http2 = true })? On TLS
 * the client speaks it after ALPN chose "h2", and begins with the same
 * preface as over cleartext: one switch serves both. */
static bool rs__h2_allowed(rs_conn_t *c) {
  const rs_http_opts_t *o = c->loop->http;
  if (c->tio != NULL && !c->alpn_h2) return false;   /* TLS: only when ALPN chose h2 */
  return o != NULL && o->listen != NULL && (size_t)c->server < o->nlisten && o->listen[c->server].http2;
}

static void rs__h2_start(rs_conn_t *c) {
  uv_once(&rs__h2_once, rs__h2_global_init);
  rs_h2_t *h = rs_xcalloc(1, sizeof(*h));
  h->c = c;
  h->w.data = h;
  h->tokens = RS__H2_RESET_BURST;
  h->tokens_ms = uv_now(&c->loop->uv);
  if (nghttp2_session_server_new2(&h->ng, rs__h2_cbs, h, rs__h2_opt) != 0) {
    rs_log_error("nghttp2: out of memory");
    abort();
  }
  const rs_http_opts_t *o = c->loop->http;
  nghttp2_settings_entry iv[] = {
    { NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS,
      o->limits.http2_streams ? (uint32_t)o->limits.http2_streams : RS__H2_MAX_STREAMS },
    { NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, RS__H2_PREREAD },
    { NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, (uint32_t)RS_MIN(o->limits.header_bytes, UINT32_MAX) },
    { NGHTTP2_SETTINGS_HEADER_TABLE_SIZE, 4096 },
    { NGHTTP2_SETTINGS_ENABLE_PUSH, 0 },
  };
  nghttp2_submit_settings(h->ng, NGHTTP2_FLAG_NONE, iv, sizeof(iv) / sizeof(iv[0]));
  /* The connection's window: one body of limits.body plus 16 prereads
   * (rs_h2_int.h), within the protocol's 2^31 - 1. */
  h->window = (size_t)RS_MIN((uint64_t)o->limits.body + RS__H2_CONN_SLACK, (uint64_t)INT32_MAX);
  nghttp2_session_set_local_window_size(h->ng, NGHTTP2_FLAG_NONE, 0, (int32_t)h->window);
  c->h2 = h;
  RS_COUNTER_ADD(c->loop->counters.h2_conns, 1);
}

bool rs__h2_sniff(rs_conn_t *c, const char *p, size_t n) {
  size_t have = c->pre_len, k = RS_MIN(have + n, sizeof(rs__h2_preface) - 1);
  bool match = rs__h2_allowed(c);
  for (size_t i = 0; i < k && match; i++) match = (i < have ? c->pre[i] : p[i - have]) == rs__h2_preface[i];
  if (match && have + n < sizeof(c->pre)) {   /* "PRI" might still be HTTP/1's PRI: wait */
    memcpy(c->pre + have, p, n);
    c->pre_len = (uint8_t)(have + n);
    return true;
  }
  c->proto_known = true;
  if (!match && have == 0) return false;
  char *all = rs_xmalloc(have + n);
  memcpy(all, c->pre, have);
  memcpy(all + have, p, n);
  c->pre_len = 0;
  if (match) {
    rs__h2_start(c);
    rs__h2_input(c, all, have + n);
  } else {
    rs__conn_parse(c, all, have + n);
  }
  free(all);
  return true;
}

void rs__h2_input(rs_conn_t *c, const char *p, size_t n) {
  rs_h2_t *h = c->h2;
  if (h->dying) return;           /* the GOAWAY is leaving: nothing more is read */
  h->in_cb++;
  ssize_t rv = nghttp2_session_mem_recv(h->ng, (const uint8_t *)p, n);
  h->in_cb--;
  if (c->closed) {
    rs__h2_close(c);              /* finish what the close left */
    return;
  }
  if (rv < 0) {
    int why = rv == NGHTTP2_ERR_FLOODED ? RS_H2_GOAWAY_FLOOD
              : rv == NGHTTP2_ERR_TOO_MANY_CONTINUATIONS ? RS_H2_GOAWAY_CONTINUATION : RS_H2_GOAWAY_PROTOCOL;
    uint32_t code = why == RS_H2_GOAWAY_PROTOCOL ? NGHTTP2_PROTOCOL_ERROR : NGHTTP2_ENHANCE_YOUR_CALM;
    rs_log_info("client %s: HTTP/2: %s: GOAWAY", rs__conn_peer(c), nghttp2_strerror((int)rv));
    if (rv == NGHTTP2_ERR_BAD_CLIENT_MAGIC) {
      rs__conn_close(c);
      return;
    }
    rs__h2_goaway(h, code, why);
  }
  rs__h2_flush(h);
}

void rs__h2_goaway(rs_h2_t *h, uint32_t code, int reason) {
  if (h->dying) return;
  h->dying = true;
  RS_COUNTER_ADD(h->c->loop->counters.h2_goaways[reason], 1);
  nghttp2_session_terminate_session(h->ng, code);
  rs__conn_read_stop(h->c);
}

void rs__h2_drain(rs_conn_t *c, rs_h2_goaway_t reason) {
  rs_h2_t *h = c->h2;
  if (h->dying || h->draining) return;
  if (h->nstreams == 0) {
    rs__h2_goaway(h, NGHTTP2_NO_ERROR, (int)reason);
  } else {
    /* The streams it has begun finish; no new one is taken. */
    h->draining = true;
    RS_COUNTER_ADD(c->loop->counters.h2_goaways[reason], 1);
    nghttp2_submit_goaway(h->ng, NGHTTP2_FLAG_NONE, nghttp2_session_get_last_proc_stream_id(h->ng),
                          NGHTTP2_NO_ERROR, NULL, 0);
  }
  rs__h2_flush(h);
}

void rs__h2_close(rs_conn_t *c) {
  rs_h2_t *h = c->h2;
  if (h->in_cb > 0) {
    /* nghttp2 is on the stack (a handler closed the connection from a
     * callback): rs__h2_input finishes when it returns. */
    return;
  }
  while (h->streams != NULL) {
    rs__h2s_t *s = h->streams;
    h->streams = s->next;
    s->closed = true;
    if (s->r != NULL && s->dispatched && (!s->responded || (s->streaming && !s->ended)))
      rs__h2s_orphan(s, true);
    s->next = h->dead;
    h->dead = s;
  }
  h->nstreams = 0;
  /* The write out is cancelled (libuv calls back before the handle's
   * close): the bytes it points to are not read again. */
  while (h->dead != NULL) {
    rs__h2s_t *s = h->dead;
    h->dead = s->next;
    rs__h2s_free(s);
  }
  nghttp2_session_del(h->ng);
  h->ng = NULL;
  if (h->writing) {
    h->free_me = true;            /* its callback frees it */
  } else {
    free(h->buf);
    free(h);
  }
  c->h2 = NULL;
}

/* ------------------------------------------------------------------ the clock */

static void rs__h2_on_timer(uv_timer_t *t) {
  rs_conn_t *c = t->data;
  rs_h2_t *h = c->h2;
  if (h == NULL || c->closed) return;
  const rs_http_opts_t *o = c->loop->http;
  if (h->write_timed) {
    if (h->progress != h->progress_seen) {   /* the client reads, however slowly */
      h->progress_seen = h->progress;
      uv_timer_start(&c->timer, rs__h2_on_timer, o->timeouts.write, 0);
      return;
    }
    rs_log_info("client %s: timed out writing (HTTP/2)", rs__conn_peer(c));
    if (!h->dying) RS_COUNTER_ADD(c->loop->counters.h2_goaways[RS_H2_GOAWAY_TIMEOUT], 1);
    rs__conn_close(c);
    return;
  }
  if (h->dying || h->draining) {
    rs__conn_close(c);
    return;
  }
  if (h->nstreams == 0) {                    /* idle: say goodbye */
    rs__h2_goaway(h, NGHTTP2_NO_ERROR, RS_H2_GOAWAY_IDLE);
    rs__h2_flush(h);
    if (!c->closed) uv_timer_start(&c->timer, rs__h2_on_timer, RS__LINGER_MS, 0);
    return;
  }
  rs_log_info("client %s: timed out reading a request (HTTP/2)", rs__conn_peer(c));
  RS_COUNTER_ADD(c->loop->counters.h2_goaways[RS_H2_GOAWAY_TIMEOUT], 1);
  rs__conn_close(c);
}

/* Is an answer's body waiting for the client (its window, or the socket)? */
static bool rs__h2_out_waiting(rs_h2_t *h) {
  for (rs__h2s_t *s = h->streams; s != NULL; s = s->next)
    if (s->responded && ((s->kind == RS__H2B_MEM && (s->body_off < s->body_len || s->file_len > 0)) ||
                         (s->kind == RS__H2B_STREAM && s->qbytes > 0)))
      return true;
  return false;
}

void rs__h2_arm(rs_conn_t *c) {
  rs_h2_t *h = c->h2;
  const rs_http_opts_t *o = c->loop->http;
  uint64_t ms;
  if (h->writing || rs__h2_out_waiting(h)) {
    /* The write clock, restarted only by progress (a zero window stalls
     * it as a client that does not read does). */
    if (h->write_timed) return;
    h->write_timed = true;
    h->progress_seen = h->progress;
    ms = o->timeouts.write;
  } else {
    h->write_timed = false;
    /* A stream the client could send on: not paused by its consumer, not
     * held back by the windows (its preread spent before it is let in,
     * or the connection's window full of bodies handlers still have). */
    bool reading = false, conn_open = h->held < h->window;
    for (rs__h2s_t *s = h->streams; s != NULL && !reading; s = s->next)
      reading = !s->end_in && !s->paused && !s->responded && conn_open &&
                !(s->buffering && !s->admitted && s->body_in >= RS__H2_PREREAD);
    if (reading) ms = o->timeouts.body;       /* a request head or body coming */
    else if (h->nstreams == 0) ms = c->served ? o->timeouts.keepalive : o->timeouts.header;
    else {                                    /* handlers work: their clocks run */
      uv_timer_stop(&c->timer);
      return;
    }
  }
  uv_timer_start(&c->timer, rs__h2_on_timer, ms, 0);
}
