package io.tidings.server.testing;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.BufferedInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;

/**
 * A Server-Sent Events client over a plain socket (HTTP/1.1), for tests that need to see the
 * stream exactly as sent: every block (events, {@code retry:}, comments), how the stream ended
 * (chunked terminator or a dropped connection), and a client that stops reading.
 *
 * <p>Blocks are parsed as the HTML standard's EventSource does (fields {@code id}, {@code event},
 * {@code data}, {@code retry}; lines starting with {@code :} are comments), but every block is
 * reported, including those a browser would not dispatch. A reader thread parses the stream into a
 * queue that {@link #next} takes from; {@link #lastEventId()} follows the blocks taken, as a browser
 * would track it.
 */
public final class SseClient implements AutoCloseable {
  /** One block of the stream: the fields up to a blank line. {@code data} is null when the block had none. */
  public record Message(String id, String event, String data, Long retry, List<String> comments) {
    /** Whether a browser would dispatch it as an event (it has data). */
    public boolean isEvent() {
      return data != null;
    }

    public JsonNode json() {
      try {
        return Http.JSON.readTree(data);
      } catch (IOException e) {
        throw new AssertionError("the data of this SSE block is not JSON: " + this, e);
      }
    }

    /** The event type as EventSource reports it ({@code message} when absent). */
    public String type() {
      return event == null ? "message" : event;
    }
  }

  private static final Message END = new Message(null, null, null, null, List.of());

  private final Socket socket;
  private final String request;
  private final BlockingQueue<Message> queue = new LinkedBlockingQueue<>();
  private final List<Message> taken = new ArrayList<>();
  private volatile int status;
  private volatile Map<String, List<String>> headers = Map.of();
  private volatile String body;
  private volatile boolean ended;
  private volatile boolean cleanEnd;
  private volatile String endCause;
  private String lastEventId;
  private boolean endTaken;

  private SseClient(Socket socket, String request) {
    this.socket = socket;
    this.request = request;
  }

  /**
   * Opens {@code GET pathAndQuery} with {@code Accept: text/event-stream} and the given header
   * name/value pairs, and waits for the response head. A 200 starts the reader; any other answer is
   * read whole ({@link #body()}).
   */
  public static SseClient open(URI base, String pathAndQuery, String... headers) throws IOException {
    SseClient c = connect(base, pathAndQuery, 0, headers);
    c.resume();
    return c;
  }

  /**
   * Sends the request but reads nothing, not even the response head, until {@link #resume()}: a
   * consumer that stops reading. {@code receiveBuffer} (bytes, 0 for the default) bounds the
   * socket's receive window.
   */
  public static SseClient openPaused(URI base, String pathAndQuery, int receiveBuffer, String... headers)
      throws IOException {
    return connect(base, pathAndQuery, receiveBuffer, headers);
  }

  private static SseClient connect(URI base, String pathAndQuery, int receiveBuffer, String... headers)
      throws IOException {
    Socket socket = new Socket();
    if (receiveBuffer > 0) {
      socket.setReceiveBufferSize(receiveBuffer);
    }
    socket.connect(new InetSocketAddress(base.getHost(), base.getPort()), 10_000);
    StringBuilder req = new StringBuilder("GET " + pathAndQuery + " HTTP/1.1\r\n")
        .append("Host: ").append(base.getHost()).append(':').append(base.getPort()).append("\r\n")
        .append("Accept: text/event-stream\r\n");
    for (int i = 0; i + 1 < headers.length; i += 2) {
      req.append(headers[i]).append(": ").append(headers[i + 1]).append("\r\n");
    }
    req.append("\r\n");
    OutputStream out = socket.getOutputStream();
    out.write(req.toString().getBytes(StandardCharsets.UTF_8));
    out.flush();
    return new SseClient(socket, req.toString());
  }

  /** Reads the response head (see {@link #open}) and starts the reader. */
  public void resume() throws IOException {
    socket.setSoTimeout(60_000);
    InputStream in = new BufferedInputStream(socket.getInputStream(), 16 * 1024);
    String statusLine = RawHttp.readLine(in);
    if (statusLine == null) {
      throw new IOException("the server closed the connection without an answer to " + request.lines().findFirst().orElse(""));
    }
    status = Integer.parseInt(statusLine.split(" ", 3)[1]);
    Map<String, List<String>> h = new TreeMap<>(String.CASE_INSENSITIVE_ORDER);
    String line;
    while ((line = RawHttp.readLine(in)) != null && !line.isEmpty()) {
      int colon = line.indexOf(':');
      h.computeIfAbsent(line.substring(0, colon).trim(), k -> new ArrayList<>()).add(line.substring(colon + 1).trim());
    }
    headers = h;
    boolean chunked = h.getOrDefault("Transfer-Encoding", List.of()).toString().toLowerCase(Locale.ROOT).contains("chunked");
    List<String> length = h.get("Content-Length");
    InputStream content = chunked ? new Chunked(in) : length != null ? new Limited(in, Long.parseLong(length.get(0))) : in;
    if (status != 200) {
      body = new String(content.readAllBytes(), StandardCharsets.UTF_8);
      ended = true;
      cleanEnd = true;
      queue.add(END);
      return;
    }
    // The stream may be silent for long (heartbeats are configurable): no read timeout from here on.
    socket.setSoTimeout(0);
    Thread reader = new Thread(() -> read(content), "sse-client");
    reader.setDaemon(true);
    reader.start();
  }

  public int status() {
    return status;
  }

  /** The first value of a response header, or null. */
  public String header(String name) {
    List<String> v = headers.get(name);
    return v == null || v.isEmpty() ? null : v.get(0);
  }

  /** The whole body of a non-200 answer. */
  public String body() {
    return body;
  }

  public JsonNode bodyJson() {
    try {
      return Http.JSON.readTree(body);
    } catch (IOException e) {
      throw new AssertionError("not JSON: " + body, e);
    }
  }

  /**
   * The next block, whatever it holds; {@code null} once the stream has ended. Fails when nothing
   * comes within {@code timeout}.
   */
  public Message next(Duration timeout) throws InterruptedException {
    if (endTaken) {
      return null;
    }
    Message m = queue.poll(timeout.toMillis(), TimeUnit.MILLISECONDS);
    if (m == null) {
      throw new AssertionError("no SSE block within " + timeout + " (last id " + lastEventId + ", "
          + taken.size() + " blocks so far) on " + request.lines().findFirst().orElse(""));
    }
    if (m == END) {
      endTaken = true;
      return null;
    }
    taken.add(m);
    if (m.id() != null) {
      lastEventId = m.id();
    }
    return m;
  }

  /** The next block that carries data (an event a browser would dispatch); {@code null} at the end. */
  public Message nextEvent(Duration timeout) throws InterruptedException {
    long deadline = System.nanoTime() + timeout.toNanos();
    while (true) {
      Message m = next(Duration.ofNanos(Math.max(1_000_000, deadline - System.nanoTime())));
      if (m == null || m.isEvent()) {
        return m;
      }
    }
  }

  /** The next event that matches, skipping others; fails at the end of the stream or after {@code timeout}. */
  public Message nextEvent(Predicate<Message> matching, Duration timeout) throws InterruptedException {
    long deadline = System.nanoTime() + timeout.toNanos();
    while (true) {
      Message m = nextEvent(Duration.ofNanos(Math.max(1_000_000, deadline - System.nanoTime())));
      if (m == null) {
        throw new AssertionError("the stream ended before the awaited event (" + endCause + ")");
      }
      if (matching.test(m)) {
        return m;
      }
    }
  }

  /** Blocks already queued, without waiting; the end is not included. */
  public List<Message> drainQueued() {
    List<Message> out = new ArrayList<>();
    Message m;
    while (!endTaken && (m = queue.poll()) != null) {
      if (m == END) {
        endTaken = true;
        break;
      }
      taken.add(m);
      if (m.id() != null) {
        lastEventId = m.id();
      }
      out.add(m);
    }
    return out;
  }

  /** Takes blocks until the stream ends, returning them; fails when it does not end within {@code timeout}. */
  public List<Message> awaitEnd(Duration timeout) throws InterruptedException {
    long deadline = System.nanoTime() + timeout.toNanos();
    List<Message> rest = new ArrayList<>();
    while (true) {
      long left = deadline - System.nanoTime();
      if (left <= 0) {
        throw new AssertionError("the SSE stream did not end within " + timeout);
      }
      Message m = next(Duration.ofNanos(left));
      if (m == null) {
        return rest;
      }
      rest.add(m);
    }
  }

  /** Every block taken so far by {@link #next} and friends. */
  public List<Message> taken() {
    return taken;
  }

  /** The id of the last block taken that had one, as EventSource tracks {@code lastEventId}. */
  public String lastEventId() {
    return lastEventId;
  }

  /** Whether the server ended the response properly (chunked terminator) rather than dropping the connection. */
  public boolean endedCleanly() {
    return cleanEnd;
  }

  /** Whether the reader has seen the end (taken or not). */
  public boolean ended() {
    return ended;
  }

  /** How the stream ended, for messages. */
  public String endCause() {
    return endCause;
  }

  @Override
  public void close() {
    try {
      socket.close();
    } catch (IOException ignored) {
      // closing
    }
  }

  // ---- reading

  private void read(InputStream in) {
    String id = null;
    String event = null;
    StringBuilder data = null;
    Long retry = null;
    List<String> comments = new ArrayList<>();
    boolean any = false;
    try {
      String line;
      while ((line = readUtf8Line(in)) != null) {
        if (line.isEmpty()) {
          if (any) {
            queue.add(new Message(id, event, data == null ? null : data.toString(), retry, List.copyOf(comments)));
          }
          id = null;
          event = null;
          data = null;
          retry = null;
          comments.clear();
          any = false;
          continue;
        }
        any = true;
        if (line.startsWith(":")) {
          comments.add(line.substring(1).strip());
          continue;
        }
        int colon = line.indexOf(':');
        String field = colon < 0 ? line : line.substring(0, colon);
        String value = colon < 0 ? "" : line.substring(colon + 1);
        if (value.startsWith(" ")) {
          value = value.substring(1);
        }
        switch (field) {
          case "id" -> id = value;
          case "event" -> event = value;
          case "data" -> data = data == null ? new StringBuilder(value) : data.append('\n').append(value);
          case "retry" -> retry = value.matches("[0-9]+") ? Long.parseLong(value) : -1L;
          default -> comments.add("unknown field: " + line);
        }
      }
      if (in instanceof Chunked c && c.done) {
        cleanEnd = true;
        endCause = "the response ended";
      } else {
        endCause = "the connection closed";
      }
    } catch (IOException e) {
      endCause = "the connection failed: " + e;
    } finally {
      ended = true;
      queue.add(END);
    }
  }

  private static String readUtf8Line(InputStream in) throws IOException {
    ByteArrayOutputStream b = new ByteArrayOutputStream(256);
    int c;
    while ((c = in.read()) >= 0) {
      if (c == '\n') {
        byte[] bytes = b.toByteArray();
        int n = bytes.length > 0 && bytes[bytes.length - 1] == '\r' ? bytes.length - 1 : bytes.length;
        return new String(bytes, 0, n, StandardCharsets.UTF_8);
      }
      b.write(c);
    }
    return null;
  }


  /** A chunked body: ends (-1) at the terminating chunk, remembering that it was seen. */
  private static final class Chunked extends InputStream {
    private final InputStream in;
    private long left;
    private boolean done;

    Chunked(InputStream in) {
      this.in = in;
    }

    @Override
    public int read() throws IOException {
      if (done) {
        return -1;
      }
      if (left == 0) {
        String size = RawHttp.readLine(in);
        if (size == null) {
          return -1;
        }
        if (size.isEmpty()) {
          size = RawHttp.readLine(in);
          if (size == null) {
            return -1;
          }
        }
        left = Long.parseLong(size.split(";")[0].trim(), 16);
        if (left == 0) {
          String trailer;
          while ((trailer = RawHttp.readLine(in)) != null && !trailer.isEmpty()) {
            // trailers are ignored
          }
          done = true;
          return -1;
        }
      }
      int c = in.read();
      if (c >= 0) {
        // at 0 the CRLF after the chunk is consumed with the next size line
        left--;
      }
      return c;
    }
  }

  private static final class Limited extends InputStream {
    private final InputStream in;
    private long left;

    Limited(InputStream in, long length) {
      this.in = in;
      this.left = length;
    }

    @Override
    public int read() throws IOException {
      if (left <= 0) {
        return -1;
      }
      int c = in.read();
      if (c >= 0) {
        left--;
      }
      return c;
    }
  }
}
