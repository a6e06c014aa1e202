-- wrk script of bench/service: prints one machine-readable summary line when the run ends.
--
--   BENCH-JSON {"requests": ..., "duration_us": ..., "p50_us": ..., "p99_us": ..., ...}
--
-- With BENCH_LOGIN_BODY set, every request is instead a POST of that form body (the login storm)
-- and the answers are counted by status (200, 429, 503, anything else).

local login_body = os.getenv("BENCH_LOGIN_BODY")
local threads = {}

function setup(thread)
   table.insert(threads, thread)
end

if login_body then
   wrk.method = "POST"
   wrk.body = login_body
   wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"

   function init(args)
      ok, throttled, unavailable, other, other_codes = 0, 0, 0, 0, ""
   end

   function response(status, headers, body)
      if status == 200 then
         ok = ok + 1
      elseif status == 429 then
         throttled = throttled + 1
      elseif status == 503 then
         unavailable = unavailable + 1
      else
         other = other + 1
         if not string.find(other_codes, tostring(status), 1, true) then
            other_codes = other_codes .. tostring(status) .. " "
         end
      end
   end
end

function done(summary, latency, requests)
   local ok_n, throttled_n, unavailable_n, other_n, codes = 0, 0, 0, 0, ""
   if login_body then
      for _, thread in ipairs(threads) do
         ok_n = ok_n + thread:get("ok")
         throttled_n = throttled_n + thread:get("throttled")
         unavailable_n = unavailable_n + thread:get("unavailable")
         other_n = other_n + thread:get("other")
         codes = codes .. thread:get("other_codes")
      end
   end
   local e = summary.errors
   io.write(string.format(
      'BENCH-JSON {"requests": %d, "duration_us": %d, "p50_us": %d, "p99_us": %d, ' ..
      '"max_us": %d, "connect_errors": %d, "read_errors": %d, "write_errors": %d, ' ..
      '"timeouts": %d, "non_2xx": %d, "ok": %d, "throttled": %d, "unavailable": %d, ' ..
      '"other": %d, "other_codes": "%s"}\n',
      summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
      latency.max, e.connect, e.read, e.write, e.timeout, e.status,
      ok_n, throttled_n, unavailable_n, other_n, codes))
end
