/* lua/rs_lconfig_front.c — the sections of ssr.config about how clients are
 * served: addresses, servers, limits, timeouts, log, admin, real_ip
 * (rs_lconfig_int.h). */
#include "rs_lconfig_int.h"

#include <errno.h>
#include <lauxlib.h>
#include <stdio.h>
#include <string.h>

#include "rs_logfmt.h"
#include "rs_lutil.h"

static const char *const rs__real_ip_keys[] = { "from", "header", "recursive", NULL };
static const char *const rs__admin_keys[] = { "listen", "token", "token_file", "allow", "open", NULL };
static const char *const rs__limits_keys[] = {
  "url", "header_bytes", "headers", "body", "pipeline", "http2_streams", NULL
};
static const char *const rs__timeouts_keys[] = {
  "header_ms", "body_ms", "keepalive_ms", "write_ms", "shutdown_ms", NULL
};
static const char *const rs__log_keys[] = { "error", "level", "access", "access_format", "access_escape",
                                             "access_admin", NULL };
static const char *const rs__server_keys[] = { "listen", "access_log", "access_format", NULL };
static const char *const rs__levels[] = { "error", "warn", "info", "debug" };

/* An address: "host:port" as rs_addr_parse reads it, or a port number on
 * default_host. */
void rs_lconfig__addr(lua_State *L, int idx, const char *name, const char *default_host, rs_addr_t *a) {
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
 * pipeline = 32, http2_streams = 128 } */
void rs_lconfig__limits(lua_State *L, int t, rs_config_t *c) {
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
  if (rs_lutil_field(L, t, "http2_streams")) {
    c->limits.http2_streams = (size_t)rs_lutil_int(L, -1, "ssr.config", "limits.http2_streams", 1, 1024);
    lua_pop(L, 1);
  }
}

/* timeouts = { header_ms = 10000, ..., shutdown_ms = 10000 }: positive, but
 * a shutdown deadline of 0 means "close at once". */
void rs_lconfig__timeouts(lua_State *L, int t, rs_config_t *c) {
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
    *dst = (uint64_t)rs_lutil_int(L, -1, "ssr.config", f[i].name, f[i].min, RS_LCONFIG__DAY_MS);
    lua_pop(L, 1);
  }
}

/* log = { error = "stderr", level = "info", access = false }. The strings are
 * borrowed from the table (stack slot 1) and copied only on success. */
/* A log format at idx for 'name': compiled once to check it, with the
 * compiler's reason after FILE:LINE when it fails. Returns it, borrowed. */
static const char *rs__format(lua_State *L, int idx, const char *name, bool json) {
  size_t n;
  const char *s = rs_lutil_string(L, idx, "ssr.config", name,
                                  "\"combined\", \"timed\", \"json\" or a template of $variables", &n);
  char err[256];
  rs_logfmt_t *f = n > 0 ? rs_logfmt_compile(s, json, err, sizeof(err)) : NULL;
  if (n == 0) snprintf(err, sizeof(err), "an empty format");
  if (f == NULL) rs_lutil_error(L, "ssr.config: '%s': %s", name, err);
  rs_logfmt_free(f);
  return s;
}

void rs_lconfig__log(lua_State *L, int t, rs_config_t *c, const char **error, const char **access,
                     bool *access_set, const char **format) {
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
  if (rs_lutil_field(L, t, "access_escape")) {
    const char *s = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : "";
    if (strcmp(s, "default") != 0 && strcmp(s, "json") != 0)
      rs_lutil_error(L, "ssr.config: 'log.access_escape' must be \"default\" (nginx's: \\xHH) or \"json\", got %s",
                     rs_lutil_describe(L, -1, desc, sizeof(desc)));
    c->log.access_json = strcmp(s, "json") == 0;
    lua_pop(L, 1);
  }
  *format = NULL;
  if (rs_lutil_field(L, t, "access_format")) {
    *format = rs__format(L, lua_gettop(L), "log.access_format", c->log.access_json);
    lua_pop(L, 1);             /* the string stays referenced by the table */
  }
  if (rs_lutil_field(L, t, "access_admin")) {
    if (lua_type(L, -1) != LUA_TBOOLEAN)
      rs_lutil_error(L, "ssr.config: 'log.access_admin' must be a boolean, got %s",
                     rs_lutil_describe(L, -1, desc, sizeof(desc)));
    c->log.access_admin = lua_toboolean(L, -1);
    lua_pop(L, 1);
  }
}


size_t rs_lconfig__servers(lua_State *L, int t, rs_lconfig_server_t *out, const char *dir) {
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
    if (n == RS_LCONFIG__MAX_SERVERS) rs_lutil_error(L, "ssr.config: at most %d servers", RS_LCONFIG__MAX_SERVERS);
    snprintf(name, sizeof(name), "servers.%s", s);
    memset(&out[n], 0, sizeof(out[n]));
    if (lua_type(L, -1) == LUA_TTABLE) {     /* { listen = ..., access_log = ..., access_format = ... } */
      int v = lua_gettop(L);
      char what[128];
      snprintf(what, sizeof(what), "ssr.config servers.%s", s);
      rs_lutil_check_keys(L, v, what, rs__server_keys);
      if (!rs_lutil_field(L, v, "listen"))
        rs_lutil_error(L, "ssr.config: '%s.listen' is required, as in %s = { listen = \"127.0.0.1:9000\" }", name, s);
      snprintf(what, sizeof(what), "%s.listen", name);
      rs_lconfig__listener(L, lua_gettop(L), what, "0.0.0.0", dir, &out[n].addr, NULL);
      lua_pop(L, 1);
      if (rs_lutil_field(L, v, "access_log")) {
        out[n].access_set = true;
        snprintf(what, sizeof(what), "%s.access_log", name);
        if (!(lua_type(L, -1) == LUA_TBOOLEAN && !lua_toboolean(L, -1))) {
          size_t al;
          out[n].access = rs_lutil_string(L, -1, "ssr.config", what, "false, \"stderr\" or a file path", &al);
          if (al == 0) rs_lutil_error(L, "ssr.config: '%s' must be false, \"stderr\" or a file path", what);
        }
        lua_pop(L, 1);
      }
      if (rs_lutil_field(L, v, "access_format")) {
        snprintf(what, sizeof(what), "%s.access_format", name);
        out[n].access_format = rs__format(L, lua_gettop(L), what, false);
        lua_pop(L, 1);
      }
    } else {
      if (lua_type(L, -1) != LUA_TSTRING && lua_type(L, -1) != LUA_TNUMBER)
        rs_lutil_error(L, "ssr.config: '%s' must be \"host:port\" or a port number, got %s (or a table: "
                       "{ listen = ..., access_log = ..., access_format = ... })", name,
                       rs_lutil_describe(L, -1, desc, sizeof(desc)));
      rs_lconfig__addr(L, lua_gettop(L), name, "0.0.0.0", &out[n].addr);
    }
    out[n].name = s;
    n++;
    lua_pop(L, 1);
  }
  return n;
}

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

/* A token worth the name: 16 to 256 bytes of visible ASCII (RFC 6750's
 * b64token and more), no spaces. */
static void rs__config_token(lua_State *L, const char *v, size_t n, const char *from,
                             rs_lconfig_admin_t *a) {
  if (n < 16 || n > RS_LCONFIG__ADMIN_TOKEN_MAX)
    rs_lutil_error(L, "ssr.config: 'admin.%s' must give a token of 16 to %d characters, got %zu", from,
                   RS_LCONFIG__ADMIN_TOKEN_MAX, n);
  for (size_t i = 0; i < n; i++)
    if ((unsigned char)v[i] <= 0x20 || (unsigned char)v[i] >= 0x7f)
      rs_lutil_error(L, "ssr.config: 'admin.%s': the token must be visible ASCII without spaces", from);
  memcpy(a->token, v, n);
  a->token[n] = '\0';
}

/* admin = { listen = "127.0.0.1:9901", token = "..." | token_file = "...",
 * allow = { "10.0.0.0/8" }, open = { "/metrics", "/health" } } at t. */
void rs_lconfig__admin(lua_State *L, int t, rs_config_t *c, rs_lconfig_admin_t *a, const char *dir) {
  char desc[64];
  rs_lutil_check_keys(L, t, "ssr.config.admin", rs__admin_keys);
  a->set = true;
  if (rs_lutil_field(L, t, "listen")) {
    rs_lconfig__addr(L, -1, "admin.listen", "127.0.0.1", &c->admin);
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
    char buf[RS_LCONFIG__ADMIN_TOKEN_MAX + 2];
    size_t len = fread(buf, 1, sizeof(buf), f);
    fclose(f);
    while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == '\r')) len--;
    rs__config_token(L, buf, len, "token_file", a);
    lua_pop(L, 1);
  }
  if (rs_lutil_field(L, t, "allow")) {
    a->nallow = rs__config_cidrs(L, "admin.allow", a->allow, RS_LCONFIG__MAX_ADMIN_ALLOW);
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

void rs_lconfig__real_ip(lua_State *L, int t, rs_config_t *c, rs_cidr_t *from, size_t *nfrom,
                         const char **header) {
  char desc[64];
  rs_lutil_check_keys(L, t, "ssr.config.real_ip", rs__real_ip_keys);
  if (rs_lutil_field(L, t, "from")) {
    *nfrom = rs__config_cidrs(L, "real_ip.from", from, RS_LCONFIG__MAX_REAL_IP_FROM);
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

