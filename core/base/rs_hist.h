/* core/base/rs_hist.h — Prometheus histograms of durations, written
 * without locks: each loop thread observes into its own rs_hist_t (plain
 * relaxed counters, RS_COUNTER_ADD), a scrape sums them (rs_metrics.h's
 * rule). Buckets are Prometheus's defaults, in seconds:
 * 0.005 0.01 0.025 0.05 0.1 0.25 0.5 1 2.5 5 10, then +Inf. */
#ifndef RS_HIST_H
#define RS_HIST_H

#include "rs_common.h"

#define RS_HIST_NB 11            /* finite buckets; [RS_HIST_NB] is +Inf */

typedef struct {
  uint64_t n[RS_HIST_NB + 1];    /* observations in each bucket (not cumulative) */
  uint64_t sum_us;
} rs_hist_t;

extern const uint64_t rs_hist_bounds_us[RS_HIST_NB];

/* Count one observation of us microseconds. Only the thread owning h. */
static inline void rs_hist_observe(rs_hist_t *h, uint64_t us) {
  size_t b = 0;
  while (b < RS_HIST_NB && us > rs_hist_bounds_us[b]) b++;
  RS_COUNTER_ADD(h->n[b], 1);
  RS_COUNTER_ADD(h->sum_us, us);
}

/* Add h's counters into acc (a scrape summing the loops). Any thread. */
void rs_hist_add(rs_hist_t *acc, const rs_hist_t *h);

/* Append one series of the histogram name: its _bucket lines (cumulative),
 * _sum and _count, each with labels ("a=\"b\",c=\"d\"", or "" for none)
 * before le. The family's HELP/TYPE lines are the caller's. */
void rs_hist_render(rs_buf_t *out, const char *name, const char *labels, const rs_hist_t *h);

#endif
