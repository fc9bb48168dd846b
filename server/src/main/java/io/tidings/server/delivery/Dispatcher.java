package io.tidings.server.delivery;

import com.fasterxml.jackson.databind.JsonNode;
import io.github.bucket4j.Bandwidth;
import io.github.bucket4j.Bucket;
import io.github.bucket4j.ConsumptionProbe;
import io.tidings.core.AppendListener;
import io.tidings.core.Cursor;
import io.tidings.core.Engine;
import io.tidings.core.Event;
import io.tidings.core.Position;
import io.tidings.core.Record;
import io.tidings.core.RecordWrite;
import io.tidings.core.Records;
import io.tidings.core.StateEntry;
import io.tidings.core.StatePage;
import io.tidings.core.TopicHead;
import io.tidings.server.http.HttpDates;
import io.tidings.server.http.Json;
import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletionStage;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Delivers topic events to {@link Target}s on the server's initiative, each target at its own pace
 * and from its own durable cursors.
 *
 * <ul>
 *   <li><b>Order.</b> A target has at most one message in flight, so its events arrive in offset
 *       order per topic; a failing target waits on its own retry schedule and never holds up others.
 *   <li><b>Durability.</b> A message is stored before its first attempt and the target's cursor
 *       moves, in the same store write that drops the message, only after it was delivered. After a
 *       crash the same message goes again under the same id: at-least-once.
 *   <li><b>Resets</b> follow the rules of every transport: a cursor from another epoch or older
 *       than retention gets a reset marker, then (for targets that want it) the topic's state as
 *       {@code put} items, then the events from where the state was read.
 *   <li><b>Threads.</b> All state lives on one Vert.x context and is touched only there; store
 *       stages and append notifications hop onto it. At most {@code maxInFlight} messages are in
 *       flight over all targets.
 * </ul>
 */
public final class Dispatcher implements AppendListener {
  private static final Logger LOG = LoggerFactory.getLogger(Dispatcher.class);
  private static final SecureRandom RANDOM = new SecureRandom();
  private static final long STORE_RETRY_MILLIS = 1_000;
  private static final int TOPIC_SCAN_PAGE = 1_000;
  private static final int MAX_MEMO_TOPICS = 100_000;

  /** Told what happens, for metrics and for the owner of the targets. */
  public interface Listener {
    /** An attempt finished (on the dispatcher's context). */
    void attempted(Target target, Batch batch, Outcome outcome);

    /** The target answered that it is gone for good; the owner disables or removes it. */
    void gone(Target target, Outcome outcome);

    /** The target kept failing past its schedule and {@code disable_after}; the owner disables or removes it. */
    void gaveUp(Target target);
  }

  /**
   * @param maxInFlight messages in flight at once over all targets
   * @param attemptLog attempts remembered per target
   */
  public record Options(int maxInFlight, int attemptLog) {}

  private final Engine engine;
  private final Records records;
  private final Context context;
  private final Timers timers;
  private final RetrySchedule schedule;
  private final Options options;
  private final Listener listener;
  private final Map<String, Lane> lanes = new HashMap<>();
  // The size of lanes, for the engine thread: with no targets, appends cost the dispatcher nothing.
  private volatile int laneCount;
  private final ArrayDeque<Lane> waiting = new ArrayDeque<>();
  // Which lanes want a topic, worked out on first use; cleared whenever the set of targets changes.
  private final Map<String, List<Lane>> byTopic = new HashMap<>();
  // Written on the context only; read by the metrics scrape.
  private volatile int inFlight;
  private Promise<Void> drained;
  private boolean closed;

  public Dispatcher(Engine engine, Context context, Timers timers, RetrySchedule schedule, Options options,
      Listener listener) {
    this.engine = engine;
    this.records = engine.records();
    this.context = context;
    this.timers = timers;
    this.schedule = schedule;
    this.options = options;
    this.listener = listener;
  }

  // ---------------------------------------------------------------------------------------------
  // Targets coming and going (any thread; the work runs on the context)

  /**
   * Starts delivering to a new target from {@code since}: {@code earliest} replays every retained
   * event; {@code now} (its cursors are stored before this completes) only what comes later; a
   * cursor applies to {@code sinceTopic}. Topics that appear later start at their beginning.
   */
  public Future<Void> create(Target target, Position since, String sinceTopic) {
    return onContext(() -> {
      Lane lane = new Lane(target);
      return position(lane, since, sinceTopic).compose(v -> {
        install(lane);
        return scan(lane);
      });
    });
  }

  /** Resumes a target known from the store (after a restart): its cursors and pending message. */
  public Future<Void> load(Target target) {
    return onContext(() -> {
      Lane lane = new Lane(target);
      return loadState(lane).compose(v -> {
        install(lane);
        return scan(lane);
      });
    });
  }

  /** Replaces a target's definition; one that comes back enabled starts its pending message afresh. */
  public Future<Void> update(Target target) {
    return onContext(() -> {
      Lane lane = lanes.get(target.id());
      if (lane == null) {
        return Future.failedFuture(new io.tidings.server.http.ApiException(404, "not_found", "no delivery target " + target.id()));
      }
      boolean revived = (lane.suspended || !lane.target.enabled()) && target.enabled();
      Target before = lane.target;
      lane.suspended = false;
      lane.target = target;
      lane.bucket = bucket(target.rateLimit());
      byTopic.clear();
      // Topics the change adds start at their head, as a new endpoint does: no flood of old events.
      Future<Void> ready = eachTopic(target, heads -> {
        List<RecordWrite> writes = new ArrayList<>();
        for (TopicHead h : heads) {
          TopicState ts = lane.topics.get(h.topic());
          if (!before.wants(h.topic()) && (ts == null || ts.cursor == null)) {
            lane.topics.computeIfAbsent(h.topic(), t -> new TopicState()).cursor = h.cursor();
            writes.add(RecordWrite.put(lane.space() + "/topics", h.topic(), topicDoc(h.cursor(), null)));
          }
        }
        return writes.isEmpty() ? Future.succeededFuture() : store(writes);
      });
      if (revived && lane.pending != null) {
        Pending fresh = lane.pending.restarted(timers.now());
        ready = ready.compose(x -> store(List.of(RecordWrite.put(lane.space(), "pending", fresh.toJson())))).map(v -> {
          lane.pending = fresh;
          return null;
        });
      }
      return ready.compose(v -> scan(lane));
    });
  }

  /** Stops delivering to a target and forgets its delivery state (cursors, pending message, attempts). */
  public Future<Void> remove(String id) {
    return onContext(() -> {
      Lane lane = lanes.remove(id);
      laneCount = lanes.size();
      if (lane == null) {
        return Future.succeededFuture();
      }
      lane.removed = true;
      lane.cancelTimers(timers);
      waiting.remove(lane);
      byTopic.clear();
      return store(List.of(RecordWrite.clear(lane.space()), RecordWrite.clear(lane.space() + "/topics"),
          RecordWrite.clear(lane.space() + "/attempts")));
    });
  }

  /**
   * Moves a target's position back (or forward): {@code earliest} for every topic, {@code now} for
   * every topic, or a cursor for {@code topic}. A message being sent finishes first; a pending
   * message is dropped.
   */
  public Future<Void> replay(String id, Position since, String topic) {
    return onContext(() -> {
      Lane lane = lanes.get(id);
      if (lane == null) {
        return Future.failedFuture(new io.tidings.server.http.ApiException(404, "not_found", "no delivery target " + id));
      }
      Promise<Void> done = Promise.promise();
      lane.whenIdle(() -> {
        lane.busy = true;
        List<RecordWrite> writes = new ArrayList<>();
        writes.add(RecordWrite.delete(lane.space(), "pending"));
        if (since != Position.NOW && !(since instanceof Cursor)) {
          writes.add(RecordWrite.clear(lane.space() + "/topics"));
        }
        store(writes).compose(v -> {
          lane.pending = null;
          lane.pendingItems = null;
          if (since != Position.NOW && !(since instanceof Cursor)) {
            lane.topics.clear();
          }
          return position(lane, since, topic);
        }).compose(v -> scan(lane)).onComplete(ar -> {
          lane.busy = false;
          done.handle(ar);
          pump(lane);
        });
      });
      pump(lane);
      return done.future();
    });
  }

  /**
   * Fails with {@code 400 invalid_cursor} when {@code cursor} is past the head of {@code topic}
   * (a cursor of another epoch is fine: it resets). Check before {@link #create} or {@link #replay}.
   */
  public Future<Void> checkCursor(String topic, Cursor cursor) {
    return onContext(() -> stage(engine.head(topic)).compose(head -> {
      if (cursor.epoch().equals(head.epoch()) && cursor.offset() > head.lastOffset()) {
        return Future.failedFuture(
            io.tidings.server.http.ApiException.badRequest("invalid_cursor", "the cursor is past the head of the topic"));
      }
      return Future.succeededFuture();
    }));
  }

  /** Where a target stands: its cursors per topic and its pending message, as JSON for the API. */
  public Future<String> status(String id) {
    return onContext(() -> {
      Lane lane = lanes.get(id);
      if (lane == null) {
        return Future.failedFuture(new io.tidings.server.http.ApiException(404, "not_found", "no delivery target " + id));
      }
      return Future.succeededFuture(Json.bytesToString(gen -> {
        gen.writeStartObject();
        gen.writeObjectFieldStart("cursors");
        List<String> names = new ArrayList<>(lane.topics.keySet());
        java.util.Collections.sort(names);
        for (String t : names) {
          TopicState ts = lane.topics.get(t);
          if (ts.cursor != null) {
            gen.writeStringField(t, ts.cursor.encode());
          }
        }
        gen.writeEndObject();
        Pending p = lane.pending;
        if (p != null) {
          gen.writeObjectFieldStart("pending");
          gen.writeStringField("message_id", p.messageId());
          gen.writeStringField("topic", p.topic());
          gen.writeNumberField("attempt", p.attempt());
          gen.writeStringField("next_attempt_at", HttpDates.iso(p.nextAt()));
          if (p.failingSince() > 0) {
            gen.writeStringField("failing_since", HttpDates.iso(p.failingSince()));
          }
          gen.writeEndObject();
        } else {
          gen.writeNullField("pending");
        }
        gen.writeEndObject();
      }));
    });
  }

  /** The attempts a target remembers, newest first, each a JSON object. */
  public Future<List<String>> attempts(String id) {
    return onContext(() -> {
      Lane lane = lanes.get(id);
      if (lane == null) {
        return Future.failedFuture(new io.tidings.server.http.ApiException(404, "not_found", "no delivery target " + id));
      }
      return stage(records.list(lane.space() + "/attempts", null, options.attemptLog() + 1)).map(list -> {
        List<String> out = new ArrayList<>(list.size());
        for (int i = list.size() - 1; i >= 0; i--) {
          out.add(list.get(i).value());
        }
        return out;
      });
    });
  }

  /** Messages in flight now. */
  public int inFlight() {
    return inFlight;
  }

  /**
   * Stops sending; completes once the messages in flight have their outcomes stored (a message cut
   * short by a later shutdown is sent again after the restart).
   */
  public Future<Void> close() {
    return onContext(() -> {
      closed = true;
      for (Lane lane : lanes.values()) {
        lane.cancelTimers(timers);
      }
      if (inFlight == 0) {
        return Future.succeededFuture();
      }
      drained = Promise.promise();
      return drained.future();
    });
  }

  // ---------------------------------------------------------------------------------------------
  // Live appends

  @Override
  public void onAppend(TopicHead head, List<Event> events) {
    if (laneCount == 0) {
      return;
    }
    String topic = head.topic();
    long last = head.lastOffset();
    context.runOnContext(v -> {
      for (Lane lane : wanting(topic)) {
        TopicState ts = lane.topics.computeIfAbsent(topic, t -> new TopicState());
        ts.seenHead = Math.max(ts.seenHead, last);
        lane.dirty.add(topic);
        pump(lane);
      }
    });
  }

  private List<Lane> wanting(String topic) {
    List<Lane> found = byTopic.get(topic);
    if (found == null) {
      found = new ArrayList<>(2);
      for (Lane lane : lanes.values()) {
        if (lane.target.wants(topic)) {
          found.add(lane);
        }
      }
      if (byTopic.size() >= MAX_MEMO_TOPICS) {
        byTopic.clear();
      }
      byTopic.put(topic, found);
    }
    return found;
  }

  // ---------------------------------------------------------------------------------------------
  // Setting up a lane

  private void install(Lane lane) {
    Lane old = lanes.put(lane.target.id(), lane);
    laneCount = lanes.size();
    if (old != null) {
      old.removed = true;
      old.cancelTimers(timers);
    }
    byTopic.clear();
  }

  /** Stores the cursors {@code since} stands for (nothing for {@code earliest}). */
  private Future<Void> position(Lane lane, Position since, String sinceTopic) {
    if (since instanceof Cursor c) {
      lane.topics.computeIfAbsent(sinceTopic, t -> new TopicState()).cursor = c;
      return store(List.of(RecordWrite.put(lane.space() + "/topics", sinceTopic, topicDoc(c, null))));
    }
    if (since != Position.NOW) {
      return Future.succeededFuture();
    }
    return eachTopic(lane.target, heads -> {
      List<RecordWrite> writes = new ArrayList<>(heads.size());
      for (TopicHead h : heads) {
        lane.topics.computeIfAbsent(h.topic(), t -> new TopicState()).cursor = h.cursor();
        writes.add(RecordWrite.put(lane.space() + "/topics", h.topic(), topicDoc(h.cursor(), null)));
      }
      return writes.isEmpty() ? Future.succeededFuture() : store(writes);
    });
  }

  private Future<Void> loadState(Lane lane) {
    return loadTopics(lane, null)
        .compose(v -> stage(records.get(lane.space(), "pending")))
        .compose(p -> {
          if (p != null) {
            lane.pending = Pending.fromJson(p);
          }
          return stage(records.list(lane.space() + "/attempts", null, options.attemptLog() + 1));
        })
        .map(attempts -> {
          if (!attempts.isEmpty()) {
            lane.attemptSeq = Long.parseLong(attempts.get(attempts.size() - 1).id());
          }
          lane.attemptIds.clear();
          for (Record r : attempts) {
            lane.attemptIds.add(r.id());
          }
          return null;
        });
  }

  private Future<Void> loadTopics(Lane lane, String after) {
    return stage(records.list(lane.space() + "/topics", after, TOPIC_SCAN_PAGE)).compose(page -> {
      for (Record r : page) {
        JsonNode doc = Json.parse(r.value());
        TopicState ts = lane.topics.computeIfAbsent(r.id(), t -> new TopicState());
        ts.cursor = doc.hasNonNull("cursor") ? Cursor.parse(doc.get("cursor").asText()) : null;
        JsonNode reset = doc.get("reset");
        if (reset != null) {
          ts.reset = new Pending.ResetPage(Cursor.parse(reset.get("at").asText()), reset.get("reason").asText(),
              false, reset.hasNonNull("after_key") ? reset.get("after_key").asText() : null, 0);
        }
      }
      return page.size() < TOPIC_SCAN_PAGE ? Future.succeededFuture() : loadTopics(lane, page.get(page.size() - 1).id());
    });
  }

  /** Finds the topics a lane wants that have something for it, and starts on them. */
  private Future<Void> scan(Lane lane) {
    return eachTopic(lane.target, heads -> {
      for (TopicHead h : heads) {
        TopicState ts = lane.topics.get(h.topic());
        boolean behind = ts == null || ts.cursor == null ? h.lastOffset() >= h.firstOffset()
            : ts.reset != null || !ts.cursor.epoch().equals(h.epoch()) || ts.cursor.offset() != h.lastOffset();
        if (behind) {
          lane.dirty.add(h.topic());
        }
      }
      return Future.succeededFuture();
    }).onSuccess(v -> {
      if (lane.pending != null) {
        lane.dirty.remove(lane.pending.topic());
      }
      pump(lane);
    });
  }

  /** Calls {@code each} with pages of the heads of every topic {@code target} wants, on the context. */
  private Future<Void> eachTopic(Target target, java.util.function.Function<List<TopicHead>, Future<Void>> each) {
    Future<Void> chain = Future.succeededFuture();
    for (String prefix : target.prefixes()) {
      chain = chain.compose(v -> eachTopic(target, prefix, null, each));
    }
    return chain;
  }

  private Future<Void> eachTopic(Target target, String prefix, String after,
      java.util.function.Function<List<TopicHead>, Future<Void>> each) {
    return stage(engine.topics(prefix, after, TOPIC_SCAN_PAGE)).compose(page -> {
      List<TopicHead> wanted = new ArrayList<>();
      for (TopicHead h : page) {
        if (target.wants(h.topic())) {
          wanted.add(h);
        }
      }
      Future<Void> done = wanted.isEmpty() ? Future.succeededFuture() : each.apply(wanted);
      return page.size() < TOPIC_SCAN_PAGE ? done
          : done.compose(v -> eachTopic(target, prefix, page.get(page.size() - 1).topic(), each));
    });
  }

  // ---------------------------------------------------------------------------------------------
  // The pump: one step at a time per lane

  private void pump(Lane lane) {
    if (closed || lane.removed || lane.busy) {
      return;
    }
    if (lane.runWhenIdle()) {
      return;
    }
    if (!lane.target.enabled() || lane.suspended) {
      return;
    }
    Pending p = lane.pending;
    if (p != null) {
      long wait = p.nextAt() - timers.now();
      if (wait > 0) {
        lane.arm(timers, context, wait, () -> pump(lane));
        return;
      }
      if (inFlight >= options.maxInFlight()) {
        if (!lane.queued) {
          lane.queued = true;
          waiting.add(lane);
        }
        return;
      }
      // After the slot check, so that a lane waiting for a slot does not spend its rate meanwhile.
      if (lane.bucket != null) {
        ConsumptionProbe probe = lane.bucket.tryConsumeAndReturnRemaining(1);
        if (!probe.isConsumed()) {
          lane.arm(timers, context, Math.max(1, probe.getNanosToWaitForRefill() / 1_000_000), () -> pump(lane));
          return;
        }
      }
      send(lane, p);
      return;
    }
    String topic = lane.nextDirty();
    if (topic == null) {
      return;
    }
    lane.busy = true;
    prepare(lane, topic).compose(draft -> adopt(lane, draft)).onComplete(ar -> {
      lane.busy = false;
      if (lane.removed) {
        return;
      }
      if (ar.failed()) {
        LOG.debug("delivery to {}: could not prepare a message for {}: {}", lane.target.id(), topic,
            ar.cause().toString());
        lane.dirty.add(topic);
        lane.arm(timers, context, STORE_RETRY_MILLIS, () -> pump(lane));
        return;
      }
      pump(lane);
    });
  }

  private void wakeWaiting() {
    while (inFlight < options.maxInFlight() && !waiting.isEmpty()) {
      Lane next = waiting.poll();
      next.queued = false;
      pump(next);
    }
  }

  /**
   * A message made but not stored yet: the pending message, its items, and (for a reset page)
   * whether the state is complete after it. Empty items: a reset whose last page came back empty.
   */
  private record Draft(Pending pending, List<Item> items, boolean stateDone) {}

  /** Makes the next message of {@code topic}, or none (nothing new, or waiting to fill up). */
  private Future<Draft> prepare(Lane lane, String topic) {
    TopicState ts = lane.topics.computeIfAbsent(topic, t -> new TopicState());
    return ts.reset != null ? statePage(lane, topic, ts.reset) : events(lane, topic, ts);
  }

  /** Stores a draft as the lane's pending message, then makes it current. */
  private Future<Void> adopt(Lane lane, Draft draft) {
    if (draft == null) {
      return Future.succeededFuture();
    }
    if (draft.items().isEmpty()) {
      // A state page that came back empty (keys deleted meanwhile): the reset is complete.
      return finishReset(lane, draft.pending());
    }
    return store(List.of(RecordWrite.put(lane.space(), "pending", draft.pending().toJson()))).map(v -> {
      lane.take(draft);
      return null;
    });
  }

  /** Reads the events after a topic's cursor into a message, or starts a reset when the cursor cannot go on. */
  private Future<Draft> events(Lane lane, String topic, TopicState ts) {
    long after = ts.cursor == null ? 0 : ts.cursor.offset();
    int max = lane.target.maxEvents();
    if (ts.lingerUntil > timers.now() && (ts.cursor == null || ts.seenHead - after < max)) {
      // Still filling up: the linger timer comes back for it (or a full message's worth of events will).
      return Future.succeededFuture(null);
    }
    return stage(engine.read(topic, after, lane.target.maxEvents())).compose(read -> {
      TopicHead head = read.head();
      if (ts.cursor != null && (!ts.cursor.epoch().equals(head.epoch()) || ts.cursor.offset() > head.lastOffset())) {
        return startReset(lane, topic, ts, "epoch");
      }
      if (ts.cursor != null && !head.retains(ts.cursor.offset())) {
        return startReset(lane, topic, ts, "retention");
      }
      List<Event> events = read.events();
      if (events.isEmpty()) {
        return Future.succeededFuture(null);
      }
      long now = timers.now();
      if (events.size() < max && lane.target.maxWaitMillis() > 0 && ts.lingerUntil == 0) {
        // Let the message fill up for max_wait_ms from its first event; other topics go on meanwhile.
        ts.lingerUntil = now + lane.target.maxWaitMillis();
        timers.schedule(lane.target.maxWaitMillis(), () -> context.runOnContext(v -> {
          lane.dirty.add(topic);
          pump(lane);
        }));
        return Future.succeededFuture(null);
      }
      if (events.size() < max && now < ts.lingerUntil) {
        return Future.succeededFuture(null);
      }
      ts.lingerUntil = 0;
      List<Item> items = new ArrayList<>(events.size());
      long bytes = 0;
      for (Event e : events) {
        Item item = new Item.Change(e);
        bytes += item.weight();
        if (!items.isEmpty() && bytes > lane.target.maxBytes()) {
          break;
        }
        items.add(item);
      }
      Cursor from = ts.cursor != null ? ts.cursor : new Cursor(head.epoch(), events.get(0).offset() - 1);
      Pending p = new Pending(newMessageId(), topic, from, items.get(items.size() - 1).cursor().offset(), null, 1,
          timers.now(), 0, false);
      if (head.lastOffset() > p.through()) {
        lane.dirty.add(topic);
      }
      return Future.succeededFuture(new Draft(p, items, true));
    });
  }

  private Future<Draft> startReset(Lane lane, String topic, TopicState ts, String reason) {
    return stage(engine.head(topic)).compose(head -> {
      Pending.ResetPage page = new Pending.ResetPage(head.cursor(), reason, true, null,
          lane.target.sendsState() ? Math.max(1, lane.target.maxEvents() - 1) : 0);
      return statePage(lane, topic, page);
    });
  }

  /** Reads one page of a reset (marker and state entries) as a message. */
  private Future<Draft> statePage(Lane lane, String topic, Pending.ResetPage page) {
    TopicState ts = lane.topics.computeIfAbsent(topic, t -> new TopicState());
    int limit = page.limit() > 0 ? page.limit() : lane.target.maxEvents();
    Future<StatePage> read = lane.target.sendsState()
        ? stage(engine.state(topic, page.afterKey(), limit))
        : Future.succeededFuture(null);
    return read.compose(state -> {
      StateSlice slice = resetItems(lane.target, topic, page, state);
      Pending.ResetPage fixed = new Pending.ResetPage(page.at(), page.reason(), page.first(), page.afterKey(), limit);
      Pending p = new Pending(newMessageId(), topic, ts.cursor, -1, fixed, 1, timers.now(), 0, false);
      return Future.succeededFuture(new Draft(p, slice.items(), slice.done()));
    });
  }

  /**
   * The items of a reset page: the marker on the first, then state entries up to the target's
   * size budget. {@code done} says whether the state is complete after them.
   */
  private record StateSlice(List<Item> items, boolean done) {}

  private static StateSlice resetItems(Target target, String topic, Pending.ResetPage page, StatePage state) {
    List<Item> items = new ArrayList<>();
    long bytes = 0;
    if (page.first()) {
      boolean stateFollows = state != null && !(state.entries().isEmpty() && state.nextKey() == null);
      Item marker = new Item.Reset(topic, page.at(), page.reason(), stateFollows);
      items.add(marker);
      bytes += marker.weight();
    }
    if (state == null) {
      return new StateSlice(items, true);
    }
    int taken = 0;
    for (StateEntry e : state.entries()) {
      Item put = new Item.Put(topic, e, page.at());
      bytes += put.weight();
      if (!items.isEmpty() && bytes > target.maxBytes()) {
        break;
      }
      items.add(put);
      taken++;
    }
    return new StateSlice(items, state.nextKey() == null && taken == state.entries().size());
  }

  private Future<Void> finishReset(Lane lane, Pending p) {
    TopicState ts = lane.topics.computeIfAbsent(p.topic(), t -> new TopicState());
    ts.cursor = p.reset().at();
    ts.reset = null;
    lane.dirty.add(p.topic());
    return store(List.of(RecordWrite.put(lane.space() + "/topics", p.topic(), topicDoc(ts.cursor, null)),
        RecordWrite.delete(lane.space(), "pending")));
  }

  // ---------------------------------------------------------------------------------------------
  // Sending

  private void send(Lane lane, Pending p) {
    lane.busy = true;
    inFlight++;
    Future<List<Item>> items = lane.pendingItems != null ? Future.succeededFuture(lane.pendingItems) : rebuild(lane, p);
    items.compose(list -> {
      if (list == null) {
        return Future.succeededFuture((Outcome) null);
      }
      lane.pendingItems = list;
      Batch batch = new Batch(p.messageId(), p.topic(), list, p.attempt(), p.notifyOnly());
      return lane.target.send(batch).map(outcome -> {
        listener.attempted(lane.target, batch, outcome);
        return outcome;
      });
    }).onComplete(ar -> onContext(() -> {
      inFlight--;
      wakeWaiting();
      Future<Void> settled = afterSend(lane, p, ar);
      if (drained != null && inFlight == 0) {
        Promise<Void> done = drained;
        settled.onComplete(x -> done.tryComplete());
      }
      return settled;
    }));
  }

  private Future<Void> afterSend(Lane lane, Pending p, io.vertx.core.AsyncResult<Outcome> ar) {
    if (lane.removed) {
      return Future.succeededFuture();
    }
    if (ar.failed() || ar.result() == null) {
      // The pending message could not be rebuilt from the store, or it was obsolete: drop it and read again.
      Future<Void> dropped = ar.succeeded() ? dropPending(lane, p) : Future.succeededFuture();
      return dropped.onComplete(x -> {
        lane.busy = false;
        if (ar.failed()) {
          lane.arm(timers, context, STORE_RETRY_MILLIS, () -> pump(lane));
        } else {
          pump(lane);
        }
      });
    }
    return settle(lane, p, ar.result());
  }

  /** After a restart the pending message is known by its bounds only: read its items again. */
  private Future<List<Item>> rebuild(Lane lane, Pending p) {
    if (p.reset() != null) {
      Future<StatePage> read = lane.target.sendsState()
          ? stage(engine.state(p.topic(), p.reset().afterKey(), p.reset().limit()))
          : Future.succeededFuture(null);
      return read.map(state -> {
        StateSlice slice = resetItems(lane.target, p.topic(), p.reset(), state);
        lane.stateDone = slice.done();
        return slice.items().isEmpty() ? null : slice.items();
      });
    }
    long count = p.through() - p.from().offset();
    return stage(engine.read(p.topic(), p.from().offset(), (int) Math.max(1, count))).map(read -> {
      List<Event> events = read.events();
      boolean intact = read.head().epoch().equals(p.from().epoch()) && events.size() == count
          && events.get(0).offset() == p.from().offset() + 1;
      if (!intact) {
        return null;
      }
      List<Item> items = new ArrayList<>(events.size());
      for (Event e : events) {
        items.add(new Item.Change(e));
      }
      return items;
    });
  }

  private Future<Void> dropPending(Lane lane, Pending p) {
    lane.pending = null;
    lane.pendingItems = null;
    lane.dirty.add(p.topic());
    return store(List.of(RecordWrite.delete(lane.space(), "pending")));
  }

  /** Stores what an attempt came to, and moves on. */
  private Future<Void> settle(Lane lane, Pending p, Outcome outcome) {
    long now = timers.now();
    List<RecordWrite> writes = new ArrayList<>(4);
    recordAttempt(lane, p, outcome, now, writes);
    Pending next = null;
    boolean gone = false;
    boolean gaveUp = false;
    TopicState ts = lane.topics.computeIfAbsent(p.topic(), t -> new TopicState());
    Cursor cursor = ts.cursor;
    Pending.ResetPage reset = ts.reset;
    switch (outcome.kind()) {
      case DELIVERED -> {
        if (p.reset() == null) {
          cursor = lane.pendingItems.get(lane.pendingItems.size() - 1).cursor();
          reset = null;
        } else {
          if (lane.stateDone) {
            cursor = p.reset().at();
            reset = null;
          } else {
            reset = new Pending.ResetPage(p.reset().at(), p.reset().reason(), false,
                lastKey(lane.pendingItems, p.reset().afterKey()), 0);
          }
        }
        writes.add(RecordWrite.put(lane.space() + "/topics", p.topic(), topicDoc(cursor, reset)));
        writes.add(RecordWrite.delete(lane.space(), "pending"));
      }
      case NOTIFY_ONLY -> next = p.withoutData(now);
      case GONE -> {
        gone = true;
        next = p.retried(now, p.failingSince() == 0 ? now : p.failingSince());
      }
      case RETRY -> {
        long failingSince = p.failingSince() == 0 ? now : p.failingSince();
        if (schedule.givesUp(p.attempt(), failingSince, now)) {
          gaveUp = true;
          next = p.retried(now, failingSince);
        } else {
          next = p.retried(now + schedule.delayBefore(p.attempt() + 1, outcome.retryAfterMillis()), failingSince);
        }
      }
      default -> throw new IllegalStateException(outcome.kind().toString());
    }
    if (outcome.kind() == Outcome.Kind.DELIVERED) {
      return delivered(lane, ts, cursor, reset, writes);
    }
    writes.add(RecordWrite.put(lane.space(), "pending", next.toJson()));
    Pending after = next;
    boolean isGone = gone;
    boolean isGaveUp = gaveUp;
    return store(writes).transform(ar -> {
      lane.busy = false;
      if (ar.failed()) {
        // The outcome is not stored: keep the message and send it again (at-least-once).
        LOG.warn("delivery to {}: could not store an attempt's outcome: {}", lane.target.id(), ar.cause().toString());
        lane.arm(timers, context, STORE_RETRY_MILLIS, () -> pump(lane));
        return Future.succeededFuture();
      }
      lane.pending = after;
      if (isGone || isGaveUp) {
        // Nothing more goes out until the owner has decided (disable, remove) and says so with update().
        lane.suspended = true;
        if (isGone) {
          listener.gone(lane.target, outcome);
        } else {
          listener.gaveUp(lane.target);
        }
      }
      pump(lane);
      return Future.succeededFuture();
    });
  }

  /**
   * Moves the cursor past a delivered message and, in the same store write, keeps the lane's next
   * message: one commit per message rather than two, and still a stable id for each.
   */
  private Future<Void> delivered(Lane lane, TopicState ts, Cursor cursor, Pending.ResetPage reset,
      List<RecordWrite> writes) {
    String topic = lane.pending.topic();
    Cursor oldCursor = ts.cursor;
    Pending.ResetPage oldReset = ts.reset;
    // The next message is read from the new position; put back if the write fails.
    ts.cursor = cursor;
    ts.reset = reset;
    lane.dirty.add(topic);
    String nextTopic = closed || lane.removed || !lane.target.enabled() ? null : lane.nextDirty();
    Future<Draft> next = nextTopic == null ? Future.succeededFuture() : prepare(lane, nextTopic).recover(t -> {
      lane.dirty.add(nextTopic);
      return Future.succeededFuture();
    });
    return next.compose(draft -> {
      // An empty reset page is finished by the pump, with its own write.
      Draft kept = draft != null && !draft.items().isEmpty() ? draft : null;
      if (draft != null && kept == null) {
        lane.dirty.add(nextTopic);
      }
      if (kept != null) {
        writes.add(RecordWrite.put(lane.space(), "pending", kept.pending().toJson()));
      }
      return store(writes).transform(ar -> {
        lane.busy = false;
        if (ar.failed()) {
          // Neither the cursor nor the next message is stored: send this message again (at-least-once).
          LOG.warn("delivery to {}: could not store a delivery: {}", lane.target.id(), ar.cause().toString());
          ts.cursor = oldCursor;
          ts.reset = oldReset;
          if (kept != null) {
            lane.dirty.add(kept.pending().topic());
          }
          lane.arm(timers, context, STORE_RETRY_MILLIS, () -> pump(lane));
          return Future.succeededFuture();
        }
        if (kept != null) {
          lane.take(kept);
        } else {
          lane.pending = null;
          lane.pendingItems = null;
        }
        pump(lane);
        return Future.succeededFuture();
      });
    });
  }

  private static String lastKey(List<Item> items, String otherwise) {
    for (int i = items.size() - 1; i >= 0; i--) {
      if (items.get(i) instanceof Item.Put put) {
        return put.entry().key();
      }
    }
    return otherwise;
  }

  private void recordAttempt(Lane lane, Pending p, Outcome o, long now, List<RecordWrite> writes) {
    long seq = ++lane.attemptSeq;
    String id = padded(seq);
    List<Item> items = lane.pendingItems;
    String doc = Json.bytesToString(gen -> {
      gen.writeStartObject();
      gen.writeNumberField("seq", seq);
      gen.writeStringField("message_id", p.messageId());
      gen.writeStringField("topic", p.topic());
      gen.writeNumberField("attempt", p.attempt());
      gen.writeStringField("time", HttpDates.iso(now));
      gen.writeStringField("result", switch (o.kind()) {
        case DELIVERED -> "delivered";
        case RETRY -> "failed";
        case GONE -> "gone";
        case NOTIFY_ONLY -> "too_large";
      });
      if (o.status() > 0) {
        gen.writeNumberField("status", o.status());
      } else {
        gen.writeNullField("status");
      }
      gen.writeNumberField("latency_ms", Math.round(o.latencyNanos() / 1e5) / 10.0);
      gen.writeNumberField("events", items.size());
      gen.writeStringField("first_cursor", items.get(0).cursor().encode());
      gen.writeStringField("last_cursor", items.get(items.size() - 1).cursor().encode());
      if (o.detail() != null) {
        gen.writeStringField(o.status() > 0 ? "response" : "error", o.detail());
      }
      gen.writeEndObject();
    });
    writes.add(RecordWrite.put(lane.space() + "/attempts", id, doc));
    lane.attemptIds.add(id);
    while (lane.attemptIds.size() > options.attemptLog()) {
      writes.add(RecordWrite.delete(lane.space() + "/attempts", lane.attemptIds.poll()));
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Helpers

  private static String topicDoc(Cursor cursor, Pending.ResetPage reset) {
    return Json.bytesToString(gen -> {
      gen.writeStartObject();
      if (cursor != null) {
        gen.writeStringField("cursor", cursor.encode());
      }
      if (reset != null) {
        gen.writeObjectFieldStart("reset");
        gen.writeStringField("at", reset.at().encode());
        gen.writeStringField("reason", reset.reason());
        if (reset.afterKey() != null) {
          gen.writeStringField("after_key", reset.afterKey());
        }
        gen.writeEndObject();
      }
      gen.writeEndObject();
    });
  }

  /** Sixteen digits, zero-padded, so that ids sort as numbers (String.format costs a microsecond here). */
  static String padded(long seq) {
    String digits = Long.toString(seq);
    return "0".repeat(Math.max(0, 16 - digits.length())) + digits;
  }

  private static String newMessageId() {
    byte[] b = new byte[16];
    RANDOM.nextBytes(b);
    return "msg_" + Base64.getUrlEncoder().withoutPadding().encodeToString(b);
  }

  private static Bucket bucket(double perSecond) {
    if (perSecond <= 0) {
      return null;
    }
    long capacity = Math.max(1, (long) Math.ceil(perSecond));
    return Bucket.builder()
        .addLimit(Bandwidth.builder().capacity(capacity)
            .refillGreedy(capacity, Duration.ofNanos((long) (capacity * 1e9 / perSecond))).build())
        .build();
  }

  private Future<Void> store(List<RecordWrite> writes) {
    return stage(records.write(writes));
  }

  /** A store stage as a future completed on the dispatcher's context. */
  private <T> Future<T> stage(CompletionStage<T> stage) {
    return Hop.stage(context, stage);
  }

  private <T> Future<T> onContext(Supplier<Future<T>> work) {
    return Hop.run(context, work);
  }

  /** What the dispatcher knows of one topic of one target. */
  private static final class TopicState {
    /** Where the target stands; {@code null} before anything was delivered (start at the beginning). */
    Cursor cursor;
    /** The reset under way, or {@code null}. */
    Pending.ResetPage reset;
    /** Until when a message waits to fill up ({@code batch.max_wait_ms}), or 0. */
    long lingerUntil;
    /** The highest offset appends have announced. */
    long seenHead;
  }

  /** One target's delivery state. Touched on the context only. */
  private static final class Lane {
    Target target;
    Bucket bucket;
    final Map<String, TopicState> topics = new HashMap<>();
    // Topics with events to deliver, oldest first: served round robin.
    final LinkedHashSet<String> dirty = new LinkedHashSet<>();
    final ArrayDeque<String> attemptIds = new ArrayDeque<>();
    final ArrayDeque<Runnable> idleTasks = new ArrayDeque<>();
    Pending pending;
    List<Item> pendingItems;
    // Whether the state is complete once the pending reset page is delivered.
    boolean stateDone;
    long attemptSeq;
    boolean busy;
    boolean queued;
    boolean removed;
    // Given up or gone: waiting for the owner's update().
    boolean suspended;
    long timer = -1;

    Lane(Target target) {
      this.target = target;
      this.bucket = bucket(target.rateLimit());
    }

    String space() {
      return target.space();
    }

    String nextDirty() {
      var it = dirty.iterator();
      if (!it.hasNext()) {
        return null;
      }
      String t = it.next();
      it.remove();
      return t;
    }

    void take(Draft draft) {
      pending = draft.pending();
      pendingItems = draft.items();
      stateDone = draft.stateDone();
    }

    void whenIdle(Runnable task) {
      idleTasks.add(task);
    }

    /** Runs one task that waited for the lane to be idle; true when it did. */
    boolean runWhenIdle() {
      Runnable task = idleTasks.poll();
      if (task == null) {
        return false;
      }
      task.run();
      return true;
    }

    void arm(Timers timers, Context context, long delay, Runnable task) {
      if (timer != -1) {
        timers.cancel(timer);
      }
      timer = timers.schedule(delay, () -> context.runOnContext(v -> {
        timer = -1;
        task.run();
      }));
    }

    void cancelTimers(Timers timers) {
      if (timer != -1) {
        timers.cancel(timer);
        timer = -1;
      }
    }
  }
}
