-- One `task bench` scenario for wrk (bench/wrk.py sets the BENCH_*
-- variables). wrk runs a Lua state per thread: each counts its response
-- statuses, and `done` (in the main state) merges them and prints one
-- JSON line after BENCH_MARKER.
wrk.method = os.getenv("BENCH_METHOD")
wrk.body = os.getenv("BENCH_BODY")
for name, value in (os.getenv("BENCH_HEADERS") or ""):gmatch(
  "([^:\n]+): ([^\n]*)\n"
) do
  wrk.headers[name] = value
end
local marker = os.getenv("BENCH_MARKER")
local id_path = os.getenv("BENCH_ID_PATH")
local id_min = tonumber(os.getenv("BENCH_ID_MIN"))
local id_max = tonumber(os.getenv("BENCH_ID_MAX"))
local threads = {}

function setup(thread)
  table.insert(threads, thread)
  thread:set("seed", #threads)
end

function init(args)
  statuses = {}
  math.randomseed(seed)
end

-- Defined only when needed: without `request`, wrk builds the request
-- once and sends it again and again.
if id_path then
  function request()
    return wrk.format(nil, id_path .. math.random(id_min, id_max))
  end
end

function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end

function done(summary, latency, requests)
  local merged = {}
  for _, thread in ipairs(threads) do
    for status, count in pairs(thread:get("statuses")) do
      merged[status] = (merged[status] or 0) + count
    end
  end
  local parts = {}
  for status, count in pairs(merged) do
    table.insert(parts, string.format('"%d": %d', status, count))
  end
  local e = summary.errors
  io.write(string.format(
    marker .. '{"duration_us": %d, "requests": %d, '
    .. '"p50_us": %.1f, "p99_us": %.1f, "connect": %d, "read": %d, '
    .. '"write": %d, "timeout": %d, "statuses": {%s}}\n',
    summary.duration, summary.requests,
    latency:percentile(50), latency:percentile(99),
    e.connect, e.read, e.write, e.timeout, table.concat(parts, ", ")))
end
