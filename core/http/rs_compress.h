/* core/http/rs_compress.h — the output filter that compresses answers on the
 * fly (nginx's gzip filter module, with brotli): gzip or br as the client's
 * Accept-Encoding prefers, for the types and lengths of the request's
 * options (rs_compress_opts_t, core/base/rs_coding.h).
 *
 * The response writer (core/http/rs_conn.c) calls it: rs_req_respond for an
 * answer whose body is in memory, rs_req_stream_start/_write/_end for a
 * streamed one (compressed as it streams, sent chunked). A request is
 * filtered only when its owner set req->compress (the dispatcher does, from
 * the config; a stored page's answer clears it: its variants are built by
 * the cache). What is never compressed: an answer that already has a
 * Content-Encoding, a 206 or any answer to a request with Range, a
 * Content-Range, 1xx/204/304, Cache-Control: no-transform, a type outside
 * the list (text/html is always in it), a body known to be shorter than
 * min_length, a file body (sendfile). An answer that could be compressed
 * carries "Vary: Accept-Encoding" whatever the client accepts; a
 * compressed one gets Content-Encoding, its strong ETag made weak (W/), and
 * a Content-Length of the compressed bytes (in memory) or none (streamed).
 * HEAD gets the headers GET would.
 *
 * Loop thread only; whatever it allocates belongs to the request and goes
 * with it (rs_compress_req_free). */
#ifndef RS_COMPRESS_H
#define RS_COMPRESS_H

#include "rs_coding.h"
#include "rs_conn.h"

/* Would an answer of type ctype (a Content-Type value) and length clen
 * (-1: unknown) to req be compressed? For a handler that must choose how
 * to produce its body (a static file read into memory rather than sent
 * with sendfile). Pure. */
bool rs_compress_wanted(const rs_req_t *req, const char *ctype, size_t ctype_len, int64_t clen);

/* The in-memory filter: rs_req_respond's first step when req->compress is
 * set. Rewrites *resp: headers (extra merged into them) and body replaced
 * by buffers the request owns; resp->release is kept and still runs when
 * the request is freed. Leaves *resp alone when nothing applies. */
void rs_compress_respond(rs_req_t *req, rs_resp_t *resp);

/* The streamed filter, from rs_req_stream_start: may replace *headers
 * (owned by req) and set *content_length to -1; the body written after it
 * must then go through rs_compress_stream. Returns true when it does. */
bool rs_compress_stream_start(rs_req_t *req, int status, const char **headers, size_t *headers_len,
                              int64_t *content_length);

/* Compress n bytes of a filtered stream (finish: then end the coded
 * stream). out and out_len: the bytes to send, possibly none, valid until the
 * next call. Returns 0, or -ENOMEM/-EIO: the body cannot go on (end it
 * incomplete). */
int rs_compress_stream(rs_req_t *req, const char *p, size_t n, bool finish, const char **out,
                       size_t *out_len);

/* Release what the filter holds for req. The writer calls it when the
 * request is freed. */
void rs_compress_req_free(rs_req_t *req);

#endif
