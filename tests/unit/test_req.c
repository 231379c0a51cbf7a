/* tests/unit/test_req.c — the request structs of core/http/rs_req.c from the
 * inside: the per-request pool (rs_req_alloc: aligned, small ones inside the
 * request, larger ones on the heap, all valid until on_free has run, freed
 * with the request, empty again when the struct is reused) and header
 * lookup. Run under ASan (scripts/test --sanitize) a lost block or a use
 * after free fails it too. */
#include "../../core/http/rs_req.c"

#include <stdint.h>

#include "tap.h"

static rs_loop_t t_loop;
static rs_conn_t t_conn;

static void t_setup(void) {
  memset(&t_loop, 0, sizeof(t_loop));
  memset(&t_conn, 0, sizeof(t_conn));
  t_conn.loop = &t_loop;
}

/* Free the loop's recycled requests (rs_conn_loop_dispose's part for them). */
static void t_teardown(void) {
  while (t_loop.free_reqs != NULL) {
    rs_req_t *r = t_loop.free_reqs;
    t_loop.free_reqs = r->_next;
    free(r);
  }
  t_loop.nfree_reqs = 0;
}

static bool t_inside(const rs_req_t *r, const void *p, size_t n) {
  const char *a = (const char *)r, *b = p;
  return b >= a && b + n <= a + sizeof(*r);
}

static const unsigned char *t_big[3];
static const unsigned char *t_small;
static int t_freed_ok;

/* on_free runs before the pool goes: what the owner put there is intact. */
static void t_on_free(rs_req_t *r) {
  (void)r;
  bool ok = t_small[0] == 0xA1 && t_small[527] == 0xA1;
  for (int i = 0; i < 3; i++) ok = ok && t_big[i][0] == 0xB0 + i && t_big[i][1999] == 0xB0 + i;
  t_freed_ok = ok ? 1 : -1;
}

static void test_pool(void) {
  t_setup();
  rs_req_t *r = rs__req_new(&t_conn);
  ASSERT_EQ(r->_pool_used, 0);
  unsigned char *a = rs_req_alloc(r, 1);
  unsigned char *b = rs_req_alloc(r, 24);
  unsigned char *c = rs_req_alloc(r, 528);   /* a route match with 16 :params */
  ASSERT_EQ((uintptr_t)a % 16, 0);
  ASSERT_EQ((uintptr_t)b % 16, 0);
  ASSERT_EQ((uintptr_t)c % 16, 0);
  ASSERT(t_inside(r, a, 1) && t_inside(r, b, 24) && t_inside(r, c, 528));
  ASSERT(b >= a + 16 && c >= b + 24);          /* no overlap */
  memset(a, 0x11, 1);
  memset(b, 0x22, 24);
  memset(c, 0xA1, 528);
  /* Beyond the inline bytes: heap blocks, each its own. */
  for (int i = 0; i < 3; i++) {
    unsigned char *p = rs_req_alloc(r, 2000);
    ASSERT_EQ((uintptr_t)p % 16, 0);
    ASSERT(!t_inside(r, p, 1));
    memset(p, 0xB0 + i, 2000);
    t_big[i] = p;
  }
  ASSERT(t_big[0] != t_big[1] && t_big[1] != t_big[2]);
  ASSERT_EQ(a[0], 0x11);                       /* the big ones left the small alone */
  ASSERT_EQ(b[23], 0x22);
  /* What is left inline still serves small requests. */
  unsigned char *d = rs_req_alloc(r, 16);
  ASSERT(t_inside(r, d, 16));
  t_small = c;
  t_freed_ok = 0;
  r->on_free = t_on_free;
  rs__req_free(r);
  ASSERT_EQ(t_freed_ok, 1);
  ASSERT_EQ(t_loop.nfree_reqs, 1);
  /* Reused: an empty pool again. */
  rs_req_t *r2 = rs__req_new(&t_conn);
  ASSERT(r2 == r);
  ASSERT_EQ(r2->_pool_used, 0);
  ASSERT(r2->_pool_blocks == NULL);
  ASSERT(rs_req_alloc(r2, 8) == (void *)r2->_pool_inline);
  rs__req_free(r2);
  t_teardown();
}

static void test_header(void) {
  t_setup();
  rs_req_t *r = rs__req_new(&t_conn);
  rs_header_t *h = rs__req_header_slot(r);
  h->name = (rs_str_t){ "User-Agent", 10 };
  h->value = (rs_str_t){ "t/1", 3 };
  h = rs__req_header_slot(r);
  h->name = (rs_str_t){ "user-agent", 10 };
  h->value = (rs_str_t){ "second", 6 };
  const rs_str_t *v = rs_req_header(r, "user-agent");
  ASSERT(v != NULL && v->len == 3 && memcmp(v->p, "t/1", 3) == 0);   /* the first, any case */
  ASSERT(rs_req_header(r, "referer") == NULL);
  /* More headers than the inline slots: they move to the heap, in order. */
  for (int i = 0; i < 2 * RS_REQ_INLINE_HDRS; i++) {
    h = rs__req_header_slot(r);
    ASSERT(h != NULL);
    h->name = (rs_str_t){ "x-n", 3 };
    h->value = (rs_str_t){ "v", 1 };
  }
  ASSERT(r->headers != r->_hdr_inline);
  ASSERT_EQ(r->nheaders, 2 + 2 * RS_REQ_INLINE_HDRS);
  v = rs_req_header(r, "user-agent");
  ASSERT(v != NULL && v->len == 3);
  rs__req_free(r);
  t_teardown();
}

int main(void) {
  RS_TEST(test_pool);
  RS_TEST(test_header);
  RS_TEST_DONE();
}
