-- A route module required by the hooks test's config: hooks declared in a
-- module must reach every loop thread's Lua state as well.
local ssr = require "rustyssr"

ssr.route("GET", "/mod", function(req)
  return 200, "from a module: " .. req.path
end)
