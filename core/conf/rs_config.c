/* core/conf/rs_config.c — see rs_config.h. The Lua side that fills the struct is
 * lua/rs_lconfig.c; this file holds the defaults and the parsers both the
 * loader and the CLI use. */
#include "rs_config.h"
#include "rs_shdict.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
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
  cfg->limits.http2_streams = 128;

  cfg->timeouts.header = 10000;
  cfg->timeouts.body = 30000;
  cfg->timeouts.keepalive = 75000;
  cfg->timeouts.write = 30000;
  cfg->timeouts.shutdown = 10000;

  cfg->log.error = rs_xstrdup("stderr");
  cfg->log.level = RS_LOG_INFO;
  cfg->log.access = NULL;
  cfg->log.access_format = rs_xstrdup("combined");

  cfg->render.bundle = NULL;
  cfg->render.fn = rs_xstrdup("render");
  cfg->render.threads = 0;
  cfg->render.queue = 512;
  cfg->render.timeout_ms = 2000;
  cfg->render.heap_mb = 128;
  cfg->render.semi_space_mb = 8;   /* bench/heap_sweep.sh */
  cfg->render.nice = -5;          /* bench/README.md, "Render priority" */
  cfg->render.v8_flags = NULL;
  cfg->render.env = NULL;
  cfg->render.nenv = 0;
  cfg->lua.hook_timeout_ms = 1000;
  cfg->lua.memory_mb = 256;
  cfg->lua.jit = false;
  cfg->render.debug = false;
  cfg->limit.keys = 100000;

  cfg->cache.enabled = true;
  cfg->cache.max_entries = 100000;
  cfg->cache.max_bytes = (size_t)512 << 20;
  cfg->cache.shards = 128;
  cfg->cache.ttl_ms = 60000;
  cfg->cache.grace_ms = 10000;
  cfg->cache.ttl_jitter = 0.1;
  cfg->cache.prefresh = 0.9;
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
  rs_compress_opts_default(&cfg->compress);
  cfg->cache.shared.timeout_ms = 5;
  cfg->cache.shared.write_timeout_ms = 50;
  cfg->cache.shared.connect_timeout_ms = 1000;
  cfg->cache.shared.lock_wait_ms = 300;
  cfg->cache.shared.max_bytes = (size_t)1 << 20;
  cfg->cache.shared.max_fails = 3;
  cfg->cache.shared.fail_timeout_ms = 1000;

  cfg->real_ip.header = rs_xstrdup("x-forwarded-for");
  cfg->real_ip.recursive = false;   /* nginx's real_ip_recursive off */

  cfg->router = rs_router_create();
}

void rs_upstream_conf_init(rs_upstream_conf_t *u) {
  memset(u, 0, sizeof(*u));
  u->keepalive = 32;
  u->connect_timeout_ms = 1000;
  u->send_timeout_ms = 10000;
  u->read_timeout_ms = 30000;
  u->idle_timeout_ms = 60000;
  u->retries = 1;
  u->max_fails = 1;                /* nginx's defaults: max_fails=1 fail_timeout=10s */
  u->fail_timeout_ms = 10000;
  u->tls.verify = true;
}

const rs_upstream_conf_t *rs_config_upstream(const rs_config_t *cfg, const char *name) {
  for (size_t i = 0; i < cfg->nupstreams; i++)
    if (strcmp(cfg->upstreams[i].name, name) == 0) return &cfg->upstreams[i];
  return NULL;
}

void rs_listener_conf_dispose(rs_listener_conf_t *lc) {
  rs_tls_conf_t *t = lc->tls;
  if (t != NULL) {
    for (size_t i = 0; i < t->ncerts; i++) {
      free(t->certs[i].cert);
      free(t->certs[i].key);
      free(t->certs[i].ocsp);
    }
    free(t->certs);
    free(t->ciphers);
    free(t);
  }
  memset(lc, 0, sizeof(*lc));
}

void rs_config_dispose(rs_config_t *cfg) {
  if (cfg->routers != NULL)      /* views first: they index router's routes */
    for (size_t i = 0; i <= cfg->nservers; i++) rs_router_destroy(cfg->routers[i]);
  free(cfg->routers);
  for (size_t i = 0; i < cfg->nservers; i++) {
    free(cfg->servers[i].name);
    free(cfg->servers[i].access);
    free(cfg->servers[i].access_format);
    rs_listener_conf_dispose(&cfg->servers[i].conf);
  }
  free(cfg->servers);
  rs_listener_conf_dispose(&cfg->listen_conf);
  for (size_t i = 0; i < cfg->nupstreams; i++) {
    free(cfg->upstreams[i].name);
    free(cfg->upstreams[i].servers);
    for (size_t k = 0; cfg->upstreams[i].hosts != NULL && k < cfg->upstreams[i].nservers; k++)
      free(cfg->upstreams[i].hosts[k]);
    free(cfg->upstreams[i].hosts);
    free(cfg->upstreams[i].tls.ca);
    free(cfg->upstreams[i].tls.sni);
    free(cfg->upstreams[i].tls.cert);
    free(cfg->upstreams[i].tls.key);
  }
  free(cfg->upstreams);
  for (size_t i = 0; i < cfg->nshared; i++) {
    free(cfg->shared[i].name);
    rs_shdict_release(cfg->shared[i].dict);
  }
  free(cfg->shared);
  free(cfg->file);
  free(cfg->pid);
  free(cfg->admin_auth.token);
  free(cfg->admin_auth.allow);
  free(cfg->warnings);
  free(cfg->log.error);
  free(cfg->log.access);
  free(cfg->log.access_format);
  free(cfg->render.bundle);
  free(cfg->cache.version);
  rs_errpages_free(cfg->errpages);
  free(cfg->render.fn);
  free(cfg->real_ip.from);
  free(cfg->real_ip.header);
  free(cfg->render.v8_flags);
  free(cfg->cache.shared.host);
  free(cfg->cache.shared.password);
  free(cfg->cache.shared.prefix);
  for (size_t i = 0; i < 2 * cfg->render.nenv; i++) free(cfg->render.env[i]);
  free(cfg->render.env);
  rs_router_destroy(cfg->router);
  memset(cfg, 0, sizeof(*cfg));
}

int rs_config_server_find(const rs_config_t *cfg, const char *name) {
  for (size_t i = 0; i < cfg->nservers; i++)
    if (strcmp(cfg->servers[i].name, name) == 0) return (int)i;
  return -1;
}

static int rs__server_cmp(const void *a, const void *b) {
  return strcmp(((const struct rs_server_conf_s *)a)->name, ((const struct rs_server_conf_s *)b)->name);
}

static bool rs__addr_eq(const rs_addr_t *a, const rs_addr_t *b) {
  if (a->port != b->port || a->port == 0) return false;  /* port 0: each its own */
  if (strcmp(a->host, b->host) == 0) return true;
  /* 0.0.0.0:p takes p on every IPv4 address */
  bool a6 = strchr(a->host, ':') != NULL, b6 = strchr(b->host, ':') != NULL;
  if (a6 != b6) return false;
  return strcmp(a->host, a6 ? "::" : "0.0.0.0") == 0 || strcmp(b->host, b6 ? "::" : "0.0.0.0") == 0;
}

int rs_config_finish(rs_config_t *cfg, const char *where, char *err, size_t errlen) {
  if (where == NULL || where[0] == '\0') where = cfg->file ? cfg->file : "?";
  if (cfg->nservers > 1) qsort(cfg->servers, cfg->nservers, sizeof(cfg->servers[0]), rs__server_cmp);
  for (size_t i = 0; i < cfg->nservers; i++) {
    const struct rs_server_conf_s *s = &cfg->servers[i];
    if (rs__addr_eq(&s->addr, &cfg->listen)) {
      snprintf(err, errlen, "%s: ssr.config: servers.%s = \"%s:%d\" is the address of 'listen'", where,
               s->name, s->addr.host, s->addr.port);
      return -1;
    }
    if (cfg->admin_enabled && rs__addr_eq(&s->addr, &cfg->admin)) {
      snprintf(err, errlen, "%s: ssr.config: servers.%s = \"%s:%d\" is the address of 'admin'", where,
               s->name, s->addr.host, s->addr.port);
      return -1;
    }
    for (size_t k = 0; k < i; k++) {
      if (rs__addr_eq(&s->addr, &cfg->servers[k].addr)) {
        snprintf(err, errlen, "%s: ssr.config: servers.%s and servers.%s have the same address %s:%d",
                 where, cfg->servers[k].name, s->name, s->addr.host, s->addr.port);
        return -1;
      }
    }
  }
  if (cfg->admin_enabled && rs__addr_eq(&cfg->listen, &cfg->admin)) {
    snprintf(err, errlen, "%s: ssr.config: 'listen' and 'admin' have the same address %s:%d", where,
             cfg->listen.host, cfg->listen.port);
    return -1;
  }
  for (size_t i = 0; i < rs_router_count(cfg->router); i++) {
    const rs_route_t *r = rs_router_get(cfg->router, i);
    if (r->server != NULL && rs_config_server_find(cfg, r->server) < 0) {
      rs_buf_t names = { 0 };
      for (size_t k = 0; k < cfg->nservers; k++)
        rs_buf_printf(&names, "%s%s", k ? ", " : "", cfg->servers[k].name);
      snprintf(err, errlen, "%s: unknown server '%s' (%s%s)", r->where, r->server,
               cfg->nservers ? "ssr.config servers: " : "ssr.config declares no servers",
               names.p ? names.p : "");
      rs_buf_free(&names);
      return -1;
    }
  }
  rs_buf_t warn = { 0 };
  if (rs_router_shadowed(cfg->router, &warn) > 0) {
    free(cfg->warnings);
    cfg->warnings = rs_xstrndup(warn.p, warn.len);
  }
  rs_buf_free(&warn);
  if (cfg->nservers == 0) return 0;
  cfg->routers = rs_xcalloc(cfg->nservers + 1, sizeof(*cfg->routers));
  for (size_t i = 0; i <= cfg->nservers; i++) cfg->routers[i] = rs_router_create_view();
  for (size_t i = 0; i < rs_router_count(cfg->router); i++) {
    rs_route_t *r = (rs_route_t *)rs_router_get(cfg->router, i);
    size_t k = r->server ? (size_t)rs_config_server_find(cfg, r->server) + 1 : 0;
    const char *why = "";
    if (rs_router_add(cfg->routers[k], r, &why) != 0) {  /* checked once already */
      snprintf(err, errlen, "%s: %s", r->where, why);
      return -1;
    }
  }
  return 0;
}

void rs_config_each_warning(const rs_config_t *cfg, void (*fn)(void *ud, const char *line), void *ud) {
  for (const char *p = cfg->warnings; p != NULL && *p;) {
    const char *nl = strchr(p, '\n');
    size_t n = nl ? (size_t)(nl - p) : strlen(p);
    char *line = rs_xstrndup(p, n);
    fn(ud, line);
    free(line);
    p += n + (nl != NULL);
  }
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
