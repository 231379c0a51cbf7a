-- routes/backend.lua — the demo's backend: a JSON API answered from Lua on
-- the `backend` listener (127.0.0.1:9000), so that the example runs with no
-- other service. Stands in for your real API, which `upstreams.api` would
-- name instead.
local ssr = require "rustyssr"

local json = { ["Content-Type"] = "application/json" }

local NOUNS = { "Sneakers", "Headphones", "Jacket", "Lamp", "Robot", "Novel", "Serum", "Ball" }

-- A product as the demo app's cards expect it; a pure function of the id.
local function product(id)
  local n = tonumber(id)
  if not n or n < 1 or n > 9999999 or n ~= math.floor(n) then return nil end
  local price = 990 + (n * 7919) % 50000
  return string.format(
    '{"id":%d,"name":"%s %d","price":%d,"rating":%.1f,"reviews":%d}',
    n, NOUNS[n % #NOUNS + 1], n, price - price % 100 - 10, 3.5 + (n % 15) / 10, (n * 37) % 5000)
end

ssr.route("GET", "/products/:id", { server = "backend", respond = function(req)
  local p = product(req.params.id)
  if not p then return 404, '{"error":"no such product"}\n', json end
  return 200, p, json
end })

-- A webhook the CMS would call when content changes: purge by tag.
-- curl -X POST 'http://127.0.0.1:9000/hooks/purge?tag=catalog'
ssr.route("POST", "/hooks/purge", { server = "backend", respond = function(req)
  local tag = req.query.tag
  if type(tag) ~= "string" or tag == "" then return 400, '{"error":"?tag= is required"}\n', json end
  local n, err = ssr.purge { tag = tag }
  if not n then return 503, '{"error":"' .. err .. '"}\n', json end
  return 200, '{"purged":' .. n .. '}\n', json
end })
