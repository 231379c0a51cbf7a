-- Fixture: a route module that tests/lua/main_ok.lua requires.
local ssr = require "rustyssr"

ssr.route({ "GET", "POST" }, "/extra/*", {
  respond = { status = 201, headers = { ["X-From"] = "extra" }, body = "extra\n" },
})
