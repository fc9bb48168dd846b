package io.tidings.server;

import static io.tidings.server.testing.Contract.assertCursor;
import static io.tidings.server.testing.Contract.assertError;
import static io.tidings.server.testing.Http.enc;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import io.tidings.server.testing.Contract;
import io.tidings.server.testing.Http;
import io.tidings.server.testing.RawHttp;
import io.tidings.server.testing.TidingsProcess;
import java.math.BigDecimal;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.Iterator;
import java.util.List;
import java.util.Set;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.params.provider.ValueSource;

/** {@code POST /v1/events}: the wire contract §1-§3 and its error rules (§2). */
class PublishContractTest {
  private static final AtomicInteger SEQ = new AtomicInteger();
  private static TidingsProcess server;
  private static Http http;

  @BeforeAll
  static void start() throws Exception {
    server = TidingsProcess.builder().name("publish-contract").memory().start();
    http = new Http(server);
  }

  @AfterAll
  static void stop() {
    if (server != null) {
      server.close();
    }
  }

  private static String topic(String hint) {
    return "pub/" + hint + "-" + SEQ.incrementAndGet();
  }

  private static String repeat(char c, int n) {
    return String.valueOf(c).repeat(n);
  }

  /** Nothing about {@code topic} exists: not in /v1/topics, no events, no state. */
  private static void assertNothingStored(String topic) {
    JsonNode topics = http.getOk("/v1/topics?prefix=" + enc(topic));
    for (JsonNode t : topics.get("topics")) {
      assertThat(t.get("topic").asText()).as("topic listed after a refused publish").isNotEqualTo(topic);
    }
    JsonNode changes = http.getOk("/v1/changes?topic=" + enc(topic));
    assertThat(changes.get("events")).as("events after a refused publish").isEmpty();
    JsonNode state = http.getOk("/v1/state?topic=" + enc(topic));
    assertThat(state.get("entries")).as("state after a refused publish").isEmpty();
  }

  private static List<String> allTopicNames() {
    List<String> names = new ArrayList<>();
    JsonNode body = http.getOk("/v1/topics?limit=10000");
    body.get("topics").forEach(t -> names.add(t.get("topic").asText()));
    return names;
  }

  // ---------------------------------------------------------------- success shape

  @Test
  void singleEventObject_isAnswered201WithTopicCursorAndOneOutcome() {
    String topic = topic("single");
    Http.Reply r = http.publish(topic, "{\"type\":\"put\",\"key\":\"home\",\"data\":{\"goals\":2},\"id\":\"evt-1\"}");

    assertThat(r.status()).as("%s", r).isEqualTo(201);
    assertThat(r.header("Content-Type")).startsWith("application/json");
    JsonNode body = r.json();
    assertThat(fieldNames(body)).containsExactlyInAnyOrder("topic", "cursor", "events");
    assertThat(body.get("topic").asText()).isEqualTo(topic);
    String cursor = assertCursor(body.get("cursor"));
    assertThat(body.get("events").isArray()).isTrue();
    assertThat(body.get("events")).hasSize(1);
    JsonNode outcome = body.get("events").get(0);
    assertThat(fieldNames(outcome)).containsExactlyInAnyOrder("id", "offset", "cursor", "duplicate");
    assertThat(outcome.get("id").asText()).isEqualTo("evt-1");
    assertThat(outcome.get("offset").isIntegralNumber()).isTrue();
    assertThat(outcome.get("offset").asLong()).isEqualTo(1);
    assertThat(outcome.get("duplicate").isBoolean()).isTrue();
    assertThat(outcome.get("duplicate").asBoolean()).isFalse();
    assertThat(assertCursor(outcome.get("cursor"))).as("the body cursor is after the last event").isEqualTo(cursor);

    // The event as every reader sees it (§1).
    JsonNode changes = http.getOk("/v1/changes?topic=" + enc(topic));
    assertThat(changes.get("events")).hasSize(1);
    JsonNode e = changes.get("events").get(0);
    assertThat(e.get("topic").asText()).isEqualTo(topic);
    assertThat(e.get("offset").asLong()).isEqualTo(1);
    assertThat(e.get("cursor").asText()).isEqualTo(cursor);
    assertThat(e.get("id").asText()).isEqualTo("evt-1");
    assertThat(e.get("type").asText()).isEqualTo("put");
    assertThat(e.get("key").asText()).isEqualTo("home");
    assertThat(e.get("data").toString()).isEqualTo("{\"goals\":2}");
    assertThat(e.get("time").asText()).matches(Contract.ISO_TIME);
  }

  @Test
  void arrayOfEvents_getsConsecutiveOffsetsStartingAtOne_acrossRequests() {
    String topic = topic("array");
    JsonNode first = http.publishOk(topic, "[{\"data\":\"a\"},{\"type\":\"put\",\"key\":\"k\",\"data\":1},{\"type\":\"tick.v2\"}]");
    assertThat(offsets(first)).containsExactly(1L, 2L, 3L);
    assertThat(first.get("events").get(0).has("id") && !first.get("events").get(0).get("id").isNull())
        .as("an event without id has no id in its outcome").isFalse();
    JsonNode second = http.publishOk(topic, "[{\"data\":\"d\"},{\"data\":\"e\"}]");
    assertThat(offsets(second)).containsExactly(4L, 5L);
    JsonNode third = http.publishOk(topic, "{\"data\":\"f\"}");
    assertThat(offsets(third)).containsExactly(6L);

    // The response cursor is the cursor of the last event; every event cursor is distinct.
    assertThat(first.get("cursor").asText()).isEqualTo(first.get("events").get(2).get("cursor").asText());
    assertThat(second.get("cursor").asText()).isEqualTo(second.get("events").get(1).get("cursor").asText());
    Set<String> cursors = new HashSet<>();
    for (JsonNode body : List.of(first, second, third)) {
      body.get("events").forEach(o -> cursors.add(o.get("cursor").asText()));
    }
    assertThat(cursors).hasSize(6);

    // The stored events, in order, with the default type and the cursors the publisher was given.
    List<JsonNode> events = http.allChanges(topic, 100);
    assertThat(events).extracting(e -> e.get("offset").asLong()).containsExactly(1L, 2L, 3L, 4L, 5L, 6L);
    assertThat(events).extracting(e -> e.get("type").asText())
        .containsExactly("message", "put", "tick.v2", "message", "message", "message");
    assertThat(events.get(2).has("data")).as("an event published without data has none").isFalse();
    assertThat(events.get(3).get("cursor").asText()).isEqualTo(second.get("events").get(0).get("cursor").asText());

    // A publish cursor is a valid since: it resumes right after that event.
    JsonNode after = http.getOk("/v1/changes?topic=" + enc(topic) + "&since=" + enc(first.get("cursor").asText()));
    assertThat(after.get("events")).extracting(e -> e.get("offset").asLong()).containsExactly(4L, 5L, 6L);
  }

  @Test
  void republishingAnId_isADuplicateWithTheOriginalOffset_andAppendsNothing() {
    String topic = topic("dedupe");
    JsonNode original = http.publishOk(topic, "{\"id\":\"order-7\",\"data\":{\"v\":1}}");
    http.publishOk(topic, "{\"id\":\"other\",\"data\":{\"v\":2}}");

    JsonNode again = http.publishOk(topic, "{\"id\":\"order-7\",\"data\":{\"v\":\"changed\"}}");
    JsonNode outcome = again.get("events").get(0);
    assertThat(outcome.get("id").asText()).isEqualTo("order-7");
    assertThat(outcome.get("duplicate").asBoolean()).isTrue();
    assertThat(outcome.get("offset").asLong()).isEqualTo(1);
    assertThat(outcome.get("cursor").asText()).isEqualTo(original.get("events").get(0).get("cursor").asText());

    List<JsonNode> events = http.allChanges(topic, 100);
    assertThat(events).hasSize(2);
    assertThat(events.get(0).get("data").toString()).as("the first publish wins").isEqualTo("{\"v\":1}");

    // A batch mixing a known id and new events: the known one is reported, the new ones appended.
    JsonNode mixed = http.publishOk(topic, "[{\"id\":\"new-1\",\"data\":3},{\"id\":\"other\",\"data\":4},{\"data\":5}]");
    assertThat(mixed.get("events")).extracting(o -> o.get("offset").asLong()).containsExactly(3L, 2L, 4L);
    assertThat(mixed.get("events")).extracting(o -> o.get("duplicate").asBoolean()).containsExactly(false, true, false);
    assertThat(http.allChanges(topic, 100)).extracting(e -> e.get("offset").asLong()).containsExactly(1L, 2L, 3L, 4L);
  }

  @Test
  void duplicateIdsInsideOneBatch_appendTheFirstOnly() {
    String topic = topic("batch-dup");
    JsonNode body = http.publishOk(topic, "[{\"id\":\"x\",\"data\":1},{\"id\":\"y\",\"data\":2},{\"id\":\"x\",\"data\":3}]");
    assertThat(body.get("events")).extracting(o -> o.get("id").asText()).containsExactly("x", "y", "x");
    assertThat(body.get("events")).extracting(o -> o.get("offset").asLong()).containsExactly(1L, 2L, 1L);
    assertThat(body.get("events")).extracting(o -> o.get("duplicate").asBoolean()).containsExactly(false, false, true);
    List<JsonNode> events = http.allChanges(topic, 100);
    assertThat(events).extracting(e -> e.get("data").toString()).containsExactly("1", "2");
    // The next new event continues without a gap.
    assertThat(offsets(http.publishOk(topic, "{\"data\":4}"))).containsExactly(3L);
  }

  @Test
  void numbersInData_arePreservedExactly() {
    String topic = topic("decimals");
    String data = "{\"x\":1.10,\"big\":123456789012345678901234567890,\"neg\":-0.000001,\"i\":-42,\"f\":3.141592653589793238462643383279}";
    http.publishOk(topic, "{\"type\":\"put\",\"key\":\"k\",\"data\":" + data + "}");

    Http.Reply changes = http.get("/v1/changes?topic=" + enc(topic));
    assertThat(changes.body()).as("data bytes in /v1/changes").contains("\"data\":" + data);
    Http.Reply state = http.get("/v1/state?topic=" + enc(topic));
    assertThat(state.body()).as("data bytes in /v1/state").contains("\"data\":" + data);

    // Exponent forms may be respelled, but never rounded.
    String topic2 = topic("exponent");
    http.publishOk(topic2, "{\"data\":{\"e\":1.5e400,\"s\":\"\\u00fc\\ud83d\\ude00\"}}");
    JsonNode e = http.allChanges(topic2, 10).get(0).get("data");
    assertThat(new BigDecimal(e.get("e").asText())).isEqualByComparingTo(new BigDecimal("1.5e400"));
    assertThat(e.get("s").asText()).isEqualTo("\u00fc\ud83d\ude00");
  }

  @Test
  void batchOfExactly1000Events_isAccepted() {
    String topic = topic("batch-1000");
    JsonNode body = http.publishMessages(topic, 1000);
    assertThat(body.get("events")).hasSize(1000);
    assertThat(body.get("events").get(999).get("offset").asLong()).isEqualTo(1000);
    assertThat(http.allChanges(topic, 1000)).hasSize(1000);
  }

  @Test
  void limitsAtTheirEdges_areAccepted() {
    String topic = topic("edges");
    String type64 = repeat('t', 64);
    String key256 = repeat('k', 256);
    String id128 = repeat('i', 128);
    JsonNode body = http.publishOk(topic, "[{\"type\":\"" + type64 + "\"},{\"type\":\"put\",\"key\":\"" + key256
        + "\",\"data\":1},{\"id\":\"" + id128 + "\"},{\"type\":\"a-b_c.9\"},{\"type\":\"delete\",\"key\":\"" + key256 + "\"}]");
    assertThat(offsets(body)).containsExactly(1L, 2L, 3L, 4L, 5L);
    assertThat(body.get("events").get(2).get("id").asText()).isEqualTo(id128);
    List<JsonNode> events = http.allChanges(topic, 10);
    assertThat(events.get(0).get("type").asText()).isEqualTo(type64);
    assertThat(events.get(1).get("key").asText()).isEqualTo(key256);
    assertThat(events.get(4).get("type").asText()).isEqualTo("delete");
    assertThat(events.get(4).has("data")).as("a delete has no data").isFalse();
  }

  @Test
  void dataOfExactly64KiBSerialized_isAccepted() {
    String topic = topic("data-64k");
    // "xxxx…" with its quotes is 65536 bytes.
    String data = "\"" + repeat('x', 65534) + "\"";
    assertThat(data.getBytes(StandardCharsets.UTF_8)).hasSize(65536);
    http.publishOk(topic, "{\"data\":" + data + "}");
    assertThat(http.allChanges(topic, 10).get(0).get("data").asText()).hasSize(65534);
  }

  // ---------------------------------------------------------------- topic names

  static Stream<Arguments> badTopicNames() {
    return Stream.of(
        Arguments.of("empty", ""),
        Arguments.of("201 characters", repeat('a', 201)),
        Arguments.of("space", "a b"),
        Arguments.of("hash", "a#b"),
        Arguments.of("percent", "a%b"),
        Arguments.of("plus", "a+b"),
        Arguments.of("asterisk", "a/*"),
        Arguments.of("question mark", "a?b"),
        Arguments.of("ampersand", "a&b"),
        Arguments.of("tab", "a\tb"),
        Arguments.of("NUL", "a\u0000b"),
        Arguments.of("unicode letter", "caf\u00e9"),
        Arguments.of("unicode outside the BMP", "a\ud83d\ude00"),
        Arguments.of("leading slash", "/a"),
        Arguments.of("trailing slash", "a/"),
        Arguments.of("only a slash", "/"),
        Arguments.of("double slash", "a//b"),
        Arguments.of("dot segment", "a/./b"),
        Arguments.of("dot-dot segment", "a/../b"),
        Arguments.of("only a dot", "."),
        Arguments.of("only dot-dot", ".."),
        Arguments.of("leading dot-dot segment", "../a"),
        Arguments.of("trailing dot segment", "a/."));
  }

  @ParameterizedTest(name = "[{index}] {0}")
  @MethodSource("badTopicNames")
  void badTopicName_is400InvalidTopic_onEveryEndpoint_andStoresNothing(String rule, String name) {
    List<String> before = allTopicNames();
    String q = "?topic=" + enc(name);
    assertError(http.post("/v1/events" + q, "application/json", "{\"data\":1}"), 400, "invalid_topic");
    assertError(http.get("/v1/state" + q), 400, "invalid_topic");
    assertError(http.get("/v1/changes" + q), 400, "invalid_topic");
    assertThat(allTopicNames()).as("topics after publishing to %s (%s)", name, rule).isEqualTo(before);
  }

  @ParameterizedTest
  @ValueSource(strings = {"x", "Az09_.:@-/x", "a/.b/..c", "a..b/c.d", "user@example.com:inbox", "-/_/:"})
  void unusualButValidTopicNames_areAccepted(String name) {
    String topic = name + "/" + SEQ.incrementAndGet();
    JsonNode body = http.publishOk(topic, "{\"data\":1}");
    assertThat(body.get("topic").asText()).isEqualTo(topic);
    JsonNode listed = http.getOk("/v1/topics?prefix=" + enc(topic));
    assertThat(listed.get("topics")).extracting(t -> t.get("topic").asText()).contains(topic);
  }

  @Test
  void topicOf200Characters_isAccepted() {
    String topic = topic("long");
    topic = topic + "/" + repeat('z', 200 - topic.length() - 1);
    assertThat(topic).hasSize(200);
    assertThat(http.publishOk(topic, "{\"data\":1}").get("topic").asText()).isEqualTo(topic);
    assertThat(http.allChanges(topic, 10)).hasSize(1);
  }

  @Test
  void missingOrRepeatedTopicParameter_is400() {
    List<String> before = allTopicNames();
    assertError(http.post("/v1/events", "application/json", "{\"data\":1}"), 400, "invalid_topic");
    assertError(http.post("/v1/events?top=a", "application/json", "{\"data\":1}"), 400, "invalid_topic");
    String a = topic("rep-a");
    String b = topic("rep-b");
    assertError(http.post("/v1/events?topic=" + enc(a) + "&topic=" + enc(b), "application/json", "{\"data\":1}"), 400, null);
    assertThat(allTopicNames()).isEqualTo(before);
  }

  // ---------------------------------------------------------------- malformed bodies

  static Stream<Arguments> malformedBodies() {
    String nested = "{\"data\":" + "[".repeat(2000) + "]".repeat(2000) + "}";
    return Stream.of(
        Arguments.of("not JSON", "hello", "invalid_json"),
        Arguments.of("empty body", "", "invalid_body"),
        Arguments.of("only whitespace", "  \n ", null),
        Arguments.of("truncated JSON", "{\"data\":", "invalid_json"),
        Arguments.of("trailing garbage", "{\"data\":1} x", "invalid_json"),
        Arguments.of("two documents", "{\"data\":1}{\"data\":2}", "invalid_json"),
        Arguments.of("duplicate keys", "{\"data\":1,\"data\":2}", "invalid_json"),
        Arguments.of("duplicate keys inside data", "{\"data\":{\"a\":1,\"a\":2}}", "invalid_json"),
        Arguments.of("JSON number", "42", "invalid_body"),
        Arguments.of("JSON string", "\"event\"", "invalid_body"),
        Arguments.of("JSON true", "true", "invalid_body"),
        Arguments.of("JSON null", "null", "invalid_body"),
        Arguments.of("empty array", "[]", "invalid_body"),
        Arguments.of("array holding a scalar after a good event", "[{\"data\":1},5]", "invalid_event"),
        Arguments.of("array holding an array", "[[{\"data\":1}]]", "invalid_event"),
        Arguments.of("unknown event field", "{\"data\":1,\"topic\":\"x\"}", "invalid_event"),
        Arguments.of("unknown field after a good event", "[{\"data\":1},{\"data\":2,\"extra\":true}]", "invalid_event"),
        Arguments.of("type with upper case", "{\"type\":\"Bad\"}", "invalid_event"),
        Arguments.of("type of 65 characters", "{\"type\":\"" + repeat('a', 65) + "\"}", "invalid_event"),
        Arguments.of("empty type", "{\"type\":\"\"}", "invalid_event"),
        Arguments.of("type with a space", "{\"type\":\"a b\"}", "invalid_event"),
        Arguments.of("reserved type reset", "{\"type\":\"reset\"}", "invalid_event"),
        Arguments.of("reserved type subscribed", "{\"type\":\"subscribed\"}", "invalid_event"),
        Arguments.of("reserved type error", "{\"type\":\"error\",\"data\":1}", "invalid_event"),
        Arguments.of("numeric type", "{\"type\":5}", "invalid_event"),
        Arguments.of("boolean type", "{\"type\":true}", "invalid_event"),
        Arguments.of("put without key", "{\"type\":\"put\",\"data\":1}", "invalid_event"),
        Arguments.of("delete without key", "{\"type\":\"delete\"}", "invalid_event"),
        Arguments.of("bad event after a good one", "[{\"type\":\"put\",\"key\":\"k\",\"data\":1},{\"type\":\"put\",\"data\":1}]", "invalid_event"),
        Arguments.of("key of 257 characters", "{\"type\":\"put\",\"key\":\"" + repeat('k', 257) + "\",\"data\":1}", "invalid_event"),
        Arguments.of("numeric key", "{\"type\":\"put\",\"key\":7,\"data\":1}", "invalid_event"),
        Arguments.of("object key", "{\"type\":\"put\",\"key\":{\"a\":1},\"data\":1}", "invalid_event"),
        Arguments.of("id of 129 characters", "{\"id\":\"" + repeat('i', 129) + "\",\"data\":1}", "invalid_event"),
        Arguments.of("numeric id", "{\"id\":1,\"data\":1}", "invalid_event"),
        Arguments.of("array id", "{\"id\":[\"a\"],\"data\":1}", "invalid_event"),
        Arguments.of("delete with data", "{\"type\":\"delete\",\"key\":\"k\",\"data\":{\"a\":1}}", "invalid_event"),
        Arguments.of("nesting 2000 deep", nested, null));
  }

  @ParameterizedTest(name = "[{index}] {0}")
  @MethodSource("malformedBodies")
  void malformedBody_is400WithAJsonError_andStoresNothing(String what, String body, String code) {
    String topic = topic("bad-body");
    assertError(http.publish(topic, body), 400, code);
    assertNothingStored(topic);
  }

  @Test
  void invalidUtf8InTheBody_is400AndStoresNothing() {
    String topic = topic("utf8");
    byte[] body = {'{', '"', 'd', 'a', 't', 'a', '"', ':', '"', (byte) 0xC3, (byte) 0x28, '"', '}'};
    Http.Reply r = http.post("/v1/events?topic=" + enc(topic), "application/json", body);
    assertError(r, 400, null);
    assertNothingStored(topic);
  }

  @Test
  void batchOf1001Events_is400TooManyEvents_andStoresNothing() {
    String topic = topic("batch-1001");
    ArrayNode batch = JsonNodeFactory.instance.arrayNode();
    for (int i = 0; i < 1001; i++) {
      batch.addObject().put("data", i);
    }
    assertError(http.publish(topic, batch.toString()), 400, "too_many_events");
    assertNothingStored(topic);
  }

  // ---------------------------------------------------------------- size limits

  @Test
  void dataOver64KiBSerialized_is413PayloadTooLarge_andStoresNothing() {
    String topic = topic("data-big");
    String data = "\"" + repeat('x', 65535) + "\""; // 65537 bytes
    assertError(http.publish(topic, "{\"data\":" + data + "}"), 413, "payload_too_large");
    assertNothingStored(topic);

    // Bytes count, not characters: 32768 'é' are 65538 bytes once serialized as UTF-8.
    String wide = "\"" + repeat('\u00e9', 32768) + "\"";
    assertError(http.publish(topic, "{\"data\":" + wide + "}"), 413, "payload_too_large");
    assertNothingStored(topic);

    // One oversized event spoils its whole batch.
    assertError(http.publish(topic, "[{\"data\":1},{\"data\":" + data + "}]"), 413, "payload_too_large");
    assertNothingStored(topic);
  }

  @Test
  void bodyOver1MiB_is413PayloadTooLarge_andStoresNothing() throws Exception {
    String topic = topic("body-big");
    byte[] body = paddedEvent((1 << 20) + 1);
    Http.Reply r = RawHttp.post(server.uri(), "/v1/events?topic=" + enc(topic), "application/json", body);
    assertError(r, 413, "payload_too_large");
    assertNothingStored(topic);

    // The same without a Content-Length: the limit holds while the body streams in.
    List<byte[]> chunks = new ArrayList<>();
    byte[] all = paddedEvent(3 << 20);
    for (int i = 0; i < all.length; i += 64 * 1024) {
      chunks.add(java.util.Arrays.copyOfRange(all, i, Math.min(all.length, i + 64 * 1024)));
    }
    Http.Reply chunked = RawHttp.postChunked(server.uri(), "/v1/events?topic=" + enc(topic), "application/json", chunks);
    assertError(chunked, 413, "payload_too_large");
    assertNothingStored(topic);
  }

  @Test
  void bodyOfExactly1MiB_isAccepted() throws Exception {
    String topic = topic("body-1m");
    byte[] body = paddedEvent(1 << 20);
    Http.Reply r = RawHttp.post(server.uri(), "/v1/events?topic=" + enc(topic), "application/json", body);
    assertThat(r.status()).as("%s", r).isEqualTo(201);
    assertThat(http.allChanges(topic, 10)).hasSize(1);
  }

  /** {@code {"data":1}} padded with JSON whitespace to exactly {@code size} bytes. */
  private static byte[] paddedEvent(int size) {
    byte[] core = "{\"data\":1}".getBytes(StandardCharsets.US_ASCII);
    byte[] out = new byte[size];
    java.util.Arrays.fill(out, (byte) ' ');
    System.arraycopy(core, 0, out, 0, core.length);
    return out;
  }

  // ---------------------------------------------------------------- media type, method, route

  @Test
  void missingOrWrongContentType_is415_andStoresNothing() {
    String topic = topic("ctype");
    String q = "/v1/events?topic=" + enc(topic);
    assertError(http.post(q, null, "{\"data\":1}"), 415, "unsupported_media_type");
    assertError(http.post(q, "text/plain", "{\"data\":1}"), 415, "unsupported_media_type");
    assertError(http.post(q, "application/x-www-form-urlencoded", "{\"data\":1}"), 415, "unsupported_media_type");
    assertError(http.post(q, "application/jsonp", "{\"data\":1}"), 415, "unsupported_media_type");
    assertNothingStored(topic);
  }

  @Test
  void jsonContentTypeWithParametersOrOtherCase_isAccepted() {
    String topic = topic("ctype-ok");
    String q = "/v1/events?topic=" + enc(topic);
    assertThat(http.post(q, "application/json; charset=utf-8", "{\"data\":1}").status()).isEqualTo(201);
    assertThat(http.post(q, "Application/JSON", "{\"data\":2}").status()).isEqualTo(201);
    assertThat(http.allChanges(topic, 10)).hasSize(2);
  }

  @Test
  void otherMethodsOnEvents_are405WithAllowPost() {
    String topic = topic("method");
    for (String method : List.of("GET", "PUT", "DELETE", "PATCH")) {
      Http.Reply r = http.method(method, "/v1/events?topic=" + enc(topic), method.equals("GET") || method.equals("DELETE") ? null : "{\"data\":1}",
          "Content-Type", "application/json");
      assertError(r, 405, "method_not_allowed");
      assertThat(r.header("Allow")).as("Allow on %s", method).contains("POST");
    }
    assertNothingStored(topic);
    Http.Reply post = http.method("POST", "/v1/state?topic=a", "{}", "Content-Type", "application/json");
    assertError(post, 405, "method_not_allowed");
    assertThat(post.header("Allow")).contains("GET");
    assertError(http.method("DELETE", "/v1/changes?topic=a", null), 405, "method_not_allowed");
  }

  @ParameterizedTest
  @ValueSource(strings = {"/", "/v1", "/v1/nope", "/v1/events/extra", "/V1/EVENTS", "/v2/events", "/v1/events/"})
  void unknownPath_is404WithAJsonError(String path) {
    assertError(http.get(path), 404, "not_found");
    assertError(http.post(path + "?topic=a", "application/json", "{\"data\":1}"), 404, "not_found");
  }

  // ---------------------------------------------------------------- malformed requests (§2: never a 5xx)

  @ParameterizedTest
  @ValueSource(strings = {"/v1/events?topic=%zz", "/v1/events?topic=%", "/v1/events?topic=a&%E0%A4%A=1", "/v1/state?topic=%E0%A4%A",
      "/v1/changes?topic=a&since=%", "/v1/changes?topic=a&since=%G1", "/v1/topics?prefix=%"})
  void malformedQueryString_is400(String pathAndQuery) throws Exception {
    // java.net.URI refuses these, so they go over a plain socket.
    String request = pathAndQuery.startsWith("/v1/events")
        ? "POST " + pathAndQuery + " HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 10\r\n\r\n{\"data\":1}"
        : "GET " + pathAndQuery + " HTTP/1.1\r\nHost: x\r\n\r\n";
    assertError(RawHttp.send(server.uri(), request.getBytes(StandardCharsets.ISO_8859_1)), 400, null);
  }

  static Stream<Arguments> malformedHttp() {
    return Stream.of(
        Arguments.of("garbage request line", "GARBAGE\r\n\r\n"),
        Arguments.of("Content-Length not a number",
            "POST /v1/events?topic=raw HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: abc\r\n\r\n"),
        Arguments.of("negative Content-Length",
            "POST /v1/events?topic=raw HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: -5\r\n\r\n"),
        Arguments.of("header without a colon", "GET /healthz HTTP/1.1\r\nHost: x\r\nno colon here\r\n\r\n"));
  }

  @ParameterizedTest(name = "[{index}] {0}")
  @MethodSource("malformedHttp")
  void malformedHttp_isA4xxJsonError_neverA5xx(String what, String request) throws Exception {
    Http.Reply r = RawHttp.send(server.uri(), request.getBytes(StandardCharsets.ISO_8859_1));
    assertThat(r.status()).as("%s -> %s", what, r).isBetween(400, 499);
    assertError(r, r.status(), null);
    assertNothingStored("raw");
  }

  /**
   * The one documented exception to "never a 5xx": Vert.x answers a request line with an unknown
   * HTTP version itself, before any handler runs, with 501 (RFC 9110 would say 505). It must still
   * be answered at once and change nothing.
   */
  @Test
  void unknownHttpVersion_isRefusedAtOnceAndStoresNothing() throws Exception {
    Http.Reply r = RawHttp.send(server.uri(),
        "POST /v1/events?topic=raw HTTP/9.9\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 10\r\n\r\n{\"data\":1}"
            .getBytes(StandardCharsets.ISO_8859_1));
    assertThat(r.status()).as("%s", r).isIn(501, 505);
    assertNothingStored("raw");
  }

  @Test
  void oversizedHeaders_are431WithAJsonError() throws Exception {
    String request = "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + "a".repeat(40_000) + "\r\n\r\n";
    Http.Reply r = RawHttp.send(server.uri(), request.getBytes(StandardCharsets.ISO_8859_1));
    assertError(r, 431, null);
    String longLine = "GET /v1/state?topic=" + "a".repeat(40_000) + " HTTP/1.1\r\nHost: x\r\n\r\n";
    Http.Reply line = RawHttp.send(server.uri(), longLine.getBytes(StandardCharsets.ISO_8859_1));
    assertThat(line.status()).as("%s", line).isBetween(400, 499);
    assertError(line, line.status(), null);
  }

  // ---------------------------------------------------------------- helpers

  private static List<Long> offsets(JsonNode publishBody) {
    List<Long> out = new ArrayList<>();
    publishBody.get("events").forEach(o -> out.add(o.get("offset").asLong()));
    return out;
  }

  private static List<String> fieldNames(JsonNode node) {
    List<String> out = new ArrayList<>();
    for (Iterator<String> it = node.fieldNames(); it.hasNext(); ) {
      out.add(it.next());
    }
    return out;
  }
}
