#!/usr/bin/env python3
"""bench/upstream_tls_cg.py — instructions per proxied request to a TLS
upstream, counted by callgrind: steady where CPU time on a shared machine
is not (other processes do not change the count). One nginx (TLS port;
/up/ reads a request body whole, as proxy_pass does, and answers "ok")
behind each rustyssr given, which runs under valgrind --tool=callgrind
with one proxy route to it (keepalive pool): warm-up, counters zeroed, N
requests one after the other on one keep-alive connection (POSTs of
--body bytes, or GETs with --body 0), counters dumped. Prints the
instructions per request, all and in memcpy, per binary.

    bench/upstream_tls_cg.py [--n 100] [--body 262144] BIN [BIN...]

Needs nginx, valgrind (callgrind_control, callgrind_annotate) and the
openssl CLI. Every process it starts runs in a process group of its own and
is stopped by that group's id; its temporary folder is removed."""
import argparse
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from upstream_tls import certs, free_port, stop, wait_port  # noqa: E402


def totals(out):
    """(all instructions, memcpy's) of a callgrind dump."""
    text = subprocess.run(["callgrind_annotate", "--inclusive=no", "--threshold=100", out],
                          stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, check=True).stdout.decode()
    total = int(re.search(r"([\d,]+) \(100\.0%\)\s+PROGRAM TOTALS", text).group(1).replace(",", ""))
    cp = sum(int(m.group(1).replace(",", "")) for m in re.finditer(r"^\s*([\d,]+) .*:__memcpy\w*", text, re.M))
    return total, cp


def measure(binary, n, size, d):
    hp, sp, port, admin = free_port(), free_port(), free_port(), free_port()
    with open(os.path.join(d, "nginx.conf"), "w") as f:
        f.write("""worker_processes 1; daemon off; pid %(d)s/nginx.pid; error_log %(d)s/nginx.err warn;
events { worker_connections 1024; }
http { access_log off; keepalive_requests 1000000; client_body_temp_path %(d)s/tmp; proxy_temp_path %(d)s/tmp;
  fastcgi_temp_path %(d)s/tmp; uwsgi_temp_path %(d)s/tmp; scgi_temp_path %(d)s/tmp;
  server { listen 127.0.0.1:%(h)d; listen 127.0.0.1:%(s)d ssl;
    ssl_certificate %(d)s/leaf.crt; ssl_certificate_key %(d)s/leaf.key;
    location /up/ { client_max_body_size 1g; client_body_buffer_size 1m; proxy_pass http://127.0.0.1:%(h)d/ok/; }
    location /ok/ { return 200 "ok"; } } }
""" % {"d": d, "h": hp, "s": sp})
    with open(os.path.join(d, "rustyssr.lua"), "w") as f:
        f.write("""local ssr = require "rustyssr"
ssr.config { listen = "127.0.0.1:%d", admin = "127.0.0.1:%d", workers = 1, pin = false, log = { level = "warn" },
  limits = { body = "1GB" },
  upstreams = { tls = { servers = { "https://localhost:%d" }, keepalive = 8, tls = { ca = "ca.crt" } } } }
ssr.proxy("/tls/", { upstream = "tls", path = "/" })
""" % (port, admin, sp))
    out = os.path.join(d, "callgrind.out")
    procs = []
    try:
        procs.append(subprocess.Popen(["nginx", "-p", d, "-c", os.path.join(d, "nginx.conf"), "-e",
                                       os.path.join(d, "nginx.err")], cwd=d, stdout=subprocess.DEVNULL,
                                      stderr=subprocess.DEVNULL, start_new_session=True))
        procs.append(subprocess.Popen(["valgrind", "--tool=callgrind", "--callgrind-out-file=" + out, binary, "-c",
                                       os.path.join(d, "rustyssr.lua")], cwd=d, stdout=subprocess.DEVNULL,
                                      stderr=subprocess.DEVNULL, start_new_session=True))
        wait_port(sp)
        wait_port(port, timeout=120)
        body = b"0123456789abcdef" * (size // 16)
        c = socket.create_connection(("127.0.0.1", port), timeout=120)

        def one():
            if body:
                c.sendall(b"POST /tls/up/x HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % len(body))
                for i in range(0, len(body), 65536):
                    c.sendall(body[i:i + 65536])
            else:
                c.sendall(b"GET /tls/up/x HTTP/1.1\r\nHost: x\r\n\r\n")
            data = b""
            while b"\r\n\r\nok" not in data:
                k = c.recv(65536)
                if not k:
                    raise RuntimeError("closed: %r" % data[:200])
                data += k
            if not data.startswith(b"HTTP/1.1 200"):
                raise RuntimeError("not a 200: %r" % data[:200])
        for _ in range(10):
            one()
        pid = str(procs[1].pid)
        subprocess.run(["callgrind_control", "-z", pid], check=True, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)
        for _ in range(n):
            one()
        subprocess.run(["callgrind_control", "-d", "measured", pid], check=True, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)
        c.close()
        return totals(out + ".1")
    finally:
        stop(procs, 60)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=100)
    ap.add_argument("--body", type=int, default=262144)
    ap.add_argument("bins", nargs="+")
    a = ap.parse_args()
    print("| binary | instructions/request | of which memcpy |")
    print("|---|---|---|")
    for b in a.bins:
        d = tempfile.mkdtemp(prefix="rs-bench-utls-cg-")
        try:
            os.chmod(d, 0o755)                        # nginx's workers may run as another user
            os.makedirs(os.path.join(d, "tmp"))
            certs(d)
            total, cp = measure(os.path.abspath(b), a.n, a.body, d)   # it runs in d
            print("| %s | %.0f | %.0f |" % (b, total / a.n, cp / a.n))
        finally:
            shutil.rmtree(d, ignore_errors=True)
    print("\n%d %s on one keep-alive connection, under callgrind" % (
        a.n, "POSTs of %d bytes" % a.body if a.body else "GETs"))


if __name__ == "__main__":
    main()
