/* lua/rs_lutil.h — argument checks shared by the rustyssr Lua bindings.
 *
 * Every check raises a Lua error "FILE:LINE: message" where FILE:LINE is the
 * user's call (the innermost Lua function with a current line), never a C
 * frame. They allocate no C memory, so a raised error leaks nothing: callers
 * validate everything first and allocate last. All raw accesses: a config
 * table's metatable is not consulted. */
#ifndef RS_LUTIL_H
#define RS_LUTIL_H

#include <lua.h>
#include <lauxlib.h>

#include "rs_common.h"

/* "file:line" of the innermost Lua code on L's stack, or "" when there is
 * none (a C caller). Truncated to fit buf. */
void rs_lutil_where(lua_State *L, char *buf, size_t len);

/* Raise "where: message" (printf-style format). Never returns. */
void rs_lutil_error(lua_State *L, const char *fmt, ...)
    __attribute__((format(printf, 2, 3), noreturn));

/* A short human description of the value at idx for messages: `string
 * "lots"`, `number 1.5`, `boolean true`, `table`, `nil`. Does not touch the
 * stack (lua_tolstring would turn a number slot into a string). */
const char *rs_lutil_describe(lua_State *L, int idx, char *buf, size_t len);

/* Raise on any key of the table at idx that is not in keys (NULL-ended):
 * "unknown key 'listn' in ssr.config (did you mean 'listen'?)". */
void rs_lutil_check_keys(lua_State *L, int idx, const char *ctx,
                         const char *const *keys);

/* Push t[key] (raw) when it is not nil and return true; push nothing and
 * return false when it is nil. */
bool rs_lutil_field(lua_State *L, int idx, const char *key);

/* The value at idx as an integer in [min, max], or raise
 * "ctx: 'name' must be an integer between min and max, got ...". */
long long rs_lutil_int(lua_State *L, int idx, const char *ctx, const char *name,
                       long long min, long long max);

/* The value at idx as a byte count in [min, max]: an integer, or a size
 * string as rs_size_parse reads it ("64KB"). */
size_t rs_lutil_size(lua_State *L, int idx, const char *ctx, const char *name,
                     size_t min, size_t max);

/* The value at idx as a string with no NUL byte; raise "ctx: 'name' must be
 * WHAT, got ..." otherwise. The string stays owned by Lua: valid while the
 * value stays referenced. */
const char *rs_lutil_string(lua_State *L, int idx, const char *ctx,
                            const char *name, const char *what, size_t *len);

/* The line of the key path comps[0..n) ("cache", "ttl") in the Lua file
 * `file`, searched from line `from` up to the next top-level `ssr.`
 * statement: each key as `name =` (or ["name"] =) after the previous one.
 * 0 when not found (a key set through a variable, no such file). Any
 * thread; reads the file. */
int rs_lutil_key_line(const char *file, int from, const char *const *comps, int n);

/* rs_lutil_error names the offending key's line (rs_lutil_key_line) only
 * while a config file runs on this thread: rs_lconfig_run turns it on and
 * off, so a hook's error at request time never reads a file. */
void rs_lutil_set_loading(bool on);
/* ------------------------------------------------------------------ safety */

/* A state with a counting allocator: every byte it holds is counted, and an
 * allocation that would take it past its cap fails (Lua raises "not enough
 * memory", caught like any error by the protected call that runs the
 * code). The cap is 0 (none) until rs_lutil_state_cap sets it. lua_close
 * frees the counter with the state. Returns NULL when out of memory. */
lua_State *rs_lutil_state_new(void);
/* Set L's cap (bytes, 0 = none); the bytes it holds now. Owner thread. */
void rs_lutil_state_cap(lua_State *L, size_t cap);
size_t rs_lutil_state_used(lua_State *L);
size_t rs_lutil_state_limit(lua_State *L);

/* Recover from a Lua panic (an error raised outside any protected call,
 * e.g. by a __gc finalizer while C code allocates): L's panic handler logs
 * the error and longjmps to the innermost recovery point of this thread,
 * instead of letting LuaJIT exit the process. Arm one around unprotected
 * Lua API use; without one armed, the handler logs and aborts.
 *
 *   rs_lutil_recover_t r;
 *   if (RS_LUTIL_TRY(&r)) { ...API calls...; rs_lutil_recover_pop(&r); }
 *   else { ...the state's stack is garbage: reset it, fail the request... } */
#include <setjmp.h>
typedef struct rs_lutil_recover_s {
  jmp_buf jb;
  struct rs_lutil_recover_s *outer;
} rs_lutil_recover_t;
extern __thread rs_lutil_recover_t *rs_lutil_recover_top;
#define RS_LUTIL_TRY(r) \
  ((r)->outer = rs_lutil_recover_top, rs_lutil_recover_top = (r), setjmp((r)->jb) == 0 \
   ? 1 : (rs_lutil_recover_top = (r)->outer, 0))
static inline void rs_lutil_recover_pop(rs_lutil_recover_t *r) { rs_lutil_recover_top = r->outer; }

/* Bound the C stack that Lua code can recurse on: the library functions
 * that call back into Lua from C (string.gsub, table.sort, coroutine.resume
 * and wrap, load, string.format, print, require, tostring) are
 * replaced by guards that raise "C stack overflow" once this thread has
 * used all but a margin of its stack, so deep recursion through them is a
 * Lua error (caught, a 500) instead of a SIGSEGV. Lua stack unchanged. */
void rs_lutil_guard_cstack(lua_State *L);

/* Finalizers never raise: a __gc function set through newproxy's
 * metatable, ffi.gc or ffi.metatype runs protected, its error logged
 * ("Lua: error in a __gc finalizer (ignored): ...") instead of surfacing
 * in whatever Lua code the collector interrupted (LuaJIT 2.1-20230119
 * rethrows it there, failing an unrelated request, or panicking outside a
 * protected call). Lua stack unchanged. */
void rs_lutil_guard_gc(lua_State *L);

/* Bytes of C stack the calling thread has left (from pthread's bounds). */
size_t rs_lutil_cstack_left(void);

/* What ssr.fetch, ssr.fetch_all and ssr.sleep raise outside a request
 * hook (a format taking the function's name): the stubs of a state that
 * loads the config file (lua/rs_lconfig.c) and the calls themselves
 * (lua/rs_lfetch.c) say the same. */
#define RS_LUTIL_HOOK_ONLY "%s may be called only inside a request hook (not while the config file loads)"

#endif
