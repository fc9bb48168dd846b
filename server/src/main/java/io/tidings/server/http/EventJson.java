package io.tidings.server.http;

import com.fasterxml.jackson.core.JsonGenerator;
import io.tidings.core.Event;
import io.tidings.core.TopicHead;
import java.io.IOException;

/** The event object of the wire contract, identical on every transport. */
public final class EventJson {
  private EventJson() {}

  /**
   * Writes {@code {"topic","offset","cursor","id"?,"type","key"?,"data"?,"time"}}.
   *
   * @param withData false in notify mode, where {@code data} is left out
   */
  public static void write(JsonGenerator gen, Event e, boolean withData) throws IOException {
    gen.writeStartObject();
    writeFields(gen, e, withData);
    gen.writeEndObject();
  }

  /** Writes the fields of {@link #write} into an object the caller has started. */
  public static void writeFields(JsonGenerator gen, Event e, boolean withData) throws IOException {
    gen.writeStringField("topic", e.topic());
    gen.writeNumberField("offset", e.offset());
    gen.writeStringField("cursor", e.cursor().encode());
    if (e.id() != null) {
      gen.writeStringField("id", e.id());
    }
    gen.writeStringField("type", e.type());
    if (e.key() != null) {
      gen.writeStringField("key", e.key());
    }
    if (withData && e.data() != null) {
      gen.writeFieldName("data");
      gen.writeRawValue(e.data());
    }
    gen.writeStringField("time", HttpDates.iso(e.time()));
  }

  /** Writes the topic summary used by {@code GET /v1/topics}. */
  public static void writeTopic(JsonGenerator gen, TopicHead h) throws IOException {
    gen.writeStartObject();
    gen.writeStringField("topic", h.topic());
    gen.writeStringField("cursor", h.cursor().encode());
    gen.writeNumberField("first_offset", h.firstOffset());
    gen.writeNumberField("last_offset", h.lastOffset());
    gen.writeNumberField("keys", h.keys());
    if (h.lastOffset() > 0) {
      gen.writeStringField("last_event_time", HttpDates.iso(h.lastTime()));
    } else {
      gen.writeNullField("last_event_time");
    }
    gen.writeEndObject();
  }
}
