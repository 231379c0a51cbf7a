// tests/js/it_policy.js — a bundle for the per-route cache policy tests
// (tests/integration/test_policy.py). One isolate (render.threads = 1):
// the render counter in every page tells a fresh render from a stored page.
//   ?status=N   answer with that status
//   ?tag=T      the bundle's own tag T (routes add theirs)
var renders = 0;
globalThis.render = function (request) {
  renders++;
  var html = "<!doctype html><html><body><h1>" + request.path + "</h1><p id=n>" + renders +
             "</p></body></html>";
  var out = { html: html, status: 200 };
  if (request.query.status) out.status = parseInt(request.query.status, 10);
  if (request.query.tag) out.tags = [request.query.tag];
  return out;
};
