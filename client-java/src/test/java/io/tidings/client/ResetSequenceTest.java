package io.tidings.client;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.node.IntNode;
import java.net.URI;
import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * How pushed events are sorted after a reset, driven directly (the subscription's thread is not
 * started: these methods are what it runs for each message).
 */
class ResetSequenceTest {
  private final TidingsClient client = TidingsClient.builder(URI.create("http://127.0.0.1:9")).build();
  private final Recorder r = new Recorder();

  @AfterEach
  void close() {
    client.close();
  }

  private SubscriptionImpl subscription(String cursor) {
    Map<String, String> since = new LinkedHashMap<>();
    since.put("t", cursor);
    return new SubscriptionImpl(client, since, SubscribeOptions.defaults(), r);
  }

  private static Event event(long offset, String cursor, String type, String key) {
    return new Event("t", offset, cursor, null, type, key, IntNode.valueOf((int) offset), null);
  }

  @Test
  void stateEntriesAreToldByTheirCursorNotTheirOffset() {
    SubscriptionImpl sub = subscription("old.50");
    SubscriptionImpl.Topic t = sub.topic("t");
    sub.pushedReset(t, "new.10", "epoch");
    // key order; the second entry comes from a later state page, newer than the reset's cursor
    sub.pushed(t, event(3, "old.50", "put", "a"));
    sub.pushed(t, event(12, "old.50", "put", "b"));
    sub.pushed(t, event(5, "new.10", "put", "c"));
    assertThat(sub.cursor("t")).isEqualTo("new.10");
    // then live events from the reset's cursor on, some already reflected in the state
    sub.pushed(t, event(11, "new.11", "put", "x"));
    sub.pushed(t, event(12, "new.12", "put", "b"));
    sub.pushed(t, event(12, "new.12", "put", "b")); // a repeat is dropped

    assertThat(r.resets).containsExactly(new Reset("t", "new.10", "epoch"));
    assertThat(r.events).extracting(Event::key).containsExactly("a", "b", "c", "x", "b");
    assertThat(r.events).extracting(Event::offset).containsExactly(3L, 12L, 5L, 11L, 12L);
    assertThat(sub.cursor("t")).isEqualTo("new.12");
  }

  @Test
  void anEmptyStateEndsAtTheFirstLiveEvent() {
    SubscriptionImpl sub = subscription("old.50");
    SubscriptionImpl.Topic t = sub.topic("t");
    sub.pushedReset(t, "new.0", "epoch");
    sub.pushed(t, event(1, "new.1", "message", null));
    sub.pushed(t, event(1, "new.1", "message", null));
    sub.pushed(t, event(2, "new.2", "message", null));
    assertThat(r.offsets("t")).containsExactly(1L, 2L);
    assertThat(sub.cursor("t")).isEqualTo("new.2");
  }

  @Test
  void withoutResetOldOffsetsAreDuplicates() {
    SubscriptionImpl sub = subscription("e.5");
    SubscriptionImpl.Topic t = sub.topic("t");
    sub.pushed(t, event(5, "e.5", "message", null));
    sub.pushed(t, event(6, "e.6", "message", null));
    sub.pushed(t, event(4, "e.4", "message", null));
    sub.pushed(t, event(7, "e.7", "message", null));
    assertThat(r.offsets("t")).containsExactly(6L, 7L);
  }

  @Test
  void aSseStreamCursorSplitsIntoTopicCursors() {
    assertThat(Cursors.split("k3.18~4~230", 3)).containsExactly("k3.18", "k3.4", "k3.230");
    assertThat(Cursors.split("a.1~b.2~3", 3)).containsExactly("a.1", "b.2", "b.3");
    assertThat(Cursors.split("a.1~2", 3)).isNull();
    assertThat(Cursors.split("5~a.1", 2)).isNull();
    assertThat(Cursors.join(java.util.List.of("a.1", "b.2"))).isEqualTo("a.1~b.2");
    assertThat(Cursors.offset("k3v7.17")).isEqualTo(17);
    assertThat(Cursors.offset("now")).isEqualTo(-1);
  }
}
