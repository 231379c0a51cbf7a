"""`cmake --install`: the installed binary runs on the libnode.so.108 copied
beside it (no LD_LIBRARY_PATH, no build tree), and the systemd unit and the
logrotate snippet it installs name the installed paths and work: the unit's
ExecStartPre (-t) and ExecStart commands are run as written, the snippet's
postrotate command reopens the logs, `-s quit` stops the process."""

import os
import shlex
import shutil
import subprocess
import tempfile
import time

from rslib import BIN, SLOW, free_port, main


def build_dir():
    d = os.path.dirname(os.path.abspath(BIN))
    assert os.path.exists(os.path.join(d, "cmake_install.cmake")), d
    return d


def unit_value(text, key):
    for line in text.splitlines():
        if line.startswith(key + "="):
            return line[len(key) + 1:]
    raise AssertionError("no %s= in the unit:\n%s" % (key, text))


def wait_for(cond, timeout=10.0):
    deadline = time.time() + timeout * SLOW
    while time.time() < deadline:
        if cond():
            return True
        time.sleep(0.05)
    return cond()


def test_install_runs_and_its_service_files_work():
    prefix = tempfile.mkdtemp(prefix="rs-install-")
    try:
        p = subprocess.run(["cmake", "--install", build_dir(), "--prefix", prefix],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=300)
        assert p.returncode == 0, p.stdout.decode()
        exe = os.path.join(prefix, "bin", "rustyssr")
        assert os.access(exe, os.X_OK)
        # The installed binary finds the libnode beside it, not the build tree's.
        env = {k: v for k, v in os.environ.items() if k != "LD_LIBRARY_PATH"}
        ldd = subprocess.run(["ldd", exe], stdout=subprocess.PIPE, env=env).stdout.decode()
        line = [l for l in ldd.splitlines() if "libnode.so.108" in l]
        assert line and os.path.join(prefix, "bin/../lib") in line[0], ldd
        v = subprocess.run([exe, "-V"], stdout=subprocess.PIPE, env=env)
        assert v.returncode == 0 and v.stdout.startswith(b"rustyssr "), v

        # The man page is installed and renders without a warning.
        man = os.path.join(prefix, "share/man/man8/rustyssr.8")
        assert os.path.exists(man)
        if shutil.which("groff"):
            g = subprocess.run(["groff", "-man", "-Tutf8", "-ww", "-z", man], stderr=subprocess.PIPE, timeout=60)
            assert g.returncode == 0 and g.stderr == b"", g.stderr.decode()
        unit = open(os.path.join(prefix, "lib/systemd/system/rustyssr.service")).read()
        rotate = open(os.path.join(prefix, "etc/logrotate.d/rustyssr")).read()
        start = shlex.split(unit_value(unit, "ExecStart"))
        reload = shlex.split(unit_value(unit, "ExecReload"))
        check = shlex.split(unit_value(unit, "ExecStartPre"))
        assert start[0] == exe and check[0] == exe, unit
        conf = start[start.index("-c") + 1]
        assert conf == os.path.join(prefix, "etc/rustyssr/rustyssr.lua"), unit
        logdir = os.path.join(prefix, "var/log/rustyssr")
        assert logdir + "/*.log {" in rotate, rotate
        # systemd's own check of the unit (where systemd's tools are installed;
        # the runs below check the same commands either way).
        if shutil.which("systemd-analyze"):
            sa = subprocess.run(["systemd-analyze", "verify", os.path.join(prefix, "lib/systemd/system/rustyssr.service")],
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=60)
            assert sa.returncode == 0 and b"rustyssr.service" not in sa.stdout, sa.stdout.decode()
        postrotate = rotate.split("postrotate")[1].split("endscript")[0].strip()
        assert postrotate.startswith(exe + " -s reopen -c " + conf), postrotate

        # The config the unit's comment asks for, with loopback ports.
        os.makedirs(os.path.dirname(conf))
        os.makedirs(logdir)
        port, admin = free_port(), free_port()
        with open(conf, "w") as f:
            f.write('local ssr = require "rustyssr"\n'
                    'ssr.config { listen = "127.0.0.1:%d", admin = "127.0.0.1:%d", workers = 1, pin = false,\n'
                    '  pid = "%s/rustyssr.pid",\n'
                    '  log = { error = "%s/error.log", access = "%s/access.log" } }\n'
                    'ssr.route("GET", "/hi", { respond = { status = 200, body = "hi" } })\n'
                    % (port, admin, prefix, logdir, logdir))
        assert subprocess.run(check, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              timeout=60).returncode == 0
        proc = subprocess.Popen(start, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            err = os.path.join(logdir, "error.log")
            assert wait_for(lambda: os.path.exists(err) and "ready: serving" in open(err).read()), \
                open(err).read() if os.path.exists(err) else "no error log"
            import urllib.request
            assert urllib.request.urlopen("http://127.0.0.1:%d/hi" % port, timeout=10).read() == b"hi"
            assert subprocess.run(reload, env=env, timeout=60).returncode == 0
            assert wait_for(lambda: "reloaded" in open(err).read()), open(err).read()
            os.rename(err, err + ".1")
            rc = subprocess.run(postrotate, shell=True, env=env, timeout=60).returncode
            assert rc == 0
            assert wait_for(lambda: os.path.exists(err) and "log files reopened" in open(err).read())
            q = subprocess.run([exe, "-s", "quit", "-c", conf], env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, timeout=60)
            assert q.returncode == 0, q.stdout
            assert proc.wait(30 * SLOW) == 0
            assert not os.path.exists(os.path.join(prefix, "rustyssr.pid"))
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    finally:
        shutil.rmtree(prefix, ignore_errors=True)


if __name__ == "__main__":
    main([test_install_runs_and_its_service_files_work])
