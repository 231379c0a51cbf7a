// React 19, react-dom/server.browser (what bundlers pick for a browser or
// worker target), renderToString (synchronous).
import { renderToString } from "react-dom/server.browser";
import { pageData, shell } from "../shared/data.js";
import { App } from "./App.jsx";

globalThis.render = function render(request, props) {
  const data = pageData(request);
  return shell(data, renderToString(<App data={data} />));
};
