package io.tidings.server.graphql;

import io.tidings.core.Cursor;
import io.tidings.core.Event;
import io.tidings.core.StateEntry;
import io.tidings.server.http.HttpDates;

/**
 * The GraphQL {@code Event}: an event, a state entry delivered as a {@code put} after a reset, or the
 * reset itself. Values are those of the JSON API ({@link io.tidings.server.http.EventJson}).
 *
 * @param streamCursor resumes every topic of the subscription that delivered it; null on queries
 */
record EventView(String topic, long offset, String cursor, String id, String type, String key, RawJson data,
    String time, String reason, String streamCursor) {

  static final String RESET = "reset";

  /** A stored event; {@code withData} false in notify mode. */
  static EventView of(Event e, boolean withData, String streamCursor) {
    return new EventView(e.topic(), e.offset(), e.cursor().encode(), e.id(), e.type(), e.key(),
        withData ? RawJson.of(e.data()) : null, HttpDates.iso(e.time()), null, streamCursor);
  }

  /** A state entry sent as a {@code put} after a reset; {@code cursor} is where the receiver stands. */
  static EventView put(String topic, StateEntry entry, Cursor cursor, boolean withData, String streamCursor) {
    return new EventView(topic, entry.offset(), cursor.encode(), null, "put", entry.key(),
        withData ? RawJson.of(entry.data()) : null, HttpDates.iso(entry.time()), null, streamCursor);
  }

  /** A reset: live events continue after {@code continueAt}, once the state that follows has been delivered. */
  static EventView reset(String topic, Cursor continueAt, String reason, String streamCursor) {
    return new EventView(topic, continueAt.offset(), continueAt.encode(), null, RESET, null, null, null, reason,
        streamCursor);
  }

  /** A rough size in memory and on the wire, to bound what waits for a subscriber. */
  int weight() {
    return 200 + (data == null ? 0 : data.text().length()) + (key == null ? 0 : key.length());
  }
}
