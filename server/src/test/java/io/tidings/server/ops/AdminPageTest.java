package io.tidings.server.ops;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import io.tidings.server.testing.NodeScript;
import io.tidings.server.testing.TidingsProcess;
import io.tidings.server.testing.Tokens;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * The admin page in headless Chromium ({@code server/src/test/js/admin-page.mjs}, playwright-core and
 * {@code /usr/bin/chromium}) against a server with auth configured: it asks for a token, goes live with
 * an admin key, shows connection counts and a topic's head and subscribers updating as the script
 * subscribes and publishes, keeps the token across a reload, refuses a key without the admin grant
 * with a message, and fits a phone's width. Screenshots go to {@code server/target/test-artifacts/}.
 */
class AdminPageTest {
  private static final Duration STEP = Duration.ofSeconds(90);

  @Test
  void thePageShowsLiveConnectionsAndTopicHeads_andRefusesANonAdminToken() throws Exception {
    Path artifacts = NodeScript.repoRoot().resolve("server/target/test-artifacts");
    Files.createDirectories(artifacts);
    try (TidingsProcess server = TidingsProcess.builder().name("admin-page").config("""
            auth:
              api_keys:
                - { name: ops, sha256: "%s", publish: ["**"], subscribe: ["**"], admin: true }
                - { name: app, sha256: "%s", publish: ["**"], subscribe: ["**"] }
            """.formatted(Tokens.sha256Hex(AdminApiTest.ADMIN_KEY), Tokens.sha256Hex(AdminApiTest.APP_KEY))).start();
        NodeScript page = NodeScript.start("admin-page", Duration.ofMinutes(6), Map.of(), server.uri().toString(),
            AdminApiTest.ADMIN_KEY, AdminApiTest.APP_KEY, artifacts.toString())) {
      JsonNode login = next(page, "login");
      assertThat(login.path("status").asInt()).as("the page without credentials").isEqualTo(401);
      assertThat(login.path("login").asBoolean()).as("the token form shows").isTrue();
      assertThat(login.path("dashboard").asBoolean()).isFalse();

      JsonNode connected = next(page, "connected");
      assertThat(connected.path("status").asText()).isEqualTo("Live");
      assertThat(connected.path("tokenKept").asBoolean()).as("the token is in sessionStorage").isTrue();
      assertThat(connected.path("login").asBoolean()).isFalse();

      JsonNode traffic = next(page, "traffic");
      assertThat(traffic.path("sse").asInt()).isEqualTo(connected.path("sse").asInt() + 1);
      assertThat(traffic.path("ws").asInt()).isEqualTo(connected.path("ws").asInt() + 1);
      assertThat(traffic.path("head").asLong()).isEqualTo(5);
      assertThat(traffic.path("subscribers").asInt()).isEqualTo(2);

      JsonNode updated = next(page, "updated");
      assertThat(updated.path("head").asLong()).as("the head follows the publishes").isEqualTo(12);
      assertThat(updated.path("published").asLong()).isGreaterThanOrEqualTo(12);

      JsonNode reloaded = next(page, "reloaded");
      assertThat(reloaded.path("login").asBoolean()).as("no new sign-in after a reload").isFalse();
      assertThat(reloaded.path("head").asLong()).isEqualTo(12);

      JsonNode disconnected = next(page, "disconnected");
      assertThat(disconnected.path("subscribers").asInt()).isZero();

      JsonNode refused = next(page, "refused");
      assertThat(refused.path("message").asText()).as("what the page says").contains("admin grant");
      assertThat(refused.path("dashboard").asBoolean()).isFalse();

      JsonNode phone = next(page, "phone");
      assertThat(phone.path("scrollWidth").asInt()).as("no sideways scrolling on a phone")
          .isLessThanOrEqualTo(phone.path("width").asInt());

      JsonNode done = next(page, "done");
      assertThat(done.path("pageErrors")).as("script errors in the page").isEmpty();
      assertThat(page.waitFor(STEP)).isZero();
    }
    for (String shot : new String[] {"admin-page.png", "admin-page-refused.png", "admin-page-phone.png"}) {
      assertThat(artifacts.resolve(shot)).isRegularFile();
      assertThat(Files.size(artifacts.resolve(shot))).isGreaterThan(10_000);
    }
  }

  /** The script's next line, which must be {@code step} and not an error. */
  private static JsonNode next(NodeScript page, String step) throws InterruptedException {
    JsonNode line = page.awaitJson(STEP);
    assertThat(line.has("error") ? line.path("error").asText() : null).as("step %s failed", line.path("step").asText())
        .isNull();
    assertThat(line.path("step").asText()).isEqualTo(step);
    return line;
  }
}
