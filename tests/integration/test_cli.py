"""The command line: -t on good and bad configs, a bad config at start,
-V, bad options, a port already in use. Each bad config fixture in
tests/lua/bad_*.lua states the message it must produce in an 'Expected:'
comment; the test holds the binary to it (file:line and reason)."""

import glob
import os
import re
import socket
import subprocess

from rslib import BIN, TESTS, Server, main, run_config_check


def expected_message(path):
    text = open(path).read()
    comment = " ".join(l.lstrip("-").strip() for l in text.splitlines() if l.startswith("--"))
    m = re.search(r'Expected:\s*"(.*)"', comment)
    assert m, "fixture %s has no Expected: comment" % path
    return m.group(1)


def bad_fixtures():
    files = sorted(glob.glob(os.path.join(TESTS, "lua", "bad_*.lua")))
    assert len(files) >= 4, files
    return files


def test_check_bad_configs():
    for path in bad_fixtures():
        code, out = run_config_check(path, test=True)
        assert code == 1, (path, code, out)
        want = expected_message(path)
        # The message names the file as given on the command line.
        assert want in out, "%s: wanted %r in %r" % (path, want, out)
        assert "test failed" in out, out


def test_start_with_bad_config_exits_nonzero():
    for path in bad_fixtures():
        code, out = run_config_check(path, test=False)
        assert code == 1, (path, code, out)
        assert expected_message(path) in out, (path, out)
        assert "ready" not in out


def test_check_good_config():
    srv = Server(routes='ssr.respond("/x", 200, "x")')
    code, out = run_config_check(srv.config_path, test=True)
    assert code == 0, out
    assert "test is successful" in out, out


def test_missing_config_file():
    code, out = run_config_check("/nonexistent/rustyssr.lua", test=True)
    assert code == 1, out
    assert "/nonexistent/rustyssr.lua" in out and "No such file" in out, out


def test_version_and_usage():
    p = subprocess.run([BIN, "-V"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    assert p.returncode == 0 and re.match(rb"rustyssr \d+\.\d+\.\d+ \(V8 [^)]+\)", p.stdout), p.stdout
    p = subprocess.run([BIN, "-x"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    assert p.returncode == 2 and b"usage:" in p.stdout, p.stdout


def test_require_prefers_the_config_folder():
    """A route module beside the config wins over one of the same name in the
    current directory (there: a typo that must not be what -t checks)."""
    import tempfile
    site, other = tempfile.mkdtemp(prefix="rs-site-"), tempfile.mkdtemp(prefix="rs-cwd-")
    for d, body in ((site, 'local ssr = require "rustyssr"\nssr.respond("/x", 200, "site")\n'),
                    (other, 'local ssr = require "rustyssr"\nssr.respond("/x", 200, \n')):
        os.makedirs(os.path.join(d, "routes"))
        with open(os.path.join(d, "routes", "r.lua"), "w") as f:
            f.write(body)
    conf = os.path.join(site, "rustyssr.lua")
    with open(conf, "w") as f:
        f.write('local ssr = require "rustyssr"\nssr.config { listen = "127.0.0.1:1" }\nrequire "routes.r"\n')
    p = subprocess.run([BIN, "-t", "-c", conf], cwd=other, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    assert p.returncode == 0 and b"test is successful" in p.stdout, p.stdout
    # The fallback still works: a module only in the current directory.
    os.rename(os.path.join(site, "routes"), os.path.join(site, "gone"))
    p = subprocess.run([BIN, "-t", "-c", conf], cwd=other, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    assert p.returncode == 1 and b"routes/r.lua:3" in p.stdout, p.stdout


def test_port_in_use():
    holder = socket.socket()
    holder.bind(("127.0.0.1", 0))
    holder.listen(1)
    port = holder.getsockname()[1]
    try:
        srv = Server(config={"listen": '"127.0.0.1:%d"' % port}, routes='ssr.respond("/x", 200, "x")')
        srv.start(wait=False)
        code = srv.proc.wait(30)
        assert code != 0, srv.log()
        assert "Address already in use" in srv.log(), srv.log()
    finally:
        holder.close()


if __name__ == "__main__":
    main([test_check_bad_configs, test_start_with_bad_config_exits_nonzero, test_check_good_config,
          test_missing_config_file, test_version_and_usage, test_require_prefers_the_config_folder, test_port_in_use])
