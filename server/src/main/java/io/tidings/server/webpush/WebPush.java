package io.tidings.server.webpush;

import com.fasterxml.jackson.databind.JsonNode;
import io.tidings.core.Position;
import io.tidings.core.Record;
import io.tidings.core.RecordWrite;
import io.tidings.core.Records;
import io.tidings.server.auth.Access;
import io.tidings.server.auth.Principal;
import io.tidings.server.config.TidingsConfig;
import io.tidings.server.delivery.Dispatcher;
import io.tidings.server.delivery.Hop;
import io.tidings.server.delivery.TopicList;
import io.tidings.server.delivery.Owner;
import io.tidings.server.http.ApiException;
import io.tidings.server.http.Json;
import io.tidings.server.outbound.OutboundClient;
import io.tidings.server.outbound.TargetGuard;
import io.tidings.server.outbound.TargetRefusedException;
import io.vertx.core.Context;
import io.vertx.core.Future;
import java.security.SecureRandom;
import java.time.Clock;
import java.util.Base64;
import java.util.HashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletionStage;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The registered push subscriptions (kept in the store, space {@code webpush}) and the server's
 * VAPID key pair (configured, or made on first start and kept in the store). A subscription the
 * push service reports gone (404, 410), or that keeps failing past the retry schedule, is removed.
 */
public final class WebPush {
  static final String SPACE = "webpush";
  private static final String KEYS_SPACE = "webpush-keys";
  private static final Logger LOG = LoggerFactory.getLogger(WebPush.class);
  private static final SecureRandom RANDOM = new SecureRandom();
  private static final int MAX_TOPICS = 100;

  private final Records records;
  private final Dispatcher dispatcher;
  private final Context context;
  private final TargetGuard guard;
  private final OutboundClient client;
  private final TidingsConfig.WebPush config;
  private final long timeoutMillis;
  // Changed on the context only; concurrent so that the metrics scrape may count it.
  private final Map<String, WebPushTarget> subscriptions = new java.util.concurrent.ConcurrentHashMap<>();
  // Browsers post the same subscription again on every visit: one per push endpoint.
  private final Map<String, String> byEndpoint = new HashMap<>();
  private volatile VapidKeys keys;
  private Vapid vapid;

  public WebPush(Records records, Dispatcher dispatcher, Context context, TargetGuard guard, OutboundClient client,
      TidingsConfig.WebPush config, long timeoutMillis) {
    this.records = records;
    this.dispatcher = dispatcher;
    this.context = context;
    this.guard = guard;
    this.client = client;
    this.config = config;
    this.timeoutMillis = timeoutMillis;
  }

  /** Settles the VAPID keys, then loads every stored subscription and resumes delivering to it. */
  public Future<Void> start() {
    return onContext(() -> keys().compose(k -> {
      keys = k;
      vapid = new Vapid(k, config.subject, Clock.systemUTC());
      return loadFrom(null);
    }));
  }

  private Future<VapidKeys> keys() {
    if (config.vapid != null) {
      try {
        return Future.succeededFuture(VapidKeys.fromBase64Url(config.vapid.publicKey, config.vapid.privateKey));
      } catch (IllegalArgumentException e) {
        return Future.failedFuture(new IllegalArgumentException("webpush.vapid: " + e.getMessage()));
      }
    }
    return stage(records.get(KEYS_SPACE, "vapid")).compose(stored -> {
      if (stored != null) {
        JsonNode n = Json.parse(stored);
        return Future.succeededFuture(VapidKeys.fromBase64Url(n.get("public_key").asText(), n.get("private_key").asText()));
      }
      VapidKeys made = VapidKeys.generate();
      String doc = Json.bytesToString(gen -> {
        gen.writeStartObject();
        gen.writeStringField("public_key", made.publicKeyBase64Url());
        gen.writeStringField("private_key", made.privateKeyBase64Url());
        gen.writeEndObject();
      });
      LOG.info("made a VAPID key pair for Web Push and kept it in the store");
      return stage(records.write(List.of(RecordWrite.put(KEYS_SPACE, "vapid", doc)))).map(v -> made);
    });
  }

  private Future<Void> loadFrom(String after) {
    return stage(records.list(SPACE, after, 1000)).compose(page -> {
      Future<Void> chain = Future.succeededFuture();
      for (Record r : page) {
        WebPushSubscription s;
        try {
          s = WebPushSubscription.fromStored(r.value());
        } catch (RuntimeException e) {
          LOG.warn("ignoring a stored push subscription that no longer reads: {}", e.getMessage());
          continue;
        }
        WebPushTarget target = target(s);
        subscriptions.put(s.id(), target);
        byEndpoint.put(s.keys().endpoint().toString(), s.id());
        chain = chain.compose(v -> dispatcher.load(target));
      }
      return page.size() < 1000 ? chain : chain.compose(v -> loadFrom(page.get(page.size() - 1).id()));
    });
  }

  /** The public key browsers pass as {@code applicationServerKey}. */
  public String publicKey() {
    VapidKeys k = keys;
    if (k == null) {
      throw ApiException.unavailable("Web Push is starting", 1);
    }
    return k.publicKeyBase64Url();
  }

  /** Subscriptions held now. */
  public int count() {
    return subscriptions.size();
  }

  /** Whether {@code id} names a push subscription. */
  public static boolean owns(String targetId) {
    return targetId.startsWith("ps_");
  }

  /**
   * Registers a subscription, or updates the one already registered for the same push endpoint.
   * Its events start now.
   *
   * @return the subscription and whether it is new
   */
  public Future<Object[]> subscribe(Principal principal, JsonNode body) {
    if (!principal.grants().subscribesAny()) {
      if (principal.anonymous()) {
        throw Access.unauthorized("push subscriptions need credentials that may subscribe", false);
      }
      throw new ApiException(403, "forbidden", "these credentials may not subscribe to any topic");
    }
    if (body == null || !body.isObject()) {
      throw ApiException.badRequest("invalid_request", "the body must be a JSON object");
    }
    JsonNode browser = null;
    List<String> topics = null;
    boolean notify = false;
    for (Iterator<String> it = body.fieldNames(); it.hasNext(); ) {
      String name = it.next();
      JsonNode v = body.get(name);
      switch (name) {
        case "subscription" -> browser = v;
        case "topics" -> topics = TopicList.parse(v);
        case "mode" -> {
          if (!v.isTextual() || !(v.asText().equals("full") || v.asText().equals("notify"))) {
            throw ApiException.badRequest("invalid_request", "mode must be full or notify");
          }
          notify = v.asText().equals("notify");
        }
        default -> throw ApiException.badRequest("invalid_request", "unknown field " + name);
      }
    }
    if (browser == null || topics == null) {
      throw ApiException.badRequest("invalid_request", "subscription and topics are required");
    }
    PushSubscriptionKeys keys;
    try {
      keys = PushSubscriptionKeys.fromJson(browser);
    } catch (IllegalArgumentException e) {
      throw ApiException.badRequest("invalid_subscription", e.getMessage());
    }
    java.net.URI endpoint;
    try {
      endpoint = guard.check(keys.endpoint().toString());
    } catch (TargetRefusedException e) {
      throw refused(e);
    }
    TopicList.checkGrants(principal, topics);
    List<String> wanted = topics;
    boolean notifyMode = notify;
    JsonNode stored = browser;
    // Resolved now too, so that a name pointing at a refused address is refused at once.
    Future<Void> resolved = Future.fromCompletionStage(guard.pin(endpoint)).<Void>mapEmpty().recover(t -> {
      Throwable cause = t instanceof java.util.concurrent.CompletionException && t.getCause() != null ? t.getCause() : t;
      return Future.failedFuture(cause instanceof TargetRefusedException r ? refused(r) : cause);
    });
    return resolved.compose(ok -> onContext(() -> {
      String existing = byEndpoint.get(keys.endpoint().toString());
      if (existing != null) {
        WebPushSubscription before = subscriptions.get(existing).subscription();
        // The same browser again (same keys) or the same owner may update it; anyone else may not take it over.
        if (!before.keys().equals(keys) && !before.owner().key().equals(Owner.keyOf(principal))) {
          return Future.failedFuture(new ApiException(409, "conflict",
              "this push endpoint is registered with other keys by another principal"));
        }
      }
      if (existing == null && subscriptions.size() >= config.maxSubscriptions) {
        return Future.failedFuture(new ApiException(409, "too_many_subscriptions",
            "this server holds " + config.maxSubscriptions + " push subscriptions (webpush.max_subscriptions)"));
      }
      String id = existing != null ? existing : newId();
      long now = System.currentTimeMillis();
      WebPushSubscription s = new WebPushSubscription(id, stored, keys, wanted, notifyMode,
          existing != null ? subscriptions.get(existing).subscription().createdAt() : now, Owner.of(principal));
      WebPushTarget target = target(s);
      return stage(records.write(List.of(RecordWrite.put(SPACE, id, s.toStored())))).compose(v -> {
        subscriptions.put(id, target);
        byEndpoint.put(keys.endpoint().toString(), id);
        return existing != null ? dispatcher.update(target) : dispatcher.create(target, Position.NOW, null);
      }).map(v -> new Object[] {s, existing == null});
    }));
  }

  private static ApiException refused(TargetRefusedException e) {
    return new ApiException(400, "invalid_subscription", "the push endpoint is refused: " + e.getMessage(),
        Map.of("reason", e.reason()), null);
  }

  /** Removes a subscription: holding its id is the right to. */
  public Future<Void> unsubscribe(String id) {
    return onContext(() -> {
      if (id == null || !subscriptions.containsKey(id)) {
        return Future.failedFuture(new ApiException(404, "not_found", "no push subscription " + id));
      }
      return remove(id);
    });
  }

  /** The push service said the subscription is gone, or it kept failing: forget it. */
  public void drop(String id, String why) {
    onContext(() -> {
      if (!subscriptions.containsKey(id)) {
        return Future.succeededFuture();
      }
      LOG.info("push subscription {} removed: {}", id, why);
      return remove(id);
    }).onFailure(e -> LOG.warn("could not remove push subscription {}: {}", id, e.toString()));
  }

  private Future<Void> remove(String id) {
    return stage(records.write(List.of(RecordWrite.delete(SPACE, id)))).compose(v -> {
      WebPushTarget t = subscriptions.remove(id);
      if (t != null) {
        byEndpoint.remove(t.subscription().keys().endpoint().toString(), id);
      }
      return dispatcher.remove(id);
    });
  }

  private WebPushTarget target(WebPushSubscription s) {
    return new WebPushTarget(s, guard, client, vapid, config.ttl.toSeconds(), config.urgency, timeoutMillis);
  }


  private static String newId() {
    byte[] b = new byte[18];
    RANDOM.nextBytes(b);
    return "ps_" + Base64.getUrlEncoder().withoutPadding().encodeToString(b);
  }


  private <T> Future<T> stage(CompletionStage<T> stage) {
    return Hop.stage(context, stage);
  }

  private <T> Future<T> onContext(Supplier<Future<T>> work) {
    return Hop.run(context, work);
  }
}
