/* core/upstream/rs_utls.c — TLS to https:// upstream servers and URLs,
 * between a connection's socket and its exchange (rs_upstream_int.h), with
 * core/tls/rs_tls_client.h over the TLS engine (core/tls) on the loop thread:
 *
 *   connect → handshake (within the connect timeout; a failure is a
 *   connect failure: counted, logged with the verification error, the next
 *   server tried) → the request goes out encrypted, its records written
 *   as the engine made them, not copied (rs_tls_send, as the listeners'
 *   connections write) → what the socket reads is decrypted and parsed as
 *   cleartext would be.
 *
 * A pooled connection keeps its TLS state with its socket (keep-alive over
 * TLS). Each server keeps the last session it gave and offers it on the
 * next connection (resumption); fetches of URLs keep theirs per (context,
 * host, port, SNI) in the runtime, a few of them. */
#include "rs_upstream.h"
#include "rs_upstream_int.h"

#include "rs_tls_send.h"

/* ------------------------------------------------------------------ contexts */

void rs__utls_create(rs_upstreams_t *u) {
  for (size_t i = 0; i < u->nups; i++) {
    rs__ups_t *up = &u->ups[i];
    const rs_upstream_tls_t *t = &up->conf->tls;
    if (!t->on) continue;
    rs_tlsc_opts_t o = { .ca = t->ca, .cert = t->cert, .key = t->key, .no_verify = !t->verify };
    char err[600];
    up->tls = rs_tlsc_ctx_get(&o, u->cfg, err, sizeof(err));   /* one for every loop */
    if (up->tls == NULL && u->loop->index <= 1)
      rs_log_error("upstream %s: TLS: %s (its requests fail)", up->conf->name, err);
    for (size_t j = 0; j < up->n; j++)
      up->servers[j].host = up->conf->hosts != NULL ? up->conf->hosts[j] : up->conf->servers[j].host;
  }
}

void rs__utls_destroy(rs_upstreams_t *u) {
  for (size_t i = 0; i < u->nups; i++) {
    rs_tlsc_ctx_free(u->ups[i].tls);
    for (size_t j = 0; j < u->ups[i].n; j++) rs_tlsc_slot_clear(&u->ups[i].servers[j].sess);
  }
  for (size_t i = 0; i < RS__URL_SESS; i++) rs_tlsc_slot_clear(&u->url_sess[i].slot);
  for (size_t i = 0; i < RS__URL_CTXS; i++) {
    rs_tlsc_ctx_free(u->url_ctx[i].ctx);
    free(u->url_ctx[i].ca);
  }
}

static bool rs__same(const char *a, const char *b) {
  return (a == NULL && b == NULL) || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

/* A URL's context for (ca, verify): kept, else taken from the ones the
 * loops share for this config (the least recently used one replaced;
 * connections made from it keep what they need). NULL with the reason
 * logged when it cannot load. */
static rs_tlsc_ctx_t *rs__url_ctx(rs_upstreams_t *u, const char *ca, bool verify) {
  rs__url_ctx_t *lru = &u->url_ctx[0];
  u->url_tick++;
  for (size_t i = 0; i < RS__URL_CTXS; i++) {
    rs__url_ctx_t *e = &u->url_ctx[i];
    if (e->ctx != NULL && e->verify == verify && rs__same(e->ca, ca)) {
      e->used = u->url_tick;
      return e->ctx;
    }
    if (e->used < lru->used) lru = e;
  }
  rs_tlsc_opts_t o = { .ca = ca, .no_verify = !verify };
  char err[600];
  rs_tlsc_ctx_t *ctx = rs_tlsc_ctx_get(&o, u->cfg, err, sizeof(err));
  if (ctx == NULL) {
    rs_log_warn("fetch: TLS: %s", err);
    return NULL;
  }
  if (lru->ctx != NULL)          /* its sessions go with it */
    for (size_t i = 0; i < RS__URL_SESS; i++)
      if (u->url_sess[i].ctx == lru->ctx) {
        rs_tlsc_slot_reuse(&u->url_sess[i].slot);
        u->url_sess[i].ctx = NULL;
        u->url_sess[i].used = 0;
      }
  rs_tlsc_ctx_free(lru->ctx);
  free(lru->ca);
  lru->ca = ca ? rs_xstrdup(ca) : NULL;
  lru->verify = verify;
  lru->ctx = ctx;
  lru->used = u->url_tick;
  return ctx;
}

/* The session slot of a URL's server. */
static rs_tlsc_slot_t *rs__url_slot(rs_upstreams_t *u, rs_tlsc_ctx_t *ctx, const char *name, const char *sni) {
  char key[320];
  snprintf(key, sizeof(key), "%s %s", name, sni ? sni : "");
  rs__url_sess_t *lru = &u->url_sess[0];
  for (size_t i = 0; i < RS__URL_SESS; i++) {
    rs__url_sess_t *e = &u->url_sess[i];
    if (e->ctx == ctx && strcmp(e->key, key) == 0) {
      e->used = ++u->url_tick;
      return &e->slot;
    }
    if (e->used < lru->used) lru = e;
  }
  rs_tlsc_slot_reuse(&lru->slot);
  lru->ctx = ctx;
  snprintf(lru->key, sizeof(lru->key), "%s", key);
  lru->used = ++u->url_tick;
  return &lru->slot;
}

int rs__utls_attach(rs_uhttp_t *x, rs__uconn_t *c) {
  if (x->up != NULL) {
    if (!x->up->conf->tls.on) return 0;
    if (x->up->tls == NULL) return -EKEYREJECTED;
    c->tls = rs_tlsc_new(x->up->tls, x->srv->host, x->up->conf->tls.sni, &x->srv->sess);
    return 0;
  }
  if (!x->tls) return 0;
  rs_tlsc_ctx_t *ctx = rs__url_ctx(x->u, x->tls_ca, x->tls_verify);
  if (ctx == NULL) return -EKEYREJECTED;
  c->tls = rs_tlsc_new(ctx, x->tls_host, x->tls_sni, rs__url_slot(x->u, ctx, x->srv->name, x->tls_sni));
  return 0;
}

/* ------------------------------------------------------------------ writes */

/* Write whatever ciphertext the engine has made, its chunks as they are
 * (rs_tls_send: given back when the write completes, fails or is
 * cancelled by a close): at once when the socket takes it all (*sent; then
 * cb never runs), else by uv_write with cb(req) after. What nobody waits
 * for (cb NULL: the handshake's flights, an alert, what a read made) is
 * tried at once too; a request's body pieces (no sent) go by uv_write. */
static int rs__flush(rs__uconn_t *c, uv_write_t *req, uv_write_cb cb, bool *sent) {
  return rs_tls_send(c->tls, (uv_stream_t *)&c->tcp, sent != NULL || cb == NULL, req, cb, sent);
}

int rs__uconn_write(rs__uconn_t *c, uv_write_t *req, uv_buf_t *bufs, unsigned n, uv_write_cb cb, bool *sent) {
  if (sent != NULL) *sent = false;
  if (c->tls != NULL) {
    if (rs_tls_write_bufs(c->tls, bufs, n) != 0) return UV_EPROTO;   /* a head and its body: one record */
    return rs__flush(c, req, cb, sent);
  }
  if (sent != NULL) {
    /* Try to write it now: a request that fits the socket buffer (nearly
     * all) then needs no uv_write, whose completion costs an epoll_ctl. */
    size_t total = 0;
    for (unsigned i = 0; i < n; i++) total += bufs[i].len;
    int w = uv_try_write((uv_stream_t *)&c->tcp, bufs, n);
    if (w > 0 && (size_t)w == total) {
      *sent = true;
      return 0;
    }
    for (size_t k = w > 0 ? (size_t)w : 0; k > 0 && n > 0;) {   /* partly: the rest by uv_write */
      if (k >= bufs[0].len) {
        k -= bufs[0].len;
        bufs++, n--;
      } else {
        bufs[0] = uv_buf_init(bufs[0].base + k, (unsigned)(bufs[0].len - k));
        k = 0;
      }
    }
  }
  return uv_write(req, (uv_stream_t *)&c->tcp, bufs, n, cb);
}

void rs__utls_close(rs__uconn_t *c) {
  if (c->tls == NULL || !c->connected || !rs_tls_handshake_done(c->tls)) return;
  rs_tls_shutdown(c->tls);
  rs_tls_send_last(c->tls, (uv_stream_t *)&c->tcp);   /* best effort */
}

/* ------------------------------------------------------------------ handshake and reads */

static void rs__count(rs_uhttp_t *x, int result, bool resumed) {
  rs__stat_slot_t *slot = x->up != NULL ? rs__ustat_slot(x->srv->stat, x->u->loop) : NULL;
  rs__gauge_t *g = rs__ugauge(x->u->loop);
  if (slot != NULL) {
    RS_COUNTER_ADD(slot->tls[result], 1);
    if (resumed) RS_COUNTER_ADD(slot->tls_resumed, 1);
  } else if (x->up == NULL) {
    RS_COUNTER_ADD(g->url_tls[result], 1);
    if (resumed) RS_COUNTER_ADD(g->url_tls_resumed, 1);
  }
}

static void rs__handshake_failed(rs_uhttp_t *x, rs__uconn_t *c) {
  bool verify = rs_tlsc_verify_failed(c->tls);
  rs__count(x, verify ? RS__TLS_VERIFY : RS__TLS_ERROR, false);
  rs_log_warn("upstream %s: server %s: TLS handshake failed: %s", x->up ? x->up->conf->name : "-", x->srv->name,
              rs_tls_error(c->tls));
  rs__flush(c, NULL, NULL, NULL);   /* the alert, if the socket takes it */
  rs__x_fail(x, verify ? -EKEYREJECTED : -EBADE, RS__F_TLS);
}

bool rs__utls_timed_out(rs_uhttp_t *x) {
  rs__uconn_t *c = x->conn;
  if (c == NULL || c->tls == NULL || !c->connected || rs_tls_handshake_done(c->tls)) return false;
  rs__count(x, RS__TLS_ERROR, false);
  rs_log_warn("upstream %s: server %s: TLS handshake timed out", x->up ? x->up->conf->name : "-", x->srv->name);
  return true;
}

void rs__utls_connected(rs_uhttp_t *x, rs__uconn_t *c) {
  if (rs_tls_feed(c->tls, NULL, 0) != RS_TLS_OK) {   /* the ClientHello */
    rs__handshake_failed(x, c);
    return;
  }
  int rc = rs__flush(c, NULL, NULL, NULL);
  if (rc != 0) {                 /* the socket's error (reset at once): as a connect's, not TLS's */
    rs__x_fail(x, rc, RS__F_CONNECT);
    return;
  }
  if (!x->paused) uv_read_start((uv_stream_t *)&c->tcp, rs__uconn_alloc, rs__uhttp_on_read);
}

/* An idle pooled connection read something: TLS's own messages (a session
 * ticket, a key update) keep it; plaintext nobody asked for, the server's
 * close_notify or an error end it. */
static void rs__idle_read(rs__uconn_t *c, char *base, size_t cap) {
  ssize_t r = rs_tls_read(c->tls, base, cap);
  if (r == 0 && rs__flush(c, NULL, NULL, NULL) == 0) return;
  rs__uconn_close(c);
}

void rs__utls_on_read(rs__uconn_t *c, char *base, size_t n, size_t cap) {
  rs_uhttp_t *x = c->x;
  bool was_done = rs_tls_handshake_done(c->tls);
  if (rs_tls_feed(c->tls, base, n) != RS_TLS_OK) {
    if (x != NULL && !was_done) rs__handshake_failed(x, c);
    else if (x != NULL) rs__x_fail(x, -ECONNRESET, RS__F_RESET);
    else rs__uconn_close(c);
    return;
  }
  if (x == NULL) {
    rs__idle_read(c, base, cap);
    return;
  }
  if (!rs_tls_handshake_done(c->tls)) {   /* more of the handshake */
    if (rs__flush(c, NULL, NULL, NULL) != 0) rs__x_fail(x, -ECONNRESET, RS__F_CONNECT);
    return;
  }
  if (!was_done) {               /* it just finished: the request goes */
    bool resumed = rs_tls_resumed(c->tls);
    rs__count(x, RS__TLS_OK, resumed);
    rs_log_debug("upstream %s: server %s: %s%s", x->up ? x->up->conf->name : "-", x->srv->name,
                 rs_tls_version(c->tls), resumed ? ", resumed" : "");
    if (rs__flush(c, NULL, NULL, NULL) != 0) {
      rs__x_fail(x, -ECONNRESET, RS__F_CONNECT);
      return;
    }
    rs__x_send(x);
    if (c->x != x || x->conn != c) return;
  }
  for (;;) {
    ssize_t r = rs_tls_read(c->tls, base, cap);
    if (r == 0) break;
    if (r == RS_TLS_CLOSED) {
      rs__x_eof(x, c, UV_EOF);
      return;
    }
    if (r < 0) {
      rs_log_info("upstream %s: server %s: TLS: %s", x->up ? x->up->conf->name : "-", x->srv->name,
                  rs_tls_error(c->tls));
      rs__x_fail(x, -ECONNRESET, RS__F_RESET);
      return;
    }
    if (!rs__x_parse(x, c, base, (size_t)r)) return;
  }
  if (rs__flush(c, NULL, NULL, NULL) != 0) {
    rs__x_fail(x, -ECONNRESET, RS__F_RESET);
    return;
  }
  rs__x_read_end(x, c);
}
