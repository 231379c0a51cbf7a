-- Fixture: a misspelt key. Expected: "bad_unknown_key.lua:3: unknown key 'listn' in ssr.config (did you mean 'listen'?)"
local ssr = require "rustyssr"
ssr.config { listn = "127.0.0.1:8080" }
