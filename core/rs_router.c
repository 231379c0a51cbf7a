/* core/rs_router.c — see rs_router.h.
 *
 * The table is compiled as routes are added, so that a match costs a few hash
 * lookups whatever the number of routes:
 *
 *   - routes that share a path (and kind: exact or prefix) form a group,
 *     kept sorted by rs__route_before (host first, then priority, then
 *     declaration order);
 *   - groups live in one open-addressing hash table keyed by (kind, path);
 *   - the distinct prefix lengths are kept in descending order.
 *
 * A match looks up the exact group for the whole path, then, for each prefix
 * length that fits, the prefix group for that many leading bytes of the path;
 * the first group holding a route that accepts the method and the host wins.
 * After the config has loaded nothing changes, so loop threads read the
 * table without locks.
 *
 * Extension points for the routing issue: ":param" segments become a third
 * kind of group (a segment trie consulted between exact and prefix groups,
 * see rs_router_match), and "*.example.com" hosts become a second pass over a
 * group after the exact-host routes (see rs__route_host_ok). */
#include "rs_router.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
  const char *key;               /* the route's path without the '*' (borrowed
                                    from the first route of the group) */
  size_t len;
  uint64_t hash;
  bool prefix;
  rs_route_t **routes;           /* best first */
  size_t n, cap;
} rs__group_t;

struct rs_router_s {
  rs_route_t **all;              /* declaration order; owns the routes */
  size_t n, cap;

  rs__group_t *slots;            /* open addressing; key == NULL is empty */
  size_t nslots;                 /* a power of two, or 0 */
  size_t ngroups;

  size_t *prefix_lens;           /* distinct prefix lengths, longest first */
  size_t nprefix_lens;
};

unsigned rs_method_bit(const char *name, size_t len) {
#define XX(m, bit)                                                    \
  if (len == sizeof(#m) - 1 && memcmp(name, #m, len) == 0) return RS_M_##m;
  RS_METHOD_MAP(XX)
#undef XX
  return 0;
}

/* FNV-1a: keys are config paths and the table never changes after load, so
 * there is nothing for a client to flood; short paths hash fast. The kind is
 * mixed in so "/a" exact and "/a" prefix live in different slots. */
static uint64_t rs__hash(const char *p, size_t len, bool prefix) {
  uint64_t h = prefix ? 0x84222325cbf29ce4ull : 0xcbf29ce484222325ull;
  for (size_t i = 0; i < len; i++) {
    h ^= (unsigned char)p[i];
    h *= 0x100000001b3ull;
  }
  return h;
}

rs_router_t *rs_router_create(void) {
  return rs_xcalloc(1, sizeof(rs_router_t));
}

void rs_route_free(rs_route_t *route) {
  if (route == NULL) return;
  free(route->host);
  free(route->path);
  free(route->where);
  free(route->respond.headers);
  free(route->respond.body);
  free(route);
}

void rs_router_destroy(rs_router_t *r) {
  if (r == NULL) return;
  for (size_t i = 0; i < r->nslots; i++) free(r->slots[i].routes);
  free(r->slots);
  for (size_t i = 0; i < r->n; i++) rs_route_free(r->all[i]);
  free(r->all);
  free(r->prefix_lens);
  free(r);
}

size_t rs_router_count(const rs_router_t *r) { return r->n; }

const rs_route_t *rs_router_get(const rs_router_t *r, size_t i) {
  return i < r->n ? r->all[i] : NULL;
}

/* The slot for (kind, key): the group's slot or the empty one where it would
 * go. The table is never full (load factor <= 1/2). */
static rs__group_t *rs__slot(rs__group_t *slots, size_t nslots, const char *key,
                             size_t len, bool prefix, uint64_t hash) {
  size_t mask = nslots - 1;
  for (size_t i = (size_t)hash & mask;; i = (i + 1) & mask) {
    rs__group_t *g = &slots[i];
    if (g->key == NULL) return g;
    if (g->hash == hash && g->len == len && g->prefix == prefix &&
        memcmp(g->key, key, len) == 0)
      return g;
  }
}

static void rs__grow(rs_router_t *r) {
  size_t nslots = r->nslots ? r->nslots * 2 : 16;
  rs__group_t *slots = rs_xcalloc(nslots, sizeof(*slots));
  for (size_t i = 0; i < r->nslots; i++) {
    rs__group_t *g = &r->slots[i];
    if (g->key == NULL) continue;
    *rs__slot(slots, nslots, g->key, g->len, g->prefix, g->hash) = *g;
  }
  free(r->slots);
  r->slots = slots;
  r->nslots = nslots;
}

/* Within a group (same path, same kind): a route with a host first, then
 * higher priority, then declared earlier. */
static bool rs__route_before(const rs_route_t *a, const rs_route_t *b) {
  if ((a->host != NULL) != (b->host != NULL)) return a->host != NULL;
  if (a->priority != b->priority) return a->priority > b->priority;
  return a->_order < b->_order;
}

static void rs__group_insert(rs__group_t *g, rs_route_t *route) {
  if (g->n == g->cap) {
    g->cap = g->cap ? g->cap * 2 : 2;
    g->routes = rs_xrealloc(g->routes, g->cap * sizeof(*g->routes));
  }
  size_t i = g->n;
  while (i > 0 && rs__route_before(route, g->routes[i - 1])) {
    g->routes[i] = g->routes[i - 1];
    i--;
  }
  g->routes[i] = route;
  g->n++;
}

static void rs__prefix_len_add(rs_router_t *r, size_t len) {
  size_t i = 0;
  while (i < r->nprefix_lens && r->prefix_lens[i] > len) i++;
  if (i < r->nprefix_lens && r->prefix_lens[i] == len) return;
  r->prefix_lens = rs_xrealloc(r->prefix_lens,
                               (r->nprefix_lens + 1) * sizeof(*r->prefix_lens));
  memmove(&r->prefix_lens[i + 1], &r->prefix_lens[i],
          (r->nprefix_lens - i) * sizeof(*r->prefix_lens));
  r->prefix_lens[i] = len;
  r->nprefix_lens++;
}

static const char *rs__check_path(const char *path) {
  if (path == NULL || path[0] != '/') return "path must start with '/'";
  for (const char *p = path; *p; p++) {
    unsigned char c = (unsigned char)*p;
    if (c == '*' && p[1] != '\0') return "'*' is only allowed at the end of a path";
    if (c <= 0x20 || c == 0x7f) return "path must not contain spaces or control characters";
    if (c == '?' || c == '#') return "path must not contain '?' or '#'";
    /* Reserved so that a config keeps its meaning once params arrive. */
    if (c == ':' && p[-1] == '/') return "':param' path segments are not supported yet";
  }
  return NULL;
}

/* Route hosts are stored lower-case: the match then lower-cases only the
 * request's side. */
static const char *rs__check_host(char *host) {
  if (host == NULL) return NULL;
  if (host[0] == '\0') return "host must not be empty";
  for (char *p = host; *p; p++) {
    unsigned char c = (unsigned char)*p;
    if (c == '*') return "wildcard hosts are not supported yet";
    if (c <= 0x20 || c >= 0x7f || c == '/') return "host must be a plain host name";
    if (c >= 'A' && c <= 'Z') *p = (char)(c + 32);
  }
  size_t len = strlen(host);
  if (host[len - 1] == '.') host[len - 1] = '\0';   /* "example.com." */
  if (host[0] == '\0') return "host must not be empty";
  if (host[0] != '[' && strchr(host, ':') != NULL)
    return "host must not carry a port (the port is ignored when matching)";
  return NULL;
}

int rs_router_add(rs_router_t *r, rs_route_t *route, const char **why) {
  const char *bad = rs__check_path(route->path);
  if (bad == NULL) bad = rs__check_host(route->host);
  if (bad != NULL) {
    if (why) *why = bad;
    rs_route_free(route);
    return -EINVAL;
  }

  size_t len = strlen(route->path);
  route->_is_prefix = route->path[len - 1] == '*';
  route->_prefix_len = route->_is_prefix ? len - 1 : len;
  route->_host_len = route->host ? strlen(route->host) : 0;
  route->_order = (unsigned)r->n;

  if (r->n == r->cap) {
    r->cap = r->cap ? r->cap * 2 : 16;
    r->all = rs_xrealloc(r->all, r->cap * sizeof(*r->all));
  }
  r->all[r->n++] = route;

  if (2 * (r->ngroups + 1) > r->nslots) rs__grow(r);
  size_t klen = route->_prefix_len;
  uint64_t h = rs__hash(route->path, klen, route->_is_prefix);
  rs__group_t *g = rs__slot(r->slots, r->nslots, route->path, klen,
                            route->_is_prefix, h);
  if (g->key == NULL) {
    g->key = route->path;        /* lives as long as the router */
    g->len = klen;
    g->hash = h;
    g->prefix = route->_is_prefix;
    r->ngroups++;
    if (route->_is_prefix) rs__prefix_len_add(r, klen);
  }
  rs__group_insert(g, route);
  return 0;
}

static bool rs__route_host_ok(const rs_route_t *route, const char *host,
                              size_t host_len) {
  if (route->host == NULL) return true;
  /* Wildcard hosts ("*.example.com") will be checked here. */
  return rs_str_ieq(host, host_len, route->host, route->_host_len);
}

/* The best route of a group for this request. An explicit HEAD route beats a
 * GET route answering HEAD in the same group. */
static const rs_route_t *rs__group_match(const rs__group_t *g, unsigned method,
                                         const char *host, size_t host_len) {
  const rs_route_t *via_get = NULL;
  for (size_t i = 0; i < g->n; i++) {
    const rs_route_t *route = g->routes[i];
    if (!rs__route_host_ok(route, host, host_len)) continue;
    if (route->methods & method) return route;
    if (method == RS_M_HEAD && (route->methods & RS_M_GET) && via_get == NULL)
      via_get = route;
  }
  return via_get;
}

static const rs__group_t *rs__lookup(const rs_router_t *r, const char *key,
                                     size_t len, bool prefix) {
  if (r->nslots == 0) return NULL;
  const rs__group_t *g = rs__slot(r->slots, r->nslots, key, len, prefix,
                                  rs__hash(key, len, prefix));
  return g->key ? g : NULL;
}

const rs_route_t *rs_router_match(const rs_router_t *r, unsigned method_bit,
                                  const char *host, size_t host_len,
                                  const char *path, size_t path_len) {
  /* Drop a ":port" suffix ("[::1]:8080" keeps its brackets) and the dot of
   * a fully qualified name, as route hosts are stored without them. */
  if (host == NULL) host_len = 0;
  size_t hl = host_len;
  for (size_t i = host_len; i > 0; i--) {
    if (host[i - 1] == ']') break;
    if (host[i - 1] == ':') { hl = i - 1; break; }
  }
  if (hl > 0 && host[hl - 1] == '.') hl--;

  const rs__group_t *g = rs__lookup(r, path, path_len, false);
  const rs_route_t *route;
  if (g && (route = rs__group_match(g, method_bit, host, hl)) != NULL)
    return route;

  /* ":param" routes will be tried here, between exact paths and prefixes. */

  for (size_t i = 0; i < r->nprefix_lens; i++) {
    size_t len = r->prefix_lens[i];
    if (len > path_len) continue;
    g = rs__lookup(r, path, len, true);
    if (g && (route = rs__group_match(g, method_bit, host, hl)) != NULL)
      return route;
  }
  return NULL;
}
