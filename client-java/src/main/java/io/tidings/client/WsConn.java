package io.tidings.client;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.tidings.client.SubscriptionImpl.Failure;
import io.tidings.client.SubscriptionImpl.Topic;
import java.net.http.WebSocket;
import java.nio.ByteBuffer;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;

/**
 * The WebSocket transport: one connection, a {@code subscribe} per topic from its cursor. The
 * listener asks for the next message only once the subscription's thread has handled the last one.
 */
final class WsConn extends SubscriptionImpl.Conn implements WebSocket.Listener {
  private final SubscriptionImpl sub;
  private WebSocket ws;
  private CompletableFuture<?> sending = CompletableFuture.completedFuture(null);
  // touched only by the JDK's listener callbacks, which it never runs concurrently
  private final StringBuilder text = new StringBuilder();
  private volatile long lastHeard = System.nanoTime();
  private SubscriptionImpl.Timer watchdog;

  WsConn(SubscriptionImpl sub) {
    super(Transport.WS);
    this.sub = sub;
  }

  @Override
  void start() {
    WebSocket.Builder b = sub.client.http().newWebSocketBuilder()
        .connectTimeout(sub.client.connectTimeout())
        .subprotocols("tidings.v1")
        .header("User-Agent", "tidings-java/0.1");
    if (sub.client.authorization() != null) {
      b.header("Authorization", sub.client.authorization());
    }
    CompletableFuture<WebSocket> f;
    try {
      f = b.buildAsync(sub.client.webSocketUri(), this);
    } catch (RuntimeException e) {
      sub.post(() -> sub.failed(this, Failure.refused("cannot open a WebSocket: " + e)));
      return;
    }
    // The builder's connect timeout bounds the whole opening handshake; one that hangs (a proxy
    // holding the upgrade) fails with HttpTimeoutException and counts as refused. The future is
    // never cancelled: a handshake that completes after stop() is aborted here.
    f.whenComplete((w, ex) -> {
          if (ex != null) {
            sub.post(() -> sub.failed(this, Failure.of(ex, true)));
            return;
          }
          synchronized (this) {
            if (stopped) {
              w.abort();
              return;
            }
            ws = w;
          }
          sub.post(() -> sub.opened(this));
        });
  }

  @Override
  void promoted() {
    for (Topic t : sub.allTopics()) {
      ObjectNode op = TidingsClient.mapper().createObjectNode();
      op.put("op", "subscribe");
      op.put("id", t.index);
      op.put("topic", t.name);
      op.put("since", t.cursor);
      if (sub.notifyMode) {
        op.put("mode", "notify");
      }
      send(op.toString());
    }
    ws.request(1);
    lastHeard = System.nanoTime();
    scheduleWatchdog();
  }

  private void scheduleWatchdog() {
    watchdog = sub.schedule(SubscriptionImpl.WS_IDLE_MILLIS / 3, () -> {
      if (!sub.isActive(this)) {
        return;
      }
      if (System.nanoTime() - lastHeard > java.util.concurrent.TimeUnit.MILLISECONDS.toNanos(SubscriptionImpl.WS_IDLE_MILLIS)) {
        sub.failed(this, Failure.dropped("nothing heard on the WebSocket for " + SubscriptionImpl.WS_IDLE_MILLIS / 1000 + " s", 0));
      } else {
        scheduleWatchdog();
      }
    });
  }

  private void send(String message) {
    WebSocket w = ws;
    // One send at a time, as java.net.http.WebSocket requires.
    sending = sending.thenCompose(x -> w.sendText(message, true)).exceptionally(ex -> null);
  }

  @Override
  void stop() {
    WebSocket w;
    synchronized (this) {
      stopped = true;
      w = ws;
    }
    if (watchdog != null) {
      watchdog.cancel();
    }
    if (w != null) {
      w.abort();
    }
  }

  // ---- the JDK's listener callbacks (on the client's executor)

  @Override
  public void onOpen(WebSocket webSocket) {
    // Nothing is requested until the subscription's thread has sent the subscribes.
  }

  @Override
  public CompletionStage<?> onText(WebSocket webSocket, CharSequence data, boolean last) {
    lastHeard = System.nanoTime();
    if (text.length() + data.length() > SubscriptionImpl.MAX_MESSAGE) {
      text.setLength(0);
      webSocket.abort();
      sub.post(() -> sub.failed(this, Failure.dropped("a message over " + SubscriptionImpl.MAX_MESSAGE + " characters", 0)));
      return null;
    }
    text.append(data);
    if (!last) {
      webSocket.request(1);
      return null;
    }
    String message = text.toString();
    text.setLength(0);
    sub.post(() -> {
      if (!sub.current(this)) {
        return;
      }
      handle(message);
      if (sub.current(this) && !stopped) {
        webSocket.request(1);
      }
    });
    return null;
  }

  @Override
  public CompletionStage<?> onBinary(WebSocket webSocket, ByteBuffer data, boolean last) {
    webSocket.request(1);
    return null;
  }

  @Override
  public CompletionStage<?> onPing(WebSocket webSocket, ByteBuffer message) {
    // The JDK answers with a pong by itself.
    lastHeard = System.nanoTime();
    webSocket.request(1);
    return null;
  }

  @Override
  public CompletionStage<?> onPong(WebSocket webSocket, ByteBuffer message) {
    lastHeard = System.nanoTime();
    webSocket.request(1);
    return null;
  }

  @Override
  public CompletionStage<?> onClose(WebSocket webSocket, int statusCode, String reason) {
    sub.post(() -> sub.failed(this, closed(statusCode, reason)));
    return null;
  }

  @Override
  public void onError(WebSocket webSocket, Throwable error) {
    sub.post(() -> sub.failed(this, Failure.dropped("WebSocket error: " + error, 0)));
  }

  static Failure closed(int code, String reason) {
    String why = "WebSocket closed " + code + (reason == null || reason.isEmpty() ? "" : ": " + reason);
    return switch (code) {
      case 1008 -> Failure.fatal(new TidingsException(0, "unauthorized", why, null, null));
      case 4029 -> Failure.throttled(why, 0);
      default -> Failure.dropped(why, 0); // 1000, 1001, 1011, 1012, 4008, ...
    };
  }

  // ---- on the subscription's thread

  private void handle(String message) {
    JsonNode m = TidingsClient.parse(message.getBytes(java.nio.charset.StandardCharsets.UTF_8));
    if (m == null || !m.isObject()) {
      return;
    }
    String op = TidingsClient.text(m, "op");
    if (op == null) {
      return;
    }
    switch (op) {
      case "event" -> {
        Topic t = sub.topic(TidingsClient.text(m, "topic"));
        if (t != null) {
          Event e = TidingsClient.event(m);
          if (sub.notifyMode) {
            sub.notified(t, e);
          } else {
            sub.pushed(t, e);
          }
        }
      }
      case "subscribed" -> {
        Topic t = sub.topic(TidingsClient.text(m, "topic"));
        if (t != null) {
          sub.resolved(t, TidingsClient.text(m, "cursor"));
        }
      }
      case "reset" -> {
        Topic t = sub.topic(TidingsClient.text(m, "topic"));
        if (t != null) {
          sub.pushedReset(t, TidingsClient.text(m, "cursor"), TidingsClient.text(m, "reason"));
        }
      }
      case "error" -> {
        String code = TidingsClient.text(m, "code");
        String text = TidingsClient.text(m, "message");
        Failure f = subscribeError(code, text);
        if (f != null) {
          sub.failed(this, f);
        }
      }
      default -> {
        // pong, unsubscribed, ...: nothing to do
      }
    }
  }

  /** What an {@code error} op means for the subscription; null to ignore it. */
  static Failure subscribeError(String code, String message) {
    if (code == null) {
      return null;
    }
    return switch (code) {
      case "invalid_topic", "invalid_cursor" -> Failure.fatal(new TidingsException(400, code, message, null, null));
      case "forbidden" -> Failure.fatal(new TidingsException(403, code, message, null, null));
      case "unauthorized" -> Failure.fatal(new TidingsException(401, code, message, null, null));
      case "too_many_subscriptions" -> Failure.refused(code + ": " + message);
      case "rate_limited" -> Failure.throttled(code + ": " + message, 0);
      case "already_subscribed", "not_subscribed" -> null;
      default -> Failure.dropped(code + ": " + message, 0); // unavailable and anything new: reconnect later
    };
  }
}
