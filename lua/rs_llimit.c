/* lua/rs_llimit.c — see rs_llimit.h. */
#include "rs_llimit.h"

#include <lauxlib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "rs_http.h"
#include "rs_lutil.h"

static const char *const rs__req_keys[] = { "rate", "burst", "nodelay", "key", "status", NULL };
static const char *const rs__conn_keys[] = { "max", "key", "status", NULL };

/* key = "$remote_addr" | "$binary_remote_addr" | "$host" | "$http_NAME" at idx. */
static void rs__key(lua_State *L, int idx, const char *fn, const char *what, int *kind, const char **hdr,
                    size_t *hlen) {
  size_t n;
  *hdr = NULL;
  *hlen = 0;
  if (lua_type(L, idx) == LUA_TFUNCTION) {   /* anchored by the loop states (lua/rs_lhooks.c) */
    *kind = RS_LIMIT_KEY_HOOK;
    return;
  }
  const char *s = rs_lutil_string(L, idx, fn, what,
                                  "\"$remote_addr\", \"$host\", \"$http_NAME\" or a function(req)", &n);
  if (strcmp(s, "$remote_addr") == 0 || strcmp(s, "$binary_remote_addr") == 0) {
    *kind = RS_LIMIT_KEY_ADDR;
  } else if (strcmp(s, "$host") == 0) {
    *kind = RS_LIMIT_KEY_HOST;
  } else if (n > 6 && strncmp(s, "$http_", 6) == 0 && n - 6 <= 64) {
    for (size_t i = 6; i < n; i++) {
      char c = s[i];
      if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-'))
        rs_lutil_error(L, "%s: '%s' = \"%s\": a header name has letters, digits, '_' or '-'", fn, what, s);
    }
    *kind = RS_LIMIT_KEY_HEADER;
    *hdr = s + 6;
    *hlen = n - 6;
  } else {
    rs_lutil_error(L, "%s: '%s' must be \"$remote_addr\" (the client, behind trusted proxies), \"$host\", "
                   "\"$http_NAME\" (a request header) or a function(req) returning the key, got \"%.64s\"",
                   fn, what, s);
  }
}

static int rs__status(lua_State *L, int idx, const char *fn, const char *what) {
  int st = (int)rs_lutil_int(L, idx, fn, what, 400, 599);
  if (strcmp(rs_http_reason(st), "Unknown") == 0)
    rs_lutil_error(L, "%s: '%s' %d is not a status rustyssr sends (429 or 503, as a rule)", fn, what, st);
  return st;
}

static void rs__check_req(lua_State *L, int t, const char *fn, rs_llimit_t *l) {
  char desc[64], ctx[64];
  snprintf(ctx, sizeof(ctx), "%s limit_req", fn);
  rs_lutil_check_keys(L, t, ctx, rs__req_keys);
  if (!rs_lutil_field(L, t, "rate"))
    rs_lutil_error(L, "%s: 'limit_req.rate' is required, as in limit_req = { rate = \"10r/s\" }", fn);
  const char *s = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : NULL;
  unsigned long n = 0;
  char unit = 0, end = 0;
  if (s == NULL || sscanf(s, "%lur/%c%c", &n, &unit, &end) != 2 || (unit != 's' && unit != 'm') || n < 1 ||
      n > 1000000 || s[0] < '0' || s[0] > '9')
    rs_lutil_error(L, "%s: 'limit_req.rate' must be requests a second or a minute, as in \"10r/s\" or "
                   "\"30r/m\" (1 to 1000000), got %s", fn, rs_lutil_describe(L, -1, desc, sizeof(desc)));
  l->rate = unit == 's' ? (uint64_t)n * 60000 : (uint64_t)n * 1000;
  snprintf(l->rate_text, sizeof(l->rate_text), "%lur/%c", n, unit);
  lua_pop(L, 1);
  if (rs_lutil_field(L, t, "burst")) {
    l->burst = (uint32_t)rs_lutil_int(L, -1, fn, "limit_req.burst", 0, 1000000);
    lua_pop(L, 1);
  }
  if (rs_lutil_field(L, t, "nodelay")) {
    if (lua_type(L, -1) != LUA_TBOOLEAN || !lua_toboolean(L, -1))
      rs_lutil_error(L, "%s: 'limit_req.nodelay' can only be true: the burst is always served at once "
                     "(nginx's nodelay), never queued", fn);
    lua_pop(L, 1);
  }
  if (rs_lutil_field(L, t, "key")) {
    rs__key(L, lua_gettop(L), fn, "limit_req.key", &l->req_kind, &l->req_header, &l->req_hlen);
    lua_pop(L, 1);             /* the string stays referenced by the table */
  }
  if (rs_lutil_field(L, t, "status")) {
    l->req_status = rs__status(L, -1, fn, "limit_req.status");
    lua_pop(L, 1);
  }
}

static void rs__check_conn(lua_State *L, int t, const char *fn, rs_llimit_t *l) {
  char ctx[64];
  snprintf(ctx, sizeof(ctx), "%s limit_conn", fn);
  rs_lutil_check_keys(L, t, ctx, rs__conn_keys);
  if (!rs_lutil_field(L, t, "max"))
    rs_lutil_error(L, "%s: 'limit_conn.max' is required, as in limit_conn = { max = 10 }", fn);
  l->conn_max = (uint32_t)rs_lutil_int(L, -1, fn, "limit_conn.max", 1, 1000000);
  lua_pop(L, 1);
  if (rs_lutil_field(L, t, "key")) {
    rs__key(L, lua_gettop(L), fn, "limit_conn.key", &l->conn_kind, &l->conn_header, &l->conn_hlen);
    lua_pop(L, 1);
  }
  if (rs_lutil_field(L, t, "status")) {
    l->conn_status = rs__status(L, -1, fn, "limit_conn.status");
    lua_pop(L, 1);
  }
}

void rs_llimit_check(lua_State *L, int opts, const char *fn, rs_llimit_t *l) {
  char desc[64];
  memset(l, 0, sizeof(*l));
  l->req_status = l->conn_status = 429;
  l->req_kind = l->conn_kind = RS_LIMIT_KEY_ADDR;
  if (opts <= 0) return;
  if (rs_lutil_field(L, opts, "limit_req")) {
    if (lua_type(L, -1) != LUA_TTABLE)
      rs_lutil_error(L, "%s: 'limit_req' must be a table, as in { rate = \"10r/s\", burst = 20 }, got %s", fn,
                     rs_lutil_describe(L, -1, desc, sizeof(desc)));
    rs__check_req(L, lua_gettop(L), fn, l);
    l->req = true;
    lua_pop(L, 1);
  }
  if (rs_lutil_field(L, opts, "limit_conn")) {
    if (lua_type(L, -1) != LUA_TTABLE)
      rs_lutil_error(L, "%s: 'limit_conn' must be a table, as in { max = 10 }, got %s", fn,
                     rs_lutil_describe(L, -1, desc, sizeof(desc)));
    rs__check_conn(L, lua_gettop(L), fn, l);
    l->conn = true;
    lua_pop(L, 1);
  }
}

static char *rs__lower(const char *s, size_t n) {
  char *p = rs_xstrndup(s, n);
  for (char *q = p; *q; q++) {
    if (*q >= 'A' && *q <= 'Z') *q = (char)(*q + 32);
    if (*q == '_') *q = '-';     /* nginx's $http_x_api_key is X-Api-Key */
  }
  return p;
}

void rs_llimit_build(const rs_llimit_t *l, rs_route_t *r) {
  if (!l->req && !l->conn) return;
  rs_buf_t id = { 0 };
  rs_buf_printf(&id, "%s\n%x\n%s\n%s", r->where, r->methods, r->host ? r->host : "", r->path);
  r->limit.zone = XXH3_64bits(id.p, id.len) & ~(uint64_t)1;   /* limit_conn's zone: | 1 */
  rs_buf_free(&id);
  if (l->req) {
    r->limit.rate = l->rate;
    r->limit.burst = l->burst;
    r->limit.req_status = l->req_status;
    memcpy(r->limit.rate_text, l->rate_text, sizeof(r->limit.rate_text));
    r->limit.req_key.kind = l->req_kind;
    r->limit.req_key.header = l->req_header ? rs__lower(l->req_header, l->req_hlen) : NULL;
    r->hooks.limit_req = l->req_kind == RS_LIMIT_KEY_HOOK;
  }
  if (l->conn) {
    r->limit.conn_max = l->conn_max;
    r->limit.conn_status = l->conn_status;
    r->limit.conn_key.kind = l->conn_kind;
    r->limit.conn_key.header = l->conn_header ? rs__lower(l->conn_header, l->conn_hlen) : NULL;
    r->hooks.limit_conn = l->conn_kind == RS_LIMIT_KEY_HOOK;
  }
}
