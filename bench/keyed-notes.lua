-- wrk: every request a new write: POST a note with an Idempotency-Key no other request used (each thread
-- its own prefix, with the server it talks to, so two wrk runs at once against two replicas do not share
-- keys; the start time keeps rounds apart).
local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("tid", tostring(thread.addr) .. "-" .. threads)
end

local counter = 0
local started = tostring(os.time())
wrk.method = "POST"
wrk.body = '{"note":"bench"}'
wrk.headers["Content-Type"] = "application/json"

function request()
  counter = counter + 1
  wrk.headers["Idempotency-Key"] = "bench-" .. started .. "-" .. tid .. "-" .. counter
  return wrk.format()
end
