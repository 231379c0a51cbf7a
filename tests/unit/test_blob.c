/* tests/unit/test_blob.c — core/fleet/rs_blob.c: a page through the shared
 * tier's byte string and back is the same page (every variant as built, no
 * recompression; ETag, headers, tags, status, deferred variants, the
 * bundle that rendered it), with the
 * TTL it had left; a damaged, truncated, foreign or expired blob is never a
 * page; a page over the size cap is not encoded. */
#include "tap.h"

#include "rs_blob.h"

#include <xxhash.h>

static char *html_page(size_t *len) {
  rs_buf_t b = { 0 };
  rs_buf_printf(&b, "<!doctype html><html><body><ul>");
  for (int i = 0; i < 300; i++)
    rs_buf_printf(&b, "<li><a href=\"/product/%d\">Product %d</a> %d.%02d EUR</li>\n", i, i * 7, i % 97, i % 100);
  rs_buf_printf(&b, "</ul></body></html>");
  *len = b.len;
  return b.p;
}

static const char *tags[] = { "catalog", "product:7", "" };

static rs_entry_t *page(const char *key, const char *body, size_t len, unsigned defer) {
  rs_entry_spec_t s;
  memset(&s, 0, sizeof s);
  s.key = key;
  s.key_len = strlen(key);
  s.hash = 99;
  s.status = 203;
  s.headers = "Content-Type: text/html; charset=utf-8\r\nX-Thing: 1\r\n";
  s.headers_len = strlen(s.headers);
  s.body = body;
  s.body_len = len;
  s.tags = tags;
  s.ntags = 3;
  s.ttl_ms = 60000;
  s.grace_ms = 30000;
  s.gzip_level = 6;
  s.brotli_quality = 4;
  s.min_compress = 64;
  s.defer = defer;
  s.bundle = 0x3f2a00000000beefull;
  return rs_entry_build(&s);
}

static const rs_blob_meta_t META = { .start_seq = 41, .render_id = 0xabcdef };

static void test_round_trip(void) {
  size_t len;
  char *body = html_page(&len);
  const char *key = "GET example.com/catalog?sort=price";
  for (unsigned defer = 0; defer < 4; defer++) {
    rs_entry_t *e = page(key, body, len, defer << 1);   /* none, gzip, br, both deferred */
    ASSERT(e != NULL);
    size_t blen;
    char *blob = rs_blob_encode(e, &META, 1 << 20, &blen);
    ASSERT(blob != NULL);
    rs_entry_t *d = NULL;
    rs_blob_meta_t m = { 0 };
    ASSERT_EQ(rs_blob_decode(blob, blen, key, strlen(key), 1234, 77, rs_blob_now_unix_ms(), &d, &m), RS_BLOB_OK);
    ASSERT(d != NULL);
    ASSERT_EQ(m.start_seq, 41);
    ASSERT_EQ(m.render_id, 0xabcdef);
    ASSERT_EQ(d->hash, 1234);                      /* the caller's, as given */
    ASSERT_EQ(d->epoch, 77);
    ASSERT_EQ(d->status, 203);
    ASSERT_MEM_EQ(d->key, d->key_len, key, strlen(key));
    ASSERT_EQ(d->key[d->key_len], 0);
    ASSERT_MEM_EQ(d->headers, d->headers_len, e->headers, e->headers_len);
    ASSERT_MEM_EQ(d->etag, d->etag_len, e->etag, e->etag_len);
    ASSERT_EQ(d->ntags, 3);
    for (int i = 0; i < 3; i++) ASSERT_STR_EQ(d->tags[i], tags[i]);
    for (int i = 0; i < RS_ENC_MAX; i++) {
      ASSERT_EQ(d->body[i].p == NULL, e->body[i].p == NULL);
      if (e->body[i].p) ASSERT_MEM_EQ(d->body[i].p, d->body[i].len, e->body[i].p, e->body[i].len);
    }
    ASSERT_EQ(d->deferred, e->deferred);
    ASSERT_EQ(d->bundle, 0x3f2a00000000beefull);   /* the bundle that rendered it */
    ASSERT_EQ(d->ttl_ms, 60000);
    ASSERT_EQ(d->grace_ms, 30000);
    ASSERT(d->created_ms <= rs_now_ms() && d->created_ms + 1000 > rs_now_ms());
    ASSERT_EQ(rs_entry_refs(d), 1);
    rs_entry_release(d);
    free(blob);
    rs_entry_release(e);
  }
  free(body);
}

static void test_keeps_the_ttl_it_had_left(void) {
  rs_entry_t *e = page("k", "<p>short</p>", 12, 0);
  size_t blen;
  char *blob = rs_blob_encode(e, NULL, 1 << 20, &blen);
  ASSERT(blob != NULL);
  uint64_t now = rs_blob_now_unix_ms();
  rs_entry_t *d = NULL;
  /* Loaded 50 s later: fresh for 10 s more, then stale within grace. */
  ASSERT_EQ(rs_blob_decode(blob, blen, "k", 1, 1, 0, now + 50000, &d, NULL), RS_BLOB_OK);
  uint64_t mono = rs_now_ms();
  ASSERT(rs_entry_fresh(d, mono));
  ASSERT(!rs_entry_fresh(d, mono + 11000));
  ASSERT(rs_entry_servable(d, mono + 11000));
  ASSERT(!rs_entry_servable(d, mono + 41000));
  rs_entry_release(d);
  /* 80 s later: stale, still servable for 10 s. */
  ASSERT_EQ(rs_blob_decode(blob, blen, "k", 1, 1, 0, now + 80000, &d, NULL), RS_BLOB_OK);
  ASSERT(!rs_entry_fresh(d, rs_now_ms()));
  ASSERT(rs_entry_servable(d, rs_now_ms()));
  rs_entry_release(d);
  /* Past TTL + grace: no page. A reader whose clock is behind the writer's
   * sees the page as new, never newer. */
  ASSERT_EQ(rs_blob_decode(blob, blen, "k", 1, 1, 0, now + 90001, &d, NULL), RS_BLOB_EXPIRED);
  ASSERT(d == NULL);
  ASSERT_EQ(rs_blob_decode(blob, blen, "k", 1, 1, 0, now - 100000, &d, NULL), RS_BLOB_OK);
  ASSERT_EQ(d->ttl_ms, 60000);
  rs_entry_release(d);
  free(blob);
  rs_entry_release(e);
}

static void test_never_another_page(void) {
  size_t len;
  char *body = html_page(&len);
  rs_entry_t *e = page("GET a/x", body, len, 0);
  size_t blen;
  char *blob = rs_blob_encode(e, &META, 1 << 20, &blen);
  ASSERT(blob != NULL);
  uint64_t now = rs_blob_now_unix_ms();
  rs_entry_t *d = NULL;
  ASSERT_EQ(rs_blob_decode(blob, blen, "GET a/y", 7, 1, 0, now, &d, NULL), RS_BLOB_OTHER_KEY);
  ASSERT_EQ(rs_blob_decode(blob, blen, "GET a/x2", 8, 1, 0, now, &d, NULL), RS_BLOB_OTHER_KEY);
  ASSERT_EQ(rs_blob_decode(blob, blen, "GET a/", 6, 1, 0, now, &d, NULL), RS_BLOB_OTHER_KEY);
  /* Every single bit flipped, in a sample of positions over the whole blob
   * (all of the header and key), and every truncation: never a page. */
  for (size_t i = 0; i < blen; i += i < 256 ? 1 : 97) {
    for (int bit = 0; bit < 8; bit++) {
      blob[i] ^= (char)(1 << bit);
      rs_blob_status_t s = rs_blob_decode(blob, blen, "GET a/x", 7, 1, 0, now, &d, NULL);
      blob[i] ^= (char)(1 << bit);
      if (s == RS_BLOB_OK) TAP_FAIL("a flip of bit %d at %zu decoded as a page", bit, i);
      ASSERT(d == NULL);
    }
  }
  for (size_t n = 0; n < blen; n += n < 256 ? 1 : 61)
    ASSERT_EQ(rs_blob_decode(blob, n, "GET a/x", 7, 1, 0, now, &d, NULL), RS_BLOB_CORRUPT);
  ASSERT_EQ(rs_blob_decode(NULL, 0, "GET a/x", 7, 1, 0, now, &d, NULL), RS_BLOB_CORRUPT);
  ASSERT_EQ(rs_blob_decode("RSP1", 4, "GET a/x", 7, 1, 0, now, &d, NULL), RS_BLOB_CORRUPT);
  /* A newer format (the version field, with a checksum that matches) is a miss. */
  blob[4] = RS_BLOB_VERSION + 1;
  uint64_t sum = XXH3_64bits(blob, blen - 8);
  for (int i = 0; i < 8; i++) blob[blen - 8 + (size_t)i] = (char)(sum >> (8 * i));
  ASSERT_EQ(rs_blob_decode(blob, blen, "GET a/x", 7, 1, 0, now, &d, NULL), RS_BLOB_CORRUPT);
  free(blob);
  /* Over the cap: not encoded (the page stays in L1/L2). */
  ASSERT(rs_blob_encode(e, &META, 512, &blen) == NULL);
  rs_entry_release(e);
  free(body);
}

int main(void) {
  RS_TEST(test_round_trip);
  RS_TEST(test_keeps_the_ttl_it_had_left);
  RS_TEST(test_never_another_page);
  RS_TEST_DONE();
}
