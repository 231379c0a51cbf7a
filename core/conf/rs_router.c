/* core/conf/rs_router.c — see rs_router.h.
 *
 * (About 820 lines, over the ~800 of STYLE.md: the sites, the group table,
 * the segment trie and the shadowing check below share one private layout;
 * split, each file would need it in a private header for ~100 lines each.)
 *
 * The table is compiled as routes are added, so that a match costs a few hash
 * lookups whatever the number of routes:
 *
 *   - routes are split by host into sites: site 0 holds the routes without a
 *     host, and each exact host and each wildcard suffix ("*.example.com" is
 *     the suffix "example.com") has a site of its own, found in a small hash
 *     table keyed by (wildcard or not, host);
 *   - within a site, routes that share a path (and kind: exact or prefix)
 *     form a group, kept sorted by rs__route_before (priority, then
 *     declaration order); the groups of all sites live in one
 *     open-addressing hash table keyed by (site, kind, path);
 *   - each site keeps its distinct prefix lengths in descending order;
 *   - routes with ":param" segments go into the site's segment trie (static
 *     segments, one ":param" child, and "...*" tails per node).
 *
 * A match tries the request's sites in order (its exact host, its wildcard
 * suffixes longest first, then site 0); within a site it looks up the exact
 * group for the whole path, then walks the trie, then, for each prefix length
 * that fits, looks up the prefix group for that many leading bytes. The first
 * group holding a route that accepts the method wins. After the config has
 * loaded nothing changes, so loop threads read the table without locks, and
 * a match allocates nothing. */
#include "rs_router.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
  rs_route_t **v;                /* best first */
  size_t n, cap;
} rs__list_t;

typedef struct {
  const char *key;               /* the route's path without the '*' (borrowed
                                    from the first route of the group) */
  size_t len;
  uint64_t hash;
  unsigned site;
  bool prefix;
  rs__list_t routes;
} rs__group_t;

/* A node of a site's ":param" trie: where a segment of the request starts.
 * Tried in this order: a static child, the ":param" child, the tails. Each
 * node is reached by one path from the root, so a match visits a node at most
 * once however much it backtracks. */
typedef struct rs__node_s rs__node_t;

typedef struct {
  const char *seg;               /* the segment (borrowed from a route's path) */
  size_t len;
  rs__node_t *node;
} rs__edge_t;

typedef struct {
  const char *pre;               /* what the rest of the path must start with:
                                    the last segment before its '*' (borrowed) */
  size_t len;
  rs__list_t routes;
} rs__tail_t;

struct rs__node_s {
  rs__edge_t *kids;              /* static segments, all different */
  size_t nkids;
  rs__node_t *param;             /* ":name", whatever the name */
  rs__tail_t *tails;             /* "pre*", longest pre first */
  size_t ntails;
  rs__list_t end;                /* routes that end with the segment leading here */
};

typedef struct {
  const char *host;              /* lower-case, without "*." (borrowed from a
                                    route); NULL for site 0 */
  size_t len;
  uint64_t hash;
  bool wild;
  unsigned id;
  uint64_t exact_bloom;          /* bit (hash >> 58) set for each exact path:
                                    most sites of a Host lack the path, and
                                    then need no probe */
  size_t *prefix_lens;           /* distinct prefix lengths, longest first */
  size_t nprefix_lens;
  rs__node_t *trie;              /* NULL until a ":param" route */
} rs__site_t;

struct rs_router_s {
  rs_route_t **all;              /* declaration order; owns the routes */
  size_t n, cap;
  bool view;                     /* borrows the routes (rs_router_create_view) */

  rs__group_t *slots;            /* open addressing; key == NULL is empty */
  size_t nslots;                 /* a power of two, or 0 */
  size_t ngroups;

  rs__site_t **sites;            /* by id; sites[0] is for routes without host */
  size_t nsites;
  rs__site_t **site_slots;       /* open addressing over sites 1.. */
  size_t nsite_slots;            /* a power of two, or 0 */
  size_t nwild;                  /* wildcard sites */
  uint64_t wild_bloom;           /* rs__wild_bit of each wildcard suffix:
                                    most suffixes of a request's Host are
                                    skipped without hashing them */
};

/* The state of one match, on the caller's stack. */
typedef struct {
  unsigned method;
  const char *path;
  size_t len;
  uint64_t hash;                 /* rs__hash(path, len, false) */
  size_t nvals;                  /* params captured on the trie path so far */
  rs_str_t vals[RS_ROUTE_MAX_PARAMS];
} rs__m_t;

/* Keys are config paths and hosts, and the table never changes after load:
 * there is nothing for a client to flood, a lookup only compares. So the hash
 * is a plain multiply-xorshift over 8 bytes at a time (the request's path,
 * and Host when routes have hosts, are hashed on every request; FNV's byte at
 * a time cost twice as much). The kind is mixed into the seed so that "/a"
 * exact and "/a" prefix live in different slots; the site is mixed in after
 * (rs__site_hash), so that a request's path is hashed once for all the sites
 * it visits. Hosts are hashed and compared lower-cased (rs__lower8), since
 * the request's Host is not. */
static inline uint64_t rs__mix(uint64_t h, uint64_t w) {
  h = (h ^ w) * 0x9e3779b97f4a7c15ull;
  return h ^ (h >> 29);
}

/* x with its bytes 'A'..'Z' lower-cased, 8 at a time: a byte's high bit in
 * ge_a is set if it is >= 'A', in gt_z if it is > 'Z' (no carry crosses
 * bytes: each is at most 0x7f + 0x3f); ~x keeps ASCII bytes only. */
static inline uint64_t rs__lower8(uint64_t x) {
  uint64_t h7 = x & 0x7f7f7f7f7f7f7f7full;
  uint64_t ge_a = h7 + 0x3f3f3f3f3f3f3f3full;
  uint64_t gt_z = h7 + 0x2525252525252525ull;
  uint64_t upper = ge_a & ~gt_z & ~x & 0x8080808080808080ull;
  return x | (upper >> 2);
}

/* Up to 8 bytes of p as a word, zero-padded; len < 8. */
static inline uint64_t rs__load_short(const char *p, size_t len) {
  if (len >= 4) {
    uint32_t a, b;
    memcpy(&a, p, 4);
    memcpy(&b, p + len - 4, 4);                  /* overlapping */
    return a | (uint64_t)b << 32;
  }
  if (len == 0) return 0;
  return (unsigned char)p[0] | (uint64_t)(unsigned char)p[len / 2] << 8 |
         (uint64_t)(unsigned char)p[len - 1] << 16;
}

static inline uint64_t rs__hash_bytes(const char *p, size_t len, uint64_t seed,
                                      bool lower) {
  uint64_t h = seed ^ len, w;
  if (len >= 8) {
    for (size_t i = 0; i + 8 < len; i += 8) {
      memcpy(&w, p + i, 8);
      h = rs__mix(h, lower ? rs__lower8(w) : w);
    }
    memcpy(&w, p + len - 8, 8);                  /* the last 8, overlapping */
  } else {
    w = rs__load_short(p, len);
  }
  return rs__mix(rs__mix(h, lower ? rs__lower8(w) : w), 0);
}

static uint64_t rs__hash(const char *p, size_t len, bool prefix) {
  return rs__hash_bytes(p, len, prefix ? 0x84222325cbf29ce4ull : 0xcbf29ce484222325ull,
                        false);
}

/* Site 0 (no host) keeps the plain hash. */
static inline uint64_t rs__site_hash(uint64_t h, unsigned site) {
  return h ^ ((uint64_t)site * 0x9e3779b97f4a7c15ull);
}

static uint64_t rs__host_hash(const char *p, size_t len, bool wild) {
  return rs__hash_bytes(p, len, wild ? 0x84222325cbf29ce4ull : 0xcbf29ce484222325ull,
                        true);
}

/* host (any case) equals lower (lower-case), both len bytes long. */
static inline bool rs__host_eq(const char *host, const char *lower, size_t len) {
  uint64_t a, b;
  if (len < 8) return rs__lower8(rs__load_short(host, len)) == rs__load_short(lower, len);
  for (size_t i = 0; i + 8 < len; i += 8) {
    memcpy(&a, host + i, 8);
    memcpy(&b, lower + i, 8);
    if (rs__lower8(a) != b) return false;
  }
  memcpy(&a, host + len - 8, 8);
  memcpy(&b, lower + len - 8, 8);
  return rs__lower8(a) == b;
}

rs_router_t *rs_router_create(void) {
  rs_router_t *r = rs_xcalloc(1, sizeof(rs_router_t));
  r->sites = rs_xcalloc(1, sizeof(*r->sites));
  r->sites[0] = rs_xcalloc(1, sizeof(rs__site_t));
  r->nsites = 1;
  return r;
}

rs_router_t *rs_router_create_view(void) {
  rs_router_t *r = rs_router_create();
  r->view = true;
  return r;
}

const rs_errpage_t *rs_errpages_find(const rs_errpages_t *pages, int status) {
  for (size_t i = 0; pages != NULL && i < pages->n; i++)
    if (pages->v[i].status == status) return &pages->v[i];
  return NULL;
}

void rs_errpages_free(rs_errpages_t *pages) {
  if (pages == NULL) return;
  for (size_t i = 0; i < pages->n; i++) {
    free(pages->v[i].target);
    free(pages->v[i].body);
  }
  free(pages->v);
  free(pages);
}

void rs_route_free(rs_route_t *route) {
  if (route == NULL) return;
  free(route->server);
  free(route->host);
  free(route->path);
  free(route->where);
  free(route->respond.headers);
  free(route->respond.body);
  free(route->files.root);
  free(route->files.index);
  if (route->conf_free != NULL) route->conf_free(route->conf);
  free(route->proxy.upstream);
  free(route->proxy.path);
  free(route->proxy.host);
  free(route->cache._mem);
  free(route->cache.cache_control);
  rs_errpages_free(route->errpages);
  free(route->limit.req_key.header);
  free(route->limit.conn_key.header);
  free(route);
}

bool rs_route_page_sees(const rs_route_t *shared, const char *name, size_t len, bool untrusted_claim) {
  if (untrusted_claim) return false;
  if (shared == NULL || rs_str_ieq(name, len, "host", 4)) return true;
  for (const char *const *n = shared->cache.headers; n != NULL && *n != NULL; n++)
    if (rs_str_ieq(name, len, *n, strlen(*n))) return true;
  return false;
}

static void rs__node_free(rs__node_t *n) {
  if (n == NULL) return;
  for (size_t i = 0; i < n->nkids; i++) rs__node_free(n->kids[i].node);
  free(n->kids);
  rs__node_free(n->param);
  for (size_t i = 0; i < n->ntails; i++) free(n->tails[i].routes.v);
  free(n->tails);
  free(n->end.v);
  free(n);
}

void rs_router_destroy(rs_router_t *r) {
  if (r == NULL) return;
  for (size_t i = 0; i < r->nslots; i++) free(r->slots[i].routes.v);
  free(r->slots);
  for (size_t i = 0; i < r->nsites; i++) {
    free(r->sites[i]->prefix_lens);
    rs__node_free(r->sites[i]->trie);
    free(r->sites[i]);
  }
  free(r->sites);
  free(r->site_slots);
  if (!r->view)
    for (size_t i = 0; i < r->n; i++) rs_route_free(r->all[i]);
  free(r->all);
  free(r);
}

size_t rs_router_count(const rs_router_t *r) { return r->n; }

const rs_route_t *rs_router_get(const rs_router_t *r, size_t i) {
  return i < r->n ? r->all[i] : NULL;
}

/* ---------------------------------------------------------------- building */

/* Among routes of one path in one site: higher priority, then declared
 * earlier. */
static bool rs__route_before(const rs_route_t *a, const rs_route_t *b) {
  if (a->priority != b->priority) return a->priority > b->priority;
  return a->_order < b->_order;
}

/* ---------------------------------------------------------------- shadowed routes */

static bool rs__str_eq_or_null(const char *a, const char *b) {
  return (a == NULL && b == NULL) || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

/* The same path up to the names of its :params ("/blog/:slug" and
 * "/blog/:id" take the same requests). */
static bool rs__same_shape(const char *a, const char *b) {
  while (*a && *b) {
    if (*a == ':' && *b == ':') {
      while (*a && *a != '/') a++;
      while (*b && *b != '/') b++;
      continue;
    }
    if (*a++ != *b++) return false;
  }
  return *a == *b;
}

static void rs__method_names(unsigned bits, rs_buf_t *out) {
  static const char *const names[] = {
#define XX(name, bit) #name,
    RS_METHOD_MAP(XX)
#undef XX
  };
  bool first = true;
  for (unsigned i = 0; i < RS_ARRAY_SIZE(names); i++)
    if (bits & (1u << i)) rs_buf_printf(out, "%s%s", first ? "" : ",", names[i]), first = false;
}

size_t rs_router_shadowed(const rs_router_t *r, rs_buf_t *out) {
  size_t n = 0;
  for (size_t i = 0; i < r->n; i++) {
    const rs_route_t *b = r->all[i];
    unsigned taken = 0;          /* methods that routes before b take first */
    const rs_route_t *first = NULL;
    for (size_t k = 0; k < r->n; k++) {
      const rs_route_t *a = r->all[k];
      if (a == b || !rs__route_before(a, b) || !rs__str_eq_or_null(a->host, b->host) ||
          !rs__str_eq_or_null(a->server, b->server) || !rs__same_shape(a->path, b->path))
        continue;
      /* A's GET answers HEAD too, unless b names HEAD itself (a route
       * listing HEAD outranks GET's implicit HEAD, see rs_router_match). */
      unsigned a_takes = a->methods | ((a->methods & RS_M_GET) && !(b->methods & RS_M_HEAD) ? RS_M_HEAD : 0);
      unsigned got = a_takes & b->methods;
      if ((got & ~taken) != 0 && first == NULL) first = a;
      taken |= got;
    }
    unsigned own = b->methods, lost = taken & own;
    if (lost == 0) continue;
    rs_buf_printf(out, "%s: route ", b->where);
    rs__method_names(own, out);
    rs_buf_printf(out, " %s%s%s ", b->path, b->host ? " on host " : "", b->host ? b->host : "");
    if ((own & ~lost) == 0) {
      rs_buf_printf(out, "can never match: %s (", first->where);
    } else {
      rs_buf_printf(out, "never answers ");
      rs__method_names(lost, out);
      rs_buf_printf(out, ": %s (", first->where);
    }
    rs__method_names(first->methods, out);
    rs_buf_printf(out, " %s) takes those requests first\n", first->path);
    n++;
  }
  return n;
}

static void rs__list_insert(rs__list_t *l, rs_route_t *route) {
  if (l->n == l->cap) {
    l->cap = l->cap ? l->cap * 2 : 2;
    l->v = rs_xrealloc(l->v, l->cap * sizeof(*l->v));
  }
  size_t i = l->n;
  while (i > 0 && rs__route_before(route, l->v[i - 1])) {
    l->v[i] = l->v[i - 1];
    i--;
  }
  l->v[i] = route;
  l->n++;
}

/* The slot for (site, kind, key): the group's slot or the empty one where it
 * would go. The table is never full (load factor <= 1/2). */
static inline rs__group_t *rs__slot(rs__group_t *slots, size_t nslots, const char *key,
                             size_t len, bool prefix, unsigned site,
                             uint64_t hash) {
  size_t mask = nslots - 1;
  for (size_t i = (size_t)hash & mask;; i = (i + 1) & mask) {
    rs__group_t *g = &slots[i];
    if (g->key == NULL) return g;
    if (g->hash == hash && g->len == len && g->prefix == prefix &&
        g->site == site && memcmp(g->key, key, len) == 0)
      return g;
  }
}

static void rs__grow(rs_router_t *r) {
  size_t nslots = r->nslots ? r->nslots * 2 : 16;
  rs__group_t *slots = rs_xcalloc(nslots, sizeof(*slots));
  for (size_t i = 0; i < r->nslots; i++) {
    rs__group_t *g = &r->slots[i];
    if (g->key == NULL) continue;
    *rs__slot(slots, nslots, g->key, g->len, g->prefix, g->site, g->hash) = *g;
  }
  free(r->slots);
  r->slots = slots;
  r->nslots = nslots;
}

static void rs__prefix_len_add(rs__site_t *s, size_t len) {
  size_t i = 0;
  while (i < s->nprefix_lens && s->prefix_lens[i] > len) i++;
  if (i < s->nprefix_lens && s->prefix_lens[i] == len) return;
  s->prefix_lens = rs_xrealloc(s->prefix_lens,
                               (s->nprefix_lens + 1) * sizeof(*s->prefix_lens));
  memmove(&s->prefix_lens[i + 1], &s->prefix_lens[i],
          (s->nprefix_lens - i) * sizeof(*s->prefix_lens));
  s->prefix_lens[i] = len;
  s->nprefix_lens++;
}

static void rs__group_add(rs_router_t *r, rs__site_t *s, rs_route_t *route) {
  if (2 * (r->ngroups + 1) > r->nslots) rs__grow(r);
  size_t klen = route->_prefix_len;
  uint64_t h = rs__hash(route->path, klen, route->_is_prefix);
  if (!route->_is_prefix) s->exact_bloom |= 1ull << (h >> 58);
  h = rs__site_hash(h, s->id);
  rs__group_t *g = rs__slot(r->slots, r->nslots, route->path, klen,
                            route->_is_prefix, s->id, h);
  if (g->key == NULL) {
    g->key = route->path;        /* lives as long as the router */
    g->len = klen;
    g->hash = h;
    g->site = s->id;
    g->prefix = route->_is_prefix;
    r->ngroups++;
  }
  rs__list_insert(&g->routes, route);
}

/* A bit for a wildcard suffix from its length and its first and last bytes
 * (| 0x20 lower-cases letters, and is applied on both sides). */
static inline unsigned rs__wild_bit(const char *p, size_t len) {
  unsigned a = (unsigned char)p[0] | 0x20u, z = (unsigned char)p[len - 1] | 0x20u;
  return (uint32_t)(((uint32_t)len | a << 16 | z << 24) * 0x9e3779b1u) >> 26;
}

/* Where a site's (wild, host) is or would go; the table is never full. */
static inline rs__site_t **rs__site_slot(rs__site_t **slots, size_t nslots,
                                  const char *host, size_t len, bool wild,
                                  uint64_t hash) {
  size_t mask = nslots - 1;
  for (size_t i = (size_t)hash & mask;; i = (i + 1) & mask) {
    rs__site_t *s = slots[i];
    if (s == NULL) return &slots[i];
    if (s->hash == hash && s->wild == wild && s->len == len &&
        rs__host_eq(host, s->host, len))
      return &slots[i];
  }
}

/* The site of a (checked, lower-case) route host, created if new. */
static rs__site_t *rs__site_get(rs_router_t *r, const char *host) {
  if (host == NULL) return r->sites[0];
  bool wild = host[0] == '*';
  const char *key = wild ? host + 2 : host;
  size_t len = strlen(key);
  uint64_t h = rs__host_hash(key, len, wild);
  if (r->nsite_slots > 0) {
    rs__site_t *s = *rs__site_slot(r->site_slots, r->nsite_slots, key, len, wild, h);
    if (s != NULL) return s;
  }
  if (2 * r->nsites > r->nsite_slots) {   /* nsites - 1 used, + 1 new */
    size_t nslots = r->nsite_slots ? r->nsite_slots * 2 : 8;
    rs__site_t **slots = rs_xcalloc(nslots, sizeof(*slots));
    for (size_t i = 1; i < r->nsites; i++) {
      rs__site_t *o = r->sites[i];
      *rs__site_slot(slots, nslots, o->host, o->len, o->wild, o->hash) = o;
    }
    free(r->site_slots);
    r->site_slots = slots;
    r->nsite_slots = nslots;
  }
  rs__site_t *s = rs_xcalloc(1, sizeof(*s));
  s->host = key;                 /* lives as long as the router */
  s->len = len;
  s->hash = h;
  s->wild = wild;
  s->id = (unsigned)r->nsites;
  *rs__site_slot(r->site_slots, r->nsite_slots, key, len, wild, h) = s;
  r->sites = rs_xrealloc(r->sites, (r->nsites + 1) * sizeof(*r->sites));
  r->sites[r->nsites++] = s;
  if (wild) {
    r->nwild++;
    r->wild_bloom |= 1ull << rs__wild_bit(key, len);
  }
  return s;
}

static rs__node_t *rs__node_kid(rs__node_t *n, const char *seg, size_t len) {
  for (size_t i = 0; i < n->nkids; i++)
    if (n->kids[i].len == len && memcmp(n->kids[i].seg, seg, len) == 0)
      return n->kids[i].node;
  n->kids = rs_xrealloc(n->kids, (n->nkids + 1) * sizeof(*n->kids));
  rs__node_t *kid = rs_xcalloc(1, sizeof(*kid));
  n->kids[n->nkids++] = (rs__edge_t){ seg, len, kid };
  return kid;
}

static rs__list_t *rs__node_tail(rs__node_t *n, const char *pre, size_t len) {
  size_t i = 0;
  while (i < n->ntails && n->tails[i].len > len) i++;
  for (size_t j = i; j < n->ntails && n->tails[j].len == len; j++)
    if (memcmp(n->tails[j].pre, pre, len) == 0) return &n->tails[j].routes;
  n->tails = rs_xrealloc(n->tails, (n->ntails + 1) * sizeof(*n->tails));
  memmove(&n->tails[i + 1], &n->tails[i], (n->ntails - i) * sizeof(*n->tails));
  n->tails[i] = (rs__tail_t){ .pre = pre, .len = len };
  n->ntails++;
  return &n->tails[i].routes;
}

/* A checked path with at least one ":param": one node per segment. */
static void rs__trie_add(rs__site_t *s, rs_route_t *route) {
  if (s->trie == NULL) s->trie = rs_xcalloc(1, sizeof(*s->trie));
  rs__node_t *n = s->trie;
  const char *seg = route->path + 1;
  for (;;) {
    const char *slash = strchr(seg, '/');
    size_t len = slash ? (size_t)(slash - seg) : strlen(seg);
    if (slash == NULL && len > 0 && seg[len - 1] == '*') {
      rs__list_insert(rs__node_tail(n, seg, len - 1), route);
      return;
    }
    if (seg[0] == ':') {
      if (n->param == NULL) n->param = rs_xcalloc(1, sizeof(*n->param));
      n = n->param;
    } else {
      n = rs__node_kid(n, seg, len);
    }
    if (slash == NULL) {
      rs__list_insert(&n->end, route);
      return;
    }
    seg = slash + 1;
  }
}

#define RS__STR_(x) #x
#define RS__STR(x) RS__STR_(x)

static bool rs__name_char(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
         (c >= '0' && c <= '9') || c == '_';
}

static int rs__hexdigit(unsigned char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;                     /* lower-case too: the canonical form has none */
}

/* Requests are matched in their canonical path (rs_http_path_normalize in
 * core/base/rs_http.c defines it; this file only checks that a route's path is
 * written in it, so that it can match at all): no empty, "." or ".." segment;
 * space, '"', '#', '%', '<', '>', '?', '`', '{', '}', control bytes and bytes
 * >= 0x7f only as upper-case %XX; every other byte as itself, never %XX (a
 * request's %2F is a '/'). NULL if path is canonical, else why not. */
static const char *rs__check_canonical(const char *path) {
  for (const char *p = path; *p; p++) {
    unsigned char c = (unsigned char)*p;
    if (c == '/' && (p[1] == '/' || (p[1] == '.' && (p[2] == '/' || p[2] == '\0')) ||
                     (p[1] == '.' && p[2] == '.' && (p[3] == '/' || p[3] == '\0'))))
      return "path must not have empty, '.' or '..' segments (requests are matched with them "
             "resolved)";
    if (c >= 0x7f || c == '"' || c == '<' || c == '>' || c == '`' || c == '{' || c == '}')
      return "path must percent-encode non-ASCII bytes and '\"<>`{}', in upper-case %XX";
    if (c != '%') continue;
    int hi = rs__hexdigit((unsigned char)p[1]), lo = hi < 0 ? -1 : rs__hexdigit((unsigned char)p[2]);
    if (hi < 0 || lo < 0) return "a %-escape in a path is '%' and two upper-case hex digits";
    unsigned char d = (unsigned char)(hi * 16 + lo);
    if (!(d <= 0x20 || d >= 0x7f || strchr("\"#%<>?`{}", d) != NULL))
      return "path must not percent-encode a byte requests are matched with as itself "
             "(write '/' for %2F, 'a' for %61)";
    p += 2;
  }
  return NULL;
}

/* NULL if path is fine, else why not; *nparams = its ":param" count. */
static const char *rs__check_path(const char *path, size_t *nparams) {
  if (path == NULL || path[0] != '/') return "path must start with '/'";
  rs_str_t names[RS_ROUTE_MAX_PARAMS];
  size_t n = 0;
  for (const char *p = path; *p; p++) {
    unsigned char c = (unsigned char)*p;
    if (c == '*' && p[1] != '\0')
      return strstr(p, "/:") ? "a ':param' cannot follow '*'"
                             : "'*' is only allowed at the end of a path";
    if (c <= 0x20 || c == 0x7f) return "path must not contain spaces or control characters";
    if (c == '?' || c == '#') return "path must not contain '?' or '#'";
    if (c != ':') continue;
    /* A ':' inside a segment is refused rather than taken literally, so that
     * "/file:id" cannot be mistaken for a param. */
    if (p[-1] != '/') return "':' is only allowed at the start of a segment, as in '/:name'";
    size_t len = 0;
    while (rs__name_char((unsigned char)p[1 + len])) len++;
    if (len == 0 && (p[1] == '/' || p[1] == '\0')) return "empty ':param' name";
    if (p[1 + len] != '/' && p[1 + len] != '\0')
      return "a ':param' name is letters, digits or '_' up to the next '/'";
    for (size_t i = 0; i < n; i++)
      if (names[i].len == len && memcmp(names[i].p, p + 1, len) == 0)
        return "duplicate ':param' name in the path";
    if (n == RS_ROUTE_MAX_PARAMS)
      return "too many ':param' segments (at most " RS__STR(RS_ROUTE_MAX_PARAMS) ")";
    names[n++] = (rs_str_t){ p + 1, len };
    p += len;
  }
  *nparams = n;
  return rs__check_canonical(path);
}

/* Route hosts are stored lower-case: the match then lower-cases only the
 * request's side. */
static const char *rs__check_host(char *host) {
  if (host == NULL) return NULL;
  if (host[0] == '\0') return "host must not be empty";
  for (char *p = host; *p; p++) {
    unsigned char c = (unsigned char)*p;
    if (c <= 0x20 || c >= 0x7f || c == '/') return "host must be a plain host name";
    if (c >= 'A' && c <= 'Z') *p = (char)(c + 32);
  }
  size_t len = strlen(host);
  if (host[len - 1] == '.') host[len - 1] = '\0';   /* "example.com." */
  if (host[0] == '\0') return "host must not be empty";
  const char *name = host;
  if (strchr(host, '*') != NULL) {
    name = host + 2;
    if (host[0] != '*' || host[1] != '.' || name[0] == '\0' || name[0] == '.' ||
        strpbrk(name, "*[:") != NULL)
      return "a wildcard host must be '*.' and a domain, as in '*.example.com'";
  }
  if (name[0] != '[' && strchr(name, ':') != NULL)
    return "host must not carry a port (the port is ignored when matching)";
  return NULL;
}

int rs_router_add(rs_router_t *r, rs_route_t *route, const char **why) {
  size_t nparams = 0;
  const char *bad = rs__check_path(route->path, &nparams);
  if (bad == NULL) bad = rs__check_host(route->host);
  if (bad != NULL) {
    if (why) *why = bad;
    if (!r->view) rs_route_free(route);
    return -EINVAL;
  }

  size_t len = strlen(route->path);
  route->_is_prefix = route->path[len - 1] == '*';
  route->_prefix_len = route->_is_prefix ? len - 1 : len;
  route->_host_len = route->host ? strlen(route->host) : 0;
  if (!r->view) route->_order = (unsigned)r->n;

  if (r->n == r->cap) {
    r->cap = r->cap ? r->cap * 2 : 16;
    r->all = rs_xrealloc(r->all, r->cap * sizeof(*r->all));
  }
  r->all[r->n++] = route;

  rs__site_t *s = rs__site_get(r, route->host);
  if (nparams > 0) {
    rs__trie_add(s, route);
  } else {
    rs__group_add(r, s, route);
    if (route->_is_prefix) rs__prefix_len_add(s, route->_prefix_len);
  }
  return 0;
}

/* ---------------------------------------------------------------- matching */

/* The best route of a list for this method. An explicit HEAD route beats a
 * GET route answering HEAD in the same list. */
static const rs_route_t *rs__list_match(const rs__list_t *l, unsigned method) {
  const rs_route_t *via_get = NULL;
  for (size_t i = 0; i < l->n; i++) {
    const rs_route_t *route = l->v[i];
    if (route->methods & method) return route;
    if (method == RS_M_HEAD && (route->methods & RS_M_GET) && via_get == NULL)
      via_get = route;
  }
  return via_get;
}

/* hash: rs__hash(key, len, prefix), without the site. */
static const rs__group_t *rs__lookup(const rs_router_t *r, const char *key,
                                     size_t len, bool prefix, unsigned site,
                                     uint64_t hash) {
  if (r->nslots == 0) return NULL;
  const rs__group_t *g = rs__slot(r->slots, r->nslots, key, len, prefix, site,
                                  rs__site_hash(hash, site));
  return g->key ? g : NULL;
}

static const rs_route_t *rs__node_match(const rs__node_t *n, rs__m_t *m,
                                        size_t pos);

/* After a segment that ended at end: a route ending here if the path ends,
 * else the next segment from n. */
static const rs_route_t *rs__node_next(const rs__node_t *n, rs__m_t *m,
                                       size_t end) {
  if (end == m->len) return rs__list_match(&n->end, m->method);
  return rs__node_match(n, m, end + 1);            /* m->path[end] == '/' */
}

/* The first route in per-segment order (static, then ":param", then tails)
 * for the request's segment starting at pos. Depth-first: a branch that
 * fails backtracks, so "/a/:x/c" still matches "/a/b/c" next to
 * "/a/b/:y/z". */
static const rs_route_t *rs__node_match(const rs__node_t *n, rs__m_t *m,
                                        size_t pos) {
  const char *seg = m->path + pos;
  const char *slash = memchr(seg, '/', m->len - pos);
  size_t end = slash ? (size_t)(slash - m->path) : m->len;
  const rs_route_t *route;
  for (size_t i = 0; i < n->nkids; i++) {
    const rs__edge_t *e = &n->kids[i];
    if (e->len == end - pos && memcmp(e->seg, seg, e->len) == 0) {
      if ((route = rs__node_next(e->node, m, end)) != NULL) return route;
      break;                                       /* kids are all different */
    }
  }
  /* Never more than RS_ROUTE_MAX_PARAMS deep in ":param" nodes: each one is
   * in some route's path, and rs_router_add bounds those. */
  if (n->param != NULL && end > pos) {
    m->vals[m->nvals++] = (rs_str_t){ seg, end - pos };
    if ((route = rs__node_next(n->param, m, end)) != NULL) return route;
    m->nvals--;
  }
  for (size_t i = 0; i < n->ntails; i++) {
    const rs__tail_t *t = &n->tails[i];
    if (t->len <= m->len - pos && memcmp(t->pre, seg, t->len) == 0 &&
        (route = rs__list_match(&t->routes, m->method)) != NULL)
      return route;
  }
  return NULL;
}

/* The best route of one site: exact path, then ":param" paths, then longest
 * prefix. */
static const rs_route_t *rs__site_match(const rs_router_t *r, const rs__site_t *s,
                                        rs__m_t *m) {
  const rs_route_t *route;
  const rs__group_t *g;
  if ((s->exact_bloom & (1ull << (m->hash >> 58))) &&
      (g = rs__lookup(r, m->path, m->len, false, s->id, m->hash)) != NULL &&
      (route = rs__list_match(&g->routes, m->method)) != NULL)
    return route;

  if (s->trie != NULL && m->len > 0 && m->path[0] == '/' &&
      (route = rs__node_match(s->trie, m, 1)) != NULL)
    return route;                                  /* m->nvals is its params */

  for (size_t i = 0; i < s->nprefix_lens; i++) {
    size_t len = s->prefix_lens[i];
    if (len > m->len) continue;
    g = rs__lookup(r, m->path, len, true, s->id, rs__hash(m->path, len, true));
    if (g && (route = rs__list_match(&g->routes, m->method)) != NULL) return route;
  }
  return NULL;
}

static const rs__site_t *rs__site_find(const rs_router_t *r, const char *host,
                                       size_t len, bool wild) {
  return *rs__site_slot(r->site_slots, r->nsite_slots, host, len, wild,
                        rs__host_hash(host, len, wild));
}

/* The best route among the sites of a host: its own, then its wildcard
 * suffixes, longest first. Site 0 is the caller's. */
static const rs_route_t *rs__host_match(const rs_router_t *r, const char *host,
                                        size_t host_len, rs__m_t *m) {
  /* Drop a ":port" suffix ("[::1]:8080" keeps its brackets) and the dot of
   * a fully qualified name, as route hosts are stored without them. */
  size_t hl = host_len;
  for (size_t i = host_len; i > 0; i--) {
    if (host[i - 1] == ']') break;
    if (host[i - 1] == ':') { hl = i - 1; break; }
  }
  if (hl > 0 && host[hl - 1] == '.') hl--;
  if (hl == 0) return NULL;

  const rs_route_t *route;
  const rs__site_t *s;
  if (r->nsites - 1 > r->nwild && (s = rs__site_find(r, host, hl, false)) != NULL &&
      (route = rs__site_match(r, s, m)) != NULL)
    return route;
  if (r->nwild == 0) return NULL;
  /* "*.example.com" is the suffix after a dot that is not the first byte:
   * "a.example.com" and "a.b.example.com" have it, "example.com" not. */
  for (size_t i = 1; i + 1 < hl; i++) {
    if (host[i] != '.' ||
        !(r->wild_bloom & (1ull << rs__wild_bit(host + i + 1, hl - i - 1))))
      continue;
    s = rs__site_find(r, host + i + 1, hl - i - 1, true);
    if (s && (route = rs__site_match(r, s, m)) != NULL) return route;
  }
  return NULL;
}

const rs_route_t *rs_router_match(const rs_router_t *r, unsigned method_bit,
                                  const char *host, size_t host_len,
                                  const char *path, size_t path_len,
                                  rs_route_param_t *params, size_t *nparams) {
  rs__m_t m;
  m.method = method_bit;
  m.path = path;
  m.len = path_len;
  m.hash = rs__hash(path, path_len, false);
  m.nvals = 0;
  const rs_route_t *route = NULL;
  if (r->nsites > 1 && host != NULL) route = rs__host_match(r, host, host_len, &m);
  if (route == NULL) route = rs__site_match(r, r->sites[0], &m);

  if (nparams == NULL) return route;
  size_t cap = params ? *nparams : 0, n = 0;
  /* The captured values are in path order, as are the names in the route's
   * path: pair them up. */
  for (const char *p = route && m.nvals ? route->path + 1 : ""; *p && n < cap; p++) {
    if (*p != ':' || p[-1] != '/') continue;
    size_t len = strcspn(p + 1, "/");
    params[n].name = (rs_str_t){ p + 1, len };
    params[n].value = m.vals[n];
    n++;
    p += len;
  }
  *nparams = n;
  return route;
}
