"""rustyssr_requests_total and rustyssr_request_duration_seconds agree on
what a request is, over HTTP/2 and HTTP/1.1 alike (core/gateway/
rs_dispatch.c, core/http/rs_write.c, rs_stream.c): a stream, or an HTTP/1
request, freed before it reached its handler (reset by the client while
its body came, refused with REFUSED_STREAM, reset for DATA past its
window, its connection closed) is in neither, only in the HTTP/2 reset
counters; a request dispatched whose client went before its answer counts
in both as 499 (nginx's "client closed request"), not as the 500 or 502
its handler gave a client no longer there. Raw frames from test_h2.py."""

import os
import socket
import struct
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from rslib import SLOW, eq, main, wait_for  # noqa: E402
from test_h2 import (DATA, END_HEADERS, END_STREAM, FLOW_CONTROL_ERROR, HEADERS, REFUSED_STREAM, ROUTES,  # noqa: E402
                     RST, WINUPD, H2Server, Raw, frame, has, req, rst)

CANCEL = 8
SLOW_ROUTES = ROUTES + 'ssr.route("GET", "/slowlua", function(req) ssr.sleep(30) return 200, "slow" end)\n'


def post_head(sid, path, length):
    return frame(HEADERS, END_HEADERS, sid, req(path, "POST", [("content-length", str(length))]))


def by_class(m):
    """(histogram _count by class summed over routes, requests_total by class)."""
    hist, total = {}, {}
    for k, v in m.items():
        if k.startswith("rustyssr_request_duration_seconds_count{"):
            cls = k.split('status="')[1][:3]
            hist[cls] = hist.get(cls, 0) + v
        elif k.startswith("rustyssr_requests_total{"):
            cls = k.split('class="')[1][:3]
            if v:
                total[cls] = v
    return hist, total


def wait_coroutines(srv, n):
    wait_for("%d Lua coroutine(s) waiting" % n, lambda: srv.metrics().get("rustyssr_lua_coroutines") == n)


def test_metrics_agree_on_streams_never_dispatched_and_client_resets():
    with H2Server(routes=SLOW_ROUTES, config={"limits": "{ body = \"1MB\" }"}) as srv:
        ok = 0
        # Answered streams, each in both.
        c = Raw(srv.port)
        for sid in (1, 3, 5):
            c.send(frame(HEADERS, END_HEADERS | END_STREAM, sid, req("/hello")))
        c.frames(lambda f: all(has(DATA, s)(f) for s in (1, 3, 5)))
        ok += 3
        # Reset by the client while its body came: never dispatched.
        c.send(post_head(7, "/lua", 100000) + frame(DATA, 0, 7, b"x" * 1000))
        c.send(frame(RST, 0, 7, struct.pack(">I", CANCEL)))
        # Dispatched (a hook that waits), then reset by the client: 499.
        c.send(frame(HEADERS, END_HEADERS | END_STREAM, 9, req("/slowlua")))
        wait_coroutines(srv, 1)
        c.send(frame(RST, 0, 9, struct.pack(">I", CANCEL)))
        wait_coroutines(srv, 0)
        c.send(frame(HEADERS, END_HEADERS | END_STREAM, 11, req("/hello")))
        c.frames(has(DATA, 11))
        ok += 1
        c.close()

        # A body let in (1 MB, half sent) and others waiting with their
        # preread: one sends past its window (FLOW_CONTROL_ERROR), the
        # newest that cannot all finish are refused (REFUSED_STREAM), the
        # rest go with the connection. None reached its handler.
        c = Raw(srv.port)
        c.frames(has(WINUPD, 0))
        mb = 1024 * 1024
        c.send(post_head(1, "/lua", mb))
        c.upload(1, mb // 2)
        c.send(post_head(3, "/lua", 100000) + frame(DATA, 0, 3, b"x" * 16384) * 5)
        fr, eof = c.frames(lambda f: rst(f, 3) is not None)
        eq(rst(fr, 3), FLOW_CONTROL_ERROR, "stream 3")
        sids = list(range(5, 5 + 2 * 20, 2))
        for sid in sids:
            c.send(post_head(sid, "/lua", 100000))
            c.upload(sid, 65535)
        fr, eof = c.frames(lambda f: any(x[0] == RST and x[2] in sids for x in f))
        assert REFUSED_STREAM in [rst(fr, s) for s in sids], fr[-5:]
        c.close()

        # HTTP/1.1 the same: a body cut by the client, a hook's client gone.
        s = socket.create_connection(("127.0.0.1", srv.port), timeout=10 * SLOW)
        s.sendall(b"POST /lua HTTP/1.1\r\nHost: localhost\r\nContent-Length: 100000\r\n\r\n" + b"x" * 1000)
        s.close()
        s = socket.create_connection(("127.0.0.1", srv.port), timeout=10 * SLOW)
        s.sendall(b"GET /slowlua HTTP/1.1\r\nHost: localhost\r\n\r\n")
        wait_coroutines(srv, 1)
        # a reset (a FIN alone is a half-close: the answer would still go)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        s.close()
        wait_coroutines(srv, 0)

        assert srv.metrics()['rustyssr_http2_resets_total{reason="refused_stream"}'] >= 1
        assert srv.metrics()['rustyssr_http2_resets_total{reason="flow_control"}'] >= 1
        want = {"2xx": ok, "4xx": 2}
        # A request is counted in the histogram when it is freed, just after
        # its last byte: wait for the counts to settle, then compare.
        try:
            wait_for("the request counts", lambda: by_class(srv.metrics()) == (want, want), timeout=5)
        except AssertionError:
            hist, total = by_class(srv.metrics())
            raise AssertionError("histogram %r, requests_total %r, expected %r in both" % (hist, total, want))
        m = srv.metrics()
        eq(m['rustyssr_request_duration_seconds_count{route="/slowlua",status="4xx"}'], 2.0, "/slowlua 499s")
        assert not any('status="5xx"' in k for k in m if k.startswith("rustyssr_request_duration")), m


if __name__ == "__main__":
    main([test_metrics_agree_on_streams_never_dispatched_and_client_resets])
