package io.tidings.server.outbound;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.tidings.server.http.HttpDates;
import io.vertx.core.Future;
import io.vertx.core.Handler;
import io.vertx.core.MultiMap;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpConnection;
import io.vertx.core.http.HttpServer;
import io.vertx.core.http.HttpServerOptions;
import io.vertx.core.http.HttpServerRequest;
import io.vertx.core.http.HttpServerResponse;
import io.vertx.core.net.NetServer;
import io.vertx.core.net.PemKeyCertOptions;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** Outbound POSTs against real local Vert.x servers: pinning, redirects, timeouts, bounded bodies, keep-alive, TLS. */
class OutboundClientTest {
  private static Vertx vertx;
  private static OutboundClient client;
  private final List<HttpServer> servers = new ArrayList<>();
  private final List<NetServer> netServers = new ArrayList<>();

  /** hooks.test and other.test are local names, allow-listed for plain http to this machine. */
  private static final TargetGuard GUARD = new TargetGuard(List.of("127.0.0.1", "::1"), new TargetGuardTest.TableResolver(
      Map.of("hooks.test", List.of(TargetGuardTest.ip("127.0.0.1")), "other.test", List.of(TargetGuardTest.ip("127.0.0.1")))));

  @BeforeAll
  static void startVertx() {
    vertx = Vertx.vertx();
    client = new OutboundClient(vertx, new OutboundClient.Options("Tidings-Test/1", 10_000, 4, 0));
  }

  @AfterAll
  static void stopVertx() throws Exception {
    client.close();
    await(vertx.close());
  }

  @AfterEach
  void stopServers() throws Exception {
    for (HttpServer s : servers) {
      await(s.close());
    }
    for (NetServer s : netServers) {
      await(s.close());
    }
  }

  @Test
  void post_connectsToThePinnedAddress_withTheUrlsHostHeader() throws Exception {
    AtomicReference<HttpServerRequest> seen = new AtomicReference<>();
    AtomicReference<String> body = new AtomicReference<>();
    int port = serve(req -> req.body().onSuccess(b -> {
      seen.set(req);
      body.set(b.toString());
      req.response().putHeader("X-Answer", "42").end("accepted");
    }));

    PinnedTarget target = pin("http://hooks.test:" + port + "/hooks/1?x=y");
    assertThat(target.address()).isEqualTo(TargetGuardTest.ip("127.0.0.1"));
    OutboundResponse r = await(client.post(target,
        Map.of("webhook-id", "msg_1", "Content-Type", "application/json", "Host", "evil.example", "Content-Length", "1"),
        Buffer.buffer("{\"a\":1}"), 5000));

    assertThat(r.status()).isEqualTo(200);
    assertThat(r.snippet()).isEqualTo("accepted");
    assertThat(r.headers().get("X-Answer")).isEqualTo("42");
    assertThat(r.latencyNanos()).isPositive();
    HttpServerRequest req = seen.get();
    assertThat(req.method().name()).isEqualTo("POST");
    assertThat(req.headers().get("Host")).as("the URL's host, not the address, nor the caller's").isEqualTo("hooks.test:" + port);
    assertThat(req.uri()).isEqualTo("/hooks/1?x=y");
    assertThat(req.headers().get("webhook-id")).isEqualTo("msg_1");
    assertThat(req.headers().get("Content-Type")).isEqualTo("application/json");
    assertThat(req.headers().get("User-Agent")).isEqualTo("Tidings-Test/1");
    assertThat(req.headers().get("Content-Length")).isEqualTo("7");
    assertThat(body.get()).isEqualTo("{\"a\":1}");
  }

  @Test
  void headersThatWouldBreakTheRequest_areRefused() throws Exception {
    PinnedTarget target = pin("https://hooks.test/");
    assertThatThrownBy(() -> client.post(target, Map.of("X-Evil", "a\r\nHost: other"), Buffer.buffer("{}"), 1000))
        .isInstanceOf(IllegalArgumentException.class).hasMessage("invalid header: X-Evil");
    assertThatThrownBy(() -> client.post(target, Map.of("Bad Name", "x"), Buffer.buffer("{}"), 1000))
        .isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> client.post(target, Map.of(), Buffer.buffer("{}"), 0))
        .isInstanceOf(IllegalArgumentException.class);
  }

  @Test
  void theSameUrlPinnedElsewhere_neverReusesTheOldAddresssConnection() throws Exception {
    // Two servers on one port, one per loopback family: which one answers shows where the POST went.
    int port = serve(req -> req.response().end("v4"));
    HttpServer v6 = vertx.createHttpServer().requestHandler(req -> req.response().end("v6"));
    servers.add(v6);
    await(v6.listen(port, "::1"));

    URI uri = GUARD.check("http://hooks.test:" + port + "/");
    PinnedTarget first = new PinnedTarget(uri, TargetGuardTest.ip("127.0.0.1"));
    PinnedTarget rebound = new PinnedTarget(uri, TargetGuardTest.ip("::1"));
    assertThat(await(client.post(first, Map.of(), Buffer.buffer("{}"), 15_000)).snippet()).isEqualTo("v4");
    // The connection to 127.0.0.1 is idle in the pool now; a POST pinned to ::1 must not take it.
    assertThat(await(client.post(rebound, Map.of(), Buffer.buffer("{}"), 15_000)).snippet()).isEqualTo("v6");
    assertThat(await(client.post(first, Map.of(), Buffer.buffer("{}"), 15_000)).snippet()).isEqualTo("v4");
  }

  @Test
  void post_toAnIpv6Literal_bracketsTheHostHeader() throws Exception {
    AtomicReference<String> host = new AtomicReference<>();
    HttpServer server = vertx.createHttpServer().requestHandler(req -> {
      host.set(req.headers().get("Host"));
      req.response().end();
    });
    servers.add(server);
    int port = await(server.listen(0, "::1")).actualPort();
    OutboundResponse r = await(client.post(pin("http://[::1]:" + port + "/"), Map.of(), Buffer.buffer("x"), 5000));
    assertThat(r.status()).isEqualTo(200);
    assertThat(host.get()).isEqualTo("[::1]:" + port);
  }

  @Test
  void redirects_areReturned_notFollowed() throws Exception {
    AtomicInteger redirected = new AtomicInteger();
    int elsewhere = serve(req -> {
      redirected.incrementAndGet();
      req.response().end("you followed");
    });
    int port = serve(req -> req.response().setStatusCode(req.path().equals("/302") ? 302 : 307)
        .putHeader("Location", "http://127.0.0.1:" + elsewhere + "/internal").end());

    for (int status : new int[] {302, 307}) {
      OutboundResponse r = await(client.post(pin("http://hooks.test:" + port + "/" + status), Map.of(), Buffer.buffer("{}"), 15_000));
      assertThat(r.status()).isEqualTo(status);
      assertThat(r.headers().get("Location")).isEqualTo("http://127.0.0.1:" + elsewhere + "/internal");
    }
    Thread.sleep(200);
    assertThat(redirected).as("the redirect target saw no request").hasValue(0);
  }

  @Test
  void aServerThatDoesNotAnswer_timesOut() throws Exception {
    CountDownLatch closed = new CountDownLatch(1);
    HttpServer server = vertx.createHttpServer()
        .connectionHandler(c -> c.closeHandler(v -> closed.countDown()))
        .requestHandler(req -> {
          if (req.path().equals("/fast")) {
            req.response().end("ok");
          }
          // Anything else: never answered.
        });
    servers.add(server);
    int port = await(server.listen(0, "127.0.0.1")).actualPort();

    long start = System.nanoTime();
    OutboundFailure f = failure(client.post(pin("http://hooks.test:" + port + "/"), Map.of(), Buffer.buffer("{}"), 500));
    long tookMillis = (System.nanoTime() - start) / 1_000_000;
    assertThat(f.kind()).isEqualTo(OutboundFailure.Kind.TIMEOUT);
    assertThat(f.getMessage()).isEqualTo("no response from hooks.test (127.0.0.1) within 500 ms");
    assertThat(tookMillis).isBetween(450L, 3000L);
    assertThat(closed.await(5, TimeUnit.SECONDS)).as("the abandoned connection is closed").isTrue();
    OutboundResponse after = await(client.post(pin("http://hooks.test:" + port + "/fast"), Map.of(), Buffer.buffer("{}"), 15_000));
    assertThat(after.snippet()).as("the pool recovers").isEqualTo("ok");
  }

  @Test
  void aBodyThatTrickles_isCutAtTheTimeout_withTheStatusKept() throws Exception {
    int port = serve(req -> {
      HttpServerResponse resp = req.response().setChunked(true).setStatusCode(503);
      resp.write("busy");
      long timer = vertx.setPeriodic(100, id -> resp.write("."));
      resp.closeHandler(v -> vertx.cancelTimer(timer));
    });
    long start = System.nanoTime();
    OutboundResponse r = await(client.post(pin("http://hooks.test:" + port + "/"), Map.of(), Buffer.buffer("{}"), 600));
    long tookMillis = (System.nanoTime() - start) / 1_000_000;
    assertThat(r.status()).isEqualTo(503);
    assertThat(r.snippet()).startsWith("busy.");
    assertThat(tookMillis).isBetween(550L, 3000L);
  }

  @Test
  void aRefusedConnection_isAConnectFailure() throws Exception {
    int port;
    try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getByName("127.0.0.1"))) {
      port = s.getLocalPort();
    }
    OutboundFailure f = failure(client.post(pin("http://hooks.test:" + port + "/"), Map.of(), Buffer.buffer("{}"), 15_000));
    assertThat(f.kind()).isEqualTo(OutboundFailure.Kind.CONNECT);
    assertThat(f.getMessage()).startsWith("connection to hooks.test (127.0.0.1:" + port + ") failed");
  }

  @Test
  void aConnectionClosedWithoutAnswer_isAConnectFailure_andGarbageIsAProtocolFailure() throws Exception {
    NetServer hangUp = vertx.createNetServer().connectHandler(so -> so.handler(data -> so.close()));
    netServers.add(hangUp);
    int port = await(hangUp.listen(0, "127.0.0.1")).actualPort();
    OutboundFailure f = failure(client.post(pin("http://hooks.test:" + port + "/"), Map.of(), Buffer.buffer("{}"), 15_000));
    assertThat(f.kind()).isEqualTo(OutboundFailure.Kind.CONNECT);

    NetServer garbage = vertx.createNetServer().connectHandler(so -> so.handler(data -> so.write("SSH-2.0-OpenSSH_9.6\r\n\r\n")));
    netServers.add(garbage);
    int port2 = await(garbage.listen(0, "127.0.0.1")).actualPort();
    OutboundFailure g = failure(client.post(pin("http://hooks.test:" + port2 + "/"), Map.of(), Buffer.buffer("{}"), 15_000));
    assertThat(g.kind()).as(g.toString()).isEqualTo(OutboundFailure.Kind.PROTOCOL);
  }

  @Test
  void aHugeBody_isTruncatedToTheSnippet_andItsConnectionClosed() throws Exception {
    CountDownLatch closed = new CountDownLatch(1);
    byte[] tenMegabytes = new byte[10 * 1024 * 1024];
    Arrays.fill(tenMegabytes, (byte) 'a');
    HttpServer server = vertx.createHttpServer()
        .connectionHandler(c -> c.closeHandler(v -> closed.countDown()))
        .requestHandler(req -> req.response().setStatusCode(500).end(Buffer.buffer(tenMegabytes)));
    servers.add(server);
    int port = await(server.listen(0, "127.0.0.1")).actualPort();

    long start = System.nanoTime();
    OutboundResponse r = await(client.post(pin("http://hooks.test:" + port + "/"), Map.of(), Buffer.buffer("{}"), 30_000));
    assertThat((System.nanoTime() - start) / 1_000_000).isLessThan(5000);
    assertThat(r.status()).isEqualTo(500);
    assertThat(r.snippet()).hasSize(1024).matches("a+");
    assertThat(closed.await(5, TimeUnit.SECONDS)).as("the rest of the body is not read").isTrue();
  }

  @Test
  void anEndlessChunkedBody_isCutPromptly() throws Exception {
    CountDownLatch closed = new CountDownLatch(1);
    AtomicLong written = new AtomicLong();
    Buffer chunk = Buffer.buffer("0123456789".repeat(819));
    HttpServer server = vertx.createHttpServer()
        .connectionHandler(c -> c.closeHandler(v -> closed.countDown()))
        .requestHandler(req -> {
          HttpServerResponse resp = req.response().setChunked(true);
          Runnable[] pump = new Runnable[1];
          pump[0] = () -> {
            while (!resp.closed() && !resp.writeQueueFull()) {
              resp.write(chunk);
              written.addAndGet(chunk.length());
            }
            if (!resp.closed()) {
              resp.drainHandler(v -> pump[0].run());
            }
          };
          pump[0].run();
        });
    servers.add(server);
    int port = await(server.listen(0, "127.0.0.1")).actualPort();

    long start = System.nanoTime();
    OutboundResponse r = await(client.post(pin("http://hooks.test:" + port + "/"), Map.of(), Buffer.buffer("{}"), 30_000));
    assertThat((System.nanoTime() - start) / 1_000_000).isLessThan(5000);
    assertThat(r.status()).isEqualTo(200);
    assertThat(r.snippet()).hasSize(1024).startsWith("0123456789");
    assertThat(closed.await(5, TimeUnit.SECONDS)).as("the connection is closed under the endless body").isTrue();
    long total = written.get();
    Thread.sleep(200);
    assertThat(written.get()).as("the server stopped writing").isEqualTo(total);
  }

  @Test
  void theSnippet_isLossyUtf8_withoutACutCharacterAtItsEnd() {
    byte[] euros = "€€".getBytes(StandardCharsets.UTF_8); // 6 bytes
    assertThat(OutboundClient.decode(euros, 5)).isEqualTo("€");
    assertThat(OutboundClient.decode(euros, 6)).isEqualTo("€€");
    assertThat(OutboundClient.decode(new byte[] {'o', 'k', (byte) 0xff, '!'}, 4)).isEqualTo("ok\uFFFD!");
  }

  @Test
  void keepAlive_reusesConnections_perPinnedAddressAndHost() throws Exception {
    Map<HttpConnection, Set<String>> hostsByConnection = new ConcurrentHashMap<>();
    String tenKilobytes = "x".repeat(10 * 1024); // past the snippet, within the drain: the connection stays usable
    HttpServer server = vertx.createHttpServer().requestHandler(req -> {
      hostsByConnection.computeIfAbsent(req.connection(), c -> ConcurrentHashMap.newKeySet()).add(req.headers().get("Host"));
      req.response().end(tenKilobytes);
    });
    servers.add(server);
    int port = await(server.listen(0, "127.0.0.1")).actualPort();
    PinnedTarget target = pin("http://hooks.test:" + port + "/");

    for (int i = 0; i < 30; i++) {
      OutboundResponse r = await(client.post(target, Map.of(), Buffer.buffer("{\"i\":" + i + "}"), 5000));
      assertThat(r.status()).isEqualTo(200);
      assertThat(r.snippet()).hasSize(1024);
    }
    assertThat(hostsByConnection).as("30 sequential posts share a connection or two").hasSizeLessThanOrEqualTo(2);

    List<Future<OutboundResponse>> parallel = new ArrayList<>();
    for (int i = 0; i < 20; i++) {
      parallel.add(client.post(target, Map.of(), Buffer.buffer("{}"), 15_000));
    }
    for (Future<OutboundResponse> f : parallel) {
      assertThat(await(f).status()).isEqualTo(200);
    }
    assertThat(hostsByConnection).as("at most maxConnectionsPerTarget (4)").hasSizeLessThanOrEqualTo(4);

    // Another name pinned to the same address is another pool: a connection is never shared across hosts.
    for (int i = 0; i < 3; i++) {
      await(client.post(pin("http://other.test:" + port + "/"), Map.of(), Buffer.buffer("{}"), 15_000));
    }
    assertThat(hostsByConnection.values()).allSatisfy(hosts -> assertThat(hosts).hasSize(1));
    assertThat(hostsByConnection.values()).anySatisfy(hosts -> assertThat(hosts).containsExactly("other.test:" + port));
  }

  @Test
  void posts_workFromAnEventLoop() throws Exception {
    int port = serve(req -> req.response().end("ok"));
    PinnedTarget target = pin("http://hooks.test:" + port + "/");
    CountDownLatch done = new CountDownLatch(1);
    AtomicReference<String> snippet = new AtomicReference<>();
    vertx.runOnContext(v -> client.post(target, Map.of(), Buffer.buffer("{}"), 15_000).onComplete(ar -> {
      snippet.set(ar.succeeded() ? ar.result().snippet() : ar.cause().toString());
      done.countDown();
    }));
    assertThat(done.await(10, TimeUnit.SECONDS)).isTrue();
    assertThat(snippet).hasValue("ok");
  }

  @Test
  void retryAfter_secondsOrHttpDate() throws Exception {
    long now = 1_800_000_000_000L;
    assertThat(retryAfter("120", now)).isEqualTo(120_000);
    assertThat(retryAfter(" 5 ", now)).isEqualTo(5_000);
    assertThat(retryAfter("0", now)).isZero();
    assertThat(retryAfter(HttpDates.format(now + 30_000), now)).isEqualTo(30_000);
    assertThat(retryAfter(HttpDates.format(now - 30_000), now)).as("a date already past").isZero();
    assertThat(retryAfter("Sunday, 06-Nov-94 08:49:37 GMT", 784_111_777_000L - 7_000)).isEqualTo(7_000);
    assertThat(retryAfter("Sun Nov  6 08:49:37 1994", 784_111_777_000L - 9_000)).isEqualTo(9_000);
    assertThat(retryAfter("99999999999999999999", now)).isEqualTo(Long.MAX_VALUE / 1000 * 1000);
    for (String garbage : new String[] {"soon", "-5", "1.5", "", "5s", "Mon, 32 Nov 2026 10:00:00 GMT", "0x10"}) {
      assertThat(retryAfter(garbage, now)).as(garbage).isEqualTo(-1);
    }
    assertThat(new OutboundResponse(503, MultiMap.caseInsensitiveMultiMap(), "", 1).retryAfterMillis(now)).isEqualTo(-1);

    int port = serve(req -> req.response().setStatusCode(429).putHeader("Retry-After", "7").end());
    OutboundResponse r = await(client.post(pin("http://hooks.test:" + port + "/"), Map.of(), Buffer.buffer("{}"), 15_000));
    assertThat(r.status()).isEqualTo(429);
    assertThat(r.headers().get("Retry-After")).as(r.headers().toString()).isEqualTo("7");
    assertThat(r.retryAfterMillis(System.currentTimeMillis())).isEqualTo(7_000);
  }

  @Test
  void tls_verifiesTheUrlsHost_andSendsItAsServerName() throws Exception {
    Path dir = Files.createTempDirectory("tidings-outbound-tls-");
    io.tidings.server.testing.SelfSignedCert.write(dir, "hooks.test", "DNS:hooks.test");

    AtomicReference<String> sni = new AtomicReference<>();
    AtomicReference<String> host = new AtomicReference<>();
    HttpServer server = vertx.createHttpServer(new HttpServerOptions().setSsl(true).setSni(true)
            .setKeyCertOptions(new PemKeyCertOptions().setCertPath(dir.resolve("cert.pem").toString())
                .setKeyPath(dir.resolve("key.pem").toString())))
        .requestHandler(req -> {
          sni.set(req.connection().indicatedServerName());
          host.set(req.headers().get("Host"));
          req.response().end("secure");
        });
    servers.add(server);
    int port = await(server.listen(0, "127.0.0.1")).actualPort();

    OutboundClient trusting = new OutboundClient(vertx,
        new OutboundClient.Options("Tidings-Test/1", 10_000, 4, 0, dir.resolve("cert.pem").toString()));
    try {
      OutboundResponse r = await(trusting.post(pin("https://hooks.test:" + port + "/"), Map.of(), Buffer.buffer("{}"), 15_000));
      assertThat(r.status()).isEqualTo(200);
      assertThat(r.snippet()).isEqualTo("secure");
      assertThat(sni).as("TLS server name").hasValue("hooks.test");
      assertThat(host).hasValue("hooks.test:" + port);

      // The certificate is checked against the URL's host, not the address connected to.
      OutboundFailure mismatch = failure(trusting.post(pin("https://other.test:" + port + "/"), Map.of(), Buffer.buffer("{}"), 15_000));
      assertThat(mismatch.kind()).isEqualTo(OutboundFailure.Kind.TLS);
      assertThat(mismatch.getMessage()).startsWith("TLS with other.test (127.0.0.1:" + port + ") failed");
    } finally {
      trusting.close();
    }
    // The default client trusts the JDK's CAs only.
    OutboundFailure untrusted = failure(client.post(pin("https://hooks.test:" + port + "/"), Map.of(), Buffer.buffer("{}"), 15_000));
    assertThat(untrusted.kind()).isEqualTo(OutboundFailure.Kind.TLS);
  }

  private static long retryAfter(String value, long now) {
    return new OutboundResponse(503, MultiMap.caseInsensitiveMultiMap().add("Retry-After", value), "", 1)
        .retryAfterMillis(now);
  }

  private int serve(Handler<HttpServerRequest> handler) throws Exception {
    HttpServer server = vertx.createHttpServer().requestHandler(handler);
    servers.add(server);
    return await(server.listen(0, "127.0.0.1")).actualPort();
  }

  private static PinnedTarget pin(String url) throws Exception {
    URI uri = GUARD.check(url);
    return GUARD.pin(uri).toCompletableFuture().get(10, TimeUnit.SECONDS);
  }

  private static <T> T await(Future<T> future) throws Exception {
    return future.toCompletionStage().toCompletableFuture().get(60, TimeUnit.SECONDS);
  }

  private static OutboundFailure failure(Future<?> future) throws Exception {
    try {
      Object result = await(future);
      throw new AssertionError("expected a failure, got " + result);
    } catch (ExecutionException e) {
      assertThat(e.getCause()).isInstanceOf(OutboundFailure.class);
      return (OutboundFailure) e.getCause();
    }
  }
}
