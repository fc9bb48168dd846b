package io.tidings.server.push;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.tidings.server.testing.Http;
import io.tidings.server.testing.TidingsProcess;
import io.tidings.server.testing.WsClient;
import io.tidings.server.testing.WsRawSocket;
import org.junit.jupiter.api.Test;

/**
 * {@code push.ws.enabled} and {@code push.sse.enabled}: a deployment (or a test of client fallback)
 * can refuse a push transport the way a restrictive proxy would, while pull keeps working.
 */
class TransportSwitchTest {
  @Test
  void disabledTransportsAnswer403TransportDisabled_andPullStillServes() throws Exception {
    try (TidingsProcess server = TidingsProcess.builder().name("transport-switch").memory()
        .config("push: { ws: { enabled: false }, sse: { enabled: false } }\n").start()) {
      Http http = new Http(server);
      http.publishOk("switch/t", "{\"data\":1}");

      assertThatThrownBy(() -> WsRawSocket.connect(server.uri(), 0)).hasMessageContaining("HTTP/1.1 403");
      assertThatThrownBy(() -> WsClient.connect(server.uri())).hasRootCauseMessage("Unexpected HTTP response status code 403");
      Http.Reply plain = http.get("/v1/ws");
      assertThat(plain.status()).isEqualTo(403);
      assertThat(plain.json().path("error").path("code").asText()).isEqualTo("transport_disabled");

      Http.Reply sse = http.get("/v1/sse?topic=switch/t&since=earliest", "Accept", "text/event-stream");
      assertThat(sse.status()).isEqualTo(403);
      assertThat(sse.header("Content-Type")).startsWith("application/json");
      assertThat(sse.json().path("error").path("code").asText()).isEqualTo("transport_disabled");

      assertThat(http.getOk("/v1/changes?topic=switch/t&since=earliest&wait=1").get("events")).hasSize(1);
    }
  }

  @Test
  void bothAreOnByDefault() throws Exception {
    try (TidingsProcess server = TidingsProcess.builder().name("transport-default").memory().start();
        WsClient ws = WsClient.connect(server.uri())) {
      assertThat(new Http(server).head("/v1/sse?topic=switch/t").status()).isEqualTo(200);
      assertThat(ws.subprotocol()).isEmpty();
    }
  }
}
