/* core/http/rs_conn_io.c — a connection's bytes: the one place where the
 * HTTP/1 files (and the protocols beside it) touch the socket.
 *
 *   rs__conn_read_start/stop   reads on or off
 *   rs__conn_input             bytes the client sent, as the protocol sees
 *                              them, to the protocol (the HTTP/1 parser)
 *   rs__conn_write/try_write   bytes for the client (libuv's uv_write and
 *                              uv_try_write semantics)
 *   rs__conn_queued            bytes given and not yet taken by the socket
 *
 * A transport that changes the bytes on the way (TLS) goes here, between
 * the socket and these functions, so the parser and the writers never know
 * about it. Loop thread.
 *
 * TLS (a connection of a listener with tls = {...}: c->tio): the bytes read
 * are fed to its rs_tls_t (core/tls/rs_tls.h), which runs the handshake;
 * once it is done the plaintext goes to the protocol. Plaintext written is
 * encrypted at once into the TLS engine's chunks, and those chunks go out,
 * not copied, in a uv_write of their own whose completion calls the
 * writer's callback (rs_tls_send, core/tls/rs_tls_send.h, which the
 * upstreams' TLS connections write with too): callbacks still fire in order
 * and when the bytes have been taken by the socket, so the write clock and
 * the streams' high mark work as over cleartext, and rs__conn_queued
 * (libuv's write queue) counts the ciphertext waiting. What the engine
 * writes by itself (the handshake's flights, tickets, alerts, close_notify)
 * goes the same way, in the order it was made. When the parser pauses
 * (pipeline full) or a streamed body's consumer is full, the records
 * already read stay in the engine; reads starting again drain them from an
 * idle handle, at the top of the next loop turn, never from inside the
 * caller. */
#include "rs_conn.h"
#include "rs_conn_int.h"

#include "rs_metrics.h"
#include "rs_tls.h"
#include "rs_tls_send.h"

struct rs__tio_s {
  rs_tls_t *tls;
  uv_idle_t idle;                /* drains what the engine holds once reads restart */
  uint64_t deadline;             /* loop ms: the handshake is done by then */
  uint64_t timeout;              /* the listener's handshake_timeout_ms */
  bool reading;                  /* reads wanted (between read_start and read_stop) */
  bool done;                     /* the handshake is done (and counted) */
  bool shut;                     /* close_notify sent */
  bool fed;                      /* bytes have come */
  bool draining;                 /* inside rs__tls_drain: it frees the record buffers at its end */
};

#define RS__PLAIN_SIZE (64 * 1024)
static _Thread_local char *rs__tl_plain;   /* the loop thread's plaintext buffer */

/* ------------------------------------------------------------------ metrics */

enum { RS__V12, RS__V13, RS__VMAX };
enum { RS__ALPN_H2, RS__ALPN_H1, RS__ALPN_NONE, RS__ALPN_MAX };
static struct {                  /* every loop's, relaxed atomics (one per handshake) */
  uint64_t ok[RS__VMAX], failed, timeout, resumed, alpn[RS__ALPN_MAX];
} rs__stats;

static void rs__collect(rs_buf_t *out, void *ud) {
  (void)ud;
#define RS__G(x) (unsigned long long)__atomic_load_n(&rs__stats.x, __ATOMIC_RELAXED)
  rs_metrics_family(out, "rustyssr_tls_handshakes_total", "counter",
                    "TLS handshakes on the client listeners, by result (ok, failed: a bad or refused "
                    "ClientHello, no shared protocol or cipher...; timeout: not done within "
                    "handshake_timeout_ms) and protocol version (none: not negotiated).");
  rs_buf_printf(out, "rustyssr_tls_handshakes_total{result=\"ok\",version=\"TLSv1.2\"} %llu\n", RS__G(ok[RS__V12]));
  rs_buf_printf(out, "rustyssr_tls_handshakes_total{result=\"ok\",version=\"TLSv1.3\"} %llu\n", RS__G(ok[RS__V13]));
  rs_buf_printf(out, "rustyssr_tls_handshakes_total{result=\"failed\",version=\"none\"} %llu\n", RS__G(failed));
  rs_buf_printf(out, "rustyssr_tls_handshakes_total{result=\"timeout\",version=\"none\"} %llu\n", RS__G(timeout));
  rs_metrics_family(out, "rustyssr_tls_resumed_total", "counter",
                    "TLS handshakes that resumed a session (a ticket or the session cache).");
  rs_buf_printf(out, "rustyssr_tls_resumed_total %llu\n", RS__G(resumed));
  rs_metrics_family(out, "rustyssr_tls_alpn_total", "counter",
                    "TLS handshakes by the protocol ALPN chose (none: the client offered no ALPN or "
                    "nothing we speak).");
  rs_buf_printf(out, "rustyssr_tls_alpn_total{protocol=\"h2\"} %llu\n", RS__G(alpn[RS__ALPN_H2]));
  rs_buf_printf(out, "rustyssr_tls_alpn_total{protocol=\"http/1.1\"} %llu\n", RS__G(alpn[RS__ALPN_H1]));
  rs_buf_printf(out, "rustyssr_tls_alpn_total{protocol=\"none\"} %llu\n", RS__G(alpn[RS__ALPN_NONE]));
#undef RS__G
}

void rs_conn_tls_metrics_register(void) { rs_metrics_register("tls", rs__collect, NULL); }

#define RS__COUNT(x) __atomic_fetch_add(&rs__stats.x, 1, __ATOMIC_RELAXED)

/* ------------------------------------------------------------------ the protocol */

/* Bytes the client sent, in the clear: the one place where the protocol of
 * the connection is picked. HTTP/1.1 here; c->alpn_h2 says that ALPN chose
 * "h2" on a TLS listener (and the listener's http2 flag,
 * c->loop->http->listen[c->server], says h2c is allowed on a cleartext
 * one). */
static void rs__conn_proto(rs_conn_t *c, const char *p, size_t n) {
  if (c->h2 != NULL) {
    rs__h2_input(c, p, n);
    return;
  }
  if (!c->proto_known && rs__h2_sniff(c, p, n)) return;   /* the HTTP/2 preface */
  rs__conn_parse(c, p, n);
}

/* ------------------------------------------------------------------ ciphertext out */

/* Write what the engine has made, with the writer's callback when given
 * (called even when there is nothing, once the earlier bytes are out). */
static int rs__tls_flush(rs_conn_t *c, uv_write_t *user, uv_write_cb cb) {
  return rs_tls_send(c->tio->tls, (uv_stream_t *)&c->tcp, false, user, cb, NULL);
}

/* Before a close: the alert or close_notify the engine has, if the socket
 * takes it now (a close cancels queued writes). */
static void rs__tls_last_words(rs_conn_t *c) { rs_tls_send_last(c->tio->tls, (uv_stream_t *)&c->tcp); }

static const char *rs__peer(rs_conn_t *c) { return rs__conn_peer(c); }

/* A handshake or record error: logged at info, counted, closed. */
static void rs__tls_fail(rs_conn_t *c) {
  rs__tio_t *io = c->tio;
  if (!io->done) {
    RS__COUNT(failed);
    rs_log_info("client %s: TLS handshake failed: %s", rs__peer(c), rs_tls_error(io->tls));
  } else {
    rs_log_info("client %s: TLS error: %s", rs__peer(c), rs_tls_error(io->tls));
  }
  rs__tls_last_words(c);
  rs__conn_close(c);
}

static void rs__tls_handshake_done(rs_conn_t *c) {
  rs__tio_t *io = c->tio;
  io->done = true;
  const char *v = rs_tls_version(io->tls);
  RS__COUNT(ok[v != NULL && strcmp(v, "TLSv1.3") == 0 ? RS__V13 : RS__V12]);
  if (rs_tls_resumed(io->tls)) RS__COUNT(resumed);
  size_t n = 0;
  const char *a = rs_tls_alpn(io->tls, &n);
  c->alpn_h2 = a != NULL && n == 2 && memcmp(a, "h2", 2) == 0;
  RS__COUNT(alpn[c->alpn_h2 ? RS__ALPN_H2 : a != NULL ? RS__ALPN_H1 : RS__ALPN_NONE]);
}

/* The plaintext the engine holds, to the protocol, while reads are wanted. */
static void rs__tls_drain_in(rs_conn_t *c) {
  rs__tio_t *io = c->tio;
  if (rs__tl_plain == NULL) rs__tl_plain = rs_xmalloc(RS__PLAIN_SIZE);
  while (!c->closed && io->reading && !c->lingering) {
    ssize_t n = rs_tls_read(io->tls, rs__tl_plain, RS__PLAIN_SIZE);
    if (n > 0) {
      rs__conn_proto(c, rs__tl_plain, (size_t)n);
      continue;
    }
    if (n == 0) break;
    if (n == RS_TLS_CLOSED) {    /* close_notify: as the end of the stream */
      uv_buf_t none = uv_buf_init(NULL, 0);
      rs__conn_on_read((uv_stream_t *)&c->tcp, UV_EOF, &none);
      return;
    }
    rs__tls_fail(c);
    return;
  }
  if (!c->closed && rs__tls_flush(c, NULL, NULL) != 0) rs__conn_close(c);
}

/* What was read, answered as far as it can be now; then OpenSSL's record
 * buffers are freed (rs_tls_idle) once for the whole batch, not after each
 * write inside it. A write outside a drain (an answer that came later: a
 * render, a proxied body) frees them itself (rs__conn_write), so an idle
 * keep-alive connection holds none either way. */
static void rs__tls_drain(rs_conn_t *c) {
  rs__tio_t *io = c->tio;
  bool was = io->draining;
  io->draining = true;
  rs__tls_drain_in(c);
  io->draining = was;
  if (!was && !c->closed) rs_tls_idle(io->tls);
}

static void rs__on_idle(uv_idle_t *h) {
  rs_conn_t *c = h->data;
  uv_idle_stop(h);
  if (c->closed || !c->tio->reading) return;
  rs__tls_drain(c);
  if (!c->closed) rs__conn_arm(c);
}

/* ------------------------------------------------------------------ the seam */

void rs__conn_read_start(rs_conn_t *c) {
  uv_read_start((uv_stream_t *)&c->tcp, rs__conn_alloc, rs__conn_on_read);
  rs__tio_t *io = c->tio;
  if (io == NULL) return;
  io->reading = true;
  if (io->done && rs_tls_buffered(io->tls)) uv_idle_start(&io->idle, rs__on_idle);
}

void rs__conn_read_stop(rs_conn_t *c) {
  uv_read_stop((uv_stream_t *)&c->tcp);
  if (c->tio == NULL) return;
  c->tio->reading = false;
  uv_idle_stop(&c->tio->idle);
}

/* The first bytes of a connection look like an HTTP/1 request line ("GET ",
 * "POST "...): a client speaking cleartext to the TLS port. */
static bool rs__plain_http(const char *p, size_t n) {
  size_t i = 0;
  while (i < n && i < 8 && p[i] >= 'A' && p[i] <= 'Z') i++;
  return i >= 3 && i < n && p[i] == ' ';
}

static void rs__plain_http_written(uv_write_t *w, int status) {
  (void)status;
  free(w);
}

/* nginx's answer to it: a cleartext 400 that says so, then close. */
static void rs__plain_http_answer(rs_conn_t *c) {
  static const char page[] =
      "<html>\r\n<head><title>400 The plain HTTP request was sent to HTTPS port</title></head>\r\n"
      "<body>\r\n<center><h1>400 Bad Request</h1></center>\r\n"
      "<center>The plain HTTP request was sent to HTTPS port</center>\r\n</body>\r\n</html>\r\n";
  static char resp[512];
  static int len;
  if (len == 0)
    len = snprintf(resp, sizeof(resp), "HTTP/1.1 400 Bad Request\r\nServer: rustyssr\r\nContent-Type: text/html\r\n"
                   "Content-Length: %zu\r\nConnection: close\r\n\r\n%s", sizeof(page) - 1, page);
  RS__COUNT(failed);
  rs_log_info("client %s: TLS handshake failed: a plain HTTP request on a TLS port (400)", rs__peer(c));
  uv_write_t *w = rs_xmalloc(sizeof(*w));
  uv_buf_t b = uv_buf_init(resp, (unsigned)len);
  if (uv_write(w, (uv_stream_t *)&c->tcp, &b, 1, rs__plain_http_written) != 0) {
    free(w);
    rs__conn_close(c);
    return;
  }
  c->no_more = true;
  rs__conn_linger(c);            /* FIN after it, the rest of the request read and dropped */
}

void rs__conn_input(rs_conn_t *c, const char *p, size_t n) {
  rs__tio_t *io = c->tio;
  if (io == NULL) {
    rs__conn_proto(c, p, n);
    return;
  }
  if (!io->fed) {
    io->fed = true;
    if (rs__plain_http(p, n)) {
      rs__plain_http_answer(c);
      return;
    }
  }
  if (rs_tls_feed(io->tls, p, n) != RS_TLS_OK) {
    rs__tls_fail(c);
    return;
  }
  if (!io->done) {
    if (!rs_tls_handshake_done(io->tls)) {   /* its next flight, if any */
      if (rs__tls_flush(c, NULL, NULL) != 0) rs__conn_close(c);
      return;
    }
    rs__tls_handshake_done(c);
  }
  rs__tls_drain(c);
}

int rs__conn_write(rs_conn_t *c, uv_write_t *w, const uv_buf_t *bufs, unsigned n, uv_write_cb cb) {
  rs__tio_t *io = c->tio;
  if (io == NULL) return uv_write(w, (uv_stream_t *)&c->tcp, bufs, n, cb);
  if (!io->done || io->shut) return UV_EPROTO;
  if (rs_tls_write_bufs(io->tls, bufs, n) != 0) return UV_EPROTO;
  int rc = rs__tls_flush(c, w, cb);
  if (!io->draining) rs_tls_idle(io->tls);
  return rc;
}

int rs__conn_try_write(rs_conn_t *c, const uv_buf_t *bufs, unsigned n) {
  rs__tio_t *io = c->tio;
  if (io == NULL) return uv_try_write((uv_stream_t *)&c->tcp, bufs, n);
  /* As uv_try_write: nothing goes ahead of bytes already queued. The
   * plaintext is taken whole once encrypted; the part of its ciphertext the
   * socket does not take now is queued (and counted by rs__conn_queued). */
  if (!io->done || io->shut || uv_stream_get_write_queue_size((uv_stream_t *)&c->tcp) > 0) return UV_EAGAIN;
  size_t total = 0;
  for (unsigned i = 0; i < n; i++) total += bufs[i].len;
  if (rs_tls_write_bufs(io->tls, bufs, n) != 0) return UV_EPROTO;
  int rc = rs_tls_send(io->tls, (uv_stream_t *)&c->tcp, true, NULL, NULL, NULL);
  if (rc != 0) return rc;
  if (!io->draining) rs_tls_idle(io->tls);
  return (int)total;
}

size_t rs__conn_queued(rs_conn_t *c) {
  return uv_stream_get_write_queue_size((uv_stream_t *)&c->tcp);
}

/* ------------------------------------------------------------------ TLS life */

void rs__conn_io_accept(rs_conn_t *c) {
  rs_loop_t *loop = c->loop;
  const rs_http_opts_t *o = loop->http;
  /* The admin listener (loop 0) stays cleartext. */
  if (loop->index == 0 || o == NULL || o->listen == NULL || c->server < 0 || (size_t)c->server >= o->nlisten)
    return;
  const rs_http_listen_t *l = &o->listen[c->server];
  if (l->tls == NULL) return;
  rs__tio_t *io = rs_xcalloc(1, sizeof(*io));
  io->tls = rs_tls_new(l->tls);
  io->timeout = l->handshake_timeout ? l->handshake_timeout : 10000;
  io->deadline = uv_now(&loop->uv) + io->timeout;
  uv_idle_init(&loop->uv, &io->idle);
  io->idle.data = c;
  c->handles++;
  c->tio = io;
}

bool rs__conn_io_handshaking(rs_conn_t *c, uint64_t *ms) {
  if (c->tio == NULL || c->tio->done) return false;
  uint64_t now = uv_now(&c->loop->uv);
  *ms = c->tio->deadline > now ? c->tio->deadline - now : 1;
  return true;
}

bool rs__conn_io_timeout(rs_conn_t *c) {
  if (c->tio == NULL || c->tio->done || c->lingering) return false;
  RS__COUNT(timeout);
  rs_log_info("client %s: TLS handshake not done within %llu ms: closed", rs__peer(c),
              (unsigned long long)c->tio->timeout);
  rs__conn_close(c);
  return true;
}

void rs__conn_io_shutdown(rs_conn_t *c) {
  rs__tio_t *io = c->tio;
  if (io == NULL || !io->done || io->shut) return;
  io->shut = true;
  rs_tls_shutdown(io->tls);
  (void)rs__tls_flush(c, NULL, NULL);
}

void rs__conn_io_close(rs_conn_t *c) {
  rs__tio_t *io = c->tio;
  if (io == NULL) return;
  if (io->done && !io->shut) {   /* close_notify, if the socket takes it now */
    io->shut = true;
    rs_tls_shutdown(io->tls);
    rs__tls_last_words(c);
  }
  uv_close((uv_handle_t *)&io->idle, rs__conn_handle_closed);
}

void rs__conn_io_free(rs_conn_t *c) {
  if (c->tio == NULL) return;
  rs_tls_free(c->tio->tls);
  free(c->tio);
  c->tio = NULL;
}

void rs__conn_io_tls_facts(rs_conn_t *c, const char **protocol, const char **cipher, const char **sni,
                           bool *reused) {
  rs__tio_t *io = c->tio;
  if (io == NULL || !io->done) return;
  *protocol = rs_tls_version(io->tls);
  *cipher = rs_tls_cipher(io->tls);
  *sni = rs_tls_sni(io->tls);
  *reused = rs_tls_resumed(io->tls);
}

void rs__conn_io_loop_dispose(void) {
  free(rs__tl_plain);
  rs__tl_plain = NULL;
  rs_tls_thread_dispose();
}
