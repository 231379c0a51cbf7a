/* lua/rs_lstate.h — the types the files of the rustyssr Lua module share
 * (HAProxy's -t.h type headers): the module's state, which ssr.config
 * (rs_lconfig.c), ssr.route (rs_lroute.c) and ssr.purge (rs_lcache.c) hold
 * as upvalue 1. Types, and the module state's one accessor: no function of
 * any lua/ file is declared here, so any of them includes it without
 * including the others. */
#ifndef RS_LSTATE_H
#define RS_LSTATE_H

#include <lua.h>

#include "rs_config.h"
#include "rs_router.h"

/* The module's state: one per lua_State, a userdata that every module
 * function holds as upvalue 1. For lua/ only. */
typedef struct {
  rs_config_t *cfg;              /* what the calls fill (borrowed) */
  char config_where[LUA_IDSIZE + 16]; /* "file:line" of ssr.config, "" before */
  char config_dir[4096];         /* the folder given to rs_lconfig_state_new, ""
                                    for none: relative static roots start there */
  /* A loop thread's state (lua/rs_lhooks_setup.c) runs the same file: each route
   * that ssr.route adds is shown to on_route with its options table at
   * opts_idx (0 when the route was given as a bare function, which is then
   * at fn_idx), so the hook functions can be anchored by route order. */
  void (*on_route)(void *ud, lua_State *L, const rs_route_t *route, int opts_idx, int fn_idx);
  void *on_route_ud;
} rs_lconfig_ctx_t;

/* The module state of L (set by rs_lconfig_state_new), or NULL. */
static inline rs_lconfig_ctx_t *rs_lconfig_ctx(lua_State *L) {
  lua_getfield(L, LUA_REGISTRYINDEX, "rustyssr.ctx");
  rs_lconfig_ctx_t *ctx = (rs_lconfig_ctx_t *)lua_touserdata(L, -1);
  lua_pop(L, 1);
  return ctx;
}

#endif
