/* core/base/rs_log.c — see rs_log.h. */
#include "rs_log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

rs_log_level_t rs_log_level = RS_LOG_INFO;

static int rs__error_fd = 2;
/* The access logs: [0] = log.access, then listeners' own files. */
static int rs__access_fds[RS_LOG_ACCESS_FILES] = { [0 ... RS_LOG_ACCESS_FILES - 1] = -1 };
#define rs__access_fd rs__access_fds[0]
/* The files behind them, for rs_log_reopen (NULL for stderr/stdout/off). */
static char *rs__error_path, *rs__access_paths[RS_LOG_ACCESS_FILES];
static _Thread_local int rs__thread_index;

static const char *const rs__level_names[] = { "error", "warn", "info", "debug" };

static int rs__open(const char *path) {
  if (path == NULL || strcmp(path, "stderr") == 0) return 2;
  if (strcmp(path, "stdout") == 0) return 1;
  int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  return fd < 0 ? -errno : fd;
}

static void rs__set_path(char **slot, int fd, const char *path) {
  free(*slot);
  *slot = fd > 2 ? strdup(path) : NULL;
}

int rs_log_open(const char *path, rs_log_level_t level) {
  int fd = rs__open(path);
  if (fd < 0) return fd;
  if (rs__error_fd > 2) close(rs__error_fd);
  rs__error_fd = fd;
  rs__set_path(&rs__error_path, fd, path);
  rs_log_level = level;
  return 0;
}

int rs_log_access_open_file(int file, const char *path) {
  if (file < 0 || file >= RS_LOG_ACCESS_FILES) return -EINVAL;
  int fd = path == NULL ? -1 : rs__open(path);
  if (path != NULL && fd < 0) return fd;
  if (rs__access_fds[file] > 2) close(rs__access_fds[file]);
  rs__access_fds[file] = fd;
  rs__set_path(&rs__access_paths[file], fd, path);
  return 0;
}

int rs_log_access_open(const char *path) { return rs_log_access_open_file(0, path); }

/* Open path again and put the new file under the old descriptor number:
 * dup2 swaps it atomically, so a thread writing a line at that moment
 * writes it whole to the old file or to the new one. */
static int rs__reopen(int fd, const char *path) {
  if (path == NULL) return 0;
  int nfd = rs__open(path);
  if (nfd < 0) return nfd;
  int rc = dup2(nfd, fd) < 0 ? -errno : 0;
  close(nfd);
  return rc;
}

int rs_log_reopen(const char **failed) {
  int rc = rs__reopen(rs__error_fd, rs__error_path);
  if (rc != 0) {
    *failed = rs__error_path;
    return rc;
  }
  for (int i = 0; i < RS_LOG_ACCESS_FILES; i++) {
    rc = rs__reopen(rs__access_fds[i], rs__access_paths[i]);
    if (rc != 0) {
      *failed = rs__access_paths[i];
      return rc;
    }
  }
  return 0;
}

void rs_log_close(void) {
  if (rs__error_fd > 2) close(rs__error_fd);
  rs__error_fd = 2;
  rs__set_path(&rs__error_path, -1, NULL);
  for (int i = 0; i < RS_LOG_ACCESS_FILES; i++) {
    if (rs__access_fds[i] > 2) close(rs__access_fds[i]);
    rs__access_fds[i] = -1;
    rs__set_path(&rs__access_paths[i], -1, NULL);
  }
}

void rs_log_set_thread(int index) { rs__thread_index = index; }

bool rs_log_access_on(void) { return rs__access_fd >= 0; }
bool rs_log_access_any_on(void) {
  for (int i = 0; i < RS_LOG_ACCESS_FILES; i++)
    if (rs__access_fds[i] >= 0) return true;
  return false;
}
bool rs_log_access_file_on(int file) {
  return file >= 0 && file < RS_LOG_ACCESS_FILES && rs__access_fds[file] >= 0;
}

static void rs__write_all(int fd, const char *p, size_t n) {
  while (n > 0) {
    ssize_t w = write(fd, p, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      return; /* nowhere left to complain */
    }
    p += w;
    n -= (size_t)w;
  }
}

void rs_log_access_write(const char *line, size_t len) {
  if (rs__access_fd >= 0) rs__write_all(rs__access_fd, line, len);
}

void rs_log_access_write_file(int file, const char *line, size_t len) {
  if (file >= 0 && file < RS_LOG_ACCESS_FILES && rs__access_fds[file] >= 0)
    rs__write_all(rs__access_fds[file], line, len);
}

void rs_log_vwrite(rs_log_level_t level, const char *fmt, va_list ap) {
  char buf[4096];
  struct timeval tv;
  struct tm tm;
  gettimeofday(&tv, NULL);
  gmtime_r(&tv.tv_sec, &tm);
  int n = snprintf(buf, sizeof(buf), "%04d/%02d/%02d %02d:%02d:%02d [%s] %d#%d: ",
                   tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
                   tm.tm_sec, rs__level_names[level], (int)getpid(), rs__thread_index);
  if (n < 0) return;
  int m = vsnprintf(buf + n, sizeof(buf) - (size_t)n - 1, fmt, ap);
  if (m < 0) m = 0;
  size_t len = (size_t)n + RS_MIN((size_t)m, sizeof(buf) - (size_t)n - 2);
  buf[len++] = '\n';
  rs__write_all(rs__error_fd, buf, len);
}

void rs_log_write(rs_log_level_t level, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  rs_log_vwrite(level, fmt, ap);
  va_end(ap);
}
