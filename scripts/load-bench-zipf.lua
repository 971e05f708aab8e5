-- wrk script for scripts/load-bench.sh: asks for the task paths listed in a file (one per
-- line), the k-th with probability proportional to 1/k^s (Zipf), drawn from a cumulative table
-- built once. Requests are prebuilt strings, so a one-line file measures the same client cost.
-- Usage: wrk -s scripts/load-bench-zipf.lua http://127.0.0.1:18083 -- PATHS_FILE [EXPONENT]
local requests, cumulative, count = {}, {}, 0

function init(args)
  local file = assert(io.open(args[1], "r"))
  local exponent = tonumber(args[2] or "1.0")
  local total = 0
  for line in file:lines() do
    if #line > 0 then
      count = count + 1
      requests[count] = "GET " .. line .. " HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
      total = total + 1 / count ^ exponent
      cumulative[count] = total
    end
  end
  file:close()
  assert(count > 0, "no paths in " .. args[1])
  for i = 1, count do
    cumulative[i] = cumulative[i] / total
  end
  math.randomseed(42)
end

function request()
  local u = math.random()
  local low, high = 1, count
  while low < high do
    local middle = math.floor((low + high) / 2)
    if cumulative[middle] < u then
      low = middle + 1
    else
      high = middle
    end
  end
  return requests[low]
end
