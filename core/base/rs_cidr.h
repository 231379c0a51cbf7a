/* core/base/rs_cidr.h — IP addresses and CIDR blocks ("10.0.0.0/8", "::1",
 * "2001:db8::/32"), parsed once at load and matched on the request path
 * (real_ip.from; later an admin allow list). Plain data, any thread. */
#ifndef RS_CIDR_H
#define RS_CIDR_H

#include "rs_common.h"

#include <stdint.h>

typedef struct {
  uint8_t family;                /* 4 or 6 */
  uint8_t addr[16];              /* network order; IPv4 in the first 4 bytes */
} rs_ip_t;

typedef struct {
  rs_ip_t net;                   /* the block's address, host bits cleared */
  uint8_t bits;                  /* prefix length: 0..32 or 0..128 */
} rs_cidr_t;

/* Parse an address ("1.2.3.4", "::1", "[::1]"; an IPv4-mapped IPv6
 * address "::ffff:1.2.3.4" is taken as its IPv4 address). Returns 0 or
 * -EINVAL. */
int rs_ip_parse(const char *s, size_t n, rs_ip_t *out);

/* Parse "ADDR" (a single address: /32 or /128) or "ADDR/BITS". Host bits
 * set past the prefix ("10.1.2.3/8") are refused, as a typo is likelier
 * than intent. Returns 0, or -EINVAL with *why set (a static string). */
int rs_cidr_parse(const char *s, size_t n, rs_cidr_t *out, const char **why);

/* Is ip inside c? (An IPv4 address never matches an IPv6 block, except
 * through the IPv4-mapped form that rs_ip_parse folds.) */
bool rs_cidr_match(const rs_cidr_t *c, const rs_ip_t *ip);

/* Is ip inside any of list[0..n)? */
bool rs_cidr_any(const rs_cidr_t *list, size_t n, const rs_ip_t *ip);

/* The text of ip into buf (at least 46 bytes). Returns buf. */
char *rs_ip_format(const rs_ip_t *ip, char *buf, size_t len);

#endif
