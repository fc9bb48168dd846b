package io.tidings.server.graphql;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import io.tidings.server.testing.Http;
import io.tidings.server.testing.NodeScript;
import io.tidings.server.testing.SseClient;
import io.tidings.server.testing.TidingsProcess;
import io.tidings.server.testing.Tokens;
import io.tidings.server.testing.Tokens.Claims;
import io.tidings.server.testing.WsRawSocket;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * GraphQL subscriptions over graphql-transport-ws, driven by the independent {@code graphql-ws}
 * client library (and a raw {@code ws} socket for what that library never does):
 * {@code server/src/test/js/graphql-ws-client.mjs}.
 */
class GraphQLWsClientTest {
  private static final String SECRET = "graphql-ws-client-test-secret-0123456789abcdef";
  private static final Duration WAIT = Duration.ofSeconds(60);
  private static final String CONFIG = """
      store: { retention_interval: 100ms }
      retention:
        - { topic: "gql/trim/**", max_events: 3 }
      auth:
        jwt: { hs256_secret: "%s" }
      push:
        graphql: { connection_init_timeout: 1s }
      """.formatted(SECRET);
  private static final String TOKEN = Tokens.hs256(SECRET, Claims.of("alice").subscribing("gql/**").publishing("gql/**"));
  private static final String NOT_GQL = Tokens.hs256(SECRET, Claims.of("bob").subscribing("other/**"));

  private static TidingsProcess server;
  private static Http http;
  private static String wsUrl;

  @BeforeAll
  static void start() throws Exception {
    server = TidingsProcess.builder().name("graphql-ws").memory().config(CONFIG).start();
    http = new Http(server);
    wsUrl = server.uri("/v1/graphql").toString().replaceFirst("^http", "ws");
  }

  @AfterAll
  static void stop() {
    if (server != null) {
      server.close();
    }
  }

  private static JsonNode publish(String topic, String events) {
    Http.Reply r = http.method("POST", "/v1/events?topic=" + Http.enc(topic), events,
        "Authorization", "Bearer " + TOKEN, "Content-Type", "application/json");
    assertThat(r.status()).as("%s", r).isEqualTo(201);
    return r.json();
  }

  private static JsonNode changes(String topic, String since) {
    Http.Reply r = http.get("/v1/changes?topic=" + Http.enc(topic) + "&since=" + Http.enc(since),
        "Authorization", "Bearer " + TOKEN);
    assertThat(r.status()).as("%s", r).isEqualTo(200);
    return r.json();
  }

  private static NodeScript stream(List<String> topics, String since, String mode, int count, String token)
      throws Exception {
    return NodeScript.start("graphql-ws-client", Duration.ofMinutes(2), Map.of(), "stream", wsUrl,
        Http.JSON.writeValueAsString(topics), since == null ? "-" : since, mode, String.valueOf(count),
        token == null ? "-" : token);
  }

  /** The next {@code n} events the script prints; fails on anything else. */
  private static List<JsonNode> events(NodeScript script, int n) throws Exception {
    List<JsonNode> out = new ArrayList<>();
    while (out.size() < n) {
      JsonNode line = script.awaitJson(WAIT);
      assertThat(line).as("script output (stderr: %s)", script.stderr()).isNotNull();
      assertThat(line.has("event")).as("expected an event, got %s", line).isTrue();
      out.add(line.get("event"));
    }
    return out;
  }

  private static JsonNode outcome(NodeScript script) throws Exception {
    JsonNode line = script.awaitJson(WAIT);
    assertThat(line).as("script output (stderr: %s)", script.stderr()).isNotNull();
    return line;
  }

  @Test
  void replaysThenFollowsLiveInOrderWithTheJsonApisCursors() throws Exception {
    publish("gql/live", "[{\"data\":{\"n\":1}},{\"data\":{\"n\":2}},{\"type\":\"put\",\"key\":\"k\",\"data\":[3]}]");
    try (NodeScript script = stream(List.of("gql/live"), "earliest", "full", 6, TOKEN)) {
      List<JsonNode> replayed = events(script, 3);
      publish("gql/live", "[{\"data\":{\"n\":4},\"id\":\"p-4\"},{\"data\":\"five\"}]");
      publish("gql/live", "{\"type\":\"delete\",\"key\":\"k\"}");
      List<JsonNode> all = new ArrayList<>(replayed);
      all.addAll(events(script, 3));
      assertThat(outcome(script).path("done").asBoolean()).isTrue();

      JsonNode expected = changes("gql/live", "earliest").get("events");
      assertThat(all).hasSize(6);
      for (int i = 0; i < 6; i++) {
        JsonNode got = all.get(i);
        JsonNode want = expected.get(i);
        assertThat(got.get("offset").asLong()).isEqualTo(i + 1);
        for (String field : List.of("topic", "offset", "cursor", "type", "time")) {
          assertThat(got.get(field)).as("%s of event %d", field, i + 1).isEqualTo(want.get(field));
        }
        assertThat(got.get("data")).isEqualTo(want.has("data") ? want.get("data") : Http.JSON.nullNode());
        assertThat(got.get("stream_cursor").asText()).isEqualTo(want.get("cursor").asText());
        assertThat(got.get("reason").isNull()).isTrue();
      }
      assertThat(all.get(3).get("id").asText()).isEqualTo("p-4");
      assertThat(all.get(2).get("key").asText()).isEqualTo("k");
      assertThat(all.get(5).get("type").asText()).isEqualTo("delete");
    }
  }

  @Test
  void resumesFromATopicCursorAndFromAStreamCursorOfSeveralTopics() throws Exception {
    JsonNode published = publish("gql/resume", "[{\"data\":1},{\"data\":2},{\"data\":3},{\"data\":4}]");
    String afterSecond = published.get("events").get(1).get("cursor").asText();
    try (NodeScript script = stream(List.of("gql/resume"), afterSecond, "notify", 2, TOKEN)) {
      List<JsonNode> got = events(script, 2);
      assertThat(got).extracting(e -> e.get("offset").asLong()).containsExactly(3L, 4L);
      assertThat(got).allSatisfy(e -> assertThat(e.get("data").isNull()).as("notify mode has no data").isTrue());
    }

    publish("gql/multi/a", "[{\"data\":\"a1\"},{\"data\":\"a2\"}]");
    publish("gql/multi/b", "{\"data\":\"b1\"}");
    String streamCursor;
    try (NodeScript script = stream(List.of("gql/multi/a", "gql/multi/b"), "earliest", "full", 3, TOKEN)) {
      List<JsonNode> got = events(script, 3);
      assertThat(got).extracting(e -> e.get("data").asText()).containsExactlyInAnyOrder("a1", "a2", "b1");
      streamCursor = got.get(2).get("stream_cursor").asText();
    }
    assertThat(streamCursor).contains("~");
    publish("gql/multi/b", "{\"data\":\"b2\"}");
    publish("gql/multi/a", "{\"data\":\"a3\"}");
    try (NodeScript script = stream(List.of("gql/multi/a", "gql/multi/b"), streamCursor, "full", 2, TOKEN)) {
      assertThat(events(script, 2)).extracting(e -> e.get("data").asText()).containsExactlyInAnyOrder("b2", "a3");
    }
  }

  @Test
  void aStreamCursorResumesAcrossGraphQLAndServerSentEvents() throws Exception {
    List<String> topics = List.of("gql/cross/a", "gql/cross/b");
    publish("gql/cross/a", "[{\"data\":\"a1\"},{\"data\":\"a2\"}]");
    publish("gql/cross/b", "{\"data\":\"b1\"}");
    String graphqlCursor;
    try (NodeScript script = stream(topics, "earliest", "full", 3, TOKEN)) {
      graphqlCursor = events(script, 3).get(2).get("stream_cursor").asText();
    }
    publish("gql/cross/b", "{\"data\":\"b2\"}");
    String sseCursor;
    try (SseClient sse = SseClient.open(server.uri(), "/v1/sse?topic=gql/cross/a&topic=gql/cross/b&since="
        + Http.enc(graphqlCursor), "Authorization", "Bearer " + TOKEN)) {
      assertThat(sse.nextEvent(WAIT).event()).isEqualTo("subscribed");
      SseClient.Message m = sse.nextEvent(WAIT);
      assertThat(m.json().get("data").asText()).as("SSE resumes where GraphQL stopped").isEqualTo("b2");
      sseCursor = m.id();
    }
    publish("gql/cross/a", "{\"data\":\"a3\"}");
    try (NodeScript script = stream(topics, sseCursor, "full", 1, TOKEN)) {
      assertThat(events(script, 1).get(0).get("data").asText()).as("GraphQL resumes where SSE stopped").isEqualTo("a3");
    }
  }

  @Test
  void aCursorOlderThanRetentionResetsThenDeliversTheStateThenLive() throws Exception {
    JsonNode first = publish("gql/trim/x", "[{\"type\":\"put\",\"key\":\"a\",\"data\":1},{\"type\":\"put\",\"key\":\"b\",\"data\":2}]");
    String old = first.get("events").get(0).get("cursor").asText();
    publish("gql/trim/x", "[{\"data\":\"m1\"},{\"data\":\"m2\"},{\"data\":\"m3\"},{\"data\":\"m4\"}]");
    long deadline = System.nanoTime() + WAIT.toNanos();
    while (http.get("/v1/changes?topic=gql/trim/x&since=" + Http.enc(old), "Authorization", "Bearer " + TOKEN)
        .status() != 410) {
      assertThat(System.nanoTime()).as("retention trims the topic").isLessThan(deadline);
      Thread.sleep(50);
    }
    try (NodeScript script = stream(List.of("gql/trim/x"), old, "full", 4, TOKEN)) {
      List<JsonNode> got = events(script, 3);
      JsonNode reset = got.get(0);
      assertThat(reset.get("type").asText()).isEqualTo("reset");
      assertThat(reset.get("reason").asText()).isEqualTo("retention");
      assertThat(reset.get("time").isNull()).isTrue();
      assertThat(reset.get("stream_cursor").asText()).as("resuming before the state is in resets again").isEqualTo(old);
      assertThat(got.subList(1, 3)).extracting(e -> e.get("type").asText()).containsOnly("put");
      assertThat(got.subList(1, 3)).extracting(e -> e.get("key").asText() + "=" + e.get("data"))
          .containsExactly("a=1", "b=2");
      assertThat(got.get(2).get("cursor").asText()).isEqualTo(reset.get("cursor").asText());
      JsonNode live = publish("gql/trim/x", "{\"data\":\"after\"}");
      JsonNode after = events(script, 1).get(0);
      assertThat(after.get("data").asText()).isEqualTo("after");
      assertThat(after.get("cursor").asText()).isEqualTo(live.get("cursor").asText());
    }
  }

  @Test
  void aMutationOverTheSocketPublishesWhatChangesThenServes() throws Exception {
    try (NodeScript script = NodeScript.start("graphql-ws-client", Duration.ofMinutes(2), Map.of(), "publish", wsUrl,
        "gql/mutated", "[{\"type\":\"put\",\"key\":\"k\",\"data\":{\"v\":1},\"id\":\"m-1\"},{\"data\":[1,2]}]", TOKEN)) {
      JsonNode result = outcome(script).path("result").path("data").path("publish");
      assertThat(result.get("topic").asText()).isEqualTo("gql/mutated");
      assertThat(result.get("events")).hasSize(2);
      assertThat(result.get("events").get(0).get("id").asText()).isEqualTo("m-1");
      assertThat(result.get("events").get(0).get("duplicate").asBoolean()).isFalse();
      JsonNode page = changes("gql/mutated", "earliest");
      assertThat(page.get("cursor").asText()).isEqualTo(result.get("cursor").asText());
      assertThat(page.get("events").get(0).get("cursor")).isEqualTo(result.get("events").get(0).get("cursor"));
      assertThat(page.get("events").get(0).get("data").toString()).isEqualTo("{\"v\":1}");
      assertThat(page.get("events").get(1).get("data").toString()).isEqualTo("[1,2]");
    }
  }

  @Test
  void initWithoutValidCredentialsClosesWith4401() throws Exception {
    for (String token : new String[] {"-", "not-a-token", Tokens.hs256("another-secret-of-enough-length-0123456789", Claims.of("eve"))}) {
      try (NodeScript script = NodeScript.start("graphql-ws-client", Duration.ofMinutes(2), Map.of(), "init", wsUrl, token)) {
        JsonNode closed = outcome(script).path("closed");
        assertThat(closed.path("code").asInt()).as("token %s: %s", token, closed).isEqualTo(4401);
      }
    }
    try (NodeScript script = NodeScript.start("graphql-ws-client", Duration.ofMinutes(2), Map.of(), "init", wsUrl, TOKEN)) {
      assertThat(outcome(script).path("result").path("data").has("topics")).isTrue();
    }
  }

  @Test
  void aTopicTheTokenDoesNotGrantIsAForbiddenError() throws Exception {
    try (NodeScript script = stream(List.of("gql/secret"), null, "full", 1, NOT_GQL)) {
      JsonNode errors = outcome(script).path("errors");
      assertThat(errors.isArray()).as("%s", errors).isTrue();
      assertThat(errors.get(0).path("extensions").path("code").asText()).isEqualTo("FORBIDDEN");
      assertThat(errors.get(0).path("extensions").path("tidings_code").asText()).isEqualTo("forbidden");
    }
    try (NodeScript script = stream(List.of("gql/x"), "not-a-cursor", "full", 1, TOKEN)) {
      JsonNode errors = outcome(script).path("errors");
      assertThat(errors.get(0).path("extensions").path("code").asText()).as("%s", errors).isEqualTo("BAD_USER_INPUT");
      assertThat(errors.get(0).path("extensions").path("tidings_code").asText()).isEqualTo("invalid_cursor");
    }
  }

  @Test
  void theUpgradesAuthorizationHeaderAuthenticatesAndTheSubprotocolIsRequired() throws Exception {
    try (WsRawSocket ws = WsRawSocket.connect(server.uri(), "/v1/graphql", 0,
        "Sec-WebSocket-Protocol", "graphql-transport-ws", "Authorization", "Bearer " + TOKEN)) {
      ws.sendText("{\"type\":\"connection_init\"}");
      assertThat(ws.readFrame(WAIT).json().get("type").asText()).isEqualTo("connection_ack");
      ws.sendText("{\"id\":\"q\",\"type\":\"subscribe\",\"payload\":{\"query\":\"{ state(topic: \\\"gql/h\\\") { cursor } }\"}}");
      JsonNode next = ws.readFrame(WAIT).json();
      assertThat(next.get("type").asText()).as("%s", next).isEqualTo("next");
      assertThat(next.at("/payload/data/state/cursor").asText()).isNotEmpty();
      assertThat(ws.readFrame(WAIT).json().get("type").asText()).isEqualTo("complete");
    }
    try (WsRawSocket ws = WsRawSocket.connect(server.uri(), "/v1/graphql", 0, "Sec-WebSocket-Protocol", "graphql-transport-ws")) {
      ws.sendText("{\"type\":\"connection_init\",\"payload\":{}}");
      WsRawSocket.Frame f = ws.readFrame(WAIT);
      assertThat(f.opcode()).isEqualTo(WsRawSocket.CLOSE);
      assertThat(f.closeCode()).as("no credentials anywhere").isEqualTo(4401);
    }
    try (WsRawSocket ws = WsRawSocket.connect(server.uri(), "/v1/graphql", 0, "Authorization", "Bearer " + TOKEN)) {
      WsRawSocket.Frame f = ws.readFrame(WAIT);
      assertThat(f.opcode()).isEqualTo(WsRawSocket.CLOSE);
      assertThat(f.closeCode()).as("no subprotocol asked for").isEqualTo(4406);
    }
  }

  private static JsonNode raw(String which, String token) throws Exception {
    try (NodeScript script = NodeScript.start("graphql-ws-client", Duration.ofMinutes(2), Map.of(), "raw", wsUrl, which,
        token)) {
      List<JsonNode> messages = new ArrayList<>();
      while (true) {
        JsonNode line = outcome(script);
        assertThat(line.has("failure")).as("%s", line).isFalse();
        if (line.has("closed")) {
          return line.get("closed");
        }
        messages.add(line.get("message"));
        if (which.equals("ping") && line.path("message").path("type").asText().equals("pong")) {
          assertThat(line.path("message").path("payload").path("n").asInt()).isEqualTo(1);
        }
      }
    }
  }

  @Test
  void protocolViolationsCloseWithTheProtocolsCodes() throws Exception {
    assertThat(raw("duplicate-id", TOKEN).path("code").asInt()).isEqualTo(4409);
    assertThat(raw("invalid-json", TOKEN).path("code").asInt()).isEqualTo(4400);
    assertThat(raw("unknown-type", TOKEN).path("code").asInt()).isEqualTo(4400);
    assertThat(raw("second-init", TOKEN).path("code").asInt()).isEqualTo(4429);
    assertThat(raw("subscribe-before-init", TOKEN).path("code").asInt()).isEqualTo(4401);
    assertThat(raw("no-init", TOKEN).path("code").asInt()).isEqualTo(4408);
    assertThat(raw("ping", TOKEN).path("code").asInt()).as("the client's own close").isEqualTo(1000);
  }
}
