/* core/server/rs_reload.c — see rs_reload.h. */
#include "rs_reload.h"

#include "rs_cache.h"
#include "rs_conn.h"
#include "rs_lconfig.h"
#include "rs_lhooks.h"
#include "rs_log.h"
#include "rs_upstream.h"

#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------ generations */

struct rs_gen_s {
  unsigned id;
  rs_config_t *cfg;
  bool owns_cfg;                 /* false for the one main() loaded */
  rs_http_opts_t http;           /* the HTTP layer's view of cfg */
  rs_pool_t *pool;
  const rs_router_t **routers;   /* per listener of the process, by name */
  rs_router_t *empty;            /* for a listener the config no longer names */
  rs_loop_gen_t *per_loop;       /* [nloops], one cache line each (refs is hot) */
  int nloops;
  rs_gen_t *next;                /* srv->retired */
};

static bool rs__has_hooks(const rs_config_t *cfg) {
  for (size_t i = 0; i < rs_router_count(cfg->router); i++) {
    const rs_route_t *r = rs_router_get(cfg->router, i);
    if (r->hooks.handler || r->hooks.key || r->hooks.bypass || r->hooks.props) return true;
  }
  return false;
}

/* What the HTTP layer takes from cfg (core/http/rs_conn.h). */
static void rs__http_opts(rs_http_opts_t *o, const rs_config_t *cfg) {
  o->limits.url = cfg->limits.url;
  o->limits.header_bytes = cfg->limits.header_bytes;
  o->limits.headers = cfg->limits.headers;
  o->limits.body = cfg->limits.body;
  o->limits.pipeline = cfg->limits.pipeline;
  o->timeouts.header = cfg->timeouts.header;
  o->timeouts.body = cfg->timeouts.body;
  o->timeouts.keepalive = cfg->timeouts.keepalive;
  o->timeouts.write = cfg->timeouts.write;
  o->access_timed = cfg->log.access_timed;
  o->access_admin = cfg->log.access_admin;
  o->real_ip.from = cfg->real_ip.from;
  o->real_ip.nfrom = cfg->real_ip.nfrom;
  o->real_ip.header = cfg->real_ip.header;
  o->real_ip.recursive = cfg->real_ip.recursive;
}

rs_gen_t *rs_gen_new(rs_server_t *srv, rs_config_t *cfg, bool owns, rs_pool_t *pool) {
  rs_gen_t *gen = rs_xcalloc(1, sizeof(*gen));
  gen->id = ++srv->gen_seq;
  gen->cfg = cfg;
  /* What every page rendered under it remembers (entry->bundle, generation). */
  cfg->generation = gen->id;
  cfg->render.bundle_id = rs_pool_bundle_id(pool);
  gen->owns_cfg = owns;
  rs__http_opts(&gen->http, cfg);
  gen->pool = pool;
  gen->routers = rs_xcalloc((size_t)srv->nlisteners, sizeof(*gen->routers));
  for (int k = 0; k < srv->nlisteners; k++) {
    int idx = k == 0 ? -1 : rs_config_server_find(cfg, srv->lsn_names[k]);
    if (k == 0 || idx >= 0) {
      gen->routers[k] = rs_config_router(cfg, k == 0 ? 0 : (size_t)idx + 1);
    } else {
      if (gen->empty == NULL) gen->empty = rs_router_create_view();
      gen->routers[k] = gen->empty;
    }
  }
  gen->nloops = srv->nloops;
  if (posix_memalign((void **)&gen->per_loop, RS_CACHELINE, sizeof(rs_loop_gen_t) * (size_t)srv->nloops) != 0)
    abort();
  memset(gen->per_loop, 0, sizeof(rs_loop_gen_t) * (size_t)srv->nloops);
  for (int i = 0; i < srv->nloops; i++) {
    rs_loop_gen_t *lg = &gen->per_loop[i];
    lg->gen = gen;
    lg->loop = srv->loops[i];
    lg->cfg = cfg;
    lg->http = &gen->http;
    lg->pool = pool;
    lg->routers = gen->routers;
    lg->state = RS_LOOP_GEN_PENDING;
    lg->last = rs_loop_gen_last;
  }
  return gen;
}

/* Every loop closed its share (or never took it) and no render job of its
 * pool is in flight. Main thread. */
static bool rs__gen_unused(const rs_gen_t *gen) {
  for (int i = 0; i < gen->nloops; i++) {
    int st = __atomic_load_n(&gen->per_loop[i].state, __ATOMIC_ACQUIRE);
    if (st != RS_LOOP_GEN_CLOSED && st != RS_LOOP_GEN_FAILED) return false;
  }
  return rs_pool_idle(gen->pool);
}

/* Main thread, once unused (or at exit, after the loops have stopped). */
void rs_gen_free(rs_gen_t *gen) {
  if (gen == NULL) return;
  rs_pool_destroy(gen->pool);
  rs_router_destroy(gen->empty);
  free(gen->routers);
  free(gen->per_loop);
  if (gen->owns_cfg) {
    rs_config_dispose(gen->cfg);
    free(gen->cfg);
  }
  free(gen);
}

void rs_loop_gen_use(rs_loop_t *loop, rs_loop_gen_t *lg) {
  loop->gen = lg;
  loop->cfg = lg->cfg;
  loop->http = lg->http;
  loop->pool = lg->pool;
  loop->lua = lg->lua;
  loop->upstreams = lg->upstreams;
}

/* Open a loop's share of a generation: what each loop holds per generation
 * (its Lua state) is made here, on the loop. Returns 0 or -1 with err. */
int rs_loop_gen_open(rs_loop_gen_t *lg, char *err, size_t errlen) {
  rs_loop_t *loop = lg->loop;
  if (rs__has_hooks(lg->cfg)) {
    /* One Lua state per loop thread, running the same file. */
    lg->lua = rs_lhooks_create(lg->cfg, err, errlen);
    if (lg->lua == NULL) return -1;
  }
  /* The upstreams of this config on this loop (keepalive pools, health). */
  lg->upstreams = rs_upstreams_create(loop, lg->cfg);
  lg->_next = loop->gens;
  loop->gens = lg;
  return 0;
}

/* Close it: no request uses it any more, and the loop has moved on (or
 * stops). On its loop, outside any hook. */
void rs_loop_gen_close(rs_loop_gen_t *lg) {
  rs_loop_t *loop = lg->loop;
  for (rs_loop_gen_t **p = &loop->gens; *p != NULL; p = &(*p)->_next) {
    if (*p == lg) {
      *p = lg->_next;
      break;
    }
  }
  rs_lhooks_destroy(lg->lua);
  lg->lua = NULL;
  /* Idle connections close now; the runtime frees itself after its last
   * exchange (none: every request of this share is gone). */
  rs_upstreams_destroy(lg->upstreams);
  lg->upstreams = NULL;
  /* release: the main thread frees the generation once it sees CLOSED on
   * every loop; nothing of this loop touches it after this store. */
  __atomic_store_n(&lg->state, RS_LOOP_GEN_CLOSED, __ATOMIC_RELEASE);
}

/* Close a retired share nothing uses: no request, and no exchange left on
 * its upstream runtime (those read its config). Returns true when closed. */
static bool rs__loop_gen_try_close(rs_loop_gen_t *lg) {
  if (lg->refs != 0 || !lg->retired || lg->state != RS_LOOP_GEN_ACTIVE) return false;
  if (lg->_close_posted) return false;  /* its task is queued: closing now would free it under the inbox */
  if (lg->upstreams != NULL && rs_upstreams_busy(lg->upstreams) > 0) return false;  /* the tick retries */
  rs_loop_gen_close(lg);
  return true;
}

/* Once a second: retired shares held only by upstream exchanges. */
void rs_loop_gens_sweep(rs_loop_t *loop) {
  for (rs_loop_gen_t *lg = loop->gens, *next; lg != NULL; lg = next) {
    next = lg->_next;
    rs__loop_gen_try_close(lg);
  }
}

static void rs__loop_gen_close_task(rs_task_t *t) {
  rs_loop_gen_t *lg = RS_CONTAINER_OF(t, rs_loop_gen_t, task);
  lg->_close_posted = false;
  rs__loop_gen_try_close(lg);
}

void rs_loop_gen_last(rs_loop_gen_t *lg) {
  /* The last request may be freed from inside a hook of this very state:
   * close it from the inbox, at the top of the loop. A stopping loop
   * closes what is left after its last turn instead. */
  if (lg->loop->closed || lg->_close_posted) return;
  lg->_close_posted = true;
  lg->task.run = rs__loop_gen_close_task;
  rs_inbox_post(&lg->loop->inbox, &lg->task);
}

/* The task the main thread posts to each loop with a new generation. */
static void rs__loop_gen_switch(rs_task_t *t) {
  rs_loop_gen_t *lg = RS_CONTAINER_OF(t, rs_loop_gen_t, task);
  rs_loop_t *loop = lg->loop;
  char err[1024];
  if (rs_loop_gen_open(lg, err, sizeof(err)) != 0) {
    rs_log_error("loop %d: reload: Lua: %s; this loop keeps the previous configuration", loop->index, err);
    __atomic_store_n(&lg->state, RS_LOOP_GEN_FAILED, __ATOMIC_RELEASE);
    return;
  }
  rs_loop_gen_t *old = loop->gen;
  rs_loop_gen_use(loop, lg);
  __atomic_store_n(&lg->state, RS_LOOP_GEN_ACTIVE, __ATOMIC_RELEASE);
  old->retired = true;
  rs__loop_gen_try_close(old);
  rs_log_debug("loop %d: switched to configuration %u", loop->index, lg->gen->id);
}

int rs_reload_gen_count(const rs_server_t *srv) {
  int n = (srv->gen != NULL) + (srv->applying != NULL);
  for (const rs_gen_t *g = srv->retired; g != NULL; g = g->next) n++;
  return n;
}

/* ------------------------------------------------------------------ reload */

static void rs__gen_timer_arm(rs_server_t *srv);

static void rs__log_warning(void *ud, const char *line) {
  (void)ud;
  rs_log_warn("reload: %s", line);
}

/* Settings that need a restart: keep the running ones in next, and name
 * the ones the file changed. */
static void rs__keep_fixed(rs_server_t *srv, const rs_config_t *cur, rs_config_t *next) {
  rs_buf_t names = { 0 };
#define RS__FIXED(changed, name, restore)                                  \
  do {                                                                     \
    if (changed) {                                                         \
      rs_buf_printf(&names, "%s%s", names.len ? ", " : "", name);          \
      restore;                                                             \
    }                                                                      \
  } while (0)
  RS__FIXED(strcmp(cur->listen.host, next->listen.host) != 0 || cur->listen.port != next->listen.port,
            "listen", next->listen = cur->listen);
  RS__FIXED(cur->admin_enabled != next->admin_enabled ||
                (cur->admin_enabled && (strcmp(cur->admin.host, next->admin.host) != 0 ||
                                        cur->admin.port != next->admin.port)),
            "admin", (next->admin = cur->admin, next->admin_enabled = cur->admin_enabled));
  RS__FIXED(cur->backlog != next->backlog, "backlog", next->backlog = cur->backlog);
  RS__FIXED(cur->workers != next->workers, "workers", next->workers = cur->workers);
  RS__FIXED(cur->pin != next->pin, "pin", next->pin = cur->pin);
  RS__FIXED((cur->pid == NULL) != (next->pid == NULL) || (cur->pid && strcmp(cur->pid, next->pid) != 0),
            "pid", (void)0);
  bool servers_changed = cur->nservers != next->nservers;
  for (size_t i = 0; !servers_changed && i < cur->nservers; i++)
    servers_changed = strcmp(cur->servers[i].name, next->servers[i].name) != 0 ||
                      strcmp(cur->servers[i].addr.host, next->servers[i].addr.host) != 0 ||
                      cur->servers[i].addr.port != next->servers[i].addr.port;
  RS__FIXED(servers_changed, "servers (the listeners stay; routes of a new server wait for a restart)", (void)0);
  RS__FIXED(cur->cache.enabled != next->cache.enabled, "cache (on/off)", next->cache.enabled = cur->cache.enabled);
  RS__FIXED(cur->cache.max_entries != next->cache.max_entries, "cache.max_entries",
            next->cache.max_entries = cur->cache.max_entries);
  RS__FIXED(cur->cache.max_bytes != next->cache.max_bytes, "cache.max_bytes",
            next->cache.max_bytes = cur->cache.max_bytes);
  RS__FIXED(cur->cache.shards != next->cache.shards, "cache.shards", next->cache.shards = cur->cache.shards);
  RS__FIXED(cur->cache.l1_hot != next->cache.l1_hot || cur->cache.l1_entries != next->cache.l1_entries ||
                cur->cache.l1_bytes != next->cache.l1_bytes,
            "cache.l1", (next->cache.l1_hot = cur->cache.l1_hot, next->cache.l1_entries = cur->cache.l1_entries,
                         next->cache.l1_bytes = cur->cache.l1_bytes));
  RS__FIXED(strcmp(cur->log.error, next->log.error) != 0 || cur->log.level != next->log.level ||
                (cur->log.access == NULL) != (next->log.access == NULL) ||
                (cur->log.access && strcmp(cur->log.access, next->log.access) != 0),
            "log", next->log.level = cur->log.level);
  RS__FIXED(srv->cache == NULL && cur->cache.enabled && cur->render.bundle == NULL && next->render.bundle != NULL,
            "the page cache (started only with a bundle: pages render uncached until a restart)", (void)0);
#undef RS__FIXED
  if (names.len > 0)
    rs_log_warn("reload: %s cannot change without a restart: keeping the running values", names.p);
  rs_buf_free(&names);
}

void rs_reload(rs_server_t *srv) {
  if (srv->stopping) {
    rs_log_warn("SIGHUP during shutdown: reload ignored");
    return;
  }
  if (srv->applying != NULL) {
    rs_log_warn("SIGHUP while a reload is being applied: it will follow that one");
    srv->reload_queued = true;
    return;
  }
  const char *file = srv->cfg->file ? srv->cfg->file : "rustyssr.lua";
  rs_log_info("SIGHUP: reloading %s", file);
  uint64_t t0 = rs_now_ms();
  rs_config_t *cfg = rs_xmalloc(sizeof(*cfg));
  rs_config_init(cfg);
  char err[1024];
  rs_pool_t *pool = NULL;
  if (rs_lconfig_load(file, cfg, err, sizeof(err)) != 0) goto fail;
  rs_config_each_warning(cfg, rs__log_warning, NULL);  /* what -t would say */
  rs__keep_fixed(srv, srv->cfg, cfg);
  /* The bundle is read again even when its path did not change: the
   * operator may have deployed a new one. Every render thread loads it. */
  if (cfg->render.bundle != NULL && rs_pool_create(cfg, &pool, err, sizeof(err)) != 0) goto fail;

  rs_gen_t *gen = rs_gen_new(srv, cfg, true, pool);
  srv->applying = gen;
  /* A new bundle: from now on only its pages may be stored (a render of
   * the old one finishing meanwhile answers its requests, and is not
   * kept); older pages turn stale or go when every loop has switched
   * (rs__reload_done). */
  if (srv->cache != NULL)
    rs_cache_bundle(srv->cache, cfg->cache.on_new_bundle == RS_ON_NEW_BUNDLE_KEEP ? 0 : cfg->render.bundle_id);
  for (int i = 0; i < srv->nloops; i++) {
    gen->per_loop[i].task.run = rs__loop_gen_switch;
    rs_inbox_post(&srv->loops[i]->inbox, &gen->per_loop[i].task);
  }
  rs_log_info("reload: configuration %u loaded in %llu ms, the loops are switching", gen->id,
              (unsigned long long)(rs_now_ms() - t0));
  rs__gen_timer_arm(srv);
  return;
fail:
  srv->reloads_failed++;
  rs_log_error("reload failed, keeping the current configuration: %s", err);
  rs_config_dispose(cfg);
  free(cfg);
}

/* cache.on_new_bundle, once every loop renders with gen's bundle: a bundle
 * of other bytes than old's makes the pages of every other bundle stale
 * (each served within its grace while one background render replaces it),
 * or purges them, or keeps them. Main thread. */
static void rs__new_bundle(rs_server_t *srv, const rs_gen_t *old, const rs_gen_t *gen) {
  uint64_t id = gen->cfg->render.bundle_id;
  if (srv->cache == NULL || id == 0 || id == old->cfg->render.bundle_id) return;
  int mode = gen->cfg->cache.on_new_bundle;
  if (mode == RS_ON_NEW_BUNDLE_KEEP) {
    rs_log_info("reload: new bundle %016llx (cache.on_new_bundle = \"keep\": older pages served until they "
                "expire)", (unsigned long long)id);
    return;
  }
  size_t n = rs_cache_purge_bundle(srv->cache, id, mode == RS_ON_NEW_BUNDLE_STALE);
  rs_log_info("reload: new bundle %016llx: %zu page(s) of older bundles %s", (unsigned long long)id, n,
              mode == RS_ON_NEW_BUNDLE_STALE ? "marked stale (each re-rendered once, in the background)"
                                             : "purged");
}

/* Main thread, when every loop has taken (or refused) the generation being
 * applied. */
static void rs__reload_done(rs_server_t *srv) {
  rs_gen_t *gen = srv->applying, *old = srv->gen;
  int kept = 0;
  for (int i = 0; i < gen->nloops; i++)
    if (__atomic_load_n(&gen->per_loop[i].state, __ATOMIC_ACQUIRE) == RS_LOOP_GEN_FAILED) kept++;
  srv->applying = NULL;
  if (kept == gen->nloops) {     /* no loop could take it: as if it failed */
    srv->reloads_failed++;
    rs_log_error("reload failed, keeping the current configuration: no loop could start its Lua state "
                 "(see above)");
    if (srv->cache != NULL)        /* the running bundle's pages may be stored again */
      rs_cache_bundle(srv->cache, old->cfg->cache.on_new_bundle == RS_ON_NEW_BUNDLE_KEEP
                                      ? 0 : old->cfg->render.bundle_id);
    gen->next = srv->retired;
    srv->retired = gen;
  } else {
    srv->gen = gen;
    srv->cfg = gen->cfg;
    srv->admin.cfg = gen->cfg;     /* the admin loop is this thread's */
    srv->admin.http = &gen->http;
    old->next = srv->retired;
    srv->retired = old;
    srv->reloads_ok++;
    if (gen->cfg->cache.clear_on_reload && srv->cache != NULL) {
      size_t n = rs_cache_purge_all(srv->cache);
      rs_log_info("reload: cache.clear_on_reload: %zu page(s) purged", n);
    }
    rs__new_bundle(srv, old, gen);
    rs_log_info("reloaded %s (%zu routes, bundle %s)%s", gen->cfg->file ? gen->cfg->file : "?",
                rs_router_count(gen->cfg->router), gen->cfg->render.bundle ? gen->cfg->render.bundle : "none",
                kept ? " (some loops kept the previous configuration: see above)" : "");
  }
  if (srv->reload_queued) {
    srv->reload_queued = false;
    rs_reload(srv);
  }
}

static void rs__on_gen_timer(uv_timer_t *t) {
  rs_server_t *srv = t->data;
  if (srv->applying != NULL) {
    bool pending = false;
    for (int i = 0; i < srv->applying->nloops && !pending; i++)
      pending = __atomic_load_n(&srv->applying->per_loop[i].state, __ATOMIC_ACQUIRE) == RS_LOOP_GEN_PENDING;
    if (!pending) rs__reload_done(srv);
  }
  for (rs_gen_t **p = &srv->retired; *p != NULL;) {
    rs_gen_t *g = *p;
    if (rs__gen_unused(g)) {
      *p = g->next;
      rs_log_info("configuration %u freed: no request uses it any more", g->id);
      rs_gen_free(g);
    } else {
      p = &g->next;
    }
  }
  if (srv->applying == NULL && srv->retired == NULL && srv->gen_timer_on) {
    uv_timer_stop(&srv->gen_timer);
    srv->gen_timer_on = false;
  }
}

static void rs__gen_timer_arm(rs_server_t *srv) {
  if (srv->gen_timer_on || srv->stopping) return;
  srv->gen_timer_on = true;
  uv_timer_start(&srv->gen_timer, rs__on_gen_timer, 25, 50);
}

void rs_reload_abort_pools(rs_server_t *srv) {
  if (srv->gen != NULL) rs_pool_abort(rs_gen_pool(srv->gen));
  if (srv->applying != NULL) rs_pool_abort(srv->applying->pool);
  for (rs_gen_t *g = srv->retired; g != NULL; g = g->next) rs_pool_abort(g->pool);
}


rs_pool_t *rs_gen_pool(const rs_gen_t *gen) { return gen ? gen->pool : NULL; }

const rs_http_opts_t *rs_gen_http(const rs_gen_t *gen) { return &gen->http; }

rs_loop_gen_t *rs_gen_share(rs_gen_t *gen, int i) { return &gen->per_loop[i]; }

void rs_reload_free_all(rs_server_t *srv) {
  rs_gen_free(srv->applying);
  srv->applying = NULL;
  while (srv->retired != NULL) {
    rs_gen_t *g = srv->retired;
    srv->retired = g->next;
    rs_gen_free(g);
  }
  rs_gen_free(srv->gen);
  srv->gen = NULL;
}
