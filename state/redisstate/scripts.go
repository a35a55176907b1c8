package redisstate

import "github.com/redis/go-redis/v9"

// Each state transition is one Lua script, so it is atomic. All of them
// take the job's nine keys, in the order of keys.all:
//
//	KEYS[1] meta, KEYS[2] done, KEYS[3] waiting, KEYS[4] tiles,
//	KEYS[5] failures, KEYS[6] workers, KEYS[7] next, KEYS[8] beats,
//	KEYS[9] usage
//
// The job's record and the index of jobs are not among them: they are
// read and written with plain commands (redisstate.go), and Delete
// leaves the record.
//
// A script on a job that does not exist answers the error NPW_NOJOB. Every
// script that changes a job renews the expiry of all its keys (the ttl
// field of meta, in seconds; 0 keeps them). No script reads the clock.

// touch renews the expiry of the job's keys.
const touch = `
local function touch()
  local ttl = tonumber(redis.call('HGET', KEYS[1], 'ttl') or '0')
  if ttl > 0 then
    for _, k in ipairs(KEYS) do redis.call('EXPIRE', k, ttl) end
  end
end
`

// createScript starts a job.
//
//	ARGV[1] tasks, ARGV[2] ttl in seconds
//	result: "OK", or the error NPW_EXISTS
var createScript = redis.NewScript(touch + `
if redis.call('EXISTS', KEYS[1]) == 1 then return redis.error_reply('NPW_EXISTS') end
for i = 2, #KEYS do redis.call('DEL', KEYS[i]) end
local phase = 'running'
if tonumber(ARGV[1]) == 0 then phase = 'done' end
redis.call('HSET', KEYS[1], 'tasks', ARGV[1], 'ndone', 0, 'phase', phase, 'error', '',
  'ttl', ARGV[2], 'scratch', 0, 'peak', 0, 'flops', 0, 'bytes_read', 0, 'bytes_written', 0,
  'read_seconds', 0, 'compute_seconds', 0, 'write_seconds', 0, 'cache_hits', 0, 'workers', 0)
touch()
return 'OK'
`)

// completeScript records a finished task: marks it done (the first time:
// counts it, adds its metrics, registers the scratch tiles it wrote and
// the child its worker continued with), releases the scratch tiles it
// read, and adds it to the done parents of each child that is not done.
//
//	ARGV[1] task
//	ARGV[2..8] flops, bytes read, bytes written, read, compute and write
//	seconds, reads served by the worker's cache
//	ARGV[9] the continued child, or ""
//	ARGV[10] W, then W triples: tile key, readers, bytes (tiles written)
//	then R, then R tile keys (tiles read)
//	then C, then C pairs: child, indegree
//	result: {first (0/1), phase, {ready children}, {tiles to delete},
//	the continued child recorded for the task or ""}
var completeScript = redis.NewScript(touch + `
if redis.call('EXISTS', KEYS[1]) == 0 then return redis.error_reply('NPW_NOJOB') end
local task = ARGV[1]
local at = 10
local function nextArg() local v = ARGV[at]; at = at + 1; return v end

local function parse(v)
  local readers, bytes, freed, rest = string.match(v, '^(%d+) (%d+) (%d)\n(.*)$')
  return {readers = tonumber(readers), bytes = tonumber(bytes), freed = freed == '1', rest = rest}
end
local function encode(t)
  return t.readers .. ' ' .. t.bytes .. ' ' .. (t.freed and '1' or '0') .. '\n' .. t.rest
end
local function count(s) local _, n = string.gsub(s, '\n', ''); return n end
local function has(s, item) return string.find('\n' .. s, '\n' .. item .. '\n', 1, true) ~= nil end
-- free marks a tile freed once all its readers released it, and reports
-- whether it is freed.
local function free(t)
  if not t.freed and count(t.rest) >= t.readers then
    t.freed = true
    t.rest = ''
    -- (0 - bytes, not -bytes: Lua's -0 reaches Redis as "-0", not an integer)
    if t.bytes > 0 then redis.call('HINCRBY', KEYS[1], 'scratch', 0 - t.bytes) end
    return true, true
  end
  return t.freed, false
end

local first = redis.call('SADD', KEYS[2], task) == 1
local written = {}
for _ = 1, tonumber(nextArg()) do
  table.insert(written, {key = nextArg(), readers = nextArg(), bytes = nextArg()})
end
if first then
  redis.call('HINCRBY', KEYS[1], 'ndone', 1)
  redis.call('HINCRBYFLOAT', KEYS[1], 'flops', ARGV[2])
  redis.call('HINCRBY', KEYS[1], 'bytes_read', ARGV[3])
  redis.call('HINCRBY', KEYS[1], 'bytes_written', ARGV[4])
  redis.call('HINCRBYFLOAT', KEYS[1], 'read_seconds', ARGV[5])
  redis.call('HINCRBYFLOAT', KEYS[1], 'compute_seconds', ARGV[6])
  redis.call('HINCRBYFLOAT', KEYS[1], 'write_seconds', ARGV[7])
  redis.call('HINCRBY', KEYS[1], 'cache_hits', ARGV[8])
  redis.call('HDEL', KEYS[3], task)
  if ARGV[9] ~= '' then redis.call('HSET', KEYS[7], task, ARGV[9]) end
  for _, w in ipairs(written) do
    if redis.call('HSETNX', KEYS[4], w.key, w.readers .. ' ' .. w.bytes .. ' 0\n') == 1 then
      local scratch = redis.call('HINCRBY', KEYS[1], 'scratch', w.bytes)
      if scratch > tonumber(redis.call('HGET', KEYS[1], 'peak')) then
        redis.call('HSET', KEYS[1], 'peak', scratch)
      end
    end
  end
end
local freeList = {}
for _, w in ipairs(written) do
  local v = redis.call('HGET', KEYS[4], w.key)
  if v then
    local t = parse(v)
    local isFree, changed = free(t)
    if changed then redis.call('HSET', KEYS[4], w.key, encode(t)) end
    if isFree then table.insert(freeList, w.key) end
  end
end
for _ = 1, tonumber(nextArg()) do
  local key = nextArg()
  local v = redis.call('HGET', KEYS[4], key)
  if v then -- a scratch tile of this job
    local t = parse(v)
    local changed = false
    if not t.freed and not has(t.rest, task) then
      t.rest = t.rest .. task .. '\n'
      changed = true
    end
    local isFree, freedNow = free(t)
    if changed or freedNow then redis.call('HSET', KEYS[4], key, encode(t)) end
    if isFree then table.insert(freeList, key) end
  end
end
local ready = {}
for _ = 1, tonumber(nextArg()) do
  local child, indegree = nextArg(), tonumber(nextArg())
  if redis.call('SISMEMBER', KEYS[2], child) == 0 then
    local parents = redis.call('HGET', KEYS[3], child) or ''
    if not has(parents, task) then
      parents = parents .. task .. '\n'
      redis.call('HSET', KEYS[3], child, parents)
    end
    if count(parents) >= indegree then table.insert(ready, child) end
  end
end
local meta = redis.call('HMGET', KEYS[1], 'ndone', 'tasks', 'phase')
local phase = meta[3]
if tonumber(meta[1]) >= tonumber(meta[2]) and phase == 'running' then
  phase = 'done'
  redis.call('HSET', KEYS[1], 'phase', phase)
end
touch()
return {first and 1 or 0, phase, ready, freeList, redis.call('HGET', KEYS[7], task) or ''}
`)

// readyAfterScript answers which children of a task that is not done
// have all their other parents done.
//
//	ARGV[1] the parent
//	then C, then C pairs: child, indegree
//	result: {children}
var readyAfterScript = redis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 0 then return redis.error_reply('NPW_NOJOB') end
local parent = ARGV[1]
local function count(s) local _, n = string.gsub(s, '\n', ''); return n end
local function has(s, item) return string.find('\n' .. s, '\n' .. item .. '\n', 1, true) ~= nil end
local ready = {}
local at = 3
for _ = 1, tonumber(ARGV[2]) do
  local child, indegree = ARGV[at], tonumber(ARGV[at + 1])
  at = at + 2
  if redis.call('SISMEMBER', KEYS[2], child) == 0 then
    local parents = redis.call('HGET', KEYS[3], child) or ''
    local others = count(parents)
    if has(parents, parent) then others = others - 1 end
    if others + 1 >= indegree then table.insert(ready, child) end
  end
end
return ready
`)

// isDoneScript answers whether a task is done.
//
//	ARGV[1] task
//	result: 0 or 1
var isDoneScript = redis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 0 then return redis.error_reply('NPW_NOJOB') end
return redis.call('SISMEMBER', KEYS[2], ARGV[1])
`)

// failureScript counts a failed attempt of a task.
//
//	ARGV[1] task
//	result: the attempts failed so far
var failureScript = redis.NewScript(touch + `
if redis.call('EXISTS', KEYS[1]) == 0 then return redis.error_reply('NPW_NOJOB') end
local n = redis.call('HINCRBY', KEYS[5], ARGV[1], 1)
touch()
return n
`)

// failScript fails a running job; the first message wins.
//
//	ARGV[1] message
//	result: "OK"
var failScript = redis.NewScript(touch + `
if redis.call('EXISTS', KEYS[1]) == 0 then return redis.error_reply('NPW_NOJOB') end
if redis.call('HGET', KEYS[1], 'phase') == 'running' then
  redis.call('HSET', KEYS[1], 'phase', 'failed', 'error', ARGV[1])
end
touch()
return 'OK'
`)

// reportScript keeps a worker's report.
//
//	ARGV[1] the report
//	result: the reports kept so far
var reportScript = redis.NewScript(touch + `
if redis.call('EXISTS', KEYS[1]) == 0 then return redis.error_reply('NPW_NOJOB') end
redis.call('RPUSH', KEYS[6], ARGV[1])
local n = redis.call('HINCRBY', KEYS[1], 'workers', 1)
touch()
return n
`)

// reportsScript returns the workers' reports.
//
//	result: the list of reports
var reportsScript = redis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 0 then return redis.error_reply('NPW_NOJOB') end
return redis.call('LRANGE', KEYS[6], 0, -1)
`)

// heartbeatScript notes that a worker of the job is alive.
//
//	ARGV[1] worker, ARGV[2] the time, in unix milliseconds
//	result: "OK"
var heartbeatScript = redis.NewScript(touch + `
if redis.call('EXISTS', KEYS[1]) == 0 then return redis.error_reply('NPW_NOJOB') end
redis.call('ZADD', KEYS[8], ARGV[2], ARGV[1])
touch()
return 'OK'
`)

// retireScript forgets a worker of the job; a job that does not exist
// has none to forget, which is not an error.
//
//	ARGV[1] worker
//	result: 1 if the worker was known, else 0
var retireScript = redis.NewScript(touch + `
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
local n = redis.call('ZREM', KEYS[8], ARGV[1])
touch()
return n
`)

// workersScript returns the workers heard from since a time.
//
//	ARGV[1] the time, in unix milliseconds
//	result: the workers whose last heartbeat is at or after it
var workersScript = redis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 0 then return redis.error_reply('NPW_NOJOB') end
return redis.call('ZRANGEBYSCORE', KEYS[8], ARGV[1], '+inf')
`)

// putUsageScript keeps what a member of the job has used so far.
//
//	ARGV[1] member, ARGV[2] its usage
//	result: "OK"
var putUsageScript = redis.NewScript(touch + `
if redis.call('EXISTS', KEYS[1]) == 0 then return redis.error_reply('NPW_NOJOB') end
redis.call('HSET', KEYS[9], ARGV[1], ARGV[2])
touch()
return 'OK'
`)

// usageScript returns what the members of the job have used.
//
//	result: member, usage, member, usage, ...
var usageScript = redis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 0 then return redis.error_reply('NPW_NOJOB') end
return redis.call('HGETALL', KEYS[9])
`)

// deleteScript forgets a job.
//
//	result: the number of keys deleted
var deleteScript = redis.NewScript(`
return redis.call('DEL', unpack(KEYS))
`)
