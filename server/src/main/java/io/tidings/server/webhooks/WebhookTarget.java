package io.tidings.server.webhooks;

import io.tidings.server.delivery.Batch;
import io.tidings.server.delivery.Item;
import io.tidings.server.delivery.Outcome;
import io.tidings.server.delivery.FilteredTarget;
import io.tidings.server.delivery.Timers;
import io.tidings.server.http.Json;
import io.tidings.server.outbound.OutboundClient;
import io.tidings.server.outbound.TargetGuard;
import io.vertx.core.Future;
import io.vertx.core.buffer.Buffer;
import java.net.URI;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * A webhook endpoint as the dispatcher sees it: one signed {@code POST} of
 * {@code {"events":[...]}} per message, Standard Webhooks headers, to the address the SSRF guard
 * checked just before.
 */
final class WebhookTarget extends FilteredTarget {
  private final WebhookEndpoint endpoint;
  private final URI uri;
  private final TargetGuard guard;
  private final OutboundClient client;
  private final Timers timers;
  private final long timeoutMillis;
  private final long maxBytes;
  private final double defaultRate;

  WebhookTarget(WebhookEndpoint endpoint, URI uri, TargetGuard guard, OutboundClient client, Timers timers,
      long timeoutMillis, long maxBytes, double defaultRate) {
    super(endpoint.topics(), endpoint.owner());
    this.endpoint = endpoint;
    this.uri = uri;
    this.guard = guard;
    this.client = client;
    this.timers = timers;
    this.timeoutMillis = timeoutMillis;
    this.maxBytes = maxBytes;
    this.defaultRate = defaultRate;
  }

  WebhookEndpoint endpoint() {
    return endpoint;
  }

  @Override
  public String id() {
    return endpoint.id();
  }

  @Override
  public String space() {
    return "wh/" + endpoint.id();
  }

  @Override
  public boolean enabled() {
    return endpoint.enabled();
  }

  @Override
  public int maxEvents() {
    return endpoint.maxEvents();
  }

  @Override
  public long maxBytes() {
    return maxBytes;
  }

  @Override
  public long maxWaitMillis() {
    return endpoint.maxWaitMillis();
  }

  @Override
  public boolean sendsState() {
    return true;
  }

  @Override
  public double rateLimit() {
    return endpoint.rateLimit() != null ? endpoint.rateLimit() : defaultRate;
  }

  @Override
  public Future<Outcome> send(Batch batch) {
    long started = System.nanoTime();
    byte[] body = body(batch, endpoint.notifyMode());
    long now = timers.now();
    long timestamp = now / 1000;
    Map<String, String> headers = new LinkedHashMap<>();
    headers.put("content-type", "application/json");
    headers.put("webhook-id", batch.messageId());
    headers.put("webhook-timestamp", Long.toString(timestamp));
    headers.put("webhook-signature",
        WebhookSigner.signature(endpoint.signingSecrets(now), batch.messageId(), timestamp, body));
    return Future.fromCompletionStage(guard.pin(uri))
        .compose(pinned -> client.post(pinned, headers, Buffer.buffer(body), timeoutMillis))
        .transform(ar -> Future.succeededFuture(ar.succeeded() ? Outcome.of(ar.result(), now, 410)
            : Outcome.failed(System.nanoTime() - started, Outcome.describe(ar.cause()))));
  }

  static byte[] body(Batch batch, boolean notifyMode) {
    boolean withData = !notifyMode && !batch.notifyOnly();
    return Json.bytes(gen -> {
      gen.writeStartObject();
      gen.writeArrayFieldStart("events");
      for (Item item : batch.items()) {
        item.write(gen, withData);
      }
      gen.writeEndArray();
      gen.writeEndObject();
    });
  }


}
