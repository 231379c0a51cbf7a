/* tests/unit/test_logfmt.c — access-log formats (core/http/rs_logfmt.h),
 * byte for byte: combined and timed as nginx writes them, json with
 * nginx's escape=json, templates with every variable, escaping of hostile
 * values, the owner's fields, and the compile errors. */
#include "tap.h"

#include "rs_conn.h"
#include "rs_logfmt.h"

static rs_header_t hdrs[3];
static rs_req_t req;

static void setup(void) {
  memset(&req, 0, sizeof(req));
  req.method = RS_STR("GET");
  req.url = RS_STR("/a/b?x=1&y=\"2\"");
  req.path = RS_STR("/a/b");
  req.query = RS_STR("x=1&y=\"2\"");
  req.host = RS_STR("example.com");
  req.http_major = 1, req.http_minor = 1;
  req.id = 0x1234abcdULL;
  hdrs[0] = (rs_header_t){ RS_STR("Host"), RS_STR("example.com") };
  hdrs[1] = (rs_header_t){ RS_STR("User-Agent"), RS_STR("curl/8 \"x\"\n\xc3\xa9") };
  hdrs[2] = (rs_header_t){ RS_STR("X-Api-Key"), RS_STR("k1") };
  req.headers = hdrs;
  req.nheaders = 3;
}

static const rs_logfmt_vars_t vars = {
  .remote_addr = "192.0.2.7", .status = 200, .body_bytes_sent = 1234, .bytes_sent = 1400,
  .request_time_us = 1234567, .time_local = "06/Dec/2026:07:58:00 +0000",
  .time_iso8601 = "2026-12-06T07:58:00+00:00", .now_ms = 1796543880123ULL,
};

static char *render(const char *spec, bool json) {
  char err[256];
  rs_logfmt_t *f = rs_logfmt_compile(spec, json, err, sizeof(err));
  if (f == NULL) {
    fprintf(stderr, "# compile %s: %s\n", spec, err);
    return strdup("(error)");
  }
  rs_buf_t b = { 0 };
  rs_logfmt_render(f, &req, &vars, &b);
  rs_logfmt_free(f);
  rs_buf_append(&b, "", 1);
  return b.p;
}

#define EXPECT(spec, json, want)                 \
  do {                                           \
    char *got_ = render(spec, json);             \
    int ok_ = strcmp(got_, want) == 0;           \
    if (!ok_) fprintf(stderr, "# got  %s# want %s", got_, want); \
    free(got_);                                  \
    ASSERT(ok_);                                 \
  } while (0)

static void test_combined_and_timed(void) {
  setup();
  EXPECT("combined", false,
         "192.0.2.7 - - [06/Dec/2026:07:58:00 +0000] \"GET /a/b?x=1&y=\\x222\\x22 HTTP/1.1\" 200 1234 \"-\" "
         "\"curl/8 \\x22x\\x22\\x0A\\xC3\\xA9\"\n");
  EXPECT("timed", false,
         "192.0.2.7 - - [06/Dec/2026:07:58:00 +0000] \"GET /a/b?x=1&y=\\x222\\x22 HTTP/1.1\" 200 1234 \"-\" "
         "\"curl/8 \\x22x\\x22\\x0A\\xC3\\xA9\" 1.234\n");
}

static void test_json(void) {
  setup();
  rs_req_log_set(&req, RS_LOG_F_ROUTE, "/a/:b", 5);
  rs_req_log_set(&req, RS_LOG_F_CACHE_STATUS, "HIT", 3);
  EXPECT("json", false,
         "{\"time\":\"2026-12-06T07:58:00+00:00\",\"remote_addr\":\"192.0.2.7\",\"request_id\":\"000000001234abcd\","
         "\"request\":\"GET /a/b?x=1&y=\\\"2\\\" HTTP/1.1\",\"status\":200,\"body_bytes_sent\":1234,"
         "\"request_time\":1.234,\"upstream_response_time\":\"\",\"cache_status\":\"HIT\",\"route\":\"/a/:b\","
         "\"host\":\"example.com\",\"http_referer\":\"\",\"http_user_agent\":\"curl/8 \\\"x\\\"\\n\xc3\xa9\"}\n");
}

static void test_template(void) {
  setup();
  rs_req_log_set(&req, RS_LOG_F_UPSTREAM_RESPONSE_TIME, "0.012", 5);
  EXPECT("$request_method ${uri}?$args $server_protocol $status $bytes_sent $request_time $http_x_api_key "
         "$http_missing $upstream_response_time $route $msec|$request_uri|$query_string|$host", false,
         "GET /a/b?x=1&y=\\x222\\x22 HTTP/1.1 200 1400 1.234 k1 - 0.012 - 1796543880.123|"
         "/a/b?x=1&y=\\x222\\x22|x=1&y=\\x222\\x22|example.com\n");
  EXPECT("{\"ua\":\"$http_user_agent\",\"t\":$request_time,\"u\":$upstream_status}", true,
         "{\"ua\":\"curl/8 \\\"x\\\"\\n\xc3\xa9\",\"t\":1.234,\"u\":null}\n");
}

static void test_errors(void) {
  char err[256];
  ASSERT(rs_logfmt_compile("$remote_addr $nope", false, err, sizeof(err)) == NULL);
  ASSERT(strstr(err, "unknown variable '$nope'") != NULL);
  ASSERT(rs_logfmt_compile("cost: $ 5", false, err, sizeof(err)) == NULL);
  ASSERT(strstr(err, "'$' without a variable name") != NULL);
  ASSERT(rs_logfmt_compile("${status", false, err, sizeof(err)) == NULL);
  ASSERT(strstr(err, "unclosed '${'") != NULL);
  rs_logfmt_t *f = rs_logfmt_compile("plain text", false, err, sizeof(err));
  ASSERT(f != NULL);
  rs_logfmt_free(f);
}

int main(void) {
  RS_TEST(test_combined_and_timed);
  RS_TEST(test_json);
  RS_TEST(test_template);
  RS_TEST(test_errors);
  RS_TEST_DONE();
}
