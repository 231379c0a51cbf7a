// Builds the demo app with esbuild's JS API:
//   dist/server.js        one classic script (IIFE) defining globalThis.render
//   dist/client/client.js the hydration bundle for the browser (IIFE)
//   dist/client/app.css   the page's stylesheet
//   dist/client/i/*.svg   the product pictures (one per kind of item), and
//   dist/client/favicon.svg
//   *.gz, *.br            beside every text asset: served as they are by the
//                         static route (precompressed), no work per request
// The output is deterministic: same sources and lockfile, same bytes.
import * as esbuild from "esbuild";
import { mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { brotliCompressSync, constants as zc, gzipSync } from "node:zlib";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = dirname(fileURLToPath(import.meta.url));
const dist = join(root, "dist");
rmSync(dist, { recursive: true, force: true });

const common = {
  absWorkingDir: root,
  bundle: true,
  format: "iife",
  platform: "browser",
  target: "es2020",
  charset: "ascii",          // non-ASCII source text becomes \u escapes
  jsx: "automatic",
  jsxImportSource: "preact",
  minify: true,
  legalComments: "none",
  sourcemap: false,
  define: { "process.env.NODE_ENV": '"production"' },
  logLevel: "warning",
};

await Promise.all([
  esbuild.build({ ...common, entryPoints: ["src/server.jsx"], outfile: "dist/server.js" }),
  esbuild.build({ ...common, entryPoints: ["src/client.jsx"], outfile: "dist/client/client.js" }),
  esbuild.build({ ...common, entryPoints: ["src/app.css"], outfile: "dist/client/app.css" }),
]);

// The pictures: SVG, made here from the catalogue (no binary in the source).
const { CATEGORIES } = await import("./src/data.js");
const img = join(dist, "client", "i");
mkdirSync(img, { recursive: true });
const esc = (t) => t.replace(/&/g, "&amp;").replace(/</g, "&lt;");
function picture(hue, label, shape) {
  const shapes = [
    `<rect x="50" y="70" width="100" height="110" rx="18"/>`,
    `<circle cx="100" cy="125" r="58"/>`,
    `<path d="M100 60 160 180H40z"/>`,
    `<rect x="40" y="95" width="120" height="60" rx="30"/>`,
  ];
  return `<svg xmlns="http://www.w3.org/2000/svg" width="200" height="260" viewBox="0 0 200 260">` +
    `<defs><linearGradient id="g" x1="0" y1="0" x2="0" y2="1"><stop offset="0" stop-color="hsl(${hue},70%,92%)"/>` +
    `<stop offset="1" stop-color="hsl(${hue},60%,80%)"/></linearGradient></defs>` +
    `<rect width="200" height="260" fill="url(#g)"/>` +
    `<g fill="hsl(${hue},55%,45%)" opacity=".85">${shapes[shape % shapes.length]}</g>` +
    `<text x="100" y="228" font-family="system-ui,sans-serif" font-size="17" text-anchor="middle" ` +
    `fill="hsl(${hue},40%,25%)">${esc(label)}</text></svg>\n`;
}
CATEGORIES.forEach((c, ci) => c.items.forEach(([noun], k) =>
  writeFileSync(join(img, `${c.slug}-${k}.svg`), picture((ci * 45 + k * 7) % 360, noun, k))));
for (let k = 0; k < 8; k++) writeFileSync(join(img, `p${k}.svg`), picture(k * 45, "Ярмарка", k));
writeFileSync(join(dist, "client", "favicon.svg"),
  `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32"><rect width="32" height="32" rx="7" fill="#7b2cbf"/>` +
  `<text x="16" y="23" font-family="system-ui,sans-serif" font-size="20" font-weight="800" text-anchor="middle" fill="#fff">Я</text></svg>\n`);

// Precompressed siblings (gzip 9, brotli 11), written after their file so
// that they are never older than it.
function siblings(dir) {
  for (const name of readdirSync(dir)) {
    const f = join(dir, name);
    if (statSync(f).isDirectory()) { siblings(f); continue; }
    if (!/\.(js|css|svg|json|html)$/.test(name)) continue;
    const data = readFileSync(f);
    if (data.length < 256) continue;
    writeFileSync(f + ".gz", gzipSync(data, { level: 9 }));
    writeFileSync(f + ".br", brotliCompressSync(data, { params: {
      [zc.BROTLI_PARAM_QUALITY]: 11, [zc.BROTLI_PARAM_SIZE_HINT]: data.length } }));
  }
}
siblings(join(dist, "client"));

// The server bundle runs in a bare V8 isolate: fail the build if it reaches
// for Node, and render a page in a context that has only what the isolate has
// (console, queueMicrotask, TextEncoder/TextDecoder) to prove it needs no more.

const vm = await import("node:vm");
const server = readFileSync(join(dist, "server.js"), "utf8");
for (const bad of ["process.env", "require(", "import("]) {
  if (server.includes(bad)) {
    console.error(`dist/server.js references ${bad}`);
    process.exit(1);
  }
}
const sandbox = vm.createContext({ console, queueMicrotask, TextEncoder, TextDecoder });
vm.runInContext(server, sandbox, { filename: "dist/server.js" });
const html = vm.runInContext(
  'render({ url: "/catalog/shoes?page=2", method: "GET", path: "/catalog/shoes",' +
  ' query: { page: "2" }, params: {}, headers: {} }, {})', sandbox);
if (typeof html !== "string" || !html.startsWith("<!doctype html>") || (html.match(/<li class="c">/g) || []).length !== 48) {
  console.error("dist/server.js: the smoke render in a bare context failed");
  process.exit(1);
}
const missing = vm.runInContext('render({ url: "/nope", method: "GET", path: "/nope", query: {}, params: {}, headers: {} }, {})', sandbox);
if (!missing || missing.status !== 404 || !String(missing.html).includes("Страница не найдена")) {
  console.error("dist/server.js: /nope must render a 404 page");
  process.exit(1);
}
console.log(`built dist/server.js, dist/client/ (client.js, app.css, ${readdirSync(img).length} pictures, .gz/.br siblings) (smoke render: ${Buffer.byteLength(html)} bytes)`);
