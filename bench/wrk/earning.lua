-- wrk script for `crda bench earning`: POSTs pre-signed records with pre-issued access tokens.
-- Usage: wrk -t T -c C -d D -s bench/wrk/earning.lua URL -- RECORDS_FILE T
-- RECORDS_FILE: one request a line, "path<TAB>token<TAB>json body". Thread i of T sends lines
-- i, i+T, i+2T... once each (a record is accepted once; if a thread runs out it wraps, and the
-- repeats are answered 409 duplicate-evidence, counted as "other"). done() prints one JSON line.
local threads = {}

function setup(thread)
  thread:set("tid", #threads)
  table.insert(threads, thread)
end

function init(args)
  local nthreads = tonumber(args[2])
  requests_ = {}
  local i = 0
  for line in io.lines(args[1]) do
    if i % nthreads == tid then
      local path, token, body = line:match("^([^\t]*)\t([^\t]*)\t(.*)$")
      requests_[#requests_ + 1] = wrk.format("POST", path, {
        ["Authorization"] = "Bearer " .. token,
        ["Content-Type"] = "application/json",
      }, body)
    end
    i = i + 1
  end
  sent = 0
  created = 0
  other = 0
end

function request()
  sent = sent + 1
  return requests_[((sent - 1) % #requests_) + 1]
end

function response(status, headers, body)
  if status == 201 then
    created = created + 1
  else
    other = other + 1
  end
end

function done(summary, latency, requests)
  local c, o = 0, 0
  for _, t in ipairs(threads) do
    c = c + t:get("created")
    o = o + t:get("other")
  end
  io.write(string.format(
    '{"requests": %d, "duration_us": %d, "created": %d, "other": %d, "socket_errors": %d, ' ..
    '"p50_ms": %.2f, "p99_ms": %.2f, "max_ms": %.2f}\n',
    summary.requests, summary.duration, c, o,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    latency:percentile(50) / 1000, latency:percentile(99) / 1000, latency.max / 1000))
end
