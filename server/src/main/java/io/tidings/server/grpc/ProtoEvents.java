package io.tidings.server.grpc;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.google.protobuf.ByteString;
import com.google.protobuf.MessageLite;
import com.google.protobuf.Timestamp;
import io.tidings.core.AppendResult;
import io.tidings.core.Cursor;
import io.tidings.core.Event;
import io.tidings.core.StateEntry;
import io.tidings.core.hub.EventBatch;
import io.tidings.core.hub.EventEncoding;
import io.tidings.proto.v1.EventInput;
import io.tidings.proto.v1.PublishResponse;
import io.tidings.proto.v1.PublishedEvent;
import io.tidings.proto.v1.ServerMessage;
import io.tidings.server.http.ApiException;
import io.tidings.server.http.Json;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.List;

/**
 * Between the protobuf messages of {@code tidings.proto} and the hub's model: events, state
 * entries, publish input and outcomes. The event of a {@code Subscribe} stream is encoded once per
 * batch and mode for every subscriber ({@link #FULL}, {@link #NOTIFY}), as a complete gRPC message
 * (length prefix included) that is written to each stream as it is.
 */
final class ProtoEvents {
  private ProtoEvents() {}

  /** Length-prefixed {@code ServerMessage{event}} per event, with data. */
  static final EventEncoding<byte[][]> FULL = perEvent(true);
  /** The same without data (notify mode). */
  static final EventEncoding<byte[][]> NOTIFY = perEvent(false);

  private static EventEncoding<byte[][]> perEvent(boolean withData) {
    return new EventEncoding<>() {
      @Override
      protected byte[][] encode(EventBatch batch) {
        List<Event> events = batch.events();
        byte[][] out = new byte[events.size()][];
        for (int i = 0; i < out.length; i++) {
          out[i] = frame(ServerMessage.newBuilder().setEvent(event(events.get(i), withData)).build());
        }
        return out;
      }
    };
  }

  /**
   * {@code message} as one gRPC message on the wire: a zero byte (not compressed), its length as a
   * big-endian 32-bit number, then its bytes.
   */
  static byte[] frame(MessageLite message) {
    int n = message.getSerializedSize();
    byte[] out = new byte[5 + n];
    out[1] = (byte) (n >>> 24);
    out[2] = (byte) (n >>> 16);
    out[3] = (byte) (n >>> 8);
    out[4] = (byte) n;
    try {
      message.writeTo(com.google.protobuf.CodedOutputStream.newInstance(out, 5, n));
    } catch (IOException e) {
      throw new IllegalStateException("a protobuf message did not fit its own size", e);
    }
    return out;
  }

  static Timestamp time(long epochMillis) {
    return Timestamp.newBuilder().setSeconds(Math.floorDiv(epochMillis, 1000))
        .setNanos((int) Math.floorMod(epochMillis, 1000) * 1_000_000).build();
  }

  private static ByteString utf8(String json) {
    return ByteString.copyFrom(json, StandardCharsets.UTF_8);
  }

  /** The event object of the contract as a protobuf {@code Event}; {@code withData} false for notify mode. */
  static io.tidings.proto.v1.Event event(Event e, boolean withData) {
    io.tidings.proto.v1.Event.Builder b = io.tidings.proto.v1.Event.newBuilder()
        .setTopic(e.topic())
        .setOffset(e.offset())
        .setCursor(e.cursor().encode())
        .setType(e.type())
        .setTime(time(e.time()));
    if (e.id() != null) {
      b.setId(e.id());
    }
    if (e.key() != null) {
      b.setKey(e.key());
    }
    if (withData && e.data() != null) {
      b.setData(utf8(e.data()));
    }
    return b.build();
  }

  /**
   * A state entry sent as a {@code put} event after a reset: its cursor is where the receiver stands
   * ({@code cursor}), not the position after the entry's own offset.
   */
  static io.tidings.proto.v1.Event put(String topic, StateEntry entry, Cursor cursor, boolean withData) {
    io.tidings.proto.v1.Event.Builder b = io.tidings.proto.v1.Event.newBuilder()
        .setTopic(topic)
        .setOffset(entry.offset())
        .setCursor(cursor.encode())
        .setType("put")
        .setKey(entry.key())
        .setTime(time(entry.time()));
    if (withData && entry.data() != null) {
      b.setData(utf8(entry.data()));
    }
    return b.build();
  }

  static io.tidings.proto.v1.StateEntry stateEntry(StateEntry e) {
    return io.tidings.proto.v1.StateEntry.newBuilder()
        .setKey(e.key())
        .setData(e.data() == null ? ByteString.EMPTY : utf8(e.data()))
        .setOffset(e.offset())
        .setTime(time(e.time()))
        .build();
  }

  /**
   * The events of a publish request in the JSON form {@code POST /v1/events} takes (an array of
   * event objects), so that one parser applies the same rules to every transport. Data must be
   * UTF-8 JSON text; anything else is {@code invalid_event}.
   */
  static JsonNode publishBody(List<EventInput> events) {
    ArrayNode array = Json.MAPPER.createArrayNode();
    for (int i = 0; i < events.size(); i++) {
      EventInput in = events.get(i);
      ObjectNode o = array.addObject();
      if (in.hasType()) {
        o.put("type", in.getType());
      }
      if (in.hasKey()) {
        o.put("key", in.getKey());
      }
      if (in.hasId()) {
        o.put("id", in.getId());
      }
      if (in.hasData()) {
        o.set("data", data(in.getData(), "events[" + i + "]"));
      }
    }
    return array;
  }

  private static JsonNode data(ByteString bytes, String where) {
    if (!bytes.isValidUtf8()) {
      throw ApiException.badRequest("invalid_event", where + ".data is not UTF-8 text");
    }
    JsonNode node;
    try {
      node = bytes.isEmpty() ? null : Json.MAPPER.readTree(bytes.toByteArray());
    } catch (JsonProcessingException e) {
      throw ApiException.badRequest("invalid_event", where + ".data is not valid JSON: " + e.getOriginalMessage());
    } catch (IOException e) {
      throw ApiException.badRequest("invalid_event", where + ".data is not valid JSON");
    }
    if (node == null || node.isMissingNode()) {
      throw ApiException.badRequest("invalid_event", where + ".data is empty; send JSON text (null for none)");
    }
    return node;
  }

  static PublishResponse published(String topic, AppendResult result) {
    String epoch = result.head().epoch();
    PublishResponse.Builder b = PublishResponse.newBuilder()
        .setTopic(topic)
        .setCursor(new Cursor(epoch, result.lastOffset()).encode());
    for (AppendResult.Outcome o : result.outcomes()) {
      PublishedEvent.Builder p = PublishedEvent.newBuilder()
          .setOffset(o.offset())
          .setCursor(new Cursor(epoch, o.offset()).encode())
          .setDuplicate(o.duplicate());
      if (o.id() != null) {
        p.setId(o.id());
      }
      b.addEvents(p);
    }
    return b.build();
  }
}
