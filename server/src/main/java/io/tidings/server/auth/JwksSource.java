package io.tidings.server.auth;

import com.nimbusds.jose.jwk.JWK;
import com.nimbusds.jose.jwk.JWKSet;
import io.tidings.server.config.ConfigException;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.text.ParseException;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.function.LongSupplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A JWK set from a file or an {@code http(s)} URL, cached. It is loaded again when a token names an
 * unknown {@code kid} (at most once per {@code minInterval}, so unknown kids cannot make the server
 * hammer the key server) and, for a URL, in the background once it is older than
 * {@code refreshInterval}. Loading never blocks the caller: it runs on the HTTP client's threads (a
 * URL) or on one small thread of its own (a file). A failed load keeps the keys already known.
 */
final class JwksSource implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(JwksSource.class);
  private static final Duration FETCH_TIMEOUT = Duration.ofSeconds(10);
  private static final int MAX_BYTES = 1 << 20;

  /** The keys known now and when they were loaded. */
  record Snapshot(List<JWK> keys, long loadedAt) {
    boolean hasKid(String kid) {
      for (JWK k : keys) {
        if (kid.equals(k.getKeyID())) {
          return true;
        }
      }
      return false;
    }
  }

  private final String location;
  private final URI url;
  private final Path file;
  private final long minIntervalMillis;
  private final long refreshMillis;
  private final LongSupplier clock;
  private final HttpClient http;
  private final ExecutorService fileReader;
  private volatile Snapshot snapshot = new Snapshot(List.of(), 0);
  private CompletableFuture<Snapshot> inFlight;
  private long lastAttempt = Long.MIN_VALUE / 2;
  private int loads;

  JwksSource(String location, Duration minInterval, Duration refreshInterval, LongSupplier clock) {
    this.location = location;
    this.minIntervalMillis = minInterval.toMillis();
    this.refreshMillis = refreshInterval.toMillis();
    this.clock = clock;
    if (location.startsWith("http://") || location.startsWith("https://")) {
      this.url = URI.create(location);
      this.file = null;
      this.fileReader = null;
      this.http = HttpClient.newBuilder().connectTimeout(FETCH_TIMEOUT)
          .followRedirects(HttpClient.Redirect.NORMAL).executor(daemon("tidings-jwks-http")).build();
      // The first fetch runs in the background: a key server that is down must not stop the hub.
      refresh();
    } else {
      this.url = null;
      this.http = null;
      this.file = Path.of(location);
      this.fileReader = Executors.newSingleThreadExecutor(r -> thread(r, "tidings-jwks-file"));
      try {
        snapshot = new Snapshot(parse(Files.readString(file, StandardCharsets.UTF_8)), clock.getAsLong());
        lastAttempt = clock.getAsLong();
        loads = 1;
      } catch (IOException | ParseException | IllegalArgumentException e) {
        throw new ConfigException("auth.jwt.jwks: cannot load " + location + ": " + e.getMessage());
      }
    }
  }

  /** The keys known now; starts a background reload when they are older than the refresh interval. */
  Snapshot current() {
    Snapshot s = snapshot;
    if (url != null && clock.getAsLong() - s.loadedAt() >= refreshMillis) {
      refresh();
    }
    return s;
  }

  /**
   * Loads the set again unless a load is running (then its outcome is returned) or the last one
   * started less than the minimum interval ago (then the keys known now are returned at once).
   */
  synchronized CompletableFuture<Snapshot> refresh() {
    if (inFlight != null) {
      return inFlight;
    }
    long now = clock.getAsLong();
    if (now - lastAttempt < minIntervalMillis) {
      return CompletableFuture.completedFuture(snapshot);
    }
    lastAttempt = now;
    CompletableFuture<String> text = url != null ? fetch() : CompletableFuture.supplyAsync(this::readFile, fileReader);
    CompletableFuture<Snapshot> done = text.handle((body, failure) -> {
      Snapshot result = snapshot;
      if (failure != null) {
        Throwable cause = failure.getCause() != null ? failure.getCause() : failure;
        LOG.warn("could not load the JWK set from {}: {}; keeping the {} keys known", location, cause.getMessage(),
            result.keys().size());
      } else {
        try {
          result = new Snapshot(parse(body), clock.getAsLong());
          snapshot = result;
          LOG.info("loaded {} keys from the JWK set at {}", result.keys().size(), location);
        } catch (ParseException | IllegalArgumentException e) {
          LOG.warn("the JWK set at {} is not valid: {}; keeping the {} keys known", location, e.getMessage(),
              result.keys().size());
        }
      }
      synchronized (this) {
        inFlight = null;
        loads++;
      }
      return result;
    });
    // A load that finished synchronously must not be left in flight.
    if (!done.isDone()) {
      inFlight = done;
    }
    return done;
  }

  /** Loads attempted so far (for tests and logs). */
  synchronized int loads() {
    return loads;
  }

  private CompletableFuture<String> fetch() {
    HttpRequest request = HttpRequest.newBuilder(url).timeout(FETCH_TIMEOUT)
        .header("Accept", "application/jwk-set+json, application/json").GET().build();
    return http.sendAsync(request, HttpResponse.BodyHandlers.ofByteArray()).thenApply(r -> {
      if (r.statusCode() != 200) {
        throw new IllegalStateException("HTTP status " + r.statusCode());
      }
      if (r.body().length > MAX_BYTES) {
        throw new IllegalStateException("the set is larger than " + MAX_BYTES + " bytes");
      }
      return new String(r.body(), StandardCharsets.UTF_8);
    });
  }

  private String readFile() {
    try {
      return Files.readString(file, StandardCharsets.UTF_8);
    } catch (IOException e) {
      throw new IllegalStateException(e.getMessage(), e);
    }
  }

  /** The public keys of a set; private or symmetric key material in it is never used. */
  private static List<JWK> parse(String text) throws ParseException {
    return List.copyOf(JWKSet.parse(text).toPublicJWKSet().getKeys());
  }

  private static Executor daemon(String name) {
    return Executors.newCachedThreadPool(r -> thread(r, name));
  }

  private static Thread thread(Runnable r, String name) {
    Thread t = new Thread(r, name);
    t.setDaemon(true);
    return t;
  }

  @Override
  public void close() {
    if (fileReader != null) {
      fileReader.shutdownNow();
    }
  }
}
