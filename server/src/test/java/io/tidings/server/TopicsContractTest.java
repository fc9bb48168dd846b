package io.tidings.server;

import static io.tidings.server.testing.Contract.assertError;
import static io.tidings.server.testing.Http.enc;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import io.tidings.server.testing.Contract;
import io.tidings.server.testing.Http;
import io.tidings.server.testing.TidingsProcess;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** {@code GET /v1/topics}: the topic catalogue (contract §4.4). */
class TopicsContractTest {
  private static final AtomicInteger SEQ = new AtomicInteger();
  private static TidingsProcess server;
  private static Http http;

  @BeforeAll
  static void start() throws Exception {
    server = TidingsProcess.builder().name("topics-contract").start(); // the default engine: SQLite
    http = new Http(server);
  }

  @AfterAll
  static void stop() {
    if (server != null) {
      server.close();
    }
  }

  private static String prefix() {
    return "tp" + SEQ.incrementAndGet() + "/";
  }

  private static List<String> names(JsonNode body) {
    List<String> out = new ArrayList<>();
    body.get("topics").forEach(t -> out.add(t.get("topic").asText()));
    return out;
  }

  @Test
  void eachTopicHasItsCursorOffsetsKeyCountAndLastEventTime() {
    String topic = prefix() + "fields";
    http.publishOk(topic, "[{\"type\":\"put\",\"key\":\"a\",\"data\":1},{\"type\":\"put\",\"key\":\"b\",\"data\":2}]");
    http.publishOk(topic, "{\"data\":\"msg\"}");
    http.publishOk(topic, "{\"type\":\"put\",\"key\":\"c\",\"data\":3}");
    JsonNode last = http.publishOk(topic, "{\"type\":\"delete\",\"key\":\"a\"}");

    Http.Reply r = http.get("/v1/topics?prefix=" + enc(topic));
    assertThat(r.status()).isEqualTo(200);
    assertThat(r.header("Content-Type")).startsWith("application/json");
    JsonNode body = r.json();
    assertThat(body.get("topics")).hasSize(1);
    JsonNode t = body.get("topics").get(0);
    List<String> fields = new ArrayList<>();
    for (Iterator<String> it = t.fieldNames(); it.hasNext(); ) {
      fields.add(it.next());
    }
    assertThat(fields).containsExactlyInAnyOrder("topic", "cursor", "first_offset", "last_offset", "keys", "last_event_time");
    assertThat(t.get("topic").asText()).isEqualTo(topic);
    assertThat(t.get("cursor").asText()).isEqualTo(last.get("cursor").asText());
    assertThat(t.get("first_offset").asLong()).isEqualTo(1);
    assertThat(t.get("last_offset").asLong()).isEqualTo(5);
    assertThat(t.get("keys").asLong()).as("a was deleted; b and c remain").isEqualTo(2);
    List<JsonNode> events = http.allChanges(topic, 100);
    assertThat(t.get("last_event_time").asText()).matches(Contract.ISO_TIME).isEqualTo(events.get(4).get("time").asText());
    assertThat(t.get("cursor").asText()).isEqualTo(http.getOk("/v1/state?topic=" + enc(topic)).get("cursor").asText());
  }

  @Test
  void prefixFiltersAndTopicsAreSortedByName() {
    String p = prefix();
    String base = p.substring(0, p.length() - 1);
    List<String> published = List.of(p + "b", p + "a", p + "c/x", p + "B", p + "a/1", base + "z", base);
    for (String topic : published) {
      http.publishOk(topic, "{\"data\":1}");
    }
    assertThat(names(http.getOk("/v1/topics?prefix=" + enc(p))))
        .containsExactly(p + "B", p + "a", p + "a/1", p + "b", p + "c/x");
    assertThat(names(http.getOk("/v1/topics?prefix=" + enc(p + "a")))).containsExactly(p + "a", p + "a/1");
    assertThat(names(http.getOk("/v1/topics?prefix=" + enc(p + "nothing")))).isEmpty();

    // Without a prefix: every topic, ours among them, in order.
    List<String> all = names(http.getOk("/v1/topics?limit=10000"));
    assertThat(all).containsAll(published);
    List<String> sorted = new ArrayList<>(all);
    sorted.sort(String::compareTo);
    assertThat(all).isEqualTo(sorted);
  }

  @Test
  void limitAndAfterPageThroughTopics_withNextAfter() {
    String p = prefix();
    List<String> expected = new ArrayList<>();
    for (int i = 0; i < 7; i++) {
      String topic = p + "t" + i;
      http.publishOk(topic, "{\"data\":1}");
      expected.add(topic);
    }
    JsonNode p1 = http.getOk("/v1/topics?prefix=" + enc(p) + "&limit=3");
    assertThat(names(p1)).containsExactly(p + "t0", p + "t1", p + "t2");
    assertThat(p1.get("next_after").asText()).isEqualTo(p + "t2");
    JsonNode p2 = http.getOk("/v1/topics?prefix=" + enc(p) + "&limit=3&after=" + enc(p1.get("next_after").asText()));
    assertThat(names(p2)).containsExactly(p + "t3", p + "t4", p + "t5");
    JsonNode p3 = http.getOk("/v1/topics?prefix=" + enc(p) + "&limit=3&after=" + enc(p2.get("next_after").asText()));
    assertThat(names(p3)).containsExactly(p + "t6");
    assertThat(p3.has("next_after")).as("a short last page has no next_after").isFalse();

    // Following next_after from any page size visits every topic once, in order.
    for (int limit : new int[] {1, 2, 7, 8}) {
      List<String> seen = new ArrayList<>();
      String after = null;
      for (int guard = 0; guard < 20; guard++) {
        JsonNode page = http.getOk("/v1/topics?prefix=" + enc(p) + "&limit=" + limit + (after == null ? "" : "&after=" + enc(after)));
        seen.addAll(names(page));
        if (!page.has("next_after")) {
          break;
        }
        after = page.get("next_after").asText();
      }
      assertThat(seen).as("limit %d", limit).isEqualTo(expected);
    }
  }

  @Test
  void invalidLimit_is400() {
    assertError(http.get("/v1/topics?limit=0"), 400, "invalid_parameter");
    assertError(http.get("/v1/topics?limit=abc"), 400, "invalid_parameter");
    assertError(http.get("/v1/topics?prefix=a&prefix=b"), 400, null);
  }

  @Test
  void methodsOtherThanGetAndHead_are405() {
    Http.Reply r = http.method("POST", "/v1/topics", "{}", "Content-Type", "application/json");
    assertError(r, 405, "method_not_allowed");
    assertThat(r.header("Allow")).contains("GET");
    Http.Reply head = http.head("/v1/topics");
    assertThat(head.status()).isEqualTo(200);
    assertThat(head.body()).isEmpty();
  }
}
