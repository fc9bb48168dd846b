package io.tidings.server.ops;

import static io.tidings.server.testing.Tokens.bearer;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import io.tidings.server.testing.Http;
import io.tidings.server.testing.SseClient;
import io.tidings.server.testing.TidingsProcess;
import io.tidings.server.testing.Tokens;
import io.tidings.server.testing.WsClient;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.function.Predicate;
import org.junit.jupiter.api.Test;

/**
 * The access log ({@code server.access_log}): one JSON object per request or push connection, with
 * the fields operators need, and never a credential or event data, whichever way they came in
 * (header, {@code access_token}, a WebSocket {@code auth} op, a stray query parameter, a body).
 */
class AccessLogTest {
  private static final Duration WAIT = Duration.ofSeconds(60);
  private static final String ADMIN_KEY = "tk_ops_4c1d9e2f7a3b5c6d8e9f0a1b2c3d4e5f";
  private static final String APP_KEY = "tk_app_9f8e7d6c5b4a39281706f5e4d3c2b1a0";
  private static final String SECRET = "an HS256 secret for the access log test: 0123456789";
  private static final String DATA_MARKER = "DATA-MARKER-5e1f0c";

  private static String authYaml() {
    return """
        auth:
          jwt: { hs256_secret: "%s" }
          api_keys:
            - { name: ops, sha256: "%s", publish: ["**"], subscribe: ["**"], admin: true }
            - { name: app, sha256: "%s", publish: ["logs/**"], subscribe: ["logs/**"] }
        """.formatted(SECRET, Tokens.sha256Hex(ADMIN_KEY), Tokens.sha256Hex(APP_KEY));
  }

  private static List<JsonNode> accessLines(List<String> output) {
    List<JsonNode> out = new ArrayList<>();
    for (String line : output) {
      if (line.startsWith("{")) {
        try {
          out.add(Http.JSON.readTree(line));
        } catch (IOException e) {
          throw new AssertionError("an access log line that is not JSON: " + line, e);
        }
      }
    }
    return out;
  }

  private static JsonNode awaitLine(TidingsProcess server, Predicate<JsonNode> matching, String what) {
    JsonNode[] found = new JsonNode[1];
    await().atMost(WAIT).alias(what).until(() -> {
      for (JsonNode line : accessLines(server.output())) {
        if (matching.test(line)) {
          found[0] = line;
          return true;
        }
      }
      return false;
    });
    return found[0];
  }

  @Test
  void everyRequestAndPushConnectionIsOneJsonLine_withoutTokensOrEventData() throws Exception {
    String jwt = Tokens.hs256(SECRET, Tokens.Claims.of("reader-7").subscribing("logs/**").publishing("logs/**"));
    String refreshed = Tokens.hs256(SECRET, Tokens.Claims.of("reader-7").subscribing("logs/**"));
    String bad = "tk_not_a_key_0a1b2c3d4e5f60718293a4b5c6d7e8f9";
    List<String> secrets = List.of(ADMIN_KEY, APP_KEY, SECRET, jwt, refreshed, bad, jwt.split("\\.")[2],
        refreshed.split("\\.")[2]);
    try (TidingsProcess server = TidingsProcess.builder().name("access-log").memory()
        .config("server: { access_log: true }\n" + authYaml()).start()) {
      Http http = new Http(server).with(Http.newClient());
      String topic = "logs/a";
      try (SseClient stream = SseClient.open(server.uri(), "/v1/sse?topic=logs%2Fa&access_token=" + jwt);
          WsClient socket = WsClient.connect(server.uri(), "?access_token=" + APP_KEY, Map.of(), false)) {
        assertThat(stream.status()).isEqualTo(200);
        socket.send("{\"op\":\"subscribe\",\"id\":1,\"topic\":\"logs/a\"}");
        socket.await(m -> m.path("op").asText().equals("subscribed"), WAIT);

        Http.Reply published = http.post("/v1/events?topic=logs%2Fa", "application/json",
            "{\"id\":\"e1\",\"data\":{\"note\":\"" + DATA_MARKER + "\"}}");
        assertThat(published.status()).as("no credentials: %s", published).isEqualTo(401);
        assertThat(http.method("POST", "/v1/events?topic=logs%2Fa", "{\"id\":\"e1\",\"data\":{\"note\":\"" + DATA_MARKER + "\"}}",
            "Content-Type", "application/json", "Authorization", "Bearer " + ADMIN_KEY).status()).isEqualTo(201);
        assertThat(stream.nextEvent(m -> m.type().equals("message"), WAIT).data()).contains(DATA_MARKER);
        assertThat(socket.await(m -> m.path("op").asText().equals("event"), WAIT).toString()).contains(DATA_MARKER);
        socket.send("{\"op\":\"auth\",\"id\":2,\"token\":\"" + refreshed + "\"}");
        socket.await(m -> m.path("op").asText().equals("authed"), WAIT);
      }
      assertThat(http.get("/v1/state?topic=logs%2Fa&access_token=" + APP_KEY).status()).isEqualTo(200);
      assertThat(http.get("/v1/changes?topic=logs%2Fa&since=earliest", bearer(jwt)).body()).contains(DATA_MARKER);
      assertThat(http.get("/v1/changes?topic=logs%2Fa&since=earliest&token=" + APP_KEY, bearer(jwt)).status()).isEqualTo(200);
      assertThat(http.get("/v1/state?topic=logs%2Fa&access_token=" + bad).status()).isEqualTo(401);
      assertThat(http.get("/metrics", bearer(ADMIN_KEY)).status()).isEqualTo(200);
      assertThat(http.get("/admin/snapshot", bearer(APP_KEY)).status()).isEqualTo(403);
      try (SseClient admin = SseClient.open(server.uri(), "/admin/stream?access_token=" + ADMIN_KEY)) {
        assertThat(admin.status()).isEqualTo(200);
        assertThat(admin.nextEvent(WAIT).json().has("connections")).isTrue();
      }

      JsonNode publish = awaitLine(server, l -> l.path("path").asText().equals("/v1/events") && l.path("status").asInt() == 201,
          "the publish");
      assertThat(publish.path("method").asText()).isEqualTo("POST");
      assertThat(publish.path("query").asText()).isEqualTo("topic=logs%2Fa");
      assertThat(publish.path("principal").asText()).isEqualTo("ops");
      assertThat(publish.path("remote").asText()).isEqualTo("127.0.0.1");
      assertThat(publish.path("bytes").asLong()).isPositive();
      assertThat(publish.path("duration_ms").isNumber()).isTrue();
      assertThat(publish.path("time").asText()).matches("\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d(\\.\\d+)?Z");
      assertThat(awaitLine(server, l -> l.path("path").asText().equals("/v1/events") && l.path("status").asInt() == 401,
          "the refused publish").path("principal").asText()).isEqualTo("anonymous");

      JsonNode sse = awaitLine(server, l -> l.path("path").asText().equals("/v1/sse"), "the SSE stream, once closed");
      assertThat(sse.path("status").asInt()).isEqualTo(200);
      assertThat(sse.path("principal").asText()).isEqualTo("reader-7");
      assertThat(sse.path("query").asText()).isEqualTo("topic=logs%2Fa&access_token=REDACTED");
      assertThat(sse.path("bytes").asLong()).as("what the stream was sent").isPositive();
      JsonNode ws = awaitLine(server, l -> l.path("path").asText().equals("/v1/ws"), "the WebSocket, once closed");
      assertThat(ws.path("status").asInt()).isEqualTo(101);
      assertThat(ws.path("principal").asText()).as("the principal after the auth op").isEqualTo("reader-7");
      assertThat(ws.path("query").asText()).isEqualTo("access_token=REDACTED");
      JsonNode stray = awaitLine(server, l -> l.path("query").asText().contains("&token="), "the stray token parameter");
      assertThat(stray.path("query").asText()).isEqualTo("topic=logs%2Fa&since=earliest&token=REDACTED");
      assertThat(awaitLine(server, l -> l.path("path").asText().equals("/admin/stream"), "the admin stream")
          .path("principal").asText()).isEqualTo("ops");
      awaitLine(server, l -> l.path("path").asText().equals("/v1/state") && l.path("status").asInt() == 401, "the bad token");

      Thread.sleep(300); // the output reader is a thread of its own
      String out = String.join("\n", server.output());
      for (String s : secrets) {
        assertThat(out).as("the server's output holds a credential").doesNotContain(s);
      }
      assertThat(out).as("the server's output holds event data").doesNotContain(DATA_MARKER);
    }
  }

  @Test
  void aFilePathWritesTheLogThere_creatingItsFolder() throws Exception {
    Path dir = Files.createTempDirectory("tidings-access-");
    Path file = dir.resolve("logs/access.jsonl");
    try (TidingsProcess server = TidingsProcess.builder().name("access-log-file").memory()
        .config("server: { access_log: \"" + file + "\" }\n").start()) {
      Http http = new Http(server);
      http.publishOk("files/a", "{\"data\":\"" + DATA_MARKER + "\"}");
      assertThat(http.get("/v1/state?topic=files%2Fa").status()).isEqualTo(200);
      await().atMost(WAIT).until(() -> Files.exists(file) && Files.readString(file).contains("/v1/state"));
      List<String> lines = Files.readAllLines(file);
      assertThat(lines).isNotEmpty().allSatisfy(l -> assertThat(Http.JSON.readTree(l).path("status").isInt()).isTrue());
      assertThat(String.join("\n", lines)).contains("\"principal\":\"open\"").doesNotContain(DATA_MARKER);
      assertThat(String.join("\n", server.output())).as("not on standard output").doesNotContain("\"path\":\"/v1/state\"");
    }
  }

  @Test
  void queryValuesAreKeptOnlyForTheApisOwnHarmlessParameters() {
    assertThat(AccessLog.safeQuery("topic=a%2Fb&since=k.3&limit=10&wait=30&mode=notify"))
        .isEqualTo("topic=a%2Fb&since=k.3&limit=10&wait=30&mode=notify");
    assertThat(AccessLog.safeQuery("topic=a&access_token=tk_secret")).isEqualTo("topic=a&access_token=REDACTED");
    assertThat(AccessLog.safeQuery("password=hunter2&flag")).isEqualTo("password=REDACTED&flag");
    assertThat(AccessLog.safeQuery("tk_pasted_secret_as_a_name_0123456789abcdef=1")).isEqualTo("REDACTED=REDACTED");
    assertThat(AccessLog.safeQuery("eyJhbGciOiJIUzI1NiJ9.e30.sig")).as("a name with a dot").isEqualTo("REDACTED");
  }
}
