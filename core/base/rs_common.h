/* core/base/rs_common.h — small helpers every module uses. */
#ifndef RS_COMMON_H
#define RS_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

#define RS_LIKELY(x)   __builtin_expect(!!(x), 1)
#define RS_UNLIKELY(x) __builtin_expect(!!(x), 0)
#define RS_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define RS_CONTAINER_OF(ptr, type, field) \
  ((type *)((char *)(ptr) - offsetof(type, field)))
#define RS_CACHELINE 64
#define RS_MIN(a, b) ((a) < (b) ? (a) : (b))
#define RS_MAX(a, b) ((a) > (b) ? (a) : (b))

/* Allocation of small, process-lifetime or connection-sized things: out of
 * memory here is fatal and says so (nginx and h2o do the same). Request-sized
 * allocations use plain malloc and fail the request instead. */
void *rs_xmalloc(size_t n);
void *rs_xcalloc(size_t count, size_t n);
void *rs_xrealloc(void *p, size_t n);
char *rs_xstrdup(const char *s);
char *rs_xstrndup(const char *s, size_t n);

/* Milliseconds (and microseconds) on a monotonic clock; any thread. */
uint64_t rs_now_ms(void);
uint64_t rs_now_us(void);

/* A byte string that does not own its bytes. */
typedef struct {
  const char *p;
  size_t len;
} rs_str_t;

#define RS_STR(lit) ((rs_str_t){ (lit), sizeof(lit) - 1 })

/* Case-insensitive compare of s with a lower-case literal of length n. */
bool rs_str_ieq(const char *s, size_t slen, const char *lower, size_t n);



/* A growable byte buffer for things built off the hot path (metrics pages,
 * log lines, config strings). Allocation failure is fatal (rs_xrealloc). */
typedef struct {
  char *p;
  size_t len;
  size_t cap;
} rs_buf_t;

void rs_buf_reserve(rs_buf_t *b, size_t extra);
void rs_buf_append(rs_buf_t *b, const void *p, size_t n);
void rs_buf_printf(rs_buf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Append the header line "name: value\r\n" (no checks: the caller's bytes
 * are already valid). Cheaper than rs_buf_printf on request paths. */
void rs_buf_header(rs_buf_t *b, const char *name, size_t nlen, const char *value, size_t vlen);
void rs_buf_free(rs_buf_t *b);

/* A counter written by one thread and read by others (metrics scrapes):
 * relaxed load + store is a plain add on x86 (no lock prefix), and
 * readers see a torn-free 64-bit value, which is all a counter needs. */
#define RS_COUNTER_ADD(c, n) \
  __atomic_store_n(&(c), __atomic_load_n(&(c), __ATOMIC_RELAXED) + (n), __ATOMIC_RELAXED)
#define RS_COUNTER_GET(c) __atomic_load_n(&(c), __ATOMIC_RELAXED)

#endif
