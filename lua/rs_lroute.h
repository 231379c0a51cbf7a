/* lua/rs_lroute.h — ssr.route and ssr.respond: route declarations from Lua
 * into the config's router. Part of the rustyssr module (rs_lconfig.c).
 *
 * The actions a route may name are registered by the layer that runs them
 * (core/gateway/rs_dispatch.c: rs_dispatch_init) before any config loads:
 * the loader sets route->handler from them. The built-in ones (respond,
 * render, static, proxy) have their options read here, into rs_route_t; any
 * other reads its own (check, build, free and dump below) into route->conf,
 * so adding one touches no file of lua/ or conf/. */
#ifndef RS_LROUTE_H
#define RS_LROUTE_H

#include <lua.h>
#include <stdio.h>

struct rs_action_handler_s;

/* An action as the loader knows it. */
typedef struct {
  const char *name;              /* its key in ssr.route's options */
  const struct rs_action_handler_s *handler;  /* what route->handler gets (opaque) */
  /* For an action that reads its own options (all NULL for a built-in):
   * check the value of options[name] at stack index idx, raising
   * "FILE:LINE: fn: reason" (rs_lutil_error) on a bad one and allocating
   * nothing; build its config from the same (checked) value, raising
   * nothing (the route is being built); free it; write it for -T as
   * "name = <Lua value>, " (lua/rs_ldump.h has the quoting). */
  void (*check)(lua_State *L, int idx, const char *fn);
  void *(*build)(lua_State *L, int idx);
  void (*free)(void *conf);
  void (*dump)(FILE *out, const void *conf);
} rs_laction_t;

/* Register an action (copied; one of the same name is replaced). Main
 * thread, before any config loads: the table is read without a lock by
 * every state that runs the file, loop threads included. */
void rs_lroute_action_add(const rs_laction_t *a);

/* The registered action whose handler is handler, or NULL (for -T). */
const rs_laction_t *rs_lroute_action_of(const struct rs_action_handler_s *handler);

/* Set "route" and "respond" in the module table at module_idx; each closure
 * holds the rs_lconfig_ctx_t userdata at ctx_idx as upvalue 1. */
void rs_lroute_register(lua_State *L, int module_idx, int ctx_idx);

#endif
