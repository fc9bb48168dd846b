package io.tidings.server.cli;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.concurrent.Callable;
import java.util.concurrent.ThreadLocalRandom;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * {@code tidings poll}: prints a topic's events as JSON lines; with {@code --follow} it long-polls
 * forever, riding out restarts with jittered backoff.
 */
@Command(name = "poll", mixinStandardHelpOptions = true,
    description = {"Print events of TOPIC, one JSON line each. The cursor to resume from goes to standard error.",
        "With --follow, a cursor older than the retained history prints the topic's state as put events",
        "and continues from there."})
public final class PollCommand implements Callable<Integer> {
  @Parameters(index = "0", paramLabel = "TOPIC")
  String topic;

  @Option(names = "--since", description = "Cursor, 'earliest' (default) or 'now'.")
  String since = "earliest";

  @Option(names = "--follow", description = "Keep long-polling and print events as they arrive.")
  boolean follow;

  @Option(names = "--limit", description = "Events per request (default 100).")
  int limit = 100;

  @Option(names = "--url", description = "Hub URL (default $TIDINGS_URL or http://127.0.0.1:7070).")
  String url;

  @Override
  public Integer call() throws InterruptedException {
    HubConnection hub = new HubConnection(url);
    String cursor = since;
    int failures = 0;
    while (true) {
      String wait = follow ? "&wait=30" : "";
      HttpResponse<String> response;
      try {
        response = hub.send(hub.request("/v1/changes?topic=" + HubConnection.enc(topic) + "&since="
            + HubConnection.enc(cursor) + "&limit=" + limit + wait, Duration.ofSeconds(45)).GET());
      } catch (IOException e) {
        if (!follow) {
          System.err.println("tidings: cannot reach the hub: " + e.getMessage());
          return 1;
        }
        failures++;
        backoff(failures);
        continue;
      }
      int status = response.statusCode();
      if (status == 410 && follow) {
        // As push transports do on a reset: the current state as put events, then on from its cursor.
        System.err.println("tidings: " + HubConnection.errorText(response) + "; printing the state and continuing from it");
        String resumed = printState(hub);
        if (resumed == null) {
          failures++;
          backoff(failures);
          continue;
        }
        cursor = resumed;
        continue;
      }
      if ((status == 503 || status == 429) && follow) {
        failures++;
        backoff(failures);
        continue;
      }
      if (status != 200) {
        System.err.println("tidings: " + HubConnection.errorText(response));
        return 1;
      }
      failures = 0;
      JsonNode body;
      try {
        body = HubConnection.JSON.readTree(response.body());
      } catch (IOException e) {
        System.err.println("tidings: the hub sent a body that is not JSON");
        return 1;
      }
      for (JsonNode event : body.path("events")) {
        System.out.println(event.toString());
      }
      System.out.flush();
      cursor = body.path("cursor").asText(cursor);
      if (!follow && !body.path("more").asBoolean()) {
        System.err.println("cursor: " + cursor);
        return 0;
      }
    }
  }

  /** Prints every state entry as a put event line; returns the state's cursor, or null on failure. */
  private String printState(HubConnection hub) throws InterruptedException {
    String afterKey = null;
    String stateCursor = null;
    do {
      HttpResponse<String> response;
      JsonNode body;
      try {
        response = hub.send(hub.request("/v1/state?topic=" + HubConnection.enc(topic)
            + (afterKey == null ? "" : "&after_key=" + HubConnection.enc(afterKey)), Duration.ofSeconds(30)).GET());
        if (response.statusCode() != 200) {
          System.err.println("tidings: " + HubConnection.errorText(response));
          return null;
        }
        body = HubConnection.JSON.readTree(response.body());
      } catch (IOException e) {
        return null;
      }
      // Continuing from the first page's cursor loses nothing even if the topic moved on while we
      // paged: later changes are replayed after the state, and puts replayed twice are harmless.
      if (stateCursor == null) {
        stateCursor = body.path("cursor").asText();
      }
      for (JsonNode entry : body.path("entries")) {
        var event = HubConnection.JSON.createObjectNode();
        event.put("topic", topic);
        event.set("offset", entry.path("offset"));
        event.put("type", "put");
        event.set("key", entry.path("key"));
        event.set("data", entry.path("data"));
        event.set("time", entry.path("time"));
        System.out.println(event.toString());
      }
      afterKey = body.hasNonNull("next_key") ? body.get("next_key").asText() : null;
    } while (afterKey != null);
    System.out.flush();
    return stateCursor;
  }

  // Full jitter: a random pause up to an exponentially growing cap (0.5 s doubling to 30 s).
  private static void backoff(int failures) throws InterruptedException {
    long cap = Math.min(30_000, 500L << Math.min(failures, 10));
    Thread.sleep(ThreadLocalRandom.current().nextLong(cap + 1));
  }
}
