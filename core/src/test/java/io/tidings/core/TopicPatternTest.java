package io.tidings.core;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class TopicPatternTest {
  private static boolean matches(String pattern, String topic) {
    return TopicPattern.compile(pattern).matches(topic);
  }

  @Test
  void exactSegmentsMatchOnlyThemselves() {
    assertThat(matches("a/b", "a/b")).isTrue();
    assertThat(matches("a/b", "a/bc")).isFalse();
    assertThat(matches("a/b", "a")).isFalse();
    assertThat(matches("a/b", "a/b/c")).isFalse();
  }

  @Test
  void aStarIsExactlyOneSegment() {
    assertThat(matches("*", "a")).isTrue();
    assertThat(matches("*", "a/b")).isFalse();
    assertThat(matches("a/*", "a/x")).isTrue();
    assertThat(matches("a/*", "a")).isFalse();
    assertThat(matches("a/*", "a/x/y")).isFalse();
    assertThat(matches("*/b", "x/b")).isTrue();
    assertThat(matches("*/b", "x/c")).isFalse();
  }

  @Test
  void aLoneDoubleStarMatchesEveryTopic() {
    assertThat(matches("**", "a")).isTrue();
    assertThat(matches("**", "a/b/c")).isTrue();
  }

  @Test
  void aTrailingDoubleStarNeedsAtLeastOneSegment() {
    assertThat(matches("a/**", "a/x")).isTrue();
    assertThat(matches("a/**", "a/x/y")).isTrue();
    assertThat(matches("a/**", "a")).isFalse();
    assertThat(matches("a/**", "ab/x")).isFalse();
    assertThat(matches("a/**", "b/a/x")).isFalse();
  }

  @Test
  void aMiddleDoubleStarSpansOneOrMoreSegments() {
    assertThat(matches("a/**/z", "a/x/z")).isTrue();
    assertThat(matches("a/**/z", "a/x/y/z")).isTrue();
    assertThat(matches("a/**/z", "a/z")).isFalse();
    assertThat(matches("a/**/z", "a/x/z/q")).isFalse();
    assertThat(matches("a/**/z", "a/z/z")).isTrue();
    assertThat(matches("**/z", "z")).isFalse();
    assertThat(matches("**/z", "a/b/z")).isTrue();
    assertThat(matches("a/**/*/z", "a/x/y/z")).isTrue();
    assertThat(matches("a/**/*/z", "a/x/z")).isFalse();
  }

  @ParameterizedTest
  @ValueSource(strings = {"", "a//b", "/a", "a/", "a*", "a/**x", "a/*b", "***"})
  void rejectsMalformedPatterns(String text) {
    assertThatThrownBy(() -> TopicPattern.compile(text)).isInstanceOf(IllegalArgumentException.class);
  }

  @Test
  void equalityFollowsTheText() {
    assertThat(TopicPattern.compile("a/**")).isEqualTo(TopicPattern.compile("a/**"));
    assertThat(TopicPattern.compile("a/**")).hasSameHashCodeAs(TopicPattern.compile("a/**"));
    assertThat(TopicPattern.compile("a/*")).isNotEqualTo(TopicPattern.compile("a/**"));
    assertThat(TopicPattern.compile("a/*")).hasToString("a/*");
  }
}
