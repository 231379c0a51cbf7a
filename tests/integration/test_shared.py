"""ssr.shared.NAME (OpenResty's lua_shared_dict) over real sockets: incr
from many concurrent requests across loop threads sums exactly, TTLs expire,
the byte bound evicts (and safe_set refuses), every value type and the
OpenResty answers, use from the config file, bad declarations refused with
file:line; and require "cjson" in the config and in hooks."""

import os
import tempfile
import threading
import time

from rslib import SLOW, Server, eq, main, run_config_check

ROUTES = r'''
local cjson = require "cjson"                -- in the config, on every state
local STATE = tostring({}):match("0x%x+") or tostring(math.random())
ssr.shared.flags:set("boot", "from-config")

ssr.route("GET", "/hit", function(req)
  local n, err = ssr.shared.counters:incr("hits", 1, 0)
  if not n then return 500, err end
  ssr.shared.counters:set("state:" .. STATE, true)
  return 200, tostring(n)
end)
ssr.route("GET", "/count", function(req)
  local n = ssr.shared.counters:get("hits")
  local states = 0
  for _, k in ipairs(ssr.shared.counters:get_keys(0)) do
    if k:sub(1, 6) == "state:" then states = states + 1 end
  end
  return 200, tostring(n) .. " " .. states
end)
ssr.route("GET", "/ttl/set", function(req)
  local ok = ssr.shared.flags:set("short", "v", tonumber(req.query.t))
  return 200, tostring(ok)
end)
ssr.route("GET", "/ttl/get", function(req)
  local v = ssr.shared.flags:get("short")
  local ttl, err = ssr.shared.flags:ttl("short")
  return 200, tostring(v) .. " " .. tostring(ttl and ttl > 0) .. " " .. tostring(err)
end)
ssr.route("GET", "/types", function(req)
  local d = ssr.shared.flags
  local out = {}
  local function put(...) local t = { ... } for i = 1, select("#", ...) do t[i] = tostring(t[i]) end
    out[#out + 1] = table.concat(t, ",", 1, select("#", ...)) end
  put(d:set("s", "text"))
  put(d:set("n", 42.5, 0, 7))
  put(d:set("b", false))
  put(d:get("s")) put(d:get("n")) put(d:get("b")) put(d:get("none"))
  put(d:add("s", "again")) put(d:replace("nope", 1)) put(d:replace("s", "new")) put(d:get("s"))
  put(d:incr("s", 1)) put(d:incr("missing", 1)) put(d:incr("c", 2, 10))
  put(d:set("s", nil)) put(d:get("s"))
  put(d:get(""))
  put(d:expire("n", 100)) put(d:expire("gone", 1))
  put(d:set("t", {}))
  put(ssr.shared.undeclared)
  put(d:get("boot"))
  d:flush_all()
  put(d:get("n"), #d:get_keys())
  return 200, table.concat(out, "|")
end)
ssr.route("GET", "/bound", function(req)
  local d = ssr.shared.small
  local forced = false
  local blob = string.rep("x", 100)
  for i = 1, 400 do
    local ok, err, forcible = d:set("k" .. i, blob)
    if not ok then return 500, "set failed: " .. tostring(err) end
    forced = forced or forcible
  end
  local safe_ok, safe_err = d:safe_set("safe", string.rep("y", 1000))
  local kept = #d:get_keys(0)
  return 200, table.concat({ tostring(forced), tostring(d:get("k1")), tostring(d:get("k400") ~= nil),
    tostring(safe_ok), tostring(safe_err), tostring(kept < 400), tostring(d:capacity()),
    tostring(d:free_space() < d:capacity()) }, " ")
end)
ssr.route("POST", "/json", function(req)
  local t = cjson.decode('{"a":[1,2,{"b":"c\\u00e9"}],"ok":true}')
  return 200, cjson.encode({ n = #t.a, b = t.a[3].b, ok = t.ok })
end)
'''


def server():
    return Server(workers=2, config={"shared": '{ counters = "1m", flags = "64k", small = "16k" }'},
                  routes=ROUTES)


def test_incr_across_loops_sums_exactly():
    total, threads = 240, 8
    errors = []

    def client(n):
        for _ in range(n):
            try:
                r = srv.get("/hit")
                if r.status != 200:
                    errors.append(r)
            except Exception as e:  # noqa: BLE001 (reported below)
                errors.append(e)

    with server() as srv:
        ts = [threading.Thread(target=client, args=(total // threads,)) for _ in range(threads)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        assert not errors, errors[:3]
        r = srv.get("/count")
        count, states = r.body.decode().split()
        eq(count, str(total), "the sum of every loop's incr")
        # Each loop thread's Lua state set its own key: both loops served.
        assert int(states) >= 2, "one loop served everything: %r" % r.body


def test_ttl_expires():
    with server() as srv:
        eq(srv.get("/ttl/set?t=0.3").body, b"true")
        eq(srv.get("/ttl/get").body, b"v true nil")
        deadline = time.time() + 10 * SLOW
        while time.time() < deadline:
            body = srv.get("/ttl/get").body
            if body == b"nil nil not found":
                break
            time.sleep(0.05)
        eq(body, b"nil nil not found", "after its TTL")
        eq(srv.get("/ttl/set?t=0").body, b"true")
        eq(srv.get("/ttl/get").body, b"v false nil", "exptime 0: never expires (ttl 0)")


def test_types_and_answers():
    with server() as srv:
        r = srv.get("/types")
        eq(r.status, 200, r.body)
        want = ["true,nil,false", "true,nil,false", "true,nil,false",
                "text", "42.5,7", "false", "nil",
                "false,exists,false", "false,not found,false", "true,nil,false", "new",
                "nil,not a number", "nil,not found", "12,nil,false",
                "true,nil,false", "nil",
                "nil,empty key",
                "true", "nil,not found",
                "false,bad value type",
                "nil",
                "from-config",
                "nil,0"]
        eq(r.body.decode().split("|"), want)


def test_memory_bound():
    with server() as srv:
        r = srv.get("/bound")
        eq(r.status, 200, r.body)
        # 400 items of ~100 bytes in 16 KiB: the oldest evicted (forcible),
        # the newest kept, safe_set refused rather than evict.
        eq(r.body.decode(), "true nil true false no memory true 16384 true")


def test_cjson_in_hooks():
    with server() as srv:
        r = srv.get("/json", method="POST")
        eq(r.status, 200, r.body)
        import json
        eq(json.loads(r.body), {"n": 3, "b": "c\u00e9", "ok": True})


def test_reload_keeps_items():
    """A reload keeps a dictionary declared again under its name, items and
    all; the limit buckets too (same route, same file:line)."""
    from test_reload import reload
    with server() as srv:
        for _ in range(5):
            eq(srv.get("/hit").status, 200)
        reload(srv)
        eq(srv.get("/hit").body, b"6", "counted on after the reload")


def test_bad_declarations():
    d = tempfile.mkdtemp(prefix="rs-shared-")
    for body, want in (('  shared = { ["bad-name"] = "1m" },\n', ":3: ssr.config: 'shared' names must be identifiers"),
                       ('  shared = { tiny = 100 },\n', ":3: ssr.config: 'shared.tiny' must be a size between 8192"),
                       ('  shared = { x = "lots" },\n', ":3: ssr.config: 'shared.x' must be a size"),
                       ('  limit_keys = 1,\n', ":3: ssr.config: 'limit_keys' must be an integer")):
        path = os.path.join(d, "rustyssr.lua")
        with open(path, "w") as f:
            f.write('local ssr = require "rustyssr"\nssr.config {\n' + body + '}\n')
        code, out = run_config_check(path)
        eq(code, 1, out)
        assert path + want in out, (want, out)


def test_dump_lists_dictionaries():
    d = tempfile.mkdtemp(prefix="rs-shared-")
    path = os.path.join(d, "rustyssr.lua")
    with open(path, "w") as f:
        f.write('local ssr = require "rustyssr"\nssr.config {\n  shared = {\n    b = "64k", a = 8192 },\n}\n')
    import subprocess
    from rslib import BIN
    p = subprocess.run([BIN, "-T", "-c", path], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    eq(p.returncode, 0, p.stderr)
    out = p.stdout.decode()
    assert '    ["a"] = 8192,  -- %s:4' % path in out, out
    assert '    ["b"] = 65536,  -- %s:4' % path in out, out
    assert "  limit_keys = 100000,  -- default" in out, out


if __name__ == "__main__":
    main([test_incr_across_loops_sums_exactly, test_ttl_expires, test_types_and_answers, test_memory_bound,
          test_cjson_in_hooks, test_reload_keeps_items, test_bad_declarations, test_dump_lists_dictionaries])
