package io.tidings.server.grpc;

import static org.assertj.core.api.Assertions.assertThat;

import io.grpc.CallOptions;
import io.grpc.ClientCall;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.stub.MetadataUtils;
import io.tidings.proto.v1.EventInput;
import io.tidings.proto.v1.Mode;
import io.tidings.proto.v1.PublishRequest;
import io.tidings.proto.v1.ServerMessage;
import io.tidings.proto.v1.SubscribeRequest;
import io.tidings.proto.v1.TidingsGrpc;
import io.tidings.proto.v1.TopicSubscription;
import io.tidings.server.testing.TidingsProcess;
import com.google.protobuf.ByteString;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;

/** grpc-java over plaintext h2c against a Tidings process, and a recorder of {@code Subscribe} streams. */
final class GrpcSupport {
  static final Duration WAIT = Duration.ofSeconds(30);
  static final Metadata.Key<String> ERROR_CODE = Metadata.Key.of("tidings-error-code", Metadata.ASCII_STRING_MARSHALLER);
  static final Metadata.Key<byte[]> RESUME_BIN = Metadata.Key.of("tidings-resume-bin", Metadata.BINARY_BYTE_MARSHALLER);
  static final Metadata.Key<String> RESUME_CURSOR =
      Metadata.Key.of("tidings-resume-cursor", Metadata.ASCII_STRING_MARSHALLER);
  static final Metadata.Key<String> RETRY_AFTER = Metadata.Key.of("retry-after", Metadata.ASCII_STRING_MARSHALLER);

  private GrpcSupport() {}

  /** A plaintext (h2c, prior knowledge) channel to {@code server}. */
  static ManagedChannel channel(TidingsProcess server) {
    return NettyChannelBuilder.forAddress(server.uri().getHost(), server.uri().getPort()).usePlaintext().build();
  }

  static TidingsGrpc.TidingsBlockingStub blocking(ManagedChannel channel) {
    return TidingsGrpc.newBlockingStub(channel).withDeadlineAfter(60, TimeUnit.SECONDS);
  }

  static TidingsGrpc.TidingsBlockingStub blocking(ManagedChannel channel, String token) {
    return blocking(channel).withInterceptors(MetadataUtils.newAttachHeadersInterceptor(bearer(token)));
  }

  static Metadata bearer(String token) {
    Metadata m = new Metadata();
    m.put(Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER), "Bearer " + token);
    return m;
  }

  static ByteString json(String text) {
    return ByteString.copyFrom(text, StandardCharsets.UTF_8);
  }

  static EventInput message(String jsonData) {
    return EventInput.newBuilder().setData(json(jsonData)).build();
  }

  static EventInput put(String key, String jsonData) {
    return EventInput.newBuilder().setType("put").setKey(key).setData(json(jsonData)).build();
  }

  /** {@code n} messages with data {@code {"n": from..from+n-1}}. */
  static PublishRequest numbered(String topic, int from, int n) {
    PublishRequest.Builder b = PublishRequest.newBuilder().setTopic(topic);
    for (int i = from; i < from + n; i++) {
      b.addEvents(message("{\"n\":" + i + "}"));
    }
    return b.build();
  }

  static SubscribeRequest subscribe(String topic, String since) {
    return SubscribeRequest.newBuilder().addTopics(TopicSubscription.newBuilder().setTopic(topic).setSince(since)).build();
  }

  static SubscribeRequest subscribe(String topic, String since, Mode mode) {
    return SubscribeRequest.newBuilder()
        .addTopics(TopicSubscription.newBuilder().setTopic(topic).setSince(since).setMode(mode)).build();
  }

  /** The failure of {@code call}, which must fail. */
  static StatusRuntimeException failure(Runnable call) {
    try {
      call.run();
    } catch (StatusRuntimeException e) {
      return e;
    }
    throw new AssertionError("the call succeeded");
  }

  static void assertStatus(StatusRuntimeException e, Status.Code code, String errorCode) {
    assertThat(e.getStatus().getCode()).as("%s", e).isEqualTo(code);
    if (errorCode != null) {
      assertThat(e.getTrailers()).as("trailers of %s", e).isNotNull();
      assertThat(e.getTrailers().get(ERROR_CODE)).as("%s", e).isEqualTo(errorCode);
    }
  }

  /**
   * A {@code Subscribe} call whose messages are queued as they arrive. With {@code manual}, the
   * client asks for messages only through {@link #request}: grpc-java then stops reading the stream
   * once its buffers are full, and the server sees a closed flow-control window.
   */
  static final class Stream implements AutoCloseable {
    final BlockingQueue<ServerMessage> messages = new LinkedBlockingQueue<>();
    final CompletableFuture<Status> status = new CompletableFuture<>();
    volatile Metadata trailers;
    private final ClientCall<SubscribeRequest, ServerMessage> call;

    private Stream(ClientCall<SubscribeRequest, ServerMessage> call) {
      this.call = call;
    }

    static Stream open(ManagedChannel channel, SubscribeRequest request, Metadata headers, boolean manual) {
      ClientCall<SubscribeRequest, ServerMessage> call =
          channel.newCall(TidingsGrpc.getSubscribeMethod(), CallOptions.DEFAULT);
      Stream s = new Stream(call);
      call.start(new ClientCall.Listener<>() {
        @Override
        public void onMessage(ServerMessage message) {
          s.messages.add(message);
          if (!manual) {
            call.request(1);
          }
        }

        @Override
        public void onClose(Status status, Metadata trailers) {
          s.trailers = trailers;
          s.status.complete(status);
        }
      }, headers == null ? new Metadata() : headers);
      call.sendMessage(request);
      call.halfClose();
      call.request(1);
      return s;
    }

    static Stream open(ManagedChannel channel, SubscribeRequest request) {
      return open(channel, request, null, false);
    }

    void request(int n) {
      call.request(n);
    }

    ServerMessage next() throws InterruptedException {
      ServerMessage m = messages.poll(WAIT.toMillis(), TimeUnit.MILLISECONDS);
      assertThat(m).as("a message within %s (status %s)", WAIT, status.getNow(null)).isNotNull();
      return m;
    }

    /** The next message that is not a heartbeat. */
    ServerMessage nextNonHeartbeat() throws InterruptedException {
      while (true) {
        ServerMessage m = next();
        if (!m.hasHeartbeat()) {
          return m;
        }
      }
    }

    /** The next {@code n} events (skipping heartbeats; anything else fails). */
    List<io.tidings.proto.v1.Event> events(int n) throws InterruptedException {
      List<io.tidings.proto.v1.Event> out = new ArrayList<>();
      while (out.size() < n) {
        ServerMessage m = nextNonHeartbeat();
        assertThat(m.hasEvent()).as("an event: %s", m).isTrue();
        out.add(m.getEvent());
      }
      return out;
    }

    ServerMessage await(Predicate<ServerMessage> matching) throws InterruptedException {
      while (true) {
        ServerMessage m = next();
        if (matching.test(m)) {
          return m;
        }
      }
    }

    Status awaitStatus() throws Exception {
      return status.get(WAIT.toSeconds(), TimeUnit.SECONDS);
    }

    /** The request the server put in {@code tidings-resume-bin} when it ended the call. */
    SubscribeRequest resumeRequest() throws Exception {
      byte[] bin = trailers.get(RESUME_BIN);
      assertThat(bin).as("tidings-resume-bin in %s", trailers).isNotNull();
      return SubscribeRequest.parseFrom(bin);
    }

    @Override
    public void close() {
      call.cancel("done", null);
    }
  }

  static String base64(byte[] bytes) {
    return Base64.getEncoder().encodeToString(bytes);
  }
}
