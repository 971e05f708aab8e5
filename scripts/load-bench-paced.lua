-- wrk script for scripts/load-bench.sh: each connection waits a fixed number of milliseconds
-- after every response, so every server is offered about the same load and latencies can be
-- compared below saturation. Usage: wrk -s scripts/load-bench-paced.lua URL -- DELAY_MS
local delay_ms = 2

function init(args)
  delay_ms = tonumber(args[1] or "2")
end

function delay()
  return delay_ms
end
