/* core/server/rs_server_int.h — private to core/server/: the process
 * (rs_server_t) as the files of the server layer share it — its loops,
 * listeners, generations, signals and timers — and the listener of a loop.
 * rs_server.h is the process's public face (rs_server_run). Main thread
 * unless a field says otherwise. */
#ifndef RS_SERVER_INT_H
#define RS_SERVER_INT_H

#include "rs_common.h"
#include "rs_config.h"
#include "rs_loop.h"

#include <uv.h>

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

/* One listening socket of a loop. It is polled, not a uv_tcp_t: libuv's
 * listener has no way to stop watching, and its reserve-fd trick closes
 * waiting connections when out of descriptors; here accept(2) is ours, and
 * an accept pause only stops the poll (see rs_server.c). */
typedef struct rs_listener_s {
  uv_poll_t poll;
  rs_loop_t *loop;
  int server;                    /* 0 = listen, 1 + k = servers[k] */
  int fd;                        /* the listening socket; -1 once closed */
  bool open;                     /* poll initialised (closed on unlisten) */
  bool paused;                   /* poll stopped for an accept pause */
} rs_listener_t;

struct rs_server_s {
  rs_config_t *cfg;              /* the current generation's (main thread) */
  int nloops;
  int loop_nice;                 /* the loop threads' nice value: > 0 when render.nice < 0 is not
                                  * allowed (the same gap, the other way); fixed at start */
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
  uv_timer_t tls_timer;          /* rotates the TLS listeners' ticket keys (rs_gen_tls_tick) */
  /* Written by the main thread, read by loops after a wake-up. */
  int drain_gen;                 /* bumped on SIGTERM/SIGINT */
  int force_gen;                 /* bumped when the drain deadline passes */
  bool stopping;
  int exit_code;
};

#endif
