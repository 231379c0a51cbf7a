#!/usr/bin/env python3
"""bench/upstream_tls.py — what TLS to an upstream costs the proxy: one
nginx (a small JSON file, on a cleartext and a TLS port, ssl_session_cache
on) behind one rustyssr with four proxy routes: cleartext and https://,
each with a keep-alive pool (keepalive = 64) and without one (keepalive =
0: a connection per request, so a TLS handshake per request, resumed).
Alternated wrk runs; per route the median req/s, rustyssr's CPU per request
(utime + stime from /proc, more telling than req/s on a shared machine) and
the upstream handshakes and resumptions counted in /metrics. Prints a
Markdown table; the load average is noted before and after.

--body N: uploads instead: each request a POST of N bytes, which the proxy
streams to the upstream (nginx reads it whole, as proxy_pass does before
passing it on, to a location of its own that answers "ok"). --routes picks
some of the four (comma-separated).

    bench/upstream_tls.py [--runs 3] [--duration 5] [--conns 20] [--body N] [--routes plain,tls]
    env: RUSTYSSR_BIN (default build/release/rustyssr)

Needs nginx, wrk and the openssl CLI. Every process it starts runs in a
process group of its own and is stopped by that group's id."""
import argparse
import os
import re
import signal
import socket
import statistics
import subprocess
import tempfile
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
BIN = os.environ.get("RUSTYSSR_BIN", os.path.join(HERE, "..", "build", "release", "rustyssr"))
ROUTES = ("plain", "tls", "plain_nokeep", "tls_nokeep")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def sh(d, *args):
    subprocess.run(args, cwd=d, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def certs(d):
    ec = ("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes")
    sh(d, "openssl", "req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.crt", "-days", "2", "-subj", "/CN=bench ca")
    sh(d, "openssl", "req", *ec, "-keyout", "leaf.key", "-out", "leaf.csr", "-subj", "/CN=localhost")
    with open(os.path.join(d, "ext"), "w") as f:
        f.write("subjectAltName=DNS:localhost,IP:127.0.0.1\n")
    sh(d, "openssl", "x509", "-req", "-in", "leaf.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
       "-days", "1", "-extfile", "ext", "-out", "leaf.crt")


def wait_port(port, timeout=10):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("nothing listens on %d" % port)


def stop(procs, grace):
    """SIGTERM each process's group (each runs in one of its own), then
    SIGKILL the groups still there after `grace` seconds."""
    for p in procs:
        try:
            os.killpg(p.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    for p in procs:
        try:
            p.wait(grace)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)


def cpu_seconds(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def metrics(port):
    text = urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port, timeout=10).read().decode()
    out = {}
    for m in re.finditer(r'^rustyssr_upstream_tls_(handshakes|resumed)_total\{upstream="(\w+)"[^}]*?'
                         r'(?:result="(\w+)")?\} (\d+)', text, re.M):
        kind, up, result, n = m.groups()
        key = (up, "resumed" if kind == "resumed" else result)
        out[key] = out.get(key, 0) + int(n)
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--duration", type=int, default=5)
    ap.add_argument("--conns", type=int, default=20)
    ap.add_argument("--body", type=int, default=0)
    ap.add_argument("--routes", default=",".join(ROUTES))
    a = ap.parse_args()
    routes = tuple(r for r in a.routes.split(",") if r in ROUTES)
    d = tempfile.mkdtemp(prefix="rs-bench-utls-")
    os.chmod(d, 0o755)                                # nginx's workers may run as another user
    certs(d)
    os.makedirs(os.path.join(d, "www"))
    os.makedirs(os.path.join(d, "tmp"))
    with open(os.path.join(d, "www", "item.json"), "w") as f:
        f.write('{"id":1,"name":"widget","price":9.5,"tags":["a","b"]}\n')
    http_port, https_port, port, admin = free_port(), free_port(), free_port(), free_port()
    with open(os.path.join(d, "nginx.conf"), "w") as f:
        f.write("""worker_processes 1; daemon off; pid %(d)s/nginx.pid; error_log %(d)s/nginx.err warn;
events { worker_connections 4096; }
http { access_log off; keepalive_requests 1000000;
  client_body_temp_path %(d)s/tmp; proxy_temp_path %(d)s/tmp; fastcgi_temp_path %(d)s/tmp;
  uwsgi_temp_path %(d)s/tmp; scgi_temp_path %(d)s/tmp;
  server { listen 127.0.0.1:%(h)d; listen 127.0.0.1:%(s)d ssl;
    ssl_certificate %(d)s/leaf.crt; ssl_certificate_key %(d)s/leaf.key; ssl_session_cache shared:S:1m;
    root %(d)s/www;
    location /up/ { client_max_body_size 1g; client_body_buffer_size 1m; proxy_pass http://127.0.0.1:%(h)d/ok/; }
    location /ok/ { return 200 "ok"; } } }
""" % {"d": d, "h": http_port, "s": https_port})
    script = os.path.join(d, "post.lua")
    with open(script, "w") as f:
        f.write('wrk.method = "POST"\nwrk.body = string.rep("0123456789abcdef", %d)\n' % (a.body // 16))
    with open(os.path.join(d, "rustyssr.lua"), "w") as f:
        f.write("""local ssr = require "rustyssr"
ssr.config { listen = "127.0.0.1:%(p)d", admin = "127.0.0.1:%(a)d", workers = 1, pin = false,
  log = { level = "warn" }, limits = { body = "1GB" },
  upstreams = {
    plain = { servers = { "127.0.0.1:%(h)d" }, keepalive = 64 },
    tls = { servers = { "https://localhost:%(s)d" }, keepalive = 64, tls = { ca = "ca.crt" } },
    plain_nokeep = { servers = { "127.0.0.1:%(h)d" }, keepalive = 0 },
    tls_nokeep = { servers = { "https://localhost:%(s)d" }, keepalive = 0, tls = { ca = "ca.crt" } },
  } }
for _, name in ipairs { "plain", "tls", "plain_nokeep", "tls_nokeep" } do
  ssr.proxy("/" .. name .. "/", { upstream = name, path = "/" })
end
""" % {"p": port, "a": admin, "h": http_port, "s": https_port})
    procs = []
    try:
        for cmd in (["nginx", "-p", d, "-c", os.path.join(d, "nginx.conf"), "-e", os.path.join(d, "nginx.err")],
                    [BIN, "-c", os.path.join(d, "rustyssr.lua")]):
            procs.append(subprocess.Popen(cmd, cwd=d, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                          start_new_session=True))
        for p in (http_port, https_port, port):
            wait_port(p)
        rs = procs[1].pid
        load0 = open("/proc/loadavg").read().split()[:3]
        res = {r: {"rps": [], "us": []} for r in routes}
        for rnd in range(a.runs + 1):                 # round 0 warms up
            order = routes[rnd % len(routes):] + routes[:rnd % len(routes)]
            for r in order:
                c0 = cpu_seconds(rs)
                path = "up/item" if a.body else "item.json"
                out = subprocess.run(["wrk", "-t1", "-c%d" % a.conns, "-d%ds" % (a.duration if rnd else 1)]
                                     + (["-s", script] if a.body else [])
                                     + ["http://127.0.0.1:%d/%s/%s" % (port, r, path)],
                                     stdout=subprocess.PIPE, check=True).stdout.decode()
                c1 = cpu_seconds(rs)
                n = int(re.search(r"(\d+) requests in", out).group(1))
                bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
                if bad:
                    raise RuntimeError("%s: %s errors" % (r, bad.group(1)))
                if rnd:
                    res[r]["rps"].append(float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)))
                    res[r]["us"].append((c1 - c0) * 1e6 / max(n, 1))
        load1 = open("/proc/loadavg").read().split()[:3]
        m = metrics(admin)
        print("| route | req/s (median, range) | rustyssr CPU µs/request | upstream TLS handshakes | resumed |")
        print("|---|---|---|---|---|")
        for r in routes:
            rps, us = res[r]["rps"], res[r]["us"]
            hs = m.get((r, "ok"), 0)
            print("| %s | %.0f (%.0f–%.0f) | %.1f (%.1f–%.1f) | %s | %s |" % (
                r, statistics.median(rps), min(rps), max(rps), statistics.median(us), min(us), max(us),
                hs if r.startswith("tls") else "-", m.get((r, "resumed"), 0) if r.startswith("tls") else "-"))
        print("\nwrk -t1 -c%d%s, %d runs of %d s alternated; load average %s before, %s after; %d cores" % (
            a.conns, ", POST of %d bytes" % a.body if a.body else "", a.runs, a.duration, " ".join(load0),
            " ".join(load1), os.cpu_count()))
    finally:
        stop(procs, 10)


if __name__ == "__main__":
    main()
