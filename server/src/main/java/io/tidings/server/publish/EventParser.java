package io.tidings.server.publish;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import io.tidings.core.EventTypes;
import io.tidings.core.NewEvent;
import io.tidings.server.http.ApiException;
import io.tidings.server.http.Json;
import io.vertx.core.buffer.Buffer;
import java.io.IOException;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;

/**
 * Turns a publish body (one event object or an array of them) into validated {@link NewEvent}s.
 * Every rule broken is a {@code 400} that names the event and field, and nothing is appended.
 */
public final class EventParser {
  private final long maxDataSize;
  private final int maxBatch;

  public EventParser(long maxDataSize, int maxBatch) {
    this.maxDataSize = maxDataSize;
    this.maxBatch = maxBatch;
  }

  /** Parses a body read from the wire. */
  public List<NewEvent> parse(Buffer body) {
    if (body.length() == 0) {
      throw ApiException.badRequest("invalid_body", "the body is empty; send an event object or an array of them");
    }
    JsonNode root;
    try {
      root = Json.MAPPER.readTree(body.getBytes());
    } catch (JsonProcessingException e) {
      throw ApiException.badRequest("invalid_json", "the body is not valid JSON: " + e.getOriginalMessage());
    } catch (IOException e) {
      throw ApiException.badRequest("invalid_json", "the body is not valid JSON");
    }
    return parse(root);
  }

  /** Parses an already-decoded body (also used by transports that carry JSON themselves). */
  public List<NewEvent> parse(JsonNode root) {
    if (root == null || root.isMissingNode()) {
      throw ApiException.badRequest("invalid_body", "the body is empty; send an event object or an array of them");
    }
    List<NewEvent> events = new ArrayList<>();
    if (root.isArray()) {
      if (root.isEmpty()) {
        throw ApiException.badRequest("invalid_body", "the array holds no events");
      }
      if (root.size() > maxBatch) {
        throw ApiException.badRequest("too_many_events", "at most " + maxBatch + " events per request");
      }
      for (int i = 0; i < root.size(); i++) {
        events.add(event(root.get(i), "events[" + i + "]"));
      }
    } else if (root.isObject()) {
      events.add(event(root, "event"));
    } else {
      throw ApiException.badRequest("invalid_body", "send an event object or an array of them");
    }
    return events;
  }

  private NewEvent event(JsonNode node, String where) {
    if (!node.isObject()) {
      throw ApiException.badRequest("invalid_event", where + " is not an object");
    }
    for (Iterator<Map.Entry<String, JsonNode>> it = node.fields(); it.hasNext(); ) {
      String field = it.next().getKey();
      if (!field.equals("type") && !field.equals("key") && !field.equals("data") && !field.equals("id")) {
        throw ApiException.badRequest("invalid_event",
            where + " has an unknown field '" + field + "' (allowed: type, key, data, id)");
      }
    }
    String type = optionalString(node, "type", where);
    if (type == null) {
      type = EventTypes.MESSAGE;
    } else if (!EventTypes.isValid(type)) {
      throw ApiException.badRequest("invalid_event", where + ".type must match [a-z0-9_.-]{1,64}");
    } else if (EventTypes.RESERVED.contains(type)) {
      throw ApiException.badRequest("invalid_event", where + ".type '" + type
          + "' is reserved (reset, subscribed and error name the push transports' own messages)");
    }
    String key = optionalString(node, "key", where);
    if (key != null && (key.isEmpty() || key.length() > EventTypes.MAX_KEY_LENGTH)) {
      throw ApiException.badRequest("invalid_event", where + ".key must be 1-" + EventTypes.MAX_KEY_LENGTH + " characters");
    }
    if (key == null && EventTypes.isStateChange(type)) {
      throw ApiException.badRequest("invalid_event", where + " of type " + type + " needs a key");
    }
    String id = optionalString(node, "id", where);
    if (id != null && (id.isEmpty() || id.length() > EventTypes.MAX_ID_LENGTH)) {
      throw ApiException.badRequest("invalid_event", where + ".id must be 1-" + EventTypes.MAX_ID_LENGTH + " characters");
    }
    JsonNode dataNode = node.get("data");
    String data = null;
    if (EventTypes.DELETE.equals(type)) {
      if (dataNode != null && !dataNode.isNull()) {
        throw ApiException.badRequest("invalid_event", where + ": a delete carries no data");
      }
    } else if (dataNode != null) {
      try {
        data = Json.MAPPER.writeValueAsString(dataNode);
      } catch (JsonProcessingException e) {
        throw ApiException.badRequest("invalid_event", where + ".data cannot be encoded");
      }
      // A char is 1-3 UTF-8 bytes: only count bytes when the length leaves doubt.
      if (data.length() > maxDataSize
          || ((long) data.length() * 3 > maxDataSize
              && data.getBytes(java.nio.charset.StandardCharsets.UTF_8).length > maxDataSize)) {
        throw new ApiException(413, "payload_too_large",
            where + ".data is larger than " + maxDataSize + " bytes once serialized");
      }
    }
    if (hasLoneSurrogate(key) || hasLoneSurrogate(id) || hasLoneSurrogate(data)) {
      // Such text has no UTF-8 form: storing it would silently change it.
      throw ApiException.badRequest("invalid_event", where + " holds an unpaired UTF-16 surrogate (\\ud800-\\udfff)");
    }
    return new NewEvent(type, key, data, id);
  }

  private static boolean hasLoneSurrogate(String s) {
    if (s == null) {
      return false;
    }
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      if (Character.isHighSurrogate(c) && i + 1 < s.length() && Character.isLowSurrogate(s.charAt(i + 1))) {
        i++;
      } else if (Character.isSurrogate(c)) {
        return true;
      }
    }
    return false;
  }

  private static String optionalString(JsonNode node, String field, String where) {
    JsonNode value = node.get(field);
    if (value == null || value.isNull()) {
      return null;
    }
    if (!value.isTextual()) {
      throw ApiException.badRequest("invalid_event", where + "." + field + " must be a string");
    }
    return value.textValue();
  }
}
