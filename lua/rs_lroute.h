/* lua/rs_lroute.h — ssr.route and ssr.respond: route declarations from Lua
 * into the config's router. Part of the rustyssr module (rs_lconfig.c). */
#ifndef RS_LROUTE_H
#define RS_LROUTE_H

#include <lua.h>

/* Set "route" and "respond" in the module table at module_idx; each closure
 * holds the rs_lconfig_ctx_t userdata at ctx_idx as upvalue 1. */
void rs_lroute_register(lua_State *L, int module_idx, int ctx_idx);

#endif
