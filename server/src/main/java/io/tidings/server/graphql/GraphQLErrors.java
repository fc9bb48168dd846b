package io.tidings.server.graphql;

import graphql.ErrorClassification;
import graphql.ErrorType;
import graphql.GraphQLError;
import graphql.GraphqlErrorBuilder;
import graphql.execution.DataFetcherExceptionHandler;
import graphql.execution.DataFetcherExceptionHandlerParameters;
import graphql.execution.DataFetcherExceptionHandlerResult;
import io.tidings.server.http.ApiException;
import io.tidings.server.http.Responses;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;

/**
 * GraphQL errors that carry the contract's error: {@code extensions.code} is the GraphQL-style code
 * ({@code BAD_USER_INPUT}, {@code UNAUTHENTICATED}, {@code FORBIDDEN}, {@code CURSOR_EXPIRED},
 * {@code RATE_LIMITED}, {@code UNAVAILABLE}, ...), {@code extensions.tidings_code} the snake_case code
 * the JSON API answers with ({@code invalid_topic}, {@code cursor_expired}, ...) and
 * {@code extensions.status} its HTTP status; extra fields of the error ({@code state_url},
 * {@code retry_after}) come along.
 */
final class GraphQLErrors implements DataFetcherExceptionHandler {

  @Override
  public CompletableFuture<DataFetcherExceptionHandlerResult> handleException(DataFetcherExceptionHandlerParameters p) {
    ApiException e = Responses.toApiException(p.getException());
    GraphQLError error = GraphqlErrorBuilder.newError()
        .message(e.getMessage())
        .path(p.getPath())
        .location(p.getSourceLocation())
        .errorType(classification(e))
        .extensions(extensions(e))
        .build();
    return CompletableFuture.completedFuture(DataFetcherExceptionHandlerResult.newResult(error).build());
  }

  /** An error outside any field (a request the server refuses before running it). */
  static GraphQLError of(ApiException e) {
    return GraphqlErrorBuilder.newError().message(e.getMessage()).errorType(classification(e))
        .extensions(extensions(e)).build();
  }

  /** The extensions of {@code e}. */
  static Map<String, Object> extensions(ApiException e) {
    Map<String, Object> x = new LinkedHashMap<>();
    x.put("code", code(e.status()));
    x.put("tidings_code", e.code());
    x.put("status", e.status());
    if (e.retryAfterSeconds() != null) {
      x.put("retry_after", e.retryAfterSeconds());
    }
    x.putAll(e.extra());
    return x;
  }

  /** The GraphQL-style code of an HTTP status, as Apollo and most servers spell them. */
  static String code(int status) {
    return switch (status) {
      case 400, 413, 415 -> "BAD_USER_INPUT";
      case 401 -> "UNAUTHENTICATED";
      case 403 -> "FORBIDDEN";
      case 404 -> "NOT_FOUND";
      case 409 -> "CONFLICT";
      case 410 -> "CURSOR_EXPIRED";
      case 429 -> "RATE_LIMITED";
      case 503 -> "UNAVAILABLE";
      default -> "INTERNAL_SERVER_ERROR";
    };
  }

  /** graphql-java writes it as {@code extensions.classification}: the same word as {@code code}. */
  private static ErrorClassification classification(ApiException e) {
    return ErrorClassification.errorClassification(code(e.status()));
  }

  /**
   * The error list of a result in the specification's shape, with an {@code extensions.code} added
   * to graphql-java's own errors (syntax, validation, limits) so every error has one.
   */
  static List<Map<String, Object>> specification(List<GraphQLError> errors) {
    return errors.stream().map(GraphQLErrors::specification).toList();
  }

  static Map<String, Object> specification(GraphQLError error) {
    Map<String, Object> spec = new LinkedHashMap<>(error.toSpecification());
    Object extensions = spec.get("extensions");
    if (!(extensions instanceof Map<?, ?> m && m.containsKey("code"))) {
      Map<String, Object> x = new LinkedHashMap<>();
      if (extensions instanceof Map<?, ?> m) {
        m.forEach((k, v) -> x.put(String.valueOf(k), v));
      }
      ErrorClassification type = error.getErrorType();
      x.put("code", type == ErrorType.InvalidSyntax ? "GRAPHQL_PARSE_FAILED"
          : type == ErrorType.ValidationError ? "GRAPHQL_VALIDATION_FAILED"
          : type == ErrorType.ExecutionAborted ? "QUERY_TOO_COMPLEX"
          : "INTERNAL_SERVER_ERROR");
      spec.put("extensions", x);
    }
    return spec;
  }
}
