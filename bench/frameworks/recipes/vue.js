// The recipes' Vue entry: the bundle's default export is render; each
// bundler's config turns it into the global `render` (a top-level var).
import { createSSRApp } from "vue";
import { renderToString } from "vue/server-renderer";
import { pageData, shell } from "../src/shared/data.js";
import { App } from "../src/vue/App.js";

export default async function render(request, props) {
  const data = pageData(request);
  return shell(data, await renderToString(createSSRApp(App, { data })));
}
