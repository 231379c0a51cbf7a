"""SIGTERM/SIGINT: stop accepting, finish what is in flight (a request
whose bytes have begun to arrive, a response being written), close idle
keep-alive connections, exit 0; the drain deadline bounds it all."""

import signal
import socket
import time

from rslib import SLOW, Reader, Server, main

ROUTES = r'''
ssr.route("GET", "/hello", { respond = { status = 200, body = "hello\n" } })
ssr.route("GET", "/big", { respond = { status = 200, body = string.rep("0123456789abcdef", 512 * 1024) } })
'''
BIG = 16 * 512 * 1024


def refused(port):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return False
    except OSError:
        return True


def test_drain_finishes_partial_request_and_closes_idle():
    for sig in (signal.SIGTERM, signal.SIGINT):
        srv = Server(routes=ROUTES, config={"timeouts": "{ shutdown_ms = 10000 }"}).start()
        busy = srv.connect()
        busy.sendall(b"GET /hello HTTP/1.1\r\nHost: x\r\n")      # in flight: headers not finished
        idle = srv.connect()
        idle.sendall(b"GET /hello HTTP/1.1\r\nHost: x\r\n\r\n")  # answered, then idle keep-alive
        rd_idle = Reader(idle)
        assert rd_idle.read_response().status == 200
        time.sleep(0.1)
        srv.signal(sig)
        assert rd_idle.closed(timeout=3), "idle keep-alive connection not closed on drain"
        deadline = time.time() + 3 * SLOW
        while not refused(srv.port) and time.time() < deadline:
            time.sleep(0.05)
        assert refused(srv.port), "still accepting after the signal"
        assert srv.proc.poll() is None, "exited with a request in flight"
        busy.sendall(b"\r\n")
        rd = Reader(busy)
        r = rd.read_response()
        assert r.status == 200 and r.body == b"hello\n", r
        assert r.header("connection") == "close", r
        assert rd.closed()
        busy.close()
        idle.close()
        assert srv.proc.wait(10 * SLOW) == 0, srv.log()
        assert "graceful shutdown" in srv.log()


def test_drain_finishes_big_response_to_slow_reader():
    srv = Server(routes=ROUTES, config={"timeouts": "{ shutdown_ms = 20000 }"}).start()
    s = socket.socket()
    # A small receive buffer, set before connect (a window shrunk later
    # stalls Linux TCP in retransmission back-off, which is not our test).
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8192)
    s.settimeout(10 * SLOW)
    s.connect(("127.0.0.1", srv.port))
    s.sendall(b"GET /big HTTP/1.1\r\nHost: x\r\n\r\n")
    rd = Reader(s)
    head = rd.read_until(b"\r\n\r\n")
    assert b"Content-Length: %d" % BIG in head, head
    got = len(rd.buf)
    srv.signal(signal.SIGTERM)  # mid-response: most of the body is still ours to send
    slow_until = time.time() + 0.5
    while got < BIG:
        chunk = s.recv(4096 if time.time() < slow_until else 65536)
        assert chunk, "connection cut after %d of %d bytes" % (got, BIG)
        got += len(chunk)
        if time.time() < slow_until:
            time.sleep(0.005)
    assert got == BIG, got
    assert srv.proc.wait(10 * SLOW) == 0, srv.log()
    assert "passed, closing" not in srv.log(), srv.log()
    s.close()


def test_drain_deadline_forces_exit():
    srv = Server(routes=ROUTES, config={"timeouts": "{ shutdown_ms = 500, header_ms = 60000 }"}).start()
    s = srv.connect()
    s.sendall(b"GET /hello HTTP/1.1\r\n")  # never finished
    time.sleep(0.1)
    t0 = time.time()
    srv.signal(signal.SIGTERM)
    assert srv.proc.wait(10 * SLOW) == 0, srv.log()
    took = time.time() - t0
    assert 0.4 <= took < 0.5 + 2 * SLOW, took
    assert "passed, closing" in srv.log(), srv.log()
    s.close()


if __name__ == "__main__":
    main([test_drain_finishes_partial_request_and_closes_idle, test_drain_finishes_big_response_to_slow_reader,
          test_drain_deadline_forces_exit])
