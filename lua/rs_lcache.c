/* lua/rs_lcache.c — see rs_lcache.h. */
#include "rs_lcache.h"

#include <errno.h>
#include <lauxlib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rs_cache.h"
#include "rs_lfetch.h"
#include "rs_lstate.h"
#include "rs_log.h"
#include "rs_lutil.h"
#include "rs_purge.h"

#define RS__MAX_NAMES 32         /* per list: a route names a few */
#define RS__MAX_NAME 128         /* bytes of one name or tag */

static const char *const rs__bypass_keys[] = { "cookie", "header", "query", NULL };
enum { RS__COOKIE, RS__HEADER, RS__QUERY, RS__TAGS, RS__KEYHDR, RS__KEYCOOKIE };
#define RS__MAX_CACHE_CONTROL 512

/* ------------------------------------------------------------------ checks */

/* One name at idx (a string): checked for the list kind. Returns its length. */
static size_t rs__name(lua_State *L, int idx, const char *fn, const char *name, int kind) {
  char desc[64];
  if (lua_type(L, idx) != LUA_TSTRING)
    rs_lutil_error(L, "%s: '%s' must be a string or a list of strings, got %s", fn, name,
                   rs_lutil_describe(L, idx, desc, sizeof(desc)));
  size_t n;
  const char *s = lua_tolstring(L, idx, &n);
  if (n == 0) rs_lutil_error(L, "%s: '%s' has an empty name", fn, name);
  if (n > RS__MAX_NAME)
    rs_lutil_error(L, "%s: '%s' has a name longer than %d bytes", fn, name, RS__MAX_NAME);
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    bool ok = kind == RS__COOKIE || kind == RS__HEADER ? rs_http_tchar(c)
              : kind == RS__QUERY ? c >= 0x20 && c != 0x7f && c != '&' && c != '=' && c != '#'
              : c >= 0x20 && c != 0x7f;
    if (!ok)
      rs_lutil_error(L, "%s: '%s' name \"%.64s\" has a character not allowed in a %s", fn, name, s,
                     kind == RS__COOKIE ? "cookie name" : kind == RS__HEADER ? "header name"
                     : kind == RS__QUERY ? "query parameter name" : "tag");
  }
  return n;
}

/* Is the table at idx an array 1..n (n > 0)? Returns n; raises otherwise. */
static size_t rs__array(lua_State *L, int idx, const char *fn, const char *name, const char *what) {
  size_t n = lua_objlen(L, idx), seen = 0;
  lua_pushnil(L);
  while (lua_next(L, idx)) {
    lua_Number k = lua_type(L, -2) == LUA_TNUMBER ? lua_tonumber(L, -2) : 0;
    if (!(k >= 1 && k <= (lua_Number)n && k == (lua_Number)(size_t)k))
      rs_lutil_error(L, "%s: '%s' must be a list of %s, as in { \"a\", \"b\" }", fn, name, what);
    seen++;
    lua_pop(L, 1);
  }
  if (seen == 0) rs_lutil_error(L, "%s: '%s' is an empty list", fn, name);
  if (seen > RS__MAX_NAMES) rs_lutil_error(L, "%s: '%s' has more than %d entries", fn, name, RS__MAX_NAMES);
  return n;
}

/* "x" or { "x", "y" } at idx: counted into p (kind's list), bytes into p->mem. */
static void rs__names(lua_State *L, int idx, const char *fn, const char *name, int kind,
                      rs_lcache_policy_t *p) {
  if (lua_type(L, idx) == LUA_TTABLE) {
    size_t n = rs__array(L, idx, fn, name, kind == RS__TAGS ? "tags" : "names");
    for (size_t i = 1; i <= n; i++) {
      lua_rawgeti(L, idx, (int)i);
      p->mem += rs__name(L, lua_gettop(L), fn, name, kind) + 1;
      lua_pop(L, 1);
    }
    p->_n[kind] = n;
  } else {
    p->mem += rs__name(L, idx, fn, name, kind) + 1;
    p->_n[kind] = 1;
  }
}

static void rs__given(rs_lcache_policy_t *p, const char *key) {
  if (p->first == NULL) p->first = key;
}

/* The policy keys about cookies (cookies = {...}) and what leaves for
 * downstream caches (cache_control, s_maxage, stale_while_revalidate).
 * Lua stack: may leave values pushed (the caller restores its top). */
static void rs__check_cookies_and_downstream(lua_State *L, int opts, const char *fn, rs_lcache_policy_t *p) {
  if (rs_lutil_field(L, opts, "cookies")) {
    /* the cookies the pages depend on: they join the key; no other cookie
     * bypasses nor reaches a stored page (core/base/rs_cookie.h) */
    int t = lua_gettop(L);
    size_t bypass_cookies = p->_n[RS__COOKIE];
    if (lua_type(L, t) == LUA_TTABLE && lua_objlen(L, t) == 0 && (lua_pushnil(L), !lua_next(L, t))) {
      p->_n[RS__COOKIE] = 0;     /* cookies = {}: the pages depend on no cookie */
    } else {
      lua_settop(L, t);
      rs__names(L, t, fn, "cookies", RS__COOKIE, p);
    }
    p->_n[RS__KEYCOOKIE] = p->_n[RS__COOKIE];
    p->_n[RS__COOKIE] = bypass_cookies;
    p->_cookies = true;
    rs__given(p, "cookies");
  }
  if (p->_cookies && rs_lutil_field(L, opts, "cache_cookie") && lua_toboolean(L, -1))
    rs_lutil_error(L, "%s: 'cookies' and 'cache_cookie = true': give one (with 'cookies', other cookies "
                   "never bypass already)", fn);
  if (p->_cookies && rs_lutil_field(L, opts, "headers")) {
    int t = lua_gettop(L);
    for (size_t i = 1; i <= (lua_type(L, t) == LUA_TTABLE ? p->_n[RS__KEYHDR] : 1); i++) {
      if (lua_type(L, t) == LUA_TTABLE) lua_rawgeti(L, t, (int)i);
      else lua_pushvalue(L, t);
      if (rs_str_ieq(lua_tostring(L, -1), lua_objlen(L, -1), "cookie", 6))
        rs_lutil_error(L, "%s: 'headers' names cookie and 'cookies' is given: name the cookies in "
                       "'cookies' only", fn);
      lua_pop(L, 1);
    }
  }
  p->_s_maxage = p->_swr = -1;
  if (rs_lutil_field(L, opts, "cache_control")) {
    size_t n;
    const char *v = rs_lutil_string(L, -1, fn, "cache_control", "a Cache-Control value, as in "
                                    "\"public, max-age=60\"", &n);
    if (n == 0 || n > RS__MAX_CACHE_CONTROL)
      rs_lutil_error(L, "%s: 'cache_control' must be 1 to %d bytes, got %zu", fn, RS__MAX_CACHE_CONTROL, n);
    for (size_t i = 0; i < n; i++)
      if ((unsigned char)v[i] < 0x20 || (unsigned char)v[i] >= 0x7f)
        rs_lutil_error(L, "%s: 'cache_control' has a byte not allowed in a header value (0x%02x)", fn,
                       (unsigned char)v[i]);
    rs__given(p, "cache_control");
  }
  if (rs_lutil_field(L, opts, "s_maxage")) {
    p->_s_maxage = rs_lutil_int(L, -1, fn, "s_maxage", 0, 31536000);
    rs__given(p, "s_maxage");
  }
  if (rs_lutil_field(L, opts, "stale_while_revalidate")) {
    p->_swr = rs_lutil_int(L, -1, fn, "stale_while_revalidate", 0, 31536000);
    rs__given(p, "stale_while_revalidate");
  }
}

/* Lua stack before: ...   after: ... (unchanged) */
void rs_lcache_policy_check(lua_State *L, int opts, const char *fn, rs_lcache_policy_t *p) {
  char desc[64];
  memset(p, 0, sizeof(*p));
  p->opts = opts;
  p->ttl_ms = p->grace_ms = -1;
  int top = lua_gettop(L);
  if (rs_lutil_field(L, opts, "ttl")) {
    p->ttl_ms = 1000 * rs_lutil_int(L, -1, fn, "ttl", 0, 31536000);
    rs__given(p, "ttl");
  }
  if (rs_lutil_field(L, opts, "grace")) {
    p->grace_ms = 1000 * rs_lutil_int(L, -1, fn, "grace", 0, 31536000);
    rs__given(p, "grace");
  }
  if (rs_lutil_field(L, opts, "bypass") && lua_type(L, -1) != LUA_TFUNCTION) {
    int t = lua_gettop(L);
    if (lua_type(L, t) != LUA_TTABLE)
      rs_lutil_error(L, "%s: 'bypass' must be a function(req) or a table "
                     "{ cookie = ..., header = ..., query = ... }, got %s", fn,
                     rs_lutil_describe(L, t, desc, sizeof(desc)));
    rs_lutil_check_keys(L, t, "ssr.route bypass", rs__bypass_keys);
    static const char *const names[] = { "bypass.cookie", "bypass.header", "bypass.query" };
    for (int k = RS__COOKIE; k <= RS__QUERY; k++) {
      if (!rs_lutil_field(L, t, rs__bypass_keys[k])) continue;
      rs__names(L, lua_gettop(L), fn, names[k], k, p);
    }
    if (p->_n[RS__COOKIE] + p->_n[RS__HEADER] + p->_n[RS__QUERY] == 0)
      rs_lutil_error(L, "%s: 'bypass' names nothing: give cookie, header and/or query, as in "
                     "bypass = { cookie = \"session\" }", fn);
    p->bypass_table = true;
    rs__given(p, "bypass");
  }
  if (rs_lutil_field(L, opts, "tags")) {
    rs__names(L, lua_gettop(L), fn, "tags", RS__TAGS, p);
    rs__given(p, "tags");
  }
  if (rs_lutil_field(L, opts, "headers")) {
    /* the request headers the pages depend on: they join the key and are
     * all a cached render sees beside Host (core/cache/rs_key.h) */
    int t = lua_gettop(L);
    size_t bypass_headers = p->_n[RS__HEADER];   /* rs__names counts into the kind's slot */
    rs__names(L, t, fn, "headers", RS__HEADER, p);
    p->_n[RS__KEYHDR] = p->_n[RS__HEADER];
    p->_n[RS__HEADER] = bypass_headers;
    for (size_t i = 1; i <= (lua_type(L, t) == LUA_TTABLE ? p->_n[RS__KEYHDR] : 1); i++) {
      if (lua_type(L, t) == LUA_TTABLE) lua_rawgeti(L, t, (int)i);
      else lua_pushvalue(L, t);
      if (rs_str_ieq(lua_tostring(L, -1), lua_objlen(L, -1), "host", 4))
        rs_lutil_error(L, "%s: 'headers' names host, which every key holds already", fn);
      lua_pop(L, 1);
    }
    rs__given(p, "headers");
  }
  rs__check_cookies_and_downstream(L, opts, fn, p);
  if (rs_lutil_field(L, opts, "cache_statuses")) {
    int t = lua_gettop(L);
    if (lua_type(L, t) != LUA_TTABLE)
      rs_lutil_error(L, "%s: 'cache_statuses' must be a list of statuses, as in { 200, 404 }, got %s", fn,
                     rs_lutil_describe(L, t, desc, sizeof(desc)));
    size_t n = rs__array(L, t, fn, "cache_statuses", "statuses");
    for (size_t i = 1; i <= n; i++) {
      lua_rawgeti(L, t, (int)i);
      rs_lutil_int(L, -1, fn, "cache_statuses", 200, 599);
      lua_pop(L, 1);
    }
    rs__given(p, "cache_statuses");
  }
  static const char *const flags[] = { "cache_cookie", "cache_authorization" };
  for (int i = 0; i < 2; i++) {
    if (!rs_lutil_field(L, opts, flags[i])) continue;
    if (lua_type(L, -1) != LUA_TBOOLEAN)
      rs_lutil_error(L, "%s: '%s' must be a boolean, got %s", fn, flags[i],
                     rs_lutil_describe(L, -1, desc, sizeof(desc)));
    rs__given(p, flags[i]);
  }
  size_t ptrs = p->_n[RS__COOKIE] + p->_n[RS__HEADER] + p->_n[RS__QUERY] + p->_n[RS__TAGS] + p->_n[RS__KEYHDR] +
                p->_n[RS__KEYCOOKIE] + 6;   /* + one NULL per list */
  if (p->first != NULL) p->mem += ptrs * sizeof(char *);
  lua_settop(L, top);
}

void rs_lcache_policy_finish(lua_State *L, const rs_lcache_policy_t *p, const char *fn,
                             rs_action_t action, int64_t *ttl_ms, int64_t *grace_ms) {
  if (p->first == NULL) return;
  if (action != RS_ACTION_RENDER && action != RS_ACTION_PROXY)
    rs_lutil_error(L, "%s: '%s' is a cache policy: it goes with 'render' (a route that caches)", fn,
                   p->first);
  bool render = action == RS_ACTION_RENDER;   /* only render = {...} has its own ttl */
  if (render && ((p->ttl_ms >= 0 && *ttl_ms >= 0) || (p->grace_ms >= 0 && *grace_ms >= 0)))
    rs_lutil_error(L, "%s: give '%s' once: at the top level or in 'render', not both", fn,
                   p->ttl_ms >= 0 && *ttl_ms >= 0 ? "ttl" : "grace");
  if (p->ttl_ms >= 0) *ttl_ms = p->ttl_ms;
  if (p->grace_ms >= 0) *grace_ms = p->grace_ms;
}

/* ------------------------------------------------------------------ build */

typedef struct {
  char *strs;                    /* where the next string goes */
} rs__arena_t;

static const char *rs__copy(lua_State *L, int idx, rs__arena_t *a, bool lower) {
  size_t n;
  const char *s = lua_tolstring(L, idx, &n);
  char *d = a->strs;
  for (size_t i = 0; i < n; i++) d[i] = lower && s[i] >= 'A' && s[i] <= 'Z' ? (char)(s[i] + 32) : s[i];
  d[n] = '\0';
  a->strs += n + 1;
  return d;
}

/* The list at idx (a string or an array, checked) into out[0..n). */
static void rs__fill(lua_State *L, int idx, const char **out, size_t n, rs__arena_t *a, bool lower) {
  if (lua_type(L, idx) != LUA_TTABLE) {
    out[0] = rs__copy(L, idx, a, lower);
    return;
  }
  for (size_t i = 0; i < n; i++) {
    lua_rawgeti(L, idx, (int)i + 1);
    out[i] = rs__copy(L, -1, a, lower);
    lua_pop(L, 1);
  }
}

void rs_lcache_policy_build(lua_State *L, const rs_lcache_policy_t *p, rs_route_t *r) {
  if (p->first == NULL || p->opts == 0) return;
  int top = lua_gettop(L);
  int opts = p->opts;
  r->cache._mem = rs_xcalloc(1, p->mem);
  const char **ptrs = (const char **)(void *)r->cache._mem;
  size_t nptrs = p->_n[RS__COOKIE] + p->_n[RS__HEADER] + p->_n[RS__QUERY] + p->_n[RS__TAGS] + p->_n[RS__KEYHDR] +
                 p->_n[RS__KEYCOOKIE] + 6;   /* + one NULL per list */
  rs__arena_t a = { r->cache._mem + nptrs * sizeof(char *) };
  const char *const **lists[] = { &r->cache.bypass_cookie, &r->cache.bypass_header,
                                  &r->cache.bypass_query };
  if (p->bypass_table) {
    lua_getfield(L, opts, "bypass");
    int t = lua_gettop(L);
    for (int k = RS__COOKIE; k <= RS__QUERY; k++) {
      if (p->_n[k] == 0) continue;
      lua_getfield(L, t, rs__bypass_keys[k]);
      rs__fill(L, lua_gettop(L), ptrs, p->_n[k], &a, k == RS__HEADER);
      ptrs[p->_n[k]] = NULL;
      *lists[k] = ptrs;
      ptrs += p->_n[k] + 1;
      lua_pop(L, 1);
    }
    lua_pop(L, 1);
  }
  if (p->_n[RS__TAGS] > 0) {
    lua_getfield(L, opts, "tags");
    rs__fill(L, lua_gettop(L), ptrs, p->_n[RS__TAGS], &a, false);
    r->cache.tags = ptrs;
    r->cache.ntags = p->_n[RS__TAGS];
    ptrs[p->_n[RS__TAGS]] = NULL;   /* NULL-ended too (-T lists it), and the */
    ptrs += p->_n[RS__TAGS] + 1;    /* lists below go after it, not over it */
    lua_pop(L, 1);
  }
  if (p->_n[RS__KEYHDR] > 0) {
    lua_getfield(L, opts, "headers");
    rs__fill(L, lua_gettop(L), ptrs, p->_n[RS__KEYHDR], &a, true);
    ptrs[p->_n[RS__KEYHDR]] = NULL;
    r->cache.headers = ptrs;
    ptrs += p->_n[RS__KEYHDR] + 1;
    lua_pop(L, 1);
  }
  if (p->_cookies) {
    lua_getfield(L, opts, "cookies");
    if (p->_n[RS__KEYCOOKIE] > 0) rs__fill(L, lua_gettop(L), ptrs, p->_n[RS__KEYCOOKIE], &a, false);
    ptrs[p->_n[RS__KEYCOOKIE]] = NULL;
    r->cache.cookies = ptrs;
    ptrs += p->_n[RS__KEYCOOKIE] + 1;
    lua_pop(L, 1);
  }
  /* Cache-Control for what leaves: the route's value, then s-maxage and
   * stale-while-revalidate (with "public" when no value was given). */
  lua_getfield(L, opts, "cache_control");
  if (lua_isstring(L, -1) || p->_s_maxage >= 0 || p->_swr >= 0) {
    rs_buf_t cc = { 0 };
    if (lua_isstring(L, -1)) rs_buf_append(&cc, lua_tostring(L, -1), lua_objlen(L, -1));
    else rs_buf_append(&cc, "public", 6);
    if (p->_s_maxage >= 0) rs_buf_printf(&cc, ", s-maxage=%lld", (long long)p->_s_maxage);
    if (p->_swr >= 0) rs_buf_printf(&cc, ", stale-while-revalidate=%lld", (long long)p->_swr);
    rs_buf_append(&cc, "", 1);
    r->cache.cache_control = cc.p;
  }
  lua_pop(L, 1);
  lua_getfield(L, opts, "cache_statuses");
  if (lua_type(L, -1) == LUA_TTABLE) {
    for (size_t i = 1; i <= lua_objlen(L, -1); i++) {
      lua_rawgeti(L, -1, (int)i);
      int s = (int)lua_tointeger(L, -1);
      r->cache.statuses[s / 64] |= (uint64_t)1 << (s % 64);
      lua_pop(L, 1);
    }
  }
  lua_pop(L, 1);
  lua_getfield(L, opts, "cache_cookie");
  r->cache.cookie = lua_toboolean(L, -1);
  lua_getfield(L, opts, "cache_authorization");
  r->cache.authorization = lua_toboolean(L, -1);
  lua_settop(L, top);
}

/* ------------------------------------------------------------------ config */

void rs_lcache_config(lua_State *L, int t, rs_config_t *c, bool commit) {
  static const char *const modes[] = { "stale", "keep", "purge" };
  int top = lua_gettop(L);
  if (rs_lutil_field(L, t, "on_new_bundle")) {
    size_t n;
    const char *v = rs_lutil_string(L, -1, "ssr.config", "cache.on_new_bundle",
                                    "\"stale\", \"keep\" or \"purge\"", &n);
    int m = -1;
    for (int i = 0; i < 3; i++)
      if (strcmp(v, modes[i]) == 0) m = i;
    if (m < 0)
      rs_lutil_error(L, "ssr.config: 'cache.on_new_bundle' must be \"stale\", \"keep\" or \"purge\", "
                     "got \"%.64s\"", v);
    c->cache.on_new_bundle = m;
  }
  if (rs_lutil_field(L, t, "version")) {
    size_t n;
    const char *v = rs_lutil_string(L, -1, "ssr.config", "cache.version", "a string", &n);
    if (n > RS__MAX_NAME)
      rs_lutil_error(L, "ssr.config: 'cache.version' is longer than %d bytes", RS__MAX_NAME);
    for (size_t i = 0; i < n; i++)
      if ((unsigned char)v[i] < 0x20 || v[i] == 0x7f)
        rs_lutil_error(L, "ssr.config: 'cache.version' has a control byte (0x%02x)", (unsigned char)v[i]);
    if (commit) {
      free(c->cache.version);
      c->cache.version = n > 0 ? rs_xstrdup(v) : NULL;
    }
  }
  lua_settop(L, top);
}

#define RS__ERRPAGE_MAX_BYTES (1 << 20)
#define RS__ERRPAGES_MAX 32

/* A file's Content-Type by its extension (the pages an operator writes). */
static const char *rs__errpage_type(const char *path) {
  const char *dot = strrchr(path, '.');
  if (dot != NULL && (strcmp(dot, ".html") == 0 || strcmp(dot, ".htm") == 0)) return "text/html; charset=utf-8";
  if (dot != NULL && strcmp(dot, ".json") == 0) return "application/json";
  return "text/plain; charset=utf-8";
}

/* Lua stack before: ...   after: ..., bodies (a table: status → file bytes) */
static void rs__errpages_read(lua_State *L, int idx, const char *fn, const char *dir, size_t *n) {
  char desc[64];
  if (lua_type(L, idx) != LUA_TTABLE)
    rs_lutil_error(L, "%s: 'error_page' must be a table, as in { [404] = \"/404\", [500] = \"50x.html\" }, "
                   "got %s", fn, rs_lutil_describe(L, idx, desc, sizeof(desc)));
  lua_newtable(L);
  int bodies = lua_gettop(L);
  *n = 0;
  lua_pushnil(L);
  while (lua_next(L, idx)) {
    lua_Number k = lua_type(L, -2) == LUA_TNUMBER ? lua_tonumber(L, -2) : 0;
    if (!(k >= 300 && k <= 599 && k == (lua_Number)(int)k))
      rs_lutil_error(L, "%s: 'error_page' keys must be statuses between 300 and 599, as in [404], got %s", fn,
                     rs_lutil_describe(L, -2, desc, sizeof(desc)));
    if (++*n > RS__ERRPAGES_MAX) rs_lutil_error(L, "%s: 'error_page' has more than %d entries", fn, RS__ERRPAGES_MAX);
    size_t tl;
    const char *t = lua_type(L, -1) == LUA_TSTRING ? lua_tolstring(L, -1, &tl) : NULL;
    if (t == NULL || tl == 0 || strlen(t) != tl)
      rs_lutil_error(L, "%s: 'error_page' [%d] must be a path to render (\"/404\") or a file, got %s", fn,
                     (int)k, rs_lutil_describe(L, -1, desc, sizeof(desc)));
    if (t[0] == '/') {
      for (size_t i = 0; i < tl; i++)
        if ((unsigned char)t[i] <= 0x20 || t[i] == 0x7f || t[i] == '?' || t[i] == '#')
          rs_lutil_error(L, "%s: 'error_page' [%d] = \"%.200s\": a path to render has no space, control "
                         "byte, query or fragment", fn, (int)k, t);
    } else {
      char path[4096];
      snprintf(path, sizeof(path), "%s%s%s", dir[0] && strcmp(dir, ".") != 0 ? dir : "",
               dir[0] && strcmp(dir, ".") != 0 && dir[strlen(dir) - 1] != '/' ? "/" : "", t);
      FILE *f = fopen(path, "rb");
      if (f == NULL)
        rs_lutil_error(L, "%s: 'error_page' [%d] = \"%.200s\": %.512s: %s", fn, (int)k, t, path, strerror(errno));
      luaL_Buffer b;
      luaL_buffinit(L, &b);
      char chunk[4096];
      size_t got, total = 0;
      while ((got = fread(chunk, 1, sizeof(chunk), f)) > 0 && total <= RS__ERRPAGE_MAX_BYTES) {
        luaL_addlstring(&b, chunk, got);
        total += got;
      }
      bool bad = ferror(f) != 0;
      fclose(f);
      if (bad || total > RS__ERRPAGE_MAX_BYTES)
        rs_lutil_error(L, "%s: 'error_page' [%d] = \"%.200s\": %s", fn, (int)k, t,
                       bad ? "cannot be read" : "larger than 1 MB");
      luaL_pushresult(&b);        /* ..., key, value, bytes */
      lua_pushvalue(L, -3);
      lua_insert(L, -2);          /* ..., key, value, key, bytes */
      lua_rawset(L, bodies);
    }
    lua_pop(L, 1);
  }
  if (*n == 0) rs_lutil_error(L, "%s: 'error_page' is an empty table", fn);
}

rs_errpages_t *rs_lcache_errpages(lua_State *L, int idx, const char *fn, const char *dir, bool build) {
  int top = lua_gettop(L);
  if (idx < 0) idx = top + idx + 1;
  size_t n;
  rs__errpages_read(L, idx, fn, dir, &n);
  int bodies = lua_gettop(L);
  if (!build) {
    lua_settop(L, top);
    return NULL;
  }
  rs_errpages_t *e = rs_xcalloc(1, sizeof(*e));
  e->v = rs_xcalloc(n, sizeof(*e->v));
  lua_pushnil(L);
  while (lua_next(L, idx)) {
    rs_errpage_t *pg = &e->v[e->n++];
    pg->status = (int)lua_tonumber(L, -2);
    pg->target = rs_xstrdup(lua_tostring(L, -1));
    lua_pushvalue(L, -2);
    lua_rawget(L, bodies);
    if (lua_isstring(L, -1)) {
      /* a file: named by its path from the config's folder (for -T) */
      const char *t = pg->target;
      if (dir[0] && strcmp(dir, ".") != 0) {
        size_t n = strlen(dir) + 1 + strlen(t) + 1;
        char *full = rs_xmalloc(n);
        snprintf(full, n, "%s%s%s", dir, dir[strlen(dir) - 1] != '/' ? "/" : "", t);
        free(pg->target);
        pg->target = full;
      }
      size_t bl;
      const char *body = lua_tolstring(L, -1, &bl);
      pg->body = rs_xmalloc(bl + 1);
      memcpy(pg->body, body, bl);
      pg->body[bl] = '\0';
      pg->body_len = bl;
      pg->type = rs__errpage_type(pg->target);
    }
    lua_pop(L, 2);
  }
  /* by status, for -T's dump and a stable order */
  for (size_t i = 1; i < e->n; i++)
    for (size_t k = i; k > 0 && e->v[k - 1].status > e->v[k].status; k--) {
      rs_errpage_t t = e->v[k];
      e->v[k] = e->v[k - 1];
      e->v[k - 1] = t;
    }
  lua_settop(L, top);
  return e;
}

/* ------------------------------------------------------------------ ssr.purge */

/* This thread's cache, when it is a loop thread (rs_lcache_thread_init). */
static _Thread_local struct {
  bool loop;
  rs_cache_t *cache;
} rs__tl;

void rs_lcache_thread_init(rs_cache_t *cache) {
  rs__tl.loop = true;
  rs__tl.cache = cache;
}

/* ssr.purge waiting for the fleet's answer (the shared tier). */
typedef struct {
  rs_purge_wait_t w;
  struct rs_lop_s *op;           /* the hook waiting, or NULL (it went, or could not wait) */
  size_t n;
} rs__lpurge_t;

#define RS__FLEET_DOWN "the shared cache did not take the purge: purged on this instance only"

static void rs__lpurge_done(rs_purge_wait_t *w) {
  rs__lpurge_t *p = (rs__lpurge_t *)w;
  if (p->op != NULL) rs_lfetch_wait_done(p->op, w->failed == 0, (double)p->n, RS__FLEET_DOWN);
  free(p);
}

static void rs__lpurge_cancel(void *ud) { ((rs__lpurge_t *)ud)->op = NULL; }

/* ssr.purge { key = K } / { prefix = P } / { tag = T } / { all = true } /
 * { url = "/path?q", host = "example.com" } (or url = "http://host/path?q"),
 * each with stale = true for a soft purge (rs_purge_ex).
 * Lua stack before: opts   after: n  (or nil, err when caching is off or
 * the shared tier is down) */
static int rs__purge(lua_State *L) {
  static const char *const keys[] = { "key", "prefix", "tag", "url", "all", "host", "stale", NULL };
  char desc[64];
  rs_lconfig_ctx_t *ctx = lua_touserdata(L, lua_upvalueindex(1));
  if (!rs__tl.loop || ctx->on_route != NULL)
    rs_lutil_error(L, "ssr.purge: call it from a hook or a respond handler, while a request is "
                   "served (not while the config file loads)");
  if (lua_gettop(L) != 1 || lua_type(L, 1) != LUA_TTABLE)
    rs_lutil_error(L, "ssr.purge: expected one table, as in ssr.purge { tag = \"catalog\" }, got %s",
                   rs_lutil_describe(L, 1, desc, sizeof(desc)));
  rs_lutil_check_keys(L, 1, "ssr.purge", keys);
  int by = -1;
  for (int i = 0; i < 5; i++) {
    if (!rs_lutil_field(L, 1, keys[i])) continue;
    if (by >= 0)
      rs_lutil_error(L, "ssr.purge: give one of key, prefix, tag, url or all, not '%s' and '%s'",
                     keys[by], keys[i]);
    by = i;
  }
  if (by < 0) rs_lutil_error(L, "ssr.purge: give one of key, prefix, tag, url or all");
  /* the selector's value is on top, the others were not pushed */
  size_t vlen = 0, hlen = 0;
  const char *v = NULL, *host = NULL;
  int kind = rs_purge_by(keys[by], strlen(keys[by]));
  if (kind == RS_PURGE_ALL) {
    if (lua_type(L, -1) != LUA_TBOOLEAN || !lua_toboolean(L, -1))
      rs_lutil_error(L, "ssr.purge: 'all' must be true, got %s", rs_lutil_describe(L, -1, desc, sizeof(desc)));
  } else {
    v = rs_lutil_string(L, -1, "ssr.purge", keys[by], "a non-empty string", &vlen);
    if (vlen == 0) rs_lutil_error(L, "ssr.purge: '%s' must be a non-empty string", keys[by]);
  }
  if (rs_lutil_field(L, 1, "host")) {
    if (kind != RS_PURGE_URL) rs_lutil_error(L, "ssr.purge: 'host' goes with 'url'");
    host = rs_lutil_string(L, -1, "ssr.purge", "host", "a host name", &hlen);
  }
  bool soft = false;
  if (rs_lutil_field(L, 1, "stale")) {
    if (lua_type(L, -1) != LUA_TBOOLEAN)
      rs_lutil_error(L, "ssr.purge: 'stale' must be a boolean, got %s", rs_lutil_describe(L, -1, desc, sizeof(desc)));
    soft = lua_toboolean(L, -1);
  }
  if (kind == RS_PURGE_URL) {
    /* "http://host/path?q" names its host; "/path?q" needs host = (the
     * admin's POST /purge url= reads it the same way) */
    const char *why = "";
    if (rs_purge_url_split(v, vlen, &host, &hlen, &v, &vlen, &why) != 0)
      rs_lutil_error(L, "ssr.purge: %s", why);
  }
  if (rs__tl.cache == NULL) {
    lua_pushnil(L);
    lua_pushliteral(L, "the page cache is off");
    return 2;
  }
  /* With a shared tier (cache.shared), the hook waits for its answer (a
   * few ms, write_timeout_ms at most); when the fleet did not take the
   * purge it was applied here only: nil, err tells the caller (a CMS
   * webhook answers 503 and is retried). */
  rs__lpurge_t *p = rs_xcalloc(1, sizeof(*p));
  rs_purge_wait_begin(&p->w);
  size_t n = p->n = rs_purge_ex(rs__tl.cache, (rs_purge_by_t)kind, v, vlen, host, hlen, soft);
  unsigned failed = p->w.failed;
  rs_log_info("ssr.purge %s%s%.*s%s%.*s: %zu page(s)%s%s", keys[by], v ? " " : "", (int)RS_MIN(vlen, 256),
              v ? v : "", host ? " host " : "", (int)RS_MIN(hlen, 256), host ? host : "", n,
              soft ? " marked stale" : "", failed ? ", not sent to the fleet (the shared cache is down)" : "");
  if (!rs_purge_wait_end(&p->w, rs__lpurge_done, p)) {
    /* on its way to the fleet: wait for its answer when this hook can */
    if (failed == 0 && (p->op = rs_lfetch_wait(L, rs__lpurge_cancel, p)) != NULL) return lua_yield(L, 0);
  } else {
    free(p);
  }
  if (failed > 0) {
    lua_pushnil(L);
    lua_pushliteral(L, RS__FLEET_DOWN);
    return 2;
  }
  lua_pushnumber(L, (lua_Number)n);
  return 1;
}

void rs_lcache_register(lua_State *L, int module_idx, int ctx_idx) {
  lua_pushvalue(L, ctx_idx);
  lua_pushcclosure(L, rs__purge, 1);
  lua_setfield(L, module_idx, "purge");
}
