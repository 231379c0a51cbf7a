/* core/gateway/rs_page.h — rendered pages through the two-tier cache: the key,
 * L1 then L2, one render per key (coalescing), stale-while-revalidate and
 * stale-if-error, what may be stored, and HTTP on a hit (Age, ETag → 304,
 * Vary: Accept-Encoding with the best stored variant, HEAD, X-Cache).
 *
 *   request ─▶ bypass? (Authorization, Cookie) ─▶ render, X-Cache: BYPASS
 *        │
 *        ▼ key = "GET host/path?sorted query" (core/cache/rs_key.h)
 *      L1 (this loop, no locks) ── fresh ─▶ HIT-L1
 *        │
 *      L2 (shard lock) ── fresh ─▶ HIT-L2 (and into L1)
 *        │            ── stale, in grace ─▶ STALE (+ one background refresh)
 *        │
 *      in flight? ── yes ─▶ wait for it (answered with its page: MISS)
 *        │ no
 *      render (the leader) ─▶ entry built on the render thread (variants)
 *        ─▶ L2 + L1 ─▶ answer the leader (MISS) and every waiter
 *
 * Loop threads only, except where a function says otherwise. */
#ifndef RS_PAGE_H
#define RS_PAGE_H

#include "rs_cache.h"
#include "rs_config.h"
#include "rs_conn.h"
#include "rs_l1.h"
#include "rs_router.h"

/* The shared tier (cache.shared, core/fleet/rs_fleet.h), process-wide:
 * started on the main loop before the loop threads start (then every
 * rs_page_loop_init takes its part), stopped after they have ended. Purges
 * of the local cache (rs_purge) then reach every instance, and theirs this
 * one. No-op without cache.shared. */
void rs_page_fleet_start(uv_loop_t *main, struct rs_cache_s *cache, const rs_config_t *cfg);
void rs_page_fleet_stop(void);
void rs_page_fleet_collect(rs_buf_t *out, rs_loop_t **loops, int nloops);

/* Set up / tear down the loop's page state (its L1, counters and free
 * lists, in the loop's slot of the page module: rs_page_int.h). On the
 * loop's thread (or before it runs). */
void rs_page_loop_init(rs_loop_t *loop);
void rs_page_loop_dispose(rs_loop_t *loop);
/* On the loop's thread, once, before it serves. */
void rs_page_loop_thread(rs_loop_t *loop);

/* The render action through the cache. The route's Lua hooks (bypass,
 * key, props) run in the request's coroutine; one that yields (ssr.fetch,
 * ssr.sleep) suspends the flow, which goes on when it finishes. A hook
 * that fails answers 500; one that calls req:exit answers with its answer
 * (a leader's flight then fails and its waiters render their own). A hit
 * never runs the props hook. */
void rs_page_request(rs_req_t *req, const rs_route_t *route);

/* A proxy route (RS_ACTION_PROXY) through the page cache: when the route
 * gives a ttl > 0, the cache is on and req is GET or HEAD, answers req like a
 * render route whose pages come from a GET to the upstream (stored when
 * rs_policy_storable says; an upstream's Content-Encoding is answered as
 * it is and never stored), and returns true; else false (stream it). */
bool rs_page_proxy_cached(rs_req_t *req, const rs_route_t *route);

/* Render req without the cache (extra: an X-Cache line or NULL), after the
 * route's props hook, which may wait. */
void rs_page_uncached(rs_req_t *req, const rs_route_t *route, const char *extra);

/* Answer req from e (a reference the answer takes over: release(ud) runs
 * when written). xcache is the X-Cache value ("HIT-L1", "MISS", ...).
 * If-None-Match → 304; Accept-Encoding picks the variant. */
void rs_page_respond_entry(rs_req_t *req, rs_entry_t *e, const char *xcache,
                           void (*release)(void *ud), void *ud);

/* Metrics collector over every loop of the server (main thread). */
void rs_page_collect(rs_buf_t *out, rs_loop_t **loops, int nloops, struct rs_cache_s *cache);

#endif
