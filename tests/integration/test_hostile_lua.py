"""Lua hooks that try to take a loop thread or the process away: a hook that
never returns (a bare loop, a loop calling functions, one swallowing errors
with pcall) is interrupted at lua.hook_timeout_ms with a 500 and a log line
naming route and hook, and the loop serves on; /health names a loop that
stopped turning and recovers; SIGTERM keeps its deadline whatever a hook
does; recursion through C functions (string.gsub, table.sort, coroutines)
is a Lua error, not a SIGSEGV; an error in a __gc finalizer is logged, never
an exit; a hook that allocates without bound hits lua.memory_mb (500) and
the state serves on."""

import signal
import socket
import threading
import time

from rslib import SLOW, Reader, Server, main, run_config_check

ROUTES = r'''
ssr.route("GET", "/hello", function(req) return 200, "hello\n" end)
ssr.route("GET", "/spin", function(req) while true do end end)
local function f(x) return x + 1 end
ssr.route("GET", "/spin-calls", function(req) local n = 0 while true do n = f(n) % 7 end end)
ssr.route("GET", "/spin-pcall", function(req)
  while true do pcall(function() while true do end end) end
end)
ssr.route("GET", "/spin-table", { respond = function(req) local t = {} while true do t[#t % 64 + 1] = {} end end })
ssr.route("GET", "/gsub", function(req)
  local function r(n) return (string.gsub("x", "x", function() return r(n + 1) end)) end
  return 200, r(0)
end)
ssr.route("GET", "/sort", function(req)
  local function r(n) table.sort({ 3, 2, 1 }, function(a, b) r(n + 1) return a < b end) end
  r(0)
  return 200, "sorted"
end)
ssr.route("GET", "/coro", function(req)
  local function r(n) return coroutine.wrap(function() return r(n + 1) end)() end
  return 200, tostring(r(0))
end)
ssr.route("GET", "/gc", function(req)
  for i = 1, 20 do local u = newproxy(true) getmetatable(u).__gc = function() error("boom in __gc") end end
  collectgarbage()
  return 200, "gc\n"
end)
ssr.route("GET", "/gc-quiet", function(req)
  for i = 1, 500 do local t = newproxy(true) getmetatable(t).__gc = function() error("quiet gc boom") end end
  return 200, "made\n"
end)
ssr.route("GET", "/bomb", function(req)
  local t = {}
  local s = string.rep("x", 1024)
  for i = 1, 1e9 do t[i] = s .. i end
end)
ssr.route("GET", "/bomb-rep", function(req) local s = "x" while true do s = s .. s end end)
'''

CONFIG = {"lua": "{ hook_timeout_ms = 300, memory_mb = 64 }"}


def get(srv, path, timeout=20):
    s = socket.create_connection(("127.0.0.1", srv.port), timeout=timeout * SLOW)
    try:
        s.sendall(("GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n" % path).encode())
        return Reader(s).read_response()
    finally:
        s.close()


def admin_get(srv, path):
    s = socket.create_connection(("127.0.0.1", srv.admin_port), timeout=10 * SLOW)
    try:
        s.sendall(("GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n" % path).encode())
        return Reader(s).read_response()
    finally:
        s.close()


def all_loops_serve(srv, n=12):
    for _ in range(n):
        r = get(srv, "/hello")
        assert r.status == 200 and r.body == b"hello\n", r


def test_spinning_hooks_interrupted():
    with Server(routes=ROUTES, config=CONFIG) as srv:
        for path, hook in (("/spin", "respond"), ("/spin-calls", "respond"), ("/spin-pcall", "respond"),
                           ("/spin-table", "respond")):
            t0 = time.time()
            r = get(srv, path)
            took = time.time() - t0
            assert r.status == 500, (path, r)
            assert took < 10 * SLOW, (path, took)
            log = srv.log()
            assert "%s hook ran longer than 300 ms (lua.hook_timeout_ms): interrupted" % hook in log, log[-2000:]
            all_loops_serve(srv)
        # Both loops at once, several times: each comes back.
        threads = [threading.Thread(target=lambda: get(srv, "/spin")) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30 * SLOW)
        all_loops_serve(srv)
        assert admin_get(srv, "/health").status == 200


def test_health_reports_a_stalled_loop_then_recovers():
    cfg = {"lua": "{ hook_timeout_ms = 6000 }", "workers": "1"}
    with Server(routes=ROUTES, config=cfg, workers=1) as srv:
        assert admin_get(srv, "/health").status == 200
        done = []
        t = threading.Thread(target=lambda: done.append(get(srv, "/spin", timeout=60)))
        t.start()
        deadline = time.time() + 20 * SLOW
        seen = None
        while time.time() < deadline:
            h = admin_get(srv, "/health")
            if h.status == 503:
                seen = h
                break
            time.sleep(0.1)
        assert seen is not None, "the stalled loop never showed in /health:\n" + srv.log()[-2000:]
        assert b"loop 1: stalled" in seen.body, seen.body
        t.join(60 * SLOW)
        assert done and done[0].status == 500, done
        deadline = time.time() + 20 * SLOW
        while time.time() < deadline and admin_get(srv, "/health").status != 200:
            time.sleep(0.1)
        assert admin_get(srv, "/health").status == 200
        all_loops_serve(srv, 3)


def test_sigterm_keeps_deadline_with_spinning_hook():
    # The hook's own budget is far past the deadline: the deadline interrupts it.
    cfg = {"lua": "{ hook_timeout_ms = 600000 }", "timeouts": "{ shutdown_ms = 1000 }"}
    srv = Server(routes=ROUTES, config=cfg).start()
    s = srv.connect()
    s.sendall(b"GET /spin HTTP/1.1\r\nHost: x\r\n\r\n")
    time.sleep(0.3)
    t0 = time.time()
    srv.signal(signal.SIGTERM)
    code = srv.proc.wait(15 * SLOW)
    took = time.time() - t0
    assert took < 1.0 + 5 * SLOW, took
    assert code == 0, (code, srv.log()[-2000:])
    assert "past the shutdown deadline: interrupted" in srv.log(), srv.log()[-2000:]
    s.close()


def test_sigterm_exits_even_if_a_compiled_loop_never_stops():
    # With lua.jit = true a compiled loop cannot be interrupted: the process
    # still ends, RS_SHUTDOWN_MARGIN_MS after the deadline, exit code 1.
    cfg = {"lua": "{ hook_timeout_ms = 600000, jit = true }", "timeouts": "{ shutdown_ms = 500 }"}
    srv = Server(routes=ROUTES, config=cfg).start()
    s = srv.connect()
    s.sendall(b"GET /spin HTTP/1.1\r\nHost: x\r\n\r\n")
    time.sleep(0.5)
    t0 = time.time()
    srv.signal(signal.SIGTERM)
    code = srv.proc.wait(15 * SLOW)
    took = time.time() - t0
    assert took < 0.5 + 1.0 + 5 * SLOW, took
    log = srv.log()
    if code == 1:
        assert "still running 1000 ms after the deadline" in log and "exit (forced)" in log, log[-2000:]
    else:       # the interpreter caught it before the JIT compiled it
        assert code == 0 and "interrupted" in log, (code, log[-2000:])
    s.close()


def test_c_recursion_is_a_lua_error():
    with Server(routes=ROUTES, config=CONFIG) as srv:
        for path in ("/gsub", "/sort", "/coro"):
            r = get(srv, path, timeout=60)
            assert r.status == 500, (path, r)
            assert srv.proc.poll() is None, srv.log()[-2000:]
            all_loops_serve(srv, 4)
        log = srv.log()
        assert "stack overflow" in log, log[-3000:]


def test_gc_finalizer_errors_never_exit():
    # A finalizer's error is logged and goes no further: not into the hook
    # that collected, nor into whatever request the collector interrupted.
    with Server(routes=ROUTES, config=CONFIG) as srv:
        for _ in range(5):
            r = get(srv, "/gc")
            assert r.status == 200, r
        for _ in range(20):
            r = get(srv, "/gc-quiet")
            assert r.status == 200, r
            for _ in range(3):
                r = get(srv, "/hello")
                assert r.status == 200, (r, srv.log()[-2000:])
        assert srv.proc.poll() is None
        log = srv.log()
        assert "error in a __gc finalizer (ignored)" in log and "boom in __gc" in log, log[-2000:]


def test_memory_bomb_hits_the_cap():
    with Server(routes=ROUTES, config=CONFIG) as srv:
        for path in ("/bomb", "/bomb-rep", "/bomb"):
            r = get(srv, path, timeout=60)
            assert r.status == 500, (path, r)
            all_loops_serve(srv, 4)
        log = srv.log()
        assert "out of memory" in log and "lua.memory_mb = 64" in log, log[-2000:]
        with open("/proc/%d/status" % srv.proc.pid) as f:
            rss = [l for l in f if l.startswith("VmRSS")][0].split()[1]
        assert int(rss) < 1500 * 1024, rss


def test_lua_config_keys_checked():
    import os
    import tempfile
    d = tempfile.mkdtemp()
    for body, want in (("lua = { hook_timeout_ms = 0 }", "'lua.hook_timeout_ms' must be an integer"),
                       ("lua = { memory_mb = 1 }", "'lua.memory_mb' must be an integer"),
                       ("lua = { jit = 1 }", "'lua.jit' must be a boolean"),
                       ("lua = { hook_timeout = 5 }", "did you mean 'hook_timeout_ms'")):
        p = os.path.join(d, "c.lua")
        with open(p, "w") as f:
            f.write('local ssr = require "rustyssr"\n\nssr.config { %s }\n' % body)
        code, out = run_config_check(p)
        assert code == 1, out
        assert "c.lua:3:" in out and want in out, out


def test_config_file_that_never_ends():
    # At start (and on a reload) the file runs on the main thread: a loop
    # that never ends is a config error with its file:line, not a hang.
    import os
    import tempfile
    p = os.path.join(tempfile.mkdtemp(), "c.lua")
    with open(p, "w") as f:
        f.write('local ssr = require "rustyssr"\nssr.config { workers = 1 }\nlocal n = 0\nwhile true do n = n + 1 end\n')
    t0 = time.time()
    code, out = run_config_check(p)
    assert code == 1, out
    assert "c.lua:4: the config file ran longer than 10000 ms" in out, out
    assert time.time() - t0 < 60 * SLOW


if __name__ == "__main__":
    main([test_spinning_hooks_interrupted, test_health_reports_a_stalled_loop_then_recovers,
          test_sigterm_keeps_deadline_with_spinning_hook, test_sigterm_exits_even_if_a_compiled_loop_never_stops,
          test_c_recursion_is_a_lua_error, test_gc_finalizer_errors_never_exit, test_memory_bomb_hits_the_cap,
          test_lua_config_keys_checked, test_config_file_that_never_ends])
