package io.tidings.server.delivery;

import com.fasterxml.jackson.databind.JsonNode;
import io.tidings.core.TopicPattern;
import io.tidings.core.Topics;
import io.tidings.server.auth.Principal;
import io.tidings.server.http.ApiException;
import java.util.ArrayList;
import java.util.List;

/** The {@code topics} of a webhook endpoint or push subscription: names and patterns, checked. */
public final class TopicList {
  /** Most topics or patterns one target lists. */
  public static final int MAX = 100;

  private TopicList() {}

  /** Parses a JSON list of 1-{@link #MAX} topic names or patterns, without repeats. */
  public static List<String> parse(JsonNode v) {
    if (v == null || !v.isArray() || v.isEmpty() || v.size() > MAX) {
      throw ApiException.badRequest("invalid_request", "topics must be a list of 1-" + MAX + " topic names or patterns");
    }
    List<String> out = new ArrayList<>();
    for (JsonNode t : v) {
      if (!t.isTextual()) {
        throw ApiException.badRequest("invalid_request", "topics must hold strings");
      }
      String text = t.asText();
      String problem;
      if (text.contains("*")) {
        try {
          TopicPattern.compile(text);
          problem = text.length() > Topics.MAX_LENGTH ? "topic pattern is longer than " + Topics.MAX_LENGTH : null;
        } catch (IllegalArgumentException e) {
          problem = e.getMessage();
        }
      } else {
        problem = Topics.problem(text);
      }
      if (problem != null) {
        throw ApiException.badRequest("invalid_topic", problem);
      }
      if (!out.contains(text)) {
        out.add(text);
      }
    }
    return out;
  }

  /**
   * Refuses a topic named exactly that {@code principal} may not subscribe to. Patterns pass:
   * deliveries are limited to the topics the owner's grants allow ({@link TopicFilter}).
   */
  public static void checkGrants(Principal principal, List<String> topics) {
    for (String t : topics) {
      if (!t.contains("*") && !principal.maySubscribe(t)) {
        throw new ApiException(403, "forbidden", "these credentials may not subscribe to " + t);
      }
    }
  }
}
