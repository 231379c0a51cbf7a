/* core/fleet/rs_blob.c — see rs_blob.h. */
#include "rs_blob.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <xxhash.h>

#define RS__BLOB_ETAG 23
/* magic 4, version 2, status 2, masks 2, pad 2, five u64, four u32, three
 * u32 body lengths, etag_len 1, etag 23 */
#define RS__BLOB_HEAD (4 + 2 + 2 + 2 + 2 + 6 * 8 + 4 * 4 + RS_ENC_MAX * 4 + 1 + RS__BLOB_ETAG)
#define RS__BLOB_SUM 8

uint64_t rs_blob_now_unix_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

const char *rs_blob_status_name(rs_blob_status_t s) {
  switch (s) {
  case RS_BLOB_OK: return "ok";
  case RS_BLOB_CORRUPT: return "corrupt";
  case RS_BLOB_OTHER_KEY: return "other key";
  case RS_BLOB_EXPIRED: return "expired";
  case RS_BLOB_NOMEM: return "out of memory";
  }
  return "?";
}

/* ------------------------------------------------------------ writing */

typedef struct {
  char *p;
  size_t off;
} rs__w_t;

static void rs__put(rs__w_t *w, const void *src, size_t n) {
  if (n) memcpy(w->p + w->off, src, n);
  w->off += n;
}
static void rs__put_u8(rs__w_t *w, uint8_t v) { rs__put(w, &v, 1); }
static void rs__put_u16(rs__w_t *w, uint16_t v) {
  uint8_t b[2] = { (uint8_t)v, (uint8_t)(v >> 8) };
  rs__put(w, b, 2);
}
static void rs__put_u32(rs__w_t *w, uint32_t v) {
  uint8_t b[4];
  for (int i = 0; i < 4; i++) b[i] = (uint8_t)(v >> (8 * i));
  rs__put(w, b, 4);
}
static void rs__put_u64(rs__w_t *w, uint64_t v) {
  uint8_t b[8];
  for (int i = 0; i < 8; i++) b[i] = (uint8_t)(v >> (8 * i));
  rs__put(w, b, 8);
}

char *rs_blob_encode(const rs_entry_t *e, const rs_blob_meta_t *meta, size_t max_bytes, size_t *len) {
  size_t tags_len = 0;
  for (size_t i = 0; i < e->ntags; i++) tags_len += strlen(e->tags[i]) + 1;
  size_t total = RS__BLOB_HEAD + e->key_len + 1 + e->headers_len + tags_len + RS__BLOB_SUM;
  uint8_t variants = 0;
  for (int i = 0; i < RS_ENC_MAX; i++) {
    if (e->body[i].p == NULL) continue;
    variants |= (uint8_t)(1u << i);
    total += e->body[i].len;
  }
  if (total > max_bytes || e->key_len > UINT32_MAX || e->headers_len > UINT32_MAX || e->etag_len > RS__BLOB_ETAG)
    return NULL;
  rs__w_t w = { malloc(total), 0 };
  if (w.p == NULL) return NULL;
  /* The wall-clock creation time of a page made on this machine: now, less
   * its age on the monotonic clock (the two clocks may disagree by the
   * time a clock step took; the age is what counts). */
  uint64_t now_ms = rs_now_ms(), age = now_ms > e->created_ms ? now_ms - e->created_ms : 0;
  uint64_t created_unix_ms = rs_blob_now_unix_ms() - age;
  rs__put(&w, "RSP1", 4);
  rs__put_u16(&w, RS_BLOB_VERSION);
  rs__put_u16(&w, (uint16_t)e->status);
  rs__put_u8(&w, variants);
  rs__put_u8(&w, e->deferred);
  rs__put_u16(&w, 0);
  rs__put_u64(&w, created_unix_ms);
  rs__put_u64(&w, e->ttl_ms);
  rs__put_u64(&w, e->grace_ms);
  rs__put_u64(&w, meta ? meta->start_seq : 0);
  rs__put_u64(&w, meta ? meta->render_id : 0);
  rs__put_u64(&w, e->bundle);
  rs__put_u32(&w, (uint32_t)e->key_len);
  rs__put_u32(&w, (uint32_t)e->headers_len);
  rs__put_u32(&w, (uint32_t)e->ntags);
  rs__put_u32(&w, (uint32_t)tags_len);
  for (int i = 0; i < RS_ENC_MAX; i++) rs__put_u32(&w, e->body[i].p ? (uint32_t)e->body[i].len : 0);
  rs__put_u8(&w, (uint8_t)e->etag_len);
  char etag[RS__BLOB_ETAG] = { 0 };
  memcpy(etag, e->etag, e->etag_len);
  rs__put(&w, etag, RS__BLOB_ETAG);
  rs__put(&w, e->key, e->key_len);
  rs__put_u8(&w, 0);
  rs__put(&w, e->headers, e->headers_len);
  for (size_t i = 0; i < e->ntags; i++) rs__put(&w, e->tags[i], strlen(e->tags[i]) + 1);
  for (int i = 0; i < RS_ENC_MAX; i++)
    if (e->body[i].p) rs__put(&w, e->body[i].p, e->body[i].len);
  rs__put_u64(&w, XXH3_64bits(w.p, w.off));
  *len = w.off;
  return w.p;
}

/* ------------------------------------------------------------ reading */

typedef struct {
  const uint8_t *p;
  size_t off, len;
} rs__r_t;

static uint64_t rs__get(rs__r_t *r, int n) {
  uint64_t v = 0;
  for (int i = 0; i < n; i++) v |= (uint64_t)r->p[r->off + (size_t)i] << (8 * i);
  r->off += (size_t)n;
  return v;
}

rs_blob_status_t rs_blob_decode(const char *blob, size_t len, const char *key, size_t key_len, uint64_t hash,
                                uint64_t epoch, uint64_t now_unix_ms, rs_entry_t **out, rs_blob_meta_t *meta) {
  *out = NULL;
  if (blob == NULL || len < RS__BLOB_HEAD + 1 + RS__BLOB_SUM || memcmp(blob, "RSP1", 4) != 0)
    return RS_BLOB_CORRUPT;
  rs__r_t r = { (const uint8_t *)blob, 4, len };
  rs__r_t sum = { (const uint8_t *)blob, len - RS__BLOB_SUM, len };
  if (rs__get(&sum, 8) != XXH3_64bits(blob, len - RS__BLOB_SUM)) return RS_BLOB_CORRUPT;
  if (rs__get(&r, 2) != RS_BLOB_VERSION) return RS_BLOB_CORRUPT;
  int status = (int)rs__get(&r, 2);
  unsigned variants = (unsigned)rs__get(&r, 1), deferred = (unsigned)rs__get(&r, 1);
  rs__get(&r, 2);
  uint64_t created_unix_ms = rs__get(&r, 8), ttl_ms = rs__get(&r, 8), grace_ms = rs__get(&r, 8);
  rs_blob_meta_t m = { .start_seq = rs__get(&r, 8), .render_id = rs__get(&r, 8) };
  uint64_t bundle = rs__get(&r, 8);
  uint64_t klen = rs__get(&r, 4), hlen = rs__get(&r, 4), ntags = rs__get(&r, 4), tlen = rs__get(&r, 4);
  uint64_t blen[RS_ENC_MAX];
  uint64_t need = klen + 1 + hlen + tlen;
  for (int i = 0; i < RS_ENC_MAX; i++) need += blen[i] = rs__get(&r, 4);
  size_t etag_len = (size_t)rs__get(&r, 1);
  const char *etag = blob + r.off;
  r.off += RS__BLOB_ETAG;
  /* Every length adds up to the blob exactly; identity is always there,
   * and a variant's length is 0 unless its bit is set. */
  if (need != len - RS__BLOB_HEAD - RS__BLOB_SUM || status < 100 || status > 599 || etag_len > RS__BLOB_ETAG ||
      !(variants & 1u) || variants >= (1u << RS_ENC_MAX) || deferred >= (1u << RS_ENC_MAX) ||
      ntags > tlen || ttl_ms > UINT32_MAX * 1000ull || grace_ms > UINT32_MAX * 1000ull)
    return RS_BLOB_CORRUPT;
  for (int i = 0; i < RS_ENC_MAX; i++)
    if (!(variants & (1u << i)) && blen[i] != 0) return RS_BLOB_CORRUPT;
  const char *k = blob + r.off;
  if (k[klen] != '\0') return RS_BLOB_CORRUPT;
  if (klen != key_len || memcmp(k, key, key_len) != 0) return RS_BLOB_OTHER_KEY;
  const char *headers = k + klen + 1;
  const char *tags = headers + hlen;
  const char *body = tags + tlen;

  /* Tags: ntags NUL-terminated strings filling tlen exactly. */
  char **tagv = NULL;
  if (ntags) {
    tagv = calloc(ntags, sizeof(*tagv));
    if (tagv == NULL) return RS_BLOB_NOMEM;
  }
  size_t t = 0;
  for (uint64_t i = 0; i < ntags; i++) {
    const char *nul = memchr(tags + t, '\0', tlen - t);
    if (nul == NULL) {
      free(tagv);
      return RS_BLOB_CORRUPT;
    }
    tagv[i] = (char *)(uintptr_t)(tags + t);
    t = (size_t)(nul - tags) + 1;
  }
  if (t != tlen) {
    free(tagv);
    return RS_BLOB_CORRUPT;
  }

  /* How long it has left: a clock behind the writer's counts the page as
   * new (age 0), never as younger than new. */
  uint64_t age = now_unix_ms > created_unix_ms ? now_unix_ms - created_unix_ms : 0;
  if (age >= ttl_ms + grace_ms) {
    free(tagv);
    return RS_BLOB_EXPIRED;
  }
  uint64_t now_ms = rs_now_ms(), created_ms;
  if (age <= now_ms) {
    created_ms = now_ms - age;
  } else {                                       /* older than this machine's uptime */
    uint64_t shift = age - now_ms;
    created_ms = 0;
    if (ttl_ms >= shift) ttl_ms -= shift;
    else grace_ms -= shift - ttl_ms, ttl_ms = 0;
  }

  /* A view of the blob as an entry, copied by rs_entry_complete with no
   * variant to build. */
  rs_entry_t view;
  memset(&view, 0, sizeof view);
  view.hash = hash;
  view.key = (char *)(uintptr_t)k;
  view.key_len = (size_t)klen;
  view.status = status;
  view.headers = (char *)(uintptr_t)headers;
  view.headers_len = (size_t)hlen;
  size_t boff = 0;
  for (int i = 0; i < RS_ENC_MAX; i++) {
    if (!(variants & (1u << i))) continue;
    view.body[i].p = body + boff;
    view.body[i].len = (size_t)blen[i];
    boff += (size_t)blen[i];
  }
  memcpy(view.etag, etag, etag_len);
  view.etag_len = etag_len;
  view.tags = tagv;
  view.ntags = (size_t)ntags;
  view.created_ms = created_ms;
  view.created_unix = (time_t)(created_unix_ms / 1000u);
  view.ttl_ms = ttl_ms;
  view.grace_ms = grace_ms;
  view.epoch = epoch;
  view.bundle = bundle;
  rs_entry_t *e = rs_entry_complete(&view, 0, -1);
  free(tagv);
  if (e == NULL) return RS_BLOB_NOMEM;
  e->deferred = (uint8_t)(deferred & ~variants);
  e->bundle = bundle;
  if (meta) *meta = m;
  *out = e;
  return RS_BLOB_OK;
}
