/* lua/rs_lfetch.c — see rs_lfetch.h. */
#include "rs_lfetch.h"

#include <errno.h>
#include <lauxlib.h>
#include <stdlib.h>
#include <string.h>

#include "rs_ljson.h"
#include "rs_lstate.h"
#include "rs_log.h"
#include "rs_lutil.h"
#include "rs_upstream.h"

/* What the coroutine is resumed with when its operations are back. */
enum { RS__WANT_NOTHING, RS__WANT_ONE, RS__WANT_ALL, RS__WANT_FAILED /* a result could not be stored */ };

#define RS__FETCH_ALL_MAX 64

/* One pending operation of a suspended request. */
typedef struct rs_lop_s {
  rs_lreq_t *c;
  struct rs_lop_s *next;
  rs_fetch_t *f;                 /* a fetch, or */
  uv_timer_t timer;              /* a sleep */
  bool is_timer;
  void (*ext_cancel)(void *ud);  /* or a wait for another module (rs_lfetch_wait) */
  void *ext_ud;
  int idx;                       /* the fetch's slot in the results */
} rs_lop_t;

static const char rs__res_mt[] = "rustyssr.fetch_res";

static void rs__unlink(rs_lop_t *op) {
  rs_lreq_t *c = op->c;
  for (rs_lop_t **p = &c->_ops; *p != NULL; p = &(*p)->next) {
    if (*p == op) {
      *p = op->next;
      break;
    }
  }
  c->_waiting--;
}

static void rs__op_closed(uv_handle_t *h) { free(h->data); }

/* Every operation of c is back: resume its coroutine with what it wants. */
static void rs__all_back(rs_lreq_t *c) {
  lua_State *co = rs_lreq_thread(c);
  int nargs = 0;
  rs_lutil_recover_t r;          /* these API calls allocate: see rs_lreq_fail */
  if (c->_want == RS__WANT_FAILED || !RS_LUTIL_TRY(&r)) {
    rs_lreq_fail(c);
    return;
  }
  if (c->_want != RS__WANT_NOTHING) {
    lua_rawgeti(co, LUA_REGISTRYINDEX, c->_results_ref);
    luaL_unref(co, LUA_REGISTRYINDEX, c->_results_ref);
    c->_results_ref = LUA_NOREF;
    if (c->_want == RS__WANT_ONE) {
      lua_rawgeti(co, -1, 1);
      lua_getfield(co, -1, "res");
      lua_getfield(co, -2, "err");
      lua_remove(co, -3);
      lua_remove(co, -3);
      nargs = 2;
    } else {
      nargs = 1;
    }
  }
  rs_lutil_recover_pop(&r);
  rs_lreq_resume(c, nargs);
}

void rs_lfetch_cancel_all(rs_lreq_t *c) {
  while (c->_ops != NULL) {
    rs_lop_t *op = c->_ops;
    c->_ops = op->next;
    if (op->is_timer) {
      uv_timer_stop(&op->timer);
      uv_close((uv_handle_t *)&op->timer, rs__op_closed);
    } else if (op->ext_cancel != NULL) {
      op->ext_cancel(op->ext_ud);
      free(op);
    } else {
      rs_fetch_cancel(op->f);
      free(op);
    }
  }
  c->_waiting = 0;
  if (c->_results_ref != LUA_NOREF) luaL_unref(c->_h_L, LUA_REGISTRYINDEX, c->_results_ref);
  c->_results_ref = LUA_NOREF;
}

/* The calling request, or a Lua error. */
static rs_lreq_t *rs__caller(lua_State *L, const char *what) {
  rs_lhooks_t *h = lua_touserdata(L, lua_upvalueindex(1));
  rs_lreq_t *c = rs_lhooks_running(h);
  if (c == NULL)
    luaL_error(L, RS_LUTIL_HOOK_ONLY, what);
  if (L != rs_lreq_thread(c))
    luaL_error(L, "%s must be called from the hook itself, not from a coroutine it created", what);
  c->_cancel = rs_lfetch_cancel_all;   /* the hook states cancel what it starts */
  return c;
}

/* ------------------------------------------------------------------ sleep */

static void rs__on_timer(uv_timer_t *t) {
  rs_lop_t *op = t->data;
  rs_lreq_t *c = op->c;
  rs__unlink(op);
  uv_close((uv_handle_t *)t, rs__op_closed);
  if (c->_waiting == 0) rs__all_back(c);
}

/* Lua stack before: seconds   after: (yields; resumed with nothing) */
static int rs__sleep(lua_State *L) {
  rs_lreq_t *c = rs__caller(L, "ssr.sleep");
  lua_Number s = luaL_checknumber(L, 1);
  if (!(s >= 0 && s <= 86400)) return luaL_error(L, "ssr.sleep: seconds must be within 0..86400");
  rs_lop_t *op = rs_xcalloc(1, sizeof(*op));
  op->c = c;
  op->is_timer = true;
  uv_timer_init(&c->_req->loop->uv, &op->timer);
  op->timer.data = op;
  uv_timer_start(&op->timer, rs__on_timer, (uint64_t)(s * 1000 + 0.5), 0);
  op->next = c->_ops;
  c->_ops = op;
  c->_waiting = 1;
  c->_want = RS__WANT_NOTHING;
  return lua_yield(L, 0);
}

/* ------------------------------------------------------------------ a wait for another module */

rs_lop_t *rs_lfetch_wait(lua_State *L, void (*cancel)(void *ud), void *ud) {
  lua_getfield(L, LUA_REGISTRYINDEX, "rustyssr.hooks");
  rs_lhooks_t *h = lua_touserdata(L, -1);
  lua_pop(L, 1);
  rs_lreq_t *c = h != NULL ? rs_lhooks_running(h) : NULL;
  if (c == NULL || L != rs_lreq_thread(c)) return NULL;
  c->_cancel = rs_lfetch_cancel_all;
  if (c->_results_ref != LUA_NOREF) luaL_unref(L, LUA_REGISTRYINDEX, c->_results_ref);
  lua_createtable(L, 1, 0);
  c->_results_ref = luaL_ref(L, LUA_REGISTRYINDEX);
  c->_want = RS__WANT_ONE;
  rs_lop_t *op = rs_xcalloc(1, sizeof(*op));
  op->c = c;
  op->ext_cancel = cancel;
  op->ext_ud = ud;
  op->next = c->_ops;
  c->_ops = op;
  c->_waiting = 1;
  return op;
}

void rs_lfetch_wait_done(rs_lop_t *op, bool ok, double n, const char *err) {
  rs_lreq_t *c = op->c;
  rs__unlink(op);
  free(op);
  lua_State *L = rs_lreq_thread(c);
  rs_lutil_recover_t r;
  if (!RS_LUTIL_TRY(&r)) {
    rs_lreq_fail(c);
    return;
  }
  lua_rawgeti(L, LUA_REGISTRYINDEX, c->_results_ref);
  lua_createtable(L, 0, 1);
  if (ok) lua_pushnumber(L, n);
  else lua_pushstring(L, err);
  lua_setfield(L, -2, ok ? "res" : "err");
  lua_rawseti(L, -2, 1);
  lua_pop(L, 1);
  rs_lutil_recover_pop(&r);
  if (c->_waiting == 0) rs__all_back(c);
}

/* ------------------------------------------------------------------ fetch */

/* results[idx] = { res = ..., err = ... } on L. */
static void rs__store(lua_State *L, int results_ref, int idx, int err, const rs_fetch_result_t *res) {
  lua_rawgeti(L, LUA_REGISTRYINDEX, results_ref);
  lua_createtable(L, 0, 2);
  if (err != 0) {
    lua_pushstring(L, rs_fetch_strerror(err));
    lua_setfield(L, -2, "err");
  } else {
    lua_createtable(L, 0, 3);
    lua_pushinteger(L, res->status);
    lua_setfield(L, -2, "status");
    lua_pushlstring(L, res->body ? res->body : "", res->body_len);
    lua_setfield(L, -2, "body");
    lua_createtable(L, 0, (int)res->nheaders);
    for (size_t i = 0; i < res->nheaders; i++) {
      const rs_fetch_header_t *hh = &res->headers[i];
      char small[128];
      size_t n = hh->name.len;
      char *lower = n <= sizeof(small) ? small : rs_xmalloc(n);
      for (size_t k = 0; k < n; k++) {
        char ch = hh->name.p[k];
        lower[k] = (ch >= 'A' && ch <= 'Z') ? (char)(ch + 32) : ch;
      }
      lua_pushlstring(L, lower, n);
      lua_pushvalue(L, -1);
      lua_rawget(L, -3);
      if (lua_isnil(L, -1)) {
        lua_pop(L, 1);
        lua_pushlstring(L, hh->value.p, hh->value.len);
      } else {                   /* repeated: joined, as the Fetch API does */
        lua_pushliteral(L, ", ");
        lua_pushlstring(L, hh->value.p, hh->value.len);
        lua_concat(L, 3);
      }
      lua_rawset(L, -3);
      if (lower != small) free(lower);
    }
    lua_setfield(L, -2, "headers");
    lua_getfield(L, LUA_REGISTRYINDEX, rs__res_mt);
    lua_setmetatable(L, -2);
    lua_setfield(L, -2, "res");
  }
  lua_rawseti(L, -2, idx);
  lua_pop(L, 1);
}

static void rs__on_fetch(void *ud, int err, const rs_fetch_result_t *res) {
  rs_lop_t *op = ud;
  rs_lreq_t *c = op->c;
  op->f = NULL;
  rs__unlink(op);
  int idx = op->idx;
  lua_State *L = rs_lreq_thread(c);
  free(op);
  rs_lutil_recover_t r;          /* out of memory storing a big body: fail c */
  if (!RS_LUTIL_TRY(&r)) {
    if (c->_waiting == 0) rs_lreq_fail(c);
    else c->_want = RS__WANT_FAILED;
    return;
  }
  rs__store(L, c->_results_ref, idx, err, res);
  rs_lutil_recover_pop(&r);
  if (c->_waiting == 0) rs__all_back(c);
}

/* opts.tls = { verify = false, sni = "name", ca = "ca.pem" } for an
 * https:// URL: the strings stay in the table (on the stack) until the
 * start; a relative ca is joined to the config file's folder in cabuf. */
static void rs__tls_opts(lua_State *L, int o_idx, const char *what, rs_fetch_opts_t *o, char *cabuf, size_t cap) {
  lua_getfield(L, o_idx, "tls");
  int t = lua_gettop(L);
  if (lua_isnil(L, t)) return;
  if (!lua_istable(L, t)) luaL_error(L, "%s: opts.tls must be a table, as in tls = { verify = false }", what);
  lua_pushnil(L);
  while (lua_next(L, t) != 0) {
    const char *k = lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2) : "?";
    if (strcmp(k, "verify") == 0) {
      if (lua_type(L, -1) != LUA_TBOOLEAN) luaL_error(L, "%s: opts.tls.verify must be a boolean", what);
      o->tls_no_verify = !lua_toboolean(L, -1);
    } else if (strcmp(k, "sni") == 0 || strcmp(k, "ca") == 0) {
      if (lua_type(L, -1) != LUA_TSTRING || lua_objlen(L, -1) == 0 || strlen(lua_tostring(L, -1)) != lua_objlen(L, -1))
        luaL_error(L, "%s: opts.tls.%s must be a non-empty string", what, k);
      if (k[0] == 's') {
        o->tls_sni = lua_tostring(L, -1);
      } else {                   /* a relative CA file is the config file's folder's */
        const char *ca = lua_tostring(L, -1);
        rs_lconfig_ctx_t *ctx = rs_lconfig_ctx(L);
        const char *dir = ctx != NULL ? ctx->config_dir : "";
        if (ca[0] != '/' && dir[0] != '\0' && snprintf(cabuf, cap, "%s/%s", dir, ca) < (int)cap) ca = cabuf;
        o->tls_ca = ca;
      }
    } else {
      luaL_error(L, "%s: unknown key '%s' in opts.tls (verify, sni, ca)", what, k);
    }
    lua_pop(L, 1);
  }
}

/* Start the fetch described by (target, path, opts) at t, t+1, t+2 as
 * results slot idx. Returns true when it is under way; else the slot holds
 * its error. Raises on a wrong argument type. */
static bool rs__start(lua_State *L, rs_lreq_t *c, int t, int idx, const char *what) {
  if (lua_type(L, t) != LUA_TSTRING) luaL_error(L, "%s: the target must be an upstream name or a URL", what);
  if (!lua_isnil(L, t + 1) && lua_type(L, t + 1) != LUA_TSTRING) luaL_error(L, "%s: the path must be a string", what);
  if (!lua_isnil(L, t + 2) && lua_type(L, t + 2) != LUA_TTABLE) luaL_error(L, "%s: opts must be a table", what);
  rs_fetch_opts_t o = { .target = lua_tostring(L, t), .path = lua_tostring(L, t + 1) };
  rs_fetch_header_t hdrs[64];
  char cabuf[4096];
  int o_idx = t + 2;
  if (lua_istable(L, o_idx)) {
    lua_getfield(L, o_idx, "method");
    if (!lua_isnil(L, -1) && lua_type(L, -1) != LUA_TSTRING) luaL_error(L, "%s: opts.method must be a string", what);
    o.method = lua_tostring(L, -1);   /* stays on the stack until the start */
    lua_getfield(L, o_idx, "body");
    if (!lua_isnil(L, -1) && lua_type(L, -1) != LUA_TSTRING) luaL_error(L, "%s: opts.body must be a string", what);
    o.body = lua_tolstring(L, -1, &o.body_len);
    lua_getfield(L, o_idx, "timeout_ms");
    if (!lua_isnil(L, -1) && !(lua_type(L, -1) == LUA_TNUMBER && lua_tonumber(L, -1) >= 0))
      luaL_error(L, "%s: opts.timeout_ms must be a number >= 0", what);
    o.timeout_ms = (uint64_t)lua_tonumber(L, -1);
    lua_getfield(L, o_idx, "headers");
    int hs = lua_gettop(L);
    if (!lua_isnil(L, hs) && !lua_istable(L, hs)) luaL_error(L, "%s: opts.headers must be a table", what);
    if (lua_istable(L, hs)) {
      lua_pushnil(L);
      while (lua_next(L, hs) != 0) {
        /* strings only: they stay in the table, so the slices stay valid */
        if (lua_type(L, -2) != LUA_TSTRING || lua_type(L, -1) != LUA_TSTRING)
          luaL_error(L, "%s: opts.headers takes name = \"string value\" pairs", what);
        if (o.nheaders == RS_ARRAY_SIZE(hdrs)) luaL_error(L, "%s: more than 64 headers", what);
        size_t nl, vl;
        const char *n = lua_tolstring(L, -2, &nl);
        const char *v = lua_tolstring(L, -1, &vl);
        if (!rs_http_token(n, nl) || rs_http_value_check(v, vl) != RS_HTTP_VALUE_OK)
          luaL_error(L, "%s: header '%s' has a bad name, or CR, LF or a control character in its value", what, n);
        hdrs[o.nheaders].name = (rs_str_t){ n, nl };
        hdrs[o.nheaders].value = (rs_str_t){ v, vl };
        o.nheaders++;
        lua_pop(L, 1);
      }
    }
    o.headers = hdrs;
    rs__tls_opts(L, o_idx, what, &o, cabuf, sizeof(cabuf));
  }
  rs_lop_t *op = rs_xcalloc(1, sizeof(*op));
  op->c = c;
  op->idx = idx;
  int err = 0;
  op->f = rs_fetch_start(c->_req->loop, &o, rs__on_fetch, op, &err);
  if (op->f == NULL) {
    free(op);
    rs__store(L, c->_results_ref, idx, err ? err : -EINVAL, NULL);
    return false;
  }
  op->next = c->_ops;
  c->_ops = op;
  c->_waiting++;
  return true;
}

/* Lua stack before: target, path, opts   after: (yields) res, err */
static int rs__fetch(lua_State *L) {
  rs_lreq_t *c = rs__caller(L, "ssr.fetch");
  lua_settop(L, 3);
  if (c->_results_ref != LUA_NOREF) luaL_unref(L, LUA_REGISTRYINDEX, c->_results_ref);
  lua_createtable(L, 1, 0);
  c->_results_ref = luaL_ref(L, LUA_REGISTRYINDEX);
  c->_want = RS__WANT_ONE;
  if (rs__start(L, c, 1, 1, "ssr.fetch")) return lua_yield(L, 0);
  /* failed at once: answer without yielding */
  lua_rawgeti(L, LUA_REGISTRYINDEX, c->_results_ref);
  luaL_unref(L, LUA_REGISTRYINDEX, c->_results_ref);
  c->_results_ref = LUA_NOREF;
  lua_rawgeti(L, -1, 1);
  lua_getfield(L, -1, "res");
  lua_getfield(L, -2, "err");
  return 2;
}

/* Lua stack before: { {target, path, opts}, ... }   after: (yields) results */
static int rs__fetch_all(lua_State *L) {
  rs_lreq_t *c = rs__caller(L, "ssr.fetch_all");
  luaL_checktype(L, 1, LUA_TTABLE);
  int n = (int)lua_objlen(L, 1);
  if (n > RS__FETCH_ALL_MAX) return luaL_error(L, "ssr.fetch_all: at most %d fetches", RS__FETCH_ALL_MAX);
  lua_settop(L, 1);
  if (c->_results_ref != LUA_NOREF) luaL_unref(L, LUA_REGISTRYINDEX, c->_results_ref);
  lua_createtable(L, n, 0);
  c->_results_ref = luaL_ref(L, LUA_REGISTRYINDEX);
  c->_want = RS__WANT_ALL;
  for (int i = 1; i <= n; i++) {
    lua_rawgeti(L, 1, i);
    if (!lua_istable(L, -1)) {
      rs_lfetch_cancel_all(c);
      return luaL_error(L, "ssr.fetch_all: item %d must be { target, path, opts }", i);
    }
    int it = lua_gettop(L);
    lua_rawgeti(L, it, 1);
    lua_rawgeti(L, it, 2);
    lua_rawgeti(L, it, 3);
    rs__start(L, c, it + 1, i, "ssr.fetch_all");
    lua_settop(L, 1);
  }
  if (c->_waiting > 0) return lua_yield(L, 0);
  lua_rawgeti(L, LUA_REGISTRYINDEX, c->_results_ref);
  luaL_unref(L, LUA_REGISTRYINDEX, c->_results_ref);
  c->_results_ref = LUA_NOREF;
  return 1;
}

/* res:json()   Lua stack before: res   after: value (or nil, err) */
static int rs__res_json(lua_State *L) {
  luaL_checktype(L, 1, LUA_TTABLE);
  lua_getfield(L, 1, "body");
  size_t n;
  const char *s = lua_tolstring(L, -1, &n);
  if (s == NULL) {
    lua_pushnil(L);
    lua_pushliteral(L, "no body");
    return 2;
  }
  const char *why = NULL;
  if (rs_ljson_decode(L, s, n, &why) != 0) {
    lua_pushnil(L);
    lua_pushstring(L, why);
    return 2;
  }
  return 1;
}

void rs_lfetch_register(lua_State *L, int module_idx, rs_lhooks_t *h) {
  static const struct { const char *name; lua_CFunction fn; } fns[] = {
    { "fetch", rs__fetch }, { "fetch_all", rs__fetch_all }, { "sleep", rs__sleep },
  };
  for (size_t i = 0; i < RS_ARRAY_SIZE(fns); i++) {
    lua_pushlightuserdata(L, h);
    lua_pushcclosure(L, fns[i].fn, 1);
    lua_setfield(L, module_idx, fns[i].name);
  }
  lua_createtable(L, 0, 1);
  lua_createtable(L, 0, 1);
  lua_pushcfunction(L, rs__res_json);
  lua_setfield(L, -2, "json");
  lua_setfield(L, -2, "__index");
  lua_setfield(L, LUA_REGISTRYINDEX, rs__res_mt);
}
