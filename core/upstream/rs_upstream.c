/* core/upstream/rs_upstream.c — see rs_upstream.h.
 *
 * Three layers, all on one loop thread:
 *
 *   runtime (rs_upstreams_t)   per config and loop: upstreams → servers, each
 *                              server with its pool of idle connections, its
 *                              round-robin slot and its passive health
 *   exchange (rs_uhttp_t)      one request/response: picks a server, takes an
 *                              idle connection or connects, writes the
 *                              request, parses the response with llhttp
 *                              (HTTP_RESPONSE) and hands head and body to
 *                              its callbacks; retries on connect failure
 *   fetch (rs_fetch_t)         the buffered contract on top of an exchange,
 *                              in rs_fetch.c
 *
 * An exchange owns one timer (connect, send, read-idle and the overall
 * deadline, whichever is first) and is freed in that timer's close
 * callback. Connections own only their socket; pooled ones keep reading so
 * that a server's close is seen at once (and the connection dropped), and
 * a sweep once a second closes those idle past idle_timeout.
 *
 * Passive health follows nginx: a failure (connect error or timeout, read
 * timeout, reset or a bad answer before the head) counts against the server;
 * max_fails of them within fail_timeout mark it down for fail_timeout, after
 * which it gets requests again (one more failure marks it down again); a
 * response head clears the count. */
#include "rs_upstream.h"

#include "rs_config.h"
#include "rs_hist.h"
#include "rs_http.h"
#include "rs_log.h"
#include "rs_metrics.h"
#include "rs_loop.h"

#include <errno.h>
#include <llhttp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RS__RBUF_SIZE (64 * 1024)
#define RS__MAX_SLOTS 1025       /* loop indexes 0..1024 (workers <= 1024) */
#define RS__URL_TIMEOUT_MS 10000
#define RS__BODY_HIGH (256 * 1024)   /* streamed request body queued: stop the client */
#define RS__BODY_LOW (64 * 1024)     /* ... and let it go on */

/* Failure kinds: the metric label and what the log says. */
#define RS__FAIL_MAP(XX)                                  \
  XX(CONNECT, "connect", "cannot connect")                \
  XX(CONNECT_TIMEOUT, "connect_timeout", "connect timed out") \
  XX(SEND_TIMEOUT, "send_timeout", "send timed out")      \
  XX(READ_TIMEOUT, "read_timeout", "read timed out")      \
  XX(RESET, "reset", "connection closed early")           \
  XX(PROTO, "bad_response", "bad response")

enum {
#define XX(n, label, msg) RS__F_##n,
  RS__FAIL_MAP(XX)
#undef XX
  RS__F_MAX
};
static const char *const rs__fail_label[] = {
#define XX(n, label, msg) label,
  RS__FAIL_MAP(XX)
#undef XX
};

/* ------------------------------------------------------------------ metrics
 * Counters per (upstream, server) and per loop, written by that loop only;
 * the entries live as long as the process (a reload finds its own again by
 * name), so a scrape never reads freed memory. */
typedef struct {
  uint64_t requests[6];          /* by status class */
  uint64_t failures[RS__F_MAX];
  rs_hist_t response;            /* exchange start to the response's last byte */
} __attribute__((aligned(RS_CACHELINE))) rs__stat_slot_t;

typedef struct rs__stat_s {
  struct rs__stat_s *next;
  char upstream[72];
  char server[72];
  rs__stat_slot_t *slots;        /* [rs__nslots] */
} rs__stat_t;

typedef struct {
  uint64_t idle, active, fetch_inflight;
} __attribute__((aligned(RS_CACHELINE))) rs__gauge_t;

static rs__gauge_t rs__gauges[RS__MAX_SLOTS];
static rs__stat_t *rs__stats;    /* guarded by rs__stats_lock when adding */
static int rs__nslots = 9;       /* loops 0..8 unless told (unit tests) */
static uv_mutex_t rs__stats_lock;
static uv_once_t rs__stats_once = UV_ONCE_INIT;

static void rs__stats_init(void) { uv_mutex_init(&rs__stats_lock); }

static rs__stat_t *rs__stat_get(const char *upstream, const char *server) {
  uv_once(&rs__stats_once, rs__stats_init);
  uv_mutex_lock(&rs__stats_lock);
  rs__stat_t *s;
  for (s = rs__stats; s != NULL; s = s->next)
    if (strcmp(s->upstream, upstream) == 0 && strcmp(s->server, server) == 0) break;
  if (s == NULL) {
    s = rs_xcalloc(1, sizeof(*s));
    snprintf(s->upstream, sizeof(s->upstream), "%s", upstream);
    snprintf(s->server, sizeof(s->server), "%s", server);
    if (posix_memalign((void **)&s->slots, RS_CACHELINE, (size_t)rs__nslots * sizeof(rs__stat_slot_t)) != 0)
      abort();
    memset(s->slots, 0, (size_t)rs__nslots * sizeof(rs__stat_slot_t));
    /* release: a scrape that sees the new head sees its fields */
    s->next = rs__stats;
    __atomic_store_n(&rs__stats, s, __ATOMIC_RELEASE);
  }
  uv_mutex_unlock(&rs__stats_lock);
  return s;
}

static rs__stat_slot_t *rs__slot(rs__stat_t *s, const rs_loop_t *loop) {
  return s != NULL && loop->index < rs__nslots ? &s->slots[loop->index] : NULL;
}

static rs__gauge_t *rs__gauge(const rs_loop_t *loop) {
  return &rs__gauges[loop->index < RS__MAX_SLOTS ? loop->index : 0];
}

static void rs__collect(rs_buf_t *out, void *ud) {
  (void)ud;
  rs__stat_t *head = __atomic_load_n(&rs__stats, __ATOMIC_ACQUIRE);
  rs_metrics_family(out, "rustyssr_upstream_requests_total", "counter",
                    "Upstream responses by upstream, server and status class.");
  for (rs__stat_t *s = head; s != NULL; s = s->next) {
    for (int k = 1; k <= 5; k++) {
      uint64_t n = 0;
      for (int i = 0; i < rs__nslots; i++) n += RS_COUNTER_GET(s->slots[i].requests[k]);
      rs_buf_printf(out, "rustyssr_upstream_requests_total{upstream=\"%s\",server=\"%s\",class=\"%dxx\"} %llu\n",
                    s->upstream, s->server, k, (unsigned long long)n);
    }
  }
  rs_metrics_family(out, "rustyssr_upstream_failures_total", "counter",
                    "Upstream failures by upstream, server and kind.");
  for (rs__stat_t *s = head; s != NULL; s = s->next) {
    for (int k = 0; k < RS__F_MAX; k++) {
      uint64_t n = 0;
      for (int i = 0; i < rs__nslots; i++) n += RS_COUNTER_GET(s->slots[i].failures[k]);
      rs_buf_printf(out, "rustyssr_upstream_failures_total{upstream=\"%s\",server=\"%s\",kind=\"%s\"} %llu\n",
                    s->upstream, s->server, rs__fail_label[k], (unsigned long long)n);
    }
  }
  /* By upstream: every server's slots of every loop, summed (the list
   * holds each (upstream, server) once; a name is rendered at its first). */
  rs_metrics_family(out, "rustyssr_upstream_response_seconds", "histogram",
                    "Upstream exchanges answered, by upstream: from the exchange's start (connect and "
                    "retries included) to the response's last byte.");
  for (rs__stat_t *s = head; s != NULL; s = s->next) {
    bool first = true;
    for (rs__stat_t *e = head; e != s; e = e->next) first = first && strcmp(e->upstream, s->upstream) != 0;
    if (!first) continue;
    rs_hist_t h = { 0 };
    for (rs__stat_t *e = s; e != NULL; e = e->next)
      if (strcmp(e->upstream, s->upstream) == 0)
        for (int i = 0; i < rs__nslots; i++) rs_hist_add(&h, &e->slots[i].response);
    rs_buf_t lab = { 0 };
    rs_buf_append(&lab, "upstream=\"", 10);
    rs_metrics_label(&lab, s->upstream, strlen(s->upstream));
    rs_buf_append(&lab, "\"", 2);
    rs_buf_append(&lab, "", 1);        /* the NUL: lab.p is a C string */
    rs_hist_render(out, "rustyssr_upstream_response_seconds", lab.p, &h);
    rs_buf_free(&lab);
  }
  uint64_t idle = 0, active = 0, inflight = 0;
  for (int i = 0; i < rs__nslots && i < RS__MAX_SLOTS; i++) {
    idle += RS_COUNTER_GET(rs__gauges[i].idle);
    active += RS_COUNTER_GET(rs__gauges[i].active);
    inflight += RS_COUNTER_GET(rs__gauges[i].fetch_inflight);
  }
  rs_metrics_family(out, "rustyssr_upstream_connections", "gauge", "Upstream connections by state.");
  rs_buf_printf(out, "rustyssr_upstream_connections{state=\"idle\"} %llu\n", (unsigned long long)idle);
  rs_buf_printf(out, "rustyssr_upstream_connections{state=\"active\"} %llu\n", (unsigned long long)active);
  rs_metrics_family(out, "rustyssr_fetch_inflight", "gauge", "Fetches started and not finished.");
  rs_buf_printf(out, "rustyssr_fetch_inflight %llu\n", (unsigned long long)inflight);
}

void rs_upstream_metrics_register(int nloops) {
  uv_once(&rs__stats_once, rs__stats_init);
  if (nloops + 1 > rs__nslots) rs__nslots = RS_MIN(nloops + 1, RS__MAX_SLOTS);
  rs_metrics_register("upstream", rs__collect, NULL);
}

/* ------------------------------------------------------------------ types */

typedef struct rs__server_s rs__server_t;
typedef struct rs__uconn_s rs__uconn_t;

struct rs__uconn_s {
  uv_tcp_t tcp;                  /* first: tcp.data is the connection */
  uv_connect_t creq;
  uv_write_t wreq;
  rs_upstreams_t *u;
  rs__server_t *srv;             /* NULL: a one-off (URL) connection */
  rs__uconn_t *prev, *next;      /* srv->idle, or u->busy */
  rs_uhttp_t *x;                 /* the exchange on it; NULL when idle */
  llhttp_t parser;
  uint64_t idle_since;
  bool connected, closing, idle, writing;
};

struct rs__server_s {
  struct sockaddr_storage sa;
  char name[72];                 /* "127.0.0.1:9000" */
  rs__uconn_t *idle;             /* most recently used first */
  size_t nidle;
  size_t keepalive;              /* the most idle connections kept */
  int fails;
  uint64_t window_start, checked;
  rs__stat_t *stat;
};

typedef struct {
  const rs_upstream_conf_t *conf;
  rs__server_t *servers;
  size_t n;
  size_t rr;
} rs__ups_t;

struct rs_upstreams_s {
  rs_loop_t *loop;
  const rs_config_t *cfg;
  rs__ups_t *ups;
  size_t nups;
  rs__uconn_t *busy;             /* connections with an exchange, or connecting */
  uv_timer_t sweep;
  size_t handles;                /* sockets open + the sweep timer */
  size_t exchanges;
  bool dead, sweep_closing;
  /* Exchanges that ended after the loop's final uv_walk had closed their
   * timer (a write cancelled by that close, at a forced shutdown): their
   * close callback will never run, so destroy frees them. */
  struct rs_uhttp_s *orphans;
};

enum { RS__PH_CONNECT = 0, RS__PH_SEND, RS__PH_WAIT, RS__PH_BODY };

typedef struct {
  size_t no, nl, vo, vl;
} rs__hdr_off_t;

/* A piece of a streamed request body, framed, in its own uv_write. */
typedef struct rs__piece_s {
  uv_write_t w;
  rs__uconn_t *c;                /* the connection it is written on */
  struct rs__piece_s *next;
  size_t len;                    /* bytes of data[], framing included */
  size_t body;                   /* body bytes in it */
  char data[];
} rs__piece_t;

struct rs_uhttp_s {
  uv_timer_t timer;              /* first; freed in its close callback */
  struct rs_uhttp_s *orphan_next; /* on u->orphans (see there) */
  rs_upstreams_t *u;
  rs__ups_t *up;                 /* NULL for a single address */
  rs__server_t *srv;             /* the server being tried */
  rs__server_t one;              /* the single address's "server" */
  rs__uconn_t *conn;
  rs_uhttp_cbs_t cbs;
  void *ud;
  char *head;
  size_t head_len;
  const char *body;
  size_t body_len;
  uint64_t deadline;             /* 0 = none */
  uint64_t connect_ms, send_ms, read_ms;
  uint64_t start_us;             /* the exchange's start (rustyssr_upstream_response_seconds) */
  uint64_t tried[4];             /* servers tried (bit i = servers[i]) */
  int tries, max_tries;
  int phase;
  int depth;                     /* inside llhttp_execute */
  /* response head being parsed */
  rs_buf_t hbuf;
  rs__hdr_off_t *hoff;
  size_t nh, hcap;
  int hstate;                    /* 0 none, 1 field, 2 value */
  rs_fetch_header_t *hdrs;
  /* A chunked body's framing, checked before llhttp (which, non-strict,
   * takes any two bytes after a chunk's data for its CRLF): from the pause
   * at the end of the head (chunk_pause) to the end of the body. */
  rs_http_scan_t scan;
  bool scanning, chunk_pause;
  bool idempotent, head_only, keepalive;
  bool paused, head_seen, got_bytes, reused, no_pool, interim, complete, cancelled, ended;
  /* a streamed request body */
  bool body_stream, body_chunked, body_ended, body_wrote, head_sent, drain_wanted, write_failed;
  rs__piece_t *bq, *bq_tail;     /* not written yet (waiting for the connection) */
  size_t bq_bytes;               /* their body bytes */
  size_t inflight, inflight_bytes; /* pieces in uv_write, their body bytes */
};

static _Thread_local char *rs__tl_rbuf;
static llhttp_settings_t rs__settings;
static uv_once_t rs__settings_once = UV_ONCE_INIT;

static void rs__conn_close(rs__uconn_t *c);
static void rs__x_fail(rs_uhttp_t *x, int err, int kind);
static int rs__x_go(rs_uhttp_t *x);
static void rs__x_arm(rs_uhttp_t *x);

/* ------------------------------------------------------------------ runtime */

static void rs__u_maybe_free(rs_upstreams_t *u) {
  if (!u->dead || u->handles > 0 || u->exchanges > 0) return;
  for (size_t i = 0; i < u->nups; i++) free(u->ups[i].servers);
  free(u->ups);
  free(u);
}

static void rs__list_remove(rs__uconn_t **head, rs__uconn_t *c) {
  if (c->prev) c->prev->next = c->next; else *head = c->next;
  if (c->next) c->next->prev = c->prev;
  c->prev = c->next = NULL;
}

static void rs__list_push(rs__uconn_t **head, rs__uconn_t *c) {
  c->prev = NULL;
  c->next = *head;
  if (*head) (*head)->prev = c;
  *head = c;
}

static void rs__on_sweep(uv_timer_t *t) {
  rs_upstreams_t *u = t->data;
  uint64_t now = uv_now(&u->loop->uv);
  for (size_t i = 0; i < u->nups; i++) {
    uint64_t ttl = u->ups[i].conf->idle_timeout_ms;
    for (size_t j = 0; j < u->ups[i].n; j++) {
      rs__server_t *s = &u->ups[i].servers[j];
      rs__uconn_t *c = s->idle;
      while (c != NULL) {
        rs__uconn_t *next = c->next;
        if (now - c->idle_since >= ttl) rs__conn_close(c);
        c = next;
      }
    }
  }
}

static void rs__on_sweep_closed(uv_handle_t *h) {
  rs_upstreams_t *u = h->data;
  u->handles--;
  rs__u_maybe_free(u);
}

static int rs__sockaddr(const rs_addr_t *a, struct sockaddr_storage *ss) {
  memset(ss, 0, sizeof(*ss));
  if (strchr(a->host, ':') != NULL)
    return uv_ip6_addr(a->host, a->port, (struct sockaddr_in6 *)ss);
  return uv_ip4_addr(a->host, a->port, (struct sockaddr_in *)ss);
}

rs_upstreams_t *rs_upstreams_create(rs_loop_t *loop, const rs_config_t *cfg) {
  rs_upstreams_t *u = rs_xcalloc(1, sizeof(*u));
  u->loop = loop;
  u->cfg = cfg;
  u->nups = cfg->nupstreams;
  u->ups = rs_xcalloc(u->nups ? u->nups : 1, sizeof(rs__ups_t));
  for (size_t i = 0; i < u->nups; i++) {
    const rs_upstream_conf_t *uc = &cfg->upstreams[i];
    rs__ups_t *up = &u->ups[i];
    up->conf = uc;
    up->n = uc->nservers;
    up->servers = rs_xcalloc(up->n, sizeof(rs__server_t));
    for (size_t j = 0; j < up->n; j++) {
      rs__server_t *s = &up->servers[j];
      rs__sockaddr(&uc->servers[j], &s->sa);
      if (strchr(uc->servers[j].host, ':'))
        snprintf(s->name, sizeof(s->name), "[%s]:%d", uc->servers[j].host, uc->servers[j].port);
      else
        snprintf(s->name, sizeof(s->name), "%s:%d", uc->servers[j].host, uc->servers[j].port);
      s->stat = rs__stat_get(uc->name, s->name);
      s->keepalive = uc->keepalive;
    }
    /* Loops start at different servers, so that one request per loop does
     * not always land on the first. */
    up->rr = loop->index > 0 ? (size_t)(loop->index - 1) % up->n : 0;
  }
  uv_timer_init(&loop->uv, &u->sweep);
  u->sweep.data = u;
  uv_timer_start(&u->sweep, rs__on_sweep, 1000, 1000);
  uv_unref((uv_handle_t *)&u->sweep);
  u->handles = 1;
  return u;
}

size_t rs_upstreams_busy(const rs_upstreams_t *u) { return u != NULL ? u->exchanges : 0; }

static void rs__on_x_closed(uv_handle_t *h);

void rs_upstreams_destroy(rs_upstreams_t *u) {
  if (u == NULL) return;
  u->dead = true;
  /* The read buffer is the thread's and only used inside a read callback:
   * free it (a newer runtime on this loop allocates it again). */
  free(rs__tl_rbuf);
  rs__tl_rbuf = NULL;
  /* Handles that uv_walk closed (the loop has ended) are done: free them
   * here. The others close now and free themselves in their callbacks. */
  rs__gauge_t *g = rs__gauge(u->loop);
  while (u->orphans != NULL) {   /* the loop has ended: their timers are closed */
    rs_uhttp_t *x = u->orphans;
    u->orphans = x->orphan_next;
    rs__on_x_closed((uv_handle_t *)&x->timer);
  }
  if (!u->sweep_closing) {
    u->sweep_closing = true;
    if (uv_is_closing((uv_handle_t *)&u->sweep)) u->handles--;
    else uv_close((uv_handle_t *)&u->sweep, rs__on_sweep_closed);
  }
  for (size_t i = 0; i < u->nups; i++) {
    for (size_t j = 0; j < u->ups[i].n; j++) {
      rs__server_t *s = &u->ups[i].servers[j];
      while (s->idle != NULL) {
        rs__uconn_t *c = s->idle;
        if (uv_is_closing((uv_handle_t *)&c->tcp)) {
          rs__list_remove(&s->idle, c);
          s->nidle--;
          RS_COUNTER_ADD(g->idle, (uint64_t)-1);
          u->handles--;
          free(c);
        } else {
          rs__conn_close(c);
        }
      }
    }
  }
  rs__uconn_t *c = u->busy;
  while (c != NULL) {
    rs__uconn_t *next = c->next;
    if (uv_is_closing((uv_handle_t *)&c->tcp) && !c->closing) {
      rs__list_remove(&u->busy, c);
      RS_COUNTER_ADD(g->active, (uint64_t)-1);
      u->handles--;
      free(c);
    }
    c = next;
  }
  rs__u_maybe_free(u);
}

/* ------------------------------------------------------------------ health */

static bool rs__server_down(const rs__ups_t *up, const rs__server_t *s, uint64_t now) {
  int max = up->conf->max_fails;
  return max > 0 && s->fails >= max && now - s->checked < up->conf->fail_timeout_ms;
}

static void rs__server_failed(rs_uhttp_t *x, int kind) {
  rs__server_t *s = x->srv;
  rs_loop_t *loop = x->u->loop;
  rs__stat_slot_t *slot = rs__slot(s->stat, loop);
  if (slot) RS_COUNTER_ADD(slot->failures[kind], 1);
  /* A server that answered with a head is up, whatever its body did; and,
   * as nginx, the only server of a group is never marked down. */
  if (x->up == NULL || x->head_seen || x->up->n == 1) return;
  const rs_upstream_conf_t *uc = x->up->conf;
  if (uc->max_fails == 0) return;
  uint64_t now = uv_now(&loop->uv);
  if (s->fails < uc->max_fails && now - s->window_start >= uc->fail_timeout_ms) {
    s->fails = 0;
    s->window_start = now;
  }
  s->fails++;
  s->checked = now;
  if (s->fails == uc->max_fails || s->fails > uc->max_fails)
    rs_log_warn("upstream %s: server %s marked down for %llu ms after %d failure%s", uc->name, s->name,
                (unsigned long long)uc->fail_timeout_ms, s->fails, s->fails == 1 ? "" : "s");
}

static void rs__server_ok(rs__server_t *s) { s->fails = 0; }

/* The next server of up by round robin that is up and not tried yet. */
static rs__server_t *rs__pick(rs_uhttp_t *x, bool *all_down) {
  rs__ups_t *up = x->up;
  uint64_t now = uv_now(&x->u->loop->uv);
  *all_down = true;
  for (size_t k = 0; k < up->n; k++) {
    size_t i = (up->rr + k) % up->n;
    if (i < 256 && (x->tried[i / 64] >> (i % 64)) & 1) continue;
    if (rs__server_down(up, &up->servers[i], now)) continue;
    *all_down = false;
    up->rr = i + 1;
    if (i < 256) x->tried[i / 64] |= 1ull << (i % 64);
    return &up->servers[i];
  }
  return NULL;
}

/* ------------------------------------------------------------------ connections */

static void rs__alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
  (void)h, (void)suggested;
  if (rs__tl_rbuf == NULL) rs__tl_rbuf = rs_xmalloc(RS__RBUF_SIZE);
  *buf = uv_buf_init(rs__tl_rbuf, RS__RBUF_SIZE);
}

static void rs__on_conn_closed(uv_handle_t *h) {
  rs__uconn_t *c = h->data;
  rs_upstreams_t *u = c->u;
  rs__list_remove(&u->busy, c);
  u->handles--;
  free(c);
  rs__u_maybe_free(u);
}

/* Close c (idle or not). Its exchange, if any, must have let go of it. A
 * socket the loop's final uv_walk already closed is left to
 * rs_upstreams_destroy, which frees those. */
static void rs__conn_close(rs__uconn_t *c) {
  if (c->closing || uv_is_closing((uv_handle_t *)&c->tcp)) return;
  c->closing = true;
  rs__gauge_t *g = rs__gauge(c->u->loop);
  if (c->idle) {
    rs__list_remove(&c->srv->idle, c);
    c->srv->nidle--;
    c->idle = false;
    RS_COUNTER_ADD(g->idle, (uint64_t)-1);
  } else {
    rs__list_remove(&c->u->busy, c);
    RS_COUNTER_ADD(g->active, (uint64_t)-1);
  }
  c->x = NULL;
  rs__list_push(&c->u->busy, c); /* closing connections wait there */
  uv_close((uv_handle_t *)&c->tcp, rs__on_conn_closed);
}

static void rs__on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf);

/* Put c back in its server's pool, or close it. */
static void rs__conn_release(rs__uconn_t *c, bool reuse) {
  rs_upstreams_t *u = c->u;
  c->x = NULL;
  if (!reuse || u->dead || c->srv == NULL || c->srv->nidle >= c->srv->keepalive || c->u->loop->draining) {
    rs__conn_close(c);
    return;
  }
  rs__gauge_t *g = rs__gauge(u->loop);
  rs__list_remove(&u->busy, c);
  RS_COUNTER_ADD(g->active, (uint64_t)-1);
  rs__list_push(&c->srv->idle, c);
  c->srv->nidle++;
  c->idle = true;
  c->idle_since = uv_now(&u->loop->uv);
  RS_COUNTER_ADD(g->idle, 1);
  /* Keep reading: a close by the server is seen now, not on the next use. */
  uv_read_start((uv_stream_t *)&c->tcp, rs__alloc, rs__on_read);
}

/* ------------------------------------------------------------------ response parsing */

#define RS__X(p) (((rs__uconn_t *)(p)->data)->x)

static int rs__on_message_begin(llhttp_t *p) {
  rs_uhttp_t *x = RS__X(p);
  x->hbuf.len = 0;
  x->nh = 0;
  x->hstate = 0;
  return 0;
}

static int rs__on_header_field(llhttp_t *p, const char *at, size_t n) {
  rs_uhttp_t *x = RS__X(p);
  if (x->head_seen) return 0;    /* trailers: dropped */
  if (x->hstate != 1) {
    if (x->nh == 256) return HPE_USER;
    if (x->nh == x->hcap) {
      x->hcap = x->hcap ? x->hcap * 2 : 16;
      x->hoff = rs_xrealloc(x->hoff, x->hcap * sizeof(*x->hoff));
    }
    x->hoff[x->nh++] = (rs__hdr_off_t){ x->hbuf.len, 0, 0, 0 };
    x->hstate = 1;
  }
  if (x->hbuf.len + n > 256 * 1024) return HPE_USER;
  rs_buf_append(&x->hbuf, at, n);
  x->hoff[x->nh - 1].nl += n;
  return 0;
}

static int rs__on_header_value(llhttp_t *p, const char *at, size_t n) {
  rs_uhttp_t *x = RS__X(p);
  if (x->head_seen) return 0;
  if (x->nh == 0) return HPE_USER;
  if (x->hstate != 2) {
    x->hoff[x->nh - 1].vo = x->hbuf.len;
    x->hstate = 2;
  }
  if (x->hbuf.len + n > 256 * 1024) return HPE_USER;
  rs_buf_append(&x->hbuf, at, n);
  x->hoff[x->nh - 1].vl += n;
  return 0;
}

static int rs__on_header_value_complete(llhttp_t *p) {
  rs_uhttp_t *x = RS__X(p);
  if (!x->head_seen && x->nh > 0 && x->hstate == 1) x->hoff[x->nh - 1].vo = x->hbuf.len;
  x->hstate = 0;
  return 0;
}

static int rs__on_headers_complete(llhttp_t *p) {
  rs_uhttp_t *x = RS__X(p);
  int status = p->status_code;
  if (status >= 100 && status < 200) {
    if (status == 101) return HPE_USER;  /* we asked for no upgrade */
    x->interim = true;                   /* 100 Continue, 103: skipped */
    return 0;
  }
  x->head_seen = true;
  x->phase = RS__PH_BODY;
  rs__server_ok(x->srv);
  rs__stat_slot_t *slot = rs__slot(x->srv->stat, x->u->loop);
  if (slot) RS_COUNTER_ADD(slot->requests[status / 100 <= 5 ? status / 100 : 5], 1);
  x->hdrs = rs_xrealloc(x->hdrs, (x->nh ? x->nh : 1) * sizeof(*x->hdrs));
  for (size_t i = 0; i < x->nh; i++) {
    x->hdrs[i].name = (rs_str_t){ x->hbuf.p + x->hoff[i].no, x->hoff[i].nl };
    x->hdrs[i].value = (rs_str_t){ x->hoff[i].vl ? x->hbuf.p + x->hoff[i].vo : "", x->hoff[i].vl };
  }
  bool no_body = x->head_only || status == 204 || status == 304;
  bool chunked = !no_body && (p->flags & F_CHUNKED);
  int64_t clen = !no_body && (p->flags & F_CONTENT_LENGTH) ? (int64_t)p->content_length : -1;
  bool to_eof = !no_body && !chunked && clen < 0;
  if (no_body && (p->flags & F_CONTENT_LENGTH) && x->head_only)
    clen = (int64_t)p->content_length;   /* HEAD: the length the GET would have */
  x->cbs.on_head(x->ud, status, x->hdrs, x->nh, clen, chunked, to_eof);
  if (x->cancelled) return HPE_USER;
  if (chunked) {                 /* rs__on_read starts the chunk check here */
    x->chunk_pause = true;
    return HPE_PAUSED;
  }
  return no_body ? 1 : 0;
}

static int rs__on_body(llhttp_t *p, const char *at, size_t n) {
  rs_uhttp_t *x = RS__X(p);
  if (x->cancelled) return HPE_USER;
  x->cbs.on_body(x->ud, at, n);
  return x->cancelled ? HPE_USER : 0;
}

static int rs__on_message_complete(llhttp_t *p) {
  rs_uhttp_t *x = RS__X(p);
  if (x->interim) {
    x->interim = false;
    return 0;
  }
  x->complete = true;
  rs__stat_slot_t *slot = x->srv != NULL ? rs__slot(x->srv->stat, x->u->loop) : NULL;
  if (slot) rs_hist_observe(&slot->response, rs_now_us() - x->start_us);
  return HPE_PAUSED;
}

static void rs__settings_init(void) {
  llhttp_settings_init(&rs__settings);
  rs__settings.on_message_begin = rs__on_message_begin;
  rs__settings.on_header_field = rs__on_header_field;
  rs__settings.on_header_value = rs__on_header_value;
  rs__settings.on_header_value_complete = rs__on_header_value_complete;
  rs__settings.on_headers_complete = rs__on_headers_complete;
  rs__settings.on_body = rs__on_body;
  rs__settings.on_message_complete = rs__on_message_complete;
}

/* ------------------------------------------------------------------ exchanges */

static void rs__on_x_closed(uv_handle_t *h) {
  rs_uhttp_t *x = h->data;
  while (x->bq != NULL) {
    rs__piece_t *pc = x->bq;
    x->bq = pc->next;
    free(pc);
  }
  rs_buf_free(&x->hbuf);
  free(x->hoff);
  free(x->hdrs);
  free(x->head);
  free(x);
}

/* Close x's timer, which frees x; a timer the loop's final uv_walk closed
 * puts x on u->orphans instead (its close callback will not run). */
static void rs__x_close(rs_uhttp_t *x) {
  if (uv_is_closing((uv_handle_t *)&x->timer)) {
    x->orphan_next = x->u->orphans;
    x->u->orphans = x;
    return;
  }
  uv_close((uv_handle_t *)&x->timer, rs__on_x_closed);
}

/* The exchange is over (done, failed or cancelled): let go of everything. */
static void rs__x_end(rs_uhttp_t *x) {
  if (x->ended) return;
  x->ended = true;
  uv_timer_stop(&x->timer);
  rs_upstreams_t *u = x->u;
  u->exchanges--;
  rs__x_close(x);
  rs__u_maybe_free(u);
}

static void rs__x_done(rs_uhttp_t *x, int err) {
  if (x->ended) return;
  void (*cb)(void *, int) = x->cbs.on_done;
  void *ud = x->ud;
  /* the callback sees the headers: end after it */
  cb(ud, err);
  rs__x_end(x);
}

static void rs__on_timer(uv_timer_t *t) {
  rs_uhttp_t *x = t->data;
  uint64_t now = uv_now(&x->u->loop->uv);
  bool overall = x->deadline != 0 && now >= x->deadline;
  switch (x->phase) {
    case RS__PH_CONNECT:
      rs__x_fail(x, -ETIMEDOUT, RS__F_CONNECT_TIMEOUT);
      return;
    case RS__PH_SEND:
      rs__x_fail(x, -ETIMEDOUT, overall ? RS__F_READ_TIMEOUT : RS__F_SEND_TIMEOUT);
      return;
    default:
      rs__x_fail(x, -ETIMEDOUT, RS__F_READ_TIMEOUT);
      return;
  }
}

/* (Re)start the timer for the current phase, capped by the deadline. */
static void rs__x_arm(rs_uhttp_t *x) {
  if (x->ended) return;
  uint64_t ms;
  switch (x->phase) {
    case RS__PH_CONNECT: ms = x->connect_ms; break;
    case RS__PH_SEND:
      /* A streamed body with nothing in flight waits for the client,
       * whose own body timeout runs. */
      ms = x->body_stream && x->inflight == 0 && x->conn != NULL && !x->conn->writing ? 0 : x->send_ms;
      break;
    default: ms = x->read_ms; break;
  }
  if (x->paused && x->phase == RS__PH_BODY) ms = 0;  /* the client is slow, not the server */
  if (x->deadline != 0) {
    uint64_t now = uv_now(&x->u->loop->uv);
    uint64_t left = x->deadline > now ? x->deadline - now : 1;
    if (ms == 0 || left < ms) ms = left;
  }
  if (ms == 0) uv_timer_stop(&x->timer);
  else uv_timer_start(&x->timer, rs__on_timer, ms, 0);
}

static void rs__x_log(rs_uhttp_t *x, int kind, int err) {
  rs_log_info("upstream %s: server %s: %s (%s)", x->up ? x->up->conf->name : "-", x->srv->name,
              kind == RS__F_CONNECT ? "cannot connect"
              : kind == RS__F_CONNECT_TIMEOUT ? "connect timed out"
              : kind == RS__F_SEND_TIMEOUT ? "send timed out"
              : kind == RS__F_READ_TIMEOUT ? "read timed out"
              : kind == RS__F_RESET ? "connection closed early" : "bad response",
              rs_fetch_strerror(err));
}

/* Something went wrong on x's connection: close it, count it, maybe try
 * another server, else tell the caller. */
static void rs__x_fail(rs_uhttp_t *x, int err, int kind) {
  if (x->ended) return;
  rs__uconn_t *c = x->conn;
  x->conn = NULL;
  if (c != NULL) rs__conn_close(c);
  bool stale = kind == RS__F_RESET && x->reused && !x->got_bytes && !x->body_wrote &&
               (x->idempotent || x->phase <= RS__PH_SEND);
  if (stale) {
    /* A pooled connection the server had closed: once more, on a fresh
     * one to the same server; it does not count against the server. */
    rs_log_debug("upstream %s: server %s: pooled connection closed, retrying on a new one",
                 x->up ? x->up->conf->name : "-", x->srv->name);
    x->reused = false;
    x->no_pool = true;
    x->phase = RS__PH_CONNECT;
    x->tries--;
    if (rs__x_go(x) == 0) return;
    rs__x_done(x, -ECONNRESET);
    return;
  }
  rs__x_log(x, kind, err);
  rs__server_failed(x, kind);
  bool retry = x->phase == RS__PH_CONNECT && x->tries < x->max_tries && x->up != NULL &&
               (x->deadline == 0 || uv_now(&x->u->loop->uv) < x->deadline);
  if (retry) {
    bool all_down;
    rs__server_t *s = rs__pick(x, &all_down);
    if (s != NULL) {
      x->srv = s;
      if (rs__x_go(x) == 0) return;
    }
  }
  rs__x_done(x, err);
}

/* Has the whole request gone out (or been handed to the socket)? */
static bool rs__x_body_done(const rs_uhttp_t *x) {
  return !x->body_stream || (x->body_ended && x->bq == NULL && x->inflight == 0);
}

static void rs__x_sent_check(rs_uhttp_t *x) {
  if (x->phase == RS__PH_SEND && x->conn != NULL && !x->conn->writing && rs__x_body_done(x))
    x->phase = RS__PH_WAIT;
  rs__x_arm(x);
}

/* A write failed: the server may have answered already (an early 413, a
 * close after its answer). Stop writing and let the read side decide: a
 * response completes the exchange, a close or reset fails it. */
static void rs__x_write_failed(rs_uhttp_t *x) {
  x->write_failed = true;
  while (x->bq != NULL) {
    rs__piece_t *pc = x->bq;
    x->bq = pc->next;
    free(pc);
  }
  x->bq_tail = NULL;
  x->bq_bytes = 0;
  x->body_ended = true;
  if (x->phase == RS__PH_SEND) x->phase = RS__PH_WAIT;
  rs__uconn_t *c = x->conn;
  if (c != NULL && !x->paused) uv_read_start((uv_stream_t *)&c->tcp, rs__alloc, rs__on_read);
  rs__x_arm(x);
}

static void rs__on_write(uv_write_t *w, int status) {
  rs__uconn_t *c = RS_CONTAINER_OF(w, rs__uconn_t, wreq);
  c->writing = false;
  rs_uhttp_t *x = c->x;
  if (x == NULL || c->closing) return;
  if (status < 0) {
    rs__x_write_failed(x);
    return;
  }
  rs__x_sent_check(x);
}

static void rs__on_piece_written(uv_write_t *w, int status) {
  rs__piece_t *pc = w->data;
  rs__uconn_t *c = pc->c;
  rs_uhttp_t *x = c->x;
  size_t body = pc->body;
  free(pc);
  if (x == NULL || c->closing || x->ended || x->cancelled) return;
  x->inflight--;
  x->inflight_bytes -= body;
  if (status < 0) {
    if (!x->write_failed) rs__x_write_failed(x);
    return;
  }
  if (x->drain_wanted && x->bq_bytes + x->inflight_bytes <= RS__BODY_LOW) {
    x->drain_wanted = false;
    if (x->cbs.on_body_drain != NULL) x->cbs.on_body_drain(x->ud);
    if (x->ended || x->cancelled) return;
  }
  rs__x_sent_check(x);
}

/* Write the queued body pieces on x's connection (the head has gone). */
static void rs__x_flush_body(rs_uhttp_t *x) {
  rs__uconn_t *c = x->conn;
  while (x->bq != NULL) {
    rs__piece_t *pc = x->bq;
    x->bq = pc->next;
    if (x->bq == NULL) x->bq_tail = NULL;
    x->bq_bytes -= pc->body;
    pc->c = c;
    pc->w.data = pc;
    uv_buf_t b = uv_buf_init(pc->data, (unsigned)pc->len);
    x->inflight++;
    x->inflight_bytes += pc->body;
    x->body_wrote = true;
    if (uv_write(&pc->w, (uv_stream_t *)&c->tcp, &b, 1, rs__on_piece_written) != 0) {
      x->inflight--;
      x->inflight_bytes -= pc->body;
      free(pc);
      rs__x_write_failed(x);
      return;
    }
  }
}

bool rs_uhttp_body(rs_uhttp_t *x, const char *p, size_t n) {
  if (x->ended || x->cancelled || !x->body_stream || x->body_ended || x->write_failed) return true;
  if (p == NULL) x->body_ended = true;
  if (p == NULL && !x->body_chunked) {
    if (x->head_sent) rs__x_sent_check(x);
    return true;
  }
  if (p != NULL && n == 0) return true;
  char pre[24];
  int k = 0;
  size_t len;
  if (p == NULL) len = 5;                                  /* "0\r\n\r\n" */
  else if (x->body_chunked) len = (size_t)(k = snprintf(pre, sizeof(pre), "%zx\r\n", n)) + n + 2;
  else len = n;
  rs__piece_t *pc = rs_xmalloc(sizeof(*pc) + len);
  memset(pc, 0, sizeof(*pc));
  pc->len = len;
  pc->body = n;
  if (p == NULL) {
    memcpy(pc->data, "0\r\n\r\n", 5);
  } else if (x->body_chunked) {
    memcpy(pc->data, pre, (size_t)k);
    memcpy(pc->data + k, p, n);
    memcpy(pc->data + k + n, "\r\n", 2);
  } else {
    memcpy(pc->data, p, n);
  }
  if (x->bq_tail) x->bq_tail->next = pc; else x->bq = pc;
  x->bq_tail = pc;
  x->bq_bytes += n;
  if (x->head_sent && x->conn != NULL) {
    rs__x_flush_body(x);
    if (x->ended) return true;
    rs__x_arm(x);
  }
  if (x->bq_bytes + x->inflight_bytes > RS__BODY_HIGH) {
    x->drain_wanted = true;
    return false;
  }
  return true;
}

static void rs__x_send(rs_uhttp_t *x) {
  rs__uconn_t *c = x->conn;
  x->phase = RS__PH_SEND;
  llhttp_init(&c->parser, HTTP_RESPONSE, &rs__settings);
  c->parser.data = c;
  uv_buf_t bufs[2] = { uv_buf_init(x->head, (unsigned)x->head_len),
                       uv_buf_init((char *)(x->body ? x->body : ""), (unsigned)x->body_len) };
  unsigned nb = x->body_len ? 2 : 1;
  /* Try to write it now: a request that fits the socket buffer (nearly all)
   * then needs no uv_write, whose completion costs an epoll_ctl. */
  bool sent = false;
  if (!x->body_stream) {
    size_t total = bufs[0].len + bufs[1].len * (nb - 1);
    int w = uv_try_write((uv_stream_t *)&c->tcp, bufs, nb);
    if (w > 0 && (size_t)w == total) {
      sent = true;
    } else if (w > 0) {        /* partly: the rest goes by uv_write */
      size_t k = (size_t)w;
      if (k >= bufs[0].len) {
        k -= bufs[0].len;
        bufs[0] = uv_buf_init(bufs[1].base + k, (unsigned)(bufs[1].len - k));
        nb = 1;
      } else {
        bufs[0] = uv_buf_init(bufs[0].base + k, (unsigned)(bufs[0].len - k));
      }
    }
  }
  if (!sent) {
    c->writing = true;
    int rc = uv_write(&c->wreq, (uv_stream_t *)&c->tcp, bufs, nb, rs__on_write);
    if (rc != 0) {
      c->writing = false;
      rs__x_fail(x, rc, RS__F_RESET);
      return;
    }
  }
  x->head_sent = true;
  if (x->body_stream) {
    rs__x_flush_body(x);
    if (x->ended) return;
  }
  if (sent) rs__x_sent_check(x);   /* as rs__on_write would: now waiting */
  else rs__x_arm(x);
  if (!x->paused) uv_read_start((uv_stream_t *)&c->tcp, rs__alloc, rs__on_read);
}

static void rs__on_connect(uv_connect_t *req, int status) {
  rs__uconn_t *c = RS_CONTAINER_OF(req, rs__uconn_t, creq);
  rs_uhttp_t *x = c->x;
  if (x == NULL || c->closing) return;
  if (status < 0) {
    rs__x_fail(x, status == UV_ECANCELED ? -ECONNABORTED : status, RS__F_CONNECT);
    return;
  }
  c->connected = true;
  uv_tcp_nodelay(&c->tcp, 1);
  rs__x_send(x);
}

/* Put x on its server: an idle pooled connection, else a new one. Returns
 * 0, or a negative errno when the connect could not even start. */
static int rs__x_go(rs_uhttp_t *x) {
  rs_upstreams_t *u = x->u;
  rs__server_t *s = x->srv;
  rs__gauge_t *g = rs__gauge(u->loop);
  x->tries++;
  x->got_bytes = false;
  x->head_sent = false;
  if (s->idle != NULL && !x->no_pool) {
    rs__uconn_t *c = s->idle;
    rs__list_remove(&s->idle, c);
    s->nidle--;
    c->idle = false;
    RS_COUNTER_ADD(g->idle, (uint64_t)-1);
    RS_COUNTER_ADD(g->active, 1);
    rs__list_push(&u->busy, c);
    c->x = x;
    x->conn = c;
    x->reused = true;
    rs__x_send(x);
    return 0;
  }
  x->reused = false;
  rs__uconn_t *c = rs_xcalloc(1, sizeof(*c));
  c->u = u;
  c->srv = x->up != NULL ? s : NULL;
  uv_tcp_init(&u->loop->uv, &c->tcp);
  c->tcp.data = c;
  u->handles++;
  rs__list_push(&u->busy, c);
  RS_COUNTER_ADD(g->active, 1);
  c->x = x;
  x->conn = c;
  x->phase = RS__PH_CONNECT;
  int rc = uv_tcp_connect(&c->creq, &c->tcp, (const struct sockaddr *)&s->sa, rs__on_connect);
  if (rc != 0) {
    x->conn = NULL;
    rs__conn_close(c);
    rs__x_log(x, RS__F_CONNECT, rc);
    rs__server_failed(x, RS__F_CONNECT);
    return rc;
  }
  rs__x_arm(x);
  return 0;
}

static void rs__x_complete(rs_uhttp_t *x, const char *end_pos, const char *data_end) {
  rs__uconn_t *c = x->conn;
  x->conn = NULL;
  /* Reuse only a connection whose answer ended cleanly, with nothing after
   * it, and that both sides allow to stay open. */
  bool reuse = x->keepalive && llhttp_should_keep_alive(&c->parser) && end_pos == data_end && !c->writing &&
               rs__x_body_done(x) && !x->write_failed;
  rs__conn_release(c, reuse);
  rs__x_done(x, 0);
}

static void rs__on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf) {
  rs__uconn_t *c = s->data;
  rs_uhttp_t *x = c->x;
  if (nread == 0) return;
  if (x == NULL) {
    /* An idle connection: the server closed it, or sent bytes nobody asked
     * for. Either way it is done. */
    if (!c->closing) rs__conn_close(c);
    return;
  }
  if (nread < 0) {
    if (nread == UV_EOF) {
      enum llhttp_errno fe = x->head_seen ? llhttp_finish(&c->parser) : HPE_USER;
      if (fe == HPE_OK || (fe == HPE_PAUSED && x->complete)) {
        /* close-delimited body: its end */
        x->conn = NULL;
        rs__conn_close(c);
        rs__x_done(x, 0);
        return;
      }
      rs__x_fail(x, -ECONNRESET, RS__F_RESET);
      return;
    }
    rs__x_fail(x, nread == UV_ECONNRESET ? -ECONNRESET : (int)nread, RS__F_RESET);
    return;
  }
  x->got_bytes = true;
  if (x->phase == RS__PH_SEND) x->phase = RS__PH_WAIT;  /* answered before the write completed */
  x->depth++;
  const char *from = buf->base, *end = buf->base + nread, *bad = NULL;
  enum llhttp_errno e;
  for (;;) {
    if (x->scanning) {
      size_t used;
      rs_http_scan_rc rc = rs_http_scan(&x->scan, from, (size_t)(end - from), &used);
      if (rc < 0) {              /* a malformed body: the answer is cut off */
        bad = x->scan.why;
        e = HPE_USER;
        break;
      }
      if (rc == RS_HTTP_SCAN_DONE) x->scanning = false;
    }
    e = llhttp_execute(&c->parser, from, (size_t)(end - from));
    if (e != HPE_PAUSED || !x->chunk_pause || x->cancelled) break;
    x->chunk_pause = false;
    from = llhttp_get_error_pos(&c->parser);
    rs_http_scan_chunked(&x->scan);
    x->scanning = true;
    llhttp_resume(&c->parser);
  }
  x->depth--;
  if (x->cancelled) {
    x->conn = NULL;
    rs__conn_close(c);
    rs__x_end(x);
    return;
  }
  if (e == HPE_PAUSED && x->complete) {
    rs__x_complete(x, llhttp_get_error_pos(&c->parser), buf->base + nread);
    return;
  }
  if (e != HPE_OK) {
    if (bad == NULL) bad = llhttp_get_error_reason(&c->parser);
    rs_log_info("upstream %s: server %s: bad response: %s", x->up ? x->up->conf->name : "-", x->srv->name,
                bad ? bad : "?");
    if (x->head_seen) {          /* counted once, as a failure of the body */
      rs__stat_slot_t *slot = rs__slot(x->srv->stat, x->u->loop);
      if (slot) RS_COUNTER_ADD(slot->failures[RS__F_PROTO], 1);
      x->conn = NULL;
      rs__conn_close(c);
      rs__x_done(x, -EPROTO);
      return;
    }
    rs__x_fail(x, -EPROTO, RS__F_PROTO);
    return;
  }
  if (x->cbs.on_read_end != NULL) {
    x->depth++;
    x->cbs.on_read_end(x->ud);
    x->depth--;
    if (x->cancelled) {
      x->conn = NULL;
      rs__conn_close(c);
      rs__x_end(x);
      return;
    }
  }
  rs__x_arm(x);
}

rs_uhttp_t *rs_uhttp_start(rs_upstreams_t *u, const rs_uhttp_opts_t *o, const rs_uhttp_cbs_t *cbs, void *ud,
                           int *err) {
  uv_once(&rs__settings_once, rs__settings_init);
  int dummy;
  if (err == NULL) err = &dummy;
  if (u->dead) {
    free(o->head);
    *err = -ESHUTDOWN;
    return NULL;
  }
  rs__ups_t *up = NULL;
  if (o->upstream != NULL) {
    for (size_t i = 0; i < u->nups && up == NULL; i++)
      if (strcmp(u->ups[i].conf->name, o->upstream) == 0) up = &u->ups[i];
    if (up == NULL) {
      free(o->head);
      *err = -ENOENT;
      return NULL;
    }
  }
  rs_uhttp_t *x = rs_xcalloc(1, sizeof(*x));
  x->start_us = rs_now_us();
  x->u = u;
  x->up = up;
  x->cbs = *cbs;
  x->ud = ud;
  x->head = o->head;
  x->head_len = o->head_len;
  x->body = o->body;
  x->body_len = o->body_len;
  x->idempotent = o->idempotent;
  x->head_only = o->head_only;
  x->body_stream = o->body_stream;
  x->body_chunked = o->body_stream && o->body_chunked;
  x->keepalive = o->keepalive;
  x->deadline = o->deadline_ms;
  if (up != NULL) {
    x->connect_ms = up->conf->connect_timeout_ms;
    x->send_ms = up->conf->send_timeout_ms;
    x->read_ms = up->conf->read_timeout_ms;
    x->max_tries = 1 + up->conf->retries;
    if ((size_t)x->max_tries > up->n) x->max_tries = (int)up->n;
  } else {
    x->connect_ms = o->connect_timeout_ms ? o->connect_timeout_ms : RS__URL_TIMEOUT_MS;
    x->send_ms = o->send_timeout_ms ? o->send_timeout_ms : RS__URL_TIMEOUT_MS;
    x->read_ms = o->read_timeout_ms ? o->read_timeout_ms : RS__URL_TIMEOUT_MS;
    x->max_tries = 1;
    memcpy(&x->one.sa, o->addr, o->addr->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6)
                                                               : sizeof(struct sockaddr_in));
    snprintf(x->one.name, sizeof(x->one.name), "%s", o->addr_name ? o->addr_name : "?");
    x->one.stat = NULL;
    x->srv = &x->one;
  }
  uv_timer_init(&u->loop->uv, &x->timer);
  x->timer.data = x;
  u->exchanges++;
  int rc = 0;
  for (;;) {
    if (up != NULL) {
      bool all_down;
      x->srv = rs__pick(x, &all_down);
      if (x->srv == NULL) {
        rc = rc != 0 ? rc : -EHOSTUNREACH;
        if (all_down && rc == -EHOSTUNREACH)
          rs_log_info("upstream %s: no server up (all marked down)", up->conf->name);
        break;
      }
    }
    rc = rs__x_go(x);
    if (rc == 0) return x;
    if (up == NULL || x->tries >= x->max_tries) break;
  }
  /* Failed at once: no callback. */
  x->ended = true;
  u->exchanges--;
  rs__x_close(x);
  *err = rc;
  return NULL;
}

void rs_uhttp_pause(rs_uhttp_t *x, bool paused) {
  if (x->ended || x->paused == paused) return;
  x->paused = paused;
  rs__uconn_t *c = x->conn;
  if (c != NULL && !c->closing && c->connected) {
    if (paused) uv_read_stop((uv_stream_t *)&c->tcp);
    else if (x->phase >= RS__PH_SEND) uv_read_start((uv_stream_t *)&c->tcp, rs__alloc, rs__on_read);
  } else if (c != NULL && !c->closing && x->reused) {
    if (paused) uv_read_stop((uv_stream_t *)&c->tcp);
    else uv_read_start((uv_stream_t *)&c->tcp, rs__alloc, rs__on_read);
  }
  rs__x_arm(x);
}

void rs_uhttp_cancel(rs_uhttp_t *x) {
  if (x == NULL || x->ended || x->cancelled) return;
  x->cancelled = true;
  if (x->depth > 0) return;      /* rs__on_read finishes it */
  rs__uconn_t *c = x->conn;
  x->conn = NULL;
  if (c != NULL) rs__conn_close(c);
  rs__x_end(x);
}

const char *rs_uhttp_server(const rs_uhttp_t *x) { return x->srv != NULL ? x->srv->name : "-"; }

bool rs_uhttp_head_seen(const rs_uhttp_t *x) { return x->head_seen; }

/* ------------------------------------------------------------------ for rs_fetch.c */

size_t rs_fetch_inflight(const rs_loop_t *loop) { return RS_COUNTER_GET(rs__gauge(loop)->fetch_inflight); }

void rs__upstream_fetch_gauge(const rs_loop_t *loop, int delta) {
  RS_COUNTER_ADD(rs__gauge(loop)->fetch_inflight, (uint64_t)(int64_t)delta);
}

const rs_config_t *rs__upstreams_cfg(const rs_upstreams_t *u) { return u->cfg; }
