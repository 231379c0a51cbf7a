/* core/base/rs_shdict.c — see rs_shdict.h.
 *
 * A chained hash table (power-of-two buckets, grown when items outnumber
 * them) and one doubly linked LRU list through the same nodes. A node holds
 * its key and, for strings, its value in one allocation. */
#include "rs_shdict.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

typedef struct rs__node_s {
  struct rs__node_s *hnext;      /* the bucket's chain */
  struct rs__node_s *prev, *next; /* LRU: head = most recent */
  uint64_t hash;
  uint64_t expires_ms;           /* 0 = never */
  size_t cost;                   /* what it counts against the capacity */
  uint32_t flags;
  uint16_t klen;
  uint8_t type;                  /* rs_shdict_type_t */
  bool boolean;
  double number;
  size_t vlen;                   /* string values */
  char data[];                   /* key, then a string value */
} rs__node_t;

struct rs_shdict_s {
  pthread_mutex_t mu;
  char *name;
  size_t capacity, used;
  rs__node_t **buckets;
  size_t nbuckets;               /* a power of two */
  size_t count;
  rs__node_t *head, *tail;       /* LRU */
  /* Registry fields: under rs__reg_mu. */
  size_t refs;
  rs_shdict_t *_next;
};

static pthread_mutex_t rs__reg_mu = PTHREAD_MUTEX_INITIALIZER;
static rs_shdict_t *rs__reg;

static uint64_t rs__default_clock(void) { return rs_now_ms(); }
static uint64_t (*rs__clock)(void) = rs__default_clock;

void rs_shdict_set_clock(uint64_t (*now_ms)(void)) { rs__clock = now_ms ? now_ms : rs__default_clock; }

/* ------------------------------------------------------------ nodes, LRU */

static void rs__lru_unlink(rs_shdict_t *d, rs__node_t *n) {
  if (n->prev) n->prev->next = n->next; else d->head = n->next;
  if (n->next) n->next->prev = n->prev; else d->tail = n->prev;
  n->prev = n->next = NULL;
}

static void rs__lru_push(rs_shdict_t *d, rs__node_t *n) {
  n->prev = NULL;
  n->next = d->head;
  if (d->head) d->head->prev = n; else d->tail = n;
  d->head = n;
}

static rs__node_t **rs__slot(rs_shdict_t *d, const char *key, size_t klen, uint64_t h) {
  rs__node_t **pp = &d->buckets[h & (d->nbuckets - 1)];
  for (; *pp != NULL; pp = &(*pp)->hnext)
    if ((*pp)->hash == h && (*pp)->klen == klen && memcmp((*pp)->data, key, klen) == 0) return pp;
  return pp;
}

/* Unlink *pp (a chain slot) and free its node. */
static void rs__remove(rs_shdict_t *d, rs__node_t **pp) {
  rs__node_t *n = *pp;
  *pp = n->hnext;
  rs__lru_unlink(d, n);
  d->used -= n->cost;
  d->count--;
  free(n);
}

static void rs__remove_node(rs_shdict_t *d, rs__node_t *n) {
  rs__node_t **pp = &d->buckets[n->hash & (d->nbuckets - 1)];
  while (*pp != n) pp = &(*pp)->hnext;
  rs__remove(d, pp);
}

static bool rs__expired(const rs__node_t *n, uint64_t now) { return n->expires_ms != 0 && n->expires_ms <= now; }

/* The live node for key, or NULL (an expired one is freed on the way). */
static rs__node_t *rs__lookup(rs_shdict_t *d, const char *key, size_t klen, uint64_t h, uint64_t now) {
  rs__node_t **pp = rs__slot(d, key, klen, h);
  if (*pp == NULL) return NULL;
  if (rs__expired(*pp, now)) {
    rs__remove(d, pp);
    return NULL;
  }
  return *pp;
}

/* Make room for need more bytes: expired items first (from the LRU tail,
 * where they gather), then, unless safe, live ones, least recent first.
 * Returns false when it cannot. */
static bool rs__room(rs_shdict_t *d, size_t need, bool safe, uint64_t now, bool *forcible) {
  if (need > d->capacity) return false;
  if (d->used + need <= d->capacity) return true;
  for (rs__node_t *n = d->tail, *p; n != NULL && d->used + need > d->capacity; n = p) {
    p = n->prev;
    if (rs__expired(n, now)) rs__remove_node(d, n);
  }
  while (!safe && d->used + need > d->capacity) {
    rs__node_t *n = d->tail;
    if (n == NULL) return false;
    rs__remove_node(d, n);
    if (forcible) *forcible = true;
  }
  return d->used + need <= d->capacity;
}

static void rs__grow(rs_shdict_t *d) {
  size_t nb = d->nbuckets * 2;
  rs__node_t **b = rs_xcalloc(nb, sizeof(*b));
  for (size_t i = 0; i < d->nbuckets; i++)
    for (rs__node_t *n = d->buckets[i], *next; n != NULL; n = next) {
      next = n->hnext;
      n->hnext = b[n->hash & (nb - 1)];
      b[n->hash & (nb - 1)] = n;
    }
  free(d->buckets);
  d->buckets = b;
  d->nbuckets = nb;
}

static size_t rs__cost(size_t klen, const rs_shdict_value_t *v) {
  return RS_SHDICT_ITEM_OVERHEAD + klen + (v->type == RS_SHDICT_STRING ? v->len : 0);
}

static void rs__fill(rs__node_t *n, const rs_shdict_value_t *v, uint64_t ttl_ms, uint64_t now) {
  n->type = (uint8_t)v->type;
  n->flags = v->flags;
  n->boolean = v->boolean;
  n->number = v->number;
  n->vlen = v->type == RS_SHDICT_STRING ? v->len : 0;
  if (n->vlen) memcpy(n->data + n->klen, v->str, n->vlen);
  n->expires_ms = ttl_ms ? now + ttl_ms : 0;
}

/* ------------------------------------------------------------ registry */

static void rs__shrink_to(rs_shdict_t *d, size_t capacity) {
  d->capacity = capacity;
  while (d->used > d->capacity && d->tail != NULL) rs__remove_node(d, d->tail);
}

rs_shdict_t *rs_shdict_acquire(const char *name, size_t capacity) {
  if (capacity < RS_SHDICT_MIN_BYTES) capacity = RS_SHDICT_MIN_BYTES;
  pthread_mutex_lock(&rs__reg_mu);
  rs_shdict_t *d = rs__reg;
  while (d != NULL && strcmp(d->name, name) != 0) d = d->_next;
  if (d != NULL) {
    d->refs++;
    pthread_mutex_lock(&d->mu);
    rs__shrink_to(d, capacity);
    pthread_mutex_unlock(&d->mu);
  } else {
    d = rs_xcalloc(1, sizeof(*d));
    pthread_mutex_init(&d->mu, NULL);
    d->name = rs_xstrdup(name);
    d->capacity = capacity;
    d->nbuckets = 64;
    d->buckets = rs_xcalloc(d->nbuckets, sizeof(*d->buckets));
    d->refs = 1;
    d->_next = rs__reg;
    rs__reg = d;
  }
  pthread_mutex_unlock(&rs__reg_mu);
  return d;
}

rs_shdict_t *rs_shdict_find(const char *name, size_t len) {
  pthread_mutex_lock(&rs__reg_mu);
  rs_shdict_t *d = rs__reg;
  while (d != NULL && !(strlen(d->name) == len && memcmp(d->name, name, len) == 0)) d = d->_next;
  if (d != NULL) d->refs++;
  pthread_mutex_unlock(&rs__reg_mu);
  return d;
}

void rs_shdict_release(rs_shdict_t *d) {
  if (d == NULL) return;
  pthread_mutex_lock(&rs__reg_mu);
  bool last = --d->refs == 0;
  if (last) {
    rs_shdict_t **pp = &rs__reg;
    while (*pp != d) pp = &(*pp)->_next;
    *pp = d->_next;
  }
  pthread_mutex_unlock(&rs__reg_mu);
  if (!last) return;
  for (rs__node_t *n = d->head, *next; n != NULL; n = next) {
    next = n->next;
    free(n);
  }
  free(d->buckets);
  free(d->name);
  pthread_mutex_destroy(&d->mu);
  free(d);
}

const char *rs_shdict_name(const rs_shdict_t *d) { return d->name; }
size_t rs_shdict_capacity(const rs_shdict_t *d) {
  size_t c;
  pthread_mutex_lock((pthread_mutex_t *)&d->mu);
  c = d->capacity;
  pthread_mutex_unlock((pthread_mutex_t *)&d->mu);
  return c;
}
size_t rs_shdict_used(const rs_shdict_t *d) {
  size_t u;
  pthread_mutex_lock((pthread_mutex_t *)&d->mu);
  u = d->used;
  pthread_mutex_unlock((pthread_mutex_t *)&d->mu);
  return u;
}

/* ------------------------------------------------------------ operations */

static bool rs__key_ok(size_t klen) { return klen > 0 && klen <= RS_SHDICT_KEY_MAX; }

/* Store v under key as a new node (the old one, when present, replaced).
 * Under the lock. */
static int rs__store(rs_shdict_t *d, const char *key, size_t klen, uint64_t h, const rs_shdict_value_t *v,
                     uint64_t ttl_ms, bool safe, bool *forcible, uint64_t now) {
  rs__node_t **pp = rs__slot(d, key, klen, h);
  rs__node_t *old = *pp;
  size_t cost = rs__cost(klen, v);
  size_t vlen = v->type == RS_SHDICT_STRING ? v->len : 0;
  if (old != NULL && old->vlen == vlen) {   /* in place: the same allocation size */
    d->used -= old->cost;
    old->cost = cost;
    d->used += cost;
    rs__fill(old, v, ttl_ms, now);
    rs__lru_unlink(d, old);
    rs__lru_push(d, old);
    return 0;
  }
  if (old != NULL) rs__remove(d, pp);   /* as OpenResty: gone even when the new one does not fit */
  if (!rs__room(d, cost, safe, now, forcible)) return -ENOMEM;
  rs__node_t *n = malloc(sizeof(*n) + klen + vlen);
  if (n == NULL) return -ENOMEM;
  memset(n, 0, sizeof(*n));
  n->hash = h;
  n->klen = (uint16_t)klen;
  memcpy(n->data, key, klen);
  rs__fill(n, v, ttl_ms, now);
  n->cost = cost;
  if (d->count >= d->nbuckets) rs__grow(d);
  rs__node_t **b = &d->buckets[h & (d->nbuckets - 1)];
  n->hnext = *b;
  *b = n;
  rs__lru_push(d, n);
  d->used += cost;
  d->count++;
  return 0;
}

int rs_shdict_set(rs_shdict_t *d, const char *key, size_t klen, const rs_shdict_value_t *v,
                  uint64_t ttl_ms, rs_shdict_mode_t mode, bool safe, bool *forcible) {
  if (forcible) *forcible = false;
  if (!rs__key_ok(klen) || v->type == RS_SHDICT_NONE) return -EINVAL;
  uint64_t h = XXH3_64bits(key, klen);
  pthread_mutex_lock(&d->mu);
  uint64_t now = rs__clock();
  rs__node_t *n = rs__lookup(d, key, klen, h, now);
  int rc;
  if (mode == RS_SHDICT_ADD && n != NULL) rc = -EEXIST;
  else if (mode == RS_SHDICT_REPLACE && n == NULL) rc = -ENOENT;
  else rc = rs__store(d, key, klen, h, v, ttl_ms, safe, forcible, now);
  pthread_mutex_unlock(&d->mu);
  return rc;
}

int rs_shdict_get(rs_shdict_t *d, const char *key, size_t klen, rs_shdict_value_t *v, char *buf,
                  size_t cap) {
  memset(v, 0, sizeof(*v));
  if (!rs__key_ok(klen)) return -ENOENT;
  uint64_t h = XXH3_64bits(key, klen);
  int rc = 0;
  pthread_mutex_lock(&d->mu);
  rs__node_t *n = rs__lookup(d, key, klen, h, rs__clock());
  if (n == NULL) {
    rc = -ENOENT;
  } else {
    v->type = (rs_shdict_type_t)n->type;
    v->flags = n->flags;
    v->boolean = n->boolean;
    v->number = n->number;
    v->len = n->vlen;
    if (n->type == RS_SHDICT_STRING) {
      if (n->vlen <= cap) {
        if (n->vlen) memcpy(buf, n->data + n->klen, n->vlen);
        v->str = buf;
      } else {
        rc = -ENOBUFS;
      }
    }
    rs__lru_unlink(d, n);
    rs__lru_push(d, n);
  }
  pthread_mutex_unlock(&d->mu);
  return rc;
}

int rs_shdict_incr(rs_shdict_t *d, const char *key, size_t klen, double by, bool has_init,
                   double init, uint64_t init_ttl_ms, double *out, bool *forcible) {
  if (forcible) *forcible = false;
  if (!rs__key_ok(klen)) return -EINVAL;
  uint64_t h = XXH3_64bits(key, klen);
  int rc = 0;
  pthread_mutex_lock(&d->mu);
  uint64_t now = rs__clock();
  rs__node_t *n = rs__lookup(d, key, klen, h, now);
  if (n == NULL) {
    if (!has_init) {
      rc = -ENOENT;
    } else {
      rs_shdict_value_t v = { .type = RS_SHDICT_NUMBER, .number = init + by };
      rc = rs__store(d, key, klen, h, &v, init_ttl_ms, false, forcible, now);
      if (rc == 0) *out = v.number;
    }
  } else if (n->type != RS_SHDICT_NUMBER) {
    rc = -EINVAL;
  } else {
    n->number += by;
    *out = n->number;
    rs__lru_unlink(d, n);
    rs__lru_push(d, n);
  }
  pthread_mutex_unlock(&d->mu);
  return rc;
}

int rs_shdict_delete(rs_shdict_t *d, const char *key, size_t klen) {
  if (!rs__key_ok(klen)) return -ENOENT;
  uint64_t h = XXH3_64bits(key, klen);
  int rc = -ENOENT;
  pthread_mutex_lock(&d->mu);
  rs__node_t **pp = rs__slot(d, key, klen, h);
  if (*pp != NULL) {
    rc = rs__expired(*pp, rs__clock()) ? -ENOENT : 0;
    rs__remove(d, pp);
  }
  pthread_mutex_unlock(&d->mu);
  return rc;
}

int rs_shdict_ttl(rs_shdict_t *d, const char *key, size_t klen, uint64_t *ms) {
  if (!rs__key_ok(klen)) return -ENOENT;
  uint64_t h = XXH3_64bits(key, klen);
  int rc = -ENOENT;
  pthread_mutex_lock(&d->mu);
  uint64_t now = rs__clock();
  rs__node_t *n = rs__lookup(d, key, klen, h, now);
  if (n != NULL) {
    *ms = n->expires_ms ? n->expires_ms - now : 0;
    rc = 0;
  }
  pthread_mutex_unlock(&d->mu);
  return rc;
}

int rs_shdict_expire(rs_shdict_t *d, const char *key, size_t klen, uint64_t ttl_ms) {
  if (!rs__key_ok(klen)) return -ENOENT;
  uint64_t h = XXH3_64bits(key, klen);
  int rc = -ENOENT;
  pthread_mutex_lock(&d->mu);
  uint64_t now = rs__clock();
  rs__node_t *n = rs__lookup(d, key, klen, h, now);
  if (n != NULL) {
    n->expires_ms = ttl_ms ? now + ttl_ms : 0;
    rc = 0;
  }
  pthread_mutex_unlock(&d->mu);
  return rc;
}

void rs_shdict_flush_all(rs_shdict_t *d) {
  pthread_mutex_lock(&d->mu);
  while (d->tail != NULL) rs__remove_node(d, d->tail);
  pthread_mutex_unlock(&d->mu);
}

size_t rs_shdict_keys(rs_shdict_t *d, size_t max, void (*fn)(void *ud, const char *key, size_t klen),
                      void *ud) {
  size_t k = 0;
  pthread_mutex_lock(&d->mu);
  uint64_t now = rs__clock();
  for (rs__node_t *n = d->head; n != NULL && (max == 0 || k < max); n = n->next) {
    if (rs__expired(n, now)) continue;
    fn(ud, n->data, n->klen);
    k++;
  }
  pthread_mutex_unlock(&d->mu);
  return k;
}
