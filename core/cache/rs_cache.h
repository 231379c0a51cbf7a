/* core/cache/rs_cache.h — L2, the shared page cache: power-of-two shards, each a
 * hash table under its own mutex, bounded by entries and by bytes, with an
 * eviction policy chosen by measurement (see bench/README.md), a TTL per
 * entry, and the in-flight table that makes concurrent misses for one key
 * start exactly one render (coalescing).
 *
 * Any thread may call any function here. Entries handed out carry a
 * reference the caller must release (rs_entry_release). A lookup never
 * returns an entry past its grace; such entries are dropped when met and by
 * rs_cache_sweep. */
#ifndef RS_CACHE_H
#define RS_CACHE_H

#include "rs_entry.h"

typedef struct rs_cache_s rs_cache_t;

/* Eviction policies, compared in bench/cache_bench.c (numbers in
 * bench/README.md and atop rs_cache.c); DEFAULT is the measured winner. */
typedef enum {
  RS_CACHE_POLICY_DEFAULT = 0,
  RS_CACHE_POLICY_LRU,           /* a hit moves the entry to the head */
  RS_CACHE_POLICY_CLOCK,         /* FIFO + visited bit, reinsert at head */
  RS_CACHE_POLICY_SIEVE,         /* FIFO + visited bit, a hand that stays */
  RS_CACHE_POLICY_S3FIFO,        /* small + main FIFOs and a ghost of hashes */
  RS_CACHE_POLICY_MAX
} rs_cache_policy_t;

typedef struct {
  size_t max_entries;            /* whole cache, exactly: each shard gets
                                    max / shards, the first max % shards one
                                    more; fewer entries than shards lowers the
                                    shards to a power of two <= max; 0 = no bound */
  size_t max_bytes;              /* whole cache; entry->size counts; 0 = no
                                    bound. An entry larger than a shard's
                                    share is never stored (-E2BIG). */
  unsigned shards;               /* power of two, 1..4096; 0 = default (128) */
  /* Tests only: replace the key hash (to force collisions). NULL = XXH3. */
  uint64_t (*hash_fn)(const char *key, size_t len);
  rs_cache_policy_t policy;      /* 0 = the default policy */
} rs_cache_opts_t;

#define RS_CACHE_DEFAULT_SHARDS 128

/* A request waiting for a key being rendered elsewhere. The cache links it
 * under the shard lock; whoever completes the flight gets the list back and
 * calls wake on each waiter (on the completer's thread: wake must hand over
 * to the waiter's own loop). */
typedef struct rs_waiter_s {
  struct rs_waiter_s *next;
  void (*wake)(struct rs_waiter_s *w, rs_entry_t *e, int status);
  /* e: the page (a reference the waiter owns), or NULL with status the
   * error status (500, 503, 504) when the render failed. */
} rs_waiter_t;

typedef enum {
  RS_LOOKUP_HIT = 0,             /* *out: fresh entry */
  RS_LOOKUP_STALE,               /* *out: stale within grace; a refresh is
                                    already running (or none is wanted) */
  RS_LOOKUP_STALE_REFRESH,       /* *out: stale within grace; the caller now
                                    owns the flight and must refresh + complete */
  RS_LOOKUP_MISS_LEADER,         /* nothing; the caller owns the flight: render,
                                    then rs_cache_complete */
  RS_LOOKUP_MISS_WAIT,           /* nothing; w was queued on the running flight */
  RS_LOOKUP_HIT_REFRESH,         /* *out: fresh entry past its refresh_ms (prefresh):
                                    the caller now owns the flight and must refresh +
                                    complete, in the background. Once per entry: a
                                    failed refresh leaves the page to expire */
} rs_lookup_t;

/* Create / destroy. destroy frees every entry still referenced only by the
 * cache; it must not race any other call. Returns NULL on bad opts. */
rs_cache_t *rs_cache_create(const rs_cache_opts_t *opts);
void rs_cache_destroy(rs_cache_t *c);

/* XXH3-64 of a key (or the test hash). */
uint64_t rs_cache_hash(const rs_cache_t *c, const char *key, size_t len);

/* The purge epoch: bumped by every purge. A render records it when it
 * begins (entry->epoch); rs_cache_complete refuses to store an entry whose
 * epoch is older than the last purge that covered its key, so a purge that
 * races a render never lets the older page back in. */
uint64_t rs_cache_epoch(const rs_cache_t *c);

/* Plain lookup (no flight handling): a fresh or stale-within-grace entry,
 * referenced, or NULL. */
rs_entry_t *rs_cache_get(rs_cache_t *c, uint64_t hash, const char *key, size_t len,
                         uint64_t now_ms);

/* Lookup with coalescing, all under one shard lock; see rs_lookup_t. w is
 * queued only for RS_LOOKUP_MISS_WAIT (it must then stay valid until
 * woken). With w NULL, MISS_WAIT still says a flight runs, but nothing is
 * queued (a caller that will not wait). *out is NULL on the MISS results. */
rs_lookup_t rs_cache_lookup(rs_cache_t *c, uint64_t hash, const char *key, size_t len,
                            uint64_t now_ms, rs_entry_t **out, rs_waiter_t *w);

/* The same; with prefresh false, a fresh page past its refresh_ms is a
 * plain HIT (its refresh ahead waits for a later lookup: the caller has no
 * spare capacity for it now). rs_cache_lookup is prefresh true. */
rs_lookup_t rs_cache_lookup_ex(rs_cache_t *c, uint64_t hash, const char *key, size_t len,
                               uint64_t now_ms, rs_entry_t **out, rs_waiter_t *w, bool prefresh);

/* Finish the flight for key (the caller owns it, from MISS_LEADER or
 * STALE_REFRESH). e: the rendered entry (the caller keeps its reference) or
 * NULL on failure. store: put e in the cache (replacing an older entry) if
 * the purge epoch allows (rules and refusals as rs_cache_put; a refused e
 * is dead, so offering it to L1 afterwards is harmless). Returns the waiters, detached: the caller wakes
 * each with its own reference to e (rs_entry_ref) or with NULL and status.
 * A failed refresh (e NULL after STALE_REFRESH) leaves the stale entry in
 * place (stale-if-error). */
rs_waiter_t *rs_cache_complete(rs_cache_t *c, uint64_t hash, const char *key, size_t len,
                               rs_entry_t *e, bool store);

/* Insert without a flight (tests, warm-up, a page from the shared tier
 * that answers while its flight renders the next one). Returns 0, or -ESTALE when a
 * purge newer than e->epoch covers it. The cache takes its own reference.
 * Also -E2BIG (e->size above a shard's byte share) and -EINVAL (e is dead:
 * an entry L2 dropped never comes back). An entry refused for epoch or size
 * is marked dead, so rs_l1_offer will not keep it either: an L1 holds only
 * pages that L2 holds, or purges could not reach them. The entry itself
 * stays valid for its holders (waiters may still be answered with it). An
 * entry lives in at most one cache. rs_cache_complete stores under the same rules; there the flight's
 * start epoch counts too, so a purge between the MISS_LEADER lookup and the
 * render's own rs_cache_epoch() also refuses the insert. */
int rs_cache_put(rs_cache_t *c, rs_entry_t *e);

/* Replace old with e (the same key, e.g. old completed with its deferred
 * variants: rs_entry_complete) only if old is still the entry L2 holds for
 * that key: a newer render or a purge since wins. The cache takes its own
 * reference to e; old is marked dead as any replaced entry is, so every L1
 * lets go of it at its next lookup. Returns 0, or -ENOENT when old is gone
 * (e is then marked dead and not stored), or rs_cache_put's errors. */
int rs_cache_replace(rs_cache_t *c, rs_entry_t *old, rs_entry_t *e);

/* Purges. Each bumps the epoch, marks removed entries dead (so every L1
 * stops serving them at its next lookup) and returns how many it removed. */
size_t rs_cache_purge_key(rs_cache_t *c, const char *key, size_t len);
size_t rs_cache_purge_prefix(rs_cache_t *c, const char *prefix, size_t len);
size_t rs_cache_purge_tag(rs_cache_t *c, const char *tag, size_t len);
size_t rs_cache_purge_all(rs_cache_t *c);

/* Drop every entry whose key match(key, len, ud) selects (called under each
 * shard's lock in turn: it must only read its arguments). */
size_t rs_cache_purge_if(rs_cache_t *c, bool (*match)(const char *key, size_t len, void *ud), void *ud);

/* Soft purges (Varnish's purge.soft, Fastly's soft purge): the selected
 * fresh entries stay, but stale from now on, so within their grace they are
 * answered STALE while one background render replaces each (the flight
 * machinery: no herd), and past it they are misses. Every L1 stops serving
 * them at its next lookup (rs_entry_flagged). Each bumps the epoch as a
 * purge does: a render that began before never stores its page. Return how
 * many entries turned stale. */
size_t rs_cache_soft_key(rs_cache_t *c, const char *key, size_t len);
size_t rs_cache_soft_tag(rs_cache_t *c, const char *tag, size_t len);
size_t rs_cache_soft_all(rs_cache_t *c);
size_t rs_cache_soft_if(rs_cache_t *c, bool (*match)(const char *key, size_t len, void *ud), void *ud);

/* Deploys. The bundle whose pages may be stored (entry->bundle; 0 = any):
 * an entry of another bundle (a render that began before a reload brought
 * a new one) is refused (-ESTALE), as a purged one is; entries with
 * bundle 0 (not renders) always may. Any thread. */
void rs_cache_bundle(rs_cache_t *c, uint64_t bundle);

/* Purge (or, soft, mark stale) every entry rendered by a bundle other than
 * keep (entry->bundle != 0 and != keep). Returns how many. */
size_t rs_cache_purge_bundle(rs_cache_t *c, uint64_t keep, bool soft);

/* Drop entries past their grace, one shard at a time (each shard lock held
 * briefly). Returns how many. Meant for the housekeeping timer. */
size_t rs_cache_sweep(rs_cache_t *c, uint64_t now_ms);

typedef struct {
  uint64_t entries, bytes;
  uint64_t inserts, evictions, expirations, purged, refused_stale;
  uint64_t flights, coalesced;   /* flights started, waiters queued */
  uint64_t hits, stale_hits, misses; /* lookups and gets: fresh, stale, none */
  uint64_t replaced;             /* inserts that replaced an older entry */
  uint64_t refused_size;         /* entries larger than a shard's bytes */
  uint64_t softened;             /* entries soft purges turned stale */
  uint64_t prefreshes;           /* refreshes ahead started (RS_LOOKUP_HIT_REFRESH) */
} rs_cache_stats_t;

/* The number of shards the cache runs (opts.shards, or fewer: see
 * max_entries). */
unsigned rs_cache_shards(const rs_cache_t *c);

/* The policy a cache runs (DEFAULT resolved) and its name ("sieve"...). */
rs_cache_policy_t rs_cache_policy(const rs_cache_t *c);
const char *rs_cache_policy_name(rs_cache_policy_t p);

/* Totals over shards (each read under its lock). Any thread. */
void rs_cache_stats(rs_cache_t *c, rs_cache_stats_t *out);

#endif
