/* lua/rs_lhooks.c — see rs_lhooks.h. */
#include "rs_lhooks.h"

#include <lauxlib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rs_lconfig.h"
#include "rs_ljson.h"
#include "rs_log.h"
#include "rs_render.h"

typedef struct {
  int handler, key, bypass, props;  /* registry refs, LUA_NOREF when absent */
} rs__refs_t;

struct rs_lhooks_s {
  lua_State *L;
  rs_config_t scratch;           /* what this state's run of the file declared */
  rs__refs_t *refs;              /* by route->_order */
  size_t nrefs;
  int traceback;                 /* registry ref of debug.traceback */
};

/* ------------------------------------------------------------------ set-up */

static int rs__ref_field(lua_State *L, int t, const char *name) {
  lua_getfield(L, t, name);
  if (lua_type(L, -1) != LUA_TFUNCTION) {
    lua_pop(L, 1);
    return LUA_NOREF;
  }
  return luaL_ref(L, LUA_REGISTRYINDEX);
}

/* ctx->on_route: anchor the route's hook functions by its order. */
static void rs__on_route(void *ud, lua_State *L, const rs_route_t *route, int opts_idx, int fn_idx) {
  rs_lhooks_t *h = ud;
  size_t i = route->_order;
  if (i >= h->nrefs) {
    size_t n = RS_MAX(i + 1, h->nrefs * 2);
    h->refs = rs_xrealloc(h->refs, n * sizeof(*h->refs));
    for (size_t k = h->nrefs; k < n; k++)
      h->refs[k] = (rs__refs_t){ LUA_NOREF, LUA_NOREF, LUA_NOREF, LUA_NOREF };
    h->nrefs = n;
  }
  rs__refs_t *r = &h->refs[i];
  if (fn_idx > 0) {
    lua_pushvalue(L, fn_idx);
    r->handler = luaL_ref(L, LUA_REGISTRYINDEX);
  }
  if (opts_idx > 0) {
    r->handler = r->handler != LUA_NOREF ? r->handler : rs__ref_field(L, opts_idx, "respond");
    r->key = rs__ref_field(L, opts_idx, "key");
    r->bypass = rs__ref_field(L, opts_idx, "bypass");
    r->props = rs__ref_field(L, opts_idx, "props");
  }
}

/* Lua stack before: ...   after: (raises) */
static int rs__not_now(lua_State *L) {
  return luaL_error(L, "%s may be called only while the config file loads",
                    lua_tostring(L, lua_upvalueindex(1)));
}

rs_lhooks_t *rs_lhooks_create(const rs_config_t *cfg, char *err, size_t errlen) {
  rs_lhooks_t *h = rs_xcalloc(1, sizeof(*h));
  rs_config_init(&h->scratch);
  const char *file = cfg->file ? cfg->file : "rustyssr.lua";
  const char *slash = strrchr(file, '/');
  char *dir = slash ? rs_xstrndup(file, (size_t)(slash - file)) : NULL;
  h->L = rs_lconfig_state_new(dir ? (dir[0] ? dir : "/") : NULL, &h->scratch, err, errlen);
  free(dir);
  if (h->L == NULL) goto fail;
  lua_State *L = h->L;
  rs_lconfig_ctx_t *ctx = rs_lconfig_ctx(L);
  ctx->on_route = rs__on_route;
  ctx->on_route_ud = h;
  if (rs_lconfig_run(L, file, NULL, 0, err, errlen) != 0) goto fail;
  ctx->on_route = NULL;
  if (rs_router_count(h->scratch.router) != rs_router_count(cfg->router)) {
    snprintf(err, errlen, "%s: declared %zu routes in a loop thread but %zu at load: the file must "
             "declare the same routes each time it runs", file, rs_router_count(h->scratch.router),
             rs_router_count(cfg->router));
    goto fail;
  }
  /* From now on the file's declarations are done. */
  lua_getfield(L, LUA_GLOBALSINDEX, "package");
  lua_getfield(L, -1, "loaded");
  lua_getfield(L, -1, "rustyssr");
  static const char *const frozen[] = { "config", "route", "respond", "static" };
  for (size_t i = 0; i < RS_ARRAY_SIZE(frozen); i++) {
    lua_pushfstring(L, "ssr.%s", frozen[i]);
    lua_pushcclosure(L, rs__not_now, 1);
    lua_setfield(L, -2, frozen[i]);
  }
  lua_pop(L, 3);
  lua_getfield(L, LUA_GLOBALSINDEX, "debug");
  lua_getfield(L, -1, "traceback");
  h->traceback = luaL_ref(L, LUA_REGISTRYINDEX);
  lua_pop(L, 1);
  return h;
fail:
  rs_lhooks_destroy(h);
  return NULL;
}

void rs_lhooks_destroy(rs_lhooks_t *h) {
  if (h == NULL) return;
  if (h->L != NULL) lua_close(h->L);
  rs_config_dispose(&h->scratch);
  free(h->refs);
  free(h);
}

/* ------------------------------------------------------------------ the request object */

static void rs__push_lower(lua_State *L, const char *s, size_t n) {
  char buf[256] = "";
  char *p = n <= sizeof(buf) ? buf : rs_xmalloc(n);
  for (size_t i = 0; i < n; i++) p[i] = (s[i] >= 'A' && s[i] <= 'Z') ? (char)(s[i] + 32) : s[i];
  lua_pushlstring(L, p, n);
  if (p != buf) free(p);
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

/* Lua stack before: ...   after: ..., req */
static void rs__build_req(lua_State *L, rs_req_t *req) {
  lua_createtable(L, 0, 12);
  int t = lua_gettop(L);
  lua_pushlstring(L, req->method.p, req->method.len);
  lua_setfield(L, t, "method");
  rs__push_lower(L, req->host.p ? req->host.p : "", req->host.len);
  lua_setfield(L, t, "host");
  lua_pushlstring(L, req->path.p, req->path.len);
  lua_setfield(L, t, "path");
  lua_pushlstring(L, req->url.p, req->url.len);
  lua_setfield(L, t, "url");
  char id[24];
  snprintf(id, sizeof(id), "%llx", (unsigned long long)req->id);
  lua_pushstring(L, id);
  lua_setfield(L, t, "id");
  lua_pushstring(L, rs_req_peer(req));
  lua_setfield(L, t, "client");

  /* query: decoded, '+' as space, repeated names as lists */
  lua_newtable(L);
  int q = lua_gettop(L);
  const char *s = req->query.p, *end = req->query.p + req->query.len;
  char small[512];
  while (s != NULL && s < end) {
    const char *amp = memchr(s, '&', (size_t)(end - s));
    const char *stop = amp ? amp : end;
    if (stop > s) {
      const char *eq = memchr(s, '=', (size_t)(stop - s));
      const char *kend = eq ? eq : stop;
      size_t n = (size_t)(stop - s);
      char *buf = n <= sizeof(small) ? small : rs_xmalloc(n);
      size_t kl = rs_url_decode(buf, s, (size_t)(kend - s), true);
      lua_pushlstring(L, buf, kl);
      size_t vl = eq ? rs_url_decode(buf, eq + 1, (size_t)(stop - eq - 1), true) : 0;
      lua_pushlstring(L, buf, vl);
      if (buf != small) free(buf);
      rs__set_multi(L, q, lua_gettop(L) - 1, lua_gettop(L));
      lua_pop(L, 2);
    }
    s = stop + 1;
  }
  lua_setfield(L, t, "query");

  lua_newtable(L);
  for (size_t i = 0; i < req->nparams; i++) {
    lua_pushlstring(L, req->params[i].name.p, req->params[i].name.len);
    lua_pushlstring(L, req->params[i].value.p, req->params[i].value.len);
    lua_rawset(L, -3);
  }
  lua_setfield(L, t, "params");

  /* headers: lower-case names; repeated ones as lists (cookie joined) */
  lua_newtable(L);
  int hd = lua_gettop(L);
  lua_newtable(L);
  int ck = lua_gettop(L);
  for (size_t i = 0; i < req->nheaders; i++) {
    const rs_header_t *hh = &req->headers[i];
    rs__push_lower(L, hh->name.p, hh->name.len);
    lua_pushlstring(L, hh->value.p, hh->value.len);
    rs__set_multi(L, hd, lua_gettop(L) - 1, lua_gettop(L));
    lua_pop(L, 2);
    if (rs_str_ieq(hh->name.p, hh->name.len, "cookie", 6)) {
      /* "a=1; b=2": the first value of a name wins, as browsers send the
       * most specific cookie first. */
      const char *c = hh->value.p, *ce = hh->value.p + hh->value.len;
      while (c < ce) {
        const char *semi = memchr(c, ';', (size_t)(ce - c));
        const char *stop = semi ? semi : ce;
        while (c < stop && (*c == ' ' || *c == '\t')) c++;
        const char *eq = memchr(c, '=', (size_t)(stop - c));
        if (eq != NULL && eq > c) {
          lua_pushlstring(L, c, (size_t)(eq - c));
          lua_rawget(L, ck);
          bool seen = !lua_isnil(L, -1);
          lua_pop(L, 1);
          if (!seen) {
            lua_pushlstring(L, c, (size_t)(eq - c));
            const char *v = eq + 1, *ve = stop;
            while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t')) ve--;
            if (ve - v >= 2 && v[0] == '"' && ve[-1] == '"') v++, ve--;
            lua_pushlstring(L, v, (size_t)(ve - v));
            lua_rawset(L, ck);
          }
        }
        c = stop + 1;
      }
    }
  }
  lua_setfield(L, t, "cookie");
  lua_setfield(L, t, "headers");
  lua_newtable(L);
  lua_setfield(L, t, "ctx");
}

void rs_lhooks_begin(rs_lhooks_call_t *c, rs_lhooks_t *h, rs_req_t *req, const rs_route_t *route) {
  c->h = h;
  c->req = req;
  c->route = route;
  c->ref = LUA_NOREF;
}

void rs_lhooks_end(rs_lhooks_call_t *c) {
  if (c->ref != LUA_NOREF) luaL_unref(c->h->L, LUA_REGISTRYINDEX, c->ref);
  c->ref = LUA_NOREF;
}

/* ------------------------------------------------------------------ calling */

static int rs__hook_ref(const rs_lhooks_call_t *c, const char *hook) {
  size_t i = c->route->_order;
  if (i >= c->h->nrefs) return LUA_NOREF;
  const rs__refs_t *r = &c->h->refs[i];
  return hook[0] == 'r' ? r->handler : hook[0] == 'k' ? r->key : hook[0] == 'b' ? r->bypass : r->props;
}

/* Call the route's hook with the request object; nres results. Returns the
 * stack index just below the results (pop back to it with lua_settop), or
 * -1 after logging the error with its traceback. */
static int rs__call(rs_lhooks_call_t *c, const char *hook, int nres) {
  lua_State *L = c->h->L;
  int ref = rs__hook_ref(c, hook);
  int top = lua_gettop(L);
  if (ref == LUA_NOREF) {
    rs_log_error("route %s: no %s hook in this loop's Lua state", c->route->where, hook);
    return -1;
  }
  lua_rawgeti(L, LUA_REGISTRYINDEX, c->h->traceback);
  int errfunc = lua_gettop(L);
  lua_rawgeti(L, LUA_REGISTRYINDEX, ref);
  if (c->ref == LUA_NOREF) {
    rs__build_req(L, c->req);
    lua_pushvalue(L, -1);
    c->ref = luaL_ref(L, LUA_REGISTRYINDEX);
  } else {
    lua_rawgeti(L, LUA_REGISTRYINDEX, c->ref);
  }
  if (lua_pcall(L, 1, nres, errfunc) != 0) {
    const char *msg = lua_tostring(L, -1);
    rs_log_error("route %s: %s hook failed [req %llx]: %s", c->route->where, hook,
                 (unsigned long long)c->req->id, msg ? msg : "(error object is not a string)");
    lua_settop(L, top);
    return -1;
  }
  lua_remove(L, errfunc);
  return top;
}

static int rs__wrong(rs_lhooks_call_t *c, const char *hook, int top, const char *want, int idx) {
  lua_State *L = c->h->L;
  rs_log_error("route %s: %s hook returned %s, expected %s [req %llx]", c->route->where, hook,
               luaL_typename(L, idx), want, (unsigned long long)c->req->id);
  lua_settop(L, top);
  return -1;
}

int rs_lhooks_key(rs_lhooks_call_t *c, char **key, size_t *len) {
  lua_State *L = c->h->L;
  int top = rs__call(c, "key", 1);
  if (top < 0) return -1;
  if (lua_type(L, -1) != LUA_TSTRING && lua_type(L, -1) != LUA_TNUMBER)
    return rs__wrong(c, "key", top, "a string", -1);
  const char *s = lua_tolstring(L, -1, len);
  *key = rs_xstrndup(s, *len);
  lua_settop(L, top);
  return 0;
}

int rs_lhooks_bypass(rs_lhooks_call_t *c, bool *bypass) {
  lua_State *L = c->h->L;
  int top = rs__call(c, "bypass", 1);
  if (top < 0) return -1;
  *bypass = lua_toboolean(L, -1);
  lua_settop(L, top);
  return 0;
}

int rs_lhooks_props(rs_lhooks_call_t *c, char **json, size_t *len) {
  lua_State *L = c->h->L;
  int top = rs__call(c, "props", 2);
  if (top < 0) return -1;
  *json = NULL;
  *len = 0;
  if (lua_isnil(L, -2)) {
    if (!lua_isnil(L, -1)) {     /* nil, err: the OpenResty way to fail */
      rs_log_error("route %s: props hook failed [req %llx]: %s", c->route->where,
                   (unsigned long long)c->req->id, lua_tostring(L, -1) ? lua_tostring(L, -1) : "?");
      lua_settop(L, top);
      return -1;
    }
    lua_settop(L, top);
    return 0;
  }
  if (lua_type(L, -2) != LUA_TTABLE) return rs__wrong(c, "props", top, "a table (or nil, err)", -2);
  rs_buf_t b = { 0 };
  const char *why;
  if (rs_ljson_encode(L, top + 1, &b, &why) != 0) {
    rs_log_error("route %s: props hook returned a table with no JSON form: %s [req %llx]",
                 c->route->where, why, (unsigned long long)c->req->id);
    rs_buf_free(&b);
    lua_settop(L, top);
    return -1;
  }
  *json = b.p;
  *len = b.len;
  lua_settop(L, top);
  return 0;
}

/* ------------------------------------------------------------------ respond */

static bool rs__token(const char *s, size_t n) {
  if (n == 0) return false;
  for (size_t i = 0; i < n; i++) {
    unsigned char ch = (unsigned char)s[i];
    if (ch <= 32 || ch >= 127 || strchr("()<>@,;:\\\"/[]?={}", ch) != NULL) return false;
  }
  return true;
}

/* Add "name: value\r\n" for the header at (name_idx, value_idx) to b;
 * false when it is not a valid header or one the server owns. */
static bool rs__add_header(lua_State *L, rs_buf_t *b, int name_idx, int value_idx, bool *has_ct) {
  size_t nl, vl;
  if (lua_type(L, name_idx) != LUA_TSTRING) return false;
  const char *n = lua_tolstring(L, name_idx, &nl);
  if (!rs__token(n, nl)) return false;
  if (rs_str_ieq(n, nl, "content-length", 14) || rs_str_ieq(n, nl, "transfer-encoding", 17) ||
      rs_str_ieq(n, nl, "connection", 10) || rs_str_ieq(n, nl, "date", 4))
    return false;
  if (lua_type(L, value_idx) != LUA_TSTRING && lua_type(L, value_idx) != LUA_TNUMBER) return false;
  lua_pushvalue(L, value_idx);   /* tolstring on a copy: never convert a table slot */
  const char *v = lua_tolstring(L, -1, &vl);
  bool ok = strpbrk(v, "\r\n") == NULL && memchr(v, '\0', vl) == NULL;
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

int rs_lhooks_respond(rs_lhooks_call_t *c, rs_resp_t *resp) {
  lua_State *L = c->h->L;
  int top = rs__call(c, "respond", 3);
  if (top < 0) return -1;
  int st = top + 1, bd = top + 2, hs = top + 3;
  if (lua_type(L, st) == LUA_TTABLE) {     /* { status, body, headers } */
    int t = st;
    lua_getfield(L, t, "status");
    lua_getfield(L, t, "body");
    lua_getfield(L, t, "headers");
    st = lua_gettop(L) - 2, bd = st + 1, hs = st + 2;
  }
  lua_Number sn = lua_type(L, st) == LUA_TNUMBER ? lua_tonumber(L, st) : 0;
  if (!(sn >= 100 && sn <= 599 && sn == (int)sn)) return rs__wrong(c, "respond", top, "a status 100..599", st);
  if (!lua_isnil(L, bd) && lua_type(L, bd) != LUA_TSTRING) return rs__wrong(c, "respond", top, "a string body", bd);
  if (!lua_isnil(L, hs) && lua_type(L, hs) != LUA_TTABLE) return rs__wrong(c, "respond", top, "a headers table", hs);
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
        rs_log_error("route %s: respond hook returned an invalid or reserved header (%s) [req %llx]",
                     c->route->where, lua_type(L, k) == LUA_TSTRING ? lua_tostring(L, k) : "?",
                     (unsigned long long)c->req->id);
        lua_settop(L, top);
        return -1;
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
  return 0;
}
