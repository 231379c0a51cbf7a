/* core/server/rs_server.h — the process: loop threads, their listeners, the main
 * loop (signals, admin listener, housekeeping), reload and graceful
 * shutdown.
 *
 * Threads: the main thread runs rs_server_run; it owns the admin listener
 * and the signal handlers. Each of cfg->workers loop threads owns one libuv
 * loop, one listening socket per listener (`listen`, then each of the
 * config's `servers`) on the shared ports (SO_REUSEPORT) and every
 * connection those sockets accept. Nothing crosses between loops except the
 * wake-ups below and tasks posted to a loop's inbox.
 *
 * Generations (reload, SIGHUP): a configuration, its routes, its render pool
 * and, on each loop, its Lua state (and per-loop upstream runtime) form one
 * generation. The main thread loads a new one and posts it to every loop;
 * each loop switches at its own pace. A request takes a reference on the
 * loop's generation when it is dispatched (rs_req_gen(req)) and drops it
 * when it is freed (its on_free), so requests in flight finish on what they
 * started with. A loop's
 * share of a generation it no longer uses is closed on that loop when its
 * count reaches 0 (loop-local: no atomics on the request path); the main
 * thread frees the generation once every loop closed its share and its pool
 * has no job in flight. */
#ifndef RS_SERVER_H
#define RS_SERVER_H

#include "rs_common.h"
#include "rs_config.h"
#include "rs_loop.h"

/* Bind the listeners (failures come back here, before any thread starts),
 * start the loop threads behind a barrier, then run the main loop until a
 * SIGTERM/SIGINT drain completes; SIGHUP reloads meanwhile (see the top of
 * this file). cfg stays the caller's: the server never frees it, even once a
 * reload replaced it. Returns the process exit code (0 after a clean drain)
 * or a negative errno when start-up failed (logged). */
int rs_server_run(rs_config_t *cfg);

#endif
