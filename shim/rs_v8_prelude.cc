// shim/rs_v8_prelude.cc — runs the JS prelude (shim/js/*.js, embedded at
// build time by shim/js/embed.cmake) in every new context, before the bundle:
// the web APIs written in JS (URL, streams, events, base64...) and the ES2023
// built-ins V8 10.2 lacks.
//
// Start-up cost, kept to about a millisecond (README "JavaScript
// environment" has the figures and the command):
// - the prelude's text goes to V8 without a copy (an external one-byte
//   string over the static array);
// - it is compiled once per process: the first engine compiles it in a
//   scratch context, runs its warm-up there (every lazy module loaded, its
//   common paths run, so their bytecode exists) and keeps a code cache of
//   the lot; every engine (the first
//   included) then compiles from that cache (kConsumeCodeCache) instead of
//   parsing;
// - the big modules (URL, streams, the encoding streams) are lazy globals:
//   the prelude returns a registry of them and each becomes a V8 lazy data
//   property, which JS sees as an ordinary data property and whose module
//   body runs on first use. A render that never touches them pays nothing.
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

bool compile(v8::Isolate *iso, v8::Local<v8::Context> ctx, bool use_cache,
             v8::Local<v8::Script> *out) {
  v8::Local<v8::String> src;
  if (!v8::String::NewExternalOneByte(iso, &g_resource).ToLocal(&src)) return false;
  v8::ScriptOrigin origin =
      script_origin(iso, v8::String::NewFromUtf8Literal(iso, "rustyssr:prelude"));
  v8::ScriptCompiler::CachedData *cd = nullptr;
  if (use_cache && g_cache_made.load() && !g_cache.empty())
    cd = new v8::ScriptCompiler::CachedData(
        reinterpret_cast<const uint8_t *>(g_cache.data()), (int)g_cache.size(),
        v8::ScriptCompiler::CachedData::BufferNotOwned);
  v8::ScriptCompiler::Source source(src, origin, cd);  // owns cd
  return v8::ScriptCompiler::Compile(ctx, &source,
                                     cd ? v8::ScriptCompiler::kConsumeCodeCache
                                        : v8::ScriptCompiler::kNoCompileOptions)
      .ToLocal(out);
}

// The getter of a lazy global: data is the registry's function giving the
// value. V8 replaces the property by its value once the getter returned.
void lazy_getter(v8::Local<v8::Name>, const v8::PropertyCallbackInfo<v8::Value> &info) {
  v8::Isolate *iso = info.GetIsolate();
  v8::Local<v8::Context> ctx = iso->GetCurrentContext();
  v8::Local<v8::Value> v;
  if (info.Data().As<v8::Function>()->Call(ctx, v8::Undefined(iso), 0, nullptr).ToLocal(&v))
    info.GetReturnValue().Set(v);
}

// For each name -> function of the registry the prelude returned (result[0]):
// a lazy data property on the global.
bool install_lazy(v8::Isolate *iso, v8::Local<v8::Context> ctx, v8::Local<v8::Value> result) {
  v8::Local<v8::Value> reg;
  if (!result->IsArray() || !result.As<v8::Array>()->Get(ctx, 0).ToLocal(&reg) ||
      !reg->IsObject())
    return false;
  v8::Local<v8::Object> obj = reg.As<v8::Object>();
  v8::Local<v8::Array> names;
  if (!obj->GetOwnPropertyNames(ctx).ToLocal(&names)) return false;
  v8::Local<v8::Object> global = ctx->Global();
  for (uint32_t i = 0; i < names->Length(); i++) {
    v8::Local<v8::Value> name, fn;
    if (!names->Get(ctx, i).ToLocal(&name) || !name->IsName() ||
        !obj->Get(ctx, name).ToLocal(&fn) || !fn->IsFunction())
      return false;
    if (global->SetLazyDataProperty(ctx, name.As<v8::Name>(), lazy_getter, fn, v8::DontEnum)
            .IsNothing())
      return false;
  }
  return true;
}

// Once per process: the prelude compiled, run and warmed up (90_warmup.js,
// which loads every lazy module and runs their common paths, promise jobs
// included) in a scratch context of this isolate, then its code cache. The
// scratch context gets no install_globals (they bind engine state, such as
// the realm's Uint8Array, to the context they are installed in): it borrows
// the few C++ globals the prelude calls from the engine's context `ctx`. A failure leaves no cache
// (every engine then compiles the prelude itself).
void make_cache(v8::Isolate *iso, v8::Local<v8::Context> ctx) {
  std::lock_guard<std::mutex> lk(g_mu);
  if (g_cache_made.load()) return;
  v8::HandleScope hs(iso);
  v8::Local<v8::Context> scratch = v8::Context::New(iso);
  if (!scratch.IsEmpty()) {
    scratch->SetSecurityToken(ctx->GetSecurityToken());
    v8::Context::Scope cs(scratch);
    v8::TryCatch tc(iso);
    for (const char *name : {"TextEncoder", "TextDecoder", "queueMicrotask"}) {
      v8::Local<v8::String> key = v8::String::NewFromUtf8(iso, name).ToLocalChecked();
      v8::Local<v8::Value> v;
      if (ctx->Global()->Get(ctx, key).ToLocal(&v) && !v->IsUndefined() &&
          scratch->Global()->Set(scratch, key, v).IsNothing())
        break;
    }
    v8::Local<v8::Script> script;
    v8::Local<v8::Value> reg;
    v8::Local<v8::Value> warmup, ignored;
    if (compile(iso, scratch, false, &script) &&
        script->Run(scratch).ToLocal(&reg) && install_lazy(iso, scratch, reg) &&
        reg.As<v8::Array>()->Get(scratch, 1).ToLocal(&warmup) && warmup->IsFunction() &&
        warmup.As<v8::Function>()->Call(scratch, v8::Undefined(iso), 0, nullptr).ToLocal(&ignored)) {
      iso->PerformMicrotaskCheckpoint();
      v8::ScriptCompiler::CachedData *made =
          v8::ScriptCompiler::CreateCodeCache(script->GetUnboundScript());
      if (made) {
        g_cache.assign(reinterpret_cast<const char *>(made->data), (size_t)made->length);
        delete made;
      }
    }
  }
  g_cache_made.store(true);
}

}  // namespace

extern "C" void rs_v8_prelude_mode(int mode) { g_mode.store(mode); }

extern "C" size_t rs_v8_prelude_cache_size(void) {
  return g_cache_made.load() ? g_cache.size() : 0;
}

bool rs__v8::run_prelude(v8::Isolate *iso, v8::Local<v8::Context> ctx) {
  int mode = g_mode.load();
  if (mode == RS_V8_PRELUDE_OFF) return true;
  bool cached = mode == RS_V8_PRELUDE_CACHED;
  if (cached && !g_cache_made.load()) make_cache(iso, ctx);
  v8::Local<v8::Script> script;
  v8::Local<v8::Value> reg;
  return compile(iso, ctx, cached, &script) && script->Run(ctx).ToLocal(&reg) &&
         install_lazy(iso, ctx, reg);
}
