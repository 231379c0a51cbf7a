/* bench/cache_bench.c — micro-benchmarks of the cache structures: L2
 * lookups/s by shard count and threads, L1 lookup time, eviction hit
 * ratios per policy, entry build time. Results: bench/README.md.
 *
 * Build and run (from the repository root; not part of the CMake build):
 *
 *   cc -O2 -DNDEBUG -std=gnu11 -Wall -Wextra -Wno-unused-parameter -Icore/base -Icore/cache -o build/cache_bench \
 *      bench/cache_bench.c core/cache/rs_cache.c core/cache/rs_entry.c core/base/rs_common.c \
 *      $(pkg-config --cflags --libs libuv libxxhash zlib libbrotlienc) -lpthread -lm
 *   build/cache_bench [RUNS=5] [SECONDS_PER_RUN=0.3] [SECTIONS=hit,l1,l2,build]
 *
 * Hit ratios do not depend on the machine's load; the timings do: run
 * those on a quiet machine (2 threads want 2 idle cores).
 *
 * It includes core/cache/rs_l1.c (not linked) to pin L1's use counters for the
 * map-hit measurement: otherwise the keys being measured would earn hot
 * slots and the number would mix both paths. */
#include "../core/cache/rs_l1.c"

#include "rs_cache.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int runs = 5;
static double run_s = 0.3;

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static uint64_t rnd_state = 0x243f6a8885a308d3ull;
static uint64_t rnd(void) {
  uint64_t z = (rnd_state += 0x9e3779b97f4a7c15ull);     /* splitmix64 */
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

/* n requests over nkeys keys, rank r drawn with weight 1 / r^alpha. */
static uint32_t *zipf_trace(size_t n, size_t nkeys, double alpha) {
  double *cdf = malloc(nkeys * sizeof *cdf), sum = 0;
  for (size_t i = 0; i < nkeys; i++) cdf[i] = (sum += 1.0 / pow((double)(i + 1), alpha));
  uint32_t *t = malloc(n * sizeof *t);
  for (size_t i = 0; i < n; i++) {
    double u = (double)(rnd() >> 11) / 9007199254740992.0 * sum;
    size_t lo = 0, hi = nkeys - 1;
    while (lo < hi) {
      size_t mid = (lo + hi) / 2;
      if (cdf[mid] < u) lo = mid + 1; else hi = mid;
    }
    t[i] = (uint32_t)lo;
  }
  free(cdf);
  return t;
}

typedef struct {
  char *key;
  size_t len;
  uint64_t hash;
} bkey_t;

static bkey_t *make_keys(size_t n, rs_cache_t *c) {
  bkey_t *k = malloc(n * sizeof *k);
  for (size_t i = 0; i < n; i++) {
    char buf[64];
    int len = snprintf(buf, sizeof buf, "GET|shop.example|/product/%zu?color=red", i);
    k[i].key = rs_xstrndup(buf, (size_t)len);
    k[i].len = (size_t)len;
    k[i].hash = rs_cache_hash(c, buf, (size_t)len);
  }
  return k;
}

static void free_keys(bkey_t *k, size_t n) {
  for (size_t i = 0; i < n; i++) free(k[i].key);
  free(k);
}

static rs_entry_t *mkentry(const bkey_t *k, size_t body_len) {
  static char body[4096];
  if (body[0] == 0) memset(body, 'x', sizeof body);
  rs_entry_spec_t s = {
    .key = k->key, .key_len = k->len, .hash = k->hash, .status = 200,
    .headers = "Content-Type: text/html\r\n", .headers_len = 25,
    .body = body, .body_len = RS_MIN(body_len, sizeof body),
    .ttl_ms = 3600000, .grace_ms = 0, .gzip_level = 0, .brotli_quality = -1,
  };
  return rs_entry_build(&s);
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

/* Median and range of v[0..n) as "med [min–max]". */
static void summary(double *v, int n, const char *fmt, char *out, size_t cap) {
  qsort(v, (size_t)n, sizeof *v, cmp_double);
  char a[24], b[24], c[24];
  snprintf(a, sizeof a, fmt, n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2);
  snprintf(b, sizeof b, fmt, v[0]);
  snprintf(c, sizeof c, fmt, v[n - 1]);
  snprintf(out, cap, "%s [%s–%s]", a, b, c);
}

/* ------------------------------------------------------------------ L2 throughput */

#define NKEYS 100000
#define NREQ 1000000

typedef struct {
  rs_cache_t *c;
  const bkey_t *keys;
  const uint32_t *trace;
  size_t start;
  uint64_t deadline_ns;
  uint64_t ops, hits, cpu_ns;
  volatile int *go;
} l2_thread_t;

static uint64_t thread_cpu_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void *l2_thread(void *arg) {
  l2_thread_t *t = arg;
  while (!*t->go) { }
  uint64_t cpu0 = thread_cpu_ns();
  size_t i = t->start;
  uint64_t ops = 0, hits = 0, now_ms = rs_now_ms();
  for (;;) {
    for (int b = 0; b < 1024; b++) {
      const bkey_t *k = &t->keys[t->trace[i]];
      if (++i == NREQ) i = 0;
      rs_entry_t *e = rs_cache_get(t->c, k->hash, k->key, k->len, now_ms);
      if (e) { hits++; rs_entry_release(e); }
    }
    ops += 1024;
    if (now_ns() >= t->deadline_ns) break;
  }
  t->cpu_ns = thread_cpu_ns() - cpu0;
  t->ops = ops;
  t->hits = hits;
  return NULL;
}

/* Lookups/s (millions) over nthreads threads for run_s seconds, by the
 * wall clock; *per_cpu: the same per CPU-second of the threads, times
 * nthreads (what they would do with a core each, all to themselves: on a
 * loaded machine the wall clock mostly measures the other processes). */
static double l2_run(rs_cache_t *c, const bkey_t *keys, const uint32_t *trace, int nthreads,
                     double *per_cpu) {
  l2_thread_t t[8];
  pthread_t th[8];
  volatile int go = 0;
  uint64_t start = now_ns(), deadline = start + (uint64_t)(run_s * 1e9);
  for (int i = 0; i < nthreads; i++) {
    t[i] = (l2_thread_t){ .c = c, .keys = keys, .trace = trace,
                          .start = (size_t)i * NREQ / (size_t)nthreads,
                          .deadline_ns = deadline, .go = &go };
    pthread_create(&th[i], NULL, l2_thread, &t[i]);
  }
  go = 1;
  uint64_t ops = 0, cpu = 0;
  for (int i = 0; i < nthreads; i++) {
    pthread_join(th[i], NULL);
    ops += t[i].ops;
    cpu += t[i].cpu_ns;
  }
  *per_cpu = (double)ops / ((double)cpu / 1e9) * nthreads / 1e6;
  return (double)ops / ((double)(now_ns() - start) / 1e9) / 1e6;
}

static rs_cache_t *warm_cache(unsigned shards, rs_cache_policy_t policy, const bkey_t *keys) {
  rs_cache_opts_t o = { .max_entries = NKEYS * 2, .max_bytes = (size_t)1 << 32,
                        .shards = shards, .policy = policy };
  rs_cache_t *c = rs_cache_create(&o);
  for (size_t i = 0; i < NKEYS; i++) {
    rs_entry_t *e = mkentry(&keys[i], 64);
    rs_cache_put(c, e);
    rs_entry_release(e);
  }
  return c;
}

static double load1(void) {
  double l = -1;
  FILE *f = fopen("/proc/loadavg", "r");
  if (f) { if (fscanf(f, "%lf", &l) != 1) l = -1; fclose(f); }
  return l;
}

/* Table rows for n caches, 1 and 2 threads, wall and per-CPU, median
 * [range]. Runs alternate between the caches, so that whatever else the
 * machine does in the meantime falls on all rows alike. */
static void l2_rows(const char *const *labels, rs_cache_t **c, int n, const bkey_t *keys,
                    const uint32_t *trace, bool vs_first) {
  double w1[8][32], w2[8][32], p1[8][32], p2[8][32];
  for (int r = 0; r < runs; r++)
    for (int k = 0; k < n; k++) {
      w1[k][r] = l2_run(c[k], keys, trace, 1, &p1[k][r]);
      w2[k][r] = l2_run(c[k], keys, trace, 2, &p2[k][r]);
    }
  double base = 0;
  for (int k = 0; k < n; k++) {
    char a[96], b[96], x[96], y[96];
    summary(w1[k], runs, "%.2f", a, sizeof a);
    summary(w2[k], runs, "%.2f", b, sizeof b);
    summary(p1[k], runs, "%.2f", x, sizeof x);
    summary(p2[k], runs, "%.2f", y, sizeof y);
    double med = p2[k][runs / 2];              /* sorted by summary */
    if (k == 0) base = med;
    printf("| %s | %s | %s | %s | %s |", labels[k], x, y, a, b);
    if (vs_first) printf(" %+.0f%% |", (med / base - 1) * 100);
    printf("\n");
  }
  fflush(stdout);
}

static void bench_l2(const bkey_t *keys, const uint32_t *trace) {
  static const unsigned shard_counts[] = { 16, 32, 64, 128, 256 };
  static const char *const shard_labels[] = { "16", "32", "64", "128", "256" };
  printf("\n### L2 lookups (rs_cache_get + release), Mops/s, median [min–max] of %d runs\n\n",
         runs);
  rs_cache_opts_t o = { .max_entries = 1 };
  rs_cache_t *tmp = rs_cache_create(&o);
  printf("%d warm entries, Zipf(0.99) keys, %.1f s a run, runs alternating between rows, policy "
         "%s (the default); load average before: %.2f\n\n", NKEYS, run_s,
         rs_cache_policy_name(rs_cache_policy(tmp)), load1());
  rs_cache_destroy(tmp);
  printf("| shards | 1 thread, per CPU | 2 threads, per CPU | 1 thread, wall | 2 threads, wall "
         "| 2 threads per CPU vs 16 |\n|---|---|---|---|---|---|\n");
  rs_cache_t *c[8];
  for (int k = 0; k < 5; k++) c[k] = warm_cache(shard_counts[k], 0, keys);
  l2_rows(shard_labels, c, 5, keys, trace, true);
  for (int k = 0; k < 5; k++) rs_cache_destroy(c[k]);

  printf("\nPolicy cost on the hit path (128 shards):\n\n| policy | 1 thread, per CPU | "
         "2 threads, per CPU | 1 thread, wall | 2 threads, wall |\n|---|---|---|---|---|\n");
  const char *names[8];
  int n = 0;
  for (rs_cache_policy_t p = RS_CACHE_POLICY_LRU; p < RS_CACHE_POLICY_MAX; p++, n++) {
    c[n] = warm_cache(128, p, keys);
    names[n] = rs_cache_policy_name(p);
  }
  l2_rows(names, c, n, keys, trace, false);
  for (int k = 0; k < n; k++) rs_cache_destroy(c[k]);
  printf("\n(load average after: %.2f)\n", load1());
}

/* ------------------------------------------------------------------ L1 */

static void bench_l1(void) {
  enum { N = 200, ITERS = 20000000 };
  rs_cache_opts_t co = { .max_entries = 1000, .shards = 1 };
  rs_cache_t *c = rs_cache_create(&co);
  bkey_t *keys = make_keys(N, c);
  rs_entry_t *e[N];
  for (int i = 0; i < N; i++) e[i] = mkentry(&keys[i], 256);
  rs_l1_t *l1 = rs_l1_create(NULL);            /* 8 hot, 128 in the map */
  uint64_t now = rs_now_ms();
  for (int i = 0; i < 8; i++) {                /* keys 0..7 take the hot slots */
    rs_l1_offer(l1, e[i], now);
    for (int r = 0; r < 3; r++) {
      rs_l1_ref_t *ref;
      if (rs_l1_get(l1, keys[i].hash, keys[i].key, keys[i].len, now, &ref)) rs_l1_put(l1, ref);
    }
  }
  for (int i = 8; i < 136; i++) rs_l1_offer(l1, e[i], now);   /* 128: the map is full */
  /* Pin: the hot ones stay hot, no aging during the loops. */
  for (size_t i = 0; i < l1->nhot; i++)
    if (l1->hot_ref[i]) l1->hot_ref[i]->hits = UINT32_MAX / 2;
  l1->aging_period = UINT64_MAX;

  static const char *names[] = { "hot slot hit", "map hit", "miss" };
  printf("\n### L1 lookup (rs_l1_get + rs_l1_put), ns, median [min–max] of %d runs\n\n", runs);
  printf("Default L1 (8 hot, 128 map), %d lookups a run, keys cycled; thread CPU time\n\n", ITERS);
  printf("| case | ns/lookup |\n|---|---|\n");
  for (int kind = 0; kind < 3; kind++) {
    int lo = kind == 0 ? 0 : kind == 1 ? 8 : 136, n = kind == 0 ? 8 : kind == 1 ? 128 : 64;
    double v[32];
    uint64_t found = 0;
    for (int r = 0; r < runs; r++) {
      uint64_t t0 = thread_cpu_ns();
      int j = 0;
      for (int it = 0; it < ITERS; it++) {
        const bkey_t *k = &keys[lo + j];
        if (++j == n) j = 0;
        rs_l1_ref_t *ref;
        rs_entry_t *x = rs_l1_get(l1, k->hash, k->key, k->len, now, &ref);
        if (x) { found++; rs_l1_put(l1, ref); }
      }
      v[r] = (double)(thread_cpu_ns() - t0) / ITERS;
    }
    char s[96];
    summary(v, runs, "%.1f", s, sizeof s);
    printf("| %s | %s |\n", names[kind], s);
    if ((kind < 2) != (found == (uint64_t)ITERS * runs))
      printf("(unexpected: %llu found)\n", (unsigned long long)found);
  }
  const rs_l1_stats_t *st = rs_l1_stats(l1);
  printf("\n(promotions during the loops: %llu)\n", (unsigned long long)st->promotions - 8);
  rs_l1_destroy(l1);
  for (int i = 0; i < N; i++) rs_entry_release(e[i]);
  free_keys(keys, N);
  rs_cache_destroy(c);
}

/* ------------------------------------------------------------------ hit ratio */

static double hit_ratio(rs_cache_policy_t p, unsigned shards, const bkey_t *keys,
                        const uint32_t *trace, size_t cap) {
  rs_cache_opts_t o = { .max_entries = cap, .shards = shards, .policy = p };
  rs_cache_t *c = rs_cache_create(&o);
  uint64_t now = rs_now_ms(), hits = 0;
  for (size_t i = 0; i < NREQ; i++) {
    const bkey_t *k = &keys[trace[i]];
    rs_entry_t *e = rs_cache_get(c, k->hash, k->key, k->len, now);
    if (e) {
      hits++;
    } else {
      e = mkentry(k, 16);
      rs_cache_put(c, e);
    }
    rs_entry_release(e);
  }
  rs_cache_destroy(c);
  return (double)hits / NREQ;
}

/* With probability one_time, replace a request by a key never seen before
 * (ids from NKEYS up): a crawler walking the long tail. */
static void add_one_time(uint32_t *trace, double one_time) {
  uint32_t next = NKEYS;
  for (size_t i = 0; i < NREQ; i++)
    if ((double)(rnd() >> 11) / 9007199254740992.0 < one_time) trace[i] = next++;
}

static void bench_hit_ratio(const bkey_t *keys, double one_time) {
  if (one_time == 0)
    printf("\n### Hit ratio, Zipf(0.99), %d requests over %d keys, cache = 10%% of keys "
           "(%d entries)\n\n", NREQ, NKEYS, NKEYS / 10);
  else
    printf("\n### Hit ratio, the same with %.0f%% of requests for one-time URLs (a crawler)\n\n",
           one_time * 100);
  printf("median [min–max] over %d traces (seeds); miss → insert\n\n", runs);
  printf("| policy | 1 shard | vs LRU | 128 shards | vs LRU |\n|---|---|---|---|---|\n");
  double v[RS_CACHE_POLICY_MAX][2][32];
  for (int r = 0; r < runs; r++) {
    uint32_t *trace = zipf_trace(NREQ, NKEYS, 0.99);
    if (one_time > 0) add_one_time(trace, one_time);
    for (rs_cache_policy_t p = RS_CACHE_POLICY_LRU; p < RS_CACHE_POLICY_MAX; p++) {
      v[p][0][r] = hit_ratio(p, 1, keys, trace, NKEYS / 10) * 100;
      v[p][1][r] = hit_ratio(p, 128, keys, trace, NKEYS / 10) * 100;
    }
    free(trace);
  }
  double lru[2][32];
  memcpy(lru, v[RS_CACHE_POLICY_LRU], sizeof lru);
  for (rs_cache_policy_t p = RS_CACHE_POLICY_LRU; p < RS_CACHE_POLICY_MAX; p++) {
    char s[2][96], d[2][96];
    for (int k = 0; k < 2; k++) {
      double diff[32];
      for (int r = 0; r < runs; r++) diff[r] = v[p][k][r] - lru[k][r];   /* same trace */
      summary(v[p][k], runs, "%.2f%%", s[k], sizeof s[k]);
      summary(diff, runs, "%+.2f", d[k], sizeof d[k]);
    }
    printf("| %s | %s | %s | %s | %s |\n", rs_cache_policy_name(p), s[0], d[0], s[1], d[1]);
    fflush(stdout);
  }
}

/* ------------------------------------------------------------------ build */

static void bench_build(void) {
  rs_buf_t b = { 0 };
  rs_buf_printf(&b, "<!doctype html><html><head><title>Catalogue</title></head><body><ul>");
  for (int i = 0; b.len < 14000; i++)
    rs_buf_printf(&b, "<li class=\"product\"><a href=\"/product/%d\">Товар %d</a>"
                      "<span class=\"price\">%d.%02d ₽</span></li>\n",
                  i, (i * 7919) % 1000, (i * 31) % 997, i % 100);
  rs_buf_printf(&b, "</ul></body></html>");
  static const struct { int gz, br; } cfg[] = { { 0, -1 }, { 6, -1 }, { 0, 5 }, { 6, 5 }, { 6, 11 } };
  printf("\n### rs_entry_build of a %zu-byte page (render thread), µs of CPU, median [min–max]\n\n", b.len);
  printf("| gzip level | br quality | µs | gzip bytes | br bytes |\n|---|---|---|---|---|\n");
  for (size_t i = 0; i < RS_ARRAY_SIZE(cfg); i++) {
    double v[32];
    size_t gzl = 0, brl = 0;
    for (int r = 0; r < runs; r++) {
      int n = cfg[i].br == 11 ? 5 : 50;
      uint64_t t0 = thread_cpu_ns();
      for (int k = 0; k < n; k++) {
        rs_entry_spec_t s = { .key = "k", .key_len = 1, .status = 200, .body = b.p,
                              .body_len = b.len, .ttl_ms = 1000, .gzip_level = cfg[i].gz,
                              .brotli_quality = cfg[i].br, .min_compress = 256 };
        rs_entry_t *e = rs_entry_build(&s);
        gzl = e->body[RS_ENC_GZIP].len;
        brl = e->body[RS_ENC_BR].len;
        rs_entry_release(e);
      }
      v[r] = (double)(thread_cpu_ns() - t0) / n / 1000;
    }
    char s[96];
    summary(v, runs, "%.0f", s, sizeof s);
    printf("| %s | %s | %s | %zu | %zu |\n", cfg[i].gz ? (char[]){ (char)('0' + cfg[i].gz), 0 } : "off",
           cfg[i].br >= 0 ? (cfg[i].br == 11 ? "11" : "5") : "off", s, gzl, brl);
  }
  rs_buf_free(&b);
}

int main(int argc, char **argv) {
  if (argc > 1) runs = RS_MAX(1, RS_MIN(31, atoi(argv[1])));
  if (argc > 2) run_s = atof(argv[2]);
  rs_cache_opts_t o = { .max_entries = 1 };
  rs_cache_t *hc = rs_cache_create(&o);        /* only for rs_cache_hash */
  bkey_t *keys = make_keys(NKEYS + NREQ, hc);   /* + room for one-time URLs */
  rs_cache_destroy(hc);

  const char *only = argc > 3 ? argv[3] : "";
  bool all = only[0] == 0;
  if (all || strstr(only, "hit")) {
    bench_hit_ratio(keys, 0);
    bench_hit_ratio(keys, 0.3);
  }
  if (all || strstr(only, "l1")) bench_l1();
  if (all || strstr(only, "l2")) {
    uint32_t *trace = zipf_trace(NREQ, NKEYS, 0.99);
    bench_l2(keys, trace);
    free(trace);
  }
  if (all || strstr(only, "build")) bench_build();
  free_keys(keys, NKEYS + NREQ);
  return 0;
}
