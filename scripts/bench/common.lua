-- Shared by the wrk scripts of `make bench`: per-thread status counting and one result line.
-- Every script sets `phase_name` and may define `build_request()`; this file supplies setup/init,
-- response() (counts non-2xx answers per thread) and done() (prints one RESULT line that
-- scripts/bench.sh parses: throughput, p50/p99 in ms, non-2xx count, socket errors).
local threads = {}
local next_id = 0

function setup(thread)
  thread:set("tid", next_id)
  next_id = next_id + 1
  table.insert(threads, thread)
end

non2xx = 0
exhausted = 0
misses = 0

-- A lookup answered 200 must have found its one user (a 200 with an empty list is a miss).
function count_lookup(status, body)
  count_status(status)
  if status == 200 and not body:match('"totalResults"%s*:%s*1[^%d]') then
    misses = misses + 1
  end
end

function count_status(status)
  if status < 200 or status > 299 then
    non2xx = non2xx + 1
  end
end

-- Reads a file of lines (nil when missing).
function read_lines(path)
  local f = io.open(path, "r")
  if not f then return nil end
  local out = {}
  for line in f:lines() do
    if line ~= "" then table.insert(out, line) end
  end
  f:close()
  return out
end

function split_words(line)
  local out = {}
  for w in line:gmatch("%S+") do table.insert(out, w) end
  return out
end

function urlencode(s)
  return (s:gsub("[^%w%-%._~]", function(c) return string.format("%%%02X", string.byte(c)) end))
end

function done(summary, latency, requests)
  local bad, ex, miss = 0, 0, 0
  for _, t in ipairs(threads) do
    bad = bad + (t:get("non2xx") or 0)
    ex = ex + (t:get("exhausted") or 0)
    miss = miss + (t:get("misses") or 0)
  end
  local e = summary.errors
  local sock = e.connect + e.read + e.write + e.timeout
  local secs = summary.duration / 1e6
  io.write(string.format(
    "RESULT phase=%s requests=%d rps=%.1f p50_ms=%.3f p99_ms=%.3f mean_ms=%.3f non2xx=%d socket_errors=%d exhausted=%d misses=%d\n",
    phase_name, summary.requests, summary.requests / secs,
    latency:percentile(50) / 1000, latency:percentile(99) / 1000, latency.mean / 1000,
    bad, sock, ex, miss))
end
