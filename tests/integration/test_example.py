"""rustyssr.lua.example and its route modules (routes/), started for real:
every route the example documents answers as its comments say. The demo
app needs npm, which tests must not: the copy run here points the bundle at
a hand-written one (tests/js/it_hooks.js, which echoes its props) and the
static root at the test fixtures, and takes free ports."""

import os
import shutil
import signal

from rslib import TESTS, Server, free_port, main, wait_log

REPO = os.path.dirname(TESTS)


def example_copy():
    """A Server running a copy of the example in a temporary folder."""
    srv = Server(raw_config="-- replaced below\n")
    d = srv.dir
    shutil.copytree(os.path.join(REPO, "routes"), os.path.join(d, "routes"))
    backend = srv.backend_port = free_port()
    swaps = {
        "127.0.0.1:8080": "127.0.0.1:%d" % srv.port,
        "127.0.0.1:9901": "127.0.0.1:%d" % srv.admin_port,
        "127.0.0.1:9000": "127.0.0.1:%d" % backend,
        "bench/app/dist/server.js": os.path.join(TESTS, "js", "it_hooks.js"),
        'workers = "auto"': "workers = 2",
        "pin = true": "pin = false",
    }
    text = open(os.path.join(REPO, "rustyssr.lua.example")).read()
    for a, b in swaps.items():
        assert a in text, a
        text = text.replace(a, b)
    with open(srv.config_path, "w") as f:
        f.write(text)
    site = os.path.join(d, "routes", "site.lua")
    st = open(site).read()
    assert '"bench/app/dist/client"' in st
    with open(site, "w") as f:
        f.write(st.replace('"bench/app/dist/client"', '"%s"' % os.path.join(TESTS, "static")))
    return srv


def get(srv, path, headers=None, port=None, method="GET"):
    return srv.get(path, headers, port=port, method=method)


def test_example_serves_every_route():
    with example_copy() as srv:
        r = get(srv, "/health")
        assert r.status == 200 and r.body == b"ok\n", r
        assert r.header("cache-control") == "no-store", r

        r = get(srv, "/assets/hello.txt")
        assert r.status == 200 and r.header("etag"), r

        # "/": rendered and cached; a session cookie bypasses, in C.
        assert get(srv, "/").header("x-cache") == "MISS"
        assert get(srv, "/").header("x-cache").startswith("HIT")
        r = get(srv, "/", {"Cookie": "session=abc"})
        assert r.status == 200 and r.header("x-cache") == "BYPASS", r

        # /catalog/:slug: the key hook ignores tracking parameters.
        a = get(srv, "/catalog/shoes?page=2&utm_source=mail")
        b = get(srv, "/catalog/shoes?utm_campaign=x&page=2")
        assert a.header("x-cache") == "MISS" and b.header("x-cache").startswith("HIT"), (a, b)
        assert get(srv, "/catalog/shoes?page=3").header("x-cache") == "MISS"
        assert get(srv, "/catalog/shoes?preview=1").header("x-cache") == "BYPASS"

        # /product/:id: props fetched from the backend listener reach the bundle.
        r = get(srv, "/product/7")
        assert r.status == 200 and r.header("x-product-source") == "backend", r
        assert b'"categoryTitle":"Ball 7"' in r.body, r.body
        assert b'"id":7' in r.body, r.body
        r = get(srv, "/product/7")
        assert r.header("x-cache").startswith("HIT"), r
        # The backend says 404: the bundle gets { notFound = true } and renders
        # its 404 page (the demo's; this test's bundle echoes the props).
        r = get(srv, "/product/99999999")
        assert b'{"notFound":true}' in r.body, r

        # Redirects: from Lua with the :id, and a fixed one keeping the query.
        r = get(srv, "/p/42")
        assert r.status == 301 and r.header("location") == "/product/42", r
        r = get(srv, "/shop?sort=cheap")
        assert r.status == 302 and r.header("location") == "/catalog/shoes?sort=cheap", r

        # /api/*: proxied to the upstream (the backend listener), GETs cached.
        r = get(srv, "/api/products/3")
        assert r.status == 200 and r.header("content-type") == "application/json", r
        assert b'"id":3' in r.body and r.header("x-cache") == "MISS", r
        r = get(srv, "/api/products/3")
        assert r.header("x-cache").startswith("HIT"), r
        r = get(srv, "/api/products/0")
        assert r.status == 404, r

        # /hello/:name: two fetches in parallel.
        r = get(srv, "/hello/ann")
        assert r.status == 200 and r.body == b"hello, ann; today: Headphones 1, Jacket 2\n", r

        # The backend listener has its own routes, and not the site's.
        r = get(srv, "/products/5", port=srv.backend_port)
        assert r.status == 200 and b'"id":5' in r.body, r
        assert get(srv, "/health", port=srv.backend_port).status == 404
        r = get(srv, "/products/5")      # on the site: the catch-all render
        assert r.status == 200 and r.body.startswith(b"<html>"), r

        # The purge webhook drops the catalogue pages, by tag, from Lua.
        r = get(srv, "/hooks/purge?tag=catalog", port=srv.backend_port, method="POST")
        assert r.status == 200 and r.body == b'{"purged":2}\n', r
        assert get(srv, "/catalog/shoes?page=2").header("x-cache") == "MISS"
        r = get(srv, "/hooks/purge", port=srv.backend_port, method="POST")
        assert r.status == 400, r

        # A reload of the example keeps everything serving.
        srv.signal(signal.SIGHUP)
        wait_log(srv, "reloaded", timeout=20)
        assert get(srv, "/health").status == 200
        assert get(srv, "/product/7").status == 200


def test_example_config_checks():
    """`rustyssr -t` accepts the example as shipped (bundle swapped)."""
    import subprocess
    from rslib import BIN
    srv = example_copy()
    out = subprocess.run([BIN, "-t", "-c", srv.config_path], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "test is successful" in out.stdout + out.stderr


if __name__ == "__main__":
    main([test_example_serves_every_route, test_example_config_checks])
