package io.tidings.server.push;

import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.handler.codec.http.websocketx.Utf8FrameValidator;
import io.netty.handler.codec.http.websocketx.WebSocket13FrameDecoder;
import io.netty.handler.codec.http.websocketx.WebSocket13FrameEncoder;
import io.netty.handler.codec.http.websocketx.WebSocketDecoderConfig;
import io.netty.handler.codec.http.websocketx.WebSocketFrameAggregator;
import io.tidings.core.Engine;
import io.tidings.server.auth.Access;
import io.tidings.server.auth.Authenticator;
import io.tidings.server.auth.Principal;
import io.tidings.server.config.TidingsConfig;
import io.tidings.server.http.ApiException;
import io.tidings.server.http.HttpApi;
import io.tidings.server.limits.Limits;
import io.tidings.server.limits.Ticket;
import io.tidings.server.http.Responses;
import io.tidings.server.ops.Metrics;
import io.tidings.server.publish.EventParser;
import io.vertx.core.http.HttpHeaders;
import io.vertx.core.http.HttpServerRequest;
import io.vertx.core.http.HttpServerResponse;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.Base64;

/**
 * {@code GET /v1/ws}: checks the opening handshake (RFC 6455), answers {@code 101}, and turns the
 * connection into a bare Netty pipeline (frame decoder, UTF-8 check, aggregator, {@link WsSession}).
 */
public final class WsTransport {
  /** The subprotocol a client may ask for; the server speaks it whether asked or not. */
  public static final String SUBPROTOCOL = "tidings.v1";
  private static final String ACCEPT_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

  private final Engine engine;
  private final PushLoop loop;
  private final EventParser parser;
  private final Metrics metrics;
  private final TidingsConfig.Push config;
  private final PushStats stats;
  private final Authenticator auth;
  private final Limits limits;

  public WsTransport(Engine engine, PushLoop loop, EventParser parser, Metrics metrics, TidingsConfig.Push config,
      PushStats stats, Authenticator auth, Limits limits) {
    this.limits = limits;
    this.auth = auth;
    this.engine = engine;
    this.loop = loop;
    this.parser = parser;
    this.metrics = metrics;
    this.config = config;
    this.stats = stats;
  }

  /**
   * Upgrades {@code request}, whose credentials (header or {@code access_token}) made
   * {@code principal}; a connection without them starts anonymous and may send an {@code auth} op.
   * A connection that opens logs {@code log} when it closes.
   */
  public void handle(HttpServerRequest request, Principal principal, io.tidings.server.ops.AccessLog.Entry log) {
    if (!config.ws.enabled) {
      throw ApiException.transportDisabled("WebSocket");
    }
    Access.requireUnexpired(principal, System.currentTimeMillis());
    HttpServerResponse response = request.response();
    String upgrade = request.getHeader(HttpHeaders.UPGRADE);
    if (upgrade == null || !upgrade.equalsIgnoreCase("websocket") || !Hijack.possible(request)) {
      response.putHeader(HttpHeaders.UPGRADE, "websocket");
      Responses.error(response, new ApiException(426, "upgrade_required",
          "this endpoint speaks WebSocket: send an HTTP/1.1 request with Upgrade: websocket"));
      return;
    }
    if (!hasToken(request.getHeader(HttpHeaders.CONNECTION), "upgrade")) {
      throw ApiException.badRequest("invalid_upgrade", "a WebSocket handshake needs Connection: Upgrade");
    }
    if (!"13".equals(request.getHeader("Sec-WebSocket-Version"))) {
      response.putHeader("Sec-WebSocket-Version", "13");
      Responses.error(response, new ApiException(426, "upgrade_required", "only WebSocket version 13 is spoken"));
      return;
    }
    String key = request.getHeader("Sec-WebSocket-Key");
    if (key == null || !validKey(key.trim())) {
      throw ApiException.badRequest("invalid_upgrade", "Sec-WebSocket-Key must be 16 bytes in base64");
    }
    String host = HttpApi.host(request);
    Ticket ticket = limits.admit(limits.key(principal, host));
    if (ticket == null) {
      Responses.error(response, ApiException.unavailable("the server is at capacity; reconnect later",
          Responses.retryAfterSeconds()));
      return;
    }
    boolean subprotocol = hasToken(request.getHeader("Sec-WebSocket-Protocol"), SUBPROTOCOL);
    StringBuilder head = new StringBuilder(160)
        .append("HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\nconnection: upgrade\r\n")
        .append("sec-websocket-accept: ").append(accept(key.trim())).append("\r\n");
    if (subprotocol) {
      head.append("sec-websocket-protocol: ").append(SUBPROTOCOL).append("\r\n");
    }
    head.append("\r\n");

    int maxFrame = (int) config.ws.maxFrameSize;
    WebSocketDecoderConfig decoding = WebSocketDecoderConfig.newBuilder()
        .expectMaskedFrames(true)
        .allowExtensions(false)
        .maxFramePayloadLength(maxFrame)
        .closeOnProtocolViolation(true)
        .build();
    WsSession session = new WsSession(loop, engine, parser, metrics, config, stats, auth, principal, log, limits, host, ticket);
    metrics.request("/v1/ws", 101);
    // The encoder goes before the decoder: the close frame the decoder writes on a protocol violation
    // (1009 for a frame over the limit, 1002) travels towards the socket from the decoder's place.
    Channel channel = Hijack.take(request, new WebSocket13FrameEncoder(false), new WebSocket13FrameDecoder(decoding),
        new Utf8FrameValidator(true), new WebSocketFrameAggregator(maxFrame), session);
    channel.writeAndFlush(Unpooled.wrappedBuffer(head.toString().getBytes(StandardCharsets.US_ASCII)),
        channel.voidPromise());
    session.start(channel);
  }

  private static boolean hasToken(String header, String token) {
    if (header == null) {
      return false;
    }
    for (String part : header.split(",")) {
      if (part.trim().equalsIgnoreCase(token)) {
        return true;
      }
    }
    return false;
  }

  private static boolean validKey(String key) {
    try {
      return Base64.getDecoder().decode(key).length == 16;
    } catch (IllegalArgumentException e) {
      return false;
    }
  }

  static String accept(String key) {
    try {
      MessageDigest sha1 = MessageDigest.getInstance("SHA-1");
      return Base64.getEncoder().encodeToString(sha1.digest((key + ACCEPT_GUID).getBytes(StandardCharsets.US_ASCII)));
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("SHA-1 is missing from this JVM", e);
    }
  }
}
