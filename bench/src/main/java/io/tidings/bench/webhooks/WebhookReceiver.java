package io.tidings.bench.webhooks;

import io.vertx.core.AbstractVerticle;
import io.vertx.core.DeploymentOptions;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.VertxOptions;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.HttpServer;
import io.vertx.core.http.HttpServerOptions;
import io.vertx.core.http.HttpServerRequest;
import io.vertx.core.transport.Transport;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.atomic.LongAdder;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;
import org.HdrHistogram.Histogram;
import org.HdrHistogram.Recorder;

/**
 * The benchmark's webhook receiver: a Vert.x HTTP server on {@code 127.0.0.1} (one or more free
 * ports, one or more event loops) that answers every {@code POST /hook/<i>} and {@code POST
 * /base/<i>} with {@code 204} as soon as the body has arrived. It counts requests, events and
 * bytes, per path and in total; finds each event's {@code "s":SEQ} and {@code "t":MICROS} by a byte
 * scan (no JSON parse) to check order per path (a sequence number not one above the path's last is
 * a duplicate or a gap) and to record the lag {@code now - t} in an HdrHistogram. With {@code
 * --verify} it also checks each request's Standard Webhooks signature (HMAC-SHA256 with the
 * secret the coordinator gave it for that path) before answering, to show what that costs.
 *
 * <p>Control routes, for the coordinator: {@code GET /stats} (cumulative counters as JSON), {@code
 * GET /lag} (the lag histogram since the previous {@code /lag}, compressed, base64), {@code PUT
 * /secret/<path>} (the signing secret of a path), {@code POST /forget} (forget the last sequence
 * number of every path, for a sender that starts over), {@code GET /sample} (the first one-event
 * body received on {@code /hook/}).
 *
 * <p>Prints {@code receiver listening on 127.0.0.1 ports P1,P2,...} on stdout once it listens and
 * runs until its stdin closes or it gets SIGTERM.
 */
public final class WebhookReceiver {
  private static final String USAGE = """
      WebhookReceiver [options]
        --ports N     listening ports (default 1); endpoints are spread over them, so that each port is a
                      separate target (and a separate connection pool) for the sender
        --loops N     event loops (default 1)
        --verify      check every request's webhook-signature (HMAC-SHA256) before answering
      """;

  private static final byte[] S_KEY = "\"s\":".getBytes(StandardCharsets.US_ASCII);
  private static final byte[] T_KEY = "\"t\":".getBytes(StandardCharsets.US_ASCII);
  /** Standard Webhooks' default tolerance for webhook-timestamp. */
  private static final long TOLERANCE_SECONDS = 300;

  private WebhookReceiver() {}

  // ---- shared state (any event loop) ----

  private static boolean verify;
  private static final LongAdder requests = new LongAdder();
  private static final LongAdder events = new LongAdder();
  private static final LongAdder bytes = new LongAdder();
  private static final LongAdder duplicates = new LongAdder();
  private static final LongAdder gaps = new LongAdder();
  private static final LongAdder verified = new LongAdder();
  private static final LongAdder badSignatures = new LongAdder();
  private static final LongAdder other = new LongAdder();
  private static final LongAdder connections = new LongAdder();
  private static final LongAdder connectionsOpened = new LongAdder();
  private static final Recorder lag = new Recorder(TimeUnit.MINUTES.toMicros(10), 3);
  private static final Map<String, PathState> paths = new ConcurrentHashMap<>();
  private static final Map<String, byte[]> secrets = new ConcurrentHashMap<>();
  private static final AtomicReference<String> sample = new AtomicReference<>();
  private static final ThreadLocal<Mac> MAC = ThreadLocal.withInitial(() -> {
    try {
      return Mac.getInstance("HmacSHA256");
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException(e);
    }
  });

  /** What one path received. Requests to one path come one at a time, but maybe on different loops. */
  private static final class PathState {
    long lastSeq;
    long requests;
    long events;
  }

  public static void main(String[] argv) throws Exception {
    int ports = 1;
    int loops = 1;
    for (int i = 0; i < argv.length; i++) {
      switch (argv[i]) {
        case "--ports" -> ports = Integer.parseInt(argv[++i]);
        case "--loops" -> loops = Integer.parseInt(argv[++i]);
        case "--verify" -> verify = true;
        case "--help" -> {
          System.out.print(USAGE);
          return;
        }
        default -> throw new IllegalArgumentException("unknown argument " + argv[i] + "\n" + USAGE);
      }
    }
    Transport transport = Transport.EPOLL.available() ? Transport.EPOLL : Transport.NIO;
    Vertx vertx = Vertx.builder().with(new VertxOptions().setEventLoopPoolSize(loops).setWorkerPoolSize(1))
        .withTransport(transport).build();
    // The first instance binds free ports; the others bind the same ones (Vert.x spreads the
    // connections of a shared port over the instances' event loops).
    List<Integer> bound = new ArrayList<>();
    for (int i = 0; i < ports; i++) {
      bound.add(0);
    }
    Listener first = new Listener(bound);
    await(vertx.deployVerticle(first));
    List<Integer> actual = first.actualPorts();
    if (loops > 1) {
      await(vertx.deployVerticle(() -> new Listener(actual), new DeploymentOptions().setInstances(loops - 1)));
    }
    StringBuilder list = new StringBuilder();
    for (int p : actual) {
      list.append(list.length() == 0 ? "" : ",").append(p);
    }
    System.out.println("receiver listening on 127.0.0.1 ports " + list + " (" + loops + " event loops, "
        + transport.name().toLowerCase(java.util.Locale.ROOT) + (verify ? ", verifying signatures" : "") + ")");
    System.out.flush();
    CountDownLatch stop = new CountDownLatch(1);
    Thread stdin = new Thread(() -> {
      try {
        while (System.in.read() >= 0) {
          // the coordinator keeps stdin open while it wants the receiver
        }
      } catch (java.io.IOException ignored) {
        // closed
      }
      stop.countDown();
    }, "receiver-stdin");
    stdin.setDaemon(true);
    stdin.start();
    Runtime.getRuntime().addShutdownHook(new Thread(stop::countDown));
    stop.await();
    vertx.close().await(10, TimeUnit.SECONDS);
    System.exit(0);
  }

  private static <T> T await(Future<T> f) throws Exception {
    return f.await(30, TimeUnit.SECONDS);
  }

  /** One event loop's servers, one per port. */
  private static final class Listener extends AbstractVerticle {
    private final List<Integer> ports;
    private final List<HttpServer> servers = new ArrayList<>();

    Listener(List<Integer> ports) {
      this.ports = ports;
    }

    List<Integer> actualPorts() {
      List<Integer> out = new ArrayList<>();
      for (HttpServer s : servers) {
        out.add(s.actualPort());
      }
      return out;
    }

    @Override
    public void start(Promise<Void> started) {
      List<Future<HttpServer>> all = new ArrayList<>();
      for (int port : ports) {
        HttpServer s = vertx.createHttpServer(new HttpServerOptions().setHost("127.0.0.1").setPort(port)
            .setTcpNoDelay(true).setIdleTimeout(0));
        s.requestHandler(WebhookReceiver::handle);
        s.connectionHandler(c -> {
          connections.increment();
          connectionsOpened.increment();
          c.closeHandler(v -> connections.decrement());
        });
        servers.add(s);
        all.add(s.listen());
      }
      Future.all(all).<Void>mapEmpty().onComplete(started);
    }
  }

  // ---- requests ----

  private static void handle(HttpServerRequest req) {
    String path = req.path();
    if (req.method() == HttpMethod.POST && (path.startsWith("/hook/") || path.startsWith("/base/"))) {
      req.body().onSuccess(body -> {
        int status = receive(req, path, body);
        req.response().setStatusCode(status).end();
      }).onFailure(e -> req.response().setStatusCode(400).end());
      return;
    }
    if (req.method() == HttpMethod.GET && path.equals("/stats")) {
      req.response().putHeader("content-type", "application/json").end(stats());
      return;
    }
    if (req.method() == HttpMethod.GET && path.equals("/lag")) {
      Histogram h = lag.getIntervalHistogram();
      ByteBuffer buf = ByteBuffer.allocate(h.getNeededByteBufferCapacity());
      int n = h.encodeIntoCompressedByteBuffer(buf);
      req.response().end(Base64.getEncoder().encodeToString(java.util.Arrays.copyOf(buf.array(), n)));
      return;
    }
    if (req.method() == HttpMethod.PUT && path.startsWith("/secret/")) {
      String target = path.substring("/secret".length());
      req.body().onSuccess(b -> {
        String secret = b.toString().trim();
        secrets.put(target, Base64.getDecoder().decode(secret.startsWith("whsec_") ? secret.substring(6) : secret));
        req.response().setStatusCode(204).end();
      });
      return;
    }
    if (req.method() == HttpMethod.POST && path.equals("/forget")) {
      // A new sender starts its sequence numbers again: forget what each path had (counters stay).
      for (PathState ps : paths.values()) {
        synchronized (ps) {
          ps.lastSeq = 0;
        }
      }
      req.response().setStatusCode(204).end();
      return;
    }
    if (req.method() == HttpMethod.GET && path.equals("/sample")) {
      String s = sample.get();
      req.response().setStatusCode(s == null ? 404 : 200).end(s == null ? "" : s);
      return;
    }
    other.increment();
    req.response().setStatusCode(404).end();
  }

  /** Counts one delivery; the status to answer (204, or 401 for a bad signature). */
  private static int receive(HttpServerRequest req, String path, Buffer body) {
    long now = nowMicros();
    byte[] b = body.getBytes();
    int status = 204;
    if (verify && !signatureOk(req, path, b)) {
      badSignatures.increment();
      status = 401;
    }
    PathState ps = paths.computeIfAbsent(path, k -> new PathState());
    int n = 0;
    synchronized (ps) {
      int at = 0;
      while (true) {
        int s = indexOf(b, at, S_KEY);
        if (s < 0) {
          break;
        }
        long seq = number(b, s + S_KEY.length);
        int t = indexOf(b, s + S_KEY.length, T_KEY);
        if (seq < 0 || t < 0) {
          break;
        }
        long micros = number(b, t + T_KEY.length);
        at = t + T_KEY.length;
        n++;
        if (seq <= ps.lastSeq) {
          duplicates.increment();
        } else {
          if (seq > ps.lastSeq + 1) {
            gaps.add(seq - ps.lastSeq - 1);
          }
          ps.lastSeq = seq;
        }
        if (micros > 0) {
          lag.recordValue(Math.min(TimeUnit.MINUTES.toMicros(10), Math.max(0, now - micros)));
        }
      }
      ps.requests++;
      ps.events += n;
    }
    requests.increment();
    events.add(n);
    bytes.add(b.length);
    if (n == 1 && path.startsWith("/hook/") && sample.get() == null) {
      sample.compareAndSet(null, new String(b, StandardCharsets.UTF_8));
    }
    return status;
  }

  /** Standard Webhooks v1: base64(HMAC-SHA256(key, id "." timestamp "." body)) among the header's signatures. */
  private static boolean signatureOk(HttpServerRequest req, String path, byte[] body) {
    byte[] key = secrets.get(path);
    String id = req.getHeader("webhook-id");
    String ts = req.getHeader("webhook-timestamp");
    String sigs = req.getHeader("webhook-signature");
    if (key == null || id == null || ts == null || sigs == null) {
      return false;
    }
    long timestamp;
    try {
      timestamp = Long.parseLong(ts);
    } catch (NumberFormatException e) {
      return false;
    }
    if (Math.abs(System.currentTimeMillis() / 1000 - timestamp) > TOLERANCE_SECONDS) {
      return false;
    }
    byte[] expected;
    try {
      Mac mac = MAC.get();
      mac.init(new SecretKeySpec(key, "HmacSHA256"));
      mac.update((id + '.' + ts + '.').getBytes(StandardCharsets.UTF_8));
      mac.update(body);
      expected = mac.doFinal();
    } catch (GeneralSecurityException e) {
      return false;
    }
    for (String sig : sigs.split(" ")) {
      if (sig.startsWith("v1,")) {
        byte[] given;
        try {
          given = Base64.getDecoder().decode(sig.substring(3));
        } catch (IllegalArgumentException e) {
          continue;
        }
        if (MessageDigest.isEqual(expected, given)) {
          verified.increment();
          return true;
        }
      }
    }
    return false;
  }

  private static String stats() {
    long minReq = Long.MAX_VALUE;
    long maxReq = 0;
    long minEv = Long.MAX_VALUE;
    long maxEv = 0;
    int hookPaths = 0;
    StringBuilder perPath = new StringBuilder();
    for (Map.Entry<String, PathState> e : paths.entrySet()) {
      PathState ps = e.getValue();
      long r;
      long ev;
      synchronized (ps) {
        r = ps.requests;
        ev = ps.events;
      }
      perPath.append(perPath.length() == 0 ? "" : ",").append('"').append(e.getKey()).append("\":[").append(r)
          .append(',').append(ev).append(']');
      if (e.getKey().startsWith("/hook/")) {
        hookPaths++;
        minReq = Math.min(minReq, r);
        maxReq = Math.max(maxReq, r);
        minEv = Math.min(minEv, ev);
        maxEv = Math.max(maxEv, ev);
      }
    }
    return "{\"requests\":" + requests.sum() + ",\"events\":" + events.sum() + ",\"bytes\":" + bytes.sum()
        + ",\"duplicates\":" + duplicates.sum() + ",\"gaps\":" + gaps.sum() + ",\"verified\":" + verified.sum()
        + ",\"bad_signatures\":" + badSignatures.sum() + ",\"other\":" + other.sum() + ",\"hook_paths\":" + hookPaths
        + ",\"connections\":" + connections.sum() + ",\"connections_opened\":" + connectionsOpened.sum()
        + ",\"time_ms\":" + System.currentTimeMillis() + ",\"paths\":{" + perPath + "}}";
  }

  /** Wall clock in microseconds (the publisher stamps events with the same clock). */
  static long nowMicros() {
    java.time.Instant i = java.time.Instant.now();
    return i.getEpochSecond() * 1_000_000L + i.getNano() / 1_000;
  }

  private static int indexOf(byte[] b, int from, byte[] needle) {
    int last = b.length - needle.length;
    outer:
    for (int i = from; i <= last; i++) {
      if (b[i] != needle[0]) {
        continue;
      }
      for (int j = 1; j < needle.length; j++) {
        if (b[i + j] != needle[j]) {
          continue outer;
        }
      }
      return i;
    }
    return -1;
  }

  private static long number(byte[] b, int at) {
    int i = at;
    while (i < b.length && b[i] == ' ') {
      i++;
    }
    int start = i;
    long v = 0;
    while (i < b.length && b[i] >= '0' && b[i] <= '9') {
      v = v * 10 + (b[i] - '0');
      i++;
    }
    return i == start ? -1 : v;
  }
}
