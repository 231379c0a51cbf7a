/* tests/unit/test_limit.c — the limit table (core/base/rs_limit.h): nginx's
 * leaky bucket to the request (burst, leak, Retry-After), connection slots,
 * the key bound with drained and idle keys dropped first, a full stripe of
 * busy keys, and threads on one key counting exactly (also under TSan). */
#include "tap.h"

#include <pthread.h>

#include "../../core/base/rs_limit.c"

#define K(s) s, strlen(s)

static void test_burst_then_reject(void) {
  rs_limit_table_t *t = rs_limit_table_create(1000);
  uint64_t retry = 0, rate = 1000;   /* 1r/m */
  int passed = 0;
  for (int i = 0; i < 20; i++)
    if (rs_limit_req(t, 1, K("10.0.0.1"), rate, 5, 1000 + (uint64_t)i, &retry) == RS_LIMIT_PASS) passed++;
  ASSERT_EQ(passed, 6);                  /* the first, then the burst */
  ASSERT(retry > 59000 && retry <= 60000);
  /* Another key, another zone: their own buckets. */
  ASSERT_EQ(rs_limit_req(t, 1, K("10.0.0.2"), rate, 5, 1000, &retry), RS_LIMIT_PASS);
  ASSERT_EQ(rs_limit_req(t, 2, K("10.0.0.1"), rate, 5, 1000, &retry), RS_LIMIT_PASS);
  rs_limit_table_destroy(t);
}

static void test_leak(void) {
  rs_limit_table_t *t = rs_limit_table_create(1000);
  uint64_t retry = 0;
  ASSERT_EQ(rs_limit_req(t, 1, K("a"), 60000, 0, 10000, &retry), RS_LIMIT_PASS);   /* 1r/s, no burst */
  ASSERT_EQ(rs_limit_req(t, 1, K("a"), 60000, 0, 10400, &retry), RS_LIMIT_REJECT);
  ASSERT_EQ(retry, 600);
  ASSERT_EQ(rs_limit_req(t, 1, K("a"), 60000, 0, 11000, &retry), RS_LIMIT_PASS);
  /* 10r/s, burst 2: three at once, then one each 100 ms. */
  for (int i = 0; i < 3; i++) ASSERT_EQ(rs_limit_req(t, 2, K("b"), 600000, 2, 5000, &retry), RS_LIMIT_PASS);
  ASSERT_EQ(rs_limit_req(t, 2, K("b"), 600000, 2, 5000, &retry), RS_LIMIT_REJECT);
  ASSERT_EQ(retry, 100);
  ASSERT_EQ(rs_limit_req(t, 2, K("b"), 600000, 2, 5100, &retry), RS_LIMIT_PASS);
  rs_limit_table_destroy(t);
}

static void test_conn(void) {
  rs_limit_table_t *t = rs_limit_table_create(1000);
  rs_limit_key_t *a, *b, *c;
  ASSERT_EQ(rs_limit_conn_take(t, 9, K("ip"), 2, &a), RS_LIMIT_PASS);
  ASSERT_EQ(rs_limit_conn_take(t, 9, K("ip"), 2, &b), RS_LIMIT_PASS);
  ASSERT_EQ(rs_limit_conn_take(t, 9, K("ip"), 2, &c), RS_LIMIT_REJECT);
  ASSERT(c == NULL);
  rs_limit_conn_release(t, a);
  ASSERT_EQ(rs_limit_conn_take(t, 9, K("ip"), 2, &c), RS_LIMIT_PASS);
  rs_limit_conn_release(t, b);
  rs_limit_conn_release(t, c);
  ASSERT_EQ(rs_limit_table_count(t), 0);   /* nothing left to remember */
  rs_limit_table_destroy(t);
}

static void test_bound(void) {
  rs_limit_table_t *t = rs_limit_table_create(RS_LIMIT_STRIPES * 2);
  uint64_t retry;
  char key[32];
  for (int i = 0; i < 5000; i++) {
    snprintf(key, sizeof(key), "k%d", i);
    ASSERT_EQ(rs_limit_req(t, 1, K(key), 60000, 1, 1000, &retry), RS_LIMIT_PASS);
    ASSERT_EQ(rs_limit_req(t, 1, K(key), 60000, 1, 1000, &retry), RS_LIMIT_PASS);   /* excess 1000: not drained */
  }
  ASSERT(rs_limit_table_count(t) <= RS_LIMIT_STRIPES * 2);
  /* A stripe whose every key has a request in flight refuses a new key. */
  rs_limit_table_t *u = rs_limit_table_create(RS_LIMIT_STRIPES);   /* one key a stripe */
  rs_limit_key_t *held, *other;
  ASSERT_EQ(rs_limit_conn_take(u, 1, K("busy"), 10, &held), RS_LIMIT_PASS);
  size_t stripe = (rs__hash(1, K("busy")) >> 58) % RS_LIMIT_STRIPES;
  int found = 0;
  for (int i = 0; i < 100000 && !found; i++) {
    snprintf(key, sizeof(key), "x%d", i);
    if ((rs__hash(1, K(key)) >> 58) % RS_LIMIT_STRIPES != stripe) continue;
    found = 1;
    ASSERT_EQ(rs_limit_conn_take(u, 1, K(key), 10, &other), RS_LIMIT_FULL);
    ASSERT_EQ(rs_limit_req(u, 1, K(key), 1000, 5, 1000, &retry), RS_LIMIT_FULL);
    rs_limit_conn_release(u, held);
    ASSERT_EQ(rs_limit_conn_take(u, 1, K(key), 10, &other), RS_LIMIT_PASS);
    rs_limit_conn_release(u, other);
  }
  ASSERT(found);
  rs_limit_table_destroy(u);
  rs_limit_table_destroy(t);
}

#define THREADS 4
#define ROUNDS 20000

typedef struct {
  rs_limit_table_t *t;
  int passed;
} hammer_t;

static void *hammer(void *arg) {
  hammer_t *h = arg;
  uint64_t retry;
  for (int i = 0; i < ROUNDS; i++) {
    if (rs_limit_req(h->t, 7, K("shared"), 0, 999, 1000, &retry) == RS_LIMIT_PASS) h->passed++;
    rs_limit_key_t *k;
    char key[16];
    snprintf(key, sizeof(key), "c%d", i % 50);
    if (rs_limit_conn_take(h->t, 8, K(key), 1000, &k) == RS_LIMIT_PASS) rs_limit_conn_release(h->t, k);
  }
  return NULL;
}

static void test_threads(void) {
  rs_limit_table_t *t = rs_limit_table_create(100000);
  pthread_t th[THREADS];
  hammer_t h[THREADS];
  for (int i = 0; i < THREADS; i++) {
    h[i] = (hammer_t){ t, 0 };
    ASSERT_EQ(pthread_create(&th[i], NULL, hammer, &h[i]), 0);
  }
  int passed = 0;
  for (int i = 0; i < THREADS; i++) {
    pthread_join(th[i], NULL);
    passed += h[i].passed;
  }
  ASSERT_EQ(passed, 1000);               /* rate 0: exactly the first and the burst of 999 */
  rs_limit_table_destroy(t);
}

int main(void) {
  RS_TEST(test_burst_then_reject);
  RS_TEST(test_leak);
  RS_TEST(test_conn);
  RS_TEST(test_bound);
  RS_TEST(test_threads);
  RS_TEST_DONE();
}
