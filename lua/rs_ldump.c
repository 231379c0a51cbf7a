/* lua/rs_ldump.c — see rs_ldump.h. */
#include "rs_ldump.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "rs_cidr.h"
#include "rs_lroute.h"
#include "rs_lutil.h"

typedef struct {
  FILE *out;
  const rs_config_t *cfg;
  rs_config_t def;               /* the defaults, to tell a set value */
  int depth;
} rs__dump_t;

/* A Lua string literal: printable ASCII as is, the rest escaped. */
static void rs__lua_str(FILE *out, const char *s, size_t n) {
  fputc('"', out);
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c == '"' || c == '\\') fprintf(out, "\\%c", c);
    else if (c == '\n') fputs("\\n", out);
    else if (c >= 0x20 && c < 0x7f) fputc(c, out);
    else fprintf(out, "\\%03u", c);  /* bytes, exactly as Lua reads them back */
  }
  fputc('"', out);
}

static void rs__str(FILE *out, const char *s) { rs__lua_str(out, s, strlen(s)); }

void rs_ldump_str(FILE *out, const char *s) { rs__str(out, s); }

/* A path as an absolute one when it exists: the dump may be read from
 * another folder, where a relative path would point elsewhere. */
static void rs__path(FILE *out, const char *p) {
  char *abs = p[0] != '/' ? realpath(p, NULL) : NULL;
  rs__str(out, abs ? abs : p);
  free(abs);
}

static void rs__addr(FILE *out, const rs_addr_t *a) {
  char buf[96];
  snprintf(buf, sizeof(buf), strchr(a->host, ':') ? "[%s]:%d" : "%s:%d", a->host, a->port);
  rs__str(out, buf);
}

/* "-- FILE:LINE" when the key path (a.b.c, up to 3) is found in the file
 * after the ssr.config call, "-- default" when the value is the default,
 * "-- FILE" (set, the line unknown) otherwise. */
static void rs__where(rs__dump_t *d, bool is_default, const char *path) {
  const char *comps[3];
  char buf[128];
  snprintf(buf, sizeof(buf), "%s", path);
  int n = 0;
  for (char *p = buf, *tok; n < 3 && (tok = strsep(&p, ".")) != NULL;) comps[n++] = tok;
  int line = d->cfg->file && d->cfg->config_line > 0
                 ? rs_lutil_key_line(d->cfg->file, d->cfg->config_line, comps, n) : 0;
  if (line > 0) fprintf(d->out, "  -- %s:%d\n", d->cfg->file, line);
  else if (is_default) fputs("  -- default\n", d->out);
  else fprintf(d->out, "  -- %s\n", d->cfg->file ? d->cfg->file : "?");
}

static void rs__indent(rs__dump_t *d) {
  for (int i = 0; i < d->depth; i++) fputs("  ", d->out);
}

/* name = <value printed by the caller after this>, then where. */
static void rs__key(rs__dump_t *d, const char *name) {
  rs__indent(d);
  fprintf(d->out, "%s = ", name);
}

static void rs__num(rs__dump_t *d, const char *name, const char *path, unsigned long long v,
                    unsigned long long def) {
  rs__key(d, name);
  fprintf(d->out, "%llu,", v);
  rs__where(d, v == def, path);
}

static void rs__bool(rs__dump_t *d, const char *name, const char *path, bool v, bool def) {
  rs__key(d, name);
  fprintf(d->out, "%s,", v ? "true" : "false");
  rs__where(d, v == def, path);
}

static void rs__string(rs__dump_t *d, const char *name, const char *path, const char *v, const char *def) {
  rs__key(d, name);
  rs__str(d->out, v);
  fputc(',', d->out);
  rs__where(d, def != NULL && strcmp(v, def) == 0, path);
}

static void rs__pathkey(rs__dump_t *d, const char *name, const char *path, const char *v, bool is_default) {
  rs__key(d, name);
  if (strcmp(v, "stderr") == 0 || strcmp(v, "stdout") == 0) rs__str(d->out, v);
  else rs__path(d->out, v);
  fputc(',', d->out);
  rs__where(d, is_default, path);
}

static void rs__open(rs__dump_t *d, const char *name) {
  rs__indent(d);
  fprintf(d->out, "%s = {\n", name);
  d->depth++;
}

static void rs__close(rs__dump_t *d) {
  d->depth--;
  rs__indent(d);
  fputs("},\n", d->out);
}

static const char *const rs__level_names[] = { "error", "warn", "info", "debug" };

static void rs__errpages(FILE *out, const rs_errpages_t *e);

/* A listener: its address, or the table form when it speaks TLS or HTTP/2
 * (lua/rs_lconfig_listen.c), on one line. */
static void rs__listener(FILE *out, const rs_addr_t *a, const rs_listener_conf_t *lc) {
  const rs_tls_conf_t *t = lc->tls;
  if (t == NULL && !lc->http2) {
    rs__addr(out, a);
    return;
  }
  fputs("{ ", out);
  rs__addr(out, a);
  if (lc->http2) fputs(", http2 = true", out);
  if (t != NULL) {
    fputs(", tls = { certs = { ", out);
    for (size_t i = 0; i < t->ncerts; i++) {
      fputs("{ cert = ", out);
      rs__path(out, t->certs[i].cert);
      fputs(", key = ", out);
      rs__path(out, t->certs[i].key);
      if (t->certs[i].ocsp != NULL) {
        fputs(", ocsp = ", out);
        rs__path(out, t->certs[i].ocsp);
      }
      fputs(" }, ", out);
    }
    fprintf(out, "}, protocols = { %s%s}, ", t->tls12 ? "\"TLSv1.2\", " : "", t->tls13 ? "\"TLSv1.3\", " : "");
    if (t->ciphers != NULL) {
      fputs("ciphers = ", out);
      rs__str(out, t->ciphers);
      fputs(", ", out);
    }
    fprintf(out, "session_timeout = %u, session_cache = %zu, session_tickets = %s, ticket_rotate = %u, "
            "handshake_timeout_ms = %llu }", t->session_timeout_s, t->session_cache, t->tickets ? "true" : "false",
            t->ticket_rotate_s, (unsigned long long)t->handshake_timeout_ms);
  }
  fputs(" }", out);
}

/* listen, admin, backlog, workers, pin, pid, limits, timeouts, log. */
static void rs__dump_front(rs__dump_t *d) {
  const rs_config_t *c = d->cfg, *def = &d->def;
  FILE *out = d->out;
  rs__key(d, "listen");
  rs__listener(out, &c->listen, &c->listen_conf);
  fputc(',', out);
  rs__where(d, memcmp(&c->listen, &def->listen, sizeof(c->listen)) == 0, "listen");
  const typeof(c->admin_auth) *aa = &c->admin_auth;
  if (c->admin_enabled && (aa->token || aa->nallow || aa->open_metrics || aa->open_health)) {
    rs__open(d, "admin");
    rs__key(d, "listen");
    rs__addr(out, &c->admin);
    fputc(',', out);
    rs__where(d, false, "admin.listen");
    /* The token is a secret: -T output ends up in tickets and logs. */
    fprintf(out, "    -- token: %s\n", aa->token ? "set (not printed)" : "none");
    rs__key(d, "allow");
    fputs("{ ", out);
    for (size_t i = 0; i < aa->nallow; i++) {
      char ip[64], buf[80];
      rs_ip_format(&aa->allow[i].net, ip, sizeof(ip));
      snprintf(buf, sizeof(buf), "%s/%u", ip, aa->allow[i].bits);
      rs__str(out, buf);
      fputs(", ", out);
    }
    fputs("},", out);
    rs__where(d, aa->nallow == 0, "admin.allow");
    rs__key(d, "open");
    fprintf(out, "{ %s%s},", aa->open_metrics ? "\"/metrics\", " : "", aa->open_health ? "\"/health\", " : "");
    rs__where(d, !aa->open_metrics && !aa->open_health, "admin.open");
    rs__close(d);
  } else {
    rs__key(d, "admin");
    if (c->admin_enabled) rs__addr(out, &c->admin);
    else fputs("false", out);
    fputc(',', out);
    rs__where(d, c->admin_enabled && memcmp(&c->admin, &def->admin, sizeof(c->admin)) == 0, "admin");
  }
  rs__num(d, "backlog", "backlog", (unsigned)c->backlog, (unsigned)def->backlog);
  rs__key(d, "workers");
  if (c->workers == 0) fputs("\"auto\",", out);
  else fprintf(out, "%d,", c->workers);
  rs__where(d, c->workers == def->workers, "workers");
  rs__bool(d, "pin", "pin", c->pin, def->pin);
  if (c->pid != NULL) rs__pathkey(d, "pid", "pid", c->pid, false);
  else fputs("  -- pid: none (default)\n", out);

  rs__open(d, "limits");
  rs__num(d, "url", "limits.url", c->limits.url, def->limits.url);
  rs__num(d, "header_bytes", "limits.header_bytes", c->limits.header_bytes, def->limits.header_bytes);
  rs__num(d, "headers", "limits.headers", c->limits.headers, def->limits.headers);
  rs__num(d, "body", "limits.body", c->limits.body, def->limits.body);
  rs__num(d, "pipeline", "limits.pipeline", c->limits.pipeline, def->limits.pipeline);
  rs__num(d, "http2_streams", "limits.http2_streams", c->limits.http2_streams, def->limits.http2_streams);
  rs__close(d);

  rs__open(d, "timeouts");
  rs__num(d, "header_ms", "timeouts.header_ms", c->timeouts.header, def->timeouts.header);
  rs__num(d, "body_ms", "timeouts.body_ms", c->timeouts.body, def->timeouts.body);
  rs__num(d, "keepalive_ms", "timeouts.keepalive_ms", c->timeouts.keepalive, def->timeouts.keepalive);
  rs__num(d, "write_ms", "timeouts.write_ms", c->timeouts.write, def->timeouts.write);
  rs__num(d, "shutdown_ms", "timeouts.shutdown_ms", c->timeouts.shutdown, def->timeouts.shutdown);
  rs__close(d);

  rs__open(d, "log");
  rs__pathkey(d, "error", "log.error", c->log.error, strcmp(c->log.error, def->log.error) == 0);
  rs__string(d, "level", "log.level", rs__level_names[c->log.level], rs__level_names[def->log.level]);
  rs__key(d, "access");
  if (c->log.access) rs__path(out, c->log.access);
  else fputs("false", out);
  fputc(',', out);
  rs__where(d, c->log.access == NULL, "log.access");
  rs__string(d, "access_format", "log.access_format", c->log.access_format, "combined");
  rs__string(d, "access_escape", "log.access_escape", c->log.access_json ? "json" : "default", "default");
  rs__bool(d, "access_admin", "log.access_admin", c->log.access_admin, def->log.access_admin);
  rs__close(d);
}

/* render, cache, lua. */
/* cache.shared = { ... } (core/fleet/rs_fleet.h); the password is never printed. */
static void rs__dump_shared(rs__dump_t *d, const rs_config_t *c, const rs_config_t *def) {
  FILE *out = d->out;
  const __typeof__(c->cache.shared) *sh = &c->cache.shared, *dsh = &def->cache.shared;
  char addr[300];
  snprintf(addr, sizeof(addr), strchr(sh->host, ':') ? "[%s]:%d" : "%s:%d", sh->host, sh->port);
  rs__open(d, "shared");
  rs__string(d, "redis", "cache.shared.redis", addr, NULL);
  rs__num(d, "db", "cache.shared.db", (unsigned)sh->db, (unsigned)dsh->db);
  /* The password is a secret, as admin.token. */
  rs__indent(d);
  fputs(sh->password ? "-- password: set (not printed)\n" : "-- password: none\n", out);
  rs__string(d, "prefix", "cache.shared.prefix", sh->prefix ? sh->prefix : "rs:", "rs:");
  rs__num(d, "timeout_ms", "cache.shared.timeout_ms", sh->timeout_ms, dsh->timeout_ms);
  rs__num(d, "write_timeout_ms", "cache.shared.write_timeout_ms", sh->write_timeout_ms, dsh->write_timeout_ms);
  rs__num(d, "connect_timeout_ms", "cache.shared.connect_timeout_ms", sh->connect_timeout_ms,
          dsh->connect_timeout_ms);
  /* Unset, it follows render.timeout_ms: print what it is. */
  uint64_t lock = sh->lock_ms ? sh->lock_ms : 2 * c->render.timeout_ms + 500;
  rs__num(d, "lock_ms", "cache.shared.lock_ms", lock, sh->lock_ms ? dsh->lock_ms : lock);
  rs__num(d, "lock_wait_ms", "cache.shared.lock_wait_ms", sh->lock_wait_ms, dsh->lock_wait_ms);
  rs__num(d, "max_bytes", "cache.shared.max_bytes", sh->max_bytes, dsh->max_bytes);
  rs__num(d, "max_fails", "cache.shared.max_fails", sh->max_fails, dsh->max_fails);
  rs__num(d, "fail_timeout_ms", "cache.shared.fail_timeout_ms", sh->fail_timeout_ms, dsh->fail_timeout_ms);
  rs__close(d);
}

static void rs__dump_back(rs__dump_t *d) {
  const rs_config_t *c = d->cfg, *def = &d->def;
  FILE *out = d->out;
  rs__open(d, "render");
  if (c->render.bundle != NULL) rs__pathkey(d, "bundle", "render.bundle", c->render.bundle, false);
  else fputs("    -- bundle: none (default): no render pool\n", out);
  rs__string(d, "fn", "render.fn", c->render.fn, def->render.fn);
  rs__key(d, "threads");
  if (c->render.threads == 0) fputs("\"auto\",", out);
  else fprintf(out, "%d,", c->render.threads);
  rs__where(d, c->render.threads == def->render.threads, "render.threads");
  rs__num(d, "queue", "render.queue", c->render.queue, def->render.queue);
  rs__num(d, "timeout_ms", "render.timeout_ms", c->render.timeout_ms, def->render.timeout_ms);
  rs__num(d, "heap_mb", "render.heap_mb", (unsigned)c->render.heap_mb, (unsigned)def->render.heap_mb);
  rs__num(d, "semi_space_mb", "render.semi_space_mb", (unsigned)c->render.semi_space_mb,
          (unsigned)def->render.semi_space_mb);
  rs__key(d, "nice");
  fprintf(out, "%d,", c->render.nice);
  rs__where(d, c->render.nice == def->render.nice, "render.nice");
  if (c->render.v8_flags != NULL) rs__string(d, "v8_flags", "render.v8_flags", c->render.v8_flags, NULL);
  else fputs("    -- v8_flags: none (default)\n", out);
  rs__key(d, "env");
  fputs("{ ", out);
  for (size_t i = 0; i < c->render.nenv; i++) {
    fputc('[', out);
    rs__str(out, c->render.env[2 * i]);
    fputs("] = ", out);
    rs__str(out, c->render.env[2 * i + 1]);
    fputs(", ", out);
  }
  fputs("},", out);
  rs__where(d, c->render.nenv == 0, "render.env");
  rs__bool(d, "debug", "render.debug", c->render.debug, def->render.debug);
  rs__close(d);

  if (!c->cache.enabled) {
    fputs("  cache = false,", out);
    rs__where(d, false, "cache");
  } else {
    rs__open(d, "cache");
    rs__num(d, "max_entries", "cache.max_entries", c->cache.max_entries, def->cache.max_entries);
    rs__num(d, "max_bytes", "cache.max_bytes", c->cache.max_bytes, def->cache.max_bytes);
    rs__num(d, "shards", "cache.shards", c->cache.shards, def->cache.shards);
    rs__num(d, "ttl", "cache.ttl", c->cache.ttl_ms / 1000, def->cache.ttl_ms / 1000);
    rs__num(d, "grace", "cache.grace", c->cache.grace_ms / 1000, def->cache.grace_ms / 1000);
    rs__key(d, "ttl_jitter");
    fprintf(out, "%g,", c->cache.ttl_jitter);
    rs__where(d, c->cache.ttl_jitter == def->cache.ttl_jitter, "cache.ttl_jitter");
    rs__key(d, "prefresh");
    if (c->cache.prefresh > 0) fprintf(out, "%g,", c->cache.prefresh);
    else fputs("false,", out);
    rs__where(d, c->cache.prefresh == def->cache.prefresh, "cache.prefresh");
    rs__open(d, "l1");
    rs__num(d, "hot", "cache.l1.hot", c->cache.l1_hot, def->cache.l1_hot);
    rs__num(d, "entries", "cache.l1.entries", c->cache.l1_entries, def->cache.l1_entries);
    rs__num(d, "bytes", "cache.l1.bytes", c->cache.l1_bytes, def->cache.l1_bytes);
    rs__close(d);
    rs__num(d, "gzip_level", "cache.gzip_level", (unsigned)c->cache.gzip_level, (unsigned)def->cache.gzip_level);
    rs__key(d, "brotli_quality");
    fprintf(out, "%d,", c->cache.brotli_quality);
    rs__where(d, c->cache.brotli_quality == def->cache.brotli_quality, "cache.brotli_quality");
    rs__num(d, "min_compress", "cache.min_compress", c->cache.min_compress, def->cache.min_compress);
    rs__bool(d, "clear_on_reload", "cache.clear_on_reload", c->cache.clear_on_reload, def->cache.clear_on_reload);
    static const char *const on_new[] = { "stale", "keep", "purge" };
    rs__string(d, "on_new_bundle", "cache.on_new_bundle", on_new[c->cache.on_new_bundle], "stale");
    if (c->cache.version != NULL) rs__string(d, "version", "cache.version", c->cache.version, NULL);
    else rs__indent(d), fputs("-- version: none (default)\n", out);
    if (c->cache.shared.host != NULL) rs__dump_shared(d, c, def);
    rs__close(d);
  }

  if (!c->compress.on) {
    fputs("  compress = false,", out);
    rs__where(d, false, "compress");
  } else {
    rs__open(d, "compress");
    rs__num(d, "gzip_level", "compress.gzip_level", (unsigned)c->compress.gzip_level,
            (unsigned)def->compress.gzip_level);
    rs__key(d, "brotli_quality");
    fprintf(out, "%d,", c->compress.brotli_quality);
    rs__where(d, c->compress.brotli_quality == def->compress.brotli_quality, "compress.brotli_quality");
    rs__num(d, "min_length", "compress.min_length", c->compress.min_length, def->compress.min_length);
    rs__key(d, "types");
    fputs("{ ", out);
    bool same = c->compress.ntypes == def->compress.ntypes;
    for (size_t i = 0; i < c->compress.ntypes; i++) {
      rs__str(out, c->compress.types[i]);
      fputs(", ", out);
      same = same && strcmp(c->compress.types[i], def->compress.types[i]) == 0;
    }
    fputs("},", out);
    rs__where(d, same, "compress.types");
    rs__close(d);
  }

  rs__open(d, "lua");
  rs__num(d, "hook_timeout_ms", "lua.hook_timeout_ms", c->lua.hook_timeout_ms, def->lua.hook_timeout_ms);
  rs__num(d, "memory_mb", "lua.memory_mb", c->lua.memory_mb, def->lua.memory_mb);
  rs__bool(d, "jit", "lua.jit", c->lua.jit, def->lua.jit);
  rs__close(d);

  rs__open(d, "shared");
  for (size_t i = 0; i < c->nshared; i++) {
    char path[96];
    rs__indent(d);
    fputc('[', out);
    rs__str(out, c->shared[i].name);
    fprintf(out, "] = %zu,", c->shared[i].bytes);
    snprintf(path, sizeof(path), "shared.%s", c->shared[i].name);
    rs__where(d, false, path);
  }
  rs__close(d);
  rs__num(d, "limit_keys", "limit_keys", c->limit.keys, def->limit.keys);
}

/* "https://host:port", the host as written (TLS checks that name). */
static void rs__https(FILE *out, const char *host, int port) {
  char buf[320];
  snprintf(buf, sizeof(buf), strchr(host, ':') ? "https://[%s]:%d" : "https://%s:%d", host, port);
  rs__str(out, buf);
}

/* An https:// upstream's tls = { ... }: every key, the unset ones as a
 * comment naming what applies. */
static void rs__dump_utls(rs__dump_t *d, const rs_upstream_conf_t *u) {
  char path[160];
  snprintf(path, sizeof(path), "upstreams.%s.tls", u->name);
  rs__open(d, "tls");
  const struct { const char *key, *v, *unset; } s[] = {
    { "ca", u->tls.ca, "the system store (ca-certificates)" },
    { "sni", u->tls.sni, "each server's host as written" },
    { "cert", u->tls.cert, "none (no client certificate)" },
    { "key", u->tls.key, "none" },
  };
  for (size_t i = 0; i < RS_ARRAY_SIZE(s); i++) {
    if (s[i].v == NULL) {
      rs__indent(d);
      fprintf(d->out, "-- %s: %s (default)\n", s[i].key, s[i].unset);
      continue;
    }
    rs__key(d, s[i].key);
    if (strcmp(s[i].key, "sni") == 0) rs__str(d->out, s[i].v);
    else rs__path(d->out, s[i].v);
    fputc(',', d->out);
    rs__where(d, false, path);
  }
  rs__bool(d, "verify", path, u->tls.verify, true);
  rs__close(d);
}

/* real_ip, upstreams, servers. */
static void rs__dump_net(rs__dump_t *d) {
  const rs_config_t *c = d->cfg, *def = &d->def;
  FILE *out = d->out;
  rs__open(d, "real_ip");
  rs__key(d, "from");
  fputs("{ ", out);
  for (size_t i = 0; i < c->real_ip.nfrom; i++) {
    char ip[64], buf[80];
    rs_ip_format(&c->real_ip.from[i].net, ip, sizeof(ip));
    snprintf(buf, sizeof(buf), "%s/%u", ip, c->real_ip.from[i].bits);
    rs__str(out, buf);
    fputs(", ", out);
  }
  fputs("},", out);
  rs__where(d, c->real_ip.nfrom == 0, "real_ip.from");
  rs__string(d, "header", "real_ip.header", c->real_ip.header, def->real_ip.header);
  rs__bool(d, "recursive", "real_ip.recursive", c->real_ip.recursive, def->real_ip.recursive);
  rs__close(d);

  if (c->nupstreams > 0) {
    rs__open(d, "upstreams");
    rs_upstream_conf_t ud;
    rs_upstream_conf_init(&ud);
    for (size_t i = 0; i < c->nupstreams; i++) {
      const rs_upstream_conf_t *u = &c->upstreams[i];
      char path[160];
      rs__indent(d);
      fprintf(out, "[");
      rs__str(out, u->name);
      fputs("] = {", out);
      snprintf(path, sizeof(path), "upstreams.%s", u->name);
      rs__where(d, false, path);
      d->depth++;
      rs__indent(d);
      fputs("servers = { ", out);
      for (size_t k = 0; k < u->nservers; k++) {
        if (u->tls.on) rs__https(out, u->hosts ? u->hosts[k] : u->servers[k].host, u->servers[k].port);
        else rs__addr(out, &u->servers[k]);
        fputs(k + 1 < u->nservers ? ", " : " ", out);
      }
      fputs("},\n", out);
      if (u->tls.on) rs__dump_utls(d, u);
#define RS__U(field, key)                                                          \
  snprintf(path, sizeof(path), "upstreams.%s." key, u->name);                      \
  rs__num(d, key, path, (unsigned long long)u->field, (unsigned long long)ud.field)
      RS__U(keepalive, "keepalive");
      RS__U(connect_timeout_ms, "connect_timeout_ms");
      RS__U(send_timeout_ms, "send_timeout_ms");
      RS__U(read_timeout_ms, "read_timeout_ms");
      RS__U(idle_timeout_ms, "idle_timeout_ms");
      RS__U(retries, "retries");
      RS__U(max_fails, "max_fails");
      RS__U(fail_timeout_ms, "fail_timeout_ms");
#undef RS__U
      rs__close(d);
    }
    rs__close(d);
  }
  if (c->nservers > 0) {
    rs__open(d, "servers");
    for (size_t i = 0; i < c->nservers; i++) {
      char path[160];
      rs__indent(d);
      fputc('[', out);
      rs__str(out, c->servers[i].name);
      fputs("] = ", out);
      const struct rs_server_conf_s *sv = &c->servers[i];
      if (sv->access_set || sv->access_format != NULL || sv->conf.tls != NULL || sv->conf.http2) {  /* the table form */
        fputs("{ listen = ", out);
        rs__listener(out, &sv->addr, &sv->conf);
        if (sv->access_set) {
          fputs(", access_log = ", out);
          if (sv->access == NULL) fputs("false", out);
          else if (strcmp(sv->access, "stderr") == 0 || strcmp(sv->access, "stdout") == 0) rs__str(out, sv->access);
          else rs__path(out, sv->access);
        }
        if (sv->access_format != NULL) {
          fputs(", access_format = ", out);
          rs__str(out, sv->access_format);
        }
        fputs(" }", out);
      } else {
        rs__addr(out, &sv->addr);
      }
      fputc(',', out);
      snprintf(path, sizeof(path), "servers.%s", c->servers[i].name);
      rs__where(d, false, path);
    }
    rs__close(d);
  }
  if (c->errpages != NULL) {
    rs__indent(d);
    rs__errpages(out, c->errpages);
    fputc(',', out);
    rs__where(d, false, "error_page");
  } else {
    fputs("  -- error_page: none (default)\n", out);
  }
}

static void rs__dump_settings(rs__dump_t *d) {
  fputs("ssr.config {\n", d->out);
  d->depth = 1;
  rs__dump_front(d);
  rs__dump_back(d);
  rs__dump_net(d);
  fputs("}\n", d->out);
}

static void rs__limit_key(FILE *out, const struct rs_route_limit_key_s *k) {
  if (k->kind == RS_LIMIT_KEY_HOST) {
    fputs("\"$host\"", out);
  } else if (k->kind == RS_LIMIT_KEY_HEADER) {
    fputs("\"$http_", out);
    for (const char *p = k->header; *p; p++) fputc(*p == '-' ? '_' : *p, out);
    fputc('"', out);
  } else {
    fputs("\"$remote_addr\"", out);
  }
}

/* ------------------------------------------------------------------ routes */

static void rs__methods(FILE *out, unsigned m) {
  static const char *const names[] = {
#define XX(name, bit) #name,
    RS_METHOD_MAP(XX)
#undef XX
  };
  fputs("{ ", out);
  for (unsigned i = 0; i < RS_ARRAY_SIZE(names); i++)
    if (m & (1u << i)) fprintf(out, "\"%s\", ", names[i]);
  fputc('}', out);
}

/* error_page = { [404] = "/404", ... } (no trailing separator). */
static void rs__errpages(FILE *out, const rs_errpages_t *e) {
  fputs("error_page = { ", out);
  for (size_t i = 0; i < e->n; i++) {
    fprintf(out, "[%d] = ", e->v[i].status);
    if (e->v[i].body != NULL) rs__path(out, e->v[i].target);
    else rs__str(out, e->v[i].target);
    fputs(i + 1 < e->n ? ", " : " ", out);
  }
  fputs("}", out);
}

static void rs__list(FILE *out, const char *name, const char *const *l) {
  fprintf(out, "%s = { ", name);
  for (; *l; l++) {
    rs__str(out, *l);
    fputs(", ", out);
  }
  fputs("}, ", out);
}

/* A Lua function stands for each hook: -T cannot print Lua code, so the
 * stand-in fails if it is ever called; the comment after the route names
 * the file and line of the real one. */
static void rs__hook(FILE *out, const char *name) {
  fprintf(out, "%s = function() error(\"the %s hook is not reproduced by rustyssr -T: see the route's "
               "file:line\") end, ", name, name);
}

static int rs__line_cmp(const void *a, const void *b) {
  const rs_str_t *x = a, *y = b;
  int c = memcmp(x->p, y->p, x->len < y->len ? x->len : y->len);
  return c ? c : (x->len > y->len) - (x->len < y->len);
}

/* The pre-rendered "Name: value\r\n" lines as a Lua table, sorted by name
 * (a Lua table has no order: sorted, the dump of a dump is the same). */
static void rs__respond_headers(FILE *out, const char *h, size_t n) {
  rs_str_t lines[64];
  size_t nl = 0;
  for (const char *end = h + n; h < end && nl < RS_ARRAY_SIZE(lines);) {
    const char *eol = memchr(h, '\r', (size_t)(end - h));
    if (eol == NULL) eol = end;
    lines[nl++] = (rs_str_t){ h, (size_t)(eol - h) };
    h = eol + 2;
  }
  qsort(lines, nl, sizeof(lines[0]), rs__line_cmp);
  fputs("headers = { ", out);
  for (size_t i = 0; i < nl; i++) {
    const char *l = lines[i].p, *eol = l + lines[i].len;
    const char *colon = memchr(l, ':', lines[i].len);
    if (colon == NULL) continue;
    const char *v = colon + 1;
    while (v < eol && *v == ' ') v++;
    fputc('[', out);
    rs__lua_str(out, l, (size_t)(colon - l));
    fputs("] = ", out);
    rs__lua_str(out, v, (size_t)(eol - v));
    fputs(", ", out);
  }
  fputs("}, ", out);
}

static void rs__dump_route(rs__dump_t *d, const rs_route_t *r) {
  FILE *out = d->out;
  fputs("ssr.route(", out);
  rs__methods(out, r->methods);
  fputs(", ", out);
  rs__str(out, r->path);
  fputs(", { ", out);
  if (r->host) {
    fputs("host = ", out);
    rs__str(out, r->host);
    fputs(", ", out);
  }
  fprintf(out, "priority = %d, ", r->priority);
  if (r->no_compress) fputs("compress = false, ", out);
  if (r->server) {
    fputs("server = ", out);
    rs__str(out, r->server);
    fputs(", ", out);
  }
  switch (r->action) {
    case RS_ACTION_RESPOND:
      if (r->hooks.handler) {
        rs__hook(out, "respond");
      } else {
        fprintf(out, "respond = { status = %d, ", r->respond.status);
        rs__respond_headers(out, r->respond.headers, r->respond.headers_len);
        fputs("body = ", out);
        rs__lua_str(out, r->respond.body, r->respond.body_len);
        fputs(" }, ", out);
      }
      break;
    case RS_ACTION_RENDER:
      fprintf(out, "render = { cache = %s }, ", r->render.cache ? "true" : "false");
      break;
    case RS_ACTION_STATIC:
      fputs("static = { root = ", out);
      rs__path(out, r->files.root);
      if (r->files.index) {
        fputs(", index = ", out);
        rs__str(out, r->files.index);
      }
      if (r->files.max_age >= 0) fprintf(out, ", max_age = %lld", (long long)r->files.max_age);
      fprintf(out, ", etag = %s, precompressed = %s }, ", r->files.etag ? "true" : "false",
              r->files.precompressed ? "true" : "false");
      break;
    case RS_ACTION_OTHER: {      /* an action with its own options prints them */
      const rs_laction_t *a = rs_lroute_action_of(r->handler);
      if (a != NULL && a->dump != NULL) a->dump(out, r->conf);
      break;
    }
    case RS_ACTION_PROXY:
      fputs("proxy = { upstream = ", out);
      rs__str(out, r->proxy.upstream);
      if (r->proxy.path) {
        fputs(", path = ", out);
        rs__str(out, r->proxy.path);
      }
      if (r->proxy.host_mode == RS_PROXY_HOST_UPSTREAM) fputs(", host = true", out);
      else if (r->proxy.host_mode == RS_PROXY_HOST_LITERAL) fputs(", host = ", out), rs__str(out, r->proxy.host);
      fputs(" }, ", out);
      break;
  }
  bool caches = r->action == RS_ACTION_RENDER || r->action == RS_ACTION_PROXY;
  if (caches && r->render.ttl_ms >= 0) fprintf(out, "ttl = %lld, ", (long long)(r->render.ttl_ms / 1000));
  if (caches && r->render.grace_ms >= 0) fprintf(out, "grace = %lld, ", (long long)(r->render.grace_ms / 1000));
  if (r->hooks.key) rs__hook(out, "key");
  if (r->hooks.props) rs__hook(out, "props");
  if (r->hooks.bypass) {
    rs__hook(out, "bypass");
  } else if (r->cache.bypass_cookie || r->cache.bypass_header || r->cache.bypass_query) {
    fputs("bypass = { ", out);
    if (r->cache.bypass_cookie) rs__list(out, "cookie", r->cache.bypass_cookie);
    if (r->cache.bypass_header) rs__list(out, "header", r->cache.bypass_header);
    if (r->cache.bypass_query) rs__list(out, "query", r->cache.bypass_query);
    fputs("}, ", out);
  }
  if (r->cache.ntags > 0) rs__list(out, "tags", r->cache.tags);
  if (r->cache.headers) rs__list(out, "headers", r->cache.headers);
  bool statuses = false;
  for (int i = 0; i < 10; i++) statuses |= r->cache.statuses[i] != 0;
  if (statuses) {
    fputs("cache_statuses = { ", out);
    for (int s = 0; s < 640; s++)
      if (r->cache.statuses[s / 64] & (1ull << (s % 64))) fprintf(out, "%d, ", s);
    fputs("}, ", out);
  }
  if (r->cache.cookies) rs__list(out, "cookies", r->cache.cookies);
  if (r->cache.cache_control) fputs("cache_control = ", out), rs__str(out, r->cache.cache_control), fputs(", ", out);
  if (r->errpages) rs__errpages(out, r->errpages), fputs(", ", out);
  if (r->cache.cookie) fputs("cache_cookie = true, ", out);
  if (r->cache.authorization) fputs("cache_authorization = true, ", out);
  if (r->limit.rate != 0) {
    fprintf(out, "limit_req = { rate = \"%s\", burst = %u, key = ", r->limit.rate_text, r->limit.burst);
    if (r->limit.req_key.kind == RS_LIMIT_KEY_HOOK) fputs("function() error(\"the limit_req key hook is not "
                                                         "reproduced by rustyssr -T: see the route's file:line\") end", out);
    else
    rs__limit_key(out, &r->limit.req_key);
    fprintf(out, ", status = %d }, ", r->limit.req_status);
  }
  if (r->limit.conn_max != 0) {
    fprintf(out, "limit_conn = { max = %u, key = ", r->limit.conn_max);
    if (r->limit.conn_key.kind == RS_LIMIT_KEY_HOOK) fputs("function() error(\"the limit_conn key hook is not "
                                                          "reproduced by rustyssr -T: see the route's file:line\") end", out);
    else
    rs__limit_key(out, &r->limit.conn_key);
    fprintf(out, ", status = %d }, ", r->limit.conn_status);
  }
  fprintf(out, "})  -- %s\n", r->where);
}

void rs_ldump_config(const rs_config_t *cfg, FILE *out) {
  rs__dump_t d = { .out = out, .cfg = cfg };
  rs_config_init(&d.def);
  fprintf(out, "-- rustyssr -T: the effective configuration of %s: every setting with its\n"
               "-- value and where it came from (the file's line, or the default), then every\n"
               "-- route in declaration order, with the file:line that declared it. Lua hooks\n"
               "-- are not reproduced: each stands in as a function that raises an error.\n",
          cfg->file ? cfg->file : "?");
  fputs("local ssr = require \"rustyssr\"\n\n", out);
  rs__dump_settings(&d);
  if (rs_router_count(cfg->router) > 0) fputs("\n", out);
  for (size_t i = 0; i < rs_router_count(cfg->router); i++) rs__dump_route(&d, rs_router_get(cfg->router, i));
  rs_config_dispose(&d.def);
}
