/* tests/unit/test_shim_prelude.c — the JS prelude (shim/js): each
 * tests/js/prelude_*.js bundle checks one API from inside an isolate and
 * renders "ok" or the list of what failed; the property descriptors of the
 * globals; the prelude's start-up cost (printed, never asserted).
 *
 * Also a tool: `test_shim_prelude eval BUNDLE [PATH]` prints what BUNDLE's
 * render returns for PATH (default "/"), exit 1 on a load or render error.
 * Links rs_shim only. */
#include "rs_v8.h"
#include "tap.h"

#include <time.h>


static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static void on_log(void *ud, int level, uint64_t id, const char *msg, size_t len) {
  (void)ud;
  (void)id;
  fprintf(stderr, "# log[%d] %.*s\n", level, (int)len, msg);
}

static rs_v8_engine_t *make_engine(const char *path, const char *src) {
  rs_v8_opts_t o = {0};
  o.bundle_path = path;
  o.bundle_src = src;
  o.bundle_len = src ? strlen(src) : 0;
  o.heap_mb = 64;
  o.log = on_log;
  char err[1024] = "";
  rs_v8_engine_t *e = NULL;
  int rc = rs_v8_engine_create(&o, &e, err, sizeof err);
  if (rc != 0) fprintf(stderr, "# create %s: %d %s\n", path, rc, err);
  return e;
}

static rs_v8_outcome_t render(rs_v8_engine_t *e, const char *path, rs_v8_result_t *r) {
  rs_v8_request_t rq = {0};
  rq.id = 1;
  rq.url = path;
  rq.url_len = strlen(path);
  rq.method = "GET";
  rq.method_len = 3;
  rq.path = path;
  rq.path_len = strlen(path);
  return rs_v8_render(e, &rq, r);
}

/* Renders `path` of bundle tests/js/<name> and expects "ok". */
static void expect_ok(const char *name, const char *path) {
  char file[512];
  snprintf(file, sizeof file, RS_TEST_DIR "/js/%s", name);
  rs_v8_engine_t *e = make_engine(file, NULL);
  ASSERT(e != NULL);
  if (!e) return;
  rs_v8_result_t r;
  rs_v8_outcome_t o = render(e, path, &r);
  if (o != RS_V8_OK) fprintf(stderr, "# %s %s: %s\n%s\n", name, path, r.error, r.stack);
  ASSERT_EQ(o, RS_V8_OK);
  if (o == RS_V8_OK && strcmp(r.html, "ok") != 0)
    fprintf(stderr, "# %s %s:\n%s\n", name, path, r.html);
  if (o == RS_V8_OK) ASSERT_STR_EQ(r.html, "ok");
  rs_v8_engine_destroy(e);
}

static int eval_main(int argc, char **argv) {
  if (rs_v8_init(2) != 0) return 1;
  rs_v8_engine_t *e = make_engine(argv[2], NULL);
  if (!e) return 1;
  rs_v8_result_t r;
  rs_v8_outcome_t o = render(e, argc > 3 ? argv[3] : "/", &r);
  if (o != RS_V8_OK) {
    fprintf(stderr, "%s\n%s\n", r.error, r.stack);
    rs_v8_engine_destroy(e);
    return 1;
  }
  fwrite(r.html, 1, r.html_len, stdout);
  rs_v8_engine_destroy(e);
  return 0;
}

/* ------------------------------------------------------------ tests */

static void test_init(void) { ASSERT_EQ(rs_v8_init(2), 0); }

static void test_globals(void) {
  expect_ok("prelude_globals.js", "/");
  expect_ok("prelude_globals.js", "/lazy");
}
static void test_es(void) { expect_ok("prelude_es.js", "/"); }
static void test_base64(void) { expect_ok("prelude_base64.js", "/"); }
static void test_events(void) { expect_ok("prelude_events.js", "/"); }
static void test_url(void) { expect_ok("prelude_url.js", "/"); }
static void test_streams(void) { expect_ok("prelude_streams.js", "/"); }

/* Engine create time (an empty bundle) with the prelude off, compiled for
 * every engine, and from the process's code cache, interleaved so the three
 * share the machine's noise: printed, never asserted. */
static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static void test_startup_cost(void) {
  static const char empty[] = "globalThis.render = function () { return ''; };";
  static const char *names[] = {"off", "uncached", "cached"};
  enum { N = 31 };
  static double t[3][N];
  for (int i = 0; i < N; i++)
    for (int mode = 0; mode <= 2; mode++) {
      rs_v8_prelude_mode(mode);
      double t0 = now_ms();
      rs_v8_engine_t *e = make_engine("empty.js", empty);
      t[mode][i] = now_ms() - t0;
      ASSERT(e != NULL);
      rs_v8_engine_destroy(e);
    }
  for (int mode = 0; mode <= 2; mode++) {
    qsort(t[mode], N, sizeof(double), cmp_double);
    fprintf(stderr, "# engine create, prelude %-8s: min %.2f median %.2f max %.2f ms (%d runs)\n",
            names[mode], t[mode][0], t[mode][N / 2], t[mode][N - 1], N);
  }
  /* The first render that uses the lazy modules pays for loading them. */
  static const char touch[] =
      "globalThis.render = function () { return String(new URL('http://x/').href.length +"
      " typeof new ReadableStream().getReader + typeof new TextDecoderStream().readable); };";
  for (int mode = 1; mode <= 2; mode++) {
    rs_v8_prelude_mode(mode);
    double first[N], both[N];
    for (int i = 0; i < N; i++) {
      double t0 = now_ms();
      rs_v8_engine_t *e = make_engine("touch.js", touch);
      ASSERT(e != NULL);
      if (!e) return;
      rs_v8_result_t r;
      double t1 = now_ms();
      ASSERT_EQ(render(e, "/", &r), RS_V8_OK);
      first[i] = now_ms() - t1;
      both[i] = now_ms() - t0;
      rs_v8_engine_destroy(e);
    }
    qsort(first, N, sizeof(double), cmp_double);
    qsort(both, N, sizeof(double), cmp_double);
    fprintf(stderr, "# first render using URL and streams, prelude %-8s: min %.2f median %.2f ms"
            " (with the engine create: %.2f / %.2f)\n",
            names[mode], first[0], first[N / 2], both[0], both[N / 2]);
  }
  fprintf(stderr, "# prelude code cache: %zu bytes\n", rs_v8_prelude_cache_size());
  ASSERT(rs_v8_prelude_cache_size() > 0);
  rs_v8_prelude_mode(RS_V8_PRELUDE_CACHED);
}

int main(int argc, char **argv) {
  if (argc > 2 && strcmp(argv[1], "eval") == 0) return eval_main(argc, argv);
  RS_TEST(test_init);
  RS_TEST(test_globals);
  RS_TEST(test_es);
  RS_TEST(test_base64);
  RS_TEST(test_events);
  RS_TEST(test_url);
  RS_TEST(test_streams);
  RS_TEST(test_startup_cost);
  RS_TEST_DONE();
}
