/* lua/rs_lhooks_setup.c — a loop thread's hook state made and freed
 * (rs_lhooks.h: rs_lhooks_create, rs_lhooks_destroy): the config file run
 * again in a state of its own (lua/rs_lconfig.h), its routes' hook
 * functions anchored by route order, the declarations frozen, ssr.fetch
 * and friends bound to the state (lua/rs_lfetch.h). It sits above both
 * rs_lhooks.c (which runs the hooks) and rs_lfetch.c (whose calls resume
 * them). */
#include "rs_lhooks.h"
#include "rs_lhooks_int.h"

#include <lauxlib.h>
#include <luajit.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rs_lconfig.h"
#include "rs_lfetch.h"
#include "rs_lutil.h"

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
      h->refs[k] = (rs_lhooks_refs_t){ LUA_NOREF, LUA_NOREF, LUA_NOREF, LUA_NOREF, LUA_NOREF, LUA_NOREF };
    h->nrefs = n;
  }
  rs_lhooks_refs_t *r = &h->refs[i];
  if (fn_idx > 0) {
    lua_pushvalue(L, fn_idx);
    r->handler = luaL_ref(L, LUA_REGISTRYINDEX);
  }
  if (opts_idx > 0) {
    r->handler = r->handler != LUA_NOREF ? r->handler : rs__ref_field(L, opts_idx, "respond");
    r->key = rs__ref_field(L, opts_idx, "key");
    r->bypass = rs__ref_field(L, opts_idx, "bypass");
    r->props = rs__ref_field(L, opts_idx, "props");
    static const char *const limits[] = { "limit_req", "limit_conn" };
    int *lrefs[] = { &r->limit_req, &r->limit_conn };
    for (int i = 0; i < 2; i++) {
      lua_getfield(L, opts_idx, limits[i]);
      if (lua_istable(L, -1)) *lrefs[i] = rs__ref_field(L, lua_gettop(L), "key");
      lua_pop(L, 1);
    }
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
  /* The request objects' metatable (rs_lreq.c). */
  h->req_mt = rs_lreq__metatable(L, h);
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
