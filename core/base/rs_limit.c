/* core/base/rs_limit.c — see rs_limit.h. */
#include "rs_limit.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

struct rs_limit_key_s {
  rs_limit_key_t *hnext;         /* the bucket's chain */
  rs_limit_key_t *prev, *next;   /* the stripe's LRU: head = most recent */
  uint64_t hash;                 /* of zone and key */
  uint64_t zone;
  uint64_t excess;               /* limit_req: thousandths of a request */
  uint64_t last_ms;              /* limit_req: when it last passed */
  uint64_t rate;                 /* limit_req: its zone's rate (to tell when it drained) */
  bool is_req;                   /* a limit_req key (else limit_conn's) */
  uint32_t conns;                /* limit_conn: requests in flight */
  uint16_t stripe;
  uint16_t klen;
  char key[];
};

typedef struct {
  pthread_mutex_t mu;
  rs_limit_key_t **buckets;
  size_t nbuckets;               /* a power of two */
  size_t count;
  rs_limit_key_t *head, *tail;
} __attribute__((aligned(RS_CACHELINE))) rs__stripe_t;

struct rs_limit_table_s {
  size_t max_per_stripe;         /* atomic: a reload may change it */
  rs__stripe_t stripes[RS_LIMIT_STRIPES];
};

static size_t rs__per_stripe(size_t max_keys) {
  size_t n = max_keys / RS_LIMIT_STRIPES;
  return n > 0 ? n : 1;
}

rs_limit_table_t *rs_limit_table_create(size_t max_keys) {
  rs_limit_table_t *t = rs_xcalloc(1, sizeof(*t));
  t->max_per_stripe = rs__per_stripe(max_keys);
  for (size_t i = 0; i < RS_LIMIT_STRIPES; i++) {
    pthread_mutex_init(&t->stripes[i].mu, NULL);
    t->stripes[i].nbuckets = 16;
    t->stripes[i].buckets = rs_xcalloc(16, sizeof(rs_limit_key_t *));
  }
  return t;
}

void rs_limit_table_destroy(rs_limit_table_t *t) {
  if (t == NULL) return;
  for (size_t i = 0; i < RS_LIMIT_STRIPES; i++) {
    rs__stripe_t *s = &t->stripes[i];
    for (rs_limit_key_t *k = s->head, *next; k != NULL; k = next) {
      next = k->next;
      free(k);
    }
    free(s->buckets);
    pthread_mutex_destroy(&s->mu);
  }
  free(t);
}

void rs_limit_table_set_max(rs_limit_table_t *t, size_t max_keys) {
  /* Relaxed: a stripe reading the old bound for a while only delays it. */
  __atomic_store_n(&t->max_per_stripe, rs__per_stripe(max_keys), __ATOMIC_RELAXED);
}

size_t rs_limit_table_count(rs_limit_table_t *t) {
  size_t n = 0;
  for (size_t i = 0; i < RS_LIMIT_STRIPES; i++) {
    pthread_mutex_lock(&t->stripes[i].mu);
    n += t->stripes[i].count;
    pthread_mutex_unlock(&t->stripes[i].mu);
  }
  return n;
}

/* ------------------------------------------------------------ one stripe */

static void rs__unlink(rs__stripe_t *s, rs_limit_key_t *k) {
  if (k->prev) k->prev->next = k->next; else s->head = k->next;
  if (k->next) k->next->prev = k->prev; else s->tail = k->prev;
}

static void rs__push(rs__stripe_t *s, rs_limit_key_t *k) {
  k->prev = NULL;
  k->next = s->head;
  if (s->head) s->head->prev = k; else s->tail = k;
  s->head = k;
}

static void rs__drop(rs__stripe_t *s, rs_limit_key_t *k) {
  rs_limit_key_t **pp = &s->buckets[k->hash & (s->nbuckets - 1)];
  while (*pp != k) pp = &(*pp)->hnext;
  *pp = k->hnext;
  rs__unlink(s, k);
  s->count--;
  free(k);
}

static void rs__grow(rs__stripe_t *s) {
  size_t nb = s->nbuckets * 2;
  rs_limit_key_t **b = rs_xcalloc(nb, sizeof(*b));
  for (size_t i = 0; i < s->nbuckets; i++)
    for (rs_limit_key_t *k = s->buckets[i], *next; k != NULL; k = next) {
      next = k->hnext;
      k->hnext = b[k->hash & (nb - 1)];
      b[k->hash & (nb - 1)] = k;
    }
  free(s->buckets);
  s->buckets = b;
  s->nbuckets = nb;
}

/* What a bucket of rate leaks in ms (128 bits: a fast rate over days
 * would overflow 64). */
static uint64_t rs__leaked(uint64_t rate, uint64_t ms) {
  unsigned __int128 l = (unsigned __int128)rate * ms / 60000;
  return l > UINT64_MAX ? UINT64_MAX : (uint64_t)l;
}

/* Is k's state the same as no key at all at now? Nothing in flight and,
 * for limit_req, its bucket drained so far that the next request would
 * find it empty, as a new key's first request does. */
static bool rs__idle(const rs_limit_key_t *k, uint64_t now_ms) {
  if (k->conns != 0) return false;
  if (!k->is_req) return true;
  uint64_t ms = now_ms > k->last_ms ? now_ms - k->last_ms : 0;
  return k->rate != 0 && rs__leaked(k->rate, ms) >= k->excess + 1000;
}

/* Make room for one key: drop drained keys from the LRU tail (a few, to
 * keep each call short), then the least recent one with nothing in flight.
 * Returns false when every key has requests in flight. */
static bool rs__room(rs__stripe_t *s, size_t max, uint64_t now_ms) {
  int scanned = 0;
  for (rs_limit_key_t *k = s->tail, *p; k != NULL && scanned < 8; k = p, scanned++) {
    p = k->prev;
    if (rs__idle(k, now_ms)) rs__drop(s, k);
  }
  if (s->count < max) return true;
  for (rs_limit_key_t *k = s->tail; k != NULL; k = k->prev)
    if (k->conns == 0) {
      rs__drop(s, k);
      return true;
    }
  return false;
}

/* The key's node, most recent now; created when absent (NULL when the
 * stripe is full of busy keys). Under s->mu. */
static rs_limit_key_t *rs__get(rs_limit_table_t *t, rs__stripe_t *s, uint64_t h, uint64_t zone, const char *key,
                               size_t klen, uint64_t now_ms, bool *created) {
  *created = false;
  rs_limit_key_t **pp = &s->buckets[h & (s->nbuckets - 1)];
  for (rs_limit_key_t *k = *pp; k != NULL; k = k->hnext)
    if (k->hash == h && k->zone == zone && k->klen == klen && memcmp(k->key, key, klen) == 0) {
      rs__unlink(s, k);
      rs__push(s, k);
      return k;
    }
  size_t max = __atomic_load_n(&t->max_per_stripe, __ATOMIC_RELAXED);
  if (s->count >= max && !rs__room(s, max, now_ms)) return NULL;
  rs_limit_key_t *k = malloc(sizeof(*k) + klen);
  if (k == NULL) return NULL;
  memset(k, 0, sizeof(*k));
  k->hash = h;
  k->zone = zone;
  k->klen = (uint16_t)klen;
  k->stripe = (uint16_t)(s - t->stripes);
  memcpy(k->key, key, klen);
  if (s->count >= s->nbuckets) rs__grow(s);
  pp = &s->buckets[h & (s->nbuckets - 1)];
  k->hnext = *pp;
  *pp = k;
  rs__push(s, k);
  s->count++;
  *created = true;
  return k;
}

static uint64_t rs__hash(uint64_t zone, const char *key, size_t klen) {
  return XXH3_64bits_withSeed(key, klen, zone);
}

rs_limit_verdict_t rs_limit_req(rs_limit_table_t *t, uint64_t zone, const char *key, size_t klen,
                                uint64_t rate, uint64_t burst, uint64_t now_ms, uint64_t *retry_ms) {
  if (klen > RS_LIMIT_KEY_MAX) klen = RS_LIMIT_KEY_MAX;
  uint64_t h = rs__hash(zone, key, klen);
  rs__stripe_t *s = &t->stripes[(h >> 58) % RS_LIMIT_STRIPES];
  rs_limit_verdict_t v = RS_LIMIT_PASS;
  pthread_mutex_lock(&s->mu);
  bool created;
  rs_limit_key_t *k = rs__get(t, s, h, zone, key, klen, now_ms, &created);
  if (k == NULL) {
    v = RS_LIMIT_FULL;
    *retry_ms = 1000;
  } else if (created) {
    k->excess = 0;               /* nginx: a new key's first request is free */
    k->last_ms = now_ms;
    k->rate = rate;
    k->is_req = true;
  } else {
    /* nginx's ngx_http_limit_req_lookup: excess - leaked + 1000, then
     * clamped at 0 (so a bucket that leaked a whole request since passes). */
    uint64_t ms = now_ms > k->last_ms ? now_ms - k->last_ms : 0;
    uint64_t leaked = rs__leaked(rate, ms);
    uint64_t excess = k->excess + 1000 > leaked ? k->excess + 1000 - leaked : 0;
    if (excess > burst * 1000) {
      v = RS_LIMIT_REJECT;
      /* When excess - leaked <= burst * 1000 again. */
      uint64_t over = excess - burst * 1000;
      *retry_ms = rate ? (over * 60000 + rate - 1) / rate : UINT64_MAX;
    } else {
      k->excess = excess;
      k->last_ms = now_ms;
      k->rate = rate;
    }
  }
  pthread_mutex_unlock(&s->mu);
  return v;
}

rs_limit_verdict_t rs_limit_conn_take(rs_limit_table_t *t, uint64_t zone, const char *key, size_t klen,
                                      uint32_t max, rs_limit_key_t **held) {
  if (klen > RS_LIMIT_KEY_MAX) klen = RS_LIMIT_KEY_MAX;
  uint64_t h = rs__hash(zone, key, klen);
  rs__stripe_t *s = &t->stripes[(h >> 58) % RS_LIMIT_STRIPES];
  rs_limit_verdict_t v = RS_LIMIT_PASS;
  *held = NULL;
  pthread_mutex_lock(&s->mu);
  bool created;
  rs_limit_key_t *k = rs__get(t, s, h, zone, key, klen, rs_now_ms(), &created);
  if (k == NULL) {
    v = RS_LIMIT_FULL;
  } else if (k->conns >= max) {
    v = RS_LIMIT_REJECT;
  } else {
    k->conns++;
    *held = k;
  }
  pthread_mutex_unlock(&s->mu);
  return v;
}

void rs_limit_conn_release(rs_limit_table_t *t, rs_limit_key_t *k) {
  rs__stripe_t *s = &t->stripes[k->stripe];
  pthread_mutex_lock(&s->mu);
  if (--k->conns == 0 && !k->is_req) rs__drop(s, k);   /* nothing left to remember */
  pthread_mutex_unlock(&s->mu);
}
