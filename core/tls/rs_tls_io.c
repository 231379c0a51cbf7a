/* core/tls/rs_tls_io.c — the memory-BIO engine of every TLS connection,
 * the listeners' (rs_tls.c) and the upstreams' (rs_tls_client.c): see
 * rs_tls_int.h. The calls are rs_tls.h's. */
#include "rs_tls.h"
#include "rs_tls_int.h"

#include <openssl/err.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void rs__tls_openssl_error(char *err, size_t errlen, const char *what) {
  unsigned long e = ERR_peek_last_error();
  const char *reason = e ? ERR_reason_error_string(e) : NULL;
  snprintf(err, errlen, "%s%s%s", what, reason ? ": " : "", reason ? reason : "");
  ERR_clear_error();
}

/* ------------------------------------------------------------ the BIO */

/* Measured with `TLS=1 DEMO=1 bench/h2.sh` under `perf record` (HTTP/2
 * over TLS, 17 KB pages): with OpenSSL's memory BIOs, their memset (6.2%),
 * the copy out of the write BIO (9.3%) and OpenSSL freeing and allocating
 * its record buffers around every record took ~20% of the process; 33.7
 * against nginx's 23.3 µs of CPU per request before, 22-23 against 25-29
 * after (machine shared, 3 alternated runs). */

/* A chunk holds a record (16 KB of plaintext and its overhead) or several
 * small writes (handshake messages, alerts, HTTP/2 control frames). */
#define RS__CHUNK (16 * 1024 + 512)

static BIO_METHOD *rs__bio_method;
static pthread_once_t rs__bio_once = PTHREAD_ONCE_INIT;

/* Chunks of the usual size freed on a thread are kept for its next writes
 * (a loop thread makes and frees them: a cache hit over TLS takes one or
 * two and gives them back once written). Up to 32 a thread: 528 KB. */
#define RS__CHUNK_KEEP 32
static _Thread_local rs_tls_chunk_t *rs__tl_chunks;
static _Thread_local unsigned rs__tl_nchunks;

static rs_tls_chunk_t *rs__chunk_new(size_t need) {
  rs_tls_chunk_t *c;
  if (need <= RS__CHUNK && rs__tl_chunks != NULL) {
    c = rs__tl_chunks;
    rs__tl_chunks = c->next;
    rs__tl_nchunks--;
  } else {
    size_t cap = RS_MAX(need, (size_t)RS__CHUNK);
    c = rs_xmalloc(sizeof(*c) + cap);
    c->cap = cap;
  }
  c->next = NULL;
  c->len = 0;
  return c;
}

void rs_tls_chunks_free(rs_tls_chunk_t *c) {
  while (c != NULL) {
    rs_tls_chunk_t *next = c->next;
    if (c->cap == RS__CHUNK && rs__tl_nchunks < RS__CHUNK_KEEP) {
      c->next = rs__tl_chunks;
      rs__tl_chunks = c;
      rs__tl_nchunks++;
    } else {
      free(c);
    }
    c = next;
  }
}

void rs_tls_thread_dispose(void) {
  while (rs__tl_chunks != NULL) {
    rs_tls_chunk_t *next = rs__tl_chunks->next;
    free(rs__tl_chunks);
    rs__tl_chunks = next;
  }
  rs__tl_nchunks = 0;
}

static int rs__bio_write(BIO *b, const char *p, size_t n, size_t *written) {
  rs_tls_t *t = BIO_get_data(b);
  BIO_clear_retry_flags(b);
  *written = n;
  t->out_len += n;
  rs_tls_chunk_t *c = t->out_tail;
  if (c != NULL) {
    size_t k = RS_MIN(n, c->cap - c->len);
    memcpy(c->data + c->len, p, k);
    c->len += k;
    p += k;
    n -= k;
  }
  if (n > 0) {
    c = rs__chunk_new(n);
    c->len = n;
    memcpy(c->data, p, n);
    if (t->out_tail != NULL) t->out_tail->next = c;
    else t->out = c;
    t->out_tail = c;
  }
  return 1;
}

static int rs__bio_read(BIO *b, char *p, size_t n, size_t *got) {
  rs_tls_t *t = BIO_get_data(b);
  BIO_clear_retry_flags(b);
  size_t have = t->in_len - t->in_off;
  if (have == 0) {
    BIO_set_retry_read(b);       /* empty means "wait", not EOF */
    *got = 0;
    return 0;
  }
  size_t k = RS_MIN(n, have);
  memcpy(p, t->in + t->in_off, k);
  t->in_off += k;
  if (t->in_off == t->in_len) {
    t->in_off = t->in_len = 0;
    if (t->in_cap > 64 * 1024) {   /* after an upload: an idle connection keeps no big buffer */
      free(t->in);
      t->in = NULL;
      t->in_cap = 0;
    }
  }
  *got = k;
  return 1;
}

static long rs__bio_ctrl(BIO *b, int cmd, long num, void *ptr) {
  (void)num;
  (void)ptr;
  rs_tls_t *t = BIO_get_data(b);
  switch (cmd) {
  case BIO_CTRL_FLUSH: return 1;
  case BIO_CTRL_PENDING: return t ? (long)(t->in_len - t->in_off) : 0;
  case BIO_CTRL_WPENDING: return t ? (long)t->out_len : 0;
  default: return 0;
  }
}

static int rs__bio_create(BIO *b) {
  BIO_set_init(b, 1);
  return 1;
}

static void rs__bio_init(void) {
  rs__bio_method = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "rustyssr connection");
  if (rs__bio_method == NULL || BIO_meth_set_write_ex(rs__bio_method, rs__bio_write) != 1 ||
      BIO_meth_set_read_ex(rs__bio_method, rs__bio_read) != 1 ||
      BIO_meth_set_ctrl(rs__bio_method, rs__bio_ctrl) != 1 || BIO_meth_set_create(rs__bio_method, rs__bio_create) != 1)
    abort();
}

/* ------------------------------------------------------------ a connection */

void rs__tls_init(rs_tls_t *t, SSL *ssl, const rs_tls_side_t *side) {
  pthread_once(&rs__bio_once, rs__bio_init);
  t->ssl = ssl;
  t->side = side;
  t->bio = BIO_new(rs__bio_method);
  if (t->ssl == NULL || t->bio == NULL) abort();
  BIO_set_data(t->bio, t);
  SSL_set_bio(t->ssl, t->bio, t->bio);           /* the SSL owns it now (one reference for both) */
}

void rs_tls_free(rs_tls_t *t) {
  if (t == NULL) return;
  if (t->side->close != NULL) t->side->close(t);
  SSL_free(t->ssl);
  rs_tls_chunks_free(t->out);
  free(t->in);
  t->side->release(t);
}

static int rs__fail(rs_tls_t *t, int ssl_err) {
  unsigned long e = ERR_peek_last_error();
  const char *reason = e ? ERR_reason_error_string(e) : NULL;
  snprintf(t->err, sizeof(t->err), "%s",
           reason ? reason : ssl_err == SSL_ERROR_SYSCALL ? "unexpected end" : "protocol error");
  t->side->failed(t);
  ERR_clear_error();
  return RS_TLS_ERROR;
}

static int rs__handshake(rs_tls_t *t) {
  if (t->done) return RS_TLS_OK;
  int r = SSL_do_handshake(t->ssl);
  if (r == 1) {
    t->done = true;
    t->side->done(t);
    return RS_TLS_OK;
  }
  int e = SSL_get_error(t->ssl, r);
  if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) return RS_TLS_OK;
  return rs__fail(t, e);
}

int rs_tls_feed(rs_tls_t *t, const void *p, size_t n) {
  if (n > 0) {
    if (t->in_off > 0 && t->in_len + n > t->in_cap) {   /* room at the front: use it */
      memmove(t->in, t->in + t->in_off, t->in_len - t->in_off);
      t->in_len -= t->in_off;
      t->in_off = 0;
    }
    if (t->in_len + n > t->in_cap) {
      t->in_cap = RS_MAX(t->in_len + n, t->in_cap * 2);
      t->in = rs_xrealloc(t->in, t->in_cap);
    }
    memcpy(t->in + t->in_len, p, n);
    t->in_len += n;
  }
  return rs__handshake(t);
}

ssize_t rs_tls_read(rs_tls_t *t, void *buf, size_t cap) {
  if (!t->done) {
    if (rs__handshake(t) != RS_TLS_OK) return RS_TLS_ERROR;
    if (!t->done) return 0;
  }
  size_t n = 0;
  if (SSL_read_ex(t->ssl, buf, cap, &n) == 1) return (ssize_t)n;
  int e = SSL_get_error(t->ssl, 0);
  if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) return 0;
  if (e == SSL_ERROR_ZERO_RETURN) return RS_TLS_CLOSED;
  return rs__fail(t, e);
}

int rs_tls_write(rs_tls_t *t, const void *p, size_t n) {
  if (!t->done) return RS_TLS_ERROR;
  size_t w = 0;
  if (n == 0) return RS_TLS_OK;
  if (SSL_write_ex(t->ssl, p, n, &w) == 1 && w == n) return RS_TLS_OK;
  return rs__fail(t, SSL_get_error(t->ssl, 0));
}

void rs_tls_shutdown(rs_tls_t *t) {
  if (t->done) SSL_shutdown(t->ssl);
  ERR_clear_error();
}

rs_tls_chunk_t *rs_tls_take_chunks(rs_tls_t *t, size_t *n) {
  rs_tls_chunk_t *c = t->out;
  size_t k = 0;
  for (rs_tls_chunk_t *x = c; x != NULL; x = x->next) k++;
  *n = k;
  t->out = t->out_tail = NULL;
  t->out_len = 0;
  return c;
}

size_t rs_tls_pending(const rs_tls_t *t) { return t->out_len; }

void rs_tls_idle(rs_tls_t *t) {
  if (t->done && t->in_len == t->in_off) SSL_free_buffers(t->ssl);   /* refused while in use */
}

bool rs_tls_buffered(const rs_tls_t *t) { return SSL_has_pending(t->ssl) == 1 || t->in_len > t->in_off; }

bool rs_tls_handshake_done(const rs_tls_t *t) { return t->done; }

const char *rs_tls_alpn(const rs_tls_t *t, size_t *len) {
  const unsigned char *p = NULL;
  unsigned n = 0;
  SSL_get0_alpn_selected(t->ssl, &p, &n);
  *len = n;
  return n ? (const char *)p : NULL;
}

const char *rs_tls_sni(const rs_tls_t *t) { return SSL_get_servername(t->ssl, TLSEXT_NAMETYPE_host_name); }
const char *rs_tls_version(const rs_tls_t *t) { return SSL_get_version(t->ssl); }
const char *rs_tls_cipher(const rs_tls_t *t) { return SSL_get_cipher_name(t->ssl); }
bool rs_tls_resumed(const rs_tls_t *t) { return SSL_session_reused(t->ssl) == 1; }
const char *rs_tls_error(const rs_tls_t *t) { return t->err; }
