package io.tidings.server.testing;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.WebSocket;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Executors;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Predicate;

/**
 * A WebSocket client for tests, on {@link java.net.http.WebSocket}: text messages arrive as JSON in
 * a queue, the close code and pings are recorded, and reading can be paused (the client then stops
 * taking frames from its socket, as a slow consumer does). The JDK answers pings by itself.
 */
public final class WsClient implements AutoCloseable {
  private static final HttpClient CLIENT = HttpClient.newBuilder()
      .connectTimeout(Duration.ofSeconds(10))
      .executor(Executors.newCachedThreadPool(r -> {
        Thread t = new Thread(r, "ws-client");
        t.setDaemon(true);
        return t;
      }))
      .build();
  private static final Object CLOSED = new Object();

  /** How the server closed the connection; code 1006 when the connection dropped without a close frame. */
  public record Close(int code, String reason) {}

  private final BlockingQueue<Object> queue = new LinkedBlockingQueue<>();
  private final ArrayDeque<JsonNode> backlog = new ArrayDeque<>();
  private final AtomicInteger pings = new AtomicInteger();
  private final CompletableFuture<Close> closed = new CompletableFuture<>();
  private final StringBuilder partial = new StringBuilder();
  private final Object reading = new Object();
  private WebSocket ws;
  private boolean paused;
  private boolean owed;
  private boolean closedTaken;

  private WsClient(boolean paused) {
    this.paused = paused;
  }

  /** Connects to {@code /v1/ws} of {@code base} (an {@code http://} URI), asking for the given subprotocols. */
  public static WsClient connect(URI base, String... subprotocols) {
    return connect(base, false, subprotocols);
  }

  /** As {@link #connect(URI, String...)}; with {@code paused} nothing is read until {@link #resumeReading()}. */
  public static WsClient connect(URI base, boolean paused, String... subprotocols) {
    return connect(base, "", java.util.Map.of(), paused, subprotocols);
  }

  /**
   * Connects to {@code /v1/ws} with a query string ({@code "?access_token=..."} or {@code ""}) and extra
   * request headers (such as {@code Authorization}). A refused upgrade fails with the answer's status in
   * the message.
   */
  public static WsClient connect(URI base, String query, java.util.Map<String, String> headers, boolean paused,
      String... subprotocols) {
    WsClient c = new WsClient(paused);
    URI uri = URI.create(base.toString().replaceFirst("^http", "ws") + "/v1/ws" + query);
    WebSocket.Builder b = CLIENT.newWebSocketBuilder().connectTimeout(Duration.ofSeconds(10));
    headers.forEach(b::header);
    if (subprotocols.length > 0) {
      b.subprotocols(subprotocols[0], java.util.Arrays.copyOfRange(subprotocols, 1, subprotocols.length));
    }
    try {
      c.ws = b.buildAsync(uri, c.listener()).get(30, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException(e);
    } catch (ExecutionException | TimeoutException e) {
      throw new IllegalStateException("WebSocket connect to " + uri + " failed: " + e, e);
    }
    return c;
  }

  private WebSocket.Listener listener() {
    return new WebSocket.Listener() {
      @Override
      public void onOpen(WebSocket webSocket) {
        more(webSocket);
      }

      @Override
      public CompletionStage<?> onText(WebSocket webSocket, CharSequence data, boolean last) {
        partial.append(data);
        if (last) {
          String text = partial.toString();
          partial.setLength(0);
          try {
            queue.add(Http.JSON.readTree(text));
          } catch (IOException e) {
            queue.add(new AssertionError("a text frame that is not JSON: " + text));
          }
        }
        more(webSocket);
        return null;
      }

      @Override
      public CompletionStage<?> onBinary(WebSocket webSocket, ByteBuffer data, boolean last) {
        queue.add(new AssertionError("an unexpected binary frame from the server"));
        more(webSocket);
        return null;
      }

      @Override
      public CompletionStage<?> onPing(WebSocket webSocket, ByteBuffer message) {
        pings.incrementAndGet();
        more(webSocket);
        return null;
      }

      @Override
      public CompletionStage<?> onClose(WebSocket webSocket, int statusCode, String reason) {
        closed.complete(new Close(statusCode, reason));
        queue.add(CLOSED);
        return null;
      }

      @Override
      public void onError(WebSocket webSocket, Throwable error) {
        closed.complete(new Close(1006, String.valueOf(error)));
        queue.add(CLOSED);
      }
    };
  }

  private void more(WebSocket webSocket) {
    synchronized (reading) {
      if (paused) {
        owed = true;
      } else {
        webSocket.request(1);
      }
    }
  }

  /** Stops taking frames from the socket (after the one being handled). */
  public void pauseReading() {
    synchronized (reading) {
      paused = true;
    }
  }

  public void resumeReading() {
    synchronized (reading) {
      paused = false;
      if (owed) {
        owed = false;
        ws.request(1);
      }
    }
  }

  /** The subprotocol the server chose ("" for none). */
  public String subprotocol() {
    return ws.getSubprotocol();
  }

  /** Sends one text frame and waits until it is handed to the socket. */
  public WsClient send(String text) {
    try {
      ws.sendText(text, true).get(30, TimeUnit.SECONDS);
    } catch (Exception e) {
      throw new IllegalStateException("sending failed: " + e, e);
    }
    return this;
  }

  /** Sends one binary frame. */
  public WsClient sendBinary(byte[] data) {
    try {
      ws.sendBinary(ByteBuffer.wrap(data), true).get(30, TimeUnit.SECONDS);
    } catch (Exception e) {
      throw new IllegalStateException("sending failed: " + e, e);
    }
    return this;
  }

  /** The next JSON message; {@code null} once the connection has closed. Fails after {@code timeout}. */
  public JsonNode next(Duration timeout) throws InterruptedException {
    if (!backlog.isEmpty()) {
      return backlog.poll();
    }
    if (closedTaken) {
      return null;
    }
    Object m = queue.poll(timeout.toMillis(), TimeUnit.MILLISECONDS);
    if (m == null) {
      throw new AssertionError("no WebSocket message within " + timeout);
    }
    if (m == CLOSED) {
      closedTaken = true;
      return null;
    }
    if (m instanceof AssertionError e) {
      throw e;
    }
    return (JsonNode) m;
  }

  /**
   * The first message matching {@code matching}; messages skipped on the way stay queued for
   * {@link #next}, in order. Fails when the connection closes first or after {@code timeout}.
   */
  public JsonNode await(Predicate<JsonNode> matching, Duration timeout) throws InterruptedException {
    for (Iterator<JsonNode> it = backlog.iterator(); it.hasNext(); ) {
      JsonNode m = it.next();
      if (matching.test(m)) {
        it.remove();
        return m;
      }
    }
    long deadline = System.nanoTime() + timeout.toNanos();
    List<JsonNode> skipped = new ArrayList<>();
    try {
      while (true) {
        long left = deadline - System.nanoTime();
        if (left <= 0 || closedTaken) {
          throw new AssertionError("no matching WebSocket message within " + timeout + " (closed: "
              + closed.getNow(null) + "); skipped: " + skipped);
        }
        Object m = queue.poll(Math.max(1, left / 1_000_000), TimeUnit.MILLISECONDS);
        if (m == null) {
          continue;
        }
        if (m == CLOSED) {
          closedTaken = true;
          continue;
        }
        if (m instanceof AssertionError e) {
          throw e;
        }
        JsonNode j = (JsonNode) m;
        if (matching.test(j)) {
          return j;
        }
        skipped.add(j);
      }
    } finally {
      backlog.addAll(skipped);
    }
  }

  /** The reply to the request with this {@code id} (a message whose {@code id} equals it). */
  public JsonNode reply(String op, JsonNode id, Duration timeout) throws InterruptedException {
    return await(m -> m.path("op").asText().equals(op) && m.path("id").equals(id), timeout);
  }

  /** Takes messages until the server closes; returns the close and leaves the messages in {@link #next}'s backlog. */
  public Close awaitClose(Duration timeout) throws InterruptedException {
    long deadline = System.nanoTime() + timeout.toNanos();
    while (!closedTaken) {
      long left = deadline - System.nanoTime();
      if (left <= 0) {
        throw new AssertionError("the WebSocket was not closed within " + timeout);
      }
      Object m = queue.poll(Math.max(1, left / 1_000_000), TimeUnit.MILLISECONDS);
      if (m == CLOSED) {
        closedTaken = true;
      } else if (m instanceof JsonNode j) {
        backlog.add(j);
      }
    }
    return closed.join();
  }

  /** The close, if the connection has closed. */
  public Close closeNow() {
    return closed.getNow(null);
  }

  /** Pings received from the server. */
  public int pings() {
    return pings.get();
  }

  /** Drops the connection without a close handshake; {@link #next} then reports the end (code 1006). */
  public void abort() {
    ws.abort();
    // The JDK tells the listener nothing after an abort.
    if (closed.complete(new Close(1006, "aborted by the client"))) {
      queue.add(CLOSED);
    }
  }

  @Override
  public void close() {
    if (ws != null && !ws.isOutputClosed()) {
      try {
        ws.sendClose(WebSocket.NORMAL_CLOSURE, "").get(5, TimeUnit.SECONDS);
      } catch (Exception ignored) {
        // closing anyway
      }
    }
    if (ws != null) {
      abort();
    }
  }
}
