package io.tidings.server.webpush;

import com.fasterxml.jackson.databind.JsonNode;
import io.tidings.server.delivery.Owner;
import io.tidings.server.http.HttpDates;
import io.tidings.server.http.Json;
import java.util.ArrayList;
import java.util.List;

/**
 * A registered push subscription, as stored (space {@code webpush}).
 *
 * @param id the id its owner deletes it by (unguessable: holding it is the right to delete)
 * @param browser the browser's {@code PushSubscription} JSON as sent
 * @param keys what {@code browser} holds, checked
 */
record WebPushSubscription(String id, JsonNode browser, PushSubscriptionKeys keys, List<String> topics,
    boolean notifyMode, long createdAt, Owner owner) {

  WebPushSubscription {
    topics = List.copyOf(topics);
  }

  String toStored() {
    return Json.bytesToString(gen -> {
      gen.writeStartObject();
      gen.writeStringField("id", id);
      gen.writeFieldName("subscription");
      gen.writeTree(browser);
      writeCommon(gen);
      gen.writeNumberField("created_at", createdAt);
      Owner.write(gen, owner);
      gen.writeEndObject();
    });
  }

  /** The API form: never the keys. */
  io.vertx.core.buffer.Buffer toApi() {
    return Json.encode(gen -> {
      gen.writeStartObject();
      gen.writeStringField("id", id);
      gen.writeStringField("endpoint_origin", origin());
      writeCommon(gen);
      gen.writeStringField("created_at", HttpDates.iso(createdAt));
      gen.writeEndObject();
    });
  }

  private void writeCommon(com.fasterxml.jackson.core.JsonGenerator gen) throws java.io.IOException {
    gen.writeArrayFieldStart("topics");
    for (String t : topics) {
      gen.writeString(t);
    }
    gen.writeEndArray();
    gen.writeStringField("mode", notifyMode ? "notify" : "full");
  }

  String origin() {
    java.net.URI u = keys.endpoint();
    return u.getScheme() + "://" + u.getRawAuthority();
  }

  static WebPushSubscription fromStored(String text) {
    JsonNode n = Json.parse(text);
    List<String> topics = new ArrayList<>();
    n.get("topics").forEach(t -> topics.add(t.asText()));
    JsonNode browser = n.get("subscription");
    return new WebPushSubscription(n.get("id").asText(), browser, PushSubscriptionKeys.fromJson(browser), topics,
        "notify".equals(n.get("mode").asText()), n.get("created_at").asLong(), Owner.read(n.get("owner")));
  }
}
