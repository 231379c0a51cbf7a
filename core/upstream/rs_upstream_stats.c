/* core/upstream/rs_upstream_stats.c — upstream metrics: counters per
 * (upstream, server) and per loop, written by that loop only; the entries
 * live as long as the process (a reload finds its own again by name), so a
 * scrape never reads freed memory. Gauges per loop: idle and active
 * connections, fetches in flight. */
#include "rs_upstream.h"
#include "rs_upstream_int.h"

#include "rs_metrics.h"

static const char *const rs__fail_label[] = {
#define XX(n, label, msg) label,
  RS__FAIL_MAP(XX)
#undef XX
};

static rs__gauge_t rs__gauges[RS__MAX_SLOTS];
static rs__stat_t *rs__stats;    /* guarded by rs__stats_lock when adding */
static int rs__nslots = 9;       /* loops 0..8 unless told (unit tests) */
static uv_mutex_t rs__stats_lock;
static uv_once_t rs__stats_once = UV_ONCE_INIT;

static void rs__stats_init(void) { uv_mutex_init(&rs__stats_lock); }

rs__stat_t *rs__ustat_get(const char *upstream, const char *server) {
  uv_once(&rs__stats_once, rs__stats_init);
  uv_mutex_lock(&rs__stats_lock);
  rs__stat_t *s;
  for (s = rs__stats; s != NULL; s = s->next)
    if (strcmp(s->upstream, upstream) == 0 && strcmp(s->server, server) == 0) break;
  if (s == NULL) {
    s = rs_xcalloc(1, sizeof(*s));
    snprintf(s->upstream, sizeof(s->upstream), "%s", upstream);
    snprintf(s->server, sizeof(s->server), "%s", server);
    if (posix_memalign((void **)&s->slots, RS_CACHELINE, (size_t)rs__nslots * sizeof(rs__stat_slot_t)) != 0)
      abort();
    memset(s->slots, 0, (size_t)rs__nslots * sizeof(rs__stat_slot_t));
    /* release: a scrape that sees the new head sees its fields */
    s->next = rs__stats;
    __atomic_store_n(&rs__stats, s, __ATOMIC_RELEASE);
  }
  uv_mutex_unlock(&rs__stats_lock);
  return s;
}

rs__stat_slot_t *rs__ustat_slot(rs__stat_t *s, const rs_loop_t *loop) {
  return s != NULL && loop->index < rs__nslots ? &s->slots[loop->index] : NULL;
}

rs__gauge_t *rs__ugauge(const rs_loop_t *loop) {
  return &rs__gauges[loop->index < RS__MAX_SLOTS ? loop->index : 0];
}

static const char *const rs__tls_label[RS__TLS_MAX] = { "ok", "verify_error", "error" };

/* TLS handshakes with https:// servers by result, and the resumed ones;
 * fetches of URLs as upstream "-", server "-". */
static void rs__collect_tls(rs_buf_t *out, rs__stat_t *head) {
  uint64_t url[RS__TLS_MAX] = { 0 }, url_resumed = 0;
  for (int i = 0; i < rs__nslots && i < RS__MAX_SLOTS; i++) {
    for (int k = 0; k < RS__TLS_MAX; k++) url[k] += RS_COUNTER_GET(rs__gauges[i].url_tls[k]);
    url_resumed += RS_COUNTER_GET(rs__gauges[i].url_tls_resumed);
  }
  rs_metrics_family(out, "rustyssr_upstream_tls_handshakes_total", "counter",
                    "TLS handshakes with upstream servers by result (ok, verify_error, error).");
  for (rs__stat_t *s = head; s != NULL; s = s->next) {
    for (int k = 0; k < RS__TLS_MAX; k++) {
      uint64_t n = 0;
      for (int i = 0; i < rs__nslots; i++) n += RS_COUNTER_GET(s->slots[i].tls[k]);
      if (n == 0) continue;      /* cleartext servers have none */
      rs_buf_printf(out, "rustyssr_upstream_tls_handshakes_total{upstream=\"%s\",server=\"%s\",result=\"%s\"} %llu\n",
                    s->upstream, s->server, rs__tls_label[k], (unsigned long long)n);
    }
  }
  for (int k = 0; k < RS__TLS_MAX; k++)
    rs_buf_printf(out, "rustyssr_upstream_tls_handshakes_total{upstream=\"-\",server=\"-\",result=\"%s\"} %llu\n",
                  rs__tls_label[k], (unsigned long long)url[k]);
  rs_metrics_family(out, "rustyssr_upstream_tls_resumed_total", "counter",
                    "TLS handshakes with upstream servers that resumed a session (of the ok ones).");
  for (rs__stat_t *s = head; s != NULL; s = s->next) {
    uint64_t n = 0, any = 0;
    for (int i = 0; i < rs__nslots; i++) {
      n += RS_COUNTER_GET(s->slots[i].tls_resumed);
      for (int k = 0; k < RS__TLS_MAX; k++) any += RS_COUNTER_GET(s->slots[i].tls[k]);
    }
    if (any == 0) continue;
    rs_buf_printf(out, "rustyssr_upstream_tls_resumed_total{upstream=\"%s\",server=\"%s\"} %llu\n", s->upstream,
                  s->server, (unsigned long long)n);
  }
  rs_buf_printf(out, "rustyssr_upstream_tls_resumed_total{upstream=\"-\",server=\"-\"} %llu\n",
                (unsigned long long)url_resumed);
}

static void rs__collect(rs_buf_t *out, void *ud) {
  (void)ud;
  rs__stat_t *head = __atomic_load_n(&rs__stats, __ATOMIC_ACQUIRE);
  rs_metrics_family(out, "rustyssr_upstream_requests_total", "counter",
                    "Upstream responses by upstream, server and status class.");
  for (rs__stat_t *s = head; s != NULL; s = s->next) {
    for (int k = 1; k <= 5; k++) {
      uint64_t n = 0;
      for (int i = 0; i < rs__nslots; i++) n += RS_COUNTER_GET(s->slots[i].requests[k]);
      rs_buf_printf(out, "rustyssr_upstream_requests_total{upstream=\"%s\",server=\"%s\",class=\"%dxx\"} %llu\n",
                    s->upstream, s->server, k, (unsigned long long)n);
    }
  }
  rs_metrics_family(out, "rustyssr_upstream_failures_total", "counter",
                    "Upstream failures by upstream, server and kind.");
  for (rs__stat_t *s = head; s != NULL; s = s->next) {
    for (int k = 0; k < RS__F_MAX; k++) {
      uint64_t n = 0;
      for (int i = 0; i < rs__nslots; i++) n += RS_COUNTER_GET(s->slots[i].failures[k]);
      rs_buf_printf(out, "rustyssr_upstream_failures_total{upstream=\"%s\",server=\"%s\",kind=\"%s\"} %llu\n",
                    s->upstream, s->server, rs__fail_label[k], (unsigned long long)n);
    }
  }
  /* By upstream: every server's slots of every loop, summed (the list
   * holds each (upstream, server) once; a name is rendered at its first). */
  rs_metrics_family(out, "rustyssr_upstream_response_seconds", "histogram",
                    "Upstream exchanges answered, by upstream: from the exchange's start (connect and "
                    "retries included) to the response's last byte.");
  for (rs__stat_t *s = head; s != NULL; s = s->next) {
    bool first = true;
    for (rs__stat_t *e = head; e != s; e = e->next) first = first && strcmp(e->upstream, s->upstream) != 0;
    if (!first) continue;
    rs_hist_t h = { 0 };
    for (rs__stat_t *e = s; e != NULL; e = e->next)
      if (strcmp(e->upstream, s->upstream) == 0)
        for (int i = 0; i < rs__nslots; i++) rs_hist_add(&h, &e->slots[i].response);
    rs_buf_t lab = { 0 };
    rs_buf_append(&lab, "upstream=\"", 10);
    rs_metrics_label(&lab, s->upstream, strlen(s->upstream));
    rs_buf_append(&lab, "\"", 2);   /* with the NUL: lab.p is a C string */
    rs_hist_render(out, "rustyssr_upstream_response_seconds", lab.p, &h);
    rs_buf_free(&lab);
  }
  rs__collect_tls(out, head);
  uint64_t idle = 0, active = 0, inflight = 0;
  for (int i = 0; i < rs__nslots && i < RS__MAX_SLOTS; i++) {
    idle += RS_COUNTER_GET(rs__gauges[i].idle);
    active += RS_COUNTER_GET(rs__gauges[i].active);
    inflight += RS_COUNTER_GET(rs__gauges[i].fetch_inflight);
  }
  rs_metrics_family(out, "rustyssr_upstream_connections", "gauge", "Upstream connections by state.");
  rs_buf_printf(out, "rustyssr_upstream_connections{state=\"idle\"} %llu\n", (unsigned long long)idle);
  rs_buf_printf(out, "rustyssr_upstream_connections{state=\"active\"} %llu\n", (unsigned long long)active);
  rs_metrics_family(out, "rustyssr_fetch_inflight", "gauge", "Fetches started and not finished.");
  rs_buf_printf(out, "rustyssr_fetch_inflight %llu\n", (unsigned long long)inflight);
}

void rs_upstream_metrics_register(int nloops) {
  uv_once(&rs__stats_once, rs__stats_init);
  if (nloops + 1 > rs__nslots) rs__nslots = RS_MIN(nloops + 1, RS__MAX_SLOTS);
  rs_metrics_register("upstream", rs__collect, NULL);
}

/* ------------------------------------------------------------------ for rs_fetch.c */

size_t rs_fetch_inflight(const rs_loop_t *loop) { return RS_COUNTER_GET(rs__ugauge(loop)->fetch_inflight); }

void rs__upstream_fetch_gauge(const rs_loop_t *loop, int delta) {
  RS_COUNTER_ADD(rs__ugauge(loop)->fetch_inflight, (uint64_t)(int64_t)delta);
}
