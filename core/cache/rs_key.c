/* core/cache/rs_key.c — see rs_key.h. */
#include "rs_key.h"

#include "rs_http.h"

#include <stdlib.h>
#include <string.h>

#define RS__SORT_INLINE 64       /* query parameters sorted without an allocation */

/* Byte classes: what each field keeps as it is (the rest is %XX). */
enum { RS__K_HOST = 1, RS__K_PATH = 2, RS__K_QUERY = 4, RS__K_HOOK = 8 };

static unsigned char rs__class[256];

/* Filled once, before main (and before any thread exists). */
__attribute__((constructor)) static void rs__class_init(void) {
  static const char sub_delims[] = "!$&'()*+,;=";
  for (int c = 0; c < 256; c++) {
    unsigned char m = 0;
    bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
    bool unreserved = alnum || c == '-' || c == '.' || c == '_' || c == '~';
    bool sub = c != 0 && strchr(sub_delims, c) != NULL;
    /* host: reg-name and IP-literal (lower-case by then) */
    if ((unreserved || sub || c == ':' || c == '[' || c == ']') && !(c >= 'A' && c <= 'Z')) m |= RS__K_HOST;
    /* path: pchar and '/' */
    if (unreserved || sub || c == ':' || c == '@' || c == '/') m |= RS__K_PATH;
    /* query (as sent): anything but controls, space and DEL */
    if (c > 0x20 && c != 0x7f) m |= RS__K_QUERY;
    /* a hook's string: anything but '%' and controls */
    if ((c >= 0x20 && c != 0x7f && c != '%') || c >= 0x80) m |= RS__K_HOOK;
    rs__class[c] = m;
  }
}

/* Set once a key with FIELDS / a hook key has been built (relaxed: a flag
 * that only goes from 0 to 1, read by purges to know whether a scan can
 * find anything an exact lookup cannot; a purge racing the very first such
 * key may miss that page, as it would miss a page stored just after it). */
static int rs__seen_fields, rs__seen_hooks;

static void rs__seen(int *flag) {
  if (!__atomic_load_n(flag, __ATOMIC_RELAXED)) __atomic_store_n(flag, 1, __ATOMIC_RELAXED);
}

bool rs_key_seen_fields(void) { return __atomic_load_n(&rs__seen_fields, __ATOMIC_RELAXED); }
bool rs_key_seen_hooks(void) { return __atomic_load_n(&rs__seen_hooks, __ATOMIC_RELAXED); }

void rs_key_init(rs_key_t *k, char *buf, size_t cap) {
  k->p = k->_buf = buf;
  k->len = 0;
  k->_cap = cap;
}

void rs_key_dispose(rs_key_t *k) {
  if (k->p != k->_buf) free(k->p);
  k->p = k->_buf;
  k->len = 0;
}

static void rs__reserve(rs_key_t *k, size_t more) {
  if (k->len + more <= k->_cap) return;
  size_t cap = RS_MAX(k->_cap * 2, k->len + more + 64);
  if (k->p == k->_buf) {
    char *n = rs_xmalloc(cap);
    memcpy(n, k->p, k->len);
    k->p = n;
  } else {
    k->p = rs_xrealloc(k->p, cap);
  }
  k->_cap = cap;
}

static void rs__put(rs_key_t *k, const char *s, size_t n) {
  rs__reserve(k, n);
  memcpy(k->p + k->len, s, n);
  k->len += n;
}

/* s[0..n) with the bytes outside class cls as %XX (upper-case hex);
 * lower: A-Z lower-cased first. */
static void rs__put_escaped(rs_key_t *k, const char *s, size_t n, unsigned cls, bool lower) {
  static const char hex[] = "0123456789ABCDEF";
  rs__reserve(k, 3 * n);
  char *o = k->p + k->len;
  size_t i = 0;
  while (i < n) {
    /* a run of bytes kept as they are: one copy (the common case is the
     * whole field) */
    size_t j = i;
    if (!lower)
      while (j < n && (rs__class[(unsigned char)s[j]] & cls)) j++;
    if (j > i) {
      memcpy(o, s + i, j - i);
      o += j - i;
      i = j;
      continue;
    }
    unsigned char c = (unsigned char)s[i++];
    if (lower && c >= 'A' && c <= 'Z') c = (unsigned char)(c + 32);
    if (rs__class[c] & cls) {
      *o++ = (char)c;
    } else {
      *o++ = '%';
      *o++ = hex[c >> 4];
      *o++ = hex[c & 15];
    }
  }
  k->len = (size_t)(o - k->p);
}

size_t rs_key_host_len(const char *host, size_t hlen) {
  /* Only digits after the last ':' are a port ("a:80/x" keeps its ':80/x',
   * which is then encoded: the path never hides behind a port). */
  size_t i = hlen;
  while (i > 0 && host[i - 1] >= '0' && host[i - 1] <= '9') i--;
  return i > 0 && host[i - 1] == ':' && memchr(host, ':', i - 1) == NULL ? i - 1
         : i > 0 && host[i - 1] == ':' && i >= 2 && host[i - 2] == ']' ? i - 1
         : hlen;
}

typedef struct {
  const char *p;
  size_t len, name_len;
  size_t idx;                    /* the tiebreak that makes the sort stable */
} rs__param_t;

static inline int rs__param_cmp(const void *a, const void *b) {
  const rs__param_t *x = a, *y = b;
  int c = memcmp(x->p, y->p, RS_MIN(x->name_len, y->name_len));
  if (c == 0) c = (x->name_len > y->name_len) - (x->name_len < y->name_len);
  if (c == 0) c = (x->idx > y->idx) - (x->idx < y->idx);
  return c;
}

/* The query's parameters sorted by name only, in their order among equal
 * names; empty pieces ("a&&b") skipped. */
static void rs__put_query(rs_key_t *k, const char *query, size_t qlen) {
  rs__param_t small[RS__SORT_INLINE], *params = small;
  size_t cap = RS__SORT_INLINE, n = 0;
  size_t pos = 0;
  rs_query_param_t qp;
  while (rs_query_next(query, qlen, &pos, &qp)) {
    if (n == cap) {              /* many parameters: sorted all the same */
      cap = RS_MAX(qlen / 2 + 1, 2 * n);   /* a piece is >= 1 byte and a '&' */
      rs__param_t *big = rs_xmalloc(cap * sizeof(*big));
      memcpy(big, params, n * sizeof(*big));
      if (params != small) free(params);
      params = big;
    }
    params[n] = (rs__param_t){ qp.piece.p, qp.piece.len, qp.name.len, n };
    n++;
  }
  if (n <= 16) {                 /* insertion sort: stable, no call per compare */
    for (size_t i = 1; i < n; i++) {
      rs__param_t x = params[i];
      size_t j = i;
      while (j > 0 && rs__param_cmp(&params[j - 1], &x) > 0) {
        params[j] = params[j - 1];
        j--;
      }
      params[j] = x;
    }
  } else {
    qsort(params, n, sizeof(params[0]), rs__param_cmp);
  }
  rs__reserve(k, 3 * qlen + 1);
  for (size_t i = 0; i < n; i++) {
    if (i) k->p[k->len++] = '&';
    rs__put_escaped(k, params[i].p, params[i].len, RS__K_QUERY, false);
  }
  if (params != small) free(params);
}

void rs_key_url(rs_key_t *k, const char *method, size_t mlen, const char *host, size_t hlen,
                const char *path, size_t plen, const char *query, size_t qlen) {
  /* HEAD is answered from GET's page. */
  if (mlen == 4 && memcmp(method, "HEAD", 4) == 0) method = "GET", mlen = 3;
  rs__reserve(k, mlen + hlen + plen + qlen + 8);
  rs__put(k, method, mlen);
  rs__put(k, " ", 1);
  rs__put_escaped(k, host, rs_key_host_len(host, hlen), RS__K_HOST, true);
  /* The path starts with '/', or the host could end inside it. */
  if (plen == 0 || path[0] != '/') rs__put(k, "/", 1);
  rs__put_escaped(k, path, plen, RS__K_PATH, false);
  if (qlen > 0) {
    rs__put(k, "?", 1);
    rs__put_query(k, query, qlen);
  }
}

void rs_key_hook(rs_key_t *k, const char *host, size_t hlen, const char *s, size_t n) {
  rs__seen(&rs__seen_hooks);
  rs__reserve(k, hlen + n + 4);
  rs__put(k, "~", 1);
  rs__put_escaped(k, host, rs_key_host_len(host, hlen), RS__K_HOST, true);
  rs__put(k, " ", 1);
  rs__put_escaped(k, s, n, RS__K_HOOK, false);
}

void rs_key_hook_escape(rs_key_t *k, const char *s, size_t n) {
  rs__put_escaped(k, s, n, RS__K_HOOK, false);
}

void rs_key_header(rs_key_t *k, const char *name, size_t nlen, bool present) {
  rs__seen(&rs__seen_fields);
  rs__reserve(k, nlen + 2);
  rs__put(k, "\n", 1);
  rs__put(k, name, nlen);
  if (present) rs__put(k, ":", 1);
}

void rs_key_header_value(rs_key_t *k, const char *v, size_t vlen, bool first) {
  if (!first) rs__put(k, ", ", 2);
  /* Values never hold CR or LF (the parser refuses them); encode any
   * control byte all the same, so that no value can fake a field. */
  rs__put_escaped(k, v, vlen, RS__K_HOOK | RS__K_QUERY, false);
}

void rs_key_cookie(rs_key_t *k, const char *name, size_t nlen, const char *v, size_t vlen, bool present) {
  rs__seen(&rs__seen_fields);
  rs__reserve(k, nlen + 3);
  rs__put(k, "\n;", 2);
  rs__put(k, name, nlen);
  if (!present) return;
  rs__put(k, "=", 1);
  rs__put_escaped(k, v, vlen, RS__K_HOOK, false);
}

void rs_key_version(rs_key_t *k, const char *v, size_t vlen) {
  rs__seen(&rs__seen_fields);
  rs__put(k, "\n@", 2);
  rs__put_escaped(k, v, vlen, RS__K_HOOK, false);
}

bool rs_key_hook_part(const char *key, size_t len, const char **hook, size_t *hook_len) {
  if (len == 0 || key[0] != '~') return false;
  const char *sp = memchr(key, ' ', len);
  if (sp == NULL) return false;
  *hook = sp + 1;
  *hook_len = len - (size_t)(sp + 1 - key);
  return true;
}
