"""bench/lib/servers.py — the servers under test: rustyssr and its peers,
each written a config in the run's temporary folder, started on loopback
ports of its own, and stopped by group id (procs.Proc).

  rustyssr     build/release/rustyssr, one render route for /*
  nginx        nginx-light serving the page from files (sendfile, etag)
  nginx-lua    nginx + lua-nginx-module (Debian's libnginx-mod-http-lua):
               pages in a lua_shared_dict, filled at start from a blob
  node         bench/node/server.js, a node:cluster, --cache none|lru
"""
import os

from procs import Proc, free_port, wait_port
import client

LUA_MODULE = "/usr/lib/nginx/modules/ngx_http_lua_module.so"
NDK_MODULE = "/usr/lib/nginx/modules/ndk_http_module.so"


class Server:
    kind = "?"

    def __init__(self, ctx, name, label):
        self.ctx = ctx
        self.name = name            # unique within the run (file names)
        self.label = label          # what the tables show
        self.port = free_port()
        self.proc = None

    def stop(self):
        if self.proc is not None:
            self.proc.stop()

    def renders(self):
        """Renders so far, or None when the server cannot say."""
        return None

    def requests(self):
        return None

    def path(self, *parts):
        return os.path.join(self.ctx.tmp, *parts)


class RustySSR(Server):
    kind = "rustyssr"

    def __init__(self, ctx, name, label="rustyssr", workers="auto", threads="auto", pin=True,
                 ttl=3600, grace=10, cache=True):
        super().__init__(ctx, name, label)
        self.admin = free_port()
        self.workers, self.threads, self.pin = workers, threads, pin
        self.ttl, self.grace, self.cache = ttl, grace, cache

    def config_text(self):
        q = lambda v: ('"%s"' % v) if isinstance(v, str) else str(v)
        route = "true" if self.cache else "{ cache = false }"
        n = getattr(self.ctx, "render_nice", None)
        nice = ", nice = %d" % n if n is not None else ""
        return """local ssr = require "rustyssr"
ssr.config {
  listen = "127.0.0.1:%d", admin = "127.0.0.1:%d",
  workers = %s, pin = %s,
  log = { level = "warn" },
  render = { bundle = "%s", threads = %s%s },
  cache = { ttl = %d, grace = %d },
}
ssr.route("GET", "/*", { render = %s })
""" % (self.port, self.admin, q(self.workers), "true" if self.pin else "false", self.ctx.bundle,
       q(self.threads), nice, self.ttl, self.grace, route)

    def start(self):
        conf = self.path(self.name + ".lua")
        with open(conf, "w") as f:
            f.write(self.config_text())
        self.proc = Proc(self.name, [self.ctx.rustyssr, "-c", conf], self.path(self.name + ".log"))
        wait_port(self.port, self.proc)
        wait_port(self.admin, self.proc)
        return self

    def metrics(self):
        return client.metrics(self.admin)

    def renders(self):
        m = self.metrics()
        return sum(v for k, v in m.items() if k.startswith("rustyssr_renders_total{"))

    def requests(self):
        m = self.metrics()
        return sum(v for k, v in m.items() if k.startswith("rustyssr_requests_total{"))

    def render_threads(self):
        m = self.metrics()
        return sum(1 for k in m if k.startswith("rustyssr_render_heap_used_bytes{"))


NGINX_HEAD = """worker_processes %(workers)s;
worker_cpu_affinity auto;
daemon off;
pid %(tmp)s/%(name)s.pid;
error_log %(tmp)s/%(name)s-error.log warn;
events { worker_connections 4096; }
"""

NGINX_HTTP = """  access_log off;
  sendfile on; tcp_nopush on; tcp_nodelay on;
  keepalive_requests 1000000; keepalive_timeout 75s;
  open_file_cache max=1000 inactive=60s;
  gzip off;
"""


class NginxStatic(Server):
    """The page from files: `root` holds page.html and page.html.br (the
    latter served with Content-Encoding: br, as gzip_static would a .gz)."""
    kind = "nginx"

    def __init__(self, ctx, name, root, label="nginx (files)"):
        super().__init__(ctx, name, label)
        self.root = root

    def start(self):
        conf = self.path(self.name + ".conf")
        with open(conf, "w") as f:
            f.write(NGINX_HEAD % {"workers": "auto", "tmp": self.ctx.tmp, "name": self.name})
            f.write("http {\n" + NGINX_HTTP + """  etag on;
  types { text/html html; }
  server {
    listen 127.0.0.1:%d reuseport;
    root %s;
    location = /page.html.br {
      default_type "text/html; charset=utf-8";
      types { }
      add_header Content-Encoding br;
      add_header Vary Accept-Encoding;
    }
  }
}
""" % (self.port, self.root))
        self.proc = Proc(self.name, ["nginx", "-c", conf, "-p", self.ctx.tmp], self.path(self.name + ".log"))
        wait_port(self.port, self.proc)
        return self


class NginxLua(Server):
    """nginx + lua-nginx-module: every page in a lua_shared_dict, loaded in
    init_by_lua from a blob (index lines: key TAB offset TAB length); the
    content handler builds the key from the URI and the arguments and
    answers from the dict. key_lua: the Lua that sets `local key` in the
    content handler (default: the URI and the arguments as sent)."""
    kind = "nginx-lua"
    KEY_LUA = ('local key = ngx.var.uri\n'
               '        local args = ngx.var.args\n'
               '        if args then key = key .. "?" .. args end')

    def __init__(self, ctx, name, pages, label="nginx + lua shared dict", dict_mb=512, key_lua=None):
        super().__init__(ctx, name, label)
        self.pages = pages          # {key: bytes}
        self.dict_mb = dict_mb
        self.key_lua = key_lua or self.KEY_LUA

    def start(self):
        blob, index = self.path(self.name + ".blob"), self.path(self.name + ".index")
        off = 0
        with open(blob, "wb") as b, open(index, "w") as ix:
            for key, body in self.pages.items():
                b.write(body)
                ix.write("%s\t%d\t%d\n" % (key, off, len(body)))
                off += len(body)
        conf = self.path(self.name + ".conf")
        with open(conf, "w") as f:
            f.write("load_module %s;\nload_module %s;\n" % (NDK_MODULE, LUA_MODULE))
            f.write(NGINX_HEAD % {"workers": "auto", "tmp": self.ctx.tmp, "name": self.name})
            f.write("http {\n" + NGINX_HTTP + """  lua_shared_dict pages %dm;
  init_by_lua_block {
    local d = ngx.shared.pages
    local f = assert(io.open("%s", "rb"))
    local blob = f:read("*a")
    f:close()
    local n = 0
    for line in io.lines("%s") do
      local key, off, len = line:match("^(.-)\\t(%%d+)\\t(%%d+)$")
      local ok, err, forcible = d:set(key, blob:sub(off + 1, off + len))
      if not ok or forcible then error("lua_shared_dict pages is too small: " .. tostring(err)) end
      n = n + 1
    end
    ngx.log(ngx.NOTICE, "pages loaded: ", n)
  }
  server {
    listen 127.0.0.1:%d reuseport;
    location / {
      content_by_lua_block {
        %s
        local page = ngx.shared.pages:get(key)
        if page == nil then return ngx.exit(404) end
        ngx.header["Content-Type"] = "text/html; charset=utf-8"
        ngx.header["Content-Length"] = #page
        ngx.print(page)
      }
    }
  }
}
""" % (self.dict_mb, blob, index, self.port, self.key_lua))
        self.proc = Proc(self.name, ["nginx", "-c", conf, "-p", self.ctx.tmp], self.path(self.name + ".log"))
        wait_port(self.port, self.proc, timeout=120)
        return self


class Node(Server):
    """bench/node/server.js: a node:cluster, one worker per core by default."""
    kind = "node"

    def __init__(self, ctx, name, cache="none", label=None, lru_size=20000, ttl_ms=0, workers=None):
        super().__init__(ctx, name, label or ("Node 20 cluster, LRU" if cache == "lru"
                                              else "Node 20 cluster, no cache"))
        self.stats_port = free_port()
        self.cache, self.lru_size, self.ttl_ms = cache, lru_size, ttl_ms
        self.workers = workers or ctx.cores

    def start(self):
        argv = ["node", os.path.join(self.ctx.root, "bench/node/server.js"), "--port", str(self.port),
                "--stats-port", str(self.stats_port), "--workers", str(self.workers),
                "--cache", self.cache, "--bundle", self.ctx.bundle, "--quiet"]
        if self.cache == "lru":
            argv += ["--lru-size", str(self.lru_size), "--ttl-ms", str(self.ttl_ms)]
        self.proc = Proc(self.name, argv, self.path(self.name + ".log"))
        wait_port(self.port, self.proc)
        wait_port(self.stats_port, self.proc)
        return self

    def renders(self):
        return client.node_stats(self.stats_port)["renders"]

    def requests(self):
        return client.node_stats(self.stats_port)["requests"]
