/* core/gateway/rs_page_key.c — the key a request is looked up and stored
 * under (core/cache/rs_key.h has its format): the URL or a key hook's
 * string, then the headers the route names (rs_page_int.h). */
#include "rs_page.h"
#include "rs_page_int.h"

#include "rs_policy.h"
#include "rs_realip.h"

#include <string.h>

/* The fields of the headers the route names (rs_key.h): they split its
 * pages, and they are what reaches the bundle beside the host. */
static void rs__key_fields(rs_key_t *k, rs_req_t *req, const rs_route_t *route) {
  int trusted = -1;              /* resolved when a named header is a forwarding claim */
  for (const char *const *n = route->cache.headers; n != NULL && *n != NULL; n++) {
    size_t nl = strlen(*n);
    bool first = true;
    if (rs_realip_claim(req, *n, nl)) {
      /* absent, as the render will see it, unless a trusted proxy sent it */
      if (trusted < 0) {
        rs_realip_t rip;
        rs_realip_resolve(req, &rip);
        trusted = rip.trusted;
      }
      if (!trusted) {
        rs_key_header(k, *n, nl, false);
        continue;
      }
    }
    for (size_t i = 0; i < req->nheaders; i++) {
      const rs_header_t *h = &req->headers[i];
      if (!rs_str_ieq(h->name.p, h->name.len, *n, nl)) continue;
      if (first) rs_key_header(k, *n, nl, true);
      rs_key_header_value(k, h->value.p, h->value.len, first);
      first = false;
    }
    if (first) rs_key_header(k, *n, nl, false);
  }
}

void rs_page__key(rs_key_t *k, rs_req_t *req, const rs_route_t *route, const char *hook_key,
                  size_t hook_len) {
  if (hook_key != NULL)
    rs_key_hook(k, req->host.p, req->host.len, hook_key, hook_len);
  else
    rs_key_url(k, req->method.p, req->method.len, req->host.p, req->host.len, req->path.p, req->path.len,
               req->query.p, req->query.len);
  rs__key_fields(k, req, route);
  rs_policy_key_tail(k, req, route, rs_req_gen(req)->cfg);   /* named cookies, cache.version */
}
