/* tests/unit/test_static.c — the static action's parsers, from the inside:
 * the request path to file segments (every escape attempt), Range, HTTP
 * dates, If-None-Match, Content-Type, and the openat walk refusing
 * symlinks. Over sockets: tests/integration/test_static.py. */
#include "../../core/gateway/rs_static.c"

#include <limits.h>
#include <sys/stat.h>

#include "tap.h"

/* Segments joined with '/' for comparison ("" when none). */
static const char *joined(const char *segs, size_t nseg, char *buf) {
  size_t o = 0;
  for (size_t i = 0; i < nseg; i++) {
    size_t n = strlen(segs);
    if (i) buf[o++] = '/';
    memcpy(buf + o, segs, n);
    o += n;
    segs += n + 1;
  }
  buf[o] = '\0';
  return buf;
}

static void test_path(void) {
  static const struct {
    const char *in;
    int status;
    const char *out;
    bool dir;
  } cases[] = {
    { "", 0, "", true },
    { "/", 0, "", true },
    { "a.txt", 0, "a.txt", false },
    { "/a/b/c.js", 0, "a/b/c.js", false },
    { "a//b///c", 0, "a/b/c", false },
    { "a/./b/.", 0, "a/b", true },
    { "./", 0, "", true },
    { "a/", 0, "a", true },
    { "with%20space.txt", 0, "with space.txt", false },
    { "%D0%BF%D1%80%D0%B8%D0%B2%D0%B5%D1%82.txt", 0, "привет.txt", false },
    { "a%2Fb", 0, "a/b", false },           /* %2F separates, as '/' */
    { "%252e%252e", 0, "%2e%2e", false },   /* decoded once: a literal name */
    { "...", 0, "...", false },
    { "..a", 0, "..a", false },
    { ".hidden", 0, ".hidden", false },
    /* escapes */
    { "..", 400, NULL, false },
    { "../x", 400, NULL, false },
    { "a/../../x", 400, NULL, false },
    { "a/..", 400, NULL, false },
    { "%2e%2e/x", 400, NULL, false },
    { "%2E%2e/x", 400, NULL, false },
    { ".%2e/x", 400, NULL, false },
    { "%2e./x", 400, NULL, false },
    { "..%2fx", 400, NULL, false },
    { "..%2Fx", 400, NULL, false },
    { "a%2F..%2F..%2Fx", 400, NULL, false },
    { "..%5cx", 400, NULL, false },
    { "a\\b", 400, NULL, false },
    { "%5c", 400, NULL, false },
    { "a%00.txt", 400, NULL, false },
    { "a%0a", 400, NULL, false },
    { "a%7f", 400, NULL, false },
    { "%", 400, NULL, false },
    { "%4", 400, NULL, false },
    { "%zz", 400, NULL, false },
    { "a%g1", 400, NULL, false },
  };
  char out[256], buf[256];
  for (size_t i = 0; i < RS_ARRAY_SIZE(cases); i++) {
    size_t nseg = 99;
    bool dir = !cases[i].dir;
    int st = rs__static_path(cases[i].in, strlen(cases[i].in), out, sizeof(out), &nseg, &dir);
    if (st != cases[i].status) TAP_FAIL("\"%s\": status %d, expected %d", cases[i].in, st, cases[i].status);
    if (st != 0) continue;
    ASSERT_STR_EQ(joined(out, nseg, buf), cases[i].out);
    if (dir != cases[i].dir) TAP_FAIL("\"%s\": dir %d", cases[i].in, dir);
  }
  /* Too long for the buffer: 404, never a write past it. */
  char tiny[4];
  size_t nseg;
  bool dir;
  ASSERT_EQ(rs__static_path("abcd", 4, tiny, sizeof(tiny), &nseg, &dir), 404);
  ASSERT_EQ(rs__static_path("abc", 3, tiny, sizeof(tiny), &nseg, &dir), 0);
  ASSERT_EQ(rs__static_path("abc/d", 5, tiny, sizeof(tiny), &nseg, &dir), 404);
}

static void test_range(void) {
  static const struct {
    const char *in;
    uint64_t size;
    int rc;
    uint64_t first, last;
  } cases[] = {
    { "bytes=0-9", 100, 1, 0, 9 },
    { "bytes=10-", 100, 1, 10, 99 },
    { "bytes=-10", 100, 1, 90, 99 },
    { "bytes=-1000", 100, 1, 0, 99 },
    { "bytes=90-1000", 100, 1, 90, 99 },
    { "bytes=99-99", 100, 1, 99, 99 },
    { "Bytes = 5-6", 100, 0, 0, 0 },        /* no space before '=' */
    { "BYTES=5-6", 100, 1, 5, 6 },
    { " bytes=5-6 ", 100, 1, 5, 6 },
    { "bytes=5-6,", 100, 1, 5, 6 },         /* empty list elements */
    { "bytes=, 5-6", 100, 1, 5, 6 },
    { "bytes=0-18446744073709551615999", 100, 1, 0, 99 },   /* saturates */
    /* unsatisfiable */
    { "bytes=100-", 100, -1, 0, 0 },
    { "bytes=100-200", 100, -1, 0, 0 },
    { "bytes=-0", 100, -1, 0, 0 },
    { "bytes=0-0", 0, -1, 0, 0 },
    { "bytes=-5", 0, -1, 0, 0 },
    { "bytes=99999999999999999999999-", 100, -1, 0, 0 },
    /* ignored: the whole file */
    { "bytes=0-1,5-6", 100, 0, 0, 0 },
    { "bytes=9-1", 100, 0, 0, 0 },
    { "bytes=", 100, 0, 0, 0 },
    { "bytes=-", 100, 0, 0, 0 },
    { "bytes=a-b", 100, 0, 0, 0 },
    { "bytes=1-2x", 100, 0, 0, 0 },
    { "bytes 1-2", 100, 0, 0, 0 },
    { "items=0-1", 100, 0, 0, 0 },
    { "", 100, 0, 0, 0 },
  };
  for (size_t i = 0; i < RS_ARRAY_SIZE(cases); i++) {
    uint64_t a = 7, b = 7;
    int rc = rs__static_range(cases[i].in, strlen(cases[i].in), cases[i].size, &a, &b);
    if (rc != cases[i].rc) TAP_FAIL("\"%s\": rc %d, expected %d", cases[i].in, rc, cases[i].rc);
    if (rc == 1 && (a != cases[i].first || b != cases[i].last))
      TAP_FAIL("\"%s\": %llu-%llu", cases[i].in, (unsigned long long)a, (unsigned long long)b);
  }
}

static void test_http_time(void) {
  time_t t;
  static const char *const same[] = {
    "Sun, 06 Nov 1994 08:49:37 GMT",
    "Sunday, 06-Nov-94 08:49:37 GMT",
    "Sun Nov  6 08:49:37 1994",
  };
  for (size_t i = 0; i < RS_ARRAY_SIZE(same); i++) {
    t = 0;
    ASSERT_EQ(rs__static_http_time(same[i], strlen(same[i]), &t), 0);
    ASSERT_EQ(t, 784111777);
  }
  static const char *const bad[] = {
    "", "yesterday", "Sun, 06 Nov 1994 08:49:37 PST", "Sun, 06 Foo 1994 08:49:37 GMT",
    "Sun, 32 Nov 1994 08:49:37 GMT", "Sun, 06 Nov 1994 25:49:37 GMT",
    "Sun, 06 Nov 1994 08:49 GMT",
    "Sun, 06 Nov 1994 08:49:37 GMT and a lot more text after it, past the buffer",
  };
  for (size_t i = 0; i < RS_ARRAY_SIZE(bad); i++)
    if (rs__static_http_time(bad[i], strlen(bad[i]), &t) == 0) TAP_FAIL("accepted \"%s\"", bad[i]);
  /* What rs_http_date_line writes reads back. */
  char line[RS_HTTP_DATE_LINE_MAX];
  size_t n = rs_http_date_line(line, 1700000000);
  ASSERT_EQ(rs__static_http_time(line + 6, n - 8, &t), 0);
  ASSERT_EQ(t, 1700000000);
}

static void test_inm(void) {
  static const char tag[] = "\"5f-1a\"";
  static const struct { const char *v; bool hit; } cases[] = {
    { "\"5f-1a\"", true },
    { "W/\"5f-1a\"", true },
    { "\"x\", \"5f-1a\"", true },
    { "\"x\",W/\"5f-1a\"", true },
    { "*", true },
    { "\"5f-1b\"", false },
    { "\"5f-1a", false },
    { "", false },
    { ",,, ", false },
    { "5f-1a", false },
  };
  for (size_t i = 0; i < RS_ARRAY_SIZE(cases); i++) {
    rs_str_t v = { cases[i].v, strlen(cases[i].v) };
    if (rs_http_etag_match(&v, tag, sizeof(tag) - 1) != cases[i].hit) TAP_FAIL("\"%s\"", cases[i].v);
  }
  rs_str_t star = RS_STR("*"), t = RS_STR("\"5f-1a\"");
  ASSERT(rs_http_etag_match(&star, NULL, 0));     /* no tag sent: only "*" */
  ASSERT(!rs_http_etag_match(&t, NULL, 0));
}

static void test_types(void) {
  ASSERT_STR_EQ(rs__static_type("index.html"), "text/html; charset=utf-8");
  ASSERT_STR_EQ(rs__static_type("a.min.js"), "text/javascript; charset=utf-8");
  ASSERT_STR_EQ(rs__static_type("A.CSS"), "text/css; charset=utf-8");
  ASSERT_STR_EQ(rs__static_type("f.woff2"), "font/woff2");
  ASSERT_STR_EQ(rs__static_type("f.woff"), "font/woff");
  ASSERT_STR_EQ(rs__static_type("x.wasm"), "application/wasm");
  ASSERT_STR_EQ(rs__static_type("x.js.map"), "application/json");
  ASSERT_STR_EQ(rs__static_type("README"), "application/octet-stream");
  ASSERT_STR_EQ(rs__static_type(".png"), "application/octet-stream");   /* a dotfile */
  ASSERT_STR_EQ(rs__static_type("x.tar.gz"), "application/octet-stream");
  ASSERT_STR_EQ(rs__static_type("x."), "application/octet-stream");
}

/* The walk: files and folders open, symlinks anywhere below the root do
 * not (a link to a folder included), the root itself may be a link. */
static void test_open_walk(void) {
  char tmpl[] = "/tmp/rs-static-XXXXXX";
  char *d = mkdtemp(tmpl);
  ASSERT(d != NULL);
  char p[PATH_MAX], q[PATH_MAX];
#define PATHF(buf, ...) snprintf(buf, sizeof(buf), __VA_ARGS__)
  PATHF(p, "%s/root", d), mkdir(p, 0755);
  PATHF(p, "%s/root/sub", d), mkdir(p, 0755);
  PATHF(p, "%s/root/sub/f.txt", d);
  FILE *f = fopen(p, "w");
  ASSERT(f != NULL);
  fputs("x", f), fclose(f);
  PATHF(p, "%s/secret.txt", d);
  f = fopen(p, "w");
  fputs("s", f), fclose(f);
  PATHF(p, "%s/secret.txt", d), PATHF(q, "%s/root/out", d);
  ASSERT_EQ(symlink(p, q), 0);             /* a file out of the root */
  PATHF(p, "%s", d), PATHF(q, "%s/root/updir", d);
  ASSERT_EQ(symlink(p, q), 0);             /* a folder out of the root */
  PATHF(q, "%s/root/in", d);
  ASSERT_EQ(symlink("sub/f.txt", q), 0);   /* a file inside */
  PATHF(q, "%s/root/subl", d);
  ASSERT_EQ(symlink("sub", q), 0);         /* a folder inside */
  PATHF(p, "%s/root", d), PATHF(q, "%s/rootlink", d);
  ASSERT_EQ(symlink(p, q), 0);

  PATHF(p, "%s/root", d);
  static const char segs_f[] = "sub\0f.txt";
  int fd = rs__static_open(p, segs_f, 2, NULL);
  ASSERT(fd >= 0);
  close(fd);
  fd = rs__static_open(p, "sub", 1, "f.txt");   /* as an index */
  ASSERT(fd >= 0);
  close(fd);
  ASSERT_EQ(rs__static_open(p, "out", 1, NULL), -ELOOP);
  ASSERT_EQ(rs__static_open(p, "in", 1, NULL), -ELOOP);
  static const char segs_up[] = "updir\0secret.txt";
  int rc = rs__static_open(p, segs_up, 2, NULL);
  if (rc >= 0) TAP_FAIL("a link to a folder out of the root was followed");
  ASSERT(rc == -ENOTDIR || rc == -ELOOP);
  static const char segs_subl[] = "subl\0f.txt";
  rc = rs__static_open(p, segs_subl, 2, NULL);
  ASSERT(rc == -ENOTDIR || rc == -ELOOP);
  ASSERT(rs__static_open(p, "updir", 0, "secret.txt") < 0);
  ASSERT_EQ(rs__static_open(p, "nope", 1, NULL), -ENOENT);
  static const char segs_nd[] = "sub\0f.txt\0x";
  ASSERT_EQ(rs__static_open(p, segs_nd, 3, NULL), -ENOTDIR);
  PATHF(q, "%s/rootlink", d);
  fd = rs__static_open(q, segs_f, 2, NULL);
  ASSERT(fd >= 0);
  close(fd);

  char cmd[PATH_MAX + 16];
  PATHF(cmd, "rm -rf '%s'", d);
  ASSERT_EQ(system(cmd), 0);
#undef PATHF
}

int main(void) {
  RS_TEST(test_path);
  RS_TEST(test_range);
  RS_TEST(test_http_time);
  RS_TEST(test_inm);
  RS_TEST(test_types);
  RS_TEST(test_open_walk);
  RS_TEST_DONE();
}
