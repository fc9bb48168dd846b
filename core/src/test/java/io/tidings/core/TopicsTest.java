package io.tidings.core;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class TopicsTest {
  @ParameterizedTest
  @ValueSource(strings = {
    "a", "scores/match-42", "A-Z_a.z:0@9", "a/b/c", "a.b", ".a", "a.", "...", "a..b", "a/.x/b",
    "user@example.com/inbox", "x:y",
  })
  void acceptsValidNames(String name) {
    assertThat(Topics.problem(name)).isNull();
    assertThat(Topics.isValid(name)).isTrue();
  }

  @Test
  void lengthIsOneToTwoHundred() {
    assertThat(Topics.problem(null)).isEqualTo("topic is required");
    assertThat(Topics.problem("")).isEqualTo("topic is required");
    assertThat(Topics.problem("a".repeat(200))).isNull();
    assertThat(Topics.problem("a".repeat(201))).contains("longer than 200");
  }

  @ParameterizedTest
  @ValueSource(strings = {"a b", "a?b", "a#b", "a%2F", "caf\u00e9", "a\\b", "a*", "a+b", "a\nb", "\ud83d\ude00"})
  void rejectsCharactersOutsideTheSet(String name) {
    assertThat(Topics.problem(name)).contains("character");
    assertThat(Topics.isValid(name)).isFalse();
  }

  @ParameterizedTest
  @ValueSource(strings = {"/a", "a/", "/"})
  void rejectsLeadingAndTrailingSlashes(String name) {
    assertThat(Topics.problem(name)).contains("start or end");
  }

  @Test
  void rejectsEmptySegments() {
    assertThat(Topics.problem("a//b")).contains("//");
  }

  @ParameterizedTest
  @ValueSource(strings = {".", "..", "a/./b", "a/../b", "./a", "../a", "a/.", "a/.."})
  void rejectsDotSegments(String name) {
    assertThat(Topics.problem(name)).contains("segment");
  }
}
