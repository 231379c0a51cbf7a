/* core/server/rs_gen.h — configuration generations: one configuration with
 * its routes and render pool (rs_gen_t), and on each loop a share
 * (rs_loop_gen_t, core/base/rs_loop.h) holding that loop's Lua state and
 * upstream runtime. Made, opened, switched to, closed and freed here;
 * reload (rs_reload.h) decides when. Private to core/server/. Thread of
 * each function as stated. */
#ifndef RS_GEN_H
#define RS_GEN_H

#include "rs_conn.h"
#include "rs_pool.h"
#include "rs_server_int.h"

struct rs_gen_s {                /* its fields: core/server/ only */
  unsigned id;
  rs_config_t *cfg;
  bool owns_cfg;                 /* false for the one main() loaded */
  rs_http_opts_t http;           /* the HTTP layer's view of cfg */
  struct rs_logfmt_s **access_fmt; /* [nlisteners], http.access_fmt (owned) */
  int *access_file;              /* [nlisteners], http.access_file */
  rs_http_listen_t *listen;      /* [nlisteners], http.listen: each one's TLS
                                    context (owned: one reference each) */
  struct rs_gen_tls_rot_s {      /* [nlisteners]: ticket keys' rotation (ms; its
                                    phase goes with the keys, rs_tls.h) */
    uint64_t every;
  } *tls_rot;
  char tls_err[600];             /* a TLS context that could not be made ("" = none):
                                    the generation must not be used */
  rs_pool_t *pool;
  const rs_router_t **routers;   /* per listener of the process, by name */
  rs_router_t *empty;            /* for a listener the config no longer names */
  rs_loop_gen_t *per_loop;       /* [nloops], one cache line each (refs is hot) */
  int nloops;
  rs_gen_t *next;                /* srv->retired */
};

/* A generation for cfg and pool (NULL without a bundle), with a share per
 * loop of srv (srv->loops must exist), each PENDING. owns: cfg is freed
 * with the generation (reloads); the first one is main()'s. Main thread. */
rs_gen_t *rs_gen_new(rs_server_t *srv, rs_config_t *cfg, bool owns, rs_pool_t *pool);

/* New ticket keys for the listeners whose ticket_rotate has passed since
 * their current key began (in this generation or, the keys carried by a
 * reload, an earlier one). Main thread, from a timer (rs_server.c); the
 * loops go on using the contexts meanwhile. */
void rs_gen_tls_tick(rs_gen_t *gen, uint64_t now_ms);

/* Destroy the pool, then free the routers, the config when owned, and gen.
 * NULL is a no-op. Main thread, when unused or after the loops stopped. */
void rs_gen_free(rs_gen_t *gen);

/* A share whose last reference went while it was retired: close it. Loop
 * thread (rs_loop_gen_unref calls it through lg->last). */
void rs_loop_gen_last(rs_loop_gen_t *lg);

/* Loop i's share of gen (i from 0: srv->loops[i]). */
rs_loop_gen_t *rs_gen_share(rs_gen_t *gen, int i);

/* The generation's render pool (NULL without a bundle). */
rs_pool_t *rs_gen_pool(const rs_gen_t *gen);

/* The HTTP layer's options of gen's configuration (core/http/rs_conn.h):
 * the admin loop's, which takes no share. */
const rs_http_opts_t *rs_gen_http(const rs_gen_t *gen);

/* Make lg the loop's current share (loop->gen, cfg, http, pool, upstreams).
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

/* Every loop closed its share (or never took it) and no render job of its
 * pool is in flight. Main thread. */
bool rs_gen_unused(const rs_gen_t *gen);

/* The task the main thread posts to each loop with a new generation (its
 * share's task): open the share, make it current, retire the previous one.
 * The loop's thread. */
void rs_loop_gen_switch(rs_task_t *t);

#endif
