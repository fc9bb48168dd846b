package io.tidings.server.auth;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.IntNode;
import com.nimbusds.jose.JWSAlgorithm;
import com.nimbusds.jose.JWSHeader;
import com.nimbusds.jose.crypto.MACSigner;
import com.nimbusds.jwt.SignedJWT;
import io.tidings.server.testing.Http;
import io.tidings.server.testing.SseClient;
import io.tidings.server.testing.TidingsProcess;
import io.tidings.server.testing.Tokens;
import io.tidings.server.testing.Tokens.Claims;
import io.tidings.server.testing.WsClient;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.assertj.core.api.SoftAssertions;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;

/**
 * Who may do what, against a real server: principals (anonymous, API keys, HS256/RS256/ES256 JWTs,
 * a JWT from a JWK set file, {@code {sub}} grants, admin) times operations (publish, state, changes,
 * topics, SSE, WebSocket subscribe and publish, metrics), allowed and denied; tokens that must be
 * refused; and that no credential ever reaches the server's output.
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class AuthMatrixTest {
  private static final Duration WAIT = Duration.ofSeconds(30);
  private static AuthFixture fx;
  private static TidingsProcess server;
  private static Http http;
  private static final Map<String, String> tokens = new LinkedHashMap<>();

  @BeforeAll
  static void start() throws Exception {
    fx = new AuthFixture();
    server = TidingsProcess.builder().name("auth-matrix").memory().config(fx.yaml("")).start();
    http = new Http(server);
    tokens.put("anonymous", null);
    tokens.put("feeder", AuthFixture.FEEDER_KEY);
    tokens.put("admin", AuthFixture.BACKEND_KEY);
    tokens.put("alice", fx.hs(Claims.of("alice").subscribing("scores/**").publishing("scores/*")));
    tokens.put("bob", fx.rs(Claims.of("bob").subscribing("users/{sub}/**").publishing("users/{sub}/inbox")));
    tokens.put("erin", fx.es(Claims.of("erin").asAdmin()));
    tokens.put("fay", fx.jwksRs(Claims.of("fay").subscribing("jwks/**")));
  }

  @AfterAll
  static void stop() {
    if (server != null) {
      server.close();
    }
  }

  private static String[] auth(String who) {
    String t = tokens.get(who);
    return t == null ? new String[0] : Tokens.bearer(t);
  }

  /** What an operation should come to: allowed, or refused for lack of credentials (401) or of a grant (403). */
  private enum Want { OK, E401, E403 }

  private enum Op { PUBLISH, STATE, CHANGES, SSE, WS_SUB, WS_PUB }

  private record Case(String who, Op op, String topic, Want want) {}

  private static final List<Case> CASES = new ArrayList<>();

  private static void add(String who, String topic, Want want, Op... ops) {
    for (Op op : ops) {
      CASES.add(new Case(who, op, topic, want));
    }
  }

  static {
    Want ok = Want.OK;
    Want e401 = Want.E401;
    Want e403 = Want.E403;
    add("anonymous", "public/news", ok, Op.STATE, Op.CHANGES, Op.SSE, Op.WS_SUB);
    add("anonymous", "public/news", e401, Op.PUBLISH);
    add("anonymous", "public/news", e403, Op.WS_PUB);
    add("anonymous", "public/a/b/c", ok, Op.STATE);
    add("anonymous", "public", e401, Op.STATE, Op.SSE); // public/** never matches public itself
    add("anonymous", "scores/match", e401, Op.PUBLISH, Op.STATE, Op.CHANGES, Op.SSE);
    add("anonymous", "scores/match", e403, Op.WS_SUB);

    add("feeder", "feeds/one", ok, Op.PUBLISH, Op.WS_PUB);
    add("feeder", "feeds/one", e403, Op.STATE, Op.CHANGES, Op.SSE, Op.WS_SUB);
    add("feeder", "feeds/one/two", e403, Op.PUBLISH, Op.WS_PUB); // * is one segment
    add("feeder", "feeds", e403, Op.PUBLISH);
    add("feeder", "public/news", ok, Op.STATE, Op.WS_SUB); // anonymous grants come with every principal
    add("feeder", "public/news", e403, Op.PUBLISH);

    add("alice", "scores/match", ok, Op.PUBLISH, Op.STATE, Op.CHANGES, Op.SSE, Op.WS_SUB, Op.WS_PUB);
    add("alice", "scores/match/x", ok, Op.STATE, Op.SSE);
    add("alice", "scores/match/x", e403, Op.PUBLISH, Op.WS_PUB);
    add("alice", "scores", e403, Op.PUBLISH, Op.STATE, Op.CHANGES, Op.SSE, Op.WS_SUB);
    add("alice", "users/bob/feed", e403, Op.STATE, Op.WS_SUB);
    add("alice", "public/news", ok, Op.STATE);

    add("bob", "users/bob/feed", ok, Op.STATE, Op.CHANGES, Op.SSE, Op.WS_SUB);
    add("bob", "users/bob/x/y", ok, Op.STATE);
    add("bob", "users/bob", e403, Op.STATE, Op.WS_SUB);
    add("bob", "users/bob/inbox", ok, Op.PUBLISH, Op.WS_PUB);
    add("bob", "users/bob/outbox", e403, Op.PUBLISH, Op.WS_PUB);
    add("bob", "users/alice/feed", e403, Op.STATE, Op.CHANGES, Op.SSE, Op.WS_SUB);
    add("bob", "users/alice/inbox", e403, Op.PUBLISH);

    add("admin", "users/alice/feed", ok, Op.PUBLISH, Op.STATE, Op.CHANGES, Op.SSE, Op.WS_SUB, Op.WS_PUB);
    add("admin", "anything/else", ok, Op.PUBLISH, Op.STATE);

    add("erin", "private/x", e403, Op.STATE, Op.PUBLISH);
    add("fay", "jwks/a", ok, Op.STATE, Op.SSE, Op.WS_SUB);
    add("fay", "jwks", e403, Op.STATE);
  }

  @Test
  @Order(1)
  void everyPrincipalMayDoExactlyWhatItsGrantsSay() throws Exception {
    SoftAssertions soft = new SoftAssertions();
    Map<String, WsClient> sockets = new HashMap<>();
    int[] ids = {0};
    try {
      for (Case c : CASES) {
        String what = c.who() + " " + c.op() + " " + c.topic();
        switch (c.op()) {
          case PUBLISH -> {
            List<String> h = new ArrayList<>(List.of(auth(c.who())));
            h.add("Content-Type");
            h.add("application/json");
            Http.Reply r = http.method("POST", "/v1/events?topic=" + c.topic(), "{\"data\":1}", h.toArray(String[]::new));
            expectHttp(soft, what, r, c.want(), 201);
          }
          case STATE -> expectHttp(soft, what, http.get("/v1/state?topic=" + c.topic(), auth(c.who())), c.want(), 200);
          case CHANGES -> expectHttp(soft, what, http.get("/v1/changes?topic=" + c.topic(), auth(c.who())), c.want(), 200);
          case SSE -> {
            try (SseClient sse = SseClient.open(server.uri(), "/v1/sse?topic=" + c.topic(), auth(c.who()))) {
              int want = c.want() == Want.OK ? 200 : c.want() == Want.E401 ? 401 : 403;
              soft.assertThat(sse.status()).as(what).isEqualTo(want);
              if (want == 401) {
                soft.assertThat(sse.header("www-authenticate")).as(what).startsWith("Bearer");
              }
            }
          }
          case WS_SUB, WS_PUB -> {
            WsClient ws = sockets.computeIfAbsent(c.who(), AuthMatrixTest::socket);
            IntNode id = IntNode.valueOf(++ids[0]);
            ws.send(c.op() == Op.WS_SUB
                ? "{\"op\":\"subscribe\",\"id\":" + id + ",\"topic\":\"" + c.topic() + "\"}"
                : "{\"op\":\"publish\",\"id\":" + id + ",\"topic\":\"" + c.topic() + "\",\"events\":{\"data\":1}}");
            JsonNode reply = ws.await(m -> m.path("id").equals(id) && !m.path("op").asText().equals("event"), WAIT);
            if (c.want() == Want.OK) {
              soft.assertThat(reply.path("op").asText()).as(what + ": " + reply)
                  .isEqualTo(c.op() == Op.WS_SUB ? "subscribed" : "published");
            } else {
              soft.assertThat(reply.path("op").asText()).as(what + ": " + reply).isEqualTo("error");
              soft.assertThat(reply.path("code").asText()).as(what + ": " + reply).isEqualTo("forbidden");
            }
          }
          default -> throw new IllegalStateException();
        }
      }
    } finally {
      sockets.values().forEach(WsClient::close);
    }
    soft.assertAll();
  }

  private static WsClient socket(String who) {
    String t = tokens.get(who);
    // Half the principals bring their token as a header, half in the URL, as a browser must.
    if (t == null) {
      return WsClient.connect(server.uri(), "", Map.of(), false);
    }
    return who.hashCode() % 2 == 0
        ? WsClient.connect(server.uri(), "", Tokens.authorization(t), false)
        : WsClient.connect(server.uri(), "?access_token=" + Http.enc(t), Map.of(), false);
  }

  private static void expectHttp(SoftAssertions soft, String what, Http.Reply r, Want want, int success) {
    switch (want) {
      case OK -> soft.assertThat(r.status()).as(what + ": " + r).isEqualTo(success);
      case E401 -> {
        soft.assertThat(r.status()).as(what + ": " + r).isEqualTo(401);
        soft.assertThat(r.header("www-authenticate")).as(what).isEqualTo("Bearer realm=\"tidings\"");
        soft.assertThat(r.json().at("/error/code").asText()).as(what).isEqualTo("unauthorized");
      }
      case E403 -> {
        soft.assertThat(r.status()).as(what + ": " + r).isEqualTo(403);
        soft.assertThat(r.json().at("/error/code").asText()).as(what).isEqualTo("forbidden");
        soft.assertThat(r.header("www-authenticate")).as(what).isNull();
      }
      default -> throw new IllegalStateException();
    }
  }

  @Test
  @Order(2)
  void metricsNeedTheAdminGrant_healthAndReadinessNeedNothing() {
    assertThat(http.get("/metrics").status()).isEqualTo(401);
    assertThat(http.get("/metrics", auth("feeder")).status()).isEqualTo(403);
    assertThat(http.get("/metrics", auth("alice")).status()).isEqualTo(403);
    assertThat(http.get("/metrics", auth("admin")).status()).isEqualTo(200);
    Http.Reply erin = http.get("/metrics", auth("erin"));
    assertThat(erin.status()).as("an ES256 token with admin: %s", erin).isEqualTo(200);
    assertThat(erin.body()).contains("tidings_http_requests_total");
    assertThat(http.get("/healthz").status()).isEqualTo(200);
    assertThat(http.get("/readyz").status()).isEqualTo(200);
    assertThat(http.get("/healthz", Tokens.bearer("not-a-token")).status())
        .as("health checks look at no credentials at all").isEqualTo(200);
    assertThat(http.get("/client/tidings.d.ts").status()).as("the shipped client is public").isEqualTo(200);
  }

  @Test
  @Order(3)
  void topicListingsShowOnlyWhatThePrincipalMaySubscribeTo() {
    for (String t : List.of("public/news", "scores/match", "users/bob/feed", "users/alice/feed", "feeds/one")) {
      http.method("POST", "/v1/events?topic=" + t, "{}", "Content-Type", "application/json", "Authorization",
          "Bearer " + AuthFixture.BACKEND_KEY);
    }
    assertThat(listed("anonymous")).contains("public/news").allMatch(t -> t.startsWith("public/"));
    assertThat(listed("alice")).contains("public/news", "scores/match")
        .doesNotContain("users/bob/feed", "users/alice/feed", "feeds/one");
    assertThat(listed("bob")).contains("public/news", "users/bob/feed").doesNotContain("users/alice/feed", "scores/match");
    assertThat(listed("feeder")).contains("public/news").doesNotContain("feeds/one");
    assertThat(listed("admin")).contains("public/news", "scores/match", "users/bob/feed", "users/alice/feed", "feeds/one");
    Http.Reply r = http.get("/v1/topics", auth("alice"));
    assertThat(r.header("cache-control")).startsWith("private");
  }

  private static List<String> listed(String who) {
    Http.Reply r = http.get("/v1/topics", auth(who));
    assertThat(r.status()).as("%s lists topics: %s", who, r).isEqualTo(200);
    List<String> out = new ArrayList<>();
    r.json().get("topics").forEach(t -> out.add(t.get("topic").asText()));
    return out;
  }

  @Test
  @Order(4)
  void aSubjectIsOneLiteralSegment_andNeverWidensAGrant() throws Exception {
    String carol = fx.hs(Claims.of("carol").subscribing("users/{sub}/**").publishing("users/{sub}"));
    assertThat(http.get("/v1/state?topic=users/carol/z", Tokens.bearer(carol)).status())
        .as("the control: a plain subject gets its own topics").isEqualTo(200);
    assertThat(http.method("POST", "/v1/events?topic=users/carol", "{}", "Content-Type", "application/json",
        "Authorization", "Bearer " + carol).status()).isEqualTo(201);
    List<String> probes = List.of("users/x/y/z", "users/x/y", "users/x/z", "users/any/z", "users/a/b", "users/a/b/x",
        "users/b/x", "users/a/x", "users/z");
    SoftAssertions soft = new SoftAssertions();
    for (String subject : List.of("x/y", "*", "**", ".", "..", "a/../b", "")) {
      String token = fx.hs(Claims.of(subject).subscribing("users/{sub}/**").publishing("users/{sub}", "users/{sub}/*"));
      for (String topic : probes) {
        soft.assertThat(http.get("/v1/state?topic=" + topic, Tokens.bearer(token)).status())
            .as("subject '%s' reads %s", subject, topic).isEqualTo(403);
        soft.assertThat(http.method("POST", "/v1/events?topic=" + topic, "{}", "Content-Type", "application/json",
            "Authorization", "Bearer " + token).status()).as("subject '%s' publishes to %s", subject, topic).isEqualTo(403);
      }
      try (WsClient ws = WsClient.connect(server.uri(), "", Tokens.authorization(token), false)) {
        ws.send("{\"op\":\"subscribe\",\"id\":1,\"topic\":\"users/a/b\"}");
        JsonNode reply = ws.await(m -> m.path("id").asInt() == 1, WAIT);
        soft.assertThat(reply.path("code").asText()).as("subject '%s' over WebSocket: %s", subject, reply)
            .isEqualTo("forbidden");
      }
    }
    soft.assertAll();
  }

  @Test
  @Order(5)
  void tokensThatMustBeRefused_get401WithInvalidToken_evenWhereAnonymousMayRead() throws Exception {
    Claims admin = Claims.of("mallory").subscribing("**").publishing("**").asAdmin();
    byte[] rsaPem = Tokens.pem(fx.rsa.toRSAPublicKey()).getBytes(StandardCharsets.US_ASCII);
    SignedJWT hs512 = new SignedJWT(new JWSHeader(JWSAlgorithm.HS512), admin.toSet());
    hs512.sign(new MACSigner((AuthFixture.SECRET + AuthFixture.SECRET).getBytes(StandardCharsets.UTF_8)));
    String valid = fx.hs(Claims.of("mallory").subscribing("public/**"));
    String[] parts = valid.split("\\.");
    String tampered = parts[0] + "." + admin.toSet().toPayload().toBase64URL() + "." + parts[2];
    Map<String, String> bad = new LinkedHashMap<>();
    bad.put("expired", fx.hs(admin.expiresIn(-60)));
    bad.put("not yet valid", fx.hs(admin.notBeforeIn(60)));
    bad.put("HS256 with another secret", fx.remember(Tokens.hs256("another secret, just as long as the real one!", admin)));
    bad.put("RS256 by another key", fx.remember(Tokens.rs256(Tokens.rsaKey(null), false, admin)));
    bad.put("ES256 by another key", fx.remember(Tokens.es256(Tokens.ecKey(null), false, admin)));
    bad.put("RS256 with an unknown kid", fx.remember(Tokens.rs256(Tokens.rsaKey("nobody"), true, admin)));
    bad.put("tampered claims", fx.remember(tampered));
    bad.put("alg none", fx.remember(Tokens.none(admin)));
    bad.put("the RS256 public key (PEM) as HS256 secret", fx.remember(Tokens.hs256WithKeyBytes(rsaPem, admin)));
    bad.put("the RS256 public key (DER) as HS256 secret",
        fx.remember(Tokens.hs256WithKeyBytes(fx.rsa.toRSAPublicKey().getEncoded(), admin)));
    bad.put("HS512", fx.remember(hs512.serialize()));
    bad.put("garbage", "not-a-token");
    bad.put("unknown API key", fx.remember("tk_this_key_is_not_configured_0123456789"));
    SoftAssertions soft = new SoftAssertions();
    for (Map.Entry<String, String> e : bad.entrySet()) {
      Http.Reply r = http.get("/v1/state?topic=public/news", Tokens.bearer(e.getValue()));
      soft.assertThat(r.status()).as(e.getKey() + ": " + r).isEqualTo(401);
      soft.assertThat(r.header("www-authenticate")).as(e.getKey()).startsWith("Bearer realm=\"tidings\"")
          .contains("error=\"invalid_token\"");
      soft.assertThat(r.body()).as(e.getKey() + ": the answer never quotes the token").doesNotContain(e.getValue());
      Http.Reply q = http.get("/v1/changes?topic=public/news&access_token=" + Http.enc(e.getValue()));
      soft.assertThat(q.status()).as(e.getKey() + " as access_token: " + q).isEqualTo(401);
      try (SseClient sse = SseClient.open(server.uri(), "/v1/sse?topic=public/news&access_token=" + Http.enc(e.getValue()))) {
        soft.assertThat(sse.status()).as(e.getKey() + " on SSE").isEqualTo(401);
      }
    }
    Http.Reply basic = http.get("/v1/state?topic=public/news", "Authorization", "Basic YWxpY2U6c2VjcmV0");
    soft.assertThat(basic.status()).as("another scheme: %s", basic).isEqualTo(401);
    soft.assertAll();
  }

  @Test
  @Order(6)
  void accessTokenWorksOnPullEndpoints_onceAndOnGetOnly() {
    String alice = Http.enc(tokens.get("alice"));
    assertThat(http.get("/v1/state?topic=scores/match&access_token=" + alice).status()).isEqualTo(200);
    assertThat(http.get("/v1/changes?topic=scores/match&access_token=" + alice).status()).isEqualTo(200);
    assertThat(http.get("/v1/topics?access_token=" + alice).status()).isEqualTo(200);
    Http.Reply both = http.get("/v1/state?topic=scores/match&access_token=" + alice, auth("alice"));
    assertThat(both.status()).as("a token given twice: %s", both).isEqualTo(400);
    Http.Reply post = http.method("POST", "/v1/events?topic=scores/match&access_token=" + alice, "{}",
        "Content-Type", "application/json");
    assertThat(post.status()).as("access_token on a publish: %s", post).isEqualTo(400);
  }

  @Test
  @Order(7)
  void answersOnlySomePrincipalsMaySee_areKeptOutOfSharedCaches() {
    Http.Reply secret = http.get("/v1/changes?topic=scores/match", auth("alice"));
    assertThat(secret.header("cache-control")).startsWith("private");
    assertThat(String.join(",", secret.headerValues("vary"))).containsIgnoringCase("authorization");
    Http.Reply state = http.get("/v1/state?topic=scores/match", auth("alice"));
    assertThat(state.header("cache-control")).startsWith("private");
    Http.Reply open = http.get("/v1/changes?topic=public/news");
    assertThat(open.header("cache-control")).startsWith("public");
  }

  @Test
  @Order(Integer.MAX_VALUE)
  void noCredentialEverReachesTheServersOutput() throws Exception {
    Thread.sleep(200); // the output reader is a thread of its own
    String out = String.join("\n", server.output());
    assertThat(out).contains("listening on");
    for (String s : fx.secrets()) {
      assertThat(out).as("the server's output holds a credential").doesNotContain(s);
      String[] parts = s.split("\\.");
      if (parts.length == 3 && parts[2].length() > 10) {
        assertThat(out).as("the server's output holds a token's signature").doesNotContain(parts[2]);
      }
    }
  }
}
