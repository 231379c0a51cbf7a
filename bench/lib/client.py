"""bench/lib/client.py — the small HTTP clients bench/run needs besides wrk:
filling caches (keep-alive, pipelined), the herd (many connections opened at
once on one cold URL), and reading /metrics and the Node peer's /stats.
Python's standard library only; loopback only.
"""
import json
import selectors
import socket
import threading
import time
import urllib.request


class Response:
    __slots__ = ("status", "headers", "body")

    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers
        self.body = body


def _parse_one(buf, want_body):
    """(Response, rest) if buf starts with a whole response, else (None, buf).
    Content-Length framing only (every server here sends it)."""
    h = buf.find(b"\r\n\r\n")
    if h < 0:
        return None, buf
    head = buf[:h].decode("latin-1").split("\r\n")
    status = int(head[0].split()[1])
    headers = {}
    for line in head[1:]:
        k, _, v = line.partition(":")
        headers[k.strip().lower()] = v.strip()
    if "chunked" in headers.get("transfer-encoding", ""):
        raise RuntimeError("chunked response: not expected from the servers under test")
    cl = 0 if status in (204, 304) else int(headers.get("content-length", "0"))
    if len(buf) < h + 4 + cl:
        return None, buf
    body = buf[h + 4:h + 4 + cl] if want_body else None
    return Response(status, headers, body), buf[h + 4 + cl:]


def _fetch_on(port, targets, headers, want_body, batch, host, out, idx):
    host = host or "127.0.0.1:%d" % port
    extra = "".join("%s: %s\r\n" % kv for kv in (headers or {}).items())
    s = socket.create_connection(("127.0.0.1", port), timeout=60)
    try:
        buf = b""
        for start in range(0, len(targets), batch):
            chunk = targets[start:start + batch]
            s.sendall(b"".join(("GET %s HTTP/1.1\r\nHost: %s\r\n%s\r\n" % (t, host, extra)).encode()
                               for t in chunk))
            got = 0
            while got < len(chunk):
                r, buf = _parse_one(buf, want_body)
                if r is None:
                    data = s.recv(1 << 20)
                    if not data:
                        raise RuntimeError("connection closed by the server at %s" % chunk[got])
                    buf += data
                    continue
                out[idx[start + got]] = r
                got += 1
    finally:
        s.close()


def fetch_many(port, targets, conns=4, headers=None, want_body=False, batch=16, host=None,
               every_conn_all=False):
    """GETs every target over `conns` keep-alive connections in parallel,
    `batch` requests pipelined at a time. Returns the responses in the order
    of `targets`. every_conn_all: each connection asks for all targets (a
    cluster of processes, each with its own cache, gets each page on each of
    its connections) and the result is the last connection's. The Host is
    the one wrk sends (127.0.0.1:PORT): it is part of every cache key here."""
    targets = list(targets)
    results = [None] * len(targets)
    threads, errors = [], []

    def run(part, idx, out):
        try:
            _fetch_on(port, part, headers, want_body, batch, host, out, idx)
        except Exception as e:          # reported below
            errors.append(e)

    for c in range(conns):
        if every_conn_all:
            part, idx = targets, list(range(len(targets)))
            out = results if c == conns - 1 else [None] * len(targets)
        else:
            idx = list(range(c, len(targets), conns))
            part = [targets[i] for i in idx]
            idx = {k: i for k, i in enumerate(idx)}
            out = results
        t = threading.Thread(target=run, args=(part, idx, out), daemon=True)
        t.start()
        threads.append(t)
    for t in threads:
        t.join()
    if errors:
        raise errors[0]
    return results


def get(port, target, headers=None, host=None):
    return fetch_many(port, [target], conns=1, headers=headers, want_body=True, host=host)[0]


def herd(port, target, n=500, timeout=30.0, host=None):
    """Opens n connections, waits until all are connected, then sends the
    same GET on each as fast as it can and reads every answer (Connection:
    close). Returns {latencies_s, statuses, xcache, errors, connect_s,
    send_s}: latency from a connection's send to its last byte."""
    sel = selectors.DefaultSelector()
    socks = []
    t0 = time.monotonic()
    for _ in range(n):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setblocking(False)
        s.connect_ex(("127.0.0.1", port))
        socks.append(s)
        sel.register(s, selectors.EVENT_WRITE)
    pending, errors = n, 0
    end = t0 + timeout
    while pending and time.monotonic() < end:
        for key, _ in sel.select(timeout=1.0):
            sel.unregister(key.fileobj)
            pending -= 1
            if key.fileobj.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR):
                errors += 1
    connect_s = time.monotonic() - t0
    host = host or "127.0.0.1:%d" % port
    req = ("GET %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n" % (target, host)).encode()
    # Every request but its last byte first, on every connection; then the
    # last bytes in a tight loop: the requests become complete within about
    # a millisecond of each other, so that they land while the first one's
    # render is still running (a Python loop of whole requests takes longer
    # than a render).
    live = []
    for s in socks:
        try:
            s.send(req[:-1])
            live.append(s)
        except OSError:
            errors += 1
    time.sleep(0.05)          # the server has read and parsed the heads
    sent_at, bufs, done = {}, {}, {}
    last = req[-1:]
    t1 = time.monotonic()
    for s in live:
        try:
            s.send(last)
            sent_at[s] = time.monotonic()
        except OSError:
            errors += 1
    send_s = time.monotonic() - t1
    for s in sent_at:
        bufs[s] = []
        sel.register(s, selectors.EVENT_READ)
    open_ = len(bufs)
    while open_ and time.monotonic() < end:
        for key, _ in sel.select(timeout=1.0):
            s = key.fileobj
            try:
                data = s.recv(65536)
            except OSError:
                data = b""
                errors += 1
            if data:
                bufs[s].append(data)
            else:
                done[s] = time.monotonic()
                sel.unregister(s)
                open_ -= 1
    lat, statuses, xcache = [], {}, {}
    for s in socks:
        raw = b"".join(bufs.get(s, []))
        if s in done and raw.startswith(b"HTTP/1."):
            lat.append(done[s] - sent_at[s])
            st = int(raw.split(b" ", 2)[1])
            statuses[st] = statuses.get(st, 0) + 1
            xc = "-"
            for line in raw[:raw.find(b"\r\n\r\n")].split(b"\r\n"):
                if line.lower().startswith(b"x-cache:"):
                    xc = line.split(b":", 1)[1].strip().decode()
            xcache[xc] = xcache.get(xc, 0) + 1
        elif s in bufs:
            errors += 1
        s.close()
    sel.close()
    return {"latencies_s": lat, "statuses": statuses, "xcache": xcache, "errors": errors,
            "connect_s": connect_s, "send_s": send_s}


def metrics(admin_port):
    """rustyssr's /metrics as {'name{labels}': float}."""
    with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % admin_port, timeout=10) as r:
        text = r.read().decode()
    out = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            k, _, v = line.rpartition(" ")
            try:
                out[k] = float(v)
            except ValueError:
                pass
    return out


def node_stats(stats_port):
    with urllib.request.urlopen("http://127.0.0.1:%d/stats" % stats_port, timeout=10) as r:
        return json.loads(r.read())
