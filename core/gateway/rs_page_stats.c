/* core/gateway/rs_page_stats.c — the page cache's metrics: the per-loop
 * counters (rs_page.h) and L1 figures summed over every loop, with L2's. */
#include "rs_page.h"
#include "rs_page_int.h"

#include "rs_metrics.h"

#include <string.h>

void rs_page_collect(rs_buf_t *out, rs_loop_t **loops, int nloops, struct rs_cache_s *cache) {
  rs_page_counters_t sum;
  memset(&sum, 0, sizeof(sum));
  uint64_t l1_hot = 0, l1_map = 0, l1_entries = 0, l1_bytes = 0;
  for (int i = 0; i < nloops; i++) {
    const rs_page_loop_t *pl = rs_page__loop(loops[i]);
    if (pl == NULL) continue;
    const rs_page_counters_t *c = &pl->c;
    sum.lookups += RS_COUNTER_GET(c->lookups);
    sum.hits_l1 += RS_COUNTER_GET(c->hits_l1);
    sum.hits_l2 += RS_COUNTER_GET(c->hits_l2);
    sum.stale += RS_COUNTER_GET(c->stale);
    sum.misses += RS_COUNTER_GET(c->misses);
    sum.coalesced += RS_COUNTER_GET(c->coalesced);
    sum.bypass += RS_COUNTER_GET(c->bypass);
    sum.not_modified += RS_COUNTER_GET(c->not_modified);
    sum.uncacheable += RS_COUNTER_GET(c->uncacheable);
    sum.refresh_failed += RS_COUNTER_GET(c->refresh_failed);
    sum.hits_l3 += RS_COUNTER_GET(c->hits_l3);
    if (pl->l1 == NULL) continue;
    const rs_l1_stats_t *ls = rs_l1_stats(pl->l1);
    l1_hot += RS_COUNTER_GET(ls->hits_hot);
    l1_map += RS_COUNTER_GET(ls->hits_map);
    l1_entries += RS_COUNTER_GET(ls->entries);
    l1_bytes += RS_COUNTER_GET(ls->bytes);
  }
  rs_cache_stats_t cs;
  rs_cache_stats(cache, &cs);
  struct { const char *name, *type, *help; uint64_t v; } rows[] = {
    { "rustyssr_cache_lookups_total", "counter", "Cacheable requests looked up.", sum.lookups },
    { "rustyssr_cache_hits_l1_total", "counter", "Answered from this loop's L1.", sum.hits_l1 },
    { "rustyssr_cache_hits_l2_total", "counter", "Answered from the shared L2.", sum.hits_l2 },
    { "rustyssr_cache_hits_l3_total", "counter", "Misses answered from the fleet's shared tier.", sum.hits_l3 },
    { "rustyssr_cache_stale_total", "counter", "Answered with a stale page within grace.", sum.stale },
    { "rustyssr_cache_misses_total", "counter", "Lookups that found no servable page.", sum.misses },
    { "rustyssr_cache_coalesced_total", "counter", "Misses that waited for a render already running.",
      sum.coalesced },
    { "rustyssr_cache_bypass_total", "counter", "Requests not looked up (Authorization, Cookie).",
      sum.bypass },
    { "rustyssr_cache_not_modified_total", "counter", "304 answers to If-None-Match.", sum.not_modified },
    { "rustyssr_cache_uncacheable_total", "counter", "Rendered pages not stored (Set-Cookie, private, "
      "no-store, status, ttl 0).", sum.uncacheable },
    { "rustyssr_cache_refresh_failed_total", "counter", "Background refreshes that failed (stale kept).",
      sum.refresh_failed },
    { "rustyssr_cache_inserts_total", "counter", "Pages stored in L2.", cs.inserts },
    { "rustyssr_cache_evictions_total", "counter", "Pages evicted for room.", cs.evictions },
    { "rustyssr_cache_expirations_total", "counter", "Pages dropped past their grace.", cs.expirations },
    { "rustyssr_cache_purged_total", "counter", "Pages removed by purges.", cs.purged },
    { "rustyssr_cache_softened_total", "counter",
      "Pages soft purges and deploys turned stale (each then refreshed once, in the background).", cs.softened },
    { "rustyssr_cache_prefreshes_total", "counter",
      "Hot pages refreshed ahead of their expiry (cache.prefresh; each once, in the background).",
      cs.prefreshes },
    { "rustyssr_cache_refused_stale_total", "counter",
      "Renders not stored because a purge came after they began.", cs.refused_stale },
    { "rustyssr_cache_entries", "gauge", "Pages in L2.", cs.entries },
    { "rustyssr_cache_bytes", "gauge", "Bytes in L2 (all variants).", cs.bytes },
    { "rustyssr_cache_l1_entries", "gauge", "Pages held by the L1s.", l1_entries },
    { "rustyssr_cache_l1_bytes", "gauge", "Bytes held by the L1s.", l1_bytes },
  };
  for (size_t i = 0; i < RS_ARRAY_SIZE(rows); i++) {
    rs_metrics_family(out, rows[i].name, rows[i].type, rows[i].help);
    rs_buf_printf(out, "%s %llu\n", rows[i].name, (unsigned long long)rows[i].v);
  }
  rs_metrics_family(out, "rustyssr_cache_l1_hits_total", "counter", "L1 hits by part.");
  rs_buf_printf(out, "rustyssr_cache_l1_hits_total{part=\"hot\"} %llu\n", (unsigned long long)l1_hot);
  rs_buf_printf(out, "rustyssr_cache_l1_hits_total{part=\"map\"} %llu\n", (unsigned long long)l1_map);
  double served = (double)(sum.hits_l1 + sum.hits_l2 + sum.stale);
  rs_metrics_family(out, "rustyssr_cache_hit_ratio", "gauge",
                    "(L1 + L2 + stale answers) / lookups since start.");
  rs_buf_printf(out, "rustyssr_cache_hit_ratio %.4f\n", sum.lookups ? served / (double)sum.lookups : 0.0);
  rs_page_fleet_collect(out, loops, nloops);
}
