/* tests/unit/test_router.c — the route table: every match-order rule, HEAD
 * via GET, exact and wildcard hosts, prefixes, ":params", refusals,
 * concurrent matching, and a micro-benchmark (printed, not asserted). */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <time.h>

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

/* The status of the matched route, 0 for none; its params as "a=1,b=2" in
 * ps (when ps is not NULL). */
static int stp(const rs_router_t *rt, unsigned method, const char *host,
               const char *path, char *ps, size_t pslen) {
  rs_route_param_t params[RS_ROUTE_MAX_PARAMS];
  size_t n = RS_ROUTE_MAX_PARAMS;
  const rs_route_t *r = rs_router_match(rt, method, host, host ? strlen(host) : 0,
                                        path, strlen(path), params, &n);
  if (ps != NULL) {
    size_t off = 0;
    ps[0] = '\0';
    for (size_t i = 0; i < n && off < pslen; i++)
      off += (size_t)snprintf(ps + off, pslen - off, "%s%.*s=%.*s", i ? "," : "",
                              (int)params[i].name.len, params[i].name.p,
                              (int)params[i].value.len, params[i].value.p);
  }
  if (r == NULL && n != 0) return -1;          /* no route, no params */
  return r ? r->respond.status : 0;
}

static int st(const rs_router_t *rt, unsigned method, const char *host,
              const char *path) {
  return stp(rt, method, host, path, NULL, 0);
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
  add(rt, RS_M_GET, "x.com", "/exact", 0, 3);
  add(rt, RS_M_GET, NULL, "/*", 0, 4);
  /* The host is chosen first, then the path (nginx: server, then location):
   * a shorter prefix of the request's host beats a longer one without. */
  ASSERT_EQ(st(rt, RS_M_GET, "x.com", "/a/b/c"), 2);
  ASSERT_EQ(st(rt, RS_M_GET, "y.com", "/a/b/c"), 1);
  ASSERT_EQ(st(rt, RS_M_GET, "x.com", "/a/c"), 2);
  ASSERT_EQ(st(rt, RS_M_GET, "y.com", "/a/c"), 4);
  /* No route of x.com fits: the routes without a host get their turn. */
  ASSERT_EQ(st(rt, RS_M_GET, "x.com", "/b"), 4);
  ASSERT_EQ(st(rt, RS_M_GET, "x.com", "/exact"), 3);
  ASSERT_EQ(st(rt, RS_M_POST, "x.com", "/exact"), 0);
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
    /* not the canonical form requests are matched in */
    { NULL, "//a", "path must not have empty, '.' or '..' segments (requests are matched with them resolved)" },
    { NULL, "/a//*", "path must not have empty, '.' or '..' segments (requests are matched with them resolved)" },
    { NULL, "/a/./b", "path must not have empty, '.' or '..' segments (requests are matched with them resolved)" },
    { NULL, "/a/..", "path must not have empty, '.' or '..' segments (requests are matched with them resolved)" },
    { NULL, "/caf\xc3\xa9", "path must percent-encode non-ASCII bytes and '\"<>`{}', in upper-case %XX" },
    { NULL, "/a{b}", "path must percent-encode non-ASCII bytes and '\"<>`{}', in upper-case %XX" },
    { NULL, "/caf%c3%a9", "a %-escape in a path is '%' and two upper-case hex digits" },
    { NULL, "/a%2", "a %-escape in a path is '%' and two upper-case hex digits" },
    { NULL, "/secret%2Fx", "path must not percent-encode a byte requests are matched with as itself (write '/' for %2F, 'a' for %61)" },
    { NULL, "/%73ecret", "path must not percent-encode a byte requests are matched with as itself (write '/' for %2F, 'a' for %61)" },
    { NULL, "/a#b", "path must not contain '?' or '#'" },
    { NULL, "/:/x", "empty ':param' name" },
    { NULL, "/a/:", "empty ':param' name" },
    { NULL, "/:x/:y/:x", "duplicate ':param' name in the path" },
    { NULL, "/a:b", "':' is only allowed at the start of a segment, as in '/:name'" },
    { NULL, "/a/b:c/d", "':' is only allowed at the start of a segment, as in '/:name'" },
    { NULL, "/::x", "a ':param' name is letters, digits or '_' up to the next '/'" },
    { NULL, "/:x:y", "a ':param' name is letters, digits or '_' up to the next '/'" },
    { NULL, "/:id.json", "a ':param' name is letters, digits or '_' up to the next '/'" },
    { NULL, "/:id*", "a ':param' name is letters, digits or '_' up to the next '/'" },
    { NULL, "/:*", "a ':param' name is letters, digits or '_' up to the next '/'" },
    { NULL, "/:x-y", "a ':param' name is letters, digits or '_' up to the next '/'" },
    { NULL, "/a/*/:id", "a ':param' cannot follow '*'" },
    { NULL, "/*:id", "'*' is only allowed at the end of a path" },
    { NULL, "/:a/:b/:c/:d/:e/:f/:g/:h/:i/:j/:k/:l/:m/:n/:o/:p/:q",
      "too many ':param' segments (at most 16)" },
    { "", "/x", "host must not be empty" },
    { ".", "/x", "host must not be empty" },
    { "a.com:80", "/x", "host must not carry a port (the port is ignored when matching)" },
    { "*.a.com:80", "/x", "a wildcard host must be '*.' and a domain, as in '*.example.com'" },
    { "a b", "/x", "host must be a plain host name" },
    { "*", "/x", "a wildcard host must be '*.' and a domain, as in '*.example.com'" },
    { "*.", "/x", "a wildcard host must be '*.' and a domain, as in '*.example.com'" },
    { "*a.com", "/x", "a wildcard host must be '*.' and a domain, as in '*.example.com'" },
    { "a.*.com", "/x", "a wildcard host must be '*.' and a domain, as in '*.example.com'" },
    { "a.com.*", "/x", "a wildcard host must be '*.' and a domain, as in '*.example.com'" },
    { "*.*.a.com", "/x", "a wildcard host must be '*.' and a domain, as in '*.example.com'" },
    { "*..a.com", "/x", "a wildcard host must be '*.' and a domain, as in '*.example.com'" },
    { "**.a.com", "/x", "a wildcard host must be '*.' and a domain, as in '*.example.com'" },
    { "*.[::1]", "/x", "a wildcard host must be '*.' and a domain, as in '*.example.com'" },
  };
  rs_router_t *rt = rs_router_create();
  for (size_t i = 0; i < RS_ARRAY_SIZE(bad); i++) {
    const char *why = NULL;
    /* The route is freed on refusal: ASan builds check it. */
    ASSERT_EQ(rs_router_add(rt, mk(RS_M_GET, bad[i].host, bad[i].path, 0, 200), &why),
              -EINVAL);
    ASSERT_STR_EQ(why, bad[i].why);
  }
  static const struct { const char *host, *path; } good[] = {
    { NULL, "/:id" }, { NULL, "/a/:Id_2/*" }, { NULL, "/:x/:y/" }, { NULL, "/:x/b*" },
    { NULL, "/:a/:b/:c/:d/:e/:f/:g/:h/:i/:j/:k/:l/:m/:n/:o/:p" },   /* 16 */
    { "*.a.com", "/x" }, { "*.A.Com.", "/x" }, { "*.com", "/x" }, { "a-b.c", "/x" },
  };
  for (size_t i = 0; i < RS_ARRAY_SIZE(good); i++) {
    const char *why = "(none)";
    int rc = rs_router_add(rt, mk(RS_M_GET, good[i].host, good[i].path, 0, 200), &why);
    if (rc != 0) fprintf(stderr, "# %s %s: %s\n", good[i].host, good[i].path, why);
    ASSERT_EQ(rc, 0);
  }
  ASSERT_STR_EQ(rs_router_get(rt, 6)->host, "*.a.com");     /* lower-cased, no dot */
  ASSERT_EQ(rs_router_count(rt), RS_ARRAY_SIZE(good));
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

/* Table-driven checks: routes (declared in order, status = index + 1), then
 * requests with the status and params expected. */
typedef struct {
  unsigned methods;
  const char *host, *path;
  int priority;
} rt_def_t;

typedef struct {
  unsigned method;
  const char *host, *path;
  int status;                    /* 0: no route */
  const char *params;            /* "name=value,..." in path order */
} rt_case_t;

static rs_router_t *build(const rt_def_t *defs, size_t n) {
  rs_router_t *rt = rs_router_create();
  for (size_t i = 0; i < n; i++)
    add(rt, defs[i].methods, defs[i].host, defs[i].path, defs[i].priority, (int)i + 1);
  return rt;
}

/* The number of cases that fail, each printed. */
static int check_cases(const rs_router_t *rt, const rt_case_t *cases, size_t n,
                       bool quiet) {
  int bad = 0;
  char ps[256];
  for (size_t i = 0; i < n; i++) {
    const rt_case_t *c = &cases[i];
    int got = stp(rt, c->method, c->host, c->path, ps, sizeof(ps));
    if (got == c->status && strcmp(ps, c->params) == 0) continue;
    bad++;
    if (!quiet)
      fprintf(stderr, "# case %zu: %s %s%s: want %d {%s}, got %d {%s}\n", i,
              c->host ? c->host : "(no host)", c->path,
              c->method == RS_M_HEAD ? " (HEAD)" : c->method == RS_M_POST ? " (POST)" : "",
              c->status, c->params, got, ps);
  }
  return bad;
}

static const rt_def_t params_defs[] = {
  { RS_M_GET, NULL, "/product/new", 0 },            /* 1 */
  { RS_M_GET, NULL, "/product/:id", 0 },            /* 2 */
  { RS_M_GET, NULL, "/product/:id/reviews", 0 },    /* 3 */
  { RS_M_GET, NULL, "/catalog/:slug", 0 },          /* 4 */
  { RS_M_GET, NULL, "/catalog/:slug/page/:n", 0 },  /* 5 */
  { RS_M_GET, NULL, "/files/:bucket/*", 0 },        /* 6 */
  { RS_M_GET, NULL, "/files/*", 0 },                /* 7 */
  { RS_M_GET, NULL, "/files/:bucket/docs/*", 0 },   /* 8 */
  { RS_M_GET, NULL, "/u/:uid/posts/:pid", 0 },      /* 9 */
  { RS_M_GET, NULL, "/u/:uid/posts/latest", 0 },    /* 10 */
  { RS_M_GET, NULL, "/u/me/posts/:pid", 0 },        /* 11 */
  { RS_M_GET, NULL, "/a/:x/c", 0 },                 /* 12 */
  { RS_M_GET, NULL, "/a/b/:y/z", 0 },               /* 13 */
  { RS_M_GET, NULL, "/t/:x/:y", 0 },                /* 14 */
  { RS_M_GET, NULL, "/t/:x/*", 0 },                 /* 15 */
  { RS_M_GET, NULL, "/t/:x/ab*", 0 },               /* 16 */
  { RS_M_GET, NULL, "/t/:x/a*", 0 },                /* 17 */
  { RS_M_GET, NULL, "/api/v2/*", 0 },               /* 18 */
  { RS_M_GET, NULL, "/api/:version/*", 0 },         /* 19 */
  { RS_M_GET, NULL, "/api/v2/status", 0 },          /* 20 */
  { RS_M_GET, NULL, "/s/:x/", 0 },                  /* 21 */
  { RS_M_GET, NULL, "/*", 100 },                    /* 22: priority never crosses kinds */
  { RS_M_GET, NULL, "/:page", 0 },                  /* 23 */
  { RS_M_POST, NULL, "/product/:id", 0 },           /* 24 */
  { RS_M_GET, NULL, "/m/:x", 0 },                   /* 25 */
  { RS_M_POST, NULL, "/m/fixed", 0 },               /* 26 */
  { RS_M_POST, NULL, "/n/fixed", 0 },               /* 27 */
  { RS_M_POST, NULL, "/n/:x", 0 },                  /* 28 */
  { RS_M_GET, NULL, "/n/*", 0 },                    /* 29 */
};

static const rt_case_t params_cases[] = {
  /* exact > params > prefix; per segment: static > param > '*' */
  { RS_M_GET, NULL, "/product/new", 1, "" },
  { RS_M_GET, NULL, "/product/42", 2, "id=42" },
  { RS_M_HEAD, NULL, "/product/42", 2, "id=42" },
  { RS_M_POST, NULL, "/product/42", 24, "id=42" },
  { RS_M_GET, NULL, "/product/a%3Fb", 2, "id=a%3Fb" },          /* a slice of the path as given */
  { RS_M_GET, NULL, "/product/42/reviews", 3, "id=42" },
  { RS_M_GET, NULL, "/product/new/reviews", 3, "id=new" },      /* backtracks */
  { RS_M_GET, NULL, "/product/42/other", 22, "" },
  { RS_M_GET, NULL, "/product/", 22, "" },                      /* a param is never empty */
  { RS_M_GET, NULL, "/product", 23, "page=product" },
  { RS_M_GET, NULL, "/catalog/shoes", 4, "slug=shoes" },
  { RS_M_GET, NULL, "/catalog/shoes/page/3", 5, "slug=shoes,n=3" },
  { RS_M_GET, NULL, "/catalog/shoes/page/", 22, "" },
  { RS_M_GET, NULL, "/catalog//page/3", 22, "" },
  { RS_M_GET, NULL, "/catalog/shoes/", 22, "" },
  { RS_M_GET, NULL, "/files/b1/a/b.txt", 6, "bucket=b1" },
  { RS_M_GET, NULL, "/files/b1/", 6, "bucket=b1" },             /* '*' may be empty */
  { RS_M_GET, NULL, "/files/b1", 7, "" },                       /* "/:bucket/" then the rest */
  { RS_M_GET, NULL, "/files/", 7, "" },
  { RS_M_GET, NULL, "/files/b1/docs/x", 8, "bucket=b1" },
  { RS_M_GET, NULL, "/files/b1/docs/", 8, "bucket=b1" },
  { RS_M_GET, NULL, "/files/b1/docs", 6, "bucket=b1" },
  { RS_M_GET, NULL, "/files/b1/docsx", 6, "bucket=b1" },
  { RS_M_GET, NULL, "/u/7/posts/5", 9, "uid=7,pid=5" },
  { RS_M_GET, NULL, "/u/7/posts/latest", 10, "uid=7" },
  { RS_M_GET, NULL, "/u/me/posts/latest", 11, "pid=latest" },   /* the first difference decides */
  { RS_M_GET, NULL, "/u/me/posts/5", 11, "pid=5" },
  { RS_M_GET, NULL, "/a/b/c", 12, "x=b" },                      /* backtracks, drops y */
  { RS_M_GET, NULL, "/a/b/q/z", 13, "y=q" },
  { RS_M_GET, NULL, "/a/b/q/z/", 22, "" },
  { RS_M_GET, NULL, "/t/1/2", 14, "x=1,y=2" },
  { RS_M_GET, NULL, "/t/1/abc", 14, "x=1,y=abc" },              /* param > '*' */
  { RS_M_GET, NULL, "/t/1/2/3", 15, "x=1" },                    /* more segments, then '*' */
  { RS_M_GET, NULL, "/t/1/abc/d", 16, "x=1" },                  /* longer text before '*' */
  { RS_M_GET, NULL, "/t/1/ax/d", 17, "x=1" },
  { RS_M_GET, NULL, "/t/1/", 15, "x=1" },
  { RS_M_GET, NULL, "/t/1", 22, "" },
  { RS_M_GET, NULL, "/api/v2/status", 20, "" },
  { RS_M_GET, NULL, "/api/v2/users", 19, "version=v2" },        /* params > prefix */
  { RS_M_GET, NULL, "/api/v3/x", 19, "version=v3" },
  { RS_M_GET, NULL, "/api/v2", 22, "" },
  { RS_M_GET, NULL, "/s/x/", 21, "x=x" },
  { RS_M_GET, NULL, "/s/x", 22, "" },
  { RS_M_GET, NULL, "/hello", 23, "page=hello" },
  { RS_M_GET, NULL, "/", 22, "" },
  { RS_M_GET, NULL, "/m/fixed", 25, "x=fixed" },                /* method skips to the param */
  { RS_M_POST, NULL, "/m/fixed", 26, "" },
  { RS_M_GET, NULL, "/n/fixed", 29, "" },                       /* ...and on to the prefix */
  { RS_M_POST, NULL, "/n/other", 28, "x=other" },
  { RS_M_DELETE, NULL, "/n/other", 0, "" },
  { RS_M_GET, NULL, "", 0, "" },
  { RS_M_GET, NULL, "*", 0, "" },
};

static void test_params(void) {
  rs_router_t *rt = build(params_defs, RS_ARRAY_SIZE(params_defs));
  ASSERT_EQ(rs_router_count(rt), RS_ARRAY_SIZE(params_defs));
  ASSERT_EQ(check_cases(rt, params_cases, RS_ARRAY_SIZE(params_cases), false), 0);
  rs_router_destroy(rt);
}

static void test_params_priority(void) {
  static const rt_def_t defs[] = {
    { RS_M_GET, NULL, "/p/:id", 0 },              /* 1 */
    { RS_M_GET, NULL, "/p/:pid", 5 },             /* 2: same shape, higher priority */
    { RS_M_GET, NULL, "/q/:a", 0 },               /* 3 */
    { RS_M_GET, NULL, "/q/:b", 0 },               /* 4: declared later */
    { RS_M_HEAD, NULL, "/h/:x", 0 },              /* 5 */
    { RS_M_GET, NULL, "/h/:y", 9 },               /* 6 */
    { RS_M_GET, NULL, "/r/:a/*", 0 },             /* 7 */
    { RS_M_GET, NULL, "/r/:b/*", 1 },             /* 8 */
  };
  static const rt_case_t cases[] = {
    { RS_M_GET, NULL, "/p/x", 2, "pid=x" },
    { RS_M_GET, NULL, "/q/x", 3, "a=x" },
    { RS_M_GET, NULL, "/h/1", 6, "y=1" },
    { RS_M_HEAD, NULL, "/h/1", 5, "x=1" },        /* an explicit HEAD route wins */
    { RS_M_GET, NULL, "/r/1/2", 8, "b=1" },
  };
  rs_router_t *rt = build(defs, RS_ARRAY_SIZE(defs));
  ASSERT_EQ(check_cases(rt, cases, RS_ARRAY_SIZE(cases), false), 0);
  rs_router_destroy(rt);
}

static const rt_def_t hosts_defs[] = {
  { RS_M_GET, NULL, "/", 0 },                     /* 1 */
  { RS_M_GET, "example.com", "/", 0 },            /* 2 */
  { RS_M_GET, "*.example.com", "/", 0 },          /* 3 */
  { RS_M_GET, "*.b.example.com", "/", 0 },        /* 4 */
  { RS_M_GET, "*.example.com", "/only-wild", 0 }, /* 5 */
  { RS_M_GET, NULL, "/only-any", 0 },             /* 6 */
  { RS_M_GET, "*.example.com", "/p/:id", 0 },     /* 7 */
  { RS_M_GET, NULL, "/p/new", 0 },                /* 8 */
  { RS_M_GET, "*.Example.ORG.", "/x/*", 0 },      /* 9 */
  { RS_M_GET, NULL, "/x/y", 0 },                  /* 10 */
  { RS_M_POST, "*.example.com", "/post", 0 },     /* 11 */
  { RS_M_GET, NULL, "/post", 0 },                 /* 12 */
  { RS_M_GET, "[::1]", "/", 0 },                  /* 13 */
  { RS_M_GET, "*.com", "/tld", 0 },               /* 14 */
};

static const rt_case_t hosts_cases[] = {
  /* exact host > longest wildcard suffix > shorter one > no host */
  { RS_M_GET, "example.com", "/", 2, "" },
  { RS_M_GET, "EXAMPLE.com.:443", "/", 2, "" },
  { RS_M_GET, "a.example.com", "/", 3, "" },
  { RS_M_GET, "A.Example.Com:8080", "/", 3, "" },
  { RS_M_GET, "a.example.com.", "/", 3, "" },
  { RS_M_GET, "a.b.example.com", "/", 4, "" },
  { RS_M_GET, "x.a.b.example.com", "/", 4, "" },                /* any depth */
  { RS_M_GET, "b.example.com", "/", 3, "" },                    /* "*.b..." needs a label */
  { RS_M_GET, ".example.com", "/", 1, "" },
  { RS_M_GET, "example.com.evil.org", "/", 1, "" },
  { RS_M_GET, "notexample.com", "/", 1, "" },
  { RS_M_GET, "[::1]:8080", "/", 13, "" },
  { RS_M_GET, NULL, "/", 1, "" },
  { RS_M_GET, "", "/", 1, "" },
  { RS_M_GET, ":80", "/", 1, "" },
  /* falling back a host class at a time */
  { RS_M_GET, "example.com", "/only-wild", 0, "" },             /* "*.example.com" is not example.com */
  { RS_M_GET, "a.b.example.com", "/only-wild", 5, "" },
  { RS_M_GET, "a.example.com", "/only-any", 6, "" },
  { RS_M_GET, "example.com", "/only-any", 6, "" },
  /* the host first, then the path */
  { RS_M_GET, "a.example.com", "/p/new", 7, "id=new" },
  { RS_M_GET, "example.com", "/p/new", 8, "" },
  { RS_M_GET, "other.org", "/p/new", 8, "" },
  { RS_M_GET, "a.example.org", "/x/y", 9, "" },
  { RS_M_GET, "example.org", "/x/y", 10, "" },
  { RS_M_GET, "a.example.com", "/post", 12, "" },               /* the method does not fit */
  { RS_M_POST, "a.example.com", "/post", 11, "" },
  { RS_M_POST, "example.com", "/post", 0, "" },
  { RS_M_GET, "a.b.example.com", "/tld", 14, "" },
  { RS_M_GET, "com", "/tld", 0, "" },
};

static void test_wildcard_hosts(void) {
  rs_router_t *rt = build(hosts_defs, RS_ARRAY_SIZE(hosts_defs));
  ASSERT_STR_EQ(rs_router_get(rt, 8)->host, "*.example.org");
  ASSERT_EQ(rs_router_get(rt, 8)->_host_len, 13);
  ASSERT_EQ(check_cases(rt, hosts_cases, RS_ARRAY_SIZE(hosts_cases), false), 0);
  rs_router_destroy(rt);

  /* Many hosts: the site table grows. */
  rt = rs_router_create();
  char host[64];
  for (int i = 0; i < 300; i++) {
    snprintf(host, sizeof(host), "h%d.test", i);
    add(rt, RS_M_GET, host, "/", 0, 1000 + i);
    snprintf(host, sizeof(host), "*.w%d.test", i);
    add(rt, RS_M_GET, host, "/", 0, 2000 + i);
  }
  for (int i = 0; i < 300; i++) {
    snprintf(host, sizeof(host), "H%d.TEST", i);
    ASSERT_EQ(st(rt, RS_M_GET, host, "/"), 1000 + i);
    snprintf(host, sizeof(host), "a.w%d.test:1", i);
    ASSERT_EQ(st(rt, RS_M_GET, host, "/"), 2000 + i);
  }
  ASSERT_EQ(st(rt, RS_M_GET, "w1.test", "/"), 0);
  rs_router_destroy(rt);
}

static void test_params_out(void) {
  rs_router_t *rt = rs_router_create();
  add(rt, RS_M_GET, NULL, "/c/:a/:b/:c", 0, 1);
  add(rt, RS_M_GET, NULL, "/e", 0, 2);
  rs_route_param_t p[3];
  memset(p, 0xab, sizeof(p));
  size_t n = 2;                                   /* capacity 2 of 3 */
  const rs_route_t *r = rs_router_match(rt, RS_M_GET, NULL, 0, "/c/x/yy/z", 9, p, &n);
  ASSERT(r != NULL && r->respond.status == 1);
  ASSERT_EQ(n, 2);
  ASSERT_MEM_EQ(p[0].name.p, p[0].name.len, "a", 1);
  ASSERT_MEM_EQ(p[1].name.p, p[1].name.len, "b", 1);
  ASSERT_MEM_EQ(p[1].value.p, p[1].value.len, "yy", 2);
  ASSERT_EQ(p[2].name.len, 0xababababababababull);              /* untouched */
  const char *path = "/c/x/yy/z";
  ASSERT(p[1].value.p == path + 5 || p[1].value.len == 2);      /* a slice, no copy */

  n = 0;                                          /* capacity 0 */
  ASSERT(rs_router_match(rt, RS_M_GET, NULL, 0, "/c/1/2/3", 8, p, &n) == r);
  ASSERT_EQ(n, 0);
  ASSERT(rs_router_match(rt, RS_M_GET, NULL, 0, "/c/1/2/3", 8, NULL, NULL) == r);
  n = 3;
  ASSERT(rs_router_match(rt, RS_M_GET, NULL, 0, "/c/1/2/3", 8, NULL, &n) == r);
  ASSERT_EQ(n, 0);
  n = 3;                                          /* a route without params */
  ASSERT(rs_router_match(rt, RS_M_GET, NULL, 0, "/e", 2, p, &n) == rs_router_get(rt, 1));
  ASSERT_EQ(n, 0);
  n = 3;                                          /* no route */
  ASSERT(rs_router_match(rt, RS_M_GET, NULL, 0, "/c/1/2", 6, p, &n) == NULL);
  ASSERT_EQ(n, 0);
  n = 3;                                          /* the values point into the path */
  char buf[] = "/c/1/22/333";
  ASSERT(rs_router_match(rt, RS_M_GET, NULL, 0, buf, strlen(buf), p, &n) == r);
  ASSERT_EQ(n, 3);
  ASSERT(p[0].value.p == buf + 3 && p[0].value.len == 1);
  ASSERT(p[1].value.p == buf + 5 && p[1].value.len == 2);
  ASSERT(p[2].value.p == buf + 8 && p[2].value.len == 3);
  ASSERT(p[2].name.p == rs_router_get(rt, 0)->path + 10 && p[2].name.len == 1);
  rs_router_destroy(rt);
}

/* Many ":param" routes in one trie, and the deepest one allowed. */
static void test_many_params(void) {
  rs_router_t *rt = rs_router_create();
  char path[128];
  for (int i = 0; i < 500; i++) {
    snprintf(path, sizeof(path), "/m/:id/k%d", i);
    add(rt, RS_M_GET, NULL, path, 0, 1000 + i);
    snprintf(path, sizeof(path), "/m/s%d/:id", i);
    add(rt, RS_M_GET, NULL, path, 0, 2000 + i);
  }
  add(rt, RS_M_GET, NULL, "/:a/:b/:c/:d/:e/:f/:g/:h/:i/:j/:k/:l/:m/:n/:o/:p", 0, 7);
  char ps[512];
  for (int i = 0; i < 500; i++) {
    snprintf(path, sizeof(path), "/m/s%d/k%d", i, i);       /* static segment first */
    ASSERT_EQ(stp(rt, RS_M_GET, NULL, path, ps, sizeof(ps)), 2000 + i);
    snprintf(path, sizeof(path), "id=k%d", i);
    ASSERT_STR_EQ(ps, path);
    snprintf(path, sizeof(path), "/m/x%d/k%d", i, i);
    ASSERT_EQ(stp(rt, RS_M_GET, NULL, path, ps, sizeof(ps)), 1000 + i);
  }
  ASSERT_EQ(stp(rt, RS_M_GET, NULL, "/1/2/3/4/5/6/7/8/9/10/11/12/13/14/15/16", ps, sizeof(ps)), 7);
  ASSERT_STR_EQ(ps, "a=1,b=2,c=3,d=4,e=5,f=6,g=7,h=8,i=9,j=10,k=11,l=12,m=13,n=14,o=15,p=16");
  ASSERT_EQ(st(rt, RS_M_GET, NULL, "/1/2/3/4/5/6/7/8/9/10/11/12/13/14/15/16/17"), 0);
  rs_router_destroy(rt);
}

/* Loop threads match at once, with params and wildcard hosts; run under
 * -DSANITIZE=thread to check. */
typedef struct { const rs_router_t *params, *hosts; int loops, bad; } rs__ctx_t;

static void *rs__matcher(void *arg) {
  rs__ctx_t *c = arg;
  for (int i = 0; i < c->loops; i++) {
    c->bad += check_cases(c->params, params_cases, RS_ARRAY_SIZE(params_cases), true);
    c->bad += check_cases(c->hosts, hosts_cases, RS_ARRAY_SIZE(hosts_cases), true);
  }
  return NULL;
}

static void test_concurrent(void) {
  rs_router_t *rp = build(params_defs, RS_ARRAY_SIZE(params_defs));
  rs_router_t *rh = build(hosts_defs, RS_ARRAY_SIZE(hosts_defs));
  enum { N = 8 };
  pthread_t t[N];
  rs__ctx_t c[N];
  for (int i = 0; i < N; i++) {
    c[i] = (rs__ctx_t){ rp, rh, 2000, 0 };
    ASSERT_EQ(pthread_create(&t[i], NULL, rs__matcher, &c[i]), 0);
  }
  for (int i = 0; i < N; i++) pthread_join(t[i], NULL);
  for (int i = 0; i < N; i++) ASSERT_EQ(c[i].bad, 0);
  rs_router_destroy(rp);
  rs_router_destroy(rh);
}

/* Matches per second on a table of about 50 routes (exact paths, prefixes,
 * params, exact and wildcard hosts). Printed, never asserted: timing depends
 * on the machine, and sanitizer builds are slow. */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define RS__BENCH_N 20000
#else
#define RS__BENCH_N 2000000
#endif

/* CPU time of this thread: the machine may be busy with other work. */
static double rs__now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int rs__bench(const rs_router_t *rt, const char *label, const char *host,
                     const char *const *paths, size_t np, int expect_min) {
  size_t hl = host ? strlen(host) : 0, lens[8];
  for (size_t i = 0; i < np; i++) lens[i] = strlen(paths[i]);
  double best = 0;
  int bad = 0;
  for (int rep = 0; rep < 3; rep++) {
    double t0 = rs__now();
    for (int i = 0; i < RS__BENCH_N; i++) {
      rs_route_param_t p[RS_ROUTE_MAX_PARAMS];
      size_t n = RS_ROUTE_MAX_PARAMS, k = (size_t)i % np;
      const rs_route_t *r = rs_router_match(rt, RS_M_GET, host, hl, paths[k], lens[k], p, &n);
      if (r == NULL || r->respond.status < expect_min) bad++;
    }
    double rate = RS__BENCH_N / (rs__now() - t0);
    if (rate > best) best = rate;
  }
  printf("# bench %-32s %7.1f M matches/s\n", label, best / 1e6);
  return bad;
}

static void test_bench(void) {
  rs_router_t *rt = rs_router_create();
  static const char *const exact[] = { "/", "/health", "/about", "/contact", "/login",
    "/logout", "/api/v1/status", "/api/v1/users", "/api/v1/orders", "/blog",
    "/blog/archive", "/pricing", "/docs", "/docs/getting-started", "/terms", "/privacy",
    "/robots.txt", "/favicon.ico", "/sitemap.xml", "/product/new" };
  for (size_t i = 0; i < RS_ARRAY_SIZE(exact); i++) add(rt, RS_M_GET, NULL, exact[i], 0, 100);
  static const char *const pre[] = { "/static/*", "/assets/*", "/assets/img/*", "/api/*",
    "/api/v1/*", "/docs/*", "/blog/*", "/files/*", "/dl*", "/*" };
  for (size_t i = 0; i < RS_ARRAY_SIZE(pre); i++) add(rt, RS_M_GET, NULL, pre[i], 0, 200);
  static const char *const hosted[][2] = { { "example.com", "/" }, { "example.com", "/about" },
    { "admin.example.com", "/" }, { "admin.example.com", "/api/*" },
    { "api.example.com", "/v1/*" }, { "shop.example.org", "/cart" },
    { "*.example.com", "/" }, { "*.example.com", "/product/:id" },
    { "*.shop.example.com", "/*" }, { "*.example.org", "/x/*" } };
  for (size_t i = 0; i < RS_ARRAY_SIZE(hosted); i++)
    add(rt, RS_M_GET, hosted[i][0], hosted[i][1], 0, 300);
  static const char *const par[] = { "/product/:id", "/product/:id/reviews", "/catalog/:slug",
    "/catalog/:slug/page/:n", "/files/:bucket/*", "/user/:uid/posts/:pid", "/user/:uid",
    "/api/v1/users/:id", "/api/v1/orders/:id/items/:item", "/blog/:year/:month/:slug" };
  for (size_t i = 0; i < RS_ARRAY_SIZE(par); i++) add(rt, RS_M_GET, NULL, par[i], 0, 400);
  printf("# bench: %zu routes\n", rs_router_count(rt));

  static const char *const q_exact[] = { "/", "/health", "/api/v1/status",
    "/docs/getting-started", "/sitemap.xml", "/product/new" };
  static const char *const q_pre[] = { "/static/app.js", "/assets/img/logo.png", "/api/v2/x",
    "/nothing/here" };
  static const char *const q_par[] = { "/product/42", "/catalog/shoes/page/3",
    "/files/b1/a/b.txt", "/api/v1/orders/7/items/9" };
  int bad = 0;
  bad += rs__bench(rt, "exact, no Host", NULL, q_exact, 6, 100);
  bad += rs__bench(rt, "exact, Host example.com:8080", "example.com:8080", q_exact, 6, 100);
  bad += rs__bench(rt, "exact, Host www.example.net", "www.example.net", q_exact, 6, 100);
  bad += rs__bench(rt, "prefix, no Host", NULL, q_pre, 4, 200);
  bad += rs__bench(rt, "params, no Host", NULL, q_par, 4, 400);
  bad += rs__bench(rt, "params, Host a.b.example.com", "a.b.example.com", q_par, 4, 300);
  ASSERT_EQ(bad, 0);
  rs_router_destroy(rt);
}

/* rs_router_shadowed names the routes an earlier equal one hides, and only
 * those; each claim is checked against rs_router_match itself. */
static void test_shadowed(void) {
  rs_router_t *rt = rs_router_create();
  add(rt, RS_M_GET, NULL, "/blog/:slug", 0, 201);
  add(rt, RS_M_GET, NULL, "/blog/:id", 0, 202);            /* never */
  add(rt, RS_M_GET | RS_M_POST, NULL, "/x", 0, 203);
  add(rt, RS_M_POST | RS_M_PUT, NULL, "/x", 0, 204);        /* PUT only */
  add(rt, RS_M_HEAD, NULL, "/x", 0, 205);                   /* outranks GET's HEAD */
  add(rt, RS_M_GET, NULL, "/y", 0, 206);                    /* never: 207 has priority */
  add(rt, RS_M_GET, NULL, "/y", 5, 207);
  add(rt, RS_M_GET, "a.com", "/z", 0, 208);
  add(rt, RS_M_GET, NULL, "/z", 0, 209);                    /* other host class: fine */
  add(rt, RS_M_GET, NULL, "/p*", 0, 210);
  add(rt, RS_M_GET, NULL, "/p/:a", 0, 211);                 /* other shape: fine */
  for (size_t i = 0; i < rs_router_count(rt); i++) {
    rs_route_t *r = (rs_route_t *)rs_router_get(rt, i);
    char w[32];
    snprintf(w, sizeof(w), "t.lua:%d", r->respond.status);
    r->where = rs_xstrdup(w);
  }
  rs_buf_t out = { 0 };
  ASSERT_EQ(rs_router_shadowed(rt, &out), 3);
  ASSERT(strstr(out.p, "t.lua:202: route GET /blog/:id can never match: t.lua:201 (GET /blog/:slug)") != NULL);
  ASSERT(strstr(out.p, "t.lua:204: route POST,PUT /x never answers POST: t.lua:203 (GET,POST /x)") != NULL);
  ASSERT(strstr(out.p, "t.lua:206: route GET /y can never match: t.lua:207 (GET /y)") != NULL);
  /* The claims hold. */
  ASSERT_EQ(stp(rt, RS_M_GET, NULL, "/blog/a", NULL, 0), 201);
  ASSERT_EQ(stp(rt, RS_M_POST, NULL, "/x", NULL, 0), 203);
  ASSERT_EQ(stp(rt, RS_M_PUT, NULL, "/x", NULL, 0), 204);
  ASSERT_EQ(stp(rt, RS_M_HEAD, NULL, "/x", NULL, 0), 205);
  ASSERT_EQ(stp(rt, RS_M_GET, NULL, "/y", NULL, 0), 207);
  ASSERT_EQ(stp(rt, RS_M_GET, "a.com", "/z", NULL, 0), 208);
  ASSERT_EQ(stp(rt, RS_M_GET, NULL, "/z", NULL, 0), 209);
  ASSERT_EQ(stp(rt, RS_M_GET, NULL, "/p/q", NULL, 0), 211);
  rs_buf_free(&out);
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
  RS_TEST(test_params);
  RS_TEST(test_params_priority);
  RS_TEST(test_wildcard_hosts);
  RS_TEST(test_params_out);
  RS_TEST(test_many_params);
  RS_TEST(test_shadowed);
  RS_TEST(test_concurrent);
  RS_TEST(test_bench);
  RS_TEST_DONE();
}
