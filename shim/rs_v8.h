/* shim/rs_v8.h — the only door to V8. A small C API over V8 (libnode108,
 * V8 10.2; keeps compiling against 11.x/12.x). Nothing outside shim/ includes
 * a V8 header or is C++.
 *
 * Model: one process-wide V8 (rs_v8_init), then any number of engines. An
 * engine is one isolate + one context with the bundle loaded; it is used by
 * one thread at a time (normally the render worker that created it). Every
 * call taking an engine must come from the thread that currently owns it,
 * except rs_v8_terminate, which is meant for the watchdog thread.
 *
 * Strings crossing the API are UTF-8 with explicit lengths; none need a NUL.
 * Invalid UTF-8 going into JS becomes U+FFFD; strings coming out of JS are
 * always valid UTF-8 (lone surrogates become U+FFFD). */
#ifndef RS_V8_H
#define RS_V8_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The version string of the V8 linked in, e.g. "10.2.154.26-node.36".
 * Static storage; any thread. */
const char *rs_v8_version(void);

/* Initializes V8 and its platform once per process. Idempotent and
 * thread-safe: the first call does the work, later calls return its result
 * (their platform_threads is ignored). platform_threads is the size of V8's
 * background pool (GC, compilation); <= 0 lets V8 pick one per core.
 * Returns 0, or a negative errno if V8 could not start. V8 cannot be shut
 * down and restarted: there is no rs_v8_dispose. */
int rs_v8_init(int platform_threads);

/* V8 flags for experts (render.v8_flags): a space-separated list such as
 * "--max-lazy --no-opt". V8's flags are process-wide and are read when the
 * first isolate is made, so they can be set once, before rs_v8_init:
 * - before rs_v8_init: applies them; returns 0, or -EINVAL with err naming
 *   every flag V8 did not recognize or whose value it refused (V8 has no
 *   "is this flag known" call: the flags are parsed by V8 itself, which
 *   leaves the ones it does not know);
 * - after rs_v8_init (a reload): applies nothing; returns 0 when flags are
 *   the ones already applied, 1 when they differ (they take effect at the
 *   next start; `rustyssr -t` checks them in a fresh process).
 * NULL or "" means no flags. Any thread; not concurrently with itself. */
int rs_v8_set_flags(const char *flags, char *err, size_t errlen);

/* The V8 flags applied by rs_v8_set_flags ("" when none). Valid until the
 * next rs_v8_set_flags; any thread. */
const char *rs_v8_flags(void);

/* Render outcomes, written once: XX(NAME, description). */
#define RS_V8_OUTCOME_MAP(XX)                                                 \
  XX(OK, "ok")                                                                \
  XX(ERROR, "render error")              /* throw, rejection, bad result */   \
  XX(TIMEOUT, "render terminated")       /* rs_v8_terminate hit it */         \
  XX(OOM, "heap limit reached")          /* engine must be replaced */        \
  XX(BADARG, "invalid render input")     /* e.g. props is not JSON */         \
  XX(DEAD, "engine must be replaced")    /* an earlier render hit OOM */

typedef enum {
#define RS_V8__OUTCOME_ENUM(name, desc) RS_V8_##name,
  RS_V8_OUTCOME_MAP(RS_V8__OUTCOME_ENUM)
#undef RS_V8__OUTCOME_ENUM
  RS_V8_OUTCOME_COUNT
} rs_v8_outcome_t;

/* "ok", "render error", ...; "unknown" for a value outside the enum.
 * Static storage; any thread. */
const char *rs_v8_outcome_desc(rs_v8_outcome_t o);
/* "OK", "ERROR", "TIMEOUT", ... (for metrics labels). Static; any thread. */
const char *rs_v8_outcome_name(rs_v8_outcome_t o);

/* Log levels of console.*; the same numbers as core's rs_log_level_t. */
enum {
  RS_V8_LOG_ERROR = 0, /* console.error, uncaught errors in microtasks */
  RS_V8_LOG_WARN = 1,  /* console.warn */
  RS_V8_LOG_INFO = 2,  /* console.log, console.info */
  RS_V8_LOG_DEBUG = 3  /* console.debug, console.trace */
};

/* Called synchronously on the engine's thread for console.* output, and at
 * RS_V8_LOG_ERROR for what JS lost: an error thrown by a queueMicrotask
 * callback, a timer or a message handler ("uncaught in a timer: " + stack),
 * a promise rejected with no handler when the render (or the load) ended
 * ("unhandled promise rejection: " + stack). The render's own result
 * is not logged: its rejection is the render's error. request_id is the id
 * of the render in progress, 0 while the bundle loads. msg is UTF-8, len
 * bytes, NUL-terminated as a courtesy, valid only during the call. */
typedef void (*rs_v8_log_cb)(void *ud, int level, uint64_t request_id,
                             const char *msg, size_t len);

/* A name/value pair; UTF-8, explicit lengths. */
typedef struct {
  const char *name;
  size_t name_len;
  const char *value;
  size_t value_len;
} rs_v8_pair_t;

/* Engine options. Zero-initialize, then set what you need; the engine copies
 * what it keeps, so everything here may be freed once create returns. */
typedef struct {
  const char *bundle_path; /* required: read unless bundle_src is set; also
                              the script's name in errors and stacks */
  const char *bundle_src;  /* optional: the bundle already in memory */
  size_t bundle_len;       /* bytes of bundle_src */
  const char *render_fn;   /* global function to call; NULL → "render" */
  int heap_mb;             /* V8 old-generation cap (the heap limit);
                              0 → 128 */
  int semi_space_mb;       /* V8 semi-space, as Node's
                              --max-semi-space-size: the young generation is
                              3x this (two semi-spaces and the new
                              large-object space); 0 → 8 (bench/heap_sweep.sh) */
  const rs_v8_pair_t *env; /* process.env's entries (strings); NODE_ENV is
                              "production" unless given here */
  size_t nenv;
  int load_timeout_ms;     /* cap on running the bundle's top level (an
                              endless loop there); 0 → 10000, < 0 → none */
  const void *code_cache;  /* optional: a blob from rs_v8_engine_code_cache
                              for this same bundle; a stale or foreign blob is
                              detected and ignored (see cache status) */
  size_t code_cache_len;
  rs_v8_log_cb log;        /* optional: console.* goes nowhere when NULL */
  void *log_ud;
} rs_v8_opts_t;

typedef struct rs_v8_engine_s rs_v8_engine_t;

/* Creates an engine: isolate, context with console, queueMicrotask,
 * TextEncoder, TextDecoder, the web host APIs of rs_v8_host.cc (timers,
 * MessageChannel, structuredClone, performance, crypto, process.env) and the
 * JS prelude (README "JavaScript environment"), then runs the bundle's top
 * level, its microtasks and the tasks due at once (later timers are
 * cancelled), and checks that the render function exists.
 * Returns 0 and sets *out, owned by the caller (rs_v8_engine_destroy).
 * On failure *out is NULL, err (if errlen > 0) holds one line naming the file,
 * the line and the reason, e.g.
 *   "tests/js/syntax_error.js:3:16: SyntaxError: Unexpected token '}'"
 * (file:line:column; for a thrown error, its stack follows on the same line,
 * "(stack: at f (app.js:4:9) < at app.js:6:1)"; with a source map beside the
 * bundle, the original place after the reason, "(src/app.ts:10:5)"; for a
 * bundle built for Node.js, "; this bundle was built for Node.js: ...")
 * and the return is -ENOENT/-EACCES/... (bundle unreadable), -EINVAL (syntax
 * error, a throw at top level, no render function), -ETIMEDOUT (top level ran
 * past load_timeout_ms), -ENOMEM (heap limit while loading), -EFBIG (bundle
 * over V8's string limit), -EAGAIN (rs_v8_init not called or failed).
 * The log callback is never called after a failed create returns.
 * Any thread, once rs_v8_init has returned 0; that thread should be the one
 * that renders (it may hand the engine to another thread, one at a time,
 * with the usual happens-before). Threads with small stacks are fine: the
 * shim gives V8 each thread's real stack bounds, so deep recursion is a
 * RangeError, not a crash. */
int rs_v8_engine_create(const rs_v8_opts_t *opts, rs_v8_engine_t **out,
                        char *err, size_t errlen);

/* Destroys an engine and everything it owns, including a result not taken.
 * NULL is a no-op. The owning thread; no render running, and the watchdog
 * must have forgotten the engine (rs_v8_terminate after destroy is a
 * use-after-free). */
void rs_v8_engine_destroy(rs_v8_engine_t *e);

/* How the code cache given to create was received. */
typedef enum {
  RS_V8_CACHE_NONE = 0,     /* none given */
  RS_V8_CACHE_ACCEPTED = 1, /* V8 took it: no full parse and compile */
  RS_V8_CACHE_REJECTED = 2  /* other bundle, other V8 or flags, corrupt */
} rs_v8_cache_status_t;

/* The status above for this engine. Owning thread. */
rs_v8_cache_status_t rs_v8_engine_cache_status(const rs_v8_engine_t *e);

/* Serializes the bytecode V8 has compiled so far for the bundle, tagged with
 * a hash of the bundle's bytes, for later engines' opts.code_cache. Functions
 * compile lazily, so a blob taken after a render or two covers the render
 * path too. Returns 0 and sets *out (malloc'd, the caller frees) and *len, or
 * -ENOMEM / -EINVAL (V8 produced nothing). Owning thread, between renders. */
int rs_v8_engine_code_cache(rs_v8_engine_t *e, void **out, size_t *len);

/* V8 heap in use and the heap limit, in bytes (the limit grows past heap_mb
 * once the near-limit callback fired). Owning thread, between renders. */
void rs_v8_engine_heap(rs_v8_engine_t *e, size_t *used, size_t *limit);

/* 1 while the engine can render, 0 once it must be replaced (after OOM).
 * Owning thread. */
int rs_v8_engine_usable(const rs_v8_engine_t *e);

/* A string; UTF-8, explicit length. */
typedef struct {
  const char *ptr;
  size_t len;
} rs_v8_str_t;

/* One render's input. Borrowed for the duration of rs_v8_render only.
 * JS sees render(request, props) with
 *   request = { url, method, path, query: {..}, params: {..}, headers: {..} }
 * - query: a name repeated becomes an array of its values, in order (as
 *   Node's querystring and Express do); pass values already percent-decoded.
 * - headers: names are lower-cased here; a repeated header is joined with
 *   ", " ("; " for cookie), as Node does.
 * - props: JSON text, parsed with JSON.parse; empty (len 0) → {}. */
typedef struct {
  uint64_t id; /* request id: console.* tags and rs_v8_terminate's target */
  const char *url;    size_t url_len;    /* request target, "/p?a=1" */
  const char *method; size_t method_len;
  const char *path;   size_t path_len;
  const rs_v8_pair_t *query;   size_t nquery;
  const rs_v8_pair_t *params;  size_t nparams;
  const rs_v8_pair_t *headers; size_t nheaders;
  const char *props_json; size_t props_len;
} rs_v8_request_t;

/* One render's output. Every pointer in it is owned by the engine and stays
 * valid until the next rs_v8_render or rs_v8_engine_destroy on that engine
 * (rs_v8_result_take_html hands the html buffer over instead).
 * For RS_V8_OK:
 *   status: 200 for a string result, else the object's status (default 200);
 *   html: UTF-8, html_len bytes, followed by a NUL not counted in html_len;
 *   headers: as the object gave them, names lower-cased, values validated
 *     (no CR/LF/NUL); an array value gives one pair per element. Empty for a
 *     string result: the caller supplies "text/html; charset=utf-8";
 *   ttl: seconds, or -1 when the result had none; tags: the tags array.
 * For any other outcome: html is "", headers and tags are empty, status is
 * 500, and error holds one line ("bundle.js:12:7: Error: boom", "render promise
 * never settled", ...) and stack the JS stack when there was one ("" else);
 * both are for the log, never for the client. Both are NUL-terminated. */
typedef struct {
  rs_v8_outcome_t outcome;
  int status;
  int ttl;
  const char *html;
  size_t html_len;
  const rs_v8_pair_t *headers;
  size_t nheaders;
  const rs_v8_str_t *tags;
  size_t ntags;
  const char *error;
  size_t error_len;
  const char *stack;
  size_t stack_len;
} rs_v8_result_t;

/* Calls the bundle's render function for req and fills *out (always filled,
 * whatever the outcome, which is also returned). A Promise result is settled
 * by running microtasks, then timers and port messages one task at a time
 * (in virtual time: no sleeping), each followed by a microtask checkpoint;
 * one still pending when nothing is left to run is an ERROR naming the first
 * error no JS caught during the render, or else the first unhandled
 * rejection ("...: ReferenceError: x is not defined (so the render's promise
 * never settled)"), or "render promise never settled". Once the result is
 * known, the tasks due at that virtual time run (bounded) and every other
 * task is cancelled. After RS_V8_OOM, and
 * only then, the engine is unusable: later renders return RS_V8_DEAD; destroy
 * it and create a fresh one. After TIMEOUT the engine stays usable.
 * Owning thread only; one render at a time per engine. */
rs_v8_outcome_t rs_v8_render(rs_v8_engine_t *e, const rs_v8_request_t *req,
                             rs_v8_result_t *out);

/* Hands the html buffer of the engine's last result (out) to the caller: a
 * malloc'd block holding out->html_len bytes and the NUL (its capacity may be
 * larger; realloc it to shrink). The caller frees it with free(). Afterwards
 * out->html is NULL; the engine allocates a new buffer at its next render.
 * Returns NULL if out is not the engine's last OK result. Owning thread. */
char *rs_v8_result_take_html(rs_v8_engine_t *e, rs_v8_result_t *out);

/* Stops the render of request `request_id` on engine e if, and only if, that
 * render is running now: it then returns RS_V8_TIMEOUT (or its normal
 * outcome, if its JS had just finished) and e stays usable.
 * A terminate that arrives before that render started or after it finished
 * does nothing and can never hit another render (the check and the
 * TerminateExecution happen under the engine's small lock, which the render
 * takes to start and to finish). Returns 1 if it asked V8 to stop that
 * render, 0 if that render was not running.
 * Any thread (it is meant for the watchdog); e must stay alive during the
 * call, so the watchdog and the owning thread agree on destroy. */
int rs_v8_terminate(rs_v8_engine_t *e, uint64_t request_id);

/* The JS prelude (shim/js: URL, streams, events, base64, the ES2023
 * built-ins V8 10.2 lacks) that every new engine runs before its bundle. For
 * benchmarks and tests only: OFF skips it, UNCACHED compiles it for every
 * engine, CACHED (the default) compiles and warms it up once per process and
 * has every engine consume that code cache. Affects engines created
 * afterwards; any thread. */
enum { RS_V8_PRELUDE_OFF = 0, RS_V8_PRELUDE_UNCACHED = 1, RS_V8_PRELUDE_CACHED = 2 };
void rs_v8_prelude_mode(int mode);
/* Bytes of the prelude's process-wide code cache; 0 before the first engine. */
size_t rs_v8_prelude_cache_size(void);

#ifdef __cplusplus
}
#endif
#endif
