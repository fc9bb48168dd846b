package io.tidings.server.config;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.databind.DeserializationContext;
import com.fasterxml.jackson.databind.JsonDeserializer;
import java.io.IOException;

/** Reads a size in bytes from a number or a text such as {@code 64KiB}. */
final class SizeDeserializer extends JsonDeserializer<Long> {
  @Override
  public Long deserialize(JsonParser p, DeserializationContext ctxt) throws IOException {
    if (p.currentToken() == JsonToken.VALUE_NUMBER_INT) {
      return p.getLongValue();
    }
    try {
      return DataSizes.parse(p.getValueAsString());
    } catch (IllegalArgumentException e) {
      throw ctxt.weirdStringException(p.getValueAsString(), Long.class, e.getMessage());
    }
  }
}
