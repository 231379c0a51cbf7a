/* core/server/rs_accesslog.c — see rs_accesslog.h. */
#include "rs_accesslog.h"

#include <stdlib.h>
#include <string.h>

#include "rs_log.h"

/* The path of each open file, by index (main thread writes them at start;
 * read-only after). */
static char *rs__paths[RS_LOG_ACCESS_FILES];

const char *rs_accesslog_path(const rs_config_t *cfg, const struct rs_server_conf_s *s) {
  return s != NULL && s->access_set ? s->access : cfg->log.access;
}
#define rs__path_of rs_accesslog_path

int rs_accesslog_open(const rs_config_t *cfg, const char **failed) {
  int rc = rs_log_access_open(cfg->log.access);
  if (rc != 0) {
    *failed = cfg->log.access;
    return rc;
  }
  free(rs__paths[0]);
  rs__paths[0] = cfg->log.access ? rs_xstrdup(cfg->log.access) : NULL;
  int next = 1;
  for (size_t i = 0; i < cfg->nservers; i++) {
    const char *p = rs__path_of(cfg, &cfg->servers[i]);
    bool open = false;
    for (int k = 0; p != NULL && k < next; k++) open = open || (rs__paths[k] != NULL && strcmp(rs__paths[k], p) == 0);
    if (p == NULL || open) continue;
    if (next == RS_LOG_ACCESS_FILES) {
      rs_log_warn("servers.%s.access_log: more than %d access-log files: it logs to log.access",
                  cfg->servers[i].name, RS_LOG_ACCESS_FILES);
      continue;
    }
    rc = rs_log_access_open_file(next, p);
    if (rc != 0) {
      *failed = p;
      return rc;
    }
    rs__paths[next++] = rs_xstrdup(p);
  }
  return 0;
}

int rs_accesslog_file(const rs_config_t *cfg, const struct rs_server_conf_s *s) {
  const char *p = rs__path_of(cfg, s);
  if (p == NULL) return -1;
  for (int i = 0; i < RS_LOG_ACCESS_FILES; i++)
    if (rs__paths[i] != NULL && strcmp(rs__paths[i], p) == 0) return i;
  return rs__paths[0] != NULL ? 0 : -1;   /* a file named after the start: log.access's */
}

const char *rs_accesslog_format(const rs_config_t *cfg, const struct rs_server_conf_s *s) {
  return s != NULL && s->access_format != NULL ? s->access_format : cfg->log.access_format;
}
