package io.tidings.server.testing;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.BufferedInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Base64;
import java.util.concurrent.ThreadLocalRandom;

/**
 * A WebSocket client over a plain socket that does only what a test tells it: it never answers
 * pings by itself, never reads unless asked (a consumer that stopped reading), and can send frames
 * that a well-behaved client would not. Frames are read one at a time with {@link #readFrame}.
 */
public final class WsRawSocket implements AutoCloseable {
  public static final int CONTINUATION = 0x0;
  public static final int TEXT = 0x1;
  public static final int BINARY = 0x2;
  public static final int CLOSE = 0x8;
  public static final int PING = 0x9;
  public static final int PONG = 0xA;

  /** One frame as received (server frames are not masked). */
  public record Frame(int opcode, boolean fin, byte[] payload) {
    public String text() {
      return new String(payload, StandardCharsets.UTF_8);
    }

    public JsonNode json() {
      try {
        return Http.JSON.readTree(payload);
      } catch (IOException e) {
        throw new AssertionError("not JSON: " + text(), e);
      }
    }

    /** The status code of a close frame (1005 when it carries none). */
    public int closeCode() {
      return payload.length >= 2 ? ((payload[0] & 0xff) << 8) | (payload[1] & 0xff) : 1005;
    }

    public String closeReason() {
      return payload.length > 2 ? new String(payload, 2, payload.length - 2, StandardCharsets.UTF_8) : "";
    }
  }

  private final Socket socket;
  private final InputStream in;
  private final OutputStream out;
  private final String subprotocol;

  private WsRawSocket(Socket socket, InputStream in, String subprotocol) throws IOException {
    this.socket = socket;
    this.in = in;
    this.out = socket.getOutputStream();
    this.subprotocol = subprotocol;
  }

  /**
   * Connects to {@code /v1/ws} and completes the opening handshake.
   *
   * @param receiveBuffer the socket's receive buffer in bytes (0 for the default): a small one makes
   *     a client that stops reading push back on the server quickly
   */
  public static WsRawSocket connect(URI base, int receiveBuffer, String... headers) throws IOException {
    return connect(base, "/v1/ws", receiveBuffer, headers);
  }

  /** Connects to {@code path} (another WebSocket endpoint) and completes the opening handshake. */
  public static WsRawSocket connect(URI base, String path, int receiveBuffer, String... headers) throws IOException {
    Socket socket = new Socket();
    if (receiveBuffer > 0) {
      socket.setReceiveBufferSize(receiveBuffer);
    }
    socket.connect(new InetSocketAddress(base.getHost(), base.getPort()), 10_000);
    socket.setSoTimeout(30_000);
    byte[] nonce = new byte[16];
    ThreadLocalRandom.current().nextBytes(nonce);
    StringBuilder req = new StringBuilder("GET " + path + " HTTP/1.1\r\n")
        .append("Host: ").append(base.getHost()).append(':').append(base.getPort()).append("\r\n")
        .append("Upgrade: websocket\r\nConnection: Upgrade\r\n")
        .append("Sec-WebSocket-Key: ").append(Base64.getEncoder().encodeToString(nonce)).append("\r\n")
        .append("Sec-WebSocket-Version: 13\r\n");
    for (int i = 0; i + 1 < headers.length; i += 2) {
      req.append(headers[i]).append(": ").append(headers[i + 1]).append("\r\n");
    }
    req.append("\r\n");
    socket.getOutputStream().write(req.toString().getBytes(StandardCharsets.US_ASCII));
    socket.getOutputStream().flush();
    InputStream in = new BufferedInputStream(socket.getInputStream(), 8192);
    String status = RawHttp.readLine(in);
    if (status == null || !status.startsWith("HTTP/1.1 101")) {
      socket.close();
      throw new IOException("no WebSocket upgrade: " + status);
    }
    String protocol = "";
    String h;
    while ((h = RawHttp.readLine(in)) != null && !h.isEmpty()) {
      if (h.toLowerCase().startsWith("sec-websocket-protocol:")) {
        protocol = h.substring(h.indexOf(':') + 1).trim();
      }
    }
    return new WsRawSocket(socket, in, protocol);
  }

  public String subprotocol() {
    return subprotocol;
  }

  public Socket socket() {
    return socket;
  }

  public void sendText(String text) throws IOException {
    sendFrame(TEXT, true, text.getBytes(StandardCharsets.UTF_8));
  }

  public void sendBinary(byte[] data) throws IOException {
    sendFrame(BINARY, true, data);
  }

  public void sendClose(int code) throws IOException {
    sendFrame(CLOSE, true, new byte[] {(byte) (code >> 8), (byte) code});
  }

  /** Sends one masked frame, as a client must. */
  public synchronized void sendFrame(int opcode, boolean fin, byte[] payload) throws IOException {
    ByteArrayOutputStream f = new ByteArrayOutputStream(payload.length + 14);
    f.write((fin ? 0x80 : 0) | opcode);
    if (payload.length < 126) {
      f.write(0x80 | payload.length);
    } else if (payload.length < 65536) {
      f.write(0x80 | 126);
      f.write(payload.length >> 8);
      f.write(payload.length);
    } else {
      f.write(0x80 | 127);
      long n = payload.length;
      for (int i = 7; i >= 0; i--) {
        f.write((int) (n >> (8 * i)));
      }
    }
    byte[] mask = new byte[4];
    ThreadLocalRandom.current().nextBytes(mask);
    f.write(mask);
    byte[] masked = new byte[payload.length];
    for (int i = 0; i < payload.length; i++) {
      masked[i] = (byte) (payload[i] ^ mask[i & 3]);
    }
    f.write(masked);
    out.write(f.toByteArray());
    out.flush();
  }

  /**
   * The next frame; {@code null} when the server closed the connection (or reset it). Fails when
   * nothing comes within {@code timeout}.
   */
  public Frame readFrame(Duration timeout) throws IOException {
    socket.setSoTimeout((int) Math.max(1, timeout.toMillis()));
    try {
      int b0 = in.read();
      if (b0 < 0) {
        return null;
      }
      int b1 = read();
      long len = b1 & 0x7f;
      if (len == 126) {
        len = (read() << 8) | read();
      } else if (len == 127) {
        len = 0;
        for (int i = 0; i < 8; i++) {
          len = (len << 8) | read();
        }
      }
      byte[] mask = null;
      if ((b1 & 0x80) != 0) {
        mask = in.readNBytes(4);
      }
      byte[] payload = in.readNBytes((int) len);
      if (payload.length != len) {
        return null;
      }
      if (mask != null) {
        for (int i = 0; i < payload.length; i++) {
          payload[i] ^= mask[i & 3];
        }
      }
      return new Frame(b0 & 0x0f, (b0 & 0x80) != 0, payload);
    } catch (SocketTimeoutException e) {
      throw new AssertionError("no WebSocket frame within " + timeout);
    } catch (java.net.SocketException e) {
      return null;
    }
  }

  private int read() throws IOException {
    int b = in.read();
    if (b < 0) {
      throw new java.net.SocketException("connection closed mid-frame");
    }
    return b;
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
