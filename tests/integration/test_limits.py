"""Request limits of the HTTP/1.1 front end (core/http/): url, header
bytes, header count, body (Content-Length and chunked), malformed requests,
versions, Host, Expect and pipelining.

Every refusal is checked four ways: the status, the connection closing after
it, a line in the error log naming the kind ("414 url_too_long"), and the
counter rustyssr_request_errors_total{kind=...,status=...} going up by one."""

import os
import select
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from rslib import SLOW, Reader, Server, eq, err_key, main, wait_log  # noqa: E402

ROUTES = r'''
ssr.route("GET", "/hello", { respond = { status = 200, body = "hi\n" } })
ssr.route({"GET","POST"}, "/echo", { respond = { status = 200, body = "ok" } })
ssr.route("GET", "/u*", { respond = { status = 200, body = "u" } })
for i = 0, 9 do
  ssr.route("GET", "/p" .. i, { respond = { status = 200, body = "p" .. i } })
end
'''

# Small limits so that every one is cheap to cross.
LIMITS = '{ url = 100, header_bytes = "1KB", headers = 10, body = "64KB", pipeline = 4 }'


def server(**kw):
    cfg = {"limits": LIMITS}
    cfg.update(kw.pop("config", {}))
    return Server(config=cfg, routes=kw.pop("routes", ROUTES), **kw)


def check_refused(srv, sock, rd, status, kind, before):
    """The response on rd is `status`, says close, the connection closes, the
    log names the kind and its counter went up by one."""
    r = rd.read_response()
    eq(r.status, status, "status (%r)" % r)
    eq((r.header("connection") or "").lower(), "close", "Connection header")
    assert rd.closed(), "connection still open after %d" % status
    wait_log(srv, "%d %s" % (status, kind))
    after = srv.metrics()[err_key(kind, status)]
    eq(after, before + 1, "rustyssr_request_errors_total{kind=%s}" % kind)
    return r


def refused(srv, raw, status, kind):
    before = srv.metrics()[err_key(kind, status)]
    with srv.connect() as s:
        s.sendall(raw)
        return check_refused(srv, s, Reader(s), status, kind, before)


def ok(srv, raw, body=None, status=200):
    with srv.connect() as s:
        s.sendall(raw)
        r = Reader(s).read_response()
    eq(r.status, status, "status (%r)" % r)
    if body is not None:
        eq(r.body, body, "body")
    return r


def send_slowly(sock, data, step):
    for i in range(0, len(data), step):
        sock.sendall(data[i:i + step])
        time.sleep(0.001)


# ------------------------------------------------------------------ url

def test_url_at_limit_accepted():
    with server() as srv:
        path = "/u" + "x" * 98                      # exactly 100 bytes
        ok(srv, ("GET %s HTTP/1.1\r\nHost: a\r\n\r\n" % path).encode(), b"u")


def test_url_too_long_414():
    with server() as srv:
        path = "/u" + "x" * 99                      # 101 bytes
        refused(srv, ("GET %s HTTP/1.1\r\nHost: a\r\n\r\n" % path).encode(), 414, "url_too_long")


def test_url_too_long_split_across_reads_414():
    """The limit counts the whole target, not each piece llhttp hands over."""
    with server() as srv:
        before = srv.metrics()[err_key("url_too_long", 414)]
        with srv.connect() as s:
            s.sendall(b"GET /u")
            for _ in range(12):
                s.sendall(b"x" * 10)
                time.sleep(0.01)
            s.sendall(b" HTTP/1.1\r\nHost: a\r\n\r\n")
            check_refused(srv, s, Reader(s), 414, "url_too_long", before)


# ------------------------------------------------------------------ headers

def test_header_bytes_within_limit_accepted():
    with server() as srv:
        ok(srv, b"GET /hello HTTP/1.1\r\nHost: a\r\nX-Big: " + b"v" * 700 + b"\r\n\r\n", b"hi\n")


def test_header_bytes_431():
    with server() as srv:
        refused(srv, b"GET /hello HTTP/1.1\r\nHost: a\r\nX-Big: " + b"v" * 1100 + b"\r\n\r\n",
                431, "headers_too_large")


def test_header_bytes_many_small_lines_431():
    """Under the count limit but over the byte limit, sent in small pieces."""
    with server(config={"limits": '{ header_bytes = "1KB", headers = 100 }'}) as srv:
        raw = b"GET /hello HTTP/1.1\r\nHost: a\r\n" + \
            b"".join(b"X-H%02d: %s\r\n" % (i, b"v" * 40) for i in range(30)) + b"\r\n"
        before = srv.metrics()[err_key("headers_too_large", 431)]
        with srv.connect() as s:
            send_slowly(s, raw, 37)
            check_refused(srv, s, Reader(s), 431, "headers_too_large", before)


def test_header_count_at_limit_accepted():
    with server() as srv:                          # Host + 9 = 10 headers
        raw = b"GET /hello HTTP/1.1\r\nHost: a\r\n" + \
            b"".join(b"X-H%d: v\r\n" % i for i in range(9)) + b"\r\n"
        ok(srv, raw, b"hi\n")


def test_too_many_headers_431():
    with server() as srv:                          # Host + 10 = 11 headers
        raw = b"GET /hello HTTP/1.1\r\nHost: a\r\n" + \
            b"".join(b"X-H%d: v\r\n" % i for i in range(10)) + b"\r\n"
        refused(srv, raw, 431, "too_many_headers")


def test_empty_header_values_accepted():
    """Empty values ("X-Empty:", "X-Empty2: ") are valid (RFC 9110 §5.5),
    before Host and as the last header; not mistaken for an obs-fold."""
    with server() as srv:
        ok(srv, b"GET /hello HTTP/1.1\r\nX-Empty:\r\nX-Empty2: \r\nHost: a\r\n\r\n", b"hi\n")
        ok(srv, b"GET /hello HTTP/1.1\r\nHost: a\r\nX-Empty:\r\n\r\n", b"hi\n")


# ------------------------------------------------------------------ body

def test_body_content_length_413_while_client_sends():
    """Content-Length over limits.body: 413 at the end of the headers, while
    the client is still sending; the server lingers (reads and drops) so the
    answer is not lost to a reset."""
    with server() as srv:
        before = srv.metrics()[err_key("body_too_large", 413)]
        with srv.connect() as s:
            s.sendall(b"POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 10000000\r\n\r\n")
            # Keep sending body bytes; the answer must arrive meanwhile.
            s.setblocking(False)
            got = b""
            sent = 0
            deadline = time.time() + 5 * SLOW
            chunk = b"b" * 16384
            while b"\r\n\r\n" not in got and time.time() < deadline:
                r, w, _ = select.select([s], [s] if sent < 1000000 else [], [], 0.05)
                if w:
                    try:
                        sent += s.send(chunk)
                    except BlockingIOError:
                        pass
                if r:
                    data = s.recv(65536)
                    if not data:
                        break
                    got += data
            assert b"\r\n\r\n" in got, "no answer while sending the body (sent %d): %r" % (sent, got)
            assert sent > 0
            s.setblocking(True)
            rd = Reader(s)
            rd.buf = got
            check_refused(srv, s, rd, 413, "body_too_large", before)


def test_body_content_length_413_expect_continue_no_100():
    """Expect: 100-continue with a body over the limit: 413 straight away,
    no "100 Continue" first (the client must not send the body)."""
    with server() as srv:
        before = srv.metrics()[err_key("body_too_large", 413)]
        with srv.connect() as s:
            s.sendall(b"POST /echo HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\n"
                      b"Content-Length: 70000\r\n\r\n")
            r = check_refused(srv, s, Reader(s), 413, "body_too_large", before)
            assert not r.raw_head.startswith(b"HTTP/1.1 100"), r.raw_head


def test_body_chunked_413():
    with server() as srv:
        before = srv.metrics()[err_key("body_too_large", 413)]
        with srv.connect() as s:
            s.sendall(b"POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n")
            chunk = b"4000\r\n" + b"c" * 0x4000 + b"\r\n"   # 16 KB chunks
            try:
                for _ in range(6):                          # 96 KB > 64 KB
                    s.sendall(chunk)
                    time.sleep(0.005)
            except (BrokenPipeError, ConnectionResetError):
                pass
            check_refused(srv, s, Reader(s), 413, "body_too_large", before)


def test_body_within_limit_content_length_small_sends():
    with server() as srv:
        body = bytes(range(256)) * 200                      # 51200 bytes
        with srv.connect() as s:
            s.sendall(b"POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: %d\r\n\r\n" % len(body))
            send_slowly(s, body, 997)
            r = Reader(s).read_response()
            eq(r.status, 200, "status")
            eq(r.body, b"ok", "body")
            eq(r.header("connection"), None, "Connection header (keep-alive)")
            # Still usable: a second request on the same connection.
            s.sendall(b"GET /hello HTTP/1.1\r\nHost: a\r\n\r\n")
            eq(Reader(s).read_response().body, b"hi\n", "second response")


def test_body_within_limit_chunked_small_sends():
    with server() as srv:
        raw = b"POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
        for i in range(50):
            n = 500 + i * 17
            raw += b"%x;ext=1\r\n" % n + bytes([65 + i % 26]) * n + b"\r\n"
        raw += b"0\r\nX-Trailer: t\r\n\r\n"
        with srv.connect() as s:
            send_slowly(s, raw, 613)
            r = Reader(s).read_response()
            eq(r.status, 200, "status")
            eq(r.body, b"ok", "body")
            s.sendall(b"GET /hello HTTP/1.1\r\nHost: a\r\n\r\n")
            eq(Reader(s).read_response().body, b"hi\n", "second response")


def test_chunked_trailers_accepted():
    """Trailer fields after a chunked body are accepted (and dropped); with
    the access log on, which looks headers up, and headers past the inline
    arena (so an append during the trailer would move it)."""
    access = os.path.join(tempfile.mkdtemp(prefix="rs-test-"), "access.log")
    log_cfg = '{ access = "%s" }' % access
    with server(config={"log": log_cfg}) as srv:
        big = b"X-Pad: " + b"p" * 900 + b"\r\n"
        for trailer in (b"X-Traile10: t\r\nReferer: r\r\n", b"User-Agent: " + b"u" * 500 + b"\r\n"):
            with srv.connect() as s:
                s.sendall(b"POST /echo HTTP/1.1\r\nHost: a\r\n" + big + b"Transfer-Encoding: chunked\r\n\r\n"
                          b"3\r\nabc\r\n0\r\n" + trailer + b"\r\n")
                rd = Reader(s)
                r = rd.read_response()
                eq(r.status, 200, "status (%r)" % r)
                s.sendall(b"GET /hello HTTP/1.1\r\nHost: a\r\n\r\n")
                eq(rd.read_response().body, b"hi\n", "next request on the connection")
        eq(srv.get("/hello").status, 200, "server still serving")


def test_chunked_trailers_count_against_body_limit_413():
    with server() as srv:
        before = srv.metrics()[err_key("body_too_large", 413)]
        with srv.connect() as s:
            s.sendall(b"POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
                      b"3\r\nabc\r\n0\r\n")
            try:
                for i in range(80):                 # 80 x 1 KB of trailer > 64 KB
                    s.sendall(b"X-T%d: " % i + b"t" * 1000 + b"\r\n")
            except (BrokenPipeError, ConnectionResetError):
                pass
            check_refused(srv, s, Reader(s), 413, "body_too_large", before)


# ------------------------------------------------------------------ malformed

def test_malformed_request_line_400():
    with server() as srv:
        refused(srv, b"GET\r\n\r\n", 400, "bad_request")
        refused(srv, b"GET hello HTTP/1.1\r\nHost: a\r\n\r\n", 400, "bad_request")
        refused(srv, b"GET /hello FTP/1.1\r\nHost: a\r\n\r\n", 400, "bad_request")


def test_malformed_version_400_not_505():
    """A request line whose version is not even well-formed is a malformed
    request line (RFC 9112 §3: 400); 505 is for a well-formed version we do
    not speak (HTTP/2.0, HTTP/3.1)."""
    with server() as srv:
        for raw in (b"GET /hello HTTP/1.1 extra\r\nHost: a\r\n\r\n",
                    b"GET /hello HTTP/11\r\nHost: a\r\n\r\n",
                    b"GET /hello HTTP/1.x\r\nHost: a\r\n\r\n",
                    b"GET /hello HTTP/x.1\r\nHost: a\r\n\r\n"):
            refused(srv, raw, 400, "bad_request")


def test_http09_request_line_refused():
    """"GET /path" with no version (HTTP/0.9): refused with a close, as 505
    (a version we do not speak) or 400 — both sensible; nothing else."""
    with server() as srv:
        m0 = srv.metrics()
        with srv.connect() as s:
            s.sendall(b"GET /hello\r\n\r\n")
            rd = Reader(s)
            r = rd.read_response()
            assert r.status in (400, 505), r
            assert rd.closed()
        kind = "unsupported_version" if r.status == 505 else "bad_request"
        m1 = srv.metrics()
        eq(m1[err_key(kind, r.status)], m0[err_key(kind, r.status)] + 1, kind)
        wait_log(srv, "%d %s" % (r.status, kind))


def test_garbage_400():
    with server() as srv:
        refused(srv, b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03garbage\r\n\r\n", 400, "invalid_character")
        refused(srv, b"BREW /pot HTTP/1.1\r\nHost: a\r\n\r\n", 400, "bad_request")


def test_http2_version_505():
    with server() as srv:
        r = refused(srv, b"GET /hello HTTP/2.0\r\nHost: a\r\n\r\n", 505, "unsupported_version")
        eq(r.reason, "HTTP Version Not Supported", "reason")


def test_http31_version_505():
    with server() as srv:
        refused(srv, b"GET /hello HTTP/3.1\r\nHost: a\r\n\r\n", 505, "unsupported_version")


def test_http10_without_host_accepted():
    with server() as srv:
        r = ok(srv, b"GET /hello HTTP/1.0\r\n\r\n", b"hi\n")
        eq((r.header("connection") or "").lower(), "close", "1.0 without keep-alive closes")


def test_missing_host_400():
    with server() as srv:
        refused(srv, b"GET /hello HTTP/1.1\r\nUser-Agent: t\r\n\r\n", 400, "invalid_host")


def test_two_hosts_400():
    with server() as srv:
        refused(srv, b"GET /hello HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400, "invalid_host")


# ------------------------------------------------------------------ Expect

def test_expect_other_417():
    with server() as srv:
        refused(srv, b"POST /echo HTTP/1.1\r\nHost: a\r\nExpect: something-else\r\n"
                     b"Content-Length: 2\r\n\r\nhi", 417, "expectation_failed")


def test_expect_100_continue():
    with server() as srv:
        with srv.connect() as s:
            s.sendall(b"POST /echo HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\n"
                      b"Content-Length: 5\r\n\r\n")
            rd = Reader(s)
            r = rd.read_response()      # before any body byte is sent
            eq(r.status, 100, "interim status (%r)" % r)
            eq(r.raw_head, b"HTTP/1.1 100 Continue\r\n\r\n", "interim head")
            s.sendall(b"hello")
            r = rd.read_response()
            eq(r.status, 200, "final status")
            eq(r.body, b"ok", "body")


# ------------------------------------------------------------------ pipelining

def test_pipeline_100_in_order():
    """limits.pipeline = 4; 100 requests in one send are all answered, in
    order, on one connection."""
    with server() as srv:
        raw = b"".join(b"GET /p%d HTTP/1.1\r\nHost: a\r\n\r\n" % (i % 10) for i in range(100))
        with srv.connect() as s:
            s.sendall(raw)
            rd = Reader(s)
            for i in range(100):
                r = rd.read_response()
                eq(r.status, 200, "status of #%d" % i)
                eq(r.body, b"p%d" % (i % 10), "body of #%d" % i)
            # The connection is still usable afterwards.
            s.sendall(b"GET /hello HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
            eq(rd.read_response().body, b"hi\n", "after the pipeline")
            assert rd.closed(), "not closed after Connection: close"


def test_pipeline_split_everywhere():
    """The same pipeline, sent in odd-sized pieces that cut requests
    anywhere, with a POST body among them."""
    with server() as srv:
        reqs = []
        for i in range(40):
            if i % 7 == 3:
                reqs.append(b"POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nabcde")
            else:
                reqs.append(b"GET /p%d HTTP/1.1\r\nHost: a\r\n\r\n" % (i % 10))
        raw = b"".join(reqs)
        with srv.connect() as s:
            send_slowly(s, raw, 29)
            rd = Reader(s)
            for i in range(40):
                r = rd.read_response()
                want = b"ok" if i % 7 == 3 else b"p%d" % (i % 10)
                eq(r.body, want, "body of #%d" % i)


def test_pipeline_then_error_answers_earlier_first():
    """Good requests, then a bad one, then a good one, in one send: the good
    ones are answered in order, then the 400, then the connection closes —
    the request after the error is never answered."""
    with server() as srv:
        before = srv.metrics()[err_key("invalid_host", 400)]
        raw = b"GET /p1 HTTP/1.1\r\nHost: a\r\n\r\n" \
              b"GET /p2 HTTP/1.1\r\nHost: a\r\n\r\n" \
              b"GET /p3 HTTP/1.1\r\n\r\n" \
              b"GET /p4 HTTP/1.1\r\nHost: a\r\n\r\n"
        with srv.connect() as s:
            s.sendall(raw)
            rd = Reader(s)
            eq(rd.read_response().body, b"p1", "#1")
            eq(rd.read_response().body, b"p2", "#2")
            check_refused(srv, s, rd, 400, "invalid_host", before)


if __name__ == "__main__":
    main([
        test_url_at_limit_accepted,
        test_url_too_long_414,
        test_url_too_long_split_across_reads_414,
        test_header_bytes_within_limit_accepted,
        test_header_bytes_431,
        test_header_bytes_many_small_lines_431,
        test_header_count_at_limit_accepted,
        test_too_many_headers_431,
        test_empty_header_values_accepted,
        test_body_content_length_413_while_client_sends,
        test_body_content_length_413_expect_continue_no_100,
        test_body_chunked_413,
        test_body_within_limit_content_length_small_sends,
        test_body_within_limit_chunked_small_sends,
        test_chunked_trailers_accepted,
        test_chunked_trailers_count_against_body_limit_413,
        test_malformed_request_line_400,
        test_malformed_version_400_not_505,
        test_http09_request_line_refused,
        test_garbage_400,
        test_http2_version_505,
        test_http31_version_505,
        test_http10_without_host_accepted,
        test_missing_host_400,
        test_two_hosts_400,
        test_expect_other_417,
        test_expect_100_continue,
        test_pipeline_100_in_order,
        test_pipeline_split_everywhere,
        test_pipeline_then_error_answers_earlier_first,
    ])
