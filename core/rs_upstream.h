/* core/rs_upstream.h — named upstreams and the HTTP/1.1 client the proxy
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
                                    URL "http://host[:port][/path]" (no TLS;
                                    host a literal IP or a name resolved with
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
                                    (or 10 s for a URL) */
  size_t max_body;               /* larger responses fail with -EFBIG; 0 = 8 MiB */
} rs_fetch_opts_t;

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
 * server up: all marked down by passive health). */
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

#endif
