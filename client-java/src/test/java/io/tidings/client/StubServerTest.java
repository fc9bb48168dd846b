package io.tidings.client;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import io.tidings.server.testing.TidingsProcess;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Consumer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * What a local server does not do on demand (429 with Retry-After, a given poll advice, an SSE
 * stream that ends with a retry, WebSocket close codes, a proxy refusing transports), from stubs.
 */
class StubServerTest {
  private static final Duration WAIT = Duration.ofSeconds(20);
  private static final String EVENT = "{\"topic\":\"t\",\"offset\":%d,\"cursor\":\"ep.%d\",\"type\":\"message\",\"data\":%d,\"time\":\"2026-11-28T10:00:00.000Z\"}";
  private HttpServer stub;
  private final List<Long> times = new CopyOnWriteArrayList<>();
  private final List<String> paths = new CopyOnWriteArrayList<>();

  @AfterEach
  void stop() {
    if (stub != null) {
      stub.stop(0);
    }
  }

  private URI start(Consumer<HttpExchange> handler) throws IOException {
    stub = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
    stub.createContext("/", exchange -> {
      times.add(System.nanoTime());
      paths.add(exchange.getRequestURI().toString());
      try {
        handler.accept(exchange);
      } finally {
        exchange.close();
      }
    });
    stub.setExecutor(java.util.concurrent.Executors.newCachedThreadPool());
    stub.start();
    return URI.create("http://127.0.0.1:" + stub.getAddress().getPort());
  }

  private static void send(HttpExchange x, int status, String body, String... headers) {
    try {
      for (int i = 0; i < headers.length; i += 2) {
        x.getResponseHeaders().add(headers[i], headers[i + 1]);
      }
      byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
      x.sendResponseHeaders(status, bytes.length == 0 ? -1 : bytes.length);
      if (bytes.length > 0) {
        x.getResponseBody().write(bytes);
      }
    } catch (IOException e) {
      throw new java.io.UncheckedIOException(e);
    }
  }

  private static String changes(int from, int to) {
    List<String> events = new ArrayList<>();
    for (int i = from; i <= to; i++) {
      events.add(String.format(EVENT, i, i, i));
    }
    return "{\"topic\":\"t\",\"events\":[" + String.join(",", events) + "],\"cursor\":\"ep." + to + "\",\"more\":false}";
  }

  private long gapMillis(int i) {
    return (times.get(i) - times.get(i - 1)) / 1_000_000;
  }

  @Test
  void pollingBacksOffOn429AsRetryAfterSays() throws Exception {
    AtomicInteger n = new AtomicInteger();
    URI uri = start(x -> {
      int i = n.incrementAndGet();
      if (i <= 2) {
        send(x, 429, "{\"error\":{\"code\":\"rate_limited\",\"message\":\"slow down\"}}", "Retry-After", "1");
      } else if (i == 3) {
        send(x, 200, changes(1, 2), "Content-Type", "application/json", "Tidings-Poll-Interval", "0.05");
      } else {
        send(x, 304, "", "Tidings-Poll-Interval", "0.05");
      }
    });
    Recorder r = new Recorder();
    SubscribeOptions options = SubscribeOptions.builder().transports(Transport.POLL)
        .backoff(Duration.ofMillis(10), Duration.ofMillis(20))
        .pollInterval(Duration.ofMillis(300), Duration.ofSeconds(5))
        .build();
    try (TidingsClient client = TidingsClient.builder(uri).build();
        Subscription sub = client.subscribe(List.of("t"), "earliest", options, r)) {
      await().atMost(WAIT).until(() -> r.events.size() == 2 && times.size() >= 6);
      assertThat(sub.transport()).isEqualTo(Transport.POLL);
    }
    // Retry-After (1 s) wins over the tiny backoff; the advice (0.05 s) is raised to the minimum.
    assertThat(gapMillis(1)).isGreaterThanOrEqualTo(990);
    assertThat(gapMillis(2)).isGreaterThanOrEqualTo(990);
    assertThat(gapMillis(4)).isGreaterThanOrEqualTo(290);
    assertThat(gapMillis(5)).isGreaterThanOrEqualTo(290);
    assertThat(paths.get(3)).contains("since=ep.2");
    assertThat(r.offsets("t")).containsExactly(1L, 2L);
  }

  @Test
  void aPollSendsItsCursorAsIfNoneMatch() throws Exception {
    List<String> tags = new CopyOnWriteArrayList<>();
    URI uri = start(x -> {
      tags.add(String.valueOf(x.getRequestHeaders().getFirst("If-None-Match")));
      send(x, 304, "", "Tidings-Poll-Interval", "0.1");
    });
    SubscribeOptions options = SubscribeOptions.builder().transports(Transport.POLL)
        .pollInterval(Duration.ofMillis(50), Duration.ofMillis(100)).build();
    try (TidingsClient client = TidingsClient.builder(uri).build();
        Subscription sub = client.subscribe(List.of("t"), "ep.7", options, new Recorder())) {
      await().atMost(WAIT).until(() -> tags.size() >= 2);
      assertThat(sub.cursor("t")).isEqualTo("ep.7");
    }
    assertThat(tags.get(0)).isEqualTo("\"ep.7\"");
  }

  @Test
  void sseWaitsForTheServersRetryBeforeComingBack() throws Exception {
    AtomicInteger n = new AtomicInteger();
    URI uri = start(x -> {
      int i = n.incrementAndGet();
      String body = "retry: 1500\n\nid: ep.0\nevent: subscribed\ndata: {\"topics\":[\"t\"],\"cursor\":\"ep.0\"}\n\n"
          + (i == 1 ? "id: ep.1\nevent: message\ndata: " + String.format(EVENT, 1, 1, 1) + "\n\n" : "");
      send(x, 200, body, "Content-Type", "text/event-stream");
    });
    Recorder r = new Recorder();
    SubscribeOptions options = SubscribeOptions.builder().transports(Transport.SSE)
        .backoff(Duration.ofMillis(10), Duration.ofMillis(20)).build();
    try (TidingsClient client = TidingsClient.builder(uri).build();
        Subscription sub = client.subscribe(List.of("t"), "earliest", options, r)) {
      await().atMost(WAIT).until(() -> times.size() >= 3);
      assertThat(sub.cursor("t")).isEqualTo("ep.1");
    }
    assertThat(gapMillis(1)).isGreaterThanOrEqualTo(1450);
    assertThat(gapMillis(2)).isGreaterThanOrEqualTo(1450);
    assertThat(paths.get(0)).contains("since=earliest");
    assertThat(paths.get(1)).contains("since=ep.1");
    assertThat(r.offsets("t")).containsExactly(1L);
  }

  private volatile boolean flappingProxy;

  @Test
  void aProxyCuttingHeldRequestsLeavesPollingAfterAFewTries() throws Exception {
    flappingProxy = true;
    aProxyRefusingWebSocketSseAndHeldRequestsLeavesPolling();
    assertThat(paths.stream().filter(p -> p.contains("wait=")).count()).isEqualTo(SubscriptionImpl.MAX_FLAPS);
  }

  @Test
  void aProxyRefusingWebSocketSseAndHeldRequestsLeavesPolling() throws Exception {
    try (TidingsProcess server = TidingsProcess.builder().name("client-stub-proxy").memory().start();
        TidingsClient direct = TidingsClient.builder(server.uri()).build()) {
      HttpClient forward = HttpClient.newHttpClient();
      URI proxy = start(x -> {
        String path = x.getRequestURI().toString();
        if (path.startsWith("/v1/ws") || path.startsWith("/v1/sse")) {
          send(x, 403, "<html>Forbidden by policy</html>", "Content-Type", "text/html");
        } else if (path.contains("wait=")) {
          // a proxy that cuts held requests
          send(x, flappingProxy ? 502 : 501, "");
        } else {
          try {
            HttpResponse<byte[]> r = forward.send(HttpRequest.newBuilder(server.uri(path)).build(), HttpResponse.BodyHandlers.ofByteArray());
            x.getResponseHeaders().add("Content-Type", "application/json");
            r.headers().firstValue("Tidings-Poll-Interval").ifPresent(v -> x.getResponseHeaders().add("Tidings-Poll-Interval", v));
            x.sendResponseHeaders(r.statusCode(), r.body().length == 0 ? -1 : r.body().length);
            if (r.body().length > 0) {
              x.getResponseBody().write(r.body());
            }
          } catch (IOException | InterruptedException e) {
            send(x, 502, "");
          }
        }
      });
      String t = SubscribeTest.topic("proxied");
      SubscribeTest.publish(direct, t, 1, 3);
      Recorder r = new Recorder();
      SubscribeOptions options = SubscribeOptions.builder()
          .backoff(Duration.ofMillis(10), Duration.ofMillis(100))
          .pollInterval(Duration.ofMillis(100), Duration.ofMillis(200)).build();
      try (TidingsClient client = TidingsClient.builder(proxy).build();
          Subscription sub = client.subscribe(List.of(t), "earliest", options, r)) {
        try {
          await().atMost(WAIT).until(() -> sub.transport() == Transport.POLL && r.events.size() == 3);
        } catch (Throwable e) {
          throw new AssertionError("statuses " + r.statuses + " paths " + paths + " events " + r.events.size(), e);
        }
        SubscribeTest.publish(direct, t, 4, 5);
        await().atMost(WAIT).until(() -> r.events.size() == 5);
        assertThat(r.offsets(t)).containsExactlyElementsOf(Recorder.range(1, 5));
      }
      assertThat(paths.get(0)).startsWith("/v1/ws");
      assertThat(paths.get(1)).startsWith("/v1/sse");
      assertThat(paths).anyMatch(p -> p.startsWith("/v1/changes") && p.contains("wait="));
    }
  }

  // ---- WebSocket close codes, from a minimal WebSocket server

  /** Accepts WebSocket handshakes and closes each connection with {@code code}. */
  private static final class ClosingWsServer implements AutoCloseable {
    final ServerSocket socket;
    final AtomicInteger connections = new AtomicInteger();
    final Thread thread;

    ClosingWsServer(int code) throws IOException {
      socket = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
      thread = new Thread(() -> {
        while (!socket.isClosed()) {
          try (Socket s = socket.accept()) {
            connections.incrementAndGet();
            handshake(s);
            OutputStream out = s.getOutputStream();
            byte[] reason = "go".getBytes(StandardCharsets.US_ASCII);
            out.write(new byte[] {(byte) 0x88, (byte) (2 + reason.length), (byte) (code >> 8), (byte) code});
            out.write(reason);
            out.flush();
            s.setSoTimeout(2000);
            try {
              s.getInputStream().read(new byte[256]); // the client's close frame
            } catch (IOException ignored) {
              // gone
            }
          } catch (Exception e) {
            // closed
          }
        }
      }, "ws-stub");
      thread.setDaemon(true);
      thread.start();
    }

    private static void handshake(Socket s) throws Exception {
      InputStream in = s.getInputStream();
      StringBuilder head = new StringBuilder();
      while (!head.toString().endsWith("\r\n\r\n")) {
        int c = in.read();
        if (c < 0) {
          throw new IOException("eof");
        }
        head.append((char) c);
      }
      String key = null;
      for (String line : head.toString().split("\r\n")) {
        if (line.toLowerCase().startsWith("sec-websocket-key:")) {
          key = line.substring(line.indexOf(':') + 1).trim();
        }
      }
      String accept = Base64.getEncoder().encodeToString(MessageDigest.getInstance("SHA-1")
          .digest((key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").getBytes(StandardCharsets.US_ASCII)));
      s.getOutputStream().write(("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
          + "Sec-WebSocket-Accept: " + accept + "\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
    }

    URI uri() {
      return URI.create("http://127.0.0.1:" + socket.getLocalPort());
    }

    @Override
    public void close() throws IOException {
      socket.close();
    }
  }

  private static SubscribeOptions wsOnly() {
    return SubscribeOptions.builder().transports(Transport.WS)
        .backoff(Duration.ofMillis(10), Duration.ofMillis(50)).build();
  }

  @Test
  void close1008StopsAndReportsAnAuthError() throws Exception {
    Recorder r = new Recorder();
    try (ClosingWsServer ws = new ClosingWsServer(1008);
        TidingsClient client = TidingsClient.builder(ws.uri()).build();
        Subscription sub = client.subscribe(List.of("t"), "now", wsOnly(), r)) {
      await().atMost(WAIT).until(() -> sub.status() == Subscription.Status.CLOSED);
      assertThat(r.errors).hasSize(1);
      assertThat(r.errors.get(0).code()).isEqualTo("unauthorized");
      assertThat(sub.failure()).isSameAs(r.errors.get(0));
      Thread.sleep(500);
      assertThat(ws.connections.get()).isEqualTo(1);
    }
  }

  @Test
  void closeCodesThatAskForAReconnectGetOne() throws Exception {
    for (int code : new int[] {1012, 4008, 4029, 1001}) {
      Recorder r = new Recorder();
      try (ClosingWsServer ws = new ClosingWsServer(code);
          TidingsClient client = TidingsClient.builder(ws.uri()).build();
          Subscription sub = client.subscribe(List.of("t"), "now", wsOnly(), r)) {
        await().atMost(WAIT).until(() -> ws.connections.get() >= 3);
        assertThat(sub.status()).as("after %d", code).isNotEqualTo(Subscription.Status.CLOSED);
        assertThat(r.errors).isEmpty();
        assertThat(r.statuses).anyMatch(s -> s.contains("closed " + code));
      }
    }
  }
}
