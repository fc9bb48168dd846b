package io.tidings.client;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import com.fasterxml.jackson.databind.node.IntNode;
import com.sun.net.httpserver.HttpServer;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.ZoneOffset;
import java.time.ZonedDateTime;
import java.time.format.DateTimeFormatter;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Answers a real Tidings server gives only under load or with auth configured (503 with
 * Retry-After, a bearer token, non-JSON errors from a proxy), from a stub HTTP server.
 */
class ErrorMappingTest {
  private HttpServer stub;
  private final AtomicReference<String> authorization = new AtomicReference<>();
  private volatile int status;
  private volatile String body;
  private volatile String retryAfter;

  @BeforeEach
  void start() throws Exception {
    stub = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
    stub.createContext("/", exchange -> {
      authorization.set(exchange.getRequestHeaders().getFirst("Authorization"));
      exchange.getRequestBody().readAllBytes();
      if (retryAfter != null) {
        exchange.getResponseHeaders().add("Retry-After", retryAfter);
      }
      byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
      exchange.sendResponseHeaders(status, bytes.length == 0 ? -1 : bytes.length);
      if (bytes.length > 0) {
        exchange.getResponseBody().write(bytes);
      }
      exchange.close();
    });
    stub.start();
  }

  @AfterEach
  void stop() {
    stub.stop(0);
  }

  private TidingsClient client(String token) {
    URI uri = URI.create("http://127.0.0.1:" + stub.getAddress().getPort());
    return TidingsClient.builder(uri).token(token).requestTimeout(Duration.ofSeconds(5)).build();
  }

  @Test
  void unavailableCarriesRetryAfterSeconds() {
    status = 503;
    body = "{\"error\":{\"code\":\"unavailable\",\"message\":\"store unreachable\"}}";
    retryAfter = "2";
    try (TidingsClient client = client(null)) {
      TidingsException e = catchThrowableOfType(TidingsException.class, () -> client.state("t"));
      assertThat(e.status()).isEqualTo(503);
      assertThat(e.code()).isEqualTo("unavailable");
      assertThat(e.getMessage()).isEqualTo("store unreachable");
      assertThat(e.retryAfter()).isEqualTo(Duration.ofSeconds(2));
    }
  }

  @Test
  void retryAfterAsAnHttpDate() {
    status = 429;
    body = "{\"error\":{\"code\":\"rate_limited\",\"message\":\"slow down\"}}";
    retryAfter = DateTimeFormatter.RFC_1123_DATE_TIME.format(ZonedDateTime.now(ZoneOffset.UTC).plusSeconds(30));
    try (TidingsClient client = client(null)) {
      TidingsException e = catchThrowableOfType(TidingsException.class,
          () -> client.publish("t", NewEvent.message(IntNode.valueOf(1))));
      assertThat(e.status()).isEqualTo(429);
      assertThat(e.code()).isEqualTo("rate_limited");
      assertThat(e.retryAfter()).isBetween(Duration.ofSeconds(20), Duration.ofSeconds(31));
    }
  }

  @Test
  void sendsTheBearerToken() {
    status = 200;
    body = "{\"topic\":\"t\",\"cursor\":\"e.0\",\"entries\":[]}";
    retryAfter = null;
    try (TidingsClient client = client("tk_secret")) {
      assertThat(client.state("t").entries()).isEmpty();
      assertThat(authorization.get()).isEqualTo("Bearer tk_secret");
    }
    try (TidingsClient client = client(null)) {
      client.state("t");
      assertThat(authorization.get()).isNull();
    }
  }

  @Test
  void aNonJsonErrorStillHasAStatusAndCode() {
    status = 502;
    body = "<html>Bad Gateway</html>";
    retryAfter = null;
    try (TidingsClient client = client(null)) {
      TidingsException e = catchThrowableOfType(TidingsException.class, () -> client.topics());
      assertThat(e.status()).isEqualTo(502);
      assertThat(e.code()).isEqualTo("http_502");
      assertThat(e.retryAfter()).isNull();
    }
  }

  @Test
  void noServerIsAnIoError() throws Exception {
    int port;
    try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      port = s.getLocalPort();
    }
    try (TidingsClient client = TidingsClient.builder(URI.create("http://127.0.0.1:" + port)).build()) {
      TidingsException e = catchThrowableOfType(TidingsException.class, () -> client.state("t"));
      assertThat(e.status()).isZero();
      assertThat(e.code()).isEqualTo("io_error");
    }
  }

  @Test
  void expiredCursorReadsStateUrlFromEitherPlace() {
    status = 410;
    body = "{\"error\":{\"code\":\"cursor_expired\",\"message\":\"gone\",\"state_url\":\"/v1/state?topic=t\"}}";
    retryAfter = null;
    try (TidingsClient client = client(null)) {
      CursorExpiredException e = catchThrowableOfType(CursorExpiredException.class, () -> client.changes("t", "x.1", 1));
      assertThat(e.stateUrl()).isEqualTo("/v1/state?topic=t");
      assertThat(e.getMessage()).isEqualTo("gone");
    }
  }
}
