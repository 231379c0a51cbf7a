/* core/upstream/rs_upstream.h — named upstreams and the HTTP/1.1 client the proxy
 * action and Lua's ssr.fetch share: per-loop keepalive pools, round-robin,
 * connect / send / read timeouts, retries of idempotent requests on another
 * server, passive health.
 *
 * CONTRACT (fixed; other modules code against it): the buffered "fetch"
 * API below. The streaming API the proxy uses is this module's own and may
 * grow. Loop threads only; a fetch belongs to the loop that started it. */
#ifndef RS_UPSTREAM_H
#define RS_UPSTREAM_H

#include "rs_common.h"

typedef struct rs_loop_s rs_loop_t;
typedef struct rs_fetch_s rs_fetch_t;

typedef struct {
  rs_str_t name, value;
} rs_fetch_header_t;

/* What a fetch asks for. Every pointer is borrowed only for the duration of
 * rs_fetch_start (the request bytes are copied before it returns). */
typedef struct {
  const char *target;            /* an upstream's name ("api"), or an absolute
                                    URL "http[s]://host[:port][/path]" (host a
                                    literal IP or a name resolved with
                                    uv_getaddrinfo) */
  const char *method;            /* NULL = "GET" */
  const char *path;              /* "/x?y=1"; appended to a URL's own path;
                                    NULL = "/" (or the URL's path) */
  const rs_fetch_header_t *headers; /* extra request headers (Host is set
                                    from the upstream/URL unless given) */
  size_t nheaders;
  const char *body;              /* NULL = none */
  size_t body_len;
  uint64_t timeout_ms;           /* whole fetch; 0 = the upstream's timeouts
                                    (or RS_UPSTREAM_URL_TIMEOUT_MS for a URL) */
  size_t max_body;               /* larger responses fail with -EFBIG; 0 = 8 MiB */
  /* An https:// URL's TLS (an upstream's is its config's): */
  const char *tls_ca;            /* PEM CA file; NULL = the system store */
  const char *tls_sni;           /* the name sent and verified; NULL = the URL's host */
  bool tls_no_verify;            /* accept any certificate */
} rs_fetch_opts_t;

/* A URL's server has no configured timeouts: its fetch's whole time, and an
 * exchange's connect, send and read times with a single address, unless
 * given. */
#define RS_UPSTREAM_URL_TIMEOUT_MS 10000

/* A complete response. Owned by the fetch; valid during the callback only
 * (copy what you keep). */
typedef struct {
  int status;
  const rs_fetch_header_t *headers; /* as received (names as sent) */
  size_t nheaders;
  const char *body;              /* de-chunked */
  size_t body_len;
} rs_fetch_result_t;

/* Called once, on the loop, unless cancelled first. err is 0 (res set) or a
 * negative errno with res NULL: -ECONNREFUSED (every server tried refused),
 * -ETIMEDOUT, -ECONNRESET (closed mid-response), -EFBIG, -EPROTO (bad
 * HTTP), -ENOENT (no such upstream), -EINVAL (bad URL), -EHOSTUNREACH (no
 * server up: all marked down by passive health), -EKEYREJECTED (TLS: the
 * server's certificate failed verification, or the CA file did not load),
 * -EBADE (TLS: the handshake failed otherwise). */
typedef void (*rs_fetch_cb)(void *ud, int err, const rs_fetch_result_t *res);

/* Start a fetch on loop. Returns the handle, or NULL when it failed at once:
 * then cb has NOT been called and *err_out (if not NULL) holds the error.
 * The callback is never called from inside rs_fetch_start. */
rs_fetch_t *rs_fetch_start(rs_loop_t *loop, const rs_fetch_opts_t *opts, rs_fetch_cb cb, void *ud,
                           int *err_out);

/* Cancel a fetch whose callback has not run: the callback will never run,
 * the connection is closed (not returned to the pool), memory is freed. */
void rs_fetch_cancel(rs_fetch_t *f);

/* Fetches started and not yet finished or cancelled on loop (for the leak
 * test and the rustyssr_fetch_inflight metric). */
size_t rs_fetch_inflight(const rs_loop_t *loop);

/* A readable message for a fetch error ("connection refused", "timeout"…). */
const char *rs_fetch_strerror(int err);

/* ------------------------------------------------------------------ runtime
 * Everything below is this module's own (the proxy uses it); it may grow.
 *
 * A runtime holds, for one loop, the state of every upstream of one config:
 * per-server keepalive pools, the round-robin cursor, passive health. Each
 * loop has its own (no locks). Every exchange and fetch keeps the runtime it
 * started with, so a reload can install a new runtime on loop->upstreams
 * while older requests finish on the old one. */
typedef struct rs_upstreams_s rs_upstreams_t;
typedef struct rs_config_s rs_config_t;

/* Create the runtime of cfg's upstreams on loop (cfg must outlive it).
 * Never NULL. Loop thread. */
rs_upstreams_t *rs_upstreams_create(rs_loop_t *loop, const rs_config_t *cfg);

/* Retire u: its idle connections close now, new exchanges are refused, and
 * it frees itself when the last exchange on it has ended (at once if none).
 * Safe after the loop stopped running (the handles uv_walk closed are
 * freed here). NULL is a no-op. Loop thread. */
void rs_upstreams_destroy(rs_upstreams_t *u);

/* Exchanges (fetches and proxied requests) in flight on u. */
size_t rs_upstreams_busy(const rs_upstreams_t *u);

/* Register the upstream metrics collector (rustyssr_upstream_*,
 * rustyssr_fetch_inflight) for loops with index 0..nloops. Main thread,
 * once, before the loops start. */
void rs_upstream_metrics_register(int nloops);

/* ------------------------------------------------------------------ exchanges
 * One HTTP/1.1 request/response with an upstream server: the client the
 * proxy streams through and that fetch buffers. */
typedef struct rs_uhttp_s rs_uhttp_t;

typedef struct {
  /* The final response head (1xx are skipped). content_length is -1 when
   * the response has none; chunked is true for Transfer-Encoding: chunked;
   * neither = no body (HEAD, 204, 304) or read until close (body_to_eof).
   * headers are valid until on_done. */
  void (*on_head)(void *ud, int status, const rs_fetch_header_t *headers, size_t n,
                  int64_t content_length, bool chunked, bool body_to_eof);
  /* Body bytes, de-chunked; valid during the call only. */
  void (*on_body)(void *ud, const char *p, size_t n);
  /* The end: err 0 = the response is complete; else a negative errno as in
   * rs_fetch_cb. Called once, never from inside rs_uhttp_start, never after
   * rs_uhttp_cancel. The exchange is gone after it returns. */
  void (*on_done)(void *ud, int err);
  /* A streamed request body's queue fell low again after rs_uhttp_body
   * returned false (may be NULL when the body is not streamed). */
  void (*on_body_drain)(void *ud);
  /* The bytes of one read from the server have been parsed and the
   * exchange goes on (may be NULL): a consumer that held something back
   * to coalesce it with what might follow in the same read sends it now. */
  void (*on_read_end)(void *ud);
} rs_uhttp_cbs_t;

typedef struct {
  const char *upstream;          /* a name in the runtime's config, or NULL with addr */
  const struct sockaddr *addr;   /* a single server (fetch of a URL); copied */
  const char *addr_name;         /* "host:port" for logs (with addr) */
  char *head;                    /* the request line and headers, ending in an
                                    empty line: taken over (freed by the exchange) */
  size_t head_len;
  const char *body;              /* borrowed until on_done / cancel */
  size_t body_len;
  bool body_stream;              /* the body comes through rs_uhttp_body (body
                                    and body_len unused); the head announces it */
  bool body_chunked;             /* ... and goes out chunked (no Content-Length) */
  bool idempotent;               /* may be retried after it was sent */
  bool head_only;                /* a HEAD request: the response has no body */
  bool keepalive;                /* the connection may go back to the pool */
  uint64_t deadline_ms;          /* 0, or a uv_now() time limit for the whole exchange */
  uint64_t connect_timeout_ms, send_timeout_ms, read_timeout_ms;  /* with addr only */
  /* With addr only (an upstream's TLS is its config's): TLS to it, the name
   * its certificate must carry (copied), SNI and CA as rs_fetch_opts_t. */
  bool tls, tls_no_verify;
  const char *tls_host, *tls_sni, *tls_ca;
} rs_uhttp_opts_t;

/* Start an exchange on runtime u. Returns it, or NULL with *err set (then no
 * callback runs): -ENOENT (no such upstream), -EHOSTUNREACH (every server
 * is down), -ESHUTDOWN (u is retired), or a connect error when every
 * server refused at once. Loop thread. */
rs_uhttp_t *rs_uhttp_start(rs_upstreams_t *u, const rs_uhttp_opts_t *opts, const rs_uhttp_cbs_t *cbs,
                           void *ud, int *err);

/* Stop (true) or resume (false) reading the response: the proxy's
 * backpressure. The read timeout does not run while paused. */
void rs_uhttp_pause(rs_uhttp_t *x, bool paused);

/* Give a streamed request body's next n bytes (copied); p NULL ends the
 * body. Returns false when the bytes queued and not yet written passed a
 * high mark (256 KB): stop until on_body_drain. Bytes given after the
 * exchange ended are dropped. */
bool rs_uhttp_body(rs_uhttp_t *x, const char *p, size_t n);

/* Abandon an exchange: its connection closes, on_done never runs. May be
 * called from inside its callbacks. */
void rs_uhttp_cancel(rs_uhttp_t *x);

/* "host:port" of the server the exchange is on (or last tried). */
const char *rs_uhttp_server(const rs_uhttp_t *x);

/* Did the exchange get any response byte (the proxy's 502 against an
 * incomplete answer)? */
bool rs_uhttp_head_seen(const rs_uhttp_t *x);

/* Private to rs_upstream.c and rs_fetch.c: the loop's in-flight fetch
 * gauge, and the config a runtime was made from. */
void rs__upstream_fetch_gauge(const rs_loop_t *loop, int delta);
const rs_config_t *rs__upstreams_cfg(const rs_upstreams_t *u);

#endif
