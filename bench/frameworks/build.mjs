// Builds one rustyssr bundle per framework with esbuild's JS API, the way the
// README's "Bundling" section says: one classic script (IIFE) for a browser /
// worker target that defines globalThis.render, nothing left to import.
//
//   node build.mjs [name...]      (default: all)  ->  dist/<name>.js
//
// The output is deterministic: same sources and lockfile, same bytes.
import * as esbuild from "esbuild";
import { solidPlugin } from "esbuild-plugin-solid";
import sveltePlugin from "esbuild-svelte";
import { mkdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = dirname(fileURLToPath(import.meta.url));

// What every framework's bundle shares. platform "browser" + the "worker"
// condition is what edge runtimes (Cloudflare Workers, Deno Deploy) use:
// packages with a server build for workers (solid-js, svelte) pick it, the
// others their browser build. NODE_ENV is defined so React and Vue drop
// their development builds and no `process` reference is left.
const common = {
  absWorkingDir: root,
  bundle: true,
  format: "iife",
  platform: "browser",
  conditions: ["worker", "browser"],
  target: "es2022",
  minify: true,
  legalComments: "none",
  charset: "utf8",
  define: { "process.env.NODE_ENV": '"production"' },
  logLevel: "warning",
};

export const FRAMEWORKS = {
  "react-edge": {
    label: "React 19 (react-dom/server.edge, renderToString)",
    entry: "src/react/edge.jsx",
    options: { jsx: "automatic", jsxImportSource: "react" },
  },
  "react-browser": {
    label: "React 19 (react-dom/server.browser, renderToString)",
    entry: "src/react/browser.jsx",
    options: { jsx: "automatic", jsxImportSource: "react" },
  },
  "react-stream": {
    label: "React 19 (react-dom/server.browser, renderToReadableStream)",
    entry: "src/react/stream.jsx",
    options: { jsx: "automatic", jsxImportSource: "react" },
  },
  vue: {
    label: "Vue 3 (vue/server-renderer, renderToString)",
    entry: "src/vue/server.js",
    options: {
      define: {
        ...common.define,
        __VUE_OPTIONS_API__: "true",
        __VUE_PROD_DEVTOOLS__: "false",
        __VUE_PROD_HYDRATION_MISMATCH_DETAILS__: "false",
      },
    },
  },
  svelte: {
    label: "Svelte 5 (svelte/server, render)",
    entry: "src/svelte/server.js",
    options: {
      mainFields: ["svelte", "browser", "module", "main"],
      plugins: [sveltePlugin({ compilerOptions: { generate: "server" } })],
    },
  },
  solid: {
    label: "Solid 1.9 (solid-js/web, renderToString)",
    entry: "src/solid/server.jsx",
    options: { plugins: [solidPlugin({ solid: { generate: "ssr", hydratable: false } })] },
  },
  preact: {
    label: "Preact 11 (preact-render-to-string)",
    entry: "src/preact/server.jsx",
    options: { jsx: "automatic", jsxImportSource: "preact" },
  },
};

export async function build(name) {
  const f = FRAMEWORKS[name];
  if (!f) throw new Error(`unknown framework ${name} (one of ${Object.keys(FRAMEWORKS).join(", ")})`);
  const outfile = join(root, "dist", `${name}.js`);
  mkdirSync(dirname(outfile), { recursive: true });
  await esbuild.build({ ...common, ...f.options, entryPoints: [f.entry], outfile });
  return outfile;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const names = process.argv.length > 2 ? process.argv.slice(2) : Object.keys(FRAMEWORKS);
  for (const n of names) console.log(await build(n));
}
