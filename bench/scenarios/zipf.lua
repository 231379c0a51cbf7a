-- bench/scenarios/zipf.lua — requests drawn from a Zipf(s) distribution over
-- a list of URLs (hit-many, mixed).
--
--   wrk ... -s zipf.lua http://127.0.0.1:PORT/ -- URLS_FILE [SEED] [S]
--
-- URLS_FILE has one request-target a line, most popular first (rank 1).
-- Each wrk thread draws from its own generator (seed SEED*1000 + thread), by
-- binary search in the precomputed CDF; the requests are formatted once, at
-- init, so a request costs one random number and ~14 comparisons.
dofile(os.getenv("BENCH_SCENARIOS") .. "/report.lua")

local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("tid", threads)
end

local reqs, cdf, n = {}, {}, 0
function init(args)
  local file, seed, s = args[1], tonumber(args[2] or "1"), tonumber(args[3] or "0.99")
  local total = 0
  for line in io.lines(file) do
    n = n + 1
    reqs[n] = wrk.format("GET", line)
    total = total + n ^ -s
    cdf[n] = total
  end
  for i = 1, n do cdf[i] = cdf[i] / total end
  math.randomseed(seed * 1000 + (tid or 0))
end

function request()
  local u, lo, hi = math.random(), 1, n
  while lo < hi do
    local mid = math.floor((lo + hi) / 2)
    if cdf[mid] < u then lo = mid + 1 else hi = mid end
  end
  return reqs[lo]
end
