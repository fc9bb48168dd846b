package io.tidings.server;

import static org.assertj.core.api.Assertions.assertThat;

import io.tidings.server.testing.TidingsProcess;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** Browsers on other origins: open to all by default, or to the listed origins only. */
class CorsTest {
  private static final HttpClient HTTP = HttpClient.newHttpClient();
  private static TidingsProcess open;
  private static TidingsProcess listed;

  @BeforeAll
  static void start() throws Exception {
    open = TidingsProcess.builder().name("cors-open").memory().start();
    listed = TidingsProcess.builder().name("cors-listed").memory()
        .config("server: { allowed_origins: [\"https://app.example.com\"] }\n").start();
  }

  @AfterAll
  static void stop() {
    for (TidingsProcess p : new TidingsProcess[] {open, listed}) {
      if (p != null) {
        p.close();
      }
    }
  }

  @Test
  void anyOriginMayRead_andSeesTheValidatorsAndPollAdvice() throws Exception {
    HttpResponse<String> first = send(open, HttpRequest.newBuilder(open.uri("/v1/state?topic=cors/a"))
        .header("Origin", "https://elsewhere.example"));
    assertThat(first.statusCode()).isEqualTo(200);
    assertThat(first.headers().firstValue("access-control-allow-origin")).hasValue("*");
    assertThat(first.headers().firstValue("access-control-expose-headers").orElseThrow())
        .contains("ETag").contains("Tidings-Poll-Interval").contains("Last-Modified");
    String etag = first.headers().firstValue("etag").orElseThrow();
    HttpResponse<String> notModified = send(open, HttpRequest.newBuilder(open.uri("/v1/state?topic=cors/a"))
        .header("Origin", "https://elsewhere.example").header("If-None-Match", etag));
    assertThat(notModified.statusCode()).isEqualTo(304);
    assertThat(notModified.headers().firstValue("access-control-allow-origin")).hasValue("*");
    HttpResponse<String> error = send(open, HttpRequest.newBuilder(open.uri("/v1/state?topic=bad//topic"))
        .header("Origin", "https://elsewhere.example"));
    assertThat(error.statusCode()).isEqualTo(400);
    assertThat(error.headers().firstValue("access-control-allow-origin")).as("errors are readable too").hasValue("*");
  }

  @Test
  void noOriginMeansNoCorsHeaders() throws Exception {
    HttpResponse<String> r = send(open, HttpRequest.newBuilder(open.uri("/v1/state?topic=cors/b")));
    assertThat(r.headers().firstValue("access-control-allow-origin")).isEmpty();
  }

  @Test
  void preflightForAJsonPublishIsAnswered204() throws Exception {
    HttpResponse<String> r = send(open, HttpRequest.newBuilder(open.uri("/v1/events?topic=cors/c"))
        .method("OPTIONS", HttpRequest.BodyPublishers.noBody())
        .header("Origin", "https://elsewhere.example")
        .header("Access-Control-Request-Method", "POST")
        .header("Access-Control-Request-Headers", "content-type"));
    assertThat(r.statusCode()).isEqualTo(204);
    assertThat(r.headers().firstValue("access-control-allow-origin")).hasValue("*");
    assertThat(r.headers().firstValue("access-control-allow-methods").orElseThrow()).contains("POST");
    assertThat(r.headers().firstValue("access-control-allow-headers").orElseThrow()).containsIgnoringCase("content-type");
    assertThat(r.headers().firstValue("access-control-max-age")).isPresent();
  }

  @Test
  void aListedOriginIsEchoedWithVary_andOthersGetNoGrant() throws Exception {
    HttpResponse<String> ok = send(listed, HttpRequest.newBuilder(listed.uri("/v1/state?topic=cors/d"))
        .header("Origin", "https://app.example.com"));
    assertThat(ok.headers().firstValue("access-control-allow-origin")).hasValue("https://app.example.com");
    assertThat(ok.headers().firstValue("vary").orElseThrow()).containsIgnoringCase("origin");

    HttpResponse<String> other = send(listed, HttpRequest.newBuilder(listed.uri("/v1/state?topic=cors/d"))
        .header("Origin", "https://evil.example"));
    assertThat(other.headers().firstValue("access-control-allow-origin")).isEmpty();
    assertThat(other.headers().firstValue("vary").orElseThrow()).containsIgnoringCase("origin");

    HttpResponse<String> preflight = send(listed, HttpRequest.newBuilder(listed.uri("/v1/events?topic=cors/d"))
        .method("OPTIONS", HttpRequest.BodyPublishers.noBody())
        .header("Origin", "https://evil.example")
        .header("Access-Control-Request-Method", "POST"));
    assertThat(preflight.statusCode()).isEqualTo(403);
    assertThat(preflight.body()).contains("\"forbidden\"");
  }

  private static HttpResponse<String> send(TidingsProcess server, HttpRequest.Builder request) throws Exception {
    return HTTP.send(request.build(), HttpResponse.BodyHandlers.ofString());
  }
}
