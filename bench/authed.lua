-- wrk script for the authenticated reference: the same bearer token as the lookup, on a path that reads nothing
-- but the token (GET /api/v1/whoami/). Environment: BENCH_TOKEN.

function init(args)
  wrk.headers["Authorization"] = "Bearer " .. os.getenv("BENCH_TOKEN")
  wrk.headers["Accept"] = "application/json"
end
