package io.tidings.server.push;

import io.tidings.core.Cursor;
import io.tidings.core.Engine;
import io.tidings.core.InvalidCursorException;
import io.tidings.core.Position;
import io.tidings.core.TopicHead;
import io.tidings.core.Topics;
import io.tidings.server.auth.Access;
import io.tidings.server.auth.Principal;
import io.tidings.server.config.TidingsConfig;
import io.tidings.server.http.ApiException;
import io.tidings.server.http.HttpApi;
import io.tidings.server.limits.Limits;
import io.tidings.server.limits.Ticket;
import io.tidings.server.http.Params;
import io.tidings.server.http.Responses;
import io.tidings.server.http.Stages;
import io.vertx.core.http.HttpHeaders;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.HttpServerRequest;
import io.vertx.core.http.HttpServerResponse;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ThreadLocalRandom;

/**
 * {@code GET /v1/sse}: Server-Sent Events over one or more topics. Everything that can be refused
 * is refused before the stream starts, with a plain error response; a stream never ends in an error
 * it could have reported up front.
 */
public final class SseTransport {
  private static final CharSequence EVENT_STREAM = HttpHeaders.createOptimized("text/event-stream");
  private static final CharSequence NO_CACHE = HttpHeaders.createOptimized("no-cache, no-transform");
  private static final CharSequence X_ACCEL_BUFFERING = HttpHeaders.createOptimized("X-Accel-Buffering");
  private static final CharSequence NO = HttpHeaders.createOptimized("no");
  private static final String LAST_EVENT_ID = "Last-Event-ID";

  private final Engine engine;
  private final PushLoop loop;
  private final TidingsConfig.Push config;
  private final PushStats stats;
  private final io.tidings.server.ops.Metrics metrics;
  private final Limits limits;

  public SseTransport(Engine engine, PushLoop loop, TidingsConfig.Push config, PushStats stats,
      io.tidings.server.ops.Metrics metrics, Limits limits) {
    this.limits = limits;
    this.metrics = metrics;
    this.engine = engine;
    this.loop = loop;
    this.config = config;
    this.stats = stats;
  }

  /** Answers {@code request}; a stream that starts logs {@code log} when it ends. */
  public void handle(HttpServerRequest request, Principal principal, io.tidings.server.ops.AccessLog.Entry log) {
    if (!config.sse.enabled) {
      throw ApiException.transportDisabled("Server-Sent Events");
    }
    Params params = Params.of(request);
    List<String> topics = topics(params);
    for (String topic : topics) {
      Access.requireSubscribe(principal, topic);
    }
    Access.requireUnexpired(principal, System.currentTimeMillis());
    boolean notifyOnly = params.notifyMode();
    // Browsers resend the URL they first used, so Last-Event-ID (the newer position) wins over since.
    String lastEventId = request.getHeader(LAST_EVENT_ID);
    String since = lastEventId != null && !lastEventId.isBlank() ? lastEventId.trim() : params.single("since");
    Position[] start = positions(since, topics.size(), lastEventId != null && !lastEventId.isBlank());
    HttpServerResponse response = request.response();
    String key = limits.key(principal, HttpApi.host(request));
    if (request.method() != HttpMethod.HEAD && limits.refusesNow(key)) {
      comeBackLater(request);
      return;
    }
    resolve(request, topics, start, 0, () -> {
      if (request.method() == HttpMethod.HEAD) {
        response.setStatusCode(200)
            .putHeader(HttpHeaders.CONTENT_TYPE, EVENT_STREAM)
            .putHeader(HttpHeaders.CACHE_CONTROL, NO_CACHE)
            .putHeader(X_ACCEL_BUFFERING, NO)
            .end();
        return;
      }
      Ticket ticket = limits.admit(key);
      if (ticket == null) {
        comeBackLater(request);
        return;
      }
      // The stream's headers: its own, and what CORS has already put on the response.
      Map<String, String> headers = new LinkedHashMap<>();
      response.headers().forEach(h -> headers.put(h.getKey().toLowerCase(Locale.ROOT), h.getValue()));
      headers.put("content-type", EVENT_STREAM.toString());
      headers.put("cache-control", NO_CACHE.toString());
      headers.put("x-accel-buffering", NO.toString());
      response.setStatusCode(200);
      headers.forEach(response::putHeader);
      List<Cursor> from = new ArrayList<>(topics.size());
      for (int i = 0; i < topics.size(); i++) {
        from.add((Cursor) start[i]);
      }
      if (Hijack.possible(request)) {
        metrics.request("/v1/sse", 200); // a Vert.x response counts itself when it ends
      }
      new SseStream(loop, topics, notifyOnly, config, stats, principal.expiresAt(), log, ticket).start(request, from, headers);
    });
  }

  /**
   * Over a connection cap: {@code 200} with only a {@code retry:} (between one and three times
   * {@code push.sse.retry}, so refused clients spread out) and the end. EventSource gives up after a
   * non-200 answer; this way it comes back later by itself.
   */
  private void comeBackLater(HttpServerRequest request) {
    HttpServerResponse response = request.response();
    long retry = Math.max(1, Math.round(config.sse.retry.toMillis() * (1 + 2 * ThreadLocalRandom.current().nextDouble())));
    response.setStatusCode(200)
        .putHeader(HttpHeaders.CONTENT_TYPE, EVENT_STREAM)
        .putHeader(HttpHeaders.CACHE_CONTROL, NO_CACHE)
        .putHeader(X_ACCEL_BUFFERING, NO);
    if (request.version() != io.vertx.core.http.HttpVersion.HTTP_2) {
      response.putHeader(HttpHeaders.CONNECTION, "close");
    }
    response.end(": the server is at capacity; come back later\nretry: " + retry + "\n\n");
  }

  private List<String> topics(Params params) {
    List<String> topics = params.all("topic");
    if (topics.isEmpty()) {
      throw ApiException.badRequest("invalid_topic", "at least one 'topic' parameter is required");
    }
    if (topics.size() > config.sse.maxTopics) {
      throw ApiException.badRequest("too_many_topics", "a stream carries at most " + config.sse.maxTopics + " topics");
    }
    HashSet<String> seen = new HashSet<>();
    for (String topic : topics) {
      String problem = Topics.problem(topic);
      if (problem != null) {
        throw ApiException.badRequest("invalid_topic", problem);
      }
      if (!seen.add(topic)) {
        throw ApiException.badRequest("invalid_parameter", "topic '" + topic + "' is given more than once");
      }
    }
    return List.copyOf(topics);
  }

  private static Position[] positions(String since, int topics, boolean fromHeader) {
    Position[] out = new Position[topics];
    String name = fromHeader ? "Last-Event-ID" : "'since'";
    try {
      if (since == null || since.equals("now") || since.equals("earliest")) {
        Arrays.fill(out, since == null ? Position.NOW : Position.parse(since));
      } else {
        List<Position> parts = StreamCursor.parse(since, topics);
        for (int i = 0; i < topics; i++) {
          out[i] = parts.get(i);
        }
      }
    } catch (InvalidCursorException e) {
      throw ApiException.badRequest("invalid_cursor", name + ": " + e.getMessage());
    }
    return out;
  }

  /**
   * Turns {@code earliest} and {@code now} into cursors (the stream id needs every topic's
   * position from the first event on) and refuses a cursor past a topic's head, one topic at a time.
   */
  private void resolve(HttpServerRequest request, List<String> topics, Position[] start, int index,
      Runnable then) {
    if (index == topics.size()) {
      then.run();
      return;
    }
    HttpServerResponse response = request.response();
    String topic = topics.get(index);
    Stages.onContext(engine.head(topic), loop.context(), response, ar -> {
      if (ar.failed()) {
        Responses.error(response, ar.cause());
        return;
      }
      TopicHead head = ar.result();
      Position p = start[index];
      if (p == Position.EARLIEST) {
        start[index] = head.earliest();
      } else if (p == Position.NOW) {
        start[index] = head.cursor();
      } else if (p instanceof Cursor c && c.epoch().equals(head.epoch()) && c.offset() > head.lastOffset()) {
        confirmAhead(request, topics, start, index, then, c);
        return;
      }
      resolve(request, topics, start, index + 1, then);
    });
  }

  // A reader may have seen a commit whose head is not published yet: a snapshot decides.
  private void confirmAhead(HttpServerRequest request, List<String> topics, Position[] start, int index,
      Runnable then, Cursor c) {
    HttpServerResponse response = request.response();
    Stages.onContext(engine.read(topics.get(index), c.offset(), 1), loop.context(), response, ar -> {
      if (ar.failed()) {
        Responses.error(response, ar.cause());
      } else if (ar.result().head().lastOffset() < c.offset()) {
        Responses.error(response, ApiException.badRequest("invalid_cursor",
            "the cursor is past the head of topic " + topics.get(index)));
      } else {
        resolve(request, topics, start, index + 1, then);
      }
    });
  }
}
