package io.tidings.server.delivery;

import com.fasterxml.jackson.core.JsonGenerator;
import io.tidings.core.Cursor;
import io.tidings.core.Event;
import io.tidings.core.StateEntry;
import io.tidings.server.http.EventJson;
import java.io.IOException;

/** One entry of a delivered batch: an event, a reset marker, or a state entry sent after a reset. */
public sealed interface Item permits Item.Change, Item.Reset, Item.Put {

  /** The topic it belongs to. */
  String topic();

  /** The cursor a receiver stands at once it has this item. */
  Cursor cursor();

  /** Rough size in bytes of its JSON, for keeping requests under a body limit. */
  int weight();

  /** Writes the item's JSON object: the same event object as on every other transport. */
  void write(JsonGenerator gen, boolean withData) throws IOException;

  /** A logged event. */
  record Change(Event event) implements Item {
    @Override
    public String topic() {
      return event.topic();
    }

    @Override
    public Cursor cursor() {
      return event.cursor();
    }

    @Override
    public int weight() {
      return 160 + event.topic().length() + (event.key() == null ? 0 : event.key().length())
          + (event.data() == null ? 0 : event.data().length()) + (event.id() == null ? 0 : event.id().length());
    }

    @Override
    public void write(JsonGenerator gen, boolean withData) throws IOException {
      EventJson.write(gen, event, withData);
    }
  }

  /**
   * The receiver's cursor cannot be continued (another epoch, or older than retention): it starts
   * over at {@code cursor}; when {@code state} is true the topic's state follows as {@code put}s.
   */
  record Reset(String topic, Cursor cursor, String reason, boolean state) implements Item {
    @Override
    public int weight() {
      return 120 + topic.length();
    }

    @Override
    public void write(JsonGenerator gen, boolean withData) throws IOException {
      gen.writeStartObject();
      gen.writeStringField("topic", topic);
      gen.writeStringField("type", "reset");
      gen.writeStringField("cursor", cursor.encode());
      gen.writeStringField("reason", reason);
      gen.writeBooleanField("state", state);
      gen.writeEndObject();
    }
  }

  /** A state entry after a reset; its cursor is where the reset resumes, as on SSE and WebSocket. */
  record Put(String topic, StateEntry entry, Cursor cursor) implements Item {
    @Override
    public int weight() {
      return 160 + topic.length() + entry.key().length() + (entry.data() == null ? 0 : entry.data().length());
    }

    @Override
    public void write(JsonGenerator gen, boolean withData) throws IOException {
      gen.writeStartObject();
      EventJson.writePutFields(gen, topic, entry, cursor, withData);
      gen.writeEndObject();
    }
  }
}
