package io.tidings.engine.sqlite;

import io.tidings.core.NewEvent;
import io.tidings.core.TopicHead;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Types;
import java.util.ArrayList;
import java.util.List;

/**
 * The statements the writer runs, prepared once on the writer connection. Transactions are
 * controlled with explicit SQL (the connection stays in auto-commit mode) so that the driver never
 * opens a transaction behind our back. That SQL runs as plain statement text, not prepared: a
 * prepared {@code ROLLBACK} that once failed ("no transaction is active") stays unusable in the
 * driver, and the next rollback would then silently leave a transaction open for good.
 */
final class WriteStatements implements AutoCloseable {
  private final List<java.sql.Statement> all = new ArrayList<>();
  private final java.sql.Statement control;
  private final PreparedStatement insertTopic;
  private final PreparedStatement lastRowId;
  private final PreparedStatement updateTopic;
  private final PreparedStatement findId;
  private final PreparedStatement insertEvent;
  private final PreparedStatement updateState;
  private final PreparedStatement insertState;
  private final PreparedStatement deleteState;
  private final PreparedStatement insertId;
  private final PreparedStatement putRecord;
  private final PreparedStatement deleteRecord;
  private final PreparedStatement clearRecords;

  WriteStatements(Connection c) throws SQLException {
    try {
      control = c.createStatement();
      all.add(control);
      insertTopic = prepare(c,
          "INSERT INTO topics(name, first_offset, last_offset, last_time, keys) VALUES (?, 1, 0, 0, 0)");
      lastRowId = prepare(c, "SELECT last_insert_rowid()");
      updateTopic = prepare(c,
          "UPDATE topics SET first_offset = ?, last_offset = ?, last_time = ?, keys = ? WHERE id = ?");
      findId = prepare(c, "SELECT offset FROM ids WHERE topic_id = ? AND id = ?");
      insertEvent = prepare(c,
          "INSERT INTO events(topic_id, offset, type, key, data, id, time) VALUES (?, ?, ?, ?, ?, ?, ?)");
      updateState = prepare(c,
          "UPDATE state SET data = ?, offset = ?, time = ? WHERE topic_id = ? AND key = ?");
      insertState = prepare(c,
          "INSERT INTO state(topic_id, key, data, offset, time) VALUES (?, ?, ?, ?, ?)");
      deleteState = prepare(c, "DELETE FROM state WHERE topic_id = ? AND key = ?");
      insertId = prepare(c, "INSERT INTO ids(topic_id, id, offset, time) VALUES (?, ?, ?, ?)");
      putRecord = prepare(c, "INSERT INTO records(space, id, value) VALUES (?, ?, ?)"
          + " ON CONFLICT(space, id) DO UPDATE SET value = excluded.value");
      deleteRecord = prepare(c, "DELETE FROM records WHERE space = ? AND id = ?");
      clearRecords = prepare(c, "DELETE FROM records WHERE space = ?");
    } catch (SQLException e) {
      close();
      throw e;
    }
  }

  private PreparedStatement prepare(Connection c, String sql) throws SQLException {
    PreparedStatement ps = c.prepareStatement(sql);
    all.add(ps);
    return ps;
  }

  /** Opens a write transaction; IMMEDIATE takes the write lock up front, so a commit never fails on a lock upgrade. */
  void begin() throws SQLException {
    control.execute("BEGIN IMMEDIATE");
  }

  void commit() throws SQLException {
    control.execute("COMMIT");
  }

  /** Rolls back, ignoring "no transaction is active" (SQLite may have rolled back already). */
  void rollbackQuietly() {
    try {
      control.execute("ROLLBACK");
    } catch (SQLException ignored) {
      // already rolled back by SQLite after the error, or the connection is unusable
    }
  }

  void savepoint() throws SQLException {
    control.execute("SAVEPOINT request");
  }

  void release() throws SQLException {
    control.execute("RELEASE request");
  }

  /** Undoes everything since the savepoint and removes it. */
  void rollbackToSavepoint() throws SQLException {
    control.execute("ROLLBACK TO request");
    control.execute("RELEASE request");
  }

  /** Inserts an empty topic row and returns its id. */
  long insertTopic(String name) throws SQLException {
    insertTopic.setString(1, name);
    insertTopic.executeUpdate();
    try (ResultSet rs = lastRowId.executeQuery()) {
      rs.next();
      return rs.getLong(1);
    }
  }

  void updateTopic(long topicId, TopicHead head) throws SQLException {
    updateTopic.setLong(1, head.firstOffset());
    updateTopic.setLong(2, head.lastOffset());
    updateTopic.setLong(3, head.lastTime());
    updateTopic.setLong(4, head.keys());
    updateTopic.setLong(5, topicId);
    updateTopic.executeUpdate();
  }

  /** The offset first appended with {@code id} in the topic, or -1 when the id is not remembered. */
  long findId(long topicId, String id) throws SQLException {
    findId.setLong(1, topicId);
    findId.setString(2, id);
    try (ResultSet rs = findId.executeQuery()) {
      return rs.next() ? rs.getLong(1) : -1;
    }
  }

  void insertEvent(long topicId, long offset, NewEvent e, long time) throws SQLException {
    insertEvent.setLong(1, topicId);
    insertEvent.setLong(2, offset);
    insertEvent.setString(3, e.type());
    setText(insertEvent, 4, e.key());
    setText(insertEvent, 5, e.data());
    setText(insertEvent, 6, e.id());
    insertEvent.setLong(7, time);
    insertEvent.executeUpdate();
  }

  /**
   * Sets a key's value.
   *
   * @return whether the key is new
   */
  boolean putState(long topicId, String key, String data, long offset, long time) throws SQLException {
    updateState.setString(1, data);
    updateState.setLong(2, offset);
    updateState.setLong(3, time);
    updateState.setLong(4, topicId);
    updateState.setString(5, key);
    if (updateState.executeUpdate() > 0) {
      return false;
    }
    insertState.setLong(1, topicId);
    insertState.setString(2, key);
    insertState.setString(3, data);
    insertState.setLong(4, offset);
    insertState.setLong(5, time);
    insertState.executeUpdate();
    return true;
  }

  /**
   * Removes a key.
   *
   * @return whether the key existed
   */
  boolean deleteState(long topicId, String key) throws SQLException {
    deleteState.setLong(1, topicId);
    deleteState.setString(2, key);
    return deleteState.executeUpdate() > 0;
  }

  void insertId(long topicId, String id, long offset, long time) throws SQLException {
    insertId.setLong(1, topicId);
    insertId.setString(2, id);
    insertId.setLong(3, offset);
    insertId.setLong(4, time);
    insertId.executeUpdate();
  }

  /** Stores a record, replacing any with the same space and id. */
  void putRecord(String space, String id, String value) throws SQLException {
    putRecord.setString(1, space);
    putRecord.setString(2, id);
    putRecord.setString(3, value);
    putRecord.executeUpdate();
  }

  void deleteRecord(String space, String id) throws SQLException {
    deleteRecord.setString(1, space);
    deleteRecord.setString(2, id);
    deleteRecord.executeUpdate();
  }

  /** Deletes every record of {@code space}. */
  void clearRecords(String space) throws SQLException {
    clearRecords.setString(1, space);
    clearRecords.executeUpdate();
  }

  private static void setText(PreparedStatement ps, int index, String value) throws SQLException {
    if (value == null) {
      ps.setNull(index, Types.VARCHAR);
    } else {
      ps.setString(index, value);
    }
  }

  @Override
  public void close() {
    for (java.sql.Statement s : all) {
      Database.closeQuietly(s);
    }
  }
}
