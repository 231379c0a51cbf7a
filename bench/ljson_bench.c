/* bench/ljson_bench.c — lua/rs_ljson.c against Debian's lua-cjson 2.1.0 on
 * a props-sized document, in one LuaJIT state, no HTTP: encode (a props
 * hook's table to JSON text) and decode (res:json() of an API's answer).
 *
 *   cmake --build build/release --target bench_ljson
 *   build/release/bench_ljson [ITEMS] [SECONDS]      # default 40 items, 1 s each
 *
 * The document: ITEMS products, each with an id, a name, a price, a
 * 200-byte description with quotes and a '<', a tag list and a nested
 * object (about 14 KB of JSON at 40). Prints operations a second and
 * MB/s for each; the figures in bench/README.md ("Lua JSON") come from it. */
#include <lauxlib.h>
#include <lualib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rs_common.h"
#include "rs_ljson.h"

#ifndef RS_LIB_ARCH
#define RS_LIB_ARCH "x86_64-linux-gnu"
#endif

static const char rs__doc[] =
    "local n = ...\n"
    "local items = {}\n"
    "for i = 1, n do\n"
    "  items[i] = { id = i, name = 'Product ' .. i, price = i * 3.25, in_stock = i % 3 ~= 0,\n"
    "    description = string.rep('A \"quoted\" word <b> and more text. ', 6),\n"
    "    tags = { 'new', 'sale', 'tag' .. i },\n"
    "    seller = { id = 1000 + i, name = 'Seller ' .. i, rating = 4.5 } }\n"
    "end\n"
    "return { page = 1, total = n, title = 'Catalog', items = items }\n";

typedef struct {
  double ops, mb;
} rs__rate_t;

static rs__rate_t rs__time(lua_State *L, int (*fn)(lua_State *L, void *ud), void *ud, double secs, size_t bytes) {
  uint64_t t0 = rs_now_us(), end = t0 + (uint64_t)(secs * 1e6);
  long n = 0;
  uint64_t now;
  do {
    for (int i = 0; i < 20; i++) fn(L, ud), n++;
    now = rs_now_us();
  } while (now < end);
  double s = (double)(now - t0) / 1e6;
  return (rs__rate_t){ n / s, (double)bytes * n / s / 1e6 };
}

typedef struct {
  int doc;                       /* stack index of the table */
  int cjson;                     /* of the module */
  const char *text;
  size_t len;
} rs__ctx_t;

static int rs__enc_ours(lua_State *L, void *ud) {
  rs__ctx_t *c = ud;
  rs_buf_t b = { 0 };
  const char *why;
  if (rs_ljson_encode(L, c->doc, &b, &why) != 0) abort();
  rs_buf_free(&b);
  return 0;
}

static int rs__enc_cjson(lua_State *L, void *ud) {
  rs__ctx_t *c = ud;
  lua_getfield(L, c->cjson, "encode");
  lua_pushvalue(L, c->doc);
  lua_call(L, 1, 1);
  lua_pop(L, 1);
  return 0;
}

static int rs__dec_ours(lua_State *L, void *ud) {
  rs__ctx_t *c = ud;
  const char *why;
  if (rs_ljson_decode(L, c->text, c->len, &why) != 0) abort();
  lua_pop(L, 1);
  return 0;
}

static int rs__dec_cjson(lua_State *L, void *ud) {
  rs__ctx_t *c = ud;
  lua_getfield(L, c->cjson, "decode");
  lua_pushlstring(L, c->text, c->len);
  lua_call(L, 1, 1);
  lua_pop(L, 1);
  return 0;
}

int main(int argc, char **argv) {
  int items = argc > 1 ? atoi(argv[1]) : 40;
  double secs = argc > 2 ? atof(argv[2]) : 1.0;
  lua_State *L = luaL_newstate();
  luaL_openlibs(L);
  lua_getglobal(L, "package");
  lua_pushliteral(L, "/usr/local/lib/lua/5.1/?.so;/usr/lib/" RS_LIB_ARCH "/lua/5.1/?.so;/usr/lib/lua/5.1/?.so");
  lua_setfield(L, -2, "cpath");
  lua_pop(L, 1);
  lua_getglobal(L, "require");
  lua_pushliteral(L, "cjson");
  if (lua_pcall(L, 1, 1, 0) != 0) {
    fprintf(stderr, "bench_ljson: require \"cjson\": %s (scripts/setup installs lua-cjson)\n", lua_tostring(L, -1));
    return 1;
  }
  rs__ctx_t c = { .cjson = lua_gettop(L) };
  if (luaL_loadstring(L, rs__doc) != 0) abort();
  lua_pushinteger(L, items);
  lua_call(L, 1, 1);
  c.doc = lua_gettop(L);
  rs_buf_t text = { 0 };
  const char *why;
  if (rs_ljson_encode(L, c.doc, &text, &why) != 0) abort();
  c.text = text.p;
  c.len = text.len;
  lua_getfield(L, c.cjson, "encode");
  lua_pushvalue(L, c.doc);
  lua_call(L, 1, 1);
  size_t cj_len = lua_objlen(L, -1);
  lua_pop(L, 1);

  printf("document: %d items, %zu bytes of JSON (cjson's: %zu)\n", items, text.len, cj_len);
  rs__rate_t r;
  r = rs__time(L, rs__enc_ours, &c, secs, text.len);
  printf("encode rs_ljson  %10.0f /s  %8.1f MB/s\n", r.ops, r.mb);
  r = rs__time(L, rs__enc_cjson, &c, secs, cj_len);
  printf("encode cjson     %10.0f /s  %8.1f MB/s\n", r.ops, r.mb);
  r = rs__time(L, rs__dec_ours, &c, secs, text.len);
  printf("decode rs_ljson  %10.0f /s  %8.1f MB/s\n", r.ops, r.mb);
  r = rs__time(L, rs__dec_cjson, &c, secs, text.len);
  printf("decode cjson     %10.0f /s  %8.1f MB/s\n", r.ops, r.mb);
  rs_buf_free(&text);
  lua_close(L);
  return 0;
}
