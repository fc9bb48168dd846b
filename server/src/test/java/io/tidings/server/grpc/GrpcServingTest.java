package io.tidings.server.grpc;

import static io.tidings.server.grpc.GrpcSupport.blocking;
import static io.tidings.server.grpc.GrpcSupport.numbered;
import static io.tidings.server.grpc.GrpcSupport.subscribe;
import static org.assertj.core.api.Assertions.assertThat;

import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.netty.shaded.io.grpc.netty.GrpcSslContexts;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.netty.shaded.io.netty.handler.ssl.util.InsecureTrustManagerFactory;
import io.tidings.proto.v1.PublishResponse;
import io.tidings.proto.v1.SubscribeRequest;
import io.tidings.server.testing.TidingsProcess;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManager;
import javax.net.ssl.X509TrustManager;
import org.junit.jupiter.api.Test;

/**
 * Where and how the service is served: h2 over TLS (ALPN) on the same port as the REST API, which
 * keeps answering HTTP/1.1 and h2 requests; a gRPC content type over HTTP/1.1 is refused; and a
 * server that stops ends its streams with {@code UNAVAILABLE} and the resume trailers.
 */
class GrpcServingTest {

  @Test
  void h2OverTls_servesGrpcBesideRest_andShutdownEndsStreamsUnavailable() throws Exception {
    Path dir = Files.createTempDirectory("tidings-grpc-tls-");
    io.tidings.server.testing.SelfSignedCert.localhost(dir);
    Files.writeString(dir.resolve("tidings.yaml"), "server: { tls: { cert: cert.pem, key: key.pem }, shutdown_grace: 2s }\n");

    try (TidingsProcess server = TidingsProcess.builder().name("grpc-tls").memory()
        .args("--config", dir.resolve("tidings.yaml").toString()).start()) {
      ManagedChannel channel = NettyChannelBuilder.forAddress("127.0.0.1", server.uri().getPort())
          .sslContext(GrpcSslContexts.forClient().trustManager(InsecureTrustManagerFactory.INSTANCE).build())
          .build();
      try {
        PublishResponse published = blocking(channel).publish(numbered("tls/a", 1, 3));
        assertThat(published.getEventsCount()).isEqualTo(3);

        // REST on the same port, over both HTTP versions ALPN offers.
        URI base = URI.create("https://127.0.0.1:" + server.uri().getPort());
        for (HttpClient.Version version : HttpClient.Version.values()) {
          HttpClient client = HttpClient.newBuilder().sslContext(trustAll()).version(version)
              .connectTimeout(Duration.ofSeconds(10)).build();
          HttpResponse<String> state = client.send(HttpRequest.newBuilder(base.resolve("/v1/changes?topic=tls/a")).build(),
              HttpResponse.BodyHandlers.ofString());
          assertThat(state.statusCode()).isEqualTo(200);
          assertThat(state.body()).contains(published.getCursor());
          // gRPC needs HTTP/2: over HTTP/1.1 the content type is refused.
          HttpResponse<String> grpcOverH1 = client.send(HttpRequest.newBuilder(base.resolve("/tidings.v1.Tidings/State"))
              .header("content-type", "application/grpc").POST(HttpRequest.BodyPublishers.ofByteArray(new byte[5])).build(),
              HttpResponse.BodyHandlers.ofString());
          if (grpcOverH1.version() == HttpClient.Version.HTTP_1_1) {
            assertThat(grpcOverH1.statusCode()).isEqualTo(415);
          }
        }

        try (GrpcSupport.Stream s = GrpcSupport.Stream.open(channel, subscribe("tls/a", "earliest"))) {
          assertThat(s.next().hasSubscribed()).isTrue();
          assertThat(s.events(3)).extracting(e -> e.getOffset()).containsExactly(1L, 2L, 3L);
          server.stop();
          Status status = s.awaitStatus();
          assertThat(status.getCode()).as("%s", status).isEqualTo(Status.Code.UNAVAILABLE);
          assertThat(s.trailers.get(GrpcSupport.ERROR_CODE)).isEqualTo("unavailable");
          SubscribeRequest resume = s.resumeRequest();
          assertThat(resume.getTopics(0).getSince()).isEqualTo(published.getCursor());
        }
      } finally {
        channel.shutdownNow().awaitTermination(10, TimeUnit.SECONDS);
      }
    }
  }

  private static SSLContext trustAll() throws Exception {
    SSLContext context = SSLContext.getInstance("TLS");
    context.init(null, new TrustManager[] {new X509TrustManager() {
      public void checkClientTrusted(X509Certificate[] chain, String authType) {}

      public void checkServerTrusted(X509Certificate[] chain, String authType) {}

      public X509Certificate[] getAcceptedIssuers() {
        return new X509Certificate[0];
      }
    }}, null);
    return context;
  }
}
