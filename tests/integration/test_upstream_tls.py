"""TLS to upstreams (servers = { "https://..." }, ssr.fetch("https://...")),
over real sockets against Python's own ssl servers on 127.0.0.1, with
certificates made here by the openssl CLI: a CA, a leaf for
localhost/127.0.0.1, one with a wrong name, an expired one, one from an
unknown CA. A valid chain answers 200 through a proxy route, a cached proxy
route, ssr.fetch of an upstream and of a URL; every bad certificate is a 502
with the verification error in the log and a count in /metrics; verify =
false accepts it; sni names what is sent and verified; a client
certificate is presented; pooled connections are reused over TLS (big,
chunked and request bodies too, uploads of 1-3 MB byte for byte; never
with bytes after the answer); an upstream that closes mid-upload or stops
reading is a 502 or a 504, and the gateway goes on; new
connections resume the last session; a reload reads the CA again; bad tls
keys are FILE:LINE at load."""

import hashlib
import os
import random
import re
import signal
import socket
import ssl
import subprocess
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from rslib import SLOW, Server, eq, main, run_config_check, wait_log

D = tempfile.mkdtemp(prefix="rs-utls-")


def openssl(*args):
    subprocess.run(["openssl"] + list(args), cwd=D, check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)


def make_ca(name):
    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", name + ".key", "-out", name + ".crt", "-days", "2", "-subj", "/CN=rs test " + name)


def make_leaf(name, ca, san, days="1"):
    openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", name + ".key",
            "-out", name + ".csr", "-subj", "/CN=" + name)
    with open(os.path.join(D, name + ".ext"), "w") as f:
        f.write("subjectAltName=%s\n" % san)
    openssl("x509", "-req", "-in", name + ".csr", "-CA", ca + ".crt", "-CAkey", ca + ".key", "-CAcreateserial",
            "-days", days, "-extfile", name + ".ext", "-out", name + ".crt")


make_ca("ca")
make_ca("other")
make_leaf("good", "ca", "DNS:localhost,IP:127.0.0.1")
make_leaf("wrong", "ca", "DNS:wrong.example")
make_leaf("expired", "ca", "DNS:localhost,IP:127.0.0.1", days="-1")
make_leaf("stranger", "other", "DNS:localhost,IP:127.0.0.1")
make_leaf("client", "ca", "DNS:rustyssr.client")
CA = os.path.join(D, "ca.crt")


class TLSBackend:
    """A threaded HTTPS/1.1 server with keep-alive that counts connections,
    resumed sessions and the SNI names it was sent."""

    def __init__(self, leaf, client_ca=None, tls12=False):
        self.conns = 0
        self.resumed = 0
        self.sni = []
        self.lock = threading.Lock()
        self.stalled = threading.Event()
        self.release = threading.Event()
        me = self
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(os.path.join(D, leaf + ".crt"), os.path.join(D, leaf + ".key"))
        if tls12:
            ctx.maximum_version = ssl.TLSVersion.TLSv1_2
        if client_ca:                                # a client certificate is required
            ctx.verify_mode = ssl.CERT_REQUIRED
            ctx.load_verify_locations(client_ca)

        def on_sni(sock, name, c):
            with me.lock:
                me.sni.append(name)
        ctx.sni_callback = on_sni

        class H(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def setup(self):
                super().setup()
                with me.lock:
                    me.conns += 1
                    if self.request.session_reused:
                        me.resumed += 1

            def do_POST(self):
                if self.path in ("/cut", "/stall"):
                    # Read some of the body, then close without an answer
                    # (/cut: at once; /stall: after reading nothing more for
                    # a while, longer than the gateway's send timeout).
                    self.rfile.read(256 * 1024)
                    if self.path == "/stall":
                        me.stalled.set()
                        me.release.wait(10 * SLOW)
                    self.close_connection = True
                    return
                if self.path.startswith("/sha"):      # digest, read in pieces (slowly: /sha/slow)
                    self.digest_body(self.path == "/sha/slow")
                    return
                n = int(self.headers.get("Content-Length") or 0)
                if self.headers.get("Transfer-Encoding") == "chunked":
                    data = b""
                    while True:
                        size = int(self.rfile.readline().strip(), 16)
                        if size == 0:
                            self.rfile.readline()
                            break
                        data += self.rfile.read(size)
                        self.rfile.readline()
                else:
                    data = self.rfile.read(n)
                body = ("got %d sum %d" % (len(data), sum(data) % 65521)).encode()
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def digest_body(self, slow):
                h, total = hashlib.sha256(), 0

                def take(k):
                    nonlocal total
                    while k > 0:
                        d = self.rfile.read(min(k, 65536))
                        if not d:
                            raise OSError("body cut short")
                        h.update(d)
                        total += len(d)
                        k -= len(d)
                        if slow:
                            time.sleep(0.005)
                if self.headers.get("Transfer-Encoding") == "chunked":
                    while True:
                        size = int(self.rfile.readline().strip(), 16)
                        if size == 0:
                            self.rfile.readline()
                            break
                        take(size)
                        self.rfile.readline()
                else:
                    take(int(self.headers.get("Content-Length") or 0))
                body = ("got %d sha256 %s" % (total, h.hexdigest())).encode()
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self):
                if self.path == "/big":
                    body = bytes(range(256)) * 4096        # 1 MiB
                elif self.path == "/chunked":
                    self.send_response(200)
                    self.send_header("Transfer-Encoding", "chunked")
                    self.end_headers()
                    for i in range(50):
                        part = (b"%04d" % i) * 500
                        self.wfile.write(b"%x\r\n%s\r\n" % (len(part), part))
                    self.wfile.write(b"0\r\n\r\n")
                    return
                elif self.path == "/extra":             # an answer, then one nobody asked for
                    self.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
                    self.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nEVIL!")
                    return
                else:
                    body = ("tls-ok %s host=%s" % (self.path, self.headers.get("Host"))).encode()
                if self.path == "/bye":
                    self.close_connection = True             # closes, without telling
                self.send_response(200)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        class S(ThreadingHTTPServer):
            daemon_threads = True

            def get_request(self):
                sock, addr = self.socket.accept()
                sock.settimeout(10)
                try:
                    return ctx.wrap_socket(sock, server_side=True), addr
                except (ssl.SSLError, OSError):
                    sock.close()
                    raise

            def handle_error(self, request, client_address):
                pass

        self.srv = S(("127.0.0.1", 0), H)
        self.port = self.srv.server_address[1]
        self.thread = threading.Thread(target=self.srv.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.release.set()
        self.srv.shutdown()
        self.srv.server_close()
        return False


def proxy_server(url, tls=None, keepalive=None, workers=1, extra=None, config=None):
    up = 'servers = { "%s" }' % url
    if extra is not None:
        up += ", " + extra
    if tls is not None:
        up += ", tls = " + tls
    if keepalive is not None:
        up += ", keepalive = %d" % keepalive
    routes = r'''
ssr.proxy("/p/", { upstream = "api", path = "/" })
ssr.proxy("/c/", { upstream = "api", path = "/", ttl = 60 })
ssr.route("GET", "/f", function(req)
  local res, err = ssr.fetch("api", "/fetched")
  if not res then return 502, "fetch failed: " .. err end
  return res.status, res.body
end)
ssr.route("GET", "/fb/:n", function(req)   -- a request body of n bytes (a pattern) to /sha/slow
  local body = string.rep("0123456789abcdef", math.floor(tonumber(req.params.n) / 16))
  local res, err = ssr.fetch("api", "/sha/slow", { method = "POST", body = body })
  if not res then return 502, "fetch failed: " .. err end
  return res.status, res.body
end)
'''
    return Server(config=dict({"upstreams": "{ api = { %s } }" % up}, **(config or {})), routes=routes,
                  workers=workers)


def metric(m, name, **labels):
    want = name + "{" + ",".join('%s="%s"' % kv for kv in labels.items()) + "}"
    return m.get(want, 0)


def test_valid_chain():
    with TLSBackend("good") as b, proxy_server("https://127.0.0.1:%d" % b.port, tls='{ ca = %r }' % CA) as s:
        r = s.get("/p/x")
        eq(r.status, 200, "proxy")
        assert r.body.startswith(b"tls-ok /x"), r.body
        r = s.get("/c/cached")
        eq(r.status, 200, "cached proxy")
        assert r.body.startswith(b"tls-ok /cached"), r.body
        assert s.get("/c/cached").header("x-cache").startswith("HIT"), "second is a hit"
        r = s.get("/f")
        eq(r.status, 200, "ssr.fetch of the upstream")
        assert r.body.startswith(b"tls-ok /fetched"), r.body
        m = s.metrics()
        srv = "127.0.0.1:%d" % b.port
        assert metric(m, "rustyssr_upstream_tls_handshakes_total", upstream="api", server=srv, result="ok") >= 1, m
        # an IP literal is verified against the IP SANs and sent no SNI
        assert b.sni == [None] * len(b.sni) and b.sni, b.sni


def test_name_and_sni():
    """A host name is resolved at load, sent as SNI and verified."""
    with TLSBackend("good") as b, proxy_server("https://localhost:%d" % b.port, tls='{ ca = %r }' % CA) as s:
        eq(s.get("/p/n").status, 200, "by name")
        assert "localhost" in b.sni, b.sni
    with TLSBackend("wrong") as b, \
            proxy_server("https://127.0.0.1:%d" % b.port, tls='{ ca = %r, sni = "wrong.example" }' % CA) as s:
        eq(s.get("/p/n").status, 200, "the configured name is sent and verified")
        eq(b.sni[-1], "wrong.example")


def bad_cert(leaf, why, tls=None, host="127.0.0.1"):
    with TLSBackend(leaf) as b, \
            proxy_server("https://%s:%d" % (host, b.port), tls=tls or '{ ca = %r }' % CA) as s:
        eq(s.get("/p/x").status, 502, leaf)
        wait_log(s, why)
        wait_log(s, "TLS handshake failed: certificate verify failed")
        eq(s.get("/f").body, b"fetch failed: TLS certificate verification failed", "ssr.fetch's error")
        m = s.metrics()
        srv = "127.0.0.1:%d" % b.port
        assert metric(m, "rustyssr_upstream_tls_handshakes_total", upstream="api", server=srv,
                      result="verify_error") >= 2, m
        assert metric(m, "rustyssr_upstream_failures_total", upstream="api", server=srv, kind="tls") >= 2, m


def test_unknown_ca():
    bad_cert("stranger", "unable to get local issuer certificate")


def test_system_store_does_not_know_our_ca():
    bad_cert("good", "unable to get local issuer certificate", tls="{ verify = true }")


def test_wrong_name():
    bad_cert("wrong", "hostname mismatch", host="localhost")
    bad_cert("wrong", "IP address mismatch")


def test_expired():
    bad_cert("expired", "certificate has expired")


def test_verify_false():
    with TLSBackend("stranger") as b, proxy_server("https://127.0.0.1:%d" % b.port, tls="{ verify = false }") as s:
        eq(s.get("/p/x").status, 200, "verify = false")


def test_client_certificate():
    cert, key = os.path.join(D, "client.crt"), os.path.join(D, "client.key")
    with TLSBackend("good", client_ca=CA) as b:
        with proxy_server("https://127.0.0.1:%d" % b.port, tls='{ ca = %r, cert = %r, key = %r }' % (CA, cert, key)) as s:
            eq(s.get("/p/x").status, 200, "with a client certificate")
        with proxy_server("https://127.0.0.1:%d" % b.port, tls='{ ca = %r }' % CA) as s:
            eq(s.get("/p/x").status, 502, "without one")


def test_handshake_timeout():
    """A server that accepts and never answers the ClientHello: the
    handshake times out within connect_timeout_ms, 504, counted."""
    lst = socket.socket()
    lst.bind(("127.0.0.1", 0))
    lst.listen(8)
    port = lst.getsockname()[1]
    held = []
    stop = threading.Event()

    def accept():
        lst.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(lst.accept()[0])
            except OSError:
                pass
    t = threading.Thread(target=accept, daemon=True)
    t.start()
    try:
        with proxy_server("https://127.0.0.1:%d" % port, tls='{ ca = %r }' % CA, extra="connect_timeout_ms = 300") as s:
            t0 = time.time()
            eq(s.get("/p/x").status, 504, "handshake timeout")
            assert time.time() - t0 < 10 * SLOW
            wait_log(s, "TLS handshake timed out")
            m = s.metrics()
            srv = "127.0.0.1:%d" % port
            eq(metric(m, "rustyssr_upstream_tls_handshakes_total", upstream="api", server=srv, result="error"), 1)
            eq(metric(m, "rustyssr_upstream_failures_total", upstream="api", server=srv, kind="tls"), 1)
    finally:
        stop.set()
        t.join()
        lst.close()
        for c in held:
            c.close()


def test_keepalive_over_tls():
    with TLSBackend("good") as b, proxy_server("https://127.0.0.1:%d" % b.port, tls='{ ca = %r }' % CA) as s:
        for i in range(6):
            r = s.get("/p/k%d" % i)
            eq(r.status, 200, "request %d" % i)
        eq(b.conns, 1, "one pooled TLS connection for six requests")
        m = s.metrics()
        eq(metric(m, "rustyssr_upstream_tls_handshakes_total", upstream="api", server="127.0.0.1:%d" % b.port,
                  result="ok"), 1, "one handshake")


def test_resumption(tls12=False):
    """keepalive = 0: a connection per request, each after the first resumes
    the session the server gave."""
    with TLSBackend("good", tls12=tls12) as b, \
            proxy_server("https://127.0.0.1:%d" % b.port, tls='{ ca = %r }' % CA, keepalive=0) as s:
        n = 5
        for i in range(n):
            eq(s.get("/p/r%d" % i).status, 200, "request %d" % i)
        eq(b.conns, n, "a connection each")
        assert b.resumed >= n - 1, "server saw %d resumed of %d" % (b.resumed, n)
        m = s.metrics()
        srv = "127.0.0.1:%d" % b.port
        eq(metric(m, "rustyssr_upstream_tls_handshakes_total", upstream="api", server=srv, result="ok"), n)
        assert metric(m, "rustyssr_upstream_tls_resumed_total", upstream="api", server=srv) >= n - 1, m


def dechunked(s, path):
    """GET path; the body, de-chunked (short: an error names only lengths)."""
    with s.connect() as c:
        c.sendall(b"GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n" % path.encode())
        data = b""
        while True:
            d = c.recv(65536)
            if not d:
                break
            data += d
    head, _, rest = data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200") and b"chunked" in head.lower(), head
    body = b""
    while True:
        line, _, rest = rest.partition(b"\r\n")
        n = int(line, 16)
        if n == 0:
            return body
        body, rest = body + rest[:n], rest[n + 2:]


def test_bodies_over_tls():
    """A 1 MiB response, a chunked one, request bodies (a length, chunked)
    through the proxy over one pooled TLS connection."""
    with TLSBackend("good") as b, proxy_server("https://127.0.0.1:%d" % b.port, tls='{ ca = %r }' % CA) as s:
        r = s.get("/p/big")
        eq(r.status, 200, "big")
        assert r.body == bytes(range(256)) * 4096, "1 MiB intact (got %d bytes)" % len(r.body)
        assert dechunked(s, "/p/chunked") == b"".join((b"%04d" % i) * 500 for i in range(50)), "chunked body intact"
        data = bytes((i * 7) % 256 for i in range(300000))
        want = ("got %d sum %d" % (len(data), sum(data) % 65521)).encode()
        with s.connect() as c:
            c.sendall(b"POST /p/echo HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\nConnection: close\r\n\r\n"
                      % len(data) + data)
            from rslib import read_response
            r = read_response(c)
        eq((r.status, r.body), (200, want), "a body with a length")
        with s.connect() as c:
            chunks = b"".join(b"%x\r\n%s\r\n" % (len(data[i:i + 65536]), data[i:i + 65536])
                              for i in range(0, len(data), 65536))
            c.sendall(b"POST /p/echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
                      + chunks + b"0\r\n\r\n")
            r = read_response(c)
        eq((r.status, r.body), (200, want), "a chunked body")
        eq(b.conns, 1, "all on one pooled TLS connection")


def upload(s, path, data, chunked=False, piece=65536):
    """POST data to path through the gateway (with a length, or chunked in
    pieces); the response."""
    from rslib import read_response
    with s.connect(timeout=30) as c:
        if chunked:
            c.sendall(b"POST %s HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" % path.encode())
            for i in range(0, len(data), piece):
                c.sendall(b"%x\r\n%s\r\n" % (len(data[i:i + piece]), data[i:i + piece]))
            c.sendall(b"0\r\n\r\n")
        else:
            c.sendall(b"POST %s HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % (path.encode(), len(data)))
            for i in range(0, len(data), piece):
                c.sendall(data[i:i + piece])
        return read_response(c)


def test_large_uploads_over_tls():
    """Request bodies of 1-3 MB (a hundred and more TLS records each, written
    as the engine made them) through the proxy to a TLS upstream, byte for
    byte (its SHA-256), with a length and chunked, to an upstream that reads
    at once and to one that reads slowly (the socket takes part of a write,
    the rest waits queued), and sent whole by ssr.fetch; all on one pooled
    connection, which then serves a GET."""
    rnd = random.Random(7)
    with TLSBackend("good") as b, proxy_server("https://127.0.0.1:%d" % b.port, tls='{ ca = %r }' % CA,
                                               config={"limits": '{ body = "8MB" }'}) as s:
        for n, chunked, path in ((2 << 20, False, "/sha"), (3000000, True, "/sha"), (1 << 20, True, "/sha/slow"),
                                 (3 << 20, False, "/sha/slow"), (1000003, False, "/sha")):
            data = rnd.randbytes(n)
            r = upload(s, "/p" + path, data, chunked=chunked)
            want = "got %d sha256 %s" % (n, hashlib.sha256(data).hexdigest())
            eq((r.status, r.body.decode()), (200, want), "%d bytes to %s (chunked=%s)" % (n, path, chunked))
        # A body sent whole (ssr.fetch's): the socket takes part of it at
        # once, the rest waits queued.
        for n in (12 << 20, 1 << 20):
            r = s.get("/fb/%d" % n)
            want = "got %d sha256 %s" % (n, hashlib.sha256(b"0123456789abcdef" * (n // 16)).hexdigest())
            eq((r.status, r.body.decode()), (200, want), "ssr.fetch with a body of %d bytes" % n)
        r = s.get("/p/after")
        eq((r.status, r.body), (200, b"tls-ok /after host=localhost"), "a GET on the pooled connection after")
        eq(b.conns, 1, "all on one pooled TLS connection")


def test_upstream_closes_mid_upload():
    """A TLS upstream that closes mid-upload (without an answer, with
    ciphertext queued toward it), and one that stops reading past the send
    timeout: 502 and 504, counted; the gateway goes on serving, over a new
    connection."""
    with TLSBackend("good") as b, proxy_server("https://127.0.0.1:%d" % b.port, tls='{ ca = %r }' % CA,
                                               extra="send_timeout_ms = 1000",
                                               config={"limits": '{ body = "64MB" }'}) as s:
        data = random.Random(3).randbytes(3 << 20)
        for i in range(3):
            with s.connect(timeout=30) as c:
                c.sendall(b"POST /p/cut HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % len(data))
                try:
                    for k in range(0, len(data), 65536):
                        c.sendall(data[k:k + 65536])
                except OSError:
                    pass                                # the gateway may close before it all went
                from rslib import read_response
                r = read_response(c)
            eq(r.status, 502, "cut %d" % i)
            r = upload(s, "/p/sha", data[:1 << 20])
            eq((r.status, r.body.decode()), (200, "got %d sha256 %s" % (1 << 20, hashlib.sha256(data[:1 << 20]).hexdigest())),
               "an upload after cut %d" % i)
        wait_log(s, "connection closed early")
        # More than the sockets' buffers on loopback hold (several MB), so
        # that ciphertext waits queued toward the upstream when it stops.
        big = bytes(range(256)) * (48 << 12)
        with s.connect(timeout=30) as c:
            c.sendall(b"POST /p/stall HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % len(big))

            def send():
                try:
                    c.sendall(big)
                except OSError:
                    pass                                # closed after the answer
            t = threading.Thread(target=send, daemon=True)
            t.start()
            from rslib import read_response
            r = read_response(c)
        t.join(30 * SLOW)
        eq(r.status, 504, "an upstream that stopped reading")
        assert b.stalled.is_set()
        wait_log(s, "send timed out")
        b.release.set()
        r = s.get("/p/fine")
        eq((r.status, r.body), (200, b"tls-ok /fine host=localhost"), "served after")
        m = s.metrics()
        srv = "127.0.0.1:%d" % b.port
        assert metric(m, "rustyssr_upstream_failures_total", upstream="api", server=srv, kind="reset") >= 3, m
        eq(metric(m, "rustyssr_upstream_failures_total", upstream="api", server=srv, kind="send_timeout"), 1, m)


def test_server_closes_pooled():
    """A server that closes a pooled TLS connection: the pool drops it, the
    next request goes on a new one (resumed)."""
    with TLSBackend("good") as b, proxy_server("https://127.0.0.1:%d" % b.port, tls='{ ca = %r }' % CA) as s:
        eq(s.get("/p/bye").status, 200)
        deadline = time.time() + 5 * SLOW
        while time.time() < deadline and s.metrics().get('rustyssr_upstream_connections{state="idle"}', 0) != 0:
            time.sleep(0.05)
        eq(s.metrics().get('rustyssr_upstream_connections{state="idle"}'), 0, "the closed one left the pool")
        eq(s.get("/p/again").status, 200)
        eq(b.conns, 2)
        assert b.resumed >= 1, "the new connection resumed"


def test_bytes_after_the_answer():
    """A TLS connection with bytes after the answer never goes back to the
    pool: the next request gets its own answer."""
    with TLSBackend("good") as b, proxy_server("https://127.0.0.1:%d" % b.port, tls='{ ca = %r }' % CA) as s:
        for i in range(3):
            eq(s.get("/p/extra").body, b"ok", "extra %d" % i)
            # Bytes that come after the connection went back to the pool
            # close it when they arrive (a request racing them would take
            # them for its answer, as with any HTTP/1.1 pool): wait for that.
            idle = 'rustyssr_upstream_connections{state="idle"}'
            deadline = time.time() + 5 * SLOW
            while time.time() < deadline and s.metrics().get(idle, 0) != 0:
                time.sleep(0.05)
            eq(s.metrics().get(idle), 0, "no pooled connection after extra bytes")
            r = s.get("/p/after%d" % i)
            eq(r.body, b"tls-ok /after%d host=localhost" % i, "after %d" % i)


def test_resumption_tls12():
    test_resumption(tls12=True)


FETCH_ROUTES = r'''
local function go(url, opts)
  local res, err = ssr.fetch(url, "/u", opts)
  if not res then return 502, "fetch failed: " .. err end
  return res.status, res.body
end
ssr.route("GET", "/default", function(req) return go(URL) end)
ssr.route("GET", "/ca", function(req) return go(URL, { tls = { ca = CA } }) end)
ssr.route("GET", "/relca", function(req) return go(URL, { tls = { ca = "rel-ca.pem" } }) end)
ssr.route("GET", "/noverify", function(req) return go(URL, { tls = { verify = false } }) end)
ssr.route("GET", "/badca", function(req) return go(URL, { tls = { ca = CA .. ".nope" } }) end)
ssr.route("GET", "/badopt", function(req) return go(URL, { tls = { verfy = false } }) end)
'''


def test_fetch_url():
    with TLSBackend("good") as b:
        routes = "local URL = %r\nlocal CA = %r\n" % ("https://localhost:%d" % b.port, CA) + FETCH_ROUTES
        srv = Server(routes=routes, workers=1)
        with open(os.path.join(srv.dir, "rel-ca.pem"), "w") as f:
            f.write(open(CA).read())
        with srv as s:
            r = s.get("/default")
            eq((r.status, r.body), (502, b"fetch failed: TLS certificate verification failed"),
               "the system store does not know our CA")
            wait_log(s, "unable to get local issuer certificate")
            r = s.get("/ca")
            eq(r.status, 200, "with our CA")
            eq(r.body, b"tls-ok /u host=localhost:%d" % b.port)
            eq(s.get("/noverify").status, 200, "verify = false")
            eq(s.get("/relca").status, 200, "a CA relative to the config file's folder")
            r = s.get("/badca")
            eq(r.status, 502, "a CA file that does not load")
            wait_log(s, "cannot load the CA file")
            eq(s.get("/badopt").status, 500, "an unknown tls key is the hook's error")
            wait_log(s, "unknown key 'verfy' in opts.tls")
            before = b.resumed
            for _ in range(3):
                eq(s.get("/ca").status, 200)
            assert b.resumed >= before + 3, "fetches of a URL resume (%d -> %d)" % (before, b.resumed)
            m = s.metrics()
            assert metric(m, "rustyssr_upstream_tls_resumed_total", upstream="-", server="-") >= 3, m
            assert metric(m, "rustyssr_upstream_tls_handshakes_total", upstream="-", server="-",
                          result="verify_error") >= 1, m


def test_reload_loads_the_ca_again():
    """The CA file is read again on SIGHUP (each config has its own
    contexts): a CA that did not match, replaced, verifies after a reload;
    a CA file gone makes the reload fail with FILE:LINE, the old config
    serving on."""
    d = tempfile.mkdtemp(prefix="rs-utls-reload-")
    ca = os.path.join(d, "ca.pem")
    with open(ca, "w") as f:
        f.write(open(os.path.join(D, "other.crt")).read())
    with TLSBackend("good") as b, proxy_server("https://127.0.0.1:%d" % b.port, tls='{ ca = %r }' % ca) as s:
        eq(s.get("/p/x").status, 502, "the other CA")
        with open(ca, "w") as f:
            f.write(open(CA).read())
        n = s.log().count(": reloaded ")
        s.signal(signal.SIGHUP)
        deadline = time.time() + 20 * SLOW
        while time.time() < deadline and s.log().count(": reloaded ") == n:
            time.sleep(0.05)
        eq(s.get("/p/x").status, 200, "our CA, after the reload")
        os.unlink(ca)
        s.signal(signal.SIGHUP)
        wait_log(s, "cannot load the CA file", 20)
        wait_log(s, "reload failed, keeping the current configuration", 20)
        eq(s.get("/p/y").status, 200, "the old config serves on")


def config_error(up, want_line, want):
    d = tempfile.mkdtemp(prefix="rs-utls-conf-")
    path = os.path.join(d, "rustyssr.lua")
    with open(path, "w") as f:
        f.write('local ssr = require "rustyssr"\n'
                'ssr.config {\n'
                '  listen = "127.0.0.1:8088",\n'
                '  upstreams = {\n'
                '    api = {\n'
                '      %s,\n' % up[0] +
                '      %s,\n' % up[1] +
                '    },\n'
                '  },\n'
                '}\n')
    code, out = run_config_check(path)
    eq(code, 1, out)
    assert "%s:%d: " % (path, want_line) in out and want in out, (want_line, want, out)


def test_config_errors():
    srv = 'servers = { "https://127.0.0.1:9443" }'
    config_error((srv, 'tls = { ca = "missing-ca.pem" }'), 7, "'upstreams.api.tls.ca'")
    config_error((srv, 'tls = { ca = "missing-ca.pem" }'), 7, "cannot load the CA file")
    config_error((srv, 'tls = { verify = "no" }'), 7, "'upstreams.api.tls.verify' must be a boolean")
    config_error((srv, 'tls = { cert = %r }' % os.path.join(D, "good.crt")), 7, "'upstreams.api.tls': a client certificate needs both cert and key")
    config_error((srv, 'tls = { cert = %r, key = %r }' % (os.path.join(D, "good.crt"), os.path.join(D, "wrong.key"))),
                 7, "cannot load the private key")
    config_error((srv, 'tls = { sni = "a b" }'), 7, "must be a host name")
    config_error((srv, 'tls = { cafile = "x" }'), 7, "unknown key 'cafile'")
    config_error(('servers = { "http://127.0.0.1:9000" }', 'tls = { verify = false }'), 7, "needs https:// servers")
    config_error(('servers = { "https://127.0.0.1:9443", "127.0.0.1:9000" }', 'retries = 1'), 5,
                 "servers mix https:// and cleartext")
    config_error(('servers = { "https://no-such-host.invalid:9443" }', 'retries = 1'), 5, "cannot resolve")
    # A relative CA path is the config file's folder's; a good one loads.
    d = tempfile.mkdtemp(prefix="rs-utls-conf-")
    with open(os.path.join(d, "ca.pem"), "w") as f:
        f.write(open(CA).read())
    path = os.path.join(d, "rustyssr.lua")
    with open(path, "w") as f:
        f.write('local ssr = require "rustyssr"\nssr.config { listen = "127.0.0.1:8088", upstreams = { api = {'
                ' servers = { "https://localhost" }, tls = { ca = "ca.pem", sni = "api.internal" } } } }\n')
    code, out = run_config_check(path)
    eq(code, 0, out)
    p = subprocess.run([os.environ["RUSTYSSR_BIN"], "-T", "-c", path], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE)
    dump = p.stdout.decode()
    assert 'servers = { "https://localhost:443" }' in dump, dump
    assert re.search(r'ca = "%s",\s+-- %s:2' % (re.escape(os.path.join(d, "ca.pem")), re.escape(path)), dump), dump
    assert 'sni = "api.internal",' in dump and "verify = true," in dump, dump
    assert "-- cert: none" in dump, dump


if __name__ == "__main__":
    main([test_valid_chain, test_name_and_sni, test_unknown_ca, test_system_store_does_not_know_our_ca,
          test_wrong_name, test_expired, test_verify_false, test_client_certificate, test_handshake_timeout, test_keepalive_over_tls,
          test_resumption, test_resumption_tls12, test_bodies_over_tls, test_large_uploads_over_tls,
          test_upstream_closes_mid_upload, test_server_closes_pooled, test_bytes_after_the_answer,
          test_fetch_url, test_reload_loads_the_ca_again, test_config_errors])
