"""HTTP/2 request bodies and answer bodies against the flow-control
windows (core/http/rs_h2_body.c, rs_h2_out.c), over real sockets with
hand-written frames, curl and h2load: the windows advertised (64 KB - 1 per
stream, limits.body + 1 MB per connection), DATA past them refused with
FLOW_CONTROL_ERROR (a stream's, the connection's), many hostile streams
with the process's RSS measured, large uploads (streamed to the upstream,
read whole, several at once on one connection, the newest refused when
they cannot all finish), and a file body larger than the client's windows
read straight into the frames. The frame writer and the server are
test_h2.py's."""

import hashlib
import os
import struct
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from rslib import SLOW, eq, main, wait_log  # noqa: E402
from backend import Backend, pattern  # noqa: E402
from test_h2 import (ACK, BUFFERED_SINK, DATA, END_HEADERS, END_STREAM, FLOW_CONTROL_ERROR, HEADERS,  # noqa: E402
                     REFUSED_STREAM, ROUTES, RST, SETTINGS, WINUPD, H2Server, Raw, alive, curl, frame, goaway,
                     has, metric, req, rst)


def download(c, sid, grant=100000):
    """Read stream sid's answer with windows the client opens only as it
    takes the bytes (grant at a time, the initial 65535 first); checks the
    server never sends past them. Returns (headers frame seen, body, end
    flag, RST code or None)."""
    body, head, granted, taken = b"", False, 65535, 0
    while True:
        fr, eof = c.frames(lambda f: len(f) > 0, timeout=20)
        assert fr, "stalled at %d bytes (eof %s)" % (len(body), eof)
        for t, fl, s, p in fr:
            if s != sid:
                continue
            if t == HEADERS:
                head = True
            elif t == RST:
                return head, body, False, struct.unpack(">I", p)[0]
            elif t == DATA:
                body += p
                taken += len(p)
                assert len(body) <= granted, "sent past the window: %d > %d" % (len(body), granted)
                if fl & END_STREAM:
                    return head, body, True, None
                if taken >= grant // 2:
                    inc = struct.pack(">I", taken)
                    c.send(frame(WINUPD, 0, 0, inc) + frame(WINUPD, 0, sid, inc))
                    granted += taken
                    taken = 0


def test_static_file_past_the_windows():
    """A file body larger than the client's connection window, read from the
    file straight into the frames: byte-identical, never past the windows
    the client opens as it reads; a range of it; a file cut short while its
    answer waits for the window resets that stream only (INTERNAL_ERROR)."""
    with H2Server() as srv:
        data = pattern(1536 * 1024 + 11)
        path = os.path.join(srv.dir, "site", "w.bin")
        with open(path, "wb") as f:
            f.write(data)
        c = Raw(srv.port)
        c.send(frame(HEADERS, END_STREAM | END_HEADERS, 1, req("/files/w.bin")))
        head, body, end, code = download(c, 1)
        eq((head, end, code, len(body)), (True, True, None, len(data)))
        assert body == data, "static body differs"
        c.send(frame(HEADERS, END_STREAM | END_HEADERS, 3, req("/files/w.bin", extra=[("range", "bytes=1000-1200000")])))
        head, body, end, code = download(c, 3)
        eq((head, end, len(body)), (True, True, 1200000 - 1000 + 1))
        assert body == data[1000:1200001], "range differs"
        st, h, body, _ = curl(srv.url("/files/w.bin"), "-r", "70000-")
        eq((st, h.get("content-range"), body == data[70000:]), (206, "bytes 70000-%d/%d" % (len(data) - 1, len(data)), True))
        # the file shrinks while the answer waits for the client's window
        c.send(frame(HEADERS, END_STREAM | END_HEADERS, 5, req("/files/w.bin")))
        fr, eof = c.frames(lambda f: has(HEADERS, 5)(f) and has(DATA, 5)(f))
        assert has(DATA, 5)(fr) and rst(fr, 5) is None, fr          # what the window allowed
        with open(path, "r+b") as f:
            f.truncate(100000)
        inc = struct.pack(">I", 1 << 20)
        c.send(frame(WINUPD, 0, 0, inc) + frame(WINUPD, 0, 5, inc))
        fr, eof = c.frames(lambda f: rst(f, 5) is not None)
        eq(rst(fr, 5), 2)                                         # INTERNAL_ERROR
        c.send(frame(HEADERS, END_STREAM | END_HEADERS, 7, req()))
        fr, eof = c.frames(has(DATA, 7))
        assert has(DATA, 7)(fr) and not eof, fr
        c.close()
        wait_log(srv, "sending a file body: the file was truncated")
        alive(srv)


def rss_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS")


def settings_of(frames):
    for t, fl, sid, p in frames:
        if t == SETTINGS and not fl & ACK:
            return dict(struct.unpack(">HI", p[i:i + 6]) for i in range(0, len(p), 6))
    return None


def data_frames(sid, n, end=False, size=16384):
    out = []
    while n > 0:
        k = min(size, n)
        n -= k
        out.append(frame(DATA, END_STREAM if end and n == 0 else 0, sid, b"x" * k))
    return b"".join(out)


def post_head(sid, path, length=None):
    extra = [("content-length", str(length))] if length is not None else []
    return frame(HEADERS, END_HEADERS, sid, req(path, "POST", extra))


def test_body_windows_advertised():
    """The windows a connection is given: 64 KB - 1 per stream (the preread,
    nginx's http2_body_preread_size), limits.body + 1 MB for the connection."""
    with H2Server(config={"limits": "{ body = \"3MB\" }"}) as srv:
        c = Raw(srv.port)
        fr, eof = c.frames(lambda f: settings_of(f) is not None and has(WINUPD, 0)(f))
        eq(settings_of(fr).get(4), 65535)                         # SETTINGS_INITIAL_WINDOW_SIZE
        inc = [struct.unpack(">I", p)[0] for t, fl, sid, p in fr if t == WINUPD and sid == 0][0]
        eq(inc + 65535, 3 * 1024 * 1024 + 1024 * 1024)
        c.close()


def test_connection_window_bounds_held_bodies():
    """A body let in (1 MB) and sixteen others' preread take the whole
    connection window (limits.body 1 MB + 1 MB) while none is complete; a
    DATA frame past it is a connection error, GOAWAY FLOW_CONTROL_ERROR,
    counted and logged."""
    with H2Server() as srv:
        c = Raw(srv.port)
        c.frames(has(WINUPD, 0))
        mb = 1024 * 1024
        c.send(post_head(1, "/lua", mb))
        c.upload(1, mb - 1)                                      # as the windows open
        for sid in range(3, 35, 2):
            c.send(post_head(sid, "/lua", 100000))
            c.upload(sid, 65535)                                 # each its preread
        fr, eof = c.frames(lambda f: False, timeout=0.5)
        assert goaway(fr) is None and not any(x[0] == RST for x in fr), fr[-5:]
        eq(c.win[0], 2 * mb - (mb - 1) - 16 * 65535)            # what the connection has left: 17 bytes
        c.send(post_head(35, "/lua", 100000) + data_frames(35, 16384))
        fr, eof = c.frames(lambda f: goaway(f) is not None)
        g = goaway(fr)
        assert g is not None, fr[-5:]
        eq(g[1], FLOW_CONTROL_ERROR)
        c.close()
        wait_log(srv, "DATA past the connection's window")
        eq(metric(srv, "rustyssr_http2_goaway_total", reason="flow_control"), 1.0)
        alive(srv)


def test_full_window_is_not_a_body_timeout():
    """Two bodies of 1 MB held by slow handlers fill the connection window:
    a third stream cannot send until they are answered. That is not the
    client being slow: no body timeout (timeouts.body_ms 1 s) while the
    window is shut by bodies handlers have; the third upload then goes."""
    slow = 'ssr.route("POST", "/slowlua", function(req) ssr.sleep(2.5) return 200, "slow" end)\n'
    with H2Server(config={"timeouts": "{ body_ms = 1000 }"}, routes=ROUTES + slow) as srv:
        c = Raw(srv.port)
        c.frames(has(WINUPD, 0))
        mb = 1024 * 1024
        c.send(post_head(1, "/slowlua", mb))
        c.upload(1, mb, end=True)
        c.send(post_head(3, "/slowlua", mb))
        c.upload(3, mb, end=True)
        eq(c.win[0], 0)                                          # the connection's window is full
        c.send(post_head(5, "/lua", 1000))
        seen = c.upload(5, 1000, end=True)                       # waits for a handler to answer
        fr, eof = c.frames(lambda f: has(DATA, 5)(f + seen) and has(DATA, 1)(f + seen) and has(DATA, 3)(f + seen),
                           timeout=20)
        fr += seen
        assert not eof and goaway(fr) is None, fr[-5:]
        eq([p for t, fl, sid, p in fr if t == DATA and sid == 5], [b"got 1000"])
        c.close()
        assert "timed out reading a request" not in srv.log()
        alive(srv)


def test_many_streams_past_their_window():
    """Hostile: 60 streams each sending a body of almost limits.body without
    END_STREAM, honouring no window. Before the windows bounded them the
    server held every one (60 MB); now a stream past its preread is reset
    (FLOW_CONTROL_ERROR), or the connection ends, and the process grows by
    far less than one body per stream."""
    with H2Server() as srv:
        alive(srv)
        before = rss_kb(srv.proc.pid)
        c = Raw(srv.port)
        c.frames(has(WINUPD, 0))
        mb = 1024 * 1024
        sent = 0
        try:
            for i in range(60):
                sid = 1 + 2 * i
                c.send(post_head(sid, "/lua") + data_frames(sid, mb - 1))
                sent += 1
        except OSError:
            pass
        fr, eof = c.frames(lambda f: goaway(f) is not None or
                           sum(1 for x in f if x[0] == RST) >= sent - 2, timeout=20)
        grown = rss_kb(srv.proc.pid) - before
        codes = [struct.unpack(">I", p[:4])[0] for t, fl, sid, p in fr if t == RST]
        g = goaway(fr)
        assert FLOW_CONTROL_ERROR in codes or (g is not None and g[1] == FLOW_CONTROL_ERROR), (codes[:10], g)
        assert set(codes) <= {FLOW_CONTROL_ERROR, REFUSED_STREAM}, codes
        assert grown < 24 * 1024, "RSS grew by %d KB" % grown
        c.close()
        assert metric(srv, "rustyssr_http2_resets_total", reason="flow_control") >= 1
        wait_log(srv, "DATA past the stream's window: RST_STREAM FLOW_CONTROL_ERROR")
        alive(srv)


def test_large_uploads_still_flow():
    """The windows reopen as bodies are taken: a 3 MB upload streamed to the
    upstream, 900 KB ones read whole (a Lua handler, a proxy route that
    buffers), several at once on one connection (more than the connection
    window together: let in one after the other) arrive whole."""
    up3 = pattern(3 * 1024 * 1024 + 7)
    up9 = pattern(900 * 1024 + 5)
    with Backend() as b, H2Server(b.port, config={"limits": "{ body = \"4MB\" }"}) as srv:
        st, h, body, _ = curl(srv.url("/sink"), data=up3)
        doc = __import__("json").loads(body)
        eq((st, doc["len"], doc["sha256"]), (200, len(up3), hashlib.sha256(up3).hexdigest()))
    with Backend() as b, H2Server(b.port, routes=ROUTES.replace(
            'ssr.route("POST", "/sink", { proxy = { upstream = "api" } })', BUFFERED_SINK)) as srv:
        st, h, body, _ = curl(srv.url("/lua"), data=up9)
        eq((st, body), (200, b"got %d" % len(up9)))
        st, h, body, _ = curl(srv.url("/sink"), data=up9)
        doc = __import__("json").loads(body)
        eq((st, doc["len"], doc["sha256"]), (200, len(up9), hashlib.sha256(up9).hexdigest()))
        f = tempfile.NamedTemporaryFile(delete=False)
        f.write(up9)
        f.close()

        def h2load(m):
            p = subprocess.run(["h2load", "-n%d" % m, "-c1", "-m%d" % m, "-d", f.name, srv.url("/sink")],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=120 * SLOW)
            out = p.stdout.decode()
            line = [l for l in out.splitlines() if l.startswith("requests:")]
            assert line, out
            return [int(w) for w in line[0].replace(",", " ").split() if w.isdigit()], out

        # six at once on one connection: 5.4 MB, let in one after the other
        (total, started, done, ok, failed, errored, tout), out = h2load(6)
        eq((done, ok), (6, 6), out)
        # forty at once: the preread of those waiting would keep the one let
        # in from finishing; the newest are refused (REFUSED_STREAM, which a
        # client may retry), the others finish, none waits for a timeout
        refused = metric(srv, "rustyssr_http2_resets_total", reason="refused_stream")
        (total, started, done, ok, failed, errored, tout), out = h2load(40)
        os.unlink(f.name)
        eq((done, tout), (40, 0), out)
        assert ok >= 2 and ok + errored == 40, out
        eq(metric(srv, "rustyssr_http2_resets_total", reason="refused_stream") - refused, float(errored))
        alive(srv)


if __name__ == "__main__":
    main([test_body_windows_advertised, test_connection_window_bounds_held_bodies, test_full_window_is_not_a_body_timeout,
          test_many_streams_past_their_window,
          test_large_uploads_still_flow, test_static_file_past_the_windows])
