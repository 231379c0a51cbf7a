/* tests/unit/tap.h — a tiny TAP-style runner for unit tests.
 * A test file defines test functions and lists them in main with RS_TEST.
 * Asserts print both sides (libuv's ASSERT_EQ). Exit status is non-zero when
 * any check failed, so ctest reports it. */
#ifndef RS_TAP_H
#define RS_TAP_H

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int tap__n, tap__failed, tap__cur_failed;

#define TAP_FAIL(...)                                                   \
  do {                                                                  \
    fprintf(stderr, "# %s:%d: ", __FILE__, __LINE__);                   \
    fprintf(stderr, __VA_ARGS__);                                       \
    fputc('\n', stderr);                                                \
    tap__cur_failed = 1;                                                \
    return;                                                             \
  } while (0)

#define ASSERT(c) do { if (!(c)) TAP_FAIL("assertion failed: %s", #c); } while (0)
#define ASSERT_EQ(a, b)                                                 \
  do {                                                                  \
    long long a_ = (long long)(a), b_ = (long long)(b);                 \
    if (a_ != b_) TAP_FAIL("%s == %s: %lld != %lld", #a, #b, a_, b_);   \
  } while (0)
#define ASSERT_NE(a, b)                                                 \
  do {                                                                  \
    long long a_ = (long long)(a), b_ = (long long)(b);                 \
    if (a_ == b_) TAP_FAIL("%s != %s: both %lld", #a, #b, a_);          \
  } while (0)
#define ASSERT_STR_EQ(a, b)                                             \
  do {                                                                  \
    const char *a_ = (a), *b_ = (b);                                    \
    if (a_ == NULL || b_ == NULL || strcmp(a_, b_) != 0)                \
      TAP_FAIL("%s == %s: \"%s\" != \"%s\"", #a, #b, a_ ? a_ : "(null)",\
               b_ ? b_ : "(null)");                                     \
  } while (0)
#define ASSERT_MEM_EQ(a, alen, b, blen)                                 \
  do {                                                                  \
    size_t al_ = (alen), bl_ = (blen);                                  \
    if (al_ != bl_ || memcmp((a), (b), al_) != 0)                       \
      TAP_FAIL("%s == %s: \"%.*s\" != \"%.*s\"", #a, #b, (int)al_,      \
               (const char *)(a), (int)bl_, (const char *)(b));         \
  } while (0)

#define RS_TEST(fn)                                                     \
  do {                                                                  \
    tap__cur_failed = 0;                                                \
    fn();                                                               \
    tap__n++;                                                           \
    if (tap__cur_failed) tap__failed++;                                 \
    printf("%s %d - %s\n", tap__cur_failed ? "not ok" : "ok", tap__n, #fn); \
    fflush(stdout);                                                     \
  } while (0)

#define RS_TEST_DONE()                                                  \
  do {                                                                  \
    printf("1..%d\n# %d passed, %d failed\n", tap__n, tap__n - tap__failed, \
           tap__failed);                                                \
    return tap__failed ? 1 : 0;                                         \
  } while (0)

#endif
