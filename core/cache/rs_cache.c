/* core/cache/rs_cache.c — see rs_cache.h.
 *
 * Each shard is a chained hash table (through entry->_next, doubled when
 * the load passes 1), one or two eviction queues (through _qprev/_qnext,
 * head = newest), the in-flight list and its own counters, all under one
 * mutex. The shard comes from the hash's top bits, the bucket from its low
 * bits, so the two never correlate.
 *
 * Entries leaving the cache are unlinked under the lock, marked dead, and
 * their cache reference released after unlock (a "graveyard" list through
 * _next): freeing a large page must not lengthen the critical section.
 *
 * Eviction policy, by measurement (bench/cache_bench.c, bench/README.md):
 * hit ratio through this very code, 1M requests over 100k keys, cache = 10k
 * entries, median [range] of 5 traces, 128 shards (1 shard within 0.15):
 *
 *              Zipf(0.99)                + 30% one-time URLs (crawler)
 *   LRU      72.31% [72.28–72.34]         45.52% [45.51–45.56]
 *   CLOCK    73.12% [73.08–73.15]  +0.81  46.42% [46.39–46.45]  +0.89
 *   SIEVE    76.62% [76.56–76.69]  +4.33  51.80% [51.77–51.85]  +6.25
 *   S3-FIFO  76.95% [76.90–77.04]  +4.68  53.07% [53.00–53.08]  +7.52
 *
 * S3-FIFO is the default: best on both traces (its small queue keeps
 * one-time URLs from pushing out the pages that earn their place), and its
 * hit costs what SIEVE's does (a 2-bit counter, written only until it
 * saturates; LRU relinks the entry on every hit). The others stay
 * selectable (opts.policy) for the bench and for odd workloads.
 *
 * Shards: 128 by default (RS_CACHE_DEFAULT_SHARDS). rs_cache_get + release
 * on 100k warm entries, Zipf(0.99), 2 threads, M lookups per CPU-second,
 * median of 9: 16 → 9.1, 32 → 12.1, 64 → 12.1, 128 → 14.1, 256 → 14.2 (one
 * thread: 7.1–8.3 whatever the count). 256 is within the noise of 128.
 *
 * Purge epochs: per shard. Every purge takes a new global epoch E and,
 * under each shard lock it visits, sets that shard's purge_epoch = E (a key
 * purge visits one shard, the others all of them). An insert is refused
 * when the render's epoch (or its flight's) is older than its shard's
 * purge_epoch. That is correct without a global "last purge" because the
 * purge and the insert meet under the same shard lock: an insert that comes
 * first is then removed by the purge (if it matches), one that comes after
 * sees purge_epoch = E. It refuses more than needed (any purge in the shard,
 * not only one that covers the key: one extra render later), but a key
 * purge in one shard never refuses the 127 others, which a global epoch
 * would. */
#include "rs_cache.h"

#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>
#include <xxhash.h>

typedef struct rs__flight_s {
  struct rs__flight_s *next;
  uint64_t hash;
  uint64_t epoch;                /* rs_cache_epoch() when it started */
  rs_waiter_t *head, **tail;
  size_t key_len;
  char key[];
} rs__flight_t;

typedef struct {
  rs_entry_t *head, *tail;       /* head = newest */
  size_t count, bytes;
} rs__queue_t;

enum { RS__Q_MAIN = 0, RS__Q_SMALL = 1 };   /* S3-FIFO uses both */

/* S3-FIFO's ghost: hashes of entries evicted from the small queue, without
 * data. A 4-way set-associative table of (fingerprint, insertion time);
 * "still in the ghost FIFO" is "fewer than cap insertions since" — the
 * paper's own suggestion, exact up to bucket overflow. */
typedef struct {
  uint32_t fp, t;
} rs__ghost_slot_t;

typedef struct {
  uv_mutex_t lock;
  rs_entry_t **buckets;
  size_t mask;                   /* buckets - 1 */
  size_t count, bytes;
  size_t max_entries, max_bytes;
  rs__queue_t q[2];
  rs_entry_t *hand;              /* SIEVE */
  size_t small_entries, small_bytes; /* S3-FIFO: targets of the small queue */
  rs__ghost_slot_t *ghost;
  size_t ghost_mask;             /* slots - 1 (slots = 4 * buckets) */
  uint32_t ghost_cap, ghost_clock;
  rs__flight_t *flights;
  uint64_t purge_epoch;
  rs_cache_stats_t st;           /* entries/bytes filled in by rs_cache_stats */
} __attribute__((aligned(RS_CACHELINE))) rs__shard_t;

struct rs_cache_s {
  rs__shard_t *shards;
  unsigned nshards, shift;       /* shard = hash >> shift (shift 64 → 0) */
  rs_cache_policy_t policy;
  uint64_t (*hash_fn)(const char *key, size_t len);
  uint64_t epoch __attribute__((aligned(RS_CACHELINE))); /* atomic */
  uint64_t bundle;               /* atomic: rs_cache_bundle's id, 0 = any */
};

#define RS__DEFAULT_POLICY RS_CACHE_POLICY_S3FIFO

static const char *const rs__policy_names[RS_CACHE_POLICY_MAX] = {
  "default", "lru", "clock", "sieve", "s3fifo",
};

const char *rs_cache_policy_name(rs_cache_policy_t p) {
  return (unsigned)p < RS_CACHE_POLICY_MAX ? rs__policy_names[p] : "unknown";
}

rs_cache_policy_t rs_cache_policy(const rs_cache_t *c) { return c->policy; }

unsigned rs_cache_shards(const rs_cache_t *c) { return c->nshards; }

uint64_t rs_cache_hash(const rs_cache_t *c, const char *key, size_t len) {
  return c->hash_fn ? c->hash_fn(key, len) : XXH3_64bits(key, len);
}

uint64_t rs_cache_epoch(const rs_cache_t *c) {
  /* Acquire pairs with the purge's acq_rel bump: a render that reads epoch
   * E started after purge E was issued, so whatever the operator changed
   * before purging is visible to it. */
  return __atomic_load_n(&c->epoch, __ATOMIC_ACQUIRE);
}

static inline rs__shard_t *rs__shard(rs_cache_t *c, uint64_t hash) {
  return &c->shards[c->shift >= 64 ? 0 : hash >> c->shift];
}

static inline bool rs__key_eq(const rs_entry_t *e, uint64_t hash, const char *key, size_t len) {
  return e->hash == hash && e->key_len == len && memcmp(e->key, key, len) == 0;
}

static void rs__bury(rs_entry_t *grave) {
  while (grave) {
    rs_entry_t *next = grave->_next;
    rs_entry_release(grave);
    grave = next;
  }
}

/* ------------------------------------------------------------------ queues */

static void rs__q_push(rs__shard_t *s, int qi, rs_entry_t *e) {
  rs__queue_t *q = &s->q[qi];
  e->_queue = (uint8_t)qi;
  e->_qprev = NULL;
  e->_qnext = q->head;
  if (q->head) q->head->_qprev = e; else q->tail = e;
  q->head = e;
  q->count++;
  q->bytes += e->size;
}

static void rs__q_remove(rs__shard_t *s, rs_entry_t *e) {
  rs__queue_t *q = &s->q[e->_queue];
  if (s->hand == e) s->hand = e->_qprev;       /* SIEVE: the hand moves to newer */
  if (e->_qprev) e->_qprev->_qnext = e->_qnext; else q->head = e->_qnext;
  if (e->_qnext) e->_qnext->_qprev = e->_qprev; else q->tail = e->_qprev;
  e->_qprev = e->_qnext = NULL;
  q->count--;
  q->bytes -= e->size;
}

/* ------------------------------------------------------------------ ghost */

static inline uint32_t rs__ghost_fp(uint64_t h) { return (uint32_t)(h >> 20) | 1u; }

static void rs__ghost_add(rs__shard_t *s, uint64_t h) {
  rs__ghost_slot_t *b = &s->ghost[(h & (s->ghost_mask >> 2)) << 2];
  uint32_t now = ++s->ghost_clock;
  int victim = 0;
  for (int i = 0; i < 4; i++) {
    if (b[i].fp == 0) { victim = i; break; }
    if ((uint32_t)(now - b[i].t) > (uint32_t)(now - b[victim].t)) victim = i;
  }
  b[victim].fp = rs__ghost_fp(h);
  b[victim].t = now;
}

/* True (and forgotten) when h left the small queue recently. */
static bool rs__ghost_take(rs__shard_t *s, uint64_t h) {
  rs__ghost_slot_t *b = &s->ghost[(h & (s->ghost_mask >> 2)) << 2];
  uint32_t fp = rs__ghost_fp(h);
  for (int i = 0; i < 4; i++) {
    if (b[i].fp == fp && (uint32_t)(s->ghost_clock - b[i].t) < s->ghost_cap) {
      b[i].fp = 0;
      return true;
    }
  }
  return false;
}

/* ------------------------------------------------------------------ policy */

/* A hit. LRU relinks the entry (three entries' lines written); the others
 * set a bit (S3-FIFO: count to 3), and only until it is set, so a hot
 * entry's line is not dirtied on every hit. */
static inline void rs__touch(rs_cache_t *c, rs__shard_t *s, rs_entry_t *e) {
  switch (c->policy) {
  case RS_CACHE_POLICY_LRU:
    if (s->q[0].head != e) { rs__q_remove(s, e); rs__q_push(s, 0, e); }
    break;
  case RS_CACHE_POLICY_S3FIFO:
    if (e->_visited < 3) e->_visited++;
    break;
  default:
    if (!e->_visited) e->_visited = 1;
    break;
  }
}

/* Pick the entry to evict (still linked everywhere). Requires count > 0. */
static rs_entry_t *rs__victim(rs_cache_t *c, rs__shard_t *s) {
  rs_entry_t *o;
  switch (c->policy) {
  case RS_CACHE_POLICY_LRU:
    return s->q[0].tail;
  case RS_CACHE_POLICY_CLOCK:
    /* Second chance: a visited tail goes back to the head, cleared. Ends
     * within one lap: every pass clears a bit. */
    while ((o = s->q[0].tail)->_visited) {
      o->_visited = 0;
      rs__q_remove(s, o);
      rs__q_push(s, 0, o);
    }
    return o;
  case RS_CACHE_POLICY_SIEVE:
    /* The hand walks from old to new and wraps; visited entries keep their
     * place (the difference with CLOCK: new entries are not overtaken). */
    o = s->hand ? s->hand : s->q[0].tail;
    while (o->_visited) {
      o->_visited = 0;
      o = o->_qprev ? o->_qprev : s->q[0].tail;
    }
    s->hand = o->_qprev;
    return o;
  default: /* S3-FIFO */
    for (;;) {
      rs__queue_t *sm = &s->q[RS__Q_SMALL];
      if (sm->count > 0 && (sm->count >= s->small_entries || sm->bytes >= s->small_bytes ||
                            s->q[RS__Q_MAIN].count == 0)) {
        o = sm->tail;
        if (o->_visited) {                     /* used while small: to main */
          o->_visited = 0;
          rs__q_remove(s, o);
          rs__q_push(s, RS__Q_MAIN, o);
          continue;
        }
        rs__ghost_add(s, o->hash);             /* a one-hit wonder, remembered */
        return o;
      }
      o = s->q[RS__Q_MAIN].tail;
      if (o->_visited == 0) return o;
      o->_visited--;
      rs__q_remove(s, o);
      rs__q_push(s, RS__Q_MAIN, o);
    }
  }
}

/* ------------------------------------------------------------------ table */

/* The link that points at key's entry (*link NULL when absent). */
static rs_entry_t **rs__find(rs__shard_t *s, uint64_t hash, const char *key, size_t len) {
  rs_entry_t **pp = &s->buckets[hash & s->mask];
  while (*pp && !rs__key_eq(*pp, hash, key, len)) pp = &(*pp)->_next;
  return pp;
}

static rs_entry_t **rs__link_of(rs__shard_t *s, rs_entry_t *e) {
  rs_entry_t **pp = &s->buckets[e->hash & s->mask];
  while (*pp != e) pp = &(*pp)->_next;
  return pp;
}

static void rs__grow(rs__shard_t *s) {
  size_t n = (s->mask + 1) * 2;
  rs_entry_t **b = rs_xcalloc(n, sizeof *b);
  for (size_t i = 0; i <= s->mask; i++) {
    rs_entry_t *e = s->buckets[i];
    while (e) {
      rs_entry_t *next = e->_next;
      e->_next = b[e->hash & (n - 1)];
      b[e->hash & (n - 1)] = e;
      e = next;
    }
  }
  free(s->buckets);
  s->buckets = b;
  s->mask = n - 1;
}

/* Unlink e (found at *pp) from table and queue, mark it dead and add it to
 * *grave for release after unlock. */
static void rs__drop(rs__shard_t *s, rs_entry_t **pp, rs_entry_t **grave) {
  rs_entry_t *e = *pp;
  *pp = e->_next;
  rs__q_remove(s, e);
  s->count--;
  s->bytes -= e->size;
  /* Relaxed: the flag carries no data (the entry stays valid for everyone
   * holding a reference) and only tells each L1 to stop serving it; an L1
   * that sees it a moment late serves a page that was current a moment ago,
   * as if its request had come a moment earlier. The store is done before
   * the purge call returns. */
  __atomic_fetch_or(&e->_dead, RS_ENTRY_DEAD, __ATOMIC_RELAXED);
  e->_next = *grave;
  *grave = e;
}

/* Store e under the shard lock. flight_epoch: the flight's start epoch, or
 * e->epoch without a flight. */
static int rs__insert(rs_cache_t *c, rs__shard_t *s, rs_entry_t *e, uint64_t flight_epoch,
                      rs_entry_t **grave) {
  if (rs_entry_dead(e)) return -EINVAL;
  /* A refused entry is marked dead: an L1 must never keep a page L2 does
   * not hold, since no purge could reach it there. Relaxed: see rs__drop. */
  if (e->epoch < s->purge_epoch || flight_epoch < s->purge_epoch) {
    s->st.refused_stale++;
    __atomic_fetch_or(&e->_dead, RS_ENTRY_DEAD, __ATOMIC_RELAXED);
    return -ESTALE;
  }
  /* A page of a bundle a deploy replaced (rs_cache_bundle) never comes back. */
  uint64_t accept = __atomic_load_n(&c->bundle, __ATOMIC_RELAXED);
  if (accept != 0 && e->bundle != 0 && e->bundle != accept) {
    s->st.refused_stale++;
    __atomic_fetch_or(&e->_dead, RS_ENTRY_DEAD, __ATOMIC_RELAXED);
    return -ESTALE;
  }
  if (e->size > s->max_bytes) {
    s->st.refused_size++;
    __atomic_fetch_or(&e->_dead, RS_ENTRY_DEAD, __ATOMIC_RELAXED);
    return -E2BIG;
  }
  rs_entry_t **pp = rs__find(s, e->hash, e->key, e->key_len);
  rs_entry_t *old = *pp;
  if (old == e) return 0;                      /* already there */
  uint8_t visited = 0, queue = RS__Q_SMALL;
  if (old) {
    /* The key keeps its popularity (and S3-FIFO queue) across a refresh: a
     * hot page re-rendered must not restart as a newcomer. */
    visited = old->_visited;
    queue = old->_queue;
    rs__drop(s, pp, grave);
    s->st.replaced++;
  } else if (c->policy == RS_CACHE_POLICY_S3FIFO && rs__ghost_take(s, e->hash)) {
    queue = RS__Q_MAIN;
  }
  while (s->count > 0 && (s->count + 1 > s->max_entries || s->bytes + e->size > s->max_bytes)) {
    rs_entry_t *v = rs__victim(c, s);
    rs__drop(s, rs__link_of(s, v), grave);
    s->st.evictions++;
  }
  if (s->count + 1 > s->mask + 1) rs__grow(s);
  rs_entry_ref(e);
  e->_visited = visited;
  e->_next = s->buckets[e->hash & s->mask];
  s->buckets[e->hash & s->mask] = e;
  rs__q_push(s, c->policy == RS_CACHE_POLICY_S3FIFO ? queue : RS__Q_MAIN, e);
  s->count++;
  s->bytes += e->size;
  s->st.inserts++;
  return 0;
}

/* ------------------------------------------------------------------ create */

rs_cache_t *rs_cache_create(const rs_cache_opts_t *opts) {
  unsigned n = opts->shards ? opts->shards : RS_CACHE_DEFAULT_SHARDS;
  if (n > 4096 || (n & (n - 1)) != 0 || (unsigned)opts->policy >= RS_CACHE_POLICY_MAX)
    return NULL;
  /* Every shard holds at least one entry: fewer entries than shards means
   * fewer shards (the largest power of two not above max_entries). */
  while (opts->max_entries && n > opts->max_entries) n /= 2;
  rs_cache_t *c = rs_xcalloc(1, sizeof *c);
  c->nshards = n;
  c->shift = 64 - (unsigned)__builtin_ctz(n);
  c->policy = opts->policy ? opts->policy : RS__DEFAULT_POLICY;
  c->hash_fn = opts->hash_fn;
  c->shards = aligned_alloc(RS_CACHELINE, n * sizeof *c->shards);
  if (c->shards == NULL) { free(c); return NULL; }
  memset(c->shards, 0, n * sizeof *c->shards);
  /* max_entries exactly: each shard gets max / n, and the first max % n
   * one more, so the shares sum to the bound the operator wrote (5000 is
   * 5000, not 128 * ceil(5000 / 128) = 5120). */
  size_t me_base = opts->max_entries / n, me_rem = opts->max_entries % n;
  size_t mb = opts->max_bytes ? (opts->max_bytes + n - 1) / n : SIZE_MAX;
  for (unsigned i = 0; i < n; i++) {
    rs__shard_t *s = &c->shards[i];
    if (uv_mutex_init(&s->lock) != 0) abort();
    size_t me = opts->max_entries ? me_base + (i < me_rem) : SIZE_MAX;
    s->max_entries = me;
    s->max_bytes = mb;
    s->mask = 15;
    s->buckets = rs_xcalloc(s->mask + 1, sizeof *s->buckets);
    if (c->policy == RS_CACHE_POLICY_S3FIFO) {
      s->small_entries = me == SIZE_MAX ? SIZE_MAX : RS_MAX(me / 10, 1);
      s->small_bytes = mb == SIZE_MAX ? SIZE_MAX : RS_MAX(mb / 10, 1);
      size_t cap = me == SIZE_MAX ? 1024 : RS_MAX(me - RS_MIN(s->small_entries, me), 1);
      if (cap > (1u << 24)) cap = 1u << 24;
      size_t slots = 8;
      while (slots < 2 * cap) slots *= 2;
      s->ghost = rs_xcalloc(slots, sizeof *s->ghost);
      s->ghost_mask = slots - 1;
      s->ghost_cap = (uint32_t)cap;
    }
  }
  return c;
}

void rs_cache_destroy(rs_cache_t *c) {
  if (c == NULL) return;
  for (unsigned i = 0; i < c->nshards; i++) {
    rs__shard_t *s = &c->shards[i];
    rs_entry_t *grave = NULL;
    for (size_t b = 0; b <= s->mask; b++)
      while (s->buckets[b]) rs__drop(s, &s->buckets[b], &grave);
    rs__bury(grave);
    while (s->flights) {
      rs__flight_t *f = s->flights;
      s->flights = f->next;
      free(f);
    }
    free(s->buckets);
    free(s->ghost);
    uv_mutex_destroy(&s->lock);
  }
  free(c->shards);
  free(c);
}

/* ------------------------------------------------------------------ lookup */

/* The entry for key if servable (expired ones are dropped), else NULL. */
static rs_entry_t *rs__get_locked(rs__shard_t *s, uint64_t hash, const char *key, size_t len,
                                  uint64_t now_ms, rs_entry_t **grave) {
  rs_entry_t **pp = rs__find(s, hash, key, len);
  rs_entry_t *e = *pp;
  if (e && !rs_entry_servable(e, now_ms)) {
    rs__drop(s, pp, grave);
    s->st.expirations++;
    return NULL;
  }
  return e;
}

static rs__flight_t **rs__flight_find(rs__shard_t *s, uint64_t hash, const char *key,
                                      size_t len) {
  rs__flight_t **pp = &s->flights;
  while (*pp && !((*pp)->hash == hash && (*pp)->key_len == len &&
                  memcmp((*pp)->key, key, len) == 0))
    pp = &(*pp)->next;
  return pp;
}

static void rs__flight_start(rs_cache_t *c, rs__shard_t *s, uint64_t hash, const char *key,
                             size_t len) {
  rs__flight_t *f = rs_xmalloc(sizeof *f + len);
  f->hash = hash;
  f->epoch = rs_cache_epoch(c);
  f->head = NULL;
  f->tail = &f->head;
  f->key_len = len;
  memcpy(f->key, key, len);
  f->next = s->flights;
  s->flights = f;
  s->st.flights++;
}

rs_entry_t *rs_cache_get(rs_cache_t *c, uint64_t hash, const char *key, size_t len,
                         uint64_t now_ms) {
  rs__shard_t *s = rs__shard(c, hash);
  rs_entry_t *grave = NULL;
  uv_mutex_lock(&s->lock);
  rs_entry_t *e = rs__get_locked(s, hash, key, len, now_ms, &grave);
  if (e) {
    rs__touch(c, s, e);
    rs_entry_ref(e);
    if (rs_entry_fresh(e, now_ms)) s->st.hits++; else s->st.stale_hits++;
  } else {
    s->st.misses++;
  }
  uv_mutex_unlock(&s->lock);
  rs__bury(grave);
  return e;
}

rs_lookup_t rs_cache_lookup(rs_cache_t *c, uint64_t hash, const char *key, size_t len,
                            uint64_t now_ms, rs_entry_t **out, rs_waiter_t *w) {
  return rs_cache_lookup_ex(c, hash, key, len, now_ms, out, w, true);
}

rs_lookup_t rs_cache_lookup_ex(rs_cache_t *c, uint64_t hash, const char *key, size_t len,
                               uint64_t now_ms, rs_entry_t **out, rs_waiter_t *w, bool prefresh) {
  rs__shard_t *s = rs__shard(c, hash);
  rs_entry_t *grave = NULL;
  rs_lookup_t r;
  uv_mutex_lock(&s->lock);
  rs_entry_t *e = rs__get_locked(s, hash, key, len, now_ms, &grave);
  if (e) {
    rs__touch(c, s, e);
    rs_entry_ref(e);
    if (rs_entry_fresh(e, now_ms)) {
      s->st.hits++;
      r = RS_LOOKUP_HIT;
      if (RS_UNLIKELY(e->refresh_ms != 0 && now_ms >= e->refresh_ms) && prefresh && !e->_prefreshed &&
          !*rs__flight_find(s, hash, key, len)) {
        e->_prefreshed = 1;
        s->st.prefreshes++;
        rs__flight_start(c, s, hash, key, len);
        r = RS_LOOKUP_HIT_REFRESH;
      }
    } else {
      s->st.stale_hits++;
      if (*rs__flight_find(s, hash, key, len)) {
        r = RS_LOOKUP_STALE;
      } else {
        rs__flight_start(c, s, hash, key, len);
        r = RS_LOOKUP_STALE_REFRESH;
      }
    }
  } else {
    s->st.misses++;
    rs__flight_t *f = *rs__flight_find(s, hash, key, len);
    if (f) {
      if (w) {
        w->next = NULL;
        *f->tail = w;
        f->tail = &w->next;
        s->st.coalesced++;
      }
      r = RS_LOOKUP_MISS_WAIT;
    } else {
      rs__flight_start(c, s, hash, key, len);
      r = RS_LOOKUP_MISS_LEADER;
    }
  }
  uv_mutex_unlock(&s->lock);
  rs__bury(grave);
  *out = e;
  return r;
}

rs_waiter_t *rs_cache_complete(rs_cache_t *c, uint64_t hash, const char *key, size_t len,
                               rs_entry_t *e, bool store) {
  assert(e == NULL || (e->hash == hash && e->key_len == len && memcmp(e->key, key, len) == 0));
  rs__shard_t *s = rs__shard(c, hash);
  rs_entry_t *grave = NULL;
  uv_mutex_lock(&s->lock);
  rs__flight_t **pp = rs__flight_find(s, hash, key, len), *f = *pp;
  if (f) *pp = f->next;
  /* e NULL: nothing to store; after STALE_REFRESH the stale entry simply
   * stays where it is (stale-if-error) until its grace ends. */
  if (e && store) (void)rs__insert(c, s, e, f ? f->epoch : e->epoch, &grave);
  uv_mutex_unlock(&s->lock);
  rs__bury(grave);
  rs_waiter_t *waiters = f ? f->head : NULL;
  free(f);
  return waiters;
}

int rs_cache_put(rs_cache_t *c, rs_entry_t *e) {
  rs__shard_t *s = rs__shard(c, e->hash);
  rs_entry_t *grave = NULL;
  uv_mutex_lock(&s->lock);
  int rc = rs__insert(c, s, e, e->epoch, &grave);
  uv_mutex_unlock(&s->lock);
  rs__bury(grave);
  return rc;
}

int rs_cache_replace(rs_cache_t *c, rs_entry_t *old, rs_entry_t *e) {
  assert(old->hash == e->hash && old->key_len == e->key_len);
  rs__shard_t *s = rs__shard(c, e->hash);
  rs_entry_t *grave = NULL;
  int rc = -ENOENT;
  uv_mutex_lock(&s->lock);
  /* A soft-purged old one stays stale: its completion must not make it fresh. */
  if (!rs_entry_flagged(old) && *rs__find(s, e->hash, e->key, e->key_len) == old)
    rc = rs__insert(c, s, e, e->epoch, &grave);
  else
    __atomic_fetch_or(&e->_dead, RS_ENTRY_DEAD, __ATOMIC_RELAXED);
  uv_mutex_unlock(&s->lock);
  rs__bury(grave);
  return rc;
}

/* ------------------------------------------------------------------ purge */

static uint64_t rs__epoch_bump(rs_cache_t *c) {
  /* acq_rel: epochs are unique and ordered (an RMW), and a render that
   * later reads the new value (acquire) sees what preceded the purge. */
  return __atomic_add_fetch(&c->epoch, 1, __ATOMIC_ACQ_REL);
}

typedef bool (*rs__match_fn)(const rs_entry_t *e, const char *arg, size_t len, uint64_t now);

/* A soft purge: e stays, stale from now on (served within its grace while
 * one background render replaces it). Under the shard lock. False when it
 * was stale already (nothing to do). */
static bool rs__soften(rs_entry_t *e, uint64_t now) {
  if (!rs_entry_fresh(e, now)) return false;
  e->_soft_ms = now;
  /* release: _soft_ms before the flag (rs_entry_expiry's acquire) */
  __atomic_fetch_or(&e->_dead, RS_ENTRY_SOFT, __ATOMIC_RELEASE);
  return true;
}

/* What rs__purge_each does to the entries that match: drop them (counted
 * as purged, or as expired by a sweep) or mark them stale (a soft purge). */
typedef enum { RS__DROP, RS__EXPIRE, RS__SOFTEN } rs__how_t;

/* Visit every shard: set its purge epoch (when epoch != 0) and apply how
 * to the entries that match. Returns how many. */
static size_t rs__purge_each(rs_cache_t *c, uint64_t epoch, rs__match_fn match, const char *arg, size_t len,
                             uint64_t now, rs__how_t how) {
  size_t n = 0;
  uint64_t t = how == RS__SOFTEN ? rs_now_ms() : 0;
  for (unsigned i = 0; i < c->nshards; i++) {
    rs__shard_t *s = &c->shards[i];
    rs_entry_t *grave = NULL;
    size_t k = 0;
    uv_mutex_lock(&s->lock);
    if (epoch) s->purge_epoch = epoch;
    for (size_t b = 0; b <= s->mask; b++) {
      rs_entry_t **pp = &s->buckets[b];
      while (*pp) {
        if (!match(*pp, arg, len, now)) pp = &(*pp)->_next;
        else if (how == RS__SOFTEN) k += rs__soften(*pp, t), pp = &(*pp)->_next;
        else { rs__drop(s, pp, &grave); k++; }
      }
    }
    if (how == RS__EXPIRE) s->st.expirations += k;
    else if (how == RS__SOFTEN) s->st.softened += k;
    else s->st.purged += k;
    uv_mutex_unlock(&s->lock);
    rs__bury(grave);
    n += k;
  }
  return n;
}

static bool rs__match_prefix(const rs_entry_t *e, const char *p, size_t len, uint64_t now) {
  return e->key_len >= len && memcmp(e->key, p, len) == 0;
}

static bool rs__match_tag(const rs_entry_t *e, const char *tag, size_t len, uint64_t now) {
  for (size_t i = 0; i < e->ntags; i++)
    if (strlen(e->tags[i]) == len && memcmp(e->tags[i], tag, len) == 0) return true;
  return false;
}

static bool rs__match_all(const rs_entry_t *e, const char *a, size_t len, uint64_t now) {
  return true;
}

static bool rs__match_expired(const rs_entry_t *e, const char *a, size_t len, uint64_t now) {
  return !rs_entry_servable(e, now);
}

size_t rs_cache_purge_key(rs_cache_t *c, const char *key, size_t len) {
  uint64_t hash = rs_cache_hash(c, key, len);
  rs__shard_t *s = rs__shard(c, hash);
  rs_entry_t *grave = NULL;
  uint64_t epoch = rs__epoch_bump(c);
  uv_mutex_lock(&s->lock);
  s->purge_epoch = epoch;
  rs_entry_t **pp = rs__find(s, hash, key, len);
  size_t n = *pp != NULL;
  if (n) { rs__drop(s, pp, &grave); s->st.purged++; }
  uv_mutex_unlock(&s->lock);
  rs__bury(grave);
  return n;
}

size_t rs_cache_purge_prefix(rs_cache_t *c, const char *prefix, size_t len) {
  return rs__purge_each(c, rs__epoch_bump(c), rs__match_prefix, prefix, len, 0, RS__DROP);
}

size_t rs_cache_purge_tag(rs_cache_t *c, const char *tag, size_t len) {
  return rs__purge_each(c, rs__epoch_bump(c), rs__match_tag, tag, len, 0, RS__DROP);
}

size_t rs_cache_purge_all(rs_cache_t *c) {
  return rs__purge_each(c, rs__epoch_bump(c), rs__match_all, NULL, 0, 0, RS__DROP);
}

typedef struct {
  bool (*match)(const char *key, size_t len, void *ud);
  void *ud;
} rs__match_key_t;

static bool rs__match_key_fn(const rs_entry_t *e, const char *arg, size_t len, uint64_t now) {
  const rs__match_key_t *m = (const void *)arg;
  return m->match(e->key, e->key_len, m->ud);
}

size_t rs_cache_purge_if(rs_cache_t *c, bool (*match)(const char *key, size_t len, void *ud), void *ud) {
  rs__match_key_t m = { match, ud };
  return rs__purge_each(c, rs__epoch_bump(c), rs__match_key_fn, (const char *)(void *)&m, sizeof(m), 0,
                        RS__DROP);
}

size_t rs_cache_soft_key(rs_cache_t *c, const char *key, size_t len) {
  uint64_t hash = rs_cache_hash(c, key, len);
  rs__shard_t *s = rs__shard(c, hash);
  uint64_t epoch = rs__epoch_bump(c);
  uv_mutex_lock(&s->lock);
  s->purge_epoch = epoch;
  rs_entry_t *e = *rs__find(s, hash, key, len);
  size_t n = e != NULL && rs__soften(e, rs_now_ms());
  s->st.softened += n;
  uv_mutex_unlock(&s->lock);
  return n;
}

size_t rs_cache_soft_tag(rs_cache_t *c, const char *tag, size_t len) {
  return rs__purge_each(c, rs__epoch_bump(c), rs__match_tag, tag, len, 0, RS__SOFTEN);
}

size_t rs_cache_soft_all(rs_cache_t *c) {
  return rs__purge_each(c, rs__epoch_bump(c), rs__match_all, NULL, 0, 0, RS__SOFTEN);
}

size_t rs_cache_soft_if(rs_cache_t *c, bool (*match)(const char *key, size_t len, void *ud), void *ud) {
  rs__match_key_t m = { match, ud };
  return rs__purge_each(c, rs__epoch_bump(c), rs__match_key_fn, (const char *)(void *)&m, sizeof(m), 0,
                        RS__SOFTEN);
}

void rs_cache_bundle(rs_cache_t *c, uint64_t bundle) {
  __atomic_store_n(&c->bundle, bundle, __ATOMIC_RELAXED);
}

static bool rs__match_other_bundle(const rs_entry_t *e, const char *arg, size_t len, uint64_t now) {
  uint64_t keep;
  memcpy(&keep, arg, sizeof(keep));
  return e->bundle != 0 && e->bundle != keep;
}

size_t rs_cache_purge_bundle(rs_cache_t *c, uint64_t keep, bool soft) {
  return rs__purge_each(c, rs__epoch_bump(c), rs__match_other_bundle, (const char *)&keep, sizeof(keep), 0,
                        soft ? RS__SOFTEN : RS__DROP);
}

size_t rs_cache_sweep(rs_cache_t *c, uint64_t now_ms) {
  return rs__purge_each(c, 0, rs__match_expired, NULL, 0, now_ms, RS__EXPIRE);
}

void rs_cache_stats(rs_cache_t *c, rs_cache_stats_t *out) {
  memset(out, 0, sizeof *out);
  for (unsigned i = 0; i < c->nshards; i++) {
    rs__shard_t *s = &c->shards[i];
    uv_mutex_lock(&s->lock);
    out->entries += s->count;
    out->bytes += s->bytes;
    out->inserts += s->st.inserts;
    out->evictions += s->st.evictions;
    out->expirations += s->st.expirations;
    out->purged += s->st.purged;
    out->refused_stale += s->st.refused_stale;
    out->flights += s->st.flights;
    out->coalesced += s->st.coalesced;
    out->hits += s->st.hits;
    out->stale_hits += s->st.stale_hits;
    out->misses += s->st.misses;
    out->replaced += s->st.replaced;
    out->refused_size += s->st.refused_size;
    out->softened += s->st.softened;
    out->prefreshes += s->st.prefreshes;
    uv_mutex_unlock(&s->lock);
  }
}
