/* core/base/rs_metrics.h — a small Prometheus registry.
 *
 * Modules register a collector once at start-up; a scrape of /metrics
 * (admin listener, main thread) calls every collector in order, and each
 * appends its families in the text exposition format. Hot-path counters live
 * in per-thread structs (RS_COUNTER_ADD, no shared atomics) and collectors
 * sum them when scraped. */
#ifndef RS_METRICS_H
#define RS_METRICS_H

#include "rs_common.h"

typedef void (*rs_metrics_collect_fn)(rs_buf_t *out, void *ud);

/* Register a collector. Main thread, before the admin listener starts.
 * Returns 0, or -ENOSPC past a fixed maximum (32). */
int rs_metrics_register(const char *name, rs_metrics_collect_fn fn, void *ud);
/* Drop every collector (tests and shutdown). */
void rs_metrics_reset(void);

/* Render every collector's families into out. Main thread. */
void rs_metrics_render(rs_buf_t *out);

/* "# HELP name help\n# TYPE name type\n". */
void rs_metrics_family(rs_buf_t *out, const char *name, const char *type, const char *help);

/* Append s[0..n) as a Prometheus label value (", \ and newline escaped). */
void rs_metrics_label(rs_buf_t *out, const char *s, size_t n);

/* The process_* families every Prometheus client exports (CPU seconds,
 * resident and virtual memory, threads, start time, open and maximum fds),
 * read from /proc at each scrape. A collector: register it with ud NULL. */
void rs_metrics_process(rs_buf_t *out, void *ud);

#endif
