package io.tidings.server.push;

import static io.tidings.server.push.PushSupport.WAIT;
import static io.tidings.server.testing.Http.enc;
import static org.assertj.core.api.Assertions.assertThat;

import io.tidings.server.testing.Http;
import io.tidings.server.testing.SseClient;
import io.tidings.server.testing.TidingsProcess;
import io.tidings.server.testing.WsClient;
import io.tidings.server.testing.WsRawSocket;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.Test;

/**
 * A graceful shutdown (SIGTERM) with push clients connected (contract §5, docs "Shutdown"): every
 * SSE stream gets a jittered {@code retry:} and a proper end, every WebSocket the close code 1012,
 * so that clients come back later and resume.
 */
class PushShutdownTest {
  @Test
  void sigterm_endsSseStreamsAfterARetry_andClosesWebSocketsWith1012() throws Exception {
    TidingsProcess server = TidingsProcess.builder().name("push-shutdown").memory()
        .config("push: { sse: { retry: 2s } }\n").start();
    try {
      Http http = new Http(server);
      String topic = "shutdown/t";
      PushSupport.publishNumbered(http, topic, "s", 1, 3);
      try (SseClient one = SseClient.open(server.uri(), "/v1/sse?topic=" + enc(topic) + "&since=earliest");
          SseClient several = SseClient.open(server.uri(), "/v1/sse?topic=" + enc(topic) + "&topic=shutdown%2Fu");
          WsClient ws = WsClient.connect(server.uri(), "tidings.v1");
          WsRawSocket raw = WsRawSocket.connect(server.uri(), 0)) {
        PushSupport.sseUntil(one, topic, 3, WAIT);
        assertThat(several.next(WAIT).retry()).isNotNull();
        PushSupport.subscribe(ws, 1, topic, "now");
        raw.sendText("{\"op\":\"subscribe\",\"id\":1,\"topic\":\"" + topic + "\"}");
        assertThat(raw.readFrame(WAIT).json().get("op").asText()).isEqualTo("subscribed");

        CompletableFuture<Integer> stopped = CompletableFuture.supplyAsync(() -> {
          try {
            return server.stop();
          } catch (InterruptedException e) {
            throw new IllegalStateException(e);
          }
        });
        for (SseClient sse : List.of(one, several)) {
          List<SseClient.Message> rest = sse.awaitEnd(WAIT);
          assertThat(rest).as("blocks before the end").isNotEmpty();
          SseClient.Message last = rest.get(rest.size() - 1);
          assertThat(last.retry()).as("the last block is retry: %s", rest).isNotNull();
          assertThat(last.retry()).as("jittered around 2 s").isBetween(1600L, 2400L);
          assertThat(sse.endedCleanly()).as("the response ends properly: %s", sse.endCause()).isTrue();
        }
        assertThat(ws.awaitClose(WAIT).code()).isEqualTo(1012);
        WsRawSocket.Frame close;
        do {
          close = raw.readFrame(WAIT);
          assertThat(close).as("a close frame before the connection ends").isNotNull();
        } while (close.opcode() != WsRawSocket.CLOSE);
        assertThat(close.closeCode()).isEqualTo(1012);
        raw.sendClose(1012);
        assertThat(stopped.get()).as("exit code").isIn(0, 143);
      }
    } finally {
      server.close();
    }
  }
}
