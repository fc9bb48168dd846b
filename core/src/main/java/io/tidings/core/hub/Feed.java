package io.tidings.core.hub;

import io.tidings.core.Cursor;
import io.tidings.core.EngineUnavailableException;
import io.tidings.core.Event;
import io.tidings.core.Position;
import io.tidings.core.ReadResult;
import io.tidings.core.StateEntry;
import io.tidings.core.StatePage;
import io.tidings.core.TopicHead;
import java.util.List;

/**
 * One subscription to one topic, delivering to a {@link Sink} on its event loop: it replays history
 * from its start position, then follows live appends, with no gap and no duplicate.
 *
 * <p>The handover is race-free because the feed is attached to live delivery <em>before</em> it
 * reads anything: while it catches up it ignores live batches but remembers the highest offset they
 * carried, and it only turns live once a read has reached both the head it saw and that offset.
 * From then on each live batch is checked against the feed's position: already-delivered events are
 * skipped, and a batch that would leave a gap sends the feed back to the store to fill it.
 */
public final class Feed {
  private enum Phase { RESOLVING, CATCHING_UP, RESETTING, LIVE, CLOSED }

  /** Catch-up hands the sink at most about this much at once before checking it can take more. */
  private static final int SLICE_BYTES = 32 * 1024;

  private final HubLoop loop;
  private final String topic;
  private final boolean notifyOnly;
  private final Sink sink;
  private Phase phase = Phase.RESOLVING;
  private String epoch;
  private long position;
  /** What a client should resume from while it differs from (epoch, position): before a reset completes. */
  private Cursor heldCursor;
  private long liveSeen;
  private boolean reading;
  private boolean attached;
  private int failures;

  Feed(HubLoop loop, String topic, boolean notifyOnly, Sink sink) {
    this.loop = loop;
    this.topic = topic;
    this.notifyOnly = notifyOnly;
    this.sink = sink;
  }

  public String topic() {
    return topic;
  }

  /** Whether the subscriber asked for events without data. */
  public boolean notifyOnly() {
    return notifyOnly;
  }

  /** Whether the feed follows live appends (its catch-up is done). */
  public boolean live() {
    return phase == Phase.LIVE;
  }

  /**
   * Where a client of this feed resumes from: after the last event delivered, or, until a reset's
   * state has been fully delivered, the cursor from before the reset. {@code null} only while the
   * start position {@code earliest} or {@code now} is being resolved.
   */
  public Cursor cursor() {
    if (heldCursor != null) {
      return heldCursor;
    }
    return epoch == null ? null : new Cursor(epoch, position);
  }

  /** Stops delivery. Harmless to call twice. */
  public void close() {
    if (phase == Phase.CLOSED) {
      return;
    }
    phase = Phase.CLOSED;
    if (attached) {
      loop.detach(this);
    }
  }

  public boolean closed() {
    return phase == Phase.CLOSED;
  }

  /** Starts delivery from {@code since}; call once, on the feed's loop. */
  public void start(Position since) {
    if (phase != Phase.RESOLVING || attached) {
      throw new IllegalStateException("a feed starts once");
    }
    attached = true;
    if (since instanceof Cursor c) {
      heldCursor = c;
    }
    loop.attach(this);
    loop.onLoop(loop.hub().engine().head(topic), (head, error) -> {
      if (phase == Phase.CLOSED) {
        return;
      }
      if (error != null) {
        fail(error);
        return;
      }
      resolve(since, head);
    });
  }

  private void resolve(Position since, TopicHead head) {
    if (since == Position.EARLIEST || since == Position.NOW) {
      epoch = head.epoch();
      position = since == Position.NOW ? head.lastOffset() : head.firstOffset() - 1;
      sink.subscribed(this, cursor());
      catchUp();
      return;
    }
    Cursor c = (Cursor) since;
    if (!c.epoch().equals(head.epoch())) {
      sink.subscribed(this, c);
      reset(c, "epoch");
    } else if (c.offset() < head.firstOffset() - 1) {
      sink.subscribed(this, c);
      reset(c, "retention");
    } else if (c.offset() > head.lastOffset()) {
      confirmAhead(c);
    } else {
      follow(c);
    }
  }

  private void follow(Cursor c) {
    heldCursor = null;
    epoch = c.epoch();
    position = c.offset();
    sink.subscribed(this, c);
    catchUp();
  }

  // A reader may see a commit before its head is published: a snapshot read decides.
  private void confirmAhead(Cursor c) {
    loop.onLoop(loop.hub().engine().read(topic, c.offset(), 1), (r, error) -> {
      if (phase == Phase.CLOSED) {
        return;
      }
      if (error != null) {
        fail(error);
      } else if (!r.head().epoch().equals(c.epoch()) || r.head().lastOffset() < c.offset()) {
        phase = Phase.CLOSED;
        loop.detach(this);
        sink.failed(this, "invalid_cursor", "the cursor is past the head of topic " + topic);
      } else {
        follow(c);
      }
    });
  }

  private void fail(Throwable error) {
    phase = Phase.CLOSED;
    loop.detach(this);
    boolean unavailable = error instanceof EngineUnavailableException;
    sink.failed(this, unavailable ? "unavailable" : "internal",
        unavailable ? "the store is unavailable; retry later" : "the subscription could not start");
  }

  /** A live batch for this topic arrived on the loop; true when (some of) it went to the sink. */
  boolean live(EventBatch batch) {
    if (phase != Phase.LIVE) {
      if (phase != Phase.CLOSED) {
        liveSeen = Math.max(liveSeen, batch.lastOffset());
      }
      return false;
    }
    if (!batch.epoch().equals(epoch)) {
      // The store's history was replaced under us: the catch-up read sees the new epoch and resets.
      liveSeen = Math.max(liveSeen, batch.lastOffset());
      catchUp();
      return false;
    }
    if (batch.lastOffset() <= position) {
      return false;
    }
    if (batch.firstOffset() > position + 1) {
      liveSeen = Math.max(liveSeen, batch.lastOffset());
      catchUp();
      return false;
    }
    deliver(batch, (int) (position + 1 - batch.firstOffset()));
    return true;
  }

  private void deliver(EventBatch batch, int from) {
    sink.events(this, batch, from);
    position = batch.lastOffset();
    loop.hub().countDelivered(batch.size() - from);
  }

  private void catchUp() {
    phase = Phase.CATCHING_UP;
    step();
  }

  private void step() {
    if (phase != Phase.CATCHING_UP || reading) {
      return;
    }
    if (!sink.writable()) {
      sink.whenWritable(this::step);
      return;
    }
    reading = true;
    long after = position;
    loop.onLoop(loop.hub().engine().read(topic, after, loop.hub().options().readPage()), (r, error) -> {
      reading = false;
      if (phase != Phase.CATCHING_UP) {
        return;
      }
      if (error != null) {
        retryLater(this::step);
        return;
      }
      failures = 0;
      stepRead(r);
    });
  }

  private void stepRead(ReadResult r) {
    List<Event> events = r.events();
    TopicHead head = r.head();
    if (!head.epoch().equals(epoch)) {
      reset(cursor(), "epoch");
      return;
    }
    boolean gap = events.isEmpty() ? head.lastOffset() > position : events.get(0).offset() != position + 1;
    if (gap) {
      reset(cursor(), "retention");
      return;
    }
    if (!events.isEmpty()) {
      reading = true;
      deliverPage(head, events, 0);
      return;
    }
    afterPage(head);
  }

  /**
   * Hands a page read from the store to the sink a slice at a time, waiting while it cannot take
   * more: a page of large events must not overflow the connection's queue (a client that keeps up
   * would be disconnected as a slow consumer) nor sit in memory as one huge write. {@code reading}
   * stays set meanwhile, so no other read starts.
   */
  private void deliverPage(TopicHead head, List<Event> events, int from) {
    int at = from;
    while (at < events.size()) {
      if (phase != Phase.CATCHING_UP) {
        reading = false;
        return;
      }
      if (!sink.writable()) {
        int resume = at;
        sink.whenWritable(() -> deliverPage(head, events, resume));
        return;
      }
      int end = sliceEnd(events, at);
      deliver(new EventBatch(head, at == 0 && end == events.size() ? events : events.subList(at, end)), 0);
      at = end;
    }
    reading = false;
    if (phase == Phase.CATCHING_UP) {
      afterPage(head);
    }
  }

  /** The end of a slice from {@code from}: about {@value #SLICE_BYTES} bytes of events, at least one. */
  private static int sliceEnd(List<Event> events, int from) {
    long bytes = 0;
    int i = from;
    while (i < events.size() && bytes < SLICE_BYTES) {
      Event e = events.get(i++);
      bytes += 160 + (e.data() == null ? 0 : e.data().length()) + (e.key() == null ? 0 : e.key().length());
    }
    return i;
  }

  private void afterPage(TopicHead head) {
    if (position < head.lastOffset() || liveSeen > position) {
      // A task rather than a call: a long history must not deepen the stack.
      loop.execute(this::step);
    } else {
      phase = Phase.LIVE;
    }
  }

  private void retryLater(Runnable task) {
    long delay = loop.hub().options().retryMillis() << Math.min(4, failures++);
    loop.schedule(delay, () -> {
      if (phase != Phase.CLOSED) {
        task.run();
      }
    });
  }

  private void reset(Cursor previous, String reason) {
    phase = Phase.RESETTING;
    heldCursor = previous;
    loop.hub().countReset();
    readState(previous, reason, null, null);
  }

  private void readState(Cursor previous, String reason, String afterKey, Cursor continueAt) {
    if (phase != Phase.RESETTING) {
      return;
    }
    if (!sink.writable()) {
      sink.whenWritable(() -> readState(previous, reason, afterKey, continueAt));
      return;
    }
    loop.onLoop(loop.hub().engine().state(topic, afterKey, loop.hub().options().statePage()), (page, error) -> {
      if (phase != Phase.RESETTING) {
        return;
      }
      if (error != null) {
        retryLater(() -> readState(previous, reason, afterKey, continueAt));
        return;
      }
      failures = 0;
      statePage(previous, reason, page, continueAt);
    });
  }

  private void statePage(Cursor previous, String reason, StatePage page, Cursor continueAt) {
    boolean first = continueAt == null;
    // Later pages may be newer than the first; replaying from the first page's cursor converges.
    Cursor resumeAt = first ? page.head().cursor() : continueAt;
    boolean last = page.nextKey() == null;
    if (first) {
      boolean stateFollows = !(last && page.entries().isEmpty());
      if (!stateFollows) {
        commit(resumeAt);
      }
      sink.reset(this, resumeAt, reason, stateFollows);
      if (!stateFollows) {
        catchUp();
        return;
      }
    }
    if (phase != Phase.RESETTING) {
      return;
    }
    if (page.entries().isEmpty() && last) {
      sink.state(this, page.entries(), previous, resumeAt);
    }
    deliverState(previous, reason, page, resumeAt, 0);
  }

  /** Hands a state page to the sink a slice at a time, waiting while it cannot take more (as {@link #deliverPage}). */
  private void deliverState(Cursor previous, String reason, StatePage page, Cursor resumeAt, int from) {
    List<StateEntry> entries = page.entries();
    boolean last = page.nextKey() == null;
    int at = from;
    while (at < entries.size()) {
      if (phase != Phase.RESETTING) {
        return;
      }
      if (!sink.writable()) {
        int resume = at;
        sink.whenWritable(() -> deliverState(previous, reason, page, resumeAt, resume));
        return;
      }
      int end = at;
      long bytes = 0;
      while (end < entries.size() && bytes < SLICE_BYTES) {
        StateEntry e = entries.get(end++);
        bytes += 160 + e.key().length() + (e.data() == null ? 0 : e.data().length());
      }
      boolean lastSlice = last && end == entries.size();
      sink.state(this, at == 0 && end == entries.size() ? entries : entries.subList(at, end), previous,
          lastSlice ? resumeAt : null);
      at = end;
    }
    if (phase != Phase.RESETTING) {
      return;
    }
    if (last) {
      commit(resumeAt);
      catchUp();
    } else {
      loop.execute(() -> readState(previous, reason, page.nextKey(), resumeAt));
    }
  }

  private void commit(Cursor at) {
    heldCursor = null;
    epoch = at.epoch();
    position = at.offset();
  }
}
