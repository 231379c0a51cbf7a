// Preact 11 + preact-render-to-string, the React page's components built with
// jsxImportSource "preact".
import { renderToString } from "preact-render-to-string";
import { pageData, shell } from "../shared/data.js";
import { App } from "../react/App.jsx";

globalThis.render = function render(request, props) {
  const data = pageData(request);
  return shell(data, renderToString(<App data={data} />));
};
