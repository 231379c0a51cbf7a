// Browser entry: hydrates the server-rendered page from the __PROPS__ JSON.
import { hydrate } from "preact";
import { App } from "./App.jsx";
import { resolvePage } from "./data.js";

const el = document.getElementById("__PROPS__");
const init = el ? JSON.parse(el.textContent) : { request: { path: location.pathname, query: {} }, props: {} };
hydrate(<App data={resolvePage(init.request, init.props)} />, document.getElementById("app"));
