/* tests/fuzz/fuzz_request.c — libFuzzer target over the HTTP/1.1 front end:
 * llhttp parsing with our rs__on_* callbacks, header finishing, limits, the
 * refusal path (rs__conn_fail and its error page), pipelining with pause and
 * resume, ordered responses, 100-continue, lingering, EOF and timeouts.
 *
 * It includes the HTTP/1 files of core/http/ (rs_conn.c and the files split
 * from it, rs_conn_int.h; unit-test style, STYLE.md "Tests") and drives
 * a real rs_conn_t on a real libuv loop; the socket is one end of an
 * AF_UNIX socketpair opened with uv_tcp_open, so uv_write, uv_try_write,
 * uv_shutdown and reads all take their real paths while the fuzzer writes
 * the request bytes into the other end and reads the answers back.
 *
 * Input layout:
 *   byte 0  flags:  1 half-close after the input (EOF path)
 *                   2 fire the connection's timer at the end (408 / linger)
 *                   4 the handler defers odd requests, answered later in
 *                     reverse order (out-of-order answers stay in order)
 *                   8 drain (SIGTERM) half way through
 *                  16 the client stops reading answers (and closes its end
 *                     at the end, so pending writes fail)
 *                  32 the handler answers 204/304/HEAD-ish statuses too
 *                  64 the answers go through the compression filter
 *   byte 1  split:  how the rest is cut into writes: low 2 bits pick whole,
 *                   1-byte, fixed (split >> 2) + 1, or pseudo-random sizes
 *   rest    the bytes the client sends
 *
 * Invariant checked beyond the sanitizers: every answer stream starts with
 * "HTTP/1.1 " (no bytes before or outside an answer), the loop's
 * connection list is empty once the connection has closed, and every request
 * a handler gets has a canonical path and a normalised Host
 * (fz_check_head). */
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
static rs_loop_t *fz_loop;
static rs_req_t *fz_deferred[FZ_MAX_DEFERRED];
static size_t fz_ndeferred;
static unsigned fz_flags;
static uint64_t fz_sink;         /* keeps reads of request fields alive */
static bool fz_debug;            /* FUZZ_DEBUG=1: print the answers */

static void fz_touch(const rs_str_t *s) {
  for (size_t i = 0; i < s->len; i++) fz_sink += (unsigned char)s->p[i];
}

static void fz_answer(rs_req_t *r) {
  int status = 200;
  if ((fz_flags & 32) && r->path.len > 0) {
    static const int st[] = { 200, 204, 304, 404, 500, 100, 999 };
    status = st[r->path.len % (sizeof(st) / sizeof(st[0]))];
  }
  /* Echo the body: the response points into the request until release.
   * With flag 64 it goes through the compression filter (text/html, no
   * minimum length): the fuzzed Accept-Encoding and Range pick its way. */
  if (fz_flags & 64) {
    static rs_compress_opts_t opts;
    if (!opts.on) {
      rs_compress_opts_default(&opts);
      opts.min_length = 0;
    }
    r->compress = &opts;
    rs_req_respond_static(r, status, "Content-Type: text/html\r\nETag: \"f\"\r\n", r->body, r->body_len);
    return;
  }
  rs_req_respond_static(r, status, "X-Fuzz: 1\r\n", r->body, r->body_len);
}

/* What rs__req_finish_head promises downstream (issue 10): a canonical path
 * (starts with '/', no empty, "." or ".." segment, nothing that needs an
 * escape), a normalised Host (lower-case, no byte outside host[:port]), and
 * the Host header hooks see equal to it. */
static void fz_check_head(const rs_req_t *r) {
  const char *p = r->path.p;
  size_t n = r->path.len;
  bool ok = n > 0 && (p[0] == '/' || (n == 1 && p[0] == '*'));
  for (size_t i = 0; ok && i < n; i++) {
    unsigned char c = (unsigned char)p[i];
    if (c <= 0x20 || c >= 0x7f || c == '?' || c == '#') ok = false;
    if (c == '/' && i + 1 < n && p[i + 1] == '/') ok = false;
    if (c == '/' && i + 1 < n && p[i + 1] == '.' && (i + 2 == n || p[i + 2] == '/')) ok = false;
    if (c == '/' && i + 2 < n && p[i + 1] == '.' && p[i + 2] == '.' && (i + 3 == n || p[i + 3] == '/'))
      ok = false;
  }
  for (size_t i = 0; ok && i < r->host.len; i++) {
    char c = r->host.p[i];
    if ((c >= 'A' && c <= 'Z') || c == ' ' || c == '/' || c == '@' || c == ',' || c == '\\') ok = false;
  }
  const rs_str_t *h = rs_req_header(r, "host");
  if (ok && h != NULL && (h->len != r->host.len || memcmp(h->p, r->host.p, h->len) != 0)) ok = false;
  if (!ok) {
    fprintf(stderr, "bad head reached the handler: path \"%.*s\" host \"%.*s\"\n", (int)n, p,
            (int)r->host.len, r->host.p);
    abort();
  }
}

static void fz_handler(rs_req_t *r) {
  fz_check_head(r);
  /* Read everything a handler may read, so that ASan checks the pointers
   * rs__req_finish_head built. */
  fz_touch(&r->method);
  fz_touch(&r->url);
  fz_touch(&r->path);
  fz_touch(&r->query);
  fz_touch(&r->host);
  for (size_t i = 0; i < r->nheaders; i++) {
    fz_touch(&r->headers[i].name);
    fz_touch(&r->headers[i].value);
  }
  for (size_t i = 0; i < r->body_len; i++) fz_sink += (unsigned char)r->body[i];
  (void)rs_req_header(r, "user-agent");
  if ((fz_flags & 4) && (r->id & 1) && fz_ndeferred < FZ_MAX_DEFERRED) {
    fz_deferred[fz_ndeferred++] = r;
    return;
  }
  fz_answer(r);
}

static void fz_answer_deferred(void) {
  while (fz_ndeferred > 0) fz_answer(fz_deferred[--fz_ndeferred]);
}

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

  fz_loop = rs_xcalloc(1, sizeof(*fz_loop));
  if (uv_loop_init(&fz_loop->uv) != 0) abort();
  fz_loop->index = 1;
  fz_loop->http = &fz_cfg;
  fz_loop->handler = fz_handler;
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
  llhttp_init(&c->parser, HTTP_REQUEST, &rs__settings);
  c->parser.data = c;
  c->next = loop->conns;
  if (loop->conns) loop->conns->prev = c;
  loop->conns = c;
  loop->nconns++;
  RS_COUNTER_ADD(loop->counters.conns_opened, 1);
  snprintf(c->peer, sizeof(c->peer), "fuzz:1");
  uv_read_start((uv_stream_t *)&c->tcp, rs__conn_alloc, rs__conn_on_read);
  rs__conn_arm(c);
  return c;
}

typedef struct {
  char head[16];
  size_t got;
} fz_out_t;

/* Read and check what the server sent so far. */
static void fz_drain(int fd, fz_out_t *out) {
  char buf[65536];
  for (;;) {
    ssize_t n = read(fd, buf, sizeof(buf));
    if (n <= 0) return;
    if (fz_debug) fprintf(stderr, "%.*s", (int)n, buf);
    for (ssize_t i = 0; i < n && out->got < 9; i++) out->head[out->got++] = buf[i];
    if (out->got >= 9 && memcmp(out->head, "HTTP/1.1 ", 9) != 0) {
      fprintf(stderr, "answer stream starts with %.9s\n", out->head);
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

  uint32_t rnd = 0x9e3779b9u ^ split;
  size_t off = 0;
  bool drained = false;
  while (off < size && fz_loop->conns != NULL) {
    size_t n;
    switch (split & 3) {
      case 0: n = size - off; break;
      case 1: n = 1; break;
      case 2: n = (split >> 2) + 1; break;
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
  for (int i = 0; i < 64 && fz_ndeferred > 0; i++) {
    fz_answer_deferred();
    fz_spin(sv[1], &out);
  }
  if ((fz_flags & 2) && fz_loop->conns != NULL) {
    rs_conn_t *c = fz_loop->conns;
    uv_timer_stop(&c->timer);
    rs__on_timer(&c->timer);
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
