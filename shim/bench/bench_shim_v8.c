/* shim/bench/bench_shim_v8.c — engine create time with and without a code
 * cache on a generated ~1 MB bundle, and renders per second through
 * rs_v8_render. Uses only shim/rs_v8.h. Not part of the build (CMake takes
 * only the .cc files directly in shim/); build by hand from the repo root:
 *
 *   L=build/deps/root/usr/lib/x86_64-linux-gnu
 *   gcc -O2 -Ishim shim/bench/bench_shim_v8.c -o build/shim/bench_shim_v8 \
 *       build/shim/librs_shim.a $L/libnode.so.108 -Wl,-rpath,$L -lstdc++ -lpthread -lm
 *   build/shim/bench_shim_v8 [modules]
 */
#include "rs_v8.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

/* An esbuild-like bundle: `modules` module initializers (classes, tables,
 * closures), of which every `run_every`-th runs at load (1: all, as with
 * eagerly evaluated modules; 10: a bundle whose modules mostly load on
 * demand), a registry, and a render() that walks a few components. About
 * 530 bytes per module. */
static char *make_bundle(int modules, int run_every, size_t *len) {
  size_t cap = (size_t)modules * 700 + 4096, n = 0;
  char *s = malloc(cap);
  n += (size_t)snprintf(s + n, cap - n,
                        "(() => {\n  \"use strict\";\n  var registry = {};\n"
                        "  var cache = new Map();\n");
  for (int i = 0; i < modules; i++) {
    n += (size_t)snprintf(
        s + n, cap - n,
        "  function init_mod%d() {\n"
        "    const labels%d = { title: \"Module %d title\", body: \"Body text of "
        "module number %d, long enough to look like real copy\", n: %d };\n"
        "    class Comp%d {\n"
        "      constructor(props) { this.props = props; this.id = %d; }\n"
        "      classes() { return [\"c%d\", this.props.active ? \"on\" : \"off\"]"
        ".join(\" \"); }\n"
        "      render() { return '<section class=\"' + this.classes() + '\"><h2>' "
        "+ labels%d.title + '</h2><p>' + labels%d.body + '</p></section>'; }\n"
        "    }\n"
        "    registry[\"c%d\"] = Comp%d;\n"
        "    cache.set(%d, (x) => x * %d + labels%d.n);\n"
        "  }\n",
        i, i, i, i, i, i, i, i, i, i, i, i, i, i, i);
  }
  for (int i = 0; i < modules; i += run_every)
    n += (size_t)snprintf(s + n, cap - n, "  init_mod%d();\n", i);
  n += (size_t)snprintf(
      s + n, cap - n,
      "  globalThis.render = function (req, props) {\n"
      "    var out = '<!doctype html><main>';\n"
      "    for (var i = 0; i < 20; i++) {\n"
      "      var C = registry['c' + (i * 37 * %d %% %d)];\n"
      "      out += new C({ active: i %% 2 === 0 }).render();\n"
      "    }\n"
      "    return out + '</main>';\n"
      "  };\n})();\n",
      run_every, modules);
  *len = n;
  return s;
}

static rs_v8_engine_t *create(const char *src, size_t len, const void *cache,
                              size_t clen, double *ms) {
  rs_v8_opts_t o = {0};
  o.bundle_path = "bench-bundle.js";
  o.bundle_src = src;
  o.bundle_len = len;
  o.code_cache = cache;
  o.code_cache_len = clen;
  char err[512];
  rs_v8_engine_t *e = NULL;
  double t0 = now_ms();
  if (rs_v8_engine_create(&o, &e, err, sizeof err) != 0) {
    fprintf(stderr, "create: %s\n", err);
    exit(1);
  }
  *ms = now_ms() - t0;
  return e;
}

static void render_ok(rs_v8_engine_t *e, const char *path, uint64_t id,
                      const char *props, rs_v8_result_t *r) {
  rs_v8_request_t rq = {0};
  rq.id = id;
  rq.url = path;
  rq.url_len = strlen(path);
  rq.method = "GET";
  rq.method_len = 3;
  rq.path = path;
  rq.path_len = strlen(path);
  rq.props_json = props;
  rq.props_len = props ? strlen(props) : 0;
  if (rs_v8_render(e, &rq, r) != RS_V8_OK) {
    fprintf(stderr, "render %s: %s\n", path, r->error);
    exit(1);
  }
}

#define RUNS 15

static void bench_create(int modules, int run_every) {
  size_t len;
  char *src = make_bundle(modules, run_every, &len);
  printf("-- %d modules, %s run at load\n", modules,
         run_every == 1 ? "all" : run_every == 10 ? "1 in 10" : "some");
  double t[RUNS], ms;
  rs_v8_result_t r;

  /* Baseline: isolate + context + a one-line bundle. */
  static const char tiny[] = "function render() { return 'x'; }";
  for (int i = 0; i < RUNS; i++) rs_v8_engine_destroy(create(tiny, sizeof tiny - 1, NULL, 0, &t[i]));
  qsort(t, RUNS, sizeof t[0], cmp_double);
  printf("create, one-line bundle:          median %6.2f ms  (min %.2f)\n", t[RUNS / 2], t[0]);

  for (int i = 0; i < RUNS; i++) rs_v8_engine_destroy(create(src, len, NULL, 0, &t[i]));
  qsort(t, RUNS, sizeof t[0], cmp_double);
  printf("create, %zu KB bundle, no cache: median %6.2f ms  (min %.2f)\n", len >> 10,
         t[RUNS / 2], t[0]);

  /* The cache, taken after one render so the render path is in it. */
  rs_v8_engine_t *e = create(src, len, NULL, 0, &ms);
  render_ok(e, "/", 1, NULL, &r);
  void *blob;
  size_t blen;
  if (rs_v8_engine_code_cache(e, &blob, &blen) != 0) exit(1);
  size_t html_len = r.html_len;
  rs_v8_engine_destroy(e);
  printf("code cache: %zu KB\n", blen >> 10);

  for (int i = 0; i < RUNS; i++) {
    e = create(src, len, blob, blen, &t[i]);
    if (rs_v8_engine_cache_status(e) != RS_V8_CACHE_ACCEPTED) {
      fprintf(stderr, "cache rejected\n");
      exit(1);
    }
    render_ok(e, "/", 2, NULL, &r);
    if (r.html_len != html_len) exit(1);
    rs_v8_engine_destroy(e);
  }
  qsort(t, RUNS, sizeof t[0], cmp_double);
  printf("create, %zu KB bundle, cache:    median %6.2f ms  (min %.2f)\n", len >> 10,
         t[RUNS / 2], t[0]);
  free(blob);
  free(src);
}

static void bench_renders(void) {
  static const char src[] =
      "var chunk = null;\n"
      "function render(req, props) {\n"
      "  if (req.path === '/trivial') return 'ok';\n"
      "  if (req.path === '/object') return { status: 200, html: 'ok', ttl: 60,\n"
      "    headers: { 'cache-control': 'max-age=60' }, tags: ['a', 'b'] };\n"
      "  if (req.path === '/async') return (async () => { await null; return 'ok'; })();\n"
      "  var parts = ['<!doctype html><html><body>'];\n"
      "  for (var i = 0; i < 120; i++)\n"
      "    parts.push('<p class=\"t\">\\u041f\\u0440\\u0438\\u0432\\u0435\\u0442, '\n"
      "      + '\\u043c\\u0438\\u0440! \\u0421\\u0442\\u0440\\u043e\\u043a\\u0430 ' + i + '</p>');\n"
      "  return parts.join('') + '</body></html>';\n"
      "}\n";
  double ms;
  rs_v8_engine_t *e = create(src, sizeof src - 1, NULL, 0, &ms);
  rs_v8_result_t r;
  const char *paths[] = {"/trivial", "/object", "/async", "/page"};
  for (int p = 0; p < 4; p++) {
    int n = p == 3 ? 50000 : 300000;
    for (int i = 0; i < 2000; i++) render_ok(e, paths[p], (uint64_t)i, NULL, &r);
    double t0 = now_ms();
    for (int i = 0; i < n; i++) render_ok(e, paths[p], (uint64_t)i, NULL, &r);
    double el = now_ms() - t0;
    printf("render %-9s %8.0f renders/s  %6.2f us each  (%zu bytes out)\n", paths[p],
           n / (el / 1e3), el * 1e3 / n, r.html_len);
  }
  size_t used, limit;
  rs_v8_engine_heap(e, &used, &limit);
  printf("heap after: %zu KB used of %zu MB\n", used >> 10, limit >> 20);
  rs_v8_engine_destroy(e);
}

int main(int argc, char **argv) {
  if (rs_v8_init(2) != 0) return 1;
  printf("V8 %s\n", rs_v8_version());
  int modules = argc > 1 ? atoi(argv[1]) : 2000;
  bench_create(modules, 1);
  bench_create(modules, 10);
  bench_renders();
  return 0;
}
