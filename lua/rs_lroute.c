/* lua/rs_lroute.c — see rs_lroute.h.
 *
 *   ssr.route(methods, path, { respond = { status, headers, body },
 *                              priority = 0, host = "example.com" })
 *   ssr.respond(path, status, body, headers)    -- a GET route, fixed answer
 *
 * Everything is checked before anything is allocated (see rs_lutil.h); the
 * response headers are rendered once, here, into the "Name: value\r\n" lines
 * the server copies out as they are. Each action (respond, render, proxy,
 * static, and those registered with options of their own, e.g. redirect)
 * and each Lua hook is a key of the options table: rs__spec_t holds them,
 * rs__route_add builds the route. The cache policy keys (ttl, grace,
 * bypass = {...}, tags, cache_statuses, cache_cookie, cache_authorization,
 * headers, cookies, cache_control, s_maxage, stale_while_revalidate) are
 * lua/rs_lcache.c's, and error_page too. */
#include "rs_lroute.h"

#include <errno.h>
#include <lauxlib.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "rs_lcache.h"
#include "rs_llimit.h"
#include "rs_lstate.h"
#include "rs_lutil.h"
#include "rs_router.h"

#define RS__MAX_HEADERS 64       /* per route; a fixed answer needs a few */

#define RS__ACTIONS_MAX 32

/* The actions registered (rs_lroute_action_add): written on the main
 * thread before any config loads, read-only after. */
static rs_laction_t rs__actions[RS__ACTIONS_MAX];
static size_t rs__nactions;

static const char *const rs__route_base_keys[] = { "respond", "render", "static", "proxy", "priority", "host",
                                                   "key", "bypass", "props", "server",
                                                   /* the cache policy (lua/rs_lcache.h) */
                                                   "ttl", "grace", "tags", "cache_statuses", "cache_cookie",
                                                   "cache_authorization", "headers", "compress",
                                                   /* lua/rs_llimit.h */
                                                   "limit_req", "limit_conn",
                                                   "cookies", "cache_control", "s_maxage",
                                                   "stale_while_revalidate", "error_page", NULL };
/* The keys above, then the names of the actions with options of their own. */
static const char *rs__route_keys[RS_ARRAY_SIZE(rs__route_base_keys) + RS__ACTIONS_MAX];
static const char *const rs__respond_keys[] = { "status", "headers", "body", NULL };
static const char *const rs__render_keys[] = { "cache", "ttl", "grace", NULL };
static const char *const rs__static_keys[] = { "root", "index", "max_age", "etag", "precompressed", NULL };
static const char *const rs__proxy_keys[] = { "upstream", "path", "host", NULL };
static const char *const rs__proxy_fn_keys[] = { "upstream", "path", "host", "priority", "methods",
                                                 "route_host", "server", "ttl", "grace", "tags",
                                                 "cache_statuses", "cache_cookie", "cache_authorization",
                                                 "compress", "limit_req", "limit_conn", "cache_control", "s_maxage",
                                                 "stale_while_revalidate", "error_page", NULL };
static const char *const rs__static_fn_keys[] = { "root", "index", "max_age", "etag",
                                                  "precompressed", "host", "priority", "server", "compress",
                                                  "limit_req", "limit_conn", "error_page",
                                                  NULL };

/* A route being declared: borrowed strings from the call's arguments, which
 * stay on the stack until the route is built. */
typedef struct {
  const char *fn;                /* "ssr.route" or "ssr.respond", for messages */
  rs_action_t action;
  const rs_laction_t *own;       /* an action with its own options, or NULL */
  int own_idx;                   /* where its (checked) value is on the stack */
  bool hook_handler, hook_key, hook_bypass, hook_props;
  int opts_idx, fn_idx;          /* where the hook functions are (0 = none) */
  bool render_cache;
  const char *static_root;       /* resolved, on the stack; NULL = not static */
  const char *static_index;      /* NULL = none */
  int64_t static_max_age;        /* -1 = none */
  bool static_etag;
  bool static_precompressed;
  const char *proxy_upstream;    /* borrowed; NULL = not a proxy route */
  const char *proxy_path;        /* NULL = the path as sent */
  int proxy_host_mode;           /* RS_PROXY_HOST_* */
  const char *proxy_host;        /* the literal, for RS_PROXY_HOST_LITERAL */
  int64_t render_ttl_ms, render_grace_ms;
  unsigned methods;
  const char *path;
  const char *host;              /* NULL = any host */
  int priority;
  int status;
  const char *body;              /* NULL = none */
  size_t body_len;
  int headers;                   /* stack index of the headers table, 0 = none */
  const char *status_name, *body_name, *headers_name;
  int opts_tbl;                  /* the options table, where 'server' is read (0 = none) */
  rs_lcache_policy_t policy;     /* ttl, grace, bypass = {...}, tags, cache_* (lua/rs_lcache.h) */
} rs__spec_t;

typedef struct {
  const char *name, *value;
  size_t name_len, value_len;
  int key, seq;                  /* which table key, which array element */
  bool is_num;                   /* value is num (re-pointed after sorting) */
  char num[32];                  /* a number value, formatted */
} rs__header_t;

/* One method name, or "*" for all. */
static unsigned rs__method(lua_State *L, int idx, const char *fn) {
  char desc[64];
  size_t len;
  if (lua_type(L, idx) != LUA_TSTRING)
    rs_lutil_error(L, "%s: a method must be a string, got %s", fn,
                   rs_lutil_describe(L, idx, desc, sizeof(desc)));
  const char *s = lua_tolstring(L, idx, &len);
  if (len == 1 && s[0] == '*') return RS_M_ANY;
  unsigned bit = rs_method_bit(s, len);
  if (bit == 0)
    rs_lutil_error(L, "%s: unknown method \"%.32s\" (one of "
#define XX(name, b) #name ", "
                   RS_METHOD_MAP(XX)
#undef XX
                   "or \"*\"; methods are upper-case)", fn, s);
  return bit;
}

/* "GET", "*" or { "GET", "POST" }. */
static unsigned rs__methods(lua_State *L, int idx, const char *fn) {
  char desc[64];
  if (lua_type(L, idx) == LUA_TSTRING) return rs__method(L, idx, fn);
  if (lua_type(L, idx) != LUA_TTABLE)
    rs_lutil_error(L, "%s: argument 1 must be a method or a list of methods, got %s",
                   fn, rs_lutil_describe(L, idx, desc, sizeof(desc)));
  unsigned mask = 0;
  lua_pushnil(L);
  while (lua_next(L, idx)) {
    if (lua_type(L, -2) != LUA_TNUMBER)
      rs_lutil_error(L, "%s: the method list must be an array, as in {\"GET\", \"POST\"}", fn);
    mask |= rs__method(L, lua_gettop(L), fn);
    lua_pop(L, 1);
  }
  if (mask == 0) rs_lutil_error(L, "%s: the method list is empty", fn);
  return mask;
}

/* Headers the server writes itself or that would break the framing: the
 * hop-by-hop ones (rs_http.h), Content-Length and Date. */
static bool rs__is_reserved(const char *name, size_t len) {
  return rs_http_hop_by_hop(name, len) || rs_str_ieq(name, len, "content-length", 14) ||
         rs_str_ieq(name, len, "date", 4);
}

/* One header value (a string or a number) at idx into h. */
static void rs__header_value(lua_State *L, int idx, const rs__spec_t *sp,
                             rs__header_t *h) {
  char desc[64];
  if (lua_type(L, idx) == LUA_TNUMBER) {
    /* lua_tolstring would leave the only copy of the string on the stack. */
    lua_Number n = lua_tonumber(L, idx);
    if (n > -1e15 && n < 1e15 && n == floor(n)) snprintf(h->num, sizeof(h->num), "%lld", (long long)n);
    else snprintf(h->num, sizeof(h->num), "%.14g", (double)n);
    h->is_num = true;
    h->value_len = strlen(h->num);
    return;
  }
  if (lua_type(L, idx) != LUA_TSTRING)
    rs_lutil_error(L, "%s: header \"%.64s\" must be a string, a number or a list of "
                   "strings, got %s", sp->fn, h->name,
                   rs_lutil_describe(L, idx, desc, sizeof(desc)));
  h->value = lua_tolstring(L, idx, &h->value_len);
  rs_http_value_t bad = rs_http_value_check(h->value, h->value_len);
  if (bad == RS_HTTP_VALUE_CRLF)
    rs_lutil_error(L, "%s: header \"%.64s\" has a CR or LF in its value "
                   "(that would split the response)", sp->fn, h->name);
  if (bad != RS_HTTP_VALUE_OK)
    rs_lutil_error(L, "%s: header \"%.64s\" has a control character in its value",
                   sp->fn, h->name);
}

static int rs__header_cmp(const void *a, const void *b) {
  const rs__header_t *x = a, *y = b;
  size_t n = RS_MIN(x->name_len, y->name_len);
  int c = strncasecmp(x->name, y->name, n);
  if (c != 0) return c;
  if (x->name_len != y->name_len) return x->name_len < y->name_len ? -1 : 1;
  if (x->key != y->key) return x->key < y->key ? -1 : 1;
  return x->seq - y->seq;
}

/* Check the headers table and sort its entries into hs (by name, values of
 * one key in array order). Returns how many. */
static size_t rs__headers_collect(lua_State *L, const rs__spec_t *sp,
                                  rs__header_t *hs) {
  char desc[64];
  size_t n = 0;
  int key = 0;
  lua_pushnil(L);
  while (lua_next(L, sp->headers)) {
    int v = lua_gettop(L);
    if (lua_type(L, v - 1) != LUA_TSTRING)
      rs_lutil_error(L, "%s: '%s' must map header names to values, got a key %s",
                     sp->fn, sp->headers_name, rs_lutil_describe(L, v - 1, desc, sizeof(desc)));
    size_t name_len;
    const char *name = lua_tolstring(L, v - 1, &name_len);
    if (!rs_http_token(name, name_len))
      rs_lutil_error(L, "%s: header name \"%.64s\" has an invalid character", sp->fn, name);
    if (rs__is_reserved(name, name_len))
      rs_lutil_error(L, "%s: header \"%.64s\" is set by the server", sp->fn, name);
    size_t count = lua_type(L, v) == LUA_TTABLE ? lua_objlen(L, v) : 1;
    if (count == 0)
      rs_lutil_error(L, "%s: header \"%.64s\" has an empty list of values", sp->fn, name);
    for (size_t i = 0; i < count; i++) {
      if (n == RS__MAX_HEADERS)
        rs_lutil_error(L, "%s: more than %d response headers", sp->fn, RS__MAX_HEADERS);
      rs__header_t *h = &hs[n++];
      memset(h, 0, sizeof(*h));
      h->name = name;
      h->name_len = name_len;
      h->key = key;
      h->seq = (int)i;
      if (lua_type(L, v) == LUA_TTABLE) {
        lua_rawgeti(L, v, (int)i + 1);
        rs__header_value(L, -1, sp, h);  /* the string stays in the table */
        lua_pop(L, 1);
      } else {
        rs__header_value(L, v, sp, h);
      }
    }
    key++;
    lua_pop(L, 1);
  }
  qsort(hs, n, sizeof(*hs), rs__header_cmp);
  for (size_t i = 0; i < n; i++)
    if (hs[i].is_num) hs[i].value = hs[i].num;   /* qsort moved num */
  for (size_t i = 1; i < n; i++)
    if (hs[i].key != hs[i - 1].key && hs[i].name_len == hs[i - 1].name_len &&
        strncasecmp(hs[i].name, hs[i - 1].name, hs[i].name_len) == 0)
      rs_lutil_error(L, "%s: header \"%.64s\" is given twice (names ignore case; "
                     "use a list for several values)", sp->fn, hs[i].name);
  return n;
}

/* Everything but the path, method and host, all checked: raises on a bad
 * value, allocates nothing. */
static void rs__spec_check(lua_State *L, rs__spec_t *sp) {
  if (sp->status < 200)
    rs_lutil_error(L, "%s: '%s' %d is not a final answer: use 200..599", sp->fn,
                   sp->status_name, sp->status);
  if (sp->body && sp->body_len > 0 &&
      (sp->status == 204 || sp->status == 205 || sp->status == 304))
    rs_lutil_error(L, "%s: a %d answer has no body", sp->fn, sp->status);
}

/* The registered handler of a built-in action (NULL when none registered:
 * a config checked without the gateway, as some unit tests do). */
static const struct rs_action_handler_s *rs__builtin(rs_action_t action) {
  static const char *const names[] = { [RS_ACTION_RESPOND] = "respond", [RS_ACTION_RENDER] = "render",
                                       [RS_ACTION_STATIC] = "static", [RS_ACTION_PROXY] = "proxy" };
  const char *name = (size_t)action < RS_ARRAY_SIZE(names) ? names[action] : NULL;
  for (size_t i = 0; name != NULL && i < rs__nactions; i++)
    if (strcmp(rs__actions[i].name, name) == 0) return rs__actions[i].handler;
  return NULL;
}

/* Render the headers and build the route. Lua errors come only before the
 * first allocation; rs_router_add frees the route when it refuses it. */
static void rs__route_add(lua_State *L, rs__spec_t *sp) {
  rs_lconfig_ctx_t *ctx = lua_touserdata(L, lua_upvalueindex(1));
  rs__header_t hs[RS__MAX_HEADERS];
  size_t n = sp->headers ? rs__headers_collect(L, sp, hs) : 0;
  rs__spec_check(L, sp);
  /* server = "backend": the listener the route belongs to (checked against
   * ssr.config's servers once the whole file has run). Left on the stack. */
  const char *server = NULL;
  if (sp->opts_tbl > 0 && rs_lutil_field(L, sp->opts_tbl, "server")) {
    size_t sl;
    server = rs_lutil_string(L, -1, sp->fn, "server", "a name from ssr.config's servers", &sl);
    if (sl == 0) rs_lutil_error(L, "%s: 'server' must be a name from ssr.config's servers, got an empty string",
                                sp->fn);
  }
  /* compress = false: the route's answers leave the compression filter
   * alone (nginx's gzip off in a location). */
  bool no_compress = false;
  if (sp->opts_tbl > 0 && rs_lutil_field(L, sp->opts_tbl, "compress")) {
    char desc[64];
    if (lua_type(L, -1) != LUA_TBOOLEAN)
      rs_lutil_error(L, "%s: 'compress' must be a boolean (false: answers leave uncompressed), got %s", sp->fn,
                     rs_lutil_describe(L, -1, desc, sizeof(desc)));
    no_compress = !lua_toboolean(L, -1);
    lua_pop(L, 1);
  }
  rs_action_t action = sp->own != NULL ? RS_ACTION_OTHER : sp->action ? sp->action : RS_ACTION_RESPOND;
  rs_lcache_policy_finish(L, &sp->policy, sp->fn, action, &sp->render_ttl_ms, &sp->render_grace_ms);
  rs_llimit_t limit;
  rs_llimit_check(L, sp->opts_tbl, sp->fn, &limit);
  /* error_page = {...}: checked (files read) now, built with the route. */
  int errpages = 0;
  if (sp->opts_tbl > 0 && rs_lutil_field(L, sp->opts_tbl, "error_page")) {
    errpages = lua_gettop(L);
    rs_lcache_errpages(L, errpages, sp->fn, ctx->config_dir, false);
  }

  static const char ct[] = "Content-Type: text/plain; charset=utf-8\r\n";
  bool has_ct = false;
  size_t len = 0;
  for (size_t i = 0; i < n; i++) {
    len += hs[i].name_len + 2 + hs[i].value_len + 2;
    has_ct = has_ct || rs_str_ieq(hs[i].name, hs[i].name_len, "content-type", 12);
  }
  bool add_ct = !has_ct && sp->body && sp->body_len > 0;
  if (add_ct) len += sizeof(ct) - 1;

  char where[LUA_IDSIZE + 16];
  rs_lutil_where(L, where, sizeof(where));

  /* No Lua error from here on. */
  rs_route_t *r = rs_xcalloc(1, sizeof(*r));
  r->methods = sp->methods;
  r->host = sp->host ? rs_xstrdup(sp->host) : NULL;
  r->path = rs_xstrdup(sp->path);
  r->priority = sp->priority;
  r->action = action;
  if (sp->own != NULL) {           /* its own config, built from its checked value */
    r->handler = sp->own->handler;
    r->conf = sp->own->build(L, sp->own_idx);
    r->conf_free = sp->own->free;
  } else {
    r->handler = rs__builtin(action);
  }
  r->render.cache = sp->render_cache;
  r->render.ttl_ms = sp->render_ttl_ms;
  r->render.grace_ms = sp->render_grace_ms;
  r->files.root = sp->static_root ? rs_xstrdup(sp->static_root) : NULL;
  r->files.index = sp->static_index ? rs_xstrdup(sp->static_index) : NULL;
  r->files.max_age = sp->static_max_age;
  r->files.etag = sp->static_etag;
  r->files.precompressed = sp->static_precompressed;
  r->no_compress = no_compress;
  r->proxy.upstream = sp->proxy_upstream ? rs_xstrdup(sp->proxy_upstream) : NULL;
  r->proxy.path = sp->proxy_path ? rs_xstrdup(sp->proxy_path) : NULL;
  r->proxy.host_mode = sp->proxy_host_mode;
  r->proxy.host = sp->proxy_host ? rs_xstrdup(sp->proxy_host) : NULL;
  r->where = rs_xstrdup(where[0] ? where : "?");
  r->server = server ? rs_xstrdup(server) : NULL;
  r->hooks.handler = sp->hook_handler;
  r->hooks.key = sp->hook_key;
  r->hooks.bypass = sp->hook_bypass;
  r->hooks.props = sp->hook_props;
  r->respond.status = sp->status;
  /* Never NULL, even when empty: the server may memcpy them as they are. */
  char *p = r->respond.headers = rs_xmalloc(len + 1);
  for (size_t i = 0; i < n; i++) {
    memcpy(p, hs[i].name, hs[i].name_len), p += hs[i].name_len;
    memcpy(p, ": ", 2), p += 2;
    memcpy(p, hs[i].value, hs[i].value_len), p += hs[i].value_len;
    memcpy(p, "\r\n", 2), p += 2;
  }
  if (add_ct) memcpy(p, ct, sizeof(ct) - 1), p += sizeof(ct) - 1;
  *p = '\0';
  r->respond.headers_len = len;
  r->respond.body = rs_xstrndup(sp->body ? sp->body : "", sp->body ? sp->body_len : 0);
  r->respond.body_len = sp->body ? sp->body_len : 0;

  rs_lcache_policy_build(L, &sp->policy, r);
  rs_llimit_build(&limit, r);
  if (errpages > 0) r->errpages = rs_lcache_errpages(L, errpages, sp->fn, ctx->config_dir, true);

  const char *why = "";
  if (rs_router_add(ctx->cfg->router, r, &why) != 0)
    rs_lutil_error(L, "%s \"%.128s\": %s", sp->fn, sp->path, why);
  /* A loop thread's state anchors the hook functions (lua/rs_lhooks.c). */
  /* limit_req/limit_conn key functions are in the options table too. */
  int opts_idx = sp->opts_idx ? sp->opts_idx : (r->hooks.limit_req || r->hooks.limit_conn ? sp->opts_tbl : 0);
  if (ctx->on_route != NULL) ctx->on_route(ctx->on_route_ud, L, r, opts_idx, sp->fn_idx);
}

/* key = function(req), bypass = function(req), props = function(req): the
 * render hooks. Only functions; only with render. */
static void rs__hooks(lua_State *L, rs__spec_t *sp) {
  char desc[64];
  static const char *const names[] = { "key", "bypass", "props" };
  bool *flags[] = { &sp->hook_key, &sp->hook_bypass, &sp->hook_props };
  for (int i = 0; i < 3; i++) {
    if (!rs_lutil_field(L, 3, names[i])) continue;
    if (i == 1 && lua_type(L, -1) == LUA_TTABLE) {  /* declarative: lua/rs_lcache.c */
      lua_pop(L, 1);
      continue;
    }
    if (lua_type(L, -1) != LUA_TFUNCTION)
      rs_lutil_error(L, "ssr.route: '%s' must be a function(req), got %s", names[i],
                     rs_lutil_describe(L, -1, desc, sizeof(desc)));
    if (sp->action != RS_ACTION_RENDER)
      rs_lutil_error(L, "ssr.route: a '%s' hook goes with 'render'", names[i]);
    lua_pop(L, 1);
    *flags[i] = true;
    sp->opts_idx = 3;
  }
}

static const char *rs__path(lua_State *L, int idx, const char *fn) {
  return rs_lutil_string(L, idx, fn, "path", "a string starting with '/'", NULL);
}

/* The options of a static route in the table at t (static = {...} of
 * ssr.route, or ssr.static's own): root (required; relative to the config
 * file's folder, as render.bundle; it must be a folder now), index (a file
 * name, or false), max_age (seconds), etag, precompressed. pre prefixes the names in
 * messages ("static." or ""). Pushes the resolved root, which
 * sp->static_root points into. */
static void rs__static_opts(lua_State *L, int t, rs__spec_t *sp, const char *pre) {
  rs_lconfig_ctx_t *ctx = lua_touserdata(L, lua_upvalueindex(1));
  char desc[64], name[32];
  sp->action = RS_ACTION_STATIC;
  sp->static_index = "index.html";
  sp->static_max_age = -1;
  sp->static_etag = true;
  sp->static_precompressed = true;
  if ((sp->methods & ~(unsigned)(RS_M_GET | RS_M_HEAD)) != 0)
    rs_lutil_error(L, "%s: a static route answers GET and HEAD only", sp->fn);
  if (strstr(sp->path, "/:") != NULL)
    rs_lutil_error(L, "%s: a static route's path cannot have ':params' (files live under "
                   "a fixed prefix)", sp->fn);
  if (rs_lutil_field(L, t, "index")) {      /* the table keeps the string */
    snprintf(name, sizeof(name), "%sindex", pre);
    if (lua_type(L, -1) == LUA_TBOOLEAN && !lua_toboolean(L, -1)) {
      sp->static_index = NULL;
    } else {
      const char *s = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : NULL;
      if (s == NULL || s[0] == '\0' || strlen(s) != lua_objlen(L, -1) || strchr(s, '/') != NULL ||
          strcmp(s, ".") == 0 || strcmp(s, "..") == 0)
        rs_lutil_error(L, "%s: '%s' must be a file name (no '/') or false, got %s", sp->fn, name,
                       rs_lutil_describe(L, -1, desc, sizeof(desc)));
      sp->static_index = s;
    }
    lua_pop(L, 1);
  }
  if (rs_lutil_field(L, t, "max_age")) {
    snprintf(name, sizeof(name), "%smax_age", pre);
    sp->static_max_age = rs_lutil_int(L, -1, sp->fn, name, 0, 315360000);
    lua_pop(L, 1);
  }
  if (rs_lutil_field(L, t, "etag")) {
    if (lua_type(L, -1) != LUA_TBOOLEAN)
      rs_lutil_error(L, "%s: '%setag' must be a boolean, got %s", sp->fn, pre,
                     rs_lutil_describe(L, -1, desc, sizeof(desc)));
    sp->static_etag = lua_toboolean(L, -1);
    lua_pop(L, 1);
  }
  if (rs_lutil_field(L, t, "precompressed")) {
    if (lua_type(L, -1) != LUA_TBOOLEAN)
      rs_lutil_error(L, "%s: '%sprecompressed' must be a boolean, got %s", sp->fn, pre,
                     rs_lutil_describe(L, -1, desc, sizeof(desc)));
    sp->static_precompressed = lua_toboolean(L, -1);
    lua_pop(L, 1);
  }
  snprintf(name, sizeof(name), "%sroot", pre);
  if (!rs_lutil_field(L, t, "root")) lua_pushnil(L);
  size_t n;
  const char *root = rs_lutil_string(L, -1, sp->fn, name, "a folder path", &n);
  if (n == 0) rs_lutil_error(L, "%s: '%s' must be a folder path, got an empty string", sp->fn, name);
  /* Relative to the config file's folder, so the gateway serves the same
   * files from any working folder (loop threads' states get it too). */
  if (root[0] != '/' && ctx->config_dir[0] != '\0' && strcmp(ctx->config_dir, ".") != 0) {
    lua_pushfstring(L, "%s%s%s", ctx->config_dir,
                    ctx->config_dir[strlen(ctx->config_dir) - 1] == '/' ? "" : "/", root);
  } else {
    lua_pushvalue(L, -1);
  }
  sp->static_root = lua_tostring(L, -1);
  struct stat st;
  if (stat(sp->static_root, &st) != 0)
    rs_lutil_error(L, "%s: '%s' = \"%.200s\": %.512s: %s", sp->fn, name, root, sp->static_root,
                   errno == ENOENT ? "no such folder" : strerror(errno));
  if (!S_ISDIR(st.st_mode))
    rs_lutil_error(L, "%s: '%s' = \"%.200s\": %.512s is not a folder", sp->fn, name, root,
                   sp->static_root);
}

/* The options of a proxy route in the table at t (proxy = {...} of
 * ssr.route, or ssr.proxy's own): upstream (required; checked against
 * ssr.config's upstreams once the whole file has run), path (replaces what
 * the route's prefix matched), host ("keep", "upstream" or a literal).
 * Borrows the strings: they stay on the stack (in t). */
static void rs__proxy_opts(lua_State *L, int t, rs__spec_t *sp, const char *pre) {
  char name[32];
  sp->action = RS_ACTION_PROXY;
  snprintf(name, sizeof(name), "%supstream", pre);
  if (!rs_lutil_field(L, t, "upstream"))
    rs_lutil_error(L, "%s: '%s' is required, as in { upstream = \"api\" }", sp->fn, name);
  sp->proxy_upstream = rs_lutil_string(L, -1, sp->fn, name, "an upstream's name", NULL);
  lua_pop(L, 1);
  if (rs_lutil_field(L, t, "path")) {
    snprintf(name, sizeof(name), "%spath", pre);
    size_t n;
    sp->proxy_path = rs_lutil_string(L, -1, sp->fn, name, "a path starting with '/'", &n);
    if (n == 0 || sp->proxy_path[0] != '/' || strpbrk(sp->proxy_path, " \r\n\t?#") != NULL)
      rs_lutil_error(L, "%s: '%s' must be a path starting with '/', without spaces, '?' or '#'", sp->fn,
                     name);
    if (strchr(sp->path, ':') != NULL)
      rs_lutil_error(L, "%s: '%s' rewrites a prefix or exact path; this route has ':params'", sp->fn, name);
    lua_pop(L, 1);
  }
  sp->proxy_host_mode = RS_PROXY_HOST_KEEP;
  if (rs_lutil_field(L, t, "host")) {
    snprintf(name, sizeof(name), "%shost", pre);
    size_t n;
    const char *h = rs_lutil_string(L, -1, sp->fn, name, "\"keep\", \"upstream\" or a host name", &n);
    if (strcmp(h, "keep") == 0) {
      sp->proxy_host_mode = RS_PROXY_HOST_KEEP;
    } else if (strcmp(h, "upstream") == 0) {
      sp->proxy_host_mode = RS_PROXY_HOST_UPSTREAM;
    } else {
      if (n == 0 || strpbrk(h, " \r\n\t/") != NULL)
        rs_lutil_error(L, "%s: '%s' must be \"keep\", \"upstream\" or a host name, got \"%.64s\"", sp->fn,
                       name, h);
      sp->proxy_host_mode = RS_PROXY_HOST_LITERAL;
      sp->proxy_host = h;
    }
    lua_pop(L, 1);
  }
}

/* render = true, or render = { cache = true, ttl = 300, grace = 60 } at t
 * (seconds; ttl when the bundle gives none, grace after it) into sp. */
static void rs__render_opts(lua_State *L, int t, rs__spec_t *sp) {
  char desc[64];
  sp->render_cache = true;
  sp->render_ttl_ms = sp->render_grace_ms = -1;
  if (lua_type(L, t) == LUA_TTABLE) {
    rs_lutil_check_keys(L, t, "ssr.route render", rs__render_keys);
    if (rs_lutil_field(L, t, "cache")) {
      if (lua_type(L, -1) != LUA_TBOOLEAN)
        rs_lutil_error(L, "ssr.route: 'render.cache' must be a boolean, got %s",
                       rs_lutil_describe(L, -1, desc, sizeof(desc)));
      sp->render_cache = lua_toboolean(L, -1);
      lua_pop(L, 1);
    }
    if (rs_lutil_field(L, t, "ttl")) {
      sp->render_ttl_ms = 1000 * rs_lutil_int(L, -1, sp->fn, "render.ttl", 0, 31536000);
      lua_pop(L, 1);
    }
    if (rs_lutil_field(L, t, "grace")) {
      sp->render_grace_ms = 1000 * rs_lutil_int(L, -1, sp->fn, "render.grace", 0, 31536000);
      lua_pop(L, 1);
    }
  } else if (lua_type(L, t) != LUA_TBOOLEAN || !lua_toboolean(L, t)) {
    rs_lutil_error(L, "ssr.route: 'render' must be true or a table, got %s",
                   rs_lutil_describe(L, t, desc, sizeof(desc)));
  }
}

/* ssr.route(methods, path, opts)
 * Lua stack before: methods, path, opts   after: (nothing returned) */
static int rs__route(lua_State *L) {
  char desc[64];
  /* ttl / grace -1: not given (a proxy route caches only with a ttl, and
   * then takes cache.grace unless it says). */
  rs__spec_t sp = { .fn = "ssr.route", .status = 200, .status_name = "respond.status",
                    .body_name = "respond.body", .headers_name = "respond.headers",
                    .render_ttl_ms = -1, .render_grace_ms = -1 };
  sp.methods = rs__methods(L, 1, sp.fn);
  sp.path = rs__path(L, 2, sp.fn);
  if (lua_type(L, 3) == LUA_TFUNCTION) {   /* ssr.route(m, path, function(req) ... end) */
    lua_settop(L, 3);
    sp.hook_handler = true;
    sp.fn_idx = 3;
    rs__route_add(L, &sp);
    return 0;
  }
  if (lua_type(L, 3) != LUA_TTABLE)
    rs_lutil_error(L, "ssr.route: argument 3 must be a table of options, as in "
                   "{ respond = { status = 200, body = \"hi\" } }, got %s",
                   rs_lutil_describe(L, 3, desc, sizeof(desc)));
  lua_settop(L, 3);
  rs_lutil_check_keys(L, 3, "ssr.route options",
                      rs__nactions ? (const char *const *)rs__route_keys : rs__route_base_keys);
  sp.opts_tbl = 3;
  rs_lcache_policy_check(L, 3, sp.fn, &sp.policy);

  if (rs_lutil_field(L, 3, "priority")) {   /* slot 4 */
    sp.priority = (int)rs_lutil_int(L, -1, sp.fn, "priority", -1000000, 1000000);
  } else {
    lua_pushnil(L);
  }
  if (rs_lutil_field(L, 3, "host")) {       /* slot 5 */
    sp.host = rs_lutil_string(L, -1, sp.fn, "host", "a host name", NULL);
  } else {
    lua_pushnil(L);
  }
  for (size_t i = 0; i < rs__nactions; i++) {   /* an action with options of its own */
    const rs_laction_t *a = &rs__actions[i];
    if (a->check == NULL || !rs_lutil_field(L, 3, a->name)) continue;
    int t = lua_gettop(L);
    a->check(L, t, sp.fn);
    if (rs_lutil_field(L, 3, "respond") || rs_lutil_field(L, 3, "render") || rs_lutil_field(L, 3, "static"))
      rs_lutil_error(L, "ssr.route: give one action: '%s' goes with no 'respond', 'render' or 'static'", a->name);
    lua_settop(L, t);
    sp.own = a;
    sp.own_idx = t;
    rs__route_add(L, &sp);
    return 0;
  }
  if (rs_lutil_field(L, 3, "proxy")) {      /* to an upstream */
    if (lua_type(L, -1) != LUA_TTABLE)
      rs_lutil_error(L, "ssr.route: 'proxy' must be a table, as in { upstream = \"api\" }, got %s",
                     rs_lutil_describe(L, -1, desc, sizeof(desc)));
    rs_lutil_check_keys(L, -1, "ssr.route proxy", rs__proxy_keys);
    if (rs_lutil_field(L, 3, "respond") || rs_lutil_field(L, 3, "render") || rs_lutil_field(L, 3, "static"))
      rs_lutil_error(L, "ssr.route: give one action: 'proxy' goes with no 'respond', 'render' or 'static'");
    rs__proxy_opts(L, lua_gettop(L), &sp, "proxy.");
    rs__route_add(L, &sp);
    return 0;
  }
  if (rs_lutil_field(L, 3, "static")) {     /* files under a root */
    if (lua_type(L, -1) != LUA_TTABLE)
      rs_lutil_error(L, "ssr.route: 'static' must be a table, as in { root = \"dist\" }, got %s",
                     rs_lutil_describe(L, -1, desc, sizeof(desc)));
    rs_lutil_check_keys(L, -1, "ssr.route static", rs__static_keys);
    if (rs_lutil_field(L, 3, "respond") || rs_lutil_field(L, 3, "render"))
      rs_lutil_error(L, "ssr.route: give one action: 'static' goes with no 'respond' or 'render'");
    rs__static_opts(L, lua_gettop(L), &sp, "static.");
    rs__route_add(L, &sp);
    return 0;
  }
  if (rs_lutil_field(L, 3, "render")) {     /* the bundle answers */
    rs__render_opts(L, lua_gettop(L), &sp);
    lua_pop(L, 1);
    if (rs_lutil_field(L, 3, "respond"))
      rs_lutil_error(L, "ssr.route: give one action, 'respond' or 'render', not both");
    sp.action = RS_ACTION_RENDER;
    rs__hooks(L, &sp);
    rs__route_add(L, &sp);
    return 0;
  }
  rs__hooks(L, &sp);                         /* only to refuse them here */
  if (!rs_lutil_field(L, 3, "respond"))     /* slot 6 */
    rs_lutil_error(L, "ssr.route: no action: give 'respond' = { status = ..., body = ... } "
                   "or 'render' = true");
  if (lua_type(L, 6) == LUA_TFUNCTION) {    /* respond = function(req) ... end */
    sp.hook_handler = true;
    sp.opts_idx = 3;
    rs__route_add(L, &sp);
    return 0;
  }
  if (lua_type(L, 6) != LUA_TTABLE)
    rs_lutil_error(L, "ssr.route: 'respond' must be a table or a function(req), got %s",
                   rs_lutil_describe(L, 6, desc, sizeof(desc)));
  rs_lutil_check_keys(L, 6, "ssr.route respond", rs__respond_keys);

  if (rs_lutil_field(L, 6, "status"))
    sp.status = (int)rs_lutil_int(L, -1, sp.fn, sp.status_name, 100, 599);
  else
    lua_pushnil(L);                          /* slot 7 */
  if (rs_lutil_field(L, 6, "body"))         /* slot 8 */
    sp.body = rs_lutil_string(L, -1, sp.fn, sp.body_name, "a string", &sp.body_len);
  else
    lua_pushnil(L);
  if (rs_lutil_field(L, 6, "headers")) {    /* slot 9 */
    if (lua_type(L, -1) != LUA_TTABLE)
      rs_lutil_error(L, "ssr.route: 'respond.headers' must be a table, got %s",
                     rs_lutil_describe(L, -1, desc, sizeof(desc)));
    sp.headers = lua_gettop(L);
  }
  rs__route_add(L, &sp);
  return 0;
}

/* ssr.respond(path, status, body, headers): a GET (and HEAD) route with a
 * fixed answer. status defaults to 200; body and headers may be nil.
 * Lua stack before: path, status, body, headers   after: (nothing returned) */
static int rs__respond(lua_State *L) {
  char desc[64];
  rs__spec_t sp = { .fn = "ssr.respond", .methods = RS_M_GET, .status = 200,
                    .status_name = "status", .body_name = "body",
                    .headers_name = "headers" };
  if (lua_gettop(L) > 4)
    rs_lutil_error(L, "ssr.respond: expected (path, status, body, headers), got %d arguments",
                   lua_gettop(L));
  lua_settop(L, 4);
  sp.path = rs__path(L, 1, sp.fn);
  if (!lua_isnil(L, 2)) sp.status = (int)rs_lutil_int(L, 2, sp.fn, "status", 100, 599);
  if (!lua_isnil(L, 3))
    sp.body = rs_lutil_string(L, 3, sp.fn, "body", "a string", &sp.body_len);
  if (!lua_isnil(L, 4)) {
    if (lua_type(L, 4) != LUA_TTABLE)
      rs_lutil_error(L, "ssr.respond: 'headers' must be a table, got %s",
                     rs_lutil_describe(L, 4, desc, sizeof(desc)));
    sp.headers = 4;
  }
  rs__route_add(L, &sp);
  return 0;
}

/* ssr.static(prefix, opts): a GET (and HEAD) prefix route for prefix, with
 * a '/' added when it lacks one, serving the files under opts.root; opts
 * are those of static = {...} in ssr.route, plus host and priority.
 * Lua stack before: prefix, opts   after: (nothing returned) */
static int rs__static(lua_State *L) {
  char desc[64];
  rs__spec_t sp = { .fn = "ssr.static", .methods = RS_M_GET, .status = 200 };
  if (lua_gettop(L) > 2)
    rs_lutil_error(L, "ssr.static: expected (prefix, options), got %d arguments", lua_gettop(L));
  lua_settop(L, 2);
  size_t n;
  const char *prefix = rs_lutil_string(L, 1, sp.fn, "prefix", "a path prefix starting with '/'", &n);
  if (lua_type(L, 2) != LUA_TTABLE)
    rs_lutil_error(L, "ssr.static: argument 2 must be a table of options, as in "
                   "{ root = \"dist\" }, got %s", rs_lutil_describe(L, 2, desc, sizeof(desc)));
  rs_lutil_check_keys(L, 2, "ssr.static options", rs__static_fn_keys);
  sp.opts_tbl = 2;
  if (n > 0 && prefix[n - 1] == '*') lua_pushvalue(L, 1);          /* slot 3 */
  else lua_pushfstring(L, n > 0 && prefix[n - 1] == '/' ? "%s*" : "%s/*", prefix);
  sp.path = lua_tostring(L, 3);
  if (rs_lutil_field(L, 2, "priority"))
    sp.priority = (int)rs_lutil_int(L, -1, sp.fn, "priority", -1000000, 1000000);
  if (rs_lutil_field(L, 2, "host"))
    sp.host = rs_lutil_string(L, -1, sp.fn, "host", "a host name", NULL);
  rs__static_opts(L, 2, &sp, "");
  rs__route_add(L, &sp);
  return 0;
}

/* ssr.proxy(prefix, opts): a prefix route for prefix (a '/' added when it
 * lacks one) answering every method by proxying to opts.upstream; opts are
 * those of proxy = {...} in ssr.route, plus priority, methods (default all)
 * and route_host (the route's host; "host" is the Host header sent).
 * Lua stack before: prefix, opts   after: (nothing returned) */
static int rs__proxy(lua_State *L) {
  char desc[64];
  rs__spec_t sp = { .fn = "ssr.proxy", .methods = RS_M_ANY, .status = 200,
                    .render_ttl_ms = -1, .render_grace_ms = -1 };
  if (lua_gettop(L) > 2)
    rs_lutil_error(L, "ssr.proxy: expected (prefix, options), got %d arguments", lua_gettop(L));
  lua_settop(L, 2);
  size_t n;
  const char *prefix = rs_lutil_string(L, 1, sp.fn, "prefix", "a path prefix starting with '/'", &n);
  if (lua_type(L, 2) != LUA_TTABLE)
    rs_lutil_error(L, "ssr.proxy: argument 2 must be a table of options, as in "
                   "{ upstream = \"api\" }, got %s", rs_lutil_describe(L, 2, desc, sizeof(desc)));
  rs_lutil_check_keys(L, 2, "ssr.proxy options", rs__proxy_fn_keys);
  rs_lcache_policy_check(L, 2, sp.fn, &sp.policy);  /* ttl = N caches GET/HEAD answers */
  sp.opts_tbl = 2;                           /* server = "name" (rs__route_add) */
  if (n > 0 && prefix[n - 1] == '*') lua_pushvalue(L, 1);          /* slot 3 */
  else lua_pushfstring(L, n > 0 && prefix[n - 1] == '/' ? "%s*" : "%s/*", prefix);
  sp.path = lua_tostring(L, 3);
  if (rs_lutil_field(L, 2, "priority"))
    sp.priority = (int)rs_lutil_int(L, -1, sp.fn, "priority", -1000000, 1000000);
  if (rs_lutil_field(L, 2, "route_host"))
    sp.host = rs_lutil_string(L, -1, sp.fn, "route_host", "a host name", NULL);
  if (rs_lutil_field(L, 2, "methods"))
    sp.methods = rs__methods(L, lua_gettop(L), sp.fn);
  rs__proxy_opts(L, 2, &sp, "");
  rs__route_add(L, &sp);
  return 0;
}

void rs_lroute_action_add(const rs_laction_t *a) {
  size_t i = 0;
  while (i < rs__nactions && strcmp(rs__actions[i].name, a->name) != 0) i++;
  if (i == RS__ACTIONS_MAX) abort();   /* a table of the source, not of the config */
  rs__actions[i] = *a;
  if (i == rs__nactions) rs__nactions++;
  size_t k = 0;                        /* the option keys: the base ones, then own actions' */
  for (; rs__route_base_keys[k] != NULL; k++) rs__route_keys[k] = rs__route_base_keys[k];
  for (size_t j = 0; j < rs__nactions; j++)
    if (rs__actions[j].check != NULL) rs__route_keys[k++] = rs__actions[j].name;
  rs__route_keys[k] = NULL;
}

const rs_laction_t *rs_lroute_action_of(const struct rs_action_handler_s *handler) {
  for (size_t i = 0; handler != NULL && i < rs__nactions; i++)
    if (rs__actions[i].handler == handler) return &rs__actions[i];
  return NULL;
}

void rs_lroute_register(lua_State *L, int module_idx, int ctx_idx) {
  rs_lcache_register(L, module_idx, ctx_idx);   /* ssr.purge */
  lua_pushvalue(L, ctx_idx);
  lua_pushcclosure(L, rs__proxy, 1);
  lua_setfield(L, module_idx, "proxy");
  lua_pushvalue(L, ctx_idx);
  lua_pushcclosure(L, rs__route, 1);
  lua_setfield(L, module_idx, "route");
  lua_pushvalue(L, ctx_idx);
  lua_pushcclosure(L, rs__respond, 1);
  lua_setfield(L, module_idx, "respond");
  lua_pushvalue(L, ctx_idx);
  lua_pushcclosure(L, rs__static, 1);
  lua_setfield(L, module_idx, "static");
}
