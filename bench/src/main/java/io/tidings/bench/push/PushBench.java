package io.tidings.bench.push;

import io.netty.handler.codec.http.DefaultHttpHeaders;
import io.netty.handler.codec.http.HttpHeaders;
import io.tidings.bench.ServerProcess;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStreamWriter;
import java.io.PrintWriter;
import java.io.Writer;
import java.net.URI;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.HdrHistogram.Histogram;

/**
 * Push benchmark coordinator: N WebSocket, SSE or gRPC subscribers, spread over worker processes
 * ({@link PushWorker}, {@link GrpcWorker} for gRPC; at most {@code --per-worker} connections
 * each), receive messages that this
 * process publishes over HTTP at a set rate or in rising steps. Per step it reports deliveries a
 * second, publish→receive latency (p50/p99/p99.9, HdrHistogram merged from the workers), missing
 * and duplicated sequence numbers per subscriber, the server's CPU time per delivery
 * (utime+stime of the server process and its children, /proc) and, after connecting, its RSS per
 * connection. Works against Tidings ({@code --target tidings}) and Nchan ({@code --target nchan}),
 * against a running server ({@code --url}, optionally {@code --server-pid} for CPU and memory) or
 * a Tidings server it starts itself ({@code --tidings-jar}). {@code --help} lists the options.
 *
 * <p>With several transports ({@code --transport ws,grpc}) it runs them as <em>paired steps</em>
 * on one server: each transport gets its own subscribers on its own topics (prefix
 * {@code P<transport>-}), all connected at once, and every rate is stepped once per transport,
 * one right after the other, so that the machine's noise and the server's JIT state hit them
 * alike. Each transport's results go to {@code --results} with {@code -<transport>} before the
 * extension.
 */
public final class PushBench {
  private static final String USAGE = """
      PushBench [options]   (java -cp tidings-bench.jar io.tidings.bench.push.PushBench ...)
      target:
        --target tidings|nchan    wire dialect (default tidings)
        --url URL                 base URL of a running server, http://HOST:PORT[/prefix]
        --server-pid PID          that server's pid (its children count too: nginx workers), for CPU and RSS
        --tidings-jar PATH        instead of --url: start 'java -jar PATH serve' on a free loopback port
        --server-jvm "FLAGS"      its JVM flags (default "-Xms1g -Xmx1g")
        --serve-args "ARGS"       extra 'serve' arguments (default "--store memory")
        --work DIR                data dir and server log for --tidings-jar (default: a temp dir)
        --nchan-pub/--nchan-ws/--nchan-sse PATH   Nchan locations (default /pub, /ws, /sse; channel in ?id=)
        --header "Name: value"    extra header on every request (repeatable), e.g. Authorization
      load:
        --transport ws|sse|grpc   (default ws; grpc: tidings.v1.Tidings/Subscribe over h2c, Tidings only);
                                  a list (ws,grpc) runs paired steps on one server, see above
        --scenario broadcast|topics|idle|fanout   sets defaults of the next four (default broadcast)
        --subscribers N           (broadcast/topics 10000, idle 19000, fanout 1000)
        --topics K                subscriber g listens to topic g %% K (broadcast/fanout 1, topics 1000, idle 1000)
        --rates R1,R2,...         msg/s steps, stop at the first step that misses a bound
                                  (broadcast 2,3,5,7,10,15,20,30,50,75,100;
                                   topics 100,500,1000,2000,4000,6000,8000,10000,15000,20000;
                                   fanout 10,20,30,50,75,100,150,200)
        --step-seconds S          publishing seconds per step (default 8)
        --warmup-seconds S        warm-up first, in 3 s chunks, not in the summary (default 6; 0 = none); it
                                  goes on until a JVM server's JIT spent < 0.3 s in a chunk, at most
        --warmup-max S            (default 36) seconds
        --warmup-rate R           its rate (default broadcast 2, topics 500, fanout 10)
        --p99-limit-ms MS         stop after a step whose p99 exceeds this (default 1000)
        --low-latency-ms MS       the summary also gives the best rate with p99 <= this (default 50)
        --drain-max S             longest wait for late deliveries after a step (default 10)
        --idle-seconds S          idle: seconds the connections are held while the server's CPU is read (default 10)
        --settle-seconds S        pause after connecting and between steps (default 2)
        --payload-bytes B         message size (default 100)
        --topic-prefix P          topic / channel names are P0, P1, ... (default push-)
      processes:
        --per-worker N            most connections per worker process (default 5000)
        --worker-threads T        event loops per worker (default 1)
        --park-micros US          each worker loop pauses this long before waiting for I/O, so that frames
                                  gather and the server does not pay a thread wake-up per delivery (default
                                  1000; 0 = wait at once; adds at most this to the latencies)
        --worker-jvm "FLAGS"      worker JVM flags (default "-Xms256m -Xmx768m -XX:+UseParallelGC
                                  -Dio.netty.leakDetection.level=disabled")
        --connect-concurrency C   connection attempts in flight per worker (default 100)
        --grpc-streams-per-connection S   gRPC: Subscribe calls sharing one HTTP/2 connection (default 1:
                                  one connection per subscriber, like independent services); at most
                                  the server's max concurrent streams (Vert.x's default: 100)
        --pub-connections C       publisher keep-alive connections (default 64)
      output:
        --label NAME              run name in the output (default TARGET/TRANSPORT/SCENARIO)
        --results FILE            write key=value results here
      """;

  private String target = "tidings";
  private String url;
  private long serverPid = -1;
  private Path tidingsJar;
  private String serverJvm = "-Xms1g -Xmx1g";
  private String serveArgs = "--store memory";
  private Path work;
  private String nchanPub = "/pub";
  private String nchanWs = "/ws";
  private String nchanSse = "/sse";
  private final List<String> headerArgs = new ArrayList<>();
  private String transport = "ws";
  private String scenario = "broadcast";
  private Integer subscribers;
  private Integer topics;
  private double[] rates;
  private double stepSeconds = 8;
  private double warmupSeconds = 6;
  private double warmupMax = 36;
  private Double warmupRate;
  private double p99LimitMs = 1000;
  private double lowLatencyMs = 50;
  private double drainMax = 10;
  private double idleSeconds = 10;
  private double settleSeconds = 2;
  private int payloadBytes = 100;
  private String topicPrefix = "push-";
  private int perWorker = 5000;
  private int workerThreads = 1;
  private long parkMicros = 1000;
  private String workerJvm = "-Xms256m -Xmx768m -XX:+UseParallelGC -Dio.netty.leakDetection.level=disabled";
  private int connectConcurrency = 100;
  private int grpcStreamsPerConnection = 1;
  private int pubConnections = 64;
  private String label;
  private Path resultsFile;

  private List<String> transports;
  private final List<Lane> lanes = new ArrayList<>();
  private Lane lane;
  // The current lane's (see use()).
  private Map<String, String> results = new LinkedHashMap<>();
  private List<Worker> workers = new ArrayList<>();
  private int connected;
  private List<Long> serverPids = List.of();

  /** One transport's subscribers, publisher, results and stepping state. */
  private static final class Lane {
    final String transport;
    final String label;
    final String topicPrefix;
    final Path resultsFile;
    final Map<String, String> results = new LinkedHashMap<>();
    final List<Worker> workers = new ArrayList<>();
    int connected;
    Publisher publisher;
    int steps;
    Step best;
    Step bestLow;
    Step first;
    String stopped = "all steps done";
    boolean done;

    Lane(String transport, String label, String topicPrefix, Path resultsFile) {
      this.transport = transport;
      this.label = label;
      this.topicPrefix = topicPrefix;
      this.resultsFile = resultsFile;
    }
  }

  /** Makes {@code l} the lane that the workers, results and step methods act on. */
  private void use(Lane l) {
    if (lane != null) {
      lane.connected = connected;
    }
    lane = l;
    transport = l.transport;
    label = l.label;
    topicPrefix = l.topicPrefix;
    resultsFile = l.resultsFile;
    results = l.results;
    workers = l.workers;
    connected = l.connected;
  }

  public static void main(String[] args) {
    PushBench b = new PushBench();
    try {
      b.parse(args);
    } catch (RuntimeException e) {
      System.err.println(e.getMessage());
      System.err.print(USAGE.replace("%%", "%"));
      System.exit(2);
    }
    int rc;
    try {
      rc = b.run();
    } catch (Exception e) {
      e.printStackTrace();
      rc = 1;
    }
    System.exit(rc);
  }

  private void parse(String[] args) {
    for (int i = 0; i < args.length; i++) {
      String a = args[i];
      if (a.equals("--help") || a.equals("-h")) {
        System.out.print(USAGE.replace("%%", "%"));
        System.exit(0);
      }
      if (i + 1 >= args.length) {
        throw new IllegalArgumentException("missing value for " + a);
      }
      String v = args[++i];
      switch (a) {
        case "--target" -> target = v;
        case "--url" -> url = v;
        case "--server-pid" -> serverPid = Long.parseLong(v);
        case "--tidings-jar" -> tidingsJar = Path.of(v);
        case "--server-jvm" -> serverJvm = v;
        case "--serve-args" -> serveArgs = v;
        case "--work" -> work = Path.of(v);
        case "--nchan-pub" -> nchanPub = v;
        case "--nchan-ws" -> nchanWs = v;
        case "--nchan-sse" -> nchanSse = v;
        case "--header" -> headerArgs.add(v);
        case "--transport" -> transport = v;
        case "--scenario" -> scenario = v;
        case "--subscribers" -> subscribers = Integer.parseInt(v);
        case "--topics" -> topics = Integer.parseInt(v);
        case "--rates" -> rates = Arrays.stream(v.split("[,\\s]+")).filter(x -> !x.isEmpty())
            .mapToDouble(Double::parseDouble).toArray();
        case "--step-seconds" -> stepSeconds = Double.parseDouble(v);
        case "--warmup-seconds" -> warmupSeconds = Double.parseDouble(v);
        case "--warmup-rate" -> warmupRate = Double.parseDouble(v);
        case "--warmup-max" -> warmupMax = Double.parseDouble(v);
        case "--p99-limit-ms" -> p99LimitMs = Double.parseDouble(v);
        case "--low-latency-ms" -> lowLatencyMs = Double.parseDouble(v);
        case "--drain-max" -> drainMax = Double.parseDouble(v);
        case "--idle-seconds" -> idleSeconds = Double.parseDouble(v);
        case "--settle-seconds" -> settleSeconds = Double.parseDouble(v);
        case "--payload-bytes" -> payloadBytes = Integer.parseInt(v);
        case "--topic-prefix" -> topicPrefix = v;
        case "--per-worker" -> perWorker = Integer.parseInt(v);
        case "--worker-threads" -> workerThreads = Integer.parseInt(v);
        case "--park-micros" -> parkMicros = Long.parseLong(v);
        case "--worker-jvm" -> workerJvm = v;
        case "--connect-concurrency" -> connectConcurrency = Integer.parseInt(v);
        case "--grpc-streams-per-connection" -> grpcStreamsPerConnection = Integer.parseInt(v);
        case "--pub-connections" -> pubConnections = Integer.parseInt(v);
        case "--label" -> label = v;
        case "--results" -> resultsFile = Path.of(v);
        default -> throw new IllegalArgumentException("unknown option " + a);
      }
    }
    transports = Arrays.stream(transport.split(",")).map(String::trim).filter(x -> !x.isEmpty()).distinct().toList();
    if (transports.isEmpty() || !List.of("ws", "sse", "grpc").containsAll(transports)) {
      throw new IllegalArgumentException("--transport must be ws, sse or grpc, or a list of them");
    }
    if (transports.contains("grpc") && !target.equals("tidings")) {
      throw new IllegalArgumentException("--transport grpc needs --target tidings");
    }
    if (grpcStreamsPerConnection < 1) {
      throw new IllegalArgumentException("--grpc-streams-per-connection must be at least 1");
    }
    if (!List.of("broadcast", "topics", "idle", "fanout").contains(scenario)) {
      throw new IllegalArgumentException("--scenario must be broadcast, topics, idle or fanout");
    }
    if (url == null && tidingsJar == null) {
      throw new IllegalArgumentException("give --url (a running server) or --tidings-jar (start one)");
    }
    if (tidingsJar != null && !target.equals("tidings")) {
      throw new IllegalArgumentException("--tidings-jar needs --target tidings");
    }
    switch (scenario) {
      case "broadcast" -> {
        subscribers = subscribers != null ? subscribers : 10_000;
        topics = topics != null ? topics : 1;
        rates = rates != null ? rates : new double[] {2, 3, 5, 7, 10, 15, 20, 30, 50, 75, 100};
        warmupRate = warmupRate != null ? warmupRate : 2;
      }
      case "fanout" -> {
        subscribers = subscribers != null ? subscribers : 1_000;
        topics = topics != null ? topics : 1;
        rates = rates != null ? rates : new double[] {10, 20, 30, 50, 75, 100, 150, 200};
        warmupRate = warmupRate != null ? warmupRate : 10;
      }
      case "topics" -> {
        subscribers = subscribers != null ? subscribers : 10_000;
        topics = topics != null ? topics : 1000;
        rates = rates != null ? rates
            : new double[] {100, 500, 1000, 2000, 4000, 6000, 8000, 10000, 15000, 20000};
        warmupRate = warmupRate != null ? warmupRate : 500;
      }
      default -> {
        subscribers = subscribers != null ? subscribers : 19_000;
        topics = topics != null ? topics : 1000;
        rates = new double[0];
        warmupRate = 0.0;
      }
    }
    if (transports.size() > 1 && scenario.equals("idle")) {
      throw new IllegalArgumentException("the idle scenario takes one transport");
    }
    boolean paired = transports.size() > 1;
    for (String t : transports) {
      String l = label == null ? target + "/" + t + "/" + scenario : paired ? label + "/" + t : label;
      Path f = resultsFile;
      if (f != null && paired) {
        String name = f.getFileName().toString();
        int dot = name.lastIndexOf('.');
        name = dot > 0 ? name.substring(0, dot) + "-" + t + name.substring(dot) : name + "-" + t;
        f = f.resolveSibling(name);
      }
      lanes.add(new Lane(t, l, paired ? topicPrefix + t + "-" : topicPrefix, f));
    }
    use(lanes.get(0));
  }

  // ------------------------------------------------------------------ the run

  private int run() throws Exception {
    ServerProcess server = null;
    Path tempDir = null;
    boolean finished = false;
    int rc = 0;
    try {
      if (tidingsJar != null) {
        if (work == null) {
          tempDir = Files.createTempDirectory("tidings-push");
        }
        Path dir = work != null ? work : tempDir;
        Files.createDirectories(dir);
        List<String> jvm = split(serverJvm);
        List<String> serve = split(serveArgs);
        Path data = dir.resolve("data-" + System.nanoTime());
        String name = lanes.size() > 1 ? target + "-" + String.join("+", transports) + "-" + scenario : label;
        Path log = dir.resolve("server-" + name.replace('/', '-') + ".log");
        server = ServerProcess.start(tidingsJar, jvm, serve, data, log, 120);
        url = server.baseUrl();
        serverPid = server.pid();
        info("started Tidings " + url + " (pid " + serverPid + ", " + serverJvm + ", serve " + serveArgs + "), log "
            + log);
      }
      URI base = URI.create(url);
      HttpHeaders extra = new DefaultHttpHeaders();
      for (String h : headerArgs) {
        int c = h.indexOf(':');
        extra.add(h.substring(0, c).trim(), h.substring(c + 1).trim());
      }
      Dialect dialect = new Dialect(target, base, nchanPub, nchanWs, nchanSse);
      for (Lane l : lanes) {
        use(l);
        describe();
      }
      use(lanes.get(0));

      // ---- baseline memory
      sleep(settleSeconds);
      if (serverPid > 0) {
        serverPids = ProcStats.tree(serverPid);
      }
      boolean jvmServer = serverPid > 0 && target.equals("tidings");
      long heap0 = scenario.equals("idle") && jvmServer ? ProcStats.jvmLiveHeapKb(serverPid) : -1;
      long rss0 = serverPid > 0 ? ProcStats.rssKb(ProcStats.tree(serverPid)) : -1;

      // ---- connect, one lane after the other: each lane's RSS growth is its own
      for (Lane l : lanes) {
        use(l);
        rss0 = connect(dialect, rss0);
      }

      if (scenario.equals("idle")) {
        idle(jvmServer, heap0);
      } else {
        for (Lane l : lanes) {
          use(l);
          l.publisher = new Publisher(dialect, topics, topicPrefix, payloadBytes, pubConnections, extra);
          l.publisher.warmConnections(Math.min(pubConnections, 16));
        }
        rc = steps();
      }
      for (Lane l : lanes) {
        use(l);
        put("run.loadavg_end", loadavg());
      }
      finished = true;
    } finally {
      for (Lane l : lanes) {
        use(l);
        if (l.publisher != null) {
          l.publisher.close();
        }
        stopWorkers();
      }
      if (server != null) {
        server.close();
      }
      for (Lane l : lanes) {
        use(l);
        writeResults();
      }
      if (tempDir != null && finished) {
        deleteTree(tempDir);
      } else if (tempDir != null) {
        System.err.println("server data and log kept in " + tempDir);
      }
    }
    return rc;
  }

  /** The current lane's run.* results. */
  private void describe() {
    put("run.label", label);
    put("run.target", target);
    put("run.transport", transport);
    put("run.scenario", scenario);
    put("run.subscribers", subscribers);
    put("run.topics", topics);
    put("run.payload_bytes", payloadBytes);
    put("run.park_micros", parkMicros);
    if (transport.equals("grpc")) {
      put("run.grpc_streams_per_connection", grpcStreamsPerConnection);
    }
    put("run.url", url);
    put("run.started", OffsetDateTime.now(ZoneOffset.UTC).withNano(0).toString());
    put("run.cores", Runtime.getRuntime().availableProcessors());
    put("run.loadavg_start", loadavg());
    if (tidingsJar != null) {
      put("run.server_jvm", serverJvm);
      put("run.serve_args", serveArgs);
    }
    if (lanes.size() > 1) {
      put("run.paired", String.join(",", transports));
    }
    info(String.format(Locale.ROOT, "%s: %d %s subscribers on %d topic(s) of %s at %s, io=%s", label, subscribers,
        transport, topics, target, url, Net.transportName()));
  }

  /**
   * Connects the current lane's subscribers; RSS before ({@code rss0}) and after give its bytes
   * per connection. Returns the RSS after.
   */
  private long connect(Dialect dialect, long rss0) throws Exception {
    if (serverPid > 0) {
      put("server.pids", serverPids.toString().replace(" ", ""));
    }
    put("server.rss_idle_kb", rss0);
    long c0 = System.nanoTime();
    startWorkers(dialect);
    double connectS = (System.nanoTime() - c0) / 1e9;
    put("connect.connected", connected);
    put("connect.failed", subscribers - connected);
    put("connect.seconds", fmt(connectS, 1));
    info(String.format(Locale.ROOT, "connected %d of %d subscribers in %.1f s (%d worker processes, %s retried"
        + " attempts)", connected, subscribers, connectS, workers.size(), results.get("connect.retries")));
    if (connected == 0) {
      throw new IOException("no subscriber could connect; see the messages above");
    }
    sleep(settleSeconds);
    if (serverPid > 0) {
      serverPids = ProcStats.tree(serverPid);
      long rss1 = ProcStats.rssKb(serverPids);
      put("server.rss_connected_kb", rss1);
      put("server.rss_per_conn_bytes", (rss1 - rss0) * 1024 / Math.max(1, connected));
      info(String.format(Locale.ROOT, "server RSS %d MiB idle -> %d MiB with %d connections: %d bytes/connection",
          rss0 / 1024, rss1 / 1024, connected, (rss1 - rss0) * 1024 / Math.max(1, connected)));
      return rss1;
    }
    return rss0;
  }

  private void idle(boolean jvmServer, long heap0) throws Exception {
    if (serverPid <= 0) {
      info("idle: no --server-pid, nothing to measure but the connections");
      return;
    }
    long cpu0 = ProcStats.cpuMicros(serverPids);
    long t0 = System.nanoTime();
    sleep(idleSeconds);
    long cpu1 = ProcStats.cpuMicros(serverPids);
    double wall = (System.nanoTime() - t0) / 1e9;
    double cpuPct = 100.0 * (cpu1 - cpu0) / 1e6 / wall;
    put("idle.server_cpu_pct", fmt(cpuPct, 2));
    String stats = sumStats();
    put("idle.worker_stats", stats);
    long rss = ProcStats.rssKb(serverPids);
    put("idle.rss_kb", rss);
    long rss0 = Long.parseLong(results.get("server.rss_idle_kb"));
    put("idle.rss_per_conn_bytes", (rss - rss0) * 1024 / Math.max(1, connected));
    String line = String.format(Locale.ROOT, "idle: %d connections held %.0f s: server CPU %.2f%%, RSS %d MiB -> %d MiB"
        + " = %d bytes/connection", connected, wall, cpuPct, rss0 / 1024, rss / 1024,
        (rss - rss0) * 1024 / Math.max(1, connected));
    if (jvmServer && heap0 > 0) {
      long heap1 = ProcStats.jvmLiveHeapKb(serverPid);
      long rssAfterGc = ProcStats.rssKb(serverPids);
      if (heap1 > 0) {
        put("idle.heap_live_before_kb", heap0);
        put("idle.heap_live_after_kb", heap1);
        put("idle.heap_live_per_conn_bytes", (heap1 - heap0) * 1024 / Math.max(1, connected));
        put("idle.rss_after_gc_kb", rssAfterGc);
        line += String.format(Locale.ROOT, "; live heap after full GC %d MiB -> %d MiB = %d bytes/connection",
            heap0 / 1024, heap1 / 1024, (heap1 - heap0) * 1024 / Math.max(1, connected));
      }
    }
    info(line + " [" + stats + "]");
  }

  /**
   * The warm-up and the rate steps, each rate once per lane in turn; returns 0 (a missed bound is
   * a result, not an error).
   */
  private int steps() throws Exception {
    if (warmupSeconds > 0 && warmupRate > 0) {
      // In 3 s chunks (per lane): at least warmupSeconds, then on until the server's JIT (a
      // JVM's) spent less than 0.3 s compiling in the last round, at most warmupMax. Nchan needs
      // no more than the minimum; a JVM takes 20-40 s of load to settle on two cores.
      boolean jvm = serverPid > 0 && target.equals("tidings");
      double jitBefore = jvm ? ProcStats.jitSeconds(serverPid) : -1;
      double total = 0;
      Map<Lane, Step> last = new LinkedHashMap<>();
      String settled;
      while (true) {
        double chunk = Math.min(3, Math.max(1, warmupSeconds));
        for (Lane l : lanes) {
          use(l);
          last.put(l, step(l.publisher, warmupRate, chunk));
        }
        total += chunk;
        double jitNow = jvm ? ProcStats.jitSeconds(serverPid) : -1;
        double jitDelta = jitBefore >= 0 && jitNow >= 0 ? jitNow - jitBefore : -1;
        jitBefore = jitNow;
        for (Lane l : lanes) {
          info("warm-up  " + (lanes.size() > 1 ? l.transport + " " : "") + last.get(l).line()
              + (jitDelta >= 0 ? String.format(Locale.ROOT, "  (server JIT %.2f s)", jitDelta) : ""));
        }
        if (total >= warmupSeconds && jitDelta < 0.3) {
          settled = jitDelta < 0 ? "n/a" : "yes";
          break;
        }
        if (total >= warmupMax) {
          settled = "no";
          break;
        }
      }
      for (Lane l : lanes) {
        use(l);
        record("warmup", last.get(l));
        put("warmup.total_seconds", fmt(total, 0));
        put("warmup.jit_settled", settled);
      }
      sleep(settleSeconds);
    }
    info((lanes.size() > 1 ? "     " : "") + Step.HEADER);
    for (double rate : rates) {
      boolean any = false;
      for (Lane l : lanes) {
        if (l.done) {
          continue;
        }
        any = true;
        use(l);
        Step s = step(l.publisher, rate, stepSeconds);
        l.steps++;
        record("step." + l.steps, s);
        info((lanes.size() > 1 ? String.format(Locale.ROOT, "%-4s ", l.transport) : "") + s.line());
        if (l.first == null) {
          l.first = s;
        }
        boolean ok = s.keptUp && s.p99Ms() <= p99LimitMs;
        if (ok && (l.best == null || s.deliveredPerS > l.best.deliveredPerS)) {
          l.best = s;
        }
        if (s.keptUp && s.p99Ms() <= lowLatencyMs && (l.bestLow == null || s.deliveredPerS > l.bestLow.deliveredPerS)) {
          l.bestLow = s;
        }
        if (!ok) {
          l.stopped = s.keptUp ? String.format(Locale.ROOT, "p99 %.0f ms > %.0f ms at %s msg/s", s.p99Ms(), p99LimitMs,
              fmt(rate, 0)) : "deliveries did not keep up at " + fmt(rate, 0) + " msg/s (" + s.why + ")";
          l.done = true;
        }
        sleep(settleSeconds);
      }
      if (!any) {
        break;
      }
    }
    for (Lane l : lanes) {
      use(l);
      summarize(l);
    }
    return 0;
  }

  /** The current lane's summary.* results, from its steps. */
  private void summarize(Lane l) {
    int n = l.steps;
    Step first = l.first;
    Step best = l.best;
    Step bestLow = l.bestLow;
    String stopped = l.stopped;
    put("steps", n);
    put("summary.stopped", stopped);
    put("summary.p99_limit_ms", fmt(p99LimitMs, 0));
    put("summary.low_latency_ms", fmt(lowLatencyMs, 0));
    if (first != null) {
      put("summary.first_rate", fmt(first.rate, 0));
      put("summary.first_p50_ms", fmt(first.p50Ms(), 1));
      put("summary.first_p99_ms", fmt(first.p99Ms(), 1));
    }
    if (best != null) {
      put("summary.max_rate", fmt(best.rate, 0));
      put("summary.max_delivered_per_s", fmt(best.deliveredPerS, 0));
      put("summary.max_p50_ms", fmt(best.p50Ms(), 1));
      put("summary.max_p99_ms", fmt(best.p99Ms(), 1));
      put("summary.max_p999_ms", fmt(best.p999Ms(), 1));
      put("summary.max_cpu_us_per_delivery", fmt(best.cpuUsPerDelivery(), 2));
    }
    if (bestLow != null) {
      put("summary.low_rate", fmt(bestLow.rate, 0));
      put("summary.low_delivered_per_s", fmt(bestLow.deliveredPerS, 0));
      put("summary.low_p99_ms", fmt(bestLow.p99Ms(), 1));
    }
    long missing = 0;
    long dup = 0;
    long gaps = 0;
    long outOfOrder = 0;
    for (int i = 1; i <= n; i++) {
      missing += Long.parseLong(results.get("step." + i + ".missing"));
      dup += Long.parseLong(results.get("step." + i + ".dup"));
      gaps += Long.parseLong(results.get("step." + i + ".gaps"));
      outOfOrder += Long.parseLong(results.get("step." + i + ".out_of_order"));
    }
    put("summary.missing", missing);
    put("summary.dup", dup);
    put("summary.gaps", gaps);
    put("summary.out_of_order", outOfOrder);
    String who = lanes.size() > 1 ? l.transport + ": " : "";
    info(who + "stopped: " + stopped);
    if (best != null) {
      info(String.format(Locale.ROOT,
          "%sbest within p99 <= %.0f ms: %s msg/s -> %.0f deliveries/s, p99 %.1f ms, %.2f µs server CPU/delivery",
          who, p99LimitMs, fmt(best.rate, 0), best.deliveredPerS, best.p99Ms(), best.cpuUsPerDelivery()));
    }
    if (bestLow != null) {
      info(String.format(Locale.ROOT, "%sbest within p99 <= %.0f ms: %s msg/s -> %.0f deliveries/s", who, lowLatencyMs,
          fmt(bestLow.rate, 0), bestLow.deliveredPerS));
    }
  }

  /** One step's figures. */
  static final class Step {
    static final String HEADER = String.format(Locale.ROOT,
        "%8s %8s %8s %10s %9s %8s %8s %8s %8s %9s %7s %6s %6s %7s %6s %6s %s",
        "msg/s", "pub/s", "ack99 ms", "deliv/s", "offered", "p50 ms", "p99 ms", "p99.9 ms", "max ms", "srv us/d",
        "srv %", "cli %", "miss", "subsMs", "dup", "open", "ok");
    double rate;
    double seconds;
    Publisher.Result pub;
    long expected;
    long deliveries;
    long missing;
    long subsMissing;
    long maxMissing;
    long dup;
    long gaps;
    long outOfOrder;
    long open;
    long closed4008;
    long closedOther;
    long disconnects;
    long errors;
    long resets;
    double deliveredPerS;
    double offeredPerS;
    double spanSeconds;
    long serverCpuMicros;
    double serverCpuPct;
    double clientCpuPct;
    Histogram hist = new Histogram(3);
    boolean keptUp;
    String why = "";

    double p50Ms() {
      return hist.getTotalCount() == 0 ? Double.NaN : hist.getValueAtPercentile(50) / 1000.0;
    }

    double p99Ms() {
      return hist.getTotalCount() == 0 ? Double.POSITIVE_INFINITY : hist.getValueAtPercentile(99) / 1000.0;
    }

    double p999Ms() {
      return hist.getTotalCount() == 0 ? Double.NaN : hist.getValueAtPercentile(99.9) / 1000.0;
    }

    double maxMs() {
      return hist.getTotalCount() == 0 ? Double.NaN : hist.getMaxValue() / 1000.0;
    }

    double cpuUsPerDelivery() {
      return deliveries == 0 ? Double.NaN : (double) serverCpuMicros / deliveries;
    }

    String line() {
      return String.format(Locale.ROOT,
          "%8s %8.0f %8.1f %10.0f %9.0f %8.1f %8.1f %8.1f %8.1f %9.2f %7.1f %6.1f %6d %7d %6d %6d %s",
          fmt(rate, 0), pub.published / Math.max(seconds, 1e-9), pub.ack.getValueAtPercentile(99) / 1000.0,
          deliveredPerS, offeredPerS, p50Ms(), p99Ms(), p999Ms(),
          maxMs(), cpuUsPerDelivery(), serverCpuPct, clientCpuPct, missing, subsMissing, dup, open,
          keptUp ? "yes" : "NO " + why)
          + (pub.errors > 0 ? "  publish errors " + pub.errors + " (" + pub.firstError + ")" : "")
          + (closed4008 + closedOther + disconnects > 0 ? "  closed 4008=" + closed4008 + " other=" + closedOther
              + " dropped=" + disconnects : "")
          + (errors > 0 ? "  error frames " + errors : "")
          + (gaps + outOfOrder > 0 ? "  offsets skipped " + gaps + ", out of order " + outOfOrder : "")
          + (resets > 0 ? "  resets " + resets : "");
    }
  }

  private Step step(Publisher publisher, double rate, double seconds) throws Exception {
    Step s = new Step();
    s.rate = rate;
    s.seconds = seconds;
    all("MARK", "OK");
    List<Long> clientPids = clientPids();
    long cpu0 = ProcStats.cpuMicros(serverPids);
    long cli0 = ProcStats.cpuMicros(clientPids);
    long t0Micros = Payload.nowMicros();
    long t0 = System.nanoTime();
    s.pub = publisher.run(rate, seconds).get((long) seconds + 180, TimeUnit.SECONDS);
    StringBuilder hi = new StringBuilder();
    for (long h : s.pub.hi) {
      if (hi.length() > 0) {
        hi.append(',');
      }
      hi.append(h);
    }
    long expected = 0;
    for (Worker w : workers) {
      String r = w.ask("EXPECT " + hi, "EXPECTED");
      expected += Long.parseLong(r.substring("EXPECTED ".length()).trim());
    }
    s.expected = expected;
    // Drain: wait for late deliveries until all arrived, none arrived for 2 s, or drainMax.
    long drainStart = System.nanoTime();
    long lastProgress = drainStart;
    long seen = -1;
    while (true) {
      long delivered = 0;
      for (Worker w : workers) {
        String[] f = w.ask("COUNT", "COUNT").split(" ");
        delivered += Long.parseLong(f[1]);
      }
      long now = System.nanoTime();
      if (delivered >= expected) {
        break;
      }
      if (delivered != seen) {
        seen = delivered;
        lastProgress = now;
      }
      if (now - lastProgress > 2_000_000_000L || now - drainStart > (long) (drainMax * 1e9)) {
        break;
      }
      Thread.sleep(100);
    }
    long cpu1 = ProcStats.cpuMicros(serverPids);
    long cli1 = ProcStats.cpuMicros(clientPids);
    double wall = (System.nanoTime() - t0) / 1e9;
    long lastMicros = 0;
    for (Worker w : workers) {
      Map<String, String> kv = w.askKv("END", "RESULT");
      s.deliveries += l(kv, "deliveries");
      s.missing += l(kv, "missing");
      s.subsMissing += l(kv, "subs_missing");
      s.maxMissing = Math.max(s.maxMissing, l(kv, "max_missing"));
      s.dup += l(kv, "dup");
      s.gaps += l(kv, "gaps");
      s.outOfOrder += l(kv, "out_of_order");
      s.open += l(kv, "open");
      s.closed4008 += l(kv, "closed_4008");
      s.closedOther += l(kv, "closed_other");
      s.disconnects += l(kv, "disconnects");
      s.errors += l(kv, "errors");
      s.resets += l(kv, "resets");
      lastMicros = Math.max(lastMicros, l(kv, "last_micros"));
      byte[] h = Base64.getDecoder().decode(kv.get("hist"));
      s.hist.add(Histogram.decodeFromCompressedByteBuffer(ByteBuffer.wrap(h), 0));
    }
    s.serverCpuMicros = serverPids.isEmpty() ? 0 : cpu1 - cpu0;
    s.serverCpuPct = serverPids.isEmpty() ? Double.NaN : 100.0 * (cpu1 - cpu0) / 1e6 / wall;
    s.clientCpuPct = 100.0 * (cli1 - cli0) / 1e6 / wall;
    // Deliveries a second over the step's nominal publishing time, or longer when publishing or
    // the deliveries lagged behind it.
    double span = Math.max(Math.max(seconds, s.pub.seconds), (lastMicros - t0Micros) / 1e6);
    s.spanSeconds = span;
    s.deliveredPerS = s.deliveries / Math.max(span, 1e-9);
    s.offeredPerS = s.expected / Math.max(seconds, 1e-9);
    List<String> why = new ArrayList<>();
    if (s.pub.published < 0.95 * s.pub.due) {
      why.add("published " + s.pub.published + " of " + s.pub.due);
    }
    long distinct = s.expected - s.missing;
    if (distinct < 0.99 * s.expected) {
      why.add("missing " + s.missing + " of " + s.expected);
    }
    if (s.deliveredPerS < 0.9 * s.offeredPerS) {
      why.add("delivered/s < 90% of offered");
    }
    s.keptUp = why.isEmpty() && s.expected > 0;
    if (s.expected == 0) {
      why.add("nothing expected");
    }
    s.why = String.join("; ", why);
    return s;
  }

  private void record(String key, Step s) {
    put(key + ".rate", fmt(s.rate, 2));
    put(key + ".seconds", fmt(s.seconds, 1));
    put(key + ".published", s.pub.published);
    put(key + ".published_per_s", fmt(s.pub.published / Math.max(s.seconds, 1e-9), 1));
    put(key + ".publish_errors", s.pub.errors);
    put(key + ".publish_ack_p99_ms", fmt(s.pub.ack.getValueAtPercentile(99) / 1000.0, 2));
    put(key + ".expected", s.expected);
    put(key + ".deliveries", s.deliveries);
    put(key + ".delivered_per_s", fmt(s.deliveredPerS, 0));
    put(key + ".offered_per_s", fmt(s.offeredPerS, 0));
    put(key + ".span_s", fmt(s.spanSeconds, 2));
    put(key + ".p50_ms", fmt(s.p50Ms(), 2));
    put(key + ".p99_ms", fmt(s.p99Ms(), 2));
    put(key + ".p999_ms", fmt(s.p999Ms(), 2));
    put(key + ".max_ms", fmt(s.maxMs(), 2));
    put(key + ".missing", s.missing);
    put(key + ".subs_missing", s.subsMissing);
    put(key + ".max_missing_per_sub", s.maxMissing);
    put(key + ".dup", s.dup);
    put(key + ".gaps", s.gaps);
    put(key + ".out_of_order", s.outOfOrder);
    put(key + ".open", s.open);
    put(key + ".closed_4008", s.closed4008);
    put(key + ".closed_other", s.closedOther);
    put(key + ".dropped", s.disconnects);
    put(key + ".error_frames", s.errors);
    put(key + ".server_cpu_ms", s.serverCpuMicros / 1000);
    put(key + ".server_cpu_us_per_delivery", fmt(s.cpuUsPerDelivery(), 2));
    put(key + ".server_cpu_pct", fmt(s.serverCpuPct, 1));
    put(key + ".client_cpu_pct", fmt(s.clientCpuPct, 1));
    put(key + ".kept_up", s.keptUp);
    if (!s.keptUp) {
      put(key + ".why", s.why);
    }
  }

  // ------------------------------------------------------------------ workers

  private static final class Worker {
    final int index;
    final Process process;
    final PrintWriter in;
    final BlockingQueue<String> lines = new LinkedBlockingQueue<>();

    Worker(int index, Process process) {
      this.index = index;
      this.process = process;
      this.in = new PrintWriter(new OutputStreamWriter(process.getOutputStream(), StandardCharsets.US_ASCII), true);
      Thread t = new Thread(() -> {
        try (BufferedReader r = new BufferedReader(
            new InputStreamReader(process.getInputStream(), StandardCharsets.US_ASCII))) {
          String line;
          while ((line = r.readLine()) != null) {
            lines.add(line);
          }
        } catch (IOException e) {
          // ends below
        }
        lines.add("\u0000EOF");
      }, "worker-" + index + "-reader");
      t.setDaemon(true);
      t.start();
    }

    private static final java.util.regex.Pattern PROTOCOL =
        java.util.regex.Pattern.compile("^(READY|OK|EXPECTED|COUNT|RESULT|STATS|BYE|ERROR)\\b.*");

    String next(String expectPrefix, long timeoutSeconds) throws Exception {
      long deadline = System.nanoTime() + timeoutSeconds * 1_000_000_000L;
      String line;
      while (true) {
        line = lines.poll(Math.max(0, deadline - System.nanoTime()), TimeUnit.NANOSECONDS);
        // Whatever the worker's JVM itself prints on stdout (JFR, -Xlog) is passed on, not parsed.
        if (line != null && !line.equals("\u0000EOF") && !PROTOCOL.matcher(line).matches()) {
          System.err.println("[worker " + index + "] " + line);
          continue;
        }
        break;
      }
      if (line == null) {
        throw new IOException("worker " + index + " did not answer within " + timeoutSeconds + " s (wanted "
            + expectPrefix + ")");
      }
      if (line.equals("\u0000EOF")) {
        throw new IOException("worker " + index + " exited (" + (process.isAlive() ? "?" : process.waitFor()) + ")");
      }
      if (!line.startsWith(expectPrefix)) {
        throw new IOException("worker " + index + " answered '" + truncate(line) + "', wanted " + expectPrefix);
      }
      return line;
    }

    String ask(String cmd, String expectPrefix) throws Exception {
      in.println(cmd);
      return next(expectPrefix, 120);
    }

    Map<String, String> askKv(String cmd, String expectPrefix) throws Exception {
      return kv(ask(cmd, expectPrefix));
    }
  }

  private void startWorkers(Dialect d) throws Exception {
    int n = (subscribers + perWorker - 1) / perWorker;
    int per = (subscribers + n - 1) / n;
    String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
    String cp = System.getProperty("java.class.path");
    int first = 0;
    for (int i = 0; i < n; i++) {
      int count = Math.min(per, subscribers - first);
      List<String> cmd = new ArrayList<>();
      cmd.add(java);
      cmd.addAll(split(workerJvm));
      cmd.addAll(List.of("-cp", cp));
      if (transport.equals("grpc")) {
        cmd.addAll(List.of(GrpcWorker.class.getName(), "--url", url,
            "--streams-per-connection", Integer.toString(grpcStreamsPerConnection)));
      } else {
        cmd.addAll(List.of(PushWorker.class.getName(), "--url", url, "--target", target, "--transport", transport,
            "--nchan-pub", nchanPub, "--nchan-ws", nchanWs, "--nchan-sse", nchanSse));
      }
      cmd.addAll(List.of("--first", Integer.toString(first), "--count", Integer.toString(count),
          "--topics", Integer.toString(topics), "--topic-prefix", topicPrefix,
          "--threads", Integer.toString(workerThreads), "--park-micros", Long.toString(parkMicros),
          "--connect-concurrency", Integer.toString(connectConcurrency)));
      for (String h : headerArgs) {
        cmd.add("--header");
        cmd.add(h);
      }
      Process p = new ProcessBuilder(cmd).redirectError(ProcessBuilder.Redirect.INHERIT).start();
      workers.add(new Worker(i, p));
      first += count;
    }
    connected = 0;
    long retries = 0;
    long connections = 0;
    List<String> ios = new ArrayList<>();
    for (Worker w : workers) {
      Map<String, String> kv = kv(w.next("READY", 900));
      connected += (int) l(kv, "connected");
      retries += l(kv, "retries");
      connections += l(kv, "connections");
      ios.add(kv.get("io"));
    }
    if (transport.equals("grpc")) {
      put("run.grpc_connections", connections);
    }
    put("connect.retries", retries);
    put("connect.workers", workers.size());
    put("connect.worker_io", String.join(",", ios));
  }

  private void stopWorkers() {
    for (Worker w : workers) {
      try {
        w.in.println("QUIT");
      } catch (RuntimeException e) {
        // gone
      }
    }
    for (Worker w : workers) {
      try {
        if (!w.process.waitFor(30, TimeUnit.SECONDS)) {
          w.process.destroyForcibly();
        }
      } catch (InterruptedException e) {
        w.process.destroyForcibly();
        Thread.currentThread().interrupt();
      }
    }
    workers.clear();
  }

  private void all(String cmd, String expectPrefix) throws Exception {
    for (Worker w : workers) {
      w.in.println(cmd);
    }
    for (Worker w : workers) {
      w.next(expectPrefix, 120);
    }
  }

  private String sumStats() throws Exception {
    Map<String, Long> sum = new LinkedHashMap<>();
    for (Worker w : workers) {
      Map<String, String> kv = w.askKv("STATS", "STATS");
      for (Map.Entry<String, String> e : kv.entrySet()) {
        sum.merge(e.getKey(), Long.parseLong(e.getValue()), Long::sum);
      }
    }
    StringBuilder sb = new StringBuilder();
    sum.forEach((k, v) -> sb.append(sb.length() > 0 ? " " : "").append(k).append('=').append(v));
    return sb.toString();
  }

  private List<Long> clientPids() {
    List<Long> pids = new ArrayList<>();
    pids.add(ProcessHandle.current().pid());
    for (Worker w : workers) {
      pids.add(w.process.pid());
    }
    return pids;
  }

  // ------------------------------------------------------------------ helpers

  private static Map<String, String> kv(String line) {
    Map<String, String> m = new LinkedHashMap<>();
    for (String f : line.split(" ")) {
      int eq = f.indexOf('=');
      if (eq > 0) {
        m.put(f.substring(0, eq), f.substring(eq + 1));
      }
    }
    return m;
  }

  private static long l(Map<String, String> kv, String k) {
    String v = kv.get(k);
    return v == null ? 0 : Long.parseLong(v);
  }

  private static String truncate(String s) {
    return s.length() > 200 ? s.substring(0, 200) + "…" : s;
  }

  static List<String> split(String s) {
    List<String> out = new ArrayList<>();
    for (String p : s.trim().split("\\s+")) {
      if (!p.isEmpty()) {
        out.add(p);
      }
    }
    return out;
  }

  static String fmt(double v, int decimals) {
    if (Double.isNaN(v) || Double.isInfinite(v)) {
      return "-";
    }
    return String.format(Locale.ROOT, "%." + decimals + "f", v);
  }

  private static void deleteTree(Path dir) {
    try (java.util.stream.Stream<Path> paths = Files.walk(dir)) {
      paths.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
    } catch (IOException | RuntimeException e) {
      // leave it
    }
  }

  private static String loadavg() {
    try {
      String[] f = Files.readString(Path.of("/proc/loadavg")).trim().split(" ");
      return f[0] + "," + f[1] + "," + f[2];
    } catch (IOException | RuntimeException e) {
      return "-";
    }
  }

  private static void sleep(double seconds) throws InterruptedException {
    if (seconds > 0) {
      Thread.sleep((long) (seconds * 1000));
    }
  }

  private void put(String k, Object v) {
    results.put(k, String.valueOf(v));
  }

  private void info(String s) {
    System.out.println("[push " + java.time.LocalTime.now().withNano(0) + "] " + s);
    System.out.flush();
  }

  private void writeResults() {
    if (resultsFile == null) {
      return;
    }
    try {
      if (resultsFile.getParent() != null) {
        Files.createDirectories(resultsFile.getParent());
      }
      try (Writer w = Files.newBufferedWriter(resultsFile, StandardCharsets.UTF_8)) {
        for (Map.Entry<String, String> e : results.entrySet()) {
          w.write(e.getKey() + "=" + e.getValue().replace("\n", " ") + "\n");
        }
      }
    } catch (IOException e) {
      System.err.println("could not write " + resultsFile + ": " + e);
    }
  }
}
