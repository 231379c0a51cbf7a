/* core/http/rs_realip.c — see rs_realip.h. */
#include "rs_realip.h"

#include "rs_cidr.h"

#include <string.h>

/* The options the request was handed up under, else the loop's current
 * ones; NULL for a request of no loop (unit tests). */
static const rs_http_opts_t *rs__opts(const rs_req_t *req) {
  return req->opts != NULL ? req->opts : req->loop != NULL ? req->loop->http : NULL;
}

/* The peer's address without its port ("1.2.3.4:5678", "::1:5678"). */
static void rs__peer_ip(rs_req_t *req, char *buf, size_t cap) {
  const char *peer = rs_req_peer(req);
  const char *colon = strrchr(peer, ':');
  size_t n = colon != NULL ? (size_t)(colon - peer) : strlen(peer);
  if (n >= 2 && peer[0] == '[' && peer[n - 1] == ']') peer++, n -= 2;
  if (n >= cap) n = cap - 1;
  memcpy(buf, peer, n);
  buf[n] = '\0';
}

static bool rs__trim_entry(const char **s, const char **e) {
  while (*s < *e && (**s == ' ' || **s == '\t')) (*s)++;
  while (*e > *s && ((*e)[-1] == ' ' || (*e)[-1] == '\t')) (*e)--;
  return *e > *s;
}

void rs_realip_resolve(rs_req_t *req, rs_realip_t *out) {
  const rs_http_opts_t *o = rs__opts(req);
  memset(out, 0, sizeof(*out));
  rs__peer_ip(req, out->peer, sizeof(out->peer));
  memcpy(out->client, out->peer, sizeof(out->client));
  if (o == NULL || o->real_ip.nfrom == 0) return;
  rs_ip_t ip;
  if (rs_ip_parse(out->peer, strlen(out->peer), &ip) != 0 ||
      !rs_cidr_any(o->real_ip.from, o->real_ip.nfrom, &ip))
    return;
  out->trusted = true;
  /* Walk the header's entries from the right: the last header first, each
   * from its end. */
  const char *hname = o->real_ip.header;
  size_t hlen = strlen(hname);
  for (size_t i = req->nheaders; i > 0; i--) {
    const rs_header_t *h = &req->headers[i - 1];
    if (!rs_str_ieq(h->name.p, h->name.len, hname, hlen)) continue;
    const char *start = h->value.p, *end = h->value.p + h->value.len;
    while (end > start) {
      const char *comma = end;
      while (comma > start && comma[-1] != ',') comma--;
      const char *s = comma, *e = end;
      end = comma > start ? comma - 1 : start;
      if (!rs__trim_entry(&s, &e)) continue;          /* "a, , b": empty entries skip */
      /* "1.2.3.4:5678" and "[::1]:5678" name their address (as nginx reads them) */
      const char *ae = e;
      if (s[0] == '[') {
        const char *rb = memchr(s, ']', (size_t)(e - s));
        if (rb != NULL) ae = rb + 1;
      } else {
        const char *c1 = memchr(s, ':', (size_t)(e - s));
        if (c1 != NULL && memchr(c1 + 1, ':', (size_t)(e - c1 - 1)) == NULL) ae = c1;
      }
      rs_ip_t a;
      if (rs_ip_parse(s, (size_t)(ae - s), &a) != 0) {  /* not an address: the peer stays */
        memcpy(out->client, out->peer, sizeof(out->client));
        out->chain = NULL;
        out->chain_len = 0;
        return;
      }
      rs_ip_format(&a, out->client, sizeof(out->client));
      out->chain = s;
      out->chain_len = (size_t)(h->value.p + h->value.len - s);
      if (!o->real_ip.recursive || !rs_cidr_any(o->real_ip.from, o->real_ip.nfrom, &a)) return;
    }
  }
}

void rs_realip_xff(const rs_realip_t *r, rs_buf_t *out) {
  if (r->chain != NULL) {
    /* The client as resolved, then the hops listed after it. */
    rs_buf_printf(out, "%s", r->client);
    const char *comma = memchr(r->chain, ',', r->chain_len);
    if (comma != NULL) rs_buf_append(out, comma, (size_t)(r->chain + r->chain_len - comma));
    rs_buf_printf(out, ", %s", r->peer);
  } else {
    rs_buf_printf(out, "%s", r->peer);
  }
}

const rs_str_t *rs_realip_header(const rs_realip_t *r, const rs_req_t *req, const char *name) {
  return r->trusted && req->nheaders ? rs_req_header(req, name) : NULL;
}

bool rs_realip_claim(const rs_req_t *req, const char *name, size_t len) {
  static const rs_str_t claims[] = {
    RS_STR("x-forwarded-for"), RS_STR("x-forwarded-host"), RS_STR("x-forwarded-proto"),
    RS_STR("x-forwarded-port"), RS_STR("x-forwarded-prefix"), RS_STR("x-real-ip"), RS_STR("forwarded"),
  };
  for (size_t i = 0; i < RS_ARRAY_SIZE(claims); i++)
    if (rs_str_ieq(name, len, claims[i].p, claims[i].len)) return true;
  const rs_http_opts_t *o = rs__opts(req);
  const char *h = o != NULL ? o->real_ip.header : NULL;
  return h != NULL && rs_str_ieq(name, len, h, strlen(h));
}
