/* tests/unit/test_config.c — defaults, the address and size parsers, the Lua
 * config: every key, every class of error with its exact "file:line", the
 * routes it declares, require relative to the config file, the fixtures in
 * tests/lua/. */
#include <errno.h>
#include <sys/stat.h>

#include "rs_config.h"
#include "rs_lconfig.h"
#include "rs_lutil.h"
#include "rs_dispatch.h"
#include "tap.h"

#include <lauxlib.h>

#define P "local ssr = require 'rustyssr'\n\n"   /* the chunk's line 3 is next */

static char err[1024];

/* Run chunk as "t.lua" into a fresh cfg (the caller disposes it). */
static int run(const char *chunk, rs_config_t *cfg) {
  rs_config_init(cfg);
  err[0] = '\0';
  return rs_lconfig_check_string(chunk, "t.lua", cfg, err, sizeof(err));
}

static const rs_route_t *match(const rs_config_t *cfg, unsigned m, const char *host,
                               const char *path) {
  return rs_router_match(cfg->router, m, host, host ? strlen(host) : 0, path,
                         strlen(path), NULL, NULL);
}

static bool ends_with(const char *s, const char *suffix) {
  size_t n = strlen(s), k = strlen(suffix);
  return n >= k && memcmp(s + n - k, suffix, k) == 0;
}

static void test_defaults(void) {
  rs_config_t c;
  rs_config_init(&c);
  ASSERT(c.file == NULL);
  ASSERT_STR_EQ(c.listen.host, "0.0.0.0");
  ASSERT_EQ(c.listen.port, 8080);
  ASSERT_STR_EQ(c.admin.host, "127.0.0.1");
  ASSERT_EQ(c.admin.port, 9901);
  ASSERT(c.admin_enabled);
  ASSERT_EQ(c.backlog, 511);
  ASSERT_EQ(c.workers, 0);
  ASSERT(c.pin);
  ASSERT_EQ(c.limits.url, 8192);
  ASSERT_EQ(c.limits.header_bytes, 32768);
  ASSERT_EQ(c.limits.headers, 100);
  ASSERT_EQ(c.limits.body, 1048576);
  ASSERT_EQ(c.limits.pipeline, 32);
  ASSERT_EQ(c.timeouts.header, 10000);
  ASSERT_EQ(c.timeouts.body, 30000);
  ASSERT_EQ(c.timeouts.keepalive, 75000);
  ASSERT_EQ(c.timeouts.write, 30000);
  ASSERT_EQ(c.timeouts.shutdown, 10000);
  ASSERT_STR_EQ(c.log.error, "stderr");
  ASSERT_EQ(c.log.level, RS_LOG_INFO);
  ASSERT(c.log.access == NULL);
  ASSERT(c.router != NULL);
  ASSERT_EQ(rs_router_count(c.router), 0);
  rs_config_dispose(&c);

  /* An empty file keeps every default. */
  ASSERT_EQ(run("", &c), 0);
  ASSERT_EQ(c.listen.port, 8080);
  ASSERT(c.file == NULL);
  rs_config_dispose(&c);
}

static void test_addr_parse(void) {
  static const struct { const char *in, *host; int port; } good[] = {
    { "127.0.0.1:8080", "127.0.0.1", 8080 },
    { "0.0.0.0:0", "0.0.0.0", 0 },
    { "[::1]:8080", "::1", 8080 },
    { "[::]:65535", "::", 65535 },
    { "[fe80::1:2]:1", "fe80::1:2", 1 },
    { ":8080", "0.0.0.0", 8080 },
    { "8080", "0.0.0.0", 8080 },
    { "0", "0.0.0.0", 0 },
    { "10.1.2.3:080", "10.1.2.3", 80 },
  };
  static const struct { const char *in, *why; } bad[] = {
    { "", "empty address" },
    { "127.0.0.1:65536", "port out of range (0..65535)" },
    { "127.0.0.1:99999999999999", "port out of range (0..65535)" },
    { "70000", "port out of range (0..65535)" },
    { "127.0.0.1:", "missing port" },
    { ":", "missing port" },
    { "127.0.0.1:80x", "port is not a number" },
    { "127.0.0.1:-1", "port is not a number" },
    { "127.0.0.1: 80", "port is not a number" },
    { "localhost:8080", "host must be a numeric IPv4 or IPv6 address" },
    { "256.0.0.1:80", "host must be a numeric IPv4 or IPv6 address" },
    { "::1:8080", "an IPv6 address goes in brackets, as in [::1]:8080" },
    { "[::1]", "missing port after ']'" },
    { "[::1:80", "missing ']' after an IPv6 address" },
    { "[127.0.0.1]:80", "not a numeric IPv6 address" },
    { "[]:80", "host must be a numeric IPv4 or IPv6 address" },
  };
  for (size_t i = 0; i < RS_ARRAY_SIZE(good); i++) {
    rs_addr_t a;
    const char *why = NULL;
    ASSERT_EQ(rs_addr_parse(good[i].in, &a, &why), 0);
    ASSERT_STR_EQ(a.host, good[i].host);
    ASSERT_EQ(a.port, good[i].port);
  }
  for (size_t i = 0; i < RS_ARRAY_SIZE(bad); i++) {
    rs_addr_t a = { "keep", 7 };
    const char *why = NULL;
    ASSERT_EQ(rs_addr_parse(bad[i].in, &a, &why), -EINVAL);
    ASSERT_STR_EQ(why, bad[i].why);
    ASSERT_STR_EQ(a.host, "keep");             /* untouched on failure */
    ASSERT_EQ(a.port, 7);
  }
  rs_addr_t a;
  ASSERT_EQ(rs_addr_parse("nope", &a, NULL), -EINVAL);   /* why may be NULL */
  ASSERT_EQ(rs_addr_parse(NULL, &a, NULL), -EINVAL);
}

static void test_size_parse(void) {
  static const struct { const char *in; size_t out; } good[] = {
    { "0", 0 }, { "512", 512 }, { "512B", 512 }, { "64KB", 65536 },
    { "64kb", 65536 }, { "512K", 524288 }, { "1MB", 1048576 }, { "1m", 1048576 },
    { "2GB", 2147483648u }, { "3g", 3221225472u }, { "64 KB", 65536 },
    { "18446744073709551615", SIZE_MAX }, { "17179869183G", (size_t)17179869183 << 30 },
  };
  static const char *const bad[] = {
    "", "KB", "-1", "+1", "1.5MB", "1TB", "1KBB", "1 ", " 1", "1MiB", "0x10",
    "18446744073709551616", "17179869184G", "99999999999999999999999", "1K B",
  };
  for (size_t i = 0; i < RS_ARRAY_SIZE(good); i++) {
    size_t v = 12345;
    ASSERT_EQ(rs_size_parse(good[i].in, &v), 0);
    ASSERT_EQ(v, good[i].out);
  }
  for (size_t i = 0; i < RS_ARRAY_SIZE(bad); i++) {
    size_t v = 12345;
    if (rs_size_parse(bad[i], &v) != -EINVAL) TAP_FAIL("size \"%s\" accepted", bad[i]);
    ASSERT_EQ(v, 12345);
  }
  size_t v;
  ASSERT_EQ(rs_size_parse(NULL, &v), -EINVAL);
}

static void test_every_key(void) {
  rs_config_t c;
  int rc = run(P
    "ssr.config {\n"
    "  listen = \"[::1]:18080\",\n"
    "  admin = \"127.0.0.2:19901\",\n"
    "  backlog = 1024,\n"
    "  workers = 3,\n"
    "  pin = false,\n"
    "  limits = { url = \"4KB\", header_bytes = 16384, headers = 50, body = \"2MB\", pipeline = 8 },\n"
    "  timeouts = { header_ms = 1, body_ms = 2, keepalive_ms = 3, write_ms = 4, shutdown_ms = 0 },\n"
    "  log = { error = \"/tmp/err.log\", level = \"debug\", access = \"/tmp/access.log\" },\n"
    "}\n", &c);
  ASSERT_STR_EQ(err, "");
  ASSERT_EQ(rc, 0);
  ASSERT_STR_EQ(c.listen.host, "::1");
  ASSERT_EQ(c.listen.port, 18080);
  ASSERT_STR_EQ(c.admin.host, "127.0.0.2");
  ASSERT_EQ(c.admin.port, 19901);
  ASSERT(c.admin_enabled);
  ASSERT_EQ(c.backlog, 1024);
  ASSERT_EQ(c.workers, 3);
  ASSERT(!c.pin);
  ASSERT_EQ(c.limits.url, 4096);
  ASSERT_EQ(c.limits.header_bytes, 16384);
  ASSERT_EQ(c.limits.headers, 50);
  ASSERT_EQ(c.limits.body, 2097152);
  ASSERT_EQ(c.limits.pipeline, 8);
  ASSERT_EQ(c.timeouts.header, 1);
  ASSERT_EQ(c.timeouts.body, 2);
  ASSERT_EQ(c.timeouts.keepalive, 3);
  ASSERT_EQ(c.timeouts.write, 4);
  ASSERT_EQ(c.timeouts.shutdown, 0);
  ASSERT_STR_EQ(c.log.error, "/tmp/err.log");
  ASSERT_EQ(c.log.level, RS_LOG_DEBUG);
  ASSERT_STR_EQ(c.log.access, "/tmp/access.log");
  rs_config_dispose(&c);

  /* The other spellings: numbers for addresses, "auto", false, true. */
  rc = run(P "ssr.config { listen = 9000, admin = 9902, workers = 'auto',\n"
           "  log = { level = 'error', access = false } }\n", &c);
  ASSERT_STR_EQ(err, "");
  ASSERT_EQ(rc, 0);
  ASSERT_STR_EQ(c.listen.host, "0.0.0.0");
  ASSERT_EQ(c.listen.port, 9000);
  ASSERT_STR_EQ(c.admin.host, "127.0.0.1");   /* a bare admin port stays local */
  ASSERT_EQ(c.admin.port, 9902);
  ASSERT_EQ(c.workers, 0);
  ASSERT_EQ(c.log.level, RS_LOG_ERROR);
  ASSERT(c.log.access == NULL);
  rs_config_dispose(&c);

  ASSERT_EQ(run(P "ssr.config { admin = false, log = { level = 'warn', access = 'stderr' } }", &c), 0);
  ASSERT(!c.admin_enabled);
  ASSERT_EQ(c.admin.port, 9901);
  ASSERT_EQ(c.log.level, RS_LOG_WARN);
  ASSERT_STR_EQ(c.log.access, "stderr");
  rs_config_dispose(&c);

  ASSERT_EQ(run(P "ssr.config { admin = true, listen = '127.0.0.1:0' }", &c), 0);
  ASSERT(c.admin_enabled);
  ASSERT_EQ(c.listen.port, 0);
  rs_config_dispose(&c);

  ASSERT_EQ(run(P "assert(require('rustyssr') == ssr)\n"
                "assert(type(ssr.version) == 'string')\n", &c), 0);
  rs_config_dispose(&c);
}

/* Each chunk fails with exactly this message. */
static void test_errors(void) {
  static const struct { const char *chunk, *msg; } cases[] = {
    /* unknown keys, at every level */
    { P "ssr.config { listn = 1 }",
      "t.lua:3: unknown key 'listn' in ssr.config (did you mean 'listen'?)" },
    { P "ssr.config { zzzzzz = 1 }", "t.lua:3: unknown key 'zzzzzz' in ssr.config" },
    { P "ssr.config { [1] = 2 }", "t.lua:3: unknown key [number 1] in ssr.config" },
    { P "ssr.config { limits = { urll = 1 } }",
      "t.lua:3: unknown key 'urll' in ssr.config.limits (did you mean 'url'?)" },
    { P "ssr.config { timeouts = { header = 1 } }",
      "t.lua:3: unknown key 'header' in ssr.config.timeouts (did you mean 'header_ms'?)" },
    { P "ssr.config { log = { lvl = 'info' } }",
      "t.lua:3: unknown key 'lvl' in ssr.config.log (did you mean 'level'?)" },
    { P "ssr.route('GET', '/', { respnd = {} })",
      "t.lua:3: unknown key 'respnd' in ssr.route options (did you mean 'respond'?)" },
    { P "ssr.route('GET', '/', { respond = { stauts = 200 } })",
      "t.lua:3: unknown key 'stauts' in ssr.route respond (did you mean 'status'?)" },
    /* wrong types */
    { P "ssr.config { workers = 'lots' }",
      "t.lua:3: ssr.config: 'workers' must be \"auto\" or a positive integer, got string \"lots\"" },
    { P "ssr.config { workers = 0 }",
      "t.lua:3: ssr.config: 'workers' must be \"auto\" or a positive integer, got number 0" },
    { P "ssr.config { workers = 1.5 }",
      "t.lua:3: ssr.config: 'workers' must be \"auto\" or a positive integer, got number 1.5" },
    { P "ssr.config { workers = 5000 }",
      "t.lua:3: ssr.config: 'workers' must be at most 1024, got number 5000" },
    { P "ssr.config { pin = 'yes' }",
      "t.lua:3: ssr.config: 'pin' must be a boolean, got string \"yes\"" },
    { P "ssr.config { listen = true }",
      "t.lua:3: ssr.config: 'listen' must be \"host:port\" or a port number, got boolean true" },
    { P "ssr.config { admin = { listen = true } }",
      "t.lua:3: ssr.config: 'admin.listen' must be \"host:port\" or a port number, got boolean true" },
    { P "ssr.config { limits = 5 }", "t.lua:3: ssr.config: 'limits' must be a table, got number 5" },
    { P "ssr.config { backlog = '511' }",
      "t.lua:3: ssr.config: 'backlog' must be an integer between 1 and 65535, got string \"511\"" },
    { P "ssr.config { log = { error = false } }",
      "t.lua:3: ssr.config: 'log.error' must be \"stderr\" or a file path, got boolean false" },
    { P "ssr.config { log = { access = true } }",
      "t.lua:3: ssr.config: 'log.access' must be false, \"stderr\" or a file path, got boolean true" },
    { P "ssr.config { log = { access = '' } }",
      "t.lua:3: ssr.config: 'log.access' must be false, \"stderr\" or a file path, got an empty string" },
    { P "ssr.config 'x'",
      "t.lua:3: ssr.config: expected one table, as in ssr.config { listen = \":8080\" }, got string \"x\"" },
    /* impossible values */
    { P "ssr.config { listen = '127.0.0.1:99999' }",
      "t.lua:3: ssr.config: 'listen' = \"127.0.0.1:99999\": port out of range (0..65535)" },
    { P "ssr.config { admin = 'localhost:9901' }",
      "t.lua:3: ssr.config: 'admin' = \"localhost:9901\": host must be a numeric IPv4 or IPv6 address" },
    { P "ssr.config { listen = 70000 }",
      "t.lua:3: ssr.config: 'listen' must be an integer between 0 and 65535, got number 70000" },
    { P "ssr.config { backlog = 0 }",
      "t.lua:3: ssr.config: 'backlog' must be an integer between 1 and 65535, got number 0" },
    { P "ssr.config { limits = { url = 0 } }",
      "t.lua:3: ssr.config: 'limits.url' must be a size between 1 and 1048576 bytes "
      "(a number, or a string like \"64KB\"), got number 0" },
    { P "ssr.config { limits = { url = '2MB' } }",
      "t.lua:3: ssr.config: 'limits.url' must be a size between 1 and 1048576 bytes "
      "(a number, or a string like \"64KB\"), got string \"2MB\"" },
    { P "ssr.config { limits = { body = 'lots' } }",
      "t.lua:3: ssr.config: 'limits.body' must be a size between 1 and 4294967296 bytes "
      "(a number, or a string like \"64KB\"), got string \"lots\"" },
    { P "ssr.config { limits = { headers = 20000 } }",
      "t.lua:3: ssr.config: 'limits.headers' must be an integer between 1 and 10000, got number 20000" },
    { P "ssr.config { limits = { pipeline = 0 } }",
      "t.lua:3: ssr.config: 'limits.pipeline' must be an integer between 1 and 1024, got number 0" },
    { P "ssr.config { timeouts = { header_ms = 0 } }",
      "t.lua:3: ssr.config: 'timeouts.header_ms' must be an integer between 1 and 86400000, got number 0" },
    { P "ssr.config { timeouts = { keepalive_ms = -5 } }",
      "t.lua:3: ssr.config: 'timeouts.keepalive_ms' must be an integer between 1 and 86400000, got number -5" },
    { P "ssr.config { timeouts = { shutdown_ms = -1 } }",
      "t.lua:3: ssr.config: 'timeouts.shutdown_ms' must be an integer between 0 and 86400000, got number -1" },
    { P "ssr.config { log = { level = 'verbose' } }",
      "t.lua:3: ssr.config: 'log.level' must be \"error\", \"warn\", \"info\" or \"debug\", got string \"verbose\"" },
    { P "ssr.config {}\nssr.config {}",
      "t.lua:4: ssr.config: called twice (first at t.lua:3)" },
    /* routes */
    { P "ssr.route('GTE', '/', { respond = {} })",
      "t.lua:3: ssr.route: unknown method \"GTE\" (one of GET, HEAD, POST, PUT, DELETE, "
      "PATCH, OPTIONS, PURGE, or \"*\"; methods are upper-case)" },
    { P "ssr.route({ 'GET', 'get' }, '/', { respond = {} })",
      "t.lua:3: ssr.route: unknown method \"get\" (one of GET, HEAD, POST, PUT, DELETE, "
      "PATCH, OPTIONS, PURGE, or \"*\"; methods are upper-case)" },
    { P "ssr.route({}, '/', { respond = {} })", "t.lua:3: ssr.route: the method list is empty" },
    { P "ssr.route(5, '/', { respond = {} })",
      "t.lua:3: ssr.route: argument 1 must be a method or a list of methods, got number 5" },
    { P "ssr.route('GET', 'x', { respond = {} })",
      "t.lua:3: ssr.route \"x\": path must start with '/'" },
    { P "ssr.route('GET', nil, { respond = {} })",
      "t.lua:3: ssr.route: 'path' must be a string starting with '/', got nil" },
    { P "ssr.route('GET', '/a*b', { respond = {} })",
      "t.lua:3: ssr.route \"/a*b\": '*' is only allowed at the end of a path" },
    { P "ssr.route('GET', '/p/:id/:id', { respond = {} })",
      "t.lua:3: ssr.route \"/p/:id/:id\": duplicate ':param' name in the path" },
    { P "ssr.route('GET', '/x', { respond = {}, host = 'a.com:80' })",
      "t.lua:3: ssr.route \"/x\": host must not carry a port (the port is ignored when matching)" },
    { P "ssr.route('GET', '/x', { respond = {}, host = 'a.*.com' })",
      "t.lua:3: ssr.route \"/x\": a wildcard host must be '*.' and a domain, as in '*.example.com'" },
    { P "ssr.route('GET', '/x', { respond = {}, priority = 1.5 })",
      "t.lua:3: ssr.route: 'priority' must be an integer between -1000000 and 1000000, got number 1.5" },
    { P "ssr.route('GET', '/x', {})",
      "t.lua:3: ssr.route: no action: give 'respond' = { status = ..., body = ... } or 'render' = true" },
    { P "ssr.route('GET', '/x', { render = 1 })",
      "t.lua:3: ssr.route: 'render' must be true or a table, got number 1" },
    { P "ssr.route('GET', '/x', { render = { ttl = -1 } })",
      "t.lua:3: ssr.route: 'render.ttl' must be an integer between 0 and 31536000, got number -1" },
    { P "ssr.route('GET', '/x', { render = { tll = 1 } })",
      "t.lua:3: unknown key 'tll' in ssr.route render (did you mean 'ttl'?)" },
    { P "ssr.route('GET', '/x', { render = true, respond = {} })",
      "t.lua:3: ssr.route: give one action, 'respond' or 'render', not both" },
    { P "ssr.route('GET', '/x', { render = true })",
      "t.lua:3: a render route needs ssr.config { render = { bundle = \"...\" } }" },
    { "local ssr = require 'rustyssr'\nssr.config { render = {\n bundel = 'x' } }",
      "t.lua:2: unknown key 'bundel' in ssr.config.render (did you mean 'bundle'?)" },
    { "local ssr = require 'rustyssr'\nssr.config { render = { threads = 'many' } }",
      "t.lua:2: ssr.config: 'render.threads' must be \"auto\" or a positive integer, got string \"many\"" },
    { "local ssr = require 'rustyssr'\nssr.config { render = { timeout_ms = 0 } }",
      "t.lua:2: ssr.config: 'render.timeout_ms' must be an integer between 1 and 86400000, got number 0" },
    { P "ssr.route('GET', '/x', { redirect = { to = '/y', status = 305 } })",
      "t.lua:3: ssr.route: 'redirect.status' must be 301, 302, 303, 307 or 308, got 305" },
    { P "ssr.route('GET', '/x', { redirect = { status = 301 } })",
      "t.lua:3: ssr.route: 'redirect.to' is required, as in redirect = { to = \"/new\" }" },
    { P "ssr.route('GET', '/x', { redirect = '/y', respond = {} })",
      "t.lua:3: ssr.route: give one action: 'redirect' goes with no 'respond', 'render' or 'static'" },
    { P "ssr.route('GET', '/x', { respond = 200 })",
      "t.lua:3: ssr.route: 'respond' must be a table or a function(req), got number 200" },
    { P "ssr.route('GET', '/x', 42)",
      "t.lua:3: ssr.route: argument 3 must be a table of options, as in "
      "{ respond = { status = 200, body = \"hi\" } }, got number 42" },
    { P "ssr.route('GET', '/x', { render = true, key = 'k' })",
      "t.lua:3: ssr.route: 'key' must be a function(req), got string \"k\"" },
    { P "ssr.route('GET', '/x', { respond = {}, bypass = function() end })",
      "t.lua:3: ssr.route: a 'bypass' hook goes with 'render'" },
    { P "ssr.route('GET', '/x', { respond = { status = 600 } })",
      "t.lua:3: ssr.route: 'respond.status' must be an integer between 100 and 599, got number 600" },
    { P "ssr.route('GET', '/x', { respond = { status = 99 } })",
      "t.lua:3: ssr.route: 'respond.status' must be an integer between 100 and 599, got number 99" },
    { P "ssr.route('GET', '/x', { respond = { status = 101 } })",
      "t.lua:3: ssr.route: 'respond.status' 101 is not a final answer: use 200..599" },
    { P "ssr.route('GET', '/x', { respond = { status = 204, body = 'x' } })",
      "t.lua:3: ssr.route: a 204 answer has no body" },
    { P "ssr.respond('/x', 304, 'x')", "t.lua:3: ssr.respond: a 304 answer has no body" },
    { P "ssr.route('GET', '/x', { respond = { body = 5 } })",
      "t.lua:3: ssr.route: 'respond.body' must be a string, got number 5" },
    { P "ssr.route('GET', '/x', { respond = { headers = 'x' } })",
      "t.lua:3: ssr.route: 'respond.headers' must be a table, got string \"x\"" },
    { P "ssr.route('GET', '/x', { respond = { headers = { ['Bad Name'] = 'x' } } })",
      "t.lua:3: ssr.route: header name \"Bad Name\" has an invalid character" },
    { P "ssr.route('GET', '/x', { respond = { headers = { ['X:Y'] = 'x' } } })",
      "t.lua:3: ssr.route: header name \"X:Y\" has an invalid character" },
    { P "ssr.route('GET', '/x', { respond = { headers = { [''] = 'x' } } })",
      "t.lua:3: ssr.route: header name \"\" has an invalid character" },
    { P "ssr.route('GET', '/x', { respond = { headers = { 'x' } } })",
      "t.lua:3: ssr.route: 'respond.headers' must map header names to values, got a key number 1" },
    { P "ssr.route('GET', '/x', { respond = { headers = { ['X-A'] = 'a\\r\\nSet-Cookie: x' } } })",
      "t.lua:3: ssr.route: header \"X-A\" has a CR or LF in its value (that would split the response)" },
    { P "ssr.route('GET', '/x', { respond = { headers = { ['X-A'] = { 'ok', 'a\\nb' } } } })",
      "t.lua:3: ssr.route: header \"X-A\" has a CR or LF in its value (that would split the response)" },
    { P "ssr.route('GET', '/x', { respond = { headers = { ['X-A'] = 'a\\0b' } } })",
      "t.lua:3: ssr.route: header \"X-A\" has a control character in its value" },
    { P "ssr.route('GET', '/x', { respond = { headers = { ['X-A'] = true } } })",
      "t.lua:3: ssr.route: header \"X-A\" must be a string, a number or a list of strings, got boolean true" },
    { P "ssr.route('GET', '/x', { respond = { headers = { ['X-A'] = {} } } })",
      "t.lua:3: ssr.route: header \"X-A\" has an empty list of values" },
    { P "ssr.route('GET', '/x', { respond = { headers = { ['Content-Length'] = '5' } } })",
      "t.lua:3: ssr.route: header \"Content-Length\" is set by the server" },
    { P "ssr.respond('/x', 200, 'x', { ['transfer-encoding'] = 'chunked' })",
      "t.lua:3: ssr.respond: header \"transfer-encoding\" is set by the server" },
    { P "ssr.respond('/x', 200, 5)", "t.lua:3: ssr.respond: 'body' must be a string, got number 5" },
    { P "ssr.respond('/x', '200')",
      "t.lua:3: ssr.respond: 'status' must be an integer between 100 and 599, got string \"200\"" },
    { P "ssr.respond('/x', 200, 'x', {}, {})",
      "t.lua:3: ssr.respond: expected (path, status, body, headers), got 5 arguments" },
    /* Lua's own errors, and errors raised through a function */
    { P "local x = 1 +", "t.lua:3: unexpected symbol near '<eof>'" },
    { P "error('boom', 0)", "t.lua:3: boom" },
    { P "error('boom')", "t.lua:3: boom" },
    { P "error({})", "t.lua:3: error object is a table" },
    { P "local function f()\n  ssr.config { bad = 1 }\nend\nf()",
      "t.lua:4: unknown key 'bad' in ssr.config" },
  };
  for (size_t i = 0; i < RS_ARRAY_SIZE(cases); i++) {
    rs_config_t c;
    int rc = run(cases[i].chunk, &c);
    if (rc != -1) TAP_FAIL("case %zu accepted: %s", i, cases[i].chunk);
    ASSERT_STR_EQ(err, cases[i].msg);
    rs_config_dispose(&c);
  }
}

/* Messages whose tail is LuaJIT's, or whose order depends on the table. */
static void test_errors_prefix(void) {
  static const struct { const char *chunk, *prefix; } cases[] = {
    { P "local x = y + 1", "t.lua:3: attempt to perform arithmetic on" },
    { P "require 'no.such.module'", "t.lua:3: module 'no.such.module' not found:" },
    { P "ssr.route('GET', '/x', { respond = { headers = { ['content-type'] = 'a', ['Content-Type'] = 'b' } } })",
      "t.lua:3: ssr.route: header \"" },
    { P "ssr.nope()", "t.lua:3: attempt to call field 'nope' (a nil value)" },
  };
  for (size_t i = 0; i < RS_ARRAY_SIZE(cases); i++) {
    rs_config_t c;
    ASSERT_EQ(run(cases[i].chunk, &c), -1);
    if (strncmp(err, cases[i].prefix, strlen(cases[i].prefix)) != 0)
      TAP_FAIL("\"%s\" does not start with \"%s\"", err, cases[i].prefix);
    rs_config_dispose(&c);
  }
  rs_config_t c;
  ASSERT_EQ(run(cases[2].chunk, &c), -1);
  ASSERT(ends_with(err, "is given twice (names ignore case; use a list for several values)"));
  rs_config_dispose(&c);
}

/* A call the file catches with pcall changes nothing, and does not count as
 * the one ssr.config call. */
static void test_pcall_leaves_cfg(void) {
  rs_config_t c;
  int rc = run(P
    "local ok, e = pcall(ssr.config, { workers = 3, log = { error = '/x', level = 'bad' } })\n"
    "assert(not ok and e:find(\"'log.level' must be\", 1, true), e)\n"
    "ok = pcall(ssr.route, 'GET', '/x', { respond = { status = 1 } })\n"
    "assert(not ok)\n"
    "ssr.config { pin = false }\n", &c);
  ASSERT_STR_EQ(err, "");
  ASSERT_EQ(rc, 0);
  ASSERT_EQ(c.workers, 0);
  ASSERT_STR_EQ(c.log.error, "stderr");
  ASSERT(!c.pin);
  ASSERT_EQ(rs_router_count(c.router), 0);
  rs_config_dispose(&c);
}

static void test_routes(void) {
  rs_config_t c;
  int rc = run(P
    "ssr.route('GET', '/hello', { respond = { status = 200,\n"
    "  headers = { ['Content-Type'] = 'text/plain' }, body = 'hi\\n' }, priority = 0, host = 'example.com' })\n"
    "ssr.route({ 'GET', 'POST' }, '/static/*', { respond = { status = 204 } })\n"
    "ssr.respond('/health', 200, 'ok\\n', { ['Cache-Control'] = 'no-store' })\n"
    "ssr.route('*', '/any', { respond = { headers = { ['X-B'] = 1, ['x-a'] = { 'one', 'two' },\n"
    "  ['Set-Cookie'] = 'a=1' }, body = '' }, priority = -3 })\n"
    "ssr.respond('/empty')\n", &c);
  ASSERT_STR_EQ(err, "");
  ASSERT_EQ(rc, 0);
  ASSERT_EQ(rs_router_count(c.router), 5);

  const rs_route_t *r = match(&c, RS_M_GET, "Example.com:8080", "/hello");
  ASSERT(r != NULL);
  ASSERT_EQ(r->methods, RS_M_GET);
  ASSERT_STR_EQ(r->host, "example.com");
  ASSERT_STR_EQ(r->path, "/hello");
  ASSERT_EQ(r->action, RS_ACTION_RESPOND);
  ASSERT_EQ(r->respond.status, 200);
  ASSERT_STR_EQ(r->where, "t.lua:3");
  ASSERT_MEM_EQ(r->respond.headers, r->respond.headers_len, "Content-Type: text/plain\r\n", 26);
  ASSERT_MEM_EQ(r->respond.body, r->respond.body_len, "hi\n", 3);
  ASSERT_EQ(r->_order, 0);
  ASSERT(match(&c, RS_M_HEAD, "example.com", "/hello") == r);
  ASSERT(match(&c, RS_M_GET, "other.com", "/hello") == NULL);

  r = match(&c, RS_M_POST, NULL, "/static/a.css");
  ASSERT(r != NULL);
  ASSERT_EQ(r->methods, RS_M_GET | RS_M_POST);
  ASSERT_EQ(r->respond.status, 204);
  ASSERT_STR_EQ(r->respond.headers, "");     /* never NULL */
  ASSERT_EQ(r->respond.headers_len, 0);
  ASSERT_STR_EQ(r->respond.body, "");
  ASSERT_EQ(r->respond.body_len, 0);
  ASSERT_STR_EQ(r->where, "t.lua:5");
  ASSERT(match(&c, RS_M_PUT, NULL, "/static/a.css") == NULL);

  /* The shorthand: GET (so HEAD), the default Content-Type added. */
  r = match(&c, RS_M_HEAD, NULL, "/health");
  ASSERT(r != NULL);
  ASSERT_EQ(r->methods, RS_M_GET);
  ASSERT_STR_EQ(r->where, "t.lua:6");
  static const char hh[] =
      "Cache-Control: no-store\r\nContent-Type: text/plain; charset=utf-8\r\n";
  ASSERT_MEM_EQ(r->respond.headers, r->respond.headers_len, hh, sizeof(hh) - 1);
  ASSERT_MEM_EQ(r->respond.body, r->respond.body_len, "ok\n", 3);

  /* Sorted by name ignoring case, list values in order, numbers rendered,
   * no Content-Type for an empty body. */
  r = match(&c, RS_M_DELETE, NULL, "/any");
  ASSERT(r != NULL);
  ASSERT_EQ(r->methods, RS_M_ANY);
  ASSERT_EQ(r->priority, -3);
  static const char ah[] = "Set-Cookie: a=1\r\nx-a: one\r\nx-a: two\r\nX-B: 1\r\n";
  ASSERT_MEM_EQ(r->respond.headers, r->respond.headers_len, ah, sizeof(ah) - 1);
  ASSERT_EQ(r->respond.body_len, 0);
  ASSERT_EQ(r->_order, 3);

  r = match(&c, RS_M_GET, NULL, "/empty");
  ASSERT(r != NULL);
  ASSERT_EQ(r->respond.status, 200);
  ASSERT_EQ(r->respond.headers_len, 0);
  ASSERT_EQ(r->_order, 4);
  rs_config_dispose(&c);
}

/* A config file that requires a module beside it, from any current dir. */
static void test_load_file(void) {
  rs_config_t c;
  rs_config_init(&c);
  int rc = rs_lconfig_load(RS_TEST_DIR "/lua/main_ok.lua", &c, err, sizeof(err));
  ASSERT_STR_EQ(rc == 0 ? "" : err, "");
  ASSERT_STR_EQ(c.file, RS_TEST_DIR "/lua/main_ok.lua");
  ASSERT_STR_EQ(c.listen.host, "127.0.0.1");
  ASSERT_EQ(c.listen.port, 18080);
  ASSERT(!c.admin_enabled);
  ASSERT_EQ(c.workers, 2);
  ASSERT_EQ(c.limits.body, 65536);
  ASSERT_EQ(c.log.level, RS_LOG_WARN);
  ASSERT_STR_EQ(c.log.access, "stderr");
  ASSERT_EQ(rs_router_count(c.router), 2);
  const rs_route_t *r = match(&c, RS_M_POST, NULL, "/extra/x");
  ASSERT(r != NULL);
  ASSERT_EQ(r->respond.status, 201);
  ASSERT(ends_with(r->where, "routes/extra.lua:4"));
  ASSERT(match(&c, RS_M_GET, NULL, "/health") != NULL);
  rs_config_dispose(&c);

  /* A chunk named with a folder requires from that folder too. */
  rs_config_init(&c);
  rc = rs_lconfig_check_string("require 'routes.extra'", RS_TEST_DIR "/lua/inline.lua",
                               &c, err, sizeof(err));
  ASSERT_STR_EQ(rc == 0 ? "" : err, "");
  ASSERT_EQ(rs_router_count(c.router), 1);
  rs_config_dispose(&c);

  rs_config_init(&c);
  ASSERT_EQ(rs_lconfig_load(RS_TEST_DIR "/lua/no_such_file.lua", &c, err, sizeof(err)), -1);
  ASSERT(strstr(err, "cannot open") != NULL);
  ASSERT(strstr(err, "no_such_file.lua") != NULL);
  rs_config_dispose(&c);
}

/* The fixtures the CLI's integration tests use. */
static void test_fixtures(void) {
  static const struct { const char *file, *tail; } cases[] = {
    { "/lua/bad_unknown_key.lua",
      "bad_unknown_key.lua:3: unknown key 'listn' in ssr.config (did you mean 'listen'?)" },
    { "/lua/bad_type.lua",
      "bad_type.lua:4: ssr.config: 'workers' must be \"auto\" or a positive integer, got string \"lots\"" },
    { "/lua/bad_syntax.lua", "bad_syntax.lua:4: unexpected symbol near '='" },
    { "/lua/bad_port.lua",
      "bad_port.lua:7: ssr.config: 'listen' = \"127.0.0.1:99999\": port out of range (0..65535)" },
    { "/lua/bad_upstream.lua",
      "bad_upstream.lua:9: proxy: no upstream 'ap' in ssr.config { upstreams = { ... } }" },
  };
  char path[512];
  for (size_t i = 0; i < RS_ARRAY_SIZE(cases); i++) {
    rs_config_t c;
    rs_config_init(&c);
    snprintf(path, sizeof(path), "%s%s", RS_TEST_DIR, cases[i].file);
    ASSERT_EQ(rs_lconfig_load(path, &c, err, sizeof(err)), -1);
    if (!ends_with(err, cases[i].tail)) TAP_FAIL("\"%s\" does not end with \"%s\"", err, cases[i].tail);
    /* The whole path when it fits Lua's 60 characters of chunk name. */
    if (strlen(path) < LUA_IDSIZE) ASSERT(strncmp(err, path, strlen(path)) == 0);
    rs_config_dispose(&c);
  }
}

/* The two steps the loop threads will use: one state, several chunks. */
static void test_state_reuse(void) {
  rs_config_t c;
  rs_config_init(&c);
  lua_State *L = rs_lconfig_state_new(NULL, &c, err, sizeof(err));
  ASSERT(L != NULL);
  static const char a[] = P "ssr.config { workers = 4 }";
  static const char b[] = "require('rustyssr').config {}";
  ASSERT_EQ(rs_lconfig_run(L, "a.lua", a, sizeof(a) - 1, err, sizeof(err)), 0);
  int top = lua_gettop(L);
  ASSERT_EQ(rs_lconfig_run(L, "b.lua", b, sizeof(b) - 1, err, sizeof(err)), -1);
  ASSERT_STR_EQ(err, "b.lua:1: ssr.config: called twice (first at a.lua:3)");
  ASSERT_EQ(lua_gettop(L), top);
  ASSERT_EQ(c.workers, 4);
  lua_close(L);
  rs_config_dispose(&c);
}

/* Static routes: the options, the root resolved and checked at load, and
 * every error with its file:line. Roots are absolute (the fixture tree) but
 * for the relative cases. */
static void test_static_routes(void) {
  char chunk[1024], msg[1024];
  rs_config_t c;
  snprintf(chunk, sizeof(chunk), P
           "ssr.route('GET', '/assets/*', { static = { root = '%s/static', index = false,\n"
           "  max_age = 60, etag = false } })\n"
           "ssr.static('/s', { root = '%s/static/', host = 'a.com', priority = 5 })\n"
           "ssr.static('/t/*', { root = '%s/static', index = 'home.htm', max_age = 0 })\n"
           "ssr.route('GET', '/favicon.ico', { static = { root = '.' } })\n",
           RS_TEST_DIR, RS_TEST_DIR, RS_TEST_DIR);
  int rc = run(chunk, &c);
  ASSERT_STR_EQ(err, "");
  ASSERT_EQ(rc, 0);
  ASSERT_EQ(rs_router_count(c.router), 4);
  const rs_route_t *r = rs_router_get(c.router, 0);
  ASSERT_EQ(r->action, RS_ACTION_STATIC);
  ASSERT_EQ(r->methods, RS_M_GET);
  ASSERT_STR_EQ(r->files.root, RS_TEST_DIR "/static");
  ASSERT(r->files.index == NULL);
  ASSERT_EQ(r->files.max_age, 60);
  ASSERT(!r->files.etag);
  ASSERT_STR_EQ(r->where, "t.lua:3");
  r = rs_router_get(c.router, 1);            /* the shorthand's defaults */
  ASSERT_EQ(r->action, RS_ACTION_STATIC);
  ASSERT_EQ(r->methods, RS_M_GET);
  ASSERT_STR_EQ(r->path, "/s/*");
  ASSERT_STR_EQ(r->host, "a.com");
  ASSERT_EQ(r->priority, 5);
  ASSERT_STR_EQ(r->files.root, RS_TEST_DIR "/static/");
  ASSERT_STR_EQ(r->files.index, "index.html");
  ASSERT_EQ(r->files.max_age, -1);
  ASSERT(r->files.etag);
  ASSERT_STR_EQ(r->where, "t.lua:5");
  r = rs_router_get(c.router, 2);
  ASSERT_STR_EQ(r->path, "/t/*");
  ASSERT_STR_EQ(r->files.index, "home.htm");
  ASSERT_EQ(r->files.max_age, 0);
  r = rs_router_get(c.router, 3);            /* no config file: the current folder */
  ASSERT_STR_EQ(r->path, "/favicon.ico");
  ASSERT_STR_EQ(r->files.root, ".");
  rs_config_dispose(&c);

  static const struct { const char *chunk, *msg; } cases[] = {
    { P "ssr.route('GET', '/a/*', { static = { rot = 'x' } })",
      "t.lua:3: unknown key 'rot' in ssr.route static (did you mean 'root'?)" },
    { P "ssr.static('/a/', { root = '.', maxage = 1 })",
      "t.lua:3: unknown key 'maxage' in ssr.static options (did you mean 'max_age'?)" },
    { P "ssr.route('GET', '/a/*', { static = {} })",
      "t.lua:3: ssr.route: 'static.root' must be a folder path, got nil" },
    { P "ssr.static('/a/', { root = '' })",
      "t.lua:3: ssr.static: 'root' must be a folder path, got an empty string" },
    { P "ssr.static('/a/', { root = 5 })",
      "t.lua:3: ssr.static: 'root' must be a folder path, got number 5" },
    { P "ssr.route('GET', '/a/*', { static = { root = '/nonexistent-rs-dir' } })",
      "t.lua:3: ssr.route: 'static.root' = \"/nonexistent-rs-dir\": /nonexistent-rs-dir: no such folder" },
    { P "ssr.static('/a/', {\n  root = 'no-such-rs-dir' })",
      "t.lua:3: ssr.static: 'root' = \"no-such-rs-dir\": no-such-rs-dir: no such folder" },
    { P "ssr.route('GET', '/a/*', { static = { root = '.', index = 'a/b' } })",
      "t.lua:3: ssr.route: 'static.index' must be a file name (no '/') or false, got string \"a/b\"" },
    { P "ssr.route('GET', '/a/*', { static = { root = '.', index = true } })",
      "t.lua:3: ssr.route: 'static.index' must be a file name (no '/') or false, got boolean true" },
    { P "ssr.static('/a/', { root = '.', index = '..' })",
      "t.lua:3: ssr.static: 'index' must be a file name (no '/') or false, got string \"..\"" },
    { P "ssr.route('GET', '/a/*', { static = { root = '.', max_age = -1 } })",
      "t.lua:3: ssr.route: 'static.max_age' must be an integer between 0 and 315360000, got number -1" },
    { P "ssr.route('GET', '/a/*', { static = { root = '.', etag = 'yes' } })",
      "t.lua:3: ssr.route: 'static.etag' must be a boolean, got string \"yes\"" },
    { P "ssr.route({ 'GET', 'POST' }, '/a/*', { static = { root = '.' } })",
      "t.lua:3: ssr.route: a static route answers GET and HEAD only" },
    { P "ssr.route('GET', '/a/*', { static = { root = '.' }, respond = {} })",
      "t.lua:3: ssr.route: give one action: 'static' goes with no 'respond' or 'render'" },
    { P "ssr.route('GET', '/a/*', { static = true })",
      "t.lua:3: ssr.route: 'static' must be a table, as in { root = \"dist\" }, got boolean true" },
    { P "ssr.static('/a/')",
      "t.lua:3: ssr.static: argument 2 must be a table of options, as in { root = \"dist\" }, got nil" },
    { P "ssr.static(5, { root = '.' })",
      "t.lua:3: ssr.static: 'prefix' must be a path prefix starting with '/', got number 5" },
    { P "ssr.static('/a/', { root = '.' }, 3)",
      "t.lua:3: ssr.static: expected (prefix, options), got 3 arguments" },
    { P "ssr.static('/a/', { root = '.', priority = 'high' })",
      "t.lua:3: ssr.static: 'priority' must be an integer between -1000000 and 1000000, got string \"high\"" },
    { P "ssr.static('/u/:id/', { root = '.' })",
      "t.lua:3: ssr.static: a static route's path cannot have ':params' (files live under a fixed prefix)" },
  };
  for (size_t i = 0; i < RS_ARRAY_SIZE(cases); i++) {
    rc = run(cases[i].chunk, &c);
    if (rc != -1) TAP_FAIL("case %zu accepted: %s", i, cases[i].chunk);
    ASSERT_STR_EQ(err, cases[i].msg);
    rs_config_dispose(&c);
  }

  /* A root that is a file. */
  snprintf(chunk, sizeof(chunk), P "ssr.static('/a/', { root = '%s/static/hello.txt' })", RS_TEST_DIR);
  snprintf(msg, sizeof(msg), "t.lua:3: ssr.static: 'root' = \"%s/static/hello.txt\": "
           "%s/static/hello.txt is not a folder", RS_TEST_DIR, RS_TEST_DIR);
  ASSERT_EQ(run(chunk, &c), -1);
  ASSERT_STR_EQ(err, msg);
  rs_config_dispose(&c);

  /* From a file: a relative root is under the file's folder, and errors
   * name the file and line. */
  char dir[] = "/tmp/rs-cfg-XXXXXX", path[256];
  ASSERT(mkdtemp(dir) != NULL);
  snprintf(path, sizeof(path), "%s/public", dir);
  ASSERT_EQ(mkdir(path, 0755), 0);
  snprintf(path, sizeof(path), "%s/site.lua", dir);
  FILE *f = fopen(path, "w");
  ASSERT(f != NULL);
  fputs("local ssr = require 'rustyssr'\nssr.static('/assets/', { root = 'public' })\n"
        "ssr.static('/other/', { root = 'missing' })\n", f);
  fclose(f);
  rs_config_init(&c);
  ASSERT_EQ(rs_lconfig_load(path, &c, err, sizeof(err)), -1);
  snprintf(msg, sizeof(msg), "%s:3: ssr.static: 'root' = \"missing\": %s/missing: no such folder",
           path, dir);
  if (strlen(path) < LUA_IDSIZE) ASSERT_STR_EQ(err, msg);
  else ASSERT(ends_with(err, "/missing: no such folder"));
  rs_config_dispose(&c);
  f = fopen(path, "w");
  ASSERT(f != NULL);
  fputs("local ssr = require 'rustyssr'\nssr.static('/assets/', { root = 'public' })\n", f);
  fclose(f);
  rs_config_init(&c);
  rc = rs_lconfig_load(path, &c, err, sizeof(err));
  ASSERT_STR_EQ(rc == 0 ? "" : err, "");
  snprintf(msg, sizeof(msg), "%s/public", dir);
  ASSERT_STR_EQ(rs_router_get(c.router, 0)->files.root, msg);
  rs_config_dispose(&c);
  snprintf(chunk, sizeof(chunk), "rm -rf '%s'", dir);
  ASSERT_EQ(system(chunk), 0);
}

/* upstreams = {...} and proxy routes: values, defaults, and each error
 * with its file:line. */
static void test_upstreams(void) {
  rs_config_t c;
  int rc = run(P "ssr.config { upstreams = {\n"
                 "  api = { servers = { '127.0.0.1:9000', '[::1]:9001', 'localhost:9002' }, keepalive = 64,\n"
                 "          connect_timeout_ms = 500, send_timeout_ms = 3000, timeout_ms = 2500,\n"
                 "          retries = 2, max_fails = 3, fail_timeout_ms = 10000 },\n"
                 "  one = { servers = '10.0.0.1:80', read_timeout_ms = 700 } } }\n"
                 "ssr.proxy('/api/', { upstream = 'api', path = '/v1/', host = 'upstream' })\n"
                 "ssr.route('GET', '/x', { proxy = { upstream = 'one', host = 'b.internal' } })\n",
               &c);
  ASSERT_STR_EQ(rc == 0 ? "" : err, "");
  ASSERT_EQ(c.nupstreams, 2u);
  const rs_upstream_conf_t *u = rs_config_upstream(&c, "api");
  ASSERT(u != NULL);
  ASSERT_EQ(u->nservers, 3u);
  ASSERT_STR_EQ(u->servers[1].host, "::1");
  ASSERT_EQ(u->servers[1].port, 9001);
  ASSERT_STR_EQ(u->servers[2].host, "127.0.0.1");
  ASSERT_EQ(u->keepalive, 64u);
  ASSERT_EQ(u->connect_timeout_ms, 500u);
  ASSERT_EQ(u->send_timeout_ms, 3000u);
  ASSERT_EQ(u->read_timeout_ms, 2500u);
  ASSERT_EQ(u->retries, 2);
  ASSERT_EQ(u->max_fails, 3);
  ASSERT_EQ(u->fail_timeout_ms, 10000u);
  u = rs_config_upstream(&c, "one");
  ASSERT(u != NULL);
  ASSERT_EQ(u->nservers, 1u);
  ASSERT_EQ(u->read_timeout_ms, 700u);
  ASSERT_EQ(u->keepalive, 32u);   /* defaults */
  ASSERT_EQ(u->retries, 1);
  ASSERT_EQ(u->max_fails, 1);
  const rs_route_t *r = match(&c, RS_M_POST, NULL, "/api/users");
  ASSERT(r != NULL);
  ASSERT_EQ(r->action, RS_ACTION_PROXY);
  ASSERT_STR_EQ(r->proxy.upstream, "api");
  ASSERT_STR_EQ(r->proxy.path, "/v1/");
  ASSERT_EQ(r->proxy.host_mode, RS_PROXY_HOST_UPSTREAM);
  r = match(&c, RS_M_GET, NULL, "/x");
  ASSERT(r != NULL && r->action == RS_ACTION_PROXY);
  ASSERT_EQ(r->proxy.host_mode, RS_PROXY_HOST_LITERAL);
  ASSERT_STR_EQ(r->proxy.host, "b.internal");
  ASSERT(r->proxy.path == NULL);
  ASSERT(match(&c, RS_M_POST, NULL, "/x") == NULL);
  rs_config_dispose(&c);

  static const struct { const char *chunk, *msg; } cases[] = {
    { P "ssr.config { upstreams = { api = { servers = {} } } }",
      "t.lua:3: ssr.config: upstream 'api': 'servers' is empty" },
    { P "ssr.config { upstreams = { api = { } } }",
      "t.lua:3: ssr.config: upstream 'api' has no 'servers', as in servers = { \"127.0.0.1:9000\" }" },
    { P "ssr.config { upstreams = { api = { servers = { 'bad_host:80' } } } }",
      "t.lua:3: ssr.config: upstream 'api': server \"bad_host:80\": bad host name" },
    { P "ssr.config { upstreams = { api = { servers = { '127.0.0.1' } } } }",
      "t.lua:3: ssr.config: upstream 'api': server \"127.0.0.1\": expected \"host:port\"" },
    { P "ssr.config { upstreams = { api = { servers = { '127.0.0.1:0' } } } }",
      "t.lua:3: ssr.config: upstream 'api': server \"127.0.0.1:0\": port 0" },
    { P "ssr.config { upstreams = { api = { servers = { 9000 } } } }",
      "t.lua:3: ssr.config: upstream 'api': servers[1] must be \"host:port\", got number 9000" },
    { P "ssr.config { upstreams = { api = { servers = { '127.0.0.1:1' }, keepalve = 3 } } }",
      "t.lua:3: unknown key 'keepalve' in ssr.config.upstreams.api (did you mean 'keepalive'?)" },
    { P "ssr.config { upstreams = { api = { servers = { '127.0.0.1:1' }, retries = -1 } } }",
      "t.lua:3: upstream 'api': 'retries' must be an integer between 0 and 100, got number -1" },
    { P "ssr.config { upstreams = { api = 'x' } }",
      "t.lua:3: ssr.config: upstream 'api' must be a table, got string \"x\"" },
    { P "ssr.config { upstreams = { ['a b'] = { servers = { '127.0.0.1:1' } } } }",
      "t.lua:3: ssr.config: upstream name \"a b\" must be 1..64 letters, digits, '_', '-' or '.'" },
    { P "ssr.proxy('/api/', { upstream = 'nope' })",
      "t.lua:3: proxy: no upstream 'nope' in ssr.config { upstreams = { ... } }" },
    { P "ssr.proxy('/api/', { path = '/v1/' })",
      "t.lua:3: ssr.proxy: 'upstream' is required, as in { upstream = \"api\" }" },
    { P "ssr.proxy('/api/', { upstream = 'a', path = 'v1' })",
      "t.lua:3: ssr.proxy: 'path' must be a path starting with '/', without spaces, '?' or '#'" },
    { P "ssr.proxy('/api/', { upstream = 'a', host = 'a b' })",
      "t.lua:3: ssr.proxy: 'host' must be \"keep\", \"upstream\" or a host name, got \"a b\"" },
    { P "ssr.route('GET', '/p/:id', { proxy = { upstream = 'a', path = '/x' } })",
      "t.lua:3: ssr.route: 'proxy.path' rewrites a prefix or exact path; this route has ':params'" },
    { P "ssr.route('GET', '/p', { proxy = { upstream = 'a' }, render = true })",
      "t.lua:3: ssr.route: give one action: 'proxy' goes with no 'respond', 'render' or 'static'" },
    { P "ssr.route('GET', '/p', { proxy = { upstrem = 'a' } })",
      "t.lua:3: unknown key 'upstrem' in ssr.route proxy (did you mean 'upstream'?)" },
  };
  for (size_t i = 0; i < RS_ARRAY_SIZE(cases); i++) {
    rc = run(cases[i].chunk, &c);
    if (rc != -1) TAP_FAIL("case %zu accepted: %s", i, cases[i].chunk);
    ASSERT_STR_EQ(err, cases[i].msg);
    rs_config_dispose(&c);
  }
}

/* The state's safety nets (lua/rs_lutil.h): the memory cap fails the code
 * that passes it and the state serves on; recursion through C functions is
 * a Lua error; a finalizer's error is logged, never raised; an error
 * outside a protected call comes back to the recovery point instead of
 * exiting. */
static int rs__alloc_unprotected(lua_State *L, int n) {
  rs_lutil_recover_t r;
  if (!RS_LUTIL_TRY(&r)) return -1;
  for (int i = 0; i < n; i++) lua_createtable(L, 16, 0), lua_pop(L, 1);  /* GC steps run finalizers */
  rs_lutil_recover_pop(&r);
  return 0;
}

static int rs__do(lua_State *L, const char *code) {
  int rc = luaL_loadstring(L, code);
  return rc != 0 ? rc : lua_pcall(L, 0, LUA_MULTRET, 0);
}

static void test_state_safety(void) {
  rs_config_t c;
  rs_config_init(&c);
  ASSERT_EQ(c.lua.hook_timeout_ms, 1000);
  ASSERT_EQ(c.lua.memory_mb, 256);
  ASSERT(!c.lua.jit);
  lua_State *L = rs_lconfig_state_new(NULL, &c, err, sizeof(err));
  ASSERT(L != NULL);
  ASSERT(rs_lutil_state_used(L) > 0);
  rs_lutil_state_cap(L, rs_lutil_state_used(L) + (8u << 20));
  ASSERT_EQ(rs__do(L, "local s = 'x' while true do s = s .. s end"), LUA_ERRMEM);
  lua_settop(L, 0);
  lua_gc(L, LUA_GCCOLLECT, 0);
  ASSERT(rs_lutil_state_used(L) <= rs_lutil_state_limit(L));
  ASSERT_EQ(rs__do(L, "return ('ab'):rep(1000)"), 0);   /* still serves */
  lua_settop(L, 0);
  ASSERT_EQ(rs__do(L, "local function r(n) return (string.gsub('x', 'x', function() return r(n + 1) end)) end "
                             "return r(0)"), LUA_ERRRUN);
  ASSERT(strstr(lua_tostring(L, -1), "stack overflow") != NULL);
  lua_settop(L, 0);
  /* Finalizer errors are logged, never raised: not even outside a
   * protected call. */
  ASSERT_EQ(rs__do(L, "for i = 1, 100 do local u = newproxy(true) "
                      "getmetatable(u).__gc = function() error('gc boom') end end "
                      "collectgarbage() return 1"), 0);
  lua_settop(L, 0);
  ASSERT_EQ(rs__do(L, "for i = 1, 100 do local u = newproxy(true) "
                      "getmetatable(u).__gc = function() error('gc boom') end end"), 0);
  ASSERT_EQ(rs__alloc_unprotected(L, 100000), 0);
  /* An error outside a protected call comes back to the recovery point. */
  lua_gc(L, LUA_GCCOLLECT, 0);
  rs_lutil_state_cap(L, rs_lutil_state_used(L) + 4096);
  ASSERT_EQ(rs__alloc_unprotected(L, 100000), -1);
  rs_lutil_state_cap(L, 0);
  lua_settop(L, 0);
  lua_close(L);                  /* the remaining finalizers run protected */
  rs_config_dispose(&c);
}

int main(void) {
  rs_dispatch_init();             /* the actions routes name (redirect reads its own options) */
  RS_TEST(test_defaults);
  RS_TEST(test_upstreams);
  RS_TEST(test_addr_parse);
  RS_TEST(test_size_parse);
  RS_TEST(test_every_key);
  RS_TEST(test_errors);
  RS_TEST(test_errors_prefix);
  RS_TEST(test_pcall_leaves_cfg);
  RS_TEST(test_routes);
  RS_TEST(test_load_file);
  RS_TEST(test_fixtures);
  RS_TEST(test_state_reuse);
  RS_TEST(test_static_routes);
  RS_TEST(test_state_safety);
  RS_TEST_DONE();
}
