"""The command line: -t on good and bad configs, a bad config at start,
-V, bad options, a port already in use. Each bad config fixture in
tests/lua/bad_*.lua states the message it must produce in an 'Expected:'
comment; the test holds the binary to it (file:line and reason)."""

import glob
import os
import re
import socket
import subprocess

from rslib import BIN, TESTS, Server, main, run_config_check


def expected_message(path):
    text = open(path).read()
    comment = " ".join(l.lstrip("-").strip() for l in text.splitlines() if l.startswith("--"))
    m = re.search(r'Expected:\s*"(.*)"', comment)
    assert m, "fixture %s has no Expected: comment" % path
    return m.group(1)


def bad_fixtures():
    files = sorted(glob.glob(os.path.join(TESTS, "lua", "bad_*.lua")))
    assert len(files) >= 4, files
    return files


def test_check_bad_configs():
    for path in bad_fixtures():
        code, out = run_config_check(path, test=True)
        assert code == 1, (path, code, out)
        want = expected_message(path)
        # The message names the file as given on the command line.
        assert want in out, "%s: wanted %r in %r" % (path, want, out)
        assert "test failed" in out, out


def test_start_with_bad_config_exits_nonzero():
    for path in bad_fixtures():
        code, out = run_config_check(path, test=False)
        assert code == 1, (path, code, out)
        assert expected_message(path) in out, (path, out)
        assert "ready" not in out


def test_check_good_config():
    srv = Server(routes='ssr.respond("/x", 200, "x")')
    code, out = run_config_check(srv.config_path, test=True)
    assert code == 0, out
    assert "test is successful" in out, out


def test_missing_config_file():
    code, out = run_config_check("/nonexistent/rustyssr.lua", test=True)
    assert code == 1, out
    assert "/nonexistent/rustyssr.lua" in out and "No such file" in out, out


def test_version_and_usage():
    p = subprocess.run([BIN, "-V"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    assert p.returncode == 0 and re.match(rb"rustyssr \d+\.\d+\.\d+ \(V8 [^)]+\)", p.stdout), p.stdout
    p = subprocess.run([BIN, "-x"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    assert p.returncode == 2 and b"usage:" in p.stdout, p.stdout


def test_require_prefers_the_config_folder():
    """A route module beside the config wins over one of the same name in the
    current directory (there: a typo that must not be what -t checks)."""
    import tempfile
    site, other = tempfile.mkdtemp(prefix="rs-site-"), tempfile.mkdtemp(prefix="rs-cwd-")
    for d, body in ((site, 'local ssr = require "rustyssr"\nssr.respond("/x", 200, "site")\n'),
                    (other, 'local ssr = require "rustyssr"\nssr.respond("/x", 200, \n')):
        os.makedirs(os.path.join(d, "routes"))
        with open(os.path.join(d, "routes", "r.lua"), "w") as f:
            f.write(body)
    conf = os.path.join(site, "rustyssr.lua")
    with open(conf, "w") as f:
        f.write('local ssr = require "rustyssr"\nssr.config { listen = "127.0.0.1:1" }\nrequire "routes.r"\n')
    p = subprocess.run([BIN, "-t", "-c", conf], cwd=other, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    assert p.returncode == 0 and b"test is successful" in p.stdout, p.stdout
    # The fallback still works: a module only in the current directory.
    os.rename(os.path.join(site, "routes"), os.path.join(site, "gone"))
    p = subprocess.run([BIN, "-t", "-c", conf], cwd=other, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    assert p.returncode == 1 and b"routes/r.lua:3" in p.stdout, p.stdout


def test_shadowed_routes_warned():
    """-t, the start and a reload all name a route that an earlier equal one
    hides (a warning: the config still loads)."""
    import signal
    from rslib import wait_log
    routes = ('ssr.route("GET", "/blog/:slug", { respond = { status = 200, body = "slug" } })\n'
              'ssr.route("GET", "/blog/:id", { respond = { status = 200, body = "id" } })\n')
    srv = Server(routes=routes)
    code, out = run_config_check(srv.config_path, test=True)
    assert code == 0 and "test is successful" in out, out
    want = "%s:9: route GET /blog/:id can never match: %s:8 (GET /blog/:slug) takes those requests first"
    assert "warning: " + srv.config_path + ":9: route GET /blog/:id can never match" in out, out
    with srv:
        wait_log(srv, "[warn]")
        assert want % (srv.config_path, srv.config_path) in srv.log(), srv.log()
        assert srv.get("/blog/x").body == b"slug"
        with open(srv.config_path, "a") as f:
            f.write('ssr.route({ "GET", "POST" }, "/x", { respond = { status = 200, body = "a" } })\n'
                    'ssr.route("POST", "/x", { respond = { status = 200, body = "b" } })\n')
        srv.signal(signal.SIGHUP)
        wait_log(srv, "reloaded", timeout=10)
        assert "reload: %s:12: route POST /x can never match" % srv.config_path in srv.log(), srv.log()


def test_dump_effective_config():
    """-T prints every setting with its value and where it came from (the
    file's line, or the default), and every route; the dump loads again as
    a config whose -T says the same (comments aside)."""
    import tempfile
    d = tempfile.mkdtemp(prefix="rs-dump-")
    os.makedirs(os.path.join(d, "public"))
    conf = os.path.join(d, "rustyssr.lua")
    with open(conf, "w") as f:
        f.write('local ssr = require "rustyssr"\n'         # 1
                'ssr.config {\n'                            # 2
                '  listen = "127.0.0.1:8088", admin = { listen = "127.0.0.1:9909", token = "0123456789abcdef0", allow = { "127.0.0.1" } },\n'  # 3
                '  limits = { body = "2MB" },\n'            # 4
                '  cache = {\n'                             # 5
                '    ttl = 30, shared = { redis = "127.0.0.1:6379", password = "pw" },\n'  # 6
                '  },\n'                                    # 7
                '  upstreams = { api = { servers = { "https://127.0.0.1:9000" }, retries = 2 }, },  render = { env = { Z = "1", A = "x", M = 3 } },\n'  # 8
                '}\n'                                       # 9
                'ssr.route("GET", "/hi", { respond = { status = 201, headers = { ["X-A"] = "b\\"c" }, body = "hi\\n" } })\n'  # 10
                'ssr.static("/s/", { root = "public", max_age = 60 })\n'  # 11
                'ssr.proxy("/api/", { upstream = "api", path = "/", ttl = 5, tags = { "t1" } })\n'  # 12
                'ssr.route("GET", "/k/:id", { render = false and true or nil, respond = function() return 200, "x" end })\n'  # 13
                'ssr.route("GET", "/old", { redirect = { to = "/n\\"ew", status = 308, keep_query = true } })\n'  # 14
                'ssr.route("GET", "/old2", { redirect = "/new2" })\n')  # 15
    p = subprocess.run([BIN, "-T", "-c", conf], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert p.returncode == 0, p.stderr
    out = p.stdout.decode()
    for want in ('  listen = "127.0.0.1:8088",  -- %s:3' % conf,
                 '    body = 2097152,  -- %s:4' % conf,
                 '    -- token: set (not printed)',
                 '      -- password: set (not printed)',
                 '      redis = "127.0.0.1:6379",  -- %s:6' % conf,
                 '    allow = { "127.0.0.1/32", },  -- %s:3' % conf,
                 '    ttl = 30,  -- %s:6' % conf,
                 '    grace = 10,  -- default',
                 '  backlog = 511,  -- default',
                 '      retries = 2,  -- %s:8' % conf,
                 '      keepalive = 32,  -- default',
                 '    env = { ["A"] = "x", ["M"] = "3", ["Z"] = "1", },  -- %s:8' % conf,
                 'ssr.route({ "GET", }, "/hi", { priority = 0, respond = { status = 201, headers = { ["Content-Type"] = "text/plain; charset=utf-8", ["X-A"] = "b\\"c", ',
                 'body = "hi\\n" }, })  -- %s:10' % conf,
                 'static = { root = "%s"' % os.path.join(d, "public"),
                 'proxy = { upstream = "api", path = "/" }, ttl = 5,',
                 'tags = { "t1", }',
                 'respond = function() error(',
                 # an action that reads and prints its own options (core/gateway/rs_redirect.c)
                 'redirect = { to = "/n\\"ew", status = 308, keep_query = true }, })  -- %s:14' % conf,
                 'redirect = { to = "/new2", status = 301, keep_query = false }, })  -- %s:15' % conf):
        assert want in out, "missing %r in:\n%s" % (want, out)
    # Every key the loader knows appears in the dump (a new setting that -T
    # forgets fails here). Aliases are exempt: upstreams' timeout_ms is
    # read_timeout_ms.
    # ssr.config's parsers: rs_lconfig.c and its sections (rs_lconfig_*.c).
    lua_dir = os.path.join(os.path.dirname(TESTS), "lua")
    src = "".join(open(os.path.join(lua_dir, f)).read() for f in sorted(os.listdir(lua_dir))
                  if re.match(r"rs_lconfig(_\w+)?\.c$", f) or f == "rs_lcompress.c")
    tables = re.findall(r"(?:static )?const char \*const (rs_?_?\w+_keys)\[\] = \{(.*?)\};", src, re.S)
    assert len(tables) >= 10, "found %d key tables in lua/rs_lconfig*.c" % len(tables)
    for name, arr in tables:
        if name in ("rs__listen_keys", "rs__tls_keys", "rs__tls_cert_keys"):
            continue                 # a listener's TLS and http2: printed when set (test_tls checks that -T)
        for key in re.findall(r'"(\w+)"', arr):
            if (key == "timeout_ms" and "connect_timeout_ms" in arr) or key == "token_file":
                continue             # aliases: read_timeout_ms; token (never printed)
            if False:
                continue
            if key == "servers" and "keepalive" not in arr:
                continue             # ssr.config's servers: only when set
            if key == "access_log":
                continue             # a listener's own access log: printed when a server sets it
                                     # (test_access_formats checks that -T)
            assert re.search(r"(^|\s|\[\")%s(\"\])?\s*=|-- %s:" % (key, key), out, re.M), \
                "-T prints nothing for %r:\n%s" % (key, out)
    # The dump is a config: loaded again, it dumps the same (comments aside).
    again = os.path.join(d, "dumped.lua")
    with open(again, "w") as f:
        f.write(out)
    p2 = subprocess.run([BIN, "-T", "-c", again], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert p2.returncode == 0, p2.stderr
    strip = lambda t: [re.sub(r"\s*--.*$", "", l) for l in t.splitlines()]
    assert strip(out) == strip(p2.stdout.decode()), (out, p2.stdout.decode())
    assert b"test is successful" in p2.stderr


def test_port_in_use():
    holder = socket.socket()
    holder.bind(("127.0.0.1", 0))
    holder.listen(1)
    port = holder.getsockname()[1]
    try:
        srv = Server(config={"listen": '"127.0.0.1:%d"' % port}, routes='ssr.respond("/x", 200, "x")')
        srv.start(wait=False)
        code = srv.proc.wait(30)
        assert code != 0, srv.log()
        assert "Address already in use" in srv.log(), srv.log()
    finally:
        holder.close()


if __name__ == "__main__":
    main([test_check_bad_configs, test_start_with_bad_config_exits_nonzero, test_check_good_config,
          test_missing_config_file, test_version_and_usage, test_require_prefers_the_config_folder,
          test_shadowed_routes_warned, test_dump_effective_config, test_port_in_use])
