package io.tidings.server.grpc;

import static io.tidings.server.grpc.GrpcSupport.WAIT;
import static io.tidings.server.grpc.GrpcSupport.assertStatus;
import static io.tidings.server.grpc.GrpcSupport.bearer;
import static io.tidings.server.grpc.GrpcSupport.blocking;
import static io.tidings.server.grpc.GrpcSupport.failure;
import static io.tidings.server.grpc.GrpcSupport.numbered;
import static io.tidings.server.grpc.GrpcSupport.subscribe;
import static org.assertj.core.api.Assertions.assertThat;

import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.MetadataUtils;
import io.tidings.proto.v1.ChangesRequest;
import io.tidings.proto.v1.StateRequest;
import io.tidings.proto.v1.SubscribeRequest;
import io.tidings.proto.v1.TopicSubscription;
import io.tidings.server.testing.TidingsProcess;
import io.tidings.server.testing.Tokens;
import io.tidings.server.testing.Tokens.Claims;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Credentials in the {@code authorization} metadata, with the grants of every other transport:
 * {@code UNAUTHENTICATED} without valid credentials, {@code PERMISSION_DENIED} without the grant
 * (checked for every topic before a stream sends anything), a stream that outlives its token ends
 * {@code UNAUTHENTICATED}, and a rate-limited call is {@code RESOURCE_EXHAUSTED} with {@code retry-after}.
 */
class GrpcAuthTest {
  private static final String SECRET = "an HS256 secret that is long enough: 0123456789";
  private static final String BACKEND_KEY = "tk_backend_5b0e1f7c2a9d4e6f8a1b3c5d7e9f0a2b";
  private static final String FEEDER_KEY = "tk_feeder_0f1e2d3c4b5a69788796a5b4c3d2e1f0";

  private static TidingsProcess server;
  private static ManagedChannel channel;

  @BeforeAll
  static void start() throws Exception {
    server = TidingsProcess.builder().name("grpc-auth").memory().config("""
        auth:
          jwt: { hs256_secret: "%s", clock_skew: 0s }
          api_keys:
            - { name: backend, sha256: "%s", publish: ["**"], subscribe: ["**"] }
            - { name: feeder, sha256: "%s", publish: ["feeds/*"] }
          anonymous: { subscribe: ["public/**"] }
        limits:
          rate: { publish_per_second: 0.5, burst: 6 }
        push:
          grpc: { heartbeat: 1s }
        """.formatted(SECRET, Tokens.sha256Hex(BACKEND_KEY), Tokens.sha256Hex(FEEDER_KEY))).start();
    channel = GrpcSupport.channel(server);
  }

  @AfterAll
  static void stop() throws Exception {
    if (channel != null) {
      channel.shutdownNow().awaitTermination(10, TimeUnit.SECONDS);
    }
    if (server != null) {
      server.close();
    }
  }

  private static Metadata raw(String value) {
    Metadata m = new Metadata();
    m.put(Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER), value);
    return m;
  }

  @Test
  void missingOrInvalidCredentials_areUnauthenticated() {
    StateRequest privateTopic = StateRequest.newBuilder().setTopic("private/a").build();
    assertStatus(failure(() -> blocking(channel).state(privateTopic)), Status.Code.UNAUTHENTICATED, "unauthorized");
    assertStatus(failure(() -> blocking(channel, "tk_not_a_key").state(privateTopic)), Status.Code.UNAUTHENTICATED,
        "unauthorized");
    assertStatus(failure(() -> blocking(channel, Tokens.hs256("another secret that is long enough: 0123456789",
        Claims.of("x").subscribing("**"))).state(privateTopic)), Status.Code.UNAUTHENTICATED, "unauthorized");
    assertStatus(failure(() -> blocking(channel).withInterceptors(MetadataUtils.newAttachHeadersInterceptor(
        raw("Basic dXNlcjpwYXNz"))).state(privateTopic)), Status.Code.UNAUTHENTICATED, "unauthorized");
    assertStatus(failure(() -> blocking(channel).subscribe(subscribe("private/a", "now")).hasNext()),
        Status.Code.UNAUTHENTICATED, "unauthorized");
    // What anonymous callers may read stays open.
    assertThat(blocking(channel).state(StateRequest.newBuilder().setTopic("public/a").build()).getTopic())
        .isEqualTo("public/a");
  }

  @Test
  void withoutTheGrant_isPermissionDenied_checkedForEveryTopicBeforeAnythingIsSent() throws Exception {
    assertStatus(failure(() -> blocking(channel, FEEDER_KEY).state(StateRequest.newBuilder().setTopic("feeds/a").build())),
        Status.Code.PERMISSION_DENIED, "forbidden");
    assertStatus(failure(() -> blocking(channel, FEEDER_KEY).changes(ChangesRequest.newBuilder().setTopic("feeds/a").build())),
        Status.Code.PERMISSION_DENIED, "forbidden");
    assertStatus(failure(() -> blocking(channel, FEEDER_KEY).publish(numbered("other/a", 1, 1))),
        Status.Code.PERMISSION_DENIED, "forbidden");
    assertThat(blocking(channel, FEEDER_KEY).publish(numbered("feeds/a", 1, 1)).getEventsCount()).isEqualTo(1);

    String token = Tokens.hs256(SECRET, Claims.of("ann").subscribing("users/ann/**"));
    SubscribeRequest mixed = SubscribeRequest.newBuilder()
        .addTopics(TopicSubscription.newBuilder().setTopic("users/ann/inbox"))
        .addTopics(TopicSubscription.newBuilder().setTopic("users/bob/inbox")).build();
    try (GrpcSupport.Stream s = GrpcSupport.Stream.open(channel, mixed, bearer(token), false)) {
      Status status = s.awaitStatus();
      assertThat(status.getCode()).isEqualTo(Status.Code.PERMISSION_DENIED);
      assertThat(s.trailers.get(GrpcSupport.ERROR_CODE)).isEqualTo("forbidden");
      assertThat(s.messages).as("nothing was sent, not even for the granted topic").isEmpty();
    }
    try (GrpcSupport.Stream s = GrpcSupport.Stream.open(channel, subscribe("users/ann/inbox", "earliest"), bearer(token),
        false)) {
      assertThat(s.next().getSubscribed().getTopic()).isEqualTo("users/ann/inbox");
    }
  }

  @Test
  void aStreamEnds_whenItsTokenExpires() throws Exception {
    String token = Tokens.hs256(SECRET, Claims.of("eve").subscribing("**").expiresIn(3));
    try (GrpcSupport.Stream s = GrpcSupport.Stream.open(channel, subscribe("eve/a", "now"), bearer(token), false)) {
      assertThat(s.next().hasSubscribed()).isTrue();
      Status status = s.status.get(WAIT.toSeconds(), TimeUnit.SECONDS);
      assertThat(status.getCode()).isEqualTo(Status.Code.UNAUTHENTICATED);
      assertThat(s.trailers.get(GrpcSupport.ERROR_CODE)).isEqualTo("unauthorized");
      assertThat(s.trailers.get(GrpcSupport.RESUME_CURSOR)).as("where to resume with a new token").startsWith("eve/a ");
      assertThat(s.messages).as("heartbeats kept the quiet stream alive meanwhile")
          .anyMatch(m -> m.hasHeartbeat());
    }
  }

  @Test
  void overTheRateLimit_isResourceExhausted_withRetryAfter() {
    String token = Tokens.hs256(SECRET, Claims.of("busy").publishing("busy/**"));
    StatusRuntimeException refused = null;
    for (int i = 0; i < 10 && refused == null; i++) {
      try {
        blocking(channel, token).publish(numbered("busy/a", 1, 1));
      } catch (StatusRuntimeException e) {
        refused = e;
      }
    }
    assertThat(refused).as("a refusal within 10 quick publishes at 0.5/s").isNotNull();
    assertStatus(refused, Status.Code.RESOURCE_EXHAUSTED, "rate_limited");
    assertThat(Integer.parseInt(refused.getTrailers().get(GrpcSupport.RETRY_AFTER))).isPositive();
  }
}
