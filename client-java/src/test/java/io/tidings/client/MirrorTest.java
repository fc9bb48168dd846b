package io.tidings.client;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.IntNode;
import com.fasterxml.jackson.databind.node.TextNode;
import io.tidings.server.testing.TidingsProcess;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

class MirrorTest {
  private static final Duration WAIT = Duration.ofSeconds(30);

  private static Map<String, JsonNode> serverState(TidingsClient client, String topic) {
    Map<String, JsonNode> out = new TreeMap<>();
    client.state(topic).entries().forEach((k, e) -> out.put(k, e.data()));
    return out;
  }

  @Test
  void followsPutsAndDeletes() throws Exception {
    String t = SubscribeTest.topic("mirror");
    try (TidingsProcess server = TidingsProcess.builder().name("client-mirror").memory().start();
        TidingsClient client = TidingsClient.builder(server.uri()).build()) {
      client.publish(t, NewEvent.put("a", IntNode.valueOf(1)), NewEvent.put("b", IntNode.valueOf(2)),
          NewEvent.message(IntNode.valueOf(0)));
      try (Mirror m = client.mirror(t)) {
        // loaded before mirror() returns
        assertThat(m.snapshot()).isEqualTo(serverState(client, t));
        List<Event> changes = new CopyOnWriteArrayList<>();
        m.addListener(changes::add);
        client.publish(t, NewEvent.delete("a"), NewEvent.put("c", TextNode.valueOf("x")), NewEvent.put("b", IntNode.valueOf(3)));
        await().atMost(WAIT).until(() -> changes.size() == 3);
        assertThat(m.snapshot()).isEqualTo(serverState(client, t)).containsOnlyKeys("b", "c");
        assertThat(m.get("b")).isEqualTo(IntNode.valueOf(3));
        assertThat(m.cursor()).isEqualTo(client.state(t).cursor());
        assertThatViewIsReadOnly(m);
      }
    }
  }

  private static void assertThatViewIsReadOnly(Mirror m) {
    org.assertj.core.api.Assertions.assertThatThrownBy(() -> m.state().put("z", IntNode.valueOf(1)))
        .isInstanceOf(UnsupportedOperationException.class);
  }

  /**
   * The memory store restarts on the same port: the mirror's cursor is of another epoch, so the
   * server resets the topic (pushed reset, or 410 on /v1/changes) and the mirror reloads.
   */
  @ParameterizedTest
  @EnumSource(value = Transport.class, names = {"WS", "LONG_POLL"})
  void reloadsAfterAReset(Transport transport) throws Exception {
    String t = SubscribeTest.topic("mirror-reset");
    TidingsProcess first = TidingsProcess.builder().name("client-mirror-a").memory().start();
    int port = first.uri().getPort();
    TidingsProcess second = null;
    try (TidingsClient client = TidingsClient.builder(first.uri()).build()) {
      client.publish(t, NewEvent.put("old-1", IntNode.valueOf(1)), NewEvent.put("old-2", IntNode.valueOf(2)),
          NewEvent.put("both", TextNode.valueOf("old")));
      try (Mirror m = client.mirror(t, SubscribeTest.only(transport))) {
        List<Event> changes = new CopyOnWriteArrayList<>();
        m.addListener(changes::add);
        client.publish(t, NewEvent.put("old-3", IntNode.valueOf(3)));
        await().atMost(WAIT).until(() -> m.size() == 4);
        first.stop();
        second = TidingsProcess.builder().name("client-mirror-b").memory().port(port).start();
        // The new history is shorter than the old one: offsets alone would hide it.
        client.publish(t, NewEvent.put("new-1", IntNode.valueOf(10)), NewEvent.put("both", TextNode.valueOf("new")));
        Map<String, JsonNode> expected = serverState(client, t);
        await().atMost(WAIT).until(() -> m.snapshot().equals(expected));
        assertThat(changes).contains((Event) null); // the reset was announced
        client.publish(t, NewEvent.delete("new-1"), NewEvent.put("new-2", IntNode.valueOf(20)));
        Map<String, JsonNode> later = serverState(client, t);
        await().atMost(WAIT).until(() -> m.snapshot().equals(later));
        assertThat(m.snapshot()).containsOnlyKeys("both", "new-2");
        assertThat(m.cursor()).isEqualTo(client.state(t).cursor());
      }
    } finally {
      first.close();
      if (second != null) {
        second.close();
      }
    }
  }
}
