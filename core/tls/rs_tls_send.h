/* core/tls/rs_tls_send.h — a TLS connection (rs_tls.h) on its libuv
 * stream: plaintext into the engine as full records, and the ciphertext out
 * as the engine made it (its chunks, rs_tls_take_chunks), without a copy.
 * The one write path of both sides: the listeners' connections
 * (core/http/rs_conn_io.c) and the upstreams' (core/upstream/rs_utls.c).
 *
 * A write owns the chunks it writes and gives them back to the thread's
 * cache (rs_tls_chunks_free) in its completion, which libuv runs whatever
 * happens: written, failed, or cancelled by a uv_close of the stream (a
 * connection closed, timed out or dropped by its pool mid-write). So no
 * chunk depends on the connection: it may be closed, freed, pooled
 * (rs_tls_idle) with writes in flight. Loop thread. */
#ifndef RS_TLS_SEND_H
#define RS_TLS_SEND_H

#include "rs_tls.h"

#include <uv.h>

/* Encrypt bufs into t (after the handshake), gathered into full records
 * (16 KB: the pieces a writer hands over, a head and its body, an HTTP/2
 * frame's header and payload, make one record, not one each). Returns 0,
 * or -1 on a TLS error (rs_tls_error says why). */
int rs_tls_write_bufs(rs_tls_t *t, const uv_buf_t *bufs, unsigned n);

/* Write the ciphertext t has made on s:
 *   - try_now: first as much as the socket takes at once (uv_try_write,
 *     which never goes ahead of bytes already queued on s);
 *   - the rest in one uv_write; when cb is given, cb(req, status) runs
 *     after it, even when nothing is left to write (once the earlier bytes
 *     are out), unless sent is given and everything went at once: then
 *     *sent is true and cb never runs.
 * Returns 0, or a libuv error: uv_write's; or, with try_now and no cb, the
 * socket's (EPIPE...). With a cb the socket's error goes to cb, as over
 * cleartext. On an error nothing is queued, cb never runs, and the chunks
 * are given back. */
int rs_tls_send(rs_tls_t *t, uv_stream_t *s, bool try_now, uv_write_t *req, uv_write_cb cb, bool *sent);

/* Before a close: what t has made (an alert, close_notify), as far as the
 * socket takes it at once, when nothing is queued on s (it never goes
 * ahead of queued bytes); the rest is dropped (a close cancels queued
 * writes anyway). */
void rs_tls_send_last(rs_tls_t *t, uv_stream_t *s);

#endif
