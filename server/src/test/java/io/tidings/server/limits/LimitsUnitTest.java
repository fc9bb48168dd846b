package io.tidings.server.limits;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.tidings.server.auth.Grants;
import io.tidings.server.auth.Principal;
import io.tidings.server.config.ConfigException;
import io.tidings.server.config.ConfigLoader;
import io.tidings.server.config.TidingsConfig;
import io.tidings.server.http.ApiException;
import io.tidings.server.ops.Metrics;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The limits configuration, the bounded key tables, keys, and the caps, without a server. */
class LimitsUnitTest {
  private static TidingsConfig load(String yaml) throws Exception {
    Path file = Files.createTempFile("tidings-limits-", ".yaml");
    Files.writeString(file, yaml);
    return ConfigLoader.load(file, Map.of(), Map.of());
  }

  @Test
  void configuration_defaultsLimitNoRate_andKeysAreRead() throws Exception {
    TidingsConfig none = load("server: { port: 0 }\n");
    assertThat(none.limits.rate).isNull();
    assertThat(none.limits.maxConnections).isEqualTo(100_000);
    assertThat(none.limits.pollAdviceFactor).isZero();
    assertThat(none.server.requestTimeout).isEqualTo(Duration.ofSeconds(30));
    assertThat(load("limits:\n").limits.rate).isNull();
    TidingsConfig c = load("""
        server: { request_timeout: 5s }
        limits:
          rate: { publish_per_second: 1000, polls_per_second: 20, connections_per_second: 50,
                  subscribe_per_second: 10, burst: 2, per: ip, ws_max_refusals: 5, ws_refusal_window: 3s }
          max_connections: 10
          max_connections_per_principal: 3
          poll_advice_factor: 4
          max_keys: 1000
        """);
    assertThat(c.limits.rate.publishPerSecond).isEqualTo(1000.0);
    assertThat(c.limits.rate.pollsPerSecond).isEqualTo(20.0);
    assertThat(c.limits.rate.connectionsPerSecond).isEqualTo(50.0);
    assertThat(c.limits.rate.subscribePerSecond).isEqualTo(10.0);
    assertThat(c.limits.rate.per).isEqualTo("ip");
    assertThat(c.limits.rate.wsRefusalWindow).isEqualTo(Duration.ofSeconds(3));
    assertThat(c.limits.maxConnectionsPerPrincipal).isEqualTo(3);
    assertThat(c.server.requestTimeout).isEqualTo(Duration.ofSeconds(5));
    TidingsConfig env = ConfigLoader.load(null, Map.of("TIDINGS_LIMITS__RATE__POLLS_PER_SECOND", "7"), Map.of());
    assertThat(env.limits.rate.pollsPerSecond).isEqualTo(7.0);
  }

  @Test
  void configuration_badValuesAreRefusedByName() {
    assertRefused("limits: { rate: { publish_per_second: 0 } }", "limits.rate.publish_per_second");
    assertRefused("limits: { rate: { polls_per_second: -1 } }", "limits.rate.polls_per_second");
    assertRefused("limits: { rate: { per: user } }", "limits.rate.per");
    assertRefused("limits: { rate: { burst: 0 } }", "limits.rate.burst");
    assertRefused("limits: { rate: { connections_per_secnd: 1 } }", "connections_per_secnd");
    assertRefused("limits: { max_connections: -1 }", "limits.max_connections");
    assertRefused("limits: { poll_advice_factor: 0.5 }", "limits.poll_advice_factor");
    assertRefused("server: { request_timeout: 0s }", "server.request_timeout");
  }

  private static void assertRefused(String yaml, String says) {
    assertThatThrownBy(() -> load(yaml)).isInstanceOf(ConfigException.class).hasMessageContaining(says);
  }

  @Test
  void aKeyedTableStaysBoundedUnderAFloodOfKeys_andForgetsIdleEntries() {
    KeyedTable<Object> table = new KeyedTable<>(1_000, 1_000_000, k -> new Object());
    long now = 0;
    for (int i = 0; i < 200_000; i++) {
      table.get("ip:" + i, now);
      assertThat(table.size()).isLessThanOrEqualTo(1_000);
    }
    Object kept = table.get("kept", now);
    assertThat(table.get("kept", now)).isSameAs(kept);
    table.get("kept", now + 900_000);
    table.expire(now + 1_500_000);
    assertThat(table.size()).as("only the entry touched within the idle time").isEqualTo(1);
    assertThat(table.get("kept", now + 1_500_000)).isSameAs(kept);
  }

  @Test
  void keys_principalsByIdentity_othersByIp_ipv6ByItsSlash64() {
    Limits limits = new Limits(new TidingsConfig.Limits(), new Metrics(), t -> 1, 1);
    Principal key = new Principal(Principal.Kind.API_KEY, "backend", "backend", Grants.ALL, Long.MAX_VALUE);
    Principal jwt = new Principal(Principal.Kind.JWT, "alice", "alice", Grants.ALL, Long.MAX_VALUE);
    Principal noSubject = new Principal(Principal.Kind.JWT, "jwt", null, Grants.ALL, Long.MAX_VALUE);
    assertThat(limits.key(key, "10.0.0.1")).isEqualTo("key:backend");
    assertThat(limits.key(jwt, "10.0.0.1")).isEqualTo("jwt:alice");
    assertThat(limits.key(noSubject, "10.0.0.1")).isEqualTo("ip:10.0.0.1");
    assertThat(limits.key(Principal.OPEN, "10.0.0.1")).isEqualTo("ip:10.0.0.1");
    assertThat(limits.key(Principal.OPEN, "2001:db8:1:2:aaaa::1"))
        .isEqualTo(limits.key(Principal.OPEN, "2001:db8:1:2:bbbb::7")).isNotEqualTo(limits.key(Principal.OPEN,
            "2001:db8:1:3::1"));
    TidingsConfig.Limits perIp = new TidingsConfig.Limits();
    perIp.rate = new TidingsConfig.Rate();
    perIp.rate.per = "ip";
    assertThat(new Limits(perIp, new Metrics(), t -> 1, 1).key(key, "10.0.0.1")).isEqualTo("ip:10.0.0.1");
  }

  @Test
  void capsAdmitUpToTheirLimit_andTicketsGiveTheirPlaceBackOnce() {
    TidingsConfig.Limits config = new TidingsConfig.Limits();
    config.maxConnections = 3;
    config.maxConnectionsPerPrincipal = 2;
    Limits limits = new Limits(config, new Metrics(), t -> 1, 1);
    Ticket a1 = limits.admit("a");
    Ticket a2 = limits.admit("a");
    assertThat(limits.admit("a")).as("a third for a").isNull();
    assertThat(limits.refusesNow("a")).isTrue();
    Ticket b1 = limits.admit("b");
    assertThat(limits.admit("c")).as("over the global cap").isNull();
    a1.release();
    a1.release();
    assertThat(limits.open()).isEqualTo(2);
    assertThat(limits.admit("c")).isNotNull();
    assertThat(a2).isNotNull();
    assertThat(b1).isNotNull();
  }

  @Test
  void aBucketRefusesBeyondItsCapacity_withTheWaitForTheNextToken() {
    TidingsConfig.Limits config = new TidingsConfig.Limits();
    config.rate = new TidingsConfig.Rate();
    config.rate.publishPerSecond = 0.5;
    config.rate.burst = 4;
    Limits limits = new Limits(config, new Metrics(), t -> 1, 1);
    for (int i = 0; i < 2; i++) {
      assertThat(limits.take(Limits.Kind.PUBLISH, "k")).as("token %d of a burst of 2", i).isZero();
    }
    assertThat(limits.take(Limits.Kind.PUBLISH, "k")).as("seconds to the next token").isBetween(1, 2);
    assertThat(limits.take(Limits.Kind.PUBLISH, "other")).isZero();
    assertThat(limits.take(Limits.Kind.POLL, "k")).as("polls are not limited").isZero();
    assertThatThrownBy(() -> limits.check(Limits.Kind.PUBLISH, "k", false)).isInstanceOfSatisfying(ApiException.class,
        e -> {
          assertThat(e.status()).isEqualTo(429);
          assertThat(e.code()).isEqualTo("rate_limited");
          assertThat(e.retryAfterSeconds()).isBetween(1, 2);
        });
  }
}
