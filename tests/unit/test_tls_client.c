/* tests/unit/test_tls_client.c — core/tls/rs_tls_client.c (the upstream
 * side) against the listeners' core/tls/rs_tls.c, both in memory (the
 * bytes each side writes are fed to the other): a trusted certificate by
 * DNS name and by IP, a wrong name or IP refused with the verification
 * error, the system store not trusting a self-signed certificate,
 * verify = false accepting it, SNI sent (the host, or the one given, none
 * for an IP), plaintext both ways, resumption from the slot and none once
 * the slot went to another server, files that do not load named in the
 * error. Then the one write path both sides use on a libuv stream
 * (rs_tls_send.h), over a socketpair: pieces gathered into full records,
 * a write the socket takes at once (no callback), one it takes in part (the
 * rest queued, the callback after it, the bytes intact and in order), one
 * cancelled by a close (its callback with UV_ECANCELED; LeakSanitizer sees
 * its chunks given back), a peer gone (the error returned, or given to the
 * callback), close_notify as the last words. */
#include "tap.h"

#include "rs_tls.h"
#include "rs_tls_client.h"
#include "rs_tls_send.h"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <signal.h>
#include <sys/socket.h>
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

/* ---------------------------------------------------------------- rs_tls_send */

/* A client (the sender, as an upstream connection) and a server in memory,
 * their handshake done; then the client's ciphertext goes over a
 * socketpair: out is the client's end, in the server's, read into got. */
typedef struct {
  uv_loop_t loop;
  uv_pipe_t out, in;
  rs_tls_t *c, *s;
  char *got;
  size_t ngot, cap;
  bool closed;                   /* close_notify read */
  int cbs, status;               /* the writer's callbacks: how many, the last one's status */
  uv_write_t req;
} io_t;

static bool io_open(io_t *io, rs_tlsc_ctx_t *cc, rs_tls_ctx_t *sc, int sndbuf) {
  memset(io, 0, sizeof(*io));
  int fd[2];
  if (socketpair(AF_UNIX, SOCK_STREAM, 0, fd) != 0) return false;
  if (sndbuf > 0) {
    setsockopt(fd[0], SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));
    setsockopt(fd[1], SOL_SOCKET, SO_RCVBUF, &sndbuf, sizeof(sndbuf));
  }
  uv_loop_init(&io->loop);
  uv_pipe_init(&io->loop, &io->out, 0);
  uv_pipe_init(&io->loop, &io->in, 0);
  uv_pipe_open(&io->out, fd[0]);
  uv_pipe_open(&io->in, fd[1]);
  io->out.data = io->in.data = io->req.data = io;
  io->c = rs_tlsc_new(cc, "a.test", NULL, NULL);
  io->s = rs_tls_new(sc);
  return rs_tls_feed(io->c, NULL, 0) == RS_TLS_OK && pump(io->c, io->s) == RS_TLS_OK;
}

static void io_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
  (void)h, (void)suggested;
  static char b[65536];
  *buf = uv_buf_init(b, sizeof(b));
}

static void io_read(uv_stream_t *st, ssize_t n, const uv_buf_t *buf) {
  io_t *io = st->data;
  if (n <= 0) return;
  if (rs_tls_feed(io->s, buf->base, (size_t)n) != RS_TLS_OK) return;
  for (;;) {
    if (io->cap - io->ngot < 65536) io->got = rs_xrealloc(io->got, io->cap = io->cap * 2 + 65536);
    ssize_t r = rs_tls_read(io->s, io->got + io->ngot, io->cap - io->ngot);
    if (r == RS_TLS_CLOSED) io->closed = true;
    if (r <= 0) break;
    io->ngot += (size_t)r;
  }
}

static void io_written(uv_write_t *w, int status) {
  io_t *io = w->data;
  io->cbs++;
  io->status = status;
}

/* Run the loop until *flag reaches want (10 s at most). */
static bool io_until(io_t *io, const int *flag, int want) {
  uint64_t end = uv_hrtime() + 10000000000ull;
  while (*flag < want && uv_hrtime() < end) uv_run(&io->loop, UV_RUN_NOWAIT);
  return *flag >= want;
}

static bool io_until_got(io_t *io, size_t n) {
  uint64_t end = uv_hrtime() + 10000000000ull;
  while (io->ngot < n && uv_hrtime() < end) uv_run(&io->loop, UV_RUN_NOWAIT);
  return io->ngot >= n;
}

static void io_close(io_t *io) {
  if (!uv_is_closing((uv_handle_t *)&io->out)) uv_close((uv_handle_t *)&io->out, NULL);
  if (!uv_is_closing((uv_handle_t *)&io->in)) uv_close((uv_handle_t *)&io->in, NULL);
  uv_run(&io->loop, UV_RUN_DEFAULT);
  uv_loop_close(&io->loop);
  rs_tls_free(io->c);
  rs_tls_free(io->s);
  free(io->got);
}

/* n bytes of a pattern (never the same at two offsets a record apart). */
static char *pattern(size_t n) {
  char *p = rs_xmalloc(n);
  for (size_t i = 0; i < n; i++) p[i] = (char)((i * 131 + i / 16411) & 0xff);
  return p;
}

static void test_send(void) {
  signal(SIGPIPE, SIG_IGN);
  rs_tls_ctx_t *sc = server();
  rs_tlsc_ctx_t *cc = client(crt, false);
  ASSERT(sc && cc);
  io_t io;
  ASSERT(io_open(&io, cc, sc, 0));
  uv_read_start((uv_stream_t *)&io.in, io_alloc, io_read);

  /* 100 pieces of 100 bytes: one record (22 bytes of TLS 1.3 overhead), not 100 */
  char piece[100];
  uv_buf_t bufs[100];
  memset(piece, 'p', sizeof(piece));
  for (int i = 0; i < 100; i++) bufs[i] = uv_buf_init(piece, sizeof(piece));
  ASSERT_EQ(rs_tls_write_bufs(io.c, bufs, 100), 0);
  ASSERT_EQ(rs_tls_pending(io.c), 10000 + 22);
  /* small: the socket takes it at once, the callback never runs */
  bool sent = false;
  ASSERT_EQ(rs_tls_send(io.c, (uv_stream_t *)&io.out, true, &io.req, io_written, &sent), 0);
  ASSERT(sent);
  ASSERT_EQ(rs_tls_pending(io.c), 0);
  ASSERT(io_until_got(&io, 10000));
  ASSERT_EQ(io.ngot, 10000);
  ASSERT_EQ(io.cbs, 0);
  /* nothing made, no callback: nothing to do */
  ASSERT_EQ(rs_tls_send(io.c, (uv_stream_t *)&io.out, true, NULL, NULL, NULL), 0);
  io_close(&io);

  /* 4 MB through small socket buffers: part at once, the rest queued, the
   * callback once it is all out; intact, in order */
  size_t n = 4 << 20;
  char *big = pattern(n);
  ASSERT(io_open(&io, cc, sc, 64 * 1024));
  uv_buf_t b = uv_buf_init(big, (unsigned)n);
  ASSERT_EQ(rs_tls_write_bufs(io.c, &b, 1), 0);
  ASSERT_EQ(rs_tls_send(io.c, (uv_stream_t *)&io.out, true, &io.req, io_written, &sent), 0);
  ASSERT(!sent);
  ASSERT(uv_stream_get_write_queue_size((uv_stream_t *)&io.out) > 0);
  ASSERT_EQ(io.cbs, 0);
  uv_read_start((uv_stream_t *)&io.in, io_alloc, io_read);
  ASSERT(io_until(&io, &io.cbs, 1));
  ASSERT_EQ(io.status, 0);
  ASSERT(io_until_got(&io, n));
  ASSERT_EQ(io.ngot, n);
  ASSERT(memcmp(io.got, big, n) == 0);
  /* the engine's own bytes after it (no callback): tried at once too */
  rs_tls_shutdown(io.c);
  rs_tls_send_last(io.c, (uv_stream_t *)&io.out);
  ASSERT_EQ(rs_tls_pending(io.c), 0);
  uint64_t end = uv_hrtime() + 10000000000ull;
  while (!io.closed && uv_hrtime() < end) uv_run(&io.loop, UV_RUN_NOWAIT);
  ASSERT(io.closed);
  io_close(&io);

  /* queued, then the stream closes: the callback says UV_ECANCELED, the
   * chunks go back (else LeakSanitizer reports them) */
  ASSERT(io_open(&io, cc, sc, 64 * 1024));
  ASSERT_EQ(rs_tls_write_bufs(io.c, &b, 1), 0);
  ASSERT_EQ(rs_tls_send(io.c, (uv_stream_t *)&io.out, false, &io.req, io_written, NULL), 0);
  ASSERT(uv_stream_get_write_queue_size((uv_stream_t *)&io.out) > 0);
  /* close_notify cannot go ahead of the queued bytes: dropped */
  rs_tls_shutdown(io.c);
  rs_tls_send_last(io.c, (uv_stream_t *)&io.out);
  ASSERT_EQ(rs_tls_pending(io.c), 0);
  uv_close((uv_handle_t *)&io.out, NULL);
  ASSERT(io_until(&io, &io.cbs, 1));
  ASSERT_EQ(io.status, UV_ECANCELED);
  io_close(&io);

  /* the peer gone: with no callback the error comes back; with one, the
   * callback gets it */
  ASSERT(io_open(&io, cc, sc, 0));
  uv_close((uv_handle_t *)&io.in, NULL);
  uv_run(&io.loop, UV_RUN_NOWAIT);
  ASSERT_EQ(rs_tls_write_bufs(io.c, bufs, 1), 0);
  ASSERT_EQ(rs_tls_send(io.c, (uv_stream_t *)&io.out, true, NULL, NULL, NULL), UV_EPIPE);
  ASSERT_EQ(rs_tls_pending(io.c), 0);
  ASSERT_EQ(rs_tls_write_bufs(io.c, bufs, 1), 0);
  ASSERT_EQ(rs_tls_send(io.c, (uv_stream_t *)&io.out, true, &io.req, io_written, &sent), 0);
  ASSERT(!sent);
  ASSERT(io_until(&io, &io.cbs, 1));
  ASSERT_EQ(io.status, UV_EPIPE);
  io_close(&io);

  free(big);
  rs_tlsc_ctx_free(cc);
  rs_tls_ctx_free(sc);
  rs_tls_thread_dispose();
}

int main(void) {
  if (mkdtemp(dir) == NULL) return 1;
  make_cert();
  RS_TEST(test_verification);
  RS_TEST(test_resumption);
  RS_TEST(test_bad_files);
  RS_TEST(test_shared_contexts);
  RS_TEST(test_send);
  unlink(crt);
  unlink(key);
  rmdir(dir);
  RS_TEST_DONE();
}
