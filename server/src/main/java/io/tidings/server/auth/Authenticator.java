package io.tidings.server.auth;

import io.tidings.server.config.ConfigException;
import io.tidings.server.config.TidingsConfig;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.function.LongSupplier;

/**
 * Turns credentials into a {@link Principal}: the one place that knows API keys, JWT keys and the
 * anonymous grants. Every transport asks it, then checks the principal's grants per topic. Shared by
 * all event loops; thread-safe.
 *
 * <p>Without an {@code auth} section it is open: every request is {@link Principal#OPEN}, which may
 * do everything (and tokens are not looked at).
 */
public final class Authenticator implements AutoCloseable {
  /** The prefix of API keys; any other token is taken for a JWT. */
  public static final String API_KEY_PREFIX = "tk_";
  /** Longer tokens are refused before any work is done on them. */
  public static final int MAX_TOKEN_LENGTH = 16 * 1024;
  private static final int CACHE_ENTRIES = 10_000;
  private static final long CACHE_MAX_AGE_MILLIS = 5 * 60_000;

  private record ApiKey(String name, byte[] sha256, Grants grants) {}

  private final boolean enabled;
  private final Principal anonymous;
  private final List<ApiKey> apiKeys;
  private final JwtVerifier jwt;
  private final TokenCache cache = new TokenCache(CACHE_ENTRIES, CACHE_MAX_AGE_MILLIS);
  private final LongSupplier clock;

  private Authenticator(TidingsConfig.Auth config, LongSupplier clock) {
    this.clock = clock;
    this.enabled = config != null;
    if (config == null) {
      anonymous = Principal.OPEN;
      apiKeys = List.of();
      jwt = null;
      return;
    }
    Grants anon;
    try {
      anon = Grants.of(config.anonymous.subscribe, config.anonymous.publish, false);
    } catch (IllegalArgumentException e) {
      throw new ConfigException("auth.anonymous: " + e.getMessage());
    }
    anonymous = new Principal(Principal.Kind.ANONYMOUS, "anonymous", null, anon, Long.MAX_VALUE);
    List<ApiKey> keys = new ArrayList<>();
    for (TidingsConfig.ApiKey k : config.apiKeys) {
      Grants g;
      try {
        g = Grants.of(k.subscribe, k.publish, k.admin, k.webhooks);
      } catch (IllegalArgumentException e) {
        throw new ConfigException("auth.api_keys (" + k.name + "): " + e.getMessage());
      }
      keys.add(new ApiKey(k.name, HexFormat.of().parseHex(k.sha256.toLowerCase(java.util.Locale.ROOT)), g));
    }
    apiKeys = List.copyOf(keys);
    jwt = config.jwt == null ? null : new JwtVerifier(config.jwt, clock);
  }

  /** The authenticator for {@code config} ({@code null}: no authentication, everything allowed). */
  public static Authenticator create(TidingsConfig.Auth config) {
    return new Authenticator(config, System::currentTimeMillis);
  }

  /** Whether an {@code auth} section is configured. */
  public boolean enabled() {
    return enabled;
  }

  /** The principal of a request without credentials. */
  public Principal anonymous() {
    return anonymous;
  }

  /**
   * Whether {@code topic} may be read by anyone without credentials: then its pull answers may be
   * stored by shared caches; otherwise they are {@code private}.
   */
  public boolean readableByAnyone(String topic) {
    return anonymous.maySubscribe(topic);
  }

  /**
   * Establishes who {@code token} (a bearer token: an API key or a JWT) stands for. The stage fails
   * with {@link AuthFailure} when the token is not acceptable. It is already complete unless a JWK
   * set has to be loaded; it never blocks.
   */
  public CompletableFuture<Principal> authenticate(String token) {
    if (!enabled) {
      return CompletableFuture.completedFuture(Principal.OPEN);
    }
    if (token == null || token.isEmpty() || token.length() > MAX_TOKEN_LENGTH) {
      return CompletableFuture.failedFuture(new AuthFailure("the token is empty or too long"));
    }
    byte[] digest = sha256(token);
    long now = clock.getAsLong();
    if (token.startsWith(API_KEY_PREFIX)) {
      ApiKey found = null;
      // Every configured digest is compared, in constant time, whatever matched before.
      for (ApiKey k : apiKeys) {
        if (MessageDigest.isEqual(k.sha256(), digest) && found == null) {
          found = k;
        }
      }
      if (found == null) {
        return CompletableFuture.failedFuture(new AuthFailure("unknown API key"));
      }
      return CompletableFuture.completedFuture(new Principal(Principal.Kind.API_KEY, found.name(), found.name(),
          found.grants().plus(anonymous.grants()), Long.MAX_VALUE));
    }
    if (jwt == null) {
      return CompletableFuture.failedFuture(new AuthFailure("this server accepts API keys only"));
    }
    String key = HexFormat.of().formatHex(digest);
    Principal cached = cache.get(key, now);
    if (cached != null) {
      return CompletableFuture.completedFuture(cached);
    }
    return jwt.verify(token).thenApply(v -> {
      Principal p = new Principal(Principal.Kind.JWT, v.subject() == null ? "jwt" : v.subject(), v.subject(),
          v.grants().plus(anonymous.grants()), v.expiresAt());
      cache.put(key, p, clock.getAsLong());
      return p;
    });
  }

  private static byte[] sha256(String token) {
    try {
      return MessageDigest.getInstance("SHA-256").digest(token.getBytes(StandardCharsets.UTF_8));
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("SHA-256 is missing from this JVM", e);
    }
  }

  /** JWK set loads attempted so far (0 without a set). */
  public int jwksLoads() {
    return jwt == null ? 0 : jwt.jwksLoads();
  }

  @Override
  public void close() {
    if (jwt != null) {
      jwt.close();
    }
  }
}
