/* core/tls/rs_tls_send.c — a TLS connection on its libuv stream: see
 * rs_tls_send.h. */
#include "rs_tls_send.h"

#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------ plaintext in */

/* Measured with `TLS=1 DEMO=1 bench/h2.sh 3 100000` (h2load -c100 -m10
 * over TLS, warm demo page, load ~1.7): one record per piece 0.82-0.88x
 * nginx (median 0.87), gathered 1.07-1.24x (median 1.21). */
#define RS__TLS_RECORD 16384

int rs_tls_write_bufs(rs_tls_t *t, const uv_buf_t *bufs, unsigned n) {
  static _Thread_local char stage[RS__TLS_RECORD];
  size_t used = 0;
  for (unsigned i = 0; i < n; i++) {
    const char *p = bufs[i].base;
    size_t len = bufs[i].len;
    while (len > 0) {
      if (used == 0 && len >= RS__TLS_RECORD) {   /* whole records straight from the caller */
        size_t k = len - len % RS__TLS_RECORD;
        if (rs_tls_write(t, p, k) != RS_TLS_OK) return -1;
        p += k;
        len -= k;
        continue;
      }
      size_t k = RS_MIN(len, RS__TLS_RECORD - used);
      memcpy(stage + used, p, k);
      used += k;
      p += k;
      len -= k;
      if (used == RS__TLS_RECORD) {
        if (rs_tls_write(t, stage, used) != RS_TLS_OK) return -1;
        used = 0;
      }
    }
  }
  if (used > 0 && rs_tls_write(t, stage, used) != RS_TLS_OK) return -1;
  return 0;
}

/* ------------------------------------------------------------ ciphertext out */

/* A write of chunks (given back once it completes) with the writer's
 * request and callback (none for what nobody waits for: the engine's own
 * bytes, the rest of a try). */
typedef struct {
  uv_write_t w;
  uv_write_t *req;
  uv_write_cb cb;
  rs_tls_chunk_t *chunks;
} rs__send_t;

/* The chunks as uv_bufs, skipping the first skip bytes (written already);
 * bufs has room for as many as there are chunks. Returns how many. */
static unsigned rs__chunk_bufs(rs_tls_chunk_t *c, size_t skip, uv_buf_t *bufs) {
  unsigned k = 0;
  for (; c != NULL; c = c->next) {
    if (skip >= c->len) {
      skip -= c->len;
      continue;
    }
    bufs[k++] = uv_buf_init(c->data + skip, (unsigned)(c->len - skip));
    skip = 0;
  }
  return k;
}

static void rs__send_done(uv_write_t *w, int status) {
  rs__send_t *sw = RS_CONTAINER_OF(w, rs__send_t, w);
  uv_write_t *req = sw->req;
  uv_write_cb cb = sw->cb;
  rs_tls_chunks_free(sw->chunks);
  free(sw);
  if (cb != NULL) cb(req, status);
}

int rs_tls_send(rs_tls_t *t, uv_stream_t *s, bool try_now, uv_write_t *req, uv_write_cb cb, bool *sent) {
  if (sent != NULL) *sent = false;
  size_t len = rs_tls_pending(t), n = 0;
  rs_tls_chunk_t *chunks = rs_tls_take_chunks(t, &n);
  if (chunks == NULL && cb == NULL) return 0;
  uv_buf_t one, *bufs = n > 1 ? rs_xmalloc(n * sizeof(*bufs)) : &one;
  unsigned k = rs__chunk_bufs(chunks, 0, bufs);
  int rc = 0;
  if (try_now && k > 0) {
    int w = uv_try_write(s, bufs, k);
    if (w < 0 && w != UV_EAGAIN && cb == NULL) {
      rc = w;
      goto out;
    }
    if (w > 0 && (size_t)w == len && (cb == NULL || sent != NULL)) {   /* all of it, at once */
      if (sent != NULL) *sent = true;
      goto out;
    }
    if (w > 0) k = rs__chunk_bufs(chunks, (size_t)w, bufs);
  }
  if (k == 0) bufs[k++] = uv_buf_init(NULL, 0);   /* only for cb, after the earlier bytes */
  rs__send_t *sw = rs_xmalloc(sizeof(*sw));
  sw->req = req;
  sw->cb = cb;
  sw->chunks = chunks;
  rc = uv_write(&sw->w, s, bufs, k, rs__send_done);   /* copies bufs, not the bytes */
  if (rc != 0) free(sw);
  else chunks = NULL;            /* the write's now */
out:
  if (bufs != &one) free(bufs);
  rs_tls_chunks_free(chunks);
  return rc;
}

void rs_tls_send_last(rs_tls_t *t, uv_stream_t *s) {
  size_t n = 0;
  rs_tls_chunk_t *chunks = rs_tls_take_chunks(t, &n);
  if (chunks == NULL) return;
  if (uv_stream_get_write_queue_size(s) == 0) {
    uv_buf_t one, *bufs = n > 1 ? rs_xmalloc(n * sizeof(*bufs)) : &one;
    unsigned k = rs__chunk_bufs(chunks, 0, bufs);
    (void)uv_try_write(s, bufs, k);   /* best effort */
    if (bufs != &one) free(bufs);
  }
  rs_tls_chunks_free(chunks);
}
