/* core/base/rs_cookie.c — see rs_cookie.h. */
#include "rs_cookie.h"

#include <string.h>

static bool rs__ws(char c) { return c == ' ' || c == '\t'; }

bool rs_cookie_next(const char **p, const char *end, rs_str_t *name, rs_str_t *value) {
  const char *c = *p;
  while (c < end) {
    const char *semi = memchr(c, ';', (size_t)(end - c));
    const char *stop = semi ? semi : end;
    const char *n = c;
    c = semi ? stop + 1 : end;
    while (n < stop && rs__ws(*n)) n++;
    const char *eq = memchr(n, '=', (size_t)(stop - n));
    if (eq == NULL) continue;                /* no '=': not a pair */
    const char *ne = eq;
    while (ne > n && rs__ws(ne[-1])) ne--;
    if (ne == n) continue;                   /* "=x": no name */
    const char *v = eq + 1, *ve = stop;
    while (v < ve && rs__ws(*v)) v++;
    while (ve > v && rs__ws(ve[-1])) ve--;
    if (ve - v >= 2 && v[0] == '"' && ve[-1] == '"') v++, ve--;
    *name = (rs_str_t){ n, (size_t)(ne - n) };
    *value = (rs_str_t){ v, (size_t)(ve - v) };
    *p = c;
    return true;
  }
  *p = end;
  return false;
}

static ptrdiff_t rs__index(const char *const *names, const rs_str_t *n) {
  for (size_t i = 0; names[i] != NULL; i++)
    if (strlen(names[i]) == n->len && memcmp(names[i], n->p, n->len) == 0) return (ptrdiff_t)i;
  return -1;
}

void rs_cookie_pick(const char *const *names, const char *v, size_t len, rs_cookie_val_t *out) {
  const char *p = v, *end = v + len;
  rs_str_t n, val;
  while (rs_cookie_next(&p, end, &n, &val)) {
    ptrdiff_t i = rs__index(names, &n);
    if (i >= 0 && !out[i].present) out[i] = (rs_cookie_val_t){ val, true };
  }
}

bool rs_cookie_has(const char *v, size_t len, const char *const *names) {
  const char *p = v, *end = v + len;
  rs_str_t n, val;
  while (rs_cookie_next(&p, end, &n, &val))
    if (val.len > 0 && rs__index(names, &n) >= 0) return true;
  return false;
}

size_t rs_cookie_join(rs_buf_t *b, const char *const *names, const rs_cookie_val_t *out) {
  size_t k = 0;
  for (size_t i = 0; names[i] != NULL; i++) {
    if (!out[i].present) continue;
    if (k++) rs_buf_append(b, "; ", 2);
    rs_buf_append(b, names[i], strlen(names[i]));
    rs_buf_append(b, "=", 1);
    rs_buf_append(b, out[i].value.p, out[i].value.len);
  }
  return k;
}
