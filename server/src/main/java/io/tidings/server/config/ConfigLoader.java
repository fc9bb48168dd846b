package io.tidings.server.config;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.databind.DeserializationContext;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonDeserializer;
import com.fasterxml.jackson.databind.JsonMappingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.PropertyNamingStrategies;
import com.fasterxml.jackson.databind.module.SimpleModule;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.NullNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import io.tidings.core.TopicPattern;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;

/**
 * Builds a {@link TidingsConfig} from, in rising precedence: defaults, the YAML file,
 * {@code TIDINGS_...} environment variables, and command-line flags.
 *
 * <p>An environment variable names a key path with {@code __} between levels:
 * {@code TIDINGS_SERVER__PORT=8080}, {@code TIDINGS_PULL__POLL_INTERVAL__MAX=1m}. Its value is read
 * as YAML, so lists work too: {@code TIDINGS_RETENTION='[{topic: "**", max_events: 1000}]'}.
 */
public final class ConfigLoader {
  private static final String ENV_PREFIX = "TIDINGS_";
  private static final java.util.Set<String> SECTIONS = java.util.Set.of("server", "store", "retention", "events", "pull", "push", "auth", "limits",
      "webhooks", "webpush");
  private static final ObjectMapper YAML = new ObjectMapper(new YAMLFactory());
  private static final ObjectMapper MAPPER = new ObjectMapper()
      .setPropertyNamingStrategy(PropertyNamingStrategies.SNAKE_CASE)
      .enable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES)
      .enable(DeserializationFeature.FAIL_ON_NULL_FOR_PRIMITIVES)
      .registerModule(new SimpleModule().addDeserializer(Duration.class, new DurationDeserializer()));

  private ConfigLoader() {}

  /**
   * Loads the configuration.
   *
   * @param file the YAML file, or {@code null} for none
   * @param env the environment (normally {@link System#getenv()})
   * @param flags command-line values by key path, e.g. {@code server.port}; null values are ignored
   * @throws ConfigException with a message naming the offending key
   */
  public static TidingsConfig load(Path file, Map<String, String> env, Map<String, Object> flags) {
    ObjectNode tree = JsonNodeFactory.instance.objectNode();
    Path base = Path.of("").toAbsolutePath();
    if (file != null) {
      try {
        JsonNode fromFile = YAML.readTree(Files.readString(file));
        if (fromFile != null && !fromFile.isMissingNode() && !(fromFile instanceof NullNode)) {
          if (!fromFile.isObject()) {
            throw new ConfigException(file + ": the top level must be a mapping");
          }
          tree = (ObjectNode) fromFile;
        }
      } catch (IOException e) {
        throw new ConfigException("cannot read " + file + ": " + e.getMessage());
      }
      Path parent = file.toAbsolutePath().getParent();
      base = parent == null ? base : parent;
      resolveFilePaths(tree, base);
    }
    for (Map.Entry<String, String> e : new TreeMap<>(env).entrySet()) {
      if (!e.getKey().startsWith(ENV_PREFIX)) {
        continue;
      }
      String path = e.getKey().substring(ENV_PREFIX.length()).toLowerCase(Locale.ROOT).replace("__", ".");
      // Only variables naming a section are configuration; TIDINGS_URL and the like belong to clients.
      if (SECTIONS.contains(path.split("\\.", 2)[0])) {
        JsonNode value;
        try {
          value = YAML.readTree(e.getValue());
        } catch (IOException ex) {
          throw new ConfigException(e.getKey() + ": " + ex.getMessage());
        }
        put(tree, path, value == null ? NullNode.instance : value);
      }
    }
    for (Map.Entry<String, Object> e : flags.entrySet()) {
      if (e.getValue() != null) {
        put(tree, e.getKey(), MAPPER.valueToTree(e.getValue()));
      }
    }
    // "auth:" with nothing under it still means authentication is on (with nothing granted), never off.
    if (tree.has("auth") && tree.get("auth").isNull()) {
      tree.putObject("auth");
    }
    // "limits:" with nothing under it is the defaults; "rate:" with nothing under it limits nothing.
    if (tree.has("limits") && tree.get("limits").isNull()) {
      tree.remove("limits");
    }
    TidingsConfig config;
    try {
      config = MAPPER.treeToValue(tree, TidingsConfig.class);
    } catch (JsonMappingException e) {
      throw new ConfigException("configuration key " + keyPath(e) + ": " + e.getOriginalMessage());
    } catch (IOException e) {
      throw new ConfigException("configuration: " + e.getMessage());
    }
    validate(config);
    return config;
  }

  private static void resolveFilePaths(ObjectNode tree, Path base) {
    JsonNode store = tree.get("store");
    if (store instanceof ObjectNode s && s.hasNonNull("path")) {
      s.put("path", base.resolve(s.get("path").asText()).normalize().toString());
    }
    if (tree.get("auth") instanceof ObjectNode auth && auth.get("jwt") instanceof ObjectNode jwt) {
      for (String key : new String[] {"rs256_public_key", "es256_public_key", "jwks"}) {
        JsonNode v = jwt.get(key);
        if (v != null && v.isTextual() && !v.asText().startsWith("http://") && !v.asText().startsWith("https://")) {
          jwt.put(key, base.resolve(v.asText()).normalize().toString());
        }
      }
    }
    JsonNode server = tree.get("server");
    if (server instanceof ObjectNode srv && srv.get("access_log") != null && srv.get("access_log").isTextual()) {
      String v = srv.get("access_log").asText().trim();
      if (!v.isEmpty() && !v.equals("stdout") && !v.equals("true") && !v.equals("false")) {
        srv.put("access_log", base.resolve(v).normalize().toString());
      }
    }
    if (server instanceof ObjectNode srv && srv.get("tls") instanceof ObjectNode tls) {
      for (String key : new String[] {"cert", "key"}) {
        if (tls.hasNonNull(key)) {
          tls.put(key, base.resolve(tls.get(key).asText()).normalize().toString());
        }
      }
    }
  }

  private static void put(ObjectNode tree, String path, JsonNode value) {
    String[] parts = path.split("\\.");
    ObjectNode node = tree;
    for (int i = 0; i < parts.length - 1; i++) {
      JsonNode child = node.get(parts[i]);
      if (!(child instanceof ObjectNode)) {
        child = node.putObject(parts[i]);
      }
      node = (ObjectNode) child;
    }
    node.set(parts[parts.length - 1], value);
  }

  private static String keyPath(JsonMappingException e) {
    StringBuilder sb = new StringBuilder();
    for (JsonMappingException.Reference ref : e.getPath()) {
      if (ref.getFieldName() != null) {
        if (sb.length() > 0) {
          sb.append('.');
        }
        sb.append(ref.getFieldName());
      } else if (ref.getIndex() >= 0) {
        sb.append('[').append(ref.getIndex()).append(']');
      }
    }
    return sb.length() == 0 ? "(top level)" : sb.toString();
  }

  private static void validate(TidingsConfig c) {
    check(c.server.host != null && !c.server.host.isBlank(), "server.host must not be empty");
    check(c.server.port >= 0 && c.server.port <= 65535, "server.port must be 0-65535");
    check(c.server.eventLoops >= 0, "server.event_loops must not be negative");
    check(c.server.maxBodySize >= 1024, "server.max_body_size must be at least 1KiB");
    check(c.server.maxHeaderSize >= 1024, "server.max_header_size must be at least 1KiB");
    if (c.server.allowedOrigins != null) {
      for (String origin : c.server.allowedOrigins) {
        check(origin != null && origin.matches("(https?://[^/\\s]+|null)"),
            "server.allowed_origins: '" + origin + "' is not an origin like https://app.example.com");
      }
    }
    if (c.server.tls != null) {
      check(c.server.tls.cert != null && c.server.tls.key != null, "server.tls needs both cert and key");
    }
    check(c.store.kind != null && (c.store.kind.equals("sqlite") || c.store.kind.equals("memory")
        || c.store.kind.equals("redis")), "store.kind must be sqlite, memory or redis");
    check(!c.store.kind.equals("redis"), "store.kind redis is not available in this release");
    check(c.store.path != null && !c.store.path.isBlank(), "store.path must not be empty");
    check(c.store.sqlite.writerQueue > 0 && c.store.sqlite.readers > 0 && c.store.sqlite.readQueue > 0
        && c.store.sqlite.maxBatchEvents > 0, "store.sqlite values must be positive");
    check(positive(c.store.retentionInterval), "store.retention_interval must be positive");
    check(c.store.dedupeMinIds >= 0 && c.store.dedupeMinAge != null && !c.store.dedupeMinAge.isNegative(),
        "store.dedupe_min_ids and store.dedupe_min_age must not be negative");
    for (int i = 0; i < c.retention.size(); i++) {
      TidingsConfig.Retention r = c.retention.get(i);
      String at = "retention[" + i + "]";
      check(r != null && r.topic != null, at + ".topic is required");
      try {
        TopicPattern.compile(r.topic);
      } catch (IllegalArgumentException e) {
        throw new ConfigException(at + ".topic: " + e.getMessage());
      }
      check(r.maxEvents >= 0, at + ".max_events must not be negative");
      check(r.maxAge == null || positive(r.maxAge), at + ".max_age must be positive");
      check(r.maxEvents > 0 || r.maxAge != null, at + " needs max_events or max_age");
    }
    check(c.events.maxDataSize > 0 && c.events.maxDataSize < c.server.maxBodySize,
        "events.max_data_size must be positive and below server.max_body_size");
    check(c.events.maxBatch >= 1 && c.events.maxBatch <= 100_000, "events.max_batch must be 1-100000");
    TidingsConfig.Pull p = c.pull;
    check(p.changesMaxLimit >= 1 && p.changesDefaultLimit >= 1 && p.changesDefaultLimit <= p.changesMaxLimit,
        "pull.changes_default_limit must be 1..pull.changes_max_limit");
    check(p.stateMaxLimit >= 1 && p.stateDefaultLimit >= 1 && p.stateDefaultLimit <= p.stateMaxLimit,
        "pull.state_default_limit must be 1..pull.state_max_limit");
    check(p.topicsMaxLimit >= 1, "pull.topics_max_limit must be positive");
    check(p.maxWait != null && !p.maxWait.isNegative() && p.maxWait.toSeconds() <= 3600,
        "pull.max_wait must be 0s-1h");
    check(p.headMaxAge != null && p.headMaxAge.toSeconds() >= 1 && p.headMaxAge.toSeconds() <= 5,
        "pull.head_max_age must be 1s-5s");
    check(p.maxWaiting >= 0, "pull.max_waiting must not be negative");
    TidingsConfig.PollInterval pi = p.pollInterval;
    check(positive(pi.min) && positive(pi.max) && pi.min.compareTo(pi.max) <= 0,
        "pull.poll_interval.min must be positive and not above max");
    check(positive(pi.rateWindow), "pull.poll_interval.rate_window must be positive");
    check(pi.jitter >= 0 && pi.jitter < 1, "pull.poll_interval.jitter must be 0 to below 1");
    check(pi.busyWaiting > 0, "pull.poll_interval.busy_waiting must be positive");
    check(java.util.Set.of("epoll", "io_uring", "nio").contains(c.server.transport),
        "server.transport must be epoll, io_uring or nio");
    TidingsConfig.Push push = c.push;
    check(push.catchUpPage >= 1 && push.catchUpPage <= 10_000, "push.catch_up_page must be 1..10000");
    check(push.outbound.maxBytes >= 4096 && push.outbound.maxBytes <= (1L << 30),
        "push.outbound.max_bytes must be 4KiB..1GiB");
    check(push.outbound.maxMessages >= 1, "push.outbound.max_messages must be positive");
    check(positive(push.outbound.stallTimeout), "push.outbound.stall_timeout must be positive");
    check(positive(push.sse.retry) && push.sse.retry.toMillis() <= 3_600_000, "push.sse.retry must be 1ms-1h");
    check(positive(push.sse.heartbeat), "push.sse.heartbeat must be positive");
    check(push.sse.maxTopics >= 1 && push.sse.maxTopics <= 64, "push.sse.max_topics must be 1..64");
    check(positive(push.ws.pingInterval), "push.ws.ping_interval must be positive");
    check(positive(push.ws.idleTimeout) && push.ws.idleTimeout.compareTo(push.ws.pingInterval) > 0,
        "push.ws.idle_timeout must be longer than push.ws.ping_interval");
    check(push.ws.maxFrameSize >= 1024 && push.ws.maxFrameSize <= (64L << 20),
        "push.ws.max_frame_size must be 1KiB..64MiB");
    check(push.ws.maxSubscriptions >= 1, "push.ws.max_subscriptions must be positive");
    check(push.ws.maxPendingPublishes >= 1, "push.ws.max_pending_publishes must be positive");
    check(push.grpc.heartbeat.toMillis() >= 1000, "push.grpc.heartbeat must be at least 1s");
    check(push.grpc.maxTopics >= 1, "push.grpc.max_topics must be positive");
    if (c.auth != null) {
      validateAuth(c.auth);
    }
    check(positive(c.server.requestTimeout), "server.request_timeout must be positive");
    validateLimits(c.limits);
    validateDelivery(c.webhooks, c.webpush);
  }

  private static void validateDelivery(TidingsConfig.Webhooks w, TidingsConfig.WebPush p) {
    check(w.allowTargets != null, "webhooks.allow_targets must be a list");
    try {
      new io.tidings.server.outbound.TargetGuard(w.allowTargets, host -> null);
    } catch (IllegalArgumentException e) {
      throw new ConfigException("webhooks.allow_targets: " + e.getMessage());
    }
    check(positive(w.timeout) && w.timeout.toSeconds() <= 300, "webhooks.timeout must be 1ms-5m");
    check(w.retrySchedule != null && !w.retrySchedule.isEmpty() && w.retrySchedule.size() <= 100,
        "webhooks.retry_schedule must list 1-100 delays");
    for (Duration d : w.retrySchedule) {
      check(d != null && !d.isNegative() && d.toDays() <= 7, "webhooks.retry_schedule delays must be 0-7d");
    }
    check(w.retryJitter >= 0 && w.retryJitter < 1, "webhooks.retry_jitter must be 0 to below 1");
    check(positive(w.disableAfter), "webhooks.disable_after must be positive");
    check(w.maxInFlight >= 1 && w.maxInFlight <= 10_000, "webhooks.max_in_flight must be 1-10000");
    check(w.endpointRateLimit >= 0, "webhooks.endpoint_rate_limit must not be negative (0: no limit)");
    check(w.maxEndpoints >= 1, "webhooks.max_endpoints must be positive");
    check(w.attemptLog >= 1 && w.attemptLog <= 10_000, "webhooks.attempt_log must be 1-10000");
    check(w.secretOverlap != null && !w.secretOverlap.isNegative(), "webhooks.secret_overlap must not be negative");
    check(w.maxEvents >= 1 && w.maxEvents <= 10_000, "webhooks.max_events must be 1-10000");
    check(w.maxBodySize >= 4096, "webhooks.max_body_size must be at least 4KiB");
    check(p.subject != null && (p.subject.startsWith("mailto:") || p.subject.startsWith("https://")),
        "webpush.subject must be a mailto: or https: URL");
    check(positive(p.ttl) && p.ttl.toDays() <= 28, "webpush.ttl must be 1s-28d");
    check(java.util.Set.of("very-low", "low", "normal", "high").contains(p.urgency),
        "webpush.urgency must be very-low, low, normal or high");
    check(p.maxSubscriptions >= 1, "webpush.max_subscriptions must be positive");
    if (p.vapid != null) {
      check(p.vapid.publicKey != null && p.vapid.privateKey != null,
          "webpush.vapid needs both public_key and private_key");
      try {
        io.tidings.server.webpush.VapidKeys.fromBase64Url(p.vapid.publicKey, p.vapid.privateKey);
      } catch (IllegalArgumentException e) {
        throw new ConfigException("webpush.vapid: " + e.getMessage());
      }
    }
  }

  private static void validateLimits(TidingsConfig.Limits l) {
    check(l.maxConnections >= 0, "limits.max_connections must not be negative (0: no cap)");
    check(l.maxConnectionsPerPrincipal >= 0, "limits.max_connections_per_principal must not be negative (0: no cap)");
    check(l.pollAdviceFactor == 0 || l.pollAdviceFactor >= 1,
        "limits.poll_advice_factor must be 1 or more (or 0: off)");
    check(l.maxKeys >= 100, "limits.max_keys must be at least 100");
    TidingsConfig.Rate r = l.rate;
    if (r == null) {
      return;
    }
    for (Object[] rate : new Object[][] {{"publish_per_second", r.publishPerSecond}, {"polls_per_second", r.pollsPerSecond},
        {"connections_per_second", r.connectionsPerSecond}, {"subscribe_per_second", r.subscribePerSecond}}) {
      Double v = (Double) rate[1];
      check(v == null || (v > 0 && v <= 1e9), "limits.rate." + rate[0] + " must be positive (leave it out for no limit)");
    }
    check(r.burst >= 0.001 && r.burst <= 3600, "limits.rate.burst must be 0.001-3600 (seconds of rate)");
    check("principal".equals(r.per) || "ip".equals(r.per), "limits.rate.per must be principal or ip");
    check(r.wsMaxRefusals >= 1, "limits.rate.ws_max_refusals must be positive");
    check(positive(r.wsRefusalWindow), "limits.rate.ws_refusal_window must be positive");
  }

  private static void validateAuth(TidingsConfig.Auth a) {
    check(a.anonymous != null, "auth.anonymous must be a mapping");
    check(a.apiKeys != null, "auth.api_keys must be a list");
    grants("auth.anonymous.subscribe", a.anonymous.subscribe, false);
    grants("auth.anonymous.publish", a.anonymous.publish, false);
    java.util.Set<String> names = new java.util.HashSet<>();
    java.util.Set<String> digests = new java.util.HashSet<>();
    for (int i = 0; i < a.apiKeys.size(); i++) {
      TidingsConfig.ApiKey k = a.apiKeys.get(i);
      String at = "auth.api_keys[" + i + "]";
      check(k != null && k.name != null && !k.name.isBlank(), at + ".name is required");
      check(names.add(k.name), at + ".name '" + k.name + "' is used twice");
      check(k.sha256 != null && k.sha256.matches("[0-9a-fA-F]{64}"),
          at + ".sha256 must be the hex SHA-256 of the key (64 hex digits), e.g. printf %s tk_... | sha256sum");
      check(digests.add(k.sha256.toLowerCase(Locale.ROOT)), at + ".sha256 is the same as another key's");
      grants(at + ".subscribe", k.subscribe, true);
      grants(at + ".publish", k.publish, true);
    }
    TidingsConfig.Jwt j = a.jwt;
    if (j != null) {
      check(j.hs256Secret != null || j.rs256PublicKey != null || j.es256PublicKey != null || j.jwks != null,
          "auth.jwt needs at least one of hs256_secret, rs256_public_key, es256_public_key, jwks");
      check(j.hs256Secret == null || j.hs256Secret.getBytes(java.nio.charset.StandardCharsets.UTF_8).length >= 32,
          "auth.jwt.hs256_secret must be at least 32 bytes (HS256 needs a 256-bit key)");
      check(j.clockSkew != null && !j.clockSkew.isNegative() && j.clockSkew.toSeconds() <= 600,
          "auth.jwt.clock_skew must be 0s-10m");
      check(positive(j.jwksRefreshInterval), "auth.jwt.jwks_refresh_interval must be positive");
      check(j.jwksMinRefreshInterval != null && !j.jwksMinRefreshInterval.isNegative(),
          "auth.jwt.jwks_min_refresh_interval must not be negative");
      for (String[] f : new String[][] {{"rs256_public_key", j.rs256PublicKey}, {"es256_public_key", j.es256PublicKey},
          {"jwks", j.jwks}}) {
        if (f[1] != null && !f[1].startsWith("http://") && !f[1].startsWith("https://")) {
          check(Files.isReadable(Path.of(f[1])), "auth.jwt." + f[0] + ": cannot read " + f[1]);
        }
      }
      if (j.jwks != null && (j.jwks.startsWith("http://") || j.jwks.startsWith("https://"))) {
        try {
          java.net.URI u = java.net.URI.create(j.jwks);
          check(u.getHost() != null, "auth.jwt.jwks: '" + j.jwks + "' has no host");
        } catch (IllegalArgumentException e) {
          throw new ConfigException("auth.jwt.jwks: '" + j.jwks + "' is not a URL");
        }
      }
    }
  }

  private static void grants(String at, java.util.List<String> patterns, boolean subjectAllowed) {
    check(patterns != null, at + " must be a list");
    for (String p : patterns) {
      io.tidings.server.auth.GrantPattern g;
      try {
        g = io.tidings.server.auth.GrantPattern.compile(p);
      } catch (IllegalArgumentException e) {
        throw new ConfigException(at + ": " + e.getMessage());
      }
      check(subjectAllowed || !g.usesSubject(), at + ": '{sub}' needs a subject, and anonymous requests have none");
    }
  }

  private static boolean positive(Duration d) {
    return d != null && !d.isNegative() && !d.isZero();
  }

  private static void check(boolean ok, String message) {
    if (!ok) {
      throw new ConfigException(message);
    }
  }

  private static final class DurationDeserializer extends JsonDeserializer<Duration> {
    @Override
    public Duration deserialize(JsonParser p, DeserializationContext ctxt) throws IOException {
      if (p.currentToken() == JsonToken.VALUE_NUMBER_INT || p.currentToken() == JsonToken.VALUE_NUMBER_FLOAT) {
        return Duration.ofMillis(Math.round(p.getDoubleValue() * 1000));
      }
      try {
        return Durations.parse(p.getValueAsString());
      } catch (IllegalArgumentException e) {
        throw ctxt.weirdStringException(p.getValueAsString(), Duration.class, e.getMessage());
      }
    }
  }
}
