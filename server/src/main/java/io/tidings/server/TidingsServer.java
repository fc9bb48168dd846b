package io.tidings.server;

import io.tidings.core.DedupeWindow;
import io.tidings.core.Engine;
import io.tidings.core.RetentionPolicy;
import io.tidings.core.RetentionRule;
import io.tidings.core.TopicPattern;
import io.tidings.core.hub.ChangeRates;
import io.tidings.core.hub.Hub;
import io.tidings.core.hub.TopicWaiters;
import io.tidings.core.memory.MemoryEngine;
import io.tidings.engine.sqlite.SqliteEngine;
import io.tidings.engine.sqlite.SqliteOptions;
import io.tidings.server.admin.AdminHandler;
import io.tidings.server.admin.AdminService;
import io.tidings.server.auth.Authenticator;
import io.tidings.server.config.TidingsConfig;
import io.tidings.server.grpc.GrpcChanges;
import io.tidings.server.grpc.GrpcStats;
import io.tidings.server.grpc.GrpcTransport;
import io.tidings.server.http.ConnectionWatch;
import io.tidings.server.http.Cors;
import io.tidings.server.http.HttpApi;
import io.tidings.server.http.StaticFiles;
import io.tidings.server.ops.AccessLog;
import io.tidings.server.limits.Limits;
import io.tidings.server.ops.HealthHandler;
import io.tidings.server.ops.LoopMonitor;
import io.tidings.server.ops.Metrics;
import io.tidings.server.publish.EventParser;
import io.tidings.server.publish.PublishHandler;
import io.tidings.server.pull.ChangeReader;
import io.tidings.server.pull.ChangesHandler;
import io.tidings.server.pull.PollAdvisor;
import io.tidings.server.pull.StateHandler;
import io.tidings.server.pull.TopicsHandler;
import io.tidings.server.push.PushLoop;
import io.tidings.server.push.PushStats;
import io.tidings.server.push.SseTransport;
import io.tidings.server.push.WsTransport;
import io.tidings.server.delivery.Batch;
import io.tidings.server.delivery.Dispatcher;
import io.tidings.server.delivery.Outcome;
import io.tidings.server.delivery.RetrySchedule;
import io.tidings.server.delivery.Target;
import io.tidings.server.delivery.Timers;
import io.tidings.server.outbound.OutboundClient;
import io.tidings.server.outbound.Resolver;
import io.tidings.server.outbound.TargetGuard;
import io.tidings.server.webhooks.Webhooks;
import io.tidings.server.webhooks.WebhooksApi;
import io.tidings.server.webpush.WebPush;
import io.tidings.server.webpush.WebPushApi;
import io.vertx.core.Context;
import io.vertx.core.DeploymentOptions;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.VertxOptions;
import io.vertx.core.WorkerExecutor;
import io.vertx.core.http.HttpServerOptions;
import io.vertx.core.transport.Transport;
import io.vertx.core.net.PemKeyCertOptions;
import java.nio.file.Path;
import java.time.Clock;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A running Tidings hub: the engine, the services every transport shares, and one HTTP listener
 * per event loop. {@link #close()} shuts down gracefully within {@code server.shutdown_grace}.
 */
public final class TidingsServer implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(TidingsServer.class);

  private final TidingsConfig config;
  private final Engine engine;
  private final Metrics metrics = new Metrics();
  private final TopicWaiters waiters;
  private final Hub hub;
  private final PushStats pushStats = new PushStats();
  private final GrpcStats grpcStats = new GrpcStats();
  private final ChangeRates rates;
  private final PollAdvisor advisor;
  private final EventParser parser;
  private final Cors cors;
  private final Authenticator auth;
  private final Limits limits;
  private final StaticFiles files = StaticFiles.load(TidingsServer.class.getClassLoader());
  private final List<AutoCloseable> subscriptions = new ArrayList<>();
  private final java.util.concurrent.atomic.AtomicInteger loopNumbers = new java.util.concurrent.atomic.AtomicInteger();
  private final Timers givenTimers;
  private AccessLog accessLog = AccessLog.OFF;
  private java.util.concurrent.ExecutorService resolverThreads;
  private OutboundClient outbound;
  private Dispatcher dispatcher;
  private Webhooks webhooks;
  private WebPush webPush;
  private AdminService admin;
  private Vertx vertx;
  private WorkerExecutor scraper;
  private int port;
  private Transport transport;
  private volatile boolean draining;
  private boolean closed;

  private TidingsServer(TidingsConfig config, Engine given, Timers timers) {
    this.config = config;
    this.givenTimers = timers;
    // First: bad key material must stop the start before the store is opened.
    this.auth = Authenticator.create(config.auth);
    this.engine = given != null ? given : engine(config);
    this.waiters = new TopicWaiters(config.pull.maxWaiting);
    this.hub = new Hub(engine, new Hub.Options(config.push.catchUpPage, config.push.catchUpPage, 500));
    this.rates = new ChangeRates(config.pull.pollInterval.rateWindow.toMillis(), System::currentTimeMillis);
    TidingsConfig.PollInterval pi = config.pull.pollInterval;
    this.advisor = new PollAdvisor(rates, waiters::size, pi.min.toMillis() / 1000.0, pi.max.toMillis() / 1000.0,
        pi.jitter, pi.busyWaiting);
    this.parser = new EventParser(config.events.maxDataSize, config.events.maxBatch);
    this.cors = new Cors(config.server.allowedOrigins, auth.enabled());
    // The shortest interval an advice can hold now is its base less the jitter.
    this.limits = new Limits(config.limits, metrics, topic -> advisor.baseSeconds(topic) * (1 - pi.jitter),
        pi.max.toMillis() / 1000.0 * (1 + pi.jitter));
  }

  /** Starts a server and returns once it listens. */
  public static TidingsServer start(TidingsConfig config) {
    return start(config, null);
  }

  /**
   * Starts a server on {@code engine} instead of the one {@code store} configures (tests wrap an
   * engine to make it fail); the server closes it.
   */
  static TidingsServer start(TidingsConfig config, Engine engine) {
    return start(config, engine, null);
  }

  /**
   * As {@link #start(TidingsConfig, Engine)}, with the clock and timers of webhook and Web Push
   * retries given: a test moves that time by hand to check a schedule of hours.
   */
  static TidingsServer start(TidingsConfig config, Engine engine, Timers timers) {
    TidingsServer server = new TidingsServer(config, engine, timers);
    try {
      server.run();
    } catch (RuntimeException e) {
      server.close();
      throw e;
    }
    return server;
  }

  private static Engine engine(TidingsConfig c) {
    List<RetentionRule> rules = new ArrayList<>();
    for (TidingsConfig.Retention r : c.retention) {
      rules.add(new RetentionRule(TopicPattern.compile(r.topic), r.maxEvents, r.maxAge));
    }
    RetentionPolicy retention = new RetentionPolicy(rules, c.store.retentionInterval);
    DedupeWindow dedupe = new DedupeWindow(c.store.dedupeMinIds, c.store.dedupeMinAge);
    return switch (c.store.kind) {
      case "memory" -> new MemoryEngine(retention, dedupe, Clock.systemUTC());
      case "sqlite" -> new SqliteEngine(Path.of(c.store.path), new SqliteOptions(c.store.sqlite.writerQueue,
          c.store.sqlite.maxBatchEvents, c.store.sqlite.readers, c.store.sqlite.readQueue), retention, dedupe,
          Clock.systemUTC());
      default -> throw new IllegalArgumentException("store.kind " + c.store.kind + " is not available");
    };
  }

  private void run() {
    engine.probe(metrics.storeProbe());
    hub.onDeliveryLatency(metrics::delivered);
    accessLog = AccessLog.open(config.server.accessLog);
    accessLog.bind(metrics);
    engine.start().toCompletableFuture().join();
    subscriptions.add(engine.observe(rates));
    subscriptions.add(engine.observe(waiters));
    subscriptions.add(engine.observe(hub));
    pushStats.bind(metrics, hub);
    grpcStats.bind(metrics);
    metrics.gauge("tidings.long_polls.waiting", "Long polls held now", waiters::size);
    metrics.gauge("tidings.topics.active", "Topics with a recent change rate", rates::size);
    if (engine instanceof SqliteEngine sqlite) {
      metrics.counter("tidings.store.commits", "Write transactions the SQLite store committed (group commits)",
          sqlite, SqliteEngine::commits);
    }
    int loops = config.server.eventLoops > 0 ? config.server.eventLoops : Runtime.getRuntime().availableProcessors();
    transport = transport(config.server.transport);
    vertx = Vertx.builder().with(new VertxOptions().setEventLoopPoolSize(loops)).withTransport(transport).build();
    vertx.setPeriodic(60_000, id -> rates.forgetIdle());
    startDeliveries();
    admin = new AdminService(metrics, pushStats, hub, waiters::size, rates, engine, config.store.kind, loops);
    admin.start(vertx);
    scraper = vertx.createSharedWorkerExecutor("tidings-metrics", 1);
    if (limits.checksRequests()) {
      vertx.setPeriodic(10_000, id -> scraper.executeBlocking(() -> {
        limits.expire();
        return null;
      }, false));
    }
    HttpServerOptions options = httpOptions(config.server, config.push);
    // For a random port, Vert.x shares one among listeners that ask for the same negative number.
    port = deployListeners(options, config.server.port == 0 ? -1 : config.server.port, loops);
    String scheme = config.server.tls != null ? "https" : "http";
    String where = config.store.kind.equals("sqlite") ? " at " + Path.of(config.store.path).toAbsolutePath().normalize() : "";
    if (!auth.enabled()) {
      LOG.warn("no auth section is configured: anyone who can reach {}:{} may publish and read every topic",
          hostForUrl(config.server.host), port);
    }
    LOG.info("Tidings listening on {}://{}:{} (store: {}{}; transport: {})", scheme, hostForUrl(config.server.host),
        port, config.store.kind, where, transport.name());
  }

  /** Webhooks and Web Push: one dispatcher on one event loop, resumed from the store before the listeners open. */
  private void startDeliveries() {
    TidingsConfig.Webhooks wh = config.webhooks;
    Timers timers = givenTimers != null ? givenTimers : Timers.of(vertx);
    resolverThreads = java.util.concurrent.Executors.newFixedThreadPool(4, r -> {
      Thread t = new Thread(r, "tidings-resolver");
      t.setDaemon(true);
      return t;
    });
    TargetGuard guard = new TargetGuard(wh.allowTargets, Resolver.system(resolverThreads));
    outbound = new OutboundClient(vertx, new OutboundClient.Options("Tidings/" + Main.version(),
        Math.min(10_000, wh.timeout.toMillis()), 4, 1024));
    Context context = vertx.getOrCreateContext();
    dispatcher = new Dispatcher(engine, context, timers,
        new RetrySchedule(wh.retrySchedule, wh.retryJitter, wh.disableAfter),
        new Dispatcher.Options(wh.maxInFlight, wh.attemptLog), new Dispatcher.Listener() {
          @Override
          public void attempted(Target target, Batch batch, Outcome outcome) {
            String result = switch (outcome.kind()) {
              case DELIVERED -> "delivered";
              case RETRY -> "failed";
              case GONE -> "gone";
              case NOTIFY_ONLY -> "too_large";
            };
            metrics.deliveryAttempt(Webhooks.owns(target.id()) ? "webhook" : "webpush", result, outcome.latencyNanos(),
                batch.items().size());
          }

          @Override
          public void gone(Target target, Outcome outcome) {
            if (Webhooks.owns(target.id())) {
              webhooks.gone(target.id(), outcome);
            } else {
              webPush.drop(target.id(), "the push service answered " + outcome.status());
            }
          }

          @Override
          public void gaveUp(Target target) {
            if (Webhooks.owns(target.id())) {
              webhooks.gaveUp(target.id());
            } else {
              webPush.drop(target.id(), "it kept failing for " + wh.disableAfter);
            }
          }
        });
    webhooks = new Webhooks(engine.records(), dispatcher, context, guard, outbound, timers, wh);
    webPush = new WebPush(engine.records(), dispatcher, context, guard, outbound, config.webpush, wh.timeout.toMillis());
    subscriptions.add(engine.observe(dispatcher));
    awaitStart(webPush.start(), "Web Push");
    awaitStart(webhooks.start(), "webhooks");
    metrics.gauge("tidings.webhooks.endpoints.enabled", "Webhook endpoints delivering", () -> webhooks.counts()[0]);
    metrics.gauge("tidings.webhooks.endpoints.disabled", "Webhook endpoints disabled (gone, failing or by hand)",
        () -> webhooks.counts()[1]);
    metrics.gauge("tidings.webpush.subscriptions", "Push subscriptions registered", webPush::count);
    metrics.gauge("tidings.delivery.in_flight", "Webhook and push requests awaiting an answer", dispatcher::inFlight);
  }

  private static void awaitStart(Future<Void> started, String what) {
    try {
      started.toCompletionStage().toCompletableFuture().get(60, TimeUnit.SECONDS);
    } catch (Exception e) {
      Throwable cause = e.getCause() != null ? e.getCause() : e;
      throw new IllegalStateException("could not start " + what + ": " + cause.getMessage(), cause);
    }
  }

  private static Transport transport(String name) {
    Transport wanted = switch (name) {
      case "io_uring" -> Transport.IO_URING;
      case "nio" -> Transport.NIO;
      default -> Transport.EPOLL;
    };
    if (wanted != Transport.NIO && !wanted.available()) {
      LOG.info("the {} transport is unavailable here ({}); using Java NIO", name, wanted.unavailabilityCause());
      return Transport.NIO;
    }
    return wanted;
  }

  private int deployListeners(HttpServerOptions options, int wanted, int loops) {
    List<HttpVerticle> listeners = java.util.Collections.synchronizedList(new ArrayList<>());
    await(vertx.deployVerticle(() -> {
      HttpVerticle v = new HttpVerticle(this, options, wanted);
      listeners.add(v);
      return v;
    }, new DeploymentOptions().setInstances(loops)));
    int bound = listeners.get(0).actualPort();
    for (HttpVerticle v : listeners) {
      if (v.actualPort() != bound) {
        throw new IllegalStateException("listeners bound different ports: " + bound + " and " + v.actualPort());
      }
    }
    return bound;
  }

  private static String hostForUrl(String host) {
    return host.contains(":") ? "[" + host + "]" : host;
  }

  private static HttpServerOptions httpOptions(TidingsConfig.Server s, TidingsConfig.Push push) {
    HttpServerOptions o = new HttpServerOptions()
        .setMaxWebSocketFrameSize((int) push.ws.maxFrameSize)
        .setMaxWebSocketMessageSize((int) push.ws.maxFrameSize)
        .setWebSocketSubProtocols(List.of(WsTransport.SUBPROTOCOL))
        // Compression would have to happen per connection, defeating encode-once fan-out.
        .setPerFrameWebSocketCompressionSupported(false)
        .setPerMessageWebSocketCompressionSupported(false)
        .setHost(s.host)
        .setMaxHeaderSize((int) s.maxHeaderSize)
        .setMaxInitialLineLength((int) Math.min(s.maxHeaderSize, 16 * 1024))
        .setIdleTimeout((int) Math.max(1, s.idleTimeout.toSeconds()))
        .setIdleTimeoutUnit(TimeUnit.SECONDS)
        .setTcpNoDelay(true)
        .setHttp2ClearTextEnabled(true);
    if (s.tls != null) {
      o.setSsl(true).setUseAlpn(true).setKeyCertOptions(new PemKeyCertOptions().setCertPath(s.tls.cert).setKeyPath(s.tls.key));
    }
    return o;
  }

  private static <T> T await(Future<T> future) {
    try {
      return future.toCompletionStage().toCompletableFuture().get(60, TimeUnit.SECONDS);
    } catch (Exception e) {
      Throwable cause = e.getCause() != null ? e.getCause() : e;
      throw new IllegalStateException("could not start the HTTP listener: " + cause.getMessage(), cause);
    }
  }

  /** One per listener: request timeouts, and first requests when connections are rate limited. */
  ConnectionWatch connectionWatch() {
    return new ConnectionWatch(config.server.requestTimeout.toMillis(), limits.countsConnections());
  }

  HttpApi api(Context context, ChangesHandler changes, PushLoop push, ConnectionWatch watch) {
    TidingsConfig.Pull pull = config.pull;
    return new HttpApi(context,
        new PublishHandler(engine, parser, config.server.maxBodySize, metrics),
        new StateHandler(engine, advisor, pull, auth),
        changes,
        new TopicsHandler(engine, pull),
        new SseTransport(engine, push, config.push, pushStats, metrics, limits),
        new WsTransport(engine, push, parser, metrics, config.push, pushStats, auth, limits),
        new HealthHandler(engine, () -> draining),
        metrics,
        cors,
        scraper,
        files,
        auth,
        new AdminHandler(admin, engine, files, context, auth.enabled(), pull.topicsMaxLimit),
        accessLog,
        limits,
        watch,
        new WebhooksApi(webhooks),
        new WebPushApi(webPush))
        .withGrpc(new GrpcTransport(push, engine, parser, metrics, config, grpcStats, pushStats, auth, limits,
            new GrpcChanges(changes.reader())));
  }

  /** Starts watching the event loop of {@code context}; call on it. */
  LoopMonitor loopMonitor(Context context) {
    LoopMonitor monitor = new LoopMonitor(context, metrics, loopNumbers.getAndIncrement());
    admin.addLoop(monitor);
    monitor.start();
    return monitor;
  }

  /** Call on the event loop the push connections will live on. */
  PushLoop pushLoop(Context context) {
    return new PushLoop(hub, context);
  }

  /** Call on the event loop whose pull requests it will serve. */
  ChangeReader changeReader(Context context) {
    return new ChangeReader(engine, waiters, context, limits);
  }

  ChangesHandler changesHandler(ChangeReader reader) {
    return new ChangesHandler(reader, advisor, config.pull, auth);
  }

  long shutdownGraceMillis() {
    return config.server.shutdownGrace.toMillis();
  }

  /** The port this server listens on. */
  public int port() {
    return port;
  }

  /** The engine behind this server. */
  public Engine engine() {
    return engine;
  }

  /** Stops listening, answers held long polls, finishes in-flight requests, then closes the store. */
  @Override
  public synchronized void close() {
    if (closed) {
      return;
    }
    closed = true;
    draining = true;
    if (dispatcher != null) {
      // Let requests under way get their answers (and have them stored) within the grace period.
      try {
        dispatcher.close().toCompletionStage().toCompletableFuture()
            .get(Math.min(config.server.shutdownGrace.toMillis(), config.webhooks.timeout.toMillis() + 1_000),
                TimeUnit.MILLISECONDS);
      } catch (Exception e) {
        LOG.info("webhook and push requests still under way at shutdown will be sent again after a restart");
      }
    }
    if (outbound != null) {
      outbound.close();
    }
    if (resolverThreads != null) {
      resolverThreads.shutdownNow();
    }
    if (vertx != null) {
      try {
        vertx.close().toCompletionStage().toCompletableFuture()
            .get(config.server.shutdownGrace.toMillis() + 5_000, TimeUnit.MILLISECONDS);
      } catch (Exception e) {
        LOG.warn("HTTP shutdown did not finish cleanly: {}", e.toString());
      }
    }
    for (AutoCloseable s : subscriptions) {
      try {
        s.close();
      } catch (Exception ignored) {
        // closing a listener registration cannot fail in a way worth reporting
      }
    }
    if (admin != null) {
      admin.stop();
    }
    engine.close();
    auth.close();
    accessLog.close();
    metrics.close();
    LOG.info("Tidings stopped");
  }
}
