"""Differential: the web host APIs of rustyssr's isolates against Node 20 on
the same hand-written bundle (tests/js/it_host_diff.js): structuredClone of
a corpus of values (described value by value, errors by name), timer
order, and MessageChannel delivery against microtasks. Node runs the bundle with vm.runInThisContext and calls render; the
gateway renders it over HTTP. Exits 77 (skipped, never a pass) when node is
not on the machine."""

import json
import os
import shutil
import subprocess
import sys

from rslib import SLOW, TESTS, Server, lua_str, main

BUNDLE = os.path.join(TESTS, "js", "it_host_diff.js")
SKIP = 77
NODE_RUN = r"""
const fs = require('fs'), vm = require('vm');
vm.runInThisContext(fs.readFileSync(process.argv[1], 'utf8'), { filename: process.argv[1] });
Promise.resolve(render({ path: process.argv[2] })).then(
  (v) => { process.stdout.write(JSON.stringify(v)); process.exit(0); },
  (e) => { process.stderr.write(String(e && e.stack || e)); process.exit(1); });
"""


def node(path):
    p = subprocess.run(["node", "-e", NODE_RUN, BUNDLE, path], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=60 * SLOW)
    assert p.returncode == 0, p.stderr.decode()
    return json.loads(p.stdout)


def compare(path):
    want = node(path)
    srv = Server(config={"render": "{ bundle = %s, threads = 1 }" % lua_str(BUNDLE)},
                 routes='ssr.route("GET", "/*", { render = { cache = false } })', workers=1)
    with srv:
        r = srv.get(path)
    assert r.status == 200, r
    got = r.body.decode("utf-8")
    if got != want:
        diff = [(i, a, b) for i, (a, b) in enumerate(zip(got.split("\n"), want.split("\n"))) if a != b]
        raise AssertionError("%s differs from node:\n%s" % (path, "\n".join(
            "  #%d rustyssr %r\n      node     %r" % d for d in diff) or (got, want)))


def test_structured_clone_like_node():
    compare("/clone")


def test_timer_order_like_node():
    compare("/timers")


def test_message_order_like_node():
    compare("/messages")


if __name__ == "__main__":
    if shutil.which("node") is None:
        print("skip: test_host_vs_node: node is not on this machine")
        sys.exit(SKIP)
    main([test_structured_clone_like_node, test_timer_order_like_node, test_message_order_like_node])
