// webpack 5 recipe: `APP=react|vue webpack -c recipes/webpack.config.cjs`
// -> recipes/dist/webpack-<app>.js, one script that defines the global `render`.
const path = require("node:path");
const webpack = require("webpack");

const app = process.env.APP || "react";

module.exports = {
  mode: "production",
  target: ["webworker", "es2022"],   // no Node built-ins, worker/browser package builds
  context: path.join(__dirname, ".."),
  entry: path.join(__dirname, app === "vue" ? "vue.js" : "react.jsx"),
  resolve: { conditionNames: ["worker", "browser", "import", "module", "default"], extensions: [".js", ".jsx"] },
  output: {
    path: path.join(__dirname, "dist"),
    filename: `webpack-${app}.js`,
    library: { name: "render", type: "var", export: "default" },  // var render = <default export>
    globalObject: "globalThis",      // webworker's default is `self`, which the isolate lacks
    chunkFormat: false,              // one file: no importScripts() chunk loading
    chunkLoading: false,
  },
  optimization: { splitChunks: false, runtimeChunk: false },
  module: {
    rules: [{
      test: /\.jsx$/,
      exclude: /node_modules/,
      use: { loader: "babel-loader", options: { babelrc: false, configFile: false,
        presets: [["@babel/preset-react", { runtime: "automatic" }]] } },
    }],
  },
  plugins: [
    new webpack.DefinePlugin({
      "process.env.NODE_ENV": JSON.stringify("production"),
      __VUE_OPTIONS_API__: "true",
      __VUE_PROD_DEVTOOLS__: "false",
      __VUE_PROD_HYDRATION_MISMATCH_DETAILS__: "false",
    }),
    new webpack.optimize.LimitChunkCountPlugin({ maxChunks: 1 }),
  ],
  performance: { hints: false },
};
