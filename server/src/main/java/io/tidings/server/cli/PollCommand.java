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
    description = "Print events of TOPIC, one JSON line each. The cursor to resume from goes to standard error.")
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
        System.err.println("tidings: " + HubConnection.errorText(response) + "; continuing from the earliest retained event");
        cursor = "earliest";
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

  // Full jitter: a random pause up to an exponentially growing cap (0.5 s doubling to 30 s).
  private static void backoff(int failures) throws InterruptedException {
    long cap = Math.min(30_000, 500L << Math.min(failures, 10));
    Thread.sleep(ThreadLocalRandom.current().nextLong(cap + 1));
  }
}
