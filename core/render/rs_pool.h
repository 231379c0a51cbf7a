/* core/render/rs_pool.h — the render pool: `render.threads` threads, each with one
 * V8 engine (shim/rs_v8.h) pinned to a core, fed from one bounded queue, and
 * a watchdog that terminates renders running past `render.timeout_ms`.
 *
 * Threads: loop threads submit jobs and receive them back, finished, on
 * their own loop (a completion list per loop, drained under its lock, woken
 * with uv_async_send only when the list was empty: libuv's uv__work_done
 * pattern). Render threads never touch a socket or a Lua state. */
#ifndef RS_POOL_H
#define RS_POOL_H

#include "rs_common.h"
#include "rs_config.h"
#include "rs_inbox.h"
#include "rs_v8.h"

#include <uv.h>

/* Outcomes of a job: the engine's own, then the pool's. */
#define RS_POOL_OUTCOME_MAP(XX)                                   \
  XX(OK, "ok")                                                    \
  XX(ERROR, "error")             /* throw, rejection, bad result */ \
  XX(TIMEOUT, "timeout")         /* terminated by the watchdog */ \
  XX(OOM, "oom")                 /* heap limit; isolate replaced */ \
  XX(REJECTED, "rejected")       /* queue full at submit */       \
  XX(EXPIRED, "expired")         /* deadline passed in the queue */ \
  XX(CANCELLED, "cancelled")     /* the client went away first */

typedef enum {
#define XX(name, label) RS_RENDER_##name,
  RS_POOL_OUTCOME_MAP(XX)
#undef XX
  RS_RENDER_OUTCOME_MAX
} rs_render_outcome_t;

const char *rs_render_outcome_label(rs_render_outcome_t o);

typedef struct rs_pool_s rs_pool_t;
typedef struct rs_render_job_s rs_render_job_t;

struct rs_render_job_s {
  /* Finished jobs come back as this task, run on `inbox`'s loop: set
   * task.run (the "done" callback) and inbox before submitting. */
  rs_task_t task;
  rs_inbox_t *inbox;             /* the submitting loop's */
  /* Optional, on the render thread right after the render (e.g. build the
   * cache entry and its compressed variants there, not on the loop). */
  void (*after_render)(rs_render_job_t *job);
  /* Skip V8: run after_render only (outcome OK). For work that belongs on
   * a render thread but is not a render (completing a cache entry's
   * variants, rs_entry_complete). */
  bool no_render;

  /* Input: filled by the submitter; borrowed pointers must stay valid
   * until done() runs (the request they point into lives that long). */
  rs_v8_request_t req;
  void *data;                    /* the submitter's */

  /* Set by the submitter on any thread, read by the render thread: the
   * client has gone, do not render. Relaxed: a late look only costs one
   * wasted render. */
  int cancelled;

  /* Output, valid in done(). The job owns body and headers; done() takes
   * them (set to NULL) or they are freed by rs_render_job_free. */
  rs_render_outcome_t outcome;
  int status;
  int ttl;                       /* seconds, -1 when the bundle gave none */
  char *body;                    /* malloc'd; the HTML for OK, else NULL */
  size_t body_len;
  char *headers;                 /* "Name: value\r\n"... for OK (malloc'd) */
  size_t headers_len;
  char *error;                   /* one line + stack for the log (malloc'd) */
  char **tags;                   /* purge tags the bundle gave (each malloc'd) */
  size_t ntags;
  uint64_t queued_ms, started_ms, finished_ms;
  /* Background jobs (rs_pool_submit_ex): from this time (rs_now_ms) on,
   * clients may be waiting for it (the page it refreshes stops being
   * servable then): it is taken as if queued then among the jobs clients
   * wait for, no longer behind all of them. 0 = never. */
  uint64_t due_ms;

  /* private */
  const char *_extra;            /* rs_render_uncached's extra header lines */
  uint64_t _deadline_ms;
  rs_render_job_t *_next;
};

/* Start V8 and `cfg->render.threads` render threads, each loading the
 * bundle. The first engine is made here, on the calling thread, so that a
 * broken bundle is an error now: returns 0, or -1 with err holding
 * "FILE:LINE: reason". cfg must outlive the pool. Main thread, at start and
 * on each reload (SIGHUP makes a new pool for the new configuration; the
 * old one is destroyed once idle). */
int rs_pool_create(const rs_config_t *cfg, rs_pool_t **out, char *err, size_t errlen);

/* The bundle's id: a 64-bit hash of its bytes as this pool loaded them
 * (never 0), so a reload that reads the same file again has the same id
 * and a deploy of other bytes another one. 0 for NULL. Any thread. */
uint64_t rs_pool_bundle_id(const rs_pool_t *pool);

/* Load the bundle once and throw it away (for `rustyssr -t`). Same
 * errors as rs_pool_create. */
int rs_pool_check(const rs_config_t *cfg, char *err, size_t errlen);

/* Stop the threads (jobs still queued are answered EXPIRED), free all.
 * Main thread, after every loop has stopped submitting. */
void rs_pool_destroy(rs_pool_t *pool);

/* Queue a job. Returns 0 (job->task.run will run later on job->inbox's
 * loop), or -EBUSY when the queue is full (it will not; counted as
 * rejected). Loop threads. */
int rs_pool_submit(rs_pool_t *pool, rs_render_job_t *job);

/* The same for work no client waits for (cache refreshes): admitted only
 * while the queue is less than half full, refusals counted apart. */
int rs_pool_submit_ex(rs_pool_t *pool, rs_render_job_t *job, bool background);

/* Jobs waiting for a render thread (not those running): a relaxed read,
 * stale by the time it returns. 0 for NULL. Any thread. */
size_t rs_pool_queued(const rs_pool_t *pool);

/* No job submitted to pool is still queued, rendering or on its way back
 * (its done task has been posted to its loop). NULL is idle. Any thread. */
bool rs_pool_idle(const rs_pool_t *pool);

/* The pool's metric families (rustyssr_renders_total, ...), as an
 * rs_metrics collector: the server registers one that forwards to the pool
 * in use, which a reload replaces. Main thread. */
void rs_pool_collect(rs_buf_t *out, void *pool);

/* Shutdown forced: terminate the renders running now and answer every
 * queued job EXPIRED without rendering. Any thread. */
void rs_pool_abort(rs_pool_t *pool);

/* Free what a job still owns (body, headers, error) and the job. */
void rs_render_job_free(rs_render_job_t *job);

#endif
