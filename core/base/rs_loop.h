/* core/base/rs_loop.h — a loop thread's state, as every layer that runs on a
 * loop sees it: the libuv loop, its clocks and Date line, its counters, its
 * connections and recycled requests, the configuration generation it
 * currently serves (its share, below) and the per-module state hung on it.
 *
 * The process (core/server/rs_server.h) creates and runs the loops; the
 * modules above base/ only read and update their own fields here. Nothing
 * in this header names a type of a higher layer: those fields are opaque
 * pointers, and each module includes its own header to use them.
 *
 * Every field is the loop thread's own unless its comment says otherwise. */
#ifndef RS_LOOP_H
#define RS_LOOP_H

#include "rs_common.h"
#include "rs_inbox.h"
#include "rs_log.h"

#include <time.h>
#include <uv.h>

typedef struct rs_req_s rs_req_t;
typedef struct rs_conn_s rs_conn_t;
typedef struct rs_loop_s rs_loop_t;
typedef struct rs_server_s rs_server_t;
typedef struct rs_gen_s rs_gen_t;

/* A handler takes a parsed request and, now or later on the same loop,
 * answers it with rs_req_respond (core/http/rs_conn.h). */
typedef void (*rs_handler_fn)(rs_req_t *req);

/* Why accept(2) failed: the fd limits and kernel memory pause accepting on
 * the loop (RS_ACCEPT_PAUSE_MS, core/server/rs_server.h); anything else is
 * counted and logged. */
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

/* Room for the HTTP layer's request errors (RS_REQ_E_MAX, core/http/rs_http.h,
 * checked there at compile time) and its Date line (RS_HTTP_DATE_LINE_MAX):
 * the loop holds them by value, on its own cache lines, without knowing the
 * HTTP vocabulary. */
#define RS_LOOP_REQ_ERRORS_MAX 32
#define RS_LOOP_DATE_MAX 48
#define RS_LOOP_H2_REASONS_MAX 10

/* Counters of one loop, written only by that loop's thread, summed on
 * scrape. Aligned so two loops never share a cache line. */
typedef struct {
  uint64_t requests[6];          /* by status class: [1]=1xx .. [5]=5xx */
  uint64_t conns_opened;
  uint64_t conns_closed;
  uint64_t bytes_in;
  uint64_t bytes_out;
  uint64_t req_errors[RS_LOOP_REQ_ERRORS_MAX]; /* by rs_req_error_t */
  uint64_t accept_errors[RS_ACCEPT_E_MAX]; /* accept(2) failures, by rs_accept_error_t */
  uint64_t compressed[3];        /* answers coded on the fly, by rs_encoding_t
                                    (core/http/rs_compress.c; [0] unused) */
  uint64_t compress_in, compress_out; /* their bytes before and after */
  /* HTTP/2 (core/http/rs_h2.c): connections, streams, RST_STREAMs and
   * GOAWAYs by reason (rs_h2_reset_t, rs_h2_goaway_t in core/http/rs_conn.h) */
  uint64_t h2_conns, h2_streams;
  uint64_t h2_resets[RS_LOOP_H2_REASONS_MAX];
  uint64_t h2_goaways[RS_LOOP_H2_REASONS_MAX];
} __attribute__((aligned(RS_CACHELINE))) rs_loop_counters_t;

/* One loop's share of a configuration generation: what requests dispatched
 * on that loop under it use. Created by the main thread
 * (core/server/rs_reload.c), opened (Lua state) and closed on its loop; refs
 * and retired are the loop's only. */
typedef struct rs_loop_gen_s {
  rs_gen_t *gen;
  rs_loop_t *loop;
  const struct rs_config_s *cfg;
  const struct rs_http_opts_s *http; /* the HTTP layer's options (core/http/rs_conn.h) */
  struct rs_pool_s *pool;        /* NULL without a bundle */
  const struct rs_router_s *const *routers; /* per listener of the process */
  struct rs_lhooks_s *lua;       /* this loop's Lua state, when a route has hooks */
  struct rs_upstreams_s *upstreams; /* this loop's upstream runtime (rs_upstream.h);
                                    requests keep the one they started with */
  size_t refs;                   /* requests dispatched under it, not yet freed */
  bool retired;                  /* the loop has switched to a newer one */
  int state;                     /* atomic, main reads: RS_LOOP_GEN_* */
  /* Called on the loop when the last reference of a retired share goes:
   * closes it (the process's rs_loop_gen_last). */
  void (*last)(struct rs_loop_gen_s *lg);
  rs_task_t task;                /* switch to it, then close it */
  bool _close_posted;            /* task is in the loop's inbox */
  struct rs_loop_gen_s *_next;   /* the loop's open shares */
} __attribute__((aligned(RS_CACHELINE))) rs_loop_gen_t;

enum { RS_LOOP_GEN_PENDING = 0, RS_LOOP_GEN_ACTIVE, RS_LOOP_GEN_FAILED, RS_LOOP_GEN_CLOSED };

/* Take / drop a reference on the loop's generation. Loop thread. */
static inline void rs_loop_gen_ref(rs_loop_gen_t *lg) { lg->refs++; }
static inline void rs_loop_gen_unref(rs_loop_gen_t *lg) {
  if (--lg->refs == 0 && lg->retired) lg->last(lg);
}

/* Per-loop module slots (loop->slots): room for this many modules. */
#define RS_LOOP_SLOTS 8

/* A new index in every loop's slots for a module's per-loop state, from
 * 0; aborts past RS_LOOP_SLOTS (a table of the source, not of the config).
 * Any thread (a module takes it once, e.g. under uv_once); the slots
 * themselves are each loop's own. */
int rs_loop_slot_new(void);

/* The indexes of a request's per-module state (rs_req_t.ctx, nginx's
 * r->ctx[module.ctx_index]): one per module that attaches state to a
 * request, each read through its module's accessor. */
typedef enum {
  RS_REQ_CTX_GEN,                /* rs_loop_gen_t *: the generation it was dispatched under */
  RS_REQ_CTX_ROUTE,              /* rs_route_match_t *: its route and :params, once matched
                                    (rs_dispatch.c; the type: core/conf/rs_router.h) */
  RS_REQ_CTX_LIMIT,              /* the limit_conn slot it holds (core/gateway/rs_ratelimit.c) */
  RS_REQ_CTX_T0,                 /* its dispatch time, microseconds (core/gateway/rs_reqstats.c) */
  RS_REQ_CTX_MAX
} rs_req_ctx_t;

/* The configuration generation share a request was dispatched under
 * (core/gateway/rs_dispatch.c sets it, holds a reference and drops it when
 * the request is freed): its routes, Lua state and render pool outlive the
 * request, even across a reload. NULL before dispatch. */
#define rs_req_gen(req) ((rs_loop_gen_t *)(req)->ctx[RS_REQ_CTX_GEN])

/* The request's route and :params as the dispatcher matched them
 * (const rs_route_match_t *, core/conf/rs_router.h), in the request's pool;
 * NULL before dispatch. */
#define rs_req_match(req) ((const struct rs_route_match_s *)(req)->ctx[RS_REQ_CTX_ROUTE])

struct rs_loop_s {
  uv_loop_t uv;
  int index;                     /* 0 = main/admin loop, 1..N = workers */
  rs_server_t *server;
  const struct rs_config_s *cfg; /* the current generation's (loop->gen->cfg) */
  const struct rs_http_opts_s *http; /* its HTTP layer options (core/http/rs_conn.h), which
                                    the HTTP layer reads instead of cfg */
  rs_handler_fn handler;
  /* Called when a request's headers are complete and a body follows (may
   * be NULL): it sets req->stream_body to have the request dispatched now,
   * its body streamed to the handler (proxy routes); otherwise the body is
   * read whole first (limits.body), then the request dispatched. */
  rs_handler_fn on_head;
  struct rs_listener_s *lsn;     /* one per listener (core/server/rs_server.h) */
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

  char date[RS_LOOP_DATE_MAX];   /* "Date: ...\r\n", updated each second */
  size_t date_len;
  char log_time[32];             /* "24/Nov/2026:01:02:03 +0000" for access lines */
  time_t now_unix;               /* wall clock, refreshed by the tick (Age) */
  uint64_t now_ms;               /* monotonic, refreshed by the tick and reads */
  uint64_t req_seq;
  rs_conn_t *conns;              /* every open connection (intrusive list) */
  size_t nconns;
  rs_req_t *free_reqs;           /* recycled request structs */
  size_t nfree_reqs;
  rs_buf_t access[RS_LOG_ACCESS_FILES]; /* access-log lines not yet written, by file (rs_log.h) */
  bool listening;
  bool draining;                 /* stop accepting, finish what is in flight */
  int drain_seen;                /* last drain generation acted on */
  bool closed;

  rs_loop_gen_t *gen;            /* the current generation's share (NULL on loop 0) */
  rs_loop_gen_t *gens;           /* every share this loop opened and not closed */
  /* The current generation's, as loop->gen has them (rs_loop_gen_t above):
   * what a new request or fetch starts with. */
  struct rs_pool_s *pool;        /* the render pool, NULL without a bundle */
  struct rs_upstreams_s *upstreams; /* upstream runtime (rs_upstream.h): a request or
                                    fetch keeps the one it started with */
  struct rs_cache_s *cache;      /* the process's L2, shared; NULL when caching is off */
  /* Each module's own state on this loop (nginx's ctx_index): the module
   * takes its index once (rs_loop_slot_new) and reads loop->slots[index]
   * through its own accessor; nothing here names a module. */
  void *slots[RS_LOOP_SLOTS];
  bool start_failed;
  rs_inbox_t inbox;              /* work handed to this loop by other threads */
  size_t pending_jobs;           /* submitted, not yet back */

  rs_loop_counters_t counters;
};

/* A loop finishing its drain re-checks whether it may stop; call after
 * anything that may have been the last thing it waited for (a connection
 * closed, a render job back): wakes the loop's own drain check
 * (core/server/rs_server.c). Loop thread. */
static inline void rs_loop_maybe_done(rs_loop_t *loop) {
  if (loop->draining && loop->nconns == 0 && loop->pending_jobs == 0) uv_async_send(&loop->wake);
}

#endif
