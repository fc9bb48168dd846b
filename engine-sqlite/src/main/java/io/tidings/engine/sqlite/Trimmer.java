package io.tidings.engine.sqlite;

import io.tidings.core.DedupeWindow;
import io.tidings.core.RetentionPolicy;
import io.tidings.core.RetentionRule;
import io.tidings.core.TopicHead;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Clock;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;

/**
 * Applies retention and forgets old idempotency ids. A pass is cut into small steps, each one
 * short transaction queued on the writer like an append: trimming never races an append, and a
 * big backlog never holds the write lock long enough to stall publishers.
 *
 * <p>Retained events of a topic are always exactly {@code firstOffset..lastOffset} (offsets are
 * gapless and only the oldest end is trimmed), so trimming is a range delete by offset.
 */
final class Trimmer {
  /** Most rows (events plus ids) deleted in one step. */
  static final int STEP_ROWS = 5000;
  /** Most topics looked at in one step. */
  static final int STEP_TOPICS = 256;

  private final LogWriter writer;
  private final RetentionPolicy retention;
  private final DedupeWindow dedupe;
  private final Clock clock;

  // Prepared on the writer thread at the first step.
  private PreparedStatement oldestEventTime;
  private PreparedStatement lastEventBefore;
  private PreparedStatement deleteEvents;
  private PreparedStatement setFirstOffset;
  private PreparedStatement oldestIdTime;
  private PreparedStatement nthNewestId;
  private PreparedStatement nthOldestId;
  private PreparedStatement deleteIds;

  Trimmer(LogWriter writer, RetentionPolicy retention, DedupeWindow dedupe, Clock clock) {
    this.writer = writer;
    this.retention = retention;
    this.dedupe = dedupe;
    this.clock = clock;
  }

  /** How far a pass got through its topics. Touched only by one writer task at a time. */
  private static final class Progress {
    final List<String> topics;
    int index;

    Progress(List<String> topics) {
      this.topics = topics;
    }

    boolean done() {
      return index >= topics.size();
    }
  }

  /** Runs one pass over {@code topics}; completes when all of them are trimmed. */
  CompletableFuture<Void> pass(List<String> topics) {
    CompletableFuture<Void> done = new CompletableFuture<>();
    next(new Progress(topics), done);
    return done;
  }

  // Each step is queued only after the previous one finished, so appends queued meanwhile go first.
  private void next(Progress progress, CompletableFuture<Void> done) {
    writer.submit(() -> step(progress)).whenComplete((finished, error) -> {
      if (error != null) {
        done.completeExceptionally(error);
      } else if (finished) {
        done.complete(null);
      } else {
        next(progress, done);
      }
    });
  }

  /** One transaction's worth of trimming; returns whether the pass is complete. Writer thread. */
  private boolean step(Progress progress) throws SQLException {
    prepare(writer.connection());
    WriteStatements tx = writer.statements();
    Map<String, TopicRow> changed = new HashMap<>();
    long budget = STEP_ROWS;
    tx.begin();
    try {
      int visited = 0;
      while (!progress.done() && visited < STEP_TOPICS) {
        String name = progress.topics.get(progress.index);
        TopicRow row = changed.containsKey(name) ? changed.get(name) : writer.topic(name);
        if (row != null) {
          TopicRow trimmed = trimEvents(row, budget);
          if (trimmed != row) {
            budget -= trimmed.head().firstOffset() - row.head().firstOffset();
            changed.put(name, trimmed);
          }
          if (budget > 0) {
            budget -= pruneIds(row.id(), budget);
          }
          if (budget <= 0) {
            // This topic may have more to trim: the next step resumes here.
            break;
          }
        }
        progress.index++;
        visited++;
      }
      tx.commit();
    } catch (SQLException | RuntimeException e) {
      tx.rollbackQuietly();
      throw e;
    }
    writer.committed(changed.values());
    return progress.done();
  }

  /** Deletes up to {@code budget} of the oldest events the topic's rule no longer keeps. */
  private TopicRow trimEvents(TopicRow row, long budget) throws SQLException {
    TopicHead head = row.head();
    RetentionRule rule = retention.ruleFor(head.topic());
    long first = head.firstOffset();
    if (rule == null || first > head.lastOffset()) {
      return row;
    }
    long limit = first + budget;
    // Events below keepFrom go; keepFrom never passes lastOffset + 1.
    long keepFrom = first;
    if (rule.maxEvents() > 0) {
      keepFrom = Math.max(keepFrom, head.lastOffset() - rule.maxEvents() + 1);
    }
    keepFrom = Math.min(keepFrom, limit);
    if (rule.maxAge() != null && keepFrom < limit) {
      long cutoff = clock.millis() - rule.maxAge().toMillis();
      long lastExpired = lastEventBefore(row.id(), first, limit - first, cutoff);
      if (lastExpired >= 0) {
        keepFrom = Math.max(keepFrom, lastExpired + 1);
      }
    }
    if (keepFrom <= first) {
      return row;
    }
    deleteEvents.setLong(1, row.id());
    deleteEvents.setLong(2, keepFrom);
    deleteEvents.executeUpdate();
    setFirstOffset.setLong(1, keepFrom);
    setFirstOffset.setLong(2, row.id());
    setFirstOffset.executeUpdate();
    return row.withHead(new TopicHead(
        head.topic(), head.epoch(), keepFrom, head.lastOffset(), head.lastTime(), head.keys()));
  }

  /**
   * The newest offset among the {@code count} oldest events from {@code first} whose time is
   * before {@code cutoff}, or -1. Times grow with offsets, so every older event is expired too.
   */
  private long lastEventBefore(long topicId, long first, long count, long cutoff) throws SQLException {
    // The common case, nothing expired, costs one index seek.
    oldestEventTime.setLong(1, topicId);
    oldestEventTime.setLong(2, first);
    try (ResultSet rs = oldestEventTime.executeQuery()) {
      if (!rs.next() || rs.getLong(1) >= cutoff) {
        return -1;
      }
    }
    lastEventBefore.setLong(1, topicId);
    lastEventBefore.setLong(2, first);
    lastEventBefore.setLong(3, count);
    lastEventBefore.setLong(4, cutoff);
    try (ResultSet rs = lastEventBefore.executeQuery()) {
      if (!rs.next()) {
        return -1;
      }
      long offset = rs.getLong(1);
      return rs.wasNull() ? -1 : offset;
    }
  }

  /**
   * Forgets up to {@code budget} ids that are older than the dedupe window's minimum age and not
   * among the topic's newest {@code minIds}; returns how many.
   */
  private long pruneIds(long topicId, long budget) throws SQLException {
    long cutoff = clock.millis() - dedupe.minAge().toMillis();
    oldestIdTime.setLong(1, topicId);
    try (ResultSet rs = oldestIdTime.executeQuery()) {
      if (!rs.next() || rs.getLong(1) >= cutoff) {
        return 0;
      }
    }
    // Ids below the minIds-th newest are outside the always-remembered set.
    long below = Long.MAX_VALUE;
    if (dedupe.minIds() > 0) {
      below = nthOffset(nthNewestId, topicId, dedupe.minIds() - 1);
      if (below < 0) {
        return 0;
      }
    }
    long chunkEnd = nthOffset(nthOldestId, topicId, budget);
    if (chunkEnd >= 0) {
      below = Math.min(below, chunkEnd);
    }
    deleteIds.setLong(1, topicId);
    deleteIds.setLong(2, below);
    deleteIds.setLong(3, cutoff);
    return deleteIds.executeUpdate();
  }

  private static long nthOffset(PreparedStatement ps, long topicId, long n) throws SQLException {
    ps.setLong(1, topicId);
    ps.setLong(2, n);
    try (ResultSet rs = ps.executeQuery()) {
      return rs.next() ? rs.getLong(1) : -1;
    }
  }

  private void prepare(Connection c) throws SQLException {
    if (oldestEventTime != null) {
      return;
    }
    oldestEventTime = prepare(c,
        "SELECT time FROM events WHERE topic_id = ? AND offset >= ? ORDER BY offset LIMIT 1");
    lastEventBefore = prepare(c, "SELECT max(offset) FROM (SELECT offset, time FROM events"
        + " WHERE topic_id = ? AND offset >= ? ORDER BY offset LIMIT ?) WHERE time < ?");
    deleteEvents = prepare(c, "DELETE FROM events WHERE topic_id = ? AND offset < ?");
    setFirstOffset = prepare(c, "UPDATE topics SET first_offset = ? WHERE id = ?");
    oldestIdTime = prepare(c, "SELECT time FROM ids WHERE topic_id = ? ORDER BY offset LIMIT 1");
    nthNewestId = prepare(c, "SELECT offset FROM ids WHERE topic_id = ? ORDER BY offset DESC LIMIT 1 OFFSET ?");
    nthOldestId = prepare(c, "SELECT offset FROM ids WHERE topic_id = ? ORDER BY offset LIMIT 1 OFFSET ?");
    deleteIds = prepare(c, "DELETE FROM ids WHERE topic_id = ? AND offset < ? AND time < ?");
  }

  // Closing the writer connection finalizes these statements.
  private static PreparedStatement prepare(Connection c, String sql) throws SQLException {
    return c.prepareStatement(sql);
  }
}
