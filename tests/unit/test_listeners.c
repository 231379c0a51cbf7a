/* tests/unit/test_listeners.c — named listeners in the config: servers =
 * { name = addr }, route option server = "name", the per-listener router
 * views (rs_config_finish), route order across views (Lua states find hooks
 * by it), and the load errors with their file:line. */
#include "rs_config.h"
#include "rs_lconfig.h"
#include "tap.h"

#define P "local ssr = require 'rustyssr'\n\n"   /* the chunk's line 3 is next */

static char err[1024];

static int run(const char *chunk, rs_config_t *cfg) {
  rs_config_init(cfg);
  err[0] = '\0';
  return rs_lconfig_check_string(chunk, "t.lua", cfg, err, sizeof(err));
}

static const rs_route_t *match(const rs_config_t *cfg, size_t listener, const char *path) {
  return rs_router_match(rs_config_router(cfg, listener), RS_M_GET, NULL, 0, path, strlen(path), NULL, NULL);
}

static void test_views(void) {
  rs_config_t c;
  ASSERT_EQ(run(P "ssr.config { listen = '127.0.0.1:8080', servers = { zed = 9002, backend = '127.0.0.1:9000' } }\n"
                  "ssr.respond('/same', 200, 'main')\n"
                  "ssr.route('GET', '/same', { server = 'backend', respond = { status = 200, body = 'b' } })\n"
                  "ssr.route('GET', '/z/*', { server = 'zed', respond = { status = 200, body = 'z' } })\n"
                  "ssr.respond('/main-only', 204)\n",
                &c), 0);
  ASSERT_STR_EQ(err, "");
  ASSERT_EQ(c.nservers, 2);
  ASSERT_STR_EQ(c.servers[0].name, "backend");   /* sorted by name */
  ASSERT_STR_EQ(c.servers[1].name, "zed");
  ASSERT_STR_EQ(c.servers[1].addr.host, "0.0.0.0");
  ASSERT_EQ(c.servers[1].addr.port, 9002);
  ASSERT(c.routers != NULL);
  ASSERT_EQ(rs_router_count(c.router), 4);      /* every route, owned here */
  ASSERT_EQ(rs_router_count(c.routers[0]), 2);
  ASSERT_EQ(rs_router_count(c.routers[1]), 1);
  ASSERT_EQ(rs_router_count(c.routers[2]), 1);
  const rs_route_t *r = match(&c, 0, "/same");
  ASSERT(r != NULL && strcmp(r->respond.body, "main") == 0);
  r = match(&c, 1, "/same");
  ASSERT(r != NULL && strcmp(r->respond.body, "b") == 0);
  ASSERT_STR_EQ(r->server, "backend");
  ASSERT(match(&c, 2, "/same") == NULL);
  ASSERT(match(&c, 2, "/z/a/b") != NULL);
  ASSERT(match(&c, 0, "/z/a") == NULL);
  ASSERT(match(&c, 1, "/main-only") == NULL);
  ASSERT(match(&c, 0, "/main-only") != NULL);
  /* Views keep the declaration order of the whole file. */
  for (size_t i = 0; i < rs_router_count(c.router); i++) ASSERT_EQ(rs_router_get(c.router, i)->_order, i);
  ASSERT_EQ(rs_router_get(c.routers[1], 0)->_order, 1);
  ASSERT_EQ(rs_router_get(c.routers[2], 0)->_order, 2);
  ASSERT_EQ(rs_router_get(c.routers[0], 1)->_order, 3);
  rs_config_dispose(&c);

  /* No servers: no views, the router serves listen. */
  ASSERT_EQ(run(P "ssr.respond('/x', 200)\n", &c), 0);
  ASSERT(c.routers == NULL);
  ASSERT(rs_config_router(&c, 0) == c.router);
  rs_config_dispose(&c);

  /* Routes may come before ssr.config: names are checked at the end. */
  ASSERT_EQ(run(P "ssr.route('GET', '/a', { server = 'b', respond = { status = 200 } })\n"
                  "ssr.config { servers = { b = 9000 } }\n", &c), 0);
  ASSERT(match(&c, 1, "/a") != NULL);
  rs_config_dispose(&c);
}

static void test_errors(void) {
  static const struct {
    const char *chunk, *want;
  } cases[] = {
    { P "ssr.config { servers = { a = 9000 } }\n"
        "ssr.route('GET', '/x', { server = 'b', respond = { status = 200 } })\n",
      "t.lua:4: unknown server 'b' (ssr.config servers: a)" },
    { P "ssr.static('/s/', { root = '.', server = 'nope' })\n",
      "t.lua:3: unknown server 'nope' (ssr.config declares no servers)" },
    { P "ssr.config { listen = 9000, servers = { a = 9000 } }\n",
      "t.lua:3: ssr.config: servers.a = \"0.0.0.0:9000\" is the address of 'listen'" },
    { P "ssr.config { listen = '127.0.0.1:8080', servers = { a = '127.0.0.1:9901' } }\n",
      "t.lua:3: ssr.config: servers.a = \"127.0.0.1:9901\" is the address of 'admin'" },
    { P "ssr.config { listen = 8080, admin = false, servers = { a = '127.0.0.1:9901' } }\n", NULL },
    { P "ssr.config { listen = '127.0.0.1:9901' }\n",
      "t.lua:3: ssr.config: 'listen' and 'admin' have the same address 127.0.0.1:9901" },
    { P "ssr.config { servers = { a = '[::1]:9000', b = '[::]:9000' } }\n",
      "t.lua:3: ssr.config: servers.a and servers.b have the same address" },
    { P "ssr.config { servers = { a = '[::1]:9000', b = '127.0.0.1:9000' } }\n", NULL },
    { P "ssr.config { servers = { a = 0, b = 0 } }\n", NULL },  /* tests: each its own free port */
    { P "ssr.config { servers = { ['a.b'] = 9000 } }\n",
      "t.lua:3: ssr.config: server name \"a.b\" must be letters, digits, '_' or '-'" },
    { P "ssr.config { servers = 'x' }\n", "t.lua:3: ssr.config: 'servers' must be a table" },
    { P "ssr.config { servers = { a = '1.2.3.4:99999' } }\n", "t.lua:3: ssr.config: 'servers.a' = \"1.2.3.4:99999\": port" },
    { P "ssr.route('GET', '/x', { server = '', respond = { status = 200 } })\n",
      "t.lua:3: ssr.route: 'server' must be a name from ssr.config's servers, got an empty string" },
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    rs_config_t c;
    int rc = run(cases[i].chunk, &c);
    rs_config_dispose(&c);
    if (cases[i].want == NULL && rc != 0) TAP_FAIL("case %zu: refused: %s", i, err);
    if (cases[i].want != NULL && (rc != -1 || strncmp(err, cases[i].want, strlen(cases[i].want)) != 0))
      TAP_FAIL("case %zu: rc %d, got \"%s\", want \"%s...\"", i, rc, err, cases[i].want);
  }
}

int main(void) {
  RS_TEST(test_views);
  RS_TEST(test_errors);
  RS_TEST_DONE();
}
