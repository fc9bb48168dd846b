package io.tidings.server.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code tidings publish}: appends one event and prints the hub's answer. */
@Command(name = "publish", mixinStandardHelpOptions = true,
    description = "Publish one event. DATA is JSON (quote strings: '\"hello\"'); '-' reads it from standard input.")
public final class PublishCommand implements Callable<Integer> {
  @Parameters(index = "0", paramLabel = "TOPIC")
  String topic;

  @Parameters(index = "1", arity = "0..1", paramLabel = "DATA|-")
  String data;

  @Option(names = "--type", description = "Event type (default message; put and delete change the state).")
  String type;

  @Option(names = "--key", description = "State key (needed by put and delete).")
  String key;

  @Option(names = "--id", description = "Idempotency id: publishing the same id again appends nothing.")
  String id;

  @Option(names = "--url", description = "Hub URL (default $TIDINGS_URL or http://127.0.0.1:7070).")
  String url;

  @Override
  public Integer call() throws IOException, InterruptedException {
    ObjectNode event = HubConnection.JSON.createObjectNode();
    if (type != null) {
      event.put("type", type);
    }
    if (key != null) {
      event.put("key", key);
    }
    if (id != null) {
      event.put("id", id);
    }
    if (data != null) {
      String text = data.equals("-") ? new String(System.in.readAllBytes(), StandardCharsets.UTF_8) : data;
      JsonNode value;
      try {
        value = HubConnection.JSON.readTree(text);
      } catch (IOException e) {
        System.err.println("tidings: DATA is not JSON (quote a string like this: '\"hello\"')");
        return 2;
      }
      if (value == null || value.isMissingNode()) {
        System.err.println("tidings: DATA is empty");
        return 2;
      }
      event.set("data", value);
    }
    HubConnection hub = new HubConnection(url);
    HttpResponse<String> response = hub.send(hub.request("/v1/events?topic=" + HubConnection.enc(topic), Duration.ofSeconds(30))
        .header("Content-Type", "application/json")
        .POST(HttpRequest.BodyPublishers.ofString(HubConnection.JSON.writeValueAsString(event))));
    if (response.statusCode() != 201) {
      System.err.println("tidings: " + HubConnection.errorText(response));
      return 1;
    }
    System.out.println(response.body());
    return 0;
  }
}
