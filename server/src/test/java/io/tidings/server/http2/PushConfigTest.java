package io.tidings.server.http2;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.tidings.server.config.ConfigException;
import io.tidings.server.config.ConfigLoader;
import io.tidings.server.config.TidingsConfig;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The push and Early Hints keys of {@code pull}: defaults, bundles, refusals naming the key. */
class PushConfigTest {
  private static TidingsConfig load(String yaml) throws Exception {
    Path file = Files.createTempFile("tidings-push-config-", ".yaml");
    Files.writeString(file, yaml);
    return ConfigLoader.load(file, Map.of(), Map.of());
  }

  private static void refused(String yaml, String says) {
    assertThatThrownBy(() -> load(yaml)).isInstanceOf(ConfigException.class).hasMessageContaining(says);
  }

  @Test
  void defaults_andBundles() throws Exception {
    TidingsConfig d = load("");
    assertThat(d.pull.serverPush).isTrue();
    assertThat(d.pull.earlyHints).isTrue();
    assertThat(d.pull.maxPushTopics).isEqualTo(16);
    assertThat(d.pull.pushBundles).isEmpty();

    TidingsConfig c = load("""
        pull:
          server_push: false
          early_hints: false
          max_push_topics: 3
          push_bundles:
            dashboard: [scores/a, scores/b]
            Team_2.x: [team/2]
        """);
    assertThat(c.pull.serverPush).isFalse();
    assertThat(c.pull.earlyHints).isFalse();
    assertThat(c.pull.pushBundles).containsOnlyKeys("dashboard", "Team_2.x");
    assertThat(c.pull.pushBundles.get("dashboard")).containsExactly("scores/a", "scores/b");
  }

  @Test
  void mistakesAreRefusedWithTheKeyNamed() {
    refused("pull: { max_push_topics: 0 }\n", "pull.max_push_topics");
    refused("pull: { max_push_topics: 101 }\n", "pull.max_push_topics");
    refused("pull: { push_bundles: { dash: [\"a//b\"] } }\n", "pull.push_bundles.dash");
    refused("pull: { push_bundles: { dash: [] } }\n", "pull.push_bundles.dash");
    refused("pull: { push_bundles: { \"da sh\": [a] } }\n", "pull.push_bundles.da sh");
    refused("pull: { max_push_topics: 1, push_bundles: { dash: [a, b] } }\n", "more than pull.max_push_topics");
  }
}
