package io.tidings.server.http2;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import io.tidings.server.testing.Http;
import io.tidings.server.testing.Nghttp;
import io.tidings.server.testing.TidingsProcess;
import io.tidings.server.testing.Tokens;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * HTTP/2 server push of {@code GET /v1/state?topic=A&push=B,C} (and {@code &bundle=}), seen by
 * {@code nghttp}, an independent HTTP/2 client, over h2c with prior knowledge and over TLS with
 * ALPN: the promises, the pushed responses (the same as direct polls), grants, limits, bad lists,
 * and a client that turns pushes off.
 */
class Http2PushTest {
  private static final String READER_KEY = "tk_reader_1f2e3d4c5b6a79880f1e2d3c4b5a6978";
  private static final String WRITER_KEY = "tk_writer_8a7b6c5d4e3f20118a7b6c5d4e3f2011";

  private static TidingsProcess open;
  private static TidingsProcess secured;
  private static TidingsProcess limited;

  @BeforeAll
  static void start() throws Exception {
    open = TidingsProcess.builder().name("h2push-open").memory().config("""
        pull:
          push_bundles:
            dashboard: [dash/a, dash/b]
        """).start();
    limited = TidingsProcess.builder().name("h2push-limited").memory().config("""
        pull:
          poll_interval: { min: 20s, max: 30s }
        limits:
          rate: { polls_per_second: 0.01, burst: 500 }
          poll_advice_factor: 1
        """).start();
    Path dir = Files.createTempDirectory("tidings-h2push-tls-");
    makeCertificate(dir);
    Files.writeString(dir.resolve("tidings.yaml"), """
        server: { tls: { cert: cert.pem, key: key.pem } }
        auth:
          api_keys:
            - { name: writer, sha256: "%s", publish: ["**"], subscribe: ["**"] }
            - { name: reader, sha256: "%s", subscribe: ["team/**", "public/**"] }
          anonymous: { subscribe: ["public/**"] }
        """.formatted(Tokens.sha256Hex(WRITER_KEY), Tokens.sha256Hex(READER_KEY)));
    secured = TidingsProcess.builder().name("h2push-tls").memory()
        .args("--config", dir.resolve("tidings.yaml").toString()).start();
  }

  @AfterAll
  static void stop() {
    for (TidingsProcess p : new TidingsProcess[] {open, secured, limited}) {
      if (p != null) {
        p.close();
      }
    }
  }

  @Test
  void pushesTheStateOfEachCompanionOnce_asADirectPollAnswersIt() throws Exception {
    Http http = new Http(open);
    for (String t : List.of("h2/a", "h2/b", "h2/c")) {
      http.publishOk(t, "[{\"type\":\"put\",\"key\":\"k1\",\"data\":{\"topic\":\"" + t + "\"}},"
          + "{\"type\":\"put\",\"key\":\"k2\",\"data\":[1,2,3]}]");
    }
    String authority = open.uri().getHost() + ":" + open.uri().getPort();

    Nghttp.Transcript t = Nghttp.get(open.uri("/v1/state?topic=h2/a&push=h2/b,h2/c,h2/b,h2/a").toString());

    assertThat(t.exitCode()).as(t.log()).isZero();
    assertThat(t.promisedPaths()).as("each companion once, never the polled topic itself")
        .containsExactly("/v1/state?topic=h2/b", "/v1/state?topic=h2/c");
    int main = t.requestStream();
    assertThat(t.response(main).status()).isEqualTo(200);
    assertThat(Http.JSON.readTree(t.bodies().get(main))).isEqualTo(http.getOk("/v1/state?topic=h2/a"));
    for (Nghttp.Promise p : t.promises()) {
      assertThat(p.stream()).isEqualTo(main);
      assertThat(p.promised() % 2).as("server-initiated streams are even").isZero();
      assertThat(p.headers()).containsEntry(":method", "GET").containsEntry(":scheme", "http")
          .containsEntry(":authority", authority);
      Nghttp.Block pushed = t.response(p.promised());
      Http.Reply direct = http.get(p.path());
      assertThat(pushed.status()).isEqualTo(200);
      assertThat(Http.JSON.readTree(t.bodies().get(p.promised()))).as("pushed %s", p.path()).isEqualTo(direct.json());
      assertThat(Http.JSON.readTree(t.bodies().get(p.promised())).get("entries")).hasSize(2);
      assertThat(pushed.first("etag")).isEqualTo(direct.header("etag"));
      assertThat(pushed.first("cache-control")).isEqualTo(direct.header("cache-control")).isEqualTo("no-cache");
      assertThat(pushed.first("last-modified")).isEqualTo(direct.header("last-modified"));
      assertThat(pushed.first("content-type")).isEqualTo("application/json");
      assertThat(Double.parseDouble(pushed.first("tidings-poll-interval"))).isPositive();
    }
  }

  @Test
  void bundleFromConfig_isPushed_andAnUnknownOneIsRefused() throws Exception {
    Http http = new Http(open);
    http.publishOk("dash/a", "{\"type\":\"put\",\"key\":\"score\",\"data\":1}");
    http.publishOk("dash/b", "{\"type\":\"put\",\"key\":\"score\",\"data\":2}");

    Nghttp.Transcript t = Nghttp.get(open.uri("/v1/state?topic=dash/a&bundle=dashboard&push=h2/x").toString());
    assertThat(t.response(t.requestStream()).status()).isEqualTo(200);
    assertThat(t.promisedPaths()).containsExactly("/v1/state?topic=h2/x", "/v1/state?topic=dash/b");
    JsonNode b = Http.JSON.readTree(t.bodies().get(t.promise("/v1/state?topic=dash/b").promised()));
    assertThat(b.at("/entries/0/data").asInt()).isEqualTo(2);
    JsonNode x = Http.JSON.readTree(t.bodies().get(t.promise("/v1/state?topic=h2/x").promised()));
    assertThat(x.get("entries")).as("an unknown topic is an empty state, as a direct poll says").isEmpty();

    Nghttp.Transcript unknown = Nghttp.get(open.uri("/v1/state?topic=dash/a&bundle=nope").toString());
    assertThat(unknown.response(unknown.requestStream()).status()).isEqualTo(400);
    assertThat(Http.JSON.readTree(unknown.bodies().get(unknown.requestStream())).at("/error/code").asText())
        .isEqualTo("invalid_parameter");
    assertThat(unknown.promises()).isEmpty();
  }

  @Test
  void badPushList_is400_andNothingIsPushedOrHinted() throws Exception {
    List<String> many = new ArrayList<>();
    for (int i = 0; i < 17; i++) {
      many.add("many/" + i);
    }
    for (String[] c : new String[][] {
        {"push=h2/b,,h2/c", "invalid_topic"},
        {"push=h2/b,a//b", "invalid_topic"},
        {"push=h2/b,/lead", "invalid_topic"},
        {"push=" + String.join(",", many), "invalid_parameter"}}) {
      Nghttp.Transcript t = Nghttp.get(open.uri("/v1/state?topic=h2/a&" + c[0]).toString());
      int main = t.requestStream();
      assertThat(t.blocks(main)).as(c[0]).hasSize(1);
      assertThat(t.response(main).status()).as(c[0]).isEqualTo(400);
      assertThat(Http.JSON.readTree(t.bodies().get(main)).at("/error/code").asText()).as(c[0]).isEqualTo(c[1]);
      assertThat(t.promises()).as(c[0]).isEmpty();
    }
    // Sixteen is the default bound, and fine.
    Nghttp.Transcript t = Nghttp.get(open.uri("/v1/state?topic=h2/a&push=" + String.join(",", many.subList(0, 16))).toString());
    assertThat(t.response(t.requestStream()).status()).isEqualTo(200);
    assertThat(t.promises()).hasSize(16);
  }

  @Test
  void clientThatDisablesPush_getsTheResponseAlone() throws Exception {
    Http http = new Http(open);
    http.publishOk("np/a", "{\"type\":\"put\",\"key\":\"k\",\"data\":\"a\"}");

    Nghttp.Transcript t = Nghttp.get(open.uri("/v1/state?topic=np/a&push=np/b,np/c").toString(), "--no-push");

    assertThat(t.exitCode()).as(t.log()).isZero();
    assertThat(t.log()).contains("SETTINGS_ENABLE_PUSH(0x02):0");
    assertThat(t.promises()).isEmpty();
    int main = t.requestStream();
    assertThat(t.blocks()).allSatisfy(b -> assertThat(b.stream()).isEqualTo(main));
    assertThat(t.response(main).status()).isEqualTo(200);
    assertThat(Http.JSON.readTree(t.bodies().get(main))).isEqualTo(http.getOk("/v1/state?topic=np/a"));
  }

  @Test
  void overTls_pushesOnlyWhatThePrincipalMayRead() throws Exception {
    String base = secured.uri().toString().replaceFirst("^http:", "https:");
    String authority = secured.uri().getHost() + ":" + secured.uri().getPort();
    String[] writer = {"-H", "authorization: Bearer " + WRITER_KEY};
    String[] reader = {"-H", "authorization: Bearer " + READER_KEY};
    for (String topic : List.of("team/main", "team/x", "secret/y", "public/z")) {
      Nghttp.Transcript published = Nghttp.get(base + "/v1/events?topic=" + topic, concat(writer,
          "-H", "content-type: application/json", "-d", dataFile("{\"type\":\"put\",\"key\":\"k\",\"data\":\"" + topic + "\"}")));
      assertThat(published.response(published.requestStream()).status()).as(published.log()).isEqualTo(201);
    }

    Nghttp.Transcript t = Nghttp.get(base + "/v1/state?topic=team/main&push=team/x,secret/y,public/z", reader);
    assertThat(t.log()).as("h2 negotiated with ALPN").contains("The negotiated protocol: h2");
    int main = t.requestStream();
    assertThat(t.response(main).status()).isEqualTo(200);
    assertThat(t.promisedPaths()).as("secret/y is not granted: left out, not an error")
        .containsExactly("/v1/state?topic=team/x", "/v1/state?topic=public/z");
    assertThat(t.promise("/v1/state?topic=team/x").headers()).containsEntry(":scheme", "https")
        .containsEntry(":authority", authority);
    assertThat(t.blocks(main).get(0).status()).isEqualTo(103);
    assertThat(t.blocks(main).get(0).all("link")).as("a browser preloads without the token: only public topics are hinted")
        .containsExactly("</v1/state?topic=public/z>; rel=preload; as=fetch; crossorigin");
    for (Nghttp.Promise p : t.promises()) {
      Nghttp.Transcript direct = Nghttp.get(base + p.path(), reader);
      Nghttp.Block directHead = direct.response(direct.requestStream());
      Nghttp.Block pushed = t.response(p.promised());
      assertThat(Http.JSON.readTree(t.bodies().get(p.promised())))
          .isEqualTo(Http.JSON.readTree(direct.bodies().get(direct.requestStream())));
      assertThat(pushed.first("etag")).isEqualTo(directHead.first("etag"));
      assertThat(pushed.first("cache-control")).isEqualTo(directHead.first("cache-control"));
      assertThat(pushed.all("vary")).isEqualTo(directHead.all("vary"));
    }
    assertThat(t.response(t.promise("/v1/state?topic=team/x").promised()).first("cache-control"))
        .isEqualTo("private, no-cache");

    Nghttp.Transcript anonymous = Nghttp.get(base + "/v1/state?topic=public/z&push=team/x");
    assertThat(anonymous.response(anonymous.requestStream()).status()).isEqualTo(200);
    assertThat(anonymous.promises()).isEmpty();
    assertThat(anonymous.blocks(anonymous.requestStream())).hasSize(1);

    Nghttp.Transcript forbidden = Nghttp.get(base + "/v1/state?topic=secret/y&push=public/z", reader);
    assertThat(forbidden.response(forbidden.requestStream()).status()).isEqualTo(403);
    assertThat(forbidden.promises()).isEmpty();
    assertThat(forbidden.blocks(forbidden.requestStream())).hasSize(1);
  }

  @Test
  void eachPushIsAPoll_andWhatTheLimitsRefuseIsNotPushed() throws Exception {
    // Five poll tokens (0.01/s x 500 s), refilled one per 100 s; a poll may not repeat within 16 s.
    Nghttp.Transcript first = Nghttp.get(limited.uri("/v1/state?topic=r/a&push=r/b").toString());
    assertThat(first.response(first.requestStream()).status()).isEqualTo(200);
    assertThat(first.promisedPaths()).containsExactly("/v1/state?topic=r/b");

    // r/b was just polled by its push: too soon again (pace). r/d gets the last token; r/g finds none.
    Nghttp.Transcript second = Nghttp.get(limited.uri("/v1/state?topic=r/c&push=r/b,r/d,r/g").toString());
    assertThat(second.response(second.requestStream()).status()).isEqualTo(200);
    assertThat(second.promisedPaths()).containsExactly("/v1/state?topic=r/d");

    Http http = new Http(limited);
    assertThat(http.get("/v1/state?topic=r/x").status()).as("the tokens are spent").isEqualTo(429);
    assertThat(http.metric("tidings_polls_total", "endpoint=\"state\"", "status=\"200\"")).hasValue(4.0);
    assertThat(http.metric("tidings_rate_limited_total", "kind=\"poll\"")).as("r/b, r/g and r/x").hasValue(3.0);
  }

  private static String[] concat(String[] a, String... b) {
    String[] all = new String[a.length + b.length];
    System.arraycopy(a, 0, all, 0, a.length);
    System.arraycopy(b, 0, all, a.length, b.length);
    return all;
  }

  private static String dataFile(String content) throws Exception {
    Path f = Files.createTempFile("tidings-h2push-", ".json");
    Files.writeString(f, content);
    f.toFile().deleteOnExit();
    return f.toString();
  }

  static void makeCertificate(Path dir) throws Exception {
    io.tidings.server.testing.SelfSignedCert.localhost(dir);
  }
}
