#!/usr/bin/env bash
# Tidings benchmarks: publish (vs raw SQLite) and conditional polling (vs nginx), each compared
# with its baseline in the same invocation. See bench/README.md.
#
# Every setting is an environment variable (defaults in brackets):
#   PUBLISH_DURATION [20]  measured seconds per publish phase (tidings, raw per-row, raw batch-64)
#   PUBLISH_ROUNDS   [4]   rounds the three publish phases are interleaved in
#   PUBLISH_WARMUP   [15]  minimum publish warm-up seconds; it goes on (up to PUBLISH_WARMUP_MAX [60])
#                          until the publish rate is steady and the server's JIT compilers are idle
#   CONCURRENCY      [64]  in-flight publish requests
#   POLL_DURATION    [15]  seconds of each wrk run
#   POLL_PAIRS       [2]   nginx/tidings pairs of wrk runs (2 = nginx, tidings, nginx, tidings)
#   POLL_THREADS     [2]   wrk threads
#   POLL_CONNECTIONS [64]  wrk connections
#   POLL_WARMUP      [8]   seconds of unmeasured wrk load against each server before the first pair
#   POLL_LUA         [0]   1 = count the status of every wrk response with a Lua script (slower)
#   NGINX_WORKERS    [2]   nginx worker_processes
#   SERVER_JVM_OPTS  [-Xms1g -Xmx1g]  JVM flags of every Tidings server started
#   BENCH_JVM_OPTS   [-Xms256m -Xmx512m]  JVM flags of the publish load generator
#   SKIP_BUILD       [0]   1 = use the jars already in server/target and bench/target
#   MVN_ARGS         []    extra Maven arguments for the build (e.g. -o)
#   SKIP_PUBLISH     [0]   1 = skip the publish benchmark
#   SKIP_POLL        [0]   1 = skip the polling benchmark
#   KEEP             [0]   1 = keep the work directory (logs, data, raw results)
#   RESULTS          []    also copy the summary table to this file
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
# shellcheck source=lib.sh
source "$root/bench/lib.sh"

PUBLISH_DURATION="${PUBLISH_DURATION:-20}"
PUBLISH_ROUNDS="${PUBLISH_ROUNDS:-4}"
PUBLISH_WARMUP="${PUBLISH_WARMUP:-15}"
PUBLISH_WARMUP_MAX="${PUBLISH_WARMUP_MAX:-60}"
CONCURRENCY="${CONCURRENCY:-64}"
POLL_DURATION="${POLL_DURATION:-15}"
POLL_PAIRS="${POLL_PAIRS:-2}"
POLL_THREADS="${POLL_THREADS:-2}"
POLL_CONNECTIONS="${POLL_CONNECTIONS:-64}"
POLL_WARMUP="${POLL_WARMUP:-8}"
POLL_LUA="${POLL_LUA:-0}"
NGINX_WORKERS="${NGINX_WORKERS:-2}"
SERVER_JVM_OPTS="${SERVER_JVM_OPTS:--Xms1g -Xmx1g}"
BENCH_JVM_OPTS="${BENCH_JVM_OPTS:--Xms256m -Xmx512m}"
SKIP_BUILD="${SKIP_BUILD:-0}"
MVN_ARGS="${MVN_ARGS:-}"
SKIP_PUBLISH="${SKIP_PUBLISH:-0}"
SKIP_POLL="${SKIP_POLL:-0}"
KEEP="${KEEP:-0}"
RESULTS="${RESULTS:-}"

server_jar="$root/server/target/tidings.jar"
bench_jar="$root/bench/target/tidings-bench.jar"
work="$(mktemp -d "${TMPDIR:-/tmp}/tidings-bench.XXXXXX")"
pids=()

log() { printf '[bench %s] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }

trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---------------------------------------------------------------- tools
need_install=()
command -v wrk >/dev/null 2>&1 || need_install+=(wrk)
command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || need_install+=(nginx-light)
command -v curl >/dev/null 2>&1 || need_install+=(curl)
command -v ss >/dev/null 2>&1 || need_install+=(iproute2)
if [ "$SKIP_POLL" = 1 ]; then
  need_install=()
fi
if [ "${#need_install[@]}" -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  log "installing ${need_install[*]} with apt-get"
  timeout 300 $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive timeout 300 $sudo apt-get install -y -qq --no-install-recommends "${need_install[@]}" >/dev/null
fi
NGINX="$(command -v nginx || echo /usr/sbin/nginx)"

# ---------------------------------------------------------------- build
if [ "$SKIP_BUILD" != 1 ]; then
  log "building server and bench jars"
  # shellcheck disable=SC2086
  timeout 600 ./mvnw -q -B -DskipTests $MVN_ARGS package -pl server,bench -am
fi
for j in "$server_jar" "$bench_jar"; do
  [ -f "$j" ] || { echo "missing $j (build failed?)" >&2; exit 1; }
done

started_at="$(date -u +%Y-%m-%dT%H:%M:%SZ)"
load_at_start="$(cut -d' ' -f1-3 /proc/loadavg)"
summary="$work/summary.txt"
: > "$summary"
row() { printf '%-44s %s\n' "$1" "$2" >> "$summary"; }

# ---------------------------------------------------------------- 1. publish
if [ "$SKIP_PUBLISH" != 1 ]; then
  log "publish benchmark: ${CONCURRENCY} publishers, ${PUBLISH_DURATION}s per phase in ${PUBLISH_ROUNDS} rounds"
  limit=$(( ${PUBLISH_WARMUP_MAX%.*} + 3 * ${PUBLISH_DURATION%.*} + 180 ))
  # In the background and waited for, so that an interrupt reaches the trap at once; the bench
  # stops its own server when it gets SIGTERM (from timeout or from cleanup).
  # shellcheck disable=SC2086
  timeout --kill-after=10 "$limit" java $BENCH_JVM_OPTS -jar "$bench_jar" \
    --jar "$server_jar" --jvm "$SERVER_JVM_OPTS" \
    --duration "$PUBLISH_DURATION" --rounds "$PUBLISH_ROUNDS" --warmup "$PUBLISH_WARMUP" --warmup-max "$PUBLISH_WARMUP_MAX" \
    --concurrency "$CONCURRENCY" --work "$work/publish" --results "$work/publish.txt" &
  bpid=$!
  pids+=("$bpid")
  wait "$bpid" || { echo "PublishBench failed (exit $?)" >&2; exit 1; }
  forget "$bpid"
  get() { grep "^$1=" "$work/publish.txt" | cut -d= -f2 || true; }
  row "publish: tidings events/s" "$(get publish.events_per_s)"
  row "publish: ack latency p50 / p99 / p99.9 ms" "$(get publish.p50_ms) / $(get publish.p99_ms) / $(get publish.p999_ms)"
  row "publish: errors" "$(get publish.errors)"
  row "publish: events per SQLite transaction" "$(get publish.events_per_commit)"
  row "raw SQLite per-row rows/s" "$(get raw.per_row.rows_per_s)"
  row "raw SQLite batch-$(get raw.batch.size) rows/s" "$(get raw.batch.rows_per_s)"
  row "RATIO tidings / raw-batch (overall, median)" "$(get ratio.tidings_vs_raw_batch), $(get ratio.tidings_vs_raw_batch.median)"
  row "RATIO tidings / raw-per-row (overall, median)" "$(get ratio.tidings_vs_raw_per_row), $(get ratio.tidings_vs_raw_per_row.median)"
fi

# ---------------------------------------------------------------- 2. conditional polling
# Runs wrk against URL with If-None-Match: ETAG; prints requests/s.
run_wrk() {
  local name="$1" url="$2" etag="$3" secs="$4" out="$5"
  local lua=()
  if [ "$POLL_LUA" = 1 ]; then
    lua=(-s "$work/status.lua")
  fi
  timeout --kill-after=5 $((secs + 30)) wrk -t"$POLL_THREADS" -c"$POLL_CONNECTIONS" -d"${secs}s" --timeout 10s \
    --latency "${lua[@]+"${lua[@]}"}" -H "If-None-Match: $etag" "$url" > "$out" 2>&1 || {
    echo "wrk against $name failed:" >&2
    cat "$out" >&2
    return 1
  }
  if grep -q 'Non-2xx or 3xx' "$out"; then
    echo "wrk against $name got error statuses:" >&2
    grep 'Non-2xx or 3xx' "$out" >&2
  fi
  awk '/^Requests\/sec:/ {print $2}' "$out"
}

# The status an If-None-Match request gets (must be 304).
status_of() {
  curl -sS --max-time 10 -o /dev/null -w '%{http_code}' -H "If-None-Match: $2" "$1"
}

if [ "$SKIP_POLL" != 1 ]; then
  cat > "$work/status.lua" <<'EOF'
-- Counts response statuses per thread; prints them when the run ends.
local threads = {}
function setup(thread) table.insert(threads, thread) end
function init(args) statuses = {} end
function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end
function done(summary, latency, requests)
  for _, t in ipairs(threads) do
    local s = t:get("statuses")
    for code, n in pairs(s) do io.write(string.format("status %d: %d\n", code, n)) end
  end
end
EOF

  # --- Tidings
  tport="$(free_port)"
  log "starting Tidings on 127.0.0.1:$tport for the polling benchmark"
  # shellcheck disable=SC2086
  java $SERVER_JVM_OPTS -jar "$server_jar" serve --host 127.0.0.1 --port "$tport" --data "$work/poll-data" \
    > "$work/poll-server.log" 2>&1 &
  tpid=$!
  pids+=("$tpid")
  for _ in $(seq 1 120); do
    grep -q "listening on http://127.0.0.1:$tport" "$work/poll-server.log" && break
    kill -0 "$tpid" 2>/dev/null || { cat "$work/poll-server.log" >&2; exit 1; }
    sleep 0.5
  done
  grep -q "listening on" "$work/poll-server.log" || { echo "Tidings did not start" >&2; cat "$work/poll-server.log" >&2; exit 1; }
  topic="bench/poll"
  turl="http://127.0.0.1:$tport/v1/state?topic=$topic"
  body='['
  for i in $(seq 1 10); do
    body+="{\"type\":\"put\",\"key\":\"key-$i\",\"data\":{\"n\":$i,\"s\":\"some state value $i\"}},"
  done
  body="${body%,}]"
  code="$(curl -sS --max-time 10 -o "$work/publish-response.json" -w '%{http_code}' -X POST \
    -H 'Content-Type: application/json' --data "$body" "http://127.0.0.1:$tport/v1/events?topic=$topic")"
  [ "$code" = 201 ] || { echo "publishing the state failed: HTTP $code $(cat "$work/publish-response.json")" >&2; exit 1; }
  curl -sS --max-time 10 -D "$work/tidings-headers.txt" -o "$work/state.json" "$turl"
  tetag="$(grep -i '^etag:' "$work/tidings-headers.txt" | head -1 | cut -d' ' -f2- | tr -d '\r')"
  [ -n "$tetag" ] || { echo "Tidings sent no ETag" >&2; cat "$work/tidings-headers.txt" >&2; exit 1; }
  code="$(status_of "$turl" "$tetag")"
  [ "$code" = 304 ] || { echo "Tidings answered $code, not 304, to If-None-Match: $tetag" >&2; exit 1; }
  log "Tidings: ETag $tetag -> 304"

  # --- nginx, serving the same state document as a static file
  nport="$(free_port)"
  ndir="$work/nginx"
  mkdir -p "$ndir/www" "$ndir/tmp" "$ndir/logs"
  cp "$work/state.json" "$ndir/www/state.json"
  # The workers (user nobody when started as root) must be able to read the file.
  chmod 755 "$work" "$ndir" "$ndir/www"
  chmod 644 "$ndir/www/state.json"
  cat > "$ndir/nginx.conf" <<EOF
worker_processes $NGINX_WORKERS;
daemon off;
pid $ndir/nginx.pid;
error_log $ndir/logs/error.log warn;
worker_rlimit_nofile 4096;
events { worker_connections 1024; }
http {
  access_log off;
  sendfile on;
  tcp_nopush on;
  keepalive_requests 100000000;
  keepalive_timeout 120s;
  default_type application/json;
  client_body_temp_path $ndir/tmp/client;
  proxy_temp_path $ndir/tmp/proxy;
  fastcgi_temp_path $ndir/tmp/fastcgi;
  uwsgi_temp_path $ndir/tmp/uwsgi;
  scgi_temp_path $ndir/tmp/scgi;
  server {
    listen 127.0.0.1:$nport;
    root $ndir/www;
    location / { }
  }
}
EOF
  log "starting nginx on 127.0.0.1:$nport ($NGINX_WORKERS workers)"
  "$NGINX" -e "$ndir/logs/error.log" -p "$ndir" -c "$ndir/nginx.conf" > "$ndir/logs/stdout.log" 2>&1 &
  npid=$!
  pids+=("$npid")
  nurl="http://127.0.0.1:$nport/state.json"
  for _ in $(seq 1 40); do
    curl -s --max-time 2 -o /dev/null "$nurl" && break
    kill -0 "$npid" 2>/dev/null || { cat "$ndir/logs/error.log" "$ndir/logs/stdout.log" >&2; exit 1; }
    sleep 0.25
  done
  netag="$(curl -sS --max-time 10 -I "$nurl" | grep -i '^etag:' | head -1 | cut -d' ' -f2- | tr -d '\r')"
  [ -n "$netag" ] || { echo "nginx sent no ETag" >&2; exit 1; }
  code="$(status_of "$nurl" "$netag")"
  [ "$code" = 304 ] || { echo "nginx answered $code, not 304, to If-None-Match: $netag" >&2; exit 1; }
  log "nginx: ETag $netag -> 304"

  # --- warm both up (the JIT, the connection pools), then alternate
  if [ "${POLL_WARMUP%.*}" -gt 0 ]; then
    log "warm-up: ${POLL_WARMUP}s of wrk against each"
    run_wrk nginx "$nurl" "$netag" "$POLL_WARMUP" "$work/wrk-warm-nginx.txt" > /dev/null
    run_wrk tidings "$turl" "$tetag" "$POLL_WARMUP" "$work/wrk-warm-tidings.txt" > /dev/null
  fi
  nsum=0; tsum=0; ratios=()
  for i in $(seq 1 "$POLL_PAIRS"); do
    log "pair $i: wrk -t$POLL_THREADS -c$POLL_CONNECTIONS -d${POLL_DURATION}s against nginx, then Tidings"
    n="$(run_wrk nginx "$nurl" "$netag" "$POLL_DURATION" "$work/wrk-nginx-$i.txt")"
    t="$(run_wrk tidings "$turl" "$tetag" "$POLL_DURATION" "$work/wrk-tidings-$i.txt")"
    r="$(awk -v t="$t" -v n="$n" 'BEGIN { printf "%.3f", t / n }')"
    ratios+=("$r")
    log "  nginx $n req/s, Tidings $t req/s, ratio $r"
    row "poll pair $i: nginx / tidings req/s" "$n / $t (ratio $r)"
    nsum="$(awk -v a="$nsum" -v b="$n" 'BEGIN { print a + b }')"
    tsum="$(awk -v a="$tsum" -v b="$t" 'BEGIN { print a + b }')"
    if [ "$POLL_LUA" = 1 ]; then
      grep '^status' "$work/wrk-nginx-$i.txt" "$work/wrk-tidings-$i.txt" | sed 's/^/  /' >&2 || true
    fi
  done
  # Still 304 after the runs (nothing may have changed the state or started refusing).
  for pair in "$nurl $netag" "$turl $tetag"; do
    set -- $pair
    code="$(status_of "$1" "$2")"
    [ "$code" = 304 ] || log "WARNING: $1 now answers $code, not 304"
  done
  tlat="$(awk '/^ +99%/ {print $2}' "$work/wrk-tidings-$POLL_PAIRS.txt")"
  nlat="$(awk '/^ +99%/ {print $2}' "$work/wrk-nginx-$POLL_PAIRS.txt")"
  row "poll: nginx req/s (mean of $POLL_PAIRS)" "$(awk -v s="$nsum" -v k="$POLL_PAIRS" 'BEGIN { printf "%.0f", s / k }')"
  row "poll: tidings req/s (mean of $POLL_PAIRS)" "$(awk -v s="$tsum" -v k="$POLL_PAIRS" 'BEGIN { printf "%.0f", s / k }')"
  row "poll: p99 latency nginx / tidings (last pair)" "$nlat / $tlat"
  row "RATIO tidings / nginx (overall; per pair)" "$(awk -v t="$tsum" -v n="$nsum" 'BEGIN { printf "%.3f", t / n }'); ${ratios[*]}"
  stop_pid "$tpid"
  stop_pid "$npid"
fi

# ---------------------------------------------------------------- summary
{
  echo
  echo "== Tidings benchmark summary ($started_at, $(nproc) cores)"
  echo "   load average at start: $load_at_start, at end: $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "   server JVM: $SERVER_JVM_OPTS; wrk -t$POLL_THREADS -c$POLL_CONNECTIONS; everything on 127.0.0.1, sharing the cores"
  cat "$summary"
} | tee ${RESULTS:+"$RESULTS"}
