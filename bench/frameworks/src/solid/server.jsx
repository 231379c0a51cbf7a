// Solid 1.9: solid-js/web's renderToString (synchronous), the server build
// of solid-js picked by the "worker" export condition.
import { renderToString } from "solid-js/web";
import { pageData, shell } from "../shared/data.js";
import { App } from "./App.jsx";

globalThis.render = function render(request, props) {
  const data = pageData(request);
  return shell(data, renderToString(() => <App data={data} />));
};
