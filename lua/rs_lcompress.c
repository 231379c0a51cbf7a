/* lua/rs_lcompress.c — see rs_lcompress.h.
 *
 * compress = false | true | { gzip_level = 5, brotli_quality = 4,
 *                             min_length = 256, types = { "text/css", ... } } */
#include "rs_lcompress.h"

#include <lauxlib.h>
#include <stdio.h>
#include <string.h>

#include "rs_lutil.h"

const char *const rs_lcompress_keys[] = { "gzip_level", "brotli_quality", "min_length", "types", NULL };

/* One entry of types: a media type ("text/css"), a family ("text/" then
 * "*") or "*", stored lower-case. */
static void rs__type(lua_State *L, int idx, size_t i, rs_compress_opts_t *o) {
  char desc[64];
  if (lua_type(L, idx) != LUA_TSTRING)
    rs_lutil_error(L, "ssr.config: 'compress.types' entry %zu must be a string, got %s", i,
                   rs_lutil_describe(L, idx, desc, sizeof(desc)));
  size_t n;
  const char *s = lua_tolstring(L, idx, &n);
  const char *slash = memchr(s, '/', n);
  bool ok = n > 0 && n < RS_COMPRESS_TYPE_LEN && strlen(s) == n &&
            (strcmp(s, "*") == 0 || (slash != NULL && slash != s && (size_t)(slash - s) + 1 < n));
  for (size_t k = 0; ok && k < n; k++) {
    unsigned char c = (unsigned char)s[k];
    if (c <= ' ' || c >= 0x7f || c == ';' || c == ',' || (c == '*' && k + 1 != n) || (c == '/' && s + k != slash))
      ok = false;
  }
  if (ok && s[n - 1] == '*' && n > 1 && s[n - 2] != '/') ok = false;
  if (!ok)
    rs_lutil_error(L, "ssr.config: 'compress.types' entry %zu \"%.64s\": not a media type without parameters "
                      "(\"text/css\"), a family (\"text/\" then \"*\") or \"*\"", i, s);
  for (size_t k = 0; k <= n; k++) {
    char c = s[k];
    o->types[o->ntypes][k] = c >= 'A' && c <= 'Z' ? (char)(c + 32) : c;
  }
  o->ntypes++;
}

void rs_lcompress_read(lua_State *L, int idx, rs_compress_opts_t *o) {
  char desc[64];
  if (lua_type(L, idx) == LUA_TBOOLEAN) {
    o->on = lua_toboolean(L, idx);
    return;
  }
  if (lua_type(L, idx) != LUA_TTABLE)
    rs_lutil_error(L, "ssr.config: 'compress' must be a table or a boolean, got %s",
                   rs_lutil_describe(L, idx, desc, sizeof(desc)));
  rs_lutil_check_keys(L, idx, "ssr.config.compress", rs_lcompress_keys);
  rs_compress_opts_default(o);
  if (rs_lutil_field(L, idx, "gzip_level")) {
    o->gzip_level = (int)rs_lutil_int(L, -1, "ssr.config", "compress.gzip_level", 0, 9);
    lua_pop(L, 1);
  }
  if (rs_lutil_field(L, idx, "brotli_quality")) {
    o->brotli_quality = (int)rs_lutil_int(L, -1, "ssr.config", "compress.brotli_quality", -1, 11);
    lua_pop(L, 1);
  }
  if (rs_lutil_field(L, idx, "min_length")) {
    o->min_length = rs_lutil_size(L, -1, "ssr.config", "compress.min_length", 0, (size_t)1 << 30);
    lua_pop(L, 1);
  }
  if (rs_lutil_field(L, idx, "types")) {
    int t = lua_gettop(L);
    if (lua_type(L, t) == LUA_TSTRING) {          /* one type */
      o->ntypes = 0;
      rs__type(L, t, 1, o);
    } else if (lua_type(L, t) == LUA_TTABLE) {
      size_t n = lua_objlen(L, t);
      if (n > RS_COMPRESS_TYPES_MAX)
        rs_lutil_error(L, "ssr.config: 'compress.types' lists %zu types, at most %d", n, RS_COMPRESS_TYPES_MAX);
      lua_pushnil(L);                             /* a list: no other keys */
      while (lua_next(L, t) != 0) {
        if (lua_type(L, -2) != LUA_TNUMBER)
          rs_lutil_error(L, "ssr.config: 'compress.types' must be a list of media types, it has the key %s",
                         rs_lutil_describe(L, -2, desc, sizeof(desc)));
        lua_pop(L, 1);
      }
      o->ntypes = 0;
      for (size_t i = 1; i <= n; i++) {
        lua_rawgeti(L, t, (int)i);
        rs__type(L, lua_gettop(L), i, o);
        lua_pop(L, 1);
      }
    } else {
      rs_lutil_error(L, "ssr.config: 'compress.types' must be a list of media types, got %s",
                     rs_lutil_describe(L, t, desc, sizeof(desc)));
    }
    lua_pop(L, 1);
  }
  o->on = true;
}
