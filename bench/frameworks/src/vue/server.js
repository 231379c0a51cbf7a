// Vue 3: a new SSR app per request, vue/server-renderer's renderToString
// (a Promise).
import { createSSRApp } from "vue";
import { renderToString } from "vue/server-renderer";
import { pageData, shell } from "../shared/data.js";
import { App } from "./App.js";

globalThis.render = async function render(request, props) {
  const data = pageData(request);
  const app = createSSRApp(App, { data });
  return shell(data, await renderToString(app));
};
