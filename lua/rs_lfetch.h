/* lua/rs_lfetch.h — non-blocking I/O for Lua hooks: ssr.fetch,
 * ssr.fetch_all and ssr.sleep (OpenResty's cosockets, lua-resty-http).
 *
 *   res, err = ssr.fetch(upstream_or_url, path, opts)
 *     opts = { method = "GET", headers = { name = value }, body = "...",
 *              timeout_ms = N }
 *     res = { status = 200, headers = { ["content-type"] = ... } (lower-case
 *             names, repeated ones joined with ", "), body = "..." }
 *     res:json() → the body decoded (or nil, err)
 *     err = rs_fetch_strerror's text: "timeout", "connection refused", ...
 *   results = ssr.fetch_all({ { target, path, opts }, ... })
 *     all in parallel; results[i] = { res = res, err = err }, in order.
 *   ssr.sleep(seconds)
 *
 * Each yields the request's coroutine (lua/rs_lhooks.h) to the loop and is
 * resumed by the completions (core/upstream/rs_upstream.h, a uv timer). Called
 * outside a request hook (e.g. while the config file loads) they raise a
 * clear error. Loop thread. */
#ifndef RS_LFETCH_H
#define RS_LFETCH_H

#include <lua.h>

#include "rs_lhooks.h"

/* Set fetch, fetch_all and sleep in the module table at module_idx, bound
 * to h (lua/rs_lhooks_setup.c, once the loop's state ran the file; the
 * state that loads a config file has stubs that raise instead,
 * lua/rs_lconfig.c). */
void rs_lfetch_register(lua_State *L, int module_idx, rs_lhooks_t *h);

/* A wait for another module's answer (ssr.purge: whether the fleet took
 * the purge): from a C function called by the running hook's own thread,
 * which then returns lua_yield(L, 0). NULL when the caller cannot yield
 * here (no request hook runs, or L is a coroutine the hook made). cancel(ud)
 * is called if the request goes first (the other module must then not call
 * rs_lfetch_wait_done); else the module calls rs_lfetch_wait_done once, on
 * the loop, and the hook resumes with n (ok) or nil, err. */
struct rs_lop_s;
struct rs_lop_s *rs_lfetch_wait(lua_State *L, void (*cancel)(void *ud), void *ud);
void rs_lfetch_wait_done(struct rs_lop_s *op, bool ok, double n, const char *err);

/* Cancel c's pending operations (a hook state calls it through
 * c->_cancel, which every call of this module sets). */
void rs_lfetch_cancel_all(rs_lreq_t *c);

#endif
