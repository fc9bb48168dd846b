package io.tidings.server.graphql;

import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.databind.JsonSerializer;
import com.fasterxml.jackson.databind.SerializerProvider;
import com.fasterxml.jackson.databind.annotation.JsonSerialize;
import java.io.IOException;

/**
 * A JSON value kept as the compact text the store holds: results carry it as is and it is written
 * raw, so an event's data is never parsed to be sent.
 */
@JsonSerialize(using = RawJson.Writer.class)
record RawJson(String text) {

  /** Writes the text verbatim. */
  static final class Writer extends JsonSerializer<RawJson> {
    @Override
    public void serialize(RawJson value, JsonGenerator gen, SerializerProvider serializers) throws IOException {
      gen.writeRawValue(value.text());
    }
  }

  /** {@code null} for absent data, else the value. */
  static RawJson of(String text) {
    return text == null ? null : new RawJson(text);
  }
}
