/* core/base/rs_topo.h — the machine's cores (hwloc), thread pinning, names
 * and priorities. */
#ifndef RS_TOPO_H
#define RS_TOPO_H

#include "rs_common.h"

/* Load the topology once. Main thread, before threads start. Returns 0 or
 * -1 (then cores = 1 and pinning is a no-op that says so). */
int rs_topo_init(void);
void rs_topo_dispose(void);

/* Physical cores found (at least 1), and logical processors. */
int rs_topo_cores(void);
int rs_topo_pus(void);

/* Pin the calling thread to core (index modulo the core count). Writes a
 * description of the binding ("core 1 (PU 1)") into desc. Returns 0 or -1. */
int rs_topo_pin_self(int index, char *desc, size_t desclen);

/* Name the calling thread (ps -L, top -H, perf; at most 15 bytes kept).
 * The main thread keeps the program's name. */
void rs_thread_name(const char *name);

/* Thread priorities: Linux nice values, per thread (setpriority with a
 * thread id sets that thread's alone). Inside a cgroup or an autogroup of
 * the process's own (a systemd service, a container, a session) they weigh
 * its threads against each other only.
 *
 * rs_nice_allowed: may this process set a thread's nice value to want?
 * Raising it always is; lowering it below the caller's needs root,
 * CAP_SYS_NICE or RLIMIT_NICE, so that is probed on the calling thread,
 * which is left at the value it had.
 * rs_nice_self: sets the calling thread's nice value (clamped to -20..19);
 * 0 or an errno. */
bool rs_nice_allowed(int want);
int rs_nice_self(int want);
/* The calling thread's nice value (0 when it cannot be read). */
int rs_nice_get(void);

#endif
