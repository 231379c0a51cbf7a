/* core/server/rs_listen.h — a loop's listeners: the listening sockets,
 * made and bound on the main thread at start (so "address in use" is an
 * error at start, not a dead thread), then polled by the loop that owns
 * them; accepting, with nginx's pause when descriptors or kernel memory run
 * out (RS_ACCEPT_PAUSE_MS, rs_server_int.h). Private to core/server/. */
#ifndef RS_LISTEN_H
#define RS_LISTEN_H

#include "rs_server_int.h"

/* Create one TCP listening socket with SO_REUSEPORT (and SO_REUSEADDR) set
 * before bind; returns the fd or -errno. *port_out gets the bound port.
 * Main thread. */
int rs_listen_socket(const rs_addr_t *addr, int backlog, bool reuseport, int *port_out);

/* Poll loop's listeners (loop->lsn, their fds set) and accept from them
 * into new connections (core/http/rs_conn.h). Returns 0 or a libuv error.
 * The loop's thread, before it runs. */
int rs_listen_start(rs_loop_t *loop);

/* Stop accepting: close loop's listeners (their sockets too) and end an
 * accept pause. The loop's thread (a drain). */
void rs_listen_stop(rs_loop_t *loop);

#endif
