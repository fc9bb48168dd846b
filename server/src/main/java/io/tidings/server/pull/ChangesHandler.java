package io.tidings.server.pull;

import io.tidings.core.Cursor;
import io.tidings.core.Engine;
import io.tidings.core.Event;
import io.tidings.core.Position;
import io.tidings.core.ReadResult;
import io.tidings.core.TopicHead;
import io.tidings.core.hub.TopicWaiters;
import io.tidings.server.auth.Access;
import io.tidings.server.auth.Authenticator;
import io.tidings.server.auth.Principal;
import io.tidings.server.config.TidingsConfig;
import io.tidings.server.http.ApiException;
import io.tidings.server.http.EntityTags;
import io.tidings.server.http.EventJson;
import io.tidings.server.http.Headers;
import io.tidings.server.http.HttpApi;
import io.tidings.server.limits.Limits;
import io.tidings.server.limits.Ticket;
import io.tidings.server.http.Json;
import io.tidings.server.http.Params;
import io.tidings.server.http.Responses;
import io.tidings.server.http.Stages;
import io.vertx.core.Context;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpServerRequest;
import io.vertx.core.http.HttpServerResponse;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.Executor;

/**
 * {@code GET /v1/changes}: incremental sync from a cursor, and long polling with {@code wait}.
 * A held long poll is a {@link TopicWaiters.Waiter} and a timer on this event loop: no thread.
 */
public final class ChangesHandler {
  private final Engine engine;
  private final TopicWaiters waiters;
  private final PollAdvisor advisor;
  private final TidingsConfig.Pull config;
  private final Context context;
  private final Executor executor;
  private final CharSequence headMaxAge;
  private final CharSequence privateHeadMaxAge;
  private final Authenticator auth;
  private final Set<LongPoll> held = new HashSet<>();
  private final Limits limits;

  public ChangesHandler(Engine engine, TopicWaiters waiters, PollAdvisor advisor, TidingsConfig.Pull config, Context context,
      Authenticator auth, Limits limits) {
    this.limits = limits;
    this.auth = auth;
    this.engine = engine;
    this.waiters = waiters;
    this.advisor = advisor;
    this.config = config;
    this.context = context;
    this.executor = task -> context.runOnContext(v -> task.run());
    this.headMaxAge = io.vertx.core.http.HttpHeaders.createOptimized(
        "public, max-age=" + Math.max(1, Math.min(5, config.headMaxAge.toSeconds())));
    this.privateHeadMaxAge = io.vertx.core.http.HttpHeaders.createOptimized(
        "private, max-age=" + Math.max(1, Math.min(5, config.headMaxAge.toSeconds())));
  }

  /** What one request asks for, once validated. */
  private record Query(String topic, Position since, int limit, long waitMillis, boolean notifyOnly, String ifNoneMatch,
      boolean shared, Principal principal, String host) {}

  public void handle(HttpServerRequest request, Principal principal) {
    Params params = Params.of(request);
    String topic = params.topic();
    Access.requireSubscribe(principal, topic);
    Position since = params.position("since", Position.EARLIEST);
    int limit = params.integer("limit", config.changesDefaultLimit, 1, config.changesMaxLimit);
    long waitMillis = params.seconds("wait", config.maxWait.toSeconds());
    boolean notifyOnly = params.notifyMode();
    // Shared caches may keep what anyone may read; anything else is private to its requester.
    Query q = new Query(topic, since, limit, waitMillis, notifyOnly, request.getHeader(Headers.IF_NONE_MATCH),
        auth.readableByAnyone(topic), principal, HttpApi.host(request));
    HttpServerResponse response = request.response();
    Stages.onContext(engine.head(topic), context, response, ar -> {
      if (ar.failed()) {
        Responses.error(response, ar.cause());
        return;
      }
      try {
        TopicHead head = ar.result();
        if (q.since() instanceof Cursor c && c.epoch().equals(head.epoch()) && c.offset() > head.lastOffset()) {
          // A reader may have seen a commit whose head is not published yet: a snapshot decides.
          confirmAhead(response, q, c);
          return;
        }
        long after = resolve(q, head);
        if (after < head.lastOffset()) {
          read(response, q, after, head.epoch());
        } else if (waitMillis > 0) {
          hold(response, q, after, head.epoch());
        } else {
          respond(response, q, after, head.epoch(), List.of(), false);
        }
      } catch (ApiException e) {
        Responses.error(response, e);
      }
    });
  }

  /** Answers every held long poll now (with no events), as a server does before it stops. */
  public void releaseAll() {
    for (LongPoll poll : List.copyOf(held)) {
      poll.timeout();
    }
  }

  private static long resolve(Query q, TopicHead head) {
    if (q.since() == Position.EARLIEST) {
      return head.firstOffset() - 1;
    }
    if (q.since() == Position.NOW) {
      return head.lastOffset();
    }
    Cursor c = (Cursor) q.since();
    if (!c.epoch().equals(head.epoch()) || c.offset() < head.firstOffset() - 1) {
      throw expired(q.topic(), !c.epoch().equals(head.epoch())
          ? "the cursor belongs to an earlier history of this topic"
          : "the events after this cursor are no longer retained");
    }
    if (c.offset() > head.lastOffset()) {
      throw ApiException.badRequest("invalid_cursor", "the cursor is past the head of the topic");
    }
    return c.offset();
  }

  private static ApiException expired(String topic, String why) {
    // Topic characters are all legal in a query string, so the name goes in as it is.
    String stateUrl = "/v1/state?topic=" + topic;
    return new ApiException(410, "cursor_expired", why + "; fetch the state and continue from its cursor",
        Map.of("state_url", stateUrl), null);
  }

  private void confirmAhead(HttpServerResponse response, Query q, Cursor c) {
    Stages.onContext(engine.read(q.topic(), c.offset(), q.limit()), context, response, ar -> {
      if (ar.failed()) {
        Responses.error(response, ar.cause());
      } else if (ar.result().head().lastOffset() < c.offset()) {
        Responses.error(response, ApiException.badRequest("invalid_cursor", "the cursor is past the head of the topic"));
      } else if (ar.result().events().isEmpty() && q.waitMillis() > 0) {
        hold(response, q, c.offset(), c.epoch());
      } else {
        answer(response, q, c.offset(), c.epoch(), ar.result());
      }
    });
  }

  private void read(HttpServerResponse response, Query q, long after, String epoch) {
    Stages.onContext(engine.read(q.topic(), after, q.limit()), context, response, ar -> {
      if (ar.failed()) {
        Responses.error(response, ar.cause());
        return;
      }
      answer(response, q, after, epoch, ar.result());
    });
  }

  private void answer(HttpServerResponse response, Query q, long after, String epoch, ReadResult r) {
    List<Event> events = r.events();
    long from = after;
    if (q.since() == Position.EARLIEST) {
      // Retention may have moved the oldest event since we looked: "earliest" simply follows it.
      from = Math.max(after, r.head().firstOffset() - 1);
    }
    boolean gap = events.isEmpty() ? r.head().lastOffset() > from : events.get(0).offset() != from + 1;
    if (gap || !r.head().epoch().equals(epoch)) {
      Responses.error(response, expired(q.topic(), "the events after this cursor are no longer retained"));
      return;
    }
    long last = events.isEmpty() ? from : events.get(events.size() - 1).offset();
    respond(response, q, from, epoch, events, last < r.head().lastOffset());
  }

  private void respond(HttpServerResponse response, Query q, long after, String epoch, List<Event> events, boolean more) {
    respond(response, q, after, epoch, events, more, null);
  }

  private void respond(HttpServerResponse response, Query q, long after, String epoch, List<Event> events,
      boolean more, Buffer encoded) {
    if (response.ended() || response.closed()) {
      return;
    }
    Cursor cursor = new Cursor(epoch, events.isEmpty() ? after : events.get(events.size() - 1).offset());
    String tag = cursor.encode();
    response.putHeader(Headers.ETAG, EntityTags.of(tag))
        .putHeader(Headers.CACHE_CONTROL, more && q.since() instanceof Cursor
            ? (q.shared() ? Headers.IMMUTABLE : Headers.PRIVATE_IMMUTABLE)
            : (q.shared() ? headMaxAge : privateHeadMaxAge))
        .putHeader(Headers.POLL_INTERVAL, advisor.header(q.topic()));
    if (!q.shared()) {
      response.headers().add(io.vertx.core.http.HttpHeaders.VARY, Headers.VARY_AUTHORIZATION);
    }
    if (events.isEmpty() && q.ifNoneMatch() != null && EntityTags.matches(q.ifNoneMatch(), tag)) {
      response.setStatusCode(304).end();
      return;
    }
    Responses.json(response, 200, encoded != null ? encoded : body(q, cursor, events, more));
  }

  private static Buffer body(Query q, Cursor cursor, List<Event> events, boolean more) {
    return Json.encode(gen -> {
      gen.writeStartObject();
      gen.writeStringField("topic", q.topic());
      gen.writeArrayFieldStart("events");
      for (Event e : events) {
        EventJson.write(gen, e, !q.notifyOnly());
      }
      gen.writeEndArray();
      gen.writeStringField("cursor", cursor.encode());
      gen.writeBooleanField("more", more);
      gen.writeEndObject();
    });
  }

  private void hold(HttpServerResponse response, Query q, long after, String epoch) {
    if (response.ended() || response.closed()) {
      return;
    }
    Ticket ticket = limits.admit(limits.key(q.principal(), q.host()));
    if (ticket == null) {
      Responses.error(response, ApiException.unavailable("the server is at capacity; poll again later",
          Responses.retryAfterSeconds()));
      return;
    }
    LongPoll poll = new LongPoll(response, q, after, epoch, ticket);
    if (!waiters.add(q.topic(), poll)) {
      ticket.release();
      Responses.error(response, ApiException.unavailable("too many long polls are held", Responses.retryAfterSeconds()));
      return;
    }
    held.add(poll);
    poll.timer = context.owner().setTimer(q.waitMillis(), id -> poll.timeout());
    response.closeHandler(v -> poll.abandon());
    // An append that landed between our read of the head and add() has already woken its waiters.
    Stages.onContext(engine.head(q.topic()), context, response, h -> {
      if (h.failed() || h.result().lastOffset() > after) {
        poll.readNow();
      }
    });
  }

  /** Identical answers to waiters woken together are encoded once. */
  private record MemoKey(String topic, long after, int limit, boolean notifyOnly) {}

  private final class LongPoll implements TopicWaiters.Waiter {
    final HttpServerResponse response;
    final Query q;
    final long after;
    final String epoch;
    final Ticket ticket;
    long timer = -1;
    boolean done;

    LongPoll(HttpServerResponse response, Query q, long after, String epoch, Ticket ticket) {
      this.ticket = ticket;
      this.response = response;
      this.q = q;
      this.after = after;
      this.epoch = epoch;
    }

    @Override
    public Executor executor() {
      return executor;
    }

    @Override
    public void wake(TopicHead head, List<Event> events, Map<Object, Object> memo) {
      if (done) {
        return;
      }
      if (head.lastOffset() <= after && Objects.equals(head.epoch(), epoch)) {
        // News of events this poll already has (it started from a snapshot ahead of the
        // published head): keep waiting for the next ones.
        rearm();
        return;
      }
      finish(false);
      try {
        answer(head, events, memo);
      } catch (RuntimeException e) {
        Responses.error(response, e);
      }
    }

    private void answer(TopicHead head, List<Event> events, Map<Object, Object> memo) {
      if (events.isEmpty() || events.get(0).offset() != after + 1 || !Objects.equals(head.epoch(), epoch)) {
        read(response, q, after, epoch);
        return;
      }
      List<Event> page = events.size() > q.limit() ? events.subList(0, q.limit()) : events;
      boolean more = page.get(page.size() - 1).offset() < head.lastOffset();
      Cursor cursor = new Cursor(epoch, page.get(page.size() - 1).offset());
      Buffer body = (Buffer) memo.computeIfAbsent(new MemoKey(q.topic(), after, q.limit(), q.notifyOnly()),
          k -> body(q, cursor, page, more));
      respond(response, q, after, epoch, page, more, body);
    }

    private void rearm() {
      if (!waiters.add(q.topic(), this)) {
        timeout();
        return;
      }
      Stages.onContext(engine.head(q.topic()), context, response, h -> {
        if (h.failed() || h.result().lastOffset() > after) {
          readNow();
        }
      });
    }

    void readNow() {
      if (finish(true)) {
        read(response, q, after, epoch);
      }
    }

    void timeout() {
      if (finish(true)) {
        respond(response, q, after, epoch, List.of(), false);
      }
    }

    void abandon() {
      finish(true);
    }

    /** Runs on the event loop; true for the one caller that gets to answer. */
    private boolean finish(boolean removeFromWaiters) {
      if (done) {
        return false;
      }
      done = true;
      held.remove(this);
      ticket.release();
      if (timer >= 0) {
        context.owner().cancelTimer(timer);
      }
      if (removeFromWaiters) {
        waiters.remove(q.topic(), this);
      }
      return true;
    }
  }
}
