package io.tidings.core;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.Test;

class CursorTest {
  @Test
  void encodesAndParsesBack() {
    Cursor c = new Cursor("k3v9q2mz7a", 17);
    assertThat(c.encode()).isEqualTo("k3v9q2mz7a.17");
    assertThat(c.toString()).isEqualTo("k3v9q2mz7a.17");
    assertThat(Cursor.parse("k3v9q2mz7a.17")).isEqualTo(c);
    assertThat(Cursor.parse("k3v9q2mz7a.0")).isEqualTo(new Cursor("k3v9q2mz7a", 0));
    assertThat(Cursor.parse("e.9223372036854775807").offset()).isEqualTo(Long.MAX_VALUE);
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
    "", "abc", "abc.", ".5", "ABC.1", "abC.1", "abc.01", "abc.00", "abc.-1", "abc.+1", "abc.1x",
    "abc. 1", "a-b.1", "a.b.1", "abc.9223372036854775808", "abc.99999999999999999999",
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
    assertThatThrownBy(() -> new Cursor("abc", -1)).isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> new Cursor("ABC", 1)).isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> new Cursor(null, 1)).isInstanceOf(IllegalArgumentException.class);
  }

  @Test
  void positionsParseTheSpecialWords() {
    assertThat(Position.parse("earliest")).isSameAs(Position.EARLIEST);
    assertThat(Position.parse("now")).isSameAs(Position.NOW);
    assertThat(Position.parse("abc.3")).isEqualTo(new Cursor("abc", 3));
    assertThatThrownBy(() -> Position.parse("Earliest")).isInstanceOf(InvalidCursorException.class);
  }
}
