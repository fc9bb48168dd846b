package io.tidings.server.cli;

import java.io.FileDescriptor;
import java.io.FileOutputStream;
import java.io.UncheckedIOException;
import java.net.http.HttpClient;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import sun.misc.Signal;

/**
 * {@code tidings subscribe}: prints the events of one or more topics as they arrive over Server-Sent
 * Events or a WebSocket, one JSON line each, and resumes on its own from the last cursor after a
 * dropped connection.
 */
@Command(name = "subscribe", mixinStandardHelpOptions = true,
    description = {"Print the events of each TOPIC as they happen, one JSON line each (the event",
        "as the hub sends it), over Server-Sent Events (default) or a WebSocket.",
        "After a dropped connection it reconnects with jittered backoff and resumes",
        "after the last event it printed: nothing lost, nothing repeated. When the hub",
        "cannot resume (the cursor left the retained history), it prints",
        "{\"reset\":{\"topic\",\"cursor\",\"reason\"}}, then the topic's state as put events.",
        "Exit codes: 0 on SIGINT/SIGTERM; 1 when the hub refuses the request (such as",
        "an invalid topic or cursor); 2 when it refuses the credentials."})
public final class SubscribeCommand implements Callable<Integer> {
  /** Transports to choose from. */
  enum Transport { sse, ws }

  @Parameters(arity = "1..*", paramLabel = "TOPIC")
  List<String> topics;

  @Option(names = "--since", description = "Where to start on the first connection: 'earliest', 'now' or a cursor (over SSE with several"
      + " topics, a stream cursor: an SSE id). Default: the hub's (live events only).")
  String since;

  @Option(names = "--transport", paramLabel = "sse|ws", description = "sse (default) or ws.")
  Transport transport = Transport.sse;

  @Option(names = "--notify", description = "Notify mode: events without their data.")
  boolean notifyMode;

  @Option(names = "--idle-timeout", paramLabel = "SECONDS",
      description = "Reconnect when the hub sends nothing at all, not even a heartbeat, for this long (default 60).")
  int idleTimeoutSeconds = 60;

  @Option(names = "--url", description = "Hub URL (default $TIDINGS_URL or http://127.0.0.1:7070).")
  String url;

  static final long BACKOFF_BASE_MILLIS = 250;
  static final long BACKOFF_CAP_MILLIS = 30_000;
  /** A connection that stayed up this long was healthy: the backoff starts over. */
  static final long HEALTHY_MILLIS = 60_000;

  /** How one connection ended: either exit with a code, or retry after at least a delay. */
  record Outcome(int exitCode, String message, long minDelayMillis, long streamedMillis) {
    static Outcome exit(int code, String message) {
      return new Outcome(code, message, 0, 0);
    }

    static Outcome retry(String message, long minDelayMillis, long streamedMillis) {
      return new Outcome(-1, message, minDelayMillis, streamedMillis);
    }

    boolean isExit() {
      return exitCode >= 0;
    }
  }

  /** One transport's connection attempt: connects, prints until the connection ends, tells how it ended. */
  interface Connection {
    Outcome connectOnce() throws InterruptedException;
  }

  @Override
  public Integer call() throws InterruptedException {
    List<String> unique = new ArrayList<>(new LinkedHashSet<>(topics));
    SubscribeOutput out = new SubscribeOutput(new FileOutputStream(FileDescriptor.out));
    Runnable stop = () -> {
      out.seal();
      System.err.flush();
      Runtime.getRuntime().halt(0);
    };
    for (String name : new String[] {"TERM", "INT"}) {
      try {
        Signal.handle(new Signal(name), sig -> stop.run());
      } catch (IllegalArgumentException unsupported) {
        // this platform has no such signal
      }
    }
    HubConnection hub = new HubConnection(url);
    HttpClient http = HttpClient.newBuilder()
        .version(HttpClient.Version.HTTP_1_1)
        .connectTimeout(Duration.ofSeconds(10))
        .build();
    Duration idle = Duration.ofSeconds(Math.max(1, idleTimeoutSeconds));
    Connection connection = transport == Transport.ws
        ? new WsSubscriber(hub, http, unique, since, notifyMode, idle, out)
        : new SseSubscriber(hub, http, unique, since, notifyMode, idle, out);
    Backoff backoff = new Backoff(BACKOFF_BASE_MILLIS, BACKOFF_CAP_MILLIS);
    try {
      while (true) {
        Outcome outcome = connection.connectOnce();
        if (outcome.isExit()) {
          if (outcome.message() != null) {
            System.err.println("tidings: " + outcome.message());
          }
          return outcome.exitCode();
        }
        if (outcome.streamedMillis() >= HEALTHY_MILLIS) {
          backoff.reset();
        }
        long delay = Math.max(outcome.minDelayMillis(), backoff.next());
        System.err.println("tidings: " + outcome.message() + "; reconnecting in "
            + String.format(Locale.ROOT, "%.2f", delay / 1000.0) + " s");
        Thread.sleep(delay);
      }
    } catch (UncheckedIOException stdoutGone) {
      // whoever read standard output has gone (a closed pipe): nothing left to do
      return 0;
    }
  }
}
