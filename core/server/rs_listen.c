/* core/server/rs_listen.c — see rs_listen.h. */
#define _GNU_SOURCE 1 /* accept4 */
#include "rs_listen.h"

#include "rs_conn.h"
#include "rs_log.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

/* ------------------------------------------------------------------ the socket */

int rs_listen_socket(const rs_addr_t *addr, int backlog, bool reuseport, int *port_out) {
  struct sockaddr_storage ss;
  socklen_t slen;
  memset(&ss, 0, sizeof(ss));
  int family = strchr(addr->host, ':') ? AF_INET6 : AF_INET;
  if (family == AF_INET6) {
    struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
    a->sin6_family = AF_INET6;
    a->sin6_port = htons((uint16_t)addr->port);
    if (inet_pton(AF_INET6, addr->host, &a->sin6_addr) != 1) return -EINVAL;
    slen = sizeof(*a);
  } else {
    struct sockaddr_in *a = (struct sockaddr_in *)&ss;
    a->sin_family = AF_INET;
    a->sin_port = htons((uint16_t)addr->port);
    if (inet_pton(AF_INET, addr->host, &a->sin_addr) != 1) return -EINVAL;
    slen = sizeof(*a);
  }
  int fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return -errno;
  int one = 1;
  /* Debian's libuv 1.44 has no UV_TCP_REUSEPORT: set it on the raw fd
   * before bind, then hand the fd to uv_tcp_open on the owning loop. */
  if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
      (reuseport && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) != 0) ||
      (family == AF_INET6 && setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) != 0)) {
    int e = -errno;
    close(fd);
    return e;
  }
  if (bind(fd, (struct sockaddr *)&ss, slen) != 0 || listen(fd, backlog) != 0) {
    int e = -errno;
    close(fd);
    return e;
  }
  if (port_out != NULL) {
    slen = sizeof(ss);
    getsockname(fd, (struct sockaddr *)&ss, &slen);
    *port_out = ntohs(family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                         : ((struct sockaddr_in *)&ss)->sin_port);
  }
  return fd;
}

/* ------------------------------------------------------------------ accepting */

#define RS__XSTR(x) #x
#define RS__STR(x) RS__XSTR(x)
#define RS__PAUSE_TEXT RS__STR(RS_ACCEPT_PAUSE_MS) " ms"

static rs_accept_error_t rs__accept_reason(int err) {
  switch (err) {
    case EMFILE: return RS_ACCEPT_E_EMFILE;
    case ENFILE: return RS_ACCEPT_E_ENFILE;
    case ENOBUFS: case ENOMEM: return RS_ACCEPT_E_NOMEM;
    default: return RS_ACCEPT_E_OTHER;
  }
}

static void rs__on_listen_ready(uv_poll_t *p, int status, int events);

/* The end of an accept pause: poll the listeners again. The connections
 * that arrived meanwhile waited in the backlog. Loop thread. */
static void rs__accept_resume(uv_timer_t *t) {
  rs_loop_t *loop = t->data;
  loop->accept_paused = false;
  if (loop->draining) return;
  for (int k = 0; k < loop->nlsn; k++) {
    rs_listener_t *l = &loop->lsn[k];
    if (!l->open || !l->paused) continue;
    l->paused = false;
    uv_poll_start(&l->poll, UV_READABLE, rs__on_listen_ready);
  }
}

/* accept(2) failed with err on l. Out of descriptors or kernel memory,
 * retrying at once only spins (the socket stays readable): stop polling
 * every listener of this loop for RS_ACCEPT_PAUSE_MS, as nginx does, while
 * its open connections are served and close, which is what frees
 * descriptors; the clients that arrive meanwhile wait in the backlog. One
 * log line per RS_ACCEPT_LOG_MS at most, with the count since the last. */
static void rs__accept_failed(rs_listener_t *l, int err, bool always_pause) {
  rs_loop_t *loop = l->loop;
  rs_accept_error_t why = rs__accept_reason(err);
  RS_COUNTER_ADD(loop->counters.accept_errors[why], 1);
  loop->accept_refused++;
  uint64_t now = rs_now_ms();
  bool pause = always_pause || why != RS_ACCEPT_E_OTHER;
  if (loop->accept_logged_ms == 0 || now - loop->accept_logged_ms >= RS_ACCEPT_LOG_MS) {
    struct rlimit rl = { 0, 0 };
    getrlimit(RLIMIT_NOFILE, &rl);
    rs_log_warn("loop %d: accept: %s (open files limit %llu, %zu connections on this loop): %llu "
                "failure%s since the last report%s", loop->index, strerror(err),
                (unsigned long long)rl.rlim_cur, loop->nconns, (unsigned long long)loop->accept_refused,
                loop->accept_refused == 1 ? "" : "s",
                pause ? "; not accepting for " RS__PAUSE_TEXT : "");
    loop->accept_logged_ms = now;
    loop->accept_refused = 0;
  }
  if (!pause) return;
  loop->accept_pauses++;
  for (int k = 0; k < loop->nlsn; k++) {   /* they draw on the same descriptors */
    rs_listener_t *o = &loop->lsn[k];
    if (!o->open || o->paused) continue;
    o->paused = true;
    uv_poll_stop(&o->poll);
  }
  if (!loop->accept_paused) {
    loop->accept_paused = true;
    uv_timer_start(&loop->accept_timer, rs__accept_resume, RS_ACCEPT_PAUSE_MS, 0);
  }
}

/* The listening socket is readable: accept what waits, a bounded batch per
 * turn so one busy listener cannot starve the loop's connections. */
static void rs__on_listen_ready(uv_poll_t *p, int status, int events) {
  (void)events;
  rs_listener_t *l = p->data;
  rs_loop_t *loop = l->loop;
  if (loop->draining || l->paused) return;
  if (status < 0) {              /* the poll itself failed: never spin on it */
    rs__accept_failed(l, -status, true);
    return;
  }
  for (int n = 0; n < 128; n++) {
    int fd = accept4(l->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      if (errno != EAGAIN && errno != EWOULDBLOCK) rs__accept_failed(l, errno, false);
      return;
    }
    if (loop->accept_pauses > 0) {
      rs_log_info("loop %d: accepting again after %llu pause%s", loop->index,
                  (unsigned long long)loop->accept_pauses, loop->accept_pauses == 1 ? "" : "s");
      loop->accept_pauses = 0;
      loop->accept_logged_ms = 0;
    }
    rs_conn_accept(loop, fd, l->server);
  }
}

void rs_listen_stop(rs_loop_t *loop) {
  for (int k = 0; k < loop->nlsn; k++) {
    rs_listener_t *l = &loop->lsn[k];
    if (l->open) {
      uv_close((uv_handle_t *)&l->poll, NULL);
      l->open = false;
    }
    l->paused = false;
    if (l->fd >= 0) close(l->fd);    /* the poll handle never owned it */
    l->fd = -1;
  }
  uv_timer_stop(&loop->accept_timer);
  loop->accept_paused = false;
}

int rs_listen_start(rs_loop_t *loop) {
  for (int k = 0; k < loop->nlsn; k++) {
    rs_listener_t *l = &loop->lsn[k];
    if (l->fd < 0) continue;
    int rc = uv_poll_init_socket(&loop->uv, &l->poll, l->fd);
    if (rc != 0) return rc;
    l->poll.data = l;
    l->open = true;
    rc = uv_poll_start(&l->poll, UV_READABLE, rs__on_listen_ready);
    if (rc != 0) return rc;
  }
  return 0;
}
