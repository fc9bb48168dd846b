package io.tidings.server.http;

import io.vertx.core.http.HttpHeaders;

/** Header names and fixed values, pre-encoded once for the hot path. */
public final class Headers {
  public static final CharSequence CONTENT_TYPE = HttpHeaders.CONTENT_TYPE;
  public static final CharSequence CACHE_CONTROL = HttpHeaders.CACHE_CONTROL;
  public static final CharSequence ETAG = HttpHeaders.ETAG;
  public static final CharSequence LAST_MODIFIED = HttpHeaders.LAST_MODIFIED;
  public static final CharSequence IF_NONE_MATCH = HttpHeaders.IF_NONE_MATCH;
  public static final CharSequence IF_MODIFIED_SINCE = HttpHeaders.IF_MODIFIED_SINCE;
  public static final CharSequence RETRY_AFTER = HttpHeaders.createOptimized("Retry-After");
  public static final CharSequence ALLOW = HttpHeaders.ALLOW;
  public static final CharSequence POLL_INTERVAL = HttpHeaders.createOptimized("Tidings-Poll-Interval");

  public static final CharSequence JSON = HttpHeaders.createOptimized("application/json");
  public static final CharSequence NO_STORE = HttpHeaders.createOptimized("no-store");
  public static final CharSequence NO_CACHE = HttpHeaders.createOptimized("no-cache");
  public static final CharSequence IMMUTABLE = HttpHeaders.createOptimized("public, max-age=31536000, immutable");
  /** For answers that only some principals may see: no shared cache may store them. */
  public static final CharSequence PRIVATE_NO_CACHE = HttpHeaders.createOptimized("private, no-cache");
  public static final CharSequence PRIVATE_IMMUTABLE = HttpHeaders.createOptimized("private, max-age=31536000, immutable");
  public static final CharSequence VARY_AUTHORIZATION = HttpHeaders.createOptimized("Authorization");

  private Headers() {}
}
