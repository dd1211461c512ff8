-- One wrk script for every scenario: requests come from the file named by BENCH_REQUESTS,
-- one per line: METHOD<TAB>PATH[<TAB>AUTHORIZATION]. Each thread takes every n-th line, so
-- two threads never send the same line (a redemption pair is used once until the list wraps).
-- done() prints one JSON line: requests, duration, latency percentiles and status counts.

local threads = {}
local counter = 0

function setup(thread)
  thread:set("index", counter)
  counter = counter + 1
  table.insert(threads, thread)
end

function init(args)
  lines = {}
  local path = os.getenv("BENCH_REQUESTS")
  for line in io.lines(path) do
    if line ~= "" then
      local method, target, auth = line:match("^(%S+)\t([^\t]+)\t?(.*)$")
      table.insert(lines, {method = method, path = target, auth = auth})
    end
  end
  -- Thread states are separate: the thread count comes from the environment.
  step = tonumber(os.getenv("BENCH_THREADS") or "1")
  if #lines <= index or #lines < step then
    step = 1
    position = 1
  else
    position = index + 1
  end
  statuses = {}
end

function request()
  local entry = lines[position]
  position = position + step
  if position > #lines then
    position = (step == 1) and 1 or (index + 1)
  end
  -- wrk.format ignores the -H headers (the Cookie) when given a table: start from them.
  local headers = {}
  for name, value in pairs(wrk.headers) do
    headers[name] = value
  end
  if entry.auth ~= nil and entry.auth ~= "" then
    headers["Authorization"] = entry.auth
  end
  if entry.method == "POST" then
    headers["Content-Type"] = "application/json"
    return wrk.format("POST", entry.path, headers, "{}")
  end
  return wrk.format(entry.method, entry.path, headers)
end

function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end

function done(summary, latency, requests)
  local counts = {}
  for _, thread in ipairs(threads) do
    local seen = thread:get("statuses")
    for status, count in pairs(seen) do
      counts[status] = (counts[status] or 0) + count
    end
  end
  local parts = {}
  for status, count in pairs(counts) do
    table.insert(parts, string.format('"%d": %d', status, count))
  end
  io.write(string.format(
    'BENCH_RESULT {"requests": %d, "duration_us": %d, "p50_us": %d, "p90_us": %d, ' ..
    '"p99_us": %d, "max_us": %d, "socket_errors": %d, "statuses": {%s}}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency.max,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    table.concat(parts, ", ")))
end
