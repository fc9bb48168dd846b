package io.tidings.server.config;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.databind.DeserializationContext;
import com.fasterxml.jackson.databind.JsonDeserializer;
import java.io.IOException;

/**
 * Reads {@code server.access_log}: {@code false} (off), {@code true} or {@code stdout} (standard
 * output), or a file path. Off is {@code null}.
 */
final class AccessLogDeserializer extends JsonDeserializer<String> {
  @Override
  public String deserialize(JsonParser p, DeserializationContext ctxt) throws IOException {
    JsonToken t = p.currentToken();
    if (t == JsonToken.VALUE_TRUE) {
      return "stdout";
    }
    if (t == JsonToken.VALUE_FALSE) {
      return null;
    }
    if (t == JsonToken.VALUE_STRING) {
      String v = p.getText().trim();
      if (v.isEmpty()) {
        throw ctxt.weirdStringException(v, String.class, "give true, false, stdout or a file path");
      }
      return switch (v) {
        case "true", "stdout" -> "stdout";
        case "false" -> null;
        default -> v;
      };
    }
    return (String) ctxt.handleUnexpectedToken(String.class, p);
  }

  @Override
  public String getNullValue(DeserializationContext ctxt) {
    return null;
  }
}
