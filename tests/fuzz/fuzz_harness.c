/* tests/fuzz/fuzz_harness.c — the fuzz targets' shared harness (see
 * fuzz_harness.h): the core/http files under test, a loop, a connection
 * over a socketpair, the input cut into writes, and the tear-down. */
#include "../../core/http/rs_access_log.c"
#include "../../core/http/rs_conn.c"
#include "../../core/http/rs_conn_io.c"
#include "../../core/http/rs_h2.c"
#include "../../core/http/rs_h2_body.c"
#include "../../core/http/rs_h2_out.c"
#include "../../core/http/rs_parse.c"
#include "../../core/http/rs_req.c"
#include "../../core/http/rs_stream.c"
#include "../../core/http/rs_write.c"

#include "fuzz_harness.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#define FZ_MAX_DEFERRED 64

unsigned fz_flags;
uint64_t fz_sink;

static const fz_target_t *fz_t;
static rs_http_opts_t fz_cfg;
static rs_http_listen_t fz_listen;
static rs_loop_t *fz_loop;
static rs_req_t *fz_kept[FZ_MAX_DEFERRED];
static size_t fz_nkept;
static bool fz_debug;            /* FUZZ_DEBUG=1: print the answers */

/* ------------------------------------------------------------------ for the targets */

void fz_touch(const rs_str_t *s) {
  for (size_t i = 0; i < s->len; i++) fz_sink += (unsigned char)s->p[i];
}

void fz_touch_request(const rs_req_t *r) {
  fz_touch(&r->method);
  fz_touch(&r->url);
  fz_touch(&r->path);
  fz_touch(&r->query);
  fz_touch(&r->host);
  for (size_t i = 0; i < r->nheaders; i++) {
    fz_touch(&r->headers[i].name);
    fz_touch(&r->headers[i].value);
  }
  for (size_t i = 0; i < r->body_len && r->body != NULL; i++) fz_sink += (unsigned char)r->body[i];
  (void)rs_req_header(r, "user-agent");
}

bool fz_defer(rs_req_t *r) {
  if (!(fz_flags & 4) || !(r->id & 1) || fz_nkept >= FZ_MAX_DEFERRED) return false;
  fz_kept[fz_nkept++] = r;
  return true;
}

bool fz_deferred(const rs_req_t *r) {
  for (size_t i = 0; i < fz_nkept; i++)
    if (fz_kept[i] == r) return true;
  return false;
}

const rs_compress_opts_t *fz_compress_all(void) {
  static rs_compress_opts_t opts;
  if (!opts.on) {
    rs_compress_opts_default(&opts);
    opts.min_length = 0;
  }
  return &opts;
}

static void fz_answer_deferred(void) {
  while (fz_nkept > 0) fz_t->answer(fz_kept[--fz_nkept]);
}

/* ------------------------------------------------------------------ the loop and the connection */

static void fz_noop_async(uv_async_t *a) { (void)a; }

static void fz_init(void) {
  signal(SIGPIPE, SIG_IGN);
  fz_debug = getenv("FUZZ_DEBUG") != NULL;
  rs_http_init();
  rs_conn_global_init();
  /* Log every refusal and access line, so their formatting runs too. */
  rs_log_open("/dev/null", RS_LOG_DEBUG);
  rs_log_access_open("/dev/null");

  memset(&fz_cfg, 0, sizeof(fz_cfg));
  fz_cfg.limits.url = 512;
  fz_cfg.limits.header_bytes = 2048;
  fz_cfg.limits.headers = 16;
  fz_cfg.limits.body = 4096;
  fz_cfg.limits.pipeline = 4;
  fz_cfg.timeouts.header = 10000;
  fz_cfg.timeouts.body = 30000;
  fz_cfg.timeouts.keepalive = 75000;
  fz_cfg.timeouts.write = 30000;
  fz_listen.http2 = fz_t->http2;
  fz_cfg.listen = &fz_listen;
  fz_cfg.nlisten = 1;

  fz_loop = rs_xcalloc(1, sizeof(*fz_loop));
  if (uv_loop_init(&fz_loop->uv) != 0) abort();
  fz_loop->index = 1;
  fz_loop->http = &fz_cfg;
  fz_loop->handler = fz_t->handler;
  fz_loop->on_head = fz_t->on_head;
  uv_async_init(&fz_loop->uv, &fz_loop->wake, fz_noop_async);
  uv_unref((uv_handle_t *)&fz_loop->wake);
  fz_loop->date_len = rs_http_date_line(fz_loop->date, 1795482123);
  snprintf(fz_loop->log_time, sizeof(fz_loop->log_time), "24/Nov/2026:01:02:03 +0000");
}

/* rs_conn_accept, with uv_tcp_open on our end of the pair instead of
 * uv_accept on a listener. */
static rs_conn_t *fz_conn_open(int fd) {
  rs_loop_t *loop = fz_loop;
  rs_conn_t *c = rs_xcalloc(1, sizeof(*c));
  c->loop = loop;
  uv_tcp_init(&loop->uv, &c->tcp);
  c->tcp.data = c;
  if (uv_tcp_open(&c->tcp, fd) != 0) abort();
  uv_timer_init(&loop->uv, &c->timer);
  c->timer.data = c;
  c->handles = 2;
  rs__conn_parser_init(c);
  c->next = loop->conns;
  if (loop->conns) loop->conns->prev = c;
  loop->conns = c;
  loop->nconns++;
  RS_COUNTER_ADD(loop->counters.conns_opened, 1);
  snprintf(c->peer, sizeof(c->peer), "fuzz:1");
  rs__conn_read_start(c);
  rs__conn_arm(c);
  return c;
}

typedef struct {
  unsigned char head[9];
  size_t got;
} fz_out_t;

/* Read and check what the server sent so far. */
static void fz_drain(int fd, fz_out_t *out) {
  char buf[65536];
  for (;;) {
    ssize_t n = read(fd, buf, sizeof(buf));
    if (n <= 0) return;
    if (fz_debug) fprintf(stderr, "%.*s", (int)n, buf);
    bool first = out->got < 9;
    for (ssize_t i = 0; i < n && out->got < 9; i++) out->head[out->got++] = (unsigned char)buf[i];
    if (first && out->got == 9) fz_t->check_start(out->head);
    fz_sink += (unsigned char)buf[n - 1];
  }
}

static void fz_spin(int peer, fz_out_t *out) {
  for (int i = 0; i < 3; i++) uv_run(&fz_loop->uv, UV_RUN_NOWAIT);
  if (!(fz_flags & 16) && peer >= 0) fz_drain(peer, out);
  uv_run(&fz_loop->uv, UV_RUN_NOWAIT);
}

static void fz_send(int peer, const uint8_t *p, size_t n, fz_out_t *out) {
  while (n > 0) {
    ssize_t w = write(peer, p, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      if (errno != EAGAIN) return;           /* the server closed: drop */
      /* Paused with full buffers and a client that does not read. */
      if (fz_flags & 16) return;
      fz_spin(peer, out);
      if (fz_loop->conns == NULL) return;
      continue;
    }
    p += w;
    n -= (size_t)w;
  }
}

/* The client's preface, whole or cut after "PRI" (the sniff waits). */
static void fz_preface(int peer, unsigned split, fz_out_t *out) {
  static const char preface[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
  fz_send(peer, (const uint8_t *)preface, split & 4 ? 3 : sizeof(preface) - 1, out);
  if (split & 4) {
    fz_spin(peer, out);
    fz_send(peer, (const uint8_t *)preface + 3, sizeof(preface) - 4, out);
  }
}

/* The connection's timer fires now (408, linger, GOAWAY). */
static void fz_fire_timer(rs_conn_t *c) {
  uv_timer_stop(&c->timer);
  if (c->h2 != NULL) rs__h2_on_timer(&c->timer);
  else rs__on_timer(&c->timer);
}

/* ------------------------------------------------------------------ one input */

int fz_run(const fz_target_t *t, const uint8_t *data, size_t size) {
  fz_t = t;
  if (fz_loop == NULL) fz_init();
  if (size < 2) return 0;
  fz_flags = data[0];
  unsigned split = data[1];
  data += 2;
  size -= 2;

  int sv[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) abort();
  fcntl(sv[1], F_SETFL, O_NONBLOCK);
  fz_conn_open(sv[0]);
  fz_out_t out = { .got = 0 };
  if (t->http2) fz_preface(sv[1], split, &out);

  uint32_t rnd = 0x9e3779b9u ^ split;
  size_t off = 0;
  bool drained = false;
  while (off < size && fz_loop->conns != NULL) {
    size_t n;
    switch (split & 3) {
      case 0: n = size - off; break;
      case 1: n = 1; break;
      case 2: n = (split >> t->fixed_shift) + 1; break;
      default:
        rnd = rnd * 1664525u + 1013904223u;
        n = 1 + (rnd >> 16) % 97;
        break;
    }
    if (n > size - off) n = size - off;
    fz_send(sv[1], data + off, n, &out);
    off += n;
    fz_spin(sv[1], &out);
    if ((fz_flags & 4) && (off & 1)) fz_answer_deferred();
    if ((fz_flags & 8) && !drained && off >= size / 2) {
      fz_loop->draining = true;
      rs_conn_drain_all(fz_loop, false);
      drained = true;
    }
  }
  fz_spin(sv[1], &out);
  if ((fz_flags & 1) && fz_loop->conns != NULL) {
    shutdown(sv[1], SHUT_WR);
    fz_spin(sv[1], &out);
  }
  /* Answer what was deferred; that resumes a paused parser, which may
   * dispatch (and defer) more. */
  for (int i = 0; i < 64 && fz_nkept > 0; i++) {
    fz_answer_deferred();
    fz_spin(sv[1], &out);
  }
  if ((fz_flags & 2) && fz_loop->conns != NULL) {
    fz_fire_timer(fz_loop->conns);
    fz_spin(sv[1], &out);
  }
  if (fz_flags & 16) {
    close(sv[1]);                            /* pending writes now fail */
    sv[1] = -1;
    fz_spin(-1, &out);
  }

  /* Tear down: close whatever is left, free orphaned requests, let libuv
   * run the close callbacks (which free the connection). */
  while (fz_loop->conns != NULL) rs__conn_close(fz_loop->conns);
  fz_answer_deferred();
  for (int i = 0; i < 4; i++) uv_run(&fz_loop->uv, UV_RUN_NOWAIT);
  if (fz_loop->nconns != 0) {
    fprintf(stderr, "nconns %zu after close\n", fz_loop->nconns);
    abort();
  }
  if (sv[1] >= 0) close(sv[1]);
  fz_loop->draining = false;
  rs_conn_flush_access_log(fz_loop);
  return 0;
}
