"""Upstreams and the proxy action, against real backends on loopback
(tests/integration/backend.py): keepalive reuse, 502 / 504, statuses passed
through, a backend dying mid-response, large streamed bodies (Content-Length,
chunked, until close), a slow client with bounded memory, request bodies,
X-Forwarded-* and hop-by-hop headers, path and Host rewriting, retries on
another server, passive health, stale pooled connections, metrics."""

import hashlib
import json
import os
import socket
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import rslib  # noqa: E402
from rslib import Reader, Server, eq, free_port, wait_log, SLOW  # noqa: E402
from backend import Backend, pattern  # noqa: E402


def ups(name, servers, **opts):
    fields = ["servers = { %s }" % ", ".join('"%s"' % s for s in servers)]
    fields += ["%s = %s" % kv for kv in opts.items()]
    return "%s = { %s }" % (name, ", ".join(fields))


def proxy_server(upstreams, routes, workers=1, config=None):
    cfg = {"upstreams": "{ %s }" % ", ".join(upstreams)}
    cfg.update(config or {})
    return Server(config=cfg, routes=routes, workers=workers)


def echo(resp):
    assert resp.status == 200, resp
    return json.loads(resp.body.decode())


def hdr(doc, name):
    vals = [v for k, v in doc["headers"] if k.lower() == name.lower()]
    return vals[0] if len(vals) == 1 else (vals or None)


def raw_get(path, host="localhost", extra="", version="1.1", method="GET"):
    return ("%s %s HTTP/%s\r\nHost: %s\r\n%s\r\n" % (method, path, version, host, extra)).encode()


def read_chunked(rd):
    body = b""
    while True:
        line = rd.read_until(b"\r\n")
        size = int(line.strip().split(b";")[0], 16)
        if size == 0:
            rd.read_until(b"\r\n")
            return body
        body += rd.read_n(size)
        eq(rd.read_n(2), b"\r\n", "chunk end")


def rss_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def metric(srv, name):
    return srv.metrics().get(name, 0.0)


# ---------------------------------------------------------------- tests

def test_keepalive_reuse():
    with Backend() as b:
        srv = proxy_server([ups("api", [b.addr], keepalive=8)], 'ssr.proxy("/api/", { upstream = "api" })',
                           workers=2)
        with srv:
            for _ in range(3):
                with srv.connect() as s:
                    rd = Reader(s)
                    for i in range(10):
                        s.sendall(raw_get("/api/echo?i=%d" % i))
                        r = rd.read_response()
                        eq(r.status, 200, "status")
                        eq(echo(r)["target"], "/api/echo?i=%d" % i, "target")
            conns, reqs = b.count()
            eq(reqs, 30, "requests seen by the backend")
            assert conns <= 2, "backend saw %d connections for 30 requests" % conns
            m = srv.metrics()
            key = 'rustyssr_upstream_requests_total{upstream="api",server="%s",class="2xx"}' % b.addr
            eq(m.get(key), 30.0, key)
            assert m.get('rustyssr_upstream_connections{state="idle"}', 0) >= 1, m
        # an upstream answer with Connection: close is not pooled
        srv = proxy_server([ups("api", [b.addr], keepalive=8)],
                           'ssr.proxy("/api/", { upstream = "api", path = "/" })')
        with srv:
            eq(srv.get("/api/echo").status, 200, "first")
            before = b.count()[0]
            r = srv.get("/api/close")
            eq((r.status, r.body), (200, b"bye"), "close answer")
            eq(srv.get("/api/echo").status, 200, "after")
            eq(b.count()[0], before + 1, "a new connection after Connection: close")


def test_refused_502():
    dead = free_port()
    srv = proxy_server([ups("api", ["127.0.0.1:%d" % dead])], 'ssr.proxy("/api/", { upstream = "api" })')
    with srv:
        r = srv.get("/api/x")
        eq(r.status, 502, "status")
        wait_log(srv, "upstream api: server 127.0.0.1:%d: connection refused" % dead)
        assert "[req " in srv.log() and "→ 502" in srv.log(), srv.log()
        m = srv.metrics()
        key = 'rustyssr_upstream_failures_total{upstream="api",server="127.0.0.1:%d",kind="connect"}' % dead
        assert m.get(key, 0) >= 1, m
    # two servers, both refusing: both marked down (max_fails = 1), then a
    # 502 without trying them
    dead2 = free_port()
    srv = proxy_server([ups("api", ["127.0.0.1:%d" % dead, "127.0.0.1:%d" % dead2], retries=1)],
                       'ssr.proxy("/api/", { upstream = "api" })')
    with srv:
        eq(srv.get("/api/x").status, 502, "both refused")
        eq(srv.get("/api/x").status, 502, "both down")
        wait_log(srv, "upstream api: no server up (all marked down)")


def test_hang_504():
    with Backend() as b:
        srv = proxy_server([ups("api", [b.addr], read_timeout_ms=400)],
                           'ssr.proxy("/api/", { upstream = "api", path = "/" })')
        with srv:
            t0 = time.time()
            r = srv.get("/api/hang")
            eq(r.status, 504, "status")
            assert time.time() - t0 < 10 * SLOW
            wait_log(srv, "upstream api: server %s: timeout → 504" % b.addr)


def blackhole():
    """A listener whose accept queue is full: a connect to it gets no answer
    (Linux drops the SYN), which is what a firewalled server looks like."""
    lst = socket.socket()
    lst.bind(("127.0.0.1", 0))
    lst.listen(0)
    port = lst.getsockname()[1]
    held = [lst]
    for _ in range(4):                 # fill the queue; later connects hang
        c = socket.socket()
        c.setblocking(False)
        try:
            c.connect(("127.0.0.1", port))
        except BlockingIOError:
            pass
        held.append(c)
    time.sleep(0.1)
    return port, held


def test_connect_timeout():
    port, held = blackhole()
    try:
        with Backend() as b:
            # Alone: a connect that times out is a 504, logged and counted.
            srv = proxy_server([ups("api", ["127.0.0.1:%d" % port], connect_timeout_ms=300)],
                               'ssr.proxy("/api/", { upstream = "api" })')
            with srv:
                t0 = time.time()
                r = srv.get("/api/x")
                took = time.time() - t0
                eq(r.status, 504, "status")
                assert 0.25 < took < 10 * SLOW, took
                wait_log(srv, "upstream api: server 127.0.0.1:%d: connect timed out" % port)
                key = ('rustyssr_upstream_failures_total{upstream="api",server="127.0.0.1:%d",'
                       'kind="connect_timeout"}' % port)
                assert srv.metrics().get(key, 0) >= 1, srv.metrics()
            # With another server: the request goes on to it (a connect that
            # timed out sent nothing), and the first is then marked down.
            srv = proxy_server([ups("api", ["127.0.0.1:%d" % port, b.addr], connect_timeout_ms=300,
                                    retries=1, max_fails=1)],
                               'ssr.proxy("/api/", { upstream = "api", path = "/" })')
            with srv:
                for i in range(4):
                    eq(srv.get("/api/echo?i=%d" % i).status, 200, "request %d" % i)
                eq(b.count()[1], 4, "the live server got every request")
    finally:
        for h in held:
            h.close()


def test_status_passthrough():
    with Backend() as b:
        srv = proxy_server([ups("api", [b.addr])], 'ssr.proxy("/api/", { upstream = "api", path = "/" })')
        with srv:
            for st in (500, 404, 201, 302):
                r = srv.get("/api/status/%d" % st)
                eq(r.status, st, "status")
                eq(r.body, b"status %d\n" % st, "body")
            r = srv.get("/api/status/204")
            eq(r.status, 204, "204")
            eq(r.header("content-length"), None, "no length on 204")
            # HEAD: the length the GET would have, no body
            with srv.connect() as s:
                s.sendall(raw_get("/api/big?n=5000", method="HEAD"))
                rd = Reader(s)
                r = rd.read_response(head_request=True)
                eq(r.status, 200, "HEAD status")
                eq(r.header("content-length"), "5000", "HEAD length")
                s.sendall(raw_get("/api/status/200"))
                eq(rd.read_response().body, b"status 200\n", "next answer after HEAD")


def test_pipelined():
    """Pipelined requests to a proxy route are answered in order, whatever
    order their upstream answers come in."""
    with Backend() as b:
        srv = proxy_server([ups("api", [b.addr])], 'ssr.proxy("/api/", { upstream = "api", path = "/" })')
        with srv:
            with srv.connect() as s:
                s.sendall(raw_get("/slowhead?ms=300".replace("/", "/api/", 1)) + raw_get("/api/chunked?n=70000") +
                          raw_get("/api/status/404") + raw_get("/api/big?n=400000"))
                rd = Reader(s)
                r = rd.read_response()
                eq(r.status, 200, "first")
                eq(echo(r)["target"], "/slowhead?ms=300", "first target")
                r = rd.read_response()
                eq(r.header("transfer-encoding"), "chunked", "second")
                eq(read_chunked(rd), pattern(70000), "second body")
                eq(rd.read_response().status, 404, "third")
                r = rd.read_response()
                eq(r.body, pattern(400000), "fourth body")


def test_head_before_body():
    """The proxy holds an upstream's head back only until the end of the
    read it came in (to send it with the first body bytes in one write):
    a head whose body comes later reaches the client at once."""
    with Backend() as b:
        srv = proxy_server([ups("api", [b.addr])], 'ssr.proxy("/api/", { upstream = "api", path = "/" })')
        with srv:
            with srv.connect() as s:
                s.sendall(raw_get("/api/headfirst"))
                rd = Reader(s)
                head = rd.read_until(b"\r\n\r\n")   # a held head: a 10 s timeout here
                assert head.startswith(b"HTTP/1.1 200 "), head
                assert b"Content-Length: 5\r\n" in head, head
                b.release.set()
                eq(rd.read_n(5), b"hello", "body after the head")
                s.sendall(raw_get("/api/status/200"))
                eq(rd.read_response().body, b"status 200\n", "next answer")


def test_dies_mid_response():
    with Backend() as b:
        srv = proxy_server([ups("api", [b.addr])], 'ssr.proxy("/api/", { upstream = "api", path = "/" })')
        with srv:
            with srv.connect() as s:
                s.sendall(raw_get("/api/die"))
                rd = Reader(s)
                head = rd.read_until(b"\r\n\r\n")
                assert b" 200 " in head and b"Content-Length: 100000" in head, head
                got = len(rd.buf)
                s.settimeout(10 * SLOW)
                while True:
                    d = s.recv(65536)
                    if not d:
                        break
                    got += len(d)
                assert got < 100000, "incomplete body must end with a close, got %d" % got
            wait_log(srv, "after the response began; closing the client connection")
            eq(srv.get("/api/status/200").status, 200, "next request")


def test_large_streamed_body():
    n = 20 << 20
    want = hashlib.sha256(pattern(n)).hexdigest()
    with Backend() as b:
        srv = proxy_server([ups("api", [b.addr])], 'ssr.proxy("/api/", { upstream = "api", path = "/" })')
        with srv:
            with srv.connect(timeout=60) as s:
                # the backend sends 1 MB, then waits: the client must see it first
                s.sendall(raw_get("/api/big?n=%d&hold=1" % n))
                rd = Reader(s)
                head = rd.read_until(b"\r\n\r\n")
                assert b"Content-Length: %d" % n in head, head
                first = rd.read_n(512 * 1024)
                assert not b.sent_all.is_set(), "the whole body was sent before the client got the first bytes"
                b.release.set()
                rest = rd.read_n(n - len(first))
                eq(hashlib.sha256(first + rest).hexdigest(), want, "body digest")


def test_chunked_and_eof_bodies():
    with Backend() as b:
        srv = proxy_server([ups("api", [b.addr])], 'ssr.proxy("/api/", { upstream = "api", path = "/" })')
        with srv:
            with srv.connect() as s:
                rd = Reader(s)
                s.sendall(raw_get("/api/chunked?n=300001"))
                r = rd.read_response()
                eq(r.header("transfer-encoding"), "chunked", "chunked to the client")
                eq(read_chunked(rd), pattern(300001), "chunked body")
                s.sendall(raw_get("/api/eof?n=200000"))
                r = rd.read_response()
                eq(r.header("transfer-encoding"), "chunked", "close-delimited upstream, chunked to the client")
                eq(read_chunked(rd), pattern(200000), "eof body")
                s.sendall(raw_get("/api/status/200"))
                eq(rd.read_response().status, 200, "keep-alive after chunked answers")
            # an HTTP/1.0 client gets the body until close
            with srv.connect() as s:
                s.sendall(raw_get("/api/chunked?n=100000", version="1.0"))
                data = b""
                s.settimeout(10 * SLOW)
                while True:
                    d = s.recv(65536)
                    if not d:
                        break
                    data += d
                head, _, body = data.partition(b"\r\n\r\n")
                assert b"Transfer-Encoding" not in head and b"Connection: close" in head, head
                eq(body, pattern(100000), "1.0 body")


def test_slow_client_bounded_memory():
    n = 120 << 20
    with Backend() as b:
        srv = proxy_server([ups("api", [b.addr])], 'ssr.proxy("/api/", { upstream = "api", path = "/" })')
        with srv:
            eq(srv.get("/api/status/200").status, 200, "warm-up")
            base = rss_kb(srv.proc.pid)
            s = srv.connect(timeout=120)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
            s.sendall(raw_get("/api/big?n=%d" % n))
            # read nothing until the backend stops making progress: the
            # gateway has stopped reading from it
            last, still = -1, 0
            deadline = time.time() + 60 * SLOW
            while time.time() < deadline and still < 5:
                time.sleep(0.2)
                cur = b.big_sent
                still = still + 1 if cur == last else 0
                last = cur
            assert b.big_sent < n // 2, "the backend sent %d of %d bytes to a client reading nothing" % (b.big_sent, n)
            grown = rss_kb(srv.proc.pid) - base
            assert grown < 32 * 1024, "RSS grew by %d KB with a stalled client" % grown
            # now read it all, slowly at first
            rd = Reader(s)
            head = rd.read_until(b"\r\n\r\n")
            assert b"Content-Length: %d" % n in head
            h = hashlib.sha256()
            got = len(rd.buf)
            h.update(rd.buf)
            while got < n:
                d = s.recv(1 << 20)
                if not d:
                    break
                h.update(d)
                got += len(d)
            s.close()
            eq(got, n, "bytes")
            eq(h.hexdigest(), hashlib.sha256(pattern(n)).hexdigest(), "digest")
            if not rslib.SANITIZED:  # ASan's quarantine keeps freed pieces around
                grown = rss_kb(srv.proc.pid) - base
                assert grown < 48 * 1024, "RSS grew by %d KB" % grown


def test_slow_reader_not_timed_out():
    """A client that keeps reading, however slowly, is not cut by
    timeouts.write_ms while the body streams (the queue refills as it drains)."""
    n = 12 << 20
    with Backend() as b:
        srv = proxy_server([ups("api", [b.addr])], 'ssr.proxy("/api/", { upstream = "api", path = "/" })',
                           config={"timeouts": "{ write_ms = 400 }"})
        with srv:
            with srv.connect(timeout=60) as s:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 128 * 1024)
                s.sendall(raw_get("/api/big?n=%d" % n))
                rd = Reader(s)
                rd.read_until(b"\r\n\r\n")
                got = len(rd.buf)
                while got < n:
                    time.sleep(0.03)
                    d = s.recv(256 * 1024)
                    assert d, "closed after %d of %d bytes" % (got, n)
                    got += len(d)
            assert "timed out writing" not in srv.log(), srv.log()


def test_request_body():
    with Backend() as b:
        srv = proxy_server([ups("api", [b.addr])], 'ssr.proxy("/api/", { upstream = "api" })')
        with srv:
            body = pattern(300000)
            r = srv.request(raw_get("/api/echo", method="POST",
                                    extra="Content-Length: %d\r\nContent-Type: application/x-test\r\n" % len(body))
                            + body)
            doc = echo(r)
            eq(doc["method"], "POST", "method")
            eq(doc["body"].encode("latin-1"), body, "body")
            eq(hdr(doc, "Content-Length"), str(len(body)), "length")
            eq(hdr(doc, "Content-Type"), "application/x-test", "content type")
            chunked = b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"
            r = srv.request(raw_get("/api/echo", method="PUT", extra="Transfer-Encoding: chunked\r\n") + chunked)
            doc = echo(r)
            eq(doc["method"], "PUT", "method")
            eq(doc["body"], "hello world", "chunked body")
            eq(hdr(doc, "Transfer-Encoding"), "chunked", "streamed on, chunked")
            eq(hdr(doc, "Content-Length"), None, "no length upstream")
            # Expect: 100-continue is the gateway's business: answered here,
            # not forwarded
            with srv.connect() as s:
                s.sendall(raw_get("/api/echo", method="POST", extra="Content-Length: 2\r\nExpect: 100-continue\r\n"))
                rd = Reader(s)
                eq(rd.read_response().status, 100, "100 Continue")
                s.sendall(b"hi")
                doc = echo(rd.read_response())
                eq(doc["body"], "hi", "body after 100")
                eq(hdr(doc, "Expect"), None, "Expect not forwarded")


def test_streamed_request_body():
    """The body goes upstream as it arrives: the backend has the first bytes
    before the client sent the rest."""
    n = 6 << 20
    body = pattern(n)
    want = hashlib.sha256(body).hexdigest()
    with Backend() as b:
        srv = proxy_server([ups("api", [b.addr])], 'ssr.proxy("/api/", { upstream = "api", path = "/" })',
                           config={"limits": '{ body = "64MB" }'})
        with srv:
            for chunked in (False, True):
                with srv.connect(timeout=60) as s:
                    if chunked:
                        s.sendall(raw_get("/api/sink", method="POST", extra="Transfer-Encoding: chunked\r\n"))
                        send = lambda d: s.sendall(b"%x\r\n" % len(d) + d + b"\r\n")  # noqa: E731
                    else:
                        s.sendall(raw_get("/api/sink", method="POST", extra="Content-Length: %d\r\n" % n))
                        send = s.sendall
                    first = 1 << 20
                    for off in range(0, first, 65536):
                        send(body[off:off + 65536])
                    deadline = time.time() + 20 * SLOW
                    while b.body_progress < first // 2 and time.time() < deadline:
                        time.sleep(0.02)
                    assert b.body_progress >= first // 2, \
                        "the backend got %d bytes of the first MB (chunked=%s)" % (b.body_progress, chunked)
                    for off in range(first, n, 65536):
                        send(body[off:off + 65536])
                    if chunked:
                        s.sendall(b"0\r\n\r\n")
                    r = Reader(s).read_response()
                    eq(r.status, 200, "status")
                    doc = json.loads(r.body)
                    eq(doc["len"], n, "length")
                    eq(doc["sha256"], want, "digest")
                    if chunked:
                        eq(doc["te"], ["chunked"], "chunked upstream")
                    else:
                        eq(doc["cl"], [str(n)], "length upstream")
            # an answer before the body ended: Connection: close, the rest dropped
            with srv.connect() as s:
                s.sendall(raw_get("/api/early", method="POST", extra="Content-Length: 5000000\r\n")
                          + body[:100000])
                rd = Reader(s)
                r = rd.read_response()
                eq(r.status, 413, "early answer")
                eq(r.header("connection"), "close", "closes")
            eq(srv.get("/api/status/200").status, 200, "next")


def test_upload_to_stalled_upstream_bounded_memory():
    """An upstream that does not read: the gateway stops reading the client's
    body (memory stays bounded), then passes it all once the upstream reads."""
    n = 120 << 20
    with Backend() as b:
        srv = proxy_server([ups("api", [b.addr], send_timeout_ms=60000, read_timeout_ms=60000)],
                           'ssr.proxy("/api/", { upstream = "api", path = "/" })',
                           config={"limits": '{ body = "1GB" }', "timeouts": "{ body_ms = 60000 }"})
        with srv:
            eq(srv.get("/api/status/200").status, 200, "warm-up")
            base = rss_kb(srv.proc.pid)
            s = srv.connect(timeout=120)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 64 * 1024)
            s.sendall(raw_get("/api/stall", method="PUT", extra="Content-Length: %d\r\n" % n))
            unit = pattern(1 << 20)
            sent = [0]

            def upload():
                try:
                    for _ in range(n >> 20):
                        s.sendall(unit)
                        sent[0] += len(unit)
                except OSError:
                    pass
            t = threading.Thread(target=upload, daemon=True)
            t.start()
            last, still = -1, 0
            deadline = time.time() + 60 * SLOW
            while time.time() < deadline and still < 5:
                time.sleep(0.2)
                still = still + 1 if sent[0] == last else 0
                last = sent[0]
            assert sent[0] < n // 2, "the client could send %d of %d bytes to a stalled upstream" % (sent[0], n)
            grown = rss_kb(srv.proc.pid) - base
            assert grown < 32 * 1024, "RSS grew by %d KB with a stalled upstream" % grown
            b.release.set()
            t.join(120 * SLOW)
            r = Reader(s).read_response()
            s.close()
            eq(r.status, 200, "status")
            doc = json.loads(r.body)
            eq(doc["len"], n, "length")
            one = hashlib.sha256()
            for _ in range(n >> 20):
                one.update(unit)
            eq(doc["sha256"], one.hexdigest(), "digest")


def test_idle_pooled_connections_expire():
    with Backend() as b:
        srv = proxy_server([ups("api", [b.addr], idle_timeout_ms=200)], 'ssr.proxy("/api/", { upstream = "api" })')
        with srv:
            eq(srv.get("/api/echo").status, 200, "status")
            eq(b.count()[0], 1, "one connection")
            deadline = time.time() + 10 * SLOW
            while b.closed_conns == 0 and time.time() < deadline:
                time.sleep(0.05)
            eq(b.closed_conns, 1, "the idle connection was closed by the gateway")
            eq(metric(srv, 'rustyssr_upstream_connections{state="idle"}'), 0.0, "idle gauge")
            eq(srv.get("/api/echo").status, 200, "a new connection after")


def test_forwarded_and_hop_headers():
    with Backend() as b:
        srv = proxy_server([ups("api", [b.addr])], 'ssr.proxy("/api/", { upstream = "api", path = "/" })')
        with srv:
            extra = ("X-Forwarded-For: 1.2.3.4\r\nX-Request-Id: abc-123\r\nConnection: keep-alive, X-Private\r\n"
                     "X-Private: secret\r\nKeep-Alive: timeout=5\r\nTE: trailers\r\nUpgrade: h2c\r\n"
                     "Proxy-Connection: keep-alive\r\nX-Forwarded-Proto: https\r\nX-Custom: 1\r\n")
            r = srv.request(raw_get("/api/echo", host="www.example.com:8080", extra=extra))
            doc = echo(r)
            # no real_ip.from: the client's claims are not believed (core/http/rs_realip.h)
            eq(hdr(doc, "X-Forwarded-For"), "127.0.0.1", "XFF")
            eq(hdr(doc, "X-Forwarded-Proto"), "http", "XFP")
            eq(hdr(doc, "X-Forwarded-Host"), "www.example.com:8080", "XFH")
            eq(hdr(doc, "X-Request-Id"), "abc-123", "request id kept")
            eq(hdr(doc, "Host"), "www.example.com:8080", "host kept")
            eq(hdr(doc, "X-Custom"), "1", "custom header")
            for gone in ("Connection", "X-Private", "Keep-Alive", "TE", "Upgrade", "Proxy-Connection"):
                eq(hdr(doc, gone), None, gone)
            r = srv.request(raw_get("/api/echo", extra="X-Request-Id: bad id\r\n"))
            rid = hdr(echo(r), "X-Request-Id")
            assert rid != "bad id" and len(rid) == 16, rid
            # hop-by-hop response headers are dropped, the rest pass
            r = srv.get("/api/hop")
            eq(r.status, 200, "status")
            names = [k for k, _ in r.headers]
            for gone in ("x-secret", "keep-alive", "upgrade", "proxy-connection", "trailer"):
                assert gone not in names, (gone, r.headers)
            eq(r.header("x-kept"), "yes", "kept")
            eq([v for k, v in r.headers if k == "set-cookie"], ["a=1", "b=2"], "both cookies")
            eq([v for k, v in r.headers if k == "server"], ["rustyssr"], "one Server")
            eq(names.count("connection"), 1, "one Connection (ours)")


def test_real_ip_forwarded_headers():
    """X-Forwarded-* to upstreams: from an untrusted peer (real_ip.from that
    does not hold 127.0.0.1) the client's claims are dropped; from a trusted
    one (127.0.0.1 listed) the chain up to the resolved client is kept, and
    its X-Forwarded-Proto / -Host pass."""
    claims = ("X-Forwarded-For: 6.6.6.6, 10.1.1.1\r\nX-Forwarded-Proto: https\r\n"
              "X-Forwarded-Host: evil.example\r\nX-Real-IP: 6.6.6.6\r\nForwarded: for=6.6.6.6\r\n")
    with Backend() as b:
        # untrusted: the peer is outside from
        srv = proxy_server([ups("api", [b.addr])], 'ssr.proxy("/api/", { upstream = "api", path = "/" })',
                           config={"real_ip": '{ from = { "10.0.0.0/8" }, recursive = true }'})
        with srv:
            doc = echo(srv.request(raw_get("/api/echo", host="site.example", extra=claims)))
            eq(hdr(doc, "X-Forwarded-For"), "127.0.0.1", "untrusted XFF")
            eq(hdr(doc, "X-Forwarded-Proto"), "http", "untrusted XFP")
            eq(hdr(doc, "X-Forwarded-Host"), "site.example", "untrusted XFH")
            eq(hdr(doc, "X-Real-IP"), None, "untrusted X-Real-IP")
            eq(hdr(doc, "Forwarded"), None, "untrusted Forwarded")
    cases = [
        # (real_ip, client XFF headers, expected XFF upstream)
        ('{ from = { "127.0.0.1", "10.0.0.0/8" }, recursive = true }',
         ["6.6.6.6, 10.1.1.1"], "6.6.6.6, 10.1.1.1, 127.0.0.1"),
        ('{ from = { "127.0.0.1", "10.0.0.0/8" }, recursive = true }',
         ["1.1.1.1, 6.6.6.6, 10.1.1.1"], "6.6.6.6, 10.1.1.1, 127.0.0.1"),   # spoofed left part dropped
        ('{ from = { "127.0.0.1", "10.0.0.0/8" }, recursive = false }',
         ["6.6.6.6, 10.1.1.1"], "10.1.1.1, 127.0.0.1"),
        ('{ from = { "127.0.0.0/8" }, recursive = true }',
         ["6.6.6.6", "10.1.1.1"], "10.1.1.1, 127.0.0.1"),                   # two headers: one list
        ('{ from = { "127.0.0.1", "10.0.0.0/8" }, recursive = true }',
         ["10.2.2.2, 10.1.1.1"], "10.2.2.2, 10.1.1.1, 127.0.0.1"),          # all trusted: the leftmost
        ('{ from = { "127.0.0.1" }, recursive = true }',
         ["not-an-ip, 6.6.6.6"], "6.6.6.6, 127.0.0.1"),
        ('{ from = { "127.0.0.1", "10.0.0.0/8" }, recursive = true }',
         ["6.6.6.6, junk, 10.1.1.1"], "127.0.0.1"),                          # junk: the peer, as nginx
        ('{ from = { "::1", "127.0.0.1" }, header = "X-Real-IP" }',
         [], "127.0.0.1"),                                                    # no header: the peer
        ('{ from = { "127.0.0.1" } }', ["[2001:db8::1]:443"], "2001:db8::1, 127.0.0.1"),
    ]
    with Backend() as b:
        for real_ip, xffs, want in cases:
            srv = proxy_server([ups("api", [b.addr])], 'ssr.proxy("/api/", { upstream = "api", path = "/" })',
                               config={"real_ip": real_ip})
            with srv:
                extra = "".join("X-Forwarded-For: %s\r\n" % v for v in xffs)
                extra += "X-Forwarded-Proto: https\r\nX-Forwarded-Host: cdn.example\r\n"
                doc = echo(srv.request(raw_get("/api/echo", host="site.example", extra=extra)))
                eq(hdr(doc, "X-Forwarded-For"), want, "XFF for %s %s" % (real_ip, xffs))
                eq(hdr(doc, "X-Forwarded-Proto"), "https", "trusted XFP")
                eq(hdr(doc, "X-Forwarded-Host"), "cdn.example", "trusted XFH")


def test_path_and_host_rewrite():
    with Backend() as b:
        routes = "\n".join([
            'ssr.proxy("/api/", { upstream = "api", path = "/v1/" })',
            'ssr.proxy("/raw/", { upstream = "api" })',
            'ssr.proxy("/up/", { upstream = "api", path = "/", host = "upstream" })',
            'ssr.route("GET", "/lit", { proxy = { upstream = "api", path = "/x/y", host = "backend.internal" } })',
        ])
        srv = proxy_server([ups("api", [b.addr])], routes)
        with srv:
            eq(echo(srv.get("/api/users/7?a=1&b=2"))["target"], "/v1/users/7?a=1&b=2", "prefix replaced")
            eq(echo(srv.get("/api/"))["target"], "/v1/", "prefix only")
            eq(echo(srv.get("/raw/a%20b?q"))["target"], "/raw/a%20b?q", "as sent")
            doc = echo(srv.get("/up/z"))
            eq(doc["target"], "/z", "to /")
            eq(hdr(doc, "Host"), "api", "host = upstream")
            doc = echo(srv.get("/lit?k=v"))
            eq(doc["target"], "/x/y?k=v", "exact route")
            eq(hdr(doc, "Host"), "backend.internal", "literal host")
            eq(srv.get("/lit", method="POST").status, 404, "methods of ssr.route")


def test_retry_on_refused():
    dead = free_port()
    with Backend() as b:
        srv = proxy_server([ups("api", ["127.0.0.1:%d" % dead, b.addr], retries=1, max_fails=0)],
                           'ssr.proxy("/api/", { upstream = "api" })')
        with srv:
            for i in range(6):
                r = srv.get("/api/echo?i=%d" % i)
                eq(r.status, 200, "request %d" % i)
            eq(b.count()[1], 6, "the live server got every request")
            m = srv.metrics()
            key = 'rustyssr_upstream_failures_total{upstream="api",server="127.0.0.1:%d",kind="connect"}' % dead
            assert m.get(key, 0) >= 2, m   # round robin kept trying it (max_fails = 0)
        srv = proxy_server([ups("api", ["127.0.0.1:%d" % dead, b.addr], retries=0, max_fails=0)],
                           'ssr.proxy("/api/", { upstream = "api" })')
        with srv:
            statuses = sorted(srv.get("/api/echo").status for _ in range(4))
            eq(statuses, [200, 200, 502, 502], "no retry with retries = 0")


def test_passive_health():
    dead = free_port()
    with Backend() as b:
        srv = proxy_server([ups("api", ["127.0.0.1:%d" % dead, b.addr], retries=1, max_fails=1,
                                fail_timeout_ms=1500)],
                           'ssr.proxy("/api/", { upstream = "api" })')
        key = 'rustyssr_upstream_failures_total{upstream="api",server="127.0.0.1:%d",kind="connect"}' % dead
        with srv:
            t0 = time.time()
            for i in range(6):
                eq(srv.get("/api/echo").status, 200, "request %d" % i)
            fails = metric(srv, key)
            if time.time() - t0 < 1.4:   # all within the down window: tried once only
                eq(fails, 1.0, "a down server is skipped")
            wait_log(srv, "server 127.0.0.1:%d marked down for 1500 ms" % dead)
            # the server comes up: after fail_timeout it gets requests again
            with Backend(port=dead) as b2:
                deadline = time.time() + 20 * SLOW
                while b2.count()[1] == 0 and time.time() < deadline:
                    eq(srv.get("/api/echo").status, 200, "while coming back")
                    time.sleep(0.1)
                assert b2.count()[1] > 0, "the recovered server never got a request"


def test_stale_pooled_connection():
    with Backend() as b:
        b.stale = True
        srv = proxy_server([ups("api", [b.addr])], 'ssr.proxy("/api/", { upstream = "api" })')
        with srv:
            for i in range(4):
                eq(srv.get("/api/echo?i=%d" % i).status, 200, "request %d" % i)
            conns, reqs = b.count()
            eq(reqs, 4, "answered")
            assert conns >= 4, conns


def test_draining_with_idle_pool():
    """Idle pooled connections do not hold a shutdown; the exit is clean."""
    with Backend() as b:
        srv = proxy_server([ups("api", [b.addr])], 'ssr.proxy("/api/", { upstream = "api" })', workers=2)
        with srv:
            for _ in range(4):
                eq(srv.get("/api/echo").status, 200, "status")


def test_shutdown_with_requests_in_flight():
    """SIGTERM while proxied requests wait on the upstream: past the drain
    deadline they are closed, their exchanges cancelled; the exit is clean
    (under ASan: nothing leaked)."""
    with Backend() as b:
        srv = proxy_server([ups("api", [b.addr], read_timeout_ms=60000)],
                           'ssr.proxy("/api/", { upstream = "api", path = "/" })',
                           config={"timeouts": "{ shutdown_ms = 300 }"}, workers=2)
        with srv:
            socks = []
            for i in range(4):
                s = srv.connect()
                s.sendall(raw_get("/api/hang" if i % 2 == 0 else "/api/big?n=50000000&hold=1"))
                socks.append(s)
            deadline = time.time() + 10 * SLOW
            while b.count()[1] < 4 and time.time() < deadline:
                time.sleep(0.02)
            eq(b.count()[1], 4, "requests at the backend")
        for s in socks:
            s.close()


def test_config_errors():
    cases = [
        ('ssr.config { upstreams = { api = { servers = {} } } }', "upstream 'api': 'servers' is empty"),
        ('ssr.config { upstreams = { api = { servers = { "nope:80" } } } }', "server \"nope:80\""),
        ('ssr.config { upstreams = { api = { servers = { "1.2.3.4:9" }, keepalve = 1 } } }',
         "unknown key 'keepalve' in ssr.config.upstreams.api (did you mean 'keepalive'?)"),
        ('ssr.proxy("/api/", { upstream = "nope" })', "proxy: no upstream 'nope'"),
        ('ssr.proxy("/api/", { path = "/x" })', "'upstream' is required"),
    ]
    for chunk, msg in cases:
        d = Server(raw_config='local ssr = require "rustyssr"\n' + chunk + "\n")
        code, out = rslib.run_config_check(d.config_path)
        eq(code, 1, chunk)
        assert "rustyssr.lua:2:" in out and msg in out, (chunk, out)


if __name__ == "__main__":
    rslib.main([test_head_before_body, test_keepalive_reuse, test_refused_502, test_hang_504, test_connect_timeout, test_status_passthrough, test_real_ip_forwarded_headers,
                test_pipelined, test_dies_mid_response, test_large_streamed_body, test_chunked_and_eof_bodies,
                test_slow_client_bounded_memory, test_slow_reader_not_timed_out, test_request_body, test_streamed_request_body,
                test_upload_to_stalled_upstream_bounded_memory, test_idle_pooled_connections_expire,
                test_forwarded_and_hop_headers,
                test_path_and_host_rewrite, test_retry_on_refused, test_passive_health,
                test_stale_pooled_connection, test_draining_with_idle_pool, test_shutdown_with_requests_in_flight,
                test_config_errors])
