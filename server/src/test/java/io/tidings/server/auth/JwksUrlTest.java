package io.tidings.server.auth;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.nimbusds.jose.jwk.RSAKey;
import com.sun.net.httpserver.HttpServer;
import io.tidings.server.testing.Http;
import io.tidings.server.testing.TidingsProcess;
import io.tidings.server.testing.Tokens;
import io.tidings.server.testing.Tokens.Claims;
import io.tidings.server.testing.WsClient;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;

/**
 * Keys from a JWK set URL (served here by {@code com.sun.net.httpserver}): a rotated key is picked up
 * when a token names its {@code kid}, unknown kids do not hammer the key server, and a fetch never
 * holds up the event loop. Anonymous access grants nothing on this server.
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class JwksUrlTest {
  private static final Duration WAIT = Duration.ofSeconds(30);
  private static final long MIN_REFRESH_MILLIS = 1000;
  private static final RSAKey K1 = Tokens.rsaKey("k1");
  private static final RSAKey K2 = Tokens.rsaKey("k2");
  private static final RSAKey K3 = Tokens.rsaKey("k3");
  private static final AtomicReference<String> served = new AtomicReference<>(Tokens.jwks(K1));
  private static final AtomicInteger fetches = new AtomicInteger();
  private static volatile CountDownLatch gate;
  private static volatile CountDownLatch entered;
  private static HttpServer keys;
  private static TidingsProcess server;
  private static Http http;

  @BeforeAll
  static void start() throws Exception {
    keys = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
    keys.setExecutor(java.util.concurrent.Executors.newCachedThreadPool());
    keys.createContext("/jwks.json", exchange -> {
      fetches.incrementAndGet();
      CountDownLatch g = gate;
      if (g != null) {
        entered.countDown();
        try {
          g.await(60, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
        }
      }
      byte[] body = served.get().getBytes(StandardCharsets.UTF_8);
      exchange.getResponseHeaders().add("Content-Type", "application/jwk-set+json");
      exchange.sendResponseHeaders(200, body.length);
      exchange.getResponseBody().write(body);
      exchange.close();
    });
    keys.start();
    String url = "http://127.0.0.1:" + keys.getAddress().getPort() + "/jwks.json";
    server = TidingsProcess.builder().name("auth-jwks-url").memory().config("""
        server: { event_loops: 1 }
        auth:
          jwt: { jwks: "%s", jwks_min_refresh_interval: %dms }
        """.formatted(url, MIN_REFRESH_MILLIS)).start();
    http = new Http(server);
  }

  @AfterAll
  static void stop() {
    CountDownLatch g = gate;
    if (g != null) {
      g.countDown();
    }
    if (server != null) {
      server.close();
    }
    if (keys != null) {
      keys.stop(0);
    }
  }

  private static String token(RSAKey key, String sub) {
    return Tokens.rs256(key, true, Claims.of(sub).subscribing("keys/**"));
  }

  /** The status of reading keys/a with {@code token}, retried until {@code wanted} (a key server may lag). */
  private static int eventually(String token, int wanted) throws InterruptedException {
    long deadline = System.nanoTime() + WAIT.toNanos();
    int status;
    do {
      status = http.get("/v1/state?topic=keys/a", Tokens.bearer(token)).status();
      if (status == wanted) {
        return status;
      }
      Thread.sleep(200);
    } while (System.nanoTime() < deadline);
    return status;
  }

  @Test
  @Order(1)
  void withoutCredentialsNothingIsGranted() {
    Http.Reply r = http.get("/v1/topics");
    assertThat(r.status()).isEqualTo(401);
    assertThat(r.header("www-authenticate")).isEqualTo("Bearer realm=\"tidings\"");
    assertThat(http.get("/v1/state?topic=keys/a").status()).isEqualTo(401);
  }

  @Test
  @Order(2)
  void aTokenSignedByAKeyOfTheSetIsAccepted() throws Exception {
    assertThat(eventually(token(K1, "one"), 200)).isEqualTo(200);
  }

  @Test
  @Order(3)
  void aRotatedKeyIsPickedUpByItsKid_andARemovedOneStopsVerifyingNewTokens() throws Exception {
    served.set(Tokens.jwks(K2));
    assertThat(eventually(token(K2, "two"), 200)).as("a token of the new key").isEqualTo(200);
    assertThat(http.get("/v1/state?topic=keys/a", Tokens.bearer(token(K1, "one-again"))).status())
        .as("a new token of the removed key").isEqualTo(401);
  }

  @Test
  @Order(4)
  void unknownKidsAreRateLimited() throws Exception {
    RSAKey stranger = Tokens.rsaKey("stranger");
    int before = fetches.get();
    long started = System.nanoTime();
    for (int i = 0; i < 20; i++) {
      RSAKey renamed = new RSAKey.Builder(stranger).keyID("unknown-" + i).build();
      assertThat(http.get("/v1/state?topic=keys/a", Tokens.bearer(Tokens.rs256(renamed, true, Claims.of("x")))).status())
          .isEqualTo(401);
    }
    long elapsedMillis = (System.nanoTime() - started) / 1_000_000;
    int allowed = 2 + (int) (elapsedMillis / MIN_REFRESH_MILLIS);
    assertThat(fetches.get() - before).as("fetches for 20 unknown kids in %d ms", elapsedMillis).isLessThanOrEqualTo(allowed);
  }

  @Test
  @Order(5)
  void aFetchInProgressHoldsUpOnlyTheRequestsThatWaitForIt() throws Exception {
    Thread.sleep(MIN_REFRESH_MILLIS + 200); // past the rate limit, so that the next unknown kid fetches
    entered = new CountDownLatch(1);
    gate = new CountDownLatch(1);
    served.set(Tokens.jwks(K2, K3));
    String k3 = token(K3, "three");
    CompletableFuture<Http.Reply> waiting = http.getAsync("/v1/state?topic=keys/a", Tokens.bearer(k3));
    assertThat(entered.await(30, TimeUnit.SECONDS)).as("the key server was asked").isTrue();
    try (WsClient ws = WsClient.connect(server.uri(), "", Map.of(), false)) {
      // The only event loop still answers everything else while the key server holds the fetch.
      assertThat(http.get("/healthz").status()).isEqualTo(200);
      assertThat(http.get("/v1/state?topic=keys/a", Tokens.bearer(token(K2, "two"))).status()).isEqualTo(200);
      // A WebSocket's auth op waits for the same fetch; what it sends after waits for the auth op.
      ws.send("{\"op\":\"auth\",\"id\":1,\"token\":\"" + k3 + "\"}");
      ws.send("{\"op\":\"subscribe\",\"id\":2,\"topic\":\"keys/ws\"}");
      assertThat(waiting).isNotDone();
      gate.countDown();
      gate = null;
      Http.Reply r = waiting.get(30, TimeUnit.SECONDS);
      assertThat(r.status()).as("the held request, once the set with k3 arrived: %s", r).isEqualTo(200);
      JsonNode authed = ws.next(WAIT);
      assertThat(authed.path("op").asText()).as("%s", authed).isEqualTo("authed");
      JsonNode subscribed = ws.next(WAIT);
      assertThat(subscribed.path("op").asText()).as("%s", subscribed).isEqualTo("subscribed");
    }
  }

  @Test
  @Order(6)
  void aBadAuthOpOnAConnectionWithNothingGranted_closesIt1008() throws Exception {
    try (WsClient ws = WsClient.connect(server.uri(), "", Map.of(), false)) {
      ws.send("{\"op\":\"subscribe\",\"id\":1,\"topic\":\"keys/a\"}");
      assertThat(ws.next(WAIT).path("code").asText()).isEqualTo("forbidden");
      ws.send("{\"op\":\"auth\",\"id\":2,\"token\":\"not-a-token\"}");
      JsonNode error = ws.next(WAIT);
      assertThat(error.path("code").asText()).isEqualTo("unauthorized");
      assertThat(ws.awaitClose(WAIT).code()).isEqualTo(1008);
    }
  }
}
