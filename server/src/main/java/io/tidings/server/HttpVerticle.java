package io.tidings.server;

import io.tidings.server.http.ConnectionWatch;
import io.tidings.server.http.HttpApi;
import io.tidings.server.ops.LoopMonitor;
import io.tidings.server.pull.ChangeReader;
import io.tidings.server.pull.ChangesHandler;
import io.tidings.server.push.PushLoop;
import io.vertx.core.Future;
import io.vertx.core.VerticleBase;
import io.vertx.core.http.HttpServer;
import io.vertx.core.http.HttpServerOptions;
import java.util.concurrent.TimeUnit;

/** One HTTP listener on one event loop; several share the port so every core serves requests. */
final class HttpVerticle extends VerticleBase {
  private final TidingsServer hub;
  private final HttpServerOptions options;
  private final int port;
  private HttpServer server;
  private ChangeReader reader;
  private ChangesHandler changes;
  private PushLoop push;
  private HttpApi api;
  private LoopMonitor monitor;

  HttpVerticle(TidingsServer hub, HttpServerOptions options, int port) {
    this.hub = hub;
    this.options = options;
    this.port = port;
  }

  @Override
  public Future<?> start() {
    reader = hub.changeReader(context);
    changes = hub.changesHandler(reader);
    push = hub.pushLoop(context);
    ConnectionWatch watch = hub.connectionWatch();
    api = hub.api(context, changes, push, watch);
    monitor = hub.loopMonitor(context);
    server = vertx.createHttpServer(options)
        .connectionHandler(watch::opened)
        .requestHandler(api::handle)
        .invalidRequestHandler(HttpApi::invalid);
    return server.listen(port, options.getHost()).onSuccess(watch::listening);
  }

  /** The port actually bound (useful when asked for port 0). */
  int actualPort() {
    return server.actualPort();
  }

  @Override
  public Future<?> stop() {
    reader.releaseAll();
    push.shutdown();
    api.shutdown();
    monitor.stop();
    return server.shutdown(hub.shutdownGraceMillis(), TimeUnit.MILLISECONDS);
  }
}
