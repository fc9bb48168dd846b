package io.tidings.core;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.Test;

class CursorTest {
  @Test
  void encodesAndParsesBack() {
    Cursor c = new Cursor("k3v7q2mz6a", 17);
    assertThat(c.encode()).isEqualTo("k3v7q2mz6a.17");
    assertThat(c.toString()).isEqualTo("k3v7q2mz6a.17");
    assertThat(Cursor.parse("k3v7q2mz6a.17")).isEqualTo(c);
    assertThat(Cursor.parse("k3v7q2mz6a.0")).isEqualTo(new Cursor("k3v7q2mz6a", 0));
    assertThat(Cursor.parse("eeeeeeeeee.9223372036854775807").offset()).isEqualTo(Long.MAX_VALUE);
    for (int i = 0; i < 50; i++) {
      Cursor random = new Cursor(Cursor.newEpoch(), i * 1_000_003L);
      assertThat(Cursor.parse(random.encode())).isEqualTo(random);
    }
  }

  @Test
  void newEpochsAreWellFormedAndDistinct() {
    String a = Cursor.newEpoch();
    assertThat(a).hasSize(10).matches("[a-z2-7]{10}");
    assertThat(Cursor.isEpoch(a)).isTrue();
    assertThat(Cursor.newEpoch()).isNotEqualTo(a);
  }

  @ParameterizedTest
  @ValueSource(strings = {
    "", "abcdefghij", "abcdefghij.", ".5", "ABCDEFGHIJ.1", "abcdeFghij.1", "abcdefghij.01",
    "abcdefghij.00", "abcdefghij.-1", "abcdefghij.+1", "abcdefghij.1x", "abcdefghij. 1",
    "abcde-ghij.1", "abcde.ghij.1", "abcdefghij.9223372036854775808", "abcdefghij.99999999999999999999",
    "abc.1", "abcdefghijk.1", "abcdefghi1.1", "abcdefghi8.1",
  })
  void rejectsMalformedCursors(String text) {
    assertThatThrownBy(() -> Cursor.parse(text)).isInstanceOf(InvalidCursorException.class);
  }

  @Test
  void rejectsNullAndOverlongCursors() {
    assertThatThrownBy(() -> Cursor.parse(null)).isInstanceOf(InvalidCursorException.class);
    String longEpoch = "a".repeat(65);
    assertThatThrownBy(() -> Cursor.parse(longEpoch + ".1")).isInstanceOf(InvalidCursorException.class);
    String overlong = "a.1" + "0".repeat(Cursor.MAX_LENGTH - 2);
    assertThat(overlong).hasSize(Cursor.MAX_LENGTH + 1);
    assertThatThrownBy(() -> Cursor.parse(overlong))
        .isInstanceOf(InvalidCursorException.class)
        .hasMessageContaining("longer than");
  }

  @Test
  void theConstructorChecksItsParts() {
    assertThatThrownBy(() -> new Cursor("abcdefghij", -1)).isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> new Cursor("ABC", 1)).isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> new Cursor(null, 1)).isInstanceOf(IllegalArgumentException.class);
  }

  @Test
  void positionsParseTheSpecialWords() {
    assertThat(Position.parse("earliest")).isSameAs(Position.EARLIEST);
    assertThat(Position.parse("now")).isSameAs(Position.NOW);
    assertThat(Position.parse("abcdefghij.3")).isEqualTo(new Cursor("abcdefghij", 3));
    assertThatThrownBy(() -> Position.parse("Earliest")).isInstanceOf(InvalidCursorException.class);
  }
}
