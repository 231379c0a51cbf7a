"""Out of file descriptors (EMFILE): the gateway started under a low
RLIMIT_NOFILE and flooded with more connections than it may hold stops
accepting for a moment on each loop (nginx's 500 ms pause) instead of
spinning on accept(2): the log is not flooded, the connections it holds are
still served, and once the clients leave a fresh request is answered again.
At start it raises its soft limit to the hard one and logs the limit."""

import resource
import socket
import subprocess
import time

from rslib import SLOW, Reader, Server, main, parse_metrics

ROUTES = r'''
ssr.route("GET", "/hello", { respond = { status = 200, body = "hello\n" } })
'''
LIMIT = 256


class LimitedServer(Server):
    """The binary under RLIMIT_NOFILE = (soft, hard)."""

    def __init__(self, soft, hard, **kw):
        super().__init__(**kw)
        self.nofile = (soft, hard)

    def start(self, wait=True):
        self.logf = open(self.log_path, "wb")
        nofile = self.nofile
        self.proc = subprocess.Popen([BIN_(), "-c", self.config_path], stdout=self.logf,
                                     stderr=subprocess.STDOUT,
                                     preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_NOFILE, nofile))
        if wait:
            self.wait_ready()
        return self


def BIN_():
    import rslib
    return rslib.BIN


def get_once(port, timeout):
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    try:
        s.sendall(b"GET /hello HTTP/1.1\r\nHost: x\r\n\r\n")
        return Reader(s).read_response()
    finally:
        s.close()


def raise_own_limit(n):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < n:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(n, hard), hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def test_soft_limit_raised_to_hard_and_logged():
    srv = LimitedServer(200, 300, routes=ROUTES).start()
    try:
        assert "open files limit: 300 (raised from 200" in srv.log(), srv.log()
        with open("/proc/%d/limits" % srv.proc.pid) as f:
            line = [l for l in f if l.startswith("Max open files")][0]
        assert line.split()[3] == "300", line
    finally:
        assert srv.stop() == 0


def test_emfile_storm_pauses_accepting_and_recovers():
    want = 650
    have = raise_own_limit(want + 64)
    assert have >= want + 32, "the test needs %d descriptors, has %d" % (want + 32, have)
    srv = LimitedServer(LIMIT, LIMIT, routes=ROUTES, workers=2).start()
    held = []
    try:
        # One keep-alive connection served before the storm: it must still be
        # served during it.
        first = srv.connect()
        first.sendall(b"GET /hello HTTP/1.1\r\nHost: x\r\n\r\n")
        rd_first = Reader(first)
        assert rd_first.read_response().status == 200
        log_before = srv.log().count("accept:")
        t0 = time.time()
        for _ in range(want):
            try:
                held.append(socket.create_connection(("127.0.0.1", srv.port), timeout=5))
            except OSError:
                break       # the backlog is full: enough
        assert len(held) > LIMIT, "only %d connections opened" % len(held)
        time.sleep(3 * SLOW)     # the storm, held: a spinning loop would write MBs of log here
        storm_s = time.time() - t0
        log = srv.log()
        lines = log.count("accept:") - log_before
        assert lines >= 1, "no log line about the accept failures:\n" + log[-2000:]
        # One line per loop per RS_ACCEPT_LOG_MS (5 s) at most, plus slack.
        assert lines <= 2 * (2 + storm_s / 5.0) + 2, "%d accept lines in %.1fs:\n%s" % (lines, storm_s, log[-3000:])
        assert len(log) < 200000, "log grew to %d bytes" % len(log)
        assert "Too many open files" in log or "too many open files" in log, log[-2000:]
        assert "not accepting for 500 ms" in log, log[-2000:]
        # The connection held before the storm is still served.
        first.sendall(b"GET /hello HTTP/1.1\r\nHost: x\r\n\r\n")
        r = rd_first.read_response()
        assert r.status == 200 and r.body == b"hello\n", r
        assert srv.proc.poll() is None
    finally:
        for s in held:
            s.close()
    # The clients left: a fresh request is answered within a bounded time.
    deadline = time.time() + 20 * SLOW
    ok = False
    t0 = time.time()
    while time.time() < deadline:
        try:
            if get_once(srv.port, 2).status == 200:
                ok = True
                break
        except OSError:
            pass
        time.sleep(0.05)
    assert ok, "not serving again after the storm:\n" + srv.log()[-3000:]
    recovered = time.time() - t0
    # Every loop accepts again (a handful of fresh connections spread over both).
    for _ in range(20):
        assert get_once(srv.port, 5 * SLOW).status == 200
    m = parse_metrics(get_admin_metrics(srv))
    assert m['rustyssr_accept_errors_total{reason="emfile"}'] >= 1, m
    first.close()
    assert srv.stop() == 0, srv.log()[-3000:]
    print("# recovered in %.2fs" % recovered)


def get_admin_metrics(srv):
    s = socket.create_connection(("127.0.0.1", srv.admin_port), timeout=5 * SLOW)
    try:
        s.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        return Reader(s).read_response().body.decode()
    finally:
        s.close()


if __name__ == "__main__":
    main([test_soft_limit_raised_to_hard_and_logged, test_emfile_storm_pauses_accepting_and_recovers])
