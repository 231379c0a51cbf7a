/* core/server/rs_admin.h — the admin listener's handler (main thread): GET /health,
 * GET /metrics (Prometheus text), PURGE /path and POST /purge, behind
 * admin.allow (addresses) and admin.token (Bearer, for purges). */
#ifndef RS_ADMIN_H
#define RS_ADMIN_H

#include "rs_conn.h"

/* rs_handler_fn for the admin loop. Main thread. */
void rs_admin_handle(rs_req_t *req);

/* a[0..an) == b[0..bn), in a time that depends only on bn (b is the
 * secret): the token check. Any thread. */
bool rs_admin_token_eq(const char *a, size_t an, const char *b, size_t bn);

#endif
