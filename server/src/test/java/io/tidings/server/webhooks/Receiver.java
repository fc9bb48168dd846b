package io.tidings.server.webhooks;

import com.fasterxml.jackson.databind.JsonNode;
import io.tidings.server.testing.Http;
import io.tidings.server.testing.NodeScript;
import java.io.IOException;
import java.net.URI;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Predicate;

/**
 * The Node webhook receiver ({@code webhook-receiver.mjs}), which verifies each request with the
 * {@code standardwebhooks} package; its lines are collected as they come, with their arrival time.
 */
final class Receiver implements AutoCloseable {
  /** One request the receiver got, and when this test learnt of it. */
  record Request(JsonNode line, long arrivedNanos) {
    String hook() {
      return line.path("hook").asText();
    }

    int answered() {
      return line.path("answered").asInt();
    }

    boolean verified() {
      return line.path("verified").asBoolean();
    }
  }

  private final NodeScript script;
  private final List<Request> requests = new CopyOnWriteArrayList<>();
  private final Http control;
  private final int port;
  private final Thread reader;

  Receiver() throws IOException, InterruptedException {
    script = NodeScript.start("webhook-receiver", Duration.ofMinutes(10), java.util.Map.of());
    JsonNode ready = script.awaitJson(Duration.ofSeconds(30));
    port = ready.path("port").asInt();
    control = new Http(URI.create("http://127.0.0.1:" + port));
    reader = new Thread(() -> {
      try {
        while (true) {
          String line = script.lines().take();
          requests.add(new Request(Http.JSON.readTree(line), System.nanoTime()));
        }
      } catch (InterruptedException | IOException e) {
        // closed
      }
    }, "webhook-receiver-lines");
    reader.setDaemon(true);
    reader.start();
  }

  String url(String hook) {
    return "http://127.0.0.1:" + port + "/hook/" + hook;
  }

  /** Tells the receiver how to answer {@code hook}, e.g. {@code {"secrets":[...],"status":500}}. */
  void control(String hook, String json) {
    Http.Reply r = control.post("/control/" + hook, "application/json", json);
    if (r.status() != 204) {
      throw new AssertionError("receiver control: " + r);
    }
  }

  List<Request> requests(String hook) {
    List<Request> out = new ArrayList<>();
    for (Request r : requests) {
      if (r.hook().equals(hook)) {
        out.add(r);
      }
    }
    return out;
  }

  /** Waits until {@code done} holds for the requests to {@code hook}. */
  List<Request> await(String hook, Duration timeout, Predicate<List<Request>> done) throws InterruptedException {
    long end = System.nanoTime() + timeout.toNanos();
    while (true) {
      List<Request> got = requests(hook);
      if (done.test(got)) {
        return got;
      }
      if (System.nanoTime() > end) {
        throw new AssertionError("receiver: condition not met for " + hook + " within " + timeout + "; got "
            + got.size() + " requests, last: " + (got.isEmpty() ? "none" : got.get(got.size() - 1).line())
            + "\nstderr: " + script.stderr());
      }
      Thread.sleep(20);
    }
  }

  @Override
  public void close() {
    reader.interrupt();
    script.close();
  }
}
