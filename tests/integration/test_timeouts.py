"""Timeouts of the HTTP/1.1 front end (core/http/): the header deadline
(slowloris), keep-alive idle, the body timeout between reads, and the write
timeout for a client that stops reading.

Timeouts under test are small (about a second) and never stretched; only
the margins we allow grow with SLOW (sanitizer builds)."""

import os
import select
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from rslib import SLOW, Reader, Server, eq, err_key, main, wait_log  # noqa: E402

ROUTES = r'''
ssr.route("GET", "/hello", { respond = { status = 200, body = "hi\n" } })
ssr.route({"GET","POST"}, "/echo", { respond = { status = 200, body = "ok" } })
ssr.route("GET", "/big", { respond = { status = 200, body = string.rep("0123456789abcdef", 512 * 1024) } })
'''
BIG = 8 * 1024 * 1024


def check_elapsed(elapsed, ms, what):
    lo = ms / 1000.0 - 0.1
    hi = ms / 1000.0 * SLOW + 1.5
    assert lo <= elapsed < hi, "%s after %.3fs, expected within [%.2f, %.2f)" % (what, elapsed, lo, hi)


def trickle_until_answer(sock, data, gap, limit):
    """Send data one byte every `gap` seconds until the server answers or
    closes. Returns (bytes received, seconds since the first byte)."""
    t0 = None
    i = 0
    while True:
        if i < len(data):
            try:
                sock.send(data[i:i + 1])
            except (BrokenPipeError, ConnectionResetError):
                pass
            if t0 is None:
                t0 = time.time()
            i += 1
        r, _, _ = select.select([sock], [], [], gap)
        if r:
            break
        if time.time() - t0 > limit:
            raise AssertionError("no answer after %.1fs (%d bytes sent)" % (time.time() - t0, i))
    return time.time() - t0


def conns_open(srv):
    return srv.metrics()["rustyssr_connections_open"]


def wait_conns_open(srv, n, timeout):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if conns_open(srv) == n:
            return True
        time.sleep(0.02)
    return conns_open(srv) == n


# ------------------------------------------------------------------ headers

def test_slowloris_408():
    """One header byte every 200 ms: 408 once header_ms has passed since the
    first byte, however steadily bytes arrive; then close."""
    with Server(config={"timeouts": "{ header_ms = 1000 }"}, routes=ROUTES) as srv:
        before = srv.metrics()[err_key("header_timeout", 408)]
        with srv.connect() as s:
            req = b"GET /hello HTTP/1.1\r\nHost: a\r\n" + b"X-Slow: " + b"z" * 100 + b"\r\n\r\n"
            elapsed = trickle_until_answer(s, req, 0.2, 5 * SLOW)
            rd = Reader(s)
            r = rd.read_response()
            eq(r.status, 408, "status (%r)" % r)
            eq((r.header("connection") or "").lower(), "close", "Connection header")
            check_elapsed(elapsed, 1000, "408")
            assert rd.closed(), "not closed after the 408"
        wait_log(srv, "408 header_timeout")
        eq(srv.metrics()[err_key("header_timeout", 408)], before + 1, "header_timeout counter")


def test_slowloris_second_request_on_keepalive_408():
    """The deadline applies to each request, also a later one on a
    kept-alive connection."""
    with Server(config={"timeouts": "{ header_ms = 1000, keepalive_ms = 5000 }"}, routes=ROUTES) as srv:
        with srv.connect() as s:
            s.sendall(b"GET /hello HTTP/1.1\r\nHost: a\r\n\r\n")
            rd = Reader(s)
            eq(rd.read_response().body, b"hi\n", "first answer")
            elapsed = trickle_until_answer(s, b"GET /hello HTTP/1.1\r\nHost: a\r\n" + b"X: " + b"y" * 100, 0.2,
                                           5 * SLOW)
            r = rd.read_response()
            eq(r.status, 408, "status")
            check_elapsed(elapsed, 1000, "408")
            assert rd.closed()


def test_headers_in_time_not_cut():
    """Headers that complete just inside header_ms are served."""
    with Server(config={"timeouts": "{ header_ms = 2500 }"}, routes=ROUTES) as srv:
        with srv.connect() as s:
            for piece in (b"GET /hel", b"lo HTTP/1.1\r\n", b"Host: a\r\n", b"\r\n"):
                s.sendall(piece)
                time.sleep(0.25)
            eq(Reader(s).read_response().status, 200, "status")


# ------------------------------------------------------------------ keep-alive

def test_keepalive_idle_closed_quietly():
    with Server(config={"timeouts": "{ keepalive_ms = 1000 }"}, routes=ROUTES) as srv:
        with srv.connect() as s:
            s.sendall(b"GET /hello HTTP/1.1\r\nHost: a\r\n\r\n")
            rd = Reader(s)
            eq(rd.read_response().body, b"hi\n", "answer")
            t0 = time.time()
            s.settimeout(5 * SLOW)
            data = s.recv(65536)
            eq(data, b"", "bytes on an idle keep-alive connection")
            check_elapsed(time.time() - t0, 1000, "keep-alive close")


def test_silent_new_connection_gets_header_timeout():
    """A connection that never sends a byte is held header_ms, not
    keepalive_ms (nginx's client_header_timeout), and closed quietly."""
    with Server(config={"timeouts": "{ header_ms = 1000, keepalive_ms = 60000 }"}, routes=ROUTES) as srv:
        with srv.connect() as s:
            t0 = time.time()
            s.settimeout(10 * SLOW)
            data = s.recv(65536)
            eq(data, b"", "bytes on a silent new connection")
            check_elapsed(time.time() - t0, 1000, "silent connection close")


def test_keepalive_reused_before_timeout():
    """A request every 0.6 s with keepalive_ms = 1500: the connection stays
    (longer in all than keepalive_ms: the clock restarts per request)."""
    with Server(config={"timeouts": "{ keepalive_ms = 1500 }"}, routes=ROUTES) as srv:
        with srv.connect() as s:
            rd = Reader(s)
            for _ in range(4):
                s.sendall(b"GET /hello HTTP/1.1\r\nHost: a\r\n\r\n")
                eq(rd.read_response().body, b"hi\n", "answer")
                time.sleep(0.6)
            s.sendall(b"GET /hello HTTP/1.1\r\nHost: a\r\n\r\n")
            eq(rd.read_response().body, b"hi\n", "last answer")


def test_connection_that_never_sends_closed_quietly():
    with Server(config={"timeouts": "{ header_ms = 1000, keepalive_ms = 1000 }"}, routes=ROUTES) as srv:
        with srv.connect() as s:
            t0 = time.time()
            s.settimeout(5 * SLOW)
            eq(s.recv(65536), b"", "bytes on a silent connection")
            check_elapsed(time.time() - t0, 1000, "close")
        assert wait_conns_open(srv, 0, 2 * SLOW)


# ------------------------------------------------------------------ body

def test_body_timeout_408():
    with Server(config={"timeouts": "{ body_ms = 1000 }"}, routes=ROUTES) as srv:
        before = srv.metrics()[err_key("body_timeout", 408)]
        with srv.connect() as s:
            s.sendall(b"POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\nabc")
            t0 = time.time()
            rd = Reader(s)
            r = rd.read_response()
            check_elapsed(time.time() - t0, 1000, "408")
            eq(r.status, 408, "status (%r)" % r)
            eq((r.header("connection") or "").lower(), "close", "Connection header")
            assert rd.closed(), "not closed after the 408"
        wait_log(srv, "408 body_timeout")
        eq(srv.metrics()[err_key("body_timeout", 408)], before + 1, "body_timeout counter")


def test_chunked_body_timeout_408():
    with Server(config={"timeouts": "{ body_ms = 1000 }"}, routes=ROUTES) as srv:
        with srv.connect() as s:
            s.sendall(b"POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab")
            t0 = time.time()
            rd = Reader(s)
            r = rd.read_response()
            check_elapsed(time.time() - t0, 1000, "408")
            eq(r.status, 408, "status")
            assert rd.closed()
        wait_log(srv, "408 body_timeout")


def test_slow_body_within_body_ms_not_cut():
    """Body bytes every 300 ms with body_ms = 1500, 2.7 s in all (longer than
    body_ms and header_ms): the timeout is between reads, not for the whole
    body, and the header deadline ends with the headers."""
    with Server(config={"timeouts": "{ body_ms = 1500, header_ms = 1000 }"}, routes=ROUTES) as srv:
        with srv.connect() as s:
            s.sendall(b"POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 9\r\n\r\n")
            for b in b"abcdefghi":
                time.sleep(0.3)
                s.sendall(bytes([b]))
            r = Reader(s).read_response()
            eq(r.status, 200, "status (%r)" % r)
            eq(r.body, b"ok", "body")


# ------------------------------------------------------------------ write

def small_rcvbuf_socket(srv):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.settimeout(10 * SLOW)
    s.connect(("127.0.0.1", srv.port))
    return s


def test_write_timeout_client_never_reads():
    """An 8 MB answer to a client that never reads: the connection is
    closed write_ms after the write stalls (rustyssr_connections_open back
    to 0), and the log says why."""
    with Server(config={"timeouts": "{ write_ms = 1000 }"}, routes=ROUTES) as srv:
        s = small_rcvbuf_socket(srv)
        try:
            s.sendall(b"GET /big HTTP/1.1\r\nHost: a\r\n\r\n")
            t0 = time.time()
            time.sleep(0.3)
            eq(conns_open(srv), 1, "connections open while the write is stuck")
            assert wait_conns_open(srv, 0, 1.0 * SLOW + 1.5), "connection still open: %s" % conns_open(srv)
            check_elapsed(time.time() - t0, 1000, "close")
            wait_log(srv, "timed out writing")
        finally:
            s.close()


def test_write_timeout_not_reset_by_client_bytes():
    """A client that never reads but trickles request bytes: the bytes it
    sends must not keep the stuck write alive past write_ms."""
    with Server(config={"timeouts": "{ write_ms = 1000, header_ms = 10000 }"}, routes=ROUTES) as srv:
        s = small_rcvbuf_socket(srv)
        try:
            s.sendall(b"GET /big HTTP/1.1\r\nHost: a\r\n\r\n")
            t0 = time.time()
            time.sleep(0.1)
            closed_at = None
            for b in b"GET /hello HTTP/1.1\r\nX-Slow: " + b"s" * 20:
                try:
                    s.send(bytes([b]))
                except OSError:
                    pass
                time.sleep(0.25)
                if conns_open(srv) == 0:
                    closed_at = time.time() - t0
                    break
            assert closed_at is not None, "connection still open after %.1fs" % (time.time() - t0)
            check_elapsed(closed_at, 1000, "close")
        finally:
            s.close()


def test_write_slow_reader_making_progress_not_cut():
    """A client that reads the 8 MB answer steadily but slowly (about 2.5 s
    in all, more than write_ms = 1000) gets all of it: write_ms is for a
    write making no progress, not for the whole response."""
    with Server(config={"timeouts": "{ write_ms = 1000 }"}, routes=ROUTES) as srv:
        s = small_rcvbuf_socket(srv)
        try:
            s.sendall(b"GET /big HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
            got = 0
            t0 = time.time()
            rate = BIG / 2.5                        # bytes per second
            while True:
                try:
                    chunk = s.recv(65536)
                except ConnectionResetError:
                    raise AssertionError("reset after %d bytes, %.2fs" % (got, time.time() - t0))
                if not chunk:
                    break
                got += len(chunk)
                ahead = got / rate - (time.time() - t0)
                if ahead > 0:
                    time.sleep(ahead)
            assert got > BIG, "connection closed after %d of %d+ bytes (%.2fs)" % (got, BIG, time.time() - t0)
            assert time.time() - t0 > 1.5, "the read was not slow enough to test anything"
        finally:
            s.close()


if __name__ == "__main__":
    main([
        test_slowloris_408,
        test_slowloris_second_request_on_keepalive_408,
        test_headers_in_time_not_cut,
        test_keepalive_idle_closed_quietly, test_silent_new_connection_gets_header_timeout,
        test_keepalive_reused_before_timeout,
        test_connection_that_never_sends_closed_quietly,
        test_body_timeout_408,
        test_chunked_body_timeout_408,
        test_slow_body_within_body_ms_not_cut,
        test_write_timeout_client_never_reads,
        test_write_timeout_not_reset_by_client_bytes,
        test_write_slow_reader_making_progress_not_cut,
    ])
