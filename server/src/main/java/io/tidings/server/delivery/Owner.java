package io.tidings.server.delivery;

import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.databind.JsonNode;
import io.tidings.server.auth.GrantPattern;
import io.tidings.server.auth.Principal;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;

/**
 * Who registered a webhook endpoint or push subscription, and the topics it could subscribe to
 * then: deliveries never carry a topic its owner could not have read.
 *
 * @param key {@code kind:name} of the principal, which identifies the owner in later requests
 * @param subject what {@code {sub}} stands for in its grants, or {@code null}
 * @param subscribe its subscribe grant patterns as written
 */
public record Owner(String key, String subject, List<String> subscribe) {
  public Owner {
    subscribe = List.copyOf(subscribe);
  }

  /** The owner a request's principal makes. */
  public static Owner of(Principal principal) {
    return new Owner(keyOf(principal), principal.subject(), principal.grants().subscribeTexts());
  }

  /** The key by which {@code principal} is recognised as an owner. */
  public static String keyOf(Principal principal) {
    return principal.kind().name().toLowerCase(java.util.Locale.ROOT) + ":" + principal.name();
  }

  /** Whether {@code principal} may see and manage what this owner registered. */
  public boolean ownedBy(Principal principal) {
    return principal.admin() || key.equals(keyOf(principal));
  }

  /** Compiles the grant patterns, once per definition. */
  public List<GrantPattern> grants() {
    List<GrantPattern> out = new ArrayList<>(subscribe.size());
    for (String s : subscribe) {
      out.add(GrantPattern.compile(s));
    }
    return out;
  }

  void write(JsonGenerator gen) throws IOException {
    gen.writeObjectFieldStart("owner");
    gen.writeStringField("key", key);
    if (subject != null) {
      gen.writeStringField("subject", subject);
    }
    gen.writeArrayFieldStart("subscribe");
    for (String s : subscribe) {
      gen.writeString(s);
    }
    gen.writeEndArray();
    gen.writeEndObject();
  }

  /** Writes it as the {@code owner} field of a stored definition. */
  public static void write(JsonGenerator gen, Owner owner) throws IOException {
    owner.write(gen);
  }

  /** Reads the {@code owner} field of a stored definition. */
  public static Owner read(JsonNode node) {
    List<String> subscribe = new ArrayList<>();
    node.get("subscribe").forEach(n -> subscribe.add(n.asText()));
    return new Owner(node.get("key").asText(), node.hasNonNull("subject") ? node.get("subject").asText() : null,
        subscribe);
  }
}
