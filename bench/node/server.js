#!/usr/bin/env node
'use strict';
// The Node.js peer that rustyssr's benchmarks compare against: a node:cluster
// of workers, each loading the same render bundle (bench/app/dist/server.js)
// and serving it behind node:http, optionally with an in-process LRU.
//
//   node bench/node/server.js [--port 3000] [--host 127.0.0.1] [--workers N]
//        [--cache none|lru] [--lru-size 10000] [--ttl-ms 0]
//        [--bundle path] [--render-fn render] [--sched rr|none] [--quiet]
//        [--stats-port N]
//
// --workers defaults to one per core; --workers 0 serves from this one process
// without a cluster. --ttl-ms 0 means cached pages never expire. --sched picks
// node:cluster's scheduling: rr (Node's default on Linux: the primary accepts
// and hands connections round-robin) or none (the workers accept themselves).
// SIGTERM or SIGINT: the primary stops its workers, then exits 0.
// --stats-port N (for bench/run): GET http://HOST:N/stats answers
// {"workers":W,"requests":R,"renders":N,"hits":H} summed over the workers
// (the primary asks each over the cluster's IPC channel), so a benchmark can
// count renders as it counts rustyssr's from /metrics.

const cluster = require('node:cluster');
const http = require('node:http');
const os = require('node:os');
const { DEFAULT_BUNDLE, loadBundle, buildRequest, cacheKey, normalizeResult, LRU } = require('./lib.js');

function parseArgs(argv) {
  const o = {
    port: 3000, host: '127.0.0.1', workers: os.availableParallelism(),
    cache: 'none', lruSize: 10000, ttlMs: 0, bundle: DEFAULT_BUNDLE,
    renderFn: 'render', sched: 'rr', quiet: false, statsPort: 0,
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const val = () => {
      if (i + 1 >= argv.length) usage(`${a} needs a value`);
      return argv[++i];
    };
    const int = () => {
      const v = val();
      if (!/^\d+$/.test(v)) usage(`${a} needs a non-negative integer, got ${v}`);
      return parseInt(v, 10);
    };
    switch (a) {
      case '--port': o.port = int(); break;
      case '--host': o.host = val(); break;
      case '--workers': o.workers = int(); break;
      case '--cache': o.cache = val(); break;
      case '--lru-size': o.lruSize = int(); break;
      case '--ttl-ms': o.ttlMs = int(); break;
      case '--bundle': o.bundle = val(); break;
      case '--render-fn': o.renderFn = val(); break;
      case '--sched': o.sched = val(); break;
      case '--quiet': o.quiet = true; break;
      case '--stats-port': o.statsPort = int(); break;
      case '-h': case '--help': usage(); break;
      default: usage(`unknown argument ${a}`);
    }
  }
  if (o.cache !== 'none' && o.cache !== 'lru') usage('--cache is none or lru');
  if (o.sched !== 'rr' && o.sched !== 'none') usage('--sched is rr or none');
  if (o.lruSize < 1) usage('--lru-size must be at least 1');
  return o;
}

function usage(err) {
  const text = 'usage: node server.js [--port 3000] [--host 127.0.0.1] [--workers N] ' +
    '[--cache none|lru] [--lru-size 10000] [--ttl-ms 0] [--bundle path] [--render-fn render] ' +
    '[--sched rr|none] [--quiet] [--stats-port N]';
  if (err) {
    process.stderr.write(`server.js: ${err}\n${text}\n`);
    process.exit(2);
  }
  process.stdout.write(text + '\n');
  process.exit(0);
}

const opts = parseArgs(process.argv.slice(2));
const log = (msg) => { if (!opts.quiet) process.stderr.write(`[node-peer ${process.pid}] ${msg}\n`); };

const ERROR_PAGE = Buffer.from('<!doctype html><html><head><meta charset="utf-8"><title>500</title></head>' +
  '<body><h1>500 Internal Server Error</h1></body></html>', 'utf8');

function serve() {
  const render = loadBundle(opts.bundle, opts.renderFn);
  const lru = opts.cache === 'lru' ? new LRU(opts.lruSize, opts.ttlMs) : null;
  const counts = { requests: 0, renders: 0, hits: 0 };

  function send(res, status, headers, body, xcache) {
    const h = { 'content-type': 'text/html; charset=utf-8' };
    for (const k of Object.keys(headers)) h[k.toLowerCase()] = headers[k];
    h['content-length'] = body.length;
    if (xcache) h['x-cache'] = xcache;
    res.writeHead(status, h);
    res.end(body);
  }

  function fail(res, err) {
    process.stderr.write(`[node-peer ${process.pid}] render error: ${err && err.stack || err}\n`);
    if (!res.headersSent) send(res, 500, {}, ERROR_PAGE, lru ? 'MISS' : undefined);
    else res.destroy();
  }

  const server = http.createServer((req, res) => {
    const method = req.method;
    const url = req.url;
    counts.requests++;
    let key;
    if (lru) {
      key = cacheKey(method === 'HEAD' ? 'GET' : method, req.headers.host, url);
      const hit = lru.get(key, Date.now());
      if (hit !== undefined) {
        counts.hits++;
        return send(res, hit.status, hit.headers, hit.body, 'HIT');
      }
    }
    counts.renders++;
    const done = (r) => {
      let out;
      try { out = normalizeResult(r); } catch (e) { return fail(res, e); }
      if (lru && out.status === 200) {
        lru.set(key, out, Date.now(), out.ttl !== undefined ? out.ttl * 1000 : undefined);
      }
      send(res, out.status, out.headers, out.body, lru ? 'MISS' : undefined);
    };
    let r;
    try {
      r = render(buildRequest(method, url, req.headers), {});
    } catch (e) {
      return fail(res, e);
    }
    if (r && typeof r.then === 'function') r.then(done, (e) => fail(res, e));
    else done(r);
  });
  server.keepAliveTimeout = 65000;
  server.headersTimeout = 66000;
  server.on('clientError', (err, socket) => {
    if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nconnection: close\r\n\r\n');
    else socket.destroy();
  });

  const stop = () => {
    server.close(() => process.exit(0));
    server.closeAllConnections();
    setTimeout(() => process.exit(0), 2000).unref();
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  // The primary going away (killed hard) must not leave workers behind.
  if (cluster.isWorker) process.on('disconnect', stop);

  server.listen(opts.port, opts.host);
  server.counts = counts;
  if (cluster.isWorker) {
    process.on('message', (m) => {
      if (m && m.cmd === 'stats') process.send({ cmd: 'stats', id: m.id, counts });
    });
  }
  return server;
}

// GET /stats on --stats-port: the counters summed over `sources`, a function
// returning a Promise of [{ requests, renders, hits }, ...].
function serveStats(sources) {
  const srv = http.createServer((req, res) => {
    sources().then((list) => {
      const sum = { workers: list.length, requests: 0, renders: 0, hits: 0 };
      for (const c of list) { sum.requests += c.requests; sum.renders += c.renders; sum.hits += c.hits; }
      const body = JSON.stringify(sum) + '\n';
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
      res.end(body);
    }, (e) => { res.writeHead(500); res.end(String(e) + '\n'); });
  });
  srv.listen(opts.statsPort, opts.host);
  srv.unref();
  return srv;
}

// The primary's side: ask every live worker, wait for all answers (1 s at most).
let statsSeq = 0;
function askWorkers() {
  const ws = Object.values(cluster.workers);
  const id = ++statsSeq;
  return Promise.all(ws.map((w) => new Promise((resolve) => {
    const t = setTimeout(() => { w.off('message', on); resolve({ requests: 0, renders: 0, hits: 0 }); }, 1000);
    function on(m) {
      if (m && m.cmd === 'stats' && m.id === id) { clearTimeout(t); w.off('message', on); resolve(m.counts); }
    }
    w.on('message', on);
    w.send({ cmd: 'stats', id });
  })));
}

if (opts.workers === 0) {
  const server = serve();
  if (opts.statsPort) serveStats(() => Promise.resolve([server.counts]));
  server.on('listening', () => {
    log(`listening on http://${opts.host}:${opts.port} (single process, cache ${opts.cache})`);
  });
} else if (cluster.isPrimary) {
  // Fail fast, once, on a bundle that cannot load, rather than in every worker.
  try {
    loadBundle(opts.bundle, opts.renderFn);
  } catch (e) {
    process.stderr.write(`server.js: cannot load the bundle: ${e.message}\n`);
    process.exit(1);
  }
  cluster.schedulingPolicy = opts.sched === 'none' ? cluster.SCHED_NONE : cluster.SCHED_RR;
  if (opts.statsPort) serveStats(askWorkers);
  let stopping = false;
  let listening = 0;
  const fork = () => cluster.fork();
  for (let i = 0; i < opts.workers; i++) fork();
  cluster.on('listening', (w) => {
    w.listened = true;
    if (++listening === opts.workers) {
      log(`listening on http://${opts.host}:${opts.port} (${opts.workers} workers, ` +
        `sched ${opts.sched}, cache ${opts.cache}${opts.cache === 'lru' ? ` size ${opts.lruSize} ttl ${opts.ttlMs} ms` : ''})`);
    }
  });
  cluster.on('exit', (w, code, signal) => {
    if (stopping) {
      if (Object.keys(cluster.workers).length === 0) process.exit(exitCode);
      return;
    }
    if (!w.listened) {
      // It died before serving (a bad bundle, a port in use): retrying won't help.
      process.stderr.write(`[node-peer ${process.pid}] worker ${w.process.pid} failed to start (${signal || code})\n`);
      stop(1);
      return;
    }
    log(`worker ${w.process.pid} exited (${signal || code}), starting another`);
    fork();
  });
  let exitCode = 0;
  const stop = (code) => {
    if (stopping) return;
    stopping = true;
    if (typeof code === 'number') exitCode = code;
    const ws = Object.values(cluster.workers);
    if (ws.length === 0) process.exit(exitCode);
    for (const w of ws) w.process.kill('SIGTERM');
    setTimeout(() => {
      for (const w of Object.values(cluster.workers)) w.process.kill('SIGKILL');
      process.exit(exitCode);
    }, 5000).unref();
  };
  process.on('SIGTERM', () => stop(0));
  process.on('SIGINT', () => stop(0));
} else {
  serve();
}
