/* tests/unit/test_redis.c — core/fleet/rs_redis.c against a real
 * redis-server (Debian's, installed by scripts/setup) that this test starts
 * on a free port of 127.0.0.1: replies in order, AUTH and SELECT, deadlines,
 * a stalled server, reconnection, pub/sub across a restart, the breaker, and
 * closing from inside a callback. Waits poll with generous limits; nothing
 * asserts a speed. */
#include "tap.h"

#include "rs_redis.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

static char tmpdir[] = "/tmp/rs-test-redis-XXXXXX";

#include "redis_server.h"

/* Run the loop until *flag or ms pass; true when the flag came. */
static bool run_until(uv_loop_t *loop, const int *flag, int want, uint64_t ms) {
  uint64_t end = uv_now(loop) + ms;
  uv_timer_t guard;
  uv_timer_init(loop, &guard);
  while (*flag < want && uv_now(loop) < end) {
    uv_timer_start(&guard, (uv_timer_cb)(void (*)(void))uv_timer_stop, 10, 0);
    uv_run(loop, UV_RUN_ONCE);
    uv_update_time(loop);
  }
  uv_close((uv_handle_t *)&guard, NULL);
  uv_run(loop, UV_RUN_NOWAIT);
  return *flag >= want;
}

static void drain(uv_loop_t *loop) {
  for (int i = 0; i < 100 && uv_run(loop, UV_RUN_NOWAIT) != 0; i++) usleep(1000);
}

/* ---------------------------------------------------------------- replies */

typedef struct {
  int n;                         /* callbacks */
  int status;                    /* the last one's */
  int type;
  long long integer;
  char str[256];
  long long order[2048];
} got_t;

static void on_reply(rs_redis_t *r, void *data, const redisReply *reply, int status) {
  (void)r;
  got_t *g = data;
  g->status = status;
  g->type = reply ? reply->type : -1;
  g->str[0] = 0;
  if (reply && (reply->type == REDIS_REPLY_STRING || reply->type == REDIS_REPLY_STATUS ||
                reply->type == REDIS_REPLY_ERROR))
    snprintf(g->str, sizeof(g->str), "%.*s", (int)reply->len, reply->str);
  if (reply && reply->type == REDIS_REPLY_INTEGER) g->integer = reply->integer;
  if (g->n < 2048) g->order[g->n] = reply && reply->type == REDIS_REPLY_INTEGER ? reply->integer : -1;
  g->n++;
}

static int ready_count;
static void on_ready(rs_redis_t *r, void *data) {
  (void)r;
  (void)data;
  ready_count++;
}

static rs_redis_opts_t opts(int port) {
  return (rs_redis_opts_t){ .host = "127.0.0.1", .port = port, .timeout_ms = 1000, .connect_timeout_ms = 1000,
                            .backoff_min_ms = 20, .backoff_max_ms = 100 };
}

static int cmd(rs_redis_t *r, got_t *g, uint32_t timeout, const char *a0, const char *a1, const char *a2) {
  const char *argv[3] = { a0, a1, a2 };
  return rs_redis_cmd(r, on_reply, g, timeout, a2 ? 3 : a1 ? 2 : 1, argv, NULL);
}

static void test_commands_in_order(void) {
  uv_loop_t loop;
  uv_loop_init(&loop);
  int port = free_port();
  pid_t pid = redis_start(port, NULL);
  ASSERT(pid > 0);
  rs_redis_opts_t o = opts(port);
  rs_redis_t *r = rs_redis_new(&loop, &o);
  ready_count = 0;
  rs_redis_on_ready(r, on_ready, NULL);
  got_t g = { 0 };
  ASSERT_EQ(cmd(r, &g, 0, "PING", NULL, NULL), RS_REDIS_EDOWN);   /* not yet connected: at once */
  ASSERT_EQ(g.n, 0);                                               /* and no callback */
  ASSERT(run_until(&loop, &ready_count, 1, 5000));
  ASSERT(rs_redis_ready(r));
  ASSERT_EQ(cmd(r, &g, 0, "SET", "k", "v\r\n\0x"), 0);
  ASSERT(run_until(&loop, &g.n, 1, 5000));
  ASSERT_EQ(g.status, 0);
  ASSERT_STR_EQ(g.str, "OK");
  ASSERT_EQ(cmd(r, &g, 0, "GET", "k", NULL), 0);
  ASSERT(run_until(&loop, &g.n, 2, 5000));
  ASSERT_EQ(g.type, REDIS_REPLY_STRING);
  ASSERT_STR_EQ(g.str, "v\r\n");                                   /* strlen stops at the NUL */
  /* A binary value with explicit lengths. */
  const char *argv[3] = { "SET", "bin", "a\0b" };
  size_t lens[3] = { 3, 3, 3 };
  ASSERT_EQ(rs_redis_cmd(r, on_reply, &g, 0, 3, argv, lens), 0);
  const char *sargv[2] = { "STRLEN", "bin" };
  ASSERT_EQ(rs_redis_cmd(r, on_reply, &g, 0, 2, sargv, NULL), 0);
  ASSERT(run_until(&loop, &g.n, 4, 5000));
  ASSERT_EQ(g.integer, 3);
  /* 1,000 pipelined commands: replies in send order. */
  got_t p = { 0 };
  for (int i = 0; i < 1000; i++) ASSERT_EQ(cmd(r, &p, 0, "INCR", "ctr", NULL), 0);
  ASSERT(run_until(&loop, &p.n, 1000, 10000));
  for (int i = 0; i < 1000; i++) ASSERT_EQ(p.order[i], i + 1);
  /* An error reply is a reply. */
  ASSERT_EQ(cmd(r, &g, 0, "NOSUCHCOMMAND", NULL, NULL), 0);
  ASSERT(run_until(&loop, &g.n, 5, 5000));
  ASSERT_EQ(g.status, 0);
  ASSERT_EQ(g.type, REDIS_REPLY_ERROR);
  ASSERT_EQ(rs_redis_stats(r)->replies, 1005);
  rs_redis_close(r);
  drain(&loop);
  ASSERT_EQ(uv_loop_close(&loop), 0);
  redis_stop(pid);
}

static void test_auth_and_select(void) {
  uv_loop_t loop;
  uv_loop_init(&loop);
  int port = free_port();
  pid_t pid = redis_start(port, "s3cret");
  ASSERT(pid > 0);
  rs_redis_opts_t o = opts(port);
  o.password = "s3cret";
  o.db = 3;
  rs_redis_t *a = rs_redis_new(&loop, &o);
  o.db = 0;
  rs_redis_t *b = rs_redis_new(&loop, &o);
  o.password = "wrong";
  rs_redis_t *bad = rs_redis_new(&loop, &o);
  ready_count = 0;
  rs_redis_on_ready(a, on_ready, NULL);
  rs_redis_on_ready(b, on_ready, NULL);
  rs_redis_on_ready(bad, on_ready, NULL);
  ASSERT(run_until(&loop, &ready_count, 2, 5000));
  got_t g = { 0 };
  ASSERT_EQ(cmd(a, &g, 0, "SET", "x", "in-db-3"), 0);
  ASSERT(run_until(&loop, &g.n, 1, 5000));
  ASSERT_EQ(cmd(b, &g, 0, "GET", "x", NULL), 0);
  ASSERT(run_until(&loop, &g.n, 2, 5000));
  ASSERT_EQ(g.type, REDIS_REPLY_NIL);               /* db 0 does not see db 3's key */
  ASSERT_EQ(cmd(a, &g, 0, "GET", "x", NULL), 0);
  ASSERT(run_until(&loop, &g.n, 3, 5000));
  ASSERT_STR_EQ(g.str, "in-db-3");
  /* The wrong password never becomes ready: its commands fail at once. */
  int never = 0;
  run_until(&loop, &never, 1, 300);
  ASSERT_EQ(ready_count, 2);
  ASSERT(!rs_redis_ready(bad));
  ASSERT_EQ(cmd(bad, &g, 0, "PING", NULL, NULL), RS_REDIS_EDOWN);
  rs_redis_close(a);
  rs_redis_close(b);
  rs_redis_close(bad);
  drain(&loop);
  ASSERT_EQ(uv_loop_close(&loop), 0);
  redis_stop(pid);
}

static void test_deadline_and_late_reply(void) {
  uv_loop_t loop;
  uv_loop_init(&loop);
  int port = free_port();
  pid_t pid = redis_start(port, NULL);
  ASSERT(pid > 0);
  rs_redis_opts_t o = opts(port);
  o.stall_ms = 10000;                            /* this test keeps the connection */
  rs_redis_t *r = rs_redis_new(&loop, &o);
  ready_count = 0;
  rs_redis_on_ready(r, on_ready, NULL);
  ASSERT(run_until(&loop, &ready_count, 1, 5000));
  got_t slow = { 0 }, fast = { 0 };
  ASSERT_EQ(cmd(r, &slow, 5000, "DEBUG", "SLEEP", "0.5"), 0);
  ASSERT_EQ(cmd(r, &fast, 50, "PING", NULL, NULL), 0);
  uint64_t t0 = uv_now(&loop);
  ASSERT(run_until(&loop, &fast.n, 1, 5000));
  ASSERT_EQ(fast.status, RS_REDIS_ETIMEDOUT);    /* answered at its deadline, not at the sleep's end */
  ASSERT(uv_now(&loop) - t0 < 450);
  ASSERT_EQ(slow.n, 0);
  ASSERT(run_until(&loop, &slow.n, 1, 5000));
  ASSERT_EQ(slow.status, 0);
  ASSERT_STR_EQ(slow.str, "OK");
  got_t after = { 0 };
  ASSERT_EQ(cmd(r, &after, 0, "ECHO", "still in order", NULL), 0);
  ASSERT(run_until(&loop, &after.n, 1, 5000));
  ASSERT_STR_EQ(after.str, "still in order");     /* the late PONG was dropped, not given to ECHO */
  ASSERT_EQ(fast.n, 1);                           /* and the timed-out callback ran once */
  ASSERT_EQ(rs_redis_stats(r)->late_replies, 1);
  ASSERT_EQ(rs_redis_stats(r)->timeouts, 1);
  rs_redis_close(r);
  drain(&loop);
  ASSERT_EQ(uv_loop_close(&loop), 0);
  redis_stop(pid);
}

static void test_stalled_server_breaker_and_reconnect(void) {
  uv_loop_t loop;
  uv_loop_init(&loop);
  int port = free_port();
  pid_t pid = redis_start(port, NULL);
  ASSERT(pid > 0);
  rs_redis_opts_t o = opts(port);
  o.stall_ms = 300;
  o.max_fails = 2;
  o.fail_timeout_ms = 60000;
  rs_redis_t *r = rs_redis_new(&loop, &o);
  ready_count = 0;
  rs_redis_on_ready(r, on_ready, NULL);
  ASSERT(run_until(&loop, &ready_count, 1, 5000));
  kill(pid, SIGSTOP);                            /* the server hangs: clients must not */
  got_t g = { 0 };
  ASSERT_EQ(cmd(r, &g, 30, "PING", NULL, NULL), 0);
  ASSERT_EQ(cmd(r, &g, 30, "PING", NULL, NULL), 0);
  ASSERT(run_until(&loop, &g.n, 2, 5000));
  ASSERT_EQ(g.status, RS_REDIS_ETIMEDOUT);
  ASSERT_EQ(cmd(r, &g, 30, "PING", NULL, NULL), RS_REDIS_EBREAKER);   /* two failures in a row */
  ASSERT(rs_redis_breaker_open(r));
  ASSERT_EQ(rs_redis_stats(r)->breaker_trips, 1);
  /* The stalled connection is dropped after stall_ms and made again once
   * the server answers; a ready connection closes the breaker. */
  int down = 0;
  while (rs_redis_stats(r)->disconnects == 0 && down++ < 300) run_until(&loop, &down, 1 << 30, 10);
  ASSERT_EQ(rs_redis_stats(r)->disconnects, 1);
  kill(pid, SIGCONT);
  ASSERT(run_until(&loop, &ready_count, 2, 5000));
  ASSERT_EQ(cmd(r, &g, 0, "PING", NULL, NULL), 0);
  ASSERT(run_until(&loop, &g.n, 3, 5000));
  ASSERT_STR_EQ(g.str, "PONG");
  ASSERT(!rs_redis_breaker_open(r));
  /* A server that goes away: commands in flight get ERESET, new ones EDOWN
   * at once; a server back on the port is found again. */
  ASSERT_EQ(cmd(r, &g, 5000, "DEBUG", "SLEEP", "0.2"), 0);
  redis_stop(pid);
  ASSERT(run_until(&loop, &g.n, 4, 5000));
  ASSERT_EQ(g.status, RS_REDIS_ERESET);
  ASSERT_EQ(cmd(r, &g, 0, "PING", NULL, NULL), RS_REDIS_EDOWN);
  pid = redis_start(port, NULL);
  ASSERT(pid > 0);
  ASSERT(run_until(&loop, &ready_count, 3, 5000));
  ASSERT_EQ(cmd(r, &g, 0, "PING", NULL, NULL), 0);
  ASSERT(run_until(&loop, &g.n, 5, 5000));
  ASSERT_STR_EQ(g.str, "PONG");
  rs_redis_close(r);
  drain(&loop);
  ASSERT_EQ(uv_loop_close(&loop), 0);
  redis_stop(pid);
}

typedef struct {
  int n;
  char last[64];
} msgs_t;

static void on_msg(rs_redis_t *r, void *data, const char *ch, size_t clen, const char *m, size_t mlen) {
  (void)r;
  msgs_t *g = data;
  snprintf(g->last, sizeof(g->last), "%.*s=%.*s", (int)clen, ch, (int)mlen, m);
  g->n++;
}

static msgs_t *sub_msgs;
static void on_sub_ready(rs_redis_t *r, void *data) {
  (void)r;
  sub_msgs = data;
  ready_count++;
}

static void test_subscribe_across_a_restart(void) {
  uv_loop_t loop;
  uv_loop_init(&loop);
  int port = free_port();
  pid_t pid = redis_start(port, NULL);
  ASSERT(pid > 0);
  rs_redis_opts_t o = opts(port);
  msgs_t m = { 0 };
  rs_redis_t *sub = rs_redis_new(&loop, &o);
  const char *chans[] = { "rs:purge", "rs:done" };
  rs_redis_subscribe(sub, chans, 2, on_msg, on_sub_ready, &m);
  rs_redis_t *pub = rs_redis_new(&loop, &o);
  ready_count = 0;
  rs_redis_on_ready(pub, on_ready, NULL);
  ASSERT(run_until(&loop, &ready_count, 2, 5000));   /* both: the subscriber counts once subscribed */
  ASSERT(sub_msgs == &m);
  got_t g = { 0 };
  ASSERT_EQ(cmd(sub, &g, 0, "PING", NULL, NULL), RS_REDIS_EPROTO);   /* a subscriber sends nothing else */
  ASSERT_EQ(cmd(pub, &g, 0, "PUBLISH", "rs:purge", "7 all"), 0);
  ASSERT(run_until(&loop, &m.n, 1, 5000));
  ASSERT_STR_EQ(m.last, "rs:purge=7 all");
  ASSERT_EQ(g.integer, 1);                           /* one subscriber heard it */
  ASSERT_EQ(cmd(pub, &g, 0, "PUBLISH", "rs:done", "abc"), 0);
  ASSERT(run_until(&loop, &m.n, 2, 5000));
  ASSERT_STR_EQ(m.last, "rs:done=abc");
  redis_stop(pid);
  pid = redis_start(port, NULL);
  ASSERT(pid > 0);
  ASSERT(run_until(&loop, &ready_count, 4, 5000));   /* both again, the subscription renewed */
  ASSERT_EQ(cmd(pub, &g, 0, "PUBLISH", "rs:purge", "8 key"), 0);
  ASSERT(run_until(&loop, &m.n, 3, 5000));
  ASSERT_STR_EQ(m.last, "rs:purge=8 key");
  rs_redis_close(sub);
  rs_redis_close(pub);
  drain(&loop);
  ASSERT_EQ(uv_loop_close(&loop), 0);
  redis_stop(pid);
}

/* Closing from inside a reply callback answers the rest ECLOSED. */
static rs_redis_t *closing_r;
static got_t closing_rest;
static void close_on_reply(rs_redis_t *r, void *data, const redisReply *reply, int status) {
  on_reply(r, data, reply, status);
  rs_redis_close(r);
  ASSERT_EQ(cmd(r, &closing_rest, 0, "PING", NULL, NULL), RS_REDIS_ECLOSED);
}

static void test_close_inside_a_callback_and_refused(void) {
  uv_loop_t loop;
  uv_loop_init(&loop);
  int port = free_port();
  pid_t pid = redis_start(port, NULL);
  ASSERT(pid > 0);
  rs_redis_opts_t o = opts(port);
  closing_r = rs_redis_new(&loop, &o);
  ready_count = 0;
  rs_redis_on_ready(closing_r, on_ready, NULL);
  ASSERT(run_until(&loop, &ready_count, 1, 5000));
  got_t first = { 0 };
  memset(&closing_rest, 0, sizeof(closing_rest));
  const char *argv[1] = { "PING" };
  ASSERT_EQ(rs_redis_cmd(closing_r, close_on_reply, &first, 0, 1, argv, NULL), 0);
  for (int i = 0; i < 5; i++) ASSERT_EQ(cmd(closing_r, &closing_rest, 0, "PING", NULL, NULL), 0);
  ASSERT(run_until(&loop, &closing_rest.n, 5, 5000));
  ASSERT_EQ(first.n, 1);
  ASSERT_EQ(closing_rest.status, RS_REDIS_ECLOSED);
  drain(&loop);
  redis_stop(pid);
  /* Nobody on the port: commands fail at once, forever, and close is clean. */
  rs_redis_t *r = rs_redis_new(&loop, &o);
  int never = 0;
  run_until(&loop, &never, 1, 300);
  got_t g = { 0 };
  ASSERT_EQ(cmd(r, &g, 0, "PING", NULL, NULL), RS_REDIS_EDOWN);
  ASSERT_EQ(g.n, 0);
  rs_redis_close(r);
  drain(&loop);
  ASSERT_EQ(uv_loop_close(&loop), 0);
}

int main(void) {
  signal(SIGPIPE, SIG_IGN);
  if (mkdtemp(tmpdir) == NULL) return 1;
  RS_TEST(test_commands_in_order);
  RS_TEST(test_auth_and_select);
  RS_TEST(test_deadline_and_late_reply);
  RS_TEST(test_stalled_server_breaker_and_reconnect);
  RS_TEST(test_subscribe_across_a_restart);
  RS_TEST(test_close_inside_a_callback_and_refused);
  rmdir(tmpdir);
  RS_TEST_DONE();
}
