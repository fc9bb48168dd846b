package io.tidings.server;

import static io.tidings.server.testing.Contract.assertCursor;
import static io.tidings.server.testing.Contract.assertError;
import static io.tidings.server.testing.Contract.etagValue;
import static io.tidings.server.testing.Contract.pollInterval;
import static io.tidings.server.testing.Http.enc;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import io.tidings.server.testing.Http;
import io.tidings.server.testing.TidingsProcess;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.ZonedDateTime;
import java.time.format.DateTimeFormatter;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** {@code GET /v1/state}: full-state polling and its HTTP validators (contract §4.1). */
class StateContractTest {
  private static final AtomicInteger SEQ = new AtomicInteger();
  private static TidingsProcess server;
  private static Http http;

  @BeforeAll
  static void start() throws Exception {
    server = TidingsProcess.builder().name("state-contract").start(); // the default engine: SQLite
    http = new Http(server);
  }

  @AfterAll
  static void stop() {
    if (server != null) {
      server.close();
    }
  }

  private static String topic(String hint) {
    return "state/" + hint + "-" + SEQ.incrementAndGet();
  }

  private static String stateUrl(String topic) {
    return "/v1/state?topic=" + enc(topic);
  }

  private static String put(String key, String data) {
    return "{\"type\":\"put\",\"key\":\"" + key + "\",\"data\":" + data + "}";
  }

  private static String delete(String key) {
    return "{\"type\":\"delete\",\"key\":\"" + key + "\"}";
  }

  private static long httpDate(String value) {
    return ZonedDateTime.parse(value, DateTimeFormatter.RFC_1123_DATE_TIME).toInstant().toEpochMilli();
  }

  private static String httpDate(Instant t) {
    return DateTimeFormatter.RFC_1123_DATE_TIME.format(t.atZone(ZoneOffset.UTC));
  }

  /** A topic with a few events; returns the 200 answer to its state. */
  private static Http.Reply topicWithEvents(String topic) {
    http.publishOk(topic, "[" + put("a", "1") + "," + put("b", "2") + "]");
    Http.Reply r = http.get(stateUrl(topic));
    assertThat(r.status()).isEqualTo(200);
    return r;
  }

  @Test
  void unknownTopic_isAnEmptyState_notA404() {
    String topic = topic("unknown");
    Http.Reply r = http.get(stateUrl(topic));
    assertThat(r.status()).as("%s", r).isEqualTo(200);
    assertThat(r.header("Content-Type")).startsWith("application/json");
    JsonNode body = r.json();
    assertThat(body.get("topic").asText()).isEqualTo(topic);
    String cursor = assertCursor(body.get("cursor"));
    assertThat(body.get("entries").isArray()).isTrue();
    assertThat(body.get("entries")).isEmpty();
    assertThat(body.has("next_key")).isFalse();
    assertThat(etagValue(r)).isEqualTo(cursor);
    assertThat(r.header("Cache-Control")).isEqualTo("no-cache");
    assertThat(r.header("Last-Modified")).as("no event, no Last-Modified").isNull();
    pollInterval(r);
    // Reading an unknown topic does not create it.
    assertThat(http.getOk("/v1/topics?prefix=" + enc(topic)).get("topics")).isEmpty();
  }

  @Test
  void storeCommitsMetric_countsTheSqliteTransactions() {
    double before = http.metric("tidings_store_commits_total").orElseThrow();
    for (int i = 0; i < 3; i++) {
      http.publishOk(topic("commits"), "{\"data\":" + i + "}");
    }
    // Sequential publishes cannot share a transaction: exactly one commit each.
    assertThat(http.metric("tidings_store_commits_total").orElseThrow()).isEqualTo(before + 3);
  }

  @Test
  void putsAndDeletes_areReflected_withTheOffsetAndTimeOfTheLatestChange() {
    String topic = topic("reflect");
    http.publishOk(topic, "[" + put("a", "{\"v\":1}") + "," + put("b", "\"two\"") + "," + put("c", "[3]") + "]");
    http.publishOk(topic, "{\"data\":\"a message does not touch state\"}");
    http.publishOk(topic, delete("b"));
    http.publishOk(topic, put("a", "{\"v\":10}"));
    http.publishOk(topic, delete("never-existed"));

    JsonNode body = http.getOk(stateUrl(topic));
    JsonNode entries = body.get("entries");
    assertThat(entries).extracting(e -> e.get("key").asText()).containsExactly("a", "c");
    JsonNode a = entries.get(0);
    assertThat(fieldNames(a)).containsExactlyInAnyOrder("key", "data", "offset", "time");
    assertThat(a.get("data").toString()).isEqualTo("{\"v\":10}");
    assertThat(a.get("offset").asLong()).isEqualTo(6);
    assertThat(entries.get(1).get("data").toString()).isEqualTo("[3]");
    assertThat(entries.get(1).get("offset").asLong()).isEqualTo(3);

    // The entry time is the time of the event that set it.
    List<JsonNode> events = http.allChanges(topic, 100);
    assertThat(a.get("time").asText()).isEqualTo(events.get(5).get("time").asText());
    // The cursor is the head: after the last event, deletes of unknown keys included.
    assertThat(body.get("cursor").asText()).isEqualTo(events.get(6).get("cursor").asText());

    // Deleting every key leaves an empty state.
    http.publishOk(topic, "[" + delete("a") + "," + delete("c") + "]");
    assertThat(http.getOk(stateUrl(topic)).get("entries")).isEmpty();
  }

  @Test
  void putWithoutData_isRefusedOrStoredAsNull_andStateStaysReadable() {
    String topic = topic("put-no-data");
    Http.Reply r = http.publish(topic, "{\"type\":\"put\",\"key\":\"k\"}");
    if (r.status() == 400) {
      assertError(r, 400, null);
      return;
    }
    assertThat(r.status()).as("%s", r).isEqualTo(201);
    Http.Reply state = http.get(stateUrl(topic));
    assertThat(state.status()).as("%s", state).isEqualTo(200);
    JsonNode entry = state.json().get("entries").get(0);
    assertThat(entry.get("key").asText()).isEqualTo("k");
    assertThat(entry.path("data").isNull() || entry.path("data").isMissingNode()).as("%s", entry).isTrue();
  }

  @Test
  void entries_areSortedByKeyInCodePointOrder() {
    String topic = topic("sorted");
    // Inserted out of order; includes a character above U+FFFF, which String.compareTo misorders.
    List<String> keys = List.of("b", "a10", "\ud83d\ude00", "A", "a2", "_", "\uffee", "z", "0", "a");
    StringBuilder batch = new StringBuilder("[");
    for (String k : keys) {
      batch.append(batch.length() > 1 ? "," : "").append(put(k, "1"));
    }
    http.publishOk(topic, batch.append("]").toString());
    JsonNode entries = http.getOk(stateUrl(topic)).get("entries");
    assertThat(entries).extracting(e -> e.get("key").asText())
        .containsExactly("0", "A", "_", "a", "a10", "a2", "b", "z", "\uffee", "\ud83d\ude00");
  }

  @Test
  void limitAndAfterKey_pageThroughTheState_withNextKey() {
    String topic = topic("paging");
    StringBuilder batch = new StringBuilder("[");
    for (int i = 24; i >= 0; i--) {
      batch.append(i < 24 ? "," : "").append(put(String.format("k%02d", i), Integer.toString(i)));
    }
    http.publishOk(topic, batch.append("]").toString());

    JsonNode p1 = http.getOk(stateUrl(topic) + "&limit=10");
    assertThat(keys(p1)).containsExactly("k00", "k01", "k02", "k03", "k04", "k05", "k06", "k07", "k08", "k09");
    assertThat(p1.get("next_key").asText()).isEqualTo("k09");
    JsonNode p2 = http.getOk(stateUrl(topic) + "&limit=10&after_key=" + enc(p1.get("next_key").asText()));
    assertThat(keys(p2)).containsExactly("k10", "k11", "k12", "k13", "k14", "k15", "k16", "k17", "k18", "k19");
    JsonNode p3 = http.getOk(stateUrl(topic) + "&limit=10&after_key=" + enc(p2.get("next_key").asText()));
    assertThat(keys(p3)).containsExactly("k20", "k21", "k22", "k23", "k24");
    assertThat(p3.has("next_key")).as("the last page has no next_key").isFalse();
    assertThat(p2.get("cursor").asText()).isEqualTo(p1.get("cursor").asText()).isEqualTo(p3.get("cursor").asText());
    assertThat(p2.get("entries").get(0).get("data").asInt()).isEqualTo(10);

    // after_key need not be a key; past the end is an empty page.
    assertThat(keys(http.getOk(stateUrl(topic) + "&limit=3&after_key=k105"))).containsExactly("k11", "k12", "k13");
    JsonNode end = http.getOk(stateUrl(topic) + "&after_key=zzz");
    assertThat(end.get("entries")).isEmpty();
    assertThat(end.has("next_key")).isFalse();
    // The default limit covers these 25 keys at once; the maximum is accepted.
    assertThat(http.getOk(stateUrl(topic)).get("entries")).hasSize(25);
    assertThat(http.getOk(stateUrl(topic) + "&limit=10000").get("entries")).hasSize(25);
    assertThat(http.allState(topic, 7)).extracting(e -> e.get("key").asText()).hasSize(25).doesNotHaveDuplicates();
  }

  @ParameterizedTest
  @ValueSource(strings = {"0", "10001", "abc", "-1", "1.5", "", "99999999999"})
  void limitOutOfRange_is400(String limit) {
    assertError(http.get(stateUrl(topic("limit")) + "&limit=" + enc(limit)), 400, "invalid_parameter");
  }

  @Test
  void validators_etagIsTheQuotedCursor_cacheControlNoCache_lastModifiedIsTheNewestEventTime() {
    String topic = topic("validators");
    Http.Reply r = topicWithEvents(topic);
    String cursor = r.json().get("cursor").asText();
    assertThat(r.header("ETag")).isEqualTo("\"" + cursor + "\"");
    assertThat(r.header("Cache-Control")).isEqualTo("no-cache");
    pollInterval(r);
    String lastModified = r.header("Last-Modified");
    assertThat(lastModified).as("Last-Modified once there are events").isNotNull();
    List<JsonNode> events = http.allChanges(topic, 10);
    Instant newest = Instant.parse(events.get(events.size() - 1).get("time").asText());
    assertThat(httpDate(lastModified)).isEqualTo(newest.truncatedTo(ChronoUnit.SECONDS).toEpochMilli());
    assertThat(cursor).isEqualTo(events.get(events.size() - 1).get("cursor").asText());
  }

  @Test
  void ifNoneMatchWithTheCurrentEtag_is304WithTheSameHeadersAndNoBody() {
    String topic = topic("inm-304");
    Http.Reply ok = topicWithEvents(topic);
    Http.Reply r = http.get(stateUrl(topic), "If-None-Match", ok.header("ETag"));
    assertThat(r.status()).as("%s", r).isEqualTo(304);
    assertThat(r.header("ETag")).isEqualTo(ok.header("ETag"));
    assertThat(r.header("Cache-Control")).isEqualTo("no-cache");
    pollInterval(r);
    assertThat(r.body()).isEmpty();
  }

  @ParameterizedTest
  @ValueSource(strings = {"LIST", "WEAK", "STAR", "WEAK_IN_LIST"})
  void ifNoneMatchListsWeakTagsAndStar_match(String form) {
    String topic = topic("inm-forms");
    String etag = topicWithEvents(topic).header("ETag");
    String header = switch (form) {
      case "LIST" -> "\"nope\", " + etag + ",\"other\"";
      case "WEAK" -> "W/" + etag;
      case "STAR" -> "*";
      default -> "W/\"x\",W/" + etag;
    };
    Http.Reply r = http.get(stateUrl(topic), "If-None-Match", header);
    assertThat(r.status()).as("If-None-Match: %s -> %s", header, r).isEqualTo(304);
    assertThat(r.header("ETag")).isEqualTo(etag);
  }

  @Test
  void ifNoneMatchNotMatching_is200() {
    String topic = topic("inm-200");
    Http.Reply ok = topicWithEvents(topic);
    String cursor = ok.json().get("cursor").asText();
    for (String header : List.of("\"nope\"", "\"" + cursor + "x\"", "\"" + cursor.substring(1) + "\"", "W/\"nope\", \"also-not\"")) {
      Http.Reply r = http.get(stateUrl(topic), "If-None-Match", header);
      assertThat(r.status()).as("If-None-Match: %s -> %s", header, r).isEqualTo(200);
      assertThat(r.json().get("entries")).hasSize(2);
      assertThat(r.header("ETag")).isEqualTo(ok.header("ETag"));
    }
  }

  @Test
  void afterANewPublish_theOldEtagGets200WithTheNewState() {
    String topic = topic("inm-stale");
    Http.Reply before = topicWithEvents(topic);
    http.publishOk(topic, put("c", "3"));
    Http.Reply r = http.get(stateUrl(topic), "If-None-Match", before.header("ETag"));
    assertThat(r.status()).as("%s", r).isEqualTo(200);
    assertThat(r.header("ETag")).isNotEqualTo(before.header("ETag"));
    assertThat(r.header("ETag")).isEqualTo("\"" + r.json().get("cursor").asText() + "\"");
    assertThat(keys(r.json())).containsExactly("a", "b", "c");
    // And the new tag is honoured.
    assertThat(http.get(stateUrl(topic), "If-None-Match", r.header("ETag")).status()).isEqualTo(304);
    // The empty state of an unknown topic has a tag too, and publishing invalidates it.
    String fresh = topic("inm-fresh");
    Http.Reply empty = http.get(stateUrl(fresh));
    assertThat(http.get(stateUrl(fresh), "If-None-Match", empty.header("ETag")).status()).isEqualTo(304);
    http.publishOk(fresh, put("k", "1"));
    assertThat(http.get(stateUrl(fresh), "If-None-Match", empty.header("ETag")).status()).isEqualTo(200);
  }

  @Test
  void ifModifiedSince_equalOrLaterIs304_earlierIs200() {
    String topic = topic("ims");
    Http.Reply ok = topicWithEvents(topic);
    String lastModified = ok.header("Last-Modified");
    Instant lm = Instant.ofEpochMilli(httpDate(lastModified));

    Http.Reply equal = http.get(stateUrl(topic), "If-Modified-Since", lastModified);
    assertThat(equal.status()).as("%s", equal).isEqualTo(304);
    assertThat(equal.header("ETag")).isEqualTo(ok.header("ETag"));
    assertThat(equal.header("Cache-Control")).isEqualTo("no-cache");
    pollInterval(equal);
    assertThat(equal.body()).isEmpty();

    assertThat(http.get(stateUrl(topic), "If-Modified-Since", httpDate(lm.plusSeconds(1))).status()).isEqualTo(304);
    Http.Reply earlier = http.get(stateUrl(topic), "If-Modified-Since", httpDate(lm.minusSeconds(1)));
    assertThat(earlier.status()).isEqualTo(200);
    assertThat(keys(earlier.json())).containsExactly("a", "b");
  }

  @Test
  void ifModifiedSince_isIgnoredWhenIfNoneMatchIsPresentAndDoesNotMatch() {
    String topic = topic("ims-inm");
    Http.Reply ok = topicWithEvents(topic);
    Http.Reply r = http.get(stateUrl(topic), "If-None-Match", "\"nope\"", "If-Modified-Since", ok.header("Last-Modified"));
    assertThat(r.status()).as("RFC 9110 §13.2.2: If-None-Match decides; %s", r).isEqualTo(200);
    assertThat(r.json().get("entries")).hasSize(2);
  }

  @ParameterizedTest
  @ValueSource(strings = {"yesterday", "Sat, 99 Nov 2026 10:00:00 GMT", "0", "-1", "Sat, 28 Nov 2026 10:00:00"})
  void garbageIfModifiedSince_isIgnored(String value) {
    String topic = topic("ims-garbage");
    topicWithEvents(topic);
    Http.Reply r = http.get(stateUrl(topic), "If-Modified-Since", value);
    assertThat(r.status()).as("If-Modified-Since: %s -> %s", value, r).isEqualTo(200);
    assertThat(r.json().get("entries")).hasSize(2);
  }

  @Test
  void ifModifiedSinceOnAnUnknownTopic_is200() {
    Http.Reply r = http.get(stateUrl(topic("ims-unknown")), "If-Modified-Since", httpDate(Instant.now().plusSeconds(3600)));
    assertThat(r.status()).as("nothing was modified, but there is no Last-Modified to compare: %s", r).isEqualTo(200);
  }

  @Test
  void headRequest_hasTheHeadersOfAGetAndNoBody() {
    String topic = topic("head");
    Http.Reply get = topicWithEvents(topic);
    Http.Reply head = http.head(stateUrl(topic));
    assertThat(head.status()).isEqualTo(200);
    assertThat(head.body()).isEmpty();
    assertThat(head.header("ETag")).isEqualTo(get.header("ETag"));
    assertThat(head.header("Cache-Control")).isEqualTo("no-cache");
    assertThat(head.header("Last-Modified")).isEqualTo(get.header("Last-Modified"));
    pollInterval(head);
    assertThat(http.head(stateUrl(topic), "If-None-Match", get.header("ETag")).status()).isEqualTo(304);
  }

  @Test
  void missingOrInvalidTopic_is400() {
    assertError(http.get("/v1/state"), 400, "invalid_topic");
    assertError(http.get("/v1/state?topic=a//b"), 400, "invalid_topic");
    assertError(http.get("/v1/state?topic=a&topic=b"), 400, null);
  }

  private static List<String> keys(JsonNode stateBody) {
    List<String> out = new ArrayList<>();
    stateBody.get("entries").forEach(e -> out.add(e.get("key").asText()));
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
