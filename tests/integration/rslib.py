"""Helpers for rustyssr's integration tests: start the real binary on a free
port of 127.0.0.1 with a generated config, talk raw HTTP over sockets, and a
tiny runner that prints one line per test and 'N passed, M failed'.

Standard library only. The binary comes from $RUSTYSSR_BIN (ctest sets it)."""

import os
import random
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import traceback

BIN = os.environ.get("RUSTYSSR_BIN", "")
TESTS = os.environ.get("RUSTYSSR_TESTS", os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SANITIZED = bool(os.environ.get("RUSTYSSR_SANITIZE"))
# Sanitized builds run slower: stretch waits, never shrink timeouts under test.
SLOW = 3.0 if SANITIZED else 1.0


_given_ports = set()
_port_rng = random.Random(os.getpid() ^ int(time.time() * 1e6))


def free_port():
    """A port nobody listens on right now (h2o's empty_port), and never one
    this process handed out before: two calls in a row may otherwise get the
    same port back from the kernel (the listener and the admin listener of
    one server would then collide). Taken at random below Linux's ephemeral
    range (32768-60999): a port from bind(0) is one the kernel also gives to
    outgoing connections and to the other test files running at once (ctest
    -j), so it could be taken again between this check and the server's own
    bind."""
    for _ in range(1000):
        port = _port_rng.randrange(10000, 32700)
        if port in _given_ports:
            continue
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
        _given_ports.add(port)
        return port
    raise RuntimeError("no free port")


def lua_str(s):
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


class Server:
    """The real binary, with a config written from `body` (Lua placed after a
    generated ssr.config{...} whose fields come from `config`)."""

    def __init__(self, config=None, routes="", raw_config=None, workers=2, args=()):
        self.dir = tempfile.mkdtemp(prefix="rs-test-")
        self.port = free_port()
        self.admin_port = free_port()
        self.log_path = os.path.join(self.dir, "error.log")
        cfg = {
            "listen": '"127.0.0.1:%d"' % self.port,
            "admin": '"127.0.0.1:%d"' % self.admin_port,
            "workers": str(workers),
            "pin": "false",
        }
        if config:
            cfg.update(config)
        if raw_config is None:
            fields = ",\n  ".join("%s = %s" % (k, v) for k, v in cfg.items())
            raw_config = 'local ssr = require "rustyssr"\nssr.config {\n  %s\n}\n%s\n' % (fields, routes)
        self.config_path = os.path.join(self.dir, "rustyssr.lua")
        with open(self.config_path, "w") as f:
            f.write(raw_config)
        self.args = list(args)
        self.wrap = []               # a command the binary runs under (setpriv ...)
        self.proc = None

    def start(self, wait=True):
        self.logf = open(self.log_path, "wb")
        env = dict(os.environ)
        env.setdefault("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=0")
        self.proc = subprocess.Popen(self.wrap + [BIN, "-c", self.config_path] + self.args,
                                     stdout=self.logf, stderr=subprocess.STDOUT, env=env)
        if wait:
            self.wait_ready()
        return self

    def wait_ready(self, timeout=20.0):
        deadline = time.time() + timeout * SLOW
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError("server exited with %s:\n%s" % (self.proc.returncode, self.log()))
            if "ready: serving" in self.log():
                return
            time.sleep(0.02)
        raise AssertionError("server not ready:\n" + self.log())

    def log(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except FileNotFoundError:
            return ""

    def signal(self, sig):
        self.proc.send_signal(sig)

    def stop(self, timeout=30.0):
        """SIGTERM and wait; returns the exit code."""
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else None
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout * SLOW)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError("server did not stop on SIGTERM:\n" + self.log())

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        code = self.stop()
        self.logf.close()
        if exc[0] is None:
            assert code == 0, "exit code %s, log:\n%s" % (code, self.log())
            check_sanitizer_clean(self.log())
        return False

    def connect(self, port=None, timeout=10.0):
        s = socket.create_connection(("127.0.0.1", port or self.port), timeout=timeout * SLOW)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return s

    def request(self, raw, port=None):
        """Send raw bytes on a fresh connection, return the first response."""
        with self.connect(port) as s:
            s.sendall(raw)
            return read_response(s)

    def get(self, path, headers=None, port=None, method="GET"):
        h = {"Host": "localhost"}
        h.update(headers or {})
        raw = "%s %s HTTP/1.1\r\n" % (method, path) + "".join("%s: %s\r\n" % kv for kv in h.items()) + \
              "Connection: close\r\n\r\n"
        return self.request(raw.encode(), port=port)

    def metrics(self):
        r = self.get("/metrics", port=self.admin_port)
        assert r.status == 200, r
        return parse_metrics(r.body.decode())


# Small assertion helpers shared by the test files.

def eq(a, b, what=""):
    assert a == b, "%s: got %r, expected %r" % (what, a, b)


def err_key(kind, status):
    return 'rustyssr_request_errors_total{kind="%s",status="%d"}' % (kind, status)


def wait_log(srv, needle, timeout=2.0):
    deadline = time.time() + timeout * SLOW
    while time.time() < deadline:
        if needle in srv.log():
            return
        time.sleep(0.02)
    raise AssertionError("no %r in the log:\n%s" % (needle, srv.log()))


def wait_for(what, cond, timeout=10.0):
    """Poll cond() until it returns a truthy value (returned), for at most
    timeout seconds (times SLOW); else fail naming what was awaited."""
    deadline = time.time() + timeout * SLOW
    while True:
        v = cond()
        if v:
            return v
        if time.time() > deadline:
            raise AssertionError("timed out waiting for " + what)
        time.sleep(0.02)


def check_sanitizer_clean(log):
    for bad in ("ERROR: AddressSanitizer", "runtime error:", "ERROR: LeakSanitizer", "WARNING: ThreadSanitizer"):
        assert bad not in log, "sanitizer report in the server log:\n" + log


class Response:
    def __init__(self, status, reason, headers, body, raw_head):
        self.status = status
        self.reason = reason
        self.headers = headers  # list of (lower-case name, value)
        self.body = body
        self.raw_head = raw_head

    def header(self, name):
        for k, v in self.headers:
            if k == name.lower():
                return v
        return None

    def __repr__(self):
        return "<%d %s %r body=%r>" % (self.status, self.reason, self.headers, self.body[:200])


class Reader:
    """Buffered reads from a socket, for responses back to back."""

    def __init__(self, sock):
        self.sock = sock
        self.buf = b""

    def _fill(self):
        chunk = self.sock.recv(65536)
        if not chunk:
            raise EOFError("connection closed")
        self.buf += chunk

    def read_until(self, sep):
        while sep not in self.buf:
            self._fill()
        i = self.buf.index(sep) + len(sep)
        out, self.buf = self.buf[:i], self.buf[i:]
        return out

    def read_n(self, n):
        while len(self.buf) < n:
            self._fill()
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def read_response(self, head_request=False):
        head = self.read_until(b"\r\n\r\n")
        lines = head[:-4].decode("latin-1").split("\r\n")
        m = re.match(r"HTTP/1\.[01] (\d{3}) ?(.*)", lines[0])
        if not m:
            raise AssertionError("bad status line: %r" % lines[0])
        headers = []
        for line in lines[1:]:
            k, _, v = line.partition(":")
            headers.append((k.strip().lower(), v.strip()))
        status = int(m.group(1))
        if status < 200:
            return Response(status, m.group(2), headers, b"", head)
        cl = [v for k, v in headers if k == "content-length"]
        body = b""
        if cl and not head_request:
            body = self.read_n(int(cl[0]))
        return Response(status, m.group(2), headers, body, head)

    def closed(self, timeout=5.0):
        """True when the peer closes (EOF or reset) within timeout."""
        self.sock.settimeout(timeout * SLOW)
        try:
            while True:
                if self.buf:
                    self.buf = b""
                chunk = self.sock.recv(65536)
                if not chunk:
                    return True
        except (ConnectionResetError, BrokenPipeError):
            return True
        except socket.timeout:
            return False


def read_response(sock, head_request=False):
    return Reader(sock).read_response(head_request)


def parse_metrics(text):
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        name, _, value = line.rpartition(" ")
        out[name] = float(value)
    return out


def run_config_check(path, test=True):
    """Run `rustyssr [-t] -c path`; return (exit code, combined output)."""
    args = [BIN] + (["-t"] if test else []) + ["-c", path]
    p = subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=60 * SLOW)
    return p.returncode, p.stdout.decode("utf-8", "replace")


def main(tests):
    """Run each test function; print TAP-ish lines and the closing count."""
    if not BIN or not os.access(BIN, os.X_OK):
        print("RUSTYSSR_BIN not set or not executable: %r" % BIN)
        sys.exit(2)
    only = sys.argv[1:]
    passed = failed = 0
    for i, t in enumerate(tests, 1):
        if only and t.__name__ not in only:
            continue
        t0 = time.time()
        try:
            t()
            passed += 1
            print("ok %d - %s (%.2fs)" % (i, t.__name__, time.time() - t0), flush=True)
        except Exception:
            failed += 1
            print("not ok %d - %s" % (i, t.__name__), flush=True)
            for line in traceback.format_exc().splitlines():
                print("# " + line)
    print("%d passed, %d failed" % (passed, failed))
    sys.exit(1 if failed else 0)
