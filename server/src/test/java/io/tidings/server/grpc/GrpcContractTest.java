package io.tidings.server.grpc;

import static io.tidings.server.grpc.GrpcSupport.WAIT;
import static io.tidings.server.grpc.GrpcSupport.assertStatus;
import static io.tidings.server.grpc.GrpcSupport.blocking;
import static io.tidings.server.grpc.GrpcSupport.failure;
import static io.tidings.server.grpc.GrpcSupport.json;
import static io.tidings.server.grpc.GrpcSupport.message;
import static io.tidings.server.grpc.GrpcSupport.numbered;
import static io.tidings.server.grpc.GrpcSupport.put;
import static io.tidings.server.grpc.GrpcSupport.subscribe;
import static io.tidings.server.testing.Http.enc;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import io.grpc.CallOptions;
import io.grpc.ManagedChannel;
import io.grpc.MethodDescriptor;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.ClientCalls;
import io.tidings.proto.v1.ChangesRequest;
import io.tidings.proto.v1.ChangesResponse;
import io.tidings.proto.v1.Event;
import io.tidings.proto.v1.EventInput;
import io.tidings.proto.v1.Mode;
import io.tidings.proto.v1.PublishRequest;
import io.tidings.proto.v1.PublishResponse;
import io.tidings.proto.v1.ServerMessage;
import io.tidings.proto.v1.StateRequest;
import io.tidings.proto.v1.StateResponse;
import io.tidings.proto.v1.SubscribeRequest;
import io.tidings.proto.v1.TidingsGrpc;
import io.tidings.proto.v1.TopicSubscription;
import io.tidings.server.testing.Http;
import io.tidings.server.testing.TidingsProcess;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The gRPC service against the HTTP API's contract, with grpc-java's generated stubs over h2c:
 * publish, state and changes give what their HTTP counterparts give (same cursors, same events),
 * bad input is refused with {@code INVALID_ARGUMENT} and stores nothing, and {@code Subscribe}
 * replays, follows live, resumes and resets as the other push transports do.
 */
class GrpcContractTest {
  private static final AtomicInteger SEQ = new AtomicInteger();
  private static final String CONFIG = """
      server: { event_loops: 2 }
      store: { retention_interval: 100ms }
      retention:
        - { topic: "trim/**", max_events: 10 }
      push:
        catch_up_page: 7
      """;

  private static TidingsProcess server;
  private static Http http;
  private static ManagedChannel channel;

  @BeforeAll
  static void start() throws Exception {
    server = TidingsProcess.builder().name("grpc-contract").memory().config(CONFIG).start();
    http = new Http(server);
    channel = GrpcSupport.channel(server);
  }

  @AfterAll
  static void stop() throws Exception {
    if (channel != null) {
      channel.shutdownNow().awaitTermination(10, TimeUnit.SECONDS);
    }
    if (server != null) {
      server.close();
    }
  }

  private static String topic(String hint) {
    return hint + "/t" + SEQ.incrementAndGet();
  }

  private static JsonNode jsonOf(com.google.protobuf.ByteString bytes) throws Exception {
    return Http.JSON.readTree(bytes.toString(StandardCharsets.UTF_8));
  }

  /** An event of the HTTP API and its gRPC form hold the same fields. */
  private static void assertSame(Event e, JsonNode j, boolean withData) throws Exception {
    assertThat(e.getTopic()).isEqualTo(j.get("topic").asText());
    assertThat(e.getOffset()).isEqualTo(j.get("offset").asLong());
    assertThat(e.getCursor()).isEqualTo(j.get("cursor").asText());
    assertThat(e.getType()).isEqualTo(j.get("type").asText());
    assertThat(e.hasKey() ? e.getKey() : null).isEqualTo(j.has("key") ? j.get("key").asText() : null);
    assertThat(e.hasId() ? e.getId() : null).isEqualTo(j.has("id") ? j.get("id").asText() : null);
    if (withData && j.has("data")) {
      assertThat(jsonOf(e.getData())).isEqualTo(j.get("data"));
    } else {
      assertThat(e.hasData()).as("no data in %s", e).isFalse();
    }
    Instant time = Instant.parse(j.get("time").asText());
    assertThat(Instant.ofEpochSecond(e.getTime().getSeconds(), e.getTime().getNanos())).isEqualTo(time);
  }

  @Test
  void publish_thenStateAndChanges_sameAsTheHttpApi() throws Exception {
    String t = topic("round");
    PublishResponse published = blocking(channel).publish(PublishRequest.newBuilder().setTopic(t)
        .addEvents(put("k1", "{\"v\":1}"))
        .addEvents(EventInput.newBuilder().setType("put").setKey("k2").setData(json("[1,\"two\",null]")).setId("id-2"))
        .addEvents(message("\"hello\""))
        .addEvents(EventInput.newBuilder().setType("delete").setKey("k1"))
        .build());
    assertThat(published.getTopic()).isEqualTo(t);
    assertThat(published.getEventsList()).extracting(e -> e.getOffset()).containsExactly(1L, 2L, 3L, 4L);
    assertThat(published.getEvents(1).getId()).isEqualTo("id-2");
    assertThat(published.getEvents(0).hasId()).isFalse();
    assertThat(published.getCursor()).isEqualTo(published.getEvents(3).getCursor());

    // The same id again is a duplicate with the first append's position.
    PublishResponse again = blocking(channel).publish(PublishRequest.newBuilder().setTopic(t)
        .addEvents(EventInput.newBuilder().setData(json("{}")).setId("id-2")).build());
    assertThat(again.getEvents(0).getDuplicate()).isTrue();
    assertThat(again.getEvents(0).getCursor()).isEqualTo(published.getEvents(1).getCursor());

    JsonNode httpState = http.getOk("/v1/state?topic=" + enc(t));
    StateResponse state = blocking(channel).state(StateRequest.newBuilder().setTopic(t).build());
    assertThat(state.getCursor()).isEqualTo(httpState.get("cursor").asText()).isEqualTo(published.getCursor());
    assertThat(state.getEntriesList()).extracting(e -> e.getKey()).containsExactly("k2");
    assertThat(jsonOf(state.getEntries(0).getData())).isEqualTo(httpState.get("entries").get(0).get("data"));
    assertThat(state.getEntries(0).getOffset()).isEqualTo(2);
    assertThat(state.hasNextKey()).isFalse();

    JsonNode httpChanges = http.getOk("/v1/changes?topic=" + enc(t) + "&since=earliest");
    ChangesResponse changes = blocking(channel).changes(ChangesRequest.newBuilder().setTopic(t).build());
    assertThat(changes.getCursor()).isEqualTo(httpChanges.get("cursor").asText());
    assertThat(changes.getMore()).isFalse();
    assertThat(changes.getEventsCount()).isEqualTo(4);
    for (int i = 0; i < 4; i++) {
      assertSame(changes.getEvents(i), httpChanges.get("events").get(i), true);
    }
    ChangesResponse notify = blocking(channel).changes(ChangesRequest.newBuilder().setTopic(t)
        .setSince(changes.getEvents(0).getCursor()).setLimit(2).setMode(Mode.MODE_NOTIFY).build());
    assertThat(notify.getEventsList()).extracting(Event::getOffset).containsExactly(2L, 3L);
    assertThat(notify.getMore()).isTrue();
    assertSame(notify.getEvents(0), httpChanges.get("events").get(1), false);
  }

  @Test
  void state_pagesByKey_withNextKey() {
    String t = topic("pages");
    PublishRequest.Builder b = PublishRequest.newBuilder().setTopic(t);
    for (int i = 0; i < 5; i++) {
      b.addEvents(put("k" + i, "" + i));
    }
    blocking(channel).publish(b.build());
    StateResponse first = blocking(channel).state(StateRequest.newBuilder().setTopic(t).setLimit(2).build());
    assertThat(first.getEntriesList()).extracting(e -> e.getKey()).containsExactly("k0", "k1");
    assertThat(first.getNextKey()).isEqualTo("k1");
    StateResponse second = blocking(channel).state(StateRequest.newBuilder().setTopic(t).setLimit(3)
        .setAfterKey(first.getNextKey()).build());
    assertThat(second.getEntriesList()).extracting(e -> e.getKey()).containsExactly("k2", "k3", "k4");
    assertThat(second.hasNextKey()).isFalse();
  }

  @Test
  void changes_withWait_isALongPollThatWakesOnPublish() throws Exception {
    String t = topic("wait");
    PublishResponse first = blocking(channel).publish(numbered(t, 1, 1));
    CompletableFuture<ChangesResponse> held = CompletableFuture.supplyAsync(() -> blocking(channel).changes(
        ChangesRequest.newBuilder().setTopic(t).setSince(first.getCursor()).setWaitSeconds(30).build()));
    Thread.sleep(500);
    assertThat(held).as("nothing new yet: the call is held").isNotDone();
    PublishResponse second = blocking(channel).publish(numbered(t, 2, 1));
    ChangesResponse woken = held.get(WAIT.toSeconds(), TimeUnit.SECONDS);
    assertThat(woken.getEventsList()).extracting(Event::getOffset).containsExactly(2L);
    assertThat(woken.getCursor()).isEqualTo(second.getCursor());
  }

  @Test
  void invalidInput_isInvalidArgument_andStoresNothing() {
    String t = topic("bad");
    List<PublishRequest> bad = new ArrayList<>();
    bad.add(PublishRequest.newBuilder().setTopic("").addEvents(message("1")).build());
    bad.add(PublishRequest.newBuilder().setTopic("bad topic!").addEvents(message("1")).build());
    bad.add(PublishRequest.newBuilder().setTopic(t).build());
    bad.add(PublishRequest.newBuilder().setTopic(t).addEvents(message("1")).addEvents(message("{not json")).build());
    bad.add(PublishRequest.newBuilder().setTopic(t).addEvents(message("")).build());
    bad.add(PublishRequest.newBuilder().setTopic(t).addEvents(EventInput.newBuilder().setType("put").setData(json("1"))).build());
    bad.add(PublishRequest.newBuilder().setTopic(t).addEvents(EventInput.newBuilder().setType("delete").setKey("k")
        .setData(json("1"))).build());
    bad.add(PublishRequest.newBuilder().setTopic(t).addEvents(EventInput.newBuilder().setType("reset").setData(json("1"))).build());
    bad.add(PublishRequest.newBuilder().setTopic(t).addEvents(EventInput.newBuilder()
        .setData(com.google.protobuf.ByteString.copyFrom(new byte[] {'"', (byte) 0xff, '"'}))).build());
    bad.add(numbered(t, 1, 1001));
    for (PublishRequest request : bad) {
      StatusRuntimeException e = failure(() -> blocking(channel).publish(request));
      assertStatus(e, Status.Code.INVALID_ARGUMENT, null);
      assertThat(e.getTrailers().get(GrpcSupport.ERROR_CODE)).as("%s", e)
          .isIn("invalid_topic", "invalid_body", "invalid_event", "too_many_events");
      assertThat(e.getStatus().getDescription()).as("a message says what is wrong").isNotBlank();
    }
    StatusRuntimeException tooBig = failure(() -> blocking(channel).publish(PublishRequest.newBuilder().setTopic(t)
        .addEvents(message("\"" + "x".repeat(70_000) + "\"")).build()));
    assertStatus(tooBig, Status.Code.INVALID_ARGUMENT, "payload_too_large");
    assertThat(http.getOk("/v1/changes?topic=" + enc(t)).get("events")).as("nothing was stored").isEmpty();

    assertStatus(failure(() -> blocking(channel).state(StateRequest.newBuilder().setTopic(t).setLimit(10_001).build())),
        Status.Code.INVALID_ARGUMENT, "invalid_parameter");
    assertStatus(failure(() -> blocking(channel).changes(ChangesRequest.newBuilder().setTopic(t).setSince("nonsense").build())),
        Status.Code.INVALID_ARGUMENT, "invalid_cursor");
    assertStatus(failure(() -> blocking(channel).changes(ChangesRequest.newBuilder().setTopic("").build())),
        Status.Code.INVALID_ARGUMENT, "invalid_topic");
    assertStatus(failure(() -> blocking(channel).subscribe(SubscribeRequest.getDefaultInstance()).hasNext()),
        Status.Code.INVALID_ARGUMENT, "invalid_request");
    assertStatus(failure(() -> blocking(channel).subscribe(subscribe(t, "garbage")).hasNext()),
        Status.Code.INVALID_ARGUMENT, "invalid_cursor");
    // One bad topic refuses the whole call before anything is sent.
    SubscribeRequest mixed = SubscribeRequest.newBuilder()
        .addTopics(TopicSubscription.newBuilder().setTopic(t))
        .addTopics(TopicSubscription.newBuilder().setTopic("no good")).build();
    assertStatus(failure(() -> blocking(channel).subscribe(mixed).next()), Status.Code.INVALID_ARGUMENT, "invalid_topic");
  }

  @Test
  void changes_fromATrimmedCursor_isOutOfRange() throws Exception {
    String t = topic("trim");
    PublishResponse first = blocking(channel).publish(numbered(t, 1, 3));
    String old = first.getEvents(0).getCursor();
    blocking(channel).publish(numbered(t, 4, 20));
    long deadline = System.nanoTime() + WAIT.toNanos();
    StatusRuntimeException e;
    while (true) {
      try {
        blocking(channel).changes(ChangesRequest.newBuilder().setTopic(t).setSince(old).build());
      } catch (StatusRuntimeException failed) {
        e = failed;
        break;
      }
      assertThat(System.nanoTime()).as("retention trims %s", t).isLessThan(deadline);
      Thread.sleep(50);
    }
    assertStatus(e, Status.Code.OUT_OF_RANGE, "cursor_expired");
  }

  @Test
  void unknownMethod_isUnimplemented() {
    MethodDescriptor<StateRequest, StateResponse> nope = TidingsGrpc.getStateMethod().toBuilder()
        .setFullMethodName("tidings.v1.Tidings/Nope").build();
    StatusRuntimeException e = failure(() -> ClientCalls.blockingUnaryCall(channel, nope, CallOptions.DEFAULT,
        StateRequest.newBuilder().setTopic("a").build()));
    assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.UNIMPLEMENTED);
    MethodDescriptor<StateRequest, StateResponse> otherService = TidingsGrpc.getStateMethod().toBuilder()
        .setFullMethodName("other.Service/State").build();
    assertThat(failure(() -> ClientCalls.blockingUnaryCall(channel, otherService, CallOptions.DEFAULT,
        StateRequest.newBuilder().setTopic("a").build())).getStatus().getCode()).isEqualTo(Status.Code.UNIMPLEMENTED);
    // The REST API on the same port is untouched.
    assertThat(http.get("/v1/state?topic=a").status()).isEqualTo(200);
  }

  @Test
  void subscribe_subscribedThenReplayThenLive_inOrder_whilePublishing() throws Exception {
    String t = topic("live");
    blocking(channel).publish(numbered(t, 1, 30));
    int total = 300;
    try (GrpcSupport.Stream s = GrpcSupport.Stream.open(channel, subscribe(t, "earliest"))) {
      ServerMessage subscribed = s.next();
      assertThat(subscribed.hasSubscribed()).as("%s", subscribed).isTrue();
      assertThat(subscribed.getSubscribed().getTopic()).isEqualTo(t);
      assertThat(subscribed.getSubscribed().getCursor()).endsWith(".0");
      CompletableFuture<Void> publisher = CompletableFuture.runAsync(() -> {
        for (int i = 31; i <= total; i += 10) {
          blocking(channel).publish(numbered(t, i, 10));
        }
      });
      List<Event> events = s.events(total);
      publisher.get(WAIT.toSeconds(), TimeUnit.SECONDS);
      for (int i = 0; i < total; i++) {
        assertThat(events.get(i).getOffset()).as("event %d", i).isEqualTo(i + 1);
        assertThat(jsonOf(events.get(i).getData()).get("n").asInt()).isEqualTo(i + 1);
      }
      List<JsonNode> viaHttp = http.allChanges(t, 1000);
      for (int i = 0; i < total; i++) {
        assertSame(events.get(i), viaHttp.get(i), true);
      }
    }
  }

  @Test
  void subscribe_manyTopics_withModes_andResumeFromTheLastCursor() throws Exception {
    String a = topic("multi");
    String b = topic("multi");
    blocking(channel).publish(numbered(a, 1, 5));
    PublishResponse bHead = blocking(channel).publish(numbered(b, 1, 5));
    SubscribeRequest request = SubscribeRequest.newBuilder().setMode(Mode.MODE_NOTIFY)
        .addTopics(TopicSubscription.newBuilder().setTopic(a).setSince("earliest").setMode(Mode.MODE_FULL))
        .addTopics(TopicSubscription.newBuilder().setTopic(b))
        .build();
    String resumeA;
    try (GrpcSupport.Stream s = GrpcSupport.Stream.open(channel, request)) {
      List<ServerMessage> got = new ArrayList<>();
      while (got.stream().filter(ServerMessage::hasEvent).count() < 5 || got.stream().filter(ServerMessage::hasSubscribed).count() < 2) {
        got.add(s.nextNonHeartbeat());
      }
      assertThat(got.stream().filter(ServerMessage::hasSubscribed).map(m -> m.getSubscribed().getTopic()))
          .containsExactlyInAnyOrder(a, b);
      ServerMessage bSubscribed = got.stream().filter(m -> m.hasSubscribed() && m.getSubscribed().getTopic().equals(b))
          .findFirst().orElseThrow();
      assertThat(bSubscribed.getSubscribed().getCursor()).as("b starts now").isEqualTo(bHead.getCursor());
      List<Event> aEvents = got.stream().filter(ServerMessage::hasEvent).map(ServerMessage::getEvent).toList();
      assertThat(aEvents).extracting(Event::getTopic).containsOnly(a);
      assertThat(aEvents).allMatch(Event::hasData);
      blocking(channel).publish(numbered(b, 6, 1));
      Event live = s.events(1).get(0);
      assertThat(live.getTopic()).isEqualTo(b);
      assertThat(live.hasData()).as("b takes the request's notify mode").isFalse();
      resumeA = aEvents.get(2).getCursor();
    }
    blocking(channel).publish(numbered(a, 6, 2));
    try (GrpcSupport.Stream s = GrpcSupport.Stream.open(channel, subscribe(a, resumeA))) {
      assertThat(s.next().getSubscribed().getCursor()).isEqualTo(resumeA);
      assertThat(s.events(4)).extracting(Event::getOffset).containsExactly(4L, 5L, 6L, 7L);
    }
  }

  @Test
  void subscribe_fromATrimmedCursor_resetsThenSendsTheStateAsPuts_thenLive() throws Exception {
    String t = topic("trim");
    PublishResponse first = blocking(channel).publish(PublishRequest.newBuilder().setTopic(t)
        .addEvents(put("k1", "1")).addEvents(put("k2", "2")).addEvents(put("k3", "3")).addEvents(message("0")).build());
    String old = first.getEvents(3).getCursor();
    blocking(channel).publish(numbered(t, 1, 20));
    PublishResponse last = blocking(channel).publish(PublishRequest.newBuilder().setTopic(t)
        .addEvents(put("k2", "22")).build());
    long deadline = System.nanoTime() + WAIT.toNanos();
    while (http.get("/v1/changes?topic=" + enc(t) + "&since=" + enc(old)).status() != 410) {
      assertThat(System.nanoTime()).as("retention trims %s", t).isLessThan(deadline);
      Thread.sleep(50);
    }
    String head = last.getCursor();
    try (GrpcSupport.Stream s = GrpcSupport.Stream.open(channel, subscribe(t, old))) {
      assertThat(s.next().getSubscribed().getCursor()).isEqualTo(old);
      ServerMessage reset = s.nextNonHeartbeat();
      assertThat(reset.hasReset()).as("%s", reset).isTrue();
      assertThat(reset.getReset().getTopic()).isEqualTo(t);
      assertThat(reset.getReset().getReason()).isEqualTo("retention");
      assertThat(reset.getReset().getCursor()).isEqualTo(head);
      List<Event> puts = s.events(3);
      assertThat(puts).extracting(Event::getKey).containsExactly("k1", "k2", "k3");
      assertThat(puts).extracting(Event::getType).containsOnly("put");
      assertThat(puts).extracting(e -> e.getData().toStringUtf8()).containsExactly("1", "22", "3");
      assertThat(puts).extracting(Event::getCursor).as("the previous cursor until the last put")
          .containsExactly(old, old, head);
      PublishResponse after = blocking(channel).publish(numbered(t, 100, 1));
      Event live = s.events(1).get(0);
      assertThat(live.getCursor()).isEqualTo(after.getCursor());
    }
  }

  @Test
  void subscribe_aCursorPastTheHead_isInvalidArgument() throws Exception {
    String t = topic("ahead");
    PublishResponse p = blocking(channel).publish(numbered(t, 1, 1));
    String ahead = p.getCursor().substring(0, p.getCursor().lastIndexOf(':') + 1) + "99";
    try (GrpcSupport.Stream s = GrpcSupport.Stream.open(channel, subscribe(t, ahead))) {
      Status status = s.awaitStatus();
      assertThat(status.getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT);
      assertThat(s.trailers.get(GrpcSupport.ERROR_CODE)).isEqualTo("invalid_cursor");
    }
  }

  @Test
  void metrics_countStreamsAndCalls() throws Exception {
    String t = topic("metrics");
    try (GrpcSupport.Stream s = GrpcSupport.Stream.open(channel, subscribe(t, "now"))) {
      s.next();
      assertThat(http.metric("tidings_push_connections_grpc")).hasValueSatisfying(v -> assertThat(v).isGreaterThanOrEqualTo(1));
      assertThat(http.metric("tidings_push_subscriptions_grpc")).hasValueSatisfying(v -> assertThat(v).isGreaterThanOrEqualTo(1));
    }
    blocking(channel).state(StateRequest.newBuilder().setTopic(t).build());
    assertThat(http.metric("tidings_grpc_calls_total", "method=\"State\"", "status=\"OK\""))
        .hasValueSatisfying(v -> assertThat(v).isGreaterThanOrEqualTo(1));
  }
}
