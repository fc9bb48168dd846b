package io.tidings.engine.sqlite;

import io.tidings.core.DedupeWindow;
import io.tidings.core.NewEvent;
import io.tidings.core.RetentionPolicy;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Clock;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Run in a child JVM by {@link SqliteEngineTest}: appends from several threads until killed and
 * prints {@code <id> <offset>} for every acknowledged append.
 */
public final class KillNineChild {
  private KillNineChild() {}

  public static void main(String[] args) throws Exception {
    SqliteEngine engine = new SqliteEngine(Path.of(args[0]), SqliteOptions.DEFAULTS,
        RetentionPolicy.keepAll(), DedupeWindow.DEFAULT, Clock.systemUTC());
    engine.start().toCompletableFuture().join();
    PrintStream out = new PrintStream(System.out, true, StandardCharsets.UTF_8);
    AtomicLong next = new AtomicLong();
    for (int t = 0; t < 4; t++) {
      Thread thread = new Thread(() -> {
        while (true) {
          String id = "e" + next.incrementAndGet();
          long offset = engine.append("t", List.of(NewEvent.message("1").withId(id)))
              .toCompletableFuture().join().lastOffset();
          synchronized (out) {
            out.println(id + " " + offset);
          }
        }
      });
      thread.start();
    }
  }
}
