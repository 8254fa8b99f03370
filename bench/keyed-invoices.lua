-- wrk: every request a new invoice: POST one for J-0003 with an Idempotency-Key and a reference no other
-- request used (each thread its own prefix; the start time keeps rounds apart).
local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("tid", tostring(thread.addr) .. "-" .. threads)
end

local counter = 0
local started = tostring(os.time())
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"

function request()
  counter = counter + 1
  local key = "inv-" .. started .. "-" .. tid .. "-" .. counter
  wrk.headers["Idempotency-Key"] = key
  wrk.body = '{"jobId":"J-0003","amount":120.50,"reference":"' .. key .. '","invoiceDate":"2026-04-01"}'
  return wrk.format()
end
