/* core/tls/rs_tls_client.c — see rs_tls_client.h. */
#include "rs_tls_client.h"
#include "rs_tls_int.h"

#include <arpa/inet.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct rs_tlsc_ctx_s {
  SSL_CTX *ctx;
  bool verify;
  /* shared ones (rs_tlsc_ctx_get), on rs__shared under rs__lock */
  struct rs_tlsc_ctx_s *next;
  const void *owner;
  char *key;                     /* the options, "ca\ncert\nkey\nverify" */
  unsigned refs;
};

static pthread_mutex_t rs__lock = PTHREAD_MUTEX_INITIALIZER;
static rs_tlsc_ctx_t *rs__shared;

/* A client connection: the engine's (rs_tls_int.h), and what a client
 * adds. */
typedef struct {
  rs_tls_t t;
  rs_tlsc_slot_t *slot;
  uint32_t gen;                  /* slot->gen when made */
  const void *offered;           /* the session offered (compared, not owned) */
  bool verify, verify_failed;
} rs__client_t;

static int rs__ex = -1;
static pthread_once_t rs__once = PTHREAD_ONCE_INIT;
static void rs__init_index(void) { rs__ex = SSL_get_ex_new_index(0, NULL, NULL, NULL, NULL); }

/* ------------------------------------------------------------ sessions */

void rs_tlsc_slot_clear(rs_tlsc_slot_t *s) {
  if (s->sess != NULL) SSL_SESSION_free(s->sess);
  s->sess = NULL;
}

void rs_tlsc_slot_reuse(rs_tlsc_slot_t *s) {
  rs_tlsc_slot_clear(s);
  s->gen++;
}

/* A session the server gave (TLS 1.2 at the handshake's end, TLS 1.3 with
 * each NewSessionTicket): the newest goes in the connection's slot. */
static int rs__new_session(SSL *ssl, SSL_SESSION *sess) {
  rs__client_t *t = SSL_get_ex_data(ssl, rs__ex);
  if (t == NULL || t->slot == NULL || t->slot->gen != t->gen || !SSL_SESSION_is_resumable(sess)) return 0;
  rs_tlsc_slot_clear(t->slot);
  t->slot->sess = sess;
  return 1;                      /* the reference is ours */
}

/* ------------------------------------------------------------ contexts */

rs_tlsc_ctx_t *rs_tlsc_ctx_new(const rs_tlsc_opts_t *o, char *err, size_t errlen) {
  pthread_once(&rs__once, rs__init_index);
  SSL_CTX *c = SSL_CTX_new(TLS_client_method());
  char what[600];
  if (c == NULL) {
    rs__tls_openssl_error(err, errlen, "SSL_CTX_new");
    return NULL;
  }
  SSL_CTX_set_min_proto_version(c, TLS1_2_VERSION);
  SSL_CTX_set_options(c, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION);
  SSL_CTX_set_session_cache_mode(c, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
  SSL_CTX_sess_set_new_cb(c, rs__new_session);
  if (o->ca != NULL) {
    if (SSL_CTX_load_verify_locations(c, o->ca, NULL) != 1) {
      snprintf(what, sizeof(what), "%s: cannot load the CA file", o->ca);
      goto fail;
    }
  } else if (!o->no_verify && SSL_CTX_set_default_verify_paths(c) != 1) {
    snprintf(what, sizeof(what), "cannot load the system's CA store");
    goto fail;
  }
  if (o->cert != NULL || o->key != NULL) {
    if (o->cert == NULL || o->key == NULL) {
      snprintf(err, errlen, "a client certificate needs both cert and key");
      SSL_CTX_free(c);
      return NULL;
    }
    if (SSL_CTX_use_certificate_chain_file(c, o->cert) != 1) {
      snprintf(what, sizeof(what), "%s: cannot load the certificate", o->cert);
      goto fail;
    }
    if (SSL_CTX_use_PrivateKey_file(c, o->key, SSL_FILETYPE_PEM) != 1) {
      snprintf(what, sizeof(what), "%s: cannot load the private key", o->key);
      goto fail;
    }
    if (SSL_CTX_check_private_key(c) != 1) {
      snprintf(what, sizeof(what), "%s does not match %s", o->key, o->cert);
      goto fail;
    }
  }
  SSL_CTX_set_verify(c, o->no_verify ? SSL_VERIFY_NONE : SSL_VERIFY_PEER, NULL);
  rs_tlsc_ctx_t *t = rs_xcalloc(1, sizeof(*t));
  t->ctx = c;
  t->verify = !o->no_verify;
  return t;
fail:
  rs__tls_openssl_error(err, errlen, what);
  SSL_CTX_free(c);
  return NULL;
}

rs_tlsc_ctx_t *rs_tlsc_ctx_get(const rs_tlsc_opts_t *o, const void *owner, char *err, size_t errlen) {
  size_t n = (o->ca ? strlen(o->ca) : 0) + (o->cert ? strlen(o->cert) : 0) + (o->key ? strlen(o->key) : 0) + 8;
  char *key = rs_xmalloc(n);
  snprintf(key, n, "%s\n%s\n%s\n%d", o->ca ? o->ca : "", o->cert ? o->cert : "", o->key ? o->key : "",
           o->no_verify ? 0 : 1);
  pthread_mutex_lock(&rs__lock);
  rs_tlsc_ctx_t *t;
  for (t = rs__shared; t != NULL; t = t->next)
    if (t->owner == owner && strcmp(t->key, key) == 0) break;
  if (t != NULL) {
    t->refs++;
    free(key);
  } else if ((t = rs_tlsc_ctx_new(o, err, errlen)) != NULL) {   /* loads the files, under the lock: once */
    t->owner = owner;
    t->key = key;
    t->refs = 1;
    t->next = rs__shared;
    rs__shared = t;
  } else {
    free(key);
  }
  pthread_mutex_unlock(&rs__lock);
  return t;
}

void rs_tlsc_ctx_free(rs_tlsc_ctx_t *t) {
  if (t == NULL) return;
  if (t->key != NULL) {          /* shared */
    pthread_mutex_lock(&rs__lock);
    bool last = --t->refs == 0;
    if (last)
      for (rs_tlsc_ctx_t **p = &rs__shared; *p != NULL; p = &(*p)->next)
        if (*p == t) {
          *p = t->next;
          break;
        }
    pthread_mutex_unlock(&rs__lock);
    if (!last) return;
    free(t->key);
  }
  SSL_CTX_free(t->ctx);
  free(t);
}

/* ------------------------------------------------------------ connections */

static bool rs__is_ip(const char *s) {
  unsigned char b[16];
  return inet_pton(AF_INET, s, b) == 1 || inet_pton(AF_INET6, s, b) == 1;
}

/* The session offered was refused (a server whose TLS 1.3 tickets are for
 * one use, or that forgot it): drop it; the tickets this handshake brings
 * take its place. */
static void rs__client_done(rs_tls_t *tt) {
  rs__client_t *t = (rs__client_t *)tt;
  if (t->offered != NULL && !SSL_session_reused(tt->ssl) && t->slot != NULL && t->slot->gen == t->gen &&
      t->slot->sess == t->offered)
    rs_tlsc_slot_clear(t->slot);
}

static void rs__client_failed(rs_tls_t *tt) {
  rs__client_t *t = (rs__client_t *)tt;
  if (tt->done) return;
  long v = SSL_get_verify_result(tt->ssl);
  if (t->verify && v != X509_V_OK) {
    t->verify_failed = true;
    snprintf(tt->err, sizeof(tt->err), "certificate verify failed: %s", X509_verify_cert_error_string(v));
  }
  /* The session offered may be what failed: the next connection starts afresh. */
  if (t->slot != NULL && t->slot->gen == t->gen) rs_tlsc_slot_clear(t->slot);
}

/* A connection closed without close_notify must not spoil its session
 * (OpenSSL marks such sessions not resumable): a quiet end. */
static void rs__client_close(rs_tls_t *tt) {
  rs__client_t *t = (rs__client_t *)tt;
  if (tt->done && !t->verify_failed) SSL_set_shutdown(tt->ssl, SSL_SENT_SHUTDOWN | SSL_RECEIVED_SHUTDOWN);
  SSL_set_ex_data(tt->ssl, rs__ex, NULL);
}

static void rs__client_release(rs_tls_t *tt) { free((rs__client_t *)tt); }

static const rs_tls_side_t rs__client_side = {
  .done = rs__client_done, .failed = rs__client_failed, .close = rs__client_close, .release = rs__client_release,
};

rs_tls_t *rs_tlsc_new(rs_tlsc_ctx_t *ctx, const char *host, const char *sni, rs_tlsc_slot_t *slot) {
  rs__client_t *t = rs_xcalloc(1, sizeof(*t));
  SSL *ssl = SSL_new(ctx->ctx);
  rs__tls_init(&t->t, ssl, &rs__client_side);
  SSL_set_connect_state(ssl);
  SSL_set_ex_data(ssl, rs__ex, t);
  t->verify = ctx->verify;
  const char *name = sni != NULL ? sni : host;
  bool ip = rs__is_ip(name);
  if (!ip) SSL_set_tlsext_host_name(ssl, name);
  if (t->verify) {
    if (ip) {
      X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), name);
    } else {
      SSL_set_hostflags(ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
      SSL_set1_host(ssl, name);
    }
  }
  if (slot != NULL) {
    t->slot = slot;
    t->gen = slot->gen;
    /* Only a session made with this very name: a resumption skips the
     * certificate check. */
    const char *was = slot->sess != NULL ? SSL_SESSION_get0_hostname(slot->sess) : NULL;
    if (slot->sess != NULL && (ip ? was == NULL : was != NULL && strcasecmp(was, name) == 0)) {
      SSL_set_session(ssl, slot->sess);
      t->offered = slot->sess;
    }
  }
  ERR_clear_error();
  return &t->t;
}

bool rs_tlsc_verify_failed(const rs_tls_t *t) { return ((const rs__client_t *)t)->verify_failed; }
