"""Request smuggling vectors against the HTTP/1.1 front end (core/http/):
framing ambiguities (Content-Length vs Transfer-Encoding), header syntax a
proxy in front might read differently (obs-fold, bare LF, NUL, "Name :"),
transfer codings we do not speak, bad chunks, and bytes after a refusal.

Each refusal must be: the right status, "Connection: close", the connection
closed with nothing after the one answer, a log line naming the kind, and
rustyssr_request_errors_total{kind,status} up by one."""

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from rslib import SLOW, Reader, Server, eq, err_key, main, wait_log  # noqa: E402

ROUTES = r'''
ssr.route("GET", "/hello", { respond = { status = 200, body = "hi\n" } })
ssr.route({"GET","POST"}, "/echo", { respond = { status = 200, body = "ok" } })
ssr.route("GET", "/admin", { respond = { status = 200, body = "SMUGGLED" } })
'''


def read_rest(rd, timeout=3.0):
    """Everything the server sends until it closes (asserts that it does)."""
    rd.sock.settimeout(timeout * SLOW)
    out = rd.buf
    rd.buf = b""
    try:
        while True:
            chunk = rd.sock.recv(65536)
            if not chunk:
                return out
            out += chunk
    except (ConnectionResetError, BrokenPipeError):
        return out
    except OSError as e:
        raise AssertionError("connection not closed (%s); got after the answer: %r" % (e, out))


def refused(srv, raw, status, kinds=None):
    """Send raw on a fresh connection: exactly one answer, `status`, then
    close; the log and the counter name one of `kinds`. Returns the kind.
    `status` may be a dict {status: kinds} when more than one is fine."""
    allowed = status if isinstance(status, dict) else {status: kinds}
    before = srv.metrics()
    with srv.connect() as s:
        s.sendall(raw)
        rd = Reader(s)
        r = rd.read_response()
        assert r.status in allowed, "status for %r: got %r, expected one of %r" % (raw[:80], r, list(allowed))
        eq((r.header("connection") or "").lower(), "close", "Connection header")
        rest = read_rest(rd)
        eq(rest, b"", "bytes after the %d answer" % r.status)
    status = r.status
    kinds = allowed[status]
    if isinstance(kinds, str):
        kinds = (kinds,)
    after = srv.metrics()
    went_up = [k for k in kinds if after[err_key(k, status)] == before[err_key(k, status)] + 1]
    assert len(went_up) == 1, "no counter of %r went up by one for %r: %r" % (
        kinds, raw[:80], {k: (before[err_key(k, status)], after[err_key(k, status)]) for k in kinds})
    wait_log(srv, "%d %s" % (status, went_up[0]))
    return went_up[0]


# ------------------------------------------------------------------ framing

def test_cl_and_te_400():
    with Server(routes=ROUTES) as srv:
        refused(srv, b"POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 6\r\n"
                     b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\nG",
                400, "content_length_and_transfer_encoding")
        refused(srv, b"POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n"
                     b"Content-Length: 4\r\n\r\n5c\r\nGPOST / HTTP/1.1\r\n\r\n0\r\n\r\n",
                400, "content_length_and_transfer_encoding")


def test_two_differing_content_lengths_400():
    with Server(routes=ROUTES) as srv:
        refused(srv, b"POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n"
                     b"Content-Length: 4\r\n\r\nabcd", 400, "duplicate_content_length")


def test_two_identical_content_lengths():
    """RFC 9110 §8.6 allows collapsing identical values; llhttp 8.1 refuses
    any repeated Content-Length ("Duplicate Content-Length"), so this is a
    400 today. Either is acceptable; nothing else is, and a 200 must carry
    the body as one request."""
    with Server(routes=ROUTES) as srv:
        raw = b"POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\nabc"
        with srv.connect() as s:
            s.sendall(raw + b"GET /hello HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
            rd = Reader(s)
            r = rd.read_response()
            assert r.status in (200, 400), r
            if r.status == 400:
                rest = read_rest(rd)
                eq(rest, b"", "bytes after the 400")
                wait_log(srv, "400 duplicate_content_length")
                eq(srv.metrics()[err_key("duplicate_content_length", 400)], 1, "counter")
            else:
                eq(r.body, b"ok", "body")
                eq(rd.read_response().body, b"hi\n", "the next request")


def test_bad_content_length_values_400():
    with Server(routes=ROUTES) as srv:
        for v in (b"-1", b"+3", b"3 3", b"3, 3", b"0x3", b"99999999999999999999999"):
            refused(srv, b"POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: " + v + b"\r\n\r\nabc",
                    400, ("bad_request", "invalid_character"))


def test_transfer_encoding_gzip_501():
    with Server(routes=ROUTES) as srv:
        refused(srv, b"POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\nxxxx",
                501, "unsupported_transfer_encoding")


def test_transfer_encoding_gzip_chunked_501():
    with Server(routes=ROUTES) as srv:
        refused(srv, b"POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n"
                     b"0\r\n\r\n", 501, "unsupported_transfer_encoding")
        # The same list split over two header lines.
        refused(srv, b"POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n"
                     b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 501, "unsupported_transfer_encoding")


def test_transfer_encoding_chunked_not_last_refused():
    """chunked must be the final coding (RFC 9112 §6.3): 400, or 501 for the
    coding we do not know — never a body read some other way."""
    with Server(routes=ROUTES) as srv:
        for te in (b"chunked, gzip", b"chunked, identity"):
            refused(srv, b"POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: " + te + b"\r\n\r\n0\r\n\r\n",
                    {400: "bad_request", 501: "unsupported_transfer_encoding"})


def test_chunked_bad_chunk_size_400():
    with Server(routes=ROUTES) as srv:
        for size in (b"zz", b"-1", b"1 2", b"fffffffffffffffffff"):
            refused(srv, b"POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n" +
                    size + b"\r\nabc\r\n0\r\n\r\n", 400, ("bad_request", "invalid_character"))


def test_chunked_bad_chunk_terminator_400():
    """Chunk data not followed by CRLF (the "length is a lie" vector: a
    parser that skips any two bytes reads "f" as the next chunk size)."""
    with Server(routes=ROUTES, config={"timeouts": "{ body_ms = 1000 }"}) as srv:
        refused(srv, b"POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
                     b"3\r\nabcdef\r\n0\r\n\r\n", 400, ("bad_request", "invalid_character"))


# ------------------------------------------------------------------ header syntax

def test_obs_fold_400():
    with Server(routes=ROUTES) as srv:
        for fold in (b"X-A: a\r\n b", b"X-A: a\r\n\tb", b"X-A: a\r\n   b", b"X-A: a\r\n \r\n"):
            refused(srv, b"GET /hello HTTP/1.1\r\nHost: a\r\n" + fold + b"\r\n\r\n", 400, "obs_fold")


def test_obs_fold_after_empty_value_400():
    """The fold follows an empty value: "X-A:" CRLF SP "b"."""
    with Server(routes=ROUTES) as srv:
        refused(srv, b"GET /hello HTTP/1.1\r\nHost: a\r\nX-A:\r\n b\r\n\r\n", 400, "obs_fold")
        refused(srv, b"GET /hello HTTP/1.1\r\nHost: a\r\nX-A: \r\n b\r\n\r\n", 400, "obs_fold")


def test_obs_fold_split_at_line_break_400():
    """The fold arrives in its own read, starting right at the space."""
    with Server(routes=ROUTES) as srv:
        before = srv.metrics()[err_key("obs_fold", 400)]
        with srv.connect() as s:
            s.sendall(b"GET /hello HTTP/1.1\r\nHost: a\r\nX-A: a\r\n")
            time.sleep(0.1)
            s.sendall(b" b\r\n\r\n")
            rd = Reader(s)
            eq(rd.read_response().status, 400, "status")
            eq(read_rest(rd), b"", "after the answer")
        eq(srv.metrics()[err_key("obs_fold", 400)], before + 1, "obs_fold counter")


def test_leading_whitespace_first_header_400():
    """A first header line that starts with whitespace (RFC 9112 §2.2)."""
    with Server(routes=ROUTES) as srv:
        refused(srv, b"GET /hello HTTP/1.1\r\n Host: a\r\n\r\n", 400,
                ("bad_request", "invalid_character", "obs_fold"))


def test_bare_lf_400():
    with Server(routes=ROUTES) as srv:
        refused(srv, b"GET /hello HTTP/1.1\nHost: a\n\n", 400, ("invalid_character", "bad_request"))
        refused(srv, b"GET /hello HTTP/1.1\r\nHost: a\nX-A: b\r\n\r\n", 400,
                ("invalid_character", "bad_request"))
        refused(srv, b"GET /hello HTTP/1.1\r\nHost: a\r\n\n", 400, ("invalid_character", "bad_request"))


def test_bare_cr_400():
    with Server(routes=ROUTES) as srv:
        refused(srv, b"GET /hello HTTP/1.1\r\nHost: a\rX-A: b\r\n\r\n", 400,
                ("invalid_character", "bad_request"))


def test_nul_in_header_value_400():
    with Server(routes=ROUTES) as srv:
        refused(srv, b"GET /hello HTTP/1.1\r\nHost: a\r\nX-A: a\x00b\r\n\r\n", 400, "invalid_character")


def test_nul_in_header_name_400():
    with Server(routes=ROUTES) as srv:
        refused(srv, b"GET /hello HTTP/1.1\r\nHost: a\r\nX\x00A: b\r\n\r\n", 400, "invalid_character")


def test_nul_in_url_400():
    with Server(routes=ROUTES) as srv:
        refused(srv, b"GET /hel\x00lo HTTP/1.1\r\nHost: a\r\n\r\n", 400, ("invalid_character", "bad_request"))


def test_space_before_colon_400():
    with Server(routes=ROUTES) as srv:
        refused(srv, b"GET /hello HTTP/1.1\r\nHost : a\r\n\r\n", 400, "invalid_character")
        refused(srv, b"POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding\t: chunked\r\n"
                     b"Content-Length: 3\r\n\r\nabc", 400, "invalid_character")


# ------------------------------------------------------------------ after a refusal

def test_request_after_400_never_answered():
    """A bad request and a valid GET in one packet: exactly one answer (the
    400), then close; the GET is never answered."""
    with Server(routes=ROUTES) as srv:
        refused(srv, b"GET /hello HTTP/1.1\r\nHost : a\r\n\r\nGET /admin HTTP/1.1\r\nHost: a\r\n\r\n",
                400, "invalid_character")
        refused(srv, b"POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 30\r\n\r\n"
                     b"GET /admin HTTP/1.1\r\nHost: a\r\n\r\n", 400, "duplicate_content_length")
        assert "SMUGGLED" not in srv.log()


def test_request_after_501_never_answered():
    with Server(routes=ROUTES) as srv:
        refused(srv, b"POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n"
                     b"GET /admin HTTP/1.1\r\nHost: a\r\n\r\n", 501, "unsupported_transfer_encoding")


def test_request_after_400_in_later_read_never_answered():
    """The smuggled request arrives in a later packet, while the 400 is
    being answered or the server lingers: it is read and dropped."""
    with Server(routes=ROUTES) as srv:
        with srv.connect() as s:
            s.sendall(b"GET /hello HTTP/1.1\r\nHost : a\r\n\r\n")
            rd = Reader(s)
            eq(rd.read_response().status, 400, "status")
            try:
                s.sendall(b"GET /admin HTTP/1.1\r\nHost: a\r\n\r\n")
            except (BrokenPipeError, ConnectionResetError):
                pass
            eq(read_rest(rd), b"", "after the answer")


def test_cl_te_classic_smuggle_single_answer():
    """CL.TE: a front end honouring Content-Length would forward the "G"
    prefix; we must answer once (400) and close."""
    with Server(routes=ROUTES) as srv:
        refused(srv, b"POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 13\r\n"
                     b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /admin HTTP/1.1\r\nHost: a\r\n\r\n",
                400, "content_length_and_transfer_encoding")


if __name__ == "__main__":
    main([
        test_cl_and_te_400,
        test_two_differing_content_lengths_400,
        test_two_identical_content_lengths,
        test_bad_content_length_values_400,
        test_transfer_encoding_gzip_501,
        test_transfer_encoding_gzip_chunked_501,
        test_transfer_encoding_chunked_not_last_refused,
        test_chunked_bad_chunk_size_400,
        test_chunked_bad_chunk_terminator_400,
        test_obs_fold_400,
        test_obs_fold_after_empty_value_400,
        test_obs_fold_split_at_line_break_400,
        test_leading_whitespace_first_header_400,
        test_bare_lf_400,
        test_bare_cr_400,
        test_nul_in_header_value_400,
        test_nul_in_header_name_400,
        test_nul_in_url_400,
        test_space_before_colon_400,
        test_request_after_400_never_answered,
        test_request_after_501_never_answered,
        test_request_after_400_in_later_read_never_answered,
        test_cl_te_classic_smuggle_single_answer,
    ])
