/* lua/rs_lconfig_int.h — private to the files of ssr.config (rs_lconfig*.c):
 * the parsers of its sections, as HAProxy splits its frontend and backend
 * keywords.
 *
 *   rs_lconfig.c          the module, ssr.config itself (check, then commit),
 *                         the state, running a file, loading a config
 *   rs_lconfig_front.c    how clients are served: addresses, servers, limits,
 *                         timeouts, log, admin, real_ip
 *   rs_lconfig_back.c     what answers them: render (v8_flags, env), lua,
 *                         cache, upstreams
 *
 * Each parser checks the table at stack index t and raises
 * "FILE:LINE: ssr.config: ..." (rs_lutil_error) on a wrong key, type or
 * value; values are written into the copy c that ssr.config commits only
 * when every section passed. Strings are borrowed from the table (still on
 * the caller's stack) and copied at the commit. */
#ifndef RS_LCONFIG_INT_H
#define RS_LCONFIG_INT_H

#include <lua.h>

#include "rs_cidr.h"
#include "rs_config.h"

#define RS_LCONFIG__DAY_MS 86400000LL    /* a longer timeout is a unit mistake */
#define RS_LCONFIG__MAX_SERVERS 16
#define RS_LCONFIG__MAX_REAL_IP_FROM 256
#define RS_LCONFIG__MAX_ADMIN_ALLOW 64
#define RS_LCONFIG__ADMIN_TOKEN_MAX 256

/* ------------------------------------------------------------------ rs_lconfig_front.c */

/* An address: "host:port" as rs_addr_parse reads it, or a port number on
 * default_host. */
void rs_lconfig__addr(lua_State *L, int idx, const char *name, const char *default_host, rs_addr_t *a);

/* A listener (lua/rs_lconfig_listen.c): the address at idx ("host:port", a
 * port, or { "host:port", tls = {...}, http2 = true }) into *a. With lc ==
 * NULL checks all of it (the TLS files are read and a context made once)
 * and raises "ssr.config: 'name...': reason"; with lc, builds what it
 * speaks into lc (owned; checked before: nothing raises). Relative paths
 * are read from dir ("" or NULL: the working directory). */
void rs_lconfig__listener(lua_State *L, int idx, const char *name, const char *default_host, const char *dir,
                          rs_addr_t *a, rs_listener_conf_t *lc);

/* limits = { url = 8192, header_bytes = "32KB", headers = 100, body = "1MB",
 * pipeline = 32 } */
void rs_lconfig__limits(lua_State *L, int t, rs_config_t *c);

/* timeouts = { header_ms = 10000, ..., shutdown_ms = 10000 } */
void rs_lconfig__timeouts(lua_State *L, int t, rs_config_t *c);

/* log = { error = "stderr", level = "info", access = false, access_format,
 * access_escape, access_admin }: *error, *access and *format borrowed
 * (*access_set when given; *format NULL when not). The format is compiled
 * once to check it (core/http/rs_logfmt.h). */
void rs_lconfig__log(lua_State *L, int t, rs_config_t *c, const char **error, const char **access,
                     bool *access_set, const char **format);

/* servers = { backend = "127.0.0.1:9000", ... } or { backend = { listen =
 * ..., access_log = ..., access_format = ... } }: named listeners beyond
 * listen. Strings are borrowed from the table (slot t) until the commit. */
typedef struct {
  const char *name;
  rs_addr_t addr;
  bool access_set;               /* access_log given (access NULL: false, off) */
  const char *access, *access_format;
} rs_lconfig_server_t;
size_t rs_lconfig__servers(lua_State *L, int t, rs_lconfig_server_t *out, const char *dir);

/* What admin = { ... } holds beside the address, checked before the commit. */
typedef struct {
  bool set;
  char token[RS_LCONFIG__ADMIN_TOKEN_MAX + 1];
  rs_cidr_t allow[RS_LCONFIG__MAX_ADMIN_ALLOW];
  size_t nallow;
  bool open_metrics, open_health;
} rs_lconfig_admin_t;

/* admin = { listen = "127.0.0.1:9901", token = "..." | token_file = "...",
 * allow = { "10.0.0.0/8" }, open = { "/metrics", "/health" } } at t; a
 * relative token_file is read from dir (NULL: the working directory). */
void rs_lconfig__admin(lua_State *L, int t, rs_config_t *c, rs_lconfig_admin_t *a, const char *dir);

/* real_ip = { from = { "10.0.0.0/8", "::1" }, header = "X-Forwarded-For",
 * recursive = true } at t: checked into from[] (at most
 * RS_LCONFIG__MAX_REAL_IP_FROM), *nfrom, header (borrowed) and
 * c->real_ip.recursive. */
void rs_lconfig__real_ip(lua_State *L, int t, rs_config_t *c, rs_cidr_t *from, size_t *nfrom,
                         const char **header);

/* ------------------------------------------------------------------ rs_lconfig_back.c */

/* render = { bundle = ..., fn = ..., threads = "auto", ... } at t: *bundle
 * and *fn borrowed; v8_flags applied to V8 (before it starts) and env
 * checked, both copied by rs_lconfig__render_commit. */
void rs_lconfig__render(lua_State *L, int t, rs_config_t *c, const char **bundle, const char **fn);

/* At the commit, with the checked render table at t: copy v8_flags and env
 * into c, freeing old's (the config c replaces). Raises nothing. */
void rs_lconfig__render_commit(lua_State *L, int t, rs_config_t *c, rs_config_t *old);

/* lua = { hook_timeout_ms = 1000, memory_mb = 256, jit = false } */
void rs_lconfig__lua(lua_State *L, int t, rs_config_t *c);

/* cache = false, or cache = { max_entries = ..., l1 = { ... }, ... } */
void rs_lconfig__cache(lua_State *L, int t, rs_config_t *c);

/* upstreams = { api = { servers = { "127.0.0.1:9000" }, keepalive = 32, ... } }.
 * With out == NULL only checks (and raises); with out, fills out[] (the
 * table was checked: nothing raises). Returns the count. */
size_t rs_lconfig__upstreams(lua_State *L, int t, rs_upstream_conf_t *out);

/* ------------------------------------------------------------------ rs_lconfig_utls.c */

/* servers[i] of upstream uname at idx: "host:port", "http://host:port" or
 * "https://host[:port]" (443); a host name is resolved now (the first
 * address; "localhost" is 127.0.0.1). Fills *a, host (as written, for TLS)
 * and *tls (1 for https://). */
void rs_lconfig__upstream_server(lua_State *L, int idx, const char *uname, size_t i, rs_addr_t *a, char *host,
                                 size_t hcap, int *tls);

/* The upstream table at v: its tls = { ca, verify, sni, cert, key } into
 * out (out->on set from the servers first); the files are loaded once to
 * check them. Raises before it allocates anything. */
void rs_lconfig__upstream_tls(lua_State *L, int v, const char *uname, rs_upstream_tls_t *out);

#endif
