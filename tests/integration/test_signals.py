"""Operating the process as nginx users do: the pid file, `rustyssr -s
stop|quit|reload|reopen`, SIGUSR1 reopening the logs after logrotate
renamed them, SIGQUIT as a graceful stop, signals the process does not use
never ending it, --help and --version."""

import os
import signal
import subprocess
import time

from rslib import BIN, SLOW, Server, main, wait_log

ROUTES = 'ssr.route("GET", "/hello", { respond = { status = 200, body = "hello\\n" } })'


def cli(*args):
    p = subprocess.run([BIN] + list(args), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=60 * SLOW)
    return p.returncode, p.stdout.decode("utf-8", "replace")


def server_with_pid(extra=None, pid='"rustyssr.pid"'):
    cfg = {"pid": pid}
    cfg.update(extra or {})
    return Server(routes=ROUTES, config=cfg)


def wait_exit(srv, timeout=15.0):
    return srv.proc.wait(timeout * SLOW)


def wait_for(cond, timeout=5.0):
    deadline = time.time() + timeout * SLOW
    while time.time() < deadline:
        if cond():
            return True
        time.sleep(0.02)
    return cond()


def test_help_and_version():
    for flag in ("-h", "--help"):
        code, out = cli(flag)
        assert code == 0 and "usage: rustyssr" in out and "-s SIGNAL" in out, (flag, out)
    for flag in ("-V", "--version"):
        code, out = cli(flag)
        assert code == 0 and out.startswith("rustyssr ") and "V8" in out, (flag, out)
    code, out = cli("--nope")
    assert code == 2 and "usage:" in out, out
    code, out = cli("-s", "restart")
    assert code == 2 and "invalid signal 'restart'" in out, out


def test_pid_file_written_relative_to_config_and_removed():
    srv = server_with_pid().start()
    pidfile = os.path.join(srv.dir, "rustyssr.pid")   # relative to the config's folder
    assert open(pidfile).read() == "%d\n" % srv.proc.pid
    assert srv.stop() == 0, srv.log()
    assert not os.path.exists(pidfile), "pid file left behind at exit"


def test_stale_pid_file_replaced_running_one_refused():
    srv = server_with_pid()
    pidfile = os.path.join(srv.dir, "rustyssr.pid")
    # A pid that is surely not a running rustyssr: a finished child.
    dead = subprocess.Popen(["true"])
    dead.wait()
    with open(pidfile, "w") as f:
        f.write("%d\n" % dead.pid)
    srv.start()
    assert "replaced a stale one (pid %d" % dead.pid in srv.log(), srv.log()
    assert open(pidfile).read() == "%d\n" % srv.proc.pid
    # A second instance with the same pid file (another port) is refused.
    other = Server(routes=ROUTES, config={"pid": '"%s"' % pidfile})
    other.start(wait=False)
    code = other.proc.wait(30 * SLOW)
    assert code == 1, other.log()
    assert "already running as pid %d" % srv.proc.pid in other.log(), other.log()
    assert open(pidfile).read() == "%d\n" % srv.proc.pid, "the refused instance touched the pid file"
    assert srv.stop() == 0


def test_s_signals_the_running_instance():
    srv = server_with_pid().start()
    code, out = cli("-s", "reload", "-c", srv.config_path)
    assert code == 0, out
    wait_log(srv, "reloaded", timeout=10)
    assert srv.get("/hello").status == 200
    code, out = cli("-s", "stop", "-c", srv.config_path)
    assert code == 0, out
    assert wait_exit(srv) == 0, srv.log()
    # Nothing runs now: -s says so and fails.
    code, out = cli("-s", "stop", "-c", srv.config_path)
    assert code == 1 and "is rustyssr running?" in out, out


def test_s_without_pid_setting_or_with_stale_file():
    srv = Server(routes=ROUTES)
    code, out = cli("-s", "reload", "-c", srv.config_path)
    assert code == 1 and "sets no pid file" in out, out
    srv = server_with_pid()
    dead = subprocess.Popen(["true"])
    dead.wait()
    with open(os.path.join(srv.dir, "rustyssr.pid"), "w") as f:
        f.write("%d\n" % dead.pid)
    code, out = cli("-s", "reopen", "-c", srv.config_path)
    assert code == 1 and "stale pid file" in out, out


def test_sigquit_is_a_graceful_stop():
    srv = server_with_pid().start()
    code, out = cli("-s", "quit", "-c", srv.config_path)
    assert code == 0, out
    assert wait_exit(srv) == 0, srv.log()
    assert "graceful shutdown" in srv.log(), srv.log()


def test_reopen_after_logrotate_renamed_the_files():
    srv = Server(routes=ROUTES, config={"pid": '"rustyssr.pid"',
                                        "log": '{ error = "err.log", access = "access.log" }'})
    srv.start(wait=False)
    err = os.path.join(srv.dir, "err.log")
    acc = os.path.join(srv.dir, "access.log")
    assert wait_for(lambda: os.path.exists(err) and "ready: serving" in open(err).read(), 20), srv.log()
    assert srv.get("/hello?before=1").status == 200
    assert wait_for(lambda: "before=1" in open(acc).read()), "access line not written"
    # logrotate: rename, then tell the process (nginx's postrotate: -s reopen).
    os.rename(err, err + ".1")
    os.rename(acc, acc + ".1")
    code, out = cli("-s", "reopen", "-c", srv.config_path)
    assert code == 0, out
    assert wait_for(lambda: os.path.exists(err) and "log files reopened" in open(err).read()), \
        "no new error log after SIGUSR1"
    assert srv.get("/hello?after=1").status == 200
    assert wait_for(lambda: os.path.exists(acc) and "after=1" in open(acc).read()), "no new access log"
    assert "after=1" not in open(acc + ".1").read(), "a line went to the rotated file"
    assert "before=1" in open(acc + ".1").read()
    assert srv.proc.poll() is None, "SIGUSR1 ended the process"
    srv.signal(signal.SIGTERM)
    assert wait_exit(srv) == 0
    assert "exit" in open(err).read()


def test_unused_signals_are_not_fatal():
    srv = Server(routes=ROUTES).start()
    for sig in (signal.SIGUSR2, signal.SIGALRM, signal.SIGWINCH, signal.SIGVTALRM, signal.SIGPROF,
                signal.SIGIO, signal.SIGPWR, signal.SIGXFSZ, signal.SIGRTMIN + 3, signal.SIGRTMAX):
        srv.signal(sig)
        time.sleep(0.05)
        assert srv.proc.poll() is None, "signal %d ended the process:\n%s" % (sig, srv.log())
        assert srv.get("/hello").status == 200
    # SIGUSR1 without log files (stderr) is fine too.
    srv.signal(signal.SIGUSR1)
    wait_log(srv, "log files reopened")
    assert srv.stop() == 0, srv.log()


if __name__ == "__main__":
    main([test_help_and_version, test_pid_file_written_relative_to_config_and_removed,
          test_stale_pid_file_replaced_running_one_refused, test_s_signals_the_running_instance,
          test_s_without_pid_setting_or_with_stale_file, test_sigquit_is_a_graceful_stop,
          test_reopen_after_logrotate_renamed_the_files, test_unused_signals_are_not_fatal])
