/* tests/unit/test_cidr.c — addresses and CIDR blocks (core/base/rs_cidr.h):
 * what parses, what is refused and why, and matching at every boundary. */
#include "rs_cidr.h"
#include "tap.h"

static bool in(const char *cidr, const char *ip) {
  rs_cidr_t c;
  rs_ip_t a;
  const char *why = "";
  if (rs_cidr_parse(cidr, strlen(cidr), &c, &why) != 0) {
    fprintf(stderr, "# bad cidr %s: %s\n", cidr, why);
    abort();
  }
  if (rs_ip_parse(ip, strlen(ip), &a) != 0) {
    fprintf(stderr, "# bad ip %s\n", ip);
    abort();
  }
  return rs_cidr_match(&c, &a);
}

static void test_match(void) {
  static const struct { const char *cidr, *ip; bool in; } cases[] = {
    { "10.0.0.0/8", "10.0.0.0", true },
    { "10.0.0.0/8", "10.255.255.255", true },
    { "10.0.0.0/8", "11.0.0.0", false },
    { "10.0.0.0/8", "9.255.255.255", false },
    { "192.168.1.0/24", "192.168.1.77", true },
    { "192.168.1.0/24", "192.168.2.1", false },
    { "172.16.0.0/12", "172.31.255.255", true },
    { "172.16.0.0/12", "172.32.0.0", false },
    { "10.1.2.3", "10.1.2.3", true },        /* a bare address: /32 */
    { "10.1.2.3", "10.1.2.4", false },
    { "0.0.0.0/0", "1.2.3.4", true },
    { "0.0.0.0/0", "::1", false },           /* families never mix */
    { "::1", "::1", true },
    { "::1", "::2", false },
    { "::/0", "2001:db8::1", true },
    { "::/0", "1.2.3.4", false },
    { "2001:db8::/32", "2001:db8:ffff::1", true },
    { "2001:db8::/32", "2001:db9::1", false },
    { "2001:db8:8000::/33", "2001:db8:7fff::1", false },
    { "2001:db8:8000::/33", "2001:db8:8000::1", true },
    { "[fe80::1]", "fe80::1", true },
    { "10.0.0.0/8", "::ffff:10.9.9.9", true },   /* IPv4-mapped: the IPv4 address */
    { "::ffff:10.0.0.0/104", "10.9.9.9", true },
    { "::ffff:10.0.0.0/104", "11.9.9.9", false },
    { "127.0.0.1", "[::ffff:127.0.0.1]", true },
  };
  for (size_t i = 0; i < RS_ARRAY_SIZE(cases); i++) {
    if (in(cases[i].cidr, cases[i].ip) != cases[i].in)
      TAP_FAIL("%s contains %s: expected %d", cases[i].cidr, cases[i].ip, cases[i].in);
  }
}

static void test_refused(void) {
  static const struct { const char *s, *why; } cases[] = {
    { "10.1.2.3/31", "host bits" }, { "10.0.0.0/8x", "prefix length" }, { "10.0.0.0/", "prefix length" },
    { "10.0.0.0/33", "0..32" }, { "::/129", "0..128" }, { "10.0.0/8", "not an IPv4" },
    { "example.com", "not an IPv4" }, { "", "not an IPv4" }, { "1.2.3.4.5", "not an IPv4" },
    { "fe80::1%eth0", "not an IPv4" }, { "::ffff:10.0.0.0/8", "96..128" }, { "10.0.0.0/-1", "prefix length" },
    { "10.0.0.0/0008", "prefix length" }, { "256.0.0.0", "not an IPv4" }, { "[::1", "not an IPv4" },
  };
  for (size_t i = 0; i < RS_ARRAY_SIZE(cases); i++) {
    rs_cidr_t c;
    const char *why = NULL;
    if (rs_cidr_parse(cases[i].s, strlen(cases[i].s), &c, &why) == 0) TAP_FAIL("accepted \"%s\"", cases[i].s);
    if (why == NULL || strstr(why, cases[i].why) == NULL)
      TAP_FAIL("\"%s\": %s (expected %s)", cases[i].s, why ? why : "(null)", cases[i].why);
  }
}

static void test_format_any(void) {
  rs_ip_t a;
  char buf[64];
  ASSERT_EQ(rs_ip_parse("::ffff:1.2.3.4", 14, &a), 0);
  ASSERT_EQ(a.family, 4);
  ASSERT_STR_EQ(rs_ip_format(&a, buf, sizeof(buf)), "1.2.3.4");
  ASSERT_EQ(rs_ip_parse("2001:DB8:0:0::1", 15, &a), 0);
  ASSERT_STR_EQ(rs_ip_format(&a, buf, sizeof(buf)), "2001:db8::1");
  rs_cidr_t list[2];
  const char *why;
  ASSERT_EQ(rs_cidr_parse("10.0.0.0/8", 10, &list[0], &why), 0);
  ASSERT_EQ(rs_cidr_parse("::1", 3, &list[1], &why), 0);
  ASSERT_EQ(rs_ip_parse("::1", 3, &a), 0);
  ASSERT(rs_cidr_any(list, 2, &a));
  ASSERT_EQ(rs_ip_parse("127.0.0.1", 9, &a), 0);
  ASSERT(!rs_cidr_any(list, 2, &a));
  ASSERT(!rs_cidr_any(list, 0, &a));
}

int main(void) {
  RS_TEST(test_match);
  RS_TEST(test_refused);
  RS_TEST(test_format_any);
  RS_TEST_DONE();
}
