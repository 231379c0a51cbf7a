/* core/fleet/rs_blob.h — a cached page as the shared tier stores it: one
 * self-checking byte string per page (../shared/FLEET.md §3, "Blob").
 *
 * Layout (little-endian), then an XXH3-64 of every byte before it:
 *
 *   "RSP1" | u16 version (1) | u16 status | u8 variants | u8 deferred | u16 0
 *   u64 created_unix_ms | u64 ttl_ms | u64 grace_ms | u64 start_seq | u64 render_id
 *   u64 bundle (the entry's: the bundle that rendered it, 0 for none)
 *   u32 key_len | u32 headers_len | u32 ntags | u32 tags_len
 *   u32 body_len[identity, gzip, br] | u8 etag_len | char etag[23]
 *   key NUL | headers | tags (NUL-terminated, one after another) | bodies
 *   u64 checksum
 *
 * The full key is inside, compared on load: a hash collision, a truncated
 * write or a blob of another version is a miss, never another page. Every
 * variant built travels as is (an L3 hit compresses nothing). Freshness is
 * the creation time on the wall clock; a page loaded from the tier keeps the
 * TTL and grace it has left (a load never extends a page's life). */
#ifndef RS_BLOB_H
#define RS_BLOB_H

#include "rs_entry.h"

#define RS_BLOB_VERSION 2   /* 2: the bundle id */

typedef enum {
  RS_BLOB_OK = 0,
  RS_BLOB_CORRUPT,               /* not a blob of this version, or damaged */
  RS_BLOB_OTHER_KEY,             /* a sound blob of another page */
  RS_BLOB_EXPIRED,               /* past its TTL and grace */
  RS_BLOB_NOMEM,
} rs_blob_status_t;

/* What the fleet keeps beside the page: the purge sequence when its render
 * began (a purge after it refuses the store) and who rendered it. */
typedef struct {
  uint64_t start_seq;
  uint64_t render_id;
} rs_blob_meta_t;

/* e as a malloc'd blob (*len bytes), or NULL when it would exceed max_bytes
 * (such pages stay in L1/L2 only) or memory ran out. Any thread. */
char *rs_blob_encode(const rs_entry_t *e, const rs_blob_meta_t *meta, size_t max_bytes, size_t *len);

/* The page in blob, as a new entry with one reference (*out), when it is
 * sound, holds key, and is still servable at now_unix_ms. hash and epoch
 * become the entry's (the caller's cache hash of key, and the cache epoch
 * when the lookup began, so a purge during the lookup refuses it). meta may
 * be NULL. Never reads outside [blob, blob + len). Any thread. */
rs_blob_status_t rs_blob_decode(const char *blob, size_t len, const char *key, size_t key_len, uint64_t hash,
                                uint64_t epoch, uint64_t now_unix_ms, rs_entry_t **out, rs_blob_meta_t *meta);

/* The wall clock in ms, as rs_blob_* reads it. */
uint64_t rs_blob_now_unix_ms(void);

const char *rs_blob_status_name(rs_blob_status_t s);

#endif
