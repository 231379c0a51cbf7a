/* core/http/rs_access_log.c — a request's access-log line in its
 * listener's format (rs_logfmt.h: nginx's "combined" by default),
 * buffered per loop and per file, flushed each second or at 32 KB. */
#include "rs_conn.h"
#include "rs_conn_int.h"
#include "rs_logfmt.h"

#include <pthread.h>
#include <time.h>

#include "rs_realip.h"

/* Listener 0's format when the options carry none (tests, the first
 * generation not built yet): nginx's combined. */
static pthread_once_t rs__once = PTHREAD_ONCE_INIT;
static rs_logfmt_t *rs__combined;
static void rs__combined_init(void) {
  char err[128];
  rs__combined = rs_logfmt_compile("combined", false, err, sizeof(err));
}

void rs__access_log(rs_req_t *r, rs_conn_t *c) {
  (void)c;
  rs_loop_t *loop = r->loop;
  const rs_http_opts_t *o = r->opts != NULL ? r->opts : loop->http;
  size_t li = o != NULL && (size_t)r->server < o->naccess ? (size_t)r->server : 0;
  int file = o != NULL && o->access_file != NULL ? o->access_file[li] : 0;
  if (file < 0 || file >= RS_LOG_ACCESS_FILES || !rs_log_access_file_on(file)) return;
  const rs_logfmt_t *f = o != NULL && o->access_fmt != NULL ? o->access_fmt[li] : NULL;
  if (f == NULL) {
    pthread_once(&rs__once, rs__combined_init);
    f = rs__combined;
  }
  rs_realip_t rip;
  rs_realip_resolve(r, &rip);
  char iso[40];
  struct tm tm;
  time_t now = loop->now_unix ? loop->now_unix : time(NULL);
  gmtime_r(&now, &tm);
  strftime(iso, sizeof(iso), "%Y-%m-%dT%H:%M:%S+00:00", &tm);
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  rs_logfmt_vars_t v = {
    .remote_addr = rip.client[0] ? rip.client : "-",
    .status = r->_status,
    .body_bytes_sent = r->head ? (size_t)0 : r->_resp.body_len + r->_resp.file_len,
    .bytes_sent = r->_bytes_out,
    .request_time_us = (uv_now(&loop->uv) - r->start_ms) * 1000,
    .time_local = loop->log_time,
    .time_iso8601 = iso,
    .now_ms = (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000,
  };
  if (r->_conn != NULL)
    rs__conn_io_tls_facts(r->_conn, &v.ssl_protocol, &v.ssl_cipher, &v.ssl_server_name, &v.ssl_reused);
  rs_buf_t *b = &loop->access[file];
  rs_logfmt_render(f, r, &v, b);
  if (b->len > 32 * 1024) rs_conn_flush_access_log(loop);
}

void rs_conn_flush_access_log(rs_loop_t *loop) {
  for (int i = 0; i < RS_LOG_ACCESS_FILES; i++) {
    if (loop->access[i].len == 0) continue;
    rs_log_access_write_file(i, loop->access[i].p, loop->access[i].len);
    loop->access[i].len = 0;
  }
}
