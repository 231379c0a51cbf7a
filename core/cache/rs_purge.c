/* core/cache/rs_purge.c — see rs_purge.h. */
#include "rs_purge.h"

#include <stdlib.h>
#include <string.h>

#include "rs_cache.h"
#include "rs_http.h"
#include "rs_key.h"

int rs_purge_by(const char *name, size_t len) {
  static const char *const names[] = {
#define XX(n, str) str,
    RS_PURGE_MAP(XX)
#undef XX
  };
  for (size_t i = 0; i < RS_ARRAY_SIZE(names); i++)
    if (strlen(names[i]) == len && memcmp(names[i], name, len) == 0) return (int)i;
  return -1;
}

/* What a key, prefix or URL purge selects (rs_key.h): keys equal to v
 * (or starting with it, for a prefix), with or without the fields of the
 * route's named headers; and, when hv is set, the keys a key hook made
 * whose hook part is hv (v in a hook key's form), on any host. */
typedef struct {
  const char *v, *hv;
  size_t len, hlen;
  bool prefix;
} rs__sel_t;

static bool rs__sel_match(const char *key, size_t len, void *ud) {
  const rs__sel_t *s = ud;
  if (len >= s->len && memcmp(key, s->v, s->len) == 0 &&
      (s->prefix || len == s->len || key[s->len] == '\n'))
    return true;
  const char *h;
  size_t hl;
  if (s->hv == NULL || !rs_key_hook_part(key, len, &h, &hl)) return false;
  if (hl < s->hlen || memcmp(h, s->hv, s->hlen) != 0) return false;
  return s->prefix || hl == s->hlen || h[s->hlen] == '\n';
}

static size_t rs__purge_sel(struct rs_cache_s *cache, const char *v, size_t len, bool prefix, bool hooks,
                            bool soft) {
  /* Nothing a scan could find beyond the exact key: one lookup (a purge by
   * URL or key on a site without named headers nor key hooks). */
  if (!prefix && !rs_key_seen_fields() && !(hooks && rs_key_seen_hooks()))
    return soft ? rs_cache_soft_key(cache, v, len) : rs_cache_purge_key(cache, v, len);
  char hbuf[256];
  rs_key_t hk;
  rs_key_init(&hk, hbuf, sizeof(hbuf));
  if (hooks) rs_key_hook_escape(&hk, v, len);
  rs__sel_t sel = { .v = v, .len = len, .hv = hooks ? hk.p : NULL, .hlen = hk.len, .prefix = prefix };
  size_t n = soft ? rs_cache_soft_if(cache, rs__sel_match, &sel) : rs_cache_purge_if(cache, rs__sel_match, &sel);
  rs_key_dispose(&hk);
  return n;
}

static rs_purge_observer_fn rs__observer;
static __thread bool rs__local;      /* applying a purge that came from the fleet */
static __thread rs_purge_wait_t *rs__wait;   /* collecting this thread's purges */

void rs_purge_observe(rs_purge_observer_fn fn) { rs__observer = fn; }

static void rs__tell(rs_purge_by_t by, const char *v, size_t len, bool soft) {
  if (rs__observer == NULL || rs__local) return;
  if (rs__wait != NULL) rs__wait->told++;
  rs__observer(by, v, len, soft, rs__wait);
}

void rs_purge_wait_begin(rs_purge_wait_t *w) {
  memset(w, 0, sizeof(*w));
  w->collecting = true;
  rs__wait = w;
}

bool rs_purge_wait_end(rs_purge_wait_t *w, void (*done)(rs_purge_wait_t *w), void *data) {
  if (rs__wait == w) rs__wait = NULL;
  w->collecting = false;
  if (w->pending == 0) return true;
  w->done = done;
  w->data = data;
  return false;
}

void rs_purge_wait_settle(rs_purge_wait_t *w, bool reached) {
  if (w->pending > 0) w->pending--;
  if (!reached) w->failed++;
  if (!w->collecting && w->pending == 0 && w->done != NULL) {
    void (*done)(rs_purge_wait_t *) = w->done;
    w->done = NULL;
    done(w);
  }
}

size_t rs_purge_ex(struct rs_cache_s *cache, rs_purge_by_t by, const char *v, size_t len, const char *host,
                   size_t host_len, bool soft) {
  /* An empty selector selects nothing: "everything" is only ever all. */
  if (by != RS_PURGE_ALL && len == 0) return 0;
  size_t n;
  switch (by) {
    case RS_PURGE_KEY: n = rs__purge_sel(cache, v, len, false, true, soft); break;
    case RS_PURGE_PREFIX: n = rs__purge_sel(cache, v, len, true, true, soft); break;
    case RS_PURGE_TAG: n = soft ? rs_cache_soft_tag(cache, v, len) : rs_cache_purge_tag(cache, v, len); break;
    case RS_PURGE_ALL: n = soft ? rs_cache_soft_all(cache) : rs_cache_purge_all(cache); break;
    case RS_PURGE_URL: {
      const char *qm = memchr(v, '?', len);
      size_t plen = qm ? (size_t)(qm - v) : len;
      return rs_purge_url_ex(cache, host, host_len, v, plen, qm ? qm + 1 : NULL, qm ? len - plen - 1 : 0, soft);
    }
    default: return 0;
  }
  /* A soft purge reaches the fleet as a soft purge: the other instances
   * keep their copies, stale, and the tier's copy turns stale too. */
  rs__tell(by, v, len, soft);
  return n;
}

size_t rs_purge(struct rs_cache_s *cache, rs_purge_by_t by, const char *v, size_t len,
                       const char *host, size_t host_len) {
  return rs_purge_ex(cache, by, v, len, host, host_len, false);
}

size_t rs_purge_local(struct rs_cache_s *cache, rs_purge_by_t by, const char *v, size_t len, bool soft) {
  rs__local = true;
  size_t n = rs_purge_ex(cache, by, v, len, NULL, 0, soft);
  rs__local = false;
  return n;
}

int rs_purge_url_split(const char *url, size_t len, const char **host, size_t *host_len, const char **path,
                        size_t *path_len, const char **why) {
  const char *h = NULL;
  size_t skip = len >= 7 && memcmp(url, "http://", 7) == 0 ? 7 : len >= 8 && memcmp(url, "https://", 8) == 0 ? 8 : 0;
  if (skip > 0) {
    if (*host != NULL) {
      *why = "give the host once: in 'url' or in 'host'";
      return -1;
    }
    h = url + skip;
    const char *slash = memchr(h, '/', len - skip);
    *host = h;
    *host_len = slash ? (size_t)(slash - h) : len - skip;
    *path = slash ? slash : "/";
    *path_len = slash ? len - (size_t)(slash - url) : 1;
  } else {
    *path = url;
    *path_len = len;
  }
  if (*path_len == 0 || (*path)[0] != '/') {
    *why = "'url' must start with '/' or http(s)://";
    return -1;
  }
  if (*host == NULL || *host_len == 0) {
    *why = "'url' needs 'host' (the site's Host, as the page was requested)";
    return -1;
  }
  return 0;
}

size_t rs_purge_url(struct rs_cache_s *cache, const char *host, size_t host_len,
                           const char *path, size_t path_len, const char *query, size_t query_len) {
  return rs_purge_url_ex(cache, host, host_len, path, path_len, query, query_len, false);
}

size_t rs_purge_url_ex(struct rs_cache_s *cache, const char *host, size_t host_len, const char *path,
                       size_t path_len, const char *query, size_t query_len, bool soft) {
  /* Pages are keyed by the canonical path (core/base/rs_http.h): "/caf%c3%a9",
   * "/café" and "//a/../café" name the same page. A path that no request
   * could have (a malformed escape) names none. */
  char pbuf[512];
  char *canon = path_len * 3 <= sizeof(pbuf) ? pbuf : rs_xmalloc(path_len * 3);
  size_t clen = 0;
  size_t n = 0;
  if (rs_http_path_normalize(path, path_len, canon, &clen) == NULL) {
    char kbuf[512];
    rs_key_t k;
    rs_key_init(&k, kbuf, sizeof(kbuf));
    rs_key_url(&k, "GET", 3, host ? host : "", host ? host_len : 0, canon, clen, query, query_len);
    n = rs__purge_sel(cache, k.p, k.len, false, false, soft);
    rs__tell(RS_PURGE_KEY, k.p, k.len, soft);
    rs_key_dispose(&k);
  }
  if (canon != pbuf) free(canon);
  return n;
}
