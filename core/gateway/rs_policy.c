/* core/gateway/rs_policy.c — see rs_policy.h. */
#include "rs_policy.h"

#include "rs_http.h"

#include <stdlib.h>
#include <string.h>


/* ------------------------------------------------------------------ bypass */

static bool rs__listed(const char *const *names, const char *s, size_t n) {
  for (; *names != NULL; names++)
    if (strlen(*names) == n && memcmp(*names, s, n) == 0) return true;
  return false;
}

static bool rs__is_space(char c) { return c == ' ' || c == '\t'; }

/* A listed cookie with a non-empty value in any Cookie header ("a=1; b=2";
 * a quoted value counts without its quotes, as req.cookie reads it). */
static bool rs__cookie_hit(const rs_req_t *req, const char *const *names) {
  for (size_t i = 0; i < req->nheaders; i++) {
    const rs_header_t *h = &req->headers[i];
    if (!rs_str_ieq(h->name.p, h->name.len, "cookie", 6)) continue;
    const char *c = h->value.p, *end = h->value.p + h->value.len;
    while (c < end) {
      const char *semi = memchr(c, ';', (size_t)(end - c));
      const char *stop = semi ? semi : end;
      while (c < stop && rs__is_space(*c)) c++;
      const char *eq = memchr(c, '=', (size_t)(stop - c));
      if (eq != NULL && eq > c) {
        const char *ne = eq;
        while (ne > c && rs__is_space(ne[-1])) ne--;
        const char *v = eq + 1, *ve = stop;
        while (v < ve && rs__is_space(*v)) v++;
        while (ve > v && rs__is_space(ve[-1])) ve--;
        if (ve - v >= 2 && v[0] == '"' && ve[-1] == '"') v++, ve--;
        if (ve > v && rs__listed(names, c, (size_t)(ne - c))) return true;
      }
      c = stop + 1;
    }
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
    if (!route->cache.cookie && rs_req_header(req, "cookie")) return true;
    if (route->cache.bypass_header && rs__header_hit(req, route->cache.bypass_header)) return true;
    if (route->cache.bypass_cookie && rs__cookie_hit(req, route->cache.bypass_cookie)) return true;
  }
  return route->cache.bypass_query && req->query.len && rs__query_hit(req, route->cache.bypass_query);
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
