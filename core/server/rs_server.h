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
 * loop's generation when it is dispatched (req->gen) and drops it when it is
 * freed, so requests in flight finish on what they started with. A loop's
 * share of a generation it no longer uses is closed on that loop when its
 * count reaches 0 (loop-local: no atomics on the request path); the main
 * thread frees the generation once every loop closed its share and its pool
 * has no job in flight. */
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
typedef struct rs_gen_s rs_gen_t;

/* A handler takes a parsed request and, now or later on the same loop,
 * answers it with rs_req_respond. */
typedef void (*rs_handler_fn)(rs_req_t *req);

/* Why accept(2) failed: the fd limits and kernel memory pause accepting on
 * the loop (RS_ACCEPT_PAUSE_MS); anything else is counted and logged. */
#define RS_ACCEPT_ERRORS(X) \
  X(EMFILE, "emfile")       \
  X(ENFILE, "enfile")       \
  X(NOMEM, "nomem")         \
  X(OTHER, "other")
typedef enum {
#define RS__X(e, s) RS_ACCEPT_E_##e,
  RS_ACCEPT_ERRORS(RS__X)
#undef RS__X
  RS_ACCEPT_E_MAX
} rs_accept_error_t;

/* How long a loop stops accepting after accept(2) ran out of descriptors
 * or memory (nginx's 500 ms), and the least time between two log lines
 * about it. */
#define RS_ACCEPT_PAUSE_MS 500

/* A loop whose last turn is older than this is reported by the admin
 * /health (503): an idle loop turns once a second (its tick), and the
 * default hook budget (lua.hook_timeout_ms, 1 s) ends a stuck hook before. */
#define RS_LOOP_STALL_MS 3000
/* How long after the drain deadline a loop that has not stopped is given
 * before the process exits without it. */
#define RS_SHUTDOWN_MARGIN_MS 1000
#define RS_ACCEPT_LOG_MS 5000

/* Counters of one loop, written only by that loop's thread, summed on
 * scrape. Aligned so two loops never share a cache line. */
typedef struct {
  uint64_t requests[6];          /* by status class: [1]=1xx .. [5]=5xx */
  uint64_t conns_opened;
  uint64_t conns_closed;
  uint64_t bytes_in;
  uint64_t bytes_out;
  uint64_t req_errors[RS_REQ_E_MAX];
  uint64_t accept_errors[RS_ACCEPT_E_MAX]; /* accept(2) failures, by rs_accept_error_t */
} __attribute__((aligned(RS_CACHELINE))) rs_loop_counters_t;

/* One loop's share of a configuration generation: what requests dispatched
 * on that loop under it use. Created by the main thread, opened (Lua state)
 * and closed on its loop; refs and retired are the loop's only. */
typedef struct rs_loop_gen_s {
  rs_gen_t *gen;
  rs_loop_t *loop;
  const rs_config_t *cfg;
  rs_pool_t *pool;               /* NULL without a bundle */
  const struct rs_router_s *const *routers; /* per listener of the process */
  struct rs_lhooks_s *lua;       /* this loop's Lua state, when a route has hooks */
  struct rs_upstreams_s *upstreams; /* this loop's upstream runtime (rs_upstream.h);
                                    requests keep the one they started with */
  size_t refs;                   /* requests dispatched under it, not yet freed */
  bool retired;                  /* the loop has switched to a newer one */
  int state;                     /* atomic, main reads: RS_LOOP_GEN_* */
  rs_task_t task;                /* switch to it, then close it */
  bool _close_posted;            /* task is in the loop's inbox */
  struct rs_loop_gen_s *_next;   /* the loop's open shares */
} __attribute__((aligned(RS_CACHELINE))) rs_loop_gen_t;

enum { RS_LOOP_GEN_PENDING = 0, RS_LOOP_GEN_ACTIVE, RS_LOOP_GEN_FAILED, RS_LOOP_GEN_CLOSED };

/* A share whose last reference went while it was retired: close it. Loop
 * thread (rs_loop_gen_unref calls it). */
void rs_loop_gen_last(rs_loop_gen_t *lg);

/* Take / drop a reference on the loop's generation. Loop thread. */
static inline void rs_loop_gen_ref(rs_loop_gen_t *lg) { lg->refs++; }
static inline void rs_loop_gen_unref(rs_loop_gen_t *lg) {
  if (--lg->refs == 0 && lg->retired) rs_loop_gen_last(lg);
}

/* One listening socket of a loop. It is polled, not a uv_tcp_t: libuv's
 * listener has no way to stop watching, and its reserve-fd trick closes
 * waiting connections when out of descriptors; here accept(2) is ours, and
 * an accept pause only stops the poll (see rs_server.c). */
typedef struct {
  uv_poll_t poll;
  rs_loop_t *loop;
  int server;                    /* 0 = listen, 1 + k = servers[k] */
  int fd;                        /* the listening socket; -1 once closed */
  bool open;                     /* poll initialised (closed on unlisten) */
  bool paused;                   /* poll stopped for an accept pause */
} rs_listener_t;

struct rs_loop_s {
  uv_loop_t uv;
  int index;                     /* 0 = main/admin loop, 1..N = workers */
  rs_server_t *server;
  const rs_config_t *cfg;        /* the current generation's (loop->gen->cfg) */
  rs_handler_fn handler;
  /* Asked when a request's headers are complete and a body follows: true
   * = dispatch it now and stream the body to the handler (proxy routes);
   * NULL or false = read the body whole first (limits.body). */
  bool (*streams_body)(const rs_req_t *req);
  rs_listener_t *lsn;            /* one per listener */
  int nlsn;
  uv_async_t wake;               /* main → loop: drain or force-close */
  uv_timer_t tick;               /* once a second: Date, access-log flush */
  uv_timer_t accept_timer;       /* ends an accept pause (RS_ACCEPT_PAUSE_MS) */
  uv_check_t turn;               /* after each turn of the loop: heartbeat */
  bool accept_paused;
  uint64_t accept_refused;       /* failures since the last log line about them */
  uint64_t accept_logged_ms;     /* when that line was written */
  uint64_t accept_pauses;        /* pauses since accepting last worked */
  /* Written by this loop after each turn (and by its tick), read by the
   * admin /health and the Lua watchdog: relaxed, a stale value only delays
   * a report by a turn. */
  uint64_t heartbeat_ms __attribute__((aligned(RS_CACHELINE)));
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

  rs_loop_gen_t *gen;            /* the current generation's share (NULL on loop 0) */
  rs_loop_gen_t *gens;           /* every share this loop opened and not closed */
  rs_pool_t *pool;               /* the render pool, NULL without a bundle (current) */
  struct rs_cache_s *cache;      /* L2, shared; NULL when caching is off */
  struct rs_l1_s *l1;            /* this loop's L1 */
  struct rs_page_counters_s *page; /* this loop's cache counters (rs_page.h) */
  struct rs_lhooks_s *lua;       /* this loop's Lua state, when a route has hooks (current) */
  struct rs_upstreams_s *upstreams; /* upstream runtime (rs_upstream.h) (current): a
                                    request or fetch keeps the one it started with */
  bool start_failed;
  rs_inbox_t inbox;              /* work handed to this loop by other threads */
  size_t pending_jobs;           /* submitted, not yet back */

  rs_loop_counters_t counters;
};

struct rs_server_s {
  rs_config_t *cfg;              /* the current generation's (main thread) */
  int nloops;
  rs_loop_t **loops;             /* worker loops, index 1..N in loops[0..N-1] */
  rs_loop_t admin;               /* the main thread's loop */
  struct rs_cache_s *cache;
  uv_timer_t sweep;              /* housekeeping: expired pages, once a second */
  uv_signal_t signals[5];        /* TERM, INT, QUIT, HUP, USR1 (rs_server.c) */
  uv_timer_t deadline;
  uv_timer_t hard_deadline;      /* RS_SHUTDOWN_MARGIN_MS past it: _exit */
  uv_mutex_t wake_lock;          /* orders wake-ups against a loop's close */
  uv_async_t loop_done;          /* a loop thread finished its drain */
  int loops_done;
  uv_barrier_t barrier;
  int port;                      /* the port actually bound (after port 0) */
  int admin_port;
  int nlisteners;                /* 1 + the servers at start (fixed until restart) */
  char **lsn_names;              /* per listener: NULL for listen, else the server's name */
  rs_addr_t *lsn_addrs;          /* per listener, the port as bound */

  rs_gen_t *gen;                 /* current (main thread) */
  rs_gen_t *retired;             /* replaced, not yet freed */
  rs_gen_t *applying;            /* posted to the loops, not yet switched by all */
  bool reload_queued;            /* a SIGHUP came while one was being applied */
  uint64_t reloads_ok, reloads_failed;
  unsigned gen_seq;
  uv_timer_t gen_timer;          /* watches reloads being applied and retired generations */
  bool gen_timer_on;
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
 * SIGTERM/SIGINT drain completes; SIGHUP reloads meanwhile (see the top of
 * this file). cfg stays the caller's: the server never frees it, even once a
 * reload replaced it. Returns the process exit code (0 after a clean drain)
 * or a negative errno when start-up failed (logged). */
int rs_server_run(rs_config_t *cfg);

/* Create one TCP listening socket with SO_REUSEPORT (and SO_REUSEADDR) set
 * before bind; returns the fd or -errno. *port_out gets the bound port. */
int rs_server_listen_socket(const rs_addr_t *addr, int backlog, bool reuseport, int *port_out);

#endif
