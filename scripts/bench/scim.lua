-- One SCIM phase against either server (ours or scim2-server), chosen by environment variables:
--   BENCH_PHASE   create | get | lookup | list | put | patch | delete
--   BENCH_BASE    path prefix of the SCIM endpoints ("/scim/v2/<org>" for ours, "" for the reference)
--   BENCH_TOKEN   bearer token
--   BENCH_USERS   file of "id userName" lines (the seeded users: get, lookup, list, put, patch)
--   BENCH_CREATED directory where the create phase writes the ids it got, one file per thread;
--                 the delete phase deletes those (each once), and stops a thread that runs out
--   BENCH_RUN     a tag making the create phase's userNames unique across runs
package.path = os.getenv("BENCH_LUA_DIR") .. "/?.lua;" .. package.path
require("common")

phase_name = os.getenv("BENCH_PHASE")
local base = os.getenv("BENCH_BASE") or ""
local token = os.getenv("BENCH_TOKEN")
local run = os.getenv("BENCH_RUN") or "run"
local created_dir = os.getenv("BENCH_CREATED")
local users = {}
local n_users = 0
local counter = 0
local created_out = nil
local to_delete = {}
local delete_at = 1

local headers = {
  ["Authorization"] = "Bearer " .. token,
  ["Content-Type"] = "application/scim+json",
  ["Accept"] = "application/scim+json",
}

local function user_body(user_name, family)
  return string.format(
    '{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"%s",' ..
    '"name":{"givenName":"Bench","familyName":"%s"},' ..
    '"emails":[{"value":"%s","type":"work","primary":true}],"active":true}',
    user_name, family, user_name)
end

function init(args)
  math.randomseed(tid * 7919 + os.time())
  if phase_name == "create" then
    created_out = io.open(string.format("%s/created-%d.txt", created_dir, tid), "w")
  elseif phase_name == "delete" then
    -- Every thread reads every create file and takes every n-th id (n = thread count).
    local threads = tonumber(os.getenv("BENCH_THREADS") or "1")
    local all = {}
    local i = 0
    while true do
      local lines = read_lines(string.format("%s/created-%d.txt", created_dir, i))
      if not lines then break end
      for _, l in ipairs(lines) do table.insert(all, l) end
      i = i + 1
    end
    for k, id in ipairs(all) do
      if (k - 1) % threads == tid then table.insert(to_delete, id) end
    end
  else
    for _, line in ipairs(read_lines(os.getenv("BENCH_USERS"))) do
      local w = split_words(line)
      table.insert(users, { id = w[1], user_name = w[2] })
    end
    n_users = #users
  end
end

local function pick()
  return users[math.random(n_users)]
end

function request()
  counter = counter + 1
  if phase_name == "create" then
    local name = string.format("c-%s-%d-%d@bench.example", run, tid, counter)
    return wrk.format("POST", base .. "/Users", headers, user_body(name, "Created"))
  elseif phase_name == "get" then
    return wrk.format("GET", base .. "/Users/" .. pick().id, headers)
  elseif phase_name == "lookup" then
    local f = urlencode('userName eq "' .. pick().user_name .. '"')
    return wrk.format("GET", base .. "/Users?filter=" .. f, headers)
  elseif phase_name == "list" then
    local start = math.random(math.max(1, n_users - 99))
    return wrk.format("GET", string.format("%s/Users?startIndex=%d&count=100", base, start), headers)
  elseif phase_name == "put" then
    local u = pick()
    return wrk.format("PUT", base .. "/Users/" .. u.id, headers,
      user_body(u.user_name, "Put " .. counter))
  elseif phase_name == "patch" then
    local u = pick()
    local body = string.format(
      '{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],' ..
      '"Operations":[{"op":"replace","path":"name.familyName","value":"Patch %d"}]}', counter)
    return wrk.format("PATCH", base .. "/Users/" .. u.id, headers, body)
  elseif phase_name == "delete" then
    local id = to_delete[delete_at]
    delete_at = delete_at + 1
    if id == nil then
      -- Out of users to delete: stop this thread (the phase is then marked "exhausted").
      exhausted = 1
      wrk.thread:stop()
      return wrk.format("GET", base .. "/Users?count=0", headers)
    end
    return wrk.format("DELETE", base .. "/Users/" .. id, headers)
  end
  error("unknown BENCH_PHASE " .. tostring(phase_name))
end

function response(status, hdrs, body)
  if phase_name == "lookup" then
    count_lookup(status, body)
  else
    count_status(status)
  end
  if created_out and status == 201 then
    local id = body:match('"location"%s*:%s*"[^"]*/Users/([^"/]+)"')
    if id then created_out:write(id, "\n"); created_out:flush() end
  end
end
