/* core/base/rs_shdict.h — a dictionary shared by every thread of the
 * process, bounded in bytes (OpenResty's lua_shared_dict, without Lua: the
 * binding is lua/rs_lshared.c).
 *
 * Keys are byte strings (1..65535 bytes); values are nil-less typed
 * scalars: a string, a number (double) or a boolean, each with a 32-bit
 * user flag. Every item may expire (a TTL in milliseconds); an expired item
 * reads as absent and its memory is taken back by the next write that needs
 * room. Memory: each item costs RS_SHDICT_ITEM_OVERHEAD + key + value bytes
 * against the dictionary's capacity; a write that does not fit evicts
 * expired items, then the least recently used ones (set, add, replace, incr
 * with init), unless it is a safe_ write (then it fails with -ENOMEM).
 *
 * Dictionaries are named and live in a process registry: rs_shdict_acquire
 * of a name already held returns that dictionary (its items kept, as
 * nginx keeps a shared zone across a reload), resized to the new capacity.
 * Each acquire is paired with one rs_shdict_release; the last release
 * frees it.
 *
 * One mutex per dictionary, as OpenResty's shm zone mutex: every operation
 * is a few hundred nanoseconds of work on one small structure, and the LRU
 * order is global to the dictionary, so stripes would buy contention-free
 * lookups at the price of an inexact LRU. Every function is thread-safe. */
#ifndef RS_SHDICT_H
#define RS_SHDICT_H

#include "rs_common.h"

typedef struct rs_shdict_s rs_shdict_t;

typedef enum {
  RS_SHDICT_NONE = 0,            /* absent (a get's answer only) */
  RS_SHDICT_BOOLEAN,
  RS_SHDICT_NUMBER,
  RS_SHDICT_STRING,
} rs_shdict_type_t;

/* Bytes each item costs beyond its key and value (the node, its hash and
 * LRU links, its share of the bucket array, allocator slack). */
#define RS_SHDICT_ITEM_OVERHEAD 96
#define RS_SHDICT_KEY_MAX 65535
/* The smallest capacity a dictionary may have. */
#define RS_SHDICT_MIN_BYTES (8 * 1024)

/* A value, in or out. For strings, str/len: in a write, borrowed for the
 * call; in a read, the caller's buffer (rs_shdict_get). */
typedef struct {
  rs_shdict_type_t type;
  bool boolean;
  double number;
  const char *str;
  size_t len;
  uint32_t flags;
} rs_shdict_value_t;

/* The dictionary called name, created empty with capacity bytes or, when
 * held already, that one resized (items evicted, least recently used
 * first, down to the new capacity). Never NULL (out of memory is fatal:
 * called while a config loads). Main thread or any thread. */
rs_shdict_t *rs_shdict_acquire(const char *name, size_t capacity);
/* Drop one acquire; the last one frees the dictionary. NULL is ignored. */
void rs_shdict_release(rs_shdict_t *d);

/* The dictionary called name if some holder has acquired it, with one
 * more reference (release it), or NULL. */
rs_shdict_t *rs_shdict_find(const char *name, size_t len);

const char *rs_shdict_name(const rs_shdict_t *d);
size_t rs_shdict_capacity(const rs_shdict_t *d);
/* Bytes the live and expired-not-yet-reclaimed items count for. */
size_t rs_shdict_used(const rs_shdict_t *d);

/* Set modes for rs_shdict_set. */
typedef enum {
  RS_SHDICT_SET,                 /* always (nil-less: use rs_shdict_delete) */
  RS_SHDICT_ADD,                 /* only when absent (or expired): else -EEXIST */
  RS_SHDICT_REPLACE,             /* only when present: else -ENOENT */
} rs_shdict_mode_t;

/* Store v under key with ttl_ms (0 = never expires). safe: never evict an
 * item that has not expired; fail with -ENOMEM instead. Returns 0 (and
 * *forcible = true when live items were evicted to make room), -EEXIST /
 * -ENOENT as mode says, -ENOMEM (the item does not fit, even in an empty
 * dictionary when !safe), -EINVAL (empty or too long key). forcible may
 * be NULL. */
int rs_shdict_set(rs_shdict_t *d, const char *key, size_t klen, const rs_shdict_value_t *v,
                  uint64_t ttl_ms, rs_shdict_mode_t mode, bool safe, bool *forcible);

/* Read key into *v. A string value is copied into buf (cap bytes) and
 * v->str points there; when it does not fit, nothing is copied, v->len
 * says how long it is and the return is -ENOBUFS (call again with more).
 * Returns 0, or -ENOENT (absent or expired: v->type NONE). Makes the item
 * the most recently used. */
int rs_shdict_get(rs_shdict_t *d, const char *key, size_t klen, rs_shdict_value_t *v, char *buf,
                  size_t cap);

/* Add by to the number under key and store the sum in *out. When absent:
 * with has_init, store init + by with init_ttl_ms (0 = never); without,
 * -ENOENT. -EINVAL when the value is not a number. The item keeps its TTL.
 * Returns 0, -ENOENT, -EINVAL or -ENOMEM. *forcible as in rs_shdict_set. */
int rs_shdict_incr(rs_shdict_t *d, const char *key, size_t klen, double by, bool has_init,
                   double init, uint64_t init_ttl_ms, double *out, bool *forcible);

/* Remove key. Returns 0 or -ENOENT. */
int rs_shdict_delete(rs_shdict_t *d, const char *key, size_t klen);

/* The milliseconds key has left in *ms (0 = never expires). Returns 0 or
 * -ENOENT. */
int rs_shdict_ttl(rs_shdict_t *d, const char *key, size_t klen, uint64_t *ms);
/* Give key a new TTL (0 = never expires). Returns 0 or -ENOENT. */
int rs_shdict_expire(rs_shdict_t *d, const char *key, size_t klen, uint64_t ttl_ms);

/* Remove every item. */
void rs_shdict_flush_all(rs_shdict_t *d);

/* Call fn for at most max live keys (0 = all), most recently used first;
 * fn runs under the dictionary's lock: it must not call into d. Returns
 * how many. */
size_t rs_shdict_keys(rs_shdict_t *d, size_t max, void (*fn)(void *ud, const char *key, size_t klen),
                      void *ud);

/* The clock expiry reads (monotonic milliseconds); tests replace it. NULL
 * restores the default. Call before any thread uses a dictionary. */
void rs_shdict_set_clock(uint64_t (*now_ms)(void));

#endif
