package io.tidings.server.webhooks;

import com.fasterxml.jackson.databind.JsonNode;
import io.tidings.core.Cursor;
import io.tidings.core.InvalidCursorException;
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
import io.tidings.server.delivery.Outcome;
import io.tidings.server.delivery.Owner;
import io.tidings.server.delivery.Timers;
import io.tidings.server.http.ApiException;
import io.tidings.server.outbound.OutboundClient;
import io.tidings.server.outbound.TargetGuard;
import io.tidings.server.outbound.TargetRefusedException;
import io.vertx.core.Context;
import io.vertx.core.Future;
import java.net.URI;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletionStage;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The registered webhook endpoints: their definitions (kept in the store, space {@code webhooks}),
 * what the API may do with them, and their hand-over to the {@link Dispatcher}. Every change runs
 * on the dispatcher's context, one at a time, and is stored before it takes effect.
 */
public final class Webhooks {
  static final String SPACE = "webhooks";
  private static final Logger LOG = LoggerFactory.getLogger(Webhooks.class);
  private static final SecureRandom RANDOM = new SecureRandom();
  private static final int MAX_TOPICS = 100;
  private static final int MAX_URL = 2048;
  private static final int MAX_DESCRIPTION = 1000;
  private static final long MAX_WAIT_MILLIS = 60_000;

  private final Records records;
  private final Dispatcher dispatcher;
  private final Context context;
  private final TargetGuard guard;
  private final OutboundClient client;
  private final Timers timers;
  private final TidingsConfig.Webhooks config;
  // Changed on the context only; concurrent so that the metrics scrape may count it.
  private final java.util.concurrent.ConcurrentSkipListMap<String, WebhookTarget> endpoints =
      new java.util.concurrent.ConcurrentSkipListMap<>();

  public Webhooks(Records records, Dispatcher dispatcher, Context context, TargetGuard guard, OutboundClient client,
      Timers timers, TidingsConfig.Webhooks config) {
    this.records = records;
    this.dispatcher = dispatcher;
    this.context = context;
    this.guard = guard;
    this.client = client;
    this.timers = timers;
    this.config = config;
  }

  /** Loads every stored endpoint and resumes delivering to it. */
  public Future<Void> start() {
    return onContext(() -> loadFrom(null));
  }

  private Future<Void> loadFrom(String after) {
    return stage(records.list(SPACE, after, 1000)).compose(page -> {
      Future<Void> chain = Future.succeededFuture();
      for (Record r : page) {
        WebhookEndpoint e = WebhookEndpoint.fromStored(r.value());
        WebhookTarget target = target(e, URI.create(e.url()));
        endpoints.put(e.id(), target);
        chain = chain.compose(v -> dispatcher.load(target));
      }
      return page.size() < 1000 ? chain : chain.compose(v -> loadFrom(page.get(page.size() - 1).id()));
    });
  }

  /** Endpoints registered now: {@code [enabled, disabled]}. */
  public int[] counts() {
    int enabled = 0;
    int disabled = 0;
    for (WebhookTarget t : endpoints.values()) {
      if (t.endpoint().enabled()) {
        enabled++;
      } else {
        disabled++;
      }
    }
    return new int[] {enabled, disabled};
  }

  /** Whether {@code id} names a webhook endpoint (the dispatcher's targets are shared with Web Push). */
  public static boolean owns(String targetId) {
    return targetId.startsWith("ep_");
  }

  // ---------------------------------------------------------------------------------------------
  // API operations

  /** Registers an endpoint; the answer holds its secret, shown this once. */
  public Future<Created> create(Principal principal, JsonNode body) {
    requireGrant(principal);
    Fields f = Fields.parse(body, true, config);
    URI uri = checkUrl(f.url);
    TopicList.checkGrants(principal, f.topics);
    Position since = since(f.since, f.topics);
    long now = timers.now();
    String secret = WebhookSigner.newSecret();
    WebhookEndpoint e = new WebhookEndpoint(newId(), uri.toString(), f.topics, "notify".equals(f.mode),
        f.maxEvents != null ? f.maxEvents : config.maxEvents, f.maxWait != null ? f.maxWait : 0, f.description,
        f.rateLimit, true, null, 0, now, now, Owner.of(principal),
        List.of(new WebhookEndpoint.Secret(secret, now, 0)));
    Future<Void> checked = since instanceof Cursor c
        ? resolves(uri).compose(ok -> dispatcher.checkCursor(f.topics.get(0), c)) : resolves(uri);
    return checked.compose(ok -> onContext(() -> {
      if (endpoints.size() >= config.maxEndpoints) {
        return Future.failedFuture(new ApiException(409, "too_many_endpoints",
            "this server holds " + config.maxEndpoints + " webhook endpoints (webhooks.max_endpoints)"));
      }
      WebhookTarget target = target(e, uri);
      return store(RecordWrite.put(SPACE, e.id(), e.toStored()))
          .compose(v -> {
            endpoints.put(e.id(), target);
            // If delivery cannot be set up (the store failed), the endpoint is taken back.
            return dispatcher.create(target, since, f.topics.get(0)).recover(t -> {
              endpoints.remove(e.id());
              return store(RecordWrite.delete(SPACE, e.id())).transform(x -> dispatcher.remove(e.id()))
                  .transform(x -> Future.failedFuture(t));
            });
          })
          .map(v -> new Created(e, secret));
    }));
  }

  /** An endpoint and the secret just made for it. */
  public record Created(WebhookEndpoint endpoint, String secret) {}

  /** The endpoints {@code principal} may see, after {@code after} in id order. */
  public Future<List<WebhookEndpoint>> list(Principal principal, String after, int limit) {
    requireGrant(principal);
    return onContext(() -> {
      List<WebhookEndpoint> out = new ArrayList<>();
      for (WebhookTarget t : after == null ? endpoints.values() : endpoints.tailMap(after, false).values()) {
        if (t.endpoint().owner().ownedBy(principal)) {
          out.add(t.endpoint());
          if (out.size() > limit) {
            break;
          }
        }
      }
      return Future.succeededFuture(out);
    });
  }

  /** One endpoint with where it stands: {@code [endpoint, status JSON]}. */
  public Future<Object[]> get(Principal principal, String id) {
    requireGrant(principal);
    return onContext(() -> {
      WebhookTarget t = visible(principal, id);
      return dispatcher.status(id).map(status -> new Object[] {t.endpoint(), status});
    });
  }

  /** Changes an endpoint's url, topics, mode, batch, description, rate limit or enabled flag. */
  public Future<WebhookEndpoint> patch(Principal principal, String id, JsonNode body) {
    requireGrant(principal);
    Fields f = Fields.parse(body, false, config);
    URI uri = f.url != null ? checkUrl(f.url) : null;
    if (f.topics != null) {
      TopicList.checkGrants(principal, f.topics);
    }
    if (f.since != null) {
      throw ApiException.badRequest("invalid_request", "since is for creating an endpoint; use POST .../replay");
    }
    return (uri != null ? resolves(uri) : Future.<Void>succeededFuture()).compose(ok -> onContext(() -> {
      WebhookEndpoint e = visible(principal, id).endpoint();
      long now = timers.now();
      boolean enabled = f.enabled != null ? f.enabled : e.enabled();
      WebhookEndpoint changed = new WebhookEndpoint(e.id(), uri != null ? uri.toString() : e.url(),
          f.topics != null ? f.topics : e.topics(), f.mode != null ? "notify".equals(f.mode) : e.notifyMode(),
          f.maxEvents != null ? f.maxEvents : e.maxEvents(), f.maxWait != null ? f.maxWait : e.maxWaitMillis(),
          f.hasDescription ? f.description : e.description(), f.hasRateLimit ? f.rateLimit : e.rateLimit(), enabled,
          enabled ? null : (e.enabled() ? "manual" : e.disabledReason()), enabled ? 0 : (e.enabled() ? now : e.disabledAt()),
          e.createdAt(), now, e.owner(), e.secrets());
      return replace(changed).map(v -> changed);
    }));
  }

  /** Removes an endpoint and its delivery state. */
  public Future<Void> delete(Principal principal, String id) {
    requireGrant(principal);
    return onContext(() -> {
      visible(principal, id);
      return store(RecordWrite.delete(SPACE, id)).compose(v -> {
        endpoints.remove(id);
        return dispatcher.remove(id);
      });
    });
  }

  /** A new signing secret; the old ones keep signing for {@code webhooks.secret_overlap}. */
  public Future<Created> rotateSecret(Principal principal, String id) {
    requireGrant(principal);
    return onContext(() -> {
      WebhookEndpoint e = visible(principal, id).endpoint();
      long now = timers.now();
      String secret = WebhookSigner.newSecret();
      List<WebhookEndpoint.Secret> secrets = new ArrayList<>();
      secrets.add(new WebhookEndpoint.Secret(secret, now, 0));
      long overlapEnds = now + config.secretOverlap.toMillis();
      for (WebhookEndpoint.Secret s : e.secrets()) {
        long expires = s.expiresAt() == 0 ? overlapEnds : Math.min(s.expiresAt(), overlapEnds);
        if (expires > now) {
          secrets.add(new WebhookEndpoint.Secret(s.value(), s.createdAt(), expires));
        }
      }
      WebhookEndpoint changed = e.withSecrets(secrets, now);
      return replace(changed).map(v -> new Created(changed, secret));
    });
  }

  /** The endpoint's recent attempts, newest first. */
  public Future<List<String>> deliveries(Principal principal, String id) {
    requireGrant(principal);
    return onContext(() -> {
      visible(principal, id);
      return dispatcher.attempts(id);
    });
  }

  /** Sends again from {@code since} (for every topic, or for {@code topic} with a cursor). */
  public Future<Void> replay(Principal principal, String id, String sinceText, String topic) {
    requireGrant(principal);
    if (sinceText == null) {
      throw ApiException.badRequest("invalid_request", "replay needs since: earliest, now or a cursor");
    }
    Position since;
    try {
      since = Position.parse(sinceText);
    } catch (InvalidCursorException e) {
      throw ApiException.badRequest("invalid_cursor", "since: " + e.getMessage());
    }
    return onContext(() -> {
      WebhookEndpoint e = visible(principal, id).endpoint();
      String forTopic = topic;
      if (since instanceof Cursor) {
        if (forTopic == null && e.topics().size() == 1 && !e.topics().get(0).contains("*")) {
          forTopic = e.topics().get(0);
        }
        if (forTopic == null) {
          throw ApiException.badRequest("invalid_request", "a cursor applies to one topic: add topic=...");
        }
        if (!visible(principal, id).wants(forTopic)) {
          throw ApiException.badRequest("invalid_request", "this endpoint does not receive topic " + forTopic);
        }
      }
      String cursorTopic = forTopic;
      return (since instanceof Cursor c ? dispatcher.checkCursor(cursorTopic, c) : Future.<Void>succeededFuture())
          .compose(ok -> dispatcher.replay(id, since, cursorTopic));
    });
  }

  /** Enables or disables an endpoint; enabling starts its pending message afresh. */
  public Future<WebhookEndpoint> setEnabled(Principal principal, String id, boolean enabled) {
    requireGrant(principal);
    return onContext(() -> {
      WebhookEndpoint e = visible(principal, id).endpoint();
      if (e.enabled() == enabled) {
        return Future.succeededFuture(e);
      }
      WebhookEndpoint changed = e.with(enabled, "manual", timers.now());
      return replace(changed).map(v -> changed);
    });
  }

  // ---------------------------------------------------------------------------------------------
  // What the dispatcher reports

  /** The endpoint answered 410 Gone: disabled at once. */
  public void gone(String id, Outcome outcome) {
    disable(id, "gone");
  }

  /** The endpoint kept failing past its schedule and {@code webhooks.disable_after}. */
  public void gaveUp(String id) {
    disable(id, "failing");
  }

  private void disable(String id, String reason) {
    onContext(() -> {
      WebhookTarget t = endpoints.get(id);
      if (t == null) {
        return Future.succeededFuture();
      }
      LOG.warn("webhook endpoint {} ({}) is disabled: {}", id, t.endpoint().url(),
          reason.equals("gone") ? "it answered 410 Gone" : "it kept failing for " + config.disableAfter);
      return replace(t.endpoint().with(false, reason, timers.now()));
    }).onFailure(e -> LOG.warn("could not disable webhook endpoint {}: {}", id, e.toString()));
  }

  // ---------------------------------------------------------------------------------------------

  private Future<Void> replace(WebhookEndpoint changed) {
    WebhookTarget target = target(changed, URI.create(changed.url()));
    return store(RecordWrite.put(SPACE, changed.id(), changed.toStored())).compose(v -> {
      endpoints.put(changed.id(), target);
      return dispatcher.update(target);
    });
  }

  private WebhookTarget target(WebhookEndpoint e, URI uri) {
    return new WebhookTarget(e, uri, guard, client, timers, config.timeout.toMillis(), config.maxBodySize,
        config.endpointRateLimit);
  }

  private WebhookTarget visible(Principal principal, String id) {
    WebhookTarget t = id == null ? null : endpoints.get(id);
    if (t == null || !t.endpoint().owner().ownedBy(principal)) {
      throw new ApiException(404, "not_found", "no webhook endpoint " + id);
    }
    return t;
  }

  private static void requireGrant(Principal principal) {
    if (principal.kind() == Principal.Kind.JWT && principal.subject() == null) {
      throw new ApiException(403, "forbidden", "webhooks need a token with a sub claim: it names the endpoints' owner");
    }
    if (!principal.grants().webhooks()) {
      if (principal.anonymous()) {
        throw Access.unauthorized("webhooks need credentials with the webhooks grant", false);
      }
      throw new ApiException(403, "forbidden", "these credentials may not manage webhooks (no webhooks grant)");
    }
  }

  private URI checkUrl(String url) {
    if (url.length() > MAX_URL) {
      throw ApiException.badRequest("invalid_url", "url is longer than " + MAX_URL + " characters");
    }
    try {
      return guard.check(url);
    } catch (TargetRefusedException e) {
      throw new ApiException(400, "invalid_url", "url is refused: " + e.getMessage(), Map.of("reason", e.reason()),
          null);
    }
  }


  /**
   * Resolves the url's host now, so that a name pointing at a refused address is refused at once
   * rather than at its first delivery (each delivery checks again: DNS may change).
   */
  private Future<Void> resolves(URI uri) {
    return Future.fromCompletionStage(guard.pin(uri)).<Void>mapEmpty().recover(t -> {
      Throwable cause = t instanceof java.util.concurrent.CompletionException && t.getCause() != null ? t.getCause() : t;
      if (cause instanceof TargetRefusedException r) {
        return Future.failedFuture(new ApiException(400, "invalid_url", "url is refused: " + r.getMessage(),
            Map.of("reason", r.reason()), null));
      }
      return Future.failedFuture(cause);
    });
  }

  private static Position since(String text, List<String> topics) {
    if (text == null) {
      return Position.NOW;
    }
    Position p;
    try {
      p = Position.parse(text);
    } catch (InvalidCursorException e) {
      throw ApiException.badRequest("invalid_cursor", "since: " + e.getMessage());
    }
    if (p instanceof Cursor && (topics.size() != 1 || topics.get(0).contains("*"))) {
      throw ApiException.badRequest("invalid_request",
          "since as a cursor needs exactly one topic without wildcards; use earliest or now for patterns");
    }
    return p;
  }

  private static String newId() {
    byte[] b = new byte[12];
    RANDOM.nextBytes(b);
    return "ep_" + Base64.getUrlEncoder().withoutPadding().encodeToString(b);
  }

  private Future<Void> store(RecordWrite write) {
    return stage(records.write(List.of(write)));
  }


  private <T> Future<T> stage(CompletionStage<T> stage) {
    return Hop.stage(context, stage);
  }

  private <T> Future<T> onContext(Supplier<Future<T>> work) {
    return Hop.run(context, work);
  }

  /** The fields of a create or patch body, checked. */
  private static final class Fields {
    String url;
    List<String> topics;
    String since;
    String mode;
    Integer maxEvents;
    Long maxWait;
    String description;
    boolean hasDescription;
    Double rateLimit;
    boolean hasRateLimit;
    Boolean enabled;

    static Fields parse(JsonNode body, boolean creating, TidingsConfig.Webhooks config) {
      if (body == null || !body.isObject()) {
        throw ApiException.badRequest("invalid_request", "the body must be a JSON object");
      }
      Fields f = new Fields();
      for (Iterator<String> it = body.fieldNames(); it.hasNext(); ) {
        String name = it.next();
        JsonNode v = body.get(name);
        switch (name) {
          case "url" -> f.url = text(v, name);
          case "topics" -> f.topics = TopicList.parse(v);
          case "since" -> f.since = text(v, name);
          case "mode" -> {
            f.mode = text(v, name);
            if (!f.mode.equals("full") && !f.mode.equals("notify")) {
              throw ApiException.badRequest("invalid_request", "mode must be full or notify");
            }
          }
          case "batch" -> {
            if (!v.isObject()) {
              throw ApiException.badRequest("invalid_request", "batch must be an object {max_events, max_wait_ms}");
            }
            for (Iterator<String> b = v.fieldNames(); b.hasNext(); ) {
              String bn = b.next();
              JsonNode bv = v.get(bn);
              switch (bn) {
                case "max_events" -> {
                  if (!bv.canConvertToInt() || !bv.isIntegralNumber() || bv.asInt() < 1 || bv.asInt() > 10_000) {
                    throw ApiException.badRequest("invalid_request", "batch.max_events must be an integer 1-10000");
                  }
                  f.maxEvents = bv.asInt();
                }
                case "max_wait_ms" -> {
                  if (!bv.isIntegralNumber() || bv.asLong() < 0 || bv.asLong() > MAX_WAIT_MILLIS) {
                    throw ApiException.badRequest("invalid_request", "batch.max_wait_ms must be an integer 0-60000");
                  }
                  f.maxWait = bv.asLong();
                }
                default -> throw ApiException.badRequest("invalid_request", "unknown field batch." + bn);
              }
            }
          }
          case "description" -> {
            f.hasDescription = true;
            f.description = v.isNull() ? null : text(v, name);
            if (f.description != null && f.description.length() > MAX_DESCRIPTION) {
              throw ApiException.badRequest("invalid_request", "description is longer than " + MAX_DESCRIPTION);
            }
          }
          case "rate_limit" -> {
            f.hasRateLimit = true;
            if (!v.isNull() && (!v.isNumber() || v.asDouble() <= 0 || v.asDouble() > 100_000)) {
              throw ApiException.badRequest("invalid_request", "rate_limit must be a positive number of requests per second (at most 100000), or null");
            }
            f.rateLimit = v.isNull() ? null : v.asDouble();
          }
          case "enabled" -> {
            if (creating || !v.isBoolean()) {
              throw ApiException.badRequest("invalid_request",
                  creating ? "a new endpoint is enabled; enabled is for PATCH" : "enabled must be true or false");
            }
            f.enabled = v.asBoolean();
          }
          default -> throw ApiException.badRequest("invalid_request", "unknown field " + name);
        }
      }
      if (creating && (f.url == null || f.topics == null)) {
        throw ApiException.badRequest("invalid_request", "url and topics are required");
      }
      return f;
    }

    private static String text(JsonNode v, String name) {
      if (!v.isTextual()) {
        throw ApiException.badRequest("invalid_request", name + " must be a string");
      }
      return v.asText();
    }

  }
}
