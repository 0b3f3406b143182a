#!/usr/bin/env bash
# Load benchmark: wrk posts the same transaction mix to `fraudguard serve` and to nginx returning
# a fixed JSON body, on this machine in the same run, and writes docs/benchmarks.md with the
# figures and their ratios. Then the Google Benchmark micro-benchmarks run, and the dashboard's
# queries are timed over HTTP against a server holding 30 days of SLI history.
#
#   bash bench/run.sh            # DURATION=10 CONNECTIONS=32 by default
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${DURATION:-10}
CONNECTIONS=${CONNECTIONS:-32}
WRK_THREADS=${WRK_THREADS:-1}
SERVER_THREADS=${SERVER_THREADS:-1}
BIN=build/fraudguard
[ -x "$BIN" ] || { echo "build first: make build" >&2; exit 1; }
command -v wrk >/dev/null || { echo "wrk is missing: bash scripts/setup.sh" >&2; exit 1; }
command -v nginx >/dev/null || { echo "nginx is missing: bash scripts/setup.sh" >&2; exit 1; }

# The machine's load before the run: these two cores are often shared, which every figure feels.
load_before=$(cut -d' ' -f1 /proc/loadavg)
work=$(mktemp -d)
cleanup() {
  [ -n "${fg_pid:-}" ] && kill "$fg_pid" 2>/dev/null || true
  [ -n "${history_pid:-}" ] && kill "$history_pid" 2>/dev/null || true
  [ -f "$work/nginx.pid" ] && kill "$(cat "$work/nginx.pid")" 2>/dev/null || true
  sleep 0.5
  rm -rf "$work"
}
trap cleanup EXIT

free_port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# 1. nginx, one worker, a fixed decision-shaped body.
nginx_port=$(free_port)
mkdir -p "$work/nginx"
cat > "$work/nginx.conf" <<CONF
worker_processes $SERVER_THREADS;
pid $work/nginx.pid;
error_log $work/nginx/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path $work/nginx;
  proxy_temp_path $work/nginx; fastcgi_temp_path $work/nginx;
  uwsgi_temp_path $work/nginx; scgi_temp_path $work/nginx;
  keepalive_requests 1000000;
  server {
    listen 127.0.0.1:$nginx_port;
    location / {
      default_type application/json;
      return 200 '{"transaction_id":"x","risk_score":1.23,"risk_level":"low","action":"approve","reasons":[],"model_version":"fixed","server_time_us":1}';
    }
  }
}
CONF
nginx -p "$work" -c "$work/nginx.conf" -e "$work/nginx/error.log"

# 2. fraudguard with the default model, fresh state.
"$BIN" serve --port 0 --port-file "$work/port" --data-dir "$work/data" --threads "$SERVER_THREADS" \
  --model models/default.json --rules config/rules.yaml --log-level warn 2>"$work/fraudguard.log" &
fg_pid=$!
for _ in $(seq 1 300); do [ -s "$work/port" ] && break; sleep 0.1; done
fg_port=$(cat "$work/port")

run_wrk() {  # url -> RESULT json
  wrk -t"$WRK_THREADS" -c"$CONNECTIONS" -d"${DURATION}s" --timeout 5s -s bench/transactions.lua "$1" \
    | sed -n 's/^RESULT //p'
}
echo "warming up ..." >&2
DURATION=2 run_wrk "http://127.0.0.1:$fg_port" >/dev/null
echo "nginx ($DURATION s) ..." >&2
nginx_result=$(run_wrk "http://127.0.0.1:$nginx_port")
# CPU ticks of each of the server's threads, by thread name, to show where its time went.
thread_ticks() {
  for stat in /proc/"$fg_pid"/task/*/stat; do
    # Fields after the parenthesised name: utime and stime are the 12th and 13th.
    name=$(sed 's/^[0-9]* (\(.*\)) .*/\1/' "$stat")
    ticks=$(sed 's/^.*) //' "$stat" | awk '{print $12 + $13}')
    echo "$name $ticks"
  done | awk '{t[$1] += $2} END {for (n in t) printf "%s %d\n", n, t[n]}'
}
echo "fraudguard ($DURATION s) ..." >&2
thread_ticks >"$work/ticks-before"
fg_result=$(run_wrk "http://127.0.0.1:$fg_port")
thread_ticks >"$work/ticks-after"
threads_json=$(awk -v hz="$(getconf CLK_TCK)" -v seconds="$DURATION" '
  NR == FNR { before[$1] = $2; next }
  { share[$1] = ($2 - before[$1]) / hz / seconds }
  END { sep = ""; printf "{"; for (n in share) { printf "%s\"%s\":%.3f", sep, n, share[n]; sep = "," } printf "}" }
' "$work/ticks-before" "$work/ticks-after")
curl -s "http://127.0.0.1:$fg_port/metrics" >"$work/metrics.txt"
metrics=$(cat "$work/metrics.txt")
rss=$(awk '/^process_resident_memory_bytes /{print $2}' <<<"$metrics")
cards=$(awk '/^fraudguard_feature_state_keys\{/{s+=$2} END{print s+0}' <<<"$metrics")
state_bytes=$(awk '/^fraudguard_feature_state_bytes /{print $2}' <<<"$metrics")

# 3. micro-benchmarks (decision pipeline, parsing, features, model).
micro_json="$work/micro.json"
if [ -x build/micro_bench ]; then
  echo "micro-benchmarks ..." >&2
  FRAUDGUARD_BENCH_HISTORY_DIR="$work/history" \
    build/micro_bench --benchmark_min_time=0.5 --benchmark_format=json >"$micro_json" 2>/dev/null || true
fi

# 4. The dashboard's queries over the real HTTP route: the micro-benchmark run above left its
# 30-day SLI store in $work/history; a server on that data directory answers the routes the
# dashboard polls, each timed by curl (DASHBOARD_QUERIES times per route).
history_http_json="$work/history-http.json"
if [ -s "$work/history/sli.db" ]; then
  echo "dashboard queries over HTTP (30-day store) ..." >&2
  "$BIN" serve --port 0 --port-file "$work/history-port" --data-dir "$work/history" \
    --threads "$SERVER_THREADS" --model models/default.json --rules config/rules.yaml \
    --log-level warn 2>"$work/history-server.log" &
  history_pid=$!
  for _ in $(seq 1 300); do [ -s "$work/history-port" ] && break; sleep 0.1; done
  history_url="http://127.0.0.1:$(cat "$work/history-port")"
  {
    for path in "/api/v1/history?range=1h" "/api/v1/history?range=24h" \
      "/api/v1/history?range=7d" "/api/v1/slo" "/api/v1/incidents?state=all&limit=50" \
      "/api/v1/capacity?horizon=7d"; do
      for _ in $(seq 1 "${DASHBOARD_QUERIES:-40}"); do
        printf '%s %s\n' "$path" "$(curl -s -o /dev/null -w '%{http_code} %{time_total}' "$history_url$path")"
      done
    done
  } >"$work/history-http.txt"
  kill "$history_pid" 2>/dev/null || true
  wait "$history_pid" 2>/dev/null || true
  /usr/bin/python3 - "$work/history-http.txt" >"$history_http_json" <<'PY'
import json, sys
times = {}
for line in open(sys.argv[1]):
    path, status, seconds = line.split()
    times.setdefault(path, []).append((int(status), float(seconds) * 1000))
out = {}
for path, samples in times.items():
    ms = sorted(t for _, t in samples)
    out[path] = {"count": len(ms), "non_200": sum(1 for s, _ in samples if s != 200),
                 "p50_ms": ms[len(ms) // 2], "p95_ms": ms[min(len(ms) - 1, int(len(ms) * 0.95))],
                 "max_ms": ms[-1]}
print(json.dumps(out))
PY
fi

/usr/bin/python3 bench/report.py --nginx "$nginx_result" --fraudguard "$fg_result" \
  --metrics "$work/metrics.txt" --rss "${rss:-0}" --cards "${cards:-0}" \
  --state-bytes "${state_bytes:-0}" --micro "$micro_json" --duration "$DURATION" \
  --connections "$CONNECTIONS" --server-threads "$SERVER_THREADS" --threads "$threads_json" \
  --dashboard-http "$history_http_json" --load-before "$load_before" \
  > docs/benchmarks.md
echo "wrote docs/benchmarks.md" >&2
