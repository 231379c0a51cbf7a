"""The admin listener's protection: admin.allow (addresses), admin.token
(a Bearer token that purges need), admin.open (/metrics and /health for
anyone); refusals are 403 or 401 with a log line; a reload changes them;
bad values stop the load with file:line."""

import os
import signal
import subprocess
import tempfile

from rslib import BIN, Server, free_port, main, wait_log

TOKEN = "s3cret-token-0123456789"
ROUTES = 'ssr.route("GET", "/x", { respond = { status = 200, body = "x" } })'


def admin_req(srv, method, path, auth=None):
    h = "Authorization: %s\r\n" % auth if auth else ""
    raw = "%s %s HTTP/1.1\r\nHost: localhost\r\n%sContent-Length: 0\r\nConnection: close\r\n\r\n" % (method, path, h)
    return srv.request(raw.encode(), port=srv.admin_port)


def server(admin_extra, cache="{ ttl = 60 }"):
    port = free_port()
    s = Server(routes=ROUTES, config={"admin": '{ listen = "127.0.0.1:%d", %s }' % (port, admin_extra),
                                      "cache": cache})
    s.admin_port = port
    return s


def test_allow_list_refuses_other_addresses():
    with server('allow = { "10.0.0.0/8", "::1" }, open = { "/health" }') as srv:
        for method, path in (("GET", "/metrics"), ("POST", "/purge?all=1"), ("PURGE", "/x")):
            r = admin_req(srv, method, path, "Bearer " + TOKEN)
            assert r.status == 403, (method, path, r)
        wait_log(srv, "admin: 403 for 127.0.0.1 (not in admin.allow): POST /purge")
        assert admin_req(srv, "GET", "/health").status == 200      # open
        assert admin_req(srv, "POST", "/health").status == 403     # open is for GET only
    with server('allow = { "127.0.0.0/8" }') as srv:
        assert admin_req(srv, "GET", "/metrics").status == 200
        assert admin_req(srv, "POST", "/purge?all=1").status == 200  # no token set: allowed is enough


def test_token_guards_purges():
    with server('token = "%s", allow = { "127.0.0.1" }' % TOKEN) as srv:
        assert srv.get("/x").status == 200
        r = admin_req(srv, "POST", "/purge?all=1")
        assert r.status == 401 and r.header("www-authenticate") == 'Bearer realm="rustyssr admin"', r
        wait_log(srv, "admin: 401 for 127.0.0.1 (no token): POST /purge")
        for bad in ("Bearer " + TOKEN[:-1], "Bearer " + TOKEN + "x", "Basic " + TOKEN, "Bearer", TOKEN,
                    "Bearer " + TOKEN.upper()):
            assert admin_req(srv, "POST", "/purge?all=1", bad).status == 401, bad
            assert admin_req(srv, "PURGE", "/x", bad).status == 401, bad
        wait_log(srv, "(a wrong token)")
        for good in ("Bearer " + TOKEN, "bearer " + TOKEN, "BEARER  " + TOKEN + " "):
            r = admin_req(srv, "POST", "/purge?all=1", good)
            assert r.status == 200 and b'"purged"' in r.body, (good, r)
        assert admin_req(srv, "PURGE", "/x", "Bearer " + TOKEN).status == 200
        # reads need no token
        assert admin_req(srv, "GET", "/metrics").status == 200
        assert admin_req(srv, "GET", "/health").status == 200


def test_reload_changes_the_token_and_file():
    d = tempfile.mkdtemp(prefix="rs-admin-")
    with open(os.path.join(d, "admin.token"), "w") as f:
        f.write("first-token-abcdefghij\n")
    srv = server('token_file = "%s"' % os.path.join(d, "admin.token"), cache="false")
    with srv:
        assert admin_req(srv, "POST", "/purge?all=1", "Bearer first-token-abcdefghij").status == 404  # cache off
        with open(os.path.join(d, "admin.token"), "w") as f:
            f.write("second-token-abcdefghij\n")
        srv.signal(signal.SIGHUP)
        wait_log(srv, "reloaded", timeout=10)
        assert admin_req(srv, "POST", "/purge?all=1", "Bearer first-token-abcdefghij").status == 401
        assert admin_req(srv, "POST", "/purge?all=1", "Bearer second-token-abcdefghij").status == 404


def test_bad_admin_settings():
    cases = (
        ('{ token = "short" }', "'admin.token' must give a token of 16 to 256 characters, got 5"),
        ('{ token = "has a space in it, long enough" }', "visible ASCII without spaces"),
        ('{ allow = { "10.0.0.0/33" } }', "'admin.allow' entry 1 \"10.0.0.0/33\""),
        ('{ open = { "/purge" } }', "'admin.open' entry 1 must be \"/metrics\" or \"/health\""),
        ('{ tokn = "x" }', "unknown key 'tokn' in ssr.config.admin (did you mean 'token'?)"),
        ('{ token_file = "/nonexistent/token" }', "'admin.token_file' /nonexistent/token: No such file"),
        ('{ token = "0123456789abcdef", token_file = "/x" }', "not both"),
    )
    for value, want in cases:
        srv = Server(routes=ROUTES, config={"admin": value})
        p = subprocess.run([BIN, "-t", "-c", srv.config_path], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        out = p.stdout.decode()
        assert p.returncode == 1 and want in out and "rustyssr.lua:" in out, (value, out)



if __name__ == "__main__":
    main([test_allow_list_refuses_other_addresses, test_token_guards_purges, test_reload_changes_the_token_and_file,
          test_bad_admin_settings])
