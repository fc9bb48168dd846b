package io.tidings.server.pull;

import io.tidings.core.Cursor;
import io.tidings.core.Engine;
import io.tidings.core.Event;
import io.tidings.core.Position;
import io.tidings.core.ReadResult;
import io.tidings.core.TopicHead;
import io.tidings.core.hub.TopicWaiters;
import io.tidings.server.auth.Principal;
import io.tidings.server.http.ApiException;
import io.tidings.server.http.Responses;
import io.tidings.server.http.Stages;
import io.tidings.server.limits.Limits;
import io.tidings.server.limits.Ticket;
import io.vertx.core.AsyncResult;
import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Handler;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.Executor;
import java.util.function.Function;

/**
 * Events after a cursor, by the rules of {@code GET /v1/changes} but without HTTP, for every pull
 * transport (the REST route, gRPC {@code Changes}, GraphQL {@code changes}): the cursor is checked
 * against the topic's head ({@code 410 cursor_expired} when its history is gone, {@code 400
 * invalid_cursor} when it is past the head), a page is read, and with a wait and nothing new the
 * read is held until an append or the wait ends. A held read is a {@link TopicWaiters.Waiter} and a
 * timer on this reader's event loop: no thread. One reader per event loop; use it only there.
 */
public final class ChangeReader {
  private final Engine engine;
  private final TopicWaiters waiters;
  private final Context context;
  private final Executor executor;
  private final Limits limits;
  private final Set<Hold> held = new HashSet<>();

  /**
   * What to read.
   *
   * @param since where to start: a cursor, {@link Position#EARLIEST} or {@link Position#NOW}
   * @param limit the most events to return
   * @param waitMillis with nothing after {@code since}, how long to wait for an event (0: answer at once)
   * @param notifyOnly whether the caller sends the events without their data (only passed on to
   *     {@link Page#shared}, whose encodings depend on it)
   * @param principal who asks (its grants are the caller's business; a held read takes one of its
   *     connection tickets)
   * @param host the client's address, for the limits
   */
  public record Query(String topic, Position since, int limit, long waitMillis, boolean notifyOnly, Principal principal,
      String host) {}

  /**
   * One answer.
   *
   * @param events in offset order, at most the query's limit
   * @param cursor after the last event, or where the query started when there are none
   * @param more whether further events were already there
   */
  public record Page(String topic, List<Event> events, Cursor cursor, boolean more, Map<Object, Object> memo) {
    /**
     * {@code encode(this)}, computed once for all the reads woken by the same append that got this
     * same page, so that a thousand long polls on one topic encode their answer once.
     */
    @SuppressWarnings("unchecked")
    public <T> T shared(Object kind, boolean notifyOnly, Function<Page, T> encode) {
      if (memo == null) {
        return encode.apply(this);
      }
      long after = events.isEmpty() ? cursor.offset() : events.get(0).offset() - 1;
      return (T) memo.computeIfAbsent(new MemoKey(kind, topic, after, events.size(), notifyOnly), k -> encode.apply(this));
    }
  }

  /** A read in progress; cancel it when its client goes away. */
  public interface Pending {
    /** Stops the read: its handler is not called any more. Idempotent. */
    void cancel();
  }

  private record MemoKey(Object kind, String topic, long after, int count, boolean notifyOnly) {}

  public ChangeReader(Engine engine, TopicWaiters waiters, Context context, Limits limits) {
    this.engine = engine;
    this.waiters = waiters;
    this.context = context;
    this.limits = limits;
    this.executor = task -> context.runOnContext(v -> task.run());
  }

  /**
   * Reads per {@code q}. {@code then} runs once on this reader's event loop, unless cancelled,
   * with the page or an {@link ApiException} ({@code 400 invalid_cursor}, {@code 410
   * cursor_expired}, {@code 503 unavailable} when the store fails or too many reads are held).
   */
  public Pending read(Query q, Handler<AsyncResult<Page>> then) {
    Read read = new Read(q, then);
    onContext(engine.head(q.topic()), read, ar -> {
      TopicHead head = ar;
      if (q.since() instanceof Cursor c && c.epoch().equals(head.epoch()) && c.offset() > head.lastOffset()) {
        // A reader may have seen a commit whose head is not published yet: a snapshot decides.
        confirmAhead(read, c);
        return;
      }
      long after = resolve(q.topic(), q.since(), head);
      if (after < head.lastOffset()) {
        fetch(read, after, head.epoch());
      } else if (q.waitMillis() > 0) {
        hold(read, after, head.epoch());
      } else {
        read.succeed(new Page(q.topic(), List.of(), new Cursor(head.epoch(), after), false, null));
      }
    });
    return read;
  }

  /** Answers every held read now (with no events), as a server does before it stops. */
  public void releaseAll() {
    for (Hold hold : List.copyOf(held)) {
      hold.timeout();
    }
  }

  /**
   * The offset a read from {@code since} starts after, given the topic's {@code head}; throws
   * {@code 410 cursor_expired} for a cursor of another history or behind retention, and {@code 400
   * invalid_cursor} for one past the head.
   */
  public static long resolve(String topic, Position since, TopicHead head) {
    if (since == Position.EARLIEST) {
      return head.firstOffset() - 1;
    }
    if (since == Position.NOW) {
      return head.lastOffset();
    }
    Cursor c = (Cursor) since;
    if (!c.epoch().equals(head.epoch()) || c.offset() < head.firstOffset() - 1) {
      throw expired(topic, !c.epoch().equals(head.epoch())
          ? "the cursor belongs to an earlier history of this topic"
          : "the events after this cursor are no longer retained");
    }
    if (c.offset() > head.lastOffset()) {
      throw pastHead();
    }
    return c.offset();
  }

  /** {@code 410 cursor_expired}, with the {@code state_url} to start over from. */
  public static ApiException expired(String topic, String why) {
    // Topic characters are all legal in a query string, so the name goes in as it is.
    String stateUrl = "/v1/state?topic=" + topic;
    return new ApiException(410, "cursor_expired", why + "; fetch the state and continue from its cursor",
        Map.of("state_url", stateUrl), null);
  }

  private static ApiException pastHead() {
    return ApiException.badRequest("invalid_cursor", "the cursor is past the head of the topic");
  }

  private void confirmAhead(Read read, Cursor c) {
    Query q = read.q;
    onContext(engine.read(q.topic(), c.offset(), q.limit()), read, r -> {
      if (r.head().lastOffset() < c.offset()) {
        read.fail(pastHead());
      } else if (r.events().isEmpty() && q.waitMillis() > 0) {
        hold(read, c.offset(), c.epoch());
      } else {
        answer(read, c.offset(), c.epoch(), r, null);
      }
    });
  }

  private void fetch(Read read, long after, String epoch) {
    onContext(engine.read(read.q.topic(), after, read.q.limit()), read, r -> answer(read, after, epoch, r, null));
  }

  private void answer(Read read, long after, String epoch, ReadResult r, Map<Object, Object> memo) {
    Query q = read.q;
    List<Event> events = r.events();
    long from = after;
    if (q.since() == Position.EARLIEST) {
      // Retention may have moved the oldest event since we looked: "earliest" simply follows it.
      from = Math.max(after, r.head().firstOffset() - 1);
    }
    boolean gap = events.isEmpty() ? r.head().lastOffset() > from : events.get(0).offset() != from + 1;
    if (gap || !r.head().epoch().equals(epoch)) {
      read.fail(expired(q.topic(), "the events after this cursor are no longer retained"));
      return;
    }
    long last = events.isEmpty() ? from : events.get(events.size() - 1).offset();
    read.succeed(new Page(q.topic(), events, new Cursor(epoch, last), last < r.head().lastOffset(), memo));
  }

  private void hold(Read read, long after, String epoch) {
    if (read.done) {
      return;
    }
    Query q = read.q;
    Ticket ticket = limits.admit(limits.key(q.principal(), q.host()));
    if (ticket == null) {
      read.fail(ApiException.unavailable("the server is at capacity; poll again later", Responses.retryAfterSeconds()));
      return;
    }
    Hold hold = new Hold(read, after, epoch, ticket);
    if (!waiters.add(q.topic(), hold)) {
      ticket.release();
      read.fail(ApiException.unavailable("too many long polls are held", Responses.retryAfterSeconds()));
      return;
    }
    held.add(hold);
    read.hold = hold;
    hold.timer = context.owner().setTimer(q.waitMillis(), id -> hold.timeout());
    // An append that landed between our read of the head and add() has already woken its waiters.
    hold.checkHead();
  }

  /**
   * Runs {@code then} on this loop with the stage's value; a failure, or anything {@code then}
   * throws, fails the read.
   */
  private <T> void onContext(CompletionStage<T> stage, Read read, java.util.function.Consumer<T> then) {
    Handler<AsyncResult<T>> guarded = ar -> {
      if (read.done) {
        return;
      }
      if (ar.failed()) {
        read.fail(ar.cause());
        return;
      }
      try {
        then.accept(ar.result());
      } catch (RuntimeException e) {
        read.fail(e);
      }
    };
    Stages.onContext(stage, context, guarded);
  }

  /** One call of {@link #read}: answered once, or cancelled. */
  private final class Read implements Pending {
    final Query q;
    final Handler<AsyncResult<Page>> then;
    boolean done;
    Hold hold;

    Read(Query q, Handler<AsyncResult<Page>> then) {
      this.q = q;
      this.then = then;
    }

    void succeed(Page page) {
      if (!done) {
        done = true;
        then.handle(Future.succeededFuture(page));
      }
    }

    void fail(Throwable cause) {
      if (!done) {
        done = true;
        then.handle(Future.failedFuture(cause));
      }
    }

    @Override
    public void cancel() {
      done = true;
      if (hold != null) {
        hold.finish(true);
      }
    }
  }

  /** A read waiting for the topic's next append. */
  private final class Hold implements TopicWaiters.Waiter {
    final Read read;
    final long after;
    final String epoch;
    final Ticket ticket;
    long timer = -1;
    boolean finished;

    Hold(Read read, long after, String epoch, Ticket ticket) {
      this.read = read;
      this.after = after;
      this.epoch = epoch;
      this.ticket = ticket;
    }

    @Override
    public Executor executor() {
      return executor;
    }

    @Override
    public void wake(TopicHead head, List<Event> events, Map<Object, Object> memo) {
      if (finished) {
        return;
      }
      if (head.lastOffset() <= after && Objects.equals(head.epoch(), epoch)) {
        // News of events this read already has (it started from a snapshot ahead of the
        // published head): keep waiting for the next ones.
        rearm();
        return;
      }
      finish(false);
      if (events.isEmpty() || events.get(0).offset() != after + 1 || !Objects.equals(head.epoch(), epoch)) {
        fetch(read, after, epoch);
        return;
      }
      int limit = read.q.limit();
      List<Event> page = events.size() > limit ? events.subList(0, limit) : events;
      long last = page.get(page.size() - 1).offset();
      read.succeed(new Page(read.q.topic(), page, new Cursor(epoch, last), last < head.lastOffset(), memo));
    }

    private void rearm() {
      if (!waiters.add(read.q.topic(), this)) {
        timeout();
        return;
      }
      checkHead();
    }

    void checkHead() {
      engine.head(read.q.topic()).whenComplete((h, e) -> executor.execute(() -> {
        if (e != null || h.lastOffset() > after) {
          if (finish(true)) {
            fetch(read, after, epoch);
          }
        }
      }));
    }

    void timeout() {
      if (finish(true)) {
        read.succeed(new Page(read.q.topic(), List.of(), new Cursor(epoch, after), false, null));
      }
    }

    /** Runs on the event loop; true for the one caller that gets to answer. */
    boolean finish(boolean removeFromWaiters) {
      if (finished) {
        return false;
      }
      finished = true;
      held.remove(this);
      ticket.release();
      if (timer >= 0) {
        context.owner().cancelTimer(timer);
      }
      if (removeFromWaiters) {
        waiters.remove(read.q.topic(), this);
      }
      return true;
    }
  }
}
