/* core/rs_render.h — the `render` action: a request goes to the render
 * pool (core/rs_pool.h) and its answer comes back to the same loop.
 *
 * The job borrows the request's own bytes (url, path, headers): the request
 * stays alive until it is answered, even when its client has gone, so
 * nothing but the decoded query is copied. */
#ifndef RS_RENDER_H
#define RS_RENDER_H

#include "rs_conn.h"
#include "rs_pool.h"
#include "rs_router.h"

/* Answer req by rendering it. Loop thread; loop->pool must be set. */
void rs_render_request(rs_req_t *req, const rs_route_t *route);

/* Percent-decode src into dst (at least len bytes), '+' as a space when
 * plus is set. Returns the decoded length. Invalid escapes stay as sent. */
size_t rs_url_decode(char *dst, const char *src, size_t len, bool plus);

#endif
