package io.tidings.server.grpc;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import io.tidings.server.testing.NodeScript;
import io.tidings.server.testing.TidingsProcess;
import io.tidings.server.testing.Tokens;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.LongStream;
import org.junit.jupiter.api.Test;

/**
 * An independent client: {@code @grpc/grpc-js} with the messages loaded from the repository's
 * {@code tidings.proto} by {@code @grpc/proto-loader} ({@code server/src/test/js/grpc-client.mjs}).
 * It subscribes (replay then live), resumes from its last cursor, is reset from a trimmed cursor,
 * is refused without valid credentials, and, pausing its stream while events pour in, is ended
 * with {@code RESOURCE_EXHAUSTED} and resumes from the trailer without losing or repeating an event.
 */
class GrpcNodeClientTest {
  private static final String OPS_KEY = "tk_ops_0123456789abcdef0123456789abcdef";
  private static final int UNAUTHENTICATED = 16;
  private static final int RESOURCE_EXHAUSTED = 8;
  private static final int OUT_OF_RANGE = 11;

  @Test
  void grpcJs_subscribesResumesResetsIsRefused_andIsCutWhenItStopsReading() throws Exception {
    String config = """
        auth:
          api_keys:
            - { name: ops, sha256: "%s", publish: ["**"], subscribe: ["**"], admin: true }
          anonymous: { subscribe: ["open/**"] }
        store: { retention_interval: 100ms }
        retention:
          - { topic: "open/trim/**", max_events: 10 }
        push:
          outbound: { max_bytes: 256KiB, max_messages: 512 }
        """.formatted(Tokens.sha256Hex(OPS_KEY));
    try (TidingsProcess server = TidingsProcess.builder().name("grpc-node").memory().config(config).start();
        NodeScript node = NodeScript.start("grpc-client", Duration.ofMinutes(3), Map.of(),
            NodeScript.repoRoot().resolve("server/src/main/protobuf/tidings/v1/tidings.proto").toString(),
            server.uri().getHost() + ":" + server.uri().getPort(), OPS_KEY)) {
      List<JsonNode> steps = new ArrayList<>();
      for (int i = 0; i < 5; i++) {
        JsonNode line = node.awaitJson(Duration.ofSeconds(90));
        assertThat(line).as("step %d (stderr: %s)", i, node.stderr()).isNotNull();
        assertThat(line.has("error")).as("%s", line).isFalse();
        steps.add(line);
      }

      JsonNode subscribe = steps.get(0);
      assertThat(subscribe.get("step").asText()).isEqualTo("subscribe");
      assertThat(subscribe.get("kind").asText()).isEqualTo("subscribed");
      assertThat(longs(subscribe.get("offsets"))).containsExactlyElementsOf(range(1, 25));
      assertThat(longs(subscribe.get("data"))).containsExactlyElementsOf(range(1, 25));

      JsonNode resume = steps.get(1);
      assertThat(resume.get("cursor").asText()).isEqualTo(subscribe.get("lastCursor").asText());
      assertThat(longs(resume.get("offsets"))).containsExactlyElementsOf(range(26, 30));

      JsonNode reset = steps.get(2);
      assertThat(reset.get("expiredCode").asInt()).isEqualTo(OUT_OF_RANGE);
      assertThat(reset.get("expiredErrorCode").asText()).isEqualTo("cursor_expired");
      assertThat(reset.get("kinds")).extracting(JsonNode::asText).containsExactly("subscribed", "reset", "event", "event");
      assertThat(reset.get("reset").get("reason").asText()).isEqualTo("retention");
      String head = reset.get("reset").get("cursor").asText();
      JsonNode puts = reset.get("puts");
      assertThat(puts.get(0).get("key").asText()).isEqualTo("a");
      assertThat(puts.get(0).get("cursor").asText()).as("before the last put: the old cursor")
          .isEqualTo(reset.get("old").asText());
      assertThat(puts.get(1).get("key").asText()).isEqualTo("b");
      assertThat(puts.get(1).get("cursor").asText()).isEqualTo(head);
      assertThat(puts.get(1).get("data").asText()).isEqualTo("2");
      assertThat(reset.get("liveCursor").asText()).isEqualTo(reset.get("publishedCursor").asText());

      JsonNode auth = steps.get(3);
      for (String who : new String[] {"anonymous", "badKey"}) {
        assertThat(auth.get(who).get("code").asInt()).as(who).isEqualTo(UNAUTHENTICATED);
        assertThat(auth.get(who).get("errorCode").asText()).as(who).isEqualTo("unauthorized");
        assertThat(auth.get(who).get("messages").asInt()).as(who).isZero();
      }

      JsonNode slow = steps.get(4);
      assertThat(slow.get("code").asInt()).as("%s", slow).isEqualTo(RESOURCE_EXHAUSTED);
      assertThat(slow.get("errorCode").asText()).isEqualTo("slow_consumer");
      assertThat(slow.get("firstCount").asInt()).as("cut before the end").isLessThan(3000);
      assertThat(slow.get("resumeSince").asText()).isEqualTo(slow.get("resumedAt").asText());
      if (slow.get("firstCount").asInt() > 0) {
        assertThat(slow.get("resumeSince").asText()).isEqualTo(slow.get("lastDelivered").asText());
      }
      assertThat(slow.get("resumeCursor").asText()).endsWith(" " + slow.get("resumeSince").asText());
      assertThat(slow.get("contiguous").asBoolean()).as("no gap, no repeat").isTrue();
      assertThat(slow.get("count").asInt()).isEqualTo(3000);
      assertThat(node.waitFor(Duration.ofSeconds(30))).isZero();
    }
  }

  private static List<Long> longs(JsonNode array) {
    List<Long> out = new ArrayList<>();
    array.forEach(n -> out.add(n.asLong()));
    return out;
  }

  private static List<Long> range(long from, long to) {
    return LongStream.rangeClosed(from, to).boxed().toList();
  }
}
