"""bench/lib/gateway.py — the figures of the Lua-routing issue: the cost of a
Lua `key` hook on the cache-hit path (bench/hooks.sh) and the proxy action's
throughput and added latency (bench/proxy.sh). See bench/README.md.

  python3 bench/lib/gateway.py hooks [--only hit,hit-many] [--runs N] ...
  python3 bench/lib/gateway.py proxy [--runs N] ...

Same machinery as bench/run (servers.py, measure.py, procs.py): every server
on a free loopback port in a process group of its own, a warm-up run each,
then rounds in which every server runs once, the order rotated; the median
with min–max, and the ratios of the runs of one round. The shell wrappers
install what is missing and stop any process group left behind.
"""
import argparse
import json
import os
import shutil
import statistics
import sys
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import client                                   # noqa: E402
import procs                                    # noqa: E402
from measure import Load, compare               # noqa: E402
from procs import Proc, wait_port               # noqa: E402
from report import fmt_range                    # noqa: E402
from scenarios import HIT_URL, zipf_load  # noqa: E402
from servers import NGINX_HEAD, NGINX_HTTP, NginxLua, RustySSR, Server  # noqa: E402

# The key both the rustyssr hook and the nginx content handler compute: the
# path, the page and the language (decoded query parameters). The page keeps
# hit-many's 10,000 URLs 10,000 distinct pages.
RS_KEY_HOOK = ('function(req) local q = req.query '
               'return req.path .. "|" .. (q.page or "1") .. "|" .. (q.lang or "en") end')
NGX_KEY = ('local q = ngx.req.get_uri_args() '
           'local key = ngx.var.uri .. "|" .. (q.page or "1") .. "|" .. (q.lang or "en")')


def lua_key(target):
    """What the key above gives for a request-target (the URLs here are plain)."""
    path, _, query = target.partition("?")
    q = dict(p.partition("=")[::2] for p in query.split("&") if p)
    return "%s|%s|%s" % (path, q.get("page", "1"), q.get("lang", "en"))


# ------------------------------------------------------------------ servers
class RustySSRConf(RustySSR):
    """rustyssr with bench/run's config plus `extra` (upstreams) and its
    own route lines in place of the one render route."""

    def __init__(self, ctx, name, label, routes, extra="", **kw):
        super().__init__(ctx, name, label, **kw)
        self.routes, self.extra = routes, extra

    def config_text(self):
        base = super().config_text()
        head, _, _ = base.rpartition('ssr.route("GET", "/*"')
        if self.extra:
            head = head.replace("  cache = {", self.extra + "  cache = {", 1)
        return head + self.routes


def NginxLuaKey(ctx, name, pages, label="nginx + lua, key in Lua", dict_mb=512):
    """nginx + lua-nginx-module, pages in a lua_shared_dict under the Lua key
    (servers.NginxLua), the key computed in content_by_lua from the decoded
    query arguments, as the hook does."""
    return NginxLua(ctx, name, pages, label=label, dict_mb=dict_mb, key_lua=NGX_KEY)


class NginxConf(Server):
    """nginx (no Lua) with a server block given as text (%(port)d in it)."""

    def __init__(self, ctx, name, label, kind, server_block, http_extra="", workers="auto"):
        super().__init__(ctx, name, label)
        self.kind = kind
        self.server_block, self.http_extra, self.workers = server_block, http_extra, workers

    def start(self):
        conf = self.path(self.name + ".conf")
        with open(conf, "w") as f:
            f.write(NGINX_HEAD % {"workers": self.workers, "tmp": self.ctx.tmp, "name": self.name})
            f.write("http {\n" + NGINX_HTTP + self.http_extra +
                    "  server {\n    listen 127.0.0.1:%d reuseport;\n" % self.port +
                    self.server_block + "  }\n}\n")
        self.proc = Proc(self.name, ["nginx", "-c", conf, "-p", self.ctx.tmp], self.path(self.name + ".log"))
        wait_port(self.port, self.proc)
        return self


# ------------------------------------------------------------------ helpers
def check(ctx, scenario, ok, what):
    ctx.checks.append({"scenario": scenario, "ok": bool(ok), "what": what})
    ctx.log("  check %s: %s — %s" % (scenario, "ok" if ok else "FAILED", what))


def _stop(*servers):
    for s in servers:
        if s is not None:
            s.stop()


def paired(a_runs, b_runs, key="rps"):
    return [a[key] / b[key] for a, b in zip(a_runs, b_runs) if b[key] > 0]


QUIET = float(os.environ.get("QUIET", 0.15))


def quiet_rounds(*servers):
    """Indexes of the rounds in which other processes used under QUIET of
    the machine during every server's run."""
    n = min(len(v["runs"]) for v in servers)
    return [i for i in range(n) if all(v["runs"][i]["others_cpu_share"] < QUIET for v in servers)]


def quiet_note(servers, ratios):
    """'In the N quiet rounds: name x, ...' for [(name, a, b)] ratios of req/s."""
    q = quiet_rounds(*servers)
    if not q:
        return "No round was quiet (other processes under %.0f%% of the machine in each run)." % (100 * QUIET)
    parts = []
    for name, x, y in ratios:
        parts.append("%s %s" % (name, fmt_range([x["runs"][i]["rps"] / y["runs"][i]["rps"] for i in q], 3)))
    return "In the %d round(s) where other processes used under %.0f%% of the machine during every run: %s." % (
        len(q), 100 * QUIET, "; ".join(parts))


def med(v):
    return statistics.median(v) if v else float("nan")


def table(ctx, sc, res, order, proxy=False):
    """Markdown rows of one scenario: a row per server."""
    rows = ["| server | req/s | p50 ms | p99 ms | p99.9 ms | errors | %s | others' CPU |%s" % (
                "CPU µs/req, backend included" if proxy else "CPU µs/req",
                " backend connections opened |" if proxy else ""),
            "|---|---|---|---|---|---|---|---|%s" % ("---|" if proxy else "")]
    for name in order:
        v = res[name]
        runs = v["runs"]
        errs = sum(r["errors"] for r in runs)
        rows.append("| %s | %s | %s | %s | %s | %s | %s | %s |" % (
            v["label"], fmt_range([r["rps"] for r in runs], kind="rps"),
            fmt_range([r["p50"] for r in runs]), fmt_range([r["p99"] for r in runs]),
            fmt_range([r["p999"] for r in runs]), errs if not errs else "**%d**" % errs,
            fmt_range([r["cpu_us_per_req"] for r in runs], 1),
            fmt_range([100 * r["others_cpu_share"] for r in runs], 0) + "%") +
            (" %s |" % fmt_range([r["backend_conns"] for r in runs if r.get("backend_conns") is not None], 0)
             if proxy else ""))
    return rows


def header(ctx, title, what):
    m = ctx.machine
    return [
        "## %s" % title, "",
        "%s. `%s`, %s. %d run(s) of %d s per server, rotated, after a %d s warm-up each; "
        "wrk -t%d -c%d --latency. Median (min–max) of the runs." % (
            what, ctx.cmd, ctx.date, ctx.runs, ctx.duration, ctx.warmup, ctx.wrk_threads, ctx.conns),
        "",
        "Machine: %s, %d CPUs, Linux %s; load average %s at the start, %s at the end. "
        "%s (%s); %s; lua-nginx-module %s; %s." % (
            m["cpu"], m["nproc"], m["kernel"], m["load_start"], ctx.load_end, ctx.versions["rustyssr"],
            ctx.versions["commit"], ctx.versions["nginx"], ctx.versions["nginx_lua"], ctx.versions["wrk"]),
        "",
        "\"others' CPU\" is the share of the machine's CPU that other processes (neither the server, "
        "nor wrk, nor this script) used during the run: the noise of a shared machine.",
        ""]


def loadavg():
    with open("/proc/loadavg") as f:
        return f.read().split()[0]


# ------------------------------------------------------------------ hooks
def hooks_phase(ctx, sc):
    """One scenario (hit or hit-many) of (a) render route, (b) the same with a
    key hook, (c) nginx + lua with the key in Lua."""
    a = b = c = None
    if sc == "hit":
        urls, load = [HIT_URL], Load(HIT_URL)
    else:
        urls, load = zipf_load(ctx)
    try:
        a = RustySSRConf(ctx, "rs-plain-" + sc, "(a) rustyssr, render route",
                         'ssr.route("GET", "/*", { render = true })\n').start()
        b = RustySSRConf(ctx, "rs-key-" + sc, "(b) rustyssr, render route + Lua key hook",
                         'ssr.route("GET", "/*", { render = true,\n  key = %s })\n' % RS_KEY_HOOK).start()
        t0 = time.monotonic()
        ra = client.fetch_many(a.port, urls, conns=4, want_body=True)
        rb = client.fetch_many(b.port, urls, conns=4, want_body=True)
        ctx.log("%s: both rustyssr filled with %d page(s) in %.1f s" % (sc, len(urls), time.monotonic() - t0))
        check(ctx, sc, all(r.status == 200 for r in ra + rb), "all %d pages rendered with 200 by (a) and (b)" % len(urls))
        pages = {lua_key(u): r.body for u, r in zip(urls, ra)}
        c = NginxLuaKey(ctx, "nginx-lua-key-" + sc, pages, label="(c) nginx + lua shared dict, key in Lua",
                        dict_mb=16 if sc == "hit" else 512).start()
        for i in sorted({0, len(urls) // 2, len(urls) - 1}):
            u = urls[i]
            bb, cc = client.get(b.port, u), client.get(c.port, u)
            check(ctx, sc, ra[i].body == bb.body == cc.body and "HIT" in bb.headers.get("x-cache", ""),
                  "(a), (b) and (c) send the same %d bytes for %s; (b) answers X-Cache: %s" % (
                      len(ra[i].body), u, bb.headers.get("x-cache")))
        r = ctx.results[sc] = compare(ctx, sc, [(a, load), (b, load), (c, load)])
        for s in (a, b):
            n = sum(x.get("renders", 0) for x in r[s.name]["runs"])
            check(ctx, sc, n == 0, "%s rendered %d times during the measured runs (all hits)" % (s.label, n))
        ctx.order[sc] = [a.name, b.name, c.name]
    finally:
        _stop(a, b, c)


def hooks_report(ctx):
    out = header(ctx, "A Lua `key` hook on the cache-hit path (`bench/hooks.sh`)",
                 "Cache hits of the demo page (~15 KB) from (a) a render route without hooks, (b) the same route "
                 "with `key = %s`, (c) nginx + lua-nginx-module (Debian's libnginx-mod-http-lua) serving the "
                 "same bytes from a `lua_shared_dict` under the same key, computed in `content_by_lua` as `%s`"
                 % (RS_KEY_HOOK, NGX_KEY))
    goals = []
    for sc in ctx.want:
        res = ctx.results.get(sc)
        if not res:
            out += ["### %s: not measured" % sc, ""]
            continue
        a, b, c = (res[n] for n in ctx.order[sc])
        out += ["### %s: %s" % (sc, "one URL, warm" if sc == "hit" else
                                 "10,000 URLs drawn from Zipf(0.99), all cached"), ""]
        out += table(ctx, sc, res, ctx.order[sc]) + [""]
        ba, bc = paired(b["runs"], a["runs"]), paired(b["runs"], c["runs"])
        ac = paired(a["runs"], c["runs"])
        cost = [1 - x for x in ba]
        cpu = paired(b["runs"], a["runs"], "cpu_us_per_req")
        dcpu = [x["cpu_us_per_req"] - y["cpu_us_per_req"] for x, y in zip(b["runs"], a["runs"])]
        out += ["Ratios of the req/s of the runs of one round: (b)/(a) %s, so the hook costs %s%%; (b)/(c) %s; "
                "(a)/(c) %s. Server CPU per request, (b) against (a): %s µs more (%sx); less sensitive to "
                "wrk's share of the cores than req/s, not to the other processes' use of the caches."
                % (fmt_range(ba, 3), fmt_range([100 * x for x in cost], 1), fmt_range(bc, 2),
                   fmt_range(ac, 2), fmt_range(dcpu, 1), fmt_range(cpu, 2)),
                "", quiet_note([a, b, c], [("(b)/(a)", b, a), ("(b)/(c)", b, c)]), ""]
        goals.append(("%s: the key hook costs under 15%% against the hook-free route" % sc,
                      "%s%% ((b)/(a) = %s)" % (fmt_range([100 * x for x in cost], 1), fmt_range(ba, 3)),
                      med(cost) < 0.15))
        goals.append(("%s: (b) ≥ 1.2x nginx + lua" % sc, "%sx" % fmt_range(bc, 2), med(bc) >= 1.2))
    out += goals_md(ctx, goals)
    return out, goals


def goals_md(ctx, goals):
    out = ["### Goals" if any(g[2] is not None for g in goals) else "### Summary", "",
           "| | figure (median of the rounds, min–max) | |", "|---|---|---|"]
    for text, fig, met in goals:
        out.append("| %s | %s | %s |" % (text, fig, "—" if met is None else "met" if met else "**missed**"))
    out.append("")
    bad = [c for c in ctx.checks if not c["ok"]]
    out.append("Checks: %d made, %s." % (len(ctx.checks), "all passed" if not bad else
                                         "**failed: %s**" % "; ".join(c["what"] for c in bad)))
    if ctx.failures:
        out.append("")
        out.append("**Not run: %s**" % "; ".join("%s (%s)" % f for f in ctx.failures))
    out.append("")
    return out


# ------------------------------------------------------------------ proxy
JSON_BODY = ('{"id":42,"name":"Кроссовки беговые","price":5990,"currency":"RUB","in_stock":true,'
             '"tags":["shoes","running","sale"],"rating":4.7,"reviews":318,'
             '"sizes":[38,39,40,41,42,43,44],"updated":"2026-11-24T04:00:00Z"}\n')
API_URL = "/api/products/42.json"

# Request headers nginx adds as the proxy action does (X-Forwarded-*, X-Request-Id), so that both send
# the backend the same request.
NGX_PROXY = """    location /api/ {
      proxy_pass http://api;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host $http_host;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
      proxy_set_header X-Forwarded-Proto $scheme;
      proxy_set_header X-Forwarded-Host $http_host;
      proxy_set_header X-Request-Id $request_id;
    }
"""


class Chain:
    """A proxy's Proc as measure.py sees it: its CPU seconds count the
    backend's too (the CPU of the whole chain per request, and the backend
    not taken for another process's noise); the rest is the proxy's own."""

    def __init__(self, proc, backend):
        self._proc, self._backend = proc, backend

    def cpu_seconds(self):
        return self._proc.cpu_seconds() + self._backend.proc.cpu_seconds()

    def __getattr__(self, k):
        return getattr(self._proc, k)


def stub_accepts(port):
    """Connections the backend accepted so far (its stub_status)."""
    with urllib.request.urlopen("http://127.0.0.1:%d/nginx_status" % port, timeout=10) as r:
        return int(r.read().decode().splitlines()[2].split()[0])


def proxy_phase(ctx):
    be = ng = rs = None
    try:
        www = os.path.join(ctx.tmp, "api-www")
        for d in ("api/products", "products"):      # with or without the prefix, the backend has it
            os.makedirs(os.path.join(www, d), exist_ok=True)
            with open(os.path.join(www, d, "42.json"), "w") as f:
                f.write(JSON_BODY)
        for dp, dn, fn in os.walk(www):
            os.chmod(dp, 0o755)
        be = NginxConf(ctx, "backend", "backend direct (nginx, a %d-byte JSON file)" % len(JSON_BODY.encode()),
                       "backend", "    root %s;\n    default_type application/json;\n"
                       "    location = /nginx_status { stub_status; }\n" % www,
                       http_extra="  etag off;\n", workers=ctx.backend_workers).start()
        upstream = ("  upstream api {\n    server 127.0.0.1:%d;\n    keepalive 64;\n"
                    "    keepalive_requests 1000000;\n  }\n" % be.port)
        ng = NginxConf(ctx, "nginx-proxy", "nginx proxy_pass (upstream keepalive 64)", "nginx",
                       NGX_PROXY, http_extra=upstream).start()
        rs = RustySSRConf(ctx, "rs-proxy", "rustyssr ssr.proxy (keepalive 64)",
                          'ssr.proxy("/api/", { upstream = "api" })\n',
                          extra='  upstreams = { api = { servers = { "127.0.0.1:%d" }, keepalive = 64 } },\n'
                          % be.port)
        try:
            rs.start()
        except Exception as e:      # the backend and nginx are still measured
            ctx.failures.append(("rustyssr proxy", str(e).strip().splitlines()[-1] if str(e).strip() else repr(e)))
            ctx.log("rustyssr with a proxy route did not start; measuring the backend and nginx alone:\n%s" % e)
            rs.stop()
            rs = None
        body = JSON_BODY.encode()
        servers = [s for s in (be, ng, rs) if s is not None]
        for s in servers:
            r = client.get(s.port, API_URL)
            check(ctx, "proxy", r.status == 200 and r.body == body,
                  "%s answers %s with %d and the backend's %d bytes (got %d)" % (
                      s.label, API_URL, r.status, len(body), len(r.body or b"")))
        # measure.py counts a server's renders() before and after each run:
        # here, the connections the backend accepted meanwhile (keepalive
        # reuse: a proxy that keeps its connections opens none in a run)
        for s in servers:
            s.renders = lambda: stub_accepts(be.port)
            if s is not be:
                s.proc = Chain(s.proc, be)
        entries = [(s, Load(API_URL)) for s in servers]
        ctx.order["proxy"] = ctx.order["proxy-light"] = [s.name for s in servers]
        ctx.results["proxy"] = compare(ctx, "proxy", entries)
        # one connection: the latency each hop adds, without queueing
        saved = ctx.conns, ctx.wrk_threads, ctx.duration, ctx.warmup
        ctx.conns, ctx.wrk_threads, ctx.duration = ctx.light_conns, 1, ctx.light_duration
        ctx.warmup = min(ctx.warmup, 1)
        try:
            ctx.results["proxy-light"] = compare(ctx, "proxy-light", entries)
        finally:
            ctx.conns, ctx.wrk_threads, ctx.duration, ctx.warmup = saved
        for sc in ("proxy", "proxy-light"):
            for v in ctx.results[sc].values():
                for r in v["runs"]:
                    n = r.pop("renders", None)      # less the stub_status request of the second reading
                    r["backend_conns"] = None if n is None else n - 1
                    r.pop("render_share", None)
        for s in servers:
            if isinstance(s.proc, Chain):
                s.proc = s.proc._proc
    finally:
        _stop(rs, ng, be)


def proxy_report(ctx):
    out = header(ctx, "The proxy action (`bench/proxy.sh`)",
                 "GET %s (a %d-byte JSON file) from a backend (nginx, %s worker(s), `root` + `open_file_cache`) "
                 "on loopback: directly, through nginx `proxy_pass` to an `upstream` block with `keepalive 64` "
                 "(`proxy_http_version 1.1`, `proxy_set_header Connection \"\"`, and the X-Forwarded-For/-Proto/"
                 "-Host and X-Request-Id headers rustyssr adds), and through rustyssr's `ssr.proxy(\"/api/\", "
                 "{ upstream = \"api\" })` with `upstreams = { api = { servers = { ... }, keepalive = 64 } }`"
                 % (API_URL, len(JSON_BODY.encode()), ctx.backend_workers))
    goals = []
    for sc, what in (("proxy", "wrk -t%d -c%d: throughput" % (ctx.wrk_threads, ctx.conns)),
                     ("proxy-light", "wrk -t1 -c%d, %d s runs: the latency each hop adds" % (
                         ctx.light_conns, ctx.light_duration))):
        res = ctx.results.get(sc)
        if not res:
            out += ["### %s: not measured" % sc, ""]
            continue
        be, ng, rs = ([res[n] for n in ctx.order[sc]] + [None])[:3]
        out += ["### %s" % what, ""] + table(ctx, sc, res, ctx.order[sc], proxy=True) + [""]
        add = lambda p, runs: [x[p] - y[p] for x, y in zip(runs, be["runs"])]
        if rs is None:
            out += ["rustyssr: not measured. Latency nginx adds over the backend direct (same round): "
                    "p50 +%s ms, p99 +%s ms." % (fmt_range(add("p50", ng["runs"]), 3),
                                                 fmt_range(add("p99", ng["runs"]), 3)), ""]
            continue
        rn = paired(rs["runs"], ng["runs"])
        out += ["rustyssr / nginx req/s (runs of one round): %s. Latency added over the backend direct "
                "(same round): rustyssr p50 +%s ms, p99 +%s ms; nginx p50 +%s ms, p99 +%s ms." % (
                    fmt_range(rn, 2), fmt_range(add("p50", rs["runs"]), 3), fmt_range(add("p99", rs["runs"]), 3),
                    fmt_range(add("p50", ng["runs"]), 3), fmt_range(add("p99", ng["runs"]), 3)),
                "", quiet_note([be, ng, rs], [("rustyssr / nginx", rs, ng), ("rustyssr / direct", rs, be),
                                              ("nginx / direct", ng, be)]), ""]
        if sc == "proxy":
            goals.append(("throughput, rustyssr / nginx proxy_pass (wrk -c%d)" % ctx.conns,
                          "%sx" % fmt_range(rn, 2), None))
        else:
            d = [x - y for x, y in zip(add("p50", rs["runs"]), add("p50", ng["runs"]))]
            goals.append(("p50 latency added over the backend, one connection: rustyssr − nginx",
                          "%s ms" % fmt_range(d, 3), None))
    out += goals_md(ctx, goals)
    return out, goals


# ------------------------------------------------------------------ main
def main():
    ap = argparse.ArgumentParser(prog="bench/lib/gateway.py", description=__doc__.split("\n\n")[0])
    ap.add_argument("what", choices=["hooks", "proxy"])
    ap.add_argument("--only", help="hooks: a subset of hit,hit-many")
    ap.add_argument("--runs", type=int, default=int(os.environ.get("RUNS", 5)))
    ap.add_argument("--duration", type=int, default=int(os.environ.get("DURATION", 6)))
    ap.add_argument("--warmup", type=int, default=int(os.environ.get("WARMUP", 3)))
    ap.add_argument("--conns", type=int, default=int(os.environ.get("CONNS", 100)))
    ap.add_argument("--wrk-threads", type=int, default=int(os.environ.get("THREADS", 2)))
    ap.add_argument("--out", help="Markdown file for the table (default bench/results-WHAT.md)")
    ap.add_argument("--keep-tmp", action="store_true")
    ap.add_argument("--from-json", metavar="FILE", help="only write the report again from the raw figures of "
                    "an earlier run (bench/results/last-WHAT.json)")
    a = ap.parse_args()

    ctx = type("Ctx", (), {})()
    ctx.root = os.path.dirname(os.path.dirname(HERE))
    if a.from_json:
        with open(a.from_json) as f:
            for k, v in json.load(f).items():
                setattr(ctx, k, v)
        ctx.failures = [tuple(x) for x in ctx.failures]
        if ctx.what != a.what:
            sys.exit("gateway.py: %s holds a %s run" % (a.from_json, ctx.what))
        return report(ctx, a)
    ctx.what = a.what
    ctx.cmd = "bench/%s.sh" % a.what + ("" if not sys.argv[2:] else " " + " ".join(sys.argv[2:]))
    env = " ".join("%s=%s" % (k, os.environ[k]) for k in ("RUNS", "DURATION", "WARMUP", "CONNS", "THREADS",
                                                          "LIGHT_CONNS", "LIGHT_DURATION", "BACKEND_WORKERS", "QUIET")
                   if k in os.environ)
    if env:
        ctx.cmd = env + " " + ctx.cmd
    ctx.scenarios = os.path.join(ctx.root, "bench", "scenarios")
    ctx.bundle = os.path.join(ctx.root, "bench", "app", "dist", "server.js")
    ctx.rustyssr = os.environ.get("RUSTYSSR_BIN") or os.path.join(ctx.root, "build", "release", "rustyssr")
    ctx.runs, ctx.duration, ctx.warmup = a.runs, a.duration, a.warmup
    ctx.conns, ctx.wrk_threads = a.conns, a.wrk_threads
    ctx.light_conns = int(os.environ.get("LIGHT_CONNS", 1))
    ctx.light_duration = int(os.environ.get("LIGHT_DURATION", 5))
    ctx.backend_workers = os.environ.get("BACKEND_WORKERS", "auto")
    ctx.cores = os.cpu_count()
    ctx.quick = False
    ctx.nonce = int(time.time()) % 100000 * 1000
    ctx.results, ctx.checks, ctx.notes, ctx.failures, ctx.order = {}, [], {}, [], {}
    ctx.want = ["hit", "hit-many"] if not a.only else [w.strip() for w in a.only.split(",") if w.strip()]
    if a.what == "hooks" and any(w not in ("hit", "hit-many") for w in ctx.want):
        ap.error("--only takes hit and/or hit-many")
    for f in (ctx.rustyssr, ctx.bundle):
        if not os.path.exists(f):
            sys.exit("gateway.py: %s is missing" % f)
    import run as runmod                      # start(), machine() and the phase loop of bench/run
    log, t_start, results_dir = runmod.start(ctx, "rustyssr-gw-", "last-%s.log" % a.what)
    log("%s: %s; %d run(s) of %d s, warm-up %d s; load average %s" % (
        ctx.cmd, ctx.versions["rustyssr"], ctx.runs, ctx.duration, ctx.warmup, ctx.machine["load_start"]))
    phases = ([(sc, lambda sc=sc: hooks_phase(ctx, sc)) for sc in ctx.want] if a.what == "hooks"
              else [("proxy", lambda: proxy_phase(ctx))])
    interrupted, left = runmod.run_phases(ctx, phases, log)
    if not os.environ.get("BENCH_TMP") and not a.keep_tmp:
        shutil.rmtree(ctx.tmp, ignore_errors=True)
    ctx.load_end = loadavg()
    if interrupted:
        sys.exit(130)
    log("done in %.1f min" % ((time.monotonic() - t_start) / 60))
    with open(os.path.join(results_dir, "last-%s.json" % a.what), "w") as f:
        json.dump({k: getattr(ctx, k) for k in SAVED}, f, indent=1, default=str)
    report(ctx, a)
    if ctx.failures or left:
        sys.exit(2)
    if any(not c["ok"] for c in ctx.checks):
        sys.exit(1)


# what bench/results/last-WHAT.json keeps: enough to write the report again (--from-json)
SAVED = ["what", "cmd", "date", "machine", "versions", "load_end", "runs", "duration", "warmup", "conns",
         "wrk_threads", "light_conns", "light_duration", "backend_workers", "want", "results", "checks",
         "failures", "order"]


def report(ctx, a):
    lines, goals = hooks_report(ctx) if ctx.what == "hooks" else proxy_report(ctx)
    text = "\n".join(lines)
    out = a.out or os.path.join(ctx.root, "bench", "results-%s.md" % ctx.what)
    with open(out, "w") as f:
        f.write(text)
    print(text)
    print("wrote %s" % out, file=sys.stderr)


if __name__ == "__main__":
    main()
