/* tests/unit/test_admin.c — the admin token compare: equal only for the same
 * bytes and length, whatever differs where (its time depends only on the
 * secret's length: no early exit, by construction; not timed here, since a
 * timed test would measure the machine). */
#include "rs_admin.h"
#include "tap.h"

static void test_token_eq(void) {
  const char *t = "s3cret-token-0123456789";
  size_t n = strlen(t);
  ASSERT(rs_admin_token_eq(t, n, t, n));
  char buf[64];
  for (size_t i = 0; i < n; i++) {           /* one byte off, anywhere */
    memcpy(buf, t, n);
    buf[i] ^= 1;
    ASSERT(!rs_admin_token_eq(buf, n, t, n));
  }
  ASSERT(!rs_admin_token_eq(t, n - 1, t, n));  /* a prefix */
  memcpy(buf, t, n);
  buf[n] = 'x';
  ASSERT(!rs_admin_token_eq(buf, n + 1, t, n)); /* longer */
  ASSERT(!rs_admin_token_eq("", 0, t, n));
  /* a NUL-padded guess is not the token */
  char padded[64] = { 0 };
  memcpy(padded, t, n - 1);
  ASSERT(!rs_admin_token_eq(padded, n, t, n));
}

int main(void) {
  RS_TEST(test_token_eq);
  RS_TEST_DONE();
}
