-- wrk script of the token benchmark: one request read from the environment, sent as fast as
-- the connections allow or at a steady rate, and a JSON summary on stdout when done.
--
--   BENCH_METHOD         GET or POST
--   BENCH_PATH           the request target
--   BENCH_BODY           an application/x-www-form-urlencoded body (POST)
--   BENCH_AUTHORIZATION  the Authorization header, if any
--   BENCH_RATE           requests per second over all connections; unset: no pacing
--
-- Pacing hands out send times 1/rate apart to whichever connection asks next (wrk calls
-- delay() once per request), so the load is a schedule rather than a closed loop per
-- connection; a connection that falls behind sends at once until it is back on schedule.
local ffi = require("ffi")
ffi.cdef([[
typedef struct { long tv_sec; long tv_nsec; } bench_timespec;
int clock_gettime(int clock, bench_timespec *tp);
]])
local CLOCK_MONOTONIC = 1
local clock = ffi.new("bench_timespec")

local function now_ms()
  ffi.C.clock_gettime(CLOCK_MONOTONIC, clock)
  return tonumber(clock.tv_sec) * 1000 + tonumber(clock.tv_nsec) / 1e6
end

wrk.method = os.getenv("BENCH_METHOD") or "GET"
wrk.path = os.getenv("BENCH_PATH") or "/"
local body = os.getenv("BENCH_BODY")
if body and body ~= "" then
  wrk.body = body
  wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
end
local authorization = os.getenv("BENCH_AUTHORIZATION")
if authorization and authorization ~= "" then
  wrk.headers["Authorization"] = authorization
end

local rate = tonumber(os.getenv("BENCH_RATE") or "")
if rate and rate > 0 then
  local interval = 1000 / rate
  local next_at = nil

  function delay()
    local now = now_ms()
    next_at = (next_at or now) + interval
    local wait = next_at - now
    if wait < 0 then
      return 0
    end
    return wait
  end
end

function done(summary, latency, requests)
  local errors = summary.errors
  io.write(string.format(
    '{"requests": %d, "duration_us": %d, "bytes": %d, '
      .. '"errors": {"connect": %d, "read": %d, "write": %d, "status": %d, "timeout": %d}, '
      .. '"latency_us": {"p50": %d, "p90": %d, "p99": %d, "max": %d, "mean": %.1f}}\n',
    summary.requests, summary.duration, summary.bytes,
    errors.connect, errors.read, errors.write, errors.status, errors.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max,
    latency.mean
  ))
end
