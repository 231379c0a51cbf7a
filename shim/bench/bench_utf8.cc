// shim/bench/bench_utf8.cc — getting a rendered page out of V8 as UTF-8:
// String::Utf8Value (+ the copy into our own buffer) against
// Utf8Length + WriteUtf8 into a reused buffer, and WriteUtf8 alone into a
// buffer already big enough for the worst case (3 bytes per UTF-16 unit).
// The page: ~15 KB of UTF-8 HTML, mostly Cyrillic text, built by join (a
// flat string) and by += (a rope, flattened by the first call on it).
//
// Not part of the build; from the repo root (one command):
//   g++ -O2 -std=c++17 -fno-rtti -isystem build/deps/root/usr/include/node
//       shim/bench/bench_utf8.cc -o build/shim/bench_utf8
//       build/deps/root/usr/lib/x86_64-linux-gnu/libnode.so.108
//       -Wl,-rpath,build/deps/root/usr/lib/x86_64-linux-gnu -lpthread
//   build/shim/bench_utf8
#include <libplatform/libplatform.h>
#include <v8.h>

#include <stdio.h>
#include <string.h>
#include <time.h>

#include <memory>
#include <vector>

static double now_ns() {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static const int kIters = 100000;
static volatile size_t sink;

template <class F>
static double per_op_ns(F f) {
  for (int i = 0; i < 1000; i++) f();
  double t0 = now_ns();
  for (int i = 0; i < kIters; i++) f();
  return (now_ns() - t0) / kIters;
}

static const int kOpts =
    v8::String::NO_NULL_TERMINATION | v8::String::REPLACE_INVALID_UTF8;

static void run(v8::Isolate *iso, v8::Local<v8::Context> ctx, const char *label,
                const char *js, const char *rope_js) {
  v8::HandleScope hs(iso);
  v8::Local<v8::String> src =
      v8::String::NewFromUtf8(iso, js).ToLocalChecked();
  v8::Local<v8::Function> make = v8::Script::Compile(ctx, src)
                                     .ToLocalChecked()
                                     ->Run(ctx)
                                     .ToLocalChecked()
                                     .As<v8::Function>();
  v8::Local<v8::String> page =
      make->Call(ctx, v8::Undefined(iso), 0, nullptr).ToLocalChecked().As<v8::String>();
  size_t units = (size_t)page->Length();
  size_t bytes = (size_t)page->Utf8Length(iso);
  printf("%s: %zu UTF-16 units, %zu bytes of UTF-8\n", label, units, bytes);

  std::vector<char> buf(3 * units + 1);
  double a = per_op_ns([&] {
    v8::String::Utf8Value u(iso, page);
    memcpy(buf.data(), *u, (size_t)u.length());
    sink += (size_t)u.length();
  });
  double a2 = per_op_ns([&] {
    v8::String::Utf8Value u(iso, page);
    sink += (size_t)u.length();
  });
  double b = per_op_ns([&] {
    int n = page->Utf8Length(iso);
    sink += (size_t)page->WriteUtf8(iso, buf.data(), n, nullptr, kOpts);
  });
  double c = per_op_ns([&] {
    sink += (size_t)page->WriteUtf8(iso, buf.data(), (int)(3 * units), nullptr, kOpts);
  });
  double d = per_op_ns([&] { sink += (size_t)page->Utf8Length(iso); });
  printf("  Utf8Value + memcpy to our buffer   %8.0f ns  %5.2f GB/s\n", a, bytes / a);
  printf("  Utf8Value alone                    %8.0f ns  %5.2f GB/s\n", a2, bytes / a2);
  printf("  Utf8Length + WriteUtf8 (reused)    %8.0f ns  %5.2f GB/s\n", b, bytes / b);
  printf("  WriteUtf8 into 3x buffer (reused)  %8.0f ns  %5.2f GB/s\n", c, bytes / c);
  printf("  (Utf8Length alone                  %8.0f ns)\n", d);


  // The rope case: render code that builds the page with += returns a cons
  // string, which the first read flattens. A fresh rope per op; the cost of
  // making it is measured alone and subtracted.
  if (!rope_js) return;
  v8::Local<v8::Function> mk = v8::Script::Compile(ctx, v8::String::NewFromUtf8(iso, rope_js).ToLocalChecked())
                                   .ToLocalChecked()->Run(ctx).ToLocalChecked().As<v8::Function>();
  auto fresh = [&] {
    return mk->Call(ctx, v8::Undefined(iso), 0, nullptr).ToLocalChecked().As<v8::String>();
  };
  double base = per_op_ns([&] {
    v8::HandleScope h(iso);
    sink += (size_t)fresh()->Length();
  });
  double ra = per_op_ns([&] {
    v8::HandleScope h(iso);
    v8::String::Utf8Value u(iso, fresh());
    memcpy(buf.data(), *u, (size_t)u.length());
    sink += (size_t)u.length();
  });
  double rb = per_op_ns([&] {
    v8::HandleScope h(iso);
    v8::Local<v8::String> p = fresh();
    int n = p->Utf8Length(iso);
    sink += (size_t)p->WriteUtf8(iso, buf.data(), n, nullptr, kOpts);
  });
  double rc = per_op_ns([&] {
    v8::HandleScope h(iso);
    v8::Local<v8::String> p = fresh();
    sink += (size_t)p->WriteUtf8(iso, buf.data(), (int)buf.size() - 1, nullptr, kOpts);
  });
  printf("  rope (+=), making it alone: %.0f ns; then, net of that:\n", base);
  printf("  Utf8Value + memcpy to our buffer   %8.0f ns\n", ra - base);
  printf("  Utf8Length + WriteUtf8 (reused)    %8.0f ns\n", rb - base);
  printf("  WriteUtf8 into 3x buffer (reused)  %8.0f ns\n", rc - base);
}

int main() {
  std::unique_ptr<v8::Platform> platform = v8::platform::NewDefaultPlatform(1);
  v8::V8::InitializePlatform(platform.get());
  v8::V8::Initialize();
  v8::Isolate::CreateParams params;
  params.array_buffer_allocator = v8::ArrayBuffer::Allocator::NewDefaultAllocator();
  v8::Isolate *iso = v8::Isolate::New(params);
  {
    v8::Isolate::Scope is(iso);
    v8::HandleScope hs(iso);
    v8::Local<v8::Context> ctx = v8::Context::New(iso);
    v8::Context::Scope cs(ctx);
    printf("V8 %s, %d iterations each\n", v8::V8::GetVersion(), kIters);
    // ~15 KB: 2/3 of the bytes Cyrillic, the rest markup.
    run(iso, ctx, "flat page (join)", R"JS(
      (function () {
        var parts = ['<!doctype html><html><body><ul class="catalog">'];
        for (var i = 0; i < 115; i++)
          parts.push('<li class="item"><h3>\u0422\u043e\u0432\u0430\u0440 \u043d\u043e\u043c\u0435\u0440 ' + i +
                     '</h3><p>\u041e\u043f\u0438\u0441\u0430\u043d\u0438\u0435 \u0442\u043e\u0432\u0430\u0440\u0430: ' +
                     '\u043e\u0447\u0435\u043d\u044c \u0445\u043e\u0440\u043e\u0448\u0438\u0439 \u0432\u044b\u0431\u043e\u0440.' +
                     '</p></li>');
        return parts.join('') + '</ul></body></html>';
      })
    )JS", R"JS(
      (function () {
        var s = '<!doctype html><html><body><ul class="catalog">';
        for (var i = 0; i < 115; i++)
          s += '<li class="item"><h3>\u0422\u043e\u0432\u0430\u0440 \u043d\u043e\u043c\u0435\u0440 ' + i +
               '</h3><p>\u041e\u043f\u0438\u0441\u0430\u043d\u0438\u0435 \u0442\u043e\u0432\u0430\u0440\u0430: ' +
               '\u043e\u0447\u0435\u043d\u044c \u0445\u043e\u0440\u043e\u0448\u0438\u0439 \u0432\u044b\u0431\u043e\u0440.' +
               '</p></li>';
        return s + '</ul></body></html>';
      })
    )JS");
    run(iso, ctx, "ASCII page of the same length", R"JS(
      (function () {
        var parts = ['<!doctype html><html><body><ul class="catalog">'];
        for (var i = 0; i < 190; i++)
          parts.push('<li class="item"><h3>Product number ' + i +
                     '</h3><p>Description: a very good choice, really.</p></li>');
        return parts.join('') + '</ul></body></html>';
      })
    )JS", nullptr);
  }
  iso->Dispose();
  delete params.array_buffer_allocator;
  v8::V8::Dispose();
  v8::V8::DisposePlatform();
  return 0;
}
