/* core/server/rs_server.c — see rs_server.h.
 *
 * Start-up: every listening socket is created and bound here on the main
 * thread, so that "address in use" is an error at start, not a dead
 * thread. Each loop thread then opens its own socket in its own loop, pins
 * itself, and waits at a barrier with the main thread; only after the
 * barrier does anyone accept (h2o's run_loop, nginx's workers).
 *
 * Reload: SIGHUP → rs_reload (core/server/rs_reload.h): a new generation of
 * config, routes, render pool and per-loop Lua states, taken by each loop
 * through its inbox; requests in flight keep theirs.
 *
 * Signals: SIGHUP reloads, SIGUSR1 reopens the log files; every other
 * signal that would end the process by default is ignored (nginx never dies
 * of a stray SIGUSR2 or SIGALRM), except the faults (SEGV, BUS, FPE, ILL,
 * ABRT, TRAP, SYS) and what cannot be caught.
 *
 * Shutdown: SIGTERM/SIGINT/SIGQUIT bump drain_gen and wake every loop; each loop
 * closes its listener and its idle connections, lets the busy ones finish
 * (answers go out with Connection: close), and ends when it has none left.
 * A timer on the main loop bumps force_gen at the deadline. A second signal
 * forces at once. */
#define _GNU_SOURCE 1 /* accept4 */
#include "rs_server.h"
#include "rs_server_int.h"

#include "rs_admin.h"
#include "rs_conn.h"
#include "rs_dispatch.h"
#include "rs_lcache.h"
#include "rs_lhooks.h"
#include "rs_log.h"
#include "rs_metrics.h"
#include "rs_page.h"
#include "rs_gen.h"
#include "rs_listen.h"
#include "rs_ratelimit.h"
#include "rs_reload.h"
#include "rs_reqstats.h"
#include "rs_topo.h"
#include "rs_upstream.h"
#include "rs_v8.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

/* ------------------------------------------------------------------ loops */

static void rs__update_time(rs_loop_t *loop) {
  time_t t = time(NULL);
  loop->now_unix = t;
  loop->date_len = rs_http_date_line(loop->date, t);
  struct tm tm;
  gmtime_r(&t, &tm);
  strftime(loop->log_time, sizeof(loop->log_time), "%d/%b/%Y:%H:%M:%S +0000", &tm);
}

/* After each turn of the loop (an idle one turns once a second, for the
 * tick): the proof that it is not stuck, for /health. */
static void rs__heartbeat(uv_check_t *c) {
  rs_loop_t *loop = c->data;
  __atomic_store_n(&loop->heartbeat_ms, rs_now_ms(), __ATOMIC_RELAXED);
}

static void rs__on_tick(uv_timer_t *t) {
  rs_loop_t *loop = t->data;
  rs__update_time(loop);
  rs_conn_flush_access_log(loop);
  if (loop->gens != NULL && loop->gens->_next != NULL) rs_loop_gens_sweep(loop);
}

static void rs__loop_close_walk(uv_handle_t *h, void *arg) {
  if (!uv_is_closing(h)) uv_close(h, NULL);
}

/* Called on the loop when woken, and when its last connection closed. */
static void rs__loop_check(rs_loop_t *loop) {
  rs_server_t *srv = loop->server;
  /* acquire: pairs with the main thread's release store, so the loop sees
   * the config state the main thread had when it decided to stop. */
  int drain = __atomic_load_n(&srv->drain_gen, __ATOMIC_ACQUIRE);
  int force = __atomic_load_n(&srv->force_gen, __ATOMIC_ACQUIRE);
  if (drain > 0 && !loop->draining) {
    loop->draining = true;
    rs_listen_stop(loop);
    rs_conn_drain_all(loop, false);
  }
  if (force > 0) rs_conn_drain_all(loop, true);
  if (loop->draining && loop->nconns == 0 && loop->pending_jobs == 0 && !loop->closed) {
    /* Under wake_lock: once `closed` is seen, the main thread never sends
     * to this loop's async handle again (it is about to be closed). */
    uv_mutex_lock(&srv->wake_lock);
    __atomic_store_n(&loop->closed, true, __ATOMIC_RELEASE);
    uv_mutex_unlock(&srv->wake_lock);
    rs_conn_flush_access_log(loop);
    if (loop->index > 0) {
      uv_walk(&loop->uv, rs__loop_close_walk, NULL);
      uv_async_send(&srv->loop_done);
    } else {
      uv_close((uv_handle_t *)&loop->wake, NULL);
      uv_close((uv_handle_t *)&loop->tick, NULL);
      uv_close((uv_handle_t *)&loop->accept_timer, NULL);
      uv_close((uv_handle_t *)&loop->turn, NULL);
    }
  }
}

static void rs__on_wake(uv_async_t *a) { rs__loop_check(a->data); }

/* fds: one per listener (-1 = none), taken over by the loop. */
static int rs__loop_init(rs_loop_t *loop, rs_server_t *srv, int index, const int *fds, int nfds,
                         rs_handler_fn handler, uv_async_cb wake_cb, void *wake_data) {
  memset(loop, 0, sizeof(*loop));
  loop->index = index;
  loop->server = srv;
  loop->cfg = srv->cfg;
  loop->handler = handler;
  loop->nlsn = nfds;
  loop->lsn = rs_xcalloc((size_t)RS_MAX(nfds, 1), sizeof(rs_listener_t));
  for (int k = 0; k < nfds; k++) {
    loop->lsn[k].loop = loop;
    loop->lsn[k].server = k;
    loop->lsn[k].fd = fds[k];
  }
  int rc = uv_loop_init(&loop->uv);
  if (rc != 0) return rc;
  uv_async_init(&loop->uv, &loop->wake, wake_cb);
  loop->wake.data = wake_data;
  uv_timer_init(&loop->uv, &loop->tick);
  loop->tick.data = loop;
  uv_timer_init(&loop->uv, &loop->accept_timer);
  loop->accept_timer.data = loop;
  uv_unref((uv_handle_t *)&loop->accept_timer);
  uv_check_init(&loop->uv, &loop->turn);
  loop->turn.data = loop;
  uv_unref((uv_handle_t *)&loop->turn);
  loop->cache = srv->cache;
  if (index > 0) rs_inbox_init(&loop->inbox, &loop->uv);
  if (index > 0) rs_page_loop_init(loop);   /* the page flow runs with the cache off too */
  rs__update_time(loop);
  return 0;
}

static void rs__free_handle(uv_handle_t *h) { free(h); }

static int rs__loop_listen(rs_loop_t *loop) {
  /* libuv opens a reserve descriptor with a loop's first stream (for its
   * EMFILE trick, which our own accept loop never uses): have it now, so
   * the process's descriptor count is steady from the start. */
  uv_tcp_t *first = rs_xmalloc(sizeof(*first));
  uv_tcp_init(&loop->uv, first);
  uv_close((uv_handle_t *)first, rs__free_handle);
  int rc = rs_listen_start(loop);
  if (rc != 0) return rc;
  loop->listening = true;
  /* The Date line changes once a second; the tick keeps it (and the access
   * log's clock) fresh without a time() call per request. Unref'd: it
   * does not keep the loop alive. */
  uv_timer_start(&loop->tick, rs__on_tick, 1000, 1000);
  uv_unref((uv_handle_t *)&loop->tick);
  rs__heartbeat(&loop->turn);
  uv_check_start(&loop->turn, rs__heartbeat);
  return 0;
}

static void rs__loop_thread(void *arg) {
  rs_loop_t *loop = arg;
  rs_server_t *srv = loop->server;
  rs_log_set_thread(loop->index);
  rs_lcache_thread_init(loop->cache);      /* ssr.purge's cache on this thread */
  if (loop->cache != NULL) rs_page_loop_thread(loop);
  char err[1024];
  if (rs_loop_gen_open(loop->gen, err, sizeof(err)) != 0) {
    rs_log_error("loop %d: Lua: %s", loop->index, err);
    loop->start_failed = true;
  } else {
    __atomic_store_n(&loop->gen->state, RS_LOOP_GEN_ACTIVE, __ATOMIC_RELEASE);
    rs_loop_gen_use(loop, loop->gen);
    if (loop->gen->lua != NULL) rs_log_info("loop %d: Lua hooks ready", loop->index);
  }
  char where[96] = "unpinned (pin = false)", name[16];
  snprintf(name, sizeof(name), "rs-loop-%d", loop->index);
  rs_thread_name(name);
  if (loop->cfg->pin) rs_topo_pin_self(loop->index - 1, where, sizeof(where));
  int nrc = srv->loop_nice != 0 ? rs_nice_self(srv->loop_nice) : 0;
  if (nrc != 0) rs_log_warn("loop %d: nice %d not applied: %s", loop->index, srv->loop_nice, strerror(nrc));
  int rc = rs__loop_listen(loop);
  if (rc != 0) {
    rs_log_error("loop %d: listen: %s", loop->index, uv_strerror(rc));
  } else {
    for (int k = 0; k < srv->nlisteners; k++)
      rs_log_info("loop %d: listening on %s:%d%s%s, %s", loop->index, srv->lsn_addrs[k].host,
                  srv->lsn_addrs[k].port, k ? " for server " : "", k ? srv->lsn_names[k] : "", where);
  }
  uv_barrier_wait(&srv->barrier);
  uv_run(&loop->uv, UV_RUN_DEFAULT);
  rs_conn_loop_dispose(loop);
  /* Handles close in the run above; a last pass collects their callbacks. */
  uv_run(&loop->uv, UV_RUN_NOWAIT);
  rs_page_loop_dispose(loop);
  /* Every request is gone: close every share this loop still holds. */
  while (loop->gens != NULL) rs_loop_gen_close(loop->gens);
  loop->upstreams = NULL;
  rs_inbox_dispose(&loop->inbox);
  if (uv_loop_close(&loop->uv) != 0) rs_log_warn("loop %d: handles left open at exit", loop->index);
}

/* ------------------------------------------------------------------ metrics */

static void rs__collect(rs_buf_t *out, void *ud) {
  rs_server_t *srv = ud;
  rs_loop_counters_t sum;
  memset(&sum, 0, sizeof(sum));
  for (int i = 0; i < srv->nloops; i++) {
    const rs_loop_counters_t *c = &srv->loops[i]->counters;
    for (int k = 0; k < 6; k++) sum.requests[k] += RS_COUNTER_GET(c->requests[k]);
    sum.conns_opened += RS_COUNTER_GET(c->conns_opened);
    sum.conns_closed += RS_COUNTER_GET(c->conns_closed);
    sum.bytes_in += RS_COUNTER_GET(c->bytes_in);
    sum.bytes_out += RS_COUNTER_GET(c->bytes_out);
    for (int k = 0; k < RS_REQ_E_MAX; k++) sum.req_errors[k] += RS_COUNTER_GET(c->req_errors[k]);
    for (int k = 0; k < RS_ACCEPT_E_MAX; k++) sum.accept_errors[k] += RS_COUNTER_GET(c->accept_errors[k]);
    for (int k = 0; k < 3; k++) sum.compressed[k] += RS_COUNTER_GET(c->compressed[k]);
    sum.compress_in += RS_COUNTER_GET(c->compress_in);
    sum.compress_out += RS_COUNTER_GET(c->compress_out);
    sum.h2_conns += RS_COUNTER_GET(c->h2_conns);
    sum.h2_streams += RS_COUNTER_GET(c->h2_streams);
    for (int k = 0; k < RS_LOOP_H2_REASONS_MAX; k++) {
      sum.h2_resets[k] += RS_COUNTER_GET(c->h2_resets[k]);
      sum.h2_goaways[k] += RS_COUNTER_GET(c->h2_goaways[k]);
    }
  }
  rs_metrics_family(out, "rustyssr_info", "gauge", "Build information.");
  rs_buf_printf(out, "rustyssr_info{version=\"%s\",v8=\"%s\"} 1\n", RS_VERSION, rs_v8_version());
  rs_metrics_family(out, "rustyssr_workers", "gauge", "Loop threads serving requests.");
  rs_buf_printf(out, "rustyssr_workers %d\n", srv->nloops);
  rs_metrics_family(out, "rustyssr_requests_total", "counter", "Requests answered, by status class.");
  for (int k = 1; k <= 5; k++)
    rs_buf_printf(out, "rustyssr_requests_total{class=\"%dxx\"} %llu\n", k,
                  (unsigned long long)sum.requests[k]);
  rs_metrics_family(out, "rustyssr_connections_open", "gauge", "Client connections open now.");
  rs_buf_printf(out, "rustyssr_connections_open %llu\n",
                (unsigned long long)(sum.conns_opened - RS_MIN(sum.conns_closed, sum.conns_opened)));
  rs_metrics_family(out, "rustyssr_connections_total", "counter", "Client connections accepted.");
  rs_buf_printf(out, "rustyssr_connections_total %llu\n", (unsigned long long)sum.conns_opened);
  rs_metrics_family(out, "rustyssr_connections_by_protocol_total", "counter",
                    "Client connections accepted, by the protocol they spoke.");
  rs_buf_printf(out, "rustyssr_connections_by_protocol_total{protocol=\"http/1.1\"} %llu\n",
                (unsigned long long)(sum.conns_opened - RS_MIN(sum.h2_conns, sum.conns_opened)));
  rs_buf_printf(out, "rustyssr_connections_by_protocol_total{protocol=\"h2\"} %llu\n",
                (unsigned long long)sum.h2_conns);
  rs_metrics_family(out, "rustyssr_http2_streams_total", "counter", "HTTP/2 streams (requests) opened.");
  rs_buf_printf(out, "rustyssr_http2_streams_total %llu\n", (unsigned long long)sum.h2_streams);
  rs_metrics_family(out, "rustyssr_http2_resets_total", "counter",
                    "HTTP/2 RST_STREAM frames, received (client) or sent, by reason.");
  for (int k = 0; k < RS_H2_RST_MAX; k++)
    rs_buf_printf(out, "rustyssr_http2_resets_total{reason=\"%s\"} %llu\n", rs_h2_reset_label(k),
                  (unsigned long long)sum.h2_resets[k]);
  rs_metrics_family(out, "rustyssr_http2_goaway_total", "counter",
                    "HTTP/2 connections ended with a GOAWAY, by reason.");
  for (int k = 0; k < RS_H2_GOAWAY_MAX; k++)
    rs_buf_printf(out, "rustyssr_http2_goaway_total{reason=\"%s\"} %llu\n", rs_h2_goaway_label(k),
                  (unsigned long long)sum.h2_goaways[k]);
  rs_metrics_family(out, "rustyssr_received_bytes_total", "counter", "Bytes read from clients.");
  rs_buf_printf(out, "rustyssr_received_bytes_total %llu\n", (unsigned long long)sum.bytes_in);
  rs_metrics_family(out, "rustyssr_sent_bytes_total", "counter", "Bytes written to clients.");
  rs_buf_printf(out, "rustyssr_sent_bytes_total %llu\n", (unsigned long long)sum.bytes_out);
  rs_metrics_family(out, "rustyssr_compressed_total", "counter",
                    "Answers compressed on the fly (not stored pages), by coding.");
  rs_buf_printf(out, "rustyssr_compressed_total{encoding=\"gzip\"} %llu\n", (unsigned long long)sum.compressed[1]);
  rs_buf_printf(out, "rustyssr_compressed_total{encoding=\"br\"} %llu\n", (unsigned long long)sum.compressed[2]);
  rs_metrics_family(out, "rustyssr_compressed_bytes_total", "counter",
                    "Bytes of the answers compressed on the fly, before (in) and after (out).");
  rs_buf_printf(out, "rustyssr_compressed_bytes_total{stage=\"in\"} %llu\n", (unsigned long long)sum.compress_in);
  rs_buf_printf(out, "rustyssr_compressed_bytes_total{stage=\"out\"} %llu\n", (unsigned long long)sum.compress_out);
  rs_metrics_family(out, "rustyssr_request_errors_total", "counter",
                    "Requests refused before a handler, by kind.");
  for (int k = 1; k < RS_REQ_E_MAX; k++)
    rs_buf_printf(out, "rustyssr_request_errors_total{kind=\"%s\",status=\"%d\"} %llu\n",
                  rs_req_error_label((rs_req_error_t)k), rs_req_error_status((rs_req_error_t)k),
                  (unsigned long long)sum.req_errors[k]);
  static const char *const reasons[] = {
#define RS__X(e, s) s,
    RS_ACCEPT_ERRORS(RS__X)
#undef RS__X
  };
  rs_metrics_family(out, "rustyssr_accept_errors_total", "counter",
                    "accept(2) failures on the client listeners, by reason (emfile, enfile and nomem "
                    "pause accepting on the loop).");
  for (int k = 0; k < RS_ACCEPT_E_MAX; k++)
    rs_buf_printf(out, "rustyssr_accept_errors_total{reason=\"%s\"} %llu\n", reasons[k],
                  (unsigned long long)sum.accept_errors[k]);
  rs_metrics_family(out, "rustyssr_reloads_total", "counter", "Configuration reloads (SIGHUP), by result.");
  rs_buf_printf(out, "rustyssr_reloads_total{result=\"ok\"} %llu\n", (unsigned long long)srv->reloads_ok);
  rs_buf_printf(out, "rustyssr_reloads_total{result=\"failed\"} %llu\n",
                (unsigned long long)srv->reloads_failed);
  rs_metrics_family(out, "rustyssr_config_generations", "gauge",
                    "Configurations alive: the current one, plus those that requests in flight still use.");
  rs_buf_printf(out, "rustyssr_config_generations %d\n", rs_reload_gen_count(srv));
}

static void rs__collect_render(rs_buf_t *out, void *ud) {
  rs_server_t *srv = ud;
  if (srv->gen != NULL && rs_gen_pool(srv->gen) != NULL) rs_pool_collect(out, rs_gen_pool(srv->gen));
}

/* ------------------------------------------------------------------ main loop */

static void rs__wake_all(rs_server_t *srv) {
  uv_mutex_lock(&srv->wake_lock);
  for (int i = 0; i < srv->nloops; i++)
    if (!__atomic_load_n(&srv->loops[i]->closed, __ATOMIC_ACQUIRE)) uv_async_send(&srv->loops[i]->wake);
  uv_mutex_unlock(&srv->wake_lock);
  if (!srv->admin.closed) uv_async_send(&srv->admin.wake);
}

/* RS_SHUTDOWN_MARGIN_MS after the drain deadline the loops should have
 * closed everything; one that has not is stuck (a hook in a compiled Lua
 * loop, which nothing can interrupt): the deadline is the operator's, so
 * the process ends anyway. */
static void rs__on_hard_deadline(uv_timer_t *t) {
  rs_server_t *srv = t->data;
  for (int i = 0; i < srv->nloops; i++) {
    if (__atomic_load_n(&srv->loops[i]->closed, __ATOMIC_ACQUIRE)) continue;
    uint64_t hb = __atomic_load_n(&srv->loops[i]->heartbeat_ms, __ATOMIC_RELAXED);
    rs_log_error("shutdown: loop %d still running %d ms after the deadline (last turn %llu ms ago): "
                 "exiting without it", i + 1, RS_SHUTDOWN_MARGIN_MS,
                 (unsigned long long)(rs_now_ms() - RS_MIN(hb, rs_now_ms())));
  }
  rs_log_error("exit (forced)");
  _exit(1);
}

static void rs__on_deadline(uv_timer_t *t) {
  rs_server_t *srv = t->data;
  rs_log_warn("shutdown: deadline of %llu ms passed, closing the connections left",
              (unsigned long long)srv->cfg->timeouts.shutdown);
  __atomic_store_n(&srv->force_gen, 1, __ATOMIC_RELEASE);
  rs_lhooks_interrupt_all();
  rs_reload_abort_pools(srv);
  rs__wake_all(srv);
  uv_timer_start(&srv->hard_deadline, rs__on_hard_deadline, RS_SHUTDOWN_MARGIN_MS, 0);
  uv_unref((uv_handle_t *)&srv->hard_deadline);
}

static void rs__on_sweep(uv_timer_t *t) {
  rs_server_t *srv = t->data;
  rs_cache_sweep(srv->cache, rs_now_ms());
}

static void rs__collect_cache(rs_buf_t *out, void *ud) {
  rs_server_t *srv = ud;
  rs_page_collect(out, srv->loops, srv->nloops, srv->cache);
}

static void rs__maybe_finish(rs_server_t *srv) {
  if (srv->loops_done < srv->nloops || !srv->admin.closed) return;
  if (srv->cache != NULL) uv_close((uv_handle_t *)&srv->sweep, NULL);
  uv_close((uv_handle_t *)&srv->deadline, NULL);
  uv_close((uv_handle_t *)&srv->hard_deadline, NULL);
  uv_close((uv_handle_t *)&srv->gen_timer, NULL);
  uv_close((uv_handle_t *)&srv->tls_timer, NULL);
  uv_close((uv_handle_t *)&srv->loop_done, NULL);
  for (size_t i = 0; i < RS_ARRAY_SIZE(srv->signals); i++) uv_close((uv_handle_t *)&srv->signals[i], NULL);
}

static void rs__on_loop_done(uv_async_t *a) {
  rs_server_t *srv = a->data;
  int done = 0;
  for (int i = 0; i < srv->nloops; i++)
    if (__atomic_load_n(&srv->loops[i]->closed, __ATOMIC_ACQUIRE)) done++;
  srv->loops_done = done;
  rs__maybe_finish(srv);
}

static void rs__on_admin_wake(uv_async_t *a) {
  rs_server_t *srv = a->data;
  rs__loop_check(&srv->admin);
  rs__maybe_finish(srv);
}

static const int rs__handled_signals[] = { SIGTERM, SIGINT, SIGQUIT, SIGHUP, SIGUSR1 };
_Static_assert(RS_ARRAY_SIZE(rs__handled_signals) == RS_ARRAY_SIZE(((rs_server_t *)0)->signals),
               "one uv_signal_t per handled signal");

/* Ignore every signal whose default would end the process and that we
 * neither handle nor must keep fatal. A handler someone installed before us
 * (a sanitizer, a profiler) stays. */
static void rs__ignore_signals(void) {
  sigset_t keep;
  sigemptyset(&keep);
  static const int fatal[] = { SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT, SIGTRAP, SIGSYS, SIGKILL, SIGSTOP,
                               SIGCHLD, SIGCONT, SIGTSTP, SIGTTIN, SIGTTOU };
  for (size_t i = 0; i < RS_ARRAY_SIZE(fatal); i++) sigaddset(&keep, fatal[i]);
  for (size_t i = 0; i < RS_ARRAY_SIZE(rs__handled_signals); i++) sigaddset(&keep, rs__handled_signals[i]);
  for (int sig = 1; sig <= SIGRTMAX; sig++) {
    if (sig >= 32 && sig < SIGRTMIN) continue;   /* glibc's own */
    if (sigismember(&keep, sig)) continue;
    struct sigaction old;
    if (sigaction(sig, NULL, &old) == 0 && old.sa_handler == SIG_DFL) signal(sig, SIG_IGN);
  }
}

static void rs__on_signal(uv_signal_t *s, int signum) {
  rs_server_t *srv = s->data;
  if (signum == SIGHUP) {
    rs_reload(srv);
    return;
  }
  if (signum == SIGUSR1) {
    const char *failed = NULL;
    int rc = rs_log_reopen(&failed);
    if (rc != 0)
      rs_log_error("SIGUSR1: cannot reopen %s: %s (still writing to the old file)", failed, strerror(-rc));
    else
      rs_log_info("SIGUSR1: log files reopened");
    return;
  }
  if (srv->stopping) {
    rs_log_warn("%s again: closing every connection now", strsignal(signum));
    __atomic_store_n(&srv->force_gen, 1, __ATOMIC_RELEASE);
    rs_reload_abort_pools(srv);
    rs__wake_all(srv);
    return;
  }
  srv->stopping = true;
  if (srv->gen_timer_on) {       /* retired generations are freed at exit */
    uv_timer_stop(&srv->gen_timer);
    srv->gen_timer_on = false;
  }
  rs_log_info("%s: graceful shutdown, finishing requests in flight (deadline %llu ms)",
              strsignal(signum), (unsigned long long)srv->cfg->timeouts.shutdown);
  __atomic_store_n(&srv->drain_gen, 1, __ATOMIC_RELEASE);
  uv_timer_start(&srv->deadline, rs__on_deadline, srv->cfg->timeouts.shutdown, 0);
  rs__wake_all(srv);
}

/* Bind every listener (srv->nlisteners of them, srv->nloops sockets each,
 * into fds) and the admin one (*admin_fd): every failure is logged here,
 * before a thread runs. Returns 0 or -errno (the sockets made so far are
 * in fds and *admin_fd for the caller to close). Main thread. */
static int rs__bind(rs_server_t *srv, int *fds, int *admin_fd) {
  const rs_config_t *cfg = srv->cfg;
  int nl = srv->nlisteners;
  srv->lsn_names = rs_xcalloc((size_t)nl, sizeof(char *));
  srv->lsn_addrs = rs_xcalloc((size_t)nl, sizeof(rs_addr_t));
  for (int k = 0; k < nl; k++) {
    srv->lsn_names[k] = k ? rs_xstrdup(cfg->servers[k - 1].name) : NULL;
    srv->lsn_addrs[k] = k ? cfg->servers[k - 1].addr : cfg->listen;
  }
  for (int i = 0; i < srv->nloops * nl; i++) fds[i] = -1;
  for (int k = 0; k < nl; k++) {
    rs_addr_t *addr = &srv->lsn_addrs[k];
    for (int i = 0; i < srv->nloops; i++) {
      int port = 0;
      int fd = fds[i * nl + k] = rs_listen_socket(addr, cfg->backlog, true, &port);
      if (fd < 0) {
        rs_log_error("listen on %s:%d%s%s%s: %s", addr->host, addr->port, k ? " (server " : "",
                     k ? srv->lsn_names[k] : "", k ? ")" : "", strerror(-fd));
        return fd;
      }
      addr->port = port;         /* port 0: the others join the port the first got */
    }
  }
  srv->port = srv->lsn_addrs[0].port;
  if (cfg->admin_enabled) {
    *admin_fd = rs_listen_socket(&cfg->admin, cfg->backlog, false, &srv->admin_port);
    if (*admin_fd < 0) {
      rs_log_error("admin listen on %s:%d: %s", cfg->admin.host, cfg->admin.port, strerror(-*admin_fd));
      return *admin_fd;
    }
  }
  return 0;
}

/* Once a second: the current generation's TLS ticket keys that are due
 * rotate (retired generations' connections keep theirs until they end). */
static void rs__on_tls_timer(uv_timer_t *t) {
  rs_server_t *srv = t->data;
  if (srv->gen != NULL) rs_gen_tls_tick(srv->gen, rs_now_ms());
}

/* The main loop's timers and signal handlers, and the metrics it serves.
 * Main thread, once the admin loop is set up. */
static void rs__admin_start(rs_server_t *srv) {
  uv_async_init(&srv->admin.uv, &srv->loop_done, rs__on_loop_done);
  srv->loop_done.data = srv;
  uv_timer_init(&srv->admin.uv, &srv->deadline);
  srv->deadline.data = srv;
  uv_timer_init(&srv->admin.uv, &srv->hard_deadline);
  srv->hard_deadline.data = srv;
  uv_timer_init(&srv->admin.uv, &srv->gen_timer);
  srv->gen_timer.data = srv;
  uv_timer_init(&srv->admin.uv, &srv->tls_timer);
  srv->tls_timer.data = srv;
  uv_timer_start(&srv->tls_timer, rs__on_tls_timer, 1000, 1000);
  uv_unref((uv_handle_t *)&srv->tls_timer);
  rs_conn_tls_metrics_register();
  for (size_t i = 0; i < RS_ARRAY_SIZE(srv->signals); i++) {
    uv_signal_init(&srv->admin.uv, &srv->signals[i]);
    srv->signals[i].data = srv;
    uv_signal_start(&srv->signals[i], rs__on_signal, rs__handled_signals[i]);
  }
  rs_metrics_register("server", rs__collect, srv);
  rs_metrics_register("process", rs_metrics_process, NULL);
  rs_metrics_register("render", rs__collect_render, srv);  /* the current pool's, when any */
  rs_lhooks_metrics_register();
  rs_ratelimit_metrics_register();
}

/* The page cache, also without a bundle (cached proxy routes use it), and
 * its once-a-second sweep. Main thread. */
static void rs__cache_start(rs_server_t *srv) {
  const rs_config_t *cfg = srv->cfg;
  if (!cfg->cache.enabled) return;
  rs_cache_opts_t co = { .max_entries = cfg->cache.max_entries, .max_bytes = cfg->cache.max_bytes,
                         .shards = cfg->cache.shards };
  srv->cache = rs_cache_create(&co);
  srv->admin.cache = srv->cache;
  rs_page_fleet_start(&srv->admin.uv, srv->cache, cfg);   /* cache.shared: before the loops */
  uv_timer_init(&srv->admin.uv, &srv->sweep);
  srv->sweep.data = srv;
  uv_timer_start(&srv->sweep, rs__on_sweep, 1000, 1000);
  uv_unref((uv_handle_t *)&srv->sweep);
  rs_log_info("cache: %zu entries, %zu MB, %u shards, L1 %zu+%zu per loop, default ttl %llu s, "
              "grace %llu s", cfg->cache.max_entries, cfg->cache.max_bytes >> 20, cfg->cache.shards,
              cfg->cache.l1_hot, cfg->cache.l1_entries, (unsigned long long)cfg->cache.ttl_ms / 1000,
              (unsigned long long)cfg->cache.grace_ms / 1000);
}

/* Make the loops (each takes its sockets from fds), the first generation
 * on them, and start their threads behind the barrier; a loop that could
 * not set up stops the others (exit 1). Main thread. */
static void rs__loops_start(rs_server_t *srv, int *fds, rs_pool_t *pool0) {
  int nl = srv->nlisteners;
  srv->loops = rs_xcalloc((size_t)srv->nloops, sizeof(rs_loop_t *));
  for (int i = 0; i < srv->nloops; i++) {
    /* Each loop on its own cache lines: its counters are written hot. */
    if (posix_memalign((void **)&srv->loops[i], RS_CACHELINE, sizeof(rs_loop_t)) != 0) abort();
    int rc = rs__loop_init(srv->loops[i], srv, i + 1, &fds[i * nl], nl, rs_dispatch, rs__on_wake, srv->loops[i]);
    srv->loops[i]->on_head = rs_dispatch_head;
    if (rc != 0) {
      rs_log_error("loop %d: %s", i + 1, uv_strerror(rc));
      abort();
    }
    for (int k = 0; k < nl; k++) fds[i * nl + k] = -1;  /* the loop owns them now */
  }
  rs_gen_t *gen0 = srv->gen = rs_gen_new(srv, srv->cfg, false, pool0);
  if (gen0->tls_err[0] != '\0') {    /* a certificate changed since the load checked it */
    rs_log_error("%s", gen0->tls_err);
    exit(1);
  }
  srv->admin.http = rs_gen_http(gen0);
  /* A deploy's rule from the start (rs_reload.c): only this bundle's pages. */
  if (srv->cache != NULL && srv->cfg->cache.on_new_bundle != RS_ON_NEW_BUNDLE_KEEP)
    rs_cache_bundle(srv->cache, srv->cfg->render.bundle_id);
  for (int i = 0; i < srv->nloops; i++) rs_loop_gen_use(srv->loops[i], rs_gen_share(gen0, i));
  if (srv->cache != NULL) rs_metrics_register("cache", rs__collect_cache, srv);
  rs_upstream_metrics_register(srv->nloops);
  rs_reqstats_register(srv->nloops);
  rs_lhooks_watchdog_start();    /* lua.hook_timeout_ms */
  uv_barrier_init(&srv->barrier, (unsigned)srv->nloops + 1);
  for (int i = 0; i < srv->nloops; i++) {
    if (uv_thread_create(&srv->loops[i]->thread, rs__loop_thread, srv->loops[i]) != 0) {
      rs_log_error("cannot start loop thread %d", i + 1);
      abort();
    }
  }
  uv_barrier_wait(&srv->barrier);
  for (int i = 0; i < srv->nloops; i++) {
    if (srv->loops[i]->start_failed) {
      /* A loop could not set up (its Lua state): stop the others, fail. */
      srv->exit_code = 1;
      srv->stopping = true;
      __atomic_store_n(&srv->drain_gen, 1, __ATOMIC_RELEASE);
      __atomic_store_n(&srv->force_gen, 1, __ATOMIC_RELEASE);
      rs__wake_all(srv);
      break;
    }
  }
}

int rs_server_run(rs_config_t *cfg) {
  rs_server_t srv;
  memset(&srv, 0, sizeof(srv));
  srv.cfg = cfg;
  int rc = 0;
  uv_mutex_init(&srv.wake_lock);

  signal(SIGPIPE, SIG_IGN);
  rs__ignore_signals();
  rs_http_init();
  rs_conn_global_init();
  if (rs_topo_init() != 0) rs_log_warn("hwloc: no topology; threads will not be pinned");
  srv.nloops = cfg->workers > 0 ? cfg->workers : rs_topo_cores();
  rs_log_info("rustyssr %s (V8 %s): %d loop thread%s, %d core%s, %d PU%s, pinning %s", RS_VERSION,
              rs_v8_version(), srv.nloops, srv.nloops == 1 ? "" : "s", rs_topo_cores(),
              rs_topo_cores() == 1 ? "" : "s", rs_topo_pus(), rs_topo_pus() == 1 ? "" : "s",
              cfg->pin ? "on" : "off");

  /* Listeners first: every failure here is reported before a thread runs.
   * fds[i * nl + k]: loop i's socket for listener k (0 = listen, 1 + j =
   * servers[j]). */
  int nl = srv.nlisteners = 1 + (int)cfg->nservers;
  int *fds = rs_xcalloc((size_t)(srv.nloops * nl), sizeof(int));
  int admin_fd = -1;
  rc = rs__bind(&srv, fds, &admin_fd);
  if (rc != 0) goto fail_sockets;

  rc = rs__loop_init(&srv.admin, &srv, 0, &admin_fd, admin_fd >= 0 ? 1 : 0, rs_admin_handle,
                     rs__on_admin_wake, &srv);
  if (rc != 0) goto fail_sockets;
  admin_fd = -1;                 /* the admin loop owns it now */
  rc = rs__loop_listen(&srv.admin);
  if (rc != 0) {
    rs_log_error("admin listener: %s", uv_strerror(rc));
    goto fail_sockets;
  }
  rs__admin_start(&srv);
  /* render.nice < 0 puts the render threads before the loop threads; when
   * this process may not lower a nice value below where it started, the
   * loop threads are raised by as much instead: inside the process's cgroup or autogroup only the
   * gap weighs (README, render.nice). */
  if (cfg->render.bundle != NULL && !rs_nice_allowed(cfg->render.nice)) {
    int base = rs_nice_get();    /* what every thread starts with (0 unless started under nice) */
    srv.loop_nice = RS_MIN(19, base - cfg->render.nice);
    rs_log_info("render.nice = %d: lowering a nice value needs root or CAP_SYS_NICE; the render threads "
                "stay at %d and the loop threads run at %d (the same gap)",
                cfg->render.nice, base, srv.loop_nice);
  }
  rs_pool_t *pool0 = NULL;
  if (cfg->render.bundle != NULL) {
    char err[1024];
    if (rs_pool_create(cfg, &pool0, err, sizeof(err)) != 0) {
      rs_log_error("render: %s", err);
      rc = -EINVAL;
      goto fail_sockets;
    }
  }
  rs__cache_start(&srv);

  rs__loops_start(&srv, fds, pool0);
  if (cfg->admin_enabled) rs_log_info("admin: listening on %s:%d", cfg->admin.host, srv.admin_port);
  for (int k = 1; k < nl; k++) {
    int idx = rs_config_server_find(cfg, srv.lsn_names[k]);
    rs_log_info("server %s: serving %s://%s:%d/", srv.lsn_names[k],
                idx >= 0 && cfg->servers[idx].conf.tls ? "https" : "http", srv.lsn_addrs[k].host,
                srv.lsn_addrs[k].port);
  }
  rs_log_info("ready: serving %s://%s:%d/", cfg->listen_conf.tls ? "https" : "http", cfg->listen.host, srv.port);

  uv_run(&srv.admin.uv, UV_RUN_DEFAULT);

  for (int i = 0; i < srv.nloops; i++) {
    uv_thread_join(&srv.loops[i]->thread);
    free(srv.loops[i]->lsn);
  }
  uv_barrier_destroy(&srv.barrier);
  rs_page_fleet_stop();
  rs_lhooks_watchdog_stop();
  /* The loops have stopped: every generation goes, pools first (their
   * threads may still hold the configs). */
  rs_reload_free_all(&srv);
  for (int i = 0; i < srv.nloops; i++) free(srv.loops[i]);
  free(srv.loops);
  if (srv.cache != NULL) rs_cache_destroy(srv.cache);
  rs_conn_loop_dispose(&srv.admin);
  uv_run(&srv.admin.uv, UV_RUN_NOWAIT);
  uv_loop_close(&srv.admin.uv);
  free(srv.admin.lsn);
  rs_metrics_reset();
  rs_topo_dispose();
  free(fds);
  for (int k = 0; k < nl; k++) free(srv.lsn_names[k]);
  free(srv.lsn_names);
  free(srv.lsn_addrs);
  uv_mutex_destroy(&srv.wake_lock);
  rs_log_info("exit");
  return srv.exit_code;

fail_sockets:
  for (int i = 0; i < srv.nloops * nl; i++)
    if (fds[i] >= 0) close(fds[i]);
  if (admin_fd >= 0) close(admin_fd);
  free(fds);
  free(srv.admin.lsn);
  for (int k = 0; k < nl; k++) free(srv.lsn_names[k]);
  free(srv.lsn_names);
  free(srv.lsn_addrs);
  rs_topo_dispose();
  uv_mutex_destroy(&srv.wake_lock);
  return rc < 0 ? rc : -1;
}
