package io.tidings.server.webhooks;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.tidings.server.config.ConfigException;
import io.tidings.server.config.ConfigLoader;
import io.tidings.server.config.TidingsConfig;
import io.tidings.server.testing.Http;
import io.tidings.server.testing.TidingsProcess;
import io.tidings.server.webpush.VapidKeys;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The {@code webhooks} and {@code webpush} sections: defaults, refusals naming the key, the environment. */
class DeliveryConfigTest {
  private static TidingsConfig load(String yaml, Map<String, String> env) throws Exception {
    Path file = Files.createTempFile("tidings-delivery-config-", ".yaml");
    Files.writeString(file, yaml);
    return ConfigLoader.load(file, env, Map.of());
  }

  private static void refused(String yaml, String says) {
    assertThatThrownBy(() -> load(yaml, Map.of())).isInstanceOf(ConfigException.class).hasMessageContaining(says);
  }

  @Test
  void defaultsAreTheIssuesSchedule_andTheEnvironmentIsRead() throws Exception {
    TidingsConfig c = load("", Map.of("TIDINGS_WEBHOOKS__ALLOW_TARGETS", "[\"10.0.0.0/8\"]",
        "TIDINGS_WEBPUSH__URGENCY", "low"));
    assertThat(c.webhooks.allowTargets).containsExactly("10.0.0.0/8");
    assertThat(c.webpush.urgency).isEqualTo("low");
    assertThat(c.webhooks.retrySchedule).containsExactly(Duration.ZERO, Duration.ofSeconds(5), Duration.ofMinutes(5),
        Duration.ofMinutes(30), Duration.ofHours(2), Duration.ofHours(5), Duration.ofHours(10), Duration.ofHours(10));
    assertThat(c.webhooks.timeout).isEqualTo(Duration.ofSeconds(15));
    assertThat(c.webhooks.disableAfter).isEqualTo(Duration.ofDays(5));
  }

  @Test
  void mistakesAreRefusedWithTheKeyNamed() {
    refused("webhooks: { allow_targets: [\"10.0.0.0/33\"] }\n", "webhooks.allow_targets");
    refused("webhooks: { allow_targets: [\"not-an-address\"] }\n", "webhooks.allow_targets");
    refused("webhooks: { retry_schedule: [] }\n", "webhooks.retry_schedule");
    refused("webhooks: { retry_schedule: [\"-5s\"] }\n", "webhooks.retry_schedule");
    refused("webhooks: { retry_jitter: 1.5 }\n", "webhooks.retry_jitter");
    refused("webhooks: { max_in_flight: 0 }\n", "webhooks.max_in_flight");
    refused("webpush: { subject: \"ops@example.com\" }\n", "webpush.subject");
    refused("webpush: { urgency: urgent }\n", "webpush.urgency");
    refused("webpush: { vapid: { public_key: abc } }\n", "webpush.vapid");
    VapidKeys a = VapidKeys.generate();
    VapidKeys b = VapidKeys.generate();
    refused("webpush: { vapid: { public_key: " + a.publicKeyBase64Url() + ", private_key: " + b.privateKeyBase64Url()
        + " } }\n", "webpush.vapid");
  }

  @Test
  void aConfiguredVapidKeyIsTheOneServed() throws Exception {
    VapidKeys keys = VapidKeys.generate();
    String config = "webpush: { vapid: { public_key: " + keys.publicKeyBase64Url() + ", private_key: "
        + keys.privateKeyBase64Url() + " } }\n";
    try (TidingsProcess server = TidingsProcess.builder().name("webpush-configured").memory().config(config).start()) {
      assertThat(new Http(server).getOk("/v1/webpush/vapid-public-key").path("public_key").asText())
          .isEqualTo(keys.publicKeyBase64Url());
    }
  }
}
