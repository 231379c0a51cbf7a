#!/usr/bin/env python3
"""Named listeners: ssr.config { servers = { backend = "127.0.0.1:P" } } opens
more ports in the same process; a route with server = "backend" answers only
there, routes without one only on `listen`; errors at load with file:line."""

import json
import signal
import socket
import time

from rslib import SLOW, Reader, Server, eq, free_port, main, run_config_check, wait_log

ROUTES = r'''
ssr.respond("/same", 200, "main\n")
ssr.route("GET", "/same", { server = "backend", respond = { status = 200, body = "backend\n" } })
ssr.respond("/only-main", 200, "only main\n")
ssr.route("GET", "/api/products/:id", { server = "backend", respond = function(req)
  return 200, '{"id":"' .. req.params.id .. '","name":"Product ' .. req.params.id .. '"}',
         { ["Content-Type"] = "application/json" }
end })
'''
OTHER = r'''
ssr.route("GET", "/*", { server = "other", priority = 1, respond = { status = 200, body = "other catch-all\n" } })
'''


def servers_conf(**ports):
    return "{ %s }" % ", ".join('%s = "127.0.0.1:%d"' % kv for kv in sorted(ports.items()))


def test_routes_per_listener():
    bport, oport = free_port(), free_port()
    with Server(config={"servers": servers_conf(backend=bport, other=oport)}, routes=ROUTES + OTHER) as srv:
        eq(srv.get("/same").body, b"main\n", "main listener")
        eq(srv.get("/same", port=bport).body, b"backend\n", "backend listener, same path")
        eq(srv.get("/only-main").status, 200, "main route on main")
        eq(srv.get("/only-main", port=bport).status, 404, "main route on backend")
        eq(srv.get("/api/products/7").status, 404, "backend route on main")
        r = srv.get("/api/products/7", port=bport)
        eq(r.status, 200, "backend Lua route")
        eq(r.header("content-type"), "application/json", "type")
        eq(json.loads(r.body), {"id": "7", "name": "Product 7"}, "JSON from Lua")
        eq(srv.get("/anything", port=oport).body, b"other catch-all\n", "a third listener")
        eq(srv.get("/same", port=oport).body, b"other catch-all\n", "its own routes only")
        eq(srv.get("/anything").status, 404, "not on main")
        log = srv.log()
        assert "server backend: serving http://127.0.0.1:%d/" % bport in log, log
        assert "server other: serving http://127.0.0.1:%d/" % oport in log, log
        # every loop thread listens on every port
        for loop in (1, 2):
            assert "loop %d: listening on 127.0.0.1:%d for server backend" % (loop, bport) in log, log


def test_keepalive_on_each_listener_and_metrics():
    bport = free_port()
    with Server(config={"servers": servers_conf(backend=bport)}, routes=ROUTES) as srv:
        for port, want in ((srv.port, b"main\n"), (bport, b"backend\n")):
            s = srv.connect(port)
            r = Reader(s)
            for _ in range(20):
                s.sendall(b"GET /same HTTP/1.1\r\nHost: x\r\n\r\n")
                eq(r.read_response().body, want, "keep-alive on %d" % port)
            s.close()
        m = srv.metrics()
        assert m['rustyssr_requests_total{class="2xx"}'] >= 40, m


def test_listener_routes_change_on_reload():
    bport = free_port()
    srv = Server(config={"servers": servers_conf(backend=bport)}, routes=ROUTES)
    with srv:
        eq(srv.get("/same", port=bport).body, b"backend\n", "before")
        text = open(srv.config_path).read().replace('body = "backend\\n"', 'body = "backend 2\\n"')
        with open(srv.config_path, "w") as f:
            f.write(text)
        srv.signal(signal.SIGHUP)
        wait_log(srv, ": reloaded ", 20)
        eq(srv.get("/same", port=bport).body, b"backend 2\n", "after the reload")
        eq(srv.get("/same").body, b"main\n", "main unchanged")
        # the set of listeners is fixed until a restart: a new server is not opened,
        # a server the file drops answers 404 (its routes are gone)
        nport = free_port()
        text = open(srv.config_path).read()
        text = text.replace('servers = { backend = "127.0.0.1:%d" }' % bport,
                            'servers = { fresh = "127.0.0.1:%d" }' % nport)
        text = text.replace('server = "backend"', 'server = "fresh"')
        with open(srv.config_path, "w") as f:
            f.write(text)
        srv.signal(signal.SIGHUP)
        deadline = time.time() + 20 * SLOW
        while srv.log().count(": reloaded ") < 2 and time.time() < deadline:
            time.sleep(0.02)
        assert srv.log().count(": reloaded ") == 2, srv.log()
        assert "servers (the listeners stay; routes of a new server wait for a restart) cannot change" \
            in srv.log(), srv.log()
        eq(srv.get("/same", port=bport).status, 404, "a listener whose server the file dropped")
        eq(srv.get("/same").body, b"main\n", "main unchanged")
        try:
            socket.create_connection(("127.0.0.1", nport), timeout=1).close()
            raise AssertionError("a new server's port was opened by a reload")
        except ConnectionRefusedError:
            pass


def check_error(body, needle, line=None):
    d = Server(raw_config=body)
    code, out = run_config_check(d.config_path)
    assert code == 1, out
    if line is not None:
        needle = "%s:%d: %s" % (d.config_path, line, needle)
    assert needle in out, "%r not in:\n%s" % (needle, out)


def test_config_errors():
    head = 'local ssr = require "rustyssr"\n'
    check_error(head + 'ssr.config { listen = "127.0.0.1:8080", servers = { backend = "127.0.0.1:9000" } }\n'
                'ssr.route("GET", "/x", { server = "backnd", respond = { status = 200 } })\n',
                "unknown server 'backnd' (ssr.config servers: backend)", line=3)
    check_error(head + 'ssr.config { listen = "127.0.0.1:8080" }\n'
                'ssr.static("/s/", { root = ".", server = "x" })\n',
                "unknown server 'x' (ssr.config declares no servers)", line=3)
    check_error(head + 'ssr.config { listen = "127.0.0.1:8080",\n servers = { backend = "127.0.0.1:8080" } }\n',
                "ssr.config: servers.backend = \"127.0.0.1:8080\" is the address of 'listen'", line=2)
    check_error(head + 'ssr.config { listen = "127.0.0.1:8080", admin = "127.0.0.1:9901",\n'
                'servers = { a = "127.0.0.1:9000", b = "0.0.0.0:9000" } }\n',
                "ssr.config: servers.a and servers.b have the same address", line=2)
    check_error(head + 'ssr.config { servers = { backend = "localhost:9000" } }\n',
                "ssr.config: 'servers.backend' = \"localhost:9000\": host must be a numeric", line=2)
    check_error(head + 'ssr.config { servers = { ["bad name"] = "127.0.0.1:9000" } }\n',
                'ssr.config: server name "bad name" must be letters, digits', line=2)
    check_error(head + 'ssr.config { servers = { "127.0.0.1:9000" } }\n',
                "ssr.config: 'servers' maps names to addresses", line=2)
    check_error(head + 'ssr.config { servers = { backend = true } }\n',
                "ssr.config: 'servers.backend' must be \"host:port\" or a port number, got boolean true", line=2)
    check_error(head + 'ssr.config { listen = "127.0.0.1:8080", servers = { backend = 9000 } }\n'
                'ssr.route("GET", "/x", { server = 5, respond = { status = 200 } })\n',
                "ssr.route: 'server' must be a name from ssr.config's servers, got number 5", line=3)


def test_address_in_use_is_an_error_at_start():
    busy = free_port()
    holder = socket.socket()
    holder.bind(("127.0.0.1", busy))
    holder.listen(1)
    try:
        srv = Server(config={"servers": servers_conf(backend=busy)}, routes=ROUTES)
        srv.start(wait=False)
        code = srv.proc.wait(30 * SLOW)
        srv.logf.close()
        assert code != 0, srv.log()
        assert "listen on 127.0.0.1:%d (server backend): Address already in use" % busy in srv.log(), srv.log()
    finally:
        holder.close()


if __name__ == "__main__":
    main([
        test_routes_per_listener,
        test_keepalive_on_each_listener_and_metrics,
        test_listener_routes_change_on_reload,
        test_config_errors,
        test_address_in_use_is_an_error_at_start,
    ])
