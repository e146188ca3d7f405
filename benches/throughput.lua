-- wrk script of benches/throughput.sh: each request carries the next agent's session cookie
-- (round robin over the signed-in agents) and asks for PATH, or for a random conversation of
-- the ids file. At the end it prints one line the driver reads:
-- RESULT <requests> <duration us> <p50 us> <p90 us> <p99 us> <max us> <non-2xx> <socket errors>
-- Arguments (after `--`): COOKIES_FILE PATH|-  [IDS_FILE]
local cookies = {}
local paths = {}
local n = 0

function init(args)
    for line in io.lines(args[1]) do
        if #line > 0 then table.insert(cookies, line) end
    end
    if args[2] == "-" then
        for line in io.lines(args[3]) do
            if #line > 0 then table.insert(paths, "/conversations/" .. line) end
        end
    else
        paths = { args[2] }
    end
    math.randomseed(os.time())
end

function request()
    n = n + 1
    local path = paths[1]
    if #paths > 1 then path = paths[math.random(#paths)] end
    return wrk.format("GET", path, { Cookie = cookies[(n % #cookies) + 1] })
end

function done(summary, latency, requests)
    local e = summary.errors
    io.write(string.format("RESULT %d %d %d %d %d %d %d %d\n", summary.requests, summary.duration,
        latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max,
        e.status, e.connect + e.read + e.write + e.timeout))
end
