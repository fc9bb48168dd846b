package io.tidings.server.webhooks;

import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.databind.JsonNode;
import io.tidings.server.delivery.Owner;
import io.tidings.server.http.HttpDates;
import io.tidings.server.http.Json;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;

/**
 * A registered webhook endpoint, as stored (space {@code webhooks}). Immutable: every change makes
 * a new one.
 *
 * @param secrets signing secrets in use, newest first
 * @param rateLimit requests per second, or {@code null} for the server's default
 * @param disabledReason why it is disabled ({@code gone}, {@code failing}, {@code manual}), or {@code null} while enabled
 */
public record WebhookEndpoint(String id, String url, List<String> topics, boolean notifyMode, int maxEvents,
    long maxWaitMillis, String description, Double rateLimit, boolean enabled, String disabledReason, long disabledAt,
    long createdAt, long updatedAt, Owner owner, List<Secret> secrets) {

  public WebhookEndpoint {
    topics = List.copyOf(topics);
    secrets = List.copyOf(secrets);
  }

  /**
   * A signing secret.
   *
   * @param expiresAt when it stops signing (epoch millis), or 0 for never
   */
  public record Secret(String value, long createdAt, long expiresAt) {}

  /** The secrets that sign at {@code now}, newest first. */
  public List<String> signingSecrets(long now) {
    List<String> out = new ArrayList<>(secrets.size());
    for (Secret s : secrets) {
      if (s.expiresAt() == 0 || s.expiresAt() > now) {
        out.add(s.value());
      }
    }
    return out;
  }

  WebhookEndpoint with(boolean enabled, String reason, long now) {
    return new WebhookEndpoint(id, url, topics, notifyMode, maxEvents, maxWaitMillis, description, rateLimit, enabled,
        enabled ? null : reason, enabled ? 0 : now, createdAt, now, owner, secrets);
  }

  WebhookEndpoint withSecrets(List<Secret> newSecrets, long now) {
    return new WebhookEndpoint(id, url, topics, notifyMode, maxEvents, maxWaitMillis, description, rateLimit, enabled,
        disabledReason, disabledAt, createdAt, now, owner, newSecrets);
  }

  /** The stored form, secrets included. */
  String toStored() {
    return Json.bytesToString(gen -> write(gen, true));
  }

  /** Writes the API form: everything but the secrets (unless {@code withSecrets}, for the store). */
  void write(JsonGenerator gen, boolean withSecrets) throws IOException {
    gen.writeStartObject();
    writeFields(gen, withSecrets);
    gen.writeEndObject();
  }

  void writeFields(JsonGenerator gen, boolean stored) throws IOException {
    gen.writeStringField("id", id);
    gen.writeStringField("url", url);
    gen.writeArrayFieldStart("topics");
    for (String t : topics) {
      gen.writeString(t);
    }
    gen.writeEndArray();
    gen.writeStringField("mode", notifyMode ? "notify" : "full");
    gen.writeObjectFieldStart("batch");
    gen.writeNumberField("max_events", maxEvents);
    gen.writeNumberField("max_wait_ms", maxWaitMillis);
    gen.writeEndObject();
    if (description != null) {
      gen.writeStringField("description", description);
    } else {
      gen.writeNullField("description");
    }
    if (rateLimit != null) {
      gen.writeNumberField("rate_limit", rateLimit);
    } else {
      gen.writeNullField("rate_limit");
    }
    gen.writeBooleanField("enabled", enabled);
    if (!enabled) {
      gen.writeStringField("disabled_reason", disabledReason);
    }
    if (stored) {
      gen.writeNumberField("disabled_at", disabledAt);
      gen.writeNumberField("created_at", createdAt);
      gen.writeNumberField("updated_at", updatedAt);
      Owner.write(gen, owner);
      gen.writeArrayFieldStart("secrets");
      for (Secret s : secrets) {
        gen.writeStartObject();
        gen.writeStringField("value", s.value());
        gen.writeNumberField("created_at", s.createdAt());
        gen.writeNumberField("expires_at", s.expiresAt());
        gen.writeEndObject();
      }
      gen.writeEndArray();
    } else {
      if (!enabled) {
        gen.writeStringField("disabled_at", HttpDates.iso(disabledAt));
      }
      gen.writeStringField("created_at", HttpDates.iso(createdAt));
      gen.writeStringField("updated_at", HttpDates.iso(updatedAt));
      gen.writeStringField("owner", owner.key());
    }
  }

  static WebhookEndpoint fromStored(String text) {
    JsonNode n = Json.parse(text);
    List<String> topics = new ArrayList<>();
    n.get("topics").forEach(t -> topics.add(t.asText()));
    List<Secret> secrets = new ArrayList<>();
    n.get("secrets").forEach(s -> secrets.add(new Secret(s.get("value").asText(), s.get("created_at").asLong(),
        s.get("expires_at").asLong())));
    JsonNode batch = n.get("batch");
    return new WebhookEndpoint(n.get("id").asText(), n.get("url").asText(), topics,
        "notify".equals(n.get("mode").asText()), batch.get("max_events").asInt(), batch.get("max_wait_ms").asLong(),
        n.hasNonNull("description") ? n.get("description").asText() : null,
        n.hasNonNull("rate_limit") ? n.get("rate_limit").asDouble() : null, n.get("enabled").asBoolean(),
        n.hasNonNull("disabled_reason") ? n.get("disabled_reason").asText() : null, n.get("disabled_at").asLong(),
        n.get("created_at").asLong(), n.get("updated_at").asLong(), Owner.read(n.get("owner")), secrets);
  }
}
