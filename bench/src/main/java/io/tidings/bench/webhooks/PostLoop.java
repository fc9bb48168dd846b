package io.tidings.bench.webhooks;

import io.vertx.core.Vertx;
import io.vertx.core.VertxOptions;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpClientAgent;
import io.vertx.core.http.HttpClientOptions;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.PoolOptions;
import io.vertx.core.http.RequestOptions;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.SecureRandom;
import java.util.Base64;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicLong;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;
import org.HdrHistogram.Histogram;

/**
 * The baseline: what a plain webhook sender gets from the same receiver on the same cores. {@code
 * concurrency} closed loops, loop i posting to {@code /base/i} on port {@code ports[i mod P]}, each
 * sending its next request as soon as the previous one is answered, over keep-alive connections
 * (Vert.x HTTP client, one event loop, like Tidings' own outbound client). Every request carries
 * the body of a one-event webhook request (with a fresh sequence number and send time) and the
 * Standard Webhooks headers, signed with the loop's secret, so that a receiver that verifies
 * signatures does the same work for both. No store, no dispatcher: the cost of the POSTs alone.
 */
final class PostLoop implements AutoCloseable {
  private static final Pattern S = Pattern.compile("\"s\":\\d+");
  private static final Pattern T = Pattern.compile("\"t\":\\d+");
  private static final SecureRandom RANDOM = new SecureRandom();

  /** One run: answers (2xx) inside the window, errors, client-side latency of requests inside it. */
  record Result(long ok, long errors, double seconds, Histogram latencyMicros, String firstError) {}

  private final List<Integer> ports;
  private final int concurrency;
  private final String head;
  private final String middle;
  private final String tail;
  private final byte[][] keys;
  private final long[] seq;
  private final Vertx vertx;
  private final HttpClientAgent client;

  /**
   * @param template a one-event webhook body containing {@code "s":N} then {@code "t":M}
   * @param secrets per loop, the {@code whsec_} secret it signs with
   */
  PostLoop(List<Integer> ports, int concurrency, int connections, String template, List<String> secrets) {
    this.ports = ports;
    this.concurrency = concurrency;
    Matcher s = S.matcher(template);
    Matcher t = T.matcher(template);
    if (!s.find() || !t.find(s.end())) {
      throw new IllegalArgumentException("the body template has no \"s\": and \"t\": fields: " + template);
    }
    this.head = template.substring(0, s.start()) + "\"s\":";
    this.middle = template.substring(s.end(), t.start()) + "\"t\":";
    this.tail = template.substring(t.end());
    this.keys = new byte[concurrency][];
    for (int i = 0; i < concurrency; i++) {
      String secret = secrets.get(i);
      keys[i] = Base64.getDecoder().decode(secret.startsWith("whsec_") ? secret.substring(6) : secret);
    }
    this.seq = new long[concurrency];
    this.vertx = Vertx.vertx(new VertxOptions().setEventLoopPoolSize(1).setWorkerPoolSize(1));
    int perPort = (connections + ports.size() - 1) / ports.size();
    this.client = vertx.createHttpClient(
        new HttpClientOptions().setKeepAlive(true).setKeepAliveTimeout(600).setTcpNoDelay(true)
            .setPipelining(false).setConnectTimeout(10_000),
        new PoolOptions().setHttp1MaxSize(Math.max(1, perPort)).setMaxWaitQueueSize(-1));
  }

  /** A new secret for one loop, as Tidings makes them. */
  static String newSecret() {
    byte[] key = new byte[32];
    RANDOM.nextBytes(key);
    return "whsec_" + Base64.getEncoder().encodeToString(key);
  }

  /** Runs for {@code warmup} seconds without counting, then {@code seconds} counted; returns once every loop stopped. */
  Result run(double warmup, double seconds) throws InterruptedException {
    long t0 = System.nanoTime();
    long from = t0 + (long) (warmup * 1e9);
    long to = from + (long) (seconds * 1e9);
    AtomicLong ok = new AtomicLong();
    AtomicLong errors = new AtomicLong();
    Histogram hist = new Histogram(TimeUnit.SECONDS.toMicros(60), 3);
    StringBuilder firstError = new StringBuilder();
    CountDownLatch done = new CountDownLatch(concurrency);
    for (int i = 0; i < concurrency; i++) {
      int loop = i;
      vertx.runOnContext(v -> next(loop, from, to, ok, errors, hist, firstError, done));
    }
    if (!done.await((long) (warmup + seconds + 60), TimeUnit.SECONDS)) {
      System.err.println("bench: some baseline loops were still waiting 60 s after the end");
    }
    return new Result(ok.get(), errors.get(), seconds, hist, firstError.length() == 0 ? null : firstError.toString());
  }

  private void next(int loop, long from, long to, AtomicLong ok, AtomicLong errors, Histogram hist,
      StringBuilder firstError, CountDownLatch done) {
    long start = System.nanoTime();
    if (start >= to) {
      done.countDown();
      return;
    }
    String body = head + (++seq[loop]) + middle + WebhookReceiver.nowMicros() + tail;
    byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
    String id = "msg_" + Long.toHexString(RANDOM.nextLong()) + Long.toHexString(seq[loop]);
    long ts = System.currentTimeMillis() / 1000;
    RequestOptions ro = new RequestOptions().setMethod(HttpMethod.POST).setHost("127.0.0.1")
        .setPort(ports.get(loop % ports.size())).setURI("/base/" + loop)
        .putHeader("content-type", "application/json")
        .putHeader("user-agent", "tidings-bench baseline")
        .putHeader("webhook-id", id)
        .putHeader("webhook-timestamp", Long.toString(ts))
        .putHeader("webhook-signature", sign(keys[loop], id, ts, bytes));
    client.request(ro)
        .compose(req -> req.send(Buffer.buffer(bytes)))
        .compose(resp -> resp.body().map(b -> resp.statusCode() / 100 == 2 ? null
            : "HTTP " + resp.statusCode() + ": " + b.toString()))
        .onComplete(ar -> {
          long end = System.nanoTime();
          String problem = ar.failed() ? ar.cause().toString() : ar.result();
          boolean counted = end >= from && end < to;
          if (problem != null) {
            if (counted) {
              errors.incrementAndGet();
            }
            if (firstError.length() == 0) {
              firstError.append(problem);
            }
          } else if (counted) {
            ok.incrementAndGet();
            if (start >= from) {
              hist.recordValue(Math.max(1, (end - start) / 1_000));
            }
          }
          next(loop, from, to, ok, errors, hist, firstError, done);
        });
  }

  /** The webhook-signature value, as Tidings computes it. */
  static String sign(byte[] key, String id, long ts, byte[] body) {
    try {
      Mac mac = Mac.getInstance("HmacSHA256");
      mac.init(new SecretKeySpec(key, "HmacSHA256"));
      mac.update((id + '.' + ts + '.').getBytes(StandardCharsets.UTF_8));
      mac.update(body);
      return "v1," + Base64.getEncoder().encodeToString(mac.doFinal());
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException(e);
    }
  }

  @Override
  public void close() {
    try {
      client.close().await(10, TimeUnit.SECONDS);
      vertx.close().await(10, TimeUnit.SECONDS);
    } catch (TimeoutException e) {
      System.err.println("bench: the baseline client did not close within 10 s");
    }
  }
}
