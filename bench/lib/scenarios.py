"""bench/lib/scenarios.py — the scenarios of bench/run, each with the
servers it compares (see bench/README.md for what each one means).

Every phase starts the servers it needs, fills their caches, checks that
they send the same bytes, runs measure.compare (warm-up, then alternated
runs) and stops them. Results go to ctx.results[scenario], checks to
ctx.checks (a failed check is reported in RESULTS.md, never hidden).
"""
import math
import os
import time

import client
from measure import Load, compare, measure, med
from servers import NginxLua, NginxStatic, Node, RustySSR

CATS = ["shoes", "electronics", "clothes", "home", "toys", "books", "beauty", "sport"]
HIT_URL = "/catalog/shoes?page=2"
MANY = 10000
ZIPF_S = 0.99
MIXED_SHARE = 0.05
HERD_CONNS = 500


def zipf_urls(n=MANY):
    """n distinct catalogue URLs, in rank order (the first is the most asked)."""
    return ["/catalog/%s?page=%d" % (CATS[k % 8], k // 8 + 1) for k in range(n)]


def zipf_load(ctx):
    """The hit-many URLs (zipf_urls()) and wrk's load over them: the list
    written to a file in ctx.tmp, scenarios/zipf.lua drawing from it."""
    urls = zipf_urls()
    urls_file = os.path.join(ctx.tmp, "zipf-urls.txt")
    with open(urls_file, "w") as f:
        f.write("\n".join(urls) + "\n")
    return urls, Load("/", "zipf.lua", args=lambda nonce: [urls_file, nonce, ZIPF_S])


def zipf_miss_share(x, n=MANY, s=ZIPF_S):
    """Share of requests that find their page expired, in the steady state,
    when x requests arrive per TTL (rate x TTL), Zipf(s) over n pages, grace
    0: page k is asked at rate λ_k = x p_k per TTL, renders once per
    TTL + 1/λ_k, so its requests miss with probability 1 / (1 + x p_k)."""
    w = [k ** -s for k in range(1, n + 1)]
    h = sum(w)
    return sum((wk / h) / (1 + x * wk / h) for wk in w)


def requests_per_ttl_for(share):
    lo, hi = 1.0, 1e9
    for _ in range(60):
        mid = math.sqrt(lo * hi)
        if zipf_miss_share(mid) > share:
            lo = mid
        else:
            hi = mid
    return math.sqrt(lo * hi)


def check(ctx, scenario, ok, what):
    ctx.checks.append({"scenario": scenario, "ok": bool(ok), "what": what})
    ctx.log("  check %s: %s — %s" % (scenario, "ok" if ok else "FAILED", what))


def same_bytes(ctx, scenario, a_name, a, b_name, b, url):
    check(ctx, scenario, a == b, "%s and %s send the same %d bytes for %s" % (a_name, b_name, len(a or b""), url))


def fill_node(ctx, scenario, node, urls):
    """Every worker of the cluster has its own LRU: ask for every URL on one
    connection per worker (the primary hands connections out round-robin),
    then on two per worker if the renders say some worker was missed."""
    r0 = node.renders()
    client.fetch_many(node.port, urls, conns=node.workers, every_conn_all=True)
    if node.renders() - r0 < node.workers * len(urls):
        client.fetch_many(node.port, urls, conns=2 * node.workers, every_conn_all=True)
    check(ctx, scenario, node.renders() - r0 >= node.workers * len(urls),
          "%s: every worker has the %d pages (%d renders)" % (node.label, len(urls), node.renders() - r0))


def _stop(*servers):
    for s in servers:
        if s is not None:
            s.stop()


# ------------------------------------------------------------------ hit, br, 304
def phase_static(ctx, want):
    rs = nginx = ngl = node = None
    try:
        rs = RustySSR(ctx, "rs-hit").start()
        ident = client.get(rs.port, HIT_URL)
        # The miss built the identity page only (its client took nothing
        # else); the first request taking br starts a background job that
        # adds the variants (README, "Variants on demand"): wait for it.
        deadline = time.time() + 10
        while True:
            br = client.get(rs.port, HIT_URL, {"Accept-Encoding": "br"})
            if br.headers.get("content-encoding") == "br" or time.time() > deadline:
                break
            time.sleep(0.05)
        check(ctx, "br", br.headers.get("content-encoding") == "br",
              "rustyssr answers Accept-Encoding: br with its br variant (%d bytes for %d)" % (
                  len(br.body), len(ident.body)))
        www = os.path.join(ctx.tmp, "www")
        os.makedirs(www, exist_ok=True)
        os.chmod(ctx.tmp, 0o755)
        os.chmod(www, 0o755)
        for name, body in (("page.html", ident.body), ("page.html.br", br.body)):
            with open(os.path.join(www, name), "wb") as f:
                f.write(body)
        nginx = NginxStatic(ctx, "nginx-static", www).start()
        same_bytes(ctx, "hit", "rustyssr", ident.body, "nginx", client.get(nginx.port, "/page.html").body, HIT_URL)
        entries_hit = [(rs, Load(HIT_URL)), (nginx, Load("/page.html"))]
        if "hit" in want:
            ngl = NginxLua(ctx, "nginx-lua-hit", {HIT_URL: ident.body}, dict_mb=16).start()
            node = Node(ctx, "node-lru-hit", "lru").start()
            fill_node(ctx, "hit", node, [HIT_URL])
            same_bytes(ctx, "hit", "rustyssr", ident.body, "nginx+lua", client.get(ngl.port, HIT_URL).body, HIT_URL)
            same_bytes(ctx, "hit", "rustyssr", ident.body, "node", client.get(node.port, HIT_URL).body, HIT_URL)
            entries_hit += [(ngl, Load(HIT_URL)), (node, Load(HIT_URL))]
            r = ctx.results["hit"] = compare(ctx, "hit", entries_hit)
            rs_renders = sum(x.get("renders", 0) for x in r[rs.name]["runs"])
            check(ctx, "hit", rs_renders == 0, "rustyssr rendered %d times during the measured runs (all hits)" % rs_renders)
            _stop(ngl, node)
            ngl = node = None
        if "br" in want:
            h = ["Accept-Encoding: br"]
            ctx.results["br"] = compare(ctx, "br", [(rs, Load(HIT_URL, headers=h)),
                                                    (nginx, Load("/page.html.br", headers=h))])
        if "304" in want:
            rs_etag = ident.headers["etag"]
            ng = client.get(nginx.port, "/page.html")
            ng_etag = ng.headers["etag"]
            a = client.get(rs.port, HIT_URL, {"If-None-Match": rs_etag})
            b = client.get(nginx.port, "/page.html", {"If-None-Match": ng_etag})
            check(ctx, "304", a.status == 304 and b.status == 304,
                  "If-None-Match answered 304 by rustyssr (%d) and nginx (%d)" % (a.status, b.status))
            ctx.results["304"] = compare(ctx, "304", [
                (rs, Load(HIT_URL, headers=["If-None-Match: " + rs_etag])),
                (nginx, Load("/page.html", headers=["If-None-Match: " + ng_etag]))])
    finally:
        _stop(rs, nginx, ngl, node)


# ------------------------------------------------------------------ hit-many
def phase_hit_many(ctx):
    rs = ngl = node = None
    urls, load = zipf_load(ctx)
    try:
        rs = RustySSR(ctx, "rs-hit-many").start()
        t0 = time.monotonic()
        resp = client.fetch_many(rs.port, urls, conns=4, want_body=True)
        ctx.log("hit-many: rustyssr filled with %d pages in %.1f s" % (len(urls), time.monotonic() - t0))
        check(ctx, "hit-many", all(r.status == 200 for r in resp), "all %d pages rendered with 200" % len(urls))
        pages = {u: r.body for u, r in zip(urls, resp)}
        ngl = NginxLua(ctx, "nginx-lua-many", pages).start()
        node = Node(ctx, "node-lru-many", "lru").start()
        t0 = time.monotonic()
        fill_node(ctx, "hit-many", node, urls)
        ctx.log("hit-many: node filled (%d workers x %d pages) in %.1f s" % (node.workers, len(urls),
                                                                            time.monotonic() - t0))
        for u in (urls[0], urls[4321], urls[-1]):
            same_bytes(ctx, "hit-many", "rustyssr", pages[u], "nginx+lua", client.get(ngl.port, u).body, u)
            same_bytes(ctx, "hit-many", "rustyssr", pages[u], "node", client.get(node.port, u).body, u)
        m0 = rs.metrics()
        r = ctx.results["hit-many"] = compare(ctx, "hit-many", [(rs, load), (ngl, load), (node, load)])
        m1 = rs.metrics()
        rs_renders = sum(x.get("renders", 0) for x in r[rs.name]["runs"])
        nd_renders = sum(x.get("renders", 0) for x in r[node.name]["runs"])
        check(ctx, "hit-many", rs_renders == 0 and nd_renders == 0,
              "renders during the measured runs: rustyssr %d, node %d (all hits)" % (rs_renders, nd_renders))
        d = lambda k: m1.get(k, 0) - m0.get(k, 0)
        hits = d("rustyssr_cache_hits_l1_total") + d("rustyssr_cache_hits_l2_total")
        if hits:
            ctx.notes["hit-many"] = ("rustyssr answered %.1f%% of its hits from the loop thread's L1, "
                                     "%.1f%% from L2" % (100 * d("rustyssr_cache_hits_l1_total") / hits,
                                                         100 * d("rustyssr_cache_hits_l2_total") / hits))
    finally:
        _stop(rs, ngl, node)


# ------------------------------------------------------------------ miss
def phase_miss(ctx):
    rs = rs0 = node = None
    load = Load("/", "unique.lua", args=lambda nonce: [nonce])
    try:
        rs = RustySSR(ctx, "rs-miss").start()
        # the render pool alone, as the Node peer works: no page cache, so no
        # gzip and br variants built after each render
        rs0 = RustySSR(ctx, "rs-miss-nocache", label="rustyssr, cache = false", cache=False).start()
        rs0.kind = "rustyssr-nocache"
        node = Node(ctx, "node-none", "none").start()
        u = "/catalog/books?page=7&sort=cheap&u=check"
        same_bytes(ctx, "miss", "rustyssr", client.get(rs.port, u).body, "node", client.get(node.port, u).body, u)
        r = ctx.results["miss"] = compare(ctx, "miss", [(rs, load), (node, load), (rs0, load)])
        for s in (rs, rs0, node):
            shares = [x["render_share"] for x in r[s.name]["runs"]]
            # renders >= requests: wrk counts answers it read by the end, the
            # server counts renders finished (a few more, in flight at the stop)
            check(ctx, "miss", min(shares) >= 0.99,
                  "%s rendered every request: renders / requests per run = %s" % (
                      s.label, ", ".join("%.3f" % x for x in shares)))
    finally:
        _stop(rs, rs0, node)


# ------------------------------------------------------------------ herd
def phase_herd(ctx):
    rs = node = None
    out = ctx.results["herd"] = {}
    try:
        rs = RustySSR(ctx, "rs-herd").start()
        node = Node(ctx, "node-lru-herd", "lru").start()
        servers = [rs, node]
        for s in servers:
            out[s.name] = {"label": s.label, "kind": s.kind, "runs": []}
            client.herd(s.port, "/catalog/toys?page=3&herd=warm-up", HERD_CONNS)   # warm-up
        for i in range(max(ctx.runs, 3)):
            for s in servers[i % 2:] + servers[:i % 2]:
                ctx.nonce += 1
                url = "/catalog/toys?page=3&herd=%d" % ctx.nonce
                time.sleep(0.3)
                r0, c0 = s.renders(), s.proc.cpu_seconds()
                m0 = rs.metrics() if s is rs else {}
                h = client.herd(s.port, url, HERD_CONNS)
                time.sleep(0.2)
                r1, c1 = s.renders(), s.proc.cpu_seconds()
                m1 = rs.metrics() if s is rs else {}
                lat = sorted(h["latencies_s"])
                pct = lambda p: 1000 * lat[min(len(lat) - 1, int(math.ceil(p / 100 * len(lat))) - 1)] if lat else float("nan")
                res = {"renders": r1 - r0, "cpu_s": c1 - c0, "answered": len(lat),
                       "statuses": h["statuses"], "xcache": h["xcache"], "errors": h["errors"],
                       "p50": pct(50), "p99": pct(99), "p999": pct(99.9), "max": 1000 * lat[-1] if lat else float("nan"),
                       "connect_ms": 1000 * h["connect_s"], "send_ms": 1000 * h["send_s"],
                       "coalesced": m1.get("rustyssr_cache_coalesced_total", 0) - m0.get("rustyssr_cache_coalesced_total", 0)}
                out[s.name]["runs"].append(res)
                ctx.log("  herd      run %d  %-28s renders %d  answered %d %s  p50 %.1f ms  p99 %.1f ms  "
                        "max %.1f ms  errors %d" % (i + 1, s.label, res["renders"], res["answered"],
                                                    res["statuses"], res["p50"], res["p99"], res["max"], res["errors"]))
        for s in servers:
            out[s.name]["peak_rss_mb"] = s.proc.peak_rss_mb()
        rr = [int(x["renders"]) for x in out[rs.name]["runs"]]
        ok200 = all(x["statuses"].get(200, 0) == HERD_CONNS and x["errors"] == 0 for x in out[rs.name]["runs"])
        check(ctx, "herd", all(n == 1 for n in rr) and ok200,
              "rustyssr: renders per herd of %d = %s; every connection answered 200: %s" % (
                  HERD_CONNS, rr, "yes" if ok200 else "no"))
    finally:
        _stop(rs, node)


# ------------------------------------------------------------------ mixed
def mixed_ttl(ctx):
    """The TTL (s) that makes ~5% of the hit-many traffic render, from the
    steady-state model and rustyssr's own hit-many and miss rates in this
    run (defaults when those were not measured)."""
    def rate(sc, default):
        r = ctx.results.get(sc, {})
        for v in r.values():
            if v["kind"] == "rustyssr" and v["runs"]:
                return med([x["rps"] for x in v["runs"]])
        return default
    h, m = rate("hit-many", 30000.0), rate("miss", 1500.0)
    r_mixed = 1.0 / ((1 - MIXED_SHARE) / h + MIXED_SHARE / m)
    x = requests_per_ttl_for(MIXED_SHARE)
    ttl = max(1, int(round(x / r_mixed)))
    ctx.notes["mixed-model"] = (
        "TTL %d s, grace 0: chosen so that ~%.0f%% of requests render in the steady state of Zipf(%.2f) over "
        "%d pages (%.0f requests per TTL), at the rate expected from this run's rustyssr hit-many "
        "(%.0f req/s) and miss (%.0f req/s) figures: %.0f req/s" % (
            ttl, 100 * MIXED_SHARE, ZIPF_S, MANY, x, h, m, r_mixed))
    return ttl


def phase_mixed(ctx):
    rs = node = None
    urls, load = zipf_load(ctx)
    ttl = mixed_ttl(ctx)
    ctx.log("mixed: " + ctx.notes["mixed-model"])
    try:
        rs = RustySSR(ctx, "rs-mixed", ttl=ttl, grace=0).start()
        node = Node(ctx, "node-lru-mixed", "lru", ttl_ms=1000 * ttl).start()
        if not ctx.quick:           # --quick: the warm-up and pre-roll fill them
            client.fetch_many(rs.port, urls, conns=4)
            fill_node(ctx, "mixed", node, urls)
        # Pages filled (or rendered) together expire together: each measured
        # run follows a TTL of the same load, unmeasured, so that it starts in
        # the cache's steady state rather than after an idle gap (the other
        # server's run) in which every hot page expired at once.
        preroll = ttl if not ctx.quick else min(ttl, ctx.duration)
        ctx.notes["mixed-preroll"] = "each measured run was preceded by %d s of the same load" % preroll
        r = ctx.results["mixed"] = compare(ctx, "mixed", [(rs, load), (node, load)], preroll=preroll)
        shares = {s.name: [x["render_share"] for x in r[s.name]["runs"]] for s in (rs, node)}
        ctx.notes["mixed"] = "measured share of requests rendered per run: rustyssr %s; node %s (TTL %d s, grace 0)" % (
            ", ".join("%.1f%%" % (100 * x) for x in shares[rs.name]),
            ", ".join("%.1f%%" % (100 * x) for x in shares[node.name]), ttl)
        r[rs.name]["ttl"] = ttl
    finally:
        _stop(rs, node)


# ------------------------------------------------------------------ scaling
def phase_scaling(ctx):
    servers = []
    try:
        for n in (1, 2):
            for pin in (True, False):
                servers.append(RustySSR(ctx, "rs-scale-%d-%s" % (n, "pin" if pin else "nopin"),
                                        label="rustyssr %d worker%s + %d render thread%s, pin %s" % (
                                            n, "" if n == 1 else "s", n, "" if n == 1 else "s",
                                            "on" if pin else "off"),
                                        workers=n, threads=n, pin=pin).start())
        for s in servers:
            s.n, s.pinned = s.workers, s.pin
            client.get(s.port, HIT_URL)
        ctx.results["scale-hit"] = compare(ctx, "scale-hit", [(s, Load(HIT_URL)) for s in servers])
        load = Load("/", "unique.lua", args=lambda nonce: [nonce])
        ctx.results["scale-miss"] = compare(ctx, "scale-miss", [(s, load) for s in servers])
        for sc in ("scale-hit", "scale-miss"):
            for s in servers:
                ctx.results[sc][s.name].update({"workers": s.n, "pin": s.pinned})
    finally:
        _stop(*servers)
