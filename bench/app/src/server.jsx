// Server entry: evaluated once as a classic script, it defines
// globalThis.render(request, props) -> "<!doctype html>..." (see DESIGN.md,
// "The JS bundle contract"). It uses no Node or browser API at render time.
import { renderToString } from "preact-render-to-string";
import { App } from "./App.jsx";
import { resolvePage } from "./data.js";

function escAttr(s) {
  return String(s).replace(/&/g, "&amp;").replace(/"/g, "&quot;").replace(/</g, "&lt;");
}

// JSON safe inside <script>: no "<" can open "</script" or "<!--".
function jsonForScript(v) {
  return JSON.stringify(v).replace(/</g, "\\u003c")
    .replace(/\u2028/g, "\\u2028").replace(/\u2029/g, "\\u2029");
}

function description(data) {
  if (data.kind === "product") return data.title + " с доставкой. Отзывы покупателей.";
  if (data.kind === "catalog" || data.kind === "search")
    return data.title + ": " + data.total + " товаров с доставкой. Низкие цены, отзывы покупателей.";
  return data.title + " — Ярмарка.";
}

function render(request, props) {
  request = request || {};
  props = props || {};
  const req = { path: request.path || "/", query: request.query || {}, params: request.params || {} };
  const data = resolvePage(req, props);
  const body = renderToString(<App data={data} />);
  const listing = data.kind === "catalog" || data.kind === "search";
  const title = data.title + (listing && data.page > 1 ? ", страница " + data.page : "") +
    (data.kind === "notfound" ? " — Ярмарка" : " — купить на Ярмарке");
  const html = "<!doctype html><html lang=\"ru\"><head><meta charset=\"utf-8\">" +
    "<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">" +
    "<title>" + escAttr(title) + "</title>" +
    "<meta name=\"description\" content=\"" + escAttr(description(data)) + "\">" +
    "<link rel=\"stylesheet\" href=\"/assets/app.css\">" +
    "<link rel=\"icon\" href=\"/assets/favicon.svg\" type=\"image/svg+xml\">" +
    "</head><body><div id=\"app\">" + body + "</div>" +
    "<script type=\"application/json\" id=\"__PROPS__\">" + jsonForScript({ request: req, props }) + "</script>" +
    "<script src=\"/assets/client.js\" defer></script></body></html>";
  // A path the site does not have is a real 404 (not a catalogue page that
  // would fill the cache under any URL), stored briefly.
  if (data.kind === "notfound") return { status: 404, ttl: 30, html };
  return html;
}

globalThis.render = render;
