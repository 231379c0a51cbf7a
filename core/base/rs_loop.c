/* core/base/rs_loop.c — see rs_loop.h. */
#include "rs_loop.h"

#include <stdlib.h>

static int rs__nslots;           /* atomic: indexes handed out */

int rs_loop_slot_new(void) {
  /* relaxed: the index only has to be unique; each module publishes it to
   * its loops with its own once-initialisation. */
  int i = __atomic_fetch_add(&rs__nslots, 1, __ATOMIC_RELAXED);
  if (i >= RS_LOOP_SLOTS) abort();
  return i;
}
