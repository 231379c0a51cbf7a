"""HTTP/1.1 basics over real sockets: keep-alive, pipelining, HEAD, bodies,
Expect: 100-continue, Connection: close, HTTP/1.0, Date, 404, metrics."""

import os
import re
import socket
import tempfile
import time

from rslib import Reader, Server, main

ROUTES = r'''
ssr.route("GET", "/hello", { respond = { status = 200, headers = { ["X-Test"] = "yes" }, body = "hello world\n" } })
ssr.route({"GET", "POST", "PUT"}, "/echo", { respond = { status = 201, body = "made" } })
ssr.route("GET", "/empty", { respond = { status = 204 } })
ssr.route("GET", "/old", { redirect = "/new" })
ssr.route("GET", "/moved/*", { redirect = { to = "https://example.com/there", status = 308, keep_query = true } })
for i = 0, 9 do
  ssr.route("GET", "/p" .. i, { respond = { status = 200, body = "p" .. i } })
end
'''


def server(**kw):
    return Server(routes=ROUTES, **kw)


def test_get_and_headers():
    with server() as srv:
        r = srv.get("/hello")
        assert r.status == 200, r
        assert r.body == b"hello world\n", r
        assert r.header("content-length") == "12"
        assert r.header("x-test") == "yes"
        assert r.header("content-type") == "text/plain; charset=utf-8"
        assert r.header("server") == "rustyssr"
        assert r.header("date").endswith(" GMT"), r.header("date")
        assert r.header("connection") == "close"


def test_not_found():
    with server() as srv:
        r = srv.get("/nope")
        assert r.status == 404, r
        assert b"404 Not Found" in r.body


def test_keep_alive_many_requests_one_connection():
    with server() as srv:
        with srv.connect() as s:
            rd = Reader(s)
            for i in range(50):
                s.sendall(b"GET /p%d HTTP/1.1\r\nHost: x\r\n\r\n" % (i % 10))
                r = rd.read_response()
                assert r.status == 200 and r.body == b"p%d" % (i % 10), r
                assert r.header("connection") is None, r
        m = srv.metrics()
        assert m["rustyssr_connections_total"] == 1, m  # the scrape itself is on the admin port


def test_pipelining_100_in_order():
    with server() as srv:
        with srv.connect() as s:
            s.sendall(b"".join(b"GET /p%d HTTP/1.1\r\nHost: x\r\n\r\n" % (i % 10) for i in range(100)))
            rd = Reader(s)
            for i in range(100):
                r = rd.read_response()
                assert r.status == 200 and r.body == b"p%d" % (i % 10), (i, r)


def test_pipelining_split_across_writes():
    with server() as srv:
        data = b"".join(b"GET /p%d HTTP/1.1\r\nHost: x\r\n\r\n" % (i % 10) for i in range(30))
        with srv.connect() as s:
            for i in range(0, len(data), 7):  # requests cut at arbitrary bytes
                s.sendall(data[i:i + 7])
            rd = Reader(s)
            for i in range(30):
                r = rd.read_response()
                assert r.body == b"p%d" % (i % 10), (i, r)


def test_head_has_length_but_no_body():
    with server() as srv:
        with srv.connect() as s:
            s.sendall(b"HEAD /hello HTTP/1.1\r\nHost: x\r\n\r\nGET /p1 HTTP/1.1\r\nHost: x\r\n\r\n")
            rd = Reader(s)
            r = rd.read_response(head_request=True)
            assert r.status == 200 and r.header("content-length") == "12", r
            r2 = rd.read_response()  # the next response must start right after the head
            assert r2.body == b"p1", r2


def test_content_length_body():
    with server() as srv:
        with srv.connect() as s:
            s.sendall(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 11\r\n\r\nhello")
            time.sleep(0.05)
            s.sendall(b" world")
            s.sendall(b"GET /p2 HTTP/1.1\r\nHost: x\r\n\r\n")
            rd = Reader(s)
            r = rd.read_response()
            assert r.status == 201 and r.body == b"made", r
            assert rd.read_response().body == b"p2"


def test_chunked_body():
    with server() as srv:
        with srv.connect() as s:
            s.sendall(b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                      b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"
                      b"GET /p3 HTTP/1.1\r\nHost: x\r\n\r\n")
            rd = Reader(s)
            assert rd.read_response().status == 201
            assert rd.read_response().body == b"p3"


def test_expect_100_continue():
    with server() as srv:
        with srv.connect() as s:
            s.sendall(b"PUT /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n")
            rd = Reader(s)
            r = rd.read_response()
            assert r.status == 100, r
            s.sendall(b"data")
            r = rd.read_response()
            assert r.status == 201, r


def test_connection_close_closes():
    with server() as srv:
        with srv.connect() as s:
            s.sendall(b"GET /p4 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
                      b"GET /p5 HTTP/1.1\r\nHost: x\r\n\r\n")
            rd = Reader(s)
            r = rd.read_response()
            assert r.body == b"p4" and r.header("connection") == "close", r
            assert rd.closed(), "connection left open after Connection: close"


def test_http10():
    with server() as srv:
        with srv.connect() as s:  # 1.0 without keep-alive: answer then close
            s.sendall(b"GET /p6 HTTP/1.0\r\n\r\n")
            rd = Reader(s)
            r = rd.read_response()
            assert r.status == 200 and r.body == b"p6", r
            assert rd.closed()
        with srv.connect() as s:  # 1.0 with keep-alive: stays open
            rd = Reader(s)
            for _ in range(3):
                s.sendall(b"GET /p7 HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
                r = rd.read_response()
                assert r.body == b"p7" and r.header("connection") == "keep-alive", r


def test_204_has_no_length_or_body():
    with server() as srv:
        with srv.connect() as s:
            s.sendall(b"GET /empty HTTP/1.1\r\nHost: x\r\n\r\nGET /p8 HTTP/1.1\r\nHost: x\r\n\r\n")
            rd = Reader(s)
            r = rd.read_response()
            assert r.status == 204 and r.header("content-length") is None, r
            assert rd.read_response().body == b"p8"


def test_half_closed_client_still_answered():
    with server() as srv:
        with srv.connect() as s:
            s.sendall(b"GET /p9 HTTP/1.1\r\nHost: x\r\n\r\n")
            s.shutdown(socket.SHUT_WR)
            rd = Reader(s)
            assert rd.read_response().body == b"p9"
            assert rd.closed()


def test_absolute_form_target():
    with server() as srv:
        r = srv.request(b"GET http://example.com/p1 HTTP/1.1\r\nHost: example.com\r\nConnection: close\r\n\r\n")
        assert r.status == 200 and r.body == b"p1", r


def test_many_connections_both_loops():
    with server(workers=2) as srv:
        socks = [srv.connect() for _ in range(64)]
        for s in socks:
            s.sendall(b"GET /hello HTTP/1.1\r\nHost: x\r\n\r\n")
        for s in socks:
            assert Reader(s).read_response().status == 200
            s.close()
        m = srv.metrics()
        assert m['rustyssr_requests_total{class="2xx"}'] >= 64, m
        assert m["rustyssr_received_bytes_total"] > 0 and m["rustyssr_sent_bytes_total"] > 0, m
        deadline = time.time() + 5
        while time.time() < deadline and srv.metrics()["rustyssr_connections_open"] != 0:
            time.sleep(0.05)
        assert srv.metrics()["rustyssr_connections_open"] == 0


def test_redirects():
    with server() as srv:
        r = srv.get("/old?x=1")
        assert r.status == 301 and r.header("location") == "/new", r
        assert b"301 Moved Permanently" in r.body
        r = srv.get("/moved/a?x=1&y=2")
        assert r.status == 308 and r.header("location") == "https://example.com/there?x=1&y=2", r
        r = srv.get("/moved/a")
        assert r.header("location") == "https://example.com/there", r


def test_access_log_lines():
    """nginx's "combined" format byte for byte (client IP without its port,
    values escaped as nginx does), "timed" adds the request time; the admin
    listener's requests only with log.access_admin."""
    v = r'((?:[^"\\]|\\x[0-9A-F]{2})*)'   # a value: no raw quote or backslash
    combined = re.compile(r'^(\S+) - - \[(\d\d/[A-Z][a-z]{2}/\d{4}:\d\d:\d\d:\d\d \+0000)\] '
                          r'"%s" (\d{3}) (\d+) "%s" "%s"$' % (v, v, v))
    for fmt, admin in (("combined", False), ("timed", True)):
        path = os.path.join(tempfile.mkdtemp(prefix="rs-access-"), "access.log")
        cfg = '{ access = "%s", level = "info", access_format = "%s", access_admin = %s }' % (
            path, fmt, "true" if admin else "false")
        with server(config={"log": cfg}) as srv:
            with srv.connect() as s:
                s.sendall(b"GET /hello?x=1 HTTP/1.1\r\nHost: x\r\nUser-Agent: tester/1\r\n"
                          b"Referer: http://r.example/a\r\nConnection: close\r\n\r\n")
                Reader(s).read_response()
            with srv.connect() as s:     # quotes and bytes a parser must not see raw
                s.sendall(b'GET /hello?q=\xc3\xa9 HTTP/1.1\r\nHost: x\r\nUser-Agent: a" "b\\c\r\n'
                          b"Connection: close\r\n\r\n")
                Reader(s).read_response()
            assert srv.get("/metrics", port=srv.admin_port).status == 200
        with open(path, "rb") as f:
            lines = f.read().decode("ascii").splitlines()
        assert len(lines) == (3 if admin else 2), lines
        for line in lines:
            body = line.rsplit(" ", 1)[0] if fmt == "timed" else line
            m = combined.match(body)
            assert m, (fmt, line)
            assert m.group(1) == "127.0.0.1", line
            if fmt == "timed":
                assert re.match(r"^\d+\.\d{3}$", line.rsplit(" ", 1)[1]), line
        # Each loop writes its own buffer: the lines' order across loops is not fixed.
        first = [l for l in lines if "?x=1" in l][0]
        assert combined.match(first if fmt == "combined" else first.rsplit(" ", 1)[0]).group(3, 4, 5, 6, 7) == \
            ("GET /hello?x=1 HTTP/1.1", "200", "12", "http://r.example/a", "tester/1"), first
        second = [l for l in lines if "?q=" in l][0]
        assert '"GET /hello?q=\\xC3\\xA9 HTTP/1.1"' in second, second
        assert '"-" "a\\x22 \\x22b\\x5Cc"' in second, second
        assert any('"GET /metrics HTTP/1.1" 200' in l for l in lines) == admin, lines


if __name__ == "__main__":
    main([test_get_and_headers, test_not_found, test_keep_alive_many_requests_one_connection,
          test_pipelining_100_in_order, test_pipelining_split_across_writes, test_head_has_length_but_no_body,
          test_content_length_body, test_chunked_body, test_expect_100_continue, test_connection_close_closes,
          test_http10, test_204_has_no_length_or_body, test_half_closed_client_still_answered,
          test_absolute_form_target, test_many_connections_both_loops, test_redirects, test_access_log_lines])
