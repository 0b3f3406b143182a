-- wrk script: posts a realistic mix of transactions over keep-alive connections.
-- Cards, merchants, devices and amounts rotate so the feature state sees many entities.
local counter = 0
local thread_id = 0
local threads = {}

function setup(thread)
  thread:set("thread_id", #threads)
  table.insert(threads, thread)
end

function init(args)
  math.randomseed(1234 + thread_id)
end

local channels = {"online", "pos", "mobile", "atm"}
local countries = {"US", "GB", "FR", "DE", "ES", "NL"}

request = function()
  counter = counter + 1
  local card = math.random(1, 50000)
  local amount = math.floor(math.exp(3.5 + math.random() * 1.5) * 100) / 100
  local body = string.format(
    '{"transaction_id":"w%d-%d","amount":%.2f,"currency":"USD","card_id":"card-%d",' ..
    '"customer_id":"cust-%d","merchant_id":"m-%d","merchant_category":"5411",' ..
    '"country":"%s","device_id":"dev-%d","ip":"10.%d.%d.%d","channel":"%s","user_age_days":%d}',
    thread_id, counter, amount, card, card, math.random(1, 5000),
    countries[math.random(1, #countries)], card, card % 256, math.floor(card / 256) % 256, 7,
    channels[math.random(1, #channels)], math.random(1, 3000))
  return wrk.format("POST", "/api/v1/fraud/analyze",
                    {["Content-Type"] = "application/json"}, body)
end

function done(summary, latency, requests)
  local errors = summary.errors.status + summary.errors.connect + summary.errors.read +
                 summary.errors.write + summary.errors.timeout
  io.write(string.format(
    'RESULT {"requests":%d,"duration_s":%.3f,"rps":%.1f,"errors":%d,' ..
    '"p50_us":%d,"p99_us":%d,"p999_us":%d,"max_us":%d}\n',
    summary.requests, summary.duration / 1e6, summary.requests / (summary.duration / 1e6),
    errors, latency:percentile(50), latency:percentile(99), latency:percentile(99.9),
    latency.max))
end
