"""The static action over real sockets: content and types, HEAD, 304 by ETag
and by If-Modified-Since, every Range form and 416, If-Range, index files and
the folder redirect, 404/403, traversal attempts that never leave the root
(a secret file sits beside it), symlinks refused, a large file sent with
sendfile byte-exact (whole, ranged, pipelined, aborted, never read), many
concurrent clients, and no file descriptor left open afterwards.

The fixture tree is tests/static/, copied per server into a temp folder so
that symlinks, the secret and the large files are made at test time."""

import email.utils
import hashlib
import os
import random
import shutil
import socket
import struct
import subprocess
import threading
import time
import urllib.parse

from rslib import SLOW, TESTS, Reader, Server, main, wait_log

FIXTURES = os.path.join(TESTS, "static")
SECRET = b"SECRET-rs-static-7c1f"
BIG = random.Random(7).randbytes(5 * 1024 * 1024 + 123)

ROUTES = r'''
ssr.static("/assets/", { root = "site/public", max_age = 3600 })
ssr.route("GET", "/noetag/*", { static = { root = "site/public", etag = false, index = false } })
ssr.route("GET", "/hello.txt", { static = { root = "site/public" } })
ssr.respond("/", 200, "home\n")
'''


class StaticServer(Server):
    """A Server whose config folder holds site/public (a copy of the fixture
    tree, the root) and site/secret.txt (beside the root, never to be served).
    As root, user='nobody' runs the binary unprivileged (for 403)."""

    def __init__(self, user=None, **kw):
        kw.setdefault("routes", ROUTES)
        super().__init__(**kw)
        self.user = user
        self.site = os.path.join(self.dir, "site")
        self.root = os.path.join(self.site, "public")
        shutil.copytree(FIXTURES, self.root, symlinks=True)
        with open(os.path.join(self.site, "secret.txt"), "wb") as f:
            f.write(SECRET)
        with open(os.path.join(self.root, "big.bin"), "wb") as f:
            f.write(BIG)
        # Symlinks: out of the root (a file, a folder) and one inside it.
        os.symlink("../secret.txt", os.path.join(self.root, "link-out"))
        os.symlink(self.site, os.path.join(self.root, "dir-out"))
        os.symlink("hello.txt", os.path.join(self.root, "link-in"))
        os.symlink("nested", os.path.join(self.root, "nested-link"))

    def start(self, wait=True):
        if self.user is None:
            return super().start(wait)
        for d, dirs, files in os.walk(self.dir):
            os.chmod(d, 0o755)
        self.logf = open(self.log_path, "wb")
        env = dict(os.environ)
        env.setdefault("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=0")
        self.proc = subprocess.Popen([os.environ["RUSTYSSR_BIN"], "-c", self.config_path],
                                     stdout=self.logf, stderr=subprocess.STDOUT, env=env,
                                     user=self.user)
        if wait:
            self.wait_ready()
        return self

    def open_fds(self):
        return len(os.listdir("/proc/%d/fd" % self.proc.pid))


def raw_get(path, headers=None, method="GET", close=True):
    h = {"Host": "localhost"}
    h.update(headers or {})
    return ("%s %s HTTP/1.1\r\n" % (method, path) + "".join("%s: %s\r\n" % kv for kv in h.items()) +
            ("Connection: close\r\n" if close else "") + "\r\n").encode("latin-1")


def fixture(name):
    with open(os.path.join(FIXTURES, name), "rb") as f:
        return f.read()


def etag_of(path):
    st = os.stat(path)
    return '"%x-%x"' % (int(st.st_mtime), st.st_size)


def http_date(t):
    return email.utils.formatdate(int(t), usegmt=True)


TYPES = [
    ("hello.txt", "text/plain; charset=utf-8"),
    ("index.html", "text/html; charset=utf-8"),
    ("app.js", "text/javascript; charset=utf-8"),
    ("mod.mjs", "text/javascript; charset=utf-8"),
    ("style.css", "text/css; charset=utf-8"),
    ("SHOUT.CSS", "text/css; charset=utf-8"),
    ("data.json", "application/json"),
    ("logo.svg", "image/svg+xml"),
    ("pixel.png", "image/png"),
    ("bytes.bin", "application/octet-stream"),
    ("README", "application/octet-stream"),
    ("empty.txt", "text/plain; charset=utf-8"),
    ("with space.txt", "text/plain; charset=utf-8"),
    ("привет.txt", "text/plain; charset=utf-8"),
    ("nested/page.txt", "text/plain; charset=utf-8"),
]


def test_content_and_types():
    with StaticServer() as srv:
        for name, ctype in TYPES:
            url = "/assets/" + urllib.parse.quote(name)
            r = srv.get(url)
            assert r.status == 200, (name, r)
            assert r.body == fixture(name), name
            assert r.header("content-type") == ctype, (name, r.header("content-type"))
            assert r.header("content-length") == str(len(fixture(name))), name
            assert r.header("accept-ranges") == "bytes", r
            assert r.header("cache-control") == "public, max-age=3600", r
            p = os.path.join(srv.root, name)
            assert r.header("etag") == etag_of(p), (r.header("etag"), etag_of(p))
            assert r.header("last-modified") == http_date(os.stat(p).st_mtime), r
        # An exact route maps its whole path under the root.
        r = srv.get("/hello.txt")
        assert r.status == 200 and r.body == fixture("hello.txt"), r
        assert r.header("cache-control") is None, r     # no max_age on that route
        # etag = false: no ETag, the rest as usual.
        r = srv.get("/noetag/hello.txt")
        assert r.status == 200 and r.header("etag") is None and r.header("last-modified"), r
        # The percent-encoded forms of a plain name are the same file.
        assert srv.get("/assets/%68%65llo.txt").body == fixture("hello.txt")
        assert srv.get("/assets/nested%2Fpage.txt").body == fixture("nested/page.txt")
        # A literal file called "%2e%2e": double encoding is decoded once.
        r = srv.get("/assets/%252e%252e")
        assert r.status == 200 and r.body == fixture("%2e%2e"), r


def test_head():
    with StaticServer() as srv:
        for name in ("hello.txt", "big.bin", "empty.txt"):
            size = os.path.getsize(os.path.join(srv.root, name))
            with srv.connect() as s:
                s.sendall(raw_get("/assets/" + name, method="HEAD", close=False) +
                          raw_get("/assets/hello.txt"))
                rd = Reader(s)
                r = rd.read_response(head_request=True)
                assert r.status == 200 and r.header("content-length") == str(size), (name, r)
                assert r.header("etag") and r.header("last-modified"), r
                # The next answer follows at once: HEAD sent no body.
                r2 = rd.read_response()
                assert r2.status == 200 and r2.body == fixture("hello.txt"), r2


def test_not_modified_etag():
    with StaticServer() as srv:
        r = srv.get("/assets/style.css")
        tag = r.header("etag")
        for inm in (tag, "W/" + tag, '"nope", ' + tag, "*"):
            r = srv.get("/assets/style.css", {"If-None-Match": inm})
            assert r.status == 304 and r.body == b"", (inm, r)
            assert r.header("etag") == tag and r.header("last-modified"), r
            assert r.header("cache-control") == "public, max-age=3600", r
            assert r.header("content-length") is None, r
        r = srv.get("/assets/style.css", {"If-None-Match": '"other"'})
        assert r.status == 200 and r.body == fixture("style.css"), r
        # HEAD too.
        r = srv.request(raw_get("/assets/style.css", {"If-None-Match": tag}, method="HEAD"))
        assert r.status == 304, r
        # Without ETags only "*" matches.
        assert srv.get("/noetag/style.css", {"If-None-Match": tag}).status == 200
        assert srv.get("/noetag/style.css", {"If-None-Match": "*"}).status == 304
        # The tag follows the file: a new mtime, a new tag.
        p = os.path.join(srv.root, "style.css")
        os.utime(p, (1000000000, 1000000000))
        r = srv.get("/assets/style.css", {"If-None-Match": tag})
        assert r.status == 200 and r.header("etag") == '"%x-%x"' % (1000000000, 22), r


def test_not_modified_since():
    with StaticServer() as srv:
        p = os.path.join(srv.root, "app.js")
        os.utime(p, (1500000000, 1500000000))
        lm = http_date(1500000000)
        r = srv.get("/assets/app.js")
        assert r.header("last-modified") == lm, r
        for ims in (lm, http_date(1600000000), "Friday, 14-Jul-17 02:40:00 GMT",
                    "Fri Jul 14 02:40:00 2017"):
            r = srv.get("/assets/app.js", {"If-Modified-Since": ims})
            assert r.status == 304 and r.body == b"", (ims, r)
        for ims in (http_date(1499999999), "not a date", ""):
            r = srv.get("/assets/app.js", {"If-Modified-Since": ims})
            assert r.status == 200 and r.body == fixture("app.js"), (ims, r)
        # If-None-Match wins: a tag that does not match means 200, whatever the date.
        r = srv.get("/assets/app.js", {"If-Modified-Since": lm, "If-None-Match": '"x"'})
        assert r.status == 200, r


def test_ranges():
    with StaticServer() as srv:
        data = fixture("bytes.bin")
        n = len(data)
        tag = srv.get("/assets/bytes.bin").header("etag")
        cases = [("bytes=0-9", 0, 9), ("bytes=10-", 10, n - 1), ("bytes=-10", n - 10, n - 1),
                 ("bytes=1000-99999", 1000, n - 1), ("bytes=-99999", 0, n - 1), ("bytes=5-5", 5, 5)]
        for spec, a, b in cases:
            r = srv.get("/assets/bytes.bin", {"Range": spec})
            assert r.status == 206, (spec, r)
            assert r.body == data[a:b + 1], spec
            assert r.header("content-range") == "bytes %d-%d/%d" % (a, b, n), (spec, r)
            assert r.header("content-length") == str(b - a + 1), r
            assert r.header("content-type") == "application/octet-stream" and r.header("etag") == tag
        for spec in ("bytes=%d-" % n, "bytes=99999-", "bytes=-0"):
            r = srv.get("/assets/bytes.bin", {"Range": spec})
            assert r.status == 416, (spec, r)
            assert r.header("content-range") == "bytes */%d" % n, r
        r = srv.get("/assets/empty.txt", {"Range": "bytes=0-"})
        assert r.status == 416 and r.header("content-range") == "bytes */0", r
        # Several ranges, bad syntax, another unit: the whole file.
        for spec in ("bytes=0-1,5-6", "bytes=9-1", "bytes=x-y", "items=0-1"):
            r = srv.get("/assets/bytes.bin", {"Range": spec})
            assert r.status == 200 and r.body == data, (spec, r)
        # If-Range: the range only for the current version.
        r = srv.get("/assets/bytes.bin", {"Range": "bytes=0-3", "If-Range": tag})
        assert r.status == 206 and r.body == data[:4], r
        r = srv.get("/assets/bytes.bin", {"Range": "bytes=0-3", "If-Range": '"old-tag"'})
        assert r.status == 200 and r.body == data, r
        lm = r.header("last-modified")
        r = srv.get("/assets/bytes.bin", {"Range": "bytes=0-3", "If-Range": lm})
        assert r.status == 206 and r.body == data[:4], r
        r = srv.get("/assets/bytes.bin", {"Range": "bytes=0-3", "If-Range": http_date(1000)})
        assert r.status == 200, r
        # A 304 comes before the range.
        r = srv.get("/assets/bytes.bin", {"Range": "bytes=0-3", "If-None-Match": tag})
        assert r.status == 304, r
        # Ranges of the large file: through sendfile with an offset, and read.
        for a, b in ((1000000, 3000000), (len(BIG) - 70000, len(BIG) - 1), (123, 4567)):
            r = srv.get("/assets/big.bin", {"Range": "bytes=%d-%d" % (a, b)})
            assert r.status == 206 and r.body == BIG[a:b + 1], (a, b, r.status)


def test_index_and_folders():
    with StaticServer() as srv:
        for url, name in (("/assets/", "index.html"), ("/assets/nested/", "nested/index.html"),
                          ("/assets/nested/./", "nested/index.html"), ("/assets//nested//", "nested/index.html")):
            r = srv.get(url)
            assert r.status == 200 and r.body == fixture(name), (url, r)
            assert r.header("content-type") == "text/html; charset=utf-8", r
        # A folder without its '/': 301 to it (slashes folded, the query kept).
        for url, loc in (("/assets/nested", "/assets/nested/"), ("/assets/nested?a=1&b", "/assets/nested/?a=1&b"),
                         ("/assets//nested", "/assets/nested/"), ("/assets/noindex", "/assets/noindex/")):
            r = srv.get(url)
            assert r.status == 301 and r.header("location") == loc, (url, r)
        # No index file, or index = false: 404, never a listing.
        assert srv.get("/assets/noindex/").status == 404
        r = srv.get("/noetag/")
        assert r.status == 404 and b"noindex" not in r.body, r
        assert srv.get("/noetag/nested/").status == 404
        assert srv.get("/noetag/hello.txt").status == 200


def test_not_found():
    with StaticServer() as srv:
        for url in ("/assets/nope", "/assets/nested/nope.txt", "/assets/hello.txt/x",
                    "/assets/nope/", "/assets/" + "a" * 300):
            r = srv.get(url)
            assert r.status == 404, (url, r)
            assert r.header("content-type") == "text/html" and b"404" in r.body, r
        # Other methods find no route.
        assert srv.get("/assets/hello.txt", method="POST").status == 404
        # A FIFO is not a regular file: 404, and the loop never blocks on it.
        os.mkfifo(os.path.join(srv.root, "fifo.txt"))
        assert srv.get("/assets/fifo.txt").status == 404
        assert srv.get("/assets/hello.txt").status == 200


# Every one of these must fail, with the status given (None: 400 or 404), and
# no answer may ever carry the secret. The HTTP layer resolves "." and ".."
# (decoded, %2F included) before routing, as nginx: what stays under "/" is
# another path ("/secret.txt", no route: 404), what climbs above it is a 400.
TRAVERSALS = [
    ("/assets/../secret.txt", 404),
    ("/assets/../site/secret.txt", 404),
    ("/assets/nested/../../secret.txt", 404),
    ("/assets/%2e%2e/secret.txt", 404),
    ("/assets/%2E%2e/secret.txt", 404),
    ("/assets/%2e%2E/secret.txt", 404),
    ("/assets/.%2e/secret.txt", 404),
    ("/assets/%2e./secret.txt", 404),
    ("/assets/..%2fsecret.txt", 404),
    ("/assets/..%2Fsecret.txt", 404),
    ("/assets/%2e%2e%2fsecret.txt", 404),
    ("/assets/%2e%2e%2Fsite%2Fsecret.txt", 404),
    ("/assets/nested%2F..%2F..%2Fsecret.txt", 404),
    ("/assets/%2e%2e/%2e%2e/%2e%2e/etc/passwd", 400),
    ("/assets/../../secret.txt", 400),
    ("/assets/nested/%2e%2e%2f%2e%2e%2f%2e%2e%2fsecret.txt", 400),
    ("/assets/..%5csecret.txt", 400),
    ("/assets/%5c..%5csecret.txt", 400),
    ("/assets/..\\secret.txt", None),          # a raw backslash: 400 either way
    ("/assets/secret.txt%00.txt", 400),
    ("/assets/hello.txt%00", 400),
    ("/assets/%00", 400),
    ("/assets/%252e%252e/secret.txt", 404),    # decoded once: a literal name
    ("/assets/%252e%252e%252fsecret.txt", 404),
    ("/assets/%c0%ae%c0%ae/secret.txt", 404),  # overlong UTF-8 is just bytes
    ("/assets/link-out", 404),                  # symlinks: never followed
    ("/assets/dir-out/secret.txt", 404),
    ("/assets/dir-out/public/hello.txt", 404),
    ("/assets/link-in", 404),
    ("/assets/nested-link/index.html", 404),
    ("/assets/nested-link/", 404),
    ("/assets/%", 400),
    ("/assets/%2", 400),
    ("/assets/%zz", 400),
]


def test_traversal_never_leaves_root():
    with StaticServer() as srv:
        for url, want in TRAVERSALS:
            with srv.connect() as s:
                s.sendall(b"GET " + url.encode("latin-1") + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                data = b""
                while True:
                    chunk = s.recv(65536)
                    if not chunk:
                        break
                    data += chunk
            assert SECRET not in data, (url, data[:300])
            status = int(data.split(b" ", 2)[1])
            if want is None:
                assert status in (400, 404), (url, status)
            else:
                assert status == want, (url, status, want)
        # The same through HEAD and with a Range: no difference.
        with srv.connect() as s:
            s.sendall(raw_get("/assets/%2e%2e/%2e%2e/secret.txt", {"Range": "bytes=0-3"}, method="HEAD"))
            r = Reader(s).read_response(head_request=True)
        assert r.status == 400 and SECRET not in r.raw_head, r
        # And the server is fine.
        assert srv.get("/assets/hello.txt").status == 200


def test_symlinks_refused_root_link_followed():
    # The root itself may be a symlink (deploys switch "current" that way).
    srv = StaticServer(routes='ssr.static("/c/", { root = "current" })')
    os.symlink(os.path.join("site", "public"), os.path.join(srv.dir, "current"))
    with srv:
        r = srv.get("/c/hello.txt")
        assert r.status == 200 and r.body == fixture("hello.txt"), r
        for url in ("/c/link-out", "/c/link-in", "/c/dir-out/secret.txt"):
            r = srv.get(url)
            assert r.status == 404 and SECRET not in r.body, (url, r)


def test_large_file_exact():
    with StaticServer() as srv:
        want = hashlib.sha256(BIG).hexdigest()
        with srv.connect() as s:
            # Pipelined: big, small, big, small; every answer in order, whole.
            s.sendall(raw_get("/assets/big.bin", close=False) + raw_get("/assets/hello.txt", close=False) +
                      raw_get("/assets/big.bin", close=False) + raw_get("/assets/data.json"))
            rd = Reader(s)
            for name in ("big.bin", "hello.txt", "big.bin", "data.json"):
                r = rd.read_response()
                assert r.status == 200, (name, r)
                if name == "big.bin":
                    assert r.header("content-length") == str(len(BIG))
                    assert hashlib.sha256(r.body).hexdigest() == want, name
                else:
                    assert r.body == fixture(name), name
        # A slow reader gets it all as well (its buffer fills, the server
        # waits for POLLOUT, again and again).
        with srv.connect() as s:
            s.sendall(raw_get("/assets/big.bin"))
            rd = Reader(s)
            head = rd.read_until(b"\r\n\r\n")
            assert b" 200 " in head.split(b"\r\n")[0], head
            got = bytearray()
            for i in range(40):                 # a pause now and then
                got += s.recv(16384)
                time.sleep(0.01)
            while len(got) < len(BIG):
                chunk = s.recv(1 << 20)
                if not chunk:
                    break
                got += chunk
            assert hashlib.sha256(bytes(rd.buf + got)).hexdigest() == want


def test_aborted_and_stuck_downloads_leave_nothing_open():
    with StaticServer(config={"timeouts": "{ write_ms = 400 }"}) as srv:
        # A 32 MB sparse file: more than the socket buffers can hold.
        huge = os.path.join(srv.root, "huge.bin")
        with open(huge, "wb") as f:
            f.truncate(32 * 1024 * 1024)
        srv.get("/assets/hello.txt")
        time.sleep(0.2 * SLOW)
        base = srv.open_fds()
        # Clients that go away mid-body (a reset), many times.
        for i in range(20):
            s = srv.connect()
            s.sendall(raw_get("/assets/big.bin" if i % 2 else "/assets/huge.bin"))
            s.recv(1000)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            s.close()
        # One that never reads: the write clock (no progress for write_ms) ends it.
        s = srv.connect()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        s.sendall(raw_get("/assets/huge.bin"))
        wait_log(srv, "timed out writing the response", timeout=5.0)
        s.close()
        deadline = time.time() + 5 * SLOW
        while srv.open_fds() != base and time.time() < deadline:
            time.sleep(0.05)
        assert srv.open_fds() == base, (srv.open_fds(), base, os.listdir("/proc/%d/fd" % srv.proc.pid))
        r = srv.get("/assets/big.bin")
        assert r.status == 200 and r.body == BIG


def test_many_concurrent_clients():
    with StaticServer() as srv:
        errors = []
        small = fixture("bytes.bin")

        def client(k):
            try:
                with srv.connect() as s:
                    rd = Reader(s)
                    for j in range(12):
                        kind = (k + j) % 4
                        if kind == 0:
                            s.sendall(raw_get("/assets/big.bin", close=False))
                            r = rd.read_response()
                            assert r.status == 200 and r.body == BIG, ("big", r.status)
                        elif kind == 1:
                            s.sendall(raw_get("/assets/bytes.bin", close=False))
                            r = rd.read_response()
                            assert r.status == 200 and r.body == small
                        elif kind == 2:
                            a = (k * 7919 + j * 104729) % (len(BIG) - 300000)
                            s.sendall(raw_get("/assets/big.bin", {"Range": "bytes=%d-%d" % (a, a + 199999)},
                                              close=False))
                            r = rd.read_response()
                            assert r.status == 206 and r.body == BIG[a:a + 200000], ("range", r.status)
                        else:
                            s.sendall(raw_get("/assets/nested/", close=False))
                            r = rd.read_response()
                            assert r.status == 200 and r.body == fixture("nested/index.html")
            except Exception as e:  # noqa: BLE001 - reported below
                errors.append((k, repr(e)))

        base = srv.open_fds()
        threads = [threading.Thread(target=client, args=(k,)) for k in range(32)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120 * SLOW)
        assert not errors, errors[:5]
        deadline = time.time() + 5 * SLOW
        while srv.open_fds() != base and time.time() < deadline:
            time.sleep(0.05)
        assert srv.open_fds() == base, (srv.open_fds(), base)


def test_permission_denied():
    user = "nobody" if os.geteuid() == 0 else None
    with StaticServer(user=user) as srv:
        locked = os.path.join(srv.root, "locked.txt")
        with open(locked, "w") as f:
            f.write("no\n")
        os.chmod(locked, 0)
        closed = os.path.join(srv.root, "closed")
        os.mkdir(closed)
        with open(os.path.join(closed, "a.txt"), "w") as f:
            f.write("a\n")
        os.chmod(os.path.join(closed, "a.txt"), 0o644)
        os.chmod(closed, 0)
        try:
            assert srv.get("/assets/locked.txt").status == 403
            assert srv.get("/assets/closed/a.txt").status == 403
            assert srv.get("/assets/hello.txt").status == 200
        finally:
            os.chmod(closed, 0o755)


if __name__ == "__main__":
    main([test_content_and_types, test_head, test_not_modified_etag, test_not_modified_since,
          test_ranges, test_index_and_folders, test_not_found, test_traversal_never_leaves_root,
          test_symlinks_refused_root_link_followed, test_large_file_exact,
          test_aborted_and_stuck_downloads_leave_nothing_open, test_many_concurrent_clients,
          test_permission_denied])
