package io.tidings.server.push;

import io.tidings.core.Engine;
import io.tidings.server.config.TidingsConfig;
import io.tidings.server.http.ApiException;
import io.tidings.server.http.Responses;
import io.tidings.server.ops.Metrics;
import io.tidings.server.publish.EventParser;
import io.vertx.core.http.HttpHeaders;
import io.vertx.core.http.HttpServerRequest;
import io.vertx.core.http.HttpServerResponse;

/** {@code GET /v1/ws}: upgrades to a WebSocket and hands it to a {@link WsSession}. */
public final class WsTransport {
  /** The subprotocol a client may ask for; the server speaks it whether asked or not. */
  public static final String SUBPROTOCOL = "tidings.v1";

  private final Engine engine;
  private final PushLoop loop;
  private final EventParser parser;
  private final Metrics metrics;
  private final TidingsConfig.Push config;
  private final PushStats stats;

  public WsTransport(Engine engine, PushLoop loop, EventParser parser, Metrics metrics, TidingsConfig.Push config,
      PushStats stats) {
    this.engine = engine;
    this.loop = loop;
    this.parser = parser;
    this.metrics = metrics;
    this.config = config;
    this.stats = stats;
  }

  public void handle(HttpServerRequest request) {
    HttpServerResponse response = request.response();
    String upgrade = request.getHeader(HttpHeaders.UPGRADE);
    if (upgrade == null || !upgrade.equalsIgnoreCase("websocket")) {
      response.putHeader(HttpHeaders.UPGRADE, "websocket");
      Responses.error(response, new ApiException(426, "upgrade_required",
          "this endpoint speaks WebSocket: send an Upgrade: websocket request"));
      return;
    }
    request.toWebSocket().onComplete(ar -> {
      if (ar.failed()) {
        Responses.error(response, ApiException.badRequest("invalid_upgrade",
            "the WebSocket handshake failed: " + ar.cause().getMessage()));
        return;
      }
      new WsSession(loop, ar.result(), engine, parser, metrics, config, stats).start();
    });
  }
}
