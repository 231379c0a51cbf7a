/* tests/unit/test_shim_prelude_diff.c — differential test of the JS prelude
 * against Node 20: tests/js/diff_corpus.js (URLs, setters, URLSearchParams,
 * base64, the ES2023 built-ins) is rendered in an isolate, where the
 * prelude provides these APIs, and run by `node`, where they are native; the
 * outputs ("label<TAB>json" lines) must be identical, except for the cases
 * the corpus labels "known" (where Node 20 departs from the standard): those
 * are reported, not failed.
 * Exits 77 (ctest: skipped, never passed) when no Node 20 is on the PATH. */
#include "rs_v8.h"
#include "tap.h"

#include <stdlib.h>

#define CORPUS RS_TEST_DIR "/js/diff_corpus.js"

static char *read_all(FILE *f, size_t *len) {
  size_t cap = 1 << 16, n = 0;
  char *buf = malloc(cap);
  size_t got;
  while (buf && (got = fread(buf + n, 1, cap - n - 1, f)) > 0) {
    n += got;
    if (cap - n < 2) buf = realloc(buf, cap *= 2);
  }
  if (buf) buf[n] = '\0';
  *len = n;
  return buf;
}

/* The node major version on the PATH, 0 if none. */
static int node_major(void) {
  FILE *f = popen("node --version 2>/dev/null", "r");
  if (!f) return 0;
  char v[64] = "";
  if (!fgets(v, sizeof v, f)) v[0] = '\0';
  pclose(f);
  return v[0] == 'v' ? atoi(v + 1) : 0;
}

static char *iso_out, *node_out;
static size_t iso_len, node_len;

static void test_isolate(void) {
  ASSERT_EQ(rs_v8_init(2), 0);
  rs_v8_opts_t o = {0};
  o.bundle_path = CORPUS;
  o.heap_mb = 128;
  char err[1024] = "";
  rs_v8_engine_t *e = NULL;
  int rc = rs_v8_engine_create(&o, &e, err, sizeof err);
  if (rc != 0) fprintf(stderr, "# create: %s\n", err);
  ASSERT_EQ(rc, 0);
  if (!e) return;
  rs_v8_request_t rq = {0};
  rq.url = rq.path = "/";
  rq.url_len = rq.path_len = 1;
  rq.method = "GET";
  rq.method_len = 3;
  rs_v8_result_t r;
  ASSERT_EQ(rs_v8_render(e, &rq, &r), RS_V8_OK);
  if (r.outcome == RS_V8_OK) {
    iso_out = strdup(r.html);
    iso_len = r.html_len;
  } else {
    fprintf(stderr, "# render: %s\n", r.error);
  }
  rs_v8_engine_destroy(e);
}

static void test_node(void) {
  FILE *f = popen("node -e 'require(process.argv[1]); process.stdout.write(String(globalThis.render()))' "
                  "'" CORPUS "'",
                  "r");
  ASSERT(f != NULL);
  if (!f) return;
  node_out = read_all(f, &node_len);
  ASSERT_EQ(pclose(f), 0);
}

static void test_compare(void) {
  ASSERT(iso_out && node_out);
  if (!iso_out || !node_out) return;
  int cases = 0, same = 0, known = 0, known_same = 0, differ = 0;
  char *a = iso_out, *b = node_out;
  while (*a || *b) {
    char *ea = strchr(a, '\n'), *eb = strchr(b, '\n');
    size_t la = ea ? (size_t)(ea - a) : strlen(a), lb = eb ? (size_t)(eb - b) : strlen(b);
    int is_known = strncmp(a, "known ", 6) == 0;
    cases++;
    if (la == lb && memcmp(a, b, la) == 0) {
      same++;
      if (is_known) known_same++;
    } else if (is_known) {
      known++;
      fprintf(stderr, "# known divergence:\n#   isolate %.*s\n#   node    %.*s\n", (int)la, a, (int)lb, b);
    } else {
      differ++;
      if (differ <= 40)
        fprintf(stderr, "# DIFFERS:\n#   isolate %.*s\n#   node    %.*s\n", (int)la, a, (int)lb, b);
    }
    a += la + (ea ? 1 : 0);
    b += lb + (eb ? 1 : 0);
  }
  fprintf(stderr,
          "# %d cases: %d identical (%d of them labelled known), %d known Node 20 divergences, "
          "%d differ\n",
          cases, same, known_same, known, differ);
  ASSERT(cases > 3000);
  ASSERT_EQ(differ, 0);
}

int main(void) {
  int major = node_major();
  if (major != 20) {
    fprintf(stderr, "# skipped: needs Node 20 on the PATH (found %s)\n", major ? "another version" : "none");
    return 77;
  }
  RS_TEST(test_isolate);
  RS_TEST(test_node);
  RS_TEST(test_compare);
  free(iso_out);
  free(node_out);
  RS_TEST_DONE();
}
