/* core/base/rs_http.h — HTTP vocabulary shared by the front end and the modules
 * that answer requests: status codes, reasons, the errors a request can
 * fail with, error pages and the Date header. */
#ifndef RS_HTTP_H
#define RS_HTTP_H

#include "rs_common.h"
#include "rs_loop.h"
#include <string.h>
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

/* Method bits (a route matches any method in its mask, rs_router.h;
 * rs_req_t.method_bit). */
#define RS_METHOD_MAP(XX) \
  XX(GET, 0)              \
  XX(HEAD, 1)             \
  XX(POST, 2)             \
  XX(PUT, 3)              \
  XX(DELETE, 4)           \
  XX(PATCH, 5)            \
  XX(OPTIONS, 6)          \
  XX(PURGE, 7)

enum {
#define XX(name, bit) RS_M_##name = 1u << (bit),
  RS_METHOD_MAP(XX)
#undef XX
  RS_M_ANY = 0xffu
};

/* Bit for a method name (case-sensitive, as HTTP methods are); 0 if unknown. */
unsigned rs_method_bit(const char *name, size_t len);

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
  XX(BAD_HOST, 400, "invalid_host")                                     \
  XX(BAD_TARGET, 400, "invalid_target")                                 \
  XX(TE_HTTP10, 400, "transfer_encoding_in_http10")                     \
  XX(CHUNK_EXT, 400, "chunk_extensions_too_long")                       \
  XX(HEADER_TIMEOUT, 408, "header_timeout")                             \
  XX(BODY_TIMEOUT, 408, "body_timeout")

typedef enum {
  RS_REQ_OK = 0,
#define XX(name, status, label) RS_REQ_E_##name,
  RS_REQ_ERROR_MAP(XX)
#undef XX
  RS_REQ_E_MAX
} rs_req_error_t;
/* A loop counts them by value (core/base/rs_loop.h). */
_Static_assert(RS_REQ_E_MAX <= RS_LOOP_REQ_ERRORS_MAX, "RS_LOOP_REQ_ERRORS_MAX too small");

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
_Static_assert(RS_HTTP_DATE_LINE_MAX <= RS_LOOP_DATE_MAX, "a loop's Date line too small");
size_t rs_http_date_line(char *buf, time_t t);

/* ------------------------------------------------------------------ framing
 *
 * A byte-level check of HTTP/1 framing (RFC 9112), run over the bytes before
 * llhttp sees them, because llhttp 8.1 (non-strict, the only build that takes
 * raw UTF-8 in targets) is lenient where leniency splits requests: a CR
 * followed by any byte ends a line, a bare LF ends a line, any two bytes end a
 * chunk's data. The check knows lines, not grammar: llhttp still parses.
 *
 * Head (rs_http_scan_head): optional empty lines (CRLF, at most 8), a start
 * line of SP, VCHAR and obs-text (no HT, no other control byte), then header
 * lines: name = 1*tchar, ':', value of VCHAR / obs-text / SP / HT; every line
 * ends in CRLF, and the empty line CRLF ends the head. Refused: a bare LF or
 * a CR not followed by LF anywhere, a line starting with SP/HT (obs-fold), an
 * empty name, anything but a tchar before the colon (whitespace included),
 * a control byte in a value.
 *
 * Chunked body (rs_http_scan_chunked): chunk-size (hex) [;extensions] CRLF,
 * data, CRLF, ..., "0" CRLF, trailer lines as header lines, CRLF. A size line
 * is at most RS_HTTP_CHUNK_LINE_MAX bytes (Node's bound on extensions). */
#define RS_HTTP_CHUNK_LINE_MAX (16 * 1024)

typedef enum {
  RS_HTTP_SCAN_MORE = 0,         /* all n bytes are fine; the section goes on */
  RS_HTTP_SCAN_DONE = 1,         /* the section ended after *used bytes */
  RS_HTTP_SCAN_BAD = -1,         /* bad framing at byte *used: s->why says what */
  RS_HTTP_SCAN_FOLD = -2,        /* obs-fold (a line starting with SP or HT) */
  RS_HTTP_SCAN_LONG = -3,        /* a chunk-size line over RS_HTTP_CHUNK_LINE_MAX */
} rs_http_scan_rc;

typedef struct {
  uint8_t state;
  uint8_t empties;               /* empty lines before the start line */
  bool trailers;                 /* header lines are a chunked body's trailers */
  bool digits;                   /* the chunk size has a digit */
  uint32_t line;                 /* bytes of the current chunk-size line */
  uint64_t left;                 /* chunk data bytes still to pass */
  const char *why;               /* after an error: a short reason (static) */
} rs_http_scan_t;

/* Start checking a head (start line and header section). */
void rs_http_scan_head(rs_http_scan_t *s);
/* Start checking a chunked body, just after its head. */
void rs_http_scan_chunked(rs_http_scan_t *s);
/* Check p[0..n): the state carries over between calls, so the bytes may come
 * in any pieces. Stops at the end of the section (DONE, *used = its length in
 * p) or at the first bad byte. Pure; any thread. */
rs_http_scan_rc rs_http_scan(rs_http_scan_t *s, const char *p, size_t n, size_t *used);

/* ------------------------------------------------------------------ hosts and paths */

/* Check and normalise an authority, "host[:port]" (RFC 3986 §3.2.2; what
 * Host carries, RFC 9110 §7.2): host is a name of RFC 3986 unreserved
 * characters (ALPHA DIGIT - . _ ~; no empty label), or an IPv6 literal in
 * brackets; port is 1 to 5 digits up to 65535, or empty. In place: the name
 * is lower-cased, one trailing dot and an empty port (with its ':') are
 * removed; *len becomes the new length. Returns NULL, or why it is not an
 * authority (static). Refused, as nginx does: empty, whitespace, '/', '\',
 * and (stricter than nginx, since no DNS name holds them) '@', ',', '%' and
 * the other sub-delims. Pure; any thread. */
const char *rs_http_host_normalize(char *p, size_t *len);

/* Normalise a path (origin-form, up to '?') into its canonical form, the
 * one routes match, cache keys hold and hooks and bundles see as req.path:
 * as nginx does before matching locations, %XX is decoded (%2F too: it
 * becomes a '/' like any other), slashes are merged, "." and ".." segments
 * resolved; then the bytes that cannot stand in a path as themselves (WHATWG's
 * path percent-encode set: SP " # < > ? ` { } and bytes >= 0x7f) and '%' are
 * encoded again, in upper-case hex, so that one decoding (the bundle's, the
 * static action's, the upstream's) gives the path back. "/%73ecret%2Fx" and
 * "//a/../secret/./x" are "/secret/x"; "/caf\xc3\xa9" and "/caf%c3%a9" are
 * "/caf%C3%A9"; "/%252e" stays "/%252e". out needs 3n bytes; *out_len is the
 * result's length. Returns NULL, or why the path is refused (static): a
 * malformed %-escape, %00 or any other control byte, decoded or not
 * (stricter than nginx, which refuses only %00: a CR or LF in a path has no
 * use but header injection), a ".." above the root. Pure; any thread. */
const char *rs_http_path_normalize(const char *in, size_t n, char *out, size_t *out_len);

/* Percent-decode src into dst (at least len bytes), '+' as a space when
 * plus is set: query-string names and values (the static action's path
 * decoder is stricter on purpose: core/gateway/rs_static.c). Returns the
 * decoded length. Invalid escapes stay as sent. Any thread. */
size_t rs_url_decode(char *dst, const char *src, size_t len, bool plus);

/* ------------------------------------------------------------------ tokens, values, hop-by-hop */

/* RFC 9110 §5.6.2 tchar: what a token (a header or cookie name, a method) is
 * made of. */
bool rs_http_tchar(unsigned char c);

/* Is s[0..n) a token: n > 0, every byte a tchar? The one check of a header
 * name we send or accept from a config, a hook or a fetch. Any thread. */
bool rs_http_token(const char *s, size_t n);

/* What is wrong with a header value we would send (RFC 9110 §5.5: no CTL
 * but HTAB): CR or LF (it would split the header), then NUL, then any other
 * control byte or DEL; RS_HTTP_VALUE_OK for none. Any thread. */
typedef enum {
  RS_HTTP_VALUE_OK = 0,
  RS_HTTP_VALUE_CRLF,
  RS_HTTP_VALUE_NUL,
  RS_HTTP_VALUE_CTL,
} rs_http_value_t;
rs_http_value_t rs_http_value_check(const char *v, size_t n);

/* Is name (any case) a hop-by-hop header (RFC 9110 §7.6.1: Connection,
 * Keep-Alive, Proxy-Connection, TE, Trailer, Transfer-Encoding, Upgrade),
 * which no proxy passes on, nor a cache keeps, nor a hook or bundle sets?
 * The one list. Any thread. */
bool rs_http_hop_by_hop(const char *name, size_t n);

/* Does one of the nconn Connection header values list name (any case) as
 * a comma-separated token, making it hop-by-hop too? Any thread. */
bool rs_http_conn_lists(const rs_str_t *conn, size_t nconn, const char *name, size_t n);

/* ------------------------------------------------------------------ query strings */

/* One parameter of a query string or a form body, as sent (not decoded):
 * slices of the input. */
typedef struct {
  rs_str_t piece;                /* "name=value" */
  rs_str_t name;                 /* up to the first '=', or the whole piece */
  rs_str_t value;                /* after that '='; empty without one */
  bool has_eq;                   /* "a=" has one (an empty value), "a" none */
} rs_query_param_t;

/* The query-string iterator, the one '&' splitter: the next non-empty
 * '&'-separated piece of q[0..len) at or after *pos (0 to start) into out,
 * *pos moved past it; false at the end. Empty pieces ("a&&b", a trailing
 * '&') are skipped; ';' separates nothing. q may be NULL when len is 0.
 * Pure; any thread. */
static inline bool rs_query_next(const char *q, size_t len, size_t *pos, rs_query_param_t *out) {
  while (*pos < len) {
    const char *s = q + *pos, *end = q + len;
    const char *amp = memchr(s, '&', (size_t)(end - s));
    const char *stop = amp != NULL ? amp : end;
    *pos = (size_t)(stop - q) + (amp != NULL);
    if (stop == s) continue;
    const char *eq = memchr(s, '=', (size_t)(stop - s));
    out->piece = (rs_str_t){ s, (size_t)(stop - s) };
    out->name = (rs_str_t){ s, (size_t)((eq != NULL ? eq : stop) - s) };
    out->value = eq != NULL ? (rs_str_t){ eq + 1, (size_t)(stop - eq - 1) } : (rs_str_t){ stop, 0 };
    out->has_eq = eq != NULL;
    return true;
  }
  return false;
}

#endif
