/* core/server/rs_reload.h — configuration generations and SIGHUP reload.
 *
 * A generation is one configuration with its routes and render pool, plus,
 * on each loop, a share (rs_loop_gen_t, rs_server.h) holding that loop's
 * Lua state and upstream runtime. The server makes the first one at start;
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

#include "rs_pool.h"
#include "rs_server_int.h"

/* A generation for cfg and pool (NULL without a bundle), with a share per
 * loop of srv (srv->loops must exist), each PENDING. owns: cfg is freed
 * with the generation (reloads); the first one is main()'s. Main thread. */
rs_gen_t *rs_gen_new(rs_server_t *srv, rs_config_t *cfg, bool owns, rs_pool_t *pool);

/* Destroy the pool, then free the routers, the config when owned, and gen.
 * NULL is a no-op. Main thread, when unused or after the loops stopped. */
void rs_gen_free(rs_gen_t *gen);

/* A share whose last reference went while it was retired: close it. Loop
 * thread (rs_loop_gen_unref calls it through lg->last). */
void rs_loop_gen_last(rs_loop_gen_t *lg);

/* Loop i's share of gen (i from 0: srv->loops[i]). */
rs_loop_gen_t *rs_gen_share(rs_gen_t *gen, int i);

/* Free every generation (being applied, retired, current). Main thread,
 * after the loops stopped. */
void rs_reload_free_all(rs_server_t *srv);

/* The generation's render pool (NULL without a bundle). */
rs_pool_t *rs_gen_pool(const rs_gen_t *gen);

/* The HTTP layer's options of gen's configuration (core/http/rs_conn.h):
 * the admin loop's, which takes no share. */
const struct rs_http_opts_s *rs_gen_http(const rs_gen_t *gen);

/* Make lg the loop's current share (loop->gen, cfg, http, pool, lua, upstreams).
 * The loop's thread, or before it runs. */
void rs_loop_gen_use(rs_loop_t *loop, rs_loop_gen_t *lg);

/* Open a share on its loop: the Lua state when a route has hooks, the
 * upstream runtime. Returns 0, or -1 with err set (nothing left open).
 * The loop's thread. */
int rs_loop_gen_open(rs_loop_gen_t *lg, char *err, size_t errlen);

/* Close a share: its Lua state and upstream runtime go; the main thread
 * may free the generation once every share is closed. The loop's thread,
 * with no request using it (or after the loop stopped). */
void rs_loop_gen_close(rs_loop_gen_t *lg);

/* Close the loop's retired shares that only an upstream exchange kept
 * open. The loop's thread (its once-a-second tick). */
void rs_loop_gens_sweep(rs_loop_t *loop);

/* SIGHUP: load, check and post a new generation to every loop (see the
 * top); ignored during a drain, queued behind one being applied. Main
 * thread. */
void rs_reload(rs_server_t *srv);

/* Generations alive: current, being applied, retired not yet freed. */
int rs_reload_gen_count(const rs_server_t *srv);

/* Shutdown forced: rs_pool_abort on every generation's pool. */
void rs_reload_abort_pools(rs_server_t *srv);

#endif
