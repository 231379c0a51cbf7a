"""The render pool's new render.* keys and the web host APIs through the
real binary: render.env (process.env), render.semi_space_mb,
render.v8_flags (an unknown flag is a config error with file:line; valid
ones start), timers and MessageChannel while a render is pending, timers
cancelled at the end of a render and under the render timeout, a broken
promise chain reported by its error, a bundle built for Node.js.
The API semantics themselves are tests/unit/test_shim_v8.c's.

Bundles: tests/js/it_host.js, tests/js/node_target.js."""

import json
import os
import re
import signal
import threading
import time

from rslib import SLOW, TESTS, Server, lua_str, main, run_config_check, wait_log

JS = os.path.join(TESTS, "js")
BUNDLE = os.path.join(JS, "it_host.js")
ROUTES = '''
ssr.route("GET", "/*", { render = { cache = false } })
'''


def server(bundle=BUNDLE, **render):
    """render holds Lua source per render.* key."""
    render.setdefault("threads", "1")
    fields = ["bundle = %s" % lua_str(bundle)] + ["%s = %s" % kv for kv in render.items()]
    return Server(config={"render": "{ %s }" % ", ".join(fields)}, routes=ROUTES, workers=1)


def test_env_from_config():
    with server(env='{ API_URL = "http://api.internal", PORT = 8080 }') as srv:
        r = srv.get("/env")
        assert r.status == 200, r
        got = json.loads(r.body)
        assert got == {"NODE_ENV": "production", "API_URL": "http://api.internal", "PORT": "8080",
                       "keys": ["API_URL", "NODE_ENV", "PORT"]}, got
    with server(env='{ NODE_ENV = "development" }') as srv:
        got = json.loads(srv.get("/env").body)
        assert got["NODE_ENV"] == "development" and got["keys"] == ["NODE_ENV"], got
    with server() as srv:                      # no render.env: NODE_ENV alone
        got = json.loads(srv.get("/env").body)
        assert got["keys"] == ["NODE_ENV"] and got["NODE_ENV"] == "production", got


def test_bad_keys_are_config_errors():
    cases = [
        ('{ X = {} }', "env", r"rustyssr\.lua:\d+: ssr\.config: 'render\.env\.X' must be a string"),
        ('"NODE_ENV=x"', "env", r"rustyssr\.lua:\d+: ssr\.config: 'render\.env' must be a table"),
        ('"--no-such-flag-xyz --max-lazy"', "v8_flags",
         r"rustyssr\.lua:\d+: ssr\.config: 'render\.v8_flags': unknown or invalid V8 flag: --no-such-flag-xyz"),
        ('{ "--stack-size=abc" }', "v8_flags",
         r"rustyssr\.lua:\d+: ssr\.config: 'render\.v8_flags': unknown or invalid V8 flag: --stack-size=abc"),
        ('{ 5 }', "v8_flags", r"'render\.v8_flags' must be a list of strings"),
        ('0', "semi_space_mb", r"'render\.semi_space_mb' must be an integer between 1 and 1024"),
        ('20', "nice", r"rustyssr\.lua:\d+: ssr\.config: 'render\.nice' must be an integer between -20 and 19"),
        ('"high"', "nice", r"'render\.nice' must be an integer"),
    ]
    for value, key, want in cases:
        srv = server(**{key: value})
        code, out = run_config_check(srv.config_path)
        assert code == 1 and re.search(want, out), (key, value, code, out)
        srv.start(wait=False)
        try:
            rc = srv.proc.wait(30 * SLOW)
        finally:
            if srv.proc.poll() is None:
                srv.proc.kill()
                srv.proc.wait()
            srv.logf.close()
        assert rc == 1 and re.search(want, srv.log()), (key, value, rc, srv.log())


def test_v8_flags_and_semi_space_start():
    with server(v8_flags='{ "--max-lazy", "--stack-size=900" }', semi_space_mb="4") as srv:
        r = srv.get("/timers")
        assert r.status == 200, r
        log = srv.log()
        assert "young generation 12 MB, V8 flags --max-lazy --stack-size=900" in log, log


def thread_nices(pid):
    """{name: [nice, ...]} of the process's threads (/proc/PID/task): the
    render threads rs-render-N, the loop threads rs-loop-N, V8's "V8 ..."."""
    out = {}
    for tid in os.listdir("/proc/%d/task" % pid):
        with open("/proc/%d/task/%s/stat" % (pid, tid)) as f:
            head, _, rest = f.read().rpartition(")")
        name = head.split("(", 1)[1]
        kind = "render" if name.startswith("rs-render-") else "loop" if name.startswith("rs-loop-") \
            else "v8" if name.startswith("V8 ") else "other"
        out.setdefault(kind, []).append(int(rest.split()[16]))   # field 19: nice
    return out


def check_nices(srv, render, loop, loops=1):
    """The 2 render threads and V8's worker(s) at `render`, the `loops` loop
    threads at `loop`, every other thread at 0 (once both isolates are
    loaded: a render thread's load watch is a short-lived thread of its own)."""
    wait_log(srv, "render 1: isolate ready", 20)
    wait_log(srv, "render 0: isolate ready", 20)
    got = thread_nices(srv.proc.pid)
    assert got["render"] == [render, render], got
    assert got["v8"] and all(n == render for n in got["v8"]), got
    assert got["loop"] == [loop] * loops, got
    assert all(n == 0 for n in got["other"]), got


def may_lower_nice():
    """Whether this test (and so the server it starts) may lower a nice
    value: CAP_SYS_NICE in the effective set (bit 23)."""
    with open("/proc/self/status") as f:
        eff = [l for l in f if l.startswith("CapEff:")][0].split()[1]
    return bool(int(eff, 16) >> 23 & 1)


NO_CAP_SYS_NICE = ["setpriv", "--bounding-set=-sys_nice", "--inh-caps=-sys_nice", "--"]
FALLBACK_LINE = ("render.nice = -5: lowering a nice value needs root or CAP_SYS_NICE; the render threads "
                 "stay at 0 and the loop threads run at 5 (the same gap)")


def test_render_nice():
    # Raising the nice value is always allowed: the render threads and V8's
    # worker thread, and only they, run at it.
    with server(threads="2", nice="7") as srv:
        assert srv.get("/timers").status == 200
        check_nices(srv, 7, 0)
        code, out = run_config_check(srv.config_path)
        assert code == 0, out
    with server(threads="2", nice="0") as srv:     # no priority: every thread at 0
        assert srv.get("/timers").status == 200
        check_nices(srv, 0, 0)


def test_render_priority_by_default():
    # By default the render threads run 5 nice levels above the loop
    # threads: below 0 when the process may (root, CAP_SYS_NICE) ...
    with server(threads="2") as srv:
        assert srv.get("/timers").status == 200
        if may_lower_nice():
            check_nices(srv, -5, 0)
            assert FALLBACK_LINE not in srv.log(), srv.log()
        else:
            check_nices(srv, 0, 5)
            assert FALLBACK_LINE in srv.log(), srv.log()
    # ... and else by raising the loop threads instead: the same gap, which
    # is all that weighs inside the process's cgroup or autogroup.
    if os.geteuid() == 0:                          # (dropping a capability needs root's)
        srv = server(threads="2")
        srv.wrap = NO_CAP_SYS_NICE
        with srv:
            assert srv.get("/timers").status == 200
            check_nices(srv, 0, 5)
            assert srv.log().count(FALLBACK_LINE) == 1, srv.log()
            assert "not applied" not in srv.log(), srv.log()
            # Only a restart can lower the loop threads again: a reload that
            # changes render.nice keeps the running value, and says so.
            reload_with(srv, {"threads": "2", "nice": "-3"})
            assert re.search(r"reload: .*render\.nice \(without CAP_SYS_NICE.*cannot change without a "
                             r"restart", srv.log()), srv.log()
            check_nices(srv, 0, 5)
            assert srv.get("/timers").status == 200
        # Started under `nice -n 3`: the gap is kept from there.
        srv = server(threads="2")
        srv.wrap = ["nice", "-n", "3"] + NO_CAP_SYS_NICE
        with srv:
            assert srv.get("/timers").status == 200
            wait_log(srv, "render 1: isolate ready", 20)
            wait_log(srv, "render 0: isolate ready", 20)
            got = thread_nices(srv.proc.pid)
            assert got["render"] == [3, 3] and got["loop"] == [8], got
            assert all(n == 3 for n in got["v8"] + got["other"]), got
            assert "the render threads stay at 3 and the loop threads run at 8 (the same gap)" in srv.log(), \
                srv.log()


def render_nices_while_busy(srv, seconds):
    """The nice values rs-render-0 had while running (state R), sampled for
    `seconds`."""
    tids = [t for t in os.listdir("/proc/%d/task" % srv.proc.pid)
            if open("/proc/%d/task/%s/comm" % (srv.proc.pid, t)).read().strip() == "rs-render-0"]
    assert len(tids) == 1, tids
    seen, end = set(), time.time() + seconds
    while time.time() < end:
        with open("/proc/%d/task/%s/stat" % (srv.proc.pid, tids[0])) as f:
            rest = f.read().rpartition(")")[2].split()
        if rest[0] == "R":
            seen.add(int(rest[16]))
        time.sleep(0.005)
    return seen


def test_background_refresh_runs_at_the_loops_priority():
    # A render a client waits for goes before the hits (render.nice = -5);
    # a refresh nobody waits for yet (stale while revalidate) does not: it
    # runs at nice 0, the loop threads' value, and the thread goes back.
    cache_js = os.path.join(JS, "it_cache.js")
    srv = Server(workers=1, config={"render": '{ bundle = %s, threads = 1, timeout_ms = 5000 }' % lua_str(cache_js),
                                    "cache": "{ ttl = 1, grace = 30, ttl_jitter = 0, prefresh = false }"},
                 routes='ssr.route("GET", "/*", { render = true })')
    client_nice = -5 if may_lower_nice() else 0
    with srv:
        wait_log(srv, "render 0: isolate ready", 20)
        t = threading.Thread(target=lambda: srv.get("/slow/a"))   # a miss: busy 300 ms
        t.start()
        seen = render_nices_while_busy(srv, 0.2)
        t.join()
        assert seen == {client_nice}, seen
        time.sleep(1.2)                                            # past the TTL, within grace
        r = srv.get("/slow/a")
        assert r.status == 200 and r.header("x-cache") == "STALE", r
        seen = render_nices_while_busy(srv, 0.2)                   # its refresh: busy 300 ms
        assert seen == {0}, seen
        deadline = time.time() + 10 * SLOW
        while not (srv.get("/slow/a").header("x-cache") or "").startswith("HIT"):
            assert time.time() < deadline
            time.sleep(0.05)
        check_nices_render_only(srv, client_nice)


def check_nices_render_only(srv, want):
    got = thread_nices(srv.proc.pid)
    assert got["render"] == [want], got


def test_timers_and_messages_while_pending():
    with server() as srv:
        t0 = time.time()
        r = srv.get("/timers")
        assert r.status == 200 and r.body == b"<p>msg hi, t5, after 10 s</p>", r
        assert time.time() - t0 < 5 * SLOW           # the 10 s timer is virtual
        r = srv.get("/long")                          # resolves with a 10 s timer pending
        assert r.status == 200 and r.body == b"<p>fast</p>", r
        assert srv.get("/ticks").body == b"<p>0</p>"  # which never ran


def test_render_timeout_covers_timers():
    with server(timeout_ms="300") as srv:
        t0 = time.time()
        r = srv.get("/never")                         # never settles, an interval spins
        assert r.status == 504, r
        assert time.time() - t0 < 10 * SLOW
        before = srv.get("/ticks").body
        time.sleep(0.1)
        after = srv.get("/ticks").body                # the interval is gone
        assert before == after and before != b"<p>0</p>", (before, after)


def test_broken_chain_reports_its_error():
    with server(debug="true") as srv:
        r = srv.get("/broken")
        assert r.status == 500, r
        assert b"ReferenceError: missingApi is not defined" in r.body, r.body
        assert b"never settled" in r.body, r.body
        log = srv.log()
        assert "uncaught in a timer: ReferenceError: missingApi is not defined" in log, log
        assert re.search(r"render error for (GET )?/broken.*ReferenceError: missingApi is not defined", log), log


def reload_with(srv, render):
    """Rewrite the config with these render.* fields, SIGHUP, wait for it."""
    render = dict({"threads": "1"}, **render)
    fields = ["bundle = %s" % lua_str(BUNDLE)] + ["%s = %s" % kv for kv in render.items()]
    with open(srv.config_path, "w") as f:
        f.write('local ssr = require "rustyssr"\nssr.config {\n  listen = "127.0.0.1:%d", admin = '
                '"127.0.0.1:%d", workers = 1, pin = false,\n  render = { %s }\n}\n%s\n'
                % (srv.port, srv.admin_port, ", ".join(fields), ROUTES))
    n0 = srv.log().count(": reloaded ")
    srv.signal(signal.SIGHUP)
    deadline = time.time() + 20 * SLOW
    while srv.log().count(": reloaded ") == n0:
        assert time.time() < deadline and "reload failed" not in srv.log(), srv.log()
        time.sleep(0.02)


def test_reload_env_applies_flags_do_not():
    with server(env='{ API_URL = "old" }', v8_flags='"--max-lazy"') as srv:
        assert json.loads(srv.get("/env").body)["API_URL"] == "old"
        # render.env takes effect; a changed render.v8_flags is a warning
        reload_with(srv, {"env": '{ API_URL = "new" }', "v8_flags": '"--no-such-flag-xyz"'})
        assert json.loads(srv.get("/env").body)["API_URL"] == "new"
        assert "'render.v8_flags' changed; V8's flags are set once per process" in srv.log(), srv.log()
        loaded = [l for l in srv.log().splitlines() if "render: bundle" in l]
        assert len(loaded) >= 2 and loaded[-1].endswith("V8 flags --max-lazy"), loaded
        # the same flags again: no warning
        n = srv.log().count("'render.v8_flags' changed")
        reload_with(srv, {"env": '{ API_URL = "again" }', "v8_flags": '"--max-lazy"'})
        assert srv.log().count("'render.v8_flags' changed") == n, srv.log()
        assert json.loads(srv.get("/env").body)["API_URL"] == "again"


def test_node_target_bundle():
    srv = server(bundle=os.path.join(JS, "node_target.js"))
    code, out = run_config_check(srv.config_path)
    assert code == 1, out
    assert re.search(r"node_target\.js:2:\d+: ReferenceError: require is not defined; this bundle was "
                     r"built for Node\.js: build it for a browser or worker target \(see README "
                     r"'Bundling'\)", out), out


if __name__ == "__main__":
    main([test_env_from_config, test_bad_keys_are_config_errors, test_v8_flags_and_semi_space_start,
          test_render_nice, test_render_priority_by_default, test_background_refresh_runs_at_the_loops_priority,
          test_timers_and_messages_while_pending, test_render_timeout_covers_timers,
          test_broken_chain_reports_its_error, test_reload_env_applies_flags_do_not,
          test_node_target_bundle])
