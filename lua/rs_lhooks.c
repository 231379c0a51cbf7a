/* lua/rs_lhooks.c — see rs_lhooks.h: a loop state's coroutines, running a
 * hook (and its time budget), its results, the respond action. Making and
 * freeing the states is rs_lhooks_setup.c's, the request object rs_lreq.c's
 * (rs_lhooks_int.h). */
#include "rs_lhooks.h"
#include "rs_lhooks_int.h"

#include <lauxlib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rs_ljson.h"
#include "rs_log.h"
#include "rs_metrics.h"
#include "rs_lutil.h"

#define RS__CO_FREE_MAX 64         /* idle coroutines (and contexts) kept per state */

/* ------------------------------------------------------------------ coroutines */

/* Cancel c's pending ssr.fetch / ssr.sleep operations (lua/rs_lfetch.c
 * set c->_cancel when it started them). */
static void rs__cancel(rs_lreq_t *c) {
  if (c->_cancel != NULL) c->_cancel(c);
}

/* Live request coroutines by loop index: one writer each (that loop, over
 * all its states), summed relaxed by the scrape. */
#define RS__GAUGE_SLOTS 256
static struct {
  int64_t n;
} __attribute__((aligned(RS_CACHELINE))) rs__live[RS__GAUGE_SLOTS];

static void rs__live_add(rs_lhooks_t *h, int64_t n) {
  int i = h->loop_index < RS__GAUGE_SLOTS ? h->loop_index : 0;
  __atomic_store_n(&rs__live[i].n, __atomic_load_n(&rs__live[i].n, __ATOMIC_RELAXED) + n, __ATOMIC_RELAXED);
}

static rs_lco_t *rs__co_get(rs_lhooks_t *h) {
  rs_lco_t *k = h->co_free;
  if (k != NULL) {
    h->co_free = k->next;
    h->nco_free--;
  } else {
    /* The Lua first: an error raised in it (a __gc finalizer run by this
     * allocation) longjmps out (rs_lutil's recovery) and must leak nothing. */
    lua_State *co = lua_newthread(h->L);
    int ref = luaL_ref(h->L, LUA_REGISTRYINDEX);
    k = rs_xmalloc(sizeof(*k));
    k->co = co;
    k->ref = ref;
  }
  k->next = NULL;
  rs__live_add(h, 1);
  return k;
}

/* Back to the free list: only a coroutine that finished normally (its
 * status 0, its stack emptied) can start another function. */
static void rs__co_put(rs_lhooks_t *h, rs_lco_t *k) {
  rs__live_add(h, -1);
  if (lua_status(k->co) == 0 && h->nco_free < RS__CO_FREE_MAX) {
    lua_settop(k->co, 0);
    k->next = h->co_free;
    h->co_free = k;
    h->nco_free++;
    return;
  }
  luaL_unref(h->L, LUA_REGISTRYINDEX, k->ref);   /* the GC takes it */
  free(k);
}

/* Drop c's coroutine (errored, exited, or its client gone). */
static void rs__co_drop(rs_lreq_t *c) {
  if (c->_co == NULL) return;
  rs_lhooks_t *h = c->_h;
  rs__live_add(h, -1);
  luaL_unref(h->L, LUA_REGISTRYINDEX, c->_co->ref);
  free(c->_co);
  c->_co = NULL;
}

rs_lreq_t *rs_lhooks_running(rs_lhooks_t *h) { return h != NULL ? h->running : NULL; }

lua_State *rs_lreq_thread(rs_lreq_t *c) { return c->_co != NULL ? c->_co->co : NULL; }

rs_lreq_t *rs_lreq_start(rs_lhooks_t *h, rs_req_t *req, const rs_route_t *route) {
  rs_lreq_t *c = h->lreq_free;
  if (c != NULL) {
    h->lreq_free = c->_next_free;
    h->nlreq_free--;
  } else {
    c = rs_xmalloc(sizeof(*c));
  }
  memset(c, 0, offsetof(rs_lreq_t, _key_inline));
  h->loop_index = req->loop->index;
  c->_h = h;
  c->_h_L = h->L;
  c->_req = req;
  c->_route = route;
  c->_req_ref = LUA_NOREF;
  c->_results_ref = LUA_NOREF;
  return c;
}

void rs_lreq_page_view(rs_lreq_t *c) {
  c->page_view = true;
  if (c->_req_ref == LUA_NOREF) return;
  lua_State *L = c->_h_L;
  lua_rawgeti(L, LUA_REGISTRYINDEX, c->_req_ref);
  static const char *const fields[] = { "headers", "cookie", "client", "host" };
  for (size_t i = 0; i < RS_ARRAY_SIZE(fields); i++) {
    lua_pushstring(L, fields[i]);
    lua_pushnil(L);
    lua_rawset(L, -3);
  }
  lua_pop(L, 1);
}

void rs_lreq_end(rs_lreq_t *c) {
  rs_lhooks_t *h = c->_h;
  if (c->_ops != NULL || c->_results_ref != LUA_NOREF) rs__cancel(c);
  if (c->_req_ref != LUA_NOREF) luaL_unref(h->L, LUA_REGISTRYINDEX, c->_req_ref);
  if (c->_co != NULL) rs__co_put(h, c->_co);
  if (c->key != NULL && c->key != c->_key_inline) free((char *)c->key);
  free(c->props);
  if (h->nlreq_free < RS__CO_FREE_MAX) {
    c->_next_free = h->lreq_free;
    h->lreq_free = c;
    h->nlreq_free++;
  } else {
    free(c);
  }
}

/* ------------------------------------------------------------------ results */

static const char *const rs__hook_names[] = { "respond", "key", "bypass", "props", "limit_req key",
                                               "limit_conn key" };

static int rs__wrong(rs_lreq_t *c, lua_State *L, const char *want, int idx) {
  rs_log_error("route %s: %s hook returned %s, expected %s [req %llx]", c->_route->where,
               rs__hook_names[c->_hook], luaL_typename(L, idx), want, (unsigned long long)c->_req->id);
  return RS_LHOOK_FAIL;
}

static int rs__key_result(rs_lreq_t *c, lua_State *L) {
  if (lua_type(L, 1) != LUA_TSTRING && lua_type(L, 1) != LUA_TNUMBER) return rs__wrong(c, L, "a string", 1);
  size_t n;
  const char *s = lua_tolstring(L, 1, &n);
  if (c->key != NULL && c->key != c->_key_inline) free((char *)c->key);
  char *k = n < sizeof(c->_key_inline) ? c->_key_inline : rs_xmalloc(n + 1);
  memcpy(k, s, n);
  k[n] = '\0';
  c->key = k;
  c->key_len = n;
  return RS_LHOOK_OK;
}

static int rs__props_result(rs_lreq_t *c, lua_State *L) {
  free(c->props);
  c->props = NULL;
  c->props_len = 0;
  if (lua_isnil(L, 1)) {
    if (!lua_isnil(L, 2)) {      /* nil, err: the OpenResty way to fail */
      rs_log_error("route %s: props hook failed [req %llx]: %s", c->_route->where,
                   (unsigned long long)c->_req->id, lua_tostring(L, 2) ? lua_tostring(L, 2) : "?");
      return RS_LHOOK_FAIL;
    }
    return RS_LHOOK_OK;
  }
  if (lua_type(L, 1) != LUA_TTABLE) return rs__wrong(c, L, "a table (or nil, err)", 1);
  rs_buf_t b = { 0 };
  const char *why;
  if (rs_ljson_encode(L, 1, &b, &why) != 0) {
    rs_log_error("route %s: props hook returned a table with no JSON form: %s [req %llx]",
                 c->_route->where, why, (unsigned long long)c->_req->id);
    rs_buf_free(&b);
    return RS_LHOOK_FAIL;
  }
  c->props = b.p;
  c->props_len = b.len;
  return RS_LHOOK_OK;
}


static int rs__respond_result(rs_lreq_t *c, lua_State *L) {
  char why[256];
  const char *bad = rs_lreq__make_resp(L, 1, 2, 3, &c->resp, why, sizeof(why));
  if (bad == NULL) return RS_LHOOK_OK;
  rs_log_error("route %s: respond hook returned %s [req %llx]", c->_route->where, bad,
               (unsigned long long)c->_req->id);
  return RS_LHOOK_FAIL;
}

/* ------------------------------------------------------------------ running */

static void rs__abort(rs_req_t *req);

/* ------------------------------------------------------------------ time budget
 *
 * A hook that never returns would hold its loop thread forever. Each loop
 * publishes the state it is running Lua in and since when (its watch slot);
 * a watchdog thread looks every RS__WATCH_TICK_MS and, when a run is past
 * its state's lua.hook_timeout_ms (or the shutdown deadline has passed),
 * sets a count hook on that state: lua_sethook may be called from another
 * thread (Lua 5.1 and LuaJIT document it as safe asynchronously). The hook
 * then raises on the next instruction the interpreter runs, again on each
 * instruction (so a pcall cannot swallow it) until the run ends and the
 * loop removes it. The slot's lock orders the watchdog's sethook against
 * the loop ending the run (and perhaps closing the state). */
#define RS__WATCH_TICK_MS 50   /* a hook is interrupted within its budget + 50 ms */

typedef struct {
  uv_mutex_t lock;
  rs_lhooks_t *h;                /* running Lua now, or NULL */
  uint64_t since_ms;
  bool fired;                    /* the count hook is set on h->L */
} __attribute__((aligned(RS_CACHELINE))) rs__watch_t;

static rs__watch_t rs__watch[RS__GAUGE_SLOTS];
static uv_once_t rs__watch_once = UV_ONCE_INIT;
static uv_thread_t rs__watchdog;
static uv_mutex_t rs__wd_lock;
static uv_cond_t rs__wd_cond;
static bool rs__wd_on, rs__wd_stop;
static int rs__interrupt_all;    /* atomic: the shutdown deadline passed */

static void rs__watch_init(void) {
  for (int i = 0; i < RS__GAUGE_SLOTS; i++) uv_mutex_init(&rs__watch[i].lock);
  uv_mutex_init(&rs__wd_lock);
  uv_cond_init(&rs__wd_cond);
}

static rs__watch_t *rs__slot(const rs_lhooks_t *h) {
  return &rs__watch[h->loop_index > 0 && h->loop_index < RS__GAUGE_SLOTS ? h->loop_index : 0];
}

/* The count hook the watchdog sets. Loop thread, inside a run. */
static void rs__on_budget(lua_State *L, lua_Debug *ar) {
  (void)ar;
  lua_getfield(L, LUA_REGISTRYINDEX, "rustyssr.hooks");
  rs_lhooks_t *h = lua_touserdata(L, -1);
  lua_pop(L, 1);
  if (h == NULL) return;
  h->interrupted = true;
  luaL_error(L, "interrupted: the hook ran longer than lua.hook_timeout_ms (%d ms)", (int)h->timeout_ms);
}

static void rs__watchdog_main(void *arg) {
  (void)arg;
  uv_mutex_lock(&rs__wd_lock);
  while (!rs__wd_stop) {
    uv_cond_timedwait(&rs__wd_cond, &rs__wd_lock, (uint64_t)RS__WATCH_TICK_MS * 1000000u);
    if (rs__wd_stop) break;
    uint64_t now = rs_now_ms();
    bool all = __atomic_load_n(&rs__interrupt_all, __ATOMIC_RELAXED);
    for (int i = 0; i < RS__GAUGE_SLOTS; i++) {
      rs__watch_t *w = &rs__watch[i];
      /* A relaxed peek first: most slots are idle. */
      if (__atomic_load_n(&w->h, __ATOMIC_RELAXED) == NULL) continue;
      uv_mutex_lock(&w->lock);
      if (w->h != NULL && !w->fired && (all || now - w->since_ms >= w->h->timeout_ms)) {
        lua_sethook(w->h->L, rs__on_budget, LUA_MASKCOUNT, 1);
        w->fired = true;
      }
      uv_mutex_unlock(&w->lock);
    }
  }
  uv_mutex_unlock(&rs__wd_lock);
}

void rs_lhooks_watchdog_start(void) {
  uv_once(&rs__watch_once, rs__watch_init);
  uv_mutex_lock(&rs__wd_lock);
  bool start = !rs__wd_on;
  rs__wd_on = true;
  rs__wd_stop = false;
  uv_mutex_unlock(&rs__wd_lock);
  if (start && uv_thread_create(&rs__watchdog, rs__watchdog_main, NULL) != 0) abort();
}

void rs_lhooks_watchdog_stop(void) {
  uv_once(&rs__watch_once, rs__watch_init);
  uv_mutex_lock(&rs__wd_lock);
  bool on = rs__wd_on;
  rs__wd_stop = true;
  rs__wd_on = false;
  uv_cond_signal(&rs__wd_cond);
  uv_mutex_unlock(&rs__wd_lock);
  if (on) uv_thread_join(&rs__watchdog);
  __atomic_store_n(&rs__interrupt_all, 0, __ATOMIC_RELAXED);
}

void rs_lhooks_interrupt_all(void) { __atomic_store_n(&rs__interrupt_all, 1, __ATOMIC_RELAXED); }

/* Start / end a run of Lua on h (nested runs restore the outer one). */
typedef struct {
  rs_lhooks_t *h;
  uint64_t since_ms;
} rs__run_mark_t;

static rs__run_mark_t rs__run_begin(rs_lhooks_t *h) {
  uv_once(&rs__watch_once, rs__watch_init);
  rs__watch_t *w = rs__slot(h);
  uv_mutex_lock(&w->lock);
  rs__run_mark_t outer = { w->h, w->since_ms };
  __atomic_store_n(&w->h, h, __ATOMIC_RELAXED);
  if (outer.h == NULL) w->since_ms = rs_now_ms();   /* a nested run keeps the outer budget */
  uv_mutex_unlock(&w->lock);
  return outer;
}

static void rs__run_end(rs_lhooks_t *h, rs__run_mark_t outer) {
  rs__watch_t *w = rs__slot(h);
  uv_mutex_lock(&w->lock);
  if (w->fired && outer.h == NULL) {
    lua_sethook(h->L, NULL, 0, 0);
    w->fired = false;
  }
  __atomic_store_n(&w->h, outer.h, __ATOMIC_RELAXED);
  w->since_ms = outer.since_ms;
  uv_mutex_unlock(&w->lock);
}

/* After a run that ran out of memory: collect, so the state serves on (the
 * failed coroutine was dropped: what it built is garbage now). */
static void rs__after_oom(rs_lhooks_t *h) {
  rs_lutil_recover_t r;
  if (RS_LUTIL_TRY(&r)) {
    lua_gc(h->L, LUA_GCCOLLECT, 0);
    rs_lutil_recover_pop(&r);
  }
  size_t used = rs_lutil_state_used(h->L), cap = rs_lutil_state_limit(h->L);
  if (cap != 0 && used > cap / 4 * 3)
    rs_log_error("loop %d: the Lua state still holds %zu KB of its %zu KB (lua.memory_mb) after a full "
                 "collection: hooks keep data alive (globals, upvalues); a reload (SIGHUP) starts afresh",
                 h->loop_index, used >> 10, cap >> 10);
}

/* Resume c's coroutine with nargs values on its stack. Returns an outcome. */
static int rs__resume(rs_lreq_t *c, int nargs) {
  rs_lhooks_t *h = c->_h;
  lua_State *co = c->_co->co;
  rs_lreq_t *outer = h->running;
  h->running = c;
  h->interrupted = false;
  rs__run_mark_t mark = rs__run_begin(h);
  int st = lua_resume(co, nargs);
  rs__run_end(h, mark);
  h->running = outer;
  const char *hook = rs__hook_names[c->_hook];
  if (st == LUA_YIELD) {
    if (c->_exited) {
      rs__co_drop(c);
      return RS_LHOOK_EXIT;
    }
    if (c->_waiting > 0) return RS_LHOOK_YIELD;
    rs_log_error("route %s: %s hook yielded outside ssr.fetch, ssr.fetch_all or ssr.sleep [req %llx]",
                 c->_route->where, hook, (unsigned long long)c->_req->id);
    rs__co_drop(c);
    return RS_LHOOK_FAIL;
  }
  if (st != 0) {
    if (h->interrupted) {
      rs_log_error("route %s: %s hook ran longer than %llu ms (lua.hook_timeout_ms)%s: interrupted [req %llx]",
                   c->_route->where, hook, (unsigned long long)h->timeout_ms,
                   __atomic_load_n(&rs__interrupt_all, __ATOMIC_RELAXED) ? " or past the shutdown deadline" : "",
                   (unsigned long long)c->_req->id);
    } else if (st == LUA_ERRMEM) {
      rs_log_error("route %s: %s hook failed [req %llx]: out of memory (the state holds %zu KB, "
                   "lua.memory_mb = %zu)", c->_route->where, hook, (unsigned long long)c->_req->id,
                   rs_lutil_state_used(h->L) >> 10, rs_lutil_state_limit(h->L) >> 20);
    } else {
      const char *msg = lua_tostring(co, -1);
      luaL_traceback(h->L, co, msg ? msg : "(error object is not a string)", 0);
      rs_log_error("route %s: %s hook failed [req %llx]: %s", c->_route->where, hook,
                   (unsigned long long)c->_req->id, lua_tostring(h->L, -1));
      lua_pop(h->L, 1);
    }
    h->interrupted = false;
    rs__cancel(c);     /* e.g. fetch_all raising after some started */
    rs__co_drop(c);
    if (st == LUA_ERRMEM) rs__after_oom(h);
    return RS_LHOOK_FAIL;
  }
  int rc;
  switch (c->_hook) {
    case RS_HOOK_KEY: lua_settop(co, 1); rc = rs__key_result(c, co); break;
    case RS_HOOK_LIMIT_REQ:
    case RS_HOOK_LIMIT_CONN:     /* nil: this request is not limited */
      lua_settop(co, 1);
      if (lua_isnil(co, 1)) c->key_len = 0, rc = RS_LHOOK_OK;
      else rc = rs__key_result(c, co);
      break;
    case RS_HOOK_BYPASS: lua_settop(co, 1); c->bypass = lua_toboolean(co, 1); rc = RS_LHOOK_OK; break;
    case RS_HOOK_PROPS: lua_settop(co, 2); rc = rs__props_result(c, co); break;
    default: lua_settop(co, 3); rc = rs__respond_result(c, co); break;
  }
  lua_settop(co, 0);
  return rc;
}

/* A Lua error escaped every protected call while the loop worked on c's
 * state (rs_lutil's panic handler longjmp'd here): the stacks hold
 * anything. Reset them, drop c's coroutine. Loop thread. */
static void rs__recovered(rs_lreq_t *c, rs_lreq_t *running) {
  rs_lhooks_t *h = c->_h;
  h->running = running;
  h->interrupted = false;
  rs_log_error("route %s: %s hook failed [req %llx]: a Lua error outside the hook (see above)",
               c->_route->where, rs__hook_names[c->_hook], (unsigned long long)c->_req->id);
  lua_settop(h->L, 0);
  rs_lutil_recover_t r;
  if (RS_LUTIL_TRY(&r)) {
    rs__cancel(c);
    rs__co_drop(c);
    rs_lutil_recover_pop(&r);
  } else {
    c->_co = NULL;               /* leaked to the GC rather than risk it */
  }
}

static int rs__hook_ref(const rs_lreq_t *c, rs_hook_t hook) {
  size_t i = c->_route->_order;
  if (i >= c->_h->nrefs) return LUA_NOREF;
  const rs_lhooks_refs_t *r = &c->_h->refs[i];
  switch (hook) {
    case RS_HOOK_KEY: return r->key;
    case RS_HOOK_BYPASS: return r->bypass;
    case RS_HOOK_PROPS: return r->props;
    case RS_HOOK_LIMIT_REQ: return r->limit_req;
    case RS_HOOK_LIMIT_CONN: return r->limit_conn;
    default: return r->handler;
  }
}

static int rs__run(rs_lreq_t *c, rs_hook_t hook, rs_lreq_done_fn done) {
  rs_lhooks_t *h = c->_h;
  int ref = rs__hook_ref(c, hook);
  if (ref == LUA_NOREF) {
    rs_log_error("route %s: no %s hook in this loop's Lua state", c->_route->where, rs__hook_names[hook]);
    return RS_LHOOK_FAIL;
  }
  if (c->_co == NULL) c->_co = rs__co_get(h);
  lua_State *co = c->_co->co;
  lua_rawgeti(co, LUA_REGISTRYINDEX, ref);
  if (c->_req_ref == LUA_NOREF) {
    lua_createtable(co, 0, 4);    /* its fields come on first use (rs__req_index) */
    lua_rawgeti(co, LUA_REGISTRYINDEX, h->req_mt);
    lua_setmetatable(co, -2);
    lua_pushvalue(co, -1);
    c->_req_ref = luaL_ref(co, LUA_REGISTRYINDEX);
  } else {
    lua_rawgeti(co, LUA_REGISTRYINDEX, c->_req_ref);
  }
  c->_hook = (int)hook;
  c->_done = done;
  int rc = rs__resume(c, 1);
  if (rc == RS_LHOOK_YIELD) {
    c->_req->on_abort = rs__abort;
    c->_req->data = c;
  }
  return rc;
}

/* Every entry into Lua from the loop runs under a recovery point: an error
 * outside a protected call (a __gc finalizer raising while C code
 * allocates, out of memory in an API call) fails the request, never the
 * process. */
int rs_lreq_run(rs_lreq_t *c, rs_hook_t hook, rs_lreq_done_fn done) {
  rs_lreq_t *running = c->_h->running;
  c->_hook = (int)hook;
  rs_lutil_recover_t r;
  if (!RS_LUTIL_TRY(&r)) {
    rs__recovered(c, running);
    return RS_LHOOK_FAIL;
  }
  int rc = rs__run(c, hook, done);
  rs_lutil_recover_pop(&r);
  return rc;
}

void rs_lreq_resume(rs_lreq_t *c, int nargs) {
  rs_req_t *req = c->_req;
  req->on_abort = NULL;
  req->data = NULL;
  rs_lreq_t *running = c->_h->running;
  rs_lutil_recover_t r;
  int rc;
  if (RS_LUTIL_TRY(&r)) {
    rc = rs__resume(c, nargs);
    rs_lutil_recover_pop(&r);
  } else {
    rs__recovered(c, running);
    rc = RS_LHOOK_FAIL;
  }
  if (rc == RS_LHOOK_YIELD) {
    req->on_abort = rs__abort;
    req->data = c;
    return;
  }
  c->_done(c, rc);
}

void rs_lreq_fail(rs_lreq_t *c) {
  rs_req_t *req = c->_req;
  req->on_abort = NULL;
  req->data = NULL;
  rs__recovered(c, c->_h->running);
  c->_done(c, RS_LHOOK_FAIL);
}

/* req->on_abort while a hook is suspended: the client has gone. */
static void rs__abort(rs_req_t *req) {
  rs_lreq_t *c = req->data;
  req->on_abort = NULL;
  req->data = NULL;
  rs__cancel(c);
  rs__co_drop(c);
  rs_log_debug("route %s: client gone while the %s hook waited [req %llx]: cancelled", c->_route->where,
               rs__hook_names[c->_hook], (unsigned long long)req->id);
  c->_done(c, RS_LHOOK_ABORT);
}

/* ------------------------------------------------------------------ respond action */

static void rs__respond_done(rs_lreq_t *c, int rc) {
  /* The Lua ends first: answering a request whose client has gone frees
   * it, and perhaps the (reloaded-away) generation that owns this state. */
  rs_req_t *req = c->_req;
  rs_resp_t resp = c->resp;
  rs_lreq_end(c);
  if (rc == RS_LHOOK_OK || rc == RS_LHOOK_EXIT) {
    rs_req_respond(req, &resp);
  } else {
    rs_req_respond_error(req, 500, NULL);
  }
}

void rs_lhooks_respond_request(rs_req_t *req, const rs_route_t *route) {
  rs_lreq_t *c = rs_lreq_start(rs_req_gen(req)->lua, req, route);  /* the state of its generation */
  int rc = rs_lreq_run(c, RS_HOOK_RESPOND, rs__respond_done);
  if (rc != RS_LHOOK_YIELD) rs__respond_done(c, rc);
}

/* ------------------------------------------------------------------ metrics */

static void rs__collect(rs_buf_t *out, void *ud) {
  (void)ud;
  int64_t live = 0;
  for (int i = 0; i < RS__GAUGE_SLOTS; i++) live += __atomic_load_n(&rs__live[i].n, __ATOMIC_RELAXED);
  rs_metrics_family(out, "rustyssr_lua_coroutines", "gauge",
                    "Request coroutines alive (running, or waiting in ssr.fetch or ssr.sleep).");
  rs_buf_printf(out, "rustyssr_lua_coroutines %lld\n", (long long)live);
}

void rs_lhooks_metrics_register(void) { rs_metrics_register("lua", rs__collect, NULL); }
