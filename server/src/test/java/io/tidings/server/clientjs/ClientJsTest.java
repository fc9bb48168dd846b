package io.tidings.server.clientjs;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.tidings.server.testing.NodeScript;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * The JavaScript client's own suite ({@code node --test client-js/test/}, see client-js/README.md),
 * run by {@code ./mvnw verify} against servers started from this build's classes: the suite's
 * harness (client-js/test/server.mjs) takes its server command from {@code TIDINGS_SERVER_CMD},
 * built here from the test JVM (its {@code java.home} and the surefire class path), as
 * {@link io.tidings.server.testing.TidingsProcess} does. Fails with node's output when node fails.
 */
class ClientJsTest {
  private static final long TIMEOUT_MINUTES = 10;

  @Test
  void nodeTestSuiteOfTheJavaScriptClientPasses() throws Exception {
    Path root = NodeScript.repoRoot();
    NodeScript.requireNodeModules(root);
    List<String> server = new ArrayList<>();
    server.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
    server.add("-Xmx256m");
    server.add("-XX:+UseSerialGC");
    server.add("-XX:TieredStopAtLevel=1");
    server.add("-cp");
    String cp = System.getProperty("surefire.test.class.path");
    server.add(cp != null && !cp.isBlank() ? cp : System.getProperty("java.class.path"));
    server.add("io.tidings.server.Main");

    String node = System.getenv("TIDINGS_TEST_NODE");
    ProcessBuilder pb = new ProcessBuilder(node != null && !node.isBlank() ? node : "node", "--test", "client-js/test/")
        .directory(root.toFile())
        .redirectErrorStream(true);
    pb.environment().keySet().removeIf(k -> k.startsWith("TIDINGS_") || k.startsWith("NODE_"));
    pb.environment().put("TIDINGS_SERVER_CMD", new ObjectMapper().writeValueAsString(server));
    Process p;
    try {
      p = pb.start();
    } catch (IOException e) {
      throw new AssertionError("cannot run node (" + e.getMessage() + "): install Node.js 20 or newer", e);
    }
    p.getOutputStream().close();
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    Thread reader = new Thread(() -> {
      try (InputStream in = p.getInputStream()) {
        in.transferTo(out);
      } catch (IOException ignored) {
        // the process ended
      }
    }, "client-js-output");
    reader.setDaemon(true);
    reader.start();
    boolean ended = p.waitFor(TIMEOUT_MINUTES, TimeUnit.MINUTES);
    if (!ended) {
      p.descendants().forEach(ProcessHandle::destroyForcibly);
      p.destroyForcibly();
      p.waitFor(30, TimeUnit.SECONDS);
    }
    reader.join(TimeUnit.SECONDS.toMillis(30));
    String output = out.toString(StandardCharsets.UTF_8);
    assertThat(ended).as("node --test client-js/test/ ended within %d minutes; its output:%n%s", TIMEOUT_MINUTES, output).isTrue();
    assertThat(p.exitValue()).as("node --test client-js/test/ failed; its output:%n%s", output).isZero();
    assertThat(output).as("node ran the client's tests; its output:%n%s", output).contains("# fail 0").doesNotContain("# pass 0");
    System.out.println(summary(output));
  }

  private static String summary(String output) {
    StringBuilder s = new StringBuilder("client-js:");
    for (String line : output.split("\n")) {
      if (line.startsWith("# tests") || line.startsWith("# pass") || line.startsWith("# fail") || line.startsWith("# duration_ms")) {
        s.append(' ').append(line.substring(2));
      }
    }
    return s.toString();
  }
}
