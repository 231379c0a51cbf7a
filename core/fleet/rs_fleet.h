/* core/fleet/rs_fleet.h — the shared cache tier: pages in Redis under every
 * gateway's L2, one render per page fleet-wide, purges that reach every
 * instance and never lose one (../shared/FLEET.md §3).
 *
 * Keys, for prefix P and h = 16 hex digits of XXH3 of the full key:
 *   P{h}:m  HASH s (purge sequence when the render began), t (tags, "\n"),
 *           f (fresh until, unix ms), v (the bundle that rendered it, hex),
 *           r (refresh ahead from, unix ms; 0: never: cache.prefresh)
 *   P{h}:b  the page (rs_blob.h), PEXPIRE = the TTL + grace it has left
 *   P{h}:l  the render lock (a render id), PX = lock_ms
 *   P{h}:k  the sequence of the last purge of this key (KEY purges name a
 *           page's base: its key without the named headers' part after
 *           "\n", and a key hook's string without "~host ", as rs_purge
 *           does, so a KEY marker covers every variant)
 *   P{h}:s  the sequence of the last soft purge of this key (as P{h}:k)
 *   Pseq    the purge sequence; Pte HASH "*" / "t:TAG" -> sequence of the
 *           last purge of everything / of that tag; Ptp HASH prefix -> seq;
 *           Pse, Psp: the same for soft purges; Pte:x, Ptp:x, Pse:x,
 *           Psp:x ZSET field -> when that marker expires (unix ms)
 *   Plife   when the last page stored in the tier expires (unix ms, on
 *           Redis's clock; PXAT that time). Every purge marker expires
 *           lock_ms after it: a marker matters only while a page stored
 *           before it may still be in the tier or a render that began
 *           before it may still store (a render that outlived its lock,
 *           with a purge since it began, is refused)
 *   Pplog   the purge log (a stream, IDs "seq-1"), Ppurge the channel
 * A page is dead when a purge that covers it (all, its key, one of its tags,
 * a prefix of its key) has a sequence above the one its render began at:
 * the lookup treats it as absent and a store of it is refused, so a render
 * that began before a purge, on any instance, never lands in the tier. A
 * page covered by a later soft purge, past its TTL (P{h}:m's f, the wall
 * clock), or rendered by another bundle (P{h}:m's v) is stale: served stale while one instance, the one that
 * takes the lock, refreshes it for the fleet.
 *
 * Every command has a deadline and every failure is a miss: the tier never
 * fails a request (the gateway renders). Single Redis primary, no Cluster.
 *
 * Threads: an rs_fleet_t per process (its subscriber runs on the loop given
 * to rs_fleet_new, the main loop); an rs_fleet_loop_t per loop thread, used
 * only there. */
#ifndef RS_FLEET_H
#define RS_FLEET_H

#include "rs_entry.h"
#include "rs_purge.h"
#include "rs_redis.h"

typedef struct rs_fleet_s rs_fleet_t;
typedef struct rs_fleet_loop_s rs_fleet_loop_t;

/* Apply a purge (soft: a soft purge, rs_purge.h) to this instance's own
 * tiers (L2 and every L1). Called on the fleet's loop for every purge of
 * the fleet, this instance's included, in sequence order; kind RS_PURGE_ALL
 * also when this instance fell too far behind the purge log to replay it. */
typedef void (*rs_fleet_purge_fn)(void *data, rs_purge_by_t kind, const char *arg, size_t len, bool soft);

typedef struct {
  rs_redis_opts_t redis;         /* address, db, password, timeouts, breaker */
  const char *prefix;            /* key prefix, e.g. "rs:" (namespaces a site or a bundle) */
  uint32_t write_timeout_ms;     /* stores and purges (reads use redis.timeout_ms) */
  uint32_t lock_ms;              /* how long a render lock holds */
  uint32_t lock_wait_ms;         /* how long a WAIT may wait for another render */
  size_t max_bytes;              /* larger pages stay in L1/L2 only */
  uint32_t plog_max;             /* purge log entries kept */
  rs_fleet_purge_fn on_purge;
  void *purge_data;
} rs_fleet_opts_t;

typedef enum {
  RS_L3_HIT = 0,                 /* *e: the page, with one reference for the caller */
  RS_L3_LEAD,                    /* not there: render it (this instance holds the lock) */
  RS_L3_WAIT,                    /* another instance renders it: ask again shortly */
  RS_L3_MISS,                    /* not there and no lock to be had (the tier is down,
                                    slow or refused): render it */
  RS_L3_STALE_LEAD,              /* *e: the page, stale (soft-purged or past its TTL;
                                    its TTL cut to now at the latest): serve it stale
                                    and refresh it (this instance holds the lock) */
  RS_L3_STALE_WAIT,              /* *e: the page, stale; another instance refreshes it */
  RS_L3_REFRESH_LEAD,            /* *e: the page, fresh, past its refresh-ahead time:
                                    serve it and refresh it in the background (this
                                    instance holds the lock) */
} rs_l3_result_t;

/* A lookup's answer, on the loop thread. seq: the purge sequence when the
 * lookup ran (the render's start for rs_fleet_store, with LEAD and MISS). */
typedef void (*rs_l3_cb)(void *data, rs_l3_result_t res, rs_entry_t *e, uint64_t seq);

typedef struct {
  uint64_t hits, leads, waits, misses, errors, stores, stores_refused, too_big, corrupt;
  uint64_t stale;                /* STALE_LEAD and STALE_WAIT (counted in leads, waits too) */
  uint64_t refreshes;            /* REFRESH_LEAD (counted in hits, leads too) */
  uint64_t purges_sent, purges_applied, replays, full_purges;
} rs_fleet_stats_t;

/* The process's part: its subscriber (on loop) and the purge log cursor.
 * Strings copied. */
rs_fleet_t *rs_fleet_new(uv_loop_t *loop, const rs_fleet_opts_t *opts);
void rs_fleet_close(rs_fleet_t *f);
/* The last purge sequence applied here (0 before the first connection). */
uint64_t rs_fleet_applied_seq(const rs_fleet_t *f);
bool rs_fleet_subscribed(const rs_fleet_t *f);
const rs_fleet_stats_t *rs_fleet_stats(const rs_fleet_t *f);

/* A loop thread's part. */
rs_fleet_loop_t *rs_fleet_loop_new(rs_fleet_t *f, uv_loop_t *loop);
void rs_fleet_loop_close(rs_fleet_loop_t *fl);
bool rs_fleet_loop_ready(const rs_fleet_loop_t *fl);
const rs_fleet_stats_t *rs_fleet_loop_stats(const rs_fleet_loop_t *fl);
/* Whether this loop's breaker is open now; *trips: how often it opened. A
 * racy read from another thread is fine (metrics). */
bool rs_fleet_loop_breaker(const rs_fleet_loop_t *fl, uint64_t *trips);

/* Look key up; lock it for this render (rid) when absent. cb is called
 * exactly once, later (never from inside this call); hash and epoch become
 * a HIT entry's (rs_blob_decode). bundle: the bundle this instance renders
 * with (0: any page will do); a page another bundle rendered is stale
 * (STALE_LEAD / STALE_WAIT: served stale, refreshed once for the fleet), or
 * with other_is_miss absent (LEAD / WAIT; the tier keeps it for instances
 * still on that bundle): cache.on_new_bundle "stale" / "purge". */
void rs_fleet_lookup(rs_fleet_loop_t *fl, const char *key, size_t klen, uint64_t hash, uint64_t epoch,
                     uint64_t rid, uint64_t bundle, bool other_is_miss, rs_l3_cb cb, void *data);

/* Store e (rendered from start_seq on, by rid) in the background; refused
 * by the tier when a purge covering it came after start_seq. Releases the
 * lock when rid holds it. Fire and forget. */
void rs_fleet_store(rs_fleet_loop_t *fl, const rs_entry_t *e, uint64_t start_seq, uint64_t rid);

/* The render of key by rid failed: let the next instance try at once. */
void rs_fleet_unlock(rs_fleet_loop_t *fl, const char *key, size_t klen, uint64_t rid);

/* A purge for the whole fleet (by KEY, PREFIX, TAG or ALL; a URL purge is
 * the KEY purge of the URL's default key; soft: a soft purge, the pages
 * marked stale everywhere, in the tier too): cb (may be NULL) gets its sequence, or 0 when
 * the tier could not take it (the caller applied nothing: it applies the
 * purge locally itself and reports the failure). */
typedef void (*rs_fleet_purged_cb)(void *data, uint64_t seq);
void rs_fleet_purge(rs_fleet_loop_t *fl, rs_purge_by_t kind, const char *arg, size_t len, bool soft,
                    rs_fleet_purged_cb cb, void *data);

#endif
