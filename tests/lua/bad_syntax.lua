-- Fixture: a syntax error. Expected: "bad_syntax.lua:4: unexpected symbol near '='" (Lua's own message)
local ssr = require "rustyssr"

ssr.config { listen = = "127.0.0.1:8080" }
