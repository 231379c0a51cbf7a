/* core/base/rs_log.h — the leveled error log and the access log.
 *
 * Error log lines: "2026/11/24 01:02:03 [warn] 1234#2: message" (nginx's
 * shape: pid and the thread's index). Each line is one write(2), so lines
 * from several threads never interleave. Any thread may log. */
#ifndef RS_LOG_H
#define RS_LOG_H

#include "rs_common.h"
#include <stdarg.h>

typedef enum { RS_LOG_ERROR = 0, RS_LOG_WARN, RS_LOG_INFO, RS_LOG_DEBUG } rs_log_level_t;

/* Open the error log ("stderr" or a path, appended) at a level.
 * Returns 0 or a negative errno. Main thread, before threads start. */
int rs_log_open(const char *path, rs_log_level_t level);
/* Open the access log; path NULL turns it off. Returns 0 or -errno. */
int rs_log_access_open(const char *path);
void rs_log_close(void);
/* Reopen the log files by their paths (logrotate renamed them: SIGUSR1).
 * stderr/stdout are left alone. Returns 0, or a negative errno with
 * *failed set to the path that could not be opened (that log keeps
 * writing to its old file). Main thread; loop threads may log meanwhile. */
int rs_log_reopen(const char **failed);

/* The calling thread's index printed after the pid ("#0" = main). */
void rs_log_set_thread(int index);

extern rs_log_level_t rs_log_level;

void rs_log_write(rs_log_level_t level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void rs_log_vwrite(rs_log_level_t level, const char *fmt, va_list ap);

#define rs_log_error(...) rs_log_write(RS_LOG_ERROR, __VA_ARGS__)
#define rs_log_warn(...)                                              \
  do { if (rs_log_level >= RS_LOG_WARN) rs_log_write(RS_LOG_WARN, __VA_ARGS__); } while (0)
#define rs_log_info(...)                                              \
  do { if (rs_log_level >= RS_LOG_INFO) rs_log_write(RS_LOG_INFO, __VA_ARGS__); } while (0)
#define rs_log_debug(...)                                             \
  do { if (rs_log_level >= RS_LOG_DEBUG) rs_log_write(RS_LOG_DEBUG, __VA_ARGS__); } while (0)

/* True when the access log is on; the hot path checks it before formatting. */
bool rs_log_access_on(void);
/* Write one access line (already formatted, ending in '\n'). */
void rs_log_access_write(const char *line, size_t len);

/* More access logs: file 0 is the one above (log.access), 1 up to
 * RS_LOG_ACCESS_FILES - 1 the listeners' own (servers = { NAME = {
 * access_log = ... } }). The same calls per file; rs_log_reopen and
 * rs_log_close take them all. Open: main thread, before the loops start. */
#define RS_LOG_ACCESS_FILES 16
int rs_log_access_open_file(int file, const char *path);
bool rs_log_access_file_on(int file);
bool rs_log_access_any_on(void);
void rs_log_access_write_file(int file, const char *line, size_t len);

#endif
