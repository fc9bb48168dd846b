package io.tidings.server.http;

import io.vertx.core.http.HttpHeaders;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.HttpServerRequest;
import io.vertx.core.http.HttpServerResponse;
import java.util.List;
import java.util.Set;

/**
 * Cross-origin access for browsers. With no {@code server.allowed_origins} and no authentication,
 * every origin may read (answered with {@code *}, which shared caches store once for all); with a
 * list, only those origins, echoed back with {@code Vary: Origin}; with authentication and no list,
 * same-origin pages only. A page of the hub's own origin is always allowed.
 *
 * <p>Which origin is "the hub's own" is read from the request: its {@code Host} (or HTTP/2
 * {@code :authority}) and its scheme ({@code https} over TLS or when a proxy says
 * {@code X-Forwarded-Proto: https}, which a page's script cannot set on an upgrade or a simple request).
 */
public final class Cors {
  private static final CharSequence ORIGIN = HttpHeaders.ORIGIN;
  private static final CharSequence ALLOW_ORIGIN = HttpHeaders.ACCESS_CONTROL_ALLOW_ORIGIN;
  private static final CharSequence EXPOSE = HttpHeaders.ACCESS_CONTROL_EXPOSE_HEADERS;
  private static final CharSequence EXPOSED = HttpHeaders.createOptimized(
      "ETag, Last-Modified, Tidings-Poll-Interval, Retry-After");
  private static final CharSequence ANY = HttpHeaders.createOptimized("*");
  private static final CharSequence METHODS = HttpHeaders.createOptimized("GET, HEAD, POST, PATCH, DELETE");
  private static final CharSequence DEFAULT_ALLOWED_HEADERS = HttpHeaders.createOptimized(
      "Content-Type, If-None-Match, If-Modified-Since, Last-Event-ID, Authorization");
  private static final CharSequence MAX_AGE = HttpHeaders.createOptimized("600");

  private final Set<String> allowed;
  private final boolean sameOriginOnly;

  /** @param allowedOrigins exact origins such as {@code https://app.example.com}, or null for any */
  public Cors(List<String> allowedOrigins) {
    this(allowedOrigins, false);
  }

  /**
   * @param allowedOrigins exact origins such as {@code https://app.example.com}, or null
   * @param authConfigured whether authentication is configured: then a null list means same-origin only
   */
  public Cors(List<String> allowedOrigins, boolean authConfigured) {
    this.allowed = allowedOrigins == null ? null : Set.copyOf(allowedOrigins);
    this.sameOriginOnly = allowedOrigins == null && authConfigured;
  }

  /** Adds the CORS headers a request from another origin needs; returns false if its origin is not allowed. */
  public boolean decorate(HttpServerRequest request) {
    String origin = request.getHeader(ORIGIN);
    if (origin == null) {
      return true;
    }
    HttpServerResponse response = request.response();
    if (allowed == null && !sameOriginOnly) {
      response.putHeader(ALLOW_ORIGIN, ANY);
    } else if ((allowed != null && allowed.contains(origin)) || sameOrigin(request, origin)) {
      response.putHeader(ALLOW_ORIGIN, origin).putHeader(HttpHeaders.VARY, ORIGIN);
    } else {
      response.putHeader(HttpHeaders.VARY, ORIGIN);
      return false;
    }
    response.putHeader(EXPOSE, EXPOSED);
    return true;
  }

  /** Whether {@code origin} is the origin the request was sent to (scheme, host and port alike). */
  static boolean sameOrigin(HttpServerRequest request, String origin) {
    String host = request.getHeader(HttpHeaders.HOST);
    if (host == null && request.authority() != null) {
      host = request.authority().toString();
    }
    if (host == null || origin.equals("null")) {
      return false;
    }
    String forwarded = request.getHeader("X-Forwarded-Proto");
    String scheme = forwarded != null ? forwarded.split(",", 2)[0].trim().toLowerCase(java.util.Locale.ROOT)
        : request.isSSL() ? "https" : "http";
    return normalize(origin).equals(normalize(scheme + "://" + host));
  }

  // Lower-case, with the scheme's default port written out, so that https://a and https://a:443 are one.
  private static String normalize(String origin) {
    String o = origin.trim().toLowerCase(java.util.Locale.ROOT);
    int colon = o.indexOf("://");
    if (colon < 0) {
      return o;
    }
    String scheme = o.substring(0, colon);
    String authority = o.substring(colon + 3);
    boolean hasPort = authority.startsWith("[") ? authority.indexOf("]:") > 0 : authority.contains(":");
    if (!hasPort) {
      authority += scheme.equals("https") ? ":443" : scheme.equals("http") ? ":80" : "";
    }
    return scheme + "://" + authority;
  }

  /** Whether {@code request} is a CORS preflight. */
  public static boolean isPreflight(HttpServerRequest request) {
    return request.method() == HttpMethod.OPTIONS && request.getHeader(ORIGIN) != null
        && request.getHeader(HttpHeaders.ACCESS_CONTROL_REQUEST_METHOD) != null;
  }

  /** Answers a preflight: {@code 204} for an allowed origin, {@code 403} otherwise. */
  public void preflight(HttpServerRequest request) {
    HttpServerResponse response = request.response();
    if (!decorate(request)) {
      Responses.error(response, new ApiException(403, "forbidden", "this origin may not use the API"));
      return;
    }
    String asked = request.getHeader(HttpHeaders.ACCESS_CONTROL_REQUEST_HEADERS);
    response.putHeader(HttpHeaders.ACCESS_CONTROL_ALLOW_METHODS, METHODS)
        .putHeader(HttpHeaders.ACCESS_CONTROL_ALLOW_HEADERS,
            asked != null && asked.length() <= 1024 ? asked : DEFAULT_ALLOWED_HEADERS.toString())
        .putHeader(HttpHeaders.ACCESS_CONTROL_MAX_AGE, MAX_AGE)
        .setStatusCode(204)
        .end();
  }
}
