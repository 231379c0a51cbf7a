"""What a Prometheus scrape of the admin listener tells an operator: the
process_* families every Prometheus client exports, with values that match
what the kernel says of the process; and the Grafana dashboard and the
alert rules in contrib/ name only metrics that a live scrape has (parsed by
the Prometheus project's own Python parser, prometheus_client)."""

import json
import os
import re
import subprocess
import time

from rslib import TESTS, Server, free_port, main
from test_lua_fetch import BUNDLE, Backend

ROOT = os.path.dirname(TESTS)

ROUTES = 'ssr.route("GET", "/hello", { respond = { status = 200, body = "hello\\n" } })'


def test_process_metrics():
    with Server(routes=ROUTES) as srv:
        t0 = time.time()
        for _ in range(20):
            assert srv.get("/hello").status == 200
        m = srv.metrics()
        for name in ("process_cpu_seconds_total", "process_resident_memory_bytes",
                     "process_virtual_memory_bytes", "process_threads", "process_start_time_seconds",
                     "process_open_fds", "process_max_fds"):
            assert name in m, (name, sorted(m))
        # Started within the last minute (the clock tick's resolution aside).
        start = os.stat("/proc/%d" % srv.proc.pid).st_mtime  # /proc/PID appears at start
        assert abs(m["process_start_time_seconds"] - start) < 5, (m["process_start_time_seconds"], start)
        assert t0 - 120 < m["process_start_time_seconds"] <= t0 + 1
        rss_kb = [l for l in open("/proc/%d/status" % srv.proc.pid) if l.startswith("VmRSS:")][0].split()[1]
        assert 0.5 < m["process_resident_memory_bytes"] / (int(rss_kb) * 1024) < 2, (m, rss_kb)
        fds = len(os.listdir("/proc/%d/fd" % srv.proc.pid))
        assert abs(m["process_open_fds"] - fds) <= 3, (m["process_open_fds"], fds)
        assert m["process_open_fds"] < m["process_max_fds"]
        # Loop threads (2), the main thread, and whatever else runs.
        assert m["process_threads"] >= 3
        assert m["process_cpu_seconds_total"] >= 0


PARSE = r"""
import sys
from prometheus_client.parser import text_string_to_metric_families
names = set()
for fam in text_string_to_metric_families(sys.stdin.read()):
    names.add(fam.name)
    for s in fam.samples:
        names.add(s.name)
print("\n".join(sorted(names)))
"""


def parse_exposition(text):
    """Every family and sample name in text, by prometheus_client's parser
    (Debian's python3-prometheus-client, for /usr/bin/python3)."""
    for py in ("python3", "/usr/bin/python3"):
        p = subprocess.run([py, "-c", PARSE], input=text.encode(), stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE)
        if p.returncode == 0:
            return set(p.stdout.decode().split())
        if b"No module named" not in p.stderr:
            raise AssertionError("the Prometheus parser refused the scrape: %s" % p.stderr.decode())
    raise AssertionError("prometheus_client is missing: scripts/setup installs python3-prometheus-client")


def metric_names(expr):
    return {m for m in re.findall(r"\b((?:rustyssr|process)_[a-z0-9_]+)\b", expr)}


def dashboard_exprs():
    d = json.load(open(os.path.join(ROOT, "contrib/grafana/rustyssr-dashboard.json")))
    exprs = [t["expr"] for p in d["panels"] for t in p.get("targets", [])]
    exprs += [v["query"] for v in d["templating"]["list"] if v.get("type") == "query"]
    return exprs


def alert_exprs():
    # The rules file is YAML; its exprs are the `expr:` values (single-line or
    # `|` blocks), read without a YAML library.
    text = open(os.path.join(ROOT, "contrib/prometheus/rustyssr-alerts.yml")).read()
    exprs, cur = [], None
    for line in text.splitlines():
        m = re.match(r"^(\s*)expr:\s*(.*)$", line)
        if m:
            cur = None
            if m.group(2).strip() == "|":
                cur = [len(m.group(1)), []]
                exprs.append(cur[1])
            else:
                exprs.append([m.group(2)])
        elif cur is not None:
            if line.strip() and (len(line) - len(line.lstrip())) <= cur[0]:
                cur = None
            else:
                cur[1].append(line)
    return [" ".join(e) for e in exprs]


def test_dashboard_and_alerts_name_live_metrics():
    with Backend() as b:
        srv = Server(workers=2, config={
            "render": '{ bundle = "%s", threads = 1 }' % BUNDLE,
            "upstreams": '{ api = { servers = { "127.0.0.1:%d" } } }' % b.port,
        }, routes='ssr.route("GET", "/api/*", { proxy = { upstream = "api", path = "/" } })\n'
                  'ssr.route("GET", "/limited", { respond = { status = 200 }, limit_req = { rate = "1r/m" } })\n'
                  'ssr.route("GET", "/*", { render = true })\n')
        with srv:
            assert srv.get("/api/json").status == 200
            assert srv.get("/page").status in (200, 404)
            assert [srv.get("/limited").status for _ in range(2)] == [200, 429]
            r = srv.get("/metrics", port=srv.admin_port)
            assert r.status == 200
            live = parse_exposition(r.body.decode())
    assert "rustyssr_render_duration_seconds_bucket" in live and "process_open_fds" in live, sorted(live)
    dash, rules = dashboard_exprs(), alert_exprs()
    assert len(dash) >= 14 and len(rules) >= 9, (len(dash), len(rules))
    named = set()
    for e in dash + rules:
        named |= metric_names(e)
    assert len(named) >= 20, sorted(named)
    missing = sorted(n for n in named if n not in live)
    assert not missing, "named by the dashboard or the alerts, absent from /metrics: %s" % missing


def wait_metric(srv, key, want, timeout=10.0):
    """A request is counted when it is freed, just after its last byte:
    poll the scrape until key reaches want."""
    deadline = time.time() + timeout
    m = {}
    while time.time() < deadline:
        m = srv.metrics()
        if m.get(key) == want:
            return m
        time.sleep(0.05)
    raise AssertionError("%s: %r, expected %r in %s" % (key, m.get(key), want, sorted(k for k in m if "duration" in k
                                                                                     or "response" in k)))


def test_histograms():
    """rustyssr_request_duration_seconds by route and status class, and
    rustyssr_upstream_response_seconds by upstream: counts exact, buckets
    cumulative, +Inf = _count; parsed by prometheus_client too."""
    with Backend() as b:
        srv = Server(workers=2, config={
            "upstreams": '{ api = { servers = { "127.0.0.1:%d" } } }' % b.port,
        }, routes='ssr.route("GET", "/hello", { respond = { status = 200, body = "hi" } })\n'
                  'ssr.route("GET", "/blog/:slug", { respond = { status = 404 } })\n'
                  'ssr.route("GET", "/api/*", { proxy = { upstream = "api", path = "/" } })\n')
        with srv:
            for _ in range(7):
                assert srv.get("/hello").status == 200
            for i in range(3):
                assert srv.get("/blog/post-%d" % i).status == 404
            assert srv.get("/nothing/here").status == 404
            for _ in range(4):
                assert srv.get("/api/json").status == 200
            name = "rustyssr_request_duration_seconds"
            lab = 'route="/hello",status="2xx"'
            m = wait_metric(srv, '%s_count{%s}' % (name, lab), 7)
            eq_inf = m['%s_bucket{%s,le="+Inf"}' % (name, lab)]
            assert eq_inf == 7, m
            buckets = [(float(re.search(r'le="([^"]+)"', k).group(1)), v) for k, v in m.items()
                       if k.startswith(name + "_bucket{" + lab)]
            buckets.sort()
            assert len(buckets) == 12, buckets
            assert all(a[1] <= b_[1] for a, b_ in zip(buckets, buckets[1:])), buckets
            assert m['%s_sum{%s}' % (name, lab)] < 7 * 10, m
            wait_metric(srv, '%s_count{route="/blog/:slug",status="4xx"}' % name, 3)
            wait_metric(srv, '%s_count{route="(none)",status="4xx"}' % name, 1)
            m = wait_metric(srv, 'rustyssr_upstream_response_seconds_count{upstream="api"}', 4)
            assert m['rustyssr_upstream_response_seconds_bucket{upstream="api",le="+Inf"}'] == 4, m
            live = parse_exposition(srv.get("/metrics", port=srv.admin_port).body.decode())
            for n in (name + "_bucket", name + "_count", name + "_sum", "rustyssr_upstream_response_seconds_bucket"):
                assert n in live, (n, sorted(live))


if __name__ == "__main__":
    main([test_process_metrics, test_dashboard_and_alerts_name_live_metrics, test_histograms])
