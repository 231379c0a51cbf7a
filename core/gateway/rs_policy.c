/* core/gateway/rs_policy.c — see rs_policy.h. */
#include "rs_policy.h"

#include "rs_http.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rs_cookie.h"
#include "rs_key.h"

/* ------------------------------------------------------------------ bypass */

static bool rs__listed(const char *const *names, const char *s, size_t n) {
  for (; *names != NULL; names++)
    if (strlen(*names) == n && memcmp(*names, s, n) == 0) return true;
  return false;
}

static bool rs__is_space(char c) { return c == ' ' || c == '\t'; }

/* A listed cookie with a non-empty value in any Cookie header (a quoted
 * value counts without its quotes, as req.cookie reads it). */
static bool rs__cookie_hit(const rs_req_t *req, const char *const *names) {
  for (size_t i = 0; i < req->nheaders; i++) {
    const rs_header_t *h = &req->headers[i];
    if (rs_str_ieq(h->name.p, h->name.len, "cookie", 6) && rs_cookie_has(h->value.p, h->value.len, names))
      return true;
  }
  return false;
}

/* A listed header (names lower-case) with a non-blank value. */
static bool rs__header_hit(const rs_req_t *req, const char *const *names) {
  for (size_t i = 0; i < req->nheaders; i++) {
    const rs_header_t *h = &req->headers[i];
    const char *v = h->value.p, *ve = h->value.p + h->value.len;
    while (v < ve && rs__is_space(*v)) v++;
    if (v == ve) continue;
    for (const char *const *n = names; *n != NULL; n++)
      if (rs_str_ieq(h->name.p, h->name.len, *n, strlen(*n))) return true;
  }
  return false;
}

/* A listed query parameter (its name percent-decoded) with a non-empty
 * value: "?preview=1" counts, "?preview=" and "?preview" do not. */
static bool rs__query_hit(const rs_req_t *req, const char *const *names) {
  char small[128];
  size_t pos = 0;
  rs_query_param_t qp;
  while (rs_query_next(req->query.p, req->query.len, &pos, &qp)) {
    if (qp.value.len == 0) continue;
    const char *q = qp.name.p;
    size_t n = qp.name.len;
    if (memchr(q, '%', n) == NULL && memchr(q, '+', n) == NULL) {
      if (rs__listed(names, q, n)) return true;
    } else if (n <= sizeof(small)) {  /* longer names are never listed ones */
      size_t dn = rs_url_decode(small, q, n, true);
      if (rs__listed(names, small, dn)) return true;
    }
  }
  return false;
}

bool rs_policy_bypass(const rs_req_t *req, const rs_route_t *route) {
  if (route == NULL)
    return req->nheaders && (rs_req_header(req, "authorization") || rs_req_header(req, "cookie"));
  if (req->nheaders) {
    if (!route->cache.authorization && rs_req_header(req, "authorization")) return true;
    /* A route that names the cookies its pages depend on keys on them:
     * every other cookie is invisible to its pages, so none bypasses. */
    if (!route->cache.cookie && route->cache.cookies == NULL && rs_req_header(req, "cookie")) return true;
    if (route->cache.bypass_header && rs__header_hit(req, route->cache.bypass_header)) return true;
    if (route->cache.bypass_cookie && rs__cookie_hit(req, route->cache.bypass_cookie)) return true;
  }
  return route->cache.bypass_query && req->query.len && rs__query_hit(req, route->cache.bypass_query);
}

/* ------------------------------------------------------------------ what a page sees */

void rs_policy_page_cookies(const rs_req_t *req, const rs_route_t *route, rs_cookie_val_t *out) {
  size_t n = 0;
  while (route->cache.cookies[n] != NULL) n++;
  memset(out, 0, n * sizeof(*out));
  for (size_t i = 0; i < req->nheaders; i++) {
    const rs_header_t *h = &req->headers[i];
    if (rs_str_ieq(h->name.p, h->name.len, "cookie", 6))
      rs_cookie_pick(route->cache.cookies, h->value.p, h->value.len, out);
  }
}

size_t rs_policy_page_cookie(const rs_req_t *req, const rs_route_t *shared, rs_buf_t *out) {
  if (shared == NULL || shared->cache.cookies == NULL) return 0;
  rs_cookie_val_t v[RS_POLICY_MAX_COOKIES];
  rs_policy_page_cookies(req, shared, v);
  return rs_cookie_join(out, shared->cache.cookies, v);
}

void rs_policy_key_tail(rs_key_t *k, const rs_req_t *req, const rs_route_t *route, const rs_config_t *cfg) {
  if (route->cache.cookies != NULL) {
    rs_cookie_val_t v[RS_POLICY_MAX_COOKIES];
    rs_policy_page_cookies(req, route, v);
    for (size_t i = 0; route->cache.cookies[i] != NULL; i++) {
      const char *n = route->cache.cookies[i];
      rs_key_cookie(k, n, strlen(n), v[i].value.p, v[i].value.len, v[i].present);
    }
  }
  const char *version = cfg->cache.version;
  if (version == NULL || version[0] == '\0') return;
  if (strcmp(version, "bundle") == 0) {    /* the bundle's own id: a new bundle, new keys */
    char id[24];
    int n = snprintf(id, sizeof(id), "%016llx", (unsigned long long)cfg->render.bundle_id);
    rs_key_version(k, id, (size_t)n);
  } else {
    rs_key_version(k, version, strlen(version));
  }
}

/* Does the header block h[0..len) ("Name: value\r\n"...) hold name (lower-case)? */
static bool rs__has_header(const char *h, size_t len, const char *name) {
  size_t nl = strlen(name);
  for (const char *p = h, *end = h + len; p < end;) {
    const char *eol = memchr(p, '\n', (size_t)(end - p));
    const char *colon = memchr(p, ':', (size_t)((eol ? eol : end) - p));
    if (colon != NULL && rs_str_ieq(p, (size_t)(colon - p), name, nl)) return true;
    p = eol ? eol + 1 : end;
  }
  return false;
}

bool rs_policy_page_headers(const rs_route_t *route, const char *h, size_t len, rs_buf_t *out) {
  bool vary_cookie = route->cache.cookies != NULL && route->cache.cookies[0] != NULL;
  bool vary = route->cache.headers != NULL || vary_cookie;
  bool cc = route->cache.cache_control != NULL && !rs__has_header(h, len, "cache-control");
  if (!vary && !cc) return false;
  rs_buf_append(out, h, len);
  if (vary) {
    rs_buf_append(out, "Vary: ", 6);
    size_t k = 0;
    for (const char *const *n = route->cache.headers; n != NULL && *n != NULL; n++, k++) {
      if (k) rs_buf_append(out, ", ", 2);
      rs_buf_append(out, *n, strlen(*n));
    }
    if (vary_cookie) rs_buf_append(out, k ? ", Cookie" : "Cookie", k ? 8 : 6);
    rs_buf_append(out, "\r\n", 2);
  }
  if (cc) rs_buf_printf(out, "Cache-Control: %s\r\n", route->cache.cache_control);
  return true;
}

const char *rs_policy_bypass_extra(const rs_route_t *route) {
  return route->cache.cache_control != NULL ? "X-Cache: BYPASS\r\nCache-Control: private\r\n"
                                            : "X-Cache: BYPASS\r\n";
}

/* ------------------------------------------------------------------ storable */

/* Does [v, end) hold the token tok (lower-case), case-insensitively? */
static bool rs__has_token(const char *v, const char *end, const char *tok) {
  size_t n = strlen(tok);
  for (; v + n <= end; v++)
    if (rs_str_ieq(v, n, tok, n)) return true;
  return false;
}

bool rs_policy_status_ok(const rs_route_t *route, int status) {
  if (status < 0 || status >= 64 * (int)RS_ARRAY_SIZE(route->cache.statuses)) return false;
  if (route != NULL) {
    const uint64_t *bits = route->cache.statuses;
    uint64_t any = 0;
    for (size_t i = 0; i < RS_ARRAY_SIZE(route->cache.statuses); i++) any |= bits[i];
    if (any) return (bits[status / 64] >> (status % 64)) & 1;
  }
  return status == 200 || status == 301 || status == 302 || status == 404;
}

bool rs_policy_storable(const rs_route_t *route, int status, const char *h, size_t len) {
  if (!rs_policy_status_ok(route, status)) return false;
  const char *p = h, *end = h + len;
  while (p < end) {
    const char *eol = memchr(p, '\n', (size_t)(end - p));
    const char *line_end = eol ? eol : end;
    const char *colon = memchr(p, ':', (size_t)(line_end - p));
    if (colon != NULL) {
      size_t nlen = (size_t)(colon - p);
      if (rs_str_ieq(p, nlen, "set-cookie", 10)) return false;
      if (rs_str_ieq(p, nlen, "cache-control", 13) &&
          (rs__has_token(colon + 1, line_end, "private") || rs__has_token(colon + 1, line_end, "no-store")))
        return false;
    }
    p = line_end + 1;
  }
  return true;
}
