/* core/http/rs_realip.h — the client's address behind trusted proxies
 * (ssr.config real_ip = { from, header, recursive }: nginx's
 * set_real_ip_from, real_ip_header and real_ip_recursive), and what a
 * request's forwarding headers may say.
 *
 * A peer inside real_ip.from is a trusted proxy: the client is read from
 * real_ip.header (X-Forwarded-For by default; repeated headers count as one
 * list, in order). Not recursive: its last address. Recursive: walking from
 * the right, the first address outside real_ip.from (all trusted: the
 * leftmost). An entry that is no address stops the walk and leaves the
 * peer as the client (as nginx declines). Any other peer is the client,
 * and what it says in X-Forwarded-For/-Host/-Proto/-Port, X-Real-IP,
 * Forwarded and real_ip.header is not believed: those never reach a
 * render, and upstreams get the gateway's own values.
 *
 * The resolved address is req.client in Lua and starts the X-Forwarded-For
 * that upstreams get (rs_realip_xff). Loop threads. */
#ifndef RS_REALIP_H
#define RS_REALIP_H

#include "rs_conn.h"

typedef struct {
  bool trusted;                  /* the peer is in real_ip.from */
  char client[48];               /* the client's address (no port) */
  char peer[48];                 /* the peer's address (no port) */
  /* When the client came from the header: the header's entries from the
   * client's to the last (the client, then the trusted hops). */
  const char *chain;             /* a slice of one header value, or NULL */
  size_t chain_len;
} rs_realip_t;

/* Resolve req's client under its options' real_ip (req->opts). */
void rs_realip_resolve(rs_req_t *req, rs_realip_t *out);

/* Append the X-Forwarded-For value an upstream gets for a request
 * resolved as r: the client, the trusted hops after it as the header
 * listed them, then the peer (just the peer when it is the client). Never
 * what an untrusted client wrote. */
void rs_realip_xff(const rs_realip_t *r, rs_buf_t *out);

/* The request's header name (lower-case) when the peer is trusted (r),
 * else NULL: a forwarding claim (X-Forwarded-Proto...) to pass on. */
const rs_str_t *rs_realip_header(const rs_realip_t *r, const rs_req_t *req, const char *name);

/* Is the request header called name (any case) a forwarding claim that a
 * render must not see from an untrusted peer (X-Forwarded-*, X-Real-IP,
 * Forwarded, the configured real_ip.header)? */
bool rs_realip_claim(const rs_req_t *req, const char *name, size_t len);

#endif
