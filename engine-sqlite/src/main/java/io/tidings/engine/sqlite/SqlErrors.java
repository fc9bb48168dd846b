package io.tidings.engine.sqlite;

import io.tidings.core.EngineException;
import io.tidings.core.EngineUnavailableException;
import java.sql.SQLException;
import org.sqlite.SQLiteException;

/** Turns SQLite failures into engine exceptions, telling "retry later" apart from the rest. */
final class SqlErrors {
  private static final int BUSY = 5;
  private static final int LOCKED = 6;
  private static final int NOMEM = 7;
  private static final int READONLY = 8;
  private static final int IOERR = 10;
  private static final int FULL = 13;
  private static final int CANTOPEN = 14;
  private static final int PROTOCOL = 15;

  private SqlErrors() {}

  /**
   * Wraps {@code e}: a full disk, an I/O error, a lock or an unopenable file is a condition that
   * may clear up, so callers get {@link EngineUnavailableException} (HTTP 503 + Retry-After).
   */
  static EngineException wrap(String what, SQLException e) {
    if (e instanceof SQLiteException se) {
      int primary = se.getResultCode().code & 0xff;
      switch (primary) {
        case BUSY, LOCKED, NOMEM, READONLY, IOERR, FULL, CANTOPEN, PROTOCOL -> {
          return new EngineUnavailableException(what + ": " + e.getMessage(), e);
        }
        default -> {
          // fall through to the generic wrapper
        }
      }
    }
    return new EngineException(what + ": " + e.getMessage(), e);
  }

  /** Wraps any failure into an {@link EngineException} (keeping one that already is). */
  static EngineException wrap(String what, Throwable t) {
    if (t instanceof EngineException ee) {
      return ee;
    }
    if (t instanceof SQLException se) {
      return wrap(what, se);
    }
    return new EngineException(what + ": " + t, t);
  }
}
