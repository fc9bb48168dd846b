package io.tidings.server.testing;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpHeaders;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executors;

/**
 * A small real-HTTP client for one {@link TidingsProcess}: plain HTTP/1.1 over
 * {@link java.net.http.HttpClient}, bodies kept as text so tests can check exact bytes.
 */
public final class Http {
  /** Lenient on input (we parse the server's output, not a client's). */
  public static final ObjectMapper JSON = new ObjectMapper()
      .enable(com.fasterxml.jackson.databind.DeserializationFeature.USE_BIG_DECIMAL_FOR_FLOATS)
      .enable(com.fasterxml.jackson.core.JsonParser.Feature.STRICT_DUPLICATE_DETECTION);

  private static final HttpClient SHARED = newClient();

  private final URI base;
  private final HttpClient client;

  public Http(URI base) {
    this(base, SHARED);
  }

  private Http(URI base, HttpClient client) {
    this.base = base;
    this.client = client;
  }

  public Http(TidingsProcess server) {
    this(server.uri());
  }

  /** A client with its own connection pool and threads (for many concurrent long polls). */
  public static HttpClient newClient() {
    return HttpClient.newBuilder()
        .version(HttpClient.Version.HTTP_1_1)
        .connectTimeout(Duration.ofSeconds(10))
        .executor(Executors.newCachedThreadPool(r -> {
          Thread t = new Thread(r, "http-client");
          t.setDaemon(true);
          return t;
        }))
        .build();
  }

  /** The same server through another client. */
  public Http with(HttpClient other) {
    return new Http(base, other);
  }

  public URI base() {
    return base;
  }

  /** One answer: status, headers, and the body as UTF-8 text. */
  public record Reply(int status, HttpHeaders headers, String body, long millis) {
    public String header(String name) {
      return headers.firstValue(name).orElse(null);
    }

    public List<String> headerValues(String name) {
      return headers.allValues(name);
    }

    public JsonNode json() {
      try {
        return JSON.readTree(body);
      } catch (IOException e) {
        throw new AssertionError("the body is not JSON (status " + status + "): " + body, e);
      }
    }

    @Override
    public String toString() {
      return status + " " + headers.map() + " " + (body.length() > 2000 ? body.substring(0, 2000) + "..." : body);
    }
  }

  /** Percent-encodes a query value (space as %20, not +). */
  public static String enc(String value) {
    return URLEncoder.encode(value, StandardCharsets.UTF_8).replace("+", "%20");
  }

  public Reply get(String pathAndQuery, String... headers) {
    return send(request(pathAndQuery, headers).GET().build());
  }

  public Reply head(String pathAndQuery, String... headers) {
    return send(request(pathAndQuery, headers).method("HEAD", HttpRequest.BodyPublishers.noBody()).build());
  }

  public Reply method(String method, String pathAndQuery, String body, String... headers) {
    HttpRequest.BodyPublisher p = body == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofString(body);
    return send(request(pathAndQuery, headers).method(method, p).build());
  }

  public CompletableFuture<Reply> getAsync(String pathAndQuery, String... headers) {
    return sendAsync(request(pathAndQuery, headers).GET().build());
  }

  /** {@code POST} with an explicit Content-Type ({@code null}: none at all). */
  public Reply post(String pathAndQuery, String contentType, String body) {
    HttpRequest.Builder b = request(pathAndQuery);
    if (contentType != null) {
      b.header("Content-Type", contentType);
    }
    return send(b.POST(HttpRequest.BodyPublishers.ofString(body)).build());
  }

  /** {@code POST} of raw bytes with an explicit Content-Type. */
  public Reply post(String pathAndQuery, String contentType, byte[] body) {
    HttpRequest.Builder b = request(pathAndQuery);
    if (contentType != null) {
      b.header("Content-Type", contentType);
    }
    return send(b.POST(HttpRequest.BodyPublishers.ofByteArray(body)).build());
  }

  /** Publishes {@code body} (JSON text) to {@code topic}, whatever the answer. */
  public Reply publish(String topic, String body) {
    return post("/v1/events?topic=" + enc(topic), "application/json", body);
  }

  /** Publishes and requires a {@code 201}; returns the response JSON. */
  public JsonNode publishOk(String topic, String body) {
    Reply r = publish(topic, body);
    assertThat(r.status()).as("publish to %s of %s: %s", topic, abbreviate(body), r).isEqualTo(201);
    return r.json();
  }

  /** Publishes a batch of {@code n} keyless messages {@code {"data":{"n":i}}}; returns the response JSON. */
  public JsonNode publishMessages(String topic, int n) {
    ArrayNode batch = JsonNodeFactory.instance.arrayNode();
    for (int i = 1; i <= n; i++) {
      batch.addObject().putObject("data").put("n", i);
    }
    return publishOk(topic, batch.toString());
  }

  /** {@code GET} requiring a 200; returns the response JSON. */
  public JsonNode getOk(String pathAndQuery, String... headers) {
    Reply r = get(pathAndQuery, headers);
    assertThat(r.status()).as("GET %s: %s", pathAndQuery, r).isEqualTo(200);
    return r.json();
  }

  /** Every retained event of a topic from {@code earliest}, following pages of {@code limit}. */
  public List<JsonNode> allChanges(String topic, int limit) {
    List<JsonNode> out = new ArrayList<>();
    String since = "earliest";
    for (int page = 0; page < 100_000; page++) {
      JsonNode body = getOk("/v1/changes?topic=" + enc(topic) + "&since=" + enc(since) + "&limit=" + limit);
      body.get("events").forEach(out::add);
      since = body.get("cursor").asText();
      if (!body.get("more").asBoolean()) {
        return out;
      }
      assertThat(body.get("events").size()).as("a page with more=true holds events").isPositive();
    }
    throw new AssertionError("too many pages");
  }

  /** The whole state of a topic, following {@code next_key} pages of {@code limit}. */
  public List<JsonNode> allState(String topic, int limit) {
    List<JsonNode> out = new ArrayList<>();
    String afterKey = null;
    for (int page = 0; page < 100_000; page++) {
      JsonNode body = getOk("/v1/state?topic=" + enc(topic) + "&limit=" + limit
          + (afterKey == null ? "" : "&after_key=" + enc(afterKey)));
      body.get("entries").forEach(out::add);
      JsonNode next = body.get("next_key");
      if (next == null || next.isNull()) {
        return out;
      }
      afterKey = next.asText();
    }
    throw new AssertionError("too many pages");
  }

  /** The value of the first sample of {@code name} carrying all {@code labels} ({@code k="v"}), if any. */
  public Optional<Double> metric(String name, String... labels) {
    Reply r = get("/metrics");
    assertThat(r.status()).isEqualTo(200);
    return metricIn(r.body(), name, labels);
  }

  /** The value of the first sample of {@code name} carrying all {@code labels} ({@code k="v"}) in {@code text}. */
  public static Optional<Double> metricIn(String text, String name, String... labels) {
    for (String line : text.split("\n")) {
      if (line.startsWith("#") || !line.startsWith(name)) {
        continue;
      }
      String rest = line.substring(name.length());
      String labelPart = "";
      if (rest.startsWith("{")) {
        int close = rest.indexOf('}');
        labelPart = rest.substring(0, close + 1);
        rest = rest.substring(close + 1);
      }
      if (!rest.startsWith(" ")) {
        continue;
      }
      boolean all = true;
      for (String l : labels) {
        all &= labelPart.contains(l);
      }
      if (all) {
        return Optional.of(Double.parseDouble(rest.trim().split(" ")[0]));
      }
    }
    return Optional.empty();
  }

  private HttpRequest.Builder request(String pathAndQuery, String... headers) {
    HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(base + pathAndQuery)).timeout(Duration.ofSeconds(90));
    for (int i = 0; i + 1 < headers.length; i += 2) {
      b.header(headers[i], headers[i + 1]);
    }
    return b;
  }

  private Reply send(HttpRequest request) {
    long started = System.nanoTime();
    try {
      HttpResponse<String> r = client.send(request, HttpResponse.BodyHandlers.ofString(StandardCharsets.UTF_8));
      return new Reply(r.statusCode(), r.headers(), r.body(), (System.nanoTime() - started) / 1_000_000);
    } catch (IOException e) {
      throw new UncheckedIOException(request.method() + " " + request.uri() + " failed", e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException(e);
    }
  }

  private CompletableFuture<Reply> sendAsync(HttpRequest request) {
    long started = System.nanoTime();
    return client.sendAsync(request, HttpResponse.BodyHandlers.ofString(StandardCharsets.UTF_8))
        .thenApply(r -> new Reply(r.statusCode(), r.headers(), r.body(), (System.nanoTime() - started) / 1_000_000));
  }

  private static String abbreviate(String s) {
    return s.length() > 300 ? s.substring(0, 300) + "..." : s;
  }
}
