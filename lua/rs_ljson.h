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

/* Push the Lua value of the JSON text s[0..n): objects and arrays become
 * tables, null becomes nil (so a null member is absent), numbers are Lua
 * numbers. Returns 0, or -1 with *why set (static) and the stack as it was.
 * Depth is bounded (64). */
int rs_ljson_decode(lua_State *L, const char *s, size_t n, const char **why);

#endif
