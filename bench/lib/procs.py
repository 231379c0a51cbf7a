"""bench/lib/procs.py — the processes bench/run starts, and what /proc says
about them.

Every server is started in a session (and so a process group) of its own,
and its group id is appended to STATE/pgids before anything else happens, so
that bench/run's shell trap can still stop it if this Python process dies
without running its own clean-up. Stopping is by group id: SIGTERM, then
SIGKILL after a grace period; at the end `pgrep -g` checks that none is left.
"""
import os
import signal
import socket
import subprocess
import time

CLK_TCK = os.sysconf("SC_CLK_TCK")
_started = []          # every Proc, in start order
_state_dir = None


def set_state_dir(path):
    global _state_dir
    _state_dir = path


def free_port():
    """A port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, proc=None, timeout=30.0):
    """Waits until 127.0.0.1:port accepts a connection; raises if the process
    died or the time ran out."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if proc is not None and proc.popen.poll() is not None:
            raise RuntimeError("%s exited with %s before listening; log: %s\n%s" % (
                proc.name, proc.popen.returncode, proc.log_path, proc.log_tail()))
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("nothing listens on 127.0.0.1:%d after %.0f s (%s)" % (
        port, timeout, proc.name if proc else "?"))


def _group_pids(pgid):
    """Pids of live processes whose process group is pgid."""
    out = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d) as f:
                st = f.read()
        except OSError:
            continue
        fields = st[st.rfind(")") + 2:].split()
        # fields[0] is state (field 3); pgrp is field 5
        if int(fields[2]) == pgid and fields[0] != "Z":
            out.append(int(d))
    return out


def _cpu_ticks(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            st = f.read()
    except OSError:
        return 0
    fields = st[st.rfind(")") + 2:].split()
    # utime, stime are fields 14 and 15 (1-based), i.e. [11], [12] here
    return int(fields[11]) + int(fields[12])


def _status_kb(pid, key):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


class Proc:
    """One started server (and whatever children it forks into its group)."""

    def __init__(self, name, argv, log_path, cwd=None, env=None):
        self.name = name
        self.argv = argv
        self.log_path = log_path
        self._log = open(log_path, "ab")
        self.popen = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=self._log,
                                      stderr=subprocess.STDOUT, cwd=cwd, env=env,
                                      start_new_session=True)
        self.pgid = self.popen.pid      # a new session: pgid == pid
        _started.append(self)
        if _state_dir:
            with open(os.path.join(_state_dir, "pgids"), "a") as f:
                f.write("%d\n" % self.pgid)

    @property
    def pid(self):
        return self.popen.pid

    def alive(self):
        return self.popen.poll() is None

    def pids(self):
        return _group_pids(self.pgid)

    def cpu_seconds(self):
        """utime + stime of every process in the group (threads included)."""
        return sum(_cpu_ticks(p) for p in self.pids()) / CLK_TCK

    def peak_rss_mb(self):
        """VmHWM summed over the group's processes, MiB."""
        return sum(_status_kb(p, "VmHWM") for p in self.pids()) / 1024.0

    def pss_mb(self):
        """Proportional set size summed over the group, MiB: pages shared
        between the processes (nginx's shared dict, forked memory) divided
        among them rather than counted in each."""
        total = 0
        for p in self.pids():
            try:
                with open("/proc/%d/smaps_rollup" % p) as f:
                    for line in f:
                        if line.startswith("Pss:"):
                            total += int(line.split()[1])
                            break
            except OSError:
                pass
        return total / 1024.0

    def rss_mb(self):
        return sum(_status_kb(p, "VmRSS") for p in self.pids()) / 1024.0

    def log_tail(self, n=20):
        try:
            with open(self.log_path, "rb") as f:
                return b"\n".join(f.read().splitlines()[-n:]).decode("utf-8", "replace")
        except OSError:
            return ""

    def stop(self, grace=10.0):
        """SIGTERM to the group, SIGKILL what is left after `grace` s."""
        if self.popen.poll() is None:
            try:
                os.killpg(self.pgid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        end = time.monotonic() + grace
        while time.monotonic() < end and (self.popen.poll() is None or self.pids()):
            time.sleep(0.05)
        if self.pids():
            try:
                os.killpg(self.pgid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        try:
            self.popen.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass
        self._log.close()


def stop_all():
    for p in reversed(_started):
        try:
            p.stop(grace=5.0)
        except Exception:           # keep stopping the others
            pass


def leftovers():
    """Group ids of started processes that `pgrep -g` still finds."""
    left = []
    for p in _started:
        r = subprocess.run(["pgrep", "-g", str(p.pgid)], capture_output=True, text=True)
        if r.stdout.strip():
            left.append((p.name, p.pgid, r.stdout.split()))
    return left


def started_count():
    return len(_started)
