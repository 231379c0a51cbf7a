/* core/rs_router.h — the route table, matched in C on every request.
 *
 * The foundation knows one action, RESPOND (a fixed status, headers and
 * body). The routing issue adds render, proxy, static, redirect and Lua
 * hooks by extending rs_route_t and rs_router_match, not by replacing them.
 *
 * Built on the main thread while the config loads, then read-only: loop
 * threads match against it without locks. */
#ifndef RS_ROUTER_H
#define RS_ROUTER_H

#include "rs_common.h"

/* Method bits; a route matches any method in its mask. */
#define RS_METHOD_MAP(XX) \
  XX(GET, 0)              \
  XX(HEAD, 1)             \
  XX(POST, 2)             \
  XX(PUT, 3)              \
  XX(DELETE, 4)           \
  XX(PATCH, 5)            \
  XX(OPTIONS, 6)          \
  XX(PURGE, 7)

enum {
#define XX(name, bit) RS_M_##name = 1u << (bit),
  RS_METHOD_MAP(XX)
#undef XX
  RS_M_ANY = 0xffu
};

/* Bit for a method name (case-sensitive, as HTTP methods are); 0 if unknown. */
unsigned rs_method_bit(const char *name, size_t len);

typedef enum {
  RS_ACTION_RESPOND = 1,         /* a fixed answer */
  RS_ACTION_RENDER,              /* the bundle renders it (core/rs_render.h) */
} rs_action_t;

typedef struct rs_route_s {
  unsigned methods;              /* RS_M_* mask; a GET route also answers HEAD */
  char *host;                    /* NULL = any host (owned) */
  char *path;                    /* exact path, or a prefix ending in '*' (owned) */
  int priority;                  /* higher first among equally specific routes */
  rs_action_t action;
  char *where;                   /* "file:line" of the declaration, for logs (owned) */

  struct {                       /* RS_ACTION_RENDER */
    bool cache;                  /* through the page cache (default true) */
    int64_t ttl_ms;              /* -1: the bundle's ttl, else cache.ttl */
    int64_t grace_ms;            /* -1: cache.grace */
  } render;

  struct {                       /* RS_ACTION_RESPOND */
    int status;
    char *headers;               /* pre-rendered "Name: value\r\n"... (owned);
                                    the Lua loader never leaves it NULL: "" */
    size_t headers_len;
    char *body;                  /* (owned); "" (not NULL) when none, as above */
    size_t body_len;
  } respond;

  /* private */
  size_t _prefix_len;            /* path length without the '*', for prefixes */
  bool _is_prefix;
  unsigned _order;               /* declaration order */
  size_t _host_len;              /* strlen(host); host is stored lower-case */
} rs_route_t;

typedef struct rs_router_s rs_router_t;

rs_router_t *rs_router_create(void);
void rs_router_destroy(rs_router_t *r);

/* Take ownership of route (heap-allocated by the caller with its strings).
 * Returns 0, or -EINVAL with *why set (a static string) when the path is not
 * absolute or the '*' is not last; the route is then freed. Also rejected:
 * spaces, control characters, '?' or '#' in the path; an empty host, a host
 * with a ":port" or a '*'. Sets the private fields (_order = the number of
 * routes added before it) and lower-cases host. Main thread, before the
 * loop threads start. */
int rs_router_add(rs_router_t *r, rs_route_t *route, const char **why);

/* Free a route that was never added. */
void rs_route_free(rs_route_t *route);

/* The best route for a request, or NULL. Order: exact paths before
 * prefixes, longer prefixes before shorter, then higher priority, then
 * declaration order; a route with a host before one without. Loop threads
 * call it concurrently; it reads only.
 * Precisely: among routes of the same path, those with a host come first,
 * then higher priority, then declaration order; a route whose host or
 * method does not fit is skipped. host is the request's Host, compared
 * case-insensitively without its ":port" (NULL/0 = none: only routes without
 * a host match). HEAD is answered by a GET route unless a route of the same
 * path lists HEAD itself. */
const rs_route_t *rs_router_match(const rs_router_t *r, unsigned method_bit,
                                  const char *host, size_t host_len,
                                  const char *path, size_t path_len);

size_t rs_router_count(const rs_router_t *r);

/* The i-th route in declaration order, or NULL past the end (for -t output,
 * the admin listener and tests). Owned by the router. */
const rs_route_t *rs_router_get(const rs_router_t *r, size_t i);

#endif
