// Svelte 5: components compiled with generate "server", svelte/server's
// render (synchronous; body and head).
import { render as svelteRender } from "svelte/server";
import { pageData, shell } from "../shared/data.js";
import App from "./App.svelte";

globalThis.render = function render(request, props) {
  const data = pageData(request);
  const { head, body } = svelteRender(App, { props: { data } });
  return shell(data, body, head);
};
