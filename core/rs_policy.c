/* core/rs_policy.c — see rs_policy.h. */
#include "rs_policy.h"

#include <string.h>

bool rs_policy_bypass(const rs_req_t *req, const rs_route_t *route) {
  (void)route;
  return req->nheaders && (rs_req_header(req, "authorization") || rs_req_header(req, "cookie"));
}

/* Does [v, end) hold the token tok (lower-case), case-insensitively? */
static bool rs__has_token(const char *v, const char *end, const char *tok) {
  size_t n = strlen(tok);
  for (; v + n <= end; v++)
    if (rs_str_ieq(v, n, tok, n)) return true;
  return false;
}

bool rs_policy_storable(const rs_route_t *route, int status, const char *h, size_t len) {
  (void)route;
  if (status != 200 && status != 301 && status != 302 && status != 404) return false;
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
