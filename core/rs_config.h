/* core/rs_config.h — the gateway's configuration, as the Lua config file
 * (lua/rs_lconfig.c) fills it. Plain data: the loader writes it once on the
 * main thread before any loop thread starts; afterwards every thread only
 * reads it. */
#ifndef RS_CONFIG_H
#define RS_CONFIG_H

#include "rs_common.h"
#include "rs_router.h"

typedef struct {
  char host[64];                 /* numeric IPv4 or IPv6 address */
  int port;                      /* 1..65535; 0 in tests = pick a free port */
} rs_addr_t;

typedef enum { RS_LOG_ERROR = 0, RS_LOG_WARN, RS_LOG_INFO, RS_LOG_DEBUG } rs_log_level_t;

typedef struct rs_config_s {
  char *file;                    /* the config file path as given (owned) */

  rs_addr_t listen;              /* listen = "0.0.0.0:8080" */
  rs_addr_t admin;               /* admin = "127.0.0.1:9901" */
  bool admin_enabled;            /* admin = false turns it off */
  int backlog;                   /* listen backlog, default 511 */

  int workers;                   /* loop threads; 0 = one per core (hwloc) */
  bool pin;                      /* pin loop threads to cores, default true */

  struct {
    size_t url;                  /* request-target bytes → 414 (8 KiB) */
    size_t header_bytes;         /* request line + all headers → 431 (32 KiB) */
    size_t headers;              /* header count → 431 (100) */
    size_t body;                 /* body bytes → 413 (1 MiB) */
    size_t pipeline;             /* requests parsed ahead of their answer (32) */
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
  } log;

  struct {                       /* the render pool (core/rs_pool.h) */
    char *bundle;                /* the JS bundle's path; NULL = no pool (owned) */
    char *fn;                    /* the global render function, "render" (owned) */
    int threads;                 /* render threads; 0 = one per core */
    size_t queue;                /* jobs waiting beyond that → 503 (512) */
    uint64_t timeout_ms;         /* queue wait (→ 503), then render time (→ 504) (2000) */
    int heap_mb;                 /* V8 heap per isolate (128) */
    bool debug;                  /* error pages show the JS error and stack */
  } render;

  struct {                       /* the page cache (core/rs_page.h) */
    bool enabled;                /* cache = false turns it off */
    size_t max_entries;          /* L2, whole cache (100000) */
    size_t max_bytes;            /* L2, whole cache, all variants counted (512 MiB) */
    unsigned shards;             /* L2 shards, a power of two (128) */
    uint64_t ttl_ms;             /* when neither route nor bundle says (60 s) */
    uint64_t grace_ms;           /* stale-while-revalidate / if-error window (10 s) */
    size_t l1_hot;               /* L1 ultra-hot slots per loop (8) */
    size_t l1_entries;           /* L1 map entries per loop (128) */
    size_t l1_bytes;             /* L1 bytes per loop (8 MiB) */
    int gzip_level;              /* 0 = no gzip variant (1) */
    int brotli_quality;          /* -1 = no br variant (4) */
    size_t min_compress;         /* smaller bodies are kept identity only (1 KiB) */
  } cache;

  rs_router_t *router;           /* the routes the file declared (owned) */
} rs_config_t;

/* Fill cfg with the defaults above (router created empty). */
void rs_config_init(rs_config_t *cfg);
/* Free what cfg owns; cfg itself is the caller's. */
void rs_config_dispose(rs_config_t *cfg);

/* Parse "host:port", "[v6]:port" or ":port"/"port" (host 0.0.0.0) into a.
 * Returns 0, or -EINVAL with *why set to a static reason. */
int rs_addr_parse(const char *s, rs_addr_t *a, const char **why);

/* Parse a size: a number of bytes, or a string like "512", "64KB", "1MB",
 * "2GB" (powers of 1024; "k", "m", "g" also accepted). Returns 0 or -EINVAL. */
int rs_size_parse(const char *s, size_t *out);

#endif
