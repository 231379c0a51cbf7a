/* core/cache/rs_entry.h — a cached page: immutable once built, shared by L2, every
 * L1 and every write in flight, freed when the last reference goes.
 *
 * Built on a render thread (compression happens there, never on a loop
 * thread); read by any thread. Only _refs, _dead and _visited change after
 * build, and only through the functions and orders documented here. */
#ifndef RS_ENTRY_H
#define RS_ENTRY_H

#include "rs_coding.h"            /* rs_encoding_t, Accept-Encoding */
#include "rs_common.h"

#include <time.h>

typedef struct rs_entry_s {
  uint64_t hash;                 /* XXH3-64 of key */
  char *key;                     /* the full key, compared on every lookup
                                    (NUL-terminated, in the entry's block) */
  size_t key_len;
  int status;
  uint8_t _dead;                 /* private, atomic: RS_ENTRY_DEAD set once, when
                                    L2 drops (or refuses) the entry;
                                    RS_ENTRY_SOFT set once, when a soft purge
                                    makes it stale (_soft_ms). Here, in the
                                    padding of the first line, which an L1
                                    hit reads anyway (key, key_len) and
                                    nothing writes after build but these. */
  uint8_t deferred;              /* (1 << RS_ENC_*) variants worth building
                                    that were left for later (spec->defer):
                                    rs_entry_complete builds them */
  char *headers;                 /* stored header block: "Name: value\r\n"...,
                                    includes ETag and, when variants exist,
                                    "Vary: Accept-Encoding"; never Content-
                                    Length, Content-Encoding, Age, Date */
  size_t headers_len;
  struct {
    const char *p;               /* NULL when that variant was not built */
    size_t len;
  } body[RS_ENC_MAX];            /* identity always present (may be empty) */
  char etag[24];                 /* "\"<16 hex of XXH3(identity body)>\"" */
  size_t etag_len;
  char **tags;                   /* purge tags (owned), ntags of them */
  size_t ntags;
  uint64_t created_ms;           /* monotonic, rs_now_ms() at build */
  time_t created_unix;           /* wall clock, for Age */
  uint64_t ttl_ms;               /* fresh until created_ms + ttl_ms */
  uint64_t grace_ms;             /* then stale but servable until + grace_ms */
  uint64_t refresh_ms;           /* monotonic: from then on (before the expiry) an
                                    L2 hit starts one refresh ahead (prefresh),
                                    and L1s leave the page to L2; 0 = never */
  uint64_t epoch;                /* rs_cache_epoch() when the render began */
  uint64_t bundle;               /* the id of the bundle that rendered it
                                    (rs_pool_bundle_id); 0 = not a render */
  unsigned generation;           /* the configuration generation it came from */
  size_t size;                   /* bytes accounted: the entry itself, key,
                                    headers, tags and all variants */

  /* private (and _dead above) */
  /* The fields below change after build (refcounts from any thread, L2's
   * queue under a shard lock): on their own cache line, so those writes
   * never invalidate the line an L1 hit on another core reads. That is why
   * an entry is 64-byte aligned and only rs_entry_build allocates one. */
  uint32_t _refs __attribute__((aligned(RS_CACHELINE))); /* atomic */
  uint8_t _visited;              /* eviction bit / S3-FIFO frequency (0..3),
                                    under the shard lock */
  uint8_t _queue;                /* which L2 queue holds it (S3-FIFO: small
                                    or main), under the shard lock */
  uint8_t _completing;           /* atomic: rs_entry_claim_completion taken */
  uint8_t _prefreshed;           /* its refresh ahead was started (once), under
                                    the shard lock */
  uint64_t _soft_ms;             /* RS_ENTRY_SOFT: stale from then on (monotonic
                                    ms); written before the flag, under L2's
                                    shard lock */
  struct rs_entry_s *_next;      /* L2 bucket chain, under the shard lock */
  struct rs_entry_s *_qprev, *_qnext; /* L2 eviction queue, under the shard lock */
} rs_entry_t;

/* What a render produced, for rs_entry_build. Borrowed; copied. */
typedef struct {
  const char *key;
  size_t key_len;
  uint64_t hash;                 /* of key (rs_cache_hash) */
  int status;
  const char *headers;           /* the response's own header block */
  size_t headers_len;
  const char *body;
  size_t body_len;
  char *body_owned;              /* optional: a malloc'd body the entry may
                                    adopt instead of copying (then NULL'd) */
  const char *const *tags;
  const size_t *tag_lens;
  size_t ntags;
  uint64_t ttl_ms, grace_ms;
  uint64_t refresh_after_ms;     /* entry->refresh_ms = created + this; 0 = never
                                    (set only below ttl_ms) */
  uint64_t epoch;
  uint64_t bundle;               /* entry->bundle, entry->generation */
  unsigned generation;
  int gzip_level;                /* 1..9, 0 = no gzip variant */
  int brotli_quality;            /* 0..11, -1 = no br variant */
  size_t min_compress;           /* bodies shorter than this stay identity only */
  unsigned defer;                /* (1 << RS_ENC_GZIP) | (1 << RS_ENC_BR): do not
                                    build these now (entry->deferred records
                                    the ones that would have been); 0 = all */
} rs_entry_spec_t;

/* Variants on demand. Compressing costs about as much as a third of a
 * render (demo page: br 4 ~100 µs, gzip 1 ~40 µs, render ~500 µs), and on a
 * miss only one client is waiting: the page cache builds the variant that
 * client takes and defers the others (spec->defer). When a later client
 * accepts a deferred one, the first such hit claims the completion and a
 * render thread builds the full entry, which replaces the partial one in L2
 * (rs_cache_replace). Pages asked for once never pay for variants nobody
 * wanted. */

/* Build an entry with one reference (the caller's). Compresses gzip and br
 * variants when the body is at least min_compress bytes and the result is
 * smaller; computes the ETag; adds "ETag" and "Vary: Accept-Encoding" to
 * the stored headers. Any thread (meant for render threads). Returns NULL
 * when out of memory (spec->body_owned is then still the caller's).
 *
 * The spec's header block is "Name: value\r\n" lines (a bare "\n" or a
 * missing final line end is tolerated); lines naming Content-Length,
 * Content-Encoding, Transfer-Encoding, Age, Date or ETag are dropped, since
 * the writer or the cache supplies those. */
rs_entry_t *rs_entry_build(rs_entry_spec_t *spec);

/* A copy of e with every deferred variant built (deferred = 0), the same
 * key, headers, ETag, tags, times and epoch: the page it replaces, complete.
 * Any thread (a render thread). NULL when out of memory. */
rs_entry_t *rs_entry_complete(const rs_entry_t *e, int gzip_level, int brotli_quality);

/* True for the one caller that should start e's completion: e has deferred
 * variants that accept (a mask from rs_entry_accepts) wants, and nobody
 * claimed it before. Any thread; one atomic exchange, only when it may be
 * true. */
static inline bool rs_entry_claim_completion(rs_entry_t *e, unsigned accept) {
  return (e->deferred & accept) != 0 && !__atomic_load_n(&e->_completing, __ATOMIC_RELAXED) &&
         !__atomic_exchange_n(&e->_completing, 1, __ATOMIC_RELAXED);
}

/* Take another reference. Any thread holding one already. */
void rs_entry_ref(rs_entry_t *e);
/* Drop one; the last frees the entry. Any thread. NULL is a no-op. */
void rs_entry_release(rs_entry_t *e);
/* The current count, for tests and assertions only (racy by nature). */
uint32_t rs_entry_refs(const rs_entry_t *e);

enum { RS_ENTRY_DEAD = 1, RS_ENTRY_SOFT = 2 };

/* True once the entry was removed from L2 (purged, evicted, replaced,
 * expired); a relaxed load, no RMW. */
static inline bool rs_entry_dead(const rs_entry_t *e) {
  return (__atomic_load_n(&e->_dead, __ATOMIC_RELAXED) & RS_ENTRY_DEAD) != 0;
}
/* Dead or soft-purged: what an L1 must no longer serve (it asks L2, which
 * answers a soft-purged page as stale). One relaxed byte load. */
static inline bool rs_entry_flagged(const rs_entry_t *e) {
  return __atomic_load_n(&e->_dead, __ATOMIC_RELAXED) != 0;
}
/* When the page stops being fresh: its TTL, or a soft purge's time if
 * earlier (acquire: pairs with the release that set the flag after
 * _soft_ms). */
static inline uint64_t rs_entry_expiry(const rs_entry_t *e) {
  uint64_t x = e->created_ms + e->ttl_ms;
  if (RS_UNLIKELY(__atomic_load_n(&e->_dead, __ATOMIC_ACQUIRE) & RS_ENTRY_SOFT) && e->_soft_ms < x)
    x = e->_soft_ms;
  return x;
}
/* Until when an L1 may answer with the page: its expiry, or the time its
 * refresh ahead is due (a hit must reach L2 to start it). */
static inline uint64_t rs_entry_l1_until(const rs_entry_t *e) {
  uint64_t x = e->created_ms + e->ttl_ms;
  return e->refresh_ms != 0 && e->refresh_ms < x ? e->refresh_ms : x;
}
static inline bool rs_entry_fresh(const rs_entry_t *e, uint64_t now_ms) {
  return now_ms < rs_entry_expiry(e);
}
/* Fresh, or stale within grace (after the TTL or the soft purge). */
static inline bool rs_entry_servable(const rs_entry_t *e, uint64_t now_ms) {
  return now_ms < rs_entry_expiry(e) + e->grace_ms;
}

/* The best variant for an Accept-Encoding header value (NULL/empty: identity).
 * q-values are honoured ("br;q=0" refuses br, "*;q=0" refuses everything
 * not listed, "identity;q=0" with nothing else acceptable still gets
 * identity: we never answer 406); among acceptable ones the smallest that
 * exists wins. Pure; any thread.
 *
 * Details (RFC 9110 §12.5.3): codings are case-insensitive, "x-gzip" is
 * gzip; "*" gives its q to every coding not listed; identity is acceptable
 * unless "identity;q=0", or "*;q=0" without an identity entry, refuses it;
 * a coding listed twice keeps its highest q; an element whose q-value does
 * not parse is ignored, as is any other parameter. Equal sizes (br and gzip
 * can tie) go to the higher q, then br, then gzip, then identity. */
rs_encoding_t rs_entry_pick(const rs_entry_t *e, const char *accept, size_t len);
/* (the q-values: rs_coding_accept_q, core/base/rs_coding.h) */

/* The codings an Accept-Encoding value accepts (q > 0), as a mask of
 * (1 << RS_ENC_GZIP) and (1 << RS_ENC_BR), with rs_entry_pick's rules.
 * 0 for NULL or empty. Pure; any thread. */
unsigned rs_entry_accepts(const char *accept, size_t len);

/* The one variant to build for a client with that mask when the others
 * are deferred: br if it takes it, else gzip, else none. Returns the mask
 * of variants to defer (spec->defer). */
static inline unsigned rs_entry_defer_for(unsigned accept) {
  unsigned all = (1u << RS_ENC_GZIP) | (1u << RS_ENC_BR);
  if (accept & (1u << RS_ENC_BR)) return all & ~(1u << RS_ENC_BR);
  if (accept & (1u << RS_ENC_GZIP)) return all & ~(1u << RS_ENC_GZIP);
  return all;
}

#endif
