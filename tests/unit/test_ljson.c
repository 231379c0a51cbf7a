/* tests/unit/test_ljson.c — JSON text to Lua values (res:json() of
 * ssr.fetch) and back: objects, arrays, escapes (\u with surrogate pairs),
 * numbers, null, and malformed documents refused with a reason and the
 * stack left as it was. */
#include <lauxlib.h>
#include <lualib.h>

#include "rs_ljson.h"
#include "tap.h"

static lua_State *L;

/* Decode s, then encode the value back: the round trip's text. */
static const char *round_trip(const char *s, rs_buf_t *out) {
  const char *why = NULL;
  int top = lua_gettop(L);
  if (rs_ljson_decode(L, s, strlen(s), &why) != 0) return why;
  out->len = 0;
  if (rs_ljson_encode(L, -1, out, &why) != 0) return why;
  rs_buf_append(out, "", 1);
  lua_settop(L, top);
  return NULL;
}

static void test_values(void) {
  static const struct { const char *in, *out; } cases[] = {
    { "{\"a\":1}", "{\"a\":1}" },
    { " [1, 2.5, -3e2, true, false] ", "[1,2.5,-300,true,false]" },
    { "\"a\\\"b\\\\c\\/d\\n\"", "\"a\\\"b\\\\c/d\\n\"" },
    { "\"\\u00e9\\u4e16\\ud83d\\ude00\"", "\"\xc3\xa9\xe4\xb8\x96\xf0\x9f\x98\x80\"" },
    { "{\"n\":null,\"x\":{\"y\":[[]]}}", "{\"x\":{\"y\":[{}]}}" },
    { "[]", "{}" },
  };
  rs_buf_t b = { 0 };
  for (size_t i = 0; i < RS_ARRAY_SIZE(cases); i++) {
    const char *why = round_trip(cases[i].in, &b);
    if (why != NULL) TAP_FAIL("%s: %s", cases[i].in, why);
    ASSERT_STR_EQ(b.p, cases[i].out);
  }
  rs_buf_free(&b);
}

static void test_errors(void) {
  static const struct { const char *in, *why; } cases[] = {
    { "", "unexpected end of JSON" },
    { "{\"a\" 1}", "expected ':'" },
    { "[1 2]", "expected ',' or ']'" },
    { "{1:2}", "expected a key" },
    { "\"abc", "unterminated string" },
    { "\"a\\q\"", "bad escape in a string" },
    { "\"\\u12\"", "bad \\u escape" },
    { "nul", "unexpected character" },
    { "1 2", "trailing characters after the JSON value" },
    { "\"a\nb\"", "control character in a string" },
  };
  for (size_t i = 0; i < RS_ARRAY_SIZE(cases); i++) {
    const char *why = NULL;
    int top = lua_gettop(L);
    ASSERT_EQ(rs_ljson_decode(L, cases[i].in, strlen(cases[i].in), &why), -1);
    ASSERT_STR_EQ(why, cases[i].why);
    ASSERT_EQ(lua_gettop(L), top);
  }
  /* nested past the bound */
  char deep[200];
  memset(deep, '[', sizeof(deep) - 1);
  deep[sizeof(deep) - 1] = '\0';
  const char *why = NULL;
  ASSERT_EQ(rs_ljson_decode(L, deep, strlen(deep), &why), -1);
  ASSERT_STR_EQ(why, "nested too deep");
}

int main(void) {
  L = luaL_newstate();
  luaL_openlibs(L);
  RS_TEST(test_values);
  RS_TEST(test_errors);
  lua_close(L);
  RS_TEST_DONE();
}
