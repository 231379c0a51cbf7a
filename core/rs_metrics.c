/* core/rs_metrics.c — see rs_metrics.h. */
#include "rs_metrics.h"

#include <errno.h>

#define RS__MAX_COLLECTORS 32

static struct {
  const char *name;
  rs_metrics_collect_fn fn;
  void *ud;
} rs__collectors[RS__MAX_COLLECTORS];
static int rs__ncollectors;

int rs_metrics_register(const char *name, rs_metrics_collect_fn fn, void *ud) {
  if (rs__ncollectors == RS__MAX_COLLECTORS) return -ENOSPC;
  rs__collectors[rs__ncollectors].name = name;
  rs__collectors[rs__ncollectors].fn = fn;
  rs__collectors[rs__ncollectors].ud = ud;
  rs__ncollectors++;
  return 0;
}

void rs_metrics_reset(void) { rs__ncollectors = 0; }

void rs_metrics_render(rs_buf_t *out) {
  for (int i = 0; i < rs__ncollectors; i++) rs__collectors[i].fn(out, rs__collectors[i].ud);
}

void rs_metrics_family(rs_buf_t *out, const char *name, const char *type, const char *help) {
  rs_buf_printf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}
