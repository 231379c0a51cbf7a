/* core/base/rs_topo.h — the machine's cores (hwloc) and thread pinning. */
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

#endif
