/* core/rs_config.c — see rs_config.h. The Lua side that fills the struct is
 * lua/rs_lconfig.c; this file holds the defaults and the parsers both the
 * loader and the CLI use. */
#include "rs_config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

void rs_config_init(rs_config_t *cfg) {
  memset(cfg, 0, sizeof(*cfg));
  strcpy(cfg->listen.host, "0.0.0.0");
  cfg->listen.port = 8080;
  strcpy(cfg->admin.host, "127.0.0.1");
  cfg->admin.port = 9901;
  cfg->admin_enabled = true;
  cfg->backlog = 511;              /* nginx's default, and Linux's somaxconn cap */

  cfg->workers = 0;
  cfg->pin = true;

  cfg->limits.url = 8192;
  cfg->limits.header_bytes = 32768;
  cfg->limits.headers = 100;
  cfg->limits.body = 1024 * 1024;
  cfg->limits.pipeline = 32;

  cfg->timeouts.header = 10000;
  cfg->timeouts.body = 30000;
  cfg->timeouts.keepalive = 75000;
  cfg->timeouts.write = 30000;
  cfg->timeouts.shutdown = 10000;

  cfg->log.error = rs_xstrdup("stderr");
  cfg->log.level = RS_LOG_INFO;
  cfg->log.access = NULL;

  cfg->render.bundle = NULL;
  cfg->render.fn = rs_xstrdup("render");
  cfg->render.threads = 0;
  cfg->render.queue = 512;
  cfg->render.timeout_ms = 2000;
  cfg->render.heap_mb = 128;
  cfg->render.debug = false;

  cfg->cache.enabled = true;
  cfg->cache.max_entries = 100000;
  cfg->cache.max_bytes = (size_t)512 << 20;
  cfg->cache.shards = 128;
  cfg->cache.ttl_ms = 60000;
  cfg->cache.grace_ms = 10000;
  cfg->cache.l1_hot = 8;
  cfg->cache.l1_entries = 128;
  cfg->cache.l1_bytes = (size_t)8 << 20;
  /* Variants are built on the render thread for every miss, so their cost
   * adds to the render's: on the demo page (15 KB, one core) gzip 6 took
   * ~92 us and br 5 ~130 us, against ~42 us for gzip 1 and ~105 us for br 4
   * (3.6 KB and 3.2 KB instead of 3.2 KB and 2.8 KB). End to end, every
   * request a miss (wrk -t2 -c100, unique URLs, 2 cores): 1592 req/s with
   * 6/5, 2522 req/s with 1/4, 3598 req/s with none. The cheap levels are
   * the default; raise them when pages are hit many times each. */
  cfg->cache.gzip_level = 1;
  cfg->cache.brotli_quality = 4;
  cfg->cache.min_compress = 1024;

  cfg->router = rs_router_create();
}

void rs_config_dispose(rs_config_t *cfg) {
  free(cfg->file);
  free(cfg->log.error);
  free(cfg->log.access);
  free(cfg->render.bundle);
  free(cfg->render.fn);
  rs_router_destroy(cfg->router);
  memset(cfg, 0, sizeof(*cfg));
}

/* Digits only, no sign, no spaces: "08080" is fine, "+80" and "80 " are not. */
static int rs__port_parse(const char *s, int *port, const char **why) {
  if (*s == '\0') { *why = "missing port"; return -EINVAL; }
  long v = 0;
  for (const char *p = s; *p; p++) {
    if (*p < '0' || *p > '9') { *why = "port is not a number"; return -EINVAL; }
    v = v * 10 + (*p - '0');
    if (v > 65535) { *why = "port out of range (0..65535)"; return -EINVAL; }
  }
  *port = (int)v;
  return 0;
}

int rs_addr_parse(const char *s, rs_addr_t *a, const char **why) {
  const char *dummy;
  if (why == NULL) why = &dummy;
  if (s == NULL || *s == '\0') { *why = "empty address"; return -EINVAL; }

  rs_addr_t out;
  memset(&out, 0, sizeof(out));
  const char *host, *port;
  size_t host_len;
  int family;

  if (s[0] == '[') {                         /* "[v6]:port" */
    const char *end = strchr(s, ']');
    if (end == NULL) { *why = "missing ']' after an IPv6 address"; return -EINVAL; }
    if (end[1] != ':') { *why = "missing port after ']'"; return -EINVAL; }
    host = s + 1;
    host_len = (size_t)(end - host);
    port = end + 2;
    family = AF_INET6;
  } else {
    const char *colon = strrchr(s, ':');
    if (colon == NULL) {                     /* "8080" */
      host = "0.0.0.0";
      host_len = 7;
      port = s;
    } else if (colon == s) {                 /* ":8080" */
      host = "0.0.0.0";
      host_len = 7;
      port = s + 1;
    } else {
      if (memchr(s, ':', (size_t)(colon - s)) != NULL) {
        *why = "an IPv6 address goes in brackets, as in [::1]:8080";
        return -EINVAL;
      }
      host = s;
      host_len = (size_t)(colon - s);
      port = colon + 1;
    }
    family = AF_INET;
  }

  if (host_len == 0 || host_len >= sizeof(out.host)) {
    *why = "host must be a numeric IPv4 or IPv6 address";
    return -EINVAL;
  }
  memcpy(out.host, host, host_len);
  out.host[host_len] = '\0';
  unsigned char buf[sizeof(struct in6_addr)];
  if (inet_pton(family, out.host, buf) != 1) {
    *why = family == AF_INET6 ? "not a numeric IPv6 address"
                              : "host must be a numeric IPv4 or IPv6 address";
    return -EINVAL;
  }
  if (rs__port_parse(port, &out.port, why) != 0) return -EINVAL;
  *a = out;
  return 0;
}

int rs_size_parse(const char *s, size_t *out) {
  if (s == NULL) return -EINVAL;
  const char *p = s;
  if (*p < '0' || *p > '9') return -EINVAL;
  size_t v = 0;
  for (; *p >= '0' && *p <= '9'; p++) {
    size_t d = (size_t)(*p - '0');
    if (v > (SIZE_MAX - d) / 10) return -EINVAL;
    v = v * 10 + d;
  }
  const char *q = p;                         /* "64 KB" reads well too, */
  while (*q == ' ') q++;                     /* but "64 " is a typo */
  if (*q != '\0') p = q;

  unsigned shift = 0;
  switch (*p) {
    case 'k': case 'K': shift = 10; p++; break;
    case 'm': case 'M': shift = 20; p++; break;
    case 'g': case 'G': shift = 30; p++; break;
    default: break;
  }
  if (*p == 'b' || *p == 'B') p++;           /* "64KB", "512B" */
  if (*p != '\0') return -EINVAL;
  if (shift && v > (SIZE_MAX >> shift)) return -EINVAL;
  *out = v << shift;
  return 0;
}
