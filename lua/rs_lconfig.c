/* lua/rs_lconfig.c — see rs_lconfig.h. The state, the rustyssr module and
 * ssr.config (its sections in rs_lconfig_front.c and rs_lconfig_back.c,
 * rs_lconfig_int.h); ssr.route lives in rs_lroute.c, the checks in
 * rs_lutil.c. */
#include "rs_lconfig.h"
#include "rs_lconfig_int.h"

#include <errno.h>
#include <lauxlib.h>
#include <luajit.h>
#include <lualib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rs_lcache.h"
#include "rs_lcompress.h"
#include "rs_lroute.h"
#include "rs_lshared.h"
#include "rs_lutil.h"
#include "rs_log.h"

static const char *const rs__config_keys[] = {
  "listen", "admin", "backlog", "workers", "pin", "pid", "limits", "timeouts", "log", "render",
  "cache", "upstreams", "servers", "real_ip", "lua", "shared", "limit_keys", "compress", "error_page", NULL
};

#ifndef RS_LIB_ARCH
#define RS_LIB_ARCH "x86_64-linux-gnu"
#endif
#define RS_LUA_CPATH "/usr/local/lib/lua/5.1/?.so;/usr/lib/" RS_LIB_ARCH "/lua/5.1/?.so;/usr/lib/lua/5.1/?.so"

/* A nested table (limits, timeouts, log) or raise. Pushes it. */
static bool rs__config_sub(lua_State *L, const char *key) {
  char desc[64];
  if (!rs_lutil_field(L, 1, key)) return false;
  if (lua_type(L, -1) != LUA_TTABLE)
    rs_lutil_error(L, "ssr.config: '%s' must be a table, got %s", key,
                   rs_lutil_describe(L, -1, desc, sizeof(desc)));
  return true;
}

/* What ssr.config checked and commits beside the copy of the config:
 * strings borrowed from its table (at stack slot 1, or from a section
 * table left on the stack above it), lists checked into arrays. */
typedef struct {
  const char *log_error, *log_access, *pid, *render_bundle, *render_fn, *log_format;
  bool access_set;
  rs_lconfig_server_t servers[RS_LCONFIG__MAX_SERVERS];
  size_t nservers;
  bool servers_set;
  rs_lconfig_admin_t admin;
  rs_cidr_t real_from[RS_LCONFIG__MAX_REAL_IP_FROM];
  size_t nreal_from;
  const char *real_header;
  bool real_set;
  size_t nupstreams;
  const char *config_dir;        /* error_page's files are read from there */
} rs__pending_t;

/* The top-level scalars: listen, admin, backlog, workers, pin, pid. */
static void rs__config_top(lua_State *L, rs_lconfig_ctx_t *ctx, rs_config_t *c, rs__pending_t *p) {
  char desc[64];
  if (rs_lutil_field(L, 1, "listen")) {
    rs_lconfig__listener(L, -1, "listen", "0.0.0.0", ctx->config_dir, &c->listen, NULL);
    lua_pop(L, 1);
  }
  if (rs_lutil_field(L, 1, "admin")) {
    if (lua_type(L, -1) == LUA_TBOOLEAN) {
      c->admin_enabled = lua_toboolean(L, -1);  /* true keeps the address */
    } else if (lua_type(L, -1) == LUA_TTABLE) {
      rs_lconfig__admin(L, lua_gettop(L), c, &p->admin, ctx->config_dir[0] ? ctx->config_dir : NULL);
      c->admin_enabled = true;
    } else {
      rs_lconfig__addr(L, -1, "admin", "127.0.0.1", &c->admin);
      c->admin_enabled = true;
    }
    lua_pop(L, 1);
  }
  if (rs_lutil_field(L, 1, "backlog")) {
    c->backlog = (int)rs_lutil_int(L, -1, "ssr.config", "backlog", 1, 65535);
    lua_pop(L, 1);
  }
  if (rs_lutil_field(L, 1, "workers")) {
    bool is_auto = lua_type(L, -1) == LUA_TSTRING && strcmp(lua_tostring(L, -1), "auto") == 0;
    if (is_auto) {
      c->workers = 0;
    } else {
      lua_Number n = lua_type(L, -1) == LUA_TNUMBER ? lua_tonumber(L, -1) : 0;
      if (!(n >= 1 && n <= 1e9 && n == (lua_Number)(long)n))
        rs_lutil_error(L, "ssr.config: 'workers' must be \"auto\" or a positive integer, got %s",
                       rs_lutil_describe(L, -1, desc, sizeof(desc)));
      if (n > 1024)
        rs_lutil_error(L, "ssr.config: 'workers' must be at most 1024, got %s",
                       rs_lutil_describe(L, -1, desc, sizeof(desc)));
      c->workers = (int)n;
    }
    lua_pop(L, 1);
  }
  if (rs_lutil_field(L, 1, "pin")) {
    if (lua_type(L, -1) != LUA_TBOOLEAN)
      rs_lutil_error(L, "ssr.config: 'pin' must be a boolean, got %s",
                     rs_lutil_describe(L, -1, desc, sizeof(desc)));
    c->pin = lua_toboolean(L, -1);
    lua_pop(L, 1);
  }
  if (rs_lutil_field(L, 1, "pid")) {
    size_t n;
    p->pid = rs_lutil_string(L, -1, "ssr.config", "pid", "a file path", &n);
    if (n == 0) rs_lutil_error(L, "ssr.config: 'pid' must be a file path, got an empty string");
    lua_pop(L, 1);
  }
}

/* Check every section of the table at slot 1 into c and p; raises on the
 * first wrong one. The servers and real_ip tables stay on the stack (their
 * strings are borrowed). */
static void rs__config_check(lua_State *L, rs_lconfig_ctx_t *ctx, rs_config_t *c, rs__pending_t *p) {
  rs__config_top(L, ctx, c, p);
  if (rs__config_sub(L, "limits")) {
    rs_lconfig__limits(L, lua_gettop(L), c);
    lua_pop(L, 1);
  }
  if (rs__config_sub(L, "timeouts")) {
    rs_lconfig__timeouts(L, lua_gettop(L), c);
    lua_pop(L, 1);
  }
  if (rs__config_sub(L, "log")) {
    rs_lconfig__log(L, lua_gettop(L), c, &p->log_error, &p->log_access, &p->access_set, &p->log_format);
    lua_pop(L, 1);
  }
  if (rs_lutil_field(L, 1, "cache")) {
    rs_lconfig__cache(L, lua_gettop(L), c);
    lua_pop(L, 1);
  }
  if (rs__config_sub(L, "lua")) {
    rs_lconfig__lua(L, lua_gettop(L), c);
    lua_pop(L, 1);
  }
  if (rs_lutil_field(L, 1, "compress")) {   /* lua/rs_lcompress.c */
    rs_lcompress_read(L, lua_gettop(L), &c->compress);
    lua_pop(L, 1);
  }
  if (rs__config_sub(L, "render")) {
    rs_lconfig__render(L, lua_gettop(L), c, &p->render_bundle, &p->render_fn);
    lua_pop(L, 1);
  }
  if (rs__config_sub(L, "servers")) {  /* the table stays on the stack: names are borrowed */
    p->nservers = rs_lconfig__servers(L, lua_gettop(L), p->servers, ctx->config_dir);
    p->servers_set = true;
  }
  if (rs__config_sub(L, "real_ip")) {       /* the table stays on the stack: header is borrowed */
    rs_lconfig__real_ip(L, lua_gettop(L), c, p->real_from, &p->nreal_from, &p->real_header);
    p->real_set = true;
  }
  if (rs__config_sub(L, "upstreams")) {     /* checked now, built at the commit */
    p->nupstreams = rs_lconfig__upstreams(L, lua_gettop(L), NULL);
    lua_pop(L, 1);
  }
  if (rs__config_sub(L, "shared")) {        /* checked now, acquired at the commit */
    rs_lshared_check(L, lua_gettop(L));
    lua_pop(L, 1);
  }
  if (rs_lutil_field(L, 1, "limit_keys")) {
    c->limit.keys = (size_t)rs_lutil_int(L, -1, "ssr.config", "limit_keys", 64, 100000000);
    lua_pop(L, 1);
  }
  p->config_dir = ctx->config_dir;
  if (rs_lutil_field(L, 1, "error_page")) {  /* checked now, built at the commit (lua/rs_lcache.h) */
    rs_lcache_errpages(L, -1, "ssr.config", ctx->config_dir, false);
    lua_pop(L, 1);
  }
}

/* Replace *old by a copy of s when s was given (a string ssr.config
 * borrowed). */
static void rs__commit_string(char **dst, const char *s, char **old) {
  if (s == NULL) return;
  *dst = rs_xstrdup(s);
  free(*old);
}

/* Copy what p borrowed into c and free what c replaces in cfg. Nothing here
 * raises. */
static void rs__config_commit(lua_State *L, rs_config_t *c, rs__pending_t *p, rs_config_t *cfg) {
  if (rs__config_sub(L, "shared")) {        /* the same names keep their items */
    rs_lshared_commit(L, lua_gettop(L), c, cfg);
    lua_pop(L, 1);
  }
  if (p->nupstreams > 0) {
    rs__config_sub(L, "upstreams");
    c->upstreams = rs_xcalloc(p->nupstreams, sizeof(rs_upstream_conf_t));
    c->nupstreams = rs_lconfig__upstreams(L, lua_gettop(L), c->upstreams);
    lua_pop(L, 1);
  }
  if (rs_lutil_field(L, 1, "cache")) {    /* cache.version (lua/rs_lcache.h) */
    if (lua_type(L, -1) == LUA_TTABLE) rs_lcache_config(L, lua_gettop(L), c, true);
    lua_pop(L, 1);
  }
  if (rs_lutil_field(L, 1, "error_page")) {
    c->errpages = rs_lcache_errpages(L, -1, "ssr.config", p->config_dir, true);
    rs_errpages_free(cfg->errpages);
    lua_pop(L, 1);
  }
  if (rs_lutil_field(L, 1, "listen")) {    /* what it speaks: checked above, built now */
    rs_listener_conf_dispose(&cfg->listen_conf);
    memset(&c->listen_conf, 0, sizeof(c->listen_conf));
    rs_lconfig__listener(L, lua_gettop(L), "listen", "0.0.0.0", p->config_dir, NULL, &c->listen_conf);
    lua_pop(L, 1);
  }
  rs__commit_string(&c->render.bundle, p->render_bundle, &cfg->render.bundle);
  rs__commit_string(&c->render.fn, p->render_fn, &cfg->render.fn);
  rs__commit_string(&c->pid, p->pid, &cfg->pid);
  if (p->admin.set) {
    rs_lconfig_admin_t *a = &p->admin;
    free(cfg->admin_auth.token);
    free(cfg->admin_auth.allow);
    c->admin_auth.token = a->token[0] ? rs_xstrdup(a->token) : NULL;
    c->admin_auth.allow = a->nallow ? rs_xcalloc(a->nallow, sizeof(rs_cidr_t)) : NULL;
    if (a->nallow) memcpy(c->admin_auth.allow, a->allow, a->nallow * sizeof(rs_cidr_t));
    c->admin_auth.nallow = a->nallow;
    c->admin_auth.open_metrics = a->open_metrics;
    c->admin_auth.open_health = a->open_health;
  }
  if (rs__config_sub(L, "render")) {     /* v8_flags and env: checked above, copied now */
    rs_lconfig__render_commit(L, lua_gettop(L), c, cfg);
    lua_pop(L, 1);
  }
  rs__commit_string(&c->log.error, p->log_error, &cfg->log.error);
  rs__commit_string(&c->log.access_format, p->log_format, &cfg->log.access_format);
  if (p->access_set) {
    c->log.access = p->log_access ? rs_xstrdup(p->log_access) : NULL;
    free(cfg->log.access);
  }
  if (p->real_set) {
    free(cfg->real_ip.from);
    c->real_ip.from = p->nreal_from ? rs_xmalloc(p->nreal_from * sizeof(rs_cidr_t)) : NULL;
    if (p->nreal_from) memcpy(c->real_ip.from, p->real_from, p->nreal_from * sizeof(rs_cidr_t));
    c->real_ip.nfrom = p->nreal_from;
    if (p->real_header != NULL) {
      free(cfg->real_ip.header);
      c->real_ip.header = rs_xstrdup(p->real_header);
      for (char *s = c->real_ip.header; *s; s++)
        if (*s >= 'A' && *s <= 'Z') *s = (char)(*s + 32);
    }
  }
  if (p->servers_set) {
    for (size_t i = 0; i < cfg->nservers; i++) {
      free(cfg->servers[i].name);
      free(cfg->servers[i].access);
      free(cfg->servers[i].access_format);
      rs_listener_conf_dispose(&cfg->servers[i].conf);
    }
    free(cfg->servers);
    rs__config_sub(L, "servers");
    c->servers = p->nservers ? rs_xcalloc(p->nservers, sizeof(*c->servers)) : NULL;
    c->nservers = p->nservers;
    for (size_t i = 0; i < p->nservers; i++) {
      c->servers[i].name = rs_xstrdup(p->servers[i].name);
      c->servers[i].addr = p->servers[i].addr;
      c->servers[i].access_set = p->servers[i].access_set;
      c->servers[i].access = p->servers[i].access ? rs_xstrdup(p->servers[i].access) : NULL;
      c->servers[i].access_format = p->servers[i].access_format ? rs_xstrdup(p->servers[i].access_format) : NULL;
      lua_pushstring(L, p->servers[i].name);
      lua_rawget(L, -2);
      if (lua_type(L, -1) == LUA_TTABLE && rs_lutil_field(L, -1, "listen")) {  /* what it speaks */
        char what[96];
        snprintf(what, sizeof(what), "servers.%s.listen", p->servers[i].name);
        rs_lconfig__listener(L, lua_gettop(L), what, "0.0.0.0", p->config_dir, NULL, &c->servers[i].conf);
        lua_pop(L, 1);
      }
      lua_pop(L, 1);
    }
    lua_pop(L, 1);
  }
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
  rs__pending_t p;
  memset(&p, 0, sizeof(p));
  rs__config_check(L, ctx, &c, &p);
  rs__config_commit(L, &c, &p, ctx->cfg);   /* nothing below raises */
  *ctx->cfg = c;
  rs_lutil_where(L, ctx->config_where, sizeof(ctx->config_where));
  if (ctx->config_where[0] == '\0') strcpy(ctx->config_where, "?");
  return 0;
}

/* Lua stack before: ...   after: (raises RS_LUTIL_HOOK_ONLY for the
 * function named by upvalue 1) */
static int rs__hook_only(lua_State *L) {
  return luaL_error(L, RS_LUTIL_HOOK_ONLY, lua_tostring(L, lua_upvalueindex(1)));
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
  /* C modules (require "cjson": Debian's lua-cjson) from the config's
   * folder, then where Debian installs Lua 5.1 modules (RS_LIB_ARCH:
   * CMakeLists.txt); never the current directory. */
  if (s->dir != NULL && strcmp(s->dir, ".") != 0)
    lua_pushfstring(L, "%s/?.so;%s", s->dir, RS_LUA_CPATH);
  else
    lua_pushliteral(L, RS_LUA_CPATH);
  lua_setfield(L, -2, "cpath");

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
  rs_lshared_register(L, module, uctx);      /* ssr.shared */
  /* ssr.fetch, ssr.fetch_all, ssr.sleep raise while a file loads: a loop's
   * hook state binds the real ones once its run of the file is done
   * (lua/rs_lhooks_setup.c). */
  static const char *const hook_only[] = { "fetch", "fetch_all", "sleep" };
  for (size_t i = 0; i < RS_ARRAY_SIZE(hook_only); i++) {
    lua_pushfstring(L, "ssr.%s", hook_only[i]);
    lua_pushcclosure(L, rs__hook_only, 1);
    lua_setfield(L, module, hook_only[i]);
  }
#ifdef RS_VERSION
  lua_pushliteral(L, RS_VERSION);
  lua_setfield(L, module, "version");
#endif

  lua_pop(L, 1);                             /* ctx: the closures hold it */
  lua_setfield(L, -2, "rustyssr");           /* package.loaded.rustyssr */
  return 0;
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
    for (size_t i = 0; i < cfg->nservers; i++)
      if (cfg->servers[i].access != NULL && strcmp(cfg->servers[i].access, "stderr") != 0 &&
          strcmp(cfg->servers[i].access, "stdout") != 0)
        rs__resolve(name, &cfg->servers[i].access);
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
