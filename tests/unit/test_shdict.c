/* tests/unit/test_shdict.c — the shared dictionary (core/base/rs_shdict.h):
 * types, add/replace/safe_set, incr with and without init, TTL and expire
 * on an injected clock, the byte bound with LRU eviction, the registry
 * (same name, same items; resize), and threads hammering one dictionary
 * (run under TSan too: scripts/test --tsan). */
#include "tap.h"

#include <errno.h>
#include <pthread.h>

#include "rs_shdict.h"

static uint64_t fake_now = 1000000;
static uint64_t fake_clock(void) { return fake_now; }

static rs_shdict_value_t str(const char *s) {
  return (rs_shdict_value_t){ .type = RS_SHDICT_STRING, .str = s, .len = strlen(s) };
}
static rs_shdict_value_t num(double n) { return (rs_shdict_value_t){ .type = RS_SHDICT_NUMBER, .number = n }; }

#define K(s) s, strlen(s)

static void test_types(void) {
  rs_shdict_t *d = rs_shdict_acquire("types", 64 * 1024);
  rs_shdict_value_t v = str("hello"), b = { .type = RS_SHDICT_BOOLEAN, .boolean = true, .flags = 7 };
  ASSERT_EQ(rs_shdict_set(d, K("s"), &v, 0, RS_SHDICT_SET, false, NULL), 0);
  v = num(1.5);
  ASSERT_EQ(rs_shdict_set(d, K("n"), &v, 0, RS_SHDICT_SET, false, NULL), 0);
  ASSERT_EQ(rs_shdict_set(d, K("b"), &b, 0, RS_SHDICT_SET, false, NULL), 0);
  char buf[16];
  rs_shdict_value_t out;
  ASSERT_EQ(rs_shdict_get(d, K("s"), &out, buf, sizeof(buf)), 0);
  ASSERT_EQ(out.type, RS_SHDICT_STRING);
  ASSERT_MEM_EQ(out.str, out.len, "hello", 5);
  ASSERT_EQ(rs_shdict_get(d, K("s"), &out, buf, 2), -ENOBUFS);
  ASSERT_EQ(out.len, 5);
  ASSERT_EQ(rs_shdict_get(d, K("n"), &out, buf, sizeof(buf)), 0);
  ASSERT(out.type == RS_SHDICT_NUMBER && out.number == 1.5);
  ASSERT_EQ(rs_shdict_get(d, K("b"), &out, buf, sizeof(buf)), 0);
  ASSERT(out.type == RS_SHDICT_BOOLEAN && out.boolean && out.flags == 7);
  ASSERT_EQ(rs_shdict_get(d, K("none"), &out, buf, sizeof(buf)), -ENOENT);
  ASSERT_EQ(out.type, RS_SHDICT_NONE);
  ASSERT_EQ(rs_shdict_delete(d, K("s")), 0);
  ASSERT_EQ(rs_shdict_delete(d, K("s")), -ENOENT);
  ASSERT_EQ(rs_shdict_set(d, "", 0, &v, 0, RS_SHDICT_SET, false, NULL), -EINVAL);
  rs_shdict_release(d);
}

static void test_add_replace_incr(void) {
  rs_shdict_t *d = rs_shdict_acquire("modes", 64 * 1024);
  rs_shdict_value_t v = num(1);
  ASSERT_EQ(rs_shdict_set(d, K("a"), &v, 0, RS_SHDICT_REPLACE, false, NULL), -ENOENT);
  ASSERT_EQ(rs_shdict_set(d, K("a"), &v, 0, RS_SHDICT_ADD, false, NULL), 0);
  ASSERT_EQ(rs_shdict_set(d, K("a"), &v, 0, RS_SHDICT_ADD, false, NULL), -EEXIST);
  v = num(10);
  ASSERT_EQ(rs_shdict_set(d, K("a"), &v, 0, RS_SHDICT_REPLACE, false, NULL), 0);
  double out = 0;
  ASSERT_EQ(rs_shdict_incr(d, K("a"), 5, false, 0, 0, &out, NULL), 0);
  ASSERT(out == 15);
  ASSERT_EQ(rs_shdict_incr(d, K("b"), 1, false, 0, 0, &out, NULL), -ENOENT);
  ASSERT_EQ(rs_shdict_incr(d, K("b"), 2, true, 40, 0, &out, NULL), 0);
  ASSERT(out == 42);
  v = str("x");
  ASSERT_EQ(rs_shdict_set(d, K("s"), &v, 0, RS_SHDICT_SET, false, NULL), 0);
  ASSERT_EQ(rs_shdict_incr(d, K("s"), 1, true, 0, 0, &out, NULL), -EINVAL);
  rs_shdict_flush_all(d);
  ASSERT_EQ(rs_shdict_used(d), 0);
  rs_shdict_release(d);
}

static void test_ttl(void) {
  rs_shdict_set_clock(fake_clock);
  rs_shdict_t *d = rs_shdict_acquire("ttl", 64 * 1024);
  rs_shdict_value_t v = num(1);
  ASSERT_EQ(rs_shdict_set(d, K("t"), &v, 2000, RS_SHDICT_SET, false, NULL), 0);
  ASSERT_EQ(rs_shdict_set(d, K("forever"), &v, 0, RS_SHDICT_SET, false, NULL), 0);
  uint64_t ms = 0;
  ASSERT_EQ(rs_shdict_ttl(d, K("t"), &ms), 0);
  ASSERT_EQ(ms, 2000);
  ASSERT_EQ(rs_shdict_ttl(d, K("forever"), &ms), 0);
  ASSERT_EQ(ms, 0);
  fake_now += 1500;
  ASSERT_EQ(rs_shdict_ttl(d, K("t"), &ms), 0);
  ASSERT_EQ(ms, 500);
  ASSERT_EQ(rs_shdict_expire(d, K("t"), 3000), 0);
  fake_now += 2999;
  char buf[8];
  rs_shdict_value_t out;
  ASSERT_EQ(rs_shdict_get(d, K("t"), &out, buf, sizeof(buf)), 0);
  fake_now += 1;
  ASSERT_EQ(rs_shdict_get(d, K("t"), &out, buf, sizeof(buf)), -ENOENT);
  /* An expired key may be added again, and incr's init applies. */
  ASSERT_EQ(rs_shdict_set(d, K("e"), &v, 10, RS_SHDICT_SET, false, NULL), 0);
  fake_now += 10;
  ASSERT_EQ(rs_shdict_set(d, K("e"), &v, 0, RS_SHDICT_ADD, false, NULL), 0);
  ASSERT_EQ(rs_shdict_expire(d, K("gone"), 5), -ENOENT);
  rs_shdict_release(d);
  rs_shdict_set_clock(NULL);
}

static void test_bound_lru(void) {
  size_t cap = 16 * 1024;
  rs_shdict_t *d = rs_shdict_acquire("bound", cap);
  char val[900];
  memset(val, 'v', sizeof(val));
  rs_shdict_value_t v = { .type = RS_SHDICT_STRING, .str = val, .len = sizeof(val) };
  char key[16];
  bool forcible = false;
  int forced = 0;
  for (int i = 0; i < 100; i++) {
    snprintf(key, sizeof(key), "k%d", i);
    ASSERT_EQ(rs_shdict_set(d, K(key), &v, 0, RS_SHDICT_SET, false, &forcible), 0);
    forced += forcible;
    ASSERT(rs_shdict_used(d) <= cap);
    /* k0 is read each time: the most recently used, never evicted. */
    char buf[1024];
    rs_shdict_value_t out;
    ASSERT_EQ(rs_shdict_get(d, K("k0"), &out, buf, sizeof(buf)), 0);
  }
  ASSERT(forced > 0);
  char buf[1024];
  rs_shdict_value_t out;
  ASSERT_EQ(rs_shdict_get(d, K("k1"), &out, buf, sizeof(buf)), -ENOENT);
  ASSERT_EQ(rs_shdict_get(d, K("k99"), &out, buf, sizeof(buf)), 0);
  /* safe_set never evicts a live item. */
  ASSERT_EQ(rs_shdict_set(d, K("safe"), &v, 0, RS_SHDICT_SET, true, NULL), -ENOMEM);
  ASSERT_EQ(rs_shdict_get(d, K("k99"), &out, buf, sizeof(buf)), 0);
  /* Larger than the whole dictionary: never fits. */
  char *big = calloc(1, cap);
  rs_shdict_value_t bv = { .type = RS_SHDICT_STRING, .str = big, .len = cap };
  ASSERT_EQ(rs_shdict_set(d, K("big"), &bv, 0, RS_SHDICT_SET, false, NULL), -ENOMEM);
  free(big);
  rs_shdict_release(d);
}

static void test_registry(void) {
  rs_shdict_t *a = rs_shdict_acquire("reg", 64 * 1024);
  rs_shdict_value_t v = num(3);
  ASSERT_EQ(rs_shdict_set(a, K("x"), &v, 0, RS_SHDICT_SET, false, NULL), 0);
  rs_shdict_t *b = rs_shdict_acquire("reg", 32 * 1024);   /* a reload: same items, new size */
  ASSERT(a == b);
  ASSERT_EQ(rs_shdict_capacity(b), 32 * 1024);
  rs_shdict_release(a);
  rs_shdict_t *f = rs_shdict_find(K("reg"));
  ASSERT(f == b);
  char buf[8];
  rs_shdict_value_t out;
  ASSERT_EQ(rs_shdict_get(f, K("x"), &out, buf, sizeof(buf)), 0);
  ASSERT(out.number == 3);
  rs_shdict_release(f);
  rs_shdict_release(b);
  ASSERT(rs_shdict_find(K("reg")) == NULL);
}

#define THREADS 4
#define ROUNDS 20000

typedef struct {
  rs_shdict_t *d;
  int id;
} hammer_t;

static void count_key(void *ud, const char *key, size_t klen) {
  (void)key, (void)klen;
  (*(size_t *)ud)++;
}

static void *hammer(void *arg) {
  hammer_t *h = arg;
  char key[32], buf[64];
  for (int i = 0; i < ROUNDS; i++) {
    double out;
    rs_shdict_incr(h->d, K("hits"), 1, true, 0, 0, &out, NULL);
    snprintf(key, sizeof(key), "t%d-%d", h->id, i % 500);
    rs_shdict_value_t v = str(key), o;
    rs_shdict_set(h->d, K(key), &v, i % 3 ? 0 : 5, RS_SHDICT_SET, false, NULL);
    rs_shdict_get(h->d, K(key), &o, buf, sizeof(buf));
    if (i % 1000 == 0) {
      size_t n = 0;
      rs_shdict_keys(h->d, 100, count_key, &n);
    }
    if (i % 97 == 0) rs_shdict_delete(h->d, K(key));
  }
  return NULL;
}

static void test_threads(void) {
  rs_shdict_t *d = rs_shdict_acquire("threads", 64 * 1024);   /* small: evictions too */
  pthread_t th[THREADS];
  hammer_t h[THREADS];
  for (int i = 0; i < THREADS; i++) {
    h[i] = (hammer_t){ d, i };
    ASSERT_EQ(pthread_create(&th[i], NULL, hammer, &h[i]), 0);
  }
  for (int i = 0; i < THREADS; i++) pthread_join(th[i], NULL);
  char buf[8];
  rs_shdict_value_t out;
  ASSERT_EQ(rs_shdict_get(d, K("hits"), &out, buf, sizeof(buf)), 0);
  ASSERT_EQ((long long)out.number, THREADS * ROUNDS);
  ASSERT(rs_shdict_used(d) <= 64 * 1024);
  rs_shdict_release(d);
}

int main(void) {
  RS_TEST(test_types);
  RS_TEST(test_add_replace_incr);
  RS_TEST(test_ttl);
  RS_TEST(test_bound_lru);
  RS_TEST(test_registry);
  RS_TEST(test_threads);
  RS_TEST_DONE();
}
