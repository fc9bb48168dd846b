package io.tidings.server;

import static io.tidings.server.testing.Contract.assertCursor;
import static io.tidings.server.testing.Contract.assertError;
import static io.tidings.server.testing.Contract.etagValue;
import static io.tidings.server.testing.Contract.pollInterval;
import static io.tidings.server.testing.Http.enc;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import io.tidings.server.testing.Http;
import io.tidings.server.testing.TidingsProcess;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** {@code GET /v1/changes}: incremental sync, long polling, caching and resets (contract §4.2, §4.3, §1). */
class ChangesContractTest {
  private static final AtomicInteger SEQ = new AtomicInteger();
  private static final Pattern HEAD_CACHE = Pattern.compile("public, max-age=([0-9]+)");
  private static final String IMMUTABLE = "public, max-age=31536000, immutable";
  /** Two event loops whatever the machine, so long polls and publishes cross loops. */
  private static final String CONFIG = """
      server:
        event_loops: 2
      pull:
        poll_interval: { min: 10s, max: 10s }
      """;

  private static TidingsProcess server;
  private static Http http;
  private static TidingsProcess trimServer;

  @BeforeAll
  static void start() throws Exception {
    server = TidingsProcess.builder().name("changes-contract").memory().config(CONFIG).start();
    http = new Http(server);
  }

  @AfterAll
  static void stop() {
    if (server != null) {
      server.close();
    }
    if (trimServer != null) {
      trimServer.close();
    }
  }

  /** A second server (another history, the SQLite store) that trims {@code trim/**} to 5 events every 20 ms. */
  private static synchronized TidingsProcess trimServer() throws Exception {
    if (trimServer == null) {
      trimServer = TidingsProcess.builder().name("changes-trim").config("""
          store: { retention_interval: 20ms }
          retention:
            - { topic: "trim/**", max_events: 5 }
          """).start();
    }
    return trimServer;
  }

  private static String topic(String hint) {
    return "changes/" + hint + "-" + SEQ.incrementAndGet();
  }

  private static String changes(String topic) {
    return "/v1/changes?topic=" + enc(topic);
  }

  private static String changes(String topic, String since) {
    return changes(topic) + "&since=" + enc(since);
  }

  private static List<Long> offsets(JsonNode body) {
    List<Long> out = new ArrayList<>();
    body.get("events").forEach(e -> out.add(e.get("offset").asLong()));
    return out;
  }

  /** Cursors of events 1..n of a new topic with n messages. */
  private static List<String> publish(String topic, int n) {
    List<String> cursors = new ArrayList<>();
    http.publishMessages(topic, n).get("events").forEach(o -> cursors.add(o.get("cursor").asText()));
    return cursors;
  }

  private static double heldLongPolls(Http client) {
    return client.metric("tidings_long_polls_waiting").orElseThrow(() -> new AssertionError("no tidings_long_polls_waiting gauge"));
  }

  private static void awaitHeld(Http client, int atLeast) {
    await().atMost(Duration.ofSeconds(20)).pollInterval(Duration.ofMillis(50))
        .until(() -> heldLongPolls(client) >= atLeast);
  }

  // ---------------------------------------------------------------- reading

  @Test
  void sinceDefaultsToEarliest_andTheCursorIsTheLastEventsCursor() {
    String topic = topic("default");
    List<String> cursors = publish(topic, 3);
    Http.Reply r = http.get(changes(topic));
    assertThat(r.status()).isEqualTo(200);
    assertThat(r.header("Content-Type")).startsWith("application/json");
    JsonNode body = r.json();
    assertThat(body.get("topic").asText()).isEqualTo(topic);
    assertThat(offsets(body)).containsExactly(1L, 2L, 3L);
    assertThat(body.get("events")).extracting(e -> e.get("cursor").asText()).containsExactlyElementsOf(cursors);
    assertThat(body.get("events")).allSatisfy(e -> assertThat(e.get("topic").asText()).isEqualTo(topic));
    assertThat(body.get("cursor").asText()).isEqualTo(cursors.get(2));
    assertThat(body.get("more").isBoolean()).isTrue();
    assertThat(body.get("more").asBoolean()).isFalse();
    assertThat(etagValue(r)).isEqualTo(cursors.get(2));
    pollInterval(r);
    assertThat(http.get(changes(topic, "earliest")).body()).isEqualTo(r.body());
  }

  @Test
  void sinceNow_returnsNothing_withTheHeadCursor() {
    String topic = topic("now");
    List<String> cursors = publish(topic, 4);
    Http.Reply r = http.get(changes(topic, "now"));
    assertThat(r.status()).isEqualTo(200);
    JsonNode body = r.json();
    assertThat(body.get("events")).isEmpty();
    assertThat(body.get("cursor").asText()).isEqualTo(cursors.get(3));
    assertThat(body.get("more").asBoolean()).isFalse();
    assertThat(etagValue(r)).isEqualTo(cursors.get(3));
    // Resuming from it yields exactly what is published afterwards.
    http.publishMessages(topic, 2);
    assertThat(offsets(http.getOk(changes(topic, body.get("cursor").asText())))).containsExactly(5L, 6L);
  }

  @Test
  void emptyTopic_earliestAndNowAgreeOnOneCursor_thatResumesFromTheFirstEvent() {
    String topic = topic("empty");
    JsonNode earliest = http.getOk(changes(topic));
    JsonNode now = http.getOk(changes(topic, "now"));
    assertThat(earliest.get("events")).isEmpty();
    String cursor = assertCursor(earliest.get("cursor"));
    assertThat(now.get("cursor").asText()).isEqualTo(cursor);
    http.publishMessages(topic, 1);
    assertThat(offsets(http.getOk(changes(topic, cursor)))).containsExactly(1L);
  }

  @Test
  void limitPages_withMore_andEachPageCursorResumesTheNext() {
    String topic = topic("limit");
    List<String> cursors = publish(topic, 5);
    JsonNode p1 = http.getOk(changes(topic) + "&limit=2");
    assertThat(offsets(p1)).containsExactly(1L, 2L);
    assertThat(p1.get("more").asBoolean()).isTrue();
    assertThat(p1.get("cursor").asText()).isEqualTo(cursors.get(1));
    JsonNode p2 = http.getOk(changes(topic, p1.get("cursor").asText()) + "&limit=2");
    assertThat(offsets(p2)).containsExactly(3L, 4L);
    assertThat(p2.get("more").asBoolean()).isTrue();
    JsonNode p3 = http.getOk(changes(topic, p2.get("cursor").asText()) + "&limit=2");
    assertThat(offsets(p3)).containsExactly(5L);
    assertThat(p3.get("more").asBoolean()).isFalse();
    assertThat(p3.get("cursor").asText()).isEqualTo(cursors.get(4));
    // A page that ends exactly at the head has nothing more.
    JsonNode exact = http.getOk(changes(topic, cursors.get(2)) + "&limit=2");
    assertThat(offsets(exact)).containsExactly(4L, 5L);
    assertThat(exact.get("more").asBoolean()).isFalse();
  }

  @Test
  void defaultLimitIs100_andMaximum1000IsAccepted() {
    String topic = topic("default-limit");
    http.publishMessages(topic, 150);
    JsonNode page = http.getOk(changes(topic));
    assertThat(page.get("events")).hasSize(100);
    assertThat(page.get("more").asBoolean()).isTrue();
    JsonNode all = http.getOk(changes(topic) + "&limit=1000");
    assertThat(all.get("events")).hasSize(150);
    assertThat(all.get("more").asBoolean()).isFalse();
  }

  @Test
  void notifyMode_dropsDataButKeepsEveryOtherField() {
    String topic = topic("notify");
    http.publishOk(topic, "[{\"type\":\"put\",\"key\":\"k\",\"id\":\"i1\",\"data\":{\"secret\":1}},{\"data\":[1,2]}]");
    JsonNode full = http.getOk(changes(topic) + "&mode=full");
    JsonNode notify = http.getOk(changes(topic) + "&mode=notify");
    assertThat(full.get("events").get(0).get("data").toString()).isEqualTo("{\"secret\":1}");
    assertThat(notify.get("events")).hasSize(2);
    for (int i = 0; i < 2; i++) {
      JsonNode n = notify.get("events").get(i);
      JsonNode f = full.get("events").get(i);
      assertThat(n.has("data")).as("notify event %s", n).isFalse();
      ((com.fasterxml.jackson.databind.node.ObjectNode) f).remove("data");
      assertThat(n).isEqualTo(f);
    }
    assertThat(notify.get("cursor")).isEqualTo(full.get("cursor"));
  }

  // ---------------------------------------------------------------- caching

  @Test
  void pageEndingBeforeTheHead_withAConcreteSince_isImmutable() {
    String topic = topic("immutable");
    List<String> cursors = publish(topic, 5);
    Http.Reply r = http.get(changes(topic, cursors.get(0)) + "&limit=2");
    assertThat(r.json().get("more").asBoolean()).isTrue();
    assertThat(r.header("Cache-Control")).isEqualTo(IMMUTABLE);
    // Immutable means immutable: the same request after more publishes gets the same bytes.
    http.publishMessages(topic, 3);
    Http.Reply again = http.get(changes(topic, cursors.get(0)) + "&limit=2");
    assertThat(again.body()).isEqualTo(r.body());
    assertThat(again.header("ETag")).isEqualTo(r.header("ETag"));
  }

  @Test
  void pageAtTheHead_isPublicWithAShortMaxAge_neverPrivateOrImmutable() {
    String topic = topic("head-cache");
    List<String> cursors = publish(topic, 3);
    for (String url : List.of(changes(topic, cursors.get(0)), changes(topic, cursors.get(2)), changes(topic, "now"),
        changes(topic))) {
      Http.Reply r = http.get(url);
      assertThat(r.status()).isEqualTo(200);
      String cc = r.header("Cache-Control");
      Matcher m = HEAD_CACHE.matcher(cc == null ? "" : cc);
      assertThat(m.matches()).as("Cache-Control of %s: %s", url, cc).isTrue();
      assertThat(Integer.parseInt(m.group(1))).isBetween(1, 5);
    }
  }

  @Test
  void ifNoneMatchSince_withNothingNew_is304WithEtagCacheControlAndPollInterval() {
    String topic = topic("inm");
    List<String> cursors = publish(topic, 2);
    String since = cursors.get(1);
    Http.Reply r = http.get(changes(topic, since), "If-None-Match", "\"" + since + "\"");
    assertThat(r.status()).as("%s", r).isEqualTo(304);
    assertThat(r.body()).isEmpty();
    assertThat(r.header("ETag")).isEqualTo("\"" + since + "\"");
    assertThat(r.header("Cache-Control")).matches(HEAD_CACHE);
    pollInterval(r);
    // With something new the same request is a 200.
    Http.Reply behind = http.get(changes(topic, cursors.get(0)), "If-None-Match", "\"" + cursors.get(0) + "\"");
    assertThat(behind.status()).isEqualTo(200);
    assertThat(offsets(behind.json())).containsExactly(2L);
    // A tag that is not the position is a 200 with no events.
    Http.Reply other = http.get(changes(topic, since), "If-None-Match", "\"" + cursors.get(0) + "\"");
    assertThat(other.status()).isEqualTo(200);
    assertThat(other.json().get("events")).isEmpty();
  }

  @Test
  void headRequests_answerWithTheHeadersOfAGetAndNoBody() {
    String topic = topic("head");
    List<String> cursors = publish(topic, 2);
    Http.Reply get = http.get(changes(topic, cursors.get(0)));
    Http.Reply head = http.head(changes(topic, cursors.get(0)));
    assertThat(head.status()).isEqualTo(200);
    assertThat(head.body()).isEmpty();
    assertThat(head.header("ETag")).isEqualTo(get.header("ETag"));
    assertThat(head.header("Cache-Control")).isEqualTo(get.header("Cache-Control"));
    pollInterval(head);
    Http.Reply topics = http.head("/v1/topics");
    assertThat(topics.status()).isEqualTo(200);
    assertThat(topics.body()).isEmpty();
  }

  @Test
  void pollIntervalHint_isOnEvery200And304_andJittersWithin20PercentOfTheConfiguredBounds() {
    String topic = topic("hint");
    List<String> cursors = publish(topic, 1);
    String etag = "\"" + cursors.get(0) + "\"";
    List<Double> values = new ArrayList<>();
    for (int i = 0; i < 25; i++) {
      Http.Reply ok = http.get(changes(topic));
      assertThat(ok.status()).isEqualTo(200);
      values.add(pollInterval(ok));
      Http.Reply notModified = http.get(changes(topic, cursors.get(0)), "If-None-Match", etag);
      assertThat(notModified.status()).isEqualTo(304);
      values.add(pollInterval(notModified));
      Http.Reply state = http.get("/v1/state?topic=" + enc(topic));
      values.add(pollInterval(state));
      Http.Reply state304 = http.get("/v1/state?topic=" + enc(topic), "If-None-Match", state.header("ETag"));
      assertThat(state304.status()).isEqualTo(304);
      values.add(pollInterval(state304));
    }
    // min = max = 10 s, jitter ±20%: pollers of one topic must not fall into step even when the
    // operator pins the interval.
    assertThat(values).allSatisfy(v -> assertThat(v).isBetween(8.0, 12.0));
    assertThat(new HashSet<>(values)).as("jitter: %s", values).hasSizeGreaterThan(20);
    assertThat(values.stream().mapToDouble(Double::doubleValue).min().orElseThrow()).isLessThan(9.5);
    assertThat(values.stream().mapToDouble(Double::doubleValue).max().orElseThrow()).isGreaterThan(10.5);
  }

  // ---------------------------------------------------------------- long polling

  @Test
  void longPoll_isAnsweredAsSoonAsAnEventIsPublished() throws Exception {
    String topic = topic("wake");
    List<String> cursors = publish(topic, 1);
    Http poller = http.with(Http.newClient());
    double heldBefore = heldLongPolls(http);
    // The longest wait: answering well inside it can only mean the publish woke the poll.
    CompletableFuture<Http.Reply> poll = poller.getAsync(changes(topic, cursors.get(0)) + "&wait=60");
    awaitHeld(http, (int) heldBefore + 1);
    assertThat(poll).isNotDone();
    long published = System.nanoTime();
    http.publishOk(topic, "{\"data\":\"wake up\"}");
    Http.Reply r = poll.get(45, TimeUnit.SECONDS);
    long afterPublishMs = (System.nanoTime() - published) / 1_000_000;
    assertThat(r.status()).isEqualTo(200);
    assertThat(afterPublishMs).as("ms from publish to answer").isLessThan(20_000);
    JsonNode body = r.json();
    assertThat(offsets(body)).containsExactly(2L);
    assertThat(body.get("events").get(0).get("data").asText()).isEqualTo("wake up");
    assertThat(body.get("cursor").asText()).isEqualTo(body.get("events").get(0).get("cursor").asText());
    assertThat(etagValue(r)).isEqualTo(body.get("cursor").asText());
  }

  @Test
  void longPollOnATopicNobodyPublishedTo_isWokenByTheFirstEvent() throws Exception {
    String topic = topic("wake-new");
    Http poller = http.with(Http.newClient());
    double heldBefore = heldLongPolls(http);
    CompletableFuture<Http.Reply> fromEarliest = poller.getAsync(changes(topic) + "&wait=5");
    CompletableFuture<Http.Reply> fromNow = poller.getAsync(changes(topic, "now") + "&wait=5&mode=notify");
    awaitHeld(http, (int) heldBefore + 2);
    http.publishOk(topic, "{\"type\":\"put\",\"key\":\"k\",\"data\":1}");
    Http.Reply a = fromEarliest.get(3, TimeUnit.SECONDS);
    Http.Reply b = fromNow.get(3, TimeUnit.SECONDS);
    assertThat(offsets(a.json())).containsExactly(1L);
    assertThat(a.json().get("events").get(0).get("data").asInt()).isEqualTo(1);
    assertThat(offsets(b.json())).containsExactly(1L);
    assertThat(b.json().get("events").get(0).has("data")).as("notify mode while long polling").isFalse();
  }

  @Test
  void longPollWokenByABatch_returnsAtMostLimitEvents_withMore() throws Exception {
    String topic = topic("wake-limit");
    String since = publish(topic, 1).get(0);
    Http poller = http.with(Http.newClient());
    double heldBefore = heldLongPolls(http);
    CompletableFuture<Http.Reply> poll = poller.getAsync(changes(topic, since) + "&wait=5&limit=2");
    awaitHeld(http, (int) heldBefore + 1);
    http.publishMessages(topic, 5);
    Http.Reply r = poll.get(5, TimeUnit.SECONDS);
    JsonNode body = r.json();
    assertThat(offsets(body)).containsExactly(2L, 3L);
    assertThat(body.get("more").asBoolean()).isTrue();
    assertThat(body.get("cursor").asText()).isEqualTo(body.get("events").get(1).get("cursor").asText());
    assertThat(r.header("Cache-Control")).isEqualTo(IMMUTABLE);
    assertThat(offsets(http.getOk(changes(topic, body.get("cursor").asText())))).containsExactly(4L, 5L, 6L);
  }

  @Test
  void longPollWithNothingNew_answersAfterTheWaitWithNoEvents() {
    String topic = topic("timeout");
    List<String> cursors = publish(topic, 1);
    Http.Reply r = http.get(changes(topic, cursors.get(0)) + "&wait=1");
    assertThat(r.status()).isEqualTo(200);
    assertThat(r.millis()).as("answer time in ms").isBetween(900L, 4000L);
    JsonNode body = r.json();
    assertThat(body.get("events")).isEmpty();
    assertThat(body.get("cursor").asText()).isEqualTo(cursors.get(0));
    assertThat(body.get("more").asBoolean()).isFalse();
    assertThat(etagValue(r)).isEqualTo(cursors.get(0));
    pollInterval(r);
  }

  @Test
  void longPollWithIfNoneMatch_is304AfterTheWait() {
    String topic = topic("timeout-304");
    List<String> cursors = publish(topic, 1);
    Http.Reply r = http.get(changes(topic, cursors.get(0)) + "&wait=1", "If-None-Match", "\"" + cursors.get(0) + "\"");
    assertThat(r.status()).as("%s", r).isEqualTo(304);
    assertThat(r.millis()).as("answer time in ms").isBetween(900L, 4000L);
    assertThat(r.header("ETag")).isEqualTo("\"" + cursors.get(0) + "\"");
    assertThat(r.header("Cache-Control")).matches(HEAD_CACHE);
    pollInterval(r);
  }

  @Test
  void longPollWithEventsAlreadyAvailable_answersAtOnce() {
    String topic = topic("no-wait");
    publish(topic, 3);
    Http.Reply r = http.get(changes(topic) + "&wait=60");
    assertThat(r.millis()).isLessThan(20_000);
    assertThat(offsets(r.json())).containsExactly(1L, 2L, 3L);
  }

  @Test
  void publishWakesEveryLongPollOfItsTopic_andNoneOfAnotherTopic() throws Exception {
    String hot = topic("many-hot");
    String cold = topic("many-cold");
    String hotCursor = publish(hot, 1).get(0);
    String coldCursor = publish(cold, 1).get(0);
    Http poller = http.with(Http.newClient());
    double heldBefore = heldLongPolls(http);

    List<CompletableFuture<Http.Reply>> hotPolls = new ArrayList<>();
    List<CompletableFuture<Http.Reply>> coldPolls = new ArrayList<>();
    for (int i = 0; i < 200; i++) {
      hotPolls.add(poller.getAsync(changes(hot, hotCursor) + "&wait=60" + (i % 2 == 0 ? "" : "&mode=notify")));
      if (i < 50) {
        coldPolls.add(poller.getAsync(changes(cold, coldCursor) + "&wait=15"));
      }
    }
    awaitHeld(http, (int) heldBefore + 250);
    assertThat(hotPolls).noneMatch(CompletableFuture::isDone);

    long published = System.nanoTime();
    http.publishOk(hot, "{\"id\":\"hot-1\",\"data\":42}");
    CompletableFuture.allOf(hotPolls.toArray(new CompletableFuture[0])).get(50, TimeUnit.SECONDS);
    long wokeMs = (System.nanoTime() - published) / 1_000_000;
    assertThat(wokeMs).as("ms until all 200 long polls answered (they would wait 60 s)").isLessThan(30_000);
    for (int i = 0; i < hotPolls.size(); i++) {
      Http.Reply r = hotPolls.get(i).get();
      assertThat(r.status()).isEqualTo(200);
      JsonNode e = r.json().get("events");
      assertThat(e).hasSize(1);
      assertThat(e.get(0).get("offset").asLong()).isEqualTo(2);
      assertThat(e.get(0).get("id").asText()).isEqualTo("hot-1");
      assertThat(e.get(0).has("data")).as("poll %d in %s mode", i, i % 2 == 0 ? "full" : "notify").isEqualTo(i % 2 == 0);
    }
    assertThat(coldPolls).as("long polls of another topic stay held").noneMatch(CompletableFuture::isDone);

    CompletableFuture.allOf(coldPolls.toArray(new CompletableFuture[0])).get(45, TimeUnit.SECONDS);
    for (CompletableFuture<Http.Reply> f : coldPolls) {
      Http.Reply r = f.get();
      assertThat(r.status()).isEqualTo(200);
      assertThat(r.json().get("events")).isEmpty();
      assertThat(r.json().get("cursor").asText()).isEqualTo(coldCursor);
      assertThat(r.millis()).as("a cold poll ends by its own wait").isGreaterThanOrEqualTo(14_500);
    }
    await().atMost(Duration.ofSeconds(5)).until(() -> heldLongPolls(http) <= heldBefore);
  }

  // ---------------------------------------------------------------- invalid input

  /**
   * EPOCH stands for the topic's real epoch. {@code x.1} has the dots of a cursor but an epoch no
   * store ever issues (epochs are 10 characters of [a-z2-7]): it is malformed input (400), not a
   * cursor of another history (410), which would send a buggy client into a needless reset.
   */
  @ParameterizedTest
  @ValueSource(strings = {"abc", "x.1", "", "ABCDEFGHIJ.1", "EPOCH.-1", "EPOCH.01", "EPOCH.", ".5", "EPOCH.1.2", "EPOCH.1x",
      "EPOCH.99999999999999999999", "EPOCH.1 ", "earliest ", "Earliest", "NOW"})
  void malformedCursor_is400InvalidCursor(String since) {
    String topic = topic("bad-cursor");
    String epoch = epochOf(publish(topic, 1).get(0));
    String value = since.replace("EPOCH", epoch);
    assertError(http.get(changes(topic, value)), 400, "invalid_cursor");
  }

  @Test
  void overlongCursor_is400InvalidCursor() {
    String topic = topic("long-cursor");
    assertError(http.get(changes(topic, "a".repeat(600) + ".1")), 400, "invalid_cursor");
  }

  @Test
  void cursorPastTheHead_is400InvalidCursor() {
    String topic = topic("past-head");
    List<String> cursors = publish(topic, 3);
    String epoch = epochOf(cursors.get(2));
    assertError(http.get(changes(topic, epoch + ".4")), 400, "invalid_cursor");
    assertError(http.get(changes(topic, epoch + ".999") + "&wait=5"), 400, "invalid_cursor");
    // A topic nobody published to has no offset 1 yet.
    String empty = topic("past-head-empty");
    String emptyEpoch = epochOf(http.getOk(changes(empty)).get("cursor").asText());
    assertError(http.get(changes(empty, emptyEpoch + ".1")), 400, "invalid_cursor");
  }

  @ParameterizedTest
  @ValueSource(strings = {"limit=0", "limit=1001", "limit=abc", "limit=-1", "limit=", "wait=61", "wait=-1", "wait=abc",
      "wait=", "wait=60.5", "mode=bogus", "mode=", "limit=1&limit=2", "since=earliest&since=now"})
  void invalidParameter_is400(String query) {
    String topic = topic("bad-param");
    assertError(http.get(changes(topic) + "&" + query), 400, null);
  }

  @Test
  void missingOrRepeatedTopic_is400InvalidTopic() {
    assertError(http.get("/v1/changes"), 400, "invalid_topic");
    assertError(http.get("/v1/changes?topic=a&topic=b"), 400, null);
    assertError(http.get("/v1/changes?topic=" + enc("a b")), 400, "invalid_topic");
  }

  @Test
  void waitOfZeroAndSixty_areAccepted() {
    String topic = topic("wait-bounds");
    publish(topic, 1);
    assertThat(http.get(changes(topic) + "&wait=0").status()).isEqualTo(200);
    assertThat(http.get(changes(topic) + "&wait=60").status()).isEqualTo(200);
  }

  // ---------------------------------------------------------------- resets

  @Test
  void cursorFromAnotherHistory_is410CursorExpired_withAStateUrl() throws Exception {
    Http other = new Http(trimServer());
    String topic = topic("epoch");
    List<String> here = publish(topic, 3);
    List<String> there = new ArrayList<>();
    other.publishMessages(topic, 3).get("events").forEach(o -> there.add(o.get("cursor").asText()));
    assertThat(epochOf(here.get(0))).as("two stores, two histories").isNotEqualTo(epochOf(there.get(0)));

    for (String cursor : List.of(here.get(0), here.get(2), epochOf(here.get(0)) + ".0")) {
      JsonNode body = assertError(other.get(changes(topic, cursor)), 410, "cursor_expired");
      assertStateUrl(other, body, topic);
      // Long polls get the same answer at once rather than waiting.
      Http.Reply waited = other.get(changes(topic, cursor) + "&wait=60");
      assertError(waited, 410, "cursor_expired");
      assertThat(waited.millis()).isLessThan(20_000);
    }
    JsonNode body = assertError(http.get(changes(topic, there.get(1))), 410, "cursor_expired");
    assertStateUrl(http, body, topic);
    // A cursor of another history is never read as a position here, even past this head.
    assertError(http.get(changes(topic, epochOf(there.get(0)) + ".999")), 410, "cursor_expired");
  }

  @Test
  void afterRetentionTrims_aCursorBeforeTheRetainedRangeIs410_whileEarliestStillWorks() throws Exception {
    Http trim = new Http(trimServer());
    String topic = "trim/" + SEQ.incrementAndGet();
    StringBuilder batch = new StringBuilder("[");
    for (int i = 1; i <= 20; i++) {
      batch.append(i > 1 ? "," : "").append("{\"type\":\"put\",\"key\":\"k").append(i).append("\",\"data\":").append(i).append("}");
    }
    JsonNode published = trim.publishOk(topic, batch.append("]").toString());
    String epoch = epochOf(published.get("cursor").asText());

    JsonNode head = await().atMost(Duration.ofSeconds(10)).pollInterval(Duration.ofMillis(100))
        .until(() -> trim.getOk("/v1/topics?prefix=" + enc(topic)).get("topics").get(0), t -> t.get("first_offset").asLong() > 1);
    long first = head.get("first_offset").asLong();
    assertThat(head.get("last_offset").asLong()).isEqualTo(20);
    assertThat(first).as("max_events 5 keeps offsets 16..20").isEqualTo(16);

    // Before the retained range: reset, never a silent skip.
    for (long offset : new long[] {0, 1, 5, first - 2}) {
      JsonNode body = assertError(trim.get(changes(topic, epoch + "." + offset)), 410, "cursor_expired");
      assertStateUrl(trim, body, topic);
    }
    // Right before the oldest retained event: still continuous.
    JsonNode edge = trim.getOk(changes(topic, epoch + "." + (first - 1)));
    assertThat(offsets(edge)).containsExactly(16L, 17L, 18L, 19L, 20L);
    // earliest starts at the oldest retained event.
    JsonNode earliest = trim.getOk(changes(topic));
    assertThat(offsets(earliest)).containsExactly(16L, 17L, 18L, 19L, 20L);
    // State is never trimmed.
    assertThat(trim.allState(topic, 1000)).hasSize(20);
    // Other topics keep everything.
    String kept = "keep/" + SEQ.incrementAndGet();
    trim.publishMessages(kept, 20);
    Thread.sleep(600);
    assertThat(offsets(trim.getOk(changes(kept)))).hasSize(20).startsWith(1L);
  }

  @Test
  void earliestNeverExpires_whileRetentionTrimsConcurrently() throws Exception {
    Http trim = new Http(trimServer()).with(Http.newClient());
    String topic = "trim/race-" + SEQ.incrementAndGet();
    trim.publishMessages(topic, 10);
    java.util.concurrent.atomic.AtomicBoolean stop = new java.util.concurrent.atomic.AtomicBoolean();
    java.util.concurrent.ConcurrentLinkedQueue<String> problems = new java.util.concurrent.ConcurrentLinkedQueue<>();
    AtomicInteger reads = new AtomicInteger();
    java.util.concurrent.ExecutorService pool = java.util.concurrent.Executors.newFixedThreadPool(5);
    List<java.util.concurrent.Future<?>> work = new ArrayList<>();
    for (int i = 0; i < 2; i++) {
      work.add(pool.submit(() -> {
        while (!stop.get()) {
          trim.publishMessages(topic, 3);
        }
        return null;
      }));
    }
    for (int i = 0; i < 3; i++) {
      String limit = i == 0 ? "&limit=1" : "";
      work.add(pool.submit(() -> {
        while (!stop.get()) {
          Http.Reply r = trim.get(changes(topic) + limit);
          reads.incrementAndGet();
          if (r.status() != 200) {
            problems.add(r.toString());
            continue;
          }
          List<Long> got = offsets(r.json());
          for (int k = 1; k < got.size(); k++) {
            if (got.get(k) != got.get(k - 1) + 1) {
              problems.add("not contiguous: " + got);
            }
          }
        }
        return null;
      }));
    }
    Thread.sleep(3000);
    stop.set(true);
    for (java.util.concurrent.Future<?> f : work) {
      f.get(30, TimeUnit.SECONDS);
    }
    pool.shutdown();
    assertThat(reads.get()).isGreaterThan(50);
    assertThat(problems).as("answers to since=earliest out of %d while trimming", reads.get()).isEmpty();
  }

  private static void assertStateUrl(Http server, JsonNode errorBody, String topic) {
    JsonNode url = errorBody.has("state_url") ? errorBody.get("state_url") : errorBody.path("error").get("state_url");
    assertThat(url).as("state_url in %s", errorBody).isNotNull();
    assertThat(url.asText()).startsWith("/v1/state?");
    List<String> topicParams = new ArrayList<>();
    for (String pair : url.asText().substring("/v1/state?".length()).split("&")) {
      if (pair.startsWith("topic=")) {
        topicParams.add(java.net.URLDecoder.decode(pair.substring(6), java.nio.charset.StandardCharsets.UTF_8));
      }
    }
    assertThat(topicParams).as("topic of %s", url).containsExactly(topic);
    JsonNode state = server.getOk(url.asText());
    assertThat(state.get("topic").asText()).isEqualTo(topic);
  }

  private static String epochOf(String cursor) {
    // The format is opaque to clients; these tests rely on <epoch>.<offset> only to forge cursors.
    int dot = cursor.lastIndexOf('.');
    assertThat(dot).as("cursor %s has the <epoch>.<offset> form", cursor).isPositive();
    return cursor.substring(0, dot);
  }
}
