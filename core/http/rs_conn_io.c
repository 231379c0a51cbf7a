/* core/http/rs_conn_io.c — a connection's bytes: the one place where the
 * HTTP/1 files (and the protocols beside it) touch the socket.
 *
 *   rs__conn_read_start/stop   reads on or off
 *   rs__conn_input             bytes the client sent, as the protocol sees
 *                              them, to the protocol (the HTTP/1 parser)
 *   rs__conn_write/try_write   bytes for the client (libuv's uv_write and
 *                              uv_try_write semantics)
 *   rs__conn_queued            bytes given and not yet taken by the socket
 *
 * A transport that changes the bytes on the way (TLS) goes here, between
 * the socket and these functions, so the parser and the writers never know
 * about it. Loop thread. */
#include "rs_conn.h"
#include "rs_conn_int.h"

void rs__conn_read_start(rs_conn_t *c) {
  uv_read_start((uv_stream_t *)&c->tcp, rs__conn_alloc, rs__conn_on_read);
}

void rs__conn_read_stop(rs_conn_t *c) {
  uv_read_stop((uv_stream_t *)&c->tcp);
}

void rs__conn_input(rs_conn_t *c, const char *p, size_t n) {
  rs__conn_parse(c, p, n);
}

int rs__conn_write(rs_conn_t *c, uv_write_t *w, const uv_buf_t *bufs, unsigned n, uv_write_cb cb) {
  return uv_write(w, (uv_stream_t *)&c->tcp, bufs, n, cb);
}

int rs__conn_try_write(rs_conn_t *c, const uv_buf_t *bufs, unsigned n) {
  return uv_try_write((uv_stream_t *)&c->tcp, bufs, n);
}

size_t rs__conn_queued(rs_conn_t *c) {
  return uv_stream_get_write_queue_size((uv_stream_t *)&c->tcp);
}
