-- bench/scenarios/report.lua — wrk's done() for bench/run: one line
--   BENCH {"requests":N,"duration_us":N,...,"p50_us":N,"p99_us":N,"p999_us":N}
-- after wrk's own report, with the percentiles wrk --latency does not print
-- (p99.9) and every error counter. Used as is for one-URL scenarios
-- (wrk -s report.lua URL), and loaded by the other scripts with dofile.
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH {"requests":%d,"duration_us":%d,"bytes":%d,' ..
    '"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d,' ..
    '"mean_us":%.1f,"max_us":%d,"p50_us":%d,"p90_us":%d,"p99_us":%d,"p999_us":%d}\n',
    summary.requests, summary.duration, summary.bytes,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency.mean, latency.max, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency:percentile(99.9)))
end
