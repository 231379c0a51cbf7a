-- Fixture: a port out of range. Errors point at the line of the offending
-- key (found in the source: a table's keys carry no line). Expected:
-- "bad_port.lua:7: ssr.config: 'listen' = "127.0.0.1:99999": port out of range (0..65535)"
local ssr = require "rustyssr"

ssr.config {
  listen = "127.0.0.1:99999",
}
