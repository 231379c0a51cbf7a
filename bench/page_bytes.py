#!/usr/bin/env python3
"""bench/page_bytes.py — bytes on the wire for one page view as a browser
makes it: the HTML, then every stylesheet, script, icon and image it links
(each once), with a browser's Accept-Encoding, over one keep-alive
connection. Prints one line per resource and the totals; standard library
only.

    bench/page_bytes.py http://127.0.0.1:8080/catalog/shoes [--accept-encoding 'gzip, deflate, br']

Counts what the server sends (status line, headers and body as framed: a
chunked body with its chunk lines), which is what the client downloads."""

import argparse
import re
import socket
import sys
import urllib.parse


def fetch(sock, rd, host, path, ae):
    req = "GET %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: page_bytes\r\nAccept: */*\r\n" % (path, host)
    if ae:
        req += "Accept-Encoding: %s\r\n" % ae
    sock.sendall((req + "\r\n").encode())
    head = rd.until(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    hdrs = {}
    for l in lines[1:]:
        k, _, v = l.partition(":")
        hdrs[k.strip().lower()] = v.strip()
    wire = len(head)
    body = b""
    if hdrs.get("transfer-encoding") == "chunked":
        while True:
            line = rd.until(b"\r\n")
            wire += len(line)
            n = int(line.split(b";")[0], 16)
            data = rd.n(n + 2)
            wire += len(data)
            body += data[:-2]
            if n == 0:               # "0\r\n" then the empty trailer line, read above
                break
    else:
        n = int(hdrs.get("content-length", "0"))
        body = rd.n(n)
        wire += n
    return status, hdrs, body, wire


class Rd:
    def __init__(self, s):
        self.s, self.buf = s, b""

    def until(self, sep):
        while sep not in self.buf:
            d = self.s.recv(65536)
            if not d:
                raise EOFError
            self.buf += d
        i = self.buf.index(sep) + len(sep)
        out, self.buf = self.buf[:i], self.buf[i:]
        return out

    def n(self, k):
        while len(self.buf) < k:
            d = self.s.recv(65536)
            if not d:
                raise EOFError
            self.buf += d
        out, self.buf = self.buf[:k], self.buf[k:]
        return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("url")
    ap.add_argument("--accept-encoding", default="gzip, deflate, br")
    ap.add_argument("-q", "--quiet", action="store_true", help="totals only")
    a = ap.parse_args()
    u = urllib.parse.urlsplit(a.url)
    host = u.netloc
    sock = socket.create_connection((u.hostname, u.port or 80), timeout=30)
    rd = Rd(sock)
    path = u.path + ("?" + u.query if u.query else "")
    status, hdrs, body, wire = fetch(sock, rd, host, path, a.accept_encoding)
    total, count = wire, 1
    kinds = {hdrs.get("content-type", "?").split(";")[0]: [1, wire]}
    if not a.quiet:
        print("%6d  %3d %-5s %s" % (wire, status, hdrs.get("content-encoding", "-"), path))
    html = body
    if hdrs.get("content-encoding") == "gzip":
        import gzip
        html = gzip.decompress(body)
    elif hdrs.get("content-encoding") == "br":
        import ctypes
        import ctypes.util
        lib = ctypes.CDLL(ctypes.util.find_library("brotlidec") or "libbrotlidec.so.1")
        out = ctypes.create_string_buffer(len(body) * 50 + 65536)
        n = ctypes.c_size_t(len(out))
        lib.BrotliDecoderDecompress(ctypes.c_size_t(len(body)), body, ctypes.byref(n), out)
        html = out.raw[:n.value]
    links = re.findall(rb'<(?:link|script|img)\b[^>]*?\b(?:href|src)="([^"]+)"', html)
    seen = []
    for l in links:
        l = l.decode()
        if l not in seen and l.startswith("/"):
            seen.append(l)
    for l in seen:
        status, hdrs, body, wire = fetch(sock, rd, host, l, a.accept_encoding)
        total += wire
        count += 1
        kind = hdrs.get("content-type", "?").split(";")[0]
        c = kinds.setdefault(kind, [0, 0])  # noqa
        c[0] += 1
        c[1] += wire
        if not a.quiet:
            print("%6d  %3d %-5s %s (%s)" % (wire, status, hdrs.get("content-encoding", "-"), l, kind))
    for k, (n, b) in sorted(kinds.items()):
        print("  %-24s %3d responses %8d bytes" % (k, n, b))
    print("total: %d responses, %d bytes on the wire (Accept-Encoding: %s)" % (count, total, a.accept_encoding or "none"))


if __name__ == "__main__":
    sys.exit(main())
