/* lua/rs_lhooks_int.h — private to the files of the hook states
 * (rs_lhooks.c: states, coroutines, running and results; rs_lreq.c: the
 * request object a hook receives and its methods; rs_lhooks_setup.c: making
 * and freeing the states). Each of them includes rs_lhooks.h first. Nothing
 * else in lua/ includes it: rs_lfetch.c goes through rs_lhooks.h. Loop
 * thread. */
#ifndef RS_LHOOKS_INT_H
#define RS_LHOOKS_INT_H

#include <lua.h>

#include "rs_config.h"
#include "rs_conn.h"

typedef struct {
  int handler, key, bypass, props;  /* registry refs, LUA_NOREF when absent */
  int limit_req, limit_conn;     /* limit_req.key, limit_conn.key functions */
} rs_lhooks_refs_t;

/* A coroutine of the loop's state, anchored in the registry. */
typedef struct rs_lco_s {
  lua_State *co;
  int ref;
  struct rs_lco_s *next;
} rs_lco_t;

struct rs_lhooks_s {
  lua_State *L;
  rs_config_t scratch;           /* what this state's run of the file declared */
  rs_lhooks_refs_t *refs;        /* by route->_order */
  size_t nrefs;
  int req_mt;                    /* registry ref of the request objects' metatable */
  struct rs_lco_s *co_free;      /* idle coroutines, ready for a request */
  size_t nco_free;
  struct rs_lreq_s *lreq_free;   /* idle request contexts */
  size_t nlreq_free;
  struct rs_lreq_s *running;     /* whose coroutine runs now, or NULL */
  int loop_index;                /* the loop using this state (the gauge's slot) */
  uint64_t timeout_ms;           /* lua.hook_timeout_ms */
  bool interrupted;              /* the budget hook raised in the run ending now */
};

/* ------------------------------------------------------------------ rs_lreq.c */

/* Make the request objects' metatable in h's state (fields built on first
 * use, the methods req:set_header and req:exit) and return its registry
 * ref. */
int rs_lreq__metatable(lua_State *L, struct rs_lhooks_s *h);

/* status, body, headers at st, bd, hs (or a table { status, body, headers }
 * at st) → *resp (one malloc'd block). Returns NULL, or what is wrong
 * ("string, expected a status 200..599") in why. */
const char *rs_lreq__make_resp(lua_State *L, int st, int bd, int hs, rs_resp_t *resp, char *why,
                               size_t whylen);

#endif
