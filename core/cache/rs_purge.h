/* core/cache/rs_purge.h — purges: the pages of the L2 a selector names (by
 * key, prefix, tag, URL, or all), shared by the admin listener
 * (core/server/rs_admin.c) and Lua's ssr.purge (lua/rs_lcache.c). They
 * read the key format (rs_key.h) and remove through rs_cache.h; every
 * loop's L1 follows by the purge epochs. Any thread. */
#ifndef RS_PURGE_H
#define RS_PURGE_H

#include "rs_common.h"

struct rs_cache_s;

/* What a purge selects. */
#define RS_PURGE_MAP(XX) \
  XX(KEY, "key")         \
  XX(PREFIX, "prefix")   \
  XX(TAG, "tag")         \
  XX(ALL, "all")         \
  XX(URL, "url")

typedef enum {
#define XX(name, str) RS_PURGE_##name,
  RS_PURGE_MAP(XX)
#undef XX
  RS_PURGE_MAX
} rs_purge_by_t;

/* The selector called name ("key", "prefix", "tag", "all", "url"), or -1. */
int rs_purge_by(const char *name, size_t len);

/* Drop from cache the pages that v[0..len) selects (core/cache/rs_key.h has the
 * key format):
 *   KEY     the page stored under the key v, with every variant of the
 *           route's named headers, and every page whose key hook returned
 *           v, on any host;
 *   PREFIX  the pages whose key starts with v ("GET example.com/catalog/"),
 *           and those whose key hook's string starts with v, on any host;
 *   TAG     the pages tagged v;
 *   ALL     everything (v unused);
 *   URL     "/path?query" on host: the page under its default key (with the
 *           variants of named headers), as a request for it builds it; pages
 *           stored under a key hook's key are not found that way.
 * An empty v selects nothing (0): only ALL purges everything. Bumps the
 * purge epoch, so every loop's L1 stops serving them at its next lookup and
 * a render that began before never puts its page back. Returns how many
 * pages were removed. Any thread. */
size_t rs_purge(struct rs_cache_s *cache, rs_purge_by_t by, const char *v, size_t len,
                       const char *host, size_t host_len);

/* rs_purge, or with soft a soft purge of the same pages: they stay, stale
 * from now on, served within their grace while one background render
 * replaces each (rs_cache.h, "Soft purges"). The observer below is told as
 * of a purge. Returns how many. */
size_t rs_purge_ex(struct rs_cache_s *cache, rs_purge_by_t by, const char *v, size_t len, const char *host,
                   size_t host_len, bool soft);

/* Whether a purge reached beyond this instance (the shared tier): a
 * caller that must know (the admin listener answers 503 when the fleet did
 * not get its purge) collects the purges it makes on its thread between
 * rs_purge_wait_begin and rs_purge_wait_end. The observer counts each one
 * it sends (pending) and settles it later (rs_purge_wait_settle). */
typedef struct rs_purge_wait_s rs_purge_wait_t;
struct rs_purge_wait_s {
  unsigned told;                 /* purges told to the observer */
  unsigned pending;              /* sent on, not answered yet */
  unsigned failed;               /* not taken beyond this instance (applied here only) */
  bool collecting;
  void (*done)(rs_purge_wait_t *w);
  void *data;
};

/* Purges made on this thread from now on report to w (zeroed here). */
void rs_purge_wait_begin(rs_purge_wait_t *w);
/* Stop collecting. Returns true when every purge's fate is known (read
 * w->failed now; done is never called); false when some are still on their
 * way: done(w) is called once, later, on this thread, when they are. */
bool rs_purge_wait_end(rs_purge_wait_t *w, void (*done)(rs_purge_wait_t *w), void *data);
/* The observer's side: a purge it sent was answered (reached) or not. */
void rs_purge_wait_settle(rs_purge_wait_t *w, bool reached);

/* Told of every purge rs_purge_ex and rs_purge_url_ex make (a URL purge
 * as the KEY purge of the URL's default key; soft for a soft purge), on
 * the thread that made it, after the local cache dropped (or softened) its
 * pages: the shared tier spreads them to the fleet
 * (core/gateway/rs_page_fleet.c). w is the thread's rs_purge_wait_t, or
 * NULL: the observer does w->pending++ for a purge it sends on and settles
 * it later, or w->failed++ for one it cannot send. Set once, before the
 * loops start; NULL for none. */
typedef void (*rs_purge_observer_fn)(rs_purge_by_t by, const char *v, size_t len, bool soft, rs_purge_wait_t *w);
void rs_purge_observe(rs_purge_observer_fn fn);

/* rs_purge_ex without telling the observer: a purge that came from the
 * fleet and applies here only. */
size_t rs_purge_local(struct rs_cache_s *cache, rs_purge_by_t by, const char *v, size_t len, bool soft);

/* A URL selector's parts: url is "/path?query" (the host in *host /
 * *host_len, given by the caller) or "http(s)://host/path?query" (then
 * *host must be NULL on entry, and is set). On success *path / *path_len
 * are "/path?query". Returns 0, or -1 with *why (a static string): an
 * empty url, no leading '/', no host, the host given twice. */
int rs_purge_url_split(const char *url, size_t len, const char **host, size_t *host_len, const char **path,
                        size_t *path_len, const char **why);

/* The URL purge with the path and the query apart (query without '?';
 * NULL/0 for none), as the admin listener has them. */
size_t rs_purge_url(struct rs_cache_s *cache, const char *host, size_t host_len,
                           const char *path, size_t path_len, const char *query, size_t query_len);
size_t rs_purge_url_ex(struct rs_cache_s *cache, const char *host, size_t host_len, const char *path,
                       size_t path_len, const char *query, size_t query_len, bool soft);

#endif
