package io.tidings.client;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class SseParserTest {
  private final List<String> out = new ArrayList<>();
  private final SseParser parser = new SseParser(new SseParser.Handler() {
    @Override
    public void event(String id, String type, String data) {
      out.add(id + "|" + type + "|" + data);
    }

    @Override
    public void retry(long millis) {
      out.add("retry " + millis);
    }

    @Override
    public void comment(String text) {
      out.add("comment" + text);
    }
  }, 1024);

  private void feed(String s) throws IOException {
    parser.feed(s.getBytes(StandardCharsets.UTF_8));
  }

  @Test
  void fieldsOfAnEvent() throws IOException {
    feed("retry: 3120\n\nid: e.17\nevent: subscribed\ndata: {\"a\":1}\n\n");
    assertThat(out).containsExactly("retry 3120", "e.17|subscribed|{\"a\":1}");
  }

  @Test
  void dataLinesJoinWithNewlinesAndOneLeadingSpaceIsDropped() throws IOException {
    feed("data:one\ndata:  two\ndata\n\n");
    assertThat(out).containsExactly("null|message|one\n two\n");
  }

  @Test
  void everyLineEndingAndSplitsAnywhere() throws IOException {
    String stream = "id: 1\r\ndata: a\r\n\r\nid: 2\rdata: b\r\rid: 3\ndata: c\n\n";
    byte[] bytes = stream.getBytes(StandardCharsets.UTF_8);
    for (byte b : bytes) {
      parser.feed(ByteBuffer.wrap(new byte[] {b}));
    }
    assertThat(out).containsExactly("1|message|a", "2|message|b", "3|message|c");
  }

  @Test
  void multiByteCharactersSplitAcrossChunks() throws IOException {
    byte[] bytes = "data: \u00e9t\u00e9 \u2603\n\n".getBytes(StandardCharsets.UTF_8);
    parser.feed(ByteBuffer.wrap(bytes, 0, 7));
    parser.feed(ByteBuffer.wrap(bytes, 7, bytes.length - 7));
    assertThat(out).containsExactly("null|message|\u00e9t\u00e9 \u2603");
  }

  @Test
  void commentsBomAndUnknownFields() throws IOException {
    parser.feed(new byte[] {(byte) 0xEF, (byte) 0xBB, (byte) 0xBF});
    feed(":\n: hello\nfoo: bar\ndata: x\n\n");
    assertThat(out).containsExactly("comment", "comment hello", "null|message|x");
  }

  @Test
  void noDataNoEventAndTheTypeDoesNotLeak() throws IOException {
    feed("event: reset\nid: 9\n\ndata: y\n\n");
    assertThat(out).containsExactly("9|message|y");
  }

  @Test
  void badRetryAndNulIdsAreIgnored() throws IOException {
    feed("retry: 12a\nretry: \nid: a\u0000b\ndata: z\n\n");
    assertThat(out).containsExactly("null|message|z");
  }

  @Test
  void anIncompleteEventIsNotDispatched() throws IOException {
    feed("data: half");
    assertThat(out).isEmpty();
  }

  @Test
  void aLineOverTheLimitFails() {
    assertThatThrownBy(() -> feed("data: " + "x".repeat(2000))).isInstanceOf(IOException.class);
  }
}
