package io.tidings.server.graphql;

import com.fasterxml.jackson.databind.JsonNode;
import graphql.schema.DataFetcher;
import graphql.schema.DataFetchingEnvironment;
import io.tidings.core.AppendResult;
import io.tidings.core.Cursor;
import io.tidings.core.Engine;
import io.tidings.core.EventTypes;
import io.tidings.core.InvalidCursorException;
import io.tidings.core.NewEvent;
import io.tidings.core.Position;
import io.tidings.core.StateEntry;
import io.tidings.core.StatePage;
import io.tidings.core.TopicHead;
import io.tidings.core.Topics;
import io.tidings.server.auth.Access;
import io.tidings.server.config.TidingsConfig;
import io.tidings.server.http.ApiException;
import io.tidings.server.http.HttpDates;
import io.tidings.server.http.Json;
import io.tidings.server.limits.Limits;
import io.tidings.server.ops.Metrics;
import io.tidings.server.publish.EventParser;
import io.tidings.server.pull.ChangeReader;
import io.tidings.server.push.StreamCursor;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;

/**
 * The root fields of the schema. Each checks its arguments and the caller's grants with the rules
 * of the JSON API, spends a rate-limit token of its kind (poll, publish, subscribe), and answers
 * with a future of the engine's call: nothing here blocks. Results are maps keyed by the schema's
 * field names, or {@link EventView}s for events.
 */
final class Resolvers {
  private final Engine engine;
  private final EventParser parser;
  private final Limits limits;
  private final Metrics metrics;
  private final TidingsConfig config;
  private final java.util.concurrent.atomic.LongAdder dropped;

  Resolvers(Engine engine, EventParser parser, Limits limits, Metrics metrics, TidingsConfig config,
      java.util.concurrent.atomic.LongAdder dropped) {
    this.engine = engine;
    this.parser = parser;
    this.limits = limits;
    this.metrics = metrics;
    this.config = config;
    this.dropped = dropped;
  }

  static Caller caller(DataFetchingEnvironment env) {
    return env.getGraphQlContext().get(Caller.class);
  }

  /** {@code state(topic, limit, afterKey)}: the rules of {@code GET /v1/state}. */
  DataFetcher<CompletableFuture<Map<String, Object>>> state() {
    return env -> {
      Caller caller = caller(env);
      String topic = topic(env.getArgument("topic"));
      Access.requireSubscribe(caller.principal(), topic);
      int limit = limit(env.getArgument("limit"), "limit", config.pull.stateDefaultLimit, config.pull.stateMaxLimit);
      String afterKey = env.getArgument("afterKey");
      if (afterKey != null && afterKey.length() > EventTypes.MAX_KEY_LENGTH) {
        throw ApiException.badRequest("invalid_parameter", "'afterKey' is longer than " + EventTypes.MAX_KEY_LENGTH
            + " characters");
      }
      limits.check(Limits.Kind.POLL, caller.limitKey(), false);
      limits.checkPollPace(caller.limitKey(), "graphql:state", topic, String.valueOf(afterKey));
      return engine.state(topic, afterKey, limit).thenApply(Resolvers::statePage).toCompletableFuture();
    };
  }

  private static Map<String, Object> statePage(StatePage page) {
    List<Map<String, Object>> entries = new ArrayList<>(page.entries().size());
    for (StateEntry e : page.entries()) {
      Map<String, Object> entry = new LinkedHashMap<>(6);
      entry.put("key", e.key());
      entry.put("data", RawJson.of(e.data()));
      entry.put("offset", e.offset());
      entry.put("time", HttpDates.iso(e.time()));
      entries.add(entry);
    }
    Map<String, Object> out = new LinkedHashMap<>(6);
    out.put("topic", page.head().topic());
    out.put("cursor", page.head().cursor().encode());
    out.put("entries", entries);
    out.put("next_key", page.nextKey());
    return out;
  }

  /**
   * {@code changes(topic, since, limit, mode)}: the rules of {@code GET /v1/changes} (through the
   * loop's {@link ChangeReader}): an expired cursor is {@code CURSOR_EXPIRED}, a malformed one or one
   * past the head {@code BAD_USER_INPUT}.
   */
  DataFetcher<CompletableFuture<Map<String, Object>>> changes() {
    return env -> {
      Caller caller = caller(env);
      String topic = topic(env.getArgument("topic"));
      Access.requireSubscribe(caller.principal(), topic);
      String sinceText = env.getArgument("since");
      Position since;
      try {
        since = sinceText == null ? Position.EARLIEST : Position.parse(sinceText);
      } catch (InvalidCursorException e) {
        throw ApiException.badRequest("invalid_cursor", "'since': " + e.getMessage());
      }
      int limit = limit(env.getArgument("limit"), "limit", config.pull.changesDefaultLimit, config.pull.changesMaxLimit);
      boolean notifyOnly = "NOTIFY".equals(env.getArgument("mode"));
      limits.check(Limits.Kind.POLL, caller.limitKey(), false);
      limits.checkPollPace(caller.limitKey(), "graphql:changes", topic, String.valueOf(sinceText));
      ChangeReader.Query q = new ChangeReader.Query(topic, since, limit, 0, notifyOnly, caller.principal(),
          caller.host());
      CompletableFuture<Map<String, Object>> page = new CompletableFuture<>();
      Runnable read = () -> caller.reader().read(q, ar -> {
        if (ar.failed()) {
          page.completeExceptionally(ar.cause());
          return;
        }
        ChangeReader.Page p = ar.result();
        List<EventView> events = new ArrayList<>(p.events().size());
        for (io.tidings.core.Event e : p.events()) {
          events.add(EventView.of(e, !notifyOnly, null));
        }
        Map<String, Object> out = new LinkedHashMap<>(6);
        out.put("topic", topic);
        out.put("events", events);
        out.put("cursor", p.cursor().encode());
        out.put("more", p.more());
        page.complete(out);
      });
      // The reader is confined to its loop; fields normally resolve there already.
      if (io.vertx.core.Context.isOnEventLoopThread() && io.vertx.core.Vertx.currentContext() == caller.loop().context()) {
        read.run();
      } else {
        caller.loop().context().runOnContext(v -> read.run());
      }
      return page;
    };
  }

  /** {@code topics(prefix, after, limit)}: the rules of {@code GET /v1/topics}, as a list. */
  DataFetcher<CompletableFuture<List<Map<String, Object>>>> topics() {
    return env -> {
      Caller caller = caller(env);
      if (caller.principal().anonymous() && !caller.principal().grants().subscribesAny()) {
        throw Access.unauthorized("credentials are needed to list topics", false);
      }
      String prefix = text(env.getArgument("prefix"), "prefix");
      String after = text(env.getArgument("after"), "after");
      int max = config.pull.topicsMaxLimit;
      int limit = limit(env.getArgument("limit"), "limit", Math.min(1000, max), max);
      limits.check(Limits.Kind.POLL, caller.limitKey(), false);
      return engine.topics(prefix == null || prefix.isEmpty() ? null : prefix, after, limit).thenApply(heads -> {
        List<Map<String, Object>> out = new ArrayList<>(heads.size());
        for (TopicHead h : heads) {
          if (caller.principal().maySubscribe(h.topic())) {
            Map<String, Object> t = new LinkedHashMap<>(8);
            t.put("topic", h.topic());
            t.put("cursor", h.cursor().encode());
            t.put("first_offset", h.firstOffset());
            t.put("last_offset", h.lastOffset());
            t.put("keys", h.keys());
            t.put("last_event_time", h.lastOffset() > 0 ? HttpDates.iso(h.lastTime()) : null);
            out.add(t);
          }
        }
        return out;
      }).toCompletableFuture();
    };
  }

  /**
   * {@code publish(topic, events)}: the events go through {@link EventParser} as the JSON body of
   * {@code POST /v1/events} would, so every rule (and every message) is the same.
   */
  DataFetcher<CompletableFuture<Map<String, Object>>> publish() {
    return env -> {
      Caller caller = caller(env);
      String topic = topic(env.getArgument("topic"));
      Access.requirePublish(caller.principal(), topic);
      JsonNode body = Json.MAPPER.valueToTree(env.getArgument("events"));
      List<NewEvent> events = parser.parse(body);
      limits.check(Limits.Kind.PUBLISH, caller.limitKey(), false);
      long started = System.nanoTime();
      return engine.append(topic, events).thenApply(result -> {
        metrics.published(result.appended().size(), System.nanoTime() - started);
        return publishResult(topic, result);
      }).toCompletableFuture();
    };
  }

  private static Map<String, Object> publishResult(String topic, AppendResult result) {
    String epoch = result.head().epoch();
    List<Map<String, Object>> events = new ArrayList<>(result.outcomes().size());
    for (AppendResult.Outcome o : result.outcomes()) {
      Map<String, Object> e = new LinkedHashMap<>(6);
      e.put("id", o.id());
      e.put("offset", o.offset());
      e.put("cursor", new Cursor(epoch, o.offset()).encode());
      e.put("duplicate", o.duplicate());
      events.add(e);
    }
    Map<String, Object> out = new LinkedHashMap<>(4);
    out.put("topic", topic);
    out.put("cursor", new Cursor(epoch, result.lastOffset()).encode());
    out.put("events", events);
    return out;
  }

  /**
   * {@code events(topics, since, mode)}: a publisher of the topics' events ({@link EventStream}).
   * Only over the WebSocket: a subscription needs a connection to live on.
   */
  DataFetcher<EventStream> events() {
    return env -> {
      Caller caller = caller(env);
      if (caller.connection() == null) {
        throw ApiException.badRequest("invalid_request",
            "subscriptions run over WebSocket (graphql-transport-ws) at /v1/graphql");
      }
      List<String> topics = env.getArgument("topics");
      int max = config.push.sse.maxTopics;
      if (topics.isEmpty() || topics.size() > max) {
        throw ApiException.badRequest("invalid_topic", "a subscription has 1 to " + max + " topics");
      }
      if (new HashSet<>(topics).size() != topics.size()) {
        throw ApiException.badRequest("invalid_topic", "a topic is named twice");
      }
      for (String topic : topics) {
        topic(topic);
        Access.requireSubscribe(caller.principal(), topic);
      }
      List<Position> since = since(env.getArgument("since"), topics.size());
      boolean notifyOnly = "NOTIFY".equals(env.getArgument("mode"));
      limits.check(Limits.Kind.SUBSCRIBE, caller.limitKey(), false);
      Caller.Connection connection = caller.connection();
      return new EventStream(caller.loop(), List.copyOf(topics), since, notifyOnly, connection.budget(), dropped,
          connection::slowConsumer);
    };
  }

  /**
   * Start positions: {@code earliest} or {@code now} for every topic, or a stream cursor with one
   * position per topic (for one topic, that topic's cursor).
   */
  static List<Position> since(String since, int topics) {
    if (since == null) {
      return java.util.Collections.nCopies(topics, Position.NOW);
    }
    try {
      if (since.equals("earliest") || since.equals("now")) {
        return java.util.Collections.nCopies(topics, Position.parse(since));
      }
      return StreamCursor.parse(since, topics);
    } catch (InvalidCursorException e) {
      throw ApiException.badRequest("invalid_cursor", "'since': " + e.getMessage());
    }
  }

  static String topic(String topic) {
    String problem = Topics.problem(topic);
    if (problem != null) {
      throw ApiException.badRequest("invalid_topic", problem);
    }
    return topic;
  }

  static int limit(Integer value, String name, int fallback, int max) {
    if (value == null) {
      return fallback;
    }
    if (value < 1 || value > max) {
      throw ApiException.badRequest("invalid_parameter", "'" + name + "' must be from 1 to " + max);
    }
    return value;
  }

  private static String text(String value, String name) {
    if (value != null && value.length() > Topics.MAX_LENGTH) {
      throw ApiException.badRequest("invalid_parameter", "'" + name + "' is longer than " + Topics.MAX_LENGTH
          + " characters");
    }
    return value;
  }
}
