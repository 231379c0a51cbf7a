/* core/conf/rs_router.h — the route table, matched in C on every request.
 *
 * A route holds its action (the handler that answers it and that action's
 * options), its Lua hooks and its cache policy (rs_route_t below).
 *
 * Built on the main thread while the config loads, then read-only: loop
 * threads match against it without locks. */
#ifndef RS_ROUTER_H
#define RS_ROUTER_H

#include "rs_common.h"
#include "rs_http.h"  /* RS_M_*: the method bits a route matches */

/* The built-in actions whose options this struct holds. Any other action
 * (e.g. redirect, core/gateway/rs_redirect.c) is RS_ACTION_OTHER: known only
 * by its handler and its own config (route->handler, route->conf). */
typedef enum {
  RS_ACTION_OTHER = 0,           /* route->handler with its own route->conf */
  RS_ACTION_RESPOND,             /* a fixed answer */
  RS_ACTION_RENDER,              /* the bundle renders it (core/gateway/rs_render.h) */
  RS_ACTION_STATIC,              /* files under a root (core/gateway/rs_static.h) */
  RS_ACTION_PROXY,               /* to an upstream (core/gateway/rs_proxy.h) */
} rs_action_t;

/* What a route's limit counts by (nginx's key variables). */
enum {
  RS_LIMIT_KEY_ADDR = 0,         /* "$remote_addr": the client, behind trusted proxies */
  RS_LIMIT_KEY_HOST,             /* "$host" */
  RS_LIMIT_KEY_HEADER,           /* "$http_NAME": a request header; absent = not counted */
  RS_LIMIT_KEY_HOOK,             /* key = function(req): its string; nil = not counted
                                    (lua/rs_lhooks.h, RS_HOOK_LIMIT_REQ / _CONN) */
};

struct rs_action_handler_s;      /* core/gateway/rs_action.h: opaque here */

/* proxy.host: which Host header the upstream gets. */
enum { RS_PROXY_HOST_KEEP = 0, RS_PROXY_HOST_UPSTREAM, RS_PROXY_HOST_LITERAL };

/* error_page = { [STATUS] = TARGET, ... } (nginx's error_page): TARGET is a
 * path to render with the bundle ("/404": the page of that path, answered
 * with STATUS) or a file (its bytes, read at load). Built by the Lua loader,
 * read-only after. */
typedef struct {
  int status;                    /* 300..599 */
  char *target;                  /* "/404" or the file's path as written (owned) */
  char *body;                    /* a file's bytes, read at load; NULL = a render (owned) */
  size_t body_len;
  const char *type;              /* a file's Content-Type (static string) */
} rs_errpage_t;

typedef struct rs_errpages_s {
  rs_errpage_t *v;               /* (owned) */
  size_t n;
} rs_errpages_t;

/* The page for status, or NULL. pages may be NULL. Any thread. */
const rs_errpage_t *rs_errpages_find(const rs_errpages_t *pages, int status);
void rs_errpages_free(rs_errpages_t *pages);

typedef struct rs_route_s {
  unsigned methods;              /* RS_M_* mask; a GET route also answers HEAD */
  char *host;                    /* NULL = any host (owned) */
  char *path;                    /* exact, with ":param" segments, and/or a prefix
                                    ending in '*' (owned) */
  int priority;                  /* higher first among equally specific routes */
  rs_action_t action;
  /* What answers the route: the dispatcher runs handler (set by the loader,
   * lua/rs_lroute.c, from the actions the gateway registered; NULL only for
   * a route made outside the loader). An action that reads its own options
   * keeps them in conf, freed with the route by conf_free. */
  const struct rs_action_handler_s *handler;
  void *conf;
  void (*conf_free)(void *conf);
  char *where;                   /* "file:line" of the declaration, for logs (owned) */
  char *server;                  /* the listener it belongs to: a name from ssr.config's
                                    servers, NULL = the main one (listen) (owned) */

  bool no_compress;              /* compress = false: answers skip the compression
                                    filter (core/http/rs_compress.h) */

  struct {                       /* Lua hooks the route declared (lua/rs_lhooks.h);
                                    a route with none never enters Lua */
    bool handler;                /* respond = function(req) */
    bool key, bypass, props;
    bool limit_req, limit_conn;  /* limit_req/limit_conn = { key = function(req) } */
  } hooks;

  struct {                       /* RS_ACTION_RENDER */
    bool cache;                  /* through the page cache (default true) */
    int64_t ttl_ms;              /* -1: the bundle's ttl, else cache.ttl */
    int64_t grace_ms;            /* -1: cache.grace */
  } render;

  struct {                       /* the cache policy of a route that caches
                                    (core/gateway/rs_policy.h, rs_route_page_sees;
                                    filled by lua/rs_lcache.c).
                                    All zero = the defaults. Its ttl and grace are
                                    render.ttl_ms / grace_ms above. */
    bool cookie;                 /* requests with Cookie may be looked up and stored */
    bool authorization;          /* the same for Authorization */
    const char *const *bypass_cookie;  /* NULL-ended names; the request skips the */
    const char *const *bypass_header;  /* cache when one is present and non-empty; */
    const char *const *bypass_query;   /* NULL = none. Header names lower-case */
    const char *const *headers;  /* NULL-ended lower-case names the pages depend on:
                                    they join the key (core/cache/rs_key.h) and are the
                                    only headers beside Host a cached render sees;
                                    NULL = none */
    const char *const *cookies;  /* NULL-ended cookie names the pages depend on
                                    (case-sensitive): their values join the key,
                                    the Cookie header a stored page's render sees
                                    holds only them, and any other cookie neither
                                    bypasses nor reaches the page; NULL = none (any
                                    Cookie bypasses, unless cookie above) */
    char *cache_control;         /* Cache-Control sent with the route's rendered
                                    pages when the bundle sets none (owned);
                                    NULL = none */
    const char *const *tags;     /* added to every page the route stores */
    size_t ntags;
    uint64_t statuses[10];       /* bit s: status s may be stored; all zero =
                                    200, 301, 302, 404 */
    char *_mem;                  /* owns the lists and their strings */
  } cache;

  /* error_page = { [404] = "/404", [500] = "static/50x.html" }: what answers a
   * status this route (or, on the config, any route) would answer with the
   * plain error page (core/gateway/rs_errpage.h). NULL = none (owned). */
  rs_errpages_t *errpages;

  struct {                       /* RS_ACTION_PROXY (core/gateway/rs_proxy.h) */
    char *upstream;              /* the upstream's name in ssr.config (owned) */
    char *path;                  /* replaces what the route's prefix matched;
                                    NULL = the path as sent (owned) */
    int host_mode;               /* RS_PROXY_HOST_* */
    char *host;                  /* the literal Host, for _LITERAL (owned) */
  } proxy;

  struct {                       /* RS_ACTION_STATIC */
    char *root;                  /* the folder, as resolved at load (owned) */
    char *index;                 /* file for a path ending in '/'; NULL = none (owned) */
    int64_t max_age;             /* Cache-Control: public, max-age=N; -1 = none */
    bool etag;                   /* send ETag, honour If-None-Match */
    bool precompressed;          /* serve FILE.br / FILE.gz when fresh (gzip_static) */
  } files;

  struct {                       /* limit_req / limit_conn (nginx's; lua/rs_llimit.c fills
                                    it, core/gateway/rs_ratelimit.h applies it) */
    uint64_t zone;               /* the route's id in the limit table: the same route
                                    (file:line, methods, host, path) keeps it across a reload */
    uint64_t rate;               /* limit_req: thousandths of a request a minute; 0 = none */
    uint32_t burst;              /* limit_req: requests beyond the rate passed at once */
    int req_status;              /* limit_req's answer (429) */
    uint32_t conn_max;           /* limit_conn: requests in flight per key; 0 = none */
    int conn_status;             /* limit_conn's answer (429) */
    char rate_text[24];          /* as written ("10r/s"), for -T */
    struct rs_route_limit_key_s {
      int kind;                  /* RS_LIMIT_KEY_* */
      char *header;              /* lower-case name, for _HEADER (owned) */
    } req_key, conn_key;
  } limit;

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
  size_t _stats_id;              /* atomic: its rustyssr_request_duration_seconds
                                    series + 1, 0 until first used (core/gateway/rs_reqstats.c) */
} rs_route_t;

typedef struct rs_router_s rs_router_t;

rs_router_t *rs_router_create(void);
void rs_router_destroy(rs_router_t *r);

/* A router that indexes routes owned by another router (one listener's
 * share of the config's routes, rs_config.h): rs_router_add on it keeps
 * route->_order as the owner set it and never frees the route;
 * rs_router_destroy frees only the index. Main thread. */
rs_router_t *rs_router_create_view(void);

/* Take ownership of route (heap-allocated by the caller with its strings).
 * Returns 0, or -EINVAL with *why set (a static string) when the path is not
 * absolute or the '*' is not last; the route is then freed. Also rejected:
 * spaces, control characters, '?' or '#' in the path; a ':' anywhere but at
 * the start of a segment; a ":param" whose name is empty, is not letters,
 * digits or '_' up to the next '/', repeats another's in the same path, or
 * comes after the '*'; more than RS_ROUTE_MAX_PARAMS params; an empty host,
 * a host with a ":port", a '*' in a host other than a leading "*.". Sets the
 * private fields (_order = the number of routes added before it) and
 * lower-cases host. Main thread, before the loop threads start. */
int rs_router_add(rs_router_t *r, rs_route_t *route, const char **why);

/* Free a route that was never added. */
void rs_route_free(rs_route_t *route);

/* Does the render of a page (or a hook feeding it: the props hook's view,
 * lua/rs_lhooks.h) see the request header called name? untrusted_claim:
 * name is a forwarding claim (core/http/rs_realip.h: rs_realip_claim) and
 * the peer is not a trusted proxy — never seen. For a page stored for
 * everyone (shared: its route; NULL = not stored) only Host and the headers
 * the route names (route->cache.headers), which are its key's fields: nothing
 * else a visitor sends may shape a page that others are served. The one
 * rule the bundle's request.headers (core/gateway/rs_render.h) and the
 * props hook's view follow. Any thread. */
bool rs_route_page_sees(const rs_route_t *shared, const char *name, size_t len, bool untrusted_claim);

/* A ":name" segment captured by rs_router_match. name is a slice of the
 * route's path (not NUL-terminated), valid as long as the router; value is
 * a slice of the request's path, as sent (not percent-decoded), valid as long
 * as that path. */
typedef struct {
  rs_str_t name, value;
} rs_route_param_t;

/* The most ":params" a route may have: an array this long is never short. */
#define RS_ROUTE_MAX_PARAMS 16

/* A request's route and its :params (raw slices of the request's path), as
 * the dispatcher matched them (core/gateway/rs_dispatch.c): its per-request
 * state, read with rs_req_match (core/base/rs_loop.h). */
typedef struct rs_route_match_s {
  const struct rs_route_s *route; /* NULL: none matched */
  size_t nparams;
  rs_route_param_t params[RS_ROUTE_MAX_PARAMS];
} rs_route_match_t;

/* The best route for a request, or NULL. Loop threads call it concurrently;
 * it reads only and allocates nothing.
 *
 * host is the request's Host (NULL/0 = none: only routes without a host
 * match), compared case-insensitively without its ":port" or a trailing dot.
 * The host is chosen first, then the path, as nginx picks a server and then
 * a location: routes whose host is the request's are tried first; then
 * routes with a wildcard host "*.suffix", longest suffix first ("*.a.com"
 * matches "x.a.com" and "x.y.a.com", not "a.com"); then routes without a
 * host. A host class whose routes fit neither path nor method gives way to
 * the next one.
 *
 * Within a host class, most specific path first:
 *   1. an exact path;
 *   2. a path with ":params" (each matches one non-empty segment, without
 *      '/'; the path may end in '*' too, e.g. "/files/:bucket/" then '*'):
 *      between two of them, the first segment where they differ decides: a
 *      static segment beats a ":param", which beats a segment ending in '*'
 *      (a longer text before the '*' first) — so "/product/new" beats
 *      "/product/:id", and "/a/:x/:y" beats "/a/:x/" then '*';
 *   3. a prefix (a path ending in '*', no params), longer before shorter.
 * Among routes of the same path and host: higher priority, then
 * declaration order. A route whose method does not fit is skipped. HEAD is
 * answered by a GET route unless a route of the same path lists HEAD itself.
 *
 * params/nparams: *nparams is the capacity of params on entry, the number
 * of ":params" stored on return (0 for a route without any, or on NULL); at
 * most *nparams are stored, in path order. nparams may be NULL (params are
 * then not wanted, and params is not read). */
const rs_route_t *rs_router_match(const rs_router_t *r, unsigned method_bit,
                                  const char *host, size_t host_len,
                                  const char *path, size_t path_len,
                                  rs_route_param_t *params, size_t *nparams);

size_t rs_router_count(const rs_router_t *r);

/* Routes that an earlier equal route (same host, listener and path up to
 * the names of its :params, at a priority at least as high) leaves nothing
 * or less than it lists: one line a route, "file:line: route GET /blog/:id
 * can never match: file:line (GET /blog/:slug) takes those requests first",
 * appended to out. Returns how many. Main thread, for -t and the load's
 * warnings. */
size_t rs_router_shadowed(const rs_router_t *r, rs_buf_t *out);

/* The i-th route in declaration order, or NULL past the end (for -t output,
 * the admin listener and tests). Owned by the router. */
const rs_route_t *rs_router_get(const rs_router_t *r, size_t i);

#endif
