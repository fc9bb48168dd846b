package io.tidings.bench.webhooks;

import io.vertx.core.Context;
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
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * Publishes the benchmark's events to Tidings: {@code POST /v1/events?topic=T} with a JSON array of
 * events {@code {"data":{"s":SEQ,"t":MICROS,"p":"xxx…"}}}, where {@code s} numbers the events of each
 * topic from 1 (continuing over runs) and {@code t} is the wall clock when the request was written.
 * Event j of a run goes to topic {@code j mod topics}. At most one request per topic is in flight, so
 * a topic's offsets follow its sequence numbers and the receiver can check order; a request carries
 * what its topic owes, up to {@code maxPerRequest} events. All on one Vert.x event loop.
 */
final class EventFeed implements AutoCloseable {
  /** One run: events acknowledged ({@code 201}), failed, requests sent, seconds from start to last answer. */
  record Result(long published, long failed, long requests, double seconds, String firstError) {}

  private final List<String> paths;
  private final int dataBytes;
  private final int maxPerRequest;
  private final int connections;
  private final Vertx vertx;
  private final Context context;
  private final HttpClientAgent client;
  private final long[] seq;

  // the run under way (context only)
  private Run run;

  EventFeed(String baseUrl, List<String> topics, int dataBytes, int maxPerRequest, int connections) {
    URI uri = URI.create(baseUrl);
    this.paths = topics.stream().map(t -> "/v1/events?topic=" + URLEncoder.encode(t, StandardCharsets.UTF_8)).toList();
    this.dataBytes = dataBytes;
    this.maxPerRequest = maxPerRequest;
    this.connections = connections;
    this.seq = new long[topics.size()];
    this.vertx = Vertx.vertx(new VertxOptions().setEventLoopPoolSize(1).setWorkerPoolSize(1));
    this.context = vertx.getOrCreateContext();
    this.client = vertx.createHttpClient(
        new HttpClientOptions().setKeepAlive(true).setKeepAliveTimeout(600).setTcpNoDelay(true)
            .setDefaultHost(uri.getHost()).setDefaultPort(uri.getPort()).setConnectTimeout(10_000),
        new PoolOptions().setHttp1MaxSize(connections).setMaxWaitQueueSize(-1));
  }

  /** The data of one event: {@code {"s":SEQ,"t":MICROS,"p":"xxx…"}}, {@code size} bytes (at least its fields). */
  static String data(long s, long micros, int size) {
    StringBuilder sb = new StringBuilder(Math.max(size, 64));
    sb.append("{\"s\":").append(s).append(",\"t\":").append(micros).append(",\"p\":\"");
    int pad = size - sb.length() - 2;
    for (int i = 0; i < pad; i++) {
      sb.append('x');
    }
    return sb.append("\"}").toString();
  }

  private final class Run {
    final long total;
    final double rate;
    final long start = System.nanoTime();
    final long[] owed = new long[paths.size()];
    final boolean[] busy = new boolean[paths.size()];
    final CompletableFuture<Result> done = new CompletableFuture<>();
    long assigned;
    long next;
    int inflight;
    int cursor;
    long published;
    long failed;
    long requests;
    long lastAnswer;
    String firstError;
    long timer = -1;

    Run(long total, double rate) {
      this.total = total;
      this.rate = rate;
    }
  }

  /**
   * Publishes {@code total} events at {@code rate} events per second ({@code <= 0}: as fast as
   * one request per topic in flight and {@code connections} allow); completes when all are answered.
   */
  CompletableFuture<Result> run(long total, double rate) {
    CompletableFuture<Result> f = new CompletableFuture<>();
    context.runOnContext(v -> {
      Run r = new Run(total, rate);
      run = r;
      r.done.whenComplete((res, e) -> {
        if (e != null) {
          f.completeExceptionally(e);
        } else {
          f.complete(res);
        }
      });
      if (rate > 0) {
        r.timer = vertx.setPeriodic(1, id -> pump(r));
      }
      pump(r);
    });
    return f;
  }

  private void pump(Run r) {
    if (run != r) {
      return;
    }
    long due = r.rate > 0 ? Math.min(r.total, (long) Math.floor(r.rate * (System.nanoTime() - r.start) / 1e9) + 1)
        : r.total;
    int topics = paths.size();
    if (due > r.assigned) {
      long add = due - r.assigned;
      for (int t = 0; t < topics; t++) {
        r.owed[t] += add / topics;
      }
      for (long k = 0; k < add % topics; k++) {
        r.owed[(int) ((r.next + k) % topics)]++;
      }
      r.next = (r.next + add) % topics;
      r.assigned = due;
    }
    boolean owing = false;
    for (int k = 0; k < topics && r.inflight < connections; k++) {
      int t = (r.cursor + k) % topics;
      if (r.owed[t] > 0 && !r.busy[t]) {
        int n = (int) Math.min(r.owed[t], maxPerRequest);
        r.owed[t] -= n;
        send(r, t, n);
      }
    }
    r.cursor = (r.cursor + 1) % topics;
    for (int t = 0; t < topics && !owing; t++) {
      owing = r.owed[t] > 0;
    }
    if (r.assigned >= r.total && !owing && r.inflight == 0) {
      if (r.timer >= 0) {
        vertx.cancelTimer(r.timer);
      }
      run = null;
      long end = r.lastAnswer > 0 ? r.lastAnswer : System.nanoTime();
      r.done.complete(new Result(r.published, r.failed, r.requests, (end - r.start) / 1e9, r.firstError));
    }
  }

  private void send(Run r, int topic, int n) {
    r.busy[topic] = true;
    r.inflight++;
    r.requests++;
    long micros = WebhookReceiver.nowMicros();
    StringBuilder body = new StringBuilder(n * (dataBytes + 12) + 2).append('[');
    for (int i = 0; i < n; i++) {
      body.append(i == 0 ? "" : ",").append("{\"data\":").append(data(++seq[topic], micros, dataBytes)).append('}');
    }
    body.append(']');
    RequestOptions ro = new RequestOptions().setMethod(HttpMethod.POST).setURI(paths.get(topic))
        .putHeader(HttpHeaders.CONTENT_TYPE, "application/json");
    client.request(ro)
        .compose(req -> req.send(Buffer.buffer(body.toString())))
        .compose(resp -> resp.body().map(b -> resp.statusCode() == 201 ? null
            : "HTTP " + resp.statusCode() + ": " + b.toString()))
        .onComplete(ar -> {
          String problem = ar.failed() ? ar.cause().toString() : ar.result();
          r.busy[topic] = false;
          r.inflight--;
          r.lastAnswer = System.nanoTime();
          if (problem == null) {
            r.published += n;
          } else {
            r.failed += n;
            if (r.firstError == null) {
              r.firstError = problem;
            }
          }
          pump(r);
        });
  }

  @Override
  public void close() {
    try {
      client.close().await(10, TimeUnit.SECONDS);
      vertx.close().await(10, TimeUnit.SECONDS);
    } catch (TimeoutException e) {
      System.err.println("bench: the event feed did not close within 10 s");
    }
  }
}
