package io.tidings.server.push;

import io.tidings.core.Cursor;
import io.tidings.core.Event;
import io.tidings.core.StateEntry;
import io.tidings.core.hub.EventBatch;
import io.tidings.core.hub.EventEncoding;
import io.tidings.server.http.EventJson;
import io.tidings.server.http.HttpDates;
import io.tidings.server.http.Json;
import java.nio.charset.StandardCharsets;
import java.util.List;

/**
 * The push wire formats of events. Each is computed once per batch and shared by every connection
 * that receives it (see {@link EventBatch#encoded}); each holds one byte array per event.
 */
final class WireFormats {
  private WireFormats() {}

  /**
   * Complete WebSocket text frames (header and payload) of {@code {"op":"event",...}}: a server's
   * frames are not masked, so the same bytes are valid on every connection.
   */
  static final EventEncoding<byte[][]> WS_FULL = perEvent(e -> wsFrame(wsEvent(e, true)));
  static final EventEncoding<byte[][]> WS_NOTIFY = perEvent(e -> wsFrame(wsEvent(e, false)));
  /** SSE blocks without an id line, for streams whose id covers several topics. */
  static final EventEncoding<byte[][]> SSE_FULL = perEvent(e -> sseEvent(null, e, true));
  static final EventEncoding<byte[][]> SSE_NOTIFY = perEvent(e -> sseEvent(null, e, false));
  /** SSE blocks whose id is the event's own cursor, for single-topic streams. */
  static final EventEncoding<byte[][]> SSE_FULL_ID = perEvent(e -> sseEvent(e.cursor().encode(), e, true));
  static final EventEncoding<byte[][]> SSE_NOTIFY_ID = perEvent(e -> sseEvent(e.cursor().encode(), e, false));
  /** The same as HTTP/1.1 chunks, for streams written straight to their socket. */
  static final EventEncoding<byte[][]> SSE_FULL_ID_CHUNK = perEvent(e -> chunk(sseEvent(e.cursor().encode(), e, true)));
  static final EventEncoding<byte[][]> SSE_NOTIFY_ID_CHUNK =
      perEvent(e -> chunk(sseEvent(e.cursor().encode(), e, false)));

  private interface EventWriter {
    byte[] write(Event e);
  }

  private static EventEncoding<byte[][]> perEvent(EventWriter writer) {
    return new EventEncoding<>() {
      @Override
      protected byte[][] encode(EventBatch batch) {
        List<Event> events = batch.events();
        byte[][] out = new byte[events.size()][];
        for (int i = 0; i < out.length; i++) {
          out[i] = writer.write(events.get(i));
        }
        return out;
      }
    };
  }

  /** An unmasked, final WebSocket text frame carrying {@code payload}. */
  static byte[] wsFrame(byte[] payload) {
    return frame(0x81, payload);
  }

  /** An unmasked, final WebSocket frame of the given first byte (FIN and opcode). */
  static byte[] frame(int finAndOpcode, byte[] payload) {
    int n = payload.length;
    int header = n < 126 ? 2 : n < 65536 ? 4 : 10;
    byte[] out = new byte[header + n];
    out[0] = (byte) finAndOpcode;
    if (n < 126) {
      out[1] = (byte) n;
    } else if (n < 65536) {
      out[1] = 126;
      out[2] = (byte) (n >>> 8);
      out[3] = (byte) n;
    } else {
      out[1] = 127;
      for (int i = 0; i < 8; i++) {
        out[2 + i] = (byte) (((long) n) >>> (56 - 8 * i));
      }
    }
    System.arraycopy(payload, 0, out, header, n);
    return out;
  }

  /** {@code payload} as one HTTP/1.1 chunk: its size in hex, CRLF, the bytes, CRLF. */
  static byte[] chunk(byte[] payload) {
    byte[] size = (Integer.toHexString(payload.length) + "\r\n").getBytes(StandardCharsets.US_ASCII);
    byte[] out = new byte[size.length + payload.length + 2];
    System.arraycopy(size, 0, out, 0, size.length);
    System.arraycopy(payload, 0, out, size.length, payload.length);
    out[out.length - 2] = '\r';
    out[out.length - 1] = '\n';
    return out;
  }

  static byte[] wsEvent(Event e, boolean withData) {
    return Json.bytes(gen -> {
      gen.writeStartObject();
      gen.writeStringField("op", "event");
      EventJson.writeFields(gen, e, withData);
      gen.writeEndObject();
    });
  }

  static byte[] sseEvent(String id, Event e, boolean withData) {
    byte[] json = Json.bytes(gen -> EventJson.write(gen, e, withData));
    return sseBlock(id, e.type(), json);
  }

  /** {@code id: ..\nevent: ..\ndata: ..\n\n}; the id line only when {@code id} is not null. */
  static byte[] sseBlock(String id, String type, byte[] data) {
    StringBuilder head = new StringBuilder(48);
    if (id != null) {
      head.append("id: ").append(id).append('\n');
    }
    head.append("event: ").append(type).append("\ndata: ");
    byte[] h = head.toString().getBytes(StandardCharsets.US_ASCII);
    byte[] out = new byte[h.length + data.length + 2];
    System.arraycopy(h, 0, out, 0, h.length);
    System.arraycopy(data, 0, out, h.length, data.length);
    out[out.length - 2] = '\n';
    out[out.length - 1] = '\n';
    return out;
  }

  /**
   * The event object of a state {@code put}: like any event, but its {@code cursor} is where the
   * client stands, not the position after the entry's own offset.
   */
  static byte[] putJson(String topic, StateEntry entry, Cursor cursor, boolean withData, String op) {
    return Json.bytes(gen -> {
      gen.writeStartObject();
      if (op != null) {
        gen.writeStringField("op", op);
      }
      EventJson.writePutFields(gen, topic, entry, cursor, withData);
      gen.writeEndObject();
    });
  }


  /** {@code {"topic","cursor","reason"}}, with {@code op} first when given. */
  static byte[] resetJson(String topic, Cursor cursor, String reason, boolean stateFollows, String op) {
    return Json.bytes(gen -> {
      gen.writeStartObject();
      if (op != null) {
        gen.writeStringField("op", op);
      }
      gen.writeStringField("topic", topic);
      gen.writeStringField("cursor", cursor.encode());
      gen.writeStringField("reason", reason);
      gen.writeBooleanField("state", stateFollows);
      gen.writeEndObject();
    });
  }
}
