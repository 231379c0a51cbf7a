-- Fixture: an empty pid file path. Expected: "bad_pid.lua:4: ssr.config: 'pid' must be a file path, got an empty string"
local ssr = require "rustyssr"

ssr.config { pid = "" }
