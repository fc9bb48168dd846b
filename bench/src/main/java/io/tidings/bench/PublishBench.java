package io.tidings.bench;

import java.io.IOException;
import java.io.PrintStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.HdrHistogram.Histogram;

/**
 * Publish throughput and acknowledgement latency of a Tidings server, compared in the same run
 * with what SQLite itself does on the same disk.
 *
 * <ol>
 *   <li>Starts {@code java <jvm flags> -jar tidings.jar serve} on a free loopback port with a fresh
 *       data directory (or uses {@code --server-url}) and warms it up with the publish load.
 *   <li>Measures three phases, interleaved in {@code --rounds} rounds so that a noisy neighbour
 *       hits them alike (the order rotates each round):
 *       <ul>
 *         <li>tidings: {@code --concurrency} (64) closed-loop HTTP publishers, one small event per
 *             request, 201 = durable;
 *         <li>raw-per-row: the same rows inserted over JDBC, one thread, one transaction per row,
 *             into a fresh database with the engine's schema and pragmas (WAL, synchronous=FULL);
 *         <li>raw-batch-64: the same, 64 rows per transaction (the best group commit 64
 *             publishers can give).
 *       </ul>
 *   <li>Prints events/s, latency percentiles, rows/s and the ratios, per round and overall.
 * </ol>
 *
 * <p>The server stays up (idle) during the raw phases. {@code --help} lists the options.
 */
public final class PublishBench {
  private static final String USAGE = """
      PublishBench [options]
        --jar PATH            server fat jar (default server/target/tidings.jar)
        --server-url URL      use this running server (http://127.0.0.1:PORT) instead of starting one
        --server-data DIR     with --server-url: its data dir, to copy the schema for the raw phases
        --jvm "FLAGS"         server JVM flags (default "-Xms1g -Xmx1g")
        --serve-args "ARGS"   extra arguments for 'tidings serve' (e.g. "--store memory")
        --duration S          measured seconds per phase, summed over the rounds (default 20)
        --rounds N            rounds the phases are interleaved in (default 4)
        --warmup S            minimum publish warm-up seconds (default 15)
        --warmup-max S        longest warm-up (default 60): after the minimum, the load goes on in 3 s
                              steps until two agree within 15% and the server's JIT is (nearly) idle
        --raw-warmup S        warm-up seconds of each raw SQLite phase (default 1)
        --concurrency N       in-flight publish requests (default 64)
        --raw-batch N         rows per transaction of the batched raw phase (default: --concurrency)
        --client-loops N      event loops of the load generator (default 1)
        --event-size B        bytes of each request body (default 100)
        --topic T             topic to publish to (default bench/publish)
        --work DIR            directory for data dirs and logs (default: a new temp dir, deleted after)
        --raw-generated-keys  let the driver fetch last_insert_rowid() after each raw INSERT, as
                              sqlite-jdbc does by default (off: the raw phases measure SQLite itself)
        --raw-engine-pattern  diagnostic: write each raw row as the engine does (SAVEPOINT, INSERT,
                              UPDATE topics, RELEASE) instead of a bare INSERT
        --skip-raw            only the HTTP publish phase
        --skip-publish        only the raw SQLite phases (no server)
        --results FILE        also write the figures as key=value lines
      """;

  private PublishBench() {}

  public static void main(String[] argv) throws Exception {
    Map<String, String> a = parse(argv);
    if (a.containsKey("help")) {
      System.out.print(USAGE);
      return;
    }
    Path jar = Path.of(a.getOrDefault("jar", "server/target/tidings.jar")).toAbsolutePath();
    String serverUrl = a.get("server-url");
    List<String> jvm = BenchArgs.split(a.getOrDefault("jvm", "-Xms1g -Xmx1g"));
    List<String> serveArgs = BenchArgs.split(a.getOrDefault("serve-args", ""));
    double duration = Double.parseDouble(a.getOrDefault("duration", "20"));
    int rounds = Integer.parseInt(a.getOrDefault("rounds", "4"));
    double warmup = Double.parseDouble(a.getOrDefault("warmup", "15"));
    double warmupMax = Math.max(warmup, Double.parseDouble(a.getOrDefault("warmup-max", "60")));
    double rawWarmup = Double.parseDouble(a.getOrDefault("raw-warmup", "1"));
    int concurrency = Integer.parseInt(a.getOrDefault("concurrency", "64"));
    int rawBatch = Integer.parseInt(a.getOrDefault("raw-batch", Integer.toString(concurrency)));
    int clientLoops = Integer.parseInt(a.getOrDefault("client-loops", "1"));
    int eventSize = Integer.parseInt(a.getOrDefault("event-size", "100"));
    String topic = a.getOrDefault("topic", "bench/publish");
    boolean doRaw = !a.containsKey("skip-raw");
    boolean doPublish = !a.containsKey("skip-publish");
    if (!doRaw && !doPublish) {
      throw new IllegalArgumentException("--skip-raw and --skip-publish leave nothing to run");
    }
    if (rounds < 1 || duration <= 0 || concurrency < 1 || rawBatch < 1) {
      throw new IllegalArgumentException("--rounds, --duration, --concurrency and --raw-batch must be positive");
    }
    double slice = duration / rounds;
    RawSqlite.generatedKeys = a.containsKey("raw-generated-keys");
    RawSqlite.enginePattern = a.containsKey("raw-engine-pattern");
    boolean tempWork = !a.containsKey("work");
    Path work = tempWork ? Files.createTempDirectory("tidings-bench-") : Path.of(a.get("work"));
    Files.createDirectories(work);

    Map<String, String> results = new LinkedHashMap<>();
    PrintStream out = System.out;
    out.printf(Locale.ROOT, "== PublishBench %s  (cores=%d, load average %s, work dir %s)%n",
        OffsetDateTime.now(ZoneOffset.UTC).withNano(0), Runtime.getRuntime().availableProcessors(),
        BenchArgs.loadAverage(),
        work);
    out.printf(Locale.ROOT, "   %d publishers, body %d B; %.0f s measured per phase in %d rounds of %.1f s%n",
        concurrency, eventSize, duration, rounds, slice);
    results.put("publish.concurrency", Integer.toString(concurrency));
    results.put("publish.duration_s", fmt(duration));
    results.put("publish.rounds", Integer.toString(rounds));

    Path serverData = a.containsKey("server-data") ? Path.of(a.get("server-data")) : work.resolve("server-data");
    ServerProcess server = null;
    PublishLoad load = null;
    RawSqlite.Session perRow = null;
    RawSqlite.Session batched = null;
    List<PublishLoad.Result> pubSlices = new ArrayList<>();
    List<RawSqlite.Result> rowSlices = new ArrayList<>();
    List<RawSqlite.Result> batchSlices = new ArrayList<>();
    long warmupAcks = 0;
    Map<String, Double> metricsBefore = Map.of();
    Map<String, Double> metricsAfter = Map.of();
    try {
      // ---- set up ----
      if (doPublish) {
        if (serverUrl == null) {
          out.printf(Locale.ROOT, "-- starting server: java %s -jar %s serve --port <free> --data %s %s%n",
              String.join(" ", jvm), jar, serverData, String.join(" ", serveArgs));
          ServerProcess started = ServerProcess.start(jar, jvm, serveArgs, serverData, work.resolve("server.log"), 60);
          server = started;
          Runtime.getRuntime().addShutdownHook(new Thread(started::close, "stop-server"));
          serverUrl = server.baseUrl();
          out.printf(Locale.ROOT, "   server pid %d listening on %s (log %s)%n", server.pid(), serverUrl,
              server.log());
        }
        checkLoopback(serverUrl);
        load = new PublishLoad(serverUrl, topic, concurrency, clientLoops, eventSize);
        // Scraped before the warm-up, not between it and the first round: the first scrape loads
        // code in both processes, and that measurably slowed the round after it.
        metricsBefore = scrapeCounters(serverUrl);
        warmupAcks = warmUp(out, load, server, warmup, warmupMax);
      }
      if (doRaw) {
        // The server created its schema at start: copy it, so the raw phases use exactly its tables.
        List<String> schema = RawSqlite.schemaOf(serverData.resolve("tidings.db"));
        String schemaSource = "copied from the server's database";
        if (schema.isEmpty()) {
          schema = RawSqlite.FALLBACK_SCHEMA;
          schemaSource = "built-in copy of the engine's schema";
        }
        String data = PublishLoad.data(123, eventSize);
        perRow = new RawSqlite.Session("per-row", work.resolve("raw-1").resolve("raw.db"), schema, 1, data);
        batched = new RawSqlite.Session("batch-" + rawBatch, work.resolve("raw-" + rawBatch).resolve("raw.db"),
            schema, rawBatch, data);
        out.printf(Locale.ROOT, "-- raw SQLite: JDBC, one thread, WAL, synchronous=FULL, schema %s;"
            + " warm-up %.0f s each%n", schemaSource, rawWarmup);
        perRow.run(rawWarmup, 0);
        batched.run(rawWarmup, 0);
      }

      // ---- measure, interleaved ----
      out.printf(Locale.ROOT, "-- %d rounds%n", rounds);
      for (int r = 0; r < rounds; r++) {
        StringBuilder line = new StringBuilder(String.format(Locale.ROOT, "   round %d:", r + 1));
        for (int k = 0; k < 3; k++) {
          int phase = (r + k) % 3;
          if (phase == 0 && load != null) {
            PublishLoad.Result p = load.run(0, slice);
            pubSlices.add(p);
            line.append(String.format(Locale.ROOT, "  tidings %,.0f ev/s", p.perSecond()));
          } else if (phase == 1 && perRow != null) {
            RawSqlite.Result x = perRow.run(0, slice);
            rowSlices.add(x);
            line.append(String.format(Locale.ROOT, "  raw-per-row %,.0f rows/s", x.rowsPerSecond()));
          } else if (phase == 2 && batched != null) {
            RawSqlite.Result x = batched.run(0, slice);
            batchSlices.add(x);
            line.append(String.format(Locale.ROOT, "  raw-batch-%d %,.0f rows/s", rawBatch, x.rowsPerSecond()));
          }
        }
        if (load != null && perRow != null) {
          double pr = pubSlices.get(r).perSecond();
          line.append(String.format(Locale.ROOT, "  | ratios %.3f / %.3f", pr / batchSlices.get(r).rowsPerSecond(),
              pr / rowSlices.get(r).rowsPerSecond()));
        }
        out.println(line);
      }
      if (serverUrl != null && load != null) {
        metricsAfter = scrapeCounters(serverUrl);
      }
    } finally {
      if (load != null) {
        load.close();
      }
      if (server != null) {
        server.close();
      }
      closeQuietly(perRow);
      closeQuietly(batched);
    }

    // ---- report ----
    double pubRate = 0;
    if (doPublish) {
      Histogram h = new Histogram(java.util.concurrent.TimeUnit.SECONDS.toMicros(60), 3);
      long ok = 0;
      long errors = 0;
      long okTotal = warmupAcks;
      double secs = 0;
      String firstError = null;
      for (PublishLoad.Result p : pubSlices) {
        h.add(p.latencyMicros());
        ok += p.ok();
        errors += p.errors();
        okTotal += p.okTotal();
        secs += p.seconds();
        if (firstError == null) {
          firstError = p.firstError();
        }
      }
      pubRate = ok / secs;
      out.println("-- tidings publish (all rounds)");
      out.printf(Locale.ROOT, "   %,.0f events/s  (%,d acks in %.0f s, %d errors)%n", pubRate, ok, secs, errors);
      out.printf(Locale.ROOT, "   ack latency: p50 %s  p99 %s  p99.9 %s  max %s%n", ms(h, 50), ms(h, 99),
          ms(h, 99.9), msValue(h.getMaxValue()));
      if (firstError != null) {
        out.println("   first error: " + firstError);
      }
      results.put("publish.events_per_s", fmt(pubRate));
      results.put("publish.errors", Long.toString(errors));
      results.put("publish.p50_ms", msNum(h.getValueAtPercentile(50)));
      results.put("publish.p99_ms", msNum(h.getValueAtPercentile(99)));
      results.put("publish.p999_ms", msNum(h.getValueAtPercentile(99.9)));
      results.put("publish.max_ms", msNum(h.getMaxValue()));
      reportCommits(out, results, server, okTotal, metricsBefore, metricsAfter);
    }
    if (doRaw) {
      RawSqlite.Result row = total(rowSlices);
      RawSqlite.Result bat = total(batchSlices);
      out.println("-- raw SQLite (all rounds)");
      report(out, row);
      report(out, bat);
      results.put("raw.per_row.rows_per_s", fmt(row.rowsPerSecond()));
      results.put("raw.batch.size", Integer.toString(rawBatch));
      results.put("raw.batch.rows_per_s", fmt(bat.rowsPerSecond()));
      results.put("raw.batch.transactions_per_s", fmt(bat.transactionsPerSecond()));
      if (doPublish) {
        double vsBatch = pubRate / bat.rowsPerSecond();
        double vsRow = pubRate / row.rowsPerSecond();
        double[] perRoundBatch = new double[rounds];
        double[] perRoundRow = new double[rounds];
        for (int r = 0; r < rounds; r++) {
          perRoundBatch[r] = pubSlices.get(r).perSecond() / batchSlices.get(r).rowsPerSecond();
          perRoundRow[r] = pubSlices.get(r).perSecond() / rowSlices.get(r).rowsPerSecond();
        }
        out.println("-- ratios (same run, same disk; overall, then median [min-max] of the rounds)");
        out.printf(Locale.ROOT, "   tidings / raw-batch-%d = %.3f   median %.3f [%.3f-%.3f]%n", rawBatch, vsBatch,
            median(perRoundBatch), min(perRoundBatch), max(perRoundBatch));
        out.printf(Locale.ROOT, "   tidings / raw-per-row  = %.3f   median %.3f [%.3f-%.3f]%n", vsRow,
            median(perRoundRow), min(perRoundRow), max(perRoundRow));
        results.put("ratio.tidings_vs_raw_batch", String.format(Locale.ROOT, "%.3f", vsBatch));
        results.put("ratio.tidings_vs_raw_batch.median", String.format(Locale.ROOT, "%.3f", median(perRoundBatch)));
        results.put("ratio.tidings_vs_raw_per_row", String.format(Locale.ROOT, "%.3f", vsRow));
        results.put("ratio.tidings_vs_raw_per_row.median", String.format(Locale.ROOT, "%.3f", median(perRoundRow)));
      }
    }

    out.printf(Locale.ROOT, "   load average at the end: %s%n", BenchArgs.loadAverage());
    if (a.containsKey("results")) {
      StringBuilder sb = new StringBuilder();
      results.forEach((k, v) -> sb.append(k).append('=').append(v).append('\n'));
      Files.writeString(Path.of(a.get("results")), sb.toString(), StandardCharsets.UTF_8);
    }
    if (tempWork) {
      deleteTree(work);
    }
    // Everything is closed; exit explicitly in case a library left a non-daemon thread behind.
    System.exit(0);
  }

  /**
   * Publishes for {@code min} seconds, then in 3 s steps until the server is warm or {@code max}
   * seconds have passed. Warm means: two consecutive steps agree within 15% and the JIT compilers
   * of the server (read with jstat, when possible) and of this load generator each spent under
   * 0.3 s in the last step. On
   * two busy cores C2 needs 20-40 s of load before the publish path runs at full speed;
   * measuring earlier mostly measures the JIT. Returns the acknowledgements received.
   */
  private static long warmUp(PrintStream out, PublishLoad load, ServerProcess server, double min, double max)
      throws InterruptedException {
    final double step = 3;
    long acks = 0;
    double spent = 0;
    StringBuilder trail = new StringBuilder();
    if (min > step) {
      PublishLoad.Result r = load.run(min - step, 0);
      acks += r.okTotal();
      spent += min - step;
      if (r.okTotal() == 0) {
        throw new IllegalStateException("no publish succeeded during the warm-up: " + r.firstError());
      }
    }
    double previous = -1;
    double jit = server == null ? -1 : server.jitSeconds();
    double ownJit = ownJitSeconds();
    while (true) {
      PublishLoad.Result r = load.run(0, step);
      acks += r.okTotal();
      spent += step;
      double rate = r.perSecond();
      double jitNow = server == null ? -1 : server.jitSeconds();
      double jitDelta = jit >= 0 && jitNow >= 0 ? jitNow - jit : -1;
      jit = jitNow;
      double ownJitNow = ownJitSeconds();
      double ownJitDelta = ownJit >= 0 && ownJitNow >= 0 ? ownJitNow - ownJit : -1;
      ownJit = ownJitNow;
      trail.append(String.format(Locale.ROOT, " %,.0f", rate));
      if (jitDelta >= 0 || ownJitDelta >= 0) {
        trail.append(String.format(Locale.ROOT, " (jit server %.1fs, bench %.1fs)", jitDelta, ownJitDelta));
      }
      boolean steady = previous > 0 && Math.abs(rate - previous) <= 0.15 * Math.max(rate, previous)
          && jitDelta < 0.3 && ownJitDelta < 0.3;
      if (steady || spent + step > max + 1e-9) {
        out.printf(Locale.ROOT, "-- publish warm-up %.0f s (%s); events/s of the last steps:%s%n", spent,
            steady ? "steady" : "NOT steady, stopped at --warmup-max", trail);
        break;
      }
      previous = rate;
    }
    if (acks == 0) {
      throw new IllegalStateException("no publish succeeded during the warm-up");
    }
    return acks;
  }

  /** Seconds this JVM's JIT compilers have spent so far, or -1. */
  private static double ownJitSeconds() {
    java.lang.management.CompilationMXBean c = java.lang.management.ManagementFactory.getCompilationMXBean();
    return c != null && c.isCompilationTimeMonitoringSupported() ? c.getTotalCompilationTime() / 1000.0 : -1;
  }

  /** How many SQLite transactions the server committed, from /metrics if it has a counter, else its log. */
  private static void reportCommits(PrintStream out, Map<String, String> results, ServerProcess server, long okTotal,
      Map<String, Double> before, Map<String, Double> after) {
    Map<String, Double> delta = delta(before, after);
    for (Map.Entry<String, Double> e : delta.entrySet()) {
      if (e.getKey().matches("(?i).*(commit|transaction).*") && e.getValue() > 0) {
        // Both figures cover the warm-up and the rounds.
        double perTx = okTotal / e.getValue();
        out.printf(Locale.ROOT, "   group commit (/metrics %s): %,.0f transactions, %.1f events per transaction"
            + " (warm-up included)%n", e.getKey(), e.getValue(), perTx);
        results.put("publish.server_commits", fmt(e.getValue()));
        results.put("publish.events_per_commit", String.format(Locale.ROOT, "%.2f", perTx));
        return;
      }
    }
    long commits = server == null ? -1 : server.commitsFromLog();
    if (commits > 0) {
      // Over the server's whole life (warm-up included): every append the bench made.
      double perTx = (double) okTotal / commits;
      out.printf(Locale.ROOT, "   group commit (server log): %,d acknowledged events in %,d SQLite transactions"
          + " = %.1f events per transaction (warm-up included)%n", okTotal, commits, perTx);
      results.put("publish.server_commits", Long.toString(commits));
      results.put("publish.events_per_commit", String.format(Locale.ROOT, "%.2f", perTx));
    } else {
      out.println("   group commit: the server reports no transaction count (neither /metrics nor its log)");
    }
  }

  private static RawSqlite.Result total(List<RawSqlite.Result> slices) {
    long rows = 0;
    long txs = 0;
    double secs = 0;
    for (RawSqlite.Result r : slices) {
      rows += r.rows();
      txs += r.transactions();
      secs += r.seconds();
    }
    RawSqlite.Result first = slices.get(0);
    return new RawSqlite.Result(first.label(), first.batch(), rows, txs, secs);
  }

  private static void report(PrintStream out, RawSqlite.Result r) {
    out.printf(Locale.ROOT, "   raw %-9s: %,.0f rows/s  (%,.0f transactions/s, %,d rows in %.1f s)%n", r.label(),
        r.rowsPerSecond(), r.transactionsPerSecond(), r.rows(), r.seconds());
  }

  // ---- the server's /metrics ----

  private static final Pattern INTERESTING = Pattern.compile("(?i).*(sqlite|commit|transaction).*");

  private static HttpClient scrapeClient;

  /** Counters in the Prometheus text that may count the store's transactions. */
  static synchronized Map<String, Double> scrapeCounters(String baseUrl) {
    Map<String, Double> m = new LinkedHashMap<>();
    try {
      if (scrapeClient == null) {
        scrapeClient = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
      }
      HttpResponse<String> r = scrapeClient.send(HttpRequest.newBuilder(URI.create(baseUrl + "/metrics"))
          .timeout(Duration.ofSeconds(10)).GET().build(), HttpResponse.BodyHandlers.ofString());
      if (r.statusCode() != 200) {
        return m;
      }
      for (String line : r.body().split("\n")) {
        if (line.startsWith("#") || line.startsWith("jvm_") || line.startsWith("process_")) {
          continue;
        }
        int sp = line.lastIndexOf(' ');
        if (sp <= 0 || !INTERESTING.matcher(line.substring(0, sp)).matches()) {
          continue;
        }
        try {
          m.put(line.substring(0, sp), Double.parseDouble(line.substring(sp + 1)));
        } catch (NumberFormatException ignored) {
          // not a sample line
        }
      }
    } catch (IOException | RuntimeException e) {
      System.err.println("bench: cannot read " + baseUrl + "/metrics: " + e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    return m;
  }

  private static Map<String, Double> delta(Map<String, Double> before, Map<String, Double> after) {
    Map<String, Double> d = new LinkedHashMap<>();
    after.forEach((k, v) -> {
      Double b = before.get(k);
      if (b != null) {
        d.put(k, v - b);
      }
    });
    return d;
  }

  // ---- helpers ----

  private static void checkLoopback(String url) {
    String host = URI.create(url).getHost();
    if (!"127.0.0.1".equals(host) && !"localhost".equals(host)) {
      throw new IllegalArgumentException("only loopback servers may be benchmarked, not " + url);
    }
  }

  private static Map<String, String> parse(String[] argv) {
    return BenchArgs.parse(argv,
        java.util.Set.of("skip-raw", "skip-publish", "raw-generated-keys", "raw-engine-pattern"), USAGE);
  }



  private static double median(double[] v) {
    double[] c = v.clone();
    Arrays.sort(c);
    int n = c.length;
    return n % 2 == 1 ? c[n / 2] : (c[n / 2 - 1] + c[n / 2]) / 2;
  }

  private static double min(double[] v) {
    return Arrays.stream(v).min().orElse(Double.NaN);
  }

  private static double max(double[] v) {
    return Arrays.stream(v).max().orElse(Double.NaN);
  }

  private static String ms(Histogram h, double percentile) {
    return msValue(h.getValueAtPercentile(percentile));
  }

  private static String msValue(long micros) {
    return msNum(micros) + " ms";
  }

  private static String msNum(long micros) {
    return String.format(Locale.ROOT, "%.2f", micros / 1000.0);
  }

  private static String fmt(double v) {
    return String.format(Locale.ROOT, "%.1f", v);
  }

  private static void closeQuietly(AutoCloseable c) {
    if (c == null) {
      return;
    }
    try {
      c.close();
    } catch (Exception ignored) {
      // the run is over; nothing depends on a clean close
    }
  }

  private static void deleteTree(Path dir) {
    try (Stream<Path> s = Files.walk(dir)) {
      s.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
    } catch (IOException ignored) {
      // a temp dir left behind is harmless
    }
  }
}
