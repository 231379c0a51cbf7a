"""HTTP/2 on the listeners (core/http/rs_h2.c, rs_h2_out.c): h2c by prior
knowledge on a listener with `http2 = true` (and the preface still a 505
without it), every action over it as over HTTP/1.1 (respond, redirect,
static with a large file and 304, proxy with a large streamed body and a
POST body, render and its cached page, errors, HEAD), many concurrent
streams (h2load), the access log and the metrics; then the attacks, with
hand-written frames: rapid reset, CONTINUATION flood, SETTINGS and PING
floods, a zero window stall, malformed requests (RFC 9113 §8.1.1: stream
errors), oversized headers; and a graceful GOAWAY on SIGTERM. The clients:
curl --http2-prior-knowledge, h2load (Debian's nghttp2-client) and raw
sockets."""

import hashlib
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from rslib import SLOW, TESTS, Server, eq, main, run_config_check, wait_log  # noqa: E402
from backend import Backend, pattern  # noqa: E402

BUNDLE = os.path.join(TESTS, "js", "it_render.js")
ROUTES = '''
ssr.route({ "GET", "HEAD" }, "/hello", { respond = { status = 200, headers = { ["X-Test"] = "yes" }, body = "hello world\\n" } })
ssr.route("GET", "/old", { redirect = "/new" })
ssr.static("/files/", { root = "site" })
ssr.route({ "GET", "HEAD", "POST" }, "/big", { proxy = { upstream = "api" } })
ssr.route({ "GET", "POST" }, "/chunked", { proxy = { upstream = "api" } })
ssr.route("POST", "/sink", { proxy = { upstream = "api" } })
ssr.route("GET", "/echo", { proxy = { upstream = "api" } })
ssr.route("GET", "/slowhead", { proxy = { upstream = "api" } })
ssr.route("GET", "/u/*", { render = true })
ssr.route("POST", "/lua", function(req) return 200, "got " .. (req.headers["content-length"] or "-") end)
'''
# /sink with its body read whole before the proxy takes it (a limit with a
# key hook), instead of streamed.
BUFFERED_SINK = ('ssr.route("POST", "/sink", { proxy = { upstream = "api" }, '
                 'limit_req = { rate = "1000r/s", burst = 1000, key = function(req) return "k" end } })')

# ------------------------------------------------------------------ frames

DATA, HEADERS, RST, SETTINGS, PING, GOAWAY, WINUPD, CONT = 0, 1, 3, 4, 6, 7, 8, 9
END_STREAM, END_HEADERS, ACK = 1, 4, 1
NO_ERROR, PROTOCOL_ERROR, FLOW_CONTROL_ERROR, REFUSED_STREAM, ENHANCE_YOUR_CALM = 0, 1, 3, 7, 0xB
PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"


def frame(t, flags, sid, payload=b""):
    return struct.pack(">I", len(payload))[1:] + bytes([t, flags]) + struct.pack(">I", sid) + payload


def hint(n, prefix=7):
    top = (1 << prefix) - 1
    if n < top:
        return bytes([n])
    out = [top]
    n -= top
    while n >= 128:
        out.append(n % 128 + 128)
        n //= 128
    out.append(n)
    return bytes(out)


def hpack(headers):
    """Literal fields without indexing, names and values as they are."""
    out = b""
    for n, v in headers:
        n, v = n.encode() if isinstance(n, str) else n, v.encode() if isinstance(v, str) else v
        out += b"\x00" + hint(len(n)) + n + hint(len(v)) + v
    return out


def req(path="/hello", method="GET", extra=()):
    return hpack([(":method", method), (":scheme", "http"), (":path", path), (":authority", "localhost")]
                 + list(extra))


class Raw:
    """A hand-driven HTTP/2 connection."""

    def __init__(self, port, settings=b"", rcvbuf=None):
        self.s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if rcvbuf:
            self.s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.s.settimeout(10 * SLOW)
        self.s.connect(("127.0.0.1", port))
        self.buf = b""
        self.win = {0: 65535}          # send windows by stream, from WINDOW_UPDATEs
        self.init_win = 65535
        self.s.sendall(PREFACE + frame(SETTINGS, 0, 0, settings))

    def send(self, b):
        self.s.sendall(b)

    def frames(self, until, timeout=10.0):
        """Frames read until until(frames) is true or the connection ends;
        returns (frames, eof)."""
        got = []
        end = time.time() + timeout * SLOW
        while time.time() < end:
            while len(self.buf) >= 9:
                n = struct.unpack(">I", b"\0" + self.buf[:3])[0]
                if len(self.buf) < 9 + n:
                    break
                t, fl = self.buf[3], self.buf[4]
                sid = struct.unpack(">I", self.buf[5:9])[0] & 0x7FFFFFFF
                got.append((t, fl, sid, self.buf[9:9 + n]))
                if t == WINUPD:
                    self.win[sid] = self.win.get(sid, self.init_win) + struct.unpack(">I", self.buf[9:13])[0]
                elif t == SETTINGS and not fl & ACK:
                    vals = dict(struct.unpack(">HI", self.buf[9 + i:15 + i]) for i in range(0, n, 6))
                    if 4 in vals:
                        for k in self.win:
                            if k:
                                self.win[k] += vals[4] - self.init_win
                        self.init_win = vals[4]
                self.buf = self.buf[9 + n:]
                if t == SETTINGS and not fl & ACK:
                    try:
                        self.s.sendall(frame(SETTINGS, ACK, 0))
                    except OSError:
                        pass
            if until(got):
                return got, False
            try:
                self.s.settimeout(max(0.05, end - time.time()))
                d = self.s.recv(65536)
            except socket.timeout:
                break
            except OSError:
                return got, True
            if not d:
                return got, True
            self.buf += d
        return got, False

    def upload(self, sid, n, end=False):
        """n bytes of DATA on sid, no faster than the windows the server
        gives (read from its WINDOW_UPDATEs); returns the frames read
        meanwhile, or raises when the windows stay shut."""
        seen = []
        while n > 0:
            room = min(self.win[0], self.win.get(sid, self.init_win), 16384, n)
            if room <= 0:
                fr, eof = self.frames(lambda f: any(x[0] in (WINUPD, RST, GOAWAY) for x in f))
                seen += fr
                assert not eof and not any(x[0] in (RST, GOAWAY) for x in fr), ("upload ended", fr[-3:])
                assert any(x[0] == WINUPD for x in fr), "the windows stayed shut (stream %d, %d left)" % (sid, n)
                continue
            n -= room
            self.win[0] -= room
            self.win[sid] = self.win.get(sid, self.init_win) - room
            self.send(frame(DATA, END_STREAM if end and n == 0 else 0, sid, b"x" * room))
        return seen

    def close(self):
        self.s.close()


def goaway(frames):
    for t, fl, sid, p in frames:
        if t == GOAWAY:
            return struct.unpack(">II", p[:8])
    return None


def rst(frames, sid):
    for t, fl, s, p in frames:
        if t == RST and s == sid:
            return struct.unpack(">I", p[:4])[0]
    return None


def has(t, sid):
    return lambda fr: any(f[0] == t and f[2] == sid for f in fr)


# ------------------------------------------------------------------ server and clients

class H2Server(Server):
    """A server whose main listener has http2 = true (h2=False: without)."""

    def __init__(self, backend_port=None, h2=True, config=None, tls=None, routes=ROUTES, **kw):
        self.site = tempfile.mkdtemp(prefix="rs-h2-site-")
        cfg = {"render": "{ bundle = \"%s\", threads = 1 }" % BUNDLE}
        if backend_port:
            cfg["upstreams"] = '{ api = { servers = { "127.0.0.1:%d" } } }' % backend_port
        cfg.update(config or {})
        routes = routes if backend_port else "\n".join(l for l in routes.splitlines() if "proxy" not in l)
        super().__init__(config=cfg, routes=routes, **kw)
        os.makedirs(os.path.join(self.dir, "site"), exist_ok=True)
        with open(self.config_path) as f:
            text = f.read()
        if h2:
            tls_cfg = ', tls = { cert = "%s", key = "%s" }' % tls if tls else ""
            text = text.replace('listen = "127.0.0.1:%d"' % self.port,
                                'listen = { "127.0.0.1:%d", http2 = true%s }' % (self.port, tls_cfg))
        with open(self.config_path, "w") as f:
            f.write(text)

    def url(self, path):
        return "http://127.0.0.1:%d%s" % (self.port, path)

    def __exit__(self, *exc):
        shutil.rmtree(self.site, ignore_errors=True)
        return super().__exit__(*exc)


def curl(url, *args, data=None, prior=True):
    """curl --http2-prior-knowledge (prior=False: as args say): (status,
    headers (lower-case names, last value), body bytes, http version)."""
    hdr = tempfile.NamedTemporaryFile(delete=False)
    hdr.close()
    cmd = ["curl", "-s"] + (["--http2-prior-knowledge"] if prior else [])
    cmd += ["-D", hdr.name, "-o", "-", "--max-time", str(30 * SLOW)]
    cmd += list(args)
    if data is not None:
        cmd += ["--data-binary", "@-"]
    p = subprocess.run(cmd + [url], input=data, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    with open(hdr.name, "rb") as f:
        head = f.read().decode("latin-1")
    os.unlink(hdr.name)
    assert p.returncode == 0, (cmd, p.returncode, p.stderr)
    blocks = [b for b in head.split("\r\n\r\n") if b.strip()]
    lines = blocks[-1].split("\r\n")
    version, status = lines[0].split(" ")[0], int(lines[0].split(" ")[1])
    headers = {}
    for l in lines[1:]:
        k, _, v = l.partition(":")
        headers[k.strip()] = v.strip()
    return status, headers, p.stdout, version


def metric(srv, name, **labels):
    key = name + ("{%s}" % ",".join('%s="%s"' % kv for kv in labels.items()) if labels else "")
    return srv.metrics().get(key)


def alive(srv):
    st, h, body, ver = curl(srv.url("/hello"))
    eq(st, 200)
    eq(body, b"hello world\n")
    eq(ver, "HTTP/2")


# ------------------------------------------------------------------ every action over h2c

def test_preface_without_http2_is_400():
    """A listener without http2 = true answers the preface as nginx does
    without http2: 400, and the connection closes."""
    with H2Server(h2=False) as srv:
        s = socket.create_connection(("127.0.0.1", srv.port), timeout=10)
        s.sendall(PREFACE)
        data = s.recv(4096)
        assert data.startswith(b"HTTP/1.1 400 ") and b"Connection: close" in data, data
        s.close()
        wait_log(srv, "400 bad_request: (an HTTP/2 preface on a listener without http2)")


def test_actions_over_h2c():
    with Backend() as b, H2Server(b.port) as srv:
        st, h, body, ver = curl(srv.url("/hello"))
        eq((st, ver, body, h.get("x-test"), h.get("content-length")), (200, "HTTP/2", b"hello world\n", "yes", "12"))
        assert "connection" not in h and "transfer-encoding" not in h, h
        st, h, body, _ = curl(srv.url("/hello"), "-I")           # HEAD (curl prints the head)
        eq((st, h.get("content-length")), (200, "12"))
        assert b"hello world" not in body, body
        st, h, _, _ = curl(srv.url("/old"))                       # redirect
        eq((st, h.get("location")), (301, "/new"))
        st, h, _, _ = curl(srv.url("/nowhere"))                   # 404 page
        eq(st, 404)
        st, h, body, _ = curl(srv.url("/echo?x=1"), "-H", "Cookie: a=1", "-H", "X-Up: v")
        doc = __import__("json").loads(body)
        eq(doc["target"], "/echo?x=1")
        hs = {k.lower(): v for k, v in doc["headers"]}
        eq((hs.get("x-up"), hs.get("cookie")), ("v", "a=1"))
        eq(hs.get("host"), "127.0.0.1:%d" % srv.port)            # from :authority
        # HTTP/1.1 still works on the same listener
        r = srv.get("/hello")
        eq((r.status, r.body), (200, b"hello world\n"))


def test_static_large_file_and_304():
    with H2Server() as srv:
        data = pattern(3 * 1024 * 1024 + 17)
        with open(os.path.join(srv.dir, "site", "big.bin"), "wb") as f:
            f.write(data)
        st, h, body, _ = curl(srv.url("/files/big.bin"))
        eq((st, len(body)), (200, len(data)))
        assert body == data, "static body differs"
        etag = h.get("etag")
        assert etag, h
        st, h, body, _ = curl(srv.url("/files/big.bin"), "-H", "If-None-Match: " + etag)
        eq((st, body), (304, b""))
        st, h, body, _ = curl(srv.url("/files/big.bin"), "-I")
        eq((st, h.get("content-length")), (200, str(len(data))))
        assert len(body) < 1000, len(body)


def test_proxy_streamed_and_post():
    with Backend() as b, H2Server(b.port) as srv:
        n = 5 * 1024 * 1024 + 3
        st, h, body, _ = curl(srv.url("/big?n=%d" % n))
        eq((st, len(body)), (200, n))
        assert body == pattern(n), "proxied body differs"
        st, h, body, _ = curl(srv.url("/chunked?n=%d" % 700001))
        eq((st, len(body)), (200, 700001))
        assert body == pattern(700001)
        up = pattern(900 * 1024 + 5)                              # beyond the stream's window
        st, h, body, _ = curl(srv.url("/sink"), data=up)
        doc = __import__("json").loads(body)
        eq((st, doc["len"], doc["sha256"]), (200, len(up), hashlib.sha256(up).hexdigest()))
        st, h, body, _ = curl(srv.url("/sink"), data=pattern(3 * 1024 * 1024))   # limits.body
        eq(st, 413)
        st, h, body, _ = curl(srv.url("/big?n=1000"), "-I")      # HEAD through the proxy
        eq((st, h.get("content-length")), (200, "1000"))
        alive(srv)


def test_proxy_backpressure_slow_client():
    """A client whose window stays shut while a large body is proxied: the
    upstream is read no further than the buffers in between (bounded
    memory); once the client opens its windows the body arrives whole."""
    with Backend() as b, H2Server(b.port) as srv:
        n = 64 * 1024 * 1024
        c = Raw(srv.port)
        c.send(frame(HEADERS, END_STREAM | END_HEADERS, 1, req("/big?n=%d" % n)))
        fr, eof = c.frames(has(HEADERS, 1))
        assert has(HEADERS, 1)(fr) and not eof, fr
        time.sleep(1.0 * SLOW)
        sent = b.big_sent
        assert sent < 24 * 1024 * 1024, sent          # held back, not all 64 MB
        h = hashlib.sha256()
        got = sum(len(f[3]) for f in fr if f[0] == DATA and f[2] == 1)
        for f in fr:
            if f[0] == DATA and f[2] == 1:
                h.update(f[3])
        big = struct.pack(">I", 0x7FFFFFFF - 65535)
        c.send(frame(WINUPD, 0, 0, big) + frame(WINUPD, 0, 1, big))
        done = False
        while not done:
            fr, eof = c.frames(lambda f: len(f) > 0, timeout=30)
            assert fr or not eof, "connection ended at %d bytes" % got
            assert fr, "stalled at %d bytes" % got
            for t, fl, sid, p in fr:
                if t == DATA and sid == 1:
                    got += len(p)
                    h.update(p)
                    done = done or bool(fl & END_STREAM)
        c.close()
        eq(got, n)
        eq(h.hexdigest(), hashlib.sha256(pattern(n)).hexdigest())
        alive(srv)


def test_compression():
    """The compression filter as over HTTP/1.1: a streamed proxied body
    (text/plain, chunked upstream) and a static text file, gzip and br."""
    import gzip
    with Backend() as b, H2Server(b.port) as srv:
        with open(os.path.join(srv.dir, "site", "t.txt"), "wb") as f:
            f.write(b"some text to compress\n" * 500)
        for path, want in (("/chunked?n=300000", pattern(300000)), ("/files/t.txt", b"some text to compress\n" * 500)):
            st, h, body, _ = curl(srv.url(path), "-H", "Accept-Encoding: gzip")
            eq((st, h.get("content-encoding")), (200, "gzip"), path)
            assert "content-length" not in h or int(h["content-length"]) == len(body), h
            eq(gzip.decompress(body), want, path)
            st, h, body, _ = curl(srv.url(path), "--compressed", "-H", "Accept-Encoding: br")
            eq((st, h.get("content-encoding"), body), (200, "br", want), path)


def test_render_and_cached_page():
    with H2Server() as srv:
        st, h, body, _ = curl(srv.url("/u/a?i=1"))
        eq((st, h.get("x-cache")), (200, "MISS"))
        deadline = time.time() + 10 * SLOW
        while time.time() < deadline:                             # stored once the render is done
            st2, h2, body2, _ = curl(srv.url("/u/a?i=1"))
            if (h2.get("x-cache") or "").startswith("HIT"):
                break
            time.sleep(0.05)
        assert (h2.get("x-cache") or "").startswith("HIT"), h2
        eq(body2, body)
        r1 = srv.get("/u/a?i=1")                                   # the same page over HTTP/1.1
        eq((r1.status, r1.body), (200, body))


def test_many_streams_h2load():
    """h2load -c10 -m10 -n1000: every answer 2xx."""
    with H2Server() as srv:
        p = subprocess.run(["h2load", "-c10", "-m10", "-n1000", srv.url("/hello")],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=120 * SLOW)
        out = p.stdout.decode()
        assert "1000 succeeded" in out and "1000 2xx" in out, out
        assert metric(srv, "rustyssr_http2_streams_total") >= 1000
        assert metric(srv, "rustyssr_connections_by_protocol_total", protocol="h2") >= 10


def test_access_log_and_metrics():
    d = tempfile.mkdtemp(prefix="rs-h2-log-")
    path = os.path.join(d, "access.log")
    with H2Server(config={"log": '{ access = "%s" }' % path}) as srv:
        curl(srv.url("/hello?q=1"))
        deadline = time.time() + 10 * SLOW
        text = ""
        while time.time() < deadline and "HTTP/2.0" not in text:
            time.sleep(0.1)
            text = open(path).read() if os.path.exists(path) else ""
        assert '"GET /hello?q=1 HTTP/2.0" 200 12' in text, text
        assert metric(srv, "rustyssr_requests_total", **{"class": "2xx"}) >= 1
    shutil.rmtree(d, ignore_errors=True)


# ------------------------------------------------------------------ malformed requests, limits

def test_malformed_requests_are_stream_errors():
    """RFC 9113 §8.1.1: malformed requests are stream errors (RST_STREAM
    PROTOCOL_ERROR); the connection goes on serving."""
    cases = [
        ("unknown pseudo-header", req(extra=[(":foo", "x")]), END_STREAM | END_HEADERS, b""),
        ("upper-case name", req(extra=[("X-Up", "1")]), END_STREAM | END_HEADERS, b""),
        ("te other than trailers", req(extra=[("te", "gzip")]), END_STREAM | END_HEADERS, b""),
        ("connection header", req(extra=[("connection", "close")]), END_STREAM | END_HEADERS, b""),
        ("no :path", hpack([(":method", "GET"), (":scheme", "http"), (":authority", "a")]),
         END_STREAM | END_HEADERS, b""),
        ("content-length mismatch", req("/hello", "POST", [("content-length", "10")]), END_HEADERS, b"12345"),
    ]
    with H2Server() as srv:
        for what, block, flags, body in cases:
            c = Raw(srv.port)
            c.send(frame(HEADERS, flags, 1, block))
            if body:
                c.send(frame(DATA, END_STREAM, 1, body))
            fr, eof = c.frames(lambda f: rst(f, 1) is not None or goaway(f) is not None)
            eq(rst(fr, 1), PROTOCOL_ERROR, what)
            c.send(frame(HEADERS, END_STREAM | END_HEADERS, 3, req()))
            fr, eof = c.frames(has(DATA, 3))
            assert has(HEADERS, 3)(fr) and not eof, (what, fr)
            c.close()
        assert metric(srv, "rustyssr_http2_resets_total", reason="protocol_error") >= len(cases)
        alive(srv)


def test_concurrent_streams_limit():
    """limits.http2_streams: the server says it in SETTINGS; a stream over it
    is reset while the others are answered."""
    with Backend() as b, H2Server(b.port, config={"limits": "{ http2_streams = 2 }"}) as srv:
        c = Raw(srv.port)
        fr, eof = c.frames(lambda f: any(t == SETTINGS and not fl & ACK for t, fl, s, p in f))
        sets = [p for t, fl, s, p in fr if t == SETTINGS and not fl & ACK][0]
        vals = dict(struct.unpack(">HI", sets[i:i + 6]) for i in range(0, len(sets), 6))
        eq(vals.get(3), 2)                                       # MAX_CONCURRENT_STREAMS
        c.frames(lambda f: False, timeout=0.3)                    # our ACK goes, theirs comes
        for sid in (1, 3, 5):
            c.send(frame(HEADERS, END_STREAM | END_HEADERS, sid, req("/slowhead?ms=800")))
        fr, eof = c.frames(lambda f: (has(DATA, 1)(f) and has(DATA, 3)(f)) or goaway(f) is not None, timeout=20)
        # nghttp2 ends a connection whose client exceeds the limit it has
        # acknowledged (GOAWAY PROTOCOL_ERROR naming the last stream taken);
        # before the acknowledgement the stream alone is refused.
        g = goaway(fr)
        if g is not None:
            eq(g, (3, PROTOCOL_ERROR))
        else:
            eq(rst(fr, 5), 7)                                     # REFUSED_STREAM
        assert not has(HEADERS, 5)(fr), fr
        c.close()
        alive(srv)
    d = tempfile.mkdtemp(prefix="rs-h2-cfg-")
    path = os.path.join(d, "bad.lua")
    with open(path, "w") as f:
        f.write('local ssr = require "rustyssr"\nssr.config {\n  limits = { http2_streams = 0 },\n}\n')
    rc, out = run_config_check(path)
    assert rc == 1 and "bad.lua:3: ssr.config: 'limits.http2_streams' must be an integer between 1 and 1024" in out, (rc, out)
    shutil.rmtree(d, ignore_errors=True)


def test_oversized_headers_431():
    with H2Server() as srv:
        st, h, body, _ = curl(srv.url("/hello"), "-H", "X-Big: " + "a" * 40000)
        eq(st, 431)
        alive(srv)


# ------------------------------------------------------------------ attacks

def test_rapid_reset():
    """CVE-2023-44487: streams opened and reset at once, over and over: GOAWAY
    ENHANCE_YOUR_CALM, counted."""
    with H2Server() as srv:
        c = Raw(srv.port)
        burst = b"".join(frame(HEADERS, END_STREAM | END_HEADERS, i, req()) + frame(RST, 0, i, struct.pack(">I", 8))
                         for i in range(1, 2000, 2))
        try:
            c.send(burst)
        except OSError:
            pass
        fr, eof = c.frames(lambda f: goaway(f) is not None)
        g = goaway(fr)
        assert g is not None, fr[-5:]
        eq(g[1], ENHANCE_YOUR_CALM)
        c.close()
        assert metric(srv, "rustyssr_http2_goaway_total", reason="rapid_reset") >= 1
        assert metric(srv, "rustyssr_http2_resets_total", reason="client") >= 200
        alive(srv)


def test_continuation_flood():
    """HEADERS without END_HEADERS, then CONTINUATION after CONTINUATION:
    GOAWAY ENHANCE_YOUR_CALM after a few."""
    with H2Server() as srv:
        c = Raw(srv.port)
        c.send(frame(HEADERS, 0, 1, req()))
        try:
            for i in range(200):
                c.send(frame(CONT, 0, 1, hpack([("x-c%d" % i, "v")])))
        except OSError:
            pass
        fr, eof = c.frames(lambda f: goaway(f) is not None)
        g = goaway(fr)
        assert g is not None, fr
        eq(g[1], ENHANCE_YOUR_CALM)
        c.close()
        assert metric(srv, "rustyssr_http2_goaway_total", reason="continuation_flood") >= 1
        alive(srv)


def test_settings_flood():
    """A SETTINGS frame with more entries than any client needs: GOAWAY."""
    with H2Server() as srv:
        c = Raw(srv.port)
        c.send(frame(SETTINGS, 0, 0, b"".join(struct.pack(">HI", 3, 100) for _ in range(100))))
        fr, eof = c.frames(lambda f: goaway(f) is not None)
        g = goaway(fr)
        assert g is not None and g[1] == ENHANCE_YOUR_CALM, fr
        c.close()
        assert metric(srv, "rustyssr_http2_goaway_total", reason="flood") >= 1
        alive(srv)


def test_ping_flood():
    """PINGs sent, their acks never read: the connection is closed (GOAWAY
    when it can still be sent), counted as a flood."""
    with H2Server() as srv:
        c = Raw(srv.port, rcvbuf=4096)
        pings = frame(PING, 0, 0, b"12345678") * 4096
        closed = False
        deadline = time.time() + 60 * SLOW
        c.s.settimeout(2)
        while time.time() < deadline and not closed:
            try:
                c.s.sendall(pings)
            except (socket.timeout, OSError):
                closed = True
            if metric(srv, "rustyssr_http2_goaway_total", reason="flood"):
                break
        assert metric(srv, "rustyssr_http2_goaway_total", reason="flood") >= 1
        c.close()
        alive(srv)


def test_zero_window_stall():
    """A client that opens no window for the answer: the write timeout
    closes the connection."""
    with H2Server(config={"timeouts": "{ write_ms = 1000 }"}) as srv:
        with open(os.path.join(srv.dir, "site", "w.bin"), "wb") as f:
            f.write(pattern(200000))
        c = Raw(srv.port, settings=struct.pack(">HI", 4, 0))
        c.send(frame(HEADERS, END_STREAM | END_HEADERS, 1, req("/files/w.bin")))
        t0 = time.time()
        fr, eof = c.frames(lambda f: False, timeout=15)
        assert eof, fr
        assert has(HEADERS, 1)(fr) and not has(DATA, 1)(fr), fr
        assert time.time() - t0 < 14 * SLOW
        wait_log(srv, "timed out writing (HTTP/2)", 5)
        assert metric(srv, "rustyssr_http2_goaway_total", reason="timeout") >= 1
        alive(srv)


# ------------------------------------------------------------------ over TLS (ALPN h2)

def make_cert(d):
    cert, key = os.path.join(d, "site.pem"), os.path.join(d, "site.key")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert,
                    "-days", "2", "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost"],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return cert, key


def test_tls_alpn_h2():
    """ALPN h2 on a TLS listener: every action as over h2c (curl --http2 -k);
    HTTP/1.1 clients on the same listener; h2load over TLS."""
    d = tempfile.mkdtemp(prefix="rs-h2-tls-")
    cert, key = make_cert(d)
    with Backend() as b, H2Server(b.port, tls=(cert, key)) as srv:
        url = lambda p: "https://localhost:%d%s" % (srv.port, p)
        res = "--resolve", "localhost:%d:127.0.0.1" % srv.port
        st, h, body, ver = curl(url("/hello"), "--http2", "-k", *res, prior=False)
        eq((st, ver, body), (200, "HTTP/2", b"hello world\n"))
        st, h, body, ver = curl(url("/hello"), "--http1.1", "-k", *res, prior=False)
        eq((st, ver, body), (200, "HTTP/1.1", b"hello world\n"))
        n = 3 * 1024 * 1024 + 1
        st, h, body, ver = curl(url("/big?n=%d" % n), "--http2", "-k", *res, prior=False)
        eq((st, ver, len(body)), (200, "HTTP/2", n))
        assert body == pattern(n)
        up = pattern(500000)
        st, h, body, ver = curl(url("/sink"), "--http2", "-k", *res, prior=False, data=up)
        eq(__import__("json").loads(body)["sha256"], hashlib.sha256(up).hexdigest())
        h2 = lambda p, *more: curl(url(p), "--http2", "-k", *res, *more, prior=False)
        st, h, _, ver = h2("/old")                                 # redirect
        eq((st, ver, h.get("location")), (301, "HTTP/2", "/new"))
        st, h, _, ver = h2("/nowhere")                             # 404 page
        eq((st, ver), (404, "HTTP/2"))
        data = pattern(1536 * 1024 + 5)                            # static: a file body over TLS
        with open(os.path.join(srv.dir, "site", "t.bin"), "wb") as f:
            f.write(data)
        st, h, body, ver = h2("/files/t.bin")
        eq((st, ver, len(body)), (200, "HTTP/2", len(data)))
        assert body == data, "static body differs over TLS"
        st, h, body, ver = h2("/files/t.bin", "-H", "If-None-Match: " + h.get("etag"))
        eq((st, body), (304, b""))
        st, h, page, ver = h2("/u/tls?i=1")                         # render, then its cached page
        eq((st, ver, h.get("x-cache")), (200, "HTTP/2", "MISS"))
        deadline = time.time() + 10 * SLOW
        while time.time() < deadline:
            st, h, body, ver = h2("/u/tls?i=1")
            if (h.get("x-cache") or "").startswith("HIT"):
                break
            time.sleep(0.05)
        assert (h.get("x-cache") or "").startswith("HIT"), h
        eq(body, page)
        p = subprocess.run(["h2load", "-c4", "-m10", "-n400", url("/hello").replace("localhost", "127.0.0.1")],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=120 * SLOW)
        out = p.stdout.decode()
        assert "400 succeeded" in out and "h2" in out, out
    shutil.rmtree(d, ignore_errors=True)


# ------------------------------------------------------------------ shutdown

def test_sigterm_graceful_goaway():
    """SIGTERM: GOAWAY NO_ERROR at once, the stream in flight still gets its
    whole answer, then the process exits 0."""
    with Backend() as b, H2Server(b.port) as srv:
        c = Raw(srv.port)
        c.send(frame(HEADERS, END_STREAM | END_HEADERS, 1, req("/slowhead?ms=1500")))
        time.sleep(0.3)
        srv.signal(signal.SIGTERM)
        fr, eof = c.frames(lambda f: any(x[0] == DATA and x[2] == 1 and x[1] & END_STREAM for x in f), timeout=20)
        g = goaway(fr)
        assert g is not None and g[1] == NO_ERROR and g[0] >= 1, fr
        assert has(HEADERS, 1)(fr), fr
        c.close()
        eq(srv.proc.wait(timeout=30 * SLOW), 0)


def test_reload_graceful_goaway():
    """SIGHUP: each HTTP/2 connection gets GOAWAY NO_ERROR once the new
    configuration has taken over (as nginx's reload), the stream in flight
    still gets its whole answer, the connection then ends, and a new one is
    served under the new configuration."""
    with Backend() as b, H2Server(b.port) as srv:
        c = Raw(srv.port)
        c.send(frame(HEADERS, END_STREAM | END_HEADERS, 1, req("/slowhead?ms=1500")))
        time.sleep(0.3)
        srv.signal(signal.SIGHUP)
        fr, eof = c.frames(lambda f: goaway(f) is not None and
                           any(x[0] == DATA and x[2] == 1 and x[1] & END_STREAM for x in f), timeout=20)
        g = goaway(fr)
        assert g is not None and g[1] == NO_ERROR and g[0] >= 1, fr
        assert has(HEADERS, 1)(fr), fr
        fr2, eof = c.frames(lambda f: False, timeout=10)
        assert eof, "the connection stayed open after its last stream: %r" % (fr2,)
        c.close()
        eq(metric(srv, "rustyssr_http2_goaway_total", reason="reload"), 1.0)
        alive(srv)


if __name__ == "__main__":
    main([test_preface_without_http2_is_400, test_actions_over_h2c, test_static_large_file_and_304,
          test_proxy_streamed_and_post, test_proxy_backpressure_slow_client, test_compression, test_render_and_cached_page, test_many_streams_h2load,
          test_access_log_and_metrics, test_malformed_requests_are_stream_errors, test_concurrent_streams_limit, test_oversized_headers_431,
          test_rapid_reset, test_continuation_flood, test_settings_flood, test_ping_flood, test_zero_window_stall,
          test_tls_alpn_h2, test_sigterm_graceful_goaway, test_reload_graceful_goaway])
