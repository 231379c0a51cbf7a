#!/usr/bin/env node
'use strict';
// Renders each URL with a bundle, exactly as the Node peer would serve it, so
// a test can compare Node's bytes with rustyssr's.
//
//   node bench/node/render-urls.js [--bundle path] [--method GET]
//        [--header 'name: value']... [--props '{"json":1}'] [--out DIR] URL...
//
// URL is a request-target ("/catalog/shoes?page=2") or an absolute URL, whose
// host then becomes the host header. Without --out: prints a JSON array of
// { url, status, html }. With --out DIR: writes DIR/0.html, DIR/1.html, ... (the
// exact UTF-8 bytes) and prints a JSON array of { url, status, file, bytes, sha256 }.
// A render error prints { url, error } for that URL and the exit code is 1.
const fs = require('node:fs');
const path = require('node:path');
const crypto = require('node:crypto');
const { DEFAULT_BUNDLE, loadBundle, buildRequest, normalizeResult } = require('./lib.js');

const o = { bundle: DEFAULT_BUNDLE, method: 'GET', headers: {}, props: {}, out: null, urls: [] };
const argv = process.argv.slice(2);
for (let i = 0; i < argv.length; i++) {
  const a = argv[i];
  const val = () => { if (i + 1 >= argv.length) die(`${a} needs a value`); return argv[++i]; };
  switch (a) {
    case '--bundle': o.bundle = val(); break;
    case '--method': o.method = val().toUpperCase(); break;
    case '--header': {
      const h = val(); const c = h.indexOf(':');
      if (c <= 0) die(`--header wants "name: value", got ${h}`);
      o.headers[h.slice(0, c).trim().toLowerCase()] = h.slice(c + 1).trim();
      break;
    }
    case '--props': try { o.props = JSON.parse(val()); } catch (e) { die(`--props: ${e.message}`); } break;
    case '--out': o.out = val(); break;
    case '-h': case '--help': die('usage: render-urls.js [--bundle path] [--method GET] [--header "n: v"] [--props JSON] [--out DIR] URL...'); break;
    default:
      if (a.startsWith('--')) die(`unknown argument ${a}`);
      o.urls.push(a);
  }
}
if (o.urls.length === 0) die('no URL given');
function die(msg) { process.stderr.write(`render-urls.js: ${msg}\n`); process.exit(2); }

async function main() {
  const render = loadBundle(o.bundle);
  if (o.out) fs.mkdirSync(o.out, { recursive: true });
  const results = [];
  let failed = false;
  for (let i = 0; i < o.urls.length; i++) {
    const u = o.urls[i];
    let target = u;
    const headers = { ...o.headers };
    if (/^https?:\/\//i.test(u)) {
      const p = new URL(u);
      target = p.pathname + p.search;
      if (!headers.host) headers.host = p.host;
    }
    try {
      // props are parsed afresh for each render, as the gateway hands them over
      const out = normalizeResult(await render(buildRequest(o.method, target, headers), JSON.parse(JSON.stringify(o.props))));
      if (o.out) {
        const file = path.join(o.out, `${i}.html`);
        fs.writeFileSync(file, out.body);
        results.push({ url: u, status: out.status, file, bytes: out.body.length,
          sha256: crypto.createHash('sha256').update(out.body).digest('hex') });
      } else {
        results.push({ url: u, status: out.status, html: out.body.toString('utf8') });
      }
    } catch (e) {
      failed = true;
      results.push({ url: u, error: String(e && e.stack || e) });
    }
  }
  process.stdout.write(JSON.stringify(results) + '\n');
  process.exitCode = failed ? 1 : 0;
}
main();
