/* lua/rs_lcompress.h — ssr.config's `compress` key (README "Compression"). */
#ifndef RS_LCOMPRESS_H
#define RS_LCOMPRESS_H

#include <lua.h>

#include "rs_coding.h"

/* The keys of the compress table, NULL-ended (for -T's check). */
extern const char *const rs_lcompress_keys[];

/* Read the value at idx (false, true or a table) into o, starting from the
 * defaults when it is a table; raise "file:line: ssr.config: ..." on a bad
 * one. Config thread, inside ssr.config (before its commit: o is its copy). */
void rs_lcompress_read(lua_State *L, int idx, rs_compress_opts_t *o);

#endif
