/* core/gateway/rs_ratelimit.c — see rs_ratelimit.h. */
#include "rs_ratelimit.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rs_config.h"
#include "rs_lhooks.h"
#include "rs_limit.h"
#include "rs_log.h"
#include "rs_metrics.h"
#include "rs_realip.h"

/* The table: one for the process, made on first use and kept to the end
 * (a reload keeps every client's bucket, as nginx keeps its zones). */
static pthread_once_t rs__once = PTHREAD_ONCE_INIT;
static rs_limit_table_t *rs__table;
static size_t rs__table_keys;    /* atomic: the bound last applied */

static void rs__table_init(void) { rs__table = rs_limit_table_create(100000); rs__table_keys = 100000; }

static rs_limit_table_t *rs__get_table(const rs_config_t *cfg) {
  pthread_once(&rs__once, rs__table_init);
  size_t want = cfg != NULL ? cfg->limit.keys : 100000;
  /* Relaxed: two loops applying the same new bound is harmless. */
  if (__atomic_load_n(&rs__table_keys, __ATOMIC_RELAXED) != want) {
    __atomic_store_n(&rs__table_keys, want, __ATOMIC_RELAXED);
    rs_limit_table_set_max(rs__table, want);
  }
  return rs__table;
}

/* ------------------------------------------------------------ metrics */

/* Rejections by route, kept by zone so a reload keeps counting. Written
 * only on a rejection (under rs__stats_mu: the rare path), read on scrape. */
#define RS__STATS_MAX 1024
typedef struct {
  uint64_t zone;
  char where[160];
  uint64_t rejected[2];          /* [0] limit_req, [1] limit_conn */
} rs__stat_t;
static pthread_mutex_t rs__stats_mu = PTHREAD_MUTEX_INITIALIZER;
static rs__stat_t *rs__stats;
static size_t rs__nstats;

static void rs__count(const rs_route_t *route, int which) {
  pthread_mutex_lock(&rs__stats_mu);
  size_t i = 0;
  while (i < rs__nstats && rs__stats[i].zone != route->limit.zone) i++;
  if (i == rs__nstats && rs__nstats < RS__STATS_MAX) {
    if (rs__stats == NULL) rs__stats = rs_xcalloc(RS__STATS_MAX, sizeof(*rs__stats));
    rs__stats[i].zone = route->limit.zone;
    snprintf(rs__stats[i].where, sizeof(rs__stats[i].where), "%s", route->where);
    rs__nstats++;
  }
  if (i < rs__nstats) rs__stats[i].rejected[which]++;
  pthread_mutex_unlock(&rs__stats_mu);
}

static void rs__collect(rs_buf_t *out, void *ud) {
  (void)ud;
  rs_metrics_family(out, "rustyssr_limit_rejected_total", "counter",
                    "Requests refused by a route's limit_req or limit_conn, by route (FILE:LINE)");
  static const char *const names[] = { "req", "conn" };
  pthread_mutex_lock(&rs__stats_mu);
  for (size_t i = 0; i < rs__nstats; i++)
    for (int k = 0; k < 2; k++) {
      rs_buf_printf(out, "rustyssr_limit_rejected_total{route=\"");
      rs_metrics_label(out, rs__stats[i].where, strlen(rs__stats[i].where));
      rs_buf_printf(out, "\",limit=\"%s\"} %llu\n", names[k], (unsigned long long)rs__stats[i].rejected[k]);
    }
  pthread_mutex_unlock(&rs__stats_mu);
  rs_metrics_family(out, "rustyssr_limit_keys", "gauge", "Keys the limit table holds (all routes)");
  rs_buf_printf(out, "rustyssr_limit_keys %zu\n", rs__table != NULL ? rs_limit_table_count(rs__table) : 0);
}

void rs_ratelimit_metrics_register(void) { rs_metrics_register("limit", rs__collect, NULL); }

/* ------------------------------------------------------------ requests */

/* The bytes a limit counts req by, in buf; 0 = none (not limited). A
 * hook's key comes in hook/hook_len. */
static size_t rs__key(rs_req_t *req, const struct rs_route_limit_key_s *k, const rs_realip_t *rip,
                      const char *hook, size_t hook_len, char *buf, size_t cap) {
  const char *p = NULL;
  size_t n = 0;
  switch (k->kind) {
    case RS_LIMIT_KEY_ADDR: p = rip->client, n = strlen(rip->client); break;
    case RS_LIMIT_KEY_HOST: p = req->host.p, n = req->host.len; break;
    case RS_LIMIT_KEY_HEADER: {
      const rs_str_t *v = rs_req_header(req, k->header);
      if (v != NULL) p = v->p, n = v->len;
      break;
    }
    case RS_LIMIT_KEY_HOOK: p = hook, n = hook_len; break;
    default: break;
  }
  n = RS_MIN(n, cap);
  if (n) memcpy(buf, p, n);
  return n;
}

static void rs__refuse(rs_req_t *req, const rs_route_t *route, int status, uint64_t retry_ms, int which,
                       const char *client, const char *what) {
  rs__count(route, which);
  rs_log_warn("limiting %s by route %s (%s), client: %s, request %llx: %d", which ? "connections" : "requests",
              route->where, what, client, (unsigned long long)req->id, status);
  uint64_t secs = (retry_ms + 999) / 1000;
  if (secs == 0) secs = 1;
  char head[96];
  snprintf(head, sizeof(head), "Retry-After: %llu\r\nContent-Type: text/html\r\n", (unsigned long long)secs);
  rs_str_t page = rs_http_error_page(status);
  rs_req_respond_static(req, status, head, page.p, page.len);
}

/* The limits with their keys known (hooks' in hk[0] / hk[1]). Returns
 * true when req may go on; false when it was answered. */
static bool rs__apply(rs_req_t *req, const rs_route_t *route, const rs_str_t hk[2]) {
  rs_loop_gen_t *lg = rs_req_gen(req);
  rs_limit_table_t *t = rs__get_table(lg != NULL ? lg->cfg : NULL);
  rs_realip_t rip;
  rs_realip_resolve(req, &rip);
  char key[RS_LIMIT_KEY_MAX];
  if (route->limit.rate != 0) {
    size_t n = rs__key(req, &route->limit.req_key, &rip, hk[0].p, hk[0].len, key, sizeof(key));
    uint64_t retry = 0;
    rs_limit_verdict_t v =
        n ? rs_limit_req(t, route->limit.zone, key, n, route->limit.rate, route->limit.burst, rs_now_ms(), &retry)
          : RS_LIMIT_PASS;
    if (v != RS_LIMIT_PASS) {
      char what[64];
      snprintf(what, sizeof(what), v == RS_LIMIT_FULL ? "limit_keys full" : "rate %s, burst %u",
               route->limit.rate_text, route->limit.burst);
      rs__refuse(req, route, route->limit.req_status, retry, 0, rip.client, what);
      return false;
    }
  }
  if (route->limit.conn_max != 0) {
    size_t n = rs__key(req, &route->limit.conn_key, &rip, hk[1].p, hk[1].len, key, sizeof(key));
    rs_limit_key_t *held = NULL;
    rs_limit_verdict_t v =
        n ? rs_limit_conn_take(t, route->limit.zone | 1, key, n, route->limit.conn_max, &held) : RS_LIMIT_PASS;
    if (v != RS_LIMIT_PASS) {
      char what[64];
      snprintf(what, sizeof(what), v == RS_LIMIT_FULL ? "limit_keys full" : "max %u", route->limit.conn_max);
      rs__refuse(req, route, route->limit.conn_status, 1000, 1, rip.client, what);
      return false;
    }
    req->ctx[RS_REQ_CTX_LIMIT] = held;
  }
  return true;
}

/* A request whose limits have key hooks: they run in its Lua context (one
 * after the other), then the limits apply, then cont. */
typedef struct {
  rs_ratelimit_cont_fn cont;
  rs_req_t *req;
  const rs_route_t *route;
  rs_lreq_t *c;                  /* its ud is this */
  int stage;                     /* 0: limit_req's hook, 1: limit_conn's, 2: done */
  rs_str_t keys[2];
  char *mem[2];                  /* the keys' copies (owned) */
} rs__pending_t;

static void rs__pending_free(rs__pending_t *p) {
  free(p->mem[0]);
  free(p->mem[1]);
  free(p);
}

static void rs__hook_done(rs_lreq_t *c, int rc);

/* Run the next key hook, or finish. Returns true when a hook waits. */
static bool rs__step(rs__pending_t *p) {
  rs_req_t *req = p->req;
  for (; p->stage < 2; p->stage++) {
    bool hook = p->stage == 0 ? p->route->limit.rate != 0 && p->route->limit.req_key.kind == RS_LIMIT_KEY_HOOK
                              : p->route->limit.conn_max != 0 && p->route->limit.conn_key.kind == RS_LIMIT_KEY_HOOK;
    if (!hook) continue;
    int rc = rs_lreq_run(p->c, p->stage == 0 ? RS_HOOK_LIMIT_REQ : RS_HOOK_LIMIT_CONN, rs__hook_done);
    if (rc == RS_LHOOK_YIELD) return true;
    rs__hook_done(p->c, rc);
    return true;                 /* rs__hook_done went on (or answered) */
  }
  /* Every key known: the Lua ends first (rs_lhooks.h), then the limits. */
  rs_lreq_end(p->c);
  rs_ratelimit_cont_fn cont = p->cont;
  const rs_route_t *route = p->route;
  bool pass = rs__apply(req, route, p->keys);
  rs__pending_free(p);
  if (pass) cont(req, route);
  return false;
}

static void rs__hook_done(rs_lreq_t *c, int rc) {
  rs__pending_t *p = c->ud;
  rs_req_t *req = p->req;
  if (rc == RS_LHOOK_OK) {
    int k = p->stage;
    if (c->key_len > 0) {
      p->mem[k] = rs_xstrndup(c->key, c->key_len);
      p->keys[k] = (rs_str_t){ p->mem[k], c->key_len };
    }
    p->stage++;
    rs__step(p);
    return;
  }
  rs_resp_t resp = c->resp;
  rs_lreq_end(c);
  rs__pending_free(p);
  if (rc == RS_LHOOK_EXIT) {     /* req:exit() in the key hook: its answer */
    rs_req_respond(req, &resp);
    return;
  }
  rs_str_t page = rs_http_error_page(500);   /* logged by lua/; on an abort it only releases */
  rs_req_respond_static(req, 500, "Content-Type: text/html\r\n", page.p, page.len);
}

int rs_ratelimit_admit(rs_req_t *req, const rs_route_t *route, rs_ratelimit_cont_fn cont) {
  if (route->limit.rate == 0 && route->limit.conn_max == 0) return RS_RATELIMIT_PASS;
  if (!route->hooks.limit_req && !route->hooks.limit_conn) {
    static const rs_str_t none[2];
    return rs__apply(req, route, none) ? RS_RATELIMIT_PASS : RS_RATELIMIT_ANSWERED;
  }
  rs__pending_t *p = rs_xcalloc(1, sizeof(*p));
  p->cont = cont;
  p->req = req;
  p->route = route;
  p->c = rs_lreq_start(rs_req_gen(req)->lua, req, route);   /* the state of its generation */
  p->c->ud = p;
  rs__step(p);
  return RS_RATELIMIT_PENDING;
}
void rs_ratelimit_release(rs_req_t *req) {
  rs_limit_key_t *held = req->ctx[RS_REQ_CTX_LIMIT];
  if (held == NULL) return;
  req->ctx[RS_REQ_CTX_LIMIT] = NULL;
  rs_limit_conn_release(rs__table, held);
}
