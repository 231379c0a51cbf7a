/* core/base/rs_hist.c — see rs_hist.h. */
#include "rs_hist.h"

const uint64_t rs_hist_bounds_us[RS_HIST_NB] = { 5000,   10000,   25000,   50000,   100000,  250000,
                                                 500000, 1000000, 2500000, 5000000, 10000000 };

void rs_hist_add(rs_hist_t *acc, const rs_hist_t *h) {
  for (size_t b = 0; b <= RS_HIST_NB; b++) acc->n[b] += RS_COUNTER_GET(h->n[b]);
  acc->sum_us += RS_COUNTER_GET(h->sum_us);
}

void rs_hist_render(rs_buf_t *out, const char *name, const char *labels, const rs_hist_t *h) {
  const char *sep = labels[0] ? "," : "";
  uint64_t cum = 0;
  for (size_t b = 0; b < RS_HIST_NB; b++) {
    cum += h->n[b];
    rs_buf_printf(out, "%s_bucket{%s%sle=\"%g\"} %llu\n", name, labels, sep, (double)rs_hist_bounds_us[b] / 1e6,
                  (unsigned long long)cum);
  }
  cum += h->n[RS_HIST_NB];
  rs_buf_printf(out, "%s_bucket{%s%sle=\"+Inf\"} %llu\n", name, labels, sep, (unsigned long long)cum);
  if (labels[0]) {
    rs_buf_printf(out, "%s_sum{%s} %.6f\n", name, labels, (double)h->sum_us / 1e6);
    rs_buf_printf(out, "%s_count{%s} %llu\n", name, labels, (unsigned long long)cum);
  } else {
    rs_buf_printf(out, "%s_sum %.6f\n", name, (double)h->sum_us / 1e6);
    rs_buf_printf(out, "%s_count %llu\n", name, (unsigned long long)cum);
  }
}
