/* core/server/rs_gen.c — see rs_gen.h. */
#include "rs_gen.h"

#include "rs_accesslog.h"
#include "rs_lconfig.h"
#include "rs_lhooks.h"
#include "rs_log.h"
#include "rs_logfmt.h"
#include "rs_tls.h"
#include "rs_upstream.h"

#include <stdlib.h>
#include <string.h>

static bool rs__has_hooks(const rs_config_t *cfg) {
  for (size_t i = 0; i < rs_router_count(cfg->router); i++) {
    const rs_route_t *r = rs_router_get(cfg->router, i);
    if (r->hooks.handler || r->hooks.key || r->hooks.bypass || r->hooks.props || r->hooks.limit_req ||
        r->hooks.limit_conn)
      return true;
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
  o->limits.http2_streams = cfg->limits.http2_streams;
  o->timeouts.header = cfg->timeouts.header;
  o->timeouts.body = cfg->timeouts.body;
  o->timeouts.keepalive = cfg->timeouts.keepalive;
  o->timeouts.write = cfg->timeouts.write;
  o->access_admin = cfg->log.access_admin;
  o->real_ip.from = cfg->real_ip.from;
  o->real_ip.nfrom = cfg->real_ip.nfrom;
  o->real_ip.header = cfg->real_ip.header;
  o->real_ip.recursive = cfg->real_ip.recursive;
}

/* The config's listener settings of listener k (0 = listen), or NULL when
 * the config no longer names it. */
static const rs_listener_conf_t *rs__listener_conf(const rs_server_t *srv, const rs_config_t *cfg, int k) {
  if (k == 0) return &cfg->listen_conf;
  int idx = rs_config_server_find(cfg, srv->lsn_names[k]);
  return idx >= 0 ? &cfg->servers[idx].conf : NULL;
}

/* Each listener's protocols, with a TLS context made for this generation
 * (its files read now: a reload reads new certificates). A context that
 * fails here was made at load a moment ago, so a file changed since: err
 * says which (the caller refuses the generation). */
static rs_http_listen_t *rs__listen(const rs_server_t *srv, const rs_config_t *cfg, char *err, size_t errlen) {
  rs_http_listen_t *l = rs_xcalloc((size_t)srv->nlisteners, sizeof(*l));
  for (int k = 0; k < srv->nlisteners; k++) {
    const rs_listener_conf_t *lc = rs__listener_conf(srv, cfg, k);
    if (lc == NULL) continue;
    l[k].http2 = lc->http2;
    if (lc->tls == NULL) continue;
    l[k].handshake_timeout = lc->tls->handshake_timeout_ms;
    char e[512];
    l[k].tls = rs_lconfig_tls_ctx(lc->tls, lc->http2, e, sizeof(e));
    /* A reload keeps the listener's ticket keys when it keeps tickets on:
     * the tickets clients hold go on resuming (README "TLS", Reload). */
    if (l[k].tls != NULL && lc->tls->tickets && srv->gen != NULL && srv->gen->listen[k].tls != NULL)
      rs_tls_ctx_share_tickets(l[k].tls, srv->gen->listen[k].tls);
    if (l[k].tls == NULL && err[0] == '\0')
      snprintf(err, errlen, "%s: ssr.config: '%s%s.tls': %s", cfg->file ? cfg->file : "?", k ? "servers." : "listen",
               k ? srv->lsn_names[k] : "", e);
  }
  return l;
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
  /* Each listener's access log: its file (fixed since the start) and its
   * format, compiled once for the generation (checked at load: a failure
   * here is out of memory, and that listener falls back to combined). */
  gen->access_fmt = rs_xcalloc((size_t)srv->nlisteners, sizeof(*gen->access_fmt));
  gen->access_file = rs_xcalloc((size_t)srv->nlisteners, sizeof(*gen->access_file));
  for (int k = 0; k < srv->nlisteners; k++) {
    int idx = k == 0 ? -1 : rs_config_server_find(cfg, srv->lsn_names[k]);
    const struct rs_server_conf_s *sc = idx >= 0 ? &cfg->servers[idx] : NULL;
    char err[256];
    gen->access_fmt[k] = rs_logfmt_compile(rs_accesslog_format(cfg, sc), cfg->log.access_json, err, sizeof(err));
    gen->access_file[k] = rs_accesslog_file(cfg, sc);
  }
  gen->http.access_fmt = (const rs_logfmt_t *const *)gen->access_fmt;
  gen->http.access_file = gen->access_file;
  gen->http.naccess = (size_t)srv->nlisteners;
  gen->listen = rs__listen(srv, cfg, gen->tls_err, sizeof(gen->tls_err));
  gen->http.listen = gen->listen;
  gen->http.nlisten = (size_t)srv->nlisteners;
  gen->tls_rot = rs_xcalloc((size_t)srv->nlisteners, sizeof(*gen->tls_rot));
  for (int k = 0; k < srv->nlisteners; k++) {
    const rs_listener_conf_t *lc = rs__listener_conf(srv, cfg, k);
    gen->tls_rot[k].every = lc != NULL && lc->tls != NULL ? (uint64_t)lc->tls->ticket_rotate_s * 1000 : 0;
  }
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

void rs_gen_tls_tick(rs_gen_t *gen, uint64_t now_ms) {
  for (size_t k = 0; k < gen->http.nlisten; k++) {
    struct rs_gen_tls_rot_s *r = &gen->tls_rot[k];
    if (gen->listen[k].tls == NULL || !rs_tls_ctx_rotate_due(gen->listen[k].tls, now_ms, r->every)) continue;
    rs_log_debug("listener %zu: new TLS ticket key (the previous one still decrypts)", k);
  }
}

bool rs_gen_unused(const rs_gen_t *gen) {
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
  if (gen->access_fmt != NULL)
    for (size_t k = 0; k < gen->http.naccess; k++) rs_logfmt_free(gen->access_fmt[k]);
  free(gen->access_fmt);
  free(gen->access_file);
  if (gen->listen != NULL)
    for (size_t k = 0; k < gen->http.nlisten; k++) rs_tls_ctx_free(gen->listen[k].tls);
  free(gen->listen);
  free(gen->tls_rot);
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

void rs_loop_gen_switch(rs_task_t *t) {
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
  rs_conn_h2_reload(loop);
  rs_log_debug("loop %d: switched to configuration %u", loop->index, lg->gen->id);
}

rs_pool_t *rs_gen_pool(const rs_gen_t *gen) { return gen ? gen->pool : NULL; }

rs_loop_gen_t *rs_gen_share(rs_gen_t *gen, int i) { return &gen->per_loop[i]; }

const rs_http_opts_t *rs_gen_http(const rs_gen_t *gen) { return &gen->http; }
