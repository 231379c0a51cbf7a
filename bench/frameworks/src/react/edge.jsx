// React 19, react-dom/server.edge, renderToString (synchronous).
import { renderToString } from "react-dom/server.edge";
import { pageData, shell } from "../shared/data.js";
import { App } from "./App.jsx";

globalThis.render = function render(request, props) {
  const data = pageData(request);
  return shell(data, renderToString(<App data={data} />));
};
