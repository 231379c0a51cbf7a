-- routes/site.lua — the public site: the demo app rendered and cached, its
-- assets, an API proxied to the backend, and a few Lua routes. Required by
-- rustyssr.lua.example; each loop thread runs it again in its own Lua state.
local ssr = require "rustyssr"

-- A health check as a Lua respond route: status, body, headers.
ssr.route("GET", "/health", function(req)
  return 200, "ok\n", { ["Cache-Control"] = "no-store" }
end)

-- The browser bundle, stylesheet and product pictures (/assets/i/*.svg), as
-- nginx would serve them: ETag, Last-Modified, 304, Range; never a path out
-- of the root. The build writes FILE.br and FILE.gz beside each: they go as
-- they are to a browser that takes them (precompressed, nginx's
-- gzip_static), no compression per request. A missing asset is a 404 here,
-- never a page render.
ssr.static("/assets/", { root = "bench/app/dist/client", max_age = 3600 })

-- The home page: rendered, cached 30 s. A visitor with a session cookie
-- gets a page of their own (no lookup, not stored: X-Cache: BYPASS),
-- decided in C, without Lua. `cookies` names the cookies the pages depend
-- on (none here; a shop would say { "currency", "lang" }, each then joining
-- the key): every other cookie (_ga, _gid, consent...) neither bypasses the
-- cache nor reaches the page, so browsers with analytics cookies get cached
-- pages.
ssr.route("GET", "/", {
  render = true, ttl = 30, grace = 10,
  cookies = {},
  bypass = { cookie = "session" },
  tags = { "home" },
})

-- Catalogue pages: cached 5 minutes, served stale for a minute while one
-- background render refreshes them. The key hook keeps only what the page
-- depends on (?page and ?sort), so ?utm_source=... links share one page.
-- Purge them all with ssr.purge { tag = "catalog" } (see routes/backend.lua)
-- or `curl -X POST 'http://127.0.0.1:9901/purge?tag=catalog'`.
ssr.route("GET", "/catalog/:slug", {
  render = true, ttl = 300, grace = 60,
  tags = { "catalog" },
  cookies = {},
  bypass = { cookie = "session", query = "preview" },
  key = function(req)
    local q = req.query
    return "catalog/" .. req.params.slug .. "?page=" .. tostring(q.page or "1") ..
           "&sort=" .. tostring(q.sort or "")
  end,
})

-- A product page rendered from backend data. The props hook runs only on a
-- miss (never on a hit); its fetch yields this request's coroutine to the
-- loop, which serves others meanwhile. The page depends on :id only, which
-- the default key (host + path + sorted query) already holds.
ssr.route("GET", "/product/:id", {
  render = true, ttl = 120, grace = 30,
  tags = { "product" },
  cookies = {},
  bypass = { cookie = "session" },
  props = function(req)
    local res, err = ssr.fetch("api", "/products/" .. req.params.id, { timeout_ms = 1000 })
    if not res then return nil, err end            -- logged; 500 (or the stale page)
    if res.status == 404 then return { notFound = true } end  -- the bundle's 404 page
    if res.status ~= 200 then return nil, "backend answered " .. res.status end
    local p, jerr = res:json()
    if not p then return nil, jerr end
    req:set_header("X-Product-Source", "backend")  -- this answer only, never stored
    return { categoryTitle = p.name, products = { p }, page = 1, pages = 1, total = 1 }
  end,
})

-- The demo's product cards link to /p/ID: a redirect computed in Lua.
ssr.route("GET", "/p/:id", function(req)
  return 301, "", { Location = "/product/" .. req.params.id }
end)

-- An nginx-style fixed redirect (no Lua), keeping the query string.
ssr.route("GET", "/shop", { redirect = { to = "/catalog/shoes", status = 302, keep_query = true } })

-- The JSON API, proxied to the upstream: /api/products/7 → /products/7.
-- Streams both ways, adds X-Forwarded-For/-Proto/-Host and X-Request-Id;
-- upstream down → 502, timeout → 504. GET and HEAD answers are cached 10 s
-- by the same policy as pages (never with Set-Cookie, private, no-store).
-- Each client may send 50 requests a second to it, 100 at once (nginx's
-- limit_req with burst and nodelay); beyond: 429 with Retry-After.
ssr.route("*", "/api/*", { proxy = { upstream = "api", path = "/" }, ttl = 10, grace = 5,
  limit_req = { rate = "50r/s", burst = 100 } })

-- A Lua handler that fans out to the backend in parallel.
ssr.route("GET", "/hello/:name", function(req)
  local r = ssr.fetch_all {
    { "api", "/products/1" },
    { "api", "/products/2" },
  }
  local names = {}
  for i, x in ipairs(r) do
    local p = x.res and x.res.status == 200 and x.res:json()
    names[i] = p and p.name or ("(" .. tostring(x.err or "missing") .. ")")
  end
  ssr.shared.counters:incr("hello", 1, 0)    -- one count for every loop thread
  return 200, "hello, " .. req.params.name .. "; today: " .. table.concat(names, ", ") .. "\n"
end)

-- Every other GET is rendered by the bundle with the cache's defaults: the
-- site's other pages (/catalog, /search?q=, /cart, /about...), and a real
-- 404 page (status 404, stored 30 s as the bundle says) for any path the
-- site does not have.
ssr.route("GET", "/*", { render = true, cookies = {}, bypass = { cookie = "session" } })
