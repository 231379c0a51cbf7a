/* lua/rs_lconfig.c — see rs_lconfig.h. The state, the rustyssr module and
 * ssr.config; ssr.route lives in rs_lroute.c, the checks in rs_lutil.c. */
#include "rs_lconfig.h"

#include <errno.h>
#include <lauxlib.h>
#include <luajit.h>
#include <lualib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rs_lcache.h"
#include "rs_lfetch.h"
#include "rs_lroute.h"
#include "rs_lutil.h"
#include "rs_log.h"
#include "rs_v8.h"

#define RS__DAY_MS 86400000LL    /* a longer timeout is a unit mistake */

static const char *const rs__config_keys[] = {
  "listen", "admin", "backlog", "workers", "pin", "pid", "limits", "timeouts", "log", "render",
  "cache", "upstreams", "servers", "real_ip", "lua", "error_page", NULL
};
static const char *const rs__lua_keys[] = { "hook_timeout_ms", "memory_mb", "jit", NULL };
static const char *const rs__real_ip_keys[] = { "from", "header", "recursive", NULL };
static const char *const rs__admin_keys[] = { "listen", "token", "token_file", "allow", "open", NULL };
#define RS__MAX_ADMIN_ALLOW 64
#define RS__ADMIN_TOKEN_MAX 256
#define RS__MAX_REAL_IP_FROM 256
static const char *const rs__upstream_keys[] = {
  "servers", "keepalive", "connect_timeout_ms", "send_timeout_ms", "read_timeout_ms", "timeout_ms",
  "idle_timeout_ms", "retries", "max_fails", "fail_timeout_ms", NULL
};
static const char *const rs__cache_keys[] = {
  "max_entries", "max_bytes", "shards", "ttl", "grace", "l1", "gzip_level", "brotli_quality",
  "min_compress", "clear_on_reload", "on_new_bundle", "version", NULL
};
static const char *const rs__l1_keys[] = { "hot", "entries", "bytes", NULL };
static const char *const rs__render_keys[] = {
  "bundle", "fn", "threads", "queue", "timeout_ms", "heap_mb", "semi_space_mb", "v8_flags", "env",
  "debug", NULL
};
static const char *const rs__limits_keys[] = {
  "url", "header_bytes", "headers", "body", "pipeline", NULL
};
static const char *const rs__timeouts_keys[] = {
  "header_ms", "body_ms", "keepalive_ms", "write_ms", "shutdown_ms", NULL
};
static const char *const rs__log_keys[] = { "error", "level", "access", "access_format", "access_admin", NULL };
static const char *const rs__levels[] = { "error", "warn", "info", "debug" };

/* An address: "host:port" as rs_addr_parse reads it, or a port number on
 * default_host. */
static void rs__config_addr(lua_State *L, int idx, const char *name,
                            const char *default_host, rs_addr_t *a) {
  char desc[64];
  if (lua_type(L, idx) == LUA_TNUMBER) {
    a->port = (int)rs_lutil_int(L, idx, "ssr.config", name, 0, 65535);
    snprintf(a->host, sizeof(a->host), "%s", default_host);
    return;
  }
  if (lua_type(L, idx) != LUA_TSTRING)
    rs_lutil_error(L, "ssr.config: '%s' must be \"host:port\" or a port number, got %s",
                   name, rs_lutil_describe(L, idx, desc, sizeof(desc)));
  const char *why = "";
  if (rs_addr_parse(lua_tostring(L, idx), a, &why) != 0)
    rs_lutil_error(L, "ssr.config: '%s' = \"%.64s\": %s", name, lua_tostring(L, idx), why);
}

/* limits = { url = 8192, header_bytes = "32KB", headers = 100, body = "1MB",
 * pipeline = 32 } */
static void rs__config_limits(lua_State *L, int t, rs_config_t *c) {
  rs_lutil_check_keys(L, t, "ssr.config.limits", rs__limits_keys);
  if (rs_lutil_field(L, t, "url")) {
    c->limits.url = rs_lutil_size(L, -1, "ssr.config", "limits.url", 1, 1u << 20);
    lua_pop(L, 1);
  }
  if (rs_lutil_field(L, t, "header_bytes")) {
    c->limits.header_bytes =
        rs_lutil_size(L, -1, "ssr.config", "limits.header_bytes", 256, 16u << 20);
    lua_pop(L, 1);
  }
  if (rs_lutil_field(L, t, "headers")) {
    c->limits.headers = (size_t)rs_lutil_int(L, -1, "ssr.config", "limits.headers", 1, 10000);
    lua_pop(L, 1);
  }
  if (rs_lutil_field(L, t, "body")) {
    c->limits.body = rs_lutil_size(L, -1, "ssr.config", "limits.body", 1, (size_t)4 << 30);
    lua_pop(L, 1);
  }
  if (rs_lutil_field(L, t, "pipeline")) {
    c->limits.pipeline = (size_t)rs_lutil_int(L, -1, "ssr.config", "limits.pipeline", 1, 1024);
    lua_pop(L, 1);
  }
}

/* timeouts = { header_ms = 10000, ..., shutdown_ms = 10000 }: positive, but
 * a shutdown deadline of 0 means "close at once". */
static void rs__config_timeouts(lua_State *L, int t, rs_config_t *c) {
  static const struct { const char *key, *name; size_t off; long long min; } f[] = {
    { "header_ms", "timeouts.header_ms", offsetof(rs_config_t, timeouts.header), 1 },
    { "body_ms", "timeouts.body_ms", offsetof(rs_config_t, timeouts.body), 1 },
    { "keepalive_ms", "timeouts.keepalive_ms", offsetof(rs_config_t, timeouts.keepalive), 1 },
    { "write_ms", "timeouts.write_ms", offsetof(rs_config_t, timeouts.write), 1 },
    { "shutdown_ms", "timeouts.shutdown_ms", offsetof(rs_config_t, timeouts.shutdown), 0 },
  };
  rs_lutil_check_keys(L, t, "ssr.config.timeouts", rs__timeouts_keys);
  for (size_t i = 0; i < RS_ARRAY_SIZE(f); i++) {
    if (!rs_lutil_field(L, t, f[i].key)) continue;
    uint64_t *dst = (uint64_t *)((char *)c + f[i].off);
    *dst = (uint64_t)rs_lutil_int(L, -1, "ssr.config", f[i].name, f[i].min, RS__DAY_MS);
    lua_pop(L, 1);
  }
}

/* log = { error = "stderr", level = "info", access = false }. The strings are
 * borrowed from the table (stack slot 1) and copied only on success. */
static void rs__config_log(lua_State *L, int t, rs_config_t *c,
                           const char **error, const char **access, bool *access_set) {
  char desc[64];
  rs_lutil_check_keys(L, t, "ssr.config.log", rs__log_keys);
  if (rs_lutil_field(L, t, "error")) {
    size_t n;
    *error = rs_lutil_string(L, -1, "ssr.config", "log.error",
                             "\"stderr\" or a file path", &n);
    if (n == 0)
      rs_lutil_error(L, "ssr.config: 'log.error' must be \"stderr\" or a file path, got an empty string");
    lua_pop(L, 1);
  }
  if (rs_lutil_field(L, t, "level")) {
    const char *s = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : "";
    size_t i = 0;
    while (i < RS_ARRAY_SIZE(rs__levels) && strcmp(s, rs__levels[i]) != 0) i++;
    if (i == RS_ARRAY_SIZE(rs__levels))
      rs_lutil_error(L, "ssr.config: 'log.level' must be \"error\", \"warn\", \"info\" "
                     "or \"debug\", got %s", rs_lutil_describe(L, -1, desc, sizeof(desc)));
    c->log.level = (rs_log_level_t)i;
    lua_pop(L, 1);
  }
  if (rs_lutil_field(L, t, "access")) {
    *access_set = true;
    if (lua_type(L, -1) == LUA_TBOOLEAN && !lua_toboolean(L, -1)) {
      *access = NULL;
    } else {
      size_t n;
      *access = rs_lutil_string(L, -1, "ssr.config", "log.access",
                                "false, \"stderr\" or a file path", &n);
      if (n == 0)
        rs_lutil_error(L, "ssr.config: 'log.access' must be false, \"stderr\" or a "
                       "file path, got an empty string");
    }
    lua_pop(L, 1);
  }
  if (rs_lutil_field(L, t, "access_format")) {
    const char *s = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : "";
    if (strcmp(s, "combined") != 0 && strcmp(s, "timed") != 0)
      rs_lutil_error(L, "ssr.config: 'log.access_format' must be \"combined\" (nginx's) or \"timed\" (combined "
                     "and the request time), got %s", rs_lutil_describe(L, -1, desc, sizeof(desc)));
    c->log.access_timed = strcmp(s, "timed") == 0;
    lua_pop(L, 1);
  }
  if (rs_lutil_field(L, t, "access_admin")) {
    if (lua_type(L, -1) != LUA_TBOOLEAN)
      rs_lutil_error(L, "ssr.config: 'log.access_admin' must be a boolean, got %s",
                     rs_lutil_describe(L, -1, desc, sizeof(desc)));
    c->log.access_admin = lua_toboolean(L, -1);
    lua_pop(L, 1);
  }
}

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
static void rs__config_render(lua_State *L, int t, rs_config_t *c, const char **bundle,
                              const char **fn) {
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
    c->render.timeout_ms = (uint64_t)rs_lutil_int(L, -1, "ssr.config", "render.timeout_ms", 1, RS__DAY_MS);
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

/* lua = { hook_timeout_ms = 1000, memory_mb = 256, jit = false }: the
 * per-loop hook states (lua/rs_lhooks.c). */
static void rs__config_lua(lua_State *L, int t, rs_config_t *c) {
  char desc[64];
  rs_lutil_check_keys(L, t, "ssr.config.lua", rs__lua_keys);
  if (rs_lutil_field(L, t, "hook_timeout_ms")) {
    c->lua.hook_timeout_ms = (uint64_t)rs_lutil_int(L, -1, "ssr.config", "lua.hook_timeout_ms", 1, RS__DAY_MS);
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

/* cache = false, or cache = { max_entries = 100000, max_bytes = "512MB",
 * shards = 128, ttl = 60, grace = 10, l1 = { hot = 8, entries = 128,
 * bytes = "8MB" }, gzip_level = 6, brotli_quality = 5, min_compress = 1024 } */
static void rs__config_cache(lua_State *L, int t, rs_config_t *c) {
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
  rs_lcache_config(L, t, c, false);   /* on_new_bundle, version (lua/rs_lcache.h) */
}

#define RS__MAX_SERVERS 16

/* servers = { backend = "127.0.0.1:9000", ... }: named listeners beyond
 * listen. Names are borrowed from the table (slot t) until the commit. */
typedef struct {
  const char *name;
  rs_addr_t addr;
} rs__server_t;

static size_t rs__config_servers(lua_State *L, int t, rs__server_t *out) {
  char desc[64], name[96];
  size_t n = 0;
  lua_pushnil(L);
  while (lua_next(L, t) != 0) {
    if (lua_type(L, -2) != LUA_TSTRING)
      rs_lutil_error(L, "ssr.config: 'servers' maps names to addresses, as in servers = { backend = "
                     "\"127.0.0.1:9000\" }; got a %s key", luaL_typename(L, -2));
    size_t len;
    const char *s = lua_tolstring(L, -2, &len);
    bool ok = len > 0 && len <= 64;
    for (size_t i = 0; ok && i < len; i++)
      ok = (s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= '0' && s[i] <= '9') ||
           s[i] == '_' || s[i] == '-';
    if (!ok)
      rs_lutil_error(L, "ssr.config: server name \"%.64s\" must be letters, digits, '_' or '-' (at most 64)",
                     s);
    if (n == RS__MAX_SERVERS) rs_lutil_error(L, "ssr.config: at most %d servers", RS__MAX_SERVERS);
    snprintf(name, sizeof(name), "servers.%s", s);
    if (lua_type(L, -1) != LUA_TSTRING && lua_type(L, -1) != LUA_TNUMBER)
      rs_lutil_error(L, "ssr.config: '%s' must be \"host:port\" or a port number, got %s", name,
                     rs_lutil_describe(L, -1, desc, sizeof(desc)));
    rs__config_addr(L, lua_gettop(L), name, "0.0.0.0", &out[n].addr);
    out[n].name = s;
    n++;
    lua_pop(L, 1);
  }
  return n;
}

/* One server of an upstream: "host:port" with a numeric host or
 * "localhost", and a port other than 0. */
static void rs__upstream_server(lua_State *L, int idx, const char *uname, size_t i, rs_addr_t *a) {
  char desc[64];
  if (lua_type(L, idx) != LUA_TSTRING)
    rs_lutil_error(L, "ssr.config: upstream '%s': servers[%zu] must be \"host:port\", got %s", uname, i,
                   rs_lutil_describe(L, idx, desc, sizeof(desc)));
  const char *s = lua_tostring(L, idx);
  char buf[128];
  const char *why = "";
  if (strncmp(s, "localhost:", 10) == 0 && strlen(s) < sizeof(buf) - 10) {
    snprintf(buf, sizeof(buf), "127.0.0.1:%s", s + 10);
    s = buf;
  }
  if (strchr(s, ':') == NULL || s[0] == ':')
    rs_lutil_error(L, "ssr.config: upstream '%s': server \"%.64s\": expected \"host:port\"", uname,
                   lua_tostring(L, idx));
  if (rs_addr_parse(s, a, &why) != 0)
    rs_lutil_error(L, "ssr.config: upstream '%s': server \"%.64s\": %s", uname, lua_tostring(L, idx), why);
  if (a->port == 0)
    rs_lutil_error(L, "ssr.config: upstream '%s': server \"%.64s\": port 0", uname, lua_tostring(L, idx));
}

/* upstreams = { api = { servers = { "127.0.0.1:9000" }, keepalive = 32, ... } }.
 * With out == NULL only checks (and raises); with out, fills out[] (the
 * table was checked: nothing raises) and returns the count. */
static size_t rs__config_upstreams(lua_State *L, int t, rs_upstream_conf_t *out) {
  char desc[64];
  static const struct { const char *key; size_t off; long long min, max; } ms[] = {
    { "connect_timeout_ms", offsetof(rs_upstream_conf_t, connect_timeout_ms), 1, RS__DAY_MS },
    { "send_timeout_ms", offsetof(rs_upstream_conf_t, send_timeout_ms), 1, RS__DAY_MS },
    { "timeout_ms", offsetof(rs_upstream_conf_t, read_timeout_ms), 1, RS__DAY_MS },
    { "read_timeout_ms", offsetof(rs_upstream_conf_t, read_timeout_ms), 1, RS__DAY_MS },
    { "idle_timeout_ms", offsetof(rs_upstream_conf_t, idle_timeout_ms), 1, RS__DAY_MS },
    { "fail_timeout_ms", offsetof(rs_upstream_conf_t, fail_timeout_ms), 1, RS__DAY_MS },
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
    for (size_t i = 1; i <= ns; i++) {
      lua_rawgeti(L, st, (int)i);
      rs__upstream_server(L, -1, name, i, &addrs[i - 1]);
      lua_pop(L, 1);
    }
    lua_pop(L, 1);
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
    if (out != NULL) {
      u.name = rs_xstrdup(name);
      u.servers = rs_xmalloc(ns * sizeof(rs_addr_t));
      memcpy(u.servers, addrs, ns * sizeof(rs_addr_t));
      u.nservers = ns;
      out[n] = u;
    }
    n++;
    lua_settop(L, k);
  }
  return n;
}

/* real_ip = { from = { "10.0.0.0/8", "::1" }, header = "X-Forwarded-For",
 * recursive = true } at t: checked into from[] (at most
 * RS__MAX_REAL_IP_FROM), *nfrom, header (borrowed) and c->real_ip.recursive.
 * Raises on a wrong type or a bad address. */
/* A list of addresses or CIDR blocks (or one as a string) at the top of the
 * stack, for 'name', into out[0..max). Returns how many. */
static size_t rs__config_cidrs(lua_State *L, const char *name, rs_cidr_t *out, size_t max) {
  char desc[64];
  if (lua_type(L, -1) == LUA_TSTRING) {   /* one address: a list of one */
    lua_createtable(L, 1, 0);
    lua_pushvalue(L, -2);
    lua_rawseti(L, -2, 1);
    lua_replace(L, -2);
  }
  if (lua_type(L, -1) != LUA_TTABLE)
    rs_lutil_error(L, "ssr.config: '%s' must be a list of addresses or CIDR blocks, as in "
                   "{ \"10.0.0.0/8\", \"::1\" }, got %s", name, rs_lutil_describe(L, -1, desc, sizeof(desc)));
  int ft = lua_gettop(L);
  size_t n = lua_objlen(L, ft);
  if (n > max) rs_lutil_error(L, "ssr.config: '%s' has more than %zu entries", name, max);
  for (size_t i = 1; i <= n; i++) {
    lua_rawgeti(L, ft, (int)i);
    if (lua_type(L, -1) != LUA_TSTRING)
      rs_lutil_error(L, "ssr.config: '%s' entry %zu must be a string, got %s", name, i,
                     rs_lutil_describe(L, -1, desc, sizeof(desc)));
    size_t len;
    const char *v = lua_tolstring(L, -1, &len), *why = "";
    if (rs_cidr_parse(v, len, &out[i - 1], &why) != 0)
      rs_lutil_error(L, "ssr.config: '%s' entry %zu \"%.64s\": %s", name, i, v, why);
    lua_pop(L, 1);
  }
  return n;
}

/* What admin = { ... } holds beside the address, checked before the commit. */
typedef struct {
  bool set;
  char token[RS__ADMIN_TOKEN_MAX + 1];
  rs_cidr_t allow[RS__MAX_ADMIN_ALLOW];
  size_t nallow;
  bool open_metrics, open_health;
} rs__admin_t;

/* A token worth the name: 16 to 256 bytes of visible ASCII (RFC 6750's
 * b64token and more), no spaces. */
static void rs__config_token(lua_State *L, const char *v, size_t n, const char *from, rs__admin_t *a) {
  if (n < 16 || n > RS__ADMIN_TOKEN_MAX)
    rs_lutil_error(L, "ssr.config: 'admin.%s' must give a token of 16 to %d characters, got %zu", from,
                   RS__ADMIN_TOKEN_MAX, n);
  for (size_t i = 0; i < n; i++)
    if ((unsigned char)v[i] <= 0x20 || (unsigned char)v[i] >= 0x7f)
      rs_lutil_error(L, "ssr.config: 'admin.%s': the token must be visible ASCII without spaces", from);
  memcpy(a->token, v, n);
  a->token[n] = '\0';
}

/* admin = { listen = "127.0.0.1:9901", token = "..." | token_file = "...",
 * allow = { "10.0.0.0/8" }, open = { "/metrics", "/health" } } at t. */
static void rs__config_admin(lua_State *L, int t, rs_config_t *c, rs__admin_t *a, const char *dir) {
  char desc[64];
  rs_lutil_check_keys(L, t, "ssr.config.admin", rs__admin_keys);
  a->set = true;
  if (rs_lutil_field(L, t, "listen")) {
    rs__config_addr(L, -1, "admin.listen", "127.0.0.1", &c->admin);
    lua_pop(L, 1);
  }
  if (rs_lutil_field(L, t, "token")) {
    size_t n;
    const char *v = rs_lutil_string(L, -1, "ssr.config", "admin.token", "a string", &n);
    rs__config_token(L, v, n, "token", a);
    lua_pop(L, 1);
  }
  if (rs_lutil_field(L, t, "token_file")) {
    if (a->token[0]) rs_lutil_error(L, "ssr.config: give 'admin.token' or 'admin.token_file', not both");
    size_t n;
    const char *path = rs_lutil_string(L, -1, "ssr.config", "admin.token_file", "a file path", &n);
    char full[8200];
    snprintf(full, sizeof(full), "%s%s%s", path[0] != '/' && dir ? dir : "", path[0] != '/' && dir ? "/" : "",
             path);
    FILE *f = fopen(full, "re");
    if (f == NULL) rs_lutil_error(L, "ssr.config: 'admin.token_file' %s: %s", full, strerror(errno));
    char buf[RS__ADMIN_TOKEN_MAX + 2];
    size_t len = fread(buf, 1, sizeof(buf), f);
    fclose(f);
    while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == '\r')) len--;
    rs__config_token(L, buf, len, "token_file", a);
    lua_pop(L, 1);
  }
  if (rs_lutil_field(L, t, "allow")) {
    a->nallow = rs__config_cidrs(L, "admin.allow", a->allow, RS__MAX_ADMIN_ALLOW);
    lua_pop(L, 1);
  }
  if (rs_lutil_field(L, t, "open")) {
    if (lua_type(L, -1) != LUA_TTABLE)
      rs_lutil_error(L, "ssr.config: 'admin.open' must be a list of paths, as in { \"/metrics\", \"/health\" }, "
                     "got %s", rs_lutil_describe(L, -1, desc, sizeof(desc)));
    for (size_t i = 1; i <= lua_objlen(L, -1); i++) {
      lua_rawgeti(L, -1, (int)i);
      const char *p = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : "";
      if (strcmp(p, "/metrics") == 0) a->open_metrics = true;
      else if (strcmp(p, "/health") == 0) a->open_health = true;
      else
        rs_lutil_error(L, "ssr.config: 'admin.open' entry %zu must be \"/metrics\" or \"/health\" (purges are "
                       "never open), got %s", i, rs_lutil_describe(L, -1, desc, sizeof(desc)));
      lua_pop(L, 1);
    }
    lua_pop(L, 1);
  }
}

static void rs__config_real_ip(lua_State *L, int t, rs_config_t *c, rs_cidr_t *from, size_t *nfrom,
                               const char **header) {
  char desc[64];
  rs_lutil_check_keys(L, t, "ssr.config.real_ip", rs__real_ip_keys);
  if (rs_lutil_field(L, t, "from")) {
    *nfrom = rs__config_cidrs(L, "real_ip.from", from, RS__MAX_REAL_IP_FROM);
    lua_pop(L, 1);
  }
  if (rs_lutil_field(L, t, "header")) {
    size_t len = 0;
    const char *h = lua_type(L, -1) == LUA_TSTRING ? lua_tolstring(L, -1, &len) : NULL;
    bool ok = h != NULL && len > 0 && len <= 64;
    for (size_t i = 0; ok && i < len; i++) {
      unsigned char ch = (unsigned char)h[i];
      ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
           (ch != 0 && strchr("!#$%&'*+-.^_`|~", ch) != NULL);
    }
    if (!ok)
      rs_lutil_error(L, "ssr.config: 'real_ip.header' must be a header name, as in \"X-Forwarded-For\", "
                     "got %s", rs_lutil_describe(L, -1, desc, sizeof(desc)));
    *header = h;                 /* the table stays on the caller's stack */
    lua_pop(L, 1);
  }
  if (rs_lutil_field(L, t, "recursive")) {
    if (lua_type(L, -1) != LUA_TBOOLEAN)
      rs_lutil_error(L, "ssr.config: 'real_ip.recursive' must be a boolean, got %s",
                     rs_lutil_describe(L, -1, desc, sizeof(desc)));
    c->real_ip.recursive = lua_toboolean(L, -1);
    lua_pop(L, 1);
  }
}

/* A nested table (limits, timeouts, log) or raise. Pushes it. */
static bool rs__config_sub(lua_State *L, const char *key) {
  char desc[64];
  if (!rs_lutil_field(L, 1, key)) return false;
  if (lua_type(L, -1) != LUA_TTABLE)
    rs_lutil_error(L, "ssr.config: '%s' must be a table, got %s", key,
                   rs_lutil_describe(L, -1, desc, sizeof(desc)));
  return true;
}

/* ssr.config(t): the server settings; at most once per file.
 * Lua stack before: t   after: (nothing returned)
 * Everything is checked into a copy first, so an error (even one the file
 * catches with pcall) leaves cfg untouched. */
static int rs__config(lua_State *L) {
  rs_lconfig_ctx_t *ctx = lua_touserdata(L, lua_upvalueindex(1));
  char desc[64];
  if (lua_type(L, 1) != LUA_TTABLE || lua_gettop(L) != 1)
    rs_lutil_error(L, "ssr.config: expected one table, as in ssr.config { listen = \":8080\" }, got %s",
                   rs_lutil_describe(L, 1, desc, sizeof(desc)));
  if (ctx->config_where[0])
    rs_lutil_error(L, "ssr.config: called twice (first at %s)", ctx->config_where);
  rs_lutil_check_keys(L, 1, "ssr.config", rs__config_keys);

  rs_config_t c = *ctx->cfg;     /* shallow: owned strings stay ctx->cfg's */
  const char *log_error = NULL, *log_access = NULL, *pid = NULL;
  const char *render_bundle = NULL, *render_fn = NULL;
  bool access_set = false;
  rs__server_t servers[RS__MAX_SERVERS];
  size_t nservers = 0;
  bool servers_set = false;

  if (rs_lutil_field(L, 1, "listen")) {
    rs__config_addr(L, -1, "listen", "0.0.0.0", &c.listen);
    lua_pop(L, 1);
  }
  rs__admin_t admin_auth;
  memset(&admin_auth, 0, sizeof(admin_auth));
  if (rs_lutil_field(L, 1, "admin")) {
    if (lua_type(L, -1) == LUA_TBOOLEAN) {
      c.admin_enabled = lua_toboolean(L, -1);  /* true keeps the address */
    } else if (lua_type(L, -1) == LUA_TTABLE) {
      rs__config_admin(L, lua_gettop(L), &c, &admin_auth, ctx->config_dir[0] ? ctx->config_dir : NULL);
      c.admin_enabled = true;
    } else {
      rs__config_addr(L, -1, "admin", "127.0.0.1", &c.admin);
      c.admin_enabled = true;
    }
    lua_pop(L, 1);
  }
  if (rs_lutil_field(L, 1, "backlog")) {
    c.backlog = (int)rs_lutil_int(L, -1, "ssr.config", "backlog", 1, 65535);
    lua_pop(L, 1);
  }
  if (rs_lutil_field(L, 1, "workers")) {
    bool is_auto = lua_type(L, -1) == LUA_TSTRING && strcmp(lua_tostring(L, -1), "auto") == 0;
    if (is_auto) {
      c.workers = 0;
    } else {
      lua_Number n = lua_type(L, -1) == LUA_TNUMBER ? lua_tonumber(L, -1) : 0;
      if (!(n >= 1 && n <= 1e9 && n == (lua_Number)(long)n))
        rs_lutil_error(L, "ssr.config: 'workers' must be \"auto\" or a positive integer, got %s",
                       rs_lutil_describe(L, -1, desc, sizeof(desc)));
      if (n > 1024)
        rs_lutil_error(L, "ssr.config: 'workers' must be at most 1024, got %s",
                       rs_lutil_describe(L, -1, desc, sizeof(desc)));
      c.workers = (int)n;
    }
    lua_pop(L, 1);
  }
  if (rs_lutil_field(L, 1, "pin")) {
    if (lua_type(L, -1) != LUA_TBOOLEAN)
      rs_lutil_error(L, "ssr.config: 'pin' must be a boolean, got %s",
                     rs_lutil_describe(L, -1, desc, sizeof(desc)));
    c.pin = lua_toboolean(L, -1);
    lua_pop(L, 1);
  }
  if (rs_lutil_field(L, 1, "pid")) {
    size_t n;
    pid = rs_lutil_string(L, -1, "ssr.config", "pid", "a file path", &n);
    if (n == 0) rs_lutil_error(L, "ssr.config: 'pid' must be a file path, got an empty string");
    lua_pop(L, 1);
  }
  if (rs__config_sub(L, "limits")) {
    rs__config_limits(L, lua_gettop(L), &c);
    lua_pop(L, 1);
  }
  if (rs__config_sub(L, "timeouts")) {
    rs__config_timeouts(L, lua_gettop(L), &c);
    lua_pop(L, 1);
  }
  if (rs__config_sub(L, "log")) {
    rs__config_log(L, lua_gettop(L), &c, &log_error, &log_access, &access_set);
    lua_pop(L, 1);
  }

  if (rs_lutil_field(L, 1, "cache")) {
    rs__config_cache(L, lua_gettop(L), &c);
    lua_pop(L, 1);
  }
  if (rs__config_sub(L, "lua")) {
    rs__config_lua(L, lua_gettop(L), &c);
    lua_pop(L, 1);
  }
  if (rs__config_sub(L, "render")) {
    rs__config_render(L, lua_gettop(L), &c, &render_bundle, &render_fn);
    lua_pop(L, 1);
  }
  if (rs__config_sub(L, "servers")) {  /* the table stays on the stack: names are borrowed */
    nservers = rs__config_servers(L, lua_gettop(L), servers);
    servers_set = true;
  }
  rs_cidr_t real_from[RS__MAX_REAL_IP_FROM];
  size_t nreal_from = 0;
  const char *real_header = NULL;
  bool real_set = false;
  if (rs__config_sub(L, "real_ip")) {       /* the table stays on the stack: header is borrowed */
    rs__config_real_ip(L, lua_gettop(L), &c, real_from, &nreal_from, &real_header);
    real_set = true;
  }
  if (rs_lutil_field(L, 1, "error_page")) {  /* checked now, built at the commit */
    rs_lcache_errpages(L, -1, "ssr.config", ctx->config_dir, false);
    lua_pop(L, 1);
  }
  size_t nupstreams = 0;
  if (rs__config_sub(L, "upstreams")) {     /* checked now, built at the commit */
    nupstreams = rs__config_upstreams(L, lua_gettop(L), NULL);
    lua_pop(L, 1);
  }

  /* Commit: nothing below raises. */
  rs_config_t *cfg = ctx->cfg;
  if (nupstreams > 0) {
    rs__config_sub(L, "upstreams");
    c.upstreams = rs_xcalloc(nupstreams, sizeof(rs_upstream_conf_t));
    c.nupstreams = rs__config_upstreams(L, lua_gettop(L), c.upstreams);
    lua_pop(L, 1);
  }
  if (rs_lutil_field(L, 1, "cache")) {
    if (lua_type(L, -1) == LUA_TTABLE) rs_lcache_config(L, lua_gettop(L), &c, true);
    lua_pop(L, 1);
  }
  if (rs_lutil_field(L, 1, "error_page")) {
    c.errpages = rs_lcache_errpages(L, -1, "ssr.config", ctx->config_dir, true);
    rs_errpages_free(cfg->errpages);
    lua_pop(L, 1);
  }
  if (render_bundle != NULL) {
    c.render.bundle = rs_xstrdup(render_bundle);
    free(cfg->render.bundle);
  }
  if (render_fn != NULL) {
    c.render.fn = rs_xstrdup(render_fn);
    free(cfg->render.fn);
  }
  if (pid != NULL) {
    c.pid = rs_xstrdup(pid);
    free(cfg->pid);
  }
  if (admin_auth.set) {
    free(cfg->admin_auth.token);
    free(cfg->admin_auth.allow);
    c.admin_auth.token = admin_auth.token[0] ? rs_xstrdup(admin_auth.token) : NULL;
    c.admin_auth.allow = admin_auth.nallow ? rs_xcalloc(admin_auth.nallow, sizeof(rs_cidr_t)) : NULL;
    if (admin_auth.nallow) memcpy(c.admin_auth.allow, admin_auth.allow, admin_auth.nallow * sizeof(rs_cidr_t));
    c.admin_auth.nallow = admin_auth.nallow;
    c.admin_auth.open_metrics = admin_auth.open_metrics;
    c.admin_auth.open_health = admin_auth.open_health;
  }
  if (rs__config_sub(L, "render")) {     /* v8_flags and env: checked above, copied now */
    int rt = lua_gettop(L);
    if (rs_lutil_field(L, rt, "v8_flags")) {
      char flags[4096];
      rs__config_v8_flags(L, lua_gettop(L), flags, sizeof(flags));
      c.render.v8_flags = rs_xstrdup(flags);
      free(cfg->render.v8_flags);
      lua_pop(L, 1);
    }
    if (rs_lutil_field(L, rt, "env")) {
      size_t n = rs__config_env(L, lua_gettop(L), NULL);
      c.render.env = rs_xcalloc(2 * n + 1, sizeof(char *));
      c.render.nenv = rs__config_env(L, lua_gettop(L), c.render.env);
      /* By name: a Lua table has no order, process.env's keys and -T's dump
       * should (insertion sort: a handful of pairs). */
      for (size_t i = 1; i < c.render.nenv; i++)
        for (size_t k = i; k > 0 && strcmp(c.render.env[2 * k - 2], c.render.env[2 * k]) > 0; k--) {
          char *n = c.render.env[2 * k], *v = c.render.env[2 * k + 1];
          c.render.env[2 * k] = c.render.env[2 * k - 2], c.render.env[2 * k + 1] = c.render.env[2 * k - 1];
          c.render.env[2 * k - 2] = n, c.render.env[2 * k - 1] = v;
        }
      for (size_t i = 0; i < 2 * cfg->render.nenv; i++) free(cfg->render.env[i]);
      free(cfg->render.env);
      lua_pop(L, 1);
    }
    lua_pop(L, 1);
  }
  if (log_error != NULL) {
    c.log.error = rs_xstrdup(log_error);
    free(cfg->log.error);
  }
  if (access_set) {
    c.log.access = log_access ? rs_xstrdup(log_access) : NULL;
    free(cfg->log.access);
  }
  if (real_set) {
    free(cfg->real_ip.from);
    c.real_ip.from = nreal_from ? rs_xmalloc(nreal_from * sizeof(rs_cidr_t)) : NULL;
    if (nreal_from) memcpy(c.real_ip.from, real_from, nreal_from * sizeof(rs_cidr_t));
    c.real_ip.nfrom = nreal_from;
    if (real_header != NULL) {
      free(cfg->real_ip.header);
      c.real_ip.header = rs_xstrdup(real_header);
      for (char *p = c.real_ip.header; *p; p++)
        if (*p >= 'A' && *p <= 'Z') *p = (char)(*p + 32);
    }
  }
  if (servers_set) {
    for (size_t i = 0; i < cfg->nservers; i++) free(cfg->servers[i].name);
    free(cfg->servers);
    c.servers = nservers ? rs_xcalloc(nservers, sizeof(*c.servers)) : NULL;
    c.nservers = nservers;
    for (size_t i = 0; i < nservers; i++) {
      c.servers[i].name = rs_xstrdup(servers[i].name);
      c.servers[i].addr = servers[i].addr;
    }
  }
  *cfg = c;
  rs_lutil_where(L, ctx->config_where, sizeof(ctx->config_where));
  if (ctx->config_where[0] == '\0') strcpy(ctx->config_where, "?");
  return 0;
}

/* Lua stack before: setup (light userdata)   after: (nothing)
 * Run under lua_cpcall: an out-of-memory error in here is caught instead of
 * reaching the panic handler. */
typedef struct {
  const char *dir;
  rs_config_t *cfg;
} rs__setup_t;

static int rs__setup(lua_State *L) {
  rs__setup_t *s = lua_touserdata(L, 1);
  luaL_openlibs(L);
  rs_lutil_guard_cstack(L);
  rs_lutil_guard_gc(L);

  lua_getglobal(L, "package");
  if (s->dir != NULL && strcmp(s->dir, ".") != 0)
    /* The config's folder first: `rustyssr -t -c /srv/site/rustyssr.lua` run
     * from another checkout must load /srv/site's routes, not that one's. */
    lua_pushfstring(L, "%s/?.lua;%s/?/init.lua;./?.lua;./?/init.lua", s->dir, s->dir);
  else
    lua_pushliteral(L, "./?.lua;./?/init.lua");
  lua_setfield(L, -2, "path");

  lua_getfield(L, -1, "loaded");
  lua_newtable(L);                           /* the module */
  int module = lua_gettop(L);
  rs_lconfig_ctx_t *ctx = lua_newuserdata(L, sizeof(*ctx));
  memset(ctx, 0, sizeof(*ctx));
  ctx->cfg = s->cfg;
  if (s->dir != NULL) snprintf(ctx->config_dir, sizeof(ctx->config_dir), "%s", s->dir);
  int uctx = lua_gettop(L);
  lua_pushvalue(L, uctx);
  lua_setfield(L, LUA_REGISTRYINDEX, "rustyssr.ctx");

  lua_pushvalue(L, uctx);
  lua_pushcclosure(L, rs__config, 1);
  lua_setfield(L, module, "config");
  rs_lroute_register(L, module, uctx);
  rs_lfetch_register(L, module, NULL);       /* raise until a request hook runs */
#ifdef RS_VERSION
  lua_pushliteral(L, RS_VERSION);
  lua_setfield(L, module, "version");
#endif

  lua_pop(L, 1);                             /* ctx: the closures hold it */
  lua_setfield(L, -2, "rustyssr");           /* package.loaded.rustyssr */
  return 0;
}

rs_lconfig_ctx_t *rs_lconfig_ctx(lua_State *L) {
  lua_getfield(L, LUA_REGISTRYINDEX, "rustyssr.ctx");
  rs_lconfig_ctx_t *ctx = lua_touserdata(L, -1);
  lua_pop(L, 1);
  return ctx;
}

lua_State *rs_lconfig_state_new(const char *config_dir, rs_config_t *cfg,
                                char *err, size_t errlen) {
  lua_State *L = rs_lutil_state_new();   /* counted; the panic handler set */
  if (L == NULL) {
    snprintf(err, errlen, "cannot create a Lua state (out of memory)");
    return NULL;
  }
  rs__setup_t s = { config_dir, cfg };
  if (lua_cpcall(L, rs__setup, &s) != 0) {
    snprintf(err, errlen, "cannot set up the Lua state: %s", lua_tostring(L, -1));
    lua_close(L);
    return NULL;
  }
  return L;
}

/* Does msg start with "something:LINE:"? Lua's messages with a position do. */
static bool rs__has_position(const char *msg) {
  const char *p = strchr(msg, ':');
  if (p == NULL || p[1] < '0' || p[1] > '9') return false;
  for (p++; *p >= '0' && *p <= '9'; p++) {}
  return *p == ':';
}

/* Message handler: error("x", 0) and error({}) get the user's position too.
 * Lua stack before: err   after: "where: message" */
static int rs__msgh(lua_State *L) {
  char where[LUA_IDSIZE + 16], desc[64];
  if (lua_type(L, 1) == LUA_TSTRING && rs__has_position(lua_tostring(L, 1))) return 1;
  rs_lutil_where(L, where, sizeof(where));
  const char *msg = lua_type(L, 1) == LUA_TSTRING
                        ? lua_tostring(L, 1)
                        : lua_pushfstring(L, "error object is a %s",
                                          rs_lutil_describe(L, 1, desc, sizeof(desc)));
  if (where[0]) lua_pushfstring(L, "%s: %s", where, msg);
  else lua_pushstring(L, msg);
  return 1;
}

/* A config file that never ends would hang the start, a reload (the main
 * thread, its signals and the admin listener) or a loop thread's set-up:
 * a count hook checks the clock every RS__RUN_CHECK instructions and raises
 * past RS_LCONFIG_RUN_MS. (Count hooks only reach interpreted code: the
 * load states run without the JIT; see rs__load and lua.jit.) */
#define RS__RUN_CHECK 100000
static __thread uint64_t rs__run_deadline;

static void rs__run_budget(lua_State *L, lua_Debug *ar) {
  (void)ar;
  if (rs__run_deadline != 0 && rs_now_ms() > rs__run_deadline)
    luaL_error(L, "the config file ran longer than %d ms (a loop that never ends?)", RS_LCONFIG_RUN_MS);
}

int rs_lconfig_run(lua_State *L, const char *name, const char *chunk, size_t len,
                   char *err, size_t errlen) {
  int top = lua_gettop(L);
  rs__run_deadline = rs_now_ms() + RS_LCONFIG_RUN_MS;
  lua_sethook(L, rs__run_budget, LUA_MASKCOUNT, RS__RUN_CHECK);
  lua_pushcfunction(L, rs__msgh);
  int rc;
  if (chunk == NULL) {
    rc = luaL_loadfile(L, name);
  } else {
    /* "=name": messages read "name:3:" rather than [string "name"]:3: */
    lua_pushfstring(L, "=%s", name);
    rc = luaL_loadbuffer(L, chunk, len, lua_tostring(L, -1));
    lua_remove(L, -2);
  }
  rs_lutil_set_loading(true);
  if (rc == 0) rc = lua_pcall(L, 0, 0, top + 1);
  rs_lutil_set_loading(false);
  lua_sethook(L, NULL, 0, 0);
  rs__run_deadline = 0;
  if (rc != 0) {
    const char *msg = lua_tostring(L, -1);
    snprintf(err, errlen, "%s", msg ? msg : "unknown error");
  }
  lua_settop(L, top);
  return rc == 0 ? 0 : -1;
}

/* The folder of a path: "a/b/c.lua" → "a/b", "c.lua" → NULL. */
static char *rs__dirname(const char *path) {
  const char *slash = strrchr(path, '/');
  if (slash == NULL) return NULL;
  if (slash == path) return rs_xstrdup("/");
  return rs_xstrndup(path, (size_t)(slash - path));
}

/* What only the whole file can tell: a render route needs a bundle. */
static int rs__check_whole(const rs_config_t *cfg, char *err, size_t errlen) {
  /* A proxy route names an upstream that ssr.config declares (anywhere in
   * the file, before or after the route). */
  for (size_t i = 0; i < rs_router_count(cfg->router); i++) {
    const rs_route_t *r = rs_router_get(cfg->router, i);
    if (r->action == RS_ACTION_PROXY && rs_config_upstream(cfg, r->proxy.upstream) == NULL) {
      snprintf(err, errlen, "%s: proxy: no upstream '%s' in ssr.config { upstreams = { ... } }", r->where,
               r->proxy.upstream);
      return -1;
    }
  }
  if (cfg->render.bundle != NULL) return 0;
  for (size_t i = 0; i < rs_router_count(cfg->router); i++) {
    const rs_route_t *r = rs_router_get(cfg->router, i);
    if (r->action == RS_ACTION_RENDER) {
      snprintf(err, errlen, "%s: a render route needs ssr.config { render = { bundle = \"...\" } }",
               r->where);
      return -1;
    }
  }
  return 0;
}

/* *path, when relative, joined to the folder of the config file `name`. */
static void rs__resolve(const char *name, char **path) {
  if (*path == NULL || (*path)[0] == '/') return;
  char *d = rs__dirname(name);
  if (d != NULL && strcmp(d, ".") != 0) {
    size_t n = strlen(d) + 1 + strlen(*path) + 1;
    char *joined = rs_xmalloc(n);
    snprintf(joined, n, "%s/%s", d, *path);
    free(*path);
    *path = joined;
  }
  free(d);
}

static int rs__load(const char *name, const char *chunk, rs_config_t *cfg,
                    char *err, size_t errlen) {
  char *dir = rs__dirname(name);
  lua_State *L = rs_lconfig_state_new(dir, cfg, err, errlen);
  free(dir);
  if (L == NULL) return -1;
  luaJIT_setmode(L, 0, LUAJIT_MODE_ENGINE | LUAJIT_MODE_OFF);  /* runs once: the run budget holds */
  int rc = rs_lconfig_run(L, name, chunk, chunk ? strlen(chunk) : 0, err, errlen);
  char where[LUA_IDSIZE + 16];
  snprintf(where, sizeof(where), "%s", rs_lconfig_ctx(L)->config_where);
  const char *colon = strrchr(where, ':');
  cfg->config_line = colon != NULL ? atoi(colon + 1) : 0;
  lua_close(L);
  if (rc == 0) rc = rs__check_whole(cfg, err, errlen);
  if (rc == 0) rc = rs_config_finish(cfg, where[0] ? where : name, err, errlen);
  /* A relative bundle, pid or log path is relative to the config file's
   * folder, so the gateway starts the same from any working directory. */
  if (rc == 0 && chunk == NULL) {
    rs__resolve(name, &cfg->render.bundle);
    rs__resolve(name, &cfg->pid);
    if (strcmp(cfg->log.error, "stderr") != 0 && strcmp(cfg->log.error, "stdout") != 0)
      rs__resolve(name, &cfg->log.error);
    if (cfg->log.access != NULL && strcmp(cfg->log.access, "stderr") != 0 && strcmp(cfg->log.access, "stdout") != 0)
      rs__resolve(name, &cfg->log.access);
  }
  return rc;
}

int rs_lconfig_load(const char *path, rs_config_t *cfg, char *err, size_t errlen) {
  free(cfg->file);
  cfg->file = rs_xstrdup(path);
  return rs__load(path, NULL, cfg, err, errlen);
}

int rs_lconfig_check_string(const char *chunk, const char *chunkname,
                            rs_config_t *cfg, char *err, size_t errlen) {
  return rs__load(chunkname, chunk, cfg, err, errlen);
}
