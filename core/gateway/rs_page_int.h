/* core/gateway/rs_page_int.h — private to the files of the page module
 * (rs_page*.c; libuv's src/uv-common.h): the flight a render or a cached
 * proxy fetch owns for a key, the requests waiting on it, and the helpers
 * those files share. Nothing outside core/gateway/rs_page*.c includes it.
 *
 *   rs_page.c         the request's way through the cache (the hook sequence)
 *   rs_page_key.c     the key a request is looked up under
 *   rs_page_hit.c     the answer from a stored page (and its deferred variants)
 *   rs_page_flight.c  flights, their waiters, the render producer
 *   rs_page_proxy.c   the cached-proxy producer
 *   rs_page_stats.c   the cache's metrics
 *
 * Loop threads, except where a function says otherwise. */
#ifndef RS_PAGE_INT_H
#define RS_PAGE_INT_H

#include "rs_cache.h"
#include "rs_conn.h"
#include "rs_key.h"
#include "rs_pool.h"
#include "rs_router.h"

/* What a failed flight tells its waiters (rs_page_waiter_t.status), beside
 * an error status (a request's own flight failed: its waiters share its
 * answer, as they would have shared its page). */
enum {
  RS_PAGE__OWN = -1,             /* the page is not to be shared (a cookie...):
                                    render your own, uncached */
  RS_PAGE__AGAIN = -2,           /* a background flight (refresh) ended without a
                                    page: look the page up again, as if it had
                                    never run (its error is nobody's answer) */
};

/* A request waiting on another's render (RS_LOOKUP_MISS_WAIT). */
typedef struct rs_page_waiter_s {
  rs_waiter_t w;                 /* linked by the cache, woken by the completer */
  rs_task_t task;                /* runs on the waiter's loop */
  rs_req_t *req;
  const rs_route_t *route;
  rs_loop_t *loop;
  char *key;                     /* its key (heap), to look it up again */
  size_t klen;
  rs_entry_t *entry;             /* set by wake */
  int status;                    /* set by wake: error status, RS_PAGE__OWN or RS_PAGE__AGAIN */
} rs_page_waiter_t;

/* A render's part in the shared tier (core/fleet/rs_fleet.h): lead when it
 * holds the render lock (it stores its page there, or unlocks), from purge
 * sequence seq, as render rid. */
typedef struct {
  bool lead;
  uint64_t seq, rid;
} rs_page_l3_t;

/* The flight a leader (or a background refresh) owns. */
typedef struct {
  rs_loop_t *loop;
  const rs_config_t *cfg;        /* the generation's of the request it started from:
                                    the render thread reads it (never loop->cfg, which
                                    a reload switches) */
  rs_req_t *req;                 /* NULL for a background refresh */
  char *key;
  size_t key_len;
  uint64_t hash;
  const rs_route_t *route;       /* lives as long as the config the request came with */
  int64_t route_ttl_ms, route_grace_ms;
  uint64_t epoch;
  rs_entry_t *entry;             /* built on the render thread */
  bool storable;
  unsigned defer;                /* variants left for later (rs_entry.h) */
  uint64_t start_us;             /* the cached proxy's fetch start ($upstream_response_time) */
  rs_page_l3_t l3;
} rs_page_flight_t;

/* Per-loop counters (single writer, RS_COUNTER_ADD), summed on scrape. */
typedef struct rs_page_counters_s {
  uint64_t lookups;              /* cacheable requests looked up */
  uint64_t hits_l1, hits_l2, stale, misses;
  uint64_t coalesced;            /* misses that waited for another's render */
  uint64_t bypass;               /* not looked up (Authorization, Cookie) */
  uint64_t not_modified;         /* 304 answers */
  uint64_t uncacheable;          /* rendered pages not stored (Set-Cookie, …) */
  uint64_t refresh_failed;       /* background refreshes that failed (stale kept) */
  uint64_t hits_l3;              /* misses answered from the shared tier */
  uint64_t l3_waits;             /* shared-tier lookups asked again while another
                                    instance rendered */
} __attribute__((aligned(RS_CACHELINE))) rs_page_counters_t;

/* The page module's state on one loop (loop->slots[rs_page__slot], made by
 * rs_page_loop_init): its counters, its L1 and what it recycles. */
typedef struct {
  rs_page_counters_t c;          /* first: aligned, summed on scrape (rs_page_stats.c) */
  struct rs_l1_s *l1;            /* this loop's L1, NULL when off */
  struct rs_page_waiter_s *spare; /* a waiter ready for the next lookup */
  struct rs__pflow_s *flows;     /* request flows ready for reuse (rs_page.c) */
  size_t nflows;
  struct rs_fleet_loop_s *fleet; /* this loop's part of the shared tier, or NULL */
  uint64_t rid_seq;              /* render ids of this loop (rs_page_fleet.c) */
} rs_page_loop_t;

/* The page module's index in every loop's slots (rs_loop_slot_new), -1
 * until the first rs_page_loop_init. */
extern int rs_page__slot;

/* loop's page state, or NULL when the loop has none (the admin loop, or
 * before rs_page_loop_init). */
static inline rs_page_loop_t *rs_page__loop(const rs_loop_t *loop) {
  return rs_page__slot >= 0 ? loop->slots[rs_page__slot] : NULL;
}

/* ------------------------------------------------------------------ rs_page.c */

/* Look req's page up again under key (a waiter told RS_PAGE__AGAIN): the
 * flow from its lookup on, its bypass and key hooks not run again. */
void rs_page__lookup_again(rs_req_t *req, const rs_route_t *route, const char *key, size_t klen);

/* ------------------------------------------------------------------ rs_page_key.c */

/* Build req's key in k (set up by the caller with rs_key_init): the hook's
 * string (hook_key, NULL when the route has no key hook) in its own
 * namespace with the request's host, else the default URL key; then the
 * headers the route names (route->cache.headers). */
void rs_page__key(rs_key_t *k, rs_req_t *req, const rs_route_t *route, const char *hook_key,
                  size_t hook_len);

/* ------------------------------------------------------------------ rs_page_hit.c */

/* Release callbacks of rs_page_respond_entry: an entry reference (ud = the
 * entry), and the L1 borrow a request carries in req->data (ud = req). */
void rs_page__release_entry(void *e);
/* The value of the "X-Cache: V\r\n" line in extra (if any) as req's
 * $cache_status for the access log (rs_page.c). */
void rs_page__log_xcache(rs_req_t *req, const char *extra);
void rs_page__release_l1(void *req);

/* ------------------------------------------------------------------ rs_page_flight.c */

/* The TTL a page is stored with: ttl_ms less up to cache.ttl_jitter of it,
 * at random (pages stored together expire apart), and in *refresh_after_ms
 * when its refresh ahead is due (cache.prefresh of that TTL; 0 = never).
 * Any thread. */
uint64_t rs_page__ttl(const rs_config_t *cfg, uint64_t ttl_ms, uint64_t *refresh_after_ms);

/* A waiter ready for rs_cache_lookup, on loop. */
rs_page_waiter_t *rs_page__waiter_new(rs_loop_t *loop);

/* A flight for key, started from the request `from` on its loop, with the
 * config of the request's generation; req is the leader (NULL for a
 * background refresh). */
rs_page_flight_t *rs_page__flight_new(rs_req_t *from, rs_req_t *req, const rs_route_t *route,
                                      const char *key, size_t key_len, uint64_t hash);
void rs_page__flight_free(rs_page_flight_t *fl);

/* The variants to leave for later when req (the leader) waits for a page:
 * all but the one it takes (req NULL: none; a background refresh takes the
 * deferred set of the page it replaces, rs_page__render_start). */
unsigned rs_page__defer_for(const rs_req_t *req);

/* Finish fl's flight with e (NULL: failed with status fail): store it when
 * storable, hand it to every waiter (or tell them to render their own when
 * it was not storable, the error, or to look again when the flight was a
 * background one), and offer it to this loop's L1. */
void rs_page__flight_complete(rs_page_flight_t *fl, rs_entry_t *e, int fail);

/* Fail the flight of key on loop: nothing is stored, and every request
 * waiting on it is woken with status (an error status, RS_PAGE__OWN or
 * RS_PAGE__AGAIN). background: the flight was a background refresh's (no
 * request of its own): its waiters are told RS_PAGE__AGAIN whatever
 * status is, except RS_PAGE__OWN. The one place a failed flight wakes its
 * waiters. */
void rs_page__flight_fail(rs_loop_t *loop, uint64_t hash, const char *key, size_t key_len, int status,
                          bool background);

/* Start the render that owns the flight of key (req NULL: a background
 * refresh, the job then renders from its own copy of `from`; props: the
 * props hook's JSON or NULL). old: for a background refresh, the page it
 * replaces (or NULL): the job is due when that page stops being servable
 * (rs_render_job_t.due_ms), and the new page gets the variants it had (the
 * ones its clients took), the others deferred. Returns 0, or the status to
 * answer with (503) when the job could not be queued: the flight is then
 * failed. */
int rs_page__render_start(rs_req_t *from, rs_req_t *req, const rs_route_t *route, const char *key,
                          size_t key_len, uint64_t hash, const char *props, size_t props_len,
                          const rs_page_l3_t *l3, const rs_entry_t *old);

/* ------------------------------------------------------------------ rs_page_proxy.c */

/* Start the upstream fetch that owns the flight of key (req NULL: a
 * background refresh). Returns 0, or the status to answer with (502, 504)
 * when it could not start: the flight is then failed. */
int rs_page__proxy_start(rs_req_t *from, rs_req_t *req, const rs_route_t *route, const char *key,
                         size_t key_len, uint64_t hash, const rs_page_l3_t *l3);

/* ------------------------------------------------------------------ rs_page_fleet.c */

/* This loop's part of the shared tier (rs_page_loop_t.fleet), when there is
 * one: made before the loop runs, told to the loop's thread, closed after. */
void rs_page__fleet_loop_init(rs_loop_t *loop);
void rs_page__fleet_loop_thread(rs_loop_t *loop);
void rs_page__fleet_loop_dispose(rs_loop_t *loop);
/* A render id no other render of the fleet has. */
uint64_t rs_page__fleet_rid(rs_loop_t *loop);
/* After a flight that held the lock: its page to the tier, or the lock
 * back. */
void rs_page__fleet_store(rs_loop_t *loop, const rs_entry_t *e, const rs_page_l3_t *l3);
void rs_page__fleet_unlock(rs_loop_t *loop, const char *key, size_t klen, const rs_page_l3_t *l3);

#endif
