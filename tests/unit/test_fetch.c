/* tests/unit/test_fetch.c — the buffered fetch contract (core/upstream/rs_upstream.h)
 * over real sockets: a small blocking backend on a thread of this test, a
 * libuv loop with an upstream runtime, and each outcome: success by
 * upstream name, by URL (numeric and resolved), refused, timeout, too large,
 * bad URL, unknown upstream, cancel, several in parallel, keepalive reuse,
 * a request body, and the in-flight count back at 0. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "rs_config.h"
#include "rs_server.h"
#include "rs_upstream.h"
#include "tap.h"

/* ------------------------------------------------------------------ backend */

static int be_fd, be_port;
static int be_conns;             /* connections accepted */
static volatile int be_stop;

static void be_send(int fd, const char *s, size_t n) {
  while (n > 0) {
    ssize_t w = write(fd, s, n);
    if (w <= 0) return;
    s += w;
    n -= (size_t)w;
  }
}

static void *be_conn(void *arg) {
  int fd = (int)(intptr_t)arg;
  char buf[65536];
  size_t len = 0;
  for (;;) {
    char *end;
    while ((end = memmem(buf, len, "\r\n\r\n", 4)) == NULL) {
      ssize_t r = read(fd, buf + len, sizeof(buf) - len - 1);
      if (r <= 0) goto out;
      len += (size_t)r;
    }
    size_t hlen = (size_t)(end - buf) + 4;
    buf[len] = '\0';
    size_t clen = 0;
    char *cl = strcasestr(buf, "content-length:");
    if (cl != NULL && cl < end) clen = (size_t)atol(cl + 15);
    while (len < hlen + clen) {
      ssize_t r = read(fd, buf + len, sizeof(buf) - len - 1);
      if (r <= 0) goto out;
      len += (size_t)r;
    }
    char path[256] = "";
    sscanf(buf, "%*s %255s", path);
    char out[4096];
    if (strcmp(path, "/hang") == 0) {
      while (!be_stop) usleep(10000);
      goto out;
    } else if (strcmp(path, "/big") == 0) {
      static char big[300000];
      memset(big, 'b', sizeof(big));
      int n = snprintf(out, sizeof(out), "HTTP/1.1 200 OK\r\nContent-Length: %zu\r\n\r\n", sizeof(big));
      be_send(fd, out, (size_t)n);
      be_send(fd, big, sizeof(big));
    } else if (strcmp(path, "/chunked") == 0) {
      const char *r = "HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\nX-A: 1\r\n\r\n"
                      "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n";
      be_send(fd, r, strlen(r));
    } else {
      /* echo: method, path, Host and the body */
      char method[16] = "";
      sscanf(buf, "%15s", method);
      const char *host = strcasestr(buf, "\r\nhost:");
      char hv[128] = "";
      if (host != NULL) sscanf(host + 7, " %127[^\r]", hv);
      char body[2048];
      int bn = snprintf(body, sizeof(body), "%s %s host=%s body=%.*s", method, path, hv,
                        (int)RS_MIN(clen, 1000), buf + hlen);
      int n = snprintf(out, sizeof(out), "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n\r\n%s",
                       bn, body);
      be_send(fd, out, (size_t)n);
    }
    memmove(buf, buf + hlen + clen, len - hlen - clen);
    len -= hlen + clen;
  }
out:
  close(fd);
  return NULL;
}

static void *be_accept(void *arg) {
  (void)arg;
  for (;;) {
    int fd = accept(be_fd, NULL, NULL);
    if (fd < 0) return NULL;
    __atomic_add_fetch(&be_conns, 1, __ATOMIC_RELAXED);
    pthread_t t;
    pthread_create(&t, NULL, be_conn, (void *)(intptr_t)fd);
    pthread_detach(t);
  }
}

static int listen_any(int *port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
  bind(fd, (struct sockaddr *)&a, sizeof(a));
  listen(fd, 64);
  socklen_t sl = sizeof(a);
  getsockname(fd, (struct sockaddr *)&a, &sl);
  *port = ntohs(a.sin_port);
  return fd;
}

/* ------------------------------------------------------------------ harness */

static rs_loop_t loop;
static rs_config_t cfg;

typedef struct {
  int done;
  int err;
  int status;
  char body[512];
  size_t body_len;
  char xa[16];
} result_t;

static void on_fetch(void *ud, int err, const rs_fetch_result_t *res) {
  result_t *r = ud;
  r->done++;
  r->err = err;
  if (res != NULL) {
    r->status = res->status;
    r->body_len = res->body_len;
    snprintf(r->body, sizeof(r->body), "%.*s", (int)RS_MIN(res->body_len, 500), res->body);
    for (size_t i = 0; i < res->nheaders; i++)
      if (rs_str_ieq(res->headers[i].name.p, res->headers[i].name.len, "x-a", 3))
        snprintf(r->xa, sizeof(r->xa), "%.*s", (int)res->headers[i].value.len, res->headers[i].value.p);
  }
}

static void run_until(result_t *r, int n) {
  uint64_t deadline = rs_now_ms() + 20000;
  while (rs_now_ms() < deadline) {
    int done = 0;
    for (int i = 0; i < n; i++) done += r[i].done;
    if (done >= n) return;
    uv_run(&loop.uv, UV_RUN_ONCE);
  }
}

static int dead_port;

static void setup(void) {
  be_fd = listen_any(&be_port);
  int dfd = listen_any(&dead_port);   /* bound then closed: refused */
  close(dfd);
  pthread_t t;
  pthread_create(&t, NULL, be_accept, NULL);
  pthread_detach(t);
  rs_config_init(&cfg);
  cfg.nupstreams = 2;
  cfg.upstreams = rs_xcalloc(2, sizeof(rs_upstream_conf_t));
  rs_upstream_conf_init(&cfg.upstreams[0]);
  cfg.upstreams[0].name = rs_xstrdup("api");
  cfg.upstreams[0].nservers = 1;
  cfg.upstreams[0].servers = rs_xcalloc(1, sizeof(rs_addr_t));
  strcpy(cfg.upstreams[0].servers[0].host, "127.0.0.1");
  cfg.upstreams[0].servers[0].port = be_port;
  rs_upstream_conf_init(&cfg.upstreams[1]);
  cfg.upstreams[1].name = rs_xstrdup("dead");
  cfg.upstreams[1].nservers = 1;
  cfg.upstreams[1].servers = rs_xcalloc(1, sizeof(rs_addr_t));
  strcpy(cfg.upstreams[1].servers[0].host, "127.0.0.1");
  cfg.upstreams[1].servers[0].port = dead_port;
  memset(&loop, 0, sizeof(loop));
  loop.index = 1;
  loop.cfg = &cfg;
  uv_loop_init(&loop.uv);
  loop.upstreams = rs_upstreams_create(&loop, &cfg);
}

static void teardown(void) {
  be_stop = 1;
  rs_upstreams_destroy(loop.upstreams);
  loop.upstreams = NULL;
  uv_run(&loop.uv, UV_RUN_DEFAULT);
  ASSERT_EQ(uv_loop_close(&loop.uv), 0);
  rs_config_dispose(&cfg);
  close(be_fd);
}

/* ------------------------------------------------------------------ tests */

static void test_by_name(void) {
  result_t r[1] = { { 0 } };
  rs_fetch_header_t h[] = { { RS_STR("X-Test"), RS_STR("1") } };
  rs_fetch_opts_t o = { .target = "api", .path = "/things?a=1", .headers = h, .nheaders = 1 };
  int err = 0;
  rs_fetch_t *f = rs_fetch_start(&loop, &o, on_fetch, r, &err);
  ASSERT(f != NULL);
  ASSERT_EQ(r[0].done, 0);        /* never from inside start */
  ASSERT_EQ(rs_fetch_inflight(&loop), 1u);
  run_until(r, 1);
  ASSERT_EQ(r[0].err, 0);
  ASSERT_EQ(r[0].status, 200);
  ASSERT_STR_EQ(r[0].body, "GET /things?a=1 host=api body=");
  ASSERT_EQ(rs_fetch_inflight(&loop), 0u);
}

static void test_chunked_and_headers(void) {
  result_t r[1] = { { 0 } };
  rs_fetch_opts_t o = { .target = "api", .path = "/chunked" };
  ASSERT(rs_fetch_start(&loop, &o, on_fetch, r, NULL) != NULL);
  run_until(r, 1);
  ASSERT_EQ(r[0].err, 0);
  ASSERT_EQ(r[0].status, 201);
  ASSERT_STR_EQ(r[0].body, "hello world");
  ASSERT_STR_EQ(r[0].xa, "1");
}

static void test_post_body(void) {
  result_t r[1] = { { 0 } };
  rs_fetch_opts_t o = { .target = "api", .method = "POST", .path = "/p", .body = "abc", .body_len = 3 };
  ASSERT(rs_fetch_start(&loop, &o, on_fetch, r, NULL) != NULL);
  run_until(r, 1);
  ASSERT_EQ(r[0].err, 0);
  ASSERT_STR_EQ(r[0].body, "POST /p host=api body=abc");
}

static void test_urls(void) {
  char url[128];
  result_t r[2] = { { 0 } };
  snprintf(url, sizeof(url), "http://127.0.0.1:%d/base", be_port);
  rs_fetch_opts_t o = { .target = url, .path = "/x" };
  ASSERT(rs_fetch_start(&loop, &o, on_fetch, &r[0], NULL) != NULL);
  snprintf(url, sizeof(url), "http://localhost:%d", be_port);
  rs_fetch_opts_t o2 = { .target = url };
  ASSERT(rs_fetch_start(&loop, &o2, on_fetch, &r[1], NULL) != NULL);
  run_until(r, 2);
  ASSERT_EQ(r[0].err, 0);
  char want[128];
  snprintf(want, sizeof(want), "GET /base/x host=127.0.0.1:%d body=", be_port);
  ASSERT_STR_EQ(r[0].body, want);
  ASSERT_EQ(r[1].err, 0);
  snprintf(want, sizeof(want), "GET / host=localhost:%d body=", be_port);
  ASSERT_STR_EQ(r[1].body, want);
}

static void test_errors_at_once(void) {
  static const struct { const char *target; int err; } cases[] = {
    { "nope", -ENOENT }, { "ftp://127.0.0.1/", -EINVAL }, { "http://", -EINVAL },
    { "http://127.0.0.1:99999/", -EINVAL }, { "http://127.0.0.1:0/", -EINVAL },
    { "http://[::1/", -EINVAL }, { "https://", -EINVAL }, { "https://127.0.0.1:0/", -EINVAL },
    { "https://[::1/", -EINVAL },
  };
  for (size_t i = 0; i < RS_ARRAY_SIZE(cases); i++) {
    result_t r = { 0 };
    int err = 0;
    rs_fetch_opts_t o = { .target = cases[i].target };
    ASSERT(rs_fetch_start(&loop, &o, on_fetch, &r, &err) == NULL);
    ASSERT_EQ(err, cases[i].err);
    ASSERT_EQ(r.done, 0);
  }
  result_t r = { 0 };
  int err = 0;
  rs_fetch_opts_t o = { .target = "api", .path = "/a b" };
  ASSERT(rs_fetch_start(&loop, &o, on_fetch, &r, &err) == NULL);
  ASSERT_EQ(err, -EINVAL);
  rs_fetch_header_t h[] = { { RS_STR("X-Bad"), RS_STR("a\r\nb") } };
  rs_fetch_opts_t o2 = { .target = "api", .headers = h, .nheaders = 1 };
  ASSERT(rs_fetch_start(&loop, &o2, on_fetch, &r, &err) == NULL);
  ASSERT_EQ(err, -EINVAL);
  ASSERT_EQ(rs_fetch_inflight(&loop), 0u);
  ASSERT_STR_EQ(rs_fetch_strerror(-ECONNREFUSED), "connection refused");
}

static void test_refused_timeout_too_big(void) {
  result_t r[3] = { { 0 } };
  rs_fetch_opts_t o1 = { .target = "dead" };
  ASSERT(rs_fetch_start(&loop, &o1, on_fetch, &r[0], NULL) != NULL);
  rs_fetch_opts_t o2 = { .target = "api", .path = "/hang", .timeout_ms = 200 };
  ASSERT(rs_fetch_start(&loop, &o2, on_fetch, &r[1], NULL) != NULL);
  rs_fetch_opts_t o3 = { .target = "api", .path = "/big", .max_body = 1000 };
  ASSERT(rs_fetch_start(&loop, &o3, on_fetch, &r[2], NULL) != NULL);
  run_until(r, 3);
  ASSERT_EQ(r[0].err, -ECONNREFUSED);
  ASSERT_EQ(r[1].err, -ETIMEDOUT);
  ASSERT_EQ(r[2].err, -EFBIG);
  ASSERT_EQ(rs_fetch_inflight(&loop), 0u);
  /* a body within max_body */
  result_t ok = { 0 };
  rs_fetch_opts_t o4 = { .target = "api", .path = "/big" };
  ASSERT(rs_fetch_start(&loop, &o4, on_fetch, &ok, NULL) != NULL);
  run_until(&ok, 1);
  ASSERT_EQ(ok.err, 0);
  ASSERT_EQ(ok.body_len, 300000u);
}

static void test_cancel(void) {
  result_t r = { 0 };
  rs_fetch_opts_t o = { .target = "api", .path = "/hang" };
  rs_fetch_t *f = rs_fetch_start(&loop, &o, on_fetch, &r, NULL);
  ASSERT(f != NULL);
  for (int i = 0; i < 5; i++) uv_run(&loop.uv, UV_RUN_NOWAIT);
  rs_fetch_cancel(f);
  ASSERT_EQ(rs_fetch_inflight(&loop), 0u);
  char url[128];
  snprintf(url, sizeof(url), "http://localhost:%d/hang", be_port);
  rs_fetch_opts_t o2 = { .target = url };
  f = rs_fetch_start(&loop, &o2, on_fetch, &r, NULL);   /* cancelled while resolving */
  ASSERT(f != NULL);
  rs_fetch_cancel(f);
  uint64_t until = rs_now_ms() + 300;
  while (rs_now_ms() < until) uv_run(&loop.uv, UV_RUN_NOWAIT);
  ASSERT_EQ(r.done, 0);
  ASSERT_EQ(rs_fetch_inflight(&loop), 0u);
}

static void test_parallel_and_reuse(void) {
  result_t r[8] = { { 0 } };
  for (int i = 0; i < 8; i++) {
    rs_fetch_opts_t o = { .target = "api", .path = "/par" };
    ASSERT(rs_fetch_start(&loop, &o, on_fetch, &r[i], NULL) != NULL);
  }
  ASSERT_EQ(rs_fetch_inflight(&loop), 8u);
  run_until(r, 8);
  for (int i = 0; i < 8; i++) ASSERT_EQ(r[i].err, 0);
  /* 20 more one after the other: the pool serves them (no new connection) */
  int before = __atomic_load_n(&be_conns, __ATOMIC_RELAXED);
  for (int i = 0; i < 20; i++) {
    result_t one = { 0 };
    rs_fetch_opts_t o = { .target = "api", .path = "/seq" };
    ASSERT(rs_fetch_start(&loop, &o, on_fetch, &one, NULL) != NULL);
    run_until(&one, 1);
    ASSERT_EQ(one.err, 0);
  }
  ASSERT_EQ(__atomic_load_n(&be_conns, __ATOMIC_RELAXED), before);
}

int main(void) {
  setup();
  RS_TEST(test_by_name);
  RS_TEST(test_chunked_and_headers);
  RS_TEST(test_post_body);
  RS_TEST(test_urls);
  RS_TEST(test_errors_at_once);
  RS_TEST(test_refused_timeout_too_big);
  RS_TEST(test_cancel);
  RS_TEST(test_parallel_and_reuse);
  teardown();
  RS_TEST_DONE();
}
