#!/usr/bin/env python3
"""TLS on the listeners (core/http/rs_conn_io.c, core/tls/rs_tls.c,
lua/rs_lconfig_listen.c): every action over HTTPS (curl --http1.1), a file
body larger than a slice (read and encrypted, not sendfile), pipelining with
a paused parser, SNI (exact, wildcard, default), ALPN, TLS 1.2 and 1.3 and
refusing 1.2, resumption (tickets and the session cache) in /metrics, a
stalled handshake closed after handshake_timeout_ms, garbage instead of a
ClientHello, OCSP stapling, certificates reloaded on SIGHUP under load (a
bad one keeps the old with file:line), tickets resuming across reloads (a
new route, a new certificate) with the keys' rotation clock kept, the
config's errors and -T.

Certificates are made at test time with the openssl CLI: a CA, leaves for
a.test, b.test and *.w.test, an expired one, an OCSP response."""

import hashlib
import os
import re
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from rslib import SLOW, TESTS, Reader, Server, free_port, lua_str, main, parse_metrics, run_config_check, \
    wait_for, wait_log  # noqa: E402
from backend import Backend, pattern  # noqa: E402

PKI = tempfile.mkdtemp(prefix="rs-tls-pki-")
CA_CNF = """[ ca ]
default_ca = tca
[ tca ]
dir = {d}
database = {d}/index.txt
new_certs_dir = {d}/new
serial = {d}/serial
default_md = sha256
policy = pol
copy_extensions = copy
unique_subject = no
x509_extensions = leaf
[ pol ]
commonName = supplied
[ leaf ]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
"""


def sh(*args, **kw):
    p = subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=60, **kw)
    assert p.returncode == 0, (args, p.stdout.decode("utf-8", "replace"))
    return p.stdout.decode("utf-8", "replace")


def pki(name):
    return os.path.join(PKI, name)


def make_leaf(name, cn, sans, expired=False):
    """name.key, name.pem (signed by the test CA) in PKI."""
    sh("openssl", "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-out", pki(name + ".key"))
    sh("openssl", "req", "-new", "-key", pki(name + ".key"), "-subj", "/CN=" + cn,
       "-addext", "subjectAltName=" + ",".join("DNS:" + s for s in sans), "-out", pki(name + ".csr"))
    dates = ["-startdate", "20200101000000Z", "-enddate", "20200201000000Z"] if expired else ["-days", "30"]
    sh("openssl", "ca", "-batch", "-notext", "-config", pki("ca.cnf"), "-cert", pki("ca.pem"), "-keyfile",
       pki("ca.key"), "-in", pki(name + ".csr"), "-out", pki(name + ".pem"), *dates)


def make_pki():
    os.makedirs(pki("new"))
    open(pki("index.txt"), "w").close()
    with open(pki("serial"), "w") as f:
        f.write("1000\n")
    with open(pki("ca.cnf"), "w") as f:
        f.write(CA_CNF.format(d=PKI))
    sh("openssl", "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-out", pki("ca.key"))
    sh("openssl", "req", "-x509", "-new", "-key", pki("ca.key"), "-subj", "/CN=rustyssr test CA", "-days", "30",
       "-addext", "keyUsage=critical,keyCertSign,cRLSign", "-out", pki("ca.pem"))
    make_leaf("a", "a.test", ["a.test"])
    make_leaf("a2", "a.test", ["a.test"])          # the same name, a new certificate (the reload)
    make_leaf("b", "b.test", ["b.test"])
    make_leaf("w", "w.test", ["*.w.test"])
    make_leaf("old", "old.test", ["old.test"], expired=True)
    # An OCSP response for a.pem, signed by the CA (its own responder).
    sh("openssl", "ocsp", "-issuer", pki("ca.pem"), "-cert", pki("a.pem"), "-no_nonce", "-reqout", pki("a.req"))
    sh("openssl", "ocsp", "-index", pki("index.txt"), "-rsigner", pki("ca.pem"), "-rkey", pki("ca.key"),
       "-CA", pki("ca.pem"), "-reqin", pki("a.req"), "-respout", pki("a.ocsp.der"), "-ndays", "1")


make_pki()


def serial_of(pem_path):
    return sh("openssl", "x509", "-noout", "-serial", "-in", pem_path).strip().split("=")[1].upper()


def tls_listen(port, tls, http2=False):
    return '{ "127.0.0.1:%d", %stls = %s }' % (port, "http2 = true, " if http2 else "", tls)


def cert(name, ocsp=False):
    s = "cert = %s, key = %s" % (lua_str(pki(name + ".pem")), lua_str(pki(name + ".key")))
    return s + (", ocsp = %s" % lua_str(pki(name + ".ocsp.der")) if ocsp else "")


def tls_server(tls=None, routes='ssr.respond("/x", 200, "hello\\n")', http2=False, config=None, workers=2):
    port = free_port()
    cfg = {"listen": tls_listen(port, tls or "{ %s }" % cert("a"), http2)}
    cfg.update(config or {})
    srv = Server(config=cfg, routes=routes, workers=workers)
    srv.port = port
    return srv


def client_ctx(maxv=None, minv=None, alpn=None, tickets=True):
    ctx = ssl.create_default_context(cafile=pki("ca.pem"))
    if maxv:
        ctx.maximum_version = maxv
    if minv:
        ctx.minimum_version = minv
    if alpn:
        ctx.set_alpn_protocols(alpn)
    if not tickets:
        ctx.options |= ssl.OP_NO_TICKET
    return ctx


def tls_connect(srv, name="a.test", ctx=None, session=None, timeout=10.0, ragged=True):
    raw = socket.create_connection(("127.0.0.1", srv.port), timeout=timeout * SLOW)
    return (ctx or client_ctx()).wrap_socket(raw, server_hostname=name, session=session,
                                              suppress_ragged_eofs=ragged)


def get(s, path, host="a.test", close=False):
    s.sendall(("GET %s HTTP/1.1\r\nHost: %s\r\n%s\r\n" % (path, host, "Connection: close\r\n" if close else ""))
              .encode())
    return Reader(s).read_response()


def curl(srv, *args, name="a.test"):
    p = subprocess.run(["curl", "-sS", "--http1.1", "--cacert", pki("ca.pem"), "--resolve",
                        "%s:%d:127.0.0.1" % (name, srv.port), "--max-time", str(int(30 * SLOW))] + list(args),
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60 * SLOW)
    return p


def s_client(srv, *args, name=None, data=b"", timeout=20):
    cmd = ["openssl", "s_client", "-connect", "127.0.0.1:%d" % srv.port, "-CAfile", pki("ca.pem")]
    if name:
        cmd += ["-servername", name]
    p = subprocess.run(cmd + list(args), input=data, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       timeout=timeout * SLOW)
    return p.stdout.decode("utf-8", "replace")


def metric(srv, name):
    return srv.metrics().get(name, 0)


def ticket(srv, ctx):
    """A session from a full handshake and a request (TLS 1.3's tickets come
    after the handshake)."""
    with tls_connect(srv, ctx=ctx) as s:
        assert get(s, "/x").status == 200
        return s.session


def resume(srv, ctx, sess, path="/x"):
    """(resumed?, the answer to path) of a connection offering sess."""
    with tls_connect(srv, ctx=ctx, session=sess) as s:
        resp = get(s, path, close=True)
        return s.session_reused, resp


def serial_seen(srv):
    """The serial number of the certificate a new connection gets."""
    with tls_connect(srv) as s:
        der = s.getpeercert(binary_form=True)
    p = subprocess.run(["openssl", "x509", "-inform", "DER", "-noout", "-serial"], input=der,
                       stdout=subprocess.PIPE, check=True)
    return p.stdout.decode().strip().split("=")[1].upper()


# ------------------------------------------------------------------ every action


def test_every_action_over_https():
    root = tempfile.mkdtemp(prefix="rs-tls-static-")
    big = os.urandom(1536 * 1024 + 123)     # beyond a slice: the file path, read and encrypted
    with open(os.path.join(root, "big.bin"), "wb") as f:
        f.write(big)
    with open(os.path.join(root, "small.txt"), "w") as f:
        f.write("small file\n")
    with Backend() as b:
        routes = ('ssr.respond("/x", 200, "hello\\n")\n'
                  'ssr.route("GET", "/old", { redirect = { to = "/new", status = 301 } })\n'
                  'ssr.static("/s/", { root = %s })\n'
                  'ssr.proxy("/api/", { upstream = "api", path = "/" })\n'
                  'ssr.route("GET", "/lua", { respond = function(req) return 200, "lua " .. req.path end })\n'
                  'ssr.route("GET", "/object", { render = { cache = false } })\n'
                  'ssr.route("GET", "/string", { render = true })\n' % lua_str(root))
        cfg = {"upstreams": "{ api = { servers = { %s } } }" % lua_str(b.addr),
               "render": "{ bundle = %s, threads = 1 }" % lua_str(os.path.join(TESTS, "js", "it_render.js"))}
        with tls_server(routes=routes, config=cfg) as srv:
            base = "https://a.test:%d" % srv.port
            p = curl(srv, base + "/x")
            assert p.returncode == 0 and p.stdout == b"hello\n", p
            p = curl(srv, "-o", "/dev/null", "-w", "%{http_code} %{redirect_url}", base + "/old")
            assert p.stdout.decode() == "301 %s/new" % base, p
            p = curl(srv, base + "/lua")         # a Lua hook (each loop's state ran the file, TLS and all)
            assert p.stdout == b"lua /lua", p
            p = curl(srv, base + "/s/small.txt")
            assert p.stdout == b"small file\n", p
            p = curl(srv, base + "/s/big.bin")
            assert p.returncode == 0, p.stderr
            assert hashlib.sha256(p.stdout).digest() == hashlib.sha256(big).digest(), len(p.stdout)
            # twice on one connection (keep-alive), then a range of it
            p = curl(srv, "-o", "/dev/null", "-o", "/dev/null", "-w", "%{size_download} %{num_connects}\n",
                     base + "/s/big.bin", base + "/s/big.bin")
            assert p.stdout.decode().split("\n")[:2] == ["%d 1" % len(big), "%d 0" % len(big)], p
            p = curl(srv, "-i", base + "/api/echo")
            assert p.returncode == 0 and b" 200 " in p.stdout.split(b"\r\n")[0], p
            assert b'"target": "/echo"' in p.stdout, p.stdout
            assert b'["X-Forwarded-Proto", "https"]' in p.stdout, p.stdout
            p = curl(srv, "-i", base + "/object")      # rendered, uncached
            assert p.stdout.startswith(b"HTTP/1.1 201") and p.stdout.endswith(b"<p>created</p>"), p
            for i in range(3):            # rendered, then stored hits (their bytes as stored)
                p = curl(srv, "-i", base + "/string")
                assert p.returncode == 0 and p.stdout.startswith(b"HTTP/1.1 200"), p
                assert p.stdout.endswith(b"<!doctype html><p>hello, string</p>\n"), p.stdout
            assert b"X-Cache: HIT" in p.stdout, p.stdout
            # streamed proxy answers (sized and chunked), beyond the streams' high mark
            for kind in ("big", "chunked"):
                p = curl(srv, base + "/api/%s?n=3000000" % kind)
                assert p.returncode == 0 and p.stdout == pattern(3000000), (kind, len(p.stdout), p.stderr)
            # a request body over TLS, proxied
            body = os.urandom(900 * 1024)   # under limits.body (1 MB)
            bp = os.path.join(root, "body.bin")
            with open(bp, "wb") as f:
                f.write(body)
            p = curl(srv, "-v", "-H", "Expect: 100-continue", "--data-binary", "@" + bp, base + "/api/sink")
            assert b"HTTP/1.1 100 Continue" in p.stderr, p.stderr[-2000:]
            assert p.returncode == 0 and hashlib.sha256(body).hexdigest().encode() in p.stdout, p.stdout[:300]
            m = srv.metrics()
            assert m['rustyssr_tls_handshakes_total{result="ok",version="TLSv1.3"}'] >= 8, m
            assert m['rustyssr_tls_alpn_total{protocol="http/1.1"}'] >= 8, m
            # the admin listener stays cleartext (srv.metrics() is plain HTTP)


def test_pipelined_requests_with_a_paused_parser():
    # limits.pipeline = 1: the parser pauses after each request and the
    # records already read wait in the engine until the answer is out.
    with tls_server(config={"limits": "{ pipeline = 1 }"}) as srv:
        with tls_connect(srv) as s:
            s.sendall(b"GET /x HTTP/1.1\r\nHost: a.test\r\n\r\n" * 20)
            r = Reader(s)
            for i in range(20):
                resp = r.read_response()
                assert resp.status == 200 and resp.body == b"hello\n", (i, resp)
            assert get(s, "/x", close=True).status == 200


def slow_read(s, request, pause=0.5):
    s.sendall(request)
    time.sleep(pause)                 # the socket fills; the server must wait, not spin or drop
    data = b""
    while True:
        chunk = s.recv(65536)
        if not chunk:
            break
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    assert b" 200 " in head.split(b"\r\n")[0], head
    return body


def test_slow_reader_gets_the_whole_body():
    # A file goes a slice at a time as the client reads, a proxied answer as
    # the streams' high mark allows: nothing is lost.
    root = tempfile.mkdtemp(prefix="rs-tls-static-")
    big = os.urandom(3 * 1024 * 1024)
    with open(os.path.join(root, "big.bin"), "wb") as f:
        f.write(big)
    with Backend() as b:
        routes = ('ssr.static("/s/", { root = %s })\n'
                  'ssr.proxy("/api/", { upstream = "api", path = "/" })\n' % lua_str(root))
        with tls_server(routes=routes, config={"upstreams": "{ api = { servers = { %s } } }" % lua_str(b.addr)}) \
                as srv:
            with tls_connect(srv) as s:
                body = slow_read(s, b"GET /s/big.bin HTTP/1.1\r\nHost: a.test\r\nConnection: close\r\n\r\n")
            assert body == big, len(body)
            with tls_connect(srv) as s:
                body = slow_read(s, b"GET /api/big?n=8000000 HTTP/1.1\r\nHost: a.test\r\nConnection: close\r\n\r\n",
                                 pause=1.0)
            assert body == pattern(8000000), len(body)


# ------------------------------------------------------------------ SNI, ALPN, versions


def test_sni_picks_the_certificate():
    tls = "{ certs = { { %s }, { %s }, { %s } } }" % (cert("a"), cert("b"), cert("w"))
    with tls_server(tls=tls) as srv:
        for name, cn in (("a.test", "a.test"), ("b.test", "b.test"), ("x.w.test", "w.test"),
                         ("B.TEST", "b.test"), ("unknown.test", "a.test"), ("y.x.w.test", "a.test")):
            out = s_client(srv, name=name)
            m = re.search(r"subject=.*?CN ?= ?([\w.*-]+)", out)
            assert m and m.group(1) == cn, (name, out[:2000])
        out = s_client(srv, "-noservername")        # no SNI: the first
        assert re.search(r"subject=.*CN ?= ?a\.test", out), out[:2000]
        # verified by a real client, name and chain
        for name in ("a.test", "b.test", "z.w.test"):
            with tls_connect(srv, name=name) as s:
                assert get(s, "/x", host=name, close=True).status == 200


def test_alpn():
    with tls_server(http2=True) as srv:
        with tls_connect(srv, ctx=client_ctx(alpn=["h2", "http/1.1"])) as s:
            assert s.selected_alpn_protocol() == "h2"
        with tls_connect(srv, ctx=client_ctx(alpn=["http/1.1"])) as s:
            assert s.selected_alpn_protocol() == "http/1.1"
            assert get(s, "/x", close=True).status == 200
        out = s_client(srv, "-alpn", "h2,http/1.1", name="a.test")
        assert "ALPN protocol: h2" in out, out
        m = srv.metrics()
        assert m['rustyssr_tls_alpn_total{protocol="h2"}'] == 2, m
        assert m['rustyssr_tls_alpn_total{protocol="http/1.1"}'] == 1, m
    with tls_server() as srv:            # no http2: h2 is never chosen
        with tls_connect(srv, ctx=client_ctx(alpn=["h2", "http/1.1"])) as s:
            assert s.selected_alpn_protocol() == "http/1.1"
        with tls_connect(srv, ctx=client_ctx(alpn=["h2"])) as s:   # nothing in common: no ALPN
            assert s.selected_alpn_protocol() is None
            assert get(s, "/x", close=True).status == 200
        with tls_connect(srv) as s:
            assert get(s, "/x", close=True).status == 200
        m = srv.metrics()
        assert m['rustyssr_tls_alpn_total{protocol="none"}'] == 2, m


def test_tls12_and_tls13():
    with tls_server() as srv:
        for v, name in ((ssl.TLSVersion.TLSv1_2, "TLSv1.2"), (ssl.TLSVersion.TLSv1_3, "TLSv1.3")):
            with tls_connect(srv, ctx=client_ctx(maxv=v, minv=v)) as s:
                assert s.version() == name
                assert get(s, "/x", close=True).body == b"hello\n"
        m = srv.metrics()
        assert m['rustyssr_tls_handshakes_total{result="ok",version="TLSv1.2"}'] == 1, m
        assert m['rustyssr_tls_handshakes_total{result="ok",version="TLSv1.3"}'] == 1, m
        # TLS 1.1 is never offered
        try:
            tls_connect(srv, ctx=client_ctx(maxv=ssl.TLSVersion.TLSv1_1, minv=ssl.TLSVersion.TLSv1)).close()
            raise AssertionError("TLS 1.1 accepted")
        except ssl.SSLError:
            pass
    with tls_server(tls='{ %s, protocols = { "TLSv1.3" } }' % cert("a")) as srv:
        try:
            tls_connect(srv, ctx=client_ctx(maxv=ssl.TLSVersion.TLSv1_2)).close()
            raise AssertionError("TLS 1.2 accepted with protocols = { \"TLSv1.3\" }")
        except ssl.SSLError as e:
            assert "VERSION" in str(e).upper() or "ALERT" in str(e).upper(), e
        wait_for("the failure counted",
                 lambda: metric(srv, 'rustyssr_tls_handshakes_total{result="failed",version="none"}') == 1)
        wait_log(srv, "TLS handshake failed: unsupported protocol", timeout=5 * SLOW)
        with tls_connect(srv) as s:
            assert s.version() == "TLSv1.3"
    with tls_server(tls='{ %s, protocols = { "TLSv1.2" } }' % cert("a")) as srv:
        with tls_connect(srv) as s:
            assert s.version() == "TLSv1.2"


def test_session_resumption():
    with tls_server() as srv:
        # TLS 1.3 tickets
        ctx = client_ctx()
        with tls_connect(srv, ctx=ctx) as s:
            assert get(s, "/x").status == 200    # the ticket has arrived after the handshake
            sess = s.session
        with tls_connect(srv, ctx=ctx, session=sess) as s:
            assert s.session_reused
            assert get(s, "/x", close=True).status == 200
            sess2 = s.session
        # A resumed TLS 1.3 connection gets a new ticket (clients use a
        # TLS 1.3 ticket once, RFC 8446 C.4: OpenSSL's drop it after use),
        # so a client that resumed resumes again; without it every other
        # connection of wrk or a browser was a full handshake.
        assert sess2.id != sess.id, "no new ticket after a resumption"
        with tls_connect(srv, ctx=ctx, session=sess2) as s:
            assert s.session_reused
            assert get(s, "/x", close=True).status == 200
        # TLS 1.2: tickets, then the session cache (no tickets)
        for tickets in (True, False):
            ctx = client_ctx(maxv=ssl.TLSVersion.TLSv1_2, tickets=tickets)
            with tls_connect(srv, ctx=ctx) as s:
                assert get(s, "/x").status == 200
                sess = s.session
            with tls_connect(srv, ctx=ctx, session=sess) as s:
                assert s.session_reused, "tickets" if tickets else "session cache"
                assert get(s, "/x", close=True).status == 200
        assert metric(srv, "rustyssr_tls_resumed_total") == 4
        # openssl s_client -sess_out / -sess_in
        sf = os.path.join(srv.dir, "sess.pem")
        out = s_client(srv, "-sess_out", sf, "-ign_eof", name="a.test",
                       data=b"GET /x HTTP/1.1\r\nHost: a.test\r\nConnection: close\r\n\r\n")
        assert "hello" in out and os.path.exists(sf), out
        out = s_client(srv, "-sess_in", sf, name="a.test")
        assert "Reused, TLSv1.3" in out, out
        assert metric(srv, "rustyssr_tls_resumed_total") == 5
    with tls_server(tls="{ %s, session_cache = false }" % cert("a")) as srv:   # tickets only
        ctx = client_ctx(maxv=ssl.TLSVersion.TLSv1_2, tickets=False)
        with tls_connect(srv, ctx=ctx) as s:
            assert get(s, "/x").status == 200
            sess = s.session
        with tls_connect(srv, ctx=ctx, session=sess) as s:
            assert not s.session_reused


def test_session_tickets_off():
    # session_tickets = false (nginx's ssl_session_tickets off): TLS 1.2 gets
    # no ticket and resumes from the session cache by id, TLS 1.3 by a ticket
    # that names a cached session; with the cache off too nothing resumes.
    def resumed(srv, ctx, ticket_expected=None):
        sess = ticket(srv, ctx)
        if ticket_expected is not None:
            assert sess.has_ticket == ticket_expected
        reused, resp = resume(srv, ctx, sess)
        assert resp.status == 200
        return reused
    tls12 = lambda: client_ctx(maxv=ssl.TLSVersion.TLSv1_2)   # noqa: E731
    with tls_server(tls="{ %s, session_tickets = false }" % cert("a")) as srv:
        assert resumed(srv, tls12(), ticket_expected=False), "TLS 1.2 from the session cache"
        assert resumed(srv, client_ctx()), "TLS 1.3 from the session cache"
    with tls_server(tls="{ %s, session_tickets = false, session_cache = false }" % cert("a")) as srv:
        assert not resumed(srv, tls12(), ticket_expected=False)
        assert not resumed(srv, client_ctx())
        assert metric(srv, "rustyssr_tls_resumed_total") == 0


def test_ticket_keys_rotate():
    # ticket_rotate = 3: a ticket resumes while its key is the current or the
    # previous one (3 s at least: room for a loaded machine), and not after
    # two rotations (the main thread's timer).
    with tls_server(tls="{ %s, ticket_rotate = 3 }" % cert("a")) as srv:
        ctx = client_ctx()
        with tls_connect(srv, ctx=ctx) as s:
            assert get(s, "/x").status == 200
            sess = s.session
        with tls_connect(srv, ctx=ctx, session=sess) as s:
            assert s.session_reused           # at most one rotation since: still decrypted
            get(s, "/x", close=True)

        def refused():
            with tls_connect(srv, ctx=ctx, session=sess) as s:
                reused = s.session_reused
                get(s, "/x", close=True)
            return not reused
        wait_for("the old ticket key to be forgotten", refused, timeout=20)


def test_closes_send_close_notify():
    # A TLS connection ends with close_notify (an EOF without it would raise
    # SSLEOFError here): after Connection: close, at the keep-alive timeout,
    # and when SIGTERM drains idle connections.
    with tls_server(config={"timeouts": "{ keepalive_ms = 300 }"}) as srv:
        with tls_connect(srv, ragged=False) as s:
            assert get(s, "/x", close=True).status == 200
            assert s.recv(100) == b""
        with tls_connect(srv, ragged=False) as s:
            assert get(s, "/x").status == 200
            assert s.recv(100) == b""            # the keep-alive timeout
    srv = tls_server()
    srv.start()
    try:
        s = tls_connect(srv, ragged=False)
        assert get(s, "/x").status == 200
        srv.signal(signal.SIGTERM)
        assert s.recv(100) == b""
        s.close()
        assert srv.proc.wait(30 * SLOW) == 0, srv.log()
    finally:
        srv.stop()
        srv.logf.close()


def test_access_log_tls_variables():
    port2 = free_port()
    d = tempfile.mkdtemp(prefix="rs-tls-log-")
    log = os.path.join(d, "access.log")
    fmt = "$scheme $https $ssl_protocol $ssl_cipher $ssl_server_name $ssl_session_reused $uri"
    routes = ('ssr.respond("/x", 200, "hello\\n")\n'
              'ssr.route("GET", "/p", { server = "plain", respond = { status = 200, body = "plain\\n" } })\n')
    with tls_server(routes=routes, config={"servers": '{ plain = "127.0.0.1:%d" }' % port2,
                                           "log": "{ access = %s, access_format = %s }" % (lua_str(log),
                                                                                          lua_str(fmt))}) as srv:
        ctx = client_ctx(maxv=ssl.TLSVersion.TLSv1_2)
        with tls_connect(srv, ctx=ctx, name="a.test") as s:
            assert get(s, "/x").status == 200
            sess = s.session
        with tls_connect(srv, ctx=ctx, session=sess) as s:
            assert get(s, "/x", close=True).status == 200
        assert srv.get("/p", port=port2).status == 200
        lines = wait_for("three access-log lines",
                         lambda: os.path.exists(log) and len(open(log).read().splitlines()) >= 3 and
                         open(log).read().splitlines())
        lines.sort()                    # each loop buffers its own lines
        assert lines[0] == "http - - - - - /p", lines
        assert re.fullmatch(r"https on TLSv1\.2 ECDHE-ECDSA-AES\d+-GCM-SHA\d+ a\.test \. /x", lines[1]), lines
        assert re.fullmatch(r"https on TLSv1\.2 ECDHE-ECDSA-AES\d+-GCM-SHA\d+ a\.test r /x", lines[2]), lines


# ------------------------------------------------------------------ hostile clients


def test_stalled_handshake_is_closed():
    with tls_server(tls="{ %s, handshake_timeout_ms = 400 }" % cert("a")) as srv:
        t0 = time.time()
        with socket.create_connection(("127.0.0.1", srv.port), timeout=10 * SLOW) as s:
            s.sendall(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03")   # a ClientHello's first bytes, then silence
            assert s.recv(100) == b""
        took = time.time() - t0
        assert took < 5 * SLOW, took
        wait_for("the timeout counted",
                 lambda: metric(srv, 'rustyssr_tls_handshakes_total{result="timeout",version="none"}') == 1)
        wait_log(srv, "TLS handshake not done within 400 ms", timeout=5 * SLOW)
        # a connection that trickles bytes is closed all the same (the deadline is fixed at accept)
        with socket.create_connection(("127.0.0.1", srv.port), timeout=10 * SLOW) as s:
            t0 = time.time()
            closed = False
            for b in b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + bytes(40):
                try:
                    s.sendall(bytes([b]))
                except OSError:
                    closed = True
                    break
                time.sleep(0.05)
                if time.time() - t0 > 1.5:
                    break
            s.settimeout(5 * SLOW)
            try:
                closed = closed or s.recv(100) == b""
            except ConnectionResetError:
                closed = True
            assert closed
        with tls_connect(srv) as s:
            assert get(s, "/x", close=True).status == 200


def test_garbage_instead_of_a_client_hello():
    with tls_server() as srv:
        # plain HTTP on the TLS port: nginx's cleartext 400, then the close
        with socket.create_connection(("127.0.0.1", srv.port), timeout=10 * SLOW) as s:
            s.sendall(b"GET /x HTTP/1.1\r\nHost: a.test\r\n\r\n")
            resp = Reader(s).read_response()
            assert resp.status == 400 and b"The plain HTTP request was sent to HTTPS port" in resp.body, resp
            assert resp.header("connection") == "close", resp
            assert Reader(s).closed()
        p = subprocess.run(["curl", "-sS", "http://127.0.0.1:%d/x" % srv.port], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=30 * SLOW)
        assert b"plain HTTP request was sent to HTTPS port" in p.stdout, p
        wait_log(srv, "TLS handshake failed: a plain HTTP request on a TLS port (400)", timeout=5 * SLOW)
        for junk in (b"\x80\x01garbage" + os.urandom(3000), os.urandom(3000), b"\x16\x03\x01\x00\x05hello"):
            with socket.create_connection(("127.0.0.1", srv.port), timeout=10 * SLOW) as s:
                s.sendall(junk)
                s.settimeout(10 * SLOW)
                try:
                    while s.recv(4096):
                        pass                        # an alert, then the close
                except ConnectionResetError:
                    pass
        wait_for("five failures counted",
                 lambda: metric(srv, 'rustyssr_tls_handshakes_total{result="failed",version="none"}') == 5)
        assert re.search(r"\[info\].*client 127\.0\.0\.1:\d+: TLS handshake failed: \w", srv.log()), srv.log()
        with tls_connect(srv) as s:               # alive, and serving
            assert get(s, "/x", close=True).status == 200


def test_expired_certificate_is_served_and_refused_by_clients():
    with tls_server(tls="{ %s }" % cert("old")) as srv:
        p = curl(srv, "https://old.test:%d/x" % srv.port, name="old.test")
        assert p.returncode != 0 and b"expired" in p.stderr, p
        p = curl(srv, "-k", "https://old.test:%d/x" % srv.port, name="old.test")
        assert p.stdout == b"hello\n", p


def test_ocsp_stapling():
    tls = "{ certs = { { %s }, { %s } } }" % (cert("a", ocsp=True), cert("b"))
    with tls_server(tls=tls) as srv:
        out = s_client(srv, "-status", name="a.test")
        assert "OCSP Response Status: successful" in out, out
        assert "Cert Status: good" in out, out
        out = s_client(srv, "-status", name="b.test")
        assert "OCSP response: no response sent" in out, out


# ------------------------------------------------------------------ reload


def test_certificate_reload_under_load():
    for n in ("live.pem", "live.key"):
        sh("cp", pki("a" + n[4:]), pki(n))
    tls = "{ cert = %s, key = %s }" % (lua_str(pki("live.pem")), lua_str(pki("live.key")))
    with tls_server(tls=tls) as srv:
        serial_a, serial_a2 = serial_of(pki("a.pem")), serial_of(pki("a2.pem"))
        assert serial_seen(srv) == serial_a
        # load: keep-alive connections asking all along
        stop = threading.Event()
        results = {"ok": 0, "bad": []}

        def worker():
            try:
                with tls_connect(srv) as s:
                    r = Reader(s)
                    while not stop.is_set():
                        s.sendall(b"GET /x HTTP/1.1\r\nHost: a.test\r\n\r\n")
                        resp = r.read_response()
                        if resp.status != 200:
                            results["bad"].append(resp)
                        results["ok"] += 1
            except Exception as e:         # noqa: BLE001
                results["bad"].append(repr(e))

        threads = [threading.Thread(target=worker) for _ in range(3)]
        for t in threads:
            t.start()
        wait_for("requests flowing", lambda: results["ok"] > 30)
        for n in ("live.pem", "live.key"):
            sh("cp", pki("a2" + n[4:]), pki(n + ".tmp"))
            os.replace(pki(n + ".tmp"), pki(n))
        before = srv.log().count(": reloaded ")
        srv.signal(signal.SIGHUP)
        wait_for("the reload", lambda: srv.log().count(": reloaded ") > before)
        wait_for("the new certificate", lambda: serial_seen(srv) == serial_a2)
        ok0 = results["ok"]
        wait_for("more requests on the old connections", lambda: results["ok"] > ok0 + 30)
        # a bad certificate: the old configuration stays, with file:line
        with open(pki("live.pem"), "w") as f:
            f.write("-----BEGIN CERTIFICATE-----\nbroken\n-----END CERTIFICATE-----\n")
        bad0 = srv.log().count("reload failed, keeping the current configuration")
        srv.signal(signal.SIGHUP)
        wait_for("the failed reload",
                 lambda: srv.log().count("reload failed, keeping the current configuration") > bad0)
        assert re.search(r"reload failed, keeping the current configuration: %s:\d+: ssr.config: 'listen.tls': "
                         r".*live\.pem: cannot load the certificate" % re.escape(srv.config_path), srv.log()), \
            srv.log()
        assert serial_seen(srv) == serial_a2
        stop.set()
        for t in threads:
            t.join(30)
        assert not results["bad"], results["bad"][:3]


def reload(srv, what):
    n = srv.log().count(": reloaded ")
    srv.signal(signal.SIGHUP)
    wait_for(what, lambda: srv.log().count(": reloaded ") > n)


def test_tickets_resume_across_reloads():
    # A reload keeps each TLS listener's ticket keys: a ticket given before
    # SIGHUP resumes after it, under the new configuration (a new route
    # answers on the resumed connection), TLS 1.3 and 1.2 alike; and after a
    # reload that brings a new certificate too (a ticket stands for the
    # session the client verified, not for the certificate: README "TLS").
    for ext in (".pem", ".key"):
        sh("cp", pki("a" + ext), pki("tk" + ext))
    tls = "{ cert = %s, key = %s }" % (lua_str(pki("tk.pem")), lua_str(pki("tk.key")))
    with tls_server(tls=tls) as srv:
        ctx13, ctx12 = client_ctx(), client_ctx(maxv=ssl.TLSVersion.TLSv1_2)
        # TLS 1.3 tickets are for one use each: one per resumption below
        t13 = [ticket(srv, ctx13) for _ in range(2)]
        t12 = ticket(srv, ctx12)
        with open(srv.config_path, "a") as f:
            f.write('ssr.respond("/new", 200, "new\\n")\n')
        reload(srv, "the reload with a new route")
        reused, resp = resume(srv, ctx13, t13[0], "/new")
        assert resp.status == 200 and resp.body == b"new\n", resp
        assert reused, "a TLS 1.3 ticket from before the reload did not resume"
        reused, resp = resume(srv, ctx12, t12, "/new")
        assert reused and resp.status == 200, "a TLS 1.2 ticket from before the reload did not resume"
        # a new certificate: new handshakes get it, the ticket still resumes
        for ext in (".pem", ".key"):
            sh("cp", pki("a2" + ext), pki("tk" + ext + ".tmp"))
            os.replace(pki("tk" + ext + ".tmp"), pki("tk" + ext))
        reload(srv, "the reload with a new certificate")
        assert serial_seen(srv) == serial_of(pki("a2.pem"))
        reused, resp = resume(srv, ctx13, t13[1], "/new")
        assert reused and resp.status == 200, "a ticket from before the certificate changed did not resume"
        assert metric(srv, "rustyssr_tls_resumed_total") == 3


def test_ticket_rotation_keeps_its_phase_across_reloads():
    # The rotation's clock goes with the keys: reloads every second or so
    # (shorter than ticket_rotate) do not hold the keys back, so a ticket
    # still stops resuming after two rotations.
    with tls_server(tls="{ %s, ticket_rotate = 4 }" % cert("a")) as srv:
        ctx = client_ctx()
        sess = ticket(srv, ctx)

        def refused():
            reload(srv, "a reload")
            reused, _ = resume(srv, ctx, sess)
            if not reused:
                return True
            time.sleep(0.5)
            return False
        wait_for("the old ticket key to be forgotten despite the reloads", refused, timeout=40)


# ------------------------------------------------------------------ config


def check(tls, want, extra=""):
    d = tempfile.mkdtemp(prefix="rs-tls-cfg-")
    path = os.path.join(d, "bad.lua")
    with open(path, "w") as f:
        f.write('local ssr = require "rustyssr"\n\nssr.config { listen = %s%s }\n' % (tls, extra))
    code, out = run_config_check(path)
    assert code == 1, out
    assert re.search(re.escape(path + ":3: ") + ".*" + want, out), (want, out)


def test_config_errors():
    a = cert("a")
    check('{ "127.0.0.1:1", tls = { cert = "nope.pem", key = "nope.key" } }',
          r"ssr.config: 'listen.tls.cert' .*nope\.pem: No such file or directory")
    check('{ "127.0.0.1:1", tls = { cert = %s, key = %s } }' % (lua_str(pki("a.pem")), lua_str(pki("b.key"))),
          r"ssr.config: 'listen.tls': .*b\.key does not match .*a\.pem")
    check('{ "127.0.0.1:1", tls = { cert = %s, key = %s } }' % (lua_str(pki("a.key")), lua_str(pki("a.key"))),
          r"'listen.tls': .*a\.key: cannot load the certificate")
    check('{ "127.0.0.1:1", tls = { %s, protocols = { "TLSv1.1" } } }' % a,
          r"'listen.tls.protocols' entry 1 must be \"TLSv1.2\" or \"TLSv1.3\"")
    check('{ "127.0.0.1:1", tls = { %s, protocol = { "TLSv1.3" } } }' % a,
          r"unknown key 'protocol' in ssr.config listen.tls \(did you mean 'protocols'\?\)")
    check('{ "127.0.0.1:1", tls = { %s }, http2 = "yes" }' % a, r"'listen.http2' must be a boolean")
    check('{ "127.0.0.1:1", tls = { %s, session_tickets = "off" } }' % a,
          r"'listen.tls.session_tickets' must be a boolean, got")
    check('{ "127.0.0.1:1", tls = { %s }, htp2 = true }' % a, r"unknown key 'htp2' in ssr.config listen")
    check('{ tls = { %s } }' % a, r"'listen' table needs its address first")
    check('{ "127.0.0.1:1", tls = { %s, certs = { { %s } } } }' % (a, a), r"give cert/key/ocsp or certs, not both")
    check('{ "127.0.0.1:1", tls = { key = "x" } }', r"'listen.tls.cert' is required")
    check('{ "127.0.0.1:1", tls = { %s, ciphers = "NOPE-NOTHING" } }' % a, r"'listen.tls': ciphers")
    check('{ "127.0.0.1:1", tls = { %s, ocsp = %s } }' % (a, lua_str(pki("a.pem"))),
          r"'listen.tls': .*a\.pem: not a DER OCSP response")
    check('{ "127.0.0.1:1", tls = { %s, handshake_timeout_ms = 0 } }' % a,
          r"'listen.tls.handshake_timeout_ms' must be")
    check('{ "127.0.0.1:1", tls = "a.pem" }', r"'listen.tls' must be a table")
    check('"127.0.0.1:1", servers = { b = { listen = { "127.0.0.1:2", tls = { cert = "x.pem" } } } }',
          r"'servers.b.listen.tls.cert' .*x\.pem: No such file")
    # relative paths: from the config file's folder
    d = tempfile.mkdtemp(prefix="rs-tls-rel-")
    for n in ("a.pem", "a.key"):
        sh("cp", pki(n), os.path.join(d, n))
    path = os.path.join(d, "ok.lua")
    with open(path, "w") as f:
        f.write('local ssr = require "rustyssr"\nssr.config { listen = { "127.0.0.1:1", http2 = true, '
                'tls = { cert = "a.pem", key = "a.key", ticket_rotate = 60 } } }\n')
    code, out = run_config_check(path)
    assert code == 0, out


def test_dump_and_servers_listener():
    port2 = free_port()
    tls2 = '{ certs = { { %s }, { %s } }, protocols = { "TLSv1.3" }, session_timeout = 600, session_cache = 0, ' \
           'session_tickets = false, ticket_rotate = 120, handshake_timeout_ms = 3000, ciphers = "ECDHE-ECDSA-AES128-GCM-SHA256" }' % (
               cert("b"), cert("a", ocsp=True))
    routes = ('ssr.respond("/x", 200, "hello\\n")\n'
              'ssr.route("GET", "/y", { server = "other", respond = { status = 200, body = "other\\n" } })\n')
    srv = tls_server(routes=routes, http2=True,
                     config={"servers": "{ other = { listen = %s } }" % tls_listen(port2, tls2)})
    with srv:
        p = subprocess.run([rslib_bin(), "-T", "-c", srv.config_path], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        out = p.stdout.decode()
        assert p.returncode == 0, p.stderr
        for want in ('listen = { "127.0.0.1:%d", http2 = true, tls = { certs = { { cert = %s, key = %s }, }, '
                     'protocols = { "TLSv1.2", "TLSv1.3", }, session_timeout = 3600, session_cache = 20480, '
                     'session_tickets = true, ticket_rotate = 3600, handshake_timeout_ms = 10000 } },'
                     % (srv.port, lua_str(pki("a.pem")), lua_str(pki("a.key"))),
                     '["other"] = { listen = { "127.0.0.1:%d", tls = { certs = { { cert = %s, key = %s }, '
                     '{ cert = %s, key = %s, ocsp = %s }, }, protocols = { "TLSv1.3", }, ciphers = '
                     '"ECDHE-ECDSA-AES128-GCM-SHA256", session_timeout = 600, session_cache = 0, '
                     'session_tickets = false, ticket_rotate = 120, handshake_timeout_ms = 3000 } } },'
                     % (port2, lua_str(pki("b.pem")), lua_str(pki("b.key")), lua_str(pki("a.pem")),
                        lua_str(pki("a.key")), lua_str(pki("a.ocsp.der")))):
            assert want in out, "missing %r in:\n%s" % (want, out)
        again = os.path.join(srv.dir, "dumped.lua")
        with open(again, "w") as f:
            f.write(out)
        p2 = subprocess.run([rslib_bin(), "-T", "-c", again], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        strip = lambda t: [re.sub(r"\s*--.*$", "", ln) for ln in t.splitlines()]   # noqa: E731
        assert strip(out) == strip(p2.stdout.decode()), p2.stderr
        # the second listener: its own certificates and routes, TLS 1.3 only
        srv2 = type("S", (), {"port": port2})
        with tls_connect(srv2, name="b.test") as s:
            assert s.version() == "TLSv1.3"
            assert get(s, "/y", host="b.test", close=True).body == b"other\n"
        out = s_client(srv2, "-status", name="a.test")
        assert "OCSP Response Status: successful" in out, out
        assert "ready: serving https://127.0.0.1:%d/" % srv.port in srv.log(), srv.log()
        assert "server other: serving https://127.0.0.1:%d/" % port2 in srv.log(), srv.log()


def rslib_bin():
    import rslib
    return rslib.BIN


if __name__ == "__main__":
    main([test_every_action_over_https, test_pipelined_requests_with_a_paused_parser,
          test_slow_reader_gets_the_whole_body, test_sni_picks_the_certificate, test_alpn, test_tls12_and_tls13,
          test_session_resumption, test_session_tickets_off, test_ticket_keys_rotate, test_closes_send_close_notify, test_access_log_tls_variables,
          test_stalled_handshake_is_closed, test_garbage_instead_of_a_client_hello,
          test_expired_certificate_is_served_and_refused_by_clients, test_ocsp_stapling,
          test_certificate_reload_under_load, test_tickets_resume_across_reloads,
          test_ticket_rotation_keeps_its_phase_across_reloads, test_config_errors, test_dump_and_servers_listener])
