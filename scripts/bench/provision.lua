-- Provisioning a large organisation through SCIM creates (ours only, issue 11): exactly
-- BENCH_PROVISION_USERS creates of new users, spread over the connections; the thread stops once
-- every create has been answered (or 10 s after the last answer, when a create was lost to a
-- socket error), at its next request. Run with one wrk thread (-t1): the counts are per thread.
--   BENCH_BASE    "/scim/v2/<org>"
--   BENCH_TOKEN   bearer token
--   BENCH_PROVISION_USERS  how many users to create (100000)
--   BENCH_USERS   file written here: one "id userName" line per user created (for the lookups
--                 that follow)
--   BENCH_DONE_FILE  written when the thread stops: wrk runs for its whole -d otherwise, so the
--                 caller sends it SIGINT then (it prints its summary and exits)
-- Prints the RESULT line of common.lua plus one PROVISION line: creates requested, answered
-- 201, and the wall-clock seconds from the first request to the last create's answer.
package.path = os.getenv("BENCH_LUA_DIR") .. "/?.lua;" .. package.path
require("common")

local ffi = require("ffi")
ffi.cdef [[
  typedef struct { long tv_sec; long tv_usec; } bench_timeval;
  int gettimeofday(bench_timeval *tv, void *tz);
]]
local tv = ffi.new("bench_timeval")
local function now_s()
  ffi.C.gettimeofday(tv, nil)
  return tonumber(tv.tv_sec) + tonumber(tv.tv_usec) / 1e6
end

phase_name = "provision"
local base = os.getenv("BENCH_BASE") or ""
local token = os.getenv("BENCH_TOKEN")
local total = tonumber(os.getenv("BENCH_PROVISION_USERS") or "100000")
local issued = 0
local answered = 0
created = 0
t_first = 0
t_last = 0
local out = nil

local headers = {
  ["Authorization"] = "Bearer " .. token,
  ["Content-Type"] = "application/scim+json",
  ["Accept"] = "application/scim+json",
}
-- Sent once every create is out, while the last ones are answered (never counted as creates).
local idle = nil

local base_setup = setup
local all_threads = {}
function setup(thread)
  base_setup(thread)
  table.insert(all_threads, thread)
end

function init(args)
  out = io.open(os.getenv("BENCH_USERS"), "w")
  idle = wrk.format("GET", base .. "/ServiceProviderConfig", headers)
end

-- wrk asks a dynamic script for one request it never sends (measured: the first userName never
-- reached the server); that first request is an idle one, so every create is sent.
local first_call = true
local finished = false

function request()
  if first_call then
    first_call = false
    return idle
  end
  if issued >= total then
    -- (wrk stops a thread from request(), not from response().)
    if not finished and (answered >= total or (t_last > 0 and now_s() - t_last > 10)) then
      finished = true
      wrk.thread:stop()
      -- wrk itself runs for its whole -d; the caller interrupts it when this file appears.
      local f = io.open(os.getenv("BENCH_DONE_FILE"), "w")
      if f then f:write("done\n"); f:close() end
    end
    return idle
  end
  if issued == 0 then
    t_first = now_s()
  end
  issued = issued + 1
  local name = string.format("p%d@provision.example", issued)
  local body = string.format(
    '{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"%s",' ..
    '"externalId":"ext-%d","name":{"givenName":"Given%d","familyName":"Family%d"},' ..
    '"displayName":"Given%d Family%d",' ..
    '"emails":[{"value":"%s","type":"work","primary":true}],"active":true}',
    name, issued, issued, issued, issued, issued, name)
  return wrk.format("POST", base .. "/Users", headers, body)
end

function response(status, hdrs, body)
  -- The idle requests' answers (200, the ServiceProviderConfig) are not creates.
  if status == 200 and body:match('"userName"') == nil then
    return
  end
  count_status(status)
  answered = answered + 1
  t_last = now_s()
  if status == 201 then
    created = created + 1
    local id = body:match('"location"%s*:%s*"[^"]*/Users/([^"/]+)"')
    local name = body:match('"userName"%s*:%s*"([^"]+)"')
    if id and name then out:write(id, " ", name, "\n") end
  end
  if answered >= total then
    out:flush()
  end
end

local base_done = done
function done(summary, latency, requests)
  base_done(summary, latency, requests)
  local n, first, last = 0, nil, 0
  for _, t in ipairs(all_threads) do
    n = n + (t:get("created") or 0)
    local f, l = t:get("t_first") or 0, t:get("t_last") or 0
    if f > 0 and (first == nil or f < first) then first = f end
    if l > last then last = l end
  end
  io.write(string.format("PROVISION requested=%d created=%d seconds=%.2f\n",
    total, n, first and (last - first) or 0))
end
