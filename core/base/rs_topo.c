/* core/base/rs_topo.c — see rs_topo.h. */
#define _GNU_SOURCE 1 /* pthread_setname_np */
#include "rs_topo.h"

#include <errno.h>
#include <hwloc.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

static hwloc_topology_t rs__topo;
static bool rs__topo_ok;

int rs_topo_init(void) {
  if (rs__topo_ok) return 0;
  if (hwloc_topology_init(&rs__topo) != 0) return -1;
  if (hwloc_topology_load(rs__topo) != 0) {
    hwloc_topology_destroy(rs__topo);
    return -1;
  }
  rs__topo_ok = true;
  return 0;
}

void rs_topo_dispose(void) {
  if (!rs__topo_ok) return;
  hwloc_topology_destroy(rs__topo);
  rs__topo_ok = false;
}

int rs_topo_cores(void) {
  if (!rs__topo_ok) return 1;
  int n = hwloc_get_nbobjs_by_type(rs__topo, HWLOC_OBJ_CORE);
  if (n <= 0) n = hwloc_get_nbobjs_by_type(rs__topo, HWLOC_OBJ_PU);
  return n > 0 ? n : 1;
}

int rs_topo_pus(void) {
  if (!rs__topo_ok) return 1;
  int n = hwloc_get_nbobjs_by_type(rs__topo, HWLOC_OBJ_PU);
  return n > 0 ? n : 1;
}

int rs_topo_pin_self(int index, char *desc, size_t desclen) {
  if (!rs__topo_ok) {
    snprintf(desc, desclen, "unpinned (no topology)");
    return -1;
  }
  hwloc_obj_type_t type = HWLOC_OBJ_CORE;
  int n = hwloc_get_nbobjs_by_type(rs__topo, type);
  if (n <= 0) {
    type = HWLOC_OBJ_PU;
    n = hwloc_get_nbobjs_by_type(rs__topo, type);
  }
  if (n <= 0) {
    snprintf(desc, desclen, "unpinned (no cores found)");
    return -1;
  }
  hwloc_obj_t obj = hwloc_get_obj_by_type(rs__topo, type, (unsigned)(index % n));
  /* One PU of the core: a thread that wanders between hyper-threads of one
   * core keeps its L1/L2 anyway, but one PU gives a stable layout to log. */
  hwloc_bitmap_t set = hwloc_bitmap_dup(obj->cpuset);
  hwloc_bitmap_singlify(set);
  int rc = hwloc_set_cpubind(rs__topo, set, HWLOC_CPUBIND_THREAD);
  int pu = hwloc_bitmap_first(set);
  hwloc_bitmap_free(set);
  if (rc != 0) {
    snprintf(desc, desclen, "unpinned (hwloc_set_cpubind failed)");
    return -1;
  }
  snprintf(desc, desclen, "core %u (PU %d)", obj->logical_index, pu);
  return 0;
}

void rs_thread_name(const char *name) {
  char n[16];
  snprintf(n, sizeof(n), "%s", name);
  (void)pthread_setname_np(pthread_self(), n);
}

static id_t rs__tid(void) { return (id_t)syscall(SYS_gettid); }

int rs_nice_self(int want) {
  want = want < -20 ? -20 : want > 19 ? 19 : want;
  return setpriority(PRIO_PROCESS, rs__tid(), want) == 0 ? 0 : errno;
}

int rs_nice_get(void) {
  errno = 0;
  int v = getpriority(PRIO_PROCESS, rs__tid());
  return v == -1 && errno != 0 ? 0 : v;
}

bool rs_nice_allowed(int want) {
  id_t tid = rs__tid();
  errno = 0;
  int had = getpriority(PRIO_PROCESS, tid);
  if (had == -1 && errno != 0) return false;
  if (want >= had) return true;
  if (setpriority(PRIO_PROCESS, tid, want) != 0) return false;
  (void)setpriority(PRIO_PROCESS, tid, had);          /* raising: always allowed */
  return true;
}
