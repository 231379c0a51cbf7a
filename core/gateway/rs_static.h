/* core/gateway/rs_static.h — the static action: files under a root, served the way
 * nginx serves them.
 *
 *   ssr.static("/assets/", { root = "dist/client", max_age = 31536000 })
 *   -- or, as a route of any path (a prefix ends in '*'):
 *   ssr.route("GET", PATH, { static = { root = "dist/client",
 *             index = "index.html", max_age = 3600, etag = true } })
 *
 * The request path after the route's prefix (the whole path for an exact
 * route) is percent-decoded, split on '/', and each segment opened with
 * openat(O_NOFOLLOW) from the root: no "..", no symlink below the root, no
 * NUL, control byte or backslash ever reaches the file system. Answers carry
 * Content-Type (by extension), Last-Modified, ETag ("mtime-size" in hex, as
 * nginx), Accept-Ranges and, with max_age, Cache-Control; If-None-Match and
 * If-Modified-Since give 304; one byte range gives 206 (If-Range honoured),
 * an unsatisfiable one 416. With precompressed (the default), FILE.br or
 * FILE.gz is sent instead of FILE to a client that takes that coding, when
 * it exists and is not older (nginx's gzip_static; never for a Range
 * request); other bodies of a compressible type are coded on the fly by
 * the compression filter (core/http/rs_compress.h).
 *
 * Everything runs on the loop thread, synchronously: open, fstat and, for
 * files up to RS_STATIC_READ_MAX, one read into memory (answers batch with
 * pipelined neighbours). Larger bodies go out with sendfile(2) from the open
 * fd (rs_resp_t.file_*), a slice per loop turn, when the socket is writable.
 * On local disk and the page cache these calls take microseconds; a cold
 * file on a slow disk blocks the loop for its read, as it does nginx without
 * aio. */
#ifndef RS_STATIC_H
#define RS_STATIC_H

#include "rs_conn.h"
#include "rs_router.h"

/* Bodies up to this many bytes are read and sent from memory; larger ones
 * with sendfile(2). */
#define RS_STATIC_READ_MAX (64 * 1024)
/* ... and up to this when the compression filter codes it (it needs the
 * bytes; a larger file goes out as it is, or as its precompressed sibling). */
#define RS_STATIC_COMPRESS_MAX (1024 * 1024)

/* Answer req, a GET or HEAD matched to route (RS_ACTION_STATIC), at once,
 * with the file under route->files.root that its path names. Statuses:
 * 200, 206, 301 (a folder without its '/'), 304, 400 (a path that tries to
 * leave the root: "..", NUL, control bytes, backslash, broken %-escapes), 403
 * (permission denied), 404 (missing, a symlink, not a regular file, no
 * index), 416, 500 (any other error, logged). Loop thread. */
void rs_static_request(rs_req_t *req, const rs_route_t *route);

#endif
