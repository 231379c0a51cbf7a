"""Access-log formats over real sockets, byte for byte: a template with
nginx's variables (the client behind a trusted proxy as $remote_addr, the
route, the cache status, the upstream's time and status set by the
handlers), "json" (one object a line, escaped as nginx's escape=json), a
listener with its own format and file (reopened on SIGUSR1 with the rest),
and an unknown variable refused at load with file:line."""

import json
import os
import re
import signal
import subprocess
import tempfile
import time

from rslib import BIN, SLOW, TESTS, Server, eq, free_port, main, run_config_check, wait_log
from test_lua_fetch import Backend

BUNDLE = os.path.join(TESTS, "js", "it_render.js")

ROUTES = r'''
ssr.route("GET", "/hello", { respond = { status = 200, body = "hello\n" } })
ssr.route("GET", "/string", { render = { ttl = 60 } })
ssr.route("GET", "/api/*", { proxy = { upstream = "api", path = "/" } })
ssr.route("GET", "/b", { server = "backend", respond = { status = 201, body = "b" } })
ssr.route("GET", "/cached/*", { proxy = { upstream = "api", path = "/" }, ttl = 30 })
'''


def read_lines(path, n, timeout=10.0):
    """The file's lines once it has n (lines are flushed each second)."""
    deadline = time.time() + timeout * SLOW
    lines = []
    while time.time() < deadline:
        if os.path.exists(path):
            lines = open(path, "rb").read().decode("utf-8").splitlines()
            if len(lines) >= n:
                return lines
        time.sleep(0.05)
    raise AssertionError("%s: %d lines, expected %d: %r" % (path, len(lines), n, lines))


def server(d, log, backend_port, servers=None, **extra):
    config = {"log": log,
              "render": '{ bundle = "%s", threads = 1 }' % BUNDLE,
              "upstreams": '{ api = { servers = { "127.0.0.1:%d" } } }' % backend_port,
              "real_ip": '{ from = { "127.0.0.1" } }',
              "servers": servers or '{ backend = "127.0.0.1:%d" }' % free_port()}
    workers = extra.pop("workers", 2)
    config.update(extra)
    return Server(workers=workers, config=config, routes=ROUTES)


def test_template_byte_exact():
    d = tempfile.mkdtemp(prefix="rs-fmt-")
    path = os.path.join(d, "access.log")
    fmt = ("$remote_addr|$request_method|$uri|$args|$request|$status|$body_bytes_sent|$route|$cache_status|"
           "$upstream_status|$http_x_test|$server_protocol|$host|$remote_user")
    with Backend() as b:
        with server(d, '{ access = "%s", access_format = "%s" }' % (path, fmt.replace('"', '\\"')), b.port) as srv:
            eq(srv.get("/hello?a=1", headers={"X-Forwarded-For": "192.0.2.9", "X-Test": 'q"uote'}).status, 200)
            eq(srv.get("/nowhere").status, 404)
            eq(srv.get("/string").status, 200)
            eq(srv.get("/string").status, 200)
            eq(srv.get("/api/json").status, 200)
            lines = sorted(read_lines(path, 5))
    want = sorted([
        '192.0.2.9|GET|/hello|a=1|GET /hello?a=1 HTTP/1.1|200|6|/hello|-|-|q\\x22uote|HTTP/1.1|localhost|-',
        '127.0.0.1|GET|/nowhere|-|GET /nowhere HTTP/1.1|404|%s|-|-|-|-|HTTP/1.1|localhost|-',
        '127.0.0.1|GET|/string|-|GET /string HTTP/1.1|200|%s|/string|MISS|-|-|HTTP/1.1|localhost|-',
        '127.0.0.1|GET|/string|-|GET /string HTTP/1.1|200|%s|/string|HIT|-|-|HTTP/1.1|localhost|-',
        '127.0.0.1|GET|/api/json|-|GET /api/json HTTP/1.1|200|%s|/api/*|-|200|-|HTTP/1.1|localhost|-',
    ])
    # Body sizes depend on the bundle and the backend: compare them apart.
    got = [re.sub(r"^((?:[^|]*\|){6})\d+", lambda m: m.group(1) + "%s", l) if "/hello" not in l else l for l in lines]
    # A hit is HIT-L1 or HIT-L2 (X-Cache's value), by the loop that served it.
    got = sorted(re.sub(r"\|HIT-L[12]\|", "|HIT|", l) for l in got)
    eq(got, want)


def test_cached_proxy_fields():
    """A cached proxy's miss logs the upstream's status and time; its hit
    logs no upstream."""
    d = tempfile.mkdtemp(prefix="rs-fmt-")
    path = os.path.join(d, "access.log")
    with Backend() as b:
        with server(d, '{ access = "%s", access_format = "$uri $cache_status $upstream_status '
                       '$upstream_response_time" }' % path, b.port, workers=1) as srv:
            eq(srv.get("/cached/json").status, 200)
            eq(srv.get("/cached/json").status, 200)
            lines = read_lines(path, 2)
    assert re.match(r"^/cached/json MISS 200 \d+\.\d{3}$", lines[0]), lines
    eq(lines[1], "/cached/json HIT-L1 - -")


def test_json_lines():
    d = tempfile.mkdtemp(prefix="rs-fmt-")
    path = os.path.join(d, "access.log")
    with Backend() as b:
        with server(d, '{ access = "%s", access_format = "json" }' % path, b.port) as srv:
            eq(srv.get("/hello", headers={"User-Agent": 'a"b\\c \xc3\xa9'.encode("latin-1").decode("latin-1"),
                                          "Referer": "http://r/"}).status, 200)
            eq(srv.get("/api/json").status, 200)
            lines = read_lines(path, 2)
    objs = {}
    for line in lines:
        o = json.loads(line)                      # each line one object
        objs[o["route"]] = o
    h = objs["/hello"]
    eq(sorted(h), sorted(["time", "remote_addr", "request_id", "request", "status", "body_bytes_sent",
                          "request_time", "upstream_response_time", "cache_status", "route", "host",
                          "http_referer", "http_user_agent"]))
    eq((h["remote_addr"], h["request"], h["status"], h["body_bytes_sent"], h["http_referer"], h["host"]),
       ("127.0.0.1", "GET /hello HTTP/1.1", 200, 6, "http://r/", "localhost"))
    eq(h["http_user_agent"], 'a"b\\c \xc3\xa9')
    assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00$", h["time"]), h
    assert re.match(r"^[0-9a-f]{16}$", h["request_id"]), h
    assert isinstance(h["request_time"], float) or isinstance(h["request_time"], int), h
    eq((h["upstream_response_time"], h["cache_status"]), ("", ""))
    a = objs["/api/*"]
    assert re.match(r"^\d+\.\d{3}$", a["upstream_response_time"]), a


def test_listener_format_and_file():
    d = tempfile.mkdtemp(prefix="rs-fmt-")
    main_log, back_log = os.path.join(d, "access.log"), os.path.join(d, "backend.log")
    port = free_port()
    servers = '{ backend = { listen = "127.0.0.1:%d", access_log = "%s", access_format = "$status $uri $route" } }' % (
        port, back_log)
    with Backend() as b:
        with server(d, '{ access = "%s" }' % main_log, b.port, servers=servers) as srv:
            eq(srv.get("/b", port=port).status, 201)
            eq(srv.get("/hello").status, 200)
            eq(read_lines(back_log, 1), ["201 /b /b"])
            os.rename(back_log, back_log + ".1")
            srv.signal(signal.SIGUSR1)
            wait_log(srv, "reopen")
            eq(srv.get("/b", port=port).status, 201)
            eq(read_lines(back_log, 1), ["201 /b /b"])
            main_lines = read_lines(main_log, 1)
    eq(len(main_lines), 1)
    assert re.match(r'^127\.0\.0\.1 - - \[[^]]+\] "GET /hello HTTP/1\.1" 200 6 "-" "-"$', main_lines[0]), main_lines


def test_unknown_variable_refused():
    d = tempfile.mkdtemp(prefix="rs-fmt-")
    for body, want in (
            ('  log = {\n    access_format = "$remote_addr $nope" },\n', ":4: ssr.config: 'log.access_format': "
                                                                      "unknown variable '$nope'"),
            ('  servers = { b = { listen = "127.0.0.1:1", access_format = "${status" } },\n',
             ":3: ssr.config: 'servers.b.access_format': unclosed '${'")):
        path = os.path.join(d, "rustyssr.lua")
        with open(path, "w") as f:
            f.write('local ssr = require "rustyssr"\nssr.config {\n' + body + '}\n')
        code, out = run_config_check(path)
        eq(code, 1, out)
        assert path + want in out, (want, out)


def test_dump():
    d = tempfile.mkdtemp(prefix="rs-fmt-")
    path = os.path.join(d, "rustyssr.lua")
    with open(path, "w") as f:
        f.write('local ssr = require "rustyssr"\nssr.config {\n  log = { access_format = "$status \\"$route\\"" },\n'
                '  servers = { b = { listen = "127.0.0.1:9", access_log = "b.log", access_format = "json" } },\n}\n')
    p = subprocess.run([BIN, "-T", "-c", path], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    eq(p.returncode, 0, p.stderr)
    out = p.stdout.decode()
    assert '    access_format = "$status \\"$route\\"",  -- %s:3' % path in out, out
    assert '["b"] = { listen = "127.0.0.1:9", access_log = "%s", access_format = "json" },' % os.path.join(d, "b.log") \
        in out, out


if __name__ == "__main__":
    main([test_template_byte_exact, test_cached_proxy_fields, test_json_lines, test_listener_format_and_file, test_unknown_variable_refused,
          test_dump])
