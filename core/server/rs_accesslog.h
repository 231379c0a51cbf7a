/* core/server/rs_accesslog.h — which access-log file and format each
 * listener writes with (log.access / log.access_format, and a listener's
 * own servers = { NAME = { access_log, access_format } }).
 *
 * Files open once, at start (rs_log.h's file 0 is log.access, then one per
 * other path a listener names); they stay until a restart, as log.access
 * does: a reload that names another file keeps writing to the old one. */
#ifndef RS_ACCESSLOG_H
#define RS_ACCESSLOG_H

#include "rs_config.h"

/* Open log.access and every listener's own file. Returns 0, or a negative
 * errno with *failed set to the path. Main thread, at start. */
int rs_accesslog_open(const rs_config_t *cfg, const char **failed);

/* The access-log file (rs_log.h's index) of listener server_conf (NULL:
 * the main listener, or one the config does not name) under cfg: -1 when
 * it logs nothing. */
int rs_accesslog_file(const rs_config_t *cfg, const struct rs_server_conf_s *server_conf);

/* The file path it names: its access_log, else log.access (NULL: off). */
const char *rs_accesslog_path(const rs_config_t *cfg, const struct rs_server_conf_s *server_conf);

/* Its format: the listener's access_format, else log.access_format. */
const char *rs_accesslog_format(const rs_config_t *cfg, const struct rs_server_conf_s *server_conf);

#endif
