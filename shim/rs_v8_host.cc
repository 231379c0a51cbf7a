// shim/rs_v8_host.cc — the web host APIs of an isolate that need its event
// loop or the machine: setTimeout / setInterval and their clears,
// MessageChannel / MessagePort, structuredClone, performance.now() /
// timeOrigin, crypto.getRandomValues / randomUUID, and process.env.
//
// The event loop. Each engine has one macrotask queue (timers and port
// messages), ordered by due time then by when they were queued. It runs
// only while someone waits: while a render's promise is pending (a task,
// then a microtask checkpoint, until the promise settles or the queue is
// empty), and once after the bundle's top level. Time in that queue is
// virtual: a render starts at 0 ms, and running a task moves the clock to
// its due time without sleeping. The isolate has no I/O, so nothing but the
// clock could change while a real timer waits: waiting would only hold a
// render thread. Delays still order the tasks as in a browser (a 10 ms
// timer runs after a 5 ms one, an interval repeats in order with the
// others), HTML's clamping applies (nesting deeper than 5 levels raises a
// delay under 4 ms to 4 ms), and Date.now() / performance.now() stay the
// real clocks. When the render's promise settles, the tasks already due at
// that virtual time still run (at most kDrainCap of them: React's scheduler
// and Solid's root disposal post work for "right after"), then every task
// left is cancelled: a render never leaks work into the next. All of it runs
// inside the render's terminable window, so render.timeout_ms covers a
// render that never settles and keeps an interval going.
#include "rs_v8_internal.h"

#include <math.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include <map>
#include <memory>
#include <unordered_map>

using namespace rs__v8;

using cbinfo = v8::FunctionCallbackInfo<v8::Value>;

namespace {

constexpr int kDrainCap = 1000;  // tasks run after a render settled

struct task {
  uint32_t id = 0;       // timer id; 0 for a port message
  double interval = -1;  // ms, >= 0 for setInterval
  int nesting = 0;       // HTML's timer nesting level
  v8::Global<v8::Function> fn;
  std::vector<v8::Global<v8::Value>> args;
};

using task_key = std::pair<double, uint64_t>;  // due (virtual ms), seq

}  // namespace

struct rs__v8_host {
  std::map<task_key, std::unique_ptr<task>> queue;
  std::unordered_map<uint32_t, task_key> timers;  // id → its key in queue
  double now = 0;        // virtual ms of the run in progress
  uint64_t seq = 0;
  uint32_t next_id = 0;
  int nesting = 0;       // of the timer task running now (0 outside one)
  // A task was terminated (watchdog, heap limit): its TryCatch, at call
  // depth 0, consumed the termination, so the loop must stop on its own.
  bool terminated = false;
  double origin_ms = 0;  // performance.timeOrigin (ms since the epoch)
  struct timespec origin_mono {};
  v8::Global<v8::Value> ports[2];  // MessageChannel, MessagePort once built
};

// ------------------------------------------------------------ helpers

static v8::Local<v8::String> lit(v8::Isolate *iso, const char *s) {
  return str(iso, s, strlen(s));
}

static void throw_type(v8::Isolate *iso, const char *msg) {
  iso->ThrowException(v8::Exception::TypeError(lit(iso, msg)));
}

// Throws a DOMException named `name`: the realm's DOMException when there
// is one, else an Error with the same name, message and legacy code.
static void throw_dom(v8::Isolate *iso, const char *name, const std::string &msg, int code) {
  v8::Local<v8::Context> ctx = iso->GetCurrentContext();
  v8::Local<v8::Value> ctor;
  if (ctx->Global()->Get(ctx, lit(iso, "DOMException")).ToLocal(&ctor) && ctor->IsFunction()) {
    v8::Local<v8::Value> argv[2] = {str(iso, msg.data(), msg.size()), lit(iso, name)};
    v8::Local<v8::Object> ex;
    if (ctor.As<v8::Function>()->NewInstance(ctx, 2, argv).ToLocal(&ex)) {
      iso->ThrowException(ex);
      return;
    }
    if (iso->IsExecutionTerminating()) return;
  }
  v8::Local<v8::Value> err = v8::Exception::Error(str(iso, msg.data(), msg.size()));
  v8::Local<v8::Object> o = err.As<v8::Object>();
  o->DefineOwnProperty(ctx, lit(iso, "name"), lit(iso, name), v8::DontEnum).FromMaybe(false);
  o->DefineOwnProperty(ctx, lit(iso, "code"), v8::Integer::New(iso, code), v8::DontEnum).FromMaybe(false);
  // The stack's first line was made with "Error"; make it say the name.
  v8::Local<v8::Value> st;
  if (o->Get(ctx, lit(iso, "stack")).ToLocal(&st) && st->IsString()) {
    std::string s;
    append_utf8(iso, st.As<v8::String>(), &s);
    if (s.compare(0, 5, "Error") == 0) {
      s = name + s.substr(5);
      o->DefineOwnProperty(ctx, lit(iso, "stack"), str(iso, s.data(), s.size()), v8::DontEnum)
          .FromMaybe(false);
    }
  }
  iso->ThrowException(err);
}

static double mono_ms(const struct timespec &a) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)(t.tv_sec - a.tv_sec) * 1e3 + (double)(t.tv_nsec - a.tv_nsec) / 1e6;
}

// Records the first error of this render or load that no JS caught (see
// rs_v8_render: a promise that never settles reports it), and logs it.
void rs__v8::note_uncaught(rs_v8_engine_s *e, v8::Local<v8::Context> ctx,
                           v8::Local<v8::Value> exc, v8::Local<v8::Message> msg,
                           const char *where) {
  std::string line, stack;
  describe_exception(e->isolate, ctx, exc, msg, &line, &stack);
  if (!e->first_set) {
    e->first_set = true;
    e->first_err = line;
    e->first_stack = stack;
  }
  if (!e->log) return;
  std::string m = std::string("uncaught in ") + where + ": " + (stack.empty() ? line : stack);
  e->log(e->log_ud, RS_V8_LOG_ERROR, e->cur_request_id, m.c_str(), m.size());
}

// ------------------------------------------------------------ timers

static void add_task(rs__v8_host *h, double delay, std::unique_ptr<task> t) {
  task_key k{h->now + delay, ++h->seq};
  if (t->id) h->timers[t->id] = k;
  h->queue.emplace(k, std::move(t));
}

// setTimeout(fn, delay, ...args) / setInterval: data is 1 for an interval.
static void set_timer_cb(const cbinfo &info) {
  v8::Isolate *iso = info.GetIsolate();
  rs_v8_engine_s *e = engine_of(iso);
  rs__v8_host *h = e->host;
  bool interval = info.Data().As<v8::Int32>()->Value() == 1;
  if (info.Length() < 1 || !info[0]->IsFunction())
    return throw_type(iso, interval ? "setInterval: the callback must be a function"
                                    : "setTimeout: the callback must be a function "
                                      "(strings are not evaluated)");
  double delay = 0;
  if (info.Length() > 1) {
    if (!info[1]->NumberValue(iso->GetCurrentContext()).To(&delay)) return;
    if (!(delay >= 0)) delay = 0;  // NaN, negative
    if (delay > 2147483647.0) delay = 0;  // browsers: overflow → 0
    delay = floor(delay);
  }
  auto t = std::make_unique<task>();
  t->id = ++h->next_id;
  if (t->id == 0) t->id = ++h->next_id;
  // HTML: the running timer task's nesting level, clamped past 5, then + 1.
  if (h->nesting > 5 && delay < 4) delay = 4;
  t->nesting = h->nesting + 1;
  if (interval) t->interval = delay;
  t->fn.Reset(iso, info[0].As<v8::Function>());
  for (int i = 2; i < info.Length(); i++) t->args.emplace_back(iso, info[i]);
  uint32_t id = t->id;
  add_task(h, delay, std::move(t));
  info.GetReturnValue().Set(v8::Integer::NewFromUnsigned(iso, id));
}

static void clear_timer_cb(const cbinfo &info) {
  v8::Isolate *iso = info.GetIsolate();
  rs__v8_host *h = engine_of(iso)->host;
  if (info.Length() < 1 || !info[0]->IsNumber()) return;
  double d = info[0].As<v8::Number>()->Value();
  if (!(d >= 1 && d <= 4294967295.0)) return;
  auto it = h->timers.find((uint32_t)d);
  if (it == h->timers.end()) return;
  h->queue.erase(it->second);
  h->timers.erase(it);
}

// A port message or any other "run this soon" task: enqueue(fn).
static void enqueue_cb(const cbinfo &info) {
  v8::Isolate *iso = info.GetIsolate();
  if (info.Length() < 1 || !info[0]->IsFunction()) return;
  auto t = std::make_unique<task>();
  t->fn.Reset(iso, info[0].As<v8::Function>());
  add_task(engine_of(iso)->host, 0, std::move(t));
}

// Runs the next task. Returns false when the queue is empty, or (with
// due_only) when the next task is due later than now.
static bool run_one(rs_v8_engine_s *e, v8::Local<v8::Context> ctx, bool due_only) {
  rs__v8_host *h = e->host;
  if (h->terminated || h->queue.empty()) return false;
  auto it = h->queue.begin();
  if (due_only && it->first.first > h->now) return false;
  double due = it->first.first;
  std::unique_ptr<task> t = std::move(it->second);
  h->queue.erase(it);
  if (t->id) h->timers.erase(t->id);
  if (due > h->now) h->now = due;
  v8::Isolate *iso = e->isolate;
  v8::HandleScope hs(iso);
  std::vector<v8::Local<v8::Value>> argv;
  argv.reserve(t->args.size());
  for (auto &a : t->args) argv.push_back(a.Get(iso));
  v8::Local<v8::Function> fn = t->fn.Get(iso);
  // An interval is queued again before its callback runs, so that the
  // callback's clearInterval finds it.
  uint32_t id = t->id;
  if (t->interval >= 0) {
    task *raw = t.get();
    double d = raw->interval;
    h->nesting = raw->nesting;
    if (raw->nesting > 5 && d < 4) d = 4;
    raw->nesting++;
    add_task(h, d, std::move(t));
  } else {
    h->nesting = t->nesting;
  }
  {
    v8::TryCatch tc(iso);
    v8::MaybeLocal<v8::Value> r =
        fn->Call(ctx, ctx->Global(), (int)argv.size(), argv.data());
    if (tc.HasTerminated() || iso->IsExecutionTerminating())
      h->terminated = true;
    else if (r.IsEmpty() && tc.HasCaught())
      note_uncaught(e, ctx, tc.Exception(), tc.Message(), id ? "a timer" : "a message handler");
  }
  h->nesting = 0;
  if (h->terminated) return false;
  iso->PerformMicrotaskCheckpoint();
  if (iso->IsExecutionTerminating()) h->terminated = true;
  return !h->terminated;
}

void rs__v8::host_begin(rs_v8_engine_s *e) {
  e->host->now = 0;
  e->host->terminated = false;
  e->first_set = false;
  e->first_err.clear();
  e->first_stack.clear();
}

bool rs__v8::host_run_until(rs_v8_engine_s *e, v8::Local<v8::Context> ctx,
                            v8::Local<v8::Promise> p) {
  v8::Isolate *iso = e->isolate;
  while (p->State() == v8::Promise::kPending) {
    if (iso->IsExecutionTerminating()) return false;
    if (!run_one(e, ctx, false)) break;
  }
  return !iso->IsExecutionTerminating() && !e->host->terminated;
}

void rs__v8::host_finish(rs_v8_engine_s *e, v8::Local<v8::Context> ctx) {
  v8::Isolate *iso = e->isolate;
  for (int n = 0; n < kDrainCap && !iso->IsExecutionTerminating(); n++)
    if (!run_one(e, ctx, true)) break;
  host_cancel(e);
}

void rs__v8::host_cancel(rs_v8_engine_s *e) {
  if (!e->host) return;
  e->host->queue.clear();
  e->host->timers.clear();
  e->host->nesting = 0;
}

size_t rs__v8::host_pending(const rs_v8_engine_s *e) {
  return e->host ? e->host->queue.size() : 0;
}

void rs__v8::host_destroy(rs_v8_engine_s *e) {
  if (!e->host) return;
  host_cancel(e);
  for (auto &p : e->host->ports) p.Reset();
  delete e->host;
  e->host = nullptr;
}

// ------------------------------------------------------------ structuredClone

namespace {
class clone_delegate final : public v8::ValueSerializer::Delegate {
 public:
  explicit clone_delegate(v8::Isolate *iso) : iso_(iso) {}
  void ThrowDataCloneError(v8::Local<v8::String> message) override {
    std::string m;
    append_utf8(iso_, message, &m);
    throw_dom(iso_, "DataCloneError", m, 25);
  }

 private:
  v8::Isolate *iso_;
};
}  // namespace

// The ArrayBuffers of options.transfer (an array), checked: each one an
// ArrayBuffer, detachable, not detached, listed once.
static bool transfer_list(v8::Isolate *iso, v8::Local<v8::Context> ctx,
                          v8::Local<v8::Value> opts, std::vector<v8::Local<v8::ArrayBuffer>> *out) {
  if (opts.IsEmpty() || opts->IsUndefined() || opts->IsNull()) return true;
  if (!opts->IsObject()) {
    throw_type(iso, "structuredClone: options must be an object");
    return false;
  }
  v8::Local<v8::Value> t;
  if (!opts.As<v8::Object>()->Get(ctx, lit(iso, "transfer")).ToLocal(&t)) return false;
  if (t->IsUndefined()) return true;
  if (!t->IsArray()) {
    throw_type(iso, "structuredClone: options.transfer must be an array");
    return false;
  }
  v8::Local<v8::Array> a = t.As<v8::Array>();
  for (uint32_t i = 0; i < a->Length(); i++) {
    v8::Local<v8::Value> v;
    if (!a->Get(ctx, i).ToLocal(&v)) return false;
    if (!v->IsArrayBuffer()) {
      throw_dom(iso, "DataCloneError", "Value not transferable (only ArrayBuffers are)", 25);
      return false;
    }
    v8::Local<v8::ArrayBuffer> ab = v.As<v8::ArrayBuffer>();
    for (auto &seen : *out)
      if (seen == ab) {
        throw_dom(iso, "DataCloneError", "ArrayBuffer at index " + std::to_string(i) +
                                             " is a duplicate of an earlier ArrayBuffer",
                  25);
        return false;
      }
    if (!ab->IsDetachable() || ab->WasDetached()) {
      throw_dom(iso, "DataCloneError", "ArrayBuffer at index " + std::to_string(i) +
                                           " is detached or cannot be transferred",
                25);
      return false;
    }
    out->push_back(ab);
  }
  return true;
}

static void detach(v8::Local<v8::ArrayBuffer> ab) {
#if V8_MAJOR_VERSION >= 11
  ab->Detach(v8::Local<v8::Value>()).Check();
#else
  ab->Detach();
#endif
}

// structuredClone(value, { transfer }?): V8's serializer does the work;
// transferred ArrayBuffers move their memory to the copy and are detached.
static void structured_clone_cb(const cbinfo &info) {
  v8::Isolate *iso = info.GetIsolate();
  v8::Local<v8::Context> ctx = iso->GetCurrentContext();
  if (info.Length() < 1)
    return throw_type(iso, "structuredClone: 1 argument required, but only 0 present");
  std::vector<v8::Local<v8::ArrayBuffer>> xfer;
  if (!transfer_list(iso, ctx, info.Length() > 1 ? info[1] : v8::Local<v8::Value>(), &xfer))
    return;
  clone_delegate d(iso);
  v8::ValueSerializer ser(iso, &d);
  ser.WriteHeader();
  for (size_t i = 0; i < xfer.size(); i++) ser.TransferArrayBuffer((uint32_t)i, xfer[i]);
  if (!ser.WriteValue(ctx, info[0]).FromMaybe(false)) return;
  std::pair<uint8_t *, size_t> buf = ser.Release();
  std::vector<v8::Local<v8::ArrayBuffer>> moved;
  for (auto &ab : xfer) {
    moved.push_back(v8::ArrayBuffer::New(iso, ab->GetBackingStore()));
    detach(ab);
  }
  v8::Local<v8::Value> out;
  {
    v8::ValueDeserializer des(iso, buf.first, buf.second);
    for (size_t i = 0; i < moved.size(); i++) des.TransferArrayBuffer((uint32_t)i, moved[i]);
    if (des.ReadHeader(ctx).FromMaybe(false) && des.ReadValue(ctx).ToLocal(&out))
      info.GetReturnValue().Set(out);
  }
  free(buf.first);
}

// ------------------------------------------------------------ performance

static void perf_now_cb(const cbinfo &info) {
  rs__v8_host *h = engine_of(info.GetIsolate())->host;
  info.GetReturnValue().Set(mono_ms(h->origin_mono));
}

// ------------------------------------------------------------ crypto

static bool fill_random(void *p, size_t n) {
  char *c = static_cast<char *>(p);
  while (n > 0) {
    ssize_t r = getrandom(c, n, 0);
    if (r < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    c += r;
    n -= (size_t)r;
  }
  return true;
}

static void get_random_values_cb(const cbinfo &info) {
  v8::Isolate *iso = info.GetIsolate();
  v8::Local<v8::Value> v = info.Length() > 0 ? info[0] : v8::Undefined(iso).As<v8::Value>();
  if (!v->IsArrayBufferView() || v->IsDataView())
    return throw_type(iso, "crypto.getRandomValues: the argument must be an integer typed array");
  if (!(v->IsInt8Array() || v->IsUint8Array() || v->IsUint8ClampedArray() ||
        v->IsInt16Array() || v->IsUint16Array() || v->IsInt32Array() ||
        v->IsUint32Array() || v->IsBigInt64Array() || v->IsBigUint64Array()))
    return throw_dom(iso, "TypeMismatchError",
                     "The data argument must be an integer-type TypedArray", 17);
  v8::Local<v8::ArrayBufferView> a = v.As<v8::ArrayBufferView>();
  size_t n = a->ByteLength();
  if (n > 65536)
    return throw_dom(iso, "QuotaExceededError",
                     "The ArrayBufferView's byte length (" + std::to_string(n) +
                         ") exceeds the number of bytes of entropy available via this API (65536)",
                     22);
  if (n > 0) {
    char *p = static_cast<char *>(a->Buffer()->Data()) + a->ByteOffset();
    if (!fill_random(p, n)) return throw_dom(iso, "OperationError", "no entropy", 0);
  }
  info.GetReturnValue().Set(v);
}

static void random_uuid_cb(const cbinfo &info) {
  v8::Isolate *iso = info.GetIsolate();
  unsigned char b[16];
  if (!fill_random(b, sizeof b)) return throw_dom(iso, "OperationError", "no entropy", 0);
  b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);  // version 4
  b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);  // RFC 4122 variant
  static const char hex[] = "0123456789abcdef";
  char s[36];
  int o = 0;
  for (int i = 0; i < 16; i++) {
    if (i == 4 || i == 6 || i == 8 || i == 10) s[o++] = '-';
    s[o++] = hex[b[i] >> 4];
    s[o++] = hex[b[i] & 15];
  }
  info.GetReturnValue().Set(str(iso, s, sizeof s));
}

// ------------------------------------------------------------ MessageChannel

// MessageChannel and MessagePort in JS, over two natives: enqueue (a
// macrotask) and structuredClone (taken here, so a bundle replacing the
// global changes nothing). A port keeps its messages until it is started:
// start(), or setting onmessage (addEventListener alone does not start it,
// as in browsers). Listeners get a MessageEvent-like object; one that
// throws is reported and the others still run. When the realm has an
// EventTarget (a prelude's) by the first use, MessagePort.prototype
// inherits from it.
static const char kMessageChannelJs[] = R"JS((function (enqueue, clone, report) {
'use strict';
const S = new WeakMap();
const KEY = {};
const st = (p) => { const s = S.get(p); if (!s) throw new TypeError('Illegal invocation'); return s; };
function dispatch(port, s, data) {
  const ev = { type: 'message', data, origin: '', lastEventId: '', source: null, ports: [],
               target: port, currentTarget: port, defaultPrevented: false,
               preventDefault() {}, stopPropagation() {}, stopImmediatePropagation() {} };
  const call = (f) => {
    try { typeof f === 'function' ? f.call(port, ev) : f.handleEvent(ev); } catch (e) { report(e); }
  };
  if (s.onmessage) call(s.onmessage);
  for (const l of s.listeners.slice()) {
    if (l.type !== 'message') continue;
    if (l.once) s.listeners.splice(s.listeners.indexOf(l), 1);
    call(l.fn);
  }
}
function schedule(port, s) {
  enqueue(() => { if (!s.closed && s.queue.length) dispatch(port, s, s.queue.shift()); });
}
class MessagePort {
  constructor(key) {
    if (key !== KEY) throw new TypeError('Illegal constructor');
    S.set(this, { peer: null, started: false, closed: false, queue: [], listeners: [],
                  onmessage: null, onmessageerror: null });
  }
  postMessage(message, transfer) {
    const s = st(this);
    const opts = Array.isArray(transfer) ? { transfer } : transfer;
    const data = opts === undefined ? clone(message) : clone(message, opts);
    const peer = s.peer;
    if (s.closed || !peer) return;
    const ps = S.get(peer);
    if (ps.closed) return;
    ps.queue.push(data);
    if (ps.started) schedule(peer, ps);
  }
  start() {
    const s = st(this);
    if (s.started) return;
    s.started = true;
    for (let i = 0; i < s.queue.length; i++) schedule(this, s);
  }
  close() {
    const s = st(this);
    s.closed = true;
    if (s.peer) { const ps = S.get(s.peer); if (ps) ps.peer = null; s.peer = null; }
  }
  get onmessage() { return st(this).onmessage; }
  set onmessage(f) {
    const s = st(this);
    s.onmessage = (typeof f === 'function' || (f && typeof f === 'object')) ? f : null;
    if (s.onmessage) this.start();
  }
  get onmessageerror() { return st(this).onmessageerror; }
  set onmessageerror(f) { st(this).onmessageerror = typeof f === 'function' ? f : null; }
  addEventListener(type, fn, opts) {
    const s = st(this);
    if (fn == null) return;
    type = String(type);
    if (s.listeners.some((l) => l.type === type && l.fn === fn)) return;
    s.listeners.push({ type, fn, once: !!(opts && typeof opts === 'object' && opts.once) });
  }
  removeEventListener(type, fn) {
    const s = st(this);
    type = String(type);
    const i = s.listeners.findIndex((l) => l.type === type && l.fn === fn);
    if (i >= 0) s.listeners.splice(i, 1);
  }
  dispatchEvent(ev) {
    const s = st(this);
    if (ev && ev.type === 'message') dispatch(this, s, ev.data);
    return true;
  }
  get [Symbol.toStringTag]() { return 'MessagePort'; }
}
class MessageChannel {
  constructor() {
    const a = new MessagePort(KEY), b = new MessagePort(KEY);
    S.get(a).peer = b;
    S.get(b).peer = a;
    Object.defineProperty(this, 'port1', { value: a, enumerable: true });
    Object.defineProperty(this, 'port2', { value: b, enumerable: true });
  }
  get [Symbol.toStringTag]() { return 'MessageChannel'; }
}
Object.defineProperty(MessagePort.prototype, 'constructor', { value: MessagePort, writable: true, configurable: true });
// Built at first use, so after any prelude: with an EventTarget in the realm,
// a port is one (its own listener methods still serve 'message').
if (typeof EventTarget === 'function' && EventTarget.prototype)
  Object.setPrototypeOf(MessagePort.prototype, EventTarget.prototype);
return [MessageChannel, MessagePort];
}))JS";

static void report_cb(const cbinfo &info) {
  v8::Isolate *iso = info.GetIsolate();
  note_uncaught(engine_of(iso), iso->GetCurrentContext(), info[0], v8::Local<v8::Message>(),
                "a message handler");
}

// The getter of the lazy globals MessageChannel and MessagePort: builds
// both at the first use of either (data is structuredClone), returns the
// one asked for; V8 then replaces the lazy property with that value.
static void lazy_ports(v8::Local<v8::Name> name, const v8::PropertyCallbackInfo<v8::Value> &info) {
  v8::Isolate *iso = info.GetIsolate();
  v8::Local<v8::Context> ctx = iso->GetCurrentContext();
  rs__v8_host *h = engine_of(iso)->host;
  if (h->ports[0].IsEmpty()) {
    v8::Local<v8::Script> s;
    v8::Local<v8::Value> factory, pair, mc, mp;
    v8::Local<v8::Function> enq, rep;
    v8::ScriptOrigin origin = script_origin(iso, lit(iso, "rustyssr:MessageChannel"));
    if (!v8::Script::Compile(ctx, lit(iso, kMessageChannelJs), &origin).ToLocal(&s) ||
        !s->Run(ctx).ToLocal(&factory) || !factory->IsFunction() ||
        !v8::Function::New(ctx, enqueue_cb, v8::Local<v8::Value>(), 1,
                           v8::ConstructorBehavior::kThrow).ToLocal(&enq) ||
        !v8::Function::New(ctx, report_cb, v8::Local<v8::Value>(), 1,
                           v8::ConstructorBehavior::kThrow).ToLocal(&rep))
      return;
    v8::Local<v8::Value> argv[3] = {enq, info.Data(), rep};
    if (!factory.As<v8::Function>()->Call(ctx, v8::Undefined(iso), 3, argv).ToLocal(&pair) ||
        !pair->IsArray() || !pair.As<v8::Array>()->Get(ctx, 0).ToLocal(&mc) ||
        !pair.As<v8::Array>()->Get(ctx, 1).ToLocal(&mp))
      return;
    h->ports[0].Reset(iso, mc);
    h->ports[1].Reset(iso, mp);
  }
  bool port = name->IsString() && name.As<v8::String>()->StringEquals(lit(iso, "MessagePort"));
  info.GetReturnValue().Set(h->ports[port ? 1 : 0].Get(iso));
}

// ------------------------------------------------------------ installing

static bool define(v8::Local<v8::Context> ctx, v8::Local<v8::Object> on, v8::Isolate *iso,
                   const char *name, v8::Local<v8::Value> v) {
  return on->DefineOwnProperty(ctx, lit(iso, name), v, v8::DontEnum).FromMaybe(false);
}

static bool fn(v8::Isolate *iso, v8::Local<v8::Context> ctx, const char *name,
               v8::FunctionCallback cb, int length, v8::Local<v8::Value> data,
               v8::Local<v8::Function> *out) {
  if (!v8::Function::New(ctx, cb, data, length, v8::ConstructorBehavior::kThrow).ToLocal(out))
    return false;
  (*out)->SetName(lit(iso, name));
  return true;
}

static bool global_fn(v8::Isolate *iso, v8::Local<v8::Context> ctx, v8::Local<v8::Object> on,
                      const char *name, v8::FunctionCallback cb, int length,
                      v8::Local<v8::Value> data = v8::Local<v8::Value>()) {
  v8::Local<v8::Function> f;
  return fn(iso, ctx, name, cb, length, data, &f) && define(ctx, on, iso, name, f);
}

bool rs__v8::install_host(v8::Isolate *iso, v8::Local<v8::Context> ctx,
                          const rs_v8_opts_t *o) {
  rs_v8_engine_s *e = engine_of(iso);
  e->host = new rs__v8_host;
  rs__v8_host *h = e->host;
  clock_gettime(CLOCK_MONOTONIC, &h->origin_mono);
  struct timespec rt;
  clock_gettime(CLOCK_REALTIME, &rt);
  h->origin_ms = (double)rt.tv_sec * 1e3 + (double)rt.tv_nsec / 1e6;

  v8::Local<v8::Object> g = ctx->Global();
  v8::Local<v8::Value> zero = v8::Integer::New(iso, 0), one = v8::Integer::New(iso, 1);
  v8::Local<v8::Function> clone;
  if (!global_fn(iso, ctx, g, "setTimeout", set_timer_cb, 1, zero) ||
      !global_fn(iso, ctx, g, "setInterval", set_timer_cb, 1, one) ||
      !global_fn(iso, ctx, g, "clearTimeout", clear_timer_cb, 0) ||
      !global_fn(iso, ctx, g, "clearInterval", clear_timer_cb, 0) ||
      !fn(iso, ctx, "structuredClone", structured_clone_cb, 1, v8::Local<v8::Value>(), &clone) ||
      !define(ctx, g, iso, "structuredClone", clone))
    return false;

  v8::Local<v8::Object> perf = v8::Object::New(iso);
  if (!global_fn(iso, ctx, perf, "now", perf_now_cb, 0) ||
      !perf->DefineOwnProperty(ctx, lit(iso, "timeOrigin"), v8::Number::New(iso, h->origin_ms),
                               v8::ReadOnly)
           .FromMaybe(false) ||
      !define(ctx, g, iso, "performance", perf))
    return false;

  v8::Local<v8::Object> crypto = v8::Object::New(iso);
  if (!global_fn(iso, ctx, crypto, "getRandomValues", get_random_values_cb, 1) ||
      !global_fn(iso, ctx, crypto, "randomUUID", random_uuid_cb, 0) ||
      !define(ctx, g, iso, "crypto", crypto))
    return false;

  // process: env only. NODE_ENV is "production" unless render.env sets it.
  v8::Local<v8::Object> env = v8::Object::New(iso);
  bool node_env = false;
  for (size_t i = 0; i < o->nenv; i++) {
    const rs_v8_pair_t &p = o->env[i];
    node_env = node_env || (p.name_len == 8 && memcmp(p.name, "NODE_ENV", 8) == 0);
    if (!env->CreateDataProperty(ctx, str(iso, p.name, p.name_len),
                                 str(iso, p.value, p.value_len))
             .FromMaybe(false))
      return false;
  }
  if (!node_env &&
      !env->CreateDataProperty(ctx, lit(iso, "NODE_ENV"), lit(iso, "production")).FromMaybe(false))
    return false;
  v8::Local<v8::Object> process = v8::Object::New(iso);
  if (!process->CreateDataProperty(ctx, lit(iso, "env"), env).FromMaybe(false) ||
      !define(ctx, g, iso, "process", process))
    return false;

  // MessageChannel / MessagePort: compiled at first use, so an isolate
  // whose bundle never touches them pays nothing at start-up.
  v8::Local<v8::Value> data = clone;
  return g->SetLazyDataProperty(ctx, lit(iso, "MessageChannel"), lazy_ports, data, v8::DontEnum)
             .FromMaybe(false) &&
         g->SetLazyDataProperty(ctx, lit(iso, "MessagePort"), lazy_ports, data, v8::DontEnum)
             .FromMaybe(false);
}
