// tests/js/it_echo.js — a bundle that writes what it was given into the
// page, as a Next.js-style app that builds links from the request would
// (tests/integration/test_poisoning.py): the headers it sees, the host it
// would link to (X-Forwarded-Host first, then Host), the props, and a
// render counter (render.threads = 1) that tells a fresh render from a
// stored page.
//   ?status=N   answer with that status (any number: the gateway checks it)
var renders = 0;
globalThis.render = function (request, props) {
  renders++;
  var h = request.headers;
  var host = h["x-forwarded-host"] || h["host"] || "";
  var out = {
    html: "<!doctype html><html><body><a href=\"http://" + host + request.path + "\">self</a>" +
          "<p id=n>" + renders + "</p><pre id=h>" + JSON.stringify(h) + "</pre>" +
          "<pre id=p>" + JSON.stringify(props) + "</pre></body></html>",
    status: 200,
  };
  if (request.query.status !== undefined) out.status = Number(request.query.status);
  return out;
};
