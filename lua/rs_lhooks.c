/* lua/rs_lhooks.c — see rs_lhooks.h. */
#include "rs_lhooks.h"

#include <lauxlib.h>
#include <luajit.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rs_cookie.h"
#include "rs_lconfig.h"
#include "rs_lfetch.h"
#include "rs_ljson.h"
#include "rs_log.h"
#include "rs_key.h"
#include "rs_metrics.h"
#include "rs_policy.h"
#include "rs_realip.h"
#include "rs_lutil.h"

#define RS__CO_FREE_MAX 64         /* idle coroutines (and contexts) kept per state */

typedef struct {
  int handler, key, bypass, props;  /* registry refs, LUA_NOREF when absent */
} rs__refs_t;

/* A coroutine of the loop's state, anchored in the registry. */
typedef struct rs_lco_s {
  lua_State *co;
  int ref;
  struct rs_lco_s *next;
} rs_lco_t;

struct rs_lhooks_s {
  lua_State *L;
  rs_config_t scratch;           /* what this state's run of the file declared */
  rs__refs_t *refs;              /* by route->_order */
  size_t nrefs;
  int req_mt;                    /* registry ref of the request objects' metatable */
  struct rs_lco_s *co_free;      /* idle coroutines, ready for a request */
  size_t nco_free;
  rs_lreq_t *lreq_free;          /* idle request contexts */
  size_t nlreq_free;
  rs_lreq_t *running;            /* whose coroutine runs now, or NULL */
  int loop_index;                /* the loop using this state (the gauge's slot) */
  uint64_t timeout_ms;           /* lua.hook_timeout_ms */
  bool interrupted;              /* the budget hook raised in the run ending now */
};

static int rs__set_header(lua_State *L);
static int rs__exit(lua_State *L);
static int rs__req_index(lua_State *L);

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
  /* The API calls below are not protected: an out-of-memory (lua.memory_mb)
   * or a __gc error in them comes back here rather than exiting. */
  rs_lutil_recover_t r;
  if (!RS_LUTIL_TRY(&r)) {
    snprintf(err, errlen, "%s: a Lua error outside a protected call while setting up the state (logged)", file);
    goto fail;
  }
  lua_State *L = h->L;
  h->timeout_ms = cfg->lua.hook_timeout_ms;
  /* The interpreter checks hooks; a compiled trace does not, so a loop the
   * JIT compiled could never be interrupted (lua.hook_timeout_ms). */
  if (!cfg->lua.jit) luaJIT_setmode(L, 0, LUAJIT_MODE_ENGINE | LUAJIT_MODE_OFF);
  rs_lutil_state_cap(L, cfg->lua.memory_mb << 20);
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
  /* ssr.fetch, ssr.fetch_all, ssr.sleep: now bound to this state. */
  rs_lfetch_register(L, lua_gettop(L), h);
  lua_pop(L, 3);
  /* The request objects' metatable: fields built on first use, and the
   * methods req:set_header, req:exit. */
  lua_createtable(L, 0, 1);
  lua_pushlightuserdata(L, h);
  lua_pushlightuserdata(L, h);
  lua_pushcclosure(L, rs__set_header, 1);
  lua_pushlightuserdata(L, h);
  lua_pushcclosure(L, rs__exit, 1);
  lua_pushcclosure(L, rs__req_index, 3);
  lua_setfield(L, -2, "__index");
  h->req_mt = luaL_ref(L, LUA_REGISTRYINDEX);
  lua_pushlightuserdata(L, h);   /* for the budget hook, which gets only L */
  lua_setfield(L, LUA_REGISTRYINDEX, "rustyssr.hooks");
  rs_lutil_recover_pop(&r);
  return h;
fail:
  if (rs_lutil_recover_top == &r) rs_lutil_recover_pop(&r);
  rs_lhooks_destroy(h);
  return NULL;
}

void rs_lhooks_destroy(rs_lhooks_t *h) {
  if (h == NULL) return;
  while (h->co_free != NULL) {   /* their threads go with the state */
    struct rs_lco_s *k = h->co_free;
    h->co_free = k->next;
    free(k);
  }
  while (h->lreq_free != NULL) {
    rs_lreq_t *c = h->lreq_free;
    h->lreq_free = c->_next_free;
    free(c);
  }
  if (h->L != NULL) lua_close(h->L);
  rs_config_dispose(&h->scratch);
  free(h->refs);
  free(h);
}

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
  const char *s = req->query.p, *end = req->query.p + req->query.len;
  char small[512];
  while (s != NULL && s < end) {
    const char *amp = memchr(s, '&', (size_t)(end - s));
    const char *stop = amp ? amp : end;
    if (stop > s) {
      const char *eq = memchr(s, '=', (size_t)(stop - s));
      const char *kend = eq ? eq : stop;
      size_t n = (size_t)(stop - s);
      char *buf = n <= sizeof(small) ? small : lua_newuserdata(L, n);  /* as rs__push_lower */
      size_t kl = rs_url_decode(buf, s, (size_t)(kend - s), true);
      lua_pushlstring(L, buf, kl);
      size_t vl = eq ? rs_url_decode(buf, eq + 1, (size_t)(stop - eq - 1), true) : 0;
      lua_pushlstring(L, buf, vl);
      if (buf != small) lua_remove(L, -3);
      rs__set_multi(L, q, lua_gettop(L) - 1, lua_gettop(L));
      lua_pop(L, 2);
    }
    s = stop + 1;
  }
}

/* A page view of a route that names cookies (route->cache.cookies): the
 * Cookie header holds only those, as the bundle's does (rs_policy.h), and
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
  if (rs_cookie_join(&b, c->_route->cache.cookies, v) > 0) {
    lua_pushlstring(L, b.p, b.len);
    lua_setfield(L, hd, "cookie");
  }
  rs_buf_free(&b);
  for (size_t i = 0; c->_route->cache.cookies[i] != NULL; i++) {
    if (!v[i].present) continue;
    lua_pushlstring(L, v[i].value.p, v[i].value.len);
    lua_setfield(L, ck, c->_route->cache.cookies[i]);
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
    if (c->page_view && !rs_policy_page_sees(req, c->_route, hh->name.p, hh->name.len, trusted)) continue;
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
    lua_createtable(L, 0, (int)req->nparams);
    for (size_t i = 0; i < req->nparams; i++) {
      lua_pushlstring(L, req->params[i].name.p, req->params[i].name.len);
      lua_pushlstring(L, req->params[i].value.p, req->params[i].value.len);
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

/* ------------------------------------------------------------------ coroutines */

/* Live request coroutines by loop index: one writer each (that loop, over
 * all its states), summed relaxed by the scrape. */
#define RS__GAUGE_SLOTS 256
static struct {
  int64_t n;
} __attribute__((aligned(RS_CACHELINE))) rs__live[RS__GAUGE_SLOTS];

static void rs__live_add(rs_lhooks_t *h, int64_t n) {
  int i = h->loop_index < RS__GAUGE_SLOTS ? h->loop_index : 0;
  __atomic_store_n(&rs__live[i].n, __atomic_load_n(&rs__live[i].n, __ATOMIC_RELAXED) + n, __ATOMIC_RELAXED);
}

static rs_lco_t *rs__co_get(rs_lhooks_t *h) {
  rs_lco_t *k = h->co_free;
  if (k != NULL) {
    h->co_free = k->next;
    h->nco_free--;
  } else {
    /* The Lua first: an error raised in it (a __gc finalizer run by this
     * allocation) longjmps out (rs_lutil's recovery) and must leak nothing. */
    lua_State *co = lua_newthread(h->L);
    int ref = luaL_ref(h->L, LUA_REGISTRYINDEX);
    k = rs_xmalloc(sizeof(*k));
    k->co = co;
    k->ref = ref;
  }
  k->next = NULL;
  rs__live_add(h, 1);
  return k;
}

/* Back to the free list: only a coroutine that finished normally (its
 * status 0, its stack emptied) can start another function. */
static void rs__co_put(rs_lhooks_t *h, rs_lco_t *k) {
  rs__live_add(h, -1);
  if (lua_status(k->co) == 0 && h->nco_free < RS__CO_FREE_MAX) {
    lua_settop(k->co, 0);
    k->next = h->co_free;
    h->co_free = k;
    h->nco_free++;
    return;
  }
  luaL_unref(h->L, LUA_REGISTRYINDEX, k->ref);   /* the GC takes it */
  free(k);
}

/* Drop c's coroutine (errored, exited, or its client gone). */
static void rs__co_drop(rs_lreq_t *c) {
  if (c->_co == NULL) return;
  rs_lhooks_t *h = c->_h;
  rs__live_add(h, -1);
  luaL_unref(h->L, LUA_REGISTRYINDEX, c->_co->ref);
  free(c->_co);
  c->_co = NULL;
}

rs_lreq_t *rs_lhooks_running(rs_lhooks_t *h) { return h != NULL ? h->running : NULL; }

lua_State *rs_lreq_thread(rs_lreq_t *c) { return c->_co != NULL ? c->_co->co : NULL; }

rs_lreq_t *rs_lreq_start(rs_lhooks_t *h, rs_req_t *req, const rs_route_t *route) {
  rs_lreq_t *c = h->lreq_free;
  if (c != NULL) {
    h->lreq_free = c->_next_free;
    h->nlreq_free--;
  } else {
    c = rs_xmalloc(sizeof(*c));
  }
  memset(c, 0, offsetof(rs_lreq_t, _key_inline));
  h->loop_index = req->loop->index;
  c->_h = h;
  c->_h_L = h->L;
  c->_req = req;
  c->_route = route;
  c->_req_ref = LUA_NOREF;
  c->_results_ref = LUA_NOREF;
  return c;
}

void rs_lreq_page_view(rs_lreq_t *c) {
  c->page_view = true;
  if (c->_req_ref == LUA_NOREF) return;
  lua_State *L = c->_h_L;
  lua_rawgeti(L, LUA_REGISTRYINDEX, c->_req_ref);
  static const char *const fields[] = { "headers", "cookie", "client", "host" };
  for (size_t i = 0; i < RS_ARRAY_SIZE(fields); i++) {
    lua_pushstring(L, fields[i]);
    lua_pushnil(L);
    lua_rawset(L, -3);
  }
  lua_pop(L, 1);
}

void rs_lreq_end(rs_lreq_t *c) {
  rs_lhooks_t *h = c->_h;
  if (c->_ops != NULL || c->_results_ref != LUA_NOREF) rs_lfetch_cancel_all(c);
  if (c->_req_ref != LUA_NOREF) luaL_unref(h->L, LUA_REGISTRYINDEX, c->_req_ref);
  if (c->_co != NULL) rs__co_put(h, c->_co);
  if (c->key != NULL && c->key != c->_key_inline) free((char *)c->key);
  free(c->props);
  if (h->nlreq_free < RS__CO_FREE_MAX) {
    c->_next_free = h->lreq_free;
    h->lreq_free = c;
    h->nlreq_free++;
  } else {
    free(c);
  }
}

/* ------------------------------------------------------------------ results */

static const char *const rs__hook_names[] = { "respond", "key", "bypass", "props" };

static int rs__wrong(rs_lreq_t *c, lua_State *L, const char *want, int idx) {
  rs_log_error("route %s: %s hook returned %s, expected %s [req %llx]", c->_route->where,
               rs__hook_names[c->_hook], luaL_typename(L, idx), want, (unsigned long long)c->_req->id);
  return RS_LHOOK_FAIL;
}

static int rs__key_result(rs_lreq_t *c, lua_State *L) {
  if (lua_type(L, 1) != LUA_TSTRING && lua_type(L, 1) != LUA_TNUMBER) return rs__wrong(c, L, "a string", 1);
  size_t n;
  const char *s = lua_tolstring(L, 1, &n);
  if (c->key != NULL && c->key != c->_key_inline) free((char *)c->key);
  char *k = n < sizeof(c->_key_inline) ? c->_key_inline : rs_xmalloc(n + 1);
  memcpy(k, s, n);
  k[n] = '\0';
  c->key = k;
  c->key_len = n;
  return RS_LHOOK_OK;
}

static int rs__props_result(rs_lreq_t *c, lua_State *L) {
  free(c->props);
  c->props = NULL;
  c->props_len = 0;
  if (lua_isnil(L, 1)) {
    if (!lua_isnil(L, 2)) {      /* nil, err: the OpenResty way to fail */
      rs_log_error("route %s: props hook failed [req %llx]: %s", c->_route->where,
                   (unsigned long long)c->_req->id, lua_tostring(L, 2) ? lua_tostring(L, 2) : "?");
      return RS_LHOOK_FAIL;
    }
    return RS_LHOOK_OK;
  }
  if (lua_type(L, 1) != LUA_TTABLE) return rs__wrong(c, L, "a table (or nil, err)", 1);
  rs_buf_t b = { 0 };
  const char *why;
  if (rs_ljson_encode(L, 1, &b, &why) != 0) {
    rs_log_error("route %s: props hook returned a table with no JSON form: %s [req %llx]",
                 c->_route->where, why, (unsigned long long)c->_req->id);
    rs_buf_free(&b);
    return RS_LHOOK_FAIL;
  }
  c->props = b.p;
  c->props_len = b.len;
  return RS_LHOOK_OK;
}

static bool rs__token(const char *s, size_t n) {
  if (n == 0) return false;
  for (size_t i = 0; i < n; i++) {
    unsigned char ch = (unsigned char)s[i];
    if (ch <= 32 || ch >= 127 || strchr("()<>@,;:\\\"/[]?={}", ch) != NULL) return false;
  }
  return true;
}

/* Headers the server writes itself. */
static bool rs__reserved(const char *n, size_t nl) {
  return rs_str_ieq(n, nl, "content-length", 14) || rs_str_ieq(n, nl, "transfer-encoding", 17) ||
         rs_str_ieq(n, nl, "connection", 10) || rs_str_ieq(n, nl, "date", 4);
}

/* Add "name: value\r\n" for the header at (name_idx, value_idx) to b;
 * false when it is not a valid header or one the server owns. */
static bool rs__add_header(lua_State *L, rs_buf_t *b, int name_idx, int value_idx, bool *has_ct) {
  size_t nl, vl;
  if (lua_type(L, name_idx) != LUA_TSTRING) return false;
  const char *n = lua_tolstring(L, name_idx, &nl);
  if (!rs__token(n, nl) || rs__reserved(n, nl)) return false;
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

/* status, body, headers at st, bd, hs (or a table { status, body, headers }
 * at st) → *resp (one malloc'd block). Returns NULL, or what is wrong
 * ("string, expected a status 200..599") in why. */
static const char *rs__make_resp(lua_State *L, int st, int bd, int hs, rs_resp_t *resp, char *why,
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

static int rs__respond_result(rs_lreq_t *c, lua_State *L) {
  char why[256];
  const char *bad = rs__make_resp(L, 1, 2, 3, &c->resp, why, sizeof(why));
  if (bad == NULL) return RS_LHOOK_OK;
  rs_log_error("route %s: respond hook returned %s [req %llx]", c->_route->where, bad,
               (unsigned long long)c->_req->id);
  return RS_LHOOK_FAIL;
}

/* ------------------------------------------------------------------ running */

static void rs__abort(rs_req_t *req);

/* ------------------------------------------------------------------ time budget
 *
 * A hook that never returns would hold its loop thread forever. Each loop
 * publishes the state it is running Lua in and since when (its watch slot);
 * a watchdog thread looks every RS__WATCH_TICK_MS and, when a run is past
 * its state's lua.hook_timeout_ms (or the shutdown deadline has passed),
 * sets a count hook on that state: lua_sethook may be called from another
 * thread (Lua 5.1 and LuaJIT document it as safe asynchronously). The hook
 * then raises on the next instruction the interpreter runs, again on each
 * instruction (so a pcall cannot swallow it) until the run ends and the
 * loop removes it. The slot's lock orders the watchdog's sethook against
 * the loop ending the run (and perhaps closing the state). */
#define RS__WATCH_TICK_MS 50   /* a hook is interrupted within its budget + 50 ms */

typedef struct {
  uv_mutex_t lock;
  rs_lhooks_t *h;                /* running Lua now, or NULL */
  uint64_t since_ms;
  bool fired;                    /* the count hook is set on h->L */
} __attribute__((aligned(RS_CACHELINE))) rs__watch_t;

static rs__watch_t rs__watch[RS__GAUGE_SLOTS];
static uv_once_t rs__watch_once = UV_ONCE_INIT;
static uv_thread_t rs__watchdog;
static uv_mutex_t rs__wd_lock;
static uv_cond_t rs__wd_cond;
static bool rs__wd_on, rs__wd_stop;
static int rs__interrupt_all;    /* atomic: the shutdown deadline passed */

static void rs__watch_init(void) {
  for (int i = 0; i < RS__GAUGE_SLOTS; i++) uv_mutex_init(&rs__watch[i].lock);
  uv_mutex_init(&rs__wd_lock);
  uv_cond_init(&rs__wd_cond);
}

static rs__watch_t *rs__slot(const rs_lhooks_t *h) {
  return &rs__watch[h->loop_index > 0 && h->loop_index < RS__GAUGE_SLOTS ? h->loop_index : 0];
}

/* The count hook the watchdog sets. Loop thread, inside a run. */
static void rs__on_budget(lua_State *L, lua_Debug *ar) {
  (void)ar;
  lua_getfield(L, LUA_REGISTRYINDEX, "rustyssr.hooks");
  rs_lhooks_t *h = lua_touserdata(L, -1);
  lua_pop(L, 1);
  if (h == NULL) return;
  h->interrupted = true;
  luaL_error(L, "interrupted: the hook ran longer than lua.hook_timeout_ms (%d ms)", (int)h->timeout_ms);
}

static void rs__watchdog_main(void *arg) {
  (void)arg;
  uv_mutex_lock(&rs__wd_lock);
  while (!rs__wd_stop) {
    uv_cond_timedwait(&rs__wd_cond, &rs__wd_lock, (uint64_t)RS__WATCH_TICK_MS * 1000000u);
    if (rs__wd_stop) break;
    uint64_t now = rs_now_ms();
    bool all = __atomic_load_n(&rs__interrupt_all, __ATOMIC_RELAXED);
    for (int i = 0; i < RS__GAUGE_SLOTS; i++) {
      rs__watch_t *w = &rs__watch[i];
      /* A relaxed peek first: most slots are idle. */
      if (__atomic_load_n(&w->h, __ATOMIC_RELAXED) == NULL) continue;
      uv_mutex_lock(&w->lock);
      if (w->h != NULL && !w->fired && (all || now - w->since_ms >= w->h->timeout_ms)) {
        lua_sethook(w->h->L, rs__on_budget, LUA_MASKCOUNT, 1);
        w->fired = true;
      }
      uv_mutex_unlock(&w->lock);
    }
  }
  uv_mutex_unlock(&rs__wd_lock);
}

void rs_lhooks_watchdog_start(void) {
  uv_once(&rs__watch_once, rs__watch_init);
  uv_mutex_lock(&rs__wd_lock);
  bool start = !rs__wd_on;
  rs__wd_on = true;
  rs__wd_stop = false;
  uv_mutex_unlock(&rs__wd_lock);
  if (start && uv_thread_create(&rs__watchdog, rs__watchdog_main, NULL) != 0) abort();
}

void rs_lhooks_watchdog_stop(void) {
  uv_once(&rs__watch_once, rs__watch_init);
  uv_mutex_lock(&rs__wd_lock);
  bool on = rs__wd_on;
  rs__wd_stop = true;
  rs__wd_on = false;
  uv_cond_signal(&rs__wd_cond);
  uv_mutex_unlock(&rs__wd_lock);
  if (on) uv_thread_join(&rs__watchdog);
  __atomic_store_n(&rs__interrupt_all, 0, __ATOMIC_RELAXED);
}

void rs_lhooks_interrupt_all(void) { __atomic_store_n(&rs__interrupt_all, 1, __ATOMIC_RELAXED); }

/* Start / end a run of Lua on h (nested runs restore the outer one). */
typedef struct {
  rs_lhooks_t *h;
  uint64_t since_ms;
} rs__run_mark_t;

static rs__run_mark_t rs__run_begin(rs_lhooks_t *h) {
  uv_once(&rs__watch_once, rs__watch_init);
  rs__watch_t *w = rs__slot(h);
  uv_mutex_lock(&w->lock);
  rs__run_mark_t outer = { w->h, w->since_ms };
  __atomic_store_n(&w->h, h, __ATOMIC_RELAXED);
  if (outer.h == NULL) w->since_ms = rs_now_ms();   /* a nested run keeps the outer budget */
  uv_mutex_unlock(&w->lock);
  return outer;
}

static void rs__run_end(rs_lhooks_t *h, rs__run_mark_t outer) {
  rs__watch_t *w = rs__slot(h);
  uv_mutex_lock(&w->lock);
  if (w->fired && outer.h == NULL) {
    lua_sethook(h->L, NULL, 0, 0);
    w->fired = false;
  }
  __atomic_store_n(&w->h, outer.h, __ATOMIC_RELAXED);
  w->since_ms = outer.since_ms;
  uv_mutex_unlock(&w->lock);
}

/* After a run that ran out of memory: collect, so the state serves on (the
 * failed coroutine was dropped: what it built is garbage now). */
static void rs__after_oom(rs_lhooks_t *h) {
  rs_lutil_recover_t r;
  if (RS_LUTIL_TRY(&r)) {
    lua_gc(h->L, LUA_GCCOLLECT, 0);
    rs_lutil_recover_pop(&r);
  }
  size_t used = rs_lutil_state_used(h->L), cap = rs_lutil_state_limit(h->L);
  if (cap != 0 && used > cap / 4 * 3)
    rs_log_error("loop %d: the Lua state still holds %zu KB of its %zu KB (lua.memory_mb) after a full "
                 "collection: hooks keep data alive (globals, upvalues); a reload (SIGHUP) starts afresh",
                 h->loop_index, used >> 10, cap >> 10);
}

/* Resume c's coroutine with nargs values on its stack. Returns an outcome. */
static int rs__resume(rs_lreq_t *c, int nargs) {
  rs_lhooks_t *h = c->_h;
  lua_State *co = c->_co->co;
  rs_lreq_t *outer = h->running;
  h->running = c;
  h->interrupted = false;
  rs__run_mark_t mark = rs__run_begin(h);
  int st = lua_resume(co, nargs);
  rs__run_end(h, mark);
  h->running = outer;
  const char *hook = rs__hook_names[c->_hook];
  if (st == LUA_YIELD) {
    if (c->_exited) {
      rs__co_drop(c);
      return RS_LHOOK_EXIT;
    }
    if (c->_waiting > 0) return RS_LHOOK_YIELD;
    rs_log_error("route %s: %s hook yielded outside ssr.fetch, ssr.fetch_all or ssr.sleep [req %llx]",
                 c->_route->where, hook, (unsigned long long)c->_req->id);
    rs__co_drop(c);
    return RS_LHOOK_FAIL;
  }
  if (st != 0) {
    if (h->interrupted) {
      rs_log_error("route %s: %s hook ran longer than %llu ms (lua.hook_timeout_ms)%s: interrupted [req %llx]",
                   c->_route->where, hook, (unsigned long long)h->timeout_ms,
                   __atomic_load_n(&rs__interrupt_all, __ATOMIC_RELAXED) ? " or past the shutdown deadline" : "",
                   (unsigned long long)c->_req->id);
    } else if (st == LUA_ERRMEM) {
      rs_log_error("route %s: %s hook failed [req %llx]: out of memory (the state holds %zu KB, "
                   "lua.memory_mb = %zu)", c->_route->where, hook, (unsigned long long)c->_req->id,
                   rs_lutil_state_used(h->L) >> 10, rs_lutil_state_limit(h->L) >> 20);
    } else {
      const char *msg = lua_tostring(co, -1);
      luaL_traceback(h->L, co, msg ? msg : "(error object is not a string)", 0);
      rs_log_error("route %s: %s hook failed [req %llx]: %s", c->_route->where, hook,
                   (unsigned long long)c->_req->id, lua_tostring(h->L, -1));
      lua_pop(h->L, 1);
    }
    h->interrupted = false;
    rs_lfetch_cancel_all(c);     /* e.g. fetch_all raising after some started */
    rs__co_drop(c);
    if (st == LUA_ERRMEM) rs__after_oom(h);
    return RS_LHOOK_FAIL;
  }
  int rc;
  switch (c->_hook) {
    case RS_HOOK_KEY: lua_settop(co, 1); rc = rs__key_result(c, co); break;
    case RS_HOOK_BYPASS: lua_settop(co, 1); c->bypass = lua_toboolean(co, 1); rc = RS_LHOOK_OK; break;
    case RS_HOOK_PROPS: lua_settop(co, 2); rc = rs__props_result(c, co); break;
    default: lua_settop(co, 3); rc = rs__respond_result(c, co); break;
  }
  lua_settop(co, 0);
  return rc;
}

/* A Lua error escaped every protected call while the loop worked on c's
 * state (rs_lutil's panic handler longjmp'd here): the stacks hold
 * anything. Reset them, drop c's coroutine. Loop thread. */
static void rs__recovered(rs_lreq_t *c, rs_lreq_t *running) {
  rs_lhooks_t *h = c->_h;
  h->running = running;
  h->interrupted = false;
  rs_log_error("route %s: %s hook failed [req %llx]: a Lua error outside the hook (see above)",
               c->_route->where, rs__hook_names[c->_hook], (unsigned long long)c->_req->id);
  lua_settop(h->L, 0);
  rs_lutil_recover_t r;
  if (RS_LUTIL_TRY(&r)) {
    rs_lfetch_cancel_all(c);
    rs__co_drop(c);
    rs_lutil_recover_pop(&r);
  } else {
    c->_co = NULL;               /* leaked to the GC rather than risk it */
  }
}

static int rs__hook_ref(const rs_lreq_t *c, rs_hook_t hook) {
  size_t i = c->_route->_order;
  if (i >= c->_h->nrefs) return LUA_NOREF;
  const rs__refs_t *r = &c->_h->refs[i];
  switch (hook) {
    case RS_HOOK_KEY: return r->key;
    case RS_HOOK_BYPASS: return r->bypass;
    case RS_HOOK_PROPS: return r->props;
    default: return r->handler;
  }
}

static int rs__run(rs_lreq_t *c, rs_hook_t hook, rs_lreq_done_fn done) {
  rs_lhooks_t *h = c->_h;
  int ref = rs__hook_ref(c, hook);
  if (ref == LUA_NOREF) {
    rs_log_error("route %s: no %s hook in this loop's Lua state", c->_route->where, rs__hook_names[hook]);
    return RS_LHOOK_FAIL;
  }
  if (c->_co == NULL) c->_co = rs__co_get(h);
  lua_State *co = c->_co->co;
  lua_rawgeti(co, LUA_REGISTRYINDEX, ref);
  if (c->_req_ref == LUA_NOREF) {
    lua_createtable(co, 0, 4);    /* its fields come on first use (rs__req_index) */
    lua_rawgeti(co, LUA_REGISTRYINDEX, h->req_mt);
    lua_setmetatable(co, -2);
    lua_pushvalue(co, -1);
    c->_req_ref = luaL_ref(co, LUA_REGISTRYINDEX);
  } else {
    lua_rawgeti(co, LUA_REGISTRYINDEX, c->_req_ref);
  }
  c->_hook = (int)hook;
  c->_done = done;
  int rc = rs__resume(c, 1);
  if (rc == RS_LHOOK_YIELD) {
    c->_req->on_abort = rs__abort;
    c->_req->data = c;
  }
  return rc;
}

/* Every entry into Lua from the loop runs under a recovery point: an error
 * outside a protected call (a __gc finalizer raising while C code
 * allocates, out of memory in an API call) fails the request, never the
 * process. */
int rs_lreq_run(rs_lreq_t *c, rs_hook_t hook, rs_lreq_done_fn done) {
  rs_lreq_t *running = c->_h->running;
  c->_hook = (int)hook;
  rs_lutil_recover_t r;
  if (!RS_LUTIL_TRY(&r)) {
    rs__recovered(c, running);
    return RS_LHOOK_FAIL;
  }
  int rc = rs__run(c, hook, done);
  rs_lutil_recover_pop(&r);
  return rc;
}

void rs_lreq_resume(rs_lreq_t *c, int nargs) {
  rs_req_t *req = c->_req;
  req->on_abort = NULL;
  req->data = NULL;
  rs_lreq_t *running = c->_h->running;
  rs_lutil_recover_t r;
  int rc;
  if (RS_LUTIL_TRY(&r)) {
    rc = rs__resume(c, nargs);
    rs_lutil_recover_pop(&r);
  } else {
    rs__recovered(c, running);
    rc = RS_LHOOK_FAIL;
  }
  if (rc == RS_LHOOK_YIELD) {
    req->on_abort = rs__abort;
    req->data = c;
    return;
  }
  c->_done(c, rc);
}

void rs_lreq_fail(rs_lreq_t *c) {
  rs_req_t *req = c->_req;
  req->on_abort = NULL;
  req->data = NULL;
  rs__recovered(c, c->_h->running);
  c->_done(c, RS_LHOOK_FAIL);
}

/* req->on_abort while a hook is suspended: the client has gone. */
static void rs__abort(rs_req_t *req) {
  rs_lreq_t *c = req->data;
  req->on_abort = NULL;
  req->data = NULL;
  rs_lfetch_cancel_all(c);
  rs__co_drop(c);
  rs_log_debug("route %s: client gone while the %s hook waited [req %llx]: cancelled", c->_route->where,
               rs__hook_names[c->_hook], (unsigned long long)req->id);
  c->_done(c, RS_LHOOK_ABORT);
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
  if (!rs__token(n, nl)) return luaL_error(L, "req:set_header: invalid header name '%s'", n);
  if (rs__reserved(n, nl) || rs_str_ieq(n, nl, "server", 6) || rs_str_ieq(n, nl, "x-cache", 7) ||
      rs_str_ieq(n, nl, "age", 3) || rs_str_ieq(n, nl, "content-encoding", 16))
    return luaL_error(L, "req:set_header: '%s' is the server's header", n);
  if (strpbrk(v, "\r\n") != NULL || memchr(v, '\0', vl) != NULL)
    return luaL_error(L, "req:set_header: the value of '%s' holds CR, LF or NUL", n);
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
  const char *bad = rs__make_resp(L, 2, 3, 4, &c->resp, why, sizeof(why));
  if (bad != NULL) return luaL_error(L, "req:exit: got %s", bad);
  c->_exited = true;
  return lua_yield(L, 0);
}

/* ------------------------------------------------------------------ respond action */

static void rs__respond_done(rs_lreq_t *c, int rc) {
  /* The Lua ends first: answering a request whose client has gone frees
   * it, and perhaps the (reloaded-away) generation that owns this state. */
  rs_req_t *req = c->_req;
  rs_resp_t resp = c->resp;
  rs_lreq_end(c);
  if (rc == RS_LHOOK_OK || rc == RS_LHOOK_EXIT) {
    rs_req_respond(req, &resp);
  } else {
    rs_str_t page = rs_http_error_page(500);
    rs_req_respond_static(req, 500, "Content-Type: text/html\r\n", page.p, page.len);
  }
}

void rs_lhooks_respond_request(rs_req_t *req, const rs_route_t *route) {
  rs_lreq_t *c = rs_lreq_start(rs_req_gen(req)->lua, req, route);  /* the state of its generation */
  int rc = rs_lreq_run(c, RS_HOOK_RESPOND, rs__respond_done);
  if (rc != RS_LHOOK_YIELD) rs__respond_done(c, rc);
}

/* ------------------------------------------------------------------ metrics */

static void rs__collect(rs_buf_t *out, void *ud) {
  (void)ud;
  int64_t live = 0;
  for (int i = 0; i < RS__GAUGE_SLOTS; i++) live += __atomic_load_n(&rs__live[i].n, __ATOMIC_RELAXED);
  rs_metrics_family(out, "rustyssr_lua_coroutines", "gauge",
                    "Request coroutines alive (running, or waiting in ssr.fetch or ssr.sleep).");
  rs_buf_printf(out, "rustyssr_lua_coroutines %lld\n", (long long)live);
}

void rs_lhooks_metrics_register(void) { rs_metrics_register("lua", rs__collect, NULL); }
