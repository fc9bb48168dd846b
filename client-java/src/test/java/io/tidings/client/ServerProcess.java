package io.tidings.client;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A real Tidings server ({@code io.tidings.server.Main serve --port 0 --store memory}) in a child
 * JVM, started with the test class path (the server is a test dependency of this module).
 */
final class ServerProcess implements AutoCloseable {
  private static final Pattern LISTENING = Pattern.compile("listening on (https?)://([^ ]+):(\\d+)");

  private final Process process;
  private final List<String> output = Collections.synchronizedList(new ArrayList<>());
  private final URI uri;

  private ServerProcess(Process process) {
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
      listening.completeExceptionally(new IllegalStateException("tidings exited before listening"));
    }, "tidings-output");
    reader.setDaemon(true);
    reader.start();
    try {
      this.uri = listening.get(60, TimeUnit.SECONDS);
    } catch (Exception e) {
      process.destroyForcibly();
      throw new IllegalStateException("tidings did not start: " + e + "\n" + String.join("\n", output), e);
    }
  }

  /** Starts an in-memory server on a free port. */
  static ServerProcess startMemory() throws IOException {
    String cp = System.getProperty("surefire.test.class.path");
    if (cp == null || cp.isBlank()) {
      cp = System.getProperty("java.class.path");
    }
    List<String> cmd = List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
        "-Xmx256m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-cp", cp,
        "io.tidings.server.Main", "serve", "--host", "127.0.0.1", "--port", "0", "--store", "memory");
    ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true);
    pb.environment().keySet().removeIf(k -> k.startsWith("TIDINGS_"));
    ServerProcess p = new ServerProcess(pb.start());
    Runtime.getRuntime().addShutdownHook(new Thread(p::close));
    return p;
  }

  URI uri() {
    return uri;
  }

  List<String> output() {
    synchronized (output) {
      return List.copyOf(output);
    }
  }

  @Override
  public void close() {
    if (process.isAlive()) {
      process.destroy();
      try {
        if (!process.waitFor(20, TimeUnit.SECONDS)) {
          process.destroyForcibly();
          process.waitFor(20, TimeUnit.SECONDS);
        }
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
  }
}
