/* core/http/rs_access_log.c — the access-log line (nginx's "combined", optionally
 * "timed"), buffered per loop and flushed each second or at 32 KB. */
#include "rs_conn.h"
#include "rs_conn_int.h"

/* A value in a log line as nginx writes variables: '"', '\\' and bytes
 * outside printable ASCII as \xHH, so a client cannot forge a field or a
 * line. */
static void rs__log_esc(rs_buf_t *b, const char *p, size_t n) {
  static const char hex[] = "0123456789ABCDEF";
  rs_buf_reserve(b, n * 4);
  char *o = b->p + b->len;
  for (size_t i = 0; i < n; i++) {
    unsigned char ch = (unsigned char)p[i];
    if (ch < 0x20 || ch >= 0x7f || ch == '"' || ch == '\\') {
      *o++ = '\\', *o++ = 'x', *o++ = hex[ch >> 4], *o++ = hex[ch & 15];
    } else {
      *o++ = (char)ch;
    }
  }
  b->len = (size_t)(o - b->p);
}

/* nginx's "combined" format, exactly:
 *   $remote_addr - $remote_user [$time_local] "$request" $status
 *   $body_bytes_sent "$http_referer" "$http_user_agent"
 * ($remote_addr without the port); "timed" adds " $request_time". */
void rs__access_log(rs_req_t *r, rs_conn_t *c) {
  rs_loop_t *loop = r->loop;
  rs_buf_t *b = &loop->access;
  const rs_str_t *ua = r->nheaders ? rs_req_header(r, "user-agent") : NULL;
  const rs_str_t *ref = r->nheaders ? rs_req_header(r, "referer") : NULL;
  const char *peer = c && c->peer[0] ? c->peer : "-";
  const char *colon = strrchr(peer, ':');   /* "1.2.3.4:5678", "::1:5678" */
  int iplen = colon ? (int)(colon - peer) : (int)strlen(peer);
  rs_buf_printf(b, "%.*s - - [%s] \"", iplen, peer, loop->log_time);
  rs__log_esc(b, r->method.p ? r->method.p : "", r->method.len);
  rs_buf_append(b, " ", 1);
  rs__log_esc(b, r->url.p ? r->url.p : "", RS_MIN(r->url.len, 2048));
  rs_buf_printf(b, " HTTP/%d.%d\" %d %zu \"", r->http_major, r->http_minor, r->_status,
                r->head ? (size_t)0 : r->_resp.body_len + r->_resp.file_len);
  if (ref) rs__log_esc(b, ref->p, ref->len);
  else rs_buf_append(b, "-", 1);
  rs_buf_append(b, "\" \"", 3);
  if (ua) rs__log_esc(b, ua->p, ua->len);
  else rs_buf_append(b, "-", 1);
  rs_buf_append(b, "\"", 1);
  if (loop->http->access_timed) {
    uint64_t ms = uv_now(&loop->uv) - r->start_ms;
    rs_buf_printf(b, " %llu.%03llu", (unsigned long long)(ms / 1000), (unsigned long long)(ms % 1000));
  }
  rs_buf_append(b, "\n", 1);
  if (b->len > 32 * 1024) rs_conn_flush_access_log(loop);
}

void rs_conn_flush_access_log(rs_loop_t *loop) {
  if (loop->access.len == 0) return;
  rs_log_access_write(loop->access.p, loop->access.len);
  loop->access.len = 0;
}
