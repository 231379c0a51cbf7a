-- Fixture: a misspelt key deep in a long ssr.config (the ttll in this comment
-- and the one of the later route are not it). Expected:
-- "bad_nested_key.lua:13: unknown key 'ttll' in ssr.config.cache (did you mean 'ttl'?)"
local ssr = require "rustyssr"

ssr.config {
  listen = "127.0.0.1:8080",
  workers = 1,
  limits = { url = 4096 },
  cache = {
    max_entries = 1000,
    grace = 5,
    ttll = 30,
  },
}

ssr.route("GET", "/x", {
  ttll = 5,
  respond = { status = 200, body = "x" },
})
