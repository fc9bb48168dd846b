package io.tidings.bench;

import io.vertx.core.Vertx;
import io.vertx.core.VertxOptions;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpClientAgent;
import io.vertx.core.http.HttpClientOptions;
import io.vertx.core.http.HttpHeaders;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.PoolOptions;
import io.vertx.core.http.RequestOptions;
import java.net.URI;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicLong;
import org.HdrHistogram.Histogram;

/**
 * A closed-loop HTTP publish load: {@code concurrency} publishers, each sending its next
 * {@code POST /v1/events} as soon as the previous one is acknowledged, over a pool of as many
 * keep-alive connections. So exactly {@code concurrency} requests are in flight while a slice
 * runs, and the latency recorded is the time from sending a request to receiving its whole 201.
 *
 * <p>The load can run as several slices (interleaved by the caller with other measurements); the
 * connections stay open in between. All publishers share one Vert.x event loop of the bench
 * process by default: at the rates an fsync-bound server reaches that is far from the client's
 * limit, and it leaves the CPU to the server.
 */
final class PublishLoad implements AutoCloseable {
  /** One slice: acknowledgements that arrived inside its window, and their latencies. */
  record Result(long ok, long errors, double seconds, Histogram latencyMicros, String firstError, long okTotal) {
    double perSecond() {
      return ok / seconds;
    }
  }

  private final String path;
  private final int concurrency;
  private final int eventSize;
  private final Vertx vertx;
  private final HttpClientAgent client;
  private final long[] sequence;

  PublishLoad(String baseUrl, String topic, int concurrency, int clientLoops, int eventSize) {
    URI uri = URI.create(baseUrl);
    this.path = "/v1/events?topic=" + URLEncoder.encode(topic, StandardCharsets.UTF_8);
    this.concurrency = concurrency;
    this.eventSize = eventSize;
    this.sequence = new long[concurrency];
    this.vertx = Vertx.vertx(new VertxOptions().setEventLoopPoolSize(clientLoops).setWorkerPoolSize(1));
    this.client = vertx.createHttpClient(
        new HttpClientOptions().setKeepAlive(true).setKeepAliveTimeout(600).setTcpNoDelay(true)
            .setPipelining(false).setDefaultHost(uri.getHost()).setDefaultPort(uri.getPort())
            .setConnectTimeout(10_000),
        new PoolOptions().setHttp1MaxSize(concurrency).setMaxWaitQueueSize(-1));
  }

  /** A small event body of about {@code size} bytes: {"data":{"n":<i>,"s":"xxxx..."}}. */
  static String body(long n, int size) {
    String head = "{\"data\":{\"n\":" + n + ",\"s\":\"";
    String tail = "\"}}";
    int pad = Math.max(1, size - head.length() - tail.length());
    return head + "x".repeat(pad) + tail;
  }

  /** The {@code data} part of {@link #body}, as the engine stores it. */
  static String data(long n, int size) {
    String b = body(n, size);
    return b.substring("{\"data\":".length(), b.length() - 1);
  }

  /**
   * Runs the load for {@code warmupSeconds} without recording, then for {@code seconds}, and
   * returns once every publisher has had its last answer. The throughput counts acknowledgements
   * received inside the measured window; the histogram holds the requests that both started and
   * finished inside it.
   */
  Result run(double warmupSeconds, double seconds) throws InterruptedException {
    Histogram hist = new Histogram(TimeUnit.SECONDS.toMicros(60), 3);
    AtomicLong ok = new AtomicLong();
    AtomicLong errors = new AtomicLong();
    AtomicLong okTotal = new AtomicLong();
    StringBuilder firstError = new StringBuilder();
    long t0 = System.nanoTime();
    long measureStart = t0 + (long) (warmupSeconds * 1e9);
    long measureEnd = measureStart + (long) (seconds * 1e9);
    CountDownLatch done = new CountDownLatch(concurrency);
    Slice slice = new Slice(measureStart, measureEnd, hist, ok, errors, okTotal, firstError, done);
    for (int i = 0; i < concurrency; i++) {
      int index = i;
      vertx.runOnContext(v -> next(slice, index));
    }
    // Each publisher stops after its first answer past the window; bound the wait anyway.
    if (!done.await((long) (warmupSeconds + seconds + 60), TimeUnit.SECONDS)) {
      System.err.println("bench: some publishers were still waiting 60 s after the end of the slice");
    }
    String err;
    synchronized (firstError) {
      err = firstError.length() == 0 ? null : firstError.toString();
    }
    return new Result(ok.get(), errors.get(), seconds, hist, err, okTotal.get());
  }

  private record Slice(long measureStart, long measureEnd, Histogram hist, AtomicLong ok, AtomicLong errors,
      AtomicLong okTotal, StringBuilder firstError, CountDownLatch done) {}

  private void next(Slice s, int index) {
    long start = System.nanoTime();
    if (start >= s.measureEnd()) {
      s.done().countDown();
      return;
    }
    Buffer payload = Buffer.buffer(body(index * 1_000_000_000L + sequence[index]++, eventSize));
    RequestOptions ro = new RequestOptions().setMethod(HttpMethod.POST).setURI(path)
        .putHeader(HttpHeaders.CONTENT_TYPE, "application/json");
    client.request(ro)
        .compose(req -> req.send(payload))
        .compose(resp -> resp.body().map(b -> resp.statusCode() == 201 ? null
            : "HTTP " + resp.statusCode() + ": " + b.toString()))
        .onComplete(ar -> {
          long end = System.nanoTime();
          String problem = ar.failed() ? ar.cause().toString() : ar.result();
          boolean counted = end >= s.measureStart() && end < s.measureEnd();
          if (problem != null) {
            synchronized (s.firstError()) {
              if (s.firstError().length() == 0) {
                s.firstError().append(problem);
              }
            }
            if (counted) {
              s.errors().incrementAndGet();
            }
          } else {
            s.okTotal().incrementAndGet();
            if (counted) {
              s.ok().incrementAndGet();
              if (start >= s.measureStart()) {
                // Histogram is not thread-safe; with several client loops, publishers share it.
                synchronized (s.hist()) {
                  s.hist().recordValue(Math.max(1, (end - start) / 1_000));
                }
              }
            }
          }
          next(s, index);
        });
  }

  @Override
  public void close() {
    try {
      client.close().await(10, TimeUnit.SECONDS);
      vertx.close().await(10, TimeUnit.SECONDS);
    } catch (TimeoutException e) {
      System.err.println("bench: the load generator did not close within 10 s");
    }
  }
}
