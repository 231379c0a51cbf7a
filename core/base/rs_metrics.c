/* core/base/rs_metrics.c — see rs_metrics.h. */
#include "rs_metrics.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#define RS__MAX_COLLECTORS 32

static struct {
  const char *name;
  rs_metrics_collect_fn fn;
  void *ud;
} rs__collectors[RS__MAX_COLLECTORS];
static int rs__ncollectors;

int rs_metrics_register(const char *name, rs_metrics_collect_fn fn, void *ud) {
  if (rs__ncollectors == RS__MAX_COLLECTORS) return -ENOSPC;
  rs__collectors[rs__ncollectors].name = name;
  rs__collectors[rs__ncollectors].fn = fn;
  rs__collectors[rs__ncollectors].ud = ud;
  rs__ncollectors++;
  return 0;
}

void rs_metrics_reset(void) { rs__ncollectors = 0; }

void rs_metrics_render(rs_buf_t *out) {
  for (int i = 0; i < rs__ncollectors; i++) rs__collectors[i].fn(out, rs__collectors[i].ud);
}

void rs_metrics_family(rs_buf_t *out, const char *name, const char *type, const char *help) {
  rs_buf_printf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* ------------------------------------------------------------------ process_* */

/* The fields of /proc/self/stat after the command name, 1-based as in
 * proc(5) minus 2 (field 3, state, is f[0]). */
static int rs__proc_stat(unsigned long long *f, int n) {
  char buf[1024];
  FILE *fp = fopen("/proc/self/stat", "re");
  if (fp == NULL) return -1;
  size_t len = fread(buf, 1, sizeof(buf) - 1, fp);
  fclose(fp);
  buf[len] = '\0';
  char *p = strrchr(buf, ')');  /* the name may hold spaces and parentheses */
  if (p == NULL) return -1;
  p += 2;
  for (int i = 0; i < n; i++) {
    while (*p == ' ') p++;
    if (*p == '\0') return -1;
    f[i] = strtoull(p, &p, 10); /* the state letter parses as 0 */
    if (i == 0) while (*p && *p != ' ') p++;
  }
  return 0;
}

static unsigned long long rs__boot_time(void) {
  FILE *fp = fopen("/proc/stat", "re");
  if (fp == NULL) return 0;
  char line[256];
  unsigned long long bt = 0;
  while (fgets(line, sizeof(line), fp) != NULL)
    if (sscanf(line, "btime %llu", &bt) == 1) break;
  fclose(fp);
  return bt;
}

static long rs__open_fds(void) {
  DIR *d = opendir("/proc/self/fd");
  if (d == NULL) return -1;
  long n = 0;
  struct dirent *e;
  while ((e = readdir(d)) != NULL)
    if (e->d_name[0] != '.') n++;
  closedir(d);
  return n - 1;                  /* the directory's own fd */
}

void rs_metrics_process(rs_buf_t *out, void *ud) {
  (void)ud;
  /* proc(5): utime 14, stime 15, num_threads 20, starttime 22, vsize 23, rss 24. */
  unsigned long long f[23];
  double tck = (double)sysconf(_SC_CLK_TCK);
  if (rs__proc_stat(f, 23) == 0 && tck > 0) {
    rs_metrics_family(out, "process_cpu_seconds_total", "counter", "User and system CPU time spent in seconds.");
    rs_buf_printf(out, "process_cpu_seconds_total %.2f\n", (double)(f[11] + f[12]) / tck);
    rs_metrics_family(out, "process_resident_memory_bytes", "gauge", "Resident memory size in bytes.");
    rs_buf_printf(out, "process_resident_memory_bytes %llu\n", f[21] * (unsigned long long)sysconf(_SC_PAGESIZE));
    rs_metrics_family(out, "process_virtual_memory_bytes", "gauge", "Virtual memory size in bytes.");
    rs_buf_printf(out, "process_virtual_memory_bytes %llu\n", f[20]);
    rs_metrics_family(out, "process_threads", "gauge", "Threads of the process.");
    rs_buf_printf(out, "process_threads %llu\n", f[17]);
    rs_metrics_family(out, "process_start_time_seconds", "gauge",
                      "Start time of the process since unix epoch in seconds.");
    rs_buf_printf(out, "process_start_time_seconds %.2f\n", (double)rs__boot_time() + (double)f[19] / tck);
  }
  long fds = rs__open_fds();
  if (fds >= 0) {
    rs_metrics_family(out, "process_open_fds", "gauge", "Number of open file descriptors.");
    rs_buf_printf(out, "process_open_fds %ld\n", fds);
  }
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
    rs_metrics_family(out, "process_max_fds", "gauge", "Maximum number of open file descriptors.");
    rs_buf_printf(out, "process_max_fds %llu\n", (unsigned long long)rl.rlim_cur);
  }
}

void rs_metrics_label(rs_buf_t *out, const char *s, size_t n) {
  for (size_t i = 0; i < n; i++) {
    if (s[i] == '"' || s[i] == '\\') rs_buf_append(out, "\\", 1);
    if (s[i] == '\n') {
      rs_buf_append(out, "\\n", 2);
      continue;
    }
    rs_buf_append(out, s + i, 1);
  }
}
