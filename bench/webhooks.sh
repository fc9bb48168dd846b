#!/usr/bin/env bash
# Webhook benchmark: deliveries/s from Tidings to a local receiver with 100 endpoints, beside a
# plain HTTP POST loop against the same receiver in the same invocation. See bench/README.md
# ("Webhooks").
#
# Every setting is an environment variable (defaults in brackets):
#   ENDPOINTS        [100]    webhook endpoints, each POSTing to its own receiver path /hook/<i>
#   TOPICS           [shared] shared: all endpoints on one topic (each event goes to every endpoint);
#                             per-endpoint: endpoint i on topic bench/wh/i
#   BATCHES          [1,100]  batch.max_events of the endpoints; one Tidings case (fresh server) each
#   DURATION         [20]     seconds the saturation phase should take (its event count is sized from
#                             the warm-up rate), and measured seconds of the baseline
#   WARMUP           [15]     minimum warm-up under a backlog; it goes on in 3 s steps (up to
#                             WARMUP_MAX [90]) until the delivery rate is steady and the server's JIT is idle
#   LAG_LOAD         [0.5]    the lag phase publishes at this fraction of the saturation rate (0 = none)
#   LAG_SECONDS      [10]     publishing seconds of the lag phase
#   EVENTS           []       events of the saturation phase instead of the sized count
#   DATA_BYTES       [100]    bytes of each event's data
#   MAX_IN_FLIGHT    []       the server's webhooks.max_in_flight (empty: its default, 64)
#   RECEIVER_PORTS   [1]      ports the receiver listens on (endpoint i uses port i mod N); each port is
#                             a separate target, hence a separate outbound connection pool in Tidings
#   RECEIVER_LOOPS   [1]      receiver event loops
#   VERIFY           [0]      1 = the receiver checks every webhook-signature (HMAC-SHA256)
#   BASELINE_CONCURRENCY [ENDPOINTS]             closed POST loops of the baseline (it runs after the
#                                                first Tidings case and again after the last one)
#   BASELINE_CONNECTIONS [BASELINE_CONCURRENCY]  their keep-alive connections (over all ports)
#   SKIP_BASELINE    [0]      1 = no baseline
#   SERVE_ARGS       []       extra 'tidings serve' arguments, for diagnostics (e.g. "--store memory")
#   SERVER_JVM_OPTS  [-Xms1g -Xmx1g]      JVM flags of every Tidings server started
#   RECEIVER_JVM_OPTS [-Xms256m -Xmx512m] JVM flags of the receiver
#   BENCH_JVM_OPTS   [-Xms256m -Xmx512m]  JVM flags of the coordinator (publisher and baseline client)
#   SKIP_BUILD       [0]      1 = use the jars already in server/target and bench/target
#   SERVER_JAR       [server/target/tidings.jar]  the Tidings server jar to run
#   MVN_ARGS         []       extra Maven arguments for the build (e.g. -o)
#   KEEP             [0]      1 = keep the work directory (server and receiver logs, config, key=value results)
#   RESULTS          []       also copy the summary table to this file
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
# shellcheck source=lib.sh
source "$root/bench/lib.sh"

ENDPOINTS="${ENDPOINTS:-100}"
TOPICS="${TOPICS:-shared}"
BATCHES="${BATCHES:-1,100}"
DURATION="${DURATION:-20}"
WARMUP="${WARMUP:-15}"
WARMUP_MAX="${WARMUP_MAX:-90}"
LAG_LOAD="${LAG_LOAD:-0.5}"
LAG_SECONDS="${LAG_SECONDS:-10}"
EVENTS="${EVENTS:-}"
DATA_BYTES="${DATA_BYTES:-100}"
MAX_IN_FLIGHT="${MAX_IN_FLIGHT:-}"
RECEIVER_PORTS="${RECEIVER_PORTS:-1}"
RECEIVER_LOOPS="${RECEIVER_LOOPS:-1}"
VERIFY="${VERIFY:-0}"
BASELINE_CONCURRENCY="${BASELINE_CONCURRENCY:-$ENDPOINTS}"
BASELINE_CONNECTIONS="${BASELINE_CONNECTIONS:-$BASELINE_CONCURRENCY}"
SKIP_BASELINE="${SKIP_BASELINE:-0}"
SERVE_ARGS="${SERVE_ARGS:-}"
SERVER_JVM_OPTS="${SERVER_JVM_OPTS:--Xms1g -Xmx1g}"
RECEIVER_JVM_OPTS="${RECEIVER_JVM_OPTS:--Xms256m -Xmx512m}"
BENCH_JVM_OPTS="${BENCH_JVM_OPTS:--Xms256m -Xmx512m}"
SKIP_BUILD="${SKIP_BUILD:-0}"
MVN_ARGS="${MVN_ARGS:-}"
KEEP="${KEEP:-0}"
RESULTS="${RESULTS:-}"

server_jar="${SERVER_JAR:-$root/server/target/tidings.jar}"
bench_jar="$root/bench/target/tidings-bench.jar"
work="$(mktemp -d "${TMPDIR:-/tmp}/tidings-webhooks.XXXXXX")"
pids=()

log() { printf '[webhooks.sh %s] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }

trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---------------------------------------------------------------- build
if [ "$SKIP_BUILD" != 1 ]; then
  log "building server and bench jars"
  # shellcheck disable=SC2086
  timeout 600 ./mvnw -q -B -DskipTests $MVN_ARGS package -pl server,bench -am
fi
for j in "$server_jar" "$bench_jar"; do
  [ -f "$j" ] || { echo "missing $j (build failed?)" >&2; exit 1; }
done

# ---------------------------------------------------------------- run
if pgrep -f surefire >/dev/null 2>&1; then
  log "NOTE: a Maven test run (surefire) is using the machine; figures will be noisy"
fi
started_at="$(date -u +%Y-%m-%dT%H:%M:%SZ)"
load_at_start="$(cut -d' ' -f1-3 /proc/loadavg)"
args=(--tidings-jar "$server_jar" --server-jvm "$SERVER_JVM_OPTS" --serve-args "$SERVE_ARGS" --receiver-jvm "$RECEIVER_JVM_OPTS"
  --endpoints "$ENDPOINTS" --topics "$TOPICS" --batches "$BATCHES" --duration "$DURATION"
  --warmup "$WARMUP" --warmup-max "$WARMUP_MAX" --lag-load "$LAG_LOAD" --lag-seconds "$LAG_SECONDS"
  --data-bytes "$DATA_BYTES" --receiver-ports "$RECEIVER_PORTS" --receiver-loops "$RECEIVER_LOOPS"
  --baseline-concurrency "$BASELINE_CONCURRENCY" --baseline-connections "$BASELINE_CONNECTIONS"
  --work "$work/run" --results "$work/results.txt")
[ -n "$EVENTS" ] && args+=(--events "$EVENTS")
[ -n "$MAX_IN_FLIGHT" ] && args+=(--max-in-flight "$MAX_IN_FLIGHT")
[ "$VERIFY" = 1 ] && args+=(--verify)
[ "$SKIP_BASELINE" = 1 ] && args+=(--skip-baseline)
ncases="$(echo "$BATCHES" | tr ',' '\n' | grep -c .)"
# Per case: start, registration, warm-up, saturation (sized to DURATION, bounded at 6x), lag, drains.
limit=$(( ncases * (${WARMUP_MAX%.*} + 6 * ${DURATION%.*} + ${LAG_SECONDS%.*} + 240) + 2 * (${DURATION%.*} + 10) + 120 ))
log "webhook benchmark: $ENDPOINTS endpoints, topics $TOPICS, batches $BATCHES, ${DURATION}s phases (bound ${limit}s)"
# In the background and waited for, so that an interrupt reaches the trap at once; the coordinator
# stops its server and receiver when it gets SIGTERM (from timeout or from cleanup).
# shellcheck disable=SC2086
timeout --kill-after=10 "$limit" java $BENCH_JVM_OPTS -cp "$bench_jar" io.tidings.bench.webhooks.WebhookBench \
  "${args[@]}" &
bpid=$!
pids+=("$bpid")
wait "$bpid" || { echo "WebhookBench failed (exit $?)" >&2; exit 1; }
forget "$bpid"

# ---------------------------------------------------------------- summary
get() { grep "^$1=" "$work/results.txt" | cut -d= -f2- || true; }
summary="$work/summary.txt"
: > "$summary"
row() { printf '%-52s %s\n' "$1" "$2" >> "$summary"; }
for b in $(echo "$BATCHES" | tr ',' ' '); do
  k="tidings.b$b"
  [ -n "$(get "$k.events_per_s")" ] || continue
  row "tidings max_events=$b: events/s, requests/s" "$(get "$k.events_per_s"), $(get "$k.requests_per_s") ($(get "$k.events_per_request") events/request)"
  row "tidings max_events=$b: lag p50/p99/max ms at $(get "$k.lag.deliveries_per_s") ev/s" "$(get "$k.lag.p50_ms") / $(get "$k.lag.p99_ms") / $(get "$k.lag.max_ms")"
  row "tidings max_events=$b: server CPU %, us/request (w/o JIT)" "$(get "$k.server_cpu_pct"), $(get "$k.server_us_per_request") ($(get "$k.server_us_per_request_without_jit"))"
  row "tidings max_events=$b: SQLite commits per request" "$(get "$k.commits_per_request") ($(get "$k.commits_per_s")/s)"
  row "tidings max_events=$b: in flight, receiver connections" "$(get "$k.in_flight_mean"), $(get "$k.receiver_connections_mean")"
  row "tidings max_events=$b: dups / gaps / failed attempts" "$(get "$k.duplicates") / $(get "$k.gaps") / $(get "$k.attempts_failed")"
  row "tidings max_events=$b: warm-up steady" "$(get "$k.warmup_steady") ($(get "$k.warmup_seconds") s)"
done
if [ -n "$(get baseline.requests_per_s)" ]; then
  runs="$(get baseline.1.requests_per_s)"
  [ -n "$(get baseline.2.requests_per_s)" ] && runs="$runs, $(get baseline.2.requests_per_s)"
  row "baseline POST loop: requests/s (mean; runs)" "$(get baseline.requests_per_s); $runs ($(get baseline.concurrency) loops, $(get baseline.connections) connections, $(get baseline.body_bytes) B body)"
  row "baseline POST loop: latency p50/p99 ms (run 1)" "$(get baseline.1.p50_ms) / $(get baseline.1.p99_ms)"
  row "baseline: receiver / client us per request (run 1)" "$(get baseline.1.receiver_us_per_request) / $(get baseline.1.client_us_per_request)"
  for b in $(echo "$BATCHES" | tr ',' ' '); do
    [ -n "$(get "ratio.b$b.requests")" ] || continue
    row "RATIO tidings max_events=$b / baseline" "requests $(get "ratio.b$b.requests"), events $(get "ratio.b$b.events")"
  done
fi
{
  echo
  echo "== Tidings webhook benchmark ($started_at, $(nproc) cores)"
  echo "   load average at start: $load_at_start, at end: $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "   server JVM: $SERVER_JVM_OPTS${SERVE_ARGS:+; serve $SERVE_ARGS}; $ENDPOINTS endpoints, topics $TOPICS; receiver: $RECEIVER_PORTS port(s), $RECEIVER_LOOPS loop(s), verify=$VERIFY; everything on 127.0.0.1, sharing the cores"
  cat "$summary"
  echo
  echo "key=value results:"
  sed 's/^/  /' "$work/results.txt"
} | tee ${RESULTS:+"$RESULTS"}
