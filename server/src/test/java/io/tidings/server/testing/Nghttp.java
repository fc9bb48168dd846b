package io.tidings.server.testing;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Runs the {@code nghttp} HTTP/2 client (Debian's {@code nghttp2-client}) once in verbose mode and
 * reads back what happened on the wire from its frame log: every response header block per stream
 * (interim {@code 103}s included, in order), each PUSH_PROMISE with the path it promises, and each
 * stream's body. A plain {@code http://} URL is HTTP/2 with prior knowledge (h2c); {@code https://}
 * negotiates h2 with ALPN (nghttp does not check the certificate).
 *
 * <p>Bodies are recovered from the interleaving of data and log on standard output: nghttp writes a
 * DATA frame's payload, then its {@code recv DATA frame ... stream_id=N} line. That holds for bodies
 * without line breaks, which is what the Tidings JSON API sends.
 */
public final class Nghttp {
  private static final Pattern HEADER = Pattern.compile("^\\[\\s*[0-9.]+\\] recv \\(stream_id=(\\d+)\\) (:?[^:]+): (.*)$");
  private static final Pattern HEADERS_FRAME = Pattern.compile("\\[\\s*[0-9.]+\\] recv HEADERS frame <[^>]*stream_id=(\\d+)>");
  private static final Pattern PUSH_PROMISE = Pattern.compile("\\[\\s*[0-9.]+\\] recv PUSH_PROMISE frame <[^>]*stream_id=(\\d+)>");
  private static final Pattern PROMISED = Pattern.compile("promised_stream_id=(\\d+)");
  private static final Pattern DATA_FRAME = Pattern.compile("^(.*)\\[\\s*[0-9.]+\\] recv DATA frame <[^>]*stream_id=(\\d+)>");

  /** A PUSH_PROMISE: on {@code stream}, the server promises {@code promised} for {@code path}. */
  public record Promise(int stream, int promised, String path, Map<String, String> headers) {}

  /** One header block received on a stream, with its position among all frames received. */
  public record Block(int stream, int seq, Map<String, List<String>> headers) {
    public int status() {
      return Integer.parseInt(headers.get(":status").get(0));
    }

    public String first(String name) {
      List<String> v = headers.get(name);
      return v == null ? null : v.get(0);
    }

    public List<String> all(String name) {
      return headers.getOrDefault(name, List.of());
    }
  }

  /** What one nghttp run received. */
  public record Transcript(int exitCode, String log, List<Promise> promises, List<Block> blocks, Map<Integer, String> bodies) {
    /** The header blocks of {@code stream}, in order (interim responses first). */
    public List<Block> blocks(int stream) {
      return blocks.stream().filter(b -> b.stream() == stream).toList();
    }

    /** The final (non-1xx) header block of {@code stream}. */
    public Block response(int stream) {
      return blocks(stream).stream().filter(b -> b.status() >= 200).findFirst()
          .orElseThrow(() -> new AssertionError("no final response on stream " + stream + " in\n" + log));
    }

    /** The stream of the (single) request nghttp made: the first stream a response arrived on with an odd id. */
    public int requestStream() {
      return blocks.stream().map(Block::stream).filter(s -> s % 2 == 1).findFirst()
          .orElseThrow(() -> new AssertionError("no response at all in\n" + log));
    }

    /** The promised paths, in order. */
    public List<String> promisedPaths() {
      return promises.stream().map(Promise::path).toList();
    }

    /** The promise of {@code path}. */
    public Promise promise(String path) {
      return promises.stream().filter(p -> p.path().equals(path)).findFirst()
          .orElseThrow(() -> new AssertionError("no PUSH_PROMISE of " + path + " in\n" + log));
    }
  }

  private Nghttp() {}

  /** Runs {@code nghttp -v [options...] url} and parses what it printed. */
  public static Transcript get(String url, String... options) throws IOException, InterruptedException {
    List<String> cmd = new ArrayList<>(List.of("nghttp", "-v", "-t", "20"));
    cmd.addAll(List.of(options));
    cmd.add(url);
    Process p;
    try {
      p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
    } catch (IOException e) {
      throw new IOException("nghttp is not installed: apt-get install nghttp2-client (.ci/run does it)", e);
    }
    CompletableFuture<String> out = CompletableFuture.supplyAsync(() -> {
      try {
        return new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
      } catch (IOException e) {
        return "";
      }
    });
    if (!p.waitFor(60, TimeUnit.SECONDS)) {
      p.destroyForcibly();
      throw new AssertionError("nghttp did not finish within 60 s: " + cmd);
    }
    String log;
    try {
      log = out.get(10, TimeUnit.SECONDS);
    } catch (Exception e) {
      throw new IOException("could not read nghttp's output", e);
    }
    return parse(p.exitValue(), log);
  }

  static Transcript parse(int exitCode, String log) {
    List<Promise> promises = new ArrayList<>();
    List<Block> blocks = new ArrayList<>();
    Map<Integer, StringBuilder> bodies = new LinkedHashMap<>();
    Map<String, List<String>> pending = new LinkedHashMap<>();
    int seq = 0;
    for (String line : log.split("\n", -1)) {
      Matcher m;
      if ((m = DATA_FRAME.matcher(line)).find()) {
        bodies.computeIfAbsent(Integer.parseInt(m.group(2)), k -> new StringBuilder()).append(m.group(1));
        seq++;
      } else if ((m = HEADER.matcher(line)).find()) {
        pending.computeIfAbsent(m.group(2), k -> new ArrayList<>()).add(m.group(3));
      } else if ((m = HEADERS_FRAME.matcher(line)).find()) {
        blocks.add(new Block(Integer.parseInt(m.group(1)), seq++, pending));
        pending = new LinkedHashMap<>();
      } else if ((m = PUSH_PROMISE.matcher(line)).find()) {
        // The promise's numbers are on the line after, "(padlen=0, promised_stream_id=N)": read on.
        int stream = Integer.parseInt(m.group(1));
        Map<String, String> headers = new LinkedHashMap<>();
        pending.forEach((k, v) -> headers.put(k, v.get(0)));
        promises.add(new Promise(stream, -1, headers.get(":path"), headers));
        pending = new LinkedHashMap<>();
        seq++;
      } else if ((m = PROMISED.matcher(line)).find() && !promises.isEmpty() && promises.get(promises.size() - 1).promised() < 0) {
        Promise last = promises.remove(promises.size() - 1);
        promises.add(new Promise(last.stream(), Integer.parseInt(m.group(1)), last.path(), last.headers()));
      }
    }
    Map<Integer, String> texts = new LinkedHashMap<>();
    bodies.forEach((k, v) -> texts.put(k, v.toString()));
    return new Transcript(exitCode, log, List.copyOf(promises), List.copyOf(blocks), texts);
  }
}
