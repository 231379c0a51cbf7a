/* tests/unit/test_cache.c — L2: bounds, eviction order per policy, TTL and
 * grace, collisions, references across eviction, purges and their epochs,
 * coalescing, stale-while-revalidate, sweep, and a multi-thread hammer
 * (meant to run under ThreadSanitizer too). */
#include "tap.h"

#include "rs_cache.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>

static rs_cache_t *mkcache(size_t max_entries, size_t max_bytes, unsigned shards,
                           rs_cache_policy_t policy) {
  rs_cache_opts_t o = { .max_entries = max_entries, .max_bytes = max_bytes,
                        .shards = shards, .policy = policy };
  return rs_cache_create(&o);
}

/* An entry for key in c (hash from c), a body of body_len 'x', no
 * compression; ttl/grace in ms; epoch as given. */
static rs_entry_t *mkentry_full(rs_cache_t *c, const char *key, size_t body_len, uint64_t ttl,
                                uint64_t grace, uint64_t epoch, const char *tag) {
  char *body = malloc(body_len + 1);
  memset(body, 'x', body_len);
  const char *tags[1] = { tag };
  size_t tag_lens[1] = { tag ? strlen(tag) : 0 };
  rs_entry_spec_t s = {
    .key = key, .key_len = strlen(key), .hash = rs_cache_hash(c, key, strlen(key)),
    .status = 200, .headers = "Content-Type: text/html\r\n", .headers_len = 25,
    .body_owned = body, .body_len = body_len, .tags = tags, .tag_lens = tag_lens,
    .ntags = tag ? 1 : 0, .ttl_ms = ttl, .grace_ms = grace, .epoch = epoch,
    .gzip_level = 0, .brotli_quality = -1,
  };
  rs_entry_t *e = rs_entry_build(&s);
  if (e == NULL) abort();
  return e;
}

static rs_entry_t *mkentry(rs_cache_t *c, const char *key) {
  return mkentry_full(c, key, 16, 60000, 10000, rs_cache_epoch(c), NULL);
}

/* Put a fresh entry for key and drop our reference: the cache's is left. */
static int put_key(rs_cache_t *c, const char *key) {
  rs_entry_t *e = mkentry(c, key);
  int rc = rs_cache_put(c, e);
  rs_entry_release(e);
  return rc;
}

static rs_entry_t *get_key(rs_cache_t *c, const char *key) {
  return rs_cache_get(c, rs_cache_hash(c, key, strlen(key)), key, strlen(key), rs_now_ms());
}

/* Present, by get (which counts as a use for the policy). */
static bool has_key(rs_cache_t *c, const char *key) {
  rs_entry_t *e = get_key(c, key);
  rs_entry_release(e);
  return e != NULL;
}

static void test_create_opts(void) {
  rs_cache_opts_t o = { .max_entries = 10, .shards = 3 };
  ASSERT(rs_cache_create(&o) == NULL);
  o.shards = 8192;
  ASSERT(rs_cache_create(&o) == NULL);
  o.shards = 4;
  o.policy = RS_CACHE_POLICY_MAX;
  ASSERT(rs_cache_create(&o) == NULL);
  o.policy = 0;
  o.shards = 0;                                /* the default */
  rs_cache_t *c = rs_cache_create(&o);
  ASSERT(c != NULL);
  ASSERT(rs_cache_policy(c) != RS_CACHE_POLICY_DEFAULT);
  ASSERT_STR_EQ(rs_cache_policy_name(RS_CACHE_POLICY_SIEVE), "sieve");
  rs_cache_destroy(c);
  rs_cache_destroy(NULL);
}

static void test_put_get(void) {
  rs_cache_t *c = mkcache(100, 0, 4, 0);
  rs_entry_t *e = mkentry(c, "GET|h|/a");
  ASSERT_EQ(rs_cache_put(c, e), 0);
  ASSERT_EQ(rs_entry_refs(e), 2);              /* ours + the cache's */
  ASSERT_EQ(rs_cache_put(c, e), 0);            /* again: already there */
  ASSERT_EQ(rs_entry_refs(e), 2);
  rs_entry_t *g = get_key(c, "GET|h|/a");
  ASSERT(g == e);
  ASSERT_EQ(rs_entry_refs(e), 3);
  rs_entry_release(g);
  ASSERT(get_key(c, "GET|h|/b") == NULL);
  ASSERT(get_key(c, "GET|h|/") == NULL);       /* a prefix is another key */
  ASSERT(get_key(c, "GET|h|/aa") == NULL);
  rs_cache_stats_t st;
  rs_cache_stats(c, &st);
  ASSERT_EQ(st.entries, 1);
  ASSERT_EQ(st.bytes, e->size);
  ASSERT_EQ(st.inserts, 1);
  ASSERT_EQ(st.hits, 1);
  ASSERT_EQ(st.misses, 3);
  rs_cache_destroy(c);
  ASSERT(rs_entry_dead(e));                    /* destroy dropped it */
  ASSERT_EQ(rs_entry_refs(e), 1);
  rs_entry_release(e);
}

static void test_replace(void) {
  rs_cache_t *c = mkcache(100, 0, 1, 0);
  rs_entry_t *a = mkentry(c, "k"), *b = mkentry(c, "k");
  ASSERT_EQ(rs_cache_put(c, a), 0);
  ASSERT_EQ(rs_cache_put(c, b), 0);
  ASSERT(rs_entry_dead(a));
  ASSERT(!rs_entry_dead(b));
  rs_entry_t *g = get_key(c, "k");
  ASSERT(g == b);
  rs_entry_release(g);
  ASSERT_EQ(rs_cache_put(c, a), -EINVAL);      /* a dropped entry never returns */
  rs_cache_stats_t st;
  rs_cache_stats(c, &st);
  ASSERT_EQ(st.entries, 1);
  ASSERT_EQ(st.replaced, 1);
  rs_entry_release(a);
  rs_entry_release(b);
  rs_cache_destroy(c);
}

/* rs_cache_replace: only over the entry L2 still holds. */
static void test_replace_if_current(void) {
  rs_cache_t *c = mkcache(100, 0, 1, 0);
  rs_entry_t *a = mkentry(c, "k"), *b = mkentry(c, "k"), *n = mkentry(c, "k");
  ASSERT_EQ(rs_cache_put(c, a), 0);
  ASSERT_EQ(rs_cache_replace(c, a, b), 0);     /* a current: b takes its place */
  ASSERT(rs_entry_dead(a));
  rs_entry_t *g = get_key(c, "k");
  ASSERT(g == b);
  rs_entry_release(g);
  ASSERT_EQ(rs_cache_replace(c, a, n), -ENOENT); /* a is gone: n refused */
  ASSERT(rs_entry_dead(n));
  g = get_key(c, "k");
  ASSERT(g == b);
  rs_entry_release(g);
  rs_cache_purge_all(c);
  rs_entry_t *m = mkentry(c, "k");
  ASSERT_EQ(rs_cache_replace(c, b, m), -ENOENT); /* purged since */
  ASSERT(get_key(c, "k") == NULL);
  rs_entry_release(a);
  rs_entry_release(b);
  rs_entry_release(n);
  rs_entry_release(m);
  rs_cache_destroy(c);
}

static void test_bounds_entries(void) {
  for (rs_cache_policy_t p = RS_CACHE_POLICY_LRU; p < RS_CACHE_POLICY_MAX; p++) {
    for (unsigned shards = 1; shards <= 4; shards *= 4) {
      rs_cache_t *c = mkcache(10, 0, shards, p);
      char key[32];
      for (int i = 0; i < 200; i++) {
        snprintf(key, sizeof key, "key-%d", i);
        ASSERT_EQ(put_key(c, key), 0);
        if (i % 3 == 0) has_key(c, "key-0");
        rs_cache_stats_t st;
        rs_cache_stats(c, &st);
        /* The bound is exact: the shards' shares sum to 10. */
        size_t bound = 10;
        if (st.entries > bound) TAP_FAIL("%s/%u: %llu entries", rs_cache_policy_name(p),
                                         shards, (unsigned long long)st.entries);
      }
      rs_cache_stats_t st;
      rs_cache_stats(c, &st);
      ASSERT_EQ(st.inserts, 200);
      ASSERT_EQ(st.evictions + st.entries, 200);
      if (shards == 1) ASSERT_EQ(st.entries, 10);
      rs_cache_destroy(c);
    }
  }
}

/* max_entries is the operator's figure, not rounded up per shard (issue
 * 10: 5000 over 128 shards held 5120), and fewer entries than shards still
 * stores pages. */
static void test_bounds_entries_exact(void) {
  static const struct { size_t max; unsigned shards; } cases[] = {
    { 5000, 128 }, { 5000, 0 }, { 3, 128 }, { 1, 64 }, { 130, 128 }, { 127, 128 }, { 4096, 4096 },
  };
  for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
    rs_cache_t *c = mkcache(cases[k].max, 0, cases[k].shards, 0);
    ASSERT(rs_cache_shards(c) <= cases[k].max);
    char key[32];
    size_t n = cases[k].max * 16 + 64;
    for (size_t i = 0; i < n; i++) {
      snprintf(key, sizeof key, "page-%zu", i);
      ASSERT_EQ(put_key(c, key), 0);
    }
    rs_cache_stats_t st;
    rs_cache_stats(c, &st);
    if (st.entries > cases[k].max)
      TAP_FAIL("max %zu over %u shards: %llu entries", cases[k].max, cases[k].shards,
               (unsigned long long)st.entries);
    /* Room is not lost either: with 16x the keys every shard is full. */
    if (st.entries != cases[k].max)
      TAP_FAIL("max %zu over %u shards: only %llu entries", cases[k].max, cases[k].shards,
               (unsigned long long)st.entries);
    rs_cache_destroy(c);
  }
}

static void test_bounds_bytes(void) {
  rs_cache_t *probe = mkcache(1, 0, 1, 0);
  rs_entry_t *one = mkentry_full(probe, "key-000", 1000, 60000, 0, 0, NULL);
  size_t esize = one->size;                    /* every key-NNN entry has this size */
  rs_entry_release(one);
  rs_cache_destroy(probe);
  for (rs_cache_policy_t p = RS_CACHE_POLICY_LRU; p < RS_CACHE_POLICY_MAX; p++) {
    size_t max_bytes = esize * 5 + esize / 2;  /* room for 5 */
    rs_cache_t *c = mkcache(1000, max_bytes, 1, p);
    char key[32];
    for (int i = 0; i < 100; i++) {
      snprintf(key, sizeof key, "key-%03d", i);
      rs_entry_t *e = mkentry_full(c, key, 1000, 60000, 0, 0, NULL);
      ASSERT_EQ(e->size, esize);
      ASSERT_EQ(rs_cache_put(c, e), 0);
      rs_entry_release(e);
      rs_cache_stats_t st;
      rs_cache_stats(c, &st);
      ASSERT(st.bytes <= max_bytes);
      ASSERT_EQ(st.bytes, st.entries * esize);
    }
    rs_cache_stats_t st;
    rs_cache_stats(c, &st);
    ASSERT_EQ(st.entries, 5);
    ASSERT_EQ(st.evictions, 95);
    /* Larger than the whole share: refused, nothing evicted for it. */
    rs_entry_t *big = mkentry_full(c, "big", max_bytes, 60000, 0, 0, NULL);
    ASSERT_EQ(rs_cache_put(c, big), -E2BIG);
    ASSERT(rs_entry_dead(big));                /* L1 will not keep it either */
    rs_entry_release(big);
    rs_cache_stats(c, &st);
    ASSERT_EQ(st.entries, 5);
    ASSERT_EQ(st.refused_size, 1);
    rs_cache_destroy(c);
  }
}

/* Scripted sequences, capacity 3, one shard. Entries are kept referenced
 * so "evicted" is read from the dead flag without touching the policy. */
typedef struct { rs_cache_t *c; rs_entry_t *e[8]; } script_t;

static void s_put(script_t *s, int i) {
  char k[2] = { (char)('A' + i), 0 };
  s->e[i] = mkentry(s->c, k);
  rs_cache_put(s->c, s->e[i]);
}
static void s_hit(script_t *s, int i) {
  char k[2] = { (char)('A' + i), 0 };
  rs_entry_release(get_key(s->c, k));
}
static void s_done(script_t *s) {
  for (int i = 0; i < 8; i++) rs_entry_release(s->e[i]);
  rs_cache_destroy(s->c);
}
#define DEAD(i) rs_entry_dead(s.e[i])
enum { A, B, C, D, E, F };

static void test_order_lru(void) {
  script_t s = { mkcache(3, 0, 1, RS_CACHE_POLICY_LRU), { 0 } };
  s_put(&s, A); s_put(&s, B); s_put(&s, C);
  s_hit(&s, A);
  s_put(&s, D);                                /* LRU: B */
  ASSERT(DEAD(B) && !DEAD(A) && !DEAD(C));
  s_put(&s, E);                                /* then C */
  ASSERT(DEAD(C) && !DEAD(A));
  s_put(&s, F);                                /* then A (the hit is older than D, E) */
  ASSERT(DEAD(A) && !DEAD(D) && !DEAD(E) && !DEAD(F));
  s_done(&s);
}

static void test_order_clock(void) {
  script_t s = { mkcache(3, 0, 1, RS_CACHE_POLICY_CLOCK), { 0 } };
  s_put(&s, A); s_put(&s, B); s_put(&s, C);
  s_hit(&s, A);
  s_put(&s, D);                                /* A reinserted at the head, B out */
  ASSERT(DEAD(B) && !DEAD(A) && !DEAD(C));
  s_put(&s, E);                                /* C */
  ASSERT(DEAD(C));
  s_put(&s, F);                                /* A: its second chance is spent */
  ASSERT(DEAD(A) && !DEAD(D) && !DEAD(E));
  s_done(&s);
}

static void test_order_sieve(void) {
  script_t s = { mkcache(3, 0, 1, RS_CACHE_POLICY_SIEVE), { 0 } };
  s_put(&s, A); s_put(&s, B); s_put(&s, C);
  s_hit(&s, A);
  s_put(&s, D);                                /* hand passes A (clears), evicts B */
  ASSERT(DEAD(B) && !DEAD(A) && !DEAD(C));
  s_put(&s, E);                                /* hand at C */
  ASSERT(DEAD(C));
  s_put(&s, F);                                /* hand at D, not back at A: SIEVE keeps A */
  ASSERT(DEAD(D) && !DEAD(A) && !DEAD(E));
  s_done(&s);
}

static void test_order_s3fifo(void) {
  /* 10 entries: small queue 1, main 9. A hit once while small goes to main;
   * a scan of one-hit wonders passes through small without touching it. */
  rs_cache_t *c = mkcache(10, 0, 1, RS_CACHE_POLICY_S3FIFO);
  rs_entry_t *a = mkentry(c, "A");
  rs_cache_put(c, a);
  ASSERT(has_key(c, "A"));
  char key[16];
  for (int i = 0; i < 50; i++) {
    snprintf(key, sizeof key, "scan-%d", i);
    put_key(c, key);
  }
  ASSERT(!rs_entry_dead(a));
  /* A one-hit wonder that comes back soon is admitted straight to main
   * (the ghost): it then survives a second scan without another hit. */
  rs_entry_t *b = mkentry(c, "B");
  rs_cache_put(c, b);
  for (int i = 0; i < 9; i++) {                 /* small holds 9: B reaches its tail */
    snprintf(key, sizeof key, "scan-x%d", i);
    put_key(c, key);
    if (i < 8) ASSERT(!rs_entry_dead(b));
  }
  ASSERT(rs_entry_dead(b));                     /* out, into the ghost */
  rs_entry_release(b);
  b = mkentry(c, "B");
  rs_cache_put(c, b);                           /* ghost hit: to main */
  for (int i = 0; i < 5; i++) {
    snprintf(key, sizeof key, "scan2-%d", i);
    put_key(c, key);
  }
  ASSERT(!rs_entry_dead(b));
  rs_entry_release(a);
  rs_entry_release(b);
  rs_cache_destroy(c);
}

/* cache.prefresh: a fresh page past its refresh time hands out one
 * refresh (the caller's flight), then plain hits; a failed refresh is not
 * tried again (the page expires as usual); a refreshed page replaces it. */
static void test_prefresh(void) {
  rs_cache_t *c = mkcache(100, 0, 4, 0);
  rs_entry_t *e = mkentry_full(c, "k", 10, 100, 50, 0, NULL);
  uint64_t t0 = e->created_ms, h = e->hash;
  e->refresh_ms = t0 + 80;
  rs_cache_put(c, e);
  rs_entry_t *out;
  ASSERT_EQ(rs_cache_lookup(c, h, "k", 1, t0 + 79, &out, NULL), RS_LOOKUP_HIT);
  rs_entry_release(out);
  ASSERT_EQ(rs_cache_lookup(c, h, "k", 1, t0 + 80, &out, NULL), RS_LOOKUP_HIT_REFRESH);
  ASSERT(out == e);
  rs_entry_release(out);
  for (int i = 0; i < 3; i++) {                 /* the refresh runs: hits */
    ASSERT_EQ(rs_cache_lookup(c, h, "k", 1, t0 + 90, &out, NULL), RS_LOOKUP_HIT);
    rs_entry_release(out);
  }
  ASSERT(rs_cache_complete(c, h, "k", 1, NULL, false) == NULL);   /* it failed */
  ASSERT_EQ(rs_cache_lookup(c, h, "k", 1, t0 + 95, &out, NULL), RS_LOOKUP_HIT);   /* once */
  rs_entry_release(out);
  ASSERT_EQ(rs_cache_lookup(c, h, "k", 1, t0 + 100, &out, NULL), RS_LOOKUP_STALE_REFRESH);
  rs_entry_release(out);
  rs_entry_t *n = mkentry_full(c, "k", 12, 100, 50, 0, NULL);
  n->refresh_ms = n->created_ms + 80;
  ASSERT(rs_cache_complete(c, h, "k", 1, n, true) == NULL);      /* the refresh stores */
  ASSERT_EQ(rs_cache_lookup(c, h, "k", 1, n->created_ms + 10, &out, NULL), RS_LOOKUP_HIT);
  ASSERT(out == n);
  rs_entry_release(out);
  ASSERT_EQ(rs_cache_lookup(c, h, "k", 1, n->created_ms + 80, &out, NULL), RS_LOOKUP_HIT_REFRESH);
  rs_entry_release(out);
  rs_cache_complete(c, h, "k", 1, NULL, false);
  rs_cache_stats_t st;
  rs_cache_stats(c, &st);
  ASSERT_EQ(st.prefreshes, 2);
  rs_entry_release(n);
  rs_entry_release(e);
  rs_cache_destroy(c);
}

static void test_ttl_grace(void) {
  rs_cache_t *c = mkcache(100, 0, 4, 0);
  rs_entry_t *e = mkentry_full(c, "k", 10, 100, 50, 0, NULL);
  rs_cache_put(c, e);
  uint64_t t0 = e->created_ms, h = e->hash;
  rs_entry_t *out;
  ASSERT_EQ(rs_cache_lookup(c, h, "k", 1, t0, &out, NULL), RS_LOOKUP_HIT);
  ASSERT(out == e);
  rs_entry_release(out);
  ASSERT_EQ(rs_cache_lookup(c, h, "k", 1, t0 + 99, &out, NULL), RS_LOOKUP_HIT);
  rs_entry_release(out);
  ASSERT_EQ(rs_cache_lookup(c, h, "k", 1, t0 + 100, &out, NULL), RS_LOOKUP_STALE_REFRESH);
  ASSERT(out == e);
  rs_entry_release(out);
  rs_waiter_t *w = rs_cache_complete(c, h, "k", 1, NULL, false);  /* refresh failed */
  ASSERT(w == NULL);
  rs_entry_t *g = rs_cache_get(c, h, "k", 1, t0 + 149);          /* stale, within grace */
  ASSERT(g == e);
  rs_entry_release(g);
  ASSERT(rs_cache_get(c, h, "k", 1, t0 + 150) == NULL);         /* past grace: gone */
  ASSERT(rs_entry_dead(e));
  ASSERT_EQ(rs_cache_lookup(c, h, "k", 1, t0 + 150, &out, NULL), RS_LOOKUP_MISS_LEADER);
  ASSERT(out == NULL);
  rs_cache_complete(c, h, "k", 1, NULL, false);
  rs_cache_stats_t st;
  rs_cache_stats(c, &st);
  ASSERT_EQ(st.expirations, 1);
  ASSERT_EQ(st.entries, 0);
  rs_entry_release(e);
  rs_cache_destroy(c);
}

static uint64_t hash_const(const char *key, size_t len) { return 0x1234567800000007ull; }

static void test_collisions(void) {
  rs_cache_opts_t o = { .max_entries = 100, .shards = 8, .hash_fn = hash_const };
  rs_cache_t *c = rs_cache_create(&o);
  rs_entry_t *a = mkentry(c, "/a"), *b = mkentry(c, "/b");
  ASSERT_EQ(a->hash, b->hash);
  rs_cache_put(c, a);
  rs_cache_put(c, b);
  rs_entry_t *g = get_key(c, "/a");
  ASSERT(g == a);
  rs_entry_release(g);
  g = get_key(c, "/b");
  ASSERT(g == b);
  rs_entry_release(g);
  ASSERT(get_key(c, "/c") == NULL);            /* same hash, another key: a miss */
  rs_entry_t *out = (rs_entry_t *)1;
  ASSERT_EQ(rs_cache_lookup(c, a->hash, "/c", 2, rs_now_ms(), &out, NULL), RS_LOOKUP_MISS_LEADER);
  ASSERT(out == NULL);
  /* Flights compare the key too: "/d" gets its own. */
  ASSERT_EQ(rs_cache_lookup(c, a->hash, "/d", 2, rs_now_ms(), &out, NULL), RS_LOOKUP_MISS_LEADER);
  ASSERT_EQ(rs_cache_lookup(c, a->hash, "/c", 2, rs_now_ms(), &out, NULL), RS_LOOKUP_MISS_WAIT);
  rs_entry_t *cc = mkentry(c, "/c");
  ASSERT(rs_cache_complete(c, cc->hash, "/c", 2, cc, true) == NULL);
  rs_cache_complete(c, cc->hash, "/d", 2, NULL, false);
  g = get_key(c, "/c");
  ASSERT(g == cc);
  rs_entry_release(g);
  ASSERT_EQ(rs_cache_purge_key(c, "/a", 2), 1);
  ASSERT(rs_entry_dead(a) && !rs_entry_dead(b) && !rs_entry_dead(cc));
  g = get_key(c, "/b");
  ASSERT(g == b);
  rs_entry_release(g);
  rs_entry_release(a);
  rs_entry_release(b);
  rs_entry_release(cc);
  rs_cache_destroy(c);
}

/* An entry evicted while a write still holds it stays valid (ASan). LRU:
 * under S3-FIFO the write's own hit would protect it from these newcomers. */
static void test_ref_across_eviction(void) {
  rs_cache_t *c = mkcache(2, 0, 1, RS_CACHE_POLICY_LRU);
  put_key(c, "a");
  rs_entry_t *w = get_key(c, "a");             /* the "write" */
  ASSERT(w != NULL);
  put_key(c, "b");
  put_key(c, "c");
  put_key(c, "d");                             /* "a" is out by now */
  ASSERT(rs_entry_dead(w));
  ASSERT(get_key(c, "a") == NULL);
  ASSERT_EQ(rs_entry_refs(w), 1);              /* only the write's */
  ASSERT_MEM_EQ(w->key, w->key_len, "a", 1);
  ASSERT_EQ(w->body[0].p[15], 'x');
  rs_entry_release(w);                         /* freed here */
  rs_cache_destroy(c);
}

static void test_purges(void) {
  rs_cache_t *c = mkcache(100, 0, 8, 0);
  static const char *keys[] = { "GET|h|/p/1", "GET|h|/p/2", "GET|h|/q/1", "GET|h|/r" };
  static const char *tags[] = { "prod", "prod", "cat", NULL };
  rs_entry_t *e[4];
  for (int i = 0; i < 4; i++) {
    e[i] = mkentry_full(c, keys[i], 8, 60000, 0, rs_cache_epoch(c), tags[i]);
    ASSERT_EQ(rs_cache_put(c, e[i]), 0);
  }
  uint64_t ep = rs_cache_epoch(c);
  ASSERT_EQ(rs_cache_purge_key(c, "GET|h|/nope", 11), 0);
  ASSERT(rs_cache_epoch(c) > ep);              /* every purge bumps it */
  ASSERT_EQ(rs_cache_purge_key(c, keys[3], strlen(keys[3])), 1);
  ASSERT(rs_entry_dead(e[3]));
  ASSERT_EQ(rs_cache_purge_tag(c, "prod", 4), 2);
  ASSERT(rs_entry_dead(e[0]) && rs_entry_dead(e[1]) && !rs_entry_dead(e[2]));
  ASSERT_EQ(rs_cache_purge_tag(c, "pro", 3), 0);
  ASSERT_EQ(rs_cache_purge_prefix(c, "GET|h|/q", 8), 1);
  ASSERT(rs_entry_dead(e[2]));
  for (int i = 0; i < 4; i++) rs_entry_release(e[i]);

  for (int i = 0; i < 20; i++) {
    char k[16];
    snprintf(k, sizeof k, "k%d", i);
    put_key(c, k);
  }
  ASSERT_EQ(rs_cache_purge_prefix(c, "k1", 2), 11);   /* k1, k10..k19 */
  ASSERT_EQ(rs_cache_purge_all(c), 9);
  rs_cache_stats_t st;
  rs_cache_stats(c, &st);
  ASSERT_EQ(st.entries, 0);
  ASSERT_EQ(st.bytes, 0);
  ASSERT_EQ(st.purged, 24);
  rs_cache_destroy(c);
}

/* Shard by the first byte: 'a'... in shard 0, 'z'... in shard 1 (of 2). */
static uint64_t hash_by_first(const char *key, size_t len) {
  return ((uint64_t)(key[0] == 'z') << 63) | (uint64_t)len;
}

static void test_purge_races_flight(void) {
  rs_cache_opts_t o = { .max_entries = 100, .shards = 2, .hash_fn = hash_by_first };
  rs_cache_t *c = rs_cache_create(&o);
  uint64_t h = rs_cache_hash(c, "a/1", 3);
  rs_entry_t *out;
  /* MISS_LEADER, the render begins, a purge of the key, the render ends. */
  ASSERT_EQ(rs_cache_lookup(c, h, "a/1", 3, rs_now_ms(), &out, NULL), RS_LOOKUP_MISS_LEADER);
  uint64_t began = rs_cache_epoch(c);
  ASSERT_EQ(rs_cache_purge_key(c, "a/1", 3), 0);
  rs_entry_t *e = mkentry_full(c, "a/1", 8, 60000, 0, began, NULL);
  ASSERT(rs_cache_complete(c, h, "a/1", 3, e, true) == NULL);
  ASSERT(get_key(c, "a/1") == NULL);           /* refused: the older page stays out */
  ASSERT(rs_entry_dead(e));                    /* and no L1 will keep it */
  ASSERT_EQ(rs_entry_refs(e), 1);
  ASSERT_EQ(rs_cache_put(c, e), -EINVAL);
  rs_entry_release(e);
  e = mkentry_full(c, "a/1", 8, 60000, 0, began, NULL);
  ASSERT_EQ(rs_cache_put(c, e), -ESTALE);      /* a put is held to the same rule */
  ASSERT(rs_entry_dead(e));
  rs_entry_release(e);
  rs_cache_stats_t st;
  rs_cache_stats(c, &st);
  ASSERT_EQ(st.refused_stale, 2);

  /* The same, but the render began after the purge: stored. */
  ASSERT_EQ(rs_cache_lookup(c, h, "a/1", 3, rs_now_ms(), &out, NULL), RS_LOOKUP_MISS_LEADER);
  e = mkentry(c, "a/1");
  rs_cache_complete(c, h, "a/1", 3, e, true);
  ASSERT(has_key(c, "a/1"));
  rs_entry_release(e);

  /* A purge in the other shard does not refuse this one's inserts... */
  uint64_t h2 = rs_cache_hash(c, "a/2", 3);
  ASSERT_EQ(rs_cache_lookup(c, h2, "a/2", 3, rs_now_ms(), &out, NULL), RS_LOOKUP_MISS_LEADER);
  began = rs_cache_epoch(c);
  rs_cache_purge_key(c, "z/1", 3);
  e = mkentry_full(c, "a/2", 8, 60000, 0, began, NULL);
  rs_cache_complete(c, h2, "a/2", 3, e, true);
  ASSERT(has_key(c, "a/2"));
  rs_entry_release(e);

  /* ...but a prefix, tag or full purge covers every shard. */
  for (int k = 0; k < 3; k++) {
    ASSERT_EQ(rs_cache_lookup(c, h2, "a/2", 3, rs_now_ms(), &out, NULL), RS_LOOKUP_HIT);
    rs_entry_release(out);
    rs_cache_purge_key(c, "a/2", 3);
    ASSERT_EQ(rs_cache_lookup(c, h2, "a/2", 3, rs_now_ms(), &out, NULL), RS_LOOKUP_MISS_LEADER);
    began = rs_cache_epoch(c);
    if (k == 0) rs_cache_purge_prefix(c, "zzz", 3);
    if (k == 1) rs_cache_purge_tag(c, "none", 4);
    if (k == 2) rs_cache_purge_all(c);
    e = mkentry_full(c, "a/2", 8, 60000, 0, began, NULL);
    rs_cache_complete(c, h2, "a/2", 3, e, true);
    ASSERT(!has_key(c, "a/2"));
    ASSERT(rs_entry_dead(e));                  /* refused: dead for every L1 */
    rs_entry_release(e);
    e = mkentry(c, "a/2");                     /* a render begun now is fine */
    ASSERT_EQ(rs_cache_put(c, e), 0);
    rs_entry_release(e);
  }
  /* The flight's own start counts: an entry claiming a newer epoch than
   * its flight is still refused when a purge came in between. */
  rs_cache_purge_key(c, "a/2", 3);
  ASSERT_EQ(rs_cache_lookup(c, h2, "a/2", 3, rs_now_ms(), &out, NULL), RS_LOOKUP_MISS_LEADER);
  rs_cache_purge_key(c, "a/2", 3);
  e = mkentry(c, "a/2");
  rs_cache_complete(c, h2, "a/2", 3, e, true);
  ASSERT(!has_key(c, "a/2"));
  rs_entry_release(e);
  rs_cache_destroy(c);
}

typedef struct {
  rs_waiter_t w;
  rs_entry_t *e;
  int status;
  int woken;                                   /* atomic in the hammer test */
  int order;
} test_waiter_t;

static int wake_seq;
static void test_wake(rs_waiter_t *w, rs_entry_t *e, int status) {
  test_waiter_t *t = RS_CONTAINER_OF(w, test_waiter_t, w);
  t->e = e;
  t->status = status;
  t->order = __atomic_fetch_add(&wake_seq, 1, __ATOMIC_RELAXED);
  __atomic_store_n(&t->woken, 1, __ATOMIC_RELEASE);
}

/* What the request path does with the list rs_cache_complete returns. */
static int wake_all(rs_waiter_t *w, rs_entry_t *e, int status) {
  int n = 0;
  while (w) {
    rs_waiter_t *next = w->next;             /* wake may free w */
    if (e) rs_entry_ref(e);
    w->wake(w, e, status);
    w = next;
    n++;
  }
  return n;
}

static void test_coalescing(void) {
  rs_cache_t *c = mkcache(100, 0, 4, 0);
  const char *k = "GET|h|/herd";
  uint64_t h = rs_cache_hash(c, k, strlen(k));
  rs_entry_t *out;
  test_waiter_t ws[5];
  memset(ws, 0, sizeof ws);
  ASSERT_EQ(rs_cache_lookup(c, h, k, strlen(k), rs_now_ms(), &out, &ws[0].w), RS_LOOKUP_MISS_LEADER);
  for (int i = 0; i < 5; i++) {
    ws[i].w.wake = test_wake;
    ASSERT_EQ(rs_cache_lookup(c, h, k, strlen(k), rs_now_ms(), &out, &ws[i].w), RS_LOOKUP_MISS_WAIT);
    ASSERT(out == NULL);
  }
  rs_cache_stats_t st;
  rs_cache_stats(c, &st);
  ASSERT_EQ(st.flights, 1);
  ASSERT_EQ(st.coalesced, 5);
  rs_entry_t *e = mkentry(c, k);
  rs_waiter_t *list = rs_cache_complete(c, h, k, strlen(k), e, true);
  wake_seq = 0;
  ASSERT_EQ(wake_all(list, e, 200), 5);
  for (int i = 0; i < 5; i++) {
    ASSERT(ws[i].woken && ws[i].e == e && ws[i].status == 200);
    ASSERT_EQ(ws[i].order, i);                 /* first come, first woken */
    rs_entry_release(ws[i].e);
  }
  ASSERT_EQ(rs_cache_lookup(c, h, k, strlen(k), rs_now_ms(), &out, NULL), RS_LOOKUP_HIT);
  ASSERT(out == e);
  rs_entry_release(out);
  rs_entry_release(e);

  /* A failed render wakes its waiters too, with the status; no entry. */
  const char *k2 = "GET|h|/fails";
  uint64_t h2 = rs_cache_hash(c, k2, strlen(k2));
  memset(ws, 0, sizeof ws);
  ASSERT_EQ(rs_cache_lookup(c, h2, k2, strlen(k2), rs_now_ms(), &out, NULL), RS_LOOKUP_MISS_LEADER);
  for (int i = 0; i < 3; i++) {
    ws[i].w.wake = test_wake;
    ASSERT_EQ(rs_cache_lookup(c, h2, k2, strlen(k2), rs_now_ms(), &out, &ws[i].w), RS_LOOKUP_MISS_WAIT);
  }
  /* Without a waiter: told a flight runs, nothing queued. */
  ASSERT_EQ(rs_cache_lookup(c, h2, k2, strlen(k2), rs_now_ms(), &out, NULL), RS_LOOKUP_MISS_WAIT);
  list = rs_cache_complete(c, h2, k2, strlen(k2), NULL, true);
  ASSERT_EQ(wake_all(list, NULL, 503), 3);
  for (int i = 0; i < 3; i++) ASSERT(ws[i].woken && ws[i].e == NULL && ws[i].status == 503);
  /* The flight is over: the next request leads a new one. */
  ASSERT_EQ(rs_cache_lookup(c, h2, k2, strlen(k2), rs_now_ms(), &out, NULL), RS_LOOKUP_MISS_LEADER);
  ASSERT(rs_cache_complete(c, h2, k2, strlen(k2), NULL, false) == NULL);
  /* complete without a flight: stores, returns nothing. */
  e = mkentry(c, k2);
  ASSERT(rs_cache_complete(c, h2, k2, strlen(k2), e, true) == NULL);
  ASSERT(has_key(c, k2));
  rs_entry_release(e);
  /* store = false: the waiters get the page, the cache does not. */
  const char *k3 = "GET|h|/private";
  uint64_t h3 = rs_cache_hash(c, k3, strlen(k3));
  ASSERT_EQ(rs_cache_lookup(c, h3, k3, strlen(k3), rs_now_ms(), &out, NULL), RS_LOOKUP_MISS_LEADER);
  e = mkentry(c, k3);
  rs_cache_complete(c, h3, k3, strlen(k3), e, false);
  ASSERT(!has_key(c, k3));
  rs_entry_release(e);
  rs_cache_destroy(c);
}

static void test_swr(void) {
  rs_cache_t *c = mkcache(100, 0, 4, 0);
  const char *k = "GET|h|/swr";
  uint64_t h = rs_cache_hash(c, k, strlen(k));
  rs_entry_t *old = mkentry_full(c, k, 8, 100, 1000, rs_cache_epoch(c), NULL);
  rs_cache_put(c, old);
  uint64_t t = old->created_ms + 200;          /* stale, within grace */
  rs_entry_t *out;
  ASSERT_EQ(rs_cache_lookup(c, h, k, strlen(k), t, &out, NULL), RS_LOOKUP_STALE_REFRESH);
  ASSERT(out == old);
  rs_entry_release(out);
  for (int i = 0; i < 3; i++) {                /* others: stale, no second refresh */
    ASSERT_EQ(rs_cache_lookup(c, h, k, strlen(k), t, &out, NULL), RS_LOOKUP_STALE);
    ASSERT(out == old);
    rs_entry_release(out);
  }
  /* The refresh fails: the stale page stays (stale-if-error)... */
  ASSERT(rs_cache_complete(c, h, k, strlen(k), NULL, true) == NULL);
  ASSERT(!rs_entry_dead(old));
  /* ...and the next request refreshes again. */
  ASSERT_EQ(rs_cache_lookup(c, h, k, strlen(k), t + 1, &out, NULL), RS_LOOKUP_STALE_REFRESH);
  rs_entry_release(out);
  rs_entry_t *fresh = mkentry(c, k);
  rs_cache_complete(c, h, k, strlen(k), fresh, true);
  ASSERT(rs_entry_dead(old));
  ASSERT_EQ(rs_cache_lookup(c, h, k, strlen(k), fresh->created_ms, &out, NULL), RS_LOOKUP_HIT);
  ASSERT(out == fresh);
  rs_entry_release(out);
  rs_cache_stats_t st;
  rs_cache_stats(c, &st);
  ASSERT_EQ(st.flights, 2);
  ASSERT_EQ(st.stale_hits, 5);
  ASSERT_EQ(st.replaced, 1);
  rs_entry_release(old);
  rs_entry_release(fresh);
  rs_cache_destroy(c);
}

static void test_sweep(void) {
  rs_cache_t *c = mkcache(100, 0, 4, 0);
  rs_entry_t *e[10];
  uint64_t t0 = rs_now_ms();
  for (int i = 0; i < 10; i++) {
    char k[8];
    snprintf(k, sizeof k, "k%d", i);
    e[i] = mkentry_full(c, k, 8, (uint64_t)i * 100, 50, 0, NULL);  /* servable until i*100+50 */
    e[i]->created_ms = t0;                    /* one creation time, before it is shared */
    rs_cache_put(c, e[i]);
  }
  ASSERT_EQ(rs_cache_sweep(c, t0 + 449), 4);  /* k0..k3 past */
  ASSERT(rs_entry_dead(e[0]) && rs_entry_dead(e[3]) && !rs_entry_dead(e[5]));
  ASSERT_EQ(rs_cache_sweep(c, t0 + 449), 0);
  ASSERT_EQ(rs_cache_sweep(c, t0 + 100000), 6);
  rs_cache_stats_t st;
  rs_cache_stats(c, &st);
  ASSERT_EQ(st.entries, 0);
  ASSERT_EQ(st.expirations, 10);
  for (int i = 0; i < 10; i++) rs_entry_release(e[i]);
  rs_cache_destroy(c);
}

/* ------------------------------------------------------------------ hammer */

#define HAMMER_KEYS 48

typedef struct {
  rs_cache_t *c;
  uint64_t seed;
  uint64_t deadline;
  long ops, errors, waits;
} hammer_t;

static uint64_t xs(uint64_t *s) {
  *s ^= *s << 13;
  *s ^= *s >> 7;
  *s ^= *s << 17;
  return *s;
}

static bool check(const rs_entry_t *e, const char *key) {
  return e->key_len == strlen(key) && memcmp(e->key, key, e->key_len) == 0 &&
         e->body[0].len == 64 && e->body[0].p[63] == 'x';
}

static rs_entry_t *hammer_entry(rs_cache_t *c, const char *key, uint64_t epoch, uint64_t *rnd) {
  rs_entry_t *e = mkentry_full(c, key, 64, xs(rnd) % 4, 2 + xs(rnd) % 4, epoch,
                               xs(rnd) % 2 ? "even" : NULL);
  if (e->ttl_ms >= 2) e->refresh_ms = e->created_ms + 1;   /* refreshes ahead too */
  return e;
}

static void *hammer(void *arg) {
  hammer_t *t = arg;
  rs_cache_t *c = t->c;
  uint64_t rnd = t->seed;
  char key[32];
  while (rs_now_ms() < t->deadline) {
    for (int batch = 0; batch < 64; batch++) {
      unsigned op = (unsigned)(xs(&rnd) % 1000);
      snprintf(key, sizeof key, "GET|h|/k%u", (unsigned)(xs(&rnd) % HAMMER_KEYS));
      size_t len = strlen(key);
      uint64_t h = rs_cache_hash(c, key, len), now = rs_now_ms();
      t->ops++;
      if (op < 400) {
        rs_entry_t *e = rs_cache_get(c, h, key, len, now);
        if (e && !check(e, key)) t->errors++;
        rs_entry_release(e);
      } else if (op < 800) {
        rs_entry_t *out;
        test_waiter_t w;
        memset(&w, 0, sizeof w);
        w.w.wake = test_wake;
        rs_lookup_t r = rs_cache_lookup(c, h, key, len, now, &out, &w.w);
        uint64_t began = rs_cache_epoch(c);
        switch (r) {
        case RS_LOOKUP_HIT:
        case RS_LOOKUP_STALE:
          if (!check(out, key)) t->errors++;
          rs_entry_release(out);
          break;
        case RS_LOOKUP_STALE_REFRESH:
        case RS_LOOKUP_HIT_REFRESH:
        case RS_LOOKUP_MISS_LEADER: {
          if (out && !check(out, key)) t->errors++;
          rs_entry_release(out);
          rs_entry_t *e = xs(&rnd) % 8 ? hammer_entry(c, key, began, &rnd) : NULL;
          rs_waiter_t *list = rs_cache_complete(c, h, key, len, e, true);
          while (list) {
            rs_waiter_t *next = list->next;
            if (e) rs_entry_ref(e);
            list->wake(list, e, e ? 200 : 500);
            list = next;
          }
          rs_entry_release(e);
          break;
        }
        case RS_LOOKUP_MISS_WAIT:
          t->waits++;
          while (!__atomic_load_n(&w.woken, __ATOMIC_ACQUIRE)) sched_yield();
          if (w.e ? !check(w.e, key) : w.status != 500) t->errors++;
          rs_entry_release(w.e);
          break;
        }
      } else if (op < 900) {
        rs_entry_t *e = hammer_entry(c, key, rs_cache_epoch(c), &rnd);
        int rc = rs_cache_put(c, e);
        if (rc != 0 && rc != -ESTALE) t->errors++;
        rs_entry_release(e);
      } else if (op < 960) {
        rs_cache_purge_key(c, key, len);
      } else if (op < 975) {
        rs_cache_purge_prefix(c, "GET|h|/k1", 9);
      } else if (op < 985) {
        rs_cache_purge_tag(c, "even", 4);
      } else if (op < 990) {
        rs_cache_purge_all(c);
      } else if (op < 995) {
        rs_cache_sweep(c, now);
      } else {
        rs_cache_stats_t st;
        rs_cache_stats(c, &st);
        if (st.entries > 16) t->errors++;
      }
    }
  }
  return NULL;
}

static void hammer_run(unsigned shards, rs_cache_policy_t policy) {
  rs_cache_t *c = mkcache(16, 16 * 1024, shards, policy);
  enum { N = 4 };
  hammer_t t[N];
  pthread_t th[N];
  uint64_t deadline = rs_now_ms() + 1000;
  for (int i = 0; i < N; i++) {
    t[i] = (hammer_t){ .c = c, .seed = 0x1234567ull * (uint64_t)(i + 1), .deadline = deadline };
    ASSERT_EQ(pthread_create(&th[i], NULL, hammer, &t[i]), 0);
  }
  long ops = 0, errors = 0, waits = 0;
  for (int i = 0; i < N; i++) {
    pthread_join(th[i], NULL);
    ops += t[i].ops;
    errors += t[i].errors;
    waits += t[i].waits;
  }
  rs_cache_stats_t st;
  rs_cache_stats(c, &st);
  printf("# hammer %s/%u shard(s): %ld ops, %ld waits, %llu inserts, %llu evictions, "
         "%llu purged, %llu refused, %llu coalesced\n", rs_cache_policy_name(rs_cache_policy(c)), shards,
         ops, waits, (unsigned long long)st.inserts, (unsigned long long)st.evictions,
         (unsigned long long)st.purged, (unsigned long long)st.refused_stale,
         (unsigned long long)st.coalesced);
  ASSERT_EQ(errors, 0);
  ASSERT(st.entries <= 16);
  ASSERT(st.inserts > 0);
  rs_cache_destroy(c);
}

/* Four threads on one shard (all contention in one place), then on four,
 * with the default policy (S3-FIFO), LRU (relinks on a hit) and SIEVE (its
 * hand must follow removals). */
static void test_threads_hammer(void) {
  hammer_run(1, 0);
  hammer_run(4, 0);
  hammer_run(1, RS_CACHE_POLICY_LRU);
  hammer_run(1, RS_CACHE_POLICY_SIEVE);
}

int main(void) {
  RS_TEST(test_create_opts);
  RS_TEST(test_put_get);
  RS_TEST(test_replace);
  RS_TEST(test_replace_if_current);
  RS_TEST(test_bounds_entries);
  RS_TEST(test_bounds_entries_exact);
  RS_TEST(test_bounds_bytes);
  RS_TEST(test_order_lru);
  RS_TEST(test_order_clock);
  RS_TEST(test_order_sieve);
  RS_TEST(test_order_s3fifo);
  RS_TEST(test_ttl_grace);
  RS_TEST(test_prefresh);
  RS_TEST(test_collisions);
  RS_TEST(test_ref_across_eviction);
  RS_TEST(test_purges);
  RS_TEST(test_purge_races_flight);
  RS_TEST(test_coalescing);
  RS_TEST(test_swr);
  RS_TEST(test_sweep);
  RS_TEST(test_threads_hammer);
  RS_TEST_DONE();
}
