package io.tidings.server.ops;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonGenerator;
import io.tidings.server.auth.Principal;
import io.vertx.core.http.HttpServerRequest;
import io.vertx.core.net.SocketAddress;
import java.io.IOException;
import java.io.PrintStream;
import java.io.StringWriter;
import java.io.UncheckedIOException;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Instant;
import java.util.Set;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.LongAdder;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The optional access log ({@code server.access_log}): one JSON object per line and request, with
 * time, method, path, query, status, bytes, duration, principal and remote address. A push
 * connection (SSE stream, WebSocket) is logged once, when it closes, with its whole lifetime.
 *
 * <p>It never holds a secret or event data: the {@code Authorization} header and request bodies
 * are not looked at, and of the query only the values of the API's own parameters that cannot hold
 * one are kept ({@link #KEPT}); any other parameter, {@code access_token} first, is logged by name
 * with its value replaced.
 *
 * <p>Event loops only hand an {@link Entry} over; a daemon thread formats and writes the lines, so
 * a slow disk never stalls a loop. When it falls more than {@value #QUEUE} lines behind, further
 * lines are dropped and counted ({@code tidings_access_log_dropped_total}).
 */
public final class AccessLog implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(AccessLog.class);
  /** Query parameters whose values are logged: none can hold a credential or event data. */
  static final Set<String> KEPT = Set.of("topic", "since", "limit", "after", "after_key", "prefix", "wait", "mode");
  static final String REDACTED = "REDACTED";
  private static final int QUEUE = 65_536;
  private static final int MAX_QUERY = 2048;
  private static final JsonFactory JSON = new JsonFactory();

  /** The log when {@code server.access_log} is off: it records nothing and allocates nothing. */
  public static final AccessLog OFF = new AccessLog();

  private final BlockingQueue<Entry> queue;
  private final Output out;
  private final Thread thread;
  private final LongAdder dropped = new LongAdder();
  private volatile boolean closed;

  private AccessLog() {
    queue = null;
    out = null;
    thread = null;
  }

  /** Where lines go; each {@link #write} is one whole line. */
  private interface Output {
    void write(String line) throws IOException;

    void flush() throws IOException;

    void close() throws IOException;
  }

  private AccessLog(Output out, String where) {
    this.queue = new ArrayBlockingQueue<>(QUEUE);
    this.out = out;
    this.thread = new Thread(this::run, "tidings-access-log");
    this.thread.setDaemon(true);
    this.thread.start();
    LOG.info("access log: {}", where);
  }

  /**
   * Opens the log {@code server.access_log} names: {@code null} for none, {@code stdout} for the
   * server's standard output, otherwise a file, appended to.
   */
  public static AccessLog open(String target) {
    if (target == null) {
      return OFF;
    }
    if (target.equals("stdout")) {
      // The stream the server logs to: one write per line (PrintStream writes are atomic), so a
      // line is never cut by a log message.
      PrintStream stdout = System.out;
      return new AccessLog(new Output() {
        @Override
        public void write(String line) {
          byte[] bytes = line.getBytes(StandardCharsets.UTF_8);
          stdout.write(bytes, 0, bytes.length);
        }

        @Override
        public void flush() {
          stdout.flush();
        }

        @Override
        public void close() {
          stdout.flush();
        }
      }, "standard output");
    }
    Path file = Path.of(target);
    try {
      if (file.getParent() != null) {
        Files.createDirectories(file.getParent());
      }
      Writer writer = Files.newBufferedWriter(file, StandardCharsets.UTF_8, StandardOpenOption.CREATE,
          StandardOpenOption.APPEND, StandardOpenOption.WRITE);
      return new AccessLog(new Output() {
        @Override
        public void write(String line) throws IOException {
          writer.write(line);
        }

        @Override
        public void flush() throws IOException {
          writer.flush();
        }

        @Override
        public void close() throws IOException {
          writer.close();
        }
      }, file.toAbsolutePath().toString());
    } catch (IOException e) {
      throw new UncheckedIOException("cannot open the access log " + file + ": " + e.getMessage(), e);
    }
  }

  public boolean enabled() {
    return queue != null;
  }

  /** Registers the log's own metric. */
  public void bind(Metrics metrics) {
    if (enabled()) {
      metrics.counter("tidings.access_log.dropped", "Access log lines dropped because the writer fell behind",
          dropped, LongAdder::sum);
    }
  }

  /** Starts the entry of {@code request}: call first thing, on its event loop. */
  public Entry begin(HttpServerRequest request) {
    if (queue == null) {
      return Entry.NONE;
    }
    SocketAddress remote = request.remoteAddress();
    return new Entry(this, System.currentTimeMillis(), System.nanoTime(), request.method().name(), request.path(),
        request.query(), remote == null ? null : remote.hostAddress());
  }

  private void submit(Entry entry) {
    if (closed || !queue.offer(entry)) {
      dropped.increment();
    }
  }

  private void run() {
    StringWriter line = new StringWriter(256);
    while (true) {
      Entry e;
      try {
        e = queue.poll(200, TimeUnit.MILLISECONDS);
      } catch (InterruptedException ex) {
        return;
      }
      if (e == null) {
        if (closed) {
          return;
        }
        continue;
      }
      try {
        while (e != null) {
          line.getBuffer().setLength(0);
          format(e, line);
          line.write('\n');
          out.write(line.toString());
          e = queue.poll();
        }
        out.flush();
      } catch (IOException | RuntimeException ex) {
        dropped.increment();
        LOG.warn("cannot write the access log: {}", ex.toString());
      }
    }
  }

  static void format(Entry e, Writer to) throws IOException {
    try (JsonGenerator gen = JSON.createGenerator(to)) {
      gen.disable(JsonGenerator.Feature.AUTO_CLOSE_TARGET);
      gen.writeStartObject();
      gen.writeStringField("time", Instant.ofEpochMilli(e.startMillis).toString());
      gen.writeStringField("method", e.method);
      gen.writeStringField("path", e.path);
      if (e.query != null && !e.query.isEmpty()) {
        gen.writeStringField("query", safeQuery(e.query));
      }
      gen.writeNumberField("status", e.status);
      gen.writeNumberField("bytes", e.bytes);
      gen.writeNumberField("duration_ms", Math.round(e.durationNanos / 1000.0) / 1000.0);
      if (e.principal != null) {
        gen.writeStringField("principal", e.principal);
      }
      if (e.remote != null) {
        gen.writeStringField("remote", e.remote);
      }
      gen.writeEndObject();
    }
  }

  /** The query with the value of every parameter not in {@link #KEPT} replaced by {@value #REDACTED}. */
  static String safeQuery(String query) {
    StringBuilder sb = new StringBuilder(Math.min(query.length(), MAX_QUERY) + 16);
    for (String part : query.split("&", -1)) {
      if (sb.length() >= MAX_QUERY) {
        sb.append("&...");
        break;
      }
      if (part.isEmpty()) {
        continue;
      }
      if (sb.length() > 0) {
        sb.append('&');
      }
      int eq = part.indexOf('=');
      String name = eq < 0 ? part : part.substring(0, eq);
      if (!KEPT.contains(name)) {
        // A name that is not one of ours may itself be a pasted secret: keep it only if it looks like a name.
        sb.append(name.matches("[A-Za-z0-9_-]{1,32}") ? name : REDACTED);
        if (eq >= 0) {
          sb.append('=').append(REDACTED);
        }
      } else {
        sb.append(part, 0, Math.min(part.length(), MAX_QUERY));
      }
    }
    return sb.toString();
  }

  @Override
  public void close() {
    if (queue == null || closed) {
      return;
    }
    closed = true;
    try {
      thread.join(5_000);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    try {
      out.close();
    } catch (IOException ignored) {
      // nothing more to do
    }
  }

  /** One request or push connection; logged once, by {@link #end}. Loop-confined. */
  public static final class Entry {
    /** The entry of a disabled log. */
    static final Entry NONE = new Entry(null, 0, 0, null, null, null, null);

    private final AccessLog log;
    private final long startMillis;
    private final long startNanos;
    private final String method;
    private final String path;
    private final String query;
    private final String remote;
    private String principal;
    private int status;
    private long bytes;
    private long durationNanos;
    private boolean ended;

    private Entry(AccessLog log, long startMillis, long startNanos, String method, String path, String query,
        String remote) {
      this.log = log;
      this.startMillis = startMillis;
      this.startNanos = startNanos;
      this.method = method;
      this.path = path;
      this.query = query;
      this.remote = remote;
    }

    /** Who the request acts for (its name only). */
    public void principal(Principal p) {
      if (log != null && p != null) {
        principal = p.name();
      }
    }

    /** Logs the entry, once: the answer's status and body bytes (a push connection's: all it was sent). */
    public void end(int status, long bytes) {
      if (log == null || ended) {
        return;
      }
      ended = true;
      this.status = status;
      this.bytes = bytes;
      this.durationNanos = System.nanoTime() - startNanos;
      log.submit(this);
    }
  }
}
