/* lua/rs_lhooks.h — Lua hooks on the request path, one Lua state per loop
 * thread and one coroutine per request (lua-nginx-module's model).
 *
 * Each loop thread runs the config file again in a state of its own; the
 * routes it declares are the main state's routes, in the same order, so a
 * hook is found by route->_order. Only routes that declare a hook ever
 * enter Lua.
 *
 * The hooks of one request run, one after the other, in ONE coroutine of
 * the loop's state (taken from a small free list, anchored in the registry
 * until the request's Lua ends). A hook that never yields runs to its end
 * inside rs_lreq_run, which returns its outcome. A hook that calls
 * ssr.fetch, ssr.fetch_all or ssr.sleep (lua/rs_lfetch.h) yields: rs_lreq_run
 * returns RS_LHOOK_YIELD, the caller returns to the loop, and the caller's
 * done callback is called later with the outcome (once). While suspended
 * the request's on_abort and data are the hook's: a client that goes away
 * cancels the pending fetches and timers, drops the coroutine and calls done
 * with RS_LHOOK_ABORT (the caller then answers: rs_req_respond only
 * releases).
 *
 * Errors: a hook that raises is logged with its traceback and comes back
 * as RS_LHOOK_FAIL (answer 500); a wrong return type is logged naming the
 * route and the hook, RS_LHOOK_FAIL too. The loop goes on.
 *
 * The request object a hook receives (each field built on first use, then
 * kept in the table: a key hook reading req.path never parses headers):
 *   req.method, req.host, req.path, req.url, req.query (decoded; a repeated
 *   name gives a list), req.params, req.headers (lower-case names),
 *   req.cookie (parsed), req.client (the client's address, no port, behind
 *   trusted proxies: core/http/rs_realip.h), req.id, req.ctx (a table
 *   for the request's hooks to share), and the methods
 *   req:set_header(name, value): a header line added to whatever answer
 *     the request gets (rendered page — hit or miss, never stored —,
 *     respond handler, error, exit); kept in req->add_headers;
 *   req:exit(status[, body[, headers]]): ends the request with that answer
 *     (the hook's coroutine stops there; the outcome is RS_LHOOK_EXIT with
 *     the answer in c->resp).
 *
 * Loop thread only; each function names its hook in messages. */
#ifndef RS_LHOOKS_H
#define RS_LHOOKS_H

#include <lua.h>

#include "rs_config.h"
#include "rs_conn.h"
#include "rs_router.h"

typedef struct rs_lhooks_s rs_lhooks_t;
typedef struct rs_lreq_s rs_lreq_t;

/* Run the config file again in a new state for one loop thread. Returns
 * NULL with err set ("FILE:LINE: reason", or a mismatch with the routes the
 * main state declared). */
rs_lhooks_t *rs_lhooks_create(const rs_config_t *cfg, char *err, size_t errlen);
void rs_lhooks_destroy(rs_lhooks_t *h);

typedef enum {
  RS_HOOK_RESPOND, RS_HOOK_KEY, RS_HOOK_BYPASS, RS_HOOK_PROPS,
  RS_HOOK_LIMIT_REQ, RS_HOOK_LIMIT_CONN,  /* limit_req/limit_conn = { key = function(req) }:
                                             a string (c->key) or nil (key_len 0: not limited) */
} rs_hook_t;

/* Outcomes of rs_lreq_run (and of the done callback). */
#define RS_LHOOK_OK 0            /* results in c (below) */
#define RS_LHOOK_FAIL (-1)       /* logged: answer 500 */
#define RS_LHOOK_ABORT (-2)      /* the client went away while suspended */
#define RS_LHOOK_EXIT 1          /* req:exit(): answer with c->resp */
#define RS_LHOOK_YIELD 2         /* suspended: done(c, outcome) comes later */

typedef void (*rs_lreq_done_fn)(rs_lreq_t *c, int outcome);

struct rs_lreq_s {
  /* The last hook's results (RS_LHOOK_OK), owned by c until rs_lreq_end. */
  bool bypass;                   /* bypass */
  const char *key;               /* key (inline or heap) */
  size_t key_len;
  char *props;                   /* props JSON (NULL for nil): the caller may */
  size_t props_len;              /* take it (then set props to NULL) */
  rs_resp_t resp;                /* respond / exit: pass to rs_req_respond, which
                                    takes it over (resp.release) */
  void *ud;                      /* the caller's */
  bool page_view;                /* set by rs_lreq_page_view */

  /* lua/ only */
  rs_lhooks_t *_h;
  lua_State *_h_L;               /* the state's main thread */
  rs_req_t *_req;
  const rs_route_t *_route;
  struct rs_lco_s *_co;          /* the coroutine, NULL until the first hook */
  int _req_ref;                  /* registry ref of the request table */
  int _hook;                     /* the hook running (rs_hook_t) */
  rs_lreq_done_fn _done;
  bool _exited;                  /* req:exit() was called */
  /* Pending operations of the current yield (lua/rs_lfetch.c), and what
   * cancels them (set by rs_lfetch.c: the hook states never call it by
   * name, so lua/rs_lfetch.c sits above them). */
  struct rs_lop_s *_ops;
  void (*_cancel)(rs_lreq_t *c);
  int _waiting;                  /* operations not yet back */
  int _want;                     /* what to resume with (rs_lfetch.c) */
  int _results_ref;              /* registry ref of the results table */
  rs_lreq_t *_next_free;
  char _key_inline[256];
};

/* The request's Lua context (from a free list). Loop thread. */
rs_lreq_t *rs_lreq_start(rs_lhooks_t *h, rs_req_t *req, const rs_route_t *route);

/* Run the route's hook in the request's coroutine. Returns an outcome; on
 * RS_LHOOK_YIELD, done(c, outcome) is called later on the loop (never with
 * RS_LHOOK_YIELD, never from inside this call). */
int rs_lreq_run(rs_lreq_t *c, rs_hook_t hook, rs_lreq_done_fn done);

/* From now on the request object shows the hooks what the bundle of a
 * page that will be stored sees (core/gateway/rs_render.h): req.headers and
 * req.cookie hold only Host and the route's named headers (forwarding
 * claims only from a trusted proxy), req.client is nil. For the props hook
 * of a render whose page is shared: its result feeds that page, so it may
 * depend only on what the key covers. req.host is then as the key holds it
 * (lower-case, no port). Fields built before are dropped from
 * the table. Not while c's hook runs. */
void rs_lreq_page_view(rs_lreq_t *c);

/* End the request's Lua: release the request table, give the coroutine back
 * (or drop it), free results not taken. Never while suspended. */
void rs_lreq_end(rs_lreq_t *c);

/* The respond = function(req) action: runs the handler (resuming after a
 * yield) and answers req with its result, its exit, or 500. */
void rs_lhooks_respond_request(rs_req_t *req, const rs_route_t *route);

/* The hook time budget's watchdog thread (lua.hook_timeout_ms): started
 * by the server before its loops, stopped after they ended. Main thread. */
void rs_lhooks_watchdog_start(void);
void rs_lhooks_watchdog_stop(void);
/* The shutdown deadline passed: interrupt every hook running now or later
 * (each such request gets 500). Any thread. */
void rs_lhooks_interrupt_all(void);

/* Register the rustyssr_lua_coroutines gauge (request coroutines alive,
 * running or waiting, over every loop and every Lua state, old ones of a
 * reload included). Main thread, once, before the admin listener serves. */
void rs_lhooks_metrics_register(void);

/* ------------------------------------------------------------------ lua/ only */

/* A Lua error escaped every protected call while c's suspended coroutine
 * was being handed results (lua/rs_lfetch.c): drop its Lua, done(c,
 * RS_LHOOK_FAIL). Loop thread. */
void rs_lreq_fail(rs_lreq_t *c);

/* The context whose coroutine is running now, or NULL (config load, or a
 * call outside a hook). */
rs_lreq_t *rs_lhooks_running(rs_lhooks_t *h);

/* The coroutine of c (running or suspended). */
lua_State *rs_lreq_thread(rs_lreq_t *c);

/* Resume c's coroutine with the nargs values pushed on its stack; runs the
 * hook on and calls done when it finishes (or yields again: nothing). */
void rs_lreq_resume(rs_lreq_t *c, int nargs);

#endif
