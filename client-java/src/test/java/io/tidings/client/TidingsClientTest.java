package io.tidings.client;

import io.tidings.server.testing.TidingsProcess;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.IntNode;
import com.fasterxml.jackson.databind.node.TextNode;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** The client against a real in-memory server. */
class TidingsClientTest {
  private static TidingsProcess server;
  private static TidingsClient client;

  @BeforeAll
  static void start() throws Exception {
    server = TidingsProcess.builder().name("client-java").memory().start();
    client = TidingsClient.builder(server.uri())
        .connectTimeout(Duration.ofSeconds(5))
        .requestTimeout(Duration.ofSeconds(30))
        .build();
  }

  @AfterAll
  static void stop() {
    if (client != null) {
      client.close();
    }
    if (server != null) {
      server.close();
    }
  }

  private static String topic(String name) {
    return "client-test/" + name + "-" + UUID.randomUUID().toString().substring(0, 8);
  }

  private static JsonNode json(String text) throws Exception {
    return TidingsClient.mapper().readTree(text);
  }

  @Test
  void publishesOneEvent() throws Exception {
    String topic = topic("single");
    PublishResult r = client.publish(topic, NewEvent.message(json("{\"hello\":\"world\",\"n\":1.10}")));

    assertThat(r.topic()).isEqualTo(topic);
    assertThat(r.events()).hasSize(1);
    PublishResult.Outcome o = r.events().get(0);
    assertThat(o.offset()).isEqualTo(1);
    assertThat(o.duplicate()).isFalse();
    assertThat(o.id()).isNull();
    assertThat(o.cursor()).isEqualTo(r.cursor()).isNotBlank();

    Changes c = client.changes(topic, "earliest");
    assertThat(c.events()).hasSize(1);
    Event e = c.events().get(0);
    assertThat(e.topic()).isEqualTo(topic);
    assertThat(e.offset()).isEqualTo(1);
    assertThat(e.type()).isEqualTo("message");
    assertThat(e.key()).isNull();
    assertThat(e.cursor()).isEqualTo(r.cursor());
    assertThat(e.data()).isEqualTo(json("{\"hello\":\"world\",\"n\":1.10}"));
    assertThat(e.data().get("n").decimalValue().toPlainString()).isEqualTo("1.10");
    assertThat(e.time()).isBetween(Instant.now().minusSeconds(60), Instant.now().plusSeconds(60));
    assertThat(c.cursor()).isEqualTo(r.cursor());
    assertThat(c.more()).isFalse();
  }

  @Test
  void publishesABatchInOrder() throws Exception {
    String topic = topic("batch");
    PublishResult r = client.publish(topic, List.of(
        NewEvent.put("a", IntNode.valueOf(1)),
        NewEvent.put("b", IntNode.valueOf(2)).withId("b-1"),
        NewEvent.delete("a"),
        NewEvent.of("score.changed", null, TextNode.valueOf("x"))));

    assertThat(r.events()).extracting(PublishResult.Outcome::offset).containsExactly(1L, 2L, 3L, 4L);
    assertThat(r.events()).extracting(PublishResult.Outcome::id).containsExactly(null, "b-1", null, null);
    assertThat(r.cursor()).isEqualTo(r.events().get(3).cursor());

    List<Event> events = client.changes(topic, null, 10).events();
    assertThat(events).extracting(Event::type).containsExactly("put", "put", "delete", "score.changed");
    assertThat(events.get(1).id()).isEqualTo("b-1");
    assertThat(events.get(2).key()).isEqualTo("a");
    assertThat(events.get(2).data()).isNull();

    State state = client.state(topic);
    assertThat(state.entries().keySet()).containsExactly("b");
    assertThat(state.get("b")).isEqualTo(IntNode.valueOf(2));
    assertThat(state.get("a")).isNull();
    assertThat(state.entries().get("b").offset()).isEqualTo(2);
    assertThat(state.cursor()).isEqualTo(r.cursor());
  }

  @Test
  void anIdIsAppendedOnlyOnce() throws Exception {
    String topic = topic("idem");
    PublishResult first = client.publish(topic, NewEvent.message(json("{\"v\":1}")).withId("order-7"));
    client.publish(topic, NewEvent.message(json("{\"v\":2}")));
    PublishResult again = client.publish(topic, NewEvent.message(json("{\"v\":3}")).withId("order-7"));

    assertThat(first.events().get(0).duplicate()).isFalse();
    PublishResult.Outcome dup = again.events().get(0);
    assertThat(dup.duplicate()).isTrue();
    assertThat(dup.id()).isEqualTo("order-7");
    assertThat(dup.offset()).isEqualTo(first.events().get(0).offset());
    assertThat(dup.cursor()).isEqualTo(first.events().get(0).cursor());
    assertThat(client.changes(topic, "earliest", 100).events()).hasSize(2);
  }

  @Test
  void stateFollowsPagesOverMoreThanAThousandKeys() throws Exception {
    String topic = topic("big-state");
    int keys = 2_345;
    for (int from = 0; from < keys; from += 1000) {
      List<NewEvent> batch = new ArrayList<>();
      for (int i = from; i < Math.min(keys, from + 1000); i++) {
        batch.add(NewEvent.put(String.format("k%05d", i), IntNode.valueOf(i)));
      }
      client.publish(topic, batch);
    }
    PublishResult last = client.publish(topic, NewEvent.delete("k00007"), NewEvent.put("k00008", TextNode.valueOf("new")));

    State state = client.state(topic);
    assertThat(state.size()).isEqualTo(keys - 1);
    assertThat(state.cursor()).isEqualTo(last.cursor());
    assertThat(state.entries()).doesNotContainKey("k00007");
    assertThat(state.get("k00008")).isEqualTo(TextNode.valueOf("new"));
    assertThat(state.get("k02344")).isEqualTo(IntNode.valueOf(2344));
    List<String> expected = new ArrayList<>();
    for (int i = 0; i < keys; i++) {
      if (i != 7) {
        expected.add(String.format("k%05d", i));
      }
    }
    assertThat(state.entries().keySet()).containsExactlyElementsOf(expected);
  }

  @Test
  void unknownTopicHasEmptyState() {
    State state = client.state(topic("nothing"));
    assertThat(state.entries()).isEmpty();
    assertThat(state.cursor()).isNotBlank();
  }

  @Test
  void changesPageWithMore() throws Exception {
    String topic = topic("changes");
    List<NewEvent> batch = new ArrayList<>();
    for (int i = 1; i <= 250; i++) {
      batch.add(NewEvent.message(IntNode.valueOf(i)));
    }
    PublishResult published = client.publish(topic, batch);

    List<Long> offsets = new ArrayList<>();
    List<Boolean> mores = new ArrayList<>();
    String cursor = "earliest";
    Changes page;
    do {
      page = client.changes(topic, cursor, 100);
      page.events().forEach(e -> offsets.add(e.offset()));
      mores.add(page.more());
      cursor = page.cursor();
    } while (page.more());

    assertThat(mores).containsExactly(true, true, false);
    assertThat(offsets).hasSize(250).startsWith(1L).endsWith(250L).doesNotHaveDuplicates().isSorted();
    assertThat(cursor).isEqualTo(published.cursor());

    Changes atHead = client.changes(topic, cursor, 100);
    assertThat(atHead.events()).isEmpty();
    assertThat(atHead.more()).isFalse();
    assertThat(atHead.cursor()).isEqualTo(cursor);
  }

  @Test
  void aCursorOfAnotherEpochIsExpired() throws Exception {
    String topic = topic("expired");
    client.publish(topic, NewEvent.message(IntNode.valueOf(1)));

    CursorExpiredException e = catchThrowableOfType(CursorExpiredException.class,
        () -> client.changes(topic, "aaaaaaaaaa.1", 10));

    assertThat(e.status()).isEqualTo(410);
    assertThat(e.code()).isEqualTo("cursor_expired");
    assertThat(e.getMessage()).isNotBlank();
    assertThat(e.stateUrl()).startsWith("/v1/state?topic=");
  }

  @Test
  void invalidTopicIsAnErrorWithItsCode() {
    TidingsException e = catchThrowableOfType(TidingsException.class,
        () -> client.publish("bad//topic", NewEvent.message(IntNode.valueOf(1))));
    assertThat(e).isNotInstanceOf(CursorExpiredException.class);
    assertThat(e.status()).isEqualTo(400);
    assertThat(e.code()).isEqualTo("invalid_topic");
    assertThat(e.getMessage()).isNotBlank();
    assertThat(e.retryAfter()).isNull();

    TidingsException s = catchThrowableOfType(TidingsException.class, () -> client.state("/leading"));
    assertThat(s.status()).isEqualTo(400);
    assertThat(s.code()).isEqualTo("invalid_topic");
  }

  @Test
  void aCursorPastTheHeadIsInvalid() throws Exception {
    String topic = topic("past-head");
    PublishResult r = client.publish(topic, NewEvent.message(IntNode.valueOf(1)));
    String epoch = r.cursor().substring(0, r.cursor().lastIndexOf('.'));

    TidingsException e = catchThrowableOfType(TidingsException.class, () -> client.changes(topic, epoch + ".99", 10));
    assertThat(e.status()).isEqualTo(400);
    assertThat(e.code()).isEqualTo("invalid_cursor");
  }

  @Test
  void listsTopicsByPrefix() throws Exception {
    String prefix = "listing-" + UUID.randomUUID().toString().substring(0, 8) + "/";
    client.publish(prefix + "b", NewEvent.put("x", IntNode.valueOf(1)), NewEvent.put("y", IntNode.valueOf(2)));
    PublishResult a = client.publish(prefix + "a", NewEvent.message(IntNode.valueOf(1)));
    client.publish("other-" + prefix + "c", NewEvent.message(IntNode.valueOf(1)));

    List<TopicInfo> topics = client.topics(prefix);
    assertThat(topics).extracting(TopicInfo::topic).containsExactly(prefix + "a", prefix + "b");
    TopicInfo ta = topics.get(0);
    assertThat(ta.cursor()).isEqualTo(a.cursor());
    assertThat(ta.firstOffset()).isEqualTo(1);
    assertThat(ta.lastOffset()).isEqualTo(1);
    assertThat(ta.keys()).isZero();
    assertThat(ta.lastEventTime()).isNotNull();
    TopicInfo tb = topics.get(1);
    assertThat(tb.lastOffset()).isEqualTo(2);
    assertThat(tb.keys()).isEqualTo(2);

    assertThat(client.topics()).extracting(TopicInfo::topic).contains(prefix + "a", prefix + "b", "other-" + prefix + "c");
  }

  @Test
  void aClosedClientRefusesCalls() {
    TidingsClient other = TidingsClient.builder(server.uri()).build();
    other.close();
    org.assertj.core.api.Assertions.assertThatThrownBy(() -> other.state("x")).isInstanceOf(IllegalStateException.class);
  }
}
