"""limit_req and limit_conn (nginx's) over real sockets: concurrent clients
get exactly the bucket's count (a burst, then a rate of 1/min, so timing
never matters), 429 with Retry-After and a log line, the rejection metric by
route; keys by client (behind trusted proxies), by header (absent = not
limited); connection slots held by requests in flight and given back;
status configurable; bad options refused with file:line; -T prints them."""

import os
import re
import subprocess
import tempfile
import threading
import time

from rslib import BIN, SLOW, Server, eq, main, run_config_check, wait_log

ROUTES = r'''
ssr.route("GET", "/burst", { respond = { status = 200, body = "ok" },
  limit_req = { rate = "1r/m", burst = 5, nodelay = true } })
ssr.route("GET", "/bykey", { respond = { status = 200, body = "ok" },
  limit_req = { rate = "1r/m", key = "$http_x_api_key", status = 503 } })
ssr.route("GET", "/byip", { respond = { status = 200, body = "ok" }, limit_req = { rate = "1r/m", burst = 1 } })
ssr.route("GET", "/hooked", { respond = { status = 200, body = "ok" },
  limit_req = { rate = "1r/m", key = function(req) return req.query.user end } })
ssr.route("GET", "/hooked-wait", { respond = { status = 200, body = "ok" },
  limit_req = { rate = "1r/m", key = function(req) ssr.sleep(0.01) return "one" end } })
ssr.route("GET", "/hooked-fail", { respond = { status = 200, body = "ok" },
  limit_req = { rate = "1r/m", key = function(req) error("no key today") end } })
ssr.route("GET", "/hooked-exit", { respond = { status = 200, body = "ok" },
  limit_req = { rate = "1r/m", key = function(req) req:exit(403, "go away") end } })
ssr.route("GET", "/hold", { limit_conn = { max = 2, status = 503, key = function(req) return "everyone" end },
  respond = function(req)
  ssr.shared.s:incr("inflight", 1, 0)
  local deadline = 200                      -- 10 s at most, never a fixed wait
  while not ssr.shared.s:get("release") and deadline > 0 do
    ssr.sleep(0.05)
    deadline = deadline - 1
  end
  ssr.shared.s:incr("inflight", -1)
  return 200, "held"
end })
ssr.route("GET", "/inflight", function(req) return 200, tostring(ssr.shared.s:get("inflight") or 0) end)
ssr.route("GET", "/release", function(req) ssr.shared.s:set("release", true) return 200, "ok" end)
'''


def server(**extra):
    config = {"shared": '{ s = "64k" }',
              "real_ip": '{ from = { "127.0.0.1" }, header = "X-Forwarded-For" }'}
    config.update(extra)
    return Server(workers=2, config=config, routes=ROUTES)


def fire(srv, path, n, threads=10, headers=None):
    """n requests on n connections from `threads` threads; the responses."""
    out, errors = [], []
    lock = threading.Lock()

    def client(k):
        for _ in range(k):
            try:
                r = srv.get(path, headers=headers)
                with lock:
                    out.append(r)
            except Exception as e:  # noqa: BLE001 (reported below)
                errors.append(e)

    ts = [threading.Thread(target=client, args=(n // threads,)) for _ in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert not errors, errors[:3]
    return out


def test_burst_exact_under_concurrency():
    with server() as srv:
        rs = fire(srv, "/burst", 40)
        by = {}
        for r in rs:
            by[r.status] = by.get(r.status, 0) + 1
        eq(by, {200: 6, 429: 34}, "the first request and a burst of 5 pass, at 1r/m")
        for r in rs:
            if r.status == 429:
                ra = int(r.header("retry-after"))
                assert 55 <= ra <= 60, r
                assert b"429" in r.body, r
        wait_log(srv, "limiting requests by route ")
        m = srv.metrics()
        rejected = {k: v for k, v in m.items() if k.startswith("rustyssr_limit_rejected_total{")}
        line = [k for k in rejected if 'limit="req"' in k and rejected[k] == 34]
        assert len(line) == 1, rejected
        assert re.search(r'route="[^"]+rustyssr\.lua:\d+"', line[0]), line
        assert m["rustyssr_limit_keys"] >= 1, m


def test_keys_by_header_and_client():
    with server() as srv:
        a = [srv.get("/bykey", headers={"X-Api-Key": "a"}).status for _ in range(3)]
        b = [srv.get("/bykey", headers={"X-Api-Key": "b"}).status for _ in range(2)]
        none = [srv.get("/bykey").status for _ in range(5)]
        eq(a, [200, 503, 503], "key a: burst 0, status 503")
        eq(b, [200, 503], "key b: its own bucket")
        eq(none, [200] * 5, "no header: not limited (nginx's empty key)")
        # The client behind a trusted proxy (real_ip) is the key.
        one = [srv.get("/byip", headers={"X-Forwarded-For": "192.0.2.1"}).status for _ in range(3)]
        two = [srv.get("/byip", headers={"X-Forwarded-For": "192.0.2.2"}).status for _ in range(3)]
        eq(one, [200, 200, 429])
        eq(two, [200, 200, 429])
        wait_log(srv, "client: 192.0.2.1")


def test_key_hooks():
    """key = function(req): its string is the key, nil leaves the request
    unlimited; a hook may wait (ssr.sleep), fail (500, logged) or answer
    (req:exit)."""
    with server() as srv:
        eq([srv.get("/hooked?user=a").status for _ in range(2)], [200, 429])
        eq([srv.get("/hooked?user=b").status for _ in range(2)], [200, 429])
        eq([srv.get("/hooked").status for _ in range(3)], [200, 200, 200], "nil: not limited")
        eq([srv.get("/hooked-wait").status for _ in range(3)], [200, 429, 429])
        eq(srv.get("/hooked-fail").status, 500)
        wait_log(srv, "limit_req key hook failed")
        wait_log(srv, "no key today")
        r = srv.get("/hooked-exit")
        eq((r.status, r.body), (403, b"go away"))


def test_conn_slots():
    with server() as srv:
        held = []

        def hold():
            held.append(srv.get("/hold"))

        ts = [threading.Thread(target=hold) for _ in range(2)]
        for t in ts:
            t.start()
        deadline = time.time() + 10 * SLOW
        while time.time() < deadline and srv.get("/inflight").body != b"2":
            time.sleep(0.02)
        eq(srv.get("/inflight").body, b"2", "two requests in flight")
        refused = fire(srv, "/hold", 6, threads=3)
        eq([r.status for r in refused], [503] * 6, "over limit_conn max = 2")
        eq(refused[0].header("retry-after"), "1")
        srv.get("/release")
        for t in ts:
            t.join()
        eq([r.status for r in held], [200, 200])
        eq(srv.get("/hold").status, 200, "the slots were given back")
        m = srv.metrics()
        assert [v for k, v in m.items() if 'limit="conn"' in k and v == 6], m


def test_reload_keeps_buckets():
    """A reload keeps every client's bucket of a route that keeps its
    file:line, methods, host and path (nginx keeps its zones)."""
    from test_reload import reload
    with server() as srv:
        eq([srv.get("/burst").status for _ in range(7)], [200] * 6 + [429])
        reload(srv)
        eq(srv.get("/burst").status, 429, "the bucket survived the reload")


def test_bad_options():
    d = tempfile.mkdtemp(prefix="rs-limit-")
    cases = (('limit_req = { rate = "10r/h" }', "'limit_req.rate' must be requests a second or a minute"),
             ('limit_req = { burst = 5 }', "'limit_req.rate' is required"),
             ('limit_req = { rate = "1r/s", nodelay = false }', "'limit_req.nodelay' can only be true"),
             ('limit_req = { rate = "1r/s", key = "$cookie_x" }', "'limit_req.key' must be \"$remote_addr\""),
             ('limit_req = { rate = "1r/s", key = 5 }', "'limit_req.key' must be \"$remote_addr\", \"$host\", \"$http_NAME\" or a function(req)"),
             ('limit_req = { rate = "1r/s", status = 200 }', "'limit_req.status' must be an integer between 400"),
             ('limit_req = { rate = "1r/s", status = 418 }', "'limit_req.status' 418 is not a status"),
             ('limit_req = { rate = "1r/s", brust = 5 }', "unknown key 'brust' in ssr.route limit_req"),
             ('limit_conn = { max = 0 }', "'limit_conn.max' must be an integer between 1"),
             ('limit_conn = 5', "'limit_conn' must be a table"))
    for opt, want in cases:
        path = os.path.join(d, "rustyssr.lua")
        with open(path, "w") as f:
            f.write('local ssr = require "rustyssr"\n'
                    'ssr.route("GET", "/x", { respond = { status = 200 },\n'
                    '  %s })\n' % opt)
        code, out = run_config_check(path)
        eq(code, 1, out)
        assert re.search(re.escape(path) + r":[23]: (ssr.route: )?.*" + re.escape(want), out), (want, out)


def test_dump():
    d = tempfile.mkdtemp(prefix="rs-limit-")
    path = os.path.join(d, "rustyssr.lua")
    with open(path, "w") as f:
        f.write('local ssr = require "rustyssr"\n'
                'ssr.route("GET", "/x", { respond = { status = 200 }, limit_req = { rate = "30r/m", burst = 3, '
                'key = "$http_X_Api_Key" }, limit_conn = { max = 4, status = 503 } })\n')
    p = subprocess.run([BIN, "-T", "-c", path], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    eq(p.returncode, 0, p.stderr)
    out = p.stdout.decode()
    assert ('limit_req = { rate = "30r/m", burst = 3, key = "$http_x_api_key", status = 429 }, '
            'limit_conn = { max = 4, key = "$remote_addr", status = 503 }, })') in out, out
    again = os.path.join(d, "again.lua")
    with open(again, "w") as f:
        f.write(out)
    p2 = subprocess.run([BIN, "-T", "-c", again], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    eq(p2.returncode, 0, p2.stderr)
    strip = lambda t: [re.sub(r"\s*--.*$", "", l) for l in t.splitlines()]
    eq(strip(out), strip(p2.stdout.decode()))


if __name__ == "__main__":
    main([test_burst_exact_under_concurrency, test_keys_by_header_and_client, test_key_hooks, test_conn_slots,
          test_reload_keeps_buckets, test_bad_options, test_dump])
