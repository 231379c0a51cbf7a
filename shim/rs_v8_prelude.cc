// shim/rs_v8_prelude.cc — runs the JS prelude (shim/js, embedded at build
// time by shim/js/embed.cmake) in every new context, before the bundle: the
// web APIs written in JS (URL, streams, events, base64...) and the ES2023
// built-ins V8 10.2 lacks.
//
// Start-up cost, kept to about half a millisecond (README "JavaScript
// environment" has the figures and the command):
// - the prelude is small and eager (the ES built-ins, a registry of lazy
//   globals); everything else is a lazy module (shim/js/lazy/*.js), a
//   script of its own compiled and run in a context only when one of its
//   globals is first touched. The globals are V8 lazy data properties, which
//   JS sees as ordinary data properties; a render that never touches URL or
//   the streams pays nothing for them;
// - the texts go to V8 without a copy (external one-byte strings over the
//   static arrays);
// - every script is compiled once per process: the first engine compiles
//   the prelude in a scratch context, runs its warm-up there (every module
//   loaded and its common paths run, so their bytecode exists) and keeps a
//   code cache of each script; every engine, the first included, compiles
//   from those caches (kConsumeCodeCache) instead of parsing.
#include "rs_v8_internal.h"

#include <atomic>
#include <mutex>
#include <string>
#include <vector>

namespace rs__v8 {
struct prelude_source {
  const char *name;
  const char *src;
  size_t len;
};
extern const prelude_source kPreludeMain;
extern const prelude_source kPreludeModules[];  // ends with a null name
}  // namespace rs__v8

using namespace rs__v8;

namespace {

constexpr int kMaxModules = 16;
constexpr int kMain = -1;  // script index of the prelude itself

class source_resource : public v8::String::ExternalOneByteStringResource {
 public:
  const prelude_source *s = nullptr;
  const char *data() const override { return s->src; }
  size_t length() const override { return s->len; }
  void Dispose() override {}  // static storage: nothing to free
};

source_resource g_res_main, g_res_mod[kMaxModules];
int g_nmodules = 0;
std::once_flag g_res_once;

void init_resources() {
  g_res_main.s = &kPreludeMain;
  for (g_nmodules = 0; kPreludeModules[g_nmodules].name && g_nmodules < kMaxModules; g_nmodules++)
    g_res_mod[g_nmodules].s = &kPreludeModules[g_nmodules];
}

std::atomic<int> g_mode{RS_V8_PRELUDE_CACHED};
// The process's code caches, one per script: written once (under g_mu,
// then g_cache_made), read-only afterwards.
std::mutex g_mu;
std::string g_cache_main, g_cache_mod[kMaxModules];
std::atomic<bool> g_cache_made{false};
// While make_cache warms up: the isolate doing it, and the module scripts
// it compiled (their code caches are made afterwards).
std::atomic<v8::Isolate *> g_collect_iso{nullptr};
std::vector<v8::Global<v8::UnboundScript>> *g_collected = nullptr;

bool compile(v8::Isolate *iso, v8::Local<v8::Context> ctx, int idx, bool use_cache,
             v8::Local<v8::Script> *out) {
  source_resource *res = idx == kMain ? &g_res_main : &g_res_mod[idx];
  const std::string &cache = idx == kMain ? g_cache_main : g_cache_mod[idx];
  // Stacks name the prelude "rustyssr:prelude", a module "rustyssr:prelude/url".
  std::string label = "rustyssr:prelude";
  if (idx != kMain) label = label + "/" + res->s->name;
  v8::Local<v8::String> src, name;
  if (!v8::String::NewExternalOneByte(iso, res).ToLocal(&src) ||
      !v8::String::NewFromUtf8(iso, label.data(), v8::NewStringType::kNormal, (int)label.size())
           .ToLocal(&name))
    return false;
  v8::ScriptOrigin origin = script_origin(iso, name);
  v8::ScriptCompiler::CachedData *cd = nullptr;
  if (use_cache && g_cache_made.load() && !cache.empty())
    cd = new v8::ScriptCompiler::CachedData(reinterpret_cast<const uint8_t *>(cache.data()),
                                            (int)cache.size(),
                                            v8::ScriptCompiler::CachedData::BufferNotOwned);
  v8::ScriptCompiler::Source source(src, origin, cd);  // owns cd
  return v8::ScriptCompiler::Compile(ctx, &source,
                                     cd ? v8::ScriptCompiler::kConsumeCodeCache
                                        : v8::ScriptCompiler::kNoCompileOptions)
      .ToLocal(out);
}

// loadModule(name), given to the prelude: compiles and runs
// shim/js/lazy/<name>.js, returning its function ($, globalThis).
void load_module(const v8::FunctionCallbackInfo<v8::Value> &info) {
  v8::Isolate *iso = info.GetIsolate();
  v8::Local<v8::Context> ctx = iso->GetCurrentContext();
  v8::String::Utf8Value want(iso, info[0]);
  int idx = -1;
  for (int i = 0; *want && i < g_nmodules; i++)
    if (strcmp(g_res_mod[i].s->name, *want) == 0) idx = i;
  if (idx < 0) {
    iso->ThrowException(v8::Exception::Error(
        v8::String::NewFromUtf8Literal(iso, "rustyssr: no such prelude module")));
    return;
  }
  v8::Local<v8::Script> script;
  v8::Local<v8::Value> fn;
  if (!compile(iso, ctx, idx, g_mode.load() == RS_V8_PRELUDE_CACHED, &script) ||
      !script->Run(ctx).ToLocal(&fn))
    return;  // exception pending
  if (g_collect_iso.load() == iso && g_collected)
    (*g_collected)[idx].Reset(iso, script->GetUnboundScript());
  info.GetReturnValue().Set(fn);
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

// Compiles and runs the prelude in ctx: *result is its [registry, warmup];
// the registry's globals become lazy data properties of ctx's global.
bool run_main(v8::Isolate *iso, v8::Local<v8::Context> ctx, bool use_cache,
              v8::Local<v8::Script> *script, v8::Local<v8::Array> *result) {
  v8::Local<v8::Value> fn, res, reg;
  v8::Local<v8::Function> loader;
  if (!compile(iso, ctx, kMain, use_cache, script) || !(*script)->Run(ctx).ToLocal(&fn) ||
      !fn->IsFunction() || !v8::Function::New(ctx, load_module).ToLocal(&loader))
    return false;
  v8::Local<v8::Value> args[] = {ctx->Global(), loader};
  if (!fn.As<v8::Function>()->Call(ctx, v8::Undefined(iso), 2, args).ToLocal(&res) ||
      !res->IsArray())
    return false;
  *result = res.As<v8::Array>();
  if (!(*result)->Get(ctx, 0).ToLocal(&reg) || !reg->IsObject()) return false;
  v8::Local<v8::Object> obj = reg.As<v8::Object>();
  v8::Local<v8::Array> names;
  if (!obj->GetOwnPropertyNames(ctx).ToLocal(&names)) return false;
  v8::Local<v8::Object> global = ctx->Global();
  for (uint32_t i = 0; i < names->Length(); i++) {
    v8::Local<v8::Value> name, getter;
    if (!names->Get(ctx, i).ToLocal(&name) || !name->IsName() ||
        !obj->Get(ctx, name).ToLocal(&getter) || !getter->IsFunction() ||
        global->SetLazyDataProperty(ctx, name.As<v8::Name>(), lazy_getter, getter, v8::DontEnum)
            .IsNothing())
      return false;
  }
  return true;
}

std::string code_cache_of(v8::Local<v8::UnboundScript> s) {
  std::string out;
  if (v8::ScriptCompiler::CachedData *made = v8::ScriptCompiler::CreateCodeCache(s)) {
    out.assign(reinterpret_cast<const char *>(made->data), (size_t)made->length);
    delete made;
  }
  return out;
}

// Once per process: the prelude compiled, run and warmed up (90_warmup.js,
// which loads every module and runs their common paths, promise jobs
// included) in a scratch context of this isolate, then the code caches. The
// scratch context gets no install_globals (they bind engine state, such as
// the realm's Uint8Array, to the context they are installed in): it borrows
// the few C++ globals the prelude calls from the engine's context `ctx`. A
// failure leaves no cache (every engine then compiles the prelude itself).
void make_cache(v8::Isolate *iso, v8::Local<v8::Context> ctx) {
  std::lock_guard<std::mutex> lk(g_mu);
  if (g_cache_made.load()) return;
  v8::HandleScope hs(iso);
  v8::Local<v8::Context> scratch = v8::Context::New(iso);
  std::vector<v8::Global<v8::UnboundScript>> collected(g_nmodules);
  if (!scratch.IsEmpty()) {
    scratch->SetSecurityToken(ctx->GetSecurityToken());
    v8::Context::Scope cs(scratch);
    v8::TryCatch tc(iso);
    bool ok = true;
    for (const char *name : {"TextEncoder", "TextDecoder", "queueMicrotask"}) {
      v8::Local<v8::String> key = v8::String::NewFromUtf8(iso, name).ToLocalChecked();
      v8::Local<v8::Value> v;
      if (ctx->Global()->Get(ctx, key).ToLocal(&v) && !v->IsUndefined() &&
          scratch->Global()->Set(scratch, key, v).IsNothing())
        ok = false;
    }
    v8::Local<v8::Script> script;
    v8::Local<v8::Array> result;
    v8::Local<v8::Value> warmup, ignored;
    g_collected = &collected;
    g_collect_iso.store(iso);
    ok = ok && run_main(iso, scratch, false, &script, &result) &&
         result->Get(scratch, 1).ToLocal(&warmup) && warmup->IsFunction() &&
         warmup.As<v8::Function>()->Call(scratch, v8::Undefined(iso), 0, nullptr).ToLocal(&ignored);
    if (ok) iso->PerformMicrotaskCheckpoint();
    g_collect_iso.store(nullptr);
    g_collected = nullptr;
    if (ok && !tc.HasCaught()) {
      g_cache_main = code_cache_of(script->GetUnboundScript());
      for (int i = 0; i < g_nmodules; i++)
        if (!collected[i].IsEmpty()) g_cache_mod[i] = code_cache_of(collected[i].Get(iso));
    }
  }
  for (auto &g : collected) g.Reset();
  g_cache_made.store(true);
}

}  // namespace

extern "C" void rs_v8_prelude_mode(int mode) { g_mode.store(mode); }

extern "C" size_t rs_v8_prelude_cache_size(void) {
  if (!g_cache_made.load()) return 0;
  size_t n = g_cache_main.size();
  for (int i = 0; i < g_nmodules; i++) n += g_cache_mod[i].size();
  return n;
}

bool rs__v8::run_prelude(v8::Isolate *iso, v8::Local<v8::Context> ctx) {
  std::call_once(g_res_once, init_resources);
  int mode = g_mode.load();
  if (mode == RS_V8_PRELUDE_OFF) return true;
  bool cached = mode == RS_V8_PRELUDE_CACHED;
  if (cached && !g_cache_made.load()) make_cache(iso, ctx);
  v8::Local<v8::Script> script;
  v8::Local<v8::Array> result;
  return run_main(iso, ctx, cached, &script, &result);
}
