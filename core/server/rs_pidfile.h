/* core/server/rs_pidfile.h — the pid file (ssr.config { pid = "..." }), in nginx's
 * manner: written at start, removed at exit, read by `rustyssr -s SIGNAL`.
 * Main thread only. */
#ifndef RS_PIDFILE_H
#define RS_PIDFILE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* The pid written in path. Returns 0, -errno when it cannot be read, or
 * -EINVAL when it does not hold one positive decimal number (and a newline). */
int rs_pidfile_read(const char *path, pid_t *pid);

/* True when pid is a live rustyssr process other than this one. */
bool rs_pidfile_alive(pid_t pid);

/* Write this process's pid to path (a temporary file renamed over it, so a
 * reader never sees half a number). An existing file naming a live
 * rustyssr is an error (-EEXIST, err says which pid); one naming anything
 * else is stale: it is replaced and *stale gets its pid (0 when there was
 * none). Returns 0 or a negative errno with err set. */
int rs_pidfile_create(const char *path, pid_t *stale, char *err, size_t errlen);

/* Remove path if it still holds this process's pid (a newer instance may
 * have taken it over). */
void rs_pidfile_remove(const char *path);

#endif
