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
      return readReply(socket.getInputStream(), started);
    }
  }

  /** Reads one response (head and body) from {@code in}. */
  static Http.Reply readReply(InputStream in, long started) throws IOException {
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
    String type = headers.getOrDefault("content-type", List.of("")).get(0);
    if (status == 101 || (type.startsWith("text/event-stream") && length == null)) {
      // A protocol switch or a stream that may never end: the head is the answer.
      content = new byte[0];
    } else if (length != null) {
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

  /**
   * One keep-alive HTTP/1.1 connection over a plain socket, optionally from a chosen local address
   * (any of 127.0.0.0/8 on Linux), so that a test can act as several client IPs and tell new
   * connections from reused ones.
   */
  public static final class Conn implements AutoCloseable {
    private final URI base;
    private final Socket socket;
    private final InputStream in;

    private Conn(URI base, Socket socket) throws IOException {
      this.base = base;
      this.socket = socket;
      this.in = new java.io.BufferedInputStream(socket.getInputStream());
    }

    /** Connects to {@code base} from {@code localAddress} (null: any). */
    public static Conn open(URI base, String localAddress) throws IOException {
      Socket socket = new Socket();
      if (localAddress != null) {
        socket.bind(new InetSocketAddress(localAddress, 0));
      }
      socket.connect(new InetSocketAddress(base.getHost(), base.getPort()), 10_000);
      socket.setSoTimeout(30_000);
      return new Conn(base, socket);
    }

    /** Sends one request (header name/value pairs after the body) and reads its answer. */
    public Http.Reply request(String method, String pathAndQuery, String body, String... headers) throws IOException {
      long started = System.nanoTime();
      socket.getOutputStream().write(head(method, pathAndQuery, body, headers));
      socket.getOutputStream().flush();
      return readReply(in, started);
    }

    private byte[] head(String method, String pathAndQuery, String body, String... headers) {
      byte[] content = body == null ? new byte[0] : body.getBytes(StandardCharsets.UTF_8);
      StringBuilder sb = new StringBuilder(method).append(' ').append(pathAndQuery).append(" HTTP/1.1\r\n")
          .append("Host: ").append(base.getHost()).append(':').append(base.getPort()).append("\r\n");
      for (int i = 0; i + 1 < headers.length; i += 2) {
        sb.append(headers[i]).append(": ").append(headers[i + 1]).append("\r\n");
      }
      if (body != null) {
        sb.append("Content-Length: ").append(content.length).append("\r\n");
      }
      sb.append("\r\n");
      byte[] h = sb.toString().getBytes(StandardCharsets.UTF_8);
      byte[] all = java.util.Arrays.copyOf(h, h.length + content.length);
      System.arraycopy(content, 0, all, h.length, content.length);
      return all;
    }

    /** Writes raw bytes. */
    public void write(byte[] bytes) throws IOException {
      socket.getOutputStream().write(bytes);
      socket.getOutputStream().flush();
    }

    /** Whether the server has closed the connection: reads (and drops) what comes until the end or {@code millis}. */
    public boolean closedByServer(int millis) throws IOException {
      socket.setSoTimeout(millis);
      try {
        while (in.read() >= 0) {
          // drop
        }
        return true;
      } catch (java.net.SocketTimeoutException e) {
        return false;
      } catch (IOException e) {
        return true;
      } finally {
        socket.setSoTimeout(30_000);
      }
    }

    public Socket socket() {
      return socket;
    }

    @Override
    public void close() {
      try {
        socket.close();
      } catch (IOException ignored) {
        // closing
      }
    }
  }

  /** One line of an HTTP head (ISO-8859-1, without its CR LF); {@code null} at the end of the stream. */
  static String readLine(InputStream in) throws IOException {
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
