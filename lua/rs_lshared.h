/* lua/rs_lshared.h — ssr.shared.NAME: OpenResty's ngx.shared.DICT over the
 * process's shared dictionaries (core/base/rs_shdict.h).
 *
 *   ssr.config { shared = { flags = "1m", counters = "64k" } }
 *   local flags = ssr.shared.flags          -- nil for a name not declared
 *   flags:set("beta", true, 60)             -- ok, err, forcible
 *   flags:get("beta")                       -- value, flags | nil
 *   ssr.shared.counters:incr("hits", 1, 0)  -- new value | nil, err
 *
 * Methods, with OpenResty's arguments, results and error strings: get, set,
 * safe_set, add, safe_add, replace, delete, incr (value, init, init_ttl),
 * ttl, expire, flush_all, get_keys (max, default 1024, 0 = all),
 * capacity, free_space. Keys are strings (numbers are turned into
 * strings); values strings, numbers, booleans, or nil (set/replace with
 * nil deletes); exptime in seconds, fractions allowed, 0 = never. */
#ifndef RS_LSHARED_H
#define RS_LSHARED_H

#include <lua.h>

#include "rs_config.h"

/* ssr.config's shared = { NAME = SIZE, ... } at t (absolute): raise
 * "FILE:LINE: ssr.config: ..." on a bad name or size. Allocates nothing,
 * leaves the stack as it was. Returns how many. */
size_t rs_lshared_check(lua_State *L, int t);

/* Fill c->shared from the checked table at t, acquiring each dictionary
 * (the same name: the same items), then release what old held (old is the
 * config c was copied from; its array is freed). Raises nothing. */
void rs_lshared_commit(lua_State *L, int t, rs_config_t *c, rs_config_t *old);

/* Register ssr.shared in the module table at module_idx: each name looked
 * up in the state's config (lua/rs_lconfig.h's ctx->cfg) on first use. */
void rs_lshared_register(lua_State *L, int module_idx);

#endif
