/* core/cache/rs_l1.c — see rs_l1.h.
 *
 * Every entry L1 holds has a node (rs_l1_ref_t): the entry's reference, the
 * hash, the end of its freshness (copied, so a hit reads the entry only for
 * the key compare and the dead flag), a borrow count and a use counter.
 * A node lives in exactly one place: a hot slot, a map cell, the zombie
 * list (left L1 while borrowed) or the free list.
 *
 * Hot slots are two parallel arrays, the hashes first: 8 hashes are one
 * cache line, scanned before anything else. The map is open addressing with
 * linear probing (load <= 1/2) and backward-shift deletion, no tombstones.
 * Map entries are evicted by CLOCK (a bit set on every hit); a map hit with
 * enough uses swaps with the coldest hot slot. Use counters are halved every
 * 16 x capacity lookups, so yesterday's hot page does not keep a slot. */
#include "rs_l1.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

enum { RS__L1_FREE, RS__L1_HOT, RS__L1_MAP, RS__L1_ZOMBIE };

#define RS__L1_PROMOTE_MIN 2     /* map hits before a node may take a hot slot */

struct rs_l1_ref_s {
  rs_entry_t *e;
  uint64_t hash;
  uint64_t fresh_until;          /* rs_entry_l1_until(e) */
  uint32_t borrows;              /* writes in flight: plain, owner thread only */
  uint32_t hits;                 /* uses, halved on aging */
  uint32_t pos;                  /* hot slot or map cell */
  uint8_t where;
  uint8_t clock;                 /* used since the CLOCK hand last passed */
  struct rs_l1_ref_s *next, *prev; /* zombie list (doubly) / free list (next) */
};

typedef struct {
  uint64_t hash;
  rs_l1_ref_t *ref;              /* NULL: empty cell */
} rs__l1_cell_t;

struct rs_l1_s {
  uint64_t *hot_hash;            /* nhot hashes, one cache line for 8 */
  rs_l1_ref_t **hot_ref;         /* NULL: empty slot */
  size_t nhot;
  rs__l1_cell_t *map;
  size_t mask;                   /* map cells - 1 */
  size_t map_count, max_entries;
  size_t hand;                   /* CLOCK hand over map cells */
  size_t max_bytes;
  uint64_t ticks, aging_period;
  uint32_t hot_min;              /* a lower bound of the hot slots' uses (0
                                    when one is empty): map hits at or below
                                    it skip the scan for the coldest slot */
  rs_l1_ref_t *zombies, *free_nodes;
  rs_l1_stats_t st;              /* entries, bytes: live nodes (hot + map) */
};

static inline bool rs__l1_key_eq(const rs_l1_ref_t *n, const char *key, size_t len) {
  return n->e->key_len == len && memcmp(n->e->key, key, len) == 0;
}

/* ------------------------------------------------------------------ nodes */

static rs_l1_ref_t *rs__l1_node(rs_l1_t *l1, rs_entry_t *e) {
  rs_l1_ref_t *n = l1->free_nodes;
  if (n) l1->free_nodes = n->next;
  else n = rs_xmalloc(sizeof *n);
  memset(n, 0, sizeof *n);
  rs_entry_ref(e);
  n->e = e;
  n->hash = e->hash;
  n->fresh_until = rs_entry_l1_until(e);
  return n;
}

static void rs__l1_node_free(rs_l1_t *l1, rs_l1_ref_t *n) {
  rs_entry_release(n->e);
  n->e = NULL;
  n->where = RS__L1_FREE;
  n->next = l1->free_nodes;
  l1->free_nodes = n;
}

/* n left hot/map: uncount it, then free it or park it until its borrows
 * are put. */
static void rs__l1_retire(rs_l1_t *l1, rs_l1_ref_t *n) {
  RS_COUNTER_ADD(l1->st.entries, (size_t)-1);
  RS_COUNTER_ADD(l1->st.bytes, -n->e->size);
  if (n->borrows == 0) {
    rs__l1_node_free(l1, n);
    return;
  }
  n->where = RS__L1_ZOMBIE;
  n->prev = NULL;
  n->next = l1->zombies;
  if (l1->zombies) l1->zombies->prev = n;
  l1->zombies = n;
}

/* ------------------------------------------------------------------ map */

static void rs__l1_map_set(rs_l1_t *l1, size_t i, rs_l1_ref_t *n) {
  l1->map[i].hash = n->hash;
  l1->map[i].ref = n;
  n->pos = (uint32_t)i;
  n->where = RS__L1_MAP;
}

static void rs__l1_map_insert(rs_l1_t *l1, rs_l1_ref_t *n) {
  size_t i = n->hash & l1->mask;
  while (l1->map[i].ref) i = (i + 1) & l1->mask;
  rs__l1_map_set(l1, i, n);
  l1->map_count++;
}

/* Empty cell i, shifting back later cells of the run that may move. */
static void rs__l1_map_remove(rs_l1_t *l1, size_t i) {
  size_t j = i;
  for (;;) {
    j = (j + 1) & l1->mask;
    if (l1->map[j].ref == NULL) break;
    size_t home = l1->map[j].hash & l1->mask;
    /* The cell at j may fill the hole at i unless its home lies cyclically
     * in (i, j]. */
    bool stays = i <= j ? (home > i && home <= j) : (home > i || home <= j);
    if (!stays) {
      rs__l1_map_set(l1, i, l1->map[j].ref);
      i = j;
    }
  }
  l1->map[i].ref = NULL;
  l1->map[i].hash = 0;
  l1->map_count--;
}

/* ------------------------------------------------------------------ drop */

static void rs__l1_drop(rs_l1_t *l1, rs_l1_ref_t *n) {
  if (n->where == RS__L1_HOT) {
    l1->hot_ref[n->pos] = NULL;
    l1->hot_hash[n->pos] = 0;
    l1->hot_min = 0;
  } else {
    rs__l1_map_remove(l1, n->pos);
  }
  rs__l1_retire(l1, n);
}

/* CLOCK over the map cells, never evicting keep. Requires a map entry
 * other than keep. */
static void rs__l1_evict_map(rs_l1_t *l1, const rs_l1_ref_t *keep) {
  for (;;) {
    rs_l1_ref_t *n = l1->map[l1->hand].ref;
    if (n && n != keep && !n->clock) break;
    if (n) n->clock = 0;
    l1->hand = (l1->hand + 1) & l1->mask;
  }
  /* The hand stays on the cell: backward shift may have refilled it. */
  rs__l1_drop(l1, l1->map[l1->hand].ref);
  RS_COUNTER_ADD(l1->st.evictions, 1);
}

/* The least used hot slot other than keep, or, with empty_ok, the first
 * empty one; nhot when there is none. */
static size_t rs__l1_coldest_hot(const rs_l1_t *l1, const rs_l1_ref_t *keep, bool empty_ok) {
  size_t best = l1->nhot;
  for (size_t i = 0; i < l1->nhot; i++) {
    rs_l1_ref_t *n = l1->hot_ref[i];
    if (n == NULL) {
      if (empty_ok) return i;
      continue;
    }
    if (n != keep && (best == l1->nhot || n->hits < l1->hot_ref[best]->hits)) best = i;
  }
  return best;
}

/* Evict until the bytes fit, map first, never keep (the entry just
 * offered, which alone fits: rs_l1_offer checked). */
static void rs__l1_shrink(rs_l1_t *l1, const rs_l1_ref_t *keep) {
  while (l1->st.bytes > l1->max_bytes) {
    if (l1->map_count > (keep->where == RS__L1_MAP ? 1u : 0u)) {
      rs__l1_evict_map(l1, keep);
      continue;
    }
    size_t h = rs__l1_coldest_hot(l1, keep, false);
    if (h == l1->nhot) return;                 /* cannot happen: keep alone fits */
    rs__l1_drop(l1, l1->hot_ref[h]);
    RS_COUNTER_ADD(l1->st.evictions, 1);
  }
}

static void rs__l1_age(rs_l1_t *l1) {
  l1->ticks = 0;
  l1->hot_min >>= 1;                           /* still a lower bound */
  for (size_t i = 0; i < l1->nhot; i++)
    if (l1->hot_ref[i]) l1->hot_ref[i]->hits >>= 1;
  for (size_t i = 0; i <= l1->mask; i++)
    if (l1->map[i].ref) l1->map[i].ref->hits >>= 1;
}

/* n (in the map) was just hit: take a hot slot if one is free or colder;
 * the colder one moves to the map (net map count: unchanged). */
static void rs__l1_maybe_promote(rs_l1_t *l1, rs_l1_ref_t *n) {
  /* hot_min only grows stale downwards (hot hits raise the true minimum),
   * so the test below never skips a promotion that the scan would make. */
  if (n->hits < RS__L1_PROMOTE_MIN || n->hits <= l1->hot_min || l1->nhot == 0) return;
  size_t h = rs__l1_coldest_hot(l1, NULL, true);
  rs_l1_ref_t *cold = l1->hot_ref[h];
  if (cold && cold->hits >= n->hits) {
    l1->hot_min = cold->hits;                  /* the true minimum, now */
    return;
  }
  l1->hot_min = 0;                             /* n's uses may be the new minimum */
  rs__l1_map_remove(l1, n->pos);
  if (cold) {
    cold->clock = 1;
    rs__l1_map_insert(l1, cold);
  }
  l1->hot_ref[h] = n;
  l1->hot_hash[h] = n->hash;
  n->pos = (uint32_t)h;
  n->where = RS__L1_HOT;
  RS_COUNTER_ADD(l1->st.promotions, 1);
}

/* ------------------------------------------------------------------ API */

rs_l1_t *rs_l1_create(const rs_l1_opts_t *opts) {
  rs_l1_t *l1 = rs_xcalloc(1, sizeof *l1);
  l1->nhot = opts ? opts->hot : 8;
  l1->max_entries = opts ? RS_MAX(opts->entries, 1) : 128;
  l1->max_bytes = opts ? opts->max_bytes : (size_t)8 << 20;
  size_t hb = (RS_MAX(l1->nhot, 1) * sizeof(uint64_t) + RS_CACHELINE - 1) &
              ~(size_t)(RS_CACHELINE - 1);
  l1->hot_hash = aligned_alloc(RS_CACHELINE, hb);
  if (l1->hot_hash == NULL) abort();
  memset(l1->hot_hash, 0, hb);
  l1->hot_ref = rs_xcalloc(l1->nhot, sizeof *l1->hot_ref);
  size_t cells = 8;
  while (cells < 2 * l1->max_entries) cells *= 2;
  l1->map = rs_xcalloc(cells, sizeof *l1->map);
  l1->mask = cells - 1;
  l1->aging_period = 16 * (uint64_t)(l1->nhot + l1->max_entries);
  return l1;
}

void rs_l1_destroy(rs_l1_t *l1) {
  if (l1 == NULL) return;
  rs_l1_clear(l1);
  assert(l1->zombies == NULL && "rs_l1_destroy with borrows outstanding");
  while (l1->zombies) {                        /* misuse: release anyway */
    rs_l1_ref_t *n = l1->zombies;
    l1->zombies = n->next;
    rs__l1_node_free(l1, n);
  }
  while (l1->free_nodes) {
    rs_l1_ref_t *n = l1->free_nodes;
    l1->free_nodes = n->next;
    free(n);
  }
  free(l1->hot_hash);
  free(l1->hot_ref);
  free(l1->map);
  free(l1);
}

/* A hit on n: still live and fresh? If not, drop it and say so. */
static inline bool rs__l1_usable(rs_l1_t *l1, rs_l1_ref_t *n, uint64_t now_ms) {
  if (RS_LIKELY(now_ms < n->fresh_until && !rs_entry_flagged(n->e))) return true;
  rs__l1_drop(l1, n);
  return false;
}

rs_entry_t *rs_l1_get(rs_l1_t *l1, uint64_t hash, const char *key, size_t len,
                      uint64_t now_ms, rs_l1_ref_t **ref) {
  if (RS_UNLIKELY(++l1->ticks >= l1->aging_period)) rs__l1_age(l1);
  for (size_t i = 0; i < l1->nhot; i++) {
    if (l1->hot_hash[i] != hash) continue;
    rs_l1_ref_t *n = l1->hot_ref[i];
    if (n == NULL || !rs__l1_key_eq(n, key, len)) continue;
    if (!rs__l1_usable(l1, n, now_ms)) goto miss;
    n->hits++;
    n->borrows++;
    RS_COUNTER_ADD(l1->st.hits_hot, 1);
    *ref = n;
    return n->e;
  }
  for (size_t i = hash & l1->mask; l1->map[i].ref; i = (i + 1) & l1->mask) {
    rs_l1_ref_t *n = l1->map[i].ref;
    if (l1->map[i].hash != hash || !rs__l1_key_eq(n, key, len)) continue;
    if (!rs__l1_usable(l1, n, now_ms)) goto miss;
    n->hits++;
    n->clock = 1;
    n->borrows++;
    RS_COUNTER_ADD(l1->st.hits_map, 1);
    rs__l1_maybe_promote(l1, n);
    *ref = n;
    return n->e;
  }
miss:
  RS_COUNTER_ADD(l1->st.misses, 1);
  *ref = NULL;
  return NULL;
}

void rs_l1_put(rs_l1_t *l1, rs_l1_ref_t *n) {
  assert(n->borrows > 0);
  if (--n->borrows > 0 || n->where != RS__L1_ZOMBIE) return;
  if (n->prev) n->prev->next = n->next; else l1->zombies = n->next;
  if (n->next) n->next->prev = n->prev;
  rs__l1_node_free(l1, n);
}

/* The node holding key, or NULL. */
static rs_l1_ref_t *rs__l1_find(rs_l1_t *l1, uint64_t hash, const char *key, size_t len) {
  for (size_t i = 0; i < l1->nhot; i++)
    if (l1->hot_hash[i] == hash && l1->hot_ref[i] && rs__l1_key_eq(l1->hot_ref[i], key, len))
      return l1->hot_ref[i];
  for (size_t i = hash & l1->mask; l1->map[i].ref; i = (i + 1) & l1->mask)
    if (l1->map[i].hash == hash && rs__l1_key_eq(l1->map[i].ref, key, len))
      return l1->map[i].ref;
  return NULL;
}

void rs_l1_offer(rs_l1_t *l1, rs_entry_t *e, uint64_t now_ms) {
  if (rs_entry_flagged(e) || !rs_entry_fresh(e, now_ms) || now_ms >= rs_entry_l1_until(e) ||
      e->size > l1->max_bytes)
    return;
  rs_l1_ref_t *old = rs__l1_find(l1, e->hash, e->key, e->key_len);
  if (old && old->e == e) return;
  if (old == NULL)
    while (l1->map_count >= l1->max_entries) rs__l1_evict_map(l1, NULL);
  rs_l1_ref_t *n = rs__l1_node(l1, e);
  if (old) {
    /* A newer page for the key takes the old node's place and its uses. */
    n->hits = old->hits;
    n->clock = 1;
    if (old->where == RS__L1_HOT) {
      l1->hot_ref[old->pos] = n;
      n->pos = old->pos;
      n->where = RS__L1_HOT;
    } else {
      rs__l1_map_set(l1, old->pos, n);
    }
    rs__l1_retire(l1, old);
  } else {
    rs__l1_map_insert(l1, n);
  }
  RS_COUNTER_ADD(l1->st.entries, 1);
  RS_COUNTER_ADD(l1->st.bytes, e->size);
  rs__l1_shrink(l1, n);
}

void rs_l1_clear(rs_l1_t *l1) {
  l1->hot_min = 0;
  for (size_t i = 0; i < l1->nhot; i++) {
    if (l1->hot_ref[i] == NULL) continue;
    rs_l1_ref_t *n = l1->hot_ref[i];
    l1->hot_ref[i] = NULL;
    l1->hot_hash[i] = 0;
    rs__l1_retire(l1, n);
  }
  for (size_t i = 0; i <= l1->mask; i++) {
    if (l1->map[i].ref == NULL) continue;
    rs_l1_ref_t *n = l1->map[i].ref;
    l1->map[i].ref = NULL;
    l1->map[i].hash = 0;
    rs__l1_retire(l1, n);
  }
  l1->map_count = 0;
  l1->hand = 0;
}

const rs_l1_stats_t *rs_l1_stats(const rs_l1_t *l1) { return &l1->st; }
