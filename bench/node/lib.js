'use strict';
// Shared by server.js, render-bench.js and render-urls.js: load the render
// bundle the way rustyssr does, build the request object the way rustyssr
// does, and a small Map-based LRU. No npm dependencies.
//
// The request object handed to render(request, props):
//   url      the request-target as received ("/catalog/shoes?page=2")
//   method   "GET", "HEAD", ...
//   path     the part of url before "?", as received (not percent-decoded)
//   query    { key: value }: keys and values percent-decoded, "+" is a space;
//            a key given more than once gets an array of its values in order
//   params   {} (the Node peer has no router)
//   headers  { lower-case-name: value } as node:http gives them

const fs = require('node:fs');
const path = require('node:path');
const vm = require('node:vm');

const DEFAULT_BUNDLE = path.join(__dirname, '..', 'app', 'dist', 'server.js');

// Evaluates the bundle's source as a classic script in this context and
// returns the global function it defined.
function loadBundle(file, fnName) {
  file = path.resolve(file || DEFAULT_BUNDLE);
  fnName = fnName || 'render';
  const src = fs.readFileSync(file, 'utf8');
  vm.runInThisContext(src, { filename: file });
  const fn = globalThis[fnName];
  if (typeof fn !== 'function') {
    throw new Error(`${file}: the bundle did not define globalThis.${fnName}`);
  }
  return fn;
}

function parseQuery(search) {
  const query = {};
  if (!search) return query;
  for (const [k, v] of new URLSearchParams(search)) {
    if (!Object.prototype.hasOwnProperty.call(query, k)) query[k] = v;
    else if (Array.isArray(query[k])) query[k].push(v);
    else query[k] = [query[k], v];
  }
  return query;
}

function splitUrl(url) {
  const q = url.indexOf('?');
  return q < 0 ? [url, ''] : [url.slice(0, q), url.slice(q + 1)];
}

function buildRequest(method, url, headers) {
  const [p, search] = splitUrl(url);
  return { url, method, path: p, query: parseQuery(search), params: {}, headers: headers || {} };
}

// method + host + path + the query with its parameters sorted (stable, so
// repeated keys keep their order), as DESIGN.md's default cache key.
function cacheKey(method, host, url) {
  const [p, search] = splitUrl(url);
  let qs = '';
  if (search) {
    const sp = new URLSearchParams(search);
    sp.sort();
    qs = sp.toString();
  }
  return method + ' ' + (host || '') + p + (qs ? '?' + qs : '');
}

// A render result -> { status, headers, body: Buffer }. Throws on a result
// that the contract calls a render error.
function normalizeResult(r) {
  if (typeof r === 'string') {
    return { status: 200, headers: {}, body: Buffer.from(r, 'utf8') };
  }
  if (r && typeof r === 'object' && typeof r.html === 'string') {
    return {
      status: r.status | 0 || 200,
      headers: r.headers && typeof r.headers === 'object' ? r.headers : {},
      body: Buffer.from(r.html, 'utf8'),
      ttl: typeof r.ttl === 'number' ? r.ttl : undefined,
    };
  }
  throw new TypeError('render returned neither a string nor { html }');
}

// Least recently used first in the Map's insertion order; a hit moves the
// entry to the end. ttlMs 0 means entries never expire.
class LRU {
  constructor(max, ttlMs) {
    this.max = Math.max(1, max | 0);
    this.ttlMs = ttlMs > 0 ? ttlMs : 0;
    this.map = new Map();
  }
  get(key, now) {
    const e = this.map.get(key);
    if (e === undefined) return undefined;
    if (e.expires !== 0 && now >= e.expires) {
      this.map.delete(key);
      return undefined;
    }
    this.map.delete(key);
    this.map.set(key, e);
    return e.value;
  }
  set(key, value, now, ttlMs) {
    const ttl = ttlMs !== undefined ? ttlMs : this.ttlMs;
    if (this.map.has(key)) this.map.delete(key);
    else if (this.map.size >= this.max) this.map.delete(this.map.keys().next().value);
    this.map.set(key, { value, expires: ttl > 0 ? now + ttl : 0 });
  }
  get size() { return this.map.size; }
}

module.exports = { DEFAULT_BUNDLE, loadBundle, parseQuery, buildRequest, cacheKey, normalizeResult, LRU };
