/* tests/unit/test_entry.c — rs_entry: build, variants, ETag, stored
 * headers, Accept-Encoding negotiation, reference counting. */
#define _GNU_SOURCE                            /* memmem */
#include "tap.h"

#include "rs_entry.h"

#include <brotli/decode.h>
#include <pthread.h>
#include <zlib.h>

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static uint64_t rng(void) {                    /* xorshift64*: deterministic */
  rng_state ^= rng_state >> 12;
  rng_state ^= rng_state << 25;
  rng_state ^= rng_state >> 27;
  return rng_state * 0x2545f4914f6cdd1dull;
}

static rs_entry_spec_t spec_for(const char *body, size_t len) {
  rs_entry_spec_t s;
  memset(&s, 0, sizeof s);
  s.key = "GET|example.com|/";
  s.key_len = strlen(s.key);
  s.hash = 42;
  s.status = 200;
  s.headers = "Content-Type: text/html; charset=utf-8\r\n";
  s.headers_len = strlen(s.headers);
  s.body = body;
  s.body_len = len;
  s.ttl_ms = 1000;
  s.grace_ms = 500;
  s.gzip_level = 6;
  s.brotli_quality = 5;
  s.min_compress = 256;
  return s;
}

/* A page that looks like rendered HTML: repetitive markup, varying text. */
static char *html_page(size_t *len) {
  rs_buf_t b = { 0 };
  rs_buf_printf(&b, "<!doctype html><html><head><title>Catalogue</title></head><body><ul>");
  for (int i = 0; i < 400; i++)
    rs_buf_printf(&b, "<li class=\"product\"><a href=\"/product/%d\">Product %d</a>"
                      "<span class=\"price\">%d.%02d EUR</span></li>\n",
                  i, i * 7, i * 3 % 97, i % 100);
  rs_buf_printf(&b, "</ul></body></html>");
  *len = b.len;
  return b.p;
}

static bool has_header(const rs_entry_t *e, const char *line) {
  return memmem(e->headers, e->headers_len, line, strlen(line)) != NULL;
}

static void test_tiny_body_identity_only(void) {
  rs_entry_spec_t s = spec_for("<p>hi</p>", 9);
  rs_entry_t *e = rs_entry_build(&s);
  ASSERT(e != NULL);
  ASSERT_MEM_EQ(e->body[RS_ENC_IDENTITY].p, e->body[RS_ENC_IDENTITY].len, "<p>hi</p>", 9);
  ASSERT(e->body[RS_ENC_GZIP].p == NULL);
  ASSERT(e->body[RS_ENC_BR].p == NULL);
  ASSERT(has_header(e, "ETag: \""));
  ASSERT(!has_header(e, "Vary:"));
  ASSERT(has_header(e, "Content-Type: text/html; charset=utf-8\r\n"));
  ASSERT_EQ(e->status, 200);
  ASSERT_MEM_EQ(e->key, e->key_len, "GET|example.com|/", 17);
  ASSERT_EQ(e->key[e->key_len], '\0');
  ASSERT_EQ(rs_entry_refs(e), 1);
  ASSERT(!rs_entry_dead(e));
  ASSERT(rs_entry_fresh(e, e->created_ms));
  ASSERT(!rs_entry_fresh(e, e->created_ms + 1000));
  ASSERT(rs_entry_servable(e, e->created_ms + 1499));
  ASSERT(!rs_entry_servable(e, e->created_ms + 1500));
  ASSERT(e->created_unix > 0);
  rs_entry_release(e);
}

static void test_empty_body(void) {
  rs_entry_spec_t s = spec_for(NULL, 0);
  s.min_compress = 0;
  rs_entry_t *e = rs_entry_build(&s);
  ASSERT(e != NULL);
  ASSERT(e->body[RS_ENC_IDENTITY].p != NULL);
  ASSERT_EQ(e->body[RS_ENC_IDENTITY].len, 0);
  ASSERT(e->body[RS_ENC_GZIP].p == NULL && e->body[RS_ENC_BR].p == NULL);
  ASSERT_EQ(e->etag_len, 18);
  rs_entry_release(e);
}

static void test_random_body_identity_only(void) {
  size_t len = 8192;
  char *body = malloc(len);
  for (size_t i = 0; i < len; i++) body[i] = (char)rng();
  rs_entry_spec_t s = spec_for(body, len);
  s.brotli_quality = 11;
  s.gzip_level = 9;
  rs_entry_t *e = rs_entry_build(&s);
  ASSERT(e != NULL);
  ASSERT(e->body[RS_ENC_GZIP].p == NULL);
  ASSERT(e->body[RS_ENC_BR].p == NULL);
  ASSERT(!has_header(e, "Vary:"));
  ASSERT(e->body[RS_ENC_IDENTITY].p != body);  /* copied, not adopted */
  ASSERT_MEM_EQ(e->body[RS_ENC_IDENTITY].p, len, body, len);
  free(body);
  rs_entry_release(e);
}

static void test_html_variants_roundtrip(void) {
  size_t len;
  char *html = html_page(&len);
  rs_entry_spec_t s = spec_for(html, len);
  rs_entry_t *e = rs_entry_build(&s);
  ASSERT(e != NULL);
  ASSERT(e->body[RS_ENC_GZIP].p != NULL);
  ASSERT(e->body[RS_ENC_BR].p != NULL);
  ASSERT(e->body[RS_ENC_GZIP].len < len);
  ASSERT(e->body[RS_ENC_BR].len < len);
  ASSERT(has_header(e, "Vary: Accept-Encoding\r\n"));

  /* gzip: inflate with the gzip wrapper only (windowBits 15 + 16). */
  char *out = malloc(len + 16);
  z_stream zs;
  memset(&zs, 0, sizeof zs);
  ASSERT_EQ(inflateInit2(&zs, 31), Z_OK);
  zs.next_in = (Bytef *)e->body[RS_ENC_GZIP].p;
  zs.avail_in = (uInt)e->body[RS_ENC_GZIP].len;
  zs.next_out = (Bytef *)out;
  zs.avail_out = (uInt)(len + 16);
  int rc = inflate(&zs, Z_FINISH);
  size_t n = zs.total_out;
  inflateEnd(&zs);
  ASSERT_EQ(rc, Z_STREAM_END);
  ASSERT_MEM_EQ(out, n, html, len);
  ASSERT_EQ((unsigned char)e->body[RS_ENC_GZIP].p[0], 0x1f);   /* gzip magic */
  ASSERT_EQ((unsigned char)e->body[RS_ENC_GZIP].p[1], 0x8b);

  size_t bn = len + 16;
  ASSERT_EQ(BrotliDecoderDecompress(e->body[RS_ENC_BR].len, (const uint8_t *)e->body[RS_ENC_BR].p,
                                    &bn, (uint8_t *)out), BROTLI_DECODER_RESULT_SUCCESS);
  ASSERT_MEM_EQ(out, bn, html, len);

  size_t parts = e->key_len + e->headers_len + e->body[0].len + e->body[1].len + e->body[2].len;
  ASSERT(e->size >= parts + sizeof(rs_entry_t));
  free(out);
  free(html);
  rs_entry_release(e);
}

static void test_compression_switches(void) {
  size_t len;
  char *html = html_page(&len);
  rs_entry_spec_t s = spec_for(html, len);
  s.gzip_level = 0;                            /* no gzip */
  rs_entry_t *e = rs_entry_build(&s);
  ASSERT(e->body[RS_ENC_GZIP].p == NULL && e->body[RS_ENC_BR].p != NULL);
  rs_entry_release(e);
  s = spec_for(html, len);
  s.brotli_quality = -1;                       /* no br */
  e = rs_entry_build(&s);
  ASSERT(e->body[RS_ENC_GZIP].p != NULL && e->body[RS_ENC_BR].p == NULL);
  ASSERT(has_header(e, "Vary: Accept-Encoding\r\n"));
  rs_entry_release(e);
  s = spec_for(html, len);
  s.min_compress = len + 1;                    /* below the threshold */
  e = rs_entry_build(&s);
  ASSERT(e->body[RS_ENC_GZIP].p == NULL && e->body[RS_ENC_BR].p == NULL);
  rs_entry_release(e);
  free(html);
}

static void test_adopt_body(void) {
  size_t len;
  char *html = html_page(&len);
  rs_entry_spec_t s = spec_for(NULL, len);
  s.body_owned = html;
  rs_entry_t *e = rs_entry_build(&s);
  ASSERT(e != NULL);
  ASSERT(s.body_owned == NULL);                /* adopted: no longer ours */
  ASSERT(e->body[RS_ENC_IDENTITY].p == html);
  rs_entry_release(e);                         /* frees html (ASan checks) */
}

static void test_etag(void) {
  rs_entry_spec_t s = spec_for("hello", 5);
  rs_entry_t *a = rs_entry_build(&s), *b = rs_entry_build(&s);
  s = spec_for("hellp", 5);
  rs_entry_t *c = rs_entry_build(&s);
  ASSERT_EQ(a->etag_len, 18);
  ASSERT_EQ(a->etag[0], '"');
  ASSERT_EQ(a->etag[17], '"');
  for (int i = 1; i < 17; i++) ASSERT(strchr("0123456789abcdef", a->etag[i]) != NULL);
  ASSERT_STR_EQ(a->etag, b->etag);             /* stable */
  ASSERT(strcmp(a->etag, c->etag) != 0);       /* body-dependent */
  char line[64];
  snprintf(line, sizeof line, "ETag: %s\r\n", a->etag);
  ASSERT(has_header(a, line));
  /* The ETag is of the identity body, not of the key or headers. */
  s = spec_for("hello", 5);
  s.key = "other";
  s.key_len = 5;
  s.headers = "X-Other: 1\r\n";
  s.headers_len = strlen(s.headers);
  rs_entry_t *d = rs_entry_build(&s);
  ASSERT_STR_EQ(a->etag, d->etag);
  rs_entry_release(a);
  rs_entry_release(b);
  rs_entry_release(c);
  rs_entry_release(d);
}

static void test_stored_headers(void) {
  rs_entry_spec_t s = spec_for("body", 4);
  s.headers = "Content-Type: text/plain\r\ncontent-length: 4\r\nX-A: 1\nDate: Mon\r\n"
              "ETag: \"theirs\"\r\nAge: 3\r\nContent-Encoding: gzip\r\nno colon here\r\n"
              "Cache-Control: max-age=60";
  s.headers_len = strlen(s.headers);
  rs_entry_t *e = rs_entry_build(&s);
  char expect[128];
  snprintf(expect, sizeof expect,
           "Content-Type: text/plain\r\nX-A: 1\r\nCache-Control: max-age=60\r\nETag: %s\r\n", e->etag);
  ASSERT_MEM_EQ(e->headers, e->headers_len, expect, strlen(expect));
  rs_entry_release(e);

  s = spec_for("body", 4);                     /* no headers at all */
  s.headers = NULL;
  s.headers_len = 0;
  e = rs_entry_build(&s);
  snprintf(expect, sizeof expect, "ETag: %s\r\n", e->etag);
  ASSERT_MEM_EQ(e->headers, e->headers_len, expect, strlen(expect));
  rs_entry_release(e);

  /* Many bare-LF lines: the block grows while it is rebuilt. */
  rs_buf_t b = { 0 };
  for (int i = 0; i < 300; i++) rs_buf_printf(&b, "X-%d:%d\n", i, i);
  s = spec_for("body", 4);
  s.headers = b.p;
  s.headers_len = b.len;
  e = rs_entry_build(&s);
  ASSERT(e != NULL);
  ASSERT(has_header(e, "\r\nX-299:299\r\nETag: "));
  ASSERT_MEM_EQ(e->headers, 7, "X-0:0\r\n", 7);
  rs_entry_release(e);
  rs_buf_free(&b);
}

static void test_tags(void) {
  const char *tags[] = { "product:1", "catalogue" };
  size_t lens[] = { 9, 9 };
  rs_entry_spec_t s = spec_for("x", 1);
  s.tags = tags;
  s.tag_lens = lens;
  s.ntags = 2;
  s.epoch = 7;
  rs_entry_t *e = rs_entry_build(&s);
  ASSERT_EQ(e->ntags, 2);
  ASSERT_STR_EQ(e->tags[0], "product:1");
  ASSERT_STR_EQ(e->tags[1], "catalogue");
  ASSERT(e->tags[0] != tags[0]);
  ASSERT_EQ(e->epoch, 7);
  rs_entry_release(e);
}

static void test_refcount(void) {
  rs_entry_spec_t s = spec_for("x", 1);
  rs_entry_t *e = rs_entry_build(&s);
  rs_entry_ref(e);
  rs_entry_ref(e);
  ASSERT_EQ(rs_entry_refs(e), 3);
  rs_entry_release(e);
  rs_entry_release(e);
  ASSERT_EQ(rs_entry_refs(e), 1);
  ASSERT_MEM_EQ(e->body[0].p, e->body[0].len, "x", 1);   /* still valid */
  ASSERT_EQ(((uintptr_t)e) % RS_CACHELINE, 0);
  rs_entry_release(e);                         /* freed: ASan/LSan would see a leak or a double free */
  rs_entry_release(NULL);
}

static bool gunzip_eq(const rs_entry_t *e, const char *want, size_t len) {
  char *out = malloc(len + 16);
  z_stream zs;
  memset(&zs, 0, sizeof zs);
  if (inflateInit2(&zs, 31) != Z_OK) { free(out); return false; }
  zs.next_in = (Bytef *)e->body[RS_ENC_GZIP].p;
  zs.avail_in = (uInt)e->body[RS_ENC_GZIP].len;
  zs.next_out = (Bytef *)out;
  zs.avail_out = (uInt)(len + 16);
  int rc = inflate(&zs, Z_FINISH);
  bool ok = rc == Z_STREAM_END && zs.total_out == len && memcmp(out, want, len) == 0;
  inflateEnd(&zs);
  free(out);
  return ok;
}

/* The deflate state is per thread and reused: level changes, pages that
 * do not compress (an unfinished stream) in between, and threads that exit
 * (the destructor frees it: LSan would see a leak). */
static void *build_many(void *arg) {
  size_t len;
  char *html = html_page(&len);
  long bad = 0;
  char *noise = malloc(4096);
  uint64_t x = 0x2545f4914f6cdd1dull;
  for (int i = 0; i < 4096; i++) {
    x ^= x << 13; x ^= x >> 7; x ^= x << 17;
    noise[i] = (char)(x >> 32);
  }
  for (int i = 0; i < 20; i++) {
    rs_entry_spec_t s = spec_for(html, len - (size_t)i);
    s.gzip_level = 1 + (i % 3) * 4;
    s.brotli_quality = -1;
    rs_entry_t *e = rs_entry_build(&s);
    if (e == NULL || e->body[RS_ENC_GZIP].p == NULL || !gunzip_eq(e, html, len - (size_t)i)) bad++;
    rs_entry_release(e);
    s = spec_for(noise, 4096);                 /* deflate stops short of the end */
    s.gzip_level = 1 + (i % 3) * 4;
    e = rs_entry_build(&s);
    if (e->body[RS_ENC_GZIP].p != NULL) bad++;
    rs_entry_release(e);
  }
  free(noise);
  free(html);
  return (void *)bad;
}

static void test_deflater_reuse(void) {
  ASSERT_EQ((long)build_many(NULL), 0);        /* this thread */
  pthread_t th[3];
  for (int i = 0; i < 3; i++) ASSERT_EQ(pthread_create(&th[i], NULL, build_many, NULL), 0);
  for (int i = 0; i < 3; i++) {
    void *bad;
    pthread_join(th[i], &bad);
    ASSERT_EQ((long)bad, 0);
  }
}

/* A fake entry with chosen variant sizes (pick reads only body[]). */
static rs_entry_t fake(size_t id, size_t gz, size_t br) {
  static const char bytes[1] = { 0 };
  rs_entry_t e;
  memset(&e, 0, sizeof e);
  e.body[RS_ENC_IDENTITY].p = bytes;
  e.body[RS_ENC_IDENTITY].len = id;
  if (gz) { e.body[RS_ENC_GZIP].p = bytes; e.body[RS_ENC_GZIP].len = gz; }
  if (br) { e.body[RS_ENC_BR].p = bytes; e.body[RS_ENC_BR].len = br; }
  return e;
}

#define I RS_ENC_IDENTITY
#define G RS_ENC_GZIP
#define B RS_ENC_BR

static void test_pick_table(void) {
  rs_entry_t all = fake(1000, 300, 250);
  static const struct { const char *ae; rs_encoding_t want; } t[] = {
    { "", I },
    { "gzip, deflate, br", B },
    { "gzip, deflate, br, zstd", B },
    { "gzip", G },
    { "br", B },
    { "br;q=0, gzip", G },
    { "br; q=0, gzip", G },
    { "br ;q=0 , gzip", G },
    { "gzip;q=0.5, br;q=0.4", B },             /* both acceptable: the smaller */
    { "gzip;q=1.0, br;q=0.001", B },
    { "*", B },
    { "*;q=0", I },                            /* nothing acceptable: identity, not 406 */
    { "identity;q=0", I },                     /* br/gzip unlisted: not acceptable */
    { "identity;q=0, gzip", G },
    { "*;q=0, br", B },
    { "gzip;q=0, *", B },
    { "br;q=0, *", G },
    { "br;q=0, gzip;q=0, *", I },
    { "BR", B },
    { "GZip", G },
    { "x-gzip", G },
    { "Br;Q=0.5", B },
    { "br;q=0.000, gzip", G },
    { "br;q=1.000, gzip", B },
    { "br;q=1.001, gzip", G },                 /* bad qvalue: element ignored */
    { "br;q=0.0001, gzip", G },
    { "br;q=abc, gzip", G },
    { "br;q=, gzip", G },
    { "br;q=-1, gzip", G },
    { "br;level=5", B },                       /* other parameters ignored */
    { "br;q=0, br;q=1", B },                   /* repeats: the highest q */
    { "deflate", I },
    { "compress, deflate", I },
    { ",,, ,br,", B },
    { "\tgzip\t", G },
    { "gzip;q=0.5;q=0", I },                   /* the last q parameter counts */
    { "brotli", I },
    { "g zip", I },
    { "identity", I },
    { "identity, gzip;q=0.1", G },             /* smaller wins even at lower q */
  };
  for (size_t i = 0; i < RS_ARRAY_SIZE(t); i++) {
    rs_encoding_t got = rs_entry_pick(&all, t[i].ae, strlen(t[i].ae));
    if (got != t[i].want)
      TAP_FAIL("pick(\"%s\") = %s, want %s", t[i].ae, rs_encoding_name(got),
               rs_encoding_name(t[i].want));
  }
  ASSERT_EQ(rs_entry_pick(&all, NULL, 0), I);
  /* The length bounds the value: no NUL needed, bytes after it unread. */
  ASSERT_EQ(rs_entry_pick(&all, "gzip, br", 4), G);

  /* Only the variants that exist. */
  rs_entry_t gz_only = fake(1000, 300, 0);
  ASSERT_EQ(rs_entry_pick(&gz_only, "br", 2), I);
  ASSERT_EQ(rs_entry_pick(&gz_only, "br, gzip", 8), G);
  ASSERT_EQ(rs_entry_pick(&gz_only, "*", 1), G);
  rs_entry_t id_only = fake(10, 0, 0);
  ASSERT_EQ(rs_entry_pick(&id_only, "br, gzip", 8), I);
  ASSERT_EQ(rs_entry_pick(&id_only, "*;q=0", 5), I);

  /* A gzip smaller than br (it happens on small pages): gzip wins. */
  rs_entry_t gz_smaller = fake(1000, 240, 250);
  ASSERT_EQ(rs_entry_pick(&gz_smaller, "gzip, br", 8), G);
  ASSERT_EQ(rs_entry_pick(&gz_smaller, "gzip;q=0, br", 12), B);
}

/* Tie rule: equal sizes go to the higher q, then br > gzip > identity. */
static void test_pick_ties(void) {
  rs_entry_t tie = fake(1000, 300, 300);
  ASSERT_EQ(rs_entry_pick(&tie, "gzip, br", 8), B);
  ASSERT_EQ(rs_entry_pick(&tie, "br, gzip", 8), B);
  const char *a = "gzip;q=1, br;q=0.5";
  ASSERT_EQ(rs_entry_pick(&tie, a, strlen(a)), G);
  a = "gzip;q=0.5, br;q=0.5";
  ASSERT_EQ(rs_entry_pick(&tie, a, strlen(a)), B);
  a = "gzip;q=0.9, *;q=0.8";
  ASSERT_EQ(rs_entry_pick(&tie, a, strlen(a)), G);
  /* Identity is only chosen over a compressed variant when nothing smaller
   * is acceptable: compressed variants exist only when strictly smaller. */
  rs_entry_t e = fake(1000, 300, 0);
  a = "identity;q=1, gzip;q=0.1";
  ASSERT_EQ(rs_entry_pick(&e, a, strlen(a)), G);
}

/* Garbage never crashes, never reads past len (ASan), and always yields a
 * variant that exists. */
static void test_pick_fuzz(void) {
  rs_entry_t all = fake(1000, 300, 250);
  rs_entry_t gz_only = fake(1000, 300, 0);
  static const char alphabet[] = "brgzipidentyx*;q=0.15,\t -QBR\"";
  char buf[96];
  for (int iter = 0; iter < 200000; iter++) {
    size_t len = rng() % sizeof buf;
    bool ascii = iter & 1;
    for (size_t i = 0; i < len; i++)
      buf[i] = ascii ? alphabet[rng() % (sizeof alphabet - 1)] : (char)rng();
    /* An exact-size heap copy so ASan sees any read past len. */
    char *p = malloc(len ? len : 1);
    memcpy(p, buf, len);
    rs_encoding_t a = rs_entry_pick(&all, p, len);
    rs_encoding_t b = rs_entry_pick(&gz_only, p, len);
    free(p);
    if ((unsigned)a >= RS_ENC_MAX || all.body[a].p == NULL) TAP_FAIL("bad pick %d", a);
    if ((unsigned)b >= RS_ENC_MAX || gz_only.body[b].p == NULL) TAP_FAIL("bad pick %d", b);
  }
}

/* Deferred variants: build only what the first client takes, complete the
 * rest later into a new entry with the same key, ETag, times and tags. */
static void test_defer_and_complete(void) {
  size_t len;
  char *html = html_page(&len);
  rs_entry_spec_t s = spec_for(html, len);
  const char *tags[1] = { "catalog" };
  size_t tag_lens[1] = { 7 };
  s.tags = tags, s.tag_lens = tag_lens, s.ntags = 1;
  s.defer = rs_entry_defer_for(rs_entry_accepts("gzip, deflate, br", 17));
  ASSERT_EQ(s.defer, 1u << RS_ENC_GZIP);
  rs_entry_t *e = rs_entry_build(&s);
  ASSERT(e != NULL);
  ASSERT(e->body[RS_ENC_BR].p != NULL);
  ASSERT(e->body[RS_ENC_GZIP].p == NULL);
  ASSERT_EQ(e->deferred, 1u << RS_ENC_GZIP);
  ASSERT(has_header(e, "Vary: Accept-Encoding\r\n"));
  ASSERT_EQ(rs_entry_pick(e, "gzip", 4), RS_ENC_IDENTITY);  /* not built yet */

  /* Only a client that wants a deferred variant claims, and only once. */
  ASSERT(!rs_entry_claim_completion(e, rs_entry_accepts("br", 2)));
  ASSERT(rs_entry_claim_completion(e, rs_entry_accepts("gzip", 4)));
  ASSERT(!rs_entry_claim_completion(e, rs_entry_accepts("gzip", 4)));

  rs_entry_t *full = rs_entry_complete(e, 6, 5);
  ASSERT(full != NULL);
  ASSERT_EQ(full->deferred, 0);
  ASSERT(full->body[RS_ENC_GZIP].p != NULL);
  ASSERT_MEM_EQ(full->body[RS_ENC_BR].p, full->body[RS_ENC_BR].len, e->body[RS_ENC_BR].p,
                e->body[RS_ENC_BR].len);
  ASSERT_MEM_EQ(full->body[0].p, full->body[0].len, html, len);
  ASSERT_MEM_EQ(full->etag, full->etag_len, e->etag, e->etag_len);
  ASSERT_MEM_EQ(full->headers, full->headers_len, e->headers, e->headers_len);
  ASSERT_MEM_EQ(full->key, full->key_len, e->key, e->key_len);
  ASSERT_EQ(full->created_ms, e->created_ms);
  ASSERT_EQ(full->ttl_ms, e->ttl_ms);
  ASSERT_EQ(full->ntags, 1);
  ASSERT_STR_EQ(full->tags[0], "catalog");
  ASSERT(full->size > e->size);
  ASSERT_EQ(rs_entry_pick(full, "gzip", 4), RS_ENC_GZIP);
  rs_entry_release(full);
  rs_entry_release(e);

  /* A client that takes nothing: identity only, both deferred. */
  s = spec_for(html, len);
  s.defer = rs_entry_defer_for(rs_entry_accepts(NULL, 0));
  e = rs_entry_build(&s);
  ASSERT(e->body[RS_ENC_GZIP].p == NULL && e->body[RS_ENC_BR].p == NULL);
  ASSERT_EQ(e->deferred, (1u << RS_ENC_GZIP) | (1u << RS_ENC_BR));
  rs_entry_release(e);

  /* A small body defers nothing: there was nothing to build. */
  s = spec_for("<p>hi</p>", 9);
  s.defer = rs_entry_defer_for(0);
  e = rs_entry_build(&s);
  ASSERT_EQ(e->deferred, 0);
  ASSERT(!has_header(e, "Vary: Accept-Encoding\r\n"));
  rs_entry_release(e);
  free(html);
}

static void test_accepts(void) {
  unsigned g = 1u << RS_ENC_GZIP, b = 1u << RS_ENC_BR;
  ASSERT_EQ(rs_entry_accepts("", 0), 0);
  ASSERT_EQ(rs_entry_accepts("gzip", 4), g);
  ASSERT_EQ(rs_entry_accepts("br;q=0.5, gzip;q=0", 18), b);
  ASSERT_EQ(rs_entry_accepts("*", 1), g | b);
  ASSERT_EQ(rs_entry_accepts("identity", 8), 0);
  ASSERT_EQ(rs_entry_accepts("x-gzip, *;q=0", 13), g);
  ASSERT_EQ(rs_entry_defer_for(g | b), g);
  ASSERT_EQ(rs_entry_defer_for(g), b);
}

int main(void) {
  RS_TEST(test_tiny_body_identity_only);
  RS_TEST(test_empty_body);
  RS_TEST(test_random_body_identity_only);
  RS_TEST(test_html_variants_roundtrip);
  RS_TEST(test_compression_switches);
  RS_TEST(test_adopt_body);
  RS_TEST(test_etag);
  RS_TEST(test_stored_headers);
  RS_TEST(test_tags);
  RS_TEST(test_refcount);
  RS_TEST(test_deflater_reuse);
  RS_TEST(test_pick_table);
  RS_TEST(test_pick_ties);
  RS_TEST(test_pick_fuzz);
  RS_TEST(test_defer_and_complete);
  RS_TEST(test_accepts);
  RS_TEST_DONE();
}
