-- A plain GET of the path given to wrk (/healthz, /pkg/portal.css, …) with a browser's
-- Accept-Encoding, counting non-2xx answers. BENCH_PHASE names the row.
package.path = os.getenv("BENCH_LUA_DIR") .. "/?.lua;" .. package.path
require("common")

phase_name = os.getenv("BENCH_PHASE")
wrk.headers["Accept-Encoding"] = "gzip, deflate, br"

function response(status, hdrs, body)
  count_status(status)
end
