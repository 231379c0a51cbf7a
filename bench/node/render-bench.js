#!/usr/bin/env node
'use strict';
// Renders the demo page in-process on one core for N seconds and prints
// renders/s, so the speed of Node's V8 on the bundle is known apart from HTTP.
//
//   node bench/node/render-bench.js [--seconds 5] [--warmup 1] [--bundle path]
//        [--urls 1] [--url /catalog/shoes?page=2] [--encode] [--json]
//
// --urls N rotates over N different catalogue URLs (1: always the same page).
// --url replaces the generated URLs with the given one(s) (repeatable).
// --encode also turns each page into UTF-8 bytes, as a server must.
// --json prints one JSON object instead of text.
const { DEFAULT_BUNDLE, loadBundle, buildRequest } = require('./lib.js');

const o = { seconds: 5, warmup: 1, bundle: DEFAULT_BUNDLE, urls: 1, url: [], encode: false, json: false };
const argv = process.argv.slice(2);
for (let i = 0; i < argv.length; i++) {
  const a = argv[i];
  const val = () => { if (i + 1 >= argv.length) die(`${a} needs a value`); return argv[++i]; };
  switch (a) {
    case '--seconds': o.seconds = Number(val()); break;
    case '--warmup': o.warmup = Number(val()); break;
    case '--bundle': o.bundle = val(); break;
    case '--urls': o.urls = Math.max(1, parseInt(val(), 10) || 1); break;
    case '--url': o.url.push(val()); break;
    case '--encode': o.encode = true; break;
    case '--json': o.json = true; break;
    default: die(`unknown argument ${a}`);
  }
}
if (!(o.seconds > 0) || !(o.warmup >= 0)) die('--seconds must be > 0 and --warmup >= 0');
function die(msg) { process.stderr.write(`render-bench.js: ${msg}\n`); process.exit(2); }

const CATS = ['shoes', 'electronics', 'clothes', 'home', 'toys', 'books', 'beauty', 'sport'];
let urls = o.url;
if (urls.length === 0) {
  urls = [];
  for (let i = 0; i < o.urls; i++) {
    urls.push(i === 0 ? '/catalog/shoes?page=2' : `/catalog/${CATS[i % CATS.length]}?page=${1 + (i >> 3)}`);
  }
}
const headers = { host: '127.0.0.1:3000', 'user-agent': 'render-bench', accept: 'text/html' };
const requests = urls.map((u) => buildRequest('GET', u, headers));
const render = loadBundle(o.bundle);

function run(seconds) {
  const end = process.hrtime.bigint() + BigInt(Math.round(seconds * 1e9));
  let n = 0, bytes = 0;
  const t0 = process.hrtime.bigint();
  const c0 = process.cpuUsage();
  let now = t0;
  while (now < end) {
    // check the clock every 16 renders: cheap against a ~100 us render
    for (let k = 0; k < 16; k++) {
      const html = render(requests[n % requests.length], {});
      if (typeof html !== 'string') throw new Error('render did not return a string');
      bytes += o.encode ? Buffer.from(html, 'utf8').length : html.length;
      n++;
    }
    now = process.hrtime.bigint();
  }
  const c = process.cpuUsage(c0);
  return { n, bytes, secs: Number(now - t0) / 1e9, cpu: (c.user + c.system) / 1e6 };
}

if (o.warmup > 0) run(o.warmup);
const r = run(o.seconds);
const res = {
  node: process.version,
  bundle: o.bundle,
  urls: requests.length,
  encode: o.encode,
  seconds: +r.secs.toFixed(3),
  renders: r.n,
  renders_per_s: Math.round(r.n / r.secs),
  // per second of the process's CPU (all threads, GC helpers included):
  // what a loaded machine's time slicing does not change
  cpu_renders_per_s: Math.round(r.n / r.cpu),
  us_per_render: +(r.secs * 1e6 / r.n).toFixed(1),
  avg_page: Math.round(r.bytes / r.n),
};
if (o.json) {
  process.stdout.write(JSON.stringify(res) + '\n');
} else {
  process.stdout.write(`node ${res.node}: ${res.renders} renders in ${res.seconds} s over ${res.urls} URL(s)` +
    `${o.encode ? ' (with UTF-8 encoding)' : ''}: ${res.renders_per_s} renders/s, ` +
    `${res.us_per_render} us/render, ${o.encode ? '' : '~'}${res.avg_page} ${o.encode ? 'bytes' : 'UTF-16 units'}/page\n`);
}
