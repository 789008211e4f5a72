-- wrk script: each request takes the next (path, header) line of $BENCH_REQUESTS,
-- so the load spreads over many signed-in users (sessions) or API tokens.
-- Line format: PATH <tab> HEADER-NAME <tab> HEADER-VALUE
local requests = {}
local i = 0

function init(args)
  for line in io.lines(os.getenv("BENCH_REQUESTS")) do
    local path, name, value = line:match("^([^\t]+)\t([^\t]*)\t(.*)$")
    if path then
      -- The browser each seeded session was signed in with (bench/seed.py).
      local headers = { ["User-Agent"] = "bench" }
      if name ~= "" then headers[name] = value end
      table.insert(requests, wrk.format("GET", path, headers))
    end
  end
  i = math.random(#requests)
end

function request()
  i = i % #requests + 1
  return requests[i]
end
