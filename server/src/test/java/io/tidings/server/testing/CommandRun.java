package io.tidings.server.testing;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/**
 * Runs {@code java -cp <test classpath> io.tidings.server.Main <args>} to completion and keeps its
 * exit code and output (stdout and stderr together), for commands expected to end by themselves.
 */
public final class CommandRun {
  /** What the process did. {@code exitCode} is -1 when it had to be killed after the timeout. */
  public record Result(int exitCode, String output, boolean timedOut) {}

  private CommandRun() {}

  public static Result tidings(Map<String, String> env, long timeoutSeconds, String... args) throws IOException, InterruptedException {
    List<String> cmd = new ArrayList<>();
    cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
    cmd.add("-Xmx128m");
    cmd.add("-XX:+UseSerialGC");
    cmd.add("-XX:TieredStopAtLevel=1");
    cmd.add("-cp");
    String cp = System.getProperty("surefire.test.class.path");
    cmd.add(cp != null && !cp.isBlank() ? cp : System.getProperty("java.class.path"));
    cmd.add("io.tidings.server.Main");
    cmd.addAll(List.of(args));
    ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true);
    pb.environment().keySet().removeIf(k -> k.startsWith("TIDINGS_"));
    pb.environment().putAll(env);
    Process p = pb.start();
    CompletableFuture<String> out = CompletableFuture.supplyAsync(() -> {
      try {
        return new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
      } catch (IOException e) {
        return "";
      }
    });
    boolean ended = p.waitFor(timeoutSeconds, TimeUnit.SECONDS);
    if (!ended) {
      p.destroyForcibly();
      p.waitFor(30, TimeUnit.SECONDS);
    }
    String output;
    try {
      output = out.get(10, TimeUnit.SECONDS);
    } catch (Exception e) {
      output = "";
    }
    return new Result(ended ? p.exitValue() : -1, output, !ended);
  }
}
