/* core/rs_admin.h — the admin listener's handler (main thread): GET /health,
 * GET /metrics (Prometheus text), and later purge. */
#ifndef RS_ADMIN_H
#define RS_ADMIN_H

#include "rs_conn.h"

/* rs_handler_fn for the admin loop. Main thread. */
void rs_admin_handle(rs_req_t *req);

#endif
