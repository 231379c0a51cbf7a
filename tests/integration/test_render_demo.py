"""The demo page (bench/app/dist/server.js) rendered by rustyssr and by Node
(bench/node/render-urls.js) for the same 20 URLs: the bytes must be the same,
through a render route with the page cache (a MISS, then a HIT) and without.

Needs node and the built bundle (scripts/run builds it, or
`cd bench/app && npm ci && npm run build`). When either is missing the test
prints why and exits 77, which tests/CMakeLists.txt maps to "skipped"
(SKIP_RETURN_CODE 77)."""

import json
import os
import shutil
import subprocess
import sys
import tempfile

from rslib import SLOW, TESTS, Server, lua_str, main

ROOT = os.path.dirname(TESTS)
DEMO = os.path.join(ROOT, "bench", "app", "dist", "server.js")
RENDER_URLS = os.path.join(ROOT, "bench", "node", "render-urls.js")
SKIP = 77

URLS = [
    "/catalog/shoes?page=2",
    "/catalog/electronics",
    "/catalog/clothes?page=3&sort=cheap",
    "/catalog/clothes?sort=cheap&page=3",              # the same cache key as the one above
    "/catalog/home?page=2&sort=rating",
    "/catalog/toys?page=5",
    "/catalog/books?q=%D0%BA%D0%BD%D0%B8%D0%B3%D0%B0",  # Cyrillic, percent-encoded
    "/catalog/beauty?q=a+b%20c",                       # '+' and %20
    "/catalog/sport?tag=a&tag=b&tag=c",                # a repeated name: an array
    "/catalog/unknown-slug?page=4",
    "/catalog/%D0%BE%D0%B1%D1%83%D0%B2%D1%8C",         # an encoded path, passed as received
    "/",
    "/catalog/shoes/",
    "/catalog/shoes?page=2&page=3",
    "/catalog/shoes?page=99999",
    "/catalog/shoes?empty=&flag",
    "/catalog/shoes?x=%FF%FE",                         # not UTF-8 once decoded
    "/catalog/shoes?x=%E2%9C",                         # a cut UTF-8 sequence
    "/catalog/shoes?x=100%25&y=%zz",                   # an escaped '%', an invalid escape
    "/product/123?ref=home",
    "/search?q=%D0%BA%D0%B5%D0%B4%D1%8B&sort=cheap",
    "/nope",                                           # a path the site does not have: its 404 page
]
# What the demo answers with its 404 page: unknown category slugs and paths.
NOT_FOUND = {"/catalog/unknown-slug?page=4", "/catalog/%D0%BE%D0%B1%D1%83%D0%B2%D1%8C", "/nope"}


def skip(why):
    print("skip: test_render_demo: " + why)
    sys.exit(SKIP)


def node_pages(out_dir):
    p = subprocess.run(["node", RENDER_URLS, "--bundle", DEMO, "--header", "host: localhost",
                        "--out", out_dir] + URLS,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=120 * SLOW)
    assert p.returncode == 0, p.stderr.decode() + p.stdout.decode()
    res = json.loads(p.stdout)
    assert [r["url"] for r in res] == URLS, res
    pages = []
    for r in res:
        assert r["status"] == (404 if r["url"] in NOT_FOUND else 200), r
        with open(r["file"], "rb") as f:
            pages.append(f.read())
    return pages


def cache_key(url):
    """DESIGN.md's default key: path + the query's parameters sorted by name
    (stable, so a repeated name keeps its order)."""
    path, _, query = url.partition("?")
    parts = sorted((p for p in query.split("&") if p), key=lambda p: p.partition("=")[0])
    return path + "?" + "&".join(parts)


def compare(srv, pages, rounds):
    for url, want in zip(URLS, pages):
        for i in range(rounds):
            r = srv.get(url)
            assert r.status == (404 if url in NOT_FOUND else 200), (url, r)
            assert r.header("content-type") == "text/html; charset=utf-8", (url, r)
            if r.body != want:
                at = next((k for k in range(min(len(r.body), len(want))) if r.body[k] != want[k]),
                          min(len(r.body), len(want)))
                raise AssertionError("%s (request %d, X-Cache %s): rustyssr %d bytes, node %d bytes, first "
                                     "difference at byte %d:\n  rustyssr %r\n  node     %r" % (
                                         url, i + 1, r.header("x-cache"), len(r.body), len(want), at,
                                         r.body[max(0, at - 40):at + 40], want[max(0, at - 40):at + 40]))


def demo_server(routes):
    return Server(config={"render": "{ bundle = %s, threads = 2 }" % lua_str(DEMO)}, routes=routes)


def test_demo_bytes_match_node_uncached():
    with tempfile.TemporaryDirectory(prefix="rs-demo-") as d:
        pages = node_pages(d)
    assert len(set(pages)) == len(URLS), "expected %d distinct pages" % len(URLS)
    with demo_server('ssr.route("GET", "/*", { render = { cache = false } })') as srv:
        compare(srv, pages, rounds=2)


def test_demo_bytes_match_node_through_the_cache():
    with tempfile.TemporaryDirectory(prefix="rs-demo-") as d:
        pages = node_pages(d)
    # URLs whose default cache key is the same share the page of the first
    # one asked: the demo page embeds the query in request order, so
    # ?sort=cheap&page=3 gets the bytes rendered for ?page=3&sort=cheap.
    first = {}
    for url, page in zip(URLS, pages):
        first.setdefault(cache_key(url), page)
    pages = [first[cache_key(u)] for u in URLS]
    assert len(set(pages)) == len(URLS) - 1, "expected exactly one shared key"
    with demo_server('ssr.route("GET", "/*", { render = true })') as srv:
        compare(srv, pages, rounds=2)       # a MISS (rendered), then a HIT (stored bytes)


if __name__ == "__main__":
    if shutil.which("node") is None:
        skip("node is not installed")
    if not os.path.isfile(DEMO):
        skip("%s is not built (cd bench/app && npm ci && npm run build)" % DEMO)
    main([test_demo_bytes_match_node_uncached, test_demo_bytes_match_node_through_the_cache])
