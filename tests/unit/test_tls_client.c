/* tests/unit/test_tls_client.c — core/tls/rs_tls_client.c (the upstream
 * side) against the listeners' core/tls/rs_tls.c, both in memory (the
 * bytes each side writes are fed to the other): a trusted certificate by
 * DNS name and by IP, a wrong name or IP refused with the verification
 * error, the system store not trusting a self-signed certificate,
 * verify = false accepting it, SNI sent (the host, or the one given, none
 * for an IP), plaintext both ways, resumption from the slot and none once
 * the slot went to another server, files that do not load named in the
 * error. */
#include "tap.h"

#include "rs_tls.h"
#include "rs_tls_client.h"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <unistd.h>

static char dir[] = "/tmp/rs-test-tlsc-XXXXXX";
static char crt[300], key[300];

static void make_cert(void) {
  EVP_PKEY *k = EVP_EC_gen("P-256");
  X509 *x = X509_new();
  ASN1_INTEGER_set(X509_get_serialNumber(x), 7);
  X509_gmtime_adj(X509_getm_notBefore(x), -3600);
  X509_gmtime_adj(X509_getm_notAfter(x), 86400);
  X509_set_pubkey(x, k);
  X509_NAME *n = X509_get_subject_name(x);
  X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC, (const unsigned char *)"a.test", -1, -1, 0);
  X509_set_issuer_name(x, n);
  X509V3_CTX v3;
  X509V3_set_ctx_nodb(&v3);
  X509V3_set_ctx(&v3, x, x, NULL, NULL, 0);
  X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, &v3, NID_subject_alt_name, "DNS:a.test,IP:127.0.0.1");
  X509_add_ext(x, ext, -1);
  X509_EXTENSION_free(ext);
  X509_sign(x, k, EVP_sha256());
  snprintf(crt, sizeof(crt), "%s/a.crt", dir);
  snprintf(key, sizeof(key), "%s/a.key", dir);
  FILE *f = fopen(crt, "w");
  PEM_write_X509(f, x);
  fclose(f);
  f = fopen(key, "w");
  PEM_write_PrivateKey(f, k, NULL, NULL, 0, NULL, NULL);
  fclose(f);
  X509_free(x);
  EVP_PKEY_free(k);
}

static rs_tls_ctx_t *server(void) {
  static rs_tls_cert_conf_t certs[1];
  certs[0] = (rs_tls_cert_conf_t){ .cert = crt, .key = key };
  rs_tls_opts_t o = { .certs = certs, .ncerts = 1 };
  char err[256];
  rs_tls_ctx_t *c = rs_tls_ctx_new(&o, err, sizeof(err));
  if (c == NULL) fprintf(stderr, "# %s\n", err);
  return c;
}

static rs_tlsc_ctx_t *client(const char *ca, bool no_verify) {
  rs_tlsc_opts_t o = { .ca = ca, .no_verify = no_verify };
  char err[600];
  rs_tlsc_ctx_t *c = rs_tlsc_ctx_new(&o, err, sizeof(err));
  if (c == NULL) fprintf(stderr, "# %s\n", err);
  return c;
}

/* What from made (its chunks, as a socket write takes them) fed to to;
 * *moved set when there was any. Returns the feeds' result (the first
 * error stops them). */
static int move(rs_tls_t *from, rs_tls_t *to, bool *moved) {
  size_t n = 0;
  int rc = RS_TLS_OK;
  rs_tls_chunk_t *chunks = rs_tls_take_chunks(from, &n);
  for (rs_tls_chunk_t *k = chunks; k != NULL && rc == RS_TLS_OK; k = k->next) {
    *moved = true;
    rc = rs_tls_feed(to, k->data, k->len);
  }
  rs_tls_chunks_free(chunks);
  return rc;
}

/* Move the bytes both ways until nothing moves. Returns the client's
 * result: RS_TLS_OK once both are done, else RS_TLS_ERROR. */
static int pump(rs_tls_t *c, rs_tls_t *s) {
  for (int round = 0; round < 100; round++) {
    bool moved = false;
    (void)move(c, s, &moved);    /* a server's failure: its alert goes to the client */
    if (move(s, c, &moved) != RS_TLS_OK) return RS_TLS_ERROR;
    if (!moved) return rs_tls_handshake_done(c) && rs_tls_handshake_done(s) ? RS_TLS_OK : RS_TLS_ERROR;
  }
  return RS_TLS_ERROR;
}

/* A connection to host (sni), through the handshake; then a request and an
 * answer both ways, which also carries TLS 1.3's session tickets. */
static int connect_one(rs_tlsc_ctx_t *cc, rs_tls_ctx_t *sc, const char *host, const char *sni, rs_tlsc_slot_t *slot,
                       bool *resumed, char *err, size_t errlen, char *seen_sni, size_t sni_len) {
  rs_tls_t *c = rs_tlsc_new(cc, host, sni, slot);
  rs_tls_t *s = rs_tls_new(sc);
  int rc = rs_tls_feed(c, NULL, 0);
  if (rc == RS_TLS_OK) rc = pump(c, s);
  snprintf(err, errlen, "%s", rc == RS_TLS_OK ? "" : rs_tls_error(c));
  /* the client side's own: a verification failure is named as one */
  if (rs_tlsc_verify_failed(c) != (strncmp(err, "certificate verify failed", 25) == 0)) {
    snprintf(err, errlen, "verify_failed is %d with \"%s\"", rs_tlsc_verify_failed(c), rs_tls_error(c));
    rc = RS_TLS_ERROR - 10;
  }
  if (seen_sni) snprintf(seen_sni, sni_len, "%s", rs_tls_sni(s) ? rs_tls_sni(s) : "(none)");
  if (rc == RS_TLS_OK) {
    *resumed = rs_tls_resumed(c);
    char buf[64];
    bool ok = rs_tls_write(c, "GET / HTTP/1.1\r\n\r\n", 18) == RS_TLS_OK;
    pump(c, s);
    ok = ok && rs_tls_read(s, buf, sizeof(buf)) == 18;
    ok = ok && rs_tls_write(s, "HTTP/1.1 200 OK\r\n", 17) == RS_TLS_OK;
    pump(c, s);
    ok = ok && rs_tls_read(c, buf, sizeof(buf)) == 17 && memcmp(buf, "HTTP/1.1 200", 12) == 0;
    ok = ok && strcmp(rs_tls_version(c), "TLSv1.3") == 0;
    if (!ok) {
      snprintf(err, errlen, "plaintext did not go both ways");
      rc = RS_TLS_ERROR;
    }
  }
  rs_tls_free(s);
  rs_tls_free(c);
  return rc;
}

static void test_verification(void) {
  rs_tls_ctx_t *sc = server();
  rs_tlsc_ctx_t *trusted = client(crt, false), *system = client(NULL, false), *blind = client(NULL, true);
  ASSERT(sc && trusted && system && blind);
  static const struct {
    int which;                   /* 0 trusted, 1 system store, 2 verify off */
    const char *host, *sni;
    bool ok;
    const char *err, *seen;
  } cases[] = {
    { 0, "a.test", NULL, true, "", "a.test" },
    { 0, "A.TEST", NULL, true, "", "A.TEST" },
    { 0, "127.0.0.1", NULL, true, "", "(none)" },                  /* an IP: no SNI, its SAN checked */
    { 0, "10.0.0.1", "a.test", true, "", "a.test" },               /* the name given is sent and checked */
    { 0, "b.test", NULL, false, "certificate verify failed: hostname mismatch", "b.test" },
    { 0, "127.0.0.2", NULL, false, "certificate verify failed: IP address mismatch", "(none)" },
    { 0, "x.a.test", NULL, false, "certificate verify failed: hostname mismatch", "x.a.test" },
    { 1, "a.test", NULL, false, "certificate verify failed: self-signed certificate", "a.test" },
    { 2, "b.test", NULL, true, "", "b.test" },
  };
  for (size_t i = 0; i < RS_ARRAY_SIZE(cases); i++) {
    rs_tlsc_ctx_t *cc = cases[i].which == 0 ? trusted : cases[i].which == 1 ? system : blind;
    char err[256], seen[64];
    bool resumed = true;
    int rc = connect_one(cc, sc, cases[i].host, cases[i].sni, NULL, &resumed, err, sizeof(err), seen, sizeof(seen));
    if ((rc == RS_TLS_OK) != cases[i].ok) TAP_FAIL("%s: rc %d (%s)", cases[i].host, rc, err);
    ASSERT_STR_EQ(err, cases[i].err);
    ASSERT_STR_EQ(seen, cases[i].seen);
    if (rc == RS_TLS_OK) ASSERT(!resumed);
  }
  rs_tlsc_ctx_free(trusted);
  rs_tlsc_ctx_free(system);
  rs_tlsc_ctx_free(blind);
  rs_tls_ctx_free(sc);
}

static void test_resumption(void) {
  rs_tls_ctx_t *sc = server();
  rs_tlsc_ctx_t *cc = client(crt, false);
  ASSERT(sc && cc);
  rs_tlsc_slot_t slot = { 0 };
  char err[256];
  bool resumed = true;
  ASSERT_EQ(connect_one(cc, sc, "a.test", NULL, &slot, &resumed, err, sizeof(err), NULL, 0), RS_TLS_OK);
  ASSERT(!resumed);
  ASSERT(slot.sess != NULL);     /* the server's ticket */
  /* Reconnections resume. A server that takes each TLS 1.3 ticket once and
   * sends no new one on a resumed connection (rs_tls.c under its current
   * key) refuses the next offer: the slot drops that session and keeps the
   * full handshake's new tickets, so never two full handshakes in a row. */
  int n_resumed = 0;
  bool last = true;
  for (int i = 0; i < 6; i++) {
    ASSERT_EQ(connect_one(cc, sc, "a.test", NULL, &slot, &resumed, err, sizeof(err), NULL, 0), RS_TLS_OK);
    if (!resumed && !last) TAP_FAIL("connections %d and %d both full handshakes", i + 1, i + 2);
    n_resumed += resumed;
    last = resumed;
    ASSERT(slot.sess != NULL);
  }
  ASSERT(n_resumed >= 3);
  ASSERT_EQ(connect_one(cc, sc, "a.test", NULL, &slot, &resumed, err, sizeof(err), NULL, 0), RS_TLS_OK);
  if (!resumed) ASSERT_EQ(connect_one(cc, sc, "a.test", NULL, &slot, &resumed, err, sizeof(err), NULL, 0), RS_TLS_OK);
  ASSERT(resumed);               /* the slot holds a session the server takes */
  /* A connection made before the slot went to another server stores nothing. */
  rs_tls_t *c = rs_tlsc_new(cc, "a.test", NULL, &slot);
  rs_tlsc_slot_reuse(&slot);
  ASSERT(slot.sess == NULL);
  rs_tls_t *s = rs_tls_new(sc);
  ASSERT_EQ(rs_tls_feed(c, NULL, 0), RS_TLS_OK);
  ASSERT_EQ(pump(c, s), RS_TLS_OK);
  char b[16];
  ASSERT_EQ(rs_tls_read(c, b, sizeof(b)), 0);   /* takes in the tickets */
  ASSERT(slot.sess == NULL);
  rs_tls_free(s);
  rs_tls_free(c);
  ASSERT_EQ(connect_one(cc, sc, "a.test", NULL, &slot, &resumed, err, sizeof(err), NULL, 0), RS_TLS_OK);
  ASSERT(!resumed);
  ASSERT(slot.sess != NULL);
  /* A failed handshake drops the session it offered. */
  ASSERT_EQ(connect_one(cc, sc, "b.test", NULL, &slot, &resumed, err, sizeof(err), NULL, 0), RS_TLS_ERROR);
  ASSERT(slot.sess == NULL);
  rs_tlsc_slot_clear(&slot);
  rs_tlsc_ctx_free(cc);
  rs_tls_ctx_free(sc);
}

static void test_bad_files(void) {
  char err[600], path[400];
  snprintf(path, sizeof(path), "%s/nope.pem", dir);
  rs_tlsc_opts_t o = { .ca = path };
  ASSERT(rs_tlsc_ctx_new(&o, err, sizeof(err)) == NULL);
  ASSERT(strncmp(err, path, strlen(path)) == 0 && strstr(err, "cannot load the CA file") != NULL);
  rs_tlsc_opts_t o2 = { .ca = crt, .cert = crt };
  ASSERT(rs_tlsc_ctx_new(&o2, err, sizeof(err)) == NULL);
  ASSERT_STR_EQ(err, "a client certificate needs both cert and key");
  rs_tlsc_opts_t o3 = { .ca = crt, .cert = crt, .key = path };
  ASSERT(rs_tlsc_ctx_new(&o3, err, sizeof(err)) == NULL);
  ASSERT(strstr(err, "cannot load the private key") != NULL);
  rs_tlsc_opts_t o4 = { .ca = crt, .cert = crt, .key = key };
  rs_tlsc_ctx_t *c = rs_tlsc_ctx_new(&o4, err, sizeof(err));
  ASSERT(c != NULL);
  rs_tlsc_ctx_free(c);
}

/* rs_tlsc_ctx_get: one context per (options, owner), counted. */
static void test_shared_contexts(void) {
  char err[600];
  static int a, b;
  rs_tlsc_opts_t o = { .ca = crt }, o2 = { .ca = crt, .no_verify = true };
  rs_tlsc_ctx_t *c1 = rs_tlsc_ctx_get(&o, &a, err, sizeof(err));
  rs_tlsc_ctx_t *c2 = rs_tlsc_ctx_get(&o, &a, err, sizeof(err));
  rs_tlsc_ctx_t *c3 = rs_tlsc_ctx_get(&o, &b, err, sizeof(err));
  rs_tlsc_ctx_t *c4 = rs_tlsc_ctx_get(&o2, &a, err, sizeof(err));
  ASSERT(c1 != NULL && c1 == c2);
  ASSERT(c3 != NULL && c3 != c1);   /* another owner (a reload): loaded again */
  ASSERT(c4 != NULL && c4 != c1);   /* other options */
  rs_tlsc_ctx_free(c1);
  rs_tlsc_ctx_t *c5 = rs_tlsc_ctx_get(&o, &a, err, sizeof(err));
  ASSERT(c5 == c2);                 /* still one use left: the same */
  rs_tlsc_ctx_free(c2);
  rs_tlsc_ctx_free(c5);
  rs_tlsc_ctx_free(c3);
  rs_tlsc_ctx_free(c4);
  char path[400];
  snprintf(path, sizeof(path), "%s/nope.pem", dir);
  rs_tlsc_opts_t bad = { .ca = path };
  ASSERT(rs_tlsc_ctx_get(&bad, &a, err, sizeof(err)) == NULL);
  ASSERT(strstr(err, "cannot load the CA file") != NULL);
}

int main(void) {
  if (mkdtemp(dir) == NULL) return 1;
  make_cert();
  RS_TEST(test_verification);
  RS_TEST(test_resumption);
  RS_TEST(test_bad_files);
  RS_TEST(test_shared_contexts);
  unlink(crt);
  unlink(key);
  rmdir(dir);
  RS_TEST_DONE();
}
