/* core/http/rs_conn.h — HTTP/1.1 connections on a loop: llhttp parsing, limits,
 * timeouts, pipelining, keep-alive and ordered responses.
 *
 * A connection belongs to the loop that accepted it; every function here is
 * called on that loop's thread only. A request lives from its first byte
 * until its response has been written (or the connection died); handlers
 * may answer it later (from a completion), in any order: responses still
 * leave in request order. */
#ifndef RS_CONN_H
#define RS_CONN_H

#include "rs_cidr.h"
#include "rs_coding.h"
#include "rs_common.h"
#include "rs_http.h"
#include "rs_loop.h"

/* What the HTTP layer takes from the configuration (ssr.config limits,
 * timeouts, log and real_ip): filled by the server for each configuration
 * generation (core/server/rs_reload.c), so this layer never reads the
 * configuration itself. A connection reads the loop's current ones
 * (loop->http); a request keeps those it was handed up under (req->opts).
 * Read-only once published; the pointers borrow from the configuration,
 * which lives as long as its generation. */
/* What a listener speaks (ssr.config listen = { "addr", tls = {...}, http2 =
 * true }), per generation like the rest of the options. */
typedef struct rs_http_listen_s {
  struct rs_tls_ctx_s *tls;      /* NULL = cleartext (core/tls/rs_tls.h); ALPN offers
                                    "h2","http/1.1" with http2, else "http/1.1" */
  bool http2;                    /* HTTP/2: ALPN "h2" on TLS, prior knowledge (h2c)
                                    on cleartext */
  uint64_t handshake_timeout;    /* ms: a TLS handshake not done by then closes */
} rs_http_listen_t;

typedef struct rs_http_opts_s {
  struct {
    size_t url;                  /* request-target bytes → 414 */
    size_t header_bytes;         /* request line + all headers → 431 */
    size_t headers;              /* header count → 431 */
    size_t body;                 /* body bytes → 413 */
    size_t pipeline;             /* requests parsed ahead of their answer */
    size_t http2_streams;        /* HTTP/2 streams open at once (0: 128) */
  } limits;
  struct {                       /* milliseconds */
    uint64_t header;             /* first byte to end of headers → 408 */
    uint64_t body;               /* between body reads → 408 */
    uint64_t keepalive;          /* idle between requests → close */
    uint64_t write;              /* a write making no progress → close */
  } timeouts;
  bool access_admin;             /* the admin listener (loop 0) logs its requests */
  /* Each listener's access log (0 = listen, 1 + k = servers[k]): its
   * compiled format (rs_logfmt.h) and the access-log file it goes to
   * (rs_log.h's file index; -1 = none). NULL/0: listener 0's "combined"
   * to file 0. */
  const struct rs_logfmt_s *const *access_fmt;
  const int *access_file;
  size_t naccess;
  /* Each listener's protocols, indexed as above. NULL/0: cleartext HTTP/1.1. */
  const rs_http_listen_t *listen;
  size_t nlisten;
  struct {                       /* the client behind trusted proxies (rs_realip.h) */
    const rs_cidr_t *from;       /* trusted peers; NULL/0 = none */
    size_t nfrom;
    const char *header;          /* lower-case name ("x-forwarded-for") */
    bool recursive;
  } real_ip;
} rs_http_opts_t;

typedef struct {
  rs_str_t name;
  rs_str_t value;
} rs_header_t;

/* What a handler answers with. Nothing is copied: headers and body must stay
 * valid until release(release_ud) is called, once, when the bytes have been
 * written or dropped (a dead client). */
typedef struct {
  int status;
  const char *headers;           /* "Name: value\r\n"..., may be NULL */
  size_t headers_len;
  const char *extra;             /* more header lines, copied at once (short: */
  size_t extra_len;              /* Age, X-Cache, Content-Encoding...) */
  const char *body;
  size_t body_len;
  /* A file body, for files too large to hold (core/gateway/rs_static.c): after body,
   * file_len bytes of file_fd from file_off go out with sendfile(2), when
   * the socket can take them. Content-Length counts body_len + file_len.
   * Used only when file_len > 0; never sent for HEAD or a 304 (file_fd may
   * then be -1). The fd stays the handler's: close it in release. */
  int file_fd;
  int64_t file_off;
  size_t file_len;
  void (*release)(void *ud);
  void *release_ud;
} rs_resp_t;

#define RS_REQ_INLINE_BUF 2048
#define RS_REQ_INLINE_HDRS 24
#define RS_REQ_POOL_INLINE 1024  /* rs_req_alloc's bytes held in the request */

/* Fields a request's owner fills for the log (the HTTP layer only carries
 * them: it never knows what a route is). */
#define RS_LOG_FIELDS(X)                                  \
  X(ROUTE, "route")                                       \
  X(CACHE_STATUS, "cache_status")                         \
  X(UPSTREAM_RESPONSE_TIME, "upstream_response_time")     \
  X(UPSTREAM_STATUS, "upstream_status")
typedef enum {
#define RS__X(e, s) RS_LOG_F_##e,
  RS_LOG_FIELDS(RS__X)
#undef RS__X
  RS_LOG_F_MAX
} rs_log_field_t;

struct rs_req_s {
  /* The request, valid until the response is written. */
  rs_str_t method;               /* static string */
  unsigned method_bit;           /* RS_M_* (0 for a method the router lacks) */
  rs_str_t url;                  /* request-target as sent */
  rs_str_t path;                 /* url up to '?' */
  rs_str_t query;                /* after '?', without it */
  rs_str_t host;                 /* Host header (empty if none) */
  rs_header_t *headers;
  size_t nheaders;
  const char *body;
  size_t body_len;
  uint8_t http_major, http_minor;
  bool keep_alive;               /* the client allows reuse after this one */
  bool head;                     /* HEAD: headers only */
  uint64_t id;                   /* unique in the process: loop << 40 | seq */
  uint64_t start_ms;
  rs_loop_t *loop;
  /* The HTTP options it was handed up under: the loop's when it first
   * reached the loop's on_head or handler. They belong to the generation
   * the dispatcher holds for the request (rs_req_gen), so they stay valid
   * as long as the request. NULL before that. */
  const rs_http_opts_t *opts;
  int server;                    /* the listener that accepted it: 0 = listen,
                                    1 + k = the config's servers[k] */
  bool tls;                      /* it came over TLS (the scheme is https) */
  /* Per-request state of the modules above this layer (nginx's r->ctx[]):
   * each index of rs_req_ctx_t (core/base/rs_loop.h) belongs to one module,
   * which sets and reads it; this layer never looks inside. Cleared for
   * each request. */
  void *ctx[RS_REQ_CTX_MAX];
  /* Set by the request's owner (the dispatcher): called once, on the loop,
   * when the request is freed, after its answer was written or dropped;
   * releases what the owner attached to it. */
  void (*on_free)(rs_req_t *req);
  void *data;                    /* the handler's */
  /* Set by a handler that answers later: called on the loop when the
   * client goes away first. The handler must still call rs_req_respond
   * (which then only releases). */
  void (*on_abort)(rs_req_t *req);
  /* Set by a streaming handler (rs_req_stream_write returned false): called
   * on the loop when the bytes queued for the client fell low again. */
  void (*on_drain)(rs_req_t *req);
  /* Set by the loop's on_head (the dispatcher: a proxy route) when the
   * headers are complete and a body follows: dispatch the request now and
   * stream its body, as below. */
  bool stream_body;
  /* A streamed request body (proxy routes, stream_body above):
   * the request is dispatched when its headers are complete, with body
   * NULL; the bytes then come to on_body as they arrive (n == 0, p == NULL:
   * the end), as long as on_body is set. body_length is the Content-Length,
   * or -1 for a chunked body. */
  bool body_streamed;
  bool body_complete;            /* every body byte has arrived */
  int64_t body_length;
  void (*on_body)(rs_req_t *req, const char *p, size_t n);
  /* Header lines ("Name: value\r\n") added to whatever answer the request
   * gets (a Lua hook's req:set_header); freed with the request. */
  rs_buf_t add_headers;
  /* What the request's owner tells the access log ($route, $cache_status,
   * $upstream_response_time...: rs_logfmt.h, rs_req_log_set); empty = "-".
   * Cleared for each request. */
  rs_str_t log[RS_LOG_F_MAX];
  /* Set by the request's owner (the dispatcher, from the config): the
   * answer goes through the compression filter (core/http/rs_compress.h)
   * with these options; NULL = as it is (a stored page's answer). */
  const rs_compress_opts_t *compress;
  struct rs_compress_s *_z;      /* private to rs_compress.c */

  /* private to the HTTP/1 files (rs_conn_int.h) */
  rs_conn_t *_conn;              /* NULL once the client has gone */
  struct rs_h2s_s *_h2;          /* its HTTP/2 stream (rs_h2.c); NULL: HTTP/1 */
  rs_req_t *_next;
  int _state;
  rs_req_error_t _error;
  int _status;
  size_t _bytes_out;
  rs_resp_t _resp;
  uv_buf_t _iov[2];
  char *_head;                   /* status line + headers (inline or heap) */
  size_t _head_len;
  char *_buf;                    /* url + header bytes, then body */
  size_t _len, _cap;
  char *_body;                   /* body bytes (heap), when any */
  size_t _body_cap;
  size_t _hcap;
  size_t _hdr_bytes;
  bool _expect_continue;
  uint8_t _stream;               /* rs_req_stream_start's framing; 0 = not streamed */
  bool _stream_ended, _stream_term, _stream_drain;
  int64_t _stream_len;
  struct rs__chunk_s *_chunks, *_chunks_tail;  /* written once the head has left */
  size_t _chunks_bytes;
  struct rs__chunk_s *_chunks_inhead;  /* went out in the head's uv_write */
  size_t _pool_used;             /* bytes of _pool_inline handed out */
  struct rs__pool_block_s *_pool_blocks;  /* rs_req_alloc's beyond it */
  char _head_inline[512];
  char _buf_inline[RS_REQ_INLINE_BUF];
  rs_header_t _hdr_inline[RS_REQ_INLINE_HDRS];
  _Alignas(16) char _pool_inline[RS_REQ_POOL_INLINE];  /* not cleared per request */
};

/* Per-request memory (nginx's request pool, h2o's req->pool): n bytes,
 * aligned for any type, not cleared, valid until the request is freed (after
 * its on_free has run), then released at once. Small ones come from the
 * request itself. Never NULL (out of memory is fatal). Loop thread. */
void *rs_req_alloc(rs_req_t *req, size_t n);

/* Answer req. Call once per request, on its loop. When the client has gone
 * the response is dropped and release is called at once; the request
 * counts as 499 (rustyssr_requests_total, rs_req_status). */
void rs_req_respond(rs_req_t *req, const rs_resp_t *resp);

/* A short answer with a body in static storage (error pages, "ok"). */
void rs_req_respond_static(rs_req_t *req, int status, const char *headers,
                           const char *body, size_t body_len);

/* The one error answer, whatever the layer: status with its HTML page
 * (rs_http_error_page), "Content-Type: text/html", then extra header lines
 * ("Name: value\r\n"..., copied at once; NULL for none: Allow, Retry-After,
 * WWW-Authenticate...). Loop thread. */
void rs_req_respond_error(rs_req_t *req, int status, const char *extra);

/* Streaming answers (the proxy): the head now, the body as it comes.
 *
 * rs_req_stream_start sends status and headers ("Name: value\r\n"...,
 * copied; no Content-Length, Transfer-Encoding or Connection among them).
 * content_length >= 0 is sent as Content-Length and the body must be that
 * long; -1 sends the body chunked to HTTP/1.1 clients, and to 1.0 clients
 * until the connection closes. HEAD, 1xx, 204 and 304 answers send no body
 * whatever is written. Returns 0, or -ECONNRESET when the client has gone
 * (then write is a no-op and end only frees). Call once, instead of
 * rs_req_respond.
 *
 * rs_req_stream_write copies n bytes for the client. Returns false when
 * the bytes queued and not yet taken by the client passed a high mark
 * (256 KB): stop producing until req->on_drain runs. Writing after the
 * client left drops the bytes (on_abort has run or will).
 *
 * rs_req_stream_end: complete = true ends the body (the chunked end, then
 * the next answer of the connection); false means the body is incomplete:
 * the connection closes. The request belongs to rs_conn again after it: the
 * handler must not touch it. Loop thread, all three. */
int rs_req_stream_start(rs_req_t *req, int status, const char *headers, size_t headers_len,
                        int64_t content_length);
/* rs_req_stream_start then rs_req_stream_write(body, n) (n may be 0), the
 * head and those first bytes in one write (a small answer whose body came
 * with its head leaves in one syscall). Returns as rs_req_stream_start; the
 * high mark is not checked (the bytes are already read). */
int rs_req_stream_start_body(rs_req_t *req, int status, const char *headers, size_t headers_len,
                             int64_t content_length, const char *body, size_t n);
bool rs_req_stream_write(rs_req_t *req, const char *p, size_t n);
void rs_req_stream_end(rs_req_t *req, bool complete);

/* Stop (true) or resume (false) reading a streamed request body from the
 * client: the proxy's backpressure. The body timeout does not run while
 * paused. Loop thread. */
void rs_req_body_pause(rs_req_t *req, bool paused);

/* The client's "ip:port" ("-" once it has gone). Loop thread. */
const char *rs_req_peer(rs_req_t *req);

/* The status req was answered with (0 before rs_req_respond; 499 when its
 * client went before the answer left, whatever the handler gave). */
static inline int rs_req_status(const rs_req_t *req) { return req->_status; }

/* The value of the first header called name (lower-case literal), or NULL. */
const rs_str_t *rs_req_header(const rs_req_t *req, const char *lname);

/* HTTP/2's RST_STREAMs and GOAWAYs, by reason (the metrics' labels). */
#define RS_H2_RESET_MAP(XX)                                             \
  XX(CLIENT, "client")              /* the client reset a stream */     \
  XX(PROTOCOL, "protocol_error")    /* a malformed request (RFC 9113 §8.1.1) */ \
  XX(REFUSED, "refused_stream")     /* over the concurrent streams */   \
  XX(INTERNAL, "internal_error")    /* an answer cut short (upstream) */ \
  XX(FLOW_CONTROL, "flow_control")  /* DATA past the stream's window */ \
  XX(OTHER, "other")
#define RS_H2_GOAWAY_MAP(XX)                                            \
  XX(SHUTDOWN, "shutdown")          /* stop: NO_ERROR */                 \
  XX(RELOAD, "reload")              /* a new configuration: NO_ERROR */ \
  XX(IDLE, "idle")                  /* keep-alive timeout: NO_ERROR */  \
  XX(RAPID_RESET, "rapid_reset")    /* CVE-2023-44487 */               \
  XX(CONTINUATION, "continuation_flood")                                \
  XX(FLOOD, "flood")                /* SETTINGS/PING acks not read */   \
  XX(PROTOCOL, "protocol_error")    /* any other connection error */    \
  XX(FLOW_CONTROL, "flow_control")  /* DATA past the connection's window */ \
  XX(TIMEOUT, "timeout")            /* a client not reading, not sending */
typedef enum {
#define XX(e, s) RS_H2_RST_##e,
  RS_H2_RESET_MAP(XX)
#undef XX
  RS_H2_RST_MAX
} rs_h2_reset_t;
typedef enum {
#define XX(e, s) RS_H2_GOAWAY_##e,
  RS_H2_GOAWAY_MAP(XX)
#undef XX
  RS_H2_GOAWAY_MAX
} rs_h2_goaway_t;
_Static_assert(RS_H2_RST_MAX <= RS_LOOP_H2_REASONS_MAX && RS_H2_GOAWAY_MAX <= RS_LOOP_H2_REASONS_MAX,
               "RS_LOOP_H2_REASONS_MAX too small");
const char *rs_h2_reset_label(rs_h2_reset_t r);
const char *rs_h2_goaway_label(rs_h2_goaway_t g);

/* Set up what every connection shares (llhttp settings). Main thread,
 * once, before loops start. */
void rs_conn_global_init(void);

/* Take fd, a connection just accepted (non-blocking) on one of loop's
 * listeners, which it now owns (closed on failure too); server: which
 * listener (0 = listen, 1 + k = servers[k]), given to each of its requests. */
void rs_conn_accept(rs_loop_t *loop, int fd, int server);

/* Drain: close idle connections, let busy ones finish and close. With
 * force, close every connection now. */
void rs_conn_drain_all(rs_loop_t *loop, bool force);

/* A new configuration took over the loop: each HTTP/2 connection gets a
 * GOAWAY (NO_ERROR); its streams finish under the settings they began with,
 * and the client opens a new connection that has the new ones (limits,
 * certificates, http2 itself), as nginx's reload does. HTTP/1.1 connections
 * take the new settings with their next request. Loop thread. */
void rs_conn_h2_reload(rs_loop_t *loop);

/* Register the TLS listeners' metrics (rustyssr_tls_*). Main thread, once. */
void rs_conn_tls_metrics_register(void);

/* Free the loop's recycled requests. */
void rs_conn_loop_dispose(rs_loop_t *loop);

/* Flush buffered access-log lines. */
void rs_conn_flush_access_log(rs_loop_t *loop);

/* Set req's log field (copied, at most 256 bytes kept) for this request's
 * access-log line. Loop thread of req. */
void rs_req_log_set(rs_req_t *req, rs_log_field_t field, const char *s, size_t n);

#endif
