"""The agent queue's Lua scripts: every change of a caller or agent is one atomic script in Redis.

Rule: whatever decides who is offered to whom lives in these scripts. Each runs atomically in
Redis, so two nodes offering at the same moment cannot both take one caller or one agent: the
second script sees the first one's result. Time comes in as an argument (`now`, epoch seconds).

Keys (q = queue name, a = agent, id = the caller's SIP Call-ID):
  ivr:acd:queues            SET  every queue that has had a caller or agent
  ivr:acd:q:<q>             ZSET waiting callers, score = when they entered (a caller whose
                                 agent leg failed goes back with the same score: at the head)
  ivr:acd:q:<q>:agents      SET  agents logged in to the queue (their skills)
  ivr:acd:q:<q>:rr          the agent offered last (round-robin)
  ivr:acd:q:<q>:handled     LIST the last 20 handle times (talk + wrap-up), newest first
  ivr:acd:call:<id>         HASH queue, node, number, entered, state (waiting|offered|connected),
                                 agents (offered, space-separated), agent, connected
  ivr:acd:agent:<a>         HASH state, reason, since, idle_since, wrap_until, calls, missed,
                                 call, node, queues (space-separated)
  ivr:acd:agents            SET  agents not logged out
  ivr:acd:idle              ZSET agents available or in wrap-up, score = idle since
  ivr:acd:nodes             ZSET IVR nodes, score = last heartbeat
  ivr:reg:aor:<a>           the registrar's bindings: an agent without any is never offered

Agent states: logged_out, available, ringing, on_call, wrap_up (available again once
`wrap_until` passes, with no write needed), paused (with a reason).

Nudges (Redis pub/sub, hints only: every reader also looks periodically) are published here,
where the changes are made, on the channels' names scoped to the client's db
(`ivr.store.nudges.scoped`; the scripts get them as CHANGED_CHANNEL and OFFER_CHANNEL):
  ivr:acd:changed           "<queues>|<agents>" (space-separated) whose consoles show something
                            new: a caller entered or left, an agent's state changed
  ivr:acd:offer             "<queues>" that may have an offer to make now: a caller entered or
                            is back at the head, an agent became available

These scripts touch keys they compute (agents of a queue, bindings), so they need one Redis,
not a Redis Cluster; Sentinel-style failover is fine.
"""

from __future__ import annotations

COMMON = """
local function agent_key(a) return 'ivr:acd:agent:' .. a end
local function call_key(id) return 'ivr:acd:call:' .. id end
local function queue_key(q) return 'ivr:acd:q:' .. q end

local function split(text)
  local out = {}
  if text then for word in string.gmatch(text, '%S+') do out[#out + 1] = word end end
  return out
end

local function eligible(a, now)
  local state, wrap_until = unpack(redis.call('HMGET', agent_key(a), 'state', 'wrap_until'))
  if state ~= 'available' and not (state == 'wrap_up' and tonumber(wrap_until or 0) <= now) then
    return false
  end
  return redis.call('EXISTS', 'ivr:reg:aor:' .. a) == 1
end

-- An agent back to waiting for a call (not missed): idle since its last call, kept.
local function release(a, now)
  local key = agent_key(a)
  local idle = redis.call('HGET', key, 'idle_since') or tostring(now)
  redis.call('HSET', key, 'state', 'available', 'call', '', 'node', '', 'since', now)
  redis.call('ZADD', 'ivr:acd:idle', idle, a)
end

local function agent_queues(a) return split(redis.call('HGET', agent_key(a), 'queues')) end

local function changed(queues, agents)
  redis.call('PUBLISH', CHANGED_CHANNEL,
             table.concat(queues, ' ') .. '|' .. table.concat(agents, ' '))
end

local function offerable(queues)
  if #queues > 0 then redis.call('PUBLISH', OFFER_CHANNEL, table.concat(queues, ' ')) end
end

-- The queues of agents released back to available, for an offer nudge.
local function queues_of(agents)
  local seen, out = {}, {}
  for _, a in ipairs(agents) do
    for _, q in ipairs(agent_queues(a)) do
      if not seen[q] then seen[q] = true out[#out + 1] = q end
    end
  end
  return out
end

local function node_alive(node, now, ttl)
  local beat = redis.call('ZSCORE', 'ivr:acd:nodes', node)
  return beat and tonumber(beat) >= now - ttl
end
"""

# ENTER: KEYS none; ARGV queue, id, node, number, now. -> position (1 = next)
ENTER = """
local q, id, node, number, now = ARGV[1], ARGV[2], ARGV[3], ARGV[4], tonumber(ARGV[5])
local key = call_key(id)
if redis.call('EXISTS', key) == 0 then
  redis.call('HSET', key, 'queue', q, 'node', node, 'number', number, 'entered', now,
             'state', 'waiting')
  redis.call('EXPIRE', key, 86400)
  redis.call('ZADD', queue_key(q), now, id)
  redis.call('SADD', 'ivr:acd:queues', q)
  changed({q}, {})
  offerable({q})
end
local rank = redis.call('ZRANK', queue_key(q), id)
if rank then return rank + 1 end
return 0
"""

# LEAVE (hang-up or back to the menu while waiting or ringing):
# ARGV id, now. -> {state, position (0 if not waiting), entered, agents released (space-separated)}
LEAVE = """
local id = ARGV[1]
local key = call_key(id)
local q, state, entered, agents = unpack(redis.call('HMGET', key, 'queue', 'state', 'entered',
                                                      'agents'))
if not q then return false end
local rank = redis.call('ZRANK', queue_key(q), id)
redis.call('ZREM', queue_key(q), id)
local released = {}
if state == 'offered' then
  for _, a in ipairs(split(agents)) do
    if redis.call('HGET', agent_key(a), 'call') == id then
      release(a, tonumber(ARGV[2]))
      released[#released + 1] = a
    end
  end
end
redis.call('DEL', key)
changed({q}, released)
offerable(queues_of(released))
return {state, rank and (rank + 1) or 0, entered, table.concat(released, ' ')}
"""

# OFFER: ARGV queue, node, strategy, now, node_ttl.
# -> {'offer', id, agents, ghosts} | {'other', head's node, '', ghosts} | {'none', '', '', ghosts}
# Only the head caller is ever offered, and only by its own node (it holds the caller's media);
# heads whose node stopped beating are removed (ghosts) so they cannot block the queue.
OFFER = """
local q, node, strategy = ARGV[1], ARGV[2], ARGV[3]
local now, ttl = tonumber(ARGV[4]), tonumber(ARGV[5])
local qkey = queue_key(q)
local ghosts = {}
local id
while true do
  local head = redis.call('ZRANGE', qkey, 0, 0)
  if #head == 0 then return {'none', '', '', table.concat(ghosts, ' ')} end
  local owner = redis.call('HGET', call_key(head[1]), 'node')
  if owner and node_alive(owner, now, ttl) then
    if owner ~= node then return {'other', owner, '', table.concat(ghosts, ' ')} end
    id = head[1]
    break
  end
  redis.call('ZREM', qkey, head[1])
  redis.call('DEL', call_key(head[1]))
  ghosts[#ghosts + 1] = head[1]
end

local members = 'ivr:acd:q:' .. q .. ':agents'
local chosen = {}
if strategy == 'round_robin' then
  local all = redis.call('SMEMBERS', members)
  table.sort(all)
  local last = redis.call('GET', 'ivr:acd:q:' .. q .. ':rr')
  local start = 1  -- the first agent after the last one offered, in name order (wrapping)
  if last then
    for i, a in ipairs(all) do
      if a > last then start = i break end
    end
  end
  for i = 0, #all - 1 do
    local a = all[((start - 1 + i) % #all) + 1]
    if eligible(a, now) then chosen = {a} break end
  end
else
  local idle = redis.call('ZRANGE', 'ivr:acd:idle', 0, -1)
  local fewest
  for _, a in ipairs(idle) do
    if redis.call('SISMEMBER', members, a) == 1 and eligible(a, now) then
      if strategy == 'ring_all' then
        chosen[#chosen + 1] = a
      elseif strategy == 'fewest_calls' then
        local calls = tonumber(redis.call('HGET', agent_key(a), 'calls') or 0)
        if not fewest or calls < fewest then fewest = calls chosen = {a} end
      else  -- longest_idle: the idle set is ordered by idle time
        chosen = {a}
        break
      end
    end
  end
end
if #chosen == 0 then
  if #ghosts > 0 then changed({q}, {}) end
  return {'none', '', '', table.concat(ghosts, ' ')}
end

redis.call('ZREM', qkey, id)
redis.call('HSET', call_key(id), 'state', 'offered', 'agents', table.concat(chosen, ' '),
           'offered', now)
for _, a in ipairs(chosen) do
  redis.call('HSET', agent_key(a), 'state', 'ringing', 'call', id, 'node', node, 'since', now)
  redis.call('ZREM', 'ivr:acd:idle', a)
end
if strategy == 'round_robin' then redis.call('SET', 'ivr:acd:q:' .. q .. ':rr', chosen[1]) end
changed({q}, chosen)
return {'offer', id, table.concat(chosen, ' '), table.concat(ghosts, ' ')}
"""

# ANSWERED: ARGV id, agent, now. -> {entered, agents to cancel} | false when the offer is gone
ANSWERED = """
local id, agent, now = ARGV[1], ARGV[2], tonumber(ARGV[3])
local key = call_key(id)
local state, agents, entered = unpack(redis.call('HMGET', key, 'state', 'agents', 'entered'))
if state ~= 'offered' or redis.call('HGET', agent_key(agent), 'call') ~= id then return false end
local others = {}
for _, a in ipairs(split(agents)) do
  if a ~= agent and redis.call('HGET', agent_key(a), 'call') == id then
    release(a, now)
    others[#others + 1] = a
  end
end
redis.call('HSET', key, 'state', 'connected', 'agent', agent, 'agents', agent, 'connected', now)
redis.call('HSET', agent_key(agent), 'state', 'on_call', 'since', now, 'missed', 0)
local touched = {agent}
for _, a in ipairs(others) do touched[#touched + 1] = a end
changed({redis.call('HGET', key, 'queue')}, touched)
offerable(queues_of(others))
return {entered, table.concat(others, ' ')}
"""

# NO_ANSWER (ring timeout, busy, refused, unreachable): ARGV id, agent, now, max_no_answer,
# pause reason. The agent is paused after `max_no_answer` misses in a row, else available; once
# no offered agent is left ringing, the caller goes back to the head of the queue.
# -> {agent state, 1 if the caller is waiting again else 0}
NO_ANSWER = """
local id, agent, now = ARGV[1], ARGV[2], tonumber(ARGV[3])
local limit, reason = tonumber(ARGV[4]), ARGV[5]
local akey = agent_key(agent)
local agent_state = redis.call('HGET', akey, 'state') or 'logged_out'
local was_offered = redis.call('HGET', akey, 'call') == id
if was_offered then
  local missed = redis.call('HINCRBY', akey, 'missed', 1)
  if missed >= limit then
    redis.call('HSET', akey, 'state', 'paused', 'reason', reason, 'call', '', 'node', '',
               'since', now)
    agent_state = 'paused'
  else
    release(agent, now)
    agent_state = 'available'
  end
end
local key = call_key(id)
local q, state, agents, entered = unpack(redis.call('HMGET', key, 'queue', 'state', 'agents',
                                                      'entered'))
if was_offered then
  changed(q and {q} or {}, {agent})
  if agent_state == 'available' then offerable(agent_queues(agent)) end
end
if state ~= 'offered' then return {agent_state, 0} end
local left = {}
for _, a in ipairs(split(agents)) do
  if a ~= agent and redis.call('HGET', agent_key(a), 'call') == id then left[#left + 1] = a end
end
redis.call('HSET', key, 'agents', table.concat(left, ' '))
if #left > 0 then return {agent_state, 0} end
redis.call('HSET', key, 'state', 'waiting')
redis.call('ZADD', queue_key(q), entered, id)
changed({q}, {})
offerable({q})
return {agent_state, 1}
"""

# COMPLETE (the bridged call ended): ARGV id, agent, now, wrap_up seconds.
# -> talk seconds, or false when the agent was not on this call
COMPLETE = """
local id, agent, now, wrap = ARGV[1], ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4])
local key = call_key(id)
local q, connected = unpack(redis.call('HMGET', key, 'queue', 'connected'))
redis.call('DEL', key)
local akey = agent_key(agent)
if redis.call('HGET', akey, 'call') ~= id then return false end
local talk = now - tonumber(connected or now)
redis.call('HINCRBY', akey, 'calls', 1)
redis.call('HSET', akey, 'state', wrap > 0 and 'wrap_up' or 'available', 'wrap_until', now + wrap,
           'idle_since', now + wrap, 'call', '', 'node', '', 'since', now)
redis.call('ZADD', 'ivr:acd:idle', now + wrap, agent)
if q then
  local handled = 'ivr:acd:q:' .. q .. ':handled'
  redis.call('LPUSH', handled, talk + wrap)
  redis.call('LTRIM', handled, 0, 19)
end
changed(q and {q} or {}, {agent})
if wrap <= 0 then offerable(agent_queues(agent)) end
return tostring(talk)
"""

# SET_STATE (the agent's buttons): ARGV agent, state, reason, now, queues (space-separated).
# -> {'ok', state} | {'busy', current state} (ringing and on_call change only through calls)
SET_STATE = """
local agent, wanted, reason, now, queues = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4]), ARGV[5]
local akey = agent_key(agent)
local current = redis.call('HGET', akey, 'state') or 'logged_out'
if current == 'ringing' or current == 'on_call' then return {'busy', current} end
local before = split(redis.call('HGET', akey, 'queues'))
for _, q in ipairs(before) do
  redis.call('SREM', 'ivr:acd:q:' .. q .. ':agents', agent)
end
local touched = split(queues)
for _, q in ipairs(before) do touched[#touched + 1] = q end
changed(touched, {agent})
if wanted == 'logged_out' then
  redis.call('HSET', akey, 'state', 'logged_out', 'reason', '', 'since', now, 'queues', '')
  redis.call('ZREM', 'ivr:acd:idle', agent)
  redis.call('SREM', 'ivr:acd:agents', agent)
  return {'ok', 'logged_out'}
end
for _, q in ipairs(split(queues)) do
  redis.call('SADD', 'ivr:acd:q:' .. q .. ':agents', agent)
  redis.call('SADD', 'ivr:acd:queues', q)
end
redis.call('SADD', 'ivr:acd:agents', agent)
if current == 'logged_out' then redis.call('HSET', akey, 'idle_since', now) end
if wanted == 'available' then
  redis.call('HSET', akey, 'state', 'available', 'reason', '', 'since', now, 'queues', queues,
             'missed', 0)
  local idle = redis.call('HGET', akey, 'idle_since') or tostring(now)
  redis.call('ZADD', 'ivr:acd:idle', idle, agent)
  offerable(split(queues))
else
  redis.call('HSET', akey, 'state', 'paused', 'reason', reason, 'since', now, 'queues', queues)
  redis.call('ZREM', 'ivr:acd:idle', agent)
end
return {'ok', wanted}
"""

# SWEEP: ARGV now, node_ttl. Callers and agents held by nodes that stopped beating are let go.
# -> {callers removed (space-separated "queue:id"), agents released (space-separated)}
SWEEP = """
local now, ttl = tonumber(ARGV[1]), tonumber(ARGV[2])
local dead = {}
for _, node in ipairs(redis.call('ZRANGEBYSCORE', 'ivr:acd:nodes', '-inf', now - ttl)) do
  dead[node] = true
end
local callers, agents, touched = {}, {}, {}
for _, q in ipairs(redis.call('SMEMBERS', 'ivr:acd:queues')) do
  for _, id in ipairs(redis.call('ZRANGE', queue_key(q), 0, -1)) do
    local owner = redis.call('HGET', call_key(id), 'node')
    if not owner or dead[owner] then
      redis.call('ZREM', queue_key(q), id)
      redis.call('DEL', call_key(id))
      callers[#callers + 1] = q .. ':' .. id
      if touched[#touched] ~= q then touched[#touched + 1] = q end
    end
  end
end
for _, a in ipairs(redis.call('SMEMBERS', 'ivr:acd:agents')) do
  local state, node = unpack(redis.call('HMGET', agent_key(a), 'state', 'node'))
  if (state == 'ringing' or state == 'on_call') and (not node or node == '' or dead[node]) then
    release(a, now)
    agents[#agents + 1] = a
  end
end
for node in pairs(dead) do redis.call('ZREM', 'ivr:acd:nodes', node) end
if #callers > 0 or #agents > 0 then
  changed(touched, agents)
  offerable(queues_of(agents))
end
return {table.concat(callers, ' '), table.concat(agents, ' ')}
"""
