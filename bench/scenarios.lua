-- wrk script for bench.py:  wrk [options] -s scenarios.lua BASE_URL -- SCENARIO DATA_FILE
--
-- DATA_FILE is a Lua table written by bench.py: `readers` own exactly --tasks tasks each
-- (list, get, update, toggle act on them), `writers` receive every create so the readers'
-- lists never grow. Every request takes the next user or (user, task) pair, users varying
-- fastest, so the connections cycle over all users and writes spread over all tasks instead of
-- queueing on one row's lock. done() prints one `BENCH_JSON {...}` line that bench.py parses.

local threads = {}

function setup(thread)
  thread:set("thread_no", #threads)
  table.insert(threads, thread)
end

local data, scenario, op
local counters = {}

-- The next value of a per-kind counter; separate counters keep mixed's choice of operation
-- from correlating with the choice of user.
local function next_n(kind)
  local n = counters[kind] or (thread_no or 0) * 7919
  counters[kind] = n + 1
  return n
end

local function headers(user, json)
  local h = { Authorization = user.auth }
  if json then
    h["Content-Type"] = "application/json"
  end
  return h
end

local function tasks_path(user)
  return data.prefix .. "/api/" .. user.id .. "/tasks"
end

-- The n-th (user, task) pair: users vary fastest, then tasks, covering every pair.
local function pair(kind)
  local n = next_n(kind)
  local users = data.readers
  local user = users[n % #users + 1]
  local task = user.tasks[math.floor(n / #users) % #user.tasks + 1]
  return user, tasks_path(user) .. "/" .. task, n
end

local ops = {}

function ops.list()
  local user = data.readers[next_n("list") % #data.readers + 1]
  return wrk.format("GET", tasks_path(user), headers(user))
end

function ops.get()
  local user, path = pair("get")
  return wrk.format("GET", path, headers(user))
end

function ops.create()
  local n = next_n("create")
  local user = data.writers[n % #data.writers + 1]
  local body = '{"title":"Created by wrk ' .. n .. '","description":null}'
  return wrk.format("POST", tasks_path(user), headers(user, true), body)
end

function ops.update()
  local user, path, n = pair("update")
  local body = '{"title":"Updated task ' .. n .. '","description":"Edited by the benchmark."}'
  return wrk.format("PUT", path, headers(user, true), body)
end

function ops.toggle()
  -- Empty body with a JSON content type, as frontends send it: the contract says it toggles.
  local user, path = pair("toggle")
  return wrk.format("PATCH", path .. "/complete", headers(user, true), "")
end

function ops.healthz()
  return wrk.format("GET", data.prefix .. "/healthz")
end

-- 20 requests: 8 list + 8 get (80 % reads), 2 update + 1 toggle + 1 create (20 % writes).
local MIX = {
  "list", "get", "list", "get", "update", "list", "get", "toggle", "list", "get",
  "list", "get", "update", "list", "get", "create", "list", "get", "list", "get",
}

function ops.mixed()
  return ops[MIX[next_n("mixed") % #MIX + 1]]()
end

function init(args)
  scenario = args[1]
  data = dofile(args[2])
  if not ops[scenario] then
    error("unknown scenario: " .. tostring(scenario))
  end
  op = ops[scenario]
  non2xx = 0
  codes = {}
end

-- Defined at top level because wrk decides from the main Lua state (where init() never runs)
-- whether requests are dynamic, and calls request() there once to check its output.
function request()
  if not op then
    return wrk.format()
  end
  return op()
end

function response(status, headers, body)
  if status < 200 or status > 299 then
    non2xx = non2xx + 1
    codes[status] = (codes[status] or 0) + 1
  end
end

function done(summary, latency, requests)
  local non2xx_total, codes_total = 0, {}
  for _, thread in ipairs(threads) do
    non2xx_total = non2xx_total + thread:get("non2xx")
    for status, count in pairs(thread:get("codes")) do
      codes_total[status] = (codes_total[status] or 0) + count
    end
  end
  local parts = {}
  for status, count in pairs(codes_total) do
    parts[#parts + 1] = string.format('"%d":%d', status, count)
  end
  local e = summary.errors
  local int = math.floor
  io.write(string.format(
    'BENCH_JSON {"requests":%d,"duration_us":%d,"bytes":%d,"p50_us":%d,"p90_us":%d,'
      .. '"p99_us":%d,"max_us":%d,"non2xx":%d,"codes":{%s},"connect_errors":%d,'
      .. '"read_errors":%d,"write_errors":%d,"timeouts":%d}\n',
    summary.requests, summary.duration, summary.bytes, int(latency:percentile(50)),
    int(latency:percentile(90)), int(latency:percentile(99)), int(latency.max),
    non2xx_total, table.concat(parts, ","), e.connect, e.read, e.write, e.timeout
  ))
end
