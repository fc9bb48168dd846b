package io.tidings.engine.sqlite;

import io.tidings.core.Engine;
import io.tidings.core.Event;
import io.tidings.core.ReadResult;
import io.tidings.core.Record;
import io.tidings.core.StateEntry;
import io.tidings.core.StatePage;
import io.tidings.core.TopicHead;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.List;

/**
 * One reader thread's connection and its prepared queries. Each read runs in one read
 * transaction, so the head and the rows it returns come from the same snapshot.
 */
final class ReadConnection implements AutoCloseable {
  private final Connection connection;
  private final String epoch;
  private final PreparedStatement begin;
  private final PreparedStatement commit;
  private final PreparedStatement rollback;
  private final PreparedStatement topic;
  private final PreparedStatement events;
  private final PreparedStatement stateFromStart;
  private final PreparedStatement stateAfter;
  private final PreparedStatement ping;
  private final PreparedStatement record;
  private final PreparedStatement recordsFromStart;
  private final PreparedStatement recordsAfter;

  ReadConnection(Connection connection, String epoch) throws SQLException {
    this.connection = connection;
    this.epoch = epoch;
    try {
      begin = connection.prepareStatement("BEGIN");
      commit = connection.prepareStatement("COMMIT");
      rollback = connection.prepareStatement("ROLLBACK");
      topic = connection.prepareStatement(
          "SELECT id, first_offset, last_offset, last_time, keys FROM topics WHERE name = ?");
      events = connection.prepareStatement("SELECT offset, type, key, data, id, time FROM events"
          + " WHERE topic_id = ? AND offset > ? ORDER BY offset LIMIT ?");
      stateFromStart = connection.prepareStatement(
          "SELECT key, data, offset, time FROM state WHERE topic_id = ? ORDER BY key LIMIT ?");
      // The primary key's BINARY collation orders UTF-8 bytes, i.e. code points (KeyOrder).
      stateAfter = connection.prepareStatement("SELECT key, data, offset, time FROM state"
          + " WHERE topic_id = ? AND key > ? ORDER BY key LIMIT ?");
      ping = connection.prepareStatement("SELECT value FROM meta WHERE name = 'epoch'");
      record = connection.prepareStatement("SELECT value FROM records WHERE space = ? AND id = ?");
      // Ordered by the primary key, like state keys: code point order (KeyOrder).
      recordsFromStart = connection.prepareStatement(
          "SELECT id, value FROM records WHERE space = ? ORDER BY id LIMIT ?");
      recordsAfter = connection.prepareStatement(
          "SELECT id, value FROM records WHERE space = ? AND id > ? ORDER BY id LIMIT ?");
    } catch (SQLException e) {
      close();
      throw e;
    }
  }

  @FunctionalInterface
  private interface Query<T> {
    T run() throws SQLException;
  }

  private <T> T inSnapshot(Query<T> query) throws SQLException {
    begin.execute();
    try {
      T result = query.run();
      commit.execute();
      return result;
    } catch (SQLException | RuntimeException e) {
      // Never leave the transaction open: the next BEGIN on this connection would fail, and an
      // open read transaction keeps the WAL from being checkpointed.
      try {
        rollback.execute();
      } catch (SQLException ignored) {
        // no transaction left to end; the first error is the one worth reporting
      }
      throw e;
    }
  }

  /** Events after {@code afterOffset}, at most {@code limit}, with the head of the same snapshot. */
  ReadResult read(String name, long afterOffset, int limit) throws SQLException {
    return inSnapshot(() -> {
      TopicRow row = topicRow(name);
      if (row == null) {
        return new ReadResult(TopicHead.empty(name, epoch), List.of());
      }
      List<Event> out = new ArrayList<>();
      if (limit > 0 && afterOffset < row.head().lastOffset()) {
        events.setLong(1, row.id());
        events.setLong(2, afterOffset);
        events.setInt(3, limit);
        long bytes = 0;
        try (ResultSet rs = events.executeQuery()) {
          while (bytes < Engine.READ_BUDGET_CHARS && rs.next()) {
            Event e = new Event(name, epoch, rs.getLong(1), rs.getString(2), rs.getString(3),
                rs.getString(4), rs.getString(5), rs.getLong(6));
            out.add(e);
            bytes += e.data() == null ? 0 : e.data().length();
          }
        }
      }
      return new ReadResult(row.head(), out);
    });
  }

  /** State entries after {@code afterKey} (null: from the first key), at most {@code limit}. */
  StatePage state(String name, String afterKey, int limit) throws SQLException {
    return inSnapshot(() -> {
      TopicRow row = topicRow(name);
      if (row == null) {
        return new StatePage(TopicHead.empty(name, epoch), List.of(), null);
      }
      if (limit <= 0) {
        return new StatePage(row.head(), List.of(), null);
      }
      PreparedStatement ps = afterKey == null ? stateFromStart : stateAfter;
      int i = 1;
      ps.setLong(i++, row.id());
      if (afterKey != null) {
        ps.setString(i++, afterKey);
      }
      // One extra row tells whether another page exists.
      ps.setInt(i, limit + 1);
      List<StateEntry> out = new ArrayList<>();
      boolean more = false;
      long bytes = 0;
      try (ResultSet rs = ps.executeQuery()) {
        while (rs.next()) {
          if (out.size() == limit || bytes >= Engine.READ_BUDGET_CHARS) {
            more = true;
            break;
          }
          StateEntry e = new StateEntry(rs.getString(1), rs.getString(2), rs.getLong(3), rs.getLong(4));
          out.add(e);
          bytes += e.data().length();
        }
      }
      return new StatePage(row.head(), out, more ? out.get(out.size() - 1).key() : null);
    });
  }

  // Record reads are one statement each, which SQLite runs in a snapshot of its own.

  /** The value of record {@code id} in {@code space}, or {@code null}. */
  String record(String space, String id) throws SQLException {
    record.setString(1, space);
    record.setString(2, id);
    try (ResultSet rs = record.executeQuery()) {
      return rs.next() ? rs.getString(1) : null;
    }
  }

  /** Records of {@code space} with ids after {@code afterId} (null: from the first), at most {@code limit}. */
  List<Record> records(String space, String afterId, int limit) throws SQLException {
    List<Record> out = new ArrayList<>();
    if (limit <= 0) {
      return out;
    }
    PreparedStatement ps = afterId == null ? recordsFromStart : recordsAfter;
    int i = 1;
    ps.setString(i++, space);
    if (afterId != null) {
      ps.setString(i++, afterId);
    }
    ps.setInt(i, limit);
    try (ResultSet rs = ps.executeQuery()) {
      while (rs.next()) {
        out.add(new Record(space, rs.getString(1), rs.getString(2)));
      }
    }
    return out;
  }

  /** Proves the database answers. */
  void ping() throws SQLException {
    try (ResultSet rs = ping.executeQuery()) {
      if (!rs.next()) {
        throw new SQLException("the store has no epoch");
      }
    }
  }

  private TopicRow topicRow(String name) throws SQLException {
    topic.setString(1, name);
    try (ResultSet rs = topic.executeQuery()) {
      if (!rs.next()) {
        return null;
      }
      return new TopicRow(rs.getLong(1),
          new TopicHead(name, epoch, rs.getLong(2), rs.getLong(3), rs.getLong(4), rs.getLong(5)));
    }
  }

  @Override
  public void close() {
    // Closing the connection finalizes its statements.
    Database.closeQuietly(connection);
  }
}
