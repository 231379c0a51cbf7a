"""The JS prelude (shim/js) end to end: a page rendered by the real binary
with URL, URLSearchParams, streams (a byte stream piped through a
TransformStream and a TextDecoderStream into a WritableStream),
AbortController and btoa, over a real socket. The APIs themselves are
tested from inside an isolate by unit/test_shim_prelude and against Node 20
by unit/test_shim_prelude_diff.

Bundle: tests/js/it_prelude.js (hand-written, no npm)."""

import base64
import os

from rslib import TESTS, Server, lua_str, main

BUNDLE = os.path.join(TESTS, "js", "it_prelude.js")
ROUTES = '''
ssr.route("GET", "/*", { render = { cache = false } })
'''


def server():
    cfg = {"render": "{ bundle = %s, threads = 2 }" % lua_str(BUNDLE)}
    return Server(config=cfg, routes=ROUTES)


def test_streamed_page():
    with server() as srv:
        r = srv.get("/p/x%20y?name=Ann%20%26%20%3Cb%3E&z=1")
        assert r.status == 200, r
        assert r.body.decode("utf-8") == "<p>hello, Ann &#38; &#60;b&#62; \u2013 false</p>", r
        assert r.header("x-path") == "/p/x%20y", r
        assert base64.b64decode(r.header("x-b64")) == b"?name=Ann%20%26%20%3Cb%3E&z=1", r
        # The same isolate renders again (globals persist, the prelude's
        # lazy modules are loaded once).
        r = srv.get("/?name=%E2%9C%93")
        assert r.status == 200 and r.body.decode("utf-8") == "<p>hello, \u2713 \u2013 false</p>", r


def test_globals():
    with server() as srv:
        r = srv.get("/globals")
        assert r.status == 200, r
        assert r.body == (b"URL:function,ReadableStream:function,AbortController:function,"
                          b"atob:function,TextDecoderStream:function,321"), r


if __name__ == "__main__":
    main([test_streamed_page, test_globals])
