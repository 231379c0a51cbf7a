/* core/tls/rs_tls_int.h — the one engine both sides run (rs_tls_io.c):
 * a connection (rs_tls_t) is an SSL over a BIO of ours (in and out buffers),
 * fed, read, written and taken by rs_tls.h's calls whichever side made it.
 * What differs goes through its side (rs_tls_side_t): the listeners'
 * (rs_tls.c: their context's counters) and the upstreams' (rs_tls_client.c:
 * the verification error, the session slot). Private to core/tls/. */
#ifndef RS_TLS_INT_H
#define RS_TLS_INT_H

#ifndef RS_TLS_H
#error "include rs_tls.h before rs_tls_int.h"
#endif

#include <openssl/ssl.h>

typedef struct rs_tls_side_s rs_tls_side_t;

/* The connection's own BIO (rs_tls_io.c) instead of OpenSSL's memory
 * BIOs: ciphertext fed is appended to one input buffer (a memory BIO zeroes
 * each write's room before copying it, and moves what is left to the front
 * on the next write), and the records OpenSSL makes are appended to chunks
 * the socket write takes whole (rs_tls_take_chunks: no copy out). */
struct rs_tls_s {                /* embedded first in each side's own struct */
  SSL *ssl;
  BIO *bio;                      /* both ways: network -> SSL, SSL -> network (the SSL owns it) */
  const rs_tls_side_t *side;
  char *in;                      /* ciphertext fed, not yet read by OpenSSL: [in_off, in_len) */
  size_t in_off, in_len, in_cap;
  rs_tls_chunk_t *out, *out_tail; /* ciphertext made, not yet taken */
  size_t out_len;
  bool done;                     /* the handshake finished */
  char err[200];
};

struct rs_tls_side_s {
  /* The handshake just finished. */
  void (*done)(rs_tls_t *t);
  /* A failure (during the handshake when !t->done): t->err holds OpenSSL's
   * reason, which the side may replace; OpenSSL's error queue is not
   * cleared yet. */
  void (*failed)(rs_tls_t *t);
  /* Before SSL_free (NULL: nothing to do). */
  void (*close)(rs_tls_t *t);
  /* After SSL_free: free t and what the side holds. */
  void (*release)(rs_tls_t *t);
};

/* Set up t around ssl (its connect or accept state already set): its BIO,
 * "empty" meaning "wait" rather than EOF. Aborts when OpenSSL cannot
 * allocate it. */
void rs__tls_init(rs_tls_t *t, SSL *ssl, const rs_tls_side_t *side);

/* "what: OpenSSL's reason" (what alone without one) into err; clears
 * OpenSSL's error queue. For the contexts' load errors. */
void rs__tls_openssl_error(char *err, size_t errlen, const char *what);

#endif
