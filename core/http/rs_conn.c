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

#include "rs_compress.h"

#include "rs_config.h"  /* limits and timeouts (scripts/check-layers: an exception) */
#include "rs_log.h"

#include <errno.h>
#include <fcntl.h>
#include <llhttp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sendfile.h>
#include <unistd.h>

enum {
  RS__REQ_PARSING = 0,
  RS__REQ_DISPATCHED,            /* the handler has it */
  RS__REQ_READY,                 /* answered, waiting for earlier answers */
  RS__REQ_WRITING,               /* in the outstanding uv_write */
  RS__REQ_STREAMING,             /* head written, body written as it comes */
};

/* rs_req_t._stream: how a streamed body is framed. */
enum { RS__ST_LENGTH = 1, RS__ST_CHUNKED, RS__ST_EOF, RS__ST_NONE };
#define RS__STREAM_HIGH (256 * 1024)  /* queued bytes that stop the producer */
#define RS__STREAM_LOW (64 * 1024)    /* ... and let it go on again */

/* A piece of a streamed body, in its own uv_write. */
typedef struct rs__chunk_s {
  uv_write_t w;
  rs_conn_t *c;
  struct rs__chunk_s *next;
  size_t len;                    /* data bytes */
  size_t wire;                   /* bytes on the wire (with chunk framing) */
  bool raw;                      /* data goes out as it is (the chunked end) */
  char prefix[24];
  char data[];
} rs__chunk_t;

#define RS__MAX_IOV 64
#define RS__LINGER_MS 2000       /* read-and-discard after a final error */
#define RS__FREE_REQS_MAX 256
#define RS__SENDFILE_SLICE (512 * 1024)  /* file bytes per loop turn and connection */

struct rs_conn_s {
  uv_tcp_t tcp;                  /* first: the handle's data is the conn */
  uv_timer_t timer;
  llhttp_t parser;
  rs_loop_t *loop;
  rs_conn_t *prev, *next;        /* loop->conns */
  int server;                    /* the listener that accepted it (rs_req_t.server) */

  rs_req_t *parsing;             /* the request being parsed, if any */
  rs_req_t *head, *tail;         /* requests parsed, in order, not yet written */
  size_t nqueued;
  size_t nwriting;
  uv_write_t wreq;

  char *leftover;                /* bytes read but not parsed (paused) */
  size_t leftover_len;
  /* Framing is checked before llhttp parses (rs_http_scan): the head of
   * each request and a chunked body, from the parser's pause at the end of
   * the head and at the end of each message. */
  rs_http_scan_t scan;
  bool scanning;                 /* scan runs over what llhttp gets next */
  bool hdr_check;                /* paused at the end of the header section */
  bool msg_check;                /* paused at the end of a message ... */
  bool msg_stop;                 /* ... and parsing stops there (queue full) */
  const char *why;               /* the reason of a refusal, for the log */

  uint64_t hdr_deadline;         /* end of the header phase (slowloris) */
  size_t body_limit_left;
  rs_req_error_t error;          /* set by a callback that refused the request */
  int hdr_state;                 /* 0 none, 1 in a field, 2 in a value */
  int handles;                   /* handles still open; freed at 0 */
  char peer[64];

  bool writing;
  bool paused;                   /* parser paused, reads stopped */
  bool in_body;
  bool no_more;                  /* take no further requests */
  bool read_eof;                 /* the client half-closed */
  bool lingering;
  bool closed;
  bool te_bad;                   /* a Transfer-Encoding we do not speak */
  bool served;                   /* a request has completed on it */
  bool write_timed;              /* the write clock runs for this write */
  size_t write_left;             /* write queue bytes when it last moved */
  bool sending;                  /* head's file body is going out (sendfile) */
  bool body_held;                /* reads stopped: a streamed body's consumer is full */
  size_t swrites;                /* streamed body writes in flight */
  size_t spending;               /* their data bytes */
  uint64_t sdone, sdone_seen;    /* pieces written: progress for the write clock */
  uv_poll_t *fpoll;              /* POLLOUT watch for sendfile, on fpoll_fd */
  int fpoll_fd;                  /* a dup of the socket: libuv lets only one
                                    handle watch an fd, and tcp has it */
};

static llhttp_settings_t rs__settings;
static _Thread_local char *rs__tl_rbuf;  /* the loop thread's read buffer */
static bool rs__settings_ready;
#define RS__RBUF_SIZE (64 * 1024)

static void rs__conn_close(rs_conn_t *c);
static void rs__conn_flush(rs_conn_t *c);
static void rs__conn_send_file(rs_conn_t *c);
static void rs__on_write(uv_write_t *w, int status);
static void rs__conn_arm(rs_conn_t *c);
static void rs__conn_parse(rs_conn_t *c, const char *data, size_t len);
static void rs__conn_fail(rs_conn_t *c, rs_req_error_t kind, const char *detail);
static void rs__alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf);
static void rs__on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf);
static void rs__dispatch_early(rs_conn_t *c, rs_req_t *r);

/* ------------------------------------------------------------------ requests */

static rs_req_t *rs__req_new(rs_conn_t *c) {
  rs_loop_t *loop = c->loop;
  rs_req_t *r = loop->free_reqs;
  if (r != NULL) {
    loop->free_reqs = r->_next;
    loop->nfree_reqs--;
  } else {
    r = rs_xmalloc(sizeof(*r));
  }
  /* Clear the public part and the private bookkeeping, not the inline
   * buffers (6 KB that would be rewritten anyway). */
  memset(r, 0, offsetof(rs_req_t, _head_inline));
  r->_conn = c;
  r->loop = loop;
  r->_buf = r->_buf_inline;
  r->_cap = sizeof(r->_buf_inline);
  r->headers = r->_hdr_inline;
  r->_hcap = RS_REQ_INLINE_HDRS;
  r->_head = r->_head_inline;
  r->id = ((uint64_t)loop->index << 40) | ++loop->req_seq;
  r->server = c->server;
  r->start_ms = uv_now(&loop->uv);
  return r;
}

static void rs__req_release_resp(rs_req_t *r) {
  if (r->_resp.release != NULL) {
    void (*fn)(void *) = r->_resp.release;
    r->_resp.release = NULL;
    fn(r->_resp.release_ud);
  }
}

static void rs__req_free(rs_req_t *r) {
  rs_loop_t *loop = r->loop;
  rs__req_release_resp(r);
  rs_buf_free(&r->add_headers);
  rs_compress_req_free(r);
  if (r->on_free != NULL) {      /* after the response: its bytes may be the owner's */
    void (*fn)(rs_req_t *) = r->on_free;
    r->on_free = NULL;
    fn(r);
  }
  if (r->_buf != r->_buf_inline) free(r->_buf);
  if (r->headers != r->_hdr_inline) free(r->headers);
  if (r->_head != r->_head_inline) free(r->_head);
  while (r->_chunks != NULL) {
    rs__chunk_t *ch = r->_chunks;
    r->_chunks = ch->next;
    free(ch);
  }
  while (r->_chunks_inhead != NULL) {
    rs__chunk_t *ch = r->_chunks_inhead;
    r->_chunks_inhead = ch->next;
    free(ch);
  }
  free(r->_body);
  if (loop->nfree_reqs < RS__FREE_REQS_MAX) {
    r->_next = loop->free_reqs;
    loop->free_reqs = r;
    loop->nfree_reqs++;
  } else {
    free(r);
  }
}

void rs_conn_loop_dispose(rs_loop_t *loop) {
  while (loop->free_reqs != NULL) {
    rs_req_t *r = loop->free_reqs;
    loop->free_reqs = r->_next;
    free(r);
  }
  loop->nfree_reqs = 0;
  rs_buf_free(&loop->access);
  /* The read buffer is the calling thread's, and this is its loop's end. */
  free(rs__tl_rbuf);
  rs__tl_rbuf = NULL;
}

/* Append bytes to the request's url/header arena. Pointers into it are
 * stored as offsets until the headers are complete (it may move). */
static int rs__req_append(rs_req_t *r, const char *p, size_t n) {
  if (r->_len + n > r->_cap) {
    size_t cap = r->_cap * 2;
    while (cap < r->_len + n) cap *= 2;
    char *nb;
    if (r->_buf == r->_buf_inline) {
      nb = malloc(cap);
      if (nb != NULL) memcpy(nb, r->_buf, r->_len);
    } else {
      nb = realloc(r->_buf, cap);
    }
    if (nb == NULL) return -1;
    r->_buf = nb;
    r->_cap = cap;
  }
  if (p != NULL) memcpy(r->_buf + r->_len, p, n);   /* NULL: room only */
  r->_len += n;
  return 0;
}

const rs_str_t *rs_req_header(const rs_req_t *req, const char *lname) {
  size_t n = strlen(lname);
  for (size_t i = 0; i < req->nheaders; i++)
    if (rs_str_ieq(req->headers[i].name.p, req->headers[i].name.len, lname, n))
      return &req->headers[i].value;
  return NULL;
}

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
  c->hdr_deadline = uv_now(&c->loop->uv) + c->loop->cfg->timeouts.header;
  c->hdr_state = 0;
  c->in_body = false;
  c->te_bad = false;
  c->why = NULL;
  return 0;
}

static int rs__on_url(llhttp_t *p, const char *at, size_t n) {
  rs_conn_t *c = RS__CONN(p);
  rs_req_t *r = c->parsing;
  if (r->url.len + n > c->loop->cfg->limits.url) return rs__refuse(c, RS_REQ_E_URL_TOO_LONG);
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
  return r->_hdr_bytes + 16 + 4 * r->nheaders > c->loop->cfg->limits.header_bytes ? -1 : 0;
}

/* Trailer fields (after a chunked body) are read and dropped: the header
 * pointers are final by then and one more append could move the arena under
 * them. Their bytes count against the body limit. */
static int rs__trailer_bytes(rs_conn_t *c, size_t n) {
  if (n > c->body_limit_left) return rs__refuse(c, RS_REQ_E_BODY_TOO_LARGE);
  c->body_limit_left -= n;
  return 0;
}

/* A new header slot in r (grown as needed), or NULL out of memory. */
static rs_header_t *rs__req_header_slot(rs_req_t *r) {
  if (r->nheaders == r->_hcap) {
    size_t cap = r->_hcap * 2;
    rs_header_t *nh = r->headers == r->_hdr_inline ? malloc(cap * sizeof(*nh))
                                                   : realloc(r->headers, cap * sizeof(*nh));
    if (nh == NULL) return NULL;
    if (r->headers == r->_hdr_inline) memcpy(nh, r->headers, r->nheaders * sizeof(*nh));
    r->headers = nh;
    r->_hcap = cap;
  }
  return &r->headers[r->nheaders++];
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
    if (r->nheaders == c->loop->cfg->limits.headers)
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

  size_t limit = c->loop->cfg->limits.body;
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
    int w = uv_try_write((uv_stream_t *)&c->tcp, &b, 1);
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
      if (!c->no_more) uv_read_start((uv_stream_t *)&c->tcp, rs__alloc, rs__on_read);
    }
    if (r->on_body != NULL) r->on_body(r, NULL, 0);
    return rs__message_pause(c, c->closed || c->no_more || c->nqueued >= loop->cfg->limits.pipeline);
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
  loop->handler(r);            /* may answer (and write) right now */

  return rs__message_pause(c, c->closed || c->no_more || c->nqueued >= loop->cfg->limits.pipeline ||
                                  rs__conn_holds_body(c));
}

/* ------------------------------------------------------------------ responses */

static char *rs__put(char *p, const char *s, size_t n) {
  memcpy(p, s, n);
  return p + n;
}

static char *rs__put_u64(char *p, uint64_t v) {
  char tmp[24];
  int i = 0;
  do { tmp[i++] = (char)('0' + v % 10); v /= 10; } while (v);
  while (i) *p++ = tmp[--i];
  return p;
}

/* A value in a log line as nginx writes variables: '"', '\\' and bytes
 * outside printable ASCII as \xHH, so a client cannot forge a field or a
 * line. */
static void rs__log_esc(rs_buf_t *b, const char *p, size_t n) {
  static const char hex[] = "0123456789ABCDEF";
  rs_buf_reserve(b, n * 4);
  char *o = b->p + b->len;
  for (size_t i = 0; i < n; i++) {
    unsigned char ch = (unsigned char)p[i];
    if (ch < 0x20 || ch >= 0x7f || ch == '"' || ch == '\\') {
      *o++ = '\\', *o++ = 'x', *o++ = hex[ch >> 4], *o++ = hex[ch & 15];
    } else {
      *o++ = (char)ch;
    }
  }
  b->len = (size_t)(o - b->p);
}

/* nginx's "combined" format, exactly:
 *   $remote_addr - $remote_user [$time_local] "$request" $status
 *   $body_bytes_sent "$http_referer" "$http_user_agent"
 * ($remote_addr without the port); "timed" adds " $request_time". */
static void rs__access_log(rs_req_t *r, rs_conn_t *c) {
  rs_loop_t *loop = r->loop;
  rs_buf_t *b = &loop->access;
  const rs_str_t *ua = r->nheaders ? rs_req_header(r, "user-agent") : NULL;
  const rs_str_t *ref = r->nheaders ? rs_req_header(r, "referer") : NULL;
  const char *peer = c && c->peer[0] ? c->peer : "-";
  const char *colon = strrchr(peer, ':');   /* "1.2.3.4:5678", "::1:5678" */
  int iplen = colon ? (int)(colon - peer) : (int)strlen(peer);
  rs_buf_printf(b, "%.*s - - [%s] \"", iplen, peer, loop->log_time);
  rs__log_esc(b, r->method.p ? r->method.p : "", r->method.len);
  rs_buf_append(b, " ", 1);
  rs__log_esc(b, r->url.p ? r->url.p : "", RS_MIN(r->url.len, 2048));
  rs_buf_printf(b, " HTTP/%d.%d\" %d %zu \"", r->http_major, r->http_minor, r->_status,
                r->head ? (size_t)0 : r->_resp.body_len + r->_resp.file_len);
  if (ref) rs__log_esc(b, ref->p, ref->len);
  else rs_buf_append(b, "-", 1);
  rs_buf_append(b, "\" \"", 3);
  if (ua) rs__log_esc(b, ua->p, ua->len);
  else rs_buf_append(b, "-", 1);
  rs_buf_append(b, "\"", 1);
  if (loop->cfg->log.access_timed) {
    uint64_t ms = uv_now(&loop->uv) - r->start_ms;
    rs_buf_printf(b, " %llu.%03llu", (unsigned long long)(ms / 1000), (unsigned long long)(ms % 1000));
  }
  rs_buf_append(b, "\n", 1);
  if (b->len > 32 * 1024) rs_conn_flush_access_log(loop);
}

void rs_conn_flush_access_log(rs_loop_t *loop) {
  if (loop->access.len == 0) return;
  rs_log_access_write(loop->access.p, loop->access.len);
  loop->access.len = 0;
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
    rs__req_free(r);
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
  if (rs_log_access_on() && (r->loop->index > 0 || r->loop->cfg->log.access_admin)) rs__access_log(r, c);

  r->_state = RS__REQ_READY;
  if (r == c->head) rs__conn_flush(c);
}

void rs_req_respond_static(rs_req_t *req, int status, const char *headers, const char *body,
                           size_t body_len) {
  rs_resp_t resp = { .status = status, .headers = headers, .headers_len = headers ? strlen(headers) : 0,
                     .body = body, .body_len = body_len };
  rs_req_respond(req, &resp);
}

static void rs__conn_resume(rs_conn_t *c);
static void rs__conn_linger(rs_conn_t *c);

/* ------------------------------------------------------------------ streamed bodies
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

static void rs__conn_next(rs_conn_t *c, bool last_close);
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
    int w = uv_try_write((uv_stream_t *)&c->tcp, b, n);
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
  if (uv_write(&ch->w, (uv_stream_t *)&c->tcp, b, n, rs__on_chunk_written) != 0) {
    /* The socket is gone; its close comes with the read side's error. */
    c->swrites--;
    c->spending -= ch->len;
    free(ch);
  }
}

/* The head has been written: send what waited, finish if all is said. */
static void rs__stream_kick(rs_conn_t *c) {
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
  if (!complete) {
    /* An incomplete body cannot be told apart from a complete one except
     * by closing: the connection goes, and the request with it. */
    r->keep_alive = false;
    rs__conn_close(c);
    return;
  }
  if (r->_state == RS__REQ_STREAMING && c->swrites == 0) rs__stream_finish(c);
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
static void rs__conn_next(rs_conn_t *c, bool last_close) {
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

static void rs__on_writable(uv_poll_t *p, int status, int events);

/* Bytes queued and not yet taken by the socket, for the write clock. */
static size_t rs__conn_unsent(rs_conn_t *c) {
  size_t n = uv_stream_get_write_queue_size((uv_stream_t *)&c->tcp);
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

static void rs__conn_send_file(rs_conn_t *c) {
  rs_req_t *r = c->head;
  rs_resp_t *resp = &r->_resp;
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

/* A streamed answer's head is leaving: the pieces already written (and
 * the chunked end, if the body has ended) go in the same uv_write. They
 * move to _chunks_inhead, freed when the write completes. */
static void rs__stream_inhead(rs_req_t *r, uv_buf_t *bufs, unsigned *n) {
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

static void rs__conn_flush(rs_conn_t *c) {
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
  int rc = uv_write(&c->wreq, (uv_stream_t *)&c->tcp, bufs, n, rs__on_write);
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

/* ------------------------------------------------------------------ reading */

static void rs__alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
  /* One read buffer per loop thread: request bytes are copied out of it
   * during parsing, and unparsed bytes saved per connection when paused. */
  if (rs__tl_rbuf == NULL) rs__tl_rbuf = rs_xmalloc(RS__RBUF_SIZE);
  *buf = uv_buf_init(rs__tl_rbuf, RS__RBUF_SIZE);
}

static void rs__on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf) {
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
    uv_read_stop(s);
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
  rs__conn_parse(c, buf->base, (size_t)nread);
  if (!c->closed) rs__conn_arm(c);
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

static void rs__conn_parse(rs_conn_t *c, const char *data, size_t len) {
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
    uv_read_stop((uv_stream_t *)&c->tcp);
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
      case HPE_INVALID_HEADER_TOKEN:
      case HPE_LF_EXPECTED:
      case HPE_CR_EXPECTED: kind = RS_REQ_E_BAD_CHAR; break;
      default: kind = RS_REQ_E_BAD_REQUEST; break;
    }
  }
  rs__conn_fail(c, kind, c->why != NULL ? c->why : llhttp_get_error_reason(&c->parser));
}

/* Take the parked bytes again once the queue has room. */
static void rs__conn_resume(rs_conn_t *c) {
  if (!c->paused || c->no_more || c->closed) return;
  if (c->nqueued >= c->loop->cfg->limits.pipeline || rs__conn_holds_body(c)) return;
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
    uv_read_start((uv_stream_t *)&c->tcp, rs__alloc, rs__on_read);
}

static const char *rs__conn_peer(rs_conn_t *c) {
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
  if (c == NULL || c->closed || c->lingering || c->body_held == paused) return;
  if (paused && c->parsing != req) return;   /* its body is all in */
  c->body_held = paused;
  if (paused) uv_read_stop((uv_stream_t *)&c->tcp);
  else if (!c->paused && !c->read_eof) uv_read_start((uv_stream_t *)&c->tcp, rs__alloc, rs__on_read);
  rs__conn_arm(c);
}

const char *rs_req_peer(rs_req_t *req) {
  return req->_conn != NULL ? rs__conn_peer(req->_conn) : "-";
}

/* Refuse the request being read: answer with the kind's status and
 * "Connection: close" after every earlier answer, then linger and close. */
static void rs__conn_fail(rs_conn_t *c, rs_req_error_t kind, const char *detail) {
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
  uv_read_stop((uv_stream_t *)&c->tcp);

  r->_state = RS__REQ_DISPATCHED;
  r->_next = NULL;
  if (c->tail) c->tail->_next = r; else c->head = r;
  c->tail = r;
  c->nqueued++;
  rs_str_t page = rs_http_error_page(status);
  rs_req_respond_static(r, status, "Content-Type: text/html\r\n", page.p, page.len);
}

/* ------------------------------------------------------------------ timers, close */

static void rs__on_timer(uv_timer_t *t) {
  rs_conn_t *c = t->data;
  if ((c->writing || c->swrites > 0) && !c->lingering) {
    /* write_ms is for a write making no progress: a client that reads,
     * however slowly, gets another period. */
    size_t left = rs__conn_unsent(c);
    /* A streamed body refills the queue as it drains: count its pieces
     * written too. */
    if (left < c->write_left || c->sdone != c->sdone_seen) {
      c->write_left = left;
      c->sdone_seen = c->sdone;
      uv_timer_start(&c->timer, rs__on_timer, c->loop->cfg->timeouts.write, 0);
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

static void rs__conn_arm(rs_conn_t *c) {
  const rs_config_t *cfg = c->loop->cfg;
  uint64_t now = uv_now(&c->loop->uv);
  uint64_t ms;
  if (c->closed || c->lingering) return;
  if (c->writing || c->swrites > 0) {
    /* One clock per write, restarted only by progress (rs__on_timer): bytes
     * the client sends meanwhile must not keep a stuck write alive. */
    if (c->write_timed) return;
    c->write_timed = true;
    c->write_left = rs__conn_unsent(c);
    ms = cfg->timeouts.write;
  } else if (c->body_held) {     /* the body's consumer is slow, not the client */
    uv_timer_stop(&c->timer);
    return;
  } else if (c->parsing != NULL && c->in_body) ms = cfg->timeouts.body;
  else if (c->parsing != NULL) ms = c->hdr_deadline > now ? c->hdr_deadline - now : 1;
  else if (c->head != NULL) {  /* a handler is working: its own clock runs */
    uv_timer_stop(&c->timer);
    return;
  } else {
    /* A new connection that has sent nothing yet gets the header timeout,
     * as nginx's client_header_timeout: keep-alive patience is for clients
     * that have been served. */
    ms = c->served ? cfg->timeouts.keepalive : cfg->timeouts.header;
  }
  uv_timer_start(&c->timer, rs__on_timer, ms, 0);
}

static void rs__on_shutdown(uv_shutdown_t *req, int status) { free(req); }

/* After a closing answer: send FIN, then read and drop whatever the client
 * still sends, for a short while, so that our answer is not lost to a reset
 * (nginx's lingering close). */
static void rs__conn_linger(rs_conn_t *c) {
  if (c->closed) return;
  if (c->read_eof) {
    rs__conn_close(c);
    return;
  }
  c->lingering = true;
  uv_shutdown_t *sr = rs_xmalloc(sizeof(*sr));
  if (uv_shutdown(sr, (uv_stream_t *)&c->tcp, rs__on_shutdown) != 0) {
    free(sr);
    rs__conn_close(c);
    return;
  }
  uv_read_start((uv_stream_t *)&c->tcp, rs__alloc, rs__on_read);
  uv_timer_start(&c->timer, rs__on_timer, RS__LINGER_MS, 0);
}

static void rs__on_handle_closed(uv_handle_t *h) {
  rs_conn_t *c = h->data;
  if (--c->handles > 0) return;
  free(c->leftover);
  free(c);
}

static void rs__on_fpoll_closed(uv_handle_t *h) {
  int fd = ((rs_conn_t *)h->data)->fpoll_fd;
  rs__on_handle_closed(h);     /* may free the conn */
  close(fd);
  free(h);
}

static void rs__conn_close(rs_conn_t *c) {
  if (c->closed) return;
  c->closed = true;
  rs_loop_t *loop = c->loop;
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
  uv_close((uv_handle_t *)&c->timer, rs__on_handle_closed);
  if (c->fpoll != NULL) uv_close((uv_handle_t *)c->fpoll, rs__on_fpoll_closed);
  uv_close((uv_handle_t *)&c->tcp, rs__on_handle_closed);
  rs_loop_maybe_done(loop);
}

/* ------------------------------------------------------------------ accept, drain */

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

void rs_conn_accept(rs_loop_t *loop, int fd, int server) {
  rs_conn_t *c = rs_xcalloc(1, sizeof(*c));
  c->loop = loop;
  c->server = server;
  uv_tcp_init(&loop->uv, &c->tcp);
  c->tcp.data = c;
  c->handles = 1;
  if (uv_tcp_open(&c->tcp, fd) != 0) {
    close(fd);
    uv_close((uv_handle_t *)&c->tcp, rs__on_handle_closed);
    return;
  }
  uv_timer_init(&loop->uv, &c->timer);
  c->timer.data = c;
  c->handles = 2;
  uv_tcp_nodelay(&c->tcp, 1);
  llhttp_init(&c->parser, HTTP_REQUEST, &rs__settings);
  c->parser.data = c;
  rs_http_scan_head(&c->scan);
  c->scanning = true;
  c->next = loop->conns;
  if (loop->conns) loop->conns->prev = c;
  loop->conns = c;
  loop->nconns++;
  RS_COUNTER_ADD(loop->counters.conns_opened, 1);
  if (rs_log_access_on()) rs__conn_peer(c);
  uv_read_start((uv_stream_t *)&c->tcp, rs__alloc, rs__on_read);
  rs__conn_arm(c);
}

void rs_conn_drain_all(rs_loop_t *loop, bool force) {
  rs_conn_t *c = loop->conns;
  while (c != NULL) {
    rs_conn_t *next = c->next;
    /* A request whose bytes have begun to arrive is in flight: it is
     * answered (with Connection: close). Only idle connections go now. */
    bool idle = c->parsing == NULL && c->head == NULL && !c->writing;
    if (force || idle || c->lingering) rs__conn_close(c);
    else c->no_more = c->head != NULL || c->no_more;
    c = next;
  }
}
