/* lua/rs_lreq.c — the request object a hook receives (rs_lhooks.h: its
 * fields, built on first use) and its methods req:set_header and req:exit,
 * with the answers a hook gives (rs_lhooks_int.h). */
#include "rs_lhooks.h"
#include "rs_lhooks_int.h"

#include <lauxlib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rs_cookie.h"
#include "rs_key.h"
#include "rs_realip.h"

/* ------------------------------------------------------------------ the request object */

/* Scratch memory never comes from malloc here: a Lua error (out of
 * lua.memory_mb) unwinds past this C frame without running its cleanup. */
static void rs__push_lower(lua_State *L, const char *s, size_t n) {
  char buf[256] = "";
  char *p = n <= sizeof(buf) ? buf : lua_newuserdata(L, n);   /* collected */
  for (size_t i = 0; i < n; i++) p[i] = (s[i] >= 'A' && s[i] <= 'Z') ? (char)(s[i] + 32) : s[i];
  lua_pushlstring(L, p, n);
  if (p != buf) lua_remove(L, -2);
}

/* t[name] = value, or append to a list when name is already there. */
static void rs__set_multi(lua_State *L, int t, int name_idx, int value_idx) {
  lua_pushvalue(L, name_idx);
  lua_rawget(L, t);
  if (lua_isnil(L, -1)) {
    lua_pop(L, 1);
    lua_pushvalue(L, name_idx);
    lua_pushvalue(L, value_idx);
    lua_rawset(L, t);
    return;
  }
  if (lua_type(L, -1) != LUA_TTABLE) {   /* second value: make a list */
    lua_createtable(L, 2, 0);
    lua_insert(L, -2);
    lua_rawseti(L, -2, 1);
    lua_pushvalue(L, name_idx);
    lua_pushvalue(L, -2);
    lua_rawset(L, t);
  }
  lua_pushvalue(L, value_idx);
  lua_rawseti(L, -2, (int)lua_objlen(L, -2) + 1);
  lua_pop(L, 1);
}

static void rs__push_query(lua_State *L, rs_req_t *req) {
  /* decoded, '+' as space, repeated names as lists */
  lua_newtable(L);
  int q = lua_gettop(L);
  char small[512];
  size_t pos = 0;
  rs_query_param_t qp;
  while (rs_query_next(req->query.p, req->query.len, &pos, &qp)) {
    size_t n = qp.piece.len;
    char *buf = n <= sizeof(small) ? small : lua_newuserdata(L, n);  /* as rs__push_lower */
    size_t kl = rs_url_decode(buf, qp.name.p, qp.name.len, true);
    lua_pushlstring(L, buf, kl);
    size_t vl = rs_url_decode(buf, qp.value.p, qp.value.len, true);
    lua_pushlstring(L, buf, vl);
    if (buf != small) lua_remove(L, -3);
    rs__set_multi(L, q, lua_gettop(L) - 1, lua_gettop(L));
    lua_pop(L, 2);
  }
}

/* A page view of a route that names cookies (route->cache.cookies): the
 * Cookie header holds only those, as the bundle's does (rs_render.h), and
 * req.cookie only them. Lua stack: unchanged (hd, ck: the two tables). */
static void rs__push_page_cookies(lua_State *L, rs_lreq_t *c, int hd, int ck) {
  const char *const *names = c->_route->cache.cookies;
  rs_cookie_val_t v[32];         /* lua/rs_lcache.c: at most 32 names */
  memset(v, 0, sizeof(v));
  for (size_t i = 0; i < c->_req->nheaders; i++) {
    const rs_header_t *h = &c->_req->headers[i];
    if (rs_str_ieq(h->name.p, h->name.len, "cookie", 6)) rs_cookie_pick(names, h->value.p, h->value.len, v);
  }
  rs_buf_t b = { 0 };
  if (rs_cookie_join(&b, names, v) > 0) {
    lua_pushlstring(L, b.p, b.len);
    lua_setfield(L, hd, "cookie");
  }
  rs_buf_free(&b);
  for (size_t i = 0; names[i] != NULL; i++) {
    if (!v[i].present) continue;
    lua_pushlstring(L, v[i].value.p, v[i].value.len);
    lua_setfield(L, ck, names[i]);
  }
}

/* Lua stack before: ...   after: ..., headers, cookie */
static void rs__push_headers(lua_State *L, rs_lreq_t *c) {
  /* lower-case names; repeated ones as lists (cookie joined) */
  rs_req_t *req = c->_req;
  bool trusted = false;
  if (c->page_view) {
    rs_realip_t rip;
    rs_realip_resolve(req, &rip);
    trusted = rip.trusted;
  }
  lua_newtable(L);
  int hd = lua_gettop(L);
  lua_newtable(L);
  int ck = lua_gettop(L);
  for (size_t i = 0; i < req->nheaders; i++) {
    const rs_header_t *hh = &req->headers[i];
    /* a page view sees what the bundle of a stored page sees */
    if (c->page_view && !rs_route_page_sees(c->_route, hh->name.p, hh->name.len,
                                            !trusted && rs_realip_claim(req, hh->name.p, hh->name.len)))
      continue;
    rs__push_lower(L, hh->name.p, hh->name.len);
    lua_pushlstring(L, hh->value.p, hh->value.len);
    rs__set_multi(L, hd, lua_gettop(L) - 1, lua_gettop(L));
    lua_pop(L, 2);
    if (rs_str_ieq(hh->name.p, hh->name.len, "cookie", 6)) {
      /* "a=1; b=2" (core/base/rs_cookie.h): the first value of a name
       * wins, as browsers send the most specific cookie first. */
      const char *p = hh->value.p, *end = hh->value.p + hh->value.len;
      rs_str_t n, v;
      while (rs_cookie_next(&p, end, &n, &v)) {
        lua_pushlstring(L, n.p, n.len);
        lua_rawget(L, ck);
        bool seen = !lua_isnil(L, -1);
        lua_pop(L, 1);
        if (seen) continue;
        lua_pushlstring(L, n.p, n.len);
        lua_pushlstring(L, v.p, v.len);
        lua_rawset(L, ck);
      }
    }
  }
  if (c->page_view && c->_route != NULL && c->_route->cache.cookies != NULL)
    rs__push_page_cookies(L, c, hd, ck);
}

/* Push the request object's field k (built on first use, then kept in the
 * table: a key hook reading req.path never pays for the headers). Returns
 * false for a name that is no field. Lua stack: ..., self at t. */
static bool rs__push_field(lua_State *L, int t, rs_lreq_t *c, const char *k, size_t kl) {
  rs_req_t *req = c->_req;
#define RS__IS(lit) (kl == sizeof(lit) - 1 && memcmp(k, lit, kl) == 0)
  if (RS__IS("path")) {
    lua_pushlstring(L, req->path.p, req->path.len);
  } else if (RS__IS("query")) {
    rs__push_query(L, req);
  } else if (RS__IS("method")) {
    lua_pushlstring(L, req->method.p, req->method.len);
  } else if (RS__IS("host")) {
    size_t hl = req->host.len;
    if (c->page_view) hl = rs_key_host_len(req->host.p, hl);   /* as the key holds it: no port */
    rs__push_lower(L, req->host.p ? req->host.p : "", hl);
  } else if (RS__IS("url")) {
    lua_pushlstring(L, req->url.p, req->url.len);
  } else if (RS__IS("params")) {
    const rs_route_match_t *m = rs_req_match(req);   /* the route's :params (rs_dispatch.c) */
    size_t np = m != NULL ? m->nparams : 0;
    lua_createtable(L, 0, (int)np);
    for (size_t i = 0; i < np; i++) {
      lua_pushlstring(L, m->params[i].name.p, m->params[i].name.len);
      lua_pushlstring(L, m->params[i].value.p, m->params[i].value.len);
      lua_rawset(L, -3);
    }
  } else if (RS__IS("headers") || RS__IS("cookie")) {
    rs__push_headers(L, c);
    lua_setfield(L, t, "cookie");
    lua_pushvalue(L, -1);
    lua_setfield(L, t, "headers");
    if (RS__IS("cookie")) {
      lua_pop(L, 1);
      lua_getfield(L, t, "cookie");
    }
  } else if (RS__IS("ctx")) {
    lua_newtable(L);
  } else if (RS__IS("id")) {
    char id[24];
    snprintf(id, sizeof(id), "%llx", (unsigned long long)req->id);
    lua_pushstring(L, id);
  } else if (RS__IS("client")) {
    /* The client's address (no port), behind trusted proxies
     * (core/http/rs_realip.h); nil in a page view: it is outside the key. */
    if (c->page_view) {
      lua_pushnil(L);
    } else {
      rs_realip_t rip;
      rs_realip_resolve(req, &rip);
      lua_pushstring(L, rip.client);
    }
  } else {
    return false;
  }
  return true;
#undef RS__IS
}

/* Headers the server writes itself: framing, Date and the hop-by-hop ones. */
static bool rs__reserved(const char *n, size_t nl) {
  return rs_http_hop_by_hop(n, nl) || rs_str_ieq(n, nl, "content-length", 14) || rs_str_ieq(n, nl, "date", 4);
}

/* Add "name: value\r\n" for the header at (name_idx, value_idx) to b;
 * false when it is not a valid header or one the server owns. */
static bool rs__add_header(lua_State *L, rs_buf_t *b, int name_idx, int value_idx, bool *has_ct) {
  size_t nl, vl;
  if (lua_type(L, name_idx) != LUA_TSTRING) return false;
  const char *n = lua_tolstring(L, name_idx, &nl);
  if (!rs_http_token(n, nl) || rs__reserved(n, nl)) return false;
  if (lua_type(L, value_idx) != LUA_TSTRING && lua_type(L, value_idx) != LUA_TNUMBER) return false;
  lua_pushvalue(L, value_idx);   /* tolstring on a copy: never convert a table slot */
  const char *v = lua_tolstring(L, -1, &vl);
  bool ok = rs_http_value_check(v, vl) == RS_HTTP_VALUE_OK;
  if (ok) {
    rs_buf_append(b, n, nl);
    rs_buf_append(b, ": ", 2);
    rs_buf_append(b, v, vl);
    rs_buf_append(b, "\r\n", 2);
    if (rs_str_ieq(n, nl, "content-type", 12)) *has_ct = true;
  }
  lua_pop(L, 1);
  return ok;
}

static void rs__free(void *p) { free(p); }

const char *rs_lreq__make_resp(lua_State *L, int st, int bd, int hs, rs_resp_t *resp, char *why,
                               size_t whylen) {
  int top = lua_gettop(L);
  if (lua_type(L, st) == LUA_TTABLE) {
    int t = st;
    lua_getfield(L, t, "status");
    lua_getfield(L, t, "body");
    lua_getfield(L, t, "headers");
    st = lua_gettop(L) - 2, bd = st + 1, hs = st + 2;
  }
  const char *bad = NULL;
  lua_Number sn = lua_type(L, st) == LUA_TNUMBER ? lua_tonumber(L, st) : 0;
  if (!(sn >= 200 && sn <= 599 && sn == (int)sn)) {
    /* Final statuses only: a 1xx (101 too) as the answer would put the body
     * on the wire unframed after an interim head (response splitting). */
    if (lua_type(L, st) == LUA_TNUMBER)
      snprintf(why, whylen, "status %.17g, expected a status 200..599", sn);
    else
      snprintf(why, whylen, "%s, expected a status 200..599", luaL_typename(L, st));
    bad = why;
  } else if (!lua_isnil(L, bd) && lua_type(L, bd) != LUA_TSTRING) {
    snprintf(why, whylen, "%s, expected a string body", luaL_typename(L, bd));
    bad = why;
  } else if (!lua_isnil(L, hs) && lua_type(L, hs) != LUA_TTABLE) {
    snprintf(why, whylen, "%s, expected a headers table", luaL_typename(L, hs));
    bad = why;
  }
  if (bad != NULL) {
    lua_settop(L, top);
    return bad;
  }
  size_t blen = 0;
  const char *body = lua_isnil(L, bd) ? "" : lua_tolstring(L, bd, &blen);
  rs_buf_t b = { 0 };
  bool has_ct = false;
  if (lua_istable(L, hs)) {
    lua_pushnil(L);
    while (lua_next(L, hs) != 0) {
      int k = lua_gettop(L) - 1, v = lua_gettop(L);
      bool ok = true;
      if (lua_type(L, v) == LUA_TTABLE) {  /* a list: one line each (Set-Cookie) */
        for (int i = 1; ok && i <= (int)lua_objlen(L, v); i++) {
          lua_rawgeti(L, v, i);
          ok = rs__add_header(L, &b, k, lua_gettop(L), &has_ct);
          lua_pop(L, 1);
        }
      } else {
        ok = rs__add_header(L, &b, k, v, &has_ct);
      }
      if (!ok) {
        rs_buf_free(&b);
        snprintf(why, whylen, "an invalid or reserved header (%s)",
                 lua_type(L, k) == LUA_TSTRING ? lua_tostring(L, k) : "?");
        lua_settop(L, top);
        return why;
      }
      lua_pop(L, 1);
    }
  }
  if (!has_ct && blen > 0) {
    static const char ct[] = "Content-Type: text/plain; charset=utf-8\r\n";
    rs_buf_append(&b, ct, sizeof(ct) - 1);
  }
  /* One block: headers, then the body copied out of Lua's string. */
  size_t hlen = b.len;
  rs_buf_append(&b, body, blen);
  memset(resp, 0, sizeof(*resp));
  resp->status = (int)sn;
  resp->headers = b.p;
  resp->headers_len = hlen;
  resp->body = b.p ? b.p + hlen : "";
  resp->body_len = blen;
  resp->release = rs__free;
  resp->release_ud = b.p;
  lua_settop(L, top);
  return NULL;
}

/* ------------------------------------------------------------------ request methods */

/* The running context, checking that self is its request table.
 * Lua stack: self, ... (unchanged) */
static rs_lreq_t *rs__self(lua_State *L, const char *what) {
  rs_lhooks_t *h = lua_touserdata(L, lua_upvalueindex(1));
  rs_lreq_t *c = h->running;
  if (c == NULL || c->_req_ref == LUA_NOREF) luaL_error(L, "%s may be called only inside a hook", what);
  lua_rawgeti(L, LUA_REGISTRYINDEX, c->_req_ref);
  bool same = lua_rawequal(L, 1, -1);
  lua_pop(L, 1);
  if (!same) luaL_error(L, "%s: call it on the request the hook was given (req:%s(...))", what, what + 4);
  return c;
}

/* The request object's __index: a method, or a field built now and kept
 * (only for the running request's own table; nil for a table kept past
 * its request). Upvalues: h, set_header, exit.
 * Lua stack before: req, key   after: value */
static int rs__req_index(lua_State *L) {
  size_t kl;
  const char *k = lua_type(L, 2) == LUA_TSTRING ? lua_tolstring(L, 2, &kl) : NULL;
  if (k == NULL) return 0;
  if ((kl == 10 && memcmp(k, "set_header", 10) == 0) || (kl == 4 && memcmp(k, "exit", 4) == 0)) {
    lua_pushvalue(L, lua_upvalueindex(kl == 4 ? 3 : 2));
  } else {
    rs_lhooks_t *h = lua_touserdata(L, lua_upvalueindex(1));
    rs_lreq_t *c = h->running;
    if (c == NULL || c->_req_ref == LUA_NOREF) return 0;
    lua_rawgeti(L, LUA_REGISTRYINDEX, c->_req_ref);
    bool same = lua_rawequal(L, 1, -1);
    lua_pop(L, 1);
    if (!same || !rs__push_field(L, 1, c, k, kl)) return 0;
  }
  lua_pushvalue(L, 2);
  lua_pushvalue(L, -2);
  lua_rawset(L, 1);
  return 1;
}

/* Lua stack before: req, name, value   after: (nothing) */
static int rs__set_header(lua_State *L) {
  rs_lreq_t *c = rs__self(L, "req:set_header");
  size_t nl, vl;
  const char *n = luaL_checklstring(L, 2, &nl);
  if (lua_type(L, 3) != LUA_TSTRING && lua_type(L, 3) != LUA_TNUMBER)
    return luaL_error(L, "req:set_header: the value of '%s' must be a string", n);
  const char *v = lua_tolstring(L, 3, &vl);
  if (!rs_http_token(n, nl)) return luaL_error(L, "req:set_header: invalid header name '%s'", n);
  if (rs__reserved(n, nl) || rs_str_ieq(n, nl, "server", 6) || rs_str_ieq(n, nl, "x-cache", 7) ||
      rs_str_ieq(n, nl, "age", 3) || rs_str_ieq(n, nl, "content-encoding", 16))
    return luaL_error(L, "req:set_header: '%s' is the server's header", n);
  rs_http_value_t bad = rs_http_value_check(v, vl);
  if (bad != RS_HTTP_VALUE_OK)
    return luaL_error(L, "req:set_header: the value of '%s' holds %s", n,
                      bad == RS_HTTP_VALUE_CTL ? "a control character" : "CR, LF or NUL");
  rs_buf_t *b = &c->_req->add_headers;
  rs_buf_append(b, n, nl);
  rs_buf_append(b, ": ", 2);
  rs_buf_append(b, v, vl);
  rs_buf_append(b, "\r\n", 2);
  return 0;
}

/* Lua stack before: req, status[, body[, headers]]   after: (yields, never returns) */
static int rs__exit(lua_State *L) {
  rs_lreq_t *c = rs__self(L, "req:exit");
  if (L != rs_lreq_thread(c))
    return luaL_error(L, "req:exit must be called from the hook itself, not from a coroutine it created");
  lua_settop(L, 4);
  char why[256];
  const char *bad = rs_lreq__make_resp(L, 2, 3, 4, &c->resp, why, sizeof(why));
  if (bad != NULL) return luaL_error(L, "req:exit: got %s", bad);
  c->_exited = true;
  return lua_yield(L, 0);
}

int rs_lreq__metatable(lua_State *L, rs_lhooks_t *h) {
  lua_createtable(L, 0, 1);
  lua_pushlightuserdata(L, h);
  lua_pushlightuserdata(L, h);
  lua_pushcclosure(L, rs__set_header, 1);
  lua_pushlightuserdata(L, h);
  lua_pushcclosure(L, rs__exit, 1);
  lua_pushcclosure(L, rs__req_index, 3);
  lua_setfield(L, -2, "__index");
  return luaL_ref(L, LUA_REGISTRYINDEX);
}
