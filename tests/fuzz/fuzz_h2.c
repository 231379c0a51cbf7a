/* tests/fuzz/fuzz_h2.c — libFuzzer target over the HTTP/2 front end
 * (core/http/rs_h2.c, rs_h2_out.c): the preface switch, nghttp2's frames
 * with our callbacks, requests made from streams (pseudo-headers, Host,
 * cookies, limits), request bodies buffered or streamed (with pauses),
 * answers in memory, streamed (with flow control) and deferred, resets,
 * GOAWAY, drain, timers and close with streams in flight.
 *
 * Same harness as fuzz_request.c (it includes the core/http files and
 * drives a real rs_conn_t over an AF_UNIX socketpair); the listener has
 * http2 = true and the client preface is sent first, so the input is the
 * frames that follow it.
 *
 * Input layout:
 *   byte 0  flags:  1 half-close after the input (EOF path)
 *                   2 fire the connection's timer at the end
 *                   4 the handler defers odd requests, answered at the end
 *                   8 drain (SIGTERM) half way through
 *                  16 the client stops reading (and closes at the end)
 *                  32 answers are streamed (rs_req_stream_*), in pieces
 *                  64 the answers go through the compression filter
 *                 128 request bodies are streamed to on_body, paused
 *                     and resumed
 *   byte 1  split:  how the rest is cut into writes (as fuzz_request.c)
 *   rest    the frames the client sends after its preface
 *
 * Beyond the sanitizers: the answer stream starts with a SETTINGS frame,
 * the connection list is empty once the connection closed, and every
 * request a handler gets has a path starting with '/' or "*". */
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

#include <fcntl.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#define FZ_MAX_DEFERRED 64

static rs_http_opts_t fz_cfg;
static rs_http_listen_t fz_listen;
static rs_loop_t *fz_loop;
static rs_req_t *fz_deferred[FZ_MAX_DEFERRED];
static size_t fz_ndeferred;
static unsigned fz_flags;
static uint64_t fz_sink;
static const char fz_body[] = "0123456789abcdefghijklmnopqrstuvwxyz";

static void fz_touch(const rs_str_t *s) {
  for (size_t i = 0; i < s->len; i++) fz_sink += (unsigned char)s->p[i];
}

static void fz_answer(rs_req_t *r) {
  static const int st[] = { 200, 204, 304, 404, 500, 100, 999 };
  int status = st[r->path.len % (sizeof(st) / sizeof(st[0]))];
  if (fz_flags & 64) {
    static rs_compress_opts_t opts;
    if (!opts.on) {
      rs_compress_opts_default(&opts);
      opts.min_length = 0;
    }
    r->compress = &opts;
  }
  if (fz_flags & 32) {
    size_t n = r->query.len;
    rs_req_stream_start_body(r, status, "Content-Type: text/html\r\nConnection: x\r\n", 40,
                             (n & 1) ? -1 : (int64_t)(n * sizeof(fz_body)), fz_body, n & 1 ? 3 : 0);
    for (size_t i = 0; i < n; i++) rs_req_stream_write(r, fz_body, sizeof(fz_body));
    rs_req_stream_end(r, !(n & 2) || (n & 1) == 0);
    return;
  }
  rs_req_respond_static(r, status, "Content-Type: text/html\r\nETag: \"f\"\r\nKeep-Alive: x\r\n",
                        r->body ? r->body : fz_body, r->body ? r->body_len : r->query.len % sizeof(fz_body));
}

static void fz_on_body(rs_req_t *r, const char *p, size_t n) {
  for (size_t i = 0; i < n; i++) fz_sink += (unsigned char)p[i];
  if (n == 0) {                            /* the end: answer */
    r->on_body = NULL;
    fz_answer(r);
    return;
  }
  rs_req_body_pause(r, (fz_sink & 3) == 0);
}

static void fz_on_abort(rs_req_t *r) {
  for (size_t i = 0; i < fz_ndeferred; i++)
    if (fz_deferred[i] == r) return;       /* answered (freed) at the end */
  if (r->on_body != NULL) {                /* streamed body: its answer frees it */
    r->on_body = NULL;
    rs_req_respond_static(r, 500, NULL, NULL, 0);
  }
}

static void fz_on_head(rs_req_t *r) {
  r->stream_body = (fz_flags & 128) != 0;
}

static void fz_handler(rs_req_t *r) {
  if (r->path.len == 0 || (r->path.p[0] != '/' && r->path.p[0] != '*')) {
    fprintf(stderr, "bad path reached the handler: \"%.*s\"\n", (int)r->path.len, r->path.p);
    abort();
  }
  fz_touch(&r->method);
  fz_touch(&r->url);
  fz_touch(&r->query);
  fz_touch(&r->host);
  for (size_t i = 0; i < r->nheaders; i++) {
    fz_touch(&r->headers[i].name);
    fz_touch(&r->headers[i].value);
  }
  for (size_t i = 0; i < r->body_len && r->body; i++) fz_sink += (unsigned char)r->body[i];
  r->on_abort = fz_on_abort;
  if (r->body_streamed) {
    r->on_body = fz_on_body;
    return;
  }
  if ((fz_flags & 4) && (r->id & 1) && fz_ndeferred < FZ_MAX_DEFERRED) {
    fz_deferred[fz_ndeferred++] = r;
    return;
  }
  fz_answer(r);
}

static void fz_answer_deferred(void) {
  while (fz_ndeferred > 0) {
    rs_req_t *r = fz_deferred[--fz_ndeferred];
    r->on_abort = NULL;
    fz_answer(r);
  }
}

static void fz_noop_async(uv_async_t *a) { (void)a; }

static void fz_init(void) {
  signal(SIGPIPE, SIG_IGN);
  rs_http_init();
  rs_conn_global_init();
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
  fz_listen.http2 = true;
  fz_cfg.listen = &fz_listen;
  fz_cfg.nlisten = 1;

  fz_loop = rs_xcalloc(1, sizeof(*fz_loop));
  if (uv_loop_init(&fz_loop->uv) != 0) abort();
  fz_loop->index = 1;
  fz_loop->http = &fz_cfg;
  fz_loop->handler = fz_handler;
  fz_loop->on_head = fz_on_head;
  uv_async_init(&fz_loop->uv, &fz_loop->wake, fz_noop_async);
  uv_unref((uv_handle_t *)&fz_loop->wake);
  fz_loop->date_len = rs_http_date_line(fz_loop->date, 1795482123);
  snprintf(fz_loop->log_time, sizeof(fz_loop->log_time), "24/Nov/2026:01:02:03 +0000");
}

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

static void fz_drain(int fd, fz_out_t *out) {
  char buf[65536];
  for (;;) {
    ssize_t n = read(fd, buf, sizeof(buf));
    if (n <= 0) return;
    for (ssize_t i = 0; i < n && out->got < 9; i++) out->head[out->got++] = (unsigned char)buf[i];
    if (out->got >= 9 && out->head[3] != 4) {   /* the server's preface: SETTINGS */
      fprintf(stderr, "answer stream starts with frame type %u\n", out->head[3]);
      abort();
    }
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
      if (errno != EAGAIN) return;
      if (fz_flags & 16) return;
      fz_spin(peer, out);
      if (fz_loop->conns == NULL) return;
      continue;
    }
    p += w;
    n -= (size_t)w;
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
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
  static const char preface[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
  fz_send(sv[1], (const uint8_t *)preface, split & 4 ? 3 : sizeof(preface) - 1, &out);
  if (split & 4) {                         /* the preface cut: the sniff waits */
    fz_spin(sv[1], &out);
    fz_send(sv[1], (const uint8_t *)preface + 3, sizeof(preface) - 4, &out);
  }

  uint32_t rnd = 0x9e3779b9u ^ split;
  size_t off = 0;
  bool drained = false;
  while (off < size && fz_loop->conns != NULL) {
    size_t n;
    switch (split & 3) {
      case 0: n = size - off; break;
      case 1: n = 1; break;
      case 2: n = (split >> 3) + 1; break;
      default:
        rnd = rnd * 1664525u + 1013904223u;
        n = 1 + (rnd >> 16) % 97;
        break;
    }
    if (n > size - off) n = size - off;
    fz_send(sv[1], data + off, n, &out);
    off += n;
    fz_spin(sv[1], &out);
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
  fz_answer_deferred();
  fz_spin(sv[1], &out);
  if ((fz_flags & 2) && fz_loop->conns != NULL) {
    rs_conn_t *c = fz_loop->conns;
    uv_timer_stop(&c->timer);
    if (c->h2 != NULL) rs__h2_on_timer(&c->timer);
    else rs__on_timer(&c->timer);
    fz_spin(sv[1], &out);
  }
  if (fz_flags & 16) {
    close(sv[1]);
    sv[1] = -1;
    fz_spin(-1, &out);
  }
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
