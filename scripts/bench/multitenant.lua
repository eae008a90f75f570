-- Multi-tenant lookups (ours only): each request picks a random organisation of BENCH_ORGS (lines
-- "ORG_ID TOKEN", from `server bench-seed`, organisation i on line i+1) and a random user j of
-- BENCH_USERS_PER_ORG, and looks up userName u{j}@o{i}.bench.example with that org's token.
package.path = os.getenv("BENCH_LUA_DIR") .. "/?.lua;" .. package.path
require("common")

phase_name = os.getenv("BENCH_PHASE") or "multi-tenant lookup"
local orgs = {}
local per_org = tonumber(os.getenv("BENCH_USERS_PER_ORG"))

function init(args)
  math.randomseed(tid * 7919 + os.time())
  for _, line in ipairs(read_lines(os.getenv("BENCH_ORGS"))) do
    local w = split_words(line)
    table.insert(orgs, { id = w[1], auth = "Bearer " .. w[2] })
  end
end

function request()
  local i = math.random(#orgs)
  local j = math.random(per_org) - 1
  local o = orgs[i]
  local f = urlencode(string.format('userName eq "u%d@o%d.bench.example"', j, i - 1))
  return wrk.format("GET", "/scim/v2/" .. o.id .. "/Users?filter=" .. f,
    { ["Authorization"] = o.auth, ["Accept"] = "application/scim+json" })
end

function response(status, hdrs, body)
  count_lookup(status, body)
end
