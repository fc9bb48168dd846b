package io.tidings.server.http2;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import io.tidings.server.testing.Http;
import io.tidings.server.testing.Nghttp;
import io.tidings.server.testing.NodeScript;
import io.tidings.server.testing.TidingsProcess;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * {@code 103 Early Hints} before the answer to {@code GET /v1/state?topic=A&push=B,C}: on the wire
 * over HTTP/1.1 and h2, never to an HTTP/1.0 client, off when configured so; and the everyday
 * clients (the JDK's HttpClient, Node's fetch and node:http) are not thrown by it.
 */
class EarlyHintsTest {
  private static final String LINK_B = "</v1/state?topic=eh/b>; rel=preload; as=fetch; crossorigin";
  private static final String LINK_C = "</v1/state?topic=eh/c>; rel=preload; as=fetch; crossorigin";
  private static final String POLL = "/v1/state?topic=eh/a&push=eh/b,eh/c";

  private static TidingsProcess server;
  private static TidingsProcess off;

  @BeforeAll
  static void start() throws Exception {
    server = TidingsProcess.builder().name("early-hints").memory().start();
    off = TidingsProcess.builder().name("early-hints-off").memory().config("""
        pull: { early_hints: false, server_push: false }
        """).start();
    for (TidingsProcess p : List.of(server, off)) {
      new Http(p).publishOk("eh/a", "{\"type\":\"put\",\"key\":\"k\",\"data\":{\"n\":1}}");
    }
  }

  @AfterAll
  static void stop() {
    for (TidingsProcess p : new TidingsProcess[] {server, off}) {
      if (p != null) {
        p.close();
      }
    }
  }

  @Test
  void http11_gets103WithALinkPerTopic_beforeThe200() throws Exception {
    List<Head> heads = exchange(server.uri(), "HTTP/1.1", POLL);

    assertThat(heads).hasSize(2);
    assertThat(heads.get(0).statusLine()).isEqualTo("HTTP/1.1 103 Early Hints");
    assertThat(heads.get(0).values("link")).containsExactly(LINK_B, LINK_C);
    assertThat(heads.get(1).statusLine()).startsWith("HTTP/1.1 200");
    assertThat(heads.get(1).values("link")).as("the final response carries no preload links").isEmpty();
    assertThat(Http.JSON.readTree(heads.get(1).body()).get("topic").asText()).isEqualTo("eh/a");
    Http.Reply plain = new Http(server).get("/v1/state?topic=eh/a");
    assertThat(heads.get(1).values("etag")).as("as cacheable as without push").containsExactly(plain.header("etag"));
    assertThat(heads.get(1).values("cache-control")).containsExactly(plain.header("cache-control"));
    assertThat(heads.get(1).values("vary")).isEmpty();
  }

  @Test
  void http10_getsNoInterimResponse() throws Exception {
    List<Head> heads = exchange(server.uri(), "HTTP/1.0", POLL);

    assertThat(heads).hasSize(1);
    assertThat(heads.get(0).statusLine()).matches("HTTP/1\\.[01] 200 .*");
    assertThat(Http.JSON.readTree(heads.get(0).body()).get("topic").asText()).isEqualTo("eh/a");
  }

  @Test
  void aPollWithoutCompanions_orAHead_getsNoHints() throws Exception {
    assertThat(exchange(server.uri(), "HTTP/1.1", "/v1/state?topic=eh/a")).hasSize(1);
    List<Head> head = exchange(server.uri(), "HTTP/1.1", "HEAD", POLL);
    assertThat(head).hasSize(1);
    assertThat(head.get(0).statusLine()).startsWith("HTTP/1.1 200");
  }

  @Test
  void h2_sends103HeadersBeforeThe200() throws Exception {
    Nghttp.Transcript t = Nghttp.get(server.uri(POLL).toString(), "--no-push");

    List<Nghttp.Block> blocks = t.blocks(t.requestStream());
    assertThat(blocks).hasSize(2);
    assertThat(blocks.get(0).status()).isEqualTo(103);
    assertThat(blocks.get(0).all("link")).containsExactly(LINK_B, LINK_C);
    assertThat(blocks.get(1).status()).isEqualTo(200);
    assertThat(blocks.get(0).seq()).isLessThan(blocks.get(1).seq());
  }

  @Test
  void switchedOff_noHintsAndNoPushes() throws Exception {
    assertThat(exchange(off.uri(), "HTTP/1.1", POLL)).hasSize(1);
    Nghttp.Transcript t = Nghttp.get(off.uri(POLL).toString());
    assertThat(t.blocks()).hasSize(1);
    assertThat(t.response(t.requestStream()).status()).isEqualTo(200);
    assertThat(t.promises()).isEmpty();
  }

  @Test
  void jdkHttpClient_readsThePollPastThe103() throws Exception {
    for (HttpClient.Version version : HttpClient.Version.values()) {
      // HTTP_2 on http:// is an h2c upgrade: the 103 then comes on stream 1 of the new connection.
      HttpClient client = HttpClient.newBuilder().version(version).connectTimeout(Duration.ofSeconds(10)).build();
      HttpResponse<String> r = client.send(HttpRequest.newBuilder(server.uri(POLL)).timeout(Duration.ofSeconds(20)).build(),
          HttpResponse.BodyHandlers.ofString());
      assertThat(r.statusCode()).as("%s", version).isEqualTo(200);
      assertThat(Http.JSON.readTree(r.body()).at("/entries/0/data/n").asInt()).as("%s", version).isEqualTo(1);
      // The same connection serves the next request: the interim response left nothing behind.
      HttpResponse<String> again = client.send(HttpRequest.newBuilder(server.uri(POLL)).timeout(Duration.ofSeconds(20)).build(),
          HttpResponse.BodyHandlers.ofString());
      assertThat(again.statusCode()).as("%s", version).isEqualTo(200);
      assertThat(again.version()).isEqualTo(version);
    }
  }

  @Test
  void nodeFetchAndNodeHttp_readThePollPastThe103() throws Exception {
    try (NodeScript node = NodeScript.start("early-hints-clients", server.uri(POLL).toString())) {
      JsonNode result = node.awaitJson(Duration.ofSeconds(60));
      assertThat(result.at("/fetch/status").asInt()).isEqualTo(200);
      assertThat(result.at("/fetch/body/topic").asText()).isEqualTo("eh/a");
      assertThat(result.at("/http/status").asInt()).isEqualTo(200);
      assertThat(result.at("/http/body/topic").asText()).isEqualTo("eh/a");
      assertThat(result.at("/http/informational/0/status").asInt()).isEqualTo(103);
      assertThat(result.at("/http/informational/0/link").toString()).contains("topic=eh/b").contains("topic=eh/c");
      assertThat(node.waitFor(Duration.ofSeconds(30))).as(node.stderr()).isZero();
    }
  }

  /** A response head read off the socket, with the body that followed it (none for a 1xx). */
  record Head(String statusLine, List<Map.Entry<String, String>> fields, String body) {
    List<String> values(String name) {
      return fields.stream().filter(f -> f.getKey().equalsIgnoreCase(name)).map(Map.Entry::getValue).toList();
    }
  }

  private static List<Head> exchange(URI base, String version, String pathAndQuery) throws IOException {
    return exchange(base, version, "GET", pathAndQuery);
  }

  /** One request on a fresh connection that the server closes after answering; every head it sent, in order. */
  private static List<Head> exchange(URI base, String version, String method, String pathAndQuery) throws IOException {
    byte[] all;
    try (Socket socket = new Socket()) {
      socket.connect(new InetSocketAddress(base.getHost(), base.getPort()), 10_000);
      socket.setSoTimeout(30_000);
      socket.getOutputStream().write((method + " " + pathAndQuery + " " + version + "\r\n"
          + "Host: " + base.getHost() + ":" + base.getPort() + "\r\n"
          + "Connection: close\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
      socket.getOutputStream().flush();
      all = socket.getInputStream().readAllBytes();
    }
    String text = new String(all, StandardCharsets.ISO_8859_1);
    List<Head> heads = new ArrayList<>();
    int at = 0;
    while (at < text.length()) {
      int end = text.indexOf("\r\n\r\n", at);
      assertThat(end).as("a complete head in %s", text).isPositive();
      String[] lines = text.substring(at, end).split("\r\n");
      List<Map.Entry<String, String>> fields = new ArrayList<>();
      int length = 0;
      for (int i = 1; i < lines.length; i++) {
        int colon = lines[i].indexOf(':');
        String name = lines[i].substring(0, colon).trim();
        String value = lines[i].substring(colon + 1).trim();
        fields.add(Map.entry(name, value));
        if (name.toLowerCase(Locale.ROOT).equals("content-length")) {
          length = Integer.parseInt(value);
        }
      }
      at = end + 4;
      boolean interim = lines[0].split(" ")[1].startsWith("1");
      int bodyLength = interim || method.equals("HEAD") ? 0 : length;
      heads.add(new Head(lines[0], fields, text.substring(at, at + bodyLength)));
      at += bodyLength;
    }
    return heads;
  }
}
