"""What a Prometheus scrape of the admin listener tells an operator beyond
the gateway's own counters: the process_* families every Prometheus client
exports, with values that match what the kernel says of the process."""

import os
import time

from rslib import Server, main

ROUTES = 'ssr.route("GET", "/hello", { respond = { status = 200, body = "hello\\n" } })'


def test_process_metrics():
    with Server(routes=ROUTES) as srv:
        t0 = time.time()
        for _ in range(20):
            assert srv.get("/hello").status == 200
        m = srv.metrics()
        for name in ("process_cpu_seconds_total", "process_resident_memory_bytes",
                     "process_virtual_memory_bytes", "process_threads", "process_start_time_seconds",
                     "process_open_fds", "process_max_fds"):
            assert name in m, (name, sorted(m))
        # Started within the last minute (the clock tick's resolution aside).
        start = os.stat("/proc/%d" % srv.proc.pid).st_mtime  # /proc/PID appears at start
        assert abs(m["process_start_time_seconds"] - start) < 5, (m["process_start_time_seconds"], start)
        assert t0 - 120 < m["process_start_time_seconds"] <= t0 + 1
        rss_kb = [l for l in open("/proc/%d/status" % srv.proc.pid) if l.startswith("VmRSS:")][0].split()[1]
        assert 0.5 < m["process_resident_memory_bytes"] / (int(rss_kb) * 1024) < 2, (m, rss_kb)
        fds = len(os.listdir("/proc/%d/fd" % srv.proc.pid))
        assert abs(m["process_open_fds"] - fds) <= 3, (m["process_open_fds"], fds)
        assert m["process_open_fds"] < m["process_max_fds"]
        # Loop threads (2), the main thread, and whatever else runs.
        assert m["process_threads"] >= 3
        assert m["process_cpu_seconds_total"] >= 0


if __name__ == "__main__":
    main([test_process_metrics])
