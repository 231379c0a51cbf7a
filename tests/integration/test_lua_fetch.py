"""Non-blocking I/O from Lua hooks, over real sockets: ssr.fetch against a
small threaded backend on loopback (success, JSON, timeout, refused),
ssr.fetch_all in parallel, ssr.sleep, props fetched from the backend, clients
that leave while a hook waits (cancelled, no coroutine or fetch left:
metrics back to 0, the backend sees its connection closed), req:set_header and
req:exit, and hooks that fail after a yield."""

import json
import os
import re
import select
import socket
import struct
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from rslib import SLOW, TESTS, Server, free_port, main, run_config_check

BUNDLE = os.path.join(TESTS, "js", "it_hooks.js")


class Backend:
    """A threaded HTTP/1.1 server on 127.0.0.1 that the hooks fetch from."""

    def __init__(self):
        self.hits = {}
        self.hang_open = 0
        self.hang_closed = 0
        self.lock = threading.Lock()
        backend = self

        class H(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def reply(self, status, body, ctype="application/json", extra=()):
                data = body.encode() if isinstance(body, str) else body
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(data)))
                for k, v in extra:
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(data)

            def do_POST(self):
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n).decode()
                self.reply(200, json.dumps({"method": "POST", "body": body,
                                            "from": self.headers.get("X-From")}))

            def do_GET(self):
                path = self.path
                with backend.lock:
                    key = path.split("?")[0]
                    backend.hits[key] = backend.hits.get(key, 0) + 1
                if path.startswith("/json"):
                    self.reply(200, json.dumps({"name": "widget", "price": 5, "tags": ["a", "b"],
                                                "from": self.headers.get("X-From")}),
                               extra=[("X-Backend", "yes"), ("X-Multi", "1"), ("X-Multi", "2")])
                elif path.startswith("/delay"):
                    ms = int(re.search(r"ms=(\d+)", path).group(1))
                    time.sleep(ms / 1000.0)
                    self.reply(200, json.dumps({"slept": ms}))
                elif path.startswith("/product/"):
                    pid = path.rsplit("/", 1)[1]
                    if pid == "missing":
                        self.reply(404, json.dumps({"error": "no such product"}))
                    else:
                        self.reply(200, json.dumps({"id": pid, "title": "Product " + pid}))
                elif path.startswith("/hang"):
                    with backend.lock:
                        backend.hang_open += 1
                    sock = self.connection
                    deadline = time.time() + 60
                    while time.time() < deadline:
                        r, _, _ = select.select([sock], [], [], 0.2)
                        if r:
                            try:
                                if sock.recv(1, socket.MSG_PEEK) == b"":
                                    break
                            except OSError:
                                break
                    with backend.lock:
                        backend.hang_closed += 1
                    self.close_connection = True
                elif path.startswith("/nostore"):
                    self.reply(200, json.dumps({"fresh": True}), extra=[("Cache-Control", "no-store")])
                elif path.startswith("/echoheaders"):
                    self.reply(200, json.dumps({k.lower(): v for k, v in self.headers.items()}))
                elif path.startswith("/text"):
                    self.reply(200, "plain text, not json", ctype="text/plain")
                else:
                    self.reply(404, "{}")

        self.srv = ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.srv.daemon_threads = True
        self.port = self.srv.server_address[1]
        self.thread = threading.Thread(target=self.srv.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.srv.shutdown()
        self.srv.server_close()
        return False


ROUTES = r'''
local B = "http://127.0.0.1:%(bp)d"
local REFUSED = "http://127.0.0.1:%(dead)d"

ssr.route("GET", "/f", function(req)
  local res, err = ssr.fetch(B, "/json?x=1", { headers = { ["X-From"] = "hook" } })
  if not res then return 502, "fetch failed: " .. err end
  local j, jerr = res:json()
  return 200, table.concat({ res.status, res.headers["x-backend"], res.headers["x-multi"],
    res.headers["content-type"], j.name, j.price, j.tags[2], j.from }, "|")
end)
ssr.route("GET", "/up", function(req)
  local res, err = ssr.fetch("api", "/json")
  if not res then return 502, err end
  return 200, "via upstream: " .. res:json().name
end)
ssr.route("GET", "/nosuch", function(req)
  local res, err = ssr.fetch("nope", "/json")
  return 200, tostring(res) .. "|" .. tostring(err)
end)
ssr.route("GET", "/pcall", function(req)   -- a yield across pcall
  local ok, res = pcall(ssr.fetch, B, "/json")
  return 200, tostring(ok) .. "|" .. tostring(res and res.status)
end)
ssr.route("GET", "/post", function(req)
  local res, err = ssr.fetch(B, "/echo", { method = "POST", body = "hello", headers = { ["X-From"] = "p" } })
  if not res then return 502, err end
  local j = res:json()
  return 200, j.method .. "|" .. j.body .. "|" .. j.from
end)
ssr.route("GET", "/notjson", function(req)
  local res = ssr.fetch(B, "/text")
  local v, err = res:json()
  return 200, tostring(v) .. "|" .. tostring(err ~= nil)
end)
ssr.route("GET", "/timeout", function(req)
  local res, err = ssr.fetch(B, "/delay?ms=3000", { timeout_ms = 200 })
  return 200, tostring(res) .. "|" .. tostring(err)
end)
ssr.route("GET", "/refused", function(req)
  local res, err = ssr.fetch(REFUSED, "/x")
  return 200, tostring(res) .. "|" .. tostring(err)
end)
ssr.route("GET", "/all", function(req)
  local ms = req.query.ms or "1000"
  local t = ssr.fetch_all({
    { B, "/delay?ms=" .. ms .. "&n=1" },
    { B, "/delay?ms=" .. ms .. "&n=2" },
    { REFUSED, "/x" },
    { B, "/delay?ms=" .. ms .. "&n=3" },
  })
  local out = {}
  for i, r in ipairs(t) do
    out[#out + 1] = r.res and tostring(r.res.status) or ("err:" .. r.err)
  end
  return 200, table.concat(out, ",")
end)
ssr.route("GET", "/sleep", function(req)
  ssr.sleep(tonumber(req.query.s or "0.2"))
  req:set_header("X-Slept", "yes")
  return 200, "slept"
end)
ssr.route("GET", "/fast", function(req) return 200, "fast" end)
ssr.route("GET", "/hang", function(req)
  local res, err = ssr.fetch(B, "/hang")
  return 200, tostring(err)
end)
ssr.route("GET", "/sleepy", function(req)
  ssr.sleep(60)
  return 200, "woke"
end)
ssr.route("GET", "/phang/*", { render = true, props = function(req)
  local res, err = ssr.fetch(B, "/hang")
  return { err = err }
end })

ssr.route("GET", "/product/:id", { render = { ttl = 60 }, props = function(req)
  local res, err = ssr.fetch(B, "/product/" .. req.params.id)
  if not res then return nil, err end
  if res.status == 404 then req:exit(404, "no such product\n", { ["X-Reason"] = "backend-404" }) end
  req:set_header("X-Props", "fetched")
  return res:json()
end })
ssr.route("GET", "/sh/*", { render = { ttl = 60 },
  key = function(req) req:set_header("X-Key-Hook", "ran"); return "sh:" .. req.path end,
  props = function(req) ssr.sleep(0.01); req:set_header("X-Props-Hook", "ran"); return { p = 1 } end })
ssr.route("GET", "/sherr/*", { render = true, props = function(req)
  req:set_header("X-Tried", "1")
  ssr.sleep(0.01)
  return nil, "backend said no"
end })
ssr.route("GET", "/shr", function(req)
  req:set_header("X-Early", "1")
  ssr.sleep(0.01)
  return 200, "r", { ["X-Late"] = "2" }
end)
ssr.route("GET", "/ex/*", { render = true, key = function(req)
  if req.query.deny then
    if req.query.wait then ssr.sleep(0.01) end
    req:exit(403, "denied\n", { ["X-Why"] = "deny" })
  end
  return req.path
end })
ssr.route("GET", "/badset/:what", function(req)
  local w = req.params.what
  if w == "name" then req:set_header("Bad Name", "v")
  elseif w == "crlf" then req:set_header("X-A", "a\r\nInjected: 1")
  elseif w == "owned" then req:set_header("Content-Length", "1")
  elseif w == "ctl" then req:set_header("X-A", "a\1b")
  elseif w == "hop" then req:set_header("Upgrade", "h2c") end
  return 200, "no"
end)
ssr.route("GET", "/err-after-yield", function(req)
  ssr.sleep(0.01)
  error("broke after a yield")
end)
ssr.route("GET", "/wrong-after-yield/*", { render = true, key = function(req)
  ssr.sleep(0.01)
  return {}
end })
ssr.route("GET", "/coyield", function(req)
  coroutine.yield()
  return 200, "never"
end)
ssr.route("GET", "/nested", function(req)
  local co = coroutine.create(function() return ssr.sleep(0.01) end)
  local ok, err = coroutine.resume(co)
  return 200, tostring(ok) .. "|" .. tostring(err)
end)
'''


def make_server(backend, workers=2, **kw):
    routes = ROUTES % {"bp": backend.port, "dead": free_port()}
    return Server(workers=workers, config={
        "render": '{ bundle = "%s", threads = 1 }' % BUNDLE,
        "cache": "{ ttl = 60, grace = 0 }",
        "upstreams": '{ api = { servers = { "127.0.0.1:%d" } } }' % backend.port,
    }, routes=routes, **kw)


def props_of(body):
    m = re.search(rb"<pre id=props>(.*?)</pre>", body)
    assert m, body
    return json.loads(m.group(1))


def wait_for(fn, what, timeout=10.0):
    deadline = time.time() + timeout * SLOW
    last = None
    while time.time() < deadline:
        last = fn()
        if last:
            return last
        time.sleep(0.05)
    raise AssertionError("timed out waiting for %s (last: %r)" % (what, last))


def test_fetch_success():
    with Backend() as b, make_server(b) as srv:
        r = srv.get("/f")
        assert r.status == 200, (r, srv.log())
        assert r.body == b"200|yes|1, 2|application/json|widget|5|b|hook", r.body
        u = srv.get("/up")
        assert u.status == 200 and u.body == b"via upstream: widget", (u, srv.log())
        p = srv.get("/post")
        assert p.status == 200 and p.body == b"POST|hello|p", p
        assert srv.get("/nosuch").body == b"nil|no such upstream"
        assert srv.get("/pcall").body == b"true|200"
        n = srv.get("/notjson")
        assert n.body == b"nil|true", n.body


def test_fetch_timeout_and_refused():
    with Backend() as b, make_server(b) as srv:
        t0 = time.time()
        r = srv.get("/timeout")
        assert r.status == 200 and r.body == b"nil|timeout", r
        assert time.time() - t0 < 2.5 * SLOW, "the 200 ms timeout did not cut the 3 s fetch"
        f = srv.get("/refused")
        assert f.status == 200 and f.body == b"nil|connection refused", f


def test_fetch_all_runs_in_parallel():
    with Backend() as b, make_server(b) as srv:
        t0 = time.time()
        r = srv.get("/all?ms=1000")
        took = time.time() - t0
        assert r.status == 200 and r.body == b"200,200,err:connection refused,200", r
        # three 1 s fetches: in parallel about 1 s; one after the other could
        # not take less than 3 s, whatever the machine's load
        assert 0.9 <= took < 2.8, took


def test_sleep_does_not_block_the_loop():
    with Backend() as b, make_server(b, workers=1) as srv:
        s = srv.connect()
        t0 = time.time()
        s.sendall(b"GET /sleep?s=1 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        time.sleep(0.1)
        f = srv.get("/fast")            # same loop: answered while the other sleeps
        fast_done = time.time()
        assert f.body == b"fast"
        from rslib import read_response
        r = read_response(s)
        s.close()
        assert r.status == 200 and r.body == b"slept" and r.header("x-slept") == "yes", r
        assert fast_done < time.time() and time.time() - t0 >= 0.95
        assert fast_done - t0 < 0.9, "the sleeping hook held the loop"


def test_props_from_the_backend():
    with Backend() as b, make_server(b) as srv:
        r = srv.get("/product/42")
        assert r.status == 200, (r, srv.log())
        assert props_of(r.body) == {"id": "42", "title": "Product 42"}, r.body
        assert r.header("x-cache") == "MISS" and r.header("x-props") == "fetched", r
        h = srv.get("/product/42")
        assert h.header("x-cache").startswith("HIT"), h
        assert h.header("x-props") is None, "a hit must not run the props hook nor carry its headers"
        assert b.hits["/product/42"] == 1, b.hits
        m = srv.get("/product/missing")
        assert m.status == 404 and m.body == b"no such product\n" and m.header("x-reason") == "backend-404", m
        assert srv.get("/product/missing").status == 404     # never cached as a page
        assert b.hits["/product/missing"] == 2, b.hits


def test_set_header_on_hit_miss_and_respond():
    with Backend() as b, make_server(b) as srv:
        m = srv.get("/sh/a")
        assert m.status == 200 and m.header("x-cache") == "MISS", m
        assert m.header("x-key-hook") == "ran" and m.header("x-props-hook") == "ran", m.headers
        h = srv.get("/sh/a")
        assert h.header("x-cache").startswith("HIT"), h
        assert h.header("x-key-hook") == "ran" and h.header("x-props-hook") is None, h.headers
        e = srv.get("/sherr/x")        # on an error answer too
        assert e.status == 500 and e.header("x-tried") == "1", e
        r = srv.get("/shr")
        assert r.status == 200 and r.header("x-early") == "1" and r.header("x-late") == "2", r.headers
        for what in ("name", "crlf", "owned", "ctl", "hop"):
            bad = srv.get("/badset/" + what)
            assert bad.status == 500 and bad.header("injected") is None, (what, bad)
        log = srv.log()
        assert re.search(r"route \S+:\d+: respond hook failed \[req \w+\]: .*invalid header name 'Bad Name'", log), log
        assert "holds CR, LF or NUL" in log and "'Content-Length' is the server's header" in log, log
        # one value check and one hop-by-hop list (rs_http.h): a control byte, Upgrade
        assert "the value of 'X-A' holds a control character" in log, log
        assert "'Upgrade' is the server's header" in log, log


def test_exit_from_key_and_props():
    with Backend() as b, make_server(b) as srv:
        ok = srv.get("/ex/page")
        assert ok.status == 200 and ok.header("x-cache") == "MISS", ok
        d = srv.get("/ex/page?deny=1")
        assert d.status == 403 and d.body == b"denied\n" and d.header("x-why") == "deny", d
        w = srv.get("/ex/page?deny=1&wait=1")
        assert w.status == 403 and w.body == b"denied\n", w
        assert srv.get("/ex/page").header("x-cache").startswith("HIT")


def test_errors_after_a_yield():
    with Backend() as b, make_server(b) as srv:
        e = srv.get("/err-after-yield")
        assert e.status == 500 and b"broke" not in e.body, e
        w = srv.get("/wrong-after-yield/x")
        assert w.status == 500, w
        c = srv.get("/coyield")
        assert c.status == 500, c
        n = srv.get("/nested")
        assert n.status == 200 and n.body.startswith(b"false|") and b"not from a coroutine it created" in n.body, n
        log = srv.log()
        assert re.search(r"route \S+:\d+: respond hook failed \[req \w+\]: .*broke after a yield", log), log
        assert "stack traceback" in log
        assert "key hook returned table, expected a string" in log, log
        assert "yielded outside ssr.fetch" in log, log
        for _ in range(5):
            assert srv.get("/fast").body == b"fast"
        assert srv.metrics()["rustyssr_lua_coroutines"] == 0


def test_client_gone_cancels_and_leaks_nothing():
    with Backend() as b, make_server(b) as srv:
        socks = []
        n_hang, n_sleep, n_props = 6, 6, 4
        for path, n in (("/hang", n_hang), ("/sleepy", n_sleep)):
            for _ in range(n):
                s = srv.connect()
                s.sendall(("GET %s HTTP/1.1\r\nHost: x\r\n\r\n" % path).encode())
                socks.append(s)
        for i in range(n_props):      # render route: the flight's leader waits in props
            s = srv.connect()
            s.sendall(("GET /phang/%d HTTP/1.1\r\nHost: x\r\n\r\n" % i).encode())
            socks.append(s)
        total = n_hang + n_sleep + n_props
        wait_for(lambda: srv.metrics()["rustyssr_lua_coroutines"] == total, "every hook to wait")
        wait_for(lambda: b.hang_open == n_hang + n_props, "the backend to see every fetch")
        assert srv.metrics()["rustyssr_fetch_inflight"] == n_hang + n_props
        for s in socks:
            # a reset, as a client killed mid-request (a FIN alone is a
            # half-close: the answer is still owed, as with nginx)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            s.close()
        wait_for(lambda: srv.metrics()["rustyssr_lua_coroutines"] == 0, "coroutines back to 0")
        wait_for(lambda: srv.metrics()["rustyssr_fetch_inflight"] == 0, "fetches back to 0")
        wait_for(lambda: b.hang_closed == n_hang + n_props, "the backend to see its connections closed")
        assert srv.metrics()["rustyssr_connections_open"] == 0
        assert srv.get("/f").status == 200      # and the loops go on
        assert srv.get("/sleep?s=0.01").body == b"slept"
        assert srv.metrics()["rustyssr_lua_coroutines"] == 0


def test_many_waiting_hooks():
    """100 requests asleep at once on 2 loops: all answered, none left."""
    with Backend() as b, make_server(b) as srv:
        socks = []
        for i in range(100):
            s = srv.connect()
            s.sendall(("GET /sleep?s=0.5&i=%d HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n" % i).encode())
            socks.append(s)
        from rslib import read_response
        for s in socks:
            r = read_response(s)
            s.close()
            assert r.status == 200 and r.body == b"slept", r
        m = srv.metrics()
        assert m["rustyssr_lua_coroutines"] == 0 and m["rustyssr_fetch_inflight"] == 0, m
        assert m['rustyssr_requests_total{class="2xx"}'] >= 100, m


def test_fetch_outside_a_hook_is_an_error():
    with Backend() as b:
        srv = Server(routes='ssr.fetch("http://127.0.0.1:%d", "/json")' % b.port)
        code, out = run_config_check(srv.config_path)
        assert code == 1, out
        assert re.search(r"rustyssr\.lua:\d+: ssr\.fetch may be called only inside a request hook", out), out
        srv2 = Server(routes='ssr.sleep(1)')
        code, out = run_config_check(srv2.config_path)
        assert code == 1 and "ssr.sleep may be called only inside a request hook" in out, out


if __name__ == "__main__":
    main([test_fetch_success, test_fetch_timeout_and_refused, test_fetch_all_runs_in_parallel,
          test_sleep_does_not_block_the_loop, test_props_from_the_backend, test_set_header_on_hit_miss_and_respond,
          test_exit_from_key_and_props, test_errors_after_a_yield, test_client_gone_cancels_and_leaks_nothing,
          test_many_waiting_hooks,
          test_fetch_outside_a_hook_is_an_error])
