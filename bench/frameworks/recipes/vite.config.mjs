// Vite 8 recipe: `APP=react|vue vite build -c recipes/vite.config.mjs`
// -> recipes/dist/vite-<app>.js, one IIFE that defines the global `render`.
import { defineConfig } from "vite";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const app = process.env.APP || "react";

export default defineConfig({
  root: join(here, ".."),
  logLevel: "warn",
  define: {
    "process.env.NODE_ENV": '"production"',
    // Vue's esm-bundler build wants these compile-time flags
    __VUE_OPTIONS_API__: "true",
    __VUE_PROD_DEVTOOLS__: "false",
    __VUE_PROD_HYDRATION_MISMATCH_DETAILS__: "false",
  },
  ssr: {
    noExternal: true,          // bundle every dependency: the isolate has no require/import
    target: "webworker",       // resolve like a worker: browser/worker builds, no Node built-ins
    resolve: { conditions: ["worker", "browser"], externalConditions: ["worker", "browser"] },
  },
  build: {
    ssr: join(here, app === "vue" ? "vue.js" : "react.jsx"),
    outDir: join(here, "dist"),
    emptyOutDir: false,
    minify: true,
    target: "es2022",
    rolldownOptions: {         // Vite 7 and older: build.rollupOptions (still accepted, deprecated in 8)
      output: {
        format: "iife",
        name: "render",        // the IIFE's value goes into `var render`
        exports: "default",    // ... and that value is the entry's default export
        entryFileNames: `vite-${app}.js`,
      },
    },
  },
});
