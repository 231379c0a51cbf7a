/* lua/rs_lconfig_back.c — the sections of ssr.config about what answers
 * requests: render (v8_flags, env), lua, cache, upstreams
 * (rs_lconfig_int.h). */
#include "rs_lconfig_int.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rs_lcache.h"
#include "rs_log.h"
#include "rs_lutil.h"
#include "rs_v8.h"

static const char *const rs__lua_keys[] = { "hook_timeout_ms", "memory_mb", "jit", NULL };
static const char *const rs__upstream_keys[] = {
  "servers", "keepalive", "connect_timeout_ms", "send_timeout_ms", "read_timeout_ms", "timeout_ms",
  "idle_timeout_ms", "retries", "max_fails", "fail_timeout_ms", "tls", NULL
};
static const char *const rs__cache_keys[] = {
  "max_entries", "max_bytes", "shards", "ttl", "grace", "ttl_jitter", "prefresh", "l1", "gzip_level", "brotli_quality",
  "min_compress", "clear_on_reload", "shared", "on_new_bundle", "version", NULL
};
static const char *const rs__shared_keys[] = {
  "redis", "db", "password", "prefix", "timeout_ms", "write_timeout_ms", "connect_timeout_ms", "lock_ms",
  "lock_wait_ms", "max_bytes", "max_fails", "fail_timeout_ms", NULL
};
static const char *const rs__l1_keys[] = { "hot", "entries", "bytes", NULL };
static const char *const rs__render_keys[] = {
  "bundle", "fn", "threads", "queue", "timeout_ms", "heap_mb", "semi_space_mb", "v8_flags", "env",
  "debug", "nice", NULL
};

/* render.v8_flags: a string ("--max-lazy --no-opt") or a list of strings,
 * one flag each. Joined into buf with single spaces; raises on anything
 * else. */
static void rs__config_v8_flags(lua_State *L, int idx, char *buf, size_t cap) {
  char desc[64];
  size_t at = 0;
  int n = lua_type(L, idx) == LUA_TTABLE ? (int)lua_objlen(L, idx) : 1;
  if (lua_type(L, idx) != LUA_TTABLE && lua_type(L, idx) != LUA_TSTRING)
    rs_lutil_error(L, "ssr.config: 'render.v8_flags' must be a string or a list of strings, got %s",
                   rs_lutil_describe(L, idx, desc, sizeof(desc)));
  buf[0] = '\0';
  for (int i = 1; i <= n; i++) {
    size_t len;
    const char *f;
    if (lua_type(L, idx) == LUA_TTABLE) {
      lua_rawgeti(L, idx, i);
      f = rs_lutil_string(L, -1, "ssr.config", "render.v8_flags", "a list of strings", &len);
    } else {
      f = rs_lutil_string(L, idx, "ssr.config", "render.v8_flags", "a string", &len);
    }
    if (at + len + 2 > cap)
      rs_lutil_error(L, "ssr.config: 'render.v8_flags' is too long (%zu bytes at most)", cap - 1);
    if (at) buf[at++] = ' ';
    memcpy(buf + at, f, len);
    at += len;
    buf[at] = '\0';
    if (lua_type(L, idx) == LUA_TTABLE) lua_pop(L, 1);
  }
  for (size_t i = 0; i < at; i++)
    if (buf[i] == '\n' || buf[i] == '\r' || buf[i] == '\t') buf[i] = ' ';
}

/* render.env = { NAME = "value", ... }: names and values strings (a number
 * is taken as its decimal form). Checked, or with out set, copied (then
 * nothing raises). Returns the number of pairs. */
static size_t rs__config_env(lua_State *L, int t, char **out) {
  char desc[64];
  size_t n = 0;
  if (lua_type(L, t) != LUA_TTABLE)
    rs_lutil_error(L, "ssr.config: 'render.env' must be a table of strings, got %s",
                   rs_lutil_describe(L, t, desc, sizeof(desc)));
  lua_pushnil(L);
  while (lua_next(L, t)) {
    if (out == NULL) {
      if (lua_type(L, -2) != LUA_TSTRING || lua_objlen(L, -2) == 0)
        rs_lutil_error(L, "ssr.config: 'render.env' keys must be variable names, got %s",
                       rs_lutil_describe(L, -2, desc, sizeof(desc)));
      if (lua_type(L, -1) != LUA_TSTRING && lua_type(L, -1) != LUA_TNUMBER)
        rs_lutil_error(L, "ssr.config: 'render.env.%s' must be a string, got %s", lua_tostring(L, -2),
                       rs_lutil_describe(L, -1, desc, sizeof(desc)));
      size_t len, vlen;
      const char *k = lua_tolstring(L, -2, &len);
      if (strlen(k) != len) rs_lutil_error(L, "ssr.config: 'render.env' key has a NUL byte");
      lua_pushvalue(L, -1);
      const char *v = lua_tolstring(L, -1, &vlen);
      if (strlen(v) != vlen) rs_lutil_error(L, "ssr.config: 'render.env.%s' has a NUL byte", k);
      lua_pop(L, 1);
    } else {
      lua_pushvalue(L, -1);  /* tolstring on a number converts in place: use a copy */
      out[2 * n] = rs_xstrdup(lua_tostring(L, -3));
      out[2 * n + 1] = rs_xstrdup(lua_tostring(L, -1));
      lua_pop(L, 1);
    }
    n++;
    lua_pop(L, 1);
  }
  return n;
}

/* render = { bundle = "app/dist/server.js", fn = "render", threads = "auto",
 * queue = 512, timeout_ms = 2000, heap_mb = 128, debug = false }
 * Strings are returned borrowed (*bundle, *fn) and copied at commit. */
void rs_lconfig__render(lua_State *L, int t, rs_config_t *c, const char **bundle, const char **fn) {
  char desc[64];
  rs_lutil_check_keys(L, t, "ssr.config.render", rs__render_keys);
  if (rs_lutil_field(L, t, "bundle")) {
    size_t n;
    *bundle = rs_lutil_string(L, -1, "ssr.config", "render.bundle", "a file path", &n);
    if (n == 0) rs_lutil_error(L, "ssr.config: 'render.bundle' must be a file path, got an empty string");
    lua_pop(L, 1);
  }
  if (rs_lutil_field(L, t, "fn")) {
    size_t n;
    *fn = rs_lutil_string(L, -1, "ssr.config", "render.fn", "a global function name", &n);
    if (n == 0 || n > 128) rs_lutil_error(L, "ssr.config: 'render.fn' must be a global function name");
    lua_pop(L, 1);
  }
  if (rs_lutil_field(L, t, "threads")) {
    if (lua_type(L, -1) == LUA_TSTRING && strcmp(lua_tostring(L, -1), "auto") == 0)
      c->render.threads = 0;
    else if (lua_type(L, -1) == LUA_TNUMBER)
      c->render.threads = (int)rs_lutil_int(L, -1, "ssr.config", "render.threads", 1, 1024);
    else
      rs_lutil_error(L, "ssr.config: 'render.threads' must be \"auto\" or a positive integer, got %s",
                     rs_lutil_describe(L, -1, desc, sizeof(desc)));
    lua_pop(L, 1);
  }
  if (rs_lutil_field(L, t, "queue")) {
    c->render.queue = (size_t)rs_lutil_int(L, -1, "ssr.config", "render.queue", 1, 1000000);
    lua_pop(L, 1);
  }
  if (rs_lutil_field(L, t, "timeout_ms")) {
    c->render.timeout_ms = (uint64_t)rs_lutil_int(L, -1, "ssr.config", "render.timeout_ms", 1, RS_LCONFIG__DAY_MS);
    lua_pop(L, 1);
  }
  if (rs_lutil_field(L, t, "heap_mb")) {
    c->render.heap_mb = (int)rs_lutil_int(L, -1, "ssr.config", "render.heap_mb", 8, 65536);
    lua_pop(L, 1);
  }
  if (rs_lutil_field(L, t, "semi_space_mb")) {
    c->render.semi_space_mb = (int)rs_lutil_int(L, -1, "ssr.config", "render.semi_space_mb", 1, 1024);
    lua_pop(L, 1);
  }
  if (rs_lutil_field(L, t, "nice")) {
    c->render.nice = (int)rs_lutil_int(L, -1, "ssr.config", "render.nice", -20, 19);
    lua_pop(L, 1);
  }
  if (rs_lutil_field(L, t, "v8_flags")) {
    /* V8 parses them itself (it has no "is this flag known" call): before
     * V8 starts they are applied here, and what V8 leaves is an error. On a
     * reload V8 runs already: flags can no longer change. */
    char flags[4096], why[512];
    rs__config_v8_flags(L, lua_gettop(L), flags, sizeof(flags));
    int rc = rs_v8_set_flags(flags, why, sizeof(why));
    if (rc < 0) rs_lutil_error(L, "ssr.config: 'render.v8_flags': %s", why);
    if (rc > 0)
      rs_log_warn("ssr.config: 'render.v8_flags' changed; V8's flags are set once per process: "
                  "the new ones take effect at the next start (check them with rustyssr -t)");
    lua_pop(L, 1);
  }
  if (rs_lutil_field(L, t, "env")) {
    rs__config_env(L, lua_gettop(L), NULL);
    lua_pop(L, 1);
  }
  if (rs_lutil_field(L, t, "debug")) {
    if (lua_type(L, -1) != LUA_TBOOLEAN)
      rs_lutil_error(L, "ssr.config: 'render.debug' must be a boolean, got %s",
                     rs_lutil_describe(L, -1, desc, sizeof(desc)));
    c->render.debug = lua_toboolean(L, -1);
    lua_pop(L, 1);
  }
}

void rs_lconfig__render_commit(lua_State *L, int t, rs_config_t *c, rs_config_t *old) {
  if (rs_lutil_field(L, t, "v8_flags")) {
    char flags[4096];
    rs__config_v8_flags(L, lua_gettop(L), flags, sizeof(flags));
    c->render.v8_flags = rs_xstrdup(flags);
    free(old->render.v8_flags);
    lua_pop(L, 1);
  }
  if (rs_lutil_field(L, t, "env")) {
    size_t n = rs__config_env(L, lua_gettop(L), NULL);
    c->render.env = rs_xcalloc(2 * n + 1, sizeof(char *));
    c->render.nenv = rs__config_env(L, lua_gettop(L), c->render.env);
    /* By name: a Lua table has no order, process.env's keys and -T's dump
     * should (insertion sort: a handful of pairs). */
    char **env = c->render.env;
    for (size_t i = 1; i < c->render.nenv; i++)
      for (size_t k = i; k > 0 && strcmp(env[2 * k - 2], env[2 * k]) > 0; k--) {
        char *n = env[2 * k], *v = env[2 * k + 1];
        env[2 * k] = env[2 * k - 2], env[2 * k + 1] = env[2 * k - 1];
        env[2 * k - 2] = n, env[2 * k - 1] = v;
      }
    for (size_t i = 0; i < 2 * old->render.nenv; i++) free(old->render.env[i]);
    free(old->render.env);
    lua_pop(L, 1);
  }
}

/* lua = { hook_timeout_ms = 1000, memory_mb = 256, jit = false }: the
 * per-loop hook states (lua/rs_lhooks.c). */
void rs_lconfig__lua(lua_State *L, int t, rs_config_t *c) {
  char desc[64];
  rs_lutil_check_keys(L, t, "ssr.config.lua", rs__lua_keys);
  if (rs_lutil_field(L, t, "hook_timeout_ms")) {
    c->lua.hook_timeout_ms = (uint64_t)rs_lutil_int(L, -1, "ssr.config", "lua.hook_timeout_ms", 1, RS_LCONFIG__DAY_MS);
    lua_pop(L, 1);
  }
  if (rs_lutil_field(L, t, "memory_mb")) {
    c->lua.memory_mb = (size_t)rs_lutil_int(L, -1, "ssr.config", "lua.memory_mb", 4, 1 << 20);
    lua_pop(L, 1);
  }
  if (rs_lutil_field(L, t, "jit")) {
    if (lua_type(L, -1) != LUA_TBOOLEAN)
      rs_lutil_error(L, "ssr.config: 'lua.jit' must be a boolean, got %s",
                     rs_lutil_describe(L, -1, desc, sizeof(desc)));
    c->lua.jit = lua_toboolean(L, -1);
    lua_pop(L, 1);
  }
}

/* cache.shared = { redis = "10.0.0.5:6379", db = 0, password = "...",
 * prefix = "rs:", timeout_ms = 5, write_timeout_ms = 50, lock_wait_ms = 300,
 * max_bytes = "1MB", ... } (core/fleet/rs_fleet.h). */
static void rs__cache_shared(lua_State *L, int t, rs_config_t *c) {
  char desc[64];
  if (lua_type(L, t) != LUA_TTABLE)
    rs_lutil_error(L, "ssr.config: 'cache.shared' must be a table, got %s", rs_lutil_describe(L, t, desc, sizeof(desc)));
  rs_lutil_check_keys(L, t, "ssr.config.cache.shared", rs__shared_keys);
  if (!rs_lutil_field(L, t, "redis"))
    rs_lutil_error(L, "ssr.config: 'cache.shared' needs redis = \"host:port\"");
  size_t len;
  const char *a = rs_lutil_string(L, -1, "ssr.config", "cache.shared.redis", "\"host:port\"", &len);
  /* host:port, or [v6]:port; the host is resolved when connecting. */
  const char *colon = NULL;
  for (size_t i = 0; i < len; i++)
    if (a[i] == ':') colon = a + i;
  const char *h = a, *he = colon;
  if (len > 0 && a[0] == '[') {
    const char *rb = memchr(a, ']', len);
    if (rb == NULL || rb + 1 != colon) colon = NULL;
    else h = a + 1, he = rb;
  }
  char *end = NULL;
  long port = colon ? strtol(colon + 1, &end, 10) : 0;
  if (colon == NULL || he == h || end == colon + 1 || *end != '\0' || port < 1 || port > 65535)
    rs_lutil_error(L, "ssr.config: 'cache.shared.redis' must be \"host:port\", got \"%s\"", a);
  free(c->cache.shared.host);
  c->cache.shared.host = rs_xstrndup(h, (size_t)(he - h));
  c->cache.shared.port = (int)port;
  lua_pop(L, 1);
  if (rs_lutil_field(L, t, "db")) {
    c->cache.shared.db = (int)rs_lutil_int(L, -1, "ssr.config", "cache.shared.db", 0, 1000000);
    lua_pop(L, 1);
  }
  if (rs_lutil_field(L, t, "password")) {
    free(c->cache.shared.password);
    c->cache.shared.password =
      rs_xstrdup(rs_lutil_string(L, -1, "ssr.config", "cache.shared.password", "a string", NULL));
    lua_pop(L, 1);
  }
  if (rs_lutil_field(L, t, "prefix")) {
    const char *p = rs_lutil_string(L, -1, "ssr.config", "cache.shared.prefix", "a string", &len);
    for (size_t i = 0; i < len; i++)
      if ((unsigned char)p[i] <= 0x20 || p[i] == 0x7f || p[i] == '{' || p[i] == '}')
        rs_lutil_error(L, "ssr.config: 'cache.shared.prefix' may not hold spaces, braces or control bytes");
    free(c->cache.shared.prefix);
    c->cache.shared.prefix = rs_xstrdup(p);
    lua_pop(L, 1);
  }
  static const struct {
    const char *key, *path;
    size_t off;
    long long min, max;
  } ms[] = {
    { "timeout_ms", "cache.shared.timeout_ms", offsetof(rs_config_t, cache.shared.timeout_ms), 1, 60000 },
    { "write_timeout_ms", "cache.shared.write_timeout_ms", offsetof(rs_config_t, cache.shared.write_timeout_ms), 1, 60000 },
    { "connect_timeout_ms", "cache.shared.connect_timeout_ms", offsetof(rs_config_t, cache.shared.connect_timeout_ms), 1, 60000 },
    { "lock_ms", "cache.shared.lock_ms", offsetof(rs_config_t, cache.shared.lock_ms), 1, 3600000 },
    { "lock_wait_ms", "cache.shared.lock_wait_ms", offsetof(rs_config_t, cache.shared.lock_wait_ms), 0, 60000 },
    { "max_fails", "cache.shared.max_fails", offsetof(rs_config_t, cache.shared.max_fails), 0, 1000 },
    { "fail_timeout_ms", "cache.shared.fail_timeout_ms", offsetof(rs_config_t, cache.shared.fail_timeout_ms), 1, 3600000 },
  };
  for (size_t i = 0; i < sizeof(ms) / sizeof(ms[0]); i++) {
    if (!rs_lutil_field(L, t, ms[i].key)) continue;
    *(uint32_t *)(void *)((char *)c + ms[i].off) =
      (uint32_t)rs_lutil_int(L, -1, "ssr.config", ms[i].path, ms[i].min, ms[i].max);
    lua_pop(L, 1);
  }
  if (rs_lutil_field(L, t, "max_bytes")) {
    c->cache.shared.max_bytes = rs_lutil_size(L, -1, "ssr.config", "cache.shared.max_bytes", 1024, (size_t)512 << 20);
    lua_pop(L, 1);
  }
}

/* cache = false, or cache = { max_entries = 100000, max_bytes = "512MB",
 * shards = 128, ttl = 60, grace = 10, l1 = { hot = 8, entries = 128,
 * bytes = "8MB" }, gzip_level = 6, brotli_quality = 5, min_compress = 1024 } */
void rs_lconfig__cache(lua_State *L, int t, rs_config_t *c) {
  char desc[64];
  if (lua_type(L, t) == LUA_TBOOLEAN) {
    c->cache.enabled = lua_toboolean(L, t);
    return;
  }
  if (lua_type(L, t) != LUA_TTABLE)
    rs_lutil_error(L, "ssr.config: 'cache' must be a table or a boolean, got %s",
                   rs_lutil_describe(L, t, desc, sizeof(desc)));
  c->cache.enabled = true;
  rs_lutil_check_keys(L, t, "ssr.config.cache", rs__cache_keys);
  if (rs_lutil_field(L, t, "max_entries")) {
    c->cache.max_entries = (size_t)rs_lutil_int(L, -1, "ssr.config", "cache.max_entries", 1, 1000000000);
    lua_pop(L, 1);
  }
  if (rs_lutil_field(L, t, "max_bytes")) {
    c->cache.max_bytes = rs_lutil_size(L, -1, "ssr.config", "cache.max_bytes", 4096, (size_t)1 << 40);
    lua_pop(L, 1);
  }
  if (rs_lutil_field(L, t, "shards")) {
    long long n = rs_lutil_int(L, -1, "ssr.config", "cache.shards", 1, 4096);
    if (n & (n - 1))
      rs_lutil_error(L, "ssr.config: 'cache.shards' must be a power of two, got %lld", n);
    c->cache.shards = (unsigned)n;
    lua_pop(L, 1);
  }
  if (rs_lutil_field(L, t, "ttl")) {
    c->cache.ttl_ms = 1000 * (uint64_t)rs_lutil_int(L, -1, "ssr.config", "cache.ttl", 0, 31536000);
    lua_pop(L, 1);
  }
  if (rs_lutil_field(L, t, "grace")) {
    c->cache.grace_ms = 1000 * (uint64_t)rs_lutil_int(L, -1, "ssr.config", "cache.grace", 0, 31536000);
    lua_pop(L, 1);
  }
  if (rs_lutil_field(L, t, "ttl_jitter")) {
    lua_Number n = lua_type(L, -1) == LUA_TNUMBER ? lua_tonumber(L, -1) : -1;
    if (!(n >= 0 && n <= 0.5))
      rs_lutil_error(L, "ssr.config: 'cache.ttl_jitter' must be a share of the TTL from 0 to 0.5, got %s",
                     rs_lutil_describe(L, -1, desc, sizeof(desc)));
    c->cache.ttl_jitter = n;
    lua_pop(L, 1);
  }
  if (rs_lutil_field(L, t, "prefresh")) {
    /* false (never), or the share of the TTL after which a hit refreshes */
    lua_Number n = lua_type(L, -1) == LUA_TNUMBER ? lua_tonumber(L, -1) : -1;
    if (lua_type(L, -1) == LUA_TBOOLEAN && !lua_toboolean(L, -1)) n = 0;
    else if (!(n >= 0.5 && n < 1))
      rs_lutil_error(L, "ssr.config: 'cache.prefresh' must be false or a share of the TTL from 0.5 to "
                     "0.99, got %s", rs_lutil_describe(L, -1, desc, sizeof(desc)));
    c->cache.prefresh = n;
    lua_pop(L, 1);
  }
  if (rs_lutil_field(L, t, "l1")) {
    int l1 = lua_gettop(L);
    if (lua_type(L, l1) != LUA_TTABLE)
      rs_lutil_error(L, "ssr.config: 'cache.l1' must be a table, got %s",
                     rs_lutil_describe(L, l1, desc, sizeof(desc)));
    rs_lutil_check_keys(L, l1, "ssr.config.cache.l1", rs__l1_keys);
    if (rs_lutil_field(L, l1, "hot")) {
      c->cache.l1_hot = (size_t)rs_lutil_int(L, -1, "ssr.config", "cache.l1.hot", 0, 64);
      lua_pop(L, 1);
    }
    if (rs_lutil_field(L, l1, "entries")) {
      c->cache.l1_entries = (size_t)rs_lutil_int(L, -1, "ssr.config", "cache.l1.entries", 0, 65536);
      lua_pop(L, 1);
    }
    if (rs_lutil_field(L, l1, "bytes")) {
      c->cache.l1_bytes = rs_lutil_size(L, -1, "ssr.config", "cache.l1.bytes", 0, (size_t)1 << 32);
      lua_pop(L, 1);
    }
    lua_pop(L, 1);
  }
  if (rs_lutil_field(L, t, "gzip_level")) {
    c->cache.gzip_level = (int)rs_lutil_int(L, -1, "ssr.config", "cache.gzip_level", 0, 9);
    lua_pop(L, 1);
  }
  if (rs_lutil_field(L, t, "brotli_quality")) {
    c->cache.brotli_quality = (int)rs_lutil_int(L, -1, "ssr.config", "cache.brotli_quality", -1, 11);
    lua_pop(L, 1);
  }
  if (rs_lutil_field(L, t, "min_compress")) {
    c->cache.min_compress = rs_lutil_size(L, -1, "ssr.config", "cache.min_compress", 0, (size_t)1 << 30);
    lua_pop(L, 1);
  }
  if (rs_lutil_field(L, t, "clear_on_reload")) {
    if (lua_type(L, -1) != LUA_TBOOLEAN)
      rs_lutil_error(L, "ssr.config: 'cache.clear_on_reload' must be a boolean, got %s",
                     rs_lutil_describe(L, -1, desc, sizeof(desc)));
    c->cache.clear_on_reload = lua_toboolean(L, -1);
    lua_pop(L, 1);
  }
  if (rs_lutil_field(L, t, "shared")) {
    rs__cache_shared(L, lua_gettop(L), c);
    lua_pop(L, 1);
  }
  rs_lcache_config(L, t, c, false);   /* on_new_bundle, version (lua/rs_lcache.h) */
}

/* upstreams = { api = { servers = { "127.0.0.1:9000" }, keepalive = 32, ... } }.
 * With out == NULL only checks (and raises); with out, fills out[] (the
 * table was checked: nothing raises) and returns the count. */
size_t rs_lconfig__upstreams(lua_State *L, int t, rs_upstream_conf_t *out) {
  char desc[64];
  static const struct { const char *key; size_t off; long long min, max; } ms[] = {
    { "connect_timeout_ms", offsetof(rs_upstream_conf_t, connect_timeout_ms), 1, RS_LCONFIG__DAY_MS },
    { "send_timeout_ms", offsetof(rs_upstream_conf_t, send_timeout_ms), 1, RS_LCONFIG__DAY_MS },
    { "timeout_ms", offsetof(rs_upstream_conf_t, read_timeout_ms), 1, RS_LCONFIG__DAY_MS },
    { "read_timeout_ms", offsetof(rs_upstream_conf_t, read_timeout_ms), 1, RS_LCONFIG__DAY_MS },
    { "idle_timeout_ms", offsetof(rs_upstream_conf_t, idle_timeout_ms), 1, RS_LCONFIG__DAY_MS },
    { "fail_timeout_ms", offsetof(rs_upstream_conf_t, fail_timeout_ms), 1, RS_LCONFIG__DAY_MS },
  };
  size_t n = 0;
  lua_pushnil(L);
  while (lua_next(L, t) != 0) {
    int v = lua_gettop(L), k = v - 1;
    if (lua_type(L, k) != LUA_TSTRING)
      rs_lutil_error(L, "ssr.config: 'upstreams' maps names to tables, as in upstreams = { api = "
                     "{ servers = { \"127.0.0.1:9000\" } } }; got a key %s",
                     rs_lutil_describe(L, k, desc, sizeof(desc)));
    const char *name = lua_tostring(L, k);
    size_t nlen = strlen(name);
    bool ok = nlen > 0 && nlen <= 64;
    for (size_t i = 0; ok && i < nlen; i++)
      ok = (name[i] >= 'a' && name[i] <= 'z') || (name[i] >= 'A' && name[i] <= 'Z') ||
           (name[i] >= '0' && name[i] <= '9') || name[i] == '_' || name[i] == '-' || name[i] == '.';
    if (!ok)
      rs_lutil_error(L, "ssr.config: upstream name \"%.64s\" must be 1..64 letters, digits, '_', '-' or '.'",
                     name);
    if (lua_type(L, v) != LUA_TTABLE)
      rs_lutil_error(L, "ssr.config: upstream '%s' must be a table, got %s", name,
                     rs_lutil_describe(L, v, desc, sizeof(desc)));
    lua_pushfstring(L, "ssr.config.upstreams.%s", name);
    rs_lutil_check_keys(L, v, lua_tostring(L, -1), rs__upstream_keys);
    lua_pop(L, 1);
    lua_pushfstring(L, "upstream '%s'", name);
    const char *ctx = lua_tostring(L, -1);   /* slot v + 1 */
    rs_upstream_conf_t u;
    rs_upstream_conf_init(&u);
    if (!rs_lutil_field(L, v, "servers"))
      rs_lutil_error(L, "ssr.config: upstream '%s' has no 'servers', as in servers = { \"127.0.0.1:9000\" }",
                     name);
    if (lua_type(L, -1) == LUA_TSTRING) {    /* one server as a string */
      lua_createtable(L, 1, 0);
      lua_pushvalue(L, -2);
      lua_rawseti(L, -2, 1);
      lua_remove(L, -2);
    }
    if (lua_type(L, -1) != LUA_TTABLE)
      rs_lutil_error(L, "ssr.config: upstream '%s': 'servers' must be a list of \"host:port\", got %s", name,
                     rs_lutil_describe(L, -1, desc, sizeof(desc)));
    int st = lua_gettop(L);
    size_t ns = lua_objlen(L, st);
    if (ns == 0)
      rs_lutil_error(L, "ssr.config: upstream '%s': 'servers' is empty", name);
    if (ns > 256)
      rs_lutil_error(L, "ssr.config: upstream '%s': at most 256 servers", name);
    rs_addr_t addrs[256];
    char hosts[256][256];
    int tls = -1;
    for (size_t i = 1; i <= ns; i++) {
      lua_rawgeti(L, st, (int)i);
      int one;
      rs_lconfig__upstream_server(L, -1, name, i, &addrs[i - 1], hosts[i - 1], sizeof(hosts[0]), &one);
      if (tls >= 0 && one != tls)
        rs_lutil_error(L, "ssr.config: upstream '%s': servers mix https:// and cleartext; make two upstreams",
                       name);
      tls = one;
      lua_pop(L, 1);
    }
    lua_pop(L, 1);
    u.tls.on = tls == 1;
    if (rs_lutil_field(L, v, "keepalive")) {
      u.keepalive = (size_t)rs_lutil_int(L, -1, ctx, "keepalive", 0, 100000);
      lua_pop(L, 1);
    }
    if (rs_lutil_field(L, v, "retries")) {
      u.retries = (int)rs_lutil_int(L, -1, ctx, "retries", 0, 100);
      lua_pop(L, 1);
    }
    if (rs_lutil_field(L, v, "max_fails")) {
      u.max_fails = (int)rs_lutil_int(L, -1, ctx, "max_fails", 0, 1000000);
      lua_pop(L, 1);
    }
    for (size_t i = 0; i < RS_ARRAY_SIZE(ms); i++) {
      if (!rs_lutil_field(L, v, ms[i].key)) continue;
      uint64_t *dst = (uint64_t *)((char *)&u + ms[i].off);
      *dst = (uint64_t)rs_lutil_int(L, -1, ctx, ms[i].key, ms[i].min, ms[i].max);
      lua_pop(L, 1);
    }
    rs_lconfig__upstream_tls(L, v, name, &u.tls);   /* last: it allocates */
    if (out != NULL) {
      u.name = rs_xstrdup(name);
      u.servers = rs_xmalloc(ns * sizeof(rs_addr_t));
      memcpy(u.servers, addrs, ns * sizeof(rs_addr_t));
      u.hosts = rs_xcalloc(ns, sizeof(char *));
      for (size_t i = 0; i < ns; i++) u.hosts[i] = rs_xstrdup(hosts[i]);
      u.nservers = ns;
      out[n] = u;
    } else {
      free(u.tls.ca);
      free(u.tls.sni);
      free(u.tls.cert);
      free(u.tls.key);
    }
    n++;
    lua_settop(L, k);
  }
  return n;
}

