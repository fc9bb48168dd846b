package io.tidings.server.cli;

import io.tidings.server.cli.SubscribeCommand.Outcome;
import java.io.IOException;
import java.net.http.HttpClient;
import java.net.http.HttpHeaders;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Flow;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * {@code GET /v1/sse}: one request per connection, its body read line by line as it streams and
 * parsed by {@link SseParser}. Resumes with {@code Last-Event-ID} (the stream cursor covers every
 * topic); until the hub has sent an id, a reconnection repeats the first request's {@code since}.
 */
final class SseSubscriber implements SubscribeCommand.Connection {
  /** Lines read ahead of printing, at most: the rest waits in the socket (bounded memory). */
  private static final int WINDOW = 256;

  private final HubConnection hub;
  private final HttpClient http;
  private final List<String> topics;
  private final String since;
  private final boolean notifyMode;
  private final Duration idle;
  private final SubscribeOutput out;
  private final SseParser parser = new SseParser();

  SseSubscriber(HubConnection hub, HttpClient http, List<String> topics, String since, boolean notifyMode,
      Duration idle, SubscribeOutput out) {
    this.hub = hub;
    this.http = http;
    this.topics = topics;
    this.since = since;
    this.notifyMode = notifyMode;
    this.idle = idle;
    this.out = out;
  }

  /** The request's path and query: every topic, the first {@code since} while there is no id, the mode. */
  static String pathAndQuery(List<String> topics, String since, boolean notifyMode, String lastEventId) {
    StringBuilder q = new StringBuilder("/v1/sse?");
    for (int i = 0; i < topics.size(); i++) {
      q.append(i == 0 ? "" : "&").append("topic=").append(HubConnection.enc(topics.get(i)));
    }
    if (lastEventId.isEmpty() && since != null) {
      q.append("&since=").append(HubConnection.enc(since));
    }
    if (notifyMode) {
      q.append("&mode=notify");
    }
    return q.toString();
  }

  @Override
  public Outcome connectOnce() throws InterruptedException {
    parser.newStream();
    String lastId = parser.lastEventId();
    HttpRequest.Builder request = hub.request(pathAndQuery(topics, since, notifyMode, lastId), Duration.ofSeconds(30))
        .header("Accept", "text/event-stream")
        .header("Cache-Control", "no-cache")
        .GET();
    if (!lastId.isEmpty()) {
      request.header("Last-Event-ID", lastId);
    }
    LineQueue lines = new LineQueue();
    CompletableFuture<HttpResponse.ResponseInfo> head = new CompletableFuture<>();
    CompletableFuture<HttpResponse<String>> response = http.sendAsync(request.build(), info -> {
      head.complete(info);
      if (info.statusCode() == 200 && isEventStream(info.headers())) {
        return HttpResponse.BodySubscribers.fromLineSubscriber(lines, l -> "", StandardCharsets.UTF_8, null);
      }
      return HttpResponse.BodySubscribers.ofString(StandardCharsets.UTF_8);
    });
    try {
      HttpResponse.ResponseInfo info;
      try {
        CompletableFuture.anyOf(head, response).get(45, TimeUnit.SECONDS);
        info = head.getNow(null);
        if (info == null) {
          response.join(); // failed before any header: throws
          return retry("no answer from the hub", 0, 0);
        }
      } catch (ExecutionException | java.util.concurrent.CompletionException e) {
        Throwable cause = e.getCause() != null ? e.getCause() : e;
        return retry("cannot reach the hub (" + describe(cause) + ")", 0, 0);
      } catch (TimeoutException e) {
        return retry("no answer from the hub within 45 s", 0, 0);
      }
      if (info.statusCode() == 200 && isEventStream(info.headers())) {
        return stream(lines);
      }
      return refused(info, response);
    } finally {
      lines.cancel();
      response.cancel(true);
    }
  }

  /** Prints the stream until it ends; the hub's {@code retry:} is the least delay before the next try. */
  private Outcome stream(LineQueue lines) throws InterruptedException {
    long started = System.nanoTime();
    while (true) {
      Object item = lines.next(idle);
      long streamed = (System.nanoTime() - started) / 1_000_000;
      if (item == null) {
        return retry("nothing from the hub for " + idle.toSeconds() + " s, not even a heartbeat", 0, streamed);
      }
      if (item == LineQueue.END) {
        return retry("the hub ended the stream", 0, streamed);
      }
      if (item instanceof Throwable t) {
        return retry("the stream broke (" + describe(t) + ")", 0, streamed);
      }
      SseParser.Event event = parser.line((String) item);
      // The opening "subscribed" event only carries the start position (kept as the last id).
      if (event != null && !event.type().equals("subscribed")) {
        boolean printed = event.type().equals("reset") ? out.resetData(event.data()) : out.eventData(event.data());
        if (!printed) {
          System.err.println("tidings: ignored an event whose data is not a JSON object: " + abbreviate(event.data()));
        }
      }
    }
  }

  /** A response other than a stream: 4xx ends the command, 429/503 and other 5xx are retried. */
  private Outcome refused(HttpResponse.ResponseInfo info, CompletableFuture<HttpResponse<String>> response)
      throws InterruptedException {
    String text;
    try {
      text = HubConnection.errorText(response.get(30, TimeUnit.SECONDS));
    } catch (ExecutionException | TimeoutException e) {
      text = Integer.toString(info.statusCode());
    }
    int status = info.statusCode();
    if (status == 200) {
      return Outcome.exit(1, "the hub answered without text/event-stream (is --url a Tidings hub?)");
    }
    if (status == 401 || status == 403) {
      return Outcome.exit(2, text);
    }
    if (status == 429 || status == 503 || status == 408 || status >= 500) {
      long after = Backoff.retryAfterMillis(info.headers().firstValue("Retry-After"), Instant.now());
      return retry(text, after, 0);
    }
    return Outcome.exit(1, text);
  }

  private Outcome retry(String message, long minDelay, long streamedMillis) {
    return Outcome.retry(message, Math.max(minDelay, parser.retryMillis()), streamedMillis);
  }

  private static boolean isEventStream(HttpHeaders headers) {
    return headers.firstValue("Content-Type").map(v -> v.toLowerCase(Locale.ROOT).startsWith("text/event-stream"))
        .orElse(false);
  }

  static String describe(Throwable t) {
    Throwable cause = t;
    while ((cause instanceof ExecutionException || cause instanceof java.util.concurrent.CompletionException)
        && cause.getCause() != null) {
      cause = cause.getCause();
    }
    String message = cause.getMessage();
    String kind = cause instanceof IOException ? cause.getClass().getSimpleName() : cause.getClass().getName();
    return message == null || message.isBlank() ? kind : kind + ": " + message;
  }

  private static String abbreviate(String s) {
    return s.length() > 200 ? s.substring(0, 200) + "..." : s;
  }

  /**
   * The body's lines as a queue the command's thread takes from, asking the socket for more only as
   * it goes: at most {@link #WINDOW} lines wait here.
   */
  static final class LineQueue implements Flow.Subscriber<String> {
    static final Object END = new Object();
    private final BlockingQueue<Object> queue = new LinkedBlockingQueue<>();
    private volatile Flow.Subscription subscription;
    private volatile boolean cancelled;

    @Override
    public void onSubscribe(Flow.Subscription s) {
      subscription = s;
      if (cancelled) {
        s.cancel();
      } else {
        s.request(WINDOW);
      }
    }

    @Override
    public void onNext(String line) {
      queue.add(line);
    }

    @Override
    public void onError(Throwable t) {
      queue.add(t);
    }

    @Override
    public void onComplete() {
      queue.add(END);
    }

    /** A line, {@link #END}, a {@link Throwable}, or null when nothing came within {@code idle}. */
    Object next(Duration idle) throws InterruptedException {
      Object item = queue.poll(idle.toMillis(), TimeUnit.MILLISECONDS);
      if (item instanceof String) {
        Flow.Subscription s = subscription;
        if (s != null) {
          s.request(1);
        }
      }
      return item;
    }

    void cancel() {
      cancelled = true;
      Flow.Subscription s = subscription;
      if (s != null) {
        s.cancel();
      }
    }
  }
}
