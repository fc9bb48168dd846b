package io.tidings.server.graphql;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import io.tidings.server.testing.Http;
import io.tidings.server.testing.NodeScript;
import io.tidings.server.testing.TidingsProcess;
import io.tidings.server.testing.Tokens;
import io.tidings.server.testing.Tokens.Claims;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * How a GraphQL WebSocket ends when the server ends it: 4403 when its token expires (graphql-ws
 * then reconnects, asking its {@code connectionParams} for a fresh token), 1012 when the server
 * restarts. Both seen by the {@code graphql-ws} client library.
 */
class GraphQLConnectionLifetimeTest {
  private static final String SECRET = "graphql-lifetime-test-secret-0123456789abcdef";
  private static final Duration WAIT = Duration.ofSeconds(60);

  private static NodeScript stream(TidingsProcess server, String topic, String token) throws Exception {
    String url = server.uri("/v1/graphql").toString().replaceFirst("^http", "ws");
    return NodeScript.start("graphql-ws-client", Duration.ofMinutes(2), Map.of(), "stream", url, "[\"" + topic + "\"]",
        "earliest", "full", "1000", token);
  }

  /** The close the client reports once its subscription fails, skipping the events and the close notice. */
  private static JsonNode closeOf(NodeScript script) throws Exception {
    while (true) {
      JsonNode line = script.awaitJson(WAIT);
      assertThat(line).as("script output (stderr: %s)", script.stderr()).isNotNull();
      assertThat(line.has("failure")).as("%s", line).isFalse();
      if (line.has("closedError")) {
        return line.get("closedError");
      }
    }
  }

  @Test
  void anExpiredTokenEndsTheConnectionWith4403() throws Exception {
    String config = """
        auth:
          jwt: { hs256_secret: "%s", clock_skew: 0s }
        """.formatted(SECRET);
    try (TidingsProcess server = TidingsProcess.builder().name("graphql-expiry").memory().config(config).start()) {
      String token = Tokens.hs256(SECRET, Claims.of("dora").subscribing("exp/**").publishing("exp/**").expiresIn(3));
      new Http(server).method("POST", "/v1/events?topic=exp/a", "{\"data\":1}", "Authorization", "Bearer " + token,
          "Content-Type", "application/json");
      try (NodeScript script = stream(server, "exp/a", token)) {
        assertThat(script.awaitJson(WAIT).path("event").path("offset").asLong()).isEqualTo(1);
        JsonNode close = closeOf(script);
        assertThat(close.get("code").asInt()).as("%s", close).isEqualTo(4403);
        assertThat(close.get("reason").asText()).contains("expired");
      }
    }
  }

  @Test
  void aServerShutdownClosesWith1012() throws Exception {
    TidingsProcess server = TidingsProcess.builder().name("graphql-shutdown").memory().start();
    try (server) {
      new Http(server).publishOk("down/a", "{\"data\":1}");
      try (NodeScript script = stream(server, "down/a", "-")) {
        assertThat(script.awaitJson(WAIT).path("event").path("offset").asLong()).isEqualTo(1);
        assertThat(server.stop()).isZero();
        JsonNode close = closeOf(script);
        assertThat(close.get("code").asInt()).as("%s", close).isEqualTo(1012);
      }
    }
  }
}
