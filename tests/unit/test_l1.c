/* tests/unit/test_l1.c — L1: hits, promotion into hot slots, bounds in
 * count and bytes, dead and expired entries, borrows across eviction (the
 * zombie list), replacement, clear, and a randomized run against the rules. */
#include "tap.h"

#include "rs_cache.h"
#include "rs_l1.h"

static rs_entry_t *mk(const char *key, uint64_t hash, size_t body_len, uint64_t ttl_ms) {
  char *body = malloc(body_len + 1);
  memset(body, 'b', body_len);
  rs_entry_spec_t s = {
    .key = key, .key_len = strlen(key), .hash = hash, .status = 200,
    .body_owned = body, .body_len = body_len, .ttl_ms = ttl_ms, .grace_ms = 1000,
    .gzip_level = 0, .brotli_quality = -1,
  };
  rs_entry_t *e = rs_entry_build(&s);
  if (e == NULL) abort();
  return e;
}

static uint64_t hash_of(const char *k) {       /* FNV-1a: any spread will do */
  uint64_t h = 1469598103934665603ull;
  for (; *k; k++) h = (h ^ (unsigned char)*k) * 1099511628211ull;
  return h;
}

static rs_entry_t *mkk(const char *key) { return mk(key, hash_of(key), 32, 60000); }

/* Look up and give the borrow straight back: the entry or NULL. */
static rs_entry_t *get1(rs_l1_t *l1, const rs_entry_t *like, uint64_t now) {
  rs_l1_ref_t *r;
  rs_entry_t *e = rs_l1_get(l1, like->hash, like->key, like->key_len, now, &r);
  if (e) rs_l1_put(l1, r);
  return e;
}

static void test_hit_miss(void) {
  rs_l1_t *l1 = rs_l1_create(NULL);            /* defaults */
  rs_entry_t *a = mkk("GET|h|/a");
  uint64_t now = a->created_ms;
  ASSERT(get1(l1, a, now) == NULL);
  rs_l1_offer(l1, a, now);
  ASSERT_EQ(rs_entry_refs(a), 2);              /* ours + L1's */
  rs_l1_offer(l1, a, now);                     /* again: nothing changes */
  ASSERT_EQ(rs_entry_refs(a), 2);
  rs_l1_ref_t *r = NULL;
  rs_entry_t *e = rs_l1_get(l1, a->hash, a->key, a->key_len, now, &r);
  ASSERT(e == a && r != NULL);
  ASSERT_EQ(rs_entry_refs(a), 2);              /* a borrow is no reference */
  rs_l1_put(l1, r);
  ASSERT(rs_l1_get(l1, a->hash, "GET|h|/b", 8, now, &r) == NULL);  /* same hash, other key */
  ASSERT(r == NULL);
  const rs_l1_stats_t *st = rs_l1_stats(l1);
  ASSERT_EQ(st->hits_map, 1);
  ASSERT_EQ(st->misses, 2);
  ASSERT_EQ(st->entries, 1);
  ASSERT_EQ(st->bytes, a->size);
  rs_l1_destroy(l1);
  ASSERT_EQ(rs_entry_refs(a), 1);
  rs_entry_release(a);
}

/* A page whose refresh ahead is due (cache.prefresh) is left to L2, which
 * starts it: no longer answered, nor taken when offered. */
static void test_refresh_due(void) {
  rs_l1_t *l1 = rs_l1_create(NULL);
  rs_entry_t *a = mkk("GET|h|/r");
  uint64_t t0 = a->created_ms;
  a->refresh_ms = t0 + 500;
  rs_l1_offer(l1, a, t0);
  ASSERT(get1(l1, a, t0 + 499) == a);
  ASSERT(get1(l1, a, t0 + 500) == NULL);       /* due: to L2 */
  ASSERT_EQ(rs_entry_refs(a), 1);              /* dropped */
  rs_l1_offer(l1, a, t0 + 501);                /* not taken back */
  ASSERT_EQ(rs_entry_refs(a), 1);
  ASSERT(get1(l1, a, t0 + 502) == NULL);
  rs_l1_destroy(l1);
  rs_entry_release(a);
}

static void test_promotion(void) {
  rs_l1_opts_t o = { .hot = 2, .entries = 8, .max_bytes = 1 << 20 };
  rs_l1_t *l1 = rs_l1_create(&o);
  rs_entry_t *e[4] = { mkk("a"), mkk("b"), mkk("c"), mkk("d") };
  uint64_t now = e[3]->created_ms;
  for (int i = 0; i < 4; i++) rs_l1_offer(l1, e[i], now);
  const rs_l1_stats_t *st = rs_l1_stats(l1);

  get1(l1, e[0], now);                         /* one use: stays in the map */
  ASSERT_EQ(st->promotions, 0);
  get1(l1, e[0], now);                         /* two: takes a free hot slot */
  ASSERT_EQ(st->promotions, 1);
  ASSERT_EQ(st->hits_map, 2);
  get1(l1, e[0], now);
  ASSERT_EQ(st->hits_hot, 1);
  for (int i = 0; i < 2; i++) get1(l1, e[1], now);   /* b: the second slot */
  ASSERT_EQ(st->promotions, 2);
  get1(l1, e[1], now);
  ASSERT_EQ(st->hits_hot, 2);
  /* Hot: a (3 uses), b (3). c needs more uses than the coldest to enter. */
  for (int i = 0; i < 3; i++) get1(l1, e[2], now);
  ASSERT_EQ(st->promotions, 2);
  get1(l1, e[2], now);                         /* 4 > 3: swaps with a (or b) */
  ASSERT_EQ(st->promotions, 3);
  uint64_t hot_before = st->hits_hot, map_before = st->hits_map;
  get1(l1, e[2], now);
  ASSERT_EQ(st->hits_hot, hot_before + 1);
  /* The demoted one is still there, in the map. */
  ASSERT(get1(l1, e[0], now) == e[0]);
  ASSERT(get1(l1, e[1], now) == e[1]);
  ASSERT(st->hits_map >= map_before + 1);
  ASSERT_EQ(st->entries, 4);
  rs_l1_destroy(l1);
  for (int i = 0; i < 4; i++) {
    ASSERT_EQ(rs_entry_refs(e[i]), 1);
    rs_entry_release(e[i]);
  }
}

static void test_bound_count(void) {
  rs_l1_opts_t o = { .hot = 2, .entries = 4, .max_bytes = 1 << 20 };
  rs_l1_t *l1 = rs_l1_create(&o);
  rs_entry_t *e[20];
  char k[16];
  for (int i = 0; i < 20; i++) {
    snprintf(k, sizeof k, "k%d", i);
    e[i] = mkk(k);
  }
  uint64_t now = e[19]->created_ms;
  const rs_l1_stats_t *st = rs_l1_stats(l1);
  for (int i = 0; i < 20; i++) {
    rs_l1_offer(l1, e[i], now);
    if (i < 2) { get1(l1, e[i], now); get1(l1, e[i], now); }  /* k0, k1 go hot */
    ASSERT(st->entries <= 6);                  /* 2 hot + 4 map */
  }
  ASSERT_EQ(st->entries, 6);
  ASSERT_EQ(st->evictions, 14);
  ASSERT(get1(l1, e[0], now) == e[0]);         /* hot ones survived the stream */
  ASSERT(get1(l1, e[1], now) == e[1]);
  ASSERT(get1(l1, e[19], now) == e[19]);
  size_t held = 0;
  for (int i = 0; i < 20; i++) held += rs_entry_refs(e[i]) - 1;
  ASSERT_EQ(held, 6);                          /* evicted ones were released */
  rs_l1_destroy(l1);
  for (int i = 0; i < 20; i++) rs_entry_release(e[i]);
}

static void test_bound_bytes(void) {
  rs_entry_t *probe = mkk("k00");
  size_t sz = probe->size;
  rs_l1_opts_t o = { .hot = 2, .entries = 100, .max_bytes = 3 * sz + sz / 2 };
  rs_l1_t *l1 = rs_l1_create(&o);
  const rs_l1_stats_t *st = rs_l1_stats(l1);
  rs_entry_t *e[10];
  char k[8];
  for (int i = 0; i < 10; i++) {
    snprintf(k, sizeof k, "k%02d", i);
    e[i] = mkk(k);
    ASSERT_EQ(e[i]->size, sz);
    rs_l1_offer(l1, e[i], e[i]->created_ms);
    if (i == 0) { get1(l1, e[0], e[0]->created_ms); get1(l1, e[0], e[0]->created_ms); }
    ASSERT(st->bytes <= o.max_bytes);
  }
  ASSERT_EQ(st->entries, 3);
  ASSERT(get1(l1, e[0], e[0]->created_ms) == e[0]);   /* hot */
  ASSERT(get1(l1, e[9], e[9]->created_ms) == e[9]);   /* newest */
  /* Larger than the whole budget: not admitted, nothing evicted for it. */
  rs_entry_t *big = mk("big", hash_of("big"), o.max_bytes, 60000);
  rs_l1_offer(l1, big, big->created_ms);
  ASSERT_EQ(rs_entry_refs(big), 1);
  ASSERT_EQ(st->entries, 3);
  rs_l1_destroy(l1);
  /* Bytes bound the hot slots too: three hot entries fill the budget, the
   * map is empty, and an offer must push one of them out. */
  o.hot = 4;
  l1 = rs_l1_create(&o);
  st = rs_l1_stats(l1);
  for (int i = 0; i < 3; i++) {
    rs_l1_offer(l1, e[i], e[i]->created_ms);
    get1(l1, e[i], e[i]->created_ms);
    get1(l1, e[i], e[i]->created_ms);
  }
  ASSERT_EQ(st->promotions, 3);
  rs_l1_offer(l1, e[5], e[5]->created_ms);
  ASSERT_EQ(st->entries, 3);
  ASSERT_EQ(st->evictions, 1);
  ASSERT(st->bytes <= o.max_bytes);
  ASSERT(get1(l1, e[5], e[5]->created_ms) == e[5]);
  rs_l1_destroy(l1);
  for (int i = 0; i < 10; i++) {
    ASSERT_EQ(rs_entry_refs(e[i]), 1);
    rs_entry_release(e[i]);
  }
  rs_entry_release(big);
  rs_entry_release(probe);
}

static void test_dead_and_expired(void) {
  rs_cache_opts_t co = { .max_entries = 10, .shards = 1 };
  rs_cache_t *c = rs_cache_create(&co);
  rs_l1_t *l1 = rs_l1_create(NULL);
  rs_entry_t *a = mk("a", rs_cache_hash(c, "a", 1), 8, 60000);
  uint64_t now = a->created_ms;
  ASSERT_EQ(rs_cache_put(c, a), 0);
  rs_l1_offer(l1, a, now);
  for (int i = 0; i < 3; i++) ASSERT(get1(l1, a, now) == a);   /* now hot */
  rs_cache_purge_key(c, "a", 1);                /* L2 drops it: dead */
  ASSERT(rs_entry_dead(a));
  ASSERT(get1(l1, a, now) == NULL);
  ASSERT_EQ(rs_entry_refs(a), 1);               /* L1 let go of it at once */
  rs_l1_offer(l1, a, now);                      /* a dead entry is never admitted */
  ASSERT_EQ(rs_entry_refs(a), 1);
  rs_entry_release(a);

  rs_entry_t *b = mk("b", hash_of("b"), 8, 100);
  now = b->created_ms;
  rs_l1_offer(l1, b, now);
  ASSERT(get1(l1, b, now + 99) == b);
  ASSERT(get1(l1, b, now + 100) == NULL);       /* stale is L2's business */
  ASSERT_EQ(rs_entry_refs(b), 1);
  rs_l1_offer(l1, b, now + 100);                /* not fresh: not admitted */
  ASSERT_EQ(rs_entry_refs(b), 1);
  ASSERT_EQ(rs_l1_stats(l1)->entries, 0);
  ASSERT_EQ(rs_l1_stats(l1)->bytes, 0);
  rs_entry_release(b);
  rs_l1_destroy(l1);
  rs_cache_destroy(c);
}

/* Entries leave L1 while writes borrow them: they wait in the zombie list
 * and the last rs_l1_put releases L1's reference. */
static void test_borrow_across_eviction(void) {
  rs_l1_opts_t o = { .hot = 1, .entries = 2, .max_bytes = 1 << 20 };
  rs_l1_t *l1 = rs_l1_create(&o);
  rs_entry_t *a = mkk("a");
  uint64_t now = a->created_ms;
  rs_l1_offer(l1, a, now);
  rs_l1_ref_t *r1, *r2;
  ASSERT(rs_l1_get(l1, a->hash, "a", 1, now, &r1) == a);
  ASSERT(rs_l1_get(l1, a->hash, "a", 1, now, &r2) == a);   /* a is hot now */
  rs_entry_t *f[6];
  for (int i = 0; i < 6; i++) {                /* fill and churn the map */
    char k[4] = { 'f', (char)('0' + i), 0 };
    f[i] = mkk(k);
    rs_l1_offer(l1, f[i], now);
    get1(l1, f[i], now);
    get1(l1, f[i], now);
    get1(l1, f[i], now);                       /* beats a: a is demoted, then evicted */
  }
  ASSERT(get1(l1, a, now) == NULL);            /* gone from L1 */
  ASSERT_EQ(rs_entry_refs(a), 2);              /* ours + L1's, held by the borrows */
  ASSERT_EQ(a->body[0].p[7], 'b');
  rs_l1_put(l1, r1);
  ASSERT_EQ(rs_entry_refs(a), 2);
  rs_l1_put(l1, r2);                           /* the last borrow: released */
  ASSERT_EQ(rs_entry_refs(a), 1);

  /* Dead while borrowed. */
  rs_entry_t *b = mkk("b");
  rs_l1_offer(l1, b, now);
  ASSERT(rs_l1_get(l1, b->hash, "b", 1, now, &r1) == b);
  __atomic_store_n(&b->_dead, 1, __ATOMIC_RELAXED);   /* what L2 does */
  ASSERT(get1(l1, b, now) == NULL);
  ASSERT_EQ(rs_entry_refs(b), 2);
  rs_l1_put(l1, r1);
  ASSERT_EQ(rs_entry_refs(b), 1);

  /* Replaced while borrowed: the new page serves, the old one lives on. */
  rs_entry_t *c1 = mkk("c"), *c2 = mkk("c");
  rs_l1_offer(l1, c1, now);
  ASSERT(rs_l1_get(l1, c1->hash, "c", 1, now, &r1) == c1);
  rs_l1_offer(l1, c2, now);
  ASSERT(get1(l1, c1, now) == c2);
  ASSERT_EQ(rs_entry_refs(c1), 2);
  rs_l1_put(l1, r1);
  ASSERT_EQ(rs_entry_refs(c1), 1);
  ASSERT_EQ(rs_entry_refs(c2), 2);

  /* Cleared while borrowed. */
  ASSERT(rs_l1_get(l1, c2->hash, "c", 1, now, &r1) == c2);
  rs_l1_clear(l1);
  ASSERT(get1(l1, c2, now) == NULL);
  ASSERT_EQ(rs_entry_refs(c2), 2);
  ASSERT_EQ(c2->body[0].p[0], 'b');
  rs_l1_put(l1, r1);
  ASSERT_EQ(rs_entry_refs(c2), 1);
  ASSERT_EQ(rs_l1_stats(l1)->entries, 0);

  rs_l1_destroy(l1);
  rs_entry_release(a);
  rs_entry_release(b);
  rs_entry_release(c1);
  rs_entry_release(c2);
  for (int i = 0; i < 6; i++) {
    ASSERT_EQ(rs_entry_refs(f[i]), 1);
    rs_entry_release(f[i]);
  }
}

static void test_replace_hot(void) {
  rs_l1_t *l1 = rs_l1_create(NULL);
  rs_entry_t *a1 = mkk("a"), *a2 = mkk("a");
  uint64_t now = a2->created_ms;
  rs_l1_offer(l1, a1, now);
  for (int i = 0; i < 3; i++) get1(l1, a1, now);
  uint64_t hot = rs_l1_stats(l1)->hits_hot;
  rs_l1_offer(l1, a2, now);                    /* takes a1's hot slot */
  ASSERT_EQ(rs_entry_refs(a1), 1);
  ASSERT(get1(l1, a2, now) == a2);
  ASSERT_EQ(rs_l1_stats(l1)->hits_hot, hot + 1);
  ASSERT_EQ(rs_l1_stats(l1)->entries, 1);
  ASSERT_EQ(rs_l1_stats(l1)->bytes, a2->size);
  rs_l1_destroy(l1);
  rs_entry_release(a1);
  rs_entry_release(a2);
}

static void test_collisions(void) {
  rs_l1_t *l1 = rs_l1_create(NULL);
  rs_entry_t *a = mk("/a", 99, 8, 60000), *b = mk("/b", 99, 8, 60000);
  uint64_t now = b->created_ms;
  rs_l1_offer(l1, a, now);
  rs_l1_offer(l1, b, now);
  for (int i = 0; i < 3; i++) {                /* through the map, then hot */
    ASSERT(get1(l1, a, now) == a);
    ASSERT(get1(l1, b, now) == b);
  }
  rs_l1_ref_t *r;
  ASSERT(rs_l1_get(l1, 99, "/c", 2, now, &r) == NULL);
  rs_l1_destroy(l1);
  rs_entry_release(a);
  rs_entry_release(b);
}

/* Options are taken as given: no hot slots, a map of one, no bytes. */
static void test_opts_literal(void) {
  rs_l1_opts_t o = { .hot = 0, .entries = 0, .max_bytes = 1 << 20 };
  rs_l1_t *l1 = rs_l1_create(&o);
  rs_entry_t *a = mkk("a"), *b = mkk("b");
  uint64_t now = b->created_ms;
  rs_l1_offer(l1, a, now);
  for (int i = 0; i < 5; i++) ASSERT(get1(l1, a, now) == a);
  ASSERT_EQ(rs_l1_stats(l1)->hits_map, 5);
  ASSERT_EQ(rs_l1_stats(l1)->promotions, 0);
  rs_l1_offer(l1, b, now);                     /* a map of one: a goes */
  ASSERT(get1(l1, a, now) == NULL);
  ASSERT(get1(l1, b, now) == b);
  ASSERT_EQ(rs_entry_refs(a), 1);
  rs_l1_destroy(l1);
  o.max_bytes = 0;
  o.entries = 4;
  l1 = rs_l1_create(&o);
  rs_l1_offer(l1, a, now);
  ASSERT(get1(l1, a, now) == NULL);
  ASSERT_EQ(rs_entry_refs(a), 1);
  rs_l1_destroy(l1);
  rs_entry_release(a);
  rs_entry_release(b);
}

/* What the request path does when a purge races a render: L2 refuses the
 * page (and marks it dead); offering it to L1 afterwards keeps nothing. */
static void test_refused_by_l2(void) {
  rs_cache_opts_t co = { .max_entries = 10, .shards = 1 };
  rs_cache_t *c = rs_cache_create(&co);
  rs_l1_t *l1 = rs_l1_create(NULL);
  uint64_t began = rs_cache_epoch(c);
  rs_cache_purge_all(c);
  rs_entry_t *a = mk("a", rs_cache_hash(c, "a", 1), 8, 60000);
  a->epoch = began;                            /* before it is shared */
  rs_cache_complete(c, a->hash, "a", 1, a, true);
  rs_l1_offer(l1, a, a->created_ms);
  ASSERT(get1(l1, a, a->created_ms) == NULL);
  ASSERT_EQ(rs_entry_refs(a), 1);
  rs_l1_destroy(l1);
  rs_cache_destroy(c);
  rs_entry_release(a);
}

static void test_clear(void) {
  rs_l1_t *l1 = rs_l1_create(NULL);
  rs_entry_t *e[10];
  for (int i = 0; i < 10; i++) {
    char k[4] = { 'k', (char)('0' + i), 0 };
    e[i] = mkk(k);
    rs_l1_offer(l1, e[i], e[i]->created_ms);
    for (int j = 0; j < i % 4; j++) get1(l1, e[i], e[i]->created_ms);
  }
  ASSERT_EQ(rs_l1_stats(l1)->entries, 10);
  rs_l1_clear(l1);
  ASSERT_EQ(rs_l1_stats(l1)->entries, 0);
  ASSERT_EQ(rs_l1_stats(l1)->bytes, 0);
  for (int i = 0; i < 10; i++) {
    ASSERT(get1(l1, e[i], e[i]->created_ms) == NULL);
    ASSERT_EQ(rs_entry_refs(e[i]), 1);
  }
  rs_l1_offer(l1, e[0], e[0]->created_ms);     /* usable again */
  ASSERT(get1(l1, e[0], e[0]->created_ms) == e[0]);
  rs_l1_destroy(l1);
  for (int i = 0; i < 10; i++) rs_entry_release(e[i]);
}

/* Random offers, gets (borrows held for a while), deaths and clears over
 * keys whose hashes crowd a few map cells (long probe runs, wrap-around,
 * backward shifts). Checks every answer and the bounds; ASan checks the
 * references. */
static void test_random(void) {
  enum { NKEYS = 64, NBORROW = 16 };
  rs_l1_opts_t o = { .hot = 4, .entries = 12, .max_bytes = 0 };
  uint64_t rnd = 88172645463325252ull;
  rs_entry_t *keys[NKEYS] = { 0 };
  rs_entry_t *probe = mk("probe-00", 0, 64, 60000);
  o.max_bytes = probe->size * 10;              /* bytes bind before entries do */
  rs_entry_release(probe);
  rs_l1_t *l1 = rs_l1_create(&o);
  struct { rs_l1_ref_t *r; rs_entry_t *e; } held[NBORROW] = { { 0 } };
  uint64_t now = rs_now_ms();
  for (int it = 0; it < 200000; it++) {
    rnd ^= rnd << 13; rnd ^= rnd >> 7; rnd ^= rnd << 17;
    unsigned k = (unsigned)(rnd % NKEYS), op = (unsigned)((rnd >> 8) % 100);
    char name[16];
    snprintf(name, sizeof name, "probe-%02u", k);
    /* Hashes: the low bits crowd into 8 cells, the high bits differ. */
    uint64_t h = ((uint64_t)k << 40) | (k % 8) | ((uint64_t)(k % 3) << 62);
    if (op < 20 || keys[k] == NULL) {          /* a new page for k */
      rs_entry_t *e = mk(name, h, 40 + (rnd >> 20) % 48, 60000);
      rs_l1_offer(l1, e, now);
      rs_entry_release(keys[k]);
      keys[k] = e;
    } else if (op < 85) {
      rs_l1_ref_t *r;
      rs_entry_t *e = rs_l1_get(l1, h, name, strlen(name), now, &r);
      if (e) {
        if (e->key_len != strlen(name) || memcmp(e->key, name, e->key_len) != 0)
          TAP_FAIL("wrong page for %s", name);
        if (rs_entry_dead(e)) TAP_FAIL("dead page served");
        unsigned slot = (unsigned)((rnd >> 30) % NBORROW);
        if (held[slot].r) rs_l1_put(l1, held[slot].r);
        held[slot].r = r;
        held[slot].e = e;
      }
    } else if (op < 95) {
      if (keys[k]) __atomic_store_n(&keys[k]->_dead, 1, __ATOMIC_RELAXED);
    } else if (op < 99) {
      unsigned slot = (unsigned)((rnd >> 30) % NBORROW);
      if (held[slot].r) {
        if (held[slot].e->body[0].p[0] != 'b') TAP_FAIL("borrowed page clobbered");
        rs_l1_put(l1, held[slot].r);
        held[slot].r = NULL;
      }
    } else {
      rs_l1_clear(l1);
    }
    const rs_l1_stats_t *st = rs_l1_stats(l1);
    if (st->entries > o.hot + o.entries || st->bytes > o.max_bytes)
      TAP_FAIL("bounds: %zu entries, %zu bytes", st->entries, st->bytes);
  }
  for (int i = 0; i < NBORROW; i++)
    if (held[i].r) rs_l1_put(l1, held[i].r);
  rs_l1_destroy(l1);
  for (int i = 0; i < NKEYS; i++) {
    if (keys[i] && rs_entry_refs(keys[i]) != 1) TAP_FAIL("key %d: %u refs", i, rs_entry_refs(keys[i]));
    rs_entry_release(keys[i]);
  }
}

int main(void) {
  RS_TEST(test_hit_miss);
  RS_TEST(test_promotion);
  RS_TEST(test_refresh_due);
  RS_TEST(test_bound_count);
  RS_TEST(test_bound_bytes);
  RS_TEST(test_dead_and_expired);
  RS_TEST(test_borrow_across_eviction);
  RS_TEST(test_replace_hot);
  RS_TEST(test_collisions);
  RS_TEST(test_opts_literal);
  RS_TEST(test_refused_by_l2);
  RS_TEST(test_clear);
  RS_TEST(test_random);
  RS_TEST_DONE();
}
