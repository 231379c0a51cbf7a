/* core/cache/rs_l1.h — L1, one per loop thread: a faster view of L2 for the
 * hottest pages. No locks and no atomic read-modify-writes on a lookup: a
 * handful of ultra-hot slots checked first, then a small hash map, entries
 * promoted by use, bounded in count and bytes.
 *
 * Each L1 slot holds one real reference to its entry (taken when the entry
 * enters L1, on a miss path) and counts, in a plain per-thread integer, the
 * writes in flight that borrow it: a hit costs no shared cache line. An
 * entry leaving L1 while writes still borrow it waits in a side list until
 * the last one is released.
 *
 * A lookup never returns an entry that L2 dropped (purge, eviction, expiry:
 * rs_entry_dead) or that is past its freshness; stale-within-grace pages are
 * L2's business (the SWR path), so L1 answers only fresh ones.
 *
 * Only the owning loop thread calls these. */
#ifndef RS_L1_H
#define RS_L1_H

#include "rs_entry.h"

typedef struct rs_l1_s rs_l1_t;

/* A borrow of an L1 entry by one write; hand it back with rs_l1_put. */
typedef struct rs_l1_ref_s rs_l1_ref_t;

typedef struct {
  size_t hot;                    /* ultra-hot slots, default 8 */
  size_t entries;                /* map entries, default 128 */
  size_t max_bytes;              /* sum of entry->size held, default 8 MiB */
} rs_l1_opts_t;

/* opts NULL: the defaults. Otherwise taken as given: hot 0 = no hot
 * slots, max_bytes 0 = keeps nothing; entries is at least 1 (new entries
 * come in through the map). Entries held: up to hot + entries (hot slots
 * and map are disjoint), within max_bytes together. */
rs_l1_t *rs_l1_create(const rs_l1_opts_t *opts);
/* Releases every reference; no borrow may be outstanding. */
void rs_l1_destroy(rs_l1_t *l1);

/* A fresh, live entry for key, or NULL. On success *ref is a borrow to
 * give back with rs_l1_put once the bytes are written. */
rs_entry_t *rs_l1_get(rs_l1_t *l1, uint64_t hash, const char *key, size_t len,
                      uint64_t now_ms, rs_l1_ref_t **ref);
void rs_l1_put(rs_l1_t *l1, rs_l1_ref_t *ref);

/* Offer an entry (the caller keeps its own reference; L1 takes one if it
 * keeps the entry). Replaces an older entry for the same key (in its slot,
 * hot or not). Dead, not fresh, or larger than max_bytes: not kept. New
 * entries enter the map; only use promotes to a hot slot. */
void rs_l1_offer(rs_l1_t *l1, rs_entry_t *e, uint64_t now_ms);

/* Forget everything (purge all); borrowed entries stay alive until put. */
void rs_l1_clear(rs_l1_t *l1);

typedef struct {
  uint64_t hits_hot, hits_map, misses, promotions, evictions;
  size_t entries, bytes;
} rs_l1_stats_t;

/* This L1's counters. Written by the owner thread with RS_COUNTER_ADD, so
 * another thread may read them for metrics. */
const rs_l1_stats_t *rs_l1_stats(const rs_l1_t *l1);

#endif
