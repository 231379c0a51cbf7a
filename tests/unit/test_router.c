/* tests/unit/test_router.c — the route table: every match-order rule, HEAD
 * via GET, hosts, prefixes, refusals, and concurrent matching. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>

#include "rs_router.h"
#include "tap.h"

static rs_route_t *mk(unsigned methods, const char *host, const char *path,
                      int priority, int status) {
  rs_route_t *r = rs_xcalloc(1, sizeof(*r));
  r->methods = methods;
  r->host = host ? rs_xstrdup(host) : NULL;
  r->path = rs_xstrdup(path);
  r->priority = priority;
  r->action = RS_ACTION_RESPOND;
  r->respond.status = status;
  return r;
}

static void add(rs_router_t *rt, unsigned methods, const char *host,
                const char *path, int priority, int status) {
  const char *why = NULL;
  int rc = rs_router_add(rt, mk(methods, host, path, priority, status), &why);
  if (rc != 0) fprintf(stderr, "# add %s: %s\n", path, why);
}

/* The status of the matched route, 0 for none. */
static int st(const rs_router_t *rt, unsigned method, const char *host,
              const char *path) {
  const rs_route_t *r = rs_router_match(rt, method, host, host ? strlen(host) : 0,
                                        path, strlen(path));
  return r ? r->respond.status : 0;
}

static void test_method_bit(void) {
  ASSERT_EQ(rs_method_bit("GET", 3), RS_M_GET);
  ASSERT_EQ(rs_method_bit("HEAD", 4), RS_M_HEAD);
  ASSERT_EQ(rs_method_bit("POST", 4), RS_M_POST);
  ASSERT_EQ(rs_method_bit("PUT", 3), RS_M_PUT);
  ASSERT_EQ(rs_method_bit("DELETE", 6), RS_M_DELETE);
  ASSERT_EQ(rs_method_bit("PATCH", 5), RS_M_PATCH);
  ASSERT_EQ(rs_method_bit("OPTIONS", 7), RS_M_OPTIONS);
  ASSERT_EQ(rs_method_bit("PURGE", 5), RS_M_PURGE);
  ASSERT_EQ(rs_method_bit("get", 3), 0);      /* methods are case-sensitive */
  ASSERT_EQ(rs_method_bit("GETX", 4), 0);
  ASSERT_EQ(rs_method_bit("GETX", 3), RS_M_GET); /* len is what counts */
  ASSERT_EQ(rs_method_bit("", 0), 0);
  ASSERT_EQ(rs_method_bit("CONNECT", 7), 0);
}

static void test_empty(void) {
  rs_router_t *rt = rs_router_create();
  ASSERT_EQ(rs_router_count(rt), 0);
  ASSERT_EQ(st(rt, RS_M_GET, NULL, "/"), 0);
  ASSERT(rs_router_get(rt, 0) == NULL);
  rs_router_destroy(rt);
}

static void test_exact_before_prefix(void) {
  rs_router_t *rt = rs_router_create();
  add(rt, RS_M_GET, NULL, "/*", 100, 1);      /* even with a higher priority */
  add(rt, RS_M_GET, NULL, "/a", 0, 2);
  add(rt, RS_M_GET, NULL, "/a*", 0, 3);
  ASSERT_EQ(st(rt, RS_M_GET, NULL, "/a"), 2);
  ASSERT_EQ(st(rt, RS_M_GET, NULL, "/ab"), 3);
  ASSERT_EQ(st(rt, RS_M_GET, NULL, "/b"), 1);
  ASSERT_EQ(st(rt, RS_M_GET, NULL, "/"), 1);
  ASSERT_EQ(st(rt, RS_M_GET, NULL, "/a/"), 3);
  rs_router_destroy(rt);
}

static void test_longer_prefix_first(void) {
  rs_router_t *rt = rs_router_create();
  add(rt, RS_M_GET, NULL, "/static/*", 5, 1);
  add(rt, RS_M_GET, NULL, "/static/img/*", 0, 2);
  add(rt, RS_M_GET, NULL, "/s*", 9, 3);
  ASSERT_EQ(st(rt, RS_M_GET, NULL, "/static/img/a.png"), 2);
  ASSERT_EQ(st(rt, RS_M_GET, NULL, "/static/img/"), 2);
  ASSERT_EQ(st(rt, RS_M_GET, NULL, "/static/img"), 1);
  ASSERT_EQ(st(rt, RS_M_GET, NULL, "/static/"), 1);
  ASSERT_EQ(st(rt, RS_M_GET, NULL, "/static"), 3);   /* the prefix "/static/" needs the slash */
  ASSERT_EQ(st(rt, RS_M_GET, NULL, "/x"), 0);
  ASSERT_EQ(st(rt, RS_M_GET, NULL, ""), 0);
  rs_router_destroy(rt);
}

static void test_priority_then_order(void) {
  rs_router_t *rt = rs_router_create();
  add(rt, RS_M_GET, NULL, "/p", 0, 1);
  add(rt, RS_M_GET, NULL, "/p", 7, 2);
  add(rt, RS_M_GET, NULL, "/p", 7, 3);        /* same priority, declared later */
  add(rt, RS_M_GET, NULL, "/p", -1, 4);
  ASSERT_EQ(st(rt, RS_M_GET, NULL, "/p"), 2);
  add(rt, RS_M_GET, NULL, "/q*", 0, 5);
  add(rt, RS_M_GET, NULL, "/q*", 0, 6);
  ASSERT_EQ(st(rt, RS_M_GET, NULL, "/q1"), 5);
  ASSERT_EQ(rs_router_count(rt), 6);
  for (size_t i = 0; i < 6; i++) {
    ASSERT_EQ(rs_router_get(rt, i)->_order, i);
    ASSERT_EQ(rs_router_get(rt, i)->respond.status, (int)i + 1);
  }
  ASSERT(rs_router_get(rt, 6) == NULL);
  rs_router_destroy(rt);
}

static void test_host(void) {
  rs_router_t *rt = rs_router_create();
  add(rt, RS_M_GET, NULL, "/h", 50, 1);       /* a host beats priority */
  add(rt, RS_M_GET, "Example.COM", "/h", 0, 2);
  add(rt, RS_M_GET, "other.org", "/h", 0, 3);
  add(rt, RS_M_GET, "[::1]", "/h", 0, 4);
  add(rt, RS_M_GET, "example.com", "/only", 0, 5);
  ASSERT_STR_EQ(rs_router_get(rt, 1)->host, "example.com");   /* lower-cased */
  ASSERT_EQ(st(rt, RS_M_GET, "example.com", "/h"), 2);
  ASSERT_EQ(st(rt, RS_M_GET, "EXAMPLE.com", "/h"), 2);
  ASSERT_EQ(st(rt, RS_M_GET, "example.com:8080", "/h"), 2);
  ASSERT_EQ(st(rt, RS_M_GET, "example.com.", "/h"), 2);
  ASSERT_EQ(st(rt, RS_M_GET, "Example.Com.:80", "/h"), 2);
  ASSERT_EQ(st(rt, RS_M_GET, "other.org", "/h"), 3);
  ASSERT_EQ(st(rt, RS_M_GET, "[::1]:8080", "/h"), 4);
  ASSERT_EQ(st(rt, RS_M_GET, "[::1]", "/h"), 4);
  ASSERT_EQ(st(rt, RS_M_GET, "example.co", "/h"), 1);
  ASSERT_EQ(st(rt, RS_M_GET, "www.example.com", "/h"), 1);
  ASSERT_EQ(st(rt, RS_M_GET, NULL, "/h"), 1);
  ASSERT_EQ(st(rt, RS_M_GET, "", "/h"), 1);
  ASSERT_EQ(st(rt, RS_M_GET, "example.com", "/only"), 5);
  ASSERT_EQ(st(rt, RS_M_GET, "example.org", "/only"), 0);
  ASSERT_EQ(st(rt, RS_M_GET, NULL, "/only"), 0);
  rs_router_destroy(rt);
}

static void test_host_in_prefixes(void) {
  rs_router_t *rt = rs_router_create();
  add(rt, RS_M_GET, NULL, "/a/b/*", 0, 1);
  add(rt, RS_M_GET, "x.com", "/a/*", 0, 2);
  /* A longer prefix without a host still beats a shorter one with a host:
   * path specificity comes first. */
  ASSERT_EQ(st(rt, RS_M_GET, "x.com", "/a/b/c"), 1);
  ASSERT_EQ(st(rt, RS_M_GET, "x.com", "/a/c"), 2);
  ASSERT_EQ(st(rt, RS_M_GET, "y.com", "/a/c"), 0);
  rs_router_destroy(rt);
}

static void test_methods(void) {
  rs_router_t *rt = rs_router_create();
  add(rt, RS_M_GET, NULL, "/m", 0, 1);
  add(rt, RS_M_POST | RS_M_PUT, NULL, "/m", 0, 2);
  add(rt, RS_M_ANY, NULL, "/*", 0, 3);
  add(rt, RS_M_GET, NULL, "/g", 0, 4);
  add(rt, RS_M_GET, NULL, "/h", 0, 5);
  add(rt, RS_M_HEAD, NULL, "/h", 0, 6);       /* an explicit HEAD route wins */
  ASSERT_EQ(st(rt, RS_M_GET, NULL, "/m"), 1);
  ASSERT_EQ(st(rt, RS_M_HEAD, NULL, "/m"), 1); /* HEAD via GET */
  ASSERT_EQ(st(rt, RS_M_POST, NULL, "/m"), 2);
  ASSERT_EQ(st(rt, RS_M_PUT, NULL, "/m"), 2);
  ASSERT_EQ(st(rt, RS_M_DELETE, NULL, "/m"), 3); /* falls through to the prefix */
  ASSERT_EQ(st(rt, RS_M_HEAD, NULL, "/g"), 4);
  ASSERT_EQ(st(rt, RS_M_POST, NULL, "/g"), 3);
  ASSERT_EQ(st(rt, RS_M_HEAD, NULL, "/h"), 6);
  ASSERT_EQ(st(rt, RS_M_GET, NULL, "/h"), 5);
  ASSERT_EQ(st(rt, 0, NULL, "/m"), 0);         /* an unknown method */
  rs_router_destroy(rt);

  rt = rs_router_create();
  add(rt, RS_M_POST, NULL, "/only-post", 0, 1);
  ASSERT_EQ(st(rt, RS_M_GET, NULL, "/only-post"), 0);
  ASSERT_EQ(st(rt, RS_M_HEAD, NULL, "/only-post"), 0);
  rs_router_destroy(rt);
}

static void test_refused(void) {
  static const struct { const char *host, *path, *why; } bad[] = {
    { NULL, "", "path must start with '/'" },
    { NULL, "a/b", "path must start with '/'" },
    { NULL, "*", "path must start with '/'" },
    { NULL, "/a*b", "'*' is only allowed at the end of a path" },
    { NULL, "/**", "'*' is only allowed at the end of a path" },
    { NULL, "/a b", "path must not contain spaces or control characters" },
    { NULL, "/a\tb", "path must not contain spaces or control characters" },
    { NULL, "/a?b", "path must not contain '?' or '#'" },
    { NULL, "/a#b", "path must not contain '?' or '#'" },
    { NULL, "/product/:id", "':param' path segments are not supported yet" },
    { "", "/x", "host must not be empty" },
    { ".", "/x", "host must not be empty" },
    { "a.com:80", "/x", "host must not carry a port (the port is ignored when matching)" },
    { "*.a.com", "/x", "wildcard hosts are not supported yet" },
    { "a b", "/x", "host must be a plain host name" },
  };
  rs_router_t *rt = rs_router_create();
  for (size_t i = 0; i < RS_ARRAY_SIZE(bad); i++) {
    const char *why = NULL;
    /* The route is freed on refusal: ASan builds check it. */
    ASSERT_EQ(rs_router_add(rt, mk(RS_M_GET, bad[i].host, bad[i].path, 0, 200), &why),
              -EINVAL);
    ASSERT_STR_EQ(why, bad[i].why);
  }
  ASSERT_EQ(rs_router_add(rt, mk(RS_M_GET, NULL, "/a:b", 0, 200), NULL), 0);  /* mid-segment ':' */
  ASSERT_EQ(rs_router_count(rt), 1);
  ASSERT_EQ(rs_router_get(rt, 0)->_order, 0);
  rs_route_free(mk(RS_M_GET, "h", "/never-added", 0, 200));
  rs_route_free(NULL);
  rs_router_destroy(rt);
}

static void test_private_fields(void) {
  rs_router_t *rt = rs_router_create();
  add(rt, RS_M_GET, NULL, "/pre/*", 0, 1);
  add(rt, RS_M_GET, "Ab.c", "/exact", 0, 2);
  const rs_route_t *p = rs_router_get(rt, 0), *e = rs_router_get(rt, 1);
  ASSERT(p->_is_prefix);
  ASSERT_EQ(p->_prefix_len, 5);
  ASSERT(!e->_is_prefix);
  ASSERT_EQ(e->_host_len, 4);
  ASSERT_EQ(e->_order, 1);
  rs_router_destroy(rt);
}

/* Many routes: the hash table grows, prefixes of many lengths. */
static void test_many(void) {
  rs_router_t *rt = rs_router_create();
  char path[64];
  for (int i = 0; i < 2000; i++) {
    snprintf(path, sizeof(path), "/e/%d", i);
    add(rt, RS_M_GET, NULL, path, 0, 1000 + i);
    if (i % 10 == 0) {
      snprintf(path, sizeof(path), "/p/%d/*", i);
      add(rt, RS_M_GET, NULL, path, 0, 5000 + i);
    }
  }
  ASSERT_EQ(rs_router_count(rt), 2200);
  for (int i = 0; i < 2000; i++) {
    snprintf(path, sizeof(path), "/e/%d", i);
    ASSERT_EQ(st(rt, RS_M_GET, NULL, path), 1000 + i);
    snprintf(path, sizeof(path), "/p/%d/x", i);
    ASSERT_EQ(st(rt, RS_M_GET, NULL, path), i % 10 == 0 ? 5000 + i : 0);
  }
  ASSERT_EQ(st(rt, RS_M_GET, NULL, "/e/2000"), 0);
  rs_router_destroy(rt);
}

/* Loop threads match at once; run under -DSANITIZE=thread to check. */
typedef struct { const rs_router_t *rt; int bad; } rs__ctx_t;

static void *rs__matcher(void *arg) {
  rs__ctx_t *c = arg;
  for (int i = 0; i < 20000; i++) {
    if (st(c->rt, RS_M_GET, "x.com:80", "/a") != 2) c->bad++;
    if (st(c->rt, RS_M_HEAD, NULL, "/static/y") != 3) c->bad++;
  }
  return NULL;
}

static void test_concurrent(void) {
  rs_router_t *rt = rs_router_create();
  add(rt, RS_M_GET, NULL, "/a", 0, 1);
  add(rt, RS_M_GET, "x.com", "/a", 0, 2);
  add(rt, RS_M_GET, NULL, "/static/*", 0, 3);
  pthread_t t[4];
  rs__ctx_t c[4];
  for (int i = 0; i < 4; i++) {
    c[i] = (rs__ctx_t){ rt, 0 };
    pthread_create(&t[i], NULL, rs__matcher, &c[i]);
  }
  for (int i = 0; i < 4; i++) pthread_join(t[i], NULL);
  for (int i = 0; i < 4; i++) ASSERT_EQ(c[i].bad, 0);
  rs_router_destroy(rt);
}

int main(void) {
  RS_TEST(test_method_bit);
  RS_TEST(test_empty);
  RS_TEST(test_exact_before_prefix);
  RS_TEST(test_longer_prefix_first);
  RS_TEST(test_priority_then_order);
  RS_TEST(test_host);
  RS_TEST(test_host_in_prefixes);
  RS_TEST(test_methods);
  RS_TEST(test_refused);
  RS_TEST(test_private_fields);
  RS_TEST(test_many);
  RS_TEST(test_concurrent);
  RS_TEST_DONE();
}
