package io.tidings.server.webpush;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.HashSet;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** {@link PushHeaders}: the RFC 8030 Topic and Urgency values. */
class WebPushHeadersTest {
  @Test
  void topicHeader_is32CharactersOfTheUrlSafeAlphabet_stablePerName() {
    Set<String> seen = new HashSet<>();
    for (String name : new String[] {"orders", "orders/1", "orders/2", "a", "", "ünïcödé/トピック",
        "x".repeat(1000)}) {
      String t = PushHeaders.topicHeader(name);
      assertThat(t).hasSize(32).matches("[A-Za-z0-9_-]{32}");
      assertThat(PushHeaders.topicHeader(name)).isEqualTo(t);
      seen.add(t);
    }
    assertThat(seen).hasSize(7);
    // base64url(SHA-256("orders")) cut to 32 (computed with node:crypto), pinned so that it does not
    // change between releases: a change would stop a newer push replacing an older one across an upgrade.
    assertThat(PushHeaders.topicHeader("orders")).isEqualTo("HBaK2wDSCOQvkzFFKfH6nAQn62MjPO2p");
  }

  @Test
  void urgency_headerValues() {
    assertThat(PushHeaders.Urgency.VERY_LOW.headerValue()).isEqualTo("very-low");
    assertThat(PushHeaders.Urgency.HIGH.headerValue()).isEqualTo("high");
    assertThat(PushHeaders.Urgency.of("Normal")).isEqualTo(PushHeaders.Urgency.NORMAL);
    assertThat(PushHeaders.Urgency.of("very-low")).isEqualTo(PushHeaders.Urgency.VERY_LOW);
    assertThatThrownBy(() -> PushHeaders.Urgency.of("urgent")).isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> PushHeaders.Urgency.of(null)).isInstanceOf(IllegalArgumentException.class);
  }
}
