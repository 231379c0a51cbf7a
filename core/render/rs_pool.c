/* core/render/rs_pool.c — see rs_pool.h.
 *
 * One queue for all render threads (a mutex and a condition variable): with
 * a handful of threads the lock is held for a pointer swap, far below the
 * cost of a render (~300 µs for the demo page), and one queue keeps every
 * thread busy while any job waits, which per-thread queues would not.
 *
 * The watchdog is a thread that wakes every few milliseconds and terminates
 * a render past its deadline through rs_v8_terminate, which the shim makes
 * safe against the render finishing at the same moment. Engines are swapped
 * (after an OOM) under the worker's lock, which the watchdog also takes, so
 * it never terminates a destroyed engine. */
#include "rs_pool.h"

#include "rs_http.h"
#include "rs_log.h"
#include "rs_metrics.h"
#include "rs_topo.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <xxhash.h>

/* Render time histogram bounds, in milliseconds. */
static const double rs__hist_ms[] = { 1, 2.5, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000 };
#define RS__NHIST (sizeof(rs__hist_ms) / sizeof(rs__hist_ms[0]))

typedef struct {
  rs_pool_t *pool;
  int index;
  uv_thread_t thread;
  uv_mutex_t lock;               /* engine swaps vs the watchdog */
  rs_v8_engine_t *engine;        /* used by this thread only; swapped under lock */
  uint64_t running_id;           /* under lock: 0 when idle */
  uint64_t running_deadline;     /* under lock: ms, monotonic */

  /* Counters written by this thread only (RS_COUNTER_ADD), read on scrape. */
  uint64_t outcomes[RS_RENDER_OUTCOME_MAX];
  uint64_t hist[RS__NHIST + 1];
  uint64_t hist_sum_us;
  uint64_t restarts;
  uint64_t heap_used;
  uint64_t heap_limit;
} __attribute__((aligned(RS_CACHELINE))) rs__worker_t;

struct rs_pool_s {
  const rs_config_t *cfg;
  int nthreads;
  int base;                   /* the nice value the process started with (the loops' own) */
  int nice;                   /* the render threads': render.nice if allowed, else base */
  rs__worker_t *workers;

  uv_mutex_t qlock;
  uv_cond_t qcond;
  /* Two lists under qlock: [0] jobs a client waits for, [1] background
   * work (cache refreshes). Threads take [0] first, so a miss never waits
   * behind refreshes (bench/run's mixed scenario: with refreshes in the
   * same FIFO, misses past grace waited ~330 ms at p99). */
  struct {
    rs_render_job_t *head, *tail;
  } q[2];
  size_t qlen;                   /* both lists; written under qlock, atomically
                                    (rs_pool_queued reads it without) */
  bool stopping;                 /* under qlock */

  uv_thread_t watchdog;
  uv_mutex_t wd_lock;
  uv_cond_t wd_cond;
  bool wd_stop;                  /* under wd_lock */

  char *src;                     /* the bundle as read at start */
  size_t src_len;
  uint64_t bundle_id;            /* XXH3 of src (| 1: never 0) */
  void *code_cache;
  size_t code_cache_len;
  int aborting;                  /* atomic: shutdown forced, stop everything */
  uint64_t rejected;             /* atomic: any loop thread adds */
  uint64_t skipped;              /* atomic: background jobs refused */
  uint64_t cancelled_at_submit;
  /* atomic: jobs submitted and not yet handed back to their loop. A pool
   * retired by a reload is destroyed once it reaches 0 (rs_pool_idle). */
  size_t inflight;
};

static const char *const rs__outcome_labels[] = {
#define XX(name, label) label,
  RS_POOL_OUTCOME_MAP(XX)
#undef XX
};

const char *rs_render_outcome_label(rs_render_outcome_t o) {
  return (unsigned)o < RS_RENDER_OUTCOME_MAX ? rs__outcome_labels[o] : "unknown";
}

/* ------------------------------------------------------------------ engines */

static void rs__js_log(void *ud, int level, uint64_t request_id, const char *msg, size_t len) {
  if (level > (int)rs_log_level) return;
  if (request_id)
    rs_log_write((rs_log_level_t)level, "js [req %llx]: %.*s", (unsigned long long)request_id,
                 (int)len, msg);
  else
    rs_log_write((rs_log_level_t)level, "js: %.*s", (int)len, msg);
}

/* An engine from the bundle's bytes as read once at start (src), so that a
 * replaced isolate runs what the others run, whatever became of the file
 * since; src NULL reads the file (rustyssr -t). */
static int rs__engine_new(const rs_config_t *cfg, const char *src, size_t src_len, const void *cache,
                          size_t cache_len, rs_v8_engine_t **out, char *err, size_t errlen) {
  rs_v8_opts_t o;
  memset(&o, 0, sizeof(o));
  o.bundle_path = cfg->render.bundle;
  o.bundle_src = src;
  o.bundle_len = src_len;
  o.render_fn = cfg->render.fn;
  o.heap_mb = cfg->render.heap_mb;
  o.semi_space_mb = cfg->render.semi_space_mb;
  o.load_timeout_ms = (int)RS_MIN(cfg->render.timeout_ms * 5, 60000);
  o.code_cache = cache;
  o.code_cache_len = cache_len;
  o.log = rs__js_log;
  rs_v8_pair_t *env = NULL;
  if (cfg->render.nenv > 0) {
    env = rs_xcalloc(cfg->render.nenv, sizeof(*env));
    for (size_t i = 0; i < cfg->render.nenv; i++) {
      const char *k = cfg->render.env[2 * i], *v = cfg->render.env[2 * i + 1];
      env[i] = (rs_v8_pair_t){ k, strlen(k), v, strlen(v) };
    }
  }
  o.env = env;
  o.nenv = cfg->render.nenv;
  int rc = rs_v8_engine_create(&o, out, err, errlen);
  free(env);
  return rc;
}

int rs_pool_check(const rs_config_t *cfg, char *err, size_t errlen) {
  if (rs_v8_init(0) != 0) {
    snprintf(err, errlen, "V8 could not start");
    return -1;
  }
  rs_v8_engine_t *e;
  if (rs__engine_new(cfg, NULL, 0, NULL, 0, &e, err, errlen) != 0) return -1;
  rs_v8_engine_destroy(e);
  return 0;
}

/* ------------------------------------------------------------------ completions */

static void rs__deliver(rs_pool_t *pool, rs_render_job_t *job) {
  job->finished_ms = rs_now_ms();
  rs_inbox_post(job->inbox, &job->task);
  /* release: the job's after_render (which may read the generation's
   * routes) happens before a reader that sees the count reach 0 frees them. */
  __atomic_fetch_sub(&pool->inflight, 1, __ATOMIC_RELEASE);
}

/* ------------------------------------------------------------------ rendering */

/* name (lower-case, from the shim) copied to d in its canonical form, as
 * every other answer of the server spells it: each word capitalised
 * ("content-type" → "Content-Type", "x-frame-options" → "X-Frame-Options"),
 * with the usual exceptions (ETag, WWW-Authenticate). */
static void rs__canonical_name(char *d, const char *name, size_t n) {
  static const struct { const char *lower, *canon; } odd[] = {
    { "etag", "ETag" }, { "www-authenticate", "WWW-Authenticate" }, { "te", "TE" },
    { "content-md5", "Content-MD5" }, { "x-xss-protection", "X-XSS-Protection" },
  };
  for (size_t i = 0; i < RS_ARRAY_SIZE(odd); i++)
    if (strlen(odd[i].lower) == n && rs_str_ieq(name, n, odd[i].lower, n)) {
      memcpy(d, odd[i].canon, n);
      return;
    }
  bool up = true;
  for (size_t i = 0; i < n; i++) {
    char c = name[i];
    if (up && c >= 'a' && c <= 'z') c = (char)(c - 32);
    else if (!up && c >= 'A' && c <= 'Z') c = (char)(c + 32);
    d[i] = c;
    up = c == '-';
  }
}

/* "Name: value\r\n" lines from the bundle's headers, plus a Content-Type
 * when it gave none. Names come lower-cased and values checked by the shim;
 * they leave in canonical form (rs__canonical_name). */
static void rs__render_headers(rs_render_job_t *job, const rs_v8_result_t *res) {
  static const char ct[] = "Content-Type: text/html; charset=utf-8\r\n";
  bool has_ct = false;
  size_t len = 0;
  for (size_t i = 0; i < res->nheaders; i++) {
    const rs_v8_pair_t *h = &res->headers[i];
    len += h->name_len + 2 + h->value_len + 2;
    if (rs_str_ieq(h->name, h->name_len, "content-type", 12)) has_ct = true;
  }
  if (!has_ct) len += sizeof(ct) - 1;
  char *p = job->headers = rs_xmalloc(len + 1);
  for (size_t i = 0; i < res->nheaders; i++) {
    const rs_v8_pair_t *h = &res->headers[i];
    /* Framing and Date are the server's to set: a bundle cannot smuggle a
     * length nor send a second Date. */
    if (rs_http_hop_by_hop(h->name, h->name_len) || rs_str_ieq(h->name, h->name_len, "content-length", 14) ||
        rs_str_ieq(h->name, h->name_len, "date", 4)) {
      len -= h->name_len + 2 + h->value_len + 2;
      continue;
    }
    rs__canonical_name(p, h->name, h->name_len), p += h->name_len;
    memcpy(p, ": ", 2), p += 2;
    memcpy(p, h->value, h->value_len), p += h->value_len;
    memcpy(p, "\r\n", 2), p += 2;
  }
  if (!has_ct) memcpy(p, ct, sizeof(ct) - 1), p += sizeof(ct) - 1;
  *p = '\0';
  job->headers_len = (size_t)(p - job->headers);
}

static void rs__worker_render(rs__worker_t *w, rs_render_job_t *job) {
  rs_pool_t *pool = w->pool;
  const rs_config_t *cfg = pool->cfg;
  char err[512];
  job->started_ms = rs_now_ms();
  if (w->engine == NULL || !rs_v8_engine_usable(w->engine)) {
    rs_v8_engine_t *fresh = NULL;
    uint64_t t0 = rs_now_ms();
    if (rs__engine_new(cfg, pool->src, pool->src_len, pool->code_cache, pool->code_cache_len, &fresh, err, sizeof(err)) != 0) {
      rs_log_error("render %d: cannot recreate the isolate: %s", w->index, err);
      job->outcome = RS_RENDER_OOM;
      job->status = 503;
      job->error = rs_xstrdup("no isolate: it could not be recreated");
      return;
    }
    uv_mutex_lock(&w->lock);
    rs_v8_engine_t *old = w->engine;
    w->engine = fresh;
    uv_mutex_unlock(&w->lock);
    rs_v8_engine_destroy(old);
    RS_COUNTER_ADD(w->restarts, 1);
    rs_log_info("render %d: isolate replaced in %llu ms", w->index,
                (unsigned long long)(rs_now_ms() - t0));
  }

  uint64_t t_us = rs_now_us();
  job->started_ms = rs_now_ms();
  uv_mutex_lock(&w->lock);
  w->running_id = job->req.id;
  w->running_deadline = job->started_ms + cfg->render.timeout_ms;
  uv_mutex_unlock(&w->lock);

  rs_v8_result_t res;
  rs_v8_outcome_t o = rs_v8_render(w->engine, &job->req, &res);

  uv_mutex_lock(&w->lock);
  w->running_id = 0;
  uv_mutex_unlock(&w->lock);
  uint64_t us = rs_now_us() - t_us;
  size_t b = 0;
  while (b < RS__NHIST && (double)us > rs__hist_ms[b] * 1000) b++;
  RS_COUNTER_ADD(w->hist[b], 1);
  RS_COUNTER_ADD(w->hist_sum_us, us);

  switch (o) {
    case RS_V8_OK:
      job->outcome = RS_RENDER_OK;
      job->status = res.status;
      job->ttl = res.ttl;
      job->body_len = res.html_len;
      job->body = rs_v8_result_take_html(w->engine, &res);
      rs__render_headers(job, &res);
      if (res.ntags > 0) {
        job->tags = rs_xcalloc(res.ntags, sizeof(char *));
        for (size_t i = 0; i < res.ntags; i++) job->tags[i] = rs_xstrndup(res.tags[i].ptr, res.tags[i].len);
        job->ntags = res.ntags;
      }
      break;
    case RS_V8_TIMEOUT:
      job->outcome = RS_RENDER_TIMEOUT;
      job->status = 504;
      break;
    case RS_V8_OOM:
    case RS_V8_DEAD:
      job->outcome = RS_RENDER_OOM;
      job->status = 503;
      break;
    default:
      job->outcome = RS_RENDER_ERROR;
      job->status = 500;
      break;
  }
  if (o != RS_V8_OK) {
    size_t n = res.error_len + res.stack_len + 2;
    job->error = rs_xmalloc(n + 1);
    snprintf(job->error, n + 1, "%.*s%s%.*s", (int)res.error_len, res.error,
             res.stack_len ? "\n" : "", (int)res.stack_len, res.stack);
  }
  if (o == RS_V8_OOM || o == RS_V8_DEAD) {
    /* Replace the isolate now, so the next job does not pay for it. */
    uv_mutex_lock(&w->lock);
    rs_v8_engine_t *old = w->engine;
    w->engine = NULL;
    uv_mutex_unlock(&w->lock);
    rs_v8_engine_destroy(old);
    rs_v8_engine_t *fresh = NULL;
    if (rs__engine_new(cfg, pool->src, pool->src_len, pool->code_cache, pool->code_cache_len, &fresh, err, sizeof(err)) == 0) {
      uv_mutex_lock(&w->lock);
      w->engine = fresh;
      uv_mutex_unlock(&w->lock);
      RS_COUNTER_ADD(w->restarts, 1);
    } else {
      rs_log_error("render %d: cannot recreate the isolate: %s", w->index, err);
    }
  }
  if (w->engine != NULL) {
    size_t used = 0, limit = 0;
    rs_v8_engine_heap(w->engine, &used, &limit);
    RS_COUNTER_ADD(w->heap_used, (uint64_t)used - RS_COUNTER_GET(w->heap_used));
    RS_COUNTER_ADD(w->heap_limit, (uint64_t)limit - RS_COUNTER_GET(w->heap_limit));
  }
}

/* render.nice: this thread's nice value, when the process may set it
 * (pool->nice: rs_pool_create found out). Below the value the process
 * started with needs root or CAP_SYS_NICE (LimitNICE= in a systemd unit);
 * without them the render threads stay where they started and the server
 * raises its loop threads instead (the same gap, rs_server.c), which a
 * negative nginx worker_priority cannot. */
static void rs__worker_nice(rs__worker_t *w) {
  int want = w->pool->nice, rc;
  if (want == w->pool->base) return;
  if ((rc = rs_nice_self(want)) != 0)
    rs_log_warn("render %d: render.nice = %d not applied: %s", w->index, want, strerror(rc));
}

/* V8's platform workers (parallel scavenges, concurrent marking, TurboFan)
 * work for the render threads: they get render.nice too. They exist once
 * the first isolate is made; one made later by a render thread inherits
 * that thread's value anyway. Found by name in /proc/self/task; set again
 * by the pool a reload makes. */
static void rs__v8_workers_nice(int want, int base) {
  DIR *d = opendir("/proc/self/task");
  if (d == NULL) return;
  struct dirent *de;
  while ((de = readdir(d)) != NULL) {
    if (de->d_name[0] < '0' || de->d_name[0] > '9') continue;
    char path[320], comm[32] = "";
    snprintf(path, sizeof(path), "/proc/self/task/%s/comm", de->d_name);
    FILE *f = fopen(path, "r");
    if (f == NULL) continue;
    bool v8 = fgets(comm, sizeof(comm), f) != NULL && strncmp(comm, "V8 ", 3) == 0;
    fclose(f);
    /* (base too: a reload may take a value back; that it cannot is said
     * only when another value was asked for.) */
    if (v8 && setpriority(PRIO_PROCESS, (id_t)atoi(de->d_name), want) != 0 && want != base)
      rs_log_warn("render: render.nice = %d not applied to V8's worker thread: %s", want, strerror(errno));
  }
  closedir(d);
}

static void rs__worker_main(void *arg) {
  rs__worker_t *w = arg;
  rs_pool_t *pool = w->pool;
  char where[96] = "unpinned (pin = false)";
  rs_log_set_thread(1000 + w->index);
  char name[16];
  snprintf(name, sizeof(name), "rs-render-%d", w->index);
  rs_thread_name(name);
  if (pool->cfg->pin) rs_topo_pin_self(w->index, where, sizeof(where));
  rs__worker_nice(w);
  if (w->engine == NULL) {
    char err[512];
    uint64_t t0 = rs_now_ms();
    rs_v8_engine_t *e = NULL;
    if (rs__engine_new(pool->cfg, pool->src, pool->src_len, pool->code_cache, pool->code_cache_len, &e, err, sizeof(err)) != 0)
      rs_log_error("render %d: %s", w->index, err);
    uv_mutex_lock(&w->lock);
    w->engine = e;
    uv_mutex_unlock(&w->lock);
    rs_log_info("render %d: isolate ready in %llu ms (code cache %s), %s", w->index,
                (unsigned long long)(rs_now_ms() - t0),
                e && rs_v8_engine_cache_status(e) == RS_V8_CACHE_ACCEPTED ? "used" : "not used", where);
  } else {
    rs_log_info("render %d: isolate ready, %s", w->index, where);
  }

  for (;;) {
    uv_mutex_lock(&pool->qlock);
    while (pool->qlen == 0 && !pool->stopping) uv_cond_wait(&pool->qcond, &pool->qlock);
    int which = pool->q[0].head != NULL ? 0 : 1;
    rs_render_job_t *bg = pool->q[1].head;
    if (which == 0 && bg != NULL && bg->due_ms != 0 && bg->due_ms < pool->q[0].head->queued_ms &&
        bg->due_ms <= rs_now_ms())
      which = 1;                 /* a refresh overdue: clients wait for it since due_ms */
    rs_render_job_t *job = pool->q[which].head;
    if (job == NULL) {           /* stopping and empty */
      uv_mutex_unlock(&pool->qlock);
      break;
    }
    pool->q[which].head = job->_next;
    if (pool->q[which].head == NULL) pool->q[which].tail = NULL;
    __atomic_store_n(&pool->qlen, pool->qlen - 1, __ATOMIC_RELAXED);
    bool stopping = pool->stopping;
    uv_mutex_unlock(&pool->qlock);

    uint64_t now = rs_now_ms();
    if (__atomic_load_n(&job->cancelled, __ATOMIC_RELAXED)) {
      job->outcome = RS_RENDER_CANCELLED;
      job->status = 499;
    } else if (stopping || now > job->_deadline_ms ||
               __atomic_load_n(&pool->aborting, __ATOMIC_RELAXED)) {
      job->outcome = RS_RENDER_EXPIRED;
      job->status = 503;
    } else {
      /* A refresh no client waits for yet (refresh ahead, stale while
       * revalidate) is not worth more than the hits: it runs at the loop
       * threads' priority, not before them. */
      bool calm = which == 1 && pool->nice < pool->base && (job->due_ms == 0 || job->due_ms > now) &&
                  rs_nice_self(pool->base) == 0;
      if (job->no_render) job->outcome = RS_RENDER_OK;
      else rs__worker_render(w, job);
      if (job->after_render != NULL) job->after_render(job);
      if (calm) (void)rs_nice_self(pool->nice);      /* allowed: rs_pool_create probed it */
    }
    if (!job->no_render) RS_COUNTER_ADD(w->outcomes[job->outcome], 1);
    rs__deliver(pool, job);
  }
  uv_mutex_lock(&w->lock);
  rs_v8_engine_t *e = w->engine;
  w->engine = NULL;
  uv_mutex_unlock(&w->lock);
  rs_v8_engine_destroy(e);
}

/* ------------------------------------------------------------------ watchdog */

static void rs__watchdog_main(void *arg) {
  rs_pool_t *pool = arg;
  rs_log_set_thread(999);
  rs_thread_name("rs-watchdog");
  /* Check often enough that a render overshoots its timeout by at most a
   * few percent, and at most 10 ms. */
  uint64_t tick = RS_MAX(1, RS_MIN(10, pool->cfg->render.timeout_ms / 20));
  uv_mutex_lock(&pool->wd_lock);
  while (!pool->wd_stop) {
    uv_cond_timedwait(&pool->wd_cond, &pool->wd_lock, tick * 1000000u);
    if (pool->wd_stop) break;
    uint64_t now = rs_now_ms();
    for (int i = 0; i < pool->nthreads; i++) {
      rs__worker_t *w = &pool->workers[i];
      uv_mutex_lock(&w->lock);
      if (w->running_id != 0 && now >= w->running_deadline && w->engine != NULL) {
        uint64_t id = w->running_id;
        w->running_deadline = UINT64_MAX;  /* once per render */
        if (rs_v8_terminate(w->engine, id))
          rs_log_warn("render %d: request %llx ran past %llu ms: terminated", i,
                      (unsigned long long)id, (unsigned long long)pool->cfg->render.timeout_ms);
      }
      uv_mutex_unlock(&w->lock);
    }
  }
  uv_mutex_unlock(&pool->wd_lock);
}

/* ------------------------------------------------------------------ metrics */

void rs_pool_collect(rs_buf_t *out, void *ud) {
  rs_pool_t *pool = ud;
  uint64_t outcomes[RS_RENDER_OUTCOME_MAX] = { 0 };
  uint64_t hist[RS__NHIST + 1] = { 0 };
  uint64_t sum_us = 0, restarts = 0;
  for (int i = 0; i < pool->nthreads; i++) {
    rs__worker_t *w = &pool->workers[i];
    for (int k = 0; k < RS_RENDER_OUTCOME_MAX; k++) outcomes[k] += RS_COUNTER_GET(w->outcomes[k]);
    for (size_t k = 0; k <= RS__NHIST; k++) hist[k] += RS_COUNTER_GET(w->hist[k]);
    sum_us += RS_COUNTER_GET(w->hist_sum_us);
    restarts += RS_COUNTER_GET(w->restarts);
  }
  outcomes[RS_RENDER_REJECTED] += __atomic_load_n(&pool->rejected, __ATOMIC_RELAXED);
  rs_metrics_family(out, "rustyssr_renders_total", "counter", "Render jobs by outcome.");
  for (int k = 0; k < RS_RENDER_OUTCOME_MAX; k++)
    rs_buf_printf(out, "rustyssr_renders_total{outcome=\"%s\"} %llu\n",
                  rs_render_outcome_label((rs_render_outcome_t)k), (unsigned long long)outcomes[k]);
  uv_mutex_lock(&pool->qlock);
  size_t depth = pool->qlen;
  uv_mutex_unlock(&pool->qlock);
  rs_metrics_family(out, "rustyssr_render_background_skipped_total", "counter",
                    "Background renders (cache refreshes) not queued: the queue was half full.");
  rs_buf_printf(out, "rustyssr_render_background_skipped_total %llu\n",
                (unsigned long long)__atomic_load_n(&pool->skipped, __ATOMIC_RELAXED));
  rs_metrics_family(out, "rustyssr_render_queue_depth", "gauge", "Render jobs waiting for a thread.");
  rs_buf_printf(out, "rustyssr_render_queue_depth %zu\n", depth);
  rs_metrics_family(out, "rustyssr_render_queue_capacity", "gauge", "render.queue.");
  rs_buf_printf(out, "rustyssr_render_queue_capacity %zu\n", pool->cfg->render.queue);
  rs_metrics_family(out, "rustyssr_render_duration_seconds", "histogram",
                    "Time inside the bundle's render, per job rendered.");
  uint64_t cum = 0;
  for (size_t k = 0; k < RS__NHIST; k++) {
    cum += hist[k];
    rs_buf_printf(out, "rustyssr_render_duration_seconds_bucket{le=\"%g\"} %llu\n", rs__hist_ms[k] / 1000,
                  (unsigned long long)cum);
  }
  cum += hist[RS__NHIST];
  rs_buf_printf(out, "rustyssr_render_duration_seconds_bucket{le=\"+Inf\"} %llu\n", (unsigned long long)cum);
  rs_buf_printf(out, "rustyssr_render_duration_seconds_sum %.6f\n", (double)sum_us / 1e6);
  rs_buf_printf(out, "rustyssr_render_duration_seconds_count %llu\n", (unsigned long long)cum);
  rs_metrics_family(out, "rustyssr_render_isolate_restarts_total", "counter",
                    "Isolates replaced after hitting their heap limit.");
  rs_buf_printf(out, "rustyssr_render_isolate_restarts_total %llu\n", (unsigned long long)restarts);
  rs_metrics_family(out, "rustyssr_render_heap_used_bytes", "gauge", "V8 heap in use, per render thread.");
  for (int i = 0; i < pool->nthreads; i++)
    rs_buf_printf(out, "rustyssr_render_heap_used_bytes{thread=\"%d\"} %llu\n", i,
                  (unsigned long long)RS_COUNTER_GET(pool->workers[i].heap_used));
  rs_metrics_family(out, "rustyssr_render_heap_limit_bytes", "gauge", "V8 heap limit, per render thread.");
  for (int i = 0; i < pool->nthreads; i++)
    rs_buf_printf(out, "rustyssr_render_heap_limit_bytes{thread=\"%d\"} %llu\n", i,
                  (unsigned long long)RS_COUNTER_GET(pool->workers[i].heap_limit));
}

/* ------------------------------------------------------------------ life */

uint64_t rs_pool_bundle_id(const rs_pool_t *pool) { return pool != NULL ? pool->bundle_id : 0; }

int rs_pool_create(const rs_config_t *cfg, rs_pool_t **out, char *err, size_t errlen) {
  *out = NULL;
  if (rs_v8_init(0) != 0) {
    snprintf(err, errlen, "V8 could not start");
    return -1;
  }
  /* Read once: every isolate, first or replaced, loads these bytes. */
  char *src = NULL;
  size_t src_len = 0;
  FILE *f = fopen(cfg->render.bundle, "rb");
  if (f != NULL) {
    if (fseek(f, 0, SEEK_END) == 0) {
      long n = ftell(f);
      if (n >= 0 && fseek(f, 0, SEEK_SET) == 0) {
        src = rs_xmalloc((size_t)n + 1);
        src_len = fread(src, 1, (size_t)n, f);
        if (src_len != (size_t)n) {
          free(src);
          src = NULL;
          src_len = 0;
        }
      }
    }
    fclose(f);
  }
  /* (When it could not be read, the shim reads it and says why.) */
  /* The first isolate is made here so a broken bundle stops the start. */
  rs_v8_engine_t *first = NULL;
  uint64_t t0 = rs_now_ms();
  if (rs__engine_new(cfg, src, src_len, NULL, 0, &first, err, errlen) != 0) {
    free(src);
    return -1;
  }
  uint64_t cold_ms = rs_now_ms() - t0;

  rs_pool_t *pool = rs_xcalloc(1, sizeof(*pool));
  pool->cfg = cfg;
  pool->src = src;
  pool->src_len = src_len;
  pool->bundle_id = XXH3_64bits(src ? src : "", src_len) | 1;
  pool->nthreads = cfg->render.threads > 0 ? cfg->render.threads : rs_topo_cores();
  if (rs_v8_engine_code_cache(first, &pool->code_cache, &pool->code_cache_len) != 0) {
    pool->code_cache = NULL;
    pool->code_cache_len = 0;
  }
  rs_log_info("render: bundle %s loaded in %llu ms (code cache %zu bytes), %d thread%s, queue %zu, "
              "timeout %llu ms, heap %d MB + young generation %d MB%s%s", cfg->render.bundle,
              (unsigned long long)cold_ms, pool->code_cache_len, pool->nthreads,
              pool->nthreads == 1 ? "" : "s", cfg->render.queue,
              (unsigned long long)cfg->render.timeout_ms, cfg->render.heap_mb,
              3 * cfg->render.semi_space_mb, rs_v8_flags()[0] ? ", V8 flags " : "", rs_v8_flags());

  uv_mutex_init(&pool->qlock);
  uv_cond_init(&pool->qcond);
  uv_mutex_init(&pool->wd_lock);
  uv_cond_init(&pool->wd_cond);
  if (posix_memalign((void **)&pool->workers, RS_CACHELINE,
                     sizeof(rs__worker_t) * (size_t)pool->nthreads) != 0)
    abort();
  memset(pool->workers, 0, sizeof(rs__worker_t) * (size_t)pool->nthreads);
  for (int i = 0; i < pool->nthreads; i++) {
    rs__worker_t *w = &pool->workers[i];
    w->pool = pool;
    w->index = i;
    uv_mutex_init(&w->lock);
  }
  /* Below where it started only when this process may (probed on the
   * calling thread, the main one, which the loop threads start from). */
  pool->base = rs_nice_get();
  pool->nice = rs_nice_allowed(cfg->render.nice) ? cfg->render.nice : pool->base;
  rs__v8_workers_nice(pool->nice, pool->base);
  /* The engine made here goes to worker 0: thread creation orders it. */
  pool->workers[0].engine = first;
  for (int i = 0; i < pool->nthreads; i++)
    if (uv_thread_create(&pool->workers[i].thread, rs__worker_main, &pool->workers[i]) != 0) abort();
  if (uv_thread_create(&pool->watchdog, rs__watchdog_main, pool) != 0) abort();
  *out = pool;
  return 0;
}

void rs_pool_destroy(rs_pool_t *pool) {
  if (pool == NULL) return;
  uv_mutex_lock(&pool->qlock);
  pool->stopping = true;
  uv_cond_broadcast(&pool->qcond);
  uv_mutex_unlock(&pool->qlock);
  for (int i = 0; i < pool->nthreads; i++) uv_thread_join(&pool->workers[i].thread);
  uv_mutex_lock(&pool->wd_lock);
  pool->wd_stop = true;
  uv_cond_signal(&pool->wd_cond);
  uv_mutex_unlock(&pool->wd_lock);
  uv_thread_join(&pool->watchdog);
  for (int i = 0; i < pool->nthreads; i++) uv_mutex_destroy(&pool->workers[i].lock);
  free(pool->workers);
  uv_mutex_destroy(&pool->qlock);
  uv_cond_destroy(&pool->qcond);
  uv_mutex_destroy(&pool->wd_lock);
  uv_cond_destroy(&pool->wd_cond);
  free(pool->code_cache);
  free(pool->src);
  free(pool);
}

int rs_pool_submit(rs_pool_t *pool, rs_render_job_t *job) {
  return rs_pool_submit_ex(pool, job, false);
}

int rs_pool_submit_ex(rs_pool_t *pool, rs_render_job_t *job, bool background) {
  job->queued_ms = rs_now_ms();
  job->_deadline_ms = job->queued_ms + pool->cfg->render.timeout_ms;
  job->_next = NULL;
  job->ttl = -1;
  /* Background work may use only half the queue: the other half is kept
   * for requests that have a client waiting. */
  size_t cap = background ? pool->cfg->render.queue / 2 : pool->cfg->render.queue;
  uv_mutex_lock(&pool->qlock);
  if (pool->qlen >= cap || pool->stopping) {
    uv_mutex_unlock(&pool->qlock);
    /* relaxed: counters, read on scrape */
    __atomic_fetch_add(background ? &pool->skipped : &pool->rejected, 1, __ATOMIC_RELAXED);
    return -EBUSY;
  }
  int which = background ? 1 : 0;
  __atomic_fetch_add(&pool->inflight, 1, __ATOMIC_RELAXED);  /* under qlock: before any deliver */
  if (pool->q[which].tail) pool->q[which].tail->_next = job; else pool->q[which].head = job;
  pool->q[which].tail = job;
  __atomic_store_n(&pool->qlen, pool->qlen + 1, __ATOMIC_RELAXED);
  uv_cond_signal(&pool->qcond);
  uv_mutex_unlock(&pool->qlock);
  return 0;
}

size_t rs_pool_queued(const rs_pool_t *pool) {
  return pool == NULL ? 0 : __atomic_load_n(&pool->qlen, __ATOMIC_RELAXED);
}

bool rs_pool_idle(const rs_pool_t *pool) {
  /* acquire: pairs with rs__deliver's release */
  return pool == NULL || __atomic_load_n(&pool->inflight, __ATOMIC_ACQUIRE) == 0;
}

void rs_pool_abort(rs_pool_t *pool) {
  if (pool == NULL) return;
  /* relaxed: workers look at it between jobs; the terminations below are
   * what stops the renders running now. */
  __atomic_store_n(&pool->aborting, 1, __ATOMIC_RELAXED);
  for (int i = 0; i < pool->nthreads; i++) {
    rs__worker_t *w = &pool->workers[i];
    uv_mutex_lock(&w->lock);
    if (w->running_id != 0 && w->engine != NULL) rs_v8_terminate(w->engine, w->running_id);
    uv_mutex_unlock(&w->lock);
  }
}

void rs_render_job_free(rs_render_job_t *job) {
  if (job == NULL) return;
  free(job->body);
  free(job->headers);
  free(job->error);
  for (size_t i = 0; i < job->ntags; i++) free(job->tags[i]);
  free(job->tags);
  free(job);
}
