/* core/rs_http.h — HTTP vocabulary shared by the front end and the modules
 * that answer requests: status codes, reasons, the errors a request can
 * fail with, error pages and the Date header. */
#ifndef RS_HTTP_H
#define RS_HTTP_H

#include "rs_common.h"
#include <time.h>

/* Status codes we send, with their reason phrases (lwan's
 * FOR_EACH_HTTP_STATUS idea: one list yields the table and the lookup). */
#define RS_HTTP_STATUS_MAP(XX)                         \
  XX(100, "Continue")                                  \
  XX(101, "Switching Protocols")                       \
  XX(200, "OK")                                        \
  XX(201, "Created")                                   \
  XX(202, "Accepted")                                  \
  XX(204, "No Content")                                \
  XX(206, "Partial Content")                           \
  XX(301, "Moved Permanently")                         \
  XX(302, "Found")                                     \
  XX(303, "See Other")                                 \
  XX(304, "Not Modified")                              \
  XX(307, "Temporary Redirect")                        \
  XX(308, "Permanent Redirect")                        \
  XX(400, "Bad Request")                               \
  XX(401, "Unauthorized")                              \
  XX(403, "Forbidden")                                 \
  XX(404, "Not Found")                                 \
  XX(405, "Method Not Allowed")                        \
  XX(408, "Request Timeout")                           \
  XX(409, "Conflict")                                  \
  XX(410, "Gone")                                      \
  XX(411, "Length Required")                           \
  XX(412, "Precondition Failed")                       \
  XX(413, "Content Too Large")                         \
  XX(414, "URI Too Long")                              \
  XX(415, "Unsupported Media Type")                    \
  XX(416, "Range Not Satisfiable")                     \
  XX(417, "Expectation Failed")                        \
  XX(429, "Too Many Requests")                         \
  XX(431, "Request Header Fields Too Large")           \
  XX(500, "Internal Server Error")                     \
  XX(501, "Not Implemented")                           \
  XX(502, "Bad Gateway")                               \
  XX(503, "Service Unavailable")                       \
  XX(504, "Gateway Timeout")                           \
  XX(505, "HTTP Version Not Supported")

/* The reason phrase for a status; "Unknown" for one not in the map. */
const char *rs_http_reason(int status);

/* Why a request was refused before it reached a handler. Each kind has its
 * status and a metric label (rustyssr_parse_errors_total{kind=...}). */
#define RS_REQ_ERROR_MAP(XX)                                            \
  XX(BAD_REQUEST, 400, "bad_request")                                   \
  XX(BAD_CHAR, 400, "invalid_character")                                \
  XX(OBS_FOLD, 400, "obs_fold")                                         \
  XX(CL_AND_TE, 400, "content_length_and_transfer_encoding")            \
  XX(DUP_CL, 400, "duplicate_content_length")                           \
  XX(URL_TOO_LONG, 414, "url_too_long")                                 \
  XX(HEADERS_TOO_LARGE, 431, "headers_too_large")                       \
  XX(TOO_MANY_HEADERS, 431, "too_many_headers")                         \
  XX(BODY_TOO_LARGE, 413, "body_too_large")                             \
  XX(UNSUPPORTED_TE, 501, "unsupported_transfer_encoding")              \
  XX(BAD_VERSION, 505, "unsupported_version")                           \
  XX(EXPECTATION, 417, "expectation_failed")                            \
  XX(HEADER_TIMEOUT, 408, "header_timeout")                             \
  XX(BODY_TIMEOUT, 408, "body_timeout")

typedef enum {
  RS_REQ_OK = 0,
#define XX(name, status, label) RS_REQ_E_##name,
  RS_REQ_ERROR_MAP(XX)
#undef XX
  RS_REQ_E_MAX
} rs_req_error_t;

int rs_req_error_status(rs_req_error_t e);
const char *rs_req_error_label(rs_req_error_t e);

/* A small HTML page for a 3xx, 4xx or 5xx status (nginx's shape), built once.
 * Static storage; any thread after rs_http_init. */
rs_str_t rs_http_error_page(int status);

/* Build the tables above. Main thread, once, before threads start. */
void rs_http_init(void);

/* Does the If-None-Match value inm hold etag ("*" holds anything; a NULL
 * etag only that)? Weak comparison (RFC 9110 §13.1.2): W/ is ignored. Pure;
 * any thread. */
bool rs_http_etag_match(const rs_str_t *inm, const char *etag, size_t etag_len);

/* Format "Date: Tue, 24 Nov 2026 01:02:03 GMT\r\n" for t into buf (at least
 * RS_HTTP_DATE_LINE_MAX bytes). Returns the length. */
#define RS_HTTP_DATE_LINE_MAX 48
size_t rs_http_date_line(char *buf, time_t t);

#endif
