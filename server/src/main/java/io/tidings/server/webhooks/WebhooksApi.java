package io.tidings.server.webhooks;

import com.fasterxml.jackson.databind.JsonNode;
import io.tidings.server.auth.Principal;
import io.tidings.server.http.ApiException;
import io.tidings.server.http.Headers;
import io.tidings.server.http.Json;
import io.tidings.server.http.Params;
import io.tidings.server.http.Responses;
import io.tidings.server.publish.BodyReader;
import io.vertx.core.Future;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.HttpServerRequest;
import io.vertx.core.http.HttpServerResponse;
import java.util.List;

/**
 * {@code /v1/webhooks...}: registering, inspecting and steering webhook endpoints. Needs the
 * {@code webhooks} grant (or admin); a principal sees only the endpoints it registered, admin all.
 */
public final class WebhooksApi {
  /** The path every route of this API starts with. */
  public static final String PREFIX = "/v1/webhooks";
  private static final long MAX_BODY = 64 * 1024;
  private static final int DEFAULT_LIMIT = 100;
  private static final int MAX_LIMIT = 1000;

  private final Webhooks webhooks;

  public WebhooksApi(Webhooks webhooks) {
    this.webhooks = webhooks;
  }

  /** Whether {@code path} belongs to this API. */
  public static boolean owns(String path) {
    return path.equals(PREFIX) || path.startsWith(PREFIX + "/");
  }

  /** Handles one request of this API. */
  public void handle(HttpServerRequest request, Principal principal) {
    HttpServerResponse response = request.response();
    response.putHeader(Headers.CACHE_CONTROL, Headers.NO_STORE);
    String[] parts = request.path().substring(PREFIX.length()).split("/", -1);
    // parts[0] is "" (the path had "/" after the prefix) or the whole rest when it had not.
    String id = parts.length >= 2 ? parts[1] : null;
    String action = parts.length >= 3 ? parts[2] : null;
    if (parts.length > 3 || (id != null && id.isEmpty()) || (action != null && action.isEmpty())) {
      throw new ApiException(404, "not_found", "no such endpoint: " + request.path());
    }
    HttpMethod method = request.method();
    if (id == null) {
      switch (method.name()) {
        case "GET", "HEAD" -> list(request, principal);
        case "POST" -> body(request).compose(b -> webhooks.create(principal, b))
            .onComplete(ar -> answer(response, ar.map(c -> created(c, 201)), 201));
        default -> notAllowed(response, "GET, HEAD, POST");
      }
      return;
    }
    if (action == null) {
      switch (method.name()) {
        case "GET", "HEAD" -> webhooks.get(principal, id).onComplete(ar -> answer(response, ar.map(pair ->
            Json.encode(gen -> {
              gen.writeStartObject();
              ((WebhookEndpoint) pair[0]).writeFields(gen, false);
              JsonNode status = Json.parse((String) pair[1]);
              gen.writeFieldName("cursors");
              gen.writeTree(status.get("cursors"));
              gen.writeFieldName("pending");
              gen.writeTree(status.get("pending"));
              gen.writeEndObject();
            })), 200));
        case "PATCH" -> body(request).compose(b -> webhooks.patch(principal, id, b))
            .onComplete(ar -> answer(response, ar.map(WebhooksApi::endpoint), 200));
        case "DELETE" -> webhooks.delete(principal, id).onComplete(ar -> {
          if (ar.failed()) {
            Responses.error(response, ar.cause());
          } else if (!response.ended()) {
            response.setStatusCode(204).end();
          }
        });
        default -> notAllowed(response, "GET, HEAD, PATCH, DELETE");
      }
      return;
    }
    boolean read = method == HttpMethod.GET || method == HttpMethod.HEAD;
    switch (action) {
      case "deliveries" -> {
        if (!read) {
          notAllowed(response, "GET, HEAD");
          return;
        }
        webhooks.deliveries(principal, id).onComplete(ar -> answer(response, ar.map(WebhooksApi::deliveries), 200));
      }
      case "rotate-secret", "replay", "enable", "disable" -> {
        if (method != HttpMethod.POST) {
          notAllowed(response, "POST");
          return;
        }
        Params params = Params.of(request);
        switch (action) {
          case "rotate-secret" -> webhooks.rotateSecret(principal, id)
              .onComplete(ar -> answer(response, ar.map(c -> created(c, 200)), 200));
          case "replay" -> webhooks.replay(principal, id, params.single("since"), params.single("topic"))
              .compose(v -> webhooks.get(principal, id))
              .onComplete(ar -> answer(response, ar.map(pair -> Json.encode(gen -> {
                JsonNode status = Json.parse((String) pair[1]);
                gen.writeStartObject();
                gen.writeStringField("id", id);
                gen.writeFieldName("cursors");
                gen.writeTree(status.get("cursors"));
                gen.writeEndObject();
              })), 202));
          default -> webhooks.setEnabled(principal, id, action.equals("enable"))
              .onComplete(ar -> answer(response, ar.map(WebhooksApi::endpoint), 200));
        }
      }
      default -> throw new ApiException(404, "not_found", "no such endpoint: " + request.path());
    }
  }

  private void list(HttpServerRequest request, Principal principal) {
    Params params = Params.of(request);
    String after = params.single("after");
    String limitText = params.single("limit");
    int limit = DEFAULT_LIMIT;
    if (limitText != null) {
      try {
        limit = Integer.parseInt(limitText);
      } catch (NumberFormatException e) {
        limit = -1;
      }
      if (limit < 1 || limit > MAX_LIMIT) {
        throw ApiException.badRequest("invalid_request", "limit must be 1-" + MAX_LIMIT);
      }
    }
    int max = limit;
    webhooks.list(principal, after, limit).onComplete(ar -> answer(request.response(), ar.map(list -> Json.encode(gen -> {
      gen.writeStartObject();
      gen.writeArrayFieldStart("endpoints");
      List<WebhookEndpoint> page = list.size() > max ? list.subList(0, max) : list;
      for (WebhookEndpoint e : page) {
        e.write(gen, false);
      }
      gen.writeEndArray();
      if (list.size() > max) {
        gen.writeStringField("next_after", page.get(page.size() - 1).id());
      } else {
        gen.writeNullField("next_after");
      }
      gen.writeEndObject();
    })), 200));
  }

  private static Future<JsonNode> body(HttpServerRequest request) {
    String type = request.getHeader(Headers.CONTENT_TYPE);
    if (type == null || !type.toLowerCase(java.util.Locale.ROOT).startsWith("application/json")) {
      return Future.failedFuture(new ApiException(415, "unsupported_media_type", "send Content-Type: application/json"));
    }
    return BodyReader.read(request, MAX_BODY).map(Json::requestBody);
  }

  private static Buffer endpoint(WebhookEndpoint e) {
    return Json.encode(gen -> e.write(gen, false));
  }

  private static Buffer created(Webhooks.Created c, int status) {
    return Json.encode(gen -> {
      gen.writeStartObject();
      c.endpoint().writeFields(gen, false);
      gen.writeStringField("secret", c.secret());
      gen.writeEndObject();
    });
  }

  private static Buffer deliveries(List<String> attempts) {
    return Json.encode(gen -> {
      gen.writeStartObject();
      gen.writeArrayFieldStart("deliveries");
      for (String a : attempts) {
        gen.writeRawValue(a);
      }
      gen.writeEndArray();
      gen.writeEndObject();
    });
  }

  private static void answer(HttpServerResponse response, io.vertx.core.AsyncResult<Buffer> ar, int status) {
    if (ar.failed()) {
      Responses.error(response, ar.cause());
    } else {
      Responses.json(response, status, ar.result());
    }
  }

  private static void notAllowed(HttpServerResponse response, String allow) {
    response.putHeader(Headers.ALLOW, allow);
    Responses.error(response, new ApiException(405, "method_not_allowed", "allowed: " + allow));
  }

}
