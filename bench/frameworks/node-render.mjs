#!/usr/bin/env node
// Node 20's side of the framework matrix: loads a rustyssr bundle the way
// bench/node (and rustyssr) do — evaluated as a classic script in this
// context, then globalThis.render — builds the request object the way
// rustyssr does (bench/node/lib.js), and either writes each URL's page or
// measures renders/s. A render may return a string or a Promise of one.
//
//   node node-render.mjs --out DIR BUNDLE URL...      DIR/<n>.html for the n-th URL (from 0)
//   node node-render.mjs [--seconds 2] [--warmup 1] --json BUNDLE URL...
//
// The bench loop is bench/node/render-bench.js --encode's (each page turned
// into UTF-8 bytes, the clock read every 16 renders), awaiting a Promise
// only when the bundle returns one.
import { createRequire } from "node:module";
import { writeFileSync } from "node:fs";
import { join } from "node:path";

const require = createRequire(import.meta.url);
const { loadBundle, buildRequest } = require("../node/lib.js");

const o = { seconds: 2, warmup: 1, out: null, json: false };
const argv = process.argv.slice(2);
let i = 0;
for (; i < argv.length && argv[i].startsWith("--"); i++) {
  const a = argv[i];
  if (a === "--seconds") o.seconds = Number(argv[++i]);
  else if (a === "--warmup") o.warmup = Number(argv[++i]);
  else if (a === "--out") o.out = argv[++i];
  else if (a === "--json") o.json = true;
  else { console.error(`node-render.mjs: unknown argument ${a}`); process.exit(2); }
}
const [bundle, ...urls] = argv.slice(i);
if (!bundle || urls.length === 0) { console.error("usage: node-render.mjs [--out DIR | --seconds S --warmup W --json] BUNDLE URL..."); process.exit(2); }

const headers = { host: "127.0.0.1:3000", "user-agent": "render-bench", accept: "text/html" };
const requests = urls.map((u) => buildRequest("GET", u, headers));
const render = loadBundle(bundle);

async function renderOne(req) {
  let r = render(req, {});
  if (r && typeof r.then === "function") r = await r;
  if (typeof r !== "string") throw new TypeError(`render returned ${typeof r}, not a string`);
  return r;
}

if (o.out) {
  for (let n = 0; n < requests.length; n++) writeFileSync(join(o.out, `${n}.html`), await renderOne(requests[n]));
  process.exit(0);
}

async function run(seconds) {
  const end = process.hrtime.bigint() + BigInt(Math.round(seconds * 1e9));
  const t0 = process.hrtime.bigint();
  let n = 0, bytes = 0, now = t0;
  while (now < end) {
    for (let k = 0; k < 16; k++) {
      let html = render(requests[n % requests.length], {});
      if (html && typeof html.then === "function") html = await html;
      if (typeof html !== "string") throw new TypeError("render did not return a string");
      bytes += Buffer.from(html, "utf8").length;
      n++;
    }
    now = process.hrtime.bigint();
  }
  return { n, bytes, secs: Number(now - t0) / 1e9 };
}
if (o.warmup > 0) await run(o.warmup);
const r = await run(o.seconds);
const res = { node: process.version, v8: process.versions.v8, urls: requests.length, seconds: +r.secs.toFixed(3), renders: r.n,
  renders_per_s: Math.round(r.n / r.secs), us_per_render: +(r.secs * 1e6 / r.n).toFixed(1), avg_page: Math.round(r.bytes / r.n) };
console.log(o.json ? JSON.stringify(res) : `${res.renders_per_s} renders/s, ${res.us_per_render} us/render, ${res.avg_page} bytes/page`);
// React's scheduler leaves a MessagePort listening (server.browser), which
// keeps Node's event loop alive: exit explicitly.
process.exit(0);
