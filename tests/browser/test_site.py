"""The demo site in Chromium: the example config (rustyssr.lua.example and its
routes/, ports swapped for free ones) with the real demo bundle, loaded by
tests/browser/site.mjs (playwright-core driving Debian's chromium): no console
error, no failed request, images decoded, the page hydrated.

Needs chromium (`scripts/setup --browser`), node and the npm packages of this
folder (installed from its package-lock.json on first use), and the demo
built (bench/app/dist). Without chromium it reports itself skipped (exit 77),
never passed; with RUSTYSSR_BROWSER=required (CI) a missing piece fails."""

import json
import os
import shutil
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "integration"))
from rslib import SLOW, TESTS, Server, free_port, main  # noqa: E402

REPO = os.path.dirname(TESTS)
DIST = os.path.join(REPO, "bench", "app", "dist")
SKIP = 77
REQUIRED = os.environ.get("RUSTYSSR_BROWSER") == "required"


def chromium():
    for name in (os.environ.get("RS_CHROMIUM"), "chromium", "chromium-browser"):
        if name and shutil.which(name):
            return shutil.which(name)
    return None


def unavailable(why):
    if REQUIRED:
        print("FAILED: browser test required (RUSTYSSR_BROWSER=required) but " + why)
        sys.exit(1)
    print("skip: browser/test_site: " + why)
    sys.exit(SKIP)


def npm_ci():
    """playwright-core from this folder's lockfile, once (npm ci)."""
    stamp = os.path.join(HERE, "node_modules", ".package-lock.json")
    lock = os.path.join(HERE, "package-lock.json")
    if os.path.exists(stamp) and os.path.getmtime(stamp) >= os.path.getmtime(lock):
        return
    p = subprocess.run(["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=HERE,
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=600)
    assert p.returncode == 0, "npm ci in tests/browser:\n" + p.stdout.decode()


def example_site():
    """The example config and routes, copied, on free ports, serving the built demo."""
    srv = Server(raw_config="-- replaced below\n")
    d = srv.dir
    shutil.copytree(os.path.join(REPO, "routes"), os.path.join(d, "routes"))
    swaps = {
        "127.0.0.1:8080": "127.0.0.1:%d" % srv.port,
        "127.0.0.1:9901": "127.0.0.1:%d" % srv.admin_port,
        "127.0.0.1:9000": "127.0.0.1:%d" % free_port(),
        "bench/app/dist/server.js": os.path.join(DIST, "server.js"),
        'workers = "auto"': "workers = 2",
        'threads = "auto"': "threads = 2",
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
        f.write(st.replace('"bench/app/dist/client"', '"%s"' % os.path.join(DIST, "client")))
    return srv


def test_demo_in_chromium():
    with example_site() as srv:
        p = subprocess.run(["node", os.path.join(HERE, "site.mjs"), "http://127.0.0.1:%d" % srv.port, chromium()],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=300 * SLOW,
                           env=dict(os.environ, RS_BROWSER_TIMEOUT_MS=str(int(30000 * SLOW))))
        out, err = p.stdout.decode(), p.stderr.decode()
        print("\n".join("# " + l for l in out.splitlines()))
        assert p.returncode == 0, "site.mjs failed (%d):\n%s\n%s\nserver log:\n%s" % (
            p.returncode, out, err, srv.log()[-4000:])
        pages = [json.loads(l) for l in out.splitlines() if l.startswith("{")]
        assert len(pages) == 4, out
        for pg in pages:
            assert not pg["problems"], pg
        for pg in pages[:3]:             # the 404 page has no product to put in the cart
            assert pg["hydrated"] and pg["hydrated"]["after"] != pg["hydrated"]["before"], pg
        assert pages[0]["images"] >= 48 and pages[1]["images"] >= 48, pages
        assert "/product/" in pages[2]["url"], pages[2]   # the card's /p/ID redirect
        assert pages[3]["status"] == 404, pages[3]
        # What the browser fetched came compressed where it can be.
        assert pages[0]["coded"] >= 3, pages[0]


if __name__ == "__main__":
    if chromium() is None:
        unavailable("chromium is not installed (scripts/setup --browser)")
    if shutil.which("node") is None or shutil.which("npm") is None:
        unavailable("node and npm are needed to drive it (playwright-core)")
    if not os.path.isfile(os.path.join(DIST, "server.js")) or \
            not os.path.isfile(os.path.join(DIST, "client", "i", "p0.svg")):
        unavailable("the demo is not built (cd bench/app && npm ci && npm run build)")
    npm_ci()
    main([test_demo_in_chromium])
