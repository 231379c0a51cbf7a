/* core/base/rs_inbox.h — hand work to a loop thread from any thread.
 *
 * libuv's thread-pool pattern (uv__work_done, h2o_multithread): the sender
 * appends under a small lock and wakes the loop with uv_async_send only when
 * the list was empty (a non-empty list already has a wake-up on its way);
 * the loop takes the whole list under the lock, unlocks, then runs each
 * task in order. */
#ifndef RS_INBOX_H
#define RS_INBOX_H

#include "rs_common.h"

#include <uv.h>

typedef struct rs_task_s {
  void (*run)(struct rs_task_s *task);  /* on the inbox's loop */
  struct rs_task_s *_next;
} rs_task_t;

typedef struct {
  uv_async_t async;
  uv_mutex_t lock;
  rs_task_t *head, *tail;        /* under lock */
} rs_inbox_t;

/* On the owning loop's thread, or before that loop runs. */
void rs_inbox_init(rs_inbox_t *inbox, uv_loop_t *loop);
/* Close the async handle (loop thread); then, after the loop stopped,
 * rs_inbox_dispose frees the lock. Tasks still queued are not run. */
void rs_inbox_close(rs_inbox_t *inbox);
void rs_inbox_dispose(rs_inbox_t *inbox);

/* Queue task to run on the inbox's loop. Any thread. */
void rs_inbox_post(rs_inbox_t *inbox, rs_task_t *task);

#endif
