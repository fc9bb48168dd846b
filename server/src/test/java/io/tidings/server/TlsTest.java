package io.tidings.server;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.tidings.server.testing.TidingsProcess;
import java.io.BufferedReader;
import java.io.InputStream;
import java.io.InputStreamReader;
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

/** {@code server.tls} from PEM files: HTTP/1.1 and HTTP/2 (ALPN) on the same port, pull and push alike. */
class TlsTest {
  private static final ObjectMapper JSON = new ObjectMapper();

  @Test
  void pemCertificate_servesHttp11AndH2_pullAndSse() throws Exception {
    Path dir = Files.createTempDirectory("tidings-tls-");
    io.tidings.server.testing.SelfSignedCert.localhost(dir);
    Files.writeString(dir.resolve("tidings.yaml"), "server: { tls: { cert: cert.pem, key: key.pem } }\n");

    try (TidingsProcess server = TidingsProcess.builder().name("tls").memory()
        .args("--config", dir.resolve("tidings.yaml").toString()).start()) {
      URI base = URI.create(server.uri().toString().replaceFirst("^http:", "https:"));
      assertThat(base.getScheme()).isEqualTo("https");
      SSLContext trustAll = SSLContext.getInstance("TLS");
      trustAll.init(null, new TrustManager[] {new X509TrustManager() {
        public void checkClientTrusted(X509Certificate[] chain, String authType) {}

        public void checkServerTrusted(X509Certificate[] chain, String authType) {}

        public X509Certificate[] getAcceptedIssuers() {
          return new X509Certificate[0];
        }
      }}, null);

      for (HttpClient.Version version : HttpClient.Version.values()) {
        HttpClient client = HttpClient.newBuilder().sslContext(trustAll).version(version)
            .connectTimeout(Duration.ofSeconds(10)).build();
        String topic = "tls/" + version.name().toLowerCase();
        HttpResponse<String> published = client.send(HttpRequest.newBuilder(base.resolve("/v1/events?topic=" + topic))
            .header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.ofString("{\"data\":1}")).build(),
            HttpResponse.BodyHandlers.ofString());
        assertThat(published.statusCode()).isEqualTo(201);
        assertThat(published.version()).as("ALPN negotiates what the client asks for").isEqualTo(version);

        HttpResponse<InputStream> sse = client.send(HttpRequest.newBuilder(base.resolve("/v1/sse?topic=" + topic + "&since=earliest"))
            .timeout(Duration.ofSeconds(30)).build(), HttpResponse.BodyHandlers.ofInputStream());
        assertThat(sse.statusCode()).isEqualTo(200);
        assertThat(sse.headers().firstValue("content-type")).hasValue("text/event-stream");
        try (BufferedReader lines = new BufferedReader(new InputStreamReader(sse.body(), StandardCharsets.UTF_8))) {
          JsonNode event = null;
          String line;
          String type = null;
          while (event == null && (line = lines.readLine()) != null) {
            if (line.startsWith("event: ")) {
              type = line.substring(7);
            } else if (line.startsWith("data: ") && "message".equals(type)) {
              event = JSON.readTree(line.substring(6));
            }
          }
          assertThat(event).as("an event over SSE on %s", version).isNotNull();
          assertThat(event.get("topic").asText()).isEqualTo(topic);
          assertThat(event.get("data").asInt()).isEqualTo(1);
        }
      }
    }
  }
}
