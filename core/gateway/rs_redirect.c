/* core/gateway/rs_redirect.c — the `redirect` action, in one file: its
 * options, its -T line and its answer (core/gateway/rs_action.h; README
 * "Source layout": adding an action).
 *
 *   ssr.route("GET", "/old", { redirect = "/new" })
 *   ssr.route("GET", "/old", { redirect = { to = "/new", status = 308, keep_query = true } })
 *
 * The answer: Location: to[?query] and a tiny HTML body, as nginx's
 * return 301. */
#include "rs_action.h"

#include <lauxlib.h>
#include <stdlib.h>
#include <string.h>

#include "rs_ldump.h"
#include "rs_lutil.h"

typedef struct {
  char *to;                      /* the target */
  int status;                    /* 301, 302, 303, 307 or 308 */
  bool keep_query;               /* append the request's ?query */
} rs__redirect_t;

static const char *const rs__keys[] = { "to", "status", "keep_query", NULL };

/* redirect = "/new" or { to, status, keep_query } at idx; raises, allocates
 * nothing. Lua stack unchanged. */
static void rs__check(lua_State *L, int idx, const char *fn) {
  char desc[64];
  int top = lua_gettop(L);
  const char *to;
  if (lua_type(L, idx) == LUA_TTABLE) {
    rs_lutil_check_keys(L, idx, "ssr.route redirect", rs__keys);
    if (!rs_lutil_field(L, idx, "to"))
      rs_lutil_error(L, "ssr.route: 'redirect.to' is required, as in redirect = { to = \"/new\" }");
    to = rs_lutil_string(L, -1, fn, "redirect.to", "a URL or path", NULL);
    if (rs_lutil_field(L, idx, "status")) {
      int status = (int)rs_lutil_int(L, -1, fn, "redirect.status", 301, 308);
      if (status > 303 && status < 307)
        rs_lutil_error(L, "ssr.route: 'redirect.status' must be 301, 302, 303, 307 or 308, got %d", status);
    }
    if (rs_lutil_field(L, idx, "keep_query") && lua_type(L, -1) != LUA_TBOOLEAN)
      rs_lutil_error(L, "ssr.route: 'redirect.keep_query' must be a boolean, got %s",
                     rs_lutil_describe(L, -1, desc, sizeof(desc)));
  } else {
    to = rs_lutil_string(L, idx, fn, "redirect", "a URL or path, or a table", NULL);
  }
  if (to[0] == '\0' || strpbrk(to, "\r\n") != NULL)
    rs_lutil_error(L, "ssr.route: 'redirect' target must be a non-empty URL without CR or LF");
  lua_settop(L, top);
}

/* The config from the value at idx, checked by rs__check: raises nothing. */
static void *rs__build(lua_State *L, int idx) {
  rs__redirect_t *c = rs_xcalloc(1, sizeof(*c));
  c->status = 301;
  if (lua_type(L, idx) == LUA_TTABLE) {
    lua_getfield(L, idx, "to");
    c->to = rs_xstrdup(lua_tostring(L, -1));
    lua_getfield(L, idx, "status");
    if (lua_type(L, -1) == LUA_TNUMBER) c->status = (int)lua_tointeger(L, -1);
    lua_getfield(L, idx, "keep_query");
    c->keep_query = lua_toboolean(L, -1);
    lua_pop(L, 3);
  } else {
    c->to = rs_xstrdup(lua_tostring(L, idx));
  }
  return c;
}

static void rs__free(void *conf) {
  rs__redirect_t *c = conf;
  if (c == NULL) return;
  free(c->to);
  free(c);
}

static void rs__dump(FILE *out, const void *conf) {
  const rs__redirect_t *c = conf;
  fputs("redirect = { to = ", out);
  rs_ldump_str(out, c->to);
  fprintf(out, ", status = %d, keep_query = %s }, ", c->status, c->keep_query ? "true" : "false");
}

static void rs__request(rs_req_t *req, const rs_route_t *route) {
  const rs__redirect_t *c = route->conf;
  rs_buf_t b = { 0 };
  bool q = c->keep_query && req->query.len > 0;
  rs_buf_printf(&b, "Location: %s%s%.*s\r\nContent-Type: text/html\r\n", c->to, q ? "?" : "",
                q ? (int)req->query.len : 0, q ? req->query.p : "");
  size_t hlen = b.len;
  rs_str_t page = rs_http_error_page(c->status);
  rs_buf_append(&b, page.p, page.len);
  rs_resp_t resp = { .status = c->status, .headers = b.p, .headers_len = hlen,
                     .body = b.p + hlen, .body_len = b.len - hlen, .release = free, .release_ud = b.p };
  rs_req_respond(req, &resp);
}

const rs_action_handler_t rs_redirect_action = {
  .name = "redirect", .on_request = rs__request,
  .check = rs__check, .build = rs__build, .free = rs__free, .dump = rs__dump,
};
