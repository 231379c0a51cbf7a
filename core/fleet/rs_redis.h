/* core/fleet/rs_redis.h — a Redis client for one libuv loop: one pipelined
 * connection, a deadline on every command, reconnection with backoff, and a
 * subscriber mode for pub/sub.
 *
 * hiredis serves only as the codec (redisFormatCommandArgv, redisReader):
 * Debian 12's hiredis 0.14.1 has no command timeouts and its libuv adapter
 * drops poll errors (a refused connection can hang: hiredis#508), so the I/O
 * is our own uv_tcp_t and uv_timer_t, as core/upstream does
 * (../shared/FLEET.md §3).
 *
 * The store never fails a request: a command that cannot be sent (not
 * connected, breaker open, too many in flight) fails at once; one that is
 * not answered by its deadline is answered RS_REDIS_ETIMEDOUT and its late
 * reply, when it comes, is dropped. A connection whose oldest abandoned
 * command stays unanswered for stall_ms is closed and made again.
 *
 * Everything here runs on the loop thread that made the client. */
#ifndef RS_REDIS_H
#define RS_REDIS_H

#include "rs_common.h"

#include <hiredis/hiredis.h>
#include <uv.h>

typedef struct rs_redis_s rs_redis_t;

/* Why a command got no reply (status < 0 in rs_redis_cb). */
#define RS_REDIS_EDOWN     (-1)   /* not connected (or reconnecting) */
#define RS_REDIS_ETIMEDOUT (-2)   /* no reply by the command's deadline */
#define RS_REDIS_ERESET    (-3)   /* the connection broke before the reply */
#define RS_REDIS_EBREAKER  (-4)   /* too many failures in a row: resting */
#define RS_REDIS_EFULL     (-5)   /* max_inflight commands already waiting */
#define RS_REDIS_ECLOSED   (-6)   /* rs_redis_close was called */
#define RS_REDIS_EPROTO    (-7)   /* the reply did not parse */

typedef struct {
  const char *host;              /* name or literal address */
  int port;
  int db;                        /* SELECT after connecting when > 0 */
  const char *password;          /* AUTH after connecting when set */
  uint32_t connect_timeout_ms;   /* resolve + connect + AUTH/SELECT */
  uint32_t timeout_ms;           /* default deadline of a command */
  uint32_t stall_ms;             /* an abandoned command unanswered this long
                                    closes the connection (0: 4 x timeout) */
  uint32_t max_inflight;         /* commands waiting for replies (0: 4096) */
  uint32_t max_fails;            /* failures in a row that open the breaker
                                    (0: never) */
  uint32_t fail_timeout_ms;      /* how long the breaker stays open */
  uint32_t backoff_min_ms;       /* first reconnect delay (0: 50) */
  uint32_t backoff_max_ms;       /* longest reconnect delay (0: 2000) */
  bool unref;                    /* its handles do not keep the loop running
                                    (a server's loops stop when their clients
                                    have gone, whatever Redis does) */
} rs_redis_opts_t;

/* A command's answer: status 0 with the reply (which may be an error reply:
 * reply->type == REDIS_REPLY_ERROR), or status < 0 (RS_REDIS_E*) and NULL.
 * The reply is freed after the callback returns. Called exactly once per
 * accepted command, never from inside rs_redis_cmd. */
typedef void (*rs_redis_cb)(rs_redis_t *r, void *data, const redisReply *reply, int status);

/* Subscriber mode: every published message on a subscribed channel. */
typedef void (*rs_redis_msg_cb)(rs_redis_t *r, void *data, const char *channel, size_t clen,
                                const char *msg, size_t mlen);
/* The connection became ready (after AUTH, SELECT and, in subscriber mode,
 * SUBSCRIBE): the first time and after every reconnection. */
typedef void (*rs_redis_ready_cb)(rs_redis_t *r, void *data);

typedef struct {
  uint64_t commands;             /* accepted */
  uint64_t replies;              /* delivered to a callback */
  uint64_t timeouts;
  uint64_t failures;             /* EDOWN, ERESET, EBREAKER, EFULL */
  uint64_t connects;             /* connections made ready */
  uint64_t disconnects;
  uint64_t late_replies;         /* dropped: their command had timed out */
  uint64_t breaker_trips;        /* times the breaker opened */
} rs_redis_stats_t;

/* A client on loop; it connects at once and keeps reconnecting. The strings
 * of opts are copied. NULL when out of memory. */
rs_redis_t *rs_redis_new(uv_loop_t *loop, const rs_redis_opts_t *opts);

/* Subscriber mode, before the first connection is ready (right after
 * rs_redis_new): SUBSCRIBE to these channels on every connection; on_msg gets
 * the messages, on_ready (may be NULL) each time the subscription holds.
 * A subscriber sends no other command. */
void rs_redis_subscribe(rs_redis_t *r, const char *const *channels, size_t n,
                        rs_redis_msg_cb on_msg, rs_redis_ready_cb on_ready, void *data);

/* Called each time a (non-subscriber) connection becomes ready; may be NULL. */
void rs_redis_on_ready(rs_redis_t *r, rs_redis_ready_cb on_ready, void *data);

/* Send a command (argv/argvlen as hiredis's redisFormatCommandArgv; argvlen
 * NULL means strlen). timeout_ms 0 takes opts.timeout_ms. Returns 0 when
 * accepted (cb will be called later, exactly once), or RS_REDIS_E* without
 * calling cb. */
int rs_redis_cmd(rs_redis_t *r, rs_redis_cb cb, void *data, uint32_t timeout_ms, int argc,
                 const char **argv, const size_t *argvlen);

/* True while commands can be sent (connected, AUTH/SELECT done, breaker
 * closed). */
bool rs_redis_ready(const rs_redis_t *r);

const rs_redis_stats_t *rs_redis_stats(const rs_redis_t *r);

/* True while the breaker is open (max_fails failures in a row, for
 * fail_timeout_ms). A racy read from another thread is fine (a metric). */
bool rs_redis_breaker_open(const rs_redis_t *r);

/* Stop: every command waiting is answered RS_REDIS_ECLOSED before this
 * returns, the handles close, and the client frees itself once they have
 * (a later turn of the loop). Safe from inside a callback. */
void rs_redis_close(rs_redis_t *r);

/* The name of an RS_REDIS_E* status, for logs. */
const char *rs_redis_strerror(int status);

#endif
