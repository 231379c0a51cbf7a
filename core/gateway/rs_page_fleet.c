/* core/gateway/rs_page_fleet.c — the page cache over the shared tier
 * (cache.shared; core/fleet/rs_fleet.h): the process's part on the main
 * loop, each loop's part, the lookup a leader makes before it renders
 * (page, lock or wait), the store after, and purges both ways. */
#include "rs_page.h"
#include "rs_page_int.h"

#include "rs_fleet.h"
#include "rs_log.h"
#include "rs_metrics.h"
#include "rs_purge.h"

#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

static rs_fleet_t *rs__fleet;
static rs_fleet_loop_t *rs__main;    /* the main loop's part: admin purges */
static struct rs_cache_s *rs__cache;
static uint64_t rs__rid_seed;        /* render ids: random per process */
static __thread rs_fleet_loop_t *rs__here;   /* this thread's part, for purges */

/* A purge of the fleet (this instance's included), applied to this L2; the
 * L1s follow by the purge epoch. */
static void rs__apply(void *data, rs_purge_by_t by, const char *arg, size_t len, bool soft) {
  (void)data;
  rs_purge_local(rs__cache, by, arg, len, soft);
}

static void rs__sent(void *data, uint64_t seq) {
  if (seq == 0) rs_log_warn("shared cache: a purge could not reach the fleet (applied here only)");
  if (data != NULL) rs_purge_wait_settle(data, seq != 0);
}

/* A purge made here (admin listener, ssr.purge): to the fleet; w (may be
 * NULL) learns whether the fleet took it. */
static void rs__observe(rs_purge_by_t by, const char *v, size_t len, bool soft, rs_purge_wait_t *w) {
  if (rs__here == NULL || !rs_fleet_loop_ready(rs__here)) {
    /* Known at once (not connected, breaker open): the caller can say so. */
    rs_log_warn("shared cache: a purge could not reach the fleet: the shared cache is down (applied here only)");
    if (w != NULL) w->failed++;
    return;
  }
  if (w != NULL) w->pending++;
  rs_fleet_purge(rs__here, by, v, len, soft, rs__sent, w);
}

static rs_fleet_opts_t rs__opts(const rs_config_t *cfg) {
  const __typeof__(cfg->cache.shared) *sh = &cfg->cache.shared;
  uint64_t lock = sh->lock_ms ? sh->lock_ms : 2 * cfg->render.timeout_ms + 500;
  return (rs_fleet_opts_t){
    .redis = { .host = sh->host, .port = sh->port, .db = sh->db, .password = sh->password,
               .connect_timeout_ms = sh->connect_timeout_ms, .timeout_ms = sh->timeout_ms,
               .max_fails = sh->max_fails, .fail_timeout_ms = sh->fail_timeout_ms, .unref = true },
    .prefix = sh->prefix ? sh->prefix : "rs:",
    .write_timeout_ms = sh->write_timeout_ms,
    .lock_ms = (uint32_t)RS_MIN(lock, UINT32_MAX),
    .lock_wait_ms = sh->lock_wait_ms,
    .max_bytes = sh->max_bytes,
    .on_purge = rs__apply,
  };
}

void rs_page_fleet_start(uv_loop_t *main, struct rs_cache_s *cache, const rs_config_t *cfg) {
  if (cfg->cache.shared.host == NULL || cache == NULL) return;
  rs__cache = cache;
  if (getrandom(&rs__rid_seed, sizeof(rs__rid_seed), 0) != sizeof(rs__rid_seed))
    rs__rid_seed = rs_now_us() ^ ((uint64_t)getpid() << 32);
  rs_fleet_opts_t o = rs__opts(cfg);
  rs__fleet = rs_fleet_new(main, &o);
  rs__main = rs__here = rs_fleet_loop_new(rs__fleet, main);
  rs_purge_observe(rs__observe);
  rs_log_info("shared cache: redis %s:%d, prefix \"%s\", lookups within %u ms", cfg->cache.shared.host,
              cfg->cache.shared.port, o.prefix, cfg->cache.shared.timeout_ms);
}

void rs_page_fleet_stop(void) {
  if (rs__fleet == NULL) return;
  rs_purge_observe(NULL);
  rs_fleet_loop_close(rs__main);
  rs_fleet_close(rs__fleet);
  rs__fleet = NULL;
  rs__main = rs__here = NULL;
}

void rs_page__fleet_loop_init(rs_loop_t *loop) {
  if (rs__fleet != NULL) rs_page__loop(loop)->fleet = rs_fleet_loop_new(rs__fleet, &loop->uv);
}

void rs_page__fleet_loop_thread(rs_loop_t *loop) {
  rs_page_loop_t *pl = rs_page__loop(loop);
  rs__here = pl != NULL ? pl->fleet : NULL;
}

void rs_page__fleet_loop_dispose(rs_loop_t *loop) {
  rs_page_loop_t *pl = rs_page__loop(loop);
  if (pl == NULL || pl->fleet == NULL) return;
  rs_fleet_loop_close(pl->fleet);
  pl->fleet = NULL;
  for (int i = 0; i < 16 && uv_run(&loop->uv, UV_RUN_NOWAIT) != 0; i++) {}
}

/* ------------------------------------------------------------------ lookups */

uint64_t rs_page__fleet_rid(rs_loop_t *loop) {
  return rs__rid_seed ^ ((uint64_t)loop->index << 48) ^ ++rs_page__loop(loop)->rid_seq;
}

void rs_page__fleet_store(rs_loop_t *loop, const rs_entry_t *e, const rs_page_l3_t *l3) {
  rs_page_loop_t *pl = rs_page__loop(loop);
  if (l3->lead && pl->fleet != NULL) rs_fleet_store(pl->fleet, e, l3->seq, l3->rid);
}

void rs_page__fleet_unlock(rs_loop_t *loop, const char *key, size_t klen, const rs_page_l3_t *l3) {
  rs_page_loop_t *pl = rs_page__loop(loop);
  if (l3->lead && pl->fleet != NULL) rs_fleet_unlock(pl->fleet, key, klen, l3->rid);
}

/* ------------------------------------------------------------------ metrics */

void rs_page_fleet_collect(rs_buf_t *out, rs_loop_t **loops, int nloops) {
  if (rs__fleet == NULL) return;
  rs_fleet_stats_t sum;
  memset(&sum, 0, sizeof(sum));
  uint64_t waits = 0, trips = 0, open = 0;
  for (int i = -1; i < nloops; i++) {
    const rs_page_loop_t *pl = i < 0 ? NULL : rs_page__loop(loops[i]);
    const rs_fleet_loop_t *fl = i < 0 ? rs__main : pl != NULL ? pl->fleet : NULL;
    if (fl == NULL) continue;
    const rs_fleet_stats_t *s = rs_fleet_loop_stats(fl);
    sum.hits += RS_COUNTER_GET(s->hits);
    sum.leads += RS_COUNTER_GET(s->leads);
    sum.waits += RS_COUNTER_GET(s->waits);
    sum.misses += RS_COUNTER_GET(s->misses);
    sum.errors += RS_COUNTER_GET(s->errors);
    sum.stores += RS_COUNTER_GET(s->stores);
    sum.stores_refused += RS_COUNTER_GET(s->stores_refused);
    sum.too_big += RS_COUNTER_GET(s->too_big);
    sum.corrupt += RS_COUNTER_GET(s->corrupt);
    sum.stale += RS_COUNTER_GET(s->stale);
    sum.refreshes += RS_COUNTER_GET(s->refreshes);
    sum.purges_sent += RS_COUNTER_GET(s->purges_sent);
    uint64_t t;
    open += rs_fleet_loop_breaker(fl, &t);
    trips += t;
    if (pl != NULL) waits += RS_COUNTER_GET(pl->c.l3_waits);
  }
  const rs_fleet_stats_t *p = rs_fleet_stats(rs__fleet);
  struct { const char *name, *type, *help; uint64_t v; } rows[] = {
    { "rustyssr_l3_hits_total", "counter", "Shared-tier lookups that found the page.", sum.hits },
    { "rustyssr_l3_leads_total", "counter", "Shared-tier lookups that took the render lock.", sum.leads },
    { "rustyssr_l3_waits_total", "counter", "Shared-tier lookups told another instance renders.", sum.waits },
    { "rustyssr_l3_stale_total", "counter",
      "Shared-tier lookups that found the page stale (soft-purged or past its TTL): served stale, "
      "refreshed by one instance.", sum.stale },
    { "rustyssr_l3_refreshes_total", "counter",
      "Shared-tier lookups that found the page due for its refresh ahead and took the lock to refresh it "
      "for the fleet (cache.prefresh).", sum.refreshes },
    { "rustyssr_l3_misses_total", "counter", "Shared-tier lookups with no answer in time (rendered here).",
      sum.misses },
    { "rustyssr_l3_errors_total", "counter", "Shared-tier commands that failed or timed out.", sum.errors },
    { "rustyssr_l3_stores_total", "counter", "Pages stored in the shared tier.", sum.stores },
    { "rustyssr_l3_stores_refused_total", "counter",
      "Pages the shared tier refused: a purge came after their render began.", sum.stores_refused },
    { "rustyssr_l3_too_big_total", "counter", "Pages over cache.shared.max_bytes, kept here only.",
      sum.too_big },
    { "rustyssr_l3_corrupt_total", "counter", "Shared-tier pages that failed their checks (misses).",
      sum.corrupt },
    { "rustyssr_l3_purges_sent_total", "counter", "Purges sent to the fleet.", sum.purges_sent },
    { "rustyssr_l3_purges_applied_total", "counter", "Fleet purges applied here.", p->purges_applied },
    { "rustyssr_l3_full_purges_total", "counter",
      "Local purges of everything: the purge log no longer held what was missed.", p->full_purges },
    { "rustyssr_l3_purge_seq", "gauge", "The last fleet purge applied here.", rs_fleet_applied_seq(rs__fleet) },
    { "rustyssr_l3_subscribed", "gauge", "1 while the purge channel is connected.",
      rs_fleet_subscribed(rs__fleet) ? 1u : 0u },
    { "rustyssr_l3_breaker_open", "gauge",
      "Loop threads whose breaker is open now: the tier rests after max_fails failures in a row.", open },
    { "rustyssr_l3_breaker_trips_total", "counter", "Times a loop thread's breaker opened.", trips },
    { "rustyssr_l3_wait_retries_total", "counter", "Lookups asked again while another instance rendered.",
      waits },
  };
  for (size_t i = 0; i < RS_ARRAY_SIZE(rows); i++) {
    rs_metrics_family(out, rows[i].name, rows[i].type, rows[i].help);
    rs_buf_printf(out, "%s %llu\n", rows[i].name, (unsigned long long)rows[i].v);
  }
}
