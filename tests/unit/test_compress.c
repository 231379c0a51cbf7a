/* tests/unit/test_compress.c — the compression filter's pieces without a socket
 * (core/http/rs_compress.c, core/base/rs_coding.c): media types, q-values,
 * the decision on a header block, and streamed gzip/br pieces that decode to
 * the original bytes, each piece decodable as it comes (flushed). The
 * filter over real sockets: tests/integration/test_compress.py. */
#include "rs_coding.h"
#include "rs_compress.h"
#include "tap.h"

#include <brotli/decode.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

static void test_types(void) {
  rs_compress_opts_t o;
  rs_compress_opts_default(&o);
  ASSERT(rs_compress_type_ok(&o, "text/html", 9));
  ASSERT(rs_compress_type_ok(&o, "TEXT/HTML; charset=utf-8", 24));
  ASSERT(rs_compress_type_ok(&o, "text/css;charset=utf-8", 22));
  ASSERT(rs_compress_type_ok(&o, "application/json", 16));
  ASSERT(!rs_compress_type_ok(&o, "image/png", 9));
  ASSERT(!rs_compress_type_ok(&o, "text/htmlx", 10));
  ASSERT(!rs_compress_type_ok(&o, "", 0));
  o.ntypes = 0;
  ASSERT(rs_compress_type_ok(&o, "text/html", 9));       /* always */
  ASSERT(!rs_compress_type_ok(&o, "text/css", 8));
  strcpy(o.types[o.ntypes++], "text/*");
  ASSERT(rs_compress_type_ok(&o, "text/css", 8));
  ASSERT(rs_compress_type_ok(&o, "Text/Plain; q", 13));
  ASSERT(!rs_compress_type_ok(&o, "textual/css", 11));
  ASSERT(!rs_compress_type_ok(&o, "application/text", 16));
  strcpy(o.types[o.ntypes++], "*");
  ASSERT(rs_compress_type_ok(&o, "image/png", 9));
}

static void test_accept_q(void) {
  int q[RS_ENC_MAX];
  rs_coding_accept_q(NULL, 0, q);
  ASSERT_EQ(q[RS_ENC_IDENTITY], 1000);
  ASSERT_EQ(q[RS_ENC_GZIP], 0);
  ASSERT_EQ(q[RS_ENC_BR], 0);
  const char *v = "gzip;q=0.8, br;q=0.5, identity;q=0";
  rs_coding_accept_q(v, strlen(v), q);
  ASSERT_EQ(q[RS_ENC_GZIP], 800);
  ASSERT_EQ(q[RS_ENC_BR], 500);
  ASSERT_EQ(q[RS_ENC_IDENTITY], 0);
  v = "*;q=0.3, gzip;q=0";
  rs_coding_accept_q(v, strlen(v), q);
  ASSERT_EQ(q[RS_ENC_GZIP], 0);
  ASSERT_EQ(q[RS_ENC_BR], 300);
  v = "br;q=2, gzip;q=1.0";      /* q=2 does not parse: ignored */
  rs_coding_accept_q(v, strlen(v), q);
  ASSERT_EQ(q[RS_ENC_BR], 0);
  ASSERT_EQ(q[RS_ENC_GZIP], 1000);
}

/* A request as the writer would hand it, with one Accept-Encoding. */
static void fake_req(rs_req_t *r, rs_header_t *h, const char *ae, const rs_compress_opts_t *o) {
  memset(r, 0, offsetof(rs_req_t, _head_inline));
  h->name = (rs_str_t){ "accept-encoding", 15 };
  h->value = (rs_str_t){ ae, strlen(ae) };
  r->headers = h;
  r->nheaders = 1;
  r->compress = o;
}

static char *page(size_t *n) {
  rs_buf_t b = { 0 };
  for (int i = 0; i < 3000; i++) rs_buf_printf(&b, "<li>row %d, a line of the page</li>\n", i);
  *n = b.len;
  return b.p;
}

static void test_stream_gzip(void) {
  rs_compress_opts_t o;
  rs_compress_opts_default(&o);
  rs_req_t *r = calloc(1, sizeof(*r));
  rs_header_t h;
  fake_req(r, &h, "gzip", &o);
  const char *hb = "Content-Type: text/html\r\nETag: \"x1\"\r\n";
  size_t hl = strlen(hb);
  int64_t cl = 123456;
  ASSERT(rs_compress_stream_start(r, 200, &hb, &hl, &cl));
  ASSERT_EQ(cl, -1);
  ASSERT(strstr(hb, "Content-Encoding: gzip\r\n") != NULL);
  ASSERT(strstr(hb, "Vary: Accept-Encoding\r\n") != NULL);
  ASSERT(strstr(hb, "ETag: W/\"x1\"\r\n") != NULL);

  size_t n;
  char *in = page(&n);
  z_stream zs;
  memset(&zs, 0, sizeof(zs));
  ASSERT_EQ(inflateInit2(&zs, 16 + 15), Z_OK);
  char *out = malloc(n + 1);
  size_t got = 0;
  for (size_t off = 0; off <= n; off += 7000) {
    bool fin = off + 7000 > n;
    size_t k = fin ? n - off : 7000;
    const char *p;
    size_t pl;
    ASSERT_EQ(rs_compress_stream(r, in + off, k, fin, &p, &pl), 0);
    zs.next_in = (Bytef *)p;
    zs.avail_in = (uInt)pl;
    zs.next_out = (Bytef *)out + got;
    zs.avail_out = (uInt)(n + 1 - got);
    int rc = inflate(&zs, Z_SYNC_FLUSH);
    ASSERT(rc == Z_OK || rc == Z_STREAM_END || rc == Z_BUF_ERROR);
    got = zs.total_out;
    ASSERT_EQ(got, off + k);     /* every piece decodes as it comes */
    if (fin) ASSERT_EQ(rc, Z_STREAM_END);
    if (fin) break;
  }
  ASSERT_MEM_EQ(out, got, in, n);
  inflateEnd(&zs);
  rs_compress_req_free(r);
  free(out);
  free(in);
  free(r);
}

static void test_stream_br(void) {
  rs_compress_opts_t o;
  rs_compress_opts_default(&o);
  rs_req_t *r = calloc(1, sizeof(*r));
  rs_header_t h;
  fake_req(r, &h, "gzip, br", &o);
  const char *hb = "content-type: text/plain\r\n";
  size_t hl = strlen(hb);
  int64_t cl = -1;
  ASSERT(rs_compress_stream_start(r, 200, &hb, &hl, &cl));
  ASSERT(strstr(hb, "Content-Encoding: br\r\n") != NULL);
  size_t n;
  char *in = page(&n);
  BrotliDecoderState *d = BrotliDecoderCreateInstance(NULL, NULL, NULL);
  char *out = malloc(n + 1);
  size_t got = 0;
  for (size_t off = 0;; off += 5000) {
    bool fin = off + 5000 >= n;
    size_t k = fin ? n - off : 5000;
    const char *p;
    size_t pl;
    ASSERT_EQ(rs_compress_stream(r, in + off, k, fin, &p, &pl), 0);
    const uint8_t *ip = (const uint8_t *)p;
    uint8_t *op = (uint8_t *)out + got;
    size_t ai = pl, ao = n + 1 - got;
    BrotliDecoderResult res = BrotliDecoderDecompressStream(d, &ai, &ip, &ao, &op, NULL);
    ASSERT(res != BROTLI_DECODER_RESULT_ERROR);
    got = (size_t)((char *)op - out);
    ASSERT_EQ(got, off + k);
    if (fin) {
      ASSERT_EQ(res, BROTLI_DECODER_RESULT_SUCCESS);
      break;
    }
  }
  ASSERT_MEM_EQ(out, got, in, n);
  BrotliDecoderDestroyInstance(d);
  rs_compress_req_free(r);
  free(out);
  free(in);
  free(r);
}

static void test_not_eligible(void) {
  rs_compress_opts_t o;
  rs_compress_opts_default(&o);
  rs_req_t *r = calloc(1, sizeof(*r));
  rs_header_t h;
  fake_req(r, &h, "gzip, br", &o);
  static const struct { int status; const char *headers; int64_t len; } cases[] = {
    { 200, "Content-Type: text/html\r\nContent-Encoding: gzip\r\n", -1 },
    { 206, "Content-Type: text/html\r\n", -1 },
    { 304, "Content-Type: text/html\r\n", -1 },
    { 204, "Content-Type: text/html\r\n", -1 },
    { 200, "Content-Type: text/html\r\nContent-Range: bytes 0-1/2\r\n", -1 },
    { 200, "Content-Type: image/png\r\n", -1 },
    { 200, "X-No-Type: 1\r\n", -1 },
    { 200, "Content-Type: text/html\r\n", 100 },
    { 200, "Content-Type: text/html\r\nCache-Control: no-cache, No-Transform\r\n", -1 },
  };
  for (size_t i = 0; i < RS_ARRAY_SIZE(cases); i++) {
    const char *hb = cases[i].headers;
    size_t hl = strlen(hb);
    int64_t cl = cases[i].len;
    if (rs_compress_stream_start(r, cases[i].status, &hb, &hl, &cl)) TAP_FAIL("case %zu was coded", i);
    ASSERT(strstr(hb, "Vary") == NULL);
    ASSERT_EQ(cl, cases[i].len);
  }
  /* Eligible but not accepted: Vary only, the body as it is. */
  fake_req(r, &h, "deflate", &o);
  const char *hb = "Content-Type: text/html\r\nVary: Cookie\r\n";
  size_t hl = strlen(hb);
  int64_t cl = 5000;
  ASSERT(!rs_compress_stream_start(r, 200, &hb, &hl, &cl));
  ASSERT(strstr(hb, "Vary: Cookie\r\nVary: Accept-Encoding\r\n") != NULL);
  ASSERT_EQ(cl, 5000);
  const char *p;
  size_t pl;
  ASSERT_EQ(rs_compress_stream(r, "abc", 3, false, &p, &pl), 0);
  ASSERT_MEM_EQ(p, pl, "abc", 3);
  rs_compress_req_free(r);
  /* Vary that already names it is not repeated. */
  hb = "Content-Type: text/html\r\nVary: accept-encoding, Cookie\r\n";
  hl = strlen(hb);
  ASSERT(!rs_compress_stream_start(r, 200, &hb, &hl, &cl));
  ASSERT_STR_EQ(hb, "Content-Type: text/html\r\nVary: accept-encoding, Cookie\r\n");
  rs_compress_req_free(r);
  free(r);
}

int main(void) {
  RS_TEST(test_types);
  RS_TEST(test_accept_q);
  RS_TEST(test_stream_gzip);
  RS_TEST(test_stream_br);
  RS_TEST(test_not_eligible);
  RS_TEST_DONE();
}
