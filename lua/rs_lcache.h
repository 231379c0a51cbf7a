/* lua/rs_lcache.h — the page cache from Lua: a route's declarative cache
 * policy (options of ssr.route, read at load into route->cache) and
 * ssr.purge (at request time, on a loop thread).
 *
 *   ssr.route("GET", "/catalog/:slug", { render = true,
 *     ttl = 300, grace = 60,                      -- as render.ttl / render.grace
 *     bypass = { cookie = "session", header = { "X-Preview" }, query = "preview" },
 *     tags = { "catalog" },                       -- added to every page stored
 *     cache_statuses = { 200, 404, 410 },         -- default 200, 301, 302, 404
 *     cache_cookie = true, cache_authorization = false,
 *     headers = { "accept-language" },            -- join the key, reach the bundle
 *     cookies = { "currency", "lang" },           -- the same for these cookies; no
 *                                                 -- other cookie bypasses or reaches it
 *     cache_control = "public, max-age=60",       -- sent downstream with its pages
 *     s_maxage = 300, stale_while_revalidate = 30 })
 *
 *   ssr.purge { tag = "catalog" }  → number of pages removed, or nil, err
 *   (also key =, prefix =, url = "/path?q" with host =, all = true)
 *
 * Policy options are checked in two steps so that a bad value raises before
 * anything is allocated (lua/rs_lutil.h's rule): rs_lcache_policy_check
 * validates the options table and keeps only counts; rs_lcache_policy_build,
 * after the route exists, copies the lists into route->cache (one block,
 * route->cache._mem). Main thread or a loop thread's state, while the config
 * file runs. */
#ifndef RS_LCACHE_H
#define RS_LCACHE_H

#include <lua.h>

#include "rs_router.h"

struct rs_cache_s;
struct rs_config_s;

typedef struct {
  int opts;                      /* stack index of the options table (0 = none) */
  const char *first;             /* the first policy key given, for messages; NULL = none */
  int64_t ttl_ms, grace_ms;      /* -1 = not given */
  bool bypass_table;             /* bypass = { ... } (a function is a hook: lua/rs_lhooks.h) */
  size_t mem;                    /* bytes route->cache._mem needs */
  /* private */
  size_t _n[6];                  /* bypass cookie, header, query; tags; headers; cookies */
  int64_t _s_maxage, _swr;       /* -1 = not given */
  bool _cookies;                 /* cookies = ... given ({} included) */
} rs_lcache_policy_t;

/* Check the policy keys of the options table at opts (absolute index) and
 * fill *p. Raises "FILE:LINE: fn: reason" on a wrong type or value. Leaves
 * the stack as it was; allocates nothing. */
void rs_lcache_policy_check(lua_State *L, int opts, const char *fn, rs_lcache_policy_t *p);

/* Before the route is allocated: raise when policy keys were given to an
 * action that does not cache (any but render and proxy), or ttl / grace
 * both at the top level and in render = {...}; else merge the top-level
 * ttl / grace into *ttl_ms / *grace_ms (render's, -1 when not given). */
void rs_lcache_policy_finish(lua_State *L, const rs_lcache_policy_t *p, const char *fn,
                             rs_action_t action, int64_t *ttl_ms, int64_t *grace_ms);

/* Fill r->cache from the table p was checked on (still at p->opts). Raises
 * nothing (the table was checked). */
void rs_lcache_policy_build(lua_State *L, const rs_lcache_policy_t *p, rs_route_t *r);

/* ssr.config's cache = { on_new_bundle = "stale" | "keep" | "purge",
 * version = "..." } from the cache table at t (the other cache keys are
 * lua/rs_lconfig.c's): checked and set into c; version is copied (owned by
 * c) only when commit is set, so that a call that raises allocates
 * nothing. */
void rs_lcache_config(lua_State *L, int t, struct rs_config_s *c, bool commit);

/* error_page = { [404] = "/404", [500] = "errors/50x.html", ... } at idx, for
 * a route (fn "ssr.route") or the whole config ("ssr.config"): statuses
 * 300..599; a target starting with '/' is a path the bundle renders (the
 * answer keeps the status), anything else a file (relative to dir, the
 * config file's folder), read now (up to 1 MB). Raises on any error before
 * allocating; returns the table when build is set, else NULL. */
rs_errpages_t *rs_lcache_errpages(lua_State *L, int idx, const char *fn, const char *dir, bool build);

/* Register ssr.purge in the module table at module_idx, with the module
 * state (lua/rs_lconfig.h) at ctx_idx as upvalue. Called for every state;
 * ssr.purge raises unless called on a loop thread (rs_lcache_thread_init)
 * after its state finished loading the file: at load it is an error. */
void rs_lcache_register(lua_State *L, int module_idx, int ctx_idx);

/* Tell this thread's ssr.purge which cache it purges (NULL: caching is
 * off; ssr.purge then returns nil, err). Each loop thread, once, before
 * its Lua state is created. The L2 is shared: a purge from any loop
 * reaches every loop's L1 through the dead flags and purge epochs. */
void rs_lcache_thread_init(struct rs_cache_s *cache);

#endif
