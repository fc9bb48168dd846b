package io.tidings.server.webpush;

import io.tidings.server.delivery.Batch;
import io.tidings.server.delivery.Item;
import io.tidings.server.delivery.Outcome;
import io.tidings.server.delivery.FilteredTarget;
import io.tidings.server.http.Json;
import io.tidings.server.outbound.OutboundClient;
import io.tidings.server.outbound.OutboundResponse;
import io.tidings.server.outbound.TargetGuard;
import io.vertx.core.Future;
import io.vertx.core.buffer.Buffer;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * A Web Push subscription as the dispatcher sees it. In full mode each event is one push message
 * carrying the event; in notify mode the events waiting are folded into one message naming the
 * newest cursor, and the app pulls the changes. A reset is one message too (the app refetches the
 * state): a push per state entry would help nobody.
 */
final class WebPushTarget extends FilteredTarget {
  private static final int NOTIFY_COALESCE = 1000;

  private final WebPushSubscription subscription;
  private final TargetGuard guard;
  private final OutboundClient client;
  private final Vapid vapid;
  private final long ttlSeconds;
  private final String urgency;
  private final long timeoutMillis;

  WebPushTarget(WebPushSubscription subscription, TargetGuard guard, OutboundClient client, Vapid vapid,
      long ttlSeconds, String urgency, long timeoutMillis) {
    super(subscription.topics(), subscription.owner());
    this.subscription = subscription;
    this.guard = guard;
    this.client = client;
    this.vapid = vapid;
    this.ttlSeconds = ttlSeconds;
    this.urgency = urgency;
    this.timeoutMillis = timeoutMillis;
  }

  WebPushSubscription subscription() {
    return subscription;
  }

  @Override
  public String id() {
    return subscription.id();
  }

  @Override
  public String space() {
    return "wp/" + subscription.id();
  }

  @Override
  public boolean enabled() {
    return true;
  }

  @Override
  public int maxEvents() {
    return subscription.notifyMode() ? NOTIFY_COALESCE : 1;
  }

  @Override
  public long maxBytes() {
    return subscription.notifyMode() ? Long.MAX_VALUE : PushEncryption.MAX_PLAINTEXT;
  }

  @Override
  public long maxWaitMillis() {
    return 0;
  }

  @Override
  public boolean sendsState() {
    return false;
  }

  @Override
  public double rateLimit() {
    return 0;
  }

  @Override
  public Future<Outcome> send(Batch batch) {
    long started = System.nanoTime();
    byte[] payload = payload(batch, subscription.notifyMode() || batch.notifyOnly());
    byte[] body;
    try {
      body = PushEncryption.encrypt(payload, subscription.keys());
    } catch (RuntimeException e) {
      return Future.succeededFuture(Outcome.failed(System.nanoTime() - started, "encryption failed: " + e.getMessage()));
    }
    Map<String, String> headers = new LinkedHashMap<>();
    headers.put("content-type", "application/octet-stream");
    headers.put("content-encoding", "aes128gcm");
    headers.put("ttl", Long.toString(ttlSeconds));
    headers.put("urgency", urgency);
    headers.put("topic", PushHeaders.topicHeader(batch.topic()));
    headers.put("authorization", vapid.authorization(subscription.keys().endpoint()));
    long now = System.currentTimeMillis();
    return Future.fromCompletionStage(guard.pin(subscription.keys().endpoint()))
        .compose(pinned -> client.post(pinned, headers, Buffer.buffer(body), timeoutMillis))
        .transform(ar -> Future.succeededFuture(ar.succeeded() ? outcome(ar.result(), batch, now)
            : Outcome.failed(System.nanoTime() - started, Outcome.describe(ar.cause()))));
  }

  /** The JSON the service worker gets: the event, or in notify form only where to pull from. */
  static byte[] payload(Batch batch, boolean notify) {
    Item first = batch.items().get(0);
    if (first instanceof Item.Reset reset) {
      return Json.bytes(gen -> {
        gen.writeStartObject();
        gen.writeStringField("topic", reset.topic());
        gen.writeStringField("type", "reset");
        gen.writeStringField("cursor", reset.cursor().encode());
        gen.writeStringField("reason", reset.reason());
        gen.writeBooleanField("notify", true);
        gen.writeEndObject();
      });
    }
    if (!notify) {
      byte[] full = Json.bytes(gen -> first.write(gen, true));
      if (full.length <= PushEncryption.MAX_PLAINTEXT) {
        return full;
      }
    }
    Item last = batch.last();
    return Json.bytes(gen -> {
      gen.writeStartObject();
      gen.writeStringField("topic", last.topic());
      gen.writeStringField("cursor", last.cursor().encode());
      if (last instanceof Item.Change change) {
        gen.writeStringField("type", change.event().type());
      }
      gen.writeNumberField("events", batch.items().size());
      gen.writeBooleanField("notify", true);
      gen.writeEndObject();
    });
  }

  private static Outcome outcome(OutboundResponse r, Batch batch, long now) {
    if (r.status() == 413 && !batch.notifyOnly()) {
      return new Outcome(Outcome.Kind.NOTIFY_ONLY, 413, r.latencyNanos(), -1, r.snippet());
    }
    return Outcome.of(r, now, 404, 410);
  }

}
