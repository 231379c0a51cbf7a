// Builds the demo app with esbuild's JS API:
//   dist/server.js        one classic script (IIFE) defining globalThis.render
//   dist/client/client.js the hydration bundle for the browser (IIFE)
//   dist/client/app.css   the page's stylesheet
// The output is deterministic: same sources and lockfile, same bytes.
import * as esbuild from "esbuild";
import { rmSync } from "node:fs";
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

// The server bundle runs in a bare V8 isolate: fail the build if it reaches
// for Node, and render a page in a context that has only what the isolate has
// (console, queueMicrotask, TextEncoder/TextDecoder) to prove it needs no more.
const { readFileSync } = await import("node:fs");
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
console.log(`built dist/server.js, dist/client/client.js, dist/client/app.css (smoke render: ${Buffer.byteLength(html)} bytes)`);
