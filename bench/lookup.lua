-- wrk script for the version lookup: every request asks for the latest version of a random dataset.
-- Environment: BENCH_SLUGS_FILE (one slug a line) and BENCH_TOKEN (a Kura API token).

local slugs = {}

function init(args)
  local path = os.getenv("BENCH_SLUGS_FILE")
  for line in io.lines(path) do
    if line ~= "" then
      slugs[#slugs + 1] = line
    end
  end
  if #slugs == 0 then
    error("no slugs in " .. tostring(path))
  end
  wrk.headers["Authorization"] = "Bearer " .. os.getenv("BENCH_TOKEN")
  wrk.headers["Accept"] = "application/json"
  -- each wrk thread gets its own sequence of datasets
  math.randomseed(os.time() + (tonumber(tostring({}):match("0x(%x+)"), 16) or 0))
end

function request()
  local slug = slugs[math.random(#slugs)]
  return wrk.format("GET", "/api/v1/datasets/" .. slug .. "/versions/latest/")
end
