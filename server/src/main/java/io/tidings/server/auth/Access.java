package io.tidings.server.auth;

import io.tidings.server.http.ApiException;
import io.tidings.server.http.Params;
import io.vertx.core.http.HttpHeaders;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.HttpServerRequest;
import java.util.Map;

/**
 * The HTTP side of authorization, for every transport alike: where a request's credentials are,
 * and the answers when a principal may not do something: {@code 401} with
 * {@code WWW-Authenticate: Bearer} when it brought no credentials (and anonymous access does not
 * grant it), {@code 403 forbidden} when it did.
 */
public final class Access {
  /** The query parameter that carries a token where a browser cannot set headers (EventSource, WebSocket). */
  public static final String ACCESS_TOKEN = "access_token";
  private static final String REALM = "Bearer realm=\"tidings\"";

  private Access() {}

  /**
   * The bearer token of {@code request}, from {@code Authorization: Bearer ...} or, on {@code GET}
   * and {@code HEAD}, the {@code access_token} query parameter; {@code null} when it has none.
   *
   * @throws ApiException {@code 400} for a token given both ways (RFC 6750 allows one), or
   *     {@code access_token} on a request that must use the header; {@code 401} for another scheme
   */
  public static String token(HttpServerRequest request) {
    String header = request.getHeader(HttpHeaders.AUTHORIZATION);
    String query = Params.of(request).single(ACCESS_TOKEN);
    if (header != null && query != null) {
      throw ApiException.badRequest("invalid_request", "send the token once: in Authorization or in access_token");
    }
    if (query != null) {
      if (request.method() != HttpMethod.GET && request.method() != HttpMethod.HEAD) {
        throw ApiException.badRequest("invalid_request",
            "access_token is accepted on GET requests only; send Authorization: Bearer <token>");
      }
      return query;
    }
    if (header == null) {
      return null;
    }
    String h = header.trim();
    if (h.length() < 7 || !h.regionMatches(true, 0, "Bearer ", 0, 7)) {
      throw unauthorized("only Authorization: Bearer <token> is understood", true);
    }
    return h.substring(7).trim();
  }

  /**
   * What a failed token verification means for the caller: a {@code 401} for a token that was
   * refused ({@link AuthFailure}), the failure itself otherwise.
   */
  public static RuntimeException rejected(Throwable cause) {
    Throwable t = cause instanceof java.util.concurrent.CompletionException && cause.getCause() != null
        ? cause.getCause() : cause;
    if (t instanceof AuthFailure failure) {
      return unauthorized(failure.getMessage(), true);
    }
    return t instanceof RuntimeException r ? r : new IllegalStateException(t);
  }

  /** {@code 401}: no credentials, or credentials that are not valid ({@code tokenGiven}). */
  public static ApiException unauthorized(String message, boolean tokenGiven) {
    String challenge = tokenGiven
        ? REALM + ", error=\"invalid_token\", error_description=\"" + message.replace('"', '\'') + "\""
        : REALM;
    return new ApiException(401, "unauthorized", message, Map.of(), null,
        Map.of("WWW-Authenticate", challenge));
  }

  /** {@code 403 forbidden}: valid credentials without the grant. */
  public static ApiException forbidden(String message) {
    return new ApiException(403, "forbidden", message);
  }

  /** Refuses unless {@code principal} may subscribe to (and read) {@code topic}. */
  public static void requireSubscribe(Principal principal, String topic) {
    if (!principal.maySubscribe(topic)) {
      throw denied(principal, "read or subscribe to " + topic);
    }
  }

  /** Refuses unless {@code principal} may publish to {@code topic}. */
  public static void requirePublish(Principal principal, String topic) {
    if (!principal.mayPublish(topic)) {
      throw denied(principal, "publish to " + topic);
    }
  }

  /** Refuses unless {@code principal} has the admin grant. */
  public static void requireAdmin(Principal principal) {
    if (!principal.admin()) {
      throw denied(principal, "use this endpoint (it needs the admin grant)");
    }
  }

  /** Refuses a long-lived connection whose credentials have already expired. */
  public static void requireUnexpired(Principal principal, long now) {
    if (principal.expired(now)) {
      throw unauthorized("the token has expired", true);
    }
  }

  private static ApiException denied(Principal principal, String what) {
    return principal.anonymous()
        ? unauthorized("credentials are needed to " + what, false)
        : forbidden(principal.name() + " may not " + what);
  }
}
