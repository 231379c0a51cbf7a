// shim/rs_v8_render.cc — one render: the request object in, render() called,
// its Promise settled, the result checked and written out as UTF-8.
#include "rs_v8_internal.h"

#include <libplatform/libplatform.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

using namespace rs__v8;

// ------------------------------------------------------------ request

static inline v8::Local<v8::String> key(rs_v8_engine_s *e, key_id k) {
  return e->keys[k].Get(e->isolate);
}

// Adds name=value to obj; a name seen before turns into an array of values
// (join == nullptr) or has the value appended after join (headers).
static bool add_pair(v8::Isolate *iso, v8::Local<v8::Context> ctx,
                     v8::Local<v8::Object> obj, v8::Local<v8::String> name,
                     v8::Local<v8::String> value, const char *join) {
  bool seen;
  if (!obj->HasOwnProperty(ctx, name).To(&seen)) return false;
  if (!seen) return obj->CreateDataProperty(ctx, name, value).FromMaybe(false);
  v8::Local<v8::Value> old;
  if (!obj->Get(ctx, name).ToLocal(&old)) return false;
  v8::Local<v8::Value> now;
  if (join) {
    v8::Local<v8::String> sep = str(iso, join, strlen(join));
    now = v8::String::Concat(iso, v8::String::Concat(iso, old.As<v8::String>(), sep),
                             value);
  } else if (old->IsArray()) {
    v8::Local<v8::Array> a = old.As<v8::Array>();
    return a->Set(ctx, a->Length(), value).FromMaybe(false);
  } else {
    v8::Local<v8::Value> two[2] = {old, value};
    now = v8::Array::New(iso, two, 2);
  }
  return obj->CreateDataProperty(ctx, name, now).FromMaybe(false);
}

static bool add_pairs(v8::Isolate *iso, v8::Local<v8::Context> ctx,
                      v8::Local<v8::Object> obj, const rs_v8_pair_t *p, size_t n,
                      bool headers) {
  std::string lower;
  for (size_t i = 0; i < n; i++) {
    const char *name = p[i].name;
    size_t nlen = p[i].name_len;
    const char *join = nullptr;
    if (headers) {
      lower.assign(name, nlen);
      for (char &c : lower)
        if (c >= 'A' && c <= 'Z') c = (char)(c + 32);
      name = lower.data();
      join = (nlen == 6 && memcmp(name, "cookie", 6) == 0) ? "; " : ", ";
    }
    v8::Local<v8::String> k;
    // Header names repeat across requests: internalize them once.
    if (!v8::String::NewFromUtf8(iso, name, headers
                                                ? v8::NewStringType::kInternalized
                                                : v8::NewStringType::kNormal,
                                 (int)nlen)
             .ToLocal(&k))
      return false;
    if (!add_pair(iso, ctx, obj, k, str(iso, p[i].value, p[i].value_len), join))
      return false;
  }
  return true;
}

static bool build_request(rs_v8_engine_s *e, v8::Local<v8::Context> ctx,
                          const rs_v8_request_t *rq, v8::Local<v8::Object> *out) {
  v8::Isolate *iso = e->isolate;
  v8::Local<v8::Object> r = v8::Object::New(iso);
  v8::Local<v8::Object> q = v8::Object::New(iso), pa = v8::Object::New(iso),
                        h = v8::Object::New(iso);
  if (!r->CreateDataProperty(ctx, key(e, KEY_url), str(iso, rq->url, rq->url_len))
           .FromMaybe(false) ||
      !r->CreateDataProperty(ctx, key(e, KEY_method),
                             str(iso, rq->method, rq->method_len))
           .FromMaybe(false) ||
      !r->CreateDataProperty(ctx, key(e, KEY_path), str(iso, rq->path, rq->path_len))
           .FromMaybe(false) ||
      !add_pairs(iso, ctx, q, rq->query, rq->nquery, false) ||
      !add_pairs(iso, ctx, pa, rq->params, rq->nparams, false) ||
      !add_pairs(iso, ctx, h, rq->headers, rq->nheaders, true) ||
      !r->CreateDataProperty(ctx, key(e, KEY_query), q).FromMaybe(false) ||
      !r->CreateDataProperty(ctx, key(e, KEY_params), pa).FromMaybe(false) ||
      !r->CreateDataProperty(ctx, key(e, KEY_headers), h).FromMaybe(false))
    return false;
  *out = r;
  return true;
}

// ------------------------------------------------------------ output

// Writes s as UTF-8 into the engine's html buffer (NUL after it).
//
// The page is the largest string a render makes, and turning it into
// UTF-8 was ~12% of a render of the demo page (bench/PROFILE.md): V8 10.2
// flattens the rope (String::WriteToFlat into a new heap string), then
// Utf8Length walks it once to size the buffer and WriteUtf8 a second time,
// one code point per call of its encoder (~17 instructions a UTF-16 unit
// under callgrind). Here the string's UTF-16 (or Latin-1) units are copied
// into a scratch buffer kept by the engine (String::Write / WriteOneByte:
// the rope's pieces straight into our memory), and encoded by
// utf16_to_utf8 below, four units at a time while they are ASCII, into a
// buffer sized for the worst case (3 bytes a unit), never counted first.
// The bytes are those of WriteUtf8 with REPLACE_INVALID_UTF8: a lone
// surrogate becomes U+FFFD (tests/unit/test_shim_v8.c compares both over
// every kind of unit). rs_v8_result_take_html shrinks a taken buffer to
// its length (realloc in place), so the cache keeps no slack.

// Latin-1 to UTF-8; out has room for 2 * n bytes. Returns the bytes written.
static size_t latin1_to_utf8(const uint8_t *in, size_t n, char *out) {
  char *o = out;
  size_t i = 0;
  while (i < n) {
    if (i + 8 <= n) {
      uint64_t w;
      memcpy(&w, in + i, 8);
      if ((w & 0x8080808080808080ull) == 0) {
        memcpy(o, &w, 8);
        o += 8, i += 8;
        continue;
      }
    }
    uint8_t c = in[i++];
    if (c < 0x80) {
      *o++ = (char)c;
    } else {
      *o++ = (char)(0xc0 | (c >> 6));
      *o++ = (char)(0x80 | (c & 0x3f));
    }
  }
  return (size_t)(o - out);
}

// UTF-16 to UTF-8; out has room for 3 * n bytes (a pair's 4 bytes come
// from 2 units). A lone surrogate is written as U+FFFD.
static size_t utf16_to_utf8(const uint16_t *in, size_t n, char *out) {
  char *o = out;
  size_t i = 0;
  while (i < n) {
    if (i + 4 <= n) {
      uint64_t w;
      memcpy(&w, in + i, 8);
      if ((w & 0xff80ff80ff80ff80ull) == 0) {
        o[0] = (char)in[i], o[1] = (char)in[i + 1], o[2] = (char)in[i + 2],
        o[3] = (char)in[i + 3];
        o += 4, i += 4;
        continue;
      }
    }
    uint32_t c = in[i++];
    if (c < 0x80) {
      *o++ = (char)c;
    } else if (c < 0x800) {
      *o++ = (char)(0xc0 | (c >> 6));
      *o++ = (char)(0x80 | (c & 0x3f));
    } else if (c >= 0xd800 && c <= 0xdfff) {
      if (c <= 0xdbff && i < n && in[i] >= 0xdc00 && in[i] <= 0xdfff) {
        uint32_t cp = 0x10000 + ((c - 0xd800) << 10) + (uint32_t)(in[i++] - 0xdc00);
        *o++ = (char)(0xf0 | (cp >> 18));
        *o++ = (char)(0x80 | ((cp >> 12) & 0x3f));
        *o++ = (char)(0x80 | ((cp >> 6) & 0x3f));
        *o++ = (char)(0x80 | (cp & 0x3f));
      } else {
        *o++ = (char)0xef, *o++ = (char)0xbf, *o++ = (char)0xbd;
      }
    } else {
      *o++ = (char)(0xe0 | (c >> 12));
      *o++ = (char)(0x80 | ((c >> 6) & 0x3f));
      *o++ = (char)(0x80 | (c & 0x3f));
    }
  }
  return (size_t)(o - out);
}

static bool write_html(rs_v8_engine_s *e, v8::Local<v8::String> s) {
  v8::Isolate *iso = e->isolate;
  size_t n = (size_t)s->Length();
  bool one = s->IsOneByte();
  size_t worst = (one ? 2 : 3) * n;
  // The scratch holds the units (Latin-1 bytes in the same memory); a
  // scratch far larger than this page (one giant page long ago) shrinks.
  size_t want = one ? (n + 1) / 2 : n;
  if (want > e->units_cap || (e->units_cap > (1u << 19) && e->units_cap > 8 * (want + 1))) {
    uint16_t *nu = static_cast<uint16_t *>(malloc((want + 1) * sizeof(uint16_t)));
    if (!nu) return false;
    free(e->units);
    e->units = nu;
    e->units_cap = want + 1;
  }
  bool shrink = e->buf_cap > (1u << 20) && e->buf_cap > 8 * (worst + 1);
  if (!e->buf || worst + 1 > e->buf_cap || shrink) {
    char *nb = static_cast<char *>(malloc(worst + 1));
    if (!nb) return false;
    free(e->buf);
    e->buf = nb;
    e->buf_cap = worst + 1;
  }
  size_t len;
  if (one) {
    uint8_t *u8 = reinterpret_cast<uint8_t *>(e->units);
    s->WriteOneByte(iso, u8, 0, (int)n, v8::String::NO_NULL_TERMINATION);
    len = latin1_to_utf8(u8, n, e->buf);
  } else {
    s->Write(iso, e->units, 0, (int)n, v8::String::NO_NULL_TERMINATION);
    len = utf16_to_utf8(e->units, n, e->buf);
  }
  e->buf[len] = '\0';
  e->last_html = e->buf;
  e->last_len = len;
  return true;
}

static const char *const empty = "";

// Appends s to the string arena and returns its span.
static rs__v8_span arena_add(rs_v8_engine_s *e, v8::Local<v8::String> s) {
  rs__v8_span sp;
  sp.off = e->strs.size();
  append_utf8(e->isolate, s, &e->strs);
  sp.len = e->strs.size() - sp.off;
  e->strs.push_back('\0');
  return sp;
}

static bool is_tchar(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
         (c != 0 && strchr("!#$%&'*+-.^_`|~", c) != nullptr);
}

// ------------------------------------------------------------ result

// Records a render error: *why plus, when there is an exception, its place
// and stack. Returns RS_V8_ERROR.
static rs_v8_outcome_t fail(rs_v8_engine_s *e, const std::string &why) {
  e->err = why;
  e->stack.clear();
  return RS_V8_ERROR;
}

static rs_v8_outcome_t fail_exc(rs_v8_engine_s *e, v8::Local<v8::Context> ctx,
                                v8::Local<v8::Value> exc, v8::Local<v8::Message> m) {
  describe_exception(e->isolate, ctx, exc, m, &e->err, &e->stack);
  return RS_V8_ERROR;
}

static std::string type_of(v8::Isolate *iso, v8::Local<v8::Value> v) {
  std::string t;
  if (v->IsNull()) return "null";
  if (v->IsArray()) return "array";
  append_utf8(iso, v->TypeOf(iso), &t);
  return t;
}

// A render whose promise is still pending with nothing left to run: most
// often a chain that broke on an error nobody caught. Report that error
// (the first one no JS caught, or else the first rejection with no
// handler) rather than the pending promise.
static rs_v8_outcome_t never_settled(rs_v8_engine_s *e, v8::Local<v8::Context> ctx,
                                     v8::Local<v8::Promise> result) {
  const char *tail = " (so the render's promise never settled)";
  if (e->first_set) {
    e->err = e->first_err + tail;
    e->stack = e->first_stack;
    return RS_V8_ERROR;
  }
  for (auto &g : e->unhandled) {
    v8::Local<v8::Promise> p = g.Get(e->isolate);
    if (p == result || p->State() != v8::Promise::kRejected) continue;
    describe_exception(e->isolate, ctx, p->Result(), v8::Local<v8::Message>(), &e->err,
                       &e->stack);
    e->err = "unhandled rejection: " + e->err + tail;
    return RS_V8_ERROR;
  }
  return fail(e, "render promise never settled (nothing left to run: no timer or "
                 "message pending, and no error was thrown)");
}

// Takes { status, headers, html, ttl?, tags? } apart. A getter may throw:
// the caller's TryCatch has it then.
static rs_v8_outcome_t take_object(rs_v8_engine_s *e, v8::Local<v8::Context> ctx,
                                   v8::TryCatch &tc, v8::Local<v8::Object> o,
                                   rs_v8_result_t *out) {
  v8::Isolate *iso = e->isolate;
  v8::Local<v8::Value> html, status, headers, ttl, tags;
  if (!o->Get(ctx, key(e, KEY_html)).ToLocal(&html) ||
      !o->Get(ctx, key(e, KEY_status)).ToLocal(&status) ||
      !o->Get(ctx, key(e, KEY_headers)).ToLocal(&headers) ||
      !o->Get(ctx, key(e, KEY_ttl)).ToLocal(&ttl) ||
      !o->Get(ctx, key(e, KEY_tags)).ToLocal(&tags))
    return fail_exc(e, ctx, tc.Exception(), tc.Message());

  if (!html->IsString())
    return fail(e, "render result: html is " + type_of(iso, html) +
                       ", expected a string");
  if (status->IsUndefined()) {
    out->status = 200;
  } else {
    double d = status->IsNumber() ? status.As<v8::Number>()->Value() : NAN;
    // Only final statuses: a 1xx (or 101) final answer would put the body
    // on the wire unframed after an interim head (response splitting).
    if (!(d >= 200 && d <= 599) || d != (double)(int)d) {
      std::string got = type_of(iso, status);
      if (status->IsNumber()) {
        char num[32];
        snprintf(num, sizeof(num), " %.17g", d);
        got += num;
      }
      return fail(e, "render result: status must be an integer 200..599, not " + got);
    }
    out->status = (int)d;
  }
  if (ttl->IsUndefined() || ttl->IsNull()) {
    out->ttl = -1;
  } else {
    double d = ttl->IsNumber() ? ttl.As<v8::Number>()->Value() : NAN;
    if (!(d >= 0)) return fail(e, "render result: ttl must be a number >= 0");
    out->ttl = d > 2147483647.0 ? 2147483647 : (int)d;
  }
  if (!tags->IsUndefined() && !tags->IsNull()) {
    if (!tags->IsArray()) return fail(e, "render result: tags must be an array of strings");
    v8::Local<v8::Array> a = tags.As<v8::Array>();
    for (uint32_t i = 0; i < a->Length(); i++) {
      v8::Local<v8::Value> t;
      if (!a->Get(ctx, i).ToLocal(&t)) return fail_exc(e, ctx, tc.Exception(), tc.Message());
      if (!t->IsString()) return fail(e, "render result: tags must be an array of strings");
      e->tag_spans.push_back(arena_add(e, t.As<v8::String>()));
    }
  }
  if (!headers->IsUndefined() && !headers->IsNull()) {
    if (!headers->IsObject() || headers->IsArray())
      return fail(e, "render result: headers must be an object of strings");
    v8::Local<v8::Object> ho = headers.As<v8::Object>();
    v8::Local<v8::Array> names;
    if (!ho->GetOwnPropertyNames(ctx, static_cast<v8::PropertyFilter>(
                                          v8::ONLY_ENUMERABLE | v8::SKIP_SYMBOLS),
                                 v8::KeyConversionMode::kConvertToString)
             .ToLocal(&names))
      return fail_exc(e, ctx, tc.Exception(), tc.Message());
    for (uint32_t i = 0; i < names->Length(); i++) {
      v8::Local<v8::Value> n, v;
      if (!names->Get(ctx, i).ToLocal(&n) || !ho->Get(ctx, n).ToLocal(&v))
        return fail_exc(e, ctx, tc.Exception(), tc.Message());
      // One value, or an array of them (several Set-Cookie); numbers as
      // their decimal form.
      uint32_t count = v->IsArray() ? v.As<v8::Array>()->Length() : 1;
      for (uint32_t j = 0; j < count; j++) {
        v8::Local<v8::Value> one = v;
        if (v->IsArray() && !v.As<v8::Array>()->Get(ctx, j).ToLocal(&one))
          return fail_exc(e, ctx, tc.Exception(), tc.Message());
        v8::Local<v8::String> vs;
        if (one->IsString())
          vs = one.As<v8::String>();
        else if (one->IsNumber())
          vs = one->ToString(ctx).ToLocalChecked();
        else
          return fail(e, "render result: header values must be strings");
        rs__v8_span ns = arena_add(e, n.As<v8::String>());
        rs__v8_span vsp = arena_add(e, vs);
        char *np = &e->strs[ns.off];
        bool ok = ns.len > 0;
        for (size_t k = 0; k < ns.len; k++) {
          unsigned char c = (unsigned char)np[k];
          if (c >= 'A' && c <= 'Z') np[k] = (char)(c + 32);
          else if (!is_tchar(c)) ok = false;
        }
        if (!ok)
          return fail(e, "render result: invalid header name '" +
                             std::string(np, ns.len) + "'");
        for (size_t k = 0; k < vsp.len; k++) {
          unsigned char c = (unsigned char)e->strs[vsp.off + k];
          if ((c < 0x20 && c != '\t') || c == 0x7f)
            return fail(e, "render result: header '" + std::string(np, ns.len) +
                               "' has a control character in its value");
        }
        e->hdr_spans.push_back(ns);
        e->hdr_spans.push_back(vsp);
      }
    }
  }
  if (!write_html(e, html.As<v8::String>()))
    return fail(e, "out of memory for the page");
  return RS_V8_OK;
}

// Calls render and settles its result. Returns the outcome as seen from JS;
// the caller turns it into TIMEOUT or OOM when a terminate was behind it.
static rs_v8_outcome_t run(rs_v8_engine_s *e, v8::Local<v8::Context> ctx,
                           v8::TryCatch &tc, const rs_v8_request_t *rq,
                           rs_v8_result_t *out, v8::Local<v8::Value> *result) {
  v8::Isolate *iso = e->isolate;
  v8::Local<v8::Object> request;
  if (!build_request(e, ctx, rq, &request)) {
    if (tc.HasTerminated()) return RS_V8_ERROR;
    e->err = "cannot build the request object";
    return RS_V8_BADARG;
  }
  v8::Local<v8::Value> props;
  if (rq->props_len == 0) {
    props = v8::Object::New(iso);
  } else {
    if (rq->props_len > (size_t)v8::String::kMaxLength) {
      e->err = "props: JSON too large";
      return RS_V8_BADARG;
    }
    if (!v8::JSON::Parse(ctx, str(iso, rq->props_json, rq->props_len)).ToLocal(&props)) {
      if (tc.HasTerminated()) return RS_V8_ERROR;
      std::string why;
      describe_exception(iso, ctx, tc.Exception(), v8::Local<v8::Message>(), &why,
                         nullptr);
      e->err = "props: " + why;
      tc.Reset();
      return RS_V8_BADARG;
    }
  }

  v8::Local<v8::Value> argv[2] = {request, props};
  v8::Local<v8::Value> rv;
  if (!e->render_fn.Get(iso)->Call(ctx, v8::Undefined(iso), 2, argv).ToLocal(&rv))
    return fail_exc(e, ctx, tc.Exception(), tc.Message());
  *result = rv;
  // Always drain: even a string result may have queued work (and an async
  // render needs it to settle). One checkpoint runs every microtask,
  // including those queued while it runs.
  iso->PerformMicrotaskCheckpoint();
  if (tc.HasTerminated() || iso->IsExecutionTerminating()) return RS_V8_ERROR;

  if (rv->IsPromise()) {
    v8::Local<v8::Promise> p = rv.As<v8::Promise>();
    // Timers and port messages, until the promise settles (rs_v8_host.cc).
    if (p->State() == v8::Promise::kPending && !host_run_until(e, ctx, p))
      return RS_V8_ERROR;
    switch (p->State()) {
      case v8::Promise::kPending:
        return never_settled(e, ctx, p);
      case v8::Promise::kRejected:
        p->MarkAsHandled();
        return fail_exc(e, ctx, p->Result(), v8::Local<v8::Message>());
      case v8::Promise::kFulfilled:
        rv = p->Result();
        break;
    }
  }
  if (rv->IsString()) {
    out->status = 200;
    out->ttl = -1;
    if (!write_html(e, rv.As<v8::String>())) return fail(e, "out of memory for the page");
    return RS_V8_OK;
  }
  if (!rv->IsObject() || rv->IsArray() || rv->IsFunction())
    return fail(e, "render returned " + type_of(iso, rv) +
                       ", expected a string or { status, headers, html }");
  return take_object(e, ctx, tc, rv.As<v8::Object>(), out);
}

extern "C" rs_v8_outcome_t rs_v8_render(rs_v8_engine_t *e, const rs_v8_request_t *rq,
                                        rs_v8_result_t *out) {
  memset(out, 0, sizeof *out);
  out->status = 500;
  out->ttl = -1;
  out->html = out->error = out->stack = empty;
  e->strs.clear();
  e->hdr_spans.clear();
  e->tag_spans.clear();
  e->err.clear();
  e->stack.clear();
  e->last_html = nullptr;

  rs_v8_outcome_t oc;
  if (!rs_v8_engine_usable(e)) {
    e->dead = true;
    e->err = "engine must be replaced: it reached its heap limit earlier";
    oc = RS_V8_DEAD;
  } else {
    v8::Isolate *iso = e->isolate;
    v8::Locker locker(iso);
    v8::Isolate::Scope iscope(iso);
    v8::HandleScope hs(iso);
    v8::Local<v8::Context> ctx = e->context.Get(iso);
    v8::Context::Scope cscope(ctx);
    v8::TryCatch tc(iso);

    enter_thread(e);
    e->cur_request_id = rq->id;
    {
      std::lock_guard<std::mutex> lk(e->term_mu);
      e->running = true;
      e->running_id = rq->id;
      e->term_hit = false;
    }
    bool oom;
    {
      // The render's own handles (request, props, result) end with this
      // scope, before the platform tasks below: V8's scavenge task often
      // runs there, and would otherwise keep the page and the request
      // alive through it, copying and then promoting them.
      v8::HandleScope render_scope(iso);
      v8::Local<v8::Value> result;
      host_begin(e);
      oc = run(e, ctx, tc, rq, out, &result);
      // What is due when the render settled still runs; the rest is cancelled.
      if (!e->oom.load(std::memory_order_relaxed) && !iso->IsExecutionTerminating())
        host_finish(e, ctx);
      host_cancel(e);
      oom = e->oom.load(std::memory_order_relaxed);
      if (!oom && !iso->IsExecutionTerminating()) report_unhandled(e, ctx, result);
      e->unhandled.clear();
    }
    // Platform tasks for this isolate (GC finalization, FinalizationRegistry
    // cleanups) run here, still inside the terminable window.
    if (!oom)
      while (v8::platform::PumpMessageLoop(platform(), iso)) {
      }
    bool hit;
    {
      std::lock_guard<std::mutex> lk(e->term_mu);
      e->running = false;
      hit = e->term_hit;
    }
    // A terminate that landed after JS returned is still pending in the
    // isolate; clear it here, before any other JS can run. No terminate can
    // arrive after `running = false` above.
    if (hit || oom) iso->CancelTerminateExecution();
    e->cur_request_id = 0;

    oom = oom || e->oom.load(std::memory_order_relaxed);
    if (oom) {
      e->dead = true;
      oc = RS_V8_OOM;
      e->err = "heap limit reached (" + std::to_string(e->heap_limit >> 20) +
               " MB); engine must be replaced";
      e->stack.clear();
    } else if (oc == RS_V8_ERROR && (hit || tc.HasTerminated())) {
      oc = RS_V8_TIMEOUT;
      e->err = "render terminated (timeout)";
      e->stack.clear();
    }
  }

  out->outcome = oc;
  if (oc != RS_V8_OK) {
    e->last_html = nullptr;
    e->hdr_spans.clear();
    e->tag_spans.clear();
    out->status = 500;
    out->ttl = -1;
    out->html = empty;
    out->error = e->err.c_str();
    out->error_len = e->err.size();
    out->stack = e->stack.c_str();
    out->stack_len = e->stack.size();
    return oc;
  }
  // The arena no longer moves: turn spans into pointers.
  e->hdrs.resize(e->hdr_spans.size() / 2);
  for (size_t i = 0; i < e->hdrs.size(); i++) {
    const rs__v8_span &n = e->hdr_spans[2 * i], &v = e->hdr_spans[2 * i + 1];
    e->hdrs[i] = {&e->strs[n.off], n.len, &e->strs[v.off], v.len};
  }
  e->tags.resize(e->tag_spans.size());
  for (size_t i = 0; i < e->tags.size(); i++)
    e->tags[i] = {&e->strs[e->tag_spans[i].off], e->tag_spans[i].len};
  out->html = e->last_html;
  out->html_len = e->last_len;
  out->headers = e->hdrs.data();
  out->nheaders = e->hdrs.size();
  out->tags = e->tags.data();
  out->ntags = e->tags.size();
  return oc;
}

extern "C" char *rs_v8_result_take_html(rs_v8_engine_t *e, rs_v8_result_t *out) {
  if (out->outcome != RS_V8_OK || !e->buf || out->html != e->last_html) return nullptr;
  // Sized for the worst case: give back the slack (in place; a failed
  // shrink leaves the block as it was).
  char *p = static_cast<char *>(realloc(e->buf, e->last_len + 1));
  if (!p) p = e->buf;
  e->buf = nullptr;
  e->buf_cap = 0;
  e->last_html = nullptr;
  out->html = nullptr;
  return p;
}
