-- Fixture: a good config that requires a route module relative to its own
-- folder (tests/lua/routes/extra.lua), whatever the current directory.
local ssr = require "rustyssr"

ssr.config {
  listen = "127.0.0.1:18080",
  admin = false,
  workers = 2,
  limits = { body = "64KB" },
  log = { level = "warn", access = "stderr" },
}

ssr.respond("/health", 200, "ok\n")
require "routes.extra"
