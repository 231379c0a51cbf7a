/* core/gateway/rs_policy.c — see rs_policy.h. */
#include "rs_policy.h"

#include "rs_http.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rs_cache.h"
#include "rs_cookie.h"
#include "rs_key.h"
#include "rs_realip.h"

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
  const char *q = req->query.p, *end = req->query.p + req->query.len;
  char small[128];
  while (q != NULL && q < end) {
    const char *amp = memchr(q, '&', (size_t)(end - q));
    const char *stop = amp ? amp : end;
    const char *eq = memchr(q, '=', (size_t)(stop - q));
    if (eq != NULL && eq + 1 < stop) {
      size_t n = (size_t)(eq - q);
      if (memchr(q, '%', n) == NULL && memchr(q, '+', n) == NULL) {
        if (rs__listed(names, q, n)) return true;
      } else if (n <= sizeof(small)) {  /* longer names are never listed ones */
        size_t dn = rs_url_decode(small, q, n, true);
        if (rs__listed(names, small, dn)) return true;
      }
    }
    q = stop + 1;
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

bool rs_policy_page_sees(const rs_req_t *req, const rs_route_t *shared, const char *name, size_t len,
                         bool trusted) {
  if (!trusted && rs_realip_claim(req, name, len)) return false;
  if (shared == NULL || rs_str_ieq(name, len, "host", 4)) return true;
  for (const char *const *n = shared->cache.headers; n != NULL && *n != NULL; n++)
    if (rs_str_ieq(name, len, *n, strlen(*n))) return true;
  return false;
}

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

/* ------------------------------------------------------------------ purge */

int rs_policy_purge_by(const char *name, size_t len) {
  static const char *const names[] = {
#define XX(n, str) str,
    RS_PURGE_MAP(XX)
#undef XX
  };
  for (size_t i = 0; i < RS_ARRAY_SIZE(names); i++)
    if (strlen(names[i]) == len && memcmp(names[i], name, len) == 0) return (int)i;
  return -1;
}

/* What a key, prefix or URL purge selects (rs_key.h): keys equal to v
 * (or starting with it, for a prefix), with or without the fields of the
 * route's named headers; and, when hv is set, the keys a key hook made
 * whose hook part is hv (v in a hook key's form), on any host. */
typedef struct {
  const char *v, *hv;
  size_t len, hlen;
  bool prefix;
} rs__sel_t;

static bool rs__sel_match(const char *key, size_t len, void *ud) {
  const rs__sel_t *s = ud;
  if (len >= s->len && memcmp(key, s->v, s->len) == 0 &&
      (s->prefix || len == s->len || key[s->len] == '\n'))
    return true;
  const char *h;
  size_t hl;
  if (s->hv == NULL || !rs_key_hook_part(key, len, &h, &hl)) return false;
  if (hl < s->hlen || memcmp(h, s->hv, s->hlen) != 0) return false;
  return s->prefix || hl == s->hlen || h[s->hlen] == '\n';
}

static size_t rs__purge_sel(struct rs_cache_s *cache, const char *v, size_t len, bool prefix, bool hooks,
                            bool soft) {
  /* Nothing a scan could find beyond the exact key: one lookup (a purge by
   * URL or key on a site without named headers nor key hooks). */
  if (!prefix && !rs_key_seen_fields() && !(hooks && rs_key_seen_hooks()))
    return soft ? rs_cache_soft_key(cache, v, len) : rs_cache_purge_key(cache, v, len);
  char hbuf[256];
  rs_key_t hk;
  rs_key_init(&hk, hbuf, sizeof(hbuf));
  if (hooks) rs_key_hook_escape(&hk, v, len);
  rs__sel_t sel = { .v = v, .len = len, .hv = hooks ? hk.p : NULL, .hlen = hk.len, .prefix = prefix };
  size_t n = soft ? rs_cache_soft_if(cache, rs__sel_match, &sel) : rs_cache_purge_if(cache, rs__sel_match, &sel);
  rs_key_dispose(&hk);
  return n;
}

size_t rs_policy_purge_ex(struct rs_cache_s *cache, rs_purge_by_t by, const char *v, size_t len,
                          const char *host, size_t host_len, bool soft) {
  /* An empty selector selects nothing: "everything" is only ever all. */
  if (by != RS_PURGE_ALL && len == 0) return 0;
  switch (by) {
    case RS_PURGE_KEY: return rs__purge_sel(cache, v, len, false, true, soft);
    case RS_PURGE_PREFIX: return rs__purge_sel(cache, v, len, true, true, soft);
    case RS_PURGE_TAG: return soft ? rs_cache_soft_tag(cache, v, len) : rs_cache_purge_tag(cache, v, len);
    case RS_PURGE_ALL: return soft ? rs_cache_soft_all(cache) : rs_cache_purge_all(cache);
    case RS_PURGE_URL: {
      const char *qm = memchr(v, '?', len);
      size_t plen = qm ? (size_t)(qm - v) : len;
      return rs_policy_purge_url_ex(cache, host, host_len, v, plen, qm ? qm + 1 : NULL,
                                    qm ? len - plen - 1 : 0, soft);
    }
    default: return 0;
  }
}

size_t rs_policy_purge(struct rs_cache_s *cache, rs_purge_by_t by, const char *v, size_t len,
                       const char *host, size_t host_len) {
  return rs_policy_purge_ex(cache, by, v, len, host, host_len, false);
}

int rs_policy_url_split(const char *url, size_t len, const char **host, size_t *host_len, const char **path,
                        size_t *path_len, const char **why) {
  const char *h = NULL;
  size_t skip = len >= 7 && memcmp(url, "http://", 7) == 0 ? 7 : len >= 8 && memcmp(url, "https://", 8) == 0 ? 8 : 0;
  if (skip > 0) {
    if (*host != NULL) {
      *why = "give the host once: in 'url' or in 'host'";
      return -1;
    }
    h = url + skip;
    const char *slash = memchr(h, '/', len - skip);
    *host = h;
    *host_len = slash ? (size_t)(slash - h) : len - skip;
    *path = slash ? slash : "/";
    *path_len = slash ? len - (size_t)(slash - url) : 1;
  } else {
    *path = url;
    *path_len = len;
  }
  if (*path_len == 0 || (*path)[0] != '/') {
    *why = "'url' must start with '/' or http(s)://";
    return -1;
  }
  if (*host == NULL || *host_len == 0) {
    *why = "'url' needs 'host' (the site's Host, as the page was requested)";
    return -1;
  }
  return 0;
}

size_t rs_policy_purge_url(struct rs_cache_s *cache, const char *host, size_t host_len,
                           const char *path, size_t path_len, const char *query, size_t query_len) {
  return rs_policy_purge_url_ex(cache, host, host_len, path, path_len, query, query_len, false);
}

size_t rs_policy_purge_url_ex(struct rs_cache_s *cache, const char *host, size_t host_len, const char *path,
                              size_t path_len, const char *query, size_t query_len, bool soft) {
  /* Pages are keyed by the canonical path (core/base/rs_http.h): "/caf%c3%a9",
   * "/café" and "//a/../café" name the same page. A path that no request
   * could have (a malformed escape) names none. */
  char pbuf[512];
  char *canon = path_len * 3 <= sizeof(pbuf) ? pbuf : rs_xmalloc(path_len * 3);
  size_t clen = 0;
  size_t n = 0;
  if (rs_http_path_normalize(path, path_len, canon, &clen) == NULL) {
    char kbuf[512];
    rs_key_t k;
    rs_key_init(&k, kbuf, sizeof(kbuf));
    rs_key_url(&k, "GET", 3, host ? host : "", host ? host_len : 0, canon, clen, query, query_len);
    n = rs__purge_sel(cache, k.p, k.len, false, false, soft);
    rs_key_dispose(&k);
  }
  if (canon != pbuf) free(canon);
  return n;
}
