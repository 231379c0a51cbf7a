/* core/gateway/rs_page.c — see rs_page.h: a request's way through the page
 * cache, the hook sequence (bypass → key → lookup → props → render or
 * fetch), and the loop's page state. The other steps live beside it
 * (rs_page_int.h lists them). */
#include "rs_page.h"
#include "rs_page_int.h"

#include "rs_fleet.h"
#include "rs_lhooks.h"
#include "rs_policy.h"
#include "rs_proxy.h"
#include "rs_render.h"

#include <stdlib.h>
#include <string.h>

#define RS__KEY_INLINE 512

/* ------------------------------------------------------------------ the flow */

/* A request's way through the cache, in small steps (bypass → key →
 * lookup → props → render) that can each stop at a Lua hook that yields
 * and go on from its done callback (lua/rs_lhooks.h). From a per-loop free
 * list: a hit costs no allocation. */
enum {
  RS__S_BYPASS, RS__S_BYPASS_DONE, RS__S_KEY_DONE, RS__S_PROPS_DONE,
  RS__S_UNCACHED, RS__S_UNCACHED_DONE,
};
#define RS__NOHOOK 100           /* a step's outcome when no hook ran */
#define RS__FLOWS_FREE_MAX 64

typedef struct rs__pflow_s {
  rs_req_t *req;
  const rs_route_t *route;
  rs_lreq_t *lc;                 /* the request's Lua, from its first hook */
  int step;
  bool bypass;
  const char *extra;             /* X-Cache line of an uncached render */
  const char *key;               /* kbuf, heap (key_heap) or lc's */
  size_t klen;
  bool key_heap;
  uint64_t hash;
  rs_entry_t *stale;             /* STALE_REFRESH, HIT_REFRESH: the page to answer with */
  const char *stale_xc;          /* its X-Cache: "STALE", or "HIT-L2" for a refresh ahead */
  rs_page_l3_t l3;               /* its render's part in the shared tier */
  uint64_t l3_until;             /* uv_now: wait for another instance's render until then */
  unsigned l3_tries;
  struct rs__pflow_s *next;
  char kbuf[RS__KEY_INLINE];
} rs__pflow_t;

/* The X-Cache of the page a refresh answers with ("STALE" unless set). */
static inline const char *rs__stale_xc(const rs__pflow_t *fl) {
  return fl->stale_xc != NULL ? fl->stale_xc : "STALE";
}

static rs__pflow_t *rs__pflow_new(rs_req_t *req, const rs_route_t *route, int step) {
  rs_page_loop_t *pl = rs_page__loop(req->loop);
  rs__pflow_t *fl = pl->flows;
  if (fl != NULL) {
    pl->flows = fl->next;
    pl->nflows--;
  } else {
    fl = rs_xmalloc(sizeof(*fl));
  }
  memset(fl, 0, offsetof(rs__pflow_t, kbuf));
  fl->req = req;
  fl->route = route;
  fl->step = step;
  return fl;
}

static void rs__pflow_free(rs__pflow_t *fl, rs_loop_t *loop) {
  if (fl->lc != NULL) rs_lreq_end(fl->lc);
  if (fl->key_heap) free((char *)fl->key);
  rs_page_loop_t *pl = rs_page__loop(loop);
  if (pl->nflows < RS__FLOWS_FREE_MAX) {
    fl->next = pl->flows;
    pl->flows = fl;
    pl->nflows++;
  } else {
    free(fl);
  }
}

static void rs__pflow_go(rs__pflow_t *fl, int rc);

static void rs__pflow_resumed(rs_lreq_t *lc, int rc) { rs__pflow_go(lc->ud, rc); }

/* The request's Lua, started on first use. */
static void rs__pflow_lc(rs__pflow_t *fl) {
  if (fl->lc == NULL) {
    fl->lc = rs_lreq_start(rs_req_gen(fl->req)->lua, fl->req, fl->route);  /* its generation's state */
    fl->lc->ud = fl;
  }
}

/* Run the route's hook; on a yield, the flow goes on at step next. */
static int rs__pflow_hook(rs__pflow_t *fl, rs_hook_t hook, int next) {
  fl->step = next;
  rs__pflow_lc(fl);
  return rs_lreq_run(fl->lc, hook, rs__pflow_resumed);
}

/* A hook failed (500), exited (its answer), or its client left. The Lua
 * ends before the answer: answering a request whose client has gone frees
 * it, and with it perhaps the generation its Lua state belongs to. */
static void rs__pflow_end(rs__pflow_t *fl, int rc) {
  rs_req_t *req = fl->req;
  rs_resp_t resp = fl->lc->resp;
  rs__pflow_free(fl, req->loop);
  if (rc == RS_LHOOK_EXIT) rs_req_respond(req, &resp);
  else rs_render_respond_error(req, 500);
}

/* After the props hook of a leader or a refresh (rc RS__NOHOOK without one). */
static void rs__pflow_render(rs__pflow_t *fl, int rc) {
  rs_req_t *req = fl->req;
  rs_loop_t *loop = req->loop;
  rs_entry_t *stale = fl->stale;
  const char *props = fl->lc != NULL ? fl->lc->props : NULL;
  size_t plen = fl->lc != NULL ? fl->lc->props_len : 0;
  if (rc == RS_LHOOK_OK || rc == RS__NOHOOK) {
    rs_req_t *leader = stale != NULL ? NULL : req;
    const rs_page_l3_t *l3 = fl->l3.lead ? &fl->l3 : NULL;
    int failed = fl->route->action == RS_ACTION_PROXY
                 ? rs_page__proxy_start(req, leader, fl->route, fl->key, fl->klen, fl->hash, l3)
                 : rs_page__render_start(req, leader, fl->route, fl->key, fl->klen, fl->hash, props, plen, l3, stale);
    const char *xc = rs__stale_xc(fl);
    rs__pflow_free(fl, loop);
    if (stale != NULL) rs_page_respond_entry(req, stale, xc, rs_page__release_entry, stale);
    else if (failed != 0) rs_render_respond_error(req, failed);
    return;
  }
  /* A failed hook fails the flight (its waiters: 500); one that exited or
   * lost its client lets each waiter render its own. */
  rs_page__fleet_unlock(loop, fl->key, fl->klen, &fl->l3);
  rs_page__flight_fail(loop, fl->hash, fl->key, fl->klen, rc == RS_LHOOK_FAIL ? 500 : RS_PAGE__OWN, stale != NULL);
  rs_resp_t resp = fl->lc->resp;
  const char *xc = rs__stale_xc(fl);
  rs__pflow_free(fl, loop);
  if (stale != NULL && rc == RS_LHOOK_FAIL) {
    /* no refresh: the stale page stays (stale-if-error) */
    rs_page_respond_entry(req, stale, xc, rs_page__release_entry, stale);
    return;
  }
  if (stale != NULL) rs_entry_release(stale);
  if (rc == RS_LHOOK_EXIT) rs_req_respond(req, &resp);
  else rs_render_respond_error(req, 500);
}

/* The flight is this request's (a leader, or a refresh's): its props hook,
 * then its render or fetch. */
static void rs__pflow_leader(rs__pflow_t *fl) {
  int rc = RS__NOHOOK;
  if (fl->route->hooks.props) {
    /* Its result feeds a page others will be served: it sees what the key
     * covers, as the bundle does. */
    rs__pflow_lc(fl);
    rs_lreq_page_view(fl->lc);
    rc = rs__pflow_hook(fl, RS_HOOK_PROPS, RS__S_PROPS_DONE);
    if (rc == RS_LHOOK_YIELD) return;
  }
  rs__pflow_render(fl, rc);
}

/* ------------------------------------------------------------------ the shared tier */

static void rs__pflow_l3(rs__pflow_t *fl);

typedef struct {
  uv_timer_t t;
  rs__pflow_t *fl;
} rs__l3retry_t;

static void rs__l3retry_closed(uv_handle_t *h) { free(h->data); }

static void rs__l3retry_fire(uv_timer_t *t) {
  rs__l3retry_t *r = t->data;
  rs__pflow_t *fl = r->fl;
  uv_close((uv_handle_t *)t, rs__l3retry_closed);
  fl->req->loop->pending_jobs--;
  rs__pflow_l3(fl);
}

/* The tier's answer to a leader's (or a refresh's) lookup. */
static void rs__pflow_l3_done(void *data, rs_l3_result_t res, rs_entry_t *e, uint64_t seq) {
  rs__pflow_t *fl = data;
  rs_req_t *req = fl->req;
  rs_loop_t *loop = req->loop;
  rs_page_loop_t *pl = rs_page__loop(loop);
  loop->pending_jobs--;
  switch (res) {
    case RS_L3_HIT: {
      /* The flight ends with the tier's page: stored here, to every waiter. */
      RS_COUNTER_ADD(pl->c.hits_l3, 1);
      rs_page_flight_t *f = rs_page__flight_new(req, fl->stale ? NULL : req, fl->route, fl->key, fl->klen, fl->hash);
      f->storable = true;
      rs_page__flight_complete(f, e, 0);
      rs_page__flight_free(f);
      rs_entry_t *stale = fl->stale;
      rs__pflow_free(fl, loop);
      if (stale != NULL) rs_entry_release(stale);
      rs_page_respond_entry(req, e, "HIT-L3", rs_page__release_entry, e);
      break;
    }
    case RS_L3_STALE_WAIT:
      if (fl->stale == NULL) {
        /* Another instance refreshes it: its stale copy, here too (stored
         * stale: the next request asks the tier again). */
        rs_page_flight_t *f = rs_page__flight_new(req, req, fl->route, fl->key, fl->klen, fl->hash);
        f->storable = true;
        rs_page__flight_complete(f, e, 0);
        rs_page__flight_free(f);
        rs__pflow_free(fl, loop);
        rs_page_respond_entry(req, e, "STALE", rs_page__release_entry, e);
        break;
      }
      rs_entry_release(e);
      /* fallthrough */
    case RS_L3_WAIT:
      if (fl->stale != NULL) {
        /* Another instance refreshes this page: serve the stale one. */
        rs_entry_t *stale = fl->stale;
        const char *xc = rs__stale_xc(fl);
        rs_page__flight_fail(loop, fl->hash, fl->key, fl->klen, RS_PAGE__AGAIN, true);
        rs__pflow_free(fl, loop);
        rs_page_respond_entry(req, stale, xc, rs_page__release_entry, stale);
        break;
      }
      if (uv_now(&loop->uv) < fl->l3_until) {
        /* Ask again soon: 5, 10, 20, 40... ms, within cache.shared.lock_wait_ms. */
        RS_COUNTER_ADD(pl->c.l3_waits, 1);
        rs__l3retry_t *r = rs_xmalloc(sizeof(*r));
        r->fl = fl;
        uv_timer_init(&loop->uv, &r->t);
        r->t.data = r;
        uint64_t delay = RS_MIN((uint64_t)5 << RS_MIN(fl->l3_tries, 6u), fl->l3_until - uv_now(&loop->uv));
        fl->l3_tries++;
        uv_timer_start(&r->t, rs__l3retry_fire, delay ? delay : 1, 0);
        loop->pending_jobs++;
        return;
      }
      /* Waited long enough: render here, without the lock. */
      rs__pflow_leader(fl);
      break;
    case RS_L3_REFRESH_LEAD:
      /* Fresh, due for its refresh ahead, and this instance refreshes it
       * for the fleet: a refresh ahead of this loop's own copy answers
       * with that copy; otherwise the tier's page answers now (and is
       * stored here: the next requests are hits) while the render runs in
       * the background. */
      if (fl->stale != NULL && rs_entry_fresh(fl->stale, rs_now_ms())) {
        rs_entry_release(e);
      } else {
        RS_COUNTER_ADD(pl->c.hits_l3, 1);
        (void)rs_cache_put(loop->cache, e);
        if (fl->stale != NULL) rs_entry_release(fl->stale);
        fl->stale = e;
        fl->stale_xc = "HIT-L3";
      }
      fl->l3.lead = true;
      fl->l3.seq = seq;
      rs__pflow_leader(fl);
      break;
    case RS_L3_STALE_LEAD:
      /* Stale for the fleet, and this instance refreshes it: the stale
       * page (this loop's, or the tier's) answers now, the render runs in
       * the background. */
      if (fl->stale == NULL) {
        RS_COUNTER_ADD(pl->c.stale, 1);
        fl->stale = e;
        fl->stale_xc = "STALE";
      } else {
        rs_entry_release(e);
      }
      /* fallthrough */
    case RS_L3_LEAD:
      fl->l3.lead = true;
      fl->l3.seq = seq;
      rs__pflow_leader(fl);
      break;
    case RS_L3_MISS:
      rs__pflow_leader(fl);
      break;
  }
  rs_loop_maybe_done(loop);
}

static void rs__pflow_l3(rs__pflow_t *fl) {
  rs_loop_t *loop = fl->req->loop;
  if (fl->l3.rid == 0) {
    fl->l3.rid = rs_page__fleet_rid(loop);
    fl->l3_until = uv_now(&loop->uv) + loop->cfg->cache.shared.lock_wait_ms;
  }
  loop->pending_jobs++;
  /* cache.on_new_bundle, as L2 applies it on a deploy: another bundle's
   * page in the tier is stale ("stale"), a miss ("purge"), or a page ("keep"). */
  const rs_config_t *cfg = rs_req_gen(fl->req) ? rs_req_gen(fl->req)->cfg : loop->cfg;
  int mode = cfg->cache.on_new_bundle;
  uint64_t bundle = mode == RS_ON_NEW_BUNDLE_KEEP ? 0 : cfg->render.bundle_id;
  rs_fleet_lookup(rs_page__loop(loop)->fleet, fl->key, fl->klen, fl->hash, rs_cache_epoch(loop->cache),
                  fl->l3.rid, bundle, mode == RS_ON_NEW_BUNDLE_PURGE, rs__pflow_l3_done, fl);
}

static void rs__pflow_lookup(rs__pflow_t *fl) {
  rs_req_t *req = fl->req;
  const rs_route_t *route = fl->route;
  rs_loop_t *loop = req->loop;
  rs_page_loop_t *pl = rs_page__loop(loop);
  const char *key = fl->key;
  size_t klen = fl->klen;
  uint64_t hash = fl->hash = rs_cache_hash(loop->cache, key, klen);
  uint64_t now = uv_now(&loop->uv);

  rs_l1_ref_t *ref;
  rs_entry_t *e = pl->l1 ? rs_l1_get(pl->l1, hash, key, klen, now, &ref) : NULL;
  if (e != NULL) {
    RS_COUNTER_ADD(pl->c.hits_l1, 1);
    req->data = ref;
    rs__pflow_free(fl, loop);
    rs_page_respond_entry(req, e, "HIT-L1", rs_page__release_l1, req);
    return;
  }

  if (pl->spare == NULL) pl->spare = rs_page__waiter_new(loop);
  rs_page_waiter_t *pw = pl->spare;
  /* A refresh ahead uses spare render capacity only: none while renders
   * wait in the queue (it would add to it what is no miss yet). With a
   * shared tier it asks the tier first, whose lock makes it one refresh
   * for the fleet (RS_L3_REFRESH_LEAD; the others take the tier's page). */
  const rs_loop_gen_t *gen = rs_req_gen(req);
  bool spare = rs_pool_queued(gen != NULL ? gen->pool : loop->pool) == 0;
  rs_lookup_t r = rs_cache_lookup_ex(loop->cache, hash, key, klen, rs_now_ms(), &e, &pw->w, spare);
  switch (r) {
    case RS_LOOKUP_HIT:
      RS_COUNTER_ADD(pl->c.hits_l2, 1);
      if (pl->l1 != NULL) rs_l1_offer(pl->l1, e, now);
      rs__pflow_free(fl, loop);
      rs_page_respond_entry(req, e, "HIT-L2", rs_page__release_entry, e);
      return;
    case RS_LOOKUP_STALE:
      RS_COUNTER_ADD(pl->c.stale, 1);
      rs__pflow_free(fl, loop);
      rs_page_respond_entry(req, e, "STALE", rs_page__release_entry, e);
      return;
    case RS_LOOKUP_HIT_REFRESH:
    case RS_LOOKUP_STALE_REFRESH:
      /* The props of the refresh come first (they need the request); a
       * props hook that waits on a fetch delays this answer. A refresh
       * ahead (cache.prefresh) answers a fresh page, not offered to L1:
       * the L1s leave it to L2 from its refresh time on. */
      if (r == RS_LOOKUP_HIT_REFRESH) {
        RS_COUNTER_ADD(pl->c.hits_l2, 1);
        fl->stale_xc = "HIT-L2";
      } else {
        RS_COUNTER_ADD(pl->c.stale, 1);
        fl->stale_xc = "STALE";
      }
      fl->stale = e;
      /* fallthrough */
    case RS_LOOKUP_MISS_LEADER:
      if (fl->stale == NULL) RS_COUNTER_ADD(pl->c.misses, 1);
      /* The shared tier first (another instance may have the page, or be
       * rendering it), then the props hook and the render. */
      if (pl->fleet != NULL) rs__pflow_l3(fl);
      else rs__pflow_leader(fl);
      return;
    case RS_LOOKUP_MISS_WAIT:
      RS_COUNTER_ADD(pl->c.misses, 1);
      RS_COUNTER_ADD(pl->c.coalesced, 1);
      pl->spare = NULL;          /* the cache holds it now */
      pw->req = req;
      pw->route = route;
      pw->key = rs_xstrndup(key, klen);
      pw->klen = klen;
      loop->pending_jobs++;
      rs__pflow_free(fl, loop);
      return;
  }
}

static void rs__pflow_go(rs__pflow_t *fl, int rc) {
  rs_req_t *req = fl->req;
  const rs_route_t *route = fl->route;
  rs_loop_t *loop = req->loop;
  rs_page_loop_t *pl = rs_page__loop(loop);
  switch (fl->step) {
    case RS__S_BYPASS:
      fl->bypass = rs_policy_bypass(req, route);
      rc = RS__NOHOOK;
      if (!fl->bypass && route->hooks.bypass) {
        rc = rs__pflow_hook(fl, RS_HOOK_BYPASS, RS__S_BYPASS_DONE);
        if (rc == RS_LHOOK_YIELD) return;
      }
      /* fallthrough */
    case RS__S_BYPASS_DONE:
      if (rc != RS__NOHOOK) {
        if (rc != RS_LHOOK_OK) {
          rs__pflow_end(fl, rc);
          return;
        }
        fl->bypass = fl->lc->bypass;
      }
      if (fl->bypass || (req->method_bit != RS_M_GET && req->method_bit != RS_M_HEAD)) {
        /* Personalised requests, and those a bypass rule picks, are not
         * looked up nor stored. */
        if (fl->bypass) RS_COUNTER_ADD(pl->c.bypass, 1);
        fl->extra = fl->bypass ? rs_policy_bypass_extra(route) : NULL;
        fl->step = RS__S_UNCACHED;
        rs__pflow_go(fl, RS__NOHOOK);
        return;
      }
      RS_COUNTER_ADD(pl->c.lookups, 1);
      rc = RS__NOHOOK;
      if (route->hooks.key) {
        rc = rs__pflow_hook(fl, RS_HOOK_KEY, RS__S_KEY_DONE);
        if (rc == RS_LHOOK_YIELD) return;
      }
      /* fallthrough */
    case RS__S_KEY_DONE:
      if (rc != RS__NOHOOK) {
        if (rc != RS_LHOOK_OK) {
          rs__pflow_end(fl, rc);
          return;
        }
      }
      {
        /* The hook's string replaces the default key, in its own namespace
         * and with the request's host (rs_key.h); the route's named headers
         * follow either. */
        rs_key_t k;
        rs_key_init(&k, fl->kbuf, sizeof(fl->kbuf));
        if (rc != RS__NOHOOK) rs_page__key(&k, req, route, fl->lc->key, fl->lc->key_len);
        else rs_page__key(&k, req, route, NULL, 0);
        fl->key = k.p;
        fl->klen = k.len;
        fl->key_heap = !rs_key_inline(&k);
      }
      rs__pflow_lookup(fl);
      return;
    case RS__S_PROPS_DONE:
      rs__pflow_render(fl, rc);
      return;
    case RS__S_UNCACHED:
      rc = RS__NOHOOK;
      if (route->hooks.props) {
        rc = rs__pflow_hook(fl, RS_HOOK_PROPS, RS__S_UNCACHED_DONE);
        if (rc == RS_LHOOK_YIELD) return;
      }
      /* fallthrough */
    case RS__S_UNCACHED_DONE:
      if (rc != RS__NOHOOK && rc != RS_LHOOK_OK) {
        rs__pflow_end(fl, rc);
        return;
      }
    {
      char *props = fl->lc != NULL ? fl->lc->props : NULL;
      size_t plen = fl->lc != NULL ? fl->lc->props_len : 0;
      const char *extra = fl->extra;
      if (fl->lc != NULL) fl->lc->props = NULL;    /* taken */
      rs__pflow_free(fl, loop);
      if (route->action == RS_ACTION_PROXY) rs_proxy_request(req, route);   /* streamed, not stored */
      else rs_render_uncached(req, extra, props, plen);
      free(props);
      return;
    }
  }
}

void rs_page_request(rs_req_t *req, const rs_route_t *route) {
  rs__pflow_go(rs__pflow_new(req, route, RS__S_BYPASS), RS__NOHOOK);
}

void rs_page__lookup_again(rs_req_t *req, const rs_route_t *route, const char *key, size_t klen) {
  rs__pflow_t *fl = rs__pflow_new(req, route, RS__S_KEY_DONE);
  if (klen < sizeof(fl->kbuf)) {
    memcpy(fl->kbuf, key, klen);
    fl->kbuf[klen] = 0;
    fl->key = fl->kbuf;
  } else {
    fl->key = rs_xstrndup(key, klen);
    fl->key_heap = true;
  }
  fl->klen = klen;
  rs__pflow_lookup(fl);
}

void rs_page__log_xcache(rs_req_t *req, const char *extra) {
  static const char k[] = "X-Cache: ";
  const char *v = extra != NULL ? strstr(extra, k) : NULL;
  if (v == NULL) return;
  v += sizeof(k) - 1;
  rs_req_log_set(req, RS_LOG_F_CACHE_STATUS, v, strcspn(v, "\r\n"));
}

void rs_page_uncached(rs_req_t *req, const rs_route_t *route, const char *extra) {
  rs_page__log_xcache(req, extra);
  if (route->action == RS_ACTION_PROXY) {
    rs_proxy_request(req, route);
    return;
  }
  if (!route->hooks.props) {
    rs_render_uncached(req, extra, NULL, 0);
    return;
  }
  rs__pflow_t *fl = rs__pflow_new(req, route, RS__S_UNCACHED);
  fl->extra = extra;
  rs__pflow_go(fl, RS__NOHOOK);
}

/* ------------------------------------------------------------------ loops */

int rs_page__slot = -1;
static uv_once_t rs__slot_once = UV_ONCE_INIT;

static void rs__slot_init(void) { rs_page__slot = rs_loop_slot_new(); }

void rs_page_loop_init(rs_loop_t *loop) {
  uv_once(&rs__slot_once, rs__slot_init);
  const rs_config_t *cfg = loop->cfg;
  rs_page_loop_t *pl;
  if (posix_memalign((void **)&pl, RS_CACHELINE, sizeof(*pl)) != 0) abort();
  memset(pl, 0, sizeof(*pl));
  rs_l1_opts_t o = { .hot = cfg->cache.l1_hot, .entries = cfg->cache.l1_entries,
                     .max_bytes = cfg->cache.l1_bytes };
  /* l1 = { hot = 0, entries = 0 } (or bytes = 0) turns L1 off; so does
   * cache = false (the flow still runs: the props hook of an uncached
   * render). */
  bool off = loop->cache == NULL || (o.hot == 0 && o.entries == 0) || o.max_bytes == 0;
  pl->l1 = off ? NULL : rs_l1_create(&o);
  loop->slots[rs_page__slot] = pl;
  rs_page__fleet_loop_init(loop);
}

void rs_page_loop_thread(rs_loop_t *loop) { rs_page__fleet_loop_thread(loop); }

void rs_page_loop_dispose(rs_loop_t *loop) {
  rs_page_loop_t *pl = rs_page__loop(loop);
  if (pl == NULL) return;
  rs_page__fleet_loop_dispose(loop);
  if (pl->l1 != NULL) rs_l1_destroy(pl->l1);
  free(pl->spare);
  while (pl->flows != NULL) {
    struct rs__pflow_s *fl = pl->flows;
    pl->flows = fl->next;
    free(fl);
  }
  free(pl);
  loop->slots[rs_page__slot] = NULL;
}
