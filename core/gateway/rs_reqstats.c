/* core/gateway/rs_reqstats.c — see rs_reqstats.h. */
#include "rs_reqstats.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rs_hist.h"
#include "rs_metrics.h"

#define RS__MAX_LABELS 4096      /* distinct route labels; past it: counted as "(other)" */
#define RS__MAX_LOOPS 1025

/* One loop's histograms of one label, by status class 1xx..5xx. */
typedef struct {
  rs_hist_t by_class[5];
} __attribute__((aligned(RS_CACHELINE))) rs__slot_t;

typedef struct {
  char *label;
  rs__slot_t *slots;             /* [rs__nloops] */
} rs__series_t;

/* Labels get an id once (under rs__mu) and keep it; the array of series
 * only grows, each entry published with a release store of rs__n, so a
 * scrape that reads rs__n (acquire) sees the entries below it whole. */
static pthread_mutex_t rs__mu = PTHREAD_MUTEX_INITIALIZER;
static rs__series_t rs__series[RS__MAX_LABELS];
static size_t rs__n;
static int rs__nloops = 9;

static size_t rs__id_locked(const char *label) {
  for (size_t i = 0; i < rs__n; i++)
    if (strcmp(rs__series[i].label, label) == 0) return i;
  if (rs__n == RS__MAX_LABELS) return RS__MAX_LABELS - 1;   /* the last one stands for the rest */
  rs__series_t *s = &rs__series[rs__n];
  s->label = rs_xstrdup(rs__n == RS__MAX_LABELS - 1 ? "(other)" : label);
  if (posix_memalign((void **)&s->slots, RS_CACHELINE, (size_t)rs__nloops * sizeof(rs__slot_t)) != 0) abort();
  memset(s->slots, 0, (size_t)rs__nloops * sizeof(rs__slot_t));
  __atomic_store_n(&rs__n, rs__n + 1, __ATOMIC_RELEASE);
  return rs__n - 1;
}

/* The series id of route: found once per route and kept in it (+1; 0 =
 * not yet). Acquire/release: a loop that reads another loop's cached id
 * sees the series it names. */
static size_t rs__id(const rs_route_t *route) {
  static size_t none = 0;        /* (none)'s id + 1 */
  size_t *cache = route != NULL ? (size_t *)&route->_stats_id : &none;
  size_t id = __atomic_load_n(cache, __ATOMIC_ACQUIRE);
  if (id != 0) return id - 1;
  char label[512];
  if (route == NULL) snprintf(label, sizeof(label), "(none)");
  else snprintf(label, sizeof(label), "%s%s", route->host ? route->host : "", route->path);
  pthread_mutex_lock(&rs__mu);
  id = rs__id_locked(label);
  pthread_mutex_unlock(&rs__mu);
  __atomic_store_n(cache, id + 1, __ATOMIC_RELEASE);
  return id;
}

void rs_reqstats_start(rs_req_t *req) { req->ctx[RS_REQ_CTX_T0] = (void *)(uintptr_t)rs_now_us(); }

void rs_reqstats_end(rs_req_t *req, const rs_route_t *route, int status) {
  uint64_t t0 = (uint64_t)(uintptr_t)req->ctx[RS_REQ_CTX_T0];
  if (t0 == 0 || req->loop->index >= rs__nloops) return;
  uint64_t now = rs_now_us();
  int cls = status / 100;
  if (cls < 1 || cls > 5) cls = 5;
  size_t id = rs__id(route);
  rs_hist_observe(&rs__series[id].slots[req->loop->index].by_class[cls - 1], now > t0 ? now - t0 : 0);
}

static void rs__collect(rs_buf_t *out, void *ud) {
  (void)ud;
  rs_metrics_family(out, "rustyssr_request_duration_seconds", "histogram",
                    "Requests answered, by route (host and path as declared) and status class: from the "
                    "dispatch to the answer's last byte.");
  size_t n = __atomic_load_n(&rs__n, __ATOMIC_ACQUIRE);
  rs_buf_t lab = { 0 };
  for (size_t i = 0; i < n; i++)
    for (int c = 0; c < 5; c++) {
      rs_hist_t h = { 0 };
      for (int l = 0; l < rs__nloops; l++) rs_hist_add(&h, &rs__series[i].slots[l].by_class[c]);
      uint64_t total = 0;
      for (size_t b = 0; b <= RS_HIST_NB; b++) total += h.n[b];
      if (total == 0) continue;  /* a class never seen: no series (as client libraries do) */
      lab.len = 0;
      rs_buf_append(&lab, "route=\"", 7);
      rs_metrics_label(&lab, rs__series[i].label, strlen(rs__series[i].label));
      rs_buf_printf(&lab, "\",status=\"%dxx\"", c + 1);
      rs_hist_render(out, "rustyssr_request_duration_seconds", lab.p, &h);
    }
  rs_buf_free(&lab);
}

void rs_reqstats_register(int nloops) {
  pthread_mutex_lock(&rs__mu);
  if (rs__n == 0 && nloops + 1 > rs__nloops) rs__nloops = RS_MIN(nloops + 1, RS__MAX_LOOPS);
  pthread_mutex_unlock(&rs__mu);
  rs_metrics_register("requests", rs__collect, NULL);
}
