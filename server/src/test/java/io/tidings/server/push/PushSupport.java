package io.tidings.server.push;

import static io.tidings.server.testing.Http.enc;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.tidings.server.testing.Http;
import io.tidings.server.testing.SseClient;
import io.tidings.server.testing.WsClient;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** Shared steps of the push tests: publishing numbered events, reading them back, checking sequences. */
final class PushSupport {
  static final Duration WAIT = Duration.ofSeconds(60);

  private PushSupport() {}

  /** A JSON array of {@code count} messages {@code {"id":"<prefix>-<i>","data":{"n":i}}} for i from {@code from}. */
  static String messages(String prefix, int from, int count) {
    StringBuilder b = new StringBuilder("[");
    for (int i = from; i < from + count; i++) {
      b.append(i > from ? "," : "").append("{\"id\":\"").append(prefix).append('-').append(i)
          .append("\",\"data\":{\"n\":").append(i).append("}}");
    }
    return b.append(']').toString();
  }

  /** Publishes {@code count} numbered messages in batches of at most 500; returns the last cursor. */
  static String publishNumbered(Http http, String topic, String prefix, int from, int count) {
    String cursor = null;
    for (int done = 0; done < count; ) {
      int n = Math.min(500, count - done);
      cursor = http.publishOk(topic, messages(prefix, from + done, n)).get("cursor").asText();
      done += n;
    }
    return cursor;
  }

  /** The topic's head cursor as {@code /v1/changes?since=now} reports it. */
  static String head(Http http, String topic) {
    return http.getOk("/v1/changes?topic=" + enc(topic) + "&since=now").get("cursor").asText();
  }

  /** The offset of a single-topic cursor ({@code <epoch>.<offset>}). */
  static long offsetOf(String cursor) {
    return Long.parseLong(cursor.substring(cursor.lastIndexOf('.') + 1));
  }

  /** The epoch of a single-topic cursor. */
  static String epochOf(String cursor) {
    return cursor.substring(0, cursor.lastIndexOf('.'));
  }

  /** Offsets of event JSON objects. */
  static List<Long> offsets(List<JsonNode> events) {
    List<Long> out = new ArrayList<>(events.size());
    events.forEach(e -> out.add(e.get("offset").asLong()));
    return out;
  }

  /** Asserts {@code offsets} is exactly {@code first, first+1, ..., last}, naming the first deviation. */
  static void assertExactly(String what, List<Long> offsets, long first, long last) {
    long expected = first;
    for (int i = 0; i < offsets.size(); i++, expected++) {
      if (offsets.get(i) != expected) {
        throw new AssertionError(what + ": at index " + i + " expected offset " + expected + " but got "
            + offsets.get(i) + " (neighbourhood " + offsets.subList(Math.max(0, i - 3), Math.min(offsets.size(), i + 4))
            + ", " + offsets.size() + " events)");
      }
    }
    assertThat(offsets.size()).as("%s: number of events (expected offsets %d..%d)", what, first, last)
        .isEqualTo((int) Math.max(0, last - first + 1));
  }

  /** The events of a WebSocket event frame list, without their {@code op}. */
  static JsonNode withoutOp(JsonNode frame) {
    ObjectNode copy = frame.deepCopy();
    copy.remove("op");
    return copy;
  }

  /** The next SSE event that is a topic's event (not the opening {@code subscribed}); null at the end. */
  static SseClient.Message nextSseEvent(SseClient sse, Duration timeout) throws InterruptedException {
    long deadline = System.nanoTime() + timeout.toNanos();
    while (true) {
      SseClient.Message m = sse.nextEvent(Duration.ofNanos(Math.max(1_000_000, deadline - System.nanoTime())));
      if (m == null || !m.type().equals("subscribed")) {
        return m;
      }
    }
  }

  /** Reads SSE events until one has offset {@code last} for its topic; returns the event JSONs (not {@code subscribed}). */
  static List<JsonNode> sseUntil(SseClient sse, String topic, long last, Duration timeout) throws InterruptedException {
    List<JsonNode> out = new ArrayList<>();
    long deadline = System.nanoTime() + timeout.toNanos();
    while (true) {
      long left = deadline - System.nanoTime();
      if (left <= 0) {
        throw new AssertionError("SSE: offset " + last + " of " + topic + " did not arrive within " + timeout
            + "; got " + out.size() + " events, last " + (out.isEmpty() ? "none" : out.get(out.size() - 1)));
      }
      SseClient.Message m = nextSseEvent(sse, Duration.ofNanos(left));
      if (m == null) {
        throw new AssertionError("SSE stream ended (" + sse.endCause() + ") before offset " + last + " of " + topic
            + "; got " + out.size() + " events");
      }
      JsonNode e = m.json();
      out.add(e);
      if (e.path("topic").asText().equals(topic) && e.path("offset").asLong() >= last) {
        return out;
      }
    }
  }

  /** Reads WebSocket event frames of {@code topic} until offset {@code last}; returns them. */
  static List<JsonNode> wsUntil(WsClient ws, String topic, long last, Duration timeout) throws InterruptedException {
    List<JsonNode> out = new ArrayList<>();
    long deadline = System.nanoTime() + timeout.toNanos();
    while (true) {
      long left = deadline - System.nanoTime();
      if (left <= 0) {
        throw new AssertionError("WS: offset " + last + " of " + topic + " did not arrive within " + timeout
            + "; got " + out.size() + " events");
      }
      JsonNode m = ws.next(Duration.ofNanos(left));
      if (m == null) {
        throw new AssertionError("WS closed (" + ws.closeNow() + ") before offset " + last + " of " + topic
            + "; got " + out.size() + " events");
      }
      if (!m.path("op").asText().equals("event") || !m.path("topic").asText().equals(topic)) {
        if (m.path("op").asText().equals("error") || m.path("op").asText().equals("reset")) {
          throw new AssertionError("WS: unexpected " + m);
        }
        continue;
      }
      out.add(m);
      if (m.path("offset").asLong() >= last) {
        return out;
      }
    }
  }

  /** Subscribes and returns the {@code subscribed} reply. */
  static JsonNode subscribe(WsClient ws, Object id, String topic, String since) throws InterruptedException {
    JsonNode idNode = Http.JSON.valueToTree(id);
    ObjectNode req = Http.JSON.createObjectNode().put("op", "subscribe").put("topic", topic);
    req.set("id", idNode);
    if (since != null) {
      req.put("since", since);
    }
    ws.send(req.toString());
    JsonNode reply = ws.await(m -> m.path("id").equals(idNode)
        && (m.path("op").asText().equals("subscribed") || m.path("op").asText().equals("error")), WAIT);
    assertThat(reply.path("op").asText()).as("reply to %s: %s", req, reply).isEqualTo("subscribed");
    return reply;
  }

  /** A metric's value (0 when absent). */
  static double metric(Http http, String name) {
    return http.metric(name).orElse(0.0);
  }

  /** The heap in use as {@code /metrics} reports it (sum of the heap areas), in bytes. */
  static long heapUsed(Http http) {
    String text = http.get("/metrics").body();
    Matcher m = Pattern.compile("(?m)^jvm_memory_used_bytes\\{area=\"heap\",[^}]*\\} ([0-9.eE+-]+)$").matcher(text);
    double sum = 0;
    boolean any = false;
    while (m.find()) {
      sum += Double.parseDouble(m.group(1));
      any = true;
    }
    assertThat(any).as("jvm_memory_used_bytes{area=\"heap\"} in /metrics").isTrue();
    return (long) sum;
  }
}
