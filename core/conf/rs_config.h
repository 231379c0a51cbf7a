/* core/conf/rs_config.h — the gateway's configuration, as the Lua config file
 * (lua/rs_lconfig.c) fills it. Plain data: the loader writes it once on the
 * main thread before any loop thread starts; afterwards every thread only
 * reads it. */
#ifndef RS_CONFIG_H
#define RS_CONFIG_H

#include "rs_cidr.h"
#include "rs_coding.h"
#include "rs_common.h"
#include "rs_log.h"
#include "rs_router.h"

/* cache.on_new_bundle (core/server/rs_reload.c). */
enum { RS_ON_NEW_BUNDLE_STALE = 0, RS_ON_NEW_BUNDLE_KEEP, RS_ON_NEW_BUNDLE_PURGE };

typedef struct {
  char host[64];                 /* numeric IPv4 or IPv6 address */
  int port;                      /* 1..65535; 0 in tests = pick a free port */
} rs_addr_t;

/* An upstream's TLS (servers = { "https://..." }, tls = { ... }). */
typedef struct {
  bool on;                       /* the servers are https:// */
  bool verify;                   /* check the certificate and its name (true) */
  char *ca;                      /* PEM CA file (owned); NULL = the system store */
  char *sni;                     /* the name sent and verified (owned); NULL = each
                                    server's host as written */
  char *cert, *key;              /* a client certificate (owned); NULL = none */
} rs_upstream_tls_t;

/* One named upstream (ssr.config { upstreams = { NAME = {...} } }); the
 * runtime that uses it is core/upstream/rs_upstream.h. */
typedef struct {
  char *name;                    /* (owned) */
  rs_addr_t *servers;            /* numeric host:port each (owned); a name was
                                    resolved when the config was loaded */
  char **hosts;                  /* each server's host as written ("api.internal",
                                    "127.0.0.1"): TLS's name (owned) */
  size_t nservers;               /* at least 1 */
  rs_upstream_tls_t tls;
  size_t keepalive;              /* idle connections kept per loop per server (32) */
  uint64_t connect_timeout_ms;   /* (1000) */
  uint64_t send_timeout_ms;      /* a request write making no progress (10000) */
  uint64_t read_timeout_ms;      /* between two reads of the response (30000) */
  uint64_t idle_timeout_ms;      /* a pooled connection unused this long closes (60000) */
  int retries;                   /* more servers tried when a connect fails (1) */
  int max_fails;                 /* failures within fail_timeout that mark a
                                    server down (1; 0 = never) */
  uint64_t fail_timeout_ms;      /* the window and the down time (10000) */
} rs_upstream_conf_t;

/* A listener's TLS (listen = { "0.0.0.0:8443", tls = { ... } }): what the
 * file says, checked at load (the files exist, each key matches its
 * certificate); the server makes its TLS context for each configuration
 * generation (core/server/rs_gen.c, core/tls/rs_tls.h). */
typedef struct {
  char *cert, *key;              /* PEM files, relative paths resolved against
                                    the config's folder (owned) */
  char *ocsp;                    /* a DER OCSP response to staple; NULL = none (owned) */
} rs_tls_cert_file_t;

typedef struct rs_tls_conf_s {
  rs_tls_cert_file_t *certs;     /* tls = { cert, key } or certs = { {...}, ... }:
                                    SNI picks, the first is the default (owned) */
  size_t ncerts;
  bool tls12, tls13;             /* protocols = { "TLSv1.2", "TLSv1.3" } (both) */
  char *ciphers;                 /* TLS 1.2 cipher list; NULL = Mozilla's
                                    intermediate (owned) */
  uint32_t session_timeout_s;    /* tickets and cached sessions (3600) */
  size_t session_cache;          /* server-side cache entries per listener;
                                    0 = off, tickets only (20480) */
  uint32_t ticket_rotate_s;      /* a new ticket key this often (3600) */
  bool tickets;                  /* session_tickets (true) */
  uint64_t handshake_timeout_ms; /* a handshake not done by then closes (10000) */
} rs_tls_conf_t;

/* What a listener speaks beside its address: listen = { "addr", tls = {...},
 * http2 = true }. */
typedef struct {
  rs_tls_conf_t *tls;            /* NULL = cleartext (owned) */
  bool http2;                    /* HTTP/2: ALPN "h2" on TLS, prior knowledge
                                    (h2c) on cleartext */
} rs_listener_conf_t;

/* Free what lc owns and clear it. */
void rs_listener_conf_dispose(rs_listener_conf_t *lc);

typedef struct rs_config_s {
  char *file;                    /* the config file path as given (owned) */
  int config_line;               /* line of the ssr.config call in file (0 = none) */
  char *warnings;                /* what the load found suspicious but legal, one
                                    "FILE:LINE: ..." line each (routes shadowed by
                                    an earlier equal one); NULL = none (owned) */

  rs_addr_t listen;              /* listen = "0.0.0.0:8080" */
  rs_listener_conf_t listen_conf; /* listen = { "0.0.0.0:8443", tls = {...}, http2 = true } */
  rs_addr_t admin;               /* admin = "127.0.0.1:9901" */
  bool admin_enabled;            /* admin = false turns it off */
  struct {                       /* admin = { listen, token, allow, open } (core/server/rs_admin.c) */
    char *token;                 /* "Authorization: Bearer" token that purges need (owned);
                                    NULL = none */
    rs_cidr_t *allow;            /* the addresses that may use the admin listener (owned);
                                    NULL/0 = any */
    size_t nallow;
    bool open_metrics, open_health;  /* GET these from any address */
  } admin_auth;
  int backlog;                   /* listen backlog, default 511 */
  char *pid;                     /* pid file; NULL = none (owned; relative
                                    paths resolved against the config's folder) */

  int workers;                   /* loop threads; 0 = one per core (hwloc) */
  bool pin;                      /* pin loop threads to cores, default true */

  struct {
    size_t url;                  /* request-target bytes → 414 (8 KiB) */
    size_t header_bytes;         /* request line + all headers → 431 (32 KiB) */
    size_t headers;              /* header count → 431 (100) */
    size_t body;                 /* body bytes → 413 (1 MiB) */
    size_t pipeline;             /* requests parsed ahead of their answer (32) */
    size_t http2_streams;        /* HTTP/2 streams open at once per connection (128) */
  } limits;

  struct {                       /* all in milliseconds */
    uint64_t header;             /* first byte to end of headers → 408 (10 s) */
    uint64_t body;               /* between body reads → 408 (30 s) */
    uint64_t keepalive;          /* idle between requests → close (75 s) */
    uint64_t write;              /* a write making no progress → close (30 s) */
    uint64_t shutdown;           /* SIGTERM drain deadline (10 s) */
  } timeouts;

  struct {
    char *error;                 /* "stderr" or a file path (owned) */
    rs_log_level_t level;        /* "error" | "warn" | "info" | "debug" */
    char *access;                /* NULL = off, "stderr" or a file path (owned) */
    char *access_format;         /* "combined" (nginx's), "timed", "json" or a template of
                                    $variables (core/http/rs_logfmt.h) (owned) */
    bool access_json;            /* access_escape = "json": a template's values escaped
                                    as nginx's escape=json (false: escape=default) */
    bool access_admin;           /* the admin listener's requests too (false) */
  } log;

  struct {                       /* the render pool (core/render/rs_pool.h) */
    char *bundle;                /* the JS bundle's path; NULL = no pool (owned) */
    char *fn;                    /* the global render function, "render" (owned) */
    int threads;                 /* render threads; 0 = one per core */
    size_t queue;                /* jobs waiting beyond that → 503 (512) */
    uint64_t timeout_ms;         /* queue wait (→ 503), then render time (→ 504) (2000) */
    int heap_mb;                 /* V8 old generation per isolate (128) */
    int semi_space_mb;           /* V8 semi-space; young gen = 3x (8) */
    int nice;                    /* render threads' nice value, -20..19 (-5) */
    char *v8_flags;              /* V8 flags, space-separated; NULL = none (owned) */
    char **env;                  /* process.env: name, value, name, ... (owned) */
    size_t nenv;                 /* pairs in env */
    bool debug;                  /* error pages show the JS error and stack */
    uint64_t bundle_id;          /* the pool's rs_pool_bundle_id, set with the
                                    generation (core/server/rs_reload.c); 0 = none */
  } render;
  unsigned generation;           /* the configuration generation's id (1, 2, ...),
                                    set with it */

  struct {                       /* the per-loop hook states (lua/rs_lhooks.h) */
    uint64_t hook_timeout_ms;    /* one run of a hook, then interrupted → 500 (1000) */
    size_t memory_mb;            /* bytes a loop's state may hold, in MiB (256) */
    bool jit;                    /* JIT-compile hooks: faster, but a compiled
                                    loop cannot be interrupted (false) */
  } lua;

  struct {                       /* the page cache (core/gateway/rs_page.h) */
    bool enabled;                /* cache = false turns it off */
    size_t max_entries;          /* L2, whole cache (100000) */
    size_t max_bytes;            /* L2, whole cache, all variants counted (512 MiB) */
    unsigned shards;             /* L2 shards, a power of two (128) */
    uint64_t ttl_ms;             /* when neither route nor bundle says (60 s) */
    uint64_t grace_ms;           /* stale-while-revalidate / if-error window (10 s) */
    double ttl_jitter;           /* each stored TTL shortened by up to this share,
                                    at random: pages stored together expire apart (0.1) */
    double prefresh;             /* a hit past this share of the page's TTL starts one
                                    background refresh (Akamai's prefresh); 0 = never (0.9) */
    size_t l1_hot;               /* L1 ultra-hot slots per loop (8) */
    size_t l1_entries;           /* L1 map entries per loop (128) */
    size_t l1_bytes;             /* L1 bytes per loop (8 MiB) */
    int gzip_level;              /* 0 = no gzip variant (1) */
    int brotli_quality;          /* -1 = no br variant (4) */
    size_t min_compress;         /* smaller bodies are kept identity only (1 KiB) */
    bool clear_on_reload;        /* SIGHUP purges every page (false) */
    int on_new_bundle;           /* RS_ON_NEW_BUNDLE_*: what a reload that brings a
                                    bundle with other bytes does to older pages */
    char *version;               /* joins every key (rs_key.h); NULL = none (owned) */
    struct {                     /* cache.shared = {...}: the fleet's tier in Redis
                                    (core/fleet/rs_fleet.h); taken at start */
      char *host;                /* NULL: no shared tier */
      int port;
      int db;                    /* SELECT (0) */
      char *password;            /* AUTH (none) */
      char *prefix;              /* of every key and channel ("rs:") */
      uint32_t timeout_ms;       /* lookups (5) */
      uint32_t write_timeout_ms; /* stores and purges (50) */
      uint32_t connect_timeout_ms; /* (1000) */
      uint32_t lock_ms;          /* a render's lock (2 x render.timeout_ms + 500) */
      uint32_t lock_wait_ms;     /* how long a miss waits for another instance's render (300) */
      size_t max_bytes;          /* larger pages stay in this instance (1 MiB) */
      uint32_t max_fails;        /* failures in a row that rest the tier (3) */
      uint32_t fail_timeout_ms;  /* for that long (1000) */
    } shared;
  } cache;

  rs_errpages_t *errpages;       /* error_page = {...} for every route that has
                                    none of its own; NULL = none (owned) */

  /* compress = {...}: on-the-fly gzip/br of what is not a stored page
   * (bypassed renders, respond handlers, proxied answers, static files;
   * core/http/rs_compress.h). Stored pages keep cache.gzip_level's variants. */
  rs_compress_opts_t compress;

  struct {                       /* real_ip = {...}: the client behind trusted proxies
                                    (nginx's set_real_ip_from, real_ip_header,
                                    real_ip_recursive; core/http/rs_realip.h) */
    rs_cidr_t *from;             /* trusted peers (owned); NULL/0 = none: every
                                    client's X-Forwarded-* is dropped */
    size_t nfrom;
    char *header;                /* lower-case name ("x-forwarded-for") (owned) */
    bool recursive;              /* skip trusted addresses in the header from the
                                    right (true) or take its last one (false) */
  } real_ip;

  /* shared = { NAME = "1m" }: dictionaries shared by every loop thread
   * (OpenResty's lua_shared_dict; core/base/rs_shdict.h, lua/rs_lshared.h).
   * Sorted by name. Each dict is acquired at load (the same name keeps its
   * items across a reload) and released by rs_config_dispose. */
  struct rs_shared_conf_s {
    char *name;                  /* owned */
    size_t bytes;
    struct rs_shdict_s *dict;    /* (one reference owned) */
  } *shared;
  size_t nshared;

  struct {                       /* limit_req / limit_conn of the routes
                                    (core/gateway/rs_limit.h) */
    size_t keys;                 /* the keys tracked at most, all routes (100000) */
  } limit;

  rs_upstream_conf_t *upstreams; /* upstreams = { name = {...} } (owned) */
  size_t nupstreams;

  rs_router_t *router;           /* every route the file declared, whatever its
                                    listener (owned; iterate this one) */

  /* servers = { backend = "127.0.0.1:9000" }: more listeners of the same
   * process, each answering only the routes that name it (server = "backend");
   * routes without a server belong to `listen`. Sorted by name. */
  struct rs_server_conf_s {
    char *name;                  /* owned */
    rs_addr_t addr;
    /* servers = { NAME = { listen = ..., access_log = ..., access_format = ... } }:
     * the listener's own access log; unset = log.access / log.access_format. */
    bool access_set;
    char *access;                /* NULL = off (owned) */
    char *access_format;         /* NULL = log.access_format (owned) */
    rs_listener_conf_t conf;     /* listen = { "addr", tls = {...}, http2 = true } */
  } *servers;
  size_t nservers;
  /* Per listener, what it matches: [0] = listen, [1 + i] = servers[i]; views
   * over `router` (rs_router_create_view), built once the file has loaded.
   * NULL when there are no servers: `router` then serves listen alone. */
  rs_router_t **routers;
} rs_config_t;

/* The routes listener `i` matches (0 = listen, 1 + k = servers[k]). */
static inline const rs_router_t *rs_config_router(const rs_config_t *cfg, size_t i) {
  return cfg->routers != NULL ? cfg->routers[i] : cfg->router;
}

/* Index of the server called name in cfg->servers, or -1. */
int rs_config_server_find(const rs_config_t *cfg, const char *name);

/* Sort the servers, check that no two listeners (listen, admin, servers)
 * share an address, check each route's server name, and build the
 * per-listener views (cfg->routers). Returns 0, or -1 with err set to
 * "FILE:LINE: reason" (the route's or where's, the ssr.config call, for an
 * address clash). Main thread, once the file has loaded. */
int rs_config_finish(rs_config_t *cfg, const char *where, char *err, size_t errlen);

/* Call fn for each line of cfg->warnings (NUL-terminated, without '\n'). */
void rs_config_each_warning(const rs_config_t *cfg, void (*fn)(void *ud, const char *line), void *ud);

/* Fill cfg with the defaults above (router created empty). */
void rs_config_init(rs_config_t *cfg);
/* Free what cfg owns; cfg itself is the caller's. */
void rs_config_dispose(rs_config_t *cfg);

/* Set u's defaults (servers empty, name NULL). */
void rs_upstream_conf_init(rs_upstream_conf_t *u);
/* The upstream called name, or NULL. */
const rs_upstream_conf_t *rs_config_upstream(const rs_config_t *cfg, const char *name);

/* Parse "host:port", "[v6]:port" or ":port"/"port" (host 0.0.0.0) into a.
 * Returns 0, or -EINVAL with *why set to a static reason. */
int rs_addr_parse(const char *s, rs_addr_t *a, const char **why);

/* Parse a size: a number of bytes, or a string like "512", "64KB", "1MB",
 * "2GB" (powers of 1024; "k", "m", "g" also accepted). Returns 0 or -EINVAL. */
int rs_size_parse(const char *s, size_t *out);

#endif
