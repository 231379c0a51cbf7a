/* core/upstream/rs_upstream_int.h — private to the upstream files (libuv's
 * uv-common.h style): the runtime's types and what crosses between
 *   rs_upstream.c        the runtime: upstreams, servers, their pools of idle
 *                        connections, passive health, the idle sweep
 *   rs_uhttp.c           one exchange: connect or reuse, write the request
 *                        (streamed bodies too), parse the response with llhttp
 *   rs_upstream_stats.c  per-server counters and per-loop gauges, the scrape
 * Nothing outside core/upstream/ includes it. Loop thread unless said. */
#ifndef RS_UPSTREAM_INT_H
#define RS_UPSTREAM_INT_H

/* Include rs_upstream.h first: a private header leaves its module's public one to
 * the files that include it, so the two never include each other. */
#ifndef RS_UPSTREAM_H
#error "include rs_upstream.h before rs_upstream_int.h"
#endif


#include "rs_config.h"
#include "rs_hist.h"
#include "rs_http.h"
#include "rs_log.h"
#include "rs_loop.h"
#include "rs_tls_client.h"

#include <errno.h>
#include <llhttp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RS__RBUF_SIZE (64 * 1024)
#define RS__MAX_SLOTS 1025       /* loop indexes 0..1024 (workers <= 1024) */
#define RS__BODY_HIGH (256 * 1024)   /* streamed request body queued: stop the client */
#define RS__BODY_LOW (64 * 1024)     /* ... and let it go on */

/* Failure kinds: the metric label and what the log says. */
#define RS__FAIL_MAP(XX)                                  \
  XX(CONNECT, "connect", "cannot connect")                \
  XX(CONNECT_TIMEOUT, "connect_timeout", "connect timed out") \
  XX(SEND_TIMEOUT, "send_timeout", "send timed out")      \
  XX(READ_TIMEOUT, "read_timeout", "read timed out")      \
  XX(RESET, "reset", "connection closed early")           \
  XX(PROTO, "bad_response", "bad response")               \
  XX(TLS, "tls", "TLS handshake failed")

enum {
#define XX(n, label, msg) RS__F_##n,
  RS__FAIL_MAP(XX)
#undef XX
  RS__F_MAX
};

/* ------------------------------------------------------------------ metrics
 * (rs_upstream_stats.c) */
/* TLS handshakes to upstream servers, by result. */
enum { RS__TLS_OK = 0, RS__TLS_VERIFY, RS__TLS_ERROR, RS__TLS_MAX };

typedef struct {
  uint64_t requests[6];          /* by status class */
  uint64_t failures[RS__F_MAX];
  uint64_t tls[RS__TLS_MAX];     /* handshakes by result */
  uint64_t tls_resumed;          /* of the good ones, resumed */
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
  uint64_t url_tls[RS__TLS_MAX], url_tls_resumed;   /* handshakes of fetches of URLs */
} __attribute__((aligned(RS_CACHELINE))) rs__gauge_t;

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
  rs_tls_t *tls;                 /* an https:// server's TLS (rs_utls.c); NULL: cleartext */
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
  const char *host;              /* TLS: the name its certificate must carry (the config's) */
  rs_tlsc_slot_t sess;           /* TLS: the last session it gave, to resume */
};

typedef struct {
  const rs_upstream_conf_t *conf;
  rs__server_t *servers;
  size_t n;
  size_t rr;
  rs_tlsc_ctx_t *tls;            /* https:// servers: their context (NULL: it failed to load) */
} rs__ups_t;

/* Fetches of https:// URLs: their contexts by (ca, verify), and the last
 * session of each (context, host, port, sni), a few of each, the least
 * recently used replaced (rs_utls.c). */
#define RS__URL_CTXS 8
#define RS__URL_SESS 32
typedef struct {
  char *ca;                      /* NULL: the system store */
  bool verify;
  rs_tlsc_ctx_t *ctx;
  uint64_t used;
} rs__url_ctx_t;
typedef struct {
  rs_tlsc_ctx_t *ctx;
  char key[320];                 /* "host:port sni" */
  rs_tlsc_slot_t slot;
  uint64_t used;
} rs__url_sess_t;

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
  rs__url_ctx_t url_ctx[RS__URL_CTXS];
  rs__url_sess_t url_sess[RS__URL_SESS];
  uint64_t url_tick;
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
  /* TLS to a URL's server (copies): its name, SNI and CA */
  char *tls_host, *tls_sni, *tls_ca;
  bool tls, tls_verify;
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

/* Lists of connections (a server's idle ones, the runtime's busy ones). */
static inline void rs__ulist_remove(rs__uconn_t **head, rs__uconn_t *c) {
  if (c->prev) c->prev->next = c->next; else *head = c->next;
  if (c->next) c->next->prev = c->prev;
  c->prev = c->next = NULL;
}

static inline void rs__ulist_push(rs__uconn_t **head, rs__uconn_t *c) {
  c->prev = NULL;
  c->next = *head;
  if (*head) (*head)->prev = c;
  *head = c;
}

static inline void rs__ups_server_ok(rs__server_t *s) { s->fails = 0; }

/* rs_upstream_stats.c */
/* The counters of (upstream, server), made on first use; they live as
 * long as the process. Any thread. */
rs__stat_t *rs__ustat_get(const char *upstream, const char *server);
/* Loop's slot of s (NULL for none: s NULL or a loop beyond the slots). */
rs__stat_slot_t *rs__ustat_slot(rs__stat_t *s, const rs_loop_t *loop);
/* Loop's connection and fetch gauges. */
rs__gauge_t *rs__ugauge(const rs_loop_t *loop);

/* rs_upstream.c */
/* Free u once it is dead and its last handle and exchange are gone. */
void rs__ups_maybe_free(rs_upstreams_t *u);
/* Count a failure of x's server (metrics, passive health). */
void rs__ups_server_failed(rs_uhttp_t *x, int kind);
/* The next server of x's upstream by round robin that is up and not
 * tried yet; NULL (all_down: none is up) when none is left. */
rs__server_t *rs__ups_pick(rs_uhttp_t *x, bool *all_down);
/* The loop thread's one read buffer (libuv's alloc callback). */
void rs__uconn_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf);
/* Close c (idle or not); its exchange, if any, must have let go of it. */
void rs__uconn_close(rs__uconn_t *c);
/* Put c back in its server's pool (reuse), or close it. */
void rs__uconn_release(rs__uconn_t *c, bool reuse);

/* Free a closed connection (its TLS too). */
void rs__uconn_free(rs__uconn_t *c);

/* rs_uhttp.c */
/* An exchange's timer closed: free the exchange. */
void rs__uhttp_on_closed(uv_handle_t *h);
/* Reads on a connection: its exchange's response, or a pooled one's close. */
void rs__uhttp_on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf);
/* What a read means for x: response bytes (false when the exchange ended
 * or let go of c), the server's end (nread < 0), the read's end. */
bool rs__x_parse(rs_uhttp_t *x, rs__uconn_t *c, const char *p, size_t n);
void rs__x_eof(rs_uhttp_t *x, rs__uconn_t *c, ssize_t nread);
void rs__x_read_end(rs_uhttp_t *x, rs__uconn_t *c);
void rs__x_fail(rs_uhttp_t *x, int err, int kind);
void rs__x_send(rs_uhttp_t *x);
void rs__x_log(rs_uhttp_t *x, int kind, int err);

/* rs_utls.c: TLS to https:// servers, between the socket and the exchange */
/* The runtime's contexts: made at its creation, freed with it. */
void rs__utls_create(rs_upstreams_t *u);
void rs__utls_destroy(rs_upstreams_t *u);
/* A new connection of x: its TLS (c->tls) when x's server is https://.
 * Returns 0, or a negative errno (no context). */
int rs__utls_attach(rs_uhttp_t *x, rs__uconn_t *c);
/* The socket connected: start the handshake; rs__x_send follows it. */
void rs__utls_connected(rs_uhttp_t *x, rs__uconn_t *c);
/* n bytes read from a TLS connection's socket. */
void rs__utls_on_read(rs__uconn_t *c, char *base, size_t n, size_t cap);
/* Write bufs on c (encrypted on a TLS one), cb(req, status) when done;
 * *sent (when not NULL) true if it all went at once (then cb never runs).
 * Returns 0 or a libuv error. */
int rs__uconn_write(rs__uconn_t *c, uv_write_t *req, uv_buf_t *bufs, unsigned n, uv_write_cb cb, bool *sent);
/* The connect timeout fired: true (counted and logged) when x's
 * connection was connected and in its TLS handshake. */
bool rs__utls_timed_out(rs_uhttp_t *x);
/* Before c closes: a close_notify when it can go at once. */
void rs__utls_close(rs__uconn_t *c);

#endif
