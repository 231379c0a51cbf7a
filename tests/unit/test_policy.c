/* tests/unit/test_policy.c — a route's cache policy: the options of
 * ssr.route that fill route->cache (every wrong type or value refused with
 * "file:line: reason"), the declarative bypass on cookies, headers and query
 * parameters, storable statuses, and ssr.purge refused at load. */
#include "rs_cache.h"
#include "rs_config.h"
#include "rs_lconfig.h"
#include "rs_policy.h"
#include "rs_purge.h"
#include "rs_realip.h"
#include "rs_dispatch.h"
#include "tap.h"

/* The chunk's line 3 is next; render routes need a bundle (not loaded here). */
#define P "local ssr = require 'rustyssr'\nssr.config { render = { bundle = 'b.js' } }\n"

static char err[1024];

static int run(const char *chunk, rs_config_t *cfg) {
  rs_config_init(cfg);
  err[0] = '\0';
  return rs_lconfig_check_string(chunk, "t.lua", cfg, err, sizeof(err));
}

static void test_errors(void) {
  static const struct { const char *chunk, *msg; } cases[] = {
    { P "ssr.route('GET', '/x', { render = true, ttl = -1 })",
      "t.lua:3: ssr.route: 'ttl' must be an integer between 0 and 31536000, got number -1" },
    { P "ssr.route('GET', '/x', { render = true, grace = 'long' })",
      "t.lua:3: ssr.route: 'grace' must be an integer between 0 and 31536000, got string \"long\"" },
    { P "ssr.route('GET', '/x', { render = { ttl = 5 }, ttl = 10 })",
      "t.lua:3: ssr.route: give 'ttl' once: at the top level or in 'render', not both" },
    { P "ssr.route('GET', '/x', { render = { grace = 5 }, grace = 10 })",
      "t.lua:3: ssr.route: give 'grace' once: at the top level or in 'render', not both" },
    { P "ssr.route('GET', '/x', { respond = { status = 200 }, ttl = 10 })",
      "t.lua:3: ssr.route: 'ttl' is a cache policy: it goes with 'render' (a route that caches)" },
    { P "ssr.route('GET', '/x', { redirect = '/y', tags = { 'a' } })",
      "t.lua:3: ssr.route: 'tags' is a cache policy: it goes with 'render' (a route that caches)" },
    { P "ssr.route('GET', '/x', { respond = {}, bypass = { cookie = 's' } })",
      "t.lua:3: ssr.route: 'bypass' is a cache policy: it goes with 'render' (a route that caches)" },
    { P "ssr.route('GET', '/x', { render = true, bypass = 'session' })",
      "t.lua:3: ssr.route: 'bypass' must be a function(req) or a table "
      "{ cookie = ..., header = ..., query = ... }, got string \"session\"" },
    { P "ssr.route('GET', '/x', { render = true, bypass = { cookies = 's' } })",
      "t.lua:3: unknown key 'cookies' in ssr.route bypass (did you mean 'cookie'?)" },
    { P "ssr.route('GET', '/x', { render = true, bypass = {} })",
      "t.lua:3: ssr.route: 'bypass' names nothing: give cookie, header and/or query, as in "
      "bypass = { cookie = \"session\" }" },
    { P "ssr.route('GET', '/x', { render = true, bypass = { cookie = 5 } })",
      "t.lua:3: ssr.route: 'bypass.cookie' must be a string or a list of strings, got number 5" },
    { P "ssr.route('GET', '/x', { render = true, bypass = { cookie = {} } })",
      "t.lua:3: ssr.route: 'bypass.cookie' is an empty list" },
    { P "ssr.route('GET', '/x', { render = true, bypass = { cookie = '' } })",
      "t.lua:3: ssr.route: 'bypass.cookie' has an empty name" },
    { P "ssr.route('GET', '/x', { render = true, bypass = { header = 'X Preview' } })",
      "t.lua:3: ssr.route: 'bypass.header' name \"X Preview\" has a character not allowed in a header name" },
    { P "ssr.route('GET', '/x', { render = true, bypass = { cookie = 'a;b' } })",
      "t.lua:3: ssr.route: 'bypass.cookie' name \"a;b\" has a character not allowed in a cookie name" },
    { P "ssr.route('GET', '/x', { render = true, bypass = { query = 'a=b' } })",
      "t.lua:3: ssr.route: 'bypass.query' name \"a=b\" has a character not allowed in a query parameter name" },
    { P "ssr.route('GET', '/x', { render = true, bypass = { header = { 'a', x = 'b' } } })",
      "t.lua:3: ssr.route: 'bypass.header' must be a list of names, as in { \"a\", \"b\" }" },
    { P "ssr.route('GET', '/x', { render = true, bypass = { query = { 'a', 7 } } })",
      "t.lua:3: ssr.route: 'bypass.query' must be a string or a list of strings, got number 7" },
    { P "ssr.route('GET', '/x', { render = true, tags = 5 })",
      "t.lua:3: ssr.route: 'tags' must be a string or a list of strings, got number 5" },
    { P "ssr.route('GET', '/x', { render = true, tags = { 'a', '' } })",
      "t.lua:3: ssr.route: 'tags' has an empty name" },
    { P "ssr.route('GET', '/x', { render = true, tags = { 'a\\nb' } })",
      "t.lua:3: ssr.route: 'tags' name \"a\nb\" has a character not allowed in a tag" },
    { P "ssr.route('GET', '/x', { render = true, cache_statuses = 200 })",
      "t.lua:3: ssr.route: 'cache_statuses' must be a list of statuses, as in { 200, 404 }, got number 200" },
    { P "ssr.route('GET', '/x', { render = true, cache_statuses = { 200, 199 } })",
      "t.lua:3: ssr.route: 'cache_statuses' must be an integer between 200 and 599, got number 199" },
    { P "ssr.route('GET', '/x', { render = true, cache_statuses = { 200, '404' } })",
      "t.lua:3: ssr.route: 'cache_statuses' must be an integer between 200 and 599, got string \"404\"" },
    { P "ssr.route('GET', '/x', { render = true, cache_statuses = {} })",
      "t.lua:3: ssr.route: 'cache_statuses' is an empty list" },
    { P "ssr.route('GET', '/x', { render = true, cache_cookie = 'yes' })",
      "t.lua:3: ssr.route: 'cache_cookie' must be a boolean, got string \"yes\"" },
    { P "ssr.route('GET', '/x', { render = true, cache_authorization = 1 })",
      "t.lua:3: ssr.route: 'cache_authorization' must be a boolean, got number 1" },
    { P "ssr.route('GET', '/x', { render = true, cache_status = { 200 } })",
      "t.lua:3: unknown key 'cache_status' in ssr.route options (did you mean 'cache_statuses'?)" },
    { P "ssr.route('GET', '/x', { render = true, headers = { 'Host' } })",
      "t.lua:3: ssr.route: 'headers' names host, which every key holds already" },
    { P "ssr.route('GET', '/x', { render = true, headers = { 'a b' } })",
      "t.lua:3: ssr.route: 'headers' name \"a b\" has a character not allowed in a header name" },
    { P "ssr.route('GET', '/x', { render = true, headers = {} })",
      "t.lua:3: ssr.route: 'headers' is an empty list" },
    { P "ssr.route('GET', '/x', { respond = {}, headers = { 'x-a' } })",
      "t.lua:3: ssr.route: 'headers' is a cache policy: it goes with 'render' (a route that caches)" },
    /* ssr.purge exists only while requests are served */
    { P "ssr.purge { tag = 'x' }",
      "t.lua:3: ssr.purge: call it from a hook or a respond handler, while a request is served "
      "(not while the config file loads)" },
  };
  for (size_t i = 0; i < RS_ARRAY_SIZE(cases); i++) {
    rs_config_t c;
    int rc = run(cases[i].chunk, &c);
    if (rc != -1) TAP_FAIL("case %zu accepted: %s", i, cases[i].chunk);
    ASSERT_STR_EQ(err, cases[i].msg);
    rs_config_dispose(&c);
  }
}

static const rs_route_t *route(const rs_config_t *c, const char *path) {
  return rs_router_match(c->router, RS_M_GET, NULL, 0, path, strlen(path), NULL, NULL);
}

static void test_policy_filled(void) {
  rs_config_t c;
  int rc = run(P
    "ssr.route('GET', '/a', { render = true, ttl = 30, grace = 5, tags = { 'catalog', 'ssr' },\n"
    "  bypass = { cookie = { 'session', 'cart' }, header = 'X-Preview', query = { 'preview' } },\n"
    "  cache_statuses = { 200, 410 }, cache_cookie = true, cache_authorization = false })\n"
    "ssr.route('GET', '/b', { render = { ttl = 7 }, tags = 'one' })\n"
    "ssr.route('GET', '/c', { render = true, bypass = function(req) return true end })\n"
    "ssr.route('GET', '/d', { render = true })\n"
    "ssr.route('GET', '/e', { render = true, headers = { 'Accept-Language', 'x-b' },\n"
    "  bypass = { header = 'X-Preview' } })\n"
    "ssr.route('GET', '/f', { render = true, headers = 'X-One' })\n", &c);
  ASSERT_STR_EQ(err, "");
  ASSERT_EQ(rc, 0);
  const rs_route_t *a = route(&c, "/a");
  ASSERT(a != NULL);
  ASSERT_EQ(a->render.ttl_ms, 30000);
  ASSERT_EQ(a->render.grace_ms, 5000);
  ASSERT_EQ(a->cache.ntags, 2);
  ASSERT_STR_EQ(a->cache.tags[0], "catalog");
  ASSERT_STR_EQ(a->cache.tags[1], "ssr");
  ASSERT_STR_EQ(a->cache.bypass_cookie[0], "session");
  ASSERT_STR_EQ(a->cache.bypass_cookie[1], "cart");
  ASSERT(a->cache.bypass_cookie[2] == NULL);
  ASSERT_STR_EQ(a->cache.bypass_header[0], "x-preview");   /* lower-cased */
  ASSERT(a->cache.bypass_header[1] == NULL);
  ASSERT_STR_EQ(a->cache.bypass_query[0], "preview");
  ASSERT(a->cache.cookie && !a->cache.authorization);
  ASSERT(!a->hooks.bypass);                                 /* no Lua on the request path */
  ASSERT(rs_policy_status_ok(a, 200) && rs_policy_status_ok(a, 410));
  ASSERT(!rs_policy_status_ok(a, 404) && !rs_policy_status_ok(a, 301));

  const rs_route_t *b = route(&c, "/b");
  ASSERT_EQ(b->render.ttl_ms, 7000);
  ASSERT_EQ(b->render.grace_ms, -1);
  ASSERT_EQ(b->cache.ntags, 1);
  ASSERT_STR_EQ(b->cache.tags[0], "one");
  ASSERT(b->cache.bypass_cookie == NULL && b->cache.bypass_query == NULL);

  const rs_route_t *cr = route(&c, "/c");
  ASSERT(cr->hooks.bypass);
  ASSERT(cr->cache._mem == NULL);

  const rs_route_t *d = route(&c, "/d");        /* the defaults */
  ASSERT_EQ(d->render.ttl_ms, -1);
  ASSERT(d->cache._mem == NULL && d->cache.ntags == 0 && !d->cache.cookie);
  ASSERT(rs_policy_status_ok(d, 200) && rs_policy_status_ok(d, 301) && rs_policy_status_ok(d, 302));
  ASSERT(rs_policy_status_ok(d, 404) && !rs_policy_status_ok(d, 410) && !rs_policy_status_ok(d, 500));
  ASSERT(rs_policy_status_ok(NULL, 404) && !rs_policy_status_ok(NULL, 503));
  ASSERT(d->cache.headers == NULL);
  const rs_route_t *e = route(&c, "/e");        /* named headers, lower-cased, beside bypass's */
  ASSERT_STR_EQ(e->cache.headers[0], "accept-language");
  ASSERT_STR_EQ(e->cache.headers[1], "x-b");
  ASSERT(e->cache.headers[2] == NULL);
  ASSERT_STR_EQ(e->cache.bypass_header[0], "x-preview");
  ASSERT(e->cache.bypass_header[1] == NULL);
  const rs_route_t *f = route(&c, "/f");
  ASSERT_STR_EQ(f->cache.headers[0], "x-one");
  ASSERT(f->cache.headers[1] == NULL);
  rs_config_dispose(&c);
}

/* A request with the given headers ("name", "value" pairs) and query. */
static rs_req_t *fake(rs_req_t *req, rs_header_t *hs, const char *const *kv, size_t n, const char *query) {
  memset(req, 0, sizeof(*req));
  for (size_t i = 0; i < n; i++) {
    hs[i].name = (rs_str_t){ kv[2 * i], strlen(kv[2 * i]) };
    hs[i].value = (rs_str_t){ kv[2 * i + 1], strlen(kv[2 * i + 1]) };
  }
  req->headers = hs;
  req->nheaders = n;
  req->query = (rs_str_t){ query, strlen(query) };
  return req;
}

#define BYPASS(route, query, ...)                                                        \
  ({                                                                                     \
    static const char *const kv_[] = { __VA_ARGS__ };                                   \
    rs_header_t hs_[8];                                                                  \
    rs_req_t *req_ = malloc(sizeof(rs_req_t));                                           \
    bool b_ = rs_policy_bypass(fake(req_, hs_, kv_, RS_ARRAY_SIZE(kv_) / 2, query), route); \
    free(req_);                                                                          \
    b_;                                                                                  \
  })

static void test_bypass(void) {
  rs_config_t c;
  int rc = run(P
    "ssr.route('GET', '/a', { render = true, cache_cookie = true,\n"
    "  bypass = { cookie = { 'session', 'cart' }, header = 'X-Preview', query = { 'preview', 'draft mode' } } })\n"
    "ssr.route('GET', '/d', { render = true })\n"
    "ssr.route('GET', '/auth', { render = true, cache_authorization = true })\n", &c);
  ASSERT_EQ(rc, 0);
  const rs_route_t *a = route(&c, "/a"), *d = route(&c, "/d"), *au = route(&c, "/auth");

  /* defaults: Cookie or Authorization bypass, nothing else does */
  ASSERT(!BYPASS(d, "preview=1", "Host", "x"));
  ASSERT(BYPASS(d, "", "Cookie", "theme=dark"));
  ASSERT(BYPASS(d, "", "authorization", "Bearer x"));
  ASSERT(BYPASS(NULL, "", "Cookie", "a=1"));
  ASSERT(!BYPASS(NULL, "", "Host", "x"));
  ASSERT(!BYPASS(au, "", "Authorization", "Bearer x"));
  ASSERT(BYPASS(au, "", "Authorization", "Bearer x", "Cookie", "a=1"));

  /* cookies: a listed name with a non-empty value, in any Cookie header */
  ASSERT(!BYPASS(a, "", "Cookie", "theme=dark"));
  ASSERT(BYPASS(a, "", "Cookie", "theme=dark; session=abc"));
  ASSERT(BYPASS(a, "", "Cookie", "theme=dark", "cookie", " cart = 3 "));
  ASSERT(!BYPASS(a, "", "Cookie", "session=; cart=\"\""));
  ASSERT(!BYPASS(a, "", "Cookie", "session2=x; xsession=y; Session=z"));
  ASSERT(!BYPASS(a, "", "Cookie", "session"));
  /* headers: any case, a non-blank value */
  ASSERT(BYPASS(a, "", "x-preview", "1"));
  ASSERT(BYPASS(a, "", "X-PREVIEW", "yes"));
  ASSERT(!BYPASS(a, "", "X-Preview", ""));
  ASSERT(!BYPASS(a, "", "X-Preview", "  "));
  ASSERT(!BYPASS(a, "", "X-Preview-Not", "1"));
  /* query: a listed name (decoded) with a non-empty value */
  ASSERT(BYPASS(a, "preview=1", "Host", "x"));
  ASSERT(BYPASS(a, "a=1&preview=true&b=2", "Host", "x"));
  ASSERT(BYPASS(a, "pre%76iew=1", "Host", "x"));
  ASSERT(BYPASS(a, "draft+mode=1", "Host", "x"));
  ASSERT(BYPASS(a, "draft%20mode=on"));
  ASSERT(!BYPASS(a, "preview=", "Host", "x"));
  ASSERT(!BYPASS(a, "preview", "Host", "x"));
  ASSERT(!BYPASS(a, "previewx=1&xpreview=1", "Host", "x"));
  ASSERT(!BYPASS(a, "", "Host", "x"));
  rs_config_dispose(&c);
}

static void test_page_sees(void) {
  rs_config_t c;
  int rc = run(P "ssr.route('GET', '/e', { render = true, headers = { 'Accept-Language', 'X-Forwarded-Proto' } })\n"
               "ssr.route('GET', '/p', { render = true })\n", &c);
  ASSERT_EQ(rc, 0);
  const rs_route_t *e = route(&c, "/e"), *p = route(&c, "/p");
  rs_req_t *req = calloc(1, sizeof(rs_req_t));
#define SEES(route, name, trusted) \
  rs_route_page_sees(route, name, strlen(name), !(trusted) && rs_realip_claim(req, name, strlen(name)))
  /* a stored page: Host and the named headers only */
  ASSERT(SEES(e, "host", false) && SEES(e, "Host", false) && SEES(e, "accept-language", false));
  ASSERT(SEES(e, "ACCEPT-LANGUAGE", false));
  ASSERT(!SEES(e, "accept", false) && !SEES(e, "user-agent", false) && !SEES(e, "cookie", false));
  ASSERT(!SEES(p, "accept-language", false) && SEES(p, "host", false));
  /* a named forwarding claim: only from a trusted proxy */
  ASSERT(!SEES(e, "x-forwarded-proto", false) && SEES(e, "x-forwarded-proto", true));
  /* not stored: everything but untrusted claims */
  ASSERT(SEES(NULL, "accept", false) && SEES(NULL, "user-agent", false) && SEES(NULL, "host", false));
  static const char *const claims[] = { "x-forwarded-for", "X-Forwarded-Host", "x-forwarded-proto",
                                        "x-forwarded-port", "x-forwarded-prefix", "x-real-ip", "forwarded" };
  for (size_t i = 0; i < RS_ARRAY_SIZE(claims); i++) {
    if (SEES(NULL, claims[i], false)) TAP_FAIL("untrusted %s seen", claims[i]);
    if (!SEES(NULL, claims[i], true)) TAP_FAIL("trusted %s not seen", claims[i]);
    if (SEES(p, claims[i], true)) TAP_FAIL("%s seen by a stored page", claims[i]);
  }
#undef SEES
  free(req);
  rs_config_dispose(&c);
}

static void test_storable(void) {
  static const char h[] = "Content-Type: text/html\r\n";
  ASSERT(rs_policy_storable(NULL, 200, h, sizeof(h) - 1));
  ASSERT(rs_policy_storable(NULL, 404, h, sizeof(h) - 1));
  ASSERT(!rs_policy_storable(NULL, 500, h, sizeof(h) - 1));
  ASSERT(!rs_policy_storable(NULL, 410, h, sizeof(h) - 1));
  static const char sc[] = "Content-Type: text/html\r\nset-cookie: a=1\r\n";
  ASSERT(!rs_policy_storable(NULL, 200, sc, sizeof(sc) - 1));
  static const char pv[] = "Cache-Control: public, PRIVATE\r\n";
  ASSERT(!rs_policy_storable(NULL, 200, pv, sizeof(pv) - 1));
  rs_config_t c;
  ASSERT_EQ(run(P "ssr.route('GET', '/x', { render = true, cache_statuses = { 200, 500, 599 } })\n", &c), 0);
  const rs_route_t *x = route(&c, "/x");
  ASSERT(rs_policy_storable(x, 500, h, sizeof(h) - 1));
  ASSERT(rs_policy_storable(x, 599, h, sizeof(h) - 1));
  ASSERT(!rs_policy_storable(x, 404, h, sizeof(h) - 1));
  ASSERT(!rs_policy_storable(x, 500, sc, sizeof(sc) - 1));   /* Set-Cookie still never */
  ASSERT(!rs_policy_storable(x, 600, h, sizeof(h) - 1));
  ASSERT(!rs_policy_storable(x, -1, h, sizeof(h) - 1));
  rs_config_dispose(&c);
}

static void test_purge(void) {
  ASSERT_EQ(rs_purge_by("key", 3), RS_PURGE_KEY);
  ASSERT_EQ(rs_purge_by("prefix", 6), RS_PURGE_PREFIX);
  ASSERT_EQ(rs_purge_by("tag", 3), RS_PURGE_TAG);
  ASSERT_EQ(rs_purge_by("all", 3), RS_PURGE_ALL);
  ASSERT_EQ(rs_purge_by("url", 3), RS_PURGE_URL);
  ASSERT_EQ(rs_purge_by("tags", 4), -1);
  ASSERT_EQ(rs_purge_by("ke", 2), -1);

  rs_cache_opts_t o = { .max_entries = 100, .max_bytes = 1 << 20, .shards = 4 };
  rs_cache_t *cache = rs_cache_create(&o);
  static const char *const keys[] = { "GET example.com/a?x=1&y=2", "GET example.com/b", "GET other.com/b" };
  const char *tag = "t1";
  size_t tl = 2;
  for (size_t i = 0; i < 3; i++) {
    rs_entry_spec_t spec = { .key = keys[i], .key_len = strlen(keys[i]), .status = 200, .body = "x",
                             .brotli_quality = -1,
                             .body_len = 1, .ttl_ms = 60000, .tags = &tag, .tag_lens = &tl,
                             .ntags = i == 2 ? 1 : 0 };
    spec.hash = rs_cache_hash(cache, spec.key, spec.key_len);
    spec.epoch = rs_cache_epoch(cache);
    rs_entry_t *e = rs_entry_build(&spec);
    ASSERT(e != NULL);
    ASSERT_EQ(rs_cache_put(cache, e), 0);
    rs_entry_release(e);
  }
  /* a URL: host case and port folded, query sorted, as the default key */
  ASSERT_EQ(rs_purge(cache, RS_PURGE_URL, "/a?y=2&x=1", 10, "Example.COM:8080", 16), 1);
  ASSERT_EQ(rs_purge(cache, RS_PURGE_URL, "/a?y=2&x=1", 10, "example.com", 11), 0);
  ASSERT_EQ(rs_purge(cache, RS_PURGE_TAG, "t1", 2, NULL, 0), 1);
  ASSERT_EQ(rs_purge(cache, RS_PURGE_PREFIX, "GET example.com/", 16, NULL, 0), 1);
  ASSERT_EQ(rs_purge(cache, RS_PURGE_ALL, NULL, 0, NULL, 0), 0);
  rs_cache_destroy(cache);
}

int main(void) {
  rs_dispatch_init();             /* the actions routes name (redirect reads its own options) */
  RS_TEST(test_errors);
  RS_TEST(test_policy_filled);
  RS_TEST(test_bypass);
  RS_TEST(test_page_sees);
  RS_TEST(test_storable);
  RS_TEST(test_purge);
  RS_TEST_DONE();
}
