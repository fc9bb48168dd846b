package io.tidings.bench.webhooks;

import io.tidings.bench.BenchArgs;

import io.tidings.bench.ServerProcess;
import io.tidings.bench.push.ProcStats;
import io.vertx.core.json.JsonObject;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.io.PrintStream;
import java.io.PrintWriter;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.HdrHistogram.Histogram;

/**
 * Webhook delivery throughput of Tidings to a local receiver with many endpoints, beside a plain
 * HTTP POST loop against the same receiver in the same invocation.
 *
 * <ol>
 *   <li>Starts {@link WebhookReceiver} in its own JVM (answers 204, counts, measures lag).
 *   <li>For each batch size ({@code --batches}, default 1 and 100): starts a fresh Tidings server
 *       ({@code webhooks.allow_targets: [127.0.0.1/32]}, fresh SQLite data dir), registers
 *       {@code --endpoints} endpoints {@code http://127.0.0.1:P/hook/<i>} with {@code batch.max_events}
 *       set, warms it up under a backlog until the delivery rate and its JIT settle, then:
 *       <ul>
 *         <li><b>saturation</b>: publishes a fixed number of events (sized from the warm-up rate to
 *             take about {@code --duration} seconds to deliver) as fast as it can, and measures
 *             delivered events/s and requests/s at the receiver between 10% and 90% of the
 *             expected deliveries;
 *         <li><b>lag</b>: publishes at {@code --lag-load} (0.5) of that rate for {@code
 *             --lag-seconds}, and reports the publish-to-receipt lag percentiles.
 *       </ul>
 *   <li>After the first case, the baseline: {@code --baseline-concurrency} closed POST loops from
 *       this JVM to {@code /base/<i>} on the same receiver, with the body of a one-event webhook
 *       request, for {@code --duration} seconds.
 * </ol>
 */
public final class WebhookBench {
  private static final String USAGE = """
      WebhookBench [options]
        --tidings-jar PATH      server fat jar (default server/target/tidings.jar)
        --serve-args "ARGS"     extra arguments for 'tidings serve' (diagnostics, e.g. "--store memory")
        --server-jvm "FLAGS"    server JVM flags (default "-Xms1g -Xmx1g")
        --receiver-jvm "FLAGS"  receiver JVM flags (default "-Xms256m -Xmx512m")
        --endpoints N           webhook endpoints (default 100)
        --topics MODE           shared: every endpoint subscribes to one topic (each event goes to all);
                                per-endpoint: endpoint i has topic bench/wh/i (default shared)
        --batches LIST          batch.max_events of the endpoints, one Tidings case each (default 1,100)
        --duration S            seconds the saturation phase should take, and of the baseline (default 20)
        --warmup S / --warmup-max S   warm-up under a backlog: at least / at most (default 15 / 90); in 3 s
                                steps until two agree within 15% and the server's JIT is (nearly) idle
        --lag-load F            the lag phase publishes at F x the saturation rate (default 0.5; 0 = no lag phase)
        --lag-seconds S         publishing seconds of the lag phase (default 10)
        --events N              events to publish in the saturation phase (default: sized from the warm-up)
        --data-bytes B          bytes of each event's data (default 100)
        --publish-batch N       most events per publish request (default 100)
        --publish-connections N publish connections (default 16; one request per topic in flight)
        --max-in-flight N       webhooks.max_in_flight of the server (default: the server's, 64)
        --receiver-ports N      ports the receiver listens on; endpoint i uses port i mod N (default 1)
        --receiver-loops N      receiver event loops (default 1)
        --verify                the receiver checks every signature (HMAC-SHA256)
        --baseline-concurrency N  baseline loops (default: --endpoints)
        --baseline-connections N  baseline connections over all ports (default: --baseline-concurrency)
        --skip-baseline / --skip-tidings
        --work DIR              data dirs and logs (default: a temp dir, deleted after)
        --results FILE          also write the figures as key=value lines
      """;
  private static final HttpClient HTTP = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
  private static final PrintStream OUT = System.out;

  private WebhookBench() {}

  // ---- options ----
  private static Path tidingsJar;
  private static List<String> serverJvm;
  private static List<String> serveArgs;
  private static List<String> receiverJvm;
  private static int endpoints;
  private static boolean shared;
  private static double duration;
  private static double warmupMin;
  private static double warmupMax;
  private static double lagLoad;
  private static double lagSeconds;
  private static long eventsOverride;
  private static int dataBytes;
  private static int publishBatch;
  private static int publishConnections;
  private static int maxInFlight;
  private static int receiverPorts;
  private static int receiverLoops;
  private static boolean verify;
  private static Path work;

  private static final Map<String, String> results = new LinkedHashMap<>();

  public static void main(String[] argv) throws Exception {
    Map<String, String> a = parse(argv);
    if (a.containsKey("help")) {
      OUT.print(USAGE);
      return;
    }
    tidingsJar = Path.of(a.getOrDefault("tidings-jar", "server/target/tidings.jar")).toAbsolutePath();
    serverJvm = BenchArgs.split(a.getOrDefault("server-jvm", "-Xms1g -Xmx1g"));
    serveArgs = BenchArgs.split(a.getOrDefault("serve-args", ""));
    receiverJvm = BenchArgs.split(a.getOrDefault("receiver-jvm", "-Xms256m -Xmx512m"));
    endpoints = Integer.parseInt(a.getOrDefault("endpoints", "100"));
    String topicsMode = a.getOrDefault("topics", "shared");
    if (!topicsMode.equals("shared") && !topicsMode.equals("per-endpoint")) {
      throw new IllegalArgumentException("--topics is shared or per-endpoint");
    }
    shared = topicsMode.equals("shared");
    List<Integer> batches = new ArrayList<>();
    for (String b : a.getOrDefault("batches", "1,100").split(",")) {
      batches.add(Integer.parseInt(b.trim()));
    }
    duration = Double.parseDouble(a.getOrDefault("duration", "20"));
    warmupMin = Double.parseDouble(a.getOrDefault("warmup", "15"));
    warmupMax = Math.max(warmupMin, Double.parseDouble(a.getOrDefault("warmup-max", "90")));
    lagLoad = Double.parseDouble(a.getOrDefault("lag-load", "0.5"));
    lagSeconds = Double.parseDouble(a.getOrDefault("lag-seconds", "10"));
    eventsOverride = Long.parseLong(a.getOrDefault("events", "0"));
    dataBytes = Integer.parseInt(a.getOrDefault("data-bytes", "100"));
    publishBatch = Integer.parseInt(a.getOrDefault("publish-batch", "100"));
    publishConnections = Integer.parseInt(a.getOrDefault("publish-connections", "16"));
    maxInFlight = Integer.parseInt(a.getOrDefault("max-in-flight", "0"));
    receiverPorts = Integer.parseInt(a.getOrDefault("receiver-ports", "1"));
    receiverLoops = Integer.parseInt(a.getOrDefault("receiver-loops", "1"));
    verify = a.containsKey("verify");
    int baselineConcurrency = Integer.parseInt(a.getOrDefault("baseline-concurrency", Integer.toString(endpoints)));
    int baselineConnections = Integer.parseInt(a.getOrDefault("baseline-connections",
        Integer.toString(baselineConcurrency)));
    boolean doBaseline = !a.containsKey("skip-baseline");
    boolean doTidings = !a.containsKey("skip-tidings");
    boolean tempWork = !a.containsKey("work");
    work = tempWork ? Files.createTempDirectory("tidings-webhooks-") : Path.of(a.get("work"));
    Files.createDirectories(work);

    OUT.printf(Locale.ROOT, "== WebhookBench %s  (cores=%d, load average %s, work dir %s)%n",
        OffsetDateTime.now(ZoneOffset.UTC).withNano(0), Runtime.getRuntime().availableProcessors(),
        BenchArgs.loadAverage(), work);
    OUT.printf(Locale.ROOT, "   %d endpoints, topics %s, batch.max_events %s; receiver: %d port(s), %d loop(s)%s;"
        + " data %d B per event%n", endpoints, topicsMode, batches, receiverPorts, receiverLoops,
        verify ? ", verifying signatures" : "", dataBytes);
    results.put("endpoints", Integer.toString(endpoints));
    results.put("topics", topicsMode);
    results.put("serve_args", String.join(" ", serveArgs));
    results.put("receiver.ports", Integer.toString(receiverPorts));
    results.put("receiver.loops", Integer.toString(receiverLoops));
    results.put("receiver.verify", Boolean.toString(verify));
    results.put("load_average.start", BenchArgs.loadAverage());

    try (Receiver receiver = Receiver.start()) {
      OUT.printf(Locale.ROOT, "-- receiver pid %d on 127.0.0.1 ports %s%n", receiver.pid, receiver.portsText());
      // The baseline runs after the first case (whose one-event body it copies) and again after the
      // last one, so that a change in the machine's load over the run shows in both.
      List<Double> baseRates = new ArrayList<>();
      if (doTidings) {
        for (int i = 0; i < batches.size(); i++) {
          tidingsCase(receiver, batches.get(i));
          if (doBaseline && (i == 0 || i == batches.size() - 1)) {
            baseRates.add(baseline(receiver, baselineConcurrency, baselineConnections, baseRates.size() + 1));
          }
        }
      }
      if (doBaseline && baseRates.isEmpty()) {
        baseRates.add(baseline(receiver, baselineConcurrency, baselineConnections, 1));
      }
      if (!baseRates.isEmpty()) {
        double mean = baseRates.stream().mapToDouble(Double::doubleValue).average().orElse(0);
        results.put("baseline.requests_per_s", fmt(mean));
        results.put("baseline.runs", Integer.toString(baseRates.size()));
      }
    }
    results.put("load_average.end", BenchArgs.loadAverage());
    // ratios
    String base = results.get("baseline.requests_per_s");
    if (base != null) {
      double br = Double.parseDouble(base);
      OUT.printf(Locale.ROOT, "-- ratios to the baseline (same run, same receiver; baseline %,.0f requests/s, mean of %s run(s))%n",
          br, results.get("baseline.runs"));
      for (int b : batches) {
        String k = "tidings.b" + b;
        if (results.containsKey(k + ".requests_per_s")) {
          double rr = Double.parseDouble(results.get(k + ".requests_per_s")) / br;
          double er = Double.parseDouble(results.get(k + ".events_per_s")) / br;
          results.put("ratio.b" + b + ".requests", String.format(Locale.ROOT, "%.3f", rr));
          results.put("ratio.b" + b + ".events", String.format(Locale.ROOT, "%.3f", er));
          OUT.printf(Locale.ROOT, "   max_events=%d: requests/s %.3f, events/s %.3f of the baseline's requests/s%n",
              b, rr, er);
        }
      }
    }
    OUT.printf(Locale.ROOT, "   load average at the end: %s%n", BenchArgs.loadAverage());
    if (a.containsKey("results")) {
      StringBuilder sb = new StringBuilder();
      results.forEach((k, v) -> sb.append(k).append('=').append(v).append('\n'));
      Files.writeString(Path.of(a.get("results")), sb.toString(), StandardCharsets.UTF_8);
    }
    if (tempWork) {
      deleteTree(work);
    }
    System.exit(0);
  }

  // ---------------------------------------------------------------------------------------------
  // One Tidings case

  private static void tidingsCase(Receiver receiver, int batch) throws Exception {
    String k = "tidings.b" + batch;
    Path dir = work.resolve("tidings-b" + batch);
    Files.createDirectories(dir);
    Path config = dir.resolve("tidings.yaml");
    Files.writeString(config, "webhooks:\n  allow_targets: [\"127.0.0.1/32\"]\n"
        + (maxInFlight > 0 ? "  max_in_flight: " + maxInFlight + "\n" : ""), StandardCharsets.UTF_8);
    OUT.printf(Locale.ROOT, "-- tidings, batch.max_events=%d: java %s -jar %s serve --config %s %s%n", batch,
        String.join(" ", serverJvm), tidingsJar, config, String.join(" ", serveArgs));
    List<String> topics = new ArrayList<>();
    if (shared) {
      topics.add("bench/wh");
    } else {
      for (int i = 0; i < endpoints; i++) {
        topics.add("bench/wh/" + i);
      }
    }
    int fanout = shared ? endpoints : 1;
    List<String> serve = new ArrayList<>(List.of("--config", config.toString()));
    serve.addAll(serveArgs);
    try (ServerProcess server = ServerProcess.start(tidingsJar, serverJvm, serve, dir.resolve("data"),
        dir.resolve("server.log"), 120)) {
      long pid = server.pid();
      // SIGTERM to this JVM (timeout, Ctrl-C in webhooks.sh) still stops the server.
      Thread hook = new Thread(server::close, "stop-server");
      Runtime.getRuntime().addShutdownHook(hook);
      OUT.printf(Locale.ROOT, "   server pid %d on %s; registering %d endpoints%n", pid, server.baseUrl(), endpoints);
      // This case's publisher numbers each topic's events from 1 again.
      receiver.forget();
      for (int i = 0; i < endpoints; i++) {
        String url = "http://127.0.0.1:" + receiver.port(i) + "/hook/" + i;
        String body = "{\"url\":\"" + url + "\",\"topics\":[\"" + topics.get(shared ? 0 : i)
            + "\"],\"since\":\"now\",\"batch\":{\"max_events\":" + batch + "}}";
        HttpResponse<String> r = post(server.baseUrl() + "/v1/webhooks", body);
        if (r.statusCode() != 201) {
          throw new IOException("registering endpoint " + i + ": HTTP " + r.statusCode() + " " + r.body());
        }
        JsonObject created = new JsonObject(r.body());
        receiver.secret("/hook/" + i, created.getString("secret"));
      }
      try (EventFeed feed = new EventFeed(server.baseUrl(), topics, dataBytes, publishBatch, publishConnections)) {
        Progress progress = new Progress(receiver, fanout);
        double capacity = warmUp(k, server, feed, progress);
        progress.drain(60);

        // ---- saturation: a fixed number of events, as fast as the publisher goes
        long events = eventsOverride > 0 ? eventsOverride
            : Math.max(1, (long) Math.ceil(capacity * duration / fanout));
        OUT.printf(Locale.ROOT, "   saturation: publishing %,d events (%,d deliveries) as fast as possible%n", events,
            events * fanout);
        receiver.lag();
        Snapshot s0 = Snapshot.take(server, receiver);
        long t0 = System.nanoTime();
        CompletableFuture<EventFeed.Result> pub = feed.run(events, 0);
        // Samples of {seconds since start, events, requests} received in this phase.
        List<double[]> samples = new ArrayList<>();
        samples.add(new double[] {0, 0, 0});
        long target = events * fanout;
        long lastProgressAt = System.nanoTime();
        long lastCount = 0;
        double limit = Math.max(120, duration * 6);
        // The server's messages in flight (tidings.delivery.in_flight) and the receiver's open
        // connections, sampled every 0.5 s while the backlog lasts.
        double inFlightSum = 0;
        double connSum = 0;
        int gaugeSamples = 0;
        int tick = 0;
        while (true) {
          Thread.sleep(100);
          JsonObject st = receiver.stats();
          if (++tick % 5 == 0 && st.getLong("events") - s0.events < 0.9 * target) {
            inFlightSum += metric(get(server.baseUrl() + "/metrics").body(), "tidings_delivery_in_flight", null);
            connSum += st.getLong("connections");
            gaugeSamples++;
          }
          long got = st.getLong("events") - s0.events;
          double t = (System.nanoTime() - t0) / 1e9;
          samples.add(new double[] {t, got, st.getLong("requests") - s0.requests});
          if (got != lastCount) {
            lastCount = got;
            lastProgressAt = System.nanoTime();
          }
          long expected = pub.isDone() ? pub.get().published() * fanout : target;
          if (got >= expected && pub.isDone()) {
            break;
          }
          if (System.nanoTime() - lastProgressAt > 15_000_000_000L || t > limit) {
            OUT.printf(Locale.ROOT, "   WARNING: saturation stopped with %,d of %,d deliveries%n", got, expected);
            break;
          }
        }
        EventFeed.Result published = pub.get(60, TimeUnit.SECONDS);
        progress.published(published.published());
        Snapshot s1 = Snapshot.take(server, receiver);
        Histogram backlogLag = receiver.lag();
        long delivered = s1.events - s0.events;
        long requests = s1.requests - s0.requests;
        double total = samples.get(samples.size() - 1)[0];
        double[] w10 = crossing(samples, 0.1 * delivered);
        double[] w90 = crossing(samples, 0.9 * delivered);
        double windowSeconds = w90[0] - w10[0];
        double evPerReq = requests == 0 ? 0 : (double) delivered / requests;
        double evRate = windowSeconds > 0 ? (w90[1] - w10[1]) / windowSeconds : 0;
        double reqRate = windowSeconds > 0 ? (w90[2] - w10[2]) / windowSeconds : 0;
        OUT.printf(Locale.ROOT, "   published %,d events in %,d requests in %.1f s (%d failed%s)%n",
            published.published(), published.requests(), published.seconds(), published.failed(),
            published.firstError() == null ? "" : ": " + published.firstError());
        OUT.printf(Locale.ROOT, "   delivered %,d events in %,d requests in %.1f s; steady window (10%%-90%%) %.1f s:"
            + " %,.0f events/s, %,.0f requests/s (%.1f events per request); whole run %,.0f events/s%n", delivered,
            requests, total, windowSeconds, evRate, reqRate, evPerReq, delivered / total);
        OUT.printf(Locale.ROOT, "   lag under this backlog (queueing, not service time): p50 %s  p99 %s  max %s%n",
            ms(backlogLag, 50), ms(backlogLag, 99), ms(backlogLag.getMaxValue()));
        results.put(k + ".events_per_s", fmt(evRate));
        results.put(k + ".requests_per_s", fmt(reqRate));
        results.put(k + ".events_per_request", String.format(Locale.ROOT, "%.2f", evPerReq));
        results.put(k + ".whole_run_events_per_s", fmt(delivered / total));
        results.put(k + ".saturation_events", Long.toString(published.published()));
        results.put(k + ".saturation_seconds", fmt(total));
        results.put(k + ".backlog_lag_p50_ms", msNum(backlogLag.getValueAtPercentile(50)));
        results.put(k + ".backlog_lag_p99_ms", msNum(backlogLag.getValueAtPercentile(99)));
        report(k, s0, s1, delivered, requests, total, server.pid());
        if (gaugeSamples > 0) {
          OUT.printf(Locale.ROOT, "   while the backlog lasted: %.1f messages in flight on average (webhooks.max_in_flight %s),"
              + " %.1f connections open at the receiver%n", inFlightSum / gaugeSamples,
              maxInFlight > 0 ? Integer.toString(maxInFlight) : "64", connSum / gaugeSamples);
          results.put(k + ".in_flight_mean", fmt(inFlightSum / gaugeSamples));
          results.put(k + ".receiver_connections_mean", fmt(connSum / gaugeSamples));
        }

        // ---- lag at a fraction of the saturation rate
        if (lagLoad > 0) {
          double rate = lagLoad * evRate / fanout;
          long count = Math.max(1, Math.round(rate * lagSeconds));
          OUT.printf(Locale.ROOT, "   lag: publishing %,d events at %,.1f events/s (%.0f%% of the saturation rate,"
              + " %,.0f deliveries/s)%n", count, rate, lagLoad * 100, rate * fanout);
          receiver.lag();
          long l0 = progress.received();
          long c0 = System.nanoTime();
          progress.publishing(count);
          EventFeed.Result r = feed.run(count, rate).get((long) (lagSeconds * 4 + 120), TimeUnit.SECONDS);
          progress.published(r.published());
          progress.drain(60);
          double secs = (System.nanoTime() - c0) / 1e9;
          Histogram h = receiver.lag();
          long got = progress.received() - l0;
          OUT.printf(Locale.ROOT, "   lag: %,d deliveries in %.1f s (%,.0f/s; published %,d, %d failed):"
              + " p50 %s  p90 %s  p99 %s  p99.9 %s  max %s%n", got, secs, got / secs, r.published(), r.failed(),
              ms(h, 50), ms(h, 90), ms(h, 99), ms(h, 99.9), ms(h.getMaxValue()));
          results.put(k + ".lag.deliveries_per_s", fmt(rate * fanout));
          results.put(k + ".lag.p50_ms", msNum(h.getValueAtPercentile(50)));
          results.put(k + ".lag.p90_ms", msNum(h.getValueAtPercentile(90)));
          results.put(k + ".lag.p99_ms", msNum(h.getValueAtPercentile(99)));
          results.put(k + ".lag.p999_ms", msNum(h.getValueAtPercentile(99.9)));
          results.put(k + ".lag.max_ms", msNum(h.getMaxValue()));
        }
        JsonObject st = receiver.stats();
        results.put(k + ".duplicates", Long.toString(st.getLong("duplicates")));
        results.put(k + ".gaps", Long.toString(st.getLong("gaps")));
        results.put(k + ".bad_signatures", Long.toString(st.getLong("bad_signatures")));
        OUT.printf(Locale.ROOT, "   receiver totals so far: %,d duplicates, %,d gaps, %,d bad signatures, %,d verified%n",
            st.getLong("duplicates"), st.getLong("gaps"), st.getLong("bad_signatures"), st.getLong("verified"));
      }
    }
  }

  /**
   * Keeps a backlog of undelivered events for at least {@code --warmup} seconds, then in 3 s steps
   * until two steps agree within 15% and the server's JIT spent under 0.3 s in the last one (at most
   * {@code --warmup-max}). Returns the delivered events per second of the last step.
   */
  private static double warmUp(String k, ServerProcess server, EventFeed feed, Progress progress) throws Exception {
    final double step = 3;
    long start = System.nanoTime();
    double rate = 2_000;
    double previous = -1;
    double jit = ProcStats.jitSeconds(server.pid());
    long stepStart = System.nanoTime();
    long stepCount = progress.received();
    CompletableFuture<EventFeed.Result> pub = null;
    StringBuilder trail = new StringBuilder();
    while (true) {
      // Keep about a second's worth of deliveries outstanding (at least one event).
      long outstanding = progress.expected() - progress.received();
      if ((pub == null || pub.isDone()) && outstanding < rate) {
        if (pub != null) {
          progress.published(pub.get().published());
        }
        long events = Math.max(1, (long) Math.ceil((2 * rate - outstanding) / progress.fanout));
        pub = feed.run(events, 0);
        progress.publishing(events);
      }
      Thread.sleep(100);
      long now = System.nanoTime();
      if (now - stepStart >= step * 1e9) {
        long got = progress.received();
        double r = (got - stepCount) / ((now - stepStart) / 1e9);
        double jitNow = ProcStats.jitSeconds(server.pid());
        double jitDelta = jit >= 0 && jitNow >= 0 ? jitNow - jit : -1;
        jit = jitNow;
        stepStart = now;
        stepCount = got;
        rate = Math.max(r, 100);
        double spent = (now - start) / 1e9;
        trail.append(String.format(Locale.ROOT, " %,.0f", r));
        if (jitDelta >= 0) {
          trail.append(String.format(Locale.ROOT, " (jit %.1fs)", jitDelta));
        }
        boolean steady = spent >= warmupMin && previous > 0
            && Math.abs(r - previous) <= 0.15 * Math.max(r, previous) && jitDelta < 0.3;
        if (steady || spent + step > warmupMax + 1e-9) {
          OUT.printf(Locale.ROOT, "   warm-up %.0f s under a backlog (%s); events/s delivered per 3 s step:%s%n", spent,
              steady ? "steady" : "NOT steady, stopped at --warmup-max", trail);
          results.put(k + ".warmup_seconds", fmt(spent));
          results.put(k + ".warmup_steady", steady ? "yes" : "no");
          if (pub != null) {
            progress.published(pub.get(120, TimeUnit.SECONDS).published());
          }
          return r;
        }
        previous = r;
      }
    }
  }

  /** The receiver's event count against what was published, for one case. */
  private static final class Progress {
    final Receiver receiver;
    final int fanout;
    final long base;
    long published;
    long pending;

    Progress(Receiver receiver, int fanout) throws IOException, InterruptedException {
      this.receiver = receiver;
      this.fanout = fanout;
      this.base = receiver.stats().getLong("events");
    }

    long received() throws IOException, InterruptedException {
      return receiver.stats().getLong("events") - base;
    }

    void publishing(long events) {
      pending = events;
    }

    void published(long events) {
      published += events;
      pending = 0;
    }

    long expected() {
      return (published + pending) * fanout;
    }

    /** Waits until everything published so far has arrived (no progress for 10 s, or {@code max} s, ends it). */
    void drain(double max) throws IOException, InterruptedException {
      long t0 = System.nanoTime();
      long last = -1;
      long lastAt = t0;
      while (true) {
        long got = received();
        long want = expected();
        if (got >= want) {
          return;
        }
        if (got != last) {
          last = got;
          lastAt = System.nanoTime();
        }
        if (System.nanoTime() - lastAt > 10_000_000_000L || System.nanoTime() - t0 > max * 1e9) {
          OUT.printf(Locale.ROOT, "   WARNING: %,d of %,d deliveries arrived%n", got, want);
          return;
        }
        Thread.sleep(100);
      }
    }
  }

  /**
   * Where the received event count crossed {@code value}: {time, events, requests}, interpolated
   * between the two samples around it.
   */
  private static double[] crossing(List<double[]> samples, double value) {
    for (int i = 1; i < samples.size(); i++) {
      double[] a = samples.get(i - 1);
      double[] b = samples.get(i);
      if (b[1] >= value) {
        double f = b[1] == a[1] ? 0 : (value - a[1]) / (b[1] - a[1]);
        return new double[] {a[0] + f * (b[0] - a[0]), value, a[2] + f * (b[2] - a[2])};
      }
    }
    return samples.get(samples.size() - 1);
  }

  // ---------------------------------------------------------------------------------------------
  // CPU, store commits and threads over a phase

  private record Snapshot(long requests, long events, long bytes, long serverCpu, long receiverCpu, long selfCpu,
      double commits, double attemptsOk, double attemptsFailed, Map<Long, long[]> threads, Map<String, long[]> paths,
      long nanos) {
    static Snapshot take(ServerProcess server, Receiver receiver) throws IOException, InterruptedException {
      JsonObject st = receiver.stats();
      String metrics = get(server.baseUrl() + "/metrics").body();
      Map<String, long[]> paths = new HashMap<>();
      JsonObject p = st.getJsonObject("paths");
      for (String name : p.fieldNames()) {
        paths.put(name, new long[] {p.getJsonArray(name).getLong(0), p.getJsonArray(name).getLong(1)});
      }
      return new Snapshot(st.getLong("requests"), st.getLong("events"), st.getLong("bytes"),
          ProcStats.cpuMicros(ProcStats.tree(server.pid())), ProcStats.cpuMicros(List.of(receiver.pid)),
          ProcStats.cpuMicros(List.of(ProcessHandle.current().pid())),
          metric(metrics, "tidings_store_commits", null),
          metric(metrics, "tidings_delivery_attempts", "result=\"delivered\""),
          metric(metrics, "tidings_delivery_attempts", "result=\"failed\""), threadTicks(server.pid()), paths,
          System.nanoTime());
    }
  }

  private static void report(String k, Snapshot a, Snapshot b, long delivered, long requests, double seconds,
      long pid) {
    double srvUs = (b.serverCpu - a.serverCpu) / (double) Math.max(1, requests);
    double rcvUs = (b.receiverCpu - a.receiverCpu) / (double) Math.max(1, requests);
    double srvPct = (b.serverCpu - a.serverCpu) / 1e4 / seconds;
    double rcvPct = (b.receiverCpu - a.receiverCpu) / 1e4 / seconds;
    double cliPct = (b.selfCpu - a.selfCpu) / 1e4 / seconds;
    double commits = b.commits - a.commits;
    double ok = b.attemptsOk - a.attemptsOk;
    double failed = b.attemptsFailed - a.attemptsFailed;
    long minReq = Long.MAX_VALUE;
    long maxReq = 0;
    for (Map.Entry<String, long[]> e : b.paths.entrySet()) {
      if (!e.getKey().startsWith("/hook/")) {
        continue;
      }
      long before = a.paths.containsKey(e.getKey()) ? a.paths.get(e.getKey())[0] : 0;
      long n = e.getValue()[0] - before;
      minReq = Math.min(minReq, n);
      maxReq = Math.max(maxReq, n);
    }
    OUT.printf(Locale.ROOT, "   CPU: server %.0f%% (%.1f us per request, %.2f us per event), receiver %.0f%%"
        + " (%.1f us per request), publisher %.0f%%; 100%% = one core%n", srvPct, srvUs,
        (b.serverCpu - a.serverCpu) / (double) Math.max(1, delivered), rcvPct, rcvUs, cliPct);
    OUT.printf(Locale.ROOT, "   store: %,.0f SQLite commits = %.2f per delivered request (%,.0f commits/s);"
        + " attempts: %,.0f delivered, %,.0f failed; requests per endpoint: %,d-%,d%n", commits,
        commits / Math.max(1, requests), commits / seconds, ok, failed, minReq == Long.MAX_VALUE ? 0 : minReq, maxReq);
    results.put(k + ".server_cpu_pct", fmt(srvPct));
    results.put(k + ".server_us_per_request", fmt(srvUs));
    results.put(k + ".receiver_cpu_pct", fmt(rcvPct));
    results.put(k + ".receiver_us_per_request", fmt(rcvUs));
    results.put(k + ".commits_per_request", String.format(Locale.ROOT, "%.3f", commits / Math.max(1, requests)));
    results.put(k + ".commits_per_s", fmt(commits / seconds));
    results.put(k + ".attempts_failed", fmt(failed));
    results.put(k + ".requests_per_endpoint_min", Long.toString(minReq == Long.MAX_VALUE ? 0 : minReq));
    results.put(k + ".requests_per_endpoint_max", Long.toString(maxReq));
    // The server's busiest threads over the phase, named by jcmd (comm is cut at 15 characters).
    Map<Long, String> names = threadNames(pid);
    long jitNs = 0;
    for (Map.Entry<Long, long[]> e : b.threads.entrySet()) {
      if (names.getOrDefault(e.getKey(), "").contains("CompilerThread")) {
        jitNs += e.getValue()[0] - a.threads.getOrDefault(e.getKey(), new long[] {0, 0})[0];
      }
    }
    double jitUs = jitNs / 1e3;
    double srvUsNoJit = (b.serverCpu - a.serverCpu - jitUs) / (double) Math.max(1, requests);
    OUT.printf(Locale.ROOT, "   server CPU without the JIT compiler threads: %.1f us per request (JIT %.0f%% of a core)%n",
        srvUsNoJit, jitUs / 1e4 / seconds);
    results.put(k + ".server_us_per_request_without_jit", fmt(srvUsNoJit));
    results.put(k + ".server_jit_cpu_pct", fmt(jitUs / 1e4 / seconds));
    List<Map.Entry<Long, long[]>> busiest = new ArrayList<>(b.threads.entrySet());
    busiest.sort(Comparator.comparingLong((Map.Entry<Long, long[]> e) ->
        -(e.getValue()[0] - a.threads.getOrDefault(e.getKey(), new long[] {0, 0})[0])));
    StringBuilder line = new StringBuilder("   busiest server threads (% of the phase on a CPU / runnable, waiting for one):");
    int shown = 0;
    for (Map.Entry<Long, long[]> e : busiest) {
      long[] before = a.threads.getOrDefault(e.getKey(), new long[] {0, 0});
      double pct = (e.getValue()[0] - before[0]) / 1e7 / seconds;
      double waitPct = (e.getValue()[1] - before[1]) / 1e7 / seconds;
      if (shown >= 6 || pct < 2) {
        break;
      }
      String name = names.getOrDefault(e.getKey(), "tid " + e.getKey());
      line.append(String.format(Locale.ROOT, "%n     %-34s %3.0f%% / %3.0f%%", name, pct, waitPct));
      results.put(k + ".thread." + (shown + 1), name.replace(' ', '_') + ":" + fmt(pct) + ":" + fmt(waitPct));
      shown++;
    }
    OUT.println(line);
  }

  /**
   * Per thread of {@code pid}, from {@code /proc/PID/task/TID/schedstat}: tid -> {ns on a CPU, ns
   * runnable but waiting for a CPU}.
   */
  private static Map<Long, long[]> threadTicks(long pid) {
    Map<Long, long[]> out = new HashMap<>();
    try (DirectoryStream<Path> ds = Files.newDirectoryStream(Path.of("/proc", Long.toString(pid), "task"))) {
      for (Path t : ds) {
        try {
          String[] f = Files.readString(t.resolve("schedstat"), StandardCharsets.US_ASCII).trim().split("\\s+");
          out.put(Long.parseLong(t.getFileName().toString()), new long[] {Long.parseLong(f[0]), Long.parseLong(f[1])});
        } catch (IOException | RuntimeException ignored) {
          // thread gone
        }
      }
    } catch (IOException | RuntimeException ignored) {
      // no /proc
    }
    return out;
  }

  private static final Pattern THREAD = Pattern.compile("^\"([^\"]+)\".*? nid=(0x[0-9a-f]+|\\d+)", Pattern.MULTILINE);

  /** Java thread names by native thread id, from {@code jcmd PID Thread.print}. */
  private static Map<Long, String> threadNames(long pid) {
    Map<Long, String> out = new HashMap<>();
    Path jcmd = Path.of(System.getProperty("java.home"), "bin", "jcmd");
    if (pid <= 0 || !Files.isExecutable(jcmd)) {
      return out;
    }
    try {
      Process p = new ProcessBuilder(jcmd.toString(), Long.toString(pid), "Thread.print").redirectErrorStream(true)
          .start();
      String text = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
      p.waitFor(30, TimeUnit.SECONDS);
      Matcher m = THREAD.matcher(text);
      while (m.find()) {
        String nid = m.group(2);
        long tid = nid.startsWith("0x") ? Long.parseLong(nid.substring(2), 16) : Long.parseLong(nid);
        out.put(tid, m.group(1));
      }
    } catch (IOException | RuntimeException e) {
      // unnamed then
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    return out;
  }

  /** Sum of the samples of a Prometheus metric whose name starts with {@code name} and whose labels contain {@code label}. */
  private static double metric(String text, String name, String label) {
    double sum = 0;
    for (String line : text.split("\n")) {
      if (!line.startsWith(name) || (label != null && !line.contains(label))) {
        continue;
      }
      int sp = line.lastIndexOf(' ');
      try {
        sum += Double.parseDouble(line.substring(sp + 1));
      } catch (RuntimeException ignored) {
        // not a sample
      }
    }
    return sum;
  }

  // ---------------------------------------------------------------------------------------------
  // The baseline

  /** One baseline run; returns its requests per second. */
  private static double baseline(Receiver receiver, int concurrency, int connections, int run) throws Exception {
    String template = receiver.sample();
    String source = "the body of a one-event webhook request Tidings sent";
    if (template == null) {
      template = "{\"events\":[{\"topic\":\"bench/wh\",\"offset\":1,\"cursor\":\"AAAAAAAAAAAAAAAAAAAAAA.1\","
          + "\"type\":\"event\",\"data\":" + EventFeed.data(1, 1, dataBytes) + ",\"time\":\"2026-01-01T00:00:00.000Z\"}]}";
      source = "a synthetic one-event body (no Tidings case ran first)";
    }
    List<String> secrets = new ArrayList<>();
    for (int i = 0; i < concurrency; i++) {
      String s = PostLoop.newSecret();
      secrets.add(s);
      receiver.secret("/base/" + i, s);
    }
    double warm = Math.max(5, Math.min(10, duration / 2));
    OUT.printf(Locale.ROOT, "-- baseline run %d: %d closed POST loops over %d keep-alive connections (Vert.x, one event"
        + " loop) to /base/<i>, %d-byte body (%s); %.0f s warm-up, %.0f s measured%n", run, concurrency, connections,
        template.getBytes(StandardCharsets.UTF_8).length, source, warm, duration);
    try (PostLoop loop = new PostLoop(receiver.ports, concurrency, connections, template, secrets)) {
      loop.run(warm, 0);
      receiver.lag();
      JsonObject s0 = receiver.stats();
      long rc0 = ProcStats.cpuMicros(List.of(receiver.pid));
      long cc0 = ProcStats.cpuMicros(List.of(ProcessHandle.current().pid()));
      PostLoop.Result r = loop.run(0, duration);
      JsonObject s1 = receiver.stats();
      long rc1 = ProcStats.cpuMicros(List.of(receiver.pid));
      long cc1 = ProcStats.cpuMicros(List.of(ProcessHandle.current().pid()));
      Histogram lag = receiver.lag();
      long req = s1.getLong("requests") - s0.getLong("requests");
      double rate = r.ok() / r.seconds();
      double recvRate = req / r.seconds();
      Histogram h = r.latencyMicros();
      OUT.printf(Locale.ROOT, "   %,.0f requests/s (%,d answered in %.0f s, %d errors%s); receiver counted %,.0f/s%n",
          rate, r.ok(), r.seconds(), r.errors(), r.firstError() == null ? "" : ": " + r.firstError(), recvRate);
      OUT.printf(Locale.ROOT, "   request latency (send to 204): p50 %s  p99 %s  max %s; send to receipt: p50 %s  p99 %s%n",
          ms(h, 50), ms(h, 99), ms(h.getMaxValue()), ms(lag, 50), ms(lag, 99));
      double rcvPct = (rc1 - rc0) / 1e4 / r.seconds();
      double cliPct = (cc1 - cc0) / 1e4 / r.seconds();
      OUT.printf(Locale.ROOT, "   CPU: receiver %.0f%% (%.1f us per request), client %.0f%% (%.1f us per request)%n",
          rcvPct, (rc1 - rc0) / (double) Math.max(1, req), cliPct, (cc1 - cc0) / (double) Math.max(1, r.ok()));
      results.put("baseline.concurrency", Integer.toString(concurrency));
      results.put("baseline.connections", Integer.toString(connections));
      results.put("baseline.body_bytes", Integer.toString(template.getBytes(StandardCharsets.UTF_8).length));
      String b = "baseline." + run + ".";
      results.put(b + "requests_per_s", fmt(rate));
      results.put(b + "errors", Long.toString(r.errors()));
      results.put(b + "p50_ms", msNum(h.getValueAtPercentile(50)));
      results.put(b + "p99_ms", msNum(h.getValueAtPercentile(99)));
      results.put(b + "receiver_cpu_pct", fmt(rcvPct));
      results.put(b + "receiver_us_per_request", fmt((rc1 - rc0) / (double) Math.max(1, req)));
      results.put(b + "client_cpu_pct", fmt(cliPct));
      results.put(b + "client_us_per_request", fmt((cc1 - cc0) / (double) Math.max(1, r.ok())));
      results.put(b + "bad_signatures", Long.toString(s1.getLong("bad_signatures") - s0.getLong("bad_signatures")));
      return rate;
    }
  }

  // ---------------------------------------------------------------------------------------------
  // The receiver process

  private static final class Receiver implements AutoCloseable {
    private static final Pattern LISTENING = Pattern.compile("receiver listening on 127\\.0\\.0\\.1 ports ([0-9,]+)");
    final Process process;
    final long pid;
    final List<Integer> ports;
    final String base;
    final OutputStream stdin;

    private Receiver(Process process, List<Integer> ports) {
      this.process = process;
      this.pid = process.pid();
      this.ports = ports;
      this.base = "http://127.0.0.1:" + ports.get(0);
      this.stdin = process.getOutputStream();
    }

    static Receiver start() throws IOException, InterruptedException {
      List<String> cmd = new ArrayList<>();
      cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
      cmd.addAll(receiverJvm);
      cmd.add("-cp");
      cmd.add(System.getProperty("java.class.path"));
      cmd.add(WebhookReceiver.class.getName());
      cmd.add("--ports");
      cmd.add(Integer.toString(receiverPorts));
      cmd.add("--loops");
      cmd.add(Integer.toString(receiverLoops));
      if (verify) {
        cmd.add("--verify");
      }
      Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
      Runtime.getRuntime().addShutdownHook(new Thread(p::destroy, "stop-receiver"));
      CompletableFuture<List<Integer>> ports = new CompletableFuture<>();
      Path log = work.resolve("receiver.log");
      Thread pump = new Thread(() -> {
        try (BufferedReader in = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8));
            PrintWriter out = new PrintWriter(Files.newBufferedWriter(log, StandardCharsets.UTF_8), true)) {
          String line;
          while ((line = in.readLine()) != null) {
            out.println(line);
            Matcher m = LISTENING.matcher(line);
            if (m.find()) {
              List<Integer> list = new ArrayList<>();
              for (String s : m.group(1).split(",")) {
                list.add(Integer.parseInt(s));
              }
              ports.complete(list);
            }
          }
        } catch (IOException ignored) {
          // exited
        }
        ports.completeExceptionally(new IOException("the receiver exited before listening; see " + log));
      }, "receiver-log");
      pump.setDaemon(true);
      pump.start();
      try {
        return new Receiver(p, ports.get(60, TimeUnit.SECONDS));
      } catch (Exception e) {
        p.destroyForcibly();
        throw new IOException("receiver did not start: " + e.getMessage(), e);
      }
    }

    int port(int endpoint) {
      return ports.get(endpoint % ports.size());
    }

    String portsText() {
      return ports.size() <= 4 ? ports.toString() : ports.size() + " ports " + ports.get(0) + "-" + ports.get(ports.size() - 1);
    }

    JsonObject stats() throws IOException, InterruptedException {
      return new JsonObject(get(base + "/stats").body());
    }

    /** The lag histogram since the previous call (µs). */
    Histogram lag() throws IOException, InterruptedException {
      byte[] b = Base64.getDecoder().decode(get(base + "/lag").body().trim());
      try {
        return Histogram.decodeFromCompressedByteBuffer(ByteBuffer.wrap(b), 0);
      } catch (java.util.zip.DataFormatException e) {
        throw new IOException("cannot decode the receiver's lag histogram", e);
      }
    }

    void secret(String path, String secret) throws IOException, InterruptedException {
      HttpResponse<String> r = HTTP.send(HttpRequest.newBuilder(URI.create(base + "/secret" + path))
          .timeout(Duration.ofSeconds(10)).PUT(HttpRequest.BodyPublishers.ofString(secret)).build(),
          HttpResponse.BodyHandlers.ofString());
      if (r.statusCode() != 204) {
        throw new IOException("receiver refused the secret of " + path + ": HTTP " + r.statusCode());
      }
    }

    void forget() throws IOException, InterruptedException {
      HTTP.send(HttpRequest.newBuilder(URI.create(base + "/forget")).timeout(Duration.ofSeconds(10))
          .POST(HttpRequest.BodyPublishers.noBody()).build(), HttpResponse.BodyHandlers.discarding());
    }

    String sample() throws IOException, InterruptedException {
      HttpResponse<String> r = get(base + "/sample");
      return r.statusCode() == 200 ? r.body() : null;
    }

    @Override
    public void close() {
      try {
        stdin.close();
        if (!process.waitFor(10, TimeUnit.SECONDS)) {
          process.destroy();
          if (!process.waitFor(10, TimeUnit.SECONDS)) {
            process.destroyForcibly();
          }
        }
      } catch (IOException e) {
        process.destroyForcibly();
      } catch (InterruptedException e) {
        process.destroyForcibly();
        Thread.currentThread().interrupt();
      }
    }
  }

  // ---------------------------------------------------------------------------------------------
  // helpers

  private static HttpResponse<String> get(String url) throws IOException, InterruptedException {
    return HTTP.send(HttpRequest.newBuilder(URI.create(url)).timeout(Duration.ofSeconds(30)).GET().build(),
        HttpResponse.BodyHandlers.ofString());
  }

  private static HttpResponse<String> post(String url, String json) throws IOException, InterruptedException {
    return HTTP.send(HttpRequest.newBuilder(URI.create(url)).timeout(Duration.ofSeconds(30))
        .header("content-type", "application/json").POST(HttpRequest.BodyPublishers.ofString(json)).build(),
        HttpResponse.BodyHandlers.ofString());
  }

  private static Map<String, String> parse(String[] argv) {
    return BenchArgs.parse(argv, java.util.Set.of("verify", "skip-baseline", "skip-tidings"), USAGE);
  }



  private static String ms(Histogram h, double percentile) {
    return ms(h.getTotalCount() == 0 ? 0 : h.getValueAtPercentile(percentile));
  }

  private static String ms(long micros) {
    return msNum(micros) + " ms";
  }

  private static String msNum(long micros) {
    return String.format(Locale.ROOT, "%.2f", micros / 1000.0);
  }

  private static String fmt(double v) {
    return String.format(Locale.ROOT, "%.1f", v);
  }

  private static void deleteTree(Path dir) {
    try (var s = Files.walk(dir)) {
      s.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
    } catch (IOException ignored) {
      // a temp dir left behind is harmless
    }
  }
}
