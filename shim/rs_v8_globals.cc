// shim/rs_v8_globals.cc — what the isolate offers beyond ECMAScript:
// console.{log,info,warn,error,debug}, queueMicrotask, TextEncoder and
// TextDecoder (UTF-8 only). Nothing else of Node or the browser exists, so a
// bundle that needs more fails loudly (ReferenceError) rather than quietly.
#include "rs_v8_internal.h"

#include <string.h>

using namespace rs__v8;

using cbinfo = v8::FunctionCallbackInfo<v8::Value>;

static v8::Local<v8::String> lit(v8::Isolate *iso, const char *s) {
  return str(iso, s, strlen(s));
}

static void throw_type(v8::Isolate *iso, const char *msg) {
  iso->ThrowException(v8::Exception::TypeError(lit(iso, msg)));
}

// ------------------------------------------------------------ console

// One console argument, roughly as Node prints it: strings as they are,
// errors by their stack, plain objects and arrays as JSON.
static void format_arg(v8::Isolate *iso, v8::Local<v8::Context> ctx,
                       v8::Local<v8::Value> v, std::string *out) {
  if (v->IsString()) return append_utf8(iso, v.As<v8::String>(), out);
  if (v->IsFunction()) {
    out->append("[Function: ");
    append_value(iso, ctx, v.As<v8::Function>()->GetName(), out);
    out->append("]");
    return;
  }
  if (v->IsObject()) {
    v8::TryCatch tc(iso);
    v8::Local<v8::Value> st;
    if (v->IsNativeError() &&
        v.As<v8::Object>()->Get(ctx, engine_of(iso)->keys[KEY_stack].Get(iso)).ToLocal(&st) &&
        st->IsString())
      return append_utf8(iso, st.As<v8::String>(), out);
    v8::Local<v8::String> json;
    if (!v->IsNativeError() && v8::JSON::Stringify(ctx, v).ToLocal(&json) &&
        json->IsString())
      return append_utf8(iso, json, out);
    if (tc.HasTerminated()) {
      tc.ReThrow();
      return;
    }
    // Circular, BigInt inside, a throwing toJSON: fall back to toString.
  }
  append_value(iso, ctx, v, out);
}

static void console_cb(const cbinfo &info) {
  v8::Isolate *iso = info.GetIsolate();
  rs_v8_engine_s *e = engine_of(iso);
  if (!e->log) return;
  v8::Local<v8::Context> ctx = iso->GetCurrentContext();
  int level = info.Data().As<v8::Int32>()->Value();
  std::string msg;
  for (int i = 0; i < info.Length(); i++) {
    if (i) msg.push_back(' ');
    format_arg(iso, ctx, info[i], &msg);
    if (iso->IsExecutionTerminating()) return;
  }
  e->log(e->log_ud, level, e->cur_request_id, msg.c_str(), msg.size());
}

void rs__v8::on_message(v8::Local<v8::Message> m, v8::Local<v8::Value> data) {
  v8::Isolate *iso = v8::Isolate::GetCurrent();
  rs_v8_engine_s *e = engine_of(iso);
  if (!e) return;
  v8::HandleScope hs(iso);
  std::string msg;
  v8::Local<v8::Context> ctx = iso->GetCurrentContext();
  // The first error of the render nobody caught: a pending render reports it.
  if (!e->first_set) {
    e->first_set = true;
    describe_exception(iso, ctx, m->Get(), m, &e->first_err, &e->first_stack);
  }
  if (!e->log) return;
  // Error objects carry their stack; anything else gets its place.
  v8::Local<v8::Value> st;
  v8::TryCatch tc(iso);
  if (!data.IsEmpty() && data->IsNativeError() &&
      data.As<v8::Object>()->Get(ctx, e->keys[KEY_stack].Get(iso)).ToLocal(&st) &&
      st->IsString()) {
    msg = "uncaught in a microtask: ";
    append_utf8(iso, st.As<v8::String>(), &msg);
  } else {
    describe_exception(iso, ctx, m->Get(), m, &msg, nullptr);
  }
  e->log(e->log_ud, RS_V8_LOG_ERROR, e->cur_request_id, msg.c_str(), msg.size());
}

void rs__v8::on_promise_reject(v8::PromiseRejectMessage m) {
  v8::Local<v8::Promise> p = m.GetPromise();
  v8::Isolate *iso = p->GetIsolate();
  rs_v8_engine_s *e = engine_of(iso);
  if (m.GetEvent() == v8::kPromiseRejectWithNoHandler) {
    e->unhandled.emplace_back(iso, p);
  } else if (m.GetEvent() == v8::kPromiseHandlerAddedAfterReject) {
    for (size_t i = 0; i < e->unhandled.size(); i++)
      if (e->unhandled[i] == p) {
        e->unhandled[i] = std::move(e->unhandled.back());
        e->unhandled.pop_back();
        break;
      }
  }
}

void rs__v8::report_unhandled(rs_v8_engine_s *e, v8::Local<v8::Context> ctx,
                              v8::Local<v8::Value> except) {
  v8::Isolate *iso = e->isolate;
  for (auto &g : e->unhandled) {
    v8::Local<v8::Promise> p = g.Get(iso);
    if (!e->log || p == except || p->State() != v8::Promise::kRejected) continue;
    std::string msg = "unhandled promise rejection: ", why, stack;
    describe_exception(iso, ctx, p->Result(), v8::Local<v8::Message>(), &why, &stack);
    msg += stack.empty() ? why : stack;
    e->log(e->log_ud, RS_V8_LOG_ERROR, e->cur_request_id, msg.c_str(), msg.size());
  }
  e->unhandled.clear();
}

// ------------------------------------------------------------ queueMicrotask

static void queue_microtask_cb(const cbinfo &info) {
  v8::Isolate *iso = info.GetIsolate();
  if (info.Length() < 1 || !info[0]->IsFunction())
    return throw_type(iso, "queueMicrotask: the callback must be a function");
  iso->EnqueueMicrotask(info[0].As<v8::Function>());
}

// ------------------------------------------------------------ TextEncoder

static void encoding_getter(const cbinfo &info) {
  info.GetReturnValue().Set(lit(info.GetIsolate(), "utf-8"));
}

static void encoder_ctor(const cbinfo &info) {
  if (!info.IsConstructCall())
    return throw_type(info.GetIsolate(), "TextEncoder: use new TextEncoder()");
}

// new Uint8Array(n) through the realm's own constructor (kept from before
// the bundle ran): a failed allocation becomes a RangeError in JS, where the
// C++ ArrayBuffer::New would abort the process.
static bool new_u8(v8::Isolate *iso, v8::Local<v8::Context> ctx, size_t n,
                   v8::Local<v8::Uint8Array> *out) {
  rs_v8_engine_s *e = engine_of(iso);
  v8::Local<v8::Value> arg = v8::Number::New(iso, (double)n);
  v8::Local<v8::Object> o;
  if (!e->u8_ctor.Get(iso)->NewInstance(ctx, 1, &arg).ToLocal(&o)) return false;
  *out = o.As<v8::Uint8Array>();
  return true;
}

static inline char *u8_data(v8::Local<v8::Uint8Array> a) {
  return static_cast<char *>(a->Buffer()->Data()) + a->ByteOffset();
}

static void encoder_encode(const cbinfo &info) {
  v8::Isolate *iso = info.GetIsolate();
  v8::Local<v8::Context> ctx = iso->GetCurrentContext();
  v8::Local<v8::String> s = v8::String::Empty(iso);
  if (info.Length() > 0 && !info[0]->IsUndefined() && !info[0]->ToString(ctx).ToLocal(&s))
    return;
  size_t n = utf8_length(iso, s);
  v8::Local<v8::Uint8Array> a;
  if (!new_u8(iso, ctx, n, &a)) return;
  if (n) write_utf8(iso, s, u8_data(a), n);
  info.GetReturnValue().Set(a);
}

// encodeInto(string, uint8array) → { read, written }: as much of the string
// as fits, never a partial character.
static void encoder_encode_into(const cbinfo &info) {
  v8::Isolate *iso = info.GetIsolate();
  v8::Local<v8::Context> ctx = iso->GetCurrentContext();
  v8::Local<v8::String> s;
  if (!info[0]->ToString(ctx).ToLocal(&s)) return;
  if (!info[1]->IsUint8Array())
    return throw_type(iso, "TextEncoder.encodeInto: the destination must be a Uint8Array");
  v8::Local<v8::Uint8Array> a = info[1].As<v8::Uint8Array>();
  size_t cap = a->ByteLength();
  size_t read = 0, written = 0;
  if (cap > 0 && s->Length() > 0) written = write_utf8(iso, s, u8_data(a), cap, &read);
  v8::Local<v8::Object> r = v8::Object::New(iso);
  if (r->CreateDataProperty(ctx, lit(iso, "read"), v8::Number::New(iso, (double)read))
          .IsNothing() ||
      r->CreateDataProperty(ctx, lit(iso, "written"), v8::Number::New(iso, (double)written))
          .IsNothing())
    return;
  info.GetReturnValue().Set(r);
}

// ------------------------------------------------------------ TextDecoder

// A decoder's state, one int32 in a private slot of the instance:
// bit 0 fatal, bit 1 ignoreBOM, bit 2 BOM already handled in this stream,
// bits 3-4 how many bytes of an unfinished character are pending, bits 5-28
// those bytes (at most 3).
enum { DEC_FATAL = 1, DEC_IGNORE_BOM = 2, DEC_BOM_DONE = 4 };

static bool dec_state(v8::Isolate *iso, v8::Local<v8::Context> ctx,
                      v8::Local<v8::Object> self, int32_t *st) {
  v8::Local<v8::Value> v;
  if (!self->GetPrivate(ctx, engine_of(iso)->privs[PRIV_DECODER_STATE].Get(iso)).ToLocal(&v) ||
      !v->IsInt32()) {
    throw_type(iso, "TextDecoder: not a TextDecoder");
    return false;
  }
  *st = v.As<v8::Int32>()->Value();
  return true;
}

static bool dec_set_state(v8::Isolate *iso, v8::Local<v8::Context> ctx,
                          v8::Local<v8::Object> self, int32_t st) {
  return self
      ->SetPrivate(ctx, engine_of(iso)->privs[PRIV_DECODER_STATE].Get(iso),
                   v8::Integer::New(iso, st))
      .FromMaybe(false);
}

static bool get_bool_opt(v8::Isolate *iso, v8::Local<v8::Context> ctx,
                         v8::Local<v8::Value> opts, const char *name, bool *out) {
  *out = false;
  if (opts.IsEmpty() || opts->IsUndefined() || opts->IsNull()) return true;
  if (!opts->IsObject()) {
    throw_type(iso, "TextDecoder: options must be an object");
    return false;
  }
  v8::Local<v8::Value> v;
  if (!opts.As<v8::Object>()->Get(ctx, lit(iso, name)).ToLocal(&v)) return false;
  *out = v->BooleanValue(iso);
  return true;
}

static void decoder_ctor(const cbinfo &info) {
  v8::Isolate *iso = info.GetIsolate();
  v8::Local<v8::Context> ctx = iso->GetCurrentContext();
  if (!info.IsConstructCall()) return throw_type(iso, "TextDecoder: use new TextDecoder()");
  std::string label = "utf-8";
  if (info.Length() > 0 && !info[0]->IsUndefined()) {
    v8::Local<v8::String> s;
    if (!info[0]->ToString(ctx).ToLocal(&s)) return;
    label.clear();
    append_utf8(iso, s, &label);
    size_t b = label.find_first_not_of(" \t\n\f\r");
    size_t e = label.find_last_not_of(" \t\n\f\r");
    label = b == std::string::npos ? "" : label.substr(b, e - b + 1);
    for (char &c : label)
      if (c >= 'A' && c <= 'Z') c = (char)(c + 32);
  }
  static const char *const utf8_labels[] = {"utf-8", "utf8", "unicode-1-1-utf-8",
                                            "unicode11utf8", "unicode20utf8",
                                            "x-unicode20utf8"};
  bool known = false;
  for (const char *l : utf8_labels) known = known || label == l;
  if (!known) {
    std::string m = "TextDecoder: encoding '" + label + "' is not supported (UTF-8 only)";
    iso->ThrowException(v8::Exception::RangeError(lit(iso, m.c_str())));
    return;
  }
  bool fatal, ignore_bom;
  v8::Local<v8::Value> opts = info.Length() > 1 ? info[1] : v8::Local<v8::Value>();
  if (!get_bool_opt(iso, ctx, opts, "fatal", &fatal) ||
      !get_bool_opt(iso, ctx, opts, "ignoreBOM", &ignore_bom))
    return;
  dec_set_state(iso, ctx, info.This(),
                (fatal ? DEC_FATAL : 0) | (ignore_bom ? DEC_IGNORE_BOM : 0));
}

static void decoder_flag(const cbinfo &info, int flag) {
  v8::Isolate *iso = info.GetIsolate();
  int32_t st;
  if (!dec_state(iso, iso->GetCurrentContext(), info.This(), &st)) return;
  info.GetReturnValue().Set((st & flag) != 0);
}
static void decoder_fatal(const cbinfo &info) { decoder_flag(info, DEC_FATAL); }
static void decoder_ignore_bom(const cbinfo &info) { decoder_flag(info, DEC_IGNORE_BOM); }

// Bytes a UTF-8 lead byte announces (0: not a lead byte), and the range its
// second byte must fall in (the encoding standard's table).
static int utf8_need(unsigned char b, unsigned char *lo, unsigned char *hi) {
  *lo = 0x80;
  *hi = 0xBF;
  if (b < 0x80) return 1;
  if (b >= 0xC2 && b <= 0xDF) return 2;
  if (b >= 0xE0 && b <= 0xEF) {
    if (b == 0xE0) *lo = 0xA0;
    if (b == 0xED) *hi = 0x9F;
    return 3;
  }
  if (b >= 0xF0 && b <= 0xF4) {
    if (b == 0xF0) *lo = 0x90;
    if (b == 0xF4) *hi = 0x8F;
    return 4;
  }
  return 0;
}

static bool utf8_valid(const unsigned char *p, size_t n) {
  size_t i = 0;
  while (i < n) {
    if (p[i] < 0x80) {
      i++;
      continue;
    }
    unsigned char lo, hi;
    int need = utf8_need(p[i], &lo, &hi);
    if (need == 0 || i + (size_t)need > n) return false;
    if (p[i + 1] < lo || p[i + 1] > hi) return false;
    for (int k = 2; k < need; k++)
      if ((p[i + k] & 0xC0) != 0x80) return false;
    i += (size_t)need;
  }
  return true;
}

// How many bytes at the end of p[0..n) are the valid start of a character
// that the next chunk may finish (0 when the tail is complete or invalid).
static size_t utf8_unfinished(const unsigned char *p, size_t n) {
  for (size_t back = 1; back <= 3 && back <= n; back++) {
    unsigned char b = p[n - back];
    if ((b & 0xC0) == 0x80) continue;  // a continuation byte: look further
    unsigned char lo, hi;
    int need = utf8_need(b, &lo, &hi);
    if (need <= (int)back) return 0;
    if (back >= 2 && (p[n - back + 1] < lo || p[n - back + 1] > hi)) return 0;
    return back;
  }
  return 0;
}

// decode(input?, { stream }?) for ArrayBuffer, SharedArrayBuffer or any view.
static void decoder_decode(const cbinfo &info) {
  v8::Isolate *iso = info.GetIsolate();
  v8::Local<v8::Context> ctx = iso->GetCurrentContext();
  v8::Local<v8::Object> self = info.This();
  int32_t st;
  if (!dec_state(iso, ctx, self, &st)) return;
  bool stream;
  if (!get_bool_opt(iso, ctx, info.Length() > 1 ? info[1] : v8::Local<v8::Value>(),
                    "stream", &stream))
    return;

  std::string bytes;
  int pending = (st >> 3) & 3;
  for (int i = 0; i < pending; i++) bytes.push_back((char)((st >> (5 + 8 * i)) & 0xFF));
  v8::Local<v8::Value> in = info.Length() > 0 ? info[0] : v8::Local<v8::Value>();
  if (!in.IsEmpty() && !in->IsUndefined()) {
    if (in->IsArrayBufferView()) {
      v8::Local<v8::ArrayBufferView> v = in.As<v8::ArrayBufferView>();
      size_t at = bytes.size();
      bytes.resize(at + v->ByteLength());
      bytes.resize(at + v->CopyContents(&bytes[at], v->ByteLength()));
    } else if (in->IsArrayBuffer()) {
      v8::Local<v8::ArrayBuffer> b = in.As<v8::ArrayBuffer>();
      bytes.append(static_cast<const char *>(b->Data()), b->ByteLength());
    } else if (in->IsSharedArrayBuffer()) {
      v8::Local<v8::SharedArrayBuffer> b = in.As<v8::SharedArrayBuffer>();
      bytes.append(static_cast<const char *>(b->Data()), b->ByteLength());
    } else {
      return throw_type(iso, "TextDecoder.decode: input must be an ArrayBuffer or a view");
    }
  }

  const unsigned char *p = reinterpret_cast<const unsigned char *>(bytes.data());
  size_t n = bytes.size();
  size_t keep = stream ? utf8_unfinished(p, n) : 0;
  n -= keep;
  if (!(st & DEC_IGNORE_BOM) && !(st & DEC_BOM_DONE) && n > 0) {
    if (n >= 3 && p[0] == 0xEF && p[1] == 0xBB && p[2] == 0xBF) {
      p += 3;
      n -= 3;
    }
    st |= DEC_BOM_DONE;
  }
  if ((st & DEC_FATAL) && !utf8_valid(p, n)) {
    dec_set_state(iso, ctx, self, st & (DEC_FATAL | DEC_IGNORE_BOM));
    return throw_type(iso, "TextDecoder: the input is not valid UTF-8");
  }
  v8::Local<v8::String> out;
  if (n > (size_t)v8::String::kMaxLength ||
      !v8::String::NewFromUtf8(iso, reinterpret_cast<const char *>(p),
                               v8::NewStringType::kNormal, (int)n)
           .ToLocal(&out)) {
    iso->ThrowException(v8::Exception::RangeError(lit(iso, "TextDecoder: input too large")));
    return;
  }
  // Next state: flags, the unfinished bytes; a finished stream starts over.
  int32_t next = st & (DEC_FATAL | DEC_IGNORE_BOM);
  if (stream) {
    next |= (st & DEC_BOM_DONE) | (int32_t)(keep << 3);
    for (size_t i = 0; i < keep; i++)
      next |= (int32_t)p[n + i] << (5 + 8 * i);
  }
  if (!dec_set_state(iso, ctx, self, next)) return;
  info.GetReturnValue().Set(out);
}

// ------------------------------------------------------------ installing

static bool define(v8::Local<v8::Context> ctx, v8::Local<v8::Object> on,
                   v8::Local<v8::String> name, v8::Local<v8::Value> v) {
  return on->DefineOwnProperty(ctx, name, v, v8::DontEnum).FromMaybe(false);
}

// A method with a receiver check: calling it on a foreign object throws
// "Illegal invocation" instead of reading junk.
static void method(v8::Isolate *iso, v8::Local<v8::FunctionTemplate> cls,
                   const char *name, v8::FunctionCallback cb, int length) {
  cls->PrototypeTemplate()->Set(
      lit(iso, name),
      v8::FunctionTemplate::New(iso, cb, v8::Local<v8::Value>(),
                                v8::Signature::New(iso, cls), length),
      v8::DontEnum);
}

static void getter(v8::Isolate *iso, v8::Local<v8::FunctionTemplate> cls,
                   const char *name, v8::FunctionCallback cb) {
  cls->PrototypeTemplate()->SetAccessorProperty(
      lit(iso, name),
      v8::FunctionTemplate::New(iso, cb, v8::Local<v8::Value>(),
                                v8::Signature::New(iso, cls)));
}

bool rs__v8::install_globals(v8::Isolate *iso, v8::Local<v8::Context> ctx) {
  rs_v8_engine_s *e = engine_of(iso);
  v8::Local<v8::Object> global = ctx->Global();

  v8::Local<v8::Value> u8;
  if (!global->Get(ctx, lit(iso, "Uint8Array")).ToLocal(&u8) || !u8->IsFunction())
    return false;
  e->u8_ctor.Reset(iso, u8.As<v8::Function>());

  v8::Local<v8::Object> console = v8::Object::New(iso);
  static const struct { const char *name; int level; } levels[] = {
      {"log", RS_V8_LOG_INFO},   {"info", RS_V8_LOG_INFO},   {"warn", RS_V8_LOG_WARN},
      {"error", RS_V8_LOG_ERROR}, {"debug", RS_V8_LOG_DEBUG}};
  for (const auto &l : levels) {
    v8::Local<v8::Function> f;
    if (!v8::Function::New(ctx, console_cb, v8::Integer::New(iso, l.level), 0,
                           v8::ConstructorBehavior::kThrow)
             .ToLocal(&f) ||
        !console->CreateDataProperty(ctx, lit(iso, l.name), f).FromMaybe(false))
      return false;
    f->SetName(lit(iso, l.name));
  }
  if (!define(ctx, global, lit(iso, "console"), console)) return false;

  v8::Local<v8::Function> qm;
  if (!v8::Function::New(ctx, queue_microtask_cb, v8::Local<v8::Value>(), 1,
                         v8::ConstructorBehavior::kThrow)
           .ToLocal(&qm))
    return false;
  qm->SetName(lit(iso, "queueMicrotask"));
  if (!define(ctx, global, lit(iso, "queueMicrotask"), qm)) return false;

  v8::Local<v8::FunctionTemplate> enc = v8::FunctionTemplate::New(iso, encoder_ctor);
  enc->SetClassName(lit(iso, "TextEncoder"));
  method(iso, enc, "encode", encoder_encode, 0);
  method(iso, enc, "encodeInto", encoder_encode_into, 2);
  getter(iso, enc, "encoding", encoding_getter);

  v8::Local<v8::FunctionTemplate> dec = v8::FunctionTemplate::New(iso, decoder_ctor);
  dec->SetClassName(lit(iso, "TextDecoder"));
  method(iso, dec, "decode", decoder_decode, 0);
  getter(iso, dec, "encoding", encoding_getter);
  getter(iso, dec, "fatal", decoder_fatal);
  getter(iso, dec, "ignoreBOM", decoder_ignore_bom);

  v8::Local<v8::Function> encf, decf;
  return enc->GetFunction(ctx).ToLocal(&encf) && dec->GetFunction(ctx).ToLocal(&decf) &&
         define(ctx, global, lit(iso, "TextEncoder"), encf) &&
         define(ctx, global, lit(iso, "TextDecoder"), decf);
}
