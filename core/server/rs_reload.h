/* core/server/rs_reload.h — configuration generations and SIGHUP reload.
 *
 * A generation (core/server/rs_gen.h) is one configuration with its routes
 * and render pool, plus, on each loop, a share holding that loop's Lua
 * state and upstream runtime. The server makes the first one at start;
 * rs_reload makes the next ones. How they hand over (nginx semantics):
 *
 *   main thread: load the file into a fresh rs_config_t (rs_lconfig_load);
 *     keep the settings that need a restart; make a render pool (the bundle
 *     is read again); any failure → "reload failed, keeping the current
 *     configuration: FILE:LINE: reason", nothing changes.
 *   each loop (a task through its rs_inbox): open its share (Lua state,
 *     upstreams; a failure keeps the previous one on that loop), make it
 *     current, retire the previous share.
 *   requests: take a reference on the loop's current share at dispatch,
 *     drop it when freed (loop-local counts, no atomics); a retired share is
 *     closed on its loop when its count reaches 0 and its upstream runtime
 *     is idle.
 *   main thread, on a timer: "reloaded FILE (N routes, bundle X)" once every
 *     loop has switched; a replaced generation is freed once every loop has
 *     closed its share and its pool has no job in flight.
 *
 * Thread of each function as stated. */
#ifndef RS_RELOAD_H
#define RS_RELOAD_H

#include "rs_server_int.h"

/* Free every generation (being applied, retired, current). Main thread,
 * after the loops stopped. */
void rs_reload_free_all(rs_server_t *srv);

/* SIGHUP: load, check and post a new generation to every loop (see the
 * top); ignored during a drain, queued behind one being applied. Main
 * thread. */
void rs_reload(rs_server_t *srv);

/* Generations alive: current, being applied, retired not yet freed. */
int rs_reload_gen_count(const rs_server_t *srv);

/* Shutdown forced: rs_pool_abort on every generation's pool. */
void rs_reload_abort_pools(rs_server_t *srv);

#endif
