-- Fixture: a value of the wrong type. Expected: "bad_type.lua:4: ssr.config: 'workers' must be "auto" or a positive integer, got string "lots""
local ssr = require "rustyssr"

ssr.config { workers = "lots" }
