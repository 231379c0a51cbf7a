/* tests/unit/test_http.c — the HTTP grammar checks of core/base/rs_http.c, from
 * the inside: the Host validator/normaliser, the path normaliser, the
 * percent-encoder, and the framing scan (golden traces: bytes in, the
 * verdict and where it stopped out, whole and fed byte by byte). Over
 * sockets: tests/integration/test_hostile_http.py. */
#include "../../core/base/rs_http.c"

#include "tap.h"

static void test_host(void) {
  static const struct {
    const char *in;
    const char *out;             /* NULL: refused */
  } cases[] = {
    { "example.com", "example.com" },
    { "Example.COM", "example.com" },
    { "example.com.", "example.com" },
    { "Example.com.:8080", "example.com:8080" },
    { "a:", "a" },
    { "a:0", "a:0" },
    { "a:65535", "a:65535" },
    { "127.0.0.1:80", "127.0.0.1:80" },
    { "[::1]", "[::1]" },
    { "[::1]:8080", "[::1]:8080" },
    { "[2001:DB8::1]", "[2001:db8::1]" },
    { "[::ffff:1.2.3.4]", "[::ffff:1.2.3.4]" },
    { "my_host-1.example~x", "my_host-1.example~x" },
    { "localhost", "localhost" },
    /* refused */
    { "", NULL },
    { ":80", NULL },
    { "victim.example/catalog", NULL },
    { "a b", NULL },
    { "a, b", NULL },
    { "a,b", NULL },
    { "a@b", NULL },
    { "a:b", NULL },
    { "a:-1", NULL },
    { "a:65536", NULL },
    { "a:123456", NULL },
    { "a:80:80", NULL },
    { "a..b", NULL },
    { ".a", NULL },
    { ".", NULL },
    { "a\\b", NULL },
    { "a%2fb", NULL },
    { "a;b", NULL },
    { "a\tb", NULL },
    { "[::1", NULL },
    { "[]", NULL },
    { "[zz]", NULL },
    { "[::1]x", NULL },
    { "[::1]:x", NULL },
    { "[v1.fe]", NULL },
    { "[fe80::1%25eth0]", NULL },
    { "\xc3\xa9.example", NULL },
  };
  for (size_t i = 0; i < RS_ARRAY_SIZE(cases); i++) {
    char buf[128];
    size_t n = strlen(cases[i].in);
    memcpy(buf, cases[i].in, n);
    const char *why = rs_http_host_normalize(buf, &n);
    if (cases[i].out == NULL) {
      if (why == NULL) TAP_FAIL("\"%s\": accepted as \"%.*s\"", cases[i].in, (int)n, buf);
      continue;
    }
    if (why != NULL) {
      TAP_FAIL("\"%s\": refused: %s", cases[i].in, why);
      continue;
    }
    ASSERT_MEM_EQ(buf, n, cases[i].out, strlen(cases[i].out));
  }
}

static void test_path(void) {
  static const struct {
    const char *in;
    const char *out;             /* NULL: refused */
  } cases[] = {
    { "/", "/" },
    { "/a/b", "/a/b" },
    { "/a/b/", "/a/b/" },
    { "//a///b", "/a/b" },
    { "/a/./b/.", "/a/b/" },
    { "/a/../b", "/b" },
    { "/a/b/..", "/a/" },
    { "/a/b/../..", "/" },
    { "/./", "/" },
    { "/...", "/..." },
    { "/..a/a..", "/..a/a.." },
    { "/%73ecret/x", "/secret/x" },
    { "/secret%2Fx", "/secret/x" },
    { "/secret%2fx", "/secret/x" },
    { "/a/%2e%2e/secret", "/secret" },
    { "/a/%2E./x", "/x" },
    { "/a%2F..%2Fb", "/b" },
    { "/x/..%2fsecret/y", "/secret/y" },
    { "/%252e%252e", "/%252e%252e" },      /* a literal "%2e%2e" */
    { "/a+b%20c", "/a+b%20c" },
    { "/a b\"<>`{}|^[]\\", "/a%20b%22%3C%3E%60%7B%7D|^[]\\" },
    { "/%7e%7Euser%2D%41", "/~~user-A" },          /* unreserved: as themselves */
    { "/%3a%40%21%24%26%27%28%29%2A%2B%2C%3B%3D", "/:@!$&'()*+,;=" },
    { "/caf%C3%A9", "/caf%C3%A9" },
    { "/caf%c3%a9", "/caf%C3%A9" },
    { "/caf\xc3\xa9", "/caf%C3%A9" },
    { "/%c0%ae%c0%ae", "/%C0%AE%C0%AE" },   /* just bytes, not "." */
    { "/a%3Fb", "/a%3Fb" },
    { "/a%23b%25c", "/a%23b%25c" },
    /* refused */
    { "", NULL },
    { "a", NULL },
    { "/..", NULL },
    { "/../x", NULL },
    { "/a/../..", NULL },
    { "/a/../../x", NULL },
    { "/%2e%2e", NULL },
    { "/%2e%2e%2fx", NULL },
    { "/%00", NULL },
    { "/a%00b", NULL },
    { "/%0d%0aX:%20y", NULL },
    { "/%0a", NULL },
    { "/%09", NULL },
    { "/%7f", NULL },
    { "/a\x01", NULL },
    { "/%", NULL },
    { "/%4", NULL },
    { "/a%", NULL },
    { "/%zz", NULL },
    { "/%g1", NULL },
    { "/%1g", NULL },
  };
  for (size_t i = 0; i < RS_ARRAY_SIZE(cases); i++) {
    char out[384];
    size_t n = 99;
    const char *why = rs_http_path_normalize(cases[i].in, strlen(cases[i].in), out, &n);
    if (cases[i].out == NULL) {
      if (why == NULL) TAP_FAIL("\"%s\": accepted as \"%.*s\"", cases[i].in, (int)n, out);
      continue;
    }
    if (why != NULL) {
      TAP_FAIL("\"%s\": refused: %s", cases[i].in, why);
      continue;
    }
    ASSERT_MEM_EQ(out, n, cases[i].out, strlen(cases[i].out));
  }
}

/* Scan in one piece, then byte by byte: the same verdict and the same stop. */
static void check_scan(bool chunked, const char *in, size_t n, int want, size_t want_used) {
  rs_http_scan_t s;
  size_t used = 0;
  if (chunked) rs_http_scan_chunked(&s); else rs_http_scan_head(&s);
  int rc = rs_http_scan(&s, in, n, &used);
  if (rc != want || used != want_used)
    TAP_FAIL("%s %.*s: rc %d at %zu, expected %d at %zu (%s)", chunked ? "chunked" : "head",
             (int)(n < 40 ? n : 40), in, rc, used, want, want_used, s.why ? s.why : "-");
  if (chunked) rs_http_scan_chunked(&s); else rs_http_scan_head(&s);
  size_t at = 0;
  rc = RS_HTTP_SCAN_MORE;
  for (size_t i = 0; i < n && rc == RS_HTTP_SCAN_MORE; i++) {
    rc = rs_http_scan(&s, in + i, 1, &used);
    at = i + used;
  }
  if (rc == RS_HTTP_SCAN_MORE) at = n;
  if (rc != want || at != want_used)
    TAP_FAIL("bytewise %s %.*s: rc %d at %zu, expected %d at %zu", chunked ? "chunked" : "head",
             (int)(n < 40 ? n : 40), in, rc, at, want, want_used);
}

#define HEAD(lit, rc, used) check_scan(false, lit, sizeof(lit) - 1, rc, used)
#define CHUNKED(lit, rc, used) check_scan(true, lit, sizeof(lit) - 1, rc, used)

static void test_scan(void) {
  enum { MORE = RS_HTTP_SCAN_MORE, DONE = RS_HTTP_SCAN_DONE, BAD = RS_HTTP_SCAN_BAD,
         FOLD = RS_HTTP_SCAN_FOLD, LONG = RS_HTTP_SCAN_LONG };
  /* heads that end, and stop right after the empty line */
  HEAD("GET / HTTP/1.1\r\nHost: a\r\n\r\nGET /next", DONE, 27);
  HEAD("\r\nGET / HTTP/1.1\r\n\r\n", DONE, 20);
  HEAD("GET /caf\xc3\xa9 HTTP/1.1\r\nX: \tv\x80 w\t\r\nY:\r\n\r\n", DONE, 38);
  HEAD("GET / HTTP/1.1\r\nHost: a\r\n", MORE, 25);
  HEAD("GET / HTTP/1.1\r\nHost: a\r\n\r", MORE, 26);
  /* CR not followed by LF, bare LF */
  HEAD("GET / HTTP/1.1\r\nHost: a\r\n\rXGET", BAD, 26);
  HEAD("GET / HTTP/1.1\r\nHost: a\r\n\r\r\n", BAD, 26);
  HEAD("GET / HTTP/1.1\rHost: a\r\n\r\n", BAD, 15);
  HEAD("GET / HTTP/1.1\r\nX: a\rb\r\n\r\n", BAD, 21);
  HEAD("GET / HTTP/1.1\nHost: a\r\n\r\n", BAD, 14);
  HEAD("GET / HTTP/1.1\r\nHost: a\n\r\n", BAD, 23);
  HEAD("GET / HTTP/1.1\r\nHost: a\r\n\n", BAD, 25);
  HEAD("\nGET / HTTP/1.1\r\n\r\n", BAD, 0);
  HEAD("\r\x00", BAD, 1);
  HEAD("\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\nGET", BAD, 17);
  /* names */
  HEAD("GET / HTTP/1.1\r\n: a\r\n\r\n", BAD, 16);
  HEAD("GET / HTTP/1.1\r\nHost : a\r\n\r\n", BAD, 20);
  HEAD("GET / HTTP/1.1\r\nX(y): a\r\n\r\n", BAD, 17);
  HEAD("GET / HTTP/1.1\r\nNoColon\r\n\r\n", BAD, 23);
  /* folds, control bytes */
  HEAD("GET / HTTP/1.1\r\nX: a\r\n b\r\n\r\n", FOLD, 22);
  HEAD("GET / HTTP/1.1\r\n\tX: a\r\n\r\n", FOLD, 16);
  HEAD("GET / HTTP/1.1\r\nX: a\x01\r\n\r\n", BAD, 20);
  HEAD("GET / HTTP/1.1\r\nX: a\x7f\r\n\r\n", BAD, 20);
  HEAD("GET\t/ HTTP/1.1\r\n\r\n", BAD, 3);
  HEAD("GET /\x00 HTTP/1.1\r\n\r\n", BAD, 5);

  /* chunked bodies */
  CHUNKED("5\r\nhello\r\n0\r\n\r\nGET", DONE, 15);
  CHUNKED("A;x=y\r\n0123456789\r\n0\r\nT: v\r\n\r\n", DONE, 30);
  CHUNKED("5\r\nhel", MORE, 6);
  CHUNKED("5\rXhello\r\n0\r\n\r\n", BAD, 2);
  CHUNKED("5\nhello\r\n0\r\n\r\n", BAD, 1);
  CHUNKED("5\r\nhelloXX0\r\n\r\n", BAD, 8);
  CHUNKED("5\r\nhello\rX0\r\n\r\n", BAD, 9);
  CHUNKED("5\r\nhello\n", BAD, 8);
  CHUNKED(";x\r\n", BAD, 0);
  CHUNKED("\r\n", BAD, 0);
  CHUNKED("zz\r\n", BAD, 0);
  CHUNKED("5;a\x01\r\n", BAD, 3);
  CHUNKED("0\r\n\rX", BAD, 4);
  CHUNKED("0\r\nT: x\r\n\rX", BAD, 10);
  CHUNKED("0\r\nT: x\n", BAD, 7);
  CHUNKED("0\r\n: x\r\n\r\n", BAD, 3);
  CHUNKED("0\r\n x\r\n\r\n", FOLD, 3);
  CHUNKED("10000000000000000\r\n", BAD, 16);
  /* a chunk-size line is at most 16 KB */
  static char line[RS_HTTP_CHUNK_LINE_MAX + 8];
  memset(line, 'e', sizeof(line));
  line[0] = '5';
  line[1] = ';';
  memcpy(line + RS_HTTP_CHUNK_LINE_MAX - 2, "\r\n", 2);    /* 16 KB with its CRLF */
  check_scan(true, line, RS_HTTP_CHUNK_LINE_MAX, MORE, RS_HTTP_CHUNK_LINE_MAX);
  memcpy(line + RS_HTTP_CHUNK_LINE_MAX - 2, "ee\r\n", 4);  /* one byte more */
  check_scan(true, line, RS_HTTP_CHUNK_LINE_MAX + 2, LONG, RS_HTTP_CHUNK_LINE_MAX);
}

/* The query iterator as golden traces: each piece as "name|value" ("name"
 * alone without '='), joined with spaces. */
static void check_query(const char *q, const char *want) {
  char got[512] = "";
  size_t pos = 0, k = 0;
  rs_query_param_t qp;
  while (rs_query_next(q, q != NULL ? strlen(q) : 0, &pos, &qp)) {
    k += (size_t)snprintf(got + k, sizeof(got) - k, "%s%.*s", k ? " " : "", (int)qp.name.len, qp.name.p);
    if (qp.has_eq) k += (size_t)snprintf(got + k, sizeof(got) - k, "|%.*s", (int)qp.value.len, qp.value.p);
    /* the piece is name, '=', value, as sent */
    if (qp.piece.p != qp.name.p || qp.piece.len != qp.name.len + qp.has_eq + qp.value.len)
      TAP_FAIL("%s: piece %.*s is not name=value", q, (int)qp.piece.len, qp.piece.p);
    if (qp.piece.len == 0) TAP_FAIL("%s: an empty piece", q);
  }
  if (strcmp(got, want) != 0) TAP_FAIL("query \"%s\": got \"%s\", want \"%s\"", q ? q : "(null)", got, want);
}

static void test_query(void) {
  check_query(NULL, "");
  check_query("", "");
  check_query("a=1", "a|1");
  check_query("a=1&b=2", "a|1 b|2");
  check_query("a", "a");
  check_query("a=", "a|");
  check_query("=v", "|v");
  check_query("a=1=2", "a|1=2");                    /* the first '=' splits */
  check_query("&&a=1&&&b&", "a|1 b");               /* empty pieces skip */
  check_query("&", "");
  check_query("a%26b=c%3Dd&x+y=1", "a%26b|c%3Dd x+y|1");   /* raw: not decoded */
  check_query("a=1;b=2", "a|1;b=2");                /* ';' separates nothing */
  check_query("a=1&a=2&a", "a|1 a|2 a");           /* repeats kept, in order */
  /* pos resumes where it stopped */
  const char *q = "x=1&y=2";
  size_t pos = 0;
  rs_query_param_t qp;
  ASSERT(rs_query_next(q, 7, &pos, &qp));
  ASSERT_EQ(pos, 4);
  ASSERT(rs_query_next(q, 7, &pos, &qp));
  ASSERT_EQ(pos, 7);
  ASSERT(qp.value.len == 1 && qp.value.p[0] == '2');
  ASSERT(!rs_query_next(q, 7, &pos, &qp));
  /* a length shorter than the string: nothing past it */
  pos = 0;
  ASSERT(rs_query_next(q, 2, &pos, &qp));
  ASSERT(qp.has_eq && qp.name.len == 1 && qp.value.len == 0);
  ASSERT(!rs_query_next(q, 2, &pos, &qp));
}

static void test_token_value(void) {
  ASSERT(rs_http_token("X-Request-Id", 12));
  ASSERT(rs_http_token("!#$%&'*+-.^_`|~09azAZ", 21));
  ASSERT(!rs_http_token("", 0));
  ASSERT(!rs_http_token("Bad Name", 8));
  ASSERT(!rs_http_token("a:b", 3));
  static const char seps[] = "()<>@,;:\\\"/[]?={} \t";
  for (const char *p = seps; *p; p++) {
    ASSERT(!rs_http_tchar((unsigned char)*p));
    ASSERT(!rs_http_token(p, 1));
  }
  for (int c = 0; c < 256; c++) {              /* tchar is visible ASCII minus the separators */
    bool visible = c > 0x20 && c < 0x7f && strchr(seps, c) == NULL;
    if (rs_http_tchar((unsigned char)c) != visible) TAP_FAIL("tchar 0x%02x", c);
  }
  ASSERT(!rs_http_token("a\0b", 3));          /* a NUL inside ends nothing early */
  ASSERT_EQ(rs_http_value_check("text/html; q=1", 14), RS_HTTP_VALUE_OK);
  ASSERT_EQ(rs_http_value_check("a\tb \x80\xff", 6), RS_HTTP_VALUE_OK);   /* HTAB, obs-text */
  ASSERT_EQ(rs_http_value_check("", 0), RS_HTTP_VALUE_OK);
  ASSERT_EQ(rs_http_value_check("a\r\nX: y", 8), RS_HTTP_VALUE_CRLF);
  ASSERT_EQ(rs_http_value_check("a\nb", 3), RS_HTTP_VALUE_CRLF);
  ASSERT_EQ(rs_http_value_check("a\0b\r", 4), RS_HTTP_VALUE_CRLF);   /* CR/LF first, past a NUL */
  ASSERT_EQ(rs_http_value_check("a\0b", 3), RS_HTTP_VALUE_NUL);
  ASSERT_EQ(rs_http_value_check("a\x01", 2), RS_HTTP_VALUE_CTL);
  ASSERT_EQ(rs_http_value_check("a\x7f", 2), RS_HTTP_VALUE_CTL);
}

static void test_hop_by_hop(void) {
  static const char *const hop[] = { "Connection", "keep-alive", "PROXY-CONNECTION", "TE", "Trailer",
                                     "transfer-encoding", "Upgrade" };
  for (size_t i = 0; i < RS_ARRAY_SIZE(hop); i++) ASSERT(rs_http_hop_by_hop(hop[i], strlen(hop[i])));
  static const char *const end[] = { "content-length", "host", "tes", "t", "connections", "date", "" };
  for (size_t i = 0; i < RS_ARRAY_SIZE(end); i++) ASSERT(!rs_http_hop_by_hop(end[i], strlen(end[i])));
  rs_str_t conn[] = { RS_STR("keep-alive, X-Secret"), RS_STR(" ,,x-other ,close") };
  ASSERT(rs_http_conn_lists(conn, 2, "x-secret", 8));
  ASSERT(rs_http_conn_lists(conn, 2, "X-OTHER", 7));
  ASSERT(rs_http_conn_lists(conn, 2, "close", 5));
  ASSERT(!rs_http_conn_lists(conn, 2, "x-sec", 5));   /* whole tokens only */
  ASSERT(!rs_http_conn_lists(conn, 1, "x-other", 7));
  ASSERT(!rs_http_conn_lists(conn, 0, "close", 5));
}

int main(void) {
  RS_TEST(test_host);
  RS_TEST(test_path);
  RS_TEST(test_scan);
  RS_TEST(test_query);
  RS_TEST(test_token_value);
  RS_TEST(test_hop_by_hop);
  RS_TEST_DONE();
}
