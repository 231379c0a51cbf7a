/* core/rs_server.h — the process: loop threads, their listeners, the main
 * loop (signals, admin listener, housekeeping) and graceful shutdown.
 *
 * Threads: the main thread runs rs_server_run; it owns the admin listener
 * and the signal handlers. Each of cfg->workers loop threads owns one libuv
 * loop, one listening socket on the shared port (SO_REUSEPORT) and every
 * connection that socket accepts. Nothing crosses between loops except the
 * wake-ups below. */
#ifndef RS_SERVER_H
#define RS_SERVER_H

#include "rs_common.h"
#include "rs_config.h"
#include "rs_http.h"
#include "rs_pool.h"

#include <uv.h>

typedef struct rs_req_s rs_req_t;
typedef struct rs_conn_s rs_conn_t;
typedef struct rs_loop_s rs_loop_t;
typedef struct rs_server_s rs_server_t;

/* A handler takes a parsed request and, now or later on the same loop,
 * answers it with rs_req_respond. */
typedef void (*rs_handler_fn)(rs_req_t *req);

/* Counters of one loop, written only by that loop's thread, summed on
 * scrape. Aligned so two loops never share a cache line. */
typedef struct {
  uint64_t requests[6];          /* by status class: [1]=1xx .. [5]=5xx */
  uint64_t conns_opened;
  uint64_t conns_closed;
  uint64_t bytes_in;
  uint64_t bytes_out;
  uint64_t req_errors[RS_REQ_E_MAX];
} __attribute__((aligned(RS_CACHELINE))) rs_loop_counters_t;

struct rs_loop_s {
  uv_loop_t uv;
  int index;                     /* 0 = main/admin loop, 1..N = workers */
  rs_server_t *server;
  const rs_config_t *cfg;
  rs_handler_fn handler;
  uv_tcp_t listener;
  int listen_fd;
  uv_async_t wake;               /* main → loop: drain or force-close */
  uv_timer_t tick;               /* once a second: Date, access-log flush */
  uv_thread_t thread;

  char date[RS_HTTP_DATE_LINE_MAX]; /* "Date: ...\r\n", updated each second */
  size_t date_len;
  char log_time[32];             /* "24/Nov/2026:01:02:03 +0000" for access lines */
  time_t now_unix;               /* wall clock, refreshed by the tick (Age) */
  uint64_t now_ms;               /* monotonic, refreshed by the tick and reads */
  uint64_t req_seq;
  rs_conn_t *conns;              /* every open connection (intrusive list) */
  size_t nconns;
  rs_req_t *free_reqs;           /* recycled request structs */
  size_t nfree_reqs;
  rs_buf_t access;               /* access-log lines not yet written */
  bool listening;
  bool draining;                 /* stop accepting, finish what is in flight */
  int drain_seen;                /* last drain generation acted on */
  bool closed;

  rs_pool_t *pool;               /* the render pool, NULL without a bundle */
  struct rs_cache_s *cache;      /* L2, shared; NULL when caching is off */
  struct rs_l1_s *l1;            /* this loop's L1 */
  struct rs_page_counters_s *page; /* this loop's cache counters (rs_page.h) */
  struct rs_lhooks_s *lua;       /* this loop's Lua state, when a route has hooks */
  bool start_failed;
  rs_inbox_t inbox;              /* work handed to this loop by other threads */
  size_t pending_jobs;           /* submitted, not yet back */

  rs_loop_counters_t counters;
};

struct rs_server_s {
  rs_config_t *cfg;
  int nloops;
  rs_loop_t **loops;             /* worker loops, index 1..N in loops[0..N-1] */
  rs_loop_t admin;               /* the main thread's loop */
  rs_pool_t *pool;
  struct rs_cache_s *cache;
  uv_timer_t sweep;              /* housekeeping: expired pages, once a second */
  uv_signal_t sigterm, sigint, sighup;
  uv_timer_t deadline;
  uv_mutex_t wake_lock;          /* orders wake-ups against a loop's close */
  uv_async_t loop_done;          /* a loop thread finished its drain */
  int loops_done;
  uv_barrier_t barrier;
  int port;                      /* the port actually bound (after port 0) */
  int admin_port;
  /* Written by the main thread, read by loops after a wake-up. */
  int drain_gen;                 /* bumped on SIGTERM/SIGINT */
  int force_gen;                 /* bumped when the drain deadline passes */
  bool stopping;
  int exit_code;
};

/* A loop finishing its drain re-checks whether it may stop; call after
 * anything that may have been the last thing it waited for (a connection
 * closed, a render job back). Loop thread. */
void rs_server_loop_maybe_done(rs_loop_t *loop);

/* Bind the listeners (failures come back here, before any thread starts),
 * start the loop threads behind a barrier, then run the main loop until a
 * SIGTERM/SIGINT drain completes. Returns the process exit code (0 after a
 * clean drain) or a negative errno when start-up failed (logged). */
int rs_server_run(rs_config_t *cfg);

/* Create one TCP listening socket with SO_REUSEPORT (and SO_REUSEADDR) set
 * before bind; returns the fd or -errno. *port_out gets the bound port. */
int rs_server_listen_socket(const rs_addr_t *addr, int backlog, bool reuseport, int *port_out);

#endif
