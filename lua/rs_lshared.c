/* lua/rs_lshared.c — see rs_lshared.h. */
#include "rs_lshared.h"

#include <errno.h>
#include <lauxlib.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "rs_lconfig.h"
#include "rs_lutil.h"
#include "rs_shdict.h"

#define RS__MAX_SHARED 64
#define RS__MT "rustyssr.shdict"

/* ------------------------------------------------------------ the config */

static bool rs__name_ok(const char *s, size_t n) {
  if (n == 0 || n > 64 || (s[0] >= '0' && s[0] <= '9')) return false;
  for (size_t i = 0; i < n; i++) {
    char c = s[i];
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_')) return false;
  }
  return true;
}

size_t rs_lshared_check(lua_State *L, int t) {
  char desc[64];
  size_t n = 0;
  lua_pushnil(L);
  while (lua_next(L, t)) {
    size_t len;
    const char *name = lua_type(L, -2) == LUA_TSTRING ? lua_tolstring(L, -2, &len) : NULL;
    if (name == NULL || !rs__name_ok(name, len))
      rs_lutil_error(L, "ssr.config: 'shared' names must be identifiers (letters, digits, '_'; up to 64), "
                     "as in shared = { flags = \"1m\" }, got %s", rs_lutil_describe(L, -2, desc, sizeof(desc)));
    char what[96];
    snprintf(what, sizeof(what), "shared.%s", name);
    rs_lutil_size(L, -1, "ssr.config", what, RS_SHDICT_MIN_BYTES, (size_t)1 << 40);
    if (++n > RS__MAX_SHARED) rs_lutil_error(L, "ssr.config: at most %d 'shared' dictionaries", RS__MAX_SHARED);
    lua_pop(L, 1);
  }
  return n;
}

static int rs__conf_cmp(const void *a, const void *b) {
  return strcmp(((const struct rs_shared_conf_s *)a)->name, ((const struct rs_shared_conf_s *)b)->name);
}

void rs_lshared_commit(lua_State *L, int t, rs_config_t *c, rs_config_t *old) {
  size_t n = 0;
  lua_pushnil(L);
  while (lua_next(L, t)) n++, lua_pop(L, 1);
  struct rs_shared_conf_s *s = n ? rs_xcalloc(n, sizeof(*s)) : NULL;
  size_t i = 0;
  lua_pushnil(L);
  while (lua_next(L, t)) {
    s[i].name = rs_xstrdup(lua_tostring(L, -2));
    if (lua_type(L, -1) == LUA_TNUMBER) s[i].bytes = (size_t)lua_tonumber(L, -1);
    else rs_size_parse(lua_tostring(L, -1), &s[i].bytes);
    s[i].dict = rs_shdict_acquire(s[i].name, s[i].bytes);
    i++;
    lua_pop(L, 1);
  }
  if (n > 1) qsort(s, n, sizeof(*s), rs__conf_cmp);
  for (size_t k = 0; k < old->nshared; k++) {
    free(old->shared[k].name);
    rs_shdict_release(old->shared[k].dict);
  }
  free(old->shared);
  old->shared = NULL;
  old->nshared = 0;
  c->shared = s;
  c->nshared = n;
}

/* ------------------------------------------------------------ the methods */

typedef struct {
  rs_shdict_t *d;                /* one reference, dropped by __gc */
} rs__ud_t;

static rs_shdict_t *rs__self(lua_State *L) {
  rs__ud_t *u = luaL_checkudata(L, 1, RS__MT);
  return u->d;
}

/* The key at idx, or push nil, err and return NULL (OpenResty's answers). */
static const char *rs__key(lua_State *L, int idx, size_t *len) {
  int t = lua_type(L, idx);
  if (t == LUA_TNIL || t == LUA_TNONE) {
    lua_pushnil(L);
    lua_pushliteral(L, "nil key");
    return NULL;
  }
  if (t != LUA_TSTRING && t != LUA_TNUMBER) luaL_argerror(L, idx, "key must be a string");
  const char *k = lua_tolstring(L, idx, len);
  if (*len == 0 || *len > RS_SHDICT_KEY_MAX) {
    lua_pushnil(L);
    if (*len == 0) lua_pushliteral(L, "empty key");
    else lua_pushliteral(L, "key too long");
    return NULL;
  }
  return k;
}

/* Seconds (fractions allowed; 0 = never) at idx, as milliseconds. */
static uint64_t rs__exptime(lua_State *L, int idx) {
  if (lua_isnoneornil(L, idx)) return 0;
  lua_Number s = luaL_checknumber(L, idx);
  if (!(s >= 0) || s > 1e12) luaL_argerror(L, idx, "exptime must be a number of seconds, 0 or more");
  uint64_t ms = (uint64_t)ceil(s * 1000);
  return ms;
}

static const char *rs__strerror(int rc) {
  switch (rc) {
    case -EEXIST: return "exists";
    case -ENOENT: return "not found";
    case -ENOMEM: return "no memory";
    case -EINVAL: return "not a number";
    default: return "failed";
  }
}

/* dict:get(key)   Lua stack after: value[, flags] | nil */
static int rs__get(lua_State *L) {
  rs_shdict_t *d = rs__self(L);
  size_t klen;
  const char *k = rs__key(L, 2, &klen);
  if (k == NULL) return 2;
  char small[512];
  char *buf = small;
  size_t cap = sizeof(small);
  rs_shdict_value_t v;
  int rc;
  /* A longer string: read again into a Lua-owned buffer (no C memory to
   * leak if Lua raises); it may have changed in between, hence the loop. */
  while ((rc = rs_shdict_get(d, k, klen, &v, buf, cap)) == -ENOBUFS) {
    cap = v.len;
    buf = lua_newuserdata(L, cap);   /* stays on the stack until copied */
  }
  if (rc != 0) {
    lua_pushnil(L);
    return 1;
  }
  switch (v.type) {
    case RS_SHDICT_STRING: lua_pushlstring(L, v.str, v.len); break;
    case RS_SHDICT_NUMBER: lua_pushnumber(L, v.number); break;
    case RS_SHDICT_BOOLEAN: lua_pushboolean(L, v.boolean); break;
    default: lua_pushnil(L); break;
  }
  if (v.flags == 0) return 1;
  lua_pushnumber(L, v.flags);
  return 2;
}

/* set, safe_set, add, safe_add, replace: upvalue 1 = mode, 2 = safe.
 * dict:set(key, value[, exptime[, flags]])   after: ok, err, forcible */
static int rs__store(lua_State *L) {
  rs_shdict_t *d = rs__self(L);
  rs_shdict_mode_t mode = (rs_shdict_mode_t)lua_tointeger(L, lua_upvalueindex(1));
  bool safe = lua_toboolean(L, lua_upvalueindex(2));
  size_t klen;
  const char *k = rs__key(L, 2, &klen);
  if (k == NULL) {
    lua_pushboolean(L, false);
    lua_replace(L, -3);
    return 2;
  }
  rs_shdict_value_t v = { 0 };
  switch (lua_type(L, 3)) {
    case LUA_TNIL: case LUA_TNONE: {    /* set(key, nil) deletes */
      if (mode == RS_SHDICT_ADD) {
        lua_pushboolean(L, false);
        lua_pushliteral(L, "attempt to add or replace nil values");
        return 2;
      }
      int rc = rs_shdict_delete(d, k, klen);
      if (mode == RS_SHDICT_REPLACE && rc != 0) {
        lua_pushboolean(L, false);
        lua_pushliteral(L, "not found");
        lua_pushboolean(L, false);
        return 3;
      }
      lua_pushboolean(L, true);
      lua_pushnil(L);
      lua_pushboolean(L, false);
      return 3;
    }
    case LUA_TSTRING: v.type = RS_SHDICT_STRING; v.str = lua_tolstring(L, 3, &v.len); break;
    case LUA_TNUMBER: v.type = RS_SHDICT_NUMBER; v.number = lua_tonumber(L, 3); break;
    case LUA_TBOOLEAN: v.type = RS_SHDICT_BOOLEAN; v.boolean = lua_toboolean(L, 3); break;
    default:
      lua_pushboolean(L, false);
      lua_pushliteral(L, "bad value type");
      return 2;
  }
  uint64_t ttl = rs__exptime(L, 4);
  if (!lua_isnoneornil(L, 5)) {
    lua_Number f = luaL_checknumber(L, 5);
    if (!(f >= 0 && f <= 4294967295.0)) luaL_argerror(L, 5, "flags must be a 32-bit unsigned integer");
    v.flags = (uint32_t)f;
  }
  bool forcible = false;
  int rc = rs_shdict_set(d, k, klen, &v, ttl, mode, safe, &forcible);
  lua_pushboolean(L, rc == 0);
  if (rc == 0) lua_pushnil(L);
  else lua_pushstring(L, rs__strerror(rc));
  lua_pushboolean(L, forcible);
  return 3;
}

/* dict:incr(key, value[, init[, init_ttl]])   after: new value, nil, forcible | nil, err */
static int rs__incr(lua_State *L) {
  rs_shdict_t *d = rs__self(L);
  size_t klen;
  const char *k = rs__key(L, 2, &klen);
  if (k == NULL) return 2;
  if (lua_type(L, 3) != LUA_TNUMBER) {
    lua_pushnil(L);
    lua_pushliteral(L, "value not a number");
    return 2;
  }
  lua_Number by = lua_tonumber(L, 3);
  bool has_init = !lua_isnoneornil(L, 4);
  lua_Number init = 0;
  if (has_init) {
    if (lua_type(L, 4) != LUA_TNUMBER) {
      lua_pushnil(L);
      lua_pushliteral(L, "init not a number");
      return 2;
    }
    init = lua_tonumber(L, 4);
  }
  uint64_t init_ttl = has_init ? rs__exptime(L, 5) : 0;
  double out = 0;
  bool forcible = false;
  int rc = rs_shdict_incr(d, k, klen, by, has_init, init, init_ttl, &out, &forcible);
  if (rc != 0) {
    lua_pushnil(L);
    lua_pushstring(L, rs__strerror(rc));
    return 2;
  }
  lua_pushnumber(L, out);
  lua_pushnil(L);
  lua_pushboolean(L, forcible);
  return 3;
}

/* dict:delete(key)   after: true */
static int rs__delete(lua_State *L) {
  rs_shdict_t *d = rs__self(L);
  size_t klen;
  const char *k = rs__key(L, 2, &klen);
  if (k == NULL) return 2;
  rs_shdict_delete(d, k, klen);
  lua_pushboolean(L, true);
  return 1;
}

/* dict:ttl(key)   after: seconds left (0 = never) | nil, "not found" */
static int rs__ttl(lua_State *L) {
  rs_shdict_t *d = rs__self(L);
  size_t klen;
  const char *k = rs__key(L, 2, &klen);
  if (k == NULL) return 2;
  uint64_t ms;
  if (rs_shdict_ttl(d, k, klen, &ms) != 0) {
    lua_pushnil(L);
    lua_pushliteral(L, "not found");
    return 2;
  }
  lua_pushnumber(L, (lua_Number)ms / 1000.0);
  return 1;
}

/* dict:expire(key, exptime)   after: true | nil, "not found" */
static int rs__expire(lua_State *L) {
  rs_shdict_t *d = rs__self(L);
  size_t klen;
  const char *k = rs__key(L, 2, &klen);
  if (k == NULL) return 2;
  uint64_t ttl = rs__exptime(L, 3);
  if (rs_shdict_expire(d, k, klen, ttl) != 0) {
    lua_pushnil(L);
    lua_pushliteral(L, "not found");
    return 2;
  }
  lua_pushboolean(L, true);
  return 1;
}

/* dict:flush_all()   after: (nothing) */
static int rs__flush_all(lua_State *L) {
  rs_shdict_flush_all(rs__self(L));
  return 0;
}

typedef struct {
  char *buf;                     /* the keys, each after its length */
  size_t len, cap;
} rs__keys_t;

static void rs__collect(void *ud, const char *key, size_t klen) {
  rs__keys_t *k = ud;
  if (k->len + sizeof(size_t) + klen > k->cap) {
    size_t cap = RS_MAX(k->cap * 2, k->len + sizeof(size_t) + klen + 256);
    char *p = realloc(k->buf, cap);
    if (p == NULL) return;       /* dropped: the list is a best effort under memory pressure */
    k->buf = p;
    k->cap = cap;
  }
  memcpy(k->buf + k->len, &klen, sizeof(size_t));
  memcpy(k->buf + k->len + sizeof(size_t), key, klen);
  k->len += sizeof(size_t) + klen;
}

/* dict:get_keys([max])   after: { key, ... } (max default 1024, 0 = all) */
static int rs__get_keys(lua_State *L) {
  rs_shdict_t *d = rs__self(L);
  lua_Integer max = luaL_optinteger(L, 2, 1024);
  if (max < 0) luaL_argerror(L, 2, "max must be 0 (all) or more");
  lua_newtable(L);
  /* Gathered under the dictionary's lock with malloc only (a Lua error
   * there would leave the lock held), then copied out: an out-of-memory
   * error while copying leaks k.buf, once. */
  rs__keys_t k = { 0 };
  size_t n = rs_shdict_keys(d, (size_t)max, rs__collect, &k);
  size_t off = 0;
  for (size_t i = 1; i <= n && off < k.len; i++) {
    size_t klen;
    memcpy(&klen, k.buf + off, sizeof(size_t));
    lua_pushlstring(L, k.buf + off + sizeof(size_t), klen);
    lua_rawseti(L, -2, (int)i);
    off += sizeof(size_t) + klen;
  }
  free(k.buf);
  return 1;
}

/* dict:capacity(), dict:free_space()   after: bytes */
static int rs__capacity(lua_State *L) {
  lua_pushnumber(L, (lua_Number)rs_shdict_capacity(rs__self(L)));
  return 1;
}
static int rs__free_space(lua_State *L) {
  rs_shdict_t *d = rs__self(L);
  size_t cap = rs_shdict_capacity(d), used = rs_shdict_used(d);
  lua_pushnumber(L, (lua_Number)(used < cap ? cap - used : 0));
  return 1;
}

static int rs__gc(lua_State *L) {
  rs__ud_t *u = lua_touserdata(L, 1);
  rs_shdict_release(u->d);
  u->d = NULL;
  return 0;
}

static int rs__tostring(lua_State *L) {
  lua_pushfstring(L, "ssr.shared.%s", rs_shdict_name(rs__self(L)));
  return 1;
}

/* ssr.shared's __index: (t, name)   after: the dictionary | nil. Found in
 * the state's config, then kept in t. */
static int rs__index(lua_State *L) {
  if (lua_type(L, 2) != LUA_TSTRING) return 0;
  size_t len;
  const char *name = lua_tolstring(L, 2, &len);
  const rs_config_t *cfg = rs_lconfig_ctx(L)->cfg;
  rs_shdict_t *found = NULL;
  for (size_t i = 0; cfg != NULL && i < cfg->nshared; i++)
    if (strlen(cfg->shared[i].name) == len && memcmp(cfg->shared[i].name, name, len) == 0)
      found = cfg->shared[i].dict;
  if (found == NULL) return 0;
  rs__ud_t *u = lua_newuserdata(L, sizeof(*u));
  u->d = NULL;
  luaL_getmetatable(L, RS__MT);
  lua_setmetatable(L, -2);
  u->d = rs_shdict_find(name, len);   /* its own reference: the state may outlive cfg's */
  lua_pushvalue(L, 2);
  lua_pushvalue(L, -2);
  lua_rawset(L, 1);
  return 1;
}

void rs_lshared_register(lua_State *L, int module_idx) {
  static const struct {
    const char *name;
    int mode;
    bool safe;
  } stores[] = {
    { "set", RS_SHDICT_SET, false }, { "safe_set", RS_SHDICT_SET, true },
    { "add", RS_SHDICT_ADD, false }, { "safe_add", RS_SHDICT_ADD, true },
    { "replace", RS_SHDICT_REPLACE, false },
  };
  static const luaL_Reg methods[] = {
    { "get", rs__get }, { "incr", rs__incr }, { "delete", rs__delete }, { "ttl", rs__ttl },
    { "expire", rs__expire }, { "flush_all", rs__flush_all }, { "get_keys", rs__get_keys },
    { "capacity", rs__capacity }, { "free_space", rs__free_space }, { NULL, NULL },
  };
  luaL_newmetatable(L, RS__MT);
  lua_pushcfunction(L, rs__gc);
  lua_setfield(L, -2, "__gc");
  lua_pushcfunction(L, rs__tostring);
  lua_setfield(L, -2, "__tostring");
  lua_newtable(L);
  for (size_t i = 0; methods[i].name != NULL; i++) {
    lua_pushcfunction(L, methods[i].func);
    lua_setfield(L, -2, methods[i].name);
  }
  for (size_t i = 0; i < RS_ARRAY_SIZE(stores); i++) {
    lua_pushinteger(L, stores[i].mode);
    lua_pushboolean(L, stores[i].safe);
    lua_pushcclosure(L, rs__store, 2);
    lua_setfield(L, -2, stores[i].name);
  }
  lua_setfield(L, -2, "__index");
  lua_pushliteral(L, "ssr.shared dictionary");
  lua_setfield(L, -2, "__metatable");
  lua_pop(L, 1);

  lua_newtable(L);               /* ssr.shared */
  lua_createtable(L, 0, 1);
  lua_pushcfunction(L, rs__index);
  lua_setfield(L, -2, "__index");
  lua_setmetatable(L, -2);
  lua_setfield(L, module_idx, "shared");
}
