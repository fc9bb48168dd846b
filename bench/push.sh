#!/usr/bin/env bash
# Push benchmark: WebSocket and SSE delivery of Tidings against Nchan (nginx + nchan module), in
# one invocation, printed side by side. Four scenarios: broadcast (10,000 subscribers on one
# topic, rate stepped up), topics (10,000 subscribers on 1,000 topics), idle (19,000 idle
# connections, server memory per connection), fanout (1,000 gRPC Subscribe streams on one topic
# beside 1,000 WebSockets, both on Tidings: ratio grpc / ws). See bench/README.md ("Push").
#
# Every setting is an environment variable (defaults in brackets):
#   SCENARIOS        [broadcast topics idle fanout]
#   TRANSPORTS       [ws sse]          of broadcast, topics and idle (grpc too: Tidings only)
#   TARGETS          [nchan tidings]   (each scenario/transport runs nchan then tidings, fresh servers)
#   FANOUT_TRANSPORTS [ws grpc]        the fanout scenario's transports, on
#   FANOUT_TARGETS   [tidings]         these targets (Nchan has no gRPC: grpc is left out there)
#   FANOUT_PAIRED    [1]               1 = one server per target, every rate stepped once per transport
#                                      in turn (paired steps); 0 = one run (fresh server) per transport
#   FANOUT_SUBSCRIBERS [1000]          subscribers of the fanout scenario, all on one topic
#   RATES_FANOUT     [10,20,30,50,75,100,150,200]  msg/s steps, fanout
#   WARMUP_RATE_FANOUT [10]            its warm-up rate
#   GRPC_STREAMS_PER_CONNECTION [1]    Subscribe calls per HTTP/2 connection (1 = a connection each,
#                                      like independent services; at most the server's max concurrent streams, 100)
#   SUBSCRIBERS      [10000]  subscribers of the broadcast and topics scenarios
#   TOPICS           [1000]   topics of the topics scenario (SUBSCRIBERS/TOPICS subscribers each)
#   IDLE_CONNECTIONS [19000]  connections of the idle scenario (on IDLE_TOPICS [1000] topics)
#   RATES_BROADCAST  [2,3,5,7,10,15,20,30,50,75,100]                msg/s steps, broadcast
#   RATES_TOPICS     [200,1000,2000,4000,6000,8000,10000,15000,20000] msg/s steps, topics
#   STEP_SECONDS     [8]      publishing seconds per step
#   WARMUP_SECONDS   [6]      warm-up first (at WARMUP_RATE_BROADCAST [2] / WARMUP_RATE_TOPICS [500] msg/s),
#                             in 3 s chunks; for Tidings on until its JIT is idle, at most WARMUP_MAX [36] s
#   P99_LIMIT_MS     [1000]    stop stepping after a step with p99 above this, or that did not keep up
#   LOW_LATENCY_MS   [50]     the summary also gives the best rate with p99 at most this
#   IDLE_SECONDS     [10]     idle: seconds the connections are held while the server's CPU is read
#   PAYLOAD_BYTES    [100]    message size
#   PER_WORKER       [5000]   most connections per load-generator process
#   TIDINGS_STORE    [memory] memory | sqlite (Nchan keeps messages in memory too)
#   SERVER_JVM_OPTS  [-Xms1g -Xmx1g]        JVM flags of the Tidings server
#   IDLE_JVM_EXTRA   [-XX:+AlwaysPreTouch]  added to them in the idle scenario (see README)
#   WORKER_JVM_OPTS  [-Xms256m -Xmx768m -XX:+UseParallelGC -Dio.netty.leakDetection.level=disabled]
#   BENCH_JVM_OPTS   [-Xms256m -Xmx512m -Dio.netty.leakDetection.level=disabled]  coordinator (publisher)
#   QUICK            [0]      1 = a short run: 2,000 subscribers (idle 4,000), 4 s steps, fewer steps
#   SKIP_BUILD       [0]      1 = use the jars already in server/target and bench/target
#   SERVER_JAR       [server/target/tidings.jar]  the Tidings server jar to run
#   MVN_ARGS         []       extra Maven arguments for the build (e.g. -o)
#   KEEP             [0]      1 = keep the work directory (logs, nginx config, key=value results)
#   RESULTS          []       also copy the report to this file
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
# shellcheck source=lib.sh
source "$root/bench/lib.sh"

QUICK="${QUICK:-0}"
if [ "$QUICK" = 1 ]; then
  : "${SUBSCRIBERS:=2000}" "${TOPICS:=200}" "${IDLE_CONNECTIONS:=4000}" "${IDLE_TOPICS:=200}"
  : "${RATES_BROADCAST:=2,10,50,100}" "${RATES_TOPICS:=200,1000,4000}" "${RATES_FANOUT:=10,50,100,200}"
  : "${STEP_SECONDS:=4}" "${WARMUP_SECONDS:=3}" "${WARMUP_MAX:=15}" "${IDLE_SECONDS:=4}"
fi
SCENARIOS="${SCENARIOS:-broadcast topics idle fanout}"
TRANSPORTS="${TRANSPORTS:-ws sse}"
TARGETS="${TARGETS:-nchan tidings}"
FANOUT_TRANSPORTS="${FANOUT_TRANSPORTS:-ws grpc}"
FANOUT_TARGETS="${FANOUT_TARGETS:-tidings}"
FANOUT_PAIRED="${FANOUT_PAIRED:-1}"
FANOUT_SUBSCRIBERS="${FANOUT_SUBSCRIBERS:-1000}"
RATES_FANOUT="${RATES_FANOUT:-10,20,30,50,75,100,150,200}"
WARMUP_RATE_FANOUT="${WARMUP_RATE_FANOUT:-10}"
GRPC_STREAMS_PER_CONNECTION="${GRPC_STREAMS_PER_CONNECTION:-1}"
SUBSCRIBERS="${SUBSCRIBERS:-10000}"
TOPICS="${TOPICS:-1000}"
IDLE_CONNECTIONS="${IDLE_CONNECTIONS:-19000}"
IDLE_TOPICS="${IDLE_TOPICS:-1000}"
RATES_BROADCAST="${RATES_BROADCAST:-2,3,5,7,10,15,20,30,50,75,100}"
RATES_TOPICS="${RATES_TOPICS:-200,1000,2000,4000,6000,8000,10000,15000,20000}"
STEP_SECONDS="${STEP_SECONDS:-8}"
WARMUP_SECONDS="${WARMUP_SECONDS:-6}"
WARMUP_MAX="${WARMUP_MAX:-36}"
WARMUP_RATE_BROADCAST="${WARMUP_RATE_BROADCAST:-2}"
WARMUP_RATE_TOPICS="${WARMUP_RATE_TOPICS:-500}"
P99_LIMIT_MS="${P99_LIMIT_MS:-1000}"
LOW_LATENCY_MS="${LOW_LATENCY_MS:-50}"
IDLE_SECONDS="${IDLE_SECONDS:-10}"
PAYLOAD_BYTES="${PAYLOAD_BYTES:-100}"
PER_WORKER="${PER_WORKER:-5000}"
TIDINGS_STORE="${TIDINGS_STORE:-memory}"
SERVER_JVM_OPTS="${SERVER_JVM_OPTS:--Xms1g -Xmx1g}"
IDLE_JVM_EXTRA="${IDLE_JVM_EXTRA--XX:+AlwaysPreTouch}"
WORKER_JVM_OPTS="${WORKER_JVM_OPTS:--Xms256m -Xmx768m -XX:+UseParallelGC -Dio.netty.leakDetection.level=disabled}"
BENCH_JVM_OPTS="${BENCH_JVM_OPTS:--Xms256m -Xmx512m -Dio.netty.leakDetection.level=disabled}"
SKIP_BUILD="${SKIP_BUILD:-0}"
MVN_ARGS="${MVN_ARGS:-}"
KEEP="${KEEP:-0}"
RESULTS="${RESULTS:-}"

server_jar="${SERVER_JAR:-$root/server/target/tidings.jar}"
bench_jar="$root/bench/target/tidings-bench.jar"
work="$(mktemp -d "${TMPDIR:-/tmp}/tidings-push.XXXXXX")"
pids=()

log() { printf '[push.sh %s] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }

trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---------------------------------------------------------------- limits
# Every process started below inherits this: the machine allows 20,000 open files per process,
# and the idle scenario holds 19,000 connections in one server process.
hard="$(ulimit -Hn)"
want=20000
if [ "$hard" != unlimited ] && [ "$hard" -lt "$want" ]; then
  want="$hard"
fi
ulimit -n "$want" || log "WARNING: could not raise the open-file limit to $want (now $(ulimit -n))"
log "open-file limit: $(ulimit -n) per process"
if [ "$(ulimit -n)" -lt $((IDLE_CONNECTIONS + 200)) ] && [[ " $SCENARIOS " == *" idle "* ]]; then
  log "WARNING: ulimit -n $(ulimit -n) is too low for IDLE_CONNECTIONS=$IDLE_CONNECTIONS in one server"
fi

# ---------------------------------------------------------------- tools
need_install=()
if [[ " $TARGETS " == *" nchan "* && " $SCENARIOS " != " fanout " ]] || [[ " $SCENARIOS " == *" fanout "* && " $FANOUT_TARGETS " == *" nchan "* ]]; then
  command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || need_install+=(nginx)
  [ -f /usr/lib/nginx/modules/ngx_nchan_module.so ] || need_install+=(libnginx-mod-nchan)
fi
command -v ss >/dev/null 2>&1 || need_install+=(iproute2)
if [ "${#need_install[@]}" -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  log "installing ${need_install[*]} with apt-get"
  timeout 300 $sudo apt-get update -qq
  # policy-rc.d keeps the package from starting the system's nginx on port 80.
  DEBIAN_FRONTEND=noninteractive timeout 300 $sudo apt-get install -y -qq --no-install-recommends \
    "${need_install[@]}" >/dev/null
fi
NGINX="$(command -v nginx || echo /usr/sbin/nginx)"

# ---------------------------------------------------------------- build
if [ "$SKIP_BUILD" != 1 ]; then
  log "building server and bench jars"
  # shellcheck disable=SC2086
  timeout 600 ./mvnw -q -B -DskipTests $MVN_ARGS package -pl server,bench -am
fi
[ -f "$bench_jar" ] || { echo "missing $bench_jar (build failed?)" >&2; exit 1; }
if [[ " $TARGETS $FANOUT_TARGETS " == *" tidings "* ]] && [ ! -f "$server_jar" ]; then
  echo "missing $server_jar (build failed?)" >&2
  exit 1
fi

# ---------------------------------------------------------------- nginx + nchan
# Starts nginx with bench/nchan/nchan.conf on a free port; sets nchan_pid and nchan_url.
start_nchan() {
  local name="$1" dir="$work/nchan-$1" port
  port="$(free_port)"
  mkdir -p "$dir/logs" "$dir/tmp"
  chmod 755 "$work" "$dir"
  sed -e "s#@DIR@#$dir#g" -e "s#@PORT@#$port#g" "$root/bench/nchan/nchan.conf" > "$dir/nginx.conf"
  "$NGINX" -e "$dir/logs/error.log" -p "$dir" -c "$dir/nginx.conf" > "$dir/logs/stdout.log" 2>&1 &
  nchan_pid=$!
  pids+=("$nchan_pid")
  nchan_url="http://127.0.0.1:$port"
  for _ in $(seq 1 40); do
    if curl -s --max-time 2 -o /dev/null -X POST --data x "$nchan_url/pub?id=probe"; then
      return 0
    fi
    kill -0 "$nchan_pid" 2>/dev/null || break
    sleep 0.25
  done
  cat "$dir/logs/error.log" "$dir/logs/stdout.log" >&2 || true
  echo "nginx with nchan did not start" >&2
  return 1
}

# ---------------------------------------------------------------- runs
mkdir -p "$work/results"
started_at="$(date -u +%Y-%m-%dT%H:%M:%SZ)"
load_at_start="$(cut -d' ' -f1-3 /proc/loadavg)"
run_no=0
for scenario in $SCENARIOS; do
  transports="$TRANSPORTS"
  targets="$TARGETS"
  case "$scenario" in
    broadcast) args=(--subscribers "$SUBSCRIBERS" --topics 1 --rates "$RATES_BROADCAST" --warmup-rate "$WARMUP_RATE_BROADCAST") ;;
    topics) args=(--subscribers "$SUBSCRIBERS" --topics "$TOPICS" --rates "$RATES_TOPICS" --warmup-rate "$WARMUP_RATE_TOPICS") ;;
    idle) args=(--subscribers "$IDLE_CONNECTIONS" --topics "$IDLE_TOPICS" --idle-seconds "$IDLE_SECONDS") ;;
    fanout)
      args=(--subscribers "$FANOUT_SUBSCRIBERS" --topics 1 --rates "$RATES_FANOUT" --warmup-rate "$WARMUP_RATE_FANOUT")
      transports="$FANOUT_TRANSPORTS"
      # Paired: one PushBench run takes the list (ws,grpc) and alternates its steps.
      [ "$FANOUT_PAIRED" = 1 ] && transports="$(echo $FANOUT_TRANSPORTS | tr ' ' ',')"
      targets="$FANOUT_TARGETS" ;;
    *) echo "unknown scenario $scenario" >&2; exit 2 ;;
  esac
  for transport in $transports; do
    for target in $targets; do
      if [ "$target" != tidings ] && [[ ",$transport," == *",grpc,"* ]]; then
        log "leaving grpc out of $scenario on $target (no gRPC there)"
        transport="$(echo "$transport" | tr ',' '\n' | grep -vx grpc | paste -sd, -)"
        [ -n "$transport" ] || continue
      fi
      run_no=$((run_no + 1))
      name="$(printf '%02d' "$run_no")-$scenario-${transport//,/+}-$target"
      if pgrep -f surefire >/dev/null 2>&1; then
        log "NOTE: a Maven test run (surefire) is using the machine; figures will be noisy"
      fi
      log "run $name"
      common=(--transport "$transport" --scenario "$scenario" "${args[@]}"
        --step-seconds "$STEP_SECONDS" --warmup-seconds "$WARMUP_SECONDS" --warmup-max "$WARMUP_MAX"
        --p99-limit-ms "$P99_LIMIT_MS" --low-latency-ms "$LOW_LATENCY_MS"
        --payload-bytes "$PAYLOAD_BYTES" --per-worker "$PER_WORKER" --worker-jvm "$WORKER_JVM_OPTS"
        --grpc-streams-per-connection "$GRPC_STREAMS_PER_CONNECTION"
        --results "$work/results/$name.properties")
      # Generous bound: connecting 19,000, up to ~12 steps with drains.
      limit=900
      if [ "$target" = nchan ]; then
        start_nchan "$name"
        log "nginx+nchan on $nchan_url (master pid $nchan_pid)"
        # shellcheck disable=SC2086
        timeout --kill-after=10 "$limit" java $BENCH_JVM_OPTS -cp "$bench_jar" io.tidings.bench.push.PushBench \
          --target nchan --url "$nchan_url" --server-pid "$nchan_pid" "${common[@]}" &
        bpid=$!
      else
        jvm="$SERVER_JVM_OPTS"
        [ "$scenario" = idle ] && jvm="$SERVER_JVM_OPTS $IDLE_JVM_EXTRA"
        # shellcheck disable=SC2086
        timeout --kill-after=10 "$limit" java $BENCH_JVM_OPTS -cp "$bench_jar" io.tidings.bench.push.PushBench \
          --target tidings --tidings-jar "$server_jar" --server-jvm "$jvm" --serve-args "--store $TIDINGS_STORE" \
          --work "$work/tidings" "${common[@]}" &
        bpid=$!
      fi
      pids+=("$bpid")
      wait "$bpid" || log "WARNING: run $name failed (exit $?); its figures are partial or missing"
      forget "$bpid"
      if [ "$target" = nchan ]; then
        stop_pid "$nchan_pid"
      fi
    done
  done
done

# ---------------------------------------------------------------- report
nginx_version="$("$NGINX" -v 2>&1 | sed 's/^nginx version: //')"
nchan_version="$(dpkg-query -W -f='${Version}' libnginx-mod-nchan 2>/dev/null || echo '?')"
{
  echo
  echo "== Tidings push benchmark ($started_at, $(nproc) cores); load average at start: $load_at_start, at end: $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "   tidings: java $SERVER_JVM_OPTS -jar tidings.jar serve --store $TIDINGS_STORE (idle: + $IDLE_JVM_EXTRA)"
  echo "   nchan: $nginx_version + libnginx-mod-nchan $nchan_version, worker_processes 1 (bench/nchan/nchan.conf)"
  echo "   load generator: Netty, $PER_WORKER connections per worker process at most; everything on 127.0.0.1 sharing the cores"
  if [[ " $SCENARIOS " == *" fanout "* ]] || [[ " $TRANSPORTS " == *" grpc "* ]]; then
    echo "   grpc subscribers: Vert.x gRPC client over h2c, $GRPC_STREAMS_PER_CONNECTION Subscribe stream(s) per HTTP/2 connection"
    if [ "$FANOUT_PAIRED" = 1 ]; then
      echo "   fanout: paired steps, $FANOUT_TRANSPORTS on one server per target, each rate once per transport in turn"
    fi
  fi
  java -cp "$bench_jar" io.tidings.bench.push.PushReport "$work/results"
} | tee ${RESULTS:+"$RESULTS"}
