/* core/base/rs_cidr.c — see rs_cidr.h. */
#include "rs_cidr.h"

#include <arpa/inet.h>
#include <errno.h>
#include <string.h>

int rs_ip_parse(const char *s, size_t n, rs_ip_t *out) {
  char buf[64];
  if (n >= 2 && s[0] == '[' && s[n - 1] == ']') s++, n -= 2;
  if (n == 0 || n >= sizeof(buf)) return -EINVAL;
  memcpy(buf, s, n);
  buf[n] = '\0';
  memset(out, 0, sizeof(*out));
  if (memchr(buf, ':', n) == NULL) {
    if (inet_pton(AF_INET, buf, out->addr) != 1) return -EINVAL;
    out->family = 4;
    return 0;
  }
  if (memchr(buf, '%', n) != NULL || inet_pton(AF_INET6, buf, out->addr) != 1) return -EINVAL;
  out->family = 6;
  static const uint8_t mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
  if (memcmp(out->addr, mapped, 12) == 0) {   /* ::ffff:a.b.c.d is a.b.c.d */
    memmove(out->addr, out->addr + 12, 4);
    memset(out->addr + 4, 0, 12);
    out->family = 4;
  }
  return 0;
}

int rs_cidr_parse(const char *s, size_t n, rs_cidr_t *out, const char **why) {
  const char *slash = memchr(s, '/', n);
  size_t alen = slash ? (size_t)(slash - s) : n;
  memset(out, 0, sizeof(*out));
  if (rs_ip_parse(s, alen, &out->net) != 0) {
    *why = "not an IPv4 or IPv6 address";
    return -EINVAL;
  }
  /* "::ffff:10.0.0.0/104" is an IPv4 block written in IPv6 (rs_ip_parse
   * folds the address): its prefix counts the 96 bits of "::ffff:". */
  bool mapped = out->net.family == 4 && memchr(s, ':', alen) != NULL;
  unsigned max = out->net.family == 4 ? 32 : 128;
  unsigned bits = max;
  if (slash != NULL) {
    const char *b = slash + 1, *end = s + n;
    if (b == end || end - b > 3) {
      *why = "a prefix length must follow '/'";
      return -EINVAL;
    }
    bits = 0;
    for (; b < end; b++) {
      if (*b < '0' || *b > '9') {
        *why = "a prefix length must follow '/'";
        return -EINVAL;
      }
      bits = bits * 10 + (unsigned)(*b - '0');
    }
    if (mapped) {
      if (bits < 96 || bits > 128) {
        *why = "an IPv4-mapped prefix length is 96..128";
        return -EINVAL;
      }
      bits -= 96;
    }
    if (bits > max) {
      *why = out->net.family == 4 ? "an IPv4 prefix length is 0..32" : "an IPv6 prefix length is 0..128";
      return -EINVAL;
    }
  }
  out->bits = (uint8_t)bits;
  for (unsigned i = bits; i < max; i++) {
    if (out->net.addr[i / 8] & (0x80u >> (i % 8))) {
      *why = "host bits are set past the prefix length (e.g. 10.1.2.3/8: write 10.0.0.0/8)";
      return -EINVAL;
    }
  }
  return 0;
}

bool rs_cidr_match(const rs_cidr_t *c, const rs_ip_t *ip) {
  if (c->net.family != ip->family) return false;
  unsigned full = c->bits / 8, rest = c->bits % 8;
  if (memcmp(c->net.addr, ip->addr, full) != 0) return false;
  if (rest == 0) return true;
  uint8_t mask = (uint8_t)(0xffu << (8 - rest));
  return (c->net.addr[full] & mask) == (ip->addr[full] & mask);
}

bool rs_cidr_any(const rs_cidr_t *list, size_t n, const rs_ip_t *ip) {
  for (size_t i = 0; i < n; i++)
    if (rs_cidr_match(&list[i], ip)) return true;
  return false;
}

char *rs_ip_format(const rs_ip_t *ip, char *buf, size_t len) {
  if (inet_ntop(ip->family == 4 ? AF_INET : AF_INET6, ip->addr, buf, (socklen_t)len) == NULL && len) buf[0] = '\0';
  return buf;
}
