package io.tidings.server.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;

/** What the client commands share: the hub's URL and an HTTP client. */
final class HubConnection {
  static final ObjectMapper JSON = new ObjectMapper();

  private final URI base;
  private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

  HubConnection(String url) {
    String u = url != null ? url : System.getenv().getOrDefault("TIDINGS_URL", "http://127.0.0.1:7070");
    this.base = URI.create(u.endsWith("/") ? u.substring(0, u.length() - 1) : u);
  }

  static String enc(String s) {
    return URLEncoder.encode(s, StandardCharsets.UTF_8);
  }

  HttpResponse<String> send(HttpRequest.Builder request) throws IOException, InterruptedException {
    return http.send(request.build(), HttpResponse.BodyHandlers.ofString(StandardCharsets.UTF_8));
  }

  HttpRequest.Builder request(String pathAndQuery, Duration timeout) {
    return HttpRequest.newBuilder(URI.create(base + pathAndQuery)).timeout(timeout);
  }

  /** The message of an error body, or the raw body when it is not one. */
  static String errorText(HttpResponse<String> response) {
    try {
      JsonNode error = JSON.readTree(response.body()).path("error");
      if (error.has("code")) {
        return response.statusCode() + " " + error.path("code").asText() + ": " + error.path("message").asText();
      }
    } catch (IOException ignored) {
      // not JSON: show it as it is
    }
    return response.statusCode() + " " + response.body();
  }
}
