/* core/fleet/rs_redis.c — see rs_redis.h. */
#include "rs_redis.h"

#include "rs_log.h"

#include <hiredis/hiredis.h>
#include <stdlib.h>
#include <string.h>

#define RS__REDIS_RBUF (64 * 1024)

typedef struct rs__rcmd_s rs__rcmd_t;
typedef void (*rs__internal_fn)(rs_redis_t *r, const redisReply *reply);

/* A command waiting for its reply, in send order. */
struct rs__rcmd_s {
  rs__rcmd_t *next;
  rs_redis_cb cb;                /* NULL for a hand-shake command */
  rs__internal_fn internal;      /* the hand-shake's reply handler */
  void *data;
  uint64_t deadline;             /* uv_now */
  bool done;                     /* cb called (timed out): the reply is dropped */
};

/* One connection attempt; freed when its handle has closed. */
typedef struct {
  uv_tcp_t tcp;
  uv_connect_t connect;
  rs_redis_t *r;                 /* NULL once the client let go of it */
  redisReader *reader;
} rs__rconn_t;

typedef struct {
  uv_write_t req;
  char *cmd;
} rs__rwrite_t;

typedef enum {
  RS__R_DOWN = 0,                /* waiting to reconnect */
  RS__R_RESOLVING,
  RS__R_CONNECTING,
  RS__R_HANDSHAKE,               /* AUTH / SELECT / SUBSCRIBE sent */
  RS__R_READY,
} rs__rstate_t;

struct rs_redis_s {
  uv_loop_t *loop;
  rs_redis_opts_t o;
  char *host, *password;
  rs__rstate_t state;
  rs__rconn_t *c;                /* the current connection, or NULL */
  uv_getaddrinfo_t *gai;         /* the current resolution, or NULL */
  int gai_pending;               /* resolutions whose callback has not run */
  uv_timer_t deadline;           /* the earliest command deadline or stall */
  uv_timer_t retry;              /* connect timeout, then reconnect backoff */
  rs__rcmd_t *head, *tail;
  uint32_t inflight;
  uint32_t backoff_ms;
  uint32_t fails;                /* failures in a row */
  uint64_t breaker_until;        /* uv_now; commands refused before it */
  int handshake_left;            /* hand-shake replies still expected */
  bool complained;               /* this streak of failures was logged */
  /* subscriber mode */
  char **channels;
  size_t nchannels;
  rs_redis_msg_cb on_msg;
  rs_redis_ready_cb on_ready;
  void *ready_data, *msg_data;
  bool subscriber;
  bool closing;
  int busy;                      /* callbacks running: free only at 0 */
  int handles_open;              /* deadline, retry */
  rs_redis_stats_t stats;
  char rbuf[RS__REDIS_RBUF];
};

static void rs__redis_connect(rs_redis_t *r);
static void rs__redis_reset(rs_redis_t *r, const char *why);

const char *rs_redis_strerror(int status) {
  switch (status) {
  case 0: return "ok";
  case RS_REDIS_EDOWN: return "not connected";
  case RS_REDIS_ETIMEDOUT: return "timed out";
  case RS_REDIS_ERESET: return "connection reset";
  case RS_REDIS_EBREAKER: return "breaker open";
  case RS_REDIS_EFULL: return "too many commands in flight";
  case RS_REDIS_ECLOSED: return "client closed";
  case RS_REDIS_EPROTO: return "protocol error";
  default: return "unknown error";
  }
}

/* ------------------------------------------------------------ freeing */

static void rs__redis_maybe_free(rs_redis_t *r) {
  if (!r->closing || r->busy > 0 || r->handles_open > 0 || r->gai_pending > 0) return;
  for (size_t i = 0; i < r->nchannels; i++) free(r->channels[i]);
  free(r->channels);
  free(r->host);
  free(r->password);
  free(r);
}

static void rs__redis_timer_closed(uv_handle_t *h) {
  rs_redis_t *r = h->data;
  r->handles_open--;
  rs__redis_maybe_free(r);
}

static void rs__rconn_closed(uv_handle_t *h) {
  rs__rconn_t *c = h->data;
  redisReaderFree(c->reader);
  free(c);
}

/* Close h, or, when a server's last uv_walk already closed it (the loop
 * has ended and run its close phase), finish at once. */
static void rs__close(uv_handle_t *h, uv_close_cb cb) {
  if (uv_is_closing(h)) cb(h);
  else uv_close(h, cb);
}

/* Let go of the current connection (its handle closes on its own). */
static void rs__redis_drop_conn(rs_redis_t *r) {
  rs__rconn_t *c = r->c;
  if (c == NULL) return;
  r->c = NULL;
  c->r = NULL;
  rs__close((uv_handle_t *)&c->tcp, rs__rconn_closed);
}

/* ------------------------------------------------------------ the FIFO */

static rs__rcmd_t *rs__rcmd_pop(rs_redis_t *r) {
  rs__rcmd_t *q = r->head;
  if (q == NULL) return NULL;
  r->head = q->next;
  if (r->head == NULL) r->tail = NULL;
  r->inflight--;
  return q;
}

/* Answer every command still waiting with status (none of them will get a
 * reply now). */
static void rs__redis_fail_all(rs_redis_t *r, int status) {
  rs__rcmd_t *q;
  r->busy++;
  while ((q = rs__rcmd_pop(r)) != NULL) {
    if (q->cb != NULL && !q->done) {
      if (status == RS_REDIS_ERESET) r->stats.failures++;
      q->cb(r, q->data, NULL, status);
    }
    free(q);
  }
  r->busy--;
}

static void rs__redis_failed(rs_redis_t *r) {
  r->fails++;
  if (r->o.max_fails > 0 && r->fails >= r->o.max_fails) {
    uint64_t now = uv_now(r->loop);
    if (r->breaker_until == 0 || now >= r->breaker_until) {
      r->stats.breaker_trips++;
      /* While it reconnects, rs__redis_reset has said so already. */
      if (r->state == RS__R_READY)
        rs_log_warn("redis %s:%d: %u failure(s) in a row: resting %u ms (requests render here meanwhile)",
                    r->host, r->o.port, r->fails, r->o.fail_timeout_ms);
    }
    r->breaker_until = now + r->o.fail_timeout_ms;
  }
}

/* ------------------------------------------------------------ deadlines */

static void rs__redis_on_deadline(uv_timer_t *t);

/* Arm the deadline timer for the earliest thing to happen: a command's
 * deadline, or the stall limit of the oldest abandoned one. */
static void rs__redis_arm(rs_redis_t *r) {
  uint64_t due = UINT64_MAX;
  for (rs__rcmd_t *q = r->head; q != NULL; q = q->next) {
    uint64_t d = q->done ? q->deadline + r->o.stall_ms : q->deadline;
    if (d < due) due = d;
  }
  if (due == UINT64_MAX) {
    uv_timer_stop(&r->deadline);
    return;
  }
  uint64_t now = uv_now(r->loop);
  uv_timer_start(&r->deadline, rs__redis_on_deadline, due > now ? due - now : 0, 0);
}

static void rs__redis_on_deadline(uv_timer_t *t) {
  rs_redis_t *r = t->data;
  uint64_t now = uv_now(r->loop);
  r->busy++;
  for (rs__rcmd_t *q = r->head; q != NULL && !r->closing; q = q->next) {
    if (q->done || q->deadline > now) continue;
    q->done = true;
    if (q->cb == NULL) continue;                 /* a hand-shake: the retry timer covers it */
    r->stats.timeouts++;
    rs__redis_failed(r);
    q->cb(r, q->data, NULL, RS_REDIS_ETIMEDOUT);
  }
  r->busy--;
  if (r->closing) {
    rs__redis_maybe_free(r);
    return;
  }
  if (r->head != NULL && r->head->done && r->head->deadline + r->o.stall_ms <= now) {
    rs__redis_reset(r, "a command stayed unanswered past its deadline");
    return;
  }
  rs__redis_arm(r);
}

/* ------------------------------------------------------------ writing */

static void rs__redis_written(uv_write_t *req, int status) {
  rs__rwrite_t *w = (rs__rwrite_t *)req;
  rs__rconn_t *c = req->handle->data;
  redisFreeCommand(w->cmd);
  free(w);
  if (status < 0 && c->r != NULL && status != UV_ECANCELED) rs__redis_reset(c->r, uv_strerror(status));
}

/* Format and queue a command on the connection; the FIFO entry is the
 * caller's to append. */
static int rs__redis_send(rs_redis_t *r, int argc, const char **argv, const size_t *argvlen) {
  char *cmd = NULL;
  int len = redisFormatCommandArgv(&cmd, argc, argv, argvlen);
  if (len < 0 || cmd == NULL) return RS_REDIS_EPROTO;
  rs__rwrite_t *w = rs_xmalloc(sizeof(*w));
  w->cmd = cmd;
  uv_buf_t b = uv_buf_init(cmd, (unsigned)len);
  int rc = uv_write(&w->req, (uv_stream_t *)&r->c->tcp, &b, 1, rs__redis_written);
  if (rc < 0) {
    redisFreeCommand(cmd);
    free(w);
    return RS_REDIS_ERESET;
  }
  return 0;
}

static void rs__redis_push(rs_redis_t *r, rs_redis_cb cb, rs__internal_fn internal, void *data,
                           uint32_t timeout_ms) {
  rs__rcmd_t *q = rs_xcalloc(1, sizeof(*q));
  q->cb = cb;
  q->internal = internal;
  q->data = data;
  q->deadline = uv_now(r->loop) + timeout_ms;
  if (r->tail) r->tail->next = q;
  else r->head = q;
  r->tail = q;
  r->inflight++;
  if (!uv_is_active((uv_handle_t *)&r->deadline) || q->deadline < uv_now(r->loop) + uv_timer_get_due_in(&r->deadline))
    rs__redis_arm(r);
}

int rs_redis_cmd(rs_redis_t *r, rs_redis_cb cb, void *data, uint32_t timeout_ms, int argc,
                 const char **argv, const size_t *argvlen) {
  if (r->closing) return RS_REDIS_ECLOSED;
  if (r->subscriber) return RS_REDIS_EPROTO;
  if (r->state != RS__R_READY) {
    r->stats.failures++;
    return RS_REDIS_EDOWN;
  }
  if (r->breaker_until != 0) {
    if (uv_now(r->loop) < r->breaker_until) {
      r->stats.failures++;
      return RS_REDIS_EBREAKER;
    }
    r->breaker_until = 0;                        /* half open: one more failure opens it again */
    r->fails = r->o.max_fails > 0 ? r->o.max_fails - 1 : 0;
  }
  if (r->inflight >= r->o.max_inflight) {
    r->stats.failures++;
    return RS_REDIS_EFULL;
  }
  int rc = rs__redis_send(r, argc, argv, argvlen);
  if (rc < 0) {
    r->stats.failures++;
    return rc;
  }
  rs__redis_push(r, cb, NULL, data, timeout_ms ? timeout_ms : r->o.timeout_ms);
  r->stats.commands++;
  return 0;
}

bool rs_redis_ready(const rs_redis_t *r) {
  return r->state == RS__R_READY && !r->closing &&
         (r->breaker_until == 0 || uv_now(r->loop) >= r->breaker_until);
}

const rs_redis_stats_t *rs_redis_stats(const rs_redis_t *r) { return &r->stats; }

bool rs_redis_breaker_open(const rs_redis_t *r) {
  uint64_t until = r->breaker_until;
  return until != 0 && uv_now(r->loop) < until;
}

/* ------------------------------------------------------------ hand-shake */

static void rs__redis_became_ready(rs_redis_t *r) {
  r->state = RS__R_READY;
  r->backoff_ms = 0;
  r->fails = 0;
  r->breaker_until = 0;
  r->stats.connects++;
  uv_timer_stop(&r->retry);
  if (r->complained) rs_log_info("redis %s:%d: connected again", r->host, r->o.port);
  r->complained = false;
  if (r->on_ready != NULL) {
    r->busy++;
    r->on_ready(r, r->ready_data);
    r->busy--;
  }
}

static void rs__redis_handshake_reply(rs_redis_t *r, const redisReply *reply) {
  if (reply->type == REDIS_REPLY_ERROR) {
    if (!r->complained) rs_log_error("redis %s:%d: %.*s", r->host, r->o.port, (int)reply->len, reply->str);
    r->complained = true;
    rs__redis_reset(r, NULL);
    return;
  }
  if (--r->handshake_left == 0) rs__redis_became_ready(r);
}

static void rs__redis_handshake(rs_redis_t *r) {
  r->state = RS__R_HANDSHAKE;
  r->handshake_left = 0;
  char db[16];
  const char *argv[3];
  if (r->password != NULL) {
    argv[0] = "AUTH";
    argv[1] = r->password;
    if (rs__redis_send(r, 2, argv, NULL) < 0) goto fail;
    rs__redis_push(r, NULL, rs__redis_handshake_reply, NULL, r->o.connect_timeout_ms);
    r->handshake_left++;
  }
  if (r->o.db > 0) {
    snprintf(db, sizeof(db), "%d", r->o.db);
    argv[0] = "SELECT";
    argv[1] = db;
    if (rs__redis_send(r, 2, argv, NULL) < 0) goto fail;
    rs__redis_push(r, NULL, rs__redis_handshake_reply, NULL, r->o.connect_timeout_ms);
    r->handshake_left++;
  }
  if (r->subscriber && r->nchannels > 0) {
    const char **sargv = rs_xmalloc((r->nchannels + 1) * sizeof(*sargv));
    sargv[0] = "SUBSCRIBE";
    for (size_t i = 0; i < r->nchannels; i++) sargv[i + 1] = r->channels[i];
    int rc = rs__redis_send(r, (int)r->nchannels + 1, sargv, NULL);
    free(sargv);
    if (rc < 0) goto fail;
    /* The confirmations come as pushes, not FIFO replies (below). */
    r->handshake_left += (int)r->nchannels;
  }
  if (r->handshake_left == 0) rs__redis_became_ready(r);
  return;
fail:
  rs__redis_reset(r, "cannot write the hand-shake");
}

/* ------------------------------------------------------------ reading */

static void rs__redis_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf) {
  (void)hint;
  rs__rconn_t *c = h->data;
  if (c->r == NULL) {
    *buf = uv_buf_init(NULL, 0);
    return;
  }
  *buf = uv_buf_init(c->r->rbuf, sizeof(c->r->rbuf));
}

static bool rs__reply_is(const redisReply *e, const char *s) {
  size_t n = strlen(s);
  return e->type == REDIS_REPLY_STRING && e->len == n && strncasecmp(e->str, s, n) == 0;
}

/* A reply on a subscriber connection: a message or a confirmation. */
static void rs__redis_push_reply(rs_redis_t *r, const redisReply *reply) {
  if (reply->type != REDIS_REPLY_ARRAY || reply->elements < 3) {
    if (reply->type == REDIS_REPLY_ERROR)
      rs_log_error("redis %s:%d: %.*s", r->host, r->o.port, (int)reply->len, reply->str);
    rs__redis_reset(r, "unexpected reply on a subscriber connection");
    return;
  }
  const redisReply *kind = reply->element[0];
  if (rs__reply_is(kind, "message") && reply->element[1]->type == REDIS_REPLY_STRING &&
      reply->element[2]->type == REDIS_REPLY_STRING) {
    if (r->on_msg != NULL)
      r->on_msg(r, r->msg_data, reply->element[1]->str, reply->element[1]->len, reply->element[2]->str,
                reply->element[2]->len);
  } else if (rs__reply_is(kind, "subscribe")) {
    if (r->state == RS__R_HANDSHAKE && --r->handshake_left == 0) rs__redis_became_ready(r);
  }
}

/* One reply off the wire: to the oldest command waiting. */
static void rs__redis_dispatch(rs_redis_t *r, redisReply *reply) {
  rs__rcmd_t *q = r->head;
  if (r->subscriber && (q == NULL || q->internal == NULL)) {
    rs__redis_push_reply(r, reply);
    return;
  }
  if (q == NULL) {
    rs__redis_reset(r, "a reply nobody asked for");
    return;
  }
  rs__rcmd_pop(r);
  r->fails = 0;
  if (q->internal != NULL) {
    q->internal(r, reply);
  } else if (q->done) {
    r->stats.late_replies++;
  } else {
    r->stats.replies++;
    q->cb(r, q->data, reply, 0);
  }
  free(q);
}

static void rs__redis_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf) {
  (void)buf;
  rs__rconn_t *c = s->data;
  rs_redis_t *r = c->r;
  if (r == NULL || n == 0) return;
  if (n < 0) {
    rs__redis_reset(r, n == UV_EOF ? "closed by the server" : uv_strerror((int)n));
    return;
  }
  if (redisReaderFeed(c->reader, r->rbuf, (size_t)n) != REDIS_OK) {
    rs__redis_reset(r, "reply buffer");
    return;
  }
  r->busy++;
  while (r->c == c && !r->closing) {
    void *reply = NULL;
    if (redisReaderGetReply(c->reader, &reply) != REDIS_OK) {
      r->stats.failures++;
      rs__redis_reset(r, c->reader->errstr[0] ? c->reader->errstr : "protocol error");
      break;
    }
    if (reply == NULL) break;
    rs__redis_dispatch(r, reply);
    freeReplyObject(reply);
  }
  r->busy--;
  if (r->closing) rs__redis_maybe_free(r);
  else if (r->c == c && !uv_is_active((uv_handle_t *)&r->deadline)) rs__redis_arm(r);
}

/* ------------------------------------------------------------ connecting */

static void rs__redis_on_retry(uv_timer_t *t) {
  rs_redis_t *r = t->data;
  if (r->state == RS__R_DOWN) rs__redis_connect(r);
  else rs__redis_reset(r, "connect timed out");
}

static void rs__redis_connected(uv_connect_t *req, int status) {
  rs__rconn_t *c = req->handle->data;
  rs_redis_t *r = c->r;
  if (r == NULL) return;
  if (status < 0) {
    rs__redis_reset(r, uv_strerror(status));
    return;
  }
  uv_tcp_nodelay(&c->tcp, 1);
  int rc = uv_read_start((uv_stream_t *)&c->tcp, rs__redis_alloc, rs__redis_read);
  if (rc < 0) {
    rs__redis_reset(r, uv_strerror(rc));
    return;
  }
  rs__redis_handshake(r);
}

static void rs__redis_resolved(uv_getaddrinfo_t *req, int status, struct addrinfo *res) {
  rs_redis_t *r = req->data;
  bool current = r->gai == req;
  free(req);
  r->gai_pending--;
  if (!current || r->closing) {                  /* cancelled by a reset or a close */
    if (res) uv_freeaddrinfo(res);
    rs__redis_maybe_free(r);
    return;
  }
  r->gai = NULL;
  if (status < 0 || res == NULL) {
    if (res) uv_freeaddrinfo(res);
    rs__redis_reset(r, uv_strerror(status));
    return;
  }
  rs__rconn_t *c = rs_xcalloc(1, sizeof(*c));
  c->r = r;
  c->reader = redisReaderCreate();
  uv_tcp_init(r->loop, &c->tcp);
  c->tcp.data = c;
  if (r->o.unref) uv_unref((uv_handle_t *)&c->tcp);
  r->c = c;
  r->state = RS__R_CONNECTING;
  int rc = c->reader ? uv_tcp_connect(&c->connect, &c->tcp, res->ai_addr, rs__redis_connected) : UV_ENOMEM;
  uv_freeaddrinfo(res);
  if (rc < 0) rs__redis_reset(r, uv_strerror(rc));
}

static void rs__redis_connect(rs_redis_t *r) {
  r->state = RS__R_RESOLVING;
  uv_timer_start(&r->retry, rs__redis_on_retry, r->o.connect_timeout_ms, 0);
  char port[8];
  snprintf(port, sizeof(port), "%d", r->o.port);
  struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM };
  r->gai = rs_xmalloc(sizeof(*r->gai));
  r->gai->data = r;
  int rc = uv_getaddrinfo(r->loop, r->gai, rs__redis_resolved, r->host, port, &hints);
  if (rc < 0) {
    free(r->gai);
    r->gai = NULL;
    rs__redis_reset(r, uv_strerror(rc));
    return;
  }
  r->gai_pending++;
}

/* The connection failed or stalled: answer what waits, close it, and try
 * again after the backoff. */
static void rs__redis_reset(rs_redis_t *r, const char *why) {
  bool was_ready = r->state == RS__R_READY;
  /* One line per streak of failures: the first, at warn; the retries at debug. */
  if (why != NULL) {
    if (was_ready || !r->complained) rs_log_warn("redis %s:%d: %s; reconnecting", r->host, r->o.port, why);
    else rs_log_debug("redis %s:%d: %s", r->host, r->o.port, why);
    r->complained = true;
  }
  if (was_ready) r->stats.disconnects++;
  r->state = RS__R_DOWN;
  rs__redis_drop_conn(r);
  if (r->gai != NULL) {                          /* its callback frees it */
    uv_cancel((uv_req_t *)r->gai);
    r->gai = NULL;
  }
  rs__redis_failed(r);
  rs__redis_fail_all(r, RS_REDIS_ERESET);
  uv_timer_stop(&r->deadline);
  if (r->closing) return;
  r->backoff_ms = r->backoff_ms == 0 ? r->o.backoff_min_ms : RS_MIN(r->backoff_ms * 2, r->o.backoff_max_ms);
  uv_timer_start(&r->retry, rs__redis_on_retry, r->backoff_ms, 0);
}

/* ------------------------------------------------------------ life */

rs_redis_t *rs_redis_new(uv_loop_t *loop, const rs_redis_opts_t *opts) {
  rs_redis_t *r = calloc(1, sizeof(*r));
  if (r == NULL) return NULL;
  r->loop = loop;
  r->o = *opts;
  r->host = rs_xstrdup(opts->host ? opts->host : "127.0.0.1");
  r->password = opts->password ? rs_xstrdup(opts->password) : NULL;
  r->o.host = r->host;
  r->o.password = r->password;
  if (r->o.connect_timeout_ms == 0) r->o.connect_timeout_ms = 1000;
  if (r->o.timeout_ms == 0) r->o.timeout_ms = 50;
  if (r->o.stall_ms == 0) r->o.stall_ms = 4 * r->o.timeout_ms;
  if (r->o.max_inflight == 0) r->o.max_inflight = 4096;
  if (r->o.backoff_min_ms == 0) r->o.backoff_min_ms = 50;
  if (r->o.backoff_max_ms == 0) r->o.backoff_max_ms = 2000;
  uv_timer_init(loop, &r->deadline);
  uv_timer_init(loop, &r->retry);
  r->deadline.data = r->retry.data = r;
  r->handles_open = 2;
  if (r->o.unref) {
    uv_unref((uv_handle_t *)&r->deadline);
    uv_unref((uv_handle_t *)&r->retry);
  }
  /* Connect from the loop's next turn, so a subscriber can register first. */
  uv_timer_start(&r->retry, rs__redis_on_retry, 0, 0);
  return r;
}

void rs_redis_subscribe(rs_redis_t *r, const char *const *channels, size_t n, rs_redis_msg_cb on_msg,
                        rs_redis_ready_cb on_ready, void *data) {
  r->subscriber = true;
  r->channels = rs_xcalloc(n ? n : 1, sizeof(char *));
  for (size_t i = 0; i < n; i++) r->channels[i] = rs_xstrdup(channels[i]);
  r->nchannels = n;
  r->on_msg = on_msg;
  r->on_ready = on_ready;
  r->msg_data = r->ready_data = data;
}

void rs_redis_on_ready(rs_redis_t *r, rs_redis_ready_cb on_ready, void *data) {
  r->on_ready = on_ready;
  r->ready_data = data;
}

void rs_redis_close(rs_redis_t *r) {
  if (r->closing) return;
  r->closing = true;
  r->state = RS__R_DOWN;
  rs__redis_drop_conn(r);
  if (r->gai != NULL) {
    uv_cancel((uv_req_t *)r->gai);
    r->gai = NULL;
  }
  rs__redis_fail_all(r, RS_REDIS_ECLOSED);
  rs__close((uv_handle_t *)&r->deadline, rs__redis_timer_closed);
  rs__close((uv_handle_t *)&r->retry, rs__redis_timer_closed);
}
