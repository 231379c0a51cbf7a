/* core/tls/rs_tls_int.h — the one memory-BIO engine both sides run
 * (rs_tls.c): a connection (rs_tls_t) is an SSL between two memory BIOs,
 * fed, read, written and taken by rs_tls.h's calls whichever side made it.
 * What differs goes through its side (rs_tls_side_t): the listeners'
 * (rs_tls.c: their context's counters) and the upstreams' (rs_tls_client.c:
 * the verification error, the session slot). Private to core/tls/. */
#ifndef RS_TLS_INT_H
#define RS_TLS_INT_H

#include "rs_tls.h"

#include <openssl/ssl.h>

typedef struct rs_tls_side_s rs_tls_side_t;

struct rs_tls_s {                /* embedded first in each side's own struct */
  SSL *ssl;
  BIO *rbio, *wbio;              /* network -> SSL, SSL -> network (the SSL owns them) */
  const rs_tls_side_t *side;
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

/* Set up t around ssl (its connect or accept state already set): the
 * memory BIOs, "empty" meaning "wait" rather than EOF. Aborts when OpenSSL
 * cannot allocate them. */
void rs__tls_init(rs_tls_t *t, SSL *ssl, const rs_tls_side_t *side);

/* "what: OpenSSL's reason" (what alone without one) into err; clears
 * OpenSSL's error queue. For the contexts' load errors. */
void rs__tls_openssl_error(char *err, size_t errlen, const char *what);

#endif
