/* tests/unit/test_tls.c — core/tls/rs_tls.c against OpenSSL's own client,
 * both in memory (no socket: the bytes each side writes are fed to the
 * other): certificates chosen by SNI (exact, wildcard, default), ALPN in the
 * server's order, TLS 1.3 and 1.2, plaintext both ways, session resumption
 * by ticket across one rotation of the ticket keys and not across two,
 * ticket keys shared by a reload's new context (resumed there, rotated
 * together, their phase kept),
 * TLS 1.1 refused, garbage refused, bad certificate files named in the
 * error, a context outliving its maker while a connection uses it, TLS 1.2
 * only, buffered records, OCSP files. Certificates are made here (EC P-256,
 * self-signed). */
#include "tap.h"

#include "rs_tls.h"

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <unistd.h>

static char dir[] = "/tmp/rs-test-tls-XXXXXX";

/* A self-signed certificate for cn with these DNS names, as PEM files. */
static void make_cert(const char *base, const char *cn, const char *san) {
  EVP_PKEY *k = EVP_EC_gen("P-256");
  X509 *x = X509_new();
  ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
  X509_gmtime_adj(X509_getm_notBefore(x), -3600);
  X509_gmtime_adj(X509_getm_notAfter(x), 86400);
  X509_set_pubkey(x, k);
  X509_NAME *n = X509_get_subject_name(x);
  X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0);
  X509_set_issuer_name(x, n);
  if (san != NULL) {
    X509V3_CTX v3;
    X509V3_set_ctx_nodb(&v3);
    X509V3_set_ctx(&v3, x, x, NULL, NULL, 0);
    X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, &v3, NID_subject_alt_name, san);
    X509_add_ext(x, ext, -1);
    X509_EXTENSION_free(ext);
  }
  X509_sign(x, k, EVP_sha256());
  char path[256];
  snprintf(path, sizeof(path), "%s/%s.crt", dir, base);
  FILE *f = fopen(path, "w");
  PEM_write_X509(f, x);
  fclose(f);
  snprintf(path, sizeof(path), "%s/%s.key", dir, base);
  f = fopen(path, "w");
  PEM_write_PrivateKey(f, k, NULL, NULL, 0, NULL, NULL);
  fclose(f);
  X509_free(x);
  EVP_PKEY_free(k);
}

static char paths[10][256];
static const char *p(int i, const char *base, const char *ext) {
  snprintf(paths[i], sizeof(paths[i]), "%s/%s.%s", dir, base, ext);
  return paths[i];
}

static rs_tls_ctx_t *server_ctx(void) {
  static rs_tls_cert_conf_t certs[4];
  certs[0] = (rs_tls_cert_conf_t){ p(0, "default", "crt"), p(1, "default", "key"), NULL };
  certs[1] = (rs_tls_cert_conf_t){ p(2, "a", "crt"), p(3, "a", "key"), NULL };
  certs[2] = (rs_tls_cert_conf_t){ p(4, "b", "crt"), p(5, "b", "key"), NULL };
  certs[3] = (rs_tls_cert_conf_t){ p(8, "exact", "crt"), p(9, "exact", "key"), NULL };
  static const char *alpn[] = { "h2", "http/1.1" };
  rs_tls_opts_t o = { .certs = certs, .ncerts = 4, .alpn = alpn, .nalpn = 2 };
  char err[256];
  rs_tls_ctx_t *c = rs_tls_ctx_new(&o, err, sizeof(err));
  if (c == NULL) fprintf(stderr, "# %s\n", err);
  return c;
}

/* ---------------------------------------------------------------- a client */

typedef struct {
  SSL_CTX *ctx;
  SSL *ssl;
  BIO *rbio, *wbio;
} client_t;

static SSL_CTX *resume_ctx;      /* one client context for a resumed session and its origin */
static SSL_SESSION *latest;      /* the newest session a server's ticket made (TLS 1.3 tickets
                                    come after the handshake, one use each) */

static int new_session(SSL *ssl, SSL_SESSION *sess) {
  (void)ssl;
  if (latest) SSL_SESSION_free(latest);
  latest = sess;
  return 1;                      /* we keep the reference */
}

static void client_new(client_t *c, const char *sni, const char *alpn_wire, size_t alpn_len, int max_version,
                       SSL_SESSION *resume) {
  c->ctx = SSL_CTX_new(TLS_client_method());
  if (resume_ctx != NULL && max_version == 0) {
    SSL_CTX_free(c->ctx);
    SSL_CTX_up_ref(resume_ctx);
    c->ctx = resume_ctx;
  }
  SSL_CTX_set_min_proto_version(c->ctx, TLS1_VERSION);
  SSL_CTX_set_security_level(c->ctx, 0);
  if (max_version) SSL_CTX_set_max_proto_version(c->ctx, max_version);
  SSL_CTX_set_session_cache_mode(c->ctx, SSL_SESS_CACHE_CLIENT);
  c->ssl = SSL_new(c->ctx);
  c->rbio = BIO_new(BIO_s_mem());
  c->wbio = BIO_new(BIO_s_mem());
  BIO_set_mem_eof_return(c->rbio, -1);
  SSL_set_bio(c->ssl, c->rbio, c->wbio);
  SSL_set_connect_state(c->ssl);
  if (sni) SSL_set_tlsext_host_name(c->ssl, sni);
  if (alpn_wire) SSL_set_alpn_protos(c->ssl, (const unsigned char *)alpn_wire, (unsigned)alpn_len);
  if (resume) SSL_set_session(c->ssl, resume);
}

static void client_free(client_t *c) {
  SSL_free(c->ssl);
  SSL_CTX_free(c->ctx);
}

/* The ciphertext s made, taken as a socket write takes it (its chunks, not
 * copied), into the client's read BIO. Returns how many bytes. */
static size_t to_client(rs_tls_t *s, BIO *rbio) {
  size_t n = 0, len = 0;
  rs_tls_chunk_t *chunks = rs_tls_take_chunks(s, &n);
  for (rs_tls_chunk_t *c = chunks; c != NULL; c = c->next) {
    BIO_write(rbio, c->data, (int)c->len);
    len += c->len;
  }
  rs_tls_chunks_free(chunks);
  return len;
}

/* Move the bytes both ways until nothing moves; false on a server error. */
static bool pump(client_t *c, rs_tls_t *s) {
  char buf[16384];
  for (int round = 0; round < 100; round++) {
    bool moved = false;
    int r = SSL_do_handshake(c->ssl);
    (void)r;
    int n;
    while ((n = BIO_read(c->wbio, buf, sizeof(buf))) > 0) {
      moved = true;
      if (rs_tls_feed(s, buf, (size_t)n) != RS_TLS_OK) {
        to_client(s, c->rbio);
        SSL_do_handshake(c->ssl);
        return false;
      }
    }
    if (to_client(s, c->rbio) > 0) moved = true;
    if (!moved && SSL_is_init_finished(c->ssl) && rs_tls_handshake_done(s)) return true;
    if (!moved) return SSL_is_init_finished(c->ssl) && rs_tls_handshake_done(s);
  }
  return false;
}

static char *peer_cn(client_t *c) {
  static char cn[128];
  X509 *x = SSL_get1_peer_certificate(c->ssl);
  cn[0] = 0;
  if (x) X509_NAME_get_text_by_NID(X509_get_subject_name(x), NID_commonName, cn, sizeof(cn));
  X509_free(x);
  return cn;
}

/* ---------------------------------------------------------------- tests */

static void test_sni_picks_the_certificate(void) {
  rs_tls_ctx_t *ctx = server_ctx();
  ASSERT(ctx != NULL);
  static const struct {
    const char *sni, *cn;
  } cases[] = {
    { "a.test", "a" },       { "A.TEST", "a" },           { "www.a.test", "a" },   /* SAN: a.test, www.a.test */
    { "x.b.test", "b" },     { "b.test", "default" },     /* *.b.test: one label, not b.test itself */
    { "y.x.b.test", "default" }, { "other.test", "default" }, { NULL, "default" },
    { "exact.b.test", "exact" },                           /* an exact name beats a wildcard */
  };
  for (size_t i = 0; i < RS_ARRAY_SIZE(cases); i++) {
    client_t c;
    client_new(&c, cases[i].sni, NULL, 0, 0, NULL);
    rs_tls_t *s = rs_tls_new(ctx);
    ASSERT(pump(&c, s));
    if (strcmp(peer_cn(&c), cases[i].cn) != 0)
      TAP_FAIL("SNI %s: certificate %s, want %s", cases[i].sni ? cases[i].sni : "(none)", peer_cn(&c), cases[i].cn);
    if (cases[i].sni) ASSERT_STR_EQ(rs_tls_sni(s), cases[i].sni);
    else ASSERT(rs_tls_sni(s) == NULL);
    ASSERT_STR_EQ(rs_tls_version(s), "TLSv1.3");
    rs_tls_free(s);
    client_free(&c);
  }
  rs_tls_ctx_free(ctx);
}

static void test_alpn_and_data(void) {
  rs_tls_ctx_t *ctx = server_ctx();
  ASSERT(ctx != NULL);
  static const struct {
    const char *wire;
    size_t len;
    const char *want;
  } cases[] = {
    { "\x08http/1.1\x02h2", 12, "h2" },     /* the server's order wins */
    { "\x08http/1.1", 9, "http/1.1" },
    { "\x06spdy/3", 7, NULL },              /* nothing in common: no ALPN, still TLS */
    { NULL, 0, NULL },
  };
  for (size_t i = 0; i < RS_ARRAY_SIZE(cases); i++) {
    client_t c;
    client_new(&c, "a.test", cases[i].wire, cases[i].len, i == 1 ? TLS1_2_VERSION : 0, NULL);
    rs_tls_t *s = rs_tls_new(ctx);
    ASSERT(pump(&c, s));
    size_t n;
    const char *a = rs_tls_alpn(s, &n);
    if (cases[i].want) ASSERT_MEM_EQ(a, n, cases[i].want, strlen(cases[i].want));
    else ASSERT(a == NULL);
    ASSERT_STR_EQ(rs_tls_version(s), i == 1 ? "TLSv1.2" : "TLSv1.3");
    /* 100 KB each way */
    static char big[100000], got[100000];
    for (size_t k = 0; k < sizeof(big); k++) big[k] = (char)('a' + k % 26);
    size_t w = 0;
    ASSERT(SSL_write_ex(c.ssl, big, sizeof(big), &w) == 1 && w == sizeof(big));
    char buf[16384];
    int m;
    while ((m = BIO_read(c.wbio, buf, sizeof(buf))) > 0) ASSERT_EQ(rs_tls_feed(s, buf, (size_t)m), RS_TLS_OK);
    size_t have = 0;
    ssize_t r;
    while ((r = rs_tls_read(s, got + have, sizeof(got) - have)) > 0) have += (size_t)r;
    ASSERT_EQ(have, sizeof(big));
    ASSERT(memcmp(got, big, sizeof(big)) == 0);
    ASSERT_EQ(rs_tls_write(s, big, sizeof(big)), RS_TLS_OK);
    size_t pending = rs_tls_pending(s);
    ASSERT(pending > sizeof(big));   /* 7 records with their overhead */
    ASSERT_EQ(to_client(s, c.rbio), pending);
    ASSERT_EQ(rs_tls_pending(s), 0);
    have = 0;
    size_t rn;
    while (have < sizeof(got) && SSL_read_ex(c.ssl, got + have, sizeof(got) - have, &rn) == 1) have += rn;
    ASSERT_EQ(have, sizeof(big));
    ASSERT(memcmp(got, big, sizeof(big)) == 0);
    /* close_notify from the client */
    SSL_shutdown(c.ssl);
    while ((m = BIO_read(c.wbio, buf, sizeof(buf))) > 0) rs_tls_feed(s, buf, (size_t)m);
    ASSERT_EQ(rs_tls_read(s, got, sizeof(got)), RS_TLS_CLOSED);
    rs_tls_free(s);
    client_free(&c);
  }
  rs_tls_ctx_free(ctx);
}

/* A full handshake; returns the client's session (with its ticket). */
static SSL_SESSION *handshake(rs_tls_ctx_t *ctx, SSL_SESSION *resume, bool *resumed) {
  client_t c;
  client_new(&c, "a.test", NULL, 0, 0, resume);
  rs_tls_t *s = rs_tls_new(ctx);
  bool ok = pump(&c, s);
  /* TLS 1.3 tickets come after the handshake: let the client read them. */
  char b[64];
  size_t n;
  SSL_read_ex(c.ssl, b, sizeof(b), &n);
  ERR_clear_error();
  SSL_SESSION *sess = NULL;
  if (ok && latest && latest != resume) {
    SSL_SESSION_up_ref(latest);
    sess = latest;
  }
  *resumed = ok && rs_tls_resumed(s) && SSL_session_reused(c.ssl);
  /* A clean close: OpenSSL forgets (not_resumable) a session whose SSL is
   * freed without one. */
  SSL_shutdown(c.ssl);
  rs_tls_free(s);
  client_free(&c);
  return sess;
}

static void test_resumption_across_one_rotation(void) {
  resume_ctx = SSL_CTX_new(TLS_client_method());
  SSL_CTX_set_session_cache_mode(resume_ctx, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
  SSL_CTX_sess_set_new_cb(resume_ctx, new_session);
  rs_tls_ctx_t *ctx = server_ctx();
  ASSERT(ctx != NULL);
  /* TLS 1.3 tickets are for one use each: every resumption below uses a
   * session of its own, from a full handshake. */
  bool resumed;
  SSL_SESSION *s1 = handshake(ctx, NULL, &resumed);
  ASSERT(s1 != NULL);
  ASSERT(!resumed);
  SSL_SESSION *r = handshake(ctx, s1, &resumed);
  ASSERT(resumed);                               /* by ticket, under the current key */
  SSL_SESSION_free(r);
  SSL_SESSION *s2 = handshake(ctx, NULL, &resumed);
  rs_tls_ctx_rotate_tickets(ctx);
  r = handshake(ctx, s2, &resumed);
  ASSERT(resumed);                               /* the previous key still decrypts */
  SSL_SESSION_free(r);
  SSL_SESSION *s3 = handshake(ctx, NULL, &resumed);
  rs_tls_ctx_rotate_tickets(ctx);
  rs_tls_ctx_rotate_tickets(ctx);
  r = handshake(ctx, s3, &resumed);
  ASSERT(!resumed);                              /* two rotations later: a full handshake */
  SSL_SESSION_free(r);
  rs_tls_stats_t st;
  rs_tls_ctx_stats(ctx, &st);
  ASSERT_EQ(st.handshakes, 6);
  ASSERT_EQ(st.resumed, 2);
  SSL_SESSION_free(s1), SSL_SESSION_free(s2), SSL_SESSION_free(s3);
  rs_tls_ctx_free(ctx);
  SSL_CTX_free(resume_ctx);
  resume_ctx = NULL;
  SSL_SESSION_free(latest);
  latest = NULL;
}

/* rs_tls_ctx_share_tickets (a reload): the new context resumes the old
 * one's tickets and shares its rotations and their phase; a context that
 * does not share them does not resume them; the keys outlive the context
 * that made them. */
static void test_tickets_shared_across_contexts(void) {
  resume_ctx = SSL_CTX_new(TLS_client_method());
  SSL_CTX_set_session_cache_mode(resume_ctx, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
  SSL_CTX_sess_set_new_cb(resume_ctx, new_session);
  rs_tls_ctx_t *old = server_ctx(), *other = server_ctx(), *next = server_ctx();
  ASSERT(old && other && next);
  bool resumed;
  SSL_SESSION *s1 = handshake(old, NULL, &resumed), *s2 = handshake(old, NULL, &resumed), *r;
  ASSERT(s1 && s2);
  r = handshake(other, s1, &resumed);
  ASSERT(!resumed);                              /* keys of its own: a full handshake */
  SSL_SESSION_free(r);
  rs_tls_ctx_share_tickets(next, old);
  r = handshake(next, s2, &resumed);
  ASSERT(resumed);                               /* the old context's ticket */
  SSL_SESSION_free(r);
  /* The phase goes with the keys: not due now, due an hour on, once. */
  uint64_t now = rs_now_ms(), hour = 3600 * 1000;
  ASSERT(!rs_tls_ctx_rotate_due(next, now, hour));
  ASSERT(!rs_tls_ctx_rotate_due(next, now + hour, 0));
  SSL_SESSION *s3 = handshake(next, NULL, &resumed), *s4 = handshake(old, NULL, &resumed);
  ASSERT(rs_tls_ctx_rotate_due(next, now + hour + 1000, hour));
  ASSERT(!rs_tls_ctx_rotate_due(old, now + hour + 2000, hour));   /* shared: rotated already */
  rs_tls_ctx_free(old);                          /* next keeps the keys */
  r = handshake(next, s3, &resumed);
  ASSERT(resumed);                               /* the previous key still decrypts */
  SSL_SESSION_free(r);
  ASSERT(rs_tls_ctx_rotate_due(next, now + 2 * hour + 1000, hour));
  r = handshake(next, s4, &resumed);
  ASSERT(!resumed);                              /* two rotations since, whichever context rotated */
  SSL_SESSION_free(r);
  SSL_SESSION_free(s1), SSL_SESSION_free(s2), SSL_SESSION_free(s3), SSL_SESSION_free(s4);
  rs_tls_ctx_free(other);
  rs_tls_ctx_free(next);
  SSL_CTX_free(resume_ctx);
  resume_ctx = NULL;
  SSL_SESSION_free(latest);
  latest = NULL;
}

static void test_refusals(void) {
  rs_tls_ctx_t *ctx = server_ctx();
  ASSERT(ctx != NULL);
  /* TLS 1.1: refused, with an alert for the client and a reason here */
  client_t c;
  client_new(&c, "a.test", NULL, 0, TLS1_1_VERSION, NULL);
  rs_tls_t *s = rs_tls_new(ctx);
  ASSERT(!pump(&c, s));
  ASSERT(strlen(rs_tls_error(s)) > 0);
  ASSERT(!SSL_is_init_finished(c.ssl));
  rs_tls_free(s);
  client_free(&c);
  /* garbage: refused, no crash */
  s = rs_tls_new(ctx);
  ASSERT_EQ(rs_tls_feed(s, "GET / HTTP/1.1\r\nHost: a\r\n\r\n", 27), RS_TLS_ERROR);
  ASSERT_EQ(rs_tls_write(s, "x", 1), RS_TLS_ERROR);    /* nothing before a handshake */
  rs_tls_free(s);
  rs_tls_stats_t st;
  rs_tls_ctx_stats(ctx, &st);
  ASSERT_EQ(st.failed, 2);
  rs_tls_ctx_free(ctx);
  /* bad files: the error names them */
  char err[256];
  rs_tls_cert_conf_t missing = { p(6, "nope", "crt"), p(7, "nope", "key"), NULL };
  rs_tls_opts_t o = { .certs = &missing, .ncerts = 1 };
  ASSERT(rs_tls_ctx_new(&o, err, sizeof(err)) == NULL);
  ASSERT(strstr(err, "nope.crt") != NULL);
  rs_tls_cert_conf_t mismatch = { p(6, "a", "crt"), p(7, "b", "key"), NULL };
  o.certs = &mismatch;
  ASSERT(rs_tls_ctx_new(&o, err, sizeof(err)) == NULL);
  ASSERT(strstr(err, "does not match") != NULL || strstr(err, "b.key: cannot load the private key") != NULL);
  rs_tls_cert_conf_t key_as_cert = { p(6, "a", "key"), p(7, "a", "key"), NULL };
  o.certs = &key_as_cert;
  ASSERT(rs_tls_ctx_new(&o, err, sizeof(err)) == NULL);
  ASSERT(strstr(err, "a.key: cannot load the certificate") != NULL);
}

/* A context freed by its maker while a connection still uses it lives on
 * until that connection goes (each rs_tls_t holds a reference); TLS 1.2
 * only; what rs_tls_buffered says; bad options named. */
static void test_refs_versions_buffered(void) {
  rs_tls_ctx_t *ctx = server_ctx();
  ASSERT(ctx != NULL);
  rs_tls_t *s = rs_tls_new(ctx);
  rs_tls_ctx_free(ctx);          /* the generation went; the connection did not */
  client_t c;
  client_new(&c, "a.test", NULL, 0, 0, NULL);
  ASSERT(pump(&c, s));           /* the ticket callback reads the context */
  static char big[50000], got[50000];
  memset(big, 'x', sizeof(big));
  size_t w = 0;
  ASSERT(SSL_write_ex(c.ssl, big, sizeof(big), &w) == 1);
  char buf[16384];
  int m;
  while ((m = BIO_read(c.wbio, buf, sizeof(buf))) > 0) ASSERT_EQ(rs_tls_feed(s, buf, (size_t)m), RS_TLS_OK);
  ASSERT(rs_tls_buffered(s));
  ASSERT_EQ(rs_tls_read(s, got, 10), 10);
  ASSERT(rs_tls_buffered(s));    /* the rest of the record, and the records after it */
  size_t have = 10;
  ssize_t r;
  while ((r = rs_tls_read(s, got + have, sizeof(got) - have)) > 0) have += (size_t)r;
  ASSERT_EQ(have, sizeof(big));
  ASSERT(!rs_tls_buffered(s));
  rs_tls_free(s);                /* the last reference: the context goes now */
  client_free(&c);

  static rs_tls_cert_conf_t one[1];
  one[0] = (rs_tls_cert_conf_t){ p(0, "a", "crt"), p(1, "a", "key"), NULL };
  rs_tls_opts_t o = { .certs = one, .ncerts = 1, .tls12_only = true };
  char err[256];
  ctx = rs_tls_ctx_new(&o, err, sizeof(err));
  ASSERT(ctx != NULL);
  s = rs_tls_new(ctx);
  client_new(&c, "a.test", NULL, 0, 0, NULL);
  ASSERT(pump(&c, s));
  ASSERT_STR_EQ(rs_tls_version(s), "TLSv1.2");
  rs_tls_free(s);
  client_free(&c);
  rs_tls_ctx_free(ctx);
  o.tls13_only = true;
  ASSERT(rs_tls_ctx_new(&o, err, sizeof(err)) == NULL);
  ASSERT(strstr(err, "no protocol left") != NULL);
  o.tls13_only = o.tls12_only = false;
  one[0].ocsp = p(2, "a", "crt");  /* PEM, not a DER OCSP response */
  ASSERT(rs_tls_ctx_new(&o, err, sizeof(err)) == NULL);
  ASSERT(strstr(err, "a.crt: not a DER OCSP response") != NULL);
  one[0].ocsp = p(2, "nope", "der");
  ASSERT(rs_tls_ctx_new(&o, err, sizeof(err)) == NULL);
  ASSERT(strstr(err, "nope.der: cannot open the OCSP response") != NULL);
}

int main(void) {
  if (mkdtemp(dir) == NULL) return 1;
  make_cert("default", "default", "DNS:default.test");
  make_cert("a", "a", "DNS:a.test,DNS:www.a.test");
  make_cert("b", "b", "DNS:*.b.test");
  make_cert("exact", "exact", "DNS:exact.b.test");
  RS_TEST(test_sni_picks_the_certificate);
  RS_TEST(test_alpn_and_data);
  RS_TEST(test_resumption_across_one_rotation);
  RS_TEST(test_tickets_shared_across_contexts);
  RS_TEST(test_refusals);
  RS_TEST(test_refs_versions_buffered);
  char cmd[300];
  snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
  if (system(cmd) != 0) fprintf(stderr, "# could not remove %s\n", dir);
  RS_TEST_DONE();
}
