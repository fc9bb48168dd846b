package io.tidings.bench;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.PrintWriter;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A Tidings server in its own JVM: {@code java <jvm flags> -jar tidings.jar serve --port P --data DIR}.
 * Its output goes to a log file; the port is taken from the {@code listening on http://...} line.
 * Public for the push benchmark ({@code io.tidings.bench.push}).
 */
public final class ServerProcess implements AutoCloseable {
  private static final Pattern LISTENING = Pattern.compile("listening on (http://[^\\s:]+:(\\d+))");

  private final Process process;
  private final String baseUrl;
  private final Path log;
  private final Thread pump;

  private ServerProcess(Process process, String baseUrl, Path log, Thread pump) {
    this.process = process;
    this.baseUrl = baseUrl;
    this.log = log;
    this.pump = pump;
  }

  /** Starts the server and waits (at most {@code timeoutSeconds}) until it listens. */
  public static ServerProcess start(Path jar, List<String> jvmFlags, List<String> serveArgs, Path dataDir, Path log,
      int timeoutSeconds) throws IOException, InterruptedException {
    if (!Files.isRegularFile(jar)) {
      throw new IOException("server jar not found: " + jar + " (build it: ./mvnw -q -B -DskipTests package -pl server -am)");
    }
    List<String> cmd = new ArrayList<>();
    cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
    cmd.addAll(jvmFlags);
    // The engine logs its commit count at debug level when it stops: the bench reads it from the
    // log to learn how many events each group commit carried (the server exports no such metric).
    cmd.add("-Dorg.slf4j.simpleLogger.log.io.tidings.engine.sqlite.LogWriter=debug");
    cmd.add("-jar");
    cmd.add(jar.toString());
    cmd.add("serve");
    cmd.add("--host");
    cmd.add("127.0.0.1");
    cmd.add("--port");
    // Not "--port 0": with more than one event loop the server's listeners cannot share port 0.
    cmd.add(Integer.toString(freePort()));
    cmd.add("--data");
    cmd.add(dataDir.toString());
    cmd.addAll(serveArgs);
    ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true);
    Process p = pb.start();
    CompletableFuture<String> url = new CompletableFuture<>();
    Thread pump = new Thread(() -> {
      try (BufferedReader in = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8));
          PrintWriter out = new PrintWriter(Files.newBufferedWriter(log, StandardCharsets.UTF_8), true)) {
        String line;
        while ((line = in.readLine()) != null) {
          out.println(line);
          Matcher m = LISTENING.matcher(line);
          if (!url.isDone() && m.find()) {
            url.complete(m.group(1));
          }
        }
      } catch (IOException e) {
        url.completeExceptionally(e);
      }
      url.completeExceptionally(new IOException("server exited before listening; see " + log));
    }, "server-log-pump");
    pump.setDaemon(true);
    pump.start();
    try {
      String base = url.get(timeoutSeconds, TimeUnit.SECONDS);
      return new ServerProcess(p, base, log, pump);
    } catch (TimeoutException e) {
      p.destroyForcibly();
      throw new IOException("server did not report 'listening on' within " + timeoutSeconds + " s; see " + log);
    } catch (java.util.concurrent.ExecutionException e) {
      p.destroyForcibly();
      throw new IOException(e.getCause().getMessage(), e.getCause());
    }
  }

  /** A loopback port that was free a moment ago. */
  public static int freePort() throws IOException {
    try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      return s.getLocalPort();
    }
  }

  public String baseUrl() {
    return baseUrl;
  }

  public long pid() {
    return process.pid();
  }

  public Path log() {
    return log;
  }

  /**
   * Seconds the server's JIT compilers have spent so far ({@code jstat -compiler}), or -1 when
   * that cannot be read (no jstat, no perf data).
   */
  double jitSeconds() {
    Path jstat = Path.of(System.getProperty("java.home"), "bin", "jstat");
    if (!Files.isExecutable(jstat)) {
      return -1;
    }
    try {
      Process p = new ProcessBuilder(jstat.toString(), "-compiler", Long.toString(process.pid()))
          .redirectErrorStream(true).start();
      String text = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
      if (!p.waitFor(10, TimeUnit.SECONDS) || p.exitValue() != 0) {
        p.destroyForcibly();
        return -1;
      }
      // Compiled Failed Invalid   Time   FailedType FailedMethod
      String[] lines = text.trim().split("\n");
      String[] f = lines[lines.length - 1].trim().split("\\s+");
      return Double.parseDouble(f[3]);
    } catch (IOException | RuntimeException e) {
      return -1;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return -1;
    }
  }

  private static final Pattern COMMITS = Pattern.compile("writer stopped after (\\d+) commits");

  /**
   * After {@link #close()}: the append transactions the engine reported committing over its
   * whole life, or -1 when the log does not say.
   */
  long commitsFromLog() {
    try {
      for (String line : Files.readAllLines(log, StandardCharsets.UTF_8)) {
        Matcher m = COMMITS.matcher(line);
        if (m.find()) {
          return Long.parseLong(m.group(1));
        }
      }
    } catch (IOException | RuntimeException ignored) {
      // no figure
    }
    return -1;
  }

  /** Asks the server to stop (SIGTERM, graceful), then kills it if it takes longer than 40 s. */
  @Override
  public void close() {
    try {
      if (process.isAlive()) {
        // SIGTERM through the handle: Process.destroy() would also close the output pipe and lose
        // the shutdown messages.
        process.toHandle().destroy();
        if (!process.waitFor(40, TimeUnit.SECONDS)) {
          process.destroyForcibly().waitFor(5, TimeUnit.SECONDS);
        }
      }
      // Let the pump copy the last lines (the shutdown messages) into the log.
      pump.join(5_000);
    } catch (InterruptedException e) {
      process.destroyForcibly();
      Thread.currentThread().interrupt();
    }
  }
}
