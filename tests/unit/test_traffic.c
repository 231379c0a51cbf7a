/* tests/unit/test_traffic.c — the pieces of issue 13's cache half below the
 * gateway: the Cookie header (core/base/rs_cookie.h), the key's cookie and
 * version fields (core/cache/rs_key.h), soft purges, the deploy's bundle
 * rules (core/cache/rs_cache.h), and what an L1 does with a soft-purged
 * page (core/cache/rs_l1.h). */
#include "rs_cache.h"
#include "rs_cookie.h"
#include "rs_key.h"
#include "rs_l1.h"
#include "tap.h"

#include <errno.h>

static char out[1024];

static const char *pairs(const char *v) {
  const char *p = v, *end = v + strlen(v);
  rs_str_t n, val;
  size_t o = 0;
  while (rs_cookie_next(&p, end, &n, &val))
    o += (size_t)snprintf(out + o, sizeof(out) - o, "[%.*s=%.*s]", (int)n.len, n.p, (int)val.len, val.p);
  out[o] = '\0';
  return out;
}

static void test_cookie_parse(void) {
  ASSERT_STR_EQ(pairs("a=1; b=2"), "[a=1][b=2]");
  ASSERT_STR_EQ(pairs("  a = 1 ;b=\"x y\";;c=; =bad; novalue; d=\"\""), "[a=1][b=x y][c=][d=]");
  ASSERT_STR_EQ(pairs("a=1=2"), "[a=1=2]");            /* the first '=' splits */
  ASSERT_STR_EQ(pairs(""), "");
  ASSERT_STR_EQ(pairs(";;;"), "");
  ASSERT_STR_EQ(pairs("\"=1"), "[\"=1]");             /* names as sent: no unquoting */
  ASSERT_STR_EQ(pairs("a=\""), "[a=\"]");              /* one quote is a value */
  static const char *const names[] = { "lang", "currency", NULL };
  rs_cookie_val_t v[2] = { 0 };
  /* first wins, across headers; case-sensitive names */
  rs_cookie_pick(names, "Currency=X; currency=EUR; currency=USD", 38, v);
  rs_cookie_pick(names, "currency=GBP; lang=fr", 21, v);
  ASSERT(v[0].present && v[1].present);
  ASSERT_MEM_EQ(v[0].value.p, v[0].value.len, "fr", 2);
  ASSERT_MEM_EQ(v[1].value.p, v[1].value.len, "EUR", 3);
  rs_buf_t b = { 0 };
  ASSERT_EQ(rs_cookie_join(&b, names, v), 2);
  ASSERT_MEM_EQ(b.p, b.len, "lang=fr; currency=EUR", 21);
  rs_buf_free(&b);
  ASSERT(rs_cookie_has("x=1; lang=fr", 12, names));
  ASSERT(!rs_cookie_has("x=1; lang=", 10, names));     /* empty: no */
  ASSERT(!rs_cookie_has("Lang=fr", 7, names));
}

static void test_key_fields(void) {
  char buf[16];
  rs_key_t k;
  rs_key_init(&k, buf, sizeof(buf));
  rs_key_url(&k, "GET", 3, "h", 1, "/", 1, NULL, 0);
  rs_key_header(&k, "x-a", 3, false);
  rs_key_cookie(&k, "currency", 8, "EUR", 3, true);
  rs_key_cookie(&k, "lang", 4, NULL, 0, false);
  rs_key_cookie(&k, "e", 1, "", 0, true);
  rs_key_cookie(&k, "ctl", 3, "a\nb%", 4, true);     /* never a new field */
  rs_key_version(&k, "v2", 2);
  const char *want = "GET h/\nx-a\n;currency=EUR\n;lang\n;e=\n;ctl=a%0Ab%25\n@v2";
  ASSERT_MEM_EQ(k.p, k.len, want, strlen(want));
  rs_key_dispose(&k);
}

static rs_entry_t *entry(rs_cache_t *c, const char *key, uint64_t bundle, uint64_t ttl_ms, uint64_t grace_ms) {
  rs_entry_spec_t spec = { .key = key, .key_len = strlen(key), .status = 200, .body = "x", .body_len = 1,
                           .brotli_quality = -1, .ttl_ms = ttl_ms, .grace_ms = grace_ms, .bundle = bundle,
                           .generation = 7 };
  spec.hash = rs_cache_hash(c, key, spec.key_len);
  spec.epoch = rs_cache_epoch(c);
  return rs_entry_build(&spec);
}

static rs_lookup_t look(rs_cache_t *c, const char *key, rs_entry_t **e) {
  rs_waiter_t w = { 0 };
  return rs_cache_lookup(c, rs_cache_hash(c, key, strlen(key)), key, strlen(key), rs_now_ms(), e, &w);
}

static void test_soft_purge(void) {
  rs_cache_opts_t o = { .max_entries = 100, .shards = 4 };
  rs_cache_t *c = rs_cache_create(&o);
  rs_entry_t *a = entry(c, "GET h/a", 1, 60000, 60000);
  ASSERT_EQ(a->bundle, 1);
  ASSERT_EQ(a->generation, 7);
  ASSERT_EQ(rs_cache_put(c, a), 0);
  rs_l1_opts_t lo = { .hot = 2, .entries = 8, .max_bytes = 1 << 20 };
  rs_l1_t *l1 = rs_l1_create(&lo);
  rs_l1_offer(l1, a, rs_now_ms());
  rs_l1_ref_t *ref;
  ASSERT(rs_l1_get(l1, a->hash, "GET h/a", 7, rs_now_ms(), &ref) == a);
  rs_l1_put(l1, ref);
  rs_entry_t *early = entry(c, "GET h/a", 1, 60000, 0);   /* a render begun before the soft purge */
  ASSERT_EQ(rs_cache_soft_key(c, "GET h/a", 7), 1);
  ASSERT_EQ(rs_cache_soft_key(c, "GET h/a", 7), 0);     /* stale already */
  ASSERT_EQ(rs_cache_put(c, early), -ESTALE);           /* never stored */
  rs_entry_release(early);
  ASSERT(!rs_entry_dead(a) && rs_entry_flagged(a) && !rs_entry_fresh(a, rs_now_ms()));
  ASSERT(rs_entry_servable(a, rs_now_ms()));
  /* the L1 lets go of it; L2 answers it stale, and hands out one refresh */
  ASSERT(rs_l1_get(l1, a->hash, "GET h/a", 7, rs_now_ms(), &ref) == NULL);
  rs_entry_t *e;
  ASSERT_EQ(look(c, "GET h/a", &e), RS_LOOKUP_STALE_REFRESH);
  ASSERT(e == a);
  rs_entry_release(e);
  ASSERT_EQ(look(c, "GET h/a", &e), RS_LOOKUP_STALE);
  rs_entry_release(e);
  /* a render that began after the soft purge is stored, fresh */
  rs_entry_t *late = entry(c, "GET h/a", 1, 60000, 0);
  ASSERT_EQ(rs_cache_put(c, late), 0);
  rs_entry_release(late);
  ASSERT_EQ(look(c, "GET h/a", &e), RS_LOOKUP_HIT);
  rs_entry_release(e);
  rs_entry_release(a);
  /* without grace, a soft purge is a miss */
  rs_entry_t *g0 = entry(c, "GET h/g0", 1, 60000, 0);
  ASSERT_EQ(rs_cache_put(c, g0), 0);
  rs_entry_release(g0);
  ASSERT_EQ(rs_cache_soft_all(c), 2);
  ASSERT_EQ(look(c, "GET h/g0", &e), RS_LOOKUP_MISS_LEADER);
  (void)rs_cache_complete(c, rs_cache_hash(c, "GET h/g0", 8), "GET h/g0", 8, NULL, false);
  rs_cache_stats_t st;
  rs_cache_stats(c, &st);
  ASSERT_EQ(st.softened, 3);
  rs_l1_destroy(l1);
  rs_cache_destroy(c);
}

static void test_bundles(void) {
  rs_cache_opts_t o = { .max_entries = 100, .shards = 4 };
  rs_cache_t *c = rs_cache_create(&o);
  rs_entry_t *old = entry(c, "GET h/1", 11, 60000, 60000), *proxy = entry(c, "GET h/p", 0, 60000, 60000);
  ASSERT_EQ(rs_cache_put(c, old), 0);
  ASSERT_EQ(rs_cache_put(c, proxy), 0);
  rs_cache_bundle(c, 22);        /* a deploy: only bundle 22 (and non-renders) from now on */
  rs_entry_t *late = entry(c, "GET h/2", 11, 60000, 60000), *fresh = entry(c, "GET h/3", 22, 60000, 60000);
  ASSERT_EQ(rs_cache_put(c, late), -ESTALE);
  ASSERT(rs_entry_dead(late));
  ASSERT_EQ(rs_cache_put(c, fresh), 0);
  ASSERT_EQ(rs_cache_purge_bundle(c, 22, true), 1);    /* old only: not 22, not the proxy page */
  ASSERT(rs_entry_flagged(old) && !rs_entry_dead(old) && !rs_entry_flagged(fresh) && !rs_entry_flagged(proxy));
  rs_cache_stats_t st;
  rs_cache_stats(c, &st);
  ASSERT(st.softened == 1 && st.purged == 0 && st.expirations == 0);   /* counted as what was done */
  ASSERT_EQ(rs_cache_purge_bundle(c, 22, false), 1);
  ASSERT(rs_entry_dead(old));
  rs_cache_stats(c, &st);
  ASSERT(st.softened == 1 && st.purged == 1 && st.expirations == 0);
  rs_cache_bundle(c, 0);         /* keep: any bundle */
  rs_entry_t *any = entry(c, "GET h/4", 33, 60000, 60000);
  ASSERT_EQ(rs_cache_put(c, any), 0);
  /* a completed copy of a soft-purged page never replaces it (stays stale) */
  ASSERT_EQ(rs_cache_soft_key(c, "GET h/4", 7), 1);
  rs_entry_t *full = rs_entry_complete(any, 1, -1);
  ASSERT(full != NULL && full->bundle == 33 && full->generation == 7);
  ASSERT_EQ(rs_cache_replace(c, any, full), -ENOENT);
  rs_entry_release(full);
  rs_entry_release(any);
  rs_entry_release(old);
  rs_entry_release(late);
  rs_entry_release(fresh);
  rs_entry_release(proxy);
  rs_cache_destroy(c);
}

int main(void) {
  RS_TEST(test_cookie_parse);
  RS_TEST(test_key_fields);
  RS_TEST(test_soft_purge);
  RS_TEST(test_bundles);
  RS_TEST_DONE();
}
