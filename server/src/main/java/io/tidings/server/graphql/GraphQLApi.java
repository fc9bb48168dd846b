package io.tidings.server.graphql;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import graphql.ExecutionResult;
import graphql.language.Document;
import graphql.language.OperationDefinition;
import graphql.parser.InvalidSyntaxException;
import graphql.parser.Parser;
import io.tidings.server.auth.Access;
import io.tidings.server.auth.Authenticator;
import io.tidings.server.auth.Principal;
import io.tidings.server.http.ApiException;
import io.tidings.server.http.EntityTags;
import io.tidings.server.http.Headers;
import io.tidings.server.http.HttpApi;
import io.tidings.server.http.Json;
import io.tidings.server.http.Params;
import io.tidings.server.http.Responses;
import io.tidings.server.limits.Limits;
import io.tidings.server.limits.Ticket;
import io.tidings.server.ops.AccessLog;
import io.tidings.server.ops.Metrics;
import io.tidings.server.publish.BodyReader;
import io.tidings.server.pull.ChangeReader;
import io.tidings.server.push.PushLoop;
import io.vertx.core.Future;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpHeaders;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.HttpServerRequest;
import io.vertx.core.http.HttpServerResponse;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * {@code /v1/graphql} on one event loop: queries and mutations over HTTP ({@code POST} with a JSON
 * body {@code {query, variables, operationName}}, or {@code GET} with those as query parameters,
 * queries only), subscriptions over a WebSocket speaking graphql-transport-ws
 * ({@link GraphQLWsConnection}), and the schema file at {@code /v1/graphql/schema.graphql}.
 *
 * <p>Answers are GraphQL responses, {@code {"data", "errors"}}: 200 once the request could be run,
 * whatever its field errors; 400 for a request that is not one (no query, malformed JSON or
 * variables), 405 for a mutation over {@code GET}, 413 for a body over {@code server.max_body_size}.
 */
public final class GraphQLApi {
  /** The path of the endpoint. */
  public static final String PATH = "/v1/graphql";
  /** The path of the schema file. */
  public static final String SCHEMA_PATH = "/v1/graphql/schema.graphql";
  /** The WebSocket subprotocol spoken at {@link #PATH}. */
  public static final String SUBPROTOCOL = GraphQLWsConnection.SUBPROTOCOL;
  private static final CharSequence SCHEMA_TYPE = HttpHeaders.createOptimized("text/plain; charset=utf-8");
  private static final CharSequence SCHEMA_CACHE = HttpHeaders.createOptimized("public, max-age=300");
  private static final CharSequence JSON_UTF8 = HttpHeaders.createOptimized("application/json; charset=utf-8");

  private final GraphQLEngine engine;
  private final PushLoop loop;
  private final ChangeReader reader;
  private final Authenticator auth;
  private final Limits limits;
  private final Metrics metrics;
  private final long maxBodySize;

  public GraphQLApi(GraphQLEngine engine, PushLoop loop, ChangeReader reader, Authenticator auth, Limits limits,
      Metrics metrics, long maxBodySize) {
    this.reader = reader;
    this.engine = engine;
    this.loop = loop;
    this.auth = auth;
    this.limits = limits;
    this.metrics = metrics;
    this.maxBodySize = maxBodySize;
  }

  /** Whether {@code path} is served here. */
  public static boolean owns(String path) {
    return path.equals(PATH) || path.equals(SCHEMA_PATH);
  }

  /** Whether {@code request} asks to open a WebSocket (which is a push connection, not a request). */
  public static boolean upgrading(HttpServerRequest request) {
    String upgrade = request.getHeader(HttpHeaders.UPGRADE);
    return request.method() == HttpMethod.GET && upgrade != null && upgrade.equalsIgnoreCase("websocket");
  }

  /** Serves {@code request} for {@code principal} (from its {@code Authorization}, or anonymous). */
  public void handle(HttpServerRequest request, Principal principal, AccessLog.Entry log) {
    if (!engine.config().push.graphql.enabled) {
      throw ApiException.transportDisabled("GraphQL");
    }
    HttpMethod method = request.method();
    if (request.path().equals(SCHEMA_PATH)) {
      if (method != HttpMethod.GET && method != HttpMethod.HEAD) {
        notAllowed(request.response(), "GET, HEAD", "the schema is read with GET");
        return;
      }
      schema(request);
      return;
    }
    if (upgrading(request)) {
      upgrade(request, principal, log);
    } else if (method == HttpMethod.POST) {
      post(request, principal);
    } else if (method == HttpMethod.GET || method == HttpMethod.HEAD) {
      get(request, principal);
    } else {
      notAllowed(request.response(), "GET, POST", "GraphQL is served over GET (queries) and POST");
    }
  }

  private static void schema(HttpServerRequest request) {
    HttpServerResponse response = request.response()
        .putHeader(Headers.ETAG, GraphQLSchemaFile.ETAG)
        .putHeader(Headers.CACHE_CONTROL, SCHEMA_CACHE);
    String inm = request.getHeader(Headers.IF_NONE_MATCH);
    if (inm != null && EntityTags.matches(inm, GraphQLSchemaFile.ETAG.substring(1, GraphQLSchemaFile.ETAG.length() - 1))) {
      response.setStatusCode(304).end();
      return;
    }
    response.putHeader(Headers.CONTENT_TYPE, SCHEMA_TYPE).end(GraphQLSchemaFile.TEXT);
  }

  private void post(HttpServerRequest request, Principal principal) {
    String contentType = request.getHeader(HttpHeaders.CONTENT_TYPE);
    String mediaType = contentType == null ? "" : contentType.split(";", 2)[0].trim().toLowerCase(Locale.ROOT);
    if (!mediaType.equals("application/json")) {
      fail(request.response(), new ApiException(415, "unsupported_media_type",
          "send a GraphQL request as Content-Type: application/json {\"query\", \"variables\", \"operationName\"}"));
      return;
    }
    BodyReader.read(request, maxBodySize).onComplete(ar -> {
      try {
        if (ar.failed()) {
          throw Responses.toApiException(ar.cause());
        }
        JsonNode body = parse(ar.result());
        if (!body.isObject()) {
          throw ApiException.badRequest("invalid_request", "the body must be a JSON object {\"query\", ...}");
        }
        run(request, principal, text(body.get("query"), "query"), text(body.get("operationName"), "operationName"),
            variables(body.get("variables")));
      } catch (ApiException e) {
        fail(request.response(), e);
      }
    });
  }

  private void get(HttpServerRequest request, Principal principal) {
    try {
      Params params = Params.of(request);
      String query = params.single("query");
      String operationName = params.single("operationName");
      String variables = params.single("variables");
      JsonNode vars = variables == null || variables.isEmpty() ? null : parse(Buffer.buffer(variables));
      if (query != null && isMutation(query, operationName)) {
        request.response().putHeader(Headers.ALLOW, "POST");
        fail(request.response(), new ApiException(405, "method_not_allowed",
            "mutations are sent with POST; GET runs queries only"));
        return;
      }
      run(request, principal, query, operationName, variables(vars));
    } catch (ApiException e) {
      fail(request.response(), e);
    }
  }

  /** Whether the operation a GET would run is a mutation (or a subscription, equally refused). */
  private static boolean isMutation(String query, String operationName) {
    Document document;
    try {
      document = Parser.parse(query);
    } catch (InvalidSyntaxException e) {
      return false;  // execution reports the syntax error
    }
    List<OperationDefinition> operations = document.getDefinitionsOfType(OperationDefinition.class);
    for (OperationDefinition op : operations) {
      boolean chosen = operationName == null ? operations.size() == 1 : operationName.equals(op.getName());
      if (chosen) {
        return op.getOperation() != OperationDefinition.Operation.QUERY;
      }
    }
    return false;
  }

  private void run(HttpServerRequest request, Principal principal, String query, String operationName,
      Map<String, Object> variables) {
    if (query == null || query.isBlank()) {
      throw ApiException.badRequest("invalid_request", "'query' is required");
    }
    String host = HttpApi.host(request);
    Caller caller = new Caller(principal, host, limits.key(principal, host), loop, reader, null);
    HttpServerResponse response = request.response();
    Future.fromCompletionStage(engine.execute(query, operationName, variables, caller), loop.context())
        .onComplete(ar -> {
          if (ar.failed()) {
            fail(response, Responses.toApiException(ar.cause()));
            return;
          }
          ExecutionResult result = ar.result();
          Map<String, Object> spec = new LinkedHashMap<>(result.toSpecification());
          if (!result.getErrors().isEmpty()) {
            spec.put("errors", GraphQLErrors.specification(result.getErrors()));
          }
          write(response, 200, spec);
        });
  }

  private void upgrade(HttpServerRequest request, Principal principal, AccessLog.Entry log) {
    Access.requireUnexpired(principal, System.currentTimeMillis());
    String host = HttpApi.host(request);
    Ticket ticket = limits.admit(limits.key(principal, host));
    if (ticket == null) {
      Responses.error(request.response(), ApiException.unavailable("the server is at capacity; reconnect later",
          Responses.retryAfterSeconds()));
      return;
    }
    request.toWebSocket().onComplete(ar -> {
      if (ar.failed()) {
        ticket.release();
        if (!request.response().ended()) {
          Responses.error(request.response(), ApiException.badRequest("invalid_upgrade",
              "the WebSocket handshake failed: " + ar.cause().getMessage()));
        }
        return;
      }
      metrics.request(PATH, 101);
      new GraphQLWsConnection(ar.result(), engine, loop, reader, auth, limits, principal, host, ticket, log).start();
    });
  }

  private static JsonNode parse(Buffer body) {
    try {
      JsonNode node = Json.MAPPER.readTree(body.getBytes());
      if (node == null || node.isMissingNode()) {
        throw ApiException.badRequest("invalid_json", "the body is empty");
      }
      return node;
    } catch (JsonProcessingException e) {
      throw ApiException.badRequest("invalid_json", "not valid JSON: " + e.getOriginalMessage());
    } catch (java.io.IOException e) {
      throw ApiException.badRequest("invalid_json", "not valid JSON");
    }
  }

  private static String text(JsonNode node, String name) {
    if (node == null || node.isNull()) {
      return null;
    }
    if (!node.isTextual()) {
      throw ApiException.badRequest("invalid_request", "'" + name + "' must be a string");
    }
    return node.textValue();
  }

  private static Map<String, Object> variables(JsonNode node) {
    if (node == null || node.isNull()) {
      return null;
    }
    if (!node.isObject()) {
      throw ApiException.badRequest("invalid_request", "'variables' must be a JSON object");
    }
    return Json.MAPPER.convertValue(node, Json.MAPPER.getTypeFactory().constructMapType(Map.class, String.class,
        Object.class));
  }

  private static void notAllowed(HttpServerResponse response, String allow, String message) {
    response.putHeader(Headers.ALLOW, allow);
    fail(response, new ApiException(405, "method_not_allowed", message));
  }

  /** A request that could not be run: a GraphQL response with only {@code errors}, and the error's status. */
  private static void fail(HttpServerResponse response, ApiException e) {
    e.headers().forEach(response::putHeader);
    if (e.retryAfterSeconds() != null) {
      response.putHeader(HttpHeaders.RETRY_AFTER, String.valueOf(e.retryAfterSeconds()));
    }
    write(response, e.status(), Map.of("errors", List.of(GraphQLErrors.specification(GraphQLErrors.of(e)))));
  }

  private static void write(HttpServerResponse response, int status, Map<String, Object> body) {
    if (response.ended()) {
      return;
    }
    byte[] bytes;
    try {
      bytes = Json.MAPPER.writeValueAsBytes(body);
    } catch (JsonProcessingException e) {
      Responses.error(response, e);
      return;
    }
    response.setStatusCode(status)
        .putHeader(Headers.CONTENT_TYPE, JSON_UTF8)
        .putHeader(Headers.CACHE_CONTROL, Headers.NO_STORE)
        .end(Buffer.buffer(bytes));
  }
}
