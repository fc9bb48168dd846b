package io.tidings.bench.push;

import java.io.IOException;
import java.io.Reader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Properties;
import java.util.Set;
import java.util.stream.Stream;

/**
 * Prints the results of several {@link PushBench} runs (their {@code --results} files, all in one
 * directory) side by side: per scenario and transport, one row per rate step with each target's
 * figures next to each other, then a summary with the ratio tidings / nchan. The fanout scenario
 * puts the transports side by side instead (gRPC next to WebSocket on the same server) and its
 * summary gives the ratio grpc / ws.
 *
 * <pre>java -cp tidings-bench.jar io.tidings.bench.push.PushReport DIR</pre>
 */
public final class PushReport {
  private static final List<String> SCENARIOS = List.of("broadcast", "topics", "idle", "fanout");
  private static final List<String> TRANSPORTS = List.of("ws", "sse", "grpc");

  /** One column group of a step table: a run of {@code target} over {@code transport}. */
  private record Col(String target, String transport) {
    String title() {
      return target + "/" + transport;
    }
  }

  private final List<Properties> runs = new ArrayList<>();
  private final List<String> targets = new ArrayList<>();

  public static void main(String[] args) throws IOException {
    if (args.length != 1) {
      System.err.println("usage: PushReport DIR   (the --results files of PushBench runs)");
      System.exit(2);
    }
    PushReport r = new PushReport();
    r.load(Path.of(args[0]));
    r.print();
  }

  private void load(Path dir) throws IOException {
    List<Path> files;
    try (Stream<Path> s = Files.list(dir)) {
      files = s.filter(p -> p.toString().endsWith(".properties")).sorted(Comparator.naturalOrder()).toList();
    }
    Set<String> t = new LinkedHashSet<>();
    for (Path f : files) {
      Properties p = new Properties();
      try (Reader r = Files.newBufferedReader(f, StandardCharsets.UTF_8)) {
        p.load(r);
      }
      runs.add(p);
    }
    // nchan first: the baseline column.
    for (String want : List.of("nchan", "tidings")) {
      for (Properties p : runs) {
        if (want.equals(p.getProperty("run.target"))) {
          t.add(want);
        }
      }
    }
    for (Properties p : runs) {
      t.add(p.getProperty("run.target"));
    }
    targets.addAll(t);
  }

  private Properties find(String target, String transport, String scenario) {
    for (Properties p : runs) {
      if (target.equals(p.getProperty("run.target")) && transport.equals(p.getProperty("run.transport"))
          && scenario.equals(p.getProperty("run.scenario"))) {
        return p;
      }
    }
    return null;
  }

  private void print() {
    for (String sc : SCENARIOS) {
      if (sc.equals("idle")) {
        printIdle();
      } else if (sc.equals("fanout")) {
        printFanout();
      } else {
        printSteps(sc);
      }
    }
    printSummary();
    printFanoutSummary();
  }

  private static final String[] STEP_COLS = {"deliv/s", "p50", "p99", "p99.9", "us/del", "srv%", "miss", "dup", "ok"};
  private static final String[] STEP_KEYS = {"delivered_per_s", "p50_ms", "p99_ms", "p999_ms",
      "server_cpu_us_per_delivery", "server_cpu_pct", "missing", "dup", "kept_up"};
  private static final int[] STEP_W = {9, 7, 7, 7, 7, 6, 6, 5, 3};

  private void printSteps(String sc) {
    boolean any = false;
    for (String tr : TRANSPORTS) {
      List<Col> cols = new ArrayList<>();
      for (String t : targets) {
        cols.add(new Col(t, tr));
      }
      if (cols.stream().allMatch(c -> find(c.target, c.transport, sc) == null)) {
        continue;
      }
      if (!any) {
        header(sc, cols);
        any = true;
      }
      printTable(sc, tr, cols, false);
    }
  }

  /** The fanout scenario: every transport that ran, next to each other (per target). */
  private void printFanout() {
    List<Col> cols = new ArrayList<>();
    for (String t : targets) {
      for (String tr : TRANSPORTS) {
        if (find(t, tr, "fanout") != null) {
          cols.add(new Col(t, tr));
        }
      }
    }
    if (cols.isEmpty()) {
      return;
    }
    header("fanout", cols);
    Properties grpc = cols.stream().map(c -> find(c.target, c.transport, "fanout"))
        .filter(p -> p.getProperty("run.grpc_connections") != null).findFirst().orElse(null);
    if (grpc != null) {
      System.out.printf(Locale.ROOT, "   grpc: %s HTTP/2 connections, %s stream(s) per connection%n",
          grpc.getProperty("run.grpc_connections"), grpc.getProperty("run.grpc_streams_per_connection"));
    }
    Properties paired = cols.stream().map(c -> find(c.target, c.transport, "fanout"))
        .filter(p -> p.getProperty("run.paired") != null).findFirst().orElse(null);
    if (paired != null) {
      System.out.printf(Locale.ROOT, "   paired steps (%s) on one server: each rate once per transport, one right after"
          + " the other; each on its own topic%n", paired.getProperty("run.paired"));
    }
    printTable("fanout", "", cols, true);
  }

  private void header(String sc, List<Col> cols) {
    Properties some = cols.stream().map(c -> find(c.target, c.transport, sc)).filter(p -> p != null).findFirst()
        .orElseThrow();
    System.out.printf(Locale.ROOT, "%n== %s: %s subscribers on %s topic(s), %s-byte messages; latency in ms,"
        + " us/del = server CPU µs per delivery, srv%% = server CPU (100 = one core)%n", sc,
        some.getProperty("run.subscribers"), some.getProperty("run.topics"), some.getProperty("run.payload_bytes"));
  }

  private void printTable(String sc, String tag, List<Col> specs, boolean transportTitles) {
    List<Properties> cols = new ArrayList<>();
    for (Col c : specs) {
      cols.add(find(c.target, c.transport, sc));
    }
    StringBuilder h1 = new StringBuilder(String.format(Locale.ROOT, "%-4s %7s", "", ""));
    StringBuilder h2 = new StringBuilder(String.format(Locale.ROOT, "%-4s %7s", "", "msg/s"));
    int groupWidth = 0;
    for (int w : STEP_W) {
      groupWidth += w + 1;
    }
    for (int i = 0; i < cols.size(); i++) {
      Properties p = cols.get(i);
      String name = transportTitles ? specs.get(i).title() : specs.get(i).target;
      String title = name + (p == null ? " (not run)" : " (connected " + p.getProperty("connect.connected")
          + ", " + p.getProperty("connect.seconds") + " s)");
      h1.append(" | ").append(pad(title, groupWidth - 1, true));
      h2.append(" |");
      for (int c = 0; c < STEP_COLS.length; c++) {
        h2.append(' ').append(pad(STEP_COLS[c], STEP_W[c], false));
      }
    }
    System.out.println(h1);
    System.out.println(h2);
    // rows: warm-up, then the union of rates in step order
    List<String> rows = new ArrayList<>();
    rows.add("warmup");
    int maxSteps = 0;
    for (Properties p : cols) {
      if (p != null) {
        maxSteps = Math.max(maxSteps, Integer.parseInt(p.getProperty("steps", "0")));
      }
    }
    for (int i = 1; i <= maxSteps; i++) {
      rows.add("step." + i);
    }
    for (String row : rows) {
      String rate = null;
      for (Properties p : cols) {
        if (p != null && p.getProperty(row + ".rate") != null) {
          rate = p.getProperty(row + ".rate");
          break;
        }
      }
      if (rate == null) {
        continue;
      }
      StringBuilder line = new StringBuilder(String.format(Locale.ROOT, "%-4s %7s", tag,
          (row.equals("warmup") ? "w" : "") + trimRate(rate)));
      for (Properties p : cols) {
        line.append(" |");
        boolean has = p != null && p.getProperty(row + ".rate") != null;
        for (int c = 0; c < STEP_KEYS.length; c++) {
          String v = has ? p.getProperty(row + "." + STEP_KEYS[c], "-") : (c == 0 ? "stopped" : "");
          if (STEP_KEYS[c].equals("kept_up")) {
            v = has ? (v.equals("true") ? "yes" : "NO") : "";
          } else if (has && (STEP_KEYS[c].endsWith("_ms") || STEP_KEYS[c].equals("server_cpu_pct"))) {
            v = round(v, STEP_KEYS[c].equals("server_cpu_pct") ? 0 : 1);
          } else if (has && STEP_KEYS[c].equals("server_cpu_us_per_delivery")) {
            v = round(v, 2);
          }
          line.append(' ').append(pad(v, STEP_W[c], false));
        }
      }
      System.out.println(line);
    }
    for (int i = 0; i < cols.size(); i++) {
      Properties p = cols.get(i);
      if (p != null && p.getProperty("summary.stopped") != null) {
        System.out.printf(Locale.ROOT, "     %s/%s stopped: %s%n", specs.get(i).target, specs.get(i).transport,
            p.getProperty("summary.stopped"));
      }
    }
  }

  private void printIdle() {
    boolean any = false;
    for (String tr : TRANSPORTS) {
      for (String t : targets) {
        Properties p = find(t, tr, "idle");
        if (p == null) {
          continue;
        }
        if (!any) {
          System.out.printf(Locale.ROOT, "%n== idle: %s connections on %s topic(s)%n", p.getProperty("run.subscribers"),
              p.getProperty("run.topics"));
          System.out.printf(Locale.ROOT, "%-4s %-8s %10s %8s %12s %12s %14s %14s %16s %9s%n", "", "target",
              "connected", "conn s", "RSS idle MiB", "RSS conn MiB", "RSS B/conn", "heap B/conn", "RSS+heap B/conn",
              "idle CPU%");
          any = true;
        }
        long rss0 = lng(p, "server.rss_idle_kb");
        long rss1 = lng(p, "idle.rss_kb");
        long per = lng(p, "idle.rss_per_conn_bytes");
        long heap = lng(p, "idle.heap_live_per_conn_bytes");
        System.out.printf(Locale.ROOT, "%-4s %-8s %10s %8s %12s %12s %14s %14s %16s %9s%n", tr, t,
            p.getProperty("connect.connected"), p.getProperty("connect.seconds"), rss0 < 0 ? "-" : rss0 / 1024,
            rss1 < 0 ? "-" : rss1 / 1024, per == Long.MIN_VALUE ? "-" : per, heap == Long.MIN_VALUE ? "-" : heap,
            per == Long.MIN_VALUE ? "-" : per + (heap == Long.MIN_VALUE ? 0 : heap),
            p.getProperty("idle.server_cpu_pct", "-"));
      }
    }
  }

  private void printSummary() {
    if (targets.isEmpty() || runs.stream().allMatch(p -> "fanout".equals(p.getProperty("run.scenario")))) {
      return;
    }
    String a = targets.get(0);
    String b = targets.size() > 1 ? targets.get(1) : null;
    System.out.printf(Locale.ROOT, "%n== summary%n%-58s %14s %14s %9s%n", "", a, b == null ? "" : b,
        b == null ? "" : b + "/" + a);
    for (String sc : List.of("broadcast", "topics")) {
      for (String tr : TRANSPORTS) {
        Properties pa = find(a, tr, sc);
        Properties pb = b == null ? null : find(b, tr, sc);
        if (pa == null && pb == null) {
          continue;
        }
        String lim = first(pa, pb, "summary.p99_limit_ms");
        String low = first(pa, pb, "summary.low_latency_ms");
        sum(sc + " " + tr + ": p99 ms at the first step (" + trimRate(first(pa, pb, "summary.first_rate")) + " msg/s)",
            pa, pb, "summary.first_p99_ms", false);
        sum(sc + " " + tr + ": most deliveries/s kept up, p99 <= " + lim + " ms", pa, pb, "summary.max_delivered_per_s",
            true);
        sum(sc + " " + tr + ":   at msg/s", pa, pb, "summary.max_rate", true);
        sum(sc + " " + tr + ":   p50 / p99 ms there", pa, pb, "summary.max_p50_ms", "summary.max_p99_ms");
        sum(sc + " " + tr + ":   server CPU µs per delivery there", pa, pb, "summary.max_cpu_us_per_delivery", false);
        sum(sc + " " + tr + ": most deliveries/s with p99 <= " + low + " ms", pa, pb, "summary.low_delivered_per_s",
            true);
        sum(sc + " " + tr + ": missing / duplicated over all steps", pa, pb, "summary.missing", "summary.dup");
      }
    }
    for (String tr : TRANSPORTS) {
      Properties pa = find(a, tr, "idle");
      Properties pb = b == null ? null : find(b, tr, "idle");
      if (pa == null && pb == null) {
        continue;
      }
      String na = memPerConn(pa);
      String nb = memPerConn(pb);
      System.out.printf(Locale.ROOT, "%-58s %14s %14s %9s%n", "idle " + tr + ": bytes per connection (RSS + live heap)",
          na, nb, ratio(na, nb));
      sum("idle " + tr + ": server CPU % while idle", pa, pb, "idle.server_cpu_pct", false);
    }
  }

  /**
   * The fanout scenario's comparison: gRPC against WebSocket on the same server in the same
   * invocation, at the same subscriber count and publish rates; ratio grpc / ws.
   */
  private void printFanoutSummary() {
    for (String t : targets) {
      Properties ws = find(t, "ws", "fanout");
      Properties grpc = find(t, "grpc", "fanout");
      if (ws == null || grpc == null) {
        continue;
      }
      System.out.printf(Locale.ROOT, "%n== fanout summary (%s, %s subscribers on one topic)%n%-58s %14s %14s %9s%n", t,
          ws.getProperty("run.subscribers"), "", "ws", "grpc", "grpc/ws");
      sum("fanout: subscribers connected", ws, grpc, "connect.connected", true);
      sum("fanout: seconds to connect them", ws, grpc, "connect.seconds", false);
      sum("fanout: server RSS bytes per connection (after connecting)", ws, grpc, "server.rss_per_conn_bytes", false);
      sum("fanout: p50 / p99 ms at the first step (" + trimRate(first(ws, grpc, "summary.first_rate")) + " msg/s)",
          ws, grpc, "summary.first_p50_ms", "summary.first_p99_ms");
      sum("fanout: p99 ms at the first step", ws, grpc, "summary.first_p99_ms", false);
      String common = highestCommonRate(ws, grpc);
      if (common != null) {
        String kw = stepAt(ws, common);
        String kg = stepAt(grpc, common);
        String at = " at " + trimRate(common) + " msg/s (both kept up)";
        row("fanout: deliveries/s" + at, ws.getProperty(kw + ".delivered_per_s"),
            grpc.getProperty(kg + ".delivered_per_s"));
        row("fanout:   p50 ms there", ws.getProperty(kw + ".p50_ms"), grpc.getProperty(kg + ".p50_ms"));
        row("fanout:   p99 ms there", ws.getProperty(kw + ".p99_ms"), grpc.getProperty(kg + ".p99_ms"));
        row("fanout:   server CPU µs per delivery there", ws.getProperty(kw + ".server_cpu_us_per_delivery"),
            grpc.getProperty(kg + ".server_cpu_us_per_delivery"));
        row("fanout:   server CPU % there", ws.getProperty(kw + ".server_cpu_pct"),
            grpc.getProperty(kg + ".server_cpu_pct"));
      } else {
        System.out.printf(Locale.ROOT, "%-58s%n", "fanout: no rate at which both kept up");
      }
      String lim = first(ws, grpc, "summary.p99_limit_ms");
      String low = first(ws, grpc, "summary.low_latency_ms");
      sum("fanout: most deliveries/s kept up, p99 <= " + lim + " ms", ws, grpc, "summary.max_delivered_per_s", true);
      sum("fanout:   at msg/s", ws, grpc, "summary.max_rate", true);
      sum("fanout:   p50 / p99 ms there", ws, grpc, "summary.max_p50_ms", "summary.max_p99_ms");
      sum("fanout:   server CPU µs per delivery there", ws, grpc, "summary.max_cpu_us_per_delivery", false);
      sum("fanout: most deliveries/s with p99 <= " + low + " ms", ws, grpc, "summary.low_delivered_per_s", true);
      sum("fanout: missing / duplicated over all steps", ws, grpc, "summary.missing", "summary.dup");
      System.out.printf(Locale.ROOT, "%-58s %14s %14s%n", "fanout: offsets skipped / out of order (grpc checks)", "-",
          grpc.getProperty("summary.gaps", "-") + " / " + grpc.getProperty("summary.out_of_order", "-"));
      System.out.printf(Locale.ROOT, "%-58s %14s %14s%n", "fanout: load average at start",
          ws.getProperty("run.loadavg_start", "-"), grpc.getProperty("run.loadavg_start", "-"));
    }
  }

  /**
   * The highest step rate at which both runs kept up (all published, all delivered, at the
   * offered rate), or null. Their p99 is compared there, not required to be within the bound: on a
   * noisy machine one slow step would otherwise leave nothing to compare.
   */
  private static String highestCommonRate(Properties a, Properties b) {
    String best = null;
    double bestRate = -1;
    int n = Integer.parseInt(a.getProperty("steps", "0"));
    for (int i = 1; i <= n; i++) {
      String rate = a.getProperty("step." + i + ".rate");
      String kb = stepAt(b, rate);
      if (rate == null || kb == null || !keptUp(a, "step." + i) || !keptUp(b, kb)) {
        continue;
      }
      double r = Double.parseDouble(rate);
      if (r > bestRate) {
        bestRate = r;
        best = rate;
      }
    }
    return best;
  }

  private static boolean keptUp(Properties p, String step) {
    return "true".equals(p.getProperty(step + ".kept_up"));
  }

  /** The key prefix ("step.N") of the step run at {@code rate}, or null. */
  private static String stepAt(Properties p, String rate) {
    int n = Integer.parseInt(p.getProperty("steps", "0"));
    for (int i = 1; i <= n; i++) {
      if (rate != null && rate.equals(p.getProperty("step." + i + ".rate"))) {
        return "step." + i;
      }
    }
    return null;
  }

  private static void row(String label, String a, String b) {
    a = a == null ? "-" : a;
    b = b == null ? "-" : b;
    System.out.printf(Locale.ROOT, "%-58s %14s %14s %9s%n", label, a, b, ratio(a, b));
  }

  private static String memPerConn(Properties p) {
    if (p == null || p.getProperty("idle.rss_per_conn_bytes") == null) {
      return "-";
    }
    long v = Long.parseLong(p.getProperty("idle.rss_per_conn_bytes"));
    String h = p.getProperty("idle.heap_live_per_conn_bytes");
    if (h != null) {
      v += Long.parseLong(h);
    }
    return Long.toString(v);
  }

  private static String first(Properties a, Properties b, String key) {
    String v = a == null ? null : a.getProperty(key);
    if (v == null && b != null) {
      v = b.getProperty(key);
    }
    return v == null ? "-" : v;
  }

  private void sum(String label, Properties a, Properties b, String key, boolean higherBetter) {
    String va = a == null ? "-" : a.getProperty(key, "-");
    String vb = b == null ? "-" : b.getProperty(key, "-");
    System.out.printf(Locale.ROOT, "%-58s %14s %14s %9s%n", label, va, vb, ratio(va, vb));
  }

  private void sum(String label, Properties a, Properties b, String k1, String k2) {
    String va = a == null ? "-" : a.getProperty(k1, "-") + " / " + a.getProperty(k2, "-");
    String vb = b == null ? "-" : b.getProperty(k1, "-") + " / " + b.getProperty(k2, "-");
    System.out.printf(Locale.ROOT, "%-58s %14s %14s%n", label, va, vb);
  }

  private static String ratio(String a, String b) {
    try {
      double x = Double.parseDouble(a);
      double y = Double.parseDouble(b);
      if (x == 0) {
        return "-";
      }
      return String.format(Locale.ROOT, "%.2f", y / x);
    } catch (RuntimeException e) {
      return "";
    }
  }

  private static long lng(Properties p, String k) {
    String v = p.getProperty(k);
    if (v == null) {
      return Long.MIN_VALUE;
    }
    try {
      return Long.parseLong(v);
    } catch (NumberFormatException e) {
      return Long.MIN_VALUE;
    }
  }

  private static String trimRate(String r) {
    if (r == null) {
      return "-";
    }
    return r.endsWith(".00") ? r.substring(0, r.length() - 3) : r;
  }

  private static String round(String v, int decimals) {
    try {
      return String.format(Locale.ROOT, "%." + decimals + "f", Double.parseDouble(v));
    } catch (RuntimeException e) {
      return v;
    }
  }

  private static String pad(String s, int w, boolean left) {
    if (s.length() >= w) {
      return s;
    }
    String sp = " ".repeat(w - s.length());
    return left ? s + sp : sp + s;
  }
}
