/* core/tls/rs_tls.c — see rs_tls.h. */
#include "rs_tls.h"
#include "rs_tls_int.h"

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ocsp.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Mozilla's "intermediate" TLS 1.2 suites: forward secrecy, AEAD only. */
#define RS__TLS12_CIPHERS                                                              \
  "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:" \
  "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305"

typedef struct {
  unsigned char name[16], aes[32], hmac[32];
  bool set;
} rs__tkey_t;

/* The ticket keys: the current one encrypts, the previous one still
 * decrypts. Shared by a listener's contexts across reloads
 * (rs_tls_ctx_share_tickets), counted. */
typedef struct {
  pthread_mutex_t lock;
  rs__tkey_t cur, prev;
  uint64_t since_ms;             /* when cur began (rs_now_ms) */
  int refs;                      /* atomic */
} rs__tkeys_t;

typedef struct {
  SSL_CTX *ctx;
  char **names;                  /* lower-case DNS names, "*.example.com" for wildcards */
  size_t nnames;
  unsigned char *ocsp;           /* the DER OCSP response to staple (NULL: none) */
  size_t ocsp_len;
} rs__cert_t;

struct rs_tls_ctx_s {
  rs__cert_t *certs;
  size_t ncerts;
  unsigned char *alpn;           /* the server's list in wire format */
  size_t alpn_len;
  rs__tkeys_t *keys;             /* swapped only on the main thread before the
                                    context serves (rs_tls_ctx_share_tickets) */
  EVP_CIPHER *aes;               /* AES-256-CBC for tickets, fetched once: an
                                    EVP_aes_256_cbc() is fetched again at each init */
  uint64_t handshakes, resumed, failed;   /* atomic */
  int refs;                      /* the maker's and each connection's (atomic) */
};

/* A listener's connection: the engine's (rs_tls_int.h) and its context. */
typedef struct {
  rs_tls_t t;
  rs_tls_ctx_t *ctx;
} rs__conn_t;

static int rs__ex_index = -1;
static pthread_once_t rs__once = PTHREAD_ONCE_INIT;
static void rs__init_index(void) { rs__ex_index = SSL_CTX_get_ex_new_index(0, NULL, NULL, NULL, NULL); }

/* ------------------------------------------------------------ names */

static void rs__add_name(rs__cert_t *c, const char *s, size_t n) {
  if (n == 0 || n > 253) return;
  char *name = rs_xstrndup(s, n);
  for (char *p = name; *p; p++)
    if (*p >= 'A' && *p <= 'Z') *p = (char)(*p - 'A' + 'a');
  c->names = rs_xrealloc(c->names, (c->nnames + 1) * sizeof(*c->names));
  c->names[c->nnames++] = name;
}

/* The certificate's DNS names (subjectAltName), else its CN. */
static void rs__cert_names(rs__cert_t *c, X509 *x) {
  GENERAL_NAMES *sans = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
  for (int i = 0; sans != NULL && i < sk_GENERAL_NAME_num(sans); i++) {
    const GENERAL_NAME *g = sk_GENERAL_NAME_value(sans, i);
    if (g->type != GEN_DNS) continue;
    rs__add_name(c, (const char *)ASN1_STRING_get0_data(g->d.dNSName), (size_t)ASN1_STRING_length(g->d.dNSName));
  }
  GENERAL_NAMES_free(sans);
  if (c->nnames == 0) {
    char cn[256];
    int n = X509_NAME_get_text_by_NID(X509_get_subject_name(x), NID_commonName, cn, sizeof(cn));
    if (n > 0) rs__add_name(c, cn, (size_t)n);
  }
}

/* host matches name: equal, or name is "*.rest" and host is "label.rest"
 * (one label, as RFC 6125 allows). */
static bool rs__name_match(const char *name, const char *host) {
  if (strcasecmp(name, host) == 0) return true;
  if (name[0] != '*' || name[1] != '.') return false;
  const char *dot = strchr(host, '.');
  return dot != NULL && dot != host && strcasecmp(dot + 1, name + 2) == 0;
}

/* ------------------------------------------------------------ callbacks */

static int rs__servername(SSL *ssl, int *alert, void *arg) {
  (void)alert;
  rs_tls_ctx_t *t = arg;
  const char *host = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
  if (host == NULL) return SSL_TLSEXT_ERR_NOACK;
  /* Exact names first, across every certificate; then wildcards. */
  for (int pass = 0; pass < 2; pass++)
    for (size_t i = 0; i < t->ncerts; i++)
      for (size_t k = 0; k < t->certs[i].nnames; k++) {
        const char *n = t->certs[i].names[k];
        bool wild = n[0] == '*';
        if ((pass == 0) == wild) continue;
        if (rs__name_match(n, host)) {
          if (i > 0) SSL_set_SSL_CTX(ssl, t->certs[i].ctx);
          return SSL_TLSEXT_ERR_OK;
        }
      }
  return SSL_TLSEXT_ERR_OK;      /* the default certificate */
}

static int rs__alpn_select(SSL *ssl, const unsigned char **out, unsigned char *outlen, const unsigned char *in,
                           unsigned int inlen, void *arg) {
  (void)ssl;
  rs_tls_ctx_t *t = arg;
  unsigned char *o = NULL;
  if (SSL_select_next_proto(&o, outlen, t->alpn, (unsigned)t->alpn_len, in, inlen) != OPENSSL_NPN_NEGOTIATED)
    return SSL_TLSEXT_ERR_NOACK;
  *out = o;
  return SSL_TLSEXT_ERR_OK;
}

/* The stapled OCSP response of the certificate SNI chose (the callback of
 * that certificate's SSL_CTX). */
static int rs__ocsp_status(SSL *ssl, void *arg) {
  rs__cert_t *c = arg;
  if (c->ocsp == NULL) return SSL_TLSEXT_ERR_NOACK;
  unsigned char *p = OPENSSL_memdup(c->ocsp, c->ocsp_len);
  if (p == NULL || SSL_set_tlsext_status_ocsp_resp(ssl, p, (long)c->ocsp_len) != 1) {
    OPENSSL_free(p);
    return SSL_TLSEXT_ERR_NOACK;
  }
  return SSL_TLSEXT_ERR_OK;
}

static void rs__tkey_new(rs__tkey_t *k) {
  if (RAND_bytes(k->name, sizeof(k->name)) != 1 || RAND_bytes(k->aes, sizeof(k->aes)) != 1 ||
      RAND_bytes(k->hmac, sizeof(k->hmac)) != 1)
    abort();                     /* no randomness: nothing safe to do */
  k->set = true;
}

static int rs__ticket_key(SSL *ssl, unsigned char name[16], unsigned char *iv, EVP_CIPHER_CTX *cctx,
                          EVP_MAC_CTX *hctx, int enc) {
  rs_tls_ctx_t *t = SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), rs__ex_index);
  rs__tkeys_t *ks = t->keys;
  rs__tkey_t k;
  int rc;
  pthread_mutex_lock(&ks->lock);
  if (enc) {
    k = ks->cur;
    rc = 1;
  } else if (memcmp(name, ks->cur.name, 16) == 0) {
    k = ks->cur;
    /* TLS 1.3: a new ticket on every resumption (2: "renew"). Clients use
     * a 1.3 ticket once (RFC 8446 C.4; OpenSSL's drop it after use), so a
     * resumption without one leaves the client nothing to resume with, and
     * every other connection was a full handshake (wrk with "Connection:
     * close": 50% resumed, against 99% with nginx, which leaves OpenSSL its
     * own keys). TLS 1.2 keeps its ticket while the key is current. */
    rc = SSL_version(ssl) == TLS1_3_VERSION ? 2 : 1;
  } else if (ks->prev.set && memcmp(name, ks->prev.name, 16) == 0) {
    k = ks->prev;
    rc = 2;                      /* good, and worth renewing under the current key */
  } else {
    rc = 0;                      /* unknown key: a full handshake */
  }
  pthread_mutex_unlock(&ks->lock);
  if (rc == 0) return 0;
  /* The cipher was fetched with the context; the digest goes by name (the
   * MAC context is OpenSSL's new one each time), its length given. */
  OSSL_PARAM params[3];
  params[0] = OSSL_PARAM_construct_octet_string(OSSL_MAC_PARAM_KEY, k.hmac, sizeof(k.hmac));
  params[1] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)"SHA256", sizeof("SHA256") - 1);
  params[2] = OSSL_PARAM_construct_end();
  if (enc) {
    memcpy(name, k.name, 16);
    if (RAND_bytes(iv, EVP_MAX_IV_LENGTH) != 1 || EVP_EncryptInit_ex2(cctx, t->aes, k.aes, iv, NULL) != 1) rc = -1;
  } else if (EVP_DecryptInit_ex2(cctx, t->aes, k.aes, iv, NULL) != 1) {
    rc = -1;
  }
  if (rc != -1 && EVP_MAC_CTX_set_params(hctx, params) != 1) rc = -1;
  OPENSSL_cleanse(&k, sizeof(k));
  return rc;
}

static rs__tkeys_t *rs__tkeys_new(void) {
  rs__tkeys_t *ks = rs_xcalloc(1, sizeof(*ks));
  pthread_mutex_init(&ks->lock, NULL);
  rs__tkey_new(&ks->cur);
  ks->since_ms = rs_now_ms();
  ks->refs = 1;
  return ks;
}

static void rs__tkeys_unref(rs__tkeys_t *ks) {
  if (ks == NULL || __atomic_sub_fetch(&ks->refs, 1, __ATOMIC_ACQ_REL) != 0) return;
  OPENSSL_cleanse(&ks->cur, sizeof(ks->cur));
  OPENSSL_cleanse(&ks->prev, sizeof(ks->prev));
  pthread_mutex_destroy(&ks->lock);
  free(ks);
}

/* ------------------------------------------------------------ contexts */

static SSL_CTX *rs__ssl_ctx(rs_tls_ctx_t *t, const rs_tls_opts_t *o, char *err, size_t errlen) {
  SSL_CTX *c = SSL_CTX_new(TLS_server_method());
  if (c == NULL) {
    rs__tls_openssl_error(err, errlen, "SSL_CTX_new");
    return NULL;
  }
  SSL_CTX_set_ex_data(c, rs__ex_index, t);
  SSL_CTX_set_min_proto_version(c, o->tls13_only ? TLS1_3_VERSION : TLS1_2_VERSION);
  SSL_CTX_set_max_proto_version(c, o->tls12_only ? TLS1_2_VERSION : TLS1_3_VERSION);
  SSL_CTX_set_options(c, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION);
  /* No SSL_MODE_RELEASE_BUFFERS (nginx's choice: OpenSSL frees its record
   * buffers after every record, and allocates them again for the next):
   * the connection code calls rs_tls_idle once it has read and answered
   * what came, so an idle keep-alive connection still holds no record
   * buffers (~34 KB), and a burst of records shares one allocation. */
  if (SSL_CTX_set_cipher_list(c, o->ciphers ? o->ciphers : RS__TLS12_CIPHERS) != 1) {
    rs__tls_openssl_error(err, errlen, "ciphers");
    SSL_CTX_free(c);
    return NULL;
  }
  SSL_CTX_set_session_id_context(c, (const unsigned char *)"rustyssr", 8);
  SSL_CTX_set_timeout(c, o->session_timeout_s ? o->session_timeout_s : 3600);
  if (o->session_cache == 1) {
    SSL_CTX_set_session_cache_mode(c, SSL_SESS_CACHE_OFF);
  } else {
    SSL_CTX_set_session_cache_mode(c, SSL_SESS_CACHE_SERVER);
    SSL_CTX_sess_set_cache_size(c, (long)(o->session_cache ? o->session_cache : 20480));
  }
  if (o->no_tickets) {
    SSL_CTX_set_options(c, SSL_OP_NO_TICKET);
    if (o->session_cache == 1) SSL_CTX_set_num_tickets(c, 0);   /* they would name nothing */
  }
  SSL_CTX_set_tlsext_ticket_key_evp_cb(c, rs__ticket_key);
  SSL_CTX_set_tlsext_servername_callback(c, rs__servername);
  SSL_CTX_set_tlsext_servername_arg(c, t);
  if (t->alpn_len) SSL_CTX_set_alpn_select_cb(c, rs__alpn_select, t);
  return c;
}

static int rs__load(rs__cert_t *c, const rs_tls_cert_conf_t *cc, char *err, size_t errlen) {
  char what[512];
  if (SSL_CTX_use_certificate_chain_file(c->ctx, cc->cert) != 1) {
    snprintf(what, sizeof(what), "%s: cannot load the certificate", cc->cert);
    rs__tls_openssl_error(err, errlen, what);
    return -1;
  }
  if (SSL_CTX_use_PrivateKey_file(c->ctx, cc->key, SSL_FILETYPE_PEM) != 1) {
    if (ERR_GET_REASON(ERR_peek_last_error()) == X509_R_KEY_VALUES_MISMATCH) {
      snprintf(err, errlen, "%s does not match %s", cc->key, cc->cert);
      ERR_clear_error();
      return -1;
    }
    snprintf(what, sizeof(what), "%s: cannot load the private key", cc->key);
    rs__tls_openssl_error(err, errlen, what);
    return -1;
  }
  if (SSL_CTX_check_private_key(c->ctx) != 1) {
    snprintf(what, sizeof(what), "%s does not match %s", cc->key, cc->cert);
    rs__tls_openssl_error(err, errlen, what);
    return -1;
  }
  if (cc->ocsp != NULL) {
    FILE *f = fopen(cc->ocsp, "rbe");
    if (f == NULL) {
      snprintf(err, errlen, "%s: cannot open the OCSP response", cc->ocsp);
      return -1;
    }
    unsigned char buf[1 << 16];
    size_t n = fread(buf, 1, sizeof(buf), f);
    bool big = n == sizeof(buf);
    fclose(f);
    const unsigned char *p = buf;
    OCSP_RESPONSE *r = big ? NULL : d2i_OCSP_RESPONSE(NULL, &p, (long)n);
    if (r == NULL) {
      snprintf(err, errlen, "%s: not a DER OCSP response%s", cc->ocsp, big ? " (over 64 KB)" : "");
      ERR_clear_error();
      return -1;
    }
    OCSP_RESPONSE_free(r);
    c->ocsp = rs_xmalloc(n);
    memcpy(c->ocsp, buf, n);
    c->ocsp_len = n;
    SSL_CTX_set_tlsext_status_cb(c->ctx, rs__ocsp_status);
    SSL_CTX_set_tlsext_status_arg(c->ctx, c);
  }
  rs__cert_names(c, SSL_CTX_get0_certificate(c->ctx));
  if (c->nnames == 0) {
    snprintf(err, errlen, "%s: no DNS name in subjectAltName nor CN", cc->cert);
    return -1;
  }
  return 0;
}

rs_tls_ctx_t *rs_tls_ctx_new(const rs_tls_opts_t *o, char *err, size_t errlen) {
  pthread_once(&rs__once, rs__init_index);
  if (o->ncerts == 0) {
    snprintf(err, errlen, "no certificate");
    return NULL;
  }
  if (o->tls13_only && o->tls12_only) {
    snprintf(err, errlen, "no protocol left (TLS 1.2 and 1.3 both refused)");
    return NULL;
  }
  rs_tls_ctx_t *t = rs_xcalloc(1, sizeof(*t));
  t->refs = 1;
  t->keys = rs__tkeys_new();
  t->aes = EVP_CIPHER_fetch(NULL, "AES-256-CBC", NULL);
  if (t->aes == NULL) {
    rs__tls_openssl_error(err, errlen, "AES-256-CBC for the session tickets");
    rs_tls_ctx_free(t);
    return NULL;
  }
  for (size_t i = 0; i < o->nalpn; i++) {
    size_t n = strlen(o->alpn[i]);
    if (n == 0 || n > 255) {
      snprintf(err, errlen, "ALPN protocol \"%s\": 1 to 255 bytes", o->alpn[i]);
      rs_tls_ctx_free(t);
      return NULL;
    }
    t->alpn = rs_xrealloc(t->alpn, t->alpn_len + 1 + n);
    t->alpn[t->alpn_len] = (unsigned char)n;
    memcpy(t->alpn + t->alpn_len + 1, o->alpn[i], n);
    t->alpn_len += 1 + n;
  }
  t->certs = rs_xcalloc(o->ncerts, sizeof(*t->certs));
  for (size_t i = 0; i < o->ncerts; i++) {
    t->ncerts = i + 1;
    t->certs[i].ctx = rs__ssl_ctx(t, o, err, errlen);
    if (t->certs[i].ctx == NULL || rs__load(&t->certs[i], &o->certs[i], err, errlen) != 0) {
      rs_tls_ctx_free(t);
      return NULL;
    }
  }
  return t;
}

static void rs__ctx_unref(rs_tls_ctx_t *t) {
  if (__atomic_sub_fetch(&t->refs, 1, __ATOMIC_ACQ_REL) != 0) return;
  for (size_t i = 0; i < t->ncerts; i++) {
    SSL_CTX_free(t->certs[i].ctx);
    for (size_t k = 0; k < t->certs[i].nnames; k++) free(t->certs[i].names[k]);
    free(t->certs[i].names);
    free(t->certs[i].ocsp);
  }
  free(t->certs);
  free(t->alpn);
  rs__tkeys_unref(t->keys);
  EVP_CIPHER_free(t->aes);
  free(t);
}

void rs_tls_ctx_free(rs_tls_ctx_t *t) {
  if (t != NULL) rs__ctx_unref(t);
}

/* Under ks->lock. */
static void rs__rotate(rs__tkeys_t *ks, const rs__tkey_t *k, uint64_t now_ms) {
  ks->prev = ks->cur;
  ks->cur = *k;
  ks->since_ms = now_ms;
}

void rs_tls_ctx_rotate_tickets(rs_tls_ctx_t *t) {
  rs__tkey_t k;
  rs__tkey_new(&k);
  pthread_mutex_lock(&t->keys->lock);
  rs__rotate(t->keys, &k, rs_now_ms());
  pthread_mutex_unlock(&t->keys->lock);
  OPENSSL_cleanse(&k, sizeof(k));
}

bool rs_tls_ctx_rotate_due(rs_tls_ctx_t *t, uint64_t now_ms, uint64_t every_ms) {
  rs__tkeys_t *ks = t->keys;
  pthread_mutex_lock(&ks->lock);
  bool due = every_ms != 0 && now_ms >= ks->since_ms + every_ms;
  pthread_mutex_unlock(&ks->lock);
  if (!due) return false;
  rs__tkey_t k;
  rs__tkey_new(&k);              /* outside the lock: handshakes wait on it */
  pthread_mutex_lock(&ks->lock);
  rs__rotate(ks, &k, now_ms);
  pthread_mutex_unlock(&ks->lock);
  OPENSSL_cleanse(&k, sizeof(k));
  return true;
}

void rs_tls_ctx_share_tickets(rs_tls_ctx_t *t, rs_tls_ctx_t *from) {
  if (t == from || t->keys == from->keys) return;
  __atomic_add_fetch(&from->keys->refs, 1, __ATOMIC_RELAXED);
  rs__tkeys_unref(t->keys);
  t->keys = from->keys;
}

void rs_tls_ctx_stats(rs_tls_ctx_t *t, rs_tls_stats_t *out) {
  out->handshakes = __atomic_load_n(&t->handshakes, __ATOMIC_RELAXED);
  out->resumed = __atomic_load_n(&t->resumed, __ATOMIC_RELAXED);
  out->failed = __atomic_load_n(&t->failed, __ATOMIC_RELAXED);
}


/* ------------------------------------------------------------ connections */

static void rs__conn_done(rs_tls_t *t) {
  rs_tls_ctx_t *ctx = ((rs__conn_t *)t)->ctx;
  __atomic_fetch_add(&ctx->handshakes, 1, __ATOMIC_RELAXED);
  if (SSL_session_reused(t->ssl)) __atomic_fetch_add(&ctx->resumed, 1, __ATOMIC_RELAXED);
}

static void rs__conn_failed(rs_tls_t *t) {
  if (!t->done) __atomic_fetch_add(&((rs__conn_t *)t)->ctx->failed, 1, __ATOMIC_RELAXED);
}

static void rs__conn_release(rs_tls_t *t) {
  rs__conn_t *c = (rs__conn_t *)t;
  rs__ctx_unref(c->ctx);
  free(c);
}

static const rs_tls_side_t rs__server_side = {
  .done = rs__conn_done, .failed = rs__conn_failed, .close = NULL, .release = rs__conn_release,
};

rs_tls_t *rs_tls_new(rs_tls_ctx_t *ctx) {
  rs__conn_t *c = rs_xcalloc(1, sizeof(*c));
  __atomic_add_fetch(&ctx->refs, 1, __ATOMIC_RELAXED);
  c->ctx = ctx;
  SSL *ssl = SSL_new(ctx->certs[0].ctx);
  rs__tls_init(&c->t, ssl, &rs__server_side);
  SSL_set_accept_state(ssl);
  return &c->t;
}
