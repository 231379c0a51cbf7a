/* lua/rs_ljson.c — see rs_ljson.h. */
#include "rs_ljson.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#define RS__MAX_DEPTH 64

static void rs__string(rs_buf_t *out, const char *s, size_t n) {
  static const char hex[] = "0123456789abcdef";
  rs_buf_reserve(out, n + 2);
  rs_buf_append(out, "\"", 1);
  size_t run = 0;                /* bytes copied as they are, in bulk */
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    const char *esc = NULL;
    char u[6];
    switch (c) {
      case '"': esc = "\\\""; break;
      case '\\': esc = "\\\\"; break;
      case '\n': esc = "\\n"; break;
      case '\r': esc = "\\r"; break;
      case '\t': esc = "\\t"; break;
      default:
        if (c < 0x20) {
          u[0] = '\\', u[1] = 'u', u[2] = '0', u[3] = '0', u[4] = hex[c >> 4], u[5] = hex[c & 15];
          if (run) rs_buf_append(out, s + i - run, run), run = 0;
          rs_buf_append(out, u, 6);
          continue;
        }
        /* "</script>" inside a page's JSON is the bundle's to escape, but
         * '<' costs nothing here and saves a footgun. */
        if (c == '<') esc = "\\u003c";
        break;
    }
    if (esc == NULL) {
      run++;
      continue;
    }
    if (run) rs_buf_append(out, s + i - run, run), run = 0;
    rs_buf_append(out, esc, strlen(esc));
  }
  if (run) rs_buf_append(out, s + n - run, run);
  rs_buf_append(out, "\"", 1);
}

/* Is the table at idx an array: keys exactly 1..n with n >= 1? */
static bool rs__is_array(lua_State *L, int idx, size_t *n_out) {
  size_t n = lua_objlen(L, idx);
  if (n == 0) return false;
  size_t count = 0;
  lua_pushnil(L);
  while (lua_next(L, idx) != 0) {
    lua_pop(L, 1);
    if (lua_type(L, -1) != LUA_TNUMBER) {
      lua_pop(L, 1);
      return false;
    }
    lua_Number k = lua_tonumber(L, -1);
    if (k < 1 || k > (lua_Number)n || k != floor(k)) {
      lua_pop(L, 1);
      return false;
    }
    count++;
  }
  *n_out = n;
  return count == n;
}

static int rs__value(lua_State *L, int idx, rs_buf_t *out, int depth, const char **why) {
  if (idx < 0) idx = lua_gettop(L) + idx + 1;
  switch (lua_type(L, idx)) {
    case LUA_TNIL:
      rs_buf_append(out, "null", 4);
      return 0;
    case LUA_TBOOLEAN:
      if (lua_toboolean(L, idx)) rs_buf_append(out, "true", 4);
      else rs_buf_append(out, "false", 5);
      return 0;
    case LUA_TNUMBER: {
      lua_Number v = lua_tonumber(L, idx);
      if (isnan(v) || isinf(v)) {
        rs_buf_append(out, "null", 4);
      } else if (v == floor(v) && fabs(v) < 9007199254740992.0) {
        rs_buf_printf(out, "%lld", (long long)v);
      } else {
        rs_buf_printf(out, "%.17g", v);
      }
      return 0;
    }
    case LUA_TSTRING: {
      size_t n;
      const char *s = lua_tolstring(L, idx, &n);
      rs__string(out, s, n);
      return 0;
    }
    case LUA_TTABLE:
      break;
    default:
      *why = "functions, userdata and coroutines have no JSON form";
      return -1;
  }
  if (depth >= RS__MAX_DEPTH) {
    *why = "nested deeper than 64 (a table that contains itself?)";
    return -1;
  }
  if (!lua_checkstack(L, 4)) {
    *why = "out of Lua stack";
    return -1;
  }
  size_t n;
  if (rs__is_array(L, idx, &n)) {
    rs_buf_append(out, "[", 1);
    for (size_t i = 1; i <= n; i++) {
      if (i > 1) rs_buf_append(out, ",", 1);
      lua_rawgeti(L, idx, (int)i);
      int rc = rs__value(L, -1, out, depth + 1, why);
      lua_pop(L, 1);
      if (rc != 0) return rc;
    }
    rs_buf_append(out, "]", 1);
    return 0;
  }
  rs_buf_append(out, "{", 1);
  bool first = true;
  lua_pushnil(L);
  while (lua_next(L, idx) != 0) {
    /* key at -2, value at -1 */
    int kt = lua_type(L, -2);
    if (kt != LUA_TSTRING && kt != LUA_TNUMBER) {
      lua_pop(L, 2);
      *why = "object keys must be strings or numbers";
      return -1;
    }
    if (!first) rs_buf_append(out, ",", 1);
    first = false;
    if (kt == LUA_TSTRING) {
      size_t kn;
      const char *k = lua_tolstring(L, -2, &kn);
      rs__string(out, k, kn);
    } else {
      char num[64];
      lua_Number v = lua_tonumber(L, -2);   /* never lua_tostring: it would break lua_next */
      int m = v == floor(v) ? snprintf(num, sizeof(num), "%lld", (long long)v)
                            : snprintf(num, sizeof(num), "%.17g", v);
      rs__string(out, num, (size_t)m);
    }
    rs_buf_append(out, ":", 1);
    int rc = rs__value(L, -1, out, depth + 1, why);
    lua_pop(L, 1);
    if (rc != 0) {
      lua_pop(L, 1);
      return rc;
    }
  }
  rs_buf_append(out, "}", 1);
  return 0;
}

int rs_ljson_encode(lua_State *L, int idx, rs_buf_t *out, const char **why) {
  *why = "";
  return rs__value(L, idx, out, 0, why);
}
