"""The render pool end to end (core/render/rs_pool.c, core/gateway/rs_render.c): the bundle
contract (string, object, Promise results; the request object), render errors
(500, generic page, stack only in the log; render.debug), the watchdog (504),
the heap limit (503, isolate replaced), a broken bundle at start and under
`-t`, the bounded queue (503 + Retry-After) and the queue deadline, console.*
in the error log, UTF-8 output, globals, pipelining, concurrency over both
loop threads, clients that go away, SIGTERM with a render in flight and the
shutdown deadline, the isolate that replaces one that hit its heap limit.
The demo bundle against Node is test_render_demo.py.

Bundles: tests/js/it_*.js (hand-written, no npm)."""

import json
import os
import re
import shutil
import signal
import socket
import struct
import tempfile
import threading
import time

from rslib import SLOW, TESTS, Reader, Server, lua_str, main, read_response, run_config_check, wait_for

JS = os.path.join(TESTS, "js")
BUNDLE = os.path.join(JS, "it_render.js")
OUTCOMES = ("ok", "error", "timeout", "oom", "rejected", "expired", "cancelled")
# The page cache is off here: these tests are about the pool, and count
# renders. test_render_errors_are_never_cached uses the default route.
ROUTES = '''
ssr.respond("/health", 200, "ok\\n")
ssr.route({ "GET", "POST" }, "/*", { render = { cache = false } })
'''
CACHED_ROUTES = '''
ssr.respond("/health", 200, "ok\\n")
ssr.route("GET", "/*", { render = true })
'''


def lua_value(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return lua_str(v)
    return str(v)


def server(workers=2, bundle=BUNDLE, config=None, routes=ROUTES, **render):
    """A server whose every GET/POST (but /health) renders with `bundle`;
    `render` holds more render.* keys (threads defaults to 2), `config` more
    ssr.config fields (Lua source)."""
    render.setdefault("threads", 2)
    fields = ["bundle = %s" % lua_str(bundle)] + ["%s = %s" % (k, lua_value(v)) for k, v in render.items()]
    cfg = {"render": "{ %s }" % ", ".join(fields)}
    cfg.update(config or {})
    return Server(config=cfg, routes=routes, workers=workers)


def outcomes(srv):
    m = srv.metrics()
    return {k: m['rustyssr_renders_total{outcome="%s"}' % k] for k in OUTCOMES}, m


def line_of(path, text):
    with open(path, encoding="utf-8") as f:
        for i, line in enumerate(f, 1):
            if text in line:
                return i
    raise AssertionError("%r not in %s" % (text, path))


def headers_named(r, name):
    return [v for k, v in r.headers if k == name]


def send(s, path, method="GET", extra=""):
    s.sendall(("%s %s HTTP/1.1\r\nHost: localhost\r\n%s\r\n" % (method, path, extra)).encode())


def reset_close(s):
    """Close with a TCP reset (SO_LINGER 0), as a killed client does."""
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    s.close()


def assert_generic(r, status, title):
    assert r.status == status, r
    assert r.header("content-type").startswith("text/html"), r
    assert (b"<h1>%d %s</h1>" % (status, title.encode())) in r.body, r


# ------------------------------------------------------------------ results


def test_string_result():
    with server() as srv:
        r = srv.get("/string")
        assert r.status == 200, r
        assert r.body == b"<!doctype html><p>hello, string</p>\n", r
        assert headers_named(r, "content-type") == ["text/html; charset=utf-8"], r
        assert r.header("content-length") == str(len(r.body)), r
        # HEAD: the same head, no body.
        with srv.connect() as s:
            send(s, "/string", "HEAD", "Connection: close\r\n")
            rd = Reader(s)
            h = rd.read_response(head_request=True)
            assert h.status == 200 and h.header("content-length") == str(len(r.body)), h
            s.settimeout(5 * SLOW)
            extra = rd.buf
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                extra += chunk
            assert extra == b"", "bytes after a HEAD response: %r" % extra


def test_object_result_status_and_headers():
    with server() as srv:
        r = srv.get("/object")
        assert r.status == 201, r
        assert r.body == b"<p>created</p>", r
        assert r.header("x-custom") == "yes", r
        assert r.header("cache-control") == "max-age=5", r
        assert headers_named(r, "content-type") == ["text/html; charset=utf-8"], r
        r = srv.get("/object-type")
        assert r.status == 200 and r.body == b'{"a":1}', r
        assert headers_named(r, "content-type") == ["application/json"], r
        # Framing headers from the bundle are dropped; the connection stays open.
        with srv.connect() as s:
            rd = Reader(s)
            for _ in range(2):
                send(s, "/smuggle")
                r = rd.read_response()
                assert r.status == 200 and r.body == b"0123456789", r
                assert headers_named(r, "content-length") == ["10"], r
                assert r.header("transfer-encoding") is None and r.header("connection") is None, r
                assert r.header("x-ok") == "1", r


def test_bundle_cannot_duplicate_date():
    """Date is the server's (README: a route may not set Content-Length,
    Date, Connection, Transfer-Encoding); a second Date line is invalid."""
    with server() as srv:
        r = srv.get("/date")
        assert r.status == 200 and r.body == b"dated" and r.header("x-ok") == "1", r
        assert len(headers_named(r, "date")) == 1, r.raw_head


def test_pipelined_renders_answer_in_order():
    with server(threads=2) as srv:
        with srv.connect() as s:
            paths = ["/slow?ms=300&n=0", "/string", "/slow?ms=100&n=2", "/count", "/promise"]
            s.sendall(b"".join(b"GET %s HTTP/1.1\r\nHost: x\r\n\r\n" % p.encode() for p in paths))
            rd = Reader(s)
            bodies = [rd.read_response().body for _ in paths]
        assert bodies[0] == b"<p>slow /slow?ms=300&n=0</p>", bodies
        assert bodies[1] == b"<!doctype html><p>hello, string</p>\n", bodies
        assert bodies[2] == b"<p>slow /slow?ms=100&n=2</p>", bodies
        assert bodies[3] in (b"1", b"2"), bodies
        assert bodies[4] == b"<p>promised</p>", bodies


def test_promise_and_async_results():
    with server() as srv:
        r = srv.get("/promise")
        assert r.status == 200 and r.body == b"<p>promised</p>", r
        r = srv.get("/promise-object")
        assert r.status == 202 and r.body == b"<p>later</p>" and r.header("x-kind") == "promise", r
        r = srv.get("/async")
        assert r.status == 200 and r.body == b"<p>async 42 GET</p>", r
        assert r.header("content-type") == "text/html; charset=utf-8", r


def test_request_object_fields():
    target = "/echo/%D0%B0%20b?a=1&a=2&b=x+y%20z&c=&d&e=%E2%9C%93&caf%C3%A9=%26%3D&a=3"
    with server() as srv:
        r = srv.request(("GET %s HTTP/1.1\r\nHost: localhost\r\nX-Mixed-Case: Value\r\n"
                         "X-Rep: a\r\nX-Rep: b\r\nCookie: a=1\r\nCookie: b=2\r\n"
                         "Connection: close\r\n\r\n" % target).encode())
        assert r.status == 200, r
        got = json.loads(r.body.decode("utf-8"))
        req = got["request"]
        assert got["props"] == {}, got
        assert req["url"] == target, req
        assert req["method"] == "GET", req
        assert req["path"] == "/echo/%D0%B0%20b", req          # as received, as the Node peer has it
        assert req["params"] == {}, req
        assert req["query"] == {"a": ["1", "2", "3"], "b": "x y z", "c": "", "d": "", "e": "\u2713",
                                "caf\u00e9": "&="}, req["query"]
        h = req["headers"]
        assert all(k == k.lower() for k in h), h
        assert h["host"] == "localhost", h
        assert h["x-mixed-case"] == "Value", h
        assert h["x-rep"] == "a, b", h                      # repeated: joined as Node does
        assert h["cookie"] == "a=1; b=2", h
        assert h["connection"] == "close", h
        # No query at all: {}; another method.
        body = b"x=1"
        r = srv.request(b"POST /echo/p HTTP/1.1\r\nHost: localhost\r\nContent-Length: 3\r\n"
                        b"Connection: close\r\n\r\n" + body)
        assert r.status == 200, r
        req = json.loads(r.body)["request"]
        assert req["method"] == "POST" and req["path"] == "/echo/p" and req["url"] == "/echo/p", req
        assert req["query"] == {}, req


# ------------------------------------------------------------------ errors


def test_throw_is_500_generic_stack_only_in_log():
    with server() as srv:
        r = srv.get("/throw")
        assert_generic(r, 500, "Internal Server Error")
        for leak in (b"kaboom", b"it_render", b"    at ", b"render.debug"):
            assert leak not in r.body, (leak, r.body)
        r = srv.get("/throw-string")
        assert_generic(r, 500, "Internal Server Error")
        assert b"bare string" not in r.body, r
        line = line_of(BUNDLE, '"/throw":')
        log = srv.log()
        assert re.search(r"render error for (?:GET )?/throw \[req [0-9a-f]+\]: .*it_render\.js:%d:\d+: Error: "
                         r"kaboom <b>&\"x\"</b>" % line, log), log
        assert re.search(r"\n\s+at .*it_render\.js:%d:\d+" % line, log), "no stack in the log:\n" + log
        assert "a bare string thrown" in log, log
        o, _ = outcomes(srv)
        assert o["error"] == 2 and o["ok"] == 0, o


def test_rejected_promise_is_500():
    with server() as srv:
        for path, marker in (("/reject", "TypeError: rejected-marker"), ("/reject-async", "RangeError: late-marker")):
            r = srv.get(path)
            assert_generic(r, 500, "Internal Server Error")
            assert b"marker" not in r.body, r
            assert marker in srv.log(), srv.log()
        o, _ = outcomes(srv)
        assert o["error"] == 2, o


def test_non_string_result_is_500():
    with server() as srv:
        for path in ("/number", "/undefined", "/html-number"):
            r = srv.get(path)
            assert_generic(r, 500, "Internal Server Error")
        assert "render returned number" in srv.log(), srv.log()
        o, _ = outcomes(srv)
        assert o["error"] == 3 and o["ok"] == 0, o


def test_render_errors_are_never_cached():
    """DESIGN: a render error is 500 with a generic page and never cached;
    through the default (caching) route every request renders again."""
    with server(routes=CACHED_ROUTES, threads=1, timeout_ms=300) as srv:
        for path in ("/throw", "/reject", "/number"):
            for _ in range(2):
                r = srv.get(path)
                assert_generic(r, 500, "Internal Server Error")
                assert not (r.header("x-cache") or "").startswith("HIT"), r
        for _ in range(2):
            r = srv.get("/loop")
            assert r.status == 504 and not (r.header("x-cache") or "").startswith("HIT"), r
        o, _ = outcomes(srv)
        assert o["error"] == 6 and o["timeout"] == 2, o
        # while a page that rendered is: the same answer without a render
        assert srv.get("/count").body == b"1"
        assert srv.get("/count").body == b"1"
        o, _ = outcomes(srv)
        assert o["ok"] == 1, o


def test_debug_shows_the_error_escaped():
    with server(debug=True) as srv:
        r = srv.get("/throw")
        assert r.status == 500, r
        assert r.header("content-type").startswith("text/html"), r
        assert b"kaboom &lt;b&gt;&amp;&quot;x&quot;&lt;/b&gt;" in r.body, r.body
        assert b"<b>" not in r.body, r.body            # never raw markup from the error
        assert b"it_render.js:%d" % line_of(BUNDLE, '"/throw":') in r.body, r.body
        r = srv.get("/reject")
        assert r.status == 500 and b"rejected-marker" in r.body, r
        r = srv.get("/string")                         # a success is untouched
        assert r.status == 200 and r.body == b"<!doctype html><p>hello, string</p>\n", r


# ------------------------------------------------------------------ limits


def test_infinite_loop_504_then_same_worker_serves():
    timeout_ms = 500
    with server(threads=1, timeout_ms=timeout_ms) as srv:
        assert srv.get("/count").body == b"1"
        t0 = time.time()
        r = srv.get("/loop")
        elapsed = time.time() - t0
        assert_generic(r, 504, "Gateway Timeout")
        assert timeout_ms / 1000 * 0.9 <= elapsed <= timeout_ms / 1000 + 0.5 * SLOW, elapsed
        for _ in range(3):
            r = srv.get("/string")
            assert r.status == 200 and r.body == b"<!doctype html><p>hello, string</p>\n", r
        # The isolate was terminated, not replaced: its globals are still there.
        assert srv.get("/count").body == b"2"
        o, m = outcomes(srv)
        assert o["timeout"] == 1, o
        assert m["rustyssr_render_isolate_restarts_total"] == 0, m
        assert re.search(r"ran past %d ms: terminated" % timeout_ms, srv.log()), srv.log()
        # An endless loop after an await is stopped the same way.
        t0 = time.time()
        r = srv.get("/async-loop")
        assert r.status == 504 and time.time() - t0 <= timeout_ms / 1000 + 0.5 * SLOW, r
        assert srv.get("/count").body == b"3"
        o, _ = outcomes(srv)
        assert o["timeout"] == 2, o


def test_heap_limit_503_isolate_replaced():
    with server(threads=1, heap_mb=32, timeout_ms=30000) as srv:
        assert srv.get("/count").body == b"1"
        r = srv.get("/oom")
        assert_generic(r, 503, "Service Unavailable")
        assert r.header("retry-after") is not None, r
        o, m = outcomes(srv)
        assert o["oom"] == 1, o
        assert m["rustyssr_render_isolate_restarts_total"] >= 1, m
        assert srv.proc.poll() is None
        r = srv.get("/string")
        assert r.status == 200 and r.body == b"<!doctype html><p>hello, string</p>\n", r
        assert srv.get("/count").body == b"1"          # a fresh isolate: fresh globals
        _, m = outcomes(srv)
        used = m['rustyssr_render_heap_used_bytes{thread="0"}']
        assert 0 < used < 32 << 20, m


def test_queue_full_503_with_retry_after():
    n = 10
    with server(threads=1, queue=2, timeout_ms=10000) as srv:
        socks = [srv.connect() for _ in range(n)]
        results = [None] * n
        start = threading.Barrier(n)

        def one(i):
            s = socks[i]
            start.wait()
            t0 = time.time()
            send(s, "/slow?ms=300&i=%d" % i, extra="Connection: close\r\n")
            r = read_response(s)
            results[i] = (r, time.time() - t0)

        ts = [threading.Thread(target=one, args=(i,)) for i in range(n)]
        for t in ts:
            t.start()
        for t in ts:
            t.join(30 * SLOW)
        for s in socks:
            s.close()
        assert all(x is not None for x in results), results
        statuses = [r.status for r, _ in results]
        assert set(statuses) <= {200, 503}, statuses
        ok = [(r, t) for r, t in results if r.status == 200]
        busy = [(r, t) for r, t in results if r.status == 503]
        assert len(busy) >= 1 and len(ok) >= 2, statuses
        for r, _ in ok:
            assert r.body.startswith(b"<p>slow /slow?ms=300&i="), r
        for r, _ in busy:
            assert r.header("retry-after") is not None, r
        # Refused at submit, not after waiting for the queue.
        assert max(t for _, t in busy) < min(t for _, t in ok), results
        o, m = outcomes(srv)
        assert o["rejected"] == len(busy) and o["ok"] == len(ok) and o["expired"] == 0, (o, statuses)
        assert m["rustyssr_render_queue_depth"] == 0, m
        assert "render queue full" in srv.log()


def test_expired_in_queue_503():
    """timeout_ms bounds the wait in the queue too: a job still queued past
    it is answered 503 + Retry-After without rendering."""
    with server(threads=1, timeout_ms=600) as srv:
        socks = [srv.connect() for _ in range(3)]
        send(socks[0], "/slow?ms=500&n=a")     # runs 0..500 ms
        time.sleep(0.02)
        send(socks[1], "/slow?ms=500&n=b")     # dequeued at ~500 ms < its 600 ms deadline: runs
        time.sleep(0.02)
        send(socks[2], "/slow?ms=500&n=c")     # dequeued at ~1000 ms: expired
        depth = wait_for("queue depth 2", lambda: srv.metrics()["rustyssr_render_queue_depth"] == 2, 0.4)
        assert depth
        rs = [read_response(s) for s in socks]
        for s in socks:
            s.close()
        assert [r.status for r in rs] == [200, 200, 503], rs
        assert rs[2].header("retry-after") is not None, rs[2]
        o, m = outcomes(srv)
        assert o["expired"] == 1 and o["ok"] == 2, o
        assert m["rustyssr_render_duration_seconds_count"] == 2, m   # the expired job never ran


# ------------------------------------------------------------------ bundle at start


BAD_BUNDLES = [
    # (file, render.fn or None, what the message must say)
    ("it_syntax_error.js", None, r"it_syntax_error\.js:4:\d+: SyntaxError"),
    ("it_top_throw.js", None, r"it_top_throw\.js:4:\d+: .*top-level-marker object"),
    ("it_no_render.js", None, r"it_no_render\.js.*\brender\b"),
    ("no-such-bundle.js", None, r"no-such-bundle\.js.*(No such file|not found|ENOENT)"),
    ("it_render.js", "renderPage", r"it_render\.js.*\brenderPage\b"),
]


def test_broken_bundle_fails_check_and_start():
    for name, fn, want in BAD_BUNDLES:
        render = {"threads": 1}
        if fn:
            render["fn"] = fn
        srv = server(bundle=os.path.join(JS, name), **render)
        code, out = run_config_check(srv.config_path)
        assert code == 1, (name, code, out)
        assert re.search(want, out), (name, out)
        assert "test failed" in out, (name, out)
        srv.start(wait=False)
        try:
            rc = srv.proc.wait(30 * SLOW)
        finally:
            if srv.proc.poll() is None:
                srv.proc.kill()
                srv.proc.wait()
            srv.logf.close()
        log = srv.log()
        assert rc != 0, (name, rc, log)
        assert re.search(want, log), (name, log)
        assert "ready: serving" not in log, (name, log)
    # and the good bundle passes -t
    srv = server(threads=1)
    code, out = run_config_check(srv.config_path)
    assert code == 0 and "test is successful" in out, out


# ------------------------------------------------------------------ the rest of the contract


def test_console_reaches_error_log_with_request_id():
    with server() as srv:
        tag = "t%d" % os.getpid()
        r = srv.get("/console-throw?n=" + tag)
        assert r.status == 500, r
        r = srv.get("/console?n=" + tag + "b")
        assert r.status == 200 and r.body == b"<p>logged</p>", r
        log = srv.log()
        m1 = re.search(r"\[info\] \d+#\d+: js \[req ([0-9a-f]+)\]: console-marker %s\n" % tag, log)
        m2 = re.search(r"render error for (?:GET )?/console-throw\?n=%s \[req ([0-9a-f]+)\]" % tag, log)
        assert m1 and m2 and m1.group(1) == m2.group(1), log
        m3 = re.search(r"\[info\] \d+#\d+: js \[req ([0-9a-f]+)\]: console-marker %sb\n" % tag, log)
        m4 = re.search(r"\[warn\] \d+#\d+: js \[req ([0-9a-f]+)\]: warn-marker %sb\n" % tag, log)
        assert m3 and m4 and m3.group(1) == m4.group(1) != m1.group(1), log


def test_non_ascii_output_byte_exact():
    with server() as srv:
        r = srv.get("/utf8")
        want = "<p>\u041f\u0440\u0438\u0432\u0435\u0442, \u043c\u0438\u0440! \U0001F680 \u2603 " \
               "\u65e5\u672c\u8a9e e\u0301 \u0451</p>"
        assert r.status == 200 and r.body == want.encode("utf-8"), r.body
        assert r.header("content-length") == str(len(want.encode("utf-8"))), r
        r = srv.get("/utf8-big")
        want = "".join("\u0421\u0442\u0440\u043e\u043a\u0430 %d \U0001F389;" % i for i in range(2000))
        assert r.status == 200 and r.body == want.encode("utf-8"), len(r.body)
        r = srv.get("/lone-surrogate")                  # a lone surrogate: U+FFFD, valid UTF-8
        assert r.status == 200 and r.body == "a\ufffdb".encode("utf-8"), r.body


def test_globals_persist_within_one_isolate():
    with server(threads=1) as srv:
        for i in range(1, 6):
            r = srv.get("/count")
            assert r.status == 200 and r.body == str(i).encode(), (i, r)


def test_many_concurrent_requests_both_loops():
    client_threads, conns_per_thread, rounds = 4, 5, 10   # 200 requests over 20 connections
    with server(workers=2, threads=2) as srv:
        errors = []

        def client(t):
            try:
                conns = [srv.connect() for _ in range(conns_per_thread)]
                readers = [Reader(s) for s in conns]
                for i in range(rounds):
                    urls = []
                    for c, s in enumerate(conns):   # one request in flight on each connection
                        url = "/u/%d/%d/%d?i=%d" % (t, c, i, (t * 1000 + c * 100 + i))
                        urls.append(url)
                        send(s, url)
                    for c, rd in enumerate(readers):
                        r = rd.read_response()
                        url = urls[c]
                        want = "<p>url=%s path=%s q=%s</p>" % (url, url.split("?")[0], url.split("=")[1])
                        if r.status != 200 or r.body != want.encode():
                            errors.append((url, r))
                for s in conns:
                    s.close()
            except Exception as e:                    # report, do not hang the join
                errors.append(("client %d" % t, repr(e)))

        ts = [threading.Thread(target=client, args=(t,)) for t in range(client_threads)]
        for t in ts:
            t.start()
        for t in ts:
            t.join(60 * SLOW)
        assert not any(t.is_alive() for t in ts), "clients stuck"
        assert not errors, errors[:5]
        total = client_threads * conns_per_thread * rounds
        o, m = outcomes(srv)
        assert o["ok"] == total and sum(o.values()) == total, o
        assert m["rustyssr_render_duration_seconds_count"] == total, m
        # Every request logged once under its own id; ids show both loops
        # (rs_conn.h: id = loop << 40 | seq).
        ids = re.findall(r"js \[req ([0-9a-f]+)\]: u-marker (\S+)", srv.log())
        assert len(ids) == total and len(set(i for i, _ in ids)) == total, len(ids)
        assert len(set(u for _, u in ids)) == total
        loops = set(int(i, 16) >> 40 for i, _ in ids)
        assert loops == {1, 2}, loops


def test_client_going_away_while_queued_or_running():
    with server(threads=1, timeout_ms=10000) as srv:
        a = srv.connect()
        send(a, "/slow?ms=400&who=a")                 # runs
        time.sleep(0.05)
        b = srv.connect()
        send(b, "/slow?ms=400&who=b")                 # queued, then reset: cancelled
        c = srv.connect()
        send(c, "/slow?ms=50&who=c")                  # queued, then closed (FIN)
        time.sleep(0.1)
        reset_close(b)
        c.close()
        r = read_response(a)
        assert r.status == 200 and r.body == b"<p>slow /slow?ms=400&who=a</p>", r
        a.close()
        e = srv.connect()
        send(e, "/slow?ms=300&who=e")                 # running, then reset
        time.sleep(0.1)
        reset_close(e)

        def settled():
            o, _ = outcomes(srv)
            return o if o["ok"] + o["cancelled"] == 4 else None
        o = wait_for("4 renders settled", settled)
        assert o["cancelled"] >= 1, o                 # b at least
        assert o["error"] == o["expired"] == o["timeout"] == 0, o
        r = srv.get("/string")
        assert r.status == 200, r
        o, m = outcomes(srv)
        assert o["ok"] + o["cancelled"] == 5, o
        # The last connection closes as its client does (after our answer's
        # lingering close): wait for the server to see that, do not race it.
        wait_for("no connection left open",
                 lambda: srv.metrics()["rustyssr_connections_open"] == 0 or None)


def test_sigterm_finishes_render_in_flight():
    with server(threads=1, timeout_ms=10000) as srv:
        with srv.connect() as s:
            send(s, "/slow?ms=500&who=drain")
            time.sleep(0.15)
            srv.signal(signal.SIGTERM)
            r = read_response(s)
            assert r.status == 200 and r.body == b"<p>slow /slow?ms=500&who=drain</p>", r
        assert srv.proc.wait(10 * SLOW) == 0, srv.log()


def test_shutdown_deadline_bounds_a_running_render():
    """README: SIGTERM drains, and the process exits once timeouts.shutdown_ms
    has passed. A render stuck in a loop (render.timeout_ms far longer) must
    not hold the exit until the watchdog fires."""
    with server(threads=1, timeout_ms=6000, config={"timeouts": "{ shutdown_ms = 300 }"}) as srv:
        s = srv.connect()
        send(s, "/loop")
        time.sleep(0.2)
        t0 = time.time()
        srv.signal(signal.SIGTERM)
        srv.proc.wait(30 * SLOW)
        elapsed = time.time() - t0
        s.close()
        assert elapsed < 0.3 + 1.5 * SLOW, "exit took %.1f s with shutdown_ms = 300:\n%s" % (elapsed, srv.log())


# ------------------------------------------------------------------ isolate replacement


V2 = "function render() { return 'v2 from disk'; }\n"


def test_replaced_isolate_keeps_the_loaded_bundle():
    """After an OOM the fresh isolate must run the bundle the server loaded,
    not whatever the file holds now: a changed file is picked up by SIGHUP
    (DESIGN.md), never by one render thread on its own."""
    d = tempfile.mkdtemp(prefix="rs-bundle-")
    try:
        path = os.path.join(d, "bundle.js")
        shutil.copy(BUNDLE, path)
        with server(bundle=path, threads=1, heap_mb=32, timeout_ms=30000) as srv:
            assert srv.get("/string").status == 200
            with open(path, "w") as f:
                f.write(V2)
            assert srv.get("/oom").status == 503
            r = srv.get("/string")
            assert r.status == 200 and r.body == b"<!doctype html><p>hello, string</p>\n", \
                "the replacement isolate re-read the bundle from disk: %r" % (r,)
    finally:
        shutil.rmtree(d, ignore_errors=True)


def test_replaced_isolate_survives_bundle_file_removed():
    d = tempfile.mkdtemp(prefix="rs-bundle-")
    try:
        path = os.path.join(d, "bundle.js")
        shutil.copy(BUNDLE, path)
        with server(bundle=path, threads=1, heap_mb=32, timeout_ms=30000) as srv:
            assert srv.get("/string").status == 200
            os.remove(path)
            assert srv.get("/oom").status == 503
            statuses = [srv.get("/string").status for _ in range(3)]
            _, m = outcomes(srv)
            assert statuses == [200, 200, 200], "render thread left without an isolate: %s\n%s" % (
                statuses, srv.log())
            assert m["rustyssr_render_duration_seconds_sum"] < 60, m
    finally:
        shutil.rmtree(d, ignore_errors=True)


if __name__ == "__main__":
    main([
        test_string_result,
        test_object_result_status_and_headers,
        test_bundle_cannot_duplicate_date,
        test_pipelined_renders_answer_in_order,
        test_promise_and_async_results,
        test_request_object_fields,
        test_throw_is_500_generic_stack_only_in_log,
        test_rejected_promise_is_500,
        test_non_string_result_is_500,
        test_render_errors_are_never_cached,
        test_debug_shows_the_error_escaped,
        test_infinite_loop_504_then_same_worker_serves,
        test_heap_limit_503_isolate_replaced,
        test_queue_full_503_with_retry_after,
        test_expired_in_queue_503,
        test_broken_bundle_fails_check_and_start,
        test_console_reaches_error_log_with_request_id,
        test_non_ascii_output_byte_exact,
        test_globals_persist_within_one_isolate,
        test_many_concurrent_requests_both_loops,
        test_client_going_away_while_queued_or_running,
        test_sigterm_finishes_render_in_flight,
        test_shutdown_deadline_bounds_a_running_render,
        test_replaced_isolate_keeps_the_loaded_bundle,
        test_replaced_isolate_survives_bundle_file_removed,
    ])
