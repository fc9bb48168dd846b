package io.tidings.server.testing;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpHeaders;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;

/**
 * HTTP/1.1 over a plain socket, for requests {@link java.net.http.HttpClient} cannot make or
 * cannot survive: a body the server refuses before reading it all, chunked uploads of a known
 * size. The request body is written on another thread, so an early answer is read even while
 * (or after) the server stops reading.
 */
public final class RawHttp {
  private RawHttp() {}

  /** One exchange with a fixed {@code Content-Length}. */
  public static Http.Reply post(URI base, String pathAndQuery, String contentType, byte[] body) throws IOException {
    String head = "POST " + pathAndQuery + " HTTP/1.1\r\n"
        + "Host: " + base.getHost() + ":" + base.getPort() + "\r\n"
        + "Content-Type: " + contentType + "\r\n"
        + "Content-Length: " + body.length + "\r\n"
        + "\r\n";
    return exchange(base, head.getBytes(StandardCharsets.US_ASCII), List.of(body));
  }

  /** One exchange with a chunked body made of {@code chunks}. */
  public static Http.Reply postChunked(URI base, String pathAndQuery, String contentType, List<byte[]> chunks) throws IOException {
    String head = "POST " + pathAndQuery + " HTTP/1.1\r\n"
        + "Host: " + base.getHost() + ":" + base.getPort() + "\r\n"
        + "Content-Type: " + contentType + "\r\n"
        + "Transfer-Encoding: chunked\r\n"
        + "\r\n";
    List<byte[]> framed = new ArrayList<>();
    for (byte[] c : chunks) {
      framed.add((Integer.toHexString(c.length) + "\r\n").getBytes(StandardCharsets.US_ASCII));
      framed.add(c);
      framed.add("\r\n".getBytes(StandardCharsets.US_ASCII));
    }
    framed.add("0\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
    return exchange(base, head.getBytes(StandardCharsets.US_ASCII), framed);
  }

  /** Sends {@code raw} bytes as they are (a request line, headers, maybe a body) and reads one answer. */
  public static Http.Reply send(URI base, byte[] raw) throws IOException {
    return exchange(base, raw, List.of());
  }

  private static Http.Reply exchange(URI base, byte[] head, List<byte[]> body) throws IOException {
    long started = System.nanoTime();
    try (Socket socket = new Socket()) {
      socket.connect(new InetSocketAddress(base.getHost(), base.getPort()), 10_000);
      socket.setSoTimeout(30_000);
      OutputStream out = socket.getOutputStream();
      out.write(head);
      out.flush();
      Thread writer = new Thread(() -> {
        try {
          for (byte[] part : body) {
            out.write(part);
          }
          out.flush();
        } catch (IOException ignored) {
          // the server may stop reading and close once it has answered
        }
      }, "raw-http-body");
      writer.setDaemon(true);
      writer.start();
      InputStream in = socket.getInputStream();
      String statusLine = readLine(in);
      if (statusLine == null) {
        throw new IOException("the server closed the connection without an answer");
      }
      String[] parts = statusLine.split(" ", 3);
      int status = Integer.parseInt(parts[1]);
      Map<String, List<String>> headers = new TreeMap<>(String.CASE_INSENSITIVE_ORDER);
      String line;
      while ((line = readLine(in)) != null && !line.isEmpty()) {
        int colon = line.indexOf(':');
        headers.computeIfAbsent(line.substring(0, colon).trim(), k -> new ArrayList<>()).add(line.substring(colon + 1).trim());
      }
      byte[] content;
      List<String> length = headers.get("content-length");
      if (length != null) {
        content = in.readNBytes(Integer.parseInt(length.get(0)));
      } else if (headers.getOrDefault("transfer-encoding", List.of()).toString().toLowerCase(Locale.ROOT).contains("chunked")) {
        ByteArrayOutputStream b = new ByteArrayOutputStream();
        while (true) {
          int size = Integer.parseInt(readLine(in).split(";")[0].trim(), 16);
          if (size == 0) {
            readLine(in);
            break;
          }
          b.write(in.readNBytes(size));
          readLine(in);
        }
        content = b.toByteArray();
      } else {
        content = in.readAllBytes();
      }
      return new Http.Reply(status, HttpHeaders.of(headers, (a, b) -> true), new String(content, StandardCharsets.UTF_8),
          (System.nanoTime() - started) / 1_000_000);
    }
  }

  private static String readLine(InputStream in) throws IOException {
    ByteArrayOutputStream b = new ByteArrayOutputStream();
    int c;
    while ((c = in.read()) >= 0) {
      if (c == '\n') {
        String s = b.toString(StandardCharsets.ISO_8859_1);
        return s.endsWith("\r") ? s.substring(0, s.length() - 1) : s;
      }
      b.write(c);
    }
    return b.size() == 0 ? null : b.toString(StandardCharsets.ISO_8859_1);
  }
}
