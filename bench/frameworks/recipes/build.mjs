// Tries the README's "Bundling" recipes: builds the React and Vue pages with
// Vite (vite.config.mjs), webpack (webpack.config.cjs) and Rollup
// (rollup.config.mjs), each through the bundler's own JS API with the config
// file as given, then checks each output the way rustyssr would take it: run
// as a classic script in a fresh node:vm context holding only what a rustyssr
// isolate is sure to have (console, queueMicrotask, TextEncoder, TextDecoder),
// it must define a global function `render`, and render(request, {}) must
// give the same page as the esbuild bundle (../dist/react-edge.js,
// ../dist/vue.js) rendered by Node.
//
//   node recipes/build.mjs      (from bench/frameworks; exit 1 on any failure)
import { readFileSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import vm from "node:vm";

const here = dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);
const { buildRequest } = require("../../node/lib.js");
const { build: esbuildBundle } = await import("../build.mjs");

const bundlers = {
  async vite() {
    const { build } = await import("vite");
    await build({ configFile: join(here, "vite.config.mjs") });
  },
  async webpack() {
    const webpack = require("webpack");
    delete require.cache[require.resolve("./webpack.config.cjs")];
    const config = require("./webpack.config.cjs");
    await new Promise((res, rej) => webpack(config, (err, stats) => {
      if (err) return rej(err);
      if (stats.hasErrors()) return rej(new Error(stats.toString({ all: false, errors: true })));
      res();
    }));
  },
  async rollup() {
    const { rollup } = await import("rollup");
    const config = (await import(`${pathToFileURL(join(here, "rollup.config.mjs"))}?app=${process.env.APP}`)).default;
    const bundle = await rollup({ ...config, onwarn: (w, def) => { if (w.code !== "MODULE_LEVEL_DIRECTIVE") def(w); } });
    await bundle.write(config.output);
    await bundle.close();
  },
};

const req = buildRequest("GET", "/catalog/books?page=7&sort=cheap", { host: "example.com", accept: "text/html" });
async function renderIn(file, bare) {
  const sandbox = bare ? vm.createContext({ console, queueMicrotask, TextEncoder, TextDecoder }) : vm.createContext(globalThis);
  vm.runInContext(readFileSync(file, "utf8"), sandbox, { filename: file });
  if (typeof sandbox.render !== "function") throw new Error(`${file} does not define a global function render (typeof render: ${typeof sandbox.render})`);
  const html = await sandbox.render(req, {});
  if (typeof html !== "string") throw new Error(`render returned ${typeof html}`);
  return html;
}

rmSync(join(here, "dist"), { recursive: true, force: true });
const refs = {};
for (const [app, name] of [["react", "react-edge"], ["vue", "vue"]]) {
  const file = await esbuildBundle(name);
  refs[app] = await renderIn(file, true);
}
let failed = 0;
for (const app of ["react", "vue"]) {
  for (const [name, run] of Object.entries(bundlers)) {
    process.env.APP = app;
    const out = join(here, "dist", `${name}-${app}.js`);
    try {
      await run();
      const html = await renderIn(out, true);
      if (html !== refs[app]) throw new Error(`page differs from the esbuild bundle's (${html.length} vs ${refs[app].length} chars)`);
      console.log(`ok    ${name} ${app}: recipes/dist/${name}-${app}.js (${readFileSync(out).length} bytes) defines render; same page as esbuild's`);
    } catch (e) {
      failed++;
      console.log(`FAIL  ${name} ${app}: ${String(e.stack || e).split("\n").slice(0, 3).join(" | ")}`);
    }
  }
}
process.exit(failed ? 1 : 0);
