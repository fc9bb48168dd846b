package io.tidings.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.tidings.server.testing.NodeScript;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The Node.js test harness: the pinned npm packages load and work, and their absence fails loudly. */
class NodeScriptTest {
  private static final ObjectMapper JSON = new ObjectMapper();

  @Test
  void smokeScriptLoadsThePinnedPackagesAndTalksThroughBoth() throws Exception {
    JsonNode pins = JSON.readTree(NodeScript.repoRoot().resolve("package.json").toFile()).get("devDependencies");
    try (NodeScript smoke = NodeScript.start("smoke", "one", "two words")) {
      JsonNode versions = smoke.awaitJson(Duration.ofSeconds(60));
      assertThat(versions.get("ws").asText()).isEqualTo(pins.get("ws").asText());
      assertThat(versions.get("eventsource").asText()).isEqualTo(pins.get("eventsource").asText());
      assertThat(versions.get("args")).hasSize(2);
      assertThat(versions.get("args").get(1).asText()).isEqualTo("two words");

      JsonNode roundTrip = smoke.awaitJson(Duration.ofSeconds(60));
      assertThat(roundTrip.at("/sse/id").asText()).isEqualTo("c1");
      assertThat(roundTrip.at("/sse/data/header").asText()).as("a header set through the custom fetch").isEqualTo("yes");
      assertThat(roundTrip.get("ws").asText()).isEqualTo("echo:hi");
      assertThat(smoke.waitFor(Duration.ofSeconds(30))).as(smoke.stderr()).isZero();
    }
  }

  @Test
  void missingNodeModulesFailTellingToRunNpmCi(@TempDir Path dir) throws Exception {
    Files.writeString(dir.resolve("package.json"), "{\"devDependencies\":{\"ws\":\"8.23.0\"}}");
    assertThatThrownBy(() -> NodeScript.requireNodeModules(dir))
        .isInstanceOf(AssertionError.class)
        .hasMessageContaining("npm ci")
        .hasMessageContaining("[ws]");
  }

  @Test
  void aScriptThatEndsEarlyFailsTheAwaitWithItsStandardError() throws Exception {
    try (NodeScript bad = NodeScript.start("smoke-fail")) {
      assertThatThrownBy(() -> bad.awaitLine(Duration.ofSeconds(60)))
          .isInstanceOf(AssertionError.class)
          .hasMessageContaining("exit code 3")
          .hasMessageContaining("deliberate failure");
    }
  }
}
