/* core/server/rs_reload.c — see rs_reload.h. */
#include "rs_reload.h"

#include "rs_accesslog.h"
#include "rs_gen.h"

#include "rs_cache.h"
#include "rs_conn.h"
#include "rs_lconfig.h"
#include "rs_log.h"
#include "rs_topo.h"

#include <stdlib.h>
#include <string.h>

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
  /* Without CAP_SYS_NICE a negative render.nice raises the loop threads at
   * start (rs_server.c), which only a restart can take back. */
  RS__FIXED(cur->render.nice != next->render.nice &&
                (srv->loop_nice != 0 || !rs_nice_allowed(next->render.nice)),
            "render.nice (without CAP_SYS_NICE the loop threads' nice value is set at start)",
            next->render.nice = cur->render.nice);
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
  bool access_files_changed = false;   /* a listener's own access_log (formats may change) */
  for (size_t i = 0; i < next->nservers; i++) {
    int k = rs_config_server_find(cur, next->servers[i].name);
    if (k < 0) continue;
    const char *a = rs_accesslog_path(cur, &cur->servers[k]), *b = rs_accesslog_path(next, &next->servers[i]);
    access_files_changed = access_files_changed || (a == NULL) != (b == NULL) || (a && strcmp(a, b) != 0);
  }
  RS__FIXED(strcmp(cur->log.error, next->log.error) != 0 || cur->log.level != next->log.level ||
                (cur->log.access == NULL) != (next->log.access == NULL) ||
                (cur->log.access && strcmp(cur->log.access, next->log.access) != 0) || access_files_changed,
            "log (files)", next->log.level = cur->log.level);
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
  if (gen->tls_err[0] != '\0') {  /* a certificate changed since the load checked it */
    snprintf(err, sizeof(err), "%s", gen->tls_err);
    gen->owns_cfg = false;         /* the failure path below frees it */
    rs_gen_free(gen);
    goto fail;
  }
  srv->applying = gen;
  /* A new bundle: from now on only its pages may be stored (a render of
   * the old one finishing meanwhile answers its requests, and is not
   * kept); older pages turn stale or go when every loop has switched
   * (rs__reload_done). */
  if (srv->cache != NULL)
    rs_cache_bundle(srv->cache, cfg->cache.on_new_bundle == RS_ON_NEW_BUNDLE_KEEP ? 0 : cfg->render.bundle_id);
  for (int i = 0; i < srv->nloops; i++) {
    gen->per_loop[i].task.run = rs_loop_gen_switch;
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
    if (rs_gen_unused(g)) {
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
