/* tests/unit/test_key.c — the page cache key (core/cache/rs_key.h): its exact
 * form, fields that never run together (host into path, path into query,
 * a hook's string into a default key or another host's), stable query
 * order for repeated names, any number of parameters, named header fields;
 * and the purge selectors over that form (core/gateway/rs_policy.h). */
#include "rs_cache.h"
#include "rs_key.h"
#include "rs_purge.h"
#include "tap.h"

static char out[4096];

/* The default key of (host, target) as a C string in out. */
static const char *url_key(const char *host, const char *target) {
  char buf[64];                  /* small: the heap path is exercised too */
  rs_key_t k;
  rs_key_init(&k, buf, sizeof(buf));
  const char *qm = strchr(target, '?');
  size_t plen = qm ? (size_t)(qm - target) : strlen(target);
  rs_key_url(&k, "GET", 3, host, strlen(host), target, plen, qm ? qm + 1 : NULL, qm ? strlen(qm + 1) : 0);
  snprintf(out, sizeof(out), "%.*s", (int)k.len, k.p);
  rs_key_dispose(&k);
  return out;
}

static const char *hook_key(const char *host, const char *s) {
  char buf[16];
  rs_key_t k;
  rs_key_init(&k, buf, sizeof(buf));
  rs_key_hook(&k, host, strlen(host), s, strlen(s));
  snprintf(out, sizeof(out), "%.*s", (int)k.len, k.p);
  rs_key_dispose(&k);
  return out;
}

static void test_form(void) {
  ASSERT_STR_EQ(url_key("Example.COM:8080", "/a/b"), "GET example.com/a/b");
  ASSERT_STR_EQ(url_key("[::1]:8080", "/"), "GET [::1]/");
  ASSERT_STR_EQ(url_key("[::1]", "/"), "GET [::1]/");
  ASSERT_STR_EQ(url_key("1.2.3.4:80", "/"), "GET 1.2.3.4/");
  ASSERT_STR_EQ(url_key("h:", "/"), "GET h/");
  /* only digits after the last ':' are a port: a path never hides behind one */
  ASSERT_STR_EQ(url_key("victim.example:80/catalog", "/shoes"), "GET victim.example:80%2Fcatalog/shoes");
  ASSERT_STR_EQ(url_key("::1", "/"), "GET ::1/");
  ASSERT_STR_EQ(url_key("a:1:2", "/"), "GET a:1:2/");
  ASSERT_EQ(rs_key_host_len("[::1]:8080", 10), 5);
  ASSERT_EQ(rs_key_host_len("[::1]", 5), 5);
  ASSERT_EQ(rs_key_host_len("a.example:8080", 14), 9);
  ASSERT_EQ(rs_key_host_len("a.example:80x", 13), 13);
  ASSERT_STR_EQ(url_key("example.com", "/a?b=2&a=1"), "GET example.com/a?a=1&b=2");
  ASSERT_STR_EQ(url_key("example.com", "/a?&&b=2&&a=1&"), "GET example.com/a?a=1&b=2");
  /* HEAD is GET's page */
  char buf[64];
  rs_key_t k;
  rs_key_init(&k, buf, sizeof(buf));
  rs_key_url(&k, "HEAD", 4, "h", 1, "/x", 2, NULL, 0);
  ASSERT_EQ(k.len, 7);
  ASSERT(memcmp(k.p, "GET h/x", 7) == 0);
  rs_key_dispose(&k);
  /* what a path keeps, what it encodes */
  ASSERT_STR_EQ(url_key("h", "/a-b_c.d~e!$&'()*+,;=:@/f"), "GET h/a-b_c.d~e!$&'()*+,;=:@/f");
  ASSERT_STR_EQ(url_key("h", "/caf\xc3\xa9 x"), "GET h/caf%C3%A9%20x");
  ASSERT_STR_EQ(hook_key("Example.com:80", "product:42"), "~example.com product:42");
  ASSERT_STR_EQ(hook_key("h", "a%b\nc d"), "~h a%25b%0Ac d");
}

/* Pairs of requests that must never share a page. */
static void test_no_collisions(void) {
  static const struct { const char *h1, *t1, *h2, *t2; } diff[] = {
    /* the example: a Host that carries a path */
    { "victim.example/catalog", "/shoes", "victim.example", "/catalog/shoes" },
    { "victim.example/catalog:80", "/shoes", "victim.example", "/catalog/shoes" },
    { "victim.example:80/catalog", "/shoes", "victim.example", "/catalog/shoes" },
    { "victim.example:80/catalog", "/shoes", "victim.example", "/shoes" },
    { "a", "/b/c", "a/b", "/c" },
    { "a?x=1", "/", "a", "/?x=1" },
    { "a b", "/", "a%20b", "/" },
    { "a%2Fb", "/", "a/b", "/" },
    { "a\nGET b", "/", "a", "/" },
    { "victim.example", "/a%3Fx=1", "victim.example", "/a?x=1" },   /* a '?' inside the path */
    { "victim.example", "/a%3fx=1", "victim.example", "/a?x=1" },
    { "h", "/a?x=1&x=2", "h", "/a?x=2&x=1" },                       /* repeated names keep order */
    { "h", "/a?x=1&y=2&x=2", "h", "/a?x=2&y=2&x=1" },
    { "h", "/a?x", "h", "/a?x=" },
    { "h", "/a?b=1", "h", "/a%3Fb=1" },
    { "h", "/a b", "h", "/a%20b" },   /* an encoded '%' never equals a byte encoded */
    { "h", "/a?q=1\n", "h", "/a?q=1\r" },
  };
  for (size_t i = 0; i < RS_ARRAY_SIZE(diff); i++) {
    char a[512];
    snprintf(a, sizeof(a), "%s", url_key(diff[i].h1, diff[i].t1));
    const char *b = url_key(diff[i].h2, diff[i].t2);
    if (strcmp(a, b) == 0) TAP_FAIL("case %zu: both \"%s\"", i, a);
  }
  /* and pairs that must share one */
  static const struct { const char *h1, *t1, *h2, *t2; } same[] = {
    { "EXAMPLE.com:8080", "/a?b=1&a=2", "example.com", "/a?a=2&b=1" },
    { "h", "/a?x=1&y=1&x=2", "h", "/a?y=1&x=1&x=2" },   /* only names are sorted, stably */
    { "h", "/a?b=1&a=2&a=1", "h", "/a?a=2&a=1&b=1" },
  };
  for (size_t i = 0; i < RS_ARRAY_SIZE(same); i++) {
    char a[512];
    snprintf(a, sizeof(a), "%s", url_key(same[i].h1, same[i].t1));
    const char *b = url_key(same[i].h2, same[i].t2);
    if (strcmp(a, b) != 0) TAP_FAIL("case %zu: \"%s\" != \"%s\"", i, a, b);
  }
  /* A hook's string never gives a default key, nor another host's page. */
  char a[512];
  snprintf(a, sizeof(a), "%s", hook_key("victim.example", "GET victim.example/x"));
  ASSERT(strcmp(a, url_key("victim.example", "/x")) != 0);
  ASSERT(a[0] == '~');
  snprintf(a, sizeof(a), "%s", hook_key("evil.example", "p:1"));
  ASSERT(strcmp(a, hook_key("victim.example", "p:1")) != 0);
  snprintf(a, sizeof(a), "%s", hook_key("a b", "c"));        /* host with a space */
  ASSERT(strcmp(a, hook_key("a", "b c")) != 0);
  snprintf(a, sizeof(a), "%s", hook_key("a", "b\naccept-language:fr"));
  ASSERT(strchr(a, '\n') == NULL);
}

/* More parameters than the sort's inline array: sorted all the same. */
static void test_many_params(void) {
  char t1[8192] = "/p?", t2[8192] = "/p?";
  for (int i = 0; i < 300; i++) {
    char p[32];
    snprintf(p, sizeof(p), "%sk%03d=%d", i ? "&" : "", i, i);
    strcat(t1, p);
    snprintf(p, sizeof(p), "%sk%03d=%d", i ? "&" : "", 299 - i, 299 - i);
    strcat(t2, p);
  }
  strcat(t1, "&dup=1&dup=2");
  strcat(t2, "&dup=1&dup=2");
  char a[8192];
  snprintf(a, sizeof(a), "%s", url_key("h", t1));
  ASSERT_STR_EQ(a, url_key("h", t2));
  ASSERT(strstr(a, "?dup=1&dup=2&k000=0&k001=1&") != NULL);
  /* the repeated name's order still counts past the inline array */
  char t3[8192];
  snprintf(t3, sizeof(t3), "%s", t1);
  char *d = strstr(t3, "&dup=1&dup=2");
  memcpy(d, "&dup=2&dup=1", 12);
  ASSERT(strcmp(a, url_key("h", t3)) != 0);
}

static void test_fields(void) {
  char buf[32];
  rs_key_t k;
  rs_key_init(&k, buf, sizeof(buf));
  rs_key_url(&k, "GET", 3, "h", 1, "/", 1, NULL, 0);
  rs_key_header(&k, "accept-language", 15, true);
  rs_key_header_value(&k, "fr", 2, true);
  rs_key_header_value(&k, "de", 2, false);
  rs_key_header(&k, "x-ab", 4, false);
  ASSERT_EQ(k.len, strlen("GET h/\naccept-language:fr, de\nx-ab"));
  ASSERT(memcmp(k.p, "GET h/\naccept-language:fr, de\nx-ab", k.len) == 0);
  rs_key_dispose(&k);
  /* absent and empty differ */
  char b1[64], b2[64];
  rs_key_t k1, k2;
  rs_key_init(&k1, b1, sizeof(b1));
  rs_key_init(&k2, b2, sizeof(b2));
  rs_key_header(&k1, "a", 1, false);
  rs_key_header(&k2, "a", 1, true);
  rs_key_header_value(&k2, "", 0, true);
  ASSERT(k1.len != k2.len);
  rs_key_dispose(&k1);
  rs_key_dispose(&k2);
}

static void put(rs_cache_t *c, const char *key, size_t len) {
  rs_entry_spec_t spec = { .key = key, .key_len = len, .status = 200, .body = "x", .body_len = 1,
                           .brotli_quality = -1, .ttl_ms = 60000 };
  spec.hash = rs_cache_hash(c, key, len);
  spec.epoch = rs_cache_epoch(c);
  rs_entry_t *e = rs_entry_build(&spec);
  if (e == NULL || rs_cache_put(c, e) != 0) abort();
  rs_entry_release(e);
}

static void fill(rs_cache_t *c) {
  static const char *const keys[] = {
    "GET example.com/a?x=1", "GET example.com/a?x=1\naccept-language:fr",
    "GET example.com/a?x=1\naccept-language", "GET example.com/ab", "GET other.com/a?x=1",
    "~example.com product:42", "~other.com product:42", "~example.com product:42\naccept-language:fr",
    "~example.com product:420", "~example.com GET example.com/ab",
  };
  for (size_t i = 0; i < RS_ARRAY_SIZE(keys); i++) put(c, keys[i], strlen(keys[i]));
}

static size_t entries(rs_cache_t *c) {
  rs_cache_stats_t st;
  rs_cache_stats(c, &st);
  return st.entries;
}

static void test_purge(void) {
  rs_cache_opts_t o = { .max_entries = 100, .shards = 4 };
  rs_cache_t *c = rs_cache_create(&o);
  /* Before any key with fields or from a hook: an exact lookup only. */
  put(c, "GET example.com/z", 17);
  put(c, "GET example.com/z\nx", 19);
  ASSERT(!rs_key_seen_fields() && !rs_key_seen_hooks());
  ASSERT_EQ(rs_purge(c, RS_PURGE_URL, "/z", 2, "example.com", 11), 1);
  ASSERT_EQ(rs_purge(c, RS_PURGE_KEY, "GET example.com/z\nx", 19, NULL, 0), 1);
  hook_key("example.com", "x");   /* now keys of both kinds exist: purges scan */
  char buf[64];
  rs_key_t k;
  rs_key_init(&k, buf, sizeof(buf));
  rs_key_header(&k, "a", 1, false);
  rs_key_dispose(&k);
  ASSERT(rs_key_seen_fields() && rs_key_seen_hooks());
  fill(c);
  ASSERT_EQ(entries(c), 10);
  /* a URL: its page and its named-header variants, not /ab, not other.com */
  ASSERT_EQ(rs_purge(c, RS_PURGE_URL, "/a?x=1", 6, "EXAMPLE.com:81", 14), 3);
  ASSERT_EQ(rs_purge(c, RS_PURGE_URL, "/a?x=1", 6, "other.com", 9), 1);
  /* a key hook's string: on every host, with its variants, not product:420 */
  ASSERT_EQ(rs_purge(c, RS_PURGE_KEY, "product:42", 10, NULL, 0), 3);
  /* a default key: exactly, and the hook key that returned that string */
  ASSERT_EQ(rs_purge(c, RS_PURGE_KEY, "GET example.com/ab", 18, NULL, 0), 2);
  ASSERT_EQ(entries(c), 1);
  ASSERT_EQ(rs_purge(c, RS_PURGE_PREFIX, "product:", 8, NULL, 0), 1);   /* a hook's string */
  fill(c);
  ASSERT_EQ(rs_purge(c, RS_PURGE_PREFIX, "GET example.com/a", 17, NULL, 0), 5);
  ASSERT_EQ(rs_purge(c, RS_PURGE_PREFIX, "~other.com ", 11, NULL, 0), 1);   /* a stored key */
  /* empty selectors select nothing */
  ASSERT_EQ(rs_purge(c, RS_PURGE_PREFIX, "", 0, NULL, 0), 0);
  ASSERT_EQ(rs_purge(c, RS_PURGE_KEY, "", 0, NULL, 0), 0);
  ASSERT_EQ(rs_purge(c, RS_PURGE_TAG, "", 0, NULL, 0), 0);
  ASSERT_EQ(rs_purge(c, RS_PURGE_URL, "", 0, "example.com", 11), 0);
  ASSERT_EQ(entries(c), 4);
  ASSERT_EQ(rs_purge(c, RS_PURGE_ALL, NULL, 0, NULL, 0), 4);
  rs_cache_destroy(c);
}

/* The observer (the shared tier) is told of each purge, soft or not (a URL
 * purge as its default key), never of one the fleet sent (rs_purge_local);
 * a caller that collects its purges learns their fate, now or later. */
static struct {
  int n;
  rs_purge_by_t by;
  char v[64];
  bool soft;
  rs_purge_wait_t *w;
} told;

static void observer(rs_purge_by_t by, const char *v, size_t len, bool soft, rs_purge_wait_t *w) {
  told.n++;
  told.by = by;
  snprintf(told.v, sizeof(told.v), "%.*s", (int)len, v);
  told.soft = soft;
  told.w = w;
  if (w != NULL) w->pending++;                   /* sent on: settled below */
}

static int waits_done;
static void wait_done(rs_purge_wait_t *w) {
  (void)w;
  waits_done++;
}

static void test_purge_observer_and_wait(void) {
  rs_cache_opts_t o = { .max_entries = 100, .shards = 4 };
  rs_cache_t *c = rs_cache_create(&o);
  rs_purge_observe(observer);
  put(c, "GET example.com/o", 17);
  ASSERT_EQ(rs_purge_ex(c, RS_PURGE_TAG, "t", 1, NULL, 0, true), 0);
  ASSERT(told.n == 1 && told.by == RS_PURGE_TAG && told.soft && told.w == NULL);
  ASSERT_STR_EQ(told.v, "t");
  ASSERT_EQ(rs_purge_url(c, "example.com", 11, "/o", 2, NULL, 0), 1);
  ASSERT(told.n == 2 && told.by == RS_PURGE_KEY && !told.soft);
  ASSERT_STR_EQ(told.v, "GET example.com/o");
  rs_purge_local(c, RS_PURGE_ALL, NULL, 0, false);
  ASSERT_EQ(told.n, 2);                          /* from the fleet: not sent back */
  /* nothing sent on: known at once */
  rs_purge_wait_t w;
  rs_purge_wait_begin(&w);
  rs_purge_ex(c, RS_PURGE_KEY, "", 0, NULL, 0, false);   /* selects nothing: not told */
  ASSERT(rs_purge_wait_end(&w, wait_done, NULL));
  ASSERT(w.told == 0 && w.failed == 0);
  /* sent on: answered later, one failure */
  rs_purge_wait_begin(&w);
  rs_purge(c, RS_PURGE_TAG, "a", 1, NULL, 0);
  rs_purge(c, RS_PURGE_TAG, "b", 1, NULL, 0);
  ASSERT(told.w == &w && w.told == 2 && w.pending == 2);
  ASSERT(!rs_purge_wait_end(&w, wait_done, NULL));
  rs_purge(c, RS_PURGE_TAG, "c", 1, NULL, 0);    /* after the end: not collected */
  ASSERT(told.w == NULL && w.told == 2);
  rs_purge_wait_settle(&w, true);
  ASSERT_EQ(waits_done, 0);
  rs_purge_wait_settle(&w, false);
  ASSERT(waits_done == 1 && w.failed == 1);
  rs_purge_observe(NULL);
  rs_cache_destroy(c);
}

int main(void) {
  RS_TEST(test_purge);            /* first: it checks the purges before any hook key or field */
  RS_TEST(test_form);
  RS_TEST(test_no_collisions);
  RS_TEST(test_many_params);
  RS_TEST(test_fields);
  RS_TEST(test_purge_observer_and_wait);
  RS_TEST_DONE();
}
