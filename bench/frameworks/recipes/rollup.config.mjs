// Rollup 4 recipe: `APP=react|vue rollup -c recipes/rollup.config.mjs`
// -> recipes/dist/rollup-<app>.js, one IIFE that defines the global `render`.
import { babel } from "@rollup/plugin-babel";
import commonjs from "@rollup/plugin-commonjs";
import { nodeResolve } from "@rollup/plugin-node-resolve";
import replace from "@rollup/plugin-replace";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const app = process.env.APP || "react";

export default {
  input: join(here, app === "vue" ? "vue.js" : "react.jsx"),
  output: {
    file: join(here, "dist", `rollup-${app}.js`),
    format: "iife",
    name: "render",          // var render = <the IIFE's value>
    exports: "default",      // ... the entry's default export
  },
  plugins: [
    replace({
      preventAssignment: true,
      values: {
        "process.env.NODE_ENV": JSON.stringify("production"),
        __VUE_OPTIONS_API__: "true",
        __VUE_PROD_DEVTOOLS__: "false",
        __VUE_PROD_HYDRATION_MISMATCH_DETAILS__: "false",
      },
    }),
    // browser/worker builds of every package, never Node's
    nodeResolve({ browser: true, exportConditions: ["worker", "browser"], preferBuiltins: false, extensions: [".js", ".jsx"] }),
    commonjs(),              // React ships CommonJS
    babel({ babelHelpers: "bundled", babelrc: false, configFile: false, extensions: [".jsx"],
      presets: [["@babel/preset-react", { runtime: "automatic" }]] }),
  ],
};
