package io.tidings.server.testing;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

/**
 * A Node.js script of {@code server/src/test/js} run as a child process, for tests that need a real
 * JavaScript peer (the npm packages {@code ws} and {@code eventsource}, pinned in the repository's
 * {@code package.json}). It runs {@code node server/src/test/js/<name>.mjs args...} from the
 * repository root; every line it prints on standard output goes to a queue that tests await, its
 * standard error is kept for failure messages, and it is killed on {@link #close()} or when its
 * time runs out.
 *
 * <p>The npm packages come from {@code npm ci} in the repository root (CI's {@code .ci/run} does it
 * first). Without them a test fails, telling what to run; it is never skipped.
 */
public final class NodeScript implements AutoCloseable {
  private static final ObjectMapper JSON = new ObjectMapper();
  /** How long a script may live unless told otherwise. */
  public static final Duration DEFAULT_TIMEOUT = Duration.ofMinutes(5);

  private final String name;
  private final Process process;
  private final BlockingQueue<String> lines = new LinkedBlockingQueue<>();
  private final StringBuffer stderr = new StringBuffer();
  private final CountDownLatch stdoutEnded = new CountDownLatch(1);
  private final CountDownLatch stderrEnded = new CountDownLatch(1);
  private volatile boolean timedOut;

  private NodeScript(String name, Process process, Duration timeout) {
    this.name = name;
    this.process = process;
    Thread out = new Thread(() -> {
      try (BufferedReader in = new BufferedReader(new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8))) {
        String line;
        while ((line = in.readLine()) != null) {
          lines.add(line);
        }
      } catch (IOException ignored) {
        // the process ended
      } finally {
        stdoutEnded.countDown();
      }
    }, "node-" + name + "-out");
    out.setDaemon(true);
    out.start();
    Thread err = new Thread(() -> {
      try (InputStream in = process.getErrorStream()) {
        byte[] buf = new byte[4096];
        int n;
        while ((n = in.read(buf)) >= 0) {
          stderr.append(new String(buf, 0, n, StandardCharsets.UTF_8));
        }
      } catch (IOException ignored) {
        // the process ended
      } finally {
        stderrEnded.countDown();
      }
    }, "node-" + name + "-err");
    err.setDaemon(true);
    err.start();
    Thread watchdog = new Thread(() -> {
      try {
        if (!process.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
          timedOut = true;
          kill();
        }
      } catch (InterruptedException ignored) {
        // test JVM ending
      }
    }, "node-" + name + "-watchdog");
    watchdog.setDaemon(true);
    watchdog.start();
  }

  /** Starts {@code server/src/test/js/<name>.mjs} with {@code args}, living at most {@link #DEFAULT_TIMEOUT}. */
  public static NodeScript start(String name, String... args) throws IOException {
    return start(name, DEFAULT_TIMEOUT, Map.of(), args);
  }

  /** Starts a script that is killed after {@code timeout}, with extra environment variables. */
  public static NodeScript start(String name, Duration timeout, Map<String, String> env, String... args) throws IOException {
    Path root = repoRoot();
    requireNodeModules(root);
    Path script = root.resolve("server/src/test/js/" + name + ".mjs");
    if (!Files.isRegularFile(script)) {
      throw new AssertionError("no such Node.js test script: " + script);
    }
    List<String> cmd = new ArrayList<>();
    cmd.add(nodeBinary());
    cmd.add(root.relativize(script).toString());
    cmd.addAll(List.of(args));
    ProcessBuilder pb = new ProcessBuilder(cmd).directory(root.toFile());
    pb.environment().keySet().removeIf(k -> k.startsWith("TIDINGS_") || k.startsWith("NODE_"));
    pb.environment().putAll(env);
    Process p;
    try {
      p = pb.start();
    } catch (IOException e) {
      throw new AssertionError("cannot run node (" + e.getMessage() + "): install Node.js 20 or newer and npm"
          + " (.ci/run does), then run `npm ci` in " + root, e);
    }
    p.getOutputStream().close();
    NodeScript s = new NodeScript(name, p, timeout);
    Runtime.getRuntime().addShutdownHook(new Thread(s::kill));
    return s;
  }

  /** The repository root: the nearest directory above the working directory that holds {@code package.json}. */
  public static Path repoRoot() {
    Path start = Path.of("").toAbsolutePath();
    for (Path dir = start; dir != null; dir = dir.getParent()) {
      if (Files.isRegularFile(dir.resolve("package.json")) && Files.isDirectory(dir.resolve("server"))) {
        return dir;
      }
    }
    throw new AssertionError("no package.json in " + start + " or any directory above it: cannot find the repository root");
  }

  /**
   * Fails, saying to run {@code npm ci}, unless every dev dependency that {@code root/package.json}
   * names is installed in {@code root/node_modules}.
   */
  public static void requireNodeModules(Path root) {
    JsonNode pkg;
    try {
      pkg = JSON.readTree(root.resolve("package.json").toFile());
    } catch (IOException e) {
      throw new AssertionError("cannot read " + root.resolve("package.json") + ": " + e.getMessage(), e);
    }
    List<String> missing = new ArrayList<>();
    for (Iterator<String> it = pkg.path("devDependencies").fieldNames(); it.hasNext(); ) {
      String dependency = it.next();
      if (!Files.isRegularFile(root.resolve("node_modules").resolve(dependency).resolve("package.json"))) {
        missing.add(dependency);
      }
    }
    if (!missing.isEmpty()) {
      throw new AssertionError("the npm packages " + missing + " are not installed in " + root.resolve("node_modules")
          + ": run `npm ci` in " + root + " first (CI's .ci/run does)");
    }
  }

  private static String nodeBinary() {
    String override = System.getenv("TIDINGS_TEST_NODE");
    return override != null && !override.isBlank() ? override : "node";
  }

  /** Every line printed on standard output that no await took yet. */
  public BlockingQueue<String> lines() {
    return lines;
  }

  /**
   * The next standard-output line; fails (with the script's standard error) when none comes within
   * {@code timeout} or the script ends first.
   */
  public String awaitLine(Duration timeout) throws InterruptedException {
    long deadline = System.nanoTime() + timeout.toNanos();
    while (true) {
      String line = lines.poll(100, TimeUnit.MILLISECONDS);
      if (line != null) {
        return line;
      }
      if (stdoutEnded.getCount() == 0 && lines.isEmpty()) {
        process.waitFor(5, TimeUnit.SECONDS);
        throw new AssertionError(name + ".mjs ended (" + exitDescription() + ") before printing the awaited line"
            + stderrForMessage());
      }
      if (System.nanoTime() > deadline) {
        throw new AssertionError(name + ".mjs printed no line within " + timeout + stderrForMessage());
      }
    }
  }

  /** The next standard-output line parsed as JSON. */
  public JsonNode awaitJson(Duration timeout) throws InterruptedException {
    String line = awaitLine(timeout);
    try {
      return JSON.readTree(line);
    } catch (IOException e) {
      throw new AssertionError(name + ".mjs printed a line that is not JSON: " + line + stderrForMessage(), e);
    }
  }

  /** Waits for the script to end; returns its exit code, failing when it does not end within {@code timeout}. */
  public int waitFor(Duration timeout) throws InterruptedException {
    if (!process.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
      throw new AssertionError(name + ".mjs did not end within " + timeout + stderrForMessage());
    }
    stdoutEnded.await(5, TimeUnit.SECONDS);
    stderrEnded.await(5, TimeUnit.SECONDS);
    return process.exitValue();
  }

  /** What the script printed on standard error so far. */
  public String stderr() {
    return stderr.toString();
  }

  /** The child process (for signals). */
  public Process process() {
    return process;
  }

  private String exitDescription() {
    if (process.isAlive()) {
      return "still running";
    }
    return (timedOut ? "killed after its timeout, " : "") + "exit code " + process.exitValue();
  }

  private String stderrForMessage() {
    String err = stderr().strip();
    return err.isEmpty() ? "" : "; its standard error:\n" + (err.length() > 4000 ? err.substring(err.length() - 4000) : err);
  }

  private void kill() {
    process.descendants().forEach(ProcessHandle::destroyForcibly);
    process.destroyForcibly();
  }

  /** Kills the script (and anything it started) and waits for it to end. */
  @Override
  public void close() {
    if (process.isAlive()) {
      kill();
      try {
        process.waitFor(30, TimeUnit.SECONDS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
  }
}
