/* bench/render_one.c — renders per second of ONE V8 isolate, in process, no
 * HTTP: the render bundle loaded through shim/rs_v8.h exactly as a render
 * thread of rustyssr loads it, then rs_v8_render over a list of URLs for a
 * fixed time on the calling thread, taking each page's bytes as the pool does
 * (rs_v8_result_take_html, then free). The Node counterpart is
 * bench/node/render-bench.js --encode. bench/render.sh builds and runs it;
 * by hand, from the repo root:
 *
 *   L=build/deps/root/usr/lib/x86_64-linux-gnu
 *   gcc -O2 -Ishim bench/render_one.c -o build/release/render_one \
 *       build/release/librs_shim.a $L/libnode.so.108 -Wl,-rpath,$L -lstdc++ -lpthread -lm
 *   build/release/render_one [--seconds 5] [--warmup 1] [--json] [--semi-space-mb N]
 *                            [--v8-flags "--flag ..."] [--count N] BUNDLE URL...
 *   (--count N: N renders for the warm-up and N measured, not a time: for
 *   instruction counts under valgrind --tool=callgrind, which the shared
 *   machine's load does not move)
 *   build/release/render_one --startup N BUNDLE URL...   (engine create from the code cache, N times)
 *
 * The request object is built the way core/gateway/rs_render.c builds it: url as
 * given, path = the part before '?', query split on '&' and '=' and
 * percent-decoded with '+' as a space (a repeated name becomes an array in
 * the shim), the same three headers render-bench.js sends. */
#include "rs_v8.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#if defined(__has_include)
#if __has_include(<valgrind/callgrind.h>)
/* Under valgrind --tool=callgrind, the measured run alone is dumped (a
 * file named ...measured): the warm-up's compilation stays out of it. */
#include <valgrind/callgrind.h>
#define RS__MEASURE_BEGIN() CALLGRIND_ZERO_STATS
#define RS__MEASURE_END() CALLGRIND_DUMP_STATS_AT("measured")
#endif
#endif
#ifndef RS__MEASURE_BEGIN
#define RS__MEASURE_BEGIN() ((void)0)
#define RS__MEASURE_END() ((void)0)
#endif

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int hexval(int c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

static size_t decode(char *dst, const char *src, size_t len) {
  size_t o = 0;
  for (size_t i = 0; i < len; i++) {
    if (src[i] == '%' && i + 2 < len && hexval(src[i + 1]) >= 0 && hexval(src[i + 2]) >= 0) {
      dst[o++] = (char)(hexval(src[i + 1]) * 16 + hexval(src[i + 2]));
      i += 2;
    } else {
      dst[o++] = src[i] == '+' ? ' ' : src[i];
    }
  }
  return o;
}

typedef struct {
  rs_v8_request_t req;
  rs_v8_pair_t query[64];
  char qbuf[4096];
} request_t;

static const rs_v8_pair_t kHeaders[] = {
  { "host", 4, "127.0.0.1:3000", 14 },
  { "user-agent", 10, "render-bench", 12 },
  { "accept", 6, "text/html", 9 },
};

static void build(request_t *r, const char *url, uint64_t id) {
  memset(r, 0, sizeof(*r));
  size_t len = strlen(url);
  const char *q = memchr(url, '?', len);
  r->req.id = id;
  r->req.url = url;
  r->req.url_len = len;
  r->req.method = "GET";
  r->req.method_len = 3;
  r->req.path = url;
  r->req.path_len = q ? (size_t)(q - url) : len;
  r->req.headers = kHeaders;
  r->req.nheaders = sizeof(kHeaders) / sizeof(kHeaders[0]);
  r->req.query = r->query;
  if (q == NULL) return;
  const char *p = q + 1, *end = url + len;
  size_t n = 0, o = 0;
  while (p < end && n < 64 && o + (size_t)(end - p) < sizeof(r->qbuf)) {
    const char *amp = memchr(p, '&', (size_t)(end - p));
    const char *stop = amp ? amp : end;
    if (stop > p) {
      const char *eq = memchr(p, '=', (size_t)(stop - p));
      const char *kend = eq ? eq : stop;
      r->query[n].name = r->qbuf + o;
      r->query[n].name_len = decode(r->qbuf + o, p, (size_t)(kend - p));
      o += r->query[n].name_len;
      r->query[n].value = r->qbuf + o;
      r->query[n].value_len = eq ? decode(r->qbuf + o, eq + 1, (size_t)(stop - eq - 1)) : 0;
      o += r->query[n].value_len;
      n++;
    }
    p = stop + 1;
  }
  r->req.nquery = n;
}

static void usage(void) {
  fprintf(stderr, "usage: render_one [--seconds 5] [--warmup 1] [--json] [--semi-space-mb N] [--v8-flags \"...\"] [--count N] BUNDLE URL...\n");
  exit(2);
}

/* CPU seconds of the whole process (all threads: V8's GC helpers too). */
static double cpu_s(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return (double)ru.ru_utime.tv_sec + (double)ru.ru_stime.tv_sec +
         ((double)ru.ru_utime.tv_usec + (double)ru.ru_stime.tv_usec) / 1e6;
}

static double g_cpu; /* CPU seconds of the last run */

/* Renders for `secs` seconds over the URLs; returns renders and bytes. */
static void run(rs_v8_engine_t *e, request_t *reqs, int nreq, double secs, long count,
                long *renders, double *bytes, double *elapsed) {
  double c0 = cpu_s();
  long n = 0;
  double b = 0, t0 = now_s(), t = t0, end = t0 + secs;
  rs_v8_result_t res;
  while (count > 0 ? n < count : t < end) {
    for (int k = 0; k < 16 && (count == 0 || n < count); k++) {   /* the clock every 16 renders, as render-bench.js */
      request_t *r = &reqs[n % nreq];
      r->req.id = (uint64_t)n + 1;
      if (rs_v8_render(e, &r->req, &res) != RS_V8_OK || res.status != 200) {
        fprintf(stderr, "render_one: %.*s: %s (status %d)\n", (int)r->req.url_len, r->req.url,
                res.error ? res.error : "?", res.status);
        exit(1);
      }
      b += (double)res.html_len;
      free(rs_v8_result_take_html(e, &res));
      n++;
    }
    t = now_s();
  }
  *renders = n;
  *bytes = b;
  *elapsed = t - t0;
  g_cpu = cpu_s() - c0;
}

int main(int argc, char **argv) {
  double secs = 5, warmup = 1;
  int json = 0, i = 1, semi = 0, startup = 0;
  const char *flags = NULL;
  long count = 0;
  for (; i < argc && strncmp(argv[i], "--", 2) == 0; i++) {
    if (strcmp(argv[i], "--seconds") == 0 && i + 1 < argc) secs = atof(argv[++i]);
    else if (strcmp(argv[i], "--warmup") == 0 && i + 1 < argc) warmup = atof(argv[++i]);
    else if (strcmp(argv[i], "--json") == 0) json = 1;
    else if (strcmp(argv[i], "--semi-space-mb") == 0 && i + 1 < argc) semi = atoi(argv[++i]);
    else if (strcmp(argv[i], "--startup") == 0 && i + 1 < argc) startup = atoi(argv[++i]);
    else if (strcmp(argv[i], "--v8-flags") == 0 && i + 1 < argc) flags = argv[++i];
    else if (strcmp(argv[i], "--count") == 0 && i + 1 < argc) count = atol(argv[++i]);
    else usage();
  }
  if (argc - i < 2 || !(secs > 0) || warmup < 0) usage();
  const char *bundle = argv[i++];
  int nreq = argc - i;
  request_t *reqs = calloc((size_t)nreq, sizeof(*reqs));
  for (int k = 0; k < nreq; k++) build(&reqs[k], argv[i + k], 1);

  char err[512];
  if (flags != NULL && rs_v8_set_flags(flags, err, sizeof(err)) != 0) {
    fprintf(stderr, "render_one: %s\n", err);
    return 2;
  }
  if (rs_v8_init(0) != 0) {
    fprintf(stderr, "render_one: V8 could not start\n");
    return 1;
  }
  rs_v8_opts_t o;
  memset(&o, 0, sizeof(o));
  o.bundle_path = bundle;
  o.heap_mb = 128;                   /* render.heap_mb's default */
  o.semi_space_mb = semi;            /* 0: render.semi_space_mb's default */
  rs_v8_engine_t *e = NULL;
  if (rs_v8_engine_create(&o, &e, err, sizeof(err)) != 0) {
    fprintf(stderr, "render_one: %s\n", err);
    return 1;
  }
  long n;
  double bytes, el;
  if (startup > 0) {
    /* Isolate start-up as a replaced render thread sees it: engine create
     * with the code cache taken after a few renders; min / median / max. */
    run(e, reqs, nreq, 0.2, 0, &n, &bytes, &el);
    void *cc = NULL;
    size_t cc_len = 0;
    if (rs_v8_engine_code_cache(e, &cc, &cc_len) != 0) return 1;
    double *t = calloc((size_t)startup, sizeof(double));
    for (int k = 0; k < startup; k++) {
      o.code_cache = cc;
      o.code_cache_len = cc_len;
      rs_v8_engine_t *e2 = NULL;
      /* CPU time of this thread: a shared machine's load does not add to it. */
      struct timespec c0, c1;
      clock_gettime(CLOCK_THREAD_CPUTIME_ID, &c0);
      if (rs_v8_engine_create(&o, &e2, err, sizeof(err)) != 0) return 1;
      clock_gettime(CLOCK_THREAD_CPUTIME_ID, &c1);
      t[k] = (double)(c1.tv_sec - c0.tv_sec) * 1e3 + (double)(c1.tv_nsec - c0.tv_nsec) / 1e6;
      rs_v8_engine_destroy(e2);
    }
    for (int a = 1; a < startup; a++)
      for (int b = a; b > 0 && t[b - 1] > t[b]; b--) { double x = t[b]; t[b] = t[b - 1]; t[b - 1] = x; }
    printf("engine create from the code cache (%zu bytes), %d runs, thread CPU time: min %.2f ms, median %.2f ms, max %.2f ms\n",
           cc_len, startup, t[0], t[startup / 2], t[startup - 1]);
    return 0;
  }
  if (warmup > 0) run(e, reqs, nreq, warmup, count, &n, &bytes, &el);
  RS__MEASURE_BEGIN();
  run(e, reqs, nreq, secs, count, &n, &bytes, &el);
  RS__MEASURE_END();
  if (json)
    printf("{\"v8\":\"%s\",\"urls\":%d,\"seconds\":%.3f,\"renders\":%ld,\"renders_per_s\":%.0f,"
           "\"cpu_renders_per_s\":%.0f,\"us_per_render\":%.1f,\"avg_page\":%.0f}\n",
           rs_v8_version(), nreq, el, n, n / el, g_cpu > 0 ? n / g_cpu : 0.0, el * 1e6 / n, bytes / n);
  else
    printf("V8 %s: %ld renders in %.3f s over %d URL(s): %.0f renders/s, %.1f us/render, %.0f bytes/page\n",
           rs_v8_version(), n, el, nreq, n / el, el * 1e6 / n, bytes / n);
  rs_v8_engine_destroy(e);
  free(reqs);
  return 0;
}
