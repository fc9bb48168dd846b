package io.tidings.server.auth;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;

/** Grant patterns: exact, {@code *}, {@code **}, and {@code {sub}} that no subject can widen. */
class GrantPatternTest {
  private static boolean m(String pattern, String topic) {
    return GrantPattern.compile(pattern).matches(topic, null);
  }

  private static boolean m(String pattern, String topic, String subject) {
    return GrantPattern.compile(pattern).matches(topic, subject);
  }

  @Test
  void exactAndSingleSegmentWildcards() {
    assertThat(m("a/b", "a/b")).isTrue();
    assertThat(m("a/b", "a/b/c")).isFalse();
    assertThat(m("a/b", "a")).isFalse();
    assertThat(m("a/*", "a/x")).isTrue();
    assertThat(m("a/*", "a/x/y")).as("* never crosses /").isFalse();
    assertThat(m("a/*", "a")).isFalse();
    assertThat(m("*/b", "x/b")).isTrue();
    assertThat(m("*", "a/b")).isFalse();
  }

  @Test
  void doubleStarIsOneOrMoreSegments() {
    assertThat(m("a/**", "a/x")).isTrue();
    assertThat(m("a/**", "a/x/y")).isTrue();
    assertThat(m("a/**", "a")).as("a/** does not match a").isFalse();
    assertThat(m("a/**", "ab/x")).isFalse();
    assertThat(m("**", "a")).isTrue();
    assertThat(m("**", "a/b/c")).isTrue();
    assertThat(m("a/**/z", "a/z")).isFalse();
    assertThat(m("a/**/z", "a/x/z")).isTrue();
    assertThat(m("a/**/z", "a/x/y/z")).isTrue();
    assertThat(m("**/**/**/**/**/**/**/**/**/**/**/**/x", ("s/".repeat(90)) + "y"))
        .as("many ** against many segments answers at once, and correctly").isFalse();
  }

  @Test
  void theSubjectIsExactlyOneLiteralSegment() {
    assertThat(m("users/{sub}/**", "users/alice/inbox", "alice")).isTrue();
    assertThat(m("users/{sub}", "users/alice", "alice")).isTrue();
    assertThat(m("users/{sub}/**", "users/bob/inbox", "alice")).isFalse();
    assertThat(m("users/{sub}/**", "users/alice", "alice")).isFalse();
    assertThat(m("users/{sub}/**", "users/alice/x", null)).as("no subject, no match").isFalse();
  }

  @Test
  void subjectsThatWouldWidenAGrantMatchNothing() {
    String[][] attempts = {
        {"x/y", "users/x/y/z"}, {"x/y", "users/x/y"}, {"*", "users/anyone/z"}, {"*", "users/*/z"},
        {"**", "users/a/b/c"}, {".", "users/./z"}, {"..", "users/../z"}, {"a/../b", "users/a/../b/z"},
        {"a/../b", "users/b/z"}, {"", "users//z"}, {"a b", "users/a b/z"}, {"é", "users/é/z"},
    };
    for (String[] a : attempts) {
      assertThat(m("users/{sub}/**", a[1], a[0])).as("subject '%s' on %s", a[0], a[1]).isFalse();
      assertThat(m("users/{sub}", a[1], a[0])).as("subject '%s' on %s", a[0], a[1]).isFalse();
    }
  }

  @Test
  void malformedPatternsAreRefused() {
    for (String bad : new String[] {"", "a//b", "/a", "a/", "a*", "a/*b", "a/{sub}x", "{sub", "a/***", "a b"}) {
      assertThatThrownBy(() -> GrantPattern.compile(bad)).as("'%s'", bad).isInstanceOf(IllegalArgumentException.class);
    }
  }

  @Test
  void theTokenCacheIsBoundedAndForgetsExpiredTokens() {
    TokenCache cache = new TokenCache(2, 60_000);
    Principal p = new Principal(Principal.Kind.JWT, "a", "a", Grants.NONE, 10_000);
    cache.put("1", p, 0);
    cache.put("2", p, 0);
    cache.put("3", p, 0);
    assertThat(cache.size()).isEqualTo(2);
    assertThat(cache.get("1", 0)).as("the least recently used went first").isNull();
    assertThat(cache.get("3", 9_999)).isSameAs(p);
    assertThat(cache.get("3", 10_000)).as("an expired token is verified again").isNull();
    cache.put("4", new Principal(Principal.Kind.JWT, "b", "b", Grants.NONE, Long.MAX_VALUE), 0);
    assertThat(cache.get("4", 60_000)).as("kept at most the maximum age").isNull();
  }
}
