// shim/rs_v8_prelude.cc — runs the JS prelude (shim/js/*.js, embedded at
// build time by shim/js/embed.cmake) in every new context, before the bundle:
// the web APIs written in JS (URL, streams, events, base64...) and the ES2023
// and ES2024 built-ins V8 10.2 lacks.
//
// Start-up cost: the prelude's text is handed to V8 without a copy (an
// external one-byte string over the static array), and its bytecode is
// compiled once per process: the first engine compiles the prelude and keeps
// a code cache of it, every later engine consumes that cache instead of
// parsing again (README "JavaScript environment" has the figures).
#include "rs_v8_internal.h"

#include <atomic>
#include <mutex>
#include <string>

namespace rs__v8 {
extern const char kPreludeSrc[];
extern const size_t kPreludeLen;
}  // namespace rs__v8

using namespace rs__v8;

namespace {

class prelude_resource : public v8::String::ExternalOneByteStringResource {
 public:
  const char *data() const override { return kPreludeSrc; }
  size_t length() const override { return kPreludeLen; }
  void Dispose() override {}  // static storage: nothing to free
};

prelude_resource g_resource;
std::atomic<int> g_mode{RS_V8_PRELUDE_CACHED};
// The process's code cache of the prelude: written once (under g_mu, then
// g_cache_made), read-only afterwards.
std::mutex g_mu;
std::string g_cache;
std::atomic<bool> g_cache_made{false};

}  // namespace

extern "C" void rs_v8_prelude_mode(int mode) { g_mode.store(mode); }

extern "C" size_t rs_v8_prelude_cache_size(void) {
  return g_cache_made.load() ? g_cache.size() : 0;
}

bool rs__v8::run_prelude(v8::Isolate *iso, v8::Local<v8::Context> ctx) {
  int mode = g_mode.load();
  if (mode == RS_V8_PRELUDE_OFF) return true;
  v8::Local<v8::String> src;
  if (!v8::String::NewExternalOneByte(iso, &g_resource).ToLocal(&src)) return false;
  v8::ScriptOrigin origin =
      script_origin(iso, v8::String::NewFromUtf8Literal(iso, "rustyssr:prelude"));
  v8::ScriptCompiler::CachedData *cd = nullptr;
  if (mode == RS_V8_PRELUDE_CACHED && g_cache_made.load() && !g_cache.empty()) {
    cd = new v8::ScriptCompiler::CachedData(
        reinterpret_cast<const uint8_t *>(g_cache.data()), (int)g_cache.size(),
        v8::ScriptCompiler::CachedData::BufferNotOwned);
  }
  v8::ScriptCompiler::Source source(src, origin, cd);  // owns cd
  v8::Local<v8::Script> script;
  if (!v8::ScriptCompiler::Compile(ctx, &source,
                                   cd ? v8::ScriptCompiler::kConsumeCodeCache
                                      : v8::ScriptCompiler::kNoCompileOptions)
           .ToLocal(&script))
    return false;
  v8::Local<v8::Value> ignored;
  if (!script->Run(ctx).ToLocal(&ignored)) return false;
  if (mode == RS_V8_PRELUDE_CACHED && !cd && !g_cache_made.load()) {
    std::lock_guard<std::mutex> lk(g_mu);
    if (!g_cache_made.load()) {
      // After the run: the functions the prelude ran at start are compiled
      // and go into the cache too.
      v8::ScriptCompiler::CachedData *made =
          v8::ScriptCompiler::CreateCodeCache(script->GetUnboundScript());
      if (made) {
        g_cache.assign(reinterpret_cast<const char *>(made->data), (size_t)made->length);
        delete made;
      }
      g_cache_made.store(true);
    }
  }
  return true;
}
