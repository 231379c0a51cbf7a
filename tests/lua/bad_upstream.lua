-- Fixture: a proxy route naming an upstream that ssr.config does not
-- declare. The error points at the route. Expected:
-- "bad_upstream.lua:9: proxy: no upstream 'ap' in ssr.config { upstreams = { ... } }"
local ssr = require "rustyssr"

ssr.config {
  upstreams = { api = { servers = { "127.0.0.1:9000" } } },
}
ssr.proxy("/api/", { upstream = "ap" })
