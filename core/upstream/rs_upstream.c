/* core/upstream/rs_upstream.c — see rs_upstream.h.
 *
 * Three layers, all on one loop thread:
 *
 *   runtime (rs_upstreams_t)   per config and loop: upstreams → servers, each
 *                              server with its pool of idle connections, its
 *                              round-robin slot and its passive health
 *   exchange (rs_uhttp_t)      one request/response: picks a server, takes an
 *                              idle connection or connects, writes the
 *                              request, parses the response with llhttp
 *                              (HTTP_RESPONSE) and hands head and body to
 *                              its callbacks; retries on connect failure;
 *                              in rs_uhttp.c
 *   fetch (rs_fetch_t)         the buffered contract on top of an exchange,
 *                              in rs_fetch.c
 *
 * Their metrics are rs_upstream_stats.c; what crosses these files is in the
 * private rs_upstream_int.h.
 *
 * An exchange owns one timer (connect, send, read-idle and the overall
 * deadline, whichever is first) and is freed in that timer's close
 * callback. Connections own only their socket; pooled ones keep reading so
 * that a server's close is seen at once (and the connection dropped), and
 * a sweep once a second closes those idle past idle_timeout.
 *
 * Passive health follows nginx: a failure (connect error or timeout, read
 * timeout, reset or a bad answer before the head) counts against the server;
 * max_fails of them within fail_timeout mark it down for fail_timeout, after
 * which it gets requests again (one more failure marks it down again); a
 * response head clears the count. */
#include "rs_upstream.h"
#include "rs_upstream_int.h"

static _Thread_local char *rs__tl_rbuf;

/* ------------------------------------------------------------------ runtime */

void rs__ups_maybe_free(rs_upstreams_t *u) {
  if (!u->dead || u->handles > 0 || u->exchanges > 0) return;
  rs__utls_destroy(u);
  for (size_t i = 0; i < u->nups; i++) free(u->ups[i].servers);
  free(u->ups);
  free(u);
}

static void rs__on_sweep(uv_timer_t *t) {
  rs_upstreams_t *u = t->data;
  uint64_t now = uv_now(&u->loop->uv);
  for (size_t i = 0; i < u->nups; i++) {
    uint64_t ttl = u->ups[i].conf->idle_timeout_ms;
    for (size_t j = 0; j < u->ups[i].n; j++) {
      rs__server_t *s = &u->ups[i].servers[j];
      rs__uconn_t *c = s->idle;
      while (c != NULL) {
        rs__uconn_t *next = c->next;
        if (now - c->idle_since >= ttl) rs__uconn_close(c);
        c = next;
      }
    }
  }
}

static void rs__on_sweep_closed(uv_handle_t *h) {
  rs_upstreams_t *u = h->data;
  u->handles--;
  rs__ups_maybe_free(u);
}

static int rs__sockaddr(const rs_addr_t *a, struct sockaddr_storage *ss) {
  memset(ss, 0, sizeof(*ss));
  if (strchr(a->host, ':') != NULL)
    return uv_ip6_addr(a->host, a->port, (struct sockaddr_in6 *)ss);
  return uv_ip4_addr(a->host, a->port, (struct sockaddr_in *)ss);
}

rs_upstreams_t *rs_upstreams_create(rs_loop_t *loop, const rs_config_t *cfg) {
  rs_upstreams_t *u = rs_xcalloc(1, sizeof(*u));
  u->loop = loop;
  u->cfg = cfg;
  u->nups = cfg->nupstreams;
  u->ups = rs_xcalloc(u->nups ? u->nups : 1, sizeof(rs__ups_t));
  for (size_t i = 0; i < u->nups; i++) {
    const rs_upstream_conf_t *uc = &cfg->upstreams[i];
    rs__ups_t *up = &u->ups[i];
    up->conf = uc;
    up->n = uc->nservers;
    up->servers = rs_xcalloc(up->n, sizeof(rs__server_t));
    for (size_t j = 0; j < up->n; j++) {
      rs__server_t *s = &up->servers[j];
      rs__sockaddr(&uc->servers[j], &s->sa);
      if (strchr(uc->servers[j].host, ':'))
        snprintf(s->name, sizeof(s->name), "[%s]:%d", uc->servers[j].host, uc->servers[j].port);
      else
        snprintf(s->name, sizeof(s->name), "%s:%d", uc->servers[j].host, uc->servers[j].port);
      s->stat = rs__ustat_get(uc->name, s->name);
      s->keepalive = uc->keepalive;
    }
    /* Loops start at different servers, so that one request per loop does
     * not always land on the first. */
    up->rr = loop->index > 0 ? (size_t)(loop->index - 1) % up->n : 0;
  }
  rs__utls_create(u);
  uv_timer_init(&loop->uv, &u->sweep);
  u->sweep.data = u;
  uv_timer_start(&u->sweep, rs__on_sweep, 1000, 1000);
  uv_unref((uv_handle_t *)&u->sweep);
  u->handles = 1;
  return u;
}

size_t rs_upstreams_busy(const rs_upstreams_t *u) { return u != NULL ? u->exchanges : 0; }

void rs__uhttp_on_closed(uv_handle_t *h);

void rs_upstreams_destroy(rs_upstreams_t *u) {
  if (u == NULL) return;
  u->dead = true;
  /* The read buffer is the thread's and only used inside a read callback:
   * free it (a newer runtime on this loop allocates it again). */
  free(rs__tl_rbuf);
  rs__tl_rbuf = NULL;
  /* Handles that uv_walk closed (the loop has ended) are done: free them
   * here. The others close now and free themselves in their callbacks. */
  rs__gauge_t *g = rs__ugauge(u->loop);
  while (u->orphans != NULL) {   /* the loop has ended: their timers are closed */
    rs_uhttp_t *x = u->orphans;
    u->orphans = x->orphan_next;
    rs__uhttp_on_closed((uv_handle_t *)&x->timer);
  }
  if (!u->sweep_closing) {
    u->sweep_closing = true;
    if (uv_is_closing((uv_handle_t *)&u->sweep)) u->handles--;
    else uv_close((uv_handle_t *)&u->sweep, rs__on_sweep_closed);
  }
  for (size_t i = 0; i < u->nups; i++) {
    for (size_t j = 0; j < u->ups[i].n; j++) {
      rs__server_t *s = &u->ups[i].servers[j];
      while (s->idle != NULL) {
        rs__uconn_t *c = s->idle;
        if (uv_is_closing((uv_handle_t *)&c->tcp)) {
          rs__ulist_remove(&s->idle, c);
          s->nidle--;
          RS_COUNTER_ADD(g->idle, (uint64_t)-1);
          u->handles--;
          rs__uconn_free(c);
        } else {
          rs__uconn_close(c);
        }
      }
    }
  }
  rs__uconn_t *c = u->busy;
  while (c != NULL) {
    rs__uconn_t *next = c->next;
    if (uv_is_closing((uv_handle_t *)&c->tcp) && !c->closing) {
      rs__ulist_remove(&u->busy, c);
      RS_COUNTER_ADD(g->active, (uint64_t)-1);
      u->handles--;
      rs__uconn_free(c);
    }
    c = next;
  }
  rs__ups_maybe_free(u);
}

/* ------------------------------------------------------------------ health */

static bool rs__server_down(const rs__ups_t *up, const rs__server_t *s, uint64_t now) {
  int max = up->conf->max_fails;
  return max > 0 && s->fails >= max && now - s->checked < up->conf->fail_timeout_ms;
}

void rs__ups_server_failed(rs_uhttp_t *x, int kind) {
  rs__server_t *s = x->srv;
  rs_loop_t *loop = x->u->loop;
  rs__stat_slot_t *slot = rs__ustat_slot(s->stat, loop);
  if (slot) RS_COUNTER_ADD(slot->failures[kind], 1);
  /* A server that answered with a head is up, whatever its body did; and,
   * as nginx, the only server of a group is never marked down. */
  if (x->up == NULL || x->head_seen || x->up->n == 1) return;
  const rs_upstream_conf_t *uc = x->up->conf;
  if (uc->max_fails == 0) return;
  uint64_t now = uv_now(&loop->uv);
  if (s->fails < uc->max_fails && now - s->window_start >= uc->fail_timeout_ms) {
    s->fails = 0;
    s->window_start = now;
  }
  s->fails++;
  s->checked = now;
  if (s->fails == uc->max_fails || s->fails > uc->max_fails)
    rs_log_warn("upstream %s: server %s marked down for %llu ms after %d failure%s", uc->name, s->name,
                (unsigned long long)uc->fail_timeout_ms, s->fails, s->fails == 1 ? "" : "s");
}

/* The next server of up by round robin that is up and not tried yet. */
rs__server_t *rs__ups_pick(rs_uhttp_t *x, bool *all_down) {
  rs__ups_t *up = x->up;
  uint64_t now = uv_now(&x->u->loop->uv);
  *all_down = true;
  for (size_t k = 0; k < up->n; k++) {
    size_t i = (up->rr + k) % up->n;
    if (i < 256 && (x->tried[i / 64] >> (i % 64)) & 1) continue;
    if (rs__server_down(up, &up->servers[i], now)) continue;
    *all_down = false;
    up->rr = i + 1;
    if (i < 256) x->tried[i / 64] |= 1ull << (i % 64);
    return &up->servers[i];
  }
  return NULL;
}

/* ------------------------------------------------------------------ connections */

void rs__uconn_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
  (void)h, (void)suggested;
  if (rs__tl_rbuf == NULL) rs__tl_rbuf = rs_xmalloc(RS__RBUF_SIZE);
  *buf = uv_buf_init(rs__tl_rbuf, RS__RBUF_SIZE);
}

static void rs__on_conn_closed(uv_handle_t *h) {
  rs__uconn_t *c = h->data;
  rs_upstreams_t *u = c->u;
  rs__ulist_remove(&u->busy, c);
  u->handles--;
  rs__uconn_free(c);
  rs__ups_maybe_free(u);
}

void rs__uconn_free(rs__uconn_t *c) {
  rs_tls_free(c->tls);
  free(c);
}

/* Close c (idle or not). Its exchange, if any, must have let go of it. A
 * socket the loop's final uv_walk already closed is left to
 * rs_upstreams_destroy, which frees those. */
void rs__uconn_close(rs__uconn_t *c) {
  if (c->closing || uv_is_closing((uv_handle_t *)&c->tcp)) return;
  c->closing = true;
  rs__gauge_t *g = rs__ugauge(c->u->loop);
  if (c->idle) {
    rs__ulist_remove(&c->srv->idle, c);
    c->srv->nidle--;
    c->idle = false;
    RS_COUNTER_ADD(g->idle, (uint64_t)-1);
  } else {
    rs__ulist_remove(&c->u->busy, c);
    RS_COUNTER_ADD(g->active, (uint64_t)-1);
  }
  c->x = NULL;
  rs__ulist_push(&c->u->busy, c); /* closing connections wait there */
  rs__utls_close(c);
  uv_close((uv_handle_t *)&c->tcp, rs__on_conn_closed);
}

void rs__uhttp_on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf);

/* Put c back in its server's pool, or close it. */
void rs__uconn_release(rs__uconn_t *c, bool reuse) {
  rs_upstreams_t *u = c->u;
  c->x = NULL;
  if (!reuse || u->dead || c->srv == NULL || c->srv->nidle >= c->srv->keepalive || c->u->loop->draining) {
    rs__uconn_close(c);
    return;
  }
  rs__gauge_t *g = rs__ugauge(u->loop);
  rs__ulist_remove(&u->busy, c);
  RS_COUNTER_ADD(g->active, (uint64_t)-1);
  rs__ulist_push(&c->srv->idle, c);
  c->srv->nidle++;
  c->idle = true;
  c->idle_since = uv_now(&u->loop->uv);
  RS_COUNTER_ADD(g->idle, 1);
  if (c->tls != NULL) rs_tls_idle(c->tls);   /* a pooled TLS connection holds no record buffers */
  /* Keep reading: a close by the server is seen now, not on the next use. */
  uv_read_start((uv_stream_t *)&c->tcp, rs__uconn_alloc, rs__uhttp_on_read);
}

const rs_config_t *rs__upstreams_cfg(const rs_upstreams_t *u) { return u->cfg; }
