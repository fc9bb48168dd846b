package io.tidings.engine.sqlite;

import io.tidings.core.Cursor;
import io.tidings.core.EngineException;
import io.tidings.core.TopicHead;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.HashMap;
import java.util.Map;
import org.sqlite.SQLiteConfig;

/** The database file: how connections to it are opened, and its schema. */
final class Database {
  /** The file name inside the data directory. */
  static final String FILE_NAME = "tidings.db";
  /** The schema this code reads and writes. */
  static final int SCHEMA_VERSION = 1;

  private static final int BUSY_TIMEOUT_MS = 5000;

  private static final String[] SCHEMA = {
    "CREATE TABLE IF NOT EXISTS meta(name TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID",
    """
    CREATE TABLE IF NOT EXISTS topics(
      id INTEGER PRIMARY KEY,
      name TEXT UNIQUE NOT NULL,
      first_offset INTEGER NOT NULL,
      last_offset INTEGER NOT NULL,
      last_time INTEGER NOT NULL,
      keys INTEGER NOT NULL)""",
    """
    CREATE TABLE IF NOT EXISTS events(
      topic_id INTEGER NOT NULL,
      offset INTEGER NOT NULL,
      type TEXT NOT NULL,
      key TEXT,
      data TEXT,
      id TEXT,
      time INTEGER NOT NULL,
      PRIMARY KEY(topic_id, offset)) WITHOUT ROWID""",
    """
    CREATE TABLE IF NOT EXISTS state(
      topic_id INTEGER NOT NULL,
      key TEXT NOT NULL,
      data TEXT NOT NULL,
      offset INTEGER NOT NULL,
      time INTEGER NOT NULL,
      PRIMARY KEY(topic_id, key)) WITHOUT ROWID""",
    """
    CREATE TABLE IF NOT EXISTS ids(
      topic_id INTEGER NOT NULL,
      id TEXT NOT NULL,
      offset INTEGER NOT NULL,
      time INTEGER NOT NULL,
      PRIMARY KEY(topic_id, id)) WITHOUT ROWID""",
    // Pruning walks a topic's ids oldest first.
    "CREATE INDEX IF NOT EXISTS ids_by_offset ON ids(topic_id, offset)",
    // Records (engine.records()). Added after schema version 1 shipped, without a new version:
    // IF NOT EXISTS adds it to older files when they open, and builds before it never touch it.
    """
    CREATE TABLE IF NOT EXISTS records(
      space TEXT NOT NULL,
      id TEXT NOT NULL,
      value TEXT NOT NULL,
      PRIMARY KEY(space, id)) WITHOUT ROWID""",
  };

  private final Path dir;
  private final Path file;

  Database(Path dir) {
    this.dir = dir;
    this.file = dir.resolve(FILE_NAME);
  }

  Path file() {
    return file;
  }

  /**
   * Opens the one connection that writes. WAL lets readers work during a write; synchronous=FULL
   * makes every commit fsync'd, because a 201 promises the events survive a crash.
   */
  Connection openWriter() throws SQLException {
    try {
      Files.createDirectories(dir);
    } catch (IOException e) {
      throw new EngineException("cannot create data directory " + dir + ": " + e, e);
    }
    SQLiteConfig config = new SQLiteConfig();
    config.setBusyTimeout(BUSY_TIMEOUT_MS);
    // The driver would otherwise run "SELECT last_insert_rowid()" after every INSERT: a third of
    // the writer's time. The one place that needs a row id asks for it explicitly.
    config.setGetGeneratedKeys(false);
    Connection c = config.createConnection("jdbc:sqlite:" + file);
    try (Statement s = c.createStatement()) {
      try (ResultSet rs = s.executeQuery("PRAGMA journal_mode=WAL")) {
        String mode = rs.next() ? rs.getString(1) : null;
        if (!"wal".equalsIgnoreCase(mode)) {
          throw new EngineException("cannot switch " + file + " to WAL mode (got " + mode + ")");
        }
      }
      s.execute("PRAGMA synchronous=FULL");
    } catch (SQLException | RuntimeException e) {
      closeQuietly(c);
      throw e;
    }
    return c;
  }

  /** Opens a connection for reads; query_only guards against a write slipping in by mistake. */
  Connection openReader() throws SQLException {
    SQLiteConfig config = new SQLiteConfig();
    config.setBusyTimeout(BUSY_TIMEOUT_MS);
    Connection c = config.createConnection("jdbc:sqlite:" + file);
    try (Statement s = c.createStatement()) {
      s.execute("PRAGMA query_only=1");
    } catch (SQLException e) {
      closeQuietly(c);
      throw e;
    }
    return c;
  }

  /**
   * Creates the schema if the file is new and returns the store's epoch: generated once when the
   * database is created, so it is kept across restarts and changes when the files are wiped.
   */
  static String prepare(Connection c) throws SQLException {
    try (Statement s = c.createStatement()) {
      s.execute("BEGIN IMMEDIATE");
      try {
        for (String ddl : SCHEMA) {
          s.execute(ddl);
        }
        String version = meta(c, "schema_version");
        String epoch = meta(c, "epoch");
        if (version == null) {
          epoch = Cursor.newEpoch();
          setMeta(c, "epoch", epoch);
          setMeta(c, "schema_version", Integer.toString(SCHEMA_VERSION));
        } else if (!Integer.toString(SCHEMA_VERSION).equals(version)) {
          throw new EngineException("unsupported schema version " + version + " (this build reads "
              + SCHEMA_VERSION + ")");
        } else if (epoch == null || !Cursor.isEpoch(epoch)) {
          throw new EngineException("the store has no valid epoch: " + epoch);
        }
        s.execute("COMMIT");
        return epoch;
      } catch (SQLException | RuntimeException e) {
        rollbackQuietly(s);
        throw e;
      }
    }
  }

  /** Every topic row, keyed by name. */
  static Map<String, TopicRow> loadTopics(Connection c, String epoch) throws SQLException {
    Map<String, TopicRow> topics = new HashMap<>();
    try (Statement s = c.createStatement();
        ResultSet rs = s.executeQuery(
            "SELECT id, name, first_offset, last_offset, last_time, keys FROM topics")) {
      while (rs.next()) {
        String name = rs.getString(2);
        TopicHead head = new TopicHead(name, epoch, rs.getLong(3), rs.getLong(4), rs.getLong(5), rs.getLong(6));
        topics.put(name, new TopicRow(rs.getLong(1), head));
      }
    }
    return topics;
  }

  private static String meta(Connection c, String name) throws SQLException {
    try (PreparedStatement ps = c.prepareStatement("SELECT value FROM meta WHERE name = ?")) {
      ps.setString(1, name);
      try (ResultSet rs = ps.executeQuery()) {
        return rs.next() ? rs.getString(1) : null;
      }
    }
  }

  private static void setMeta(Connection c, String name, String value) throws SQLException {
    try (PreparedStatement ps = c.prepareStatement("INSERT OR REPLACE INTO meta(name, value) VALUES (?, ?)")) {
      ps.setString(1, name);
      ps.setString(2, value);
      ps.executeUpdate();
    }
  }

  private static void rollbackQuietly(Statement s) {
    try {
      s.execute("ROLLBACK");
    } catch (SQLException ignored) {
      // nothing to undo, or the connection is gone: either way the caller reports the first error
    }
  }

  static void closeQuietly(AutoCloseable c) {
    if (c == null) {
      return;
    }
    try {
      c.close();
    } catch (Exception ignored) {
      // closing is best effort; the data is already committed or rolled back
    }
  }
}
