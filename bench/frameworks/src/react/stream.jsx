// React 19, react-dom/server.browser, renderToReadableStream: the stream is
// read to its end inside the async render and returned as one string.
import { renderToReadableStream } from "react-dom/server.browser";
import { pageData, shell } from "../shared/data.js";
import { App } from "./App.jsx";

globalThis.render = async function render(request, props) {
  const data = pageData(request);
  const stream = await renderToReadableStream(<App data={data} />);
  await stream.allReady;
  const reader = stream.getReader();
  const decoder = new TextDecoder();
  let body = "";
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    body += decoder.decode(value, { stream: true });
  }
  body += decoder.decode();
  return shell(data, body);
};
