"""Per-route cache policy over real sockets: declarative bypass on a cookie,
a header or a query parameter (no Lua), route tags and purge by tag (admin
and ssr.purge from a respond handler), which statuses are stored,
cache_cookie / cache_authorization, per-route TTLs at the top level, key
hooks that split and merge pages, and ssr.purge's other selectors and
errors."""

import json
import os
import re
import time

from rslib import SLOW, TESTS, Server, main, run_config_check

BUNDLE = os.path.join(TESTS, "js", "it_policy.js")

ROUTES = r'''
ssr.route("GET", "/decl/*", { render = true, cache_cookie = true,
  bypass = { cookie = "session", header = "X-Preview", query = { "preview", "draft" } } })
ssr.route("GET", "/tagged/*", { render = true, tags = { "catalog", "ssr" } })
ssr.route("GET", "/plain/*", { render = true })
ssr.route("GET", "/gone/*", { render = true, cache_statuses = { 200, 410 } })
ssr.route("GET", "/short/*", { render = true, ttl = 1, grace = 0 })
ssr.route("GET", "/long/*", { render = true, ttl = 30, grace = 0 })
ssr.route("GET", "/cookie-ok/*", { render = true, cache_cookie = true })
ssr.route("GET", "/auth-ok/*", { render = true, cache_authorization = true })
ssr.route("GET", "/variant/*", { render = true,
  key = function(req) return "v:" .. req.path .. ":" .. (req.headers["x-variant"] or "-") end })
ssr.route("GET", "/merge/*", { render = true, key = function(req) return "m:" .. req.path:lower() end })

-- a CMS webhook: purge what the event names
ssr.route("POST", "/hook/purge", function(req)
  local sel = {}
  for k, v in pairs(req.query) do sel[k] = v end
  if sel.all then sel.all = true end
  local n, err = ssr.purge(sel)
  if not n then return 503, "error: " .. err end
  return 200, "purged " .. n
end)
ssr.route("GET", "/hook/bad", function(req) return 200, tostring(ssr.purge { tag = 5 }) end)
ssr.route("GET", "/hook/two", function(req) return 200, tostring(ssr.purge { tag = "a", key = "b" }) end)
'''


def server(**kw):
    return Server(workers=2, config={"render": '{ bundle = "%s", threads = 1 }' % BUNDLE,
                                     "cache": "{ ttl = 60, grace = 0 }"}, routes=ROUTES, **kw)


def xc(r):
    return r.header("x-cache") or ""


def hit(r):
    return xc(r).startswith("HIT")


def counter(r):
    m = re.search(rb"<p id=n>(\d+)</p>", r.body)
    assert m, r
    return int(m.group(1))


def admin_purge(srv, query):
    raw = "POST /purge?%s HTTP/1.1\r\nHost: localhost\r\nContent-Length: 0\r\nConnection: close\r\n\r\n" % query
    r = srv.request(raw.encode(), port=srv.admin_port)
    assert r.status == 200, r
    return json.loads(r.body)["purged"]


def hook_purge(srv, query):
    raw = "POST /hook/purge?%s HTTP/1.1\r\nHost: localhost\r\nContent-Length: 0\r\nConnection: close\r\n\r\n" % query
    return srv.request(raw.encode())


def test_declarative_bypass():
    with server() as srv:
        first = srv.get("/decl/x")
        assert xc(first) == "MISS", first
        assert hit(srv.get("/decl/x"))
        # a harmless cookie is cached (cache_cookie = true) ...
        assert hit(srv.get("/decl/x", headers={"Cookie": "theme=dark"}))
        assert hit(srv.get("/decl/x", headers={"Cookie": "session=; theme=dark"}))  # empty: no bypass
        # ... the named one, the header and the query parameters bypass, each rendered fresh
        seen = {counter(first)}
        for h, path in (({"Cookie": "theme=dark; session=abc"}, "/decl/x"),
                        ({"X-Preview": "1"}, "/decl/x"),
                        ({"x-preview": "yes"}, "/decl/x"),
                        ({}, "/decl/x?preview=1"),
                        ({}, "/decl/x?a=1&draft=yes")):
            r = srv.get(path, headers=h)
            assert r.status == 200 and xc(r) == "BYPASS", (h, path, r)
            assert counter(r) not in seen, (h, path, r)
            seen.add(counter(r))
        # empty values do not bypass; a bypass neither stored nor purged anything
        assert xc(srv.get("/decl/x?preview=")) == "MISS"
        assert xc(srv.get("/decl/x", headers={"X-Preview": ""})).startswith("HIT")
        again = srv.get("/decl/x")
        assert hit(again) and counter(again) == counter(first), again
        assert srv.metrics()["rustyssr_cache_bypass_total"] == 5
        # other routes keep the default: any Cookie bypasses
        assert xc(srv.get("/plain/x", headers={"Cookie": "theme=dark"})) == "BYPASS"


def test_tags_and_purge_by_tag():
    with server() as srv:
        pages = ["/tagged/a", "/tagged/b", "/tagged/c?tag=own"]
        for p in pages + ["/plain/x"]:
            assert xc(srv.get(p)) == "MISS"
        before = {p: counter(srv.get(p)) for p in pages}
        # fill both loops' L1s (connections spread over the two loops)
        for _ in range(8):
            for p in pages:
                assert hit(srv.get(p))
        eq_n = admin_purge(srv, "tag=catalog")
        assert eq_n == 3, eq_n
        for _ in range(6):       # no loop serves a purged page from its L1
            for p in pages:
                assert counter(srv.get(p)) != before[p], p
        assert hit(srv.get("/plain/x"))          # untagged: still there
        # the bundle's own tag is kept beside the route's
        assert admin_purge(srv, "tag=own") == 1
        srv.get("/tagged/c?tag=own")
        # ssr.purge from a respond handler (a webhook)
        r = hook_purge(srv, "tag=ssr")
        assert r.status == 200 and r.body == b"purged 3", r
        for p in pages:
            assert xc(srv.get(p)) == "MISS", p
        assert hook_purge(srv, "tag=nothing-has-it").body == b"purged 0"
        assert "ssr.purge tag ssr: 3 page(s)" in srv.log(), srv.log()


def test_purge_selectors_from_lua():
    with server() as srv:
        srv.get("/plain/u?b=2&a=1"), srv.get("/plain/v"), srv.get("/plain/w")
        srv.get("/variant/k", headers={"X-Variant": "A"})
        # a URL with its host: the default key (query order does not matter)
        assert hook_purge(srv, "url=/plain/u%3Fa%3D1%26b%3D2&host=localhost").body == b"purged 1"
        assert xc(srv.get("/plain/u?b=2&a=1")) == "MISS"
        assert hook_purge(srv, "url=http%3A%2F%2Flocalhost%2Fplain%2Fu%3Fa%3D1%26b%3D2").body == b"purged 1"
        # a key hook's key, a key prefix, everything
        assert hook_purge(srv, "key=v:/variant/k:A").body == b"purged 1"
        assert xc(srv.get("/variant/k", headers={"X-Variant": "A"})) == "MISS"
        assert hook_purge(srv, "prefix=GET+localhost/plain/").body == b"purged 2"
        assert hit(srv.get("/variant/k", headers={"X-Variant": "A"}))
        assert hook_purge(srv, "all=1").body == b"purged 1"
        # a wrong argument is an error in the hook: 500 and a log line
        r = srv.get("/hook/bad")
        assert r.status == 500, r
        assert "ssr.purge: 'tag' must be a non-empty string, got number 5" in srv.log(), srv.log()
        assert srv.get("/hook/two").status == 500
        assert "ssr.purge: give one of key, prefix, tag, url or all, not" in srv.log(), srv.log()
        r = hook_purge(srv, "url=/plain/x")
        assert r.status == 500 and "'url' needs 'host'" in srv.log(), r
        r = hook_purge(srv, "tags=x")
        assert r.status == 500 and "unknown key 'tags' in ssr.purge (did you mean 'tag'?)" in srv.log(), r


def test_purge_url_any_spelling_of_the_path():
    """Pages are keyed by the canonical path: a purge by url finds the page
    whatever spelling of its path it is given (decoded, lower-case escapes,
    dot segments, doubled slashes), from the admin listener and from Lua."""
    with server() as srv:
        spellings = ("/plain/caf%C3%A9", "/plain/caf%c3%a9", "/plain/./caf%c3%a9", "//plain/x/../caf%C3%A9")
        for i, sp in enumerate(spellings):
            assert xc(srv.get("/plain/caf%c3%a9")) == ("MISS" if i == 0 else "MISS"), i
            assert hit(srv.get("/plain/caf%C3%A9"))
            if i % 2:
                assert admin_purge(srv, "url=%s&host=localhost" % sp.replace("%", "%25")) == 1, sp
            else:
                assert hook_purge(srv, "url=%s&host=localhost" % sp.replace("%", "%25")).body == b"purged 1", sp
        # the raw UTF-8 spelling, from Lua
        assert xc(srv.get("/plain/caf%c3%a9")) == "MISS"
        assert hook_purge(srv, "url=/plain/caf%C3%A9&host=localhost").body == b"purged 1"
        assert admin_purge(srv, "url=/plain/caf%25zz&host=localhost") == 0   # no request has that path


def test_statuses():
    with server() as srv:
        # default: 404 stored, 410 and 500 never
        assert xc(srv.get("/plain/s?status=404")) == "MISS"
        r = srv.get("/plain/s?status=404")
        assert r.status == 404 and hit(r), r
        for st in (410, 500):
            a = srv.get("/plain/s?status=%d" % st)
            b = srv.get("/plain/s?status=%d" % st)
            assert a.status == st and b.status == st and xc(b) == "MISS", (a, b)
            assert counter(a) != counter(b)
        # cache_statuses = { 200, 410 }: 410 stored, 404 no longer
        assert xc(srv.get("/gone/s?status=410")) == "MISS"
        r = srv.get("/gone/s?status=410")
        assert r.status == 410 and hit(r), r
        srv.get("/gone/s?status=404")
        r = srv.get("/gone/s?status=404")
        assert r.status == 404 and xc(r) == "MISS", r
        assert srv.metrics()["rustyssr_cache_uncacheable_total"] >= 6


def test_cookie_and_authorization_allowed():
    with server() as srv:
        a = srv.get("/cookie-ok/x", headers={"Cookie": "theme=dark"})
        assert xc(a) == "MISS", a
        b = srv.get("/cookie-ok/x", headers={"Cookie": "other=1"})
        assert hit(b) and counter(a) == counter(b), b
        assert hit(srv.get("/cookie-ok/x"))
        # Authorization still bypasses there; cache_authorization allows it elsewhere
        assert xc(srv.get("/cookie-ok/x", headers={"Authorization": "Bearer t"})) == "BYPASS"
        assert xc(srv.get("/auth-ok/x", headers={"Authorization": "Bearer t"})) == "MISS"
        assert hit(srv.get("/auth-ok/x", headers={"Authorization": "Bearer u"}))
        assert xc(srv.get("/auth-ok/x", headers={"Cookie": "a=1"})) == "BYPASS"


def test_per_route_ttl():
    with server() as srv:
        t0 = time.time()
        assert xc(srv.get("/short/a")) == "MISS" and xc(srv.get("/long/a")) == "MISS"
        s = srv.get("/short/a")
        if time.time() - t0 < 0.8:       # a loaded machine may already be past the 1 s
            assert hit(s), s
        assert hit(srv.get("/long/a"))
        time.sleep(max(0.0, 1.5 - (time.time() - t0)))
        assert xc(srv.get("/short/a")) == "MISS"      # expired at its own TTL ...
        assert hit(srv.get("/long/a"))                # ... the other is still fresh


def test_key_hooks_split_and_merge():
    with server() as srv:
        a = srv.get("/variant/p", headers={"X-Variant": "A"})
        b = srv.get("/variant/p", headers={"X-Variant": "B"})
        assert xc(a) == "MISS" and xc(b) == "MISS", (a, b)
        a2 = srv.get("/variant/p", headers={"X-Variant": "A"})
        b2 = srv.get("/variant/p", headers={"X-Variant": "B"})
        assert hit(a2) and hit(b2) and counter(a2) == counter(a) and counter(b2) == counter(b)
        assert counter(a) != counter(b)
        assert xc(srv.get("/variant/p")) == "MISS"   # no header: a third page
        m1 = srv.get("/merge/Page")
        m2 = srv.get("/merge/page")
        assert xc(m1) == "MISS" and hit(m2) and m1.body == m2.body, (m1, m2)


def test_purge_without_cache_and_at_load():
    srv = Server(workers=1, config={"cache": "false"}, routes=r'''
ssr.route("GET", "/p", function(req)
  local n, err = ssr.purge { all = true }
  return 200, tostring(n) .. " " .. tostring(err)
end)''')
    with srv:
        r = srv.get("/p")
        assert r.status == 200 and r.body == b"nil the page cache is off", r
    bad = Server(routes='ssr.purge { tag = "x" }')
    code, out = run_config_check(bad.config_path)
    assert code == 1, out
    assert re.search(r"rustyssr\.lua:\d+: ssr\.purge: call it from a hook or a respond handler", out), out


if __name__ == "__main__":
    main([test_declarative_bypass, test_tags_and_purge_by_tag, test_purge_selectors_from_lua, test_purge_url_any_spelling_of_the_path, test_statuses,
          test_cookie_and_authorization_allowed, test_per_route_ttl, test_key_hooks_split_and_merge,
          test_purge_without_cache_and_at_load])
