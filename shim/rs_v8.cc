// shim/rs_v8.cc — process set-up, engines (create, destroy, code cache,
// heap, terminate), and the helpers the other shim files share.
// Rendering is in rs_v8_render.cc, the JS globals in rs_v8_globals.cc.
#include "rs_v8_internal.h"

#include <libplatform/libplatform.h>

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <thread>

using namespace rs__v8;

// render.semi_space_mb's default, chosen by bench/heap_sweep.sh.
#define RS__V8_SEMI_SPACE_MB 8
// The old generation's first mark-sweep threshold (see rs_v8_engine_create).
#define RS__V8_INITIAL_OLD_MB 32

extern "C" const char *rs_v8_version(void) { return v8::V8::GetVersion(); }

// ------------------------------------------------------------ outcomes

extern "C" const char *rs_v8_outcome_desc(rs_v8_outcome_t o) {
  switch (o) {
#define RS__V8_DESC(name, desc) case RS_V8_##name: return desc;
    RS_V8_OUTCOME_MAP(RS__V8_DESC)
#undef RS__V8_DESC
    default: return "unknown";
  }
}

extern "C" const char *rs_v8_outcome_name(rs_v8_outcome_t o) {
  switch (o) {
#define RS__V8_NAME(name, desc) case RS_V8_##name: return #name;
    RS_V8_OUTCOME_MAP(RS__V8_NAME)
#undef RS__V8_NAME
    default: return "UNKNOWN";
  }
}

// ------------------------------------------------------------ process

static void set_err(char *err, size_t errlen, const std::string &m);

static std::once_flag g_once;
static int g_init_rc = -EAGAIN;
// Deliberately never freed: V8 cannot be re-initialized, and tearing the
// platform down from a static destructor races V8's own exit-time work.
static v8::Platform *g_platform = nullptr;

v8::Platform *rs__v8::platform() { return g_platform; }

// Flags: applied once, before V8 starts (rs_v8_set_flags). g_started is
// set as rs_v8_init begins; both are guarded by g_flags_mu.
static std::mutex g_flags_mu;
static bool g_started = false;
static std::string g_flags;

extern "C" int rs_v8_set_flags(const char *flags, char *err, size_t errlen) {
  std::lock_guard<std::mutex> lk(g_flags_mu);
  std::string want = flags ? flags : "";
  if (g_started) return want == g_flags ? 0 : 1;
  std::vector<std::string> toks;
  size_t i = 0;
  while (i < want.size()) {
    while (i < want.size() && isspace((unsigned char)want[i])) i++;
    size_t b = i;
    while (i < want.size() && !isspace((unsigned char)want[i])) i++;
    if (i > b) toks.push_back(want.substr(b, i - b));
  }
  std::vector<char *> argv;
  argv.push_back(const_cast<char *>("rustyssr"));
  for (auto &t : toks) argv.push_back(&t[0]);
  argv.push_back(nullptr);
  int argc = (int)argv.size() - 1;
  // remove_flags: V8 takes out what it recognized and applied; what is left
  // is unknown, malformed, or not a flag at all.
  v8::V8::SetFlagsFromCommandLine(&argc, argv.data(), true);
  if (argc > 1) {
    std::string m = "unknown or invalid V8 flag";
    m += argc > 2 ? "s:" : ":";
    for (int k = 1; k < argc; k++) m.append(" ").append(argv[k]);
    m += " (see `node --v8-options` of a Node with V8 ";
    m += v8::V8::GetVersion();
    m += ")";
    set_err(err, errlen, m);
    return -EINVAL;
  }
  g_flags = want;
  return 0;
}

extern "C" const char *rs_v8_flags(void) {
  std::lock_guard<std::mutex> lk(g_flags_mu);
  return g_flags.c_str();
}

extern "C" int rs_v8_init(int platform_threads) {
  {
    std::lock_guard<std::mutex> lk(g_flags_mu);
    g_started = true;
  }
  std::call_once(g_once, [platform_threads] {
    // libnode is built against the system ICU, whose data is linked in
    // (libicudata), so there is no data file to point V8 at; this call is
    // then a cheap no-op that keeps Intl working if that ever changes.
    v8::V8::InitializeICU();
    std::unique_ptr<v8::Platform> p = v8::platform::NewDefaultPlatform(
        platform_threads > 0 ? platform_threads : 0);
    if (!p) {
      g_init_rc = -ENOMEM;
      return;
    }
    g_platform = p.release();
    v8::V8::InitializePlatform(g_platform);
    if (!v8::V8::Initialize()) {
      g_init_rc = -EINVAL;
      return;
    }
    g_init_rc = 0;
  });
  return g_init_rc;
}

// ------------------------------------------------------------ helpers

v8::Local<v8::String> rs__v8::str(v8::Isolate *iso, const char *p, size_t n) {
  // Only fails above String::kMaxLength; callers bound their lengths.
  v8::Local<v8::String> s;
  if (n > (size_t)v8::String::kMaxLength ||
      !v8::String::NewFromUtf8(iso, p ? p : "", v8::NewStringType::kNormal,
                               (int)n).ToLocal(&s))
    return v8::String::Empty(iso);
  return s;
}

void rs__v8::append_utf8(v8::Isolate *iso, v8::Local<v8::String> s,
                         std::string *out) {
  size_t at = out->size();
  // 3 bytes per UTF-16 unit is the worst case; one pass, no Utf8Length.
  out->resize(at + 3 * (size_t)s->Length());
  out->resize(at + write_utf8(iso, s, &(*out)[at], out->size() - at));
}

void rs__v8::append_value(v8::Isolate *iso, v8::Local<v8::Context> ctx,
                          v8::Local<v8::Value> v, std::string *out) {
  if (v->IsString()) return append_utf8(iso, v.As<v8::String>(), out);
  v8::TryCatch tc(iso);
  v8::Local<v8::String> s;
  // ToString runs JS (toString, Symbol.toPrimitive) and throws for symbols;
  // ToDetailString never throws.
  if (v->ToString(ctx).ToLocal(&s) || v->ToDetailString(ctx).ToLocal(&s))
    return append_utf8(iso, s, out);
  out->append("[unprintable value]");
}

// What a bundle built for Node.js trips on first: an esbuild or webpack
// require shim, or a Node global at the top level.
static bool node_target_error(const std::string &text) {
  static const char *const names[] = {"require", "Buffer", "__dirname", "__filename",
                                      "module", "exports", "global"};
  for (const char *n : names)
    if (text == std::string("ReferenceError: ") + n + " is not defined") return true;
  return text.find("Dynamic require of \"") != std::string::npos;
}

void rs__v8::describe_exception(v8::Isolate *iso, v8::Local<v8::Context> ctx,
                                v8::Local<v8::Value> exc,
                                v8::Local<v8::Message> msg, std::string *out,
                                std::string *stack) {
  v8::TryCatch tc(iso);  // nothing here may leak an exception to the caller
  rs_v8_engine_s *e = engine_of(iso);
  out->clear();
  std::string text;
  if (exc.IsEmpty())
    text = "unknown error";
  else
    append_value(iso, ctx, exc, &text);
  if (msg.IsEmpty() && !exc.IsEmpty()) msg = v8::Exception::CreateMessage(iso, exc);
  // The place: the message's (the throw site), except for a require shim,
  // whose caller is the place to look at.
  std::string where;
  int line = 0, col = 0;
  v8::Local<v8::Value> name;
  if (!msg.IsEmpty()) {
    name = msg->GetScriptResourceName();
    line = msg->GetLineNumber(ctx).FromMaybe(0);
    col = msg->GetStartColumn(ctx).FromMaybe(-1) + 1;
  }
  bool node = node_target_error(text);
  std::string fname;
  if (!name.IsEmpty() && name->IsString()) append_utf8(iso, name.As<v8::String>(), &fname);
  std::string st_text;
  if (!exc.IsEmpty() && exc->IsObject()) {
    v8::Local<v8::Value> st;
    if (exc.As<v8::Object>()->Get(ctx, e->keys[KEY_stack].Get(iso)).ToLocal(&st) &&
        st->IsString())
      append_utf8(iso, st.As<v8::String>(), &st_text);
  }
  if (node && text.find("Dynamic require") != std::string::npos) {
    // The second frame of the stack: "    at f (file:line:col)" or
    // "    at file:line:col".
    size_t a = st_text.find("\n    at ");
    a = a == std::string::npos ? a : st_text.find("\n    at ", a + 1);
    if (a != std::string::npos) {
      size_t nl = st_text.find('\n', a + 1);
      std::string f = st_text.substr(a + 8, nl == std::string::npos ? nl : nl - a - 8);
      if (!f.empty() && f.back() == ')') {
        size_t open = f.rfind('(');
        f = open == std::string::npos ? "" : f.substr(open + 1, f.size() - open - 2);
      }
      size_t c2 = f.rfind(':'), c1 = c2 == std::string::npos || c2 == 0 ? std::string::npos
                                                                          : f.rfind(':', c2 - 1);
      if (c1 != std::string::npos && c1 > 0) {
        int l = atoi(f.c_str() + c1 + 1), c = atoi(f.c_str() + c2 + 1);
        if (l > 0) {
          fname = f.substr(0, c1);
          line = l;
          col = c;
        }
      }
    }
  }
  if (!fname.empty() && line > 0) {
    out->append(fname);
    out->append(":").append(std::to_string(line));
    if (col > 0) out->append(":").append(std::to_string(col));
    out->append(": ");
  }
  out->append(text);
  if (node)
    out->append("; this bundle was built for Node.js: build it for a browser or worker "
                "target (see README 'Bundling')");
  if (e && line > 0 && fname == e->bundle_path)
    out->append(srcmap_lookup(e, line, col > 0 ? col : 1));
  if (stack) *stack = std::move(st_text);
}

static void set_err(char *err, size_t errlen, const std::string &m) {
  if (!err || errlen == 0) return;
  snprintf(err, errlen, "%s", m.c_str());
}

// A 64-bit hash of the bundle, word at a time, to tie a code cache to the
// exact bytes it was made from. V8's own check compares only the source
// length, so a rebuilt bundle of the same length would run stale bytecode.
static uint64_t hash_bytes(const char *p, size_t n) {
  const uint64_t k = 0x9E3779B97F4A7C15ull;
  uint64_t h = 0x243F6A8885A308D3ull ^ (n * k);
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    uint64_t w;
    memcpy(&w, p + i, 8);
    h = (h ^ w) * k;
    h ^= h >> 31;
  }
  uint64_t w = 0;
  memcpy(&w, p + i, n - i);
  h = (h ^ w) * k;
  h ^= h >> 29;
  h *= 0xBF58476D1CE4E5B9ull;
  return h ^ (h >> 32);
}

// The blob handed out by rs_v8_engine_code_cache: this header, then V8's.
struct cache_header {
  char magic[4];  // "RSC1"
  uint32_t v8_len;
  uint64_t bundle_len;
  uint64_t bundle_hash;
};

static int read_file(const char *path, std::string *out, std::string *why) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) goto fail;
  struct stat st;
  if (fstat(fd, &st) != 0) goto fail_fd;
  if (!S_ISREG(st.st_mode)) {
    close(fd);
    errno = EISDIR;
    goto fail;
  }
  out->resize((size_t)st.st_size);
  for (size_t got = 0; got < out->size();) {
    ssize_t r = read(fd, &(*out)[got], out->size() - got);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) goto fail_fd;
    if (r == 0) {  // shrank under us
      out->resize(got);
      break;
    }
    got += (size_t)r;
  }
  close(fd);
  return 0;
fail_fd : {
  int saved = errno;
  close(fd);
  errno = saved;
}
fail:
  *why = std::string(path) + ": " + strerror(errno);
  return -errno;
}

// ------------------------------------------------------------ stacks

// V8 assumes it may use 984 KB of stack below where the isolate is first
// used on a thread. A render thread with a smaller stack (256 KB, say)
// would then crash on deep recursion instead of getting a RangeError, so
// give V8 the real bottom of this thread's stack, less a margin for the C++
// frames V8 and the shim run below JS. Threads with big stacks keep V8's
// usual 984 KB.
void rs__v8::enter_thread(rs_v8_engine_s *e) {
  pthread_t self = pthread_self();
  if (e->stack_thread_set && pthread_equal(e->stack_thread, self)) return;
  char here;
  uintptr_t sp = reinterpret_cast<uintptr_t>(&here);
  uintptr_t limit = sp > (984u << 10) ? sp - (984u << 10) : 0;
  pthread_attr_t attr;
  if (pthread_getattr_np(self, &attr) == 0) {
    void *lo = nullptr;
    size_t size = 0;
    if (pthread_attr_getstack(&attr, &lo, &size) == 0 && lo) {
      size_t margin = size / 8 > (64u << 10) ? size / 8 : (64u << 10);
      uintptr_t floor = reinterpret_cast<uintptr_t>(lo) + margin;
      if (floor > limit) limit = floor < sp ? floor : sp;
    }
    pthread_attr_destroy(&attr);
  }
  e->isolate->SetStackLimit(limit);
  e->stack_thread = self;
  e->stack_thread_set = true;
}

// ------------------------------------------------------------ allocator

// ArrayBuffer memory lives outside the V8 heap; cap it at the heap limit so
// a bundle cannot take the process's memory through typed arrays. Over the
// cap, V8 sees a failed allocation and throws a RangeError in JS.
class counting_allocator final : public v8::ArrayBuffer::Allocator {
 public:
  explicit counting_allocator(size_t cap) : cap_(cap) {}
  void *Allocate(size_t n) override { return take(n, calloc(1, n ? n : 1)); }
  void *AllocateUninitialized(size_t n) override { return take(n, malloc(n ? n : 1)); }
  void Free(void *p, size_t n) override {
    free(p);
    // Relaxed: a counter, not a guard of other memory.
    used_.fetch_sub(n, std::memory_order_relaxed);
  }

 private:
  // Counts p's n bytes in, or frees it and returns null if that would pass
  // the cap (allocating first keeps the count exact when malloc fails).
  void *take(size_t n, void *p) {
    if (!p) return nullptr;
    // Relaxed: only the count matters; no data is published through it.
    size_t u = used_.fetch_add(n, std::memory_order_relaxed);
    if (u + n <= cap_) return p;
    used_.fetch_sub(n, std::memory_order_relaxed);
    free(p);
    return nullptr;
  }
  size_t cap_;
  std::atomic<size_t> used_{0};
};

// ------------------------------------------------------------ heap limit

// Called by V8 inside a GC when the heap nears its limit. Returning the
// current limit would make V8 abort the process; instead stop the JS that
// is allocating, give V8 room to finish what it is doing, and condemn the
// engine (its heap may be full of live garbage held by globals).
//
// How much room: the terminate lands at the next stack check, so little is
// allocated after this call, except the allocation in flight, which may be
// one huge object (new Array(2e7).fill(0) wants 160 MB at once; V8 caps a
// single array or string near 1 GB). If the room is smaller than that
// object, V8 aborts ("Reached heap limit"). So the first call grants up to
// 1 GB on top of the limit: memory that is only used if that one object
// really is that big, and is given back when the engine is destroyed.
static size_t near_heap_limit(void *data, size_t current, size_t initial) {
  rs_v8_engine_s *e = static_cast<rs_v8_engine_s *>(data);
  e->oom.store(true, std::memory_order_relaxed);
  e->isolate->TerminateExecution();
  // A builtin that allocates without stack checks may call back a few times
  // before the terminate lands; after that, let V8 die rather than eat the
  // machine's memory.
  if (++e->oom_calls > 8) return current;
  size_t extra = e->oom_calls == 1 ? (size_t)1 << 30 : initial / 2;
  if (extra < (32u << 20)) extra = 32u << 20;
  return current + extra;
}

// ------------------------------------------------------------ load watchdog

// Bounds the bundle's top level: a thread that terminates the isolate if
// loading takes longer than ms. It fires at most once; `fired` is read after
// join, so the join orders it.
class load_watch {
 public:
  load_watch(v8::Isolate *iso, int ms) {
    if (ms < 0) return;
    th_ = std::thread([this, iso, ms] {
      std::unique_lock<std::mutex> lk(mu_);
      if (!cv_.wait_for(lk, std::chrono::milliseconds(ms), [this] { return done_; })) {
        fired_ = true;
        iso->TerminateExecution();
      }
    });
  }
  // Stops the watch; true if it fired (then a terminate may be pending, and
  // the engine is thrown away whatever the script did).
  bool stop() {
    if (!th_.joinable()) return false;
    {
      std::lock_guard<std::mutex> lk(mu_);
      done_ = true;
    }
    cv_.notify_one();
    th_.join();
    return fired_;
  }
  ~load_watch() { stop(); }

 private:
  std::thread th_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool done_ = false, fired_ = false;
};

// ------------------------------------------------------------ engines

// Compiles and runs the bundle, then finds the render function. The isolate
// is locked and entered, a context scope is open. Returns 0 or -errno with
// *why set.
static int load_bundle(rs_v8_engine_s *e, v8::Local<v8::Context> ctx,
                       const rs_v8_opts_t *o, const char *src, size_t len,
                       std::string *why) {
  v8::Isolate *iso = e->isolate;
  v8::TryCatch tc(iso);
  v8::Local<v8::String> source;
  if (!v8::String::NewFromUtf8(iso, src, v8::NewStringType::kNormal, (int)len)
           .ToLocal(&source)) {
    *why = e->bundle_path + ": cannot make a string of the bundle";
    return -ENOMEM;
  }
  v8::ScriptOrigin origin = script_origin(iso, str(iso, e->bundle_path.data(),
                                                   e->bundle_path.size()));

  // A code cache is used only if it was made from these very bytes.
  v8::ScriptCompiler::CachedData *cd = nullptr;
  if (o->code_cache && o->code_cache_len > sizeof(cache_header)) {
    cache_header h;
    memcpy(&h, o->code_cache, sizeof h);
    if (memcmp(h.magic, "RSC1", 4) == 0 &&
        h.v8_len == o->code_cache_len - sizeof h && h.bundle_len == len &&
        h.bundle_hash == e->bundle_hash)
      cd = new v8::ScriptCompiler::CachedData(
          static_cast<const uint8_t *>(o->code_cache) + sizeof h, (int)h.v8_len,
          v8::ScriptCompiler::CachedData::BufferNotOwned);
    else
      e->cache_status = RS_V8_CACHE_REJECTED;
  } else if (o->code_cache) {
    e->cache_status = RS_V8_CACHE_REJECTED;
  }
  v8::ScriptCompiler::Source ssrc(source, origin, cd);  // owns cd
  v8::Local<v8::UnboundScript> us;
  load_watch watch(iso, o->load_timeout_ms == 0 ? 10000 : o->load_timeout_ms);
  bool ok = v8::ScriptCompiler::CompileUnboundScript(
                iso, &ssrc,
                cd ? v8::ScriptCompiler::kConsumeCodeCache
                   : v8::ScriptCompiler::kNoCompileOptions)
                .ToLocal(&us);
  if (cd)
    e->cache_status = ssrc.GetCachedData()->rejected ? RS_V8_CACHE_REJECTED
                                                      : RS_V8_CACHE_ACCEPTED;
  v8::Local<v8::Value> fnv;
  if (ok) {
    e->script.Reset(iso, us);
    e->cur_request_id = 0;
    host_begin(e);
    ok = !us->BindToCurrentContext()->Run(ctx).IsEmpty();
    // Top-level promise chains (async init) settle before the first render,
    // and so do the tasks due at once (setTimeout 0, port messages); later
    // timers are cancelled (rs_v8_host.cc).
    if (ok) iso->PerformMicrotaskCheckpoint();
    if (ok && !iso->IsExecutionTerminating()) host_finish(e, ctx);
    host_cancel(e);
    ok = ok && !tc.HasCaught();
    if (ok && !iso->IsExecutionTerminating()) report_unhandled(e, ctx, v8::Local<v8::Value>());
    e->unhandled.clear();
  }
  const char *fname = o->render_fn && *o->render_fn ? o->render_fn : "render";
  if (ok) ok = ctx->Global()->Get(ctx, str(iso, fname, strlen(fname))).ToLocal(&fnv);
  bool timed_out = watch.stop();

  if (e->oom.load(std::memory_order_relaxed)) {
    *why = e->bundle_path + ": heap limit (" +
           std::to_string(e->heap_limit >> 20) + " MB) reached while loading";
    return -ENOMEM;
  }
  if (timed_out) {
    *why = e->bundle_path + ": top-level code ran longer than " +
           std::to_string(o->load_timeout_ms ? o->load_timeout_ms : 10000) +
           " ms";
    return -ETIMEDOUT;
  }
  if (!ok) {
    std::string stk;
    describe_exception(iso, ctx, tc.Exception(), tc.Message(), why, &stk);
    if (tc.Message().IsEmpty() && why->find(e->bundle_path) != 0)
      *why = e->bundle_path + ": " + *why;
    // The stack on the same line (create's error is one line): its frames
    // after the first line, which repeats the message.
    size_t at = stk.find("\n    at ");
    if (at != std::string::npos) {
      std::string frames;
      for (size_t i = at; i != std::string::npos;) {
        size_t b = i + 5, nl = stk.find('\n', b);
        frames += (frames.empty() ? "" : " < ") + stk.substr(b, nl == std::string::npos ? nl : nl - b);
        i = nl;
      }
      *why += " (stack: " + frames + ")";
    }
    return -EINVAL;
  }
  if (!fnv->IsFunction()) {
    std::string t;
    append_utf8(iso, fnv->TypeOf(iso), &t);
    *why = e->bundle_path + ": no global function '" + fname +
           "' after loading (typeof " + fname + " is '" + t + "')";
    return -EINVAL;
  }
  e->render_fn.Reset(iso, fnv.As<v8::Function>());
  return 0;
}

extern "C" int rs_v8_engine_create(const rs_v8_opts_t *o, rs_v8_engine_t **out,
                                   char *err, size_t errlen) {
  *out = nullptr;
  if (g_init_rc != 0) {
    set_err(err, errlen, "rs_v8_init was not called or failed");
    return -EAGAIN;
  }
  if (!o || !o->bundle_path) {
    set_err(err, errlen, "no bundle path");
    return -EINVAL;
  }
  std::string file, why;
  const char *src = o->bundle_src;
  size_t len = o->bundle_len;
  if (!src) {
    int rc = read_file(o->bundle_path, &file, &why);
    if (rc != 0) {
      set_err(err, errlen, why);
      return rc;
    }
    src = file.data();
    len = file.size();
  }
  if (len > (size_t)v8::String::kMaxLength) {
    set_err(err, errlen, std::string(o->bundle_path) + ": bundle too large");
    return -EFBIG;
  }

  rs_v8_engine_s *e = new rs_v8_engine_s;
  e->bundle_path = o->bundle_path;
  e->bundle_len = len;
  e->bundle_hash = hash_bytes(src, len);
  e->log = o->log;
  e->log_ud = o->log_ud;
  e->heap_limit = (size_t)(o->heap_mb > 0 ? o->heap_mb : 128) << 20;
  e->allocator = new counting_allocator(e->heap_limit);
  e->map_path = srcmap_find(e->bundle_path, src, len);

  v8::Isolate::CreateParams params;
  params.array_buffer_allocator = e->allocator;
  // The old generation gets heap_mb (render.heap_mb, the heap limit); the
  // young generation is sized on its own: ConfigureDefaultsFromHeapSize
  // would leave it at 3 MB (1 MB semi-spaces), a scavenge every few renders
  // of a large page (bench/heap_sweep.sh, bench/README.md).
  size_t semi = (size_t)(o->semi_space_mb > 0 ? o->semi_space_mb : RS__V8_SEMI_SPACE_MB) << 20;
  params.constraints.set_max_old_generation_size_in_bytes(e->heap_limit);
  params.constraints.set_max_young_generation_size_in_bytes(3 * semi);
  // The old generation starts with room. Left to V8, its limit settles at
  // the live size plus a step, ~10 MB on the demo page: a mark-sweep every
  // ~170 renders, and each one drops the optimized code that only the
  // closures of past renders held (a bundle making closures per request,
  // as the demo's PRNG does), which V8 10.2 then compiled again
  // (bench/PROFILE.md). Measured over 5,000 renders: 17 mark-sweeps by
  // default, 6 from 32 MB (at most half the heap limit, V8's own cap), for
  // at most that much more garbage held per isolate.
  params.constraints.set_initial_old_generation_size_in_bytes(
      std::min<size_t>(RS__V8_INITIAL_OLD_MB << 20, e->heap_limit / 2));
  e->isolate = v8::Isolate::New(params);
  v8::Isolate *iso = e->isolate;
  int rc = 0;
  {
    v8::Locker locker(iso);
    v8::Isolate::Scope iscope(iso);
    v8::HandleScope hs(iso);
    iso->SetData(0, e);
    iso->AddNearHeapLimitCallback(near_heap_limit, e);
    iso->SetMicrotasksPolicy(v8::MicrotasksPolicy::kExplicit);
    iso->AddMessageListener(on_message);
    iso->SetPromiseRejectCallback(on_promise_reject);
    enter_thread(e);

#define RS__V8_KEY_INIT(k)                                                    \
  e->keys[KEY_##k].Reset(iso, v8::String::NewFromUtf8Literal(                 \
                                  iso, #k, v8::NewStringType::kInternalized));
    RS__V8_KEY_MAP(RS__V8_KEY_INIT)
#undef RS__V8_KEY_INIT
    e->privs[PRIV_DECODER_STATE].Reset(
        iso, v8::Private::New(iso, v8::String::NewFromUtf8Literal(
                                       iso, "rs.decoderState")));

    v8::Local<v8::Context> ctx = v8::Context::New(iso);
    if (ctx.IsEmpty()) {
      why = "cannot create a V8 context";
      rc = -ENOMEM;
    } else {
      e->context.Reset(iso, ctx);
      v8::Context::Scope cscope(ctx);
      v8::TryCatch tc(iso);
      if (!install_globals(iso, ctx) || !install_host(iso, ctx, o) || !run_prelude(iso, ctx)) {
        describe_exception(iso, ctx, tc.Exception(), tc.Message(), &why, nullptr);
        rc = -ENOMEM;
      } else {
        rc = load_bundle(e, ctx, o, src, len, &why);
      }
    }
  }
  if (rc != 0) {
    // No log callback after a failed create: forget it before tearing down.
    e->log = nullptr;
    rs_v8_engine_destroy(e);
    set_err(err, errlen, why);
    return rc;
  }
  *out = e;
  return 0;
}

extern "C" void rs_v8_engine_destroy(rs_v8_engine_t *e) {
  if (!e) return;
  v8::Isolate *iso = e->isolate;
  {
    v8::Locker locker(iso);
    v8::Isolate::Scope iscope(iso);
    e->unhandled.clear();
    host_destroy(e);
    e->render_fn.Reset();
    e->script.Reset();
    e->u8_ctor.Reset();
    e->context.Reset();
    for (auto &k : e->keys) k.Reset();
    for (auto &p : e->privs) p.Reset();
  }
  iso->Dispose();
  // After Dispose: nothing can post tasks for this isolate any more.
  v8::platform::NotifyIsolateShutdown(g_platform, iso);
  delete e->allocator;
  srcmap_free(e);
  free(e->buf);
  free(e->units);
  delete e;
}

extern "C" rs_v8_cache_status_t rs_v8_engine_cache_status(const rs_v8_engine_t *e) {
  return e->cache_status;
}

extern "C" int rs_v8_engine_usable(const rs_v8_engine_t *e) {
  return !e->dead && !e->oom.load(std::memory_order_relaxed);
}

extern "C" int rs_v8_engine_code_cache(rs_v8_engine_t *e, void **out, size_t *len) {
  *out = nullptr;
  *len = 0;
  v8::Isolate *iso = e->isolate;
  v8::Locker locker(iso);
  v8::Isolate::Scope iscope(iso);
  v8::HandleScope hs(iso);
  std::unique_ptr<v8::ScriptCompiler::CachedData> cd(
      v8::ScriptCompiler::CreateCodeCache(e->script.Get(iso)));
  if (!cd || cd->length <= 0) return -EINVAL;
  cache_header h;
  memcpy(h.magic, "RSC1", 4);
  h.v8_len = (uint32_t)cd->length;
  h.bundle_len = e->bundle_len;
  h.bundle_hash = e->bundle_hash;
  unsigned char *p = static_cast<unsigned char *>(malloc(sizeof h + h.v8_len));
  if (!p) return -ENOMEM;
  memcpy(p, &h, sizeof h);
  memcpy(p + sizeof h, cd->data, h.v8_len);
  *out = p;
  *len = sizeof h + h.v8_len;
  return 0;
}

extern "C" void rs_v8_engine_heap(rs_v8_engine_t *e, size_t *used, size_t *limit) {
  v8::Isolate *iso = e->isolate;
  v8::Locker locker(iso);
  v8::Isolate::Scope iscope(iso);
  v8::HeapStatistics hs;
  iso->GetHeapStatistics(&hs);
  if (used) *used = hs.used_heap_size();
  if (limit) *limit = hs.heap_size_limit();
}

extern "C" int rs_v8_terminate(rs_v8_engine_t *e, uint64_t request_id) {
  // Under term_mu the render cannot start or finish, so the render we hit is
  // the one named, and the render's finish sees term_hit and cancels the
  // terminate before any later JS runs.
  std::lock_guard<std::mutex> lk(e->term_mu);
  if (!e->running || e->running_id != request_id) return 0;
  e->term_hit = true;
  e->isolate->TerminateExecution();
  return 1;
}
