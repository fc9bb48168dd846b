package io.tidings.server.http;

import static org.assertj.core.api.Assertions.assertThat;

import io.tidings.server.testing.Http;
import io.tidings.server.testing.TidingsProcess;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** The JavaScript client and the demos, served from the classpath at {@code /client/} and {@code /examples/}. */
class StaticFilesTest {
  private static TidingsProcess server;
  private static Http http;

  @BeforeAll
  static void start() throws Exception {
    server = TidingsProcess.builder().name("static-files").memory().start();
    http = new Http(server);
  }

  @AfterAll
  static void stop() {
    if (server != null) {
      server.close();
    }
  }

  @Test
  void theClientsTypesAreServedAsTheyAreInTheRepository_withAnEtagThatRevalidates() throws Exception {
    String onDisk = Files.readString(Path.of("..", "client-js", "src", "tidings.d.ts"));
    Http.Reply r = http.get("/client/tidings.d.ts");
    assertThat(r.status()).isEqualTo(200);
    assertThat(r.body()).isEqualTo(onDisk);
    assertThat(r.header("Content-Type")).isEqualTo("application/typescript; charset=utf-8");
    assertThat(r.header("Cache-Control")).isEqualTo("no-cache");
    String etag = r.header("ETag");
    assertThat(etag).matches("\"[0-9a-f]{24}\"");

    Http.Reply again = http.get("/client/tidings.d.ts", "If-None-Match", "\"other\", " + etag);
    assertThat(again.status()).isEqualTo(304);
    assertThat(again.body()).isEmpty();
    assertThat(again.header("ETag")).isEqualTo(etag);

    Http.Reply head = http.head("/client/tidings.d.ts");
    assertThat(head.status()).isEqualTo(200);
    assertThat(head.header("Content-Length")).isEqualTo(Integer.toString(onDisk.getBytes(java.nio.charset.StandardCharsets.UTF_8).length));
  }

  @Test
  void unknownFiles_andPathTricks_are404sInTheApisErrorShape() {
    for (String path : new String[] {"/client/nope.js", "/client/", "/client/%2e%2e/pom.xml", "/client/../pom.xml",
        "/client//tidings.d.ts", "/examples/nope/"}) {
      Http.Reply r = http.get(path);
      assertThat(r.status()).as(path).isEqualTo(404);
      assertThat(r.json().path("error").path("code").asText()).as(path).isEqualTo("not_found");
    }
  }

  @Test
  void onlyReadsAreAllowed() {
    Http.Reply r = http.post("/client/tidings.d.ts", "application/json", "{}");
    assertThat(r.status()).isEqualTo(405);
    assertThat(r.header("Allow")).isEqualTo("GET, HEAD");
  }

  @Test
  void contentTypesFollowTheExtension() {
    assertThat(StaticFiles.contentType("a/tidings.js")).isEqualTo("text/javascript; charset=utf-8");
    assertThat(StaticFiles.contentType("index.html")).isEqualTo("text/html; charset=utf-8");
    assertThat(StaticFiles.contentType("x.d.ts")).isEqualTo("application/typescript; charset=utf-8");
    assertThat(StaticFiles.contentType("style.CSS")).isEqualTo("text/css; charset=utf-8");
    assertThat(StaticFiles.contentType("blob")).isEqualTo("application/octet-stream");
  }
}
