package io.tidings.server.webpush;

import io.tidings.server.auth.Principal;
import io.tidings.server.http.ApiException;
import io.tidings.server.http.Headers;
import io.tidings.server.http.Json;
import io.tidings.server.http.Responses;
import io.tidings.server.publish.BodyReader;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.HttpServerRequest;
import io.vertx.core.http.HttpServerResponse;

/**
 * {@code /v1/webpush/...}: the VAPID public key, and registering and removing push subscriptions.
 * Registering needs a principal that may subscribe to the topics; removing needs the id only.
 */
public final class WebPushApi {
  /** The path every route of this API starts with. */
  public static final String PREFIX = "/v1/webpush/";
  private static final String KEY = PREFIX + "vapid-public-key";
  private static final String SUBSCRIPTIONS = PREFIX + "subscriptions";
  private static final long MAX_BODY = 16 * 1024;

  private final WebPush webpush;

  public WebPushApi(WebPush webpush) {
    this.webpush = webpush;
  }

  /** Whether {@code path} belongs to this API. */
  public static boolean owns(String path) {
    return path.startsWith(PREFIX);
  }

  /** Handles one request of this API. */
  public void handle(HttpServerRequest request, Principal principal) {
    HttpServerResponse response = request.response();
    String path = request.path();
    HttpMethod method = request.method();
    if (path.equals(KEY)) {
      if (method != HttpMethod.GET && method != HttpMethod.HEAD) {
        notAllowed(response, "GET, HEAD");
        return;
      }
      String key = webpush.publicKey();
      // The key changes only if an operator replaces it: caches may keep it for a while.
      response.putHeader(Headers.CACHE_CONTROL, "public, max-age=300");
      Responses.json(response, 200, Json.encode(gen -> {
        gen.writeStartObject();
        gen.writeStringField("public_key", key);
        gen.writeEndObject();
      }));
      return;
    }
    response.putHeader(Headers.CACHE_CONTROL, Headers.NO_STORE);
    if (path.equals(SUBSCRIPTIONS)) {
      if (method != HttpMethod.POST) {
        notAllowed(response, "POST");
        return;
      }
      String type = request.getHeader(Headers.CONTENT_TYPE);
      if (type == null || !type.toLowerCase(java.util.Locale.ROOT).startsWith("application/json")) {
        throw new ApiException(415, "unsupported_media_type", "send Content-Type: application/json");
      }
      BodyReader.read(request, MAX_BODY).map(Json::requestBody).compose(body -> webpush.subscribe(principal, body)).onComplete(ar -> {
        if (ar.failed()) {
          Responses.error(response, ar.cause());
          return;
        }
        WebPushSubscription s = (WebPushSubscription) ar.result()[0];
        boolean created = (Boolean) ar.result()[1];
        Responses.json(response, created ? 201 : 200, s.toApi());
      });
      return;
    }
    if (path.startsWith(SUBSCRIPTIONS + "/") && path.indexOf('/', SUBSCRIPTIONS.length() + 1) < 0) {
      if (method != HttpMethod.DELETE) {
        notAllowed(response, "DELETE");
        return;
      }
      webpush.unsubscribe(path.substring(SUBSCRIPTIONS.length() + 1)).onComplete(ar -> {
        if (ar.failed()) {
          Responses.error(response, ar.cause());
        } else if (!response.ended()) {
          response.setStatusCode(204).end();
        }
      });
      return;
    }
    throw new ApiException(404, "not_found", "no such endpoint: " + path);
  }

  private static void notAllowed(HttpServerResponse response, String allow) {
    response.putHeader(Headers.ALLOW, allow);
    Responses.error(response, new ApiException(405, "method_not_allowed", "allowed: " + allow));
  }
}
