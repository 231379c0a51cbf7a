/* core/http/rs_logfmt.h — access-log formats: nginx's log_format, compiled
 * once when a configuration loads, rendered for each request.
 *
 * A format is a named one or a template:
 *   "combined"  nginx's, byte for byte:
 *               $remote_addr - $remote_user [$time_local] "$request" $status
 *               $body_bytes_sent "$http_referer" "$http_user_agent"
 *   "timed"     combined, then " $request_time"
 *   "json"      one JSON object a line (nginx's escape=json): time,
 *               remote_addr, request_id, request, status, body_bytes_sent,
 *               request_time, upstream_response_time, cache_status, route,
 *               host, http_referer, http_user_agent
 *   a template  text with $variables (or ${variables}), escaped as nginx's
 *               escape=default ('"', '\' and bytes outside printable ASCII
 *               as \xHH; an empty value as "-"), or as escape=json when
 *               compiled with json (then "" for an empty value)
 *
 * Variables (nginx's names): remote_addr (the client, behind trusted
 * proxies: rs_realip.h), remote_user ("-"), time_local, time_iso8601, msec,
 * request ("GET /a?b HTTP/1.1"), request_method, request_uri, uri (the path),
 * args and query_string, server_protocol, status, body_bytes_sent,
 * bytes_sent, request_time (seconds, milliseconds after the point),
 * request_id, host, pid, http_NAME (a request header: lower-case, '_' for
 * '-'), and the fields the request's owner sets (rs_req_log_set below):
 * route, cache_status, upstream_response_time, upstream_status.
 * A line ends with "\n". */
#ifndef RS_LOGFMT_H
#define RS_LOGFMT_H

#include "rs_common.h"
#include "rs_conn.h"                /* rs_req_t, rs_log_field_t */

typedef struct rs_logfmt_s rs_logfmt_t;


/* Compile spec ("combined", "timed", "json" or a template; json: escape
 * a template's values as JSON strings). Returns the format (free it with
 * rs_logfmt_free), or NULL with err set: "unknown variable '$foo' (...)",
 * "'$' without a variable name", "unclosed '${'". Any thread. */
rs_logfmt_t *rs_logfmt_compile(const char *spec, bool json, char *err, size_t errlen);
void rs_logfmt_free(rs_logfmt_t *f);

/* What a line needs beyond the request itself. */
typedef struct {
  const char *remote_addr;       /* the client (no port) */
  int status;
  size_t body_bytes_sent;        /* the body (0 for HEAD) */
  size_t bytes_sent;             /* head and body */
  uint64_t request_time_us;
  const char *time_local;        /* "06/Dec/2026:07:58:00 +0000" */
  const char *time_iso8601;      /* "2026-12-06T07:58:00+00:00" */
  uint64_t now_ms;               /* wall clock, for $msec */
  /* TLS (NULL on cleartext, or once the client has gone): "TLSv1.3",
   * "TLS_AES_256_GCM_SHA384", the SNI name; whether the session resumed. */
  const char *ssl_protocol, *ssl_cipher, *ssl_server_name;
  bool ssl_reused;
} rs_logfmt_vars_t;

/* Append f's line for req to out. Loop thread of req. */
void rs_logfmt_render(const rs_logfmt_t *f, const rs_req_t *req, const rs_logfmt_vars_t *v, rs_buf_t *out);


#endif
