package io.tidings.server.examples;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.tidings.server.testing.NodeScript;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * The browser tests of the example pages ({@code examples/test/*.test.mjs}): Node's test runner drives
 * headless Chromium (playwright-core, {@code /usr/bin/chromium}) against real Tidings servers that serve
 * {@code /examples/} and {@code /client/}. This runs {@code node --test examples/test/} from the
 * repository root with the servers started from this build's classes (the test class path and
 * {@code io.tidings.server.Main}, as {@link io.tidings.server.testing.TidingsProcess} starts them), and
 * fails with node's output when any of them fails. Screenshots and server logs go to
 * {@code server/target/test-artifacts/}, node's whole output to {@code examples-node-test.log} there.
 */
class ExamplesBrowserTest {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final Duration TIMEOUT = Duration.ofMinutes(20);
  private static final int SHOWN = 30_000;

  @Test
  void examplePages_passTheirBrowserTests() throws Exception {
    Path root = NodeScript.repoRoot();
    NodeScript.requireNodeModules(root);
    Path artifacts = root.resolve("server/target/test-artifacts");
    Files.createDirectories(artifacts);
    Path log = artifacts.resolve("examples-node-test.log");

    List<String> server = List.of(
        Path.of(System.getProperty("java.home"), "bin", "java").toString(),
        "-Xmx256m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1",
        "-cp", classpath(),
        "io.tidings.server.Main");
    String node = System.getenv("TIDINGS_TEST_NODE");
    List<String> cmd = List.of(node != null && !node.isBlank() ? node : "node",
        "--test", "--test-concurrency=1", "--test-reporter=spec", "examples/test/");
    ProcessBuilder pb = new ProcessBuilder(cmd).directory(root.toFile()).redirectErrorStream(true);
    pb.environment().keySet().removeIf(k -> k.startsWith("TIDINGS_") || k.startsWith("NODE_"));
    pb.environment().put("TIDINGS_SERVER_CMD", JSON.writeValueAsString(server));
    pb.environment().put("TIDINGS_ARTIFACTS", artifacts.toString());
    pb.environment().put("NO_COLOR", "1");

    Process p;
    try {
      p = pb.start();
    } catch (IOException e) {
      throw new AssertionError("cannot run node (" + e.getMessage() + "): install Node.js 20 or newer (.ci/run does)", e);
    }
    p.getOutputStream().close();
    Thread copier = new Thread(() -> copy(p.getInputStream(), log), "examples-node-output");
    copier.setDaemon(true);
    copier.start();
    Runtime.getRuntime().addShutdownHook(new Thread(() -> kill(p)));

    boolean ended = p.waitFor(TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
    if (!ended) {
      kill(p);
    }
    copier.join(TimeUnit.SECONDS.toMillis(30));
    String output = Files.readString(log, StandardCharsets.UTF_8);
    if (!ended) {
      throw new AssertionError("node --test examples/test/ did not end within " + TIMEOUT + "; its output:\n" + tail(output));
    }
    if (p.exitValue() != 0) {
      throw new AssertionError("node --test examples/test/ failed (exit code " + p.exitValue() + "; screenshots and logs in "
          + artifacts + "); its output:\n" + tail(output));
    }
  }

  private static String classpath() {
    String cp = System.getProperty("surefire.test.class.path");
    return cp != null && !cp.isBlank() ? cp : System.getProperty("java.class.path");
  }

  private static void copy(InputStream in, Path log) {
    try (in; OutputStream out = Files.newOutputStream(log)) {
      byte[] buf = new byte[8192];
      int n;
      while ((n = in.read(buf)) >= 0) {
        out.write(buf, 0, n);
        out.flush();
      }
    } catch (IOException ignored) {
      // the process ended
    }
  }

  private static void kill(Process p) {
    p.descendants().forEach(ProcessHandle::destroyForcibly);
    p.destroyForcibly();
  }

  private static String tail(String output) {
    return output.length() <= SHOWN ? output : "...\n" + output.substring(output.length() - SHOWN);
  }
}
