"""A small HTTP/1.1 backend for the proxy and fetch tests: threaded, on a
free port of 127.0.0.1, standard library only. It counts TCP connections
and requests, records what it received, and misbehaves on request:

  /echo...            200, a JSON echo of the request (method, target,
                      headers as a list, body), keep-alive
  /status/N           status N with a short body
  /big?n=BYTES        BYTES of a known pattern with Content-Length, in
                      64 KB writes; with &hold=1 the first MB is sent, then
                      the handler waits for backend.release before the rest
  /chunked?n=BYTES    the same pattern, chunked
  /eof?n=BYTES        no length: the body ends when the connection closes
  /hang               reads the request, never answers
  /die                a head announcing 100000 bytes, 1000 of them, then a close
  /close              200 with Connection: close
  /slowhead?ms=N      waits N ms before answering
  /sink               200, JSON with the body's length and sha256
  /early              413 at once, without reading the body, then a close
  /stall              like /sink, but reads the body only after backend.release
  /hop                answers with hop-by-hop headers that must not pass

backend.stale = True: every connection answers one request, then reads the
next one and closes without answering (a keep-alive connection the server
dropped, as a race with its idle timeout would)."""

import hashlib
import json
import socket
import threading
import time


def pattern(n):
    """n bytes of a pattern a shifted or truncated copy would not match."""
    unit = bytes(range(256)) * 4 + b"rustyssr-proxy-pattern-0123456789"
    out = bytearray()
    i = 0
    while len(out) < n:
        out += unit
        out += str(i).encode()
        i += 1
    return bytes(out[:n])


class Backend:
    def __init__(self, port=0):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", port))
        self.sock.listen(128)
        self.port = self.sock.getsockname()[1]
        self.addr = "127.0.0.1:%d" % self.port
        self.lock = threading.Lock()
        self.connections = 0
        self.requests = []          # (method, target, headers list, body)
        self.release = threading.Event()
        self.sent_all = threading.Event()
        self.stale = False
        self.big_sent = 0           # bytes of /big bodies handed to the kernel
        self.body_progress = 0      # body bytes of the request being read
        self.closed_conns = 0       # connections that ended (either side)
        self.closed = False
        self.conns = []
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def close(self):
        self.closed = True
        self.release.set()
        try:
            self.sock.close()
        except OSError:
            pass
        with self.lock:
            for c in self.conns:
                try:
                    c.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                c.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    def count(self):
        with self.lock:
            return self.connections, len(self.requests)

    def last(self):
        with self.lock:
            return self.requests[-1]

    def _accept(self):
        while not self.closed:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            with self.lock:
                self.connections += 1
                self.conns.append(c)
            threading.Thread(target=self._serve, args=(c,), daemon=True).start()

    # -- request reading -------------------------------------------------
    def _read_request(self, c, buf):
        while b"\r\n\r\n" not in buf:
            d = c.recv(65536)
            if not d:
                return None, buf
            buf += d
        head, _, buf = buf.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        method, target, _ = lines[0].split(" ", 2)
        headers = []
        for line in lines[1:]:
            k, _, v = line.partition(":")
            headers.append((k.strip(), v.strip()))
        hd = {k.lower(): v for k, v in headers}
        body = b""
        if target.startswith("/early"):
            return (method, target, headers, body), buf   # answered before its body
        if target.startswith("/stall"):
            self.release.wait(60)   # the body waits in the socket until released
        if "content-length" in hd:
            n = int(hd["content-length"])
            self.body_progress = 0
            acc = bytearray(buf)    # bytes += would copy the whole body each time
            while len(acc) < n:
                d = c.recv(1 << 20)
                if not d:
                    return None, bytes(acc)
                acc += d
                self.body_progress = len(acc)
            body, buf = bytes(acc[:n]), bytes(acc[n:])
        elif hd.get("transfer-encoding", "").lower() == "chunked":
            self.body_progress = 0
            while True:
                while b"\r\n" not in buf:
                    buf += c.recv(65536)
                line, _, buf = buf.partition(b"\r\n")
                size = int(line.split(b";")[0], 16)
                while len(buf) < size + 2:
                    buf += c.recv(65536)
                body += buf[:size]
                buf = buf[size + 2:]
                self.body_progress = len(body)
                if size == 0:
                    break
        return (method, target, headers, body), buf

    def _serve(self, c):
        c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        buf = b""
        served = 0
        try:
            while not self.closed:
                req, buf = self._read_request(c, buf)
                if req is None:
                    return
                if self.stale and served == 1:
                    return          # read the second request, answer nothing, close
                with self.lock:
                    self.requests.append(req)
                if not self._answer(c, req):
                    return
                served += 1
        except (OSError, ValueError):
            return
        finally:
            with self.lock:
                self.closed_conns += 1
            try:
                c.close()
            except OSError:
                pass

    # -- answers ---------------------------------------------------------
    def _send(self, c, status, headers, body, reason="X"):
        head = "HTTP/1.1 %d %s\r\n" % (status, reason) + "".join("%s: %s\r\n" % kv for kv in headers) + "\r\n"
        c.sendall(head.encode("latin-1") + body)

    def _answer(self, c, req):
        method, target, headers, body = req
        path, _, query = target.partition("?")
        q = dict(kv.partition("=")[::2] for kv in query.split("&") if kv)
        if path.startswith("/status/"):
            st = int(path.split("/")[2])
            b = ("status %d\n" % st).encode()
            self._send(c, st, [("Content-Length", str(len(b))), ("Content-Type", "text/plain")], b)
            return True
        if path == "/big":
            n = int(q.get("n", "0"))
            data = pattern(n)
            c.sendall(("HTTP/1.1 200 OK\r\nContent-Length: %d\r\nContent-Type: application/octet-stream\r\n\r\n"
                       % n).encode())
            if method == "HEAD":
                return True
            off = 0
            while off < n:
                if q.get("hold") == "1" and off >= (1 << 20) and not self.release.is_set():
                    self.release.wait(60)
                c.sendall(data[off:off + 65536])
                off += 65536
                self.big_sent = min(off, n)
            self.sent_all.set()
            return True
        if path == "/chunked":
            n = int(q.get("n", "0"))
            data = pattern(n)
            c.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Type: text/plain\r\n\r\n")
            off = 0
            step = 10000
            while off < n:
                piece = data[off:off + step]
                c.sendall(b"%x\r\n" % len(piece) + piece + b"\r\n")
                off += step
            c.sendall(b"0\r\n\r\n")
            return True
        if path == "/eof":
            n = int(q.get("n", "0"))
            c.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\n" + pattern(n))
            return False
        if path == "/hang":
            while not self.closed and not self.release.wait(0.05):
                pass
            return False
        if path == "/die":
            c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n" + pattern(1000))
            time.sleep(0.05)
            return False
        if path == "/close":
            self._send(c, 200, [("Content-Length", "3"), ("Connection", "close")], b"bye")
            return False
        if path == "/early":
            self._send(c, 413, [("Content-Length", "4"), ("Connection", "close")], b"big\n")
            # a lingering close, as a careful server does: a reset could
            # destroy the answer before the peer reads it
            c.shutdown(socket.SHUT_WR)
            c.settimeout(2)
            try:
                while c.recv(65536):
                    pass
            except OSError:
                pass
            return False
        if path in ("/sink", "/stall"):
            doc = {"len": len(body), "sha256": hashlib.sha256(body).hexdigest(),
                   "te": [v for k, v in headers if k.lower() == "transfer-encoding"],
                   "cl": [v for k, v in headers if k.lower() == "content-length"]}
            b = json.dumps(doc).encode()
            self._send(c, 200, [("Content-Length", str(len(b))), ("Content-Type", "application/json")], b)
            return True
        if path == "/headfirst":   # the head now, the body once released
            c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Type: text/plain\r\n\r\n")
            self.release.wait(60)
            c.sendall(b"hello")
            return True
        if path == "/slowhead":
            time.sleep(int(q.get("ms", "100")) / 1000.0)
        if path == "/hop":
            self._send(c, 200, [("Content-Length", "2"), ("Connection", "X-Secret, keep-alive"),
                                ("X-Secret", "drop me"), ("Keep-Alive", "timeout=5"), ("Upgrade", "h2c"),
                                ("Proxy-Connection", "keep-alive"), ("Trailer", "X-T"), ("X-Kept", "yes"),
                                ("Server", "backend"), ("Set-Cookie", "a=1"), ("Set-Cookie", "b=2")], b"ok")
            return True
        # echo
        doc = {"method": method, "target": target, "headers": headers,
               "body": body.decode("latin-1"), "port": self.port}
        b = json.dumps(doc).encode()
        self._send(c, 200, [("Content-Length", str(len(b))), ("Content-Type", "application/json"),
                            ("X-Backend", str(self.port))], b)
        return True
