/* lua/rs_ljson.c — see rs_ljson.h. */
#include "rs_ljson.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
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

/* ------------------------------------------------------------------ decode */

typedef struct {
  const char *p, *end;
  const char *why;
  rs_buf_t tmp;
} rs__jd_t;

static void rs__ws(rs__jd_t *d) {
  while (d->p < d->end && (*d->p == ' ' || *d->p == '\t' || *d->p == '\n' || *d->p == '\r')) d->p++;
}

static int rs__hex4(const char *s, unsigned *out) {
  unsigned v = 0;
  for (int i = 0; i < 4; i++) {
    char c = s[i];
    v <<= 4;
    if (c >= '0' && c <= '9') v |= (unsigned)(c - '0');
    else if (c >= 'a' && c <= 'f') v |= (unsigned)(c - 'a' + 10);
    else if (c >= 'A' && c <= 'F') v |= (unsigned)(c - 'A' + 10);
    else return -1;
  }
  *out = v;
  return 0;
}

static void rs__utf8(rs_buf_t *b, unsigned cp) {
  char u[4];
  size_t n;
  if (cp < 0x80) u[0] = (char)cp, n = 1;
  else if (cp < 0x800) u[0] = (char)(0xC0 | cp >> 6), u[1] = (char)(0x80 | (cp & 63)), n = 2;
  else if (cp < 0x10000)
    u[0] = (char)(0xE0 | cp >> 12), u[1] = (char)(0x80 | (cp >> 6 & 63)), u[2] = (char)(0x80 | (cp & 63)), n = 3;
  else
    u[0] = (char)(0xF0 | cp >> 18), u[1] = (char)(0x80 | (cp >> 12 & 63)), u[2] = (char)(0x80 | (cp >> 6 & 63)),
    u[3] = (char)(0x80 | (cp & 63)), n = 4;
  rs_buf_append(b, u, n);
}

/* Push the string at d->p (on its opening quote). */
static int rs__jstring(lua_State *L, rs__jd_t *d) {
  d->p++;
  d->tmp.len = 0;
  const char *run = d->p;
  while (d->p < d->end && *d->p != '"') {
    unsigned char c = (unsigned char)*d->p;
    if (c < 0x20) return d->why = "control character in a string", -1;
    if (c != '\\') {
      d->p++;
      continue;
    }
    rs_buf_append(&d->tmp, run, (size_t)(d->p - run));
    if (d->end - d->p < 2) return d->why = "unterminated string", -1;
    char e = d->p[1];
    d->p += 2;
    switch (e) {
      case '"': rs_buf_append(&d->tmp, "\"", 1); break;
      case '\\': rs_buf_append(&d->tmp, "\\", 1); break;
      case '/': rs_buf_append(&d->tmp, "/", 1); break;
      case 'b': rs_buf_append(&d->tmp, "\b", 1); break;
      case 'f': rs_buf_append(&d->tmp, "\f", 1); break;
      case 'n': rs_buf_append(&d->tmp, "\n", 1); break;
      case 'r': rs_buf_append(&d->tmp, "\r", 1); break;
      case 't': rs_buf_append(&d->tmp, "\t", 1); break;
      case 'u': {
        unsigned cp, lo;
        if (d->end - d->p < 4 || rs__hex4(d->p, &cp) != 0) return d->why = "bad \\u escape", -1;
        d->p += 4;
        if (cp >= 0xD800 && cp < 0xDC00 && d->end - d->p >= 6 && d->p[0] == '\\' && d->p[1] == 'u' &&
            rs__hex4(d->p + 2, &lo) == 0 && lo >= 0xDC00 && lo < 0xE000) {
          cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
          d->p += 6;
        }
        rs__utf8(&d->tmp, cp);
        break;
      }
      default: return d->why = "bad escape in a string", -1;
    }
    run = d->p;
  }
  if (d->p >= d->end) return d->why = "unterminated string", -1;
  if (d->tmp.len == 0) {
    lua_pushlstring(L, run, (size_t)(d->p - run));
  } else {
    rs_buf_append(&d->tmp, run, (size_t)(d->p - run));
    lua_pushlstring(L, d->tmp.p, d->tmp.len);
  }
  d->p++;
  return 0;
}

static int rs__jvalue(lua_State *L, rs__jd_t *d, int depth) {
  rs__ws(d);
  if (d->p >= d->end) return d->why = "unexpected end of JSON", -1;
  if (depth > RS__MAX_DEPTH) return d->why = "nested too deep", -1;
  if (!lua_checkstack(L, 4)) return d->why = "out of Lua stack", -1;
  char c = *d->p;
  if (c == '{' || c == '[') {
    bool obj = c == '{';
    d->p++;
    lua_newtable(L);
    int n = 0;
    rs__ws(d);
    if (d->p < d->end && *d->p == (obj ? '}' : ']')) {
      d->p++;
      return 0;
    }
    for (;;) {
      if (obj) {
        rs__ws(d);
        if (d->p >= d->end || *d->p != '"') return d->why = "expected a key", -1;
        if (rs__jstring(L, d) != 0) return -1;
        rs__ws(d);
        if (d->p >= d->end || *d->p != ':') return d->why = "expected ':'", -1;
        d->p++;
        if (rs__jvalue(L, d, depth + 1) != 0) return -1;
        lua_rawset(L, -3);
      } else {
        if (rs__jvalue(L, d, depth + 1) != 0) return -1;
        lua_rawseti(L, -2, ++n);
      }
      rs__ws(d);
      if (d->p < d->end && *d->p == ',') {
        d->p++;
        continue;
      }
      if (d->p < d->end && *d->p == (obj ? '}' : ']')) {
        d->p++;
        return 0;
      }
      return d->why = obj ? "expected ',' or '}'" : "expected ',' or ']'", -1;
    }
  }
  if (c == '"') return rs__jstring(L, d);
  if (d->end - d->p >= 4 && memcmp(d->p, "true", 4) == 0) return d->p += 4, lua_pushboolean(L, 1), 0;
  if (d->end - d->p >= 5 && memcmp(d->p, "false", 5) == 0) return d->p += 5, lua_pushboolean(L, 0), 0;
  if (d->end - d->p >= 4 && memcmp(d->p, "null", 4) == 0) return d->p += 4, lua_pushnil(L), 0;
  if (c == '-' || (c >= '0' && c <= '9')) {
    char num[64];
    size_t n = 0;
    while (d->p < d->end && n < sizeof(num) - 1 && strchr("+-0123456789.eE", *d->p) != NULL) num[n++] = *d->p++;
    num[n] = '\0';
    char *stop;
    double v = strtod(num, &stop);
    if (stop != num + n) return d->why = "bad number", -1;
    lua_pushnumber(L, v);
    return 0;
  }
  return d->why = "unexpected character", -1;
}

int rs_ljson_decode(lua_State *L, const char *s, size_t n, const char **why) {
  rs__jd_t d = { .p = s, .end = s + n };
  int top = lua_gettop(L);
  int rc = rs__jvalue(L, &d, 0);
  if (rc == 0) {
    rs__ws(&d);
    if (d.p != d.end) rc = -1, d.why = "trailing characters after the JSON value";
  }
  rs_buf_free(&d.tmp);
  if (rc != 0) {
    lua_settop(L, top);
    *why = d.why;
    return -1;
  }
  return 0;
}
