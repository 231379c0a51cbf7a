// The recipes' React entry: the bundle's default export is render; each
// bundler's config turns it into the global `render` (a top-level var).
import { renderToString } from "react-dom/server.edge";
import { pageData, shell } from "../src/shared/data.js";
import { App } from "../src/react/App.jsx";

export default function render(request, props) {
  const data = pageData(request);
  return shell(data, renderToString(<App data={data} />));
}
