/* lua/rs_ljson.h — Lua values to JSON text (for props: the bundle receives
 * them through JSON.parse). */
#ifndef RS_LJSON_H
#define RS_LJSON_H

#include <lua.h>

#include "rs_common.h"

/* Append the JSON for the value at idx to out. Tables whose keys are
 * exactly 1..n are arrays (an empty table is an object, {}); other keys
 * become strings; nil/NaN/±inf are null; functions, userdata and threads
 * are refused, as are cycles (depth over 64). Returns 0, or -1 with *why
 * set (static) and out holding a partial document. Does not touch the
 * stack's size (uses lua_next, balanced). */
int rs_ljson_encode(lua_State *L, int idx, rs_buf_t *out, const char **why);

#endif
