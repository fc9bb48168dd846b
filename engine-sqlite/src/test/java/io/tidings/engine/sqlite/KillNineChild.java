package io.tidings.engine.sqlite;

import io.tidings.core.DedupeWindow;
import io.tidings.core.NewEvent;
import io.tidings.core.RecordWrite;
import io.tidings.core.RetentionPolicy;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Clock;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Run in a child JVM by the SQLite tests: writes from several threads until killed and prints a
 * line for every acknowledged write. In {@code appends} mode, appends and prints
 * {@code <id> <offset>}; in {@code records} mode, each thread {@code t} writes units {@code n = 1,
 * 2, ...} of two puts, {@code log/<t>-<n>} and {@code cursors/<t> = n}, and prints {@code <t> <n>}.
 */
public final class KillNineChild {
  private KillNineChild() {}

  /** Starts a child JVM writing to {@code dir} in {@code mode}; its stdout has the acknowledgements. */
  static Process start(Path dir, String mode) throws IOException {
    String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
    return new ProcessBuilder(java, "-cp", System.getProperty("java.class.path"),
        KillNineChild.class.getName(), dir.toString(), mode)
        .redirectError(ProcessBuilder.Redirect.DISCARD)
        .start();
  }

  /** The value {@code records} mode writes as {@code log/<t>-<n>}. */
  static String logValue(int thread, long n) {
    return "{\"thread\":" + thread + ",\"n\":" + n + ",\"pad\":\"" + "\u00e9".repeat(200) + "\"}";
  }

  public static void main(String[] args) throws Exception {
    SqliteEngine engine = new SqliteEngine(Path.of(args[0]), SqliteOptions.DEFAULTS,
        RetentionPolicy.keepAll(), DedupeWindow.DEFAULT, Clock.systemUTC());
    engine.start().toCompletableFuture().join();
    boolean records = args.length > 1 && args[1].equals("records");
    PrintStream out = new PrintStream(System.out, true, StandardCharsets.UTF_8);
    AtomicLong next = new AtomicLong();
    for (int t = 0; t < 4; t++) {
      int thread = t;
      Thread writer = new Thread(() -> {
        for (long n = 1; ; n++) {
          String line;
          if (records) {
            engine.records().write(List.of(
                RecordWrite.put("log", thread + "-" + n, logValue(thread, n)),
                RecordWrite.put("cursors", Integer.toString(thread), Long.toString(n))))
                .toCompletableFuture().join();
            line = thread + " " + n;
          } else {
            String id = "e" + next.incrementAndGet();
            long offset = engine.append("t", List.of(NewEvent.message("1").withId(id)))
                .toCompletableFuture().join().lastOffset();
            line = id + " " + offset;
          }
          synchronized (out) {
            out.println(line);
          }
        }
      });
      writer.start();
    }
  }
}
