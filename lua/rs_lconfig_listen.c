/* lua/rs_lconfig_listen.c — a listener's address and what it speaks:
 *
 *   listen = "0.0.0.0:8080"                  (or a port number)
 *   listen = { "0.0.0.0:8443", http2 = true,
 *              tls = { cert = "site.pem", key = "site.key", ocsp = "site.ocsp.der",
 *                      -- or several, chosen by SNI (the first is the default):
 *                      -- certs = { { cert = ..., key = ..., ocsp = ... }, ... },
 *                      protocols = { "TLSv1.2", "TLSv1.3" }, ciphers = "...",
 *                      session_timeout = 3600, session_cache = 20480,
 *                      session_tickets = true, ticket_rotate = 3600,
 *                      handshake_timeout_ms = 10000 } }
 *
 * The same form for `listen` and for each servers.NAME.listen. Checked in
 * full at load (the files are read and the context made once, so a missing
 * file or a key that does not match its certificate is "FILE:LINE: reason"),
 * built at the commit (rs_lconfig_int.h). */
#include "rs_lconfig.h"
#include "rs_lconfig_int.h"

#include <errno.h>
#include <lauxlib.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "rs_lutil.h"
#include "rs_tls.h"

static const char *const rs__listen_keys[] = { "tls", "http2", NULL };
static const char *const rs__listen_tls_keys[] = { "cert", "key", "ocsp", "certs", "protocols", "ciphers",
                                            "session_timeout", "session_cache", "session_tickets", "ticket_rotate",
                                            "handshake_timeout_ms", NULL };
static const char *const rs__listen_cert_keys[] = { "cert", "key", "ocsp", NULL };

#define RS__MAX_CERTS 64

/* How strings are kept while parsing: checking, in Lua strings anchored in
 * the table at `anchor` (collected with it: a raise leaks nothing);
 * building, in malloc'd copies the config owns. */
typedef struct {
  lua_State *L;
  int anchor;                    /* 0 when building */
  const char *dir;               /* the config's folder, for relative paths ("" = cwd) */
} rs__keep_t;

static char *rs__keep(rs__keep_t *k, const char *s, size_t n) {
  if (k->anchor == 0) return rs_xstrndup(s, n);
  lua_pushlstring(k->L, s, n);
  char *r = (char *)lua_tostring(k->L, -1);
  luaL_ref(k->L, k->anchor);     /* pops it; the anchor keeps it alive */
  return r;
}

static void *rs__keep_array(rs__keep_t *k, size_t n, size_t size) {
  if (k->anchor == 0) return rs_xcalloc(n ? n : 1, size);
  void *p = lua_newuserdata(k->L, (n ? n : 1) * size);
  memset(p, 0, (n ? n : 1) * size);
  luaL_ref(k->L, k->anchor);
  return p;
}

/* A readable file for 'what' at the top of the stack: its path, relative
 * ones resolved against the config's folder (as error_page's). */
static char *rs__file(rs__keep_t *k, const char *what) {
  lua_State *L = k->L;
  size_t n;
  const char *s = rs_lutil_string(L, -1, "ssr.config", what, "a file path", &n);
  if (n == 0) rs_lutil_error(L, "ssr.config: '%s' must be a file path, got an empty string", what);
  bool rel = s[0] != '/' && k->dir[0] != '\0';
  lua_pushfstring(L, "%s%s%s", rel ? k->dir : "", rel ? "/" : "", s);
  const char *full = lua_tostring(L, -1);
  if (k->anchor != 0 && access(full, R_OK) != 0)
    rs_lutil_error(L, "ssr.config: '%s' %s: %s", what, full, strerror(errno));
  char *r = rs__keep(k, full, strlen(full));
  lua_pop(L, 1);
  return r;
}

/* { cert = ..., key = ..., ocsp = ... } at t into c; name is "listen.tls"
 * or "listen.tls.certs[2]". */
static void rs__cert(rs__keep_t *k, int t, const char *name, rs_tls_cert_file_t *c) {
  lua_State *L = k->L;
  char what[160];
  snprintf(what, sizeof(what), "%.100s.cert", name);
  if (!rs_lutil_field(L, t, "cert"))
    rs_lutil_error(L, "ssr.config: '%s' is required (a PEM file: the certificate, then its chain)", what);
  c->cert = rs__file(k, what);
  lua_pop(L, 1);
  snprintf(what, sizeof(what), "%.100s.key", name);
  if (!rs_lutil_field(L, t, "key"))
    rs_lutil_error(L, "ssr.config: '%s' is required (a PEM file: the private key)", what);
  c->key = rs__file(k, what);
  lua_pop(L, 1);
  if (rs_lutil_field(L, t, "ocsp")) {
    snprintf(what, sizeof(what), "%.100s.ocsp", name);
    c->ocsp = rs__file(k, what);
    lua_pop(L, 1);
  }
}

/* A boolean field key of the table at t into *out, when given; name is the
 * table's ("listen.tls"). */
static void rs__bool(lua_State *L, int t, const char *name, const char *key, bool *out) {
  if (!rs_lutil_field(L, t, key)) return;
  char desc[64];
  if (lua_type(L, -1) != LUA_TBOOLEAN)
    rs_lutil_error(L, "ssr.config: '%s.%s' must be a boolean, got %s", name, key,
                   rs_lutil_describe(L, -1, desc, sizeof(desc)));
  *out = lua_toboolean(L, -1);
  lua_pop(L, 1);
}

static void rs__protocols(lua_State *L, const char *name, rs_tls_conf_t *tc) {
  char desc[64];
  if (lua_type(L, -1) != LUA_TTABLE || lua_objlen(L, -1) == 0)
    rs_lutil_error(L, "ssr.config: '%s.protocols' must be a list of \"TLSv1.2\" and \"TLSv1.3\", got %s", name,
                   rs_lutil_describe(L, -1, desc, sizeof(desc)));
  tc->tls12 = tc->tls13 = false;
  for (size_t i = 1; i <= lua_objlen(L, -1); i++) {
    lua_rawgeti(L, -1, (int)i);
    const char *p = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : "";
    if (strcmp(p, "TLSv1.2") == 0) tc->tls12 = true;
    else if (strcmp(p, "TLSv1.3") == 0) tc->tls13 = true;
    else
      rs_lutil_error(L, "ssr.config: '%s.protocols' entry %zu must be \"TLSv1.2\" or \"TLSv1.3\" (older ones are "
                     "refused), got %s", name, i, rs_lutil_describe(L, -1, desc, sizeof(desc)));
    lua_pop(L, 1);
  }
}

/* tls = { ... } at t. */
static void rs__tls(rs__keep_t *k, int t, const char *name, rs_tls_conf_t *tc) {
  lua_State *L = k->L;
  char desc[64], what[160];
  snprintf(what, sizeof(what), "ssr.config %.100s", name);
  rs_lutil_check_keys(L, t, what, rs__listen_tls_keys);
  tc->tls12 = tc->tls13 = true;
  tc->session_timeout_s = 3600;
  tc->session_cache = 20480;
  tc->ticket_rotate_s = 3600;
  tc->tickets = true;
  tc->handshake_timeout_ms = 10000;
  if (rs_lutil_field(L, t, "certs")) {
    if (lua_type(L, -1) != LUA_TTABLE || lua_objlen(L, -1) == 0)
      rs_lutil_error(L, "ssr.config: '%s.certs' must be a list of { cert = ..., key = ... }, got %s", name,
                     rs_lutil_describe(L, -1, desc, sizeof(desc)));
    if (lua_objlen(L, -1) > RS__MAX_CERTS) rs_lutil_error(L, "ssr.config: '%s.certs': at most %d", name, RS__MAX_CERTS);
    int ct = lua_gettop(L);
    for (const char *const *p = rs__listen_cert_keys; *p; p++)
      if (rs_lutil_field(L, t, *p))
        rs_lutil_error(L, "ssr.config: '%s': give cert/key/ocsp or certs, not both", name);
    tc->ncerts = lua_objlen(L, ct);
    tc->certs = rs__keep_array(k, tc->ncerts, sizeof(*tc->certs));
    for (size_t i = 1; i <= tc->ncerts; i++) {
      char sub[160];
      snprintf(sub, sizeof(sub), "%.100s.certs[%zu]", name, i);
      lua_rawgeti(L, ct, (int)i);
      if (lua_type(L, -1) != LUA_TTABLE)
        rs_lutil_error(L, "ssr.config: '%s' must be { cert = ..., key = ... }, got %s", sub,
                       rs_lutil_describe(L, -1, desc, sizeof(desc)));
      snprintf(what, sizeof(what), "ssr.config %.130s", sub);
      rs_lutil_check_keys(L, lua_gettop(L), what, rs__listen_cert_keys);
      rs__cert(k, lua_gettop(L), sub, &tc->certs[i - 1]);
      lua_pop(L, 1);
    }
    lua_pop(L, 1);
  } else {
    tc->ncerts = 1;
    tc->certs = rs__keep_array(k, 1, sizeof(*tc->certs));
    rs__cert(k, t, name, &tc->certs[0]);
  }
  if (rs_lutil_field(L, t, "protocols")) {
    rs__protocols(L, name, tc);
    lua_pop(L, 1);
  }
  if (rs_lutil_field(L, t, "ciphers")) {
    size_t n;
    snprintf(what, sizeof(what), "%.100s.ciphers", name);
    const char *s = rs_lutil_string(L, -1, "ssr.config", what, "an OpenSSL cipher list", &n);
    if (n == 0) rs_lutil_error(L, "ssr.config: '%s' must be an OpenSSL cipher list, got an empty string", what);
    tc->ciphers = rs__keep(k, s, n);
    lua_pop(L, 1);
  }
  if (rs_lutil_field(L, t, "session_timeout")) {
    snprintf(what, sizeof(what), "%.100s.session_timeout", name);
    tc->session_timeout_s = (uint32_t)rs_lutil_int(L, -1, "ssr.config", what, 1, 7 * 86400);
    lua_pop(L, 1);
  }
  if (rs_lutil_field(L, t, "session_cache")) {
    snprintf(what, sizeof(what), "%.100s.session_cache", name);
    if (lua_type(L, -1) == LUA_TBOOLEAN && !lua_toboolean(L, -1)) tc->session_cache = 0;
    else tc->session_cache = (size_t)rs_lutil_int(L, -1, "ssr.config", what, 0, 100000000);
    lua_pop(L, 1);
  }
  rs__bool(L, t, name, "session_tickets", &tc->tickets);
  if (rs_lutil_field(L, t, "ticket_rotate")) {
    snprintf(what, sizeof(what), "%.100s.ticket_rotate", name);
    tc->ticket_rotate_s = (uint32_t)rs_lutil_int(L, -1, "ssr.config", what, 1, 7 * 86400);
    lua_pop(L, 1);
  }
  if (rs_lutil_field(L, t, "handshake_timeout_ms")) {
    snprintf(what, sizeof(what), "%.100s.handshake_timeout_ms", name);
    tc->handshake_timeout_ms = (uint64_t)rs_lutil_int(L, -1, "ssr.config", what, 1, 600000);
    lua_pop(L, 1);
  }
}

rs_tls_ctx_t *rs_lconfig_tls_ctx(const rs_tls_conf_t *tc, bool http2, char *err, size_t errlen) {
  static const char *const alpn_h2[] = { "h2", "http/1.1" }, *const alpn_h1[] = { "http/1.1" };
  rs_tls_cert_conf_t certs[RS__MAX_CERTS];
  size_t n = RS_MIN(tc->ncerts, (size_t)RS__MAX_CERTS);
  for (size_t i = 0; i < n; i++)
    certs[i] = (rs_tls_cert_conf_t){ tc->certs[i].cert, tc->certs[i].key, tc->certs[i].ocsp };
  rs_tls_opts_t o = {
    .certs = certs, .ncerts = n,
    .alpn = http2 ? alpn_h2 : alpn_h1, .nalpn = http2 ? 2 : 1,
    .ciphers = tc->ciphers,
    .tls13_only = !tc->tls12, .tls12_only = !tc->tls13,
    .session_timeout_s = tc->session_timeout_s,
    .session_cache = tc->session_cache == 0 ? 1 : tc->session_cache,   /* rs_tls.h: 1 = off */
    .no_tickets = !tc->tickets,
  };
  return rs_tls_ctx_new(&o, err, errlen);
}

/* The table form at t. */
static void rs__listener_table(rs__keep_t *k, int t, const char *name, const char *default_host, rs_addr_t *a,
                               rs_listener_conf_t *lc) {
  lua_State *L = k->L;
  char desc[64], what[160];
  /* Its keys but [1], the address. */
  lua_newtable(L);
  int copy = lua_gettop(L);
  lua_pushnil(L);
  while (lua_next(L, t) != 0) {
    if (lua_type(L, -2) == LUA_TNUMBER && lua_tonumber(L, -2) == 1) {
      lua_pop(L, 1);
      continue;
    }
    lua_pushvalue(L, -2);
    lua_insert(L, -2);
    lua_rawset(L, copy);
  }
  snprintf(what, sizeof(what), "ssr.config %.100s", name);
  rs_lutil_check_keys(L, copy, what, rs__listen_keys);
  lua_pop(L, 1);
  lua_rawgeti(L, t, 1);
  if (lua_isnil(L, -1))
    rs_lutil_error(L, "ssr.config: '%s' table needs its address first, as in { \"0.0.0.0:8443\", tls = { ... } }",
                   name);
  rs_lconfig__addr(L, lua_gettop(L), name, default_host, a);
  lua_pop(L, 1);
  rs__bool(L, t, name, "http2", &lc->http2);
  if (rs_lutil_field(L, t, "tls")) {
    snprintf(what, sizeof(what), "%.100s.tls", name);
    if (lua_type(L, -1) != LUA_TTABLE)
      rs_lutil_error(L, "ssr.config: '%s' must be a table, as in tls = { cert = \"site.pem\", key = \"site.key\" }, "
                     "got %s", what, rs_lutil_describe(L, -1, desc, sizeof(desc)));
    lc->tls = k->anchor ? rs__keep_array(k, 1, sizeof(*lc->tls)) : rs_xcalloc(1, sizeof(*lc->tls));
    rs__tls(k, lua_gettop(L), what, lc->tls);
    lua_pop(L, 1);
  }
}

void rs_lconfig__listener(lua_State *L, int idx, const char *name, const char *default_host, const char *dir,
                          rs_addr_t *a, rs_listener_conf_t *lc) {
  idx = idx < 0 ? lua_gettop(L) + idx + 1 : idx;
  rs_addr_t addr;
  if (lua_type(L, idx) != LUA_TTABLE) {
    rs_lconfig__addr(L, idx, name, default_host, a ? a : &addr);
    return;
  }
  rs__keep_t k = { L, 0, dir ? dir : "" };
  if (lc != NULL) {              /* building: checked before, nothing raises */
    rs__listener_table(&k, idx, name, default_host, a ? a : &addr, lc);
    return;
  }
  rs_listener_conf_t check;
  memset(&check, 0, sizeof(check));
  lua_newtable(L);
  k.anchor = lua_gettop(L);
  rs__listener_table(&k, idx, name, default_host, a ? a : &addr, &check);
  if (check.tls != NULL) {       /* read the files and make the context once */
    char err[512];
    rs_tls_ctx_t *ctx = rs_lconfig_tls_ctx(check.tls, check.http2, err, sizeof(err));
    if (ctx == NULL) rs_lutil_error(L, "ssr.config: '%s.tls': %s", name, err);
    rs_tls_ctx_free(ctx);
  }
  lua_pop(L, 1);                 /* the anchor: its strings go with it */
}
