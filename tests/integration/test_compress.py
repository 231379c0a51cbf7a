"""On-the-fly compression (core/http/rs_compress.c) and precompressed static
siblings (core/gateway/rs_static.c), over sockets with the real binary:
respond handlers, bypassed renders, streamed proxy answers and static files;
by type, by length, by Accept-Encoding q-values; HEAD, 304, Range, an
upstream answer already coded, Vary, ETag. br is decoded with the system's
libbrotlidec through ctypes (the binary links it; no Python package)."""

import ctypes
import ctypes.util
import gzip
import os
import socket
import sys
import threading
import time
import zlib

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from rslib import Reader, Server, eq, lua_str, main, run_config_check  # noqa: E402
from backend import Backend, pattern  # noqa: E402

_brotli = ctypes.CDLL(ctypes.util.find_library("brotlidec") or "libbrotlidec.so.1")


def unbrotli(data):
    cap = max(1 << 16, len(data) * 64)
    while True:
        out = ctypes.create_string_buffer(cap)
        n = ctypes.c_size_t(cap)
        ok = _brotli.BrotliDecoderDecompress(ctypes.c_size_t(len(data)), data, ctypes.byref(n), out)
        if ok == 1:
            return out.raw[:n.value]
        if cap > 1 << 28:
            raise AssertionError("not a br stream")
        cap *= 4


def decode(resp, body=None):
    body = resp.body if body is None else body
    enc = resp.header("content-encoding")
    if enc == "gzip":
        return gzip.decompress(body)
    if enc == "br":
        return unbrotli(body)
    assert enc is None, enc
    return body


def all_headers(resp, name):
    return [v for k, v in resp.headers if k == name]


def varies(resp):
    return any("accept-encoding" in v.lower() for v in all_headers(resp, "vary"))


HTML = ("<!doctype html><title>t</title>" + "".join("<p>row %d of the page</p>" % i for i in range(200))).encode()
SMALL = b"<p>" + b"tiny " * 40 + b"</p>"        # 207 bytes: under 256, and it compresses
CSS = ("body{margin:0}" + "".join(".c%d{color:#%06x}" % (i, i * 997) for i in range(300))).encode()


def respond_routes():
    return "\n".join([
        'ssr.route("GET", "/html", { respond = { status = 200, headers = { ["Content-Type"] = "text/html; charset=utf-8" }, body = %s } })' % lua_str(HTML.decode()),
        'ssr.route("GET", "/small", { respond = { status = 200, headers = { ["Content-Type"] = "text/html" }, body = %s } })' % lua_str(SMALL.decode()),
        'ssr.route("GET", "/css", { respond = { status = 200, headers = { ["Content-Type"] = "text/css" }, body = %s } })' % lua_str(CSS.decode()),
        'ssr.route("GET", "/bin", { respond = { status = 200, headers = { ["Content-Type"] = "application/octet-stream" }, body = %s } })' % lua_str(HTML.decode()),
        'ssr.route("GET", "/notrans", { respond = { status = 200, headers = { ["Content-Type"] = "text/html", ["Cache-Control"] = "public, no-transform" }, body = %s } })' % lua_str(HTML.decode()),
        'ssr.route("GET", "/etag", { respond = { status = 200, headers = { ["Content-Type"] = "text/html", ETag = \'"v1"\' }, body = %s } })' % lua_str(HTML.decode()),
        'ssr.route("GET", "/lua", function(req) return 404, %s, { ["Content-Type"] = "text/html" } end)' % lua_str(HTML.decode()),
    ])


def test_respond_gzip_and_br():
    with Server(routes=respond_routes()) as srv:
        r = srv.get("/html", {"Accept-Encoding": "gzip"})
        eq(r.status, 200)
        eq(r.header("content-encoding"), "gzip", "gzip asked")
        assert varies(r), r
        eq(int(r.header("content-length")), len(r.body), "length of the coded body")
        assert len(r.body) < len(HTML) / 3, len(r.body)
        eq(decode(r), HTML, "gzip round trip")
        r = srv.get("/html", {"Accept-Encoding": "gzip, deflate, br"})
        eq(r.header("content-encoding"), "br", "br preferred at equal q")
        eq(decode(r), HTML, "br round trip")
        # A Lua handler's answer (any status) goes through the filter too.
        r = srv.get("/lua", {"Accept-Encoding": "br"})
        eq(r.status, 404)
        eq(r.header("content-encoding"), "br")
        eq(decode(r), HTML)
        # Counted: two br, one gzip, and the bytes before and after.
        m = srv.metrics()
        eq(m['rustyssr_compressed_total{encoding="gzip"}'], 1.0, "gzip answers")
        eq(m['rustyssr_compressed_total{encoding="br"}'], 2.0, "br answers")
        eq(m['rustyssr_compressed_bytes_total{stage="in"}'], 3.0 * len(HTML), "bytes in")
        assert m['rustyssr_compressed_bytes_total{stage="out"}'] < len(HTML), m


def test_q_values():
    cases = [
        ("gzip;q=1, br;q=0.5", "gzip"),
        ("br;q=0, gzip", "gzip"),
        ("gzip;q=0, br;q=0.1", "br"),
        ("GZIP", "gzip"),
        ("x-gzip", "gzip"),
        ("*", "br"),
        ("*;q=0.5, br;q=0", "gzip"),
        ("*;q=0", None),
        ("gzip;q=0, br;q=0", None),
        ("identity", None),
        ("deflate", None),
        ("gzip;q=bogus", None),
        ("", None),
    ]
    with Server(routes=respond_routes()) as srv:
        for ae, want in cases:
            r = srv.get("/html", {"Accept-Encoding": ae} if ae else {})
            eq(r.header("content-encoding"), want, "Accept-Encoding %r" % ae)
            eq(decode(r), HTML, "body for %r" % ae)
            assert varies(r), (ae, r)            # eligible: Vary whatever the client took
        r = srv.get("/html")
        eq(r.header("content-encoding"), None, "no Accept-Encoding")
        eq(r.body, HTML)


def test_type_and_length():
    with Server(routes=respond_routes()) as srv:
        r = srv.get("/css", {"Accept-Encoding": "gzip"})
        eq(r.header("content-encoding"), "gzip", "text/css is in the default types")
        eq(decode(r), CSS)
        r = srv.get("/bin", {"Accept-Encoding": "gzip, br"})
        eq(r.header("content-encoding"), None, "octet-stream is not")
        assert not varies(r), r
        eq(r.body, HTML)
        r = srv.get("/small", {"Accept-Encoding": "gzip, br"})
        eq(r.header("content-encoding"), None, "under min_length")
        assert not varies(r), r
        eq(r.body, SMALL)
        r = srv.get("/notrans", {"Accept-Encoding": "gzip, br"})
        eq(r.header("content-encoding"), None, "Cache-Control: no-transform")
        eq(r.body, HTML)
    # The config's list replaces the default one (text/html always stays).
    cfg = {"compress": '{ types = { "text/*" }, min_length = 4, gzip_level = 9, brotli_quality = -1 }'}
    with Server(config=cfg, routes=respond_routes()) as srv:
        r = srv.get("/small", {"Accept-Encoding": "gzip, br"})
        eq(r.header("content-encoding"), "gzip", "min_length 4, br off")
        eq(decode(r), SMALL)
        r = srv.get("/css", {"Accept-Encoding": "br"})
        eq(r.header("content-encoding"), None, "br off, gzip not accepted")
        assert varies(r), r
    cfg = {"compress": '{ types = { "application/json" } }'}
    with Server(config=cfg, routes=respond_routes()) as srv:
        r = srv.get("/css", {"Accept-Encoding": "gzip"})
        eq(r.header("content-encoding"), None, "text/css no longer listed")
        r = srv.get("/html", {"Accept-Encoding": "gzip"})
        eq(r.header("content-encoding"), "gzip", "text/html always")
    # A route's compress = false: its answers alone leave as they are.
    routes = respond_routes() + '\nssr.route("GET", "/off", { compress = false, respond = { status = 200, ' \
        'headers = { ["Content-Type"] = "text/html" }, body = %s } })' % lua_str(HTML.decode())
    with Server(routes=routes) as srv:
        r = srv.get("/off", {"Accept-Encoding": "gzip, br"})
        eq(r.header("content-encoding"), None, "route compress = false")
        assert not varies(r), r
        eq(r.body, HTML)
        eq(srv.get("/html", {"Accept-Encoding": "gzip"}).header("content-encoding"), "gzip", "other routes")
    with Server(config={"compress": "false"}, routes=respond_routes()) as srv:
        r = srv.get("/html", {"Accept-Encoding": "gzip, br"})
        eq(r.header("content-encoding"), None, "compress = false")
        assert not varies(r), r


def test_head_etag_and_ranges():
    with Server(routes=respond_routes()) as srv:
        g = srv.get("/etag", {"Accept-Encoding": "gzip"})
        eq(g.header("etag"), 'W/"v1"', "a coded answer's ETag is weak")
        eq(g.header("accept-ranges"), None)
        with srv.connect() as s:
            s.sendall(b"HEAD /etag HTTP/1.1\r\nHost: x\r\nAccept-Encoding: gzip\r\nConnection: close\r\n\r\n")
            rd = Reader(s)
            h = rd.read_response(head_request=True)
            eq(h.status, 200)
            for name in ("content-encoding", "content-length", "etag", "vary", "content-type"):
                eq(h.header(name), g.header(name), "HEAD's %s as GET's" % name)
            assert rd.closed(), "HEAD sent a body"
            eq(rd.buf, b"", "HEAD sent a body")
        r = srv.get("/etag")
        eq(r.header("etag"), '"v1"', "identity keeps the strong ETag")
        # A Range request is never answered coded.
        r = srv.get("/html", {"Accept-Encoding": "gzip", "Range": "bytes=0-9"})
        eq(r.header("content-encoding"), None, "Range")
        eq(r.body, HTML)


def static_server(d, **opts):
    extra = "".join(", %s = %s" % kv for kv in opts.items())
    return Server(routes='ssr.static("/s/", { root = %s%s })' % (lua_str(d), extra))


def write(path, data, mtime=None):
    with open(path, "wb") as f:
        f.write(data)
    if mtime is not None:
        os.utime(path, (mtime, mtime))


def test_static_on_the_fly_304_and_range():
    import tempfile
    d = tempfile.mkdtemp(prefix="rs-gz-")
    big = ("".join("line %d of the text file\n" % i for i in range(8000))).encode()  # > 64 KB
    write(os.path.join(d, "a.css"), CSS)
    write(os.path.join(d, "big.txt"), big)
    write(os.path.join(d, "pic.png"), HTML)
    with static_server(d) as srv:
        r = srv.get("/s/a.css", {"Accept-Encoding": "gzip"})
        eq(r.status, 200)
        eq(r.header("content-encoding"), "gzip")
        assert varies(r), r
        eq(decode(r), CSS)
        etag = r.header("etag")
        assert etag.startswith('W/"'), etag
        # The weak tag revalidates: 304, untouched (no coding, no body).
        r304 = srv.get("/s/a.css", {"Accept-Encoding": "gzip", "If-None-Match": etag})
        eq(r304.status, 304)
        eq(r304.header("content-encoding"), None, "304 untouched")
        eq(r304.body, b"")
        # A file over the in-memory size is read whole to be coded.
        r = srv.get("/s/big.txt", {"Accept-Encoding": "br"})
        eq(r.header("content-encoding"), "br")
        eq(decode(r), big, "big file round trip")
        # HEAD: the coded length, no body.
        with srv.connect() as s:
            s.sendall(b"HEAD /s/big.txt HTTP/1.1\r\nHost: x\r\nAccept-Encoding: br\r\nConnection: close\r\n\r\n")
            rd = Reader(s)
            h = rd.read_response(head_request=True)
            eq(h.header("content-encoding"), "br")
            eq(h.header("content-length"), r.header("content-length"), "HEAD length")
            assert rd.closed()
            eq(rd.buf, b"")
        # Ranges: identity, 206.
        r = srv.get("/s/big.txt", {"Accept-Encoding": "gzip, br", "Range": "bytes=5-14"})
        eq(r.status, 206)
        eq(r.header("content-encoding"), None, "206")
        eq(r.body, big[5:15])
        r = srv.get("/s/pic.png", {"Accept-Encoding": "gzip, br"})
        eq(r.header("content-encoding"), None, "image/png")
        eq(r.body, HTML)


def test_static_precompressed_siblings():
    import tempfile
    d = tempfile.mkdtemp(prefix="rs-gz-")
    now = time.time()
    js = ("".join("console.log(%d);\n" % i for i in range(500))).encode()
    gz = gzip.compress(js, 9)
    marker_br = b"not really br, but the sibling's bytes"
    write(os.path.join(d, "app.js"), js, now - 100)
    write(os.path.join(d, "app.js.gz"), gz, now - 50)
    write(os.path.join(d, "app.js.br"), marker_br, now - 50)
    write(os.path.join(d, "old.js"), js, now - 10)
    write(os.path.join(d, "old.js.gz"), b"stale sibling", now - 100)
    os.makedirs(os.path.join(d, "dir"))
    write(os.path.join(d, "dir", "index.html"), HTML, now - 100)
    write(os.path.join(d, "dir", "index.html.gz"), gzip.compress(HTML), now - 10)
    with static_server(d) as srv:
        r = srv.get("/s/app.js", {"Accept-Encoding": "gzip"})
        eq(r.header("content-encoding"), "gzip")
        eq(r.body, gz, "the .gz file's bytes, as they are")
        eq(r.header("content-type"), "text/javascript; charset=utf-8", "the file's type")
        assert varies(r), r
        eq(r.header("accept-ranges"), None)
        gz_etag = r.header("etag")
        r = srv.get("/s/app.js", {"Accept-Encoding": "gzip, br"})
        eq(r.header("content-encoding"), "br")
        eq(r.body, marker_br, "the .br sibling first")
        r = srv.get("/s/app.js", {"Accept-Encoding": "br;q=0.5, gzip"})
        eq(r.body, gz, "gzip at a higher q")
        r = srv.get("/s/app.js", {"Accept-Encoding": "gzip", "If-None-Match": gz_etag})
        eq(r.status, 304)
        r = srv.get("/s/app.js", {"Accept-Encoding": "gzip", "Range": "bytes=0-3"})
        eq(r.status, 206)
        eq(r.body, js[:4], "Range: the file itself")
        r = srv.get("/s/app.js")
        eq(r.body, js, "no Accept-Encoding")
        r = srv.get("/s/old.js", {"Accept-Encoding": "gzip"})
        eq(r.header("content-encoding"), "gzip")
        eq(decode(r), js, "an older sibling is ignored: coded on the fly")
        r = srv.get("/s/dir/", {"Accept-Encoding": "gzip"})
        eq(r.header("content-encoding"), "gzip")
        eq(decode(r), HTML, "index.html.gz")
    with static_server(d, precompressed="false") as srv:
        r = srv.get("/s/app.js", {"Accept-Encoding": "br"})
        eq(r.header("content-encoding"), "br")
        eq(decode(r), js, "precompressed = false: coded on the fly")


def test_config_errors():
    import tempfile
    d = tempfile.mkdtemp(prefix="rs-gzc-")
    cases = [
        ('compress = { gzip_level = 10 }', "'compress.gzip_level' must be an integer between 0 and 9"),
        ('compress = { brotli_quality = 12 }', "'compress.brotli_quality' must be an integer between -1 and 11"),
        ('compress = { types = { "text html" } }', "'compress.types' entry 1 \"text html\": not a media type"),
        ('compress = { types = { "text/css", "te*t/x" } }', "'compress.types' entry 2 \"te*t/x\": not a media type"),
        ('compress = { types = { css = "text/css" } }', "'compress.types' must be a list of media types"),
        ('compress = { level = 3 }', "unknown key 'level' in ssr.config.compress"),
        ('compress = "yes"', "'compress' must be a table or a boolean"),
    ]
    path = os.path.join(d, "route.lua")
    with open(path, "w") as f:
        f.write('local ssr = require "rustyssr"\nssr.static("/s/", { root = ".",\n  compress = "no" })\n')
    code, out = run_config_check(path)
    eq(code, 1, out)
    assert "'compress' must be a boolean" in out and path + ":" in out, out
    for i, (line, want) in enumerate(cases):
        path = os.path.join(d, "c%d.lua" % i)
        with open(path, "w") as f:
            f.write('local ssr = require "rustyssr"\nssr.config {\n  %s,\n}\n' % line)
        code, out = run_config_check(path)
        eq(code, 1, "exit code for %s" % line)
        assert "%s:3: " % path in out and want in out, (line, out)
    ok = os.path.join(d, "ok.lua")
    with open(ok, "w") as f:
        f.write('local ssr = require "rustyssr"\nssr.config {\n  compress = { types = { "TEXT/*", "*" }, min_length = "1KB" },\n}\n')
    code, out = run_config_check(ok)
    eq(code, 0, out)


# ------------------------------------------------------------------ proxy

class Coded(threading.Thread):
    """A backend whose answers are already gzip-coded, or carry a type and
    a body sent in slow pieces (chunked)."""

    def __init__(self):
        super().__init__(daemon=True)
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.addr = "127.0.0.1:%d" % self.sock.getsockname()[1]
        self.start()

    def run(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self.serve, args=(c,), daemon=True).start()

    def serve(self, c):
        with c:
            buf = b""
            while b"\r\n\r\n" not in buf:
                d = c.recv(4096)
                if not d:
                    return
                buf += d
            target = buf.split(b" ")[1]
            head = buf.startswith(b"HEAD")
            if target.startswith(b"/coded"):
                body = gzip.compress(HTML)
                c.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Encoding: gzip\r\n"
                          b"Content-Length: %d\r\nConnection: close\r\n\r\n" % len(body) + (b"" if head else body))
            elif target.startswith(b"/pieces"):
                c.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nTransfer-Encoding: chunked\r\n"
                          b"ETag: \"p1\"\r\nConnection: close\r\n\r\n")
                if head:
                    return
                for i in range(0, len(HTML), 1000):
                    piece = HTML[i:i + 1000]
                    c.sendall(b"%x\r\n%s\r\n" % (len(piece), piece))
                    time.sleep(0.01)
                c.sendall(b"0\r\n\r\n")
            elif target.startswith(b"/json"):
                body = b'{"items":[' + b",".join(b'{"id":%d,"name":"item"}' % i for i in range(300)) + b"]}"
                c.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n"
                          b"Connection: close\r\n\r\n" % len(body) + (b"" if head else body))
            elif target.startswith(b"/partial"):
                body = HTML[:1000]
                c.sendall(b"HTTP/1.1 206 Partial Content\r\nContent-Type: text/html\r\nContent-Range: bytes 0-999/%d\r\n"
                          b"Content-Length: 1000\r\nConnection: close\r\n\r\n" % len(HTML) + body)
            elif target.startswith(b"/notmod"):
                c.sendall(b"HTTP/1.1 304 Not Modified\r\nContent-Type: text/html\r\nETag: \"n1\"\r\n"
                          b"Connection: close\r\n\r\n")
            elif target.startswith(b"/tiny"):
                c.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 5\r\n"
                          b"Connection: close\r\n\r\nhello")


def read_chunked(rd):
    body = b""
    while True:
        size = int(rd.read_until(b"\r\n").strip().split(b";")[0], 16)
        if size == 0:
            rd.read_until(b"\r\n")
            return body
        body += rd.read_n(size)
        eq(rd.read_n(2), b"\r\n", "chunk end")


def proxy_get(srv, path, ae, method="GET"):
    with srv.connect() as s:
        s.sendall(("%s %s HTTP/1.1\r\nHost: x\r\nAccept-Encoding: %s\r\n\r\n" % (method, path, ae)).encode())
        rd = Reader(s)
        r = rd.read_response(head_request=method == "HEAD")
        if method != "HEAD" and r.header("transfer-encoding") == "chunked":
            r.body = read_chunked(rd)
        return r


def test_proxy_streamed():
    be = Backend()
    coded = Coded()
    cfg = {"upstreams": '{ be = { servers = { "%s" } }, coded = { servers = { "%s" } } }' % (be.addr, coded.addr)}
    routes = ('ssr.proxy("/b/", { upstream = "be", path = "/" })\n'
              'ssr.proxy("/c/", { upstream = "coded", path = "/" })\n')
    try:
        with Server(config=cfg, routes=routes) as srv:
            n = 300000
            for ae, enc in (("gzip", "gzip"), ("br, gzip", "br"), ("identity", None)):
                # /chunked: text/plain, chunked from the backend; /big: octet-stream.
                r = proxy_get(srv, "/b/chunked?n=%d" % n, ae)
                eq(r.status, 200)
                eq(r.header("content-encoding"), enc, "text/plain streamed, %s" % ae)
                assert varies(r), r
                eq(decode(r), pattern(n), "streamed body round trip (%s)" % ae)
                # Content-Length from the backend: coded streams go chunked.
                r = proxy_get(srv, "/c/json", ae)
                eq(r.header("content-encoding"), enc, "json with a length, %s" % ae)
                if enc:
                    eq(r.header("content-length"), None)
                    eq(r.header("transfer-encoding"), "chunked")
                assert decode(r).startswith(b'{"items":[{"id":0'), r
            r = proxy_get(srv, "/b/big?n=100000", "gzip, br")
            eq(r.header("content-encoding"), None, "octet-stream passes")
            eq(r.body, pattern(100000))
            # Already coded upstream: as it is, never twice.
            r = proxy_get(srv, "/c/coded", "gzip, br")
            eq(r.header("content-encoding"), "gzip")
            eq(gzip.decompress(r.body), HTML, "coded once")
            # Pieces as they come: each is flushed, the whole decodes; ETag weak.
            r = proxy_get(srv, "/c/pieces", "gzip")
            eq(r.header("content-encoding"), "gzip")
            eq(r.header("etag"), 'W/"p1"')
            eq(decode(r), HTML)
            r = proxy_get(srv, "/c/pieces", "br")
            eq(decode(r), HTML)
            # An upstream's 206 and 304 leave untouched.
            r = proxy_get(srv, "/c/partial", "gzip, br")
            eq(r.status, 206)
            eq(r.header("content-encoding"), None, "206 from upstream")
            eq(r.body, HTML[:1000])
            r = proxy_get(srv, "/c/notmod", "gzip, br", method="HEAD")
            eq(r.status, 304)
            eq(r.header("content-encoding"), None, "304 from upstream")
            eq(r.header("etag"), '"n1"', "304's ETag as it was")
            assert not varies(r), r
            # Under min_length (the backend's Content-Length says so).
            r = proxy_get(srv, "/c/tiny", "gzip")
            eq(r.header("content-encoding"), None)
            eq(r.body, b"hello")
            # HEAD: the coding GET would get, no length, no body.
            r = proxy_get(srv, "/c/json", "gzip", method="HEAD")
            eq(r.header("content-encoding"), "gzip")
            eq(r.header("content-length"), None)
            assert varies(r), r
            # An HTTP/1.0 client: the coded body ends with the connection.
            with srv.connect() as s:
                s.sendall(b"GET /c/json HTTP/1.0\r\nHost: x\r\nAccept-Encoding: gzip\r\n\r\n")
                data = b""
                while True:
                    d = s.recv(65536)
                    if not d:
                        break
                    data += d
            head, _, body = data.partition(b"\r\n\r\n")
            assert b"Content-Encoding: gzip" in head, head
            assert gzip.decompress(body).startswith(b'{"items":'), body[:40]
    finally:
        be.close()
        coded.sock.close()


def test_streamed_gzip_flushes_each_piece():
    """A piece the upstream sent is decodable before the rest arrives (flush
    per piece): a streamed render or slow API reaches the browser as it comes."""
    coded = Coded()
    cfg = {"upstreams": '{ coded = { servers = { "%s" } } }' % coded.addr}
    try:
        with Server(config=cfg, routes='ssr.proxy("/c/", { upstream = "coded", path = "/" })') as srv:
            with srv.connect() as s:
                s.sendall(b"GET /c/pieces HTTP/1.1\r\nHost: x\r\nAccept-Encoding: gzip\r\n\r\n")
                rd = Reader(s)
                r = rd.read_response()
                eq(r.header("content-encoding"), "gzip")
                d = zlib.decompressobj(16 + zlib.MAX_WBITS)
                size = int(rd.read_until(b"\r\n").strip(), 16)
                first = d.decompress(rd.read_n(size))
                assert len(first) > 0 and HTML.startswith(first), first[:60]
    finally:
        coded.sock.close()


# ------------------------------------------------------------------ renders

BUNDLE_JS = """
globalThis.render = function (req) {
  var rows = [];
  for (var i = 0; i < 300; i++) rows.push("<li>item " + i + "</li>");
  return { status: 200, headers: { "content-type": "text/html; charset=utf-8" },
           html: "<!doctype html><ul>" + rows.join("") + "</ul>" };
};
"""


def test_bypassed_render_coded_cached_page_untouched():
    import tempfile
    d = tempfile.mkdtemp(prefix="rs-gzr-")
    bundle = os.path.join(d, "b.js")
    with open(bundle, "w") as f:
        f.write(BUNDLE_JS)
    cfg = {"render": "{ bundle = %s, threads = 1 }" % lua_str(bundle),
           "cache": "{ min_compress = 1000000 }"}      # stored pages: identity only
    routes = 'ssr.route("GET", "/*", { render = true, bypass = { cookie = "session" } })'
    with Server(config=cfg, routes=routes) as srv:
        r = srv.get("/page", {"Accept-Encoding": "gzip", "Cookie": "session=1"})
        eq(r.header("x-cache"), "BYPASS")
        eq(r.header("content-encoding"), "gzip", "a bypassed render is coded")
        assert decode(r).startswith(b"<!doctype html><ul><li>item 0"), r
        # The stored page keeps its own variants (here identity only): the
        # filter never touches a cache answer.
        for _ in range(2):
            r = srv.get("/page", {"Accept-Encoding": "gzip"})
            assert r.header("x-cache").split("-")[0] in ("MISS", "HIT"), r
            eq(r.header("content-encoding"), None, "stored pages are the cache's")
            assert r.body.startswith(b"<!doctype html>"), r


if __name__ == "__main__":
    main([test_respond_gzip_and_br, test_q_values, test_type_and_length, test_head_etag_and_ranges, test_config_errors,
          test_static_on_the_fly_304_and_range, test_static_precompressed_siblings, test_proxy_streamed,
          test_streamed_gzip_flushes_each_piece, test_bypassed_render_coded_cached_page_untouched])
