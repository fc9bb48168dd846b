package io.tidings.server.auth;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Principals of recently verified tokens, by the token's SHA-256 (the token itself is not kept), so
 * that a client polling with the same token is not verified again on every request. Bounded (least
 * recently used entries go first); an entry lives until its token expires, and at most
 * {@code maxAgeMillis}, so that a key removed from a JWK set stops vouching for cached tokens soon.
 */
final class TokenCache {
  private record Entry(Principal principal, long until) {}

  private final int capacity;
  private final long maxAgeMillis;
  private final Map<String, Entry> entries;

  TokenCache(int capacity, long maxAgeMillis) {
    this.capacity = capacity;
    this.maxAgeMillis = maxAgeMillis;
    this.entries = new LinkedHashMap<>(256, 0.75f, true) {
      @Override
      protected boolean removeEldestEntry(Map.Entry<String, Entry> eldest) {
        return size() > TokenCache.this.capacity;
      }
    };
  }

  synchronized Principal get(String digest, long now) {
    Entry e = entries.get(digest);
    if (e == null) {
      return null;
    }
    if (now >= e.until()) {
      entries.remove(digest);
      return null;
    }
    return e.principal();
  }

  synchronized void put(String digest, Principal principal, long now) {
    long until = Math.min(principal.expiresAt(), now + maxAgeMillis);
    if (until > now) {
      entries.put(digest, new Entry(principal, until));
    }
  }

  synchronized int size() {
    return entries.size();
  }
}
