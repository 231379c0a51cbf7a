/* core/http/rs_parse.c — llhttp callbacks and request assembly: limits while the
 * bytes arrive, the head's checks (Host, target, Expect, Transfer-Encoding),
 * the framing scan (rs_http_scan) run before llhttp sees the bytes, pauses
 * and dispatch to the loop's handler (whole, or early with a streamed body). */
#include "rs_conn.h"
#include "rs_conn_int.h"

static llhttp_settings_t rs__settings;
static bool rs__settings_ready;

/* ------------------------------------------------------------------ parser callbacks */

#define RS__CONN(p) ((rs_conn_t *)(p)->data)

static int rs__refuse(rs_conn_t *c, rs_req_error_t kind) {
  c->error = kind;
  return HPE_USER;
}

static int rs__refuse_why(rs_conn_t *c, rs_req_error_t kind, const char *why) {
  c->why = why;
  return rs__refuse(c, kind);
}

static int rs__on_message_begin(llhttp_t *p) {
  rs_conn_t *c = RS__CONN(p);
  c->parsing = rs__req_new(c);
  c->hdr_deadline = uv_now(&c->loop->uv) + c->loop->http->timeouts.header;
  c->hdr_state = 0;
  c->in_body = false;
  c->te_bad = false;
  c->why = NULL;
  return 0;
}

static int rs__on_url(llhttp_t *p, const char *at, size_t n) {
  rs_conn_t *c = RS__CONN(p);
  rs_req_t *r = c->parsing;
  if (r->url.len + n > c->loop->http->limits.url) return rs__refuse(c, RS_REQ_E_URL_TOO_LONG);
  if (memchr(at, '\0', n) != NULL) return rs__refuse(c, RS_REQ_E_BAD_CHAR);
  if (r->url.len == 0) r->url.p = (const char *)(uintptr_t)r->_len;
  if (rs__req_append(r, at, n) != 0) return rs__refuse(c, RS_REQ_E_HEADERS_TOO_LARGE);
  r->url.len += n;
  r->_hdr_bytes += n;
  return 0;
}

static int rs__count_header_bytes(rs_conn_t *c, rs_req_t *r, size_t n) {
  r->_hdr_bytes += n;
  /* 16 for the method and version, 4 per line for ": " and CRLF */
  return r->_hdr_bytes + 16 + 4 * r->nheaders > c->loop->http->limits.header_bytes ? -1 : 0;
}

/* Trailer fields (after a chunked body) are read and dropped: the header
 * pointers are final by then and one more append could move the arena under
 * them. Their bytes count against the body limit. */
static int rs__trailer_bytes(rs_conn_t *c, size_t n) {
  if (n > c->body_limit_left) return rs__refuse(c, RS_REQ_E_BODY_TOO_LARGE);
  c->body_limit_left -= n;
  return 0;
}

/* Chunk extensions are read and dropped; their bytes count against the
 * body limit too (each size line is also at most 16 KB, rs_http_scan), so
 * that a body of tiny chunks with long extensions ends at limits.body. */
static int rs__on_chunk_ext(llhttp_t *p, const char *at, size_t n) {
  (void)at;
  return rs__trailer_bytes(RS__CONN(p), n);
}

static int rs__on_header_field(llhttp_t *p, const char *at, size_t n) {
  rs_conn_t *c = RS__CONN(p);
  rs_req_t *r = c->parsing;
  if (c->in_body) return rs__trailer_bytes(c, n);
  if (c->hdr_state != 1) {     /* a new header line begins */
    if (r->nheaders == c->loop->http->limits.headers)
      return rs__refuse(c, RS_REQ_E_TOO_MANY_HEADERS);
    rs_header_t *h = rs__req_header_slot(r);
    if (h == NULL) return rs__refuse(c, RS_REQ_E_HEADERS_TOO_LARGE);
    h->name.p = (const char *)(uintptr_t)r->_len;
    h->name.len = 0;
    h->value.p = NULL;
    h->value.len = 0;
    c->hdr_state = 1;
  }
  /* llhttp lets "Host : x" through as a field "Host "; RFC 9112 §5.1 says
   * whitespace before the colon must be refused (a smuggling vector). */
  for (size_t i = 0; i < n; i++)
    if (at[i] == ' ' || at[i] == '\t' || at[i] == '\0') return rs__refuse(c, RS_REQ_E_BAD_CHAR);
  if (rs__count_header_bytes(c, r, n) != 0) return rs__refuse(c, RS_REQ_E_HEADERS_TOO_LARGE);
  if (rs__req_append(r, at, n) != 0) return rs__refuse(c, RS_REQ_E_HEADERS_TOO_LARGE);
  r->headers[r->nheaders - 1].name.len += n;
  return 0;
}

static int rs__on_header_value(llhttp_t *p, const char *at, size_t n) {
  rs_conn_t *c = RS__CONN(p);
  rs_req_t *r = c->parsing;
  /* obs-fold, bare LF and CR are refused by the framing scan before llhttp
   * sees the bytes (rs__conn_parse). */
  if (memchr(at, '\0', n) != NULL) return rs__refuse(c, RS_REQ_E_BAD_CHAR);
  if (c->in_body) return rs__trailer_bytes(c, n);
  rs_header_t *h = &r->headers[r->nheaders - 1];
  if (c->hdr_state != 2) {
    h->value.p = (const char *)(uintptr_t)r->_len;
    c->hdr_state = 2;
  }
  if (rs__count_header_bytes(c, r, n) != 0) return rs__refuse(c, RS_REQ_E_HEADERS_TOO_LARGE);
  if (rs__req_append(r, at, n) != 0) return rs__refuse(c, RS_REQ_E_HEADERS_TOO_LARGE);
  h->value.len += n;
  return 0;
}

/* Only "chunked" is a transfer coding we decode; anything else (gzip,
 * "gzip, chunked", …) is 501, as RFC 9112 §6.1 asks. */
static bool rs__te_supported(const char *v, size_t n) {
  size_t i = 0;
  bool any = false;
  while (i < n) {
    while (i < n && (v[i] == ' ' || v[i] == '\t' || v[i] == ',')) i++;
    size_t s = i;
    while (i < n && v[i] != ',' && v[i] != ' ' && v[i] != '\t') i++;
    if (i > s) {
      if (!rs_str_ieq(v + s, i - s, "chunked", 7)) return false;
      any = true;
    }
  }
  return any;
}

static int rs__on_header_value_complete(llhttp_t *p) {
  rs_conn_t *c = RS__CONN(p);
  rs_req_t *r = c->parsing;
  c->hdr_state = 0;
  if (r->nheaders == 0 || c->in_body) return 0;
  rs_header_t *h = &r->headers[r->nheaders - 1];
  if (h->value.p == NULL) h->value.p = (const char *)(uintptr_t)r->_len;  /* empty value */
  const char *name = r->_buf + (uintptr_t)h->name.p;
  /* RFC 9112 §6.1: Transfer-Encoding in a 1.0 message is faulty framing. */
  if (rs_str_ieq(name, h->name.len, "transfer-encoding", 17) && p->http_major == 1 && p->http_minor == 0)
    return rs__refuse_why(c, RS_REQ_E_TE_HTTP10, "Transfer-Encoding in an HTTP/1.0 request");
  if (rs_str_ieq(name, h->name.len, "transfer-encoding", 17) &&
      !rs__te_supported(r->_buf + (uintptr_t)h->value.p, h->value.len)) {
    c->te_bad = true;
    return rs__refuse(c, RS_REQ_E_UNSUPPORTED_TE);
  }
  return 0;
}

/* Turn the offsets recorded while parsing into pointers, check and normalise
 * Host, turn an absolute-form target into origin-form (its authority becomes
 * Host), split the target and normalise its path. Returns a refusal kind
 * (c->why says why) or RS_REQ_OK. */
static rs_req_error_t rs__req_finish_head(rs_conn_t *c, rs_req_t *r) {
  /* Room for an origin-form url built from an absolute-form target
   * ("http://a?x" gives "/?x": the target plus a byte) and the canonical
   * path (three times the target). Reserved now, while the recorded
   * positions are offsets: the arena may move. */
  size_t hdr_end = r->_len;
  if (rs__req_append(r, NULL, 4 * r->url.len + 4) != 0) return RS_REQ_E_HEADERS_TOO_LARGE;
  char *base = r->_buf;
  char *scratch = base + hdr_end;
  r->url.p = base + (uintptr_t)r->url.p;
  rs_header_t *host = NULL;
  int nhost = 0;
  for (size_t i = 0; i < r->nheaders; i++) {
    rs_header_t *h = &r->headers[i];
    h->name.p = base + (uintptr_t)h->name.p;
    h->value.p = h->value.p == NULL ? base + hdr_end : base + (uintptr_t)h->value.p;
    /* RFC 9112 §5: the value excludes trailing whitespace (llhttp drops
     * only the leading). */
    while (h->value.len > 0 && (h->value.p[h->value.len - 1] == ' ' || h->value.p[h->value.len - 1] == '\t'))
      h->value.len--;
    if (rs_str_ieq(h->name.p, h->name.len, "host", 4)) {
      host = h;
      nhost++;
    } else if (rs_str_ieq(h->name.p, h->name.len, "expect", 6)) {
      if (!rs_str_ieq(h->value.p, h->value.len, "100-continue", 12)) return RS_REQ_E_EXPECTATION;
      r->_expect_continue = r->http_minor >= 1;
    }
  }
  /* RFC 9112 §3.2: one Host, and a 1.1 request without one is a 400. */
  if (nhost > 1) {
    c->why = "more than one Host header";
    return RS_REQ_E_BAD_HOST;
  }
  if (nhost == 0 && r->http_major == 1 && r->http_minor >= 1) {
    c->why = "HTTP/1.1 request without Host";
    return RS_REQ_E_BAD_HOST;
  }
  if (host != NULL) {
    /* As nginx: a Host that is not host[:port] is a 400, whatever the
     * target says. Normalised in place: hooks and the bundle see it too. */
    size_t len = host->value.len;
    const char *why = rs_http_host_normalize((char *)host->value.p, &len);
    if (why != NULL) {
      c->why = why;
      return RS_REQ_E_BAD_HOST;
    }
    host->value.len = len;
    r->host = host->value;
  }

  char *u = (char *)r->url.p;
  size_t ulen = r->url.len;
  if (ulen == 1 && u[0] == '*') {              /* OPTIONS * */
    r->path = r->url;
    r->query = (rs_str_t){ u + 1, 0 };
    return RS_REQ_OK;
  }
  if (memchr(u, '#', ulen) != NULL) {
    c->why = "fragment in the target";
    return RS_REQ_E_BAD_TARGET;
  }
  if (ulen == 0 || u[0] != '/') {
    /* absolute-form (RFC 9112 §3.2.2): http or https only, an authority
     * without userinfo; it replaces Host for everything downstream. */
    size_t sl = ulen > 7 && rs_str_ieq(u, 7, "http://", 7) ? 7
                : ulen > 8 && rs_str_ieq(u, 8, "https://", 8) ? 8 : 0;
    if (sl == 0) {
      c->why = "target neither origin-form nor an http(s) URL";
      return RS_REQ_E_BAD_TARGET;
    }
    char *auth = u + sl, *end = u + ulen;
    char *rest = auth;
    while (rest < end && *rest != '/' && *rest != '?') rest++;
    size_t alen = (size_t)(rest - auth);
    if (memchr(auth, '@', alen) != NULL) {
      c->why = "userinfo in the target";
      return RS_REQ_E_BAD_TARGET;
    }
    const char *why = rs_http_host_normalize(auth, &alen);
    if (why != NULL) {
      c->why = why;
      return RS_REQ_E_BAD_TARGET;
    }
    size_t rlen = (size_t)(end - rest);
    if (rlen == 0 || rest[0] == '?') {         /* "http://a" and "http://a?x": "/", "/?x" */
      scratch[0] = '/';
      memcpy(scratch + 1, rest, rlen);
      u = scratch;
      ulen = rlen + 1;
      scratch += ulen;
    } else {
      u = rest;
      ulen = rlen;
    }
    r->url = (rs_str_t){ u, ulen };
    r->host = (rs_str_t){ auth, alen };
    if (host == NULL) {                        /* a 1.0 request: give it one */
      host = rs__req_header_slot(r);
      if (host == NULL) return RS_REQ_E_HEADERS_TOO_LARGE;
      host->name = (rs_str_t){ "Host", 4 };
    }
    host->value = r->host;
  }
  const char *q = memchr(u, '?', ulen);
  size_t plen = q ? (size_t)(q - u) : ulen;
  size_t nlen;
  const char *why = rs_http_path_normalize(u, plen, scratch, &nlen);
  if (why != NULL) {
    c->why = why;
    return RS_REQ_E_BAD_TARGET;
  }
  r->path = (rs_str_t){ scratch, nlen };
  r->query = q ? (rs_str_t){ q + 1, (size_t)(u + ulen - q - 1) } : (rs_str_t){ u + ulen, 0 };
  return RS_REQ_OK;
}

static int rs__on_headers_complete(llhttp_t *p) {
  rs_conn_t *c = RS__CONN(p);
  rs_req_t *r = c->parsing;
  r->http_major = p->http_major;
  r->http_minor = p->http_minor;
  if (p->http_major != 1) return rs__refuse(c, RS_REQ_E_BAD_VERSION);
  /* llhttp refuses these itself; checked again so that no lenient flag or
   * parser upgrade can ever let a smuggling vector through. */
  if ((p->flags & F_CONTENT_LENGTH) && (p->flags & F_TRANSFER_ENCODING))
    return rs__refuse(c, RS_REQ_E_CL_AND_TE);
  rs_req_error_t e = rs__req_finish_head(c, r);
  if (e != RS_REQ_OK) return rs__refuse(c, e);

  size_t limit = c->loop->http->limits.body;
  if ((p->flags & F_CONTENT_LENGTH) && p->content_length > limit)
    return rs__refuse(c, RS_REQ_E_BODY_TOO_LARGE);
  c->body_limit_left = limit;
  if ((p->flags & F_CONTENT_LENGTH) && p->content_length > 0) {
    r->_body = malloc((size_t)p->content_length);
    if (r->_body == NULL) return rs__refuse(c, RS_REQ_E_BODY_TOO_LARGE);
    r->_body_cap = (size_t)p->content_length;
  }

  const char *mname = llhttp_method_name((llhttp_method_t)p->method);
  r->method = (rs_str_t){ mname, strlen(mname) };
  r->method_bit = rs_method_bit(mname, r->method.len);
  r->head = p->method == HTTP_HEAD;

  bool has_body = (p->flags & F_CHUNKED) || ((p->flags & F_CONTENT_LENGTH) && p->content_length > 0);
  c->in_body = has_body;
  /* Expect: 100-continue: say "go on" now unless an earlier answer is still
   * owed (it would leave out of order); the client then sends after its own
   * short wait, which is what RFC 9110 §10.1.1 allows. */
  if (r->_expect_continue && has_body && c->head == NULL && !c->writing) {
    static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
    uv_buf_t b = uv_buf_init((char *)cont, sizeof(cont) - 1);
    int w = rs__conn_try_write(c, &b, 1);
    if (w > 0) RS_COUNTER_ADD(c->loop->counters.bytes_out, (uint64_t)w);
  }
  /* Pause so that rs__conn_parse sees where the header section ended (a
   * chunked body's framing is checked from there). Resuming goes on as
   * returning 0 would. */
  c->hdr_check = true;
  return HPE_PAUSED;
}

static int rs__on_body(llhttp_t *p, const char *at, size_t n) {
  rs_conn_t *c = RS__CONN(p);
  rs_req_t *r = c->parsing;
  if (r == NULL || c->closed) return HPE_PAUSED;   /* a streamed request's answer ended it */
  if (n > c->body_limit_left) return rs__refuse(c, RS_REQ_E_BODY_TOO_LARGE);
  c->body_limit_left -= n;
  if (r->body_streamed) {
    if (r->on_body != NULL) r->on_body(r, at, n);
    return c->closed ? HPE_PAUSED : 0;
  }
  if (r->body_len + n > r->_body_cap) {
    size_t cap = r->_body_cap ? r->_body_cap * 2 : 4096;
    while (cap < r->body_len + n) cap *= 2;
    char *nb = realloc(r->_body, cap);
    if (nb == NULL) return rs__refuse(c, RS_REQ_E_BODY_TOO_LARGE);
    r->_body = nb;
    r->_body_cap = cap;
  }
  memcpy(r->_body + r->body_len, at, n);
  r->body_len += n;
  return 0;
}

/* Does a request in the queue hold a buffered body? Then no further request
 * is read (a pipelined POST waits in the socket, not in memory) until it has
 * been answered: one buffered body per connection, as nginx, which reads the
 * next request only after the current one. */
static bool rs__conn_holds_body(const rs_conn_t *c) {
  for (const rs_req_t *r = c->head; r != NULL; r = r->_next)
    if (r->body_len > 0 && !r->body_streamed) return true;
  return false;
}

/* Parsing stops after this message: pause at its end. Otherwise the pause
 * only lets rs__conn_parse check the next head's framing. */
static int rs__message_pause(rs_conn_t *c, bool stop) {
  c->msg_check = true;
  c->msg_stop = stop;
  return HPE_PAUSED;
}

static int rs__on_message_complete(llhttp_t *p) {
  rs_conn_t *c = RS__CONN(p);
  rs_req_t *r = c->parsing;
  rs_loop_t *loop = c->loop;
  if (r == NULL || c->closed) return rs__message_pause(c, true);
  c->parsing = NULL;
  c->in_body = false;
  if (r->body_streamed) {        /* dispatched already: tell it the body ended */
    r->body_complete = true;
    if (c->body_held) {          /* nothing more to hold back: read on */
      c->body_held = false;
      if (!c->no_more) rs__conn_read_start(c);
    }
    if (r->on_body != NULL) r->on_body(r, NULL, 0);
    return rs__message_pause(c, c->closed || c->no_more || c->nqueued >= loop->http->limits.pipeline);
  }
  r->body = r->_body;
  r->keep_alive = llhttp_should_keep_alive(p) && !loop->draining && !c->read_eof &&
                  !(p->flags & F_UPGRADE);
  if (!r->keep_alive) c->no_more = true;

  r->_state = RS__REQ_DISPATCHED;
  r->_next = NULL;
  if (c->tail) c->tail->_next = r; else c->head = r;
  c->tail = r;
  c->nqueued++;
  c->served = true;
  if (r->opts == NULL) r->opts = loop->http;
  loop->handler(r);            /* may answer (and write) right now */

  return rs__message_pause(c, c->closed || c->no_more || c->nqueued >= loop->http->limits.pipeline ||
                                  rs__conn_holds_body(c));
}

/* A request whose route takes its body as it comes (a proxy): into the
 * queue and to the handler now; the body follows through req->on_body. */
static void rs__dispatch_early(rs_conn_t *c, rs_req_t *r) {
  rs_loop_t *loop = c->loop;
  llhttp_t *p = &c->parser;
  r->body_streamed = true;
  r->body_length = (p->flags & F_CONTENT_LENGTH) ? (int64_t)p->content_length : -1;
  free(r->_body);
  r->_body = NULL;
  r->_body_cap = 0;
  r->keep_alive = llhttp_should_keep_alive(p) && !loop->draining && !c->read_eof;
  if (!r->keep_alive) c->no_more = true;
  r->_state = RS__REQ_DISPATCHED;
  r->_next = NULL;
  if (c->tail) c->tail->_next = r; else c->head = r;
  c->tail = r;
  c->nqueued++;
  c->served = true;
  loop->handler(r);
}

/* Check the framing of data[0..len) where the scan runs (a head, a chunked
 * body): false when it refused (the request has failed). */
static bool rs__conn_scan(rs_conn_t *c, const char *data, size_t len) {
  if (!c->scanning) return true;
  size_t used;
  rs_http_scan_rc rc = rs_http_scan(&c->scan, data, len, &used);
  if (rc == RS_HTTP_SCAN_DONE) c->scanning = false;   /* llhttp pauses there */
  if (rc >= 0) return true;
  rs__conn_fail(c, rc == RS_HTTP_SCAN_FOLD ? RS_REQ_E_OBS_FOLD
                   : rc == RS_HTTP_SCAN_LONG ? RS_REQ_E_CHUNK_EXT : RS_REQ_E_BAD_CHAR,
                c->scan.why);
  return false;
}

void rs__conn_parse(rs_conn_t *c, const char *data, size_t len) {
  const char *from = data, *end = data + len;
  enum llhttp_errno e;
  for (;;) {
    if (!rs__conn_scan(c, from, (size_t)(end - from))) return;
    e = llhttp_execute(&c->parser, from, (size_t)(end - from));
    if (e != HPE_PAUSED || c->closed) break;
    if (c->hdr_check) {
      /* Paused at the end of the header section. */
      c->hdr_check = false;
      from = llhttp_get_error_pos(&c->parser);
      if (c->parsing != NULL && (c->parser.flags & F_CHUNKED)) {
        rs_http_scan_chunked(&c->scan);
        c->scanning = true;
      }
      if (c->in_body && c->parsing != NULL && c->loop->on_head != NULL) {
        c->parsing->opts = c->loop->http;   /* the generation on_head takes */
        c->loop->on_head(c->parsing);
        if (c->parsing->stream_body) rs__dispatch_early(c, c->parsing);
      }
      if (c->closed) return;
      llhttp_resume(&c->parser);
      continue;
    }
    if (c->msg_check) {
      /* Paused at the end of a message: the next head's framing is checked
       * from here on, now or when parsing resumes. */
      c->msg_check = false;
      rs_http_scan_head(&c->scan);
      c->scanning = true;
      if (c->msg_stop) break;
      from = llhttp_get_error_pos(&c->parser);
      llhttp_resume(&c->parser);
      continue;
    }
    break;
  }
  if (e == HPE_OK || c->closed) return;
  if (e == HPE_PAUSED || e == HPE_PAUSED_UPGRADE) {
    if (e == HPE_PAUSED_UPGRADE) c->no_more = true;
    const char *pos = llhttp_get_error_pos(&c->parser);
    size_t rest = pos != NULL && pos >= data && pos <= data + len ? (size_t)(data + len - pos) : 0;
    c->paused = true;
    rs__conn_read_stop(c);
    if (!c->no_more && rest > 0) {
      char *keep = rs_xmalloc(rest);
      memcpy(keep, pos, rest);
      free(c->leftover);       /* may be the buffer being parsed: done with it */
      c->leftover = keep;
      c->leftover_len = rest;
    }
    return;
  }
  rs_req_error_t kind = c->error;
  if (kind == RS_REQ_OK) {
    switch (e) {
      case HPE_UNEXPECTED_CONTENT_LENGTH:
        kind = strstr(llhttp_get_error_reason(&c->parser), "Duplicate") ? RS_REQ_E_DUP_CL
                                                                       : RS_REQ_E_CL_AND_TE;
        break;
      case HPE_INVALID_TRANSFER_ENCODING:
        kind = c->te_bad ? RS_REQ_E_UNSUPPORTED_TE : RS_REQ_E_BAD_REQUEST;
        break;
      case HPE_INVALID_VERSION:
        /* Well-formed but not ours (HTTP/3.1) is 505; a version that is not
         * even well-formed ("HTTP/11", "HTTP/1.1 x") is a bad request line. */
        kind = strcmp(llhttp_get_error_reason(&c->parser), "Invalid HTTP version") == 0
                   ? RS_REQ_E_BAD_VERSION : RS_REQ_E_BAD_REQUEST;
        break;
      case HPE_PAUSED_H2_UPGRADE:  /* "PRI * HTTP/2.0": HTTP/2 is not on here */
        kind = RS_REQ_E_BAD_REQUEST;
        if (c->why == NULL) c->why = "an HTTP/2 preface on a listener without http2";
        break;
      case HPE_INVALID_HEADER_TOKEN:
      case HPE_LF_EXPECTED:
      case HPE_CR_EXPECTED: kind = RS_REQ_E_BAD_CHAR; break;
      default: kind = RS_REQ_E_BAD_REQUEST; break;
    }
  }
  rs__conn_fail(c, kind, c->why != NULL ? c->why : llhttp_get_error_reason(&c->parser));
}

/* Take the parked bytes again once the queue has room. */
void rs__conn_resume(rs_conn_t *c) {
  if (!c->paused || c->no_more || c->closed) return;
  if (c->nqueued >= c->loop->http->limits.pipeline || rs__conn_holds_body(c)) return;
  c->paused = false;
  llhttp_resume(&c->parser);
  char *data = c->leftover;
  size_t len = c->leftover_len;
  c->leftover = NULL;
  c->leftover_len = 0;
  if (data != NULL) {
    c->leftover = data;        /* so a nested pause may free it */
    rs__conn_parse(c, data, len);
    if (c->leftover == data) {
      c->leftover = NULL;
      free(data);
    }
  }
  if (!c->paused && !c->closed && !c->no_more && !c->body_held)
    rs__conn_read_start(c);
}

/* ------------------------------------------------------------------ set-up */

void rs_conn_global_init(void) {
  if (rs__settings_ready) return;
  llhttp_settings_init(&rs__settings);
  rs__settings.on_message_begin = rs__on_message_begin;
  rs__settings.on_url = rs__on_url;
  rs__settings.on_header_field = rs__on_header_field;
  rs__settings.on_header_value = rs__on_header_value;
  rs__settings.on_header_value_complete = rs__on_header_value_complete;
  rs__settings.on_headers_complete = rs__on_headers_complete;
  rs__settings.on_body = rs__on_body;
  rs__settings.on_chunk_extension_name = rs__on_chunk_ext;
  rs__settings.on_chunk_extension_value = rs__on_chunk_ext;
  rs__settings.on_message_complete = rs__on_message_complete;
  rs__settings_ready = true;
}

void rs__conn_parser_init(rs_conn_t *c) {
  llhttp_init(&c->parser, HTTP_REQUEST, &rs__settings);
  c->parser.data = c;
  rs_http_scan_head(&c->scan);
  c->scanning = true;
}
