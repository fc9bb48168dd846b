package io.tidings.server.delivery;

import com.fasterxml.jackson.databind.JsonNode;
import io.tidings.core.Cursor;
import io.tidings.server.http.Json;

/**
 * The message a target is being sent, kept in the store before its first attempt so that a
 * restart sends the same message under the same id, and how its retries stand.
 *
 * @param messageId the message's id, the same on every attempt
 * @param topic its topic
 * @param from the cursor before its first item (events); the cursor kept while a reset runs (state)
 * @param through the offset of its last event (events), or -1 (state)
 * @param reset the reset page it carries, or {@code null} for events
 * @param attempt the number of the next attempt
 * @param nextAt when the next attempt may go, epoch millis
 * @param failingSince when its first failed attempt was, or 0
 * @param notifyOnly send it without data
 */
record Pending(String messageId, String topic, Cursor from, long through, ResetPage reset, int attempt, long nextAt,
    long failingSince, boolean notifyOnly) {

  /**
   * A page of a reset: the marker (first page) and state entries from after {@code afterKey}.
   *
   * @param at where the receiver resumes once the state is complete
   * @param reason why the reset happened
   * @param first whether this page starts with the reset marker
   * @param afterKey the state key this page follows, or {@code null} from the start
   * @param limit how many entries it holds at most
   */
  record ResetPage(Cursor at, String reason, boolean first, String afterKey, int limit) {}

  Pending retried(long nextAt, long failingSince) {
    return new Pending(messageId, topic, from, through, reset, attempt + 1, nextAt, failingSince, notifyOnly);
  }

  Pending withoutData(long now) {
    return new Pending(messageId, topic, from, through, reset, attempt, now, failingSince, true);
  }

  Pending restarted(long now) {
    return new Pending(messageId, topic, from, through, reset, 1, now, 0, notifyOnly);
  }

  String toJson() {
    return Json.bytesToString(gen -> {
      gen.writeStartObject();
      gen.writeStringField("id", messageId);
      gen.writeStringField("topic", topic);
      if (from != null) {
        gen.writeStringField("from", from.encode());
      }
      gen.writeNumberField("through", through);
      if (reset != null) {
        gen.writeObjectFieldStart("reset");
        gen.writeStringField("at", reset.at().encode());
        gen.writeStringField("reason", reset.reason());
        gen.writeBooleanField("first", reset.first());
        if (reset.afterKey() != null) {
          gen.writeStringField("after_key", reset.afterKey());
        }
        gen.writeNumberField("limit", reset.limit());
        gen.writeEndObject();
      }
      gen.writeNumberField("attempt", attempt);
      gen.writeNumberField("next_at", nextAt);
      gen.writeNumberField("failing_since", failingSince);
      gen.writeBooleanField("notify", notifyOnly);
      gen.writeEndObject();
    });
  }

  static Pending fromJson(String text) {
    JsonNode n = Json.parse(text);
    JsonNode r = n.get("reset");
    ResetPage page = r == null ? null : new ResetPage(Cursor.parse(r.get("at").asText()), r.get("reason").asText(),
        r.get("first").asBoolean(), r.hasNonNull("after_key") ? r.get("after_key").asText() : null,
        r.get("limit").asInt());
    return new Pending(n.get("id").asText(), n.get("topic").asText(),
        n.hasNonNull("from") ? Cursor.parse(n.get("from").asText()) : null, n.get("through").asLong(), page,
        n.get("attempt").asInt(), n.get("next_at").asLong(), n.get("failing_since").asLong(),
        n.get("notify").asBoolean());
  }
}
