package io.tidings.server.grpc;

import static io.tidings.server.grpc.GrpcSupport.WAIT;
import static io.tidings.server.grpc.GrpcSupport.blocking;
import static io.tidings.server.grpc.GrpcSupport.numbered;
import static io.tidings.server.grpc.GrpcSupport.subscribe;
import static io.tidings.server.testing.Http.enc;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import io.grpc.ManagedChannel;
import io.tidings.proto.v1.ChangesRequest;
import io.tidings.proto.v1.ChangesResponse;
import io.tidings.proto.v1.Event;
import io.tidings.server.testing.Http;
import io.tidings.server.testing.SseClient;
import io.tidings.server.testing.TidingsProcess;
import io.tidings.server.testing.WsClient;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * One cursor for every transport: a client hops gRPC Subscribe, WebSocket, SSE, {@code /v1/changes},
 * gRPC Changes and back to gRPC Subscribe, each time resuming from the cursor of the last event the
 * previous one gave it, and sees every event exactly once.
 */
class GrpcCursorAcrossTransportsTest {

  @Test
  void aCursorFromGrpcResumesOnEveryTransport_andBack() throws Exception {
    try (TidingsProcess server = TidingsProcess.builder().name("grpc-cursor").memory().start()) {
      Http http = new Http(server);
      ManagedChannel channel = GrpcSupport.channel(server);
      String t = "hop/grpc";
      List<Long> seen = new ArrayList<>();
      try {
        blocking(channel).publish(numbered(t, 1, 12));
        String cursor;
        try (GrpcSupport.Stream s = GrpcSupport.Stream.open(channel, subscribe(t, "earliest"))) {
          s.next();
          List<Event> events = s.events(2);
          events.forEach(e -> seen.add(e.getOffset()));
          cursor = events.get(1).getCursor();
        }

        try (WsClient ws = WsClient.connect(server.uri())) {
          ws.send("{\"op\":\"subscribe\",\"topic\":\"" + t + "\",\"since\":\"" + cursor + "\"}");
          assertThat(ws.await(m -> m.path("op").asText().equals("subscribed"), WAIT).get("cursor").asText())
              .isEqualTo(cursor);
          for (int i = 0; i < 2; i++) {
            JsonNode e = ws.await(m -> m.path("op").asText().equals("event"), WAIT);
            seen.add(e.get("offset").asLong());
            cursor = e.get("cursor").asText();
          }
        }

        try (SseClient sse = SseClient.open(server.uri(), "/v1/sse?topic=" + enc(t) + "&since=" + enc(cursor))) {
          for (int i = 0; i < 2; i++) {
            SseClient.Message m = sse.nextEvent(x -> x.type().equals("message"), WAIT);
            seen.add(m.json().get("offset").asLong());
            cursor = m.id();
          }
        }

        JsonNode page = http.getOk("/v1/changes?topic=" + enc(t) + "&since=" + enc(cursor) + "&limit=2");
        page.get("events").forEach(e -> seen.add(e.get("offset").asLong()));
        cursor = page.get("cursor").asText();

        ChangesResponse changes = blocking(channel).changes(ChangesRequest.newBuilder().setTopic(t).setSince(cursor)
            .setLimit(2).build());
        changes.getEventsList().forEach(e -> seen.add(e.getOffset()));
        cursor = changes.getCursor();

        try (GrpcSupport.Stream s = GrpcSupport.Stream.open(channel, subscribe(t, cursor))) {
          assertThat(s.next().getSubscribed().getCursor()).isEqualTo(cursor);
          s.events(2).forEach(e -> seen.add(e.getOffset()));
        }
        assertThat(seen).containsExactly(1L, 2L, 3L, 4L, 5L, 6L, 7L, 8L, 9L, 10L, 11L, 12L);
      } finally {
        channel.shutdownNow().awaitTermination(10, TimeUnit.SECONDS);
      }
    }
  }
}
