/* tests/unit/redis_server.h — a real redis-server (Debian's, installed by
 * scripts/setup) on a free port of 127.0.0.1 for a unit test: started with
 * no persistence in the test's own folder, killed with the test if it dies
 * (PR_SET_PDEATHSIG). The including file defines `tmpdir` (a mkdtemp'd
 * folder). Used by test_redis.c and test_fleet.c. */
#ifndef RS_TEST_REDIS_SERVER_H
#define RS_TEST_REDIS_SERVER_H

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

static char tmpdir[];

static int free_port(void) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
  socklen_t len = sizeof(a);
  bind(fd, (struct sockaddr *)&a, sizeof(a));
  getsockname(fd, (struct sockaddr *)&a, &len);
  close(fd);
  return ntohs(a.sin_port);
}

static bool port_open(int port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                           .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
  bool ok = connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0;
  close(fd);
  return ok;
}

/* redis-server on port (with requirepass when pw), ready to accept. */
static pid_t redis_start(int port, const char *pw) {
  char p[16];
  snprintf(p, sizeof(p), "%d", port);
  pid_t pid = fork();
  if (pid == 0) {
    const char *argv[32];
    int n = 0;
    argv[n++] = "redis-server";
    argv[n++] = "--port"; argv[n++] = p;
    argv[n++] = "--bind"; argv[n++] = "127.0.0.1";
    argv[n++] = "--save"; argv[n++] = "";
    argv[n++] = "--appendonly"; argv[n++] = "no";
    argv[n++] = "--dir"; argv[n++] = tmpdir;
    argv[n++] = "--enable-debug-command"; argv[n++] = "local";
    argv[n++] = "--loglevel"; argv[n++] = "warning";
    if (pw) { argv[n++] = "--requirepass"; argv[n++] = pw; }
    argv[n] = NULL;
    int null = open("/dev/null", O_WRONLY);
    if (null >= 0) dup2(null, 1);
    prctl(PR_SET_PDEATHSIG, SIGKILL);            /* never outlives a test that died */
    execvp("redis-server", (char **)argv);
    fprintf(stderr, "# cannot run redis-server: %s (scripts/setup installs it)\n", strerror(errno));
    _exit(127);
  }
  for (int i = 0; i < 500; i++) {                /* up to 5 s */
    if (port_open(port)) return pid;
    int st;
    if (waitpid(pid, &st, WNOHANG) == pid) return -1;
    usleep(10000);
  }
  kill(pid, SIGKILL);
  waitpid(pid, NULL, 0);
  return -1;
}

static void redis_stop(pid_t pid) {
  if (pid <= 0) return;
  kill(pid, SIGCONT);
  kill(pid, SIGKILL);
  waitpid(pid, NULL, 0);
}

#endif
