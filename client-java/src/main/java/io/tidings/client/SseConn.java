package io.tidings.client;

import com.fasterxml.jackson.databind.JsonNode;
import io.tidings.client.SubscriptionImpl.Failure;
import io.tidings.client.SubscriptionImpl.Reply;
import io.tidings.client.SubscriptionImpl.Topic;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Flow;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;

/**
 * The SSE transport: one {@code /v1/sse} stream over every topic, starting from the topics'
 * cursors joined into a stream cursor. The body is read one chunk at a time: the next is requested
 * once the subscription's thread has parsed and delivered the last.
 */
final class SseConn extends SubscriptionImpl.Conn implements Flow.Subscriber<List<ByteBuffer>>, SseParser.Handler {
  private static final int MAX_ERROR_BODY = 64 << 10;

  private final SubscriptionImpl sub;
  private final SseParser parser = new SseParser(this, SubscriptionImpl.MAX_MESSAGE);
  private CompletableFuture<?> pending;
  private final List<CompletableFuture<?>> resolving = new ArrayList<>();
  private Flow.Publisher<List<ByteBuffer>> body;
  private Flow.Subscription subscription;
  private long retryMillis;
  private volatile long lastHeard = System.nanoTime();
  private SubscriptionImpl.Timer watchdog;

  SseConn(SubscriptionImpl sub) {
    super(Transport.SSE);
    this.sub = sub;
  }

  @Override
  void start() {
    String since = since();
    if (since != null) {
      open(since);
    } else {
      resolveThenOpen();
    }
  }

  /**
   * The stream's {@code since}: the topics' cursors joined, or the one symbolic position they
   * share; null when some topics have cursors and others {@code now} or {@code earliest}.
   */
  private String since() {
    List<String> cursors = new ArrayList<>();
    boolean anySymbolic = false;
    boolean allSymbolic = true;
    String first = null;
    boolean same = true;
    for (Topic t : sub.allTopics()) {
      cursors.add(t.cursor);
      boolean s = Cursors.symbolic(t.cursor);
      anySymbolic |= s;
      allSymbolic &= s;
      if (first == null) {
        first = t.cursor;
      } else if (!first.equals(t.cursor)) {
        same = false;
      }
    }
    if (!anySymbolic) {
      return Cursors.join(cursors);
    }
    return allSymbolic && same ? first : null;
  }

  /** Turns each {@code now} and {@code earliest} into a cursor, with one changes request each. */
  private void resolveThenOpen() {
    List<Topic> open = new ArrayList<>();
    for (Topic t : sub.allTopics()) {
      if (Cursors.symbolic(t.cursor)) {
        open.add(t);
      }
    }
    int[] left = {open.size()};
    for (Topic t : open) {
      String sym = t.cursor;
      String q = "/v1/changes?topic=" + TidingsClient.enc(t.name) + "&since=" + sym + "&limit=1";
      CompletableFuture<HttpResponse<byte[]>> f = sub.client.http().sendAsync(sub.client.request(q).GET().build(),
          HttpResponse.BodyHandlers.ofByteArray());
      resolving.add(f);
      f.whenComplete((r, ex) -> sub.post(() -> {
        if (!sub.current(this) || stopped) {
          return;
        }
        Reply reply = Reply.of(r, ex);
        if (reply.status() != 200 || reply.json() == null) {
          sub.failed(this, reply.failure(Transport.SSE, false));
          return;
        }
        Changes c = reply.changes();
        String cursor = c.cursor();
        if (!c.events().isEmpty()) {
          Event e = c.events().get(0);
          cursor = Cursors.epoch(e.cursor()) + "." + (e.offset() - 1);
        }
        if (Cursors.symbolic(t.cursor) && sym.equals(t.cursor)) {
          sub.resolved(t, cursor);
        }
        if (--left[0] == 0) {
          String since = since();
          if (since == null) {
            sub.failed(this, Failure.network("could not resolve the topics' start positions"));
          } else {
            open(since);
          }
        }
      }));
    }
  }

  private void open(String since) {
    StringBuilder q = new StringBuilder("/v1/sse?");
    for (Topic t : sub.allTopics()) {
      q.append("topic=").append(TidingsClient.enc(t.name)).append('&');
    }
    q.append("since=").append(TidingsClient.enc(since));
    if (sub.notifyMode) {
      q.append("&mode=notify");
    }
    HttpRequest request = sub.client.request(q.toString())
        .setHeader("Accept", "text/event-stream")
        .GET()
        .build();
    CompletableFuture<HttpResponse<Flow.Publisher<List<ByteBuffer>>>> f =
        sub.client.http().sendAsync(request, HttpResponse.BodyHandlers.ofPublisher());
    pending = f;
    f.whenComplete((r, ex) -> {
      if (ex != null) {
        sub.post(() -> sub.failed(this, Failure.of(ex, true)));
        return;
      }
      int status = r.statusCode();
      boolean stream = r.headers().firstValue("Content-Type").map(v -> v.toLowerCase(java.util.Locale.ROOT)
          .startsWith("text/event-stream")).orElse(false);
      if (status != 200 || !stream) {
        collect(r.body(), bytes -> sub.post(() -> sub.failed(this, status == 200
            ? Failure.refused("SSE answered 200 without an event stream (a proxy?)")
            : Failure.ofStatus(status, TidingsClient.parse(bytes), r, "SSE answered " + status))));
        return;
      }
      synchronized (this) {
        if (stopped) {
          cancelBody(r.body());
          return;
        }
        body = r.body();
      }
      sub.post(() -> sub.opened(this));
    });
  }

  @Override
  void promoted() {
    lastHeard = System.nanoTime();
    body.subscribe(this);
    scheduleWatchdog();
  }

  private void scheduleWatchdog() {
    watchdog = sub.schedule(SubscriptionImpl.SSE_IDLE_MILLIS / 3, () -> {
      if (!sub.isActive(this)) {
        return;
      }
      if (System.nanoTime() - lastHeard > TimeUnit.MILLISECONDS.toNanos(SubscriptionImpl.SSE_IDLE_MILLIS)) {
        sub.failed(this, Failure.dropped("nothing heard on the SSE stream for " + SubscriptionImpl.SSE_IDLE_MILLIS / 1000 + " s", retryMillis));
      } else {
        scheduleWatchdog();
      }
    });
  }

  @Override
  void stop() {
    Flow.Subscription s;
    Flow.Publisher<List<ByteBuffer>> b;
    synchronized (this) {
      stopped = true;
      s = subscription;
      b = body;
    }
    if (watchdog != null) {
      watchdog.cancel();
    }
    for (CompletableFuture<?> f : resolving) {
      f.cancel(true);
    }
    if (s != null) {
      s.cancel();
    } else if (b != null) {
      cancelBody(b);
    } else if (pending != null) {
      pending.cancel(true);
    }
  }

  // ---- the body, on the client's executor

  @Override
  public void onSubscribe(Flow.Subscription s) {
    synchronized (this) {
      if (stopped) {
        s.cancel();
        return;
      }
      subscription = s;
    }
    s.request(1);
  }

  @Override
  public void onNext(List<ByteBuffer> item) {
    lastHeard = System.nanoTime();
    sub.post(() -> chunk(item));
  }

  @Override
  public void onError(Throwable error) {
    sub.post(() -> sub.failed(this, Failure.dropped("SSE stream failed: " + error, retryMillis)));
  }

  @Override
  public void onComplete() {
    sub.post(() -> sub.failed(this, Failure.dropped("SSE stream ended", retryMillis)));
  }

  // ---- on the subscription's thread

  private void chunk(List<ByteBuffer> buffers) {
    if (!sub.isActive(this)) {
      return;
    }
    try {
      for (ByteBuffer b : buffers) {
        parser.feed(b);
      }
    } catch (IOException e) {
      sub.failed(this, Failure.dropped(e.getMessage(), retryMillis));
      return;
    }
    if (sub.isActive(this)) {
      subscription.request(1);
    }
  }

  @Override
  public void event(String id, String type, String data) {
    if (!sub.isActive(this)) {
      return;
    }
    JsonNode json = TidingsClient.parse(data.getBytes(StandardCharsets.UTF_8));
    if (json == null || !json.isObject()) {
      return;
    }
    // Events are told from the stream's own messages by their shape, not by the SSE event name:
    // an application may publish events of type "reset", "subscribed" or "error".
    if (!(json.has("offset") && json.has("topic"))) {
      switch (type) {
        case "subscribed" -> {
          List<String> parts = Cursors.split(TidingsClient.text(json, "cursor"), sub.topicNames.size());
          if (parts != null) {
            for (int i = 0; i < parts.size(); i++) {
              sub.resolved(sub.topicAt(i), parts.get(i));
            }
          }
        }
        case "reset" -> {
          Topic t = sub.topic(TidingsClient.text(json, "topic"));
          if (t != null) {
            sub.pushedReset(t, TidingsClient.text(json, "cursor"), TidingsClient.text(json, "reason"));
          }
        }
        case "error" -> {
          JsonNode err = json.path("error");
          Failure f = WsConn.subscribeError(TidingsClient.text(err, "code"), TidingsClient.text(err, "message"));
          if (f != null) {
            sub.failed(this, f);
          }
        }
        default -> {
          // nothing else is expected
        }
      }
      return;
    }
    Topic t = sub.topic(TidingsClient.text(json, "topic"));
    if (t == null) {
      return;
    }
    Event e = TidingsClient.event(json);
    if (sub.notifyMode) {
      sub.notified(t, e);
    } else {
      sub.pushed(t, e);
    }
  }

  @Override
  public void retry(long millis) {
    retryMillis = Math.min(millis, TimeUnit.MINUTES.toMillis(5));
  }

  // ---- helpers

  private static void cancelBody(Flow.Publisher<List<ByteBuffer>> body) {
    body.subscribe(new Flow.Subscriber<>() {
      @Override
      public void onSubscribe(Flow.Subscription s) {
        s.cancel();
      }

      @Override
      public void onNext(List<ByteBuffer> item) {
      }

      @Override
      public void onError(Throwable throwable) {
      }

      @Override
      public void onComplete() {
      }
    });
  }

  /** Reads a (small) error body, then hands it over; a large one is cut at 64 KiB. */
  private static void collect(Flow.Publisher<List<ByteBuffer>> body, Consumer<byte[]> then) {
    body.subscribe(new Flow.Subscriber<>() {
      private final ByteArrayOutputStream out = new ByteArrayOutputStream();
      private Flow.Subscription s;
      private boolean done;

      @Override
      public void onSubscribe(Flow.Subscription subscription) {
        s = subscription;
        s.request(Long.MAX_VALUE);
      }

      @Override
      public void onNext(List<ByteBuffer> item) {
        for (ByteBuffer b : item) {
          byte[] bytes = new byte[b.remaining()];
          b.get(bytes);
          out.write(bytes, 0, bytes.length);
        }
        if (out.size() > MAX_ERROR_BODY && !done) {
          done = true;
          s.cancel();
          then.accept(out.toByteArray());
        }
      }

      @Override
      public void onError(Throwable throwable) {
        if (!done) {
          done = true;
          then.accept(out.toByteArray());
        }
      }

      @Override
      public void onComplete() {
        if (!done) {
          done = true;
          then.accept(out.toByteArray());
        }
      }
    });
  }
}
