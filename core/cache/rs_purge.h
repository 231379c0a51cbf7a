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

/* Told of every purge rs_purge and rs_purge_url make (a URL purge as the
 * KEY purge of the URL's default key), on the thread that made it, after
 * the local cache dropped its pages: the shared tier spreads them to the
 * fleet (core/gateway/rs_page_fleet.c). Set once, before the loops start;
 * NULL for none. */
typedef void (*rs_purge_observer_fn)(rs_purge_by_t by, const char *v, size_t len);
void rs_purge_observe(rs_purge_observer_fn fn);

/* rs_purge without telling the observer: a purge that came from the fleet
 * and applies here only. */
size_t rs_purge_local(struct rs_cache_s *cache, rs_purge_by_t by, const char *v, size_t len);

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
