-- Fixture: a bad value in the options of a multi-line route. Expected:
-- "bad_route_key.lua:9: ssr.route: 'redirect.status' must be an integer between 301 and 308, got number 200"
local ssr = require "rustyssr"

ssr.config { listen = "127.0.0.1:8080" }

ssr.route("GET", "/old", {
  redirect = { to = "/new",
    status = 200 },
})
