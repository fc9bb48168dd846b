package io.tidings.server.cli;

import com.fasterxml.jackson.databind.node.ObjectNode;
import io.tidings.server.cli.SubscribeCommand.Outcome;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.WebSocket;
import java.net.http.WebSocketHandshakeException;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * {@code GET /v1/ws}: one subscribe op per topic, each with that topic's own cursor as {@code since}
 * (the {@code cursor} of the last {@code event} op of the topic; before any, the first {@code since}).
 * Close codes 1012 (restart), 4008 (slow consumer) and the others reconnect; 1008 (auth) stops.
 */
final class WsSubscriber implements SubscribeCommand.Connection {
  /** Subscribe errors worth another try; any other error answering a subscribe stops the command. */
  private static final Set<String> TRANSIENT_ERRORS = Set.of("unavailable", "rate_limited", "internal", "internal_error");
  private static final long PING_EVERY_MILLIS = 20_000;

  private final HubConnection hub;
  private final HttpClient http;
  private final List<String> topics;
  private final String since;
  private final boolean notifyMode;
  private final Duration idle;
  private final SubscribeOutput out;
  /** Per topic, where to resume: the cursor of the last event printed. */
  private final Map<String, String> cursors = new ConcurrentHashMap<>();

  WsSubscriber(HubConnection hub, HttpClient http, List<String> topics, String since, boolean notifyMode,
      Duration idle, SubscribeOutput out) {
    this.hub = hub;
    this.http = http;
    this.topics = topics;
    this.since = since;
    this.notifyMode = notifyMode;
    this.idle = idle;
    this.out = out;
  }

  /** {@code http(s)://host/v1/ws} as {@code ws(s)://host/v1/ws}. */
  static URI wsUri(URI http) {
    String s = http.toString();
    if (s.startsWith("https://")) {
      return URI.create("wss://" + s.substring("https://".length()));
    }
    if (s.startsWith("http://")) {
      return URI.create("ws://" + s.substring("http://".length()));
    }
    return http;
  }

  /** The subscribe op for one topic on this connection. */
  static String subscribeOp(int id, String topic, String since, boolean notifyMode) {
    ObjectNode op = SubscribeOutput.JSON.createObjectNode();
    op.put("op", "subscribe");
    op.put("id", id);
    op.put("topic", topic);
    if (since != null) {
      op.put("since", since);
    }
    if (notifyMode) {
      op.put("mode", "notify");
    }
    return op.toString();
  }

  /** Where {@code topic} resumes from: its last event's cursor, else the first {@code since} (may be null). */
  String resumeFrom(String topic) {
    return cursors.getOrDefault(topic, since);
  }

  @Override
  public Outcome connectOnce() throws InterruptedException {
    URI uri = wsUri(hub.request("/v1/ws", Duration.ofSeconds(30)).build().uri());
    Map<Integer, String> subscribeIds = new LinkedHashMap<>();
    for (int i = 0; i < topics.size(); i++) {
      subscribeIds.put(i + 1, topics.get(i));
    }
    Session session = new Session(subscribeIds);
    WebSocket ws;
    try {
      ws = http.newWebSocketBuilder().connectTimeout(Duration.ofSeconds(10)).buildAsync(uri, session)
          .get(45, TimeUnit.SECONDS);
    } catch (ExecutionException e) {
      return refused(e.getCause() != null ? e.getCause() : e);
    } catch (TimeoutException e) {
      return Outcome.retry("no answer from the hub within 45 s", 0, 0);
    }
    long opened = System.nanoTime();
    try {
      for (Map.Entry<Integer, String> sub : subscribeIds.entrySet()) {
        ws.sendText(subscribeOp(sub.getKey(), sub.getValue(), resumeFrom(sub.getValue()), notifyMode), true)
            .get(30, TimeUnit.SECONDS);
      }
    } catch (ExecutionException | TimeoutException e) {
      session.finish(Outcome.retry("cannot subscribe (" + SseSubscriber.describe(e) + ")", 0, 0));
    }
    long lastPing = System.nanoTime();
    Outcome outcome;
    while (true) {
      try {
        outcome = session.done.get(1, TimeUnit.SECONDS);
        break;
      } catch (TimeoutException stillOpen) {
        long now = System.nanoTime();
        if (now - session.lastTraffic > idle.toNanos()) {
          session.finish(Outcome.retry("nothing from the hub for " + idle.toSeconds() + " s", 0, 0));
        } else if (now - lastPing > PING_EVERY_MILLIS * 1_000_000) {
          lastPing = now;
          try {
            ws.sendPing(ByteBuffer.allocate(0)); // keeps a quiet connection's traffic (the pong) flowing
          } catch (IllegalStateException | IllegalArgumentException closing) {
            // the connection is going: the listener will tell
          }
        }
      } catch (ExecutionException impossible) {
        outcome = Outcome.retry("the connection failed", 0, 0);
        break;
      }
    }
    session.close();
    ws.abort();
    long streamed = (System.nanoTime() - opened) / 1_000_000;
    return outcome.isExit() ? outcome : Outcome.retry(outcome.message(), outcome.minDelayMillis(), streamed);
  }

  /** The handshake failed: refused (4xx) ends the command, anything else is retried. */
  private static Outcome refused(Throwable cause) {
    if (cause instanceof WebSocketHandshakeException h && h.getResponse() != null) {
      int status = h.getResponse().statusCode();
      String text = "the hub refused the WebSocket: " + status
          + (h.getResponse().body() instanceof String body && !body.isBlank() ? " " + body : "");
      if (status == 401 || status == 403) {
        return Outcome.exit(2, text);
      }
      if (status == 429 || status == 503 || status == 408 || status >= 500) {
        return Outcome.retry(text, Backoff.retryAfterMillis(h.getResponse().headers().firstValue("Retry-After"), Instant.now()), 0);
      }
      return Outcome.exit(1, text);
    }
    return Outcome.retry("cannot reach the hub (" + SseSubscriber.describe(cause) + ")", 0, 0);
  }

  /** How a close code from the hub ends this connection. */
  static Outcome closed(int code, String reason) {
    String why = "the hub closed the WebSocket (" + code + (reason == null || reason.isBlank() ? "" : " " + reason) + ")";
    return switch (code) {
      case 1008 -> Outcome.exit(2, why + ": not allowed with these credentials");
      case 1009 -> Outcome.exit(1, why + ": a message was too big");
      default -> Outcome.retry(why, 0, 0); // 1012 restart, 4008 slow consumer, 4029 rate limited, 1011, 1001...
    };
  }

  /** What the hub sent on one text frame: prints events and resets, tracks cursors, notes errors. */
  Outcome handle(String text, Map<Integer, String> subscribeIds) {
    ObjectNode op = SubscribeOutput.parseObject(text);
    if (op == null) {
      System.err.println("tidings: ignored a frame that is not a JSON object");
      return null;
    }
    switch (op.path("op").asText()) {
      case "event" -> {
        out.eventOp(op);
        if (op.path("topic").isTextual() && op.path("cursor").isTextual()) {
          cursors.put(op.get("topic").asText(), op.get("cursor").asText());
        }
      }
      case "reset" -> out.resetOp(op);
      case "subscribed" -> {
        // From 'now' (also the hub's default) there is nothing to replay and no reset, so the
        // confirmed position is where to resume should the connection drop before the first event
        // ('now' again would skip what was published meanwhile). Other cursors are only taken from
        // events: a drop during a replay or a reset's state must resume from where it started.
        String topic = op.path("topic").asText();
        if ((since == null || "now".equals(since)) && !cursors.containsKey(topic) && op.path("cursor").isTextual()
            && !op.get("cursor").asText().equals("now")) {
          cursors.put(topic, op.get("cursor").asText());
        }
      }
      case "error" -> {
        String code = op.path("code").asText();
        String message = code + ": " + op.path("message").asText();
        String topic = op.has("id") ? subscribeIds.get(op.path("id").asInt(-1)) : null;
        if (topic == null) {
          System.err.println("tidings: the hub reported " + message);
          return null;
        }
        return TRANSIENT_ERRORS.contains(code)
            ? Outcome.retry("subscribing to " + topic + " failed: " + message, 0, 0)
            : Outcome.exit(1, "cannot subscribe to " + topic + ": " + message);
      }
      default -> {
        // subscribed, pong, unsubscribed...: nothing to print
      }
    }
    return null;
  }

  /** The listener of one connection; after {@link #close()} it prints nothing more. */
  private final class Session implements WebSocket.Listener {
    final CompletableFuture<Outcome> done = new CompletableFuture<>();
    private final Map<Integer, String> subscribeIds;
    private final StringBuilder partial = new StringBuilder();
    private final Object lock = new Object();
    private boolean closed;
    volatile long lastTraffic = System.nanoTime();

    Session(Map<Integer, String> subscribeIds) {
      this.subscribeIds = subscribeIds;
    }

    void finish(Outcome outcome) {
      done.complete(outcome);
    }

    void close() {
      synchronized (lock) {
        closed = true;
      }
    }

    @Override
    public CompletionStage<?> onText(WebSocket ws, CharSequence data, boolean last) {
      lastTraffic = System.nanoTime();
      partial.append(data);
      if (last) {
        String text = partial.toString();
        partial.setLength(0);
        synchronized (lock) {
          if (!closed && !done.isDone()) {
            try {
              Outcome outcome = handle(text, subscribeIds);
              if (outcome != null) {
                done.complete(outcome);
              }
            } catch (UncheckedIOException stdoutGone) {
              done.complete(Outcome.exit(0, null));
            }
          }
        }
      }
      ws.request(1);
      return null;
    }

    @Override
    public CompletionStage<?> onBinary(WebSocket ws, ByteBuffer data, boolean last) {
      lastTraffic = System.nanoTime();
      ws.request(1);
      return null;
    }

    @Override
    public CompletionStage<?> onPing(WebSocket ws, ByteBuffer message) {
      lastTraffic = System.nanoTime();
      ws.request(1);
      return null;
    }

    @Override
    public CompletionStage<?> onPong(WebSocket ws, ByteBuffer message) {
      lastTraffic = System.nanoTime();
      ws.request(1);
      return null;
    }

    @Override
    public CompletionStage<?> onClose(WebSocket ws, int statusCode, String reason) {
      done.complete(closed(statusCode, reason));
      return null;
    }

    @Override
    public void onError(WebSocket ws, Throwable error) {
      done.complete(Outcome.retry("the connection broke (" + SseSubscriber.describe(error) + ")", 0, 0));
    }
  }
}
