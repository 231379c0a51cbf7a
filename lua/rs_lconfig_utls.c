/* lua/rs_lconfig_utls.c — an upstream's servers ("host:port",
 * "http://host:port", "https://host[:port]", a host name resolved now as
 * nginx does) and its tls = { ca, verify, sni, cert, key } table
 * (rs_lconfig_int.h). A CA file or client certificate is loaded here once
 * (core/tls/rs_tls_client.h), so a bad one is FILE:LINE at load, never a
 * surprise at the first request. */
#include "rs_lconfig_int.h"

#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "rs_lconfig.h"
#include "rs_lstate.h"
#include "rs_lutil.h"
#include "rs_tls_client.h"

static const char *const rs__tls_keys[] = { "ca", "verify", "sni", "cert", "key", NULL };

/* host: a literal address, or a name resolved (the first address). */
static int rs__resolve_host(const char *host, int port, rs_addr_t *a, const char **why) {
  char buf[300];
  bool v6 = strchr(host, ':') != NULL;
  snprintf(buf, sizeof(buf), v6 ? "[%s]:%d" : "%s:%d", host, port);
  if (rs_addr_parse(buf, a, why) == 0) return 0;
  struct addrinfo hints, *res = NULL;
  memset(&hints, 0, sizeof(hints));
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  int rc = getaddrinfo(host, NULL, &hints, &res);
  if (rc != 0 || res == NULL) {
    *why = rc != 0 ? gai_strerror(rc) : "no address";
    return -1;
  }
  char ip[64];
  rc = getnameinfo(res->ai_addr, res->ai_addrlen, ip, sizeof(ip), NULL, 0, NI_NUMERICHOST);
  bool ip6 = res->ai_family == AF_INET6;
  freeaddrinfo(res);
  if (rc != 0) {
    *why = gai_strerror(rc);
    return -1;
  }
  snprintf(buf, sizeof(buf), ip6 ? "[%s]:%d" : "%s:%d", ip, port);
  return rs_addr_parse(buf, a, why);
}

void rs_lconfig__upstream_server(lua_State *L, int idx, const char *uname, size_t i, rs_addr_t *a, char *host,
                                 size_t hcap, int *tls) {
  char desc[64];
  if (lua_type(L, idx) != LUA_TSTRING)
    rs_lutil_error(L, "ssr.config: upstream '%s': servers[%zu] must be \"host:port\", got %s",
                   uname, i, rs_lutil_describe(L, idx, desc, sizeof(desc)));
  const char *given = lua_tostring(L, idx), *s = given;
  int port = 0;
  *tls = 0;
  if (strncmp(s, "https://", 8) == 0) {
    *tls = 1;
    port = 443;
    s += 8;
  } else if (strncmp(s, "http://", 7) == 0) {
    port = 80;
    s += 7;
  }
  size_t n = strlen(s);
  if (n > 0 && s[n - 1] == '/') n--;          /* "https://api:8443/" */
  const char *hend = s + n, *colon = NULL;
  if (*s == '[') {
    const char *rb = memchr(s, ']', n);
    if (rb == NULL)
      rs_lutil_error(L, "ssr.config: upstream '%s': server \"%.64s\": missing ']'", uname, given);
    if (rb + 1 < hend) colon = rb + 1;
    if (colon != NULL && *colon != ':')
      rs_lutil_error(L, "ssr.config: upstream '%s': server \"%.64s\": expected \"host:port\"", uname, given);
    if ((size_t)(rb - s - 1) >= hcap || rb == s + 1)
      rs_lutil_error(L, "ssr.config: upstream '%s': server \"%.64s\": bad host", uname, given);
    memcpy(host, s + 1, (size_t)(rb - s - 1));
    host[rb - s - 1] = '\0';
  } else {
    colon = memchr(s, ':', n);
    size_t hl = colon ? (size_t)(colon - s) : n;
    if (hl == 0 || hl >= hcap || memchr(s, '/', hl) != NULL || memchr(s, '@', hl) != NULL)
      rs_lutil_error(L, "ssr.config: upstream '%s': server \"%.64s\": expected \"host:port\"%s", uname, given,
                     port ? " (no path after the port)" : "");
    memcpy(host, s, hl);
    host[hl] = '\0';
  }
  if (colon != NULL) {
    long v = 0;
    const char *q = colon + 1;
    for (; q < hend && *q >= '0' && *q <= '9' && v <= 65535; q++) v = v * 10 + (*q - '0');
    if (q != hend || q == colon + 1 || v > 65535)
      rs_lutil_error(L, "ssr.config: upstream '%s': server \"%.64s\": bad port%s", uname, given,
                     memchr(colon, '/', (size_t)(hend - colon)) ? " (no path after the port)" : "");
    port = (int)v;
  } else if (port == 0) {
    rs_lutil_error(L, "ssr.config: upstream '%s': server \"%.64s\": expected \"host:port\"", uname, given);
  }
  if (port == 0) rs_lutil_error(L, "ssr.config: upstream '%s': server \"%.64s\": port 0", uname, given);
  bool name_ok = true;           /* a literal IPv6 or a DNS name */
  for (const char *q = host; *q && name_ok; q++)
    name_ok = (*q >= 'a' && *q <= 'z') || (*q >= 'A' && *q <= 'Z') || (*q >= '0' && *q <= '9') || *q == '-' ||
              *q == '.' || *q == ':';
  if (!name_ok) rs_lutil_error(L, "ssr.config: upstream '%s': server \"%.64s\": bad host name", uname, given);
  const char *why = "";
  if (rs__resolve_host(strcmp(host, "localhost") == 0 ? "127.0.0.1" : host, port, a, &why) != 0)
    rs_lutil_error(L, "ssr.config: upstream '%s': server \"%.64s\": cannot resolve %s: %s", uname, given, host,
                   why);
}

/* A file path of tls = {...} (checked), relative to the config file's
 * folder, into buf; NULL when not given. */
static const char *rs__tls_path(lua_State *L, int t, const char *uname, const char *key, char *buf, size_t cap) {
  if (!rs_lutil_field(L, t, key)) return NULL;
  char ctx[96];
  snprintf(ctx, sizeof(ctx), "upstream '%s': tls", uname);
  const char *s = rs_lutil_string(L, -1, ctx, key, "a file path", NULL);
  const char *dir = rs_lconfig_ctx(L)->config_dir;
  int n = s[0] != '/' && dir[0] != '\0' && strcmp(dir, ".") != 0 ? snprintf(buf, cap, "%s/%s", dir, s)
                                                                  : snprintf(buf, cap, "%s", s);
  if (n < 0 || (size_t)n >= cap) rs_lutil_error(L, "ssr.config: 'upstreams.%s.tls.%s': path too long", uname, key);
  lua_pop(L, 1);
  return buf;
}

/* Everything is checked before anything is allocated: a raise leaks nothing. */
void rs_lconfig__upstream_tls(lua_State *L, int v, const char *uname, rs_upstream_tls_t *out) {
  char desc[64], ctx[96];
  if (!rs_lutil_field(L, v, "tls")) return;
  int t = lua_gettop(L);
  if (!out->on)
    rs_lutil_error(L, "ssr.config: 'upstreams.%s.tls' needs https:// servers, as in servers = { "
                   "\"https://api.internal:8443\" }", uname);
  if (lua_type(L, t) != LUA_TTABLE)
    rs_lutil_error(L, "ssr.config: 'upstreams.%s.tls' must be a table, as in tls = { ca = \"ca.pem\" }, got %s",
                   uname, rs_lutil_describe(L, t, desc, sizeof(desc)));
  lua_pushfstring(L, "ssr.config.upstreams.%s.tls", uname);
  rs_lutil_check_keys(L, t, lua_tostring(L, -1), rs__tls_keys);
  lua_pop(L, 1);
  snprintf(ctx, sizeof(ctx), "upstream '%s': tls", uname);
  bool verify = true;
  if (rs_lutil_field(L, t, "verify")) {
    if (lua_type(L, -1) != LUA_TBOOLEAN)
      rs_lutil_error(L, "ssr.config: 'upstreams.%s.tls.verify' must be a boolean, got %s", uname,
                     rs_lutil_describe(L, -1, desc, sizeof(desc)));
    verify = lua_toboolean(L, -1);
    lua_pop(L, 1);
  }
  const char *sni = NULL;
  if (rs_lutil_field(L, t, "sni")) {
    size_t n;
    sni = rs_lutil_string(L, -1, ctx, "sni", "a host name", &n);
    bool ok = n > 0 && n <= 253;
    for (size_t i = 0; ok && i < n; i++)
      ok = (sni[i] >= 'a' && sni[i] <= 'z') || (sni[i] >= 'A' && sni[i] <= 'Z') || (sni[i] >= '0' && sni[i] <= '9') ||
           sni[i] == '-' || sni[i] == '.' || sni[i] == ':';
    if (!ok) rs_lutil_error(L, "ssr.config: 'upstreams.%s.tls.sni' must be a host name, got \"%.64s\"", uname, sni);
    lua_pop(L, 1);               /* the string stays in the table */
  }
  char cab[4096], certb[4096], keyb[4096];
  const char *ca = rs__tls_path(L, t, uname, "ca", cab, sizeof(cab));
  const char *cert = rs__tls_path(L, t, uname, "cert", certb, sizeof(certb));
  const char *key = rs__tls_path(L, t, uname, "key", keyb, sizeof(keyb));
  if ((cert != NULL) != (key != NULL))
    rs_lutil_error(L, "ssr.config: 'upstreams.%s.tls': a client certificate needs both cert and key (%s is "
                   "missing)", uname, cert ? "key" : "cert");
  char err[700];
  rs_tlsc_opts_t o = { .ca = ca, .cert = cert, .key = key, .no_verify = !verify };
  rs_tlsc_ctx_t *c = rs_tlsc_ctx_new(&o, err, sizeof(err));
  if (c == NULL) {
    const char *which = ca && strstr(err, ca) == err ? "ca" : key && strstr(err, key) == err ? "key"
                      : cert ? "cert" : "ca";
    rs_lutil_error(L, "ssr.config: 'upstreams.%s.tls.%s': %s", uname, which, err);
  }
  rs_tlsc_ctx_free(c);
  out->verify = verify;
  out->sni = sni ? rs_xstrdup(sni) : NULL;
  out->ca = ca ? rs_xstrdup(ca) : NULL;
  out->cert = cert ? rs_xstrdup(cert) : NULL;
  out->key = key ? rs_xstrdup(key) : NULL;
  lua_pop(L, 1);
}
