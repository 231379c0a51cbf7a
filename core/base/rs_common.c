/* core/base/rs_common.c — see rs_common.h. */
#include "rs_common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdarg.h>
#include <time.h>

static void rs__oom(size_t n) {
  fprintf(stderr, "rustyssr: fatal: out of memory allocating %zu bytes\n", n);
  abort();
}

void *rs_xmalloc(size_t n) {
  void *p = malloc(n ? n : 1);
  if (p == NULL) rs__oom(n);
  return p;
}

void *rs_xcalloc(size_t count, size_t n) {
  void *p = calloc(count ? count : 1, n ? n : 1);
  if (p == NULL) rs__oom(count * n);
  return p;
}

void *rs_xrealloc(void *p, size_t n) {
  void *q = realloc(p, n ? n : 1);
  if (q == NULL) rs__oom(n);
  return q;
}

char *rs_xstrdup(const char *s) { return rs_xstrndup(s, strlen(s)); }

char *rs_xstrndup(const char *s, size_t n) {
  char *d = rs_xmalloc(n + 1);
  memcpy(d, s, n);
  d[n] = '\0';
  return d;
}

uint64_t rs_now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

uint64_t rs_now_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

bool rs_str_ieq(const char *s, size_t slen, const char *lower, size_t n) {
  if (slen != n) return false;
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c >= 'A' && c <= 'Z') c = (unsigned char)(c + 32);
    if (c != (unsigned char)lower[i]) return false;
  }
  return true;
}

void rs_buf_reserve(rs_buf_t *b, size_t extra) {
  if (b->len + extra <= b->cap) return;
  size_t cap = b->cap ? b->cap : 256;
  while (cap < b->len + extra) cap *= 2;
  b->p = rs_xrealloc(b->p, cap);
  b->cap = cap;
}

void rs_buf_append(rs_buf_t *b, const void *p, size_t n) {
  rs_buf_reserve(b, n + 1);
  memcpy(b->p + b->len, p, n);
  b->len += n;
  b->p[b->len] = '\0';
}

void rs_buf_header(rs_buf_t *b, const char *name, size_t nlen, const char *value, size_t vlen) {
  rs_buf_reserve(b, nlen + vlen + 5);
  char *p = b->p + b->len;
  memcpy(p, name, nlen), p += nlen;
  *p++ = ':', *p++ = ' ';
  memcpy(p, value, vlen), p += vlen;
  *p++ = '\r', *p++ = '\n', *p = '\0';
  b->len = (size_t)(p - b->p);
}

void rs_buf_printf(rs_buf_t *b, const char *fmt, ...) {
  rs_buf_reserve(b, 256);
  for (;;) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
    va_end(ap);
    if (n < 0) return;
    if ((size_t)n < b->cap - b->len) {
      b->len += (size_t)n;
      return;
    }
    rs_buf_reserve(b, (size_t)n + 1);
  }
}

void rs_buf_free(rs_buf_t *b) {
  free(b->p);
  b->p = NULL;
  b->len = b->cap = 0;
}
