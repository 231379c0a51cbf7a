/* core/base/rs_inbox.c — see rs_inbox.h. */
#include "rs_inbox.h"

#include <string.h>

static void rs__inbox_drain(uv_async_t *a) {
  rs_inbox_t *inbox = a->data;
  uv_mutex_lock(&inbox->lock);
  rs_task_t *t = inbox->head;
  inbox->head = inbox->tail = NULL;
  uv_mutex_unlock(&inbox->lock);
  while (t != NULL) {
    rs_task_t *next = t->_next;  /* run may free t */
    t->run(t);
    t = next;
  }
}

void rs_inbox_init(rs_inbox_t *inbox, uv_loop_t *loop) {
  memset(inbox, 0, sizeof(*inbox));
  uv_mutex_init(&inbox->lock);
  uv_async_init(loop, &inbox->async, rs__inbox_drain);
  inbox->async.data = inbox;
}

void rs_inbox_close(rs_inbox_t *inbox) {
  if (!uv_is_closing((uv_handle_t *)&inbox->async)) uv_close((uv_handle_t *)&inbox->async, NULL);
}

void rs_inbox_dispose(rs_inbox_t *inbox) { uv_mutex_destroy(&inbox->lock); }

void rs_inbox_post(rs_inbox_t *inbox, rs_task_t *task) {
  task->_next = NULL;
  uv_mutex_lock(&inbox->lock);
  bool was_empty = inbox->head == NULL;
  if (inbox->tail) inbox->tail->_next = task; else inbox->head = task;
  inbox->tail = task;
  uv_mutex_unlock(&inbox->lock);
  /* uv_async_send coalesces, but skipping it saves a write(2) per task
   * while the loop has not yet drained. */
  if (was_empty) uv_async_send(&inbox->async);
}
