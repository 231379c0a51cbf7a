-- bench/scenarios/unique.lua — every request a URL never asked before (miss):
-- the run's nonce (the argument after --), the wrk thread and a counter go
-- in the query, over the demo's eight categories and 40 pages.
--
--   wrk ... -s unique.lua http://127.0.0.1:PORT/ -- NONCE
--
-- `tid` is a global that setup() puts into each thread's Lua state (a local
-- of that name would give every thread the same URLs, which a cache would
-- then answer or coalesce).
dofile(os.getenv("BENCH_SCENARIOS") .. "/report.lua")

local cats = { "shoes", "electronics", "clothes", "home", "toys", "books", "beauty", "sport" }
local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("tid", threads)
end

local n, nonce = 0, "0"
function init(args) nonce = args[1] or "0" end

function request()
  n = n + 1
  return wrk.format("GET", "/catalog/" .. cats[n % 8 + 1] .. "?page=" .. (n % 40 + 1) ..
                    "&u=" .. nonce .. "-" .. tostring(tid) .. "-" .. n)
end
