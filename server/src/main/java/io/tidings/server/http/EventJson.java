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

  /**
   * Writes the fields of a state entry sent as a {@code put} event after a reset: like any event,
   * but its {@code cursor} is where the receiver stands, not the position after the entry's own offset.
   */
  public static void writePutFields(JsonGenerator gen, String topic, io.tidings.core.StateEntry entry,
      io.tidings.core.Cursor cursor, boolean withData) throws IOException {
    gen.writeStringField("topic", topic);
    gen.writeNumberField("offset", entry.offset());
    gen.writeStringField("cursor", cursor.encode());
    gen.writeStringField("type", "put");
    gen.writeStringField("key", entry.key());
    if (withData && entry.data() != null) {
      gen.writeFieldName("data");
      gen.writeRawValue(entry.data());
    }
    gen.writeStringField("time", HttpDates.iso(entry.time()));
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
