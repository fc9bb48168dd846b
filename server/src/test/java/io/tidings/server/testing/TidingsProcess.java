package io.tidings.server.testing;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.PrintWriter;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A real Tidings server in a child JVM on an ephemeral port, for tests. Its output is kept in
 * memory and copied to {@code target/tidings-<name>.log}.
 */
public final class TidingsProcess implements AutoCloseable {
  private static final Pattern LISTENING = Pattern.compile("listening on (https?)://([^ ]+):(\\d+)");

  private final Process process;
  private final List<String> output = Collections.synchronizedList(new ArrayList<>());
  private final URI uri;

  private TidingsProcess(Process process, Duration startTimeout) throws IOException {
    this.process = process;
    CompletableFuture<URI> listening = new CompletableFuture<>();
    Thread reader = new Thread(() -> {
      try (BufferedReader in = new BufferedReader(new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8))) {
        String line;
        while ((line = in.readLine()) != null) {
          output.add(line);
          Matcher m = LISTENING.matcher(line);
          if (m.find()) {
            listening.complete(URI.create(m.group(1) + "://" + m.group(2) + ":" + m.group(3)));
          }
        }
      } catch (IOException ignored) {
        // the process ended
      }
      listening.completeExceptionally(new IllegalStateException("tidings exited before listening:\n" + String.join("\n", output)));
    }, "tidings-output");
    reader.setDaemon(true);
    reader.start();
    try {
      this.uri = listening.get(startTimeout.toMillis(), TimeUnit.MILLISECONDS);
    } catch (Exception e) {
      process.destroyForcibly();
      throw new IllegalStateException("tidings did not start: " + e.getMessage() + "\n" + String.join("\n", output), e);
    }
  }

  /** Starting points for a server process. */
  public static Builder builder() {
    return new Builder();
  }

  /** The base URI, e.g. {@code http://127.0.0.1:41234}. */
  public URI uri() {
    return uri;
  }

  /** {@code uri()} resolved against a path and query such as {@code /v1/state?topic=a}. */
  public URI uri(String pathAndQuery) {
    return URI.create(uri + pathAndQuery);
  }

  /** Everything the process printed so far. */
  public List<String> output() {
    synchronized (output) {
      return List.copyOf(output);
    }
  }

  /** The child process (for signals). */
  public Process process() {
    return process;
  }

  /** Kills the process at once, as {@code kill -9} does, and waits for it to die. */
  public void kill() throws InterruptedException {
    process.destroyForcibly();
    process.waitFor(30, TimeUnit.SECONDS);
  }

  /** Asks the process to stop (SIGTERM) and waits for it; returns its exit code. */
  public int stop() throws InterruptedException {
    process.destroy();
    if (!process.waitFor(60, TimeUnit.SECONDS)) {
      process.destroyForcibly();
      process.waitFor(30, TimeUnit.SECONDS);
    }
    return process.exitValue();
  }

  @Override
  public void close() {
    if (process.isAlive()) {
      process.destroyForcibly();
      try {
        process.waitFor(30, TimeUnit.SECONDS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
  }

  /** How to start a server. */
  public static final class Builder {
    private final List<String> args = new ArrayList<>();
    private final List<String> jvmArgs = new ArrayList<>();
    private final java.util.Map<String, String> env = new java.util.HashMap<>();
    private String config;
    private Path data;
    private String name = "server";
    private int port;
    private boolean memory;

    /** Keeps the store in {@code dir} (default: a fresh temp dir). */
    public Builder data(Path dir) {
      this.data = dir;
      return this;
    }

    /** Listens on this port (default: any free one). */
    public Builder port(int value) {
      this.port = value;
      return this;
    }

    /** Uses the in-memory engine. */
    public Builder memory() {
      this.memory = true;
      return this;
    }

    /** YAML configuration text, written to a temp file and passed with {@code --config}. */
    public Builder config(String yaml) {
      this.config = yaml;
      return this;
    }

    /** Extra command-line arguments of {@code serve}. */
    public Builder args(String... more) {
      args.addAll(List.of(more));
      return this;
    }

    /** An environment variable for the child. */
    public Builder env(String key, String value) {
      env.put(key, value);
      return this;
    }

    /** A name for the log file. */
    public Builder name(String value) {
      this.name = value;
      return this;
    }

    public TidingsProcess start() throws IOException {
      Path dir = data != null ? data : Files.createTempDirectory("tidings-test-");
      List<String> cmd = new ArrayList<>();
      cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
      cmd.add("-Xmx256m");
      cmd.add("-XX:+UseSerialGC");
      cmd.add("-XX:TieredStopAtLevel=1");
      cmd.addAll(jvmArgs);
      cmd.add("-cp");
      cmd.add(classpath());
      cmd.add("io.tidings.server.Main");
      cmd.add("serve");
      cmd.add("--port");
      cmd.add(Integer.toString(port));
      cmd.add("--data");
      cmd.add(dir.toString());
      if (memory) {
        cmd.add("--store");
        cmd.add("memory");
      }
      if (config != null) {
        Path file = Files.createTempFile("tidings-", ".yaml");
        Files.writeString(file, config);
        cmd.add("--config");
        cmd.add(file.toString());
      }
      cmd.addAll(args);
      ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true);
      pb.environment().keySet().removeIf(k -> k.startsWith("TIDINGS_"));
      pb.environment().putAll(env);
      TidingsProcess p = new TidingsProcess(pb.start(), Duration.ofSeconds(60));
      Runtime.getRuntime().addShutdownHook(new Thread(p::close));
      Path log = Path.of("target", "tidings-" + name + ".log");
      Thread copier = new Thread(() -> {
        try {
          while (p.process.isAlive()) {
            Thread.sleep(500);
            write(log, p.output());
          }
          write(log, p.output());
        } catch (InterruptedException ignored) {
          // test JVM ending
        }
      }, "tidings-log");
      copier.setDaemon(true);
      copier.start();
      return p;
    }

    private static void write(Path log, List<String> lines) {
      try (PrintWriter w = new PrintWriter(Files.newBufferedWriter(log))) {
        lines.forEach(w::println);
      } catch (IOException ignored) {
        // best effort
      }
    }

    private static String classpath() {
      String cp = System.getProperty("surefire.test.class.path");
      return cp != null && !cp.isBlank() ? cp : System.getProperty("java.class.path");
    }
  }
}
