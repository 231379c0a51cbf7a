/* core/server/rs_pidfile.c — see rs_pidfile.h. */
#include "rs_pidfile.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int rs_pidfile_read(const char *path, pid_t *pid) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -errno;
  char buf[32];
  ssize_t n = read(fd, buf, sizeof(buf) - 1);
  int e = errno;
  close(fd);
  if (n < 0) return -e;
  buf[n] = '\0';
  char *end;
  errno = 0;
  long v = strtol(buf, &end, 10);
  if (errno != 0 || end == buf || v <= 0 || v > (long)0x3fffffff || (*end != '\0' && strcmp(end, "\n") != 0))
    return -EINVAL;
  *pid = (pid_t)v;
  return 0;
}

bool rs_pidfile_alive(pid_t pid) {
  if (pid == getpid()) return false;
  if (kill(pid, 0) != 0 && errno != EPERM) return false;
  /* A live pid may have been reused by another program since. */
  char path[64], comm[32] = "";
  snprintf(path, sizeof(path), "/proc/%ld/comm", (long)pid);
  FILE *f = fopen(path, "re");
  if (f == NULL) return true;    /* no /proc: trust the signal check */
  bool ours = fgets(comm, sizeof(comm), f) != NULL && strncmp(comm, "rustyssr", 8) == 0;
  fclose(f);
  return ours;
}

int rs_pidfile_create(const char *path, pid_t *stale, char *err, size_t errlen) {
  *stale = 0;
  pid_t old;
  if (rs_pidfile_read(path, &old) == 0) {
    if (rs_pidfile_alive(old)) {
      snprintf(err, errlen, "pid file %s: rustyssr is already running as pid %ld", path, (long)old);
      return -EEXIST;
    }
    *stale = old;
  }
  size_t n = strlen(path) + 16;
  char *tmp = malloc(n);
  if (tmp == NULL) abort();
  snprintf(tmp, n, "%s.%ld", path, (long)getpid());
  int rc = 0;
  int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) {
    rc = -errno;
  } else {
    char buf[32];
    int len = snprintf(buf, sizeof(buf), "%ld\n", (long)getpid());
    if (write(fd, buf, (size_t)len) != len) rc = errno ? -errno : -EIO;
    if (close(fd) != 0 && rc == 0) rc = -errno;
    if (rc == 0 && rename(tmp, path) != 0) rc = -errno;
    if (rc != 0) unlink(tmp);
  }
  if (rc != 0) snprintf(err, errlen, "pid file %s: %s", path, strerror(-rc));
  free(tmp);
  return rc;
}

void rs_pidfile_remove(const char *path) {
  pid_t pid;
  if (rs_pidfile_read(path, &pid) == 0 && pid == getpid()) unlink(path);
}
