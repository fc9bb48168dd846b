package io.tidings.server;

import static org.assertj.core.api.Assertions.assertThat;

import io.tidings.server.testing.CommandRun;
import io.tidings.server.testing.Http;
import io.tidings.server.testing.TidingsProcess;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * {@code serve} without an {@code auth} section: it refuses every address but loopback unless told
 * {@code --insecure}, and warns whenever it runs open. (Binding every interface sends no traffic
 * anywhere: the tests talk to 127.0.0.1 only.)
 */
class InsecureBindTest {
  @Test
  void anOpenServerOnEveryInterfaceRefusesToStart() throws Exception {
    Path data = Files.createTempDirectory("tidings-insecure-");
    CommandRun.Result r = CommandRun.tidings(Map.of(), 60, "serve", "--host", "0.0.0.0", "--port", "0",
        "--store", "memory", "--data", data.toString());
    assertThat(r.timedOut()).as(r.output()).isFalse();
    assertThat(r.exitCode()).as(r.output()).isEqualTo(2);
    assertThat(r.output()).contains("refusing").contains("--insecure").doesNotContain("listening on");
  }

  @Test
  void withInsecureItStarts_andWarns() throws Exception {
    try (TidingsProcess p = TidingsProcess.builder().name("insecure").memory().args("--host", "0.0.0.0", "--insecure")
        .start()) {
      Http http = new Http(URI.create("http://127.0.0.1:" + p.uri().getPort()));
      assertThat(http.get("/healthz").status()).isEqualTo(200);
      assertThat(String.join("\n", p.output())).contains("WARNING: --insecure").contains("no auth section is configured");
    }
  }

  @Test
  void withAuthConfiguredEveryInterfaceIsFine_andOnLoopbackAnOpenServerOnlyWarns() throws Exception {
    String auth = "auth: { anonymous: { subscribe: [\"public/**\"] } }\n";
    try (TidingsProcess secured = TidingsProcess.builder().name("insecure-auth").memory().args("--host", "0.0.0.0")
        .config(auth).start();
        TidingsProcess loopback = TidingsProcess.builder().name("insecure-loopback").memory().start()) {
      Http http = new Http(URI.create("http://127.0.0.1:" + secured.uri().getPort()));
      assertThat(http.get("/v1/state?topic=public/a").status()).isEqualTo(200);
      assertThat(http.get("/v1/state?topic=private/a").status()).isEqualTo(401);
      assertThat(String.join("\n", secured.output())).doesNotContain("no auth section");
      assertThat(String.join("\n", loopback.output())).contains("no auth section is configured");
    }
  }
}
