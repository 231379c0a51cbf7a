/* core/tls/rs_tls_io.c — the memory-BIO engine of every TLS connection,
 * the listeners' (rs_tls.c) and the upstreams' (rs_tls_client.c): see
 * rs_tls_int.h. The calls are rs_tls.h's. */
#include "rs_tls_int.h"

#include <openssl/err.h>
#include <stdio.h>
#include <stdlib.h>

void rs__tls_openssl_error(char *err, size_t errlen, const char *what) {
  unsigned long e = ERR_peek_last_error();
  const char *reason = e ? ERR_reason_error_string(e) : NULL;
  snprintf(err, errlen, "%s%s%s", what, reason ? ": " : "", reason ? reason : "");
  ERR_clear_error();
}

void rs__tls_init(rs_tls_t *t, SSL *ssl, const rs_tls_side_t *side) {
  t->ssl = ssl;
  t->side = side;
  t->rbio = BIO_new(BIO_s_mem());
  t->wbio = BIO_new(BIO_s_mem());
  if (t->ssl == NULL || t->rbio == NULL || t->wbio == NULL) abort();
  BIO_set_mem_eof_return(t->rbio, -1);           /* empty means "wait", not EOF */
  SSL_set_bio(t->ssl, t->rbio, t->wbio);         /* the SSL owns them now */
}

void rs_tls_free(rs_tls_t *t) {
  if (t == NULL) return;
  if (t->side->close != NULL) t->side->close(t);
  SSL_free(t->ssl);
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
  if (n > 0 && BIO_write(t->rbio, p, (int)RS_MIN(n, (size_t)INT32_MAX)) <= 0) return RS_TLS_ERROR;
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

size_t rs_tls_take(rs_tls_t *t, void *buf, size_t cap) {
  int n = BIO_read(t->wbio, buf, (int)RS_MIN(cap, (size_t)INT32_MAX));
  return n > 0 ? (size_t)n : 0;
}

size_t rs_tls_pending(const rs_tls_t *t) { return BIO_ctrl_pending(t->wbio); }

bool rs_tls_buffered(const rs_tls_t *t) { return SSL_has_pending(t->ssl) == 1 || BIO_ctrl_pending(t->rbio) > 0; }

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
