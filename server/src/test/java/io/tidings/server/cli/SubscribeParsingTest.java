package io.tidings.server.cli;

import static org.assertj.core.api.Assertions.assertThat;

import io.tidings.server.cli.SubscribeCommand.Outcome;
import java.io.ByteArrayOutputStream;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;

/** The pieces of {@code tidings subscribe} that need no hub: SSE parsing, backoff, frames and output. */
class SubscribeParsingTest {
  private static List<SseParser.Event> feed(SseParser parser, String... lines) {
    List<SseParser.Event> events = new ArrayList<>();
    for (String line : lines) {
      SseParser.Event e = parser.line(line);
      if (e != null) {
        events.add(e);
      }
    }
    return events;
  }

  @Test
  void sseParserReadsIdEventDataAndRetry_andIgnoresComments() {
    SseParser p = new SseParser();
    List<SseParser.Event> events = feed(p, "retry: 2500", ": heartbeat", "id: c1", "event: put",
        "data: {\"offset\":1}", "", ":", "id: c2", "data:{\"offset\":2}", "");
    assertThat(events).containsExactly(
        new SseParser.Event("put", "{\"offset\":1}", "c1"),
        new SseParser.Event("message", "{\"offset\":2}", "c2"));
    assertThat(p.retryMillis()).isEqualTo(2500);
    assertThat(p.comments()).isEqualTo(2);
    assertThat(p.lastEventId()).isEqualTo("c2");
  }

  @Test
  void sseParserJoinsMultiLineDataWithNewlines_andDropsOnlyOneLeadingSpace() {
    SseParser p = new SseParser();
    List<SseParser.Event> events = feed(p, "data: {\"a\":", "data:  1}", "", "data", "", "data:", "data:", "");
    assertThat(events).extracting(SseParser.Event::data).containsExactly("{\"a\":\n 1}", "", "\n");
  }

  @Test
  void sseParserKeepsTheLastIdForEventsWithoutOne_asDuringAResetDump() {
    SseParser p = new SseParser();
    List<SseParser.Event> events = feed(p, "id: c5", "event: put", "data: {}", "",
        "event: reset", "data: {\"topic\":\"t\"}", "",
        "event: put", "data: {\"key\":\"a\"}", "",
        "id: c9", "event: put", "data: {\"key\":\"b\"}", "");
    assertThat(events).extracting(SseParser.Event::type).containsExactly("put", "reset", "put", "put");
    assertThat(events).extracting(SseParser.Event::lastEventId).containsExactly("c5", "c5", "c5", "c9");
  }

  @Test
  void sseParserCommitsAnIdOnlyWhenItsBlockIsComplete() {
    SseParser p = new SseParser();
    feed(p, "id: c1", "data: {}", "", "id: c2", "data: {\"half");
    assertThat(p.lastEventId()).as("the id of an unfinished event does not count").isEqualTo("c1");
    p.newStream();
    List<SseParser.Event> events = feed(p, "data: {\"n\":3}", "");
    assertThat(events).containsExactly(new SseParser.Event("message", "{\"n\":3}", "c1"));
  }

  @Test
  void sseParserIgnoresBadRetryAndIdsWithNul_unknownFields_andALeadingBom() {
    SseParser p = new SseParser();
    List<SseParser.Event> events = feed(p, "\uFEFFretry: 100", "retry: 1.5", "retry: x", "id: a\0b", "foo: bar",
        "event", "data: 1", "");
    assertThat(p.retryMillis()).isEqualTo(100);
    assertThat(events).containsExactly(new SseParser.Event("message", "1", ""));
    feed(p, "id: x", "", "id:", "");
    assertThat(p.lastEventId()).as("an empty id resets it").isEmpty();
  }

  @Test
  void sseParserDispatchesNothingForABlockWithoutData_butTakesItsId() {
    SseParser p = new SseParser();
    assertThat(feed(p, "event: put", "id: c3", "")).isEmpty();
    assertThat(p.lastEventId()).isEqualTo("c3");
    assertThat(feed(p, "data: {}", "")).containsExactly(new SseParser.Event("message", "{}", "c3"));
  }

  @Test
  void backoffIsFullJitterUpToAnExponentialCeilingThatIsCapped_andResets() {
    List<Long> ceilings = new ArrayList<>();
    Backoff b = new Backoff(250, 30_000, bound -> {
      ceilings.add(bound);
      return bound;
    });
    for (int i = 0; i < 10; i++) {
      b.next();
    }
    assertThat(ceilings).containsExactly(250L, 500L, 1000L, 2000L, 4000L, 8000L, 16000L, 30000L, 30000L, 30000L);
    b.reset();
    assertThat(b.next()).isEqualTo(250);
    for (int i = 0; i < 100; i++) {
      b.next();
    }
    Backoff real = new Backoff(250, 30_000);
    for (int i = 0; i < 200; i++) {
      assertThat(real.next()).isBetween(0L, 30_000L);
    }
  }

  @Test
  void retryAfterTakesSecondsOrAnHttpDate() {
    Instant now = Instant.parse("2026-11-28T10:00:00Z");
    assertThat(Backoff.retryAfterMillis(Optional.of("3"), now)).isEqualTo(3000);
    assertThat(Backoff.retryAfterMillis(Optional.empty(), now)).isZero();
    assertThat(Backoff.retryAfterMillis(Optional.of("soon"), now)).isZero();
    String date = DateTimeFormatter.RFC_1123_DATE_TIME.format(now.plusSeconds(7).atZone(ZoneOffset.UTC));
    assertThat(Backoff.retryAfterMillis(Optional.of(date), now)).isEqualTo(7000);
  }

  @Test
  void sseRequestCarriesEveryTopic_theFirstSinceOnlyWithoutAnId_andTheMode() {
    assertThat(SseSubscriber.pathAndQuery(List.of("a/b", "c d"), "earliest", true, ""))
        .isEqualTo("/v1/sse?topic=a%2Fb&topic=c+d&since=earliest&mode=notify");
    assertThat(SseSubscriber.pathAndQuery(List.of("a"), "earliest", false, "k1.5")).isEqualTo("/v1/sse?topic=a");
    assertThat(SseSubscriber.pathAndQuery(List.of("a"), null, false, "")).isEqualTo("/v1/sse?topic=a");
  }

  @Test
  void wsFramesAndUris() {
    assertThat(WsSubscriber.wsUri(URI.create("http://127.0.0.1:7070/v1/ws"))).hasToString("ws://127.0.0.1:7070/v1/ws");
    assertThat(WsSubscriber.wsUri(URI.create("https://hub.example/x/v1/ws"))).hasToString("wss://hub.example/x/v1/ws");
    assertThat(WsSubscriber.subscribeOp(1, "a", "c.7", true))
        .isEqualTo("{\"op\":\"subscribe\",\"id\":1,\"topic\":\"a\",\"since\":\"c.7\",\"mode\":\"notify\"}");
    assertThat(WsSubscriber.subscribeOp(2, "b", null, false)).isEqualTo("{\"op\":\"subscribe\",\"id\":2,\"topic\":\"b\"}");
  }

  @Test
  void wsCloseCodes_restartAndSlowConsumerReconnect_authStopsWithTwo() {
    assertThat(WsSubscriber.closed(1012, "restart").isExit()).isFalse();
    assertThat(WsSubscriber.closed(4008, "slow").isExit()).isFalse();
    assertThat(WsSubscriber.closed(4029, "").isExit()).isFalse();
    assertThat(WsSubscriber.closed(1011, "").isExit()).isFalse();
    Outcome auth = WsSubscriber.closed(1008, "token expired");
    assertThat(auth.exitCode()).isEqualTo(2);
    assertThat(auth.message()).contains("1008").contains("token expired");
  }

  @Test
  void wsEventsPrintWithoutOp_exactlyAsSent_andTrackEachTopicsCursor() {
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    WsSubscriber ws = new WsSubscriber(null, null, List.of("a", "b"), "earliest", false, Duration.ofSeconds(60),
        new SubscribeOutput(bytes));
    Map<Integer, String> ids = Map.of(1, "a", 2, "b");
    assertThat(ws.handle("{\"op\":\"subscribed\",\"id\":1,\"topic\":\"a\",\"cursor\":\"earliest\"}", ids)).isNull();
    assertThat(ws.resumeFrom("a")).isEqualTo("earliest");
    ws.handle("{\"op\":\"event\",\"topic\":\"a\",\"offset\":1,\"cursor\":\"e.1\",\"type\":\"message\","
        + "\"data\":{\"x\":1.10,\"big\":12345678901234567890123,\"s\":\"\u00e9\"}}", ids);
    ws.handle("{\"op\":\"reset\",\"topic\":\"b\",\"cursor\":\"e.9\",\"reason\":\"cursor_expired\"}", ids);
    ws.handle("{\"op\":\"event\",\"topic\":\"b\",\"offset\":9,\"cursor\":\"e.9\",\"type\":\"put\",\"key\":\"k\",\"data\":1}", ids);
    assertThat(ws.resumeFrom("a")).isEqualTo("e.1");
    assertThat(ws.resumeFrom("b")).isEqualTo("e.9");
    assertThat(bytes.toString(StandardCharsets.UTF_8).split("\n")).containsExactly(
        "{\"topic\":\"a\",\"offset\":1,\"cursor\":\"e.1\",\"type\":\"message\",\"data\":{\"x\":1.10,\"big\":12345678901234567890123,\"s\":\"\u00e9\"}}",
        "{\"reset\":{\"topic\":\"b\",\"cursor\":\"e.9\",\"reason\":\"cursor_expired\"}}",
        "{\"topic\":\"b\",\"offset\":9,\"cursor\":\"e.9\",\"type\":\"put\",\"key\":\"k\",\"data\":1}");
  }

  @Test
  void wsSubscribeErrorsStopOrRetry_byCode() {
    WsSubscriber ws = new WsSubscriber(null, null, List.of("a"), null, false, Duration.ofSeconds(60),
        new SubscribeOutput(new ByteArrayOutputStream()));
    Map<Integer, String> ids = Map.of(1, "a");
    Outcome bad = ws.handle("{\"op\":\"error\",\"id\":1,\"code\":\"invalid_topic\",\"message\":\"no\"}", ids);
    assertThat(bad.exitCode()).isEqualTo(1);
    assertThat(bad.message()).contains("invalid_topic");
    assertThat(ws.handle("{\"op\":\"error\",\"id\":1,\"code\":\"unavailable\",\"message\":\"later\"}", ids).isExit()).isFalse();
    assertThat(ws.handle("{\"op\":\"error\",\"code\":\"bad_frame\",\"message\":\"?\"}", ids)).isNull();
  }

  @Test
  void wsSinceNowResumesFromTheConfirmedPosition_untilAnEventMovesIt() {
    WsSubscriber ws = new WsSubscriber(null, null, List.of("a"), "now", false, Duration.ofSeconds(60),
        new SubscribeOutput(new ByteArrayOutputStream()));
    ws.handle("{\"op\":\"subscribed\",\"id\":1,\"topic\":\"a\",\"cursor\":\"e.4\"}", Map.of(1, "a"));
    assertThat(ws.resumeFrom("a")).isEqualTo("e.4");
    ws.handle("{\"op\":\"event\",\"topic\":\"a\",\"offset\":5,\"cursor\":\"e.5\"}", Map.of(1, "a"));
    assertThat(ws.resumeFrom("a")).isEqualTo("e.5");

    WsSubscriber byDefault = new WsSubscriber(null, null, List.of("a"), null, false, Duration.ofSeconds(60),
        new SubscribeOutput(new ByteArrayOutputStream()));
    byDefault.handle("{\"op\":\"subscribed\",\"id\":1,\"topic\":\"a\",\"cursor\":\"e.4\"}", Map.of(1, "a"));
    assertThat(byDefault.resumeFrom("a")).as("the hub's default is now").isEqualTo("e.4");
  }

  @Test
  void wsFromAnOlderCursorTakesPositionsOnlyFromEvents() {
    WsSubscriber ws = new WsSubscriber(null, null, List.of("a"), "e.1", false, Duration.ofSeconds(60),
        new SubscribeOutput(new ByteArrayOutputStream()));
    ws.handle("{\"op\":\"subscribed\",\"id\":1,\"topic\":\"a\",\"cursor\":\"e.9\"}", Map.of(1, "a"));
    ws.handle("{\"op\":\"reset\",\"topic\":\"a\",\"cursor\":\"e.9\",\"reason\":\"cursor_expired\"}", Map.of(1, "a"));
    assertThat(ws.resumeFrom("a")).isEqualTo("e.1");
  }

  @Test
  void sseOutputPrintsOneLineDataVerbatim_multiLineDataCompacted_andResetsWrapped() {
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    SubscribeOutput out = new SubscribeOutput(bytes);
    assertThat(out.eventData("{\"n\":1.50, \"s\":\"\u00e9\"}")).isTrue();
    assertThat(out.eventData("{\"n\":\n2}")).isTrue();
    assertThat(out.eventData("not json")).isFalse();
    assertThat(out.eventData("[1]")).isFalse();
    assertThat(out.resetData("{\"topic\":\"t\",\"cursor\":\"c\",\"reason\":\"epoch\"}")).isTrue();
    out.seal();
    out.println("{\"after\":\"seal\"}");
    assertThat(bytes.toString(StandardCharsets.UTF_8).split("\n")).containsExactly(
        "{\"n\":1.50, \"s\":\"\u00e9\"}",
        "{\"n\":2}",
        "{\"reset\":{\"topic\":\"t\",\"cursor\":\"c\",\"reason\":\"epoch\"}}");
  }
}
