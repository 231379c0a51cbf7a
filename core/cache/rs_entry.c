/* core/cache/rs_entry.c — see rs_entry.h.
 *
 * An entry is one 64-byte-aligned block for the struct and separate blocks
 * for the key, headers, tags and each variant: the compressed sizes are not
 * known before compressing, and adopting a rendered body (body_owned) saves
 * a copy of the largest part. Everything is written before the entry is
 * handed out, and never again except _refs, _dead and L2's private fields. */
#include "rs_entry.h"

#include <brotli/encode.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>
#include <zlib.h>

/* ------------------------------------------------------------------ build */

/* Header lines the stored block must not carry: the writer adds
 * Content-Length, Content-Encoding, Age and Date per response, and the ETag
 * is ours (of the identity body). */
static bool rs__header_dropped(const char *line, size_t len) {
  static const rs_str_t names[] = {
    RS_STR("content-length"), RS_STR("content-encoding"), RS_STR("transfer-encoding"),
    RS_STR("age"), RS_STR("date"), RS_STR("etag"),
  };
  const char *colon = memchr(line, ':', len);
  if (colon == NULL) return true;              /* not a header line: drop it */
  size_t nlen = (size_t)(colon - line);
  while (nlen > 0 && (line[nlen - 1] == ' ' || line[nlen - 1] == '\t')) nlen--;
  if (nlen == 0) return true;
  for (size_t i = 0; i < RS_ARRAY_SIZE(names); i++)
    if (rs_str_ieq(line, nlen, names[i].p, names[i].len)) return true;
  return false;
}

/* The stored header block: the spec's lines that survive, each ended with
 * CRLF, then ETag and, when a compressed variant exists, Vary. */
static char *rs__headers_build(const rs_entry_spec_t *spec, const char *etag,
                               size_t etag_len, bool vary, size_t *out_len) {
  static const char vary_line[] = "Vary: Accept-Encoding\r\n";
  size_t cap = spec->headers_len + 64 + etag_len + sizeof(vary_line);
  char *out = malloc(cap);
  if (out == NULL) return NULL;
  size_t n = 0;
  const char *p = spec->headers, *end = p ? p + spec->headers_len : NULL;
  while (p != NULL && p < end) {
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    const char *next = nl ? nl + 1 : end;
    size_t len = (size_t)((nl ? nl : end) - p);
    if (len > 0 && p[len - 1] == '\r') len--;
    /* Each kept line grows by at most 2 bytes ("\n" → "\r\n", or none). */
    if (len > 0 && !rs__header_dropped(p, len)) {
      if (n + len + 2 > cap - etag_len - sizeof(vary_line) - 16) {
        cap = cap * 2 + len;
        char *q = realloc(out, cap);
        if (q == NULL) { free(out); return NULL; }
        out = q;
      }
      memcpy(out + n, p, len);
      n += len;
      out[n++] = '\r';
      out[n++] = '\n';
    }
    p = next;
  }
  n += (size_t)snprintf(out + n, cap - n, "ETag: %.*s\r\n", (int)etag_len, etag);
  if (vary) {
    memcpy(out + n, vary_line, sizeof(vary_line) - 1);
    n += sizeof(vary_line) - 1;
  }
  *out_len = n;
  return out;
}


/* gzip (RFC 1952 wrapper: windowBits 15 + 16) into a buffer smaller than
 * the input, or NULL when it would not be smaller. */
static char *rs__gzip(const char *in, size_t len, int level, size_t *out_len) {
  if (len > UINT_MAX) return NULL;
  z_stream *zs = rs_coding_deflater(level);
  if (zs == NULL) return NULL;
  /* A buffer of len - 1 bytes: a result that does not fit is not worth
   * keeping, and deflate says so with Z_OK/Z_BUF_ERROR instead of
   * Z_STREAM_END. */
  size_t cap = len - 1;
  char *out = cap ? malloc(cap) : NULL;
  if (out == NULL) return NULL;
  zs->next_in = (Bytef *)(uintptr_t)in;
  zs->avail_in = (uInt)len;
  zs->next_out = (Bytef *)out;
  zs->avail_out = (uInt)cap;
  int rc = deflate(zs, Z_FINISH);
  size_t n = zs->total_out;
  if (rc != Z_STREAM_END || n >= len) { free(out); return NULL; }
  char *q = realloc(out, n);                   /* give back the slack */
  *out_len = n;
  return q ? q : out;
}

/* br into a buffer smaller than the input, or NULL. BrotliEncoderCompress
 * fails (rather than writing an uncompressed meta-block) when the output
 * does not fit, which is what we want. */
static char *rs__brotli(const char *in, size_t len, int quality, size_t *out_len) {
  size_t cap = len - 1;
  char *out = cap ? malloc(cap) : NULL;
  if (out == NULL) return NULL;
  size_t n = cap;
  if (!BrotliEncoderCompress(quality, BROTLI_DEFAULT_WINDOW, BROTLI_MODE_GENERIC, len,
                             (const uint8_t *)in, &n, (uint8_t *)out) ||
      n == 0 || n >= len) {
    free(out);
    return NULL;
  }
  char *q = realloc(out, n);
  *out_len = n;
  return q ? q : out;
}

/* Build variant enc of e's identity body at level (gzip) or quality (br);
 * left NULL when it would not be smaller or memory is short. */
static void rs__variant(rs_entry_t *e, rs_encoding_t enc, int level) {
  const char *in = e->body[RS_ENC_IDENTITY].p;
  size_t len = e->body[RS_ENC_IDENTITY].len, n = 0;
  char *out = enc == RS_ENC_GZIP ? rs__gzip(in, len, RS_MIN(level, 9), &n)
                                 : rs__brotli(in, len, RS_MIN(level, BROTLI_MAX_QUALITY), &n);
  if (out) { e->body[enc].p = out; e->body[enc].len = n; }
}

static void rs__entry_free(rs_entry_t *e) {
  for (int i = 0; i < RS_ENC_MAX; i++) free((void *)(uintptr_t)e->body[i].p);
  for (size_t i = 0; i < e->ntags; i++) free(e->tags[i]);
  free(e->tags);
  free(e->headers);
  free(e);                                     /* the key lives in the same block */
}

rs_entry_t *rs_entry_build(rs_entry_spec_t *spec) {
  /* The key right after the struct, in one block: every lookup compares
   * it, and there it costs no miss of its own (L2 in bench/cache_bench.c:
   * see bench/README.md). */
  size_t block = (sizeof(rs_entry_t) + spec->key_len + 1 + RS_CACHELINE - 1) &
                 ~(size_t)(RS_CACHELINE - 1);
  rs_entry_t *e = aligned_alloc(RS_CACHELINE, block);
  if (e == NULL) return NULL;
  memset(e, 0, sizeof *e);

  e->hash = spec->hash;
  e->status = spec->status;
  e->ttl_ms = spec->ttl_ms;
  e->grace_ms = spec->grace_ms;
  e->epoch = spec->epoch;
  e->bundle = spec->bundle;
  e->generation = spec->generation;
  e->key_len = spec->key_len;
  e->key = (char *)(e + 1);
  if (spec->key_len) memcpy(e->key, spec->key, spec->key_len);
  e->key[spec->key_len] = '\0';

  if (spec->ntags) {
    e->tags = calloc(spec->ntags, sizeof *e->tags);
    if (e->tags == NULL) goto fail;
    for (size_t i = 0; i < spec->ntags; i++) {
      size_t tl = spec->tag_lens ? spec->tag_lens[i] : strlen(spec->tags[i]);
      e->tags[i] = malloc(tl + 1);
      if (e->tags[i] == NULL) goto fail;
      e->ntags = i + 1;
      memcpy(e->tags[i], spec->tags[i], tl);
      e->tags[i][tl] = '\0';
      e->size += tl + 1;
    }
  }

  /* Identity: adopt the rendered buffer when offered, else copy. The
   * identity variant is never NULL, even for an empty body, so a writer
   * never has to special-case it. */
  const char *body = spec->body_owned ? spec->body_owned : spec->body;
  size_t blen = spec->body_len;
  char *ident;
  if (spec->body_owned) {
    ident = spec->body_owned;
  } else {
    ident = malloc(blen ? blen : 1);
    if (ident == NULL) goto fail;
    if (blen) memcpy(ident, body, blen);
  }
  e->body[RS_ENC_IDENTITY].p = ident;
  e->body[RS_ENC_IDENTITY].len = blen;

  bool compress = blen >= spec->min_compress && blen > 1;
  if (compress && spec->gzip_level > 0) {
    if (spec->defer & (1u << RS_ENC_GZIP)) e->deferred |= 1u << RS_ENC_GZIP;
    else rs__variant(e, RS_ENC_GZIP, spec->gzip_level);
  }
  if (compress && spec->brotli_quality >= 0) {
    if (spec->defer & (1u << RS_ENC_BR)) e->deferred |= 1u << RS_ENC_BR;
    else rs__variant(e, RS_ENC_BR, spec->brotli_quality);
  }

  uint64_t h = XXH3_64bits(ident, blen);
  e->etag_len = (size_t)snprintf(e->etag, sizeof e->etag, "\"%016llx\"", (unsigned long long)h);
  /* Vary as soon as the page may ever be sent compressed: a shared cache
   * downstream must not keep the identity bytes for everyone. */
  bool vary = e->body[RS_ENC_GZIP].p || e->body[RS_ENC_BR].p || e->deferred;
  e->headers = rs__headers_build(spec, e->etag, e->etag_len, vary, &e->headers_len);
  if (e->headers == NULL) goto fail;

  e->size += sizeof *e + e->key_len + e->headers_len + spec->ntags * sizeof(char *);
  for (int i = 0; i < RS_ENC_MAX; i++) e->size += e->body[i].len;
  e->created_ms = rs_now_ms();
  e->created_unix = time(NULL);
  if (spec->refresh_after_ms > 0 && spec->refresh_after_ms < spec->ttl_ms)
    e->refresh_ms = e->created_ms + spec->refresh_after_ms;
  /* Plain store: nobody else can see e until the caller publishes it, and
   * publishing (a lock, a queue) orders this before any other thread's read. */
  e->_refs = 1;
  spec->body_owned = NULL;                     /* adopted (if it was offered) */
  return e;

fail:
  /* body_owned stays the caller's: un-adopt it before freeing. */
  if (spec->body_owned && e->body[RS_ENC_IDENTITY].p == spec->body_owned)
    e->body[RS_ENC_IDENTITY].p = NULL;
  rs__entry_free(e);
  return NULL;
}

static char *rs__dup(const void *p, size_t n) {
  char *q = malloc(n ? n : 1);
  if (q != NULL && n) memcpy(q, p, n);
  return q;
}

rs_entry_t *rs_entry_complete(const rs_entry_t *src, int gzip_level, int brotli_quality) {
  size_t block = (sizeof(rs_entry_t) + src->key_len + 1 + RS_CACHELINE - 1) &
                 ~(size_t)(RS_CACHELINE - 1);
  rs_entry_t *e = aligned_alloc(RS_CACHELINE, block);
  if (e == NULL) return NULL;
  memset(e, 0, sizeof *e);
  e->hash = src->hash;
  e->status = src->status;
  e->ttl_ms = src->ttl_ms;
  e->grace_ms = src->grace_ms;
  e->epoch = src->epoch;
  e->bundle = src->bundle;
  e->generation = src->generation;
  e->created_ms = src->created_ms;
  e->created_unix = src->created_unix;
  e->refresh_ms = src->refresh_ms;
  memcpy(e->etag, src->etag, sizeof e->etag);
  e->etag_len = src->etag_len;
  e->key_len = src->key_len;
  e->key = (char *)(e + 1);
  memcpy(e->key, src->key, src->key_len + 1);
  e->headers = rs__dup(src->headers, src->headers_len);
  e->headers_len = src->headers_len;
  if (e->headers == NULL) goto fail;
  if (src->ntags) {
    e->tags = calloc(src->ntags, sizeof *e->tags);
    if (e->tags == NULL) goto fail;
    for (size_t i = 0; i < src->ntags; i++, e->ntags++) {
      e->tags[i] = rs__dup(src->tags[i], strlen(src->tags[i]) + 1);
      if (e->tags[i] == NULL) goto fail;
      e->size += strlen(src->tags[i]) + 1;
    }
  }
  for (int i = 0; i < RS_ENC_MAX; i++) {
    if (src->body[i].p == NULL) continue;
    e->body[i].p = rs__dup(src->body[i].p, src->body[i].len);
    if (e->body[i].p == NULL) goto fail;
    e->body[i].len = src->body[i].len;
  }
  if ((src->deferred & (1u << RS_ENC_GZIP)) && gzip_level > 0) rs__variant(e, RS_ENC_GZIP, gzip_level);
  if ((src->deferred & (1u << RS_ENC_BR)) && brotli_quality >= 0) rs__variant(e, RS_ENC_BR, brotli_quality);
  e->size += sizeof *e + e->key_len + e->headers_len + e->ntags * sizeof(char *);
  for (int i = 0; i < RS_ENC_MAX; i++) e->size += e->body[i].len;
  e->_refs = 1;
  return e;
fail:
  rs__entry_free(e);
  return NULL;
}

/* ------------------------------------------------------------------ refcount */

void rs_entry_ref(rs_entry_t *e) {
  /* Relaxed: the caller already holds a reference, so the count cannot
   * reach zero concurrently, and taking a reference publishes nothing; the
   * new owner learns of e through whatever handed it over (a lock, a queue),
   * which orders its reads. */
  __atomic_fetch_add(&e->_refs, 1, __ATOMIC_RELAXED);
}

void rs_entry_release(rs_entry_t *e) {
  if (e == NULL) return;
  /* Release on the decrement: every read or write this thread made through
   * e happens before the decrement, so before the free below. Acquire
   * before the free: the thread that frees sees every other owner's
   * accesses (their releases) completed. The acquire fence only runs on the
   * last release, so the common path is one lock xadd on x86.
   *
   * ThreadSanitizer does not model standalone fences (GCC's -Wtsan says so),
   * so under TSan the decrement itself is acq_rel, which is equivalent. */
#if defined(__SANITIZE_THREAD__)
  if (__atomic_fetch_sub(&e->_refs, 1, __ATOMIC_ACQ_REL) != 1) return;
#else
  if (__atomic_fetch_sub(&e->_refs, 1, __ATOMIC_RELEASE) != 1) return;
  __atomic_thread_fence(__ATOMIC_ACQUIRE);
#endif
  rs__entry_free(e);
}

uint32_t rs_entry_refs(const rs_entry_t *e) {
  return __atomic_load_n(&e->_refs, __ATOMIC_RELAXED);
}

/* ------------------------------------------------------------------ pick */

unsigned rs_entry_accepts(const char *accept, size_t len) {
  if (accept == NULL || len == 0) return 0;
  int eff[RS_ENC_MAX];
  rs_coding_accept_q(accept, len, eff);  /* effective q of each variant */
  return (eff[RS_ENC_GZIP] > 0 ? 1u << RS_ENC_GZIP : 0) | (eff[RS_ENC_BR] > 0 ? 1u << RS_ENC_BR : 0);
}

rs_encoding_t rs_entry_pick(const rs_entry_t *e, const char *accept, size_t len) {
  if (accept == NULL || len == 0) return RS_ENC_IDENTITY;
  if (e->body[RS_ENC_GZIP].p == NULL && e->body[RS_ENC_BR].p == NULL)
    return RS_ENC_IDENTITY;                    /* the common cheap case */
  int eff[RS_ENC_MAX];
  rs_coding_accept_q(accept, len, eff);  /* effective q of each variant */

  /* Smallest acceptable existing variant; ties: higher q, then br > gzip >
   * identity (the loop order, with a strict comparison, does the last). */
  static const rs_encoding_t order[] = { RS_ENC_BR, RS_ENC_GZIP, RS_ENC_IDENTITY };
  int best = -1;
  for (size_t k = 0; k < RS_ARRAY_SIZE(order); k++) {
    rs_encoding_t i = order[k];
    if (e->body[i].p == NULL || eff[i] <= 0) continue;
    if (best < 0 || e->body[i].len < e->body[best].len ||
        (e->body[i].len == e->body[best].len && eff[i] > eff[best]))
      best = (int)i;
  }
  /* Nothing acceptable (identity refused too): identity anyway, never 406. */
  return best < 0 ? RS_ENC_IDENTITY : (rs_encoding_t)best;
}
