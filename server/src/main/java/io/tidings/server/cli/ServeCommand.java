package io.tidings.server.cli;

import io.tidings.server.TidingsServer;
import io.tidings.server.config.ConfigException;
import io.tidings.server.config.ConfigLoader;
import io.tidings.server.config.TidingsConfig;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import sun.misc.Signal;

/** {@code tidings serve}: runs the hub until it is told to stop. */
@Command(name = "serve", mixinStandardHelpOptions = true,
    description = "Run the hub. Needs no configuration: listens on 127.0.0.1:7070 and stores in ./tidings-data.")
public final class ServeCommand implements Callable<Integer> {
  @Option(names = "--host", description = "Address to bind (default 127.0.0.1).")
  String host;

  @Option(names = "--port", description = "Port to listen on, 0 for any free one (default 7070).")
  Integer port;

  @Option(names = "--data", description = "Directory of the embedded store (default ./tidings-data).")
  Path data;

  @Option(names = "--store", description = "sqlite (default) or memory.")
  String store;

  @Option(names = "--config", description = "YAML configuration file (or set TIDINGS_CONFIG).")
  Path config;

  @Option(names = "--insecure", description = "Serve without an auth section on an address other than loopback:"
      + " everyone who can reach it may publish and read everything.")
  boolean insecure;

  /** Whether every address {@code host} names is a loopback address (so only this machine can connect). */
  static boolean loopback(String host) {
    String h = host.startsWith("[") && host.endsWith("]") ? host.substring(1, host.length() - 1) : host;
    try {
      java.net.InetAddress[] all = java.net.InetAddress.getAllByName(h);
      for (java.net.InetAddress a : all) {
        if (!a.isLoopbackAddress()) {
          return false;
        }
      }
      return all.length > 0;
    } catch (java.net.UnknownHostException e) {
      return false;
    }
  }

  @Override
  public Integer call() throws InterruptedException {
    Map<String, Object> flags = new LinkedHashMap<>();
    flags.put("server.host", host);
    flags.put("server.port", port);
    flags.put("store.path", data == null ? null : data.toString());
    flags.put("store.kind", store);
    Path file = config;
    if (file == null && System.getenv("TIDINGS_CONFIG") != null) {
      file = Path.of(System.getenv("TIDINGS_CONFIG"));
    }
    TidingsConfig cfg;
    try {
      cfg = ConfigLoader.load(file, System.getenv(), flags);
    } catch (ConfigException e) {
      System.err.println("tidings: " + e.getMessage());
      return 2;
    }
    if (cfg.auth == null && !loopback(cfg.server.host)) {
      if (!insecure) {
        System.err.println("tidings: refusing to serve on " + cfg.server.host + " without authentication: anyone who"
            + " can reach it could publish and read every topic. Configure an auth section (see docs/security.md),"
            + " bind 127.0.0.1, or pass --insecure if that is really what you want.");
        return 2;
      }
      System.err.println("tidings: WARNING: --insecure: serving on " + cfg.server.host
          + " without authentication; anyone who can reach it may publish and read every topic");
    }
    TidingsServer server;
    try {
      server = TidingsServer.start(cfg);
    } catch (RuntimeException e) {
      Throwable cause = e;
      while (cause.getCause() != null && cause.getCause() != cause) {
        cause = cause.getCause();
      }
      System.err.println("tidings: cannot start: " + e.getMessage()
          + (cause != e ? " (" + cause.getMessage() + ")" : ""));
      return 1;
    }
    CountDownLatch stopped = new CountDownLatch(1);
    Runnable shutdown = () -> {
      server.close();
      stopped.countDown();
    };
    // SIGTERM and Ctrl-C stop gracefully and exit 0; the hook covers other exits.
    for (String name : new String[] {"TERM", "INT"}) {
      try {
        Signal.handle(new Signal(name), sig -> new Thread(shutdown, "tidings-stop").start());
      } catch (IllegalArgumentException unsupported) {
        // this platform has no such signal: the shutdown hook still closes the server
      }
    }
    Runtime.getRuntime().addShutdownHook(new Thread(shutdown, "tidings-shutdown"));
    stopped.await();
    return 0;
  }
}
