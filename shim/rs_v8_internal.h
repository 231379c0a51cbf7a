// shim/rs_v8_internal.h — what the shim's .cc files share. C++ only, never
// included outside shim/.
#ifndef RS_V8_INTERNAL_H
#define RS_V8_INTERNAL_H

#include "rs_v8.h"

#include <v8.h>

#include <pthread.h>

#include <atomic>
#include <mutex>
#include <string>
#include <vector>

namespace rs__v8 {

// Property names used on every render, internalized once per engine so a
// request or result object costs no string-table lookups.
#define RS__V8_KEY_MAP(XX)                                                    \
  XX(url) XX(method) XX(path) XX(query) XX(params) XX(headers) XX(status)     \
  XX(html) XX(ttl) XX(tags) XX(stack)

enum key_id {
#define RS__V8_KEY_ENUM(k) KEY_##k,
  RS__V8_KEY_MAP(RS__V8_KEY_ENUM)
#undef RS__V8_KEY_ENUM
  KEY_COUNT
};

// Private symbols for the state TextDecoder keeps on its instances.
enum priv_id { PRIV_DECODER_STATE, PRIV_COUNT };

}  // namespace rs__v8

// The event loop and host state of rs_v8_host.cc.
struct rs__v8_host;

// An offset/length pair into engine::strs, turned into pointers once the
// buffer no longer moves.
struct rs__v8_span { size_t off, len; };

struct rs_v8_engine_s {
  v8::Isolate *isolate = nullptr;
  v8::ArrayBuffer::Allocator *allocator = nullptr;
  v8::Global<v8::Context> context;
  v8::Global<v8::Function> render_fn;
  v8::Global<v8::UnboundScript> script;
  v8::Global<v8::Function> u8_ctor;  // the realm's Uint8Array, pre-bundle
  v8::Global<v8::String> keys[rs__v8::KEY_COUNT];
  v8::Global<v8::Private> privs[rs__v8::PRIV_COUNT];

  rs_v8_log_cb log = nullptr;
  void *log_ud = nullptr;
  std::string bundle_path;
  size_t bundle_len = 0;
  uint64_t bundle_hash = 0;
  rs_v8_cache_status_t cache_status = RS_V8_CACHE_NONE;
  size_t heap_limit = 0;  // bytes, as configured

  // The render in progress, for console.* tags. Render thread only.
  uint64_t cur_request_id = 0;
  // Promises rejected with no handler yet during this render or load; what
  // is still here when it ends gets logged. Render thread only.
  std::vector<v8::Global<v8::Promise>> unhandled;
  // The thread whose stack limit the isolate was last given (see
  // rs__v8::enter_thread).
  pthread_t stack_thread{};
  bool stack_thread_set = false;

  // Termination handshake with the watchdog (rs_v8_terminate): `running`
  // and `running_id` say which render may be hit; `term_hit` records that it
  // was. Guarded by term_mu, which is held only for a few instructions.
  std::mutex term_mu;
  bool running = false;
  uint64_t running_id = 0;
  bool term_hit = false;

  // Set by the near-heap-limit callback (render thread, inside a GC); read
  // by the render thread after JS returns. Same thread, but written from a
  // callback V8 may invoke anywhere, hence atomic (relaxed is enough: one
  // thread).
  std::atomic<bool> oom{false};
  bool dead = false;
  int oom_calls = 0;

  // Output. buf holds the last html (NUL-terminated); strs holds header,
  // tag and error bytes; the vectors hold the spans and the final arrays.
  char *buf = nullptr;
  size_t buf_cap = 0;
  uint16_t *units = nullptr;        // write_html's UTF-16 scratch (reused)
  size_t units_cap = 0;             // in uint16_t
  const char *last_html = nullptr;  // == buf when the last result was OK
  size_t last_len = 0;
  std::string strs;
  std::vector<rs__v8_span> hdr_spans, tag_spans;
  std::vector<rs_v8_pair_t> hdrs;
  std::vector<rs_v8_str_t> tags;
  std::string err, stack;

  // rs_v8_host.cc: timers and port messages; the first error of this
  // render (or load) that no JS caught, reported when its promise never
  // settles. Render thread only.
  rs__v8_host *host = nullptr;
  bool first_set = false;
  std::string first_err, first_stack;
  // rs_v8_srcmap.cc: the bundle's //# sourceMappingURL, resolved beside it
  // ("" when none); the map is read at the first error that needs it.
  std::string map_path;
  struct rs__v8_srcmap *srcmap = nullptr;
  bool srcmap_tried = false;
};

namespace rs__v8 {

// --- rs_v8.cc
v8::Platform *platform();
// "file:line: text" for an exception (with its message, when V8 made one),
// into *out; the stack (Error#stack) into *stack when not null.
void describe_exception(v8::Isolate *iso, v8::Local<v8::Context> ctx,
                        v8::Local<v8::Value> exc, v8::Local<v8::Message> msg,
                        std::string *out, std::string *stack);
// Appends the UTF-8 of any value's string form (never throws).
void append_value(v8::Isolate *iso, v8::Local<v8::Context> ctx,
                  v8::Local<v8::Value> v, std::string *out);
// Appends the UTF-8 of s.
void append_utf8(v8::Isolate *iso, v8::Local<v8::String> s, std::string *out);
v8::Local<v8::String> str(v8::Isolate *iso, const char *p, size_t n);

// Gives the isolate the stack limit of the calling thread when the thread
// changed since the last call. Locker held, isolate entered.
void enter_thread(rs_v8_engine_s *e);

inline rs_v8_engine_s *engine_of(v8::Isolate *iso) {
  return static_cast<rs_v8_engine_s *>(iso->GetData(0));
}

// --- rs_v8_globals.cc: console, queueMicrotask, TextEncoder, TextDecoder.
// Returns false with a pending exception if something could not be set.
bool install_globals(v8::Isolate *iso, v8::Local<v8::Context> ctx);
// The isolate's message listener: errors nobody caught (queueMicrotask
// callbacks) go to the log.
void on_message(v8::Local<v8::Message> msg, v8::Local<v8::Value> data);
// The isolate's promise-reject hook: keeps e->unhandled up to date.
void on_promise_reject(v8::PromiseRejectMessage m);
// Logs every promise still in e->unhandled except `except` (the render's
// own result, whose rejection is the render error), then forgets them all.
void report_unhandled(rs_v8_engine_s *e, v8::Local<v8::Context> ctx,
                      v8::Local<v8::Value> except);

// --- rs_v8_host.cc: timers, MessageChannel, structuredClone, performance,
// crypto, process.env (see its top comment for the event loop).
bool install_host(v8::Isolate *iso, v8::Local<v8::Context> ctx, const rs_v8_opts_t *o);
// A render or load begins: virtual time 0, no first error.
void host_begin(rs_v8_engine_s *e);
// Runs tasks until p settles or none is left; false if terminating.
bool host_run_until(rs_v8_engine_s *e, v8::Local<v8::Context> ctx, v8::Local<v8::Promise> p);
// The render or load is over: runs what is already due (bounded), then
// cancels every task left.
void host_finish(rs_v8_engine_s *e, v8::Local<v8::Context> ctx);
void host_cancel(rs_v8_engine_s *e);
size_t host_pending(const rs_v8_engine_s *e);
void host_destroy(rs_v8_engine_s *e);
// Logs an error no JS caught (where: "a timer", ...) and keeps the first.
void note_uncaught(rs_v8_engine_s *e, v8::Local<v8::Context> ctx, v8::Local<v8::Value> exc,
                   v8::Local<v8::Message> msg, const char *where);

// --- rs_v8_srcmap.cc: " (src/app.jsx:10:5)" for a bundle position when the
// bundle has a source map beside it, else "". line and col are 1-based.
std::string srcmap_lookup(rs_v8_engine_s *e, int line, int col);
void srcmap_free(rs_v8_engine_s *e);
// The //# sourceMappingURL of src, as a path beside bundle_path ("" none).
std::string srcmap_find(const std::string &bundle_path, const char *src, size_t len);

// --- rs_v8_prelude.cc: runs the JS prelude (shim/js) in a new context.
// Returns false with a pending exception if it threw.
bool run_prelude(v8::Isolate *iso, v8::Local<v8::Context> ctx);

// --- version seams: where the V8 API moved between 10.2 and 12.
inline v8::ScriptOrigin script_origin(v8::Isolate *iso,
                                      v8::Local<v8::Value> name) {
#if V8_MAJOR_VERSION >= 12
  (void)iso;
  return v8::ScriptOrigin(name);
#else
  return v8::ScriptOrigin(iso, name);
#endif
}

// UTF-8 out of a string: V8 13.4 added Utf8LengthV2/WriteUtf8V2 and 14.x
// drops the old pair; 10.2 to 13.x have the old pair.
inline size_t utf8_length(v8::Isolate *iso, v8::Local<v8::String> s) {
#if V8_MAJOR_VERSION >= 14
  return s->Utf8LengthV2(iso);
#else
  return (size_t)s->Utf8Length(iso);
#endif
}

// Writes at most cap bytes of s as UTF-8: no NUL, never a partial
// character, lone surrogates as U+FFFD. Returns the bytes written; *units
// (if not null) gets the UTF-16 units consumed. With cap >= 3 * Length()
// the whole string always fits (and 10.2 skips its capacity checks).
inline size_t write_utf8(v8::Isolate *iso, v8::Local<v8::String> s, char *buf,
                         size_t cap, size_t *units = nullptr) {
#if V8_MAJOR_VERSION >= 14
  return s->WriteUtf8V2(iso, buf, cap, v8::String::WriteFlags::kReplaceInvalidUtf8,
                        units);
#else
  int n = 0;
  int w = s->WriteUtf8(iso, buf, cap > 0x7fffffff ? 0x7fffffff : (int)cap,
                       units ? &n : nullptr,
                       v8::String::NO_NULL_TERMINATION |
                           v8::String::REPLACE_INVALID_UTF8);
  if (units) *units = (size_t)n;
  return (size_t)w;
#endif
}

}  // namespace rs__v8

#endif
