package io.tidings.server.http;

import io.tidings.core.InvalidCursorException;
import io.tidings.core.Position;
import io.tidings.core.Topics;
import io.vertx.core.MultiMap;
import io.vertx.core.http.HttpServerRequest;
import java.math.BigDecimal;
import java.util.List;

/** Reads and validates query parameters; every problem is a {@code 400} naming the parameter. */
public final class Params {
  private final MultiMap params;

  private Params(MultiMap params) {
    this.params = params;
  }

  /** The query parameters of {@code request}. */
  public static Params of(HttpServerRequest request) {
    try {
      return new Params(request.params());
    } catch (IllegalArgumentException e) {
      throw ApiException.badRequest("invalid_query", "the query string is not well formed");
    }
  }

  /** A parameter given at most once, or {@code null}. */
  public String single(String name) {
    List<String> all = params.getAll(name);
    if (all.isEmpty()) {
      return null;
    }
    if (all.size() > 1) {
      throw ApiException.badRequest("invalid_parameter", "'" + name + "' is given more than once");
    }
    return all.get(0);
  }

  /** All values of a repeatable parameter. */
  public List<String> all(String name) {
    return params.getAll(name);
  }

  /** The required, valid {@code topic}. */
  public String topic() {
    String topic = single("topic");
    if (topic == null) {
      throw ApiException.badRequest("invalid_topic", "the 'topic' parameter is required");
    }
    String problem = Topics.problem(topic);
    if (problem != null) {
      throw ApiException.badRequest("invalid_topic", problem);
    }
    return topic;
  }

  /** A start position ({@code earliest}, {@code now} or a cursor); {@code fallback} when absent. */
  public Position position(String name, Position fallback) {
    String text = single(name);
    if (text == null) {
      return fallback;
    }
    try {
      return Position.parse(text);
    } catch (InvalidCursorException e) {
      throw ApiException.badRequest("invalid_cursor", "'" + name + "': " + e.getMessage());
    }
  }

  /** An integer within {@code [min, max]}; {@code fallback} when absent. */
  public int integer(String name, int fallback, int min, int max) {
    String text = single(name);
    if (text == null) {
      return fallback;
    }
    long value;
    try {
      if (text.isEmpty() || text.length() > 10 || text.startsWith("+")) {
        throw new NumberFormatException();
      }
      value = Long.parseLong(text);
    } catch (NumberFormatException e) {
      throw ApiException.badRequest("invalid_parameter", "'" + name + "' must be an integer from " + min + " to " + max);
    }
    if (value < min || value > max) {
      throw ApiException.badRequest("invalid_parameter", "'" + name + "' must be from " + min + " to " + max);
    }
    return (int) value;
  }

  /** A number of seconds within {@code [0, maxSeconds]}, decimals allowed, as milliseconds. */
  public long seconds(String name, long maxSeconds) {
    String text = single(name);
    if (text == null) {
      return 0;
    }
    BigDecimal value;
    try {
      if (text.isEmpty() || text.length() > 16 || !text.matches("[0-9]+(\\.[0-9]+)?")) {
        throw new NumberFormatException();
      }
      value = new BigDecimal(text);
    } catch (NumberFormatException e) {
      throw ApiException.badRequest("invalid_parameter", "'" + name + "' must be a number of seconds from 0 to " + maxSeconds);
    }
    if (value.compareTo(BigDecimal.valueOf(maxSeconds)) > 0) {
      throw ApiException.badRequest("invalid_parameter", "'" + name + "' must be from 0 to " + maxSeconds + " seconds");
    }
    return value.movePointRight(3).longValue();
  }

  /** {@code full} (default) or {@code notify}; returns whether notify mode was asked for. */
  public boolean notifyMode() {
    String mode = single("mode");
    if (mode == null || mode.equals("full")) {
      return false;
    }
    if (mode.equals("notify")) {
      return true;
    }
    throw ApiException.badRequest("invalid_parameter", "'mode' must be 'full' or 'notify'");
  }

  /** An optional free-text parameter of at most {@code maxLength} characters. */
  public String text(String name, int maxLength) {
    String text = single(name);
    if (text != null && text.length() > maxLength) {
      throw ApiException.badRequest("invalid_parameter", "'" + name + "' is longer than " + maxLength + " characters");
    }
    return text;
  }
}
