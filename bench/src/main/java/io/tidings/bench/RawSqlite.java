package io.tidings.bench;

import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.sql.Types;
import java.util.ArrayList;
import java.util.List;
import org.sqlite.SQLiteConfig;

/**
 * The ceiling the embedded store can reach on this disk: the rows a publish writes, inserted
 * straight over JDBC from one thread, with the pragmas the engine uses (WAL, synchronous=FULL, so
 * every COMMIT is an fsync of the WAL). Each transaction also moves the topic row's head, as an
 * append does.
 */
final class RawSqlite {
  /**
   * The engine's schema at the time of writing (engine-sqlite Database.SCHEMA). Used only when
   * the server's own database is not available to copy the schema from.
   */
  static final List<String> FALLBACK_SCHEMA = List.of(
      "CREATE TABLE meta(name TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID",
      "CREATE TABLE topics(id INTEGER PRIMARY KEY, name TEXT UNIQUE NOT NULL, first_offset INTEGER NOT NULL,"
          + " last_offset INTEGER NOT NULL, last_time INTEGER NOT NULL, keys INTEGER NOT NULL)",
      "CREATE TABLE events(topic_id INTEGER NOT NULL, offset INTEGER NOT NULL, type TEXT NOT NULL, key TEXT,"
          + " data TEXT, id TEXT, time INTEGER NOT NULL, PRIMARY KEY(topic_id, offset)) WITHOUT ROWID",
      "CREATE TABLE state(topic_id INTEGER NOT NULL, key TEXT NOT NULL, data TEXT NOT NULL, offset INTEGER NOT NULL,"
          + " time INTEGER NOT NULL, PRIMARY KEY(topic_id, key)) WITHOUT ROWID",
      "CREATE TABLE ids(topic_id INTEGER NOT NULL, id TEXT NOT NULL, offset INTEGER NOT NULL, time INTEGER NOT NULL,"
          + " PRIMARY KEY(topic_id, id)) WITHOUT ROWID",
      "CREATE INDEX ids_by_offset ON ids(topic_id, offset)");

  record Result(String label, int batch, long rows, long transactions, double seconds) {
    double rowsPerSecond() {
      return rows / seconds;
    }

    double transactionsPerSecond() {
      return transactions / seconds;
    }
  }

  private RawSqlite() {}

  /**
   * Reads the DDL of an existing database (the server's), so the raw run uses exactly the schema
   * the engine created. Returns an empty list when the file is missing or unreadable.
   */
  static List<String> schemaOf(Path dbFile) {
    List<String> ddl = new ArrayList<>();
    if (!Files.isRegularFile(dbFile)) {
      return ddl;
    }
    try (Connection c = DriverManager.getConnection("jdbc:sqlite:file:" + dbFile + "?mode=ro");
        Statement s = c.createStatement();
        // Tables before indexes, in creation order.
        ResultSet rs = s.executeQuery("SELECT sql FROM sqlite_master WHERE sql IS NOT NULL"
            + " AND name NOT LIKE 'sqlite_%' ORDER BY type = 'index', rowid")) {
      while (rs.next()) {
        ddl.add(rs.getString(1));
      }
    } catch (SQLException e) {
      System.err.println("bench: cannot read the server's schema from " + dbFile + ": " + e.getMessage());
      ddl.clear();
    }
    return ddl;
  }

  /**
   * Whether the driver runs {@code SELECT last_insert_rowid()} after every INSERT (sqlite-jdbc's
   * default, for getGeneratedKeys). Off by default: the raw phases measure SQLite, not that
   * driver overhead, which the engine does not need either.
   */
  static volatile boolean generatedKeys = false;

  /**
   * Diagnostic: write each row the way the engine's writer does today (its own SAVEPOINT, the
   * INSERT, an UPDATE of the topic row, RELEASE), instead of only the INSERT. Shows what that
   * statement pattern costs against the same disk.
   */
  static volatile boolean enginePattern = false;

  /** Opens a fresh database with the engine's pragmas and schema and one topic row. */
  static Connection open(Path dbFile, List<String> schema) throws SQLException {
    try {
      Files.createDirectories(dbFile.toAbsolutePath().getParent());
    } catch (java.io.IOException e) {
      throw new SQLException("cannot create " + dbFile.getParent() + ": " + e, e);
    }
    SQLiteConfig config = new SQLiteConfig();
    config.setGetGeneratedKeys(generatedKeys);
    Connection c = config.createConnection("jdbc:sqlite:" + dbFile);
    try (Statement s = c.createStatement()) {
      try (ResultSet rs = s.executeQuery("PRAGMA journal_mode=WAL")) {
        rs.next();
        if (!"wal".equalsIgnoreCase(rs.getString(1))) {
          throw new SQLException("could not switch to WAL mode");
        }
      }
      s.execute("PRAGMA synchronous=FULL");
      s.execute("PRAGMA busy_timeout=5000");
      for (String ddl : schema) {
        s.execute(ddl);
      }
      s.execute("INSERT INTO topics(id, name, first_offset, last_offset, last_time, keys)"
          + " VALUES (1, 'bench/publish', 1, 0, 0, 0)");
    }
    return c;
  }

  /** One open database that a phase appends to, slice after slice. */
  static final class Session implements AutoCloseable {
    private final String label;
    private final int batch;
    private final String data;
    private final Connection c;
    private final PreparedStatement begin;
    private final PreparedStatement commit;
    private final PreparedStatement insert;
    private final PreparedStatement head;
    private final PreparedStatement savepoint;
    private final PreparedStatement release;
    private long offset;

    Session(String label, Path dbFile, List<String> schema, int batch, String data) throws SQLException {
      this.label = label;
      this.batch = batch;
      this.data = data;
      this.c = open(dbFile, schema);
      this.begin = c.prepareStatement("BEGIN IMMEDIATE");
      this.commit = c.prepareStatement("COMMIT");
      this.insert = c.prepareStatement(
          "INSERT INTO events(topic_id, offset, type, key, data, id, time) VALUES (1, ?, 'message', ?, ?, ?, ?)");
      this.head = c.prepareStatement("UPDATE topics SET last_offset = ?, last_time = ? WHERE id = 1");
      this.savepoint = c.prepareStatement("SAVEPOINT request");
      this.release = c.prepareStatement("RELEASE request");
    }

    String label() {
      return label;
    }

    /** Commits transactions for {@code warmupSeconds} (not counted), then for {@code seconds}. */
    Result run(double warmupSeconds, double seconds) throws SQLException {
      long warmEnd = System.nanoTime() + (long) (warmupSeconds * 1e9);
      while (System.nanoTime() < warmEnd) {
        offset = transaction(offset);
      }
      long rows = 0;
      long txs = 0;
      long start = System.nanoTime();
      long end = start + (long) (seconds * 1e9);
      long now;
      do {
        offset = transaction(offset);
        rows += batch;
        txs++;
        now = System.nanoTime();
      } while (now < end);
      return new Result(label, batch, rows, txs, (now - start) / 1e9);
    }

    private long transaction(long offset) throws SQLException {
      long time = System.currentTimeMillis();
      boolean pattern = enginePattern;
      begin.execute();
      for (int i = 0; i < batch; i++) {
        if (pattern) {
          savepoint.execute();
        }
        insert.setLong(1, ++offset);
        insert.setNull(2, Types.VARCHAR);
        insert.setString(3, data);
        insert.setNull(4, Types.VARCHAR);
        insert.setLong(5, time);
        insert.executeUpdate();
        if (pattern) {
          head.setLong(1, offset);
          head.setLong(2, time);
          head.executeUpdate();
          release.execute();
        }
      }
      if (!pattern) {
        head.setLong(1, offset);
        head.setLong(2, time);
        head.executeUpdate();
      }
      commit.execute();
      return offset;
    }

    @Override
    public void close() throws SQLException {
      c.close();
    }
  }


}
