"""One request must never change what other visitors get (issue 10), on the
cache side, over real sockets: headers outside the key never reach a page
that is stored (X-Forwarded-*, Host spellings, any other header), headers a
route names split the key, a Host that carries a path never lands on
another URL's key, a key hook's key lives in its own namespace, repeated
query names keep their order, the props hook of a stored page sees what
the key covers, real_ip (trusted and untrusted peers), only 200..599 from
bundles and Lua, and empty purge selectors are refused."""

import json
import os
import re

from rslib import TESTS, Server, eq, main, run_config_check, wait_log

BUNDLE = os.path.join(TESTS, "js", "it_echo.js")

ROUTES = r'''
ssr.route("GET", "/lang/*", { render = true, headers = { "Accept-Language", "x-theme" } })
ssr.route("GET", "/proto/*", { render = true, headers = { "X-Forwarded-Proto" } })
ssr.route("GET", "/keyed/*", { render = true, key = function(req) return "same-for-all" end })
ssr.route("GET", "/fake/*", { render = true,
  key = function(req) return "GET " .. req.host .. "/page" .. req.path:sub(6) end })
ssr.route("GET", "/props/*", { render = true, headers = { "accept-language" },
  bypass = { header = "x-bypass" },
  props = function(req)
    local names = {}
    for k in pairs(req.headers) do names[#names + 1] = k end
    table.sort(names)
    return { names = table.concat(names, ","), client = tostring(req.client),
             lang = tostring(req.headers["accept-language"]), xe = tostring(req.headers["x-evil"]),
             cookie = tostring(req.cookie.c), host = req.host }
  end })
ssr.route("GET", "/nocache/*", { render = { cache = false } })
ssr.route("GET", "/bypassed/*", { render = true, bypass = { header = "x-bypass" } })
ssr.route("GET", "/exit", function(req) req:exit(tonumber(req.query.s), "exit body") end)
ssr.route("GET", "/ret", function(req) return tonumber(req.query.s), "ret body" end)
ssr.route("GET", "/rettable", function(req) return { status = tonumber(req.query.s), body = "t" } end)
ssr.route("GET", "/client", function(req) return 200, tostring(req.client) end)
ssr.route("GET", "/*", { render = true })
'''


def server(config=None, **kw):
    cfg = {"render": '{ bundle = "%s", threads = 1 }' % BUNDLE, "cache": "{ ttl = 60, grace = 0 }"}
    cfg.update(config or {})
    return Server(workers=2, config=cfg, routes=ROUTES, **kw)


def xc(r):
    return r.header("x-cache") or ""


def counter(r):
    m = re.search(rb"<p id=n>(\d+)</p>", r.body)
    assert m, r
    return int(m.group(1))


def seen(r):
    m = re.search(rb"<pre id=h>(.*?)</pre>", r.body, re.S)
    assert m, r
    return json.loads(m.group(1))


def props(r):
    m = re.search(rb"<pre id=p>(.*?)</pre>", r.body, re.S)
    assert m, r
    return json.loads(m.group(1))


def raw(srv, target, host="localhost", extra=""):
    return srv.request(("GET %s HTTP/1.1\r\nHost: %s\r\n%sConnection: close\r\n\r\n"
                        % (target, host, extra)).encode())


# (name, extra header lines, host): what an attacker adds to a request for
# a page everyone gets; none of it may reach the stored page.
ATTACKS = [
    ("x-forwarded-host", "X-Forwarded-Host: evil.example\r\n", "localhost"),
    ("x-forwarded-proto+port", "X-Forwarded-Proto: evil\r\nX-Forwarded-Port: 6666\r\n", "localhost"),
    ("forwarded", "Forwarded: host=evil.example;proto=https\r\n", "localhost"),
    ("x-real-ip", "X-Real-IP: 6.6.6.6\r\nX-Forwarded-For: 6.6.6.6\r\n", "localhost"),
    ("other header", "X-Original-URL: /evil.example\r\nX-Evil: evil.example\r\n", "localhost"),
    ("accept-language", "Accept-Language: evil.example\r\n", "localhost"),
    ("host case and port", "", "LocalHost:6666"),
    ("user-agent", "User-Agent: evil.example\r\n", "localhost"),
]


def assert_clean(r, what):
    body = r.body.decode("utf-8", "replace").lower()
    for bad in ("evil", "6666", "6.6.6.6", "localhost:"):
        assert bad not in body, "%s: %r in the page:\n%s" % (what, bad, body)


def test_headers_outside_the_key_never_reach_a_stored_page():
    with server() as srv:
        for i, (name, extra, host) in enumerate(ATTACKS):
            # the attacker first: a MISS that stores the page...
            a = raw(srv, "/page/a%d" % i, host, extra)
            eq(a.status, 200, name)
            eq(xc(a), "MISS", name)
            assert_clean(a, name)
            eq(seen(a).get("host"), "localhost", name + ": the host as the key holds it")
            # ...which a plain visitor then gets, without the attacker's value
            b = raw(srv, "/page/a%d" % i)
            assert xc(b).startswith("HIT"), (name, b)
            eq(counter(b), counter(a), name + ": the same stored page")
            assert_clean(b, name)
            # the other order: a plain MISS, then the attacker gets that page
            c = raw(srv, "/page/b%d" % i)
            eq(xc(c), "MISS", name)
            d = raw(srv, "/page/b%d" % i, host, extra)
            assert xc(d).startswith("HIT"), (name, d)
            eq(counter(d), counter(c), name)
            assert_clean(d, name)
        # the bundle of a stored page saw only Host
        eq(sorted(seen(raw(srv, "/page/only", "localhost", "X-Evil: 1\r\nAccept: */*\r\n"))), ["host"],
           "headers of a stored page")


def test_uncached_renders_keep_their_headers():
    with server() as srv:
        extra = "X-Evil: evil-ok\r\nAccept-Language: fr\r\nX-Forwarded-Host: fwd.example\r\n"
        for target, more in (("/nocache/x", ""), ("/bypassed/x", "X-Bypass: 1\r\n")):
            r = raw(srv, target, "Example.com:8080", extra + more)
            eq(r.status, 200, target)
            h = seen(r)
            eq(h.get("x-evil"), "evil-ok", target)
            eq(h.get("accept-language"), "fr", target)
            # the validated Host: lower-case, its port kept (core/base/rs_http.h)
            eq(h.get("host"), "example.com:8080", target + ": host as validated")
            # a forwarding claim from an untrusted peer reaches no render
            assert "x-forwarded-host" not in h, (target, h)


def test_named_headers_split_the_key():
    with server() as srv:
        fr = raw(srv, "/lang/x", extra="Accept-Language: fr\r\nX-Evil: 1\r\n")
        de = raw(srv, "/lang/x", extra="accept-language: de\r\n")
        none = raw(srv, "/lang/x")
        empty = raw(srv, "/lang/x", extra="Accept-Language: \r\n")
        for r in (fr, de, none, empty):
            eq(xc(r), "MISS", "one page per value")
        eq(seen(fr), {"host": "localhost", "accept-language": "fr"}, "the bundle sees what the key holds")
        varies = [v.lower() for k, v in fr.headers if k.lower() == "vary"]
        assert "accept-language, x-theme" in varies, fr.headers      # told to downstream caches
        assert "accept-language" not in seen(none), seen(none)
        again = raw(srv, "/lang/x", extra="Accept-Language: fr\r\nX-Other: 2\r\n")
        assert xc(again).startswith("HIT"), again
        eq(counter(again), counter(fr), "fr's page")
        # two names: both in the key
        t1 = raw(srv, "/lang/y", extra="Accept-Language: fr\r\nX-Theme: dark\r\n")
        t2 = raw(srv, "/lang/y", extra="Accept-Language: fr\r\nX-Theme: light\r\n")
        eq((xc(t1), xc(t2)), ("MISS", "MISS"), "theme splits")
        # a URL purge reaches every variant of the URL, not another URL's
        r = srv.request(b"PURGE /lang/x HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
                        port=srv.admin_port)
        eq(r.status, 200, "purge")
        eq(json.loads(r.body)["purged"], 4, "the four variants of /lang/x")
        eq(xc(raw(srv, "/lang/x", extra="Accept-Language: fr\r\n")), "MISS", "purged")
        assert xc(raw(srv, "/lang/y", extra="Accept-Language: fr\r\nX-Theme: dark\r\n")).startswith("HIT")
        # prefix purges still find pages with fields
        r = srv.request(b"POST /purge?prefix=GET%20localhost/lang/ HTTP/1.1\r\nHost: localhost\r\n"
                        b"Content-Length: 0\r\nConnection: close\r\n\r\n", port=srv.admin_port)
        eq(json.loads(r.body)["purged"], 3, "prefix purge")


def test_named_forwarding_header_needs_a_trusted_peer():
    # untrusted: X-Forwarded-Proto is absent for the key and the bundle alike
    with server() as srv:
        a = raw(srv, "/proto/x", extra="X-Forwarded-Proto: https\r\n")
        b = raw(srv, "/proto/x", extra="X-Forwarded-Proto: evil\r\n")
        eq(xc(a), "MISS", "first")
        assert xc(b).startswith("HIT"), b
        eq(seen(a), {"host": "localhost"}, "not seen")
    # trusted: it splits the key and reaches the bundle
    with server({"real_ip": '{ from = { "127.0.0.1" } }'}) as srv:
        a = raw(srv, "/proto/x", extra="X-Forwarded-Proto: https\r\n")
        b = raw(srv, "/proto/x", extra="X-Forwarded-Proto: http\r\n")
        eq((xc(a), xc(b)), ("MISS", "MISS"), "one page per value")
        eq(seen(a).get("x-forwarded-proto"), "https", "seen")
        assert xc(raw(srv, "/proto/x", extra="X-Forwarded-Proto: https\r\n")).startswith("HIT")


def test_host_never_runs_into_the_path():
    with server() as srv:
        # "Host: localhost/c0" + "/shoes" is not localhost's /c0/shoes, either order
        cases = [("localhost/c%d", "/shoes", "/c%d/shoes"), ("localhost/c%d:80", "/shoes", "/c%d/shoes"),
                 ("localhost/c%d?", "/x", "/c%d/?/x"), ("localhost%%2Fc%d", "/shoes", "/c%d/shoes"),
                 ("LOCALHOST/C%d", "/shoes", "/c%d/shoes"), ("localhost/c%d/", "/", "/c%d//"),
                 ("localhost:80/c%d", "/shoes", "/c%d/shoes")]
        for i, (host, target, victim) in enumerate(cases):
            host, victim = host % i, victim % i
            a = raw(srv, target, host)
            assert a.status in (200, 400), a       # the parser may refuse the Host
            v = raw(srv, victim)
            eq(v.status, 200, victim)
            eq(xc(v), "MISS", "%s + %s must not be %s's page" % (host, target, victim))
            assert_clean(v, host)
            # the victim's page first: the attacker never gets (nor replaces) it
            victim2, target2 = victim.replace("/c%d/" % i, "/d%d/" % i), target
            host2 = host.replace("c%d" % i, "d%d" % i).replace("C%d" % i, "D%d" % i)
            v2 = raw(srv, victim2)
            eq(xc(v2), "MISS", victim2)
            b = raw(srv, target2, host2)
            if b.status == 200:
                eq(xc(b), "MISS", "%s + %s after %s" % (host2, target2, victim2))
            v3 = raw(srv, victim2)
            assert xc(v3).startswith("HIT"), v3
            eq(counter(v3), counter(v2), "the victim's page is untouched")


def test_hook_keys_live_in_their_own_namespace():
    with server() as srv:
        a = raw(srv, "/keyed/1", "a.example")
        b = raw(srv, "/keyed/2", "b.example")
        eq((xc(a), xc(b)), ("MISS", "MISS"), "a hook's key is combined with the host")
        c = raw(srv, "/keyed/3", "A.example:81")
        assert xc(c).startswith("HIT"), c
        eq(counter(c), counter(a), "one page per host for one hook key")
        # a hook that returns another page's default key never gets (or
        # replaces) that page
        p = raw(srv, "/page/x")
        eq(xc(p), "MISS", "the plain page")
        f = raw(srv, "/fake/x")                 # its hook returns "GET localhost/page/x"
        eq(xc(f), "MISS", "the hook's key is not the default key")
        assert xc(raw(srv, "/page/x")).startswith("HIT")
        eq(counter(raw(srv, "/page/x")), counter(p), "the plain page is untouched")
        # purge by the hook's string reaches every host's page
        r = srv.request(b"POST /purge HTTP/1.1\r\nHost: localhost\r\nContent-Type: "
                        b"application/x-www-form-urlencoded\r\nContent-Length: 16\r\nConnection: close\r\n\r\n"
                        b"key=same-for-all", port=srv.admin_port)
        eq(json.loads(r.body)["purged"], 2, "both hosts' pages")


def test_repeated_query_names_keep_their_order():
    with server() as srv:
        first = raw(srv, "/page/q?x=1&x=2")
        eq(xc(raw(srv, "/page/q?x=2&x=1")), "MISS", "x=2&x=1 is another page")
        assert xc(raw(srv, "/page/q?x=1&x=2")).startswith("HIT")
        eq(xc(raw(srv, "/page/q?a=1&x=1&b=2&x=2")), "MISS", "")
        hit = raw(srv, "/page/q?x=1&b=2&x=2&a=1")     # other names move, x keeps its order
        assert xc(hit).startswith("HIT"), hit
        eq(xc(raw(srv, "/page/q?x=2&b=2&x=1&a=1")), "MISS", "")
        # more parameters than the inline sort holds: still sorted
        many = "&".join("k%03d=%d" % (i, i) for i in range(100))
        rev = "&".join("k%03d=%d" % (i, i) for i in reversed(range(100)))
        eq(xc(raw(srv, "/page/m?" + many)), "MISS", "many")
        assert xc(raw(srv, "/page/m?" + rev)).startswith("HIT")
        assert first.status == 200


def test_props_hook_of_a_stored_page_sees_the_key():
    with server() as srv:
        extra = "Accept-Language: fr\r\nX-Evil: evil\r\nCookie: c=1\r\nX-Forwarded-Host: x.example\r\n"
        # Cookie bypasses by default: without it, the page is stored
        r = raw(srv, "/props/x", "LocalHost:6666", extra=extra.replace("Cookie: c=1\r\n", ""))
        eq(xc(r), "MISS", "stored")
        p = props(r)
        eq(p["names"], "accept-language,host", "what the props hook saw")
        eq((p["lang"], p["xe"], p["client"], p["host"]), ("fr", "nil", "nil", "localhost"), "props view")
        assert_clean(r, "props")
        # a bypassed render (not stored) keeps everything
        r = raw(srv, "/props/y", extra=extra + "X-Bypass: 1\r\n")
        eq(xc(r), "BYPASS", "bypass")
        p = props(r)
        eq((p["lang"], p["xe"], p["client"], p["cookie"], p["host"]), ("fr", "evil", "127.0.0.1", "1", "localhost"),
           "all of it")
        assert "x-forwarded-host" in p["names"], p


def test_statuses_only_200_to_599():
    with server() as srv:
        for s in ("101", "100", "199", "99", "0", "600", "1000", "-200", "200.5"):
            r = raw(srv, "/page/s%s?status=%s" % (s, s))
            eq(r.status, 500, "bundle status " + s)
            assert b"HTTP/1.1 1" not in r.raw_head, r
            wait_log(srv, "status must be an integer 200..599")
            r = raw(srv, "/exit?s=" + s)
            eq(r.status, 500, "req:exit " + s)
            r = raw(srv, "/ret?s=" + s)
            eq(r.status, 500, "respond " + s)
            r = raw(srv, "/rettable?s=" + s)
            eq(r.status, 500, "respond table " + s)
        wait_log(srv, "respond hook returned status 101, expected a status 200..599")
        wait_log(srv, "req:exit: got status 101, expected a status 200..599")
        wait_log(srv, "render result: status must be an integer 200..599, not number 101")
        for s in ("200", "204", "404", "599"):
            eq(raw(srv, "/exit?s=" + s).status, int(s), "exit " + s)
            eq(raw(srv, "/ret?s=" + s).status, int(s), "ret " + s)
            eq(raw(srv, "/page/ok%s?status=%s" % (s, s)).status, int(s), "bundle " + s)


def admin(srv, method, target, body=b""):
    head = "%s %s HTTP/1.1\r\nHost: localhost\r\nContent-Length: %d\r\nConnection: close\r\n" % (
        method, target, len(body))
    if body:
        head += "Content-Type: application/x-www-form-urlencoded\r\n"
    return srv.request(head.encode() + b"\r\n" + body, port=srv.admin_port)


def test_empty_purge_selectors_are_refused():
    with server() as srv:
        raw(srv, "/page/keep")
        assert xc(raw(srv, "/page/keep")).startswith("HIT")
        for q in ("prefix=", "key=", "tag=", "url=", "all=", "all=0", "all=true", "tag=x&prefix=",
                  "prefix", "", "nothing=1", "url=/page/keep", "url=page/keep&host=localhost",
                  "url=http://localhost/page/keep&host=localhost", "host=localhost", "key=&all=1",
                  "url=/page/keep&host=a&host=b"):
            r = admin(srv, "POST", "/purge?" + q)
            eq(r.status, 400, "POST /purge?" + q)
            assert b"error" in r.body, r
            r = admin(srv, "POST", "/purge", q.encode())
            eq(r.status, 400, "form " + q)
        # nothing was purged by any of them
        assert xc(raw(srv, "/page/keep")).startswith("HIT")
        wait_log(srv, "admin: purge refused (empty prefix=")
        # url= with its host, in the query or the form
        r = admin(srv, "POST", "/purge?url=/page/keep&host=LOCALHOST:81")
        eq((r.status, json.loads(r.body)["purged"]), (200, 1), "url= and host=")
        raw(srv, "/page/keep")
        r = admin(srv, "POST", "/purge", b"url=http%3A%2F%2Flocalhost%2Fpage%2Fkeep")
        eq((r.status, json.loads(r.body)["purged"]), (200, 1), "url=http://host/path")
        raw(srv, "/page/keep")
        r = admin(srv, "POST", "/purge?all=1")
        eq(r.status, 200, "all=1")
        assert json.loads(r.body)["purged"] >= 1


def test_real_ip_trusted_and_untrusted():
    xff = "X-Forwarded-For: 6.6.6.6, 10.1.1.1\r\nX-Forwarded-Host: fwd.example\r\n"
    # trusted: 127.0.0.1 listed
    with server({"real_ip": '{ from = { "127.0.0.1", "10.0.0.0/8" }, recursive = true }'}) as srv:
        eq(raw(srv, "/client", extra=xff).body, b"6.6.6.6", "the client behind two trusted hops")
        eq(raw(srv, "/client", extra="X-Forwarded-For: 10.1.1.1, 10.2.2.2\r\n").body, b"10.1.1.1", "all trusted")
        eq(raw(srv, "/client").body, b"127.0.0.1", "no header: the peer")
        h = seen(raw(srv, "/nocache/t", extra=xff))
        eq(h.get("x-forwarded-host"), "fwd.example", "a trusted proxy's claims reach an uncached render")
        # a stored page still holds only what the key covers
        r = raw(srv, "/page/t", extra=xff)
        eq(sorted(seen(r)), ["host"], "stored page")
    with server({"real_ip": '{ from = { "127.0.0.1" }, header = "X-Real-IP" }'}) as srv:
        eq(raw(srv, "/client", extra="X-Real-IP: 7.7.7.7\r\n" + xff).body, b"7.7.7.7", "X-Real-IP")
    with server({"real_ip": '{ from = "127.0.0.1" }'}) as srv:
        eq(raw(srv, "/client", extra=xff).body, b"10.1.1.1", "not recursive: the last address")
    # untrusted: the peer is not in from
    with server({"real_ip": '{ from = { "10.0.0.0/8", "::1" }, recursive = true }'}) as srv:
        eq(raw(srv, "/client", extra=xff).body, b"127.0.0.1", "untrusted: the peer")
        h = seen(raw(srv, "/nocache/u", extra=xff))
        assert "x-forwarded-host" not in h and "x-forwarded-for" not in h, h
    with server() as srv:                              # no real_ip: nobody is trusted
        eq(raw(srv, "/client", extra=xff).body, b"127.0.0.1", "default")


def test_real_ip_config_errors():
    bad = [
        ('{ from = { "10.0.0.0/8", "10.1.2.3/8" } }',
         "'real_ip.from' entry 2 \"10.1.2.3/8\": host bits are set past the prefix length"),
        ('{ from = { "10.0.0.0/33" } }', "'real_ip.from' entry 1 \"10.0.0.0/33\": an IPv4 prefix length is 0..32"),
        ('{ from = { "::1/129" } }', "an IPv6 prefix length is 0..128"),
        ('{ from = { "::ffff:10.0.0.0/8" } }', "an IPv4-mapped prefix length is 96..128"),
        ('{ from = { "example.com" } }', "'real_ip.from' entry 1 \"example.com\": not an IPv4 or IPv6 address"),
        ('{ from = { "10.0.0.0/" } }', "a prefix length must follow '/'"),
        ('{ from = { 10 } }', "'real_ip.from' entry 1 must be a string, got number 10"),
        ('{ from = 5 }', "'real_ip.from' must be a list of addresses or CIDR blocks"),
        ('{ header = "X Bad" }', "'real_ip.header' must be a header name"),
        ('{ recursive = "yes" }', "'real_ip.recursive' must be a boolean"),
        ('{ form = {} }', "unknown key 'form' in ssr.config.real_ip"),
        ('"10.0.0.0/8"', "'real_ip' must be a table"),
    ]
    for value, msg in bad:
        srv = Server(config={"real_ip": value}, routes="")
        code, out = run_config_check(srv.config_path)
        eq(code, 1, value)
        assert msg in out, (value, out)
        assert re.search(r"rustyssr\.lua:\d+: ", out), out
    srv = Server(config={"real_ip": '{ from = { "10.0.0.0/8", "192.168.0.0/16", "::1", "2001:db8::/32", '
                                    '"[fe80::1]", "::ffff:10.0.0.0/104" }, header = "CF-Connecting-IP" }'},
                 routes="")
    code, out = run_config_check(srv.config_path)
    eq(code, 0, out)


if __name__ == "__main__":
    main([test_headers_outside_the_key_never_reach_a_stored_page, test_uncached_renders_keep_their_headers,
          test_named_headers_split_the_key, test_named_forwarding_header_needs_a_trusted_peer,
          test_host_never_runs_into_the_path,
          test_hook_keys_live_in_their_own_namespace, test_repeated_query_names_keep_their_order,
          test_props_hook_of_a_stored_page_sees_the_key, test_statuses_only_200_to_599,
          test_empty_purge_selectors_are_refused, test_real_ip_trusted_and_untrusted,
          test_real_ip_config_errors])
