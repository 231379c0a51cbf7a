#!/usr/bin/env python3
"""bench/soak.py — availability soak: how long the gateway takes to serve
again after (1) an EMFILE storm and (2) a Lua hook that never returns.

  bench/soak.py [BINARY]      (default build/release/rustyssr)

1. The binary runs under RLIMIT_NOFILE = 256 (soft and hard) with 2 loops;
   600 clients connect and hold their connections for STORM_S seconds; then
   they all close and the script measures the time until a fresh request is
   answered, and until 50 fresh requests in a row are. It also reports the
   log lines written during the storm and the accept errors counted.
2. A route whose hook is `while true do end` (lua.hook_timeout_ms = 1000):
   the script sends it on both loops at once and measures, from the send,
   how long until /hello answers on every loop again, and how long the
   spinning requests took to get their 500.
Standard library only; prints one line per figure."""

import os
import resource
import socket
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
BIN = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "..", "build", "release", "rustyssr")
STORM_S = 5.0
CLIENTS = 600


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(lua_cfg, routes, nofile=None):
    d = tempfile.mkdtemp(prefix="rs-soak-")
    port, admin = free_port(), free_port()
    cfg = os.path.join(d, "rustyssr.lua")
    with open(cfg, "w") as f:
        f.write('local ssr = require "rustyssr"\nssr.config { listen = "127.0.0.1:%d", admin = "127.0.0.1:%d", '
                'workers = 2, pin = false, %s }\n%s\n' % (port, admin, lua_cfg, routes))
    log = os.path.join(d, "error.log")
    pre = (lambda: resource.setrlimit(resource.RLIMIT_NOFILE, nofile)) if nofile else None
    p = subprocess.Popen([BIN, "-c", cfg], stdout=open(log, "wb"), stderr=subprocess.STDOUT, preexec_fn=pre)
    for _ in range(500):
        if "ready: serving" in open(log).read():
            break
        time.sleep(0.02)
    return p, port, admin, log


def fetch(port, path, timeout=5):
    """The whole answer (status line, headers, body) to a GET with Connection: close."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    try:
        s.sendall(("GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n" % path).encode())
        data = b""
        while True:
            b = s.recv(65536)
            if not b:
                break
            data += b
        return data
    finally:
        s.close()


def get(port, path="/hello", timeout=5):
    data = fetch(port, path, timeout)
    return int(data.split(b" ", 2)[1]) if data else 0


def until_ok(port, n, limit=60):
    t0 = time.time()
    ok = 0
    while time.time() - t0 < limit:
        try:
            ok = ok + 1 if get(port, timeout=2) == 200 else 0
        except OSError:
            ok = 0
        if ok >= n:
            return time.time() - t0
    return float("inf")


def metric(admin, name):
    data = fetch(admin, "/metrics")
    for line in data.decode().splitlines():
        if line.startswith(name + " "):
            return float(line.split()[-1])
    return None


def emfile_storm():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 4096), hard))
    p, port, admin, log = start("", 'ssr.route("GET", "/hello", function(req) return 200, "hi" end)', (256, 256))
    held = []
    log0 = os.path.getsize(log)
    for _ in range(CLIENTS):
        try:
            held.append(socket.create_connection(("127.0.0.1", port), timeout=5))
        except OSError:
            break
    time.sleep(STORM_S)
    grown = os.path.getsize(log) - log0
    lines = open(log).read().count("accept:")
    for s in held:
        s.close()
    first = until_ok(port, 1)
    fifty = until_ok(port, 50)
    errs = metric(admin, 'rustyssr_accept_errors_total{reason="emfile"}')
    print("emfile: %d clients held %.0f s under nofile=256: log grew %d bytes (%d accept lines), "
          "%s emfile errors counted" % (len(held), STORM_S, grown, lines, errs))
    print("emfile: first fresh request answered %.3f s after the clients left; 50 in a row by %.3f s"
          % (first, first + fifty))
    p.terminate()
    p.wait(30)


def spinning_hook():
    p, port, admin, log = start("lua = { hook_timeout_ms = 1000 }",
                                'ssr.route("GET", "/hello", function(req) return 200, "hi" end)\n'
                                'ssr.route("GET", "/spin", function(req) while true do end end)')
    until_ok(port, 5)
    took = []

    def spin():
        t = time.time()
        st = get(port, "/spin", timeout=60)
        took.append((st, time.time() - t))
    ts = [threading.Thread(target=spin) for _ in range(4)]
    for t in ts:
        t.start()
    time.sleep(0.05)
    rec = until_ok(port, 20)
    for t in ts:
        t.join(60)
    print("hook: 4 x `while true do end` (lua.hook_timeout_ms = 1000): each answered %s in %s s; "
          "20 /hello in a row by %.3f s after the spin started"
          % (sorted(set(s for s, _ in took)), "/".join("%.2f" % d for _, d in sorted(took, key=lambda x: x[1])),
             rec + 0.05))
    p.terminate()
    p.wait(30)


if __name__ == "__main__":
    emfile_storm()
    spinning_hook()
