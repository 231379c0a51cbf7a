/* lua/rs_lutil.c — see rs_lutil.h. */
#define _GNU_SOURCE 1            /* pthread_getattr_np */
#include "rs_lutil.h"

#include <lauxlib.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rs_config.h"
#include "rs_log.h"

void rs_lutil_where(lua_State *L, char *buf, size_t len) {
  lua_Debug ar;
  buf[0] = '\0';
  /* Level 0 is the running C function; the first frame with a line is the
   * user's call, even when a C function such as pcall sits between. */
  for (int level = 1; lua_getstack(L, level, &ar); level++) {
    lua_getinfo(L, "Sl", &ar);
    if (ar.currentline > 0) {
      snprintf(buf, len, "%s:%d", ar.short_src, ar.currentline);
      return;
    }
  }
}

/* ------------------------------------------------------------------ the key's line
 *
 * A table's keys carry no line in Lua: an error about `ttll` inside a
 * 60-line ssr.config { ... } would name the line of the call. The message
 * names the key ('ttll', 'log.level', "unknown key 'x' in ssr.config.cache"),
 * so the source file is searched from the call's line for that path of
 * keys, each `name =` (or ["name"] =) after the previous one, up to the next
 * top-level `ssr.` statement. Not found (a key set through a variable, a
 * chunk that is not a file): the call's line stays. */

static bool rs__is_name_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

/* Does line assign key (`key =`, `key=`, `["key"] =`), outside a comment? */
static bool rs__line_has_key(const char *line, const char *key, size_t klen) {
  const char *comment = strstr(line, "--");
  for (const char *p = line; (p = strstr(p, key)) != NULL; p++) {
    if (comment != NULL && p > comment) return false;
    bool quoted = p > line && (p[-1] == '"' || p[-1] == '\'');
    if (!quoted && p > line && (rs__is_name_char(p[-1]) || p[-1] == '.')) continue;
    const char *q = p + klen;
    if (quoted) {
      if (*q != p[-1] || q[1] != ']') continue;
      q += 2;
    } else if (rs__is_name_char(*q)) {
      continue;
    }
    while (*q == ' ' || *q == '\t') q++;
    if (q[0] == '=' && q[1] != '=') return true;
  }
  return false;
}

int rs_lutil_key_line(const char *file, int from, const char *const *comps, int n) {
  FILE *f = fopen(file, "re");
  if (f == NULL) return 0;
  char line[1024];
  int lineno = 0, found = 0, i = 0;
  while (i < n && fgets(line, sizeof(line), f) != NULL) {
    if (++lineno < from) continue;
    const char *t = line;
    while (*t == ' ' || *t == '\t') t++;
    if (lineno > from && strncmp(t, "ssr.", 4) == 0) break;  /* the next statement */
    /* One line may hold several levels: cache = { ttll = 5 }. */
    while (i < n && rs__line_has_key(line, comps[i], strlen(comps[i]))) found = lineno, i++;
  }
  fclose(f);
  return i == n ? found : 0;
}

/* Split the key path the message names into comps; returns how many. */
static int rs__message_keys(const char *msg, char comps[][64], int max) {
  int n = 0;
  const char *in = strstr(msg, " in ssr.config.");
  if (in != NULL) {                /* "unknown key 'x' in ssr.config.cache.l1" */
    const char *p = in + strlen(" in ssr.config.");
    while (n < max && rs__is_name_char(*p)) {
      size_t k = 0;
      while (rs__is_name_char(*p) && k < 63) comps[n][k++] = *p++;
      comps[n++][k] = '\0';
      if (*p == '.') p++;
    }
  }
  const char *q = strchr(msg, '\'');
  if (q == NULL) return 0;
  q++;
  while (n < max && rs__is_name_char(*q)) {
    size_t k = 0;
    while (rs__is_name_char(*q) && k < 63) comps[n][k++] = *q++;
    comps[n++][k] = '\0';
    if (*q == '.') q++;
  }
  return *q == '\'' ? n : 0;
}

static int rs__find_key_line(const char *file, int from, char comps[][64], int n) {
  const char *c[4];
  for (int i = 0; i < n && i < 4; i++) c[i] = comps[i];
  return rs_lutil_key_line(file, from, c, n);
}

/* Set while a config file runs (rs_lconfig_run): only then is the source
 * read for a key's line. A hook raising at request time must not read
 * files on a loop thread. */
static _Thread_local bool rs__loading;

void rs_lutil_set_loading(bool on) { rs__loading = on; }

void rs_lutil_error(lua_State *L, const char *fmt, ...) {
  char msg[512], where[LUA_IDSIZE + 16];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof(msg), fmt, ap);
  va_end(ap);
  rs_lutil_where(L, where, sizeof(where));
  /* A file-loaded chunk: name the key's own line when it can be found. */
  lua_Debug ar;
  char comps[4][64];
  int n = rs__loading ? rs__message_keys(msg, comps, 4) : 0;
  for (int level = 1; n > 0 && lua_getstack(L, level, &ar); level++) {
    lua_getinfo(L, "Sl", &ar);
    if (ar.currentline <= 0) continue;
    int line = ar.source[0] == '@' ? rs__find_key_line(ar.source + 1, ar.currentline, comps, n) : 0;
    if (line > 0) snprintf(where, sizeof(where), "%s:%d", ar.short_src, line);
    break;
  }
  if (where[0]) lua_pushfstring(L, "%s: %s", where, msg);
  else lua_pushstring(L, msg);
  lua_error(L);
  __builtin_unreachable();
}

const char *rs_lutil_describe(lua_State *L, int idx, char *buf, size_t len) {
  switch (lua_type(L, idx)) {
    case LUA_TSTRING: {
      size_t n;
      const char *s = lua_tolstring(L, idx, &n);
      if (n > 40) snprintf(buf, len, "string \"%.37s...\"", s);
      else snprintf(buf, len, "string \"%.*s\"", (int)n, s);
      break;
    }
    case LUA_TNUMBER:
      snprintf(buf, len, "number %.14g", (double)lua_tonumber(L, idx));
      break;
    case LUA_TBOOLEAN:
      snprintf(buf, len, "boolean %s", lua_toboolean(L, idx) ? "true" : "false");
      break;
    default:
      snprintf(buf, len, "%s", lua_typename(L, lua_type(L, idx)));
      break;
  }
  return buf;
}

/* Levenshtein distance, for "did you mean". Keys are short; longer words
 * count as far apart. */
static size_t rs__distance(const char *a, const char *b) {
  size_t la = strlen(a), lb = strlen(b);
  if (la > 31 || lb > 31) return SIZE_MAX;
  size_t row[32];
  for (size_t j = 0; j <= lb; j++) row[j] = j;
  for (size_t i = 1; i <= la; i++) {
    size_t diag = row[0];
    row[0] = i;
    for (size_t j = 1; j <= lb; j++) {
      size_t up = row[j];
      size_t best = diag + (a[i - 1] != b[j - 1]);
      if (row[j] + 1 < best) best = row[j] + 1;
      if (row[j - 1] + 1 < best) best = row[j - 1] + 1;
      row[j] = best;
      diag = up;
    }
  }
  return row[lb];
}

void rs_lutil_check_keys(lua_State *L, int idx, const char *ctx,
                         const char *const *keys) {
  idx = idx < 0 ? lua_gettop(L) + idx + 1 : idx;
  char desc[64];
  lua_pushnil(L);
  while (lua_next(L, idx)) {
    lua_pop(L, 1);                           /* the value */
    if (lua_type(L, -1) != LUA_TSTRING)
      rs_lutil_error(L, "unknown key [%s] in %s",
                     rs_lutil_describe(L, -1, desc, sizeof(desc)), ctx);
    const char *k = lua_tostring(L, -1);
    const char *near = NULL;
    size_t near_d = SIZE_MAX;
    bool known = false;
    for (const char *const *p = keys; *p; p++) {
      if (strcmp(k, *p) == 0) { known = true; break; }
      /* "header" for "header_ms": a missing suffix counts as one typo. */
      size_t d = strlen(k) >= 3 && strncmp(k, *p, strlen(k)) == 0 ? 1 : rs__distance(k, *p);
      if (d < near_d) { near_d = d; near = *p; }
    }
    if (known) continue;
    /* Two typos in a three-letter key is another word, not a typo. */
    if (near != NULL && near_d <= 2 && 2 * near_d <= strlen(near))
      rs_lutil_error(L, "unknown key '%.64s' in %s (did you mean '%s'?)", k, ctx, near);
    rs_lutil_error(L, "unknown key '%.64s' in %s", k, ctx);
  }
}

bool rs_lutil_field(lua_State *L, int idx, const char *key) {
  idx = idx < 0 ? lua_gettop(L) + idx + 1 : idx;
  lua_pushstring(L, key);
  lua_rawget(L, idx);
  if (!lua_isnil(L, -1)) return true;
  lua_pop(L, 1);
  return false;
}

long long rs_lutil_int(lua_State *L, int idx, const char *ctx, const char *name,
                       long long min, long long max) {
  char desc[64];
  if (lua_type(L, idx) == LUA_TNUMBER) {
    lua_Number n = lua_tonumber(L, idx);
    /* The range test first: it also refuses NaN and keeps the cast defined. */
    if (n >= (lua_Number)min && n <= (lua_Number)max && n == floor(n))
      return (long long)n;
  }
  rs_lutil_error(L, "%s: '%s' must be an integer between %lld and %lld, got %s",
                 ctx, name, min, max, rs_lutil_describe(L, idx, desc, sizeof(desc)));
}

size_t rs_lutil_size(lua_State *L, int idx, const char *ctx, const char *name,
                     size_t min, size_t max) {
  char desc[64];
  size_t v = 0;
  bool ok = false;
  if (lua_type(L, idx) == LUA_TNUMBER) {
    lua_Number n = lua_tonumber(L, idx);
    /* 2^63 is exact as a double; anything at or past it is out anyway. */
    if (n >= 0 && n < 9223372036854775808.0 && n == floor(n)) {
      v = (size_t)n;
      ok = true;
    }
  } else if (lua_type(L, idx) == LUA_TSTRING) {
    ok = rs_size_parse(lua_tostring(L, idx), &v) == 0;
  }
  if (!ok || v < min || v > max)
    rs_lutil_error(L, "%s: '%s' must be a size between %zu and %zu bytes "
                   "(a number, or a string like \"64KB\"), got %s",
                   ctx, name, min, max, rs_lutil_describe(L, idx, desc, sizeof(desc)));
  return v;
}

const char *rs_lutil_string(lua_State *L, int idx, const char *ctx,
                            const char *name, const char *what, size_t *len) {
  char desc[64];
  size_t n = 0;
  const char *s = NULL;
  if (lua_type(L, idx) == LUA_TSTRING) s = lua_tolstring(L, idx, &n);
  if (s == NULL || strlen(s) != n)
    rs_lutil_error(L, "%s: '%s' must be %s, got %s", ctx, name, what,
                   rs_lutil_describe(L, idx, desc, sizeof(desc)));
  if (len) *len = n;
  return s;
}

/* ------------------------------------------------------------------ safety */

typedef struct {
  size_t used;                   /* bytes held by the state */
  size_t cap;                    /* 0 = none */
} rs__alloc_t;

/* lua_Alloc. The state's last free (its global block, in lua_close) brings
 * used back to 0: the counter goes with it. */
static void *rs__alloc(void *ud, void *ptr, size_t osize, size_t nsize) {
  rs__alloc_t *a = ud;
  if (nsize == 0) {
    if (ptr != NULL) {
      free(ptr);
      a->used -= osize;
      if (a->used == 0) free(a);
    }
    return NULL;
  }
  size_t old = ptr != NULL ? osize : 0;
  if (a->cap != 0 && nsize > old && a->used + (nsize - old) > a->cap) return NULL;
  void *p = realloc(ptr, nsize);
  if (p != NULL) a->used = a->used - old + nsize;
  return p;
}

__thread rs_lutil_recover_t *rs_lutil_recover_top;

static int rs__panic(lua_State *L) {
  const char *msg = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : "(error object is not a string)";
  rs_lutil_recover_t *r = rs_lutil_recover_top;
  if (r != NULL) {
    rs_log_error("Lua: error outside a protected call (in a __gc finalizer?), recovered: %s", msg);
    rs_lutil_recover_top = r->outer;
    longjmp(r->jb, 1);
  }
  rs_log_error("Lua: error outside a protected call, no recovery point: %s", msg);
  abort();
}

lua_State *rs_lutil_state_new(void) {
  rs__alloc_t *a = calloc(1, sizeof(*a));
  if (a == NULL) return NULL;
  lua_State *L = lua_newstate(rs__alloc, a);
  if (L == NULL) {
    if (a->used == 0) free(a);   /* else freed with the last block already */
    return NULL;
  }
  lua_atpanic(L, rs__panic);
  return L;
}

void rs_lutil_state_cap(lua_State *L, size_t cap) {
  void *ud;
  if (lua_getallocf(L, &ud) == rs__alloc) ((rs__alloc_t *)ud)->cap = cap;
}

size_t rs_lutil_state_used(lua_State *L) {
  void *ud;
  return lua_getallocf(L, &ud) == rs__alloc ? ((rs__alloc_t *)ud)->used : 0;
}

size_t rs_lutil_state_limit(lua_State *L) {
  void *ud;
  return lua_getallocf(L, &ud) == rs__alloc ? ((rs__alloc_t *)ud)->cap : 0;
}

/* The lowest address this thread may use on its stack, margin included. */
static __thread char *rs__stack_floor;

size_t rs_lutil_cstack_left(void) {
  char here;
  if (rs__stack_floor == NULL) {
    pthread_attr_t at;
    void *lo = NULL;
    size_t size = 0;
    if (pthread_getattr_np(pthread_self(), &at) == 0) {
      pthread_attr_getstack(&at, &lo, &size);
      pthread_attr_destroy(&at);
    }
    if (lo == NULL || size == 0) return SIZE_MAX;
    /* A quarter of the stack (at least 256 KB) is left for what runs
     * unguarded: Lua's own C frames, the error path, a log line. */
    size_t margin = RS_MAX(size / 4, (size_t)256 << 10);
    rs__stack_floor = (char *)lo + RS_MIN(margin, size / 2);
  }
  return &here > rs__stack_floor ? (size_t)(&here - rs__stack_floor) : 0;
}

/* Upvalues: the original function, its name.
 * Lua stack before: args...   after: its results */
static int rs__guarded(lua_State *L) {
  if (rs_lutil_cstack_left() == 0)
    return luaL_error(L, "C stack overflow: recursion through %s too deep", lua_tostring(L, lua_upvalueindex(2)));
  int n = lua_gettop(L);
  lua_pushvalue(L, lua_upvalueindex(1));
  lua_insert(L, 1);
  lua_call(L, n, LUA_MULTRET);
  return lua_gettop(L);
}

/* coroutine.wrap's function, guarded too (it resumes from C).
 * Lua stack before: f   after: guarded wrapper */
static int rs__guarded_wrap(lua_State *L) {
  int n = lua_gettop(L);
  lua_pushvalue(L, lua_upvalueindex(1));
  lua_insert(L, 1);
  lua_call(L, n, 1);
  lua_pushliteral(L, "a coroutine.wrap function");
  lua_pushcclosure(L, rs__guarded, 2);
  return 1;
}

static void rs__guard(lua_State *L, const char *lib, const char *name) {
  if (lib != NULL) {
    lua_getglobal(L, lib);
    if (!lua_istable(L, -1)) {
      lua_pop(L, 1);
      return;
    }
  } else {
    lua_pushvalue(L, LUA_GLOBALSINDEX);
  }
  lua_getfield(L, -1, name);
  if (lua_isfunction(L, -1)) {
    bool wrap = lib != NULL && strcmp(lib, "coroutine") == 0 && strcmp(name, "wrap") == 0;
    if (wrap) {
      lua_pushcclosure(L, rs__guarded_wrap, 1);
    } else {
      lua_pushfstring(L, "%s%s%s", lib ? lib : "", lib ? "." : "", name);
      lua_pushcclosure(L, rs__guarded, 2);
    }
    lua_setfield(L, -2, name);
  } else {
    lua_pop(L, 1);
  }
  lua_pop(L, 1);
}

void rs_lutil_guard_cstack(lua_State *L) {
  static const char *const fns[][2] = {
    { "string", "gsub" }, { "string", "format" }, { "table", "sort" }, { "coroutine", "resume" },
    { "coroutine", "wrap" }, { NULL, "load" }, { NULL, "print" }, { NULL, "require" },
    { NULL, "tostring" },
  };
  /* Not pcall and xpcall: LuaJIT runs them in the VM (no C recursion), and
   * a C guard around them would stop hooks from yielding (ssr.fetch)
   * inside a pcall. */
  for (size_t i = 0; i < RS_ARRAY_SIZE(fns); i++) rs__guard(L, fns[i][0], fns[i][1]);
  /* The string methods ("x"):gsub(...) go through the string metatable's
   * __index, which is the string table itself: already guarded. */
}

/* ------------------------------------------------------------------ finalizers */

/* A finalizer, called protected: its error is logged and goes no further
 * (what Lua 5.4 and later LuaJIT do). Upvalue: the user's function.
 * Lua stack before: the object   after: (nothing) */
static int rs__gc_safe(lua_State *L) {
  int n = lua_gettop(L);
  lua_pushvalue(L, lua_upvalueindex(1));
  lua_insert(L, 1);
  if (lua_pcall(L, n, 0, 0) != 0) {
    const char *msg = lua_tostring(L, -1);
    rs_log_error("Lua: error in a __gc finalizer (ignored): %s", msg ? msg : "(error object is not a string)");
  }
  return 0;
}

/* Replace the function at idx by its protected form. */
static void rs__gc_wrap_at(lua_State *L, int idx) {
  lua_pushvalue(L, idx);
  lua_pushcclosure(L, rs__gc_safe, 1);
  lua_replace(L, idx);
}

/* The metatable of newproxy(true)'s metatables: `mt.__gc = f` stores f's
 * protected form. Lua stack before: mt, key, value   after: (nothing) */
static int rs__mt_newindex(lua_State *L) {
  if (lua_type(L, 2) == LUA_TSTRING && strcmp(lua_tostring(L, 2), "__gc") == 0 && lua_isfunction(L, 3))
    rs__gc_wrap_at(L, 3);
  lua_settop(L, 3);
  lua_rawset(L, 1);
  return 0;
}

/* newproxy(arg). Upvalues: the original, the metatables' metatable. */
static int rs__newproxy(lua_State *L) {
  bool fresh = lua_type(L, 1) == LUA_TBOOLEAN && lua_toboolean(L, 1);
  lua_settop(L, 1);
  lua_pushvalue(L, lua_upvalueindex(1));
  lua_insert(L, 1);
  lua_call(L, 1, 1);
  if (fresh && lua_getmetatable(L, -1)) {
    lua_pushvalue(L, lua_upvalueindex(2));
    lua_setmetatable(L, -2);
    lua_pop(L, 1);
  }
  return 1;
}

/* ffi.gc(cdata, f). Upvalue: the original. */
static int rs__ffi_gc(lua_State *L) {
  lua_settop(L, 2);
  if (lua_isfunction(L, 2)) rs__gc_wrap_at(L, 2);
  lua_pushvalue(L, lua_upvalueindex(1));
  lua_insert(L, 1);
  lua_call(L, 2, 1);
  return 1;
}

/* ffi.metatype(ct, mt). Upvalue: the original. */
static int rs__ffi_metatype(lua_State *L) {
  lua_settop(L, 2);
  if (lua_istable(L, 2)) {
    lua_getfield(L, 2, "__gc");
    if (lua_isfunction(L, -1)) {
      rs__gc_wrap_at(L, -1);
      lua_setfield(L, 2, "__gc");
    } else {
      lua_pop(L, 1);
    }
  }
  lua_pushvalue(L, lua_upvalueindex(1));
  lua_insert(L, 1);
  lua_call(L, 2, 1);
  return 1;
}

void rs_lutil_guard_gc(lua_State *L) {
  lua_getglobal(L, "newproxy");
  if (lua_isfunction(L, -1)) {
    lua_createtable(L, 0, 1);
    lua_pushcfunction(L, rs__mt_newindex);
    lua_setfield(L, -2, "__newindex");
    lua_pushcclosure(L, rs__newproxy, 2);
    lua_setglobal(L, "newproxy");
  } else {
    lua_pop(L, 1);
  }
  lua_getglobal(L, "package");
  lua_getfield(L, -1, "loaded");
  lua_getfield(L, -1, "ffi");
  if (lua_istable(L, -1)) {
    lua_getfield(L, -1, "gc");
    lua_pushcclosure(L, rs__ffi_gc, 1);
    lua_setfield(L, -2, "gc");
    lua_getfield(L, -1, "metatype");
    lua_pushcclosure(L, rs__ffi_metatype, 1);
    lua_setfield(L, -2, "metatype");
  }
  lua_pop(L, 3);
}
